"""Store backups: online copies, one automatic per day, seven kept, restore, and a full disk."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.core.errors import AnnotaryError
from annotary.ops import backup
from annotary.paths import store_path


def items_in(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        conn.close()


def test_backup_is_a_checked_copy_made_while_the_store_is_open(demo_store):
    made = backup.make_backup(store_path(), conn=demo_store.conn)
    assert made.path.parent == store_path().parent / "backups"
    assert made.name.startswith("annotary-") and made.name.endswith("-auto.db")
    assert backup.check_store(made.path) is None
    assert items_in(made.path) == 32
    assert [b.path for b in backup.list_backups(store_path())] == [made.path]
    assert not list(made.path.parent.glob("*.part"))


def test_seven_are_kept_newest_first(store):
    start = datetime(2026, 1, 1, 9, 0, 0)
    for day in range(10):
        backup.make_backup(store_path(), conn=store.conn, now=start + timedelta(days=day))
    kept = backup.list_backups(store_path())
    assert len(kept) == backup.KEEP == 7
    assert [b.made.day for b in kept] == [10, 9, 8, 7, 6, 5, 4]


def test_automatic_backup_once_a_day_at_start_and_refreshed_at_exit(store):
    yesterday = datetime.now() - timedelta(days=1)
    old = backup.make_backup(store_path(), conn=store.conn, now=yesterday)
    first = backup.auto_backup(store_path(), conn=store.conn)
    assert first is not None
    assert backup.auto_backup(store_path(), conn=store.conn) is None  # already one today
    later = backup.auto_backup(store_path(), conn=store.conn, at_exit=True)
    names = [b.name for b in backup.list_backups(store_path())]
    # the exit backup replaced today's earlier one; yesterday's stays
    assert names == [later.name, old.name]


def test_full_disk_keeps_the_old_backups_and_says_so(store, monkeypatch):
    old = backup.make_backup(store_path(), conn=store.conn, now=datetime(2026, 1, 1))

    def full(source, target):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(backup, "_copy", full)
    with pytest.raises(backup.BackupError) as err:
        backup.auto_backup(store_path(), conn=store.conn, at_exit=True)
    message = str(err.value)
    assert "disk is full" in message and "1 older backup" in message and "kept" in message
    assert [b.path for b in backup.list_backups(store_path())] == [old.path]
    assert backup.check_store(old.path) is None
    assert not list(old.path.parent.glob("*.part"))


def test_full_disk_at_exit_is_shown_by_the_window(qtbot, store, identity, monkeypatch):
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner
    from tests.ui.conftest import FakeAsker

    def full(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backup, "_copy", full)
    asker = FakeAsker()
    window = MainWindow(store, identity, runner=Runner(synchronous=True), asker=asker)
    qtbot.addWidget(window)
    window.closing_hooks.append(lambda: backup.auto_backup(store_path(), conn=store.conn, at_exit=True))
    window.show()
    window.close()
    assert len(asker.errors) == 1 and "No space left on device" in asker.errors[0]
    assert "\n" not in asker.errors[0]


def test_restore_keeps_the_current_store_first(demo_store, identity):
    good = backup.make_backup(store_path(), conn=demo_store.conn, now=datetime(2026, 1, 1))
    demo_store.conn.execute("DELETE FROM items WHERE seq > 3")
    left = demo_store.one("SELECT count(*) FROM items")[0]
    demo_store.close()
    kept = backup.restore(store_path(), good.path)
    assert kept is not None and kept.kind == "before-restore"
    assert items_in(store_path()) == 32
    assert items_in(kept.path) == left < 32
    assert backup.check_store(store_path()) is None


def test_restore_is_refused_while_annotary_runs(store):
    good = backup.make_backup(store_path(), conn=store.conn)
    running = backup.StoreLock(store_path())
    assert running.acquire()
    try:
        with pytest.raises(AnnotaryError, match="running"):
            backup.restore(store_path(), good.path)
    finally:
        running.release()
    backup.restore(store_path(), good.path)


def test_restore_refuses_a_bad_backup(store, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(AnnotaryError, match="cannot be restored"):
        backup.restore(store_path(), junk)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(AnnotaryError, match="not an Annotary store"):
        backup.restore(store_path(), other)


def cli_run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def test_backup_cli_lists_and_restores(demo_store):
    made = backup.make_backup(store_path(), conn=demo_store.conn, now=datetime(2026, 1, 1, 12))
    demo_store.conn.execute("DELETE FROM items")
    demo_store.close()
    listed = json.loads(cli_run("backup", "list", "--json").stdout)
    assert [b["name"] for b in listed] == [made.name] and listed[0]["kind"] == "auto"
    assert made.name in cli_run("backup", "list").stdout

    refused = cli_run("backup", "restore")  # no terminal, no --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    result = cli_run("backup", "restore", made.name, "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["restored"] == str(made.path) and "before-restore" in data["kept"]
    assert items_in(store_path()) == 32

    missing = cli_run("backup", "restore", "no-such.db", "--yes")
    assert missing.exit_code == 2 and "no backup named no-such.db" in missing.stderr


def test_backup_cli_refuses_while_the_app_runs(store):
    backup.make_backup(store_path(), conn=store.conn)
    running = backup.StoreLock(store_path())
    assert running.acquire()
    try:
        result = cli_run("backup", "restore", "--yes")
        assert result.exit_code == 2
        assert "running" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    finally:
        running.release()


def test_the_periodic_backup_copies_only_a_changed_store(demo_store):
    import os
    import time

    first = backup.periodic_backup(store_path())  # no backup yet: one is made
    assert first is not None and items_in(first.path) == 32
    assert backup.periodic_backup(store_path()) is None  # nothing written since
    later = time.time() + 5  # the file clock's resolution must not hide the change
    demo_store.conn.execute("DELETE FROM items WHERE seq > 30")
    for path in (store_path(), store_path().with_name(store_path().name + "-wal")):
        if path.exists():
            os.utime(path, (later, later))
    second = backup.periodic_backup(store_path())
    assert second is not None and items_in(second.path) == 30
    # it replaces the day's automatic backup instead of piling up
    assert [b.path for b in backup.list_backups(store_path())] == [second.path]


def test_a_periodic_job_runs_off_the_gui_thread_and_is_not_doubled(qtbot, store, identity):
    import threading

    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner
    from tests.ui.conftest import FakeAsker

    window = MainWindow(store, identity, runner=Runner(), asker=FakeAsker())
    qtbot.addWidget(window)
    release, threads, results, errors = threading.Event(), [], [], []

    def slow():
        threads.append(threading.current_thread())
        release.wait(10)
        return len(threads)

    timer = window.repeat_in_background(slow, 60_000, results.append, errors.append)
    timer.timeout.emit()
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)
    timer.timeout.emit()  # due again while the first run goes on: skipped
    release.set()
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results == [1] and errors == [] and threads[0] is not threading.main_thread()
    timer.timeout.emit()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    window.runner.wait()


@pytest.fixture
def on_sigterm(qtbot, store, identity):
    """A shown window that closes on SIGTERM: (window, closing hooks run, a flag that keeps the
    signal from being sent once the test's handler is gone)."""
    import signal

    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner
    from tests.ui.conftest import FakeAsker

    window = MainWindow(store, identity, runner=Runner(synchronous=True), asker=FakeAsker())
    qtbot.addWidget(window)
    closed, armed = [], [True]
    window.closing_hooks.append(lambda: closed.append(True))
    window.show()
    previous = window.close_on_signals((signal.SIGTERM,))
    yield window, closed, armed
    armed.clear()
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def test_sigterm_closes_the_window_as_its_close_button_does(qtbot, on_sigterm):
    import os
    import signal

    window, closed, _ = on_sigterm
    os.kill(os.getpid(), signal.SIGTERM)
    qtbot.waitUntil(lambda: bool(closed), timeout=5000)
    assert not window.isVisible()


def test_sigterm_during_a_dialog_closes_the_dialog_then_the_window(qtbot, on_sigterm):
    import os
    import signal

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    window, closed, armed = on_sigterm
    box = QMessageBox(QMessageBox.Icon.Question, "Trust this coordinator?", "…", parent=window)
    QTimer.singleShot(200, lambda: armed and os.kill(os.getpid(), signal.SIGTERM))
    fallback = []  # if the signal did nothing: do not hang the suite (the timer dies with the box)
    timer = QTimer(box)
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: fallback.append(box.accept()))
    timer.start(10_000)
    box.exec()  # a question still waiting for an answer when the user logs out
    qtbot.waitUntil(lambda: bool(closed), timeout=5000)
    assert fallback == [] and not window.isVisible() and not box.isVisible()
