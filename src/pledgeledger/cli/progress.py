"""A progress line on the terminal for long commands (``import``, ``replay``).

Drawn only when standard error is a terminal, so that a script's stderr holds messages and
nothing else. The work reports progress in bursts (a replay reports a page of events at once,
after committing it), so the line is redrawn by a ticker thread from the latest figures rather
than by the callback, which only stores them: the callback costs two assignments per event, and
a burst is shown whole instead of at its first event.

The ETA is the remaining work at the average rate since the start, and is shown only once that
rate means something (:func:`eta`): an estimate made from the first event of the first burst
once promised days for a 46-second replay.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pledgeledger.domain.progress import Progress

__all__ = ["ETA_AFTER_FRACTION", "ETA_AFTER_SECONDS", "clock", "eta", "progress_line", "render"]

ETA_AFTER_SECONDS = 2.0
"""No ETA before this much time has passed: the first moments say little about the rate."""
ETA_AFTER_FRACTION = 0.01
"""No ETA before this share of the work is done (a burst's first event is not a rate)."""
REDRAW_SECONDS = 0.2
"""How often the line is redrawn."""


def clock(seconds: float) -> str:
    """``H:MM:SS`` (hours grow past 24 rather than turning into days)."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}"


def eta(done: int, total: int, elapsed: float) -> float | None:
    """Seconds left at the average rate so far, or ``None`` while it cannot be told: too early,
    too little done, nothing left, or a total that is not known."""
    if total <= 0 or done <= 0 or done >= total:
        return None
    if elapsed < ETA_AFTER_SECONDS or done < total * ETA_AFTER_FRACTION:
        return None
    return (total - done) * elapsed / done


def render(
    label: str, done: int, total: int, elapsed: float, width: int, *, final: bool = False
) -> str:
    """The progress line: label, bar, count, percentage, elapsed time and, once known, ETA.

    Work may go on after the last item is reported (``replay --verify`` compares the rebuilt
    state afterwards): until ``final``, a full bar says ``finishing``.
    """
    if done <= 0 and total <= 0:
        return f"{label}  {clock(elapsed)}  starting"
    shown = min(done, total) if total > 0 else done
    count = f"{shown:,}/{total:,}" if total > 0 else f"{shown:,}"
    percent = f"{100 * shown // total:3d}%" if total > 0 else ""
    left = eta(done, total, elapsed)
    times = clock(elapsed) + ("" if left is None else f"  ETA {clock(left)}")
    finishing = "finishing" if 0 < total <= done and not final else ""
    tail = "  ".join(part for part in (count, percent, times, finishing) if part)
    room = width - len(label) - len(tail) - 6
    if total > 0 and room >= 10:
        filled = room * shown // total
        bar = "[" + "#" * filled + "-" * (room - filled) + "]"
        return f"{label}  {bar}  {tail}"
    return f"{label}  {tail}"


@contextmanager
def progress_line(label: str, stream: TextIO) -> Iterator[Progress]:
    """A :data:`Progress` callback drawing one line on ``stream``, only if it is a terminal.

    The line is left in place, complete, when the work ends; on an error or an interrupt it is
    ended too, so that the message that follows starts on a line of its own.
    """
    if not stream.isatty():
        yield lambda done, total: None
        return
    figures = [0, 0]

    def update(done: int, total: int) -> None:
        figures[0] = done
        figures[1] = total

    started = time.monotonic()
    stop = threading.Event()
    drawn = [0]

    def draw(*, final: bool = False) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        elapsed = time.monotonic() - started
        line = render(label, figures[0], figures[1], elapsed, width, final=final)[:width]
        stream.write("\r" + line.ljust(drawn[0]))
        stream.flush()
        drawn[0] = len(line)

    def tick() -> None:
        while not stop.wait(REDRAW_SECONDS):
            draw()

    ticker = threading.Thread(target=tick, name="pledgeledger-progress", daemon=True)
    ticker.start()
    try:
        yield update
    finally:
        stop.set()
        ticker.join()
        draw(final=True)
        stream.write("\n")
        stream.flush()
