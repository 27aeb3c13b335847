"""Deterministic synthetic ledgers: valid JSON Lines events of every type, at any size.

The benchmarks (``benchmarks/run.py``) and the large tests need ledgers of hundreds of
thousands of events that pass every invariant: pledges, nested tranches, deliveries, LOIs,
amendments (up and down, some adopting a report), withdrawals and lapses (with their cascades),
reports beside the counted figures, records tied toward others (``toward``), letters of intent
converted into pledges or tranches (``converts``), deadlines (``due_by``), and figures of every
kind: exact, ``up_to``, ``at_least``, ``about``, with a stated range, or undisclosed. The
generator keeps just enough state to stay valid (a window of open trees, each with its nodes'
amounts, allocations and deliveries), so a million events stream out in constant memory.

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
    """Whether the node caps nothing under it: a floor, or an undisclosed figure."""
    day: date
    children: list[_Node] = attrs.Factory(list)
    allocated: int = 0
    delivered: int = 0
    active: bool = True
    bound: str = "exact"
    undisclosed: bool = False
    deliveries: int = 0
    """Active deliveries against this node and under it (undisclosed ones deliver 0)."""


@attrs.define
class _Delivery:
    id: str
    node: _Node
    amount: int
    active: bool = True
    bound: str = "exact"
    undisclosed: bool = False


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
    unit: str = "USD"
    latest: date = date.min
    active: bool = True
    bound: str = "exact"
    undisclosed: bool = False


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

    def _bound(self) -> str:
        return self.rng.choices(["exact", "up_to", "at_least", "about"], [76, 13, 5, 6])[0]

    def _figure(self, record: dict[str, Any], amount: int, bound: str) -> None:
        """Write ``amount`` with ``bound`` into ``record``, now and then with a stated range
        (never on an exact figure, and always holding the amount)."""
        record["amount"] = self._fig(amount)
        if bound != "exact":
            record["bound"] = bound
            if self.rng.random() < 0.3:
                if bound != "at_least":
                    record["low"] = self._fig(amount * self.rng.randint(5, 10) // 10)
                if bound != "up_to":
                    record["high"] = self._fig(amount * self.rng.randint(10, 15) // 10)

    def _undisclosed(self) -> bool:
        return self.rng.random() < 0.04

    def _due(self, record: dict[str, Any], on: date) -> None:
        if self.rng.random() < 0.15:
            record["due_by"] = (on + timedelta(days=self.rng.randint(0, 900))).isoformat()

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
        bound = self._bound()
        sector = self.rng.choice(SECTORS)
        record.update(pledger=pledger, recipient=recipient, amount=None, unit=unit, sector=sector)
        undisclosed = self._undisclosed()
        if undisclosed:
            bound, amount = "exact", 0
        else:
            self._figure(record, amount, bound)
        on = self._pick(self.day - timedelta(days=60))
        if self.agreements and self.rng.random() < 0.6:
            record["agreement"] = self.rng.choice(self.agreements[-30:])
            on = self.day
        self._toward(record, unit, on)
        self._converts(record, on)
        self._due(record, on)
        root = _Node(record["id"], amount, sector, None, bound == "at_least" or undisclosed, on)
        root.bound, root.undisclosed = bound, undisclosed
        self.trees.append(_Tree(root, unit, [root]))
        if len(self.trees) > WINDOW:
            self.trees.pop(self.rng.randrange(len(self.trees) // 2))
        return self._dated(record, on=on)

    def _toward(self, record: dict[str, Any], unit: str, on: date) -> None:
        """Now and then tie a new pledge or LOI toward an active record of its unit dated no
        later than it."""
        if self.rng.random() >= 0.1:
            return
        candidates = [
            n.id
            for tree in self.trees[-20:]
            if tree.unit == unit
            for n in tree.nodes[-3:]
            if n.active and n.day <= on
        ]
        candidates += [
            letter.id
            for letter in self.letters[-20:]
            if letter.active and letter.unit == unit and letter.latest <= on
        ]
        if candidates:
            record["toward"] = self.rng.choice(candidates)

    def _converts(self, record: dict[str, Any], on: date) -> None:
        """Now and then make a new pledge or tranche the conversion of an active LOI dated no
        later than it (nor than its last correction)."""
        if self.rng.random() >= 0.05:
            return
        candidates = [x for x in self.letters[-30:] if x.active and x.latest <= on]
        if candidates:
            letter = self.rng.choice(candidates)
            letter.active = False
            record["converts"] = letter.id

    def tranche(self) -> dict[str, Any] | None:
        tree = self.rng.choice(self.trees)
        parents = [n for n in tree.nodes[-8:] if n.active and (n.at_least or self._room(n) > 1)]
        if not parents:
            return None
        parent = self.rng.choice(parents)
        room = max(parent.amount, 1000) if parent.at_least else self._room(parent)
        amount = self._amount(max(1, room // self.rng.choice([1, 2, 3])))
        sector = parent.sector
        if self.rng.random() < 0.6:
            sector = self.rng.choice(SECTORS)
        record = self._base("tranche", "tr")
        record.update(parent=parent.id, amount=None, unit=tree.unit, sector=sector)
        bound = "exact" if self.rng.random() < 0.6 else self._bound()
        undisclosed = self._undisclosed()
        if undisclosed:
            bound, amount = "exact", 0
        else:
            self._figure(record, amount, bound)
        on = self._pick(max(parent.day, tree.barrier))
        self._converts(record, on)
        self._due(record, on)
        node = _Node(record["id"], amount, sector, parent, bound == "at_least" or undisclosed, on)
        node.bound, node.undisclosed = bound, undisclosed
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
        record.update(parent=node.id, amount=None, unit=tree.unit)
        undisclosed = self._undisclosed()
        bound = "exact" if undisclosed or self.rng.random() < 0.9 else self._bound()
        if undisclosed:
            amount = 0
        else:
            self._figure(record, amount, bound)
        self._deliver(node, amount, 1)
        delivery = _Delivery(record["id"], node, amount, bound=bound, undisclosed=undisclosed)
        tree.deliveries.append(delivery)
        return self._dated(record, "delivered_on", self._pick(max(node.day, tree.barrier)))

    @staticmethod
    def _deliver(node: _Node, amount: int, count: int = 0) -> None:
        current: _Node | None = node
        while current is not None:
            current.delivered += amount
            current.deliveries += count
            current = current.parent

    def loi(self) -> dict[str, Any]:
        record = self._base("loi", "li")
        party, counterparty = self.rng.sample(COUNTRIES, 2)
        amount = self._amount(10 ** self.rng.randint(3, 10))
        unit = self.rng.choice(UNITS)
        record.update(
            party=party,
            counterparty=counterparty,
            amount=None,
            unit=unit,
            sector=self.rng.choice(SECTORS),
        )
        undisclosed = self._undisclosed()
        bound = "exact" if undisclosed else self._bound()
        if not undisclosed:
            self._figure(record, amount, bound)
        on = self._pick(self.day - timedelta(days=60))
        if self.agreements and self.rng.random() < 0.4:
            record["agreement"] = self.rng.choice(self.agreements[-30:])
            on = self.day
        self._toward(record, unit, on)
        self._due(record, on)
        self.letters.append(
            _Letter(record["id"], amount, unit, on, bound=bound, undisclosed=undisclosed)
        )
        if len(self.letters) > WINDOW:
            self.letters.pop(0)
        return self._dated(record, on=on)

    def _correction(self, kind: str, target: str) -> dict[str, Any]:
        prefix = {"amendment": "am", "withdrawal": "wd", "lapse": "lp"}[kind]
        record = self._base(kind, prefix)
        record["target"] = target
        record["reason"] = {
            "amendment": "revised figure",
            "withdrawal": "cancelled",
            "lapse": "deadline passed",
        }[kind]
        return record

    def report(self) -> dict[str, Any] | None:
        """Another outlet's figure for a record (any status, any date near today): side
        information that never changes a total."""
        record = self._base("report", "rp")
        if self.rng.random() < 0.3 and self.letters:
            letter = self.rng.choice(self.letters)
            about, unit, amount = letter.id, letter.unit, letter.amount
        else:
            tree = self.rng.choice(self.trees)
            node = self.rng.choice(tree.nodes[-8:])
            about, unit, amount = node.id, tree.unit, node.amount
        record.update(about=about, amount=None, unit=unit)
        if not self._undisclosed():
            figure = self._amount(max(amount, 1) * self.rng.randint(8, 13) // 10)
            self._figure(record, figure, self._bound())
        on = self.day - timedelta(days=self.rng.randint(0, 30))
        return self._dated(record, "reported_on", on)

    def amendment(self) -> dict[str, Any] | None:
        choice = self.rng.random()
        if choice < 0.2 and self.letters:
            letter = self.rng.choice(self.letters)
            if not letter.active:
                return None
            letter.amount = self._amount(max(letter.amount, 1) * 2)
            record = self._correction("amendment", letter.id)
            self._amended(record, letter.amount, letter.bound, letter.undisclosed)
            letter.latest = self.day
            letter.undisclosed = False
            letter.bound = record.get("bound", letter.bound)
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
            self._amended(record, new, delivered.bound, delivered.undisclosed)
            delivered.bound = record.get("bound", delivered.bound)
            delivered.undisclosed = False
            tree.barrier = self.day
            return self._dated(record)
        node = self.rng.choice(tree.nodes[-8:])
        if not node.active:
            return None
        floor = max(node.allocated, node.delivered, 1)
        parent = node.parent
        ceiling = max(node.amount, floor) * 2  # an undisclosed figure (0 here) gets one
        if parent is not None and not parent.at_least:
            ceiling = min(ceiling, node.amount + self._room(parent))
        if ceiling < floor:
            return None
        new = self.rng.randint(floor, ceiling)
        if parent is not None:
            parent.allocated += new - node.amount
        node.amount = new
        record = self._correction("amendment", node.id)
        self._amended(record, new, node.bound, node.undisclosed, keep_floor=node.at_least)
        node.bound = record.get("bound", node.bound)
        node.undisclosed = False
        node.at_least = node.bound == "at_least"
        tree.barrier = self.day
        return self._dated(record)

    def _amended(
        self,
        record: dict[str, Any],
        amount: int,
        bound: str,
        undisclosed: bool,
        *,
        keep_floor: bool = False,
    ) -> None:
        """An amendment's figure: ``amount``, now and then with a new bound (a floor stays a
        floor, so that what it holds stays within the rules) or a stated range."""
        new_bound = bound
        if not keep_floor and self.rng.random() < 0.2:
            new_bound = self.rng.choice(["exact", "up_to", "about"])
            record["bound"] = new_bound
        if undisclosed and new_bound == "exact":
            record.pop("bound", None)
        record["amount"] = self._fig(amount)
        if new_bound not in ("exact", "at_least") and self.rng.random() < 0.3:
            if "bound" not in record:
                record["bound"] = new_bound
            record["low"] = self._fig(amount * self.rng.randint(5, 10) // 10)

    def withdrawal(self) -> dict[str, Any] | None:
        kind = "lapse" if self.rng.random() < 0.3 else "withdrawal"
        if self.rng.random() < 0.3 and self.letters:
            letter = self.rng.choice(self.letters)
            if not letter.active:
                return None
            letter.active = False
            return self._dated(self._correction(kind, letter.id))
        tree = self.rng.choice(self.trees)
        if self.rng.random() < 0.3 and tree.deliveries:
            delivered = self.rng.choice(tree.deliveries[-5:])
            if not delivered.active:
                return None
            delivered.active = False
            self._deliver(delivered.node, -delivered.amount, -1)
            tree.barrier = self.day
            return self._dated(self._correction("withdrawal", delivered.id))
        node = self.rng.choice(tree.nodes[-8:])
        if not node.active or node.delivered or node.deliveries:
            return None
        self._cancel(node)
        tree.barrier = self.day
        if node.parent is not None:
            node.parent.allocated -= node.amount
        return self._dated(self._correction(kind, node.id))

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
            self.report,
        ]
        weights = [18, 30, 24, 8, 13, 5, 0.3, 3]
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
