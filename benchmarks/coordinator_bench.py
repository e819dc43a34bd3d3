"""Coordinator figures: project create, assign, merge of 20 result bundles x 10k labels, quality report, alpha.

Run with `.venv/bin/python benchmarks/coordinator_bench.py` (`--small` for a quick run). It prints
figures and ratios against the goals; it never fails because of a timing. The result bundles are
written directly (not labelled through the flow), one question per item.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import pairwise_spec, peak_rss_mb  # noqa: E402  (puts the source tree on the path)

from annotary.analysis.agreement import benchmark_alpha  # noqa: E402
from annotary.bundles.bundle import write_bundle  # noqa: E402
from annotary.bundles.identity import create_identity  # noqa: E402
from annotary.bundles.records import dump_jsonl  # noqa: E402
from annotary.core.labels import Label, PairwiseAnswer  # noqa: E402
from annotary.ops.assign import assign_round  # noqa: E402
from annotary.ops.merge import merge_results  # noqa: E402
from annotary.ops.project import create_project, open_project  # noqa: E402
from annotary.ops.quality import quality_report  # noqa: E402
from annotary.ops.roster import add_members, export_card  # noqa: E402

GOAL_MERGE_S = 5.0
SPEC = pairwise_spec("bench-coordinator", "Coordinator benchmark")


def timed(label: str, fn):
    """Wall-clock seconds (the goal's), CPU seconds (steadier on a shared machine), peak RSS so far."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.2f} s  (cpu {time.process_time() - cpu:.2f} s, peak RSS {peak_rss_mb():.0f} MiB)")
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--small", action="store_true", help="20 bundles x 500 labels, alpha on 10k units")
    ap.add_argument("--profile", action="store_true", help="cProfile one more merge into a fresh copy")
    args = ap.parse_args()
    bundles, per_bundle = 20, (500 if args.small else 10_000)
    overlap = 2
    n_items = bundles * per_bundle // overlap
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "spec.toml").write_text(SPEC)
        with (tmp / "items.jsonl").open("w") as f:
            for i in range(n_items):
                f.write(json.dumps({"id": f"item-{i}", "prompt": f"Question {i}: " + "words " * 40,
                                    "responses": [{"id": "r1", "text": "first answer " * 60},
                                                  {"id": "r2", "text": "second answer " * 60}]}) + "\n")
        coordinator = create_identity(tmp / "coordinator", name="Coordinator", role="coordinator")
        people = [create_identity(tmp / f"p{i}", name=f"Annotator {i}", role="annotator") for i in range(bundles)]
        cards = []
        for p in people:
            cards.append(tmp / f"{p.key_id}.card.json")
            export_card(identity=p, out=cards[-1])
        db = tmp / "project.db"
        fresh = tmp / "fresh.db"  # the project before any merge, for the profiled one
        timed(f"project create ({n_items:,} items)", lambda: create_project(
            spec_path=tmp / "spec.toml", items_paths=[tmp / "items.jsonl"], out=db, identity=coordinator))
        store = open_project(db)
        add_members(store, cards=cards)
        report, _ = timed(f"assign (overlap {overlap}, {bundles} task bundles)", lambda: assign_round(
            store, identity=coordinator, out_dir=tmp / "round1", overlap=overlap))

        now = datetime.now(UTC)
        paths = []
        for b, p in zip(report.bundles, people, strict=False):
            ids = [r[0] for r in store.query("SELECT item_id FROM assignments WHERE annotator=?", (b.annotator,))]
            person = next(x for x in people if x.key_id == b.annotator)
            labels = [Label(project_id="bench-coordinator", item_id=i, question_id="helpful",
                            annotator=person.key_id, revision=1, created_at=now, submitted_at=now,
                            duration_ms=rng.randint(5_000, 60_000), shown_order=["r1", "r2"],
                            answer=PairwiseAnswer(choice=rng.choice("AB")), spec_version="x",
                            guidelines_version="1") for i in ids]
            paths.append(tmp / f"results-{p.key_id}.annotary")
            write_bundle(paths[-1], kind="results", project_id="bench-coordinator", project_name="bench",
                         identity=person, members={"results.jsonl": dump_jsonl(labels)})
        store.close()
        shutil.copyfile(db, fresh)
        store = open_project(db)
        merged, merge_s = timed(f"merge ({bundles} bundles x {per_bundle:,} labels)",
                                lambda: merge_results(store, paths=paths))
        assert sum(r.accepted for r in merged) == bundles * per_bundle
        print(f"{'  goal':<44} {GOAL_MERGE_S:8.2f} s  (ratio {merge_s / GOAL_MERGE_S:.2f})")
        again, _ = timed("merge again (all already merged)", lambda: merge_results(store, paths=paths))
        assert all(r.already_merged for r in again)
        timed(f"quality report ({bundles * per_bundle:,} labels)", lambda: quality_report(store))
        store.close()
        if args.profile:
            store, prof = open_project(fresh), cProfile.Profile()
            prof.enable()
            merge_results(store, paths=paths)
            prof.disable()
            store.close()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)

    units = 10_000 if args.small else 100_000
    for level in ("nominal", "ordinal", "interval"):
        r = benchmark_alpha(units=units, raters=5, level=level)
        line = f"alpha {level} ({units:,} units x 5 raters)"
        if "reference_seconds" in r:
            ratio = r["seconds"] / r["reference_seconds"]
            print(f"{line:<44} {r['seconds']:8.2f} s  krippendorff {r['reference_seconds']:.2f} s "
                  f"(ratio {ratio:.2f}, goal <= 1; alpha {r['alpha']:.4f} vs {r['reference_alpha']:.4f})")
        else:
            print(f"{line:<44} {r['seconds']:8.2f} s  (krippendorff package not installed)")
    print(f"{'peak RSS':<44} {peak_rss_mb():8.1f} MiB")


if __name__ == "__main__":
    main()
