"""Agreement and consensus of categorical questions: Fleiss (1971) as published, a MASI example
worked by hand, and the figures of a merged project."""

import math

import numpy as np
import pytest

from annotary.analysis.agreement import as_bitmask, krippendorff_alpha, masi
from annotary.analysis.figures import variable_stats
from annotary.analysis.questions import build_variables
from annotary.analysis.variables import Options, Rating
from annotary.analysis.verdicts import consensus, set_majority, unit_consensus
from annotary.core.items import Item
from annotary.core.spec import parse_spec

# Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (1 depression,
# 2 personality disorder, 3 schizophrenia, 4 neurosis, 5 other), one row per patient.
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]
DIAGNOSES = ["depression", "personality disorder", "schizophrenia", "neurosis", "other"]


def project(question: dict, answers: dict[str, list], responses: int = 0):
    """Items, variables and the consensus of answers given as {rater: [answer per item]}."""
    spec = parse_spec({"name": "x", "questions": [question]})
    n = len(next(iter(answers.values())))
    items = {f"p{i:02d}": Item.model_validate({"id": f"p{i:02d}", "prompt": "p", "responses": [
        {"id": f"r{j}", "text": "t"} for j in range(responses)]}) for i in range(n)}
    ratings = [Rating(who, iid, question["id"], 1, {"mode": "categorical", **a}, None, None, "1")
               for who, given in answers.items() for iid, a in zip(items, given, strict=True)
               if a is not None]
    variables = build_variables(spec, items, ratings)
    raters = list(answers)
    units = unit_consensus(variables, raters, Options())
    return spec, items, variables, {c.item_id: c for c in consensus(spec, items, variables, units)}


@pytest.fixture(scope="module")
def fleiss():
    q = {"id": "diagnosis", "mode": "categorical", "text": "Diagnosis?", "categories": DIAGNOSES}
    answers = {f"psychiatrist {j + 1}": [{"categories": [DIAGNOSES[row[j] - 1]]} for row in FLEISS_1971]
               for j in range(6)}
    return project(q, answers)


def test_fleiss_1971_kappa_and_nominal_alpha(fleiss):
    _, _, variables, _ = fleiss
    (var,) = variables
    assert (var.level, var.plurality) == ("nominal", True)
    s = variable_stats(var, [f"psychiatrist {j + 1}" for j in range(6)])
    assert s.fleiss_kappa == pytest.approx(0.4302445, abs=1e-7)  # Fleiss (1971): .430; R irr 0.4302445
    # nominal alpha of the same table (the krippendorff package gives 0.4334098)
    assert s.alpha == pytest.approx(0.4334098, abs=1e-7)
    assert s.distribution == {"depression": 26, "personality disorder": 26, "schizophrenia": 30,
                              "neurosis": 55, "other": 43}  # Fleiss's column totals
    assert len(s.pairs) == 15 and all(p.n == 30 and p.kappa is not None for p in s.pairs)


def test_fleiss_1971_plurality_consensus_ties_are_conflicts(fleiss):
    _, _, _, found = fleiss
    # patient 23 (2 2 4 5 5 5): the plurality says other, where an ordinal median said neurosis
    assert found["p22"].value == {"mode": "categorical", "categories": ["other"]}
    assert found["p22"].status == "agreed" and found["p22"].support == pytest.approx(0.5)
    # patient 2 (2 2 2 5 5 5) and patient 13 (2 2 2 3 3 3): three against three, no consensus
    assert found["p01"].status == "conflict" and found["p01"].value is None
    assert found["p12"].status == "conflict"
    assert sum(c.status == "conflict" for c in found.values()) == 3  # and patient 5 (2 2 2 4 4 4)
    assert found["p00"].value["categories"] == ["neurosis"] and found["p00"].support == 1.0


def test_plurality_below_half_still_agrees():
    q = {"id": "d", "mode": "categorical", "text": "Diagnosis?", "categories": DIAGNOSES}
    picks = ["depression", "depression", "neurosis", "other", "schizophrenia"]
    _, _, _, found = project(q, {f"r{i}": [{"categories": [p]}] for i, p in enumerate(picks)})
    assert found["p00"].value["categories"] == ["depression"]
    assert found["p00"].support == pytest.approx(0.4)


def test_masi_distances_by_hand():
    a, b, c = 0, 1, 2
    assert masi(as_bitmask([a, b]), as_bitmask([b, a])) == 0  # identity
    assert masi(as_bitmask([a]), as_bitmask([a, b])) == pytest.approx(1 - (1 / 2) * (2 / 3))  # subset
    assert masi(as_bitmask([a, b]), as_bitmask([b, c])) == pytest.approx(1 - (1 / 3) * (1 / 3))  # overlap
    assert masi(as_bitmask([a]), as_bitmask([c])) == 1  # disjoint
    assert masi(0, 0) == 0 and masi(0, as_bitmask([a])) == 1  # none of these, twice / against one
    assert math.isnan(masi(as_bitmask([a]), math.nan))


def test_masi_alpha_worked_by_hand():
    """Two coders, three units: {a}/{a}, {a}/{a,b}, {b}/{c}. Six values; D_o = (2/6)(0 + 2/3 + 1)
    = 5/9; D_e = 2 (3·2/3 + 3·1 + 3·1 + 2/3 + 1 + 1) / (6·5) = 32/45; alpha = 1 - 25/32 = 7/32."""
    q = {"id": "e", "mode": "categorical", "text": "Errors?", "multiple": True,
         "categories": ["a", "b", "c"]}
    _, _, variables, found = project(q, {
        "one": [{"categories": ["a"]}, {"categories": ["a"]}, {"categories": ["b"]}],
        "two": [{"categories": ["a"]}, {"categories": ["a", "b"]}, {"categories": ["c"]}]})
    sets = variables[0]
    assert (sets.name, sets.level, sets.members) == ("categories", "set", ["a", "b", "c"])
    s = variable_stats(sets, ["one", "two"])
    assert s.alpha == pytest.approx(7 / 32)
    assert s.percent_agreement == pytest.approx(1 / 3)
    assert s.distribution == {"a": 4, "b": 2, "c": 1}
    assert found["p00"].value == {"mode": "categorical", "categories": ["a"]}
    assert found["p01"].status == "conflict"  # b: one of two
    # per category: a yes / no variable with its kappas
    per = {v.name: variable_stats(v, ["one", "two"]) for v in variables[1:]}
    assert set(per) == {"a", "b", "c"}
    assert per["a"].percent_agreement == pytest.approx(1)  # a: yes yes, yes yes, no no
    assert per["c"].pairs[0].kappa == pytest.approx(0.0)  # c: no no, no no, no yes


def test_singletons_under_masi_are_nominal_alpha():
    codes = np.vectorize(lambda v: float(as_bitmask([v])))(FLEISS_1971)
    assert krippendorff_alpha(codes, "set") == pytest.approx(krippendorff_alpha(FLEISS_1971, "nominal"))


def test_set_majority_per_category():
    a, b, c = 1, 2, 4
    assert set_majority([a | b, a, a | c]) == (a, pytest.approx(2 / 3))  # a: 3 of 3; b, c: 1 of 3
    assert set_majority([a | b, a | b, a])[0] == a | b
    assert set_majority([0, 0, a])[0] == 0  # most found none
    assert set_majority([a, b])[0] is None  # one of two each: a tie
    assert set_majority([a, a | b, a | b, 0])[0] is None  # b two of four
    assert set_majority([None, None]) == (None, 0.0)


def test_multi_choice_per_response_with_other():
    q = {"id": "flags", "mode": "categorical", "text": "Flags?", "multiple": True, "other": True,
         "target": "response", "categories": ["unsafe", "private data"]}
    both = lambda u, v: {"responses": {"r0": u, "r1": v}}  # noqa: E731
    _, _, variables, found = project(q, {
        "one": [both({"categories": ["unsafe"]}, {"categories": [], "other": "rude"})],
        "two": [both({"categories": ["unsafe"]}, {"categories": [], "other": "insulting"})],
        "six": [both({"categories": ["unsafe", "private data"]}, {"categories": []})]}, responses=2)
    assert [v.name for v in variables] == ["categories", "unsafe", "private data", "Other"]
    assert found["p00"].status == "agreed"
    assert found["p00"].value == {"mode": "categorical", "responses": {
        "r0": {"categories": ["unsafe"]},
        "r1": {"categories": [], "other": "(the annotators' own words)"}}}


def test_merged_project_reports_categorical_figures_and_consensus(cat_world, tmp_path):
    import json

    from click.testing import CliRunner

    from annotary.cli.main import cli
    from annotary.flows.workspace import describe_value

    store = cat_world.copy(tmp_path)
    store.close()
    result = CliRunner().invoke(cli, ["agreement", str(tmp_path / "project.db"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    keys = {v["question_id"] + "." + v["variable"]: v for v in report["variables"]}
    assert keys["errors.categories"]["level"] == "set"
    assert keys["errors.omission"]["level"] == "nominal"  # a yes / no variable per category
    assert keys["diagnosis.category"]["fleiss_kappa"] is not None
    assert keys["safe.category"]["units"] == 12  # asked of each of the two responses of six items
    found = {(c["item_id"], c["question_id"]): c for c in report["consensus"]}
    # case-0: errors {1,2}, {1,2}, {1} -> hallucination and omission; diagnosis 4, 4, 4 -> neurosis
    assert found[("case-0", "diagnosis")]["value"] == {"mode": "categorical", "categories": ["neurosis"]}
    assert found[("case-1", "errors")]["value"]["categories"] == []  # none, none, outdated
    # case-5 diagnosis: neurosis, depression, other: three ways, no plurality
    assert found[("case-5", "diagnosis")]["status"] == "conflict"
    text = CliRunner().invoke(cli, ["agreement", str(tmp_path / "project.db")]).output
    assert "errors.categories" in text and "set" in text
    assert describe_value(found[("case-0", "diagnosis")]["value"]) == "neurosis"


def test_triage_compares_the_sets_of_categories():
    from annotary.analysis.triage import answer_parts, majority_parts, same

    a = answer_parts({"mode": "categorical", "categories": ["omission", "outdated"]})
    b = answer_parts({"mode": "categorical", "categories": ["outdated", "omission"], "other": None})
    c = answer_parts({"mode": "categorical", "categories": ["omission"], "other": "x"})
    assert same(a, b) and not same(a, c)
    assert majority_parts([a, b, c]) == {(): frozenset({"omission", "outdated"})}
    per = answer_parts({"mode": "categorical", "responses": {"r1": {"categories": ["safe"]},
                                                            "r2": {"categories": ["unsafe"]}}})
    assert per == {("r1",): ("nominal", frozenset({"safe"})), ("r2",): ("nominal", frozenset({"unsafe"}))}
