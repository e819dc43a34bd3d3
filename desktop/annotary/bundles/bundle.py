"""Bundles: write a signed .annotary zip atomically; read one back, checking limits, signature and hashes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from annotary.bundles.identity import (
    SIGNATURE_SIZE,
    Identity,
    key_id_of,
    public_key_from_b64,
    verify_signature,
)
from annotary.bundles.records import M, parse_jsonl
from annotary.bundles.zipsafe import (
    DEFAULT_LIMITS,
    Limits,
    name_problem,
    quote,
    read_file_bytes,
    unpack,
)
from annotary.core.errors import BundleError, describe_validation
from annotary.core.formats import FORMAT_NAME, FORMAT_VERSION, Manifest, Member

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RESERVED = (MANIFEST, SIGNATURE)


def encode_manifest(manifest: Manifest) -> bytes:
    """The exact bytes that are signed and stored as manifest.json."""
    doc = manifest.model_dump(mode="json")
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_bundle(
    path: Path | str,
    *,
    kind: str,
    project_id: str,
    project_name: str,
    identity: Identity,
    members: dict[str, bytes],
    round: int = 1,
    counts: dict[str, int] | None = None,
    bundle_id: str | None = None,
) -> Manifest:
    path = Path(path)
    label = path.name
    for name in members:
        if name in RESERVED:
            raise BundleError(f"{label}: {name} is written by Annotary; it cannot be a member")
        problem = name_problem(name)
        if problem:
            raise BundleError(f"{label}: member {quote(name)} {problem}")
    if len(members) + len(RESERVED) > DEFAULT_LIMITS.max_members:
        raise BundleError(f"{label}: {len(members)} members is more than a bundle may hold")

    entries = sorted(members.items())
    try:
        manifest = Manifest(
            format=FORMAT_NAME,
            version=FORMAT_VERSION,
            kind=kind,
            bundle_id=bundle_id or uuid.uuid4().hex,
            project_id=project_id,
            project_name=project_name,
            round=round,
            created_at=datetime.now(UTC).replace(microsecond=0),
            producer=identity.producer(),
            members=[Member(name=n, sha256=hashlib.sha256(b).hexdigest(), size=len(b)) for n, b in entries],
            counts=counts or {},
        )
    except ValidationError as e:
        raise BundleError(f"{label}: {MANIFEST}: {describe_validation(e)}") from None
    manifest_bytes = encode_manifest(manifest)
    signature = identity.sign(manifest_bytes)
    stamp = manifest.created_at.timetuple()[:6]
    _write_zip_atomically(path, [(MANIFEST, manifest_bytes), (SIGNATURE, signature), *entries], stamp)
    return manifest


def _write_zip_atomically(path: Path, entries: list[tuple[str, bytes]], stamp: Any) -> None:
    """Readers see the old file or the whole new one, never a half-written zip."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise BundleError(f"{path.name}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w") as zf:
                for name, data in entries:
                    info = zipfile.ZipInfo(name, date_time=stamp)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    # unix mode bits in the upper half, so unzip tools make plain 0644 files
                    info.create_system = 3
                    info.external_attr = (stat.S_IFREG | 0o644) << 16
                    zf.writestr(info, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise BundleError(f"{path.name}: cannot write ({e.strerror or e})") from None
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # on POSIX the rename is only durable once the directory is synced; Windows cannot open folders
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass
class OpenedBundle:
    path: Path
    sha256: str
    manifest: Manifest
    manifest_bytes: bytes
    members: dict[str, bytes]

    def member(self, name: str) -> bytes:
        try:
            return self.members[name]
        except KeyError:
            raise BundleError(f"{self.path.name}: bundle has no {name}") from None

    def records(self, name: str, model: type[M]) -> list[M]:
        data = self.member(name)
        try:
            return parse_jsonl(data, model, name)
        except BundleError as e:
            raise BundleError(f"{self.path.name}: {e.message}") from None


def read_bundle(
    path: Path | str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    expect_kind: str | tuple[str, ...] | None = None,
) -> OpenedBundle:
    """Open and check a bundle; nothing in it is to be trusted until this returns."""
    path = Path(path)
    label = path.name
    data = read_file_bytes(path, limits)
    digest = hashlib.sha256(data).hexdigest()
    members = unpack(data, label, limits)
    try:
        manifest_bytes = members.pop(MANIFEST, None)
        if manifest_bytes is None:
            raise BundleError(f"has no {MANIFEST}; not an Annotary bundle")
        signature = members.pop(SIGNATURE, None)
        if signature is None:
            raise BundleError(f"missing signature ({SIGNATURE})")
        manifest = parse_manifest(manifest_bytes)
        _check_signature(manifest, manifest_bytes, signature)
        if expect_kind is not None:
            kinds = (expect_kind,) if isinstance(expect_kind, str) else tuple(expect_kind)
            if manifest.kind not in kinds:
                raise BundleError(f"this is a {manifest.kind} bundle; expected {' or '.join(kinds)}")
        _check_members(manifest, members)
    except BundleError as e:
        raise BundleError(f"{label}: {e.message}") from None
    return OpenedBundle(path, digest, manifest, manifest_bytes, members)


def parse_manifest(data: bytes) -> Manifest:
    """The manifest, with its version checked first so a newer format gets a clear message."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise BundleError(f"{MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{MANIFEST} is not a JSON object")
    if doc.get("format") != FORMAT_NAME:
        raise BundleError(f"unknown format {quote(str(doc.get('format')))}; not an Annotary bundle")
    version = doc.get("version")
    if type(version) is not int:
        raise BundleError(f"{MANIFEST}: version is missing or not a whole number")
    if version > FORMAT_VERSION:
        raise BundleError(f"format version {version} is newer than this Annotary understands ({FORMAT_VERSION})")
    if version != FORMAT_VERSION:
        raise BundleError(f"format version {version} is unknown (this Annotary reads {FORMAT_VERSION})")
    try:
        return Manifest.model_validate(doc)
    except ValidationError as e:
        raise BundleError(f"{MANIFEST}: {describe_validation(e)}") from None


def _check_signature(manifest: Manifest, manifest_bytes: bytes, signature: bytes) -> None:
    if len(signature) != SIGNATURE_SIZE:
        raise BundleError(f"{SIGNATURE} is {len(signature)} bytes; an Ed25519 signature is {SIGNATURE_SIZE}")
    producer = manifest.producer
    try:
        raw = public_key_from_b64(producer.public_key).public_bytes_raw()
    except BundleError as e:
        raise BundleError(f"{MANIFEST}: producer {e.message}") from None
    if producer.key_id != key_id_of(raw):
        raise BundleError(f"{MANIFEST}: producer key id {producer.key_id} does not match the producer's public key")
    if not verify_signature(producer.public_key, signature, manifest_bytes):
        raise BundleError("signature does not match the manifest: the file was altered or not signed by its producer")


def _check_members(manifest: Manifest, members: dict[str, bytes]) -> None:
    listed: set[str] = set()
    for m in manifest.members:
        if m.name in listed:
            raise BundleError(f"{MANIFEST} lists member {quote(m.name)} twice")
        listed.add(m.name)
        data = members.get(m.name)
        if data is None:
            raise BundleError(f"member {quote(m.name)} is listed in the manifest but missing")
        if len(data) != m.size or hashlib.sha256(data).hexdigest() != m.sha256:
            raise BundleError(f"member {quote(m.name)} does not match its hash: altered after signing")
    for name in members:
        if name not in listed:
            raise BundleError(f"member {quote(name)} is not listed in the manifest")
