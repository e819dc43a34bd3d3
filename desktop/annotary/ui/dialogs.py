"""Questions put to the user. Screens ask through an Asker, so tests can answer instead."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
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

from annotary.core.errors import IdentityError
from annotary.flows.modes import FILTER_FROM, NONE, Categorical
from annotary.ops import identity as identity_ops
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

    def confirm(self, title: str, message: str, yes: str) -> bool:
        """A yes-or-no question whose safe answer (No) is the default."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(message)
        go = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
        box.exec()
        return box.clickedButton() is go

    def feedback(self, title: str, markdown: str) -> None:
        """Markdown shown in a reading view (calibration feedback)."""
        dialog = MarkdownDialog(markdown, self.parent, title=title)
        dialog.resize(560, 420)
        dialog.exec()

    def passphrase(self, wrong: bool = False) -> str | None:
        """The passphrase of the private key (asked once per session), or None if cancelled."""
        label = ("That passphrase did not unlock your key. Passphrase:" if wrong else
                 "Your signing key is protected by a passphrase. Passphrase:")
        text, ok = QInputDialog.getText(self.parent, "Unlock your key", label, QLineEdit.EchoMode.Password)
        return text if ok and text else None

    def identity(self) -> tuple[str, str] | None:
        dialog = IdentityDialog(self.parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()


def unlock_for_session(asker, attempts: int = 3) -> bool:
    """Ask for the passphrase of a protected key until it unlocks the key (at most `attempts`
    times); it is then kept in memory for this session, never written. False if not given."""
    wrong = False
    for _ in range(attempts):
        given = asker.passphrase(wrong)
        if given is None:
            return False
        try:
            identity_ops.unlock_identity(given)
            return True
        except IdentityError:
            wrong = True
    return False


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
    """(keys, action, where) for every command active on a screen, as one flat list. With
    `modes` (the question modes of the open project), mode keys of other modes are left out."""
    rows = []
    for c in commands:
        if c.modes and modes is not None and not set(c.modes) & modes:
            continue
        if c.scope in ("global", scope):
            keys = ", ".join(dict.fromkeys(normalized(k) for k in c.keys)) or f"menu {c.menu.strip('&')}"
            rows.append((keys, c.label, "everywhere" if c.scope == "global" else "this screen"))
    return rows


# global commands that belong with the item being read rather than with files and windows
_READING = ("view.zoom_in", "view.zoom_out", "view.zoom_reset", "help.guidelines")
# the keys of every item, in the order they are learnt
_FIRST = ("item.submit", "item.next", "item.previous", "item.jump", "item.flag", "item.skip",
          "edit.undo", "edit.redo", "item.rationale", "question.next")


class _Keys:
    """The keys of commands as the user has bound them (the table is remappable)."""

    def __init__(self, commands):
        self.by_id = {c.id: c for c in commands}

    def __call__(self, *ids: str, sep: str = " / ") -> str:
        texts = [", ".join(dict.fromkeys(normalized(k) for k in self.by_id[i].keys))
                 for i in ids if i in self.by_id]
        return sep.join(t for t in texts if t)

    def range(self, prefix: str, low: int, high: int) -> str:
        """'1 … 5' for the commands prefix1 … prefix5 while bound to keys that count up by one
        (the defaults); each key otherwise."""
        texts = [t for t in (self(f"{prefix}{n}") for n in range(low, high + 1)) if t]
        stem = texts[0][:-1] if texts else ""
        counting = all(t[:-1] == stem and t[-1:].isdigit() for t in texts) and \
            [int(t[-1]) for t in texts] == list(range(int(texts[0][-1]), int(texts[0][-1]) + len(texts)))
        return f"{texts[0]} … {texts[-1]}" if len(texts) > 2 and counting else ", ".join(texts)


def _question_rows(q, keys: _Keys) -> list[tuple[str, str]]:
    """What each key does for one question, in that question's terms."""
    rows: list[tuple[str, str]] = []
    if q.mode == "pairwise":
        aspect = f" ({q.axis})" if q.axis else ""
        if q.scale == "strength":
            for n, label in enumerate(q.strength_labels(), 1):
                rows.append((keys(f"key.digit{n}"), label + aspect))
        else:
            rows.append((keys("answer.A"), f"Response A is better{aspect}"))
            rows.append((keys("answer.B"), f"Response B is better{aspect}"))
            if q.scale in ("tie", "fourway"):
                rows.append((keys("answer.tie"), "A tie: both are about as good"))
            if q.scale == "fourway":
                rows.append((keys("answer.both_bad"), "Both are bad"))
    elif q.mode == "ranking":
        best = f"; only the best {q.top_k} are ranked" if q.top_k else ""
        rows.append((keys.range("key.digit", 1, 9), "Rank that response next, best first "
                     f"(1 is Response A, 2 is Response B and so on){best}"))
        if q.allow_ties:
            rows.append((keys("key.equal"), "Tie the next response you rank with the one before"))
        rows.append((keys("key.backspace"), "Take back the last response ranked"))
        rows.append((keys("ranking.unacceptable"), "All responses are unacceptable"))
    elif q.mode == "scoring":
        names = ", ".join(a.name for a in q.axes)
        rows.append((keys("key.up", "key.down"), f"Previous / next axis: {names}"))
        rows.append((keys("key.left", "key.right"), "Previous / next response"))
        scales: dict[tuple[int, ...], list[str]] = {}
        for a in q.axes:
            scales.setdefault(tuple(sorted(p.value for p in a.scale)), []).append(a.name)
        for values, axes in scales.items():
            low, high = values[0], values[-1]
            which = "the focused axis" if len(scales) == 1 else ", ".join(axes)
            rows.append((keys.range("key.digit", max(low, 0), min(high, 9)),
                         f"Score {which}, {low} to {high}; then on to the next axis"))
        rows.append((keys("key.backspace"), "Clear the focused score"))
    elif q.mode == "rubric":
        rows.append((keys("rubric.next", "rubric.previous"), "Next / previous criterion"))
        marks = "met, partly met, not met" if q.allow_partial else "met, not met"
        rows.append((keys("key.space"), f"Toggle the focused criterion: {marks}"))
        rows.append((keys("rubric.met"), "The criterion is met"))
        rows.append((keys("rubric.not_met"), "The criterion is not met"))
        if q.allow_partial:
            rows.append((keys("rubric.partly"), "The criterion is partly met"))
        rows.append((keys("key.backspace"), "Clear the focused criterion's mark"))
    elif q.mode == "categorical":
        rows += _categorical_rows(q, keys)
    elif q.mode == "demonstration":
        what = "Edit the draft response" if q.edit_draft else "Write the response"
        rows.append((keys("item.edit"), f"{what} (the text box takes every key)"))
        rows.append((keys("item.leave_text"), "Leave the text box; the keys work again"))
    if q.confidence != "off":
        top = q.confidence_scale
        rows.append((keys.range("confidence.", 1, top), f"Your confidence, 1 (unsure) to {top} (sure)"))
    return [(k, what) for k, what in rows if k]


def _categorical_rows(q, keys: _Keys) -> list[tuple[str, str]]:
    """A categorical question's keys: each category's own (the digits as the user bound them),
    then the keys that move, toggle and filter."""
    rows: list[tuple[str, str]] = []
    descriptions = {c.name: c.description for c in q.categories}
    how = "Toggle" if q.multiple else "Pick"
    for entry, key in Categorical.keys(q).items():
        bound = keys(f"key.digit{key}") if key.isdigit() else key
        words = Categorical.label(entry).rstrip("…")
        if entry == NONE:
            rows.append((bound, "None of these (clears the others)"))
            continue
        help_text = f": {descriptions[entry]}" if descriptions.get(entry) else ""
        rows.append((bound, f"{how} {words}{help_text}"))
    framed = "toggle" if q.multiple else "pick"
    rows.append((keys("key.up", "key.down"), f"Frame the previous / next category; {keys('key.space')} "
                 f"to {framed} it"))
    if q.target == "response":
        rows.append((keys("key.left", "key.right"), "Previous / next response"))
    if len(q.categories) >= FILTER_FROM:
        rows.append((keys("category.filter"), "Filter the categories: type, Up / Down, Enter picks, "
                     "Esc leaves"))
    rows.append((keys("key.backspace"), "Clear the categories picked"
                 + (" for the framed response" if q.target == "response" else "")))
    return rows


def key_sheet_groups(scope: str, commands=COMMANDS, questions=None, *, modes: set[str] | None = None,
                     reviewing: bool = False) -> list[tuple[str, list[tuple[str, str]]]]:
    """The F1 sheet: (title, [(keys, what they do)]) groups. On the labeling screen with the
    project's questions (a Spec or its list of questions): one group per question in its own
    words, then the keys of every item, then those that work anywhere. Without questions the answer keys of `modes` (or of every
    mode) are listed with their general meaning."""
    keys = _Keys(commands)
    labeling = scope == "labeling"
    spec = questions if hasattr(questions, "questions") else None
    questions = list(spec.questions if spec else questions or [])
    rubric = any(q.mode == "rubric" for q in questions)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    if labeling and questions:
        for n, q in enumerate(questions, 1):
            groups.append((f"{n}. {q.text}", _question_rows(q, keys)))
        if reviewing:
            groups.append(("Reviewing", [
                (keys.range("key.digit", 1, 9), "Adopt that annotator's answer (1 is the first shown)"),
                (keys("item.edit"), "Edit the decision yourself; again: digits adopt answers")]))
    elif labeling:
        answers = [(keys(c.id), c.label) for c in commands if c.scope == "labeling" and c.modes
                   and (modes is None or set(c.modes) & modes)]
        answers.append((keys.range("confidence.", 1, 9), "Confidence, where a question asks for it"))
        groups.append(("Answer keys", answers))

    def shown(c) -> bool:
        if c.modes or c.id.startswith("confidence."):
            return False  # answer keys: in the questions' groups
        if labeling and c.id in _READING:
            return True
        if c.scope != scope:
            return False
        if not (labeling and questions):
            return True
        if c.id == "question.next" or c.id == "question.previous":
            return len(questions) > 1
        if c.id == "item.rationale":
            return any(q.rationale != "off" for q in questions)
        if c.id == "item.skip" and spec is not None:
            return spec.allow_skip
        return c.id not in ("item.edit", "item.leave_text")  # in a demonstration's group

    def row(c) -> tuple[str, str]:
        label = c.label
        if c.id == "key.space" and questions:
            label = "Scroll the responses down" + (" (a rubric question: toggle)" if rubric else "")
        if c.id == "question.next" and questions:
            return keys("question.next", "question.previous"), "Next / previous question"
        return keys(c.id) or f"menu {(c.menu or '').strip('&')}", label

    first = {cid: n for n, cid in enumerate(_FIRST)}
    mine = sorted((c for c in commands if shown(c) and not (questions and c.id == "question.previous")),
                  key=lambda c: first.get(c.id, len(first)))
    if mine:
        groups.append(("Every item" if labeling else "This screen", [row(c) for c in mine]))
    groups.append(("Anywhere", [row(c) for c in commands if c.scope == "global" and not (
        labeling and c.id in _READING)]))
    return [(title, [r for r in rows if r[0]]) for title, rows in groups if rows]


class KeySheet(QDialog):
    """F1: the keys of the open project, grouped by question, in words that fit the width."""

    def __init__(self, scope: str, commands=COMMANDS, questions=None, parent=None, *,
                 reviewing: bool = False):
        super().__init__(parent)
        modes = None
        if commands is None or isinstance(commands, set | frozenset):
            # the former call KeySheet(scope, modes, commands, parent=…)
            modes, commands, questions = commands, (questions or COMMANDS), None
        self.setWindowTitle("Keyboard shortcuts")
        self.groups = key_sheet_groups(scope, commands, questions, modes=modes, reviewing=reviewing)
        table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Keys", "What it does"])
        table.setAccessibleName("Keyboard shortcuts")
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        table.setWordWrap(True)
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        table.setVerticalScrollMode(QTableWidget.ScrollMode.ScrollPerPixel)
        table.verticalHeader().setVisible(False)
        table.setShowGrid(False)
        table.setStyleSheet("QTableWidget::item { padding-top: 2px; padding-bottom: 2px; }")
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        shade = self.palette().color(QPalette.ColorRole.AlternateBase)
        self.titles: list[int] = []  # rows that name a group
        for title, rows in self.groups:
            r = table.rowCount()
            table.insertRow(r)
            heading = QTableWidgetItem(title)
            font = heading.font()
            font.setBold(True)
            heading.setFont(font)
            heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
            heading.setBackground(shade)
            table.setItem(r, 0, heading)
            table.setSpan(r, 0, 1, 2)
            self.titles.append(r)
            for key_text, what in rows:
                r = table.rowCount()
                table.insertRow(r)
                for c, text in enumerate((key_text, what)):
                    cell = QTableWidgetItem(text)
                    cell.setTextAlignment(top_left)
                    table.setItem(r, c, cell)
        header = table.horizontalHeader()
        # the keys column as wide as its longest keys (titles span both columns and do not count)
        metrics = table.fontMetrics()
        widest = max((metrics.horizontalAdvance(k) for _, rows in self.groups for k, _ in rows),
                     default=60)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, min(widest + 32, 260))
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        _with_close(self, table)
        self.table = table
        if parent is not None and parent.window() is not None:
            size = parent.window().size()
            self.resize(max(480, min(820, round(size.width() * 0.6))), max(420, round(size.height() * 0.85)))
        else:
            self.resize(620, 720)

    def rows(self) -> list[tuple[str, str]]:
        """What the table shows, row by row: (keys, text); a group title is ("", title)."""
        out = []
        for r in range(self.table.rowCount()):
            keys, what = self.table.item(r, 0), self.table.item(r, 1)
            out.append(("", keys.text()) if r in self.titles else (keys.text(), what.text()))
        return out


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
