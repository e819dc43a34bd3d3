"""Reading the records of a verified bundle: spec, guidelines, items, labels."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from annotary.bundles.bundle import BundleReader, open_bundle
from annotary.bundles.sealed import Unseal, is_sealed, unsealed
from annotary.bundles.zipsafe import DEFAULT_LIMITS
from annotary.core.adjudication import Case
from annotary.core.errors import BundleError, ItemError, SpecError, TrustError
from annotary.core.items import Item, fits_checker
from annotary.core.spec import Spec, parse_spec
from annotary.ops import identity as identity_ops
from annotary.paths import data_dir
from annotary.store import Store

GUIDELINE_ASSETS = "guidelines/"  # the members that hold the guidelines' pictures


def local_unseal() -> Unseal:
    """Encrypted bundles are opened here with this computer's identity; their decryption goes in
    a private folder of the data folder (not a temporary folder that may live in memory)."""
    return Unseal(identity=identity_ops.current_identity, workdir=data_dir() / "tmp")


def open_local(path: str | Path, **options) -> BundleReader:
    """open_bundle, an encrypted bundle decrypted with the local identity (see local_unseal)."""
    return open_bundle(path, unseal=local_unseal(), **options)


def is_encrypted_bundle(path: str | Path) -> bool:
    """Whether the file is an age file (an encrypted bundle, to be opened with the local identity)."""
    return is_sealed(path)


@contextmanager
def plain_local(path: str | Path) -> Iterator[Path]:
    """The path itself, or, for an encrypted bundle, its decryption (same name, private, removed
    on the way out): for a caller that opens the same file more than once."""
    with unsealed(Path(path), local_unseal(), max_bytes=DEFAULT_LIMITS.max_file_bytes) as plain:
        yield plain


def bundle_spec(bundle: BundleReader) -> Spec:
    data = bundle.json("spec.json")
    try:
        return parse_spec(data, source="spec.json")
    except SpecError as err:
        raise BundleError(f"{bundle.path.name}: {err}") from None
    except (ValueError, TypeError, RecursionError) as err:  # a validator tripping over odd input
        raise BundleError(f"{bundle.path.name}: spec.json: {str(err).splitlines()[0][:160]}") from None


def check_spec_project(bundle: BundleReader, spec: Spec) -> None:
    """The spec must be for the project the signed manifest names (checked by preview, import, verify)."""
    m = bundle.manifest
    if spec.resolved_project_id != m.project_id:
        raise TrustError(
            f"{bundle.path.name}: manifest names project {m.project_id!r} but its spec is for "
            f"{spec.resolved_project_id!r}: refused"
        )


def instance_fields(info) -> dict[str, str]:
    """What ties a bundle of this project (a ProjectInfo) to its instance: the instance id and the
    coordinator's key id, for write_bundle; nothing for a project whose instance is not known (an
    annotator's project imported from bundles that carried none)."""
    if info.instance_id is None or info.coordinator_key_id is None:
        return {}
    return {"instance_id": info.instance_id, "coordinator_key_id": info.coordinator_key_id}


def instance_problem(manifest, instance_id: str | None, coordinator_key_id: str | None) -> str | None:
    """Why a bundle belongs to another instance of its project than the one given, or None.

    A bundle that names no instance was written before instances existed (or for a project whose
    instance its annotator never learnt): it is checked as it was then (project id, signer,
    roster, assignments), so older bundles keep merging."""
    if manifest.instance_id is None:
        return None
    if manifest.instance_id == instance_id and manifest.coordinator_key_id == coordinator_key_id:
        return None
    return (f"made for another project instance with the same id {manifest.project_id!r} "
            f"(instance {manifest.instance_id[:12]}, coordinator key {manifest.coordinator_key_id}; "
            f"this one is instance {(instance_id or 'unknown')[:12]}, coordinator key {coordinator_key_id})")


def check_instance(bundle_name: str, manifest, info) -> None:
    """Refuse a bundle made for another instance of the project `info` (see instance_problem)."""
    problem = instance_problem(manifest, info.instance_id, info.coordinator_key_id)
    if problem:
        raise TrustError(f"{bundle_name}: {problem}: refused")


def bundle_guidelines(bundle: BundleReader) -> str:
    return bundle.text("guidelines.md") if bundle.has("guidelines.md") else ""


@dataclass(frozen=True)
class ItemRow:
    """An item as stored: its id, kind, and the exact JSON the signed bundle carried (as text,
    or as its UTF-8 bytes when read with iter_bundle_items(raw=True))."""

    id: str
    kind: str
    data: str | bytes


def bundle_items(bundle: BundleReader, spec: Spec) -> list[ItemRow]:
    """Items of a task bundle, each validated and checked against the spec; duplicate ids refused.

    Only the rows are kept: 100k validated models would hold a gigabyte for nothing; the member
    is read line by line from its stream."""
    gc.disable()  # nothing here makes cycles; collections over the growing list only cost time
    try:
        return list(iter_bundle_items(bundle, spec))
    finally:
        gc.enable()


def iter_bundle_items(bundle: BundleReader, spec: Spec, *, raw: bool = False) -> Iterator[ItemRow]:
    """bundle_items one row at a time, as the member is read (its hash is checked at its end);
    `raw`: each row's data is the line's bytes (checked UTF-8), not decoded again."""
    seen: dict[str, int] = {}
    fits = fits_checker(spec)
    if not bundle.has("items.jsonl"):
        raise BundleError(f"{bundle.path.name}: bundle has no items.jsonl")
    try:
        for n, item, line in bundle.records("items.jsonl", Item, quick=True):
            if item.id in seen:
                raise BundleError(
                    f"{bundle.path.name}: items.jsonl line {n}: duplicate item id {item.id!r}"
                    f" (first at line {seen[item.id]})"
                )
            seen[item.id] = n
            try:
                fits(item, lambda: f"items.jsonl line {n}: ")  # noqa: B023 (called at once)
            except ItemError as err:
                raise BundleError(f"{bundle.path.name}: {err}") from None
            yield ItemRow(item.id, item.kind, line if raw else line.decode("utf-8"))
    except BundleError as err:
        if err.message.startswith(f"{bundle.path.name}: "):
            raise
        raise BundleError(f"{bundle.path.name}: {err.message}") from None
    if not seen:
        raise BundleError(f"{bundle.path.name}: the bundle holds no items")


def bundle_cases(bundle: BundleReader, spec: Spec, item_ids: set[str]) -> list[Case]:
    """The cases of an adjudication bundle: each for an item it carries and a question of the
    spec, each annotator answer fitting its question."""
    name = bundle.path.name
    questions = {q.id: q for q in spec.questions}
    if not bundle.has("cases.jsonl"):
        raise BundleError(f"{name}: bundle has no cases.jsonl")
    cases = [case for _, case, _ in bundle.records("cases.jsonl", Case)]
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


def logged_before(store: Store, *, sha256: str, key: tuple[str, str], project_id: str | None = None) -> bool:
    """Whether a bundle was imported or merged before: the same signed bundle (its id and signer,
    however the file was re-zipped since), or, for logs older than that rule, the same file."""
    bundle_id, signer = key
    sql = "SELECT 1 FROM bundle_log WHERE (sha256=? OR (bundle_id=? AND signer_key_id=?))"
    args: tuple = (sha256, bundle_id, signer)
    if project_id is not None:
        sql += " AND project_id=?"
        args += (project_id,)
    return store.one(sql, args) is not None
