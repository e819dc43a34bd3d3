"""A project open in the workspace while `annotary` commands write the same file in other processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeDatabase

from annotary.flows import workspace as wf
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project
from tests.conftest import ROOT
from tests.coordinator.conftest import DEMO, World, world  # noqa: F401 - the coordinator's world, built once


def annotary(home: Path, *args, ok: bool = True) -> subprocess.CompletedProcess:
    """The command line in a process of its own, as a coordinator runs it beside the open workspace."""
    env = {**os.environ, "ANNOTARY_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "desktop"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "annotary.app", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)
    if ok:
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
    return done


def file_dialog_looks_at(folder: Path) -> None:
    """What a file dialog showing the project's folder does: it tells each file's type from its
    first bytes (opening and closing project.db, -wal and -shm in this process)."""
    mimes = QMimeDatabase()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            mimes.mimeTypeForFile(str(path))
            with path.open("rb") as f:
                f.read(16)


def recompute(path: Path) -> wf.Snapshot:
    """F5: the workspace recomputes on a connection of its own (off the GUI thread)."""
    store = open_project(path)
    try:
        return wf.compute(store)
    finally:
        store.close()


def lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "train.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def shared(world: World, tmp_path):  # noqa: F811
    """The project open in a workspace-style store, and a data folder with the coordinator's key
    for the commands."""
    home = tmp_path / "cli-home"
    shutil.copytree(world.root / "coordinator", home)
    folder = tmp_path / "project"
    folder.mkdir()
    store = world.copy(folder)
    yield store, home
    store.close()


def test_commands_write_the_project_the_workspace_has_open(shared, world, tmp_path):  # noqa: F811
    store, home = shared
    path = store.path
    assert wf.compute(store).status.labels == 0
    file_dialog_looks_at(path.parent)  # e.g. the dataset export's folder dialog

    annotary(home, "merge", path, *world.results)
    file_dialog_looks_at(path.parent)
    merged = recompute(path)
    labels = merged.status.labels
    assert labels > 0 and merged.status.bundles == 3
    assert wf.compute(store).status.labels == labels  # the workspace's own connection sees them too
    first = export_dataset(store, out=tmp_path / "first", fmt="trl-preference", question="helpful")
    assert first.rows > 0

    judge = tmp_path / "judge.jsonl"
    item = store.one("SELECT id FROM items ORDER BY seq LIMIT 1")[0]
    judge.write_text(json.dumps({"item_id": item, "question_id": "helpful",
                                 "answer": {"mode": "pairwise", "choice": "B"}}) + "\n")
    annotary(home, "labels", "import", path, judge, "--rater", "judge")
    file_dialog_looks_at(path.parent)
    assert recompute(path).status.labels == labels + 1
    assert wf.compute(store).report.raters  # the rater's labels are in the workspace's figures

    annotary(home, "merge", path, world.newer)  # a newer revision of one label replaces the older one
    annotary(home, "dataset", "export", path, "--format", "trl-preference", "--question", "helpful",
             "--out", tmp_path / "by-command")
    annotary(home, "project", "assign", path, "--overlap", "3", "--out-dir", tmp_path / "round2")
    file_dialog_looks_at(path.parent)
    after = recompute(path)
    assert after.status.round == 2 and after.status.labels == labels + 1
    assert wf.compute(store).status.round == 2

    # the workspace's export (its texts read on a second, read-only connection) matches the command's
    mine = export_dataset(store, out=tmp_path / "by-workspace", fmt="trl-preference", question="helpful")
    assert lines(tmp_path / "by-workspace") == lines(tmp_path / "by-command")
    assert mine.rows == len(lines(tmp_path / "by-command"))
    assert store.integrity_ok()

    # nothing is lost when the workspace closes last: another process reads every write
    store.close()
    store.close = lambda: None  # the fixture's close
    assert not Path(f"{path}-wal").exists()  # the last one out checkpoints into project.db
    check = annotary(home, "status", path, "--json")
    assert json.loads(check.stdout)["labels"] == labels + 1


def test_replacing_the_open_project_is_refused_in_one_line(shared, world, tmp_path):  # noqa: F811
    store, home = shared
    path = store.path
    file_dialog_looks_at(path.parent)
    copy = tmp_path / "copy.db"
    shutil.copy(world.project, copy)
    restored = annotary(home, "backup", "restore", copy, "--store", path, "--yes", ok=False)
    assert restored.returncode == 2
    assert restored.stderr.splitlines() == [restored.stderr.strip()] and "is in use" in restored.stderr
    created = annotary(home, "project", "create", "--spec", DEMO / "spec.toml", "--items", DEMO / "items.jsonl",
                       "--out", path, "--force", ok=False)
    assert created.returncode == 2 and "is in use" in created.stderr and len(created.stderr.splitlines()) == 1
    assert wf.compute(store).status.items["normal"] == 32  # the open project is untouched
    store.close()
    store.close = lambda: None
    annotary(home, "backup", "restore", copy, "--store", path, "--yes")  # closed: restoring is fine
