"""Reading source datasets (JSON, JSON Lines, optionally gzipped) into items, one record shape per file."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import ValidationError

from annotary.core.errors import ItemError, describe_validation
from annotary.core.items import Item

SUFFIXES = (".jsonl", ".ndjson", ".json")


@dataclass
class ReadResult:
    """The items of one file, the record shape they were read as, and what was left out."""

    items: list[Item]
    shape: str
    source: str
    skipped: list[str] = field(default_factory=list)


# --- helpers shared by the converters -------------------------------------------------------

_JSON_TYPES = {str: "text", bool: "true/false", int: "a number", float: "a number",
               list: "a list", dict: "an object", type(None): "null"}


def _type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _text(rec: dict, key: str, *, optional: bool = False) -> str | None:
    value = rec.get(key)
    if value is None:
        if optional:
            return None
        raise ItemError(f"{key}: field required")
    if not isinstance(value, str):
        raise ItemError(f"{key}: expected text, got {_type(value)}")
    return value


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
    return "responses" in rec or ("prompt" in rec and set(rec) <= ITEM_FIELDS)


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


def _hh_split(rec: dict, key: str) -> tuple[str, str]:
    text = _text(rec, key)
    prefix, sep, reply = text.rpartition(_HH_ASSISTANT)
    if not sep:
        raise ItemError(f"{key}: no '\\n\\nAssistant:' turn in the transcript")
    return prefix, reply.strip()


def from_hh_rlhf(rec: dict, default_id: str) -> Item:
    item_id = _source_id(rec, default_id)
    prefix, chosen = _hh_split(rec, "chosen")
    other, rejected = _hh_split(rec, "rejected")
    if prefix != other:
        raise ItemError("chosen, rejected: the transcripts differ before the last Assistant turn")
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


# --- the registry ---------------------------------------------------------------------------


class Shape(NamedTuple):
    detect: Callable[[dict], bool]
    convert: Callable[[dict, str], Item]


# Order matters: auto-detection takes the first shape whose detector accepts the first record.
REGISTRY: dict[str, Shape] = {
    "item": Shape(_is_item, from_item),
    "trl-preference": Shape(_is_trl, from_trl_preference),
    "hh-rlhf": Shape(_is_hh, from_hh_rlhf),
    "pandalm": Shape(_is_pandalm, from_pandalm),
    "llmbar": Shape(_is_llmbar, from_llmbar),
}
SHAPES: tuple[str, ...] = tuple(REGISTRY)


def detect_shape(record: dict) -> str | None:
    """The name of the first shape that accepts this record, or None."""
    return next((name for name, s in REGISTRY.items() if s.detect(record)), None)


# --- files ----------------------------------------------------------------------------------


def _stem(name: str) -> str:
    for suffix in (".gz", *SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _records(path: Path) -> list[tuple[str, int, Any]]:
    """(where kind, number, value) per record: ('line', n) for JSON Lines, ('index', i) for an array."""
    name = path.name
    if not name.lower().removesuffix(".gz").endswith(SUFFIXES):
        raise ItemError(f"{name}: cannot read this file type; use .jsonl or .json (optionally .gz)")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ItemError(f"{name}: cannot read ({err.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            raise ItemError(f"{name}: not a valid gzip file") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ItemError(f"{name} line {line}: not valid UTF-8 (byte {err.start})") from None
    if not text.strip():
        raise ItemError(f"{name}: empty file")

    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ItemError(f"{name} line {err.lineno}: malformed JSON ({err.msg}, column {err.colno})") from None
        if not data:
            raise ItemError(f"{name}: empty file (an empty array)")
        return [("index", i, rec) for i, rec in enumerate(data)]

    out = []
    # split on '\n' only: str.splitlines() would also cut at U+2028 inside JSON strings
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            out.append(("line", n, json.loads(line)))
        except json.JSONDecodeError as err:
            raise ItemError(f"{name} line {n}: malformed JSON ({err.msg}, column {err.colno})") from None
    return out


def _unknown_shape(name: str, record: dict) -> ItemError:
    fields = list(record)
    shown = ", ".join(fields[:12]) + (f" (and {len(fields) - 12} more)" if len(fields) > 12 else "")
    return ItemError(
        f"{name}: unknown record shape with fields {shown or '(none)'}; known shapes: {', '.join(SHAPES)}"
    )


def read_items(path: str | Path, fmt: str = "auto", *, skip_bad: bool = False) -> ReadResult:
    """Read a dataset file into items; `fmt` is 'auto' or one of SHAPES.

    A bad record is refused with ItemError naming its line (or array index) and field, unless
    `skip_bad`: then it is left out and its message kept in ReadResult.skipped. File-level
    problems (unreadable, not UTF-8, malformed JSON, empty, unknown shape) always raise.
    """
    path = Path(path)
    name = path.name
    records = _records(path)
    if fmt == "auto":
        kind, n, first = records[0]
        if not isinstance(first, dict):
            raise ItemError(f"{name} {kind} {n}: expected a JSON object, got {_type(first)}")
        fmt = detect_shape(first) or ""
        if not fmt:
            raise _unknown_shape(name, first)
    elif fmt not in REGISTRY:
        raise ItemError(f"unknown record shape {fmt!r}; known shapes: {', '.join(SHAPES)}")
    convert = REGISTRY[fmt].convert
    stem = _stem(name)

    items: list[Item] = []
    seen: dict[str, int] = {}
    skipped: list[str] = []
    for kind, n, rec in records:
        try:
            if not isinstance(rec, dict):
                raise ItemError(f"expected a JSON object, got {_type(rec)}")
            item = convert(rec, f"{stem}-{n}")
            if item.id in seen:
                raise ItemError(f"duplicate item id {item.id!r} (first at {kind} {seen[item.id]})")
        except (ItemError, ValidationError) as err:
            why = describe_validation(err) if isinstance(err, ValidationError) else err.message
            message = f"{name} {kind} {n}: {why}"
            if not skip_bad:
                raise ItemError(message) from None
            skipped.append(message)
            continue
        seen[item.id] = n
        items.append(item)
    if not items:
        raise ItemError(f"{name}: no usable records ({len(skipped)} refused; first: {skipped[0]})")
    return ReadResult(items=items, shape=fmt, source=str(path), skipped=skipped)
