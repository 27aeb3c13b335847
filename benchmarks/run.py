"""Benchmarks of issue 3's targets, each a whole process measured against baselines run on the
same synthetic data in the same run, printed as a markdown table.

    python benchmarks/run.py                     # 100,000 events: a few minutes on 2 cores
    python benchmarks/run.py --events 1000000    # the 1,000,000-event variant
    python benchmarks/run.py --events 20000 --repeat 1   # a quick look

Every measured thing runs as its own process (start-up included), timed by wall clock, with
its peak RSS read from ``wait4``. Figures are medians of ``--repeat`` runs. The baselines are
``raw_import.py`` (read, ``json.loads``, insert (type, JSON) rows in one transaction) and
``raw_read.py`` (SELECT every row and ``json.loads`` it); see ``docs/performance.md``.
Timings vary with the machine: the ratios are what the targets are about.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
CLI = str(Path(sys.executable).parent / "pledgeledger")
MIB = 1024 * 1024

QUERY_IN_PROCESS = """
import sys, time, statistics
from datetime import date
from pledgeledger import Ledger
with Ledger.open(sys.argv[1]) as ledger:
    ledger.totals()  # the first call opens connections and checks the read models
    for label, call in [
        ("totals", lambda: ledger.totals("sector")),
        ("totals --depth 1", lambda: ledger.totals("sector", depth=1)),
        ("totals --as-of", lambda: ledger.totals("sector", as_of=date(2021, 6, 30))),
        ("timeline --every quarter", lambda: ledger.timeline("sector", every="quarter", depth=1)),
    ]:
        times = []
        for _ in range(int(sys.argv[2])):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        print(label, statistics.median(times), sep="\t")
"""


@attrs.frozen
class Run:
    seconds: float
    peak_rss: int
    output: str


def _wrapped(command: Sequence[str]) -> list[str]:
    """Run ``command`` under a tiny wrapper that prints the child's own peak RSS last, so that
    every measurement reports its own peak (not the largest of all children so far)."""
    code = (
        "import os, subprocess, sys;"
        "p = subprocess.Popen(sys.argv[1:]);"
        "_, status, usage = os.wait4(p.pid, 0);"
        "sys.stderr.write(f'\\nPEAK_RSS {usage.ru_maxrss}\\n');"
        "sys.exit(os.waitstatus_to_exitcode(status))"
    )
    return [PYTHON, "-c", code, *command]


def timed(command: Sequence[str], repeat: int = 1, before: object = None) -> Run:
    times, peaks, output = [], [], ""
    for _ in range(repeat):
        if callable(before):
            before()
        started = time.perf_counter()
        result = subprocess.run(_wrapped(command), capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if result.returncode:
            sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
        peak = next(
            int(line.split()[1])
            for line in reversed(result.stderr.splitlines())
            if line.startswith("PEAK_RSS")
        )
        times.append(elapsed)
        peaks.append(peak * 1024)
        output = result.stdout
    return Run(statistics.median(times), max(peaks), output)


def remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="size of the big ledger")
    parser.add_argument("--small", type=int, default=100, help="size of the small ledger")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep its files")
    args = parser.parse_args()

    from pledgeledger.synthetic import write_jsonl

    work = Path(args.keep or tempfile.mkdtemp(prefix="pledgeledger-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    n = args.events
    big, small = work / "big.jsonl", work / "small.jsonl"
    print(f"generating {n:,} + {args.small} events in {work} ...", file=sys.stderr)
    write_jsonl(big, n, seed=args.seed)
    write_jsonl(small, args.small, seed=args.seed)
    raw_db, db, small_db = work / "raw.db", work / "ledger.db", work / "small.db"
    results: list[tuple[str, str, str, str, str]] = []

    def ratio_row(name: str, ours: float, base: float, target: str, met: bool) -> None:
        results.append(
            (
                name,
                f"{ours:,.0f} ev/s",
                f"{base:,.0f} ev/s",
                f"{ours / base:.2f}x",
                f"{target} {'✅' if met else '❌'}",
            )
        )

    print("raw import ...", file=sys.stderr)
    raw_import = timed(
        [PYTHON, str(HERE / "raw_import.py"), str(big), str(raw_db)],
        args.repeat,
        lambda: remove_db(raw_db),
    )
    print("pledgeledger import ...", file=sys.stderr)
    ours_import = timed(
        [CLI, "--db", str(db), "import", str(big)], args.repeat, lambda: remove_db(db)
    )
    raw_rate, our_rate = n / raw_import.seconds, n / ours_import.seconds
    ratio_row(
        "import (parse, validate, check, persist, read models)",
        our_rate,
        raw_rate,
        "≥ 0.5x",
        our_rate >= 0.5 * raw_rate,
    )

    print("raw read ...", file=sys.stderr)
    raw_read = timed([PYTHON, str(HERE / "raw_read.py"), str(raw_db)], args.repeat)
    print("replay ...", file=sys.stderr)
    replay = timed([CLI, "--db", str(db), "replay"], args.repeat)
    raw_read_rate, replay_rate = n / raw_read.seconds, n / replay.seconds
    ratio_row(
        "replay of every read model",
        replay_rate,
        raw_read_rate,
        "≥ 0.5x",
        replay_rate >= 0.5 * raw_read_rate,
    )

    print("queries ...", file=sys.stderr)
    remove_db(small_db)
    subprocess.run(
        [CLI, "--db", str(small_db), "import", str(small)], check=True, capture_output=True
    )
    query = [CLI, "--db", "{db}", "totals", "--by", "sector", "--format", "json"]
    q_small = timed([a.replace("{db}", str(small_db)) for a in query], max(5, args.repeat))
    q_big = timed([a.replace("{db}", str(db)) for a in query], max(5, args.repeat))
    results.append(
        (
            f"`totals` process, {n:,} vs {args.small} events",
            f"{q_big.seconds * 1000:.0f} ms",
            f"{q_small.seconds * 1000:.0f} ms",
            f"{q_big.seconds / q_small.seconds:.2f}x",
            f"≤ 1.5x {'✅' if q_big.seconds <= 1.5 * q_small.seconds else '❌'}",
        )
    )
    inside = timed([PYTHON, "-c", QUERY_IN_PROCESS, str(db), "20"])
    figures = dict(line.split("\t") for line in inside.output.splitlines())
    for label, value in figures.items():
        ms = float(value) * 1000
        target = "< 20 ms" if label == "totals" else "(no target)"
        met = "✅" if label != "totals" or ms < 20 else "❌"
        results.append(
            (
                f"in-process `{label}` on {n:,} events",
                f"{ms:.2f} ms",
                "",
                "",
                f"{target} {met if label == 'totals' else ''}".strip(),
            )
        )
    as_of = timed([CLI, "--db", str(db), "totals", "--as-of", "2021-06-30", "--format", "json"])
    timeline = timed([CLI, "--db", str(db), "timeline", "--every", "month", "--format", "csv"])

    def mib(run: Run) -> str:
        return f"{run.peak_rss / MIB:,.0f} MiB"

    limit_q = 300 * MIB
    results.append(
        (
            f"peak RSS: replay of {n:,}",
            mib(replay),
            mib(raw_read),
            "",
            f"< 300 MiB {'✅' if replay.peak_rss < limit_q else '❌'}",
        )
    )
    for label, run in (
        ("totals", q_big),
        ("totals --as-of", as_of),
        ("timeline --every month", timeline),
    ):
        results.append(
            (
                f"peak RSS: `{label}` on {n:,}",
                mib(run),
                "",
                "",
                f"< 300 MiB {'✅' if run.peak_rss < limit_q else '❌'}",
            )
        )
    results.append(
        (
            f"peak RSS: atomic import of {n:,}",
            mib(ours_import),
            mib(raw_import),
            "",
            f"< 1 GiB {'✅' if ours_import.peak_rss < 1024 * MIB else '❌'}",
        )
    )
    startup = timed([CLI, "--help"], max(5, args.repeat))
    results.append(
        (
            "CLI start-up (`pledgeledger --help`)",
            f"{startup.seconds * 1000:.0f} ms",
            "",
            "",
            f"< 300 ms {'✅' if startup.seconds < 0.3 else '❌'}",
        )
    )
    python_startup = timed([PYTHON, "-c", "pass"], max(5, args.repeat))
    results.append(
        (
            "(bare `python -c pass`, for scale)",
            f"{python_startup.seconds * 1000:.0f} ms",
            "",
            "",
            "",
        )
    )

    print(
        f"\n{n:,} events ({big.stat().st_size / MIB:,.0f} MiB of JSON Lines), "
        f"median of {args.repeat}; raw import {raw_import.seconds:.2f} s, ours "
        f"{ours_import.seconds:.2f} s; raw read {raw_read.seconds:.2f} s, replay "
        f"{replay.seconds:.2f} s\n"
    )
    print("| measure | pledgeledger | baseline | ratio | target |")
    print("|---|---:|---:|---:|---|")
    for row in results:
        print("| " + " | ".join(row) + " |")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
