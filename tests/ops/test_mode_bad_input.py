"""Specs and items the five modes cannot use: refused at build and at import, nothing stored."""

import json

import pytest

from annotary.bundles.bundle import write_bundle
from annotary.bundles.records import dump_jsonl
from annotary.core.errors import AnnotaryError
from annotary.ops.importing import import_tasks
from annotary.ops.tasks import build_task_bundle
from tests.conftest import (
    DEMO_Q,
    RANKING_Q,
    RUBRIC_Q,
    demo_items,
    ranking_items,
    rubric_items,
    spec_of,
)

SCALE = [{"value": 1, "label": "1", "anchor": "poor"}, {"value": 2, "label": "2", "anchor": "good"}]

CASES = {
    "unknown mode": (spec_of({"id": "q", "mode": "essay", "text": "?"}), ranking_items(1),
                     r"questions\.0: Input tag 'essay'"),
    "ranking over 9": (spec_of(RANKING_Q), ranking_items(1, 10),
                       r"item 'rank-0': responses: question 'rank' ranks 2 to 9 responses, item has 10"),
    "scale without anchors": (
        spec_of({"id": "s", "mode": "scoring", "text": "?", "axes": [
            {"id": "a", "name": "A", "scale": [{"value": 1, "label": "1"}, SCALE[1]]}]}),
        ranking_items(1), r"questions\.0\.scoring\.axes\.0\.scale: .*points \[1\] have no anchor text"),
    "criterion without points": (
        spec_of({**RUBRIC_Q, "criteria": [{"id": "c", "text": "Says hello"}]}), rubric_items(1),
        r"questions\.0\.rubric\.criteria\.0\.points: Field required"),
    "per-item rubric refers to unknown criteria": (
        spec_of(RUBRIC_Q), [rubric_items(1)[0] | {"rubric_criteria": ["doctor", "nonsense"]}],
        r"item 'case-0': rubric_criteria: unknown criterion 'nonsense' of question 'rubric'"),
    "per-item criterion on a global-only rubric": (
        spec_of({**RUBRIC_Q, "per_item": False}), rubric_items(1),
        r"item 'case-0': rubric: question 'rubric' does not take per-item criteria"),
    "demonstration without instruction": (
        spec_of(DEMO_Q), [demo_items(1)[0] | {"prompt": "   "}],
        r"item 'task-0': prompt: a demonstration needs an instruction"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_at_build(case, tmp_path, coordinator):
    spec, items, message = CASES[case]
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))
    items_path = tmp_path / "items.jsonl"
    items_path.write_text("".join(json.dumps(i) + "\n" for i in items))
    out = tmp_path / "out.annotary"
    with pytest.raises(AnnotaryError, match=message):
        build_task_bundle(spec_path=spec_path, items_paths=[items_path], out=out, identity=coordinator)
    assert not out.exists()


@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_at_import(case, tmp_path, coordinator, store):
    """A bundle signed correctly but holding the bad spec or item (written without the checks)."""
    spec, items, message = CASES[case]
    path = tmp_path / "bad.annotary"
    write_bundle(path, kind="tasks", project_id="modes", project_name="bad", identity=coordinator,
                 members={"spec.json": json.dumps({"name": "Project modes", **spec}).encode(),
                          "guidelines.md": b"", "items.jsonl": dump_jsonl(items)})
    before = list(store.conn.iterdump())
    with pytest.raises(AnnotaryError, match=message) as err:
        import_tasks(store, path, trust_new_key=True)
    assert "\n" not in str(err.value)
    assert list(store.conn.iterdump()) == before
