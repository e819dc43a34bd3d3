"""Reading source datasets (JSON, JSON Lines or CSV, optionally gzipped, and Parquet) into items, one record shape per file."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from annotary.core.errors import ItemError, describe_validation
from annotary.core.items import Item

SUFFIXES = (".jsonl", ".ndjson", ".json")
TABLE_SUFFIXES = (".csv", ".parquet")  # one record per row; a cell holding a JSON list or object is read as one


class RowError(ItemError):
    """One row (a line, an array index) that cannot become an item; the rest of the file may be fine."""


@dataclass
class Refusal:
    """A row left out: where it is ('line', 12), why, and the record as read."""

    kind: str
    number: int
    reason: str
    record: Any = None


@dataclass
class ReadResult:
    """The items of one file, the record shape they were read as, and what was left out."""

    items: list[Item]
    shape: str
    source: str
    skipped: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # per item: the row it came from ("line 12")


# --- helpers shared by the converters -------------------------------------------------------

_JSON_TYPES = {str: "text", bool: "true/false", int: "a number", float: "a number",
               list: "a list", dict: "an object", type(None): "null"}


def _type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _text(rec: dict, key: str, *, optional: bool = False, at: str = "") -> str | None:
    """The text in rec[key]; `at` is the path of rec inside the record, for the message."""
    value = rec.get(key)
    if value is None:
        if optional:
            return None
        raise ItemError(f"{at}{key}: field required")
    return _str(value, f"{at}{key}")


def _str(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise ItemError(f"{at}: expected text, got {_type(value)}")
    return value


def _object(value: Any, at: str, what: str) -> dict:
    if not isinstance(value, dict):
        raise ItemError(f"{at}: expected {what}, got {_type(value)}")
    return value


def _list(value: Any, at: str, what: str) -> list:
    if not isinstance(value, list):
        raise ItemError(f"{at}: expected a list of {what}, got {_type(value)}")
    return value


def _whole(value: Any, at: str) -> int:
    if value is None:
        raise ItemError(f"{at}: field required")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ItemError(f"{at}: expected a whole number, got {value!r}")
    return value


def _seeded(item_id: str, responses: list[dict]) -> list[dict]:
    """Responses in an order seeded from the item id: sources often list them best first."""
    return sorted(responses, key=lambda r: hashlib.sha256(f"{item_id}/{r['id']}".encode()).digest())


def _choice(rec: dict, key: str, allowed: tuple[int, ...]) -> int:
    """An integer label that some sources store as a string ("2")."""
    raw = value = rec.get(key)
    if value is None:
        raise ItemError(f"{key}: field required")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ItemError(f"{key}: expected {', '.join(map(str, allowed))}, got {raw!r}")
    return value


def _source_id(rec: dict, default_id: str) -> str:
    value = rec.get("id")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    return default_id


def _extras(rec: dict, used: set[str]) -> dict:
    # fields we do not map still travel with the item (metadata is never shown to annotators)
    return {k: v for k, v in rec.items() if k not in used}


def pair_order(item_id: str, chosen: str, rejected: str) -> tuple[list[dict], str]:
    """Responses r1/r2 in an order seeded from the item id, so neither id nor position tells the
    annotator which one the source preferred; returns them and the id of the preferred one."""
    flip = hashlib.sha256(item_id.encode()).digest()[0] & 1
    first, second = (rejected, chosen) if flip else (chosen, rejected)
    return [{"id": "r1", "text": first}, {"id": "r2", "text": second}], ("r2" if flip else "r1")


# --- shape: item (the native shape) ---------------------------------------------------------

ITEM_FIELDS = frozenset(Item.model_fields)


def _is_item(rec: dict) -> bool:
    # responses without ids (or as plain strings) make it the generic prompt-responses shape
    responses = rec.get("responses")
    native = not isinstance(responses, list) or all(isinstance(r, dict) and "id" in r for r in responses)
    return "prompt" in rec and set(rec) <= ITEM_FIELDS and native


def from_item(rec: dict, default_id: str) -> Item:
    data = dict(rec)
    if "id" not in data or (isinstance(data["id"], int) and not isinstance(data["id"], bool)):
        data["id"] = _source_id(data, default_id)
    return Item.model_validate(data)


# --- shape: trl-preference ------------------------------------------------------------------


def _is_trl(rec: dict) -> bool:
    return {"chosen", "rejected"} <= set(rec) and ("prompt" in rec or isinstance(rec["chosen"], list))


def _messages(value: Any, key: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise ItemError(f"{key}: expected text or a non-empty list of messages, got {_type(value)}")
    for i, m in enumerate(value):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ItemError(f"{key}.{i}: expected a message with role and content")
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _reply(value: Any, key: str) -> str:
    """A response: text, or (TRL conversational) a list holding the one assistant message."""
    if isinstance(value, str):
        return value
    messages = _messages(value, key)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise ItemError(f"{key}: expected one assistant message, got {len(messages)} message(s)")
    if not isinstance(messages[0]["content"], str):
        raise ItemError(f"{key}.0.content: expected text, got {_type(messages[0]['content'])}")
    return messages[0]["content"]


def from_trl_preference(rec: dict, default_id: str) -> Item:
    item_id = _source_id(rec, default_id)
    if "prompt" in rec:
        prompt = rec["prompt"] if isinstance(rec["prompt"], str) else _messages(rec["prompt"], "prompt")
        chosen, rejected = _reply(rec.get("chosen"), "chosen"), _reply(rec.get("rejected"), "rejected")
    else:
        # TRL "implicit prompt": both hold the whole conversation; the prompt is what they share
        full_c, full_r = _messages(rec["chosen"], "chosen"), _messages(rec["rejected"], "rejected")
        n = 0
        while n < min(len(full_c), len(full_r)) - 1 and full_c[n] == full_r[n]:
            n += 1
        if n == 0:
            raise ItemError("prompt: field required (chosen and rejected share no prompt)")
        prompt = full_c[:n]
        chosen, rejected = _reply(full_c[n:], "chosen"), _reply(full_r[n:], "rejected")
    responses, preferred = pair_order(item_id, chosen, rejected)
    meta = _extras(rec, {"id", "prompt", "chosen", "rejected"}) | {"source_preference": preferred}
    return Item.model_validate(
        {"id": item_id, "prompt": prompt, "responses": responses, "metadata": meta}
    )


# --- shape: hh-rlhf (Anthropic) -------------------------------------------------------------

_HH_ASSISTANT = "\n\nAssistant:"
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}


def _is_hh(rec: dict) -> bool:
    return {"chosen", "rejected"} <= set(rec) and "prompt" not in rec and isinstance(rec["chosen"], str)


def _hh_split(chosen: str, rejected: str) -> tuple[str, str, str]:
    """(shared prompt, chosen reply, rejected reply): split at the longest common prefix that ends
    at an Assistant turn. Usually that is the last turn of both; but some transcripts carry a turn
    written inline ("...  Human: ...", no blank line before it) or a doubled Assistant turn, and
    then the replies differ in more than their last turn: each keeps what follows as it is."""
    cut = chosen.rfind(_HH_ASSISTANT)
    if cut < 0 or not rejected.startswith(chosen[:cut + len(_HH_ASSISTANT)]):
        at, shared = 0, min(len(chosen), len(rejected))
        while at < shared and chosen[at] == rejected[at]:
            at += 1
        cut = chosen.rfind(_HH_ASSISTANT, 0, at)
    if cut < 0:
        for key, text in (("chosen", chosen), ("rejected", rejected)):
            if _HH_ASSISTANT not in text:
                raise ItemError(f"{key}: no '\\n\\nAssistant:' turn in the transcript")
        raise ItemError("chosen, rejected: the transcripts differ before their first Assistant turn")
    end = cut + len(_HH_ASSISTANT)
    return chosen[:cut], chosen[end:].strip(), rejected[end:].strip()


def from_hh_rlhf(rec: dict, default_id: str) -> Item:
    item_id = _source_id(rec, default_id)
    prefix, chosen, rejected = _hh_split(_text(rec, "chosen"), _text(rec, "rejected"))
    parts = _HH_TURN.split(prefix)  # ['', 'Human', ' text', 'Assistant', ' text', ...]
    if parts[0].strip() or len(parts) < 3:
        raise ItemError("chosen: the transcript does not start with 'Human:'")
    turns = [{"role": _HH_ROLES[who], "content": said.strip()}
             for who, said in zip(parts[1::2], parts[2::2], strict=True)]
    responses, preferred = pair_order(item_id, chosen, rejected)
    meta = _extras(rec, {"id", "chosen", "rejected"}) | {"source_preference": preferred}
    return Item.model_validate(
        {"id": item_id, "prompt": turns, "responses": responses, "metadata": meta}
    )


# --- shape: pandalm -------------------------------------------------------------------------


def _is_pandalm(rec: dict) -> bool:
    return {"instruction", "response1", "response2"} <= set(rec)


def _pandalm_models(cmp_key: Any) -> tuple[str | None, str | None]:
    # "opt-7b_pythia-6.9b": names hold '-' and '.', so only a single '_' splits unambiguously
    if isinstance(cmp_key, str) and cmp_key.count("_") == 1:
        a, b = cmp_key.split("_")
        if a and b:
            return a, b
    return None, None


def _pandalm_text(rec: dict, key: str) -> str:
    value = rec.get(key)
    # a few PandaLM responses are JSON true where the model wrote "True"
    if isinstance(value, bool | int | float):
        return str(value)
    return _text(rec, key)


def from_pandalm(rec: dict, default_id: str) -> Item:
    idx = rec.get("idx")
    item_id = f"pandalm-{idx}" if isinstance(idx, str | int) and not isinstance(idx, bool) else default_id
    m1, m2 = _pandalm_models(rec.get("cmp_key"))
    labels = {k: _choice(rec, k, (0, 1, 2)) for k in ("annotator1", "annotator2", "annotator3") if k in rec}
    used = {"idx", "instruction", "input", "response1", "response2", *labels}
    return Item.model_validate({
        "id": item_id,
        "prompt": _text(rec, "instruction"),
        "context": _text(rec, "input", optional=True) or None,
        "responses": [
            {"id": "r1", "text": _pandalm_text(rec, "response1"), "model": m1},
            {"id": "r2", "text": _pandalm_text(rec, "response2"), "model": m2},
        ],
        # 0 = tie, 1 = r1 better, 2 = r2 better
        "metadata": labels | _extras(rec, used),
    })


# --- shape: llmbar --------------------------------------------------------------------------


def _is_llmbar(rec: dict) -> bool:
    return {"input", "output_1", "output_2"} <= set(rec)


def from_llmbar(rec: dict, default_id: str) -> Item:
    meta = _extras(rec, {"id", "input", "output_1", "output_2", "label"})
    if "label" in rec:
        # readers do not know the spec's question ids, so the expert answer is not `gold`
        meta["gold_label"] = _choice(rec, "label", (1, 2))
    return Item.model_validate({
        "id": _source_id(rec, default_id),
        "prompt": _text(rec, "input"),
        "responses": [
            {"id": "r1", "text": _text(rec, "output_1")},
            {"id": "r2", "text": _text(rec, "output_2")},
        ],
        "metadata": meta,
    })


# --- shape: oasst-tree (OpenAssistant message trees) ----------------------------------------

_OASST_ROLES = {"prompter": "user", "assistant": "assistant"}


def _is_oasst(rec: dict) -> bool:
    return "message_tree_id" in rec


def _oasst_live(msg: Any, at: str) -> bool:
    """Check the fields the reader uses; False for a deleted message (its subtree goes with it)."""
    _object(msg, at, "a message object")
    if msg.get("deleted") is True:
        return False
    _text(msg, "message_id", at=f"{at}.")
    _text(msg, "text", at=f"{at}.")
    if msg.get("role") not in _OASST_ROLES:
        raise ItemError(f"{at}.role: expected 'prompter' or 'assistant', got {msg.get('role')!r}")
    if msg.get("rank") is not None and _whole(msg["rank"], f"{at}.rank") < 0:
        raise ItemError(f"{at}.rank: expected 0 or more, got {msg['rank']!r}")
    _list(msg.get("replies") or [], f"{at}.replies", "messages")
    return True


def from_oasst_tree(rec: dict, default_id: str) -> list[Item]:
    """One ranking item per prompter message with 2-9 assistant replies (the human ranks kept)."""
    if "prompt" not in rec:
        raise ItemError("prompt: field required")
    extras = _extras(rec, {"prompt"})
    items: list[Item] = []
    # depth first without recursion: a hostile tree may be deeper than Python's stack
    todo = [(rec["prompt"], "prompt", [])] if _oasst_live(rec["prompt"], "prompt") else []
    while todo:
        msg, at, convo = todo.pop()
        convo = [*convo, {"role": _OASST_ROLES[msg["role"]], "content": msg["text"]}]
        live = [(f"{at}.replies.{i}", r) for i, r in enumerate(msg.get("replies") or [])
                if _oasst_live(r, f"{at}.replies.{i}")]
        answers = [r for _, r in live if r["role"] == "assistant"]
        if msg["role"] == "prompter" and 2 <= len(answers) <= 9:
            item_id = f"oasst-{msg['message_id']}"
            responses = [{"id": r["message_id"], "text": r["text"],
                          "model": r["model_name"] if isinstance(r.get("model_name"), str) else None}
                         for r in answers]
            ranks = {r["message_id"]: int(r["rank"]) for r in answers if r.get("rank") is not None}
            lang = {"lang": msg["lang"]} if isinstance(msg.get("lang"), str) else {}
            items.append(Item.model_validate({
                "id": item_id, "prompt": convo, "responses": _seeded(item_id, responses),
                "metadata": extras | lang | {"human_rank": ranks},
            }))
        todo.extend((r, where, convo) for where, r in reversed(live))
    return items


# --- shape: healthbench (OpenAI) ------------------------------------------------------------


def _is_healthbench(rec: dict) -> bool:
    return {"prompt", "rubrics"} <= set(rec)


def from_healthbench(rec: dict, default_id: str) -> Item:
    pid, prompt = rec.get("prompt_id"), rec["prompt"]
    criteria, tags = [], {}
    for n, raw in enumerate(_list(rec.get("rubrics"), "rubrics", "criteria"), 1):
        at = f"rubrics.{n - 1}"
        c = _object(raw, at, "a criterion object")
        if not _text(c, "criterion", at=f"{at}.").strip():
            raise ItemError(f"{at}.criterion: empty")
        criteria.append({"id": f"c{n}", "text": c["criterion"], "points": _whole(c.get("points"), f"{at}.points")})
        if c.get("tags"):
            tags[f"c{n}"] = c["tags"]  # level and axis: for analysis, not shown to the grader
    responses, group = [], {}
    ideal = rec.get("ideal_completions_data")
    if ideal is not None:
        at = "ideal_completions_data"
        _object(ideal, at, "an object or null")
        responses.append({"id": "ideal", "text": _text(ideal, "ideal_completion", at=f"{at}.")})
        refs = _list(ideal.get("ideal_completions_ref_completions") or [],
                     f"{at}.ideal_completions_ref_completions", "texts")
        responses += [{"id": f"ref{k}", "text": _str(ref, f"{at}.ideal_completions_ref_completions.{k - 1}")}
                      for k, ref in enumerate(refs, 1)]
        if ideal.get("ideal_completions_group") is not None:
            group = {"ideal_completions_group": ideal["ideal_completions_group"]}
    meta = _extras(rec, {"prompt", "rubrics", "ideal_completions_data"}) | group
    return Item.model_validate({
        "id": f"healthbench-{pid[:8]}" if isinstance(pid, str) and pid else default_id,
        "prompt": prompt if isinstance(prompt, str) else _messages(prompt, "prompt"),
        "responses": responses,
        "rubric": criteria or None,
        "metadata": meta | ({"criterion_tags": tags} if tags else {}),
    })


# --- shape: alpaca (and self-instruct seed tasks and predictions) ---------------------------


def _is_alpaca(rec: dict) -> bool:
    return "instruction" in rec and not {"completions", "response1", "response2"} & set(rec)


def _alpaca_item(item_id: str, instruction: str, context: str | None, draft: str | None,
                 meta: dict) -> Item:
    # strip the ends only: self-instruct predictions keep the template's newline and the
    # completion's leading space; the inside ({{name}}, CJK, code) is kept as is
    return Item.model_validate({
        "id": item_id, "prompt": instruction.strip(),
        "context": context if context and context.strip() else None,
        "responses": [{"id": "draft", "text": draft.strip()}] if draft and draft.strip() else [],
        "metadata": meta,
    })


def from_alpaca(rec: dict, default_id: str) -> Item | list[Item]:
    instruction = _text(rec, "instruction")
    if not instruction.strip():
        raise ItemError("instruction: empty")
    item_id = _source_id(rec, default_id)
    if "instances" not in rec:
        draft = "output" if "output" in rec else "response"
        meta = _extras(rec, {"id", "instruction", "input", draft})
        return _alpaca_item(item_id, instruction, _text(rec, "input", optional=True),
                            _text(rec, draft, optional=True), meta)
    instances = _list(rec["instances"], "instances", "{input, output}")
    if not instances:
        raise ItemError("instances: empty")
    meta = _extras(rec, {"id", "instruction", "instances"})
    out = []
    for k, raw in enumerate(instances):
        at = f"instances.{k}."
        inst = _object(raw, at[:-1], "an object with input and output")
        out.append(_alpaca_item(f"{item_id}-{k + 1}" if len(instances) > 1 else item_id, instruction,
                                _text(inst, "input", optional=True, at=at),
                                _text(inst, "output", optional=True, at=at), meta))
    return out


# --- shape: ultrafeedback (OpenBMB) ---------------------------------------------------------


def _is_ultrafeedback(rec: dict) -> bool:
    return {"instruction", "completions"} <= set(rec)


def from_ultrafeedback(rec: dict, default_id: str) -> Item:
    responses, notes = [], {}
    for k, raw in enumerate(_list(rec.get("completions"), "completions", "{model, response}")):
        at = f"completions.{k}"
        c = _object(raw, at, "an object with model and response")
        rid = f"r{k + 1}"
        responses.append({"id": rid, "text": _text(c, "response", at=f"{at}."),
                          "model": _text(c, "model", optional=True, at=f"{at}.")})
        if rest := _extras(c, {"model", "response"}):
            notes[rid] = rest  # the source's ratings and critiques, e.g. to compare with humans
    meta = _extras(rec, {"id", "instruction", "completions"}) | ({"completions": notes} if notes else {})
    return Item.model_validate({
        "id": _source_id(rec, default_id), "prompt": _text(rec, "instruction"),
        "responses": responses, "metadata": meta,
    })


# --- shape: helpsteer (NVIDIA HelpSteer, HelpSteer2) ----------------------------------------

HELPSTEER_AXES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
# HelpSteer2 packs a multi-turn prompt into one string with these separators
_HS_TURN = re.compile(r"\n?<extra_id_1>(User|Assistant)\n?")


def _is_helpsteer(rec: dict) -> bool:
    return {"prompt", "response"} <= set(rec) and not {"instruction", "responses", "chosen"} & set(rec)


def from_helpsteer(rec: dict, default_id: str) -> Item:
    prompt = _text(rec, "prompt")
    parts = _HS_TURN.split(prompt)  # [user 1, 'Assistant', assistant 1, 'User', user 2, ...]
    if len(parts) > 1:
        prompt = [{"role": "user", "content": parts[0].strip()}] + [
            {"role": who.lower(), "content": said.strip()} for who, said in zip(parts[1::2], parts[2::2], strict=True)]
    for axis in HELPSTEER_AXES:
        value = rec.get(axis)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ItemError(f"{axis}: expected a number, got {value!r}")
    return Item.model_validate({
        "id": _source_id(rec, default_id), "prompt": prompt,
        "responses": [{"id": "r1", "text": _reply(rec["response"], "response")}],
        "metadata": _extras(rec, {"id", "prompt", "response"}),
    })


# --- shape: prompt-responses (generic) ------------------------------------------------------


def _is_prompt_responses(rec: dict) -> bool:
    return "prompt" in rec and isinstance(rec.get("responses"), list) and not _is_item(rec)


def from_prompt_responses(rec: dict, default_id: str) -> Item:
    responses = []
    for k, r in enumerate(rec["responses"]):
        if isinstance(r, str):
            r = {"text": r}
        elif not isinstance(r, dict):
            raise ItemError(f"responses.{k}: expected text or an object with text, got {_type(r)}")
        if isinstance(r.get("id"), int) and not isinstance(r["id"], bool):
            r = {**r, "id": str(r["id"])}
        responses.append({"id": f"r{k + 1}", **r})
    prompt = rec["prompt"] if isinstance(rec["prompt"], str) else _messages(rec["prompt"], "prompt")
    meta = rec["metadata"] if isinstance(rec.get("metadata"), dict) else {}
    return Item.model_validate({
        "id": _source_id(rec, default_id), "prompt": prompt,
        "context": _text(rec, "context", optional=True) or None, "responses": responses,
        "metadata": meta | _extras(rec, {"id", "prompt", "context", "responses", "metadata"}),
    })


# --- the registry ---------------------------------------------------------------------------


class Shape(NamedTuple):
    detect: Callable[[dict], bool]
    convert: Callable[[dict, str], Item | list[Item]]  # a list: one record, several items


# Detectors exclude one another, so `auto` never has to guess; the order is the one listed.
REGISTRY: dict[str, Shape] = {
    "item": Shape(_is_item, from_item),
    "trl-preference": Shape(_is_trl, from_trl_preference),
    "hh-rlhf": Shape(_is_hh, from_hh_rlhf),
    "pandalm": Shape(_is_pandalm, from_pandalm),
    "llmbar": Shape(_is_llmbar, from_llmbar),
    "oasst-tree": Shape(_is_oasst, from_oasst_tree),
    "healthbench": Shape(_is_healthbench, from_healthbench),
    "alpaca": Shape(_is_alpaca, from_alpaca),
    "ultrafeedback": Shape(_is_ultrafeedback, from_ultrafeedback),
    "helpsteer": Shape(_is_helpsteer, from_helpsteer),
    "prompt-responses": Shape(_is_prompt_responses, from_prompt_responses),
}
SHAPES: tuple[str, ...] = tuple(REGISTRY)


def detect_shapes(record: dict) -> list[str]:
    """Every shape whose detector accepts this record (one, when the record is not odd)."""
    return [name for name, s in REGISTRY.items() if s.detect(record)]


def detect_shape(record: dict) -> str | None:
    """The one shape that accepts this record, or None (no shape, or several)."""
    found = detect_shapes(record)
    return found[0] if len(found) == 1 else None


# --- files ----------------------------------------------------------------------------------


def _stem(name: str) -> str:
    for suffix in (".gz", *SUFFIXES, *TABLE_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _load(text: str, name: str) -> Any:
    """A whole file as one JSON value."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ItemError(f"{name} line {err.lineno}: malformed JSON ({err.msg}, column {err.colno})") from None
    except RecursionError:
        raise ItemError(f"{name}: JSON nested too deeply") from None


def _cell(value: Any) -> Any:
    """A table cell: text that is a JSON list or object (a conversation, the responses) is read as it."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, RecursionError):
            return value
        return parsed if isinstance(parsed, list | dict) else value
    return value


def _text_of(raw: bytes, name: str) -> str:
    """A data file's text (UTF-8, a byte-order mark dropped); the line of a bad byte, or 'empty'."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ItemError(f"{name} line {line}: not valid UTF-8 (byte {err.start})") from None
    if not text.strip():
        raise ItemError(f"{name}: empty file")
    return text


def _csv_records(raw: bytes, name: str) -> list[tuple[str, int, Any]]:
    import csv
    import io

    text = _text_of(raw, name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames or any(not (f or "").strip() for f in reader.fieldnames):
        raise ItemError(f"{name}: the first row must name every column")
    out = []
    try:
        for row in reader:
            if None in row:
                raise ItemError(f"{name} line {reader.line_num}: more cells than columns")
            # empty cells are missing values, so optional fields stay optional
            out.append(("line", reader.line_num, {k: _cell(v) for k, v in row.items() if v not in ("", None)}))
    except csv.Error as err:
        raise ItemError(f"{name} line {reader.line_num}: malformed CSV ({err})") from None
    if not out:
        raise ItemError(f"{name}: no rows under the header")
    return out


def _parquet_records(path: Path) -> list[tuple[str, int, Any]]:
    name = path.name
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ItemError(f"{name}: reading Parquet needs pyarrow: pip install 'annotary[parquet]'") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except OSError as err:
        raise ItemError(f"{name}: cannot read as Parquet ({' '.join(str(err).split())})") from None
    except Exception as err:  # noqa: BLE001 - pyarrow raises its own kinds for damaged files
        raise ItemError(f"{name}: not a readable Parquet file ({type(err).__name__})") from None
    if not rows:
        raise ItemError(f"{name}: no rows")
    return [("row", n, {k: _cell(v) for k, v in row.items() if v is not None}) for n, row in enumerate(rows, 1)]


@dataclass
class Unreadable:
    """A line of JSON Lines that is not JSON, kept (when asked) to be refused as a row of its own."""

    reason: str
    text: str


HEAD = 1 << 16  # bytes looked at to tell JSON Lines from one JSON value


def _records(path: Path, *, lenient: bool = False) -> Iterable[tuple[str, int, Any]]:
    """(where kind, number, value) per record: ('line', n) for JSON Lines and CSV, ('index', i) for an
    array, ('row', n) for Parquet. A line of JSON Lines that is not JSON is a RowError, or with
    `lenient` an Unreadable record. JSON Lines are read line by line as they are iterated (a large
    file is never in memory whole); the other layouts are read whole."""
    name = path.name
    lower = name.lower().removesuffix(".gz")
    if not lower.endswith(SUFFIXES + TABLE_SUFFIXES):
        raise ItemError(f"{name}: cannot read this file type; use .jsonl, .json or .csv (optionally .gz), "
                        "or .parquet")
    if lower.endswith(".parquet"):
        if not path.is_file():
            raise ItemError(f"{name}: cannot read (No such file or directory)")
        return _parquet_records(path)
    try:
        with _open_data(path) as f:
            head = f.read(HEAD)
    except OSError as err:
        raise ItemError(f"{name}: cannot read ({err.strerror})") from None
    except (EOFError, zlib.error):
        raise ItemError(f"{name}: not a valid gzip file") from None
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if lower.endswith(".csv") or start[:1] not in (b"{", b""):
        return _whole_records(path, lower, lenient)
    first = start.split(b"\n", 1)[0]
    if len(first) == len(start) and len(head) == HEAD:  # a first line longer than the head: look at it whole
        return _whole_records(path, lower, lenient)
    if not _parses(first.decode("utf-8", "replace")):
        return _whole_records(path, lower, lenient)  # pretty-printed, or a broken first line
    return _lines(path, lenient)


def _open_data(path: Path):
    with open(path, "rb") as probe:
        gz = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115  (closed by the caller)


def _lines(path: Path, lenient: bool) -> Iterator[tuple[str, int, Any]]:
    """The records of a JSON Lines file whose first line is JSON, read line by line (split on
    '\n' only: U+2028 may be inside a string)."""
    name = path.name
    offset = 0
    try:
        with _open_data(path) as f:
            for n, raw in enumerate(f, 1):
                if n == 1:
                    offset = len(raw) - len(raw := raw.removeprefix(b"\xef\xbb\xbf"))
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise ItemError(f"{name} line {n}: not valid UTF-8 (byte {offset + err.start})") from None
                offset += len(raw)
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (json.JSONDecodeError, RecursionError) as err:
                    why = (f"malformed JSON ({err.msg}, column {err.colno})" if isinstance(err, json.JSONDecodeError)
                           else "JSON nested too deeply")
                    if not lenient:
                        raise RowError(f"{name} line {n}: {why}") from None
                    yield "line", n, Unreadable(why, line.removesuffix("\n"))
                    continue
                yield "line", n, value
    except OSError as err:
        raise ItemError(f"{name}: cannot read ({err.strerror or err})") from None
    except (EOFError, zlib.error):
        raise ItemError(f"{name}: not a valid gzip file") from None


def _whole_records(path: Path, lower: str, lenient: bool) -> list[tuple[str, int, Any]]:
    """The records of a file read whole: CSV, a JSON array, one pretty-printed record."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ItemError(f"{name}: cannot read ({err.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise ItemError(f"{name}: not a valid gzip file") from None
    if lower.endswith(".csv"):
        return _csv_records(raw, name)
    text = _text_of(raw, name)

    if text.lstrip().startswith("["):
        data = _load(text, name)
        if not data:
            raise ItemError(f"{name}: empty file (an empty array)")
        return [("index", i, rec) for i, rec in enumerate(data)]
    if text.lstrip().startswith("{") and not _parses(text.lstrip().split("\n", 1)[0]):
        # one pretty-printed record (HealthBench ships its examples so); in JSON Lines the
        # first line is a whole record, unless it is the one broken line of the file
        try:
            return [("line", 1, _load(text, name))]
        except ItemError:
            if not any(line.startswith("{") and _parses(line) for line in text.split("\n")[1:20]):
                raise

    out = []
    # split on '\n' only: str.splitlines() would also cut at U+2028 inside JSON strings
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append(("line", n, json.loads(line)))
        except (json.JSONDecodeError, RecursionError) as err:
            why = (f"malformed JSON ({err.msg}, column {err.colno})" if isinstance(err, json.JSONDecodeError)
                   else "JSON nested too deeply")
            if not lenient:
                raise RowError(f"{name} line {n}: {why}") from None
            out.append(("line", n, Unreadable(why, line)))
    if out and all(isinstance(rec, Unreadable) for _, _, rec in out):
        _, n, first = out[0]
        raise ItemError(f"{name} line {n}: {first.reason} (no line of the file is JSON)")
    return out


def _unknown_shape(name: str, record: dict) -> ItemError:
    fields = list(record)
    shown = ", ".join(fields[:12]) + (f" (and {len(fields) - 12} more)" if len(fields) > 12 else "")
    return ItemError(
        f"{name}: unknown record shape with fields {shown or '(none)'}; known shapes: {', '.join(SHAPES)}"
    )


def read_items(path: str | Path, fmt: str = "auto", *, skip_bad: bool = False,
               allow_empty: bool = False) -> ReadResult:
    """Read a dataset file into items; `fmt` is 'auto' or one of SHAPES.

    A bad record is refused with ItemError naming its line (or array index) and field, unless
    `skip_bad`: then it is left out, its message kept in ReadResult.skipped and the row in
    ReadResult.refused. File-level problems (unreadable, not UTF-8, malformed JSON, empty, unknown
    shape) always raise, and so does a file of which no row gave an item unless `allow_empty`.
    """
    stream = ItemStream(path, fmt, skip_bad=skip_bad, allow_empty=allow_empty)
    items: list[Item] = []
    rows: list[str] = []
    for item, row in stream:
        items.append(item)
        rows.append(row)
    return ReadResult(items=items, shape=stream.shape, source=str(path), skipped=stream.skipped,
                      refused=stream.refused, rows=rows)


class ItemStream:
    """The items of one dataset file as it is read, with the row each came from: (item, "line 12").
    read_items' checks and messages; the shape is known once made, what was left out (skipped,
    refused) and how many items came once iterated. `seen` (item id -> file number << 32 | row
    number) is shared by the files of one project: an id another file gave is not a duplicate
    here, and is given for the caller to judge; one given by this file before is."""

    def __init__(self, path: str | Path, fmt: str = "auto", *, skip_bad: bool = False, allow_empty: bool = False,
                 seen: dict[str, int] | None = None, file_no: int = 0):
        self.path = Path(path)
        self.skip_bad, self.allow_empty = skip_bad, allow_empty
        self.seen = {} if seen is None else seen
        self.file_no = file_no
        self.skipped: list[str] = []
        self.refused: list[Refusal] = []
        self.count = 0
        name = self.path.name
        records = iter(_records(self.path, lenient=skip_bad))
        self.first: list[tuple[str, int, Any]] = []
        if fmt == "auto":
            for record in records:
                self.first.append(record)
                if not isinstance(record[2], Unreadable):
                    break
            kind, n, first = self.first[-1]
            if not isinstance(first, dict):
                raise ItemError(f"{name} {kind} {n}: expected a JSON object, got {_type(first)}")
            found = detect_shapes(first)
            if not found:
                raise _unknown_shape(name, first)
            if len(found) > 1:
                raise ItemError(f"{name} {kind} {n}: the record fits several shapes ({', '.join(found)}); "
                                "name one as the format")
            fmt = found[0]
        elif fmt not in REGISTRY:
            raise ItemError(f"unknown record shape {fmt!r}; known shapes: {', '.join(SHAPES)}")
        self.shape, self.records = fmt, records

    def __iter__(self) -> Iterator[tuple[Item, str]]:
        name = self.path.name
        convert = REGISTRY[self.shape].convert
        stem = _stem(name)
        seen, mine = self.seen, self.file_no << 32
        for kind, n, rec in itertools.chain(self.first, self.records):
            try:
                if isinstance(rec, Unreadable):
                    raise ItemError(rec.reason)
                if not isinstance(rec, dict):
                    raise ItemError(f"expected a JSON object, got {_type(rec)}")
                got = convert(rec, f"{stem}-{n}")
                got = got if isinstance(got, list) else [got]
                here: dict[str, int] = {}
                for item in got:
                    first_at = here.get(item.id)
                    if first_at is None and (at := seen.get(item.id)) is not None and at >> 32 == self.file_no:
                        first_at = at & 0xFFFFFFFF
                    if first_at is not None:
                        raise ItemError(f"duplicate item id {item.id!r} (first at {kind} {first_at})")
                    here[item.id] = n
            except (ItemError, ValidationError) as err:
                why = describe_validation(err) if isinstance(err, ValidationError) else err.message
                message = f"{name} {kind} {n}: {why}"
                if not self.skip_bad:
                    raise RowError(message) from None
                self.skipped.append(message)
                self.refused.append(Refusal(kind, n, why, rec.text if isinstance(rec, Unreadable) else rec))
                continue
            for item in got:
                seen.setdefault(item.id, mine | n)
                self.count += 1
                yield item, f"{kind} {n}"
        if not self.count and not self.allow_empty:
            why = f"{len(self.skipped)} refused; first: {self.skipped[0]}" if self.skipped else "no record gave an item"
            raise ItemError(f"{name}: no usable records ({why})")
