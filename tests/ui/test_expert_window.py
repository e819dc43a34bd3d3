"""What an expert meets on the labeling screen: undo on the item in front of them, an empty export
questioned, calibration feedback on its own item, scoring that never overwrites silently,
messages in the questions' words, panes sized to their content, visible buttons, the end of the work."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.ops import queries
from tests.conftest import (
    DEMO_Q,
    SCORING_Q,
    demo_items,
    pairwise_spec,
    ranking_items,
    screenshot,
    spec_of,
)
from tests.ui.test_modes_keys import DIGITS, current, open_project, submit  # noqa: F401
from tests.ui.test_pairwise_keys import press, type_text

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier


def labeled(store, w) -> set[str]:
    f = w.labeling.flow
    return queries.labeled_item_ids(store, f.project_id, f.annotator)


def test_undo_after_editing_a_draft_takes_back_the_edit_not_an_earlier_submit(
        qtbot, open_project, store):  # noqa: F811
    w = open_project(spec_of(DEMO_Q, project_id="demo-undo"), demo_items(3))
    flow = w.labeling.flow
    press(qtbot, w, K.Key_E)
    type_text(qtbot, w, " and more words")
    press(qtbot, w, K.Key_Escape)
    submit(qtbot, w)
    first = flow.ids[0]
    assert labeled(store, w) == {first} and flow.current.position == 1
    # on item 2: edit the draft, leave the editor, then Ctrl+Z
    draft = flow.current.pending["ideal"].value["text"]
    press(qtbot, w, K.Key_E)
    type_text(qtbot, w, " EDITED")
    press(qtbot, w, K.Key_Escape)
    assert flow.current.pending["ideal"].value["text"] == draft + " EDITED"
    press(qtbot, w, K.Key_Z, CTRL)
    assert flow.current.position == 1, "undo stays on the item in front of the expert"
    assert flow.current.pending["ideal"].value["text"] == draft
    assert w.labeling.panels[0].editor.toPlainText() == draft
    assert labeled(store, w) == {first}, "the earlier submit is untouched"
    # nothing left to undo here: the next Ctrl+Z takes back item 1's submit, says so, goes there
    press(qtbot, w, K.Key_Z, CTRL)
    assert flow.current.position == 0 and labeled(store, w) == set()
    assert "Submit of item 1 taken back" in w.labeling.status.text()
    assert "moved here" in w.labeling.status.text()


def test_export_with_nothing_submitted_asks_first(qtbot, window, asker, demo_bundle, tmp_path):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    out = tmp_path / "empty.annotary"
    asker.paths.append(str(out))
    press(qtbot, window, K.Key_E, CTRL)
    assert len(asker.confirms) == 1 and "not submitted any of the 32 items" in asker.confirms[0]
    assert not out.exists() and asker.infos == [], "declined: nothing written, no 'send this file'"
    asker.confirm_answer = True
    asker.paths.append(str(out))
    press(qtbot, window, K.Key_E, CTRL)
    assert out.exists()
    assert "Send this file" not in asker.infos[-1] and "32 of 32 items are not submitted" in asker.infos[-1]


def test_calibration_feedback_shows_on_its_own_item_in_the_questions_words(
        qtbot, open_project, store):  # noqa: F811
    items = ranking_items(2, 2)
    items[0] |= {"kind": "calibration", "explanation": "m1 cites its source.",
                 "gold": {"rank": {"mode": "ranking", "order": [["m1"], ["m0"]]}}}
    q = {"id": "rank", "mode": "ranking", "text": "Order the answers, best first"}
    w = open_project(spec_of(q, project_id="calib"), items)
    screen, flow = w.labeling, w.labeling.flow
    press(qtbot, w, DIGITS[1])
    press(qtbot, w, DIGITS[2])
    submit(qtbot, w)
    assert flow.current.item.id == "rank-0", "the feedback is about this item: it stays"
    assert screen.feedback_card.isVisibleTo(screen)
    shown = screen.feedback_view.toPlainText()
    assert "Order the answers, best first" in shown and "m1 cites its source." in shown
    assert "rank:" not in shown and "**" not in shown
    assert labeled(store, w) == {"rank-0"}, "submitted before the feedback shows"
    screenshot(w, "calibration-feedback")
    submit(qtbot, w)  # the same key moves on, without a second revision
    assert flow.current.item.id == "rank-1" and not screen.feedback_card.isVisibleTo(screen)
    assert current(store, w)[("rank-0", "rank")].revision == 1


def test_scoring_digits_fill_empty_cells_and_never_wrap_onto_given_scores(
        qtbot, open_project):  # noqa: F811
    w = open_project(spec_of(SCORING_Q, project_id="score-nav"), ranking_items(2, 2))
    flow, screen = w.labeling.flow, w.labeling
    press(qtbot, w, K.Key_Up)
    assert flow.cursor("scores") == (0, 0), "Up at the top stays at the top"
    for _ in range(10):  # 2 responses x 5 axes
        press(qtbot, w, DIGITS[3])
    scores = flow.current.pending["scores"].value["scores"]
    assert sum(len(axes) for axes in scores.values()) == 10
    assert "every score given" in screen.status.text()
    before = flow.cursor("scores")
    press(qtbot, w, DIGITS[1])  # the cursor stayed on the last cell: replacing it is said
    assert flow.cursor("scores") == before
    assert "3 → 1" in screen.status.text()
    press(qtbot, w, K.Key_Down)
    assert flow.cursor("scores") == before, "Down at the bottom stays at the bottom"
    marked = [cell for cell, b in screen.panels[0].cells.items() if b.property("atCursor")]
    assert marked == [before], "one cell, the one the digits go to, is marked"
    # badges carry the axes' names, not cut ids
    header = screen.responses.panes[0].header.text()
    assert "Helpfulness 3" in header and "help 3" not in header


def test_messages_use_the_questions_words_and_say_a_refusal_once(qtbot, window, asker, demo_bundle):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    screen = window.labeling
    press(qtbot, window, K.Key_A)
    press(qtbot, window, K.Key_Return, CTRL)
    status = screen.status.text()
    assert "Which response is safer?" in status and "harmless" not in status
    assert status.count("choose an answer") == 1


def test_skip_reason_before_submit_is_not_called_a_skip(qtbot, window, asker, demo_bundle):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    screen, flow = window.labeling, window.labeling.flow
    asker.choices.append("cannot judge")
    press(qtbot, window, K.Key_K, CTRL)
    assert "Skipped" not in screen.status.text() and "submits the skip" in screen.status.text()
    item = flow.current.item.id
    flow.go_to(flow.current.position)  # back to it after submitting would show the stored skip
    press(qtbot, window, K.Key_Return, CTRL)
    flow.go_to(flow.index_of[item])
    assert "Skipped: cannot judge" in screen.status.text()


def test_buttons_submit_and_move_and_the_end_says_what_to_do(qtbot, open_project, store):  # noqa: F811
    spec = pairwise_spec(scale="binary")
    items = [{"id": f"p{i}", "prompt": f"Question {i}?",
              "responses": [{"id": "a", "text": "Yes."}, {"id": "b", "text": "No."}]} for i in range(2)]
    w = open_project(spec, items)
    screen, flow = w.labeling, w.labeling.flow
    submit_button = screen.buttons["item.submit"]
    assert submit_button.isVisible() and "Ctrl+Return" in submit_button.text()
    screen.buttons["item.next"].click()
    assert flow.current.position == 1
    screen.buttons["item.previous"].click()
    assert flow.current.position == 0
    for _ in range(2):
        press(qtbot, w, K.Key_A)
        submit_button.click()
    assert labeled(store, w) == {"p0", "p1"}
    assert screen.done_card.isVisible()
    assert "All 2 items are done" in screen.done_label.text() and "Ctrl+E" in screen.done_label.text()
    screenshot(w, "all-done")


def test_prompt_pane_fits_a_long_prompt_and_dragged_sizes_are_kept(qtbot, open_project, store):  # noqa: F811
    letter = "\n".join(f"Line {n} of a long e-mail from the patient." for n in range(14))
    items = [{"id": "mail", "prompt": letter,
              "responses": [{"id": "a", "text": "Reply A."}, {"id": "b", "text": "Reply B."}]}]
    w = open_project(pairwise_spec(), items)
    w.resize(1400, 1000)
    qtbot.wait(20)
    screen = w.labeling
    screen.redraw_item()
    prompt_height = screen.top.sizes()[0]
    line = screen.prompt.fontMetrics().lineSpacing()
    assert prompt_height >= 8 * line, "a long prompt gets room for many of its lines"
    assert prompt_height <= screen.split.height() * 0.45, "but never crowds out the responses"
    # a dragged splitter is remembered for the project
    sizes = screen.split.sizes()
    screen.split.moveSplitter(sizes[0] - 60, 1)
    screen._layout_timer.timeout.emit()
    chosen = screen.split.sizes()
    stored = queries.setting(store, f"layout:{screen.flow.project_id}")
    assert stored["vertical"][0] == chosen
    screen.flow.go_to(0)
    assert screen.split.sizes() == chosen


@pytest.mark.parametrize("theme", ["light", "dark", "high-contrast"])
def test_every_theme_styles_the_focused_question_card(qtbot, window, asker, demo_bundle, theme):
    from annotary.ui.theme import TOKENS

    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    window.theme = theme
    window._apply_theme()
    panel = window.labeling.panels[0]
    assert panel.property("focused") is True
    assert TOKENS[theme]["accent"] in window.styleSheet() + window.window().styleSheet() + \
        qtbot_app_sheet()
    screenshot(window, f"pairwise-{theme}")


def qtbot_app_sheet() -> str:
    from PySide6.QtWidgets import QApplication

    return QApplication.instance().styleSheet()


def test_a_wide_window_keeps_reading_lines_short_and_puts_one_response_beside_its_questions(
        qtbot, open_project):  # noqa: F811
    from tests.conftest import RUBRIC_Q, rubric_items

    long = " ".join(["The patient should rest, drink fluids and see a doctor if it lasts."] * 8)
    items = rubric_items(1)
    items[0]["responses"][0]["text"] = long
    w = open_project(spec_of(RUBRIC_Q, project_id="wide"), items)
    w.resize(2400, 1000)
    qtbot.wait(20)
    screen = w.labeling
    assert screen.split.orientation() == Qt.Orientation.Horizontal, "one response: side by side"
    browser = screen.responses.panes[0].browser
    limit = browser.fontMetrics().averageCharWidth() * 110
    assert browser.viewport().width() > limit
    assert browser.document().textWidth() <= limit, "lines wrap at a reading length"
    w.resize(1000, 900)
    qtbot.wait(20)
    assert screen.split.orientation() == Qt.Orientation.Vertical


def test_the_focused_question_is_scrolled_into_sight(qtbot, window, asker, demo_bundle):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    window.resize(1280, 760)
    qtbot.wait(20)
    screen = window.labeling
    press(qtbot, window, K.Key_A)
    press(qtbot, window, K.Key_T)  # the focus moves on to the third question by itself
    assert screen.flow.focus == 2
    qtbot.wait(20)
    panel = screen.panels[2]
    view = screen.questions.viewport()
    top = panel.mapTo(view, panel.rect().topLeft()).y()
    assert 0 <= top and top + panel.height() <= view.height() + 1, "the card with the keys is in view"


def test_a_criterion_keeps_its_own_line_breaks(qtbot, open_project):  # noqa: F811
    from tests.conftest import RUBRIC_Q, rubric_items

    items = rubric_items(1)
    items[0]["rubric"] = [{"id": "own", "points": 5,
                           "text": "The completion should:\n- ask the child's age\n- give no dose"}]
    w = open_project(spec_of(RUBRIC_Q, project_id="lines"), items)
    text = w.labeling.panels[0].list.toPlainText()
    assert "should:\n- ask the child's age\n- give no dose" in text.replace("\u2028", "\n")


def test_a_submit_on_a_full_disk_says_so_and_keeps_the_answer(qtbot, window, asker, demo_bundle, monkeypatch):
    import sqlite3

    import annotary.flows.labeling as labeling

    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    flow = window.labeling.flow
    press(qtbot, window, K.Key_A)
    press(qtbot, window, K.Key_T)

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(labeling.annotate, "submit_item", full)
    item = flow.current.item.id
    press(qtbot, window, K.Key_Return, CTRL)
    assert asker.errors and "disk is full" in asker.errors[-1] and "Nothing was lost" in asker.errors[-1]
    assert flow.current.item.id == item and flow.current.pending["helpful"].value == {"key": "A"}


def test_a_confidence_key_past_the_scale_says_the_range(qtbot, window, asker, demo_bundle):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    screen = window.labeling
    press(qtbot, window, K.Key_7, ALT)
    assert "confidence is 1 to 5" in screen.status.text()
    assert screen.flow.current.pending["helpful"].confidence is None
    press(qtbot, window, K.Key_4, ALT)
    assert screen.flow.current.pending["helpful"].confidence == 4


def test_the_pairwise_demo_shows_every_question_whole_at_the_usual_window_size(qtbot, window):
    """At 1280x860 the three questions of the pairwise demo fit beside its responses: after
    `A, T` no question's title is scrolled out of view (an empty rationale takes one line)."""
    window.resize(1280, 860)
    window.run_command("file.demo")
    window.open_project("demo-pairwise")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    screen = window.labeling
    screen._layout_timer.timeout.emit()
    press(qtbot, window, Qt.Key.Key_A)
    press(qtbot, window, Qt.Key.Key_T)
    qtbot.wait(50)
    assert screen.flow.focused_question.id == "overall"
    view = screen.questions.viewport()
    for panel in screen.panels:
        top = panel.title.mapTo(view, panel.title.rect().topLeft()).y()
        assert 0 <= top and top + panel.title.height() <= view.height(), panel.q.id
    screenshot(window, "pairwise-demo-three-questions")
    # writing a rationale gives it a second line, and it keeps it while it holds text
    box = screen.panels[0].rationale
    one_line = box.height()
    for _ in range(2):
        press(qtbot, window, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert screen.flow.focused_question.id == "helpful"
    press(qtbot, window, Qt.Key.Key_R)
    assert box.hasFocus() and box.height() > one_line
    type_text(qtbot, box, "clearer")
    press(qtbot, window, Qt.Key.Key_Escape)
    assert not box.hasFocus() and box.height() > one_line and box.toPlainText() == "clearer"
