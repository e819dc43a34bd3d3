"""Reading the records of a verified bundle: spec, guidelines, items, labels."""

from __future__ import annotations

import json

from annotary.bundles.bundle import OpenedBundle
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


def bundle_items(bundle: OpenedBundle, spec: Spec) -> list[Item]:
    """Items of a task bundle, each checked against the spec; duplicate ids refused."""
    items = bundle.records("items.jsonl", Item)
    if not items:
        raise BundleError(f"{bundle.path.name}: the bundle holds no items")
    seen: dict[str, int] = {}
    for n, item in enumerate(items, 1):
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
    return items
