"""Opening a store: quick_check, the offer to restore, newer and foreign files, read-only stores."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from annotary import __version__
from annotary.app import add_banner, file_kind, open_checked_store
from annotary.core.errors import AnnotaryError
from annotary.ops import backup
from annotary.store import open_store
from tests.system.conftest import damage


def test_a_good_store_opens_without_a_notice(closed_demo_store):
    assert backup.check_store(closed_demo_store) is None
    lock = backup.StoreLock(closed_demo_store)
    store, notice = open_checked_store(closed_demo_store, confirm=pytest.fail, lock=lock)
    assert notice is None and not store.read_only
    store.close()


def test_a_damaged_store_is_restored_from_the_newest_good_backup(closed_demo_store):
    old = backup.make_backup(closed_demo_store, now=datetime(2026, 1, 1, 8))
    newest = backup.make_backup(closed_demo_store, now=datetime(2026, 1, 2, 8))
    damage(newest.path)  # a damaged backup is passed over
    damage(closed_demo_store)
    problem = backup.check_store(closed_demo_store)
    assert problem and "\n" not in problem
    asked = []
    lock = backup.StoreLock(closed_demo_store)
    assert lock.acquire()  # as the app holds it while it opens the store
    try:
        store, notice = open_checked_store(closed_demo_store, lock=lock,
                                           confirm=lambda text: asked.append(text) or True)
    finally:
        lock.release()
    assert len(asked) == 1 and "is damaged" in asked[0] and "2026-01-01 08:00" in asked[0]
    assert "was restored" in notice
    assert store.one("SELECT count(*) FROM items")[0] == 32
    store.close()
    kept = [b for b in backup.list_backups(closed_demo_store) if b.kind == "damaged"]
    assert len(kept) == 1 and backup.check_store(kept[0].path)  # the damaged file, kept as it was
    assert old.path.exists()


def test_a_damaged_store_is_left_alone_if_the_person_says_no(closed_demo_store):
    backup.make_backup(closed_demo_store)
    damage(closed_demo_store)
    before = closed_demo_store.read_bytes()
    with pytest.raises(AnnotaryError, match="damaged.*nothing was changed"):
        open_checked_store(closed_demo_store, confirm=lambda text: False,
                           lock=backup.StoreLock(closed_demo_store))
    assert closed_demo_store.read_bytes() == before


def test_a_damaged_store_without_backups_says_so(closed_demo_store):
    damage(closed_demo_store)
    with pytest.raises(AnnotaryError, match="no good backup"):
        open_checked_store(closed_demo_store, confirm=pytest.fail,
                           lock=backup.StoreLock(closed_demo_store))


def test_a_store_from_a_newer_annotary_is_refused_with_the_versions_named(closed_demo_store):
    conn = sqlite3.connect(closed_demo_store)
    conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('9999_from_the_future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(AnnotaryError) as err:
        open_checked_store(closed_demo_store, confirm=pytest.fail,
                           lock=backup.StoreLock(closed_demo_store))
    text = str(err.value)
    assert "9999_from_the_future" in text and f"Annotary {__version__}" in text and "newer" in text


def test_files_that_are_neither_bundle_nor_store(tmp_path, demo_bundle, closed_demo_store):
    assert file_kind(demo_bundle) == "bundle"
    assert file_kind(closed_demo_store) == "store"
    for name, data in (("notes.txt", b"hello"), ("empty.annotary", b""), ("image.png", b"\x89PNG\r\n")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(AnnotaryError, match="neither an Annotary bundle"):
            file_kind(path)
    with pytest.raises(AnnotaryError, match="no such file"):
        file_kind(tmp_path / "missing.annotary")


def test_another_programs_database_is_refused_unchanged(tmp_path):
    other = tmp_path / "contacts.db"
    sqlite3.connect(other).execute("CREATE TABLE people (name)").connection.close()
    before = other.read_bytes()
    with pytest.raises(AnnotaryError, match="another program"):
        open_checked_store(other, confirm=pytest.fail, lock=backup.StoreLock(other))
    assert other.read_bytes() == before


def test_read_only_store_reads_but_refuses_every_write(closed_demo_store):
    store = open_store(closed_demo_store, read_only=True)
    try:
        assert store.read_only
        assert store.one("SELECT count(*) FROM items")[0] == 32
        with pytest.raises(AnnotaryError, match="read-only"):
            with store.atomic():
                store.conn.execute("DELETE FROM items")
        assert store.one("SELECT count(*) FROM items")[0] == 32
    finally:
        store.close()


def test_unwritable_store_is_opened_read_only_with_a_banner(closed_demo_store, monkeypatch, qtbot,
                                                            identity):
    from annotary.store import db
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner
    from tests.ui.conftest import FakeAsker

    # the tests run as root, whom file modes do not stop: pretend the file is not writable
    monkeypatch.setattr(db, "writable", lambda path: False)
    store, notice = open_checked_store(closed_demo_store, confirm=pytest.fail,
                                       lock=backup.StoreLock(closed_demo_store))
    assert store.read_only and notice.startswith("Read-only")
    asker = FakeAsker()
    window = MainWindow(store, identity, runner=Runner(synchronous=True), asker=asker)
    qtbot.addWidget(window)
    label = add_banner(window, notice)
    window.show()
    assert label.isVisible() and "cannot be changed" in label.text()
    assert window.home.list.count() == 1  # the projects are there to see
    window.run_command("view.zoom_in")  # a write: refused in one line, nothing changed
    assert asker.errors and "read-only" in asker.errors[-1]
    store.close()
    assert backup.check_store(closed_demo_store) is None


def test_read_only_store_that_needs_a_migration_is_refused(closed_demo_store):
    conn = sqlite3.connect(closed_demo_store)
    conn.execute("DELETE FROM _migrations WHERE id = (SELECT max(id) FROM _migrations)")
    conn.commit()
    conn.close()
    with pytest.raises(AnnotaryError, match="read-only and needs updating"):
        open_store(closed_demo_store, read_only=True)


def test_writable_looks_at_the_file_and_its_folder(tmp_path, monkeypatch):
    import os

    from annotary.store.db import writable

    path = tmp_path / "store.db"
    assert writable(path)  # not there yet: it will be made
    path.write_bytes(b"")
    assert writable(path)
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != str(tmp_path))
    assert not writable(path)  # WAL files could not be made beside it
