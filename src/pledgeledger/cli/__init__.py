"""The ``pledgeledger`` command line: commands (:mod:`.commands`) and rendering for people
(:mod:`.render`).

Holds no domain logic: every command is a call on :class:`pledgeledger.Ledger`, its answer
rendered. May import every layer below it; nothing imports it but the console script.
"""

from pledgeledger.cli.commands import cli, main

__all__ = ["cli", "main"]
