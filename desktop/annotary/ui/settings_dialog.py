"""The settings dialog: theme, font, text size and every key binding (remappable)."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFontComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from annotary.ui.shortcuts import Command, conflicts, normalized, with_keys
from annotary.ui.theme import THEMES


def remap(commands: tuple[Command, ...], command_id: str, keys: tuple[str, ...]) -> tuple[Command, ...]:
    """The table with one command bound to new keys; ValueError (one line) on a clash."""
    if not keys:
        raise ValueError("a command needs at least one key")
    changed = with_keys(command_id, keys, commands)
    clashes = [c for c in conflicts(changed) if command_id in c[1:]]
    if clashes:
        key, a, b = clashes[0]
        other = b if a == command_id else a
        label = next(c.label for c in commands if c.id == other)
        raise ValueError(f"{key} is already used by “{label}”")
    return changed


class SettingsDialog(QDialog):
    def __init__(self, *, theme: str, font: str, text_size: int, commands: tuple[Command, ...],
                 parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.commands = commands
        self.theme = QComboBox()
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(theme)
        self.theme.setAccessibleName("Theme")
        self.font = QFontComboBox()
        self.font.setAccessibleName("Font")
        if font:
            self.font.setCurrentText(font)
        self.default_font = QPushButton("Default font")
        self.default_font.clicked.connect(lambda: self.font.setCurrentIndex(-1))
        self.size = QSpinBox()
        self.size.setRange(7, 40)
        self.size.setValue(text_size)
        self.size.setSuffix(" pt")
        self.size.setAccessibleName("Text size")
        form = QFormLayout()
        form.addRow("&Theme:", self.theme)
        row = QHBoxLayout()
        row.addWidget(self.font, 1)
        row.addWidget(self.default_font)
        # a row of several widgets gets no buddy from the form, and a label without one shows
        # its '&' as typed: the label names the font box itself, so Alt+F still goes there
        font_label = QLabel("&Font:")
        font_label.setBuddy(self.font)
        form.addRow(font_label, row)
        form.addRow("Text &size:", self.size)

        self.table = QTableWidget(len(commands), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.setAccessibleName("Key bindings")
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self._fill()
        # action names in full: the name column takes the room the keys leave, wrapping only
        # when the dialog is narrower than a name
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.key_edit = QKeySequenceEdit()
        self.key_edit.setAccessibleName("New key for the selected action")
        assign = QPushButton("&Assign key")
        assign.clicked.connect(self._assign)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Settings message")
        keys_row = QHBoxLayout()
        key_label = QLabel("&New key:")
        key_label.setBuddy(self.key_edit)
        keys_row.addWidget(key_label)
        keys_row.addWidget(self.key_edit, 1)
        keys_row.addWidget(assign)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self._defaults)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        table_label = QLabel("&Keys (select an action, press the new key, then Assign):")
        table_label.setBuddy(self.table)
        table_label.setWordWrap(True)
        layout.addWidget(table_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(keys_row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.resize(self.fitting_width(), 720)

    def fitting_width(self) -> int:
        """Wide enough for the longest action name beside the widest keys (within a screen)."""
        metrics = self.table.fontMetrics()
        names = max(metrics.horizontalAdvance(c.label) for c in self.commands) + 24
        keys = self.table.horizontalHeader().sectionSizeHint(1)
        keys = max(keys, max(metrics.horizontalAdvance(self.table.item(r, 1).text())
                             for r in range(self.table.rowCount())) + 24)
        frame = 2 * self.table.frameWidth() + self.table.verticalScrollBar().sizeHint().width()
        margins = self.layout().contentsMargins()
        wanted = names + keys + frame + margins.left() + margins.right() + 8
        screen = self.screen().availableGeometry().width() if self.screen() else 1280
        return max(640, min(wanted, screen - 80))

    def _fill(self) -> None:
        for r, c in enumerate(self.commands):
            self.table.setItem(r, 0, QTableWidgetItem(c.label))
            self.table.setItem(r, 1, QTableWidgetItem(", ".join(normalized(k) for k in c.keys)))

    def assign(self, row: int, key: str) -> bool:
        """Bind the action of a row to one key; refuse a clash with a message."""
        command = self.commands[row]
        try:
            self.commands = remap(self.commands, command.id, (key,))
        except ValueError as err:
            self.message.setText(f"Not changed: {err}.")
            return False
        self._fill()
        self.message.setText(f"“{command.label}” is now {normalized(key)}.")
        return True

    def _assign(self) -> None:
        row = self.table.currentRow()
        seq = self.key_edit.keySequence()
        if row < 0 or seq.isEmpty():
            self.message.setText("Select an action and press a key first.")
            return
        self.assign(row, seq.toString(QKeySequence.SequenceFormat.PortableText))
        self.key_edit.clear()

    def _defaults(self) -> None:
        from annotary.ui.shortcuts import COMMANDS

        self.commands = COMMANDS
        self._fill()
        self.message.setText("Default keys restored.")

    def keymap(self) -> dict[str, list[str]]:
        """Only what differs from the defaults is stored."""
        from annotary.ui.shortcuts import COMMANDS

        defaults = {c.id: c.keys for c in COMMANDS}
        return {c.id: list(c.keys) for c in self.commands if defaults.get(c.id) != c.keys}

    def values(self) -> dict:
        font = self.font.currentText() if self.font.currentIndex() >= 0 else ""
        return {"theme": self.theme.currentText(), "font": font, "text_size": self.size.value(),
                "keymap": self.keymap()}
