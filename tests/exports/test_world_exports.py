"""Every format the demo's pairwise questions support, written from the merged world and loaded with `datasets`."""

from __future__ import annotations

import json

import pytest

from annotary.core.errors import AnnotaryError
from annotary.ops.export import export_dataset
from annotary.ops.final import final_answers
from annotary.ops.project import load_items, project_info
from tests.exports.conftest import add_decision, copy_of


def manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def finals(store, q):
    return final_answers(store, question=q)


@pytest.mark.parametrize("question", ["helpful", "harmless"])
@pytest.mark.parametrize("ties", ["drop", "keep"])
def test_trl_preference_is_conversational_and_loads(merged, load, tmp_path, question, ties):
    out = tmp_path / "prefs"
    r = export_dataset(merged, out=out, fmt="trl-preference", question=question, ties=ties)
    answers = finals(merged, question)
    picked = [f for f in answers if f.answer["choice"] in ("A", "B")]
    tied = [f for f in answers if f.answer["choice"] == "tie"]
    ds = load(out)
    assert ds.num_rows == r.rows == len(picked) + (len(tied) if ties == "keep" else 0)
    assert ds.column_names == ["prompt", "chosen", "rejected"] + (["tie"] if ties == "keep" else [])
    items = load_items(merged, project_info(merged).id)
    # the demo holds two OpenAssistant conversations: when one is among the answers, every prompt
    # is a list of messages (which answers agree differs from run to run: keys are made anew)
    if any(isinstance(items[f.item_id].prompt, list) for f in answers):
        assert all(isinstance(p, list) and p[-1]["role"] == "user" for p in ds["prompt"])
        assert all(c[0]["role"] == "assistant" and len(c) == 1 for c in ds["chosen"])
        ds = ds.map(lambda r: {"chosen": r["chosen"][0]["content"], "rejected": r["rejected"][0]["content"]})
    else:
        assert all(isinstance(p, str) for p in ds["prompt"])
    expected = []
    for f in answers:
        first, second = (x.text for x in items[f.item_id].responses)
        if f.answer["choice"] in ("A", "B"):
            expected.append((first, second) if f.answer["choice"] == "A" else (second, first))
        elif f.answer["choice"] == "tie" and ties == "keep":
            expected.append((first, second))
    assert list(zip(ds["chosen"], ds["rejected"], strict=True)) == expected
    if ties == "keep":
        assert sum(ds["tie"]) == len(tied)
    m = manifest(out)
    assert m["rows"] == ds.num_rows and sum(m["by_provenance"].values()) == len(answers)
    assert m["dropped"] == ({"tie": len(tied)} if ties == "drop" and tied else {})


def test_a_decided_conversation_makes_every_prompt_a_conversation(merged_master, load, tmp_path):
    store = copy_of(merged_master, tmp_path)
    items = load_items(store, project_info(store).id)
    chats = [iid for iid, it in items.items() if isinstance(it.prompt, list)]
    for iid in chats:
        add_decision(store, iid, "helpful", {"mode": "pairwise", "choice": "B"}, "B follows the thread")
    out = tmp_path / "prefs"
    export_dataset(store, out=out, fmt="trl-preference", question="helpful", min_provenance="adjudicated")
    ds = load(out)
    strong = [f for f in final_answers(store, question="helpful") if f.provenance in ("gold", "adjudicated")]
    assert len(chats) == 2 and [f.item_id for f in strong if f.provenance == "adjudicated"] == chats
    assert ds.num_rows == len(strong)  # the gold items too: their plain prompts become one user turn
    for row, f in zip(ds, strong, strict=True):
        item = items[f.item_id]
        turns = [t.model_dump() for t in item.prompt] if f.item_id in chats else [
            {"role": "user", "content": item.prompt}]
        assert row["prompt"] == turns
        best = item.responses[1 if f.answer["choice"] == "B" else 0].text
        assert row["chosen"] == [{"role": "assistant", "content": best}]
    sft = load(export_dataset(store, out=tmp_path / "sft", fmt="sft", question="helpful",
                              min_provenance="adjudicated") and tmp_path / "sft")
    assert [m[:-1] for m in sft["messages"]] == ds["prompt"]
    store.close()


def test_every_other_pairwise_format_loads(merged, load, tmp_path):
    answers = finals(merged, "harmless")
    n = {c: sum(1 for f in answers if f.answer["choice"] == c) for c in ("A", "B", "tie", "both_bad")}
    expect = {
        "trl-kto": (["prompt", "completion", "label"], 2 * (n["A"] + n["B"] + n["both_bad"])),
        "sft": (["messages"], n["A"] + n["B"]),
        "alpaca": (["instruction", "input", "output"], n["A"] + n["B"]),
    }
    for fmt, (cols, rows) in expect.items():
        out = tmp_path / fmt
        export_dataset(merged, out=out, fmt=fmt, question="harmless")
        ds = load(out)
        assert ds.column_names == cols and ds.num_rows == rows, fmt
    kto = load(tmp_path / "trl-kto")
    assert sum(kto["label"]) == n["A"] + n["B"]  # one desirable response per pick
    sft = load(tmp_path / "sft")
    assert all(m[-1]["role"] == "assistant" and m[-2]["role"] == "user" for m in sft["messages"])


def test_labels_long_has_every_label_and_parquet_loads(merged, load, tmp_path):
    out = tmp_path / "labels"
    r = export_dataset(merged, out=out, fmt="labels-long", parquet=True)
    stored = merged.one("SELECT count(*) FROM labels WHERE retracted=0")[0]
    ds = load(out)
    assert ds.num_rows == r.rows == stored
    # the round is the partition folder's name (Hugging Face's loader leaves it out)
    assert ds.column_names == [c for c in manifest(out)["columns"] if c != "round"]
    # annotator 0 changed one item: both revisions are there, only the newer is current
    revised = [row for row in ds if row["revision"] == 2]
    assert revised and all(row["current"] for row in revised)
    older = [row for row in ds if row["item_id"] == revised[0]["item_id"] and row["rater"] == revised[0]["rater"]
             and row["question_id"] == revised[0]["question_id"] and row["revision"] == 1]
    assert len(older) == 1 and not older[0]["current"]
    assert {row["rater_name"] for row in ds} == {"Ada Lee", "Bo Chen", "Cy Diaz"}
    assert all(json.loads(row["answer"])["mode"] == "pairwise" for row in ds)
    provenance = {(f.item_id, f.question_id): f.provenance for f in final_answers(merged)}
    assert all(row["provenance"] == provenance.get((row["item_id"], row["question_id"])) for row in ds)


def test_parquet_preference_matches_json(merged, load, tmp_path):
    export_dataset(merged, out=tmp_path / "j", fmt="trl-preference", question="helpful")
    export_dataset(merged, out=tmp_path / "p", fmt="trl-preference", question="helpful", parquet=True)
    assert load(tmp_path / "p").to_list() == load(tmp_path / "j").to_list()
    files = manifest(tmp_path / "p")["files"]
    assert set(files) == {"train.parquet", "README.md"}


def test_card_and_manifest(merged, tmp_path, hf):
    import hashlib

    out = tmp_path / "prefs"
    export_dataset(merged, out=out, fmt="trl-preference", question="helpful", min_provenance="majority")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "train.jsonl"]
    m = manifest(out)
    for name, f in m["files"].items():
        data = (out / name).read_bytes()
        assert f == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    card = (out / "README.md").read_text()
    info = project_info(merged)
    assert card.startswith("---\npretty_name:") and "path: train.jsonl" in card
    assert f"spec version `{info.spec.version()}`, guidelines version `1` (labels made under `1`)" in card
    assert "human annotators: 3" in card and "| helpful.choice | nominal |" in card
    assert '"min_provenance": "majority"' in card and m["files"]["train.jsonl"]["sha256"] in card
    assert m["by_provenance"] and all(f"| {p} | {n} |" in card for p, n in m["by_provenance"].items())
    conflicts = m["conflicts"]
    assert conflicts and f"{conflicts} conflicts nobody has decided yet" in card
    # the folder is a Hugging Face dataset repository: its card's YAML names the data file
    ds = hf.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == m["rows"]


@pytest.mark.parametrize("fmt", ["ranking-pairs", "attributes", "rubric"])
def test_formats_of_other_modes_are_refused(merged, tmp_path, fmt):
    with pytest.raises(AnnotaryError, match=f"format {fmt} is made from .* questions; this project has none"):
        export_dataset(merged, out=tmp_path / "x", fmt=fmt)
    assert not (tmp_path / "x").exists()
