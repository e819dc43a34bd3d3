"""Bundles: write a signed .annotary zip atomically; read one back, checking limits, signature and hashes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from annotary.bundles.identity import (
    SIGNATURE_SIZE,
    Identity,
    key_id_of,
    public_key_from_b64,
    verify_signature,
)
from annotary.bundles.records import (
    M,
    iter_jsonl,
    iter_lines,
    iter_quick,
    load_object,
    parse_jsonl,
    record_dict,
)
from annotary.bundles.sealed import (
    Recipient,
    Unseal,
    atomic_output,
    is_sealed,
    private_folder,
    seal,
    unsealed,
)
from annotary.bundles.zipsafe import (
    DEFAULT_LIMITS,
    Limits,
    ZipReader,
    name_problem,
    quote,
    size_text,
)
from annotary.core.errors import BundleError, describe_validation
from annotary.core.formats import FORMAT_NAME, FORMAT_VERSION, Manifest, Member

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
RESERVED = (MANIFEST, SIGNATURE)


def encode_manifest(manifest: Manifest) -> bytes:
    """The exact bytes that are signed and stored as manifest.json."""
    # a bundle of no project instance reads as one written before instances existed
    doc = manifest.model_dump(mode="json", exclude={"instance_id", "coordinator_key_id"}
                              if manifest.instance_id is None else None)
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


# a member given as bytes is zipped as it is; any other iterable of bytes is a stream, read once
MemberData = bytes | Iterable[bytes]


@dataclass(frozen=True)
class _Source:
    """A member ready to zip: its bytes, or the file its stream was spooled to (at its start)."""

    data: bytes | BinaryIO
    sha256: str
    size: int


def write_bundle(
    path: Path | str,
    *,
    kind: str,
    project_id: str,
    project_name: str,
    identity: Identity,
    members: Mapping[str, MemberData],
    round: int = 1,
    counts: dict[str, int] | None = None,
    bundle_id: str | None = None,
    instance_id: str | None = None,
    coordinator_key_id: str | None = None,
    recipients: Sequence[Recipient] = (),
    workdir: Path | None = None,
) -> Manifest:
    """Write a signed bundle. `instance_id` and `coordinator_key_id` (both or neither) tie it to
    one project instance (see Manifest). With `recipients` the signed zip is encrypted to them
    (age, see bundles.sealed): it is written first into a private temporary folder (in
    `workdir`), never beside the output, and only its encryption reaches `path`.

    A member is bytes, or an iterable of byte chunks that is read once, in order, and never held
    whole: the manifest (first in the zip) signs each member's hash and size, so a streamed member
    is first spooled to an unnamed temporary file (beside the output, or in the private folder
    when encrypted) while it is hashed, then deflated into the zip from there. Memory is then a
    chunk, whatever the member's size; the bundle's bytes are the same as for the member whole."""
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

    with ExitStack() as stack:
        folder = stack.enter_context(private_folder(workdir)) if recipients else None
        entries = [(name, _source(data, folder or path.parent, label, stack))
                   for name, data in sorted(members.items())]
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
                members=[Member(name=n, sha256=s.sha256, size=s.size) for n, s in entries],
                counts=counts or {},
                instance_id=instance_id,
                coordinator_key_id=coordinator_key_id,
            )
        except ValidationError as e:
            raise BundleError(f"{label}: {MANIFEST}: {describe_validation(e)}") from None
        manifest_bytes = encode_manifest(manifest)
        signature = identity.sign(manifest_bytes)
        stamp = manifest.created_at.timetuple()[:6]
        zipped = [(MANIFEST, manifest_bytes, len(manifest_bytes)), (SIGNATURE, signature, len(signature)),
                  *((n, s.data, s.size) for n, s in entries)]
        if not recipients:
            _write_zip_atomically(path, zipped, stamp)
            return manifest
        plain = folder / path.name
        _write_zip_atomically(plain, zipped, stamp)
        seal(plain, path, recipients)
    _fsync_dir(path.parent)
    return manifest


SPOOL_CHUNK = 1 << 20


def _source(data: MemberData, folder: Path, label: str, stack: ExitStack) -> _Source:
    """A member's hash and size; a stream spooled to a temporary file that `stack` removes."""
    if isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
        return _Source(data, hashlib.sha256(data).hexdigest(), len(data))
    digest, size = hashlib.sha256(), 0
    try:
        # unnamed where the system allows it (O_TMPFILE), born 0600 elsewhere: never readable by others
        spool = stack.enter_context(tempfile.TemporaryFile(dir=folder, prefix=f".{label}.", suffix=".member"))
        for chunk in data:
            digest.update(chunk)
            size += len(chunk)
            spool.write(chunk)
        spool.seek(0)
    except OSError as e:
        raise BundleError(f"{label}: cannot write ({e.strerror or e})") from None
    return _Source(spool, digest.hexdigest(), size)


# zlib's fastest level: seven times faster than its default (6) on items and labels, for files
# about a third larger (a quarter of the JSON's size instead of a sixth). Writing the 20 task
# bundles of a round was most of `project assign`'s time.
COMPRESS_LEVEL = 1


def _write_zip_atomically(path: Path, entries: list[tuple[str, bytes | BinaryIO, int]], stamp: Any) -> None:
    """Readers see the old file or the whole new one, never a half-written zip."""
    with atomic_output(path) as f:
        with zipfile.ZipFile(f, "w") as zf:
            for name, data, size in entries:
                info = zipfile.ZipInfo(name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                # unix mode bits in the upper half, so unzip tools make plain 0644 files
                info.create_system = 3
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                if isinstance(data, bytes):
                    zf.writestr(info, data, compresslevel=COMPRESS_LEVEL)
                    continue
                # as writestr does it, from the spooled file: the same bytes in the zip
                info._compresslevel = COMPRESS_LEVEL
                info.file_size = size
                with zf.open(info, "w") as member:
                    shutil.copyfileobj(data, member, SPOOL_CHUNK)
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
    """A bundle verified and read whole (small bundles, and callers that want every member)."""

    path: Path
    sha256: str
    manifest: Manifest
    manifest_bytes: bytes
    members: dict[str, bytes]

    @property
    def key(self) -> tuple[str, str]:
        """What makes a bundle the same bundle: its signed id and its signer (see BundleReader.key)."""
        return (self.manifest.bundle_id, self.manifest.producer.key_id)

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


class BundleReader:
    """A bundle opened for reading, hostile until proven otherwise.

    Opening reads only the zip's central directory (names, links, counts, declared sizes and
    ratios checked), then manifest.json and manifest.sig (size-limited), then checks the signature
    and that the zip holds exactly the members the manifest lists, with their signed sizes. No
    other member is inflated until asked for; each is then inflated streaming, never past its
    signed size, its SHA-256 checked as it streams: a member's last bytes are given only once the
    hash matched, so a consumer that writes nothing before the end of a member (one transaction)
    never writes altered content. Every error is a one-line BundleError naming the file.

        with open_bundle(path, expect_kind="results") as b:
            b.manifest                      # verified, signed
            for n, label, line in b.records("results.jsonl", Label):   # one line in memory
                ...
            b.read("spec.json")             # a small member whole
    """

    def __init__(self, path: Path, zip_reader: ZipReader, manifest: Manifest, manifest_bytes: bytes):
        self.path, self.zip, self.manifest, self.manifest_bytes = path, zip_reader, manifest, manifest_bytes
        self.listed = {m.name: m for m in manifest.members}
        self._sha256: str | None = None
        # an encrypted bundle: the file given (self.path is its decryption, of the same name)
        self.source: Path = path
        self.sealed = False
        self._cleanup = ExitStack()

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def limits(self) -> Limits:
        return self.zip.limits

    @property
    def key(self) -> tuple[str, str]:
        """The signed identity of the bundle, (bundle id, signer key id): a re-zipped copy has
        the same key, so merging and importing are idempotent on it, not on the file's bytes."""
        return (self.manifest.bundle_id, self.manifest.producer.key_id)

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_bytes).hexdigest()

    @property
    def sha256(self) -> str:
        """SHA-256 of the whole file (as sha256sum says), read in chunks."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            try:
                with self.path.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            except OSError as e:
                raise BundleError(f"{self.label}: cannot be read ({e.strerror or e})") from None
            self._sha256 = digest.hexdigest()
        return self._sha256

    def names(self) -> list[str]:
        """The members the manifest lists (manifest.json and manifest.sig aside), in its order."""
        return list(self.listed)

    def has(self, name: str) -> bool:
        return name in self.listed

    def size(self, name: str) -> int:
        return self._listed(name).size

    def _listed(self, name: str) -> Member:
        try:
            return self.listed[name]
        except KeyError:
            raise BundleError(f"{self.label}: bundle has no {name}") from None

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member's bytes, streaming and verified (see the class)."""
        m = self._listed(name)
        return self.zip.chunks(name, size=m.size, sha256=m.sha256)

    def read(self, name: str, limit: int | None = None) -> bytes:
        """A member whole, verified; refused past `limit` bytes (default: the member limit)."""
        m = self._listed(name)
        return self.zip.read(name, limit=self.limits.max_member_bytes if limit is None else limit,
                             size=m.size, sha256=m.sha256)

    def json(self, name: str) -> dict:
        """A JSON member that holds one object: strict (no duplicate keys, depth-limited)."""
        try:
            return load_object(self.read(name, self.limits.max_json_bytes), name,
                               max_depth=self.limits.max_json_depth)
        except BundleError as e:
            raise self._named(e) from None

    def text(self, name: str) -> str:
        try:
            return self.read(name).decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError(f"{self.label}: {name} is not valid UTF-8") from None

    def records(self, name: str, model: type[M], *, quick: bool = False) -> Iterator[tuple[int, M, bytes]]:
        """(line number, validated record, line bytes) for every record of a JSON Lines member,
        read line by line from the member's stream: memory is one line, not the member.
        `quick`: canonical lines read by pydantic's parser (records.iter_quick; only for the
        models it is proved for), the same records and refusals."""
        read = iter_quick if quick else iter_jsonl
        try:
            yield from read(self.chunks(name), model, name, max_line=self.limits.max_line_bytes,
                            max_depth=self.limits.max_json_depth)
        except BundleError as e:
            raise self._named(e) from None

    def dicts(self, name: str) -> Iterator[tuple[int, dict]]:
        """(line number, dict) for every record of a JSON Lines member, streaming, strict JSON."""
        try:
            for n, line in iter_lines(self.chunks(name), name, self.limits.max_line_bytes):
                yield n, record_dict(line, n, name, self.limits.max_json_depth)
        except BundleError as e:
            raise self._named(e) from None

    def verify_all(self) -> None:
        """Inflate every member once, streaming, checking sizes and hashes; nothing is kept."""
        total = 0
        for name in self.listed:
            for chunk in self.chunks(name):
                total += len(chunk)
        if total > self.limits.max_total_bytes:
            raise BundleError(f"{self.label}: members add up to more than {size_text(self.limits.max_total_bytes)}")

    def read_all(self) -> OpenedBundle:
        """Every member whole, verified (the sum is bounded by the total limit)."""
        members = {name: self.read(name) for name in self.listed}
        return OpenedBundle(self.source, self.sha256, self.manifest, self.manifest_bytes, members)

    def _named(self, e: BundleError) -> BundleError:
        prefix = f"{self.label}: "
        return e if e.message.startswith(prefix) else BundleError(prefix + e.message)

    def close(self) -> None:
        try:
            self.zip.close()
        finally:
            self._cleanup.close()  # an encrypted bundle's decryption is removed

    def __enter__(self) -> BundleReader:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def _kinds(expect_kind: str | tuple[str, ...]) -> tuple[str, ...]:
    return (expect_kind,) if isinstance(expect_kind, str) else tuple(expect_kind)


def open_bundle(
    path: Path | str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    expect_kind: str | tuple[str, ...] | None = None,
    unseal: Unseal | None = None,
) -> BundleReader:
    """Open a bundle and verify its manifest and signature, inflating nothing else (see
    BundleReader); close it (a with block) when done. BundleError, one line, if refused.

    An encrypted bundle (an age file, told by its header line) is first decrypted with
    `unseal`'s identity, streaming, into a private temporary file (see bundles.sealed.unsealed),
    removed when the reader closes; then it is verified as any other."""
    path = Path(path)
    if not is_sealed(path):
        return _open_zip(path, limits, expect_kind)
    with ExitStack() as stack:
        plain = stack.enter_context(unsealed(path, unseal, max_bytes=limits.max_file_bytes))
        reader = _open_zip(plain, limits, expect_kind)
        reader.source, reader.sealed = path, True
        reader._cleanup = stack.pop_all()
    return reader


def _open_zip(path: Path, limits: Limits, expect_kind: str | tuple[str, ...] | None) -> BundleReader:
    label = path.name
    z = ZipReader.open(path, limits)
    try:
        try:
            if MANIFEST not in z.by_name:
                raise BundleError(f"has no {MANIFEST}; not an Annotary bundle")
            if SIGNATURE not in z.by_name:
                raise BundleError(f"missing signature ({SIGNATURE})")
            manifest_bytes = z.read(MANIFEST, limit=limits.max_manifest_bytes)
            signature = z.read(SIGNATURE, limit=SIGNATURE_SIZE * 4)
            manifest = parse_manifest(manifest_bytes, max_depth=limits.max_json_depth)
            _check_signature(manifest, manifest_bytes, signature)
            if expect_kind is not None and manifest.kind not in _kinds(expect_kind):
                raise BundleError(f"this is a {manifest.kind} bundle; expected {' or '.join(_kinds(expect_kind))}")
            _check_listing(manifest, z)
        except BundleError as e:
            raise BundleError(e.message if e.message.startswith(f"{label}: ") else f"{label}: {e.message}") from None
    except BaseException:
        z.close()
        raise
    return BundleReader(path, z, manifest, manifest_bytes)


def read_bundle(
    path: Path | str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    expect_kind: str | tuple[str, ...] | None = None,
    unseal: Unseal | None = None,
) -> OpenedBundle:
    """Open and check a bundle, every member read whole; nothing in it is to be trusted until
    this returns. Large bundles are better read streaming with open_bundle."""
    with open_bundle(path, limits=limits, expect_kind=expect_kind, unseal=unseal) as b:
        return b.read_all()


def parse_manifest(data: bytes, *, max_depth: int = DEFAULT_LIMITS.max_json_depth) -> Manifest:
    """The manifest, with its version checked first so a newer format gets a clear message."""
    doc = load_object(data, MANIFEST, max_depth=max_depth)
    if doc.get("format") != FORMAT_NAME:
        raise BundleError(f"unknown format {quote(str(doc.get('format'))[:200])}; not an Annotary bundle")
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


def _check_listing(manifest: Manifest, z: ZipReader) -> None:
    """The zip holds exactly the members the manifest lists, with their signed sizes (as its
    directory says; the bytes are checked when each member is read)."""
    listed: set[str] = set()
    for m in manifest.members:
        if m.name in listed:
            raise BundleError(f"{MANIFEST} lists member {quote(m.name)} twice")
        if m.name in RESERVED:
            raise BundleError(f"{MANIFEST} lists {m.name} as a member")
        listed.add(m.name)
        info = z.by_name.get(m.name)
        if info is None:
            raise BundleError(f"member {quote(m.name)} is listed in the manifest but missing")
        if info.file_size != m.size:
            raise BundleError(f"member {quote(m.name)} does not match its hash: altered after signing")
    for name in z.by_name:
        if name not in listed and name not in RESERVED:
            raise BundleError(f"member {quote(name)} is not listed in the manifest")
