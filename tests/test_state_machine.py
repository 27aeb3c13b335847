"""Random command sequences against the public API, checked against a reference model.

The model below is written from DESIGN.md, issue 8 and docs/semantics.md alone (words,
invariants 1-5, withdrawal and lapse rules, reports, links, deadlines, ranges and totals
semantics) plus the date barrier, and shares no code with the library beyond parsing a record.
Hypothesis drives pledges, nested tranches, deliveries, LOIs, reports, amendments (some adopting
a report), withdrawals, lapses and conversions, with figures of every kind (exact, up to, at
least, about, stated ranges, undisclosed), records tied toward others and deadlines, many of
them invalid on purpose (over-allocation, a wrong unit, unknown or withdrawn references, cuts
below what is allocated, dates before their parent or before a correction, ranges that do not
hold their figure, an adopted report that differs, a converted letter corrected), and after
every step checks:

* the ledger accepted exactly what the model accepts, and a refusal names an invariant the
  model says was broken, and changed nothing (events, head, every total);
* invariants 2 and 3 on every ``tree()`` view, and each view's figures, ranges and status
  against the model;
* totals by every grouping equal the model's (headlines, ranges, undisclosed counts and tied
  parts), add up to the same grand totals per unit, ``pledged == allocated + unallocated`` and
  ``low <= figure <= high`` in every row (invariant 6);
* ``replay(verify=True)`` finds no problem and gives the same totals (invariant 7);
* totals as of the latest world date are today's; totals as of any date, and as known at any
  recorded time, equal the model folded over just those events.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from helpers import (
    FakeClock,
    Record,
    agreement,
    amendment,
    delivery,
    lapse,
    loi,
    pledge,
    report,
    snapshot,
    tranche,
    withdrawal,
)
from pledgeledger import (
    GROUPS,
    DuplicateId,
    InvalidRecord,
    Ledger,
    LedgerError,
    NodeView,
    Refused,
    Totals,
    structure_event,
)

ZERO = Decimal(0)
DAY0 = date(2025, 1, 1)
UNITS = ("USD", "JPY")
SECTORS = ("cross-sector", "energy", "energy/nuclear", "energy/gas", "ai/chips")
PARTIES = ("Japan", "Korea", "US")
AT_LEAST = "at_least"
ACTIVE, WITHDRAWN, LAPSED, CONVERTED = "active", "withdrawn", "lapsed", "converted"

High = Decimal | None
"""The high end of a range; ``None`` is unbounded."""
Row = tuple[
    Decimal,  # pledged
    Decimal,  # allocated
    Decimal,  # delivered
    Decimal,  # intended
    Decimal,  # pledged_low
    High,  # pledged_high
    Decimal,  # allocated_low
    High,  # allocated_high
    Decimal,  # delivered_low
    High,  # delivered_high
    Decimal,  # intended_low
    High,  # intended_high
    int,  # undisclosed
    Decimal,  # pledged_toward
    Decimal,  # intended_toward
]
Table = dict[tuple[str | None, str], Row]


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


def world_date(record: Record) -> date:
    for key in ("announced_on", "delivered_on", "signed_on", "reported_on"):
        if key in record:
            return date.fromisoformat(record[key])
    raise AssertionError(record)  # pragma: no cover


def dec(record: Record, key: str) -> Decimal | None:
    value = record.get(key)
    return None if value is None else Decimal(value)


# -- figures, as issue 8 and docs/format.md define them ----------------------------------------


def interval(
    amount: Decimal | None, bound: str, low: Decimal | None, high: Decimal | None
) -> tuple[Decimal, High]:
    """The range a figure stands for (docs/semantics.md, "Ranges")."""
    if amount is None:
        return ZERO, None
    lo: Decimal
    hi: High
    if bound == "up_to":
        lo, hi = ZERO, amount
    elif bound == AT_LEAST:
        lo, hi = amount, None
    elif bound == "about":
        lo, hi = amount * Decimal("0.9"), amount * Decimal("1.1")
    else:
        lo, hi = amount, amount
    return (lo if low is None else low), (hi if high is None else high)


def figure_faults(
    amount: Decimal | None, bound: str | None, low: Decimal | None, high: Decimal | None
) -> tuple[bool, bool]:
    """(malformed, range broken) for a figure as docs/format.md words it."""
    stated = low is not None or high is not None
    if amount is None:
        return stated or bound not in (None, "exact"), False
    if stated and bound in (None, "exact"):
        return True, False
    if any(v is not None and v < 0 for v in (low, high)):
        return False, True
    broken = (low is not None and low > amount) or (high is not None and high < amount)
    return False, broken


def add_high(a: High, b: High) -> High:
    return None if a is None or b is None else a + b


def held(headline: Decimal, low: Decimal, high: High) -> tuple[Decimal, High]:
    """A range widened to hold its headline (a floor carved beyond its figure)."""
    return min(low, headline), None if high is None else max(high, headline)


# -- the reference model ------------------------------------------------------------------------


@dataclass
class MNode:
    id: str
    root: str
    parent: str | None
    amount: Decimal | None
    bound: str
    unit: str
    sector: str
    day: date
    low: Decimal | None = None
    high: Decimal | None = None
    toward: str | None = None
    status: str = ACTIVE
    children: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def caps(self) -> bool:
        return self.bound != AT_LEAST and self.amount is not None

    @property
    def headline(self) -> Decimal:
        return self.amount or ZERO

    @property
    def range(self) -> tuple[Decimal, High]:
        return interval(self.amount, self.bound, self.low, self.high)


@dataclass
class MDelivery:
    id: str
    root: str
    parent: str
    amount: Decimal | None
    unit: str
    day: date
    bound: str = "exact"
    low: Decimal | None = None
    high: Decimal | None = None
    active: bool = True


@dataclass
class MLetter:
    id: str
    amount: Decimal | None
    bound: str
    unit: str
    sector: str
    party: str
    counterparty: str
    agreement: str | None
    latest: date
    low: Decimal | None = None
    high: Decimal | None = None
    toward: str | None = None
    status: str = ACTIVE
    converted_by: str | None = None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


@dataclass
class MAgreement:
    id: str
    signed: date
    active: bool = True


@dataclass
class MReport:
    id: str
    about: str
    owner: str  # the root (pledge, LOI or agreement) whose boundary holds it
    amount: Decimal | None
    bound: str
    low: Decimal | None
    high: Decimal | None


@dataclass
class Verdict:
    """What the model expects of a command: accepted (with what it records and skips), or
    refused with one of ``invariants`` (``None`` for a refusal DESIGN.md does not number);
    ``error`` may name two kinds when a record is both malformed and refused."""

    accepted: bool
    error: type[LedgerError] | tuple[type[LedgerError], ...] = Refused
    invariants: frozenset[int | None] = frozenset()
    recorded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    why: str = ""


@dataclass
class Model:
    records: dict[str, Record] = field(default_factory=dict)
    nodes: dict[str, MNode] = field(default_factory=dict)
    deliveries: dict[str, MDelivery] = field(default_factory=dict)
    letters: dict[str, MLetter] = field(default_factory=dict)
    agreements: dict[str, MAgreement] = field(default_factory=dict)
    reports: dict[str, MReport] = field(default_factory=dict)
    corrected: dict[str, str] = field(default_factory=dict)  # correction id -> its target
    latest: dict[str, date] = field(default_factory=dict)  # pledge id -> latest date in tree
    barrier: dict[str, date] = field(default_factory=dict)  # pledge id -> latest correction

    # -- queries ------------------------------------------------------------------------------

    def allocated(self, node: MNode) -> Decimal:
        return sum((self.nodes[c].headline for c in node.children if self.nodes[c].active), ZERO)

    def delivered(self, node: MNode) -> Decimal:
        own = sum(
            (
                self.deliveries[d].amount or ZERO
                for d in node.deliveries
                if self.deliveries[d].active
            ),
            ZERO,
        )
        return own + sum(
            (self.delivered(self.nodes[c]) for c in node.children if self.nodes[c].active), ZERO
        )

    def any_delivery(self, node: MNode) -> bool:
        if any(self.deliveries[d].active for d in node.deliveries):
            return True
        return any(self.any_delivery(self.nodes[c]) for c in node.children if self.nodes[c].active)

    def ancestors(self, node_id: str) -> list[MNode]:
        out = []
        current: str | None = node_id
        while current is not None:
            out.append(self.nodes[current])
            current = self.nodes[current].parent
        return out

    def owner_of(self, record_id: str) -> str | None:
        """The root whose consistency boundary holds ``record_id``."""
        if record_id in self.nodes:
            return self.nodes[record_id].root
        if record_id in self.deliveries:
            return self.deliveries[record_id].root
        if record_id in self.letters or record_id in self.agreements:
            return record_id
        if record_id in self.reports:
            return self.reports[record_id].owner
        if record_id in self.corrected:
            return self.owner_of(self.corrected[record_id])
        return None

    def _kind_of_correction_owner(self, correction_id: str) -> str:
        target = self.corrected[correction_id]
        if target in self.corrected:  # pragma: no cover  # corrections are never corrected
            return self._kind_of_correction_owner(target)
        if target in self.letters:
            return "letter"
        if target in self.agreements:
            return "agreement"
        return "tree"

    def effective_low(self, node: MNode) -> Decimal:
        kids = [self.nodes[c] for c in node.children if self.nodes[c].active]
        return max(node.range[0], sum((self.effective_low(k) for k in kids), ZERO))

    def unit_of(self, record_id: str) -> str | None:
        for pool in (self.nodes, self.deliveries, self.letters):
            if record_id in pool:
                return str(pool[record_id].unit)
        return None

    # -- invariants ---------------------------------------------------------------------------

    def verdict(self, record: Record) -> Verdict:
        """The verdict on one record against the current state (nothing changes)."""
        known = self.records.get(record["id"])
        if known is not None:
            if structure_event(known) == structure_event(record):
                return Verdict(True, skipped=(record["id"],))
            return Verdict(False, DuplicateId, frozenset({None}), why="duplicate id")
        malformed, broken = self._broken(record)
        why = str(sorted(broken, key=str)) + (" malformed" if malformed else "")
        if malformed and broken:
            return Verdict(False, (InvalidRecord, Refused), frozenset(broken), why=why)
        if malformed:
            return Verdict(False, InvalidRecord, why=why)
        if broken:
            return Verdict(False, Refused, frozenset(broken), why=why)
        return Verdict(True, recorded=(record["id"],))

    def _shape(self, r: Record, bound: str | None = None) -> tuple[bool, set[int | None]]:
        """Invariant 1's sign and ranges, deadlines and self-ties: what needs no state."""
        broken: set[int | None] = set()
        amount = dec(r, "amount")
        if amount is not None and amount <= 0:
            broken.add(1)
        malformed = False
        if r["type"] in ("pledge", "tranche", "loi", "delivery", "report") or (
            r["type"] == "amendment" and (r.get("bound") or bound) is not None
        ):
            malformed, bad_range = figure_faults(
                amount, r.get("bound") or bound, dec(r, "low"), dec(r, "high")
            )
            if bad_range and not (amount is not None and amount <= 0):
                broken.add(1)
        if "due_by" in r and date.fromisoformat(r["due_by"]) < world_date(r):
            broken.add(None)
        if r.get("toward") == r["id"]:
            broken.add(None)
        return malformed, broken

    def _broken(self, r: Record) -> tuple[bool, set[int | None]]:
        kind = r["type"]
        malformed, broken = self._shape(r)
        amount = dec(r, "amount")
        when = world_date(r)
        if kind in ("pledge", "loi") and "agreement" in r:
            ag = self.agreements.get(r["agreement"])
            if ag is None or not ag.active or when < ag.signed:
                broken.add(5)
        if kind in ("pledge", "loi") and "toward" in r and r["toward"] != r["id"]:
            broken |= self._broken_toward(r, when)
        if kind in ("tranche", "delivery"):
            parent = self.nodes.get(r["parent"])
            if parent is None:
                return malformed, broken | {5}
            if not parent.active or when < parent.day or when < self.barrier[parent.root]:
                broken.add(5)
            if r["unit"] != parent.unit:
                broken.add(1)
            headline = amount or ZERO
            if kind == "tranche":
                if parent.caps:
                    assert parent.amount is not None
                    if self.allocated(parent) + headline > parent.amount:
                        broken.add(2)
            else:
                for node in self.ancestors(parent.id):
                    if node.caps:
                        assert node.amount is not None
                        if self.delivered(node) + headline > node.amount:
                            broken.add(3)
        if kind in ("pledge", "tranche") and "converts" in r:
            broken |= self._broken_converts(r, when)
        if kind == "report":
            broken |= self._broken_report(r)
        if kind in ("amendment", "withdrawal", "lapse"):
            more_malformed, more = self._broken_correction(r, amount, when)
            malformed = malformed or more_malformed
            broken |= more
        return malformed, broken

    def _broken_toward(self, r: Record, when: date) -> set[int | None]:
        ref = r["toward"]
        if ref in self.nodes:
            target_unit, target_day = self.nodes[ref].unit, self.nodes[ref].day
            active = self.nodes[ref].active
        elif ref in self.letters:
            letter = self.letters[ref]
            target_unit, active = letter.unit, letter.active
            target_day = world_date(self.records[ref])
        elif self.owner_of(ref) is not None:
            return {None}  # a delivery, agreement, correction or report: not a figure to tie to
        else:
            return {5}
        broken: set[int | None] = set()
        if not active:
            broken.add(5)
        if target_unit != r["unit"]:
            broken.add(None)
        if when < target_day:
            broken.add(5)
        return broken

    def _broken_converts(self, r: Record, when: date) -> set[int | None]:
        letter = self.letters.get(r["converts"])
        if letter is None:
            return {5}
        if letter.status == CONVERTED:
            return {None}
        broken: set[int | None] = set()
        if not letter.active:
            broken.add(5)
        if when < letter.latest:
            broken.add(5)
        return broken

    def _broken_report(self, r: Record) -> set[int | None]:
        about = r["about"]
        unit = self.unit_of(about)
        if unit is None:
            return {5}  # unknown, or a record with no figure (agreement, correction, report)
        return {1} if r["unit"] != unit else set()

    def _broken_adopts(self, r: Record, target_root: str | None) -> set[int | None]:
        found = self.reports.get(r["adopts"])
        if found is None or found.owner != target_root:
            return {5}
        if found.about != r["target"]:
            return {None, 5}  # a report about another record (in the same tree or not)
        differs = Decimal(r["amount"]) != found.amount
        for name, theirs in (("bound", found.bound), ("low", found.low), ("high", found.high)):
            if name in r:
                ours: Any = r[name] if name == "bound" else Decimal(r[name])
                differs = differs or ours != theirs
        return {None} if differs else set()

    def _broken_correction(
        self, r: Record, amount: Decimal | None, when: date
    ) -> tuple[bool, set[int | None]]:
        target = r["target"]
        kind = r["type"]
        amend = kind == "amendment"
        broken: set[int | None] = set()
        if target in self.corrected:  # corrections are not corrected
            owner = self._kind_of_correction_owner(target)
            return False, broken | (
                {None} if owner == "agreement" and kind != "withdrawal" else {5}
            )
        if target in self.reports:  # a report is no figure
            return False, broken | {5}
        if target in self.agreements:
            ag = self.agreements[target]
            if kind != "withdrawal":
                return False, broken | {None}  # an agreement has no figure, no deadline
            if not ag.active or when < ag.signed:
                broken.add(5)
            return False, broken
        malformed = False
        if target in self.letters:
            letter = self.letters[target]
            if letter.status == CONVERTED:
                return False, broken | {None}
            if not letter.active or when < letter.latest:
                broken.add(5)
            if amend:
                malformed, more = self._shape(r, letter.bound)
                broken |= more
                if "adopts" in r:
                    broken |= self._broken_adopts(r, target)
            return malformed, broken
        if target in self.deliveries:
            d = self.deliveries[target]
            if not d.active or when < self.latest[d.root]:
                broken.add(5)
            if kind == "lapse":
                broken.add(None)  # a delivery does not lapse
            if amend and amount is not None:
                malformed, more = self._shape(r, d.bound)
                broken |= more
                if "adopts" in r:
                    broken |= self._broken_adopts(r, d.root)
                for above in self.ancestors(d.parent):
                    was = (d.amount or ZERO) if d.active else ZERO
                    after = self.delivered(above) - was + amount
                    if above.caps and above.amount is not None and after > above.amount:
                        broken.add(3)
            return malformed, broken
        found = self.nodes.get(target)
        if found is None:
            return False, broken | {5}
        node = found
        if not node.active or when < self.latest[node.root]:
            broken.add(5)
        if not amend:
            if self.any_delivery(node):
                broken.add(None)  # amend it down instead
            return False, broken
        assert amount is not None
        malformed, more = self._shape(r, node.bound)
        broken |= more
        if "adopts" in r:
            broken |= self._broken_adopts(r, node.root)
        if r.get("bound", node.bound) != AT_LEAST and (
            amount < self.allocated(node) or amount < self.delivered(node)
        ):
            broken.add(4)
        if node.parent is not None:
            parent = self.nodes[node.parent]
            after = self.allocated(parent) - node.headline + amount
            if parent.caps and parent.amount is not None and after > parent.amount:
                broken.add(2)
        return malformed, broken

    # -- state changes ------------------------------------------------------------------------

    def apply(self, r: Record) -> None:
        """Change state by an accepted record (or a skipped one: nothing)."""
        if r["id"] in self.records:
            return
        kind, when = r["type"], world_date(r)
        if kind == "report" and self.owner_of(r["about"]) is None:
            return  # folded as of a date before its record: a report of nothing yet
        self.records[r["id"]] = r
        amount = dec(r, "amount")
        low, high = dec(r, "low"), dec(r, "high")
        if kind == "agreement":
            self.agreements[r["id"]] = MAgreement(r["id"], when)
        elif kind == "pledge":
            self.nodes[r["id"]] = MNode(
                r["id"],
                r["id"],
                None,
                amount,
                r.get("bound", "exact"),
                r["unit"],
                r["sector"],
                when,
                low,
                high,
                r.get("toward"),
            )
            self.latest[r["id"]] = when
            self.barrier[r["id"]] = date.min
        elif kind == "tranche":
            parent = self.nodes[r["parent"]]
            self.nodes[r["id"]] = MNode(
                r["id"],
                parent.root,
                parent.id,
                amount,
                r.get("bound", "exact"),
                r["unit"],
                r["sector"],
                when,
                low,
                high,
            )
            parent.children.append(r["id"])
            self.latest[parent.root] = max(self.latest[parent.root], when)
        elif kind == "delivery":
            parent = self.nodes[r["parent"]]
            self.deliveries[r["id"]] = MDelivery(
                r["id"],
                parent.root,
                parent.id,
                amount,
                r["unit"],
                when,
                r.get("bound", "exact"),
                low,
                high,
            )
            parent.deliveries.append(r["id"])
            self.latest[parent.root] = max(self.latest[parent.root], when)
        elif kind == "loi":
            self.letters[r["id"]] = MLetter(
                r["id"],
                amount,
                r.get("bound", "exact"),
                r["unit"],
                r["sector"],
                r["party"],
                r["counterparty"],
                r.get("agreement"),
                when,
                low,
                high,
                r.get("toward"),
            )
        elif kind == "report":
            owner = self.owner_of(r["about"])
            assert owner is not None
            self.reports[r["id"]] = MReport(
                r["id"], r["about"], owner, amount, r.get("bound", "exact"), low, high
            )
        else:
            self._apply_correction(r, kind, amount, when)
        if "converts" in r:
            letter = self.letters[r["converts"]]
            letter.status, letter.converted_by = CONVERTED, r["id"]

    def _apply_correction(self, r: Record, kind: str, amount: Decimal | None, when: date) -> None:
        target = r["target"]
        self.corrected[r["id"]] = target
        amend = kind == "amendment"
        ended = LAPSED if kind == "lapse" else WITHDRAWN
        low, high = dec(r, "low"), dec(r, "high")
        if target in self.agreements:
            self.agreements[target].active = False
            return
        if target in self.letters:
            letter = self.letters[target]
            letter.latest = when
            if amend:
                letter.amount = amount
                letter.bound = r.get("bound", letter.bound)
                letter.low, letter.high = low, high
            else:
                letter.status = ended
            return
        owner = self.deliveries.get(target) or self.nodes[target]
        root = owner.root
        self.latest[root] = max(self.latest[root], when)
        self.barrier[root] = max(self.barrier[root], when)
        if target in self.deliveries:
            d = self.deliveries[target]
            if amend:
                d.amount, d.bound = amount, r.get("bound", d.bound)
                d.low, d.high = low, high
            else:
                d.active = False
            return
        node = self.nodes[target]
        if amend:
            node.amount = amount
            node.bound = r.get("bound", node.bound)
            node.low, node.high = low, high
            return
        stack = [node]
        while stack:
            current = stack.pop()
            current.status = ended
            stack.extend(self.nodes[c] for c in current.children if self.nodes[c].active)

    @classmethod
    def fold(cls, records: list[Record]) -> Model:
        model = cls()
        for record in records:
            model.apply(record)
        return model

    # -- totals -------------------------------------------------------------------------------

    def totals(self, by: str, depth: int | None = None) -> Table:
        """Every row's figures, ranges, undisclosed count and tied parts (docs/semantics.md,
        "Totals" and "Ranges"), computed from the records as they stand."""
        rows: dict[tuple[str | None, str], list[Any]] = defaultdict(
            lambda: [
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
                0,
                ZERO,
                ZERO,
            ]
        )
        # pledged, allocated, delivered, intended, then lows and highs in that order
        # (indexes 4-11, highs None when unbounded), undisclosed, pledged_toward,
        # intended_toward.

        def key_of(sector: str, keys: tuple[str | None, str, str]) -> str | None:
            if by == "sector":
                return sector if depth is None else "/".join(sector.split("/")[:depth])
            return {"agreement": keys[0], "pledger": keys[1], "recipient": keys[2]}[by]

        def add(row: list[Any], at: int, headline: Decimal, low: Decimal, high: High) -> None:
            row[at] += headline
            row[4 + 2 * at] += low
            row[5 + 2 * at] = add_high(row[5 + 2 * at], high)

        for node in self.nodes.values():
            if not node.active:
                continue
            root = self.records[node.root]
            keys = (root.get("agreement"), root["pledger"], root["recipient"])
            row = rows[(key_of(node.sector, keys), node.unit)]
            kids = [self.nodes[c] for c in node.children if self.nodes[c].active]
            kid_amount = sum((k.headline for k in kids), ZERO)
            kid_low = sum((self.effective_low(k) for k in kids), ZERO)
            kid_high: High = ZERO
            for k in kids:
                kid_high = add_high(kid_high, k.range[1])
            own_high = node.range[1]
            if by == "sector":
                headline = node.headline - kid_amount
                low = ZERO if kid_high is None else max(ZERO, self.effective_low(node) - kid_high)
                high = None if own_high is None else own_high - kid_low
                low, high = held(headline, low, high)
                add(row, 0, headline, low, high)
                if node.parent is not None:
                    add(row, 1, headline, low, high)
                if node.parent is None and node.toward is not None:
                    row[13] += headline
            elif node.parent is None:
                add(row, 0, node.headline, *held(node.headline, self.effective_low(node), own_high))
                cap = kid_high
                if own_high is not None:
                    cap = own_high if cap is None else min(cap, own_high)
                add(row, 1, kid_amount, *held(kid_amount, kid_low, cap))
                if node.toward is not None:
                    row[13] += node.headline
            if node.amount is None:
                row[12] += 1
            for d in node.deliveries:
                delivered = self.deliveries[d]
                if delivered.active:
                    figure = interval(
                        delivered.amount, delivered.bound, delivered.low, delivered.high
                    )
                    add(row, 2, delivered.amount or ZERO, *figure)
                    if delivered.amount is None:
                        row[12] += 1
        for letter in self.letters.values():
            if letter.active:
                keys = (letter.agreement, letter.party, letter.counterparty)
                row = rows[(key_of(letter.sector, keys), letter.unit)]
                figure = interval(letter.amount, letter.bound, letter.low, letter.high)
                add(row, 3, letter.amount or ZERO, *figure)
                if letter.amount is None:
                    row[12] += 1
                if letter.toward is not None:
                    row[14] += letter.amount or ZERO
        return {
            k: (
                v[0],
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                v[8],
                v[9],
                v[10],
                v[11],
                v[12],
                v[13],
                v[14],
            )
            for k, v in rows.items()
            if any(x is None or x != 0 for x in v)
        }


def row_of(r: Totals) -> Row:
    return (
        r.pledged,
        r.allocated,
        r.delivered,
        r.intended,
        r.pledged_low,
        r.pledged_high,
        r.allocated_low,
        r.allocated_high,
        r.delivered_low,
        r.delivered_high,
        r.intended_low,
        r.intended_high,
        r.undisclosed,
        r.pledged_toward,
        r.intended_toward,
    )


def table(ledger: Ledger, by: Any, **kw: Any) -> Table:
    rows = ledger.totals(by=by, **kw)
    for row in rows:
        assert row.pledged == row.allocated + row.unallocated
        for figure in ("pledged", "allocated", "delivered", "intended"):
            low, high = row.range_of(figure)
            headline = getattr(row, figure)
            assert low <= headline, (row, figure)
            assert high is None or headline <= high, (row, figure)
    out = {(r.key, r.unit): row_of(r) for r in rows}
    assert len(out) == len(rows), "a group and unit appear in two rows"
    return out


def grand(rows: Table) -> dict[str, tuple[Any, ...]]:
    """Grand totals per unit of what every grouping must agree on: the headline figures, the
    ranges of delivered and intended, the undisclosed count and the intended part tied
    toward other records (pledged and allocated ranges differ by design: by sector a tree's
    rows are summed taken alone)."""
    out: dict[str, list[Any]] = defaultdict(lambda: [ZERO] * 4 + [ZERO, ZERO, ZERO, ZERO, 0, ZERO])
    for (_, unit), r in rows.items():
        total = out[unit]
        for i in range(4):
            total[i] += r[i]
        total[4] += r[8]
        total[5] = add_high(total[5], r[9])
        total[6] += r[10]
        total[7] = add_high(total[7], r[11])
        total[8] += r[12]
        total[9] += r[14]
    return {unit: tuple(v) for unit, v in out.items()}


# -- the machine ---------------------------------------------------------------------------------

amounts = st.one_of(
    st.integers(1, 120).map(Decimal),
    st.integers(1, 12000).map(lambda cents: Decimal(cents) / 100),
)
bounds = st.sampled_from(["exact", "exact", "exact", "up_to", AT_LEAST, "about"])


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(step=timedelta(minutes=1))
        self.ledger = Ledger.open(":memory:", clock=self.clock)
        self.model = Model()
        self.log: list[Record] = []  # accepted records, in log order
        self.counter = 0

    def teardown(self) -> None:
        self.ledger.close()

    # -- helpers ------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def pick_id(self, data: st.DataObject, *pools: dict[str, Any] | list[str]) -> str:
        """An id from one of ``pools`` (list a pool twice to pick from it twice as often), now
        and then an unknown one."""
        filled = [sorted(pool) for pool in pools if pool]
        if not filled or data.draw(st.integers(0, 11)) == 0:
            return data.draw(st.sampled_from(["ghost", "p0", self.new_id("x")]))
        return data.draw(st.sampled_from(data.draw(st.sampled_from(filled))))

    def when(self, data: st.DataObject, after: date, *, careful: bool = False) -> str:
        """A date near ``after``: mostly on or after it, sometimes (unless ``careful``) before."""
        offsets = [0, 0, 1, 2, 3, 7, 20] + ([] if careful else [-1, -3])
        return day(max(0, (after - DAY0).days + data.draw(st.sampled_from(offsets))))

    def amount(
        self, data: st.DataObject, room: Decimal | None = None, *, careful: bool = False
    ) -> str:
        """Mostly a part of the room left, often exactly it or (unless ``careful``) one cent
        over, now and then anything, and now and then not positive."""
        ways = ["part", "part", "part", "room"] + ([] if careful else ["over", "any", "bad"])
        how = data.draw(st.sampled_from(ways))
        if how == "part" and room is not None and room > 0:
            part = (room * data.draw(st.integers(1, 3)) / 4).quantize(Decimal("0.01"))
            if part > 0:
                return str(part)
        if how == "room" and room is not None and room > 0:
            return str(room)
        if how == "over" and room is not None:
            return str(room + Decimal("0.01"))
        if how == "bad":
            return data.draw(st.sampled_from(["0", "-1", "-0.01"]))
        return str(data.draw(amounts))

    def figure(
        self,
        data: st.DataObject,
        record: Record,
        *,
        careful: bool = False,
        may_hide: bool = True,
        bound: str | None = None,
    ) -> Record:
        """Make ``record``'s figure one of every kind: now and then undisclosed, about, or with
        a stated range (which, unless ``careful``, may not hold the figure, or sit on an exact
        figure, or on an undisclosed one)."""
        if bound is not None:
            record["bound"] = bound
        if may_hide and data.draw(st.integers(0, 11)) == 0:
            record["amount"] = None
            record.pop("bound", None)
            if not careful and data.draw(st.integers(0, 5)) == 0:
                record["low"] = "1"  # an undisclosed figure has no range: malformed
            return record
        choice = data.draw(st.integers(0, 9))
        amount = Decimal(record["amount"])
        if choice == 0:
            record["bound"] = "about"
        elif choice == 1 and record.get("bound", "exact") != "exact":
            record["low"] = str((amount * Decimal("0.5")).quantize(Decimal("0.01")))
        elif choice == 2 and record.get("bound", "exact") != "exact":
            record["high"] = str((abs(amount) * Decimal("1.5")).quantize(Decimal("0.01")))
        elif choice == 3 and not careful:
            ways = ["above", "exact", "negative"]
            way = data.draw(st.sampled_from(ways))
            if way == "above":  # a low above its figure
                record["low"] = str(abs(amount) + 1)
                record.setdefault("bound", "about")
            elif way == "exact":  # an exact figure with a range: malformed
                record["bound"] = "exact"
                record["high"] = str(abs(amount) + 1)
            else:
                record["bound"] = "up_to"
                record["low"] = "-1"
        return record

    def submit(self, *records: Record) -> None:
        """Record a batch; the ledger must do exactly what the model says, and a refusal must
        leave everything a reader can see as it was."""
        trial = copy.deepcopy(self.model)
        verdict = Verdict(True)
        recorded: list[str] = []
        skipped: list[str] = []
        for record in records:
            one = trial.verdict(record)
            if not one.accepted:
                verdict = one
                break
            recorded.extend(one.recorded)
            skipped.extend(one.skipped)
            trial.apply(record)
        before = snapshot(self.ledger)
        error: LedgerError | None = None
        try:
            result = self.ledger.record(*records)
        except LedgerError as exc:
            error = exc
        if error is not None:
            assert not verdict.accepted, f"refused what the model accepts: {error}"
            assert isinstance(error, verdict.error), f"{error!r}, expected {verdict}"
            if isinstance(error, Refused) and not isinstance(error, DuplicateId):
                assert error.invariant in verdict.invariants, f"{error}; expected {verdict.why}"
            assert snapshot(self.ledger) == before, "a refused command changed the ledger"
            return
        assert verdict.accepted, f"accepted what breaks {verdict.why}: {records}"
        assert result.recorded == tuple(recorded)
        assert result.skipped == tuple(skipped)
        self.model = trial
        self.log.extend(r for r in records if r["id"] in recorded)

    # -- rules: new records -------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        self.submit(agreement("acme", on=day(0)), agreement("late", on=day(20)))

    @rule(data=st.data())
    def add_agreement(self, data: st.DataObject) -> None:
        ids = [a for a in self.model.agreements if self.model.agreements[a].active]
        if data.draw(st.booleans()) and ids:
            # Withdrawing one is the interesting part: nothing new may refer to it after.
            target = data.draw(st.sampled_from(sorted(ids)))
            self.submit(withdrawal(self.new_id("w"), target, on=self.when(data, DAY0)))
        else:
            self.submit(agreement(self.new_id("a"), on=day(data.draw(st.integers(0, 30)))))

    def links(self, data: st.DataObject, record: Record, *, toward: bool, converts: bool) -> Record:
        """Now and then a deadline, a tie toward another record, or a letter converted."""
        m = self.model
        if data.draw(st.integers(0, 7)) == 0:
            record["due_by"] = self.when(data, world_date(record))
        if toward and data.draw(st.integers(0, 5)) == 0:
            record["toward"] = self.pick_id(data, m.nodes, m.letters, m.letters, m.deliveries)
        if converts and data.draw(st.integers(0, 5)) == 0:
            open_letters = [x for x in m.letters if m.letters[x].active]
            record["converts"] = self.pick_id(data, open_letters, open_letters, m.letters, m.nodes)
        return record

    def pledge_record(self, data: st.DataObject) -> Record:
        ref: str | None = None
        if data.draw(st.booleans()):
            ref = self.pick_id(data, self.model.agreements, self.model.agreements, self.model.nodes)
        record = pledge(
            self.new_id("p"),
            self.amount(data, Decimal(data.draw(st.integers(50, 1000)))),
            unit=data.draw(st.sampled_from(UNITS)),
            sector=data.draw(st.sampled_from(SECTORS)),
            on=day(data.draw(st.integers(0, 40))),
            pledger=data.draw(st.sampled_from(PARTIES)),
            recipient=data.draw(st.sampled_from(PARTIES)),
            agreement=ref,
            bound=data.draw(bounds),
        )
        return self.links(data, self.figure(data, record), toward=True, converts=True)

    def after(self, data: st.DataObject, parent: MNode | None) -> date:
        """The date a new child of ``parent`` is drawn near: its parent's, or the tree's
        last correction (the barrier), whichever the draw picks."""
        if parent is None:
            return DAY0
        barrier = self.model.barrier[parent.root]
        return max(parent.day, barrier) if data.draw(st.booleans()) else parent.day

    def tranche_record(self, data: st.DataObject) -> Record:
        active = [n for n in self.model.nodes if self.model.nodes[n].active]
        parent_id = self.pick_id(
            data,
            active,
            active,
            active,
            active,
            self.model.nodes,
            self.model.deliveries,
            self.model.letters,
            self.model.agreements,
        )
        parent = self.model.nodes.get(parent_id)
        room = None
        if parent is not None and parent.amount is not None:
            room = parent.amount - self.model.allocated(parent)
        unit = parent.unit if parent is not None else "USD"
        if data.draw(st.integers(0, 9)) == 0:
            unit = "JPY" if unit == "USD" else "USD"
        record = tranche(
            self.new_id("t"),
            parent_id,
            self.amount(data, room),
            unit=unit,
            sector=data.draw(st.sampled_from(SECTORS)),
            on=self.when(data, self.after(data, parent)),
            bound=data.draw(bounds),
        )
        return self.links(data, self.figure(data, record), toward=False, converts=True)

    def delivery_record(self, data: st.DataObject) -> Record:
        active = [n for n in self.model.nodes if self.model.nodes[n].active]
        m = self.model
        parent_id = self.pick_id(data, active, active, active, m.nodes, m.letters)
        parent = self.model.nodes.get(parent_id)
        room = None
        if parent is not None:
            rooms = [
                n.amount - self.model.delivered(n)
                for n in self.model.ancestors(parent_id)
                if n.amount is not None
            ]
            room = min(rooms) if rooms else None
        unit = parent.unit if parent is not None else "USD"
        if data.draw(st.integers(0, 9)) == 0:
            unit = "JPY" if unit == "USD" else "USD"
        record = delivery(
            self.new_id("d"),
            parent_id,
            self.amount(data, room),
            unit=unit,
            on=self.when(data, self.after(data, parent)),
        )
        if data.draw(st.integers(0, 5)) == 0:
            record["bound"] = data.draw(bounds)
        return self.figure(data, record)

    def loi_record(self, data: st.DataObject) -> Record:
        ref: str | None = None
        if data.draw(st.booleans()):
            ref = self.pick_id(data, self.model.agreements, self.model.letters)
        record = loi(
            self.new_id("l"),
            self.amount(data),
            unit=data.draw(st.sampled_from((*UNITS, "t LNG/yr"))),
            sector=data.draw(st.sampled_from(SECTORS)),
            on=day(data.draw(st.integers(0, 40))),
            party=data.draw(st.sampled_from(PARTIES)),
            counterparty=data.draw(st.sampled_from(PARTIES)),
            agreement=ref,
        )
        if data.draw(st.integers(0, 3)) == 0:
            record["bound"] = data.draw(bounds)
        return self.links(data, self.figure(data, record), toward=True, converts=False)

    def report_record(self, data: st.DataObject) -> Record:
        m = self.model
        about = self.pick_id(
            data, m.nodes, m.nodes, m.deliveries, m.letters, m.letters, m.agreements, m.corrected
        )
        unit = m.unit_of(about) or "USD"
        if data.draw(st.integers(0, 9)) == 0:
            unit = "JPY" if unit == "USD" else "USD"
        record = report(
            self.new_id("r"),
            about,
            self.amount(data),
            unit=unit,
            on=day(data.draw(st.integers(0, 60))),  # anywhere: reports move no barrier
            bound=data.draw(st.none() | bounds),
        )
        return self.figure(data, record)

    def latest_of(self, target: str) -> date:
        m = self.model
        if target in m.nodes:
            return m.latest[m.nodes[target].root]
        if target in m.deliveries:
            return m.latest[m.deliveries[target].root]
        if target in m.letters:
            return m.letters[target].latest
        if target in m.agreements:
            return m.agreements[target].signed
        if target in m.corrected:  # near its target's, so that only the target is wrong
            return self.latest_of(m.corrected[target])
        if target in m.reports:
            return self.latest_of(m.reports[target].about)
        return DAY0

    def amendment_record(self, data: st.DataObject) -> Record:
        m = self.model
        target = self.pick_id(
            data, m.nodes, m.nodes, m.deliveries, m.letters, m.corrected, m.agreements, m.reports
        )
        room: Decimal | None = None
        if target in m.nodes:
            node = m.nodes[target]
            # The smallest figure invariant 4 allows, so that "room" and "over" probe its edge.
            floor = max(m.allocated(node), m.delivered(node))
            room = floor - Decimal("0.01") if data.draw(st.booleans()) else floor
        on = self.when(data, self.latest_of(target))
        about = [r.id for r in m.reports.values() if r.about == target]
        if about and data.draw(st.integers(0, 2)) == 0:
            # Adopt a report's figure (and now and then differ from it, or adopt another).
            adopted = m.reports[data.draw(st.sampled_from(sorted(about)))]
            if data.draw(st.integers(0, 4)) == 0:
                adopted = m.reports[data.draw(st.sampled_from(sorted(m.reports)))]
            record = amendment(
                self.new_id("am"),
                target,
                str(adopted.amount if adopted.amount is not None else self.amount(data)),
                on=on,
                bound=adopted.bound if data.draw(st.booleans()) else None,
            )
            if adopted.low is not None and data.draw(st.booleans()):
                record["low"] = str(adopted.low)
            if adopted.high is not None and data.draw(st.booleans()):
                record["high"] = str(adopted.high)
            if data.draw(st.integers(0, 5)) == 0:
                record["amount"] = str(Decimal(record["amount"]) + 1)
            record["adopts"] = adopted.id
            return record
        record = amendment(
            self.new_id("am"),
            target,
            self.amount(data, room),
            on=on,
            bound=data.draw(st.none() | bounds),
        )
        return self.figure(data, record, may_hide=False)

    def withdrawal_record(self, data: st.DataObject) -> Record:
        m = self.model
        active = [n for n in m.nodes if m.nodes[n].active]
        parents = [n for n in active if m.nodes[n].children]  # withdrawals cascade from these
        target = self.pick_id(
            data,
            active,
            parents,
            parents,
            m.nodes,
            m.deliveries,
            m.deliveries,
            m.letters,
            m.corrected,
            m.agreements,
        )
        make = lapse if data.draw(st.integers(0, 3)) == 0 else withdrawal
        return make(self.new_id("w"), target, on=self.when(data, self.latest_of(target)))

    def any_record(self, data: st.DataObject) -> Record:
        makers: list[Callable[[st.DataObject], Record]] = [
            self.pledge_record,
            self.tranche_record,
            self.delivery_record,
            self.loi_record,
            self.amendment_record,
            self.withdrawal_record,
            self.report_record,
        ]
        make = data.draw(st.sampled_from(makers))
        return make(data)

    @rule(data=st.data())
    def add_pledge(self, data: st.DataObject) -> None:
        self.submit(self.pledge_record(data))

    @rule(data=st.data())
    def add_pledge_with_its_tree(self, data: st.DataObject) -> None:
        """A pledge with nested tranches and a delivery, in one batch, mostly valid."""
        root = self.pledge_record(data)
        careful = data.draw(st.integers(0, 3)) > 0
        records = [root]
        nodes = [root]
        room = {root["id"]: Decimal(root["amount"] or 1000)}
        for _ in range(data.draw(st.integers(1, 4))):
            parent = data.draw(st.sampled_from(nodes))
            child = tranche(
                self.new_id("t"),
                parent["id"],
                self.amount(data, room[parent["id"]], careful=careful),
                unit=parent["unit"],
                sector=data.draw(st.sampled_from(SECTORS)),
                on=self.when(data, date.fromisoformat(parent["announced_on"]), careful=careful),
                bound=data.draw(bounds),
            )
            child = self.figure(data, child, careful=careful)
            amount = Decimal(child["amount"] or 0)
            room[parent["id"]] -= max(amount, ZERO)
            room[child["id"]] = amount or Decimal(1000)
            records.append(child)
            nodes.append(child)
        if data.draw(st.booleans()):
            target = data.draw(st.sampled_from(nodes))
            records.append(
                delivery(
                    self.new_id("d"),
                    target["id"],
                    self.amount(data, room[target["id"]], careful=careful),
                    unit=target["unit"],
                    on=self.when(data, date.fromisoformat(target["announced_on"]), careful=careful),
                )
            )
        self.submit(*records)

    @precondition(lambda self: bool(self.model.nodes))
    @rule(data=st.data())
    def add_tranche(self, data: st.DataObject) -> None:
        self.submit(self.tranche_record(data))

    @precondition(lambda self: bool(self.model.nodes))
    @rule(data=st.data())
    def add_delivery(self, data: st.DataObject) -> None:
        self.submit(self.delivery_record(data))

    @rule(data=st.data())
    def add_letter(self, data: st.DataObject) -> None:
        self.submit(self.loi_record(data))

    @precondition(lambda self: bool(self.model.records))
    @rule(data=st.data())
    def add_report(self, data: st.DataObject) -> None:
        self.submit(self.report_record(data))

    @precondition(lambda self: any(x.active for x in self.model.letters.values()))
    @rule(data=st.data(), as_pledge=st.booleans())
    def convert_a_letter(self, data: st.DataObject, as_pledge: bool) -> None:
        """An open letter becomes a pledge, or a tranche of an existing tree (mostly valid)."""
        m = self.model
        letter = m.letters[
            data.draw(st.sampled_from(sorted(x for x in m.letters if m.letters[x].active)))
        ]
        if as_pledge or not m.nodes:
            record = self.pledge_record(data)
            record["announced_on"] = self.when(data, letter.latest)
            record.pop("agreement", None)
        else:
            record = self.tranche_record(data)
            parent = m.nodes.get(record["parent"])
            if parent is not None:
                record["announced_on"] = self.when(
                    data, max(letter.latest, self.after(data, parent))
                )
        record["converts"] = letter.id
        self.submit(record)

    @precondition(lambda self: bool(self.model.records))
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        self.submit(self.amendment_record(data))

    @precondition(lambda self: bool(self.model.records))
    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        self.submit(self.withdrawal_record(data))

    @precondition(lambda self: bool(self.model.corrected))
    @rule(data=st.data(), amend=st.booleans())
    def correct_a_correction(self, data: st.DataObject, amend: bool) -> None:
        """Corrections are not corrected (docs/semantics.md): always refused."""
        target = data.draw(st.sampled_from(sorted(self.model.corrected)))
        on = self.when(data, self.latest_of(target), careful=True)
        if amend:
            self.submit(amendment(self.new_id("am"), target, self.amount(data), on=on))
        else:
            self.submit(withdrawal(self.new_id("w"), target, on=on))

    @rule(data=st.data())
    def batch(self, data: st.DataObject) -> None:
        """Several records at once: all or nothing, later ones seeing the earlier ones."""
        first = self.any_record(data)
        records = [first]
        if first["type"] in ("pledge", "tranche") and data.draw(st.booleans()):
            # Build on the first record inside the same batch.
            records.append(
                tranche(
                    self.new_id("t"),
                    first["id"],
                    self.amount(data),
                    unit=first["unit"],
                    sector=data.draw(st.sampled_from(SECTORS)),
                    on=self.when(data, date.fromisoformat(first["announced_on"])),
                )
            )
        if first["type"] in ("pledge", "tranche", "loi", "delivery") and data.draw(st.booleans()):
            # And report on it, in the same batch.
            records.append(
                report(self.new_id("r"), first["id"], self.amount(data), unit=first["unit"])
            )
        records.extend(self.any_record(data) for _ in range(data.draw(st.integers(0, 2))))
        self.submit(*records)

    @precondition(lambda self: bool(self.log))
    @rule(data=st.data(), change=st.booleans())
    def record_again(self, data: st.DataObject, change: bool) -> None:
        """An accepted record again: skipped; or changed under the same id: refused."""
        record = dict(data.draw(st.sampled_from(self.log)))
        if change:
            if record.get("amount") is not None:
                record["amount"] = str(Decimal(record["amount"]) + 1)
            else:
                record["sources"] = [{"outlet": "Another paper"}]
        self.submit(record)

    @rule()
    def malformed(self) -> None:
        before = snapshot(self.ledger)
        bad = pledge(self.new_id("p"), "1") | {"sources": []}
        with pytest.raises(InvalidRecord):
            self.ledger.record(bad)
        assert snapshot(self.ledger) == before

    @precondition(lambda self: bool(self.log))
    @rule(data=st.data())
    def look_back(self, data: st.DataObject) -> None:
        """As of any date and as known at any recorded time: the model over just those events."""
        dates = sorted({world_date(r) for r in self.log})
        as_of = data.draw(st.sampled_from(dates)) + timedelta(days=data.draw(st.integers(-1, 0)))
        folded = Model.fold([r for r in self.log if world_date(r) <= as_of])
        for by in GROUPS:
            assert table(self.ledger, by, as_of=as_of) == folded.totals(by), (by, as_of)
        times = {e.event.id: e.recorded_at for e in self.ledger.events()}
        known_at: datetime = data.draw(st.sampled_from(sorted(set(times.values()))))
        known = Model.fold([r for r in self.log if times[r["id"]] <= known_at])
        assert table(self.ledger, "sector", known_at=known_at) == known.totals("sector")
        both = Model.fold(
            [r for r in self.log if times[r["id"]] <= known_at and world_date(r) <= as_of]
        )
        assert table(self.ledger, "pledger", as_of=as_of, known_at=known_at) == both.totals(
            "pledger"
        )

    # -- invariants after every step ---------------------------------------------------------------

    @invariant()
    def log_is_what_was_accepted(self) -> None:
        logged = list(self.ledger.events())
        assert [e.event.id for e in logged] == [r["id"] for r in self.log]
        assert [e.event for e in logged] == [structure_event(r) for r in self.log]
        times = [e.recorded_at for e in logged]
        assert times == sorted(times)

    @invariant()
    def totals_match_the_model(self) -> None:
        grands = set()
        for by in GROUPS:
            rows = table(self.ledger, by)
            assert rows == self.model.totals(by), by
            grands.add(tuple(sorted(grand(rows).items())))
        assert len(grands) <= 1, "groupings disagree on the grand totals"
        assert table(self.ledger, "sector", depth=1) == self.model.totals("sector", depth=1)

    @invariant()
    def as_of_the_latest_date_is_now(self) -> None:
        if self.log:
            latest = max(world_date(r) for r in self.log)
            assert table(self.ledger, "sector", as_of=latest) == table(self.ledger, "sector")
            assert table(self.ledger, "agreement", as_of=latest) == table(self.ledger, "agreement")

    def check_view(self, view: NodeView) -> None:
        node = self.model.nodes[view.id]
        assert (view.amount, view.unit, view.bound.value, view.status) == (
            node.amount,
            node.unit,
            node.bound,
            node.status,
        )
        assert view.active == node.active
        assert (view.low, view.high) == (self.model.effective_low(node), node.range[1])
        active = [t for t in view.tranches if t.active]
        assert view.allocated == sum((t.amount or ZERO for t in active), ZERO)
        assert view.allocated == self.model.allocated(node)
        assert view.delivered == self.model.delivered(node)
        if not node.caps:
            assert view.headroom is None
        else:
            assert view.amount is not None
            assert view.headroom == view.amount - view.allocated
            if node.active:
                assert view.allocated <= view.amount  # invariant 2
                assert view.delivered <= view.amount  # invariant 3
        assert [r.id for r in view.reports] == [
            r.id for r in self.model.reports.values() if r.about == node.id
        ]
        for d in view.deliveries:
            assert (d.amount, d.active) == (
                self.model.deliveries[d.id].amount,
                self.model.deliveries[d.id].active,
            )
        for child in view.tranches:
            self.check_view(child)

    @invariant()
    def trees_hold_invariants_2_and_3(self) -> None:
        for node in self.model.nodes.values():
            if node.parent is None:
                self.check_view(self.ledger.tree(node.id))
        for letter in self.model.letters.values():
            view = self.ledger.letter(letter.id)
            assert (view.amount, view.bound.value, view.status, view.converted_by) == (
                letter.amount,
                letter.bound,
                letter.status,
                letter.converted_by,
            )
            assert (view.low, view.high) == interval(
                letter.amount, letter.bound, letter.low, letter.high
            )

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        before = [table(self.ledger, by) for by in GROUPS]
        report = self.ledger.replay(verify=True)
        assert report.problems == ()
        assert report.events == len(self.log)
        assert [table(self.ledger, by) for by in GROUPS] == before


LedgerMachine.TestCase.settings = settings(stateful_step_count=25)
TestLedgerMachine = LedgerMachine.TestCase
