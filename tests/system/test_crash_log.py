"""Crash log: unhandled errors are written to a file in the data folder and never sent."""

from __future__ import annotations

import sys
import threading

import pytest

from annotary import __version__
from annotary.app import install_crash_log
from annotary.core.errors import AnnotaryError
from annotary.ops import backup


@pytest.fixture
def hooks(monkeypatch):
    monkeypatch.setattr(sys, "excepthook", lambda *exc: None)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


def raised(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_an_unhandled_error_is_logged_and_the_person_told_once(hooks, annotary_home):
    shown = []
    install_crash_log(show=shown.append)
    sys.excepthook(*raised(ZeroDivisionError("division by zero in a paint event")))
    sys.excepthook(*raised(KeyError("second")))
    log = (annotary_home / "crash.log").read_text()
    assert f"Annotary {__version__}" in log and "ZeroDivisionError" in log and "KeyError" in log
    assert "Traceback" in log
    assert len(shown) == 1 and str(annotary_home / "crash.log") in shown[0] and "nothing was sent" in shown[0]


def test_a_refusal_that_escaped_a_slot_is_shown_not_logged(hooks, annotary_home, capsys):
    shown = []
    install_crash_log(show=shown.append)
    sys.excepthook(*raised(AnnotaryError("demo.annotary: bad signature")))
    assert shown == ["demo.annotary: bad signature"]
    assert not (annotary_home / "crash.log").exists()
    assert capsys.readouterr().err.strip() == "error: demo.annotary: bad signature"


def test_worker_thread_errors_are_logged_too(hooks, annotary_home):
    install_crash_log()
    worker = threading.Thread(target=lambda: 1 / 0, name="import-job")
    worker.start()
    worker.join()
    log = (annotary_home / "crash.log").read_text()
    assert "thread import-job" in log and "ZeroDivisionError" in log


def test_the_log_does_not_grow_without_end(hooks, annotary_home, monkeypatch):
    monkeypatch.setattr(backup, "CRASH_LOG_LIMIT", 4000)
    for n in range(40):
        backup.write_crash_report(*raised(ValueError(f"crash number {n}")))
    log = (annotary_home / "crash.log").read_text()
    assert len(log) < 4000 + 2000
    assert "crash number 39" in log and "crash number 0\n" not in log
    assert log.startswith("[older reports removed]")
