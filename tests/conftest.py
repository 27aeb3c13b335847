"""Shared fixtures: Hypothesis profiles and a fresh ledger on every backend that is available.

``HYPOTHESIS_PROFILE=ci`` runs more examples; the default ``dev`` profile keeps a local run quick.
``PLEDGELEDGER_TEST_POSTGRES`` (a DSN such as ``postgresql://postgres@127.0.0.1:5432/test``)
adds PostgreSQL to every test that takes ``ledger_target`` or ``ledger``; each such test gets a
schema of its own, dropped afterwards. Without it the PostgreSQL case is skipped, with a reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from helpers import FakeClock
from pledgeledger import Ledger

settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_DSN = os.environ.get("PLEDGELEDGER_TEST_POSTGRES", "")
"""Where the PostgreSQL tests run; empty means they are skipped."""


def _with_schema(dsn: str, schema: str) -> str:
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}schema={schema}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_DSN, reason="PLEDGELEDGER_TEST_POSTGRES is not set"
                ),
            ],
        ),
    ]
)
def ledger_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a fresh, empty ledger lives: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    import psycopg  # only needed, and only installed, for the PostgreSQL runs

    schema = f"t_{uuid.uuid4().hex}"
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _with_schema(POSTGRES_DSN, schema)
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def clock() -> FakeClock:
    """A clock the test moves by hand; every call also steps it one second forward."""
    return FakeClock()


@pytest.fixture
def ledger(ledger_target: str, clock: FakeClock) -> Iterator[Ledger]:
    """A fresh ledger on each backend, recording times from ``clock``."""
    with Ledger.open(ledger_target, clock=clock) as opened:
        yield opened
