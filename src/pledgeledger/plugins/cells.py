"""Events, totals and timelines as tables of typed cells, for tabular exporters.

The CSV exporter and spreadsheet or columnar plugins (``plugins/pledgeledger-xlsx``) write the
same columns in the same order from here, so a column means the same thing in every format.
Cells keep their types (:class:`~decimal.Decimal`, :class:`~datetime.date`, ``int``, ``str``,
``None``): a spreadsheet writer can store numbers as numbers, and a text writer formats them
with :func:`cell_text`.

:func:`csv_lines` is the one CSV writer: the ``csv`` exporter and the CLI's ``--format csv``
(:func:`totals_csv`, :func:`timeline_csv`) both write through it, so they neutralise the same
cells the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import attrs

from pledgeledger.domain.totals import TOTALS_FIELDS, Group, TimelinePoint, Totals
from pledgeledger.plugins.exporter import neutralise_cell
from pledgeledger.view import LoggedEvent

__all__ = [
    "EVENT_COLUMNS",
    "TOTALS_COLUMNS",
    "Cell",
    "Table",
    "cell_text",
    "csv_lines",
    "event_table",
    "rows_text",
    "table_csv",
    "timeline_csv",
    "timeline_table",
    "totals_csv",
    "totals_table",
]

Cell = str | int | Decimal | date | datetime | None
"""One value of a table: text, a whole number, an exact decimal, a date or time, or empty."""

EVENT_COLUMNS = (
    "position",
    "recorded_at",
    "type",
    "id",
    "date",
    "parent",
    "target",
    "pledger",
    "recipient",
    "party",
    "counterparty",
    "agreement",
    "title",
    "parties",
    "sector",
    "amount",
    "unit",
    "bound",
    "reason",
    "sources",
    "low",
    "high",
    "about",
    "toward",
    "converts",
    "adopts",
    "due_by",
)
"""The columns of the events table. ``date`` is the world date (``signed_on``, ``announced_on``,
``delivered_on`` or ``reported_on``); ``parties`` and ``sources`` are joined into one cell
each. The columns after ``sources`` came with ranges, reports and links between records; they
are last so that the earlier ones keep their places."""

TOTALS_COLUMNS = TOTALS_FIELDS
"""The columns of the totals table after the group key (named after the grouping): the same
as ``pledgeledger totals --format csv``, so scripts can read either. An unbounded high is an
empty cell."""


@attrs.frozen
class Table:
    """A header and rows of typed cells; ``numeric`` names the columns holding figures."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric: frozenset[str] = frozenset()


def cell_text(value: Cell) -> str:
    """A cell as text: figures exactly as recorded, dates in ISO 8601, empty for ``None``, and
    outside text neutralised so that a spreadsheet never runs it as a formula."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise_cell(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _sources(sources: Iterable[Any]) -> str:
    parts = []
    for s in sources:
        bits = [s.outlet]
        if s.published_on is not None:
            bits.append(s.published_on.isoformat())
        if s.url is not None:
            bits.append(s.url)
        parts.append(", ".join(bits))
    return " | ".join(parts)


def _event_row(logged: LoggedEvent) -> tuple[Cell, ...]:
    e = logged.event
    values: dict[str, Cell] = {
        "position": logged.position,
        "recorded_at": logged.recorded_at,
        "type": e.type,
        "id": e.id,
        "date": e.world_date,
        "sources": _sources(e.sources),
    }
    for name in (
        "parent",
        "target",
        "pledger",
        "recipient",
        "party",
        "counterparty",
        "agreement",
        "title",
        "sector",
        "amount",
        "unit",
        "reason",
        "low",
        "high",
        "about",
        "toward",
        "converts",
        "adopts",
        "due_by",
    ):
        values[name] = getattr(e, name, None)
    bound = getattr(e, "bound", None)
    values["bound"] = bound.value if isinstance(bound, Enum) else None
    parties = getattr(e, "parties", None)
    values["parties"] = "; ".join(parties) if parties else None
    return tuple(values[c] for c in EVENT_COLUMNS)


def event_table(events: Iterable[LoggedEvent]) -> Table:
    """The events, one row each, in log order."""
    rows = tuple(_event_row(logged) for logged in events)
    return Table("events", EVENT_COLUMNS, rows, frozenset({"position", "amount", "low", "high"}))


def _totals_row(r: Totals) -> tuple[Cell, ...]:
    """A row's cells in the order of :data:`TOTALS_COLUMNS` (an unbounded high is empty)."""
    return (
        r.key,
        r.unit,
        r.pledged,
        r.allocated,
        r.delivered,
        r.intended,
        r.unallocated,
        r.pledged_low,
        r.pledged_high,
        r.allocated_low,
        r.allocated_high,
        r.delivered_low,
        r.delivered_high,
        r.intended_low,
        r.intended_high,
        r.undisclosed,
        r.pledged_toward,
        r.intended_toward,
    )


def _timeline_row(p: TimelinePoint) -> tuple[Cell, ...]:
    return (p.period_end, *_totals_row(p))


def _timeline_columns(by: Group) -> tuple[str, ...]:
    return ("period_end", by, *TOTALS_COLUMNS)


def totals_table(rows: Iterable[Totals], by: Group) -> Table:
    """Totals per group and unit; the first column is named after the grouping."""
    numeric = frozenset(TOTALS_COLUMNS[1:])
    cells = tuple(_totals_row(r) for r in rows)
    return Table(f"totals by {by}", (by, *TOTALS_COLUMNS), cells, numeric)


def timeline_table(points: Iterable[TimelinePoint], by: Group) -> Table:
    """Timeline points, one row each: the period's end, the group key, then the totals' columns
    (the key order of ``TimelinePoint.as_dict``)."""
    numeric = frozenset(TOTALS_COLUMNS[1:])
    cells = tuple(_timeline_row(p) for p in points)
    return Table(f"timeline by {by}", _timeline_columns(by), cells, numeric)


def rows_text(table: Table) -> Iterator[list[str]]:
    """The header and rows of ``table`` as text cells (see :func:`cell_text`)."""
    yield list(table.columns)
    for row in table.rows:
        yield [cell_text(c) for c in row]


def csv_lines(columns: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """A header and rows as CSV, one line at a time, so long tables stream.

    Cells are written as :func:`cell_text` gives them (outside text neutralised, figures exactly
    as recorded, ``None`` empty), quoted only when they must be, with ``\\n`` line ends.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell_text(c) for c in row])
        yield buffer.getvalue()


def table_csv(table: Table) -> Iterator[str]:
    """``table`` as CSV lines (see :func:`csv_lines`)."""
    return csv_lines(table.columns, table.rows)


def totals_csv(rows: Iterable[Totals], by: Group) -> str:
    """What ``pledgeledger totals --format csv`` prints: :func:`totals_table` as CSV."""
    return "".join(table_csv(totals_table(rows, by)))


def timeline_csv(points: Iterable[TimelinePoint], by: Group) -> Iterator[str]:
    """What ``pledgeledger timeline --format csv`` prints: the columns of
    :func:`timeline_table` as CSV, streamed line by line as ``points`` are read."""
    return csv_lines(_timeline_columns(by), (_timeline_row(p) for p in points))
