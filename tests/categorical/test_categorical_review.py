"""A reviewer decides categorical conflicts: digits adopt an annotator's answer, E then the
category keys make a decision of their own; the coordinator's merge makes them final."""

from annotary.bundles.identity import create_identity, load_identity
from annotary.flows.labeling import LabelingFlow
from annotary.flows.modes import MODES, describe
from annotary.ops.adjudication import create_adjudication
from annotary.ops.final import final_answers
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.quality import quality_report
from annotary.ops.results import export_results
from annotary.ops.roster import add_members, export_card
from annotary.store import open_store
from tests.categorical.conftest import PID


def test_reviewer_adopts_and_edits_categorical_decisions(cat_world, tmp_path):
    store = cat_world.copy(tmp_path)
    conflicts = {(c.item_id, c.question_id) for c in quality_report(store).conflicts}
    assert ("case-5", "diagnosis") in conflicts
    reviewer = create_identity(tmp_path / "rae", name="Dr. Rae Vu", role="reviewer")
    card = tmp_path / "rae.card.json"
    export_card(identity=reviewer, out=card)
    add_members(store, cards=[card])
    bundle = tmp_path / "review.annotary"
    coordinator = load_identity(cat_world.root / "coordinator")
    create_adjudication(store, identity=coordinator, reviewer=str(card), out=bundle)

    rstore = open_store(tmp_path / "reviewer.db")
    import_tasks(rstore, bundle, trust_new_key=True)
    flow = LabelingFlow(rstore, PID, reviewer.key_id)
    flow.start()
    decided = {}
    while True:
        item = flow.current.item.id
        for q in flow.spec.questions:
            case = flow.case(q.id)
            if case is None:
                continue
            flow.focus = [x.id for x in flow.spec.questions].index(q.id)
            if q.id == "diagnosis":
                flow.toggle_edit()  # E: the digits are category keys again
                flow.digit(5)  # other
                flow.toggle_edit()
                flow.set_rationale("None of the three diagnoses fits the history", q.id)
            else:
                flow.adopt(1)
                if flow.overrides_majority(q.id):
                    flow.set_rationale("the first annotator read the whole answer", q.id)
            state = flow.current
            answer = MODES[q.mode].to_answer(q, state.pending[q.id].value, state.item, state.shown_order)
            decided[(item, q.id)] = describe(q, answer, state.item, state.shown_order)
        assert flow.submit(advance=False).ok, flow.missing()
        if not flow.next():
            break
    assert set(decided) == conflicts
    assert decided[("case-5", "diagnosis")] == "other"
    out = tmp_path / "decisions.annotary"
    export_results(rstore, project_id=PID, identity=reviewer, out=out)
    [report] = merge_results(store, paths=[out])
    assert report.refusal is None and report.accepted == len(conflicts)
    finals = {(f.item_id, f.question_id): f for f in final_answers(store)}
    assert finals[("case-5", "diagnosis")].provenance == "adjudicated"
    assert finals[("case-5", "diagnosis")].answer["categories"] == ["other"]
