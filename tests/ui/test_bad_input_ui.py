"""Opening a bad bundle in the window (Ctrl+O): an error dialog with the one-line reason, store untouched."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt

from annotary.ops import queries
from tests.ops.badbundles import (
    CASE_IDS,
    assert_one_line,
    assert_unchanged,
    build_all,
    checkpoint,
    expected,
    snapshot,
    use_case,
)

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_bundle_master, coordinator_dir):
    return build_all(tmp_path_factory, demo_bundle_master, coordinator_dir)


def open_with_keys(qtbot, window, asker, path) -> None:
    asker.paths.append(str(path))
    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_O, CTRL)
    assert asker.paths == [], "Ctrl+O did not ask for a file"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_bad_bundle_shows_the_reason(case_id, built, qtbot, demo_store, window, asker, monkeypatch, tmp_path):
    # the demo project is imported and pinned first, so the pinned-key case has a pin to break
    path = use_case(case_id, built, monkeypatch, tmp_path)
    checkpoint(demo_store)
    before = snapshot(demo_store)
    open_with_keys(qtbot, window, asker, path)
    assert len(asker.errors) == 1, asker.errors
    assert_one_line(asker.errors[0])
    assert re.search(expected(case_id), asker.errors[0]), asker.errors[0]
    assert not hasattr(asker, "trusted_preview"), "a bad bundle must be refused before trust is asked"
    assert window.labeling is None  # still on the projects screen
    assert_unchanged(before, snapshot(demo_store))


def test_refusing_trust_changes_nothing(qtbot, store, window, asker, demo_bundle, coordinator):
    asker.trust = False
    checkpoint(store)
    before = snapshot(store)
    open_with_keys(qtbot, window, asker, demo_bundle)
    # the user was shown who signed it, said no, and nothing happened
    assert asker.trusted_preview.fingerprint == coordinator.fingerprint
    assert asker.trusted_preview.pin == "new" and asker.trusted_preview.signer_name == "Coordinator Cho"
    assert asker.errors == []
    assert window.labeling is None
    assert queries.projects(store) == []
    assert_unchanged(before, snapshot(store))


def test_accepting_trust_imports(qtbot, store, window, asker, demo_bundle):
    """The same key path does write when the bundle is good and trusted: the checks above can fail."""
    checkpoint(store)
    before = snapshot(store)
    open_with_keys(qtbot, window, asker, demo_bundle)
    assert asker.errors == []
    assert window.labeling is not None and window.labeling.flow.project_id == "demo-pairwise"
    assert snapshot(store)["dump"] != before["dump"]


def test_pinned_key_mismatch_is_refused_without_asking(built, qtbot, demo_store, window, asker,
                                                       monkeypatch, tmp_path):
    path = use_case("pinned-key-mismatch", built, monkeypatch, tmp_path)
    checkpoint(demo_store)
    before = snapshot(demo_store)
    open_with_keys(qtbot, window, asker, path)
    assert not hasattr(asker, "trusted_preview")  # never offered to trust the other key
    (message,) = asker.errors
    assert "pinned to coordinator key" in message and "Mallory Coordinator" in message
    assert queries.project(demo_store, "demo-pairwise").coordinator_name == "Coordinator Cho"
    assert_unchanged(before, snapshot(demo_store))


def test_cancelling_the_file_dialog_does_nothing(qtbot, store, window, asker):
    checkpoint(store)
    before = snapshot(store)
    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_O, CTRL)  # FakeAsker answers None: cancelled
    assert asker.errors == [] and window.labeling is None
    assert_unchanged(before, snapshot(store))
