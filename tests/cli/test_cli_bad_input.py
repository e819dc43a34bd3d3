"""`annotary import BAD --trust`: exit 2, one line on stderr starting "error:", the store untouched."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotary.app import cli
from tests.ops.badbundles import (
    CASE_IDS,
    assert_unchanged,
    build_all,
    checkpoint,
    expected,
    snapshot,
    use_case,
)

ANNOTARY = Path(sys.executable).with_name("annotary")


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_bundle_master, coordinator_dir):
    return build_all(tmp_path_factory, demo_bundle_master, coordinator_dir)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def assert_user_error(result, pattern: str) -> str:
    """Exit 2, nothing on stdout, exactly one line on stderr: "error: <reason>"."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


@pytest.fixture
def before(demo_store):
    """The demo imported and pinned; the test's connection stays open while the CLI runs (see snapshot)."""
    checkpoint(demo_store)
    return snapshot(demo_store)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_import_of_a_bad_bundle(case_id, built, demo_store, before, monkeypatch, tmp_path):
    path = use_case(case_id, built, monkeypatch, tmp_path)
    assert_user_error(run("import", str(path), "--trust"), expected(case_id))
    assert_unchanged(before, snapshot(demo_store))


@pytest.mark.parametrize("case_id", ["hash-mismatch", "malformed-jsonl", "item-violates-spec",
                                     "duplicate-item-ids", "no-items", "bad-signature"])
def test_import_json_mode_still_reports_one_line(case_id, built, demo_store, before, monkeypatch, tmp_path):
    path = use_case(case_id, built, monkeypatch, tmp_path)
    assert_user_error(run("import", str(path), "--trust", "--json"), expected(case_id))
    assert_unchanged(before, snapshot(demo_store))


@pytest.mark.parametrize("case_id", [c for c in CASE_IDS if c not in (
    # these are well-formed bundles; only importing them is wrong
    "pinned-key-mismatch", "not-a-task-bundle", "no-items-member")])
def test_verify_of_a_bad_bundle(case_id, built, monkeypatch, tmp_path):
    path = use_case(case_id, built, monkeypatch, tmp_path)
    assert_user_error(run("verify", str(path)), expected(case_id))
    assert_user_error(run("verify", str(path), "--json"), expected(case_id))


def test_missing_file(demo_store, before, tmp_path):
    assert_user_error(run("import", str(tmp_path / "nope.annotary"), "--trust"),
                      r"nope\.annotary: file not found")
    assert_user_error(run("verify", str(tmp_path / "nope.annotary")), r"file not found")
    assert_unchanged(before, snapshot(demo_store))


def test_folder_instead_of_a_file(demo_store, before, tmp_path):
    result = run("import", str(tmp_path), "--trust")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert_unchanged(before, snapshot(demo_store))


def test_store_that_is_not_sqlite(annotary_home, demo_bundle):
    db = annotary_home / "annotary.db"
    db.write_bytes(b"these are my notes, not a database\n" * 100)
    assert_user_error(run("import", str(demo_bundle), "--trust"), r"not an Annotary store")
    assert_user_error(run("projects"), r"not an Annotary store")
    assert db.read_bytes() == b"these are my notes, not a database\n" * 100


def test_the_installed_command_exits_2_with_one_line(built, demo_store, before, monkeypatch, tmp_path):
    """The real entry point, not only click's test runner: no traceback, exit status 2."""
    if not ANNOTARY.exists():
        pytest.skip(f"no console script at {ANNOTARY}")
    bad = use_case("truncated", built, monkeypatch, tmp_path)
    proc = subprocess.run([str(ANNOTARY), "import", str(bad), "--trust"], capture_output=True,
                          text=True, env=os.environ | {"PYTHONWARNINGS": "ignore"}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"error: {bad.name}: not a zip file, or truncated"]
    assert_unchanged(before, snapshot(demo_store))


def test_file_swapped_after_the_check_changes_nothing_imported(built, store, demo_bundle, monkeypatch):
    """What was shown (and trusted with --trust) is what gets imported, or nothing: the items are
    read as they are written, so a file replaced in between is refused and no key gets pinned."""
    import shutil

    import annotary.ops.importing as importing

    real_preview = importing.preview_tasks
    checkpoint(store)
    before = snapshot(store)

    def preview_then_swap(store_, tasks):
        preview = real_preview(store_, tasks)
        shutil.copy(built["pinned-key-mismatch"][0], demo_bundle)  # same project, another key
        return preview

    monkeypatch.setattr(importing, "preview_tasks", preview_then_swap)  # the command takes it when it runs
    assert_user_error(run("import", str(demo_bundle), "--trust"), r"the file changed since it was checked")
    assert_unchanged(before, snapshot(store))


def test_error_stays_one_line_with_a_line_break_in_the_file_name(demo_store, before, tmp_path):
    odd = tmp_path / "round\n1.annotary"
    odd.write_bytes(b"not a zip")
    assert_user_error(run("import", str(odd), "--trust"), r"not a zip file, or truncated")
    assert_unchanged(before, snapshot(demo_store))


def test_snapshot_sees_a_write_by_the_cli(store, demo_bundle):
    """The checks above can fail: a good import by the CLI's own connection changes the files."""
    checkpoint(store)
    before = snapshot(store)
    result = run("import", str(demo_bundle), "--trust")
    assert result.exit_code == 0, result.output
    after = snapshot(store)
    assert after["wal"] != before["wal"] and after["dump"] != before["dump"]


def test_a_full_disk_is_one_line_not_a_traceback(annotary_home, monkeypatch):
    """SQLite's 'database or disk is full' (the write rolled back) reaches the user as one line."""
    import sqlite3

    from click.testing import CliRunner

    import annotary.cli.main as main
    import annotary.store

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(annotary.store, "open_store", full)  # the command takes it when it runs
    result = CliRunner().invoke(main.cli, ["projects"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines() if hasattr(result, "stderr") else result.output.splitlines()
    assert len(lines) == 1 and "disk is full" in lines[0] and "nothing was changed" in lines[0]
    assert "Traceback" not in result.output
