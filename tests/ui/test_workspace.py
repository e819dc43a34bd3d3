"""The coordinator workspace: drop a project and result bundles, read the dashboard, export, use the keys."""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import replace

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from annotary.flows import workspace as wf
from annotary.ops.project import open_project
from annotary.ops.quality import GroupStats, csv_tables, heatmap, status_csv
from annotary.ops.raters import import_rater_labels
from annotary.ui.dialogs import KeySheet, key_sheet_rows
from annotary.ui.shortcuts import WORKSPACE_TABS
from tests.conftest import SCREENSHOTS, screenshot
from tests.coordinator.conftest import dump, world  # noqa: F401 - the coordinator's world, built once

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def drop(window, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(20, 20), *args)
    QApplication.sendEvent(window, enter)  # a drop goes to the widget that accepted the drag
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(20, 20), *args))


def press(qtbot, window, key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.windowHandle(), key, modifiers)


@pytest.fixture
def project(world, tmp_path):  # noqa: F811 - the fixture imported above
    store = world.copy(tmp_path)
    path = store.path
    store.close()
    return path


@pytest.fixture
def merged(window, project, world):  # noqa: F811
    """The workspace of a project with the three annotators' results dropped on it."""
    drop(window, [project])
    drop(window, world.results)
    return window.workspace


def report_of(path, **kw):
    store = open_project(path)
    try:
        return wf.compute(store, **kw)
    finally:
        store.close()


def test_drop_a_project_then_results_merges_and_shows_the_dashboard(qtbot, window, project, world, asker):  # noqa: F811
    drop(window, [project])
    ws = window.workspace
    assert window._scope() == "workspace" and window.stack.currentWidget() is ws
    assert "No labels merged yet" in ws.agreement.empty.text() and ws.agreement.empty.isVisibleTo(ws)
    qtbot.wait(5)  # the layout settles, as it does on screen
    screenshot(window, "workspace-empty")
    drop(window, world.results)
    assert asker.errors == []
    lines = [ws.merges.item(i).text() for i in range(ws.merges.count())]
    assert len(lines) == 3 and all(line.startswith("✓ merged") for line in lines)
    assert "results0.annotary: Ada Lee" in lines[0] and "50 accepted" in lines[0]
    snap = report_of(project)
    assert ws.snapshot.report.as_dict() == snap.report.as_dict()
    # per question: the band in text, the same as the report's
    assert ws.agreement.column("Band") == [s.band for s in snap.report.variables]
    assert set(ws.agreement.column("Band")) <= {"good", "watch", "flagged", "n/a"}
    assert ws.agreement.column("Krippendorff α") == [wf.num(s.alpha) for s in snap.report.variables]
    assert f"{len(snap.report.conflicts)} conflicts" in ws.consensus_line.text()
    assert ws.annotators.column("Name") == ["Ada Lee", "Bo Chen", "Cy Diaz"]
    assert ws.annotators.column("Band") == [a.band for a in snap.report.annotators]
    assert "3 labels" not in ws.facts.text() and "152 labels from 3 result bundles" in ws.facts.text()
    assert window.windowTitle().startswith("Demo")
    # dropped again: idempotent, and it says so
    drop(window, world.results[:1])
    assert ws.merges.item(0).text().startswith("= unchanged") and "already merged" in ws.merges.item(0).text()


def test_screenshots_of_every_tab_with_a_judge(qtbot, window, project, world):  # noqa: F811
    store = open_project(project)
    items = [r[0] for r in store.query("SELECT id FROM items WHERE kind='normal' ORDER BY seq")]
    judge = project.parent / "judge.jsonl"
    judge.write_text("".join(json.dumps({"item_id": i, "question_id": "helpful", "confidence": 0.3 if n % 4 else 0.9,
                                         "answer": {"mode": "pairwise", "choice": "AB"[n % 2]}}) + "\n"
                             for n, i in enumerate(items)))
    import_rater_labels(store, rater="gpt-judge", path=judge)
    store.close()
    window.resize(1400, 900)
    drop(window, [project, *world.results])  # the project and its results in one drop
    ws = window.workspace
    assert len(ws.last_merge) == 3
    assert ws.raters.column("Rater") == ["gpt-judge"]
    # rounds side by side need a second round: show the view with one made up
    r = ws.snapshot.report
    groups = [GroupStats("round", g, "helpful", "choice", "nominal", 3, 12, pa, a, None, b)
              for g, pa, a, b in (("1", 0.6, 0.31, "flagged"), ("2", 0.8, 0.72, "good"))]
    groups += [GroupStats("guidelines", g, "helpful", "choice", "nominal", 3, 12, 0.7, a, None, b)
               for g, a, b in (("1", 0.35, "flagged"), ("2", 0.74, "good"))]
    ws.show_snapshot(replace(ws.snapshot, report=replace(r, by_round=groups[:2], by_guidelines=groups[2:])))
    assert [ws.groups.table.horizontalHeaderItem(c).text() for c in range(6)] == \
        ["Question", "Variable", "Round 1", "Round 2", "Guidelines v1", "Guidelines v2"]
    assert ws.groups.cell_text(0, "Round 2").startswith("α 0.72 (+0.41) good")
    for n, title in enumerate(WORKSPACE_TABS, 1):
        press(qtbot, window, getattr(Qt.Key, f"Key_{n}"), CTRL)
        assert ws.tabs.currentIndex() == n - 1
        qtbot.wait(5)
        screenshot(window, f"workspace-{n}-{title.split()[0].lower()}")
    window.run_command("view.dark")
    press(qtbot, window, Qt.Key.Key_5, CTRL)
    screenshot(window, "workspace-heatmap-dark")
    press(qtbot, window, Qt.Key.Key_2, CTRL)
    screenshot(window, "workspace-annotators-dark")
    window.run_command("view.dark")
    sheet = KeySheet(window._scope(), None, window.commands, parent=window)
    qtbot.addWidget(sheet)
    assert {r[1] for r in key_sheet_rows("workspace")} == {what for keys, what in sheet.rows() if keys}
    screenshot(sheet, "workspace-key-sheet")


def test_heatmap_is_the_ops_heatmap(merged):
    ws = merged
    ws.show_tab(4)
    r = ws.snapshot.report
    keys = [ws.variable.itemData(i) for i in range(ws.variable.count())]
    assert keys[:2] == ["helpful.choice", "harmless.choice"]
    # the question's words are shown, not its id
    assert ws.variable.itemText(0) == "Which response better does what the user asked?"
    for n, var in enumerate(keys):
        ws.variable.setCurrentIndex(n)
        ids, grid = heatmap(r, var)
        assert ws.heatmap.data.ids == ids and ws.heatmap.data.grid == grid
        assert ws.heatmap.data.names == ["Ada Lee", "Bo Chen", "Cy Diaz"]
        pairs = {(p.a, p.b): p.n for s in r.variables if s.key == var for p in s.pairs}
        assert ws.heatmap.data.shared[0][1] == pairs[(ids[0], ids[1])]
        assert "Ada Lee and Bo Chen" in ws.heatmap.accessibleDescription()


def test_export_csv_writes_the_reports_tables(qtbot, merged, window, asker, tmp_path):
    ws = merged
    tables = csv_tables(ws.snapshot.report)
    expected = {0: "agreement.csv", 1: "annotators.csv", 2: "by_round.csv", 3: "consensus.csv",
                5: "distribution.csv"}
    for tab, name in expected.items():
        ws.show_tab(tab)
        asker.paths.append(str(tmp_path / f"out-{name}"))
        press(qtbot, window, Qt.Key.Key_E, CTRL | SHIFT)
        assert asker.paths == []
        assert (tmp_path / f"out-{name}").read_text(encoding="utf-8") == tables[name], name
    ws.show_tab(1)
    ws.competence.table.setFocus()  # the focused table is the one exported
    assert ws.current_csv() == ("competence.csv", tables["competence.csv"])
    ws.show_tab(6)
    assert ws.current_csv() == ("progress.csv", status_csv(ws.snapshot.status)["progress.csv"])
    ws.show_tab(4)
    name, text = ws.current_csv()
    assert name == "heatmap-helpful.choice.csv"
    ids, grid = heatmap(ws.snapshot.report, "helpful.choice")
    assert text.splitlines()[0] == "annotator,name," + ",".join(ids)
    assert text.splitlines()[1].split(",")[3] == repr(grid[0][1])
    # every table at once, into a new folder
    asker.paths.append(str(tmp_path / "all"))
    window.run_command("workspace.export_all")
    written = {p.name: p.read_text(encoding="utf-8") for p in (tmp_path / "all").iterdir()}
    assert {k: written[k] for k in tables} == tables
    assert written["people.csv"] == status_csv(ws.snapshot.status)["people.csv"]


def test_export_a_training_dataset_from_the_workspace(qtbot, merged, window, asker, tmp_path):
    import json

    asker.choices += ["trl-preference"]
    asker.forms.append({"question": "helpful", "out": str(tmp_path / "prefs")})
    press(qtbot, window, Qt.Key.Key_X, CTRL | SHIFT)
    assert asker.errors == [] and asker.infos, asker.errors
    rows = [json.loads(line) for line in (tmp_path / "prefs" / "train.jsonl").read_text().splitlines()]
    assert rows and set(rows[0]) >= {"prompt", "chosen", "rejected"}
    assert (tmp_path / "prefs" / "README.md").exists() and (tmp_path / "prefs" / "manifest.json").exists()
    # a second export to the same folder is refused in one line; the first stays whole
    asker.choices += ["trl-preference"]
    asker.forms.append({"question": "helpful", "out": str(tmp_path / "prefs")})
    window.run_command("workspace.export_dataset")
    assert len(asker.errors) == 1 and "\n" not in asker.errors[0]
    assert len((tmp_path / "prefs" / "train.jsonl").read_text().splitlines()) == len(rows)


def test_export_a_chart_as_png(qtbot, merged, window, asker, tmp_path):
    assert merged.snapshot is not None
    for n in range(5, 9):
        press(qtbot, window, getattr(Qt.Key, f"Key_{n}"), CTRL)
        out = tmp_path / f"chart{n}.png"
        asker.paths.append(str(out))
        press(qtbot, window, Qt.Key.Key_P, CTRL | SHIFT)
        image = QImage(str(out))
        assert not image.isNull() and image.width() >= 800 and image.height() > 200, n
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copy(out, SCREENSHOTS / f"workspace-chart-{n}.png")  # the exported file, for eyes too
    press(qtbot, window, Qt.Key.Key_1, CTRL)
    asker.paths.append(str(tmp_path / "nope.png"))
    press(qtbot, window, Qt.Key.Key_P, CTRL | SHIFT)
    assert len(asker.errors) == 1 and "this tab has no chart" in asker.errors[0]
    assert not (tmp_path / "nope.png").exists()


@pytest.mark.parametrize("case", ["tasks bundle", "tampered", "not a zip"])
def test_a_refused_bundle_is_one_line_and_changes_nothing(case, window, project, world, asker, tmp_path):  # noqa: F811
    drop(window, [project])
    ws = window.workspace
    drop(window, world.results[:1])
    if case == "tasks bundle":
        bad = world.assignment.bundles[0].path
    elif case == "tampered":
        bad = tmp_path / "tampered.annotary"
        with zipfile.ZipFile(world.results[1]) as src, zipfile.ZipFile(bad, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "results.jsonl":
                    data = data.replace(b'"A"', b'"B"', 1)
                dst.writestr(info, data)
    else:
        bad = tmp_path / "notes.annotary"
        bad.write_text("hello")
    before = dump(ws.store)
    drop(window, [bad])
    assert len(asker.errors) == 1, asker.errors
    assert "\n" not in asker.errors[0] and "refused" in asker.errors[0] and bad.name in asker.errors[0]
    assert dump(ws.store) == before
    assert ws.merges.count() == 1 and ws.merges.item(0).text().startswith("✗ refused")


def test_keys_from_the_table_work(qtbot, window, project, world, asker, tmp_path):  # noqa: F811
    asker.paths.append(str(project))
    press(qtbot, window, Qt.Key.Key_O, CTRL | SHIFT)
    ws = window.workspace
    assert ws is not None and asker.paths == []
    asker.paths.append(str(world.results[2]))
    press(qtbot, window, Qt.Key.Key_M, CTRL)
    assert asker.paths == [] and "Cy Diaz" in ws.merges.item(0).text()
    labeled = dict(zip(ws.annotators.column("Name"), ws.annotators.column("Labeled"), strict=True))
    assert labeled["Cy Diaz"] != "0" and labeled["Ada Lee"] == "0"
    press(qtbot, window, Qt.Key.Key_Tab, CTRL)
    assert ws.tabs.currentIndex() == 1
    press(qtbot, window, Qt.Key.Key_Tab, CTRL | SHIFT)
    assert ws.tabs.currentIndex() == 0
    press(qtbot, window, Qt.Key.Key_4, CTRL)
    assert ws.tabs.currentIndex() == 3 and ws.consensus.table.hasFocus()
    ws.filter.setCurrentText("Conflicts")
    assert ws.consensus.table.rowCount() == 0  # one annotator so far: no conflicts
    # another merge from outside the window (the CLI), then F5 shows it
    store = open_project(project)
    from annotary.ops.merge import merge_results

    merge_results(store, paths=world.results[:2])
    store.close()
    press(qtbot, window, Qt.Key.Key_F5)
    conflicts = len(report_of(project).report.conflicts)
    assert conflicts and ws.consensus.table.rowCount() == conflicts
    assert set(ws.consensus.column("Status")) == {"conflict"}
    # the F1 sheet lists the workspace's keys there, and not on the labeling screen
    assert window._scope() == "workspace"
    listed = {r[1] for r in key_sheet_rows("workspace", None, window.commands)}
    assert {"Merge result bundles…", "Export the chart as PNG…", "Show the Heatmap tab"} <= listed
    assert "Merge result bundles…" not in {r[1] for r in key_sheet_rows("labeling")}
    # workspace keys do nothing on the projects screen
    window.run_command("file.home")
    assert window._scope() == "home" and not window.actions["workspace.merge"].isEnabled()
    press(qtbot, window, Qt.Key.Key_3, CTRL)
    assert ws.tabs.currentIndex() == 3


def test_weighting_and_majority_share_recompute(merged):
    ws = merged
    ws.weighted.setChecked(True)
    assert ws.snapshot.report.options.weighted
    assert "weighted by competence" in ws.consensus_line.text()
    ws.min_share.setValue(0.9)
    ws.min_share.editingFinished.emit()
    assert ws.snapshot.report.options.min_share == 0.9


def test_a_file_that_is_no_project_is_refused(window, asker, tmp_path, store):
    drop(window, [store.path])  # the annotator's own store
    assert window.workspace is None and window._scope() == "home"
    assert len(asker.errors) == 1 and "not a coordinator project" in asker.errors[0]


def test_every_workspace_control_has_an_accessible_name(merged):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QListWidget,
        QTableWidget,
        QTabWidget,
    )

    from annotary.ui.charts import Chart

    unnamed = []
    for kind in (QAbstractButton, QComboBox, QAbstractSpinBox, QListWidget, QTableWidget, QTabWidget, Chart):
        for w in merged.findChildren(kind):
            name = w.accessibleName() or (w.text() if isinstance(w, QAbstractButton) else "")
            inner = isinstance(w.parent(), QComboBox | QAbstractSpinBox | QLineEdit) or \
                w.objectName().startswith("qt_")  # Qt's own parts (a table's corner button)
            if not name.strip() and not inner:
                unnamed.append(f"{type(w).__name__} {w.objectName()}")
    assert unnamed == []


def test_jobs_run_off_the_gui_thread(qtbot, store, identity, asker, project, world):  # noqa: F811
    from annotary.ui.main_window import MainWindow

    window = MainWindow(store, identity, asker=asker)  # a real runner: worker threads
    qtbot.addWidget(window)
    window.show()
    drop(window, [project])
    ws = window.workspace
    qtbot.waitUntil(lambda: ws.snapshot is not None, timeout=10000)
    drop(window, world.results)
    qtbot.waitUntil(lambda: ws.merges.count() == 3 and ws.snapshot.status.bundles == 3, timeout=10000)
    assert asker.errors == []
    assert ws.snapshot.report.as_dict() == report_of(project).report.as_dict()
    qtbot.waitUntil(lambda: not window.runner.busy(), timeout=10000)
    window.close()


def test_a_cancelled_merge_keeps_the_bundles_before_it(project, world):  # noqa: F811
    from annotary.core.errors import Cancelled

    store = open_project(project)
    seen = []
    with pytest.raises(Cancelled, match="after 1 of 3 bundles; merged: results0.annotary"):
        wf.merge_bundles(store, world.results, progress=lambda d, t: seen.append((d, t)),
                         cancelled=lambda: bool(seen))
    assert seen == [(1, 3)]
    assert store.one("SELECT count(*) FROM bundle_log")[0] == 1
    store.close()


def test_another_project_replaces_the_open_one_and_guidelines_are_the_projects(
        window, project, world, asker, tmp_path):  # noqa: F811
    drop(window, [project])
    first = window.workspace
    other = tmp_path / "other"
    other.mkdir()
    second_path = world.copy(other).path
    window.run_command("file.home")
    drop(window, [second_path])
    assert window.workspace is not first and window._scope() == "workspace"
    window.run_command("help.guidelines")
    assert len(asker.feedbacks) == 1 and asker.feedbacks[0].strip()


def test_consensus_values_read_in_a_few_words():
    ranking = {"mode": "ranking", "order": [["m2"], ["m0", "m1"]], "all_unacceptable": False}
    assert wf.describe_value(ranking) == "m2 > m0 = m1"
    assert wf.describe_value({**ranking, "order": [], "all_unacceptable": True}) == "all unacceptable"
    assert wf.describe_value({**ranking, "all_unacceptable": True}) == "all unacceptable (m2 > m0 = m1)"
    assert wf.describe_value({"mode": "pairwise", "choice": "A", "preferred": "r1"}) == "A → r1"
    assert wf.describe_value(None) == "–"
