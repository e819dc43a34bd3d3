"""Every bad task bundle of issue 2, built once per session, and a sound store snapshot."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import struct
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from annotary.bundles.bundle import (
    encode_manifest,
    open_bundle,
    parse_manifest,
    read_bundle,
    write_bundle,
)
from annotary.bundles.identity import Identity
from annotary.bundles.zipsafe import DEFAULT_LIMITS, Limits

PROJECT = "demo-pairwise"

# ---------------------------------------------------------------------------------------------
# zip surgery


def entries_of(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i, zf.read(i)) for i in zf.infolist()]


def write_zip(path: Path, entries) -> Path:
    """entries: (name or ZipInfo, bytes), written exactly as given (duplicates included)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names; we want them
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def rewrite(src: Path, dest: Path, *, drop=(), replace=None, add=()) -> Path:
    """A copy of the bundle `src` with members dropped, replaced (same place) or appended."""
    replace = replace or {}
    out = []
    for info, data in entries_of(src):
        if info.filename in drop:
            continue
        out.append((info.filename, replace.get(info.filename, data)))
    return write_zip(dest, out + list(add))


def resign(src: Path, dest: Path, identity: Identity, edit: Callable[[dict], None]) -> Path:
    """Edit manifest.json of `src` and sign the new bytes properly: only the edit is wrong."""
    members = {i.filename: d for i, d in entries_of(src)}
    doc = json.loads(members["manifest.json"])
    edit(doc)
    raw = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    return rewrite(src, dest, replace={"manifest.json": raw, "manifest.sig": identity.sign(raw)})


def member_info(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix: the mode bits live in the upper half of external_attr
    info.external_attr = mode << 16
    return info


def claim_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size the central directory claims for member `name`."""
    data = bytearray(data)
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46 : pos + 46 + name_len]) == name.encode():
            struct.pack_into("<I", data, pos + 24, size)
            return bytes(data)
        pos += 4
    raise AssertionError(f"no central directory entry for {name}")


# ---------------------------------------------------------------------------------------------
# the catalogue


@dataclass
class Kit:
    """What a case needs: a good bundle, its members, the signers and a folder to write in."""

    good: Path
    parts: dict[str, bytes]
    coordinator: Identity
    stranger: Identity
    folder: Path

    def signed(self, name: str, identity: Identity | None = None, **members: bytes | None) -> Path:
        """A task bundle signed correctly (by the coordinator unless told) with some members changed.

        Members are named with "_" for "." (items_jsonl=...); None leaves the member out.
        """
        parts = dict(self.parts)
        for key, value in members.items():
            parts[key.replace("_", ".")] = value
        spec = json.loads(self.parts["spec.json"])
        path = self.folder / name
        write_bundle(path, kind="tasks", project_id=PROJECT, project_name=spec["name"],
                     identity=identity or self.coordinator,
                     members={k: v for k, v in parts.items() if v is not None})
        return path


@dataclass
class Case:
    id: str
    expect: str  # a regex the one-line reason must contain
    build: Callable[[Kit, Path], Path]
    limits: Callable[[Kit], Limits] | None = None  # smaller limits for this case (size limits)


def _items(kit: Kit) -> list[bytes]:
    return kit.parts["items.jsonl"].splitlines(keepends=True)


def _item(kit: Kit, n: int = 0) -> dict:
    return json.loads(_items(kit)[n])


def _jsonl(*records) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _truncated(kit, dest):
    data = kit.good.read_bytes()
    dest.write_bytes(data[: len(data) // 2])
    return dest


def _too_many(kit, dest):
    extra = [(f"extra/{n}.txt", b"x") for n in range(DEFAULT_LIMITS.max_members)]
    return rewrite(kit.good, dest, add=extra)


def _ratio_bomb(kit, dest):
    # a real bomb: 4 MiB of zeros deflate to about 4 KiB (ratio ~1000, the limit is 200)
    return rewrite(kit.good, dest, add=[("bomb.bin", bytes(4 * 1024 * 1024))])


def _claimed_huge(kit, dest):
    # the header says 600 MiB; the reader must refuse on the header, before inflating a byte
    rewrite(kit.good, dest, add=[("huge.bin", b"tiny")])
    dest.write_bytes(claim_size(dest.read_bytes(), "huge.bin", 600 * 1024 * 1024))
    return dest


def _member_over_limit(kit, dest):
    return rewrite(kit.good, dest, add=[("big.bin", os.urandom(48 * 1024))])


def _total_over_limit(kit, dest):
    return rewrite(kit.good, dest, add=[("more.bin", os.urandom(16 * 1024))])


def _total_limits(kit):
    # every member fits alone, together they are more than allowed
    sizes = [len(d) for _, d in entries_of(kit.good)]
    return Limits(max_total_bytes=sum(sizes) + 8 * 1024)


def _hash_mismatch(kit, dest):
    items = _items(kit)
    return rewrite(kit.good, dest, replace={"items.jsonl": b"".join(items[:-1])})


def _flip_sig(kit, dest):
    sig = bytearray({i.filename: d for i, d in entries_of(kit.good)}["manifest.sig"])
    sig[10] ^= 0x01
    return rewrite(kit.good, dest, replace={"manifest.sig": bytes(sig)})


def _altered_manifest(kit, dest):
    members = {i.filename: d for i, d in entries_of(kit.good)}
    manifest = members["manifest.json"].replace(b'"round": 1', b'"round": 7')
    assert manifest != members["manifest.json"]
    return rewrite(kit.good, dest, replace={"manifest.json": manifest})


def _claims_other_signer(kit, dest):
    # the manifest names the pinned coordinator but the stranger signed it
    members = {i.filename: d for i, d in entries_of(kit.good)}
    manifest = parse_manifest(members["manifest.json"])
    raw = encode_manifest(manifest.model_copy(update={"round": 2}))
    return rewrite(kit.good, dest, replace={"manifest.json": raw, "manifest.sig": kit.stranger.sign(raw)})


def _set(key, value):
    def edit(doc):
        doc[key] = value
    return edit


def _bad_item(kit):
    item = _item(kit)
    item["responses"] = item["responses"] + [{"id": "r3", "text": "A third answer."}]
    return item


CASES: list[Case] = [
    Case("not-a-zip", r"not a zip file, or truncated",
         lambda kit, d: (d.write_bytes(b"Just some notes, not a bundle.\n" * 40), d)[1]),
    Case("empty-file", r"not a zip file, or truncated", lambda kit, d: (d.write_bytes(b""), d)[1]),
    Case("truncated", r"not a zip file, or truncated", _truncated),
    Case("absolute-path", r'"/etc/cron.d/evil" has an absolute path',
         lambda kit, d: rewrite(kit.good, d, add=[("/etc/cron.d/evil", b"* * * * * rm -rf ~")])),
    Case("dot-dot-path", r'"\.\./\.\./evil\.txt" has a path outside the bundle',
         lambda kit, d: rewrite(kit.good, d, add=[("../../evil.txt", b"x")])),
    Case("symlink-member", r'"guide-link" is a symbolic link',
         lambda kit, d: rewrite(kit.good, d, add=[(member_info("guide-link", stat.S_IFLNK | 0o777),
                                                   b"/etc/passwd")])),
    Case("duplicate-name", r'"items\.jsonl" appears twice',
         lambda kit, d: rewrite(kit.good, d, add=[("items.jsonl", b"{}\n")])),
    Case("too-many-members", rf"at most {DEFAULT_LIMITS.max_members} are allowed", _too_many),
    Case("ratio-bomb", r'"bomb\.bin" expands more than 200 times', _ratio_bomb),
    Case("claims-600-mib", r'"huge\.bin" is larger than 512 MiB', _claimed_huge),
    Case("member-over-size-limit", r'"big\.bin" is larger than 40960 bytes', _member_over_limit,
         limits=lambda kit: Limits(max_member_bytes=40 * 1024)),
    Case("total-over-size-limit", r"members add up to more than", _total_over_limit,
         limits=_total_limits),
    Case("hash-mismatch", r'"items\.jsonl" does not match its hash', _hash_mismatch),
    Case("member-missing", r'"guidelines\.md" is listed in the manifest but missing',
         lambda kit, d: rewrite(kit.good, d, drop=["guidelines.md"])),
    Case("member-not-listed", r'"notes\.txt" is not listed in the manifest',
         lambda kit, d: rewrite(kit.good, d, add=[("notes.txt", b"hello")])),
    Case("missing-signature", r"missing signature",
         lambda kit, d: rewrite(kit.good, d, drop=["manifest.sig"])),
    Case("bad-signature", r"signature does not match the manifest", _flip_sig),
    Case("altered-manifest", r"signature does not match the manifest", _altered_manifest),
    Case("signed-by-someone-else", r"signature does not match the manifest", _claims_other_signer),
    Case("newer-format-version", r"format version 2 is newer than this Annotary understands",
         lambda kit, d: resign(kit.good, d, kit.coordinator, _set("version", 2))),
    Case("unknown-format-version", r"format version 0 is unknown",
         lambda kit, d: resign(kit.good, d, kit.coordinator, _set("version", 0))),
    Case("not-a-task-bundle", r"this is a results bundle; expected tasks",
         lambda kit, d: resign(kit.good, d, kit.coordinator, _set("kind", "results"))),
    Case("malformed-jsonl", r"items\.jsonl line 3: not valid JSON",
         lambda kit, d: kit.signed(d.name, items_jsonl=b"".join(_items(kit)[:2]) + b'{"id": "x",\n'
                                   + b"".join(_items(kit)[3:]))),
    Case("invalid-utf8", r"items\.jsonl: not valid UTF-8",
         lambda kit, d: kit.signed(d.name, items_jsonl=_items(kit)[0] + b'{"id": "caf\xe9"}\n')),
    Case("duplicate-item-ids", r"items\.jsonl line 3: duplicate item id .* \(first at line 1\)",
         lambda kit, d: kit.signed(d.name, items_jsonl=b"".join(_items(kit)[:2]) + _items(kit)[0])),
    Case("item-violates-spec", r"items\.jsonl line 1: item .*compares 2 responses, item has 3",
         lambda kit, d: kit.signed(d.name, items_jsonl=_jsonl(_bad_item(kit)) + _items(kit)[1])),
    Case("item-not-an-item", r"items\.jsonl line 2: ",
         lambda kit, d: kit.signed(d.name, items_jsonl=_items(kit)[0] + _jsonl({"id": "x", "colour": 3}))),
    Case("no-items", r"holds no items", lambda kit, d: kit.signed(d.name, items_jsonl=b"")),
    Case("no-items-member", r"has no items\.jsonl", lambda kit, d: kit.signed(d.name, items_jsonl=None)),
    Case("spec-not-json", r"spec\.json is not valid JSON",
         lambda kit, d: kit.signed(d.name, spec_json=b"questions = []")),
    Case("guidelines-not-utf8", r"guidelines\.md is not valid UTF-8",
         lambda kit, d: kit.signed(d.name, guidelines_md=b"# Guide\n\xff\xfe\n")),
    Case("spec-of-another-project", r"manifest names project 'demo-pairwise' but its spec is for 'other'",
         lambda kit, d: kit.signed(d.name, spec_json=json.dumps(
             json.loads(kit.parts["spec.json"]) | {"project_id": "other"}).encode())),
    Case("pinned-key-mismatch",
         r"project 'demo-pairwise' is pinned to coordinator key [0-9a-f]{16} \(Coordinator Cho\); "
         r"this bundle is signed by key [0-9a-f]{16} \(Mallory Coordinator\): refused",
         lambda kit, d: kit.signed(d.name, identity=kit.stranger)),
]
CASE_IDS = [c.id for c in CASES]


_BUILT: dict[str, tuple[Path, Limits | None]] = {}


def build_all(tmp_path_factory, demo_bundle_master: Path, coordinator_dir: Path) -> dict:
    """Every case built once per test run (several test modules share them); case id -> (path, limits)."""
    if _BUILT:
        return _BUILT
    from annotary.bundles.identity import create_identity, load_identity

    folder = tmp_path_factory.mktemp("bad-bundles")
    # a second coordinator: the same project id, another key
    stranger = create_identity(folder / "stranger", name="Mallory Coordinator", role="coordinator")
    parts = {i.filename: d for i, d in entries_of(demo_bundle_master)
             if i.filename not in ("manifest.json", "manifest.sig")}
    kit = Kit(demo_bundle_master, parts, load_identity(coordinator_dir), stranger, folder)
    for case in CASES:
        path = case.build(kit, folder / f"{case.id}.annotary")
        assert path.exists(), case.id
        _BUILT[case.id] = (path, case.limits(kit) if case.limits else None)
    return _BUILT


def use_case(case_id: str, built: dict, monkeypatch, tmp_path: Path) -> Path:
    """A private copy of the case's bundle, with the case's smaller limits in force."""
    path, limits = built[case_id]
    if limits is not None:
        # read_bundle's keyword default is bound when it is defined: patch the default itself
        monkeypatch.setitem(read_bundle.__kwdefaults__, "limits", limits)
        monkeypatch.setitem(open_bundle.__kwdefaults__, "limits", limits)
    copy = tmp_path / "incoming" / path.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copy(path, copy)
    return copy


def expected(case_id: str) -> str:
    return next(c for c in CASES if c.id == case_id).expect


def assert_one_line(message: str) -> None:
    assert message and message == message.strip(), repr(message)
    assert "\n" not in message and "\r" not in message, message
    assert "Traceback" not in message, message


# ---------------------------------------------------------------------------------------------
# store snapshot


# POSIX drops *all* of a process's fcntl locks on a file as soon as *any* descriptor of that
# file is closed. In WAL mode SQLite keeps a shared lock on the .db file so that a connection
# closing in another process can tell it is not the last one; a plain read_bytes() of the .db
# file would drop that lock on close, and the next process to close its connection would
# checkpoint and delete the WAL under our open connection (seen with `annotary import` run as a
# subprocess). So the store files are read through descriptors that stay open while the test
# runs; they are closed only when a snapshot of another store is taken.
_held: dict[str, int] = {}


def _sha(path: Path) -> str | None:
    key = str(path)
    for other in [k for k in _held if Path(k).parent != path.parent]:
        os.close(_held.pop(other))
    fd = _held.get(key)
    if fd is not None and os.fstat(fd).st_nlink == 0:  # deleted (a WAL is, when it is reset)
        os.close(_held.pop(key))  # locks are per inode: this one is gone, so closing is harmless
        fd = None
    if fd is None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        _held[key] = fd
    return hashlib.sha256(os.pread(fd, os.fstat(fd).st_size, 0)).hexdigest()


def checkpoint(store) -> None:
    """Move every committed page from the WAL into the .db file and empty the WAL."""
    busy, _, _ = store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0, "another connection kept the WAL busy; the snapshot would not be exact"


def snapshot(store) -> dict:
    """The store's files byte for byte, plus a readable dump for the failure message.

    Why this is sound with WAL: call checkpoint() first, so the .db file holds everything and
    the -wal file is empty. From then on every commit (by this connection or another one, such
    as the CLI's) appends frames to the -wal file, and a checkpoint would rewrite the .db file,
    so any write shows up as a changed sha256 of one or the other; reading changes neither.
    The -shm file is left out: it is the WAL's shared-memory index, which readers update too,
    and it holds no data. The test's own connection stays open throughout, so another
    connection closing is never the last one and never checkpoints or deletes the WAL behind
    our back (which is also why _sha never closes a descriptor of those files). The dump (iterdump, via this connection) is compared as well, to say *what*
    changed when the hashes differ.
    """
    path = Path(store.path)
    return {
        "db": _sha(path),
        "wal": _sha(path.with_name(path.name + "-wal")),
        "dump": list(store.conn.iterdump()),
    }


def assert_unchanged(before: dict, after: dict) -> None:
    if before["dump"] != after["dump"]:
        added = sorted(set(after["dump"]) - set(before["dump"]))[:3]
        removed = sorted(set(before["dump"]) - set(after["dump"]))[:3]
        raise AssertionError(f"store content changed: +{added} -{removed}")
    assert before["db"] == after["db"], "the .db file changed"
    assert before["wal"] == after["wal"], "the -wal file changed (something was written)"
