"""The app in a real window, run as `annotary demo` runs it, answering commands read from stdin."""

# Run as a script in its own process (QT_QPA_PLATFORM=xcb, DISPLAY, ANNOTARY_HOME set by the
# caller): the pytest process is already bound to the offscreen platform.
#
# Protocol: one command per stdin line; one reply per command on stdout, a line starting with
# REPLY followed by JSON. Anything else the app prints is left alone. Commands:
#   state                 the screen, item, focused question and pending answers (JSON)
#   sync                  empty Qt's queues and round-trip to the X server (keys sent are handled)
#   shot NAME [screen]    save window.grab() (or the whole screen) as NAME.png in the screenshot folder
#   open PROJECT          open a project by id, by index in the projects list, or by name
#   workspace PATH        open a coordinator project file in the workspace
#   warnings              every Qt message recorded so far
#   quit                  close the window as its close button does, then exit

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
import traceback
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QtMsgType, qInstallMessageHandler

REPLY = "REPLY "
MESSAGE = "QT-MESSAGE "  # how a Qt message is written to stderr, one JSON object a line
MESSAGES: list[dict] = []
KINDS = {QtMsgType.QtDebugMsg: "debug", QtMsgType.QtInfoMsg: "info", QtMsgType.QtWarningMsg: "warning",
         QtMsgType.QtCriticalMsg: "critical", QtMsgType.QtFatalMsg: "fatal"}


def record_message(kind, context, text) -> None:
    entry = {"kind": KINDS.get(kind, str(kind)), "category": context.category or "", "text": text}
    MESSAGES.append(entry)
    # stderr too, so a message is seen even if this process dies before it is asked
    print(MESSAGE + json.dumps(entry), file=sys.stderr, flush=True)


def reply(payload: dict) -> None:
    sys.stdout.write(REPLY + json.dumps(payload, default=str) + "\n")
    sys.stdout.flush()


def plain(value):
    """A pending answer as JSON: tuples, sets and dataclasses become lists and dicts."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def describe_widget(widget) -> dict | None:
    if widget is None:
        return None
    return {"class": type(widget).__name__, "name": widget.objectName(),
            "accessible": widget.accessibleName()}


class Driver:
    def __init__(self, app, shots: Path):
        self.app, self.shots = app, shots
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.timer = QTimer()
        self.timer.timeout.connect(self.poll)
        # a modal dialog runs its own event loop; timers still fire there, so commands do too
        self.timer.start(5)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self) -> None:
        for line in sys.stdin:
            self.lines.put(line.strip())
        self.lines.put(None)

    @property
    def window(self):
        from annotary.ui.main_window import MainWindow

        return next((w for w in self.app.topLevelWidgets() if isinstance(w, MainWindow)), None)

    def poll(self) -> None:
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return
            if line is None:  # stdin closed: the test is gone
                self.quit()
                return
            if line:
                self.run(line)

    def run(self, line: str) -> None:
        name, _, arg = line.partition(" ")
        try:
            handler = getattr(self, "do_" + name, None)
            if handler is None:
                raise ValueError(f"unknown command {name!r}")
            reply({"ok": True, **(handler(arg) or {})})
        except Exception as err:  # a broken command must not take the app down with it
            reply({"ok": False, "error": f"{type(err).__name__}: {err}",
                   "traceback": traceback.format_exc()})

    # -- commands -----------------------------------------------------------------------------
    def do_sync(self, arg: str) -> dict:
        self.app.sync()
        return {}

    def do_warnings(self, arg: str) -> dict:
        return {"messages": MESSAGES}

    def do_state(self, arg: str) -> dict:
        w = self.window
        modal = self.app.activeModalWidget()
        out = {"window": None if w is None else {
                   "title": w.windowTitle(), "wid": int(w.winId()), "visible": w.isVisible(),
                   "width": w.width(), "height": w.height()},
               "active_window": describe_widget(self.app.activeWindow()),
               "focus_widget": describe_widget(self.app.focusWidget()),
               "modal": None if modal is None else {"class": type(modal).__name__,
                                                    "title": modal.windowTitle()},
               "screen": None}
        if w is None:
            return out
        out["screen"] = w._scope()
        out["status_bar"] = w.statusBar().currentMessage()
        out["text_size"], out["theme"] = w.text_size, w.shown_theme
        out["guidelines_open"] = w.guidelines.isVisible()
        if out["screen"] == "home":
            out["projects"] = [w.home.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(w.home.list.count())]
            out["selected"] = w.home.selected()
        if out["screen"] == "workspace":
            tabs = getattr(w.workspace, "tabs", None)
            out["workspace_tab"] = tabs.tabText(tabs.currentIndex()) if tabs is not None else None
            out["workspace_ready"] = getattr(w.workspace, "snapshot", None) is not None
        if out["screen"] == "labeling" and w.labeling is not None:
            flow = w.labeling.flow
            state = flow.current
            out["labeling"] = {
                "project": flow.project_id, "review": flow.review, "editing": flow.editing,
                "modes": [q.mode for q in flow.spec.questions],
                "questions": [q.id for q in flow.spec.questions],
                "focus": flow.focus, "total": len(flow.ids), "labeled": len(flow.labeled),
                "filter": flow.filter, "flags": [] if state is None else sorted(state.flags),
                "cursor": None if state is None or flow.focused_question.mode not in ("scoring", "rubric")
                else list(flow.cursor(flow.focused_question.id)),
                "status": w.labeling.status.text(),
                "item": None if state is None else state.item.id,
                "position": None if state is None else state.position,
                "revision": None if state is None else state.revision,
                "modified": None if state is None else state.modified,
                "pending": {} if state is None else {
                    qid: {"value": plain(p.value), "rationale": p.rationale, "confidence": p.confidence}
                    for qid, p in state.pending.items()},
                "complete": {} if state is None else {q.id: flow.complete(q.id) for q in flow.spec.questions},
                "required": [q.id for q in flow.spec.questions if q.required],
                "missing": [] if state is None else flow.missing(),  # what Ctrl+Enter would refuse for
            }
        return out

    def do_shot(self, arg: str) -> dict:
        name, _, where = arg.partition(" ")
        if not name:
            raise ValueError("shot NAME [screen]")
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        self.app.processEvents()
        # the window as it draws itself, or the whole X screen: dialogs and all, as seen
        image = self.app.primaryScreen().grabWindow(0) if where == "screen" else self.window.grab()
        if not image.save(str(path)):
            raise OSError(f"could not write {path}")
        return {"path": str(path)}

    def do_open(self, arg: str) -> dict:
        from annotary.ops import queries

        w = self.window
        projects = queries.projects(w.store, w.identity.key_id)
        ids = [p.id for p in projects]
        if arg in ids:
            pid = arg
        elif arg.isdigit() and int(arg) < len(ids):
            pid = ids[int(arg)]
        else:
            named = [p.id for p in projects if arg.lower() in p.name.lower()]
            if len(named) != 1:
                raise ValueError(f"no single project {arg!r} among {ids}")
            pid = named[0]
        w.run_command_safely(lambda: w.open_project(pid))
        return {"project": pid}

    def do_workspace(self, arg: str) -> dict:
        w = self.window
        w.run_command_safely(lambda: w.open_workspace(arg))
        return {}

    def do_quit(self, arg: str = "") -> dict:
        w = self.window
        if w is not None:
            QTimer.singleShot(0, w.close)
        QTimer.singleShot(0, self.app.quit)
        return {}

    def quit(self) -> None:
        self.do_quit()


def prepare(args) -> None:
    """The data folder as the person would have it: an identity, and any bundle already taken in."""
    from annotary.ops import identity as identity_ops
    from annotary.ops.importing import import_tasks
    from annotary.paths import store_path
    from annotary.store import open_store

    ident = identity_ops.current_identity() or identity_ops.make_identity(name=args.name, role=args.role)
    if args.project and not args.imports:  # a demo project opened by name: as on a later run
        from annotary.ops.demo import ensure_demos

        store = open_store(store_path())
        try:
            ensure_demos(store, ident)
        finally:
            store.close()
    for bundle in args.imports:
        store = open_store(store_path())
        try:
            change = import_tasks(store, bundle, trust_new_key=True)
        finally:
            store.close()
        args.project = args.project or change.project_id


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=Path, required=True, help="folder for screenshots")
    parser.add_argument("--name", default="Dr. Ada Lee")
    parser.add_argument("--role", default="annotator")
    parser.add_argument("--import", dest="imports", action="append", default=[],
                        help="a task or adjudication bundle to import (trusted) before the window opens")
    parser.add_argument("--project", help="open this project instead of the demo")
    args = parser.parse_args(argv)

    qInstallMessageHandler(record_message)  # before the application, to catch its first words
    from PySide6.QtWidgets import QApplication

    from annotary.app import run_gui

    app = QApplication(sys.argv[:1])
    prepare(args)
    driver = Driver(app, args.shots)

    def ready() -> None:
        w = driver.window
        # exposed: mapped on the X server, so it can take the keyboard (isVisible is said sooner)
        if w is None or not w.isVisible() or not w.windowHandle() or not w.windowHandle().isExposed():
            QTimer.singleShot(20, ready)
            return
        reply({"ok": True, "ready": True, "wid": int(w.winId())})

    QTimer.singleShot(0, ready)
    if args.project:
        return run_gui(project=args.project)
    return run_gui(demo=True)


if __name__ == "__main__":
    sys.exit(main())
