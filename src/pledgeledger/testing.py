"""A kit for testing pledgeledger plugins (needs pytest).

- :func:`registered` registers plugin objects for the length of a ``with`` block, and the
  :func:`register_plugin` fixture does the same for one test;
- :func:`sample_ledger` builds a small in-memory ledger that exercises every kind of event,
  two currencies and a non-currency unit, nested tranches, corrections, two recording batches
  (for ``known_at``) and text a spreadsheet would run as a formula;
- :class:`ExporterContract` is a test class every exporter subclasses to have the promises all
  exporters keep checked for free.

Use it like this (see docs/plugins.md)::

    from pledgeledger.testing import ExporterContract

    class TestXlsxExporter(ExporterContract):
        exporter_name = "xlsx"

To use the fixture, add ``pytest_plugins = ["pledgeledger.testing"]`` to your root
``conftest.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest

from pledgeledger.domain.totals import GROUPS
from pledgeledger.ledger import Ledger
from pledgeledger.plugins.exporter import Exporter, ExportOptions, export_to
from pledgeledger.plugins.manager import (
    get_exporter,
    plugin_infos,
    register,
    registered,
    unregister,
)
from pledgeledger.view import LedgerView

__all__ = [
    "SAMPLE_BATCHES",
    "ExporterContract",
    "fixed_clock",
    "register_plugin",
    "registered",
    "sample_ledger",
]

_SRC = [
    {
        "outlet": "Harbour Gazette",
        "url": "https://example.org/gazette/1",
        "published_on": "2024-03-01",
    }
]
_SRC2 = [
    {
        "outlet": "Borealis Times",
        "published_on": "2024-06-16",
        "quote": '=HYPERLINK("https://example.invalid","details")',
    }
]

SAMPLE_BATCHES: tuple[tuple[dict[str, Any], ...], ...] = (
    (
        {
            "type": "agreement",
            "id": "demo-accord",
            "title": "Atlantis-Borealis Accord",
            "parties": ["Atlantis", "Borealis"],
            "signed_on": "2024-03-01",
            "sources": _SRC,
        },
        {
            "type": "pledge",
            "id": "atl-bor-100",
            "pledger": "Atlantis",
            "recipient": "Borealis",
            "amount": "100000000000",
            "unit": "USD",
            "bound": "up_to",
            "sector": "cross-sector",
            "agreement": "demo-accord",
            "announced_on": "2024-03-01",
            "sources": _SRC,
        },
        {
            "type": "tranche",
            "id": "atl-bor-energy",
            "parent": "atl-bor-100",
            "amount": "30000000000",
            "unit": "USD",
            "sector": "energy",
            "announced_on": "2024-05-10",
            "sources": _SRC,
        },
        {
            "type": "tranche",
            "id": "atl-bor-solar",
            "parent": "atl-bor-energy",
            "amount": "12000000000",
            "unit": "USD",
            "sector": "energy/solar",
            "announced_on": "2024-06-15",
            "sources": _SRC2,
        },
        {
            "type": "tranche",
            "id": "atl-bor-grid",
            "parent": "atl-bor-energy",
            "amount": "8500000000",
            "unit": "USD",
            "sector": "energy/grid",
            "announced_on": "2024-06-15",
            "sources": _SRC2,
        },
        {
            "type": "delivery",
            "id": "atl-bor-solar-d1",
            "parent": "atl-bor-solar",
            "amount": "2250000000.50",
            "unit": "USD",
            "delivered_on": "2024-09-30",
            "sources": _SRC,
        },
        {
            "type": "pledge",
            "id": "corvus-lng",
            "pledger": "Corvus",
            "recipient": "Borealis",
            "amount": "2000000",
            "unit": "t LNG/yr",
            "sector": "energy/lng",
            "announced_on": "2024-07-01",
            "sources": _SRC2,
        },
        {
            "type": "loi",
            "id": "dune-intent",
            "party": "Dune Corp",
            "counterparty": "Borealis",
            "amount": "5000000000",
            "unit": "USD",
            "bound": "at_least",
            "sector": "energy/nuclear",
            "agreement": "demo-accord",
            "announced_on": "2024-08-20",
            "sources": _SRC,
        },
        {
            "type": "loi",
            "id": "eos-intent",
            "party": "@Eos Ventures",
            "counterparty": "Borealis",
            "amount": "1000000000",
            "unit": "USD",
            "sector": "industry",
            "announced_on": "2024-10-05",
            "sources": _SRC,
        },
        {
            "type": "amendment",
            "id": "atl-bor-100-rev",
            "target": "atl-bor-100",
            "amount": "120000000000",
            "reason": "revised upwards at the summit",
            "announced_on": "2024-11-15",
            "sources": _SRC,
        },
        {
            "type": "withdrawal",
            "id": "eos-intent-off",
            "target": "eos-intent",
            "reason": "=talks ended",
            "announced_on": "2024-12-01",
            "sources": _SRC,
        },
    ),
    (
        {
            "type": "pledge",
            "id": "fjord-bor-aid",
            "pledger": "Fjordland Fund",
            "recipient": "Borealis",
            "amount": "750000000",
            "unit": "EUR",
            "sector": "health/hospitals",
            "announced_on": "2025-01-20",
            "sources": [{"outlet": "Nordlys Økonomi", "published_on": "2025-01-21"}],
        },
    ),
)
"""The sample ledger's events, as import-format dicts, in two recording batches."""

SAMPLE_START = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)


def fixed_clock(
    start: datetime = SAMPLE_START, step: timedelta = timedelta(hours=1)
) -> Callable[[], datetime]:
    """A clock for :meth:`Ledger.open` that ticks ``step`` per call from ``start``, so that
    recorded times, and so exports, are the same on every run."""
    ticks = iter(range(1_000_000))
    return lambda: start + step * next(ticks)


def sample_ledger(batches: tuple[tuple[dict[str, Any], ...], ...] = SAMPLE_BATCHES) -> Ledger:
    """A new in-memory ledger holding ``batches`` (default: the sample), recorded one batch
    per hour from 2025-02-01T09:00Z. Close it (or use it in a ``with``) when done."""
    ledger = Ledger.open(":memory:", clock=fixed_clock())
    for batch in batches:
        ledger.record(*batch)
    return ledger


@pytest.fixture
def register_plugin() -> Iterator[Callable[[object], None]]:
    """Call ``register_plugin(obj)`` to register a plugin until the end of the test."""
    done: list[object] = []

    def register_one(plugin: object) -> None:
        register(plugin)
        done.append(plugin)

    yield register_one
    for plugin in reversed(done):
        unregister(plugin)


def _fingerprint(ledger: Ledger) -> tuple[Any, ...]:
    return (
        ledger.head,
        tuple(ledger.events()),
        tuple(tuple(ledger.totals(g)) for g in GROUPS),
    )


class ExporterContract:
    """The promises every exporter keeps, as tests. Subclass it (the subclass's name must
    start with ``Test``) and set :attr:`exporter_name`; set :attr:`plugin` too when the plugin
    is not installed through an entry point.

    Each test runs the exporter for every suffix and every content it declares, on
    :func:`sample_ledger` and on an empty ledger. Override :meth:`check_output` to add checks
    of your own format (parse it back, compare figures).
    """

    exporter_name: ClassVar[str]
    """The name the exporter registers under."""
    plugin: ClassVar[object | None] = None
    """A plugin object to register for each test; ``None`` when an entry point loads it."""

    @pytest.fixture(autouse=True)
    def _plugin_registered(self) -> Iterator[None]:
        if self.plugin is None:
            yield
            return
        with registered(self.plugin):
            yield

    @pytest.fixture
    def exporter(self) -> Exporter:
        """The exporter under test, as the plugin manager has it."""
        return get_exporter(self.exporter_name)

    @pytest.fixture
    def ledger(self) -> Iterator[Ledger]:
        """The sample ledger (see :func:`sample_ledger`)."""
        with sample_ledger() as ledger:
            yield ledger

    def cases(self, exporter: Exporter) -> list[tuple[str, str]]:
        """Every (suffix, content) pair the exporter declares."""
        return [(s, c) for s in exporter.suffixes for c in exporter.contents]

    def export_bytes(
        self, exporter: Exporter, view: LedgerView, path: Path, options: ExportOptions
    ) -> bytes:
        """Export ``view`` to ``path`` (a file, as the CLI does) and return what was written."""
        export_to(exporter, view, path, options)
        return path.read_bytes()

    def check_output(self, data: bytes, suffix: str, what: str) -> None:
        """Extra checks of one export's bytes; override to parse your format back."""

    def test_is_registered_with_a_sound_declaration(self, exporter: Exporter) -> None:
        assert exporter.name == self.exporter_name
        assert exporter.plugin is not None, "the plugin manager records who registered it"
        for suffix in exporter.suffixes:
            media_type = exporter.media_type_for(suffix)
            assert "/" in media_type, f"{media_type!r} is not a media type"
        listed = {e.name for info in plugin_infos() for e in info.exporters}
        assert self.exporter_name in listed, "pledgeledger plugins lists it"

    def test_writes_every_suffix_and_content(
        self, exporter: Exporter, ledger: Ledger, tmp_path: Path
    ) -> None:
        view = LedgerView.of(ledger)
        for suffix, what in self.cases(exporter):
            path = tmp_path / f"out-{what}{suffix}"
            data = self.export_bytes(exporter, view, path, ExportOptions(what=what))
            assert data, f"{path.name} is empty"
            assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], (
                "no temporary file is left behind"
            )
            self.check_output(data, suffix, what)

    def test_is_deterministic(self, exporter: Exporter, ledger: Ledger, tmp_path: Path) -> None:
        view = LedgerView.of(ledger)
        with sample_ledger() as twin:
            twin_view = LedgerView.of(twin)
            for suffix, what in self.cases(exporter):
                options = ExportOptions(what=what)
                first = self.export_bytes(exporter, view, tmp_path / f"a{suffix}", options)
                again = self.export_bytes(exporter, view, tmp_path / f"b{suffix}", options)
                twin_data = self.export_bytes(exporter, twin_view, tmp_path / f"c{suffix}", options)
                digest = hashlib.sha256(first).hexdigest()[:12]
                assert first == again, f"{what}{suffix}: two exports of one view differ"
                assert first == twin_data, (
                    f"{what}{suffix}: equal ledgers give different bytes (first {digest})"
                )

    def test_does_not_mutate_the_ledger(
        self, exporter: Exporter, ledger: Ledger, tmp_path: Path
    ) -> None:
        before = _fingerprint(ledger)
        view = LedgerView.of(ledger, as_of=date(2024, 9, 1))
        snapshot = attrs.asdict(view, recurse=False)
        for suffix, what in self.cases(exporter):
            self.export_bytes(exporter, view, tmp_path / f"out{suffix}", ExportOptions(what=what))
        assert _fingerprint(ledger) == before
        assert attrs.asdict(view, recurse=False) == snapshot

    def test_handles_an_empty_ledger(self, exporter: Exporter, tmp_path: Path) -> None:
        # The file is written, though it may be empty where the format allows (JSON Lines).
        with sample_ledger(()) as empty:
            view = LedgerView.of(empty)
            for suffix, what in self.cases(exporter):
                path = tmp_path / f"e-{what}{suffix}"
                self.export_bytes(exporter, view, path, ExportOptions(what=what))
                assert path.is_file(), f"{what}{suffix}: an empty ledger still gives a file"

    def test_reflects_the_view(self, exporter: Exporter, ledger: Ledger, tmp_path: Path) -> None:
        full = LedgerView.of(ledger)
        early = LedgerView.of(ledger, as_of=date(2024, 3, 31))
        for suffix, what in self.cases(exporter):
            options = ExportOptions(what=what)
            a = self.export_bytes(exporter, full, tmp_path / f"full{suffix}", options)
            b = self.export_bytes(exporter, early, tmp_path / f"early{suffix}", options)
            assert a != b, f"{what}{suffix}: exporting a different snapshot changed nothing"

    def test_runs_from_the_command_line(self, exporter: Exporter, tmp_path: Path) -> None:
        from click.testing import CliRunner

        from pledgeledger.cli import cli

        db = tmp_path / "ledger.db"
        with Ledger.open(db, clock=fixed_clock()) as ledger:
            for batch in SAMPLE_BATCHES:
                ledger.record(*batch)
        out = tmp_path / f"export{exporter.suffixes[-1]}"
        args = ["--db", str(db), "export", "--format", exporter.name, "--output", str(out)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 0
