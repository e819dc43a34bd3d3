"""Checking any bundle: every member hash and the signature, then its records."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass
from pathlib import Path

from annotary.bundles.bundle import open_bundle
from annotary.bundles.identity import fingerprint_of
from annotary.core.adjudication import Case, Decision
from annotary.core.items import Item
from annotary.core.labels import Label
from annotary.ops.bundling import bundle_guidelines, bundle_items, bundle_spec, check_spec_project


@dataclass(frozen=True)
class VerifyReport:
    file: str
    sha256: str
    kind: str
    format_version: int
    bundle_id: str
    project_id: str
    project_name: str
    round: int
    created_at: str
    signer_name: str
    signer_role: str
    signer_key_id: str
    fingerprint: str
    members: int
    counts: dict

    def as_dict(self) -> dict:
        return asdict(self)


def verify_bundle(path: str | Path) -> VerifyReport:
    """Raise BundleError with a one-line reason unless the bundle is intact and well-formed.

    The signature is checked before anything else is inflated; then every member is streamed
    once for its hash, and the records are validated line by line."""
    path = Path(path)
    with open_bundle(path) as bundle:
        m = bundle.manifest
        bundle.verify_all()
        counts = {}
        if bundle.has("spec.json"):
            spec = bundle_spec(bundle)
            check_spec_project(bundle, spec)
            if bundle.has("items.jsonl"):
                counts["items"] = len(bundle_items(bundle, spec))
        elif bundle.has("items.jsonl"):
            counts["items"] = sum(1 for _ in bundle.records("items.jsonl", Item))
        if bundle.has("guidelines.md"):
            bundle_guidelines(bundle)
        for member, model, what in (("results.jsonl", Label, "labels"), ("cases.jsonl", Case, "cases"),
                                    ("decisions.jsonl", Decision, "decisions")):
            if bundle.has(member):
                counts[what] = sum(1 for _ in bundle.records(member, model))
        return VerifyReport(
            file=str(path), sha256=bundle.sha256, kind=m.kind, format_version=m.version,
            bundle_id=m.bundle_id, project_id=m.project_id, project_name=m.project_name, round=m.round,
            created_at=m.created_at.isoformat(), signer_name=m.producer.name, signer_role=m.producer.role,
            signer_key_id=m.producer.key_id,
            fingerprint=fingerprint_of(base64.b64decode(m.producer.public_key)),
            members=len(bundle.names()), counts=counts,
        )
