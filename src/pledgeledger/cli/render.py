"""Rendering totals, logs and trees for people (tables) and programs (JSON, JSON Lines).

Kept apart from the CLI so that exporters and library users render exactly what the CLI prints.
CSV is written by :mod:`pledgeledger.tables` alone (``totals_csv``, ``timeline_csv``), the same
code as the ``csv`` exporter's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal

from pledgeledger.domain.records import (
    Amendment,
    Delivery,
    LetterOfIntent,
    Pledge,
    Report,
    Source,
    Tranche,
)
from pledgeledger.domain.rules import ACTIVE
from pledgeledger.domain.totals import ZERO, Group, TimelinePoint, Totals
from pledgeledger.view import (
    Conflict,
    CorrectionView,
    LetterView,
    LoggedEvent,
    NodeView,
    OverdueView,
    ReportView,
    Ties,
    compact,
    compact_figure,
    compact_range,
)

__all__ = [
    "conflicts_table",
    "figure",
    "log_table",
    "overdue_table",
    "render_letter",
    "render_tree",
    "table",
    "timeline_json",
    "timeline_table",
    "totals_json",
    "totals_table",
]


def figure(value: Decimal) -> str:
    """A decimal with thousands separators, exactly as recorded (no rounding)."""
    return f"{value:,}"


def _cell(headline: Decimal, low: Decimal, high: Decimal | None) -> str:
    """A figure of a row, compact, with its range beside it when the range is more than the
    figure itself: ``477B``, ``73B (0–73B)``, ``10B (10B–)``."""
    text = compact(headline)
    if low == headline and high == headline:
        return text
    return f"{text} ({compact_range(low, high)})"


def _toward(row: Totals) -> str:
    parts = []
    if row.pledged_toward:
        parts.append(f"{compact(row.pledged_toward)} pledged")
    if row.intended_toward:
        parts.append(f"{compact(row.intended_toward)} intended")
    return ", ".join(parts)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A plain aligned text table; columns in ``numeric`` are right-aligned."""
    body = [list(r) for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in body]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in body)])


def _key(key: str | None) -> str:
    return "—" if key is None else key


def _figure_cells(r: Totals) -> list[str]:
    return [
        _cell(r.pledged, r.pledged_low, r.pledged_high),
        _cell(r.allocated, r.allocated_low, r.allocated_high),
        compact(r.unallocated),
        _cell(r.delivered, r.delivered_low, r.delivered_high),
        _cell(r.intended, r.intended_low, r.intended_high),
    ]


def _extra_columns(rows: Sequence[Totals]) -> tuple[list[str], list[Callable[[Totals], str]]]:
    """The columns shown only when some row has something in them."""
    headers: list[str] = []
    cells: list[Callable[[Totals], str]] = []
    if any(r.undisclosed for r in rows):
        headers.append("UNDISCLOSED")
        cells.append(lambda r: str(r.undisclosed) if r.undisclosed else "")
    if any(r.pledged_toward or r.intended_toward for r in rows):
        headers.append("TOWARD")
        cells.append(_toward)
    return headers, cells


def totals_table(rows: Sequence[Totals], by: Group) -> str:
    """Totals for people: figures compact and exact (``477B``), each with its range when the
    range is more than the figure (``73B (0–73B)``; ``10B (10B–)`` is unbounded above), and
    UNDISCLOSED and TOWARD columns when some row has undisclosed figures or tied parts."""
    if not rows:
        return "(no totals: nothing recorded matches)"
    headers = [by.upper(), "UNIT", "PLEDGED", "ALLOCATED", "UNALLOCATED", "DELIVERED", "INTENDED"]
    extra_headers, extra = _extra_columns(rows)
    cells = [[_key(r.key), r.unit, *_figure_cells(r), *(cell(r) for cell in extra)] for r in rows]
    return table([*headers, *extra_headers], cells, numeric={2, 3, 4, 5, 6})


def totals_json(rows: Sequence[Totals]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False)


def _what(logged: LoggedEvent) -> tuple[str, str]:
    e = logged.event
    unit = getattr(e, "unit", "")
    if isinstance(e, Pledge | Tranche | LetterOfIntent | Delivery | Report):
        figure_text = f"{compact_figure(e.amount, e.bound, e.low, e.high)} {unit}"
    elif isinstance(e, Amendment):
        figure_text = compact_figure(e.amount, e.bound, e.low, e.high)
    else:
        figure_text = ""
    ref = getattr(e, "parent", None) or getattr(e, "target", None) or getattr(e, "about", "")
    return figure_text.strip(), ref or ""


def log_table(events: Iterable[LoggedEvent]) -> str:
    rows = []
    for logged in events:
        amount, ref = _what(logged)
        rows.append(
            [
                str(logged.position),
                logged.recorded_at.isoformat(timespec="seconds"),
                str(logged.event.world_date),
                logged.event.type,
                logged.event.id,
                ref,
                amount,
            ]
        )
    headers = ["#", "RECORDED", "DATE", "TYPE", "ID", "OF", "AMOUNT"]
    return table(headers, rows, numeric={0, 6})


def _sources(sources: Sequence[Source], indent: str) -> list[str]:
    lines = []
    for s in sources:
        parts = [s.outlet]
        if s.published_on:
            parts.append(str(s.published_on))
        if s.url:
            parts.append(s.url)
        lines.append(f"{indent}source: " + ", ".join(parts))
        if s.quote:
            lines.append(f'{indent}  "{s.quote}"')
    return lines


def _status(status: str, extra: str = "") -> str:
    return "" if status == ACTIVE else f"  [{status}{extra}]"


def _range(low: Decimal, high: Decimal | None, amount: Decimal | None) -> str:
    """``  range 0–73B`` when a figure's range is more than the figure itself."""
    if amount is not None and low == amount and high == amount:
        return ""
    return f"  range {compact_range(low, high)}"


def _corrections(corrections: Sequence[CorrectionView], indent: str) -> list[str]:
    """Each correction on a line: an amendment as ``80B → up to 73B``, with its sources."""
    lines = []
    for c in corrections:
        if c.kind == "amendment" and c.was is not None:
            was, now = c.was, c.figure
            assert now is not None
            change = (
                f"{compact_figure(was.value, was.bound, was.low, was.high)} → "
                f"{compact_figure(now.value, now.bound, now.low, now.high)}"
            )
            adopted = f" (adopts {c.adopts})" if c.adopts else ""
            lines.append(
                f"{indent}{c.announced_on} amendment {c.id}: {change}{adopted}: {c.reason}"
            )
        else:
            lines.append(f"{indent}{c.announced_on} {c.kind} {c.id}: {c.reason}")
        lines += _sources(c.sources, indent + "  ")
    return lines


def _reports(reports: Sequence[ReportView], indent: str, counted: Decimal | None) -> list[str]:
    """Every report with its sources, and the spread of the reported figures (with the
    counted one)."""
    lines = []
    for r in reports:
        lines.append(
            f"{indent}{r.reported_on} report {r.id}: "
            f"{compact_figure(r.amount, r.bound, r.low, r.high)} {r.unit}"
        )
        lines += _sources(r.sources, indent + "  ")
    figures = [r.amount for r in reports if r.amount is not None]
    if counted is not None:
        figures.append(counted)
    if reports and figures:
        lines.append(
            f"{indent}spread of the reported and counted figures: "
            f"{compact(min(figures))}–{compact(max(figures))}"
        )
    return lines


def _links(
    indent: str,
    toward: str | None,
    tied: Ties,
    headroom: Decimal | None,
    due_by: date | None,
    converts: str | None = None,
    converted_by: str | None = None,
    converted_on: date | None = None,
) -> list[str]:
    lines = []
    if toward:
        lines.append(f"{indent}tied toward {toward} (counted there too, never added to it)")
    if converts:
        lines.append(f"{indent}converts letter of intent {converts}")
    if converted_by:
        lines.append(f"{indent}converted into {converted_by} on {converted_on}")
    if due_by:
        lines.append(f"{indent}due by {due_by}")
    if tied.records:
        room = "uncapped" if headroom is None else compact(headroom)
        lines.append(
            f"{indent}tied toward it: {len(tied.records)} record(s) summing "
            f"{_cell(tied.amount, tied.low, tied.high)}, beside headroom {room}"
        )
        for t in tied.records:
            figure_text = compact_figure(t.amount, t.bound)
            lines.append(f"{indent}  {t.id}  {t.kind}  {figure_text} {t.unit}")
    return lines


def render_tree(node: NodeView, indent: str = "") -> str:
    """A pledge's tree: each node's figure with its bound and range, headroom, history,
    reports, links and sources."""
    figure_text = compact_figure(node.amount, node.bound)
    headroom = "uncapped" if node.headroom is None else compact(node.headroom)
    lines = [
        f"{indent}{node.id}  {node.kind}  {figure_text} {node.unit}  "
        f"[{node.sector}]  {node.announced_on}{_status(node.status)}",
        f"{indent}  allocated {compact(node.allocated)}  headroom {headroom}  "
        f"delivered {compact(node.delivered)}{_range(node.low, node.high, node.amount)}",
    ]
    lines += _links(
        indent + "  ", node.toward, node.tied, node.headroom, node.due_by, converts=node.converts
    )
    lines += _sources(node.sources, indent + "  ")
    lines += _corrections(node.corrections, indent + "  ")
    lines += _reports(node.reports, indent + "  ", node.amount)
    for d in node.deliveries:
        lines.append(
            f"{indent}  delivery {d.id}  {compact_figure(d.amount, d.bound)} {d.unit}  "
            f"{d.delivered_on}{_status(d.status)}{_range(d.low, d.high, d.amount)}"
        )
        lines += _sources(d.sources, indent + "    ")
        lines += _corrections(d.corrections, indent + "    ")
        lines += _reports(d.reports, indent + "    ", d.amount)
    for child in node.tranches:
        lines.append(render_tree(child, indent + "    "))
    return "\n".join(lines)


def render_letter(letter: LetterView) -> str:
    """A letter of intent: its figure with its bound and range ("up to" is never dropped),
    parties, links, history, reports and sources."""
    figure_text = compact_figure(letter.amount, letter.bound)
    lines = [
        f"{letter.id}  letter of intent  {figure_text} {letter.unit}  "
        f"[{letter.sector}]  {letter.announced_on}{_status(letter.status)}"
        f"{_range(letter.low, letter.high, letter.amount)}",
        f"  {letter.party} -> {letter.counterparty}; agreement {_key(letter.agreement)}",
    ]
    lines += _links(
        "  ",
        letter.toward,
        letter.tied,
        letter.amount,
        letter.due_by,
        converted_by=letter.converted_by,
        converted_on=letter.converted_on,
    )
    lines += _sources(letter.sources, "  ")
    lines += _corrections(letter.corrections, "  ")
    lines += _reports(letter.reports, "  ", letter.amount)
    return "\n".join(lines)


def conflicts_table(conflicts: Sequence[Conflict]) -> str:
    """Every record whose figures disagree: the counted figure, then each reported one."""
    if not conflicts:
        return "(no conflicts: every record's reported figures agree)"
    lines = []
    for c in conflicts:
        counted = c.counted
        lines.append(
            f"{c.id}  {c.unit}  counted {compact_figure(counted.value, counted.bound)}"
            f"{_range(counted.low or ZERO, counted.high, counted.value)}"
        )
        rows = [
            [
                str(r.reported_on),
                compact_figure(r.amount, r.bound),
                r.outlet,
                f"{r.kind} {r.event}",
            ]
            for r in c.reported
        ]
        body = table(["REPORTED ON", "FIGURE", "OUTLET", "IN"], rows, numeric={1})
        lines += ["  " + line for line in body.splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def overdue_table(records: Sequence[OverdueView]) -> str:
    """Records past their deadline, with what is still undelivered or unconverted."""
    if not records:
        return "(nothing overdue)"
    rows = [
        [
            o.id,
            o.type,
            str(o.due_by),
            f"{compact_figure(o.amount, o.bound)} {o.unit}",
            "" if o.delivered is None else compact(o.delivered),
            "undisclosed" if o.outstanding is None else compact(o.outstanding),
        ]
        for o in records
    ]
    headers = ["ID", "TYPE", "DUE BY", "AMOUNT", "DELIVERED", "OUTSTANDING"]
    return table(headers, rows, numeric={4, 5})


def timeline_table(points: Iterable[TimelinePoint], by: Group) -> str:
    """The timeline as an aligned table, one line per period end, group key and unit, with
    figures as in :func:`totals_table`."""
    shown = list(points)
    if not shown:
        return "(no timeline: nothing recorded matches)"
    extra_headers, extra = _extra_columns(shown)
    cells = [
        [p.period_end.isoformat(), _key(p.key), p.unit, *_figure_cells(p), *(c(p) for c in extra)]
        for p in shown
    ]
    headers = [
        "PERIOD END",
        by.upper(),
        "UNIT",
        "PLEDGED",
        "ALLOCATED",
        "UNALLOCATED",
        "DELIVERED",
        "INTENDED",
        *extra_headers,
    ]
    return table(headers, cells, numeric={3, 4, 5, 6, 7})


def timeline_json(points: Iterable[TimelinePoint]) -> Iterable[str]:
    """A JSON array of :meth:`TimelinePoint.as_dict` objects, in pieces, so that a long
    timeline streams instead of being built in memory first."""
    yield "["
    first = True
    for point in points:
        yield ("\n  " if first else ",\n  ") + json.dumps(point.as_dict(), ensure_ascii=False)
        first = False
    yield "\n]\n" if not first else "]\n"
