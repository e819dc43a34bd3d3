"""resources/ (schemas, demo) is found from the source tree and from an installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from annotary.paths import resources_dir

ROOT = Path(__file__).resolve().parent.parent
# what a wheel is built from; copied so the build leaves no build/ or egg-info in the checkout
SOURCES = ("pyproject.toml", "setup.py", "README.md", "desktop/annotary", "resources")


def missing_build_tools() -> list[str]:
    """The build-system requirements this interpreter lacks: without build isolation, and
    offline, a wheel can be built only with what is installed here."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement
    from packaging.version import Version

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    missing = []
    for text in requires:
        req = Requirement(text)
        try:
            have = version(req.name)
        except PackageNotFoundError:
            have = None
        if req.name == "wheel" and have is None:
            # setuptools 70.1+ has bdist_wheel built in; the `wheel` package is then not needed
            try:
                if Version(version("setuptools")) >= Version("70.1"):
                    continue
            except PackageNotFoundError:
                pass
        if have is None or not req.specifier.contains(have, prereleases=True):
            missing.append(f"{text} (installed: {have or 'none'})")
    return missing


def holds_resources(path: Path) -> None:
    assert (path / "schema").is_dir() and (path / "demo").is_dir(), path
    assert (path / "schema" / "manifest.schema.json").is_file()
    assert {"spec.toml", "items.jsonl", "guidelines.md"} <= {p.name for p in (path / "demo").iterdir()}


def test_resources_from_the_source_tree():
    found = resources_dir()
    assert found == ROOT / "resources"
    holds_resources(found)


def test_resources_from_an_installed_wheel(tmp_path):
    src = tmp_path / "src"
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(origin, src / name)

    missing = missing_build_tools()
    if missing:
        pytest.skip("cannot build a wheel offline: this environment lacks the build requirements "
                    + ", ".join(missing) + "; add them to the dev extra so `make test` installs them")
    dist = tmp_path / "dist"
    offline = os.environ | {"PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", str(dist), str(src)],
        capture_output=True, text=True, env=offline, timeout=600)
    assert build.returncode == 0, f"building the wheel failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    (wheel,) = dist.glob("annotary-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "annotary/resources/schema/manifest.schema.json" in names
    assert "annotary/resources/demo/spec.toml" in names

    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, env=offline, timeout=600)
    assert install.returncode == 0, install.stderr

    # -S: no site-packages, so the editable install of this checkout cannot be found; only
    # the target folder is on the path, and the current folder is an empty one
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)
    probe = subprocess.run(
        [sys.executable, "-S", "-c",
         "import annotary.paths as p; print(p.__file__); print(p.resources_dir())"],
        capture_output=True, text=True, env=env, cwd=elsewhere, timeout=120)
    assert probe.returncode == 0, probe.stderr
    module_file, found = (Path(line) for line in probe.stdout.splitlines())
    assert module_file.is_relative_to(target)
    assert found == target / "annotary" / "resources"
    holds_resources(found)
