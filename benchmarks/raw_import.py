"""Baseline "raw import": read a JSON Lines file, json.loads each line, and insert (type, JSON
text) rows into a SQLite table in one transaction. Nothing is validated or derived: this is
what plain Python and SQLite cost, the floor the ledger's import is measured against.

Usage: python benchmarks/raw_import.py EVENTS.jsonl DATABASE
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator


def rows(path: str) -> Iterator[tuple[str, str]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)["type"], line


def main() -> None:
    path, database = sys.argv[1], sys.argv[2]
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, type TEXT, data TEXT)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO events (type, data) VALUES (?, ?)", rows(path))
    conn.execute("COMMIT")
    conn.close()


if __name__ == "__main__":
    main()
