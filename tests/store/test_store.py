"""The store: named append-only migrations, WAL and foreign keys, and refusing files it cannot use."""

from __future__ import annotations

import sqlite3

import pytest

from annotary.core.errors import AnnotaryError
from annotary.store import db as store_db
from annotary.store import open_store
from annotary.store.migrations import MIGRATIONS

NAMES = [name for name, _ in MIGRATIONS]


def test_migration_names_are_unique_and_ordered():
    assert len(set(NAMES)) == len(NAMES)
    assert NAMES == sorted(NAMES)
    assert NAMES[0] == "0001_initial"


def test_migrations_are_recorded_by_name(tmp_path):
    store = open_store(tmp_path / "a.db")
    try:
        assert store.applied_migrations() == NAMES
        rows = store.query("SELECT name, applied_at FROM _migrations ORDER BY id")
        assert [r["name"] for r in rows] == NAMES and all(r["applied_at"] for r in rows)
        tables = {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"projects", "items", "labels", "drafts", "journal", "bundle_log", "settings"} <= tables
    finally:
        store.close()


def test_reopening_applies_nothing_twice(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    store = open_store(path)
    first = [tuple(r) for r in store.query("SELECT id, name, applied_at FROM _migrations")]
    store.close()

    calls = []
    spied = [(name, lambda db, name=name: calls.append(name)) for name, _ in MIGRATIONS]
    monkeypatch.setattr(store_db, "MIGRATIONS", spied)
    store = open_store(path)
    try:
        assert calls == []
        assert [tuple(r) for r in store.query("SELECT id, name, applied_at FROM _migrations")] == first
    finally:
        store.close()


def test_a_new_migration_is_applied_once_on_an_old_store(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    open_store(path).close()
    calls = []

    def step(db):
        calls.append(1)
        db.execute("CREATE TABLE later (x)")

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, ("9000_later", step)])
    for _ in range(2):
        store = open_store(path)
        assert store.applied_migrations() == [*NAMES, "9000_later"]
        store.close()
    assert calls == [1]


def test_a_failing_migration_is_rolled_back(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    open_store(path).close()

    def broken(db):
        db.execute("CREATE TABLE half (x)")
        raise RuntimeError("step failed")

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, ("9000_broken", broken)])
    with pytest.raises(RuntimeError):
        open_store(path)
    monkeypatch.setattr(store_db, "MIGRATIONS", MIGRATIONS)
    store = open_store(path)
    try:
        assert store.applied_migrations() == NAMES
        assert store.one("SELECT 1 FROM sqlite_master WHERE name='half'") is None
    finally:
        store.close()


def test_a_store_from_a_newer_annotary_is_refused(tmp_path):
    path = tmp_path / "a.db"
    store = open_store(path)
    store.conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('0042_from_the_future', 'x')")
    store.close()
    before = path.read_bytes()
    with pytest.raises(AnnotaryError) as err:
        open_store(path)
    message = str(err.value)
    assert "\n" not in message
    assert "newer Annotary" in message and "0042_from_the_future" in message
    assert path.read_bytes() == before


def test_wal_and_foreign_keys_are_on(tmp_path):
    store = open_store(tmp_path / "a.db")
    try:
        assert store.one("PRAGMA journal_mode")[0] == "wal"
        assert store.one("PRAGMA foreign_keys")[0] == 1
        assert (tmp_path / "a.db-wal").exists()
        # and they act: an item of a project that does not exist is refused
        with pytest.raises(sqlite3.IntegrityError):
            store.conn.execute("INSERT INTO items (project_id, id, seq, data) VALUES ('nope', 'i', 1, '{}')")
    finally:
        store.close()
    # WAL is a property of the file: a plain connection sees it too
    plain = sqlite3.connect(tmp_path / "a.db")
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_atomic_commits_or_rolls_back_as_a_whole(tmp_path):
    store = open_store(tmp_path / "a.db")
    try:
        with pytest.raises(ZeroDivisionError), store.atomic():
            store.conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
            with store.atomic():  # nested: part of the outer transaction
                store.conn.execute("INSERT INTO settings (key, value) VALUES ('b', '2')")
            1 / 0  # noqa: B018
        assert store.query("SELECT * FROM settings") == []
        with store.atomic():
            store.conn.execute("INSERT INTO settings (key, value) VALUES ('a', '1')")
        assert [tuple(r) for r in store.query("SELECT * FROM settings")] == [("a", "1")]
    finally:
        store.close()


def test_a_failed_nested_block_undoes_only_its_own_writes(tmp_path):
    store = open_store(tmp_path / "a.db")
    try:
        with store.atomic():
            store.conn.execute("INSERT INTO settings (key, value) VALUES ('kept', '1')")
            with pytest.raises(ZeroDivisionError), store.atomic():
                store.conn.execute("INSERT INTO settings (key, value) VALUES ('undone', '2')")
                with store.atomic():
                    store.conn.execute("INSERT INTO settings (key, value) VALUES ('inner', '3')")
                1 / 0  # noqa: B018
            with store.atomic():
                store.conn.execute("INSERT INTO settings (key, value) VALUES ('after', '4')")
        assert [r[0] for r in store.query("SELECT key FROM settings ORDER BY key")] == ["after", "kept"]
    finally:
        store.close()


@pytest.mark.parametrize("content", [
    b"these are my notes, not a database\n" * 200,
    b"SQLite format 3\x00" + b"\xff" * 2000,  # the magic, then garbage
    bytes(range(256)) * 16,
], ids=["text", "bad-header", "binary"])
def test_a_file_that_is_not_sqlite_is_refused(tmp_path, content):
    path = tmp_path / "annotary.db"
    path.write_bytes(content)
    with pytest.raises(AnnotaryError) as err:
        open_store(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: not an Annotary store")
    assert path.read_bytes() == content  # the user's file is left alone
    assert not path.with_name("annotary.db-wal").exists()


def test_integrity_check(tmp_path):
    store = open_store(tmp_path / "a.db")
    try:
        assert store.integrity_ok()
    finally:
        store.close()


def test_another_programs_database_is_refused_and_left_alone(tmp_path):
    import sqlite3

    from annotary.core.errors import AnnotaryError
    from annotary.store import open_store

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (name TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(AnnotaryError, match="another program, not an Annotary store"):
        open_store(path)
    assert path.read_bytes() == before


def test_items_stored_before_the_skeleton_index_get_their_skeletons(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    monkeypatch.setattr(store_db, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < "0005"])
    store = open_store(path)
    store.conn.execute("INSERT INTO projects (id, name, spec, guidelines_version, created_at) VALUES ('p', 'P', '{}', '1', 'now')")
    store.conn.executemany("INSERT INTO items (project_id, id, seq, kind, data) VALUES ('p', ?, ?, ?, ?)", [
        ("chat", 1, "normal", '{"prompt": [{"role": "user", "content": "hi"}], "responses": [{"id": "a"}]}'),
        ("gold", 2, "gold", '{"prompt": "p", "responses": [{"id": "a"}, {"id": "b"}]}')])
    store.close()
    monkeypatch.setattr(store_db, "MIGRATIONS", MIGRATIONS)
    store = open_store(path)
    try:
        rows = dict(store.query("SELECT id, skeleton FROM items ORDER BY seq"))
        # ten response ids, rubric, chosen criteria, the first turn's role (a conversation)
        assert rows == {"chat": '["a",' + "null," * 11 + '"user"]', "gold": None}
        # a changed item's skeleton follows its data
        store.conn.execute("UPDATE items SET data=? WHERE id='chat'", ('{"prompt": "p", "responses": []}',))
        assert store.one("SELECT skeleton FROM items WHERE id='chat'")[0] == "[" + ",".join(["null"] * 13) + "]"
    finally:
        store.close()


def test_an_sqlite_too_old_for_the_store_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(store_db.sqlite3, "sqlite_version_info", (3, 26, 0))
    monkeypatch.setattr(store_db.sqlite3, "sqlite_version", "3.26.0")
    with pytest.raises(AnnotaryError, match=r"needs SQLite 3\.31\.0 or newer; this Python has 3\.26\.0"):
        open_store(tmp_path / "a.db")
    assert not (tmp_path / "a.db").exists()


def test_a_new_store_has_large_pages_and_an_older_one_keeps_its_own(tmp_path):
    """Items of a few KiB fill 16 KiB pages (a 4 KiB page holds one, half empty); a store made
    with 4 KiB pages opens, migrates and is written as it is."""
    store = open_store(tmp_path / "new.db")
    assert store.one("PRAGMA page_size")[0] == store_db.PAGE_SIZE == 16384
    store.close()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE _migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                 " applied_at TEXT NOT NULL)")
    conn.close()
    store = open_store(old)
    assert store.one("PRAGMA page_size")[0] == 4096
    assert store.applied_migrations() == NAMES and store.integrity_ok()
    store.close()
