"""Model completions from files of their own, joined to the prompts they answer (item id or the source's own id)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotary.core.errors import ItemError
from annotary.core.items import Item
from annotary.datasets.readers import Refusal, RowError, Unreadable, _records, _reply, _stem, _type

TARGETS = ("item_id", "id", "prompt_id")  # what a row answers, in the order looked at
TEXTS = ("text", "response", "completion")  # where its text is
OWN_KEYS = frozenset({*TARGETS, *TEXTS, "model", "response_id"})
SOURCE_IDS = ("prompt_id",)  # metadata fields holding a source's own id for an item (HealthBench)



@dataclass
class Completion:
    """One row of a responses file: the completion of one model for one prompt."""

    target: str
    response_id: str
    text: str
    model: str | None
    extra: dict
    file: str
    kind: str  # where in the file: ('line', 3), ('index', 0), ('row', 1)
    number: int

    @property
    def where(self) -> str:
        return f"{self.file} {self.kind} {self.number}"


@dataclass
class Completions:
    rows: list[Completion] = field(default_factory=list)
    refused: list[tuple[str, Refusal]] = field(default_factory=list)  # (file name, row)


def read_completions(path: str | Path, *, skip_bad: bool = False) -> Completions:
    """Read a responses file; a bad row is a RowError naming it, or with `skip_bad` left out."""
    path = Path(path)
    name, stem = path.name, _stem(path.name)
    out = Completions()
    for kind, n, rec in _records(path, lenient=skip_bad):
        try:
            if isinstance(rec, Unreadable):
                raise ItemError(rec.reason)
            out.rows.append(_completion(rec, stem, name, kind, n))
        except ItemError as err:
            if not skip_bad:
                raise RowError(f"{name} {kind} {n}: {err.message}") from None
            out.refused.append((name, Refusal(kind, n, err.message, rec.text if isinstance(rec, Unreadable) else rec)))
    return out


def _completion(rec: Any, stem: str, name: str, kind: str, n: int) -> Completion:
    if not isinstance(rec, dict):
        raise ItemError(f"expected a JSON object, got {_type(rec)}")
    key = next((k for k in TARGETS if rec.get(k) is not None), None)
    if key is None:
        raise ItemError(f"{' or '.join(TARGETS)}: field required (the prompt this response answers)")
    target = rec[key]
    if isinstance(target, bool) or not isinstance(target, str | int) or not str(target).strip():
        raise ItemError(f"{key}: expected text or a whole number, got {target!r}")
    text_key = next((k for k in TEXTS if k in rec), None)
    if text_key is None:
        raise ItemError(f"text: field required (or {', '.join(TEXTS[1:])})")
    text = _reply(rec[text_key], text_key)
    model = rec.get("model")
    if model is not None and not isinstance(model, str):
        raise ItemError(f"model: expected text, got {_type(model)}")
    rid = rec.get("response_id", model or stem)
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    if not isinstance(rid, str) or not rid.strip() or len(rid) > 100:
        raise ItemError(f"response_id: expected text of 1 to 100 characters, got {rid!r}")
    extra = {k: v for k, v in rec.items() if k not in OWN_KEYS}
    return Completion(str(target), rid, text, model or None, extra, name, kind, n)


def source_keys(item: Item) -> list[str]:
    """The ids a responses row may name an item by: its own, then the source's (HealthBench prompt_id)."""
    keys = [item.id]
    for k in SOURCE_IDS:
        v = item.metadata.get(k)
        if isinstance(v, str | int) and not isinstance(v, bool) and str(v) != item.id:
            keys.append(str(v))
    return keys


def with_completions(item: Item, found: list[Completion], *, keep_source: bool) -> Item:
    """The item answered by these completions. Unless `keep_source`, the source's own responses
    (a HealthBench ideal completion, its references) leave the responses for the metadata: the
    completions are what is under evaluation."""
    responses = [r.model_dump(exclude_none=True) for r in item.responses] if keep_source else []
    meta = dict(item.metadata)
    if item.responses and not keep_source:
        meta["source_responses"] = [r.model_dump(exclude_none=True) for r in item.responses]
    taken = {r["id"]: "the source" for r in responses}
    notes = dict(meta.get("response_metadata") or {})
    for c in found:
        if c.response_id in taken:
            raise ItemError(f"{c.where}: item {item.id!r} already has a response {c.response_id!r} "
                            f"(from {taken[c.response_id]}); give each model's rows their own model or "
                            "response_id")
        taken[c.response_id] = c.where
        responses.append({"id": c.response_id, "text": c.text, **({"model": c.model} if c.model else {})})
        if c.extra:
            notes[c.response_id] = c.extra
    if notes:
        meta["response_metadata"] = notes
    return item.model_copy(update={"responses": Item.model_validate(
        {"id": item.id, "prompt": "", "responses": responses}).responses, "metadata": meta})
