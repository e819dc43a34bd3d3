"""The classification format: text and label(s) of a categorical question, loaded by Hugging Face
`datasets` with ClassLabel / Sequence(ClassLabel) features; categorical labels in labels-long."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import AnnotaryError
from annotary.ops.export import export_dataset
from tests.categorical.common import DIAGNOSIS_Q, ERRORS
from tests.categorical.conftest import cat_world  # noqa: F401  (the session fixture, reused)


@pytest.fixture
def store(cat_world, tmp_path):  # noqa: F811
    s = cat_world.copy(tmp_path)
    yield s
    s.close()


def test_single_choice_loads_as_class_label(store, tmp_path, load, hf):
    out = tmp_path / "diagnosis"
    report = export_dataset(store, out=out, fmt="classification", question="diagnosis")
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    # six items, three annotators: the items with a plurality are exported, the three-way split is not
    assert report.rows == len(rows) == 5
    assert {r["label"] for r in rows} <= set(DIAGNOSIS_Q["categories"])
    first = next(r for r in rows if r["item_id"] == "case-0")
    assert first["label"] == "neurosis" and first["text"].startswith("Question 0 from a patient")
    assert first["responses"] == ["Answer 0 to question 0.", "Answer 1 to question 0."]
    names = DIAGNOSIS_Q["categories"]
    ds = load(out).cast_column("label", hf.ClassLabel(names=names))
    assert ds.features["label"].names == names
    assert ds[[r["item_id"] for r in rows].index("case-0")]["label"] == names.index("neurosis")
    card = (out / "README.md").read_text()
    assert "ClassLabel(names=names)" in card and "3. neurosis" in card
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == names and manifest["mode"] == "categorical"
    # the features given at load time, as the card's columns say
    features = hf.Features({"item_id": hf.Value("string"), "text": hf.Value("string"),
                            "responses": hf.Sequence(hf.Value("string")),
                            "label": hf.ClassLabel(names=names), "other": hf.Value("string")})
    again = hf.load_dataset("json", data_files=str(out / "train.jsonl"), split="train",
                            features=features, cache_dir=str(tmp_path / "c2"))
    assert again.features["label"].int2str(again[0]["label"]) == rows[0]["label"]


def test_multi_choice_loads_as_a_sequence_of_class_labels(store, tmp_path, load, hf):
    out = tmp_path / "errors"
    export_dataset(store, out=out, fmt="classification", question="errors")
    rows = {r["item_id"]: r for r in map(json.loads, (out / "train.jsonl").read_text().splitlines())}
    assert rows["case-0"]["labels"] == ["hallucination", "omission"]  # 1 2, 1 2, 1
    assert rows["case-1"]["labels"] == []  # none of these, twice
    names = [*ERRORS, "Other"]
    ds = load(out).cast_column("labels", hf.Sequence(hf.ClassLabel(names=names)))
    at = list(rows).index("case-0")
    assert ds[at]["labels"] == [0, 1]
    assert "Sequence(ClassLabel(names=names))" in (out / "README.md").read_text()


def test_per_response_rows_and_labels_long(store, tmp_path, load):
    out = tmp_path / "safe"
    export_dataset(store, out=out, fmt="classification", question="safe")
    rows = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    assert rows and all(r["response_id"] in ("m0", "m1") and r["text"].startswith("Answer") for r in rows)
    assert all(r["label"] in ("safe", "unsafe", "unclear") for r in rows)
    long = tmp_path / "long"
    export_dataset(store, out=long, fmt="labels-long", question="errors")
    answers = [json.loads(r["answer"]) for r in map(json.loads, (long / "train.jsonl").read_text().splitlines())]
    assert len(answers) == 18 and all(a["mode"] == "categorical" for a in answers)


def test_classification_refuses_other_questions(store, tmp_path):
    with pytest.raises(AnnotaryError, match="several questions fit .errors, diagnosis, safe."):
        export_dataset(store, out=tmp_path / "x", fmt="classification")
    assert not (tmp_path / "x").exists()
