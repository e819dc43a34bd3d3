"""Spec, item and label models: what they accept, what they refuse, and the A/B mapping."""

import pytest

from annotary.core.errors import ItemError, LabelError, SpecError
from annotary.core.items import Item, check_item_fits
from annotary.core.labels import PairwiseAnswer, pairwise_from_screen, screen_from_pairwise
from annotary.core.spec import PairwiseQuestion, parse_spec


def spec(*questions, **extra):
    return parse_spec({"name": "T", "questions": list(questions), **extra})


PAIR = {"id": "q", "mode": "pairwise", "text": "Which?"}
ITEM = Item(id="i1", prompt="Say hi", responses=[{"id": "r1", "text": "hi"}, {"id": "r2", "text": "yo"}])


def test_every_mode_is_expressible():
    s = spec(
        PAIR,
        {"id": "rank", "mode": "ranking", "text": "Order", "allow_ties": True, "top_k": 2},
        {"id": "score", "mode": "scoring", "text": "Rate", "axes": [
            {"id": "help", "name": "Helpfulness", "scale": [
                {"value": 0, "label": "0", "anchor": "useless"},
                {"value": 1, "label": "1", "anchor": "useful"}]}]},
        {"id": "rub", "mode": "rubric", "text": "Check", "criteria": [
            {"id": "c1", "text": "Advises a doctor", "points": 5},
            {"id": "c2", "text": "Unsafe dose", "points": -8}]},
        {"id": "demo", "mode": "demonstration", "text": "Write the ideal answer"},
    )
    assert [q.mode for q in s.questions] == ["pairwise", "ranking", "scoring", "rubric", "demonstration"]


@pytest.mark.parametrize("bad, where", [
    ({**PAIR, "mode": "essay"}, "questions.0"),
    ({**PAIR, "scale": "sevenway"}, "questions.0.pairwise.scale"),
    ({**PAIR, "points": 12, "scale": "strength"}, "points"),
    ({"id": "s", "mode": "scoring", "text": "x", "axes": [{"id": "a", "name": "A", "scale": [
        {"value": 0, "label": "0"}, {"value": 1, "label": "1", "anchor": "ok"}]}]}, "no anchor text"),
    ({"id": "r", "mode": "rubric", "text": "x", "criteria": [{"id": "c", "text": "t"}]}, "points"),
])
def test_bad_specs_name_the_field(bad, where):
    with pytest.raises(SpecError, match=where.replace(".", r"\.")):
        spec(bad)


def test_duplicate_question_ids_refused():
    with pytest.raises(SpecError, match="question ids repeat: q"):
        spec(PAIR, PAIR)


def test_item_must_fit_questions():
    three = Item(id="i3", prompt="x", responses=[{"id": f"r{n}", "text": "t"} for n in range(3)])
    with pytest.raises(ItemError, match="item 'i3': responses: question 'q' compares 2 responses, item has 3"):
        check_item_fits(three, spec(PAIR))
    ten = Item(id="i10", prompt="x", responses=[{"id": f"r{n}", "text": "t"} for n in range(10)])
    with pytest.raises(ItemError, match="ranks 2 to 9"):
        check_item_fits(ten, spec({"id": "r", "mode": "ranking", "text": "x"}))
    with pytest.raises(ItemError, match="gold: unknown question 'zz'"):
        check_item_fits(ITEM.model_copy(update={"gold": {"zz": "A"}}), spec(PAIR))


def test_conversation_prompt_and_duplicate_response_ids():
    item = Item(id="c", prompt=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"},
                                {"role": "user", "content": "more"}],
                responses=[{"id": "a", "text": "1"}, {"id": "b", "text": "2"}])
    assert [t.role for t in item.turns] == ["user", "assistant", "user"]
    with pytest.raises(ValueError, match="response ids repeat"):
        Item(id="d", prompt="x", responses=[{"id": "a", "text": "1"}, {"id": "a", "text": "2"}])


@pytest.mark.parametrize("scale, key", [("binary", "A"), ("tie", "tie"), ("fourway", "both_bad"), ("fourway", "B")])
def test_screen_choice_round_trips_both_orders(scale, key):
    q = PairwiseQuestion(id="q", text="?", scale=scale)
    for order in (["r1", "r2"], ["r2", "r1"]):
        ans = pairwise_from_screen(q, order, ITEM, key=key)
        assert screen_from_pairwise(q, order, ITEM, ans) == (key, None)
        if key in ("A", "B"):
            assert ans.preferred == order[0 if key == "A" else 1]


def test_strength_points_map_to_item_order():
    q = PairwiseQuestion(id="q", text="?", scale="strength", points=7)
    straight = pairwise_from_screen(q, ["r1", "r2"], ITEM, point=1)
    assert straight == PairwiseAnswer(choice="A", strength=1, preferred="r1")
    flipped = pairwise_from_screen(q, ["r2", "r1"], ITEM, point=1)
    assert flipped == PairwiseAnswer(choice="B", strength=7, preferred="r2")
    middle = pairwise_from_screen(q, ["r2", "r1"], ITEM, point=4)
    assert middle.choice == "tie" and middle.preferred is None
    with pytest.raises(LabelError):
        pairwise_from_screen(q, ["r1", "r2"], ITEM, point=8)


def test_binary_scale_refuses_tie():
    q = PairwiseQuestion(id="q", text="?", scale="binary")
    with pytest.raises(LabelError, match="not an answer of this scale"):
        pairwise_from_screen(q, ["r1", "r2"], ITEM, key="tie")


def test_strength_labels_run_from_a_to_b():
    q = PairwiseQuestion(id="q", text="?", scale="strength", points=8)
    labels = q.strength_labels()
    assert labels[0] == "A much better" and labels[-1] == "B much better" and len(labels) == 8
    odd = PairwiseQuestion(id="q", text="?", scale="strength", points=5).strength_labels()
    assert odd[2] == "About the same"
