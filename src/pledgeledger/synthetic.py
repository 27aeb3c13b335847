"""Deterministic synthetic ledgers: valid JSON Lines events of every type, at any size.

The benchmarks (``benchmarks/run.py``) and the large tests need ledgers of hundreds of
thousands of events that pass every invariant: pledges, nested tranches, deliveries, LOIs,
amendments (up and down) and withdrawals (with their cascades). The generator keeps just enough
state to stay valid (a window of open trees, each with its nodes' amounts, allocations and
deliveries), so a million events stream out in constant memory.

By default world dates never go backwards in log order, so the date rules of
``docs/semantics.md`` hold by construction; they advance so that any size spans about six years
(a useful timeline). ``backdate=True`` dates pledges, tranches, deliveries and LOIs up to two
months back (never before their parent, agreement or a correction already in their tree), as
late news does; ``cents=True`` gives figures two decimal places.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

__all__ = ["generate", "main", "write_jsonl"]

COUNTRIES = [
    "Japan",
    "United States",
    "Korea",
    "Germany",
    "France",
    "India",
    "Brazil",
    "Canada",
    "Australia",
    "Saudi Arabia",
    "UAE",
    "Qatar",
    "Norway",
    "Indonesia",
    "Mexico",
    "Chile",
    "Kenya",
    "Nigeria",
    "Egypt",
    "Turkey",
    "Poland",
    "Italy",
    "Spain",
    "Vietnam",
]
SECTORS = [
    "energy",
    "energy/nuclear",
    "energy/gas",
    "energy/solar",
    "energy/wind",
    "chips",
    "chips/fabs",
    "ai",
    "ai/datacenters",
    "shipbuilding",
    "minerals",
    "minerals/lithium",
    "pharma",
    "infrastructure",
    "infrastructure/rail",
    "infrastructure/ports",
    "defence",
    "defence/missiles",
    "agriculture",
    "cross-sector",
]
UNITS = ["USD", "USD", "USD", "EUR", "JPY", "t LNG/yr"]
OUTLETS = ["Reuters", "Nikkei Asia", "Financial Times", "Bloomberg", "AP", "Le Monde"]
WINDOW = 400
"""Open pledge trees that new tranches, deliveries and corrections pick from."""
SPAN_DAYS = 2200


@attrs.define
class _Node:
    id: str
    amount: int
    sector: str
    parent: _Node | None
    at_least: bool
    day: date
    children: list[_Node] = attrs.Factory(list)
    allocated: int = 0
    delivered: int = 0
    active: bool = True


@attrs.define
class _Delivery:
    id: str
    node: _Node
    amount: int
    active: bool = True


@attrs.define
class _Tree:
    root: _Node
    unit: str
    nodes: list[_Node]
    deliveries: list[_Delivery] = attrs.Factory(list)
    barrier: date = date.min


@attrs.define
class _Letter:
    id: str
    amount: int
    active: bool = True


class _Generator:
    def __init__(
        self, total: int, seed: int, *, backdate: bool, cents: bool, namespace: str
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311  # not cryptography
        self.namespace = namespace
        self.backdate = backdate
        self.cents = cents
        self.total = total
        self.day = date(2019, 1, 1)
        self.advance = min(1.0, SPAN_DAYS / max(total, 1))
        self.count = 0
        self.trees: list[_Tree] = []
        self.letters: list[_Letter] = []
        self.agreements: list[str] = []

    # -- helpers ---------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self.count += 1
        return f"{self.namespace}{prefix}{self.count:07d}"

    def _sources(self) -> list[dict[str, str]]:
        source = {
            "outlet": self.rng.choice(OUTLETS),
            "url": f"https://news.example.org/{self.day:%Y/%m}/{self.count}",
            "published_on": self.day.isoformat(),
        }
        if self.rng.random() < 0.2:
            source["quote"] = "officials said the figure could still change"
        return [source]

    def _base(self, kind: str, prefix: str) -> dict[str, Any]:
        return {"type": kind, "id": self._id(prefix)}

    def _dated(
        self, record: dict[str, Any], field: str = "announced_on", on: date | None = None
    ) -> dict[str, Any]:
        record[field] = (on or self.day).isoformat()
        record["sources"] = self._sources()
        return record

    def _pick(self, earliest: date | None) -> date:
        """Today, or with ``backdate`` a day between ``earliest`` and today."""
        if not self.backdate or earliest is None or earliest >= self.day:
            return self.day
        return earliest + timedelta(days=self.rng.randint(0, (self.day - earliest).days))

    def _fig(self, value: int) -> str:
        return format(Decimal(value).scaleb(-2), "f") if self.cents else str(value)

    def _amount(self, high: int) -> int:
        """A round-ish figure no larger than ``high`` (at least 1)."""
        if high <= 1:
            return 1
        value = self.rng.randint(max(1, high // 20), high)
        magnitude: int = 10 ** max(0, len(str(value)) - 3)
        return max(1, value // magnitude * magnitude)

    @staticmethod
    def _room(node: _Node) -> int:
        return node.amount - node.allocated

    @staticmethod
    def _delivery_room(node: _Node) -> int:
        room: int | None = None
        current: _Node | None = node
        while current is not None:
            if not current.at_least:
                free = current.amount - current.delivered
                room = free if room is None else min(room, free)
            current = current.parent
        return room if room is not None else 1_000_000_000

    # -- event kinds -----------------------------------------------------------------------

    def agreement(self) -> dict[str, Any]:
        record = self._base("agreement", "ag")
        record["title"] = f"Framework {record['id']}"
        record["parties"] = self.rng.sample(COUNTRIES, 2)
        self.agreements.append(record["id"])
        return self._dated(record, "signed_on")

    def pledge(self) -> dict[str, Any]:
        record = self._base("pledge", "pl")
        pledger, recipient = self.rng.sample(COUNTRIES, 2)
        unit = self.rng.choice(UNITS)
        amount = self._amount(10 ** self.rng.randint(6, 12))
        bound = self.rng.choices(["exact", "up_to", "at_least"], [80, 15, 5])[0]
        sector = self.rng.choice(SECTORS)
        record.update(
            pledger=pledger, recipient=recipient, amount=self._fig(amount), unit=unit, sector=sector
        )
        if bound != "exact":
            record["bound"] = bound
        on = self._pick(self.day - timedelta(days=60))
        if self.agreements and self.rng.random() < 0.6:
            record["agreement"] = self.rng.choice(self.agreements[-30:])
            on = self.day
        root = _Node(record["id"], amount, sector, None, bound == "at_least", on)
        self.trees.append(_Tree(root, unit, [root]))
        if len(self.trees) > WINDOW:
            self.trees.pop(self.rng.randrange(len(self.trees) // 2))
        return self._dated(record, on=on)

    def tranche(self) -> dict[str, Any] | None:
        tree = self.rng.choice(self.trees)
        parents = [n for n in tree.nodes[-8:] if n.active and (n.at_least or self._room(n) > 1)]
        if not parents:
            return None
        parent = self.rng.choice(parents)
        room = parent.amount if parent.at_least else self._room(parent)
        amount = self._amount(max(1, room // self.rng.choice([1, 2, 3])))
        sector = parent.sector
        if self.rng.random() < 0.6:
            sector = self.rng.choice(SECTORS)
        record = self._base("tranche", "tr")
        record.update(parent=parent.id, amount=self._fig(amount), unit=tree.unit, sector=sector)
        on = self._pick(max(parent.day, tree.barrier))
        node = _Node(record["id"], amount, sector, parent, False, on)
        parent.children.append(node)
        parent.allocated += amount
        tree.nodes.append(node)
        return self._dated(record, on=on)

    def delivery(self) -> dict[str, Any] | None:
        tree = self.rng.choice(self.trees)
        node = self.rng.choice(tree.nodes[-8:])
        room = self._delivery_room(node)
        if not node.active or room < 1:
            return None
        amount = self._amount(max(1, room // self.rng.choice([2, 3, 5])))
        record = self._base("delivery", "dl")
        record.update(parent=node.id, amount=self._fig(amount), unit=tree.unit)
        self._deliver(node, amount)
        tree.deliveries.append(_Delivery(record["id"], node, amount))
        return self._dated(record, "delivered_on", self._pick(max(node.day, tree.barrier)))

    @staticmethod
    def _deliver(node: _Node, amount: int) -> None:
        current: _Node | None = node
        while current is not None:
            current.delivered += amount
            current = current.parent

    def loi(self) -> dict[str, Any]:
        record = self._base("loi", "li")
        party, counterparty = self.rng.sample(COUNTRIES, 2)
        amount = self._amount(10 ** self.rng.randint(3, 10))
        record.update(
            party=party,
            counterparty=counterparty,
            amount=self._fig(amount),
            unit=self.rng.choice(UNITS),
            sector=self.rng.choice(SECTORS),
        )
        on = self._pick(self.day - timedelta(days=60))
        if self.agreements and self.rng.random() < 0.4:
            record["agreement"] = self.rng.choice(self.agreements[-30:])
            on = self.day
        self.letters.append(_Letter(record["id"], amount))
        if len(self.letters) > WINDOW:
            self.letters.pop(0)
        return self._dated(record, on=on)

    def _correction(self, kind: str, target: str) -> dict[str, Any]:
        record = self._base(kind, "am" if kind == "amendment" else "wd")
        record["target"] = target
        record["reason"] = "revised figure" if kind == "amendment" else "cancelled"
        return record

    def amendment(self) -> dict[str, Any] | None:
        choice = self.rng.random()
        if choice < 0.2 and self.letters:
            letter = self.rng.choice(self.letters)
            if not letter.active:
                return None
            letter.amount = self._amount(letter.amount * 2)
            record = self._correction("amendment", letter.id)
            record["amount"] = self._fig(letter.amount)
            return self._dated(record)
        tree = self.rng.choice(self.trees)
        if choice < 0.4 and tree.deliveries:
            delivered = self.rng.choice(tree.deliveries[-5:])
            if not delivered.active or delivered.amount < 2:
                return None
            new = self._amount(delivered.amount - 1)
            self._deliver(delivered.node, new - delivered.amount)
            delivered.amount = new
            record = self._correction("amendment", delivered.id)
            record["amount"] = self._fig(new)
            tree.barrier = self.day
            return self._dated(record)
        node = self.rng.choice(tree.nodes[-8:])
        if not node.active:
            return None
        floor = max(node.allocated, node.delivered, 1)
        parent = node.parent
        ceiling = node.amount * 2
        if parent is not None and not parent.at_least:
            ceiling = min(ceiling, node.amount + self._room(parent))
        if ceiling < floor:
            return None
        new = self.rng.randint(floor, ceiling)
        if parent is not None:
            parent.allocated += new - node.amount
        node.amount = new
        record = self._correction("amendment", node.id)
        record["amount"] = self._fig(new)
        tree.barrier = self.day
        return self._dated(record)

    def withdrawal(self) -> dict[str, Any] | None:
        if self.rng.random() < 0.3 and self.letters:
            letter = self.rng.choice(self.letters)
            if not letter.active:
                return None
            letter.active = False
            return self._dated(self._correction("withdrawal", letter.id))
        tree = self.rng.choice(self.trees)
        if self.rng.random() < 0.3 and tree.deliveries:
            delivered = self.rng.choice(tree.deliveries[-5:])
            if not delivered.active:
                return None
            delivered.active = False
            self._deliver(delivered.node, -delivered.amount)
            tree.barrier = self.day
            return self._dated(self._correction("withdrawal", delivered.id))
        node = self.rng.choice(tree.nodes[-8:])
        if not node.active or node.delivered:
            return None
        self._cancel(node)
        tree.barrier = self.day
        if node.parent is not None:
            node.parent.allocated -= node.amount
        return self._dated(self._correction("withdrawal", node.id))

    def _cancel(self, node: _Node) -> None:
        node.active = False
        for child in node.children:
            if child.active:
                self._cancel(child)

    # -- the stream ------------------------------------------------------------------------

    def events(self) -> Iterator[dict[str, Any]]:
        kinds = [
            self.pledge,
            self.tranche,
            self.delivery,
            self.loi,
            self.amendment,
            self.withdrawal,
            self.agreement,
        ]
        weights = [18, 30, 24, 8, 13, 5, 0.3]
        produced = 0
        for _ in range(3):
            yield self.agreement()
            produced += 1
        while produced < self.total:
            if self.rng.random() < self.advance:
                self.day += timedelta(days=1)
            if len(self.trees) < 5:
                record: dict[str, Any] | None = self.pledge()
            else:
                record = self.rng.choices(kinds, weights)[0]()
            if record is not None:
                produced += 1
                yield record


def generate(
    total: int,
    seed: int = 0,
    *,
    backdate: bool = False,
    cents: bool = False,
    namespace: str = "",
) -> Iterator[dict[str, Any]]:
    """``total`` valid events (JSON-shaped dicts, in log order), the same for the same seed.

    Ids are ``<namespace><kind><counter>`` (``pl0000012``): give ledgers that are to share a
    database different namespaces.
    """
    return _Generator(total, seed, backdate=backdate, cents=cents, namespace=namespace).events()


def write_jsonl(path: str | Path, total: int, seed: int = 0) -> None:
    """Write :func:`generate`'s events to ``path``, one JSON object a line."""
    with Path(path).open("w", encoding="utf-8") as handle:
        for record in generate(total, seed):
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m pledgeledger.synthetic N FILE [SEED]``: write a synthetic ledger."""
    parser = argparse.ArgumentParser(
        prog="python -m pledgeledger.synthetic",
        description="Write N valid synthetic events (every type, dates spanning about six "
        "years) to FILE as JSON Lines, the same events for the same SEED. Import them with "
        "`pledgeledger import FILE`.",
    )
    parser.add_argument("count", metavar="N", type=int, help="how many events to write")
    parser.add_argument("file", metavar="FILE", help="the JSON Lines file to write (- for stdout)")
    parser.add_argument("seed", metavar="SEED", type=int, nargs="?", default=0, help="default 0")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("N must be 0 or more")
    if args.file == "-":
        try:
            for record in generate(args.count, args.seed):
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (| head): end quietly, as cat would
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(141)
        return
    write_jsonl(args.file, args.count, args.seed)


if __name__ == "__main__":  # pragma: no cover  # run by the tests in a subprocess
    main()
