"""Transactions on the event store's own database, for the read models and the write path.

The read models live next to the events (same SQLite file, same PostgreSQL schema) so that one
transaction can append events, update the views and move the tracked position together: that
is what makes them crash-safe and read-your-writes. :class:`Database` borrows connections from
the eventsourcing datastore rather than opening its own, and hides the few differences between
the two backends behind :class:`Tx`:

* SQL is written once with ``?`` placeholders (rewritten to ``%s`` for psycopg);
* figures are ``TEXT`` holding ``str(Decimal)`` on SQLite (its ``SUM`` would go through floats)
  and exact ``NUMERIC`` on PostgreSQL; :meth:`Tx.num` and the ``dadd``/``dsum`` SQL functions
  registered on every SQLite connection keep the arithmetic in :class:`~decimal.Decimal`;
* PostgreSQL ``TEXT`` cannot hold NUL characters, so :meth:`Tx.text` escapes them there.

The writers' lock is ``BEGIN IMMEDIATE`` (or a first write) on SQLite and, on PostgreSQL, the
``EXCLUSIVE`` lock on the events table that eventsourcing's recorder takes for every insert
(taken by the recorder's own code, :meth:`.recorders.AppendsInTransaction.lock_in`).
:meth:`Database.write` holds it from the start (catching up, replay); :meth:`Database.optimistic`
takes it only before its first write, so that a long validation does not block other writers
and a lost race is detected and retried. Readers are never blocked. Stored events are inserted
by the recorder's own insert too (:meth:`Database.append`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID

from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)

from pledgeledger.store.recorders import AppendsInTransaction

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

__all__ = ["Backend", "Database", "Tx"]

Backend = Literal["sqlite", "postgres"]


def _decimal_add(left: str | None, right: str | None) -> str:
    """SQLite ``dadd(a, b)``: exact decimal addition of two TEXT figures."""
    if left is None or left == "0":
        return right if right is not None else "0"
    if right is None or right == "0":
        return left
    return str(Decimal(left) + Decimal(right))


class _DecimalSum:
    """SQLite ``dsum(x)``: an exact SUM over TEXT figures (the built-in one uses floats)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str | None:
        return str(self.total)


def _pg_escape(value: str) -> str:
    if "\\" in value or "\x00" in value:
        return value.replace("\\", "\\\\").replace("\x00", "\\0")
    return value


def _pg_unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append("\x00" if nxt == "0" else nxt)
        else:
            out.append(char)
    return "".join(out)


def _identity(value: Any) -> Any:
    return value


def _adapt_as_is() -> None:
    """Bind ``None`` and ``bytes`` parameters without sqlite3's search for an adapter.

    CPython 3.11's sqlite3 adapts every parameter that is not exactly an int, float, str or
    bytearray: for ``None`` (the many NULL figures and keys of the read-model rows) and
    ``bytes`` (every stored event's state) it finds no registered adapter, then looks up
    ``__adapt__`` and ``__conform__``, building and dropping an ``AttributeError`` for each
    (about 0.6 µs a parameter, measured; several per event). An identity adapter, registered
    for exactly these two types, ends the search at its first step and binds the same value
    (sqlite3's registry is the module's, so it applies process-wide, unchanged in effect).
    """
    sqlite3.register_adapter(type(None), _identity)
    sqlite3.register_adapter(bytes, _identity)


_adapt_as_is()


class _Cursor(Protocol):
    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: Any, params: Any, /) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...


class Tx:
    """One open transaction: run SQL written for SQLite on either backend.

    ``text``/``untext`` and ``num``/``dec`` convert values on their way in and out; they are the
    identity wherever the backend needs nothing, so hot loops pay only a function call.
    """

    def __init__(
        self,
        cursor: _Cursor,
        backend: Backend,
        schema: str | None,
        new_cursor: Callable[[], Any] | None = None,
        native: Any = None,
    ) -> None:
        self._cursor = cursor
        self.native: Any = cursor if native is None else native
        """The same cursor as eventsourcing's recorder methods take it (its ``SQLiteCursor``
        wrapper on SQLite), for :meth:`Database.append`."""
        self._new_cursor = new_cursor
        self.backend: Backend = backend
        self._prefix = f'"{schema}".' if schema else ""
        self.locked = False
        self.text: Callable[[str], str]
        self.untext: Callable[[str], str]
        self.num: Callable[[Decimal], Any]
        if backend == "sqlite":
            self.text = self.untext = _identity
            self.num = str
        else:
            self.text, self.untext = _pg_escape, _pg_unescape
            self.num = _identity

    def table(self, name: str) -> str:
        """``name`` qualified with the PostgreSQL schema the ledger lives in."""
        return self._prefix + name

    def _sql(self, sql: str) -> str:
        return sql if self.backend == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            self._cursor.executemany(self._sql(sql), rows)

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cursor.execute(self._sql(sql), params)
        return self._cursor.fetchall()

    def fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._cursor.execute(self._sql(sql), params)
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetchone(sql, params)
        return None if row is None else row[0]

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 2000) -> Iterator[Any]:
        """Rows one by one without holding them all, on a cursor of their own (a server-side
        one on PostgreSQL), so that two streams can be merged and other statements run
        while one is read."""
        cursor: Any = self._new_cursor() if self._new_cursor is not None else self._cursor
        try:
            cursor.execute(self._sql(sql), params)
            while True:
                rows = cursor.fetchmany(size)
                if not rows:
                    return
                yield from rows
        finally:
            if cursor is not self._cursor:
                cursor.close()

    def add(self, left: str, right: str) -> str:
        """SQL for the exact sum of two figure expressions (used in upserts)."""
        return f"dadd({left}, {right})" if self.backend == "sqlite" else f"{left} + {right}"

    def sum(self, column: str) -> str:
        """SQL for the exact aggregate sum of a figure column (zeros are stored as NULL)."""
        if self.backend == "sqlite":
            return f"dsum({column}) FILTER (WHERE {column} IS NOT NULL)"
        return f"SUM({column})"

    @property
    def num_type(self) -> str:
        return "TEXT" if self.backend == "sqlite" else "NUMERIC"


_SQLITE_ERRORS: tuple[tuple[type[Exception], type[PersistenceError]], ...] = (
    (sqlite3.IntegrityError, IntegrityError),
    (sqlite3.OperationalError, OperationalError),
    (sqlite3.DatabaseError, DatabaseError),
    (sqlite3.Error, PersistenceError),
)


@contextmanager
def _sqlite_errors() -> Iterator[None]:
    """Raise eventsourcing's exception classes, as its own recorder does, so callers catch
    one family (``OperationalError`` for "database is locked", ``IntegrityError``)."""
    try:
        yield
    except sqlite3.Error as exc:
        for raw, ours in _SQLITE_ERRORS:
            if isinstance(exc, raw):
                raise ours(str(exc)) from exc
        raise  # pragma: no cover


class Database:
    """The event store's database, as the eventsourcing recorder has it configured."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        if not callable(getattr(recorder, "append_in", None)):
            msg = (
                f"{type(recorder).__qualname__} cannot append in a transaction: open the store "
                "with persistence_env(), which selects the ledger's recorders"
            )
            raise TypeError(msg)
        self.recorder = recorder
        self._appender: AppendsInTransaction = recorder  # type: ignore[assignment]  # checked above
        datastore: Any = recorder.datastore  # type: ignore[attr-defined]  # not in the recorder protocol
        self._datastore = datastore
        self.backend: Backend
        if type(datastore).__name__ == "SQLiteDatastore":
            self.backend = "sqlite"
            self.schema: str | None = None
        else:
            self.backend = "postgres"
            self.schema = datastore.schema
        self._events = recorder.events_table_name  # type: ignore[attr-defined]  # not in the protocol

    @property
    def events_table(self) -> str:
        """The eventsourcing table of stored events, qualified for this backend."""
        return f'"{self.schema}".{self._events}' if self.schema else self._events

    @property
    def notification_column(self) -> str:
        """The column that holds the notification id (SQLite uses the rowid)."""
        return "rowid" if self.backend == "sqlite" else "notification_id"

    def originator(self, aggregate_id: UUID) -> str | UUID:
        """How the events table stores an originator id."""
        return aggregate_id.hex if self.backend == "sqlite" else aggregate_id

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction: one consistent snapshot, rolled back at the end.

        On PostgreSQL it runs at ``REPEATABLE READ``: at the default ``READ COMMITTED`` each
        statement would see the commits made since the one before, so a position checked by
        one query would not bound what the next one reads. (Read-only, it never fails with a
        serialisation error.) SQLite's read transactions are snapshots already.
        """
        with self._begin(writer=False, lock=False) as tx:
            yield tx

    @contextmanager
    def write(self, *, exclusive: bool = True) -> Iterator[Tx]:
        """A transaction that holds the writers' lock from the start; committed when the
        block ends normally.

        ``exclusive=False`` skips the lock on PostgreSQL, for work that no other writer
        touches (rebuilding the spare read-model tables), so that writers go on meanwhile.
        SQLite takes it anyway (``BEGIN IMMEDIATE``): it has one writer at a time, and a
        deferred transaction that reads before it writes fails with "database is locked"
        (not retried by the busy timeout) whenever another writer committed in between;
        taking the lock first makes it wait its turn instead.
        """
        lock = exclusive or self.backend == "sqlite"
        with self._begin(writer=True, lock=lock) as tx:
            yield tx

    @contextmanager
    def optimistic(self) -> Iterator[Tx]:
        """A transaction that reads without locking and takes the writers' lock only when
        :meth:`lock` is called (before its first write); committed at the end.

        Between its first read and :meth:`lock`, another writer may commit: on SQLite the
        lock then fails ("database is locked": the snapshot is stale), on PostgreSQL the
        caller sees the head of the log moved. Either way the caller starts over: this is
        the optimistic concurrency that lets a long validation run without blocking others.
        """
        with self._begin(writer=True, lock=False) as tx:
            yield tx

    def lock(self, tx: Tx) -> None:
        """Take the writers' lock in ``tx`` now (nothing if it is held already)."""
        if tx.locked:
            return
        if self.backend == "sqlite":
            # Any write statement starts SQLite's write transaction; this one changes nothing.
            # It fails with "database is locked" if another writer committed since our
            # snapshot was taken (SQLITE_BUSY_SNAPSHOT), which the caller retries.
            tx.execute(f"DELETE FROM {self.events_table} WHERE 0")
        else:
            self._appender.lock_in(tx.native)
        tx.locked = True

    def append(self, tx: Tx, stored_events: Sequence[StoredEvent]) -> None:
        """Insert ``stored_events`` in ``tx`` with the recorder's own insert (the rows
        eventsourcing's ``insert_events`` would write); the caller holds the writers' lock."""
        self._appender.append_in(tx.native, stored_events)

    @contextmanager
    def _begin(self, *, writer: bool, lock: bool) -> Iterator[Tx]:
        if self.backend == "sqlite":
            with self._sqlite(writer=writer, lock=lock) as tx:
                yield tx
        else:
            with self._postgres(writer=writer) as tx:
                if lock:
                    self.lock(tx)
                yield tx

    @contextmanager
    def _sqlite(self, *, writer: bool, lock: bool) -> Iterator[Tx]:
        with self._datastore.get_connection(commit=writer) as connection:
            native = connection.cursor()
            raw: sqlite3.Cursor = native.sqlite_cursor
            raw.row_factory = None
            conn = raw.connection
            conn.create_function("dadd", 2, _decimal_add, deterministic=True)
            conn.create_aggregate("dsum", 1, _DecimalSum)  # type: ignore[arg-type]  # typeshed: step takes int
            # 32 MiB of page cache (SQLite's default is 2 MiB): a big import inserts into the
            # events table's primary key (random uuid5 ids) all over the table; bounded, so
            # that replays and queries stay well under their memory budget.
            raw.execute("PRAGMA cache_size = -32768")
            with _sqlite_errors():
                raw.execute("BEGIN IMMEDIATE" if lock else "BEGIN")

            def new_cursor() -> sqlite3.Cursor:
                cursor = conn.cursor()
                cursor.row_factory = None
                return cursor

            tx = Tx(raw, "sqlite", None, new_cursor, native)
            tx.locked = lock
            try:
                with _sqlite_errors():
                    yield tx
            except BaseException:
                conn.rollback()
                raise
            else:
                with _sqlite_errors():
                    if writer:
                        conn.commit()
                    else:
                        conn.rollback()
            finally:
                raw.close()

    @contextmanager
    def _postgres(self, *, writer: bool) -> Iterator[Tx]:
        from psycopg.rows import tuple_row  # psycopg only when PostgreSQL is in use

        names = itertools.count()
        with self._datastore.get_connection() as conn, conn.transaction(force_rollback=not writer):

            def new_cursor() -> Any:
                return conn.cursor(name=f"pl_stream_{next(names)}", row_factory=tuple_row)

            tx = Tx(conn.cursor(row_factory=tuple_row), "postgres", self.schema, new_cursor)
            if not writer:
                tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield tx

    def head(self, tx: Tx) -> int:
        """The last notification id in the log, 0 when it is empty."""
        return int(
            tx.scalar(f"SELECT MAX({self.notification_column}) FROM {self.events_table}") or 0
        )
