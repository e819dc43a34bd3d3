"""F1: the open project's keys grouped by question, in words that fit the dialog's width."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt

from annotary.core.spec import parse_spec
from annotary.ui.dialogs import KeySheet, key_sheet_groups, key_sheet_rows
from annotary.ui.shortcuts import COMMANDS, with_keys
from tests.conftest import DEMO_Q, RANKING_Q, RUBRIC_Q, SCORING_Q, screenshot, spec_of

PAIRWISE_Q = {"id": "overall", "mode": "pairwise", "scale": "fourway",
              "text": "Which response better does what the user asked?",
              "confidence": "optional", "confidence_scale": 4, "rationale": "optional"}


def spec(*questions):
    return parse_spec(spec_of(*questions))


def group(groups, title):
    return next(rows for t, rows in groups if t == title)


def test_pairwise_and_scoring_rows():
    groups = key_sheet_groups("labeling", COMMANDS, spec(PAIRWISE_Q, SCORING_Q))
    assert [t for t, _ in groups] == ["1. Which response better does what the user asked?",
                                      "2. Rate each response", "Every item", "Anywhere"]
    assert group(groups, "1. Which response better does what the user asked?") == [
        ("A", "Response A is better"), ("B", "Response B is better"),
        ("T", "A tie: both are about as good"), ("X", "Both are bad"),
        ("Alt+1 … Alt+4", "Your confidence, 1 (unsure) to 4 (sure)")]
    assert group(groups, "2. Rate each response") == [
        ("Up / Down", "Previous / next axis: Helpfulness, Correctness, Coherence, Complexity, Verbosity"),
        ("Left / Right", "Previous / next response"),
        ("0 … 4", "Score the focused axis, 0 to 4; then on to the next axis"),
        ("Backspace", "Clear the focused score")]
    every = group(groups, "Every item")
    assert every[:8] == [
        ("Ctrl+Return, Ctrl+Enter", "Submit and go on"), ("Alt+Right", "Next item"),
        ("Alt+Left", "Previous item"), ("Ctrl+J", "Jump to item…"), ("Ctrl+F", "Flag item…"),
        ("Ctrl+K", "Skip item with a reason…"), ("Ctrl+Z", "Undo"), ("Ctrl+Shift+Z, Ctrl+Y", "Redo")]
    texts = {what for _, what in every}
    assert {"Write the rationale", "Next / previous question", "Larger text", "Guidelines"} <= texts
    # keys of modes the project does not ask, and internal ids, are nowhere
    every_text = " ".join(f"{k} {w}" for _, rows in groups for k, w in rows)
    for absent in ("Criterion", "rank", "strength point", "reviewing", "overall", "scores",
                   "rubric question"):
        assert absent not in every_text
    assert ("Ctrl+,", "Settings…") in group(groups, "Anywhere")
    assert ("Ctrl+G", "Guidelines") not in group(groups, "Anywhere")


def test_each_mode_in_its_own_words():
    strength = {"id": "s", "mode": "pairwise", "text": "How much better is one?", "scale": "strength",
                "points": 4, "axis": "safety"}
    binary = {"id": "b", "mode": "pairwise", "text": "Which is safer?", "scale": "binary"}
    partial = RUBRIC_Q | {"allow_partial": True}
    groups = dict(key_sheet_groups("labeling", COMMANDS,
                                   spec(strength, binary, RANKING_Q, partial, DEMO_Q)))
    assert groups["1. How much better is one?"] == [
        ("1", "A better (safety)"), ("2", "A slightly better (safety)"),
        ("3", "B slightly better (safety)"), ("4", "B better (safety)")]
    assert groups["2. Which is safer?"] == [("A", "Response A is better"), ("B", "Response B is better")]
    assert [k for k, _ in groups["3. Order best first"]] == ["1 … 9", "=", "Backspace", "U"]
    assert groups["4. Which criteria does the response meet?"] == [
        ("J / K", "Next / previous criterion"),
        ("Space", "Toggle the focused criterion: met, partly met, not met"),
        ("Y", "The criterion is met"), ("N", "The criterion is not met"),
        ("P", "The criterion is partly met"), ("Backspace", "Clear the focused criterion's mark")]
    assert groups["5. Write the ideal response"] == [
        ("E", "Edit the draft response (the text box takes every key)"),
        ("Esc", "Leave the text box; the keys work again")]
    every = {what for _, what in groups["Every item"]}
    assert "Write the rationale" not in every  # no question asks for one
    assert "Scroll the responses down (a rubric question: toggle)" in every


def test_one_question_without_ties_or_skip():
    no_ties = RANKING_Q | {"allow_ties": False, "top_k": 2}
    one = parse_spec(spec_of(no_ties) | {"allow_skip": False})
    groups = dict(key_sheet_groups("labeling", COMMANDS, one))
    assert groups["1. Order best first"] == [
        ("1 … 9", "Rank that response next, best first (1 is Response A, 2 is Response B and so on)"
                  "; only the best 2 are ranked"),
        ("Backspace", "Take back the last response ranked"), ("U", "All responses are unacceptable")]
    every = {what for _, what in groups["Every item"]}
    assert "Next / previous question" not in every and "Skip item with a reason…" not in every


def test_keys_come_from_the_remapped_table():
    table = with_keys("answer.A", ("Q",), COMMANDS)
    table = with_keys("key.digit2", ("F2",), table)
    table = with_keys("item.submit", ("Ctrl+S",), table)
    groups = dict(key_sheet_groups("labeling", table, spec(PAIRWISE_Q, SCORING_Q)))
    first = groups["1. Which response better does what the user asked?"]
    assert first[0] == ("Q", "Response A is better")
    assert ("0, 1, F2, 3, 4", "Score the focused axis, 0 to 4; then on to the next axis") in \
        groups["2. Rate each response"]
    assert groups["Every item"][0] == ("Ctrl+S", "Submit and go on")


def test_reviewing_adds_its_keys():
    groups = dict(key_sheet_groups("labeling", COMMANDS, spec(PAIRWISE_Q), reviewing=True))
    assert groups["Reviewing"][0] == ("1 … 9", "Adopt that annotator's answer (1 is the first shown)")


def test_other_screens_list_their_keys_and_those_of_anywhere():
    groups = dict(key_sheet_groups("workspace", COMMANDS))
    assert list(groups) == ["This screen", "Anywhere"]
    listed = {what for rows in groups.values() for _, what in rows}
    assert {r[1] for r in key_sheet_rows("workspace")} == listed
    assert ("menu Workspace", "Export every table as CSV…") in groups["This screen"]


def test_the_former_call_still_works(qtbot):
    sheet = KeySheet("labeling", {"rubric"}, COMMANDS)
    qtbot.addWidget(sheet)
    answers = dict(sheet.groups)["Answer keys"]
    assert ("Y", "Criterion met") in answers and ("A", "A is better") not in answers
    assert ("Alt+1 … Alt+9", "Confidence, where a question asks for it") in answers


def wrapped_height(table, row: int, column: int) -> int:
    item = table.item(row, column)
    width = table.columnWidth(column) if table.columnSpan(row, column) == 1 else \
        table.columnWidth(0) + table.columnWidth(1)
    metrics = table.fontMetrics()
    if item.font().bold():
        from PySide6.QtGui import QFontMetrics

        metrics = QFontMetrics(item.font())
    rect = metrics.boundingRect(QRect(0, 0, width - 8, 10_000), Qt.TextFlag.TextWordWrap, item.text())
    return rect.height()


def test_the_dialog_fits_its_width_and_shows_every_row(qtbot, window):
    window.resize(1200, 860)
    long_text = ("Which response better does what the user asked, taking into account the safety of "
                 "the advice, its accuracy against current clinical guidelines and the tone?")
    questions = spec(PAIRWISE_Q | {"text": long_text}, SCORING_Q, RUBRIC_Q)
    sheet = KeySheet("labeling", window.commands, questions, parent=window)
    qtbot.addWidget(sheet)
    sheet.show()
    qtbot.waitExposed(sheet)
    table = sheet.table
    # sized to the window, no horizontal scrolling, every text wrapped to fit
    assert 700 <= sheet.width() <= 820 and sheet.height() >= 700
    assert table.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert table.horizontalScrollBar().maximum() == 0
    assert table.columnWidth(0) + table.columnWidth(1) <= table.viewport().width()
    rows = sheet.rows()
    assert rows[0] == ("", f"1. {long_text}")
    assert ("A", "Response A is better") in rows and ("", "Every item") in rows
    assert len(rows) == sum(len(r) + 1 for _, r in sheet.groups)
    for r in range(table.rowCount()):
        for c in range(1 if r in sheet.titles else 2):
            assert wrapped_height(table, r, c) <= table.rowHeight(r), table.item(r, c).text()
    assert table.rowHeight(0) > table.rowHeight(1)  # the long title wraps onto more lines
    screenshot(sheet, "key-sheet-pairwise-scoring-rubric")
    # a narrow window: still no horizontal scrolling
    sheet.resize(480, 600)
    qtbot.wait(10)
    assert table.horizontalScrollBar().maximum() == 0
    for r in range(table.rowCount()):
        for c in range(1 if r in sheet.titles else 2):
            assert wrapped_height(table, r, c) <= table.rowHeight(r), table.item(r, c).text()
    screenshot(sheet, "key-sheet-narrow")


def test_f1_in_the_demo_project_shows_its_question(qtbot, window, monkeypatch):
    """The sheet the window opens lists the keys of the project's questions."""
    shown = []
    monkeypatch.setattr(KeySheet, "exec", lambda self: shown.append(self) or 0)
    window.run_command("file.demo")
    window.open_project("demo-rubric")
    window.run_command("help.keys")
    titles = [t for t, _ in shown[0].groups]
    question, errors = window.labeling.flow.spec.questions
    assert titles == [f"1. {question.text}", f"2. {errors.text}", "Every item", "Anywhere"]
    assert ("Y", "The criterion is met") in dict(shown[0].groups)[titles[0]]
    assert ("0", "None of these (clears the others)") in dict(shown[0].groups)[titles[1]]
    question = window.labeling.flow.spec.questions[0]
    assert any(question.text in t for t in titles), titles  # the open project's own question
    screenshot(shown[0], "key-sheet-demo-rubric")


def test_group_titles_are_readable_in_every_theme(qtbot):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from annotary.ui.theme import apply_theme
    from annotary.ui.widgets import contrast

    app = QApplication.instance()
    try:
        for theme in ("light", "dark", "high-contrast"):
            apply_theme(app, theme=theme, text_size=12)
            sheet = KeySheet("labeling", COMMANDS, spec(PAIRWISE_Q, RANKING_Q))
            qtbot.addWidget(sheet)
            sheet.show()
            title = sheet.table.item(sheet.titles[0], 0)
            text = sheet.table.palette().color(QPalette.ColorRole.Text)
            assert contrast(title.background().color(), text) >= 4.5
            screenshot(sheet, f"key-sheet-{theme}")
    finally:
        apply_theme(app, theme="light", text_size=12)
