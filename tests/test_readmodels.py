"""The persisted read models: incremental = rebuilt, crash-safe, exact, bitemporal.

Properties (Hypothesis, on SQLite and, with ``PLEDGELEDGER_TEST_POSTGRES``, PostgreSQL):

* read models built incrementally, in random batch sizes, with simulated crashes between
  batches (a writer that appended events but never folded them; a catch-up that dies half-way;
  a write transaction that dies before its commit), equal read models rebuilt from scratch, and
  both equal the reference :class:`~pledgeledger.projections.Projector`;
* ``as_of``/``known_at`` answers equal a fold of only the qualifying events.

The ledgers are :mod:`pledgeledger.synthetic` ones (valid by construction, with late news and
cent amounts), drawn by seed and size.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FakeClock, Record, loi, pledge, tranche
from pledgeledger import GROUPS, Event, Ledger, structure_event
from pledgeledger.projections.folder import Folder
from pledgeledger.projections.readmodels import ReadModels
from pledgeledger.store.aggregates import (
    ROOT_AGGREGATES,
    LedgerAggregate,
    LetterAggregate,
    root_id,
)
from pledgeledger.store.application import LedgerApplication, persistence_env
from pledgeledger.store.database import Database
from pledgeledger.store.reading import Log
from pledgeledger.synthetic import generate, write_jsonl
from reference import Posting, Projector, sum_postings

POSTGRES_DSN = os.environ.get("PLEDGELEDGER_TEST_POSTGRES", "")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_DSN, reason="PLEDGELEDGER_TEST_POSTGRES is not set"),
        ],
    ),
]
PROPERTY = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@contextmanager
def fresh_target(backend: str) -> Iterator[str]:
    """A new empty ledger location per Hypothesis example (fixtures last a whole test)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield str(Path(folder) / "ledger.db")
        return
    import psycopg

    schema = f"rm_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        separator = "&" if "?" in POSTGRES_DSN else "?"
        yield f"{POSTGRES_DSN}{separator}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def reference(ledger: Ledger) -> list[Posting]:
    """The postings of the whole log, by the reference in-memory projector."""
    projector = Projector()
    postings: list[Posting] = []
    for logged in ledger.events():
        postings.extend(projector.apply(logged.event, logged.recorded_at))
    return postings


def fold_of(events: list[tuple[Event, datetime]]) -> list[Posting]:
    projector = Projector()
    postings: list[Posting] = []
    for event, at in events:
        postings.extend(projector.apply(event, at))
    return postings


def all_totals(ledger: Ledger, **kw: Any) -> list[Any]:
    answers: list[Any] = [ledger.totals(group, **kw) for group in GROUPS]
    answers.append(ledger.totals("sector", depth=1, **kw))
    return answers


def expected_totals(postings: list[Posting], **kw: Any) -> list[Any]:
    answers: list[Any] = [sum_postings(postings, group, **kw) for group in GROUPS]
    answers.append(sum_postings(postings, "sector", depth=1, **kw))
    return answers


# -- simulated crashes ---------------------------------------------------------------------


class Crash(Exception):
    """Stands for the process dying at that point."""


@attrs.frozen
class Store:
    """The store and read models under a ledger, opened beside it as another process would.

    What these tests look at (positions, raw tables) is no part of :class:`Ledger`'s API, so
    they open the database a second time through the store's own classes.
    """

    app: LedgerApplication
    db: Database
    models: ReadModels


@contextmanager
def store_at(target: str | Path) -> Iterator[Store]:
    app = LedgerApplication(env=persistence_env(str(target)))
    try:
        db = Database(app.recorder)
        yield Store(app, db, ReadModels(db))
    finally:
        app.close()


def append_without_read_models(
    ledger: Ledger, store: Store, records: list[Record], at: datetime
) -> None:
    """Append events the way a writer that died before folding them would leave the log:
    with eventsourcing's own aggregates and ``Application.save``, read models untouched."""
    app = store.app
    owners = {}
    for logged in ledger.events():
        owners[logged.event.id] = logged.event
    roots: dict[str, str] = {}

    def root_of(record_id: str) -> str:
        if record_id in roots:
            return roots[record_id]
        event = owners[record_id]
        ref = (
            getattr(event, "parent", None)
            or getattr(event, "target", None)
            or getattr(event, "about", None)
        )
        roots[record_id] = record_id if ref is None else root_of(ref)
        return roots[record_id]

    aggregates: dict[str, LedgerAggregate] = {}

    def aggregate_of(root: str) -> LedgerAggregate:
        if root not in aggregates:
            loaded = app.load(root_id(root))
            assert loaded is not None
            aggregates[root] = loaded
        return aggregates[root]

    pending: list[Any] = []
    for record in records:
        event = structure_event(record)
        owners[event.id] = event
        cls = ROOT_AGGREGATES.get(event.type)
        if cls is not None:
            aggregate = cls.begin(event, at)
            aggregates[event.id] = aggregate
        else:
            aggregate = aggregate_of(root_of(event.id))
            aggregate.record(event, at)
        pending.extend(aggregate.collect_events())
        converts = getattr(event, "converts", None)
        if converts is not None:  # the letter's side of a conversion, as the write path adds
            letter = aggregate_of(converts)
            assert isinstance(letter, LetterAggregate)
            letter.record_conversion(event.id, event.world_date, at)
            pending.extend(letter.collect_events())
    app.save(*pending)


@contextmanager
def crashing_reader(after_events: int) -> Iterator[None]:
    """Make the runner die after reading ``after_events`` stored events."""
    original = Log.read
    calls = 0

    def read(self: Log, tx: Any, after: int, **kwargs: Any) -> Iterator[Any]:
        nonlocal calls
        for item in original(self, tx, after, **kwargs):
            calls += 1
            if calls > after_events:
                raise Crash
            yield item

    Log.read = read  # type: ignore[method-assign]  # inject the crash
    try:
        yield
    finally:
        Log.read = original  # type: ignore[method-assign]  # and undo it


@contextmanager
def crashing_flush() -> Iterator[None]:
    """Make the write path die after its last flush, just before the commit."""
    original = Folder.flush

    def flush(self: Folder, position: int | None) -> None:
        original(self, position)
        if position is not None:
            raise Crash

    Folder.flush = flush  # type: ignore[method-assign]  # inject the crash
    try:
        yield
    finally:
        Folder.flush = original  # type: ignore[method-assign]  # and undo it


def position_and_head(store: Store) -> tuple[int, int]:
    with store.db.read() as tx:
        tables = store.models.live(tx)
        assert tables is not None
        return tables.position(tx), store.db.head(tx)


MODES = ["record", "bypass", "crash-catch-up", "crash-write"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[list[Record]], list[str], list[int]]:
    size = draw(st.integers(1, 70))
    events = list(
        generate(
            size,
            draw(st.integers(0, 2**32 - 1)),
            backdate=draw(st.booleans()),
            cents=draw(st.booleans()),
        )
    )
    cuts = sorted(draw(st.sets(st.integers(1, size - 1), max_size=6))) if size > 1 else []
    bounds = [0, *cuts, size]
    batches = [events[a:b] for a, b in itertools.pairwise(bounds)]
    modes = [draw(st.sampled_from(MODES)) for _ in batches]
    crash_after = [draw(st.integers(0, len(batch) - 1)) for batch in batches]
    return batches, modes, crash_after


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(scenario=scenarios())
def test_incremental_read_models_equal_rebuilt_ones(
    backend: str, scenario: tuple[list[list[Record]], list[str], list[int]]
) -> None:
    batches, modes, crash_after = scenario
    clock = FakeClock()
    with (
        fresh_target(backend) as target,
        Ledger.open(target, clock=clock) as ledger,
        store_at(target) as store,
    ):
        for batch, mode, after in zip(batches, modes, crash_after, strict=True):
            if mode == "record":
                ledger.record(*batch)
            elif mode == "bypass":
                append_without_read_models(ledger, store, batch, clock())
            elif mode == "crash-catch-up":
                append_without_read_models(ledger, store, batch, clock())
                before = position_and_head(store)
                with crashing_reader(after), pytest.raises(Crash):
                    ledger.totals()
                assert position_and_head(store) == before  # nothing half-applied
            else:
                before = position_and_head(store)
                with crashing_flush(), pytest.raises(Crash):
                    ledger.record(*batch)
                assert position_and_head(store) == before  # no event, no view row
                ledger.record(*batch)
        # The next query folds whatever is behind, exactly once.
        incremental = all_totals(ledger)
        position, head = position_and_head(store)
        assert position == head  # (PostgreSQL's ids have gaps where transactions rolled back)
        assert len(list(ledger.events())) == sum(len(b) for b in batches)
        assert incremental == expected_totals(reference(ledger))
        report = ledger.replay(verify=True)
        assert report.problems == ()  # rebuilt tables equal the live ones, row for row
        assert all_totals(ledger) == incremental


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY
@given(data=st.data())
def test_as_of_and_known_at_equal_a_fold_of_the_qualifying_events(
    backend: str, data: st.DataObject
) -> None:
    size = data.draw(st.integers(1, 80))
    seed = data.draw(st.integers(0, 2**32 - 1))
    events = list(generate(size, seed, backdate=True, cents=data.draw(st.booleans())))
    clock = FakeClock(step=timedelta(hours=1))
    with fresh_target(backend) as target, Ledger.open(target, clock=clock) as ledger:
        cuts = sorted(data.draw(st.sets(st.integers(1, max(size - 1, 1)), max_size=5)))
        for a, b in zip([0, *cuts], [*cuts, size], strict=True):
            if a < b:
                ledger.record(*events[a:b])
        logged = [(e.event, e.recorded_at) for e in ledger.events()]
        days = sorted({e.world_date for e, _ in logged})
        times = sorted({at for _, at in logged})
        for _ in range(4):
            as_of = data.draw(
                st.none() | st.dates(days[0] - timedelta(days=2), days[-1] + timedelta(days=2))
            )
            known_at = data.draw(
                st.none()
                | st.sampled_from(times)
                | st.datetimes(
                    times[0].replace(tzinfo=None) - timedelta(hours=1),
                    times[-1].replace(tzinfo=None) + timedelta(hours=1),
                ).map(lambda t: t.replace(tzinfo=UTC))
            )
            qualifying = [
                (e, at)
                for e, at in logged
                if (as_of is None or e.world_date <= as_of) and (known_at is None or at <= known_at)
            ]
            assert all_totals(ledger, as_of=as_of, known_at=known_at) == expected_totals(
                fold_of(qualifying)
            )


# -- examples ------------------------------------------------------------------------------


@pytest.fixture
def two(ledger_target: str) -> Iterator[tuple[Ledger, Ledger]]:
    with Ledger.open(ledger_target) as a, Ledger.open(ledger_target) as b:
        yield a, b


def test_read_your_writes_across_connections(
    two: tuple[Ledger, Ledger], ledger_target: str
) -> None:
    a, b = two
    a.record(pledge("p", "100"), tranche("t", "p", "30", sector="energy/solar"))
    with store_at(ledger_target) as store:
        assert position_and_head(store) == (2, 2)  # folded before record() returned
    assert {r.key: r.pledged for r in b.totals()} == {"cross-sector": 70, "energy/solar": 30}


def test_queries_do_not_replay(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger.record(pledge("p", "100"), loi("l", "5"))

    def no_folding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a query folded the log")

    monkeypatch.setattr("pledgeledger.projections.runner.Runner.fold", no_folding)
    assert len(ledger.totals(known_at=datetime(2100, 1, 1, tzinfo=UTC))) == 2
    assert len(ledger.timeline(every="year")) == 2


def test_exact_decimals_in_filtered_sums(ledger: Ledger) -> None:
    # Floats would give 0.30000000000000004; TEXT sums on SQLite must not go through them.
    ledger.record(
        pledge("a", "0.1", on="2025-01-01"),
        pledge("b", "0.2", on="2025-01-02"),
        pledge("c", "123456789012345678.01", on="2025-01-03", unit="JPY"),
        pledge("d", "0.99", on="2025-01-03", unit="JPY"),
    )
    rows = ledger.totals(as_of=date(2025, 1, 3))
    assert {(r.unit, r.pledged) for r in rows} == {
        ("USD", Decimal("0.3")),
        ("JPY", Decimal("123456789012345679.00")),
    }


def test_keys_with_nul_and_backslash_round_trip(ledger: Ledger) -> None:
    odd = "a\x00b\\0c\\"
    ledger.record(pledge("p", "1", pledger=odd, sector="x\\y"), tranche("t", "p", "1", sector=odd))
    assert [r.key for r in ledger.totals(by="pledger")] == [odd]
    assert {r.key for r in ledger.totals(by="sector", as_of=date(2030, 1, 1))} == {odd}
    assert ledger.replay(verify=True).problems == ()


def test_stale_schema_version_is_rebuilt_on_open(ledger_target: str) -> None:
    with Ledger.open(ledger_target) as ledger:
        ledger.record(pledge("p", "100"), loi("l", "5"))
        expected = all_totals(ledger)
    with store_at(ledger_target) as store, store.db.write() as tx:
        tx.execute(f"UPDATE {tx.table('pl_meta')} SET value = '0' WHERE key = 'version'")
    with Ledger.open(ledger_target) as again, store_at(ledger_target) as store:
        assert all_totals(again) == expected
        assert position_and_head(store) == (2, 2)


def test_verify_reports_a_tampered_read_model_and_replay_repairs_it(
    ledger: Ledger, ledger_target: str
) -> None:
    ledger.record(pledge("p", "100"), tranche("t", "p", "30"))
    with store_at(ledger_target) as store, store.db.write() as tx:
        tables = store.models.live(tx)
        assert tables is not None
        tx.execute(
            f"UPDATE {tx.table(tables.totals)} SET pledged = pledged * 2 WHERE grp = 'pledger'"
            if tx.backend == "postgres"
            else f"UPDATE {tables.totals} SET pledged = '999' WHERE grp = 'pledger'"
        )
    report = ledger.replay(verify=True)
    assert any(p.startswith("totals ('pledger'") for p in report.problems), report.problems
    assert ledger.replay(verify=True).problems == ()
    assert ledger.totals(by="pledger")[0].pledged == 100


def test_replay_reports_events_per_second(ledger: Ledger) -> None:
    ledger.record(*generate(300, 7))
    report = ledger.replay()
    assert report.events == 300
    assert report.events_per_second > 0


def test_a_killed_import_leaves_nothing_and_a_killed_replay_leaves_the_old_views(
    tmp_path: Path,
) -> None:
    """Real crashes (SIGKILL) of whole processes in the middle of their work."""
    db = tmp_path / "ledger.db"
    big = tmp_path / "big.jsonl"
    write_jsonl(big, 30_000, seed=3)

    def stored(records: Iterable[Record]) -> int:
        """Stored events for ``records``: one each, and one more (the letter's ``Converted``)
        for each record that converts a letter of intent."""
        return sum(2 if "converts" in r else 1 for r in records)

    first = list(generate(50, 11, namespace="small-"))
    both = stored(first) + stored(generate(30_000, 3))
    with Ledger.open(db) as ledger:
        ledger.record(*first)
        small = all_totals(ledger)
    command = [str(Path(sys.executable).parent / "pledgeledger"), "--db", str(db)]

    def killed(args: list[str], after: float) -> None:
        process = subprocess.Popen([*command, *args])
        time.sleep(after)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    killed(["import", str(big)], 0.7)
    with Ledger.open(db) as ledger, store_at(db) as store:
        position, head = position_and_head(store)
        assert head in (stored(first), both)  # all or nothing
        assert position == head  # and the views in step with the log
        if head == stored(first):
            assert all_totals(ledger) == small
            ledger.import_files([big])
        complete = all_totals(ledger)
    killed(["replay"], 0.6)
    with Ledger.open(db) as ledger, store_at(db) as store:
        assert position_and_head(store) == (both, both)
        assert all_totals(ledger) == complete  # the live set was never touched
        assert ledger.replay(verify=True).problems == ()
        assert all_totals(ledger) == complete
