"""The coordinator's work in the window: create a project, roster, rounds, adjudication, datasets, by keys."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotary.bundles.bundle import read_bundle
from annotary.bundles.identity import create_identity
from annotary.flows import workspace as wf
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project
from annotary.ops.roster import export_card, members
from annotary.paths import resources_dir
from tests.conftest import screenshot
from tests.coordinator.conftest import dump, world  # noqa: F401 - the coordinator's world, built once
from tests.ui.test_workspace import drop, press

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
DEMO = resources_dir() / "demo"


@pytest.fixture
def cho_window(qtbot, store, asker, world):  # noqa: F811
    """The window of the coordinator who made the world's project (their key signs its bundles)."""
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner

    w = MainWindow(store, world.coordinator, runner=Runner(synchronous=True), asker=asker)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w


@pytest.fixture
def project(world, tmp_path):  # noqa: F811
    store = world.copy(tmp_path)
    path = store.path
    store.close()
    return path


def card(tmp_path, name: str, role: str):
    person = create_identity(tmp_path / name.replace(" ", "-"), name=name, role=role)
    path = tmp_path / f"{name.replace(' ', '-')}.card.json"
    export_card(identity=person, out=path)
    return person, path


# -- a new project ----------------------------------------------------------------------------------

def test_create_a_project_from_a_template_and_a_data_file(qtbot, window, asker, tmp_path, identity):
    items = tmp_path / "data" / "pairs.jsonl"
    items.parent.mkdir()
    items.write_bytes((DEMO / "items.jsonl").read_bytes())
    seen = {}

    def fill(dialog):
        dialog.use_template(0)  # pairwise
        qtbot.keyClicks(dialog.name, "Contract clauses")
        qtbot.keyClicks(dialog.items_path.edit, str(items))
        dialog.check()
        seen["rows"] = [(dialog.preview.item(r, 0).text(), dialog.preview.item(r, 2).text())
                        for r in range(dialog.preview.rowCount())]
        seen["summary"] = dialog.summary.text()
        seen["out"] = dialog.out.value()
        dialog.show()
        qtbot.waitExposed(dialog)
        screenshot(dialog, "new-project")
        qtbot.keyClick(dialog.create_button, Qt.Key.Key_Space)

    asker.fill_new_project = fill
    press(qtbot, window, Qt.Key.Key_N, CTRL)
    assert asker.errors == []
    first = [json.loads(line) for line in (DEMO / "items.jsonl").read_text().splitlines()[:5]]
    assert seen["rows"] == [(r["id"], str(len(r["responses"]))) for r in first]
    assert "32 items" in seen["summary"]
    out = tmp_path / "data" / "contract-clauses.db"
    assert seen["out"] == str(out) and out.exists()
    # the workspace opens on the new project, coordinated by this window's key
    assert window._scope() == "workspace" and window.workspace.path == out
    store = open_project(out)
    info = wf.project_info(store)
    assert (info.name, info.id, info.coordinator_key_id) == ("Contract clauses", "contract-clauses", identity.key_id)
    assert store.one("SELECT count(*) FROM items")[0] == 32
    assert info.guidelines == ""  # the demo's guidelines describe the demo data: they stay behind
    store.close()


@pytest.mark.parametrize("case", ["unknown shape", "not JSON", "csv", "exists", "no name"])
def test_a_bad_new_project_is_one_line_and_writes_nothing(case, qtbot, window, asker, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_bytes((DEMO / "items.jsonl").read_bytes())
    out = tmp_path / "p.db"
    if case == "unknown shape":
        items.write_text('{"question": "hi", "answer": "there"}\n')
    elif case == "not JSON":
        items.write_text('{"id": "a", "prompt": "x", "responses": []}\n{oops\n')
    elif case == "csv":
        items = tmp_path / "items.csv"
        items.write_text("question,answer\nhi,there\n")  # a table of no known shape
    elif case == "exists":
        out.write_text("keep me")
    state = {}

    def fill(dialog):
        dialog.use_template(0)
        if case != "no name":
            dialog.name.setText("Bad one")
        dialog.items_path.edit.setText(str(items))
        dialog.out.edit.setText(str(out))
        dialog.create()
        state["error"] = dialog.error.text()
        state["visible"] = dialog.error.isVisibleTo(dialog)

    asker.fill_new_project = fill
    window.run_command("home.new_project")
    assert state["visible"] and state["error"] and "\n" not in state["error"], state
    assert window._scope() == "home" and window.workspace is None
    if case == "exists":
        assert out.read_text() == "keep me" and "already exists" in state["error"]
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".p.db")]


def test_a_spec_file_and_its_guidelines(qtbot, window, asker, tmp_path):
    def fill(dialog):
        dialog.spec_path.edit.setText(str(DEMO / "spec.toml"))
        dialog.items_path.edit.setText(str(DEMO / "items.jsonl"))
        dialog.check()
        assert dialog.name.text() == "Demo — which answer is better?" and dialog.name.isReadOnly()
        assert "Which response better does what the user asked?" in dialog.questions.text()
        dialog.out.edit.setText(str(tmp_path / "demo.db"))
        dialog.create()

    asker.fill_new_project = fill
    window.run_command("home.new_project")
    store = open_project(tmp_path / "demo.db")
    assert wf.project_info(store).guidelines == (DEMO / "guidelines.md").read_text(encoding="utf-8")
    store.close()


# -- the home screen ----------------------------------------------------------------------------------

def test_the_project_list_keeps_its_order_and_selection(qtbot, window):
    window.run_command("file.demo")
    window.run_command("file.home")
    home = window.home
    names = [home.list.item(i).text().split("\n")[0] for i in range(home.list.count())]
    assert len(names) == 5 and names == sorted(names, key=str.casefold)
    home.list.setCurrentRow(3)
    chosen = home.selected()
    press(qtbot, window, Qt.Key.Key_Return)
    assert window._scope() == "labeling" and window.labeling.flow.info.id == chosen
    window.run_command("file.home")
    assert [home.list.item(i).text().split("\n")[0] for i in range(home.list.count())] == names
    assert home.selected() == chosen  # the same Enter opens the same project again
    press(qtbot, window, Qt.Key.Key_Return)
    assert window.labeling.flow.info.id == chosen
    window.run_command("file.home")
    qtbot.wait(5)
    screenshot(window, "home-roles")
    assert {"annotator:file.open", "coordinator:file.open_project", "coordinator:home.new_project",
            "reviewer:file.open"} <= set(home.buttons)
    assert "Ctrl+N" in home.buttons["coordinator:home.new_project"].text()


# -- roster, round, adjudication, dataset -------------------------------------------------------------

def test_roster_assign_adjudicate_and_export_by_keys(qtbot, cho_window, asker, project, world, tmp_path):  # noqa: F811
    window = cho_window
    drop(window, [project])
    ws = window.workspace
    extra, extra_card = card(tmp_path, "Di Evans", "annotator")
    reviewer, reviewer_card = card(tmp_path, "Rae Vu", "reviewer")
    # Ctrl+R: two cards at once, with a rate
    asker.forms.append({"cards": [str(extra_card), str(reviewer_card)], "rate": "45/h"})
    press(qtbot, window, Qt.Key.Key_R, CTRL)
    assert asker.errors == [] and "2 added" in asker.infos[-1]
    store = open_project(project)
    people = {m.name: m for m in members(store)}
    assert people["Di Evans"].role == "annotator" and people["Rae Vu"].role == "reviewer"
    assert people["Di Evans"].rate_per_hour == 45.0
    store.close()
    assert "Rae Vu" in ws.roster.text() and "Di Evans" in ws.roster.text()
    # the three first annotators' results, then the conflicts to the reviewer (Ctrl+Shift+R)
    drop(window, world.results)
    conflicts = len(ws.snapshot.report.conflicts)
    assert conflicts
    asker.forms.append({"audit": 0.0})
    press(qtbot, window, Qt.Key.Key_R, CTRL | SHIFT)
    assert asker.errors == [], asker.errors
    title, fields = asker.forms_shown[-1]
    reviewer_field = next(f for f in fields if f.key == "reviewer")
    assert reviewer_field.choices == [(reviewer.key_id, f"Rae Vu (key {reviewer.key_id[:8]})")]
    out = project.parent / "adjudication" / "demo-pairwise-round1-review.annotary"
    assert out.exists() and f"{conflicts} cases" in asker.infos[-1]
    assert read_bundle(out, expect_kind=("adjudication",)).manifest.kind == "adjudication"
    store = open_project(project)
    assert store.one("SELECT count(*) FROM adjudications")[0] == conflicts
    store.close()
    # round 2 (Ctrl+Shift+A): every item to three annotators, bundles beside the project
    asker.forms.append({"overlap": 3})
    press(qtbot, window, Qt.Key.Key_A, CTRL | SHIFT)
    assert asker.errors == [], asker.errors
    title, fields = asker.forms_shown[-1]
    assert title == "Assign round 2"
    assert next(f for f in fields if f.key == "overlap").maximum == 4
    bundles = sorted((project.parent / "round-2").glob("*.annotary"))
    assert bundles and "Round 2:" in asker.infos[-1]
    store = open_project(project)
    assert [r[0] for r in store.query("SELECT round FROM rounds ORDER BY round")] == [1, 2]
    per_item = store.query("SELECT count(DISTINCT annotator) FROM assignments WHERE item_id IN "
                           "(SELECT id FROM items WHERE kind='normal') GROUP BY item_id")
    assert {r[0] for r in per_item} == {3}
    store.close()
    # a dataset with filters (Ctrl+Shift+X) into exports/ beside the project, as the ops export gives
    asker.choices.append("trl-preference")
    asker.forms.append({"question": "helpful", "min_provenance": "unanimous", "exclude_flagged": True,
                        "ties": "keep"})
    press(qtbot, window, Qt.Key.Key_X, CTRL | SHIFT)
    assert asker.errors == [], asker.errors
    title, fields = asker.forms_shown[-1]
    question = next(f for f in fields if f.key == "question")
    assert question.choices[0][1] == "Which response better does what the user asked?"
    folder = project.parent / "exports" / "demo-pairwise-trl-preference"
    store = open_project(project)
    same = export_dataset(store, out=tmp_path / "cli", fmt="trl-preference", question="helpful",
                          min_provenance="unanimous", exclude_flagged=True, ties="keep")
    store.close()
    assert (folder / "train.jsonl").read_text() == (tmp_path / "cli" / "train.jsonl").read_text()
    assert f"{same.rows} trl-preference rows" in asker.infos[-1]
    # the same again: a new folder beside the first, never over it
    asker.choices.append("trl-preference")
    asker.forms.append({"question": "helpful"})
    window.run_command("workspace.export_dataset")
    assert (project.parent / "exports" / "demo-pairwise-trl-preference-2" / "train.jsonl").exists()
    # chat rows chosen in the form: prompts as messages, as `--chat` writes them
    asker.choices.append("trl-preference")
    asker.forms.append({"question": "helpful", "chat": "chat"})
    window.run_command("workspace.export_dataset")
    assert any(f.key == "chat" for f in asker.forms_shown[-1][1])
    import json

    first = (project.parent / "exports" / "demo-pairwise-trl-preference-3" / "train.jsonl").read_text()
    row = json.loads(first.splitlines()[0])
    assert isinstance(row["prompt"], list) and row["prompt"][0]["role"] in ("user", "system")


def test_signing_needs_the_projects_coordinator_and_a_roster(qtbot, window, asker, project, world, tmp_path):  # noqa: F811
    drop(window, [project])  # this window's key is not the project's coordinator
    asker.forms.append({"overlap": 2})
    press(qtbot, window, Qt.Key.Key_A, CTRL | SHIFT)
    assert len(asker.errors) == 1 and "\n" not in asker.errors[0] and "cannot sign" in asker.errors[0]
    assert not (project.parent / "round-2").exists() or not list((project.parent / "round-2").iterdir())
    # no reviewer in the roster: said before any form
    shown = len(asker.forms_shown)
    press(qtbot, window, Qt.Key.Key_R, CTRL | SHIFT)
    assert len(asker.forms_shown) == shown and "no reviewer in the roster" in asker.errors[-1]
    # a card whose signature does not hold: nobody added
    _, good = card(tmp_path, "Ok Person", "annotator")
    _, bad = card(tmp_path, "Bad Person", "annotator")
    doc = json.loads(bad.read_text())
    doc["card"]["name"] = "Mallory"
    bad.write_text(json.dumps(doc))
    before = dump(window.workspace.store)
    asker.forms.append({"cards": [str(good), str(bad)]})
    press(qtbot, window, Qt.Key.Key_R, CTRL)
    assert "does not match" in asker.errors[-1] and "\n" not in asker.errors[-1]
    assert dump(window.workspace.store) == before


# -- what the tables say ------------------------------------------------------------------------------

def test_every_header_is_explained_and_short_ones_are_spelled_out(qtbot, cho_window, project, world):  # noqa: F811
    drop(cho_window, [project, *world.results])
    ws = cho_window.workspace
    r = ws.snapshot.report
    for t in (wf.agreement_table(r), wf.annotators_table(r), wf.raters_table(r), wf.consensus_table(r),
              wf.competence_table(r)):
        assert len(t.tips) == len(t.headers) and all(t.tips), (t.title, t.headers, t.tips)
    for box in (ws.annotators, ws.agreement, ws.consensus):
        tb = box.table
        for c in range(tb.columnCount()):
            assert tb.horizontalHeaderItem(c).toolTip(), tb.horizontalHeaderItem(c).text()
    headers = wf.annotators_table(r).headers
    for short in ("w/cons", "A-share", "med s", "DS"):
        assert not any(short == h or f"({short})" in h for h in headers), headers
    assert "Dawid–Skene" in ws.legend.text()


def test_no_gap_above_the_consensus_table(qtbot, cho_window, project, world):  # noqa: F811
    """The table (or the sentence saying it is empty) sits right under its title, whatever its length."""
    from dataclasses import replace

    drop(cho_window, [project, world.results[0]])
    ws = cho_window.workspace
    press(qtbot, cho_window, Qt.Key.Key_4, CTRL)
    box = ws.consensus

    def check(what: str) -> None:
        QApplication.processEvents()
        qtbot.wait(5)
        bar_bottom = ws.filter.mapTo(ws, ws.filter.rect().bottomLeft()).y()
        title_top = box.title.mapTo(ws, box.title.rect().topLeft()).y()
        assert 0 <= title_top - bar_bottom <= 24, (what, bar_bottom, title_top)
        below = box.table if box.table.isVisible() else box.empty
        assert 0 <= below.geometry().top() - box.title.geometry().bottom() <= 12, what
        assert box.title.height() <= box.title.sizeHint().height() + 2, what
        screenshot(cho_window, f"workspace-consensus-{what}")

    ws.filter.setCurrentText("Conflicts")  # one annotator so far: none
    assert not box.table.isVisible() and box.empty.isVisible()
    check("empty")
    drop(cho_window, world.results[1:])
    ws.filter.setCurrentText("All items")
    check("long")
    assert ws.consensus.column("Question")[0] == "Which response better does what the user asked?"
    table = wf.consensus_table(ws.snapshot.report, None, ws.snapshot.questions)
    box.show_table(replace(table, rows=table.rows[:3]))
    check("short")
    assert box.table.height() <= box.table.content_height()


class LaterRunner:
    """Holds a job until the test runs it: what happens while a job is still going."""

    synchronous = True

    def __init__(self):
        self.jobs = []

    def start(self, fn, on_done, on_error, on_progress=None):
        self.jobs.append((fn, on_done, on_error))

    def run_all(self):
        while self.jobs:
            fn, on_done, on_error = self.jobs.pop(0)
            try:
                result = fn(progress=lambda *_: None, cancelled=lambda: False)
            except Exception as err:  # noqa: BLE001 - handed to the callback as the runner does
                on_error(err)
            else:
                on_done(result)


def test_cancel_while_the_project_is_written_leaves_no_file(qtbot, tmp_path, identity):
    from annotary.ui.new_project import NewProjectDialog

    runner = LaterRunner()
    dialog = NewProjectDialog(identity, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.spec_path.edit.setText(str(DEMO / "spec.toml"))
    dialog.items_path.edit.setText(str(DEMO / "items.jsonl"))
    dialog.out.edit.setText(str(tmp_path / "p.db"))
    runner.jobs.clear()  # previews
    dialog.create()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and "Cancelling" in dialog.busy.text()
    runner.run_all()
    assert not dialog.isVisible() and dialog.result() == dialog.DialogCode.Rejected
    assert dialog.created is None and not (tmp_path / "p.db").exists()


def test_cards_dropped_with_results_join_the_roster_first(qtbot, cho_window, asker, project, world, tmp_path):  # noqa: F811
    store = open_project(project)
    store.conn.execute("DELETE FROM roster WHERE name='Cy Diaz'")  # Cy's card comes with the drop
    store.conn.commit()
    store.close()
    drop(cho_window, [project])
    cy = next(c for c in world.cards if json.loads(c.read_text())["card"]["name"] == "Cy Diaz")
    drop(cho_window, [world.results[2], cy])
    ws = cho_window.workspace
    assert asker.errors == [], asker.errors
    assert "Cy Diaz" in ws.roster.text()
    assert ws.merges.item(0).text().startswith("✓ merged") and "Cy Diaz" in ws.merges.item(0).text()


def test_the_forms_on_screen(qtbot, cho_window, project):
    from annotary.ui.dialogs import FormDialog

    drop(cho_window, [project])
    store = cho_window.workspace.store
    for name, title, fields in (("assign", "Assign round 2", wf.assign_fields(store)),
                                ("export", "Export a training dataset", wf.export_fields(store, "trl-preference"))):
        dialog = FormDialog(title, fields, intro="What the form is for.", ok="Go", parent=cho_window)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        assert dialog.values() == {f.key: f.default for f in fields}
        screenshot(dialog, f"form-{name}")
        dialog.close()


def test_a_new_project_says_what_comes_next(qtbot, window, asker, tmp_path):
    items = tmp_path / "pairs.csv"
    items.write_text("prompt,chosen,rejected\nSay hi,Hi!,Go away\nAdd 2 and 2,4,5\n", encoding="utf-8")

    def fill(dialog):
        dialog.use_template(0)
        dialog.name.setText("From a table")
        dialog.items_path.edit.setText(str(items))
        dialog.check()
        assert "2 items read as trl-preference" in dialog.summary.text()
        dialog.create()

    asker.fill_new_project = fill
    window.run_command("home.new_project")
    ws = window.workspace
    assert ws is not None and ws.path == tmp_path / "from-a-table.db"
    assert "nobody yet" in ws.roster.text() and "Ctrl+R" in ws.roster.text()


def test_with_worker_threads(qtbot, store, asker, project, world, tmp_path):  # noqa: F811
    """The same actions with a real runner: the jobs run on worker threads, on connections of their own."""
    from annotary.ui.main_window import MainWindow
    from annotary.ui.new_project import NewProjectDialog

    window = MainWindow(store, world.coordinator, asker=asker)
    qtbot.addWidget(window)
    window.show()
    dialog = NewProjectDialog(world.coordinator, window.runner, parent=window)
    qtbot.addWidget(dialog)
    dialog.spec_path.edit.setText(str(DEMO / "spec.toml"))
    dialog.items_path.edit.setText(str(DEMO / "items.jsonl"))
    dialog.check()
    qtbot.waitUntil(lambda: dialog.preview.rowCount() == 5, timeout=10000)
    dialog.out.edit.setText(str(tmp_path / "threads.db"))
    dialog.create()
    qtbot.waitUntil(lambda: dialog.created is not None, timeout=10000)
    assert (tmp_path / "threads.db").exists()
    drop(window, [project])
    ws = window.workspace
    qtbot.waitUntil(lambda: ws.snapshot is not None, timeout=10000)
    _, reviewer_card = card(tmp_path, "Rae Vu", "reviewer")
    asker.forms.append({"cards": [str(reviewer_card)]})
    window.run_command("workspace.roster_add")
    qtbot.waitUntil(lambda: "Rae Vu" in ws.roster.text(), timeout=10000)
    asker.forms.append({"overlap": 3})
    window.run_command("workspace.assign")
    qtbot.waitUntil(lambda: any("Round 2" in i for i in asker.infos), timeout=10000)
    assert asker.errors == [] and len(list((project.parent / "round-2").glob("*.annotary"))) == 3
    qtbot.waitUntil(lambda: not window.runner.busy(), timeout=10000)
    window.close()


def test_a_workspace_key_shared_with_the_labeling_screen_does_each_screens_own_thing(qtbot, window, asker):
    window.run_command("file.demo")
    flow = window.labeling.flow
    press(qtbot, window, Qt.Key.Key_U, CTRL | SHIFT)
    assert flow.filter == "unlabeled"
    press(qtbot, window, Qt.Key.Key_A, CTRL | SHIFT)  # Show all items here; Assign a round in the workspace
    assert flow.filter == "all" and asker.forms_shown == [] and asker.errors == []


def test_every_tab_takes_the_keyboard_to_its_content_not_the_tab_bar(qtbot, cho_window, project):
    from PySide6.QtWidgets import QApplication, QTabBar

    cho_window.open_workspace(project)
    ws = cho_window.workspace
    for i in range(ws.tabs.count()):
        ws.show_tab(i)
        focus = QApplication.focusWidget()
        assert focus is not None and not isinstance(focus, QTabBar), ws.tabs.tabText(i)
        assert ws.tabs.currentWidget().isAncestorOf(focus) or focus is ws.tabs.currentWidget(), \
            ws.tabs.tabText(i)
