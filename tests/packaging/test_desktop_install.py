"""`make install-desktop`: menu entry, icons and the .annotary type, into a temporary XDG_DATA_HOME."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "packaging" / "linux" / "install_desktop.py"


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_DATA_HOME": str(home)}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=env, check=True)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def installed(tmp_path):
    exe = tmp_path / "Annotary App" / "annotary"  # a space, as in a user's folder name
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    home = tmp_path / "xdg"
    out = run(home, "--exec", str(exe)).stdout
    return home, exe, out


def test_desktop_entry_starts_the_app_on_the_opened_file(installed):
    home, exe, out = installed
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(home / "applications" / "annotary.desktop", encoding="utf-8")
    d = entry["Desktop Entry"]
    assert d["Type"] == "Application" and d["Name"] == "Annotary" and d["Terminal"] == "false"
    assert d["Exec"] == f'"{exe}" gui %f'
    assert d["TryExec"] == str(exe)
    assert d["Icon"] == "annotary"
    assert d["MimeType"] == "application/x-annotary;"
    assert "installed the Annotary menu entry" in out


def test_mime_type_and_icons_are_installed(installed):
    home, _, _ = installed
    xml = (home / "mime" / "packages" / "annotary.xml").read_text()
    assert 'type="application/x-annotary"' in xml and 'pattern="*.annotary"' in xml
    for size in (16, 32, 48, 64, 128, 256, 512):
        for kind, name in (("apps", "annotary"), ("mimetypes", "application-x-annotary")):
            assert png_size(home / "icons" / "hicolor" / f"{size}x{size}" / kind / f"{name}.png") == (size, size)
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / "annotary.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.skipif(not shutil.which("update-mime-database"), reason="shared-mime-info not installed")
def test_the_mime_database_knows_the_extension(installed):
    home, _, out = installed
    assert "application/x-annotary:*.annotary" in (home / "mime" / "globs2").read_text()
    assert "update-mime-database" in out


def test_uninstall_removes_what_was_installed(installed):
    home, _, _ = installed
    run(home, "--uninstall")
    left = [p for p in home.rglob("*") if p.is_file() and "annotary" in p.name]
    assert left == []
    if shutil.which("update-mime-database"):
        assert "annotary" not in (home / "mime" / "globs2").read_text()


def test_exec_quoting_follows_the_desktop_entry_spec():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from install_desktop import quote
    finally:
        sys.path.pop(0)
    assert quote("/opt/Annotary/annotary") == '"/opt/Annotary/annotary"'
    # $ and " are escaped for the Exec quoting, then every backslash again for the string value
    assert quote('/home/a "b"/$x') == '"/home/a \\\\"b\\\\"/\\\\$x"'
