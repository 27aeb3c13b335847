"""The domain: what the ledger records and the rules every record must keep.

Owns the records of the import format (:mod:`.records`: agreements, pledges, tranches, letters
of intent, deliveries and their corrections), the state of each consistency boundary and its
invariants (:mod:`.rules`), and the vocabulary of answers (:mod:`.totals`: a row of totals,
the groupings, the sector roll-up, row order and ``ZERO``; :mod:`.periods`; :mod:`.query`: the
one checked question every answer is for). :mod:`.progress` is the callback type of long work,
here because every layer above takes one.

May import: :mod:`pledgeledger.errors`, the standard library and attrs. Nothing here knows how
records are parsed, stored or shown, so the rules can be read, and tested, on their own.
"""
