"""The event store: where the log lives and how records are appended to it.

Owns the eventsourcing application and its configuration (:mod:`.application`), the aggregates
that guard each consistency boundary (:mod:`.aggregates`), how stored events are encoded and
read back (:mod:`.transcoder`, :mod:`.reading`), transactions on the store's own database for
both backends (:mod:`.database`), and the write path that checks a batch and appends it
atomically (:mod:`.writer`).

May import: :mod:`pledgeledger.formats`, :mod:`pledgeledger.domain`,
:mod:`pledgeledger.errors` and eventsourcing. The read models sit above: the write path reaches
them only through the :class:`~.writer.RecordIndex` protocol it defines.
"""
