"""The state of one consistency boundary and the invariants it guards.

A pledge owns its tree of tranches and deliveries; an LOI and an agreement stand alone. Each
class here has ``check(event)``, which raises :class:`Refused` and changes nothing, and
``apply(event)``, which changes state and validates nothing (it runs again on every replay, so it
must be deterministic and cheap). The eventsourcing aggregates in
:mod:`pledgeledger.store.aggregates` call one then the other; the tests' reference fold
(``tests/reference.py``), against which the read models are property-tested, re-uses ``apply``
so that both sides share one meaning.

Dates: besides invariant 5 ("an event may share its parent's date but not precede it"), a tree's
corrections are barriers in world time. An amendment or withdrawal may not be dated before any
event already recorded in its tree, and no event may be dated before a correction already
recorded there. This keeps every "as of" view of a tree equal to a state that was checked when
it was recorded, so the invariants hold at every date, not only today (see docs/semantics.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import attrs

from pledgeledger.domain.records import (
    Agreement,
    Amendment,
    Bound,
    Delivery,
    Event,
    LetterOfIntent,
    Pledge,
    Tranche,
    Withdrawal,
)
from pledgeledger.domain.totals import ZERO
from pledgeledger.errors import InvalidRecord, Refused

__all__ = ["AgreementState", "DeliveryNode", "LetterState", "Node", "PledgeTree", "check_shape"]


def check_shape(event: Event) -> None:
    """Checks that need no state: ids, sources (every event has one) and invariant 1's sign."""
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


@attrs.define
class Node:
    """A pledge or tranche: an amount to carve tranches out of and make deliveries against."""

    id: str
    kind: str
    amount: Decimal
    unit: str
    bound: Bound
    sector: str
    parent: str | None
    world_date: date
    record: Pledge | Tranche
    children: list[str] = attrs.Factory(list)
    deliveries: list[str] = attrs.Factory(list)
    corrections: list[Amendment | Withdrawal] = attrs.Factory(list)
    active: bool = True
    allocated: Decimal = ZERO
    """What active tranches directly under this node hold (kept up to date by ``apply``)."""
    delivered: Decimal = ZERO
    """What was delivered against this node and everything under it (kept by ``apply``)."""


@attrs.define
class DeliveryNode:
    """A delivery against a node; amendable and withdrawable like any figure."""

    id: str
    parent: str
    amount: Decimal
    unit: str
    world_date: date
    record: Delivery
    corrections: list[Amendment | Withdrawal] = attrs.Factory(list)
    active: bool = True


def _check_target_dates(event: Amendment | Withdrawal, target_date: date) -> None:
    if event.announced_on < target_date:
        raise Refused(
            event.id,
            f"dated {event.announced_on}, before its target {event.target} ({target_date})",
            5,
            rule="dates",
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

    # -- queries ---------------------------------------------------------------------------

    # Running totals, not sums over children: a check must not cost more as a tree grows
    # (summing made importing 20,000 tranches under one pledge quadratic: 51 s instead of 2).

    def allocated(self, node: Node) -> Decimal:
        """What active tranches directly under ``node`` hold."""
        return node.allocated

    def delivered(self, node: Node) -> Decimal:
        """What was delivered against ``node`` and everything under it."""
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

    # -- invariants ------------------------------------------------------------------------
    # One method per rule, so that each reads on its own and the refusal it raises is found by
    # its invariant's number; ``check`` and ``_check_correction`` only decide which apply.

    def check(self, event: Event) -> None:
        """Raise :class:`Refused` if ``event`` cannot be recorded in this tree."""
        check_shape(event)
        self._check_dates(event)
        match event:
            case Tranche():
                parent = self._parent(event)
                self._check_room(event.id, parent, event.amount, ZERO)
            case Delivery():
                parent = self._parent(event)
                self._check_deliveries(event.id, parent.id, event.amount)
            case Amendment() | Withdrawal():
                self._check_correction(event, self._target(event))
            case _:
                raise Refused(
                    event.id,
                    f"a {event.type} cannot be recorded inside a pledge's tree",
                    rule="correction-kind",
                )

    def _check_correction(self, event: Amendment | Withdrawal, target: Node | DeliveryNode) -> None:
        match (event, target):
            case (Amendment(bound=Bound()), DeliveryNode()):
                raise Refused(
                    event.id,
                    f"delivery {event.target} has no bound to amend",
                    rule="correction-kind",
                )
            case (Amendment() as amendment, DeliveryNode() as delivery):
                change = amendment.amount - delivery.amount
                self._check_deliveries(amendment.id, delivery.parent, change)
            case (Withdrawal(), DeliveryNode()):
                pass  # a delivery holds nothing under it: withdrawing one only frees room
            case (Withdrawal() as withdrawal, Node() as node):
                self._check_nothing_delivered(withdrawal, node)
            case (Amendment() as amendment, Node() as node):
                self._check_not_below_allocated(amendment, node)
                if node.parent is not None:
                    parent = self.nodes[node.parent]
                    self._check_room(amendment.id, parent, amendment.amount, node.amount)

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
        if isinstance(event, Amendment | Withdrawal) and event.announced_on < self.latest:
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
            raise Refused(event.id, f"parent {event.parent} was withdrawn", 5)
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

    def _target(self, event: Amendment | Withdrawal) -> Node | DeliveryNode:
        """Invariant 5 for a correction's target: a figure, active, not dated later."""
        target: Node | DeliveryNode | None = self.deliveries.get(event.target)
        if target is None:
            target = self.nodes.get(event.target)
        if target is None:
            raise Refused(event.id, f"target {event.target} is a correction, not a figure", 5)
        if not target.active:
            raise Refused(event.id, f"target {event.target} was withdrawn", 5)
        _check_target_dates(event, target.world_date)
        return target

    def _check_room(self, event_id: str, parent: Node, extra: Decimal, freed: Decimal) -> None:
        """Invariant 2: ``extra`` more in tranches under ``parent`` (``freed`` less) fits."""
        if parent.bound is Bound.AT_LEAST:
            return
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
            if node.bound is Bound.AT_LEAST:
                continue
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

    def _check_nothing_delivered(self, event: Withdrawal, node: Node) -> None:
        """A withdrawal would uncount deliveries that happened (DESIGN.md: amend it down)."""
        delivered = self.delivered(node)
        if delivered:
            raise Refused(
                event.id,
                f"{node.id} has {delivered} {node.unit} delivered under it and cannot be "
                "withdrawn; amend it down to what was delivered instead",
                rule="withdraw-delivered",
            )

    # -- state changes ---------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Change state by ``event``; assumes :meth:`check` passed when it was recorded."""
        self.records[event.id] = event
        self.latest = max(self.latest, event.world_date)
        match event:
            case Pledge() | Tranche():
                self._add_node(event)
            case Delivery():
                self._add_delivery(event)
            case Amendment() | Withdrawal():
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
        )
        if parent is not None:
            self.nodes[parent].children.append(event.id)
            self.nodes[parent].allocated += event.amount

    def _add_delivery(self, event: Delivery) -> None:
        self.deliveries[event.id] = DeliveryNode(
            id=event.id,
            parent=event.parent,
            amount=event.amount,
            unit=event.unit,
            world_date=event.delivered_on,
            record=event,
        )
        self.nodes[event.parent].deliveries.append(event.id)
        self._deliver(event.parent, event.amount)

    def _apply_correction(self, event: Amendment | Withdrawal, target: Node | DeliveryNode) -> None:
        match (event, target):
            case (Amendment() as amendment, DeliveryNode() as delivery):
                self._deliver(delivery.parent, amendment.amount - delivery.amount)
                delivery.amount = amendment.amount
            case (Withdrawal(), DeliveryNode() as delivery):
                self._deliver(delivery.parent, -delivery.amount)
                delivery.active = False
            case (Amendment() as amendment, Node() as node):
                if node.parent is not None:
                    self.nodes[node.parent].allocated += amendment.amount - node.amount
                node.amount = amendment.amount
                if amendment.bound is not None:
                    node.bound = amendment.bound
            case (Withdrawal(), Node() as node):
                if node.parent is not None:
                    above = self.nodes[node.parent]
                    above.allocated -= node.amount
                    self._deliver(above.id, -node.delivered)
                for gone in list(self.subtree(node)):
                    gone.active = False
                    gone.allocated = gone.delivered = ZERO  # nothing active is left under it


@attrs.define
class LetterState:
    """An LOI: non-binding, counted as intended, amendable and withdrawable."""

    record: LetterOfIntent
    amount: Decimal
    bound: Bound
    corrections: list[Amendment | Withdrawal] = attrs.Factory(list)
    active: bool = True

    @classmethod
    def start(cls, loi: LetterOfIntent) -> LetterState:
        return cls(record=loi, amount=loi.amount, bound=loi.bound)

    @property
    def latest(self) -> date:
        return max([self.record.announced_on, *(c.announced_on for c in self.corrections)])

    def check(self, event: Amendment | Withdrawal) -> None:
        check_shape(event)
        if event.target != self.record.id:
            raise Refused(event.id, f"target {event.target} is a correction, not a figure", 5)
        if not self.active:
            raise Refused(event.id, f"target {event.target} was withdrawn", 5)
        if event.announced_on < self.latest:
            raise Refused(
                event.id,
                f"dated {event.announced_on}, before events already recorded on "
                f"{event.target} (latest {self.latest})",
                5,
                rule="date-order",
            )

    def apply(self, event: Amendment | Withdrawal) -> None:
        self.corrections.append(event)
        if isinstance(event, Amendment):
            self.amount = event.amount
            if event.bound is not None:
                self.bound = event.bound
        else:
            self.active = False


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

    def check(self, event: Amendment | Withdrawal) -> None:
        check_shape(event)
        if isinstance(event, Amendment):
            raise Refused(
                event.id, f"agreement {event.target} has no figure to amend", rule="correction-kind"
            )
        if not self.active:
            raise Refused(event.id, f"target {event.target} was withdrawn", 5)
        _check_target_dates(event, self.record.signed_on)

    def apply(self, event: Withdrawal) -> None:
        self.withdrawal = event
