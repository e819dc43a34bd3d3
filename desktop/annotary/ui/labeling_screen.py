"""The labeling screen: prompt, responses side by side (stacked when narrow), questions, progress."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from annotary.core.errors import AnnotaryError
from annotary.core.spec import PairwiseQuestion
from annotary.flows.labeling import LabelingFlow
from annotary.ui.widgets import PairwisePanel, ResponsePane, SafeBrowser, prompt_markdown

NARROW = 900  # below this width the responses stack


class LabelingScreen(QWidget):
    """A thin view over LabelingFlow: commands go to the flow, the flow's events redraw."""

    title_changed = Signal(str)

    def __init__(self, flow: LabelingFlow, asker, parent=None):
        super().__init__(parent)
        self.flow = flow
        self.ask = asker
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Labeling screen")

        self.header = QLabel()
        self.header.setObjectName("itemHeader")
        self.prompt = SafeBrowser("Prompt")
        self.prompt.setMinimumHeight(60)
        self.panes = [ResponsePane("A"), ResponsePane("B")]
        self.responses = QSplitter(Qt.Orientation.Horizontal)
        for p in self.panes:
            self.responses.addWidget(p)

        self.panels: list[PairwisePanel] = []
        qbox = QWidget()
        qlayout = QVBoxLayout(qbox)
        qlayout.setContentsMargins(0, 0, 0, 0)
        for n, q in enumerate(flow.spec.questions, 1):
            if not isinstance(q, PairwiseQuestion):
                raise AnnotaryError(f"question {q.id!r}: the {q.mode} screen is not available yet")
            panel = PairwisePanel(n, q)
            panel.chosen.connect(self._clicked)
            panel.confidence_chosen.connect(lambda qid, n: self._act(flow.set_confidence, n, qid))
            panel.rationale_edited.connect(self._typed)
            self.panels.append(panel)
            qlayout.addWidget(panel)
        # the questions keep their natural height (scrolling only when there are many)
        self.questions = QScrollArea()
        self.questions.setWidget(qbox)
        self.questions.setWidgetResizable(True)
        self.questions.setFrameShape(QScrollArea.Shape.NoFrame)
        self.questions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.prompt)
        split.addWidget(self.responses)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)

        self.status = QLabel()
        self.status.setObjectName("statusLine")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Item status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.pace = QLabel()
        foot = QHBoxLayout()
        foot.addWidget(self.progress, 2)
        foot.addWidget(self.pace, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)
        layout.addWidget(self.questions)
        layout.addWidget(self.status)
        layout.addLayout(foot)

        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(800)
        self._draft_timer.timeout.connect(flow.flush_draft)
        self._last_message = ""
        flow.listeners.append(self._on_flow)
        if flow.current is None:
            flow.start()
        else:
            self.redraw_item()

    # -- flow events --------------------------------------------------------------------------
    def _on_flow(self, what: str) -> None:
        if what == "item":
            self._last_message = ""
            self.redraw_item()
        else:
            self.redraw_state()

    def redraw_item(self) -> None:
        state = self.flow.current
        if state is None:
            self.header.setText("This project has no items.")
            return
        self.prompt.show_markdown(prompt_markdown(state.item))
        self.redraw_state()
        for pane in self.panes:
            pane.browser.verticalScrollBar().setValue(0)
        # in a conversation the turn being answered is the last one
        bar = self.prompt.verticalScrollBar()
        bar.setValue(bar.maximum() if len(state.item.turns) > 1 else 0)

    def redraw_state(self) -> None:
        flow, state = self.flow, self.flow.current
        if state is None:
            return
        picks = [p for p in state.pending.values() if p.key in ("A", "B")]
        for i, pane in enumerate(self.panes):
            letter = "AB"[i]
            rid = state.shown_order[i]
            chosen = bool(picks) and all(p.key == letter for p in picks)
            pane.show_text(state.item.response(rid).text, chosen)
        for i, panel in enumerate(self.panels):
            panel.show_state(state.pending[panel.q.id], focused=(i == flow.focus))
        rev = ""
        if state.revision:
            rev = f" · submitted (revision {state.revision})" + (" · changed, not saved" if state.modified else "")
        elif state.modified:
            rev = " · draft"
        filt = "" if flow.filter == "all" else f" · showing {flow.filter} only"
        self.header.setText(
            f"<b>Item {state.position + 1} of {len(flow.ids)}</b> · {state.item.id}{rev}{filt}")
        bits = []
        if state.flags:
            bits.append("Flagged: " + ", ".join(sorted(state.flags)))
        if state.skip_reason:
            bits.append(f"Skipped: {state.skip_reason}")
        missing = flow.missing()
        if missing and state.modified:
            bits.append("To submit: " + "; ".join(missing))
        if self._last_message:
            bits.append(self._last_message)
        self.status.setText(" · ".join(bits))
        prog = flow.progress()
        self.progress.setMaximum(max(prog.total, 1))
        self.progress.setValue(prog.done)
        self.progress.setFormat(f"{prog.done} / {prog.total} done")
        pace = f"{prog.per_hour:.0f} items/h" if prog.per_hour else "pace: after a few items"
        if prog.seconds_left is not None:
            mins = prog.seconds_left / 60
            pace += f" · about {mins / 60:.1f} h left" if mins >= 90 else f" · about {mins:.0f} min left"
        self.pace.setText(pace)
        self.title_changed.emit(flow.title())

    def say(self, text: str) -> None:
        self._last_message = text
        self.redraw_state()

    # -- input --------------------------------------------------------------------------------
    def _act(self, fn, *args) -> None:
        try:
            fn(*args)
        except AnnotaryError as err:
            self.say(str(err))

    def _clicked(self, question_id: str, value) -> None:
        self.flow.focus = [q.id for q in self.flow.spec.questions].index(question_id)
        if isinstance(value, int):
            self._act(self.flow.choose_point, value)
        else:
            self._act(self.flow.choose, value)

    def _typed(self, question_id: str, text: str) -> None:
        self.flow.set_rationale(text, question_id)
        self._draft_timer.start()
        missing = self.flow.missing()
        if not missing and self._last_message.startswith("Cannot submit"):
            self._last_message = ""
        self.redraw_state()

    def focus_screen(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def handle(self, command: str) -> bool:
        """Run a labeling command from the shortcut table; False if it is not one of ours."""
        flow = self.flow
        if command == "item.submit":
            self._draft_timer.stop()
            outcome = flow.submit()
            if outcome.ok:
                self.say(outcome.message)
                self.focus_screen()
            else:
                self.say("Cannot submit — " + "; ".join(outcome.missing))
        elif command == "item.next":
            if not flow.next():
                self.say("This is the last item" + ("" if flow.filter == "all" else " in this view"))
        elif command == "item.previous":
            if not flow.previous():
                self.say("This is the first item" + ("" if flow.filter == "all" else " in this view"))
        elif command == "item.jump":
            text = self.ask.text("Jump to item", f"Item number (1–{len(flow.ids)}) or id:")
            if text:
                self._act(flow.jump, text)
        elif command == "item.flag":
            flag = self.ask.choose("Flag item", "Toggle a flag:", flow.spec.flags)
            if flag:
                self._act(flow.toggle_flag, flag)
        elif command == "item.skip":
            if flow.current and flow.current.skip_reason:
                self._act(flow.set_skip, None)
                self.say("Skip withdrawn")
            else:
                reason = self.ask.choose("Skip item", "Why skip this item?", flow.spec.skip_reasons,
                                         editable=True)
                if reason:
                    self._act(flow.set_skip, reason)
                    self.say("Skip reason set — Ctrl+Enter to submit the skip")
        elif command == "item.rationale":
            # the focused question's box; if it has none, the first box still wanting text
            with_box = [i for i, p in enumerate(self.panels) if p.rationale is not None]
            if not with_box:
                self.say("No question of this project takes a rationale")
                return True
            if flow.focus not in with_box:
                empty = [i for i in with_box
                         if not flow.current.pending[self.panels[i].q.id].rationale.strip()]
                flow.focus = (empty or with_box)[0]
                self.redraw_state()
            self.panels[flow.focus].rationale.setFocus(Qt.FocusReason.ShortcutFocusReason)
        elif command == "item.leave_text":
            flow.flush_draft()
            self.focus_screen()
        elif command in ("question.next", "question.previous"):
            flow.focus_next(1 if command == "question.next" else -1)
            self.focus_screen()
        elif command.startswith("answer.point"):
            self._act(flow.choose_point, int(command.removeprefix("answer.point")))
        elif command.startswith("answer."):
            self._act(flow.choose, command.removeprefix("answer."))
        elif command.startswith("confidence."):
            self._act(flow.set_confidence, int(command.removeprefix("confidence.")))
        elif command in ("edit.undo", "edit.redo"):
            msg = flow.undo() if command == "edit.undo" else flow.redo()
            self.say(msg or f"Nothing to {command.removeprefix('edit.')}")
        elif command.startswith("filter."):
            flow.set_filter(command.removeprefix("filter."))
            visible = flow.visible_positions()
            if flow.filter != "all" and visible and flow.current and flow.current.position not in visible:
                flow.go_to(visible[0])
            n = len(visible)
            self.say(f"Showing {flow.filter} items ({n})")
        else:
            return False
        return True

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        content = self.questions.widget().sizeHint().height() + 4
        self.questions.setFixedHeight(min(content, max(120, self.height() * 2 // 5)))
        narrow = self.width() < NARROW
        self.responses.setOrientation(Qt.Orientation.Vertical if narrow else Qt.Orientation.Horizontal)
        super().resizeEvent(event)

    def closing(self) -> None:
        self._draft_timer.stop()
        self.flow.flush_draft()
        if self._on_flow in self.flow.listeners:
            self.flow.listeners.remove(self._on_flow)
