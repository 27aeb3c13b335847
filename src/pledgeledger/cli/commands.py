"""The ``pledgeledger`` command. Holds no domain logic: every command is a call on :class:`Ledger`.

Other tools script against this (DESIGN.md, "The CLI contract"): exit 0 on success, 1 when an
event is refused or a check fails, 2 when the command line does not parse. Errors are one line
on stderr; ``--debug`` shows the traceback instead. Data goes to stdout and nothing else does:
messages about what was done ("recorded ...", "wrote ...") go to stderr, as do progress lines,
which are drawn only on a terminal. A reader that goes away early (``| head``) ends the command
quietly with 141, as it would any Unix tool; Ctrl-C ends it with 130 and one line.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import attrs
import click

from pledgeledger.cli.progress import progress_line
from pledgeledger.cli.reference import format_json, format_text, rules_json, rules_text
from pledgeledger.cli.render import (
    conflicts_table,
    log_table,
    overdue_table,
    render_letter,
    render_tree,
    timeline_json,
    timeline_table,
    totals_json,
    totals_table,
)
from pledgeledger.domain.periods import EVERY
from pledgeledger.domain.progress import Progress
from pledgeledger.domain.query import Query, QueryError
from pledgeledger.domain.totals import GROUPS, Group
from pledgeledger.errors import ImportFailed, LedgerError, StaleView
from pledgeledger.formats.jsonl import dump_jsonl
from pledgeledger.view import LedgerView, LetterView, NodeView

if TYPE_CHECKING:
    from pledgeledger.ledger import Ledger

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_INTERRUPTED", "STDIN", "cli", "known_at_end", "main"]

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT): 128 + the signal's number, as shells report it."""
EXIT_BROKEN_PIPE = 141
"""Exit code when the reader of stdout went away (128 + SIGPIPE, as for other Unix tools)."""
STDIN = "-"
"""The file name that means standard input (``import -``)."""
STDIN_NAME = "<stdin>"
"""How errors name standard input."""

P = ParamSpec("P")
R = TypeVar("R")
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class _Date(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO date such as 2025-10-28", param, ctx)


class _Instant(click.ParamType):  # type: ignore[type-arg]  # generic only in newer click stubs
    name = "DATETIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 date-time such as 2025-10-28T12:00:00+09:00",
                param,
                ctx,
            )
        end = known_at_end(value, parsed)  # no offset means UTC: the Query says so
        try:
            # Compared in UTC, as naive values are: 9999-12-31T23:00-05:00 is past its end.
            end.replace(tzinfo=end.tzinfo or UTC).astimezone(UTC)
        except OverflowError:
            self.fail(f"{value!r} is out of range once taken to UTC", param, ctx)
        return end


_TIME_OF_DAY = re.compile(r"[Tt ](?P<clock>[0-9:]+)(?P<fraction>[.,][0-9]+)?")
_PRECISION = {2: timedelta(hours=1), 4: timedelta(minutes=1), 6: timedelta(seconds=1)}
"""A time of day's digits (colons left out) and the span they name."""


def known_at_end(text: str, parsed: datetime) -> datetime:
    """The last microsecond of the span that ``text`` (parsed as ``parsed``) names.

    ``--known-at`` counts what was recorded at or before a moment, and the ledger records to
    the microsecond while ``log`` prints times to the second. So a value is taken as the whole
    span it names: ``12:00:05`` is "by the end of that second" and includes a batch recorded at
    12:00:05.781109, which ``log`` prints as 12:00:05; ``12:00`` is the end of that minute,
    ``2025-10-28`` the end of that day (UTC unless an offset is given). A value with fractional
    seconds is exact. The Python API takes the datetime it is given as it is.
    """
    found = _TIME_OF_DAY.search(text)
    if found is None:
        span = timedelta(days=1)  # a date alone
    elif found.group("fraction"):
        return parsed
    else:
        named = _PRECISION.get(len(found.group("clock").replace(":", "")))
        if named is None:  # pragma: no cover  # fromisoformat refused every other form
            return parsed
        span = named
    return parsed + (span - timedelta(microseconds=1))  # in one step: 9999-12-31 fits


class _State:
    """The global options (``--db``, ``--debug``), given before or after the command name."""

    def __init__(self, db: str | None, debug: bool) -> None:
        self.db = db
        self.debug = debug

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        # Imported here, not at the top: `pledgeledger --help` and usage errors then never
        # load eventsourcing, cattrs or the read models (CLI start-up, docs/performance.md).
        from pledgeledger.ledger import Ledger

        with Ledger.open(self.db) as ledger:
            yield ledger


def _friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn ledger errors into one line on stderr and exit 1, unless ``--debug``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        ctx = click.get_current_context()
        debug = isinstance(ctx.obj, _State) and ctx.obj.debug
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (LedgerError, OSError) as exc:
            if debug or (isinstance(exc, OSError) and exc.errno == errno.EPIPE):
                raise  # a closed pipe is no error to report: the group ends quietly
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except Exception as exc:  # promise: no traceback without --debug
            if debug:
                raise
            click.echo(
                f"error: unexpected {type(exc).__name__}: {exc} (rerun with --debug for details)",
                err=True,
            )
            ctx.exit(1)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


# -- the query options: each command words its help, one helper turns them into a Query --

_QUERY_FIELDS = tuple(field.name for field in attrs.fields(Query))


def _by_option(text: str, *, default: Group | None = "sector") -> Decorator:
    return click.option(
        "--by",
        type=click.Choice(GROUPS),
        default=default,
        show_default=default is not None,
        help=text,
    )


def _every_option(text: str) -> Decorator:
    return click.option(
        "--every", type=click.Choice(EVERY), default="month", show_default=True, help=text
    )


def _as_of_option(text: str) -> Decorator:
    return click.option("--as-of", type=_Date(), help=text)


_KNOWN_AT_FORMS = (
    " (ISO 8601; no offset means UTC). A time to the second, as `log` prints it, means the end "
    "of that second; to the minute, or a date alone, the end of that minute or day."
)


def _known_at_option(text: str) -> Decorator:
    return click.option("--known-at", type=_Instant(), help=text + _KNOWN_AT_FORMS)


_depth_option = click.option(
    "--depth",
    type=click.IntRange(min=1),
    help="Roll sector paths up to N segments (energy/nuclear -> energy with 1).",
)
_from_option = click.option(
    "--from",
    "start",
    type=_Date(),
    help="Leave out points before DATE (earlier events still count in the totals).",
)


def _query_options(
    *options: Decorator, usage: Mapping[str, str] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Add the query ``options`` (shown in the order given) to a command, and hand it one
    ``query`` argument made of their values instead of the values themselves.

    An option left out (``None``) takes the :class:`Query` default. A query the
    :class:`Query` refuses is a usage error (exit 2), worded as ``QueryError.usage`` or, by the
    field at fault, as ``usage`` says for this command.
    """

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(command)
        def with_query(*args: Any, **kwargs: Any) -> R:
            given = {name: kwargs.pop(name) for name in _QUERY_FIELDS if name in kwargs}
            try:
                query = Query(**{name: value for name, value in given.items() if value is not None})
            except QueryError as exc:
                raise click.UsageError((usage or {}).get(exc.field, exc.usage)) from None
            return command(*args, query=query, **kwargs)

        decorated: Callable[..., R] = with_query
        for option in reversed(options):  # click lists the last one applied first
            decorated = option(decorated)
        return decorated

    return decorate


_format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people; json and csv for programs (figures as decimal strings).",
)


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """A progress line on stderr, only when a person is watching (see :mod:`.progress`)."""
    with progress_line(label, sys.stderr) as update:
        yield update


@contextmanager
def _plugin_warnings() -> Iterator[None]:
    """Show a skipped plugin's warning as one ``warning:`` line on stderr, not Python's
    two-line form, and let every other warning through as it was."""
    from pledgeledger.plugins.manager import PluginWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, PluginWarning):
                    click.echo(f"warning: {w.message}", err=True)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _global_option(
    name: str, state_field: str
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """The callback of ``name`` given after the command name: it sets ``state_field`` of the
    group's :class:`_State`, and refuses a value other than one given before the name."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        state = ctx.find_object(_State)
        if state is None or value is None or value is False:
            return value
        before = getattr(state, state_field)
        if before not in (None, False, value):
            raise click.BadParameter(
                f"{value!r} differs from the {name} given before the command name ({before!r})",
                ctx=ctx,
                param=param,
            )
        setattr(state, state_field, value)
        return value

    return callback


def _add_global_options(command: click.Command) -> None:
    """Let ``command`` take the group's ``--db`` and ``--debug`` after its name too
    (``pledgeledger totals --db a.db``), unless it has options of those names itself."""
    taken = {opt for param in command.params for opt in param.opts}
    if "--db" not in taken:
        command.params.append(
            click.Option(
                ["--db"],
                metavar="PATH_OR_URL",
                expose_value=False,
                callback=_global_option("--db", "db"),
                help="The ledger, as --db before the command name.",
            )
        )
    if "--debug" not in taken:
        command.params.append(
            click.Option(
                ["--debug"],
                is_flag=True,
                expose_value=False,
                callback=_global_option("--debug", "debug"),
                help="Full tracebacks, as --debug before the command name.",
            )
        )


def _discard_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null: what is still buffered is then dropped
    quietly when the interpreter flushes it on exit, instead of raising a second time."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (CliRunner, a wrapper)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


class _PluginGroup(click.Group):
    """Built-in commands resolve without loading any plugin (fast, and immune to broken ones);
    plugin commands are added on first need: ``--help``, or a name that is not built in.

    Every command, a plugin's too, also takes the global options after its name, and every
    one ends the same way on a closed pipe (141, quietly) or Ctrl-C (130, one line).
    """

    _plugins_added = False

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_global_options(cmd)
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if sys.stderr.isatty():
                click.echo(err=True)  # end the line the terminal's ^C is on
            click.echo("interrupted", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            _discard_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from pledgeledger.plugins.manager import add_commands

        with _plugin_warnings():
            add_commands(self, builtin=tuple(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


@click.group(
    cls=_PluginGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Reference, printed by the command itself:
  pledgeledger rules     the rules a refused event names (the invariants and the rest)
  pledgeledger format    every event type of the import format, with its fields
""",
)
@click.option(
    "--db",
    metavar="PATH_OR_URL",
    help="Ledger to use: a SQLite file path, or a postgresql:// URL. "
    "Default: $PLEDGELEDGER_DB, else ./pledgeledger.db.",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="pledgeledger")
@click.pass_context
def cli(ctx: click.Context, db: str | None, debug: bool) -> None:
    """Keep an event-sourced ledger of public commitments: pledges, the tranches carved out of
    them, letters of intent (LOIs) and deliveries.

    Every announcement is appended as an immutable event; corrections are new events. Totals are
    rebuilt from the log, as of any world date and as known at any recorded time.

    \b
    Try the worked example:
      pledgeledger --db demo.db import examples/us_japan_2025/events.jsonl
      pledgeledger --db demo.db totals --by sector --depth 1
      pledgeledger --db demo.db show jp-us-550b

    --db and --debug may also be given after the command name (pledgeledger totals --db a.db).
    Data goes to stdout; messages ("recorded ...", "wrote ...") and errors go to stderr.

    Exit codes: 0 ok, 1 refused event or failed check, 2 bad command line; 130 after Ctrl-C,
    141 when the reader of stdout went away (| head).
    """
    ctx.obj = _State(db, debug)


@contextmanager
def _stdin_as_file(files: tuple[str, ...]) -> Iterator[list[str]]:
    """``files`` with ``-`` replaced by a file holding standard input, whole.

    Standard input is read to the end first and spooled to a temporary file: an import is
    one transaction, which starts over when another writer wins the race, so its lines must
    be readable more than once. Errors name the spooled lines ``<stdin>``.
    """
    if STDIN not in files:
        yield list(files)
        return
    source = sys.stdin.buffer
    if source.isatty():
        click.echo("reading JSON Lines from standard input; end with Ctrl-D", err=True)
    with tempfile.TemporaryDirectory(prefix="pledgeledger-") as folder:
        spool = os.path.join(folder, "stdin.jsonl")
        with open(spool, "wb") as handle:
            shutil.copyfileobj(source, handle)
        try:
            yield [spool if name == STDIN else name for name in files]
        except ImportFailed as exc:
            if exc.path != spool:
                raise
            raise ImportFailed(STDIN_NAME, exc.line, exc.error) from None


@cli.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_obj
@_friendly
def import_(state: _State, files: tuple[str, ...]) -> None:
    """Append the events in JSON Lines FILES (- for standard input), all or nothing.

    Each line is one event object with a "type" (agreement, pledge, tranche, loi, delivery,
    amendment, withdrawal, lapse, report); `pledgeledger format` lists every type's fields.
    Lines already recorded with the same content are skipped, so re-running an import is safe.
    If any line of any file is malformed or refused, nothing is written and the error names the
    file, line and field; a refusal names its rule (`pledgeledger rules`).

    \b
    Examples:
      pledgeledger import events.jsonl more.jsonl
      pledgeledger log --format jsonl --db old.db | pledgeledger import --db new.db -
    """
    if files.count(STDIN) > 1:  # checked before the ledger is opened, let alone created
        raise click.UsageError("- (standard input) may be given only once")
    with (
        state.ledger() as ledger,
        _stdin_as_file(files) as paths,
        _progress("Checking events") as progress,
    ):
        result = ledger.import_files(paths, progress=progress)
    click.echo(
        f"recorded {len(result.recorded)} event(s), skipped {len(result.skipped)} already recorded",
        err=True,
    )


@cli.command()
@_query_options(
    _by_option(
        "Group rows by this key. LOIs group under their party (pledger) and counterparty "
        "(recipient)."
    ),
    _depth_option,
    _as_of_option("Count events dated (world date) on or before DATE."),
    _known_at_option("Count events recorded at or before DATETIME"),
)
@_format_option
@click.pass_obj
@_friendly
def totals(state: _State, query: Query, fmt: str) -> None:
    """Pledged, allocated, unallocated, delivered and intended per group and unit.

    pledged = allocated + unallocated in every row; units are never added together. By sector,
    each amount counts once, under the most specific sector known. Each figure has its range
    beside it ("73B (0–73B)": an "up to" figure; "10B (10B–)": a floor, unbounded above), and
    the count of undisclosed figures and the part tied toward other records are shown when
    some row has them (--format json|csv: the *_low, *_high, undisclosed and *_toward keys).
    """
    with state.ledger() as ledger:
        rows = ledger.totals(query)
    if fmt == "json":
        click.echo(totals_json(rows))
    elif fmt == "csv":
        from pledgeledger.plugins.cells import (
            totals_csv,  # the csv exporter's writer, imported when needed
        )

        click.echo(totals_csv(rows, query.by), nl=False)
    else:
        click.echo(totals_table(rows, query.by))


@cli.command()
@_query_options(
    _by_option("One line per key of this group (and unit) in every period."),
    _every_option(
        "Length of a period; a point is dated the period's last day (weeks end on Sunday)."
    ),
    _depth_option,
    _from_option,
    _as_of_option("End the timeline at DATE (world date)."),
    _known_at_option("Count only events recorded at or before DATETIME"),
)
@_format_option
@click.pass_obj
@_friendly
def timeline(state: _State, query: Query, fmt: str) -> None:
    """How the totals grew: cumulative pledged, allocated, unallocated, delivered and intended
    per group and unit at the end of every period of world time.

    A line appears once its key has a figure, and stays (a withdrawal shows as a drop). The
    last period's figures equal `pledgeledger totals` with the same options.

    \b
    Examples:
      pledgeledger timeline --by sector --depth 1 --every quarter
      pledgeledger timeline --by agreement --every month --format csv > growth.csv
      pledgeledger timeline --known-at 2025-12-31T00:00:00Z --format json
    """
    with state.ledger() as ledger, closing(ledger.iter_timeline(query)) as points:
        if fmt == "table":
            click.echo(timeline_table(list(points), query.by))
            return
        from pledgeledger.plugins.cells import (
            timeline_csv,  # the csv exporter's writer, imported when needed
        )

        pieces = timeline_json(points) if fmt == "json" else timeline_csv(points, query.by)
        for piece in pieces:
            click.echo(piece, nl=False)


@cli.command()
@click.argument("event_id", metavar="ID")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.pass_obj
@_friendly
def show(state: _State, event_id: str, fmt: str) -> None:
    """Show what the ledger holds under ID, whatever kind of event it names.

    \b
    pledge or tranche:    its tree (a tranche's from the tranche down): figures
                          with bounds and ranges, headroom, deliveries, corrections
                          (80B → up to 73B), reports and their spread, what is
                          tied toward it, conversions, deadlines and sources
    delivery, report:     the tree of the pledge it belongs to
    correction:           what it corrects (amendment, withdrawal or lapse of a
                          pledge, tranche or delivery: the pledge's tree; of a
                          letter: the letter; of an agreement: the agreement)
    letter of intent:     its figure, parties, agreement, corrections, reports,
                          conversion and sources
    agreement:            its record (title, parties, signed on, sources) as JSON

    --format json prints the same as JSON, for any kind of ID.
    """
    with state.ledger() as ledger:
        view = ledger.view(event_id)
    if fmt == "json":
        from pledgeledger.formats.converter import converter

        click.echo(json.dumps(converter.unstructure(view), indent=2, ensure_ascii=False))
    elif isinstance(view, NodeView):
        click.echo(render_tree(view))
    elif isinstance(view, LetterView):
        click.echo(render_letter(view))
    else:
        from pledgeledger.formats.converter import unstructure_event

        click.echo(json.dumps(unstructure_event(view), indent=2, ensure_ascii=False))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: an array of objects with id, unit, counted (amount, bound, low, high) and "
    "reported (a list of amount, bound, outlet, reported_on).",
)
@click.pass_obj
@_friendly
def conflicts(state: _State, fmt: str) -> None:
    """Records whose reported figures disagree, side by side: the figure the totals count now,
    and each figure a source gave (the record's own, its amendments', its reports'), with the
    outlet and when it was reported.

    Figures are compared as amount, bound and range. Listing conflicts is not a failure: the
    exit code is 0 whether there are any or not.
    """
    with state.ledger() as ledger:
        found = ledger.conflicts()
    if fmt == "json":
        click.echo(json.dumps([c.as_dict() for c in found], indent=2, ensure_ascii=False))
    else:
        click.echo(conflicts_table(found))


@cli.command()
@_as_of_option("Deadlines before DATE, and what was delivered by then. Default: today (UTC).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: an array of objects with id, type, due_by, amount, unit, bound, delivered and "
    "outstanding.",
)
@click.pass_obj
@_friendly
def overdue(state: _State, as_of: date | None, fmt: str) -> None:
    """Records past their deadline (due_by) and still counted: pledges and tranches with what
    is still undelivered, letters of intent with what is still unconverted.

    A record fully delivered by then, withdrawn, lapsed or converted is not overdue.
    """
    with state.ledger() as ledger:
        found = ledger.overdue(as_of)
    if fmt == "json":
        click.echo(json.dumps([o.as_dict() for o in found], indent=2, ensure_ascii=False))
    else:
        click.echo(overdue_table(found))


@cli.command()
@click.option("--since", type=click.IntRange(min=0), default=0, help="Start after position N.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
    help="jsonl prints the events in the import format, so the output re-imports.",
)
@click.pass_obj
@_friendly
def log(state: _State, since: int, fmt: str) -> None:
    """The recorded events, in the order they were recorded."""
    with state.ledger() as ledger:
        if fmt == "jsonl":
            for line in dump_jsonl(logged.event for logged in ledger.events(since)):
                click.echo(line)
        else:
            click.echo(log_table(ledger.events(since)))


@cli.command()
@click.option(
    "--verify",
    is_flag=True,
    help="Also re-check every event against the invariants and compare the rebuilt state "
    "with the stored one. Exit 1 on any difference.",
)
@click.pass_obj
@_friendly
def replay(state: _State, verify: bool) -> None:
    """Rebuild every read model from the log (drop and refill, then swap in), with progress and
    an events/s figure.

    With --verify, also re-check every event against the invariants on aggregates rebuilt from
    nothing, compare them with the stored ones, and compare the rebuilt read models (totals,
    daily postings, record index) with the ones in place; every difference is listed.
    """
    with state.ledger() as ledger, _progress("Replaying") as progress:
        report = ledger.replay(verify=verify, progress=progress)
    click.echo(
        f"replayed {report.events} event(s) in {report.seconds:.3f} s "
        f"({report.events_per_second:,.0f} events/s)",
        err=True,
    )
    if verify:
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        if report.problems:
            raise LedgerError(f"verify failed: {len(report.problems)} problem(s)")
        click.echo(
            "verified: every event passes the invariants; rebuilt aggregates and read models "
            "equal the stored ones",
            err=True,
        )


def _extra_options(values: tuple[str, ...]) -> dict[str, str]:
    extra = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="'-O'")
        extra[key.strip()] = val
    return extra


EXPORT_ATTEMPTS = 5
"""Views taken for one export before giving up (each is lost only to a replay finishing)."""


@cli.command()
@click.option(
    "-f",
    "--format",
    "fmt",
    metavar="NAME",
    help="Exporter to use; `pledgeledger plugins` lists them. Default: the one whose file suffix "
    "OUTPUT ends with.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH",
    help="File to write, whole or not at all (a temporary file is renamed into place); "
    "- for stdout.",
)
@click.option(
    "--what",
    metavar="CONTENT",
    help="What to export: totals, events, timeline or all, as the format offers "
    "(`pledgeledger plugins` lists them). Default: the format's first.",
)
@_query_options(
    _by_option(
        "Group totals by this key. Default: sector (csv, chart); every grouping (json).",
        default=None,
    ),
    _depth_option,
    _as_of_option("Export events dated (world date) on or before DATE."),
    _known_at_option("Export events recorded at or before DATETIME"),
    _every_option("Period of a timeline (--what timeline)."),
    usage={"depth": "--depth applies only to sector totals"},  # --by may be left out here
)
@click.option(
    "-O",
    "--option",
    "extra",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the exporter itself (see its docs); may be repeated.",
)
@click.pass_obj
@_friendly
def export(
    state: _State,
    fmt: str | None,
    output: str,
    what: str | None,
    query: Query,
    extra: tuple[str, ...],
) -> None:
    """Export the ledger with an exporter plugin: csv, json, jsonl and chart are built in.

    \b
      pledgeledger export -o totals.csv --by agreement
      pledgeledger export -o events.csv --what events
      pledgeledger export -o ledger.json
      pledgeledger export -o backup.jsonl        # re-imports with `import`
      pledgeledger export -o sectors.png --depth 1
      pledgeledger export -o timeline.svg --what timeline --every quarter
      pledgeledger export --format csv -o - | head

    Every exporter sees the same read-only snapshot: the events up to the log's current end,
    narrowed by --as-of and --known-at, and the totals computed from them (events recorded
    meanwhile are left out of all of it).
    """
    from pledgeledger.plugins.exporter import ExportOptions, export_to, plan
    from pledgeledger.plugins.manager import UnknownExporter, exporter_for, get_exporter

    # No --by leaves the grouping to the exporter (json writes every one), which the query
    # (grouped by sector then) cannot say: the option's own value tells.
    by: Group | None = click.get_current_context().params["by"]
    to_stdout = output == "-"
    with _plugin_warnings():
        try:
            if fmt is not None:
                exporter = get_exporter(fmt)
            elif to_stdout:
                raise click.UsageError("give --format when writing to stdout (-o -)")
            else:
                exporter = exporter_for(output)
        except UnknownExporter as exc:
            raise click.UsageError(str(exc)) from None
    options = ExportOptions(
        by=by, depth=query.depth, what=what, every=query.every, extra=_extra_options(extra)
    )
    try:
        options = plan(exporter, None if to_stdout else output, options)
    except LedgerError as exc:
        raise click.UsageError(str(exc)) from None
    if to_stdout and exporter.binary and sys.stdout.isatty():
        raise click.UsageError(
            f"{exporter.name} output is binary: give --output FILE, or redirect stdout"
        )
    with state.ledger() as ledger:
        for attempt in range(EXPORT_ATTEMPTS):
            # A replay finishing mid-export (while events are recorded) leaves the view
            # nothing to bound its totals by: StaleView, nothing written yet, so start over.
            view = LedgerView.of(ledger, as_of=query.as_of, known_at=query.known_at)
            try:
                if to_stdout:
                    export_to(exporter, view, sys.stdout.buffer, options)
                    return
                export_to(exporter, view, output, options)
            except StaleView:
                if attempt == EXPORT_ATTEMPTS - 1:
                    raise
                continue
            break
    click.echo(
        f"wrote {os.fspath(output)} ({exporter.name}, {options.what}, "
        f"{exporter.media_type_for(options.suffix)}, log position {view.head})",
        err=True,
    )


@cli.command("plugins")
@_friendly
def plugins_() -> None:
    """The installed plugins as JSON: name, version, hooks and exporters, built-ins included.

    A plugin that fails to load is left out with a warning on stderr. Set
    PLEDGELEDGER_LOAD_PLUGINS=name,... to load only some (empty: none), and
    PLEDGELEDGER_RAISE_PLUGIN_ERRORS=1 to see a failing plugin's traceback.
    """
    from pledgeledger.plugins.manager import plugin_infos

    with _plugin_warnings():
        infos = plugin_infos()
    from pledgeledger.formats.converter import converter

    click.echo(json.dumps(converter.unstructure(infos), indent=2, ensure_ascii=False))


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: a list of objects with key, invariant (a number or null), breach and rule.",
)
def rules(fmt: str) -> None:
    """The rules every event is checked against when it is recorded.

    A refused event names its rule in words, with its invariant's number where it has one:
    "refused (invariant 2: tranches exceed their parent, docs/semantics.md#invariants)". This
    list is printed from the table the checks use, so it is true of the installed version.
    """
    if fmt == "json":
        click.echo(json.dumps(rules_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(rules_text())


@cli.command("format")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: each type with its fields (name, required, value).",
)
def format_(fmt: str) -> None:
    """The import format: every event type with its required and optional fields.

    Printed from the record classes the importer builds, so it is true of the installed
    version. `pledgeledger import` reads it; `pledgeledger log --format jsonl` writes it.
    """
    if fmt == "json":
        click.echo(json.dumps(format_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_text())


def main(prog_name: str | None = "pledgeledger") -> None:
    """Console-script entry point (``python -m pledgeledger`` passes ``None``, so that usage
    lines name it as it was run)."""
    cli(prog_name=prog_name)
