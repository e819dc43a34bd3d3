"""The portable spec and the Windows build's own checks (`make test-package-windows` builds and
runs the real annotary.exe under Wine; these check the pieces it relies on, without Wine)."""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "packaging" / "annotary.spec"
WINDOWS = ROOT / "packaging" / "windows"


@pytest.fixture(scope="module")
def spec():
    """The spec's exclusion lists and functions, without running PyInstaller."""
    tree = ast.parse(SPEC.read_text())
    keep = [node for node in tree.body
            if (isinstance(node, ast.FunctionDef) and node.name in ("qt_name", "unused"))
            or (isinstance(node, ast.Assign)
                and {t.id for t in node.targets if isinstance(t, ast.Name)} & {"UNUSED_PLUGINS", "UNUSED_LIBS"})]
    assert len(keep) == 4
    namespace: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(SPEC), "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def wine_build():
    loaded = importlib.util.spec_from_file_location("wine_build", WINDOWS / "wine_build.py")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


# the same Qt plugin or library as each platform's wheel lays it out
LAYOUTS = {
    "linux": ("PySide6/Qt/plugins/{folder}/lib{name}.so", "PySide6/Qt/lib/lib{lib}.so.6"),
    "windows": ("PySide6\\plugins\\{folder}\\{name}.dll", "PySide6\\{lib}.dll"),
    "macos": ("PySide6/Qt/plugins/{folder}/lib{name}.dylib",
              "PySide6/Qt/lib/{framework}.framework/Versions/A/{framework}"),
}


@pytest.mark.parametrize("platform", LAYOUTS)
def test_unused_qt_plugins_and_libraries_are_dropped_on_every_platform(spec, platform):
    plugin, library = LAYOUTS[platform]
    unused = spec["unused"]
    for folder, name in (("imageformats", "qsvg"), ("imageformats", "qtiff"),
                         ("imageformats", "qwebp"), ("platforms", "qminimal"),
                         ("platforms", "qdirect2d"), ("tls", "qopensslbackend")):
        assert unused(plugin.format(folder=folder, name=name)), (platform, name)
    for lib in ("Qt6Svg", "Qt6Qml", "Qt6Quick", "Qt6Pdf"):
        assert unused(library.format(lib=lib, framework=lib.replace("Qt6", "Qt"))), (platform, lib)


@pytest.mark.parametrize("platform", LAYOUTS)
def test_what_the_app_needs_is_kept_on_every_platform(spec, platform):
    plugin, library = LAYOUTS[platform]
    unused = spec["unused"]
    for folder, name in (("platforms", "qxcb"), ("platforms", "qwindows"), ("platforms", "qcocoa"),
                         ("platforms", "qoffscreen"), ("platforms", "qwayland"),
                         ("imageformats", "qjpeg"), ("imageformats", "qico"),
                         ("styles", "qmodernwindowsstyle")):
        assert not unused(plugin.format(folder=folder, name=name)), (platform, name)
    for lib in ("Qt6Core", "Qt6Gui", "Qt6Widgets", "Qt6Network", "Qt6Test"):
        assert not unused(library.format(lib=lib, framework=lib.replace("Qt6", "Qt"))), (platform, lib)


def test_the_software_opengl_of_the_windows_wheel_is_dropped(spec):
    assert spec["unused"]("PySide6\\opengl32sw.dll")
    assert spec["qt_name"]("libqsvg.so") == spec["qt_name"]("qsvg.dll") == "qsvg"
    assert spec["qt_name"]("libQt6Svg.so.6") == spec["qt_name"]("Qt6Svg.dll") == "Qt6Svg"


def test_every_windows_pin_sits_inside_the_projects_ranges(wine_build):
    pins = {}
    for line in (WINDOWS / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, version = line.split("==")
            pins[wine_build.normal(name)] = version.strip()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert wine_build.windows_requirements() == [*project["dependencies"],
                                                 *project["optional-dependencies"]["package"]]
    for text in wine_build.windows_requirements():
        req = Requirement(text)
        name = wine_build.normal(req.name)
        assert name in pins, f"{req.name} is not pinned for the Windows build"
        assert req.specifier.contains(pins[name]), f"{req.name}=={pins[name]} is outside {req}"
    # the pins Wine 8 needs, with their reasons beside them
    text = (WINDOWS / "constraints.txt").read_text()
    assert "PySide6-Essentials==6.9.3" in text and "icuuc.dll" in text
    assert "numpy==1.26.4" in text and "crealf" in text


def complete_folder(root: Path, wine_build) -> Path:
    folder = root / "annotary-windows"
    for path in wine_build.REQUIRED:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(b"MZ")
    return folder


def test_a_complete_windows_folder_passes_the_check(tmp_path, wine_build):
    assert wine_build.folder_problems(complete_folder(tmp_path, wine_build)) == []


def test_a_build_without_qt_platform_plugins_fails_the_check(tmp_path, wine_build):
    # what PyInstaller with a PySide6 it cannot handle leaves, exiting 0 all the same
    folder = complete_folder(tmp_path, wine_build)
    for plugin in (folder / "_internal" / "PySide6" / "plugins" / "platforms").iterdir():
        plugin.unlink()
    problems = wine_build.folder_problems(folder)
    assert "missing _internal/PySide6/plugins/platforms/qwindows.dll" in problems
    assert "missing _internal/PySide6/plugins/platforms/qoffscreen.dll" in problems


def test_the_stand_in_dll_and_dropped_plugins_must_not_ship(tmp_path, wine_build):
    folder = complete_folder(tmp_path, wine_build)
    (folder / "_internal" / "bcryptprimitives.dll").write_bytes(b"MZ")
    (folder / "_internal" / "PySide6" / "plugins" / "imageformats").mkdir()
    (folder / "_internal" / "PySide6" / "plugins" / "imageformats" / "qsvg.dll").write_bytes(b"MZ")
    assert wine_build.folder_problems(folder) == [
        "must not carry _internal/PySide6/plugins/imageformats/qsvg.dll",
        "must not carry _internal/bcryptprimitives.dll"]
