"""Texts from the data become Markdown that keeps every line break (no Qt needed)."""

from __future__ import annotations

from annotary.flows.as_written import LINE_MARK, as_written_markdown

GOES_ON = LINE_MARK + "  "  # a hard break inside a paragraph, marked to be one block on screen
BREAK = "  "  # a hard break before a line that starts a block of its own


def test_single_line_breaks_become_hard_breaks():
    assert as_written_markdown("Severe pain\nFever\nDrainage") == \
        f"Severe pain{GOES_ON}\nFever{GOES_ON}\nDrainage"


def test_blank_lines_and_last_lines_are_left_alone():
    text = "Dear Sir,\n\nI write\nabout this.\n"
    assert as_written_markdown(text) == f"Dear Sir,\n\nI write{GOES_ON}\nabout this.\n"


def test_windows_and_old_mac_line_ends_count_as_line_breaks():
    assert as_written_markdown("a\r\nb\rc") == f"a{GOES_ON}\nb{GOES_ON}\nc"


def test_fenced_code_is_untouched_and_an_unclosed_fence_is_closed():
    code = "```python\ndef f():\n    return 1\n```"
    assert as_written_markdown(code) == code
    assert as_written_markdown("Run:\n~~~\nls -l\n  x\n\n") == f"Run:{BREAK}\n~~~\nls -l\n  x\n~~~"
    # a fence in a list item is indented; a longer closing fence closes it too
    nested = "1. Run:\n   ````\n   make\n   `````\n2. Done"
    assert as_written_markdown(nested) == f"1. Run:{BREAK}\n   ````\n   make\n   `````\n2. Done"


def test_inline_triple_backticks_do_not_open_a_fence():
    assert as_written_markdown("use ```x``` here\nnext") == f"use ```x``` here{GOES_ON}\nnext"


def test_a_table_gets_a_blank_line_before_it_and_keeps_its_rows():
    text = "Doses:\n| drug | mg |\n|:--|--:|\n| a | 5 |\nAfter the table"
    assert as_written_markdown(text) == (
        f"Doses:{BREAK}\n\n| drug | mg |\n|:--|--:|\n| a | 5 |\n\nAfter the table")


def test_a_line_with_a_pipe_is_not_a_table_without_a_delimiter_row():
    assert as_written_markdown("a | b\nc | d") == f"a | b{GOES_ON}\nc | d"


def test_headings_rules_and_underlines_are_blocks_of_their_own():
    assert as_written_markdown("Title\n---\ntext") == f"Title{BREAK}\n---\ntext"
    assert as_written_markdown("# Plan\nrest\n***\nmore") == f"# Plan\nrest{BREAK}\n***\nmore"


def test_markdown_stays_markdown():
    text = "Plan:\n- **rest**\n  for two days\n- fluids\n> quoted\n> twice\n1. first"
    assert as_written_markdown(text) == (
        f"Plan:{BREAK}\n- **rest**{GOES_ON}\n  for two days{BREAK}\n- fluids{BREAK}\n"
        f"> quoted{BREAK}\n> twice{BREAK}\n1. first")


def test_lines_that_only_look_like_markup_go_on():
    text = "Note\n**bold** start\n-5 degrees\n#1 priority\n<b>tag</b>"
    assert as_written_markdown(text) == (
        f"Note{GOES_ON}\n**bold** start{GOES_ON}\n-5 degrees{GOES_ON}\n#1 priority{GOES_ON}\n<b>tag</b>")


def test_indentation_of_later_lines_is_kept_as_no_break_spaces():
    poem = "Whose woods these are\n   His house is in\n\tthe village"
    assert as_written_markdown(poem) == (
        f"Whose woods these are{GOES_ON}\n\u00a0\u00a0\u00a0His house is in{GOES_ON}\n"
        "\u00a0\u00a0\u00a0\u00a0the village")
    # in a list item only what goes beyond the item's text is indentation
    item = "- drink fluids\n  and eat lightly\n      slowly"
    assert as_written_markdown(item) == (
        f"- drink fluids{GOES_ON}\n  and eat lightly{GOES_ON}\n\u00a0\u00a0\u00a0\u00a0slowly")
    # a paragraph's first line keeps its Markdown meaning (four spaces: code)
    assert as_written_markdown("text\n\n    code\n    more") == f"text\n\n    code{GOES_ON}\n    more"
    assert as_written_markdown("    for x in y:\n        print(x)") == f"    for x in y:{GOES_ON}\n        print(x)"
