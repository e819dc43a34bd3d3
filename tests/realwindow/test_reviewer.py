"""The reviewer's screen by real keys: what is shown as decided is what is saved."""

from __future__ import annotations


def test_adopt_an_answer_by_its_number_and_decide(reviewer_app):
    s = reviewer_app.state()
    assert s["labeling"]["review"] and s["focus_widget"]["accessible"] == "Labeling screen", s
    item, question = s["labeling"]["item"], s["labeling"]["questions"][s["labeling"]["focus"]]
    reviewer_app.key("2", until=lambda s: s["labeling"]["pending"][question]["value"] is not None)
    reviewer_app.key("ctrl+Return", until=lambda s: s["labeling"]["item"] != item)
    labels = reviewer_app.labels(s["labeling"]["project"], item)
    assert [lab["question"] for lab in labels] == [question] and labels[0]["answer"]


def test_every_answer_shown_is_saved(reviewer_app):
    s = reviewer_app.state()
    item, project = s["labeling"]["item"], s["labeling"]["project"]
    reviewer_app.key("2")  # adopt annotator 2's answer to the first case
    for _ in range(len(s["labeling"]["questions"]) - 1):
        reviewer_app.key("Tab")
        reviewer_app.key("1")
    s = reviewer_app.state()
    shown = {q for q, p in s["labeling"]["pending"].items() if p["value"] is not None}
    reviewer_app.key("ctrl+Return", until=lambda s: s["labeling"]["item"] != item or s["labeling"]["missing"])
    saved = {lab["question"] for lab in reviewer_app.labels(project, item) if lab.get("answer")}
    assert saved == shown
