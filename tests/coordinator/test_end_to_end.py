"""Create, assign with overlap and gold, label in three stores, export, merge, agreement, status."""

from __future__ import annotations

import json
import zipfile
from collections import Counter

from annotary.bundles.bundle import read_bundle
from annotary.core.labels import Label
from annotary.ops import queries
from annotary.ops.assign import assign_round
from annotary.ops.merge import merge_results
from annotary.ops.quality import csv_tables, heatmap, project_status, quality_report
from tests.coordinator.conftest import PID, dump


def bundle_items(path) -> list[dict]:
    with zipfile.ZipFile(path) as z:
        return [json.loads(line) for line in z.read("items.jsonl").splitlines()]


def test_assignment_is_balanced_blind_and_hides_gold(world):
    bundles = world.assignment.bundles
    assert len(bundles) == 3 and world.assignment.items == 32
    assert world.assignment.added == {"gold": 3, "calibration": 1}
    loads = [b.normal for b in bundles]
    assert sum(loads) == 64 and max(loads) - min(loads) <= 1  # 32 items x overlap 2, balanced
    seen, gold_places = Counter(), []
    for b in bundles:
        bundle = read_bundle(b.path, expect_kind="tasks")
        assert bundle.manifest.producer.key_id == world.coordinator.key_id
        assert bundle.manifest.round == 1
        records = bundle_items(b.path)
        assert records[0]["kind"] == "calibration" and records[0]["gold"] and records[0]["explanation"]
        rest = records[1:]
        assert len(rest) == b.normal + 3
        for r in rest:
            # gold looks like any other item; no metadata (datasets keep labels and answers there)
            assert set(r) <= {"id", "prompt", "context", "responses", "rubric", "rubric_criteria"}
            seen[r["id"]] += 1
        gold_at = [n for n, r in enumerate(rest) if r["id"].startswith("gold-")]
        assert len(gold_at) == 3
        gold_places.append(gold_at)
    # shuffled in, not put first (a shuffle seeded by the annotator's key may put them first in
    # one bundle, about once in two thousand; in all three, never in practice)
    assert any(places != [0, 1, 2] for places in gold_places)
    normal = {k: v for k, v in seen.items() if not k.startswith("gold-")}
    assert set(normal.values()) == {2} and len(normal) == 32
    pairs = Counter(frozenset(k for k, b in enumerate(bundles) if iid in {r["id"] for r in bundle_items(b.path)})
                    for iid in normal)
    assert len(pairs) == 3  # every pair of annotators shares items


def test_merge_agreement_status(world, tmp_path):
    store = world.copy(tmp_path)
    reports = merge_results(store, paths=world.results)
    for r, person in zip(reports, world.people, strict=True):
        assert r.refusal is None and r.signer == person.key_id
        assert r.accepted == r.labels > 0 and r.replaced == r.ignored == r.refused == 0
    log = queries.bundle_log(store, PID)
    assert [e["sha256"] for e in log] == [r.sha256 for r in reports]
    # each label is stored as its validated model writes it, and its columns are the label's own
    stored = store.query("SELECT project_id, item_id, question_id, annotator, revision, submitted_at, data"
                         " FROM labels")
    assert len(stored) == sum(r.accepted for r in reports)
    for *columns, data in stored:
        label = Label.model_validate_json(data)
        assert label.model_dump_json() == data
        assert columns == [label.project_id, label.item_id, label.question_id, label.annotator, label.revision,
                           json.loads(data)["submitted_at"]]
    assert log[0]["counts"]["accepted"] == reports[0].accepted

    report = quality_report(store)
    assert report.humans == [p.key_id for p in world.people]
    helpful = next(s for s in report.variables if s.key == "helpful.choice")
    assert helpful.pairable == 32 and helpful.ratings == 64
    assert helpful.alpha is not None and helpful.band in ("good", "watch", "flagged")
    assert len(helpful.pairs) == 3 and all(p.n > 0 and p.kappa is not None for p in helpful.pairs)
    assert sum(helpful.distribution.values()) == 64
    ids, grid = heatmap(report, "helpful.choice")
    assert ids == report.humans and grid[0][0] == 1.0 and grid[0][1] == grid[1][0]

    by_key = {a.annotator: a for a in report.annotators}
    for i, p in enumerate(world.people):
        a = by_key[p.key_id]
        assert a.gold_items == 3 and a.gold_accuracy is not None
        assert a.calibration_items == 1 and a.calibration_accuracy is not None
        assert a.position_picks > 0 and 0 <= a.position_a_share <= 1
        assert a.median_seconds == 10.0 * (i + 1)
        assert a.cost is not None and abs(a.cost - a.hours * 60.0) < 1e-9
        assert a.labeled == a.assigned == next(b for b in world.assignment.bundles
                                               if b.annotator == p.key_id).normal + 4
        assert a.revision_rate == 0.0
    statuses = Counter(c.status for c in report.consensus)
    assert statuses["agreed"] + statuses["conflict"] == 64  # 32 items x 2 questions, 2 ratings each
    assert statuses["conflict"] == len(report.conflicts) > 0
    agreed = next(c for c in report.consensus if c.status == "agreed" and c.question_id == "helpful")
    assert agreed.value["mode"] == "pairwise" and agreed.support == 1.0
    assert report.by_round == report.by_guidelines == []  # one round, one guidelines version
    json.dumps(report.as_dict())  # JSON-ready
    tables = csv_tables(report)
    assert tables["pairs.csv"].count("\n") == 1 + 3 * 3  # three pairs of people, three questions

    status = project_status(store)
    assert status.bundles == 3 and status.items == {"normal": 32, "gold": 3, "calibration": 1}
    assert all(p["remaining"] == 0 for p in status.progress) and len(status.progress) == 3
    assert status.rounds[0]["assigned"] == status.rounds[0]["labeled"] == 64 + 3 * 4


def test_merging_twice_changes_nothing(world, tmp_path):
    store = world.copy(tmp_path)
    merge_results(store, paths=world.results)
    before = dump(store)
    again = merge_results(store, paths=world.results)
    assert all(r.already_merged for r in again)
    assert again[0].message.endswith("already merged, nothing changed")
    assert dump(store) == before


def current(store, annotator, item_id):
    rows = store.query("SELECT data FROM labels WHERE annotator=? AND item_id=? AND question_id='helpful'"
                       " ORDER BY revision DESC LIMIT 1", (annotator, item_id))
    return Label.model_validate_json(rows[0][0])


def test_older_revision_never_replaces_newer(world, tmp_path):
    store = world.copy(tmp_path)
    key = world.people[0].key_id
    (newer,) = merge_results(store, paths=[world.newer])
    assert newer.accepted == newer.labels
    (older,) = merge_results(store, paths=[world.results[0]])
    assert older.accepted == older.replaced == older.refused == 0 and older.ignored == older.labels
    assert any("older than revision 2" in r for r in older.reasons)
    assert current(store, key, world.changed_item).revision == 2


def test_newer_revision_replaces_older(world, tmp_path):
    store = world.copy(tmp_path)
    key = world.people[0].key_id
    merge_results(store, paths=[world.results[0]])
    first = current(store, key, world.changed_item)
    (r,) = merge_results(store, paths=[world.newer])
    # a resubmitted item is a new revision of each of its two questions
    assert r.replaced == 2 and r.accepted == 0 and r.ignored == r.labels - 2
    now = current(store, key, world.changed_item)
    assert now.revision == 2 and now.answer != first.answer
    assert len(store.query("SELECT 1 FROM labels WHERE annotator=? AND item_id=? AND question_id='helpful'",
                           (key, world.changed_item))) == 2  # every revision kept
    stats = next(a for a in quality_report(store).annotators if a.annotator == key)
    assert stats.revision_rate > 0


def test_adaptive_round_sends_conflicts_to_one_more_annotator(world, tmp_path):
    store = world.copy(tmp_path)
    merge_results(store, paths=world.results)
    conflicts = {c.item_id for c in quality_report(store).conflicts}
    r = assign_round(store, identity=world.coordinator, out_dir=tmp_path / "round2", adaptive=True)
    assert r.round == 2 and r.items == len(conflicts)
    rows = store.query("SELECT item_id, count(*) FROM assignments WHERE round=2 AND kind='normal'"
                       " GROUP BY item_id")
    assert {row[0] for row in rows} == conflicts and {row[1] for row in rows} == {1}
    for row in store.query("SELECT item_id, count(DISTINCT annotator) FROM assignments"
                           " WHERE kind='normal' GROUP BY item_id"):
        assert row[1] == (3 if row[0] in conflicts else 2)
    assert all(b.gold == 0 for b in r.bundles)  # each had every gold item in round 1 already


def test_figures_before_any_label(world, tmp_path):
    store = world.copy(tmp_path)
    report = quality_report(store)
    assert report.humans == [] and report.consensus == [] and len(report.annotators) == 3
    assert all(v.alpha is None and v.band == "n/a" for v in report.variables)
    assert all(a.labeled == 0 and a.gold_accuracy is None for a in report.annotators)
    json.dumps(report.as_dict())
    csv_tables(report)
    assert project_status(store).labels == 0


def test_labels_with_awkward_text_are_stored_exactly_and_merge_again_as_the_same(world, tmp_path):
    from annotary.bundles.bundle import write_bundle
    from annotary.bundles.records import dump_jsonl

    store = world.copy(tmp_path)
    awkward = 'say "no" \\ to C:\\temp\n\ttab, é 日本 🙂 </script> \u2028 \x7f \x00 end'
    labels = [lab.model_copy(update={"rationale": f"{awkward} {n}"})
              for n, lab in enumerate(read_bundle(world.results[0]).records("results.jsonl", Label))]
    path = tmp_path / "awkward.annotary"
    write_bundle(path, kind="results", project_id=PID, project_name="x", identity=world.people[0],
                 members={"results.jsonl": dump_jsonl(labels)})
    (merged,) = merge_results(store, paths=[path])
    assert merged.accepted == len(labels)
    stored = {r[0]: r[1] for r in store.query("SELECT item_id || '/' || question_id, data FROM labels")}
    for lab in labels:
        assert stored[f"{lab.item_id}/{lab.question_id}"] == lab.model_dump_json()
    # the same labels in another bundle: the same revisions with the same content, ignored
    again = tmp_path / "again.annotary"
    write_bundle(again, kind="results", project_id=PID, project_name="y", identity=world.people[0],
                 members={"results.jsonl": dump_jsonl(labels)})
    (second,) = merge_results(store, paths=[again])
    assert second.ignored == len(labels) and second.refused == 0


def test_a_label_line_repeating_a_key_refuses_the_bundle(world, tmp_path):
    from annotary.bundles.bundle import write_bundle

    store = world.copy(tmp_path)
    labels = read_bundle(world.results[0]).records("results.jsonl", Label)
    first = labels[0]
    other = "B" if first.answer.choice == "A" else "A"
    line = first.model_dump_json()
    # the same key twice: SQLite's JSON would read the first, the validation reads the last
    twice = line[:-1] + ',"answer":' + first.answer.model_copy(
        update={"choice": other, "preferred": None}).model_dump_json() + "}"
    rest = "".join(lab.model_dump_json() + "\n" for lab in labels[1:])
    path = tmp_path / "twice.annotary"
    write_bundle(path, kind="results", project_id=PID, project_name="x", identity=world.people[0],
                 members={"results.jsonl": (twice + "\n" + rest).encode()})
    before = list(store.conn.iterdump())
    (merged,) = merge_results(store, paths=[path])
    assert merged.refusal == 'results.jsonl line 1: not valid JSON (key "answer" appears twice in one object)'
    assert list(store.conn.iterdump()) == before
