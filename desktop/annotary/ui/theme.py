"""Themes (system, light, dark, high contrast) and the style sheet; text size and font follow
the settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark", "high-contrast")

R = QPalette.ColorRole
DARK = {
    R.Window: "#1e1f22", R.WindowText: "#e6e6e6", R.Base: "#26282c", R.AlternateBase: "#2d3035",
    R.Text: "#e6e6e6", R.Button: "#2f3237", R.ButtonText: "#e6e6e6", R.Highlight: "#3d6fb4",
    R.HighlightedText: "#ffffff", R.ToolTipBase: "#26282c", R.ToolTipText: "#e6e6e6",
    R.PlaceholderText: "#9a9a9a", R.Link: "#8ab4f8", R.Mid: "#55585e",
}
HIGH_CONTRAST = {
    R.Window: "#000000", R.WindowText: "#ffffff", R.Base: "#000000", R.AlternateBase: "#1a1a1a",
    R.Text: "#ffffff", R.Button: "#000000", R.ButtonText: "#ffffff", R.Highlight: "#ffff00",
    R.HighlightedText: "#000000", R.ToolTipBase: "#000000", R.ToolTipText: "#ffffff",
    R.PlaceholderText: "#c0c0c0", R.Link: "#00ffff", R.Mid: "#ffffff",
}

SHEET = """
* {{ {font} }}
QFrame#questionPanel {{ border: {border}px solid palette(mid); border-radius: 6px; }}
QFrame#questionPanel[focused="true"] {{ border: {focus}px solid palette(highlight); }}
QPushButton {{ padding: 4px 8px; }}
QPushButton:checked {{ background: palette(highlight); color: palette(highlighted-text);
                       font-weight: bold; }}
QLabel#paneHeader {{ font-weight: bold; }}
QLabel#hint {{ color: palette(placeholder-text); }}
QTextBrowser, QPlainTextEdit {{ font-size: {size}pt; }}
"""


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme and scheme() == Qt.ColorScheme.Dark)


def resolved(theme: str) -> str:
    """The theme actually shown: 'system' follows the desktop's light or dark setting."""
    if theme == "system":
        return "dark" if system_is_dark() else "light"
    return theme if theme in THEMES else "light"


def apply_theme(app: QApplication, *, theme: str, text_size: int, font: str = "") -> str:
    shown = resolved(theme)
    app.setStyle("Fusion")
    colors = {"dark": DARK, "high-contrast": HIGH_CONTRAST}.get(shown)
    if colors:
        palette = QPalette()
        for role, color in colors.items():
            palette.setColor(role, QColor(color))
        app.setPalette(palette)
    else:
        app.setPalette(app.style().standardPalette())
    strong = shown == "high-contrast"
    family = f'font-family: "{font}";' if font else ""
    app.setStyleSheet(SHEET.format(size=text_size, font=family, border=2 if strong else 1,
                                   focus=4 if strong else 2))
    return shown
