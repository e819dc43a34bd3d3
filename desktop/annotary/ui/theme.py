"""Light and dark palettes and the style sheet; text size follows the zoom setting."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

DARK = {
    QPalette.ColorRole.Window: "#1e1f22", QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#26282c", QPalette.ColorRole.AlternateBase: "#2d3035",
    QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#2f3237",
    QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3d6fb4",
    QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#26282c",
    QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#9a9a9a",
    QPalette.ColorRole.Link: "#8ab4f8",
}

SHEET = """
QFrame#questionPanel {{ border: 1px solid palette(mid); border-radius: 6px; }}
QFrame#questionPanel[focused="true"] {{ border: 2px solid palette(highlight); }}
QPushButton:checked {{ background: palette(highlight); color: palette(highlighted-text);
                       font-weight: bold; }}
QLabel#paneHeader {{ font-weight: bold; }}
QLabel#statusLine {{ color: palette(text); }}
QTextBrowser, QPlainTextEdit {{ font-size: {size}pt; }}
"""


def apply_theme(app: QApplication, *, dark: bool, text_size: int) -> None:
    app.setStyle("Fusion")
    if dark:
        palette = QPalette()
        for role, color in DARK.items():
            palette.setColor(role, QColor(color))
        app.setPalette(palette)
    else:
        app.setPalette(app.style().standardPalette())
    app.setStyleSheet(SHEET.format(size=text_size))
