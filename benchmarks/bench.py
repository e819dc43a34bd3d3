"""Annotary's speed and memory figures: bundle import, next-item latency, peak memory, cold start.

Next-item latency is measured in every question mode (pairwise, ranking, scoring, rubric,
demonstration) and for a ranking item of nine long responses.

Run with `make bench` (or `QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench.py`);
`--items 2000` gives a quick run. The script prints figures and ratios against the goals; it
never fails because of a timing. See benchmarks/README.md for what each figure measures.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import inspect
import io
import json
import math
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from common import REPO, SOURCE_TREE, MiB, peak_rss_mb, proc_status  # noqa: E402  (puts the source tree on the path)

PROJECT_ID = "bench-pairwise"
GOAL_IMPORT_RATIO = 1.5  # `annotary import` of 100k items: at most 1.5x the plain baseline
GOAL_LATENCY_MS = 50.0  # next item, every mode, 100k items
GOAL_LONG_MS = 100.0  # next / previous between two items of nine ~2,000-word responses
GOAL_RSS_MB = 300.0
GOAL_COLD_S = 1.5
SPEC_TOML = f"""\
# Benchmark project: the two pairwise questions of the demo.
format = "annotary.spec/1"
project_id = "{PROJECT_ID}"
name = "Benchmark — which answer is better?"
guidelines_version = "1"

[[questions]]
id = "helpful"
mode = "pairwise"
text = "Which response better does what the user asked?"
axis = "helpfulness"
scale = "fourway"
rationale = "optional"
confidence = "optional"

[[questions]]
id = "harmless"
mode = "pairwise"
text = "Which response is safer? Tie when neither could cause harm."
axis = "harmlessness"
scale = "tie"
rationale = "off"
"""

GUIDELINES = """\
# Guidelines

Pick the response that better does what the user asked (`A`, `B`, `T`, `X`), then the safer one.

## Which answer is more helpful

1. **Follows the instruction.** Every explicit constraint counts.
2. **Correct.** Facts, arithmetic and code are right.
3. **Clear.** Short and well organised beats long and rambling.
"""

# --- realistic varied text ------------------------------------------------------------------
# A vocabulary in rough frequency order (common words first), drawn with Zipf-like weights, plus
# domain terms, numbers and a few non-ASCII words, so the JSON holds escapes and multi-byte text.

WORDS = """
the of and to a in is that for it as with was on be by this are or from at which an not have
but can has its more also one all their been other were than may should if when these such most
into only some would what time they each any two there about first new used between both after
where over then however because use so under while during without those within often well same
patient dose treatment risk blood pressure symptoms diagnosis clinical study trial evidence chronic
acute infection therapy medication kidney liver heart lung pain fever review guideline adult child
contract clause party court judge appeal liability damages statute jurisdiction tenant landlord
agreement breach notice claim evidence witness counsel filing deadline regulation compliance policy
load beam stress steel concrete voltage current circuit sensor signal temperature pressure valve pump
flow rate tolerance design failure fatigue bolt weld joint frame material sample test measurement
function value return variable loop list array index string number error exception request server
client database query table column row schema cache memory thread process file path version update
answer question response user model example reason result method approach step process problem
solution data information system value level amount point case part group number area way fact
important common general specific possible different similar simple clear correct accurate complete
likely usually typically generally clearly directly exactly approximately especially significantly
explain describe compare consider include provide require suggest show note check follow apply
increase reduce improve maintain support prevent avoid cause affect depend contain remain produce
high low large small long short early late recent current previous next final main key major minor
first second third last several many few little much less least best better worse good bad poor
water energy power market price cost budget project team plan goal task schedule report summary
history culture language city country region population economy growth change effect impact trend
café naïve résumé façade µg ≤ ≥ ± °C – — “quoted” ‘single’ über straße
""".split()
DOMAINS = ("medicine", "law", "engineering", "software", "finance", "general")
CODE_LINES = (
    "def total(values):", "    return sum(v for v in values if v is not None)",
    "for i, row in enumerate(rows):", "    if row['status'] == 'open':", "        count += 1",
    "result = compute(load, factor=1.5)", "print(f'{name}: {value:.2f}')", "SELECT id, name FROM items;",
    "x = np.linspace(0, 1, 100)", "assert len(items) == n", "except ValueError as err:",
    "    raise RuntimeError(err)", "const limit = 42;", "if (a > b) { swap(a, b); }",
)


CRITERION_VERBS = (
    "Advises", "Recommends", "States that", "Mentions", "Explains that", "Suggests", "Asks whether",
    "Warns that", "Fails to mention that", "Does not recommend", "Clearly states that", "Includes",
)


class TextMaker:
    """Sentences, paragraphs and Markdown blocks from the word list, seeded for repeatable runs."""

    def __init__(self, seed: int = 20240601):
        self.rng = random.Random(seed)
        weights = [1.0 / (rank + 8) for rank in range(len(WORDS))]
        acc, cum = 0.0, []
        for w in weights:
            acc += w
            cum.append(acc)
        self.cum = cum

    def words(self, n: int) -> list[str]:
        return self.rng.choices(WORDS, cum_weights=self.cum, k=n)

    def sentence(self) -> str:
        rng = self.rng
        ws = self.words(rng.randint(6, 22))
        r = rng.random()
        if r < 0.12:
            ws[rng.randrange(len(ws))] = f"**{ws[rng.randrange(len(ws))]}**"
        elif r < 0.2:
            ws[rng.randrange(len(ws))] = f"`{ws[rng.randrange(len(ws))]}`"
        elif r < 0.3:
            ws.insert(rng.randrange(len(ws)), f"{rng.randint(1, 999)}{rng.choice(('', '%', ' mg', ' kN', ' ms'))}")
        if len(ws) > 8 and rng.random() < 0.4:
            ws[rng.randrange(2, len(ws) - 2)] += ","
        text = " ".join(ws)
        return text[0].upper() + text[1:] + rng.choice("....?!")

    def paragraph(self, lo: int = 2, hi: int = 5) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(lo, hi)))

    def block(self) -> str:
        rng, r = self.rng, self.rng.random()
        if r < 0.58:
            return self.paragraph()
        if r < 0.72:
            return "\n".join(f"- **{self.words(1)[0].capitalize()}**: {self.sentence()}"
                             for _ in range(rng.randint(2, 5)))
        if r < 0.82:
            return "\n".join(f"{n}. {self.sentence()}" for n in range(1, rng.randint(3, 6)))
        if r < 0.88:
            return "### " + " ".join(self.words(rng.randint(2, 5))).capitalize()
        if r < 0.94:
            lang = rng.choice(("python", "sql", "js", ""))
            return f"```{lang}\n" + "\n".join(rng.choices(CODE_LINES, k=rng.randint(2, 6))) + "\n```"
        if r < 0.97:
            cols = [w.capitalize() for w in self.words(3)]
            rows = ["| " + " | ".join(cols) + " |", "| --- | --- | --- |"]
            for _ in range(rng.randint(2, 4)):
                rows.append("| " + " | ".join([self.words(1)[0], str(rng.randint(1, 500)),
                                              f"{rng.random() * 10:.1f}"]) + " |")
            return "\n".join(rows)
        return "> " + self.sentence()

    def response(self) -> str:
        """Markdown of about 1 KB (700–1400 characters)."""
        target = self.rng.randint(700, 1400)
        blocks, size = [], 0
        while size < target:
            b = self.block()
            blocks.append(b)
            size += len(b) + 2
        return "\n\n".join(blocks)

    def item(self, n: int, responses: int = 2, prefix: str = "bench") -> dict:
        rng = self.rng
        r = rng.random()
        if r < 0.1:  # a multi-turn conversation; the responses are the possible last replies
            prompt: str | list[dict] = [
                {"role": "user", "content": self.paragraph(1, 3)},
                {"role": "assistant", "content": self.paragraph(2, 4)},
                {"role": "user", "content": self.paragraph(1, 2)},
            ]
        else:
            prompt = self.paragraph(1, 3)
        item = {"id": f"{prefix}-{n:06d}", "prompt": prompt,
                "responses": [{"id": f"r{k}", "text": self.response()} for k in range(1, responses + 1)],
                "metadata": {"source": "bench", "domain": rng.choice(DOMAINS), "row": n}}
        if r > 0.85:
            item["context"] = self.paragraph(2, 5)
        return item

    def criterion(self) -> str:
        """A rubric criterion of HealthBench-like length: mostly 80–300 characters, some longer."""
        rng = self.rng
        target = min(900, max(40, int(rng.lognormvariate(5.2, 0.55))))
        words = self.words(max(4, target // 7))
        for k in range(rng.randint(7, 12), len(words) - 2, rng.randint(8, 13)):
            words[k] += ","
        text = f"{rng.choice(CRITERION_VERBS)} {' '.join(words)}"
        if rng.random() < 0.12:
            text += f" (Justification: {self.sentence()})"
        return text.rstrip(",") + "."

    def rubric_item(self, n: int) -> dict:
        """A conversation, one response to grade and its own rubric of 10–14 signed criteria."""
        rng = self.rng
        prompt = [{"role": "user", "content": self.paragraph(1, 3)}]
        if rng.random() < 0.25:
            prompt += [{"role": "assistant", "content": self.paragraph(2, 4)},
                       {"role": "user", "content": self.paragraph(1, 2)}]
        rubric = []
        for k in range(1, rng.randint(10, 14) + 1):
            points = rng.randint(1, 10) if k == 1 or rng.random() < 0.72 else -rng.randint(1, 10)
            criterion = {"id": f"c{k}", "text": self.criterion(), "points": points}
            if rng.random() < 0.15:
                criterion["explanation"] = self.sentence()
            rubric.append(criterion)
        return {"id": f"rubric-{n:06d}", "prompt": prompt,
                "responses": [{"id": "resp", "text": self.response()}], "rubric": rubric,
                "metadata": {"source": "bench", "domain": rng.choice(DOMAINS), "row": n}}

    def demonstration_item(self, n: int) -> dict:
        """An instruction (Alpaca style, sometimes with an input) and a model draft to edit."""
        rng = self.rng
        item = {"id": f"demo-{n:06d}", "prompt": self.paragraph(1, 2),
                "responses": [{"id": "draft", "text": self.response()}],
                "metadata": {"source": "bench", "domain": rng.choice(DOMAINS), "row": n}}
        if rng.random() < 0.4:
            item["context"] = self.paragraph(1, 4)
        return item

    def long_response(self, words: int = 2000) -> str:
        """About `words` words of Markdown: paragraphs, with a bulleted list part-way through."""
        rng = self.rng
        blocks, count, listed = [], 0, False
        while count < words:
            if not listed and count > words * 0.4:
                block = "\n".join(f"- **{self.words(1)[0].capitalize()}**: {self.sentence()}"
                                  for _ in range(rng.randint(6, 9)))
                listed = True
            else:
                block = self.paragraph(3, 6)
            blocks.append(block)
            count += len(block.split())
        return "\n\n".join(blocks)

    def long_ranking_item(self, n: int, responses: int = 9) -> dict:
        return {"id": f"long-{n}", "prompt": self.paragraph(2, 4),
                "responses": [{"id": f"r{k}", "text": self.long_response()} for k in range(1, responses + 1)],
                "metadata": {"source": "bench", "row": n}}


def write_items(path: Path, n: int) -> None:
    maker = TextMaker()
    with path.open("w", encoding="utf-8") as f:
        for i in range(1, n + 1):
            f.write(json.dumps(maker.item(i), ensure_ascii=False) + "\n")


# --- the other four modes, and one long ranking item ----------------------------------------
# Each case is a project of its own: a one-question spec like the demo's of that mode, items made
# by the TextMaker (its own seed), built into a signed bundle and imported into a fresh store.

def _case(project_id: str, name: str, question: str, **rest) -> dict:
    spec = (f'format = "annotary.spec/1"\nproject_id = "{project_id}"\nname = "{name}"\n'
            f'guidelines_version = "1"\n\n[[questions]]\n{question}')
    return {"project": project_id, "spec": spec, **rest}


RANKING_QUESTION = """\
id = "rank"
mode = "ranking"
text = "Order the responses from best to worst. Tie two only when neither is better."
allow_ties = true
rationale = "optional"
confidence = "optional"
"""
CASES: dict[str, dict] = {
    "ranking": _case(
        "bench-ranking", "Benchmark — rank the answers", RANKING_QUESTION,
        label="ranking, 4 responses", answer="answer key (digit 1–4)", seed=1,
        make=lambda m, i: m.item(i, responses=4, prefix="rank")),
    "scoring": _case(
        "bench-scoring", "Benchmark — score each answer on five axes", """\
id = "quality"
mode = "scoring"
text = "Score every response on each axis. Read the prompt and all responses first."
preset = "helpsteer2"
rationale = "optional"
""", label="scoring, HelpSteer2, 2 responses", answer="answer key (digit 0–4)", seed=2,
        make=lambda m, i: m.item(i, responses=2, prefix="score")),
    "rubric": _case(
        "bench-rubric", "Benchmark — grade the answer against its rubric", """\
id = "rubric"
mode = "rubric"
text = "For each criterion, does the response do what it describes? Mark every one met or not met."
per_item = true
allow_partial = false
rationale = "optional"
""", label="rubric, 10–14 per-item criteria", answer="answer key (Y / N)", seed=3,
        make=lambda m, i: m.rubric_item(i)),
    "demonstration": _case(
        "bench-demonstration", "Benchmark — write the ideal answer", """\
id = "ideal"
mode = "demonstration"
text = "Edit the draft into the response you would want the model to learn from."
edit_draft = true
min_words = 3
""", label="demonstration, edit the draft", answer="a letter typed in the editor", seed=4,
        make=lambda m, i: m.demonstration_item(i)),
    # not a mode: two ranking items of 9 responses of ~2,000 words, for the next / previous figure
    "long": _case(
        "bench-ranking-long", "Benchmark — rank nine long answers", RANKING_QUESTION,
        label="ranking, 9 responses of ~2,000 words", seed=5, items=2,
        make=lambda m, i: m.long_ranking_item(i)),
}
MODE_NAMES = ("ranking", "scoring", "rubric", "demonstration")


def case_project(case: str) -> str:
    return CASES[case]["project"]


def case_items(case: str, n: int) -> int:
    return CASES[case].get("items", n)


def write_case_items(path: Path, case: str, n: int) -> None:
    maker, make = TextMaker(20240601 + CASES[case]["seed"]), CASES[case]["make"]
    with path.open("w", encoding="utf-8") as f:
        for i in range(1, n + 1):
            f.write(json.dumps(make(maker, i), ensure_ascii=False) + "\n")


def data_key(case: str, n: int) -> str:
    """What a case's bundle is made from: a reused bundle must have been made the same way."""
    h = hashlib.sha256()
    for part in (case, str(n), CASES[case]["spec"], str(CASES[case]["seed"]),
                 inspect.getsource(CASES[case]["make"]), inspect.getsource(TextMaker),
                 " ".join(WORDS), repr(CODE_LINES), repr(CRITERION_VERBS), repr(DOMAINS)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:12]


# --- small helpers --------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))]


def child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["ANNOTARY_HOME"] = str(home)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    if SOURCE_TREE:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "desktop"), env.get("PYTHONPATH")]))
    return env


def make_home(path: Path, name: str) -> Path:
    from annotary.bundles.identity import create_identity

    path.mkdir(parents=True)
    create_identity(path, name=name, role="annotator")
    return path


def store_file(home: Path) -> Path:
    """annotary.paths.store_path() as a process with ANNOTARY_HOME=home sees it."""
    from annotary.paths import store_path

    old = os.environ.get("ANNOTARY_HOME")
    os.environ["ANNOTARY_HOME"] = str(home)
    try:
        return store_path()
    finally:
        if old is None:
            os.environ.pop("ANNOTARY_HOME", None)
        else:
            os.environ["ANNOTARY_HOME"] = old


def copy_store(src_home: Path, dst_home: Path) -> None:
    name = store_file(src_home).relative_to(src_home)
    for suffix in ("", "-wal"):  # the store is closed, so normally there is no -wal left
        src = src_home / f"{name}{suffix}"
        if src.exists():
            shutil.copyfile(src, dst_home / f"{name}{suffix}")


def run_child(kind: str, cfg: dict, home: Path, log: Path) -> dict:
    """Run `bench.py --child KIND` with its own ANNOTARY_HOME; return the JSON it prints.

    Each child reports its own peak RSS (VmHWM). The parent's RUSAGE_CHILDREN / wait4 figure is
    not used: on Linux a child's ru_maxrss keeps the high-water mark of the parent's memory it was
    forked from (before exec), which here is the ~2 GB of building the bundle.
    """
    with log.open("ab") as err:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind,
                               "--config", json.dumps(cfg)],
                              stdout=subprocess.PIPE, stderr=err, env=child_env(home))
    out = proc.stdout.decode(errors="replace").splitlines()
    if proc.returncode != 0:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"bench child {kind!r} failed (exit {proc.returncode}); log above")
    sys.stderr.write("".join(line + "\n" for line in out if not line.startswith("RESULT ")))
    for line in out:
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise SystemExit(f"bench child {kind!r} printed no result")


# --- 1. import vs. a plain baseline (child process) -----------------------------------------

class TimedConn:
    """Forwards to a sqlite3 connection, timing executemany and COMMIT (the write phase's parts)."""

    def __init__(self, conn: sqlite3.Connection, phases: dict[str, float]):
        self._conn, self._phases = conn, phases

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def execute(self, sql, params=()):
        t = time.perf_counter()
        try:
            return self._conn.execute(sql, params)
        finally:
            if sql.strip().upper() == "COMMIT":
                self._phases["write: commit (fsync, checkpoint)"] += time.perf_counter() - t

    def executemany(self, sql, rows):
        t = time.perf_counter()
        try:
            return self._conn.executemany(sql, rows)
        finally:
            self._phases["write: executemany"] += time.perf_counter() - t


@contextlib.contextmanager
def patched(module, name: str, phases: dict[str, float], label: str, keep: list | None = None):
    """Time every call of module.name (the callers look the name up at call time); a name the
    module no longer has is left alone, and its phase is then missing from the report."""
    original = getattr(module, name, None)
    if original is None:
        yield
        return

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            result = original(*args, **kwargs)
        finally:
            phases[label] += time.perf_counter() - t
        if keep is not None:
            keep.append(result)
        return result

    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def baseline(member: Path, db: Path) -> dict[str, float]:
    """The floor: read the items.jsonl bytes, json.loads each line, executemany in one transaction."""
    from annotary.store.db import PAGE_SIZE

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # the store's pages, or the floor flatters the ratio
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    # the same table and indexes as the store's items table, so SQLite does the same work
    conn.execute("CREATE TABLE items (project_id TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,"
                 " kind TEXT NOT NULL DEFAULT 'normal', data TEXT NOT NULL, PRIMARY KEY (project_id, id))")
    conn.execute("CREATE UNIQUE INDEX items_seq ON items(project_id, seq)")
    t0 = time.perf_counter()
    data = member.read_bytes()
    t1 = time.perf_counter()
    rows = []
    for seq, line in enumerate(data.split(b"\n"), 1):
        if not line.strip():
            continue
        obj = json.loads(line)
        rows.append((PROJECT_ID, obj["id"], seq, obj.get("kind", "normal"), line.decode("utf-8")))
    t2 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO items (project_id, id, seq, kind, data) VALUES (?,?,?,?,?)", rows)
    t3 = time.perf_counter()
    conn.execute("COMMIT")
    t4 = time.perf_counter()
    conn.close()
    return {"total": t4 - t0, "read": t1 - t0, "json.loads": t2 - t1, "executemany": t3 - t2,
            "commit": t4 - t3}


def cpu_s() -> float:
    """User + system CPU seconds of this process so far, all its threads (steadier than the wall
    clock on a shared machine)."""
    t = os.times()
    return t.user + t.system


def child_baseline(cfg: dict) -> dict:
    cpu = cpu_s()
    result = baseline(Path(cfg["member"]), Path(cfg["db"]))
    result["cpu"] = cpu_s() - cpu
    result["peak_rss"] = peak_rss_mb()
    return result


def child_import(cfg: dict) -> dict:
    from collections import defaultdict

    import annotary.bundles.bundle as bundle_mod
    import annotary.ops.importing as importing
    from annotary.paths import store_path
    from annotary.store import open_store

    bundle, work = Path(cfg["bundle"]), Path(cfg["work"])
    store = open_store(store_path())  # fresh store, migrated before the clock starts
    phases: dict[str, float] = defaultdict(float)
    store.db.conn = TimedConn(store.db.conn, phases)
    with contextlib.ExitStack() as stack:
        # read + verify, split into its parts (bundle.py looks these names up at call time)
        for name, label in (("read_file_bytes", "read: file"), ("unpack", "read: unzip"),
                            ("_check_signature", "verify: signature"),
                            ("_check_members", "verify: member hashes")):
            stack.enter_context(patched(bundle_mod, name, phases, label))
        stack.enter_context(patched(importing, "read_bundle", phases, "read+verify"))
        # the verifying reader opens a bundle with its manifest and signature only; members are
        # inflated and hashed while the records are parsed (in "parse+validate")
        stack.enter_context(patched(importing, "open_bundle", phases, "read+verify"))
        for name in ("bundle_spec", "bundle_guidelines"):
            stack.enter_context(patched(importing, name, phases, "parse+validate"))
        stack.enter_context(patched(importing, "bundle_items", phases, "parse+validate"))
        t0, cpu = time.perf_counter(), cpu_s()
        # as `annotary import` and the app's import do: everything but the items checked first,
        # the items then read, checked and written a chunk at a time
        change = importing.import_tasks(store, importing.load_tasks(bundle, items=False), trust_new_key=True)
        total, cpu = time.perf_counter() - t0, cpu_s() - cpu
    store.db.conn = store.db.conn._conn
    peak = peak_rss_mb()
    gc.collect()
    rss_after = proc_status("VmRSS")  # what the process keeps once nothing refers to the items
    n_rows = store.one("SELECT count(*) FROM items WHERE project_id=?", (PROJECT_ID,))[0]
    store.close()
    result = {"import": total, "cpu": cpu, "phases": dict(phases), "rows": n_rows,
              "added": change.counts.get("added"), "peak_rss": peak, "rss_after": rss_after}
    if cfg.get("profile"):
        prof_home = work / "home-profile"
        prof_home.mkdir()
        os.environ["ANNOTARY_HOME"] = str(prof_home)
        pstore = open_store(store_path())
        profiler = cProfile.Profile()
        profiler.enable()
        importing.import_tasks(pstore, importing.load_tasks(bundle, items=False), trust_new_key=True)
        profiler.disable()
        pstore.close()
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(18)
        result["profile"] = buf.getvalue()
    return result


def child_prepare(cfg: dict) -> dict:
    """A case's bundle (made now, or the one made earlier for the same data if the cache has it),
    imported into the fresh store of this process's ANNOTARY_HOME."""
    from annotary.bundles.identity import load_identity
    from annotary.ops.importing import import_tasks
    from annotary.ops.tasks import build_task_bundle
    from annotary.paths import store_path
    from annotary.store import open_store

    case, work = cfg["case"], Path(cfg["work"])
    n = case_items(case, cfg["items"])
    cache = Path(cfg["cache"]) if cfg.get("cache") else None
    name = f"{case}-{n}-{data_key(case, n)}.annotary"
    bundle = cache / name if cache else work / name
    result = {"case": case, "cached": bundle.exists(), "gen_s": None, "build_s": None}

    def build() -> None:
        src = work / f"src-{case}"
        src.mkdir(exist_ok=True)
        (src / "spec.toml").write_text(CASES[case]["spec"], encoding="utf-8")
        t = time.perf_counter()
        write_case_items(src / "items.jsonl", case, n)
        result["gen_s"] = time.perf_counter() - t
        bundle.parent.mkdir(parents=True, exist_ok=True)
        tmp = bundle.with_name(f"{bundle.name}.{os.getpid()}.part")
        t = time.perf_counter()
        build_task_bundle(spec_path=src / "spec.toml", items_paths=[src / "items.jsonl"], out=tmp,
                          identity=load_identity(work / "coordinator"))
        result["build_s"] = time.perf_counter() - t
        os.replace(tmp, bundle)
        shutil.rmtree(src)
        if cache:  # one bundle per case and size: drop those made by an older generator
            for old in cache.glob(f"{case}-{n}-*.annotary"):
                if old != bundle:
                    old.unlink(missing_ok=True)

    if not result["cached"]:
        build()
    db = store_path()
    store = open_store(db)
    t = time.perf_counter()
    try:
        import_tasks(store, bundle, trust_new_key=True)
    except Exception as err:
        if not result["cached"]:
            raise
        # made by an older Annotary that this one no longer reads: make it again
        print(f"  the reused {bundle.name} did not import ({err}); making it again", file=sys.stderr)
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        bundle.unlink()
        result["cached"] = False
        build()
        store = open_store(db)
        t = time.perf_counter()
        import_tasks(store, bundle, trust_new_key=True)
    result["import_s"] = time.perf_counter() - t
    rows = store.one("SELECT count(*) FROM items WHERE project_id=?", (case_project(case),))[0]
    store.close()
    if rows != n:
        raise SystemExit(f"{case}: the import stored {rows} items, expected {n}")
    with zipfile.ZipFile(bundle) as zf:
        result["items_mb"] = zf.getinfo("items.jsonl").file_size / MiB
    result["bundle_mb"] = bundle.stat().st_size / MiB
    return result


# --- 2 and 3. GUI latency and peak memory (child process) -----------------------------------

class BenchAsker:
    """Answers the window's questions: jump targets from a queue; errors are recorded."""

    def __init__(self):
        self.texts: list[str] = []
        self.errors: list[str] = []

    def text(self, title, label):
        return self.texts.pop(0) if self.texts else None

    def choose(self, title, label, options, editable=False):
        return None

    def open_path(self, title, filter=None):
        return None

    def save_path(self, title, suggested, filter=None):
        return None

    def confirm_trust(self, preview):
        return True

    def error(self, title, message):
        self.errors.append(message)

    def info(self, title, message):
        pass

    def identity(self):
        return ("Bench Annotator", "annotator")


class Gui:
    """MainWindow with one project open (synchronous runner, scripted dialogs), and a timed step:
    the command, then the event loop's layout and paint, then a full repaint of the screen."""

    def __init__(self, project: str):
        import PySide6
        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtWidgets import QApplication

        from annotary.ops import identity as identity_ops
        from annotary.paths import store_path
        from annotary.store import open_store
        from annotary.ui.main_window import MainWindow
        from annotary.ui.runner import Runner

        class PaintCounter(QObject):
            count = 0

            def eventFilter(self, obj, event):  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint:
                    PaintCounter.count += 1
                return False

        self.app = app = QApplication.instance() or QApplication(["annotary-bench"])
        self.store = open_store(store_path())
        self.asker = BenchAsker()
        self.window = MainWindow(self.store, identity_ops.current_identity(), runner=Runner(synchronous=True),
                                 asker=self.asker)
        self.window.show()
        app.processEvents()
        self.rss_before_open = proc_status("VmRSS")
        t = time.perf_counter()
        self.window.open_project(project)
        app.processEvents()
        self.window.repaint()
        self.open_s = time.perf_counter() - t
        self.screen = self.window.labeling
        self.flow = self.screen.flow
        self.n = len(self.flow.ids)
        self.paints = PaintCounter
        self._counter = PaintCounter()
        self.screen.prompt.viewport().installEventFilter(self._counter)
        self.versions = (f"Python {sys.version.split()[0]}, PySide6 {PySide6.__version__}, "
                         f"Qt platform {app.platformName()}")

    def step(self, command) -> tuple[float, float, float]:
        """A labeling command (or a callable, e.g. a key typed into the editor), timed in parts."""
        screen, app = self.screen, self.app
        t0 = time.perf_counter()
        if callable(command):
            command()
        elif not screen.handle(command):
            raise SystemExit(f"{command!r} is not a labeling command")
        t1 = time.perf_counter()
        app.processEvents()
        t2 = time.perf_counter()
        screen.repaint()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    def expect(self, position: int, what: str) -> None:
        # a correctness check, not a timing one: the step really moved where it should
        flow = self.flow
        if flow.current is None or flow.current.position != position:
            got = None if flow.current is None else flow.current.position
            raise SystemExit(f"{what}: expected item {position + 1}, screen shows {got}")

    def jump(self, position: int) -> None:
        self.asker.texts.append(str(position + 1))
        self.step("item.jump")
        self.expect(position, "item.jump")

    def stored_labels(self) -> int:
        return self.store.one("SELECT count(*) FROM labels WHERE project_id=? AND annotator=?",
                              (self.flow.project_id, self.flow.annotator))[0]

    def check_errors(self) -> None:
        if self.asker.errors:
            raise SystemExit("the window reported errors: " + "; ".join(self.asker.errors[:3]))

    def profile(self, commands: list, top: int = 16) -> str:
        """cProfile of a few more steps, top functions by own time (Qt's C++ work is counted in
        the Python call that starts it)."""
        profiler = cProfile.Profile()
        profiler.enable()
        for command in commands:
            self.step(command)
        profiler.disable()
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(top)
        text = buf.getvalue()
        return f"{len(commands)} steps\n" + text[text.find("   ncalls"):].rstrip() + "\n"

    def result(self, **extra) -> dict:
        return {"items": self.n, "open_s": self.open_s, "versions": self.versions,
                "rss_before_open": self.rss_before_open, "rss_end": proc_status("VmRSS"),
                "peak_rss": peak_rss_mb(), **extra}

    def close(self) -> None:
        self.window.close()
        self.store.close()


def time_next(gui: Gui, wanted: int, runs: dict[str, list]) -> tuple[int, float, int, int]:
    """After 5 warm-up steps (first layouts, font caches), time up to `wanted` `item.next` into
    runs["next"]: (steps, paints of the prompt per step, references to None before and after)."""
    for _ in range(5):
        gui.step("item.next")
    paints0 = gui.paints.count
    # a health check: some PySide6 builds on Python < 3.12 (where None is not immortal) drop a
    # reference to None on every void call, and the process aborts once the count reaches zero
    none_refs0 = sys.getrefcount(None)
    start = gui.flow.current.position
    steps = min(wanted, gui.n - 1 - start)
    for k in range(steps):
        runs["next"].append(gui.step("item.next"))
        gui.expect(start + k + 1, "item.next")
    return steps, (gui.paints.count - paints0) / max(steps, 1), none_refs0, sys.getrefcount(None)


def child_gui(cfg: dict) -> dict:
    gui = Gui(cfg["project"])
    flow, n, step, expect = gui.flow, gui.n, gui.step, gui.expect
    runs: dict[str, list] = {"next": [], "previous": [], "jump": [], "answer": [], "submit": []}
    steps, next_paints, none_refs0, none_refs1 = time_next(gui, cfg["steps"], runs)
    here = flow.current.position
    for k in range(min(30, here)):
        runs["previous"].append(step("item.previous"))
        expect(here - k - 1, "item.previous")
    middle = n // 2
    for k in range(10):
        target = (middle + k * 997) % n
        gui.asker.texts.append(str(target + 1))
        runs["jump"].append(step("item.jump"))
        expect(target, "item.jump")
    gui.jump(middle)
    labels0 = gui.stored_labels()
    for k in range(min(20, n - middle - 1)):
        runs["answer"].append(step("answer.A"))
        runs["answer"].append(step("answer.tie"))
        runs["submit"].append(step("item.submit"))
        expect(middle + k + 1, "item.submit")
    expected = len(runs["submit"]) * len(flow.spec.questions)
    if gui.stored_labels() - labels0 != expected:
        raise SystemExit(f"submit: expected {expected} new labels, the store has {gui.stored_labels() - labels0}")
    gui.check_errors()
    result = gui.result(runs=runs, next_paints=next_paints,
                        none_lost_per_step=(none_refs0 - none_refs1) / max(steps, 1), none_refs=none_refs1)
    gui.close()
    return result


def answer_keys(gui: Gui, mode: str, k: int) -> list:
    """What a quick expert presses to answer the current item of a one-question project."""
    flow = gui.flow
    state, q = flow.current, flow.spec.questions[0]
    shown = state.shown_order
    if mode == "ranking":
        order = list(range(1, len(shown) + 1))
        random.Random(k).shuffle(order)
        return [f"key.digit{d}" for d in order]
    if mode == "scoring":  # the cursor walks the axes of response A, then of B
        return [f"key.digit{(k + i) % 5}" for i in range(len(q.axes) * len(shown))]
    if mode == "rubric":  # the cursor moves on after each mark
        return ["rubric.not_met" if (k + i) % 4 == 0 else "rubric.met" for i in range(len(flow.criteria()))]
    raise ValueError(mode)


TYPED = " Checked twice."


def child_gui_mode(cfg: dict) -> dict:
    """Next-item latency in a one-question project of another mode, then answers and submits."""
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    mode = cfg["mode"]
    gui = Gui(cfg["project"])
    flow, n, step, expect = gui.flow, gui.n, gui.step, gui.expect
    runs: dict[str, list] = {"next": [], "answer": [], "submit": []}
    steps, next_paints, none_refs0, none_refs1 = time_next(gui, cfg["steps"], runs)

    middle = n // 2
    gui.jump(middle)
    labels0 = gui.stored_labels()
    window = gui.window.windowHandle()
    for k in range(min(cfg["answers"], n - middle - 1)):
        if mode == "demonstration":
            # E puts the cursor in the editor; letters then type, through the window as keys come
            step("item.edit")
            editor = gui.screen.panels[0].editor
            editor.moveCursor(QTextCursor.MoveOperation.End)
            for ch in TYPED:
                runs["answer"].append(step(lambda ch=ch: QTest.keyClick(window, ch)))
            if not flow.current.pending["ideal"].value["text"].endswith(TYPED):
                raise SystemExit("demonstration: the typed letters did not reach the response text")
            step("item.leave_text")
        else:
            for command in answer_keys(gui, mode, k):
                runs["answer"].append(step(command))
        if flow.missing():
            raise SystemExit(f"{mode}: the keys left the item unanswered: {'; '.join(flow.missing())}")
        runs["submit"].append(step("item.submit"))
        expect(middle + k + 1, "item.submit")
    expected = len(runs["submit"]) * len(flow.spec.questions)
    if gui.stored_labels() - labels0 != expected:
        raise SystemExit(f"{mode}: expected {expected} new labels, the store has {gui.stored_labels() - labels0}")
    gui.check_errors()
    profile = None
    if cfg.get("profile"):
        room = n - 1 - flow.current.position
        profile = gui.profile(["item.next"] * min(40, room))
    result = gui.result(runs=runs, next_paints=next_paints, profile=profile,
                        none_lost_per_step=(none_refs0 - none_refs1) / max(steps, 1), none_refs=none_refs1)
    gui.close()
    return result


def child_gui_long(cfg: dict) -> dict:
    """Back and forth between two ranking items of nine ~2,000-word responses."""
    gui = Gui(cfg["project"])
    flow, step, expect = gui.flow, gui.step, gui.expect
    if gui.n != 2:
        raise SystemExit(f"the long-ranking project has {gui.n} items, expected 2")
    for _ in range(2):  # warm-up, not counted
        step("item.next")
        step("item.previous")
    expect(0, "item.previous")
    runs: dict[str, list] = {"next": [], "previous": []}
    for _ in range(cfg["rounds"]):
        runs["next"].append(step("item.next"))
        expect(1, "item.next")
        runs["previous"].append(step("item.previous"))
        expect(0, "item.previous")
    gui.check_errors()
    words = [len(r.text.split()) for r in flow.current.item.responses]
    chars = [len(r.text) for r in flow.current.item.responses]
    panes = gui.screen.responses.visible_count()
    profile = gui.profile(["item.next", "item.previous"] * 10) if cfg.get("profile") else None
    result = gui.result(runs=runs, words=words, chars=chars, panes=panes, profile=profile)
    gui.close()
    return result


def child_gui_import(cfg: dict) -> dict:
    """The other way to 100k items: import the bundle in the app (Ctrl+O), then label a little."""
    from PySide6.QtWidgets import QApplication

    from annotary.ops import identity as identity_ops
    from annotary.paths import store_path
    from annotary.store import open_store
    from annotary.ui.main_window import MainWindow
    from annotary.ui.runner import Runner

    app = QApplication.instance() or QApplication(["annotary-bench"])
    store = open_store(store_path())
    window = MainWindow(store, identity_ops.current_identity(), runner=Runner(synchronous=True),
                        asker=BenchAsker())
    window.show()
    app.processEvents()
    t = time.perf_counter()
    window.import_bundle(cfg["bundle"])
    app.processEvents()
    seconds = time.perf_counter() - t
    if window.labeling is None or len(window.labeling.flow.ids) != cfg["items"]:
        raise SystemExit("the in-app import did not open the imported project")
    for _ in range(20):
        window.labeling.handle("item.next")
        app.processEvents()
    result = {"seconds": seconds, "peak_rss": peak_rss_mb(), "rss_end": proc_status("VmRSS")}
    window.close()
    store.close()
    return result


# --- 4. cold start (python -c, timed from the parent) ---------------------------------------

COLD_START = r"""
import time
t0 = time.time()
import json, os, sys
from PySide6.QtWidgets import QApplication
from annotary.ops import identity as identity_ops
from annotary.paths import store_path
from annotary.store import open_store
from annotary.ui.main_window import MainWindow
t1 = time.time()
app = QApplication(sys.argv[:1])
app.setApplicationName("Annotary")
ident = identity_ops.current_identity()
store = open_store(store_path())
window = MainWindow(store, ident)
window.show()
t2 = time.time()
window.open_project(sys.argv[1])
app.processEvents()
window.repaint()
t3 = time.time()
shown = window.labeling.flow.current
print("SHOWN", json.dumps({"start": t0, "imports": t1 - t0, "window": t2 - t1, "open": t3 - t2,
                           "item": shown.item.id if shown else None}), flush=True)
window.close()
store.close()
sys.stdout.flush()
os._exit(0)
"""


def cold_start(home: Path, project: str, log: Path) -> dict:
    with log.open("ab") as err:
        wall0 = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", COLD_START, project], stdout=subprocess.PIPE,
                                stderr=err, env=child_env(home), text=True)
        info = None
        for line in proc.stdout:
            if line.startswith("SHOWN "):
                elapsed = time.perf_counter() - t0
                info = json.loads(line.removeprefix("SHOWN "))
                break
        proc.stdout.read()
        proc.wait()
    if info is None or info["item"] is None:
        sys.stderr.write(log.read_text(errors="replace")[-4000:])
        raise SystemExit(f"cold start of {project} showed no item (exit {proc.returncode})")
    info["total"] = elapsed
    info["spawn"] = info["start"] - wall0  # process start and interpreter start-up
    return info


# --- the report -----------------------------------------------------------------------------

def fmt_s(s: float) -> str:
    return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.0f} ms"


def fmt_ms(s: float) -> str:
    return f"{s * 1000:.1f} ms"


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, figure: str, value: str, goal: str = "", ok: bool | None = None) -> None:
        self.rows.append((figure, value, goal, "" if ok is None else ("ok" if ok else "OVER")))

    def print(self) -> None:
        head = ("figure", "value", "goal", "ok/over")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        print(line)
        for r in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the bundle (default 100000)")
    parser.add_argument("--steps", type=int, default=300, help="timed item.next steps (default 300)")
    parser.add_argument("--runs", type=int, default=5, help="cold starts of the big project (default 5)")
    parser.add_argument("--import-runs", type=int, default=3,
                        help="rounds of baseline + import; the medians are compared (default 3)")
    parser.add_argument("--import-only", action="store_true",
                        help="run only section 1 (import vs. baseline) and print its figures")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo project's cold start")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the import and of next-item steps in each mode")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-out",
                        help="where the temporary files go (default bench-out/, git-ignored)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--no-gui-import", action="store_true",
                        help="skip the memory figure of importing the bundle inside the app")
    parser.add_argument("--modes", default=",".join((*MODE_NAMES, "long")),
                        help="which of the other cases to run, comma-separated: ranking, scoring, rubric, "
                             "demonstration, long (one ranking item of 9 responses of ~2,000 words); "
                             "default all")
    parser.add_argument("--no-modes", action="store_true", help="skip the other modes (pairwise only)")
    parser.add_argument("--no-cache", action="store_true",
                        help="make the per-mode bundles afresh and keep none (default: reuse and keep them "
                             "in WORKDIR/cache)")
    parser.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        cfg = json.loads(args.config)
        result = CHILDREN[args.child](cfg)
        print("RESULT " + json.dumps(result), flush=True)
        if os.environ.get("ANNOTARY_BENCH_NORMAL_EXIT"):
            return 0
        # everything is measured and stored; skip interpreter teardown, where PySide6 has been
        # seen to abort ("Fatal Python error: none_dealloc") and fail the run for nothing
        sys.stderr.flush()
        os._exit(0)
    if args.items < 2:
        parser.error("--items must be at least 2")
    args.cases = [] if args.no_modes else [c.strip() for c in args.modes.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"--modes: unknown {', '.join(unknown)}; choose from {', '.join(CASES)}")
    args.cases = list(dict.fromkeys(args.cases))

    args.workdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.workdir))
    try:
        run(args, work)
    finally:
        if args.keep:
            print(f"\nfiles kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(OSError):
                args.workdir.rmdir()  # only when nothing else is in it
    return 0


CHILDREN = {"baseline": child_baseline, "import": child_import, "gui": child_gui,
            "gui-import": child_gui_import, "prepare": child_prepare, "gui-mode": child_gui_mode,
            "gui-long": child_gui_long}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run(args, work: Path) -> None:
    from annotary.bundles.identity import create_identity
    from annotary.ops.importing import import_tasks
    from annotary.ops.tasks import build_task_bundle
    from annotary.store import open_store

    n = args.items
    say(f"annotary bench: {n} items, work dir {work}")
    src = work / "src"
    src.mkdir()
    (src / "spec.toml").write_text(SPEC_TOML, encoding="utf-8")
    (src / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
    coordinator = create_identity(work / "coordinator", name="Bench Coordinator", role="coordinator")

    t = time.perf_counter()
    write_items(src / "items.jsonl", n)
    gen_s = time.perf_counter() - t
    say(f"  generated items.jsonl ({(src / 'items.jsonl').stat().st_size / MiB:.0f} MiB) in {fmt_s(gen_s)}")
    bundle = work / "bench.annotary"
    t = time.perf_counter()
    build_task_bundle(spec_path=src / "spec.toml", items_paths=[src / "items.jsonl"], out=bundle,
                      identity=coordinator)
    build_s = time.perf_counter() - t
    # the baseline reads exactly the bytes the import reads: the bundle's items.jsonl member
    member = work / "items-member.jsonl"
    with zipfile.ZipFile(bundle) as zf:
        member.write_bytes(zf.read("items.jsonl"))
    (src / "items.jsonl").unlink()
    member_mb, bundle_mb = member.stat().st_size / MiB, bundle.stat().st_size / MiB
    say(f"  built the signed bundle ({bundle_mb:.0f} MiB; items.jsonl {member_mb:.0f} MiB) in {fmt_s(build_s)}")

    rounds = max(1, args.import_runs)
    say(f"  1/5 import vs. baseline ({rounds} alternating rounds, each in a fresh process) …")
    bases, imps = [], []
    home_import = work / "home-import"
    for k in range(rounds):
        bases.append(run_child("baseline", {"member": str(member), "db": str(work / "baseline.db")},
                               work, work / "import.log"))
        for suffix in ("", "-wal", "-shm"):
            (work / f"baseline.db{suffix}").unlink(missing_ok=True)
        shutil.rmtree(home_import, ignore_errors=True)  # every import goes into a fresh store
        make_home(home_import, "Bench Annotator")
        last = k == rounds - 1
        imps.append(run_child("import", {"bundle": str(bundle), "work": str(work),
                                         "profile": args.profile and last},
                              home_import, work / "import.log"))
        if imps[-1]["rows"] != n:
            raise SystemExit(f"the import stored {imps[-1]['rows']} items, expected {n}")
    # the round with the median time stands for the others (its phases are the ones shown)
    imp = sorted(imps, key=lambda r: r["import"])[len(imps) // 2]
    imp["baseline"] = sorted(bases, key=lambda r: r["total"])[len(bases) // 2]
    imp["rounds"] = [(r["import"], b["total"]) for r, b in zip(imps, bases, strict=True)]
    imp["cpu_rounds"] = [(r["cpu"], b["cpu"]) for r, b in zip(imps, bases, strict=True)]
    imp["profile"] = imps[-1].get("profile")
    if args.import_only:
        shutil.rmtree(home_import)
        report_import(n, imp)
        return

    home_gui = make_home(work / "home-gui", "Bench Annotator GUI")
    copy_store(home_import, home_gui)
    home_cold = make_home(work / "home-cold", "Bench Annotator Cold")
    copy_store(home_import, home_cold)
    shutil.rmtree(home_import)

    say("  2/5 next-item latency and 3/5 peak memory (GUI child) …")
    gui = run_child("gui", {"project": PROJECT_ID, "steps": args.steps}, home_gui, work / "gui.log")
    shutil.rmtree(home_gui)
    gui_import = None
    if not args.no_gui_import:
        say("      … and the memory of importing the bundle inside the app")
        home = make_home(work / "home-gui-import", "Bench Annotator GUI import")
        gui_import = run_child("gui-import", {"bundle": str(bundle), "items": n}, home,
                               work / "gui.log")
        shutil.rmtree(home)

    say(f"  4/5 cold start ({args.runs} runs) …")
    colds = [cold_start(home_cold, PROJECT_ID, work / "cold.log") for _ in range(max(1, args.runs))]
    demo_colds = []
    if not args.no_demo:
        # the pairwise demo of resources/demo, built and imported the way the app does it
        from annotary.paths import resources_dir

        home_demo = make_home(work / "home-demo", "Bench Annotator Demo")
        demo = resources_dir() / "demo"
        build_task_bundle(spec_path=demo / "spec.toml", items_paths=[demo / "items.jsonl"],
                          out=work / "demo.annotary", identity=coordinator,
                          guidelines_path=demo / "guidelines.md")
        store = open_store(store_file(home_demo))
        demo_id = import_tasks(store, work / "demo.annotary", trust_new_key=True).project_id
        store.close()
        demo_colds = [cold_start(home_demo, demo_id, work / "cold.log") for _ in range(3)]

    cases = run_cases(args, work) if args.cases else {}
    report(n, gen_s, build_s, member_mb, bundle_mb, imp, gui, gui_import, colds, demo_colds, cases)


LONG_ROUNDS = 30  # next + previous pairs between the two long items
ANSWERED_ITEMS = 20  # items answered and submitted in each mode


def run_cases(args, work: Path) -> dict:
    """5/5: per case, a bundle made (or reused) and imported in a child, two at a time; then the
    GUI children one after the other, on a quiet machine."""
    from concurrent.futures import ThreadPoolExecutor

    cases, n = args.cases, args.items
    cache = None if args.no_cache else args.workdir / "cache"
    workers = max(1, min(2, os.cpu_count() or 1))
    say(f"  5/5 {', '.join(cases)}: bundles made or reused{'' if cache else ' (no cache)'} and imported, "
        f"{workers} at a time …")
    homes = {c: make_home(work / f"home-{c}", f"Bench Annotator {c}") for c in cases}
    with ThreadPoolExecutor(workers) as pool:
        # the biggest first, so the two workers finish at about the same time
        biggest_first = sorted(cases, key=("ranking", "rubric", "scoring", "demonstration", "long").index)
        futures = {c: pool.submit(run_child, "prepare", {"case": c, "items": n, "work": str(work),
                                                         "cache": str(cache) if cache else None},
                                  homes[c], work / f"prepare-{c}.log") for c in biggest_first}
        prepared = {c: f.result() for c, f in futures.items()}
    out = {}
    for c in cases:
        say(f"      … {CASES[c]['label']}: next item{'/previous' if c == 'long' else ', answers'} (GUI child)")
        if c == "long":
            cfg = {"project": case_project(c), "rounds": LONG_ROUNDS, "profile": args.profile}
            result = run_child("gui-long", cfg, homes[c], work / "gui.log")
        else:
            cfg = {"mode": c, "project": case_project(c), "steps": args.steps, "answers": ANSWERED_ITEMS,
                   "profile": args.profile}
            result = run_child("gui-mode", cfg, homes[c], work / "gui.log")
        shutil.rmtree(homes[c])
        out[c] = {**prepared[c], **result}
    out["_cache"] = str(cache) if cache else None
    return out


def report_import(n: int, imp: dict) -> None:
    """Section 1 alone (--import-only): wall and CPU (user + system) of each round, and the ratios."""
    print("import vs. baseline (each round in fresh processes; wall / CPU user+sys seconds)")
    for k, ((iw, bw), (ic, bc)) in enumerate(zip(imp["rounds"], imp["cpu_rounds"], strict=True), 1):
        print(f"  round {k}: import {iw:.2f} / {ic:.2f} s, baseline {bw:.2f} / {bc:.2f} s, "
              f"ratio wall {iw / bw:.2f}x, CPU {ic / bc:.2f}x")
    wall = statistics.median(i / b for i, b in imp["rounds"])
    cpu = statistics.median(i / b for i, b in imp["cpu_rounds"])
    print(f"  {n} items: median ratio wall {wall:.2f}x, CPU {cpu:.2f}x (goal <= {GOAL_IMPORT_RATIO:g}x)")
    if imp.get("profile"):
        print(imp["profile"])


def report(n, gen_s, build_s, member_mb, bundle_mb, imp, gui, gui_import, colds, demo_colds, cases) -> None:
    table = Table()
    size = f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)
    base = imp["baseline"]
    ratio = imp["import"] / base["total"]
    of = f", median of {len(imp['rounds'])}" if len(imp["rounds"]) > 1 else ""
    table.add(f"import {size} items (whole: zip, hashes, signature, parse, write{of})",
              fmt_s(imp["import"]), f"<= {GOAL_IMPORT_RATIO:g}x baseline", ratio <= GOAL_IMPORT_RATIO)
    table.add(f"  baseline: read + json.loads + executemany, 1 transaction{of}", fmt_s(base["total"]))
    table.add("  import / baseline", f"{ratio:.2f}x", f"<= {GOAL_IMPORT_RATIO:g}x", ratio <= GOAL_IMPORT_RATIO)
    ph = imp["phases"]
    read_verify = ph.get("read+verify", 0.0)
    parse = ph.get("parse+validate", 0.0)
    write = imp["import"] - read_verify - parse
    table.add("  phase read+verify (file, unzip, sha256, signature)", fmt_s(read_verify))
    table.add("  phase parse+validate (pydantic, ids, fits spec)", fmt_s(parse))
    table.add("  phase write (serialize rows, executemany, commit)", fmt_s(write))

    lat = {k: [sum(parts) for parts in v] for k, v in gui["runs"].items()}
    nxt = lat["next"]
    table.add(f"next item p50 ({len(nxt)} steps, incl. paint)", fmt_ms(pct(nxt, 50)))
    table.add("next item p95", fmt_ms(pct(nxt, 95)), f"< {GOAL_LATENCY_MS:g} ms",
              pct(nxt, 95) * 1000 < GOAL_LATENCY_MS)
    labels = {"previous": "previous item", "jump": "jump to the middle", "answer": "answer key (A, T)",
              "submit": "submit + next"}
    for key, label in labels.items():
        v = lat[key]
        if v:
            table.add(f"{label} p50 / p95 ({len(v)})", f"{fmt_ms(pct(v, 50))} / {fmt_ms(pct(v, 95))}")

    peak = gui["peak_rss"]
    table.add(f"peak RSS of the GUI with {size} items open", f"{peak:.0f} MiB", f"< {GOAL_RSS_MB:g} MB",
              peak * MiB / 1e6 < GOAL_RSS_MB)
    if gui_import:
        table.add("  (info) peak RSS of the GUI importing the bundle itself", f"{gui_import['peak_rss']:.0f} MiB",
                  "info")

    cold = statistics.median(c["total"] for c in colds)
    spread = f" ({min(c['total'] for c in colds):.2f}–{max(c['total'] for c in colds):.2f})" if len(colds) > 1 else ""
    table.add(f"cold start to first item, {size} items (median of {len(colds)})", f"{cold:.2f} s{spread}",
              f"< {GOAL_COLD_S:g} s", cold < GOAL_COLD_S)
    if demo_colds:
        demo = statistics.median(c["total"] for c in demo_colds)
        table.add(f"cold start to first item, demo (median of {len(demo_colds)})", f"{demo:.2f} s",
                  f"< {GOAL_COLD_S:g} s", demo < GOAL_COLD_S)
    for c, r in cases.items():
        if c.startswith("_"):
            continue
        lat = {k: [sum(parts) for parts in v] for k, v in r["runs"].items()}
        if c == "long":
            both = lat["next"] + lat["previous"]
            table.add(f"{CASES[c]['label']}: next / previous p50 / p95 ({len(both)})",
                      f"{fmt_ms(pct(both, 50))} / {fmt_ms(pct(both, 95))}", f"p95 < {GOAL_LONG_MS:g} ms",
                      pct(both, 95) * 1000 < GOAL_LONG_MS)
            continue
        nxt = lat["next"]
        table.add(f"{CASES[c]['label']}, {size} items: next item p50 / p95 ({len(nxt)})",
                  f"{fmt_ms(pct(nxt, 50))} / {fmt_ms(pct(nxt, 95))}", f"p95 < {GOAL_LATENCY_MS:g} ms",
                  pct(nxt, 95) * 1000 < GOAL_LATENCY_MS)
        for key, label in (("answer", CASES[c]["answer"]), ("submit", "submit + next")):
            v = lat[key]
            if v:
                table.add(f"  {label} p50 / p95 ({len(v)})", f"{fmt_ms(pct(v, 50))} / {fmt_ms(pct(v, 95))}")
    print()
    table.print()

    def mid(key: str) -> float:
        return statistics.median(c[key] for c in colds)

    parts = {k: statistics.median(p[i] for p in gui["runs"]["next"])
             for i, k in enumerate(("command", "events+paint", "repaint"))}
    print()
    print("details")
    print(f"  environment: {gui['versions']}, {os.cpu_count()} CPUs, {sys.platform}")
    print(f"  data: items.jsonl {member_mb:.0f} MiB ({member_mb * MiB / n / 1024:.2f} KiB/item), "
          f"bundle {bundle_mb:.0f} MiB; generated in {fmt_s(gen_s)}, bundle built in {fmt_s(build_s)}")
    print("  rounds (import / baseline): " + ", ".join(
        f"{i:.2f} / {b:.2f} s" for i, b in imp["rounds"]) + "; phases below are from the median import")
    print("  baseline: " + ", ".join(f"{k} {fmt_s(base[k])}"
                                     for k in ("read", "json.loads", "executemany", "commit")))
    order = ("read: file", "read: unzip", "verify: member hashes", "verify: signature",
             "write: executemany", "write: commit (fsync, checkpoint)")
    known = {k: ph[k] for k in order if k in ph}
    rest_write = write - ph.get("write: executemany", 0.0) - ph.get("write: commit (fsync, checkpoint)", 0.0)
    print("  import: " + ", ".join(f"{k} {fmt_s(v)}" for k, v in known.items())
          + f"; parse+validate+checks {fmt_s(parse)}; write: python rows {fmt_s(rest_write)}")
    print(f"  memory: import process peak {imp['peak_rss']:.0f} MiB, {imp['rss_after'] or 0:.0f} MiB still held "
          f"after the import returned; baseline process peak {base['peak_rss']:.0f} MiB")
    if gui_import:
        print(f"  in-app import (Ctrl+O, synchronous runner): {fmt_s(gui_import['seconds'])}, GUI peak "
              f"{gui_import['peak_rss']:.0f} MiB, {gui_import['rss_end'] or 0:.0f} MiB held afterwards while labeling")
    print(f"  next item, median parts: command {fmt_ms(parts['command'])}, event loop + paint "
          f"{fmt_ms(parts['events+paint'])}, extra full repaint {fmt_ms(parts['repaint'])}; "
          f"{gui['next_paints']:.1f} paints of the prompt view per step; max {fmt_ms(max(nxt))}")
    lost = gui.get("none_lost_per_step", 0)
    if lost > 0.5:
        print(f"  WARNING: the GUI loses {lost:.0f} references to None per item.next ({gui['none_refs']} left "
              f"after the steps); at zero Python aborts (Fatal Python error: none_dealloc), i.e. after about "
              f"{gui['none_refs'] / lost:.0f} more steps ({gui['versions']}).")
    print(f"  GUI: opening the project took {fmt_s(gui['open_s'])}; RSS {gui['rss_before_open'] or 0:.0f} MiB "
          f"before opening, {gui['rss_end'] or 0:.0f} MiB at the end; peak {peak:.0f} MiB")
    print(f"  cold start, median parts: process + interpreter {fmt_s(mid('spawn'))}, imports "
          f"{fmt_s(mid('imports'))}, QApplication + store + window {fmt_s(mid('window'))}, "
          f"open project + first paint {fmt_s(mid('open'))}; runs: "
          + ", ".join(f"{c['total']:.2f}" for c in colds) + " s")
    print("  (offscreen Qt; files in the OS page cache, so 'cold' means a new process, not a cold disk)")
    for c, r in cases.items():
        if not c.startswith("_"):
            print(case_details(c, r, cases["_cache"]))
    if imp.get("profile"):
        print("\nprofile of the import (cProfile, top functions by own time)")
        print(imp["profile"])
    for c, r in cases.items():
        if not c.startswith("_") and r.get("profile"):
            what = "next / previous" if c == "long" else "item.next"
            print(f"\nprofile of {what}, {CASES[c]['label']} (cProfile, top functions by own time): "
                  + r["profile"])


def case_details(c: str, r: dict, cache: str | None) -> str:
    """One paragraph of details for a case: its data, how it was made, where the time of a step goes."""
    n = r["items"]
    if r["cached"]:
        made = f"reused from {cache}"
    else:
        made = f"generated in {fmt_s(r['gen_s'])}, built in {fmt_s(r['build_s'])}"
    lines = [f"  {CASES[c]['label']}: items.jsonl {r['items_mb']:.1f} MiB ({r['items_mb'] * 1024 / n:.2f} KiB/item), "
             f"bundle {r['bundle_mb']:.1f} MiB, {made}; imported in {fmt_s(r['import_s'])} (two cases at a time); "
             f"opened in {fmt_s(r['open_s'])}; peak RSS {r['peak_rss']:.0f} MiB"]
    runs = r["runs"]
    if c == "long":
        nxt, prev = ([sum(p) for p in runs[k]] for k in ("next", "previous"))
        parts = {k: statistics.median(p[i] for p in runs["next"] + runs["previous"])
                 for i, k in enumerate(("command", "events+paint", "repaint"))}
        lines.append(f"    {r['panes']} panes; responses of {min(r['words'])}–{max(r['words'])} words "
                     f"({min(r['chars']) / 1000:.1f}–{max(r['chars']) / 1000:.1f} k characters); next p50 / p95 "
                     f"{fmt_ms(pct(nxt, 50))} / {fmt_ms(pct(nxt, 95))}, previous {fmt_ms(pct(prev, 50))} / "
                     f"{fmt_ms(pct(prev, 95))}; median parts: command {fmt_ms(parts['command'])}, event loop + "
                     f"paint {fmt_ms(parts['events+paint'])}, extra full repaint {fmt_ms(parts['repaint'])}; "
                     f"max {fmt_ms(max(nxt + prev))}")
        return "\n".join(lines)
    parts = {k: statistics.median(p[i] for p in runs["next"])
             for i, k in enumerate(("command", "events+paint", "repaint"))}
    nxt = [sum(p) for p in runs["next"]]
    lines.append(f"    next item, median parts: command {fmt_ms(parts['command'])}, event loop + paint "
                 f"{fmt_ms(parts['events+paint'])}, extra full repaint {fmt_ms(parts['repaint'])}; "
                 f"{r['next_paints']:.1f} paints of the prompt view per step; max {fmt_ms(max(nxt))}")
    lost = r.get("none_lost_per_step", 0)
    if lost > 0.5:
        lines.append(f"    WARNING: {lost:.0f} references to None lost per item.next ({r['none_refs']} left); "
                     f"Python aborts at zero ({r['versions']})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
