"""Word-level differences between two texts, for highlighting and draft diffs."""

from __future__ import annotations

import difflib
import re

WORD = re.compile(r"\S+")


def words_with_spans(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


def differing_spans(a: str, b: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Character spans of the words of a and of b that the other text does not share."""
    wa, wb = words_with_spans(a), words_with_spans(b)
    matcher = difflib.SequenceMatcher(None, [w for w, *_ in wa], [w for w, *_ in wb], autojunk=False)
    spans_a, spans_b = [], []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            spans_a.append((wa[i1][1], wa[i2 - 1][2]))
        if j2 > j1:
            spans_b.append((wb[j1][1], wb[j2 - 1][2]))
    return spans_a, spans_b


def word_ops(old: str, new: str) -> list[tuple[str, str]]:
    """(tag, text) runs turning old into new: tag is equal, delete or insert."""
    wo, wn = old.split(), new.split()
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, wo, wn, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("equal", " ".join(wo[i1:i2])))
            continue
        if i2 > i1:
            out.append(("delete", " ".join(wo[i1:i2])))
        if j2 > j1:
            out.append(("insert", " ".join(wn[j1:j2])))
    return out
