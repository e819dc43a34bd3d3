"""Progress per annotator: an assignment counts as labeled while its annotator has a label of it
that is not retracted, and each is looked up in an index (a project of a million assignments is
counted in seconds, not in a scan of every label per assignment)."""

from __future__ import annotations

from annotary.ops.merge import merge_results
from annotary.ops.quality import PROGRESS, project_status


def test_retracted_labels_and_other_peoples_labels_do_not_count(world, tmp_path):
    store = world.copy(tmp_path)
    merge_results(store, paths=world.results)
    first, second = world.people[0].key_id, world.people[1].key_id
    before = {p["annotator"]: p for p in project_status(store).progress}
    assert before[first]["remaining"] == 0 and before[first]["labeled"] == before[first]["assigned"] > 0
    (item,) = store.one("SELECT item_id FROM labels WHERE annotator=? ORDER BY item_id LIMIT 1", (first,))
    with store.atomic():  # every label of one of the first annotator's items retracted
        store.conn.execute("UPDATE labels SET retracted=1 WHERE annotator=? AND item_id=?", (first, item))
    after = {p["annotator"]: p for p in project_status(store).progress}
    assert (after[first]["labeled"], after[first]["remaining"]) == (before[first]["labeled"] - 1, 1)
    assert after[second] == before[second]  # whoever else labeled that item
    store.close()


def test_each_assignment_is_looked_up_in_an_index(world, tmp_path):
    store = world.copy(tmp_path)
    plan = [row[3] for row in store.query("EXPLAIN QUERY PLAN " + PROGRESS, {"p": "x"})]
    assert any("SEARCH l USING COVERING INDEX labels_current" in step for step in plan), plan
    assert not any(step.startswith(("SCAN", "MATERIALIZE")) for step in plan), plan
    store.close()
