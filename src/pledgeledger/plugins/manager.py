"""Finding plugins, loading each one safely, and asking them for exporters and commands.

Every plugin, the built-in CSV, JSON and chart exporters included, is found through the
``pledgeledger`` entry-point group and registered with one pluggy plugin manager, made on first
use and kept for the process. Loading is defensive, because one broken plugin must never break
the command line:

- each entry point is loaded in its own ``try``; a failure is a :class:`PluginWarning` naming
  the plugin, and the plugin is skipped. ``PLEDGELEDGER_RAISE_PLUGIN_ERRORS=1`` re-raises
  instead, for plugin authors who want the traceback;
- a plugin's hook that raises is skipped the same way, with the same switch;
- ``PLEDGELEDGER_LOAD_PLUGINS`` is an allow-list: unset, every installed plugin loads; set to a
  comma-separated list of plugin names (entry-point names such as ``csv``, or distribution names
  such as ``pledgeledger-xlsx``; ``pledgeledger`` means all the built-ins), only those load; set
  to the empty string, no plugin loads at all, built-ins included.

Name clashes are not guessed away: two plugins with one name, or two exporters with one name,
raise :class:`PluginClash` naming both, whenever exporters are asked for.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from pledgeledger.errors import LedgerError
from pledgeledger.plugins import hookspecs
from pledgeledger.plugins.exporter import Exporter

if TYPE_CHECKING:
    import click

__all__ = [
    "ALLOW_ENV",
    "ENTRY_POINT_GROUP",
    "RAISE_ENV",
    "ExporterInfo",
    "PluginClash",
    "PluginError",
    "PluginInfo",
    "PluginWarning",
    "UnknownExporter",
    "add_commands",
    "exporter_for",
    "exporters",
    "get_exporter",
    "get_plugin_manager",
    "plugin_infos",
    "register",
    "registered",
    "reset_plugin_manager",
    "unregister",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT
"""The entry-point group plugins declare themselves in (``[project.entry-points.pledgeledger]``)."""
RAISE_ENV = "PLEDGELEDGER_RAISE_PLUGIN_ERRORS"
"""Set to ``1`` to re-raise a plugin's error instead of warning and skipping the plugin."""
ALLOW_ENV = "PLEDGELEDGER_LOAD_PLUGINS"
"""Comma-separated allow-list of plugins to load; empty loads none; unset loads all."""

BUILTIN_DISTRIBUTION = "pledgeledger"


class PluginWarning(UserWarning):
    """A plugin failed to load or to run a hook and was skipped; the message names it."""


class PluginError(LedgerError):
    """Something about the installed plugins stops the command (the message says what)."""


class PluginClash(PluginError):
    """Two plugins, or two exporters, share one name."""


class UnknownExporter(PluginError):
    """No installed exporter has the name or suffix asked for."""


@attrs.frozen
class ExporterInfo:
    """An exporter as ``pledgeledger plugins`` lists it."""

    name: str
    suffixes: tuple[str, ...]
    media_type: str
    contents: tuple[str, ...]
    binary: bool
    description: str


@attrs.frozen
class PluginInfo:
    """A registered plugin: where it came from, the hooks it implements, what it registers."""

    name: str
    version: str | None
    distribution: str | None
    builtin: bool
    hooks: tuple[str, ...]
    exporters: tuple[ExporterInfo, ...]


@attrs.define
class _Origin:
    distribution: str | None
    version: str | None
    entry_point: str | None


@attrs.define
class _State:
    manager: pluggy.PluginManager
    origins: dict[str, _Origin] = attrs.field(factory=dict)
    clashes: list[str] = attrs.field(factory=list)
    exporters: dict[str, Exporter] | None = None


_lock = threading.RLock()
_state: _State | None = None


def _raise_errors() -> bool:
    return os.environ.get(RAISE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _warn_or_raise(what: str, exc: Exception) -> None:
    """Skip a broken plugin with a warning naming it, or re-raise when asked to."""
    if _raise_errors():
        exc.add_note(f"while {what} (unset {RAISE_ENV} to skip it with a warning)")
        raise exc
    warnings.warn(
        f"{what} failed, so it was skipped: {type(exc).__name__}: {exc} "
        f"(set {RAISE_ENV}=1 to see the traceback)",
        PluginWarning,
        stacklevel=3,
    )


def _allow_list() -> set[str] | None:
    raw = os.environ.get(ALLOW_ENV)
    if raw is None:
        return None
    return {name.strip().lower() for name in raw.split(",") if name.strip()}


def _dist_name(ep: EntryPoint) -> str | None:
    dist = ep.dist
    return dist.metadata["Name"] if dist is not None else None


def _load_entry_points(state: _State) -> None:
    allowed = _allow_list()
    seen: set[str] = set()
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = _dist_name(ep)
        names = {ep.name.lower(), (dist or "").lower()}
        if allowed is not None and not names & allowed:
            continue
        seen |= names
        origin = _Origin(dist, ep.dist.version if ep.dist is not None else None, ep.value)
        known = state.origins.get(ep.name)
        if known is not None:
            state.clashes.append(
                f"two plugins are named {ep.name!r}: {known.entry_point} from "
                f"{known.distribution} and {ep.value} from {dist}; uninstall one, or leave one "
                f"out with {ALLOW_ENV}"
            )
            continue
        try:
            plugin = ep.load()
            state.manager.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001  # any failure of a plugin is its own
            where = f"{ep.value}, from {dist}" if dist else ep.value
            _warn_or_raise(f"loading pledgeledger plugin {ep.name!r} ({where})", exc)
            continue
        state.origins[ep.name] = origin
    for missing in sorted((allowed or set()) - seen):
        warnings.warn(
            f"{ALLOW_ENV} names {missing!r}, but no installed plugin has that name",
            PluginWarning,
            stacklevel=3,
        )


def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, loading the installed plugins on first use."""
    return _get_state().manager


def _get_state() -> _State:
    global _state
    with _lock:
        if _state is None:
            manager = pluggy.PluginManager(hookspecs.PROJECT)
            manager.add_hookspecs(hookspecs)
            state = _State(manager)
            _state = state  # before loading, so a plugin that asks for it does not recurse
            try:
                _load_entry_points(state)
            except BaseException:
                _state = None
                raise
        return _state


def reset_plugin_manager() -> None:
    """Forget the plugin manager, so the next use loads the plugins again (for tests)."""
    global _state
    with _lock:
        _state = None


def _default_name(plugin: object) -> str:
    """A name people can read in messages: the module's, or the class's dotted path."""
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return f"{cls.__module__}.{cls.__qualname__}"


def register(plugin: object, name: str | None = None) -> str:
    """Register a plugin object that no entry point declares (tests, notebooks); its name.

    The name defaults to the plugin's module or class path, e.g. ``tests.test_x.MyPlugin``.
    """
    state = _get_state()
    with _lock:
        registered = state.manager.register(plugin, name=name or _default_name(plugin))
        if registered is None:
            raise PluginError(f"plugin {name!r} is blocked")
        state.exporters = None
        return registered


def unregister(plugin: object) -> None:
    """Undo :func:`register`."""
    state = _get_state()
    with _lock:
        state.manager.unregister(plugin)
        state.exporters = None


def _implementations(state: _State, hook_name: str) -> list[Any]:
    """A hook's implementations, called one by one rather than through pluggy's single call,
    so that a failure or a clash can be pinned on the plugin that caused it."""
    caller = getattr(state.manager.hook, hook_name)
    # Registration hooks have nothing to wrap, so wrappers are left out.
    return [i for i in caller.get_hookimpls() if not (i.hookwrapper or i.wrapper)]


def _invoke(impl: Any, **kwargs: Any) -> object:
    # pluggy lets an implementation take a subset of the hookspec's arguments.
    return impl.function(*[kwargs[name] for name in impl.argnames])


def _collect_exporters(state: _State) -> dict[str, Exporter]:
    found: dict[str, Exporter] = {}
    clashes: list[str] = []
    for impl in _implementations(state, "register_exporters"):
        plugin_name = impl.plugin_name
        batch: list[Exporter] = []

        def register_one(exporter: Exporter, batch: list[Exporter] = batch) -> None:
            if not isinstance(exporter, Exporter):
                raise TypeError(
                    "register() takes a pledgeledger.exporters.Exporter, "
                    f"not {type(exporter).__name__}"
                )
            batch.append(exporter)

        try:
            _invoke(impl, register=register_one)
        except Exception as exc:  # noqa: BLE001  # any failure of a plugin is its own
            _warn_or_raise(
                f"the register_exporters hook of pledgeledger plugin {plugin_name!r}", exc
            )
            continue
        for exporter in batch:
            exporter = attrs.evolve(exporter, plugin=plugin_name)
            if exporter.name in found:
                first = found[exporter.name].plugin
                clashes.append(
                    f"two exporters are named {exporter.name!r}: one from plugin {first!r} and "
                    f"one from plugin {plugin_name!r}; uninstall one, or leave one out with "
                    f"{ALLOW_ENV}"
                )
                continue
            found[exporter.name] = exporter
    if state.clashes or clashes:
        raise PluginClash("; ".join([*state.clashes, *clashes]))
    return dict(sorted(found.items()))


def exporters() -> dict[str, Exporter]:
    """Every registered exporter by name (sorted); raises :class:`PluginClash` on a clash."""
    state = _get_state()
    with _lock:
        if state.exporters is None:
            state.exporters = _collect_exporters(state)
        return state.exporters


def get_exporter(name: str) -> Exporter:
    """The exporter called ``name``, or :class:`UnknownExporter` listing the installed ones."""
    found = exporters()
    if name not in found:
        raise UnknownExporter(f"no exporter named {name!r}; {_installed(found)}")
    return found[name]


def exporter_for(path: str | os.PathLike[str]) -> Exporter:
    """The exporter whose suffix ``path`` ends with (the longest match wins)."""
    found = exporters()
    best: dict[str, list[Exporter]] = {}
    for exporter in found.values():
        suffix = exporter.suffix_of(path)
        if suffix is not None:
            best.setdefault(suffix, []).append(exporter)
    if not best:
        raise UnknownExporter(
            f"no exporter writes files like {os.fspath(path)!r}; give --format "
            f"({_installed(found)})"
        )
    candidates = best[max(best, key=len)]
    if len(candidates) > 1:
        names = ", ".join(e.name for e in candidates)
        raise UnknownExporter(
            f"several exporters write files like {os.fspath(path)!r} ({names}); choose one "
            "with --format"
        )
    return candidates[0]


def _installed(found: dict[str, Exporter]) -> str:
    if not found:
        hint = f" ({ALLOW_ENV} is set)" if ALLOW_ENV in os.environ else ""
        return f"no exporters are installed{hint}"
    listed = ", ".join(f"{e.name} ({' '.join(e.suffixes)})" for e in found.values())
    return f"installed: {listed}"


def plugin_infos() -> list[PluginInfo]:
    """Every registered plugin, sorted by name, as ``pledgeledger plugins`` lists them."""
    state = _get_state()
    by_plugin: dict[str, list[ExporterInfo]] = {}
    for e in exporters().values():
        info = ExporterInfo(e.name, e.suffixes, e.media_type, e.contents, e.binary, e.description)
        by_plugin.setdefault(e.plugin or "", []).append(info)
    infos = []
    for name, plugin in state.manager.list_name_plugin():
        if plugin is None:  # blocked
            continue
        origin = state.origins.get(name, _Origin(None, None, None))
        hooks = sorted(caller.name for caller in state.manager.get_hookcallers(plugin) or ())
        infos.append(
            PluginInfo(
                name=name,
                version=origin.version,
                distribution=origin.distribution,
                builtin=origin.distribution == BUILTIN_DISTRIBUTION,
                hooks=tuple(hooks),
                exporters=tuple(by_plugin.get(name, ())),
            )
        )
    return sorted(infos, key=lambda i: i.name)


def add_commands(cli: click.Group, builtin: Sequence[str]) -> None:
    """Let every plugin add commands to ``cli``; one may not replace a command in ``builtin``.

    A plugin whose hook raises, or that tries to replace a built-in command, is skipped with a
    :class:`PluginWarning`; the command line goes on working.
    """
    state = _get_state()
    for impl in _implementations(state, "register_commands"):
        plugin_name = impl.plugin_name
        before = dict(cli.commands)
        try:
            _invoke(impl, cli=cli)
        except Exception as exc:  # noqa: BLE001  # any failure of a plugin is its own
            cli.commands = before
            _warn_or_raise(
                f"the register_commands hook of pledgeledger plugin {plugin_name!r}", exc
            )
            continue
        for name in builtin:
            if cli.commands.get(name) is not before.get(name):
                cli.commands[name] = before[name]
                warnings.warn(
                    f"pledgeledger plugin {plugin_name!r} tried to replace the built-in "
                    f"{name!r} command; its version was skipped",
                    PluginWarning,
                    stacklevel=2,
                )


@contextmanager
def registered(*plugins: object) -> Iterator[None]:
    """Register ``plugins`` for the duration of a ``with`` block (see pledgeledger.testing)."""
    done: list[object] = []
    try:
        for plugin in plugins:
            register(plugin)
            done.append(plugin)
        yield
    finally:
        for plugin in reversed(done):
            unregister(plugin)
