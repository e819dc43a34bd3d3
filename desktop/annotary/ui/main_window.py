"""The main window: menus and keys from the shortcut table, home and labeling screens."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QMainWindow,
    QProgressDialog,
    QSizePolicy,
    QStackedWidget,
)

from annotary.core.errors import AnnotaryError, Cancelled, TrustError
from annotary.flows.labeling import LabelingFlow
from annotary.flows.workspace import Field, encryption_of
from annotary.ops import annotate, open_store, queries
from annotary.ops.demo import ensure_demos
from annotary.ops.importing import import_tasks, load_tasks, preview_tasks
from annotary.ops.results import export_default, export_results
from annotary.ops.sealing import DEFAULT_CHOICE
from annotary.ui.about import AboutDialog
from annotary.ui.dialogs import PROJECT_FILTER, Asker, KeySheet
from annotary.ui.guidelines import GuidelinesDock
from annotary.ui.home_screen import HomeScreen
from annotary.ui.labeling_screen import LabelingScreen
from annotary.ui.runner import Runner
from annotary.ui.settings_dialog import SettingsDialog
from annotary.ui.shortcuts import effective
from annotary.ui.theme import apply_theme
from annotary.ui.workspace import WorkspaceScreen

# what a logout, a shutdown or `kill` sends (Windows has no SIGHUP)
CLOSING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

DEFAULT_TEXT_SIZE = 12


def one_line(err: Exception) -> str:
    """A refusal is one line, whatever it quotes (a file name may hold a line break)."""
    return " ".join(str(err).split())


class MainWindow(QMainWindow):
    def __init__(self, store, identity, *, runner: Runner | None = None, asker: Asker | None = None):
        super().__init__()
        self.store, self.identity = store, identity
        self.runner = runner or Runner()
        self.ask = asker or Asker(self)
        self.setAcceptDrops(True)
        self.resize(1280, 860)
        self.stack = QStackedWidget()
        self.stack.currentChanged.connect(self._only_current_page_sized)
        self.setCentralWidget(self.stack)
        self.home = HomeScreen(store, identity.key_id, who=(
            f"You are {identity.name} ({identity.role}) · key fingerprint {identity.fingerprint}"))
        self.home.open_project.connect(lambda pid: self.run_command_safely(lambda: self.open_project(pid)))
        self.home.command.connect(self.run_command)
        self.stack.addWidget(self.home)
        self.labeling: LabelingScreen | None = None
        self.workspace: WorkspaceScreen | None = None  # a coordinator project's workspace
        self.guidelines = GuidelinesDock(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.guidelines)
        self.guidelines.hide()
        self.actions: dict[str, QAction] = {}
        self.closing_hooks: list = []  # run as the window closes (app.py adds the exit backup)
        self.commands = effective(queries.setting(store, "keymap", {}))
        self._build_actions()
        self.text_size = queries.setting(store, "text_size", DEFAULT_TEXT_SIZE)
        self.theme = queries.setting(store, "theme", "system")
        self.font_family = queries.setting(store, "font", "")
        self._apply_theme()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(lambda *_: self.theme == "system" and self._apply_theme())
        self.show_home()

    # -- actions from the table ---------------------------------------------------------------
    def _build_actions(self) -> None:
        menus = {}
        for c in self.commands:
            act = QAction(c.label, self)
            act.setShortcuts([QKeySequence(k) for k in c.keys])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.setAutoRepeat(c.autorepeat)
            act.setData(c.scope)
            act.triggered.connect(lambda _=False, cid=c.id: self.run_command(cid))
            self.addAction(act)  # keys work whether or not the command has a menu entry
            if c.menu:
                if c.menu not in menus:
                    menus[c.menu] = self.menuBar().addMenu(c.menu)
                menus[c.menu].addAction(act)
            self.actions[c.id] = act
        self.actions["view.dark"].setCheckable(True)

    def apply_settings(self, values: dict) -> None:
        """Store and apply what the settings dialog returns."""
        for key in ("theme", "font", "text_size", "keymap"):
            annotate.set_setting(self.store, key=key, value=values[key])
        self.theme, self.font_family, self.text_size = values["theme"], values["font"], values["text_size"]
        self.commands = effective(values["keymap"])
        for c in self.commands:
            self.actions[c.id].setShortcuts([QKeySequence(k) for k in c.keys])
        self._apply_theme()

    def _scope(self) -> str:
        if self.workspace is not None and self.stack.currentWidget() is self.workspace:
            return "workspace"
        return "labeling" if self.stack.currentWidget() is self.labeling else "home"

    def _enable_scope(self) -> None:
        scope = self._scope()
        for act in self.actions.values():
            act.setEnabled(act.data() in ("global", scope))
        self.actions["file.export"].setEnabled(self.labeling is not None)

    def run_command(self, command: str) -> None:
        try:
            self._run(command)
        except AnnotaryError as err:
            self.ask.error("Annotary", one_line(err))
        except sqlite3.Error as err:
            # a full disk or a failing drive: the write rolled back and the screen did not move on
            self.ask.error("Could not save", f"The store could not be written ({one_line(err)}). Nothing "
                           "was lost: what is on screen is still there. Free some disk space, then try again.")

    def _run(self, command: str) -> None:
        if self._scope() == "labeling" and self.labeling.handle(command):
            return
        if self._scope() == "workspace" and self.workspace.handle(command):
            return
        if command == "file.open_project":
            path = self.ask.open_path("Open a coordinator project (.db)", PROJECT_FILTER)
            if path:
                self.open_workspace(path)
        elif command == "file.open":
            path = self.ask.open_path("Open a task bundle")
            if path:
                self.import_bundle(path)
        elif command == "file.export":
            self.export_results()
        elif command == "file.home":
            self.show_home()
        elif command == "file.demo":
            self.open_demo()
        elif command == "home.new_project":
            path = self.ask.new_project(self.identity, self.runner)
            if path:
                self.open_workspace(path)
                self.statusBar().showMessage(f"Created {Path(path).name}", 8000)
        elif command == "file.quit":
            self.close()
        elif command == "home.open_selected":
            pid = self.home.selected()
            if pid:
                self.open_project(pid)
        elif command == "help.about":
            AboutDialog(self.store.path, parent=self).exec()
        elif command == "help.keys":
            flow = self.labeling.flow if self._scope() == "labeling" else None
            KeySheet(self._scope(), self.commands, flow.spec if flow else None, parent=self,
                     reviewing=bool(flow and flow.review)).exec()
        elif command == "view.settings":
            dialog = SettingsDialog(theme=self.theme, font=self.font_family, text_size=self.text_size,
                                    commands=self.commands, parent=self)
            if dialog.exec() == SettingsDialog.DialogCode.Accepted:
                self.apply_settings(dialog.values())
        elif command == "help.guidelines":
            if self.labeling is None:
                raise AnnotaryError("open a project to read its guidelines")
            if self.guidelines.isVisible():
                self.guidelines.hide()
                self.labeling.focus_screen()
            else:
                self.guidelines.show()
                self.resizeDocks([self.guidelines], [max(380, self.width() // 3)],
                                 Qt.Orientation.Horizontal)
                self._guidelines_follow()
        elif command.startswith("view.zoom"):
            step = {"view.zoom_in": 1, "view.zoom_out": -1}.get(command)
            self.text_size = DEFAULT_TEXT_SIZE if step is None else max(7, min(40, self.text_size + step))
            annotate.set_setting(self.store, key="text_size", value=self.text_size)
            self._apply_theme()
        elif command == "view.dark":
            self.theme = "light" if self.shown_theme == "dark" else "dark"
            annotate.set_setting(self.store, key="theme", value=self.theme)
            self._apply_theme()

    def _key(self, command: str) -> str:
        keys = next((c.keys for c in self.commands if c.id == command), ())
        return QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText) if keys else ""

    def _apply_theme(self) -> None:
        self.shown_theme = apply_theme(QApplication.instance(), theme=self.theme,
                                       text_size=self.text_size, font=self.font_family)
        self.actions["view.dark"].setChecked(self.shown_theme == "dark")

    # -- screens ------------------------------------------------------------------------------
    def _only_current_page_sized(self, _index: int = 0) -> None:
        """A stacked widget is as wide as its widest page: a hidden screen must not keep the
        window from narrowing (the labeling screen stacks its responses there)."""
        Policy = QSizePolicy.Policy
        for i in range(self.stack.count()):
            page = self.stack.widget(i)
            shown = page is self.stack.currentWidget()
            page.setSizePolicy(Policy.Preferred if shown else Policy.Ignored,
                               Policy.Preferred if shown else Policy.Ignored)
        self.stack.updateGeometry()

    def show_home(self) -> None:
        self.home.refresh()
        self.stack.setCurrentWidget(self.home)
        self.setWindowTitle("Annotary")
        self._enable_scope()

    def open_project(self, project_id: str) -> None:
        if self.labeling is not None:
            self.labeling.closing()
            self.stack.removeWidget(self.labeling)
            self.labeling.deleteLater()
        flow = LabelingFlow(self.store, project_id, self.identity.key_id)
        self.labeling = LabelingScreen(flow, self.ask, commands=self.commands)
        self.labeling.title_changed.connect(self.setWindowTitle)
        flow.listeners.append(lambda what: what in ("focus", "item") and self._guidelines_follow())
        self.stack.addWidget(self.labeling)
        self.stack.setCurrentWidget(self.labeling)
        self.setWindowTitle(flow.title())
        self.labeling.focus_screen()
        self._enable_scope()

    def _guidelines_follow(self) -> None:
        """Keep the open guidelines at the section of the focused question."""
        if self.labeling is None or not self.guidelines.isVisible():
            return
        flow = self.labeling.flow
        section = flow.focused_question.guidelines_section if flow.current else None
        self.guidelines.show_guidelines(flow.info.guidelines, flow.guideline_images(), section)

    def open_workspace(self, path: str | Path) -> None:
        """Open a coordinator project file in the workspace (it replaces an open one)."""
        screen = WorkspaceScreen.open(path, runner=self.runner, asker=self.ask, commands=self.commands,
                                      identity=self.identity)
        if self.workspace is not None:
            self.workspace.closing()
            self.stack.removeWidget(self.workspace)
            self.workspace.deleteLater()
        self.workspace = screen
        screen.title_changed.connect(self.setWindowTitle)
        screen.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.stack.addWidget(screen)
        self.stack.setCurrentWidget(screen)
        self.setWindowTitle(f"{Path(path).name} — workspace — Annotary")
        self._enable_scope()
        screen.refresh()
        screen.focus_screen()

    def open_demo(self) -> None:
        self.open_project(ensure_demos(self.store, self.identity)[0])

    # -- bundles ------------------------------------------------------------------------------
    def import_bundle(self, path: str | Path) -> None:
        """Check the whole bundle off the GUI thread, ask to trust a new coordinator, then
        import (also off the GUI thread) exactly what was checked."""
        name = Path(path).name
        dialog = QProgressDialog(f"Checking {name}…", "Cancel", 0, 0, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)

        def checked(tasks):
            dialog.reset()
            dialog.deleteLater()  # a hidden dialog kept per import would only hold memory
            self.activateWindow()  # the hidden progress dialog must not keep the keyboard
            if dialog.wasCanceled():
                return
            self.run_command_safely(lambda: self._confirm_and_import(tasks))

        job = self.runner.start(lambda progress, cancelled: load_tasks(path, items=False), checked,
                                self._import_failed)
        dialog.canceled.connect(job.cancel)

    def _import_failed(self, err) -> None:
        for dialog in self.findChildren(QProgressDialog):
            dialog.reset()
            dialog.deleteLater()
        if isinstance(err, Cancelled):
            self.statusBar().showMessage("Import cancelled; nothing was changed", 8000)
        elif isinstance(err, AnnotaryError):
            self.ask.error("Import refused", one_line(err))
        else:
            self.ask.error("Import failed", f"{type(err).__name__}: {err}")

    def _confirm_and_import(self, tasks) -> None:
        preview = preview_tasks(self.store, tasks)
        if preview.refusal:
            raise TrustError(preview.refusal)
        if preview.already_imported:
            self.ask.info("Annotary", f"{tasks.path.name} was already imported; nothing changed.")
            self.open_project(preview.project_id)
            return
        if preview.pin != "pinned" and not self.ask.confirm_trust(preview):
            return
        store_file = self.store.path
        dialog = QProgressDialog(f"Importing {tasks.path.name}…", "Cancel", 0, preview.items, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)

        def work(progress, cancelled):
            # a connection of its own: sqlite connections stay on the thread that uses them
            store = open_store(store_file) if store_file and not self.runner.synchronous else self.store
            try:
                return import_tasks(store, tasks, trust_new_key=True, progress=progress,
                                    expect_key_id=preview.signer_key_id, cancelled=cancelled)
            finally:
                if store is not self.store:
                    store.close()

        def done(change):
            dialog.reset()
            dialog.deleteLater()
            self.activateWindow()
            self.statusBar().showMessage(change.message, 8000)
            self.open_project(change.project_id)

        job = self.runner.start(work, done, self._import_failed,
                                on_progress=lambda d, t: dialog.setValue(d))
        dialog.canceled.connect(job.cancel)

    def export_results(self) -> None:
        if self.labeling is None:
            raise AnnotaryError("open a project first")
        flow = self.labeling.flow
        flow.flush_draft()
        info = flow.info
        if not flow.labeled and not self.ask.confirm(
                "Nothing submitted yet",
                f"You have not submitted any of the {len(flow.ids)} items of {info.name}: the file "
                "would hold no labels. A draft counts only once it is submitted "
                f"({self._key('item.submit')}). Export anyway?", "Export an empty file"):
            self.statusBar().showMessage("Nothing exported", 8000)
            return
        safe_name = "".join(ch if ch.isalnum() else "-" for ch in self.identity.name).strip("-")
        encryption = self._export_encryption(info.id)
        if encryption is None:
            self.statusBar().showMessage("Nothing exported", 8000)
            return
        path = self.ask.save_path("Export results", f"{info.id}-{safe_name}-results.annotary")
        if not path:
            return
        change = export_results(self.store, project_id=info.id, identity=self.identity, out=path,
                                encryption=encryption)
        left = len(flow.ids) - len(flow.labeled)
        more = f"\n{left} of {len(flow.ids)} items are not submitted yet." if left else ""
        send = "" if not flow.labeled else "\nSend this file to your coordinator."
        self.ask.info("Results exported", f"{change.message}{more}{send}")

    def _export_encryption(self, project_id: str):
        """Whether the results go encrypted: asked when that is the project's default (its task
        bundle came encrypted, or it is confidential); otherwise the file is signed only, as ever.
        None: cancelled."""
        coordinator = export_default(self.store, project_id)
        if coordinator is None:
            return DEFAULT_CHOICE
        values = self.ask.form("Export results", [Field(
            "encrypt", f"&Encrypt so only {coordinator} and you can open it", "bool", True,
            tip="Your task bundle came encrypted: send your results back the same way")],
            intro="Your results can be opened only by the people they are encrypted to.", ok="Export")
        return None if values is None else encryption_of(values)

    # -- drag and drop ------------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 - Qt override
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        projects = [p for p in paths if p.lower().endswith(".db")]
        if projects:  # a coordinator project opens in the workspace
            self.run_command_safely(lambda: self.open_workspace(projects[0]))
            paths = [p for p in paths if p not in projects]
        if self._scope() == "workspace":  # there, dropped bundles are results to merge
            self.run_command_safely(lambda: self.workspace.merge(paths))
            return
        for path in paths:
            self.run_command_safely(lambda p=path: self.import_bundle(p))

    def run_command_safely(self, fn) -> None:
        try:
            fn()
        except AnnotaryError as err:
            self.ask.error("Annotary", one_line(err))

    def repeat_in_background(self, fn: Callable[[], object], every_ms: int, done: Callable[[object], None],
                             failed: Callable[[BaseException], None]) -> QTimer:
        """Run fn off the GUI thread every every_ms (the periodic backup); a run still going when
        the next is due is not doubled."""
        timer = QTimer(self)
        running: list = []

        def tick() -> None:
            if running:
                return
            running.append(True)

            def finish(callback, value) -> None:
                running.clear()
                callback(value)

            self.runner.start(lambda progress, cancelled: fn(), lambda r: finish(done, r),
                              lambda err: finish(failed, err))

        timer.timeout.connect(tick)
        timer.start(every_ms)
        return timer

    def close_on_signals(self, signals=CLOSING_SIGNALS) -> dict:
        """A logout, a shutdown or `kill` (SIGTERM, SIGHUP) closes the window as its close button
        does: the draft saved, the exit backup made. Returns the handlers it replaced."""
        def close() -> None:
            # a dialog open at the time (a question, a progress bar) closes first: its own event
            # loop would otherwise keep the app running after the window has gone
            for _ in range(10):
                modal = QApplication.activeModalWidget()
                if modal is None or modal is self:
                    break
                modal.close()
            self.close()

        previous = {}
        for sig in signals:
            previous[sig] = signal.signal(sig, lambda *_: QTimer.singleShot(0, close))
        # Python runs signal handlers between bytecodes: a timer lets it while Qt waits for events
        self._signal_tick = QTimer(self)
        self._signal_tick.timeout.connect(lambda: None)
        self._signal_tick.start(250)
        return previous

    def closeEvent(self, event):  # noqa: N802 - Qt override
        if self.labeling is not None:
            self.labeling.closing()
        self.runner.wait()
        if self.workspace is not None:
            self.workspace.closing()
        for hook in self.closing_hooks:
            self.run_command_safely(hook)
        super().closeEvent(event)
