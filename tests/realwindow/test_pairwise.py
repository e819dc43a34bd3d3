"""The pairwise demo by real keys: decisions reach the store, and what each costs in keystrokes."""

from __future__ import annotations

PROJECT = "demo-pairwise"


def answer(state, question: str):
    return state["labeling"]["pending"][question]["value"]


def submittable(state) -> bool:
    return not state["labeling"]["missing"]


def test_three_items_by_keys_three_keystrokes_a_decision(demo_app):
    """A answers the first question and focus moves on by itself; T the second; Ctrl+Enter submits."""
    decided = []
    for _ in range(3):
        s = demo_app.state()
        item = s["labeling"]["item"]
        assert s["labeling"]["questions"][:2] == ["helpful", "harmless"]
        assert s["labeling"]["required"] == ["helpful", "harmless"]  # any other is optional
        before = demo_app.keystrokes
        s = demo_app.key("a", until=lambda s: s["labeling"]["focus"] == 1)  # no Tab needed
        assert answer(s, "helpful") == {"key": "A"} and answer(s, "harmless") is None
        s = demo_app.key("t", until=lambda s: answer(s, "harmless") == {"key": "tie"})
        assert submittable(s), s["labeling"]["missing"]
        s = demo_app.key("ctrl+Return", until=lambda s, item=item: s["labeling"]["item"] != item)
        assert demo_app.keystrokes - before == 3
        decided.append(item)
        labels = {lab["question"]: lab for lab in demo_app.labels(PROJECT, item)}
        helpful = labels["helpful"]
        assert helpful["revision"] == 1 and helpful["answer"]["preferred"] == helpful["shown_order"][0]
        assert labels["harmless"]["answer"]["choice"] == "tie"
    assert s["labeling"]["labeled"] == 3
    assert {lab["item"] for lab in demo_app.labels(PROJECT)} == set(decided)
    assert demo_app.keystrokes / len(decided) == 3


def test_one_key_a_question_with_tab_between_and_ctrl_enter(demo_app):
    """The keys as DESIGN.md teaches them: one per question, Tab to the next, Ctrl+Enter."""
    item = demo_app.state()["labeling"]["item"]
    for key in ("a", "Tab", "t"):
        demo_app.key(key)
    demo_app.key("ctrl+Return")
    assert demo_app.keystrokes == 4
    labels = {lab["question"]: lab["answer"] for lab in demo_app.labels(PROJECT, item)}
    assert (labels.get("harmless") or {}).get("choice") == "tie", labels
    assert labels["helpful"]["choice"] != "tie"


def test_a_wrong_key_undone_and_corrected(demo_app):
    """A pressed by mistake, Ctrl+Z, then B: the first question's answer is B."""
    demo_app.key("a", until=lambda s: s["labeling"]["focus"] == 1)
    demo_app.key("ctrl+z", until=lambda s: answer(s, "helpful") is None)
    s = demo_app.key("b")
    assert answer(s, "helpful") == {"key": "B"}, s["labeling"]["pending"]
    assert answer(s, "harmless") is None
