"""eventsourcing's ``JSONTranscoder`` against the ledger's ``MsgspecTranscoder``, in one run.

    python benchmarks/transcoder.py              # a few seconds
    python benchmarks/transcoder.py --repeat 9   # steadier figures on a busy machine

Measures, per typical stored state of the ledger (a pledge's ``Started`` event and the
``Recorded`` events of a tranche, a delivery and an amendment, each with the timestamp a batch
shares), ``encode`` and ``decode`` of the state and the whole mapper round (``to_stored_event``
and ``to_domain_event``) with each transcoder plugged into eventsourcing's ``Mapper``. Prints a
markdown table: the best of ``--repeat`` timings in µs per call, and ours as a ratio of
``JSONTranscoder``'s (below 1 is faster). Both transcoders are checked to read each other's
bytes before anything is timed.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper, Transcoder

from pledgeledger.store.aggregates import ROOT_AGGREGATES, root_id
from pledgeledger.store.application import LedgerApplication, persistence_env
from pledgeledger.store.transcoder import MsgspecTranscoder
from pledgeledger.synthetic import generate


def typical_events() -> dict[str, Any]:
    """One domain event of each common kind, as the write path stores them."""
    at = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)
    wanted: dict[str, dict[str, Any] | None] = dict.fromkeys(
        ("pledge", "tranche", "delivery", "amendment")
    )
    for record in generate(2000, 7, cents=True):
        if record["type"] in wanted and wanted[record["type"]] is None:
            wanted[record["type"]] = record
    # Any: eventsourcing makes the event classes dataclasses at run time, unseen by mypy.
    started: Any = ROOT_AGGREGATES["pledge"].Started
    recorded: Any = ROOT_AGGREGATES["pledge"].Recorded
    events: dict[str, Any] = {}
    for kind, entry in wanted.items():
        assert entry is not None, kind
        uuid = root_id(entry["id"])
        if kind == "pledge":
            events[f"{kind} (Started)"] = started(
                originator_id=uuid,
                originator_version=1,
                timestamp=at,
                originator_topic="pledgeledger.store.aggregates:PledgeAggregate",
                entry=entry,
            )
        else:
            events[f"{kind} (Recorded)"] = recorded(
                originator_id=uuid, originator_version=2, timestamp=at, entry=entry
            )
    return events


def interleaved(
    calls: dict[str, Callable[[], object]], repeat: int, number: int
) -> dict[str, float]:
    """The best of ``repeat`` timings of ``number`` calls of each of ``calls``, in µs per
    call, taken in turns so that a busy machine slows them alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            times[name].append(timeit.timeit(call, number=number))
    return {name: min(t) / number * 1e6 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per figure (best kept)")
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing")
    args = parser.parse_args()

    app = LedgerApplication(env=persistence_env(":memory:"))
    ours = app.mapper.transcoder
    assert isinstance(ours, MsgspecTranscoder)
    stock = JSONTranscoder()
    app.register_transcodings(stock)
    transcoders: dict[str, Transcoder] = {"JSONTranscoder": stock, "MsgspecTranscoder": ours}
    mappers = {name: Mapper[Any](transcoder=t) for name, t in transcoders.items()}

    rows: list[tuple[str, float, float]] = []
    for label, event in typical_events().items():
        state = dict(vars(event))
        del state["originator_id"], state["originator_version"]
        encoded = {name: t.encode(state) for name, t in transcoders.items()}
        assert encoded["JSONTranscoder"] == encoded["MsgspecTranscoder"], label
        assert ours.decode(encoded["JSONTranscoder"]) == stock.decode(encoded["JSONTranscoder"])
        stored = mappers["JSONTranscoder"].to_stored_event(event)
        for name, mapper in mappers.items():
            assert vars(mapper.to_domain_event(stored)) == vars(event), (name, label)
        operations = ("encode", "decode", "to_stored_event", "to_domain_event")
        for operation in operations:
            calls: dict[str, Callable[[], object]] = {}
            for name, transcoder in transcoders.items():
                mapper, data = mappers[name], encoded[name]
                calls[name] = {
                    "encode": lambda t=transcoder, s=state: t.encode(s),
                    "decode": lambda t=transcoder, d=data: t.decode(d),
                    "to_stored_event": lambda m=mapper, e=event: m.to_stored_event(e),
                    "to_domain_event": lambda m=mapper, s=stored: m.to_domain_event(s),
                }[operation]
            figures = interleaved(calls, args.repeat, args.number)
            rows.append(
                (
                    f"{label}: {operation}",
                    figures["JSONTranscoder"],
                    figures["MsgspecTranscoder"],
                )
            )
    app.close()

    print(
        f"\nbest of {args.repeat} x {args.number:,} calls, µs per call; "
        "ratio = MsgspecTranscoder / JSONTranscoder (below 1 is faster)\n"
    )
    print("| operation | JSONTranscoder µs | MsgspecTranscoder µs | ratio |")
    print("|---|---:|---:|---:|")
    for name, base, mine in rows:
        print(f"| {name} | {base:.2f} | {mine:.2f} | {mine / base:.2f} |")
    for operation in ("encode", "decode", "to_stored_event", "to_domain_event"):
        ratios = [mine / base for name, base, mine in rows if name.endswith(f": {operation}")]
        print(f"| **{operation}, geometric mean** | | | {statistics.geometric_mean(ratios):.2f} |")


if __name__ == "__main__":
    main()
