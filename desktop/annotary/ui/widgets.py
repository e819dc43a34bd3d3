"""Reusable widgets: a Markdown viewer that loads nothing from outside, and answer panels."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from annotary.core.items import Item
from annotary.core.spec import PairwiseQuestion, Requirement
from annotary.flows.labeling import PAIRWISE_KEYS, Pending

MD_FEATURES = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
               | QTextDocument.MarkdownFeature.MarkdownNoHTML)


class SafeBrowser(QTextBrowser):
    """Renders Markdown; never follows links, never loads images or files (no network, no disk)."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAccessibleName(name)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        return None

    def show_markdown(self, text: str) -> None:
        self.document().setMarkdown(text, MD_FEATURES)


def prompt_markdown(item: Item) -> str:
    """The prompt as Markdown: a single instruction, or the conversation turn by turn."""
    parts = []
    turns = item.turns
    if len(turns) == 1 and turns[0].role == "user":
        parts.append(turns[0].content)
    else:
        for turn in turns:
            parts.append(f"**{turn.role.capitalize()}:**\n\n{turn.content}")
    if item.context:
        parts.append(f"**Context:**\n\n{item.context}")
    return "\n\n---\n\n".join(parts)


class ResponsePane(QWidget):
    def __init__(self, letter: str, parent=None):
        super().__init__(parent)
        self.letter = letter
        self.header = QLabel(f"Response {letter}")
        self.header.setObjectName("paneHeader")
        self.browser = SafeBrowser(f"Response {letter}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.browser, 1)

    def show_text(self, text: str, chosen: bool) -> None:
        self.header.setText(f"Response {self.letter}" + ("   ✓ preferred" if chosen else ""))
        self.browser.show_markdown(text)


CHOICE_TEXT = {"A": "A is better", "B": "B is better", "tie": "Tie", "both_bad": "Both bad"}
CHOICE_KEY = {"A": "A", "B": "B", "tie": "T", "both_bad": "X"}


class PairwisePanel(QFrame):
    """One pairwise question: its choices, rationale and confidence. Buttons never take focus:
    the keyboard answers through the shortcut table; the mouse works too."""

    chosen = Signal(str, object)  # question id, key (str) or point (int)
    confidence_chosen = Signal(str, int)
    rationale_edited = Signal(str, str)

    def __init__(self, number: int, question: PairwiseQuestion, parent=None):
        super().__init__(parent)
        self.q = question
        self.setObjectName("questionPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.number = number
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.title)
        row = QHBoxLayout()
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)
        self.buttons: dict[object, QPushButton] = {}
        if question.scale == "strength":
            for n, label in enumerate(question.strength_labels(), 1):
                self._button(row, n, f"{n}\n{label}", f"{label} (key {n})")
        else:
            for key in PAIRWISE_KEYS[question.scale]:
                self._button(row, key, f"{CHOICE_TEXT[key]}  [{CHOICE_KEY[key]}]", CHOICE_TEXT[key])
        layout.addLayout(row)
        self.rationale: QPlainTextEdit | None = None
        if question.rationale is not Requirement.off:
            self.rationale = QPlainTextEdit()
            need = "required" if question.rationale is Requirement.required else "optional"
            self.rationale.setPlaceholderText(f"Rationale ({need}) — press R to write, Esc to leave")
            self.rationale.setAccessibleName(f"Rationale for {question.id}")
            self.rationale.setTabChangesFocus(True)
            self.rationale.setMaximumHeight(70)
            self.rationale.textChanged.connect(
                lambda: self.rationale_edited.emit(self.q.id, self.rationale.toPlainText()))
            layout.addWidget(self.rationale)
        self.conf_buttons: dict[int, QPushButton] = {}
        if question.confidence is not Requirement.off:
            conf = QHBoxLayout()
            need = "required" if question.confidence is Requirement.required else "optional"
            conf.addWidget(QLabel(f"Confidence ({need}, Alt+digit):"))
            for n in range(1, question.confidence_scale + 1):
                b = QPushButton(str(n))
                b.setCheckable(True)
                b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                b.setAccessibleName(f"Confidence {n} for {question.id}")
                b.setMaximumWidth(40)
                b.clicked.connect(lambda _=False, n=n: self.confidence_chosen.emit(self.q.id, n))
                conf.addWidget(b)
                self.conf_buttons[n] = b
            conf.addStretch(1)
            layout.addLayout(conf)

    def _button(self, row, value, text, name):
        b = QPushButton(text)
        b.setCheckable(True)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setAccessibleName(f"{name} for {self.q.id}")
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        b.clicked.connect(lambda _=False, v=value: self.chosen.emit(self.q.id, v))
        self.group.addButton(b)
        row.addWidget(b)
        self.buttons[value] = b

    def show_state(self, pending: Pending, focused: bool) -> None:
        marker = "▶ " if focused else ""
        axis = f" [{self.q.axis}]" if self.q.axis else ""
        req = "" if self.q.required else " (optional)"
        self.title.setText(f"<b>{marker}{self.number}. {self.q.text}</b>{axis}{req}")
        self.setProperty("focused", focused)
        self.style().unpolish(self)
        self.style().polish(self)
        picked = pending.point if self.q.scale == "strength" else pending.key
        for value, b in self.buttons.items():
            on = value == picked
            b.setChecked(on)
            base = b.text().removeprefix("✓ ")
            b.setText(("✓ " if on else "") + base)
        for n, b in self.conf_buttons.items():
            b.setChecked(pending.confidence == n)
        if self.rationale is not None and self.rationale.toPlainText() != pending.rationale:
            self.rationale.blockSignals(True)
            self.rationale.setPlainText(pending.rationale)
            self.rationale.blockSignals(False)
