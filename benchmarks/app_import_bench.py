"""Memory of importing a large task bundle in the desktop app, against opening the result fresh.

A child process runs the app offscreen and imports a task bundle of 100,000 pairwise items
through the window's own import action (MainWindow.import_bundle: the check and the import each
run as a job on a worker thread, the trust question answered yes), then lets the labeling screen
show the first item. Its RSS is sampled all along. A second process opens the same store fresh
on that project's labeling screen. Printed: RSS with the window shown, peak RSS during the
import (VmHWM), RSS while labeling after the import, RSS of the fresh open, against the goals:
peak <= 300 MB, and after the import no more than the fresh open (+10 %).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/app_import_bench.py [--items 100000] [--runs 3]
        [--keep-bundle bench-out/app-import.annotary]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO, SOURCE_TREE, pairwise_spec, peak_rss_mb, proc_status  # noqa: E402

PROJECT = "bench-app-import"
GOAL_PEAK_MB = 300
GOAL_AFTER_SHARE = 1.10  # after the import, at most the fresh open's RSS and a tenth


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, ANNOTARY_HOME=str(home))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if SOURCE_TREE:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "desktop"), env.get("PYTHONPATH")]))
    return env


def run(args: list[str], home: Path) -> str:
    done = subprocess.run(args, env=child_env(home), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:5])} … failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def child(kind: str, cfg: dict) -> dict:
    """Run in a process of its own: the app offscreen, then `import` or `fresh`."""
    from bench import BenchAsker
    from PySide6.QtWidgets import QApplication

    from annotary.ops import identity as identity_ops
    from annotary.paths import store_path
    from annotary.store import open_store
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner

    app = QApplication.instance() or QApplication(["annotary-bench"])
    store = open_store(store_path())
    asker = BenchAsker()
    window = MainWindow(store, identity_ops.current_identity(), runner=Runner(), asker=asker)
    window.show()
    app.processEvents()
    shown_rss = proc_status("VmRSS")
    highest = [shown_rss]
    sampling = threading.Event()

    def sample() -> None:  # VmHWM is the true peak; this says when it happens (and checks it)
        while not sampling.wait(0.05):
            highest[0] = max(highest[0], proc_status("VmRSS") or 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    if kind == "import":
        window.import_bundle(cfg["bundle"])  # what File > Import and a dropped file do
    else:
        window.open_project(PROJECT)
    deadline = time.monotonic() + cfg.get("timeout", 1800)
    while not (window.labeling is not None and window.labeling.flow.current is not None):
        if asker.errors:
            raise SystemExit("the window reported: " + "; ".join(asker.errors))
        if time.monotonic() > deadline:
            raise SystemExit("the labeling screen did not show an item in time")
        app.processEvents()
        time.sleep(0.01)
    seconds = time.perf_counter() - t
    settle = time.monotonic() + 2.0  # the screen as the annotator finds it: drawn, jobs ended
    while time.monotonic() < settle or window.runner.busy():
        app.processEvents()
        time.sleep(0.02)
    sampling.set()
    sampler.join()
    flow = window.labeling.flow
    result = {"seconds": seconds, "shown_rss": shown_rss, "peak_rss": peak_rss_mb(),
              "sampled_peak": highest[0], "labeling_rss": proc_status("VmRSS"),
              "items": len(flow.ids), "first": flow.current.item.id}
    window.close()
    store.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=100_000, help="items in the bundle")
    ap.add_argument("--workdir", type=Path, help="where the bundle and stores are made (default: a temporary folder)")
    ap.add_argument("--runs", type=int, default=1, help="imports (each with its fresh open) of the same bundle")
    ap.add_argument("--keep-bundle", type=Path, metavar="PATH",
                    help="keep the bundle at PATH and, when it is there already, import it rather than making one")
    ap.add_argument("--child", choices=("import", "fresh"), help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args.child, json.loads(args.config))), flush=True)
        return
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="annotary-app-import-", dir=args.workdir) as work:
        bundle = args.keep_bundle or Path(work) / "tasks.annotary"
        if not bundle.exists():
            make_bundle(Path(work), args.items, bundle)
        print(f"app import of {args.items:,} items ({bundle.stat().st_size / 2**20:.0f} MiB bundle), "
              f"Qt platform {os.environ.get('QT_QPA_PLATFORM', 'offscreen')}:", flush=True)
        for k in range(max(1, args.runs)):
            if args.runs > 1:
                print(f" run {k + 1} of {args.runs}", flush=True)
            report(measure(Path(work) / f"run-{k}", bundle, args.items))


def make_bundle(work: Path, n: int, bundle: Path) -> None:
    import scale_bench

    coordinator = work / "coordinator"
    coordinator.mkdir()
    run([sys.executable, "-m", "annotary", "identity", "create", "--name", "Coordinator", "--role", "coordinator"],
        coordinator)
    (work / "spec.toml").write_text(pairwise_spec(PROJECT, "App import benchmark"))
    scale_bench.make_items(work / "items.jsonl", n)
    run([sys.executable, "-m", "annotary", "tasks", "build", str(work / "spec.toml"), str(work / "items.jsonl"),
         "--out", str(bundle)], coordinator)
    (work / "items.jsonl").unlink()


def measure(work: Path, bundle: Path, n: int) -> dict[str, dict]:
    """The bundle imported in the window of a new annotator, then their store opened fresh."""
    annotator = work / "annotator"
    annotator.mkdir(parents=True)
    run([sys.executable, "-m", "annotary", "identity", "create", "--name", "Annotator", "--role", "annotator"],
        annotator)
    figures = {}
    for kind in ("import", "fresh"):
        out = run([sys.executable, str(Path(__file__).resolve()), "--child", kind,
                   "--config", json.dumps({"bundle": str(bundle)})], annotator)
        figures[kind] = json.loads(next(x for x in out.splitlines() if x.startswith("RESULT "))[7:])
        if figures[kind]["items"] != n:
            raise SystemExit(f"{kind}: the labeling screen holds {figures[kind]['items']} items, not {n}")
    shutil.rmtree(work)
    return figures


def report(f: dict[str, dict]) -> None:
    imp, fresh = f["import"], f["fresh"]
    print(f"  window shown, before the import   {imp['shown_rss']:7.0f} MiB")
    print(f"  peak during the import (VmHWM)    {imp['peak_rss']:7.0f} MiB   "
          f"goal <= {GOAL_PEAK_MB} MB: {'ok' if imp['peak_rss'] * 1.048576 <= GOAL_PEAK_MB else 'over'}")
    print(f"  labeling, after the import        {imp['labeling_rss']:7.0f} MiB   "
          f"({imp['seconds']:.1f} s from the import's start to the first item)")
    print(f"  labeling, the store opened fresh  {fresh['labeling_rss']:7.0f} MiB   "
          f"(peak {fresh['peak_rss']:.0f} MiB, {fresh['seconds']:.1f} s to the first item)")
    share = imp["labeling_rss"] / fresh["labeling_rss"]
    print(f"  after the import / fresh open     {share:7.2f}x      goal <= {GOAL_AFTER_SHARE:.2f}x: "
          f"{'ok' if share <= GOAL_AFTER_SHARE else 'over'}")


if __name__ == "__main__":
    main()
