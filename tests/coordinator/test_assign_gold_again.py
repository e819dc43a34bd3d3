"""Gold items given again in a later round: the same item is skipped, another item under its id refused."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import ItemError
from annotary.ops.assign import assign_round
from tests.coordinator.conftest import gold_items


def test_gold_file_given_again(world, tmp_path):
    store = world.copy(tmp_path)
    gold = gold_items(tmp_path / "gold.jsonl")  # the same items round 1 added
    items = store.one("SELECT count(*) FROM items")[0]
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r2", overlap=3, gold_paths=[gold])
    assert report.added == {"gold": 0, "calibration": 0}
    assert store.one("SELECT count(*) FROM items")[0] == items

    changed = tmp_path / "changed.jsonl"
    rows = [json.loads(line) for line in gold.read_text().splitlines()]
    rows[1]["prompt"] += " (edited)"
    changed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = store.one("SELECT count(*) FROM assignments")[0]
    with pytest.raises(ItemError, match=f"item id {rows[1]['id']!r} is already in the project with other content"):
        assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r3", overlap=3, gold_paths=[changed])
    assert store.one("SELECT count(*) FROM assignments")[0] == before
    store.close()
