"""Dataset export figures: 200k preference pairs to trl-preference JSON Lines (goal < 3 s) and to Parquet.

Run with `.venv/bin/python benchmarks/export_bench.py` (`--pairs 20000` for a quick run). It prints
figures and ratios against the goal; it never fails because of a timing. The project's labels are
written straight into the project file (two human raters who agree on every item, so every answer
is unanimous), not merged from bundles: the merge has its own benchmark.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import pairwise_spec, peak_rss_mb  # noqa: E402  (puts the source tree on the path)

from annotary.bundles.identity import create_identity  # noqa: E402
from annotary.ops import export as export_ops  # noqa: E402
from annotary.ops.export import export_dataset  # noqa: E402
from annotary.ops.project import create_project, open_project, project_info  # noqa: E402

GOAL_JSONL_S = 3.0
SPEC = pairwise_spec("bench-export", "Export benchmark")
WORDS = ("the model answer explains why each step follows from the last and where the user should "
         "check units, données, edge cases and the limits of the method before relying on it").split()


def text(rng: random.Random, low: int, high: int) -> str:
    n = rng.randint(low, high) // 6
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build(tmp: Path, pairs: int) -> Path:
    rng = random.Random(0)
    (tmp / "spec.toml").write_text(SPEC)
    with (tmp / "items.jsonl").open("w") as f:
        for i in range(pairs):
            prompt = ([{"role": "user", "content": text(rng, 80, 300)}] if i % 10 == 0 else text(rng, 80, 300))
            f.write(json.dumps({"id": f"item-{i}", "prompt": prompt,
                                "responses": [{"id": "r1", "text": text(rng, 500, 1400)},
                                              {"id": "r2", "text": text(rng, 500, 1400)}]}) + "\n")
    coordinator = create_identity(tmp / "coordinator", name="Coordinator", role="coordinator")
    db = tmp / "project.db"
    create_project(spec_path=tmp / "spec.toml", items_paths=[tmp / "items.jsonl"], out=db, identity=coordinator)
    store = open_project(db)
    info = project_info(store)
    now = datetime.now(UTC).isoformat()
    rows = []
    for i in range(pairs):
        choice = "A" if rng.random() < 0.5 else "B"
        for who in ("human:ann1", "human:ann2"):
            data = {"project_id": info.id, "item_id": f"item-{i}", "question_id": "helpful", "annotator": who,
                    "revision": 1, "created_at": now, "submitted_at": now, "duration_ms": 20000,
                    "shown_order": ["r1", "r2"], "answer": {"mode": "pairwise", "choice": choice,
                                                            "preferred": "r1" if choice == "A" else "r2"},
                    "flags": [], "spec_version": info.spec.version(), "guidelines_version": "1"}
            rows.append((info.id, f"item-{i}", "helpful", who, 1, json.dumps(data), now, "bench"))
    with store.atomic():
        store.conn.executemany("INSERT INTO raters (project_id, id, name, human, added_at) VALUES (?,?,?,1,?)",
                               [(info.id, w, w[6:], now) for w in ("human:ann1", "human:ann2")])
        store.conn.executemany(
            "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data, submitted_at,"
            " source) VALUES (?,?,?,?,?,?,?,?)", rows)
    store.close()
    return db


def phases(fn) -> dict[str, float]:
    """Wall seconds inside the export's steps, by wrapping the functions it calls."""
    spent: dict[str, float] = {}
    wrapped = {"agreement, consensus, final answers": "export_answers"}
    originals = {name: getattr(export_ops, name) for name in wrapped.values()}

    def timer(label, original):
        def run(*a, **kw):
            t = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
        return run

    for label, name in wrapped.items():
        setattr(export_ops, name, timer(label, originals[name]))
    try:
        fn()
    finally:
        for name, original in originals.items():
            setattr(export_ops, name, original)
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pairs", type=int, default=200_000)
    ap.add_argument("--profile", action="store_true", help="cProfile the JSON Lines export")
    ap.add_argument("--runs", type=int, default=3, help="exports of each kind; the median is shown")
    ap.add_argument("--keep", type=Path, help="Build the project in this folder once and reuse it")
    ap.add_argument("--build-only", type=Path, help=argparse.SUPPRESS)  # the child that builds
    args = ap.parse_args()
    if args.build_only:
        build(args.build_only, args.pairs)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        db = (args.keep or tmp) / "project.db"
        if not db.exists():
            # built in a child process, so the peak memory printed below is the exports' own
            db.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, __file__, "--pairs", str(args.pairs), "--build-only", str(db.parent)],
                           check=True)
        print(f"setup: {args.pairs:,} items, 2 raters, {db.stat().st_size / 2**20:.0f} MiB project "
              f"in {time.perf_counter() - t:.1f} s")
        store = open_project(db)
        for label, parquet in (("trl-preference JSON Lines", False), ("trl-preference Parquet", True)):
            runs = []  # (seconds, cpu seconds, phases, report)
            for n in range(args.runs):
                out = tmp / f"prefs-{'parquet' if parquet else 'jsonl'}-{n}"
                t, cpu = time.perf_counter(), time.process_time()
                box = {}
                spent = phases(lambda p=parquet, o=out, b=box: b.update(r=export_dataset(
                    store, out=o, fmt="trl-preference", parquet=p)))
                runs.append((time.perf_counter() - t, time.process_time() - cpu, spent, box["r"]))
                shutil.rmtree(out)
            seconds, cpu, spent, r = sorted(runs, key=lambda x: x[0])[len(runs) // 2]  # the median run
            size = sum(f["bytes"] for f in r.files.values())
            goal = f"  goal < {GOAL_JSONL_S:.0f} s: {'ok' if seconds < GOAL_JSONL_S else 'over'} " \
                   f"({seconds / GOAL_JSONL_S:.2f}x)" if not parquet else ""
            spread = f" (median of {len(runs)}: {', '.join(f'{x[0]:.2f}' for x in runs)})" if len(runs) > 1 else ""
            print(f"{label:<28} {seconds:6.2f} s (cpu {cpu:.2f} s), {r.rows:,} rows, "
                  f"{size / 2**20:.0f} MiB, peak RSS {peak_rss_mb():.0f} MiB{goal}{spread}")
            inner = sum(spent.values())
            for k, v in spent.items():
                print(f"    {k:<38} {v:6.2f} s")
            print(f"    {'items, rows, writing, card, manifest':<38} {seconds - inner:6.2f} s")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            export_dataset(store, out=tmp / "profiled", fmt="trl-preference")
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        store.close()


if __name__ == "__main__":
    main()
