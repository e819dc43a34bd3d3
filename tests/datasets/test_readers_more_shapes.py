"""Reading OASST trees, HealthBench, Alpaca, UltraFeedback, HelpSteer and generic prompt+responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotary.core.errors import ItemError
from annotary.core.items import check_item_fits
from annotary.core.spec import parse_spec
from annotary.datasets.readers import detect_shapes, read_items

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OASST = FIXTURES / "oasst" / "en_100_tree.sample.jsonl"
HEALTHBENCH = FIXTURES / "healthbench" / "oss_eval.sample.jsonl"
HEALTHBENCH_ONE = FIXTURES / "healthbench" / "2025-05-07-06-14-12_oss_eval_example_22.json"
SEED = FIXTURES / "self-instruct" / "seed_tasks.sample.jsonl"
USER_ORIENTED = FIXTURES / "self-instruct" / "user_oriented_instructions.sample.jsonl"
PREDICTIONS = FIXTURES / "self-instruct" / "text-davinci-003_predictions.sample.jsonl"
IDENTITY = FIXTURES / "llama-factory" / "identity.sample.json"
ULTRAFEEDBACK = FIXTURES / "ultrafeedback" / "ultrafeedback.sample.jsonl"
HELPSTEER = FIXTURES / "helpsteer" / "helpsteer2.sample.jsonl"
PROMPT_RESPONSES = FIXTURES / "prompt-responses" / "prompt-responses.jsonl"


def write_lines(path: Path, *records) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def refusal(path, fmt="auto") -> str:
    with pytest.raises(ItemError) as info:
        read_items(path, fmt)
    assert "\n" not in str(info.value)
    return str(info.value)


def msg(mid: str, role: str, text: str = "t", replies=(), **extra) -> dict:
    return {"message_id": mid, "role": role, "text": text, "replies": list(replies), **extra}


def tree(prompt: dict, tree_id: str = "t1") -> dict:
    return {"message_tree_id": tree_id, "tree_state": "ready_for_export", "prompt": prompt}


# --- oasst-tree ------------------------------------------------------------------------------


def test_oasst_one_ranking_item_per_prompter_with_two_to_nine_replies():
    result = read_items(OASST)
    assert result.shape == "oasst-tree"
    assert [i.id[6:14] for i in result.items] == [
        "054e1df3", "d26fa28e", "69acecd8", "7416264d", "156b36ed", "f8a83974", "6fc1d39f"]
    first = result.items[0]
    assert first.id == "oasst-054e1df3-35e0-4bb8-a585-607dbdcd24e0"
    assert first.prompt[0].model_dump() == {"role": "user", "content": "How can I find the best 401k plan for my needs?"}
    assert {r.model for r in first.responses} == {"chip20b"}
    assert first.metadata == {
        "message_tree_id": "054e1df3-35e0-4bb8-a585-607dbdcd24e0", "tree_state": "ready_for_export",
        "lang": "en", "human_rank": {"fa783ef0-4f4e-457d-b429-afd89edf8757": 0,
                                     "03334b2a-f315-4a0d-b9ff-ac94e017e266": 1,
                                     "8f5fa95e-0185-4960-a9c3-89382210cd6c": 2},
    }
    assert first.response("fa783ef0-4f4e-457d-b429-afd89edf8757").text.startswith("The first step is to research")


def test_oasst_prompt_is_the_path_from_the_root():
    items = {i.id[6:14]: i for i in read_items(OASST).items}
    joke = items["7416264d"]
    assert [t.role for t in joke.turns] == ["user", "assistant", "user"]
    assert joke.turns[0].content == "what is the speed of an unladen swallow ?"
    assert joke.turns[1].content.startswith("The speed of an unladen swallow is not a well-defined")
    assert joke.turns[2].content.startswith("Instead of a factual answer, come up with a humorous reply")
    assert sorted(joke.metadata["human_rank"].values()) == [0, 1, 2]
    assert items["156b36ed"].metadata["human_rank"] == {}  # replies never ranked
    assert len(items["69acecd8"].responses) == 4


def test_oasst_response_order_does_not_give_the_ranking_away():
    items = read_items(OASST).items
    orders = [[i.metadata["human_rank"][r.id] for r in i.responses] for i in items if i.metadata["human_rank"]]
    assert any(o != sorted(o) for o in orders)  # upstream lists every sibling group best first
    assert [i.model_dump() for i in items] == [i.model_dump() for i in read_items(OASST).items]


def test_oasst_skips_deleted_messages_with_their_subtrees(tmp_path):
    gone = msg("a2", "assistant", deleted=True, rank=0, replies=[msg("p9", "prompter", replies=[
        msg("a8", "assistant"), msg("a9", "assistant")])])
    root = msg("p1", "prompter", "Q?", replies=[
        msg("a1", "assistant", "one", rank=1, model_name="m", replies=[
            msg("p2", "prompter", deleted=True, replies=[msg("a5", "assistant"), msg("a6", "assistant")]),
            msg("p3", "prompter", "only one reply", replies=[msg("a7", "assistant")]),
        ]),
        gone,
        msg("a3", "assistant", "three", rank=None),
    ])
    ten = msg("q1", "prompter", replies=[msg(f"b{n}", "assistant", rank=n) for n in range(10)])
    path = write_lines(tmp_path / "trees.jsonl", tree(root), tree(ten, "t2"))
    (item,) = read_items(path).items
    assert item.id == "oasst-p1" and item.prompt[0].content == "Q?"
    assert sorted((r.id, r.text, r.model) for r in item.responses) == [("a1", "one", "m"), ("a3", "three", None)]
    assert item.metadata["human_rank"] == {"a1": 1}


def test_oasst_items_are_ranking_items():
    spec = parse_spec({"name": "r", "questions": [{"id": "rank", "mode": "ranking", "text": "Order"}]})
    for item in read_items(OASST).items:
        check_item_fits(item, spec)


@pytest.mark.parametrize(
    "record, message",
    [
        ({"message_tree_id": "t"}, "prompt: field required"),
        (tree(msg("p1", "prompter", replies=[msg("a1", "assistant"), {"message_id": "a2", "role": "assistant"}])),
         "prompt.replies.1.text: field required"),
        (tree(msg("p1", "prompter", replies=[msg("a1", "bot")])),
         "prompt.replies.0.role: expected 'prompter' or 'assistant', got 'bot'"),
        (tree(msg("p1", "prompter", replies=[msg("a1", "assistant", rank="first")])),
         "prompt.replies.0.rank: expected a whole number, got 'first'"),
        (tree(msg("p1", "prompter", replies=[msg("a1", "assistant", rank=-1)])),
         "prompt.replies.0.rank: expected 0 or more, got -1"),
        (tree({**msg("p1", "prompter"), "replies": "none"}), "prompt.replies: expected a list of messages, got text"),
        (tree(msg("p1", "prompter", replies=[msg("a1", "assistant", replies=[7])])),
         "prompt.replies.0.replies.0: expected a message object, got a number"),
    ],
)
def test_oasst_bad_tree_names_the_line_and_message(tmp_path, record, message):
    path = write_lines(tmp_path / "t.jsonl", tree(msg("ok", "prompter")), record)
    assert refusal(path, "oasst-tree") == f"t.jsonl line 2: {message}"


def test_oasst_file_without_rankable_prompts_and_duplicate_trees(tmp_path):
    path = write_lines(tmp_path / "t.jsonl", tree(msg("p1", "prompter", replies=[msg("a1", "assistant")])))
    assert refusal(path) == "t.jsonl: no usable records (no record gave an item)"
    two = tree(msg("p1", "prompter", replies=[msg("a1", "assistant"), msg("a2", "assistant")]))
    write_lines(path, two, two)
    assert refusal(path) == "t.jsonl line 2: duplicate item id 'oasst-p1' (first at line 1)"


# --- healthbench -----------------------------------------------------------------------------


def test_healthbench_rubric_and_completions():
    result = read_items(HEALTHBENCH)
    assert result.shape == "healthbench"
    assert [i.id for i in result.items] == [
        "healthbench-6f7a2ee9", "healthbench-5a6e4a41", "healthbench-85408180", "healthbench-5b294937"]
    no_ideal, one, refs, chat = result.items
    assert no_ideal.responses == [] and len(no_ideal.rubric) == 2
    assert [r.id for r in one.responses] == ["ideal"]
    assert [r.id for r in refs.responses] == ["ideal", "ref1", "ref2", "ref3", "ref4"]
    assert refs.responses[0].text.startswith("Certainly! Here’s a revised version of your message:")
    assert len(chat.turns) == 9 and chat.turns[-1].content == (
        "So how often do i do a routine dermatologist check in that scenario")
    c1 = one.rubric[0]
    assert (c1.id, c1.points, c1.explanation, c1.required) == ("c1", 7, "", True)
    assert c1.text.startswith("Clearly states that multiple non-healing arm ulcers")
    assert [c.id for c in one.rubric] == [f"c{n}" for n in range(1, 15)]
    assert [c.points for c in one.rubric][5] == -8
    assert one.metadata["criterion_tags"]["c1"] == ["level:example", "axis:accuracy"]
    assert one.metadata["example_tags"] == ["theme:global_health", "physician_agreed_category:context-matters-is-clear"]
    assert one.metadata["prompt_id"].startswith("5a6e4a41-")
    assert one.metadata["ideal_completions_group"] == "Group 1"
    assert one.metadata["canary"].startswith("healthbench:")


def test_healthbench_items_fit_a_per_item_rubric_question_when_they_have_a_response():
    spec = parse_spec({"name": "h", "questions": [
        {"id": "rubric", "mode": "rubric", "text": "Met?", "per_item": True}]})
    no_ideal, *rest = read_items(HEALTHBENCH).items
    for item in rest:
        check_item_fits(item, spec)
    with pytest.raises(ItemError, match="grades a response, item has none"):
        check_item_fits(no_ideal, spec)


def test_healthbench_one_pretty_printed_record_per_file():
    result = read_items(HEALTHBENCH_ONE)
    assert (result.shape, [i.id for i in result.items]) == ("healthbench", ["healthbench-24f9a6e7"])
    assert len(result.items[0].rubric) == 6 and result.items[0].turns[0].content == "mother is 82"


def test_a_broken_pretty_printed_record_names_its_line(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(HEALTHBENCH_ONE.read_text(encoding="utf-8").replace('"points": 7,', '"points": 7', 1))
    assert refusal(path) == "one.json line 21: malformed JSON (Expecting ',' delimiter, column 7)"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rubrics": {"c": 1}}, "rubrics: expected a list of criteria, got an object"),
        ({"rubrics": [{"criterion": "a", "points": 5}, {"criterion": "b", "points": "ten"}]},
         "rubrics.1.points: expected a whole number, got 'ten'"),
        ({"rubrics": [{"points": 5}]}, "rubrics.0.criterion: field required"),
        ({"rubrics": [{"criterion": "a"}]}, "rubrics.0.points: field required"),
        ({"rubrics": [{"criterion": " ", "points": 5}]}, "rubrics.0.criterion: empty"),
        ({"ideal_completions_data": {"ideal_completion": "x", "ideal_completions_ref_completions": ["y", 3]}},
         "ideal_completions_data.ideal_completions_ref_completions.1: expected text, got a number"),
        ({"ideal_completions_data": "x"}, "ideal_completions_data: expected an object or null, got text"),
        ({"prompt": [{"role": "user"}]}, "prompt.0: expected a message with role and content"),
    ],
)
def test_healthbench_bad_record_names_the_field(tmp_path, change, message):
    record = json.loads(HEALTHBENCH.read_text().splitlines()[0]) | change
    path = write_lines(tmp_path / "hb.jsonl", record)
    assert refusal(path) == f"hb.jsonl line 1: {message}"


# --- alpaca ----------------------------------------------------------------------------------


def test_alpaca_identity_keeps_placeholders_and_cjk():
    result = read_items(IDENTITY)
    assert (result.shape, len(result.items)) == ("alpaca", 5)
    hi = result.items[0]
    assert (hi.id, hi.prompt, hi.context, hi.metadata) == ("identity.sample-0", "hi", None, {})
    assert [(r.id, r.text) for r in hi.responses] == [
        ("draft", "Hello! I am {{name}}, an AI assistant developed by {{author}}. How can I assist you today?")]
    chinese = result.items[3]
    assert chinese.prompt == "你是谁"
    assert chinese.responses[0].text == (
        "您好，我是由 {{author}} 发明的 {{name}}。我可以为您提供多种多样的服务，比如翻译、写代码、闲聊、为您答疑解惑等。")


def test_alpaca_self_instruct_seed_tasks_and_user_oriented_instructions():
    items = read_items(SEED).items
    assert [i.id for i in items] == ["seed_task_0", "seed_task_1", "seed_task_8", "seed_task_150"]
    assert items[0].context is None and items[0].responses[0].text.startswith("Yes, you can have 1 oatmeal")
    assert (items[1].context, items[1].responses[0].text) == (
        "Night : Day :: Right : Left", "The relation between the given pairs is that they are opposites.")
    assert items[3].metadata == {"name": "paraphrasing_classification", "is_classification": True}
    tasks = read_items(USER_ORIENTED).items
    assert [i.id for i in tasks] == ["user_oriented_task_0", "user_oriented_task_1"]
    assert tasks[1].responses[0].text == "Confident" and tasks[1].metadata == {"motivation_app": "Grammarly"}


def test_alpaca_self_instruct_predictions():
    items = read_items(PREDICTIONS).items
    assert [i.id for i in items] == [f"text-davinci-003_predictions.sample-{n}" for n in (1, 2, 3)]
    first = items[0]
    assert first.prompt.endswith("eliminate unnecessary words.")  # the template's newline is gone
    assert first.responses[0].text.startswith("Have questions about my rate?")  # no leading space
    assert first.metadata["target"].startswith("If you have any questions about my rate or find it")
    assert first.metadata["prompt"].endswith("\nOutput:")


def test_alpaca_several_instances_and_no_output(tmp_path):
    path = write_lines(tmp_path / "a.jsonl",
                       {"id": "t", "instruction": "Add.", "instances": [{"input": "1+1", "output": "2"},
                                                                        {"input": "2+2", "output": "4"}]},
                       {"instruction": "Say hi in French.", "input": "", "output": ""})
    two, four, bare = read_items(path).items
    assert [(i.id, i.context, i.responses[0].text) for i in (two, four)] == [("t-1", "1+1", "2"), ("t-2", "2+2", "4")]
    assert (bare.id, bare.responses) == ("a-2", [])


@pytest.mark.parametrize(
    "record, message",
    [
        ({"instruction": "  ", "output": "x"}, "instruction: empty"),
        ({"instruction": "x", "output": 3}, "output: expected text, got a number"),
        ({"instruction": "x", "instances": "y"}, "instances: expected a list of {input, output}, got text"),
        ({"instruction": "x", "instances": []}, "instances: empty"),
        ({"instruction": "x", "instances": ["y"]}, "instances.0: expected an object with input and output, got text"),
        ({"instruction": "x", "instances": [{"input": ["y"]}]}, "instances.0.input: expected text, got a list"),
    ],
)
def test_alpaca_bad_record_names_the_field(tmp_path, record, message):
    path = write_lines(tmp_path / "a.jsonl", record)
    assert refusal(path) == f"a.jsonl line 1: {message}"


# --- ultrafeedback, helpsteer, prompt-responses ----------------------------------------------


def test_ultrafeedback_completions_become_responses():
    result = read_items(ULTRAFEEDBACK)
    assert (result.shape, len(result.items)) == ("ultrafeedback", 3)
    colours, fish, chinese = result.items
    assert colours.id == "ultrafeedback.sample-1"
    assert [(r.id, r.model) for r in colours.responses] == [
        ("r1", "gpt-4"), ("r2", "alpaca-7b"), ("r3", "falcon-40b-instruct"), ("r4", "llama-2-13b-chat")]
    assert colours.responses[1].text.startswith("Red, yellow and blue.")
    notes = colours.metadata["completions"]["r2"]
    assert (notes["overall_score"], notes["principle"], notes["annotations"]["honesty"]["Rating"]) == (4.0, "honesty", "2")
    assert fish.metadata["source"] == "false_qa" and len(fish.responses) == 2
    assert chinese.prompt == "把“早上好”翻译成英语和法语。"


def test_helpsteer_one_response_scores_in_metadata_and_packed_turns():
    result = read_items(HELPSTEER)
    assert (result.shape, len(result.items)) == ("helpsteer", 4)
    right = result.items[0]
    assert right.prompt == "What is the boiling point of water at sea level in Fahrenheit?"
    assert [(r.id, r.text) for r in right.responses] == [("r1", "212 °F (100 °C) at standard sea-level pressure.")]
    assert right.metadata == {"helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 1}
    chat = result.items[2]
    assert [t.model_dump() for t in chat.turns] == [
        {"role": "user", "content": "Suggest a name for a bakery."},
        {"role": "assistant", "content": 'How about "Rise & Shine Bakery"?'},
        {"role": "user", "content": "Something shorter, one word."},
    ]


def test_prompt_responses_strings_objects_and_extras():
    result = read_items(PROMPT_RESPONSES)
    assert (result.shape, len(result.items)) == ("prompt-responses", 3)
    haiku, http, museum = result.items
    assert (haiku.id, [r.id for r in haiku.responses]) == ("prompt-responses-1", ["r1", "r2"])
    assert haiku.responses[0].text.startswith("Cold rain on maple")
    assert http.id == "pr-2" and [t.role for t in http.turns] == ["system", "user"]
    assert [(r.id, r.model) for r in http.responses] == [("a", "model-a"), ("b", "model-b"), ("c", "model-c")]
    assert http.metadata == {"source": "hand-written"}
    assert museum.context.startswith("The museum will stay open") and museum.metadata == {"batch": 3}
    assert [r.id for r in museum.responses] == ["r1", "r2"]


@pytest.mark.parametrize(
    "record, message",
    [
        ({"instruction": "q", "completions": [{"model": "m", "response": "a"}, {"model": "m"}]},
         "completions.1.response: field required"),
        ({"instruction": "q", "completions": {"a": 1}}, "completions: expected a list of {model, response}, got an object"),
        ({"prompt": "q", "response": "a", "helpfulness": "high"}, "helpfulness: expected a number, got 'high'"),
        ({"prompt": "q", "response": 5}, "response: expected text or a non-empty list of messages, got a number"),
        ({"prompt": "q", "responses": ["a", 2]}, "responses.1: expected text or an object with text, got a number"),
        ({"prompt": "q", "responses": [{"model": "m"}]}, "responses.0.text: Field required"),
    ],
)
def test_bad_records_name_the_field(tmp_path, record, message):
    path = write_lines(tmp_path / "f.jsonl", record)
    assert refusal(path) == f"f.jsonl line 1: {message}"


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".json", ".jsonl")
                                        and p.parent.name != "responses"),  # completions, not items
                         ids=lambda p: p.name)
def test_every_fixture_fits_exactly_one_shape(path):
    text = path.read_text(encoding="utf-8").lstrip()
    if text.startswith("["):
        first = json.loads(text)[0]
    else:
        try:
            first = json.loads(text)  # one pretty-printed record
        except json.JSONDecodeError:
            first = json.loads(text.splitlines()[0])
    shapes = detect_shapes(first)
    assert len(shapes) == 1 and read_items(path).shape == shapes[0]


@pytest.mark.parametrize(
    "record, shape",
    [
        ({"prompt": "p", "responses": [{"id": "a", "text": "t"}]}, "item"),
        ({"prompt": "p", "responses": ["t"]}, "prompt-responses"),
        ({"prompt": "p", "responses": [{"text": "t"}]}, "prompt-responses"),
        ({"prompt": "p", "responses": [{"id": "a", "text": "t"}], "source": "x"}, "prompt-responses"),
        ({"prompt": "p", "response": "t"}, "helpsteer"),
        ({"prompt": "p", "instruction": "i", "input": "", "response": "t", "target": "u"}, "alpaca"),
        ({"instruction": "i", "input": "", "output": "o"}, "alpaca"),
        ({"instruction": "i", "response1": "a", "response2": "b"}, "pandalm"),
        ({"instruction": "i", "completions": []}, "ultrafeedback"),
        ({"prompt": [{"role": "user", "content": "q"}], "rubrics": []}, "healthbench"),
        ({"message_tree_id": "t", "prompt": {}}, "oasst-tree"),
    ],
)
def test_detection_is_unambiguous(record, shape):
    assert detect_shapes(record) == [shape]


def test_a_record_fitting_two_shapes_asks_for_the_format(tmp_path):
    path = write_lines(tmp_path / "f.jsonl", {"prompt": "p", "chosen": "a", "rejected": "b", "responses": ["c"]})
    assert refusal(path) == (
        "f.jsonl line 1: the record fits several shapes (trl-preference, prompt-responses); name one as the format")
    assert read_items(path, "prompt-responses").items[0].metadata == {"chosen": "a", "rejected": "b"}


def test_json_nested_too_deeply(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert refusal(path) == "deep.json: JSON nested too deeply"
