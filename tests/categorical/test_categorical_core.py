"""The categorical spec and answer: clear refusals, and a bundle with a wrong answer refused whole."""

import json
import zipfile

import pytest

from annotary.bundles.bundle import read_bundle, write_bundle
from annotary.core.errors import LabelError, SpecError
from annotary.core.items import Item
from annotary.core.labels import CategoricalAnswer, check_answer_fits
from annotary.core.spec import parse_spec
from annotary.flows.modes import parse_answer
from annotary.ops.merge import merge_results
from tests.categorical.common import DIAGNOSIS_Q, ERRORS_Q, PER_RESPONSE_Q
from tests.categorical.conftest import PID


def spec(**change):
    return parse_spec({"name": "x", "questions": [{**ERRORS_Q, **change}]})


@pytest.mark.parametrize(("change", "message"), [
    ({"categories": ["only one"]}, "1 given; a categorical question has 2 to 50"),
    ({"categories": [f"c{n}" for n in range(51)]}, "51 given; a categorical question has 2 to 50"),
    ({"categories": ["omission", "Omission "]}, "category 'Omission' is listed twice"),
    ({"categories": ["omission", "  "]}, "category 2 has an empty name"),
    ({"categories": [{"name": ""}, "b"]}, "category 1 has an empty name"),
    ({"categories": ["a", {"name": "b", "colour": "red"}]}, "categories.1.colour: Extra inputs"),
    ({"categories": ["a", "Other"], "other": True}, "a category named 'Other' and other = true"),
    ({"target": "answer"}, "target: Input should be 'item' or 'response'"),
])
def test_spec_refuses_with_a_clear_message(change, message):
    with pytest.raises(SpecError) as err:
        spec(**change)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_spec_reads_strings_tables_and_descriptions_from_toml(tmp_path):
    from annotary.core.spec import load_spec_file

    path = tmp_path / "spec.toml"
    path.write_text('name = "Legal"\n[[questions]]\nid = "issue"\nmode = "categorical"\n'
                    'text = "Which issue?"\nmultiple = true\ntarget = "response"\nother = true\n'
                    'categories = ["tenancy", { name = "employment", description = "Work contracts" }]\n')
    q = load_spec_file(path).questions[0]
    assert q.names() == ["tenancy", "employment"]
    assert q.categories[1].description == "Work contracts"
    assert (q.multiple, q.target, q.other) == (True, "response", True)


ITEM = Item.model_validate({"id": "i1", "prompt": "p", "responses": [
    {"id": "r1", "text": "a"}, {"id": "r2", "text": "b"}]})


@pytest.mark.parametrize(("question", "answer", "problem"), [
    (DIAGNOSIS_Q, {"categories": ["flu"]}, "'flu' is not a category of the question"),
    (DIAGNOSIS_Q, {"categories": ["neurosis", "other"]}, "exactly one, not 2"),
    (DIAGNOSIS_Q, {"categories": []}, "exactly one, not 0"),
    (DIAGNOSIS_Q, {"categories": [], "other": "flu"}, "offers no 'Other'"),
    (ERRORS_Q, {"categories": ["omission", "omission"]}, "picked twice"),
    (ERRORS_Q, {"other": "  "}, "answer.other: empty"),
    (ERRORS_Q, {"responses": {"r1": {"categories": []}}}, "asked once per item"),
    (PER_RESPONSE_Q, {"categories": ["safe"]}, "asked once per response"),
    (PER_RESPONSE_Q, {"responses": {"r1": {"categories": ["safe"]}}}, "responses.r2: required"),
    (PER_RESPONSE_Q, {"responses": {"r1": {"categories": ["safe"]}, "r2": {"categories": ["x"]},
                                    }}, "responses.r2.categories: 'x' is not a category"),
    (PER_RESPONSE_Q, {"responses": {"r1": {"categories": ["safe"]}, "r9": {"categories": ["safe"]},
                                    "r2": {"categories": ["safe"]}}}, "unknown response 'r9'"),
])
def test_answers_that_do_not_fit_are_refused(question, answer, problem):
    q = parse_spec({"name": "x", "questions": [question]}).questions[0]
    a = CategoricalAnswer.model_validate({"mode": "categorical", **answer})
    with pytest.raises(LabelError, match=problem):
        check_answer_fits(q, a, ITEM, "gold")


def test_fitting_answers_pass_and_round_trip_through_json():
    for question, answer in [(DIAGNOSIS_Q, {"categories": ["neurosis"]}),
                             (ERRORS_Q, {"categories": []}),  # none of these
                             (ERRORS_Q, {"categories": ["omission"], "other": "a withdrawn drug"}),
                             (PER_RESPONSE_Q, {"responses": {"r1": {"categories": ["safe"]},
                                                             "r2": {"categories": ["unclear"]}}})]:
        q = parse_spec({"name": "x", "questions": [question]}).questions[0]
        a = parse_answer({"mode": "categorical", **answer})
        check_answer_fits(q, a, ITEM, "gold")
        assert parse_answer(json.loads(a.model_dump_json())) == a


def test_a_bundle_with_one_category_not_in_the_spec_is_refused_whole(cat_world, tmp_path):
    store = cat_world.copy(tmp_path)
    before = store.conn.execute("select count(*) from labels").fetchone()[0]
    lines = read_bundle(cat_world.results[0]).member("results.jsonl").splitlines()
    records = [json.loads(line) for line in lines]
    target = next(r for r in records if r["question_id"] == "diagnosis")
    target["answer"]["categories"] = ["influenza"]
    target["revision"] = 2
    out = tmp_path / "bad.annotary"
    write_bundle(out, kind="results", project_id=PID, project_name="x", identity=cat_world.people[0],
                 members={"results.jsonl": b"".join(json.dumps(r).encode() + b"\n" for r in records)})
    assert zipfile.is_zipfile(out)
    report, = merge_results(store, paths=[out])
    assert report.refusal is not None and "'influenza' is not a category" in report.refusal
    assert store.conn.execute("select count(*) from labels").fetchone()[0] == before
