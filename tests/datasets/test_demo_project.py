"""The bundled demo project: its spec loads, its items fit it, its guidelines cover its questions."""

from __future__ import annotations

import re
from pathlib import Path

from annotary.core.items import check_item_fits
from annotary.core.spec import PairwiseQuestion, load_spec_file
from annotary.datasets.readers import read_items

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo"


def test_demo_spec_loads():
    spec = load_spec_file(DEMO / "spec.toml")
    assert spec.project_id == "demo-pairwise"
    assert spec.name == "Demo — which answer is better?"
    helpful, harmless, overall = spec.questions
    assert isinstance(helpful, PairwiseQuestion) and isinstance(harmless, PairwiseQuestion)
    # the digits the README promises: an optional strength scale
    assert (overall.scale, overall.points, overall.required) == ("strength", 5, False)
    assert overall.strength_labels()[0] == "A much better"
    assert (helpful.id, helpful.scale, helpful.rationale, helpful.confidence) == (
        "helpful", "fourway", "optional", "optional")
    assert (harmless.id, harmless.scale, harmless.rationale) == ("harmless", "tie", "off")


def test_demo_items_fit_the_spec():
    spec = load_spec_file(DEMO / "spec.toml")
    result = read_items(DEMO / "items.jsonl")
    assert result.shape == "item" and 28 <= len(result.items) <= 34
    for item in result.items:
        check_item_fits(item, spec)
        assert [r.id for r in item.responses] == ["r1", "r2"]
        assert all(r.text.strip() for r in item.responses)


def test_demo_mixes_llmbar_subsets_and_two_conversations():
    items = read_items(DEMO / "items.jsonl").items
    llmbar = [i for i in items if i.metadata["source"] == "LLMBar"]
    subsets = {i.metadata["subset"].split("/")[0] for i in llmbar}
    assert subsets == {"Natural", "Adversarial"}
    assert all(i.metadata["gold_label"] in (1, 2) and i.id.startswith("llmbar-") for i in llmbar)
    chats = [i for i in items if isinstance(i.prompt, list)]
    assert len(chats) == 2
    assert all([t.role for t in i.turns] == ["user", "assistant", "user"] for i in chats)
    assert all(i.metadata["source"] == "OpenAssistant" for i in chats)
    answers = [r.text for i in items for r in i.responses]
    assert any("```" in t for t in answers)  # a code block
    assert any(re.search(r"^(- |1\. )", t, re.M) for t in answers)  # a list


def test_guidelines_have_a_heading_per_question_and_examples():
    spec = load_spec_file(DEMO / "spec.toml")
    headings = re.findall(r"^#+\s+(.+?)\s*$", (DEMO / "guidelines.md").read_text(), re.M)
    for q in spec.questions:
        assert q.guidelines_section in headings
    assert "Good and bad examples" in headings


def test_demo_data_licences_are_recorded():
    text = (DEMO / "LICENSE-DATA.md").read_text()
    for needle in ("princeton-nlp/LLMBar", "900616bff90b6c6c8e1681f7d079250637c55992",
                   "LAION-AI/Open-Assistant", "f1e6ed9526f5817531f3ab85441a40b3671ddccb",
                   "Copyright (c) 2023 Princeton Natural Language Processing",
                   "Apache License", "Version 2.0, January 2004"):
        assert needle in text


def test_nothing_reads_the_shared_folder():
    # a user's clone has no shared data folder: readers, tests and demo must stand alone
    needles = (".." + "/shared", "/work" + "/shared")  # split so this file does not match itself
    folders = [ROOT / "desktop" / "annotary" / "datasets", ROOT / "tests" / "datasets"]
    for path in (p for f in folders for p in f.rglob("*.py")):
        text = path.read_text()
        assert not any(n in text for n in needles), path
