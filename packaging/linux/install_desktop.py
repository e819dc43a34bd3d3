"""Install Annotary's menu entry, icons and the .annotary file type for the current user (XDG)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ICONS = ROOT / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
MIME_ICON = "application-x-annotary"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_exec() -> Path:
    """The frozen app if `make package` built one, else the development install."""
    for candidate in (ROOT / "dist" / "annotary" / "annotary", ROOT / ".venv" / "bin" / "annotary"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("no Annotary to point the menu entry at: run `make package` (or `make run`) "
                     "first, or pass --exec PATH")


def quote(arg: str) -> str:
    """An Exec= argument in double quotes, escaped as the Desktop Entry spec asks (twice: once
    for the quoting, once for the string value)."""
    inner = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
    return '"' + inner.replace("\\", "\\\\") + '"'


def files(home: Path) -> dict[Path, Path | str]:
    """Destination -> source file (or text) of everything installed."""
    out: dict[Path, Path | str] = {home / "mime" / "packages" / "annotary.xml": HERE / "annotary-mime.xml"}
    hicolor = home / "icons" / "hicolor"
    for size in SIZES:
        for kind, name in (("apps", "annotary"), ("mimetypes", MIME_ICON)):
            out[hicolor / f"{size}x{size}" / kind / f"{name}.png"] = ICONS / f"annotary-{size}.png"
    for kind, name in (("apps", "annotary"), ("mimetypes", MIME_ICON)):
        out[hicolor / "scalable" / kind / f"{name}.svg"] = ICONS / "annotary.svg"
    return out


def refresh(home: Path) -> list[str]:
    """Rebuild the caches desktops read; each tool only where it is installed."""
    done = []
    for tool, target in (("update-mime-database", home / "mime"),
                         ("update-desktop-database", home / "applications"),
                         ("gtk-update-icon-cache", home / "icons" / "hicolor")):
        if shutil.which(tool) and target.is_dir():
            args = [tool, "-f", "-t", str(target)] if tool == "gtk-update-icon-cache" else [tool, str(target)]
            result = subprocess.run(args, capture_output=True, text=True)
            done.append(tool if result.returncode == 0 else f"{tool} (failed: {result.stderr.strip()[:120]})")
    return done


def install(home: Path, exe: Path) -> list[Path]:
    entry = home / "applications" / "annotary.desktop"
    text = (HERE / "annotary.desktop").read_text(encoding="utf-8")
    text = text.replace("@EXEC@", f"{quote(str(exe))} gui").replace("@TRYEXEC@", str(exe))
    written = []
    for dest, src in {entry: text, **files(home)}.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, Path):
            shutil.copyfile(src, dest)
        else:
            dest.write_text(src, encoding="utf-8")
        written.append(dest)
    return written


def uninstall(home: Path) -> list[Path]:
    gone = []
    for dest in [home / "applications" / "annotary.desktop", *files(home)]:
        if dest.exists():
            dest.unlink()
            gone.append(dest)
    return gone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--exec", dest="exe", type=Path, help="the annotary program the entry starts")
    parser.add_argument("--uninstall", action="store_true", help="remove what an install put there")
    args = parser.parse_args(argv)
    home = data_home()
    if args.uninstall:
        gone = uninstall(home)
        print(f"removed {len(gone)} files from {home}")
    else:
        exe = (args.exe or default_exec()).resolve()
        written = install(home, exe)
        print(f"installed the Annotary menu entry (runs {exe}), {len(written) - 2} icons and the "
              f".annotary file type into {home}")
    caches = refresh(home)
    if caches:
        print("refreshed: " + ", ".join(caches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
