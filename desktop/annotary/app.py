"""Composition root: paths -> store -> ops -> QApplication -> main window; GUI commands."""

from __future__ import annotations

import sys

import click

from annotary.cli.main import cli


def run_gui(*, bundle: str | None = None, demo: bool = False) -> int:
    from PySide6.QtWidgets import QApplication

    from annotary.ops import identity as identity_ops
    from annotary.paths import store_path
    from annotary.store import open_store
    from annotary.ui.dialogs import Asker
    from annotary.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Annotary")
    ident = identity_ops.current_identity()
    if ident is None:
        answer = Asker(None).identity()
        if answer is None:
            return 1
        ident = identity_ops.make_identity(name=answer[0], role=answer[1])
    store = open_store(store_path())
    window = MainWindow(store, ident)
    window.show()
    if demo:
        window.run_command("file.demo")
    elif bundle:
        window.run_command_safely(lambda: window.import_bundle(bundle))
    return app.exec()


@cli.command("open")
@click.argument("bundle", type=click.Path(dir_okay=False))
def open_cmd(bundle):
    """Open the app and import a task bundle (asks to trust a new coordinator).

    \b
    Example:
      annotary open round1.annotary
    """
    sys.exit(run_gui(bundle=bundle))


@cli.command("demo")
def demo_cmd():
    """Open the app on the bundled demo project (32 real pairwise items).

    \b
    Example:
      annotary demo
    """
    sys.exit(run_gui(demo=True))


@cli.command("gui")
def gui_cmd():
    """Open the app on the projects screen.

    \b
    Example:
      annotary gui
    """
    sys.exit(run_gui())


def main() -> None:
    cli(prog_name="annotary")


if __name__ == "__main__":
    main()
