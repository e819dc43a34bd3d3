"""The guidelines panel: the project's guidelines.md beside the item, at the focused question's
section."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from annotary.ui.widgets import SafeBrowser, scroll_to_heading


class GuidelinesDock(QDockWidget):
    def __init__(self, parent=None):
        super().__init__("Guidelines", parent)
        self.setObjectName("guidelines")
        self.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea)
        self.view = SafeBrowser("Guidelines")
        self.view.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setWidget(self.view)
        self._text = None

    def show_guidelines(self, markdown: str, images: dict[str, bytes], section: str | None) -> bool:
        """Render (once per text) and scroll to the section; True when the section was found."""
        if markdown != self._text:
            self.view.images = dict(images)
            self.view.show_markdown(markdown or "_This project has no guidelines._")
            self._text = markdown
        if section:
            return scroll_to_heading(self.view, section)
        return False
