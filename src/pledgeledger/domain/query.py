"""One question put to the ledger: how to group the totals, which events count, and how a
timeline is cut into periods.

The same settings travel from the command line through the ledger and its views down to the
read models. Spelled out as argument lists at every hop, they were checked at several of them,
each a little differently; a :class:`Query` is checked once, when it is made, so whoever is
handed one can rely on it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import attrs

from pledgeledger.domain.periods import EVERY, Every
from pledgeledger.domain.totals import GROUPS, Group
from pledgeledger.errors import LedgerError

__all__ = ["Query", "QueryError"]


class QueryError(LedgerError):
    """A query that cannot be answered as asked.

    ``field`` names the :class:`Query` field at fault and ``usage`` says the same in the
    command line's words (its option names), so that the CLI can show it as a usage error
    without checking anything itself.
    """

    def __init__(self, message: str, *, field: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.usage = usage or message


def _utc(moment: datetime | None) -> datetime | None:
    """A recorded time without an offset is UTC (DESIGN.md, "Rules in detail": dates)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@attrs.frozen(kw_only=True)
class Query:
    """What to total, and over which events.

    ``by`` groups the rows (:data:`~pledgeledger.domain.totals.GROUPS`); ``depth`` rolls sector
    paths up to their first ``depth`` segments (``by="sector"`` only). ``as_of`` counts the
    events whose world date is on or before it; ``known_at`` those recorded at or before it
    (an aware time: one without an offset is taken as UTC). A timeline also uses ``every``
    (the length of its periods, :data:`~pledgeledger.domain.periods.EVERY`) and ``start`` (no
    points before it, though earlier events still count; the CLI's ``--from``); totals ignore
    both.

    Every field is keyword-only with a default that narrows nothing, so a new one can be added
    without breaking a caller. Filters to come (say, one sector subtree or one agreement)
    belong here in the same way: a field defaulting to ``None`` (everything), its check in
    :meth:`__attrs_post_init__`, and its condition in the read models' queries
    (:meth:`~pledgeledger.projections.readmodels.ReadModels.totals` and ``daily``), which
    are the only places that decide which postings count.

    Equal queries are equal and hash alike, so answers can be cached by query.
    """

    by: Group = "sector"
    depth: int | None = None
    as_of: date | None = None
    known_at: datetime | None = attrs.field(default=None, converter=_utc)
    every: Every = "month"
    start: date | None = None

    def __attrs_post_init__(self) -> None:
        if self.by not in GROUPS:
            raise QueryError(
                f"cannot group by {self.by!r}: choose one of {', '.join(GROUPS)}", field="by"
            )
        if self.depth is not None and (self.by != "sector" or self.depth < 1):
            raise QueryError(
                "depth applies to --by sector and must be 1 or more",
                field="depth",
                usage="--depth applies only to --by sector"
                if self.by != "sector"
                else "--depth must be 1 or more",
            )
        if self.every not in EVERY:
            raise QueryError(
                f"cannot cut a timeline into {self.every!r} periods: choose one of "
                f"{', '.join(EVERY)}",
                field="every",
            )
        if self.start is not None and self.as_of is not None and self.start > self.as_of:
            raise QueryError(
                f"the timeline starts ({self.start}) after its as-of date ({self.as_of})",
                field="start",
                usage=f"--from {self.start} is after --as-of {self.as_of}",
            )
