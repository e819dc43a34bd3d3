"""Questions put to the user. Screens ask through an Asker, so tests can answer instead."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
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

    def open_paths(self, title: str, filter: str = BUNDLE_FILTER) -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, title, str(Path.home()), filter)
        return paths

    def save_path(self, title: str, suggested: str, filter: str = BUNDLE_FILTER) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, str(Path.home() / suggested), filter)
        return path or None

    def form(self, title: str, fields: list, intro: str = "", ok: str = "OK") -> dict | None:
        """The values of a form of flows.workspace.Field inputs, or None if cancelled."""
        dialog = FormDialog(title, fields, intro=intro, ok=ok, parent=self.parent)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def new_project(self, identity, runner) -> str | None:
        """The new-project dialog: the path of the project it created, or None."""
        from annotary.ui.new_project import NewProjectDialog

        dialog = NewProjectDialog(identity, runner, self, parent=self.parent)
        return str(dialog.created) if dialog.exec() == QDialog.DialogCode.Accepted and dialog.created else None

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


class PathEdit(QWidget):
    """A path typed or chosen with Browse… (Alt+B): one file to open, several, a folder, a file to write."""

    def __init__(self, kind: str, value, title: str, filter: str = "", parent=None):
        super().__init__(parent)
        self.kind, self.title, self.filter = kind, title, filter or "All files (*)"
        self.edit = QLineEdit(self.text_of(value))
        self.edit.setAccessibleName(title)
        if kind == "files":
            self.edit.setPlaceholderText("None; several files are separated by ;")
        browse = QPushButton("&Browse…")
        browse.setAccessibleName(f"Choose: {title}")
        browse.clicked.connect(self.browse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(browse)
        self.setFocusProxy(self.edit)

    @staticmethod
    def text_of(value) -> str:
        return "; ".join(map(str, value)) if isinstance(value, list | tuple) else str(value or "")

    def value(self):
        text = self.edit.text().strip()
        return [p.strip() for p in text.split(";") if p.strip()] if self.kind == "files" else text

    def browse(self) -> None:
        start = self.edit.text().split(";")[0].strip() or str(Path.home())
        if self.kind == "files":
            got, _ = QFileDialog.getOpenFileNames(self, self.title, start, self.filter)
            got = "; ".join(got)
        elif self.kind == "folder":
            got = QFileDialog.getExistingDirectory(self, self.title, str(Path(start).parent))
            got = str(Path(got) / Path(start).name) if got and not Path(start).exists() else got
        elif self.kind == "save":
            got, _ = QFileDialog.getSaveFileName(self, self.title, start, self.filter)
        else:
            got, _ = QFileDialog.getOpenFileName(self, self.title, start, self.filter)
        if got:
            self.edit.setText(got)


class FormDialog(QDialog):
    """A form built from flows.workspace.Field inputs; every input has a label with an Alt key."""

    def __init__(self, title: str, fields: list, intro: str = "", ok: str = "OK", parent=None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.fields = fields
        self.inputs: dict[str, QWidget] = {}
        form = QFormLayout()
        for f in fields:
            w = self._input(f)
            w.setToolTip(f.tip)
            w.setAccessibleName(f.label.replace("&", ""))
            if f.kind == "bool":
                form.addRow(w)
            else:
                label = QLabel(f.label + ":")
                label.setBuddy(w)
                label.setToolTip(f.tip)
                form.addRow(label, w)
            self.inputs[f.key] = w
        layout = QVBoxLayout(self)
        if intro:
            text = QLabel(intro)
            text.setObjectName("hint")
            text.setWordWrap(True)
            layout.addWidget(text)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok_button.setText(ok)
        ok_button.setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, self.sizeHint().height())

    def _input(self, f) -> QWidget:
        if f.kind == "int":
            w = QSpinBox()
            w.setRange(int(f.minimum), int(f.maximum))
            w.setValue(int(f.default))
        elif f.kind == "share":
            w = QDoubleSpinBox()
            w.setRange(f.minimum, f.maximum)
            w.setSingleStep(0.05)
            w.setDecimals(2)
            w.setValue(float(f.default or 0))
            if getattr(f, "zero", ""):
                w.setSpecialValueText(f.zero)
        elif f.kind == "bool":
            w = QCheckBox(f.label)
            w.setChecked(bool(f.default))
        elif f.kind == "choice":
            w = QComboBox()
            for value, words in f.choices:
                w.addItem(words, value)
            w.setCurrentIndex(max(0, [v for v, _ in f.choices].index(f.default)) if f.default in
                              [v for v, _ in f.choices] else 0)
        elif f.kind in ("files", "folder", "save", "file"):
            w = PathEdit(f.kind, f.default, f.label.replace("&", ""), f.filter)
        else:
            w = QLineEdit(str(f.default or ""))
        return w

    def values(self) -> dict:
        out = {}
        for f in self.fields:
            w = self.inputs[f.key]
            if isinstance(w, QSpinBox | QDoubleSpinBox):
                out[f.key] = w.value()
            elif isinstance(w, QCheckBox):
                out[f.key] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[f.key] = w.currentData()
            elif isinstance(w, PathEdit):
                out[f.key] = w.value()
            else:
                out[f.key] = w.text().strip()
        return out


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
