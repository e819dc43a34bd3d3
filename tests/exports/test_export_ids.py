"""An export holds the item ids as one array of bytes and finds the labels' items in it: ids that
are not ASCII, or that begin with another id, are found as they are and exported unchanged."""

from __future__ import annotations

import json

import numpy as np

from annotary.bundles.identity import load_identity
from annotary.ops.export import export_dataset
from annotary.ops.final import Ids, export_columns, final_answers
from annotary.ops.quality import quality_report
from tests.conftest import spec_of
from tests.exports.conftest import OVERALL_Q, build, pw

IDS = ["item-1", "item-10", "élan", "日本-3", "b", "a-b c"]


def test_ids_read_back_and_are_found_by_their_whole_text():
    ids = Ids(np.array([i.encode() for i in IDS], dtype=bytes))
    assert list(ids) == IDS and ids[3] == "日本-3" and ids[1:3] == ["item-10", "élan"] and len(ids) == 6
    find = ids.finder()
    assert find(["item-10", "item-1", "item-100", "item", "日本-3", "élan", "zz", ""]).tolist() == [
        1, 0, -1, -1, 3, 2, -1, -1]
    assert Ids(np.zeros(0, dtype="S1")).finder()(["a"]).tolist() == [-1]


def test_an_export_of_ids_not_in_ascii_holds_the_general_answers(tmp_path, coordinator_dir):
    items = [{"id": i, "prompt": f"Question {n}?", "responses": [{"id": f"r{n}x", "text": "one"},
                                                                  {"id": f"r{n}y", "text": "two"}]}
             for n, i in enumerate(IDS)]
    # item-10 and 日本-3 are conflicts (日本-3 decided below); the others agree
    answers = {"ann": ["A", "B", "A", "A", "tie", "B"], "bea": ["A", "A", "A", "B", "tie", "B"]}
    labels = {who: [(i, "overall", pw(c)) for i, c in zip(IDS, choices, strict=True)]
              for who, choices in answers.items()}
    store = build(tmp_path, spec_of(OVERALL_Q, project_id="pairs"), items, labels, load_identity(coordinator_dir))
    decision = {"item_id": "日本-3", "question_id": "overall", "reviewer": "rev", "revision": 1,
                "decided_at": "2025-05-02T00:00:00+00:00", "answer": pw("B"), "reason": "два is right"}
    with store.atomic():
        store.conn.execute("INSERT INTO decisions (project_id, item_id, question_id, reviewer, revision, data,"
                           " merged_at) VALUES ('pairs','日本-3','overall','rev',1,?,?)",
                           (json.dumps(decision), decision["decided_at"]))

    report, columns = export_columns(store, question="overall")

    general = quality_report(store, question="overall", light=True)
    assert list(columns) == final_answers(store, question="overall", report=general)
    assert [c.item_id for c in report.conflicts] == ["item-10"] == [c.item_id for c in general.conflicts]
    assert report.decided == general.decided and [c.item_id for c in report.decided] == ["日本-3"]
    out = export_dataset(store, out=tmp_path / "out", fmt="trl-preference", question="overall")
    rows = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert out.rows == len(rows) == 4  # the tie is left out, the conflict has no answer
    store.close()
