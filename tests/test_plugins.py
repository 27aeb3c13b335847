"""Plugin discovery and the plugin manager: built-ins are plugins like any other, a broken
plugin never breaks the command line, the allow-list works, and name clashes are loud."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import BinaryIO

import click
import pytest
from click.testing import CliRunner, Result

from pledgeledger.cli import cli
from pledgeledger.plugins import manager as plugins
from pledgeledger.plugins.exporter import Exporter, ExportOptions
from pledgeledger.plugins.hookspecs import hookimpl
from pledgeledger.plugins.manager import PluginClash, PluginWarning, exporters, plugin_infos
from pledgeledger.testing import (
    SAMPLE_BATCHES,
    ExporterContract,
    fixed_clock,
    register_plugin,
    registered,
)
from pledgeledger.view import LedgerView

__all__ = ["register_plugin"]  # the kit's fixture, used below as a test would use it

BUILTINS = {"chart", "csv", "json"}


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test loads the plugins anew, with no allow-list, and leaves the CLI as it was."""
    monkeypatch.delenv(plugins.ALLOW_ENV, raising=False)
    monkeypatch.delenv(plugins.RAISE_ENV, raising=False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.setattr(cli, "_plugins_added", False, raising=False)
    plugins.reset_plugin_manager()
    yield
    plugins.reset_plugin_manager()


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _with_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **modules: str) -> None:
    """Install fake plugins: a module per keyword (its source), each with an entry point."""
    monkeypatch.syspath_prepend(str(tmp_path))
    fakes = []
    for name, source in modules.items():
        (tmp_path / f"fake_{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        fakes.append(EntryPoint(name, f"fake_{name}", plugins.ENTRY_POINT_GROUP))
    real = importlib.metadata.entry_points

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [*real(group=group), *fakes]

    monkeypatch.setattr(plugins, "entry_points", entry_points)
    for name in modules:
        monkeypatch.delitem(sys.modules, f"fake_{name}", raising=False)


# -- the built-ins ---------------------------------------------------------------------------


def test_builtins_are_listed_like_any_plugin() -> None:
    result = _run("plugins")
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(listed) >= BUILTINS
    csv_plugin = listed["csv"]
    assert csv_plugin["builtin"] is True
    assert csv_plugin["distribution"] == "pledgeledger"
    assert csv_plugin["version"]
    assert csv_plugin["hooks"] == ["register_exporters"]
    assert [e["name"] for e in csv_plugin["exporters"]] == ["csv"]
    assert [e["name"] for e in listed["json"]["exporters"]] == ["json", "jsonl"]
    assert listed["chart"]["exporters"][0]["suffixes"] == [".png", ".svg"]


def test_builtins_come_from_the_entry_point_group() -> None:
    from importlib.metadata import entry_points

    names = {
        ep.name
        for ep in entry_points(group="pledgeledger")
        if ep.dist is not None and ep.dist.metadata["Name"] == "pledgeledger"
    }
    assert names == BUILTINS


# -- a plugin registered for a test ----------------------------------------------------------


def _upper(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    for logged in view.events():
        out.write(logged.event.id.upper().encode() + b"\n")


class UpperPlugin:
    """A plugin as a class instance: an exporter of event ids in capitals."""

    @hookimpl
    def register_exporters(self, register: Callable[[Exporter], None]) -> None:
        register(
            Exporter(
                name="upper",
                suffixes=(".upper",),
                media_type="text/plain",
                export=_upper,
                contents=("events",),
            )
        )


class TestUpperPluginPassesTheContract(ExporterContract):
    exporter_name = "upper"
    plugin = UpperPlugin()


@pytest.fixture
def db(tmp_path: Path) -> str:
    from pledgeledger import Ledger

    path = tmp_path / "ledger.db"
    with Ledger.open(path, clock=fixed_clock()) as ledger:
        for batch in SAMPLE_BATCHES:
            ledger.record(*batch)
    return str(path)


def test_a_registered_plugin_is_listed_and_exports(
    register_plugin: Callable[[object], None], db: str, tmp_path: Path
) -> None:
    register_plugin(UpperPlugin())
    listed = {p["name"]: p for p in json.loads(_run("plugins").stdout)}
    upper = next(
        p for p in listed.values() if p["exporters"] and p["exporters"][0]["name"] == "upper"
    )
    assert upper["builtin"] is False
    assert upper["version"] is None  # not installed from a distribution
    result = _run("--db", db, "export", "-o", str(tmp_path / "ids.upper"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ids.upper").read_text().splitlines()[0] == "DEMO-ACCORD"


def test_registered_is_undone_after_the_block() -> None:
    plugin = UpperPlugin()
    with registered(plugin):
        assert "upper" in exporters()
    assert "upper" not in exporters()


# -- clashes ---------------------------------------------------------------------------------


class ImpostorPlugin:
    @hookimpl
    def register_exporters(self, register: Callable[[Exporter], None]) -> None:
        register(Exporter(name="csv", suffixes=(".csv",), media_type="text/csv", export=_upper))


def test_an_exporter_name_clash_is_a_clear_error(db: str) -> None:
    with registered(ImpostorPlugin()):
        with pytest.raises(
            PluginClash,
            match=r"two exporters are named 'csv': one from plugin "
            r"'csv' and one from plugin '.*ImpostorPlugin.*'",
        ):
            exporters()
        result = _run("--db", db, "export", "-o", "-", "-f", "csv")
        assert result.exit_code == 1
        assert "two exporters are named 'csv'" in result.output
        assert _run("--db", db, "totals").exit_code == 0, "commands without plugins still work"


def test_a_plugin_name_clash_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.metadata.entry_points

    def entry_points(*, group: str) -> list[EntryPoint]:
        return [*real(group=group), EntryPoint("csv", "json", plugins.ENTRY_POINT_GROUP)]

    monkeypatch.setattr(plugins, "entry_points", entry_points)
    with pytest.raises(PluginClash, match="two plugins are named 'csv'"):
        exporters()


# -- broken plugins --------------------------------------------------------------------------

BROKEN_ON_IMPORT = "raise RuntimeError('boom on import')\n"


def test_a_plugin_that_raises_on_import_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str
) -> None:
    _with_entry_points(monkeypatch, tmp_path, broken=BROKEN_ON_IMPORT)
    with pytest.warns(
        PluginWarning,
        match=r"loading pledgeledger plugin 'broken' \(fake_broken"
        r".*RuntimeError: boom on import",
    ):
        found = exporters()
    assert set(found) >= {"csv", "json", "chart"}


@pytest.mark.parametrize(
    "args",
    [["--help"], ["plugins"], ["export", "-o", "-", "-f", "csv"], ["totals"], ["nope"]],
)
def test_the_cli_keeps_working_beside_a_broken_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str, args: list[str]
) -> None:
    _with_entry_points(monkeypatch, tmp_path, broken=BROKEN_ON_IMPORT)
    result = _run("--db", db, *args)
    expected = 2 if args == ["nope"] else 0
    assert result.exit_code == expected, result.output
    if args != ["totals"]:  # totals needs no plugin, so it does not even load them
        assert "warning: loading pledgeledger plugin 'broken'" in result.stderr
        assert "boom on import" in result.stderr


def test_raise_plugin_errors_re_raises(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str
) -> None:
    _with_entry_points(monkeypatch, tmp_path, broken=BROKEN_ON_IMPORT)
    monkeypatch.setenv(plugins.RAISE_ENV, "1")
    with pytest.raises(RuntimeError, match="boom on import") as info:
        exporters()
    assert any("pledgeledger plugin 'broken'" in note for note in info.value.__notes__)
    result = _run("--db", db, "plugins")
    assert result.exit_code == 1
    assert "boom on import" in result.output


def test_a_hook_that_raises_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _with_entry_points(
        monkeypatch,
        tmp_path,
        faulty="""
        from pledgeledger.plugins.hookspecs import hookimpl

        @hookimpl
        def register_exporters(register):
            register("not an exporter")
    """,
    )
    with pytest.warns(
        PluginWarning,
        match="register_exporters hook of pledgeledger plugin "
        "'faulty'.*TypeError: register\\(\\) takes a",
    ):
        found = exporters()
    assert "csv" in found


def test_a_bad_hook_signature_is_skipped_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _with_entry_points(
        monkeypatch,
        tmp_path,
        typo="""
        from pledgeledger.plugins.hookspecs import hookimpl

        @hookimpl
        def register_exporters(regster):
            pass
    """,
    )
    with pytest.warns(PluginWarning, match="plugin 'typo'.*PluginValidationError"):
        assert "csv" in exporters()


def test_a_real_broken_distribution_in_a_separate_process(tmp_path: Path, db: str) -> None:
    """The whole path a user takes: a pip-installed plugin that raises on import."""
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[pledgeledger]\nbroken = broken_plugin\n")
    (site / "broken_plugin.py").write_text(BROKEN_ON_IMPORT)
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop(plugins.ALLOW_ENV, None)
    env.pop(plugins.RAISE_ENV, None)
    exe = str(Path(sys.executable).parent / "pledgeledger")
    for args in (["--help"], ["plugins"], ["totals"]):
        result = subprocess.run(
            [exe, "--db", db, *args], capture_output=True, text=True, env=env, check=False
        )
        assert result.returncode == 0, result.stderr
        if args != ["totals"]:
            assert result.stderr.startswith(
                "warning: loading pledgeledger plugin 'broken' (broken_plugin, from "
                "broken-plugin) failed, so it was skipped: RuntimeError: boom on import"
            ), result.stderr
    run = subprocess.run([exe, "plugins"], capture_output=True, text=True, env=env, check=True)
    listed = json.loads(run.stdout)
    assert "broken" not in {p["name"] for p in listed}


# -- the allow-list --------------------------------------------------------------------------


def test_the_allow_list_loads_only_the_named_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ALLOW_ENV, "csv, chart")
    assert {p.name for p in plugin_infos()} == {"csv", "chart"}


def test_the_allow_list_takes_distribution_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ALLOW_ENV, "pledgeledger")
    assert {p.name for p in plugin_infos()} == BUILTINS


def test_an_empty_allow_list_loads_nothing(monkeypatch: pytest.MonkeyPatch, db: str) -> None:
    monkeypatch.setenv(plugins.ALLOW_ENV, "")
    assert plugin_infos() == []
    result = _run("--db", db, "export", "-o", "x.csv")
    assert result.exit_code == 2
    assert "no exporters are installed (PLEDGELEDGER_LOAD_PLUGINS is set)" in result.output


def test_the_allow_list_skips_a_broken_plugin(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _with_entry_points(monkeypatch, tmp_path, broken=BROKEN_ON_IMPORT)
    monkeypatch.setenv(plugins.ALLOW_ENV, "pledgeledger")
    assert set(exporters()) >= {"csv"}  # no warning: filterwarnings = error would fail


def test_an_unknown_name_in_the_allow_list_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugins.ALLOW_ENV, "csv,xslx")
    with pytest.warns(PluginWarning, match="names 'xslx', but no installed plugin"):
        plugins.get_plugin_manager()


# -- commands from plugins -------------------------------------------------------------------

COMMANDS = """
    import click
    from pledgeledger import Ledger
    from pledgeledger.plugins.hookspecs import hookimpl

    @hookimpl
    def register_commands(cli):
        @cli.command()
        @click.pass_context
        def count(ctx):
            '''How many events the ledger holds.'''
            with Ledger.open(ctx.find_root().params["db"]) as ledger:
                click.echo(sum(1 for _ in ledger.events()))
"""


def test_a_plugin_adds_a_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str) -> None:
    _with_entry_points(monkeypatch, tmp_path, counter=COMMANDS)
    assert "How many events the ledger holds" in _run("--help").output
    result = _run("--db", db, "count")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(sum(len(b) for b in SAMPLE_BATCHES))
    info = next(p for p in plugin_infos() if p.name == "counter")
    assert info.hooks == ("register_commands",)


def test_a_plugin_cannot_replace_a_builtin_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str
) -> None:
    _with_entry_points(
        monkeypatch,
        tmp_path,
        hijack="""
        import click
        from pledgeledger.plugins.hookspecs import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def totals():
                click.echo("hijacked")
    """,
    )
    result = _run("--db", db, "--help")
    assert "plugin 'hijack' tried to replace the built-in 'totals' command" in result.stderr
    assert "hijacked" not in _run("--db", db, "totals").output


def test_a_failing_command_hook_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: str
) -> None:
    _with_entry_points(
        monkeypatch,
        tmp_path,
        bad="""
        import click
        from pledgeledger.plugins.hookspecs import hookimpl

        @hookimpl
        def register_commands(cli):
            @cli.command()
            def half():
                pass
            raise ValueError("half-way")
    """,
    )
    result = _run("--help")
    assert result.exit_code == 0
    assert "register_commands hook of pledgeledger plugin 'bad'" in result.stderr
    assert " half " not in result.stdout, "what the failing hook added is taken back"


def test_plugins_output_is_valid_json_without_warnings() -> None:
    result = _run("plugins")
    assert result.stderr == ""
    assert isinstance(json.loads(result.stdout), list)


def test_click_group_type_is_kept() -> None:
    assert isinstance(cli, click.Group)


def _echo_options(view: LedgerView, out: BinaryIO, options: ExportOptions) -> None:
    out.write(json.dumps(dict(options.extra), sort_keys=True).encode())


class EchoPlugin:
    @hookimpl
    def register_exporters(self, register: Callable[[Exporter], None]) -> None:
        register(
            Exporter(
                name="echo", suffixes=(".echo",), media_type="text/plain", export=_echo_options
            )
        )


def test_exporter_options_reach_the_exporter(db: str) -> None:
    with registered(EchoPlugin()):
        result = _run(
            "--db", db, "export", "-f", "echo", "-o", "-", "-O", "sheet=Totals", "-O", "title=a=b"
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"sheet": "Totals", "title": "a=b"}
