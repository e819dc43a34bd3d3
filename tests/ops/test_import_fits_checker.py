"""The import's check that items fit the spec (core.items.fits_checker): it refuses exactly the
items check_item_fits refuses, with the same words, whatever items came before."""

from __future__ import annotations

from contextlib import nullcontext as _nothing

import pytest

from annotary.core.errors import ItemError
from annotary.core.items import Item, check_item_fits, fits_checker
from annotary.core.spec import parse_spec

PAIR = {"id": "q", "mode": "pairwise", "text": "Which?"}
RUBRIC = {"id": "rub", "mode": "rubric", "text": "Check", "per_item": False,
          "criteria": [{"id": "c1", "text": "Advises a doctor", "points": 5}]}
DEMO = {"id": "demo", "mode": "demonstration", "text": "Write the ideal answer"}


def item(iid: str, n: int = 2, prompt="Say hi", **extra) -> Item:
    return Item(id=iid, prompt=prompt, responses=[{"id": f"r{k}", "text": "t"} for k in range(n)], **extra)


def verdicts(check, items: list[Item]) -> list[str | None]:
    out = []
    for k, it in enumerate(items, 1):
        try:
            check(it, f"line {k}: ")
            out.append(None)
        except ItemError as err:
            out.append(str(err))
    return out


SEQUENCES = [
    ([PAIR], [item("a"), item("b"), item("c", 3), item("d"), item("e", 1), item("f", 3),
              item("g", gold={"zz": "A"}), item("h", gold={"q": "A"}), item("i")]),
    ([PAIR, RUBRIC], [item("a"), item("b", rubric_criteria=["c1"]),
                      item("c", rubric=[{"id": "x", "text": "t", "points": 1}]), item("d")]),
    ([DEMO], [item("a", 0), item("b", 0, prompt=" "), item("c", 0, prompt=[{"role": "user", "content": ""}]),
              item("d", 0)]),
    ([{**DEMO, "edit_draft": True}, PAIR], [item("a"), item("b", prompt=" "), item("c", 0), item("d")]),
]


@pytest.mark.parametrize("questions,items", SEQUENCES)
def test_the_checker_refuses_what_check_item_fits_refuses(questions, items):
    spec = parse_spec({"name": "T", "questions": questions})
    check = fits_checker(spec)
    got = verdicts(lambda it, where: check(it, lambda: where), items)
    assert got == verdicts(lambda it, where: check_item_fits(it, spec, where), items)
    assert any(got) and not all(got)  # the sequences mix items that fit and items refused


def test_the_place_is_named_only_for_a_refused_item():
    spec = parse_spec({"name": "T", "questions": [PAIR]})
    check, asked = fits_checker(spec), []
    for it in (item("a"), item("b"), item("c", 3)):
        with pytest.raises(ItemError) if it.id == "c" else _nothing():
            check(it, lambda it=it: asked.append(it.id) or "items.jsonl line 3: ")
    assert asked[-1] == "c" and "b" not in asked
