"""Where the log lives: an eventsourcing Application on SQLite (default) or PostgreSQL.

The choice is made from one string, so the CLI's ``--db``, ``$PLEDGELEDGER_DB`` and the Python
API agree: a ``postgresql://`` URL selects eventsourcing's own PostgreSQL persistence, ``:memory:``
a private in-memory SQLite database, anything else a SQLite file path.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Transcoder

from pledgeledger.errors import LedgerError
from pledgeledger.store.aggregates import LedgerAggregate
from pledgeledger.store.recorders import recorder_topic
from pledgeledger.store.transcoder import MsgspecTranscoder

__all__ = ["DEFAULT_DB", "LedgerApplication", "persistence_env", "resolve_target"]

DEFAULT_DB = "pledgeledger.db"
SQLITE_LOCK_TIMEOUT_SECONDS = "30"
"""Long enough that a writer waiting behind a big import does not fail with "locked"."""


def resolve_target(target: str | os.PathLike[str] | None) -> str:
    """The database a command means: the argument, else ``$PLEDGELEDGER_DB``, else the default."""
    if target is None:
        target = os.environ.get("PLEDGELEDGER_DB") or DEFAULT_DB
    return os.fspath(target)


def persistence_env(target: str) -> dict[str, str]:
    """The eventsourcing environment variables that open ``target``, with the recorder that
    appends inside the ledger's own transactions (:mod:`.recorders`)."""
    if target.startswith(("postgresql://", "postgres://")):
        url = urlparse(target)
        query = parse_qs(url.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": url.hostname or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": recorder_topic("postgres"),
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    if target == ":memory:":
        # A plain ":memory:" is a new empty database per pooled connection (see
        # EVENTSOURCING-NOTES.md); a named shared-cache one is one database for the process.
        target = f"file:pledgeledger-{uuid4().hex}?mode=memory&cache=shared"
    elif not target.startswith("file:"):
        parent = Path(target).expanduser().parent
        if not parent.is_dir():
            raise LedgerError(f"cannot open ledger {target}: folder {parent} does not exist")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": target,
        "SQLITE_LOCK_TIMEOUT": SQLITE_LOCK_TIMEOUT_SECONDS,
        "APPLICATION_RECORDER_TOPIC": recorder_topic("sqlite"),
    }


class LedgerApplication(Application[UUID]):
    """The event store. Holds no domain logic: :class:`pledgeledger.Ledger` drives it."""

    name = "pledgeledger"

    def construct_transcoder(self) -> Transcoder:
        """eventsourcing's JSON format, written and read by msgspec (see :mod:`.codec`)."""
        transcoder = MsgspecTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def load(self, aggregate_id: UUID) -> LedgerAggregate | None:
        """The aggregate, or ``None`` when nothing was recorded under ``aggregate_id``."""
        try:
            aggregate: LedgerAggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate
