"""The quality report computed from label arrays gives what the per-rating path gives."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from annotary.analysis.competence import competence
from annotary.analysis.figures import variable_stats
from annotary.analysis.questions import ITEM_CRITERIA, build_from_table, build_variables
from annotary.analysis.verdicts import consensus, mark_decided, unit_consensus, unit_table
from annotary.ops.project import item_skeletons, project_info
from annotary.ops.quality import (
    Options,
    decided_pairs,
    load_item_table,
    load_label_table,
    load_ratings,
    quality_report,
)
from tests.exports.conftest import add_decision, add_label, build, pw, spec_of

CAT_Q = {"id": "topic", "mode": "categorical", "text": "Topic?", "categories": ["law", "health", "code"]}
OVERALL_Q = {"id": "overall", "mode": "pairwise", "text": "Which is better?", "scale": "fourway"}


def per_rating(store, opt: Options, humans: list[str]):
    """The consensus, variables' figures and competence as the per-rating path makes them."""
    info = project_info(store)
    items = item_skeletons(store, info.id)
    normal = [r for r in load_ratings(store, info.id) if r.item_id in items and items[r.item_id].kind == "normal"]
    variables = build_variables(info.spec, items, normal)
    comp = competence(variables, humans)
    weights = {f"{c.question_id}.{c.variable}": c.reliability for c in comp} if opt.weighted else None
    units = unit_consensus(variables, humans, opt, weights)
    agreed = mark_decided(consensus(info.spec, items, variables, units), decided_pairs(store, info.id))
    return agreed, [variable_stats(v, humans) for v in variables], comp


@pytest.fixture
def mixed(tmp_path, coordinator):
    """Pairwise and categorical answers with agreement, conflicts, ties, singles and a skip."""
    items = [{"id": f"i{n:02d}", "prompt": f"Question {n}?",
              "responses": [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]} for n in range(12)]
    choices = ["A", "B", "tie", "both_bad"]
    topics = ["law", "health", "code"]
    labels = {f"h{j}": [(f"i{n:02d}", "overall", pw(choices[(n * (j + 1)) % 4])) for n in range(12) if (n + j) % 5]
              + [(f"i{n:02d}", "topic", {"mode": "categorical", "categories": [topics[(n + j * (n % 2)) % 3]]})
                 for n in range(12) if n != j]
              for j in range(4)}
    store = build(tmp_path / "mixed", spec_of(OVERALL_Q, CAT_Q, project_id="mixed"), items, labels, coordinator)
    add_label(store, "i03", "overall", "human:h0", skip="cannot judge", revision=2)
    return store


@pytest.mark.parametrize("opt", [Options(), Options(min_share=0.7), Options(weighted=True)])
def test_the_arrays_give_the_per_rating_consensus_figures_and_competence(mixed, opt):
    report = quality_report(mixed, options=opt)
    agreed, stats, comp = per_rating(mixed, opt, report.humans)
    assert len(report.consensus) == len(agreed) > 0
    assert list(report.consensus) == agreed
    assert [report.consensus[k] for k in range(len(agreed))] == agreed
    assert {c.status for c in agreed} >= {"agreed", "conflict"}
    assert report.counts() == {s: sum(1 for c in agreed if c.status == s) for s in ("agreed", "conflict", "decided", "single")}
    assert [asdict(s) for s in report.variables] == [asdict(s) for s in stats]
    assert report.competence == comp


def test_conflicts_and_decisions_read_from_the_arrays(pairs):
    report = quality_report(pairs)
    every = list(report.consensus)
    assert list(report.conflicts) == [c for c in every if c.status == "conflict"]
    assert list(report.decided) == [c for c in every if c.status == "decided"] != []
    assert report.counts()["decided"] == len(report.decided) and sum(report.counts().values()) == len(every)
    decided = report.decided[0]
    assert (decided.item_id, decided.decided, decided.value) == ("p4", True, None)
    assert report.conflicts[:10] == list(report.conflicts)[:10]
    assert report.consensus[-1] == every[-1] and report.consensus[1:3] == every[1:3]
    with pytest.raises(IndexError):
        report.consensus[len(every)]


def test_the_report_as_json_holds_every_consensus_row(mixed):
    report = quality_report(mixed)
    out = report.as_dict()
    rows = [json.loads(json.dumps(asdict(c))) for c in report.consensus]
    assert json.loads(json.dumps(out))["consensus"] == rows  # the C encoder
    assert json.loads(json.dumps(out, indent=2))["consensus"] == rows  # the pure-Python one
    assert out == quality_report(mixed).as_dict() and len(out["consensus"]) == len(rows)


def test_what_the_report_read_unpacks_as_the_skeletons_and_ratings(mixed):
    report = quality_report(mixed)
    items, ratings, raters = report.loaded
    info = project_info(mixed)
    skeletons = item_skeletons(mixed, info.id)
    assert list(items) == list(skeletons) and len(items) == len(skeletons)
    assert all(items[iid] == it for iid, it in skeletons.items())
    assert dict(items.items()) == skeletons
    assert list(ratings) == load_ratings(mixed, info.id) and len(ratings) == len(load_ratings(mixed, info.id))
    assert raters.names == report.names | raters.names


def test_a_label_of_an_item_no_longer_there_is_left_out(mixed):
    info = project_info(mixed)
    mixed.conn.execute("PRAGMA foreign_keys=OFF")  # as an older store could hold them
    with mixed.atomic():
        mixed.conn.execute("DELETE FROM items WHERE id='i05'")
    assert any(r.item_id == "i05" for r in load_ratings(mixed, info.id))
    items = load_item_table(mixed, info.id)
    table = load_label_table(mixed, info.id, items)
    assert "i05" not in items.ids and len(table) == sum(1 for r in load_ratings(mixed, info.id) if r.item_id != "i05")
    assert all(c.item_id != "i05" for c in quality_report(mixed).consensus)


@pytest.mark.parametrize("longest", [12, 60])  # the ids' bytes held sorted, or (past WIDEST) in a dict
def test_item_ids_are_found_whatever_their_script_and_length(tmp_path, coordinator, longest):
    ids = ["é1", "é10", "z", "Ω-7", "a" * longest, "a" * (longest - 1), "日本語"]
    items = [{"id": iid, "prompt": f"Question {n}?",
              "responses": [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]} for n, iid in enumerate(ids)]
    labels = {f"h{j}": [(iid, "overall", pw("AB"[(n + j) % 2])) for n, iid in enumerate(ids)] for j in range(3)}
    store = build(tmp_path / "ids", spec_of(OVERALL_Q, project_id="ids"), items, labels, coordinator)
    info = project_info(store)
    table = load_item_table(store, info.id)
    asked = [iid.encode() for iid in [*ids, "é", "é100", "a" * (longest + 1), "", "日本"]]
    assert table.locate(asked).tolist() == [table.ids.index(iid) for iid in ids] + [-1] * 5
    report = quality_report(store)
    agreed, stats, _ = per_rating(store, Options(), report.humans)
    assert list(report.consensus) == agreed and {c.item_id for c in agreed} == set(ids)
    assert [asdict(s) for s in report.variables] == [asdict(s) for s in stats]


def rubric_store(path, coordinator, *, per_item: bool, allow_partial: bool):
    """A rubric question of four criteria rated by four people on twelve items: criteria all
    agree on, split, tie and leave unmarked, a skip, and (per_item) items with criteria of their own."""
    q = {"id": "rubric", "mode": "rubric", "text": "Mark each criterion", "per_item": per_item,
         "allow_partial": allow_partial,
         "criteria": [{"id": c, "text": f"Criterion {c}", "points": p}
                      for c, p in (("safe", 5), ("dose", -8), ("clear", 2), ("cites", 1))]}
    q["criteria"][3]["required"] = False
    items = [{"id": f"i{n:02d}", "prompt": f"Case {n}?", "responses": [{"id": "r", "text": "answer"}]}
             | ({"rubric": [{"id": "own", "text": "Its own", "points": 3}]} if per_item and n % 3 == 0 else {})
             for n in range(12)]
    marks = ["met", "not_met", "partly"] if allow_partial else ["met", "not_met"]

    def answer(n: int, j: int) -> dict:
        m = {"safe": "met", "dose": marks[(n + j) % len(marks)], "clear": marks[(n * j) % 2]}
        if (n + j) % 4:
            m["cites"] = marks[n % 2]
        if per_item and n % 3 == 0:
            m["own"] = marks[j % 2]
        return {"mode": "rubric", "marks": m}

    labels = {f"h{j}": [(f"i{n:02d}", "rubric", answer(n, j)) for n in range(12) if (n + j) % 5]
              for j in range(4)}
    store = build(path, spec_of(q, project_id=f"rub{int(per_item)}{int(allow_partial)}"), items, labels, coordinator)
    add_label(store, "i03", "rubric", "human:h0", skip="cannot judge", revision=2)
    return store


@pytest.mark.parametrize("per_item,allow_partial", [(False, False), (False, True), (True, False)])
@pytest.mark.parametrize("opt", [Options(), Options(min_share=0.7), Options(weighted=True)])
def test_a_rubric_from_the_arrays_gives_the_per_rating_consensus_and_figures(tmp_path, coordinator, per_item,
                                                                              allow_partial, opt):
    """A rubric's criteria and score are held as arrays (criteria of items' own, by unit of
    item and criterion, are not): the consensus, figures and competence are the same."""
    store = rubric_store(tmp_path / "r", coordinator, per_item=per_item, allow_partial=allow_partial)
    report = quality_report(store, options=opt)
    agreed, stats, comp = per_rating(store, opt, report.humans)
    assert len(report.consensus) == len(agreed) > 0
    assert list(report.consensus) == agreed
    if opt == Options():  # (with a higher bar every criterion splits; weighted, none)
        assert {c.status for c in agreed} >= {"agreed", "conflict"}
        # a reviewer decides a conflict: read one by one, in order, or among the decided
        first = next(c for c in agreed if c.status == "conflict")
        add_decision(store, first.item_id, "rubric", {"mode": "rubric", "marks": {
            "safe": "met", "dose": "met", "clear": "met"}}, "as the guidelines say")
        report = quality_report(store, options=opt)
        agreed = per_rating(store, opt, report.humans)[0]
        assert list(report.consensus) == agreed == [report.consensus[k] for k in range(len(agreed))]
        assert list(report.decided) == [c for c in agreed if c.status == "decided"] != []
        assert list(report.conflicts) == [c for c in agreed if c.status == "conflict"]
        assert report.counts() == {s: sum(1 for c in agreed if c.status == s)
                                   for s in ("agreed", "conflict", "decided", "single")}
    assert [asdict(s) for s in report.variables] == [asdict(s) for s in stats]
    assert report.competence == comp
    info = project_info(store)
    items = load_item_table(store, info.id)
    table = load_label_table(store, info.id, items)
    variables = build_from_table(info.spec, items, table, items.kind[table.item] == 0)
    assert {v.name: v.cells is not None for v in variables} == {
        name: not per_item for name in ["safe", "dose", "clear", "cites"] + [ITEM_CRITERIA] * per_item + ["score"]}
    store.close()


def test_criteria_every_answer_marks_share_their_rows_and_units(tmp_path, coordinator):
    """Criteria marked in every answer share one array of items and raters, and their unit tables
    share their items and counts; a criterion some answers leave out has its own. Each table is
    the one worked out alone."""
    store = rubric_store(tmp_path / "r", coordinator, per_item=False, allow_partial=True)
    info = project_info(store)
    items = load_item_table(store, info.id)
    table = load_label_table(store, info.id, items)
    variables = {v.name: v for v in build_from_table(info.spec, items, table, items.kind[table.item] == 0)}
    cells = {name: v.cells for name, v in variables.items()}
    assert cells["safe"].item is cells["dose"].item is cells["clear"].item
    assert cells["safe"].rater is cells["clear"].rater and cells["cites"].item is not cells["safe"].item
    humans = quality_report(store).humans
    units = unit_consensus(list(variables.values()), humans, Options())
    assert units["rubric.safe"].item is units["rubric.dose"].item and units["rubric.dose"].n is units["rubric.clear"].n
    assert units["rubric.cites"].item is not units["rubric.safe"].item
    for name, var in variables.items():
        alone, shared = unit_table(var, humans, Options(), None), units[var.key]
        assert all(np.array_equal(getattr(alone, f), getattr(shared, f)) for f in ("item", "support", "agreed", "n"))
        assert list(alone.value) == list(shared.value), name
    store.close()


def test_equal_parts_of_answers_are_read_once():
    """The label table holds a response's scores (any object of scalars) once however many
    answers repeat them; 1, 1.0 and true stay apart, and every answer reads as json.loads reads it."""
    from annotary.ops.quality import _shared_objects

    texts = ['{"scores":{"r1":{"a":1,"b":2},"r2":{"a":1,"b":2}}}', '{"scores":{"r1":{"a":1,"b":2}}}',
             '{"x":{"a":1.0}}', '{"x":{"a":true}}', '{"x":{"a":1}}', '{"l":[{"a":1,"b":2}],"m":{"a":1,"b":2}}',
             '{"k":{"b":2,"a":1}}']
    hook = _shared_objects()
    parsed = [json.loads(t, object_pairs_hook=hook) for t in texts]
    assert parsed == [json.loads(t) for t in texts]
    assert [json.dumps(p) for p in parsed] == [json.dumps(json.loads(t)) for t in texts]  # keys in their order
    assert parsed[0]["scores"]["r1"] is parsed[0]["scores"]["r2"] is parsed[1]["scores"]["r1"] is parsed[5]["m"]
    assert [type(p["x"]["a"]) for p in parsed[2:5]] == [float, bool, int]
    assert parsed[2]["x"] is not parsed[4]["x"] and parsed[6]["k"] is not parsed[5]["m"]
