"""Ranking, scoring, rubric and demonstration flows, and several questions on one item."""

import pytest

from annotary.core.errors import LabelError
from annotary.flows.labeling import LabelingFlow
from annotary.ops import queries
from annotary.ops.importing import import_tasks
from tests.conftest import (
    DEMO_Q,
    RANKING_Q,
    RUBRIC_Q,
    SCORING_Q,
    demo_items,
    ranking_items,
    rubric_items,
    spec_of,
)


@pytest.fixture
def open_flow(store, identity, make_bundle):
    def make(spec, items):
        import_tasks(store, make_bundle(spec, items), trust_new_key=True)
        flow = LabelingFlow(store, spec["project_id"], identity.key_id)
        flow.start()
        return flow
    return make


def stored(flow, item_id):
    labels = queries.current_labels(flow.store, flow.project_id, flow.annotator, item_id)
    return {lab.question_id: lab for lab in labels}


# -- ranking ----------------------------------------------------------------------------------
def test_ranking_typed_in_order_with_tie_and_backspace(open_flow):
    flow = open_flow(spec_of(RANKING_Q), ranking_items())
    shown = flow.current.shown_order
    flow.digit(3)
    flow.digit(1)
    with pytest.raises(LabelError, match="response 3 is already ranked"):
        flow.digit(3)
    flow.backspace()  # takes back response 1
    flow.digit(2)
    flow.rank_tie()
    flow.digit(1)  # ties with response 2
    assert flow.missing() == ["“Order best first”: rank 1 more response"]
    flow.digit(4)
    assert flow.missing() == []
    item_id = flow.current.item.id
    assert flow.submit().ok
    lab = stored(flow, item_id)["rank"]
    assert lab.answer.order == [[shown[2]], [shown[1], shown[0]], [shown[3]]]
    assert lab.shown_order == shown


def test_ranking_refuses_ties_and_bad_numbers_when_not_allowed(open_flow):
    flow = open_flow(spec_of({**RANKING_Q, "allow_ties": False, "top_k": 2}), ranking_items())
    flow.digit(1)
    with pytest.raises(LabelError, match="does not allow ties"):
        flow.rank_tie()
    with pytest.raises(LabelError, match="responses 1 to 4"):
        flow.digit(7)
    flow.digit(2)
    with pytest.raises(LabelError, match="only the best 2"):
        flow.digit(3)
    assert flow.submit().ok  # top-2 is complete


def test_ranking_all_unacceptable(open_flow):
    flow = open_flow(spec_of(RANKING_Q), ranking_items())
    item_id = flow.current.item.id
    flow.toggle_all_unacceptable()
    assert flow.submit().ok
    lab = stored(flow, item_id)["rank"]
    assert lab.answer.all_unacceptable and lab.answer.order == []


def test_ranking_undo_and_revision_restore_order(open_flow):
    flow = open_flow(spec_of(RANKING_Q), ranking_items())
    for n in (4, 3, 2, 1):
        flow.digit(n)
    flow.undo()
    assert sum(len(g) for g in flow.current.pending["rank"].value["order"]) == 3
    flow.redo()
    item_id = flow.current.item.id
    assert flow.submit().ok
    flow.previous()
    order = flow.current.pending["rank"].value["order"]
    assert len(order) == 4 and flow.current.revision == 1
    flow.backspace()
    flow.backspace()
    flow.digit(1)
    flow.digit(2)
    assert flow.submit().ok
    assert stored(flow, item_id)["rank"].revision == 2


# -- scoring ----------------------------------------------------------------------------------
def test_scoring_moves_axis_then_response(open_flow):
    flow = open_flow(spec_of(SCORING_Q), ranking_items(responses=2))
    q = flow.spec.questions[0]
    assert [a.id for a in q.axes] == ["helpfulness", "correctness", "coherence", "complexity", "verbosity"]
    shown = flow.current.shown_order
    for n in (4, 3, 4, 1, 2):  # response A, five axes
        flow.digit(n)
    assert flow.cursor("scores") == (1, 0)  # on to response B
    assert flow.missing() == ["“Rate each response”: response B: Helpfulness, Correctness, Coherence, Complexity, Verbosity"]
    with pytest.raises(LabelError, match="Helpfulness takes 0 to 4"):
        flow.digit(7)
    for n in (0, 0, 2, 1, 0):
        flow.digit(n)
    assert flow.cursor("scores") == (1, 4)  # the last cell: the cursor stays
    flow.move(rows=-1)
    flow.move(rows=1)
    assert flow.cursor("scores") == (1, 4)
    flow.backspace()
    assert flow.missing() == ["“Rate each response”: response B: Verbosity"]
    flow.digit(3)
    item_id = flow.current.item.id
    assert flow.submit().ok
    lab = stored(flow, item_id)["scores"]
    assert lab.answer.scores[shown[0]] == {"helpfulness": 4, "correctness": 3, "coherence": 4,
                                          "complexity": 1, "verbosity": 2}
    assert lab.answer.scores[shown[1]]["verbosity"] == 3


def test_scoring_optional_axis(open_flow):
    q = {"id": "s", "mode": "scoring", "text": "Rate", "axes": [
        {"id": "ok", "name": "OK", "scale": [{"value": 1, "label": "1", "anchor": "bad"},
                                              {"value": 2, "label": "2", "anchor": "good"}]},
        {"id": "style", "name": "Style", "required": False, "scale": [
            {"value": 1, "label": "1", "anchor": "plain"}, {"value": 2, "label": "2", "anchor": "nice"}]}]}
    flow = open_flow(spec_of(q), ranking_items(responses=2))
    flow.digit(2)
    flow.move(columns=1)
    flow.move(rows=-1)
    flow.digit(1)
    assert flow.missing() == []
    assert flow.submit().ok


# -- rubric -----------------------------------------------------------------------------------
def test_rubric_marks_score_and_required(open_flow):
    flow = open_flow(spec_of(RUBRIC_Q), rubric_items())
    crits = [c.id for c in flow.criteria()]
    assert crits == ["doctor", "dose", "fluids", "own"]  # global first, then the item's own
    flow.mark("met")       # doctor, cursor moves on
    flow.mark("not_met")   # dose
    assert flow.cursor("rubric") == (2,)
    flow.move(rows=1)      # skip the optional 'fluids'
    assert flow.missing() == ["“Which criteria does the response meet?”: decide 1 more criterion"]
    flow.toggle_mark()     # own -> met
    assert flow.missing() == []
    value = flow.current.pending["rubric"].value
    from annotary.flows.modes import Rubric

    q = flow.spec.questions[0]
    assert Rubric.score(q, value, flow.current.item) == (9, 11, 9 / 11)
    flow.toggle_mark()     # own -> not met
    with pytest.raises(LabelError, match="no 'partly'"):
        flow.mark("partly")
    item_id = flow.current.item.id
    assert flow.submit().ok
    lab = stored(flow, item_id)["rubric"]
    assert lab.answer.marks == {"doctor": "met", "dose": "not_met", "own": "not_met"}


def test_rubric_negative_points_below_zero_and_keys_of_other_modes_refused(open_flow):
    flow = open_flow(spec_of(RUBRIC_Q), rubric_items())
    flow.mark("not_met")
    flow.mark("met")  # the unsafe dose
    from annotary.flows.modes import Rubric

    earned, positive, score = Rubric.score(flow.spec.questions[0], flow.current.pending["rubric"].value,
                                           flow.current.item)
    assert earned == -8 and positive == 11 and score < 0  # not clipped per item
    with pytest.raises(LabelError, match="works on pairwise"):
        flow.choose("A")
    with pytest.raises(LabelError, match="digits do nothing"):
        flow.digit(1)


# -- demonstration ----------------------------------------------------------------------------
def test_demonstration_edits_draft_and_keeps_it(open_flow):
    flow = open_flow(spec_of(DEMO_Q), demo_items())
    value = flow.current.pending["ideal"].value
    assert value["draft"].startswith("Number 0") and value["text"] == value["draft"]
    assert flow.missing() == []  # the untouched draft already has words; started = False
    flow.set_text("")
    assert flow.missing() == ["“Write the ideal response”: write the response"]
    flow.set_text("Zero")
    assert flow.missing() == ["“Write the ideal response”: write at least 3 words (1 so far)"]
    flow.set_text("Zero holds its breath / the empty bowl of numbers / waits to be counted")
    item_id = flow.current.item.id
    assert flow.submit().ok
    lab = stored(flow, item_id)["ideal"]
    assert lab.answer.text.startswith("Zero holds") and lab.answer.draft.startswith("Number 0")


def test_demonstration_draft_text_survives_reopen(open_flow, store, identity):
    flow = open_flow(spec_of(DEMO_Q), demo_items())
    flow.set_text("Half written")
    flow.flush_draft()
    again = LabelingFlow(store, "modes", identity.key_id)
    again.start()
    assert again.current.pending["ideal"].value["text"] == "Half written"


# -- several questions ------------------------------------------------------------------------
def test_several_questions_of_different_modes(open_flow):
    spec = spec_of({**SCORING_Q, "required": True}, {**RUBRIC_Q, "per_item": True}, project_id="multi")
    flow = open_flow(spec, rubric_items())
    assert flow.focused_question.id == "scores"
    for n in (4, 4, 4, 2, 2):
        flow.digit(n)
    assert flow.focus == 1  # the scoring question is complete: the rubric owns the keys now
    with pytest.raises(LabelError, match="digits do nothing"):
        flow.digit(3)
    assert flow.missing() == ["“Which criteria does the response meet?”: decide 3 more criteria"]
    flow.mark("met")
    flow.mark("not_met")
    flow.mark("met")
    flow.mark("met")
    flow.focus_next(-1)
    assert flow.focused_question.id == "scores"
    item_id = flow.current.item.id
    assert flow.submit().ok
    assert set(stored(flow, item_id)) == {"scores", "rubric"}


def test_calibration_feedback_after_submit(open_flow):
    items = ranking_items(2, 2)
    items[0] |= {"kind": "calibration", "explanation": "m1 cites its source.",
                 "gold": {"rank": {"mode": "ranking", "order": [["m1"], ["m0"]]}}}
    items[1] |= {"kind": "gold", "gold": {"rank": {"mode": "ranking", "order": [["m0"], ["m1"]]}}}
    flow = open_flow(spec_of({**RANKING_Q, "allow_ties": False}), items)
    shown = flow.current.shown_order
    flow.digit(shown.index("m0") + 1)
    flow.digit(shown.index("m1") + 1)
    outcome = flow.submit(stay_on_feedback=True)
    # in the question's words, on its own item: the screen stays until the annotator moves on
    assert "**Order best first**" in outcome.feedback and "rank" not in outcome.feedback
    assert "Expert: " in outcome.feedback and "✗ different" in outcome.feedback
    assert "m1 cites its source." in outcome.feedback
    assert flow.current.item.id == "rank-0" and flow.feedback == outcome.feedback
    assert flow.submitted_unchanged()
    assert flow.next() and flow.feedback == ""
    flow.digit(1)
    flow.digit(2)
    assert flow.submit(advance=False).feedback == ""  # gold items stay hidden


def test_word_count_counts_cjk_characters():
    from annotary.flows.modes import word_count

    assert word_count("Hello there, {{name}}!") == 3
    assert word_count("我是一个助手") == 6
    assert word_count("我是 {{name}} 的助手") == 6
