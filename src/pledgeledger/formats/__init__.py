"""The import format: JSON Lines in, records out, and back.

Owns reading JSON Lines files with errors that name the file, line and field (:mod:`.jsonl`),
structuring JSON-shaped dicts into records and unstructuring them with cattrs
(:mod:`.converter`), and the fast paths that give the same results without cattrs
(:mod:`.fast`).

May import: :mod:`pledgeledger.domain`, :mod:`pledgeledger.errors`, cattrs and msgspec.
"""
