"""A labeling process killed with SIGKILL loses no acknowledged submit, and the store stays intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from annotary.ops.importing import import_tasks
from annotary.paths import store_path
from annotary.store import open_store
from tests.conftest import ROOT

ACKS = 40  # more than the demo's 32 items: the last acks are revisions

# Labels the demo project forever, going round the items (every round adds a revision), and
# prints "ACK <item id> <revision>" only after submit() has returned, i.e. after the commit.
CHILD = """
import sys
from annotary.flows.labeling import LabelingFlow
from annotary.ops.identity import require_identity
from annotary.paths import store_path
from annotary.store import open_store

store = open_store(store_path())
flow = LabelingFlow(store, "demo-pairwise", require_identity().key_id)
n = 0
while True:
    flow.go_to(n % len(flow.ids))
    flow.choose("AB"[n % 2])
    flow.choose("tie")
    item_id = flow.current.item.id
    outcome = flow.submit(advance=False)
    assert outcome.ok, outcome.message
    print("ACK", item_id, flow.current.revision, flush=True)
    n += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_after_acknowledged_submits(identity, demo_bundle, annotary_home, tmp_path):
    store = open_store(store_path())
    import_tasks(store, demo_bundle, trust_new_key=True)
    store.close()

    env = os.environ | {"ANNOTARY_HOME": str(annotary_home),
                        "PYTHONPATH": os.pathsep.join([str(ROOT / "desktop"), str(ROOT)])}
    errors = (tmp_path / "child.err").open("w+")  # a file: a full stderr pipe would stall the child
    child = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                             stderr=errors, text=True)
    # a hung child must not hang the suite: kill it after a generous while (not a timing check)
    watchdog = threading.Timer(120, child.kill)
    watchdog.start()
    acked: list[tuple[str, int]] = []
    try:
        while len(acked) < ACKS:
            line = child.stdout.readline()
            if not line:
                errors.seek(0)
                pytest.fail(f"the labeling process ended early:\n{errors.read()}")
            word, item_id, revision = line.split()
            assert word == "ACK"
            acked.append((item_id, int(revision)))
        # it is still labeling: kill it in the middle of whatever it is doing
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    finally:
        watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        errors.close()

    store = open_store(store_path())
    try:
        assert store.integrity_ok()
        assert store.one("PRAGMA foreign_key_check") is None
        for item_id, revision in acked:
            rows = store.query(
                "SELECT question_id FROM labels WHERE project_id='demo-pairwise' AND item_id=?"
                " AND revision=? AND retracted=0", (item_id, revision))
            assert sorted(r[0] for r in rows) == ["harmless", "helpful"], (item_id, revision)
        assert any(r == 2 for _, r in acked)  # a revision of an item survives too
        labels = store.one("SELECT count(*) FROM labels")[0]
        assert labels >= 2 * ACKS
    finally:
        store.close()

