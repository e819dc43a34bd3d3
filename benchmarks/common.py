"""What the benchmark scripts share: the source tree on the path, peak memory, a pairwise spec."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE_TREE = importlib.util.find_spec("annotary") is None
if SOURCE_TREE:  # not installed: use the source tree (bench.py passes it to its children too)
    sys.path.insert(0, str(REPO / "desktop"))

MiB = 1024 * 1024


def proc_status(field: str) -> float | None:
    """A /proc/self/status memory field in MiB (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM on Linux (a child's ru_maxrss starts from its parent's)."""
    hwm = proc_status("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MiB if sys.platform == "darwin" else peak / 1024


def pairwise_spec(project_id: str, name: str) -> str:
    """The spec (TOML) of a project with one four-way pairwise question."""
    return f"""\
project_id = "{project_id}"
name = "{name}"

[[questions]]
id = "helpful"
mode = "pairwise"
text = "Which response is more helpful?"
scale = "fourway"
"""
