"""Triage rounds: one person and a rater, a second person where they differ, a third where two split."""

from __future__ import annotations

import json

import pytest

from annotary.analysis.triage import answer_parts, majority_parts, same, triage_reason
from annotary.bundles.identity import create_identity
from annotary.core.errors import AnnotaryError
from annotary.flows.labeling import LabelingFlow
from annotary.ops.assign import assign_round
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.project import create_project, open_project
from annotary.ops.raters import import_rater_labels
from annotary.ops.results import export_results
from annotary.ops.roster import add_members, export_card
from annotary.store import open_store
from tests.conftest import FIXTURES
from tests.coordinator.conftest import Clock
from tests.coordinator.test_quality import PANDALM_TOML, write_rows

IDX = [0, 4, 5, 87, 88, 91, 120, 140, 157, 161]
ITEMS = [f"pandalm-{i}" for i in IDX]
FIRST = dict(zip(ITEMS, "A B tie A B A B A B tie".split(), strict=True))


def pairwise(choice):
    return {"mode": "pairwise", "choice": choice}


def label_as(store_path, ident, answers: dict[str, str], seconds: float) -> None:
    """Label every item of the annotator's store with the given answers (in the item's own order)."""
    s = open_store(store_path)
    clock = Clock()
    flow = LabelingFlow(s, "pandalm", ident.key_id, clock=clock)
    flow.start()
    while True:
        state = flow.current
        want = answers[state.item.id]
        if want == "tie":
            key = "tie"
        else:
            rid = state.item.responses[0 if want == "A" else 1].id
            key = "A" if state.shown_order[0] == rid else "B"
        flow.choose(key)
        clock.t += seconds
        assert flow.submit().ok
        if flow.current.item.id in flow.labeled:
            break
    s.close()


class Team:
    def __init__(self, root, coordinator):
        self.root, self.coordinator = root, coordinator
        spec = root / "spec.toml"
        spec.write_text(PANDALM_TOML)
        self.db = root / "pandalm.db"
        create_project(spec_path=spec, items_paths=[FIXTURES / "pandalm" / "testset-v1.sample.json"],
                       out=self.db, identity=coordinator)
        self.people = [create_identity(root / f"p{i}", name=n, role="annotator")
                       for i, n in enumerate(["Ada Lee", "Bo Chen", "Cy Diaz"])]
        cards = []
        for p in self.people:
            cards.append(root / f"{p.key_id}.card.json")
            export_card(identity=p, out=cards[-1])
        store = open_project(self.db)
        add_members(store, cards=cards, rate_per_hour=60.0)
        store.close()

    def assign(self, n, **kw):
        store = open_project(self.db)
        try:
            return assign_round(store, identity=self.coordinator, out_dir=self.root / f"round{n}", **kw)
        finally:
            store.close()

    def work(self, report, answers_for):
        """Each annotator labels their bundle (answers_for(person index) -> item -> answer); merge."""
        results = []
        for i, p in enumerate(self.people):
            bundle = next((b.path for b in report.bundles if b.annotator == p.key_id), None)
            if bundle is None:
                continue
            path = self.root / f"a{i}.db"
            s = open_store(path)
            import_tasks(s, bundle, trust_new_key=True)
            s.close()
            label_as(path, p, answers_for(i), seconds=30.0 * (i + 1))
            s = open_store(path)
            results.append(self.root / f"r{report.round}-{i}.annotary")
            export_results(s, project_id="pandalm", identity=p, out=results[-1])
            s.close()
        store = open_project(self.db)
        assert not any(r.refusal for r in merge_results(store, paths=results))
        store.close()

    def holders(self, round_):
        store = open_project(self.db)
        rows = store.query("SELECT item_id, annotator FROM assignments WHERE project_id='pandalm' AND round=?",
                           (round_,))
        store.close()
        return {r[0]: r[1] for r in rows}


def judge_rows():
    """The judge: agrees on items 0-2, 7, 8; unsure on 3; silent on 4; disagrees on 5, 6, 9."""
    other = {"A": "B", "B": "A", "tie": "A"}
    rows = []
    for n, iid in enumerate(ITEMS):
        if n == 4:
            continue
        choice = other[FIRST[iid]] if n in (5, 6, 9) else FIRST[iid]
        row = {"item_id": iid, "question_id": "better", "answer": pairwise(choice)}
        conf = {3: 0.25, 8: 0.6, 9: 0.95}.get(n, None if n == 7 else 0.9)
        if conf is not None:
            row["confidence"] = conf
        rows.append(row)
    return rows


def test_triage_rounds_send_only_what_the_judge_and_people_leave_open(tmp_path, coordinator):
    team = Team(tmp_path, coordinator)
    store = open_project(team.db)
    import_rater_labels(store, rater="judge", path=write_rows(tmp_path / "judge.jsonl", judge_rows()))
    with pytest.raises(AnnotaryError, match="no non-human rater 'gpt'.*raters: judge"):
        assign_round(store, identity=coordinator, out_dir=tmp_path / "x", triage="gpt")
    with pytest.raises(AnnotaryError, match="not both"):
        assign_round(store, identity=coordinator, out_dir=tmp_path / "x", triage="judge", adaptive=True)
    store.close()

    r1 = team.assign(1, triage="judge", min_rater_confidence=0.6)
    assert r1.items == 10 and r1.reasons == {"first person: no one has labelled it": 10}
    assert sorted(team.holders(1)) == sorted(ITEMS)  # one person each
    assert sum(b.normal for b in r1.bundles) == 10 and len(r1.bundles) == 3
    with pytest.raises(AnnotaryError, match="nothing to send under triage: 10 held: waiting"):
        team.assign(2, triage="judge")
    team.work(r1, lambda i: FIRST)

    r2 = team.assign(2, triage="judge", min_rater_confidence=0.6)
    assert r2.reasons == {"second person: judge disagrees": 3, "second person: judge has no answer": 1,
                          "second person: judge is below confidence 0.6": 1,
                          "settled: one person and judge agree": 5}
    second = team.holders(2)
    assert sorted(second) == sorted(ITEMS[n] for n in (3, 4, 5, 6, 9))
    first = team.holders(1)
    assert all(second[i] != first[i] for i in second)  # always someone else
    members = [json.loads(line)["id"] for b in r2.bundles
               for line in __import__("zipfile").ZipFile(b.path).read("items.jsonl").decode().splitlines()]
    assert sorted(members) == sorted(second)
    store = open_project(team.db)
    (settings,) = store.one("SELECT settings FROM rounds WHERE project_id='pandalm' AND round=2")
    assert json.loads(settings)["triage"]["rater"] == "judge"
    store.close()

    split = {ITEMS[6]: "A" if FIRST[ITEMS[6]] != "A" else "B", ITEMS[9]: "B"}
    team.work(r2, lambda i: {**FIRST, **split})
    r3 = team.assign(3, triage="judge", min_rater_confidence=0.6)
    assert r3.reasons == {"third person: two people split": 2, "settled: one person and judge agree": 5,
                          "settled: people agree": 3}
    third = team.holders(3)
    assert sorted(third) == [ITEMS[6], ITEMS[9]]
    assert all(third[i] not in (first[i], second[i]) for i in third)
    team.work(r3, lambda i: FIRST)
    with pytest.raises(AnnotaryError, match="nothing to send under triage"):
        team.assign(4, triage="judge", min_rater_confidence=0.6)


def test_answer_parts_compare_every_mode():
    assert same(answer_parts(pairwise("A")), answer_parts({"mode": "pairwise", "choice": "A", "strength": 1}))
    assert not same(answer_parts(pairwise("A")), answer_parts(pairwise("tie")))
    top = answer_parts({"mode": "ranking", "order": ["r2", "r1", "r3"]})
    assert same(top, answer_parts({"mode": "ranking", "order": ["r2", "r3", "r1"]}))  # the top choice only
    assert not same(top, answer_parts({"mode": "ranking", "order": [["r1", "r2"], "r3"]}))
    assert not same(top, answer_parts({"mode": "ranking", "order": [], "all_unacceptable": True}))
    s3 = answer_parts({"mode": "scoring", "scores": {"r1": {"help": 3, "safe": 4}}})
    s4 = answer_parts({"mode": "scoring", "scores": {"r1": {"help": 4, "safe": 4}}})
    assert not same(s3, s4) and same(s3, s4, tolerance=1)
    assert majority_parts([s3, s4, s4]) == {("r1", "help"): 4.0, ("r1", "safe"): 4.0}
    assert majority_parts([s3, s4]) == {("r1", "help"): None, ("r1", "safe"): 4.0}
    met = answer_parts({"mode": "rubric", "marks": {"c1": "met", "c2": "not_met"}})
    assert not same(met, answer_parts({"mode": "rubric", "marks": {"c1": "met", "c2": "met"}}))
    assert answer_parts({"mode": "demonstration", "text": "x"}) is None and answer_parts(None) is None


def test_triage_reasons_by_hand():
    q = ["q"]
    a, b = {"q": answer_parts(pairwise("A"))}, {"q": answer_parts(pairwise("B"))}
    kw = {"questions": q, "rater_name": "gpt"}
    assert triage_reason([], {}, set(), **kw) == (True, "first person: no one has labelled it")
    assert triage_reason([a], a, set(), **kw) == (False, "settled: one person and gpt agree")
    assert triage_reason([a], b, set(), **kw) == (True, "second person: gpt disagrees")
    assert triage_reason([a], {}, set(), **kw) == (True, "second person: gpt has no answer")
    assert triage_reason([a], a, {"q"}, min_confidence=0.7, **kw) == (
        True, "second person: gpt is below confidence 0.7")
    assert triage_reason([{"q": None}], a, set(), **kw) == (True, "second person: no one has answered yet")
    assert triage_reason([a, a], b, set(), **kw) == (False, "settled: people agree")
    assert triage_reason([a, b], a, set(), **kw) == (True, "third person: two people split")
    assert triage_reason([a, b, {"q": answer_parts(pairwise("tie"))}], a, set(), **kw) == (
        False, "held: at the most people per item (3) without agreement")
    assert triage_reason([a, b], a, set(), cap=2, **kw)[0] is False
    # a skipped second answer leaves one answer: the rater is asked again
    assert triage_reason([a, {"q": None}], b, set(), **kw) == (True, "third person: gpt disagrees")


AXES = [{"id": "quality", "name": "Quality", "scale": [{"value": v, "label": f"{v}", "anchor": f"{v} of 5"} for v in range(1, 6)]}]
MODES_SPEC = {"project_id": "modes", "name": "Modes", "questions": [
    {"id": "rank", "mode": "ranking", "text": "Order best first"},
    {"id": "scores", "mode": "scoring", "text": "Rate each response", "axes": AXES},
    {"id": "crit", "mode": "rubric", "text": "Criteria", "criteria": [
        {"id": "cites", "text": "Cites a source", "points": 2}, {"id": "safe", "text": "Is safe", "points": 3}]}]}


def modes_answers(top: str, quality: int, safe: str) -> list[dict]:
    other = "r2" if top == "r1" else "r1"
    return [{"question_id": "rank", "answer": {"mode": "ranking", "order": [[top], [other]]}},
            {"question_id": "scores", "answer": {"mode": "scoring", "scores": {
                "r1": {"quality": quality}, "r2": {"quality": 3}}}},
            {"question_id": "crit", "answer": {"mode": "rubric", "marks": {"cites": "met", "safe": safe}}}]


def test_triage_compares_rankings_scores_and_rubric_marks_from_the_command_line(tmp_path):
    from click.testing import CliRunner

    from annotary.app import cli
    from annotary.ops.identity import make_identity

    me = make_identity(name="Coordinator Cho", role="coordinator")
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(MODES_SPEC))
    items = write_rows(tmp_path / "items.jsonl", [
        {"id": f"i{n}", "prompt": f"Question {n}", "responses": [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]}
        for n in range(4)])
    db = tmp_path / "modes.db"
    create_project(spec_path=spec, items_paths=[items], out=db, identity=me)
    cards = []
    for i in range(3):
        p = create_identity(tmp_path / f"p{i}", name=f"Person {i}", role="annotator")
        cards.append(tmp_path / f"p{i}.card.json")
        export_card(identity=p, out=cards[-1])
    store = open_project(db)
    add_members(store, cards=cards)
    # one person's answers (from outside the roster: they count as people) and the judge's
    person = {"i0": ("r1", 4, "met"), "i1": ("r1", 4, "met"), "i2": ("r1", 4, "met"), "i3": ("r2", 2, "met")}
    judge = {"i0": ("r1", 4, "met"), "i1": ("r1", 5, "met"), "i2": ("r2", 4, "met"), "i3": ("r2", 2, "not_met")}
    for name, table, human in (("p1", person, True), ("judge", judge, False)):
        rows = [{"item_id": iid, **a} for iid, args in table.items() for a in modes_answers(*args)]
        import_rater_labels(store, rater=name, path=write_rows(tmp_path / f"{name}.jsonl", rows), human=human)
    store.close()

    def assign(*args, ok=True):
        r = CliRunner().invoke(cli, ["project", "assign", str(db), "--out-dir", str(tmp_path / "out"), *args])
        assert (r.exit_code == 0) == ok, r.output
        return r

    r = assign("--triage", "judge", "--tolerance", "1", "--json")
    data = json.loads(r.output)
    assert data["reasons"] == {"second person: judge disagrees": 2, "settled: one person and judge agree": 2}
    store = open_project(db)
    sent = sorted(x[0] for x in store.query("SELECT item_id FROM assignments WHERE round=1"))
    store.close()
    assert sent == ["i2", "i3"]  # i1's scores are one point apart: within the tolerance
    text = assign("--triage", "judge").output  # round 2, exact scores: i1 now differs too
    assert "round 2: 1 items" in text and "1 item   second person: judge disagrees" in text
    err = assign("--min-rater-confidence", "0.5", "--overlap", "1", ok=False)
    assert err.exit_code == 2 and "add --triage RATER" in err.stderr
    err = assign("--triage", "judge", "--adaptive", ok=False)
    assert "choose --triage or --adaptive, not both" in err.stderr


def test_the_workspace_assign_form_offers_triage_with_each_rater_and_competence(tmp_path, coordinator):
    from annotary.flows import workspace

    team = Team(tmp_path, coordinator)
    store = open_project(team.db)
    import_rater_labels(store, rater="judge", path=write_rows(tmp_path / "judge.jsonl", judge_rows()))
    (routing,) = [f for f in workspace.assign_fields(store) if f.key == "routing"]
    assert [value for value, _ in routing.choices] == ["all", "adaptive", "triage:judge", "competence"]
    assert "Triage with judge" in dict(routing.choices)["triage:judge"]
    values = {f.key: f.default for f in workspace.assign_fields(store)} | {"min_rater_confidence": 0.6}
    r1 = workspace.assign(store, coordinator, values | {"overlap": 3, "routing": "triage:judge",
                                                        "out": str(tmp_path / "round1")})
    store.close()
    assert r1.reasons == {"first person: no one has labelled it": 10}
    assert sorted(team.holders(1)) == sorted(ITEMS)  # one person each, as `project assign --triage`
    team.work(r1, lambda i: FIRST)
    store = open_project(team.db)
    r2 = workspace.assign(store, coordinator, values | {"overlap": 3, "routing": "triage:judge",
                                                        "out": str(tmp_path / "round2")})
    (settings,) = store.one("SELECT settings FROM rounds WHERE project_id='pandalm' AND round=2")
    store.close()
    assert sorted(team.holders(2)) == sorted(ITEMS[n] for n in (3, 4, 5, 6, 9))
    assert json.loads(settings)["triage"]["rater"] == "judge" and r2.items == 5
