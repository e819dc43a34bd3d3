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


def test_a_labels_columns_are_what_its_stored_json_says(world, tmp_path):
    """The columns are taken from a label's JSON as it is stored: both say the same, as the
    indexes and every later read rely on."""
    store = world.copy(tmp_path)
    reports = merge_results(store, paths=world.results)
    assert all(r.refusal is None for r in reports) and sum(r.accepted for r in reports) > 0
    assert store.one("SELECT count(*) FROM labels WHERE typeof(data) != 'text'")[0] == 0
    differ = store.one(
        "SELECT count(*) FROM labels WHERE project_id IS NOT json_extract(data, '$.project_id')"
        " OR item_id IS NOT json_extract(data, '$.item_id') OR question_id IS NOT json_extract(data, '$.question_id')"
        " OR annotator IS NOT json_extract(data, '$.annotator') OR revision IS NOT json_extract(data, '$.revision')"
        " OR submitted_at IS NOT json_extract(data, '$.submitted_at')")[0]
    assert differ == 0
    store.close()


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


def _fit(store, item_id: str, line: int, **more) -> merge._Fit:
    """A label of the 'rubric' question of shapes_project, as a merge holds it once read."""
    from annotary.core.labels import Label
    lab = Label.model_validate({
        "project_id": "sk", "item_id": item_id, "question_id": "rubric", "annotator": "ann", "revision": 1,
        "created_at": "2026-01-02T03:04:05Z", "submitted_at": "2026-01-02T03:04:06.5+01:00", "duration_ms": 7,
        "shown_order": ["x"], "answer": {"mode": "rubric", "marks": {"safe": "met"}},
        "spec_version": "s", "guidelines_version": "1"} | more)
    return merge._Fit(lab.item_id, lab.question_id, lab.revision, lab.model_dump_json().encode(), line)


def test_a_labels_check_is_reused_only_for_what_reads_the_same(tmp_path, coordinator):
    store, _ = shapes_project(tmp_path, coordinator)
    spec = project.project_info(store).spec
    skeletons = AssignedSkeletons(store, "sk")(store, "ann")
    # the same answer, order shown and item shape: checked once, fit both times
    merge._problems([_fit(store, "plain", 1), _fit(store, "plain3", 2)], spec, skeletons, "b.annotary")
    # the same answer and order shown, but an item of eleven responses: not the first one's check
    with pytest.raises(merge.BundleError, match=r"b\.annotary: results\.jsonl line 3: label of item 'many'.*"
                                                r"shown_order: does not list the item's responses"):
        merge._problems([_fit(store, "plain", 1), _fit(store, "plain3", 2), _fit(store, "many", 3)],
                        spec, skeletons, "b.annotary")
    # the same item shape, another answer
    with pytest.raises(merge.BundleError, match=r"line 2: label of item 'plain3'.*answer"):
        merge._problems([_fit(store, "plain", 1), _fit(store, "plain3", 2, answer={
            "mode": "rubric", "marks": {"unknown": "met"}})], spec, skeletons, "b.annotary")
    store.close()


def test_the_check_reuse_tells_apart_every_label_field_a_check_reads():
    """_problems tells labels apart by parts of their JSON (_checked_parts): between them they
    must hold every field label_problem reads besides the question (the key's own part)."""
    from annotary.core.labels import Label
    fields = list(Label.model_fields)
    assert fields[fields.index("shown_order"):fields.index("skip_reason")] == [
        "shown_order", "answer", "rationale", "confidence", "flags"]

    def parts(rationale, marks=None):
        lab = Label.model_validate({
            "project_id": "p", "item_id": "i", "question_id": "q", "annotator": "a", "revision": 1,
            "created_at": "2026-01-02T03:04:05Z", "submitted_at": "2026-01-02T03:04:05Z", "duration_ms": 1,
            "shown_order": ["x"], "answer": {"mode": "rubric", "marks": marks or {"a": "met"}},
            "rationale": rationale, "confidence": 3, "flags": ["odd"], "skip_reason": None,
            "spec_version": "s", "guidelines_version": "1"})
        return merge._checked_parts(lab.model_dump_json().encode())

    # an answer may hold keys of those names (criteria's ids), a rationale may say them
    tricky = {"a": "met", "rationale": "met", "skip_reason": "not_met", "confidence": "met"}
    before, written, after = parts('says ,"rationale": ,"confidence": and ,"skip_reason":', tricky)
    assert before == b',"shown_order":["x"],"answer":{"mode":"rubric","marks":{"a":"met","rationale":"met",' \
                     b'"skip_reason":"not_met","confidence":"met"}}'
    assert written is True and after == b',"confidence":3,"flags":["odd"]'
    # what a rationale says is not read, only whether one is written
    assert parts("one reason") == parts("another") != parts(None) == parts(" \n\t ")
    assert parts(None)[1] is False
