"""The About dialog: version, where the data lives, and every licence that ships with the app."""

from __future__ import annotations

import platform
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
)

from annotary import __version__
from annotary.ops.backup import locations
from annotary.paths import resources_dir

# what the app ships besides its own code (pyproject's runtime dependencies, and Qt below them);
# a test checks that every runtime dependency is named here
COMPONENTS = """\
Annotary is free software under the Apache License 2.0 (the first document in this list).

It ships with:
  Qt 6 and PySide6 (Qt for Python)   LGPL-3.0-only; the Qt libraries are separate files in the
                                    application folder and can be replaced with other builds
  sqlite-utils                       Apache-2.0
  SQLite                             public domain
  pydantic, pydantic-core            MIT
  cryptography                       Apache-2.0 OR BSD-3-Clause
  click                              BSD-3-Clause
  platformdirs                       MIT
  numpy                              BSD-3-Clause (bundled OpenBLAS: BSD-3-Clause)
  pyrage (the Rust age crate inside) MIT (age: MIT OR Apache-2.0)
  Python                             PSF-2.0

The demo projects contain samples of public datasets; their sources and licences follow.
"""

PATH_LABELS = {"data_dir": "Data folder", "store": "Store", "identity_key": "Signing key",
               "identity_card": "Identity", "backups": "Backups", "crash_log": "Crash log"}


def licence_documents() -> list[tuple[str, str]]:
    """(title, text) of the app's licence, its components, and each resources/*/LICENSE-DATA.md."""
    docs = []
    res = resources_dir()
    own = res.parent / "LICENSE"  # the source tree and the frozen app keep it beside resources/
    if own.is_file():
        docs.append(("LICENSE (Annotary, Apache-2.0)", own.read_text(encoding="utf-8")))
    else:
        from importlib import metadata

        with_licence = [f for f in metadata.distribution("annotary").files or () if f.name == "LICENSE"]
        if with_licence:
            docs.append(("LICENSE (Annotary, Apache-2.0)", with_licence[0].read_text(encoding="utf-8")))
    docs.append(("Components and their licences", COMPONENTS))
    for path in sorted(res.glob("*/LICENSE-DATA.md")):
        docs.append((f"{path.parent.name}/{path.name}", path.read_text(encoding="utf-8")))
    return docs


class AboutDialog(QDialog):
    def __init__(self, store_file: str | Path | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About Annotary")
        title = QLabel(f"<b>Annotary {__version__}</b> — offline labeling of language-model data")
        runtime = QLabel(f"Python {platform.python_version()}, Qt {qVersion()}, PySide6 {pyside_version}. "
                         "Annotary opens no network connection and sends nothing anywhere.")
        runtime.setWordWrap(True)
        form = QFormLayout()
        self.paths = locations(store_file)
        for key, label in PATH_LABELS.items():
            value = QLabel(self.paths[key])
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label + ":", value)
        self.documents = licence_documents()
        self.list = QListWidget()
        self.list.setAccessibleName("Licences")
        self.list.addItems([t for t, _ in self.documents])
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        # the licence files are wrapped by hand: show them as written
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setAccessibleName("Licence text")
        self.list.currentRowChanged.connect(lambda row: self.text.setPlainText(self.documents[row][1]))
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(self.text)
        split.setSizes([240, 760])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(runtime)
        layout.addLayout(form)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        self.list.setCurrentRow(0)
        self.resize(1000, 660)
