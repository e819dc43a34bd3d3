"""The labeling flow without Qt: answering, submitting, revisions, undo, navigation, drafts."""

import pytest

from annotary.core.errors import LabelError
from annotary.flows.labeling import LabelingFlow, shown_order_for
from annotary.ops import queries
from annotary.ops.importing import import_tasks
from tests.conftest import pairwise_spec

PID = "demo-pairwise"


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def flow(demo_store, identity):
    f = LabelingFlow(demo_store, PID, identity.key_id, clock=Clock())
    f.start()
    return f


def current(store, key_id, item_id):
    return {lab.question_id: lab for lab in queries.current_labels(store, PID, key_id, item_id)}


def test_start_shows_first_unlabeled_item(flow):
    assert flow.current.position == 0
    assert flow.progress().done == 0 and flow.progress().total == 32


def test_submit_stores_answers_in_item_order(flow, demo_store, identity):
    state = flow.current
    flow.choose("A")  # the response shown on the left
    assert flow.focus == 1  # moved on to the next unanswered question
    flow.choose("tie")
    item_id = state.item.id
    shown_left = state.shown_order[0]
    flow.clock.t += 42
    outcome = flow.submit()
    assert outcome.ok, outcome.missing
    labels = current(demo_store, identity.key_id, item_id)
    helpful = labels["helpful"]
    assert helpful.answer.preferred == shown_left
    expected = "A" if shown_left == state.item.responses[0].id else "B"
    assert helpful.answer.choice == expected
    assert helpful.shown_order == state.shown_order
    assert helpful.duration_ms == 42000
    assert labels["harmless"].answer.choice == "tie"
    assert flow.current.position == 1  # moved on only after the commit
    assert flow.progress().done == 1


def test_submit_refused_while_required_answer_missing(flow, demo_store, identity):
    flow.choose("B")
    outcome = flow.submit()
    assert not outcome.ok
    assert outcome.missing == ("“Which response is safer?”: choose an answer",)  # its words, not its id
    assert flow.current.position == 0
    assert queries.current_labels(demo_store, PID, identity.key_id) == []


def test_wrong_key_for_scale_is_refused_and_changes_nothing(flow):
    flow.focus = 1  # harmless: binary + tie
    with pytest.raises(LabelError, match="not an answer here"):
        flow.choose("both_bad")
    with pytest.raises(LabelError, match="strength scale"):
        flow.choose_point(3)
    assert flow.current.pending["harmless"].value is None


def test_revision_keeps_every_version(flow, demo_store, identity):
    item_id = flow.current.item.id
    flow.choose("A")
    flow.choose("A")
    assert flow.submit().ok
    flow.previous()
    assert flow.current.item.id == item_id and flow.current.revision == 1
    assert flow.current.pending["helpful"].value == {"key": "A"}  # shown as submitted
    flow.focus = 0
    flow.choose("B")
    assert flow.submit().ok
    revs = queries.label_revisions(demo_store, PID, identity.key_id, item_id)
    assert [(lab.question_id, lab.revision) for lab in revs] == [
        ("harmless", 1), ("harmless", 2), ("helpful", 1), ("helpful", 2)]
    labels = current(demo_store, identity.key_id, item_id)
    assert labels["helpful"].revision == 2
    assert labels["helpful"].answer.preferred == flow_item_shown(flow, demo_store, item_id)[1]
    assert labels["helpful"].created_at == revs[2].created_at  # first-seen time kept


def flow_item_shown(flow, store, item_id):
    item = queries.item(store, PID, item_id)
    return shown_order_for(flow.annotator, item, True)


def test_undo_answer_then_submit_then_redo(flow, demo_store, identity):
    item_id = flow.current.item.id
    flow.choose("A")
    assert flow.undo() == "answer undone"
    assert flow.current.pending["helpful"].value is None
    assert flow.redo() == "answer redone"
    assert flow.current.pending["helpful"].value == {"key": "A"}
    flow.focus = 1
    flow.choose("B")
    assert flow.submit().ok
    assert flow.current.item.id != item_id
    # nothing pending on the new item: undo takes back the submit
    msg = flow.undo()
    assert msg == "Submit of item 1 taken back: its answers are here again, not submitted (moved here)"
    assert flow.current.item.id == item_id
    assert current(demo_store, identity.key_id, item_id) == {}
    assert flow.current.pending["helpful"].value == {"key": "A"}  # the answer comes back, unsubmitted
    assert item_id not in flow.labeled
    msg = flow.redo()
    assert msg == "Submit of item 1 made again"
    assert set(current(demo_store, identity.key_id, item_id)) == {"helpful", "harmless"}
    assert item_id in flow.labeled


def test_undo_with_empty_journal_says_nothing(flow):
    assert flow.undo() is None
    assert flow.redo() is None


def test_new_submit_clears_redo(flow, demo_store, identity):
    flow.choose("A")
    flow.choose("A")
    flow.submit()
    flow.undo()  # back on the first item, its answer unsubmitted
    flow.focus = 0
    flow.choose("B")
    assert flow.submit().ok
    assert flow.redo() is None


def test_navigation_and_jump(flow):
    assert flow.next() and flow.current.position == 1
    assert flow.previous() and flow.current.position == 0
    assert not flow.previous()
    flow.jump("5")
    assert flow.current.position == 4
    flow.jump(flow.ids[10])
    assert flow.current.position == 10
    with pytest.raises(LabelError, match="no item 99"):
        flow.jump("99")
    with pytest.raises(LabelError, match="no item with number or id"):
        flow.jump("nope")
    flow.go_to(len(flow.ids) - 1)
    assert not flow.next()


def test_filters(flow):
    flow.choose("A")
    flow.choose("A")
    flow.toggle_flag("unclear")
    assert flow.submit().ok
    flow.set_filter("flagged")
    assert flow.visible_positions() == [0]
    flow.set_filter("unlabeled")
    assert 0 not in flow.visible_positions() and len(flow.visible_positions()) == 31
    flow.go_to(5)
    assert flow.previous() and flow.current.position == 4
    flow.go_to(1)
    assert not flow.previous()  # item 0 is labeled, so hidden
    with pytest.raises(LabelError):
        flow.set_filter("bogus")


def test_draft_survives_reopen(flow, demo_store, identity):
    item_id = flow.current.item.id
    flow.choose("B")
    assert flow.focus == 1  # on to "harmless", which takes no rationale
    with pytest.raises(LabelError, match="takes no rationale"):
        flow.set_rationale("x")
    flow.set_rationale("B cites the statute", "helpful")
    flow.flush_draft()
    again = LabelingFlow(demo_store, PID, identity.key_id)
    again.jump(item_id)
    assert again.current.pending["helpful"].value == {"key": "B"}
    assert again.current.pending["helpful"].rationale == "B cites the statute"
    assert again.current.modified


def test_skip_with_reason(flow, demo_store, identity):
    item_id = flow.current.item.id
    flow.set_skip("outside my expertise")
    assert flow.missing() == []
    assert flow.submit().ok
    labels = current(demo_store, identity.key_id, item_id)
    assert {lab.skip_reason for lab in labels.values()} == {"outside my expertise"}
    assert all(lab.answer is None for lab in labels.values())


def test_required_rationale_and_confidence(store, identity, make_bundle):
    bundle = make_bundle(pairwise_spec(rationale="required", confidence="required", confidence_scale=3))
    import_tasks(store, bundle, trust_new_key=True)
    f = LabelingFlow(store, "test-project", identity.key_id)
    f.start()
    f.choose("A")
    assert f.missing() == ["“Which is better?”: write a rationale", "“Which is better?”: give a confidence"]
    with pytest.raises(LabelError, match="confidence is 1 to 3"):
        f.set_confidence(4)
    f.set_confidence(2)
    f.set_rationale("  ")
    assert not f.submit().ok
    f.set_rationale("A answers the question")
    assert f.submit().ok
    lab = queries.current_labels(store, "test-project", identity.key_id)[0]
    assert lab.rationale == "A answers the question" and lab.confidence == 2


def test_strength_scale_unshuffles(store, identity, make_bundle):
    bundle = make_bundle(pairwise_spec(scale="strength", points=8))
    import_tasks(store, bundle, trust_new_key=True)
    f = LabelingFlow(store, "test-project", identity.key_id)
    f.start()
    swapped = []
    # both orders within the first items, unless the shuffle is one-sided (2 in 2^32 by chance)
    while f.current is not None and not (len(swapped) >= 6 and any(swapped) and not all(swapped)):
        state = f.current
        f.choose_point(2)  # "A better" on screen
        assert f.submit().ok
        lab = queries.current_labels(store, "test-project", identity.key_id, state.item.id)[0]
        is_swapped = state.shown_order[0] != state.item.responses[0].id
        swapped.append(is_swapped)
        assert lab.answer.strength == (7 if is_swapped else 2)
        assert lab.answer.preferred == state.shown_order[0]
    assert any(swapped) and not all(swapped)  # the order really is shuffled per item


def test_tab_after_an_answer_that_moved_on_does_not_move_again(flow):
    """'A, Tab, T' as the guide teaches answers both questions, as 'A, T' does."""
    flow.choose("A")
    assert flow.focus == 1
    flow.focus_next(1)
    assert flow.focus == 1
    flow.choose("tie")
    assert flow.current.pending["harmless"].value == {"key": "tie"}
    flow.focus_next(1)  # a Tab of its own moves as ever
    assert flow.focus == 2
    flow.focus_next(-1)
    assert flow.focus == 1


def test_undo_takes_back_the_answer_and_the_move_it_made(flow):
    flow.choose("A")
    assert flow.focus == 1
    assert flow.undo() == "answer undone"
    assert flow.focus == 0 and flow.current.pending["helpful"].value is None
    flow.choose("B")
    assert flow.current.pending["helpful"].value == {"key": "B"}
    assert flow.current.pending["harmless"].value is None
