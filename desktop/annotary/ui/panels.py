"""One panel per question mode: the answer controls under the responses. Buttons never take
focus: the keyboard answers through the shortcut table; the mouse works too."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from annotary.core.spec import Requirement
from annotary.flows.diff import word_ops
from annotary.flows.labeling import LabelingFlow, Pending
from annotary.flows.modes import (
    FILTER_FROM,
    NONE,
    OTHER,
    PAIRWISE_KEYS,
    Categorical,
    Ranking,
    Rubric,
    letter,
    word_count,
)
from annotary.ui.theme import tokens
from annotary.ui.widgets import SafeBrowser

CHOICE_TEXT = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both bad"}
CHOICE_KEY = {"A": "A", "B": "B", "tie": "T", "both_bad": "X"}
MARK_TEXT = {"met": "✓ met", "not_met": "✗ not met", "partly": "½ partly", None: "–"}  # – undecided


def button(text: str, name: str, on_click) -> QPushButton:
    b = QPushButton(text)
    b.setCheckable(True)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    b.setAccessibleName(name)
    b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    b.clicked.connect(on_click)
    return b


def set_checked(b: QPushButton, on: bool) -> None:
    """Checked buttons carry a mark, so colour is never the only signal."""
    b.setChecked(on)
    base = b.text().removeprefix("✓ ")
    b.setText(("✓ " if on else "") + base)


class RationaleEdit(QPlainTextEdit):
    """A rationale field: one line while empty and not being written (so the questions fit
    beside the responses), two lines while written in or holding text; longer text scrolls."""

    def __init__(self):
        super().__init__()
        self.setTabChangesFocus(True)
        self.textChanged.connect(self._fit)
        self._fit()

    def _lines(self, n: int) -> int:
        margins = self.contentsMargins()
        return (n * self.fontMetrics().lineSpacing() + 2 * int(self.document().documentMargin())
                + margins.top() + margins.bottom() + 2)

    def _fit(self) -> None:
        self.setFixedHeight(self._lines(2 if self.hasFocus() or self.toPlainText() else 1))

    def focusInEvent(self, event):
        super().focusInEvent(event)
        self._fit()

    def focusOutEvent(self, event):
        super().focusOutEvent(event)
        self._fit()

    def changeEvent(self, event):  # a zoom or theme change: new font metrics
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit()


class QuestionPanel(QFrame):
    """Title, the mode's controls, then rationale and confidence when the spec asks for them."""

    action = Signal(str, str, object)  # question id, action name, argument
    rationale_edited = Signal(str, str)
    expanding = False  # True: the panel wants the room the responses would otherwise get

    def __init__(self, number: int, question, parent=None):
        super().__init__(parent)
        self.q = question
        self.number = number
        self.setObjectName("questionPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Question {number}: {question.text}")
        self.title = QLabel()
        self.title.setObjectName("cardTitle")
        self.title.setWordWrap(True)
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 8, 14, 10)
        layout.setSpacing(6)
        self.hint.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.hint)
        self.body = QVBoxLayout()
        layout.addLayout(self.body, 1 if self.expanding else 0)
        self.rationale: QPlainTextEdit | None = None
        if question.rationale is not Requirement.off:
            self.rationale = RationaleEdit()
            need = "required" if question.rationale is Requirement.required else "optional"
            self.rationale.setPlaceholderText(f"Rationale ({need}) — press R to write, Esc to leave")
            self.rationale.setAccessibleName(f"Rationale for {question.id}")
            self.rationale.textChanged.connect(
                lambda: self.rationale_edited.emit(self.q.id, self.rationale.toPlainText()))
            layout.addWidget(self.rationale)
        self.conf_buttons: dict[int, QPushButton] = {}
        if question.confidence is not Requirement.off:
            row = QHBoxLayout()
            need = "required" if question.confidence is Requirement.required else "optional"
            top = question.confidence_scale
            row.addWidget(QLabel(f"Confidence 1–{top} ({need}, Alt+1…Alt+{top}):"))
            for n in range(1, question.confidence_scale + 1):
                b = button(str(n), f"Confidence {n} for {question.id}",
                           lambda _=False, n=n: self.action.emit(self.q.id, "confidence", n))
                b.setMaximumWidth(44)
                row.addWidget(b)
                self.conf_buttons[n] = b
            row.addStretch(1)
            layout.addLayout(row)

    def render(self, flow: LabelingFlow, pending: Pending, focused: bool) -> None:
        # one focus, shown twice in one place: the card's accent frame and the ▶ beside its title
        marker = "▶ " if focused else ""
        req = "" if self.q.required else " <i>(optional)</i>"
        self.title.setText(f"<b>{marker}{self.number}. {html.escape(self.q.text)}</b>{req}")
        if self.property("focused") != focused:
            self.setProperty("focused", focused)
            self.style().unpolish(self)
            self.style().polish(self)
            self.update()  # a real window repaints only what is marked dirty
        for n, b in self.conf_buttons.items():
            set_checked(b, pending.confidence == n)
        if self.rationale is not None and self.rationale.toPlainText() != pending.rationale:
            self.rationale.blockSignals(True)
            self.rationale.setPlainText(pending.rationale)
            self.rationale.blockSignals(False)
        self.render_mode(flow, pending.value, focused)

    def render_mode(self, flow: LabelingFlow, value, focused: bool) -> None:
        raise NotImplementedError

    def showEvent(self, event):  # noqa: N802 - Qt override
        self.hint.setVisible(bool(self.hint.text()))  # no blank line under a title without a hint
        super().showEvent(event)

    def badges(self, flow: LabelingFlow, value) -> dict[str, str]:
        """Short marks for the response headers (response id -> text)."""
        return {}


class PairwisePanel(QuestionPanel):
    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        row = QHBoxLayout()
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)
        self.buttons: dict[object, QPushButton] = {}
        q = question
        if q.scale == "strength":
            for n, label in enumerate(q.strength_labels(), 1):
                self._add(row, n, f"{n}\n{label}", f"{label} (key {n})", "point")
        else:
            for key in PAIRWISE_KEYS[q.scale]:
                self._add(row, key, f"{CHOICE_TEXT[key]}  [{CHOICE_KEY[key]}]", CHOICE_TEXT[key], "choose")
        self.body.addLayout(row)
        hint = f"aspect: {q.axis}" if q.axis else ""
        if q.scale == "strength":
            hint = (hint + " · " if hint else "") + f"keys 1–{q.points}"
        self.hint.setText(hint)

    def _add(self, row, value, text, name, action):
        b = button(text, f"{name} for {self.q.id}",
                   lambda _=False, v=value: self.action.emit(self.q.id, action, v))
        self.group.addButton(b)
        row.addWidget(b)
        self.buttons[value] = b

    def render_mode(self, flow, value, focused):
        value = value or {}
        picked = value.get("point") if self.q.scale == "strength" else value.get("key")
        for v, b in self.buttons.items():
            set_checked(b, v == picked)

    def badges(self, flow, value):
        key = (value or {}).get("key")
        shown = flow.current.shown_order
        if key in ("A", "B"):
            return {shown[0 if key == "A" else 1]: f"✓ better ({self.q.axis or f'question {self.number}'})"}
        return {}


class RankingPanel(QuestionPanel):
    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        self.order = QLabel()
        self.order.setObjectName("rankOrder")
        self.order.setWordWrap(True)
        self.order.setAccessibleName(f"Ranking so far for {question.id}")
        self.body.addWidget(self.order)
        self.row = QHBoxLayout()
        self.body.addLayout(self.row)
        self.buttons: list[QPushButton] = []
        self.unacceptable = button("All unacceptable  [U]", f"All unacceptable for {question.id}",
                                   lambda: self.action.emit(self.q.id, "unacceptable", None))
        self.row.addWidget(self.unacceptable)
        tie = "; = ties the next with the previous" if question.allow_ties else ""
        top = f" (rank the best {question.top_k})" if question.top_k else ""
        self.hint.setText(f"Type response numbers best first{top}{tie}; Backspace takes back")

    def _ensure(self, n: int) -> None:
        while len(self.buttons) < n:
            i = len(self.buttons)
            b = button(f"{letter(i)}  [{i + 1}]", f"Rank response {letter(i)} next",
                       lambda _=False, k=i + 1: self.action.emit(self.q.id, "digit", k))
            self.row.insertWidget(i, b)
            self.buttons.append(b)

    def render_mode(self, flow, value, focused):
        shown = flow.current.shown_order
        self._ensure(len(shown))
        pos = {rid: letter(i) for i, rid in enumerate(shown)}
        for i, b in enumerate(self.buttons):
            b.setVisible(i < len(shown))
            if i < len(shown):
                rank = Ranking.rank_of(value, shown[i])
                b.setText(f"{letter(i)}  [{i + 1}]" + (f"  → #{rank}" if rank else ""))
                b.setChecked(rank is not None)
        parts = [" = ".join(pos[r] for r in g) for g in value["order"]]
        text = "  >  ".join(f"<b>{html.escape(p)}</b>" for p in parts) or "<i>nothing ranked yet</i>"
        if value["tie_next"]:
            text += "  =  <i>(next ties)</i>"
        need = Ranking.need(self.q, flow.current.item)
        ranked = sum(len(g) for g in value["order"])
        self.order.setText(f"Ranking: {text}   <span>({ranked} of {need})</span>")
        set_checked(self.unacceptable, value["all_unacceptable"])

    def badges(self, flow, value):
        out = {}
        for rid in flow.current.shown_order:
            rank = Ranking.rank_of(value, rid)
            if rank:
                out[rid] = f"#{rank}"
        return out


class ScoringPanel(QuestionPanel):
    """Rows are axes, columns are responses; the cursor cell is where digits go."""

    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setVerticalSpacing(4)
        self.anchors = QLabel()
        self.anchors.setObjectName("anchors")
        self.anchors.setWordWrap(True)
        self.anchors.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.anchors.setAccessibleName(f"Scale anchors for {question.id}")
        # the anchors of the cell in focus stand beside the grid: both in view, no scrolling
        row = QHBoxLayout()
        row.setSpacing(16)
        row.addWidget(self.grid_host, 3)
        row.addWidget(self.anchors, 2)
        self.body.addLayout(row)
        self.cells: dict[tuple[int, int], QPushButton] = {}
        self._columns = -1
        self.hint.setText("digit scores, then goes to the next empty cell · Up/Down axis · "
                          "Left/Right response · Backspace clears")

    def _build(self, n: int) -> None:
        if n == self._columns:
            return
        for b in self.cells.values():
            b.deleteLater()
        self.cells.clear()
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w:
                w.deleteLater()
        for col in range(n):
            self.grid.addWidget(QLabel(f"<b>{letter(col)}</b>"), 0, col + 1, Qt.AlignmentFlag.AlignCenter)
        for row, axis in enumerate(self.q.axes):
            req = "" if axis.required else " (optional)"
            self.grid.addWidget(QLabel(axis.name + req), row + 1, 0)
            for col in range(n):
                b = button("·", f"{axis.name} of response {letter(col)}",
                           lambda _=False, c=(col, row): self.action.emit(self.q.id, "cell", c))
                self.grid.addWidget(b, row + 1, col + 1)
                self.cells[(col, row)] = b
        self._columns = n

    def render_mode(self, flow, value, focused):
        shown = flow.current.shown_order
        self._build(len(shown))
        cur_col, cur_row = flow.cursor(self.q.id)
        for (col, row), b in self.cells.items():
            v = value["scores"].get(shown[col], {}).get(self.q.axes[row].id)
            here = focused and (col, row) == (cur_col, cur_row)
            text = "·" if v is None else str(v)
            b.setText(f"▸ {text} ◂" if here else text)
            b.setChecked(v is not None)
            if b.property("atCursor") != here:  # the cell the digits go to stands out, scored or not
                b.setProperty("atCursor", here)
                b.style().unpolish(b)
                b.style().polish(b)
        axis = self.q.axes[cur_row]
        v = value["scores"].get(shown[cur_col], {}).get(axis.id) if shown else None
        lines = [f"<b>{html.escape(axis.name)}</b> of response {letter(cur_col)}:"]
        for p in axis.scale:
            mark = "▶ " if p.value == v else "&nbsp;&nbsp;&nbsp;"
            lines.append(f"{mark}<b>{p.value}</b> {html.escape(p.anchor)}")
        self.anchors.setText("<br>".join(lines))

    def badges(self, flow, value):
        out = {}
        for rid, axes in value["scores"].items():
            if axes:
                names = {a.id: a.name for a in self.q.axes}
                out[rid] = " · ".join(f"{names.get(k, k)} {v}" for k, v in axes.items())
        return out


class RubricPanel(QuestionPanel):
    """Criteria of the item with their signed points, in a scrolling list that wraps long
    criteria; the live score updates as marks change. A click on a criterion toggles it."""

    expanding = True

    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        self.score = QLabel()
        self.score.setObjectName("rubricScore")
        self.score.setAccessibleName(f"Rubric score for {question.id}")
        self.body.addWidget(self.score)
        self.list = SafeBrowser(f"Criteria of {question.id}")
        self.list.setMinimumHeight(160)
        self.list.anchorClicked.connect(
            lambda url: self.action.emit(self.q.id, "criterion", int(url.toString().removeprefix("#c"))))
        self.body.addWidget(self.list, 1)
        self._was_focused = False
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setObjectName("hint")
        self.body.addWidget(self.explain)
        partly = " · P partly" if question.allow_partial else ""
        self.hint.setText(f"J/K move · Space toggles · Y met · N not met{partly} · Backspace clears")

    def render_mode(self, flow, value, focused):
        criteria = flow.criteria(self.q.id)
        cursor = flow.cursor(self.q.id)[0]
        colors = tokens()
        text_color, current_bg = colors["text"], colors["accent_soft"]
        rows = []
        # the mark column as wide as its longest mark, so the criteria keep the width
        bold = self.list.font()
        bold.setBold(True)
        marks = ("met", "not_met", "partly") if self.q.allow_partial else ("met", "not_met")
        mark_width = max(QFontMetrics(bold).horizontalAdvance(MARK_TEXT[m]) for m in marks) + 8
        for i, c in enumerate(criteria):
            mark = value["marks"].get(c.id)
            here = focused and i == cursor
            shown_mark = (f"<b>{MARK_TEXT[mark]}</b>" if mark else
                          f'<span style="color:{colors["muted"]}">{MARK_TEXT[mark]}</span>')
            req = "" if c.required else " <i>(optional)</i>"
            bg = f' bgcolor="{current_bg}"' if here else ""
            rows.append(
                f'<tr{bg}><td width="18"><a name="row{i}"></a>{"▶" if here else ""}</td>'
                f'<td width="{mark_width}" nowrap><a href="#c{i}" style="text-decoration:none; color:{text_color}">'
                f"{shown_mark}</a></td>"
                f'<td width="44" align="right"><b>{c.points:+d}</b></td>'
                f"<td>{as_written_html(c.text)}{req}</td></tr>")
        bar = self.list.verticalScrollBar()
        keep = bar.value()
        self.list.setHtml('<table width="100%" cellspacing="0" cellpadding="4">' + "".join(rows) + "</table>")
        bar.setValue(keep)
        if criteria and (focused or self._was_focused):
            # the focused criterion's top (its mark and points) in view; also as the focus
            # leaves, when the cards around it change the list's width and so its wrapping
            self.list.scrollToAnchor(f"row{cursor % len(criteria)}")
        self._was_focused = focused
        earned, positive, score = Rubric.score(self.q, value, flow.current.item)
        decided = sum(1 for c in criteria if c.id in value["marks"])
        shown = "—" if score is None else f"{score:.2f}"
        self.score.setText(f"<b>Score {shown}</b> = {earned} of {positive} positive points "
                           f"(raw sum {earned}) · {decided} of {len(criteria)} decided")
        c = criteria[cursor % len(criteria)] if criteria else None
        self.explain.setText(as_written_html(c.explanation) if c and c.explanation else "")
        self.explain.setVisible(bool(c and c.explanation))


class DemonstrationPanel(QuestionPanel):
    """An editor for the ideal response; with a draft, a word diff against it (toggle)."""

    expanding = True
    text_edited = Signal(str, str)

    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName(f"Response text for {question.id}")
        self.editor.setPlaceholderText("Write the ideal response here — E to start typing, Esc to leave")
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumHeight(140)
        self.editor.textChanged.connect(
            lambda: self.text_edited.emit(self.q.id, self.editor.toPlainText()))
        self.diff = SafeBrowser(f"Changes against the draft for {question.id}")
        self.diff.setVisible(False)
        self.count = QLabel()
        self.count.setAccessibleName(f"Word count for {question.id}")
        self.body.addWidget(self.editor, 1)
        self.body.addWidget(self.diff, 1)
        self.body.addWidget(self.count)
        self.show_diff = False
        self.hint.setText("E edit · Esc leave · Ctrl+Shift+W diff against the draft")

    def render_mode(self, flow, value, focused):
        if self.editor.toPlainText() != value["text"]:
            self.editor.blockSignals(True)
            self.editor.setPlainText(value["text"])
            self.editor.blockSignals(False)
        words = word_count(value["text"])
        minimum = f" (at least {self.q.min_words})" if self.q.min_words else ""
        draft = value.get("draft")
        edited = ""
        if draft is not None:
            changed = sum(len(t.split()) for tag, t in word_ops(draft, value["text"]) if tag != "equal")
            edited = f" · {changed} words changed from the draft"
        self.count.setText(f"{words} words{minimum}{edited}")
        has_draft = draft is not None
        self.diff.setVisible(self.show_diff and has_draft)
        self.editor.setVisible(not (self.show_diff and has_draft))
        if self.show_diff and has_draft:
            self.diff.setHtml(diff_html(draft, value["text"]))


class CategoricalPanel(QuestionPanel):
    """A button per category with its key (1-9, then letters); a filter box for long lists; the
    focused category's description as help; per response, a line per response."""

    filter_edited = Signal(str, str)
    other_edited = Signal(str, str)
    COLUMNS = 3

    def __init__(self, number, question, parent=None):
        super().__init__(number, question, parent)
        q = question
        self.units = QLabel()
        self.units.setObjectName("rankOrder")
        self.units.setWordWrap(True)
        self.units.setAccessibleName(f"Categories picked per response for {q.id}")
        self.units.setVisible(q.target == "response")
        self.body.addWidget(self.units)
        self.filter = QLineEdit()
        self.filter.setAccessibleName(f"Filter the categories of {q.id}")
        self.filter.setPlaceholderText(
            f"/ to filter the {len(q.categories)} categories: type, Up/Down, Enter picks, Esc leaves")
        self.filter.textEdited.connect(lambda text: self.filter_edited.emit(self.q.id, text))
        self.filter.returnPressed.connect(lambda: self.action.emit(self.q.id, "filter_pick", None))
        # shown while filtering (/ opens it, Esc or a pick closes it) and never reached by Tab:
        # the keys stay with the questions until the annotator asks to type
        self.filter.setVisible(False)
        self.filterable = len(q.categories) >= FILTER_FROM
        self.filter.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.body.addWidget(self.filter)
        self.grid = grid = QGridLayout()
        grid.setSpacing(6)
        self.keys = Categorical.keys(q)
        self.buttons: dict[str, QPushButton] = {}
        self.entries = Categorical.entries(q)
        descriptions = {c.name: c.description for c in q.categories}
        for entry in self.entries:
            key = self.keys.get(entry)
            words = Categorical.label(entry)
            b = button(f"{key}   {words}" if key else words,
                       f"{words} for {q.id}" + (f" (key {key})" if key else ""),
                       lambda _=False, e=entry: self.action.emit(self.q.id, "category", e))
            b.setProperty("category", True)
            if descriptions.get(entry):
                b.setToolTip(descriptions[entry])
            self.buttons[entry] = b
        self._columns = 0
        self._place(self.COLUMNS)
        self.body.addLayout(grid)
        self.other = QLineEdit()
        self.other.setAccessibleName(f"Other, in your words, for {q.id}")
        self.other.setPlaceholderText("Other: say what it is — Enter or Esc when done")
        self.other.setMaxLength(2000)
        self.other.textEdited.connect(lambda text: self.other_edited.emit(self.q.id, text))
        self.other.returnPressed.connect(lambda: self.action.emit(self.q.id, "other_done", None))
        self.other.setVisible(False)
        self.other.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.body.addWidget(self.other)
        self.help = QLabel()
        self.help.setObjectName("hint")
        self.help.setWordWrap(True)
        self.help.setAccessibleName(f"Description of the focused category of {q.id}")
        self.body.addWidget(self.help)
        digits = [k for e, k in self.keys.items() if e != NONE and k.isdigit()]
        letters = [k for e, k in self.keys.items() if e != NONE and k.isalpha()]
        keys = f"keys {digits[0]}–{digits[-1]}" + (
            f", {letters[0]}–{letters[-1]}" if len(letters) > 1 else f", {letters[0]}" if letters else "")
        bits = [keys, "Space picks the framed one" if not q.multiple else "Space toggles the framed one",
                "Up/Down move"]
        if q.multiple:
            bits.insert(1, "any number; 0 none of these")
        if q.target == "response":
            bits.append("Left/Right response")
        if len(q.categories) >= FILTER_FROM:
            bits.append("/ filters")
        bits.append("Backspace clears")
        self.hint.setText(" · ".join(b for b in bits if b))

    def render_mode(self, flow, value, focused):
        q = self.q
        shown = flow.current.shown_order
        units = Categorical.units(q, shown)
        pos, at = flow.cursor(q.id)
        unit = units[min(pos, len(units) - 1)]
        cur = value["units"].get(unit) or Categorical.blank()
        visible = set(flow.category_matches(q.id))
        framed = self.entries[at % len(self.entries)]
        for entry, b in self.buttons.items():
            on = (entry in cur["picked"] or (entry == OTHER and cur["other"] is not None)
                  or (entry == NONE and cur["none"]))
            b.setChecked(on)
            base = b.text().removeprefix("✓ ")
            b.setText(("✓ " if on else "") + base)
            b.setVisible(entry in visible)
            here = focused and entry == framed
            if b.property("atCursor") != here:
                b.setProperty("atCursor", here)
                b.style().unpolish(b)
                b.style().polish(b)
        if self.filter.text() != flow.category_filter(q.id):
            self.filter.setText(flow.category_filter(q.id))
        if self.filter.isVisible() and not (self.filter.hasFocus() or self.filter.text()):
            self.filter.setVisible(False)
        if q.target == "response":
            lines = []
            for i, rid in enumerate(shown):
                u = value["units"].get(rid)
                said = html.escape(self._said(u)) if u and Categorical.answered(u) else "<i>not yet</i>"
                mark = "▶ " if i == pos and focused else "&nbsp;&nbsp;&nbsp;"
                lines.append(f"{mark}<b>Response {letter(i)}</b>: {said}")
            self.units.setText("<br>".join(lines))
        other_open = cur["other"] is not None
        self.other.setVisible(other_open)
        if other_open and self.other.text() != cur["other"]:
            self.other.setText(cur["other"])
        # the framed category's description, as help, on the question that has the keys
        description = {c.name: c.description for c in q.categories}.get(framed, "")
        self.help.setText(f"<b>{html.escape(framed)}</b>: {html.escape(description)}"
                          if focused and description else "")
        self.help.setVisible(bool(self.help.text()))

    def _place(self, columns: int) -> None:
        """The buttons in rows of `columns`: as many as keep the longest category's words whole."""
        if columns == self._columns:
            return
        for b in self.buttons.values():
            self.grid.removeWidget(b)
        for i, b in enumerate(self.buttons.values()):
            self.grid.addWidget(b, i // columns, i % columns)
        for c in range(self.COLUMNS):
            self.grid.setColumnStretch(c, 1 if c < columns else 0)
        self._columns = columns

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        font = self.font()
        font.setBold(True)  # a checked button's words are bold
        widest = max(QFontMetrics(font).horizontalAdvance("✓ " + b.text().removeprefix("✓ "))
                     for b in self.buttons.values()) + 40  # padding and frame
        room = self.width() - 40
        self._place(max(1, min(self.COLUMNS, (room + 6) // (widest + 6))))

    @staticmethod
    def _said(unit) -> str:
        parts = list(unit["picked"])
        if unit["other"] is not None:
            parts.append(f"Other: {unit['other']}")
        return ", ".join(parts) or "none of these"

    def badges(self, flow, value):
        if self.q.target != "response":
            return {}
        return {rid: self._said(u) for rid, u in value["units"].items()
                if Categorical.answered(u)}


def as_written_html(text: str) -> str:
    """Plain text inside our own HTML, its line breaks kept (a criterion's list of conditions)."""
    return html.escape(text.strip()).replace("\n", "<br>")


def diff_html(old: str, new: str) -> str:
    """Word diff as HTML we build ourselves (escaped text; strike-through and underline, so
    colour is not the only signal), in the theme's colours so it reads in dark mode too."""
    colors = tokens()
    parts = []
    for tag, text in word_ops(old, new):
        t = html.escape(text)
        if tag == "delete":
            parts.append(f'<s style="background:{colors["bad_soft"]}; color:{colors["text"]}">{t}</s>')
        elif tag == "insert":
            parts.append(f'<u style="background:{colors["good_soft"]}; color:{colors["text"]}">{t}</u>')
        else:
            parts.append(t)
    return "<p>" + " ".join(parts) + "</p>"


PANELS = {
    "pairwise": PairwisePanel,
    "ranking": RankingPanel,
    "scoring": ScoringPanel,
    "rubric": RubricPanel,
    "demonstration": DemonstrationPanel,
    "categorical": CategoricalPanel,
}
