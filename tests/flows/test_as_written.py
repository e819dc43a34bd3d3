"""Texts from the data become Markdown that keeps every line break (no Qt needed)."""

from __future__ import annotations

from annotary.flows.as_written import as_written_markdown


def test_single_line_breaks_become_hard_breaks():
    assert as_written_markdown("Severe pain\nFever\nDrainage") == "Severe pain  \nFever  \nDrainage"


def test_blank_lines_and_last_lines_are_left_alone():
    text = "Dear Sir,\n\nI write\nabout this.\n"
    assert as_written_markdown(text) == "Dear Sir,\n\nI write  \nabout this.\n"


def test_windows_and_old_mac_line_ends_count_as_line_breaks():
    assert as_written_markdown("a\r\nb\rc") == "a  \nb  \nc"


def test_fenced_code_is_untouched_and_an_unclosed_fence_is_closed():
    code = "```python\ndef f():\n    return 1\n```"
    assert as_written_markdown(code) == code
    assert as_written_markdown("Run:\n~~~\nls -l\n  x\n\n") == "Run:  \n~~~\nls -l\n  x\n~~~"
    # a fence in a list item is indented; a longer closing fence closes it too
    nested = "1. Run:\n   ````\n   make\n   `````\n2. Done"
    assert as_written_markdown(nested) == "1. Run:  \n   ````\n   make\n   `````\n2. Done"


def test_inline_triple_backticks_do_not_open_a_fence():
    assert as_written_markdown("use ```x``` here\nnext") == "use ```x``` here  \nnext"


def test_a_table_gets_a_blank_line_before_it_and_keeps_its_rows():
    text = "Doses:\n| drug | mg |\n|:--|--:|\n| a | 5 |\nAfter the table"
    assert as_written_markdown(text) == (
        "Doses:  \n\n| drug | mg |\n|:--|--:|\n| a | 5 |\n\nAfter the table")


def test_a_line_with_a_pipe_is_not_a_table_without_a_delimiter_row():
    assert as_written_markdown("a | b\nc | d") == "a | b  \nc | d"
    assert as_written_markdown("Title\n---\ntext") == "Title  \n---  \ntext"


def test_markdown_stays_markdown():
    text = "# Plan\n- **rest**\n- fluids\n> quoted\n> twice"
    assert as_written_markdown(text) == "# Plan  \n- **rest**  \n- fluids  \n> quoted  \n> twice"
