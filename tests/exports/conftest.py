"""Projects the exports are written from: the coordinator's world merged, and small ones per mode."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from annotary.bundles.identity import load_identity
from annotary.core.adjudication import Decision
from annotary.core.labels import Label, check_label_fits
from annotary.ops.merge import merge_results
from annotary.ops.project import create_project, item_skeletons, open_project, project_info
from annotary.ops.raters import import_rater_labels
from annotary.store import Store
from tests.conftest import (
    DEMO_Q,
    RANKING_Q,
    RUBRIC_Q,
    SCORING_Q,
    ranking_items,
    rubric_items,
    spec_of,
)
from tests.coordinator.conftest import world  # noqa: F401  (the session fixture, reused)

NOW = datetime(2025, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def hf(tmp_path_factory):
    """Hugging Face `datasets`, kept offline and away from the user's cache."""
    home = tmp_path_factory.mktemp("hf")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HOME", str(home))
        mp.setenv("HF_DATASETS_OFFLINE", "1")
        mp.setenv("HF_HUB_OFFLINE", "1")
        import datasets

        datasets.disable_progress_bars()
        yield datasets


@pytest.fixture
def load(hf, tmp_path):
    """Load an export folder's data file the way training code does."""

    def go(folder: Path):
        kind = "parquet" if (folder / "train.parquet").exists() or (folder / "data").is_dir() else "json"
        data = folder / ("data/round=*/part-0.parquet" if (folder / "data").is_dir() else
                         "train.parquet" if kind == "parquet" else "train.jsonl")
        return hf.load_dataset(kind, data_files=str(data), split="train", cache_dir=str(tmp_path / "hf-cache"))

    return go


@pytest.fixture(scope="session")
def merged_master(world, tmp_path_factory) -> Path:  # noqa: F811
    """The world's project with every annotator's results merged (the newer revision too)."""
    path = tmp_path_factory.mktemp("merged") / "project.db"
    shutil.copy(world.project, path)
    store = open_project(path)
    reports = merge_results(store, paths=[*world.results, world.newer])
    assert not any(r.refusal for r in reports)
    store.close()
    return path


@pytest.fixture
def merged(merged_master) -> Store:
    """Exports only read the project, so the tests share one file."""
    store = open_project(merged_master)
    yield store
    store.close()


def copy_of(master: Path, dest: Path) -> Store:
    path = dest / master.name
    shutil.copy(master, path)
    return open_project(path)


# --- labels the small projects are made of ------------------------------------------------------

def add_label(store: Store, item_id: str, question_id: str, who: str, *, answer: dict | None = None,
              skip: str | None = None, flags: tuple[str, ...] = (), revision: int = 1) -> None:
    """One label as a merge stores it (for skips and flags, which outside raters' files cannot carry)."""
    info = project_info(store)
    item = item_skeletons(store, info.id)[item_id]
    lab = Label(project_id=info.id, item_id=item_id, question_id=question_id, annotator=who,
                revision=revision, created_at=NOW, submitted_at=NOW, duration_ms=4000,
                shown_order=[r.id for r in item.responses], answer=answer, flags=list(flags),
                skip_reason=skip, spec_version=info.spec.version(), guidelines_version=info.guidelines_version)
    check_label_fits(lab, info.spec, item)
    with store.atomic():
        store.conn.execute(
            "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, data, submitted_at,"
            " source) VALUES (?,?,?,?,?,?,?,?)",
            (info.id, item_id, question_id, who, revision, lab.model_dump_json(), NOW.isoformat(), "test"))


def add_decision(store: Store, item_id: str, question_id: str, answer: dict, reason: str) -> None:
    """A reviewer's decision as the merge of a decisions bundle stores it."""
    info = project_info(store)
    d = Decision(item_id=item_id, question_id=question_id, reviewer="reviewer-key", revision=1,
                 decided_at=NOW, answer=answer, reason=reason, overrides_majority=False)
    with store.atomic():
        store.conn.execute(
            "INSERT INTO decisions (project_id, item_id, question_id, reviewer, revision, data, merged_at)"
            " VALUES (?,?,?,?,?,?,?)", (info.id, item_id, question_id, d.reviewer, 1, d.model_dump_json(),
                                        NOW.isoformat()))


def put_raw_label(store: Store, project_id: str, item: str, question: str, who: str, revision: int,
                  retracted: bool, answer: dict | None, version: str | None, shown: list[str]) -> None:
    """A label row written straight to the store (no fit check), a skip where `answer` is None."""
    data = {"project_id": project_id, "item_id": item, "question_id": question, "annotator": who,
            "revision": revision, "created_at": NOW.isoformat(), "submitted_at": NOW.isoformat(),
            "duration_ms": 1000, "shown_order": shown, "answer": answer,
            "skip_reason": None if answer else "cannot judge", "flags": [], "spec_version": "x",
            "guidelines_version": version}
    store.conn.execute(
        "INSERT INTO labels (project_id, item_id, question_id, annotator, revision, retracted, data,"
        " submitted_at) VALUES (?,?,?,?,?,?,?,?)",
        (project_id, item, question, who, revision, int(retracted), json.dumps(data), NOW.isoformat()))


def put_raw_decision(store: Store, project_id: str, item: str, question: str, answer: dict, reason: str) -> None:
    """A reviewer's decision row written straight to the store."""
    decision = {"item_id": item, "question_id": question, "reviewer": "rev", "revision": 1,
                "decided_at": NOW.isoformat(), "answer": answer, "reason": reason}
    store.conn.execute(
        "INSERT INTO decisions (project_id, item_id, question_id, reviewer, revision, data, merged_at)"
        " VALUES (?,?,?,'rev',1,?,?)", (project_id, item, question, json.dumps(decision), NOW.isoformat()))


def build(root: Path, spec: dict, items: list[dict], labels: dict[str, list[tuple]], coordinator) -> Store:
    """A project whose labels come from outside human raters: rater -> (item, question, answer)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "spec.json").write_text(json.dumps(spec))
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    create_project(spec_path=root / "spec.json", items_paths=[root / "items.jsonl"], out=root / "project.db",
                   identity=coordinator)
    store = open_project(root / "project.db")
    for rater, rows in labels.items():
        path = root / f"{rater}.jsonl"
        path.write_text("".join(json.dumps({"item_id": i, "question_id": q, "answer": a}) + "\n"
                                for i, q, a in rows))
        import_rater_labels(store, rater=rater, path=path, human=True)
    return store


def pw(choice: str, strength: int | None = None) -> dict:
    return {"mode": "pairwise", "choice": choice, **({"strength": strength} if strength else {})}


BB, TIE = pw("both_bad"), pw("tie")
STRENGTH_Q = {"id": "strength", "mode": "pairwise", "text": "How much better?", "scale": "strength", "points": 7}
OVERALL_Q = {"id": "overall", "mode": "pairwise", "text": "Which is better?", "scale": "fourway"}


@dataclass
class Pairs:
    path: Path
    texts: dict[str, tuple[str, str]]  # item -> (first response, second response)


@pytest.fixture(scope="session")
def pairs_master(tmp_path_factory, coordinator_dir) -> Pairs:
    """Plain-text pairs with every kind of final answer.

    overall: p0 unanimous A, p1 majority A (2 of 3), p2 unanimous both bad, p3 unanimous tie,
    p4 conflict decided B (adjudicated), p5 single B, p6 skipped by all (no answer), g0 gold A,
    p8 unanimous A but flagged. strength (7 points): p0 1,1 (A much better), p1 3,3 (A slightly),
    p2 7,7 (B much better), p3 4,4 (the middle: a tie)."""
    root = tmp_path_factory.mktemp("pairs")
    ids = [f"p{i}" for i in range(9)]
    ids[7] = "g0"
    items = [{"id": i, "prompt": f"Question {i}?",
              "responses": [{"id": "r1", "text": f"{i} first answer"}, {"id": "r2", "text": f"{i} second answer"}]}
             for i in ids]
    items[0]["context"] = "Use metric units."
    items[7] |= {"kind": "gold", "gold": {"overall": pw("A")}}
    A, B = pw("A"), pw("B")
    labels = {
        "h1": [("p0", "overall", A), ("p1", "overall", A), ("p2", "overall", BB), ("p3", "overall", TIE),
               ("p4", "overall", A), ("p5", "overall", B), ("g0", "overall", B), ("p8", "overall", A),
               ("p0", "strength", pw("A", 1)), ("p1", "strength", pw("A", 3)), ("p2", "strength", pw("B", 7)),
               ("p3", "strength", pw("tie", 4))],
        "h2": [("p0", "overall", A), ("p1", "overall", A), ("p2", "overall", BB), ("p3", "overall", TIE),
               ("p4", "overall", B), ("g0", "overall", B),
               ("p0", "strength", pw("A", 1)), ("p1", "strength", pw("A", 3)), ("p2", "strength", pw("B", 7)),
               ("p3", "strength", pw("tie", 4))],
        "h3": [("p0", "overall", A), ("p1", "overall", B), ("p2", "overall", BB), ("p3", "overall", TIE),
               ("p8", "overall", A)],
    }
    store = build(root, spec_of(OVERALL_Q, STRENGTH_Q, project_id="pairs"), items, labels,
                  load_identity(coordinator_dir))
    add_label(store, "p4", "overall", "human:h3", skip="broken item")
    add_label(store, "p6", "overall", "human:h1", skip="cannot judge")
    add_label(store, "p6", "overall", "human:h2", skip="cannot judge")
    add_label(store, "p8", "overall", "human:h2", answer=A, flags=("unclear",))
    add_decision(store, "p4", "overall", B, "r2 answers the question; r1 does not")
    store.close()
    return Pairs(root / "project.db", {i["id"]: tuple(r["text"] for r in i["responses"]) for i in items})


@pytest.fixture
def pairs(pairs_master) -> Store:
    store = open_project(pairs_master.path)
    yield store
    store.close()


def rk(*groups, bad: bool = False) -> dict:
    return {"mode": "ranking", "order": [[g] if isinstance(g, str) else list(g) for g in groups],
            "all_unacceptable": bad}


def scores(**by_response) -> dict:
    """helpfulness per response; the other HelpSteer2 axes fixed."""
    return {"mode": "scoring", "scores": {r: {"helpfulness": h, "correctness": 3, "coherence": 4, "complexity": 1,
                                              "verbosity": 2} for r, h in by_response.items()}}


TOP2_Q = {"id": "top2", "mode": "ranking", "text": "The best two", "top_k": 2}


@pytest.fixture(scope="session")
def ranks_master(tmp_path_factory, coordinator_dir) -> Path:
    """Four items of four responses. rank (two raters alike): rank-0 m0>m1>m2>m3, rank-1 m2>(m0=m1)>m3,
    rank-2 all unacceptable (one rater), rank-3 m3>m2>m1>m0. top2 (one rater): rank-0 m1>m0, the rest unranked.
    scores (two raters alike): rank-0 m0 4, m1 0; rank-1 m0 2 (the middle), m1 3."""
    root = tmp_path_factory.mktemp("ranks")
    rank = [("rank-0", "rank", rk("m0", "m1", "m2", "m3")), ("rank-1", "rank", rk("m2", ("m0", "m1"), "m3")),
            ("rank-2", "rank", rk(bad=True)), ("rank-3", "rank", rk("m3", "m2", "m1", "m0")),
            ("rank-0", "scores", scores(m0=4, m1=0)), ("rank-1", "scores", scores(m0=2, m1=3))]
    labels = {"r1": [*rank, ("rank-0", "top2", rk("m1", "m0"))], "r2": [r for r in rank if r[0] != "rank-2"]}
    store = build(root, spec_of(RANKING_Q, TOP2_Q, SCORING_Q, project_id="ranks"), ranking_items(4, 4), labels,
                  load_identity(coordinator_dir))
    store.close()
    return root / "project.db"


@pytest.fixture
def ranks(ranks_master) -> Store:
    store = open_project(ranks_master)
    yield store
    store.close()


def marks(**m) -> dict:
    return {"mode": "rubric", "marks": m}


@pytest.fixture(scope="session")
def care_master(tmp_path_factory, coordinator_dir) -> Path:
    """Three one-turn conversations with one response. rubric (one rater; doctor +5, dose -8, fluids
    +2 optional, own +4): case-0 all good (11/11), case-1 doctor and dose met (-3/11), case-2 only
    fluids (2/11). ideal: two raters each write a demonstration for every case."""
    root = tmp_path_factory.mktemp("care")
    ideal = [(f"case-{i}", "ideal", {"mode": "demonstration", "text": f"{who} ideal answer {i}",
                                     "draft": "Give paracetamol, fluids, and see a doctor if it lasts."})
             for i in range(3) for who in ("c1",)]
    labels = {
        "c1": [("case-0", "rubric", marks(doctor="met", dose="not_met", fluids="met", own="met")),
               ("case-1", "rubric", marks(doctor="met", dose="met", own="not_met")),
               ("case-2", "rubric", marks(doctor="not_met", dose="not_met", fluids="met", own="not_met")),
               *ideal],
        "c2": [(i, q, {**a, "text": a["text"].replace("c1", "c2")}) for i, q, a in ideal],
    }
    store = build(root, spec_of(RUBRIC_Q, DEMO_Q, project_id="care"), rubric_items(3), labels,
                  load_identity(coordinator_dir))
    store.close()
    return root / "project.db"


@pytest.fixture
def care(care_master) -> Store:
    store = open_project(care_master)
    yield store
    store.close()


@pytest.fixture
def where(tmp_path) -> Path:
    """A folder for exports alone, so a test can see that nothing else was left in it."""
    d = tmp_path / "exports"
    d.mkdir()
    return d
