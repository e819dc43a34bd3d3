"""Every demo project: its spec loads, every item fits it, its guidelines cover its questions."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from annotary.core.items import Item, check_item_fits, criteria_for
from annotary.core.labels import Answer, RankingAnswer
from annotary.core.spec import (
    PRESETS,
    DemonstrationQuestion,
    RankingQuestion,
    RubricQuestion,
    ScoringQuestion,
    load_spec_file,
)

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEMOS = {"demo": "demo-pairwise", "demo-ranking": "demo-ranking", "demo-scoring": "demo-scoring",
         "demo-rubric": "demo-rubric", "demo-demonstration": "demo-demonstration"}


def spec_of(folder: str):
    return load_spec_file(RESOURCES / folder / "spec.toml")


def items_of(folder: str) -> list[Item]:
    lines = (RESOURCES / folder / "items.jsonl").read_text(encoding="utf-8").splitlines()
    return [Item.model_validate_json(line) for line in lines if line.strip()]


@pytest.mark.parametrize("folder", DEMOS)
def test_spec_loads_and_every_item_fits(folder):
    spec = spec_of(folder)
    assert (spec.project_id, spec.guidelines_version) == (DEMOS[folder], "1")
    assert spec.name.startswith("Demo — ")
    items = items_of(folder)
    assert len({i.id for i in items}) == len(items)
    if folder != "demo":
        assert 8 <= len(items) <= 12
    for item in items:
        check_item_fits(item, spec)
        assert all(r.text.strip() for r in item.responses)


@pytest.mark.parametrize("folder", DEMOS)
def test_guidelines_have_a_heading_per_question_and_examples(folder):
    headings = re.findall(r"^#+\s+(.+?)\s*$", (RESOURCES / folder / "guidelines.md").read_text(encoding="utf-8"), re.M)
    for q in spec_of(folder).questions:
        assert q.guidelines_section in headings, (folder, q.id)
    assert "Good and bad examples" in headings


@pytest.mark.parametrize("folder, needles", [
    ("demo-ranking", ("LAION-AI/Open-Assistant", "f1e6ed9526f5817531f3ab85441a40b3671ddccb", "Version 2.0, January 2004")),
    ("demo-scoring", ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23", "Version 2.0, January 2004")),
    ("demo-rubric", ("openai/simple-evals", "49cb8f4d843704718e98e0d484aef71083adae7a", "Copyright (c) 2024 OpenAI")),
    ("demo-demonstration", ("yizhongw/self-instruct", "hiyouga/LLaMA-Factory",
                            "ff6d4d12eeb035d6ce06805a5733dd7b29f2ac30", "Version 2.0, January 2004")),
])
def test_licences_are_recorded(folder, needles):
    text = (RESOURCES / folder / "LICENSE-DATA.md").read_text(encoding="utf-8")
    for needle in needles:
        assert needle in text
    for item in items_of(folder):
        assert f"`{item.id}`" in text


def test_ranking_demo_has_ranked_replies_and_one_calibration_item():
    (q,) = spec_of("demo-ranking").questions
    assert isinstance(q, RankingQuestion) and q.allow_ties and q.rationale == "optional"
    items = items_of("demo-ranking")
    for item in items:
        assert 3 <= len(item.responses) <= 5
        assert sorted(item.metadata["human_rank"]) == sorted(r.id for r in item.responses)
    (cal,) = [i for i in items if i.kind == "calibration"]
    gold = TypeAdapter(Answer).validate_python(cal.gold[q.id])
    assert isinstance(gold, RankingAnswer)
    ranks = cal.metadata["human_rank"]
    assert gold.order == [[rid] for rid in sorted(ranks, key=ranks.get)]
    assert cal.explanation and len(cal.explanation) > 100


def test_scoring_demo_uses_the_helpsteer2_axes():
    (q,) = spec_of("demo-scoring").questions
    assert isinstance(q, ScoringQuestion) and q.preset == "helpsteer2"
    assert [a.id for a in q.axes] == [a["id"] for a in PRESETS["helpsteer2"]]
    for item in items_of("demo-scoring"):
        assert 2 <= len(item.responses) <= 3 and all(r.model for r in item.responses)
        assert item.metadata["reference"]


def test_rubric_demo_carries_whole_rubrics_per_item():
    q = spec_of("demo-rubric").question("rubric")
    assert isinstance(q, RubricQuestion) and q.per_item and q.criteria == []
    items = items_of("demo-rubric")
    assert 6 <= len(items) <= 10
    for item in items:
        assert [r.id for r in item.responses] == ["ideal"]
        assert 1 <= len(item.rubric) <= 15 and all(c.required for c in item.rubric)
        assert [c.id for c in item.rubric] == [f"c{n}" for n in range(1, len(item.rubric) + 1)]
        assert criteria_for(q, item) == item.rubric
        assert any(c.points < 0 for c in item.rubric)
    assert any(len(i.turns) > 1 for i in items)


def test_demonstration_demo_edits_drafts_with_cjk_and_placeholders():
    (q,) = spec_of("demo-demonstration").questions
    assert isinstance(q, DemonstrationQuestion) and q.edit_draft and q.min_words == 3
    items = items_of("demo-demonstration")
    for item in items:
        assert [r.id for r in item.responses] == ["draft"]
        assert len(item.responses[0].text.split()) >= q.min_words  # the draft itself is long enough
    cjk = [i for i in items if re.search(r"[\u4e00-\u9fff]", i.prompt)]
    assert len(cjk) == 2
    assert any("{{name}}" in i.responses[0].text and i not in cjk for i in items)
    assert all("{{name}}" in i.responses[0].text for i in cjk)


def test_rubric_demo_asks_an_optional_error_taxonomy():
    errors = spec_of("demo-rubric").question("errors")
    assert (errors.mode, errors.multiple, errors.required, errors.other) == ("categorical", True, False, True)
    assert errors.names() == ["hallucination", "omission", "unsafe advice", "outdated", "wrong jurisdiction"]
    assert all(c.description for c in errors.categories)
