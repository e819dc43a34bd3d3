"""The build's own files: the PyInstaller spec, the icon set, and the Qt modules the app imports."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import annotary

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "packaging" / "annotary.spec"
ICONS = ROOT / "resources" / "icons"
# what the spec keeps; a module outside this list would be missing from the frozen app
QT_USED = {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtTest"}


def test_the_spec_is_python_and_bundles_resources_under_their_name():
    text = SPEC.read_text()
    ast.parse(text)
    assert '(str(ROOT / "resources"), "resources")' in text
    assert "from annotary import __version__" in text  # the version comes from the package
    for module in ("PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtSvg"):
        assert f'"{module}"' in text


def test_the_app_imports_only_the_qt_modules_the_spec_keeps():
    used = set()
    for path in (ROOT / "desktop" / "annotary").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("PySide6."):
                used.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.module == "PySide6":
                used.update(a.name for a in node.names if a.name.startswith("Qt"))
            elif isinstance(node, ast.Import):
                used.update(a.name.split(".")[1] for a in node.names if a.name.startswith("PySide6."))
    assert used <= QT_USED, used - QT_USED
    assert {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtTest"} <= used


def test_the_icon_set_is_complete_and_well_formed():
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        data = (ICONS / f"annotary-{size}.png").read_bytes()
        assert struct.unpack(">II", data[16:24]) == (size, size)
    ico = (ICONS / "annotary.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count == 7
    for n in range(count):
        w, h, _, _, _, _, size, offset = struct.unpack("<BBBBHHII", ico[6 + 16 * n: 22 + 16 * n])
        assert ico[offset:offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + size <= len(ico)
    icns = (ICONS / "annotary.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    at, kinds = 8, []
    while at < len(icns):
        kinds.append(icns[at:at + 4])
        at += struct.unpack(">I", icns[at + 4:at + 8])[0]
    assert at == len(icns) and b"ic09" in kinds and b"icp4" in kinds


def test_version_is_one_place():
    import tomllib

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"] == annotary.__version__
