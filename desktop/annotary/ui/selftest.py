"""`annotary self-test`: the real window, offscreen, in a throwaway data folder, driven by keys."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from annotary.ops import open_store, queries
from annotary.ops.backup import check_store, make_backup
from annotary.ops.bundling import is_encrypted_bundle
from annotary.ops.identity import make_identity
from annotary.ops.roster import export_card
from annotary.ops.sealing import Encryption
from annotary.ops.tasks import build_task_bundle
from annotary.ops.verify import verify_bundle
from annotary.paths import resources_dir, store_path

PROJECT = "demo-pairwise"
LABELED = 3  # items labeled by key presses; two questions each


class StepFailed(Exception):
    pass


def expect(condition, message: str) -> None:
    if not condition:
        raise StepFailed(message)


class ScriptedAsker:
    """Answers the window's dialogs the way a person would in this script; keeps what was shown."""

    def __init__(self):
        self.paths: list[str] = []
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.trusted = None
        self.forms: list[str] = []

    def open_path(self, title, filter=None):
        return self.paths.pop(0) if self.paths else None

    def save_path(self, title, suggested, filter=None):
        return self.open_path(title)

    def confirm_trust(self, preview):
        self.trusted = preview
        return True

    def error(self, title, message):
        self.errors.append(message)

    def info(self, title, message):
        self.infos.append(message)

    def text(self, title, label):
        return None

    def choose(self, title, label, options, editable=False):
        return None

    def form(self, title, fields, intro="", ok="OK"):
        self.forms.append(title)
        return {f.key: f.default for f in fields}  # the form as offered

    def feedback(self, title, markdown):
        self.infos.append(markdown)


class SelfTest:
    def __init__(self, work: Path, out: Callable[[str], None]):
        self.work, self.out = work, out
        self.results: list[tuple[str, bool, str]] = []
        self.asker = ScriptedAsker()
        self.window = self.store = None

    # -- helpers ------------------------------------------------------------------------------
    def press(self, key, modifier=None):
        from PySide6.QtCore import Qt
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication

        # keys go to the active window. Offscreen, with no window manager, a dialog that hid
        # (the import's progress) stays Qt's active window; do what a person's click would
        if QApplication.activeWindow() is not self.window:
            with warnings.catch_warnings():  # deprecated for activateWindow(), which cannot
                warnings.simplefilter("ignore", DeprecationWarning)  # help: the QWindow is active
                QApplication.setActiveWindow(self.window)
            expect(QTest.qWaitForWindowActive(self.window), "the window could not be activated")
        QTest.keyClick(self.window.windowHandle(), key, modifier or Qt.KeyboardModifier.NoModifier)

    def wait_for(self, condition, timeout: float, what: str) -> None:
        from PySide6.QtTest import QTest

        deadline = time.monotonic() + timeout
        while not condition():
            expect(not self.asker.errors, "; ".join(self.asker.errors))
            expect(time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s")
            QTest.qWait(20)

    # -- steps --------------------------------------------------------------------------------
    def resources(self) -> str:
        res = resources_dir()
        demo = res / "demo"
        for needed in (demo / "spec.toml", demo / "items.jsonl", demo / "guidelines.md",
                       res / "icons" / "annotary-256.png"):
            expect(needed.is_file(), f"missing {needed}")
        expect(list((res / "schema").glob("*.schema.json")), "no JSON Schemas")
        return str(res)

    def identity(self) -> str:
        # the coordinator lives in a data folder of their own, as on another computer
        os.environ["ANNOTARY_HOME"] = str(self.work / "coordinator")
        self.coordinator = make_identity(name="Self-Test Coordinator", role="coordinator")
        os.environ["ANNOTARY_HOME"] = str(self.work / "home")
        self.me = make_identity(name="Self-Test Annotator", role="annotator")
        return f"annotator key {self.me.key_id}, coordinator key {self.coordinator.key_id}"

    def task_bundle(self) -> str:
        demo = resources_dir() / "demo"
        self.tasks = self.work / "round1.annotary"
        # encrypted to the annotator (age, ssh-ed25519), as a confidential project sends it
        card = self.work / "annotator.card.json"
        export_card(identity=self.me, out=card)
        build_task_bundle(spec_path=demo / "spec.toml", items_paths=[demo / "items.jsonl"],
                          out=self.tasks, identity=self.coordinator,
                          guidelines_path=demo / "guidelines.md", encryption=Encryption(encrypt_to=[card]))
        expect(is_encrypted_bundle(self.tasks), "the task bundle was not encrypted")
        report = verify_bundle(self.tasks)  # decrypted with the annotator's key, then verified
        expect(report.kind == "tasks", f"kind {report.kind}")
        return f"{self.tasks.name}, encrypted to the annotator: {report.counts}"

    def window_shown(self) -> str:
        from PySide6.QtTest import QTest

        from annotary.ui.main_window import MainWindow
        from annotary.ui.runner import Runner

        self.store = open_store(store_path())
        # the real runner: the import below runs on a worker thread, as it does for a person
        self.window = MainWindow(self.store, self.me, runner=Runner(), asker=self.asker)
        self.window.show()
        expect(QTest.qWaitForWindowExposed(self.window), "the window was never shown")
        self.window.activateWindow()
        # keys reach the window's shortcuts only once it is the active one
        expect(QTest.qWaitForWindowActive(self.window), "the window never became the active one")
        return f"{len(self.window.actions)} commands in {len(self.window.menuBar().actions())} menus"

    def import_bundle(self) -> str:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QApplication

        self.asker.paths.append(str(self.tasks))
        self.press(Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
        self.wait_for(lambda: self.window.labeling is not None, 60, "the import")
        self.wait_for(lambda: QApplication.activeModalWidget() is None, 10, "the progress dialog closing")
        expect(self.asker.trusted and self.asker.trusted.signer_key_id == self.coordinator.key_id,
               "the coordinator's key was not the one shown for trust")
        info = queries.project(self.store, PROJECT, self.me.key_id)
        expect(info is not None and info.total == 32, f"project {PROJECT} not imported")
        return f"{info.total} items, coordinator key pinned"

    def labeling(self) -> str:
        from PySide6.QtCore import Qt

        k, ctrl = Qt.Key, Qt.KeyboardModifier.ControlModifier
        flow = self.window.labeling.flow
        for first, second in ((k.Key_A, k.Key_T), (k.Key_B, k.Key_B), (k.Key_X, k.Key_T))[:LABELED]:
            before = flow.current.position
            self.press(first)
            self.press(second)
            self.press(k.Key_Return, ctrl)
            expect(flow.current.position == before + 1,
                   f"submit refused at item {before + 1}: {self.window.labeling.status.text()!r}, "
                   f"answers {[v.value for v in flow.current.pending.values()]}")
        self.press(k.Key_A)  # an answer, taken back
        expect(flow.current.pending["helpful"].value == {"key": "A"}, "A did not answer")
        self.press(k.Key_Z, ctrl)
        expect(flow.current.pending["helpful"].value is None, "Ctrl+Z did not undo")
        labels = queries.current_labels(self.store, PROJECT, self.me.key_id)
        expect(len(labels) == 2 * LABELED, f"{len(labels)} labels stored, expected {2 * LABELED}")
        return f"{LABELED} items, {len(labels)} labels stored, undo works"

    def export(self) -> str:
        from PySide6.QtCore import Qt

        self.results_file = self.work / "results.annotary"
        self.asker.paths.append(str(self.results_file))
        self.press(Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        expect(not self.asker.errors, "; ".join(self.asker.errors))
        expect(self.results_file.is_file(), "no results file written")
        # the task bundle came encrypted: the export offers (and by default does) the same
        expect(is_encrypted_bundle(self.results_file), f"results not encrypted (forms {self.asker.forms})")
        return f"{self.results_file.name}, encrypted, {self.results_file.stat().st_size} bytes"

    def verify(self) -> str:
        report = verify_bundle(self.results_file)
        expect(report.kind == "results", f"kind {report.kind}")
        expect(report.counts.get("labels") == 2 * LABELED, f"counts {report.counts}")
        expect(report.signer_key_id == self.me.key_id, "signed by another key")
        return f"signature and hashes hold, {report.counts['labels']} labels"

    def backup(self) -> str:
        made = make_backup(store_path(), conn=self.store.conn)
        problem = check_store(made.path)
        expect(problem is None, f"the backup fails its check: {problem}")
        return f"{made.name}, quick_check ok"

    def single_instance(self) -> str:
        from annotary.ui.single_instance import Receiver, hand_over, server_name

        got: list[str] = []
        receiver = Receiver(server_name(self.work / "selftest.db"))
        receiver.opened.connect(got.append)
        try:
            expect(receiver.listening, "could not listen on the local socket")
            expect(hand_over(receiver.server.serverName(), self.tasks), "hand-over not answered")
            self.wait_for(lambda: got, 5, "the hand-over")
            expect(got == [str(self.tasks.resolve())], f"received {got}")
        finally:
            receiver.close()
        return "a second launch's file reaches the first (local socket)"

    STEPS = (("resources", resources), ("identity", identity), ("task bundle", task_bundle),
             ("window", window_shown), ("import", import_bundle), ("labeling by keys", labeling),
             ("export", export), ("verify", verify), ("backup", backup),
             ("single instance", single_instance))

    def run(self) -> bool:
        failed = False
        for name, step in self.STEPS:
            if failed:
                self.report(name, False, "not run: an earlier step failed")
                continue
            t0 = time.perf_counter()
            try:
                detail = step(self)
                ok = True
            except Exception as err:  # noqa: BLE001 - every failure is one FAIL line
                detail, ok = " ".join(f"{type(err).__name__}: {err}".split()), False
            failed = not ok
            self.report(name, ok, f"{detail} ({time.perf_counter() - t0:.2f} s)")
        passed = sum(ok for _, ok, _ in self.results)
        self.out(f"self-test: {passed} passed, {len(self.results) - passed} failed")
        return passed == len(self.results)

    def report(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, ok, detail))
        self.out(f"{'PASS' if ok else 'FAIL'}  {name:<17} {detail}")

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window.deleteLater()
        if self.store is not None:
            self.store.close()


def _quiet_offscreen(mode, context, message: str) -> None:
    # the offscreen platform warns about window hints it ignores; that is not a finding
    if "propagateSizeHints" not in message:
        sys.stderr.write(message + "\n")


def run_self_test(out: Callable[[str], None] = print) -> bool:
    """Every step in a temporary data folder; True only if all pass. Leaves no trace behind."""
    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a self-test needs no screen
        app = QApplication(["annotary-self-test"])
        qInstallMessageHandler(_quiet_offscreen)
    work = Path(tempfile.mkdtemp(prefix="annotary-self-test-"))
    saved = os.environ.get("ANNOTARY_HOME")
    os.environ["ANNOTARY_HOME"] = str(work / "home")
    test = SelfTest(work, out)
    try:
        return test.run()
    finally:
        test.close()
        app.processEvents()
        if saved is None:
            os.environ.pop("ANNOTARY_HOME", None)
        else:
            os.environ["ANNOTARY_HOME"] = saved
        shutil.rmtree(work, ignore_errors=True)
