"""JSON Lines, the import format: reading files into records with errors that name the file,
line and field, and writing records back as lines that re-import."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
import msgspec

from pledgeledger.domain.records import Event
from pledgeledger.errors import ImportFailed, InvalidRecord
from pledgeledger.formats.converter import structure_event
from pledgeledger.formats.fast import fast_structure

__all__ = ["Origin", "dump_jsonl", "read_jsonl"]


@attrs.frozen
class Origin:
    """Where a record came from, for error messages."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[Origin, Event]]:
    """Yield each non-blank line of ``path`` as an event; raise :class:`ImportFailed` at the
    first bad line (bad JSON, unknown type, or bad fields, all fields of that line at once)."""
    name = os.fspath(path)
    try:
        handle = Path(path).open("rb")  # noqa: SIM115  # closed by the with below
    except OSError as exc:
        raise ImportFailed(
            name, None, InvalidRecord([f"cannot read file: {exc.strerror}"])
        ) from None
    decode = msgspec.json.Decoder().decode
    with handle:
        for number, raw in enumerate(handle, start=1):
            # Fast path (see pledgeledger.codec): msgspec parses the bytes and the event is
            # built without cattrs. Anything unusual (blank, malformed or oddly typed) takes
            # the reference path below, which accepts the same lines and explains refusals.
            try:
                event = fast_structure(decode(raw))
            except (msgspec.DecodeError, UnicodeDecodeError):
                event = None
            if event is not None:
                yield Origin(name, number), event
                continue
            # Decoded line by line, so that a byte that is not UTF-8 is reported on its own line.
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                message = f"(record): not UTF-8 text: {exc.reason} at byte {exc.start + 1}"
                raise ImportFailed(name, number, InvalidRecord([message])) from None
            if not text.strip():
                continue
            origin = Origin(name, number)
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                message = f"(record): not valid JSON: {exc.msg} at column {exc.colno}"
                raise ImportFailed(name, number, InvalidRecord([message])) from None
            try:
                yield origin, structure_event(data)
            except InvalidRecord as exc:
                raise ImportFailed(name, number, exc) from None


def dump_jsonl(events: Iterable[Event]) -> Iterator[str]:
    """Each record as one JSON object in the import format (no line end), so the output
    re-imports as it is."""
    from pledgeledger.formats.converter import unstructure_event  # cattrs only when needed

    for event in events:
        yield json.dumps(unstructure_event(event), ensure_ascii=False)
