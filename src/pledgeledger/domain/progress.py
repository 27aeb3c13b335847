"""How long work tells its caller how far it got.

Defined here, at the bottom of the layers, because every layer that does long work takes one:
the store's write path (imports), the projections' runner (replays), the ledger that drives
them and the CLI that draws the bar. Each used to spell the type out for itself.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` during long work."""
