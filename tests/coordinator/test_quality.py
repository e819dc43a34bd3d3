"""Agreement wiring: the figures of `annotary agreement` are the analysis library's on the project's labels."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotary.analysis.agreement import cohen_kappa, krippendorff_alpha
from annotary.analysis.variables import Options, Variable
from annotary.analysis.verdicts import _unit, unit_consensus
from annotary.core.spec import load_spec_file
from annotary.flows.labeling import LabelingFlow
from annotary.ops.assign import assign_round
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.project import (
    ANSWER,
    create_project,
    item_skeletons,
    load_items,
    open_project,
    set_guidelines,
)
from annotary.ops.quality import disputed_items, quality_report
from annotary.ops.raters import import_rater_labels
from annotary.ops.results import export_results
from annotary.ops.roster import add_members
from annotary.store import open_store
from tests.conftest import FIXTURES, RANKING_Q, SCORING_Q
from tests.coordinator.conftest import DEMO, PID, Clock, gold_items, pick

PANDALM_TOML = """\
project_id = "pandalm"
name = "PandaLM test set"

[[questions]]
id = "better"
mode = "pairwise"
text = "Which response is better?"
scale = "tie"
"""
CHOICE = {0: "tie", 1: "A", 2: "B"}  # PandaLM: 0 = tie, 1 = response1 better, 2 = response2 better


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pandalm(tmp_path, coordinator):
    spec = tmp_path / "spec.toml"
    spec.write_text(PANDALM_TOML)
    source = FIXTURES / "pandalm" / "testset-v1.sample.json"
    out = tmp_path / "pandalm.db"
    create_project(spec_path=spec, items_paths=[source], out=out, identity=coordinator)
    store = open_project(out)
    records = json.loads(source.read_text())
    vectors = {}
    for k in (1, 2, 3):
        labels = [CHOICE[int(r[f"annotator{k}"])] for r in records]
        vectors[k] = labels
        write_rows(tmp_path / f"a{k}.jsonl", [
            {"item_id": f"pandalm-{r['idx']}", "question_id": "better",
             "answer": {"mode": "pairwise", "choice": c}} for r, c in zip(records, labels, strict=True)])
        import_rater_labels(store, rater=f"annotator{k}", path=tmp_path / f"a{k}.jsonl", human=True)
    return store, vectors


def test_pandalm_pairwise_kappas_are_cohens(pandalm):
    store, vectors = pandalm
    report = quality_report(store)
    assert report.humans == ["human:annotator1", "human:annotator2", "human:annotator3"]
    (var,) = report.variables
    codes = {k: [["A", "B", "tie"].index(c) for c in v] for k, v in vectors.items()}
    for p in var.pairs:
        a, b = int(p.a[-1]), int(p.b[-1])
        assert p.n == 10
        assert p.kappa == pytest.approx(cohen_kappa(codes[a], codes[b]))
    matrix = np.array([codes[1], codes[2], codes[3]], dtype=float).T
    assert var.alpha == pytest.approx(krippendorff_alpha(matrix, "nominal"))
    assert not report.raters  # people's labels, even from outside the roster
    assert {a.source for a in report.annotators} == {"outside"}


def test_agreement_with_a_question_filter_and_an_unknown_question(pandalm):
    store, _ = pandalm
    assert [v.key for v in quality_report(store, question="better").variables] == ["better.choice"]
    with pytest.raises(Exception, match="no question 'nope' in the spec"):
        quality_report(store, question="nope")


def test_non_human_rater_is_kept_out_of_consensus(world, tmp_path):
    store = world.copy(tmp_path)
    merge_results(store, paths=world.results)
    before = quality_report(store)
    items = [r[0] for r in store.query("SELECT id FROM items WHERE kind='normal' ORDER BY seq")]
    rows = [{"item_id": i, "question_id": "helpful", "answer": {"mode": "pairwise", "choice": "A"},
             "confidence": 0.3 if n % 4 == 0 else 0.9} for n, i in enumerate(items)]
    change = import_rater_labels(store, rater="gpt-judge", path=write_rows(tmp_path / "j.jsonl", rows))
    assert change.counts == {"labels": 32, "unchanged": 0}
    again = import_rater_labels(store, rater="gpt-judge", path=tmp_path / "j.jsonl")
    assert again.counts == {"labels": 0, "unchanged": 32}
    after = quality_report(store)
    assert after.humans == before.humans
    assert [(c.item_id, c.status, c.value) for c in after.consensus] == \
        [(c.item_id, c.status, c.value) for c in before.consensus]
    (judge,) = after.raters
    assert judge.rater == "rater:gpt-judge" and judge.labels == 32 and judge.unsure == 8
    assert len(judge.pairs["helpful.choice"]) == 3 and judge.agreement_consensus is not None
    reasons = dict(disputed_items(after, store))
    assert any("gpt-judge" in why for why in reasons.values())
    conflicts = [c.item_id for c in after.conflicts]
    assert list(reasons)[:len(set(conflicts))] == list(dict.fromkeys(conflicts))  # conflicts first


def test_every_mode_gives_figures_and_answer_shaped_consensus(tmp_path, coordinator):
    rubric = {"id": "rubric", "mode": "rubric", "text": "Which criteria are met?", "per_item": True,
              "criteria": [{"id": "safe", "text": "Is safe", "points": 5},
                           {"id": "short", "text": "Is short", "points": 2}]}
    strength = {"id": "strength", "mode": "pairwise", "text": "Which is better?", "scale": "strength",
                "points": 7}
    spec3 = {"project_id": "modes", "name": "Modes", "questions": [RANKING_Q, SCORING_Q, rubric]}
    (tmp_path / "spec.json").write_text(json.dumps(spec3))
    items = [{"id": f"i{n}", "prompt": f"Explain {n}",
              "rubric": [{"id": "own", "text": "Mentions the number", "points": 3}],
              "responses": [{"id": f"m{j}", "text": f"answer {j}"} for j in range(3)]} for n in range(12)]
    write_rows(tmp_path / "items.jsonl", items)
    create_project(spec_path=tmp_path / "spec.json", items_paths=[tmp_path / "items.jsonl"],
                   out=tmp_path / "m.db", identity=coordinator)
    store = open_project(tmp_path / "m.db")
    rng = np.random.default_rng(1)
    for who in range(3):
        rows = []
        for n, it in enumerate(items):
            order = ["m0", "m1", "m2"] if (n + who) % 3 else ["m1", "m0", "m2"]
            rows.append({"item_id": it["id"], "question_id": "rank",
                         "answer": {"mode": "ranking", "order": [[r] for r in order]}})
            rows.append({"item_id": it["id"], "question_id": "scores", "answer": {"mode": "scoring", "scores": {
                f"m{j}": {ax: int(min(4, max(0, j + rng.integers(-1, 2)))) for ax in
                          ("helpfulness", "correctness", "coherence", "complexity", "verbosity")}
                for j in range(3)}}})
            rows.append({"item_id": it["id"], "question_id": "rubric", "answer": {"mode": "rubric", "marks": {
                "safe": "met", "short": "met" if (n * who) % 4 else "not_met", "own": "met" if n % 2 else "not_met"}}})
        import_rater_labels(store, rater=f"p{who}", path=write_rows(tmp_path / f"p{who}.jsonl", rows), human=True)
    report = quality_report(store, options=Options(weighted=True))
    by = {v.key: v for v in report.variables}
    rank = by["rank.order"]
    assert rank.kendall_w is not None and rank.mean_tau is not None and rank.alpha is not None
    assert len(rank.pairs) == 3 and all(p.tau is not None for p in rank.pairs)
    axis = by["scores.helpfulness"]
    assert axis.level == "ordinal" and axis.pairable == 36 and axis.alpha is not None
    assert all(p.kappa_quadratic is not None and p.kappa_linear is not None for p in axis.pairs)
    assert by["rubric.short"].level == "nominal" and by["rubric.item-criteria"].pairable == 12
    assert by["rubric.score"].level == "interval" and by["rubric.score"].alpha is not None
    assert by["rubric.safe"].alpha is None and by["rubric.safe"].band == "n/a"  # one category: undefined
    for c in report.consensus:
        if c.value is not None:
            ANSWER.validate_python(c.value)
    assert {c.status for c in report.consensus if c.question_id == "rank"} <= {"agreed", "conflict"}
    assert all(c.score is not None for c in report.consensus if c.question_id == "rubric")
    assert {c.variable for c in report.competence} >= {"short", "helpfulness"}
    json.dumps(report.as_dict())

    spec2 = {"project_id": "strength", "name": "Strength", "questions": [strength]}
    (tmp_path / "s.json").write_text(json.dumps(spec2))
    write_rows(tmp_path / "pairs.jsonl", [it | {"responses": it["responses"][:2], "rubric": None} for it in items])
    create_project(spec_path=tmp_path / "s.json", items_paths=[tmp_path / "pairs.jsonl"],
                   out=tmp_path / "s.db", identity=coordinator)
    store = open_project(tmp_path / "s.db")
    for who in range(2):
        write_rows(tmp_path / f"s{who}.jsonl", [
            {"item_id": it["id"], "question_id": "strength",
             "answer": {"mode": "pairwise", "choice": "A", "strength": 1 + (n + who * (n % 2)) % 3}}
            for n, it in enumerate(items)])
        import_rater_labels(store, rater=f"s{who}", path=tmp_path / f"s{who}.jsonl", human=True)
    (var,) = quality_report(store).variables
    assert var.level == "ordinal" and var.pairs[0].kappa_quadratic is not None
    assert var.pairs[0].kappa_quadratic >= var.pairs[0].kappa  # near misses count on a weighted scale


def label_round(store_path, ident, bundle, who):
    s = open_store(store_path)
    import_tasks(s, bundle, trust_new_key=True)
    flow = LabelingFlow(s, PID, ident.key_id, clock=Clock())
    flow.set_filter("unlabeled")
    flow.start()
    while flow.current and flow.current.item.id not in flow.labeled:
        iid = flow.current.item.id
        flow.choose(pick(who, iid, "AB"))
        flow.choose("tie")
        flow.clock.t += 5
        assert flow.submit().ok
    out = store_path.with_suffix(".round2.annotary")
    export_results(s, project_id=PID, identity=ident, out=out)
    s.close()
    return out


def test_second_round_with_new_guidelines_is_compared_side_by_side(world, tmp_path):
    store = world.copy(tmp_path)
    merge_results(store, paths=world.results)
    (tmp_path / "g2.md").write_text("# Guidelines v2\n\nPrefer the response that follows the instruction.\n")
    set_guidelines(store, guidelines_path=tmp_path / "g2.md", version="2")
    r = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", overlap=3)
    assert r.round == 2 and r.items == 32 and all(b.gold == 0 for b in r.bundles)
    results = []
    for i, person in enumerate(world.people):
        copy = tmp_path / f"a{i}.db"
        shutil.copy(world.stores[i], copy)
        bundle = next(b.path for b in r.bundles if b.annotator == person.key_id)
        results.append(label_round(copy, person, bundle, i))
    assert all(x.refusal is None and x.accepted > 0 for x in merge_results(store, paths=results))
    report = quality_report(store)
    assert {g.group for g in report.by_round} == {"1", "2"}
    assert {g.group for g in report.by_guidelines} == {"1", "2"}
    v2 = next(g for g in report.by_guidelines if g.group == "2" and g.variable == "choice")
    assert v2.pairable == 0 and v2.annotators == 3  # each item has one v2 label so far
    assert next(s for s in report.variables if s.key == "helpful.choice").pairable == 32
    assert {c.ratings for c in report.consensus} == {3}


def test_gold_fraction_gives_each_annotator_a_share(world, tmp_path, coordinator):
    out = tmp_path / "p.db"
    create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl", gold_items(tmp_path / "g.jsonl", 5)],
                   out=out, identity=coordinator)
    store = open_project(out)
    add_members(store, cards=world.cards)
    r = assign_round(store, identity=coordinator, out_dir=tmp_path / "r1", overlap=1, gold_fraction=0.2)
    assert [b.gold for b in r.bundles] == [round(0.2 * b.normal) for b in r.bundles]
    assert sum(b.normal for b in r.bundles) == 32
    used = store.query("SELECT item_id, count(*) FROM assignments WHERE kind='gold' GROUP BY item_id")
    assert max(n for _, n in used) - min(n for _, n in used) <= 1 and len(used) == 5  # spread out


def test_spec_is_what_the_bundles_carry(world):
    spec = load_spec_file(DEMO / "spec.toml")
    store = open_project(world.project)
    assert store.one("SELECT spec FROM projects")[0] == spec.model_dump_json()
    store.close()


def test_item_skeletons_hold_what_checks_need(tmp_path, coordinator):
    spec = {"project_id": "sk", "name": "Skeletons", "questions": [SCORING_Q, {
        "id": "rubric", "mode": "rubric", "text": "Met?", "per_item": True,
        "criteria": [{"id": "safe", "text": "Is safe", "points": 5}]}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    items = [{"id": "many", "prompt": "p", "responses": [{"id": f"m{j}", "text": "t"} for j in range(11)]},
             {"id": "own", "prompt": "p", "responses": [{"id": "x", "text": "t"}], "rubric_criteria": [],
              "rubric": [{"id": "c", "text": "Own", "points": 2}]},
             {"id": "plain", "prompt": "p", "responses": [{"id": "x", "text": "t"}]},
             {"id": "same", "prompt": [{"role": "user", "content": "q"}], "responses": [{"id": "x", "text": "u"}]},
             {"id": "nine", "prompt": "p", "responses": [{"id": f"n{j}", "text": "t"} for j in range(9)]},
             {"id": "ten", "prompt": "p", "responses": [{"id": f"t{j}", "text": "t"} for j in range(10)]},
             {"id": "gold", "prompt": "p", "kind": "gold", "responses": [{"id": "x", "text": "t"}],
              "gold": {"rubric": {"mode": "rubric", "marks": {"safe": "met"}}}}]
    write_rows(tmp_path / "items.jsonl", items)
    create_project(spec_path=tmp_path / "spec.json", items_paths=[tmp_path / "items.jsonl"],
                   out=tmp_path / "p.db", identity=coordinator)
    store = open_project(tmp_path / "p.db")
    whole, bare = load_items(store, "sk"), item_skeletons(store, "sk")
    assert list(whole) == list(bare)
    for iid, item in whole.items():
        skeleton = bare[iid]
        assert (skeleton.id, skeleton.kind, skeleton.gold, skeleton.rubric, skeleton.rubric_criteria) == \
            (item.id, item.kind, item.gold, item.rubric, item.rubric_criteria)
        assert [r.id for r in skeleton.responses] == [r.id for r in item.responses]


@settings(max_examples=300, deadline=None)
@given(level=st.sampled_from(["nominal", "ordinal", "interval"]),
       ratings=st.lists(st.lists(st.one_of(st.none(), st.sampled_from([1, 2, 3])), min_size=1, max_size=4),
                        min_size=1, max_size=6),
       weights=st.one_of(st.none(), st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=4, max_size=4)),
       min_share=st.sampled_from([0.5, 0.67, 1.0]))
def test_unit_consensus_of_identical_ratings_is_what_the_statistics_give(level, ratings, weights, min_share):
    # identical ratings take a shortcut past majority / median / mean: it must give the same
    raters = ["a", "b", "c", "d"]
    var = Variable("q", "x", level, [1, 2, 3])
    for u, row in enumerate(ratings):
        for who, v in zip(raters, row, strict=False):
            var.values[who][(f"i{u}",)] = v
    opt = Options(min_share=min_share)
    w = {var.key: dict(zip(raters, weights, strict=True))} if weights and level == "nominal" else None
    got = unit_consensus([var], raters, opt, w)[var.key]
    for u, row in enumerate(ratings):
        values = row[:len(raters)]
        ws = [w[var.key][a] for a in raters[:len(values)]] if w else None
        expected = (*_unit(var, values, ws, opt), len(values))
        assert got[(f"i{u}",)] == expected and type(got[(f"i{u}",)][0]) is type(expected[0])


ABC = [["a"], ["b"], ["c"]]


@pytest.mark.parametrize(("answers", "expected"), [
    # a majority finds no response acceptable: that is the consensus, whatever the others ranked
    ({"x": ([], True), "y": ([], True), "z": (ABC, False)}, ({"order": [], "all_unacceptable": True}, 2 / 3, True)),
    # everyone: agreed, though the (empty) rankings alone would have no Borda support
    ({"x": ([], True), "y": ([], True)}, ({"order": [], "all_unacceptable": True}, 1.0, True)),
    # those who reject may still rank: their order goes with the verdict
    ({"x": ([["c"], ["b"]], True), "y": ([["c"]], True)},
     ({"order": [["c"], ["b"], ["a"]], "all_unacceptable": True}, 1.0, True)),
    # half and half: no consensus
    ({"x": ([], True), "y": (ABC, False)}, (None, 0.5, False)),
    # a minority rejects: the others' ranking, supported by their share
    ({"x": ([], True), "y": (ABC, False), "z": (ABC, False)}, ({"order": ABC, "all_unacceptable": False}, 2 / 3, True)),
    # nobody rejects: Borda as before
    ({"y": (ABC, False), "z": (ABC, False)}, ({"order": ABC, "all_unacceptable": False}, 1.0, True)),
])
def test_ranking_consensus_decides_all_unacceptable_first(answers, expected):
    var = Variable("rank", "order", "ranking")
    var.responses["i"] = ["a", "b", "c"]
    for who, (order, rejected) in answers.items():
        var.values[who][("i",)] = order
        if rejected:
            var.unacceptable.setdefault("i", set()).add(who)
    value, support, agreed, n = unit_consensus([var], list(answers), Options())[var.key][("i",)]
    assert (value, agreed, n) == (expected[0], expected[2], len(answers))
    assert support == pytest.approx(expected[1])


def test_a_majority_finding_nothing_acceptable_is_the_final_answer(tmp_path, coordinator):
    from annotary.ops.final import final_answers
    from tests.exports.conftest import build, rk

    store = build(tmp_path, {"project_id": "rj", "name": "Rejects", "questions": [RANKING_Q]},
                  [{"id": "q1", "prompt": "p", "responses": [{"id": r, "text": r} for r in ("a", "b", "c")]}],
                  {"x": [("q1", "rank", rk(bad=True))], "y": [("q1", "rank", rk(bad=True))],
                   "z": [("q1", "rank", rk("a", "b", "c"))]}, coordinator)
    (final,) = final_answers(store)
    assert final.provenance == "majority" and final.answer["all_unacceptable"] and final.answer["order"] == []
    assert final.support == pytest.approx(2 / 3)
    store.close()
