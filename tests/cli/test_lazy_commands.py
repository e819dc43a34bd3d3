"""Commands load their module only when they run; `annotary --help` lists them all the same.

The root group (and `identity`) keep, per lazily loaded command, the module that defines it and
its help text (cli.main: `cli.lazy`). These tests fail when that table and the commands drift
apart: a command missing from it, one it names that its module does not define, a help text that
changed on one side only, or a module the frozen app would not bundle."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click

import annotary.cli
from annotary.app import cli

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "packaging" / "annotary.spec"
LIMITS = (30, 45, 60, 74, 100, 1000)  # click shortens a listed help text to the terminal's width


def lazy_groups() -> list[tuple[str, click.Group]]:
    return [("annotary", cli), ("annotary identity", cli.commands["identity"])]


def load_everything() -> None:
    """Every module that defines commands: annotary/cli/*.py and the app's own GUI commands."""
    for info in pkgutil.iter_modules(annotary.cli.__path__):
        importlib.import_module(f"annotary.cli.{info.name}")
    importlib.import_module("annotary.app")


def test_every_command_is_in_the_table_or_defined_with_its_group():
    load_everything()
    for where, group in lazy_groups():
        home = group.callback.__module__  # the group's own module defines the others eagerly
        for name, command in group.commands.items():
            module = command.callback.__module__ if command.callback else None
            if name in group.lazy:
                assert group.lazy[name][0] == module, f"`{where} {name}` is defined in {module}, " \
                                                      f"not {group.lazy[name][0]} as cli.lazy says"
            else:
                assert module == home, f"`{where} {name}` ({module}) is missing from the lazy table"
        assert set(group.lazy) <= set(group.commands), \
            f"{where}: the table lists {sorted(set(group.lazy) - set(group.commands))}, defined nowhere"


def test_the_listed_help_is_the_commands_own():
    load_everything()
    for where, group in lazy_groups():
        for name, (_, text) in group.lazy.items():
            real = group.commands[name]
            assert not real.hidden, f"`{where} {name}` is hidden: leave it out of the table"
            listed = click.Command(name, help=text)
            for limit in LIMITS:
                assert listed.get_short_help_str(limit) == real.get_short_help_str(limit), \
                    f"`{where} {name}`: the table's help text differs from the command's first paragraph"


def test_each_table_entry_loads_its_command_on_demand():
    """In a fresh process: a lazily listed command is found by click (its module imported then)."""
    code = """
import json, sys
import click
from annotary.app import cli
out = {}
for group_path in ([], ["identity"]):
    group = cli
    for part in group_path:
        group = group.get_command(click.Context(cli), part)
    for name in group.lazy:
        command = group.get_command(click.Context(group), name)
        out[" ".join([*group_path, name])] = command is not None and command.name == name
print(json.dumps(out))
"""
    found = json.loads(run_python(code))
    assert found and all(found.values()), [k for k, v in found.items() if not v]


def test_help_lists_every_command_without_importing_them():
    """`annotary --help` imports no command module and no ops (it starts in a few tens of ms), and
    says exactly what it says once every command is loaded."""
    code = """
import json, sys
from click.testing import CliRunner
from annotary.app import cli
lazy = CliRunner().invoke(cli, ["--help"]).output
loaded = sorted(m for m in sys.modules if m.startswith(("annotary.cli.", "annotary.ops", "annotary.store")))
identity = CliRunner().invoke(cli, ["identity", "--help"]).output
print(json.dumps({"help": lazy, "identity": identity, "loaded": loaded}))
"""
    fresh = json.loads(run_python(code))
    assert fresh["loaded"] == ["annotary.cli.main"], fresh["loaded"]
    load_everything()
    from click.testing import CliRunner

    assert fresh["help"] == CliRunner().invoke(cli, ["--help"]).output
    assert fresh["identity"] == CliRunner().invoke(cli, ["identity", "--help"]).output
    listed = {line.split()[0] for line in fresh["help"].split("Commands:")[1].splitlines() if line.strip()}
    assert listed == {name for name, c in cli.commands.items() if not c.hidden}


def test_the_frozen_app_bundles_every_lazily_loaded_module():
    """PyInstaller cannot see a module imported by name: the spec lists each (hiddenimports)."""
    text = SPEC.read_text()
    modules = {module for _, group in lazy_groups() for module, _ in group.lazy.values()}
    modules.discard("annotary.app")  # the entry script imports it
    missing = sorted(m for m in modules if f'"{m}"' not in text)
    assert not missing, f"packaging/annotary.spec: add {missing} to hiddenimports"


def run_python(code: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "desktop"), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout
