"""The event store: where the log lives and how records are appended to it.

Owns the eventsourcing application and its configuration (:mod:`.application`), the aggregates
that guard each consistency boundary (:mod:`.aggregates`), the recorders that append inside the
ledger's own transactions (:mod:`.recorders`, :mod:`.postgres_recorder`), the transcoder
(:mod:`.transcoder`), reading the log back through the application's mapper (:mod:`.reading`),
transactions on the store's own database for both backends (:mod:`.database`), the write path
that checks a batch and appends it atomically (:mod:`.writer`), and running it against other
writers (:mod:`.retry`). Every stored event is encoded by ``mapper.to_stored_event`` and decoded
by ``mapper.to_domain_event``: ``class_version`` and upcasting happen there and nowhere else.

May import: :mod:`pledgeledger.formats`, :mod:`pledgeledger.domain`,
:mod:`pledgeledger.errors` and eventsourcing. The read models sit above: the write path reaches
them only through the :class:`~.writer.RecordIndex` protocol it defines.
"""
