"""Every bad task bundle is refused by import with a one-line reason and leaves the store as it was."""

from __future__ import annotations

import re

import pytest

from annotary.core.errors import AnnotaryError, TrustError
from annotary.ops import importing, queries
from annotary.ops.importing import import_tasks, load_tasks, preview_tasks
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


@pytest.fixture(scope="session")
def built(tmp_path_factory, demo_bundle_master, coordinator_dir):
    return build_all(tmp_path_factory, demo_bundle_master, coordinator_dir)


@pytest.fixture
def before(demo_store):
    """The demo project imported (its coordinator pinned), checkpointed, then snapshotted."""
    checkpoint(demo_store)
    return snapshot(demo_store)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_import_refuses_and_changes_nothing(case_id, built, demo_store, before, monkeypatch, tmp_path):
    path = use_case(case_id, built, monkeypatch, tmp_path)
    with pytest.raises(AnnotaryError) as err:
        import_tasks(demo_store, path, trust_new_key=True)
    message = str(err.value)
    assert_one_line(message)
    assert re.search(expected(case_id), message), message
    assert_unchanged(before, snapshot(demo_store))


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_preview_refuses_too(case_id, built, demo_store, before, monkeypatch, tmp_path):
    """The GUI asks preview_tasks first: it must refuse the same bundles, before any question."""
    path = use_case(case_id, built, monkeypatch, tmp_path)
    try:
        preview = preview_tasks(demo_store, path)
    except AnnotaryError as err:
        message = str(err)
    else:
        # only a pinned-key mismatch gets this far: it is a refusal the window shows
        assert preview.pin == "mismatch", case_id
        message = preview.refusal
    assert_one_line(message)
    assert re.search(expected(case_id), message), message
    assert_unchanged(before, snapshot(demo_store))


def test_pinned_key_mismatch_is_a_trust_error(built, demo_store, monkeypatch, tmp_path):
    path = use_case("pinned-key-mismatch", built, monkeypatch, tmp_path)
    with pytest.raises(TrustError):
        import_tasks(demo_store, path, trust_new_key=True)
    info = queries.project(demo_store, "demo-pairwise")
    assert info.coordinator_name == "Coordinator Cho"


def test_refused_first_bundle_of_an_empty_store_writes_nothing(built, store, monkeypatch, tmp_path):
    """Bad input into a store that has no project yet: the project must not be half-created."""
    checkpoint(store)
    before = snapshot(store)
    for case_id in ("hash-mismatch", "item-violates-spec", "duplicate-item-ids", "no-items"):
        with pytest.raises(AnnotaryError):
            import_tasks(store, use_case(case_id, built, monkeypatch, tmp_path), trust_new_key=True)
    assert queries.projects(store) == []
    assert_unchanged(before, snapshot(store))


def test_snapshot_sees_a_real_import(store, demo_bundle):
    """The check above can fail: a good import changes the snapshot."""
    checkpoint(store)
    before = snapshot(store)
    import_tasks(store, demo_bundle, trust_new_key=True)
    after = snapshot(store)
    assert after["wal"] != before["wal"] and after["dump"] != before["dump"]


def test_untrusted_first_bundle_is_refused_with_the_fingerprint(store, demo_bundle, coordinator):
    checkpoint(store)
    before = snapshot(store)
    with pytest.raises(TrustError) as err:
        import_tasks(store, demo_bundle)
    assert_one_line(str(err.value))
    assert coordinator.fingerprint in str(err.value)
    assert_unchanged(before, snapshot(store))


def test_cancelled_import_leaves_the_store_as_it_was(store, demo_bundle):
    from annotary.core.errors import Cancelled

    checkpoint(store)
    before = snapshot(store)
    with pytest.raises(Cancelled):
        import_tasks(store, demo_bundle, trust_new_key=True, cancelled=lambda: True)
    # a rolled-back transaction may leave uncommitted frames in the WAL, which no reader ever
    # sees; so compare what is committed: checkpoint again, then the .db file and the dump
    checkpoint(store)
    after = snapshot(store)
    assert after["db"] == before["db"] and after["dump"] == before["dump"]
    assert queries.projects(store) == []


def test_same_bundle_twice_changes_nothing(demo_store, demo_bundle):
    checkpoint(demo_store)
    before = snapshot(demo_store)
    change = import_tasks(demo_store, demo_bundle, trust_new_key=True)
    assert "already imported; nothing changed" in change.message
    assert change.counts == {"items": 0}
    assert_unchanged(before, snapshot(demo_store))


# --- the import that reads, checks and writes the items a chunk at a time (the CLI's and the
# app's): every bundle the whole-bundle check refuses is refused, and nothing is left of it

@pytest.fixture
def small_chunks(monkeypatch):
    """One item a chunk: the items before a bad one are written (in the transaction) first."""
    monkeypatch.setattr(importing, "CHUNK", 1)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_chunked_import_refuses_with_nothing_left(case_id, built, demo_store, small_chunks, monkeypatch, tmp_path):
    """Into a store that holds the project already (its coordinator pinned)."""
    store = demo_store
    checkpoint(store)
    before = snapshot(store)
    path = use_case(case_id, built, monkeypatch, tmp_path)
    with pytest.raises(AnnotaryError) as err:
        import_tasks(store, load_tasks(path, items=False), trust_new_key=True)
    message = str(err.value)
    assert_one_line(message)
    assert re.search(expected(case_id), message), message
    checkpoint(store)  # a rolled-back transaction may leave frames in the WAL nobody reads
    after = snapshot(store)
    assert after["db"] == before["db"] and after["dump"] == before["dump"]


def test_chunked_import_stores_the_same_rows(demo_bundle, tmp_path, small_chunks):
    from annotary.store import open_store

    stores = [open_store(tmp_path / "whole.db"), open_store(tmp_path / "chunks.db")]
    tasks = load_tasks(demo_bundle, items=False)
    assert tasks.rows is None and preview_tasks(stores[1], tasks).items == tasks.items > 1
    counts = [import_tasks(stores[0], demo_bundle, trust_new_key=True).counts,
              import_tasks(stores[1], tasks, trust_new_key=True).counts]
    assert counts[0] == counts[1] and counts[1]["added"] == tasks.items
    rows = [s.conn.execute("SELECT id, seq, kind, data FROM items ORDER BY seq").fetchall() for s in stores]
    assert rows[0] == rows[1]
    progress = []
    again = open_store(tmp_path / "again.db")
    import_tasks(again, load_tasks(demo_bundle, items=False), trust_new_key=True,
                 progress=lambda done, total: progress.append((done, total)))
    assert progress[-1] == (tasks.items, tasks.items) and len(progress) == tasks.items
    for s in (*stores, again):
        s.close()


def test_file_swapped_before_the_items_are_read_is_refused(built, store, demo_bundle, monkeypatch, tmp_path):
    import shutil

    checkpoint(store)
    before = snapshot(store)
    tasks = load_tasks(demo_bundle, items=False)
    shutil.copy(built["pinned-key-mismatch"][0], demo_bundle)
    with pytest.raises(AnnotaryError, match="changed since it was checked"):
        import_tasks(store, tasks, trust_new_key=True)
    assert_unchanged(before, snapshot(store))
