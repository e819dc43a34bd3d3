"""Reusable widgets: a Markdown viewer that loads nothing from outside, and the response panes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from annotary.core.items import Item
from annotary.flows.diff import differing_spans

MD_FEATURES = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
               | QTextDocument.MarkdownFeature.MarkdownNoHTML)


class SafeBrowser(QTextBrowser):
    """Renders Markdown; never follows links and loads no file or URL. Images come only from
    `images` (name -> bytes), e.g. the guidelines' pictures carried inside a signed bundle."""

    def __init__(self, name: str, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAccessibleName(name)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.images: dict[str, bytes] = {}

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        if kind == QTextDocument.ResourceType.ImageResource.value and url is not None:
            data = self.images.get(url.toString())
            if data:
                image = QImage()
                if image.loadFromData(data):
                    return image
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
        parts.append(f"**Input:**\n\n{item.context}")
    return "\n\n---\n\n".join(parts)


class ResponsePane(QWidget):
    def __init__(self, letter: str, parent=None):
        super().__init__(parent)
        self.letter = letter
        self.header = QLabel(f"Response {letter}")
        self.header.setObjectName("paneHeader")
        self.browser = SafeBrowser(f"Response {letter}")
        # a scroll bar that comes and goes makes Qt lay a long response out twice per item
        self.browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.browser, 1)

    def show_text(self, text: str, badge: str = "") -> None:
        self.header.setText(f"Response {self.letter}" + (f"   {badge}" if badge else ""))
        if self.browser.property("source_text") != text:
            self.browser.setProperty("source_text", text)
            self.browser.show_markdown(text)


class ResponsesView(QWidget):
    """The responses of an item in the order shown: side by side, in a grid, or stacked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.panes: list[ResponsePane] = []
        self.narrow = False
        self.sync = False
        self.diff = False
        self._syncing = False
        self._columns = 0

    def set_count(self, n: int) -> None:
        while len(self.panes) < n:
            pane = ResponsePane(chr(ord("A") + len(self.panes)), self)
            pane.browser.verticalScrollBar().valueChanged.connect(
                lambda _v, p=pane: self._scrolled(p))
            self.panes.append(pane)
        self._place(n)

    def _place(self, n: int) -> None:
        columns = 1 if self.narrow else min(max(n, 1), 3)
        for i, pane in enumerate(self.panes):
            self.grid.removeWidget(pane)
            pane.setVisible(i < n)
            if i < n:
                self.grid.addWidget(pane, i // columns, i % columns)
        self._columns = columns
        self.setVisible(n > 0)

    def set_narrow(self, narrow: bool) -> None:
        if narrow != self.narrow:
            self.narrow = narrow
            self._place(self.visible_count())

    def visible_count(self) -> int:
        return sum(1 for p in self.panes if not p.isHidden())

    def show_item(self, item: Item, shown: list[str], badges: dict[str, str]) -> None:
        self.set_count(len(shown))
        for pane, rid in zip(self.panes, shown, strict=False):
            pane.show_text(item.response(rid).text, badges.get(rid, ""))
        self.apply_diff()

    def apply_diff(self) -> None:
        """Highlight the words two responses do not share (or clear the highlight)."""
        shown = [p for p in self.panes if not p.isHidden()]
        for pane in shown:
            pane.browser.setExtraSelections([])
        if not self.diff or len(shown) != 2:
            return
        a, b = (p.browser.toPlainText() for p in shown)
        for pane, spans in zip(shown, differing_spans(a, b), strict=True):
            selections = []
            for start, end in spans:
                sel = QTextBrowser.ExtraSelection()
                cur = QTextCursor(pane.browser.document())
                cur.setPosition(start)
                cur.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                sel.cursor = cur
                fmt = QTextCharFormat()
                fmt.setBackground(QColor(255, 214, 102, 150))
                fmt.setFontUnderline(True)  # not colour alone
                sel.format = fmt
                selections.append(sel)
            pane.browser.setExtraSelections(selections)

    def _scrolled(self, source: ResponsePane) -> None:
        if not self.sync or self._syncing:
            return
        bar = source.browser.verticalScrollBar()
        share = bar.value() / bar.maximum() if bar.maximum() else 0.0
        self._syncing = True
        try:
            for pane in self.panes:
                if pane is not source and not pane.isHidden():
                    other = pane.browser.verticalScrollBar()
                    other.setValue(round(share * other.maximum()))
        finally:
            self._syncing = False

    def page(self, direction: int, only: int | None = None) -> None:
        """Scroll the responses (or one of them) a page down (1) or up (-1)."""
        for i, pane in enumerate(self.panes):
            if pane.isHidden() or (only is not None and i != only):
                continue
            bar = pane.browser.verticalScrollBar()
            bar.setValue(bar.value() + direction * bar.pageStep())

    def to_top(self) -> None:
        for pane in self.panes:
            pane.browser.verticalScrollBar().setValue(0)


def scroll_to_heading(browser: QTextBrowser, heading: str) -> bool:
    """Bring the Markdown heading with this text to the top of the view; False if absent."""
    wanted = heading.strip().lower()
    block = browser.document().begin()
    while block.isValid():
        if block.blockFormat().headingLevel() and block.text().strip().lower() == wanted:
            bar = browser.verticalScrollBar()
            top = browser.document().documentLayout().blockBoundingRect(block).top()
            bar.setValue(int(top))
            return True
        block = block.next()
    return False
