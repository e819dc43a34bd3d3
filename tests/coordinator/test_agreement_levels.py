"""A scoring question's level of measurement decides its agreement figure and its consensus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotary.analysis.agreement import krippendorff_alpha
from annotary.core.errors import SpecError
from annotary.core.spec import load_spec_file
from annotary.ops.final import final_answers
from annotary.ops.project import ANSWER, create_project, open_project
from annotary.ops.quality import quality_report
from annotary.ops.raters import import_rater_labels
from tests.coordinator.test_quality import write_rows

SCALE = [{"value": v, "label": str(v), "anchor": f"{v} out of 10"} for v in (0, 1, 2, 3, 5, 10)]
# three raters, four items; scores on an uneven scale, so positions and values differ
SCORES = {"p0": [0, 2, 10, 3], "p1": [1, 3, 5, 3], "p2": [0, 10, 10, 2]}


def scoring_project(tmp_path, coordinator, level: str | None):
    q = {"id": "q", "mode": "scoring", "text": "How good?",
         "axes": [{"id": "quality", "name": "Quality", "scale": SCALE}]}
    if level is not None:
        q["level"] = level
    (tmp_path / "spec.json").write_text(json.dumps({"project_id": "lv", "name": "Levels", "questions": [q]}))
    write_rows(tmp_path / "items.jsonl", [{"id": f"i{n}", "prompt": f"p{n}", "responses": [{"id": "r", "text": "t"}]}
                                          for n in range(4)])
    out = tmp_path / f"{level}.db"
    create_project(spec_path=tmp_path / "spec.json", items_paths=[tmp_path / "items.jsonl"], out=out,
                   identity=coordinator)
    store = open_project(out)
    for who, scores in SCORES.items():
        write_rows(tmp_path / f"{who}.jsonl", [
            {"item_id": f"i{n}", "question_id": "q", "answer": {"mode": "scoring", "scores": {"r": {"quality": s}}}}
            for n, s in enumerate(scores)])
        import_rater_labels(store, rater=who, path=tmp_path / f"{who}.jsonl", human=True)
    return store


VALUES = np.array(list(SCORES.values()), dtype=float).T  # units x raters


@pytest.mark.parametrize("level", [None, "ordinal", "interval", "ratio"])
def test_alpha_follows_the_declared_level(tmp_path, coordinator, level):
    report = quality_report(scoring_project(tmp_path, coordinator, level))
    (var,) = report.variables
    assert var.level == (level or "ordinal")
    assert var.alpha == pytest.approx(krippendorff_alpha(VALUES, level or "ordinal"))
    assert var.pairs and all(p.kappa_quadratic is not None for p in var.pairs)


def test_interval_consensus_is_the_mean_at_the_nearest_scale_point(tmp_path, coordinator):
    ordinal = {c.item_id: c for c in quality_report(scoring_project(tmp_path, coordinator, "ordinal")).consensus}
    interval = {c.item_id: c for c in quality_report(scoring_project(tmp_path, coordinator, "interval")).consensus}
    # item i1: 2, 3, 10: the median 3 has two of three within a point; the mean 5 has none
    assert ordinal["i1"].value["scores"]["r"]["quality"] == 3 and ordinal["i1"].status == "agreed"
    assert interval["i1"].status == "conflict" and interval["i1"].support == 0
    # item i2: 10, 5, 10: median 10; mean 8.33, nearest point 10
    assert interval["i2"].value["scores"]["r"]["quality"] == 10 and interval["i2"].status == "agreed"
    # i3: 3, 3, 2: mean 2.67 -> 3; all within one point
    assert interval["i3"].value["scores"]["r"]["quality"] == 3 and interval["i3"].support == 1.0
    for c in interval.values():
        if c.value is not None:
            ANSWER.validate_python(c.value)  # a scale point, so a valid answer


def test_final_answers_of_an_interval_scale_are_scale_points(tmp_path, coordinator):
    store = scoring_project(tmp_path, coordinator, "interval")
    for a in final_answers(store):
        assert a.answer["scores"]["r"]["quality"] in {p["value"] for p in SCALE}


def test_ratio_needs_a_scale_from_zero(tmp_path):
    spec = {"project_id": "lv", "name": "Levels", "questions": [
        {"id": "q", "mode": "scoring", "text": "How good?", "level": "ratio",
         "axes": [{"id": "quality", "name": "Quality", "scale": [
             {"value": v, "label": str(v), "anchor": str(v)} for v in (-1, 0, 1)]}]}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(SpecError, match="ratio scale starts at a true zero.*quality -1"):
        load_spec_file(tmp_path / "spec.json")
    spec["questions"][0]["level"] = "nominal"
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(SpecError, match="level"):
        load_spec_file(tmp_path / "spec.json")
