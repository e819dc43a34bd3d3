"""The coordinator workspace: merge result bundles, read agreement, competence and consensus, see charts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressDialog,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from annotary.core.errors import AnnotaryError, Cancelled
from annotary.flows import workspace as wf
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project, project_info
from annotary.ops.quality import Options
from annotary.ui.charts import BAND_COLORS, CELL_INK, BarChart, Chart, HeatmapChart
from annotary.ui.dialogs import CSV_FILTER, FOLDER_FILTER, PNG_FILTER
from annotary.ui.shortcuts import COMMANDS, WORKSPACE_TABS, normalized
from annotary.ui.theme import header_band

PLANS = WORKSPACE_TABS.index("Plans")  # the tab of what each plan would have cost
MERGE_MARKS = {"merged": "✓ merged", "unchanged": "= unchanged", "refused": "✗ refused"}


def one_line(err: Exception | str) -> str:
    return " ".join(str(err).split())


class _Item(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __init__(self, cell: wf.Cell):
        super().__init__(cell.text)
        self.key = cell.sort if cell.sort is not None else cell.text
        self.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
        if cell.band in BAND_COLORS:
            self.setBackground(QColor(BAND_COLORS[cell.band]))
            self.setForeground(QColor(CELL_INK))
        if cell.tip:
            self.setToolTip(cell.tip)
        if cell.number:
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        a, b = self.key, getattr(other, "key", other.text())
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        if isinstance(a, int | float) != isinstance(b, int | float):
            return isinstance(a, int | float)  # numbers before words
        return str(a) < str(b)


class FitTable(QTableWidget):
    """A table as tall as its rows: short tables stay short, long ones scroll."""

    def content_height(self) -> int:
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        columns = sum(self.columnWidth(c) for c in range(self.columnCount()))
        bar = self.horizontalScrollBar().sizeHint().height() if columns > self.viewport().width() else 0
        return rows + self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth() + bar + 1

    def refit(self) -> None:
        self.setMaximumHeight(self.content_height())
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(super().sizeHint().width(), min(self.content_height(), 560))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        three = self.horizontalHeader().sizeHint().height() + 3 * max(self.rowHeight(0), 20) + 2 * self.frameWidth()
        return QSize(super().minimumSizeHint().width(), min(self.content_height(), three))

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.maximumHeight() != self.content_height():  # a scroll bar came or went
            self.refit()


class TableBox(QWidget):
    """A titled table of the workspace, or the sentence saying why it is empty."""

    def __init__(self, name: str, parent=None, grow: bool = False):
        super().__init__(parent)
        if not grow:  # as tall as its rows, the space below is left to the page
            self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.csv = ""
        self.title = QLabel(name)
        self.title.setObjectName("paneHeader")
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.empty.setContentsMargins(0, 6, 0, 6)
        self.table = FitTable()
        self.table.setAccessibleName(name)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table: keyboard users reach the next control
        self.table.verticalHeader().setVisible(False)
        # the labels never take the height a short table leaves: it stays below the table
        for label in (self.title, self.empty):
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addStretch(0)

    def show_table(self, t: wf.Table) -> None:
        self.csv = t.csv
        self.title.setText(t.title)
        self.table.setAccessibleName(t.title)
        tb = self.table
        tb.setSortingEnabled(False)
        tb.clear()
        tb.setColumnCount(len(t.headers))
        tb.setRowCount(len(t.rows))
        tb.setHorizontalHeaderLabels(t.headers)
        for c, tip in enumerate(t.tips):
            if tip:
                tb.horizontalHeaderItem(c).setToolTip(tip)
        for r, row in enumerate(t.rows):
            for c, cell in enumerate(row):
                tb.setItem(r, c, _Item(cell))
        tb.setSortingEnabled(True)
        tb.resizeColumnsToContents()
        for c in range(tb.columnCount()):
            tb.setColumnWidth(c, min(tb.columnWidth(c), 420))
        self.empty.setText(t.empty)
        self.empty.setVisible(not t.rows and bool(t.empty))
        tb.setVisible(bool(t.rows))
        tb.refit()

    def cell_text(self, row: int, column: str) -> str:
        headers = [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]
        return self.table.item(row, headers.index(column)).text()

    def column(self, column: str) -> list[str]:
        return [self.cell_text(r, column) for r in range(self.table.rowCount())]


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


class WorkspaceScreen(QWidget):
    """A thin view over flows.workspace: the figures are computed off the GUI thread, then shown."""

    title_changed = Signal(str)
    message = Signal(str)  # for the status bar

    def __init__(self, store, *, runner, asker, commands=COMMANDS, identity=None, parent=None):
        super().__init__(parent)
        self.store, self.runner, self.ask = store, runner, asker
        self.identity = identity  # signs task and adjudication bundles
        self.commands = commands
        self.snapshot: wf.Snapshot | None = None
        self.plans: wf.Simulation | None = None  # the plans replayed, for the figures of _plans_for
        self._plans_for = -1
        self.options = Options()
        self.last_merge: list = []
        self._generation = 0  # a newer refresh wins over an older one
        self._closed = False  # a job that ends after the workspace closed shows nothing
        self.setAccessibleName("Coordinator workspace")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.heading = QLabel(f"{Path(store.path or '').name} — coordinator workspace")
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.facts = QLabel()
        self.facts.setWordWrap(True)
        self.facts.setAccessibleName("Project facts")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.roster = QLabel()
        self.roster.setWordWrap(True)
        self.roster.setAccessibleName("Roster")
        self.roster.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.busy = QLabel("Computing the figures…")
        self.busy.setObjectName("hint")
        self.busy.hide()
        self.merge_title = QLabel("Last merge")
        self.merge_title.setObjectName("paneHeader")
        self.merges = QListWidget()
        self.merges.setAccessibleName("Merge summary")
        self.merges.setWordWrap(True)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Workspace tabs")
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(lambda *_: self._tab_shown())
        self._build_tabs()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(header_band(self.heading, self.facts))
        body = QVBoxLayout()
        body.setContentsMargins(16, 4, 16, 0)
        layout.addLayout(body, 1)
        layout = body
        layout.addWidget(self.roster)
        layout.addWidget(self.hint)
        layout.addWidget(self.busy)
        layout.addWidget(self.merge_title)
        layout.addWidget(self.merges)
        layout.addWidget(self.tabs, 1)
        self.merge_title.hide()
        self.merges.hide()
        self._show_hint()
        self._show_roster()

    @classmethod
    def open(cls, path: str | Path, **kw) -> WorkspaceScreen:
        """The workspace of a coordinator project file (AnnotaryError if it is not one)."""
        return cls(open_project(path), **kw)

    # -- building ---------------------------------------------------------------------------------
    def _build_tabs(self) -> None:
        agreement = QWidget()
        self.consensus_line = QLabel()
        self.consensus_line.setAccessibleName("Consensus summary")
        rule = QLabel(f"Bands: {wf.BAND_RULE}. The band is written in its cell; colour only repeats it.")
        rule.setObjectName("hint")
        rule.setWordWrap(True)
        self.agreement = TableBox("Agreement per question")
        self.attention = QLabel()
        self.attention.setWordWrap(True)
        self.attention.setAccessibleName("What needs a look")
        lay = QVBoxLayout(agreement)
        lay.addWidget(self.consensus_line)
        lay.addWidget(rule)
        lay.addWidget(self.agreement)
        lay.addWidget(self.attention)
        lay.addStretch(1)

        people = QWidget()
        self.annotators = TableBox("Per annotator")
        self.competence = TableBox("Competence")
        self.raters = TableBox("Non-human raters")
        self.legend = QLabel(wf.LEGEND)
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)
        self.legend.setAccessibleName("What the figures mean")
        lay = QVBoxLayout(people)
        for box in (self.annotators, self.legend, self.competence, self.raters):
            lay.addWidget(box)
        lay.addStretch(1)

        rounds = QWidget()
        self.groups = TableBox("Per round and guidelines version")
        lay = QVBoxLayout(rounds)
        lay.addWidget(self.groups)
        lay.addStretch(1)

        consensus = QWidget()
        self.filter = QComboBox()
        self.filter.addItems(list(wf.CONSENSUS_FILTERS))
        self.filter.setAccessibleName("Show items")
        self.filter.currentIndexChanged.connect(lambda *_: self._show_consensus())
        self.min_share = QDoubleSpinBox()
        self.min_share.setRange(0.5, 1.0)
        self.min_share.setSingleStep(0.05)
        self.min_share.setValue(self.options.min_share)
        self.min_share.setAccessibleName("Majority share a categorical answer needs")
        self.min_share.setToolTip("The share of ratings the top answer needs (a tie never agrees); "
                                  "press F5 to recompute")
        self.weighted = QCheckBox("Weight by competence (Dawid–Skene)")
        self.weighted.setAccessibleName("Weight consensus by competence")
        self.weighted.toggled.connect(lambda *_: self.refresh())
        self.min_share.editingFinished.connect(self._share_changed)
        self.consensus = TableBox("Consensus per item and question", grow=True)
        bar = QHBoxLayout()
        for w in (QLabel("Show:"), self.filter, QLabel("Majority share:"), self.min_share, self.weighted):
            bar.addWidget(w)
        bar.addStretch(1)
        lay = QVBoxLayout(consensus)
        lay.addLayout(bar)
        lay.addWidget(self.consensus, 1)

        heat = QWidget()
        self.variable = QComboBox()
        self.variable.setAccessibleName("Question variable of the heatmap")
        self.variable.currentIndexChanged.connect(lambda *_: self._show_heatmap())
        self.heatmap = HeatmapChart()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Question:"))
        bar.addWidget(self.variable)
        bar.addStretch(1)
        lay = QVBoxLayout(heat)
        lay.addLayout(bar)
        lay.addWidget(self.heatmap, 1)

        self.distribution = BarChart("Label distribution per question")
        self.progress = BarChart("Progress per annotator")
        self.gold = BarChart("Gold accuracy per annotator")
        plans = self._build_plans()
        pages = [agreement, people, rounds, consensus, heat, _scrolled(self.distribution),
                 _scrolled(self.progress), _scrolled(self.gold), plans]
        self.charts: dict[int, Chart] = {4: self.heatmap, 5: self.distribution, 6: self.progress, 7: self.gold}
        self.tables: dict[int, list[TableBox]] = {0: [self.agreement], 1: [self.annotators, self.competence,
                                                                             self.raters],
                                                  2: [self.groups], 3: [self.consensus], PLANS: [self.plans_box]}
        for n, (page, title) in enumerate(zip(pages, WORKSPACE_TABS, strict=True)):
            self.tabs.addTab(page, title)
            self.tabs.setTabToolTip(n, f"{title} ({self.key(f'workspace.tab{n + 1}')})")

    def _build_plans(self) -> QWidget:
        page = QWidget()
        about = QLabel(wf.PLANS_ABOUT)
        about.setObjectName("hint")
        about.setWordWrap(True)
        self.plans_box = TableBox(wf.PLANS_TITLE)
        self.plans_box.table.setWordWrap(True)
        self._show_plans_table(wf.plans_table(None, "Shown when this tab is opened."))
        self.plans_notes = QLabel()
        self.plans_notes.setObjectName("hint")
        self.plans_notes.setWordWrap(True)
        self.plans_notes.setAccessibleName("About the plans replayed")
        lay = QVBoxLayout(page)
        lay.addWidget(about)
        lay.addWidget(self.plans_box)
        lay.addWidget(self.plans_notes)
        lay.addStretch(1)
        return page

    def key(self, command: str) -> str:
        for c in self.commands:
            if c.id == command and c.keys:
                return normalized(c.keys[0])
        return "no key"

    def _show_hint(self) -> None:
        k = self.key
        self.hint.setText(
            f"Drop result bundles (.annotary) on this window to merge them, or press {k('workspace.merge')}; "
            f"dropped identity cards (.json) join the roster. "
            f"{k('workspace.refresh')} recomputes; {k('workspace.tab1')} … {k(f'workspace.tab{len(WORKSPACE_TABS)}')} "
            f"switch tabs ({k(f'workspace.tab{PLANS + 1}')}: what the project would have cost under each plan); "
            f"{k('workspace.export_csv')} exports the focused table as CSV, {k('workspace.export_png')} the "
            f"chart as PNG; {k('help.keys')} lists every key. "
            f"Roster {k('workspace.roster_add')} · assign a round {k('workspace.assign')} · "
            f"conflicts to a reviewer {k('workspace.adjudicate')} · training dataset {k('workspace.export_dataset')}.")

    def _show_roster(self) -> None:
        try:
            line = wf.roster_line(self.store)
        except AnnotaryError as err:
            line = one_line(err)
        if "nobody yet" in line:
            line += f" Press {self.key('workspace.roster_add')} or drop their cards (.json) here."
        self.roster.setText(line)

    # -- commands ---------------------------------------------------------------------------------
    def handle(self, command: str) -> bool:
        """Run a workspace command from the shortcut table; False if it is not one of ours."""
        if command.startswith("workspace.tab") and command[len("workspace.tab"):].isdigit():
            self.show_tab(int(command[len("workspace.tab"):]) - 1)
        elif command == "workspace.next_tab":
            self.show_tab((self.tabs.currentIndex() + 1) % self.tabs.count())
        elif command == "workspace.previous_tab":
            self.show_tab((self.tabs.currentIndex() - 1) % self.tabs.count())
        elif command == "workspace.merge":
            path = self.ask.open_path("Merge a result bundle")
            if path:
                self.merge([path])
        elif command == "workspace.refresh":
            self.refresh()
        elif command == "workspace.export_csv":
            self.export_csv()
        elif command == "workspace.export_all":
            self.export_all()
        elif command == "workspace.export_png":
            self.export_png()
        elif command == "workspace.export_dataset":
            self.export_dataset()
        elif command == "workspace.roster_add":
            self.add_to_roster()
        elif command == "workspace.assign":
            self.assign_round()
        elif command == "workspace.adjudicate":
            self.adjudicate()
        elif command == "help.guidelines":  # the project's own guidelines, not an annotator's
            info = project_info(self.store)
            self.ask.feedback(f"Guidelines v{info.guidelines_version} — {info.name}",
                              info.guidelines or "_This project has no guidelines._")
        else:
            return False
        return True

    def show_tab(self, index: int) -> None:
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)
            self.focus_screen()

    def focus_screen(self) -> None:
        """Keyboard focus on the tab's first table or its chart, so arrows and Tab work at once."""
        i = self.tabs.currentIndex()
        target = self.charts.get(i) or next((t.table for t in self.tables.get(i, []) if t.table.isVisible()),
                                            None)
        if target is None:  # a tab of text and lists: its first control, never the tab bar
            page = self.tabs.currentWidget()
            target = next((w for w in page.findChildren(QWidget)
                           if w.isVisible() and w.isEnabled()
                           and w.focusPolicy() & Qt.FocusPolicy.TabFocus), None)
            if target is None:
                page.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
                target = page
        target.setFocus()

    # -- figures ----------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self.store.path

    def refresh(self) -> None:
        """Recompute every figure off the GUI thread; a newer refresh wins over an older one."""
        self.options = Options(min_share=round(self.min_share.value(), 4), weighted=self.weighted.isChecked())
        self._generation += 1
        generation, options, path = self._generation, self.options, self.path
        self.busy.show()

        def work(progress, cancelled):
            store = open_project(path) if path and not self.runner.synchronous else self.store
            try:
                return wf.compute(store, options)
            finally:
                if store is not self.store:
                    store.close()

        def done(snapshot):
            if generation == self._generation and not self._closed:
                self.show_snapshot(snapshot)

        self.runner.start(work, done, self._failed)

    def _share_changed(self) -> None:
        if abs(self.min_share.value() - self.options.min_share) > 1e-9:
            self.refresh()

    def show_snapshot(self, snapshot: wf.Snapshot) -> None:
        self.snapshot = snapshot
        r, s = snapshot.report, snapshot.status
        self.busy.hide()
        self._show_roster()
        self.heading.setText(f"{s.project_name} — coordinator workspace")
        self.facts.setText(wf.headline(r, s))
        self.title_changed.emit(f"{s.project_name} — workspace — Annotary")
        self.consensus_line.setText(wf.consensus_line(r))
        words = snapshot.questions
        self.agreement.show_table(wf.agreement_table(r, words))
        look = wf.attention(r, words)
        if look and "good band." not in look:
            look += (f" The Heatmap ({self.key('workspace.tab5')}) shows which pairs disagree; Consensus "
                     f"({self.key('workspace.tab4')}) lists the items in conflict.")
        self.attention.setText(look)
        self.annotators.show_table(wf.annotators_table(r))
        self.competence.show_table(wf.competence_table(r, words))
        self.raters.show_table(wf.raters_table(r))
        self.groups.show_table(wf.groups_table(r))
        self._show_consensus()
        if self.tabs.currentIndex() == PLANS:
            self.replay_plans()
        chosen = self.variable.currentData()
        names = wf.heatmap_variables(r)
        self.variable.blockSignals(True)
        self.variable.clear()
        for key in names:  # the question's words shown, its variable key kept
            self.variable.addItem(wf.variable_words(key, words), key)
        if chosen in names:
            self.variable.setCurrentIndex(names.index(chosen))
        self.variable.blockSignals(False)
        self.variable.setEnabled(bool(names))
        self._show_heatmap()
        self.distribution.set_groups(wf.distribution_groups(r, words), "No labels merged yet.")
        self.progress.set_groups(wf.progress_groups(s), "No annotator has items assigned yet.")
        self.gold.set_groups(wf.gold_groups(r) if r.items["gold"] or r.items["calibration"] else [],
                             "This project has no gold or calibration items "
                             "(annotary project assign --gold FILE or --gold-fraction).")

    def _show_consensus(self) -> None:
        if self.snapshot:
            status = wf.CONSENSUS_FILTERS[self.filter.currentText()]
            self.consensus.show_table(wf.consensus_table(self.snapshot.report, status, self.snapshot.questions))

    def _show_heatmap(self) -> None:
        if not self.snapshot:
            return
        var = self.variable.currentData()
        self.heatmap.set_data(wf.heatmap_data(self.snapshot.report, var) if var else None,
                              "No pair of annotators has rated the same items yet." if self.snapshot.report.humans
                              else "No labels merged yet.")

    def _tab_shown(self) -> None:
        chart = self.charts.get(self.tabs.currentIndex())
        if chart:
            chart.refit()
        if self.tabs.currentIndex() == PLANS:
            self.replay_plans()

    def _show_plans_table(self, t: wf.Table) -> None:
        """The plans, their words last taking the width left (wrapped): the figures stay in view."""
        box = self.plans_box
        box.show_table(t)
        if t.headers:
            box.table.horizontalHeader().setSectionResizeMode(len(t.headers) - 1, QHeaderView.ResizeMode.Stretch)
            box.table.resizeRowsToContents()
            box.table.refit()

    def replay_plans(self) -> None:
        """The project's labels replayed under each plan (`annotary simulate`), off the GUI thread,
        once per computation of the figures."""
        if self._plans_for == self._generation or self._closed:
            return
        generation = self._plans_for = self._generation
        self.plans_notes.clear()
        self._show_plans_table(wf.plans_table(None, "Replaying the labels under each plan…"))

        def done(sim):
            if generation == self._generation:
                self.plans = sim
                self._show_plans_table(wf.plans_table(sim))
                self.plans_notes.setText(wf.plans_line(sim))

        def failed(err):
            self._plans_for = -1  # shown again, tried again
            if isinstance(err, AnnotaryError | Cancelled):
                self._show_plans_table(wf.plans_table(None, "No plans to compare: " + one_line(err) + "."
                                                         if isinstance(err, AnnotaryError) else one_line(err)))
            else:
                self._failed(err)

        self._run("Replaying the labels under each plan…", "Plans progress",
                  lambda store, progress, cancelled: wf.compute_plans(store, cancelled), done, failed)

    # -- long jobs: merge, export ----------------------------------------------------------------
    def _run(self, label: str, name: str, fn, done, failed, steps: int = 0) -> None:
        """fn(store, progress, cancelled) off the GUI thread on a connection of its own, with a
        progress dialog (busy until the first step) and Cancel; done(result) or failed(err) after,
        back on the GUI thread with the keyboard returned to the window."""
        path = self.path
        dialog = QProgressDialog(label, "Cancel", 0, steps, self.window())
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        dialog.setAccessibleName(name)

        def work(progress, cancelled):
            store = open_project(path) if path and not self.runner.synchronous else self.store
            try:
                return fn(store, progress, cancelled)
            finally:
                if store is not self.store:
                    store.close()

        def after(callback):
            def run(value):
                dialog.reset()
                if not self._closed:
                    self.window().activateWindow()  # the hidden progress dialog must not keep the keyboard
                    callback(value)
            return run

        def progressed(done_, total):
            dialog.setMaximum(total)
            dialog.setValue(done_)

        job = self.runner.start(work, after(done), after(failed), on_progress=progressed)
        dialog.canceled.connect(job.cancel)

    def merge(self, paths: list[str | Path]) -> None:
        """Merge result bundles off the GUI thread (one transaction, a savepoint per bundle), then recompute.
        Identity cards (.json) among them go to the roster instead."""
        paths = [str(p) for p in paths]
        cards = [p for p in paths if p.lower().endswith(".json")]
        if cards:  # first, so results signed by the people on them are accepted
            rest = [p for p in paths if p not in cards]
            self.add_cards(cards, then=(lambda: self.merge(rest)) if rest else None)
            return
        if not paths:
            return

        def failed(err):
            self._failed(err)
            self.refresh()  # a cancelled merge keeps the bundles merged before it

        self._run(f"Merging {len(paths)} result bundle{'s' if len(paths) > 1 else ''}…", "Merge progress",
                  lambda store, progress, cancelled: wf.merge_bundles(store, paths, progress=progress,
                                                                      cancelled=cancelled),
                  self.show_merge, failed, steps=len(paths))

    def export_dataset(self) -> None:
        """A training dataset from the final answers: format, question and filters, into a new folder
        under exports/ beside the project; written off the GUI thread with a progress bar and Cancel
        (a cancelled export leaves nothing)."""
        formats = wf.export_formats(self.store)
        if not formats:
            raise AnnotaryError("this project has no question a dataset format can export")
        words = [w for _, w in formats]
        chosen = self.ask.choose("Export a training dataset", "Format:", words)
        if not chosen:
            return
        fmt = next((f for f, w in formats if chosen in (f, w)), chosen)
        values = self.ask.form("Export a training dataset", wf.export_fields(self.store, fmt),
                               intro=f"{fmt}: {wf.FORMAT_WORDS.get(fmt, '')}. Only final answers are written "
                                     "(gold, adjudicated, unanimous, majority, single); conflicts nobody "
                                     "decided are left out.", ok="Export")
        if not values:
            return
        kw = wf.export_options(fmt, values)
        out = Path(kw.pop("out"))

        def work(store, progress, cancelled):
            out.parent.mkdir(parents=True, exist_ok=True)
            return export_dataset(store, out=out, progress=progress, cancelled=cancelled, **kw)

        def failed(err):
            if isinstance(err, Cancelled):
                self.message.emit("Export cancelled; nothing was written")
            else:
                self._failed(err)

        self._run(f"Exporting {out.name}…", "Export progress", work,
                  lambda report: self.ask.info("Dataset exported", report.message), failed)

    # -- roster, rounds, adjudication ---------------------------------------------------------------
    def _signer(self):
        if self.identity is None:
            raise AnnotaryError("no identity to sign with: restart Annotary and make one")
        return self.identity

    def add_cards(self, cards: list[str], rate: str = "", then=None) -> None:
        """People from their signed cards (every card checked before any is added), off the GUI
        thread; then() after, if they were added."""
        def done(change):
            self._show_roster()
            self.message.emit(change.message)
            if then is not None:
                then()
            else:
                self.ask.info("Roster", change.message)
                self.refresh()

        values = {"cards": cards, "rate": rate}
        self._run("Adding to the roster…", "Roster progress",
                  lambda store, progress, cancelled: wf.add_to_roster(store, values), done, self._failed)

    def add_to_roster(self) -> None:
        """People from their signed cards, chosen in a form with a cost per hour."""
        values = self.ask.form("Add people to the roster", wf.roster_fields(),
                               intro="Annotators and reviewers send you their identity card (Annotary writes "
                                     "it with `annotary identity export`). Their role is on the card.",
                               ok="Add")
        if values:
            self.add_cards(values["cards"], values.get("rate") or "")

    def assign_round(self) -> None:
        """Assign the next round and write one signed task bundle per annotator, off the GUI thread."""
        identity = self._signer()
        values = self.ask.form(f"Assign round {wf.next_round(self.store)}", wf.assign_fields(self.store),
                               intro="Each annotator gets a signed task bundle to open in Annotary. Items keep "
                                     "their annotators of earlier rounds; gold items look like any other.",
                               ok="Assign and write the bundles")
        if not values:
            return

        def done(report):
            self.ask.info(f"Round {report.round} assigned", wf.assign_message(report))
            self.refresh()

        def failed(err):
            if isinstance(err, Cancelled):
                self.message.emit(f"Assignment cancelled: {one_line(err)}")
            else:
                self._failed(err)

        self._run("Assigning the round and signing the bundles…", "Assign progress",
                  lambda store, progress, cancelled: wf.assign(store, identity, values, progress, cancelled),
                  done, failed)

    def adjudicate(self) -> None:
        """A signed bundle of the conflicts (and an audit sample) for one reviewer of the roster."""
        identity = self._signer()
        values = self.ask.form("Send the conflicts to a reviewer", wf.adjudication_fields(self.store),
                               intro="The reviewer sees every annotator's answer, rationale and confidence, and "
                                     "decides; drop their decisions bundle here to merge it.",
                               ok="Write the bundle")
        if not values:
            return

        def done(change):
            self.ask.info("Adjudication bundle written",
                          f"{change.message}\nSend it to the reviewer; their decisions come back as a bundle "
                          "to drop here.")

        self._run("Writing the adjudication bundle…", "Adjudication progress",
                  lambda store, progress, cancelled: wf.adjudicate(store, identity, values), done, self._failed)

    def show_merge(self, reports) -> None:
        self.last_merge = reports
        lines = wf.merge_lines(reports)
        self.merges.clear()
        for kind, text in lines:
            item = QListWidgetItem(f"{MERGE_MARKS[kind]}  {text}")
            if kind == "refused":
                item.setBackground(QColor(BAND_COLORS["flagged"]))
                item.setForeground(QColor(CELL_INK))
            self.merges.addItem(item)
        self.merge_title.setText(f"Last merge: {len(reports)} bundle{'s' if len(reports) != 1 else ''}")
        shown = min(self.merges.count(), 5)  # more scroll
        self.merges.setFixedHeight(shown * max(self.merges.sizeHintForRow(0), 1) + 2 * self.merges.frameWidth() + 4)
        self.merge_title.show()
        self.merges.show()
        counts = {k: sum(1 for x, _ in lines if x == k) for k in MERGE_MARKS}
        self.message.emit(f"Merged {counts['merged']}, unchanged {counts['unchanged']}, "
                          f"refused {counts['refused']} result bundle(s)")
        refused = [text for kind, text in lines if kind == "refused"]
        if refused:
            self.ask.error("Result bundle refused" if len(refused) == 1 else f"{len(refused)} result bundles refused",
                           "\n".join(one_line(t) for t in refused))
        if counts["merged"] or self.snapshot is None:
            self.refresh()

    # -- export -----------------------------------------------------------------------------------
    def _need_snapshot(self) -> wf.Snapshot:
        if self.snapshot is None:
            raise AnnotaryError("the figures are still being computed; try again in a moment")
        return self.snapshot

    def current_csv(self) -> tuple[str, str]:
        """(file name, text) of what the current tab shows: the focused table, or the chart's data."""
        snap = self._need_snapshot()
        i = self.tabs.currentIndex()
        tables = snap.tables() | self._plans_csv()
        if i == PLANS and not self.plans:
            raise AnnotaryError("no plans to export as CSV: " + one_line(self.plans_box.empty.text()).rstrip("."))
        if i in self.tables:
            boxes = [b for b in self.tables[i] if b.csv]
            focused = [b for b in boxes if b.table.hasFocus()]
            name = (focused or boxes)[0].csv
        elif self.charts.get(i) is self.heatmap:
            if not self.variable.currentData():
                raise AnnotaryError("no heatmap yet: no pair of annotators has rated the same items")
            name = f"heatmap-{self.variable.currentData()}.csv"
        else:
            name = {5: "distribution.csv", 6: "progress.csv", 7: "gold.csv"}[i]
        return name, tables[name]

    def export_csv(self) -> Path | None:
        name, text = self.current_csv()
        pid = self.snapshot.report.project_id
        path = self.ask.save_path("Export as CSV", f"{pid}-{name}", CSV_FILTER)
        if not path:
            return None
        return self._write(Path(path), text)

    def export_all(self) -> Path | None:
        snap = self._need_snapshot()
        path = self.ask.save_path("Export every table as CSV into a new folder",
                                  f"{snap.report.project_id}-tables", FOLDER_FILTER)
        if not path:
            return None
        folder = Path(path)
        if folder.suffix.lower() == ".csv":
            folder = folder.with_suffix("")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise AnnotaryError(f"{folder}: cannot make the folder ({err.strerror or err})") from None
        tables = snap.tables() | self._plans_csv()
        for name, text in tables.items():
            self._write(folder / name, text, quiet=True)
        self.message.emit(f"Wrote {len(tables)} CSV files to {folder}")
        return folder

    def _plans_csv(self) -> dict[str, str]:
        return {"plans.csv": wf.plans_csv(self.plans)} if self.plans else {}

    def export_png(self) -> Path | None:
        snap = self._need_snapshot()
        chart = self.charts.get(self.tabs.currentIndex())
        if chart is None:
            raise AnnotaryError(f"this tab has no chart: the charts are {', '.join(WORKSPACE_TABS[4:8])} "
                                f"({self.key('workspace.tab5')} … {self.key('workspace.tab8')})")
        slug = {4: f"heatmap-{self.variable.currentData()}", 5: "labels", 6: "progress", 7: "gold"}[
            self.tabs.currentIndex()]
        path = self.ask.save_path("Export the chart as PNG", f"{snap.report.project_id}-{slug}.png",
                                  PNG_FILTER)
        if not path:
            return None
        out = chart.save_png(path)
        self.message.emit(f"Saved the chart to {out}")
        return out

    def _write(self, path: Path, text: str, quiet: bool = False) -> Path:
        try:
            path.write_text(text, encoding="utf-8", newline="")
        except OSError as err:
            raise AnnotaryError(f"{path}: cannot write ({err.strerror or err})") from None
        if not quiet:
            self.message.emit(f"Saved {path}")
        return path

    # -- errors and closing -----------------------------------------------------------------------
    def _failed(self, err) -> None:
        if self._closed:
            return
        self.busy.hide()
        if isinstance(err, Cancelled):
            self.message.emit(f"{err}; the bundles merged before the cancel are kept")
        elif isinstance(err, AnnotaryError):
            self.ask.error("Annotary", one_line(err))
        else:
            self.ask.error("Workspace", f"{type(err).__name__}: {one_line(err)}")

    def closing(self) -> None:
        self._closed = True
        self.store.close()

