"""The reviewer's screen, by key presses: digits adopt, E edits, R gives a reason, Ctrl+Enter decides."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotary.bundles.bundle import read_bundle
from annotary.core.adjudication import Decision
from annotary.ops import queries
from tests.conftest import screenshot
from tests.ui.conftest import asker, window  # noqa: F401  (fixtures)
from tests.ui.test_pairwise_keys import press, type_text

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


def test_review_by_keys(qtbot, window, asker, review, tmp_path, store):  # noqa: F811
    window.identity = review.reviewer  # the reviewer's window
    asker.paths.append(str(review.bundle))
    press(qtbot, window, K.Key_O, CTRL)
    # the import's progress dialog came and went; give the keyboard back to the main window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    screen = window.labeling
    assert screen is not None and screen.flow.review, asker.errors
    flow = screen.flow
    assert flow.annotator == review.reviewer.key_id
    assert "[1]" in screen.case_view.toPlainText() and "Annotator " in screen.case_view.toPlainText()
    q = flow.focused_question
    case = flow.case(q.id)
    press(qtbot, window, K.Key_2)  # adopt annotator 2's answer
    assert flow.current.pending[q.id].value is not None
    screenshot(window, "reviewer")
    assert "your decision" in screen.case_view.toPlainText()
    press(qtbot, window, K.Key_E)  # edit: digits would now edit; letters always do
    assert flow.editing
    press(qtbot, window, K.Key_T)  # tie: a decision of the reviewer's own
    press(qtbot, window, K.Key_R)
    type_text(qtbot, window, "Both answer the question equally well")
    press(qtbot, window, K.Key_Escape)
    item_id = flow.current.item.id
    press(qtbot, window, K.Key_Return, CTRL)
    assert flow.current.item.id != item_id or flow.current.revision == 1
    labels = queries.current_labels(store, flow.project_id, review.reviewer.key_id, item_id)
    assert labels and labels[0].answer.choice == "tie"
    assert labels[0].rationale == "Both answer the question equally well"
    out = tmp_path / "decisions.annotary"
    asker.paths.append(str(out))
    press(qtbot, window, K.Key_E, CTRL)
    decisions = read_bundle(out, expect_kind="decisions").records("decisions.jsonl", Decision)
    assert [(d.item_id, d.question_id) for d in decisions] == [(item_id, q.id)]
    assert decisions[0].adopted is None or case.answers[decisions[0].adopted].answer.choice == "tie"
