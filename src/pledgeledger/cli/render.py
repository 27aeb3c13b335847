"""Rendering totals, logs and trees for people (tables) and programs (JSON, JSON Lines).

Kept apart from the CLI so that exporters and library users render exactly what the CLI prints.
CSV is written by :mod:`pledgeledger.tables` alone (``totals_csv``, ``timeline_csv``), the same
code as the ``csv`` exporter's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from decimal import Decimal

from pledgeledger.domain.totals import Group, TimelinePoint, Totals
from pledgeledger.view import LetterView, LoggedEvent, NodeView

__all__ = [
    "figure",
    "log_table",
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


def totals_table(rows: Sequence[Totals], by: Group) -> str:
    if not rows:
        return "(no totals: nothing recorded matches)"
    headers = [by.upper(), "UNIT", "PLEDGED", "ALLOCATED", "UNALLOCATED", "DELIVERED", "INTENDED"]
    cells = [
        [_key(r.key), r.unit]
        + [figure(v) for v in (r.pledged, r.allocated, r.unallocated, r.delivered, r.intended)]
        for r in rows
    ]
    return table(headers, cells, numeric={2, 3, 4, 5, 6})


def totals_json(rows: Sequence[Totals]) -> str:
    return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False)


def _what(logged: LoggedEvent) -> tuple[str, str]:
    e = logged.event
    amount = getattr(e, "amount", None)
    unit = getattr(e, "unit", "")
    figure_text = f"{figure(amount)} {unit}".strip() if amount is not None else ""
    ref = getattr(e, "parent", None) or getattr(e, "target", None) or ""
    return figure_text, ref


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


def _sources(sources: Sequence[object], indent: str) -> list[str]:
    lines = []
    for s in sources:
        parts = [getattr(s, "outlet", "")]
        if getattr(s, "published_on", None):
            parts.append(str(s.published_on))  # type: ignore[attr-defined]  # a Source, typed object
        if getattr(s, "url", None):
            parts.append(s.url)  # type: ignore[attr-defined]  # a Source, typed object
        lines.append(f"{indent}source: " + ", ".join(parts))
        if getattr(s, "quote", None):
            lines.append(f'{indent}  "{s.quote}"')  # type: ignore[attr-defined]  # a Source, typed object
    return lines


def render_tree(node: NodeView, indent: str = "") -> str:
    """A pledge's tree: each node's figures, headroom, history and sources."""
    state = "" if node.active else "  [withdrawn]"
    bound = "" if node.bound == "exact" else f" ({node.bound.value.replace('_', ' ')})"
    headroom = "uncapped (at least)" if node.headroom is None else figure(node.headroom)
    lines = [
        f"{indent}{node.id}  {node.kind}  {figure(node.amount)} {node.unit}{bound}  "
        f"[{node.sector}]  {node.announced_on}{state}",
        f"{indent}  allocated {figure(node.allocated)}  headroom {headroom}  "
        f"delivered {figure(node.delivered)}",
    ]
    lines += _sources(node.sources, indent + "  ")
    for c in node.corrections:
        amount = f" to {figure(c.amount)}" if c.amount is not None else ""
        lines.append(f"{indent}  {c.announced_on} {c.kind} {c.id}{amount}: {c.reason}")
        lines += _sources(c.sources, indent + "    ")
    for d in node.deliveries:
        dstate = "" if d.active else "  [withdrawn]"
        lines.append(
            f"{indent}  delivery {d.id}  {figure(d.amount)} {d.unit}  {d.delivered_on}{dstate}"
        )
        lines += _sources(d.sources, indent + "    ")
        for c in d.corrections:
            amount = f" to {figure(c.amount)}" if c.amount is not None else ""
            lines.append(f"{indent}    {c.announced_on} {c.kind} {c.id}{amount}: {c.reason}")
    for child in node.tranches:
        lines.append(render_tree(child, indent + "    "))
    return "\n".join(lines)


def render_letter(letter: LetterView) -> str:
    state = "" if letter.active else "  [withdrawn]"
    lines = [
        f"{letter.id}  letter of intent  {figure(letter.amount)} {letter.unit}  "
        f"[{letter.sector}]  {letter.announced_on}{state}",
        f"  {letter.party} -> {letter.counterparty}; agreement {_key(letter.agreement)}",
        *_sources(letter.sources, "  "),
    ]
    for c in letter.corrections:
        amount = f" to {figure(c.amount)}" if c.amount is not None else ""
        lines.append(f"  {c.announced_on} {c.kind} {c.id}{amount}: {c.reason}")
    return "\n".join(lines)


def timeline_table(points: Iterable[TimelinePoint], by: Group) -> str:
    """The timeline as an aligned table, one line per period end, group key and unit."""
    cells = [
        [p.period_end.isoformat(), _key(p.key), p.unit]
        + [figure(v) for v in (p.pledged, p.allocated, p.unallocated, p.delivered, p.intended)]
        for p in points
    ]
    if not cells:
        return "(no timeline: nothing recorded matches)"
    headers = [
        "PERIOD END",
        by.upper(),
        "UNIT",
        "PLEDGED",
        "ALLOCATED",
        "UNALLOCATED",
        "DELIVERED",
        "INTENDED",
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
