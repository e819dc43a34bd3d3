"""One Annotary per store: the lock, and a second launch handing its file to the first.

Both ends run in this process: hand_over() turns the event loop while it waits, so the
receiver answers. QLocalServer/QLocalSocket are Unix-domain sockets (named pipes on Windows),
not network sockets."""

from __future__ import annotations

import sys
import threading

import pytest

from annotary.ops.backup import StoreLock, store_in_use, store_key
from annotary.paths import store_path


@pytest.fixture
def hooks(monkeypatch):
    """run_gui installs the crash log hooks; put the test runner's back afterwards."""
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def test_one_lock_per_store(tmp_path):
    first, second = StoreLock(tmp_path / "a.db"), StoreLock(tmp_path / "a.db")
    assert first.acquire()
    assert not second.acquire() and store_in_use(tmp_path / "a.db")
    assert not store_in_use(tmp_path / "b.db")  # another store is another lock
    first.release()
    assert second.acquire()
    second.release()
    assert not store_in_use(tmp_path / "a.db")


def test_the_name_is_the_same_for_every_spelling_of_the_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_key("a.db") == store_key(tmp_path / "a.db") == store_key(tmp_path / "x" / ".." / "a.db")


def test_a_file_is_handed_to_the_running_instance(qtbot, tmp_path):
    from annotary.ui.single_instance import Receiver, hand_over, server_name

    got = []
    receiver = Receiver(server_name(tmp_path / "a.db"))
    receiver.opened.connect(got.append)
    try:
        assert receiver.listening
        name = receiver.server.serverName()
        bundle = tmp_path / "round 2\nwith a line break.annotary"
        assert hand_over(name, bundle)
        assert hand_over(name, None)  # a launch without a file: come to the front
        qtbot.waitUntil(lambda: len(got) == 2)
        assert got == [str(bundle.resolve()), ""]
    finally:
        receiver.close()
    assert not hand_over(name, bundle, timeout=0.3)  # nobody listens any more


def test_second_launch_hands_over_and_the_first_imports(qtbot, hooks, window, asker, demo_bundle,
                                                        capsys):
    from annotary.app import handle_handover, run_gui
    from annotary.ui.single_instance import Receiver, server_name

    first = StoreLock(store_path())  # the running Annotary
    assert first.acquire()
    receiver = Receiver(server_name(store_path()))
    receiver.opened.connect(lambda path: handle_handover(window, path))
    try:
        assert run_gui(file=str(demo_bundle)) == 0
        qtbot.waitUntil(lambda: window.labeling is not None)
    finally:
        receiver.close()
        first.release()
    assert "already open" in capsys.readouterr().out
    assert window.labeling is not None and asker.errors == []
    assert window.labeling.flow.info.total == 32


def test_second_launch_without_an_answer_says_the_store_is_in_use(qtbot, hooks, monkeypatch, capsys):
    from annotary.app import run_gui
    from annotary.ui import single_instance

    real = single_instance.hand_over
    monkeypatch.setattr(single_instance, "hand_over", lambda name, path: real(name, path, timeout=0.3))
    first = StoreLock(store_path())
    assert first.acquire()
    try:
        assert run_gui() == 2
    finally:
        first.release()
    err = capsys.readouterr().err.strip()
    assert "is in use by another Annotary" in err and len(err.splitlines()) == 1


def test_opening_a_file_that_is_no_bundle_or_store(qtbot, hooks, tmp_path, capsys):
    from annotary.app import run_gui

    notes = tmp_path / "notes.txt"
    notes.write_text("minutes of the meeting")
    assert run_gui(file=str(notes)) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: notes.txt is neither an Annotary bundle (.annotary) nor an Annotary store"
    assert not store_in_use(store_path())


def test_the_app_opens_a_store_file_shows_an_item_and_backs_it_up(qtbot, hooks, tmp_path, identity,
                                                                  demo_bundle, capsys):
    """The whole start of `annotary open other.db`: lock, quick_check, the day's backup, the
    window on the first item (the benchmark's probe), then the exit backup and the lock freed."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from annotary.app import run_gui
    from annotary.ops import backup
    from annotary.ops.importing import import_tasks
    from annotary.store import open_store

    other = tmp_path / "other.db"
    store = open_store(other)
    import_tasks(store, demo_bundle, trust_new_key=True)
    store.close()
    QTimer.singleShot(20000, QApplication.instance().quit)  # never hang the suite
    assert run_gui(file=str(other), project="demo-pairwise", probe=True) == 0
    assert '"item": "' in capsys.readouterr().out
    kept = backup.list_backups(other)
    assert len(kept) == 1 and kept[0].kind == "auto"  # the exit backup replaced the start one
    assert backup.check_store(kept[0].path) is None
    assert not store_in_use(other)
