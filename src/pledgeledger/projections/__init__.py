"""The read models: tables next to the events that answer every query without the log.

Owns the read-model schema and its queries (:mod:`.readmodels`), folding records into them
(:mod:`.folder`), the runner that keeps them up with the log (:mod:`.runner`), the timeline's
accumulator (:mod:`.timeline`) and ``replay --verify`` (:mod:`.verify`).

May import: :mod:`pledgeledger.store`, :mod:`pledgeledger.formats`,
:mod:`pledgeledger.domain` and :mod:`pledgeledger.errors`.
"""
