"""Imports run off the GUI thread with progress; a cancelled import leaves the store as it was."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from annotary.core.errors import Cancelled
from annotary.ops import queries
from annotary.ops.importing import import_tasks
from annotary.ui.main_window import MainWindow
from annotary.ui.runner import Runner


def test_import_runs_on_a_worker_thread(qtbot, store, identity, asker, demo_bundle):
    import threading

    w = MainWindow(store, identity, runner=Runner(), asker=asker)
    qtbot.addWidget(w)
    threads = []
    real = import_tasks

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    import annotary.ui.main_window as mw

    mw.import_tasks = spy
    try:
        w.import_bundle(demo_bundle)
        qtbot.waitUntil(lambda: w.labeling is not None, timeout=20000)
    finally:
        mw.import_tasks = real
    assert threads and threads[0] is not threading.main_thread()
    assert len(queries.item_ids(store, "demo-pairwise")) == 32
    assert asker.errors == []


def test_cancelled_import_changes_nothing(store, demo_bundle):
    before = list(store.conn.iterdump())
    calls = []

    def progress(done, total):
        calls.append(done)

    with pytest.raises(Cancelled):
        # cancel after the first chunk has been written inside the transaction
        import_tasks(store, demo_bundle, trust_new_key=True, progress=progress,
                     cancelled=lambda: bool(calls))
    assert calls  # some rows were written before the cancel...
    assert list(store.conn.iterdump()) == before  # ...and rolled back


def test_cancel_in_the_window_reports_and_keeps_store(qtbot, window, asker, store, demo_bundle,
                                                     monkeypatch):
    import annotary.ui.main_window as mw

    def cancelled_import(*args, **kwargs):
        raise Cancelled()

    monkeypatch.setattr(mw, "import_tasks", cancelled_import)
    window.import_bundle(demo_bundle)
    assert window.labeling is None
    assert "cancelled" in window.statusBar().currentMessage()
    assert queries.projects(store) == []


def test_drop_a_bundle_on_the_window(qtbot, window, asker, demo_bundle):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(demo_bundle))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.labeling is not None and window.labeling.flow.project_id == "demo-pairwise"


def test_dropping_garbage_shows_one_line_reason(qtbot, window, asker, tmp_path, store):
    junk = tmp_path / "junk.annotary"
    junk.write_bytes(b"not a zip at all")
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(junk))])
    window.dropEvent(QDropEvent(QPointF(1, 1), Qt.DropAction.CopyAction, data,
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    assert len(asker.errors) == 1 and "\n" not in asker.errors[0] and "junk.annotary" in asker.errors[0]
    assert queries.projects(store) == []
