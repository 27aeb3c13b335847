"""What an exporter is, what it is handed, and how its output reaches a file safely.

An exporter is a small frozen record (:class:`Exporter`) that a plugin registers through the
``register_exporters`` hook. Its ``export`` function is called with a read-only
:class:`~pledgeledger.view.LedgerView`, a binary stream to write to, and the
:class:`ExportOptions` the user chose. The stream is never the final file: :func:`export_to`
writes into a temporary file beside the target and renames it into place only when the exporter
returned, so a failing exporter leaves nothing half-written.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, BinaryIO

import attrs

from pledgeledger.domain.periods import EVERY, Every
from pledgeledger.domain.totals import GROUPS, Group
from pledgeledger.errors import LedgerError

if TYPE_CHECKING:
    from pledgeledger.view import LedgerView

__all__ = [
    "ALL",
    "EVENTS",
    "TIMELINE",
    "TOTALS",
    "ExportFailed",
    "ExportFunction",
    "ExportOptions",
    "Exporter",
    "export_to",
    "neutralise_cell",
    "plan",
    "write_atomically",
]

TOTALS = "totals"
"""Content name: the totals table of one grouping (``--by``)."""
EVENTS = "events"
"""Content name: the recorded events, in log order."""
TIMELINE = "timeline"
"""Content name: cumulative totals per period (``--every``)."""
ALL = "all"
"""Content name: everything the format can hold in one file."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_SUFFIX = re.compile(r"^(\.[a-z0-9]+)+$")


class ExportFailed(LedgerError):
    """An exporter refused the options it was given, or raised while writing.

    Nothing was written to the target: the temporary file is removed.
    """


def _frozen_mapping(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class ExportOptions:
    """What the user asked for; every field has a default, so exporters may ignore any of them.

    ``by`` is ``None`` when the user did not choose a grouping: an exporter then uses its own
    default (the built-in CSV and chart exporters group by sector; JSON includes every
    grouping). ``what`` is ``None`` for the exporter's first declared content. ``suffix`` is the
    output's suffix (``".svg"``), or the exporter's first suffix when writing to stdout, so a
    format with several suffixes knows which one to write. ``extra`` holds ``-O KEY=VALUE``
    options from the command line, for options specific to one exporter.
    """

    by: Group | None = attrs.field(default=None)
    depth: int | None = None
    what: str | None = None
    every: Every = attrs.field(default="month")
    suffix: str = ""
    extra: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)

    @by.validator
    def _check_by(self, _: attrs.Attribute[Group | None], value: Group | None) -> None:
        if value is not None and value not in GROUPS:
            raise ValueError(f"by must be one of {', '.join(GROUPS)}, not {value!r}")

    @every.validator
    def _check_every(self, _: attrs.Attribute[Every], value: Every) -> None:
        if value not in EVERY:
            raise ValueError(f"every must be one of {', '.join(EVERY)}, not {value!r}")


ExportFunction = Callable[["LedgerView", BinaryIO, ExportOptions], None]
"""``export(view, out, options)``: write the export to the binary stream ``out``.

Text formats wrap ``out`` (e.g. ``io.TextIOWrapper(out, encoding="utf-8", newline="")``) and
detach the wrapper when done, so that ``out`` is not closed under the caller.
"""


def _suffixes(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(value)


def _contents(value: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Exporter:
    """An export format, as a plugin registers it.

    ``name`` is what ``--format`` takes (lower case, e.g. ``"xlsx"``). ``suffixes`` are the file
    suffixes ``--output`` infers the format from, lower case with their dot; the first is the
    default. ``media_type`` is the IANA media type of the first suffix; ``media_types`` may give
    another one for other suffixes. ``contents`` lists what the format can write (see
    :data:`TOTALS`, :data:`EVENTS`, :data:`TIMELINE`, :data:`ALL`); the first is the default for
    ``--what``. ``binary`` formats are never written to a terminal. ``plugin`` is filled in by
    the plugin manager with the name of the plugin that registered the exporter.
    """

    name: str = attrs.field()
    suffixes: tuple[str, ...] = attrs.field(converter=_suffixes)
    media_type: str
    export: ExportFunction = attrs.field(repr=False)
    description: str = ""
    contents: tuple[str, ...] = attrs.field(default=(TOTALS,), converter=_contents)
    binary: bool = False
    media_types: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    plugin: str | None = None

    @name.validator
    def _check_name(self, _: attrs.Attribute[str], value: str) -> None:
        if not _NAME.match(value):
            raise ValueError(
                f"exporter name {value!r} must be lower case letters, digits, '-' or '_', "
                "starting with a letter"
            )

    @suffixes.validator
    def _check_suffixes(self, _: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError(f"exporter {self.name!r} must declare at least one file suffix")
        for suffix in value:
            if not _SUFFIX.match(suffix):
                raise ValueError(
                    f"exporter {self.name!r}: suffix {suffix!r} must be lower case and start "
                    "with a dot, like '.csv'"
                )

    @contents.validator
    def _check_contents(self, _: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if not value:
            raise ValueError(f"exporter {self.name!r} must declare at least one content")

    def media_type_for(self, suffix: str) -> str:
        """The media type of a file with ``suffix`` written by this exporter."""
        return self.media_types.get(suffix.lower(), self.media_type)

    def suffix_of(self, path: str | os.PathLike[str]) -> str | None:
        """The longest of this exporter's suffixes that ``path`` ends with, if any."""
        name = os.fspath(path).lower()
        matches = [s for s in self.suffixes if name.endswith(s)]
        return max(matches, key=len) if matches else None

    def resolve(self, options: ExportOptions) -> ExportOptions:
        """``options`` with ``what`` and ``suffix`` filled in and checked against what this
        exporter declares; raises :class:`ExportFailed` naming the choices otherwise."""
        what = options.what or self.contents[0]
        if what not in self.contents:
            raise ExportFailed(
                f"the {self.name} exporter cannot write {what!r}; "
                f"choose --what from: {', '.join(self.contents)}"
            )
        suffix = options.suffix.lower() or self.suffixes[0]
        if suffix not in self.suffixes:
            raise ExportFailed(
                f"the {self.name} exporter writes {', '.join(self.suffixes)} files, not {suffix!r}"
            )
        return attrs.evolve(options, what=what, suffix=suffix)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What a spreadsheet may run as a formula when a cell starts with it (OWASP "CSV Injection"),
plus the full-width forms some spreadsheets also accept."""


def neutralise_cell(value: str) -> str:
    """``value`` made safe to open in a spreadsheet: a leading ``'`` if it could start a formula.

    Apply it to text that came from outside (names, sectors, reasons, sources), not to numbers
    the ledger formats itself: ``-5`` is a number, not an attack. This follows OWASP's CSV
    injection guidance; the apostrophe shows in the cell, which is the point: the text is kept,
    visibly, and never run.
    """
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _new_file_mode() -> int:
    # What open() would have given the file, which mkstemp's 0o600 would otherwise override.
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` with a binary stream, then put what it wrote at ``path`` in one step.

    The stream is a temporary file in the target's folder (so the final rename stays on one
    file system and is atomic); if ``write`` raises, the temporary file is removed and ``path``
    is left as it was. Raises :class:`ExportFailed` naming ``path`` when it cannot be written
    there (no such folder, a folder in the way, no permission).
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise ExportFailed(f"cannot write {target}: folder {folder} does not exist")
    if target.is_dir():
        raise ExportFailed(f"cannot write {target}: it is a folder; give a file name")
    # Errors name the user's path: the temporary file's name would only puzzle them.
    try:
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportFailed(f"cannot write {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        mode = target.stat().st_mode & 0o777 if target.exists() else _new_file_mode()
        os.chmod(temp_name, mode)
        try:
            os.replace(temp_name, target)
        except OSError as exc:
            raise ExportFailed(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _run(exporter: Exporter, view: LedgerView, stream: BinaryIO, options: ExportOptions) -> None:
    try:
        exporter.export(view, stream, options)
    except LedgerError:
        raise
    except Exception as exc:
        plugin = f" (plugin {exporter.plugin})" if exporter.plugin else ""
        raise ExportFailed(
            f"the {exporter.name} exporter{plugin} failed: {type(exc).__name__}: {exc}"
        ) from exc


def plan(
    exporter: Exporter, output: str | os.PathLike[str] | None, options: ExportOptions
) -> ExportOptions:
    """``options`` completed for writing ``output`` (``None``: a stream) with ``exporter``.

    The suffix comes from ``output`` when it ends with one of the exporter's suffixes; an
    exporter with several suffixes refuses an ``output`` whose suffix it cannot tell (is
    ``chart.pdf`` meant as PNG or SVG?), while a one-suffix exporter writes its format to any
    name. Raises :class:`ExportFailed` for a ``what`` or suffix the exporter does not declare.
    """
    if output is not None and not options.suffix:
        suffix = exporter.suffix_of(output)
        if suffix is None and len(exporter.suffixes) > 1 and Path(output).suffix:
            raise ExportFailed(
                f"the {exporter.name} exporter writes {', '.join(exporter.suffixes)} files; "
                f"cannot tell which one {os.fspath(output)!r} should be"
            )
        options = attrs.evolve(options, suffix=suffix or "")
    return exporter.resolve(options)


def export_to(
    exporter: Exporter,
    view: LedgerView,
    output: str | os.PathLike[str] | BinaryIO,
    options: ExportOptions | None = None,
) -> ExportOptions:
    """Run ``exporter`` on ``view`` into ``output``; returns the options it ran with.

    ``output`` is a path (written atomically; its suffix picks among the exporter's suffixes,
    see :func:`plan`) or a binary stream (the export is built in memory first, so a failure
    writes nothing to it either).
    """
    options = options or ExportOptions()
    if isinstance(output, str | os.PathLike):
        resolved = plan(exporter, output, options)
        write_atomically(output, lambda stream: _run(exporter, view, stream, resolved))
        return resolved
    resolved = plan(exporter, None, options)
    buffer = io.BytesIO()
    _run(exporter, view, buffer, resolved)
    output.write(buffer.getvalue())
    output.flush()
    return resolved
