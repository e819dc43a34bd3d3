"""Responses and prompts show the text as written: each source line on a line of its own, code
indented, tables as tables, HTML as text; the word-difference highlight stays readable."""

from __future__ import annotations

import json
import re

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QTextEdit

from annotary.core.items import Item
from annotary.paths import resources_dir
from annotary.ui.theme import apply_theme
from annotary.ui.widgets import (
    ResponsesView,
    SafeBrowser,
    contrast,
    diff_background,
    prompt_markdown,
)
from tests.conftest import screenshot

WORD = re.compile(r"[^\W_]+")
LIST_MARKER = re.compile(r"^\s*(>\s*)*([-*+]|\d{1,9}[.)])\s+")
FENCE = re.compile(r"^\s*(```|~~~)")

LETTER = """Dr. Ada Lee
Springfield Clinic
12 Main Street

3 December 2026

Dear Mr. Novak,

Your results are normal.
Please book a follow-up
in six months.

Yours sincerely,
Ada Lee, MD"""

POEM = """Whose woods these are I think I know.
   His house is in the village though;
He will not see me stopping here
   To watch his woods fill up with snow."""

MARKDOWN_LIST = """Take these steps:
- rest for **two** days
- drink fluids
  and eat lightly
1. call if it gets worse
2. see a doctor"""

CODE = """Here is the script:
```python
def dose(weight_kg):
    if weight_kg < 10:
        return 0
    return weight_kg * 15
```
And an indented one:

    for x in range(3):
        print(x)"""

TABLE = """Dosing by weight:
| Weight | Dose |
|:--|--:|
| 10 kg | 150 mg |
| 20 kg | 300 mg |
Check the label."""

NOT_MARKDOWN = """Score: 5 * 3 * 2 = 30
file_name_here and snake_case_names
#1 priority: C# and F#
a < b > c and x<y"""

HTML_LOOKING = """<b>not bold</b> and <i>not italic</i>
<script>alert(1)</script>
<img src="http://example.com/x.png">
<a href="http://example.com">no link</a>"""


def visible_lines(view: SafeBrowser) -> list[str]:
    """The text of each line on screen, top to bottom (table cells of a row on one line)."""
    doc = view.document()
    layout = doc.documentLayout()
    rows: dict[int, list[tuple[float, str]]] = {}
    block = doc.begin()
    while block.isValid():
        top = layout.blockBoundingRect(block).top()
        lines = block.layout()
        for n in range(lines.lineCount()):
            line = lines.lineAt(n)
            text = block.text()[line.textStart(): line.textStart() + line.textLength()]
            text = text.rstrip("\u2028")  # the line separator that ends a line of a paragraph
            rows.setdefault(round(top + line.y()), []).append((layout.blockBoundingRect(block).left(), text))
        block = block.next()
    return [" ".join(t for _, t in sorted(parts)) for _, parts in sorted(rows.items())]


def words(line: str) -> list[str]:
    return WORD.findall(LIST_MARKER.sub("", line))


def render(qtbot, text: str, *, wrap: bool = False) -> SafeBrowser:
    view = SafeBrowser("Response")
    qtbot.addWidget(view)
    if not wrap:  # one screen line per text line: a long source line does not wrap here
        view.setLineWrapMode(QTextEdit.LineWrapMode.NoWrap)
    view.resize(900, 700)
    view.show()
    view.show_as_written(text)
    return view


def assert_lines_kept(view: SafeBrowser, text: str) -> None:
    shown = [words(line) for line in visible_lines(view)]
    for line in text.split("\n"):
        if FENCE.match(line) or re.fullmatch(r"[\s|:-]*", line):
            continue  # fences and a table's delimiter row are markup, not text
        if words(line):
            assert words(line) in shown, f"{line!r} is not a line of its own in {visible_lines(view)}"


@pytest.mark.parametrize("name, text", [
    ("letter", LETTER), ("poem", POEM), ("markdown-list", MARKDOWN_LIST), ("code", CODE),
    ("table", TABLE), ("not-markdown", NOT_MARKDOWN), ("html-looking", HTML_LOOKING),
])
def test_each_source_line_is_a_line_on_screen(qtbot, name, text):
    view = render(qtbot, text)
    assert_lines_kept(view, text)
    screenshot(view, f"as-written-{name}")


def test_plain_markdown_rendering_would_join_the_lines(qtbot):
    """The check above can fail: Markdown itself runs a plain list into one line."""
    view = render(qtbot, LETTER)
    view.show_markdown(LETTER)
    with pytest.raises(AssertionError):
        assert_lines_kept(view, LETTER)


def test_healthbench_responses_keep_their_lines(qtbot):
    """Every response of the HealthBench demo (plain lists, Markdown lists, headings)."""
    items = [json.loads(line) for line in
             (resources_dir() / "demo-rubric" / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    earache = items[0]["responses"][0]["text"]
    assert "Severe pain\nFever\nDrainage" in earache
    view = render(qtbot, earache)
    lines = visible_lines(view)
    assert ["Severe pain", "Fever"] == lines[lines.index("Severe pain"):lines.index("Fever") + 1]
    for item in items:
        for response in item["responses"]:
            view.show_as_written(response["text"])
            assert_lines_kept(view, response["text"])


def test_code_keeps_its_indentation_and_a_fixed_width_font(qtbot):
    view = render(qtbot, CODE)
    lines = visible_lines(view)
    assert "        return 0" in lines and "    return weight_kg * 15" in lines
    assert "    print(x)" in lines  # the indented block keeps its inner indentation
    block = view.document().findBlock(view.toPlainText().index("def dose"))
    assert block.charFormat().fontFixedPitch() or block.blockFormat().nonBreakableLines()


def test_a_table_is_a_table(qtbot):
    view = render(qtbot, TABLE)
    lines = visible_lines(view)
    assert "10 kg 150 mg" in lines and "Check the label." in lines
    assert "|" not in view.toPlainText()


def test_html_is_shown_as_text_and_loads_nothing(qtbot):
    view = render(qtbot, HTML_LOOKING)
    text = view.toPlainText()
    for tag in ("<b>not bold</b>", "<script>alert(1)</script>", '<img src="http://example.com/x.png">',
                '<a href="http://example.com">no link</a>'):
        assert tag in text
    cursor = view.textCursor()
    cursor.setPosition(text.index("not bold") + 1)
    assert not cursor.charFormat().font().bold()
    assert not view.openLinks() and not view.openExternalLinks()
    view.show_as_written("![x](http://example.com/x.png)\n[link](http://example.com)")
    assert view.loadResource(2, None) is None


def test_stars_underscores_and_hashes_that_are_not_markdown_show_as_typed(qtbot):
    view = render(qtbot, NOT_MARKDOWN)
    assert view.toPlainText().split("\n") == NOT_MARKDOWN.split("\n")


def test_long_lines_still_wrap_to_the_width(qtbot):
    text = "A long line " * 40 + "\nNext line"
    view = render(qtbot, text, wrap=True)
    view.resize(400, 300)
    qtbot.waitUntil(lambda: len(visible_lines(view)) > 3)
    lines = visible_lines(view)
    assert len(lines) > 3 and lines[-1] == "Next line"
    assert view.horizontalScrollBar().maximum() == 0


def test_the_prompt_keeps_its_lines_in_every_turn(qtbot):
    item = Item(id="c1", prompt=[
        {"role": "user", "content": "My symptoms:\nheadache\nfever"},
        {"role": "assistant", "content": "Since when?\n```\nunclosed code"},
        {"role": "user", "content": "Two days\nno rash"}], context="Age: 34\nSex: F")
    view = render(qtbot, "")
    view.show_markdown(prompt_markdown(item))
    lines = visible_lines(view)
    for line in ("My symptoms:", "headache", "fever", "Since when?", "unclosed code", "Two days",
                 "no rash", "Age: 34", "Sex: F", "User:", "Assistant:", "Input:"):
        assert line in lines
    # the unclosed fence of a turn ends with it: the next turn is not shown as code
    after = view.document().findBlock(view.toPlainText().index("Two days"))
    assert not after.charFormat().fontFixedPitch()
    single = Item(id="s1", prompt="Line one\nLine two")
    view.show_markdown(prompt_markdown(single))
    assert visible_lines(view) == ["Line one", "Line two"]


def test_the_demo_rubric_response_in_the_window(qtbot, window):
    window.run_command("file.demo")
    window.resize(1000, 720)
    window.open_project("demo-rubric")
    qtbot.wait(10)
    browser = window.labeling.responses.panes[0].browser
    lines = visible_lines(browser)
    for line in ("Severe pain", "Fever", "Hearing loss", "In Boston, Massachusetts:"):
        assert line in lines
    # the response is read from its start (the text cursor is not left at its end, in sight)
    assert browser.verticalScrollBar().maximum() > 0 and browser.verticalScrollBar().value() == 0
    assert browser.textCursor().position() == 0
    screenshot(window, "as-written-demo-rubric")
    # a conversation still opens at its last turn, the one being answered
    window.open_project("demo-pairwise")
    window.labeling.flow.jump("oasst-fe2814eb")
    qtbot.wait(10)
    bar = window.labeling.prompt.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()


@pytest.mark.parametrize("theme", ["light", "dark", "high-contrast"])
def test_word_differences_stay_readable_in_every_theme(qtbot, theme):
    app = QApplication.instance()
    apply_theme(app, theme=theme, text_size=12)
    try:
        view = ResponsesView()
        qtbot.addWidget(view)
        view.resize(900, 300)
        item = Item(id="d", prompt="p", responses=[
            {"id": "a", "text": "Take two tablets\nwith water after meals."},
            {"id": "b", "text": "Take three tablets\nwith milk after meals."}])
        view.diff = True
        view.show_item(item, ["a", "b"], {})
        view.show()
        palette = view.panes[0].browser.palette()
        text = palette.color(QPalette.ColorRole.Text)
        base = palette.color(QPalette.ColorRole.Base)
        selections = view.panes[0].browser.extraSelections()
        assert [s.cursor.selectedText() for s in selections] == ["two", "water"]
        for s in selections:
            background = s.format.background().color()
            assert s.format.fontUnderline()  # not colour alone
            assert not s.format.hasProperty(s.format.Property.ForegroundBrush)  # text keeps its colour
            assert contrast(background, text) >= 4.5
            assert contrast(background, base) > 1.2  # and the highlight is visible
            assert background == diff_background(palette)
        screenshot(view, f"diff-{theme}")
    finally:
        apply_theme(app, theme="light", text_size=12)


def test_the_highlight_follows_a_theme_change(qtbot):
    app = QApplication.instance()
    view = ResponsesView()
    qtbot.addWidget(view)
    item = Item(id="d", prompt="p", responses=[{"id": "a", "text": "one two"}, {"id": "b", "text": "one three"}])
    view.diff = True
    view.show_item(item, ["a", "b"], {})
    view.show()

    def highlight():
        selections = view.panes[0].browser.extraSelections()
        return QColor(selections[0].format.background().color())

    apply_theme(app, theme="light", text_size=12)
    light = highlight()
    try:
        apply_theme(app, theme="dark", text_size=12)
        qtbot.waitUntil(lambda: highlight() != light)
        assert highlight().lightness() < 128
        assert highlight() == diff_background(view.panes[0].browser.palette())
    finally:
        apply_theme(app, theme="light", text_size=12)


def test_lines_of_one_paragraph_stay_one_block(qtbot):
    """Lines of a paragraph are parted by line breaks, not spaced as paragraphs, and the second
    line of a list item gets no bullet of its own."""
    view = render(qtbot, MARKDOWN_LIST)
    doc = view.document()
    item = doc.findBlock(view.toPlainText().index("drink fluids"))
    assert item.text() == "drink fluids\u2028and eat lightly" and item.textList() is not None
    assert item.textList().count() == 2  # rest, drink: the continuation is not a third bullet
    view.show_as_written(LETTER)
    address = view.document().findBlock(view.toPlainText().index("Springfield"))
    assert address.text() == "Dr. Ada Lee\u2028Springfield Clinic\u202812 Main Street"
    assert "\u2060" not in view.toPlainText()  # the marks are gone
    assert view.toPlainText().split("\n")[:3] == ["Dr. Ada Lee", "Springfield Clinic", "12 Main Street"]


def test_a_poem_keeps_its_indentation(qtbot):
    view = render(qtbot, POEM)
    shown = view.toPlainText().replace("\u00a0", " ").split("\n")
    assert shown == POEM.split("\n")
    lines = visible_lines(view)
    assert lines[1].startswith("\u00a0\u00a0\u00a0His house") and lines[0].startswith("Whose")
