"""Each mode labelled with key presses only: three items, then the store and the signed export."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.bundles.bundle import read_bundle
from annotary.core.labels import Label
from annotary.ops import queries
from tests.conftest import (
    DEMO_Q,
    RANKING_Q,
    RUBRIC_Q,
    SCORING_Q,
    demo_items,
    ranking_items,
    rubric_items,
    screenshot,
    spec_of,
)
from tests.ui.test_pairwise_keys import press, type_text

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
DIGITS = {n: getattr(K, f"Key_{n}") for n in range(10)}


@pytest.fixture
def open_project(qtbot, window, asker, make_bundle):
    def make(spec, items):
        asker.paths.append(str(make_bundle(spec, items)))
        press(qtbot, window, K.Key_O, CTRL)
        assert window.labeling is not None, asker.errors
        return window
    return make


def submit(qtbot, w):
    press(qtbot, w, K.Key_Return, CTRL)


def export_labels(qtbot, w, asker, tmp_path) -> list[Label]:
    out = tmp_path / "results.annotary"
    asker.paths.append(str(out))
    press(qtbot, w, K.Key_E, CTRL)
    assert asker.errors == []
    return read_bundle(out, expect_kind="results").records("results.jsonl", Label)


def current(store, w):
    f = w.labeling.flow
    return {(lab.item_id, lab.question_id): lab
            for lab in queries.current_labels(store, f.project_id, f.annotator)}


def test_ranking_by_keys(qtbot, open_project, store, asker, tmp_path):
    w = open_project(spec_of(RANKING_Q, project_id="rank-ui"), ranking_items(3, 4))
    flow = w.labeling.flow
    shown = {}
    # item 1: 3 1 2 4; item 2: 2 = 1, then 4 3; item 3: typo fixed with Backspace
    for keys in ([3, 1, 2, 4], [2, "=", 1, 4, 3], [1, 2, "bs", 3, 2, 4]):
        shown[flow.current.item.id] = list(flow.current.shown_order)
        for k in keys:
            if k == "=":
                press(qtbot, w, K.Key_Equal)
            elif k == "bs":
                press(qtbot, w, K.Key_Backspace)
            else:
                press(qtbot, w, DIGITS[k])
        if len(shown) == 2:
            screenshot(w, "ranking")
            assert "#1" in w.labeling.responses.panes[1].header.text()  # the badge carries a number
        submit(qtbot, w)
    labels = current(store, w)
    assert len(labels) == 3
    (i1, o1), (i2, o2), (i3, o3) = shown.items()
    assert labels[(i1, "rank")].answer.order == [[o1[2]], [o1[0]], [o1[1]], [o1[3]]]
    assert labels[(i2, "rank")].answer.order == [[o2[1], o2[0]], [o2[3]], [o2[2]]]
    assert labels[(i3, "rank")].answer.order == [[o3[0]], [o3[2]], [o3[1]], [o3[3]]]
    exported = export_labels(qtbot, w, asker, tmp_path)
    assert {(lab.item_id, lab.answer.order[0][0]) for lab in exported} == {
        (i, labels[(i, "rank")].answer.order[0][0]) for i in (i1, i2, i3)}


def test_scoring_by_keys(qtbot, open_project, store, asker, tmp_path):
    w = open_project(spec_of(SCORING_Q, project_id="score-ui"), ranking_items(3, 2))
    flow = w.labeling.flow
    first = flow.current.item.id
    shown = list(flow.current.shown_order)
    for _ in range(3):
        for n in (4, 3, 4, 2, 1, 2, 2, 3, 1, 0):
            press(qtbot, w, DIGITS[n])
        if flow.current.item.id == first:
            press(qtbot, w, K.Key_Up)  # back to verbosity... of B's complexity
            press(qtbot, w, K.Key_Left)  # ...of response A
            press(qtbot, w, DIGITS[0])
            screenshot(w, "scoring")
        submit(qtbot, w)
    labels = current(store, w)
    assert len(labels) == 3
    scores = labels[(first, "scores")].answer.scores
    assert scores[shown[0]] == {"helpfulness": 4, "correctness": 3, "coherence": 4,
                                "complexity": 0, "verbosity": 1}
    assert scores[shown[1]] == {"helpfulness": 2, "correctness": 2, "coherence": 3,
                                "complexity": 1, "verbosity": 0}
    assert len(export_labels(qtbot, w, asker, tmp_path)) == 3


def test_rubric_by_keys(qtbot, open_project, store, asker, tmp_path):
    w = open_project(spec_of(RUBRIC_Q, project_id="rubric-ui"), rubric_items(3))
    flow = w.labeling.flow
    first = flow.current.item.id
    # Y (doctor met), N (dose not met), J (skip optional fluids), Space (own: met)
    press(qtbot, w, K.Key_Y)
    press(qtbot, w, K.Key_N)
    press(qtbot, w, K.Key_J)
    press(qtbot, w, K.Key_Space)
    assert "Score 0.82" in w.labeling.panels[0].score.text()  # 9 of 11
    screenshot(w, "rubric")
    submit(qtbot, w)
    for _ in range(2):
        for key in (K.Key_Y, K.Key_Y, K.Key_N, K.Key_N):  # unsafe dose met: score goes negative
            press(qtbot, w, key)
        press(qtbot, w, K.Key_K)
        press(qtbot, w, K.Key_Space)  # toggles 'fluids' to not met
        submit(qtbot, w)
    labels = current(store, w)
    assert labels[(first, "rubric")].answer.marks == {"doctor": "met", "dose": "not_met", "own": "met"}
    others = [lab for (i, _), lab in labels.items() if i != first]
    assert all(lab.answer.marks == {"doctor": "met", "dose": "met", "fluids": "met", "own": "not_met"}
               for lab in others)
    assert len(export_labels(qtbot, w, asker, tmp_path)) == 3


def test_demonstration_by_keys(qtbot, open_project, store, asker, tmp_path):
    w = open_project(spec_of(DEMO_Q, project_id="demo-ui"), demo_items(3))
    flow = w.labeling.flow
    panel = w.labeling.panels[0]
    ids = []
    for n in range(3):
        ids.append(flow.current.item.id)
        press(qtbot, w, K.Key_E)
        assert w.focusWidget() is panel.editor
        press(qtbot, w, K.Key_End, CTRL)
        type_text(qtbot, w, f" and more words {n}")  # letters and digits type, they answer nothing
        if n == 0:
            press(qtbot, w, K.Key_W, CTRL | SHIFT)  # diff against the draft
            assert panel.diff.isVisible() and "more" in panel.diff.toPlainText()
            screenshot(w, "demonstration-diff")
            press(qtbot, w, K.Key_W, CTRL | SHIFT)
            screenshot(w, "demonstration")
        submit(qtbot, w)
    labels = current(store, w)
    for n, item_id in enumerate(ids):
        lab = labels[(item_id, "ideal")]
        assert lab.answer.text.endswith(f" and more words {n}")
        assert lab.answer.draft and lab.answer.text.startswith(lab.answer.draft)
    assert len(export_labels(qtbot, w, asker, tmp_path)) == 3


def test_two_modes_on_one_item_with_tab(qtbot, open_project, store):
    spec = spec_of(SCORING_Q, RUBRIC_Q, project_id="multi-ui")
    w = open_project(spec, rubric_items(1))
    flow = w.labeling.flow
    press(qtbot, w, K.Key_Tab)
    assert flow.focused_question.id == "rubric"
    press(qtbot, w, DIGITS[3])  # digits belong to the focused question: not a rubric key
    assert "digits do nothing" in w.labeling.status.text()
    press(qtbot, w, K.Key_Backtab, SHIFT)
    for n in (4, 4, 4, 2, 2):
        press(qtbot, w, DIGITS[n])
    assert flow.focused_question.id == "rubric"  # moved on by itself
    for key in (K.Key_Y, K.Key_N, K.Key_Y, K.Key_Y):
        press(qtbot, w, key)
    screenshot(w, "scoring-and-rubric")
    submit(qtbot, w)
    assert len(current(store, w)) == 2
