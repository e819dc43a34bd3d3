"""A coordinator's world built once per run: project, roster, a round, three annotators' results."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotary.bundles.identity import Identity, create_identity
from annotary.flows.labeling import LabelingFlow
from annotary.ops.assign import AssignReport, assign_round
from annotary.ops.importing import import_tasks
from annotary.ops.project import create_project, open_project
from annotary.ops.results import export_results
from annotary.ops.roster import add_members, export_card
from annotary.paths import resources_dir
from annotary.store import Store, open_store
from tests.conftest import FIXTURES

DEMO = resources_dir() / "demo"
PID = "demo-pairwise"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def gold_items(path: Path, n: int = 3, kind: str = "gold") -> Path:
    """LLMBar pairs in Annotary's item shape, with LLMBar's expert label as the gold answer."""
    records = json.loads((FIXTURES / "llmbar" / "natural.sample.json").read_text())[:n]
    with path.open("w", encoding="utf-8") as f:
        for i, r in enumerate(records):
            item = {"id": f"{kind}-{i}", "prompt": r["input"], "kind": kind,
                    "responses": [{"id": "r1", "text": r["output_1"]}, {"id": "r2", "text": r["output_2"]}],
                    "gold": {"helpful": {"mode": "pairwise", "choice": "A" if r["label"] == 1 else "B"}},
                    "metadata": {"gold_label": r["label"]}}
            if kind == "calibration":
                item["explanation"] = "The expert picked the response that follows the instruction."
            f.write(json.dumps(item) + "\n")
    return path


def pick(who: int, item_id: str, choices: str) -> str:
    """A stable, annotator-dependent on-screen choice: annotators agree on some items only."""
    h = int(hashlib.sha256(f"{who}:{item_id}".encode()).hexdigest()[:8], 16)
    common = int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16)
    return choices[(common if h % 3 else h) % len(choices)]


def label_everything(store: Store, ident: Identity, who: int, seconds: float = 20.0) -> int:
    clock = Clock()
    flow = LabelingFlow(store, PID, ident.key_id, clock=clock)
    flow.start()
    done = 0
    while flow.current.item.id not in flow.labeled:
        iid = flow.current.item.id
        flow.choose(pick(who, iid, "AB"))
        flow.choose({"A": "A", "B": "B", "T": "tie"}[pick(who, iid + "h", "TTAB")])
        clock.t += seconds
        outcome = flow.submit()
        assert outcome.ok, outcome.missing
        done += 1
        if flow.current.item.id in flow.labeled:
            break
    return done


@dataclass
class World:
    root: Path
    project: Path  # the coordinator's project before any merge (copy it to change it)
    coordinator: Identity
    people: list[Identity]
    cards: list[Path]
    assignment: AssignReport
    stores: list[Path]
    results: list[Path]  # each annotator's first export
    newer: Path  # annotator 0 again, after changing one item (revision 2)
    changed_item: str

    def copy(self, dest: Path) -> Store:
        path = dest / "project.db"
        shutil.copy(self.project, path)
        return open_project(path)


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world")
    coordinator = create_identity(root / "coordinator", name="Coordinator Cho", role="coordinator")
    people = [create_identity(root / f"person{i}", name=name, role="annotator")
              for i, name in enumerate(["Ada Lee", "Bo Chen", "Cy Diaz"])]
    project = root / "project.db"
    create_project(spec_path=DEMO / "spec.toml", items_paths=[DEMO / "items.jsonl"], out=project,
                   identity=coordinator, guidelines_path=DEMO / "guidelines.md")
    cards = []
    for p in people:
        cards.append(root / f"{p.key_id}.card.json")
        export_card(identity=p, out=cards[-1])
    store = open_project(project)
    add_members(store, cards=cards, rate_per_hour=60.0)
    assignment = assign_round(store, identity=coordinator, out_dir=root / "round1", overlap=2,
                              gold_paths=[gold_items(root / "gold.jsonl")],
                              calibration_paths=[gold_items(root / "calibration.jsonl", 1, "calibration")])
    store.close()
    stores, results = [], []
    by_key = {b.annotator: b.path for b in assignment.bundles}
    for i, p in enumerate(people):
        stores.append(root / f"annotator{i}.db")
        s = open_store(stores[-1])
        import_tasks(s, by_key[p.key_id], trust_new_key=True)
        label_everything(s, p, i, seconds=10.0 * (i + 1))
        results.append(root / f"results{i}.annotary")
        export_results(s, project_id=PID, identity=p, out=results[-1])
        s.close()
    # annotator 0 goes back to their first item and changes the answer: revision 2
    s = open_store(stores[0])
    flow = LabelingFlow(s, PID, people[0].key_id, clock=Clock())
    flow.go_to(0)
    while flow.current.item.kind != "normal" or flow.current.item.id.startswith("gold-"):
        flow.next()
    changed = flow.current.item.id
    key = "B" if flow.current.pending["helpful"].value == {"key": "A"} else "A"
    flow.focus = 0
    flow.choose(key)
    assert flow.submit().ok
    newer = root / "results0-newer.annotary"
    export_results(s, project_id=PID, identity=people[0], out=newer)
    s.close()
    return World(root, project, coordinator, people, cards, assignment, stores, results, newer, changed)


def dump(store: Store) -> list[str]:
    return list(store.conn.iterdump())
