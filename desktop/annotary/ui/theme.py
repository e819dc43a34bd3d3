"""The one visual system: colour tokens per theme (light, dark, high contrast), a type scale,
spacing, and the style sheet every screen is drawn with. Widgets name their parts with
objectName; only this module says what those parts look like."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QFrame, QLabel, QVBoxLayout

THEMES = ("system", "light", "dark", "high-contrast")

# colour tokens: the palette roles Qt draws with, and the few extra colours of our own parts
TOKENS = {
    "light": {
        "window": "#f3f4f8", "surface": "#ffffff", "sunken": "#f7f7fb", "text": "#1d2030",
        "muted": "#5d6275", "border": "#d9dbe6", "accent": "#4f46e5", "accent_text": "#ffffff",
        "accent_soft": "#e9e8fd", "header": "#4338ca", "header_text": "#ffffff",
        "header_muted": "#d9d7ff", "good": "#1f7a3d", "good_soft": "#d9f2e0", "bad": "#b42318",
        "bad_soft": "#fde2df", "warn_soft": "#fff1cc", "link": "#3b37c8",
    },
    "dark": {
        "window": "#17181d", "surface": "#22242b", "sunken": "#1c1d23", "text": "#e8e9ef",
        "muted": "#a3a7b7", "border": "#3a3d48", "accent": "#8b87ff", "accent_text": "#12121a",
        "accent_soft": "#2f2d5c", "header": "#2a2770", "header_text": "#ffffff",
        "header_muted": "#c9c6ff", "good": "#7ddc98", "good_soft": "#1e3b29", "bad": "#ff9b8f",
        "bad_soft": "#4a2522", "warn_soft": "#4a3f1a", "link": "#a9a6ff",
    },
    "high-contrast": {
        "window": "#000000", "surface": "#000000", "sunken": "#000000", "text": "#ffffff",
        "muted": "#e0e0e0", "border": "#ffffff", "accent": "#ffff00", "accent_text": "#000000",
        "accent_soft": "#333300", "header": "#000000", "header_text": "#ffff00",
        "header_muted": "#ffffff", "good": "#00ff66", "good_soft": "#003300", "bad": "#ff6666",
        "bad_soft": "#330000", "warn_soft": "#333300", "link": "#00ffff",
    },
}

# type scale relative to the reading size the user picks (Ctrl+= / Ctrl+-), in points
SCALE = {"small": -2, "body": 0, "title": 2, "display": 5}
SPACE = {"xs": 4, "s": 8, "m": 12, "l": 16}

SHEET = """
* {{ {font} }}
QMainWindow, QDialog {{ background: {window}; }}
QWidget#labelingScreen, QWidget#homeScreen, QWidget#workspaceScreen {{ background: {window}; }}
QLabel {{ color: {text}; }}
QLabel#hint, QLabel#statusLine {{ color: {muted}; }}
QLabel#heading {{ font-size: {display}pt; font-weight: 600; }}
QLabel#cardTitle, QLabel#paneHeader {{ font-weight: 600; color: {text}; }}
QLabel#sectionLabel {{ color: {muted}; font-size: {small}pt; font-weight: 600; }}

QFrame#headerBar {{ background: {header}; border: none; border-radius: 0; }}
QFrame#headerBar QLabel {{ color: {header_text}; }}
QFrame#headerBar QLabel#headerTitle {{ font-size: {title}pt; font-weight: 600; }}
QFrame#headerBar QLabel#heading {{ font-size: {display}pt; font-weight: 600; }}
QFrame#headerBar QLabel#hint {{ color: {header_muted}; }}
QFrame#headerBar QProgressBar {{ background: rgba(255,255,255,0.18); border: none; border-radius: 5px;
                                 color: {header_text}; max-height: 10px; }}
QFrame#headerBar QProgressBar::chunk {{ background: {header_text}; border-radius: 5px; }}

QFrame#card, #responseCard, QFrame#promptCard {{
    background: {surface}; border: {border_w}px solid {border}; border-radius: 10px; }}
QFrame#questionPanel {{ background: {surface}; border: {border_w}px solid {border};
                        border-radius: 10px; }}
QFrame#questionPanel[focused="true"] {{ border: {focus_w}px solid {accent}; background: {focus_bg}; }}
QFrame#feedbackCard {{ background: {warn_soft}; border: {border_w}px solid {border}; border-radius: 10px; }}
QFrame#doneCard {{ background: {good_soft}; border: {border_w}px solid {good}; border-radius: 10px; }}
QFrame#actionBar {{ background: {surface}; border-top: 1px solid {border}; }}

QTextBrowser, QPlainTextEdit {{ font-size: {size}pt; background: {surface}; color: {text};
                               border: none; selection-background-color: {accent};
                               selection-color: {accent_text}; }}
QPlainTextEdit {{ background: {sunken}; border: 1px solid {border}; border-radius: 6px; padding: 4px; }}
QPlainTextEdit:focus {{ border: {focus_w}px solid {accent}; }}

QPushButton {{ background: {surface}; color: {text}; border: 1px solid {border}; border-radius: 6px;
               padding: 6px 12px; }}
QPushButton:hover {{ border-color: {accent}; }}
QPushButton:checked {{ background: {accent}; color: {accent_text}; border-color: {accent};
                       font-weight: bold; }}
QPushButton:disabled {{ color: {muted}; }}
QPushButton[atCursor="true"], QPushButton[atCursor="true"]:checked {{ border: 3px solid {text};
    font-weight: bold; }}
QPushButton[category="true"] {{ text-align: left; }}
QPushButton[primary="true"] {{ background: {accent}; color: {accent_text}; border-color: {accent};
                               font-weight: bold; padding: 8px 18px; }}
QPushButton[primary="true"]:disabled {{ background: {border}; color: {muted}; border-color: {border}; }}

QProgressBar {{ border: 1px solid {border}; border-radius: 5px; background: {sunken}; text-align: center;
                color: {text}; }}
QProgressBar::chunk {{ background: {accent}; border-radius: 4px; }}
QSplitter::handle {{ background: transparent; }}
QSplitter::handle:hover {{ background: {accent_soft}; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
QToolTip {{ color: {text}; background: {surface}; border: 1px solid {border}; }}

QTabWidget::pane {{ border: 1px solid {border}; border-radius: 8px; background: {surface}; top: -1px; }}
QTabBar::tab {{ background: transparent; color: {muted}; padding: 7px 14px; border: none;
                border-bottom: 3px solid transparent; }}
QTabBar::tab:selected {{ color: {text}; border-bottom: 3px solid {accent}; font-weight: 600; }}
QTabBar::tab:hover {{ color: {text}; }}
QHeaderView::section {{ background: {sunken}; color: {text}; border: none;
                        border-bottom: 1px solid {border}; padding: 5px 6px; font-weight: 600; }}
QTableWidget, QTableView {{ background: {surface}; border: 1px solid {border}; border-radius: 6px;
                            gridline-color: {border}; selection-background-color: {accent_soft};
                            selection-color: {text}; }}
QListWidget {{ background: {surface}; border: 1px solid {border}; border-radius: 10px; padding: 6px; }}
QListWidget::item {{ padding: 8px 10px; border-radius: 6px; }}
QListWidget::item:selected {{ background: {accent}; color: {accent_text}; }}
QLineEdit {{ background: {surface}; color: {text}; border: 1px solid {border}; border-radius: 6px;
             padding: 4px 6px; }}
QLineEdit:focus {{ border: {focus_w}px solid {accent}; }}
QCheckBox {{ color: {text}; }}
"""


def header_band(*labels: QLabel) -> QFrame:
    """The accent band across the top of a screen, holding its title and its facts."""
    band = QFrame()
    band.setObjectName("headerBar")
    layout = QVBoxLayout(band)
    layout.setContentsMargins(16, 10, 16, 10)
    layout.setSpacing(2)
    for label in labels:
        layout.addWidget(label)
    return band


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    return bool(scheme and scheme() == Qt.ColorScheme.Dark)


def resolved(theme: str) -> str:
    """The theme actually shown: 'system' follows the desktop's light or dark setting."""
    if theme == "system":
        return "dark" if system_is_dark() else "light"
    return theme if theme in THEMES else "light"


def tokens(shown: str | None = None) -> dict[str, str]:
    """The colours of a shown theme (default: the one the application shows now), for the few
    parts drawn as HTML (rubric rows, word differences, reviewers' answers)."""
    if shown is None:
        app = QApplication.instance()
        shown = app.property("annotaryTheme") if app is not None else None
    return TOKENS.get(shown or "light", TOKENS["light"])


def _palette(t: dict[str, str]) -> QPalette:
    R = QPalette.ColorRole
    roles = {R.Window: t["window"], R.WindowText: t["text"], R.Base: t["surface"],
             R.AlternateBase: t["sunken"], R.Text: t["text"], R.Button: t["surface"],
             R.ButtonText: t["text"], R.Highlight: t["accent"], R.HighlightedText: t["accent_text"],
             R.ToolTipBase: t["surface"], R.ToolTipText: t["text"], R.PlaceholderText: t["muted"],
             R.Link: t["link"], R.Mid: t["border"], R.BrightText: t["text"]}
    palette = QPalette()
    for role, color in roles.items():
        palette.setColor(role, QColor(color))
    return palette


def style_sheet(shown: str, *, text_size: int, font: str = "") -> str:
    t = TOKENS[shown]
    strong = shown == "high-contrast"
    family = f'font-family: "{font}";' if font else ""
    sizes = {name: max(6, text_size + step) for name, step in SCALE.items()}
    return SHEET.format(**t, font=family, size=text_size, border_w=2 if strong else 1,
                        focus_w=4 if strong else 2,
                        focus_bg=t["surface"] if strong else t["accent_soft"], **sizes)


def apply_theme(app: QApplication, *, theme: str, text_size: int, font: str = "") -> str:
    shown = resolved(theme)
    app.setStyle("Fusion")
    app.setPalette(_palette(TOKENS[shown]))
    app.setProperty("annotaryTheme", shown)
    app.setStyleSheet(style_sheet(shown, text_size=text_size, font=font))
    return shown
