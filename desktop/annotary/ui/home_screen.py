"""The home screen: the projects to label, in a stable order, and a way in for each role."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotary.ops import queries
from annotary.ui.shortcuts import COMMANDS, normalized
from annotary.ui.theme import header_band

# (role, what it is for, command, button text): one card per role
ROLES = (
    ("Annotator", "Label the items your coordinator sent you as a task bundle (.annotary).",
     (("file.open", "Open a task bundle…"), ("file.demo", "Try the demo projects"))),
    ("Coordinator", "Build a project from your data, assign rounds, read agreement, export datasets.",
     (("file.open_project", "Open a project (.db)…"), ("home.new_project", "Create a project from a data file…"))),
    ("Reviewer", "Decide the conflicts a coordinator sent you as an adjudication bundle (.annotary).",
     (("file.open", "Open an adjudication bundle…"),)),
)


def project_order(p) -> tuple:
    """By name, then id: the list never moves under the keyboard when a project is opened."""
    return (p.name.casefold(), p.id)


class HomeScreen(QWidget):
    open_project = Signal(str)
    command = Signal(str)

    def __init__(self, store, annotator: str | None, parent=None, who: str = "", commands=None):
        super().__init__(parent)
        self.store, self.annotator = store, annotator
        self.commands = commands
        self.setAccessibleName("Projects")
        title = QLabel("Projects")
        title.setObjectName("heading")
        self.who = QLabel(who)
        self.who.setObjectName("hint")
        self.who.setAccessibleName("Your identity")
        self.who.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty = QLabel("No projects to label yet. Open a task bundle your coordinator sent you "
                            "(Ctrl+O, or drop it here), or try the demo projects (Ctrl+D).")
        self.empty.setWordWrap(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Projects to label")
        self.list.setSpacing(4)
        self.list.itemActivated.connect(lambda it: self.open_project.emit(it.data(Qt.ItemDataRole.UserRole)))
        hint = QLabel("Enter opens the selected project; the list keeps its order (by name). "
                      "Drop a bundle or a project file on this window to open it. F1 lists every key.")
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.buttons: dict[str, QPushButton] = {}
        roles = QGridLayout()
        for col, (role, text, actions) in enumerate(ROLES):
            card = QFrame()
            card.setObjectName("card")
            card.setAccessibleName(role)
            lay = QVBoxLayout(card)
            head = QLabel(role)
            head.setObjectName("paneHeader")
            what = QLabel(text)
            what.setObjectName("hint")
            what.setWordWrap(True)
            lay.addWidget(head)
            lay.addWidget(what)
            lay.addStretch(1)
            for command, label in actions:
                button = QPushButton(f"{label}  ({self._key(command)})")
                button.setAccessibleName(label)
                button.clicked.connect(lambda _=False, c=command: self.command.emit(c))
                if (role, command) in (("Annotator", "file.open"), ("Coordinator", "home.new_project")):
                    button.setProperty("primary", True)
                lay.addWidget(button)
                self.buttons[f"{role.lower()}:{command}"] = button
            roles.addWidget(card, 0, col)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 12)
        layout.addWidget(header_band(title, self.who))
        body = QVBoxLayout()
        body.setContentsMargins(16, 8, 16, 0)
        layout.addLayout(body, 1)
        layout = body
        layout.addLayout(roles)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(hint)
        self.refresh()

    def _key(self, command: str) -> str:
        for c in self.commands or COMMANDS:
            if c.id == command and c.keys:
                return normalized(c.keys[0])
        return "menu File"

    def refresh(self) -> None:
        """Redraw the progress; the order stays put and so does the selection."""
        chosen = self.selected()
        row = self.list.currentRow()
        self.list.clear()
        for p in sorted(queries.projects(self.store, self.annotator), key=project_order):
            pct = (100 * p.done // p.total) if p.total else 0
            it = QListWidgetItem(f"{p.name}\n{p.done} of {p.total} items done ({pct}%) · "
                                 f"from {p.coordinator_name} · round {p.round}")
            it.setData(Qt.ItemDataRole.UserRole, p.id)
            it.setToolTip(f"{p.name} · project {p.id}")
            self.list.addItem(it)
        self.empty.setVisible(self.list.count() == 0)
        if self.list.count():
            ids = [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]
            at = ids.index(chosen) if chosen in ids else min(max(row, 0), self.list.count() - 1)
            self.list.setCurrentRow(at)
        self.list.setFocus()

    def selected(self) -> str | None:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else None
