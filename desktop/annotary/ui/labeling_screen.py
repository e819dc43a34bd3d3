"""The labeling screen: prompt, responses (side by side, grid or stacked), questions, progress."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics, QKeySequence, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from annotary.core.errors import AnnotaryError
from annotary.flows.labeling import LabelingFlow
from annotary.flows.modes import MODES, OTHER, Categorical, describe, named
from annotary.ops import annotate, queries
from annotary.ui.panels import PANELS, CategoricalPanel, DemonstrationPanel, QuestionPanel
from annotary.ui.theme import tokens
from annotary.ui.widgets import READING_LINE, ResponsesView, SafeBrowser, prompt_markdown

NARROW = 900  # below this width the responses stack
WIDE = 1100  # from this width a single response stands beside the questions
LAYOUT_KEY = "layout:{}"  # per project: the splitter sizes the annotator chose

# the buttons under the item: command id, words (the key comes from the shortcut table)
ACTIONS = (("item.previous", "◀ Previous"), ("item.next", "Next ▶"), ("item.skip", "Skip…"),
           ("item.flag", "Flag…"))


def key_text(keys) -> str:
    """The first key of a command as the platform writes it (Ctrl+Return, Alt+Left …)."""
    return QKeySequence(keys[0]).toString(QKeySequence.SequenceFormat.NativeText) if keys else ""


class FitButton(QPushButton):
    """A button that says it all where there is room (words and key) and only its words, or
    only its mark, where the window is narrow: the window never has to grow to fit it."""

    def __init__(self, *texts: str):
        super().__init__(texts[0])
        self.texts = texts
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def _width(self, text: str) -> int:
        font = self.font()
        font.setBold(True)  # the checked and primary buttons are bold
        return QFontMetrics(font).horizontalAdvance(text) + 48  # padding and frame

    def sizeHint(self):  # noqa: N802 - Qt override
        hint = super().sizeHint()
        hint.setWidth(self._width(self.texts[0]))
        return hint

    def minimumSizeHint(self):  # noqa: N802 - Qt override
        hint = super().minimumSizeHint()
        hint.setWidth(self._width(self.texts[-1]))
        return hint

    def set_texts(self, *texts: str) -> None:
        if texts == self.texts:
            return  # redrawn on every key: no new layout pass for the same words
        self.texts = texts
        self._fit()
        self.updateGeometry()

    def _fit(self) -> None:
        fits = [t for t in self.texts if self._width(t) <= self.width()]
        self.setText(fits[0] if fits else self.texts[-1])

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit()


def card(name: str, *widgets, margins=(12, 10, 12, 10), title: str = "") -> QFrame:
    frame = QFrame()
    frame.setObjectName(name)
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(*margins)
    layout.setSpacing(6)
    if title:
        label = QLabel(title)
        label.setObjectName("sectionLabel")
        layout.addWidget(label)
    for w in widgets:
        layout.addWidget(w, 1 if isinstance(w, SafeBrowser) else 0)
    return frame

# keys whose meaning depends on the focused question's mode
MOVES = {"key.up": (-1, 0), "key.down": (1, 0), "key.left": (0, -1), "key.right": (0, 1),
         "rubric.next": (1, 0), "rubric.previous": (-1, 0)}
MARKS = {"rubric.met": "met", "rubric.not_met": "not_met", "rubric.partly": "partly"}


class LabelingScreen(QWidget):
    """A thin view over LabelingFlow: commands go to the flow, the flow's events redraw."""

    title_changed = Signal(str)
    feedback = Signal(str)  # calibration feedback after a submit (Markdown)

    def __init__(self, flow: LabelingFlow, asker, parent=None, commands=()):
        super().__init__(parent)
        self.flow = flow
        self.ask = asker
        self.keys = {c.id: key_text(c.keys) for c in commands}
        # plain letters some command of the screen owns: never taken as a category's key
        self.owned_letters = {k.upper() for c in commands if not c.modes and c.scope != "workspace"
                              for k in c.keys if len(k) == 1 and k.isalpha()}
        self.setObjectName("labelingScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Labeling screen")

        # the header: project, item, progress and pace, in one band across the top
        self.project_title = QLabel(html.escape(flow.info.name))
        self.project_title.setObjectName("headerTitle")
        self.project_title.setMinimumWidth(80)  # it may shrink on a narrow window, not push
        self.header = QLabel()
        self.header.setObjectName("itemHeader")
        self.header.setMinimumWidth(60)
        self.header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.header.setAccessibleName("Item")
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setTextVisible(False)
        self.progress.setMaximumWidth(220)
        self.progress.setMinimumWidth(60)
        self.done_text = QLabel()
        self.done_text.setAccessibleName("Items done")
        self.pace = QLabel()
        self.pace.setObjectName("hint")
        self.pace.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.pace.setMinimumWidth(0)
        self.pace.setAccessibleName("Pace and time left")
        bar = QFrame()
        bar.setObjectName("headerBar")
        top = QHBoxLayout(bar)
        top.setContentsMargins(16, 10, 16, 10)
        top.setSpacing(14)
        top.addWidget(self.project_title)
        top.addWidget(self.header, 4)
        top.addWidget(self.done_text)
        top.addWidget(self.progress, 1)
        top.addWidget(self.pace, 2)
        self.header_bar = bar

        self.prompt = SafeBrowser("Prompt")
        self.prompt.setMinimumHeight(48)
        self.prompt.max_chars = READING_LINE
        self.prompt_card = card("promptCard", self.prompt, title="Prompt")
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
            if isinstance(panel, CategoricalPanel):
                panel.filter_edited.connect(self._typed_filter)
                panel.other_edited.connect(self._typed_other)
            if flow.review and panel.rationale is not None:
                panel.rationale.setPlaceholderText(
                    "Reason for your decision (required when it overrides the majority) — "
                    "R to write, Esc to leave")
            self.panels.append(panel)
            qlayout.addWidget(panel, 1 if panel.expanding else 0)
        if not any(p.expanding for p in self.panels):
            qlayout.addStretch(1)
        qlayout.setSpacing(10)
        self.questions = QScrollArea()
        self.questions.setWidget(qbox)
        self.questions.setWidgetResizable(True)
        self.questions.setFrameShape(QScrollArea.Shape.NoFrame)
        self.questions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        # a reviewer sees every annotator's answer to the focused question
        self.case_view = SafeBrowser("Annotators' answers")
        self.case_card = card("card", self.case_view, title="Annotators' answers")
        self.case_card.setVisible(flow.review)
        self.top = QSplitter(Qt.Orientation.Vertical)
        self.top.addWidget(self.prompt_card)
        self.top.addWidget(self.responses)
        self.top.addWidget(self.case_card)
        self.top.setChildrenCollapsible(False)
        self.top.setHandleWidth(8)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.top)
        self.split.addWidget(self.questions)
        self.split.setChildrenCollapsible(False)
        self.split.setHandleWidth(8)
        self._sizing = False
        chosen = queries.setting(flow.store, LAYOUT_KEY.format(flow.project_id), None)
        self._chosen = chosen if isinstance(chosen, dict) else None
        for sp in (self.top, self.split):
            sp.splitterMoved.connect(self._splitter_moved)

        # calibration feedback, shown on its own item after the submit
        self.feedback_view = SafeBrowser("Expert's answer")
        self.feedback_card = card("feedbackCard", self.feedback_view, title="Calibration: the expert's answer")
        self.feedback_card.setVisible(False)
        # the end of the work: what to do next
        self.done_label = QLabel()
        self.done_label.setWordWrap(True)
        self.done_label.setAccessibleName("All done")
        self.done_card = card("doneCard", self.done_label)
        self.done_card.setVisible(False)

        self.status = QLabel()
        self.status.setObjectName("statusLine")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setMinimumWidth(40)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setAccessibleName("Item status")
        self.buttons: dict[str, FitButton] = {}
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for cid, words in ACTIONS:
            actions.addWidget(self._button(cid, words))
        actions.addWidget(self.status, 1)
        submit = self._button("item.submit", "Submit and next")
        submit.setProperty("primary", True)
        actions.addWidget(submit)
        action_bar = QFrame()
        action_bar.setObjectName("actionBar")
        action_bar.setLayout(actions)
        actions.setContentsMargins(16, 8, 16, 8)

        body = QVBoxLayout()
        body.setContentsMargins(16, 12, 16, 8)
        body.setSpacing(8)
        body.addWidget(self.done_card)
        body.addWidget(self.split, 1)
        body.addWidget(self.feedback_card)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addLayout(body, 1)
        layout.addWidget(action_bar)

        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(800)
        self._draft_timer.timeout.connect(flow.flush_draft)
        self._layout_timer = QTimer(self)
        self._layout_timer.setSingleShot(True)
        self._layout_timer.setInterval(500)
        self._layout_timer.timeout.connect(self._store_layout)
        self._last_message = ""
        self._fresh_item = True
        flow.listeners.append(self._on_flow)
        if flow.current is None:
            flow.start()
        else:
            self.redraw_item()

    def _texts(self, command: str, words: str) -> tuple[str, ...]:
        key = self.keys.get(command, "")
        mark = words.split()[0] if words[0] in "◀▶" else words.split()[-1] if words[-1] in "◀▶" else words
        return tuple(dict.fromkeys((f"{words}   {key}" if key else words, words, mark)))

    def _button(self, command: str, words: str) -> QPushButton:
        b = FitButton(*self._texts(command, words))
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the questions
        b.setAccessibleName(words.strip("◀▶ …"))
        b.clicked.connect(lambda _=False, c=command: self.handle(c))
        self.buttons[command] = b
        return b

    # -- flow events --------------------------------------------------------------------------
    def _on_flow(self, what: str) -> None:
        if what == "item":
            self._last_message = ""
            self.redraw_item()
        else:
            self.redraw_state()
        if what in ("item", "focus", "answer") and self.flow.current is not None:
            # the question that has the keys is always in sight
            panel = self.panels[self.flow.focus]
            QTimer.singleShot(0, self, lambda: self.questions.ensureWidgetVisible(panel, 0, 8))

    def redraw_item(self) -> None:
        state = self.flow.current
        if state is None:
            self.header.setText("This project has no items.")
            return
        self.prompt.show_markdown(prompt_markdown(state.item))
        self._fresh_item = True
        self.redraw_state()
        self.responses.to_top()
        self._size_panes()
        # in a conversation the turn being answered is the last one
        bar = self.prompt.verticalScrollBar()
        bar.setValue(bar.maximum() if len(state.item.turns) > 1 else 0)

    def _orientation(self) -> Qt.Orientation:
        """One response (a rubric, a draft to edit) reads best beside its questions on a wide
        window: each gets the full height. Several responses need the width themselves."""
        if self.responses.visible_count() <= 1 and self.width() >= WIDE and not self.flow.review:
            return Qt.Orientation.Horizontal
        return Qt.Orientation.Vertical

    def _size_panes(self) -> None:
        """Give each pane the room its content asks for, within the window: the prompt as tall
        as its text (up to 40 %), the questions as tall as their cards (up to half), the
        responses the rest. Sizes the annotator chose by dragging are kept for the project."""
        orientation = self._orientation()
        if self.split.orientation() != orientation:
            self.split.setOrientation(orientation)
        wide = orientation == Qt.Orientation.Horizontal
        total = self.split.width() if wide else self.split.height()
        if total < 200:
            return
        self._sizing = True
        try:
            chosen = (self._chosen or {}).get("horizontal" if wide else "vertical")
            if chosen:
                self.split.setSizes(chosen[0])
                self.top.setSizes(chosen[1])
                return
            responses = self.responses.visible_count()
            # the prompt's text height, measured once (on a copy of a possibly long document)
            text = self.prompt.content_height((total * 11 // 20 - 40) if wide else None)
            if wide:
                share = total * 9 // 20
            else:
                expanding = any(p.expanding for p in self.panels)
                wanted = self.questions.widget().sizeHint().height() + 12
                cap = total // 2 if responses else total * 3 // 4
                if self.flow.review:  # the answers to decide between need the room
                    cap = total * 2 // 5
                elif responses:  # short responses leave the questions room to show whole
                    prompt_need = min(text + 56, total * 2 // 5)
                    cap = max(cap, total - prompt_need - self._responses_need(total))
                share = min(max(wanted, total // 3 if expanding else 0), cap)
            self.split.setSizes([total - share, share])
            top = self.split.height() if wide else total - share
            prompt = text + 48  # the card's title and margins
            case = 0
            if self.flow.review:
                case = min(self.case_view.content_height() + 48, top // 2)
            if responses:
                prompt = min(max(prompt, 90), (top - case) * 2 // 5)
            else:
                prompt = top - case
            self.top.setSizes([prompt, max(top - prompt - case, 0), case])
        finally:
            self._sizing = False

    def _responses_need(self, total: int) -> int:
        tallest = max((p.browser.document().size().height() for p in self.responses.panes
                       if not p.isHidden()), default=0)
        return max(160, min(int(tallest) + 48, total // 2))

    def _splitter_moved(self, *_):
        if self._sizing:
            return
        wide = self.split.orientation() == Qt.Orientation.Horizontal
        self._chosen = {**(self._chosen or {}),
                        "horizontal" if wide else "vertical": [self.split.sizes(), self.top.sizes()]}
        self._layout_timer.start()  # a drag moves the splitter many times: store it once

    def _store_layout(self) -> None:
        if self._chosen:
            annotate.set_setting(self.flow.store, key=LAYOUT_KEY.format(self.flow.project_id),
                                 value=self._chosen)

    def redraw_state(self) -> None:
        flow, state = self.flow, self.flow.current
        if state is None:
            return
        badges: dict[str, list[str]] = {}
        for i, panel in enumerate(self.panels):
            if flow.review:  # a reviewer decides the cases of this item, nothing else
                panel.setVisible(flow.case(panel.q.id) is not None)
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
            rev = " · ✓ submitted" + (f" (revision {state.revision})" if state.revision > 1 else "")
            rev += " · changed, not submitted" if state.modified else ""
        elif state.modified:
            rev = " · draft"
        kind = " · calibration item" if state.item.kind == "calibration" else ""
        if flow.review:
            kind += " · reviewing"
        filt = "" if flow.filter == "all" else f" · showing {flow.filter} only"
        self.header.setText(
            f"<b>Item {state.position + 1} of {len(flow.ids)}</b>{kind}{rev}{filt}"
            f"<span style='font-size:small'> &nbsp; {html.escape(state.item.id)}</span>")
        self.status.setText(" · ".join(self._status_bits()))
        self.feedback_card.setVisible(bool(flow.feedback))
        if flow.feedback:
            nxt = self.keys.get("item.submit") or "Submit"
            self.feedback_view.show_markdown(
                flow.feedback + f"\n\n*{nxt} or {self.keys.get('item.next', 'Next')}: the next item.*")
            self.feedback_view.setFixedHeight(
                min(self.feedback_view.content_height() + 8, max(self.height() // 3, 120)))
        prog = flow.progress()
        self.progress.setMaximum(max(prog.total, 1))
        self.progress.setValue(prog.done)
        self.done_text.setText(f"<b>{prog.done}</b> of {prog.total} done")
        pace = f"{prog.per_hour:.0f} items/h" if prog.per_hour else "pace after a few items"
        if prog.seconds_left is not None:
            mins = prog.seconds_left / 60
            pace += f" · about {mins / 60:.1f} h left" if mins >= 90 else f" · about {mins:.0f} min left"
        self.pace.setText(pace)
        all_done = prog.total > 0 and prog.done == prog.total and not flow.review
        self.done_card.setVisible(all_done)
        if all_done:
            export = self.keys.get("file.export", "Ctrl+E")
            self.done_label.setText(
                f"<b>All {prog.total} items are done.</b> {export} exports your results as a signed "
                "file for your coordinator. You can still go back and change any answer.")
        words = ("Next item" if flow.feedback and not state.modified else
                 "Submit again" if state.revision and state.modified else "Submit and next")
        self.buttons["item.submit"].set_texts(*self._texts("item.submit", words))
        self.title_changed.emit(flow.title())

    def _status_bits(self) -> list[str]:
        """What the item needs or just did, said once, in the questions' words."""
        flow, state = self.flow, self.flow.current
        bits = []
        if state.flags:
            bits.append("Flagged: " + ", ".join(sorted(state.flags)))
        if state.skip_reason:
            if state.revision and not state.modified:
                bits.append(f"Skipped: {state.skip_reason}")
            else:
                submit = self.keys.get("item.submit", "Submit")
                bits.append(f"Skip reason chosen: {state.skip_reason} — {submit} submits the skip")
        message = self._last_message
        missing = flow.missing()
        if missing and state.modified and not message.startswith("Cannot submit"):
            bits.append("To submit: " + "; ".join(missing))
        if message:
            bits.append(message)
        return bits

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
        elif action == "category":
            q = flow.focused_question
            flow.set_cursor(question_id, flow.cursor(question_id)[0], Categorical.entries(q).index(arg))
            self._category(flow.pick_at_cursor)
        elif action == "filter_pick":
            self._category(flow.pick_at_cursor, from_filter=True)
        elif action == "other_done":
            flow.flush_draft()
            self.focus_screen()

    def _typed_rationale(self, question_id: str, text: str) -> None:
        self._act(self.flow.set_rationale, text, question_id)
        self._typed()

    def _typed_filter(self, question_id: str, text: str) -> None:
        self._focus_question(question_id)
        self._act(self.flow.set_category_filter, text, question_id)

    def _typed_other(self, question_id: str, text: str) -> None:
        self._act(self.flow.set_other_text, text, question_id)
        self._typed()

    def _category(self, fn, *args, from_filter: bool = False) -> None:
        """Pick a category; Other opens its text box; a single choice made in the filter box
        leaves the box (and its filter), a multi-choice one stays to pick more."""
        flow = self.flow
        q = flow.focused_question
        try:
            entry = fn(*args)
        except AnnotaryError as err:
            self.say(str(err))
            return
        panel = self.panels[[p.q.id for p in self.panels].index(q.id)]
        if entry == OTHER and flow.other_unit_open(q.id):
            self._focus_text(panel.other)
        elif from_filter and not q.multiple:
            panel.filter.setVisible(False)
            flow.set_category_filter("", q.id)
            self.focus_screen()

    def category_letter(self, event) -> str | None:
        """The category key a plain letter press stands for on the focused question, if any."""
        flow = self.flow
        if flow.current is None or self.focusWidget() not in (self, None):
            return None
        if event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier):
            return None
        text = event.text().upper()
        q = flow.focused_question
        if q.mode != "categorical" or len(text) != 1 or not text.isalpha() or text in self.owned_letters:
            return None
        return text if text in Categorical.keys(q).values() else None

    def event(self, event):  # Qt override
        # a letter a category owns outranks another mode's use of it (A on a pairwise question)
        if event.type() == QEvent.Type.ShortcutOverride and self.category_letter(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event):  # noqa: N802 - Qt override
        key = self.category_letter(event)
        if key:
            self._category(self.flow.category_key, key)
            return
        super().keyPressEvent(event)

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
            if flow.feedback and flow.submitted_unchanged():
                # the expert's answer has been read: the same key goes on
                if not flow.next():
                    self.say("This was the last item")
                return True
            outcome = flow.submit(stay_on_feedback=True)
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
                if self._fresh_item:  # a new draft: go on writing where it ends
                    panel.editor.moveCursor(QTextCursor.MoveOperation.End)
                    self._fresh_item = False
                self._focus_text(panel.editor)
            else:
                self.say(f"{named(panel.q)}: E writes the response on demonstration questions")
        elif command == "item.leave_text":
            flow.flush_draft()
            panel = self.panels[flow.focus] if flow.current else None
            if isinstance(panel, CategoricalPanel) and panel.filter.hasFocus():
                panel.filter.setVisible(False)
                flow.set_category_filter("", panel.q.id)  # leaving the filter shows every category
            self.focus_screen()
        elif command == "category.filter":
            panel = self.panels[flow.focus] if flow.current else None
            if isinstance(panel, CategoricalPanel) and panel.filterable:
                panel.filter.setVisible(True)
                self._focus_text(panel.filter)
            elif isinstance(panel, CategoricalPanel):
                self.say(f"{named(panel.q)}: its categories all have keys; no filter needed")
            else:
                self.say("/ filters the categories of a categorical question")
        elif command in ("question.next", "question.previous"):
            flow.focus_next(1 if command == "question.next" else -1)
            self.focus_screen()
            self._enter_editor()
        elif command.startswith("key.digit") and q is not None and q.mode == "categorical" \
                and not (flow.review and not flow.editing and flow.case(q.id)):
            self._category(flow.category_key, command.removeprefix("key.digit"))
        elif command.startswith("key.digit"):
            try:
                note = flow.digit(int(command.removeprefix("key.digit")))
            except AnnotaryError as err:
                note = str(err)
            if note:
                self.say(note)
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
            elif q is not None and q.mode == "categorical" and command == "key.space":
                self._category(flow.pick_at_cursor)
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
        if self.split.orientation() != self._orientation():
            self._size_panes()

    def showEvent(self, event):  # noqa: N802 - Qt override
        super().showEvent(event)
        self._size_panes()

    def closing(self) -> None:
        self._draft_timer.stop()
        if self._layout_timer.isActive():
            self._layout_timer.stop()
            self._store_layout()
        self.flow.flush_draft()
        if self._on_flow in self.flow.listeners:
            self.flow.listeners.remove(self._on_flow)


def case_html(flow: LabelingFlow) -> str:
    """The annotators' answers to the focused question, side by side, the disagreement marked
    (in words and marks, not colour alone), with this item's own facts."""
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
    warn = tokens()["warn_soft"]
    rows = []
    for n, a in enumerate(case.answers, 1):
        said = describe(q, a.answer, state.item, state.shown_order) if a.answer else f"skipped: {a.skip_reason}"
        mark = ""
        if majority is not None:
            mark = "majority" if a.answer == majority else "≠ majority"
        if mine is not None and a.answer == mine:
            mark += " · ✓ your decision"
        bg = "" if majority is None or a.answer == majority else f' bgcolor="{warn}"'
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
    answered = [a.answer for a in case.answers if a.answer is not None]
    distinct = {repr(a) for a in answered}
    if majority is not None:
        behind = sum(1 for a in answered if a == majority)
        facts = f"{behind} of {len(case.answers)} annotators gave the majority answer"
    elif answered:
        facts = f"{len(case.answers)} annotators, {len(distinct)} different answers, no majority"
    else:
        facts = "every annotator skipped"
    tried = (describe(q, case.consensus, state.item, state.shown_order)
             if case.consensus is not None else "none reached")
    mode = "digits edit your decision" if flow.editing else "digits adopt an answer, E to edit"
    kind = "Conflict" if case.reason == "conflict" else "Audit of an agreed case"
    head = (f"<p><b>{html.escape(q.text)}</b><br>{kind} · {html.escape(facts)}"
            f" · consensus: {html.escape(tried)} · <i>{mode}</i></p>")
    override = ""
    if flow.overrides_majority(q.id):
        override = "<p><b>Your decision overrides the majority: give a reason (R).</b></p>"
    return head + '<table cellpadding="4" width="100%">' + "".join(rows) + "</table>" + override
