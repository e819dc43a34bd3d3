"""Composition root: paths -> store -> ops -> QApplication -> main window; GUI commands."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import click

from annotary import __version__
from annotary.cli.main import cli  # the other modules' commands load when they run (cli.lazy)
from annotary.core.errors import AnnotaryError

SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
BACKUP_EVERY_MS = 30 * 60 * 1000  # while the app stays open, when the store changed


def file_kind(path: str | Path) -> str:
    """"bundle" or "store", told by the file's first bytes (not its name); AnnotaryError otherwise."""
    from annotary.ops.bundling import is_encrypted_bundle

    path = Path(path)
    if not path.is_file():
        raise AnnotaryError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head.startswith(ZIP_MAGIC) or is_encrypted_bundle(path):  # a signed zip, or one encrypted (age)
        return "bundle"
    if head == SQLITE_MAGIC:
        return "store"
    raise AnnotaryError(f"{path.name} is neither an Annotary bundle (.annotary) nor an Annotary store")


def install_crash_log(show=None) -> None:
    """Unhandled errors are written to crash.log in the data folder, on this computer only
    (nothing is ever sent); `show(message)` tells the person, once per run.

    A refusal (AnnotaryError) that escaped a Qt slot is no crash: it is shown as it is."""
    from annotary.ops.backup import write_crash_report

    previous = sys.excepthook
    told = []

    def hook(exc_type, exc, tb):
        if isinstance(exc, AnnotaryError):
            click.echo("error: " + " ".join(str(exc).split()), err=True)
            if show:
                show(" ".join(str(exc).split()))
            return
        try:
            path = write_crash_report(exc_type, exc, tb)
        except OSError:  # a full or read-only disk: the traceback still reaches stderr below
            path = None
        previous(exc_type, exc, tb)
        if show and path and not told and not issubclass(exc_type, KeyboardInterrupt):
            told.append(path)
            show(f"Something went wrong inside Annotary. A report was written to {path} on this "
                 "computer; nothing was sent. Your submitted labels are saved.")

    def thread_hook(args):  # no dialog from a worker thread; the log is enough
        if args.exc_type is not SystemExit:
            try:
                write_crash_report(args.exc_type, args.exc_value, args.exc_traceback,
                                   where=f"thread {args.thread.name if args.thread else '?'}")
            except OSError:
                pass

    sys.excepthook = hook
    threading.excepthook = thread_hook


def open_checked_store(store_file: Path, *, confirm, lock):
    """Open a store after SQLite's quick_check; offer the newest good backup if it is damaged.

    Returns (store, notice): notice is a line for the window's banner, or None."""
    from annotary.ops import backup
    from annotary.store import open_store
    from annotary.store.db import writable

    notice = None
    problem = backup.check_store(store_file)
    if problem:
        good = backup.newest_good_backup(store_file)
        where = backup.backups_dir(store_file)
        if good is None:
            raise AnnotaryError(f"{store_file} is damaged ({problem}) and there is no good backup in {where}")
        when = good.made.strftime("%Y-%m-%d %H:%M")
        if not confirm(f"{store_file.name} is damaged: {problem}.\n\nRestore the newest good backup, "
                       f"made {when}? Labels made after it are lost; the damaged file is kept in {where}."):
            raise AnnotaryError(f"{store_file} is damaged ({problem}); nothing was changed "
                                "(`annotary backup restore` puts a backup back)")
        backup.restore(store_file, good.path, lock=lock)
        notice = f"The store was damaged; the backup made {when} was restored."
    try:
        store = open_store(store_file, read_only=not writable(store_file))
    except AnnotaryError as err:
        raise AnnotaryError(f"Annotary {__version__} cannot open {store_file}: {err}") from None
    if store.read_only:
        notice = (f"Read-only: {store_file.name} cannot be changed here. You can look around, but not "
                  "label, import or change settings.")
    return store, notice


def add_banner(window, text: str):
    """A line above the screens that stays (read-only store, restored backup)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel, QSizePolicy, QToolBar

    bar = QToolBar("Notice", window)
    bar.setMovable(False)
    bar.setFloatable(False)
    label = QLabel(text)
    label.setAccessibleName("Notice")
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)  # full width
    label.setStyleSheet("padding: 4px 8px; font-weight: bold;")
    bar.addWidget(label)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    window.banner = label
    return label


def app_icon():
    from PySide6.QtGui import QIcon

    from annotary.paths import resources_dir

    icon = QIcon()
    for size in ICON_SIZES:  # PNGs: no SVG image plugin needed in the frozen app
        icon.addFile(str(resources_dir() / "icons" / f"annotary-{size}.png"))
    return icon


def handle_handover(window, path: str) -> None:
    """A second launch handed us a file (or just asked to come to the front)."""
    if window.isMinimized():
        window.showNormal()
    window.raise_()
    window.activateWindow()
    if path:
        window.run_command_safely(lambda: _open_handed(window, path))


def _open_handed(window, path: str) -> None:
    # the lock is per store, so a store handed over is the one already open: nothing to import
    if file_kind(path) == "bundle":
        window.import_bundle(path)


def run_gui(*, file: str | None = None, demo: bool = False, project: str | None = None,
            probe: bool = False) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from annotary.ops import backup
    from annotary.ops import identity as identity_ops
    from annotary.paths import store_path
    from annotary.ui.dialogs import Asker, unlock_for_session
    from annotary.ui.main_window import MainWindow, one_line
    from annotary.ui.single_instance import Receiver, hand_over, server_name

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotary")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    ask = Asker(None)
    headless = app.platformName() in ("offscreen", "minimal")  # no one to see a dialog there
    install_crash_log(show=None if headless else lambda message: ask.error("Annotary", message))

    def tell(title: str, message: str) -> None:
        click.echo("error: " + one_line(AnnotaryError(message)), err=True)
        if not headless:
            ask.error(title, message)

    def refuse(message: str) -> int:
        tell("Annotary", message)
        return 2

    try:
        kind = file_kind(file) if file else None
    except AnnotaryError as err:
        return refuse(str(err))
    store_file = Path(file).resolve() if kind == "store" else store_path()
    bundle = file if kind == "bundle" else None

    # one writer per store: the lock decides; a second launch hands its file to the first
    lock = backup.StoreLock(store_file)
    if not lock.acquire():
        if hand_over(server_name(store_file), bundle):
            click.echo(f"Annotary is already open on {store_file}; "
                       + (f"handed {bundle} to it" if bundle else "brought it to the front"))
            return 0
        return refuse(f"{store_file} is in use by another Annotary that does not answer; "
                      "close it and try again")
    receiver = Receiver(server_name(store_file))
    store = None
    try:
        def confirm(text: str) -> bool:
            if headless:
                return False
            answer = QMessageBox.question(None, "Damaged store", text)
            return answer == QMessageBox.StandardButton.Yes

        try:
            store, notice = open_checked_store(store_file, confirm=confirm, lock=lock)
        except AnnotaryError as err:
            return refuse(str(err))
        warning = None
        if not store.read_only:
            try:
                backup.auto_backup(store_file, conn=store.conn)  # the day's first start
            except AnnotaryError as err:
                warning = str(err)
        ident = identity_ops.current_identity()
        if ident is None:
            answer = ask.identity()
            if answer is None:
                return 1
            ident = identity_ops.make_identity(name=answer[0], role=answer[1])
        if ident.protected and not os.environ.get(identity_ops.PASSPHRASE_ENV):
            # asked once, here on the GUI thread; the work done later off it finds it kept
            if headless or not unlock_for_session(ask):
                return refuse("your private key is protected by a passphrase: Annotary needs it to sign "
                              f"and open bundles (or give it in {identity_ops.PASSPHRASE_ENV})")
        identity_ops.set_passphrase_prompt(None)  # the window never asks on a terminal
        window = MainWindow(store, ident)
        if not store.read_only:
            window.closing_hooks.append(
                lambda: backup.auto_backup(store_file, conn=store.conn, at_exit=True))
            bar = window.statusBar()
            window.repeat_in_background(
                lambda: backup.periodic_backup(store_file), BACKUP_EVERY_MS,
                done=lambda made: made and bar.showMessage(f"Backed up ({made.path.name})", 8000),
                failed=lambda err: bar.showMessage(f"Backup failed: {one_line(err)}", 30000))
        window.close_on_signals()
        if notice:
            add_banner(window, notice)
        receiver.opened.connect(lambda path: handle_handover(window, path))
        window.show()
        if warning:
            tell("Backup failed", warning)
        if demo:
            window.run_command("file.demo")
        elif project:
            window.run_command_safely(lambda: window.open_project(project))
        elif bundle:
            window.run_command_safely(lambda: window.import_bundle(bundle))
        if probe:  # benchmarks/package_bench.py: the moment the first item is on screen
            app.processEvents()
            window.repaint()
            shown = window.labeling.flow.current if window.labeling else None
            print("SHOWN " + json.dumps({"item": shown.item.id if shown else None,
                                         "clock": time.time()}), flush=True)
            QTimer.singleShot(0, window.close)
        return app.exec()
    finally:
        receiver.close()
        if store is not None:
            store.close()
        lock.release()


@cli.command("open")
@click.argument("file", type=click.Path(dir_okay=False))
def open_cmd(file):
    """Open the app on FILE: a task bundle is imported (asks to trust a new coordinator), a
    store file is opened in place of yours. If Annotary is already open, it gets the file.

    \b
    Example:
      annotary open round1.annotary
    """
    sys.exit(run_gui(file=file))


@cli.command("demo")
def demo_cmd():
    """Open the app on the bundled demo project (32 real pairwise items).

    \b
    Example:
      annotary demo
    """
    sys.exit(run_gui(demo=True))


@cli.command("gui")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--project", help="Open this project (see `annotary projects`).")
@click.option("--startup-probe", is_flag=True, hidden=True,
              help="Print when the first item is shown, then quit (benchmarks).")
def gui_cmd(file, project, startup_probe):
    """Open the app on the projects screen, or on FILE (a bundle or a store) as `open` does.

    \b
    Example:
      annotary gui
      annotary gui --project demo-pairwise
    """
    sys.exit(run_gui(file=file, project=project, probe=startup_probe))


@cli.command("self-test")
def self_test_cmd():
    """Check this installation end to end, offscreen, in a temporary data folder: identity,
    task bundle, import, labeling by key presses, export, verify, backup, single instance.
    Prints one PASS/FAIL line per step; exit code 0 only when all pass. Your data is not touched.

    \b
    Example:
      annotary self-test
    """
    from annotary.ui.selftest import run_self_test

    sys.exit(0 if run_self_test(out=click.echo) else 1)


def main() -> None:
    args = sys.argv[1:]
    if getattr(sys, "frozen", False) and (not args or (len(args) == 1 and Path(args[0]).is_file())):
        args = ["gui", *args]  # the frozen app double-clicked, alone or on a file: open the window
    cli(args=args, prog_name="annotary")


if __name__ == "__main__":
    main()
