"""The published JSON Schemas match the models (`make schemas` refreshes them)."""

from annotary.core.schema import schema_texts
from annotary.paths import resources_dir


def test_published_schemas_are_current():
    folder = resources_dir() / "schema"
    for name, text in schema_texts().items():
        path = folder / name
        assert path.exists(), f"{name} missing: run `make schemas`"
        assert path.read_text(encoding="utf-8") == text, f"{name} is stale: run `make schemas`"


def test_schemas_describe_all_six_modes():
    import json

    spec = json.loads(schema_texts()["spec.schema.json"])
    modes = {d["properties"]["mode"]["const"] for k, d in spec["$defs"].items() if k.endswith("Question")}
    assert modes == {"pairwise", "ranking", "scoring", "rubric", "demonstration", "categorical"}
    label = json.loads(schema_texts()["label.schema.json"])
    answers = {d["properties"]["mode"]["const"] for k, d in label["$defs"].items() if k.endswith("Answer")}
    assert answers == modes
