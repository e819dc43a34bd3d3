"""Reusable widgets: a Markdown viewer that loads nothing from outside, and the response panes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QImage,
    QPalette,
    QTextBlock,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from annotary.core.items import Item
from annotary.flows.as_written import LINE_MARK, as_written_markdown
from annotary.flows.diff import differing_spans

MD_FEATURES = (QTextDocument.MarkdownFeature.MarkdownDialectGitHub
               | QTextDocument.MarkdownFeature.MarkdownNoHTML)


READING_LINE = 110  # characters: a longer line wraps, the rest of a wide view stays blank


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
        self.max_chars: int | None = None  # a reading line no longer than this, however wide

    def wrap_width(self, width: int | None = None) -> int:
        """The width the text wraps at in a view this wide (default: the view's own)."""
        width = self.viewport().width() if width is None else width
        if self.max_chars:
            width = min(width, self.fontMetrics().averageCharWidth() * self.max_chars)
        return max(width, 120)

    def content_height(self, width: int | None = None) -> int:
        """How tall the text is when wrapped at wrap_width(width), measured on a copy so the
        shown layout is left alone."""
        doc = self.document().clone()
        doc.setTextWidth(self.wrap_width(width))
        return int(doc.size().height())

    def resizeEvent(self, event):  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.max_chars:
            # long lines tire the eye: past max_chars the text wraps and the rest stays blank
            wrap = self.wrap_width()
            fixed = wrap < self.viewport().width()
            mode = QTextEdit.LineWrapMode.FixedPixelWidth if fixed else QTextEdit.LineWrapMode.WidgetWidth
            if self.lineWrapMode() != mode:
                self.setLineWrapMode(mode)
            if fixed and self.lineWrapColumnOrWidth() != wrap:
                self.setLineWrapColumnOrWidth(wrap)

    def loadResource(self, kind, url):  # noqa: N802 - Qt override
        if kind == QTextDocument.ResourceType.ImageResource.value and url is not None:
            data = self.images.get(url.toString())
            if data:
                image = QImage()
                if image.loadFromData(data):
                    return image
        return None

    def show_markdown(self, text: str) -> None:
        """Markdown written for this app (guidelines, feedback): paragraphs flow as Markdown's."""
        self.document().setMarkdown(text, MD_FEATURES)
        if LINE_MARK in text:
            join_marked_lines(self.document())
        # the cursor would be left at the end, and a view keeps its cursor in sight: at the top
        self.moveCursor(QTextCursor.MoveOperation.Start)

    def show_as_written(self, text: str) -> None:
        """A text from the data (a response, a prompt): every line break kept, Markdown or not."""
        self.show_markdown(as_written_markdown(text))


def _is_code(block: QTextBlock) -> bool:
    fmt = block.blockFormat()
    return fmt.nonBreakableLines() or fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage)


def join_marked_lines(doc: QTextDocument) -> None:
    """Qt makes a block of each line after a hard break: spaced like a paragraph, and inside a
    list item a new bullet. Where as_written_markdown marked a line as going on in the next one,
    the two blocks become one again, the lines parted by a line separator; the marks go."""
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    block = doc.begin()
    while block.isValid():
        following = block.next()
        text = block.text()
        if text.endswith(LINE_MARK) and following.isValid() and not _is_code(block) \
                and not _is_code(following) and not following.blockFormat().headingLevel():
            end = block.position() + len(text)
            cursor.setPosition(end - 1)
            cursor.setPosition(end + 1, QTextCursor.MoveMode.KeepAnchor)  # the mark, the break
            cursor.insertText("\u2028")  # a line separator; the merged block may end marked too
            continue
        block = following
    found = doc.find(LINE_MARK)
    while not found.isNull():  # marks left where a line did not go on (code, a heading)
        found.removeSelectedText()
        found = doc.find(LINE_MARK, found)
    cursor.endEditBlock()


def prompt_markdown(item: Item) -> str:
    """The prompt as Markdown: a single instruction, or the conversation turn by turn; each text
    as written (its line breaks kept, an unclosed code fence closed within its own turn)."""
    parts = []
    turns = item.turns
    if len(turns) == 1 and turns[0].role == "user":
        parts.append(as_written_markdown(turns[0].content))
    else:
        for turn in turns:
            parts.append(f"**{turn.role.capitalize()}:**\n\n{as_written_markdown(turn.content)}")
    if item.context:
        parts.append(f"**Input:**\n\n{as_written_markdown(item.context)}")
    return "\n\n---\n\n".join(parts)


def _luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
            + 0.0722 * channel(color.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def mixed(base: QColor, tint: QColor, share: float) -> QColor:
    return QColor.fromRgbF(*(b + (t - b) * share for b, t in
                             zip(base.getRgbF()[:3], tint.getRgbF()[:3], strict=True)))


def diff_background(palette: QPalette) -> QColor:
    """The word-difference highlight: the theme's accent laid over the text background, as
    strong as it can be while the theme's own text colour keeps a contrast of 4.5:1 on it
    (7:1 in a high-contrast theme)."""
    base, text = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)
    accent = palette.color(QPalette.ColorRole.Highlight)
    wanted = 7.0 if contrast(base, text) >= 15 else 4.5
    for share in (0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1):
        color = mixed(base, accent, share)
        if contrast(color, text) >= wanted:
            return color
    return QColor(base)


class ResponsePane(QWidget):
    def __init__(self, letter: str, parent=None):
        super().__init__(parent)
        self.letter = letter
        self.header = QLabel(f"Response {letter}")
        self.header.setObjectName("paneHeader")
        self.browser = SafeBrowser(f"Response {letter}")
        self.browser.max_chars = READING_LINE
        # a scroll bar that comes and goes makes Qt lay a long response out twice per item
        self.browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setObjectName("responseCard")  # drawn as a card by the theme
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.header.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 4, 6)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        layout.addWidget(self.browser, 1)

    def show_text(self, text: str, badge: str = "") -> None:
        self.header.setText(f"Response {self.letter}" + (f"   {badge}" if badge else ""))
        if self.browser.property("source_text") != text:
            self.browser.setProperty("source_text", text)
            self.browser.show_as_written(text)


class ResponsesView(QWidget):
    """The responses of an item in the order shown: side by side, in a grid, or stacked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(10)
        self.panes: list[ResponsePane] = []
        self.narrow = False
        self.sync = False
        self.diff = False
        self._syncing = False
        self._columns = 0
        self._restyle_pending = False

    def set_count(self, n: int) -> None:
        while len(self.panes) < n:
            pane = ResponsePane(chr(ord("A") + len(self.panes)), self)
            pane.browser.verticalScrollBar().valueChanged.connect(
                lambda _v, p=pane: self._scrolled(p))
            pane.browser.installEventFilter(self)
            self.panes.append(pane)
        self._place(n)

    def _place(self, n: int) -> None:
        # four responses as two rows of two: a row of three and one alone wastes a third
        columns = 1 if self.narrow else 2 if n == 4 else min(max(n, 1), 3)
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
            background = diff_background(pane.browser.palette())
            underline = pane.browser.palette().color(QPalette.ColorRole.Text)
            for start, end in spans:
                sel = QTextBrowser.ExtraSelection()
                cur = QTextCursor(pane.browser.document())
                cur.setPosition(start)
                cur.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                sel.cursor = cur
                fmt = QTextCharFormat()
                fmt.setBackground(background)  # the text keeps the theme's colour
                fmt.setFontUnderline(True)  # not colour alone
                fmt.setUnderlineColor(underline)
                sel.format = fmt
                selections.append(sel)
            pane.browser.setExtraSelections(selections)

    RESTYLED = (QEvent.Type.PaletteChange, QEvent.Type.StyleChange)

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() in self.RESTYLED:
            self._restyle_soon()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() in self.RESTYLED:
            self._restyle_soon()
        return False

    def _restyle_soon(self) -> None:
        """A new theme: the highlight follows its colours, once the style sheet has given the
        panes theirs (palette and style sheet arrive one after the other)."""
        if self.diff and not self._restyle_pending:
            self._restyle_pending = True
            QTimer.singleShot(0, self, self._restyle)  # dropped if the view is gone

    def _restyle(self) -> None:
        self._restyle_pending = False
        self.apply_diff()

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
