"""The command line in scripts and pipes (issue 9): standard input, global options after the
command name, data on stdout and messages on stderr, closed pipes, Ctrl-C, ``python -m`` entry
points, progress lines only on a terminal with sane ETAs, and ``--known-at`` times that
round-trip from ``log``.

Most tests drive the command in process with click's CliRunner; pipes, signals and entry
points need a real process, and get one.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import pledgeledger.cli.commands
from helpers import FakeClock, Record, agreement, delivery, pledge, tranche
from pledgeledger import Ledger, NotFound, Query
from pledgeledger.cli import cli
from pledgeledger.cli.commands import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, known_at_end
from pledgeledger.cli.progress import clock, eta, progress_line, render
from pledgeledger.domain.progress import Progress
from pledgeledger.synthetic import generate

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "pledgeledger"

EVENTS: list[Record] = [
    agreement("acc", on="2025-01-01"),
    pledge("p", "100", agreement="acc", on="2025-01-10"),
    tranche("t", "p", "60", on="2025-01-10"),
    delivery("d", "t", "10", on="2025-01-10"),
]


def _lines(records: list[Record]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.db")


def _python_m(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def _env() -> dict[str, str]:
    """The test's environment without a default ledger: every command names its own."""
    return {k: v for k, v in os.environ.items() if k != "PLEDGELEDGER_DB"}


# -- import - --------------------------------------------------------------------------------


def test_import_dash_reads_json_lines_from_stdin(db: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", db, "import", "-"], input=_lines(EVENTS))
    assert result.exit_code == 0, result.output
    assert result.stderr == "recorded 4 event(s), skipped 0 already recorded\n"
    again = runner.invoke(cli, ["--db", db, "import", "-"], input=_lines(EVENTS))
    assert again.stderr == "recorded 0 event(s), skipped 4 already recorded\n"


def test_import_dash_beside_files_is_one_transaction(
    db: str, runner: CliRunner, tmp_path: Path
) -> None:
    first = tmp_path / "first.jsonl"
    first.write_text(_lines(EVENTS[:2]), encoding="utf-8")
    bad = dict(EVENTS[2], amount=1.5)
    result = runner.invoke(
        cli, ["--db", db, "import", str(first), "-"], input=_lines([EVENTS[3], bad])
    )
    assert result.exit_code == 1
    # stdin is named as such, by line, and nothing of the first file was written either
    assert result.stderr.startswith("error: <stdin>:2: amount: ")
    assert len(result.stderr.splitlines()) == 1
    assert "pledgeledger-" not in result.stderr  # the spool file is never named
    log = runner.invoke(cli, ["--db", db, "log", "--format", "jsonl"])
    assert log.exit_code == 0
    assert log.stdout == ""
    result = runner.invoke(cli, ["--db", db, "import", str(first), "-"], input=_lines(EVENTS[2:]))
    assert result.exit_code == 0, result.output
    assert "recorded 4 event(s)" in result.stderr


def test_import_dash_refusal_names_stdin(db: str, runner: CliRunner) -> None:
    over = tranche("t2", "p", "41", on="2025-01-10")
    result = runner.invoke(cli, ["--db", db, "import", "-"], input=_lines([*EVENTS, over]))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: <stdin>:5: t2: refused (invariant 2: tranches exceed their parent, "
        "docs/semantics.md#invariants): "
    )


def test_stdin_may_be_named_once(db: str, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--db", db, "import", "-", "-"], input="")
    assert result.exit_code == 2
    assert "may be given only once" in result.stderr
    assert not Path(db).exists()


def test_log_jsonl_piped_into_import_dash_copies_a_ledger(
    db: str, runner: CliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(cli, ["--db", db, "import", "-"], input=_lines(EVENTS)).exit_code == 0
    dump = runner.invoke(cli, ["--db", db, "log", "--format", "jsonl"]).stdout
    copy = str(tmp_path / "copy.db")
    result = runner.invoke(cli, ["import", "-", "--db", copy], input=dump)
    assert result.exit_code == 0, result.output
    totals = [
        runner.invoke(cli, ["totals", "--db", target, "--format", "json"]).stdout
        for target in (db, copy)
    ]
    assert totals[0] == totals[1]
    assert json.loads(totals[0])


# -- global options after the command name ----------------------------------------------------


@pytest.fixture
def loaded(db: str, runner: CliRunner) -> str:
    result = runner.invoke(cli, ["--db", db, "import", "-"], input=_lines(EVENTS))
    assert result.exit_code == 0, result.output
    return db


def test_db_after_the_command_name_is_the_same_as_before(loaded: str, runner: CliRunner) -> None:
    before = runner.invoke(cli, ["--db", loaded, "totals", "--by", "agreement", "--format", "json"])
    after = runner.invoke(cli, ["totals", "--db", loaded, "--by", "agreement", "--format", "json"])
    assert before.exit_code == after.exit_code == 0
    assert after.stdout == before.stdout
    assert json.loads(after.stdout)[0]["pledged"] == "100"
    both = runner.invoke(
        cli, ["--db", loaded, "totals", "--db", loaded, "--by", "agreement", "--format", "json"]
    )
    assert both.stdout == before.stdout


def test_db_before_and_after_must_agree(loaded: str, runner: CliRunner, tmp_path: Path) -> None:
    other = str(tmp_path / "other.db")
    result = runner.invoke(cli, ["--db", loaded, "totals", "--db", other])
    assert result.exit_code == 2
    assert "differs from the --db given before the command name" in result.stderr
    assert not Path(other).exists()


def test_debug_after_the_command_name_shows_the_traceback(loaded: str, runner: CliRunner) -> None:
    quiet = runner.invoke(cli, ["--db", loaded, "show", "nope"])
    assert quiet.exit_code == 1
    assert quiet.stderr == "error: nope: no such id in the ledger\n"
    loud = runner.invoke(cli, ["--db", loaded, "show", "nope", "--debug"])
    assert isinstance(loud.exception, NotFound)  # raised, not turned into one line


def test_every_command_takes_the_global_options(runner: CliRunner) -> None:
    ctx = cli.make_context("pledgeledger", ["--help"], resilient_parsing=True)
    names = cli.list_commands(ctx)
    assert {"import", "totals", "timeline", "show", "log", "replay", "export"} <= set(names)
    for name in names:
        command = cli.get_command(ctx, name)
        assert command is not None
        options = {opt for param in command.params for opt in param.opts}
        assert {"--db", "--debug"} <= options, name
        help_text = runner.invoke(cli, [name, "--help"]).stdout
        assert "--db PATH_OR_URL" in help_text, name


# -- data on stdout, messages on stderr -------------------------------------------------------


def test_messages_about_what_was_done_go_to_stderr(
    loaded: str, runner: CliRunner, tmp_path: Path
) -> None:
    for args in (
        ["replay"],
        ["replay", "--verify"],
        ["export", "-o", str(tmp_path / "totals.csv")],
        ["import", "-"],
    ):
        result = runner.invoke(cli, ["--db", loaded, *args], input=_lines(EVENTS))
        assert result.exit_code == 0, (args, result.output)
        assert result.stdout == "", args
        assert re.match(r"(replayed|wrote|recorded) ", result.stderr), (args, result.stderr)
    verified = runner.invoke(cli, ["--db", loaded, "replay", "--verify"])
    assert "\nverified: " in verified.stderr
    for args in (["totals", "--format", "json"], ["export", "--format", "csv", "-o", "-"]):
        result = runner.invoke(cli, ["--db", loaded, *args])
        assert result.exit_code == 0, result.output
        assert result.stdout
        assert result.stderr == "", args


# -- closed pipes and Ctrl-C, in real processes -----------------------------------------------


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A ledger whose log and daily timeline are far longer than a pipe's buffer."""
    path = str(tmp_path_factory.mktemp("big") / "big.db")
    with Ledger.open(path) as ledger:
        ledger.record(*generate(3000, seed=9))
    return path


PIPED = [
    pytest.param(["log", "--format", "jsonl"], 1, id="log-jsonl-head-1"),
    pytest.param(["timeline", "--every", "day", "--format", "csv"], 2, id="timeline-csv-head-2"),
    pytest.param(["log"], 1, id="log-table"),
    pytest.param(["totals", "--format", "csv"], 1, id="totals-csv"),
    pytest.param(["export", "--format", "jsonl", "-o", "-"], 1, id="export-stdout"),
]


@pytest.mark.parametrize(("args", "keep"), PIPED)
def test_a_reader_that_goes_away_ends_the_command_quietly(
    big: str, args: list[str], keep: int
) -> None:
    with subprocess.Popen(
        _python_m("pledgeledger", "--db", big, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        lines = [process.stdout.readline() for _ in range(keep)]
        process.stdout.close()  # as `| head -N` does
        stderr = process.stderr.read()
        code = process.wait(timeout=120)
    assert all(lines)
    assert stderr == b""
    # 141 if it was still writing when the reader left; 0 if the pipe took all of it (some
    # kernels buffer far more than Linux's usual 64 KiB)
    assert code in (0, EXIT_BROKEN_PIPE)


@pytest.mark.parametrize(("args", "keep"), PIPED)
def test_a_reader_gone_before_the_first_line_ends_it_with_141(
    big: str, args: list[str], keep: int
) -> None:
    read_end, write_end = os.pipe()
    with subprocess.Popen(
        _python_m("pledgeledger", "--db", big, *args),
        stdout=write_end,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as process:
        os.close(write_end)
        os.close(read_end)  # nobody will read: the first write fails (EPIPE)
        assert process.stderr is not None
        stderr = process.stderr.read()
        code = process.wait(timeout=120)
    assert stderr == b""  # no "error: [Errno 32] Broken pipe", no traceback
    assert code == EXIT_BROKEN_PIPE


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, "the command ended before opening its ledger"
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    time.sleep(0.5)  # let it finish opening the ledger and start reading stdin


def test_ctrl_c_exits_130_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with subprocess.Popen(
        _python_m("pledgeledger", "--db", str(db), "import", "-"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    ) as process:
        assert process.stdin is not None
        assert process.stderr is not None
        process.stdin.write(_lines(EVENTS).encode())
        process.stdin.flush()  # and stdin stays open: the import waits for more
        _wait_for(db, process)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        stderr = process.stderr.read()
    assert code == EXIT_INTERRUPTED
    assert stderr == b"interrupted\n"
    with Ledger.open(str(db)) as ledger:
        assert ledger.head == 0


def test_interrupt_in_the_middle_of_an_import_rolls_it_back(
    db: str, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    @contextmanager
    def interrupting(label: str) -> Iterator[Progress]:
        def update(done: int, total: int) -> None:
            if done == 3:  # two events checked and folded in, the transaction open
                raise KeyboardInterrupt

        yield update

    monkeypatch.setattr(pledgeledger.cli.commands, "_progress", interrupting)
    result = runner.invoke(cli, ["--db", db, "import", "-"], input=_lines(EVENTS))
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.stderr == "interrupted\n"
    with Ledger.open(db) as ledger:
        assert ledger.head == 0


# -- python -m ---------------------------------------------------------------------------------


def _entry_points() -> list[str]:
    """Every module of the package that `python -m` can run."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if path.name == "__main__.py":
            found.append(".".join(parts[:-1]))
        elif 'if __name__ == "__main__"' in path.read_text(encoding="utf-8"):
            found.append(".".join(parts))
    return found


def test_the_entry_points_are_found() -> None:
    assert {"pledgeledger", "pledgeledger.synthetic"} <= set(_entry_points())


@pytest.mark.parametrize("module", _entry_points())
def test_every_python_m_entry_point_has_a_working_help(module: str) -> None:
    result = subprocess.run(
        _python_m(module, "--help"), capture_output=True, text=True, check=False, env=_env()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.lower().startswith("usage: python -m " + module)
    assert result.stderr == ""


def test_python_m_pledgeledger_runs_the_command_line(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    imported = subprocess.run(
        _python_m("pledgeledger", "import", "-", "--db", db),
        input=_lines(EVENTS),
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == ""
    assert imported.stderr == "recorded 4 event(s), skipped 0 already recorded\n"
    refused = subprocess.run(
        _python_m("pledgeledger", "--db", db, "import", "-"),
        input=_lines([tranche("t2", "p", "41", on="2025-01-10")]),
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert refused.returncode == 1
    assert len(refused.stderr.splitlines()) == 1


def test_synthetic_writes_to_a_file_or_stdout(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    made = subprocess.run(
        _python_m("pledgeledger.synthetic", "20", str(path), "3"), check=False, env=_env()
    )
    assert made.returncode == 0
    piped = subprocess.run(
        _python_m("pledgeledger.synthetic", "20", "-", "3"),
        capture_output=True,
        check=False,
        env=_env(),
    )
    assert piped.returncode == 0
    assert piped.stdout == path.read_bytes()
    assert len(piped.stdout.splitlines()) == 20
    wrong = subprocess.run(
        _python_m("pledgeledger.synthetic", "many"),
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert wrong.returncode == 2
    assert "usage:" in wrong.stderr


# -- progress ---------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_eta_until_the_rate_means_something() -> None:
    # The replay that promised "3d 13:07:35": its first report, one event after five seconds
    # spent folding the first page, of 61,000.
    assert eta(1, 61_000, 5.0) is None
    assert eta(10, 1000, 1.0) is None  # too early
    assert eta(0, 1000, 10.0) is None
    assert eta(1000, 1000, 10.0) is None  # nothing left
    assert eta(5, 0, 10.0) is None  # no total
    assert eta(20_000, 61_000, 5.0) == pytest.approx(10.25)
    assert clock(10.25) == "0:00:10"
    assert clock(3 * 86400 + 61) == "72:01:01"


def test_progress_line_shows_count_percentage_and_eta() -> None:
    assert render("Replaying", 0, 0, 0.4, 80) == "Replaying  0:00:00  starting"
    line = render("Replaying", 20_000, 61_000, 5.0, 80)
    assert line.startswith("Replaying  [")
    assert line.endswith("20,000/61,000   32%  0:00:05  ETA 0:00:10")
    assert len(line) <= 80
    early = render("Replaying", 1, 61_000, 5.0, 80)
    assert "ETA" not in early
    working = render("Replaying", 10, 10, 7.0, 80)
    assert working.endswith("100%  0:00:07  finishing")
    assert render("Replaying", 10, 10, 7.0, 80, final=True).endswith("100%  0:00:07")
    assert render("Importing", 5, 10, 1.0, 20) == "Importing  5/10   50%  0:00:01"


def test_progress_is_drawn_on_a_terminal_only() -> None:
    piped = io.StringIO()
    with progress_line("Replaying", piped) as update:
        for done in range(1, 101):
            update(done, 100)
    assert piped.getvalue() == ""
    terminal = _Terminal()
    with progress_line("Replaying", terminal) as update:
        for done in range(1, 101):
            update(done, 100)
        time.sleep(0.3)  # a redraw or two by the ticker
    drawn = terminal.getvalue()
    assert drawn.startswith("\r")
    assert drawn.endswith("100/100  100%  0:00:00\n")  # left in place, whole, then ended
    assert drawn.count("\n") == 1


def test_progress_line_ends_its_line_when_the_work_fails() -> None:
    terminal = _Terminal()

    def interrupted() -> None:
        with progress_line("Checking", terminal) as update:
            update(3, 10)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert terminal.getvalue().endswith("3/10   30%  0:00:00\n")


def test_no_progress_on_stderr_when_it_is_not_a_terminal(big: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    dump = subprocess.run(
        _python_m("pledgeledger", "--db", big, "log", "--format", "jsonl"),
        capture_output=True,
        check=True,
        env=_env(),
    ).stdout
    result = subprocess.run(
        _python_m("pledgeledger", "--db", str(copy), "import", "-"),
        input=dump,
        capture_output=True,
        check=False,
        env=_env(),
    )
    assert result.returncode == 0
    assert result.stderr == b"recorded 3000 event(s), skipped 0 already recorded\n"


# -- --known-at: times that round-trip from log ------------------------------------------------

FIRST = datetime(2025, 10, 28, 12, 0, 5, 781109, tzinfo=UTC)
"""When the first batch is recorded: `log` prints it as 12:00:05."""
SECOND = datetime(2025, 10, 28, 12, 0, 7, 250000, tzinfo=UTC)


@pytest.fixture
def two_batches(db: str) -> str:
    clock = FakeClock(FIRST)
    with Ledger.open(db, clock=clock) as ledger:
        ledger.record(*EVENTS[:2])
        clock.now = SECOND
        ledger.record(*EVENTS[2:])
    return db


def _pledged(runner: CliRunner, db: str, known_at: str) -> list[str]:
    result = runner.invoke(
        cli, ["--db", db, "totals", "--by", "agreement", "--format", "json", "--known-at", known_at]
    )
    assert result.exit_code == 0, result.output
    return [f"{row['pledged']}/{row['allocated']}" for row in json.loads(result.stdout)]


def test_a_time_printed_by_log_includes_its_batch(two_batches: str, runner: CliRunner) -> None:
    log = runner.invoke(cli, ["--db", two_batches, "log"])
    assert log.exit_code == 0
    printed = re.findall(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", log.stdout)
    assert printed == ["2025-10-28T12:00:05+00:00"] * 2 + ["2025-10-28T12:00:07+00:00"] * 2
    assert _pledged(runner, two_batches, printed[0]) == ["100/0"]  # the first batch, whole
    assert _pledged(runner, two_batches, printed[-1]) == ["100/60"]
    # The API keeps the exact time: at 12:00:05.000000 the first batch was not yet recorded.
    with Ledger.open(two_batches) as ledger:
        exact = datetime.fromisoformat(printed[0])
        assert ledger.totals(Query(known_at=exact)) == []
        assert ledger.totals(Query(known_at=FIRST))
        assert next(e.recorded_at for e in ledger.events()) == FIRST


@pytest.mark.parametrize(
    ("known_at", "pledged"),
    [
        ("2025-10-28T12:00:04", []),
        ("2025-10-28T12:00:05", ["100/0"]),
        ("2025-10-28T12:00:05Z", ["100/0"]),
        ("2025-10-28T21:00:05+09:00", ["100/0"]),  # the same second, elsewhere
        ("2025-10-28 12:00:06", ["100/0"]),
        ("20251028T120005Z", ["100/0"]),  # the basic form
        ("2025-10-28T12:00:05.781108+00:00", []),  # fractional seconds are exact
        ("2025-10-28T12:00:05.781109+00:00", ["100/0"]),
        ("2025-10-28T12:00", ["100/60"]),  # the end of that minute
        ("2025-10-28T11:59", []),
        ("2025-10-28T12", ["100/60"]),  # the end of that hour
        ("2025-10-28", ["100/60"]),  # the end of that day, UTC
        ("2025-10-27", []),
    ],
)
def test_known_at_means_the_end_of_the_span_it_names(
    two_batches: str, runner: CliRunner, known_at: str, pledged: list[str]
) -> None:
    assert _pledged(runner, two_batches, known_at) == pledged


def test_known_at_end_by_precision() -> None:
    def end(text: str) -> datetime:
        return known_at_end(text, datetime.fromisoformat(text))

    second = timedelta(seconds=1) - timedelta(microseconds=1)
    assert end("2025-10-28T12:00:05") == datetime(2025, 10, 28, 12, 0, 5) + second
    assert end("2025-10-28T12:00:05+09:00").utcoffset() == timedelta(hours=9)
    assert end("2025-10-28T12:00") == datetime(2025, 10, 28, 12, 0, 59, 999999)
    assert end("2025-10-28") == datetime(2025, 10, 28, 23, 59, 59, 999999)
    assert end("2025-10-28T12:00:05.5") == datetime(2025, 10, 28, 12, 0, 5, 500000)
    assert end("2025-10-28T12:00:05,5") == datetime(2025, 10, 28, 12, 0, 5, 500000)


def test_known_at_help_says_what_a_time_to_the_second_means(runner: CliRunner) -> None:
    for command in ("totals", "timeline", "export"):
        text = " ".join(runner.invoke(cli, [command, "--help"]).stdout.split())
        assert "means the end of that second" in text, command


def test_known_at_at_the_end_of_the_calendar(two_batches: str, runner: CliRunner) -> None:
    assert _pledged(runner, two_batches, "9999-12-31") == ["100/60"]
    late = runner.invoke(
        cli, ["--db", two_batches, "totals", "--known-at", "9999-12-31T23:00-05:00"]
    )
    assert late.exit_code == 2
    assert "out of range once taken to UTC" in late.stderr
