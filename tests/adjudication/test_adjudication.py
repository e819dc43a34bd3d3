"""Conflicts to a reviewer and back: cases, decisions, refusals, provenance."""

import json

import pytest

from annotary.bundles.bundle import read_bundle, write_bundle
from annotary.bundles.records import dump_jsonl
from annotary.core.adjudication import Case, Decision
from annotary.core.errors import AnnotaryError
from annotary.flows.labeling import LabelingFlow
from annotary.ops import queries
from annotary.ops.adjudication import create_adjudication
from annotary.ops.final import final_answers
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.quality import quality_report
from annotary.ops.results import export_results
from annotary.store import open_store

PID = "demo-pairwise"


def test_bundle_holds_every_conflict_with_all_answers(review):
    bundle = read_bundle(review.bundle, expect_kind="adjudication")
    cases = bundle.records("cases.jsonl", Case)
    assert len(cases) == review.cases == review.conflicts > 0
    assert all(len(c.answers) >= 2 for c in cases)
    assert all(a.who.startswith("Annotator ") for c in cases for a in c.answers)  # pseudonymised
    assert all(a.duration_ms and a.shown_order for c in cases for a in c.answers)
    assert any(c.agreement for c in cases)
    # the review spec asks a reason box of every question and requires only the cases
    review_spec = json.loads(bundle.member("spec.json"))
    assert all(q["rationale"] == "optional" and not q["required"] for q in review_spec["questions"])
    items = bundle.member("items.jsonl").decode()
    assert '"gold"' not in items and '"metadata"' not in items


def decide_all(store, reviewer, override_reason="B follows the instruction", items: int | None = None):
    """Decide every case (of the first `items` items only, if given) by adopting annotator 1's answer."""
    flow = LabelingFlow(store, PID, reviewer.key_id)
    flow.start()
    decided = 0
    while True:
        if items is not None:
            if not items:
                return decided
            items -= 1
        for q in flow.spec.questions:
            if flow.case(q.id) is None:
                continue
            flow.focus = [x.id for x in flow.spec.questions].index(q.id)
            flow.adopt(1)
            if flow.overrides_majority(q.id):
                assert any("overrides the majority" in m for m in flow.missing())
                flow.set_rationale(override_reason, q.id)
            decided += 1
        assert flow.submit(advance=False).ok, flow.missing()
        if not flow.next():
            return decided


def test_reviewer_decides_and_coordinator_merges(review, tmp_path):
    rstore = open_store(tmp_path / "reviewer.db")
    change = import_tasks(rstore, review.bundle, trust_new_key=True)
    assert change.counts["cases"] == review.cases
    assert queries.project(rstore, PID).kind == "adjudication"
    decided = decide_all(rstore, review.reviewer)
    assert decided == review.cases
    out = tmp_path / "decisions.annotary"
    export = export_results(rstore, project_id=PID, identity=review.reviewer, out=out)
    assert export.counts["decisions"] == review.cases
    decisions = read_bundle(out, expect_kind="decisions").records("decisions.jsonl", Decision)
    assert all(d.adopted == 0 for d in decisions)
    assert all((d.reason or "") == "B follows the instruction" for d in decisions if d.overrides_majority)

    store = review.copy(tmp_path)
    before = {(c.item_id, c.question_id) for c in quality_report(store).conflicts}
    [report] = merge_results(store, paths=[out])
    assert report.refusal is None and report.accepted == review.cases
    finals = {(f.item_id, f.question_id): f for f in final_answers(store)}
    for key in before:
        assert finals[key].provenance == "adjudicated"
    assert {f.provenance for f in finals.values()} <= {"gold", "adjudicated", "unanimous", "majority", "single"}
    [again] = merge_results(store, paths=[out])
    assert again.already_merged


def test_decisions_belong_to_the_project_instance(review, world, tmp_path):
    store = review.copy(tmp_path)
    instance = queries.project(store, PID).instance_id
    m = read_bundle(review.bundle).manifest
    assert instance and (m.instance_id, m.coordinator_key_id) == (instance, world.coordinator.key_id)
    rstore = open_store(tmp_path / "reviewer.db")
    import_tasks(rstore, review.bundle, trust_new_key=True)
    assert queries.project(rstore, PID).instance_id == instance
    decide_all(rstore, review.reviewer)
    out = tmp_path / "decisions.annotary"
    export_results(rstore, project_id=PID, identity=review.reviewer, out=out)
    rstore.close()
    decisions = read_bundle(out)
    assert (decisions.manifest.instance_id, decisions.manifest.coordinator_key_id) == (
        instance, world.coordinator.key_id)
    # the same decisions, made for another instance of a project with the same id
    other = tmp_path / "other.annotary"
    write_bundle(other, kind="decisions", project_id=PID, project_name="x", identity=review.reviewer,
                 members={"decisions.jsonl": decisions.member("decisions.jsonl")},
                 instance_id="0" * 32, coordinator_key_id=world.coordinator.key_id)
    before = list(store.conn.iterdump())
    [report] = merge_results(store, paths=[other])
    assert report.refusal.startswith("made for another project instance with the same id 'demo-pairwise'")
    assert list(store.conn.iterdump()) == before
    [report] = merge_results(store, paths=[out])
    assert report.refusal is None and report.accepted == review.cases


def test_decisions_from_someone_not_a_reviewer_are_refused(review, world, tmp_path):
    store = review.copy(tmp_path)
    annotator = world.people[0]
    bad = tmp_path / "fake.annotary"
    case = read_bundle(review.bundle).records("cases.jsonl", Case)[0]
    d = Decision(item_id=case.item_id, question_id=case.question_id, reviewer=annotator.key_id,
                 revision=1, decided_at="2026-01-01T00:00:00Z", answer=case.answers[0].answer)
    write_bundle(bad, kind="decisions", project_id=PID, project_name="x", identity=annotator,
                 members={"decisions.jsonl": dump_jsonl([d])})
    before = list(store.conn.iterdump())
    [report] = merge_results(store, paths=[bad])
    assert "not reviewer" in report.refusal
    assert list(store.conn.iterdump()) == before


def test_decision_for_a_case_not_sent_is_refused(review, tmp_path):
    store = review.copy(tmp_path)
    bad = tmp_path / "extra.annotary"
    cases = read_bundle(review.bundle).records("cases.jsonl", Case)
    sent = {(c.item_id, c.question_id) for c in cases}
    item_id, qid = next((c.item_id, q) for c in cases for q in ("helpful", "harmless")
                        if (c.item_id, q) not in sent)
    d = Decision(item_id=item_id, question_id=qid,
                 reviewer=review.reviewer.key_id, revision=1, decided_at="2026-01-01T00:00:00Z",
                 answer={"mode": "pairwise", "choice": "tie"})
    write_bundle(bad, kind="decisions", project_id=PID, project_name="x", identity=review.reviewer,
                 members={"decisions.jsonl": dump_jsonl([d])})
    before = list(store.conn.iterdump())
    [report] = merge_results(store, paths=[bad])
    assert "was not sent to this reviewer" in report.refusal
    assert list(store.conn.iterdump()) == before


def test_override_without_reason_is_refused(review, world, tmp_path):
    store = review.copy(tmp_path)
    sent = tmp_path / "all.annotary"  # audited agreed cases have a majority to override
    create_adjudication(store, identity=world.coordinator, reviewer=review.reviewer.key_id, out=sent,
                        include="all")
    cases = read_bundle(sent).records("cases.jsonl", Case)
    case = next(c for c in cases if c.majority is not None
                and c.answers[c.majority].answer.choice in ("A", "B"))
    majority = case.answers[case.majority].answer
    flipped = next(r for r in case.answers[0].shown_order if r != majority.preferred)
    other = {"mode": "pairwise", "choice": "B" if majority.choice == "A" else "A", "preferred": flipped}
    d = Decision(item_id=case.item_id, question_id=case.question_id, reviewer=review.reviewer.key_id,
                 revision=1, decided_at="2026-01-01T00:00:00Z", answer=other, overrides_majority=True)
    bad = tmp_path / "noreason.annotary"
    write_bundle(bad, kind="decisions", project_id=PID, project_name="x", identity=review.reviewer,
                 members={"decisions.jsonl": dump_jsonl([d])})
    [report] = merge_results(store, paths=[bad])
    assert "without a reason" in report.refusal


def test_reviewer_must_be_in_the_roster_as_reviewer(review, world, tmp_path):
    store = review.copy(tmp_path)
    with pytest.raises(AnnotaryError, match="not reviewer"):
        create_adjudication(store, identity=world.coordinator, reviewer=world.people[0].key_id,
                            out=tmp_path / "x.annotary")
    with pytest.raises(AnnotaryError, match="no active reviewer"):
        create_adjudication(store, identity=world.coordinator, reviewer="0123456789abcdef",
                            out=tmp_path / "x.annotary")
    assert not (tmp_path / "x.annotary").exists()


def test_audit_sample_adds_agreed_cases(review, world, tmp_path):
    store = review.copy(tmp_path)
    change = create_adjudication(store, identity=world.coordinator, reviewer=review.reviewer.key_id,
                                 out=tmp_path / "all.annotary", include="all")
    assert change.counts["audit"] > 0 and change.counts["conflicts"] == review.conflicts


def test_next_round_feeds_decisions_back(review, world, tmp_path):
    from annotary.ops.assign import assign_round
    from annotary.ops.roster import members

    rstore = open_store(tmp_path / "reviewer.db")
    import_tasks(rstore, review.bundle, trust_new_key=True)
    decide_all(rstore, review.reviewer)
    out = tmp_path / "decisions.annotary"
    export_results(rstore, project_id=PID, identity=review.reviewer, out=out)
    store = review.copy(tmp_path)
    merge_results(store, paths=[out])
    people = {m.key_id for m in members(store, role="annotator")}
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", overlap=2,
                          feedback=True)
    with_feedback = [b for b in report.bundles if b.calibration]
    assert with_feedback and {b.annotator for b in with_feedback} <= people
    bundle = with_feedback[0]
    # the overruled annotator labels the item again and then sees the decision and its reason
    person = next(p for p in world.people if p.key_id == bundle.annotator)
    astore = open_store(tmp_path / "annotator.db")
    import_tasks(astore, bundle.path, trust_new_key=True)
    flow = LabelingFlow(astore, PID, person.key_id)
    flow.start()
    assert flow.current.item.kind == "calibration" and flow.current.item.id.endswith("~decided")
    for q in flow.spec.questions:
        if q.scale != "strength":  # the optional strength question stays unanswered
            flow.focus = [x.id for x in flow.spec.questions].index(q.id)
            flow.choose("tie")
    outcome = flow.submit()
    assert outcome.ok and "A reviewer decided this item" in outcome.feedback
