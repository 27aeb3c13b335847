"""The built-in ``chart`` exporter: totals as bars with their ranges, or a timeline, as PNG or
SVG.

``--what totals`` (the default) draws two horizontal bars per group (``--by``, sector unless
told; ``--depth 1`` rolls sectors up). The first is the binding *pledged* figure, split into
*allocated* and *unallocated*, with *delivered* (a part of what was pledged) as a thin dark bar
over it. The second, beside it and never stacked on it, is *intended* (non-binding LOIs,
hatched): letters of intent are candidates, often for the very money pledged, so adding them
on top would count it twice. Each bar carries its range as a whisker from low to high (an
arrow to the panel's edge when unbounded above) and a label with its scale word (``477B``).

``--what timeline`` draws the cumulative pledged, allocated, delivered and intended figures per
``--every`` period, summed over the groups, as separate lines.

The title says which date the figures are as of (the ``--as-of`` date, else the latest world
date recorded) and, with ``--known-at``, as known when. Units are never mixed on one axis: each
unit gets its own panel, with its figures scaled to thousands, millions or billions (currencies
read "billion USD"). The output's suffix picks the
format (``.png``, 150 dpi, or ``.svg``). matplotlib is imported only when a chart is drawn (it
is the optional ``charts`` extra), and only its object-oriented API is used, so nothing global
(pyplot state, the backend) is touched; file metadata that would change between runs (dates,
random SVG ids) is left out, so one ledger always gives the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from pledgeledger.domain.totals import ZERO, Totals
from pledgeledger.plugins.exporter import TIMELINE, TOTALS, Exporter, ExportFailed, ExportOptions
from pledgeledger.plugins.hookspecs import hookimpl
from pledgeledger.view import LedgerView, compact, compact_range

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["export_chart", "register_exporters", "scale_for"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SCALES = ((Decimal(10**9), "billion"), (Decimal(10**6), "million"), (Decimal(10**3), "thousand"))

COLOURS = {
    "allocated": "#1f4e79",
    "unallocated": "#8fb3d9",
    "intended": "#f4b183",
    "delivered": "#2d2d2d",
    "pledged": "#1f4e79",
    "range": "#7f7f7f",
}
"""Colour per measure, the same in both charts (colour-blind safe: blue / orange / black)."""


def scale_for(unit: str, largest: Decimal) -> tuple[Decimal, str]:
    """The divisor and axis label for figures up to ``largest`` in ``unit``.

    >>> scale_for("USD", Decimal("5.5E11"))
    (Decimal('1000000000'), 'billion USD')
    """
    for divisor, word in _SCALES:
        if largest >= divisor:
            return divisor, f"{word} {unit}"
    return Decimal(1), unit


def _subtitle(view: LedgerView) -> str:
    """Which world date the figures are as of, and as known when: dates, never a position in
    the log, which means nothing to a reader."""
    if view.as_of is not None:
        parts = [f"as of {view.as_of.isoformat()}"]
    else:
        latest = max((logged.event.world_date for logged in view.events()), default=None)
        parts = [
            "nothing recorded"
            if latest is None
            else f"as of {latest.isoformat()} (the latest date recorded)"
        ]
    if view.known_at is not None:
        parts.append(f"as known at {view.known_at.isoformat(timespec='seconds')}")
    return ", ".join(parts)


def _new_figure(panels: int, rows_per_panel: Sequence[int]) -> Figure:
    from matplotlib.figure import Figure

    height = 1.4 + sum(0.9 + 0.38 * max(n, 1) for n in rows_per_panel)
    return Figure(figsize=(11, max(3.5, height)), layout="constrained")


def _empty(fig: Figure, message: str) -> None:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, transform=ax.transAxes)


_BAR = 0.36
"""Height of one bar; a group's pledged and intended bars sit side by side in one slot."""


def _whisker(
    ax: Axes, y: float, low: Decimal, high: Decimal | None, divisor: Decimal, edge: float
) -> None:
    """A range as a whisker from ``low`` to ``high``; unbounded above, an arrow to ``edge``."""
    start = float(low / divisor)
    style: dict[str, Any] = {"color": COLOURS["range"], "linewidth": 1.2, "zorder": 4}
    if high is None:
        ax.annotate(
            "",
            xy=(edge, y),
            xytext=(start, y),
            arrowprops={"arrowstyle": "->", "color": COLOURS["range"], "linewidth": 1.2},
            zorder=4,
        )
        ax.plot([start, start], [y - _BAR / 3, y + _BAR / 3], **style)
        return
    end = float(high / divisor)
    ax.plot([start, end], [y, y], **style)
    for x in (start, end):
        ax.plot([x, x], [y - _BAR / 3, y + _BAR / 3], **style)


def _label(figure: str, headline: Decimal, low: Decimal, high: Decimal | None) -> str:
    text = f"{compact(headline)} {figure}"
    if low != headline or high != headline:
        text += f" ({compact_range(low, high)})"
    return text


def _bars(ax: Axes, unit: str, rows: Sequence[Totals], by: str) -> None:
    finite = [
        value
        for r in rows
        for value in (
            r.pledged,
            r.pledged_low,
            r.pledged_high,
            r.intended,
            r.intended_low,
            r.intended_high,
            r.delivered,
        )
        if value is not None
    ]
    largest = max(max(finite), Decimal(1))
    divisor, label = scale_for(unit, largest)
    edge = float(largest / divisor) * 1.6
    keys = [r.key if r.key is not None else f"(no {by})" for r in rows]
    slots = list(range(len(rows)))
    pledged_at = [y - _BAR / 2 for y in slots]
    intended_at = [y + _BAR / 2 for y in slots]

    def scaled(values: Sequence[Decimal]) -> list[float]:
        return [float(v / divisor) for v in values]

    allocated = scaled([r.allocated for r in rows])
    ax.barh(pledged_at, allocated, height=_BAR, color=COLOURS["allocated"], label="allocated")
    ax.barh(
        pledged_at,
        scaled([r.unallocated for r in rows]),
        height=_BAR,
        left=allocated,
        color=COLOURS["unallocated"],
        label="unallocated (pledged, not yet allocated)",
    )
    ax.barh(
        pledged_at,
        scaled([r.delivered for r in rows]),
        height=_BAR / 3,
        color=COLOURS["delivered"],
        label="delivered",
    )
    ax.barh(
        intended_at,
        scaled([r.intended for r in rows]),
        height=_BAR,
        color=COLOURS["intended"],
        hatch="//",
        edgecolor="white",
        linewidth=0,
        label="intended (letters of intent: non-binding, beside pledged, never added to it)",
    )
    ranged = False
    for r, y_pledged, y_intended in zip(rows, pledged_at, intended_at, strict=True):
        for figure, y in (("pledged", y_pledged), ("intended", y_intended)):
            headline: Decimal = getattr(r, figure)
            low, high = r.range_of(figure)
            if not (headline or low or high is None or high):
                continue
            if low != headline or high != headline:
                _whisker(ax, y, low, high, divisor, edge)
                ranged = True
            ends = [headline, low] + ([high] if high is not None else [])
            if figure == "pledged":
                ends.append(r.delivered)
            end = edge if high is None else float(max(ends) / divisor)
            text = _label(figure, headline, low, high)
            if figure == "pledged" and r.delivered:
                text += f", {compact(r.delivered)} delivered"
            ax.text(end, y, "  " + text, va="center", ha="left", fontsize=8, color="#333333")
    if ranged:
        ax.plot([], [], color=COLOURS["range"], linewidth=1.2, label="range (low to high)")
    ax.set_yticks(slots, keys, fontsize=9.5)
    # Top to bottom in key order; at least 2.5 slots high, so a lone group stays readable.
    pad = max(0.0, (2.5 - len(rows)) / 2)
    ax.set_ylim(len(rows) - 0.5 + pad, -0.5 - pad)
    ax.set_xlim(0, edge * 1.35)
    ax.set_xlabel(label)
    ax.set_title(f"in {unit}", loc="left", fontsize=11, fontweight="bold")
    _tidy(ax, axis="x", whole=divisor == 1)


def _tidy(ax: Axes, axis: Literal["x", "y"], *, whole: bool) -> None:
    """Thousands separators on the figures' axis, whole-number ticks for counted units
    (1 missile, not 0.2 of one), a light grid and no box."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    figures = ax.xaxis if axis == "x" else ax.yaxis
    figures.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value:,.0f}" if value == int(value) else f"{value:,.1f}")
    )
    if whole:
        figures.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis=axis, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _by_unit(rows: Sequence[Any]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.unit, []).append(row)
    return dict(sorted(grouped.items()))


def _totals_chart(view: LedgerView, options: ExportOptions) -> Figure:
    by = options.by or "sector"
    rows = view.totals(by, depth=options.depth)
    units = _by_unit(rows)
    fig = _new_figure(len(units), [len(r) for r in units.values()])
    rolled = f", sectors rolled up to depth {options.depth}" if options.depth else ""
    fig.suptitle(f"Totals by {by}{rolled}\n{_subtitle(view)}", fontsize=12)
    if not units:
        _empty(fig, "Nothing recorded yet")
        return fig
    axes = fig.subplots(
        len(units), 1, squeeze=False, height_ratios=[0.9 + 0.38 * len(r) for r in units.values()]
    )
    for ax, (unit, unit_rows) in zip(axes[:, 0], units.items(), strict=True):
        _bars(ax, unit, unit_rows, by)
    legend: dict[str, Any] = {}
    for ax in axes[:, 0]:
        for handle, text in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(text, handle)
    fig.legend(
        list(legend.values()),
        list(legend),
        loc="outside lower center",
        ncols=2,
        frameon=False,
        fontsize=9,
    )
    return fig


_MEASURES = ("pledged", "allocated", "delivered", "intended")
_WIDTHS = {"pledged": 4.0, "allocated": 2.8, "delivered": 1.6, "intended": 2.2}
_LINE_COLOURS = {**COLOURS, "allocated": "#5b9bd5"}


def _timeline_chart(view: LedgerView, options: ExportOptions) -> Figure:
    by = options.by or "sector"
    rows = view.timeline(by, every=options.every, depth=options.depth)
    units = _by_unit(rows)
    fig = _new_figure(len(units), [5] * len(units))
    fig.suptitle(
        f"Cumulative totals per {options.every}, all {by}s together\n{_subtitle(view)}", fontsize=12
    )
    if not units:
        _empty(fig, "Nothing recorded yet")
        return fig
    # One shared time axis, so that a date lines up across the units' panels.
    axes = fig.subplots(len(units), 1, squeeze=False, sharex=True)
    legend: dict[str, Any] = {}
    for ax, (unit, unit_rows) in zip(axes[:, 0], units.items(), strict=True):
        sums: dict[date, dict[str, Decimal]] = {}
        for row in unit_rows:
            at = sums.setdefault(row.period_end, dict.fromkeys(_MEASURES, ZERO))
            for measure in _MEASURES:
                at[measure] += getattr(row, measure)
        periods = sorted(sums)
        ends: list[tuple[float, str]] = []
        largest = max(max(v.values()) for v in sums.values())
        divisor, label = scale_for(unit, largest)
        for measure in _MEASURES:
            values = [float(sums[p][measure] / divisor) for p in periods]
            if not any(values):
                continue
            # Lines drawn thinner the later they come, so equal figures (all pledged was
            # delivered) still show both lines.
            (line,) = ax.plot(
                periods,
                values,
                drawstyle="steps-post",
                marker="o",
                markersize=3.5,
                linewidth=_WIDTHS[measure],
                label=measure,
                color=_LINE_COLOURS[measure],
                linestyle="--" if measure == "intended" else "-",
            )
            legend.setdefault(measure, line)
            ends.append((values[-1], f" {compact(sums[periods[-1]][measure])}"))
        top = float(largest / divisor) * 1.15 or 1
        ax.set_ylim(bottom=0, top=top)
        _end_labels(ax, periods[-1], ends, gap=top * 0.07)
        ax.set_ylabel(label)
        ax.set_title(f"in {unit}", loc="left", fontsize=11, fontweight="bold")
        _tidy(ax, axis="y", whole=divisor == 1)
    axes[-1, 0].tick_params(axis="x", labelrotation=30)
    ordered = [m for m in _MEASURES if m in legend]
    fig.legend(
        [legend[m] for m in ordered],
        ordered,
        loc="outside lower center",
        ncols=len(ordered),
        frameon=False,
        fontsize=9,
    )
    return fig


def _end_labels(ax: Axes, at: date, ends: list[tuple[float, str]], gap: float) -> None:
    """Each line's last figure beside its end, nudged up where two would overlap."""
    floor = -gap
    for value, text in sorted(ends):
        y = max(value, floor + gap)
        ax.annotate(text, (at, value), xytext=(at, y), textcoords="data", fontsize=8.5, va="center")
        floor = y


def export_chart(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    """Draw the chart ``options.what`` names, as PNG or SVG per ``options.suffix``."""
    try:
        import matplotlib  # noqa: F401  # fail early, with the way to install it
    except ImportError:
        raise ExportFailed(
            "the chart exporter needs matplotlib: pip install 'pledgeledger[charts]'"
        ) from None
    from matplotlib import rc_context

    draw = _timeline_chart if options.what == TIMELINE else _totals_chart
    fmt = "svg" if options.suffix == ".svg" else "png"
    with rc_context({"svg.hashsalt": "pledgeledger", "svg.fonttype": "path"}):
        fig = draw(view, options)
        if fmt == "png":
            fig.savefig(out, format="png", dpi=150, metadata={"Software": None}, facecolor="white")
            return
        buffer = io.BytesIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
    out.write(_stable_ids(buffer.getvalue().decode("utf-8")).encode("utf-8"))


_HASHED_ID = re.compile(r'id="([a-z][0-9a-f]{10})"')


def _stable_ids(svg: str) -> str:
    """The SVG with matplotlib's hashed ids (clip paths, hatches) renumbered in order of
    appearance: some hash floats of the layout that differ in their last bits from one drawing
    to the next, and the ids mean nothing, so equal charts become equal bytes."""
    names: dict[str, str] = {}
    for found in _HASHED_ID.findall(svg):
        names.setdefault(found, f"{found[0]}{len(names) + 1}")
    if not names:
        return svg
    # Ten hex digits after a letter: no coordinate, colour or glyph name looks like that.
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b")
    return pattern.sub(lambda m: names[m.group(0)], svg)


@hookimpl
def register_exporters(register: Callable[[Exporter], None]) -> None:
    register(
        Exporter(
            name="chart",
            suffixes=(".png", ".svg"),
            media_type="image/png",
            media_types={".svg": "image/svg+xml"},
            export=export_chart,
            description="Bars of pledged (allocated/unallocated, delivered) beside intended per "
            "group, with their ranges, or a timeline (--what timeline); one panel per unit. "
            "Needs matplotlib.",
            contents=(TOTALS, TIMELINE),
            binary=True,
        )
    )
