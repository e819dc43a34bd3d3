"""A coordinator's categorical project built once per run: three annotators label six items
(an error taxonomy, a diagnosis, a safety flag per response) and their results are merged."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from annotary.bundles.identity import Identity, create_identity
from annotary.flows.labeling import LabelingFlow
from annotary.ops.assign import assign_round
from annotary.ops.importing import import_tasks
from annotary.ops.merge import merge_results
from annotary.ops.project import create_project, open_project
from annotary.ops.results import export_results
from annotary.ops.roster import add_members, export_card
from annotary.store import Store, open_store
from tests.categorical.common import DIAGNOSIS_Q, ERRORS_Q, PER_RESPONSE_Q, items

PID = "cat-world"
# what each annotator answers to case-0 … case-5: errors (keys), diagnosis (key), safe per
# response (keys, in the order the responses are shown)
ANSWERS = {
    0: [("12", "4", "11"), ("0", "5", "12"), ("3", "1", "22"), ("1", "2", "11"), ("0", "3", "13"),
        ("25", "4", "21")],
    1: [("12", "4", "11"), ("0", "5", "12"), ("34", "1", "22"), ("1", "3", "11"), ("0", "3", "31"),
        ("2", "1", "21")],
    2: [("1", "4", "11"), ("3", "5", "12"), ("4", "2", "21"), ("1", "2", "11"), ("0", "3", "13"),
        ("25", "5", "21")],
}


@dataclass
class CatWorld:
    root: Path
    project: Path  # merged: every annotator's results
    people: list[Identity]
    results: list[Path]
    shown: dict[tuple[int, str], list[str]]  # (annotator, item) -> response order on screen

    def copy(self, dest: Path) -> Store:
        path = dest / "project.db"
        shutil.copy(self.project, path)
        return open_project(path)


def label_by_keys(flow: LabelingFlow, plan) -> dict[str, list[str]]:
    shown = {}
    flow.start()
    for _ in plan:  # items come in an order of the annotator's own
        item_id = flow.current.item.id
        errors, diagnosis, safe = plan[int(item_id.removeprefix("case-"))]
        shown[item_id] = list(flow.current.shown_order)
        flow.focus = 0
        for key in errors:
            flow.category_key(key)
        flow.focus = 1
        flow.category_key(diagnosis)
        flow.focus = 2
        flow.set_cursor("safe", 0, 0)
        for key in safe:
            flow.category_key(key)
        outcome = flow.submit()
        assert outcome.ok, outcome.missing
    return shown


@pytest.fixture(scope="session")
def cat_world(tmp_path_factory) -> CatWorld:
    root = tmp_path_factory.mktemp("catworld")
    coordinator = create_identity(root / "coordinator", name="Coordinator Cho", role="coordinator")
    people = [create_identity(root / f"person{i}", name=name, role="annotator")
              for i, name in enumerate(["Ada Lee", "Bo Chen", "Cy Diaz"])]
    spec = root / "spec.json"
    spec.write_text(json.dumps({"project_id": PID, "name": "Errors in medical answers",
                                "questions": [ERRORS_Q, DIAGNOSIS_Q, PER_RESPONSE_Q]}))
    data = root / "items.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in items(6)))
    project = root / "project.db"
    create_project(spec_path=spec, items_paths=[data], out=project, identity=coordinator)
    cards = []
    for p in people:
        cards.append(root / f"{p.key_id}.card.json")
        export_card(identity=p, out=cards[-1])
    store = open_project(project)
    add_members(store, cards=cards, rate_per_hour=60.0)
    assignment = assign_round(store, identity=coordinator, out_dir=root / "round1", overlap=3)
    by_key = {b.annotator: b.path for b in assignment.bundles}
    results, shown = [], {}
    for i, p in enumerate(people):
        s = open_store(root / f"annotator{i}.db")
        import_tasks(s, by_key[p.key_id], trust_new_key=True)
        flow = LabelingFlow(s, PID, p.key_id)
        for item_id, order in label_by_keys(flow, ANSWERS[i]).items():
            shown[(i, item_id)] = order
        results.append(root / f"results{i}.annotary")
        export_results(s, project_id=PID, identity=p, out=results[-1])
        s.close()
    reports = merge_results(store, paths=results)
    assert all(r.refusal is None and r.accepted == 18 for r in reports), reports
    store.close()
    return CatWorld(root, project, people, results, shown)
