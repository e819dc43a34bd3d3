"""Reading the records of a verified bundle: spec, guidelines, items, labels."""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass

from annotary.bundles.bundle import OpenedBundle
from annotary.bundles.records import iter_jsonl
from annotary.core.adjudication import Case
from annotary.core.errors import BundleError, ItemError, SpecError, TrustError
from annotary.core.items import Item, check_item_fits
from annotary.core.spec import Spec, parse_spec


def bundle_spec(bundle: OpenedBundle) -> Spec:
    raw = bundle.member("spec.json")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{bundle.path.name}: spec.json is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{bundle.path.name}: spec.json is not a JSON object")
    try:
        return parse_spec(data, source="spec.json")
    except SpecError as err:
        raise BundleError(f"{bundle.path.name}: {err}") from None


def check_spec_project(bundle: OpenedBundle, spec: Spec) -> None:
    """The spec must be for the project the signed manifest names (checked by preview, import, verify)."""
    m = bundle.manifest
    if spec.resolved_project_id != m.project_id:
        raise TrustError(
            f"{bundle.path.name}: manifest names project {m.project_id!r} but its spec is for "
            f"{spec.resolved_project_id!r}: refused"
        )


def bundle_guidelines(bundle: OpenedBundle) -> str:
    raw = bundle.members.get("guidelines.md", b"")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{bundle.path.name}: guidelines.md is not valid UTF-8") from None


@dataclass(frozen=True)
class ItemRow:
    """An item as stored: its id, kind, and the exact JSON the signed bundle carried."""

    id: str
    kind: str
    data: str


def bundle_items(bundle: OpenedBundle, spec: Spec) -> list[ItemRow]:
    """Items of a task bundle, each validated and checked against the spec; duplicate ids refused.

    Only the rows are kept: 100k validated models would hold a gigabyte for nothing."""
    seen: dict[str, int] = {}
    rows: list[ItemRow] = []
    data = bundle.member("items.jsonl")
    gc.disable()  # nothing here makes cycles; collections over the growing list only cost time
    try:
        for n, item, line in iter_jsonl(data, Item, "items.jsonl"):
            if item.id in seen:
                raise BundleError(
                    f"{bundle.path.name}: items.jsonl line {n}: duplicate item id {item.id!r}"
                    f" (first at line {seen[item.id]})"
                )
            seen[item.id] = n
            try:
                check_item_fits(item, spec, where=f"items.jsonl line {n}: ")
            except ItemError as err:
                raise BundleError(f"{bundle.path.name}: {err}") from None
            rows.append(ItemRow(item.id, item.kind, line.decode("utf-8")))
    except BundleError as err:
        if err.message.startswith(f"{bundle.path.name}: "):
            raise
        raise BundleError(f"{bundle.path.name}: {err.message}") from None
    finally:
        gc.enable()
    if not rows:
        raise BundleError(f"{bundle.path.name}: the bundle holds no items")
    return rows


def bundle_cases(bundle: OpenedBundle, spec: Spec, item_ids: set[str]) -> list[Case]:
    """The cases of an adjudication bundle: each for an item it carries and a question of the
    spec, each annotator answer fitting its question."""
    name = bundle.path.name
    questions = {q.id: q for q in spec.questions}
    cases = bundle.records("cases.jsonl", Case)
    if not cases:
        raise BundleError(f"{name}: the adjudication bundle holds no cases")
    seen = set()
    for n, case in enumerate(cases, 1):
        at = f"{name}: cases.jsonl line {n}"
        if case.item_id not in item_ids:
            raise BundleError(f"{at}: item {case.item_id!r} is not in the bundle")
        if case.question_id not in questions:
            raise BundleError(f"{at}: question {case.question_id!r} is not in the spec")
        if (case.item_id, case.question_id) in seen:
            raise BundleError(f"{at}: a second case for item {case.item_id!r}, question {case.question_id!r}")
        seen.add((case.item_id, case.question_id))
        if case.majority is not None and not 0 <= case.majority < len(case.answers):
            raise BundleError(f"{at}: majority: no answer {case.majority}")
        q = questions[case.question_id]
        for a in [x.answer for x in case.answers] + [case.consensus]:
            if a is not None and a.mode != q.mode:
                raise BundleError(f"{at}: a {a.mode} answer to a {q.mode} question")
    return cases
