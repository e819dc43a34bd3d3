"""The frozen app itself (`make test-package` sets ANNOTARY_FROZEN to dist/annotary/annotary)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import annotary

APP = os.environ.get("ANNOTARY_FROZEN")
pytestmark = pytest.mark.skipif(not APP, reason="no frozen app: `make test-package` builds one")
GOAL_MB = 200


def frozen(*args: str, home: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANNOTARY_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([APP, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_version_and_resources_come_from_inside_the_folder(tmp_path):
    assert frozen("--version", home=tmp_path).stdout.strip() == f"annotary, version {annotary.__version__}"
    paths = json.loads(frozen("paths", "--json", home=tmp_path).stdout)
    folder = Path(APP).resolve().parent
    assert Path(paths["resources"]).resolve().is_relative_to(folder)
    assert paths["data_dir"] == str(tmp_path)


def test_self_test_passes(tmp_path):
    result = frozen("self-test", home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "self-test: 10 passed, 0 failed"


def test_a_file_that_is_no_bundle_is_refused_in_one_line(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a bundle")
    result = frozen("open", str(notes), home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: notes.txt is neither an Annotary bundle (.annotary) nor an Annotary store"


def test_the_folder_is_under_the_size_goal():
    folder = Path(APP).resolve().parent
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    assert size < GOAL_MB * 1024 * 1024, f"{size / 2**20:.0f} MB"


def test_cli_commands_work_without_a_display(tmp_path):
    made = frozen("identity", "create", "--name", "Dr. Ada Lee", "--role", "annotator", home=tmp_path)
    assert made.returncode == 0, made.stderr
    assert json.loads(frozen("projects", "--json", home=tmp_path).stdout) == []
    assert frozen("backup", "list", "--json", home=tmp_path).stdout.strip() == "[]"
