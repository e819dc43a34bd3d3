"""A later round: gold items given again, and the items of an annotator who left."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import ItemError
from annotary.ops.assign import assign_round
from annotary.ops.merge import merge_bundle
from annotary.ops.roster import remove_member
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


def test_items_of_an_annotator_who_left(world, tmp_path):
    """What they labeled stays covered; what they did not goes to someone else."""
    store = world.copy(tmp_path)
    cy = world.people[2]
    normal = ("SELECT a.item_id FROM assignments a JOIN items i ON i.project_id=a.project_id AND i.id=a.item_id"
              " WHERE a.annotator=? AND i.kind='normal' ORDER BY a.item_id")
    theirs = [r[0] for r in store.tuples(normal, (cy.key_id,))]
    merge_bundle(store, path=world.results[2])  # every item Cy labeled
    store.conn.execute("DELETE FROM labels WHERE annotator=? AND item_id=?", (cy.key_id, theirs[0]))
    remove_member(store, key=cy.key_id)
    report = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "r2", overlap=2)
    again = {r[0] for r in store.tuples("SELECT item_id FROM assignments WHERE round=2")}
    assert again == {theirs[0]} and report.items == 1
    store.close()
