"""The export's own path for one pairwise question gives the report and final answers the general one does."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotary.bundles.identity import load_identity
from annotary.ops.final import export_answers, final_answers
from annotary.ops.quality import Options, quality_report
from tests.conftest import spec_of
from tests.exports.conftest import build, put_raw_decision, put_raw_label, pw

QUESTIONS = {
    "four": {"id": "four", "mode": "pairwise", "text": "Which is better?", "scale": "fourway"},
    "two": {"id": "two", "mode": "pairwise", "text": "Which is better?", "scale": "binary"},
    "seven": {"id": "seven", "mode": "pairwise", "text": "How much better?", "scale": "strength", "points": 7},
    "four_points": {"id": "four_points", "mode": "pairwise", "text": "How much?", "scale": "strength", "points": 4},
}
ITEMS = [f"i{n}" for n in range(12)]
GOLD, CALIBRATION = "i10", "i11"
WHO = ["human:a", "human:b", "human:c", "human:d"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, coordinator_dir):
    items = [{"id": i, "prompt": f"Question {i}?",
              "responses": [{"id": f"{i}-x", "text": "one"}, {"id": f"{i}-y", "text": "two"}]} for i in ITEMS]
    items[10] |= {"kind": "gold", "gold": {"four": pw("A"), "seven": pw("A", 2)}}
    items[11] |= {"kind": "calibration", "gold": {"four": pw("B")}, "explanation": "B is right"}
    store = build(tmp_path_factory.mktemp("answers"), spec_of(*QUESTIONS.values(), project_id="answers"),
                  items, {}, load_identity(coordinator_dir))
    yield store
    store.close()


def _answer(question: str, draw) -> dict | None:
    q = QUESTIONS[question]
    if q["scale"] == "strength":
        point = draw(st.integers(1, q["points"]))
        half = q["points"] // 2
        choice = "tie" if q["points"] % 2 and point == half + 1 else ("A" if point <= half else "B")
        return pw(choice, point)
    return pw(draw(st.sampled_from(["A", "B"] if q["scale"] == "binary" else ["A", "B", "tie", "both_bad"])))


@st.composite
def labels(draw, question: str):
    """(item, annotator, revision, retracted, answer or None for a skip, guidelines version)"""
    out = []
    for item in ITEMS:
        for who in draw(st.lists(st.sampled_from(WHO), unique=True, max_size=4)):
            for revision in range(1, draw(st.integers(1, 2)) + 1):
                skip = draw(st.integers(0, 9)) == 0
                out.append((item, who, revision, draw(st.integers(0, 9)) == 0,
                            None if skip else _answer(question, draw), draw(st.sampled_from(["1", "2", None]))))
    return out


def _store_labels(store, question: str, rows, decided: list[str]) -> None:
    with store.atomic():
        store.conn.execute("DELETE FROM labels")
        store.conn.execute("DELETE FROM decisions")
        for item, who, revision, retracted, answer, version in rows:
            put_raw_label(store, "answers", item, question, who, revision, retracted, answer, version,
                          [f"{item}-x", f"{item}-y"])
        for item in decided:
            put_raw_decision(store, "answers", item, question, pw("B"), "r2 is right")


@pytest.mark.parametrize("question", list(QUESTIONS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_pairwise_path_gives_the_general_report_and_answers(project, question, data):
    rows = data.draw(labels(question))
    decided = data.draw(st.lists(st.sampled_from(ITEMS), unique=True, max_size=3))
    opt = Options(min_share=data.draw(st.sampled_from([0.5, 0.6, 0.75])))
    _store_labels(project, question, rows, decided)

    report, finals = export_answers(project, question=question, options=opt)

    general = quality_report(project, question=question, options=opt, light=True)
    assert finals == final_answers(project, question=question, options=opt, report=general)
    # the figures are sums over the units in another order: equal to the last bits
    assert _rounded(report.as_dict()) == _rounded(general.as_dict())


def _rounded(obj):
    if isinstance(obj, float):
        return round(obj, 12)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def test_the_general_path_is_taken_where_the_pairwise_one_does_not_apply(project, monkeypatch):
    """Weighted consensus (Dawid-Skene) and machine raters need every rating: the general path."""
    rows = [(i, w, 1, False, pw("A" if w != "human:c" else "B"), "1") for i in ITEMS[:6] for w in WHO[:3]]
    _store_labels(project, "four", rows, [])
    import annotary.ops.final as final

    def refuse(*_):
        raise AssertionError("the pairwise path was taken")

    monkeypatch.setattr(final, "_pairwise", refuse)
    report, finals = export_answers(project, question="four", options=Options(weighted=True))
    assert [f.provenance for f in finals if f.item_id in ITEMS[:6]] == ["majority"] * 6
    assert asdict(report.options)["weighted"] is True


def test_a_label_of_an_item_no_longer_there_is_left_out_by_both_paths(project):
    rows = [(i, w, 1, False, pw("A"), "1") for i in ITEMS[:3] for w in WHO[:2]]
    _store_labels(project, "four", rows, [])
    project.conn.execute("PRAGMA foreign_keys=OFF")
    try:
        _store_labels(project, "four", [*rows, ("ghost", "human:a", 1, False, pw("B"), "1")], [])
        report, finals = export_answers(project, question="four")
        general = quality_report(project, question="four", light=True)
        assert finals == final_answers(project, question="four", report=general)
        assert _rounded(report.as_dict()) == _rounded(general.as_dict())
        assert "ghost" not in {f.item_id for f in finals} and len(finals) == 4  # 3 unanimous + gold
    finally:
        _store_labels(project, "four", [], [])
        project.conn.execute("PRAGMA foreign_keys=ON")


def test_items_read_as_columns_are_put_in_their_order():
    """SQLite documents no order for group_concat: the items are put in seq order after it."""
    from annotary.ops.final import _items

    class Rows:
        def tuples(self, *_):
            return type("Cursor", (), {"fetchone": lambda _: ("3,1,2", "c\x1ea\x1eb", '["x"]\x1e\x1e["y"]')})()

    assert _items(Rows(), "p") == (["a", "b", "c"], [None, '["y"]', '["x"]'])
