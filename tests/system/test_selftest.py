"""`annotary self-test` from source: in this process (with every network entry point guarded)
and as a fresh process, as a person would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from annotary.paths import store_path
from tests.reliability.test_no_network import guard  # noqa: F401 - the socket guard fixture

ROOT = Path(__file__).resolve().parent.parent.parent
STEPS = 10


def test_self_test_passes_and_opens_no_socket(qtbot, guard, annotary_home):  # noqa: F811
    """socket.socket, getaddrinfo, connect … are all refused. The single-instance step's
    QLocalServer/QLocalSocket are Unix-domain sockets made by Qt in C++: local, and out of
    this guard's sight by design."""
    from annotary.ui.selftest import run_self_test

    lines = []
    assert run_self_test(out=lines.append), "\n".join(lines)
    assert guard.hits == []
    assert len(lines) == STEPS + 1 and all(line.startswith("PASS ") for line in lines[:-1])
    assert lines[-1] == f"self-test: {STEPS} passed, 0 failed"
    assert os.environ["ANNOTARY_HOME"] == str(annotary_home)  # put back
    assert not store_path().exists()  # the person's own data folder is not touched


def test_a_failing_step_fails_the_run(qtbot, monkeypatch):
    from annotary.ui import selftest

    def broken(path):
        raise ValueError("bad hash")

    monkeypatch.setattr(selftest, "verify_bundle", broken)
    lines = []
    assert not selftest.run_self_test(out=lines.append)
    assert lines[2].startswith("FAIL  task bundle") and "ValueError: bad hash" in lines[2]
    assert all(line.startswith("FAIL ") and "not run" in line for line in lines[3:-1])
    assert lines[-1] == f"self-test: 2 passed, {STEPS - 2} failed"


def test_self_test_command_in_a_fresh_process(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # it needs no screen
    env["ANNOTARY_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = str(ROOT / "desktop")
    result = subprocess.run([sys.executable, "-m", "annotary", "self-test"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["PASS"] * STEPS
    assert "propagateSizeHints" not in result.stderr


def test_a_slow_import_shows_its_progress_dialog_and_the_keys_still_land(qtbot, monkeypatch):
    """Past 300 ms the import shows a window-modal progress dialog (as on a busy machine); the
    self-test waits for it to go before pressing keys, as a person would."""
    import time

    from annotary.ui import main_window, selftest

    real = main_window.import_tasks

    def slow(*args, **kwargs):
        time.sleep(0.6)
        return real(*args, **kwargs)

    monkeypatch.setattr(main_window, "import_tasks", slow)
    lines = []
    assert selftest.run_self_test(out=lines.append), "\n".join(lines)
