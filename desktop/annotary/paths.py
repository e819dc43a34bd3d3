"""Where resources and per-user data live: source tree, installed wheel or frozen app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Annotary"


def resources_dir() -> Path:
    """The resources folder, whichever way the program was installed."""
    candidates = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    here = Path(__file__).resolve().parent
    candidates.append(here / "resources")  # installed wheel
    candidates.append(here.parent.parent / "resources")  # source tree: desktop/annotary -> repo
    for path in candidates:
        if (path / "schema").is_dir():
            return path
    raise FileNotFoundError("Annotary resources not found; looked in " + ", ".join(map(str, candidates)))


def data_dir() -> Path:
    """Per-user data folder (identity, store). ANNOTARY_HOME overrides it (tests, portable use)."""
    override = os.environ.get("ANNOTARY_HOME")
    if override:
        path = Path(override)
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir(APP_NAME, appauthor=False))
    # only its owner may enter the folder of identity, store, backups and crash log; a folder
    # ANNOTARY_HOME names that exists already keeps its mode (it may be a shared place on purpose)
    fresh = not path.exists()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name == "posix" and (fresh or not override):
        try:
            if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
                os.chmod(path, 0o700)
        except OSError:
            pass
    return path


def store_path() -> Path:
    return data_dir() / "annotary.db"
