"""Scale: the coordinator's commands at 10k, 100k and 1M labels, each step's time, peak RSS and growth.

Run with `.venv/bin/python benchmarks/scale_bench.py` (`--sizes 10000,100000` for a quick run). A
project of N/2 pairwise items (about 1.3 KiB each), 20 annotators, overlap 2, so N labels. Each
step runs as a user runs it, the `annotary` command in a process of its own under
`/usr/bin/time` (its peak RSS is that process's own), timed from start to exit:

  project create, assign (20 signed task bundles), merge (20 result bundles), `annotary status`,
  the quality report (`annotary agreement`), trl-preference export, labels-long Parquet, tasks build (the items, at
  most the first 100,000, in one task bundle) and `annotary import` of that bundle into a fresh store, against a plain baseline measured the same
  way: a process that reads the bundle's items.jsonl, json.loads each line and executemany's the
  same columns into SQLite with the store's page size, WAL and synchronous=FULL.

After the first size each step shows its growth exponent, log(time ratio) / log(size ratio): 1 is
linear. It prints figures and goals; it never fails because of a timing. The files go to a
temporary folder (`--workdir`, default the system's) and are removed size by size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from common import REPO, pairwise_spec  # noqa: E402  (puts the source tree on the path)

ANNOTATORS, OVERLAP = 20, 2
PROJECT = "bench-scale"
SPEC = pairwise_spec(PROJECT, "Scale benchmark")
GOALS_S = {"merge": 10.0, "quality report": 15.0, "trl-preference export": 10.0}  # at 1M labels
GOAL_RSS_MB = 400  # every coordinator command (project create of 1M items, a 2M-label project)
GOAL_IMPORT_RATIO = 1.5
IMPORT_ITEMS = 100_000  # the task bundle built and imported: at most this many items (a bundle's
# items.jsonl may not pass 512 MiB, about 400k items of this size)
WORDS = ("the model answer explains why each step follows from the last and where the user should check "
         "units, données, edge cases and the limits of the method before relying on it; a careful reader "
         "compares both responses against the question asked").split()

# the floor the import is compared with, as a whole process (started like the command)
BASELINE = """
import json, sqlite3, sys, zipfile
member, db, page = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = sqlite3.connect(db, isolation_level=None)
conn.execute(f"PRAGMA page_size={page}")
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("PRAGMA synchronous=FULL")
conn.execute("CREATE TABLE items (project_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
             " kind TEXT NOT NULL DEFAULT 'normal', data TEXT NOT NULL, PRIMARY KEY (project_id, id))")
conn.execute("CREATE UNIQUE INDEX items_seq ON items(project_id, seq)")
rows = []
with open(member, "rb") as f:
    for seq, line in enumerate(f, 1):
        if line.strip():
            obj = json.loads(line)
            rows.append(("p", obj["id"], seq, obj.get("kind", "normal"), line.decode("utf-8").rstrip("\\n")))
conn.execute("BEGIN IMMEDIATE")
conn.executemany("INSERT INTO items (project_id, id, seq, kind, data) VALUES (?,?,?,?,?)", rows)
conn.execute("COMMIT")
conn.close()
"""


def child_env(home: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "desktop"), *filter(None, [env.get("PYTHONPATH")])])
    if home is not None:
        env["ANNOTARY_HOME"] = str(home)
    env.pop("QT_QPA_PLATFORM", None)
    return env


def run(cmd: list[str], home: Path | None, log: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one process; its output goes to LOG. Raises if it fails."""
    stats = log.with_suffix(".time")
    timer = ["/usr/bin/time", "-f", "%M", "-o", str(stats)] if Path("/usr/bin/time").exists() else []
    t = time.perf_counter()
    with log.open("wb") as out:
        p = subprocess.Popen(timer + cmd, env=child_env(home), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed ({p.returncode}):\n{log.read_text()[-2000:]}")
    if timer:
        peak_kib = int(stats.read_text().split()[-1])
    else:  # the child's own ru_maxrss (KiB on Linux); this process stays small, so it is the child's
        peak_kib = usage.ru_maxrss
    return seconds, peak_kib / 1024


def annotary(*args: str) -> list[str]:
    return [sys.executable, "-m", "annotary", *args]


# --- the data, made in child processes (so this process stays small) ----------------------------

def make_items(path: Path, n: int) -> None:
    rng = random.Random(n)

    def text(lo: int, hi: int) -> str:
        return " ".join(rng.choices(WORDS, k=rng.randint(lo, hi) // 6))

    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"item-{i:07d}", "prompt": text(100, 300),
                                "responses": [{"id": "r1", "text": text(400, 700)},
                                              {"id": "r2", "text": text(400, 700)}]},
                               ensure_ascii=False) + "\n")


def make_people(root: Path) -> None:
    from annotary.bundles.identity import create_identity
    from annotary.ops.roster import export_card

    create_identity(root / "coordinator", name="Coordinator", role="coordinator")
    (root / "cards").mkdir()
    for i in range(ANNOTATORS):
        person = create_identity(root / "people" / f"p{i:02d}", name=f"Annotator {i}", role="annotator")
        export_card(identity=person, out=root / "cards" / f"p{i:02d}.card.json")


def make_results(root: Path) -> None:
    """Each annotator's result bundle: one label per assigned item, written as the app writes them
    (a pick that agrees with the others on most items)."""
    import sqlite3
    from datetime import UTC, datetime

    from annotary.bundles.bundle import write_bundle
    from annotary.bundles.identity import load_identity
    from annotary.core.labels import Label, PairwiseAnswer
    from annotary.ops.project import open_project, project_info

    store = open_project(root / "project.db")
    spec_version = project_info(store).spec.version()
    store.close()
    conn = sqlite3.connect(root / "project.db")
    now = datetime.now(UTC)
    for folder in sorted((root / "people").iterdir()):
        person = load_identity(folder)
        first = Label(project_id=PROJECT, item_id="x", question_id="helpful", annotator=person.key_id,
                      revision=1, created_at=now, submitted_at=now, duration_ms=20_000, shown_order=["r1", "r2"],
                      answer=PairwiseAnswer(choice="A"), spec_version=spec_version, guidelines_version="1")
        template = first.model_dump(mode="json")
        rng = random.Random(person.key_id)
        lines = []
        for (iid,) in conn.execute("SELECT item_id FROM assignments WHERE annotator=? ORDER BY item_id",
                                   (person.key_id,)):
            common = hash(iid) % 2
            choice = "AB"[common] if rng.random() < 0.8 else rng.choice(("A", "B", "tie"))
            template["item_id"], template["answer"]["choice"] = iid, choice
            template["duration_ms"] = rng.randint(5_000, 60_000)
            lines.append(json.dumps(template, separators=(",", ":")))
        write_bundle(root / "results" / f"{folder.name}.annotary", kind="results", project_id=PROJECT,
                     project_name="Scale benchmark", identity=person,
                     members={"results.jsonl": ("\n".join(lines) + "\n").encode()})
    conn.close()


def extract_items(bundle: Path, out: Path) -> None:
    with zipfile.ZipFile(bundle) as z, z.open("items.jsonl") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


SETUP = {"items": lambda a: make_items(Path(a[0]), int(a[1])), "people": lambda a: make_people(Path(a[0])),
         "results": lambda a: make_results(Path(a[0])),
         "extract": lambda a: extract_items(Path(a[0]), Path(a[1]))}


def setup(step: str, *args: str, log: Path) -> None:
    cmd = [sys.executable, __file__, "--setup", step, *args]
    run(cmd, None, log)


# --- one size ----------------------------------------------------------------------------------

def one_size(labels: int, work: Path, say) -> dict[str, tuple[float, float]]:
    from annotary.store.db import PAGE_SIZE

    items = labels // OVERLAP
    root = work / f"scale-{labels}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "results").mkdir(parents=True)
    (root / "logs").mkdir()
    logs = root / "logs"
    figures: dict[str, tuple[float, float]] = {}
    (root / "spec.toml").write_text(SPEC)
    t = time.perf_counter()
    setup("items", str(root / "items.jsonl"), str(items), log=logs / "setup-items.log")
    setup("people", str(root), log=logs / "setup-people.log")
    say(f"  data: {items:,} items ({(root / 'items.jsonl').stat().st_size / 2**20:.0f} MiB), "
        f"{ANNOTATORS} annotators in {time.perf_counter() - t:.0f} s")
    home = root / "coordinator"
    db = root / "project.db"

    def step(name: str, cmd: list[str], who: Path | None = home) -> None:
        figures[name] = run(cmd, who, logs / f"{name.replace(' ', '-')}.log")
        seconds, peak = figures[name]
        say(f"  {name:<24} {seconds:8.2f} s  peak RSS {peak:7.0f} MiB")

    step("project create", annotary("project", "create", "--spec", str(root / "spec.toml"),
                                    "--items", str(root / "items.jsonl"), "--out", str(db)))
    run(annotary("roster", "add", str(db), *map(str, sorted((root / "cards").iterdir()))), home,
        logs / "roster.log")
    step("assign", annotary("project", "assign", str(db), "--overlap", str(OVERLAP),
                            "--out-dir", str(root / "round1")))
    shutil.rmtree(root / "round1")
    setup("results", str(root), log=logs / "setup-results.log")
    step("merge", annotary("merge", str(db), *map(str, sorted((root / "results").iterdir()))))
    shutil.rmtree(root / "results")
    step("status", annotary("status", str(db)))
    step("quality report", annotary("agreement", str(db)))
    step("trl-preference export", annotary("dataset", "export", str(db), "--format", "trl-preference",
                                           "--out", str(root / "prefs")))
    shutil.rmtree(root / "prefs")
    step("labels-long parquet", annotary("dataset", "export", str(db), "--format", "labels-long", "--parquet",
                                         "--out", str(root / "labels")))
    shutil.rmtree(root / "labels")
    db.unlink()
    source = root / "items.jsonl"
    if items > IMPORT_ITEMS:  # the first IMPORT_ITEMS items
        source = root / "items-import.jsonl"
        with (root / "items.jsonl").open("rb") as full, source.open("wb") as head:
            for _, line in zip(range(IMPORT_ITEMS), full, strict=False):
                head.write(line)
    step("tasks build", annotary("tasks", "build", str(root / "spec.toml"), str(source),
                                 "--out", str(root / "tasks.annotary")))
    for used in {source, root / "items.jsonl"}:
        used.unlink()
    setup("extract", str(root / "tasks.annotary"), str(root / "member.jsonl"), log=logs / "setup-extract.log")
    (root / "annotator").mkdir()
    step("import", annotary("import", str(root / "tasks.annotary"), "--trust"), root / "annotator")
    step("import baseline", [sys.executable, "-c", BASELINE, str(root / "member.jsonl"),
                             str(root / "baseline.db"), str(PAGE_SIZE)], None)
    ratio = figures["import"][0] / figures["import baseline"][0]
    say(f"  {'import / baseline':<24} {ratio:8.2f}x  (goal <= {GOAL_IMPORT_RATIO}x: "
        f"{'ok' if ratio <= GOAL_IMPORT_RATIO else 'over'})")
    shutil.rmtree(root)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="labels per project, comma-separated (items are half as many: overlap 2)")
    ap.add_argument("--workdir", type=Path, help="where the projects are made (default: a temporary folder)")
    ap.add_argument("--setup", nargs="+", help=argparse.SUPPRESS)  # a child that makes data
    args = ap.parse_args()
    if args.setup:
        SETUP[args.setup[0]](args.setup[1:])
        return
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",")})
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        print(text, flush=True)

    results: dict[int, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="annotary-scale-", dir=args.workdir) as work:
        for labels in sizes:
            say(f"{labels:,} labels ({labels // OVERLAP:,} items, {ANNOTATORS} annotators, overlap {OVERLAP}):")
            results[labels] = one_size(labels, Path(work), say)
    report(results, say)


def report(results: dict[int, dict[str, tuple[float, float]]], say) -> None:
    sizes = sorted(results)
    steps = list(results[sizes[0]])
    say("")
    head = "".join(f"{f'{n:,}':>22}" for n in sizes)
    say(f"{'step (labels)':<24}{head}   growth")
    for name in steps:
        cells = "".join(f"{results[n][name][0]:9.2f} s {results[n][name][1]:6.0f} MiB" for n in sizes)
        grow = [math.log(results[b][name][0] / results[a][name][0]) / math.log(b / a)
                for a, b in zip(sizes, sizes[1:], strict=False) if results[a][name][0] > 0]
        say(f"{name:<24}{cells}   {' '.join(f'{g:.2f}' for g in grow)}")
    big = sizes[-1]
    say("")
    say(f"goals at 1,000,000 labels (shown for {big:,}):")
    for name, goal in GOALS_S.items():
        seconds = results[big][name][0]
        say(f"  {name:<24} {seconds:8.2f} s  goal <= {goal:.0f} s: {'ok' if seconds <= goal else 'over'}")
    for name in steps:
        if name in ("import", "import baseline", "tasks build"):
            continue
        peak = results[big][name][1]
        say(f"  {name:<24} {peak:8.0f} MiB  goal <= {GOAL_RSS_MB} MiB: {'ok' if peak <= GOAL_RSS_MB else 'over'}")
    ratio = results[big]["import"][0] / results[big]["import baseline"][0]
    say(f"  {'import / baseline':<24} {ratio:8.2f}x  goal <= {GOAL_IMPORT_RATIO}x: "
        f"{'ok' if ratio <= GOAL_IMPORT_RATIO else 'over'}")


if __name__ == "__main__":
    main()
