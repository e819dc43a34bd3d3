"""The workspace's Plans tab: what the project would have cost under each plan, as `annotary simulate` says."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from annotary.flows import workspace as wf
from annotary.ops.project import open_project
from annotary.ops.simulate import simulate
from annotary.ui.dialogs import key_sheet_rows
from annotary.ui.shortcuts import WORKSPACE_TABS
from tests.conftest import screenshot
from tests.coordinator.conftest import world  # noqa: F401 - the coordinator's world, built once
from tests.coordinator.test_simulate import pandalm_project, verdict_rows
from tests.ui.test_workspace import drop, press

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def pandalm(tmp_path, coordinator):
    """The first 300 PandaLM pairs: three annotators as people, GPT-3.5 and PandaLM-7B as raters."""
    return pandalm_project(tmp_path, coordinator, verdict_rows()[:300])


def test_the_plans_tab_shows_what_simulate_prints(qtbot, window, asker, pandalm, tmp_path):
    window.resize(1400, 900)
    drop(window, [pandalm])
    ws = window.workspace
    assert ws.plans is None  # replayed only when the tab is opened
    assert "Plans" in WORKSPACE_TABS
    press(qtbot, window, getattr(Qt.Key, f"Key_{WORKSPACE_TABS.index('Plans') + 1}"), CTRL)
    assert ws.tabs.tabText(ws.tabs.currentIndex()) == "Plans"
    assert ws.plans_box.table.hasFocus()  # the keyboard is in the table at once
    sim = simulate(open_project(pandalm))
    assert ws.plans.as_dict() == sim.as_dict()
    box = ws.plans_box
    assert box.title.text() == "What this project would have cost under each plan"
    assert box.column("Plan") == ["Fixed 1", "Fixed 2", "Fixed 3 (the reference)", "Adaptive", "Triage with gpt-3.5", "Triage with pandalm-7b",
                                  "Competence-guided (Dawid–Skene)"]
    assert box.column("Human labels") == [str(p.human_labels) for p in sim.plans]
    assert box.column("Share of fixed-3") == [f"{100 * p.share:.1f}%" for p in sim.plans]
    assert box.column("Agreement with fixed-3 majority")[4] == (
        f"{100 * sim.plans[4].agreement:.1f}% ({sim.plans[4].agreed}/{sim.plans[4].compared})")
    assert box.column("Cost") == ["–"] * 7  # imported labels carry no time
    assert "No recorded times" in ws.plans_notes.text() and "300 items replayed" in ws.plans_notes.text()
    qtbot.wait(5)
    screenshot(window, "workspace-plans-pandalm")
    # the table as CSV, by its key
    asker.paths.append(str(tmp_path / "plans.csv"))
    press(qtbot, window, Qt.Key.Key_E, CTRL | SHIFT)
    assert (tmp_path / "plans.csv").read_text(encoding="utf-8") == wf.plans_csv(sim)
    assert asker.errors == []
    # shown again without new figures: not replayed again; F5 recomputes, then it is
    ws.plans = None
    ws.show_tab(0)
    ws.show_tab(WORKSPACE_TABS.index("Plans"))
    assert ws.plans is None
    press(qtbot, window, Qt.Key.Key_F5)
    assert ws.plans.as_dict() == sim.as_dict()
    assert ("Ctrl+9", "Show the Plans tab", "this screen") in key_sheet_rows("workspace")  # F1 lists it


def test_a_project_without_three_people_per_item_says_so(qtbot, window, asker, world, tmp_path):  # noqa: F811
    store = world.copy(tmp_path)
    path = store.path
    store.close()
    drop(window, [path, *world.results])
    ws = window.workspace
    ws.show_tab(WORKSPACE_TABS.index("Plans"))
    assert ws.plans is None and asker.errors == []
    assert ws.plans_box.empty.isVisibleTo(ws) and "no item has three people's labels" in ws.plans_box.empty.text()
    asker.paths.append(str(tmp_path / "x.csv"))
    window.run_command("workspace.export_csv")
    assert len(asker.errors) == 1 and "no plans to export as CSV" in asker.errors[0]
