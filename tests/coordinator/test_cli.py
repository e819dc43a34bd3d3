"""The coordinator's commands end to end: create, roster, assign, merge, labels import, agreement, status."""

from __future__ import annotations

import json

from click.testing import CliRunner

from annotary.app import cli
from annotary.ops.importing import import_tasks
from annotary.ops.results import export_results
from annotary.store import open_store
from tests.coordinator.conftest import DEMO, PID, gold_items, label_everything


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def user_error(result, text):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], result.stderr


def test_coordinator_commands(world, tmp_path):
    run("identity", "create", "--name", "Coordinator Cho", "--role", "coordinator")
    me = tmp_path / "me.card.json"
    assert "card of Coordinator Cho" in run("identity", "export", "--out", me).output
    db = tmp_path / "project.db"
    out = run("project", "create", "--spec", DEMO / "spec.toml", "--items", DEMO / "items.jsonl",
              "--out", db).output
    assert "project 'demo-pairwise', 32 items" in out and "items.jsonl: item, 32 items" in out
    user_error(run("project", "create", "--spec", DEMO / "spec.toml", "--items", DEMO / "items.jsonl",
                   "--out", db, ok=False), "already exists")

    assert "3 added" in run("roster", "add", db, *world.cards, "--rate", "1/min").output
    people = json.loads(run("roster", "list", db, "--json").output)
    assert [p["name"] for p in people] == ["Ada Lee", "Bo Chen", "Cy Diaz"]
    assert {p["rate_per_hour"] for p in people} == {60.0}
    user_error(run("roster", "add", db, me, "--rate", "cheap", ok=False), "rate 'cheap'")

    user_error(run("project", "assign", db, "--overlap", "5", "--out-dir", tmp_path / "r1", ok=False),
               "overlap 5 is larger than the roster (3 active annotators)")
    assigned = json.loads(run("project", "assign", db, "--overlap", "2", "--gold", gold_items(tmp_path / "g.jsonl"),
                              "--out-dir", tmp_path / "r1", "--json").output)
    assert assigned["round"] == 1 and assigned["items"] == 32 and len(assigned["bundles"]) == 3

    results = []
    for i, person in enumerate(world.people):
        s = open_store(tmp_path / f"a{i}.db")
        bundle = next(b["path"] for b in assigned["bundles"] if b["annotator"] == person.key_id)
        import_tasks(s, bundle, trust_new_key=True)
        label_everything(s, person, i)
        results.append(tmp_path / f"r{i}.annotary")
        export_results(s, project_id=PID, identity=person, out=results[-1])
        s.close()

    merged = run("merge", db, *results).output.splitlines()
    assert len(merged) == 3 and all(" accepted, 0 replaced, 0 ignored, 0 refused of " in x for x in merged)
    again = run("merge", db, results[0], "--json").output
    assert json.loads(again)[0]["already_merged"] is True
    bad = tmp_path / "bad.annotary"
    bad.write_bytes(b"not a zip")
    mixed = run("merge", db, bad, results[1], ok=False)
    assert mixed.exit_code == 2 and "already merged, nothing changed" in mixed.stdout
    assert mixed.stderr.startswith("error: bad.annotary: refused: ") and len(mixed.stderr.splitlines()) == 1

    judge = tmp_path / "judge.jsonl"
    judge.write_text(json.dumps({"item_id": "llmbar-natural-2", "question_id": "helpful",
                                 "answer": {"mode": "pairwise", "choice": "B"}}) + "\n")
    assert "rater:judge (non-human rater): 1 labels added" in run("labels", "import", db, judge,
                                                                  "--rater", "judge").output

    text = run("agreement", db, "--csv-dir", tmp_path / "csv").output
    assert "helpful.choice" in text and "annotators:" in text and "non-human raters" in text
    assert (tmp_path / "csv" / "pairs.csv").read_text().startswith("question_id,variable,a,a_name,b")
    data = json.loads(run("agreement", db, "--question", "helpful", "--json").output)
    assert [v["question_id"] for v in data["variables"]] == ["helpful"]
    assert len(data["annotators"]) == 3 and data["raters"][0]["rater"] == "rater:judge"
    user_error(run("agreement", db, "--question", "nope", ok=False), "no question 'nope'")

    status = json.loads(run("status", db, "--json").output)
    assert status["bundles"] == 3 and status["items"]["gold"] == 3
    assert all(p["remaining"] == 0 for p in status["progress"])
    assert "rater:judge (non-human): 1 labels" in run("status", db).output

    key = world.people[2].key_id
    assert "removed Cy Diaz" in run("roster", "remove", db, key).output
    assert "Cy Diaz" in run("roster", "list", db).output.splitlines()[-1] and "removed" in run("roster", "list", db).output
    user_error(run("status", tmp_path / "none.db", ok=False), "no such project file")
