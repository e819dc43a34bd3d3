"""`annotary paths`, the About dialog and its licences, and the About command in the table."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from annotary import __version__
from annotary.app import cli

ROOT = Path(__file__).resolve().parent.parent.parent


def test_paths_names_every_place_and_honours_annotary_home(annotary_home):
    result = CliRunner().invoke(cli, ["paths", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["data_dir"] == str(annotary_home)
    assert data["store"] == str(annotary_home / "annotary.db")
    assert data["identity_key"] == str(annotary_home / "identity.key")
    assert data["identity_card"] == str(annotary_home / "identity.json")
    assert data["backups"] == str(annotary_home / "backups")
    assert data["crash_log"] == str(annotary_home / "crash.log")
    assert Path(data["resources"], "schema").is_dir()
    text = CliRunner().invoke(cli, ["paths"]).stdout
    assert f"store          {annotary_home / 'annotary.db'}" in text


def test_about_shows_version_paths_and_every_licence(qtbot, annotary_home):
    from PySide6.QtWidgets import QLabel

    from annotary.ui.about import AboutDialog

    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    titles = [t for t, _ in dialog.documents]
    assert titles[0].startswith("LICENSE") and "Apache License" in dialog.documents[0][1]
    data_licences = sorted(p.parent.name for p in (ROOT / "resources").glob("*/LICENSE-DATA.md"))
    assert data_licences and all(f"{name}/LICENSE-DATA.md" in titles for name in data_licences)
    assert dialog.paths["store"] == str(annotary_home / "annotary.db")
    assert dialog.text.toPlainText().startswith(dialog.documents[0][1][:40])
    dialog.list.setCurrentRow(len(titles) - 1)
    assert dialog.text.toPlainText() == dialog.documents[-1][1]
    labels = " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert f"Annotary {__version__}" in labels and str(annotary_home / "crash.log") in labels


def test_every_runtime_dependency_is_named_in_the_licences():
    from annotary.ui.about import COMPONENTS

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(">")[0].split("=")[0].split("[")[0].strip().lower() for d in deps}
    names = {"pyside6" if n.startswith("pyside6") else n for n in names}
    listed = COMPONENTS.lower()
    assert [n for n in names if n not in listed] == []


def test_about_is_in_the_help_menu(window):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from annotary.ui.about import AboutDialog
    from annotary.ui.shortcuts import by_id

    about = by_id()["help.about"]
    assert about.menu == "&Help" and about.scope == "global"
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert window.actions["help.about"] in help_menu.actions()
    seen = []

    def close_it():
        dialog = QApplication.activeModalWidget()
        seen.append(dialog)
        dialog.reject()

    QTimer.singleShot(0, close_it)
    window.run_command("help.about")
    assert len(seen) == 1 and isinstance(seen[0], AboutDialog)
