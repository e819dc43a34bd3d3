"""A coordinator's first real files: bad rows set aside with --skip-invalid, model completions joined with --responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotary.bundles.bundle import read_bundle
from annotary.ops.project import load_items, open_project
from tests.cli.test_cli import PAIRWISE_TOML, me, run, user_error, write_spec  # noqa: F401  (me: a fixture)
from tests.conftest import FIXTURES

DEMO = Path(__file__).resolve().parents[2] / "resources"
HEALTHBENCH = FIXTURES / "healthbench" / "oss_eval.sample.jsonl"
MODEL_A = FIXTURES / "responses" / "healthbench-model-a.jsonl"
MODEL_B = FIXTURES / "responses" / "healthbench-model-b.jsonl"
RUBRIC = DEMO / "demo-rubric" / "spec.toml"


def created(out: Path) -> dict:
    store = open_project(out)
    try:
        pid = store.one("SELECT id FROM projects")[0]
        return load_items(store, pid)
    finally:
        store.close()


def rejected(out: Path) -> list[dict]:
    return [json.loads(line) for line in Path(f"{out}.rejected.jsonl").read_text(encoding="utf-8").splitlines()]


def test_hh_rlhf_irregular_rows_become_a_project(me, tmp_path):  # noqa: F811
    out = tmp_path / "hh.db"
    text = run("project", "create", "--spec", DEMO / "demo" / "spec.toml", "--out", out,
               "--items", FIXTURES / "hh-rlhf" / "harmless-base-test.sample.jsonl",
               "--items", FIXTURES / "hh-rlhf" / "harmless-base-test.irregular.jsonl").stdout
    assert "7 items" in text and "left out" not in text
    assert len(created(out)) == 7


def test_a_row_that_cannot_become_an_item_is_named_with_the_way_on(me, tmp_path):  # noqa: F811
    out = tmp_path / "care.db"
    message = user_error("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--out", out)
    assert message == (
        "error: oss_eval.sample.jsonl line 1: item 'healthbench-6f7a2ee9': responses: question 'rubric' grades "
        "a response, item has none; pass --skip-invalid to leave out the rows that cannot become items (they are "
        f"listed, with their line and reason, in {out}.rejected.jsonl)")
    assert not out.exists() and not Path(f"{out}.rejected.jsonl").exists()


def test_skip_invalid_sets_bad_rows_aside_with_line_and_reason(me, tmp_path):  # noqa: F811
    src = tmp_path / "mixed.jsonl"
    lines = HEALTHBENCH.read_text(encoding="utf-8").splitlines()
    src.write_text("\n".join([lines[1], "{not json either", lines[2]]) + "\n", encoding="utf-8")
    out = tmp_path / "care.db"
    # a line that is not JSON is a row like any other
    assert user_error("project", "create", "--spec", RUBRIC, "--items", src, "--out", out).startswith(
        "error: mixed.jsonl line 2: malformed JSON (Expecting property name enclosed in double quotes, column 2); "
        "pass --skip-invalid")
    result = run("project", "create", "--spec", RUBRIC, "--items", src, "--out", out, "--skip-invalid", "--json")
    assert json.loads(result.stdout)["rejected"] == 1
    assert rejected(out) == [{"file": "mixed.jsonl", "line": 2, "record": "{not json either",
                              "reason": "malformed JSON (Expecting property name enclosed in double quotes, column 2)"}]
    src.write_text("\n".join([lines[0], '{"prompt": "q", "rubrics": 3}', *lines[1:]]) + "\n", encoding="utf-8")
    result = run("project", "create", "--spec", RUBRIC, "--items", src, "--out", out, "--skip-invalid", "--json",
                 "--force")
    data = json.loads(result.stdout)
    assert (data["items"], data["rejected"], data["rejected_file"]) == (3, 2, f"{out}.rejected.jsonl")
    assert sorted(created(out)) == ["healthbench-5a6e4a41", "healthbench-5b294937", "healthbench-85408180"]
    first, second = rejected(out)
    assert (first["file"], first["line"], first["item_id"]) == ("mixed.jsonl", 1, "healthbench-6f7a2ee9")
    assert first["reason"] == "item 'healthbench-6f7a2ee9': responses: question 'rubric' grades a response, item has none"
    assert first["item"]["prompt"][0]["role"] == "user"
    assert (second["line"], second["reason"], second["record"]) == (
        2, "rubrics: expected a list of criteria, got a number", {"prompt": "q", "rubrics": 3})
    text = run("project", "create", "--spec", RUBRIC, "--items", src, "--out", out, "--force",
               "--skip-invalid").stdout
    assert text.splitlines()[-1] == f"left out 2 rows that cannot become items: see {out}.rejected.jsonl"
    # a clean run leaves no list of an earlier one behind
    run("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", MODEL_A, "--out", out,
        "--force", "--skip-invalid")
    assert not Path(f"{out}.rejected.jsonl").exists()


def test_tasks_build_skip_invalid(me, tmp_path):  # noqa: F811
    spec = write_spec(tmp_path, PAIRWISE_TOML, "cli-skip")
    out = tmp_path / "round1.annotary"
    message = user_error("tasks", "build", spec, FIXTURES / "item/items.jsonl", "--out", out)
    assert "items.jsonl line" in message and "'q-4'" in message and "--skip-invalid" in message
    text = run("tasks", "build", spec, FIXTURES / "item/items.jsonl", "--out", out, "--skip-invalid").stdout
    assert text.splitlines()[-1] == f"left out 1 row that cannot become items: see {out}.rejected.jsonl"
    (entry,) = rejected(out)
    assert entry["item_id"] == "q-4" and "compares 2 responses, item has 0" in entry["reason"]
    items = read_bundle(out).members["items.jsonl"].decode().splitlines()
    assert len(items) == 3


def test_rubric_project_grades_the_completions_under_evaluation(me, tmp_path):  # noqa: F811
    out = tmp_path / "care.db"
    text = run("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", MODEL_A,
               "--out", out).stdout
    assert "4 items" in text and "responses: 4 from healthbench-model-a.jsonl" in text
    items = created(out)
    assert all([r.id for r in i.responses] == ["model-a"] for i in items.values())
    ulcers = items["healthbench-5a6e4a41"]
    assert ulcers.responses[0].model == "model-a" and ulcers.responses[0].text.startswith("Non-healing ulcers")
    assert ulcers.metadata["response_metadata"] == {"model-a": {"latency_ms": 812}}
    # the source's own completions (ideal and references) are kept, not graded
    assert [r["id"] for r in ulcers.metadata["source_responses"]][0] == "ideal"
    assert ulcers.rubric  # the physicians' criteria stay with the item

    run("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", MODEL_A, "--out", out,
        "--force", "--keep-source-responses")
    items = created(out)
    assert [r.id for r in items["healthbench-6f7a2ee9"].responses] == ["model-a"]  # it has no ideal completion
    assert [r.id for r in items["healthbench-5a6e4a41"].responses][0] == "ideal"
    assert [r.id for r in items["healthbench-5a6e4a41"].responses][-1] == "model-a"


def test_pairwise_project_from_two_models(me, tmp_path):  # noqa: F811
    spec = write_spec(tmp_path, PAIRWISE_TOML, "two-models")
    out = tmp_path / "ab.db"
    message = user_error("project", "create", "--spec", spec, "--items", HEALTHBENCH, "--responses", MODEL_A,
                         "--responses", MODEL_B, "--out", out)
    assert message.startswith(
        "error: oss_eval.sample.jsonl line 4: item 'healthbench-5b294937': responses: question 'helpful' compares "
        "2 responses, item has 1 (no response for it in healthbench-model-b.jsonl); pass --skip-invalid")
    text = run("project", "create", "--spec", spec, "--items", HEALTHBENCH, "--responses", MODEL_A,
               "--responses", MODEL_B, "--out", out, "--skip-invalid").stdout
    assert ("responses: 4 from healthbench-model-a.jsonl, 3 from healthbench-model-b.jsonl "
            "(1 item without one)") in text
    items = created(out)
    assert len(items) == 3
    assert {r.id: r.text for r in items["healthbench-6f7a2ee9"].responses} == {
        "model-a": "Stop the supplement and call your doctor or a pharmacist today: some herbal products interact "
                   "with prescription medicines.",
        "model-b": "Herbal supplements can interact with medicines; ask your pharmacist before taking them together."}
    assert [r.id for r in items["healthbench-85408180"].responses] == ["model-a", "b"]
    assert items["healthbench-85408180"].responses[1].model == "model-b"


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt_id": "nobody", "model": "m", "text": "t"},
     "answers.jsonl line 1: no item with id or prompt_id 'nobody' in the datasets"),
    ({"model": "m", "text": "t"},
     "answers.jsonl line 1: item_id or id or prompt_id: field required (the prompt this response answers)"),
    ({"item_id": "healthbench-6f7a2ee9", "model": "m"},
     "answers.jsonl line 1: text: field required (or response, completion)"),
])
def test_a_bad_responses_row_is_named(me, tmp_path, row, message):  # noqa: F811
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps(row) + "\n", encoding="utf-8")
    out = tmp_path / "p.db"
    got = user_error("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", MODEL_A,
                     "--responses", answers, "--out", out)
    assert got.startswith(f"error: {message}; pass --skip-invalid")
    data = json.loads(run("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", MODEL_A,
                          "--responses", answers, "--out", out, "--skip-invalid", "--json").stdout)
    assert (data["items"], data["rejected"]) == (4, 1)
    assert rejected(out)[0]["file"] == "answers.jsonl" and rejected(out)[0]["line"] == 1


def test_two_responses_of_one_model_for_one_prompt_are_refused(me, tmp_path):  # noqa: F811
    answers = tmp_path / "twice.jsonl"
    answers.write_text(MODEL_A.read_text(encoding="utf-8").splitlines()[0] + "\n" +
                       MODEL_A.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    message = user_error("project", "create", "--spec", RUBRIC, "--items", HEALTHBENCH, "--responses", answers,
                         "--out", tmp_path / "p.db")
    assert "twice.jsonl line 2: item 'healthbench-6f7a2ee9' already has a response 'model-a'" in message


def test_a_row_a_bundle_could_not_carry_back_is_refused_at_build(me, tmp_path):  # noqa: F811
    """Free-form fields (metadata, gold) with an integer beyond 64 bits, NaN or nesting beyond the
    bundle reader's bound are refused when the bundle is built, not when an annotator imports it;
    odd but valid text (NUL, U+2028, CR) goes through and comes back as written."""
    spec = write_spec(tmp_path, PAIRWISE_TOML, "cli-free-form")
    responses = [{"id": "r1", "text": "x\u0000y"}, {"id": "r2", "text": "\U0001f600"}]
    deep: list = [1]
    for _ in range(70):
        deep = [deep]
    rows = [{"id": "ok", "prompt": "nul \u0000 \u2028 sep \r\n end", "responses": responses,
             "metadata": {"largest": 2**63 - 1, "nested": [[[1.5]]]}},
            {"id": "big", "prompt": "p", "responses": responses, "metadata": {"n": 2**70}},
            {"id": "nan", "prompt": "p", "responses": responses, "metadata": {"score": float("nan")}},
            {"id": "deep", "prompt": "p", "responses": responses, "metadata": {"d": deep}}]
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "tasks.annotary"
    message = user_error("tasks", "build", spec, source, "--out", out)
    assert "line 2" in message and "out of range" in message and "--skip-invalid" in message
    run("tasks", "build", spec, source, "--out", out, "--skip-invalid")
    reasons = {entry["record"]["id"]: (entry["line"], entry["reason"]) for entry in rejected(out)}
    assert {k: line for k, (line, _) in reasons.items()} == {"big": 2, "nan": 3, "deep": 4}
    assert "not a number" in reasons["nan"][1] and "levels deep" in reasons["deep"][1]
    (line,) = read_bundle(out).members["items.jsonl"].decode().rstrip("\n").split("\n")  # not at U+2028
    assert json.loads(line)["prompt"] == rows[0]["prompt"]
    assert json.loads(line)["metadata"] == rows[0]["metadata"]
