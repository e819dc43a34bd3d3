"""How a merge reads and writes what it merges: labels stored in their canonical JSON whatever
the line said, the same label twice in a bundle, the assigned items' skeletons however many
shapes the items have, and a bundle written a few labels at a time."""

from __future__ import annotations

import json

import pytest

import annotary.ops.merge as merge
import annotary.ops.project as project
from annotary.ops.merge import merge_results
from annotary.ops.project import AssignedSkeletons, create_project, open_project
from tests.coordinator.test_hostile_results import _label_lines, results_bundle
from tests.coordinator.test_quality import write_rows


def stored(store) -> list[tuple]:
    return store.tuples("SELECT item_id, question_id, annotator, revision, data, submitted_at FROM labels"
                        " ORDER BY item_id, question_id, annotator, revision").fetchall()


def test_labels_are_stored_canonical_whatever_their_lines_say(world, tmp_path):
    lines = _label_lines(world)
    spaced = [json.dumps(json.loads(line), indent=None, separators=(", ", ": ")).encode() for line in lines]
    path = results_bundle(tmp_path / "spaced.annotary", world.people[0], spaced)
    store = world.copy(tmp_path)
    (report,) = merge_results(store, paths=[path])
    assert report.refusal is None and report.accepted == len(lines)
    assert sorted(r[4].encode() for r in stored(store)) == sorted(lines)
    # the annotator's own bundle (other bytes, another bundle id) holds the same labels: nothing new
    (again,) = merge_results(store, paths=[world.results[0]])
    assert again.refusal is None and (again.ignored, again.accepted, again.refused) == (len(lines), 0, 0)
    store.close()


def test_the_same_label_twice_in_a_bundle_is_stored_once(world, tmp_path):
    lines = _label_lines(world)
    path = results_bundle(tmp_path / "twice.annotary", world.people[0], [*lines, lines[0]])
    store = world.copy(tmp_path)
    (report,) = merge_results(store, paths=[path])
    assert (report.accepted, report.ignored, report.labels) == (len(lines), 1, len(lines) + 1)
    assert len(stored(store)) == len(lines)
    store.close()


def test_a_bundle_written_a_few_labels_at_a_time_stores_the_same(world, tmp_path, monkeypatch):
    whole = world.copy(tmp_path)
    merge_results(whole, paths=world.results)
    monkeypatch.setattr(merge, "WRITE_CHUNK", 2)
    (tmp_path / "chunked").mkdir()
    chunked = world.copy(tmp_path / "chunked")
    reports = merge_results(chunked, paths=world.results)
    assert all(r.refusal is None for r in reports)
    assert [r[:5] for r in stored(chunked)] == [r[:5] for r in stored(whole)]
    assert chunked.one("SELECT count(DISTINCT source) FROM labels")[0] == len(world.results)
    whole.close()
    chunked.close()


def shapes_project(tmp_path, coordinator):
    """Items of six shapes (and gold), each assigned to annotator "ann", all but 'plain2' to "other"."""
    spec = {"project_id": "sk", "name": "Skeletons", "questions": [{
        "id": "rubric", "mode": "rubric", "text": "Met?", "per_item": True,
        "criteria": [{"id": "safe", "text": "Is safe", "points": 5}]}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    def item(iid: str, responses: int = 1, **more) -> dict:
        ids = [f"{iid}{j}" for j in range(responses)] if responses > 1 else ["x"]
        return {"id": iid, "prompt": "p", "responses": [{"id": r, "text": "t"} for r in ids]} | more

    items = [item("many", 11), item("own", rubric_criteria=[], rubric=[{"id": "c", "text": "Own", "points": 2}]),
             item("plain"), item("plain2", prompt="q"), item("plain3", prompt="r"),
             item("same", prompt=[{"role": "user", "content": "q"}]), item("ten", 10),
             item("gold", kind="gold", gold={"rubric": {"mode": "rubric", "marks": {"safe": "met"}}})]
    write_rows(tmp_path / "items.jsonl", items)
    create_project(spec_path=tmp_path / "spec.json", items_paths=[tmp_path / "items.jsonl"],
                   out=tmp_path / "p.db", identity=coordinator)
    store = open_project(tmp_path / "p.db")
    with store.atomic():
        for who in ("ann", "other"):
            store.conn.executemany("INSERT INTO assignments (project_id, item_id, annotator, round, kind)"
                                   " VALUES ('sk', ?, ?, 1, 'normal')",
                                   [(it["id"], who) for it in items if not (who == "other" and it["id"] == "plain2")])
    return store, items


def facts(skeletons: dict) -> dict:
    """What checking a label reads of each item (its id aside: items of one shape share one)."""
    return {iid: (it.kind, it.gold, it.rubric, it.rubric_criteria, [r.id for r in it.responses])
            for iid, it in skeletons.items()}


@pytest.mark.parametrize("most_kept_apart", [50_000, 3, 0])
def test_assigned_skeletons_are_the_items_assigned(tmp_path, coordinator, monkeypatch, most_kept_apart):
    store, items = shapes_project(tmp_path, coordinator)
    monkeypatch.setattr(project, "MAX_OTHER_SHAPES", most_kept_apart)
    whole = {i["id"]: it for i, it in zip(items, project.load_items(store, "sk").values(), strict=True)}
    shapes = AssignedSkeletons(store, "sk")
    assert (shapes.others is None) == (most_kept_apart < 5)  # five items are not of the common shape (plain)
    for who in ("ann", "other", "nobody"):
        got = shapes(store, who)
        assigned = {iid for (iid,) in store.tuples("SELECT item_id FROM assignments WHERE annotator=?", (who,))}
        assert set(got) == assigned
        assert facts(got) == facts({iid: whole[iid] for iid in assigned})
    store.close()
