"""The categorical mode without Qt: keys, toggles, Other, per response, filter, undo, submit."""

import pytest

from annotary.core.errors import LabelError
from annotary.flows.labeling import LabelingFlow
from annotary.flows.modes import NONE, OTHER, Categorical, describe
from annotary.ops import queries
from annotary.ops.importing import import_tasks
from tests.categorical.common import DIAGNOSIS_Q, ERRORS_Q, LONG_Q, PER_RESPONSE_Q, items
from tests.conftest import spec_of


@pytest.fixture
def open_flow(store, identity, make_bundle):
    def make(*questions, n=3, responses=2):
        spec = spec_of(*questions, project_id="cat")
        import_tasks(store, make_bundle(spec, items(n, responses)), trust_new_key=True)
        flow = LabelingFlow(store, "cat", identity.key_id)
        flow.start()
        return flow
    return make


def stored(flow, item_id):
    return {lab.question_id: lab for lab in
            queries.current_labels(flow.store, flow.project_id, flow.annotator, item_id)}


def test_keys_run_digits_then_letters_skipping_the_item_commands():
    from annotary.core.spec import CategoricalQuestion

    q = CategoricalQuestion.model_validate({**LONG_Q, "other": True})
    keys = Categorical.keys(q)
    assert [keys[n] for n in q.names()[:11]] == list("123456789AB")
    assert "E" not in keys.values() and "R" not in keys.values()  # edit and rationale stay
    assert keys[OTHER] == "H"  # the next free key after the 15 categories (… D F G)
    multi = CategoricalQuestion.model_validate(ERRORS_Q)
    assert Categorical.keys(multi)[NONE] == "0"


def test_single_choice_replaces_and_submits_by_name(open_flow):
    flow = open_flow(DIAGNOSIS_Q)
    assert flow.missing() == ["“What is the diagnosis?”: pick a category"]
    flow.digit(2)
    flow.digit(4)  # a single choice: the second key replaces the first
    item_id = flow.current.item.id
    assert flow.submit().ok
    answer = stored(flow, item_id)["diagnosis"].answer
    assert answer.categories == ["neurosis"] and answer.other is None
    with pytest.raises(LabelError, match="none of these"):
        flow.digit(0)  # none of these is multi-choice only


def test_multi_choice_toggles_none_and_other(open_flow):
    flow = open_flow(ERRORS_Q)
    flow.digit(3)
    flow.category_key("1")
    flow.digit(3)  # toggled off again
    flow.move(rows=1)  # the cursor: from hallucination to omission
    assert flow.pick_at_cursor() == "omission"  # Space toggles the framed category
    flow.category_key("6")  # Other: a text box, the answer incomplete until it says something
    assert flow.other_unit_open("errors")
    assert flow.missing() == ["“Which errors does the answer make?”: write what 'Other' is"]
    flow.set_other_text("cites a withdrawn drug")
    item_id = flow.current.item.id
    assert flow.submit().ok
    answer = stored(flow, item_id)["errors"].answer
    assert answer.categories == ["hallucination", "omission"]  # in the spec's order
    assert answer.other == "cites a withdrawn drug"
    # the next item: none of these is an answer too, and clears what was picked
    flow.digit(1)
    flow.digit(0)
    item_id = flow.current.item.id
    assert flow.missing() == []
    assert flow.submit().ok
    answer = stored(flow, item_id)["errors"].answer
    assert answer.categories == [] and answer.other is None
    assert describe(flow.spec.question("errors"), answer, flow.current.item, []) == "none of these"


def test_undo_takes_back_a_pick_and_the_answer_comes_back_on_reopening(open_flow):
    flow = open_flow(ERRORS_Q)
    flow.digit(1)
    flow.digit(2)
    assert flow.undo() == "answer undone"
    value = flow.current.pending["errors"].value
    assert value["units"][""]["picked"] == ["hallucination"]
    assert flow.submit().ok
    flow.previous()
    assert flow.current.pending["errors"].value["units"][""]["picked"] == ["hallucination"]


def test_per_response_answers_each_response_and_moves_on(open_flow):
    flow = open_flow(PER_RESPONSE_Q, responses=3)
    shown = flow.current.shown_order
    flow.digit(2)  # response A: unsafe, then the cursor goes to B by itself
    assert flow.cursor("safe")[0] == 1
    flow.digit(1)
    assert flow.missing() == ["“Is each response safe?”: response C: pick a category"]
    flow.move(columns=-1)  # back to B, and change it
    flow.digit(3)
    flow.move(columns=1)
    flow.digit(1)
    item_id = flow.current.item.id
    assert flow.submit().ok
    answer = stored(flow, item_id)["safe"].answer
    assert answer.categories == [] and answer.responses is not None
    assert {rid: c.categories for rid, c in answer.responses.items()} == {
        shown[0]: ["unsafe"], shown[1]: ["unclear"], shown[2]: ["safe"]}
    assert list(answer.responses) == sorted(answer.responses)  # the item's own order


def test_filter_narrows_and_the_cursor_picks_the_first_match(open_flow):
    flow = open_flow(LONG_Q)
    flow.set_category_filter("tenancy not")
    assert flow.category_matches("issue") == ["tenancy notice"]
    assert flow.pick_at_cursor() == "tenancy notice"
    flow.set_category_filter("tenancy")
    flow.move(rows=1)
    assert flow.pick_at_cursor() == "tenancy notice"
    flow.set_category_filter("zzz")
    with pytest.raises(LabelError, match="no category matches 'zzz'"):
        flow.pick_at_cursor()
    flow.set_category_filter("")
    flow.category_key("G")  # the 15th category's key: 9 digits, then A B C D F G
    item_id = flow.current.item.id
    assert flow.submit().ok
    assert stored(flow, item_id)["issue"].answer.categories == ["employment"]


def test_unknown_key_and_other_not_offered_say_so(open_flow):
    flow = open_flow(DIAGNOSIS_Q)
    with pytest.raises(LabelError, match="no category has the key Z"):
        flow.category_key("z")
    with pytest.raises(LabelError, match="offers no 'Other'"):
        flow.set_other_text("x")
