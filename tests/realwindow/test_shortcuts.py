"""Shortcuts in a real window: Shift+Tab as a keyboard sends it, and no shortcut Qt finds ambiguous."""

from __future__ import annotations

from tests.realwindow.client import shortcut_trouble


def focused(state) -> int:
    return state["labeling"]["focus"]


def test_shift_tab_moves_back_a_question_without_a_warning(demo_app):
    s = demo_app.state()
    assert s["screen"] == "labeling" and s["labeling"]["project"] == "demo-pairwise", s
    last = len(s["labeling"]["questions"]) - 1
    assert last >= 1 and focused(s) == 0
    s = demo_app.key("Tab", until=lambda s: focused(s) == 1)
    # a real keyboard sends Shift+Tab as Backtab with Shift held: the case offscreen tests miss
    s = demo_app.key("shift+Tab", until=lambda s: focused(s) == 0)
    assert focused(s) == 0
    s = demo_app.key("shift+Tab", until=lambda s: focused(s) == last)  # wraps round to the last
    assert focused(s) == last
    assert shortcut_trouble(demo_app.messages()) == []
    assert s["focus_widget"]["accessible"] == "Labeling screen"  # the keyboard stayed on the screen
