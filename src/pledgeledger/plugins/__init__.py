"""Plugins: the hooks, how installed plugins are found and loaded, and what an exporter is.

Owns the hookspecs (:mod:`.hookspecs`), loading plugins safely through the ``pledgeledger``
entry-point group (:mod:`.manager`), the exporter record and writing its output safely
(:mod:`.exporter`), tables of typed cells for tabular formats (:mod:`.cells`) and the built-in
exporters (:mod:`.builtin`), which register exactly as third-party ones do.

May import: :mod:`pledgeledger.view`, :mod:`pledgeledger.formats`, :mod:`pledgeledger.domain`
and :mod:`pledgeledger.errors`; never the store or the read models, so that plugins see a
stable, read-only view whatever the internals become.

A plugin author finds everything here: ``from pledgeledger.plugins import hookimpl, Exporter``.
The names are imported on first use, so that importing one submodule does not load pluggy.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pledgeledger.plugins.exporter import (
        ALL,
        EVENTS,
        TIMELINE,
        TOTALS,
        Exporter,
        ExportFailed,
        ExportOptions,
        export_to,
    )
    from pledgeledger.plugins.hookspecs import hookimpl
    from pledgeledger.plugins.manager import (
        PluginClash,
        PluginError,
        PluginWarning,
        UnknownExporter,
        exporter_for,
        exporters,
        get_exporter,
        plugin_infos,
        register,
        registered,
        unregister,
    )

_LAZY = {
    "ALL": "pledgeledger.plugins.exporter",
    "EVENTS": "pledgeledger.plugins.exporter",
    "ExportFailed": "pledgeledger.plugins.exporter",
    "ExportOptions": "pledgeledger.plugins.exporter",
    "Exporter": "pledgeledger.plugins.exporter",
    "PluginClash": "pledgeledger.plugins.manager",
    "PluginError": "pledgeledger.plugins.manager",
    "PluginWarning": "pledgeledger.plugins.manager",
    "TIMELINE": "pledgeledger.plugins.exporter",
    "TOTALS": "pledgeledger.plugins.exporter",
    "UnknownExporter": "pledgeledger.plugins.manager",
    "export_to": "pledgeledger.plugins.exporter",
    "exporter_for": "pledgeledger.plugins.manager",
    "exporters": "pledgeledger.plugins.manager",
    "get_exporter": "pledgeledger.plugins.manager",
    "hookimpl": "pledgeledger.plugins.hookspecs",
    "plugin_infos": "pledgeledger.plugins.manager",
    "register": "pledgeledger.plugins.manager",
    "registered": "pledgeledger.plugins.manager",
    "unregister": "pledgeledger.plugins.manager",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "ALL",
    "EVENTS",
    "TIMELINE",
    "TOTALS",
    "ExportFailed",
    "ExportOptions",
    "Exporter",
    "PluginClash",
    "PluginError",
    "PluginWarning",
    "UnknownExporter",
    "export_to",
    "exporter_for",
    "exporters",
    "get_exporter",
    "hookimpl",
    "plugin_infos",
    "register",
    "registered",
    "unregister",
]
