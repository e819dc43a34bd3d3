"""An export holds its final answers as columns and reads the labels a page at a time: the answers
are those export_answers gives, and what is written does not depend on the page sizes."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import annotary.ops.export as export_ops
import annotary.ops.final as final
from annotary.bundles.identity import load_identity
from annotary.ops.export import export_dataset
from annotary.ops.final import export_answers, export_columns, final_answers
from annotary.ops.quality import Options, quality_report
from tests.conftest import spec_of
from tests.exports.conftest import build, pw
from tests.exports.test_export_answers import (  # noqa: F401
    ITEMS,
    QUESTIONS,
    _rounded,
    _store_labels,
    labels,
    project,
)


@pytest.mark.parametrize("question", ["four", "seven"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_columns_read_in_small_pages_hold_the_general_answers(project, question, data, monkeypatch):  # noqa: F811
    """Pages of a few labels split an item's revisions between pages (or fill one with them)."""
    monkeypatch.setattr(final, "LABEL_PAGE_ROWS", data.draw(st.integers(1, 4)))
    monkeypatch.setattr(final, "ITEM_SPAN", data.draw(st.integers(1, 5)))
    rows = data.draw(labels(question))
    decided = data.draw(st.lists(st.sampled_from(ITEMS), unique=True, max_size=3))
    opt = Options(min_share=data.draw(st.sampled_from([0.5, 0.75])))
    _store_labels(project, question, rows, decided)

    report, columns = export_columns(project, question=question, options=opt)

    general = quality_report(project, question=question, options=opt, light=True)
    assert list(columns) == final_answers(project, question=question, options=opt, report=general)
    # the export's report counts the conflicts and decided units; its figures are the report's
    assert report.conflicts == general.conflicts and report.decided == general.decided
    assert _rounded([s.__dict__ for s in report.variables]) == _rounded([s.__dict__ for s in general.variables])
    assert (report.humans, report.guidelines_versions) == (general.humans, general.guidelines_versions)
    assert export_answers(project, question=question, options=opt)[1] == list(columns)


def test_an_answer_kept_by_filters_keeps_its_reason_and_rater(project):  # noqa: F811
    rows = [(i, w, 1, False, pw("A" if i != "i1" or w == "human:a" else "B"), "1")
            for i in ITEMS[:4] for w in ("human:a", "human:b")]
    _store_labels(project, "four", rows, ["i1"])
    _, columns = export_columns(project, question="four")
    kept = columns.take(columns.provenance == final.ADJUDICATED)
    assert [(f.item_id, f.provenance, f.reason, f.rater) for f in kept] == [("i1", "adjudicated", "r2 is right", "rev")]


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in ("README.md", "manifest.json")}


EXPORTS = [
    ("trl-preference", {"question": "helpful"}),
    ("trl-preference", {"question": "helpful", "min_provenance": "unanimous", "ties": "keep"}),
    ("trl-kto", {"question": "helpful", "min_agreement": 0.9}),
    ("sft", {"question": "helpful", "exclude_flagged": True}),
    ("labels-long", {"question": "helpful", "parquet": True}),
    ("labels-long", {"question": "helpful", "min_provenance": "majority"}),
]


@pytest.mark.parametrize(("fmt", "choices"), EXPORTS)
def test_what_is_written_does_not_depend_on_the_page_sizes(merged, tmp_path, monkeypatch, fmt, choices):
    whole = tmp_path / "whole"
    report = export_dataset(merged, out=whole, fmt=fmt, **choices)
    for name, size in (("LABEL_PAGE_ROWS", 1), ("ITEM_SPAN", 2), ("CHUNK", 3), ("PREFETCH_ITEMS", 2)):
        monkeypatch.setattr(final if hasattr(final, name) else export_ops, name, size)
    paged = tmp_path / "paged"
    again = export_dataset(merged, out=paged, fmt=fmt, **choices)
    same = {"out": "", "message": "", "files": {}}  # the card holds the time it was written
    assert _files(paged) == _files(whole) and again.as_dict() | same == report.as_dict() | same
    assert report.rows > 0


def test_labels_long_of_a_one_question_project_takes_the_pairwise_path(tmp_path, coordinator_dir, monkeypatch):
    items = [{"id": f"i{n}", "prompt": f"Question {n}?",
              "responses": [{"id": "x", "text": "one"}, {"id": "y", "text": "two"}]} for n in range(4)]
    answers = {"a": ["A", "A", "B", "tie"], "b": ["A", "B", "B", "B"], "c": ["A", "B", "A", "both_bad"]}
    store = build(tmp_path / "one", spec_of(QUESTIONS["four"], project_id="one"), items,
                  {who: [(f"i{n}", "four", pw(c)) for n, c in enumerate(cs)] for who, cs in answers.items()},
                  load_identity(coordinator_dir))
    expected = {f.item_id: f.provenance for f in export_answers(store, question="four")[1]}

    def refuse(*_, **__):
        raise AssertionError("the general report was computed")

    monkeypatch.setattr(final, "quality_report", refuse)
    import json

    out = tmp_path / "labels"
    export_dataset(store, out=out, fmt="labels-long")
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 12 and {r["item_id"]: r["provenance"] for r in rows if r["item_id"] != "i3"} == expected
    assert expected == {"i0": "unanimous", "i1": "majority", "i2": "majority"}
    assert not any(r["provenance"] for r in rows if r["item_id"] == "i3")  # tie, B, both bad: a conflict
    store.close()
