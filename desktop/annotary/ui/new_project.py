"""The new-project dialog: a spec (a file or a mode's template), a data file, a preview, then the create."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from annotary.core.errors import AnnotaryError
from annotary.flows import new_project as nf
from annotary.ui.dialogs import PathEdit

SPEC_FILE = "A spec file (spec.toml or .json)"


def one_line(err: Exception | str) -> str:
    return " ".join(str(err).split())


def _card(title: str) -> tuple[QFrame, QFormLayout]:
    frame = QFrame()
    frame.setObjectName("card")
    lay = QVBoxLayout(frame)
    head = QLabel(title)
    head.setObjectName("paneHeader")
    lay.addWidget(head)
    form = QFormLayout()
    lay.addLayout(form)
    return frame, form


class NewProjectDialog(QDialog):
    """Reads and checks the items as `annotary project create` does; writes the project only when
    everything passes (off the GUI thread); `created` is then the new project file."""

    def __init__(self, identity, runner, asker=None, parent=None):
        super().__init__(parent)
        self.identity, self.runner = identity, runner
        self.created: Path | None = None
        self.templates = nf.templates()
        self._generation = 0
        self._out_chosen = False  # once the user types a path, it is not replaced
        self._creating = False
        self._cancelled = False  # Cancel while creating: the new file is removed when the job ends
        self._closed = False  # a job that ends after the dialog closed touches nothing
        self.setWindowTitle("Create a project from a data file")
        self.setAccessibleName("Create a project")

        heading = QLabel("Create a project from a data file")
        heading.setObjectName("heading")
        intro = QLabel("You become the project's coordinator: your key signs its task bundles. Every item is "
                       "checked against the questions, as `annotary project create` does; nothing is written "
                       "until every item passes.")
        intro.setObjectName("hint")
        intro.setWordWrap(True)

        what, form1 = _card("1. What to ask")
        self.source = QComboBox()
        self.source.addItem(SPEC_FILE, None)
        for t in self.templates:
            self.source.addItem(f"Template · {t.label}", str(t.path))
        self.source.setAccessibleName("Questions from")
        self.spec_path = PathEdit("file", "", "Spec file", nf.SPEC_FILES)
        self.name = QLineEdit()
        self.name.setAccessibleName("Project name")
        self.name.setPlaceholderText("The name annotators see")
        self.questions = QLabel()
        self.questions.setObjectName("hint")
        self.questions.setWordWrap(True)
        for label, w in (("&Questions from:", self.source), ("&Spec file:", self.spec_path),
                         ("Project &name:", self.name)):
            lab = QLabel(label)
            lab.setBuddy(w)
            form1.addRow(lab, w)
        form1.addRow(self.questions)

        items, form2 = _card("2. The items")
        self.items_path = PathEdit("file", "", "Data file", nf.ITEM_FILES)
        lab = QLabel("&Data file:")
        lab.setBuddy(self.items_path)
        form2.addRow(lab, self.items_path)
        self.summary = QLabel("JSON Lines, JSON or CSV (optionally .gz), or Parquet; the record shape is "
                              "detected (Annotary items, TRL preference, HH-RLHF, Alpaca, UltraFeedback …).")
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        form2.addRow(self.summary)
        self.preview = QTableWidget(0, 3)
        self.preview.setHorizontalHeaderLabels(["Item", "Prompt", "Responses"])
        self.preview.horizontalHeaderItem(2).setToolTip("How many responses the item has to judge")
        self.preview.setAccessibleName("The first items")
        self.preview.verticalHeader().setVisible(False)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview.setTabKeyNavigation(False)
        self.preview.horizontalHeader().setStretchLastSection(False)
        self.preview.setWordWrap(False)
        form2.addRow(self.preview)

        where, form3 = _card("3. Where to write the project")
        self.out = PathEdit("save", "", "Project file", "Coordinator projects (*.db);;All files (*)")
        lab = QLabel("&Project file:")
        lab.setBuddy(self.out)
        form3.addRow(lab, self.out)

        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("What is wrong")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.busy = QLabel("Reading and checking every item, then writing the project…")
        self.busy.setObjectName("hint")
        self.busy.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("&Create and open")
        self.create_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.create)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        for w in (heading, intro, what, items, where, self.error, self.busy, self.buttons):
            layout.addWidget(w)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.check)
        self.source.currentIndexChanged.connect(lambda *_: self._source_changed())
        for edit in (self.spec_path.edit, self.items_path.edit, self.name):
            edit.textChanged.connect(lambda *_: self._timer.start())
        self.out.edit.textEdited.connect(lambda *_: setattr(self, "_out_chosen", True))
        self._source_changed()
        self.resize(820, 720)

    # -- state ----------------------------------------------------------------------------------
    def template(self) -> str | None:
        return self.source.currentData()

    def use_template(self, index: int) -> None:
        """Choose the n-th template (0 = the pairwise one)."""
        self.source.setCurrentIndex(index + 1)

    def _source_changed(self) -> None:
        template = self.template()
        self.spec_path.setEnabled(template is None)
        self.name.setReadOnly(template is None)
        if template is not None:
            self.name.setText("")
            self.name.setPlaceholderText("The name annotators see, e.g. Contract clauses — which answer is better?")
        self._timer.start()

    def spec(self):
        template = self.template()
        if template is not None:
            return nf.load_spec(template, self.name.text() or "New project")
        path = self.spec_path.value()
        if not path:
            raise AnnotaryError("choose a spec file, or a template")
        return nf.load_spec(path)

    def show_error(self, text: str) -> None:
        self.error.setText(one_line(text))
        self.error.setVisible(bool(text))

    def check(self) -> None:
        """Show the spec's questions and preview the items (read and checked off the GUI thread)."""
        self._timer.stop()
        self.show_error("")
        try:
            spec = self.spec()
        except AnnotaryError as err:
            self.questions.setText("")
            self.show_error(str(err))
            return
        if self.template() is None:
            self.name.setText(spec.name)
        self.questions.setText("Asks: " + " · ".join(
            f"{' '.join(q.text.split())} ({q.mode})" for q in spec.questions))
        items = self.items_path.value()
        if not items:
            return
        if not self._out_chosen:
            self.out.edit.setText(str(nf.suggested_out(spec, items)))
        self._generation += 1
        generation = self._generation

        def done(preview: nf.Preview) -> None:
            if generation == self._generation and not self._closed:
                self.show_preview(preview)

        def failed(err) -> None:
            if generation == self._generation and not self._closed:
                self.preview.setRowCount(0)
                self.summary.setText("")
                self.show_error(str(err) if isinstance(err, AnnotaryError) else f"{type(err).__name__}: {err}")

        self.runner.start(lambda progress, cancelled: nf.preview(spec, items), done, failed)

    def show_preview(self, preview: nf.Preview) -> None:
        self.summary.setText(f"{preview.line}. The first {len(preview.rows)}:")
        self.preview.setRowCount(len(preview.rows))
        for r, (iid, prompt, responses) in enumerate(preview.rows):
            cells = (QTableWidgetItem(iid), QTableWidgetItem(prompt), QTableWidgetItem(str(responses)))
            cells[1].setToolTip(prompt)
            cells[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for c, cell in enumerate(cells):
                self.preview.setItem(r, c, cell)
        self.preview.resizeColumnsToContents()
        self.preview.setColumnWidth(1, min(self.preview.columnWidth(1), 520))
        self.preview.setColumnWidth(0, min(self.preview.columnWidth(0), 200))

    # -- create ---------------------------------------------------------------------------------
    def create(self) -> None:
        self.show_error("")
        template = self.template()
        spec_path = template or self.spec_path.value()
        if not spec_path:
            self.show_error("choose a spec file, or a template")
            return
        name = (self.name.text() or "").strip() if template else None
        if template and not name:
            self.show_error("give the project a name")
            self.name.setFocus()
            return
        items, out = self.items_path.value(), self.out.value()
        self.create_button.setEnabled(False)
        self.busy.setText("Reading and checking every item, then writing the project… (Esc cancels)")
        self.busy.show()
        self._creating, self._cancelled = True, False

        def work(progress, cancelled):
            change = nf.create(spec_path=spec_path, items_path=items, out=out, identity=self.identity, name=name)
            return change, out if str(out).lower().endswith(".db") else f"{out}.db"

        def done(result) -> None:
            self._creating = False
            change, path = result
            if self._cancelled:  # written whole by then: removed whole
                nf.remove_project(path)
                super(NewProjectDialog, self).reject()
                return
            self.busy.hide()
            self.create_button.setEnabled(True)
            self.message = change.message
            self.created = Path(path)
            self.accept()

        def failed(err) -> None:
            self._creating = False
            if self._cancelled:
                super(NewProjectDialog, self).reject()
                return
            self.busy.hide()
            self.create_button.setEnabled(True)
            self.show_error(str(err) if isinstance(err, AnnotaryError) else f"{type(err).__name__}: {err}")

        self.runner.start(work, done, failed)

    def reject(self) -> None:
        """Cancel (Esc): while the project is being written, wait for it and remove it."""
        if self._creating:
            self._cancelled = True
            self.busy.setText("Cancelling: the project file is removed as soon as it is written…")
            self.buttons.setEnabled(False)
            return
        super().reject()

    def done(self, result: int) -> None:  # Qt override: accept and reject end here
        self._closed = True
        super().done(result)
