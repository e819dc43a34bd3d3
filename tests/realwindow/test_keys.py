"""Global keys in a real window: dialogs open and close by keys, navigation, undo, submit from a text box."""

from __future__ import annotations

import shutil

PROJECT = "demo-pairwise"


def labeling(s) -> dict:
    return s["labeling"]


def test_dialogs_navigation_and_undo_by_keys(demo_app):
    s = demo_app.key("F1", until=lambda s: (s["modal"] or {}).get("class") == "KeySheet")
    demo_app.shot("key-sheet", screen=True)
    demo_app.key("Escape", until=lambda s: s["modal"] is None)
    s = demo_app.key("ctrl+j", until=lambda s: (s["modal"] or {}).get("title") == "Jump to item")
    assert s["focus_widget"]["class"] == "QLineEdit"  # the number can be typed at once
    demo_app.type("5")
    s = demo_app.key("Return", until=lambda s: s["modal"] is None and labeling(s)["position"] == 4)
    s = demo_app.key("alt+Right", until=lambda s: labeling(s)["position"] == 5)
    s = demo_app.key("alt+Left", until=lambda s: labeling(s)["position"] == 4)
    s = demo_app.key("a", until=lambda s: labeling(s)["pending"]["helpful"]["value"] == {"key": "A"})
    s = demo_app.key("ctrl+z", until=lambda s: labeling(s)["pending"]["helpful"]["value"] is None)
    s = demo_app.key("ctrl+g")  # the guidelines open beside the item; the keys stay on the item
    assert s["focus_widget"]["accessible"] == "Labeling screen", s["focus_widget"]
    demo_app.key("ctrl+g")


def test_keys_with_modifiers_as_a_keyboard_types_them(demo_app):
    """Ctrl with = + - 0, Ctrl+Shift with a letter, Alt with a digit: what the X keymap makes of them."""
    size = demo_app.state()["text_size"]
    demo_app.key("ctrl+equal", until=lambda s: s["text_size"] == size + 1)
    demo_app.key("ctrl+plus", until=lambda s: s["text_size"] == size + 2)  # Shift is held for +
    demo_app.key("ctrl+minus", until=lambda s: s["text_size"] == size + 1)
    demo_app.key("ctrl+0", until=lambda s: s["text_size"] == size)
    theme = demo_app.state()["theme"]
    demo_app.key("ctrl+shift+d", until=lambda s: s["theme"] != theme)
    demo_app.key("ctrl+shift+d", until=lambda s: s["theme"] == theme)
    demo_app.key("alt+3", until=lambda s: labeling(s)["pending"]["helpful"]["confidence"] == 3)
    demo_app.key("ctrl+shift+u", until=lambda s: labeling(s)["filter"] == "unlabeled")
    demo_app.key("ctrl+shift+a", until=lambda s: labeling(s)["filter"] == "all")
    demo_app.key("a")
    demo_app.key("ctrl+z", until=lambda s: labeling(s)["pending"]["helpful"]["value"] is None)
    demo_app.key("ctrl+shift+z", until=lambda s: labeling(s)["pending"]["helpful"]["value"] == {"key": "A"})
    demo_app.key("ctrl+f", until=lambda s: (s["modal"] or {}).get("title") == "Flag item")
    demo_app.key("Return", until=lambda s: s["modal"] is None and labeling(s)["flags"])


def test_ctrl_enter_submits_from_inside_the_rationale_box(demo_app):
    item = labeling(demo_app.state())["item"]
    demo_app.key("a")
    demo_app.key("t", until=lambda s: not labeling(s)["missing"])
    demo_app.key("r", until=lambda s: s["focus_widget"]["accessible"] == "Rationale for helpful")
    demo_app.type("B misreads the inequality")
    demo_app.key("ctrl+Return", until=lambda s: labeling(s)["item"] != item)
    labels = {lab["question"]: lab for lab in demo_app.labels(PROJECT, item)}
    assert labels["helpful"]["rationale"] == "B misreads the inequality"
    assert labels["harmless"]["answer"]["choice"] == "tie"


def test_workspace_tabs_by_keys(launch, review, tmp_path):
    project = tmp_path / "project.db"
    shutil.copy(review.project, project)
    app = launch()
    s = app.workspace(project)
    assert s["workspace_tab"] == "Agreement"
    app.key("ctrl+Tab", until=lambda s: s["workspace_tab"] == "Annotators")
    # Ctrl+Shift+Tab reaches Qt as Ctrl+Backtab: the other key a keyboard sends differently
    app.key("ctrl+shift+Tab", until=lambda s: s["workspace_tab"] == "Agreement")
    app.key("ctrl+shift+Tab", until=lambda s: s["workspace_tab"] == "Plans")  # wraps round to the last tab
    app.key("ctrl+5", until=lambda s: s["workspace_tab"] == "Heatmap")
    s = app.key("alt+Home", until=lambda s: s["screen"] == "home")
    assert s["focus_widget"]["class"] == "QListWidget"  # Enter opens the selected project
