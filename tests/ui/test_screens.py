"""Screens as a user sees them: layout, themes, zoom, the F1 sheet, the guidelines."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from annotary.ops import queries
from annotary.ui.dialogs import KeySheet, MarkdownDialog, key_sheet_rows
from annotary.ui.shortcuts import COMMANDS, conflicts, normalized, with_keys
from tests.conftest import screenshot


def test_no_key_conflicts_in_the_table():
    assert conflicts() == []


def test_conflict_check_catches_a_clash():
    clashing = with_keys("item.jump", ("A",))
    assert ("A", "item.jump", "answer.A") in conflicts(clashing)
    global_clash = with_keys("help.keys", ("T",))
    assert any(k == "T" for k, *_ in conflicts(global_clash))


def test_shift_tab_and_backtab_are_one_key():
    """A real keyboard sends Shift+Tab as Backtab: one action holding both is ambiguous in Qt
    (it prints a warning and does nothing), and two actions holding one each clash."""
    both = with_keys("question.previous", ("Shift+Tab", "Backtab"))
    assert ("Shift+Tab", "question.previous", "question.previous") in conflicts(both)
    other = with_keys("item.jump", ("Backtab",))
    assert ("Shift+Tab", "item.jump", "question.previous") in conflicts(other)


def test_key_sheet_lists_every_key_of_the_screen():
    rows = key_sheet_rows("labeling")
    listed = {r[1] for r in rows}
    for c in COMMANDS:
        if c.scope in ("global", "labeling"):
            assert c.label in listed
    assert any(r[0] == normalized("Ctrl+Return") + ", " + normalized("Ctrl+Enter") for r in rows)
    assert "Open the selected project" not in listed  # a home-screen key
    assert ("menu Help", "About Annotary", "everywhere") in rows  # menu-only, still listed


def test_home_lists_projects_with_progress(window, store, demo_bundle, asker):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    window.run_command("file.home")
    assert window.stack.currentWidget() is window.home
    text = window.home.list.item(0).text()
    assert "Demo" in text and "0 of 32 items done" in text
    screenshot(window, "home")


def test_labeling_screen_wide_narrow_dark(qtbot, window, demo_bundle, asker, store):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    screen = window.labeling
    window.resize(1400, 900)
    qtbot.wait(10)
    a, b = screen.responses.panes[:2]
    assert a.y() == b.y() and a.x() < b.x()  # side by side
    # no stray top-level window (it would steal the keyboard from the main window)
    assert [w for w in QApplication.topLevelWidgets() if w.isVisible()] == [window]
    screenshot(window, "labeling-wide")
    window.resize(760, 900)
    qtbot.wait(10)
    assert a.x() == b.x() and a.y() < b.y()  # stacked
    screenshot(window, "labeling-narrow")
    window.resize(1400, 900)
    window.run_command("view.dark")
    assert QApplication.instance().palette().window().color().lightness() < 80
    assert queries.setting(store, "theme") == "dark"
    screen.flow.jump("oasst-fe2814eb")  # a multi-turn conversation
    screenshot(window, "labeling-dark-conversation")
    window.run_command("view.dark")
    assert queries.setting(store, "theme") == "light"
    window.apply_settings({"theme": "high-contrast", "font": "", "text_size": 14, "keymap": {}})
    assert QApplication.instance().palette().window().color().name() == "#000000"
    screenshot(window, "labeling-high-contrast")


def test_zoom_is_remembered(window, store):
    before = window.text_size
    window.run_command("view.zoom_in")
    window.run_command("view.zoom_in")
    assert queries.setting(store, "text_size") == before + 2
    assert f"font-size: {before + 2}pt" in QApplication.instance().styleSheet()
    window.run_command("view.zoom_reset")
    assert queries.setting(store, "text_size") == before


def test_markdown_renders_and_loads_nothing(qtbot):
    from annotary.ui.widgets import SafeBrowser

    view = SafeBrowser("test")
    qtbot.addWidget(view)
    view.show_markdown("# Title\n\n**bold** ![x](http://example.com/x.png) <script>alert(1)</script>")
    text = view.toPlainText()
    assert "Title" in text and "bold" in text and "**" not in text
    assert "<script>" in text  # raw HTML is shown as text, never interpreted
    assert view.loadResource(0, None) is None
    assert not view.openLinks() and not view.openExternalLinks()


def test_help_dialogs_render(qtbot, window):
    sheet = KeySheet("labeling", parent=window)
    qtbot.addWidget(sheet)
    listed = {what for keys, what in sheet.rows() if keys}
    assert {r[1] for r in key_sheet_rows("labeling") if not r[1].startswith("Confidence")} <= listed
    assert "Confidence, where a question asks for it" in listed  # Alt+1 … Alt+9, one row
    screenshot(sheet, "key-sheet")
    guide = MarkdownDialog("# Guidelines\n\nPrefer the answer that follows the instruction.", window)
    qtbot.addWidget(guide)
    assert "Prefer the answer" in guide.view.toPlainText()


def test_settings_remap_refuses_conflicts_and_applies(qtbot, window, store, demo_bundle, asker):
    from annotary.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(theme="system", font="", text_size=12, commands=window.commands)
    qtbot.addWidget(dialog)
    row = [c.id for c in dialog.commands].index("item.jump")
    assert not dialog.assign(row, "A")  # A answers pairwise questions
    assert "already used by “A is better”" in dialog.message.text()
    assert dialog.keymap() == {}
    assert dialog.assign(row, "Ctrl+Shift+J")
    values = dialog.values()
    assert values["keymap"] == {"item.jump": ["Ctrl+Shift+J"]}
    window.apply_settings(values)
    assert queries.setting(store, "keymap") == {"item.jump": ["Ctrl+Shift+J"]}
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    asker.texts.append("4")
    from PySide6.QtCore import Qt

    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_J,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.labeling.flow.current.position == 3
    rows = key_sheet_rows("labeling", {"pairwise"}, window.commands)
    assert ("Ctrl+Shift+J", "Jump to item…", "this screen") in rows


def test_key_sheet_shows_only_the_projects_modes():
    pairwise = {r[1] for r in key_sheet_rows("labeling", {"pairwise"})}
    assert "A is better" in pairwise and "Criterion met" not in pairwise
    rubric = {r[1] for r in key_sheet_rows("labeling", {"rubric"})}
    assert "Criterion met" in rubric and "A is better" not in rubric


def test_stored_keymap_with_a_clash_falls_back_to_defaults():
    from annotary.ui.shortcuts import COMMANDS, effective

    assert effective({"item.jump": ["A"]}) == COMMANDS
    assert effective({"no.such.command": ["F9"]}) == COMMANDS
    assert effective({"item.jump": ["F9"]}) != COMMANDS


def test_guidelines_panel_follows_the_focused_question(qtbot, window, demo_bundle, asker):
    asker.paths.append(str(demo_bundle))
    window.run_command("file.open")
    window.run_command("help.guidelines")
    dock = window.guidelines
    assert dock.isVisible()
    bar = dock.view.verticalScrollBar()
    first = bar.value()
    window.labeling.handle("question.next")  # "harmless" links to "Which answer is safer"
    assert bar.value() > first or bar.value() == bar.maximum()
    screenshot(window, "guidelines-panel")
    window.run_command("help.guidelines")
    assert not dock.isVisible()


def test_guidelines_images_come_only_from_the_project(qtbot):
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextDocument

    from annotary.ui.widgets import SafeBrowser

    png = _tiny_png()
    view = SafeBrowser("g")
    qtbot.addWidget(view)
    view.images = {"img/scale.png": png}
    kind = QTextDocument.ResourceType.ImageResource.value
    assert view.loadResource(kind, QUrl("img/scale.png")) is not None
    assert view.loadResource(kind, QUrl("http://example.com/x.png")) is None
    assert view.loadResource(kind, QUrl("file:///etc/passwd")) is None


def _tiny_png() -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage

    image = QImage(2, 2, QImage.Format.Format_RGB32)
    image.fill(QColor("red"))
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return bytes(data)


def test_demo_opens_all_five_modes(qtbot, window, store):
    window.run_command("file.demo")
    assert window.labeling.flow.project_id == "demo-pairwise"
    projects = {p.id: p for p in queries.projects(store)}
    assert set(projects) == {"demo-pairwise", "demo-ranking", "demo-scoring", "demo-rubric",
                             "demo-demonstration"}
    for pid in sorted(projects):
        window.open_project(pid)
        modes = {q.mode for q in window.labeling.flow.spec.questions}
        assert {type(p).__name__.removesuffix("Panel").lower() for p in window.labeling.panels} == modes
        screenshot(window, f"demo-{pid.removeprefix('demo-')}")
    window.run_command("file.home")
    assert window.home.list.count() == 5


def test_every_control_has_an_accessible_name(qtbot, window):
    from PySide6.QtWidgets import (
        QAbstractButton,
        QComboBox,
        QKeySequenceEdit,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QProgressBar,
        QSpinBox,
        QTextBrowser,
    )

    from annotary.ui.settings_dialog import SettingsDialog

    kinds = (QAbstractButton, QPlainTextEdit, QTextBrowser, QProgressBar, QListWidget, QComboBox,
             QSpinBox, QLineEdit)
    window.run_command("file.demo")
    unnamed = []
    for pid in ("demo-pairwise", "demo-ranking", "demo-scoring", "demo-rubric", "demo-demonstration"):
        window.open_project(pid)
        for kind in kinds:
            for w in window.labeling.findChildren(kind):
                name = w.accessibleName() or (w.text() if isinstance(w, QAbstractButton) else "")
                if not name.strip():
                    unnamed.append(f"{pid}: {type(w).__name__} {w.objectName()}")
    dialog = SettingsDialog(theme="system", font="", text_size=12, commands=window.commands)
    qtbot.addWidget(dialog)
    for kind in (QComboBox, QSpinBox, QLineEdit):
        for w in dialog.findChildren(kind):
            # the line edit inside a combo box or key editor is named by its owner
            if not w.accessibleName() and not isinstance(w.parent(), (QComboBox, QSpinBox, QKeySequenceEdit)):
                unnamed.append(f"settings: {type(w).__name__}")
    assert unnamed == []
