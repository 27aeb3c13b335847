"""The hooks a pledgeledger plugin can implement.

A plugin is any module or object with functions marked ``@hookimpl`` whose names match the
hookspecs below, made known through the ``pledgeledger`` entry-point group (see
``docs/plugins.md``). The built-in CSV, JSON and chart exporters are plugins of exactly this kind,
so whatever they can do, a third-party plugin can do too.

Hooks hand plugins a ``register`` callback rather than asking them to return values, so that a
plugin can register several things, the ledger can tell which plugin registered what (a name
clash names both plugins), and new optional fields can be added to what is registered without
breaking anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from pledgeledger.plugins.exporter import Exporter

__all__ = ["hookimpl", "hookspec", "register_commands", "register_exporters"]

PROJECT = "pledgeledger"
"""The pluggy project name, which is also the entry-point group plugins are found under."""

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin's function as the implementation of the hookspec of the same name."""


@hookspec
def register_exporters(register: Callable[[Exporter], None]) -> None:
    """Register export formats by calling ``register(Exporter(...))`` once per format.

    An :class:`~pledgeledger.exporters.Exporter` declares its name (what ``--format`` takes),
    its file suffixes (what ``--output`` infers it from), its media type, and the function that
    writes it. That function receives a read-only :class:`~pledgeledger.view.LedgerView` and
    :class:`~pledgeledger.exporters.ExportOptions`, never the event store, so the ledger's
    internals can change without breaking exporters.

    Two exporters with one name are an error that names both plugins.

    .. versionadded:: 0.1.0
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``pledgeledger`` command line, e.g. with ``@cli.command()``.

    Plugin commands are loaded only when the command line asks for a command that is not
    built in (or for ``--help``), so a broken plugin cannot slow down or break the built-in
    commands. A plugin command may not replace a built-in one: it is skipped with a warning.

    .. versionadded:: 0.1.0
    """
