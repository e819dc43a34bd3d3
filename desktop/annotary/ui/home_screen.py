"""The home screen: recent projects with progress, and ways to open a bundle."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotary.ops import queries


class HomeScreen(QWidget):
    open_project = Signal(str)
    command = Signal(str)

    def __init__(self, store, annotator: str | None, parent=None, who: str = ""):
        super().__init__(parent)
        self.store, self.annotator = store, annotator
        self.setAccessibleName("Projects")
        title = QLabel("<h2>Projects</h2>")
        self.who = QLabel(who)
        self.who.setObjectName("hint")
        self.who.setAccessibleName("Your identity")
        self.who.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty = QLabel("No projects yet. Open a task bundle your coordinator sent you "
                            "(Ctrl+O, or drop it here), or try the demo projects (Ctrl+D).")
        self.empty.setWordWrap(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Recent projects")
        self.list.setSpacing(4)
        self.list.itemActivated.connect(lambda it: self.open_project.emit(it.data(Qt.ItemDataRole.UserRole)))
        hint = QLabel("Open a task bundle with Ctrl+O or drop it on this window. "
                      "Enter opens the selected project. F1 lists every key.")
        hint.setWordWrap(True)
        open_btn = QPushButton("Open bundle…  (Ctrl+O)")
        open_btn.clicked.connect(lambda: self.command.emit("file.open"))
        demo_btn = QPushButton("Open the demo projects  (Ctrl+D)")
        demo_btn.clicked.connect(lambda: self.command.emit("file.demo"))
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.who)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(hint)
        layout.addWidget(open_btn)
        layout.addWidget(demo_btn)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        for p in queries.projects(self.store, self.annotator):
            pct = (100 * p.done // p.total) if p.total else 0
            it = QListWidgetItem(f"{p.name}\n{p.done} of {p.total} items done ({pct}%) · "
                                 f"from {p.coordinator_name} · round {p.round}")
            it.setData(Qt.ItemDataRole.UserRole, p.id)
            self.list.addItem(it)
        self.empty.setVisible(self.list.count() == 0)
        if self.list.count():
            self.list.setCurrentRow(0)
        self.list.setFocus()

    def selected(self) -> str | None:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else None
