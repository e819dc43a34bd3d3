"""Reading source datasets into items: every shape, auto-detection, gzip, and refusals."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from annotary.core.errors import ItemError
from annotary.datasets.readers import SHAPES, detect_shape, from_hh_rlhf, pair_order, read_items

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HH = FIXTURES / "hh-rlhf" / "harmless-base-test.sample.jsonl"
HH_IRREGULAR = FIXTURES / "hh-rlhf" / "harmless-base-test.irregular.jsonl"
PANDALM = FIXTURES / "pandalm" / "testset-v1.sample.json"
LLMBAR = FIXTURES / "llmbar" / "natural.sample.json"
TRL_TEXT = FIXTURES / "trl" / "preference-standard.jsonl"
TRL_CONV = FIXTURES / "trl" / "preference-conversational.jsonl"
TRL_IMPLICIT = FIXTURES / "trl" / "preference-implicit.jsonl"
NATIVE = FIXTURES / "item" / "items.jsonl"


def texts(item) -> dict[str, str]:
    return {r.id: r.text for r in item.responses}


def write_lines(path: Path, *records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def refusal(path, fmt="auto") -> str:
    with pytest.raises(ItemError) as info:
        read_items(path, fmt)
    assert "\n" not in str(info.value)
    return str(info.value)


# --- every shape reads -----------------------------------------------------------------------


def test_native_items():
    result = read_items(NATIVE)
    assert (result.shape, len(result.items)) == ("item", 4)
    first = result.items[0]
    assert first.id == "q-1" and first.context.startswith("The meeting moved")
    assert [(r.id, r.model) for r in first.responses] == [("a", "model-x"), ("b", "model-y")]
    assert [t.role for t in result.items[1].turns] == ["user", "assistant", "user"]
    assert result.items[2].kind == "gold" and result.items[2].gold["helpful"]["choice"] == "B"
    assert result.items[3].responses == []


def test_native_item_ids_default_to_file_and_line(tmp_path):
    path = write_lines(tmp_path / "mine.jsonl", {"prompt": "a"}, {"id": 7, "prompt": "b"}, {"prompt": "c"})
    assert [i.id for i in read_items(path).items] == ["mine-1", "7", "mine-3"]


def test_trl_preference_text():
    result = read_items(TRL_TEXT)
    assert (result.shape, len(result.items)) == ("trl-preference", 3)
    item = result.items[0]
    assert item.id == "preference-standard-1"
    assert item.prompt == "What colour is the sky on a clear day?"
    assert sorted(texts(item).values()) == ["Blue.", "Green."]
    assert item.response(item.metadata["source_preference"]).text == "Blue."


def test_trl_preference_conversational():
    items = read_items(TRL_CONV).items
    assert len(items) == 3
    second = items[1]
    assert [t.role for t in second.turns] == ["system", "user", "assistant", "user"]
    assert second.turns[-1].content == "And the Colosseum?"
    assert second.response(second.metadata["source_preference"]).text == "Rome."
    third = items[2]
    assert third.id == "conv-3" and third.metadata["source"] == "hand-written"


def test_trl_preference_implicit_prompt_is_the_shared_part():
    items = read_items(TRL_IMPLICIT).items
    assert [len(i.turns) for i in items] == [1, 3]
    last = items[1]
    assert last.turns[-1].content == "Tell me a fact about cats."
    assert sorted(texts(last).values()) == ["Cats are dogs.", "Cats sleep 12 to 16 hours a day."]
    assert last.response(last.metadata["source_preference"]).text.startswith("Cats sleep")


def test_hh_rlhf_splits_at_the_last_assistant_turn():
    result = read_items(HH)
    assert (result.shape, len(result.items)) == ("hh-rlhf", 5)
    first = result.items[0]
    assert first.id == "harmless-base-test.sample-1"
    assert [t.model_dump() for t in first.turns] == [
        {"role": "user", "content": "What will happen if I drive my car into the water?"}
    ]
    used_car = result.items[4]  # 4 human turns: the prompt is 7 turns, ending with the user
    assert [t.role for t in used_car.turns] == ["user", "assistant"] * 3 + ["user"]
    assert used_car.turns[0].content == (
        "I want to buy a used card, how can I make sure I am not being ripped off?"
    )
    assert used_car.turns[-1].content == "Under $15,000"
    assert sorted(texts(used_car).values()) == [
        "Have you seen any listings on websites such as AutoTrader, Craigslist or CarGurus?",
        "When did you want to buy this car?",
    ]
    chosen = used_car.response(used_car.metadata["source_preference"]).text
    assert chosen.startswith("Have you seen any listings")
    assert all(len(i.responses) == 2 for i in result.items)


def test_hh_rlhf_refuses_transcripts_that_share_no_turn(tmp_path):
    path = write_lines(
        tmp_path / "hh.jsonl",
        {"chosen": "\n\nHuman: hi\n\nAssistant: hello", "rejected": "\n\nHuman: hi\n\nAssistant: yo"},
        {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: b"},
    )
    assert refusal(path) == (
        "hh.jsonl line 2: chosen, rejected: the transcripts differ before their first Assistant turn"
    )
    result = read_items(path, skip_bad=True)
    assert len(result.items) == 1 and result.skipped == [refusal(path)]


def test_hh_rlhf_splits_irregular_transcripts_at_their_last_shared_assistant_turn():
    """Lines 1255 and 1953 of harmless-base test: a Human turn written inline, without the blank
    line before it, and a doubled Assistant turn. The replies differ in more than their last turn."""
    inline, doubled = read_items(HH_IRREGULAR).items
    assert [t.role for t in inline.turns] == ["user", "assistant", "user"]
    assert inline.turns[-1].content == "Isn't that drag kings?"
    chosen = inline.response(inline.metadata["source_preference"]).text
    assert chosen.startswith("No. Men who impersonate stereotypical women are called drag kings.  Human: Then")
    assert chosen.endswith("?\n\nAssistant:  I think they call them that because")
    rejected = next(r.text for r in inline.responses if r.id != inline.metadata["source_preference"])
    assert rejected == "A drag king is the opposite of a drag queen, like a male who acts like a stereotypical woman."
    assert doubled.turns[-1].content == "Yes, please find me a serial."
    chosen = doubled.response(doubled.metadata["source_preference"]).text
    assert chosen.startswith("Alrighty, I’ll do my best, here’s the key:\n\nAssistant:  O.k.")
    assert next(r.text for r in doubled.responses if r.id != doubled.metadata["source_preference"]).startswith(
        "You mean a password, right?")


def test_hh_rlhf_a_reply_may_run_on_past_the_other():
    """The rejected transcript goes on for more turns than the chosen one: they share the prompt."""
    item = from_hh_rlhf({"chosen": "\n\nHuman: hi\n\nAssistant: hello",
                         "rejected": "\n\nHuman: hi\n\nAssistant: yo\n\nHuman: and?\n\nAssistant: bye"}, "x")
    assert [t.content for t in item.turns] == ["hi"]
    assert sorted(r.text for r in item.responses) == ["hello", "yo\n\nHuman: and?\n\nAssistant: bye"]


def test_pandalm_coerces_labels_and_keeps_them():
    result = read_items(PANDALM)
    assert (result.shape, len(result.items)) == ("pandalm", 10)
    first = result.items[0]
    assert first.id == "pandalm-0"
    assert first.prompt.startswith("The sentence you are given might be too wordy")
    assert first.context.startswith("If you have any questions about my rate")
    assert [(r.id, r.model) for r in first.responses] == [("r1", "bloom-7b"), ("r2", "llama-7b")]
    assert texts(first) == {
        "r1": "If you have any questions about my rate, please let me know.",
        "r2": "If you have any questions, please let me know.",
    }
    assert first.metadata == {
        "annotator1": 2, "annotator2": 2, "annotator3": 2,
        "motivation_app": "Grammarly", "cmp_key": "bloom-7b_llama-7b",
    }
    by_id = {i.id: i for i in result.items}
    # stored as strings "1", "2", "2" in the fixture
    assert [by_id["pandalm-120"].metadata[f"annotator{n}"] for n in (1, 2, 3)] == [1, 2, 2]
    assert by_id["pandalm-4"].context is None  # empty input
    assert [r.model for r in by_id["pandalm-4"].responses] == ["cerebras-gpt-6.7B", "pythia-6.9b"]
    assert by_id["pandalm-157"].responses[0].text == "True"  # JSON true upstream


def test_pandalm_refuses_a_label_out_of_range(tmp_path):
    record = json.loads(PANDALM.read_text())[0] | {"annotator2": "7"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps([record]))
    assert refusal(path) == "p.json index 0: annotator2: expected 0, 1, 2, got '7'"


def test_llmbar_keeps_the_gold_label_in_metadata():
    result = read_items(LLMBAR)
    assert (result.shape, len(result.items)) == ("llmbar", 10)
    raw = json.loads(LLMBAR.read_text())
    for item, rec in zip(result.items, raw, strict=True):
        assert item.prompt == rec["input"]
        assert texts(item) == {"r1": rec["output_1"], "r2": rec["output_2"]}
        assert item.metadata == {"gold_label": rec["label"]}
        assert item.gold is None
    assert result.items[0].id == "natural.sample-0"


# --- detection, formats, determinism ---------------------------------------------------------


@pytest.mark.parametrize(
    "path, shape",
    [(NATIVE, "item"), (TRL_TEXT, "trl-preference"), (TRL_CONV, "trl-preference"),
     (TRL_IMPLICIT, "trl-preference"), (HH, "hh-rlhf"), (PANDALM, "pandalm"), (LLMBAR, "llmbar")],
)
def test_auto_detection_picks_the_shape(path, shape):
    assert read_items(path).shape == shape
    assert read_items(path, shape).shape == shape


def test_shapes_are_listed_in_registry_order():
    assert SHAPES == ("item", "trl-preference", "hh-rlhf", "pandalm", "llmbar", "oasst-tree",
                      "healthbench", "alpaca", "ultrafeedback", "helpsteer", "prompt-responses")
    assert detect_shape({"instruction": "x", "input": "", "output": "y"}) == "alpaca"


def test_gzip_reads_the_same_items(tmp_path):
    for source in (HH, PANDALM):
        packed = tmp_path / (source.name + ".gz")  # same stem, so the same ids
        packed.write_bytes(gzip.compress(source.read_bytes()))
        plain, zipped = read_items(source), read_items(packed)
        assert (zipped.shape, zipped.source) == (plain.shape, str(packed))
        assert [i.model_dump() for i in zipped.items] == [i.model_dump() for i in plain.items]
    assert read_items(tmp_path / (HH.name + ".gz")).items[0].id == "harmless-base-test.sample-1"


def test_json_file_with_one_object_per_line(tmp_path):
    path = tmp_path / "prefs.json"
    shutil.copy(TRL_TEXT, path)
    result = read_items(path)
    assert len(result.items) == 3 and result.items[2].id == "prefs-3"


def test_r1_r2_order_is_deterministic_and_varies_by_item():
    first = [i.model_dump() for i in read_items(HH).items]
    assert first == [i.model_dump() for i in read_items(HH).items]
    preferred = {pair_order(f"x-{n}", "good", "bad")[1] for n in range(20)}
    assert preferred == {"r1", "r2"}  # the position does not give the answer away
    responses, pick = pair_order("x-1", "good", "bad")
    assert next(r["text"] for r in responses if r["id"] == pick) == "good"


# --- refusals --------------------------------------------------------------------------------


def test_unknown_shape(tmp_path):
    path = write_lines(tmp_path / "odd.jsonl", {"a": 1, "b": 2, "c": 3})
    assert refusal(path) == (
        "odd.jsonl: unknown record shape with fields a, b, c; known shapes: item, trl-preference, "
        "hh-rlhf, pandalm, llmbar, oasst-tree, healthbench, alpaca, ultrafeedback, helpsteer, "
        "prompt-responses"
    )
    assert refusal(path, "sharegpt").startswith("unknown record shape 'sharegpt'; known shapes: item,")


def test_malformed_json_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    lines = TRL_TEXT.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1], '{"prompt": "x", "chosen": "a" "rejected": "b"}']))
    assert refusal(path) == "bad.jsonl line 3: malformed JSON (Expecting ',' delimiter, column 31)"
    array = tmp_path / "bad.json"
    array.write_text('[\n  {"input": "x",\n   "output_1": }\n]')
    assert refusal(array).startswith("bad.json line 3: malformed JSON (Expecting value")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(TRL_TEXT.read_bytes() + '{"prompt": "café", "chosen": "a", "rejected": "b"}\n'.encode("latin-1"))
    assert refusal(path).startswith("latin1.jsonl line 4: not valid UTF-8 (byte ")


@pytest.mark.parametrize("content, name", [(b"", "e.jsonl"), (b"\n  \n", "e.jsonl"), (b"[]", "e.json")])
def test_empty_file(tmp_path, content, name):
    path = tmp_path / name
    path.write_bytes(content)
    assert refusal(path).startswith(f"{name}: empty file")


def test_duplicate_item_id(tmp_path):
    item = {"prompt": "p", "responses": [{"id": "a", "text": "t"}]}
    path = write_lines(tmp_path / "dup.jsonl", item | {"id": "x"}, item | {"id": "y"}, item | {"id": "x"})
    assert refusal(path) == "dup.jsonl line 3: duplicate item id 'x' (first at line 1)"
    assert refusal(PANDALM.parent / "missing.json").startswith("missing.json: cannot read")


@pytest.mark.parametrize(
    "record, fmt, message",
    [
        ({"id": "x", "prompt": "p", "responses": [{"id": "a", "text": "t"}, {"id": "b"}]}, "auto",
         "responses.1.text: Field required"),
        ({"id": "x", "prompt": "p", "kind": "special"}, "auto",
         "kind: Input should be 'normal', 'gold' or 'calibration'"),
        ({"prompt": "p", "chosen": "a", "rejected": 5}, "auto",
         "rejected: expected text or a non-empty list of messages, got a number"),
        ({"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "user", "content": "a"}],
          "rejected": [{"role": "assistant", "content": "b"}]}, "auto",
         "chosen: expected one assistant message, got 1 message(s)"),
        ({"input": "q", "output_1": "a", "output_2": "b", "label": 3}, "auto",
         "label: expected 1, 2, got 3"),
        ({"input": "q", "output_1": "a", "label": 1}, "llmbar", "output_2: field required"),
        ({"chosen": "Human: hi", "rejected": "Human: hi"}, "hh-rlhf",
         "chosen: no '\\n\\nAssistant:' turn in the transcript"),
    ],
)
def test_bad_field_names_the_line_and_field(tmp_path, record, fmt, message):
    path = tmp_path / "f.jsonl"
    path.write_text("\n" + json.dumps(record) + "\n")  # blank lines are skipped, not renumbered
    assert refusal(path, fmt) == f"f.jsonl line 2: {message}"


def test_unreadable_files(tmp_path):
    (tmp_path / "data.xlsx").write_text("a,b\n1,2\n")
    assert refusal(tmp_path / "data.xlsx") == (
        "data.xlsx: cannot read this file type; use .jsonl, .json or .csv (optionally .gz), or .parquet"
    )
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(HH.read_bytes())[:200])
    assert refusal(tmp_path / "cut.jsonl.gz") == "cut.jsonl.gz: not a valid gzip file"


def test_skip_bad_keeps_going_but_not_with_nothing_left(tmp_path):
    path = write_lines(tmp_path / "s.jsonl", {"input": "q", "output_1": "a", "output_2": "b", "label": 9},
                       {"input": "q", "output_1": "a", "output_2": "b", "label": 2})
    result = read_items(path, skip_bad=True)
    assert [i.metadata["gold_label"] for i in result.items] == [2]
    assert result.skipped == ["s.jsonl line 1: label: expected 1, 2, got 9"]
    write_lines(path, {"input": "q", "output_1": "a", "output_2": "b", "label": 9})
    with pytest.raises(ItemError, match=r"^s.jsonl: no usable records \(1 refused; first: s.jsonl line 1: "):
        read_items(path, skip_bad=True)


def test_a_record_that_is_not_an_object(tmp_path):
    path = tmp_path / "f.json"
    path.write_text('[{"input": "q", "output_1": "a", "output_2": "b"}, ["x"]]')
    assert refusal(path) == "f.json index 1: expected a JSON object, got a list"


def test_a_line_that_is_not_json_is_a_row_to_skip(tmp_path):
    """Even the first line: JSON Lines are told from one pretty-printed record by the lines after it."""
    good = json.dumps({"input": "q", "output_1": "a", "output_2": "b"})
    path = tmp_path / "broken.jsonl"
    path.write_text('{"input": "cut off\n' + good + "\n" + good.replace('"q"', '"q2"') + "\n")
    assert refusal(path) == "broken.jsonl line 1: malformed JSON (Unterminated string starting at, column 11)"
    result = read_items(path, skip_bad=True)
    assert [i.id for i in result.items] == ["broken-2", "broken-3"]
    assert (result.refused[0].number, result.refused[0].record) == (1, '{"input": "cut off')
    (tmp_path / "all.jsonl").write_text("{nope\n{nope\n")
    with pytest.raises(ItemError, match="all.jsonl"):
        read_items(tmp_path / "all.jsonl", skip_bad=True)
