"""Labels, rationales and patients' words stay with their owner: the data folder, the store, its
backups and the crash log are readable by no other local user."""

from __future__ import annotations

import os
import stat
import sys

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_folder_store_backups_and_crash_log_are_private(tmp_path, monkeypatch):
    from annotary.ops.backup import backups_dir, make_backup, write_crash_report
    from annotary.paths import data_dir, store_path
    from annotary.store import open_store

    old = os.umask(0o022)  # a usual umask: new files 0644, folders 0755
    try:
        monkeypatch.setenv("ANNOTARY_HOME", str(tmp_path / "fresh" / "home"))
        home = data_dir()
        store = open_store(store_path())
        store.conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        store.conn.execute("INSERT INTO t VALUES (1)")
        backup = make_backup(store_path(), conn=store.conn, kind="manual")
        try:
            raise ValueError("a test error")
        except ValueError:
            log = write_crash_report(*sys.exc_info())
        assert mode(home) == 0o700
        assert mode(store_path()) == 0o600
        wal = f"{store_path()}-wal"
        if os.path.exists(wal):
            assert mode(wal) == 0o600
        assert mode(backups_dir(store_path())) == 0o700
        assert mode(backup.path) == 0o600
        assert mode(log) == 0o600
        store.close()
    finally:
        os.umask(old)


def test_an_existing_store_made_readable_is_made_private_again(tmp_path):
    from annotary.store import open_store

    path = tmp_path / "project.db"
    open_store(path).close()
    os.chmod(path, 0o644)
    open_store(path).close()
    assert mode(path) == 0o600
