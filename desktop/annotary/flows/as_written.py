"""Markdown that shows a text as written: every line break kept, Markdown or not."""

from __future__ import annotations

import re

# an opening or closing code fence (CommonMark allows 0-3 spaces; inside list items it is deeper)
FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
# a GFM table's delimiter row: cells of dashes with optional alignment colons, at least one pipe
TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
HARD_BREAK = "  "
# ends a line whose break joins two lines of one paragraph (the view then keeps them in one
# block, with a line separator, instead of Qt's new block for each hard break); invisible
LINE_MARK = "\u2060"
# a line that starts a Markdown block (heading, quote, list item, code fence, rule or setext
# underline), so it does not continue the paragraph above it
BLOCK_START = re.compile(r"""^[ \t]*(
      \#{1,6}([ \t]|$)
    | >
    | [-+*]([ \t]|$)
    | \d{1,9}[.)]([ \t]|$)
    | `{3,} | ~{3,}
    | [-*_=][-*_=\s]*$
)""", re.VERBOSE)
# a line that is a block by itself: a heading, a rule or a setext underline
SINGLE_LINE = re.compile(r"^[ \t]{0,3}(\#{1,6}([ \t]|$)|[-*_=][-*_=\s]*$)")
# a list item's start: its text begins after the marker and the spaces that follow it
LIST_ITEM = re.compile(r"^[ \t]*([-+*]|\d{1,9}[.)])[ \t]+")
NBSP = "\u00a0"


def _indent(line: str) -> int:
    spaced = line.expandtabs(4)
    return len(spaced) - len(spaced.lstrip(" "))


def _opens_fence(line: str) -> tuple[str, int] | None:
    m = FENCE.match(line)
    if not m:
        return None
    marker, info = m.groups()
    if marker[0] == "`" and "`" in info:  # inline code such as ```x```, not a fence
        return None
    return marker[0], len(marker)


def _closes_fence(line: str, fence: tuple[str, int]) -> bool:
    m = FENCE.match(line)
    return bool(m and m.group(1)[0] == fence[0] and len(m.group(1)) >= fence[1]
                and not m.group(2).strip())


def _starts_table(line: str, following: str | None) -> bool:
    return ("|" in line and following is not None and "|" in following
            and TABLE_DELIMITER.match(following) is not None)


def as_written_markdown(text: str) -> str:
    """The text as Markdown whose rendering keeps each source line on its own line.

    Markdown joins the lines of a paragraph into one ("Severe pain\\nFever" shows as "Severe pain
    Fever"), which garbles lists without markers, letters, poems and addresses. A hard line break
    (two trailing spaces, invisible wherever it is not a break) goes at the end of every line
    followed by another non-blank line, except headings and rules, fenced code, which keeps its
    lines anyway, and tables, whose rows are lines already. When the next line continues the
    paragraph, LINE_MARK goes before the break: Qt makes a new block of each hard break (spaced
    as a paragraph, and a new bullet inside a list item), and the view turns such a pair back
    into one block with a line separator (ui.widgets.join_marked_lines).

    A table needs a blank line before its header row (md4c reads a table only at the start of a
    paragraph), so one is put there. An unclosed code fence is closed, so the text cannot
    swallow what is shown after it. Nothing else changes: Markdown stays Markdown; raw HTML is
    left to the renderer, which must show it as text."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    fence: tuple[str, int] | None = None
    in_table = False
    goes_on = False  # the line before continues into this one (same paragraph)
    base: int | None = None  # where the text of the paragraph's lines starts
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if fence is not None:
            out.append(line)
            if _closes_fence(line, fence):
                fence = None
            continue
        if not line.strip():
            in_table = False
            out.append(line)
            continue
        opened = _opens_fence(line)
        if opened:
            fence = opened
            out.append(line)
            continue
        if in_table and "|" in line:
            out.append(line)
            continue
        if in_table:  # a line without a pipe is not a row here but the text after the table
            in_table = False
            out.append("")
        if _starts_table(line, following):
            if out and out[-1].strip():
                out.append("")
            in_table = True
            out.append(line)
            continue
        if goes_on and base is not None and _indent(line) > base:
            # Markdown drops the indentation of a paragraph's later lines (a poem's, an
            # address's): what goes beyond the paragraph's own is kept as no-break spaces
            line = NBSP * (_indent(line) - base) + line.expandtabs(4).lstrip(" ")
        elif not goes_on:
            item = LIST_ITEM.match(line)
            if item:
                base = len(item.group(0).expandtabs(4))
            elif line.lstrip().startswith(">") or _indent(line) >= 4:
                base = None  # a quote's lines, or indented code (spaces there are the code's)
            else:
                base = _indent(line)
        goes_on = False
        if following is not None and following.strip() and not SINGLE_LINE.match(line):
            after = lines[i + 2] if i + 2 < len(lines) else None
            goes_on = not BLOCK_START.match(following) and not _starts_table(following, after)
            line = line.rstrip(" ") + (LINE_MARK if goes_on else "") + HARD_BREAK
        out.append(line)
    if fence is not None:
        while out and not out[-1].strip():
            out.pop()
        out.append(fence[0] * fence[1])
    return "\n".join(out)
