"""Checking any bundle: every member hash and the signature, then its records."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

from annotary.bundles.identity import fingerprint_of
from annotary.core.adjudication import Case, Decision
from annotary.core.items import Item
from annotary.core.labels import Label
from annotary.ops.bundling import (
    bundle_guidelines,
    bundle_items,
    bundle_spec,
    check_spec_project,
    open_local,
)


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
    instance_id: str | None = None  # the project instance it was made for, None before instances
    coordinator_key_id: str | None = None
    encrypted: bool = False  # an age file, opened with this computer's identity
    signed_sha256: str = ""  # of the signed zip inside (the file itself when not encrypted)

    @property
    def instance_text(self) -> str:
        """The project instance, said as a person reads it."""
        if self.instance_id is None:
            return "made before instance ids; matched on project id only"
        return f"instance {self.instance_id}, coordinator key {self.coordinator_key_id}"

    def as_dict(self) -> dict:
        return asdict(self) | {"instance": self.instance_text}


def verify_bundle(path: str | Path) -> VerifyReport:
    """Raise BundleError with a one-line reason unless the bundle is intact and well-formed.

    The signature is checked before anything else is inflated; then every member is streamed
    once for its hash, and the records are validated line by line."""
    path = Path(path)
    with open_local(path) as bundle:
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
            file=str(path), sha256=_file_sha256(path) if bundle.sealed else bundle.sha256, kind=m.kind, format_version=m.version,
            bundle_id=m.bundle_id, project_id=m.project_id, project_name=m.project_name, round=m.round,
            created_at=m.created_at.isoformat(), signer_name=m.producer.name, signer_role=m.producer.role,
            signer_key_id=m.producer.key_id,
            fingerprint=fingerprint_of(base64.b64decode(m.producer.public_key)),
            members=len(bundle.names()), counts=counts,
            instance_id=m.instance_id, coordinator_key_id=m.coordinator_key_id,
            encrypted=bundle.sealed, signed_sha256=bundle.sha256,
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
