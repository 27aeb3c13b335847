"""The state of one consistency boundary and the invariants it guards.

A pledge owns its tree of tranches and deliveries; an LOI and an agreement stand alone. Each
class here has ``check(event)``, which raises :class:`Refused` and changes nothing, and
``apply(event)``, which changes state and validates nothing (it runs again on every replay, so it
must be deterministic and cheap). The eventsourcing aggregates in
:mod:`pledgeledger.store.aggregates` call one then the other; the tests' reference fold
(``tests/reference.py``), against which the read models are property-tested, re-uses ``apply``
so that both sides share one meaning.

Dates: besides invariant 5 ("an event may share its parent's date but not precede it"), a tree's
corrections are barriers in world time. An amendment, withdrawal or lapse may not be dated
before any event already recorded in its tree, and no event may be dated before a correction
already recorded there. This keeps every "as of" view of a tree equal to a state that was
checked when it was recorded, so the invariants hold at every date, not only today (see
docs/semantics.md). Reports are side information: they change no figure, so they may be dated
anywhere and never move a barrier.

Figures: invariants 2-4 compare headline figures, as they always did; an undisclosed figure
(no amount) counts as nothing under its parent and, like a floor (``at_least``), caps nothing
under it, since its true value may be anything. Ranges are never refused beyond their own shape
(:func:`pledgeledger.domain.figures.check_figure`): how they add up is computed, not checked
(:mod:`pledgeledger.domain.figures`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import attrs

from pledgeledger.domain.figures import Interval, check_figure, interval_of
from pledgeledger.domain.records import (
    Agreement,
    Amendment,
    Bound,
    Correction,
    Delivery,
    Event,
    Lapse,
    LetterOfIntent,
    Pledge,
    Report,
    Tranche,
    Withdrawal,
)
from pledgeledger.domain.totals import ZERO
from pledgeledger.errors import InvalidRecord, Refused

__all__ = [
    "ACTIVE",
    "CONVERTED",
    "LAPSED",
    "WITHDRAWN",
    "AgreementState",
    "Conversion",
    "DeliveryNode",
    "LetterState",
    "Node",
    "PledgeTree",
    "Referent",
    "check_converts",
    "check_shape",
    "check_toward",
]

ACTIVE = "active"
WITHDRAWN = "withdrawn"
LAPSED = "lapsed"
CONVERTED = "converted"
"""A record's status: counted (``active``), or why it no longer counts."""

_ENDED = {Withdrawal: WITHDRAWN, Lapse: LAPSED}
_PAST = {WITHDRAWN: "was withdrawn", LAPSED: "has lapsed", CONVERTED: "was converted"}


def _gone(event_id: str, what: str, status: str) -> Refused:
    """Invariant 5 for a reference that no longer counts (withdrawn, lapsed)."""
    return Refused(event_id, f"{what} {_PAST.get(status, status)}", 5)


def check_shape(event: Event) -> None:
    """Checks that need no state: ids, sources (every event has one), invariant 1's sign and
    ranges, and a deadline not before its record."""
    problems = []
    if not event.id.strip():
        problems.append("id: must not be empty")
    if not event.sources:
        problems.append("sources: every event needs at least one source")
    for i, source in enumerate(event.sources):
        if not source.outlet.strip():
            problems.append(f"sources[{i}].outlet: must not be empty")
    if problems:
        raise InvalidRecord(problems)
    amount = getattr(event, "amount", None)
    if amount is not None and not (amount.is_finite() and amount > 0):
        raise Refused(event.id, f"amount must be positive and finite, got {amount}", 1)
    unit = getattr(event, "unit", None)
    if unit is not None and not unit.strip():
        raise InvalidRecord(["unit: must not be empty"])
    if isinstance(event, Pledge | Tranche | LetterOfIntent | Delivery | Report):
        _check_figure(event.id, event.amount, event.bound, event.low, event.high)
    if isinstance(event, Amendment) and event.bound is not None:
        _check_figure(event.id, event.amount, event.bound, event.low, event.high)
    due_by = getattr(event, "due_by", None)
    if due_by is not None and due_by < event.world_date:
        raise Refused(
            event.id,
            f"due by {due_by}, before its own date {event.world_date}",
            rule="deadline",
        )
    if getattr(event, "toward", None) == event.id:
        raise Refused(event.id, "tied toward itself", rule="toward")


def _check_figure(
    event_id: str,
    amount: Decimal | None,
    bound: Bound | None,
    low: Decimal | None,
    high: Decimal | None,
) -> None:
    malformed, out_of_range = check_figure(amount, bound, low, high)
    if malformed:
        raise InvalidRecord(malformed)
    if out_of_range:
        raise Refused(event_id, "; ".join(out_of_range), rule="range")


@attrs.frozen
class Referent:
    """What another record needs to know of a record it names (``toward``): its kind, unit,
    world date and status."""

    id: str
    kind: str
    unit: str
    world_date: date
    status: str


@attrs.frozen
class Conversion:
    """An LOI turned into a pledge or tranche: which record, and from which world date."""

    by: str
    on: date


def check_toward(event: Pledge | LetterOfIntent, target: Referent | None) -> None:
    """``toward``: the record tied toward must be an active pledge, tranche or LOI of the same
    unit, announced no later than the record tied to it (invariant 5 and the ``toward``
    rule). ``target`` is ``None`` when the id names nothing with a figure in the ledger."""
    ref = event.toward
    if target is None:
        raise Refused(event.id, f"toward {ref} is not in the ledger", 5)
    if target.kind not in ("pledge", "tranche", "loi"):
        raise Refused(
            event.id,
            f"toward {ref} is a {target.kind}, not a pledge, tranche or letter of intent",
            rule="toward",
        )
    if target.status != ACTIVE:
        raise _gone(event.id, f"toward {ref}", target.status)
    if target.unit != event.unit:
        raise Refused(
            event.id,
            f"unit {event.unit!r} differs from that of {ref}, which it is tied toward "
            f"({target.unit!r})",
            rule="toward",
        )
    if event.world_date < target.world_date:
        raise Refused(
            event.id,
            f"dated {event.world_date}, before {ref} ({target.world_date}), which it is tied "
            "toward",
            5,
            rule="dates",
        )


def check_converts(event: Pledge | Tranche, letter: LetterState | None) -> None:
    """``converts``: the record converted must be an active letter of intent, dated no later
    than the record it became (and than its own corrections)."""
    ref = event.converts
    if letter is None:
        raise Refused(event.id, f"converts {ref}, which is not a letter of intent", 5)
    if letter.conversion is not None:
        raise Refused(
            event.id,
            f"converts {ref}, which was converted into {letter.conversion.by} on "
            f"{letter.conversion.on} already",
            rule="converted",
        )
    if not letter.active:
        raise _gone(event.id, f"converts {ref}, which", letter.status)
    if event.world_date < letter.latest:
        rule = "dates" if event.world_date < letter.record.announced_on else "date-order"
        raise Refused(
            event.id,
            f"dated {event.world_date}, before the letter of intent {ref} it converts or its "
            f"last correction ({letter.latest})",
            5,
            rule=rule,
        )


@attrs.define
class Node:
    """A pledge or tranche: an amount to carve tranches out of and make deliveries against."""

    id: str
    kind: str
    amount: Decimal | None
    """The headline figure; ``None`` when undisclosed."""
    unit: str
    bound: Bound
    sector: str
    parent: str | None
    world_date: date
    record: Pledge | Tranche
    low: Decimal | None = None
    high: Decimal | None = None
    """The stated range, as last amended."""
    children: list[str] = attrs.Factory(list)
    deliveries: list[str] = attrs.Factory(list)
    corrections: list[Correction] = attrs.Factory(list)
    reports: list[Report] = attrs.Factory(list)
    status: str = ACTIVE
    allocated: Decimal = ZERO
    """What active tranches directly under this node hold (kept up to date by ``apply``)."""
    delivered: Decimal = ZERO
    """What was delivered against this node and everything under it (kept by ``apply``)."""

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def figure(self) -> Interval:
        """The range of the node's own figure (not what its tranches add to it)."""
        return interval_of(self.amount, self.bound, self.low, self.high)

    @property
    def caps(self) -> bool:
        """Whether the node's figure caps what is carved out of or delivered under it: not
        under a floor, nor under an undisclosed figure (invariants 2 and 3)."""
        return self.bound is not Bound.AT_LEAST and self.amount is not None


@attrs.define
class DeliveryNode:
    """A delivery against a node; amendable and withdrawable like any figure."""

    id: str
    parent: str
    amount: Decimal | None
    unit: str
    world_date: date
    record: Delivery
    bound: Bound = Bound.EXACT
    low: Decimal | None = None
    high: Decimal | None = None
    corrections: list[Correction] = attrs.Factory(list)
    reports: list[Report] = attrs.Factory(list)
    status: str = ACTIVE

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def figure(self) -> Interval:
        return interval_of(self.amount, self.bound, self.low, self.high)


def _check_target_dates(event: Correction, target_date: date) -> None:
    if event.announced_on < target_date:
        raise Refused(
            event.id,
            f"dated {event.announced_on}, before its target {event.target} ({target_date})",
            5,
            rule="dates",
        )


def _check_amended_figure(event: Amendment, bound: Bound) -> None:
    """The figure an amendment leaves: its amount and range with the bound it gives or keeps."""
    _check_figure(event.id, event.amount, event.bound or bound, event.low, event.high)


def _check_adopts(event: Amendment, records: dict[str, Event]) -> None:
    """``adopts``: the report exists, is about the amendment's target, and gives the figure
    the amendment counts (its amount, and its bound and range where the amendment states
    them)."""
    if event.adopts is None:
        return
    report = records.get(event.adopts)
    if not isinstance(report, Report):
        raise Refused(
            event.id, f"adopts {event.adopts}, which is not a report on {event.target}", 5
        )
    if report.about != event.target:
        raise Refused(
            event.id,
            f"adopts {report.id}, a report about {report.about}, not about {event.target}",
            rule="adopts",
        )
    differing = [
        name
        for name, given in (
            ("amount", event.amount),
            ("bound", event.bound),
            ("low", event.low),
            ("high", event.high),
        )
        if (given is not None or name == "amount") and given != getattr(report, name)
    ]
    if differing:
        theirs = ", ".join(f"{n} {getattr(report, n)}" for n in differing)
        ours = ", ".join(f"{n} {getattr(event, n)}" for n in differing)
        raise Refused(
            event.id,
            f"adopts {report.id} but differs from it: {ours} here, {theirs} in the report",
            rule="adopts",
        )


def _check_report_unit(event: Report, unit: str) -> None:
    if event.unit != unit:
        raise Refused(
            event.id,
            f"unit {event.unit!r} differs from that of {event.about} ({unit!r}), which it "
            "reports on",
            1,
            rule="unit",
        )


@attrs.define
class PledgeTree:
    """A pledge with everything carved out of it and delivered against it."""

    root: str
    nodes: dict[str, Node] = attrs.Factory(dict)
    deliveries: dict[str, DeliveryNode] = attrs.Factory(dict)
    records: dict[str, Event] = attrs.Factory(dict)
    latest: date = date.min
    barrier: date = date.min

    @classmethod
    def start(cls, pledge: Pledge) -> PledgeTree:
        tree = cls(root=pledge.id)
        tree.apply(pledge)
        return tree

    def as_of(self, day: date) -> PledgeTree | None:
        """The tree as it stood on ``day`` (world time): its events dated on or before it,
        applied in the order they were recorded; ``None`` before the pledge's date.

        The date barriers make this a state that was checked when it was recorded. Reports
        about a record dated later are left out (a report may precede its record).
        """
        root = self.records[self.root]
        assert isinstance(root, Pledge)
        if root.announced_on > day:
            return None
        tree = PledgeTree.start(root)
        for event in self.records.values():
            if event.id == self.root or event.world_date > day:
                continue
            if isinstance(event, Report) and event.about not in tree.records:
                continue
            tree.apply(event)
        return tree

    # -- queries ---------------------------------------------------------------------------

    # Running totals, not sums over children: a check must not cost more as a tree grows
    # (summing made importing 20,000 tranches under one pledge quadratic: 51 s instead of 2).

    def allocated(self, node: Node) -> Decimal:
        """What active tranches directly under ``node`` hold (headline figures)."""
        return node.allocated

    def delivered(self, node: Node) -> Decimal:
        """What was delivered against ``node`` and everything under it (headline figures)."""
        return node.delivered

    def _deliver(self, node_id: str, delta: Decimal) -> None:
        for node in self.ancestors(node_id):
            node.delivered += delta

    def ancestors(self, node_id: str) -> Iterator[Node]:
        """``node_id`` itself, then its parent, up to the pledge."""
        current: str | None = node_id
        while current is not None:
            node = self.nodes[current]
            yield node
            current = node.parent

    def subtree(self, node: Node) -> Iterator[Node]:
        """``node`` and every active node under it, parents before children."""
        yield node
        for child in node.children:
            if self.nodes[child].active:
                yield from self.subtree(self.nodes[child])

    def referent(self, record_id: str) -> Referent | None:
        """What ``record_id`` is, for a record naming it (``toward``): ``None`` unless it is a
        figure of this tree (a pledge, tranche or delivery)."""
        node = self.nodes.get(record_id)
        if node is not None:
            return Referent(node.id, node.kind, node.unit, node.world_date, node.status)
        delivery = self.deliveries.get(record_id)
        if delivery is not None:
            return Referent(
                delivery.id, "delivery", delivery.unit, delivery.world_date, delivery.status
            )
        event = self.records.get(record_id)
        if event is None:
            return None
        return Referent(event.id, event.type, "", event.world_date, ACTIVE)

    # -- invariants ------------------------------------------------------------------------
    # One method per rule, so that each reads on its own and the refusal it raises is found by
    # its invariant's number; ``check`` and ``_check_correction`` only decide which apply.

    def check(self, event: Event) -> None:
        """Raise :class:`Refused` if ``event`` cannot be recorded in this tree."""
        check_shape(event)
        if isinstance(event, Report):
            self._check_report(event)
            return
        self._check_dates(event)
        match event:
            case Tranche():
                parent = self._parent(event)
                self._check_room(event.id, parent, event.amount or ZERO, ZERO)
            case Delivery():
                parent = self._parent(event)
                self._check_deliveries(event.id, parent.id, event.amount or ZERO)
            case Amendment() | Withdrawal() | Lapse():
                self._check_correction(event, self._target(event))
            case _:
                raise Refused(
                    event.id,
                    f"a {event.type} cannot be recorded inside a pledge's tree",
                    rule="correction-kind",
                )

    def _check_report(self, event: Report) -> None:
        """A report is about a figure of this tree (any status: what was said about a record
        since withdrawn is still history), in its unit."""
        target: Node | DeliveryNode | None = self.nodes.get(event.about)
        if target is None:
            target = self.deliveries.get(event.about)
        if target is None:
            raise Refused(
                event.id, f"about {event.about}: a {self._kind(event.about)} has no figure", 5
            )
        _check_report_unit(event, target.unit)

    def _kind(self, record_id: str) -> str:
        found = self.records.get(record_id)
        return "record" if found is None else found.type

    def _check_correction(self, event: Correction, target: Node | DeliveryNode) -> None:
        match (event, target):
            case (Lapse(), DeliveryNode()):
                raise Refused(
                    event.id,
                    f"delivery {event.target} has no deadline to lapse; withdraw or amend it",
                    rule="correction-kind",
                )
            case (Amendment() as amendment, DeliveryNode() as delivery):
                _check_amended_figure(amendment, delivery.bound)
                _check_adopts(amendment, self.records)
                change = amendment.amount - (delivery.amount or ZERO)
                self._check_deliveries(amendment.id, delivery.parent, change)
            case (Withdrawal(), DeliveryNode()):
                pass  # a delivery holds nothing under it: withdrawing one only frees room
            case (Withdrawal() | Lapse() as ending, Node() as node):
                self._check_nothing_delivered(ending, node)
            case (Amendment() as amendment, Node() as node):
                _check_amended_figure(amendment, node.bound)
                _check_adopts(amendment, self.records)
                self._check_not_below_allocated(amendment, node)
                if node.parent is not None:
                    parent = self.nodes[node.parent]
                    self._check_room(amendment.id, parent, amendment.amount, node.amount or ZERO)

    def _check_dates(self, event: Event) -> None:
        """The tree's date barriers (see the module's docstring): no event before a correction
        already recorded, and no correction before anything already recorded."""
        if event.world_date < self.barrier:
            raise Refused(
                event.id,
                f"dated {event.world_date}, before a correction already recorded in pledge "
                f"{self.root}'s tree ({self.barrier}); the ledger keeps each tree's corrections "
                "in date order",
                5,
                rule="date-order",
            )
        if isinstance(event, Amendment | Withdrawal | Lapse) and event.announced_on < self.latest:
            raise Refused(
                event.id,
                f"dated {event.announced_on}, before events already recorded in pledge "
                f"{self.root}'s tree (latest {self.latest}); a correction cannot precede what "
                "it corrects",
                5,
                rule="date-order",
            )

    def _parent(self, event: Tranche | Delivery) -> Node:
        """Invariant 5 for a parent (it exists, is active, is not dated later), then 1 (unit)."""
        parent = self.nodes.get(event.parent)
        if parent is None:
            raise Refused(event.id, f"parent {event.parent} is not a pledge or tranche", 5)
        if not parent.active:
            raise _gone(event.id, f"parent {event.parent}", parent.status)
        if event.world_date < parent.world_date:
            raise Refused(
                event.id,
                f"dated {event.world_date}, before its parent {parent.id} ({parent.world_date})",
                5,
                rule="dates",
            )
        if event.unit != parent.unit:
            raise Refused(
                event.id,
                f"unit {event.unit!r} differs from its parent's {parent.unit!r}",
                1,
                rule="unit",
            )
        return parent

    def _target(self, event: Correction) -> Node | DeliveryNode:
        """Invariant 5 for a correction's target: a figure, active, not dated later."""
        target: Node | DeliveryNode | None = self.deliveries.get(event.target)
        if target is None:
            target = self.nodes.get(event.target)
        if target is None:
            kind = self._kind(event.target)
            raise Refused(event.id, f"target {event.target} is a {kind}, not a figure", 5)
        if not target.active:
            raise _gone(event.id, f"target {event.target}", target.status)
        _check_target_dates(event, target.world_date)
        return target

    def _check_room(self, event_id: str, parent: Node, extra: Decimal, freed: Decimal) -> None:
        """Invariant 2: ``extra`` more in tranches under ``parent`` (``freed`` less) fits."""
        if not parent.caps:
            return
        assert parent.amount is not None
        after = self.allocated(parent) - freed + extra
        if after > parent.amount:
            raise Refused(
                event_id,
                f"tranches under {parent.id} would reach {after} {parent.unit}, over its "
                f"{parent.amount} (headroom {parent.amount - self.allocated(parent) + freed})",
                2,
            )

    def _check_deliveries(self, event_id: str, start: str, extra: Decimal) -> None:
        """Invariant 3: ``extra`` more delivered under ``start`` fits it and every ancestor."""
        for node in self.ancestors(start):
            if not node.caps:
                continue
            assert node.amount is not None
            after = self.delivered(node) + extra
            if after > node.amount:
                raise Refused(
                    event_id,
                    f"deliveries against {node.id} would reach {after} {node.unit}, "
                    f"over its {node.amount}",
                    3,
                )

    def _check_not_below_allocated(self, event: Amendment, node: Node) -> None:
        """Invariant 4: an amendment keeps room for what is allocated and delivered under it
        (a floor, ``at_least``, caps neither)."""
        if (event.bound or node.bound) is Bound.AT_LEAST:
            return
        allocated = self.allocated(node)
        if event.amount < allocated:
            raise Refused(
                event.id,
                f"would cut {node.id} to {event.amount}, below the {allocated} "
                f"{node.unit} already allocated in tranches under it",
                4,
            )
        delivered = self.delivered(node)
        if event.amount < delivered:
            raise Refused(
                event.id,
                f"would cut {node.id} to {event.amount}, below the {delivered} "
                f"{node.unit} already delivered under it",
                4,
            )

    def _check_nothing_delivered(self, event: Withdrawal | Lapse, node: Node) -> None:
        """A withdrawal or lapse would uncount deliveries that happened (DESIGN.md: amend it
        down). A delivery of an undisclosed figure counts as something delivered."""
        delivered = self.delivered(node)
        if delivered or any(
            self.deliveries[d].active for n in self.subtree(node) for d in n.deliveries
        ):
            verb = "withdrawn" if isinstance(event, Withdrawal) else "lapse"
            raise Refused(
                event.id,
                f"{node.id} has {delivered} {node.unit} delivered under it and cannot "
                f"{'be ' if verb == 'withdrawn' else ''}{verb}; amend it down to what was "
                "delivered instead",
                rule="withdraw-delivered",
            )

    # -- state changes ---------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Change state by ``event``; assumes :meth:`check` passed when it was recorded."""
        self.records[event.id] = event
        if isinstance(event, Report):
            found = self.nodes.get(event.about)
            (found or self.deliveries[event.about]).reports.append(event)
            return
        self.latest = max(self.latest, event.world_date)
        match event:
            case Pledge() | Tranche():
                self._add_node(event)
            case Delivery():
                self._add_delivery(event)
            case Amendment() | Withdrawal() | Lapse():
                self.barrier = max(self.barrier, event.announced_on)
                target: Node | DeliveryNode = (
                    self.nodes.get(event.target) or self.deliveries[event.target]
                )
                target.corrections.append(event)
                self._apply_correction(event, target)

    def _add_node(self, event: Pledge | Tranche) -> None:
        parent = event.parent if isinstance(event, Tranche) else None
        self.nodes[event.id] = Node(
            id=event.id,
            kind=event.type,
            amount=event.amount,
            unit=event.unit,
            bound=event.bound,
            sector=event.sector,
            parent=parent,
            world_date=event.world_date,
            record=event,
            low=event.low,
            high=event.high,
        )
        if parent is not None:
            self.nodes[parent].children.append(event.id)
            self.nodes[parent].allocated += event.amount or ZERO

    def _add_delivery(self, event: Delivery) -> None:
        self.deliveries[event.id] = DeliveryNode(
            id=event.id,
            parent=event.parent,
            amount=event.amount,
            unit=event.unit,
            world_date=event.delivered_on,
            record=event,
            bound=event.bound or Bound.EXACT,
            low=event.low,
            high=event.high,
        )
        self.nodes[event.parent].deliveries.append(event.id)
        self._deliver(event.parent, event.amount or ZERO)

    def _apply_correction(self, event: Correction, target: Node | DeliveryNode) -> None:
        match (event, target):
            case (Amendment() as amendment, DeliveryNode() as delivery):
                self._deliver(delivery.parent, amendment.amount - (delivery.amount or ZERO))
                delivery.amount = amendment.amount
                delivery.bound = amendment.bound or delivery.bound
                delivery.low, delivery.high = amendment.low, amendment.high
            case (Withdrawal(), DeliveryNode() as delivery):
                self._deliver(delivery.parent, -(delivery.amount or ZERO))
                delivery.status = WITHDRAWN
            case (Amendment() as amendment, Node() as node):
                if node.parent is not None:
                    self.nodes[node.parent].allocated += amendment.amount - (node.amount or ZERO)
                node.amount = amendment.amount
                node.bound = amendment.bound or node.bound
                node.low, node.high = amendment.low, amendment.high
            case (Withdrawal() | Lapse() as ending, Node() as node):
                if node.parent is not None:
                    above = self.nodes[node.parent]
                    above.allocated -= node.amount or ZERO
                    self._deliver(above.id, -node.delivered)
                status = _ENDED[type(ending)]
                for gone in list(self.subtree(node)):
                    gone.status = status
                    gone.allocated = gone.delivered = ZERO  # nothing active is left under it


@attrs.define
class LetterState:
    """An LOI: non-binding, counted as intended, amendable, withdrawable, able to lapse and to
    be converted into a pledge or tranche (after which it no longer counts)."""

    record: LetterOfIntent
    amount: Decimal | None
    bound: Bound
    low: Decimal | None = None
    high: Decimal | None = None
    corrections: list[Correction] = attrs.Factory(list)
    reports: list[Report] = attrs.Factory(list)
    status: str = ACTIVE
    conversion: Conversion | None = None

    @classmethod
    def start(cls, loi: LetterOfIntent) -> LetterState:
        return cls(record=loi, amount=loi.amount, bound=loi.bound, low=loi.low, high=loi.high)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def figure(self) -> Interval:
        return interval_of(self.amount, self.bound, self.low, self.high)

    @property
    def latest(self) -> date:
        return max([self.record.announced_on, *(c.announced_on for c in self.corrections)])

    def as_of(self, day: date) -> LetterState | None:
        """The letter as it stood on ``day`` (world time), or ``None`` before its date."""
        if self.record.announced_on > day:
            return None
        letter = LetterState.start(self.record)
        for event in [*self.corrections, *self.reports]:
            if event.world_date <= day:
                letter.apply(event)
        if self.conversion is not None and self.conversion.on <= day:
            letter.convert(self.conversion)
        return letter

    def referent(self, record_id: str) -> Referent | None:
        if record_id != self.record.id:
            return None
        r = self.record
        return Referent(r.id, "loi", r.unit, r.announced_on, self.status)

    def check(self, event: Event) -> None:
        check_shape(event)
        if isinstance(event, Report):
            if event.about != self.record.id:
                raise Refused(event.id, f"about {event.about}: a correction has no figure", 5)
            _check_report_unit(event, self.record.unit)
            return
        if not isinstance(event, Amendment | Withdrawal | Lapse):
            raise Refused(
                event.id, f"a {event.type} cannot be recorded under a letter of intent", 5
            )
        if event.target != self.record.id:
            raise Refused(event.id, f"target {event.target} is a correction, not a figure", 5)
        if self.conversion is not None:
            raise Refused(
                event.id,
                f"{event.target} was converted into {self.conversion.by} on "
                f"{self.conversion.on}; correct {self.conversion.by} instead",
                rule="converted",
            )
        if not self.active:
            raise _gone(event.id, f"target {event.target}", self.status)
        if event.announced_on < self.latest:
            raise Refused(
                event.id,
                f"dated {event.announced_on}, before events already recorded on "
                f"{event.target} (latest {self.latest})",
                5,
                rule="date-order",
            )
        if isinstance(event, Amendment):
            _check_amended_figure(event, self.bound)
            _check_adopts(event, {r.id: r for r in self.reports})

    def apply(self, event: Event) -> None:
        if isinstance(event, Report):
            self.reports.append(event)
            return
        assert isinstance(event, Amendment | Withdrawal | Lapse)
        self.corrections.append(event)
        if isinstance(event, Amendment):
            self.amount = event.amount
            self.bound = event.bound or self.bound
            self.low, self.high = event.low, event.high
        else:
            self.status = _ENDED[type(event)]

    def convert(self, conversion: Conversion) -> None:
        """The letter became a pledge or tranche: it no longer counts as intended, and is
        corrected through the record it became."""
        self.conversion = conversion
        self.status = CONVERTED


@attrs.define
class AgreementState:
    """An agreement: referenced by pledges and LOIs; only withdrawable."""

    record: Agreement
    withdrawal: Withdrawal | None = None

    @property
    def active(self) -> bool:
        return self.withdrawal is None

    def check_reference(self, event: Pledge | LetterOfIntent) -> None:
        """Invariant 5 for an event that names this agreement."""
        if not self.active:
            raise Refused(event.id, f"agreement {self.record.id} was withdrawn", 5)
        if event.announced_on < self.record.signed_on:
            raise Refused(
                event.id,
                f"dated {event.announced_on}, before agreement {self.record.id} was signed "
                f"({self.record.signed_on})",
                5,
                rule="dates",
            )

    def check(self, event: Event) -> None:
        check_shape(event)
        if isinstance(event, Report):
            raise Refused(
                event.id, f"about {event.about}: an agreement has no figure to report on", 5
            )
        if isinstance(event, Amendment | Lapse):
            raise Refused(
                event.id,
                f"agreement {event.target} has no figure to amend or deadline to lapse; "
                "withdraw it",
                rule="correction-kind",
            )
        if not isinstance(event, Withdrawal):
            raise Refused(event.id, f"a {event.type} cannot be recorded under an agreement", 5)
        if not self.active:
            raise Refused(event.id, f"target {event.target} was withdrawn", 5)
        _check_target_dates(event, self.record.signed_on)

    def apply(self, event: Event) -> None:
        assert isinstance(event, Withdrawal)
        self.withdrawal = event
