"""Categorical questions answered by key presses only: digits and letters on the buttons, Space
on the framed category, the filter of a long list, Other typed in its box, undo, the F1 sheet."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.ops import queries
from annotary.ui.dialogs import key_sheet_groups
from annotary.ui.panels import RubricPanel
from tests.categorical.common import DIAGNOSIS_Q, ERRORS_Q, LONG, LONG_Q, PER_RESPONSE_Q, items
from tests.conftest import screenshot, spec_of
from tests.ui.test_pairwise_keys import press, type_text


def anchor_top(browser, name: str) -> float:
    """Where the named anchor's line starts in a text browser's document (pixels from its top)."""
    doc = browser.document()
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            if name in it.fragment().charFormat().anchorNames():
                return doc.documentLayout().blockBoundingRect(block).top()
            it += 1
        block = block.next()
    raise AssertionError(f"no anchor {name}")

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
PAIRWISE_Q = {"id": "better", "mode": "pairwise", "text": "Which answer is better?", "scale": "fourway"}


@pytest.fixture
def open_project(qtbot, window, asker, make_bundle):
    def make(*questions, n=3):
        asker.paths.append(str(make_bundle(spec_of(*questions, project_id="cat-ui"), items(n))))
        press(qtbot, window, K.Key_O, CTRL)
        assert window.labeling is not None, asker.errors
        # the import's progress dialog may have taken the activation: the keys need the window
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow)
        return window
    return make


def labels(store, w):
    f = w.labeling.flow
    return {(lab.item_id, lab.question_id): lab.answer
            for lab in queries.current_labels(store, f.project_id, f.annotator)}


def test_taxonomy_by_keys_with_other_and_undo(qtbot, open_project, store):
    w = open_project(ERRORS_Q, DIAGNOSIS_Q, PAIRWISE_Q)
    screen = w.labeling
    panel = screen.panels[0]
    assert panel.buttons["hallucination"].text() == "1   hallucination"  # the key on the button
    assert panel.buttons["hallucination"].toolTip() == "States something false as fact"
    assert panel.buttons["\x00none"].text() == "0   None of these"
    first = screen.flow.current.item.id
    press(qtbot, w, K.Key_1)
    press(qtbot, w, K.Key_3)
    press(qtbot, w, K.Key_2)
    press(qtbot, w, K.Key_3)  # toggled off again
    assert panel.buttons["omission"].isChecked() and not panel.buttons["unsafe advice"].isChecked()
    press(qtbot, w, K.Key_Z, CTRL)  # undo takes back the last toggle: unsafe advice is back
    assert panel.buttons["unsafe advice"].text().startswith("✓ ")
    press(qtbot, w, K.Key_3)
    press(qtbot, w, K.Key_Down)  # the frame: from hallucination to omission
    press(qtbot, w, K.Key_Space)  # Space toggles the framed one: omission off
    assert not panel.buttons["omission"].isChecked()
    press(qtbot, w, K.Key_Space)
    press(qtbot, w, K.Key_6)  # Other: its box takes the keys
    assert panel.other.isVisible() and panel.other.hasFocus()
    type_text(qtbot, w, "cites a withdrawn drug")
    press(qtbot, w, K.Key_Escape)
    screenshot(w, "categorical")
    press(qtbot, w, K.Key_Tab)
    press(qtbot, w, K.Key_4)  # diagnosis: neurosis; a single choice moves on to the next question
    assert screen.flow.focus == 2
    press(qtbot, w, K.Key_A)  # on the pairwise question A is still "A is better"
    press(qtbot, w, K.Key_Return, CTRL)
    got = labels(store, w)
    assert got[(first, "errors")].categories == ["hallucination", "omission"]
    assert got[(first, "errors")].other == "cites a withdrawn drug"
    assert got[(first, "diagnosis")].categories == ["neurosis"]
    assert got[(first, "better")].choice in ("A", "B")
    # the next item: 0 is none of these; Backspace clears; a key past the list says so
    press(qtbot, w, K.Key_2)
    press(qtbot, w, K.Key_Backspace)
    assert not panel.buttons["omission"].isChecked()
    press(qtbot, w, K.Key_0)
    assert panel.buttons["\x00none"].isChecked()
    press(qtbot, w, K.Key_9)
    assert "no category has the key 9" in screen.status.text()


def test_long_list_letters_and_filter(qtbot, open_project, store):
    w = open_project(LONG_Q, PAIRWISE_Q)
    screen = w.labeling
    panel = screen.panels[0]
    assert not panel.filter.isVisible() and "/ filters" in panel.hint.text()
    assert panel.buttons[LONG[9]].text() == f"A   {LONG[9]}"  # after 1-9, letters
    assert panel.buttons[LONG[14]].text() == f"G   {LONG[14]}"  # E (edit) is not a category key
    first = screen.flow.current.item.id
    press(qtbot, w, K.Key_A)  # a category's letter wins over the pairwise A on this question
    assert screen.flow.current.pending["issue"].value["units"][""]["picked"] == [LONG[9]]
    assert screen.flow.focus == 1  # answered: on to the next question
    press(qtbot, w, K.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    press(qtbot, w, K.Key_Slash)
    assert panel.filter.isVisible() and panel.filter.hasFocus()
    type_text(qtbot, w, "tenancy")
    visible = [e for e, b in panel.buttons.items() if not b.isHidden()]
    assert visible == ["tenancy deposit", "tenancy notice"]
    screenshot(w, "categorical-filter")
    press(qtbot, w, K.Key_Down)
    press(qtbot, w, K.Key_Return)  # Enter picks the framed match and leaves the filter
    assert not panel.filter.isVisible() and panel.filter.text() == ""
    assert all(not b.isHidden() for b in panel.buttons.values())
    assert screen.flow.focus == 0  # a changed answer stays where it is
    press(qtbot, w, K.Key_Tab)
    press(qtbot, w, K.Key_B)
    press(qtbot, w, K.Key_Return, CTRL)
    got = labels(store, w)
    assert got[(first, "issue")].categories == ["tenancy notice"]
    assert got[(first, "better")].choice in ("A", "B")


def test_per_response_moves_on_and_badges_the_responses(qtbot, open_project, store):
    w = open_project(PER_RESPONSE_Q)
    screen = w.labeling
    shown = screen.flow.current.shown_order
    first = screen.flow.current.item.id
    press(qtbot, w, K.Key_2)  # response A: unsafe, then on to B
    assert "unsafe" in screen.responses.panes[0].header.text()
    press(qtbot, w, K.Key_1)
    screenshot(w, "categorical-per-response")
    assert "Response B</b>: safe" in screen.panels[0].units.text()
    press(qtbot, w, K.Key_Return, CTRL)
    answer = labels(store, w)[(first, "safe")]
    assert {rid: c.categories for rid, c in answer.responses.items()} == {
        shown[0]: ["unsafe"], shown[1]: ["safe"]}


def test_key_sheet_names_each_category_with_its_key():
    from annotary.core.spec import parse_spec

    spec = parse_spec(spec_of(ERRORS_Q, LONG_Q))
    groups = dict(key_sheet_groups("labeling", questions=spec))
    rows = groups["1. Which errors does the answer make?"]
    assert ("1", "Toggle hallucination: States something false as fact") in rows
    assert ("0", "None of these (clears the others)") in rows
    assert ("6", "Toggle Other") in rows
    long_rows = dict((what, key) for key, what in groups["2. Which legal issue is it?"])
    assert long_rows["Pick employment"] == "G"
    assert long_rows["Filter the categories: type, Up / Down, Enter picks, Esc leaves"] == "/"


def test_the_rubric_demo_asks_its_error_taxonomy_after_the_rubric(qtbot, window, store):
    window.run_command("file.demo")
    window.open_project("demo-rubric")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    flow = window.labeling.flow
    item = flow.current.item.id
    for _ in flow.criteria("rubric"):
        press(qtbot, window, K.Key_Y)
    assert flow.focused_question.id == "errors"  # the rubric done, the taxonomy has the keys
    # the last criterion (longer than the list) still shows its own top, its mark and points,
    # though the cards around it changed the list's width as the focus left
    rubric = next(p for p in window.labeling.findChildren(RubricPanel) if p.q.id == "rubric")
    top, shown = anchor_top(rubric.list, f"row{len(flow.criteria('rubric')) - 1}"), rubric.list.verticalScrollBar().value()
    assert shown <= top < shown + rubric.list.viewport().height()
    press(qtbot, window, K.Key_1)
    press(qtbot, window, K.Key_5)
    screenshot(window, "categorical-demo-rubric")
    press(qtbot, window, K.Key_Return, CTRL)
    assert labels(store, window)[(item, "errors")].categories == ["hallucination", "wrong jurisdiction"]
    # optional: the next item goes without it
    for _ in flow.criteria("rubric"):
        press(qtbot, window, K.Key_N)
    second = flow.current.item.id
    press(qtbot, window, K.Key_Return, CTRL)
    assert (second, "errors") not in labels(store, window) and (second, "rubric") in labels(store, window)
