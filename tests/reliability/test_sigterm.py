"""A logout or `kill` (SIGTERM) closes the running app as its close button does: exit backup made, exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from annotary.ops import backup
from annotary.paths import store_path
from tests.conftest import ROOT


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="needs POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)], ids=["SIGTERM", "SIGHUP"])
def test_a_terminated_app_closes_cleanly_and_backs_up(identity, annotary_home, tmp_path, sig):
    env = os.environ | {"ANNOTARY_HOME": str(annotary_home), "QT_QPA_PLATFORM": "offscreen",
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "desktop"), str(ROOT)])}
    errors = (tmp_path / "app.err").open("w+")
    app = subprocess.Popen([sys.executable, "-m", "annotary", "gui"], env=env, stdout=subprocess.DEVNULL,
                           stderr=errors)
    watchdog = threading.Timer(120, app.kill)  # a hung app must not hang the suite
    watchdog.start()
    try:
        # up once the day's first backup is there and the store lock is taken (the app waits for events)
        while not backup.list_backups(store_path()) and app.poll() is None:
            time.sleep(0.1)
        assert app.poll() is None, "the app ended before it was asked to"
        started = backup.list_backups(store_path())[0]
        time.sleep(1.1)  # the exit backup gets a later name (names are stamped to the second)
        os.kill(app.pid, sig)
        assert app.wait() == 0
    finally:
        watchdog.cancel()
        if app.poll() is None:
            app.kill()
            app.wait()
        errors.seek(0)
        log = errors.read()
        errors.close()
    made = backup.list_backups(store_path())
    assert [b.kind for b in made] == ["auto"] and made[0].made > started.made, log
    assert backup.check_store(made[0].path) is None
