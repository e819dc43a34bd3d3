"""Cold start to the first item on screen: the frozen app (dist/annotary/) against the source run.

Run with `make bench-package` (builds the frozen app first) or
`QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/package_bench.py --app dist/annotary/annotary`.
Both start `annotary gui --project demo-pairwise --startup-probe` in a fresh process on the same
data folder (an identity and the imported demo): the real start-up path (store lock, integrity
check, daily backup, main window, project, first item painted). The clock runs from spawning
the process to the probe's line. Like bench.py it prints figures and never fails on a timing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE_TREE = importlib.util.find_spec("annotary") is None
if SOURCE_TREE:  # not installed: the source tree, in the child processes too
    sys.path.insert(0, str(REPO / "desktop"))

GOAL_S = 2.0
PROJECT = "demo-pairwise"


def prepare(home: Path) -> None:
    """An identity and the demo project, as after a person's first session."""
    os.environ["ANNOTARY_HOME"] = str(home)
    from annotary.ops.demo import demo_dir
    from annotary.ops.identity import make_identity
    from annotary.ops.importing import import_tasks
    from annotary.ops.tasks import build_task_bundle
    from annotary.paths import store_path
    from annotary.store import open_store

    me = make_identity(name="Bench Annotator", role="annotator")
    demo = demo_dir()
    bundle = home / "demo.annotary"
    build_task_bundle(spec_path=demo / "spec.toml", items_paths=[demo / "items.jsonl"], out=bundle,
                      identity=me, guidelines_path=demo / "guidelines.md")
    store = open_store(store_path())
    try:
        import_tasks(store, bundle, trust_new_key=True)
    finally:
        store.close()


def start_once(command: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.Popen([*command, "gui", "--project", PROJECT, "--startup-probe"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = None
    for line in proc.stdout:
        if line.startswith("SHOWN ") and elapsed is None:
            elapsed = time.perf_counter() - t0
            if '"item": null' in line:
                raise SystemExit(f"{command[0]} showed no item: {line.strip()}")
    _, err = proc.communicate(timeout=60)
    if elapsed is None:
        raise SystemExit(f"{' '.join(command)} showed nothing (exit {proc.returncode}):\n{err[-2000:]}")
    return elapsed


def measure(name: str, command: list[str], env: dict, runs: int) -> dict:
    first = start_once(command, env)  # the files may not be in the OS cache yet
    rest = [start_once(command, env) for _ in range(runs)]
    return {"name": name, "first": first, "median": statistics.median(rest), "min": min(rest)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=REPO / "dist" / "annotary" / "annotary",
                        help="the frozen executable (default dist/annotary/annotary)")
    parser.add_argument("--runs", type=int, default=5, help="timed starts after the first (default 5)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="annotary-package-bench-"))
    try:
        prepare(work / "home")
        env = {**os.environ, "ANNOTARY_HOME": str(work / "home"), "QT_QPA_PLATFORM": "offscreen"}
        if SOURCE_TREE:
            env["PYTHONPATH"] = str(REPO / "desktop")
        rows = [measure("source (python -m annotary)", [sys.executable, "-m", "annotary"], env, args.runs)]
        if args.app.is_file():
            rows.append(measure(f"frozen ({args.app})", [str(args.app)], env, args.runs))
        else:
            print(f"no frozen app at {args.app}: run `make package` first; source run only\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"cold start to the first item shown, offscreen, {args.runs} runs after a first one "
          f"(goal < {GOAL_S:.0f} s)")
    width = max(len(r["name"]) for r in rows)
    print(f"{'run':{width}}  {'first':>7}  {'median':>7}  {'min':>7}  ok/over")
    for r in rows:
        verdict = "ok" if r["median"] < GOAL_S else "OVER"
        print(f"{r['name']:{width}}  {r['first']:6.2f}s  {r['median']:6.2f}s  {r['min']:6.2f}s  {verdict}")


if __name__ == "__main__":
    main()
