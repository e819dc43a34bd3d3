"""Label with key presses only: import, answer, rationale, revision, export, verify."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.ops import queries
from annotary.ops.verify import verify_bundle
from tests.conftest import screenshot

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier

SPEC = {
    "project_id": "ui-test", "name": "UI test",
    "questions": [
        {"id": "overall", "mode": "pairwise", "text": "Which is better?", "scale": "fourway",
         "rationale": "required"},
        {"id": "safety", "mode": "pairwise", "text": "Which is safer?", "scale": "tie"},
    ],
}


def press(qtbot, window, key, mod=Qt.KeyboardModifier.NoModifier):
    """Through the QWindow, as the window system delivers keys: shortcuts first, then focus."""
    qtbot.keyClick(window.windowHandle(), key, mod)


def type_text(qtbot, window, text):
    for ch in text:
        qtbot.keyClick(window.windowHandle(), ch)


@pytest.fixture
def opened(qtbot, window, asker, make_bundle):
    bundle = make_bundle(SPEC)
    asker.paths.append(str(bundle))
    press(qtbot, window, K.Key_O, CTRL)
    assert window.labeling is not None, asker.errors
    return window


def test_label_three_items_by_keyboard(qtbot, opened, asker, store, identity, tmp_path):
    w = opened
    screen = w.labeling
    flow = screen.flow
    assert "UI test" in w.windowTitle() and "item 1 of 32" in w.windowTitle()
    first = flow.current.item.id
    left_of_first = flow.current.shown_order[0]

    # item 1: A, then T on the second question, rationale required
    press(qtbot, w, K.Key_A)
    press(qtbot, w, K.Key_T)
    press(qtbot, w, K.Key_Return, CTRL)
    assert flow.current.item.id == first  # refused: the rationale is missing
    assert "write a rationale" in screen.status.text()
    screenshot(w, "pairwise-missing-rationale")
    press(qtbot, w, K.Key_Tab)  # back to the first question
    assert flow.focus == 0
    press(qtbot, w, K.Key_R)
    assert w.focusWidget() is screen.panels[0].rationale
    type_text(qtbot, w, "A answers the actual question")  # letters go to the text, not answers
    assert flow.current.pending["overall"].value == {"key": "A"}
    press(qtbot, w, K.Key_Escape)
    press(qtbot, w, K.Key_Return, CTRL)
    assert flow.current.position == 1

    # item 2: B and B; item 3: both bad and tie
    press(qtbot, w, K.Key_B)
    press(qtbot, w, K.Key_B)
    press(qtbot, w, K.Key_R)
    type_text(qtbot, w, "B is correct")
    press(qtbot, w, K.Key_Escape)
    press(qtbot, w, K.Key_Return, CTRL)
    press(qtbot, w, K.Key_X)
    press(qtbot, w, K.Key_T)
    press(qtbot, w, K.Key_R)
    type_text(qtbot, w, "both wrong")
    press(qtbot, w, K.Key_Escape)
    screenshot(w, "pairwise-answered")
    press(qtbot, w, K.Key_Return, CTRL)
    assert flow.current.position == 3
    assert screen.progress.value() == 3

    # revise item 1: go back three times, choose B instead
    for _ in range(3):
        press(qtbot, w, K.Key_Left, ALT)
    assert flow.current.item.id == first and flow.current.revision == 1
    press(qtbot, w, K.Key_B)
    press(qtbot, w, K.Key_Return, CTRL)

    labels = {(lab.item_id, lab.question_id): lab
              for lab in queries.current_labels(store, "ui-test", identity.key_id)}
    assert len(labels) == 6
    revised = labels[(first, "overall")]
    assert revised.revision == 2
    assert revised.rationale == "A answers the actual question"
    assert revised.answer.preferred != left_of_first  # B on screen = the right-hand response
    assert labels[(first, "safety")].answer.choice == "tie"

    # export with Ctrl+E and check the signed file
    out = tmp_path / "results.annotary"
    asker.paths.append(str(out))
    press(qtbot, w, K.Key_E, CTRL)
    assert asker.errors == []
    report = verify_bundle(out)
    assert report.kind == "results" and report.counts["labels"] == 6
    assert report.signer_key_id == identity.key_id


def test_keys_do_not_answer_while_typing_and_undo_works(qtbot, opened):
    w = opened
    flow = w.labeling.flow
    press(qtbot, w, K.Key_R)
    type_text(qtbot, w, "abtx")
    assert flow.current.pending["overall"].value is None
    press(qtbot, w, K.Key_Escape)
    press(qtbot, w, K.Key_A)
    assert flow.current.pending["overall"].value == {"key": "A"}
    press(qtbot, w, K.Key_Z, CTRL)
    assert flow.current.pending["overall"].value is None


def test_jump_flag_skip_and_help(qtbot, opened, asker, store, identity):
    w = opened
    flow = w.labeling.flow
    asker.texts.append("7")
    press(qtbot, w, K.Key_J, CTRL)
    assert flow.current.position == 6
    asker.choices.append("unsafe")
    press(qtbot, w, K.Key_F, CTRL)
    assert flow.current.flags == {"unsafe"}
    asker.choices.append("cannot judge")
    press(qtbot, w, K.Key_K, CTRL)
    press(qtbot, w, K.Key_Return, CTRL)
    lab = queries.current_labels(store, "ui-test", identity.key_id)[0]
    assert lab.skip_reason == "cannot judge" and lab.flags == ["unsafe"]
    asker.texts.append("999")
    press(qtbot, w, K.Key_J, CTRL)
    assert "no item 999" in w.labeling.status.text()
