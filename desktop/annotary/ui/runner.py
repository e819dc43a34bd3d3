"""Running long jobs off the GUI thread, with progress and cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot


class Job(QObject):
    """A function run on a worker thread; it reports progress(done, total) and checks cancelled()."""

    progressed = Signal(int, int)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: Callable, parent=None):
        super().__init__(parent)
        self.fn = fn
        self._cancel = threading.Event()
        self.thread: QThread | None = None

    def cancel(self) -> None:
        self._cancel.set()

    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:
        try:
            result = self.fn(progress=self.progressed.emit, cancelled=self.cancelled)
        except BaseException as err:  # reported to the GUI thread, shown in a dialog
            self.failed.emit(err)
        else:
            self.finished.emit(result)


class _Relay(QObject):
    """Lives on the GUI thread, so job signals reach the callbacks there (queued)."""

    def __init__(self, on_done, on_error, on_progress, parent):
        super().__init__(parent)
        self.on_done, self.on_error, self.on_progress = on_done, on_error, on_progress

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        if self.on_progress:
            self.on_progress(done, total)

    @Slot(object)
    def done(self, result) -> None:
        self.on_done(result)
        self.deleteLater()

    @Slot(object)
    def error(self, err) -> None:
        self.on_error(err)
        self.deleteLater()


class Runner(QObject):
    """Starts jobs; with synchronous=True (tests) they run on the calling thread."""

    def __init__(self, synchronous: bool = False, parent=None):
        super().__init__(parent)
        self.synchronous = synchronous
        self._jobs: set[Job] = set()

    def start(self, fn: Callable, on_done: Callable, on_error: Callable,
              on_progress: Callable[[int, int], None] | None = None) -> Job:
        job = Job(fn)
        relay = _Relay(on_done, on_error, on_progress, self)
        job.progressed.connect(relay.progress)
        job.finished.connect(relay.done)
        job.failed.connect(relay.error)
        if self.synchronous:
            job.run()
            return job
        thread = QThread(self)
        job.thread = thread
        job.moveToThread(thread)
        thread.started.connect(job.run)
        # signals cross back to the GUI thread through queued connections
        job.finished.connect(thread.quit)
        job.failed.connect(thread.quit)
        thread.finished.connect(lambda: self._jobs.discard(job))
        thread.finished.connect(thread.deleteLater)
        self._jobs.add(job)
        thread.start()
        return job

    def busy(self) -> bool:
        return bool(self._jobs)

    def wait(self, ms: int = 30000) -> None:
        for job in list(self._jobs):
            if job.thread:
                job.thread.wait(ms)
