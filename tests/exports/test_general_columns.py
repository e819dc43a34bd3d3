"""The general path of an export's final answers, worked out from the report's arrays (no Rating
per label, no consensus object per unit), gives what final_answers gives from ratings: every
mode, gold items, decisions, skips, revisions and an outside machine rater."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import annotary.ops.final as final
from annotary.bundles.identity import load_identity
from annotary.ops.final import export_columns, final_answers
from annotary.ops.quality import Options, quality_report
from tests.conftest import DEMO_Q, RANKING_Q, SCORING_Q, spec_of
from tests.exports.conftest import build, put_raw_decision, put_raw_label, pw, rk

RUBRIC = {"id": "rubric", "mode": "rubric", "text": "Which criteria are met?",
          "criteria": [{"id": "c1", "text": "Safe", "points": 5}, {"id": "c2", "text": "Cites", "points": -2}]}
CAT = {"id": "topic", "mode": "categorical", "text": "Topic?", "categories": ["law", "health", "code"],
       "multiple": True}
PAIR = {"id": "four", "mode": "pairwise", "text": "Which is better?", "scale": "fourway"}
QUESTIONS = [PAIR, RUBRIC, SCORING_Q, RANKING_Q, CAT, DEMO_Q]
ITEMS = [f"i{n}" for n in range(8)]
WHO = ["human:a", "human:b", "human:c"]


def _marks(a: str, b: str) -> dict:
    return {"mode": "rubric", "marks": {"c1": a, "c2": b}}


def _scores(x: int, y: int) -> dict:
    axes = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
    return {"mode": "scoring", "scores": {"r1": dict.fromkeys(axes, x), "r2": dict.fromkeys(axes, y)}}


ANSWERS = {
    "four": [pw("A"), pw("B"), pw("tie"), pw("both_bad")],
    "rubric": [_marks("met", "met"), _marks("met", "not_met"), _marks("not_met", "met"), _marks("partly", "met")],
    "scores": [_scores(4, 1), _scores(4, 2), _scores(0, 3)],
    "rank": [rk("r1", "r2"), rk("r2", "r1"), rk(("r1", "r2"))],
    "topic": [{"mode": "categorical", "categories": c} for c in (["law"], ["health"], ["law", "code"])],
    "ideal": [{"mode": "demonstration", "text": t} for t in ("One good answer.", "Another good answer here.")],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, coordinator_dir):
    items = [{"id": i, "prompt": f"Question {i}?",
              "responses": [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]} for i in ITEMS]
    items[6] |= {"kind": "gold", "gold": {"four": pw("A"), "rubric": _marks("met", "met")}}
    items[7] |= {"kind": "calibration", "gold": {"four": pw("B")}, "explanation": "B is right"}
    judge = {"judge": [(i, q, ANSWERS[q][n % len(ANSWERS[q])]) for n, i in enumerate(ITEMS) for q in ("four", "topic")]}
    store = build(tmp_path_factory.mktemp("general"), spec_of(*QUESTIONS, project_id="general"), items, {},
                  load_identity(coordinator_dir))
    path = tmp_path_factory.mktemp("judge") / "judge.jsonl"
    path.write_text("".join(json.dumps({"item_id": i, "question_id": q, "answer": a}) + "\n" for i, q, a in judge["judge"]))
    from annotary.ops.raters import import_rater_labels

    import_rater_labels(store, rater="judge", path=path, human=False)
    yield store
    store.close()


@st.composite
def labels(draw):
    """(item, question, annotator, revision, retracted, answer or None for a skip)"""
    out = []
    for item in ITEMS:
        for q in draw(st.lists(st.sampled_from(list(ANSWERS)), unique=True, max_size=3)):
            for who in draw(st.lists(st.sampled_from(WHO), unique=True, max_size=3)):
                for revision in range(1, draw(st.integers(1, 2)) + 1):
                    answer = None if draw(st.integers(0, 9)) == 0 else draw(st.sampled_from(ANSWERS[q]))
                    out.append((item, q, who, revision, draw(st.integers(0, 9)) == 0, answer))
    return out


def _store(store, rows, decided) -> None:
    with store.atomic():
        store.conn.execute("DELETE FROM labels WHERE annotator LIKE 'human:%'")
        store.conn.execute("DELETE FROM decisions")
        for item, q, who, revision, retracted, answer in rows:
            put_raw_label(store, "general", item, q, who, revision, retracted, answer, "1", ["r1", "r2"])
        for item, q in decided:
            put_raw_decision(store, "general", item, q, ANSWERS[q][0], "the first is right")


@pytest.mark.parametrize("question", [None, "rubric", "scores", "rank", "topic", "ideal", "four"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_general_columns_are_the_final_answers(project, question, data, monkeypatch):
    _store(project, data.draw(labels()),
           data.draw(st.lists(st.tuples(st.sampled_from(ITEMS), st.sampled_from(list(ANSWERS))), unique=True,
                              max_size=3)))
    opt = Options(min_share=data.draw(st.sampled_from([0.5, 0.75])))
    worked = []
    general = final._general_columns
    monkeypatch.setattr(final, "_general_columns", lambda *a: worked.append(1) or general(*a))

    _, columns = export_columns(project, question=question, options=opt)

    assert worked  # the columns were worked out from the arrays, not by final_answers
    report = quality_report(project, question=question, options=opt, light=True)
    assert list(columns) == final_answers(project, question=question, options=opt, report=report)
