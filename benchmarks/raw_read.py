"""Baseline "raw read": SELECT every row that ``raw_import.py`` wrote and json.loads it.

This is the floor a full replay of the read models is measured against.

Usage: python benchmarks/raw_read.py DATABASE
"""

from __future__ import annotations

import json
import sqlite3
import sys


def main() -> None:
    conn = sqlite3.connect(sys.argv[1])
    count = 0
    for _, data in conn.execute("SELECT type, data FROM events ORDER BY id"):
        json.loads(data)
        count += 1
    conn.close()
    print(count)


if __name__ == "__main__":
    main()
