"""Choosing and opening the event store from one string."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import pledge
from pledgeledger import Ledger, LedgerError
from pledgeledger.store.application import DEFAULT_DB, persistence_env, resolve_target


def test_postgres_url_maps_every_part() -> None:
    env = persistence_env("postgresql://alice:s3cret@db.example.org:6543/pledges?schema=ledger_1")
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "pledges",
        "POSTGRES_HOST": "db.example.org",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "alice",
        "POSTGRES_PASSWORD": "s3cret",
        "POSTGRES_LOCK_TIMEOUT": "30",
        "POSTGRES_SCHEMA": "ledger_1",
        "APPLICATION_RECORDER_TOPIC": (
            "pledgeledger.store.postgres_recorder:PostgresLedgerRecorder"
        ),
    }


def test_postgres_url_defaults() -> None:
    env = persistence_env("postgres://bob@localhost")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert env["POSTGRES_DBNAME"] == "postgres"
    assert env["POSTGRES_PORT"] == "5432"
    assert env["POSTGRES_USER"] == "bob"
    assert env["POSTGRES_PASSWORD"] == ""
    assert "POSTGRES_SCHEMA" not in env


def test_postgres_url_user_defaults_to_the_login_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "carol")
    assert persistence_env("postgresql://db.example.org/x")["POSTGRES_USER"] == "carol"


def test_postgres_url_parts_are_percent_decoded() -> None:
    env = persistence_env("postgresql://al%40ice:p%40ss%3Aw%2Frd@h/my%20db")
    assert env["POSTGRES_USER"] == "al@ice"
    assert env["POSTGRES_PASSWORD"] == "p@ss:w/rd"
    assert env["POSTGRES_DBNAME"] == "my db"


def test_sqlite_path_maps_to_sqlite(tmp_path: Path) -> None:
    target = str(tmp_path / "ledger.db")
    env = persistence_env(target)
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == target
    # Long enough that a writer queued behind a big import does not fail with "locked".
    assert int(env["SQLITE_LOCK_TIMEOUT"]) >= 10


def test_memory_gets_a_private_shared_cache_database() -> None:
    first = persistence_env(":memory:")["SQLITE_DBNAME"]
    second = persistence_env(":memory:")["SQLITE_DBNAME"]
    assert first != second
    for name in (first, second):
        assert name.startswith("file:")
        assert "mode=memory" in name
        assert "cache=shared" in name


def test_sqlite_uri_is_passed_through() -> None:
    uri = "file:somewhere?mode=memory&cache=shared"
    assert persistence_env(uri)["SQLITE_DBNAME"] == uri


def test_missing_folder_is_named(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "ledger.db"
    with pytest.raises(LedgerError) as caught:
        persistence_env(str(target))
    assert str(target.parent) in str(caught.value)
    assert "does not exist" in str(caught.value)


def test_opening_a_ledger_in_a_missing_folder_is_a_ledger_error(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "ledger.db"
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger.open(target)
    assert not target.parent.exists()


def test_opening_a_folder_as_a_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="cannot open ledger"):
        Ledger.open(tmp_path)


def test_resolve_target_prefers_the_argument_then_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PLEDGELEDGER_DB", raising=False)
    assert resolve_target(None) == DEFAULT_DB == "pledgeledger.db"
    monkeypatch.setenv("PLEDGELEDGER_DB", "/data/env.db")
    assert resolve_target(None) == "/data/env.db"
    assert resolve_target(tmp_path / "arg.db") == str(tmp_path / "arg.db")
    monkeypatch.setenv("PLEDGELEDGER_DB", "")
    assert resolve_target(None) == DEFAULT_DB


def test_ledger_opens_the_environments_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    target = tmp_path / "from-env.db"
    monkeypatch.setenv("PLEDGELEDGER_DB", str(target))
    with Ledger.open() as ledger:
        ledger.record(pledge("p", "10"))
    assert target.is_file()
    with Ledger.open(target) as again:
        assert [e.event.id for e in again.events()] == ["p"]


def test_memory_ledgers_are_separate() -> None:
    with Ledger.open(":memory:") as one, Ledger.open(":memory:") as two:
        one.record(pledge("p", "10"))
        assert two.head == 0
        assert one.head > 0
