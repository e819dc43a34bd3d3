"""The labeling screen: prompt, responses (side by side, grid or stacked), questions, progress."""

from __future__ import annotations

import html

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
from annotary.flows.labeling import LabelingFlow
from annotary.flows.modes import MODES, describe
from annotary.ui.panels import PANELS, DemonstrationPanel, QuestionPanel
from annotary.ui.widgets import ResponsesView, SafeBrowser, prompt_markdown

NARROW = 900  # below this width the responses stack

# keys whose meaning depends on the focused question's mode
MOVES = {"key.up": (-1, 0), "key.down": (1, 0), "key.left": (0, -1), "key.right": (0, 1),
         "rubric.next": (1, 0), "rubric.previous": (-1, 0)}
MARKS = {"rubric.met": "met", "rubric.not_met": "not_met", "rubric.partly": "partly"}


class LabelingScreen(QWidget):
    """A thin view over LabelingFlow: commands go to the flow, the flow's events redraw."""

    title_changed = Signal(str)
    feedback = Signal(str)  # calibration feedback after a submit (Markdown)

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
        self.responses = ResponsesView()

        self.panels: list[QuestionPanel] = []
        qbox = QWidget()
        qlayout = QVBoxLayout(qbox)
        qlayout.setContentsMargins(0, 0, 0, 0)
        for n, q in enumerate(flow.spec.questions, 1):
            panel = PANELS[q.mode](n, q)
            panel.action.connect(self._clicked)
            panel.rationale_edited.connect(self._typed_rationale)
            if isinstance(panel, DemonstrationPanel):
                panel.text_edited.connect(self._typed_text)
            if flow.review and panel.rationale is not None:
                panel.rationale.setPlaceholderText(
                    "Reason for your decision (required when it overrides the majority) — "
                    "R to write, Esc to leave")
            self.panels.append(panel)
            qlayout.addWidget(panel, 1 if panel.expanding else 0)
        if not any(p.expanding for p in self.panels):
            qlayout.addStretch(1)
        self.questions = QScrollArea()
        self.questions.setWidget(qbox)
        self.questions.setWidgetResizable(True)
        self.questions.setFrameShape(QScrollArea.Shape.NoFrame)
        self.questions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        # a reviewer sees every annotator's answer to the focused question
        self.case_view = SafeBrowser("Annotators' answers")
        self.case_view.setVisible(flow.review)
        top = QSplitter(Qt.Orientation.Vertical)
        top.addWidget(self.prompt)
        top.addWidget(self.responses)
        top.addWidget(self.case_view)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 3)
        top.setChildrenCollapsible(False)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(top)
        self.split.addWidget(self.questions)
        self.split.setChildrenCollapsible(False)

        self.status = QLabel()
        self.status.setObjectName("statusLine")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Item status")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.pace = QLabel()
        self.pace.setAccessibleName("Pace and time left")
        foot = QHBoxLayout()
        foot.addWidget(self.progress, 2)
        foot.addWidget(self.pace, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.split, 1)
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
        self.responses.to_top()
        # in a conversation the turn being answered is the last one
        bar = self.prompt.verticalScrollBar()
        bar.setValue(bar.maximum() if len(state.item.turns) > 1 else 0)
        self._size_questions()

    def _size_questions(self) -> None:
        total = max(self.split.height(), 400)
        if not self.responses.visible_count():
            share = total * 3 // 4
        elif any(p.expanding for p in self.panels):
            share = total // 2
        else:
            share = min(self.questions.widget().sizeHint().height() + 6, total * 2 // 5)
        self.split.setSizes([total - share, share])

    def redraw_state(self) -> None:
        flow, state = self.flow, self.flow.current
        if state is None:
            return
        badges: dict[str, list[str]] = {}
        for i, panel in enumerate(self.panels):
            pending = state.pending[panel.q.id]
            panel.render(flow, pending, focused=(i == flow.focus))
            for rid, text in panel.badges(flow, pending.value).items():
                badges.setdefault(rid, []).append(text)
        self.responses.show_item(state.item, state.shown_order,
                                 {rid: " · ".join(t) for rid, t in badges.items()})
        if flow.review:
            self.case_view.setHtml(case_html(flow))
        rev = ""
        if state.revision:
            rev = f" · submitted (revision {state.revision})" + (" · changed, not saved" if state.modified else "")
        elif state.modified:
            rev = " · draft"
        kind = " · calibration item" if state.item.kind == "calibration" else ""
        if flow.review:
            kind += " · reviewing"
        filt = "" if flow.filter == "all" else f" · showing {flow.filter} only"
        self.header.setText(
            f"<b>Item {state.position + 1} of {len(flow.ids)}</b> · {state.item.id}{kind}{rev}{filt}")
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

    def _focus_question(self, question_id: str) -> None:
        self.flow.focus = [q.id for q in self.flow.spec.questions].index(question_id)

    def _clicked(self, question_id: str, action: str, arg) -> None:
        """Mouse input: the same flow calls the keys make."""
        flow = self.flow
        self._focus_question(question_id)
        if action == "choose":
            self._act(flow.choose, arg)
        elif action == "point":
            self._act(flow.choose_point, arg)
        elif action == "digit":
            self._act(flow.digit, arg)
        elif action == "confidence":
            self._act(flow.set_confidence, arg, question_id)
        elif action == "unacceptable":
            self._act(flow.toggle_all_unacceptable)
        elif action == "cell":
            flow.set_cursor(question_id, *arg)
        elif action == "criterion":
            flow.set_cursor(question_id, arg)
            self._act(flow.toggle_mark)

    def _typed_rationale(self, question_id: str, text: str) -> None:
        self._act(self.flow.set_rationale, text, question_id)
        self._typed()

    def _typed_text(self, question_id: str, text: str) -> None:
        self._act(self.flow.set_text, text, question_id)
        self._typed()

    def _typed(self) -> None:
        self._draft_timer.start()
        if self._last_message.startswith("Cannot submit") and not self.flow.missing():
            self._last_message = ""
        self.redraw_state()

    def focus_screen(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_text(self, box) -> None:
        if box is not None:
            box.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def handle(self, command: str) -> bool:
        """Run a labeling command from the shortcut table; False if it is not one of ours."""
        flow = self.flow
        q = flow.focused_question if flow.current else None
        if command == "item.submit":
            self._draft_timer.stop()
            outcome = flow.submit()
            if outcome.ok:
                self.say(outcome.message)
                self.focus_screen()
                if outcome.feedback:
                    self.feedback.emit(outcome.feedback)
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
            self._open_rationale()
        elif command == "item.edit" and flow.review and flow.case(flow.focused_question.id):
            editing = flow.toggle_edit()
            self.say("Digits now edit the decision (E again: digits adopt answers)" if editing
                     else "Digits adopt annotators' answers")
            if editing:
                self._enter_editor()
        elif command == "item.edit":
            panel = self.panels[flow.focus]
            if isinstance(panel, DemonstrationPanel):
                self._focus_text(panel.editor)
            else:
                self.say(f"{panel.q.id}: E writes the response on demonstration questions")
        elif command == "item.leave_text":
            flow.flush_draft()
            self.focus_screen()
        elif command in ("question.next", "question.previous"):
            flow.focus_next(1 if command == "question.next" else -1)
            self.focus_screen()
            self._enter_editor()
        elif command.startswith("key.digit"):
            self._act(flow.digit, int(command.removeprefix("key.digit")))
        elif command.startswith("answer."):
            self._act(flow.choose, command.removeprefix("answer."))
        elif command.startswith("confidence."):
            self._act(flow.set_confidence, int(command.removeprefix("confidence.")))
        elif command == "key.equal":
            self._act(flow.rank_tie)
        elif command == "key.backspace":
            self._act(flow.backspace)
        elif command == "ranking.unacceptable":
            self._act(flow.toggle_all_unacceptable)
        elif command in MOVES:
            rows, columns = MOVES[command]
            self._act(flow.move, rows, columns)
        elif command in MARKS:
            self._act(flow.mark, MARKS[command])
        elif command in ("key.space", "key.shift_space"):
            if q is not None and q.mode == "rubric" and command == "key.space":
                self._act(flow.toggle_mark)
            else:
                only = flow.cursor(q.id)[0] if q is not None and q.mode == "scoring" else None
                self.responses.page(1 if command == "key.space" else -1, only)
        elif command in ("edit.undo", "edit.redo"):
            msg = flow.undo() if command == "edit.undo" else flow.redo()
            self.say(msg or f"Nothing to {command.removeprefix('edit.')}")
        elif command.startswith("filter."):
            flow.set_filter(command.removeprefix("filter."))
            visible = flow.visible_positions()
            if flow.filter != "all" and visible and flow.current and flow.current.position not in visible:
                flow.go_to(visible[0])
            self.say(f"Showing {flow.filter} items ({len(visible)})")
        elif command == "view.diff":
            self.toggle_diff()
        elif command == "view.sync":
            self.responses.sync = not self.responses.sync
            self.say("Synchronized scrolling " + ("on" if self.responses.sync else "off"))
        else:
            return False
        return True

    def _open_rationale(self) -> None:
        """The focused question's box; if it has none, the first box still wanting text."""
        flow = self.flow
        with_box = [i for i, p in enumerate(self.panels) if p.rationale is not None]
        if not with_box:
            self.say("No question of this project takes a rationale")
            return
        if flow.focus not in with_box:
            empty = [i for i in with_box
                     if not flow.current.pending[self.panels[i].q.id].rationale.strip()]
            flow.focus = (empty or with_box)[0]
            self.redraw_state()
        self._focus_text(self.panels[flow.focus].rationale)

    def _enter_editor(self) -> None:
        panel = self.panels[self.flow.focus]
        if isinstance(panel, DemonstrationPanel) and not panel.show_diff:
            self._focus_text(panel.editor)

    def toggle_diff(self) -> None:
        demo = [p for p in self.panels if isinstance(p, DemonstrationPanel)]
        if demo:
            for p in demo:
                p.show_diff = not p.show_diff
            on = demo[0].show_diff
            self.say("Showing changes against the draft" if on else "Editing the response")
        else:
            self.responses.diff = not self.responses.diff
            self.say("Word differences highlighted" if self.responses.diff else "Word highlight off")
        self.redraw_state()

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        self.responses.set_narrow(self.width() < NARROW)
        super().resizeEvent(event)

    def showEvent(self, event):  # noqa: N802 - Qt override
        super().showEvent(event)
        self._size_questions()

    def closing(self) -> None:
        self._draft_timer.stop()
        self.flow.flush_draft()
        if self._on_flow in self.flow.listeners:
            self.flow.listeners.remove(self._on_flow)


def case_html(flow: LabelingFlow) -> str:
    """The annotators' answers to the focused question, side by side, the disagreement marked
    (in words and marks, not colour alone)."""
    q = flow.focused_question
    case = flow.case(q.id)
    if case is None:
        return "<p><i>No case to decide on this question; Tab moves to one that has.</i></p>"
    state = flow.current
    value = state.pending[q.id].value
    try:
        mine = MODES[q.mode].to_answer(q, value, state.item, state.shown_order) if value else None
    except (AnnotaryError, ValueError):
        mine = None
    majority = case.answers[case.majority].answer if case.majority is not None else None
    rows = []
    for n, a in enumerate(case.answers, 1):
        said = describe(q, a.answer, state.item, state.shown_order) if a.answer else f"skipped: {a.skip_reason}"
        mark = ""
        if majority is not None:
            mark = "majority" if a.answer == majority else "≠ majority"
        if mine is not None and a.answer == mine:
            mark += " · ✓ your decision"
        bg = "" if majority is None or a.answer == majority else ' bgcolor="#ffe0b3"'
        extra = []
        if a.confidence is not None:
            extra.append(f"confidence {a.confidence}")
        if a.duration_ms:
            extra.append(f"{a.duration_ms / 1000:.0f} s")
        if a.flags:
            extra.append("flagged " + ", ".join(a.flags))
        why = f"<br><i>{html.escape(a.rationale)}</i>" if a.rationale else ""
        rows.append(f"<tr{bg}><td><b>[{n}]</b></td><td><b>{html.escape(a.who)}</b></td>"
                    f"<td>{html.escape(said)}{why}</td><td>{html.escape(' · '.join(extra))}</td>"
                    f"<td><b>{html.escape(mark.strip(' ·'))}</b></td></tr>")
    tried = (describe(q, case.consensus, state.item, state.shown_order)
             if case.consensus is not None else "none")
    figures = ", ".join(f"{k} {v:.2f}" for k, v in case.agreement.items() if v is not None)
    mode = "digits edit your decision" if flow.editing else "digits adopt an answer, E to edit"
    head = (f"<p><b>{q.id}</b> — {'conflict' if case.reason == 'conflict' else 'audit of an agreed case'}"
            f" · consensus attempt: {html.escape(tried)}" + (f" · {html.escape(figures)}" if figures else "")
            + f" · <i>{mode}</i></p>")
    override = ""
    if flow.overrides_majority(q.id):
        override = "<p><b>Your decision overrides the majority: give a reason (R).</b></p>"
    return head + '<table cellpadding="4" width="100%">' + "".join(rows) + "</table>" + override
