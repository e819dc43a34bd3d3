"""The settings dialog: labels show no stray '&', their mnemonics work, action names are whole."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel

from annotary.ui.settings_dialog import SettingsDialog
from annotary.ui.shortcuts import COMMANDS
from tests.conftest import screenshot


def dialog_of(qtbot) -> SettingsDialog:
    dialog = SettingsDialog(theme="system", font="", text_size=12, commands=COMMANDS)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog)
    return dialog


def test_no_label_shows_an_ampersand(qtbot):
    dialog = dialog_of(qtbot)
    for label in dialog.findChildren(QLabel):
        # Qt turns '&x' into an underlined x only on a label with a buddy; elsewhere it is typed
        if "&" in label.text().replace("&&", ""):
            assert label.buddy() is not None, f"{label.text()!r} shows its '&'"
    font_label = next(label for label in dialog.findChildren(QLabel) if label.text() == "&Font:")
    assert font_label.buddy() is dialog.font
    screenshot(dialog, "settings")


def test_mnemonics_move_the_focus(qtbot):
    dialog = dialog_of(qtbot)
    for key, widget in ((Qt.Key.Key_F, dialog.font), (Qt.Key.Key_T, dialog.theme),
                        (Qt.Key.Key_S, dialog.size), (Qt.Key.Key_K, dialog.table),
                        (Qt.Key.Key_N, dialog.key_edit)):  # last: the key editor takes every key
        qtbot.keyClick(dialog.windowHandle(), key, Qt.KeyboardModifier.AltModifier)
        focused = QApplication.focusWidget()
        assert focused is widget or widget.isAncestorOf(focused), (key, focused)


def fits(table, row: int, column: int) -> bool:
    """The cell's text is whole: on one line in its width, or wrapped within its row's height."""
    text = table.item(row, column).text()
    metrics = table.fontMetrics()
    width = table.columnWidth(column) - 8
    if metrics.horizontalAdvance(text) <= width:
        return True
    needed = metrics.boundingRect(QRect(0, 0, width, 10_000), Qt.TextFlag.TextWordWrap, text).height()
    return table.wordWrap() and needed <= table.rowHeight(row)


def test_action_names_are_never_cut(qtbot):
    dialog = dialog_of(qtbot)
    table = dialog.table
    assert dialog.width() >= 640
    for width in (dialog.width(), 520, 1300):
        dialog.resize(width, 720)
        qtbot.wait(10)
        assert table.horizontalScrollBar().maximum() == 0
        for r in range(table.rowCount()):
            assert fits(table, r, 0), table.item(r, 0).text()
            assert fits(table, r, 1), table.item(r, 1).text()
    # with room enough, the longest name is on one line
    longest = max(table.fontMetrics().horizontalAdvance(c.label) for c in COMMANDS)
    assert table.columnWidth(0) >= longest
    # the keys column is as wide as its widest keys
    widest = max(table.fontMetrics().horizontalAdvance(table.item(r, 1).text())
                 for r in range(table.rowCount()))
    assert table.columnWidth(1) >= widest


def test_the_dialog_asks_for_the_width_of_its_longest_name(qtbot):
    dialog = dialog_of(qtbot)
    longest = max(dialog.table.fontMetrics().horizontalAdvance(c.label) for c in COMMANDS)
    screen = dialog.screen().availableGeometry().width()
    assert dialog.fitting_width() >= min(longest + 200, screen - 80)
