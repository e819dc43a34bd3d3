"""Questions put to the user. Screens ask through an Asker, so tests can answer instead."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from annotary.ui.shortcuts import COMMANDS, normalized
from annotary.ui.widgets import SafeBrowser

BUNDLE_FILTER = "Annotary bundles (*.annotary);;All files (*)"
PROJECT_FILTER = "Coordinator projects (*.db);;All files (*)"
CSV_FILTER = "CSV tables (*.csv);;All files (*)"
PNG_FILTER = "PNG pictures (*.png);;All files (*)"
FOLDER_FILTER = "A new folder (*)"


class Asker:
    """Modal dialogs over a parent window."""

    def __init__(self, parent):
        self.parent = parent

    def open_path(self, title: str, filter: str = BUNDLE_FILTER) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, str(Path.home()), filter)
        return path or None

    def save_path(self, title: str, suggested: str, filter: str = BUNDLE_FILTER) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, str(Path.home() / suggested), filter)
        return path or None

    def text(self, title: str, label: str) -> str | None:
        text, ok = QInputDialog.getText(self.parent, title, label)
        return text if ok and text.strip() else None

    def choose(self, title: str, label: str, options: list[str], editable: bool = False) -> str | None:
        numbered = [f"{n}. {o}" for n, o in enumerate(options, 1)]
        text, ok = QInputDialog.getItem(self.parent, title, label, numbered, 0, editable)
        if not ok or not text.strip():
            return None
        return options[numbered.index(text)] if text in numbered else text.strip()

    def confirm_trust(self, preview) -> bool:
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Trust this coordinator?")
        box.setText(
            f"<b>{preview.project_name}</b> ({preview.items} items) is signed by "
            f"<b>{preview.signer_name}</b> ({preview.signer_role}).")
        box.setInformativeText(
            f"Key fingerprint:\n{preview.fingerprint}\n\nCompare it with the one your coordinator "
            "gave you (by phone or in person). Once trusted, only this key can send bundles for "
            "this project.")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    def error(self, title: str, message: str) -> None:
        QMessageBox.warning(self.parent, title, message)

    def info(self, title: str, message: str) -> None:
        QMessageBox.information(self.parent, title, message)

    def feedback(self, title: str, markdown: str) -> None:
        """Markdown shown in a reading view (calibration feedback)."""
        dialog = MarkdownDialog(markdown, self.parent, title=title)
        dialog.resize(560, 420)
        dialog.exec()

    def identity(self) -> tuple[str, str] | None:
        dialog = IdentityDialog(self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()


class IdentityDialog(QDialog):
    """Asked once: who signs the bundles made on this computer."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Welcome to Annotary")
        self.name = QLineEdit()
        self.name.setAccessibleName("Your name")
        self.role = QComboBox()
        self.role.addItems(["annotator", "reviewer", "coordinator"])
        self.role.setAccessibleName("Your role")
        form = QFormLayout()
        form.addRow("Your name:", self.name)
        form.addRow("Your role:", self.role)
        intro = QLabel("Your results are signed with a key made now on this computer. "
                       "Tell us who you are; your coordinator sees this name.")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _accept(self):
        if self.name.text().strip():
            self.accept()
        else:
            self.name.setPlaceholderText("A name is needed")

    def values(self) -> tuple[str, str]:
        return self.name.text().strip(), self.role.currentText()


def key_sheet_rows(scope: str, modes: set[str] | None = None,
                   commands=COMMANDS) -> list[tuple[str, str, str]]:
    """(keys, action, where) for every command active on a screen: the F1 sheet's content.
    With `modes` (the question modes of the open project), mode keys of other modes are left out."""
    rows = []
    for c in commands:
        if c.modes and modes is not None and not set(c.modes) & modes:
            continue
        if c.scope in ("global", scope):
            keys = ", ".join(dict.fromkeys(normalized(k) for k in c.keys)) or f"menu {c.menu.strip('&')}"
            rows.append((keys, c.label, "everywhere" if c.scope == "global" else "this screen"))
    return rows


class KeySheet(QDialog):
    def __init__(self, scope: str, modes: set[str] | None = None, commands=COMMANDS, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = key_sheet_rows(scope, modes, commands)
        table = QTableWidget(len(rows), 3)
        table.setHorizontalHeaderLabels(["Keys", "Action", "Where"])
        table.setAccessibleName("Keyboard shortcuts")
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        table.verticalHeader().setVisible(False)
        _with_close(self, table)
        self.table = table
        self.resize(560, 640)


class MarkdownDialog(QDialog):
    """Markdown to read (calibration feedback, a project's guidelines), closed with Esc."""

    def __init__(self, markdown: str, parent=None, title: str = "Guidelines"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.view = SafeBrowser(title)
        self.view.show_markdown(markdown or "_Nothing to show._")
        _with_close(self, self.view)
        self.resize(720, 760)


def _with_close(dialog: QDialog, body) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(body)
    layout.addWidget(buttons)
