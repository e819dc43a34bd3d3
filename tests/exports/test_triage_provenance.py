"""Exports of a project assigned under triage: answers one person decided with the judge's agreement."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from annotary.app import cli
from annotary.core.adjudication import PROVENANCE
from annotary.core.errors import AnnotaryError
from annotary.ops.export import export_dataset
from annotary.ops.project import open_project
from tests.coordinator.test_competence_routing import import_answers, make_project

PERSON = ["A", "B", "A", "tie", "A", "B", "A", "B"]
# the judge agrees on 0-2 and 7; disagrees on 3 and 4; is unsure on 5; is silent on 6
JUDGE = {0: ("A", 0.9), 1: ("B", 0.9), 2: ("A", None), 3: ("A", 0.9), 4: ("B", 0.9), 5: ("B", 0.3), 7: ("B", 0.8)}


@pytest.fixture
def triaged(tmp_path):
    """Eight items one outside person labelled; the judge's labels; one triage round assigned."""
    db = make_project(tmp_path / "triaged", 8, annotators=2, digits=1)
    import_answers(db, "ada", {f"i{n}": (c, None) for n, c in enumerate(PERSON)})
    import_answers(db, "judge", {f"i{n}": v for n, v in JUDGE.items()}, human=False)
    r = CliRunner().invoke(cli, ["project", "assign", str(db), "--triage", "judge", "--min-rater-confidence", "0.6",
                                 "--out-dir", str(db.parent / "round1")])
    assert r.exit_code == 0, r.output
    assert "4 items  settled: one person and judge agree" in r.output
    return db


def export(db, out, *args):
    r = CliRunner().invoke(cli, ["dataset", "export", str(db), "--out", str(out), *args])
    return r


def test_the_card_and_manifest_name_the_items_one_person_and_the_judge_decided(triaged, tmp_path):
    out = tmp_path / "long"
    r = export(triaged, out, "--format", "labels-long", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["by_provenance"] == {"single+judge": 4, "single": 4}
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    prov = {row["item_id"]: row["provenance"] for row in rows if row["human"]}
    assert prov == {f"i{n}": "single+judge" if n in (0, 1, 2, 7) else "single" for n in range(8)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["single_judge_items"] == ["i0", "i1", "i2", "i7"]
    assert manifest["triage_rounds"] == [{"round": 1, "rater": "judge", "min_rater_confidence": 0.6,
                                          "tolerance": 0.0}]
    card = (out / "README.md").read_text()
    assert "| single+judge | 4 |" in card
    assert "4 of the items here were decided by one person with the judge's agreement" in card
    assert "round 1, judge `judge`" in card


def test_min_provenance_leaves_them_out(triaged, tmp_path):
    r = export(triaged, tmp_path / "majority", "--format", "trl-preference", "--min-provenance", "single+judge",
               "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    # the four judged answers stay; the lone answers the judge did not confirm go (one is a tie: no row)
    assert data["by_provenance"] == {"single+judge": 4} and data["dropped"] == {
        "provenance weaker than single+judge": 4}
    r = export(triaged, tmp_path / "none", "--format", "trl-preference", "--min-provenance", "majority")
    assert r.exit_code == 2 and "every final answer" in r.stderr and not (tmp_path / "none").exists()
    store = open_project(triaged)
    with pytest.raises(AnnotaryError, match="unknown provenance 'judge'; one of gold, adjudicated, unanimous, "
                                            "majority, single\\+judge, single"):
        export_dataset(store, out=tmp_path / "x", fmt="trl-preference", min_provenance="judge")
    store.close()
    r = export(triaged, tmp_path / "bad", "--format", "trl-preference", "--min-provenance", "two-people")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1 and "'single+judge'" in r.stderr
    assert PROVENANCE.index("majority") < PROVENANCE.index("single+judge") < PROVENANCE.index("single")


def test_without_triage_one_answer_stays_single(tmp_path):
    db = make_project(tmp_path / "plain", 1, annotators=0, digits=1)
    import_answers(db, "ada", {"i0": ("A", None)})
    import_answers(db, "judge", {"i0": ("A", None)}, human=False)
    r = export(db, tmp_path / "out", "--format", "trl-preference", "--json")
    assert json.loads(r.output)["by_provenance"] == {"single": 1}
    assert "single_judge_items" not in json.loads((tmp_path / "out" / "manifest.json").read_text())
