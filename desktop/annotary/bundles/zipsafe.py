"""Reading zip files from strangers: names, links, counts, sizes and ratios checked before trusting a byte."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from annotary.core.errors import BundleError

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 256 * 1024
CENTRAL_ENTRY = b"PK\x01\x02"
ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# a damaged archive surfaces as any of these, depending on where zipfile trips over it
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError,
           OverflowError, KeyError, IndexError)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    max_members: int = 64
    max_member_bytes: int = 512 * MiB
    max_total_bytes: int = 2 * GiB
    max_ratio: int = 200
    ratio_floor_bytes: int = MiB
    max_file_bytes: int = GiB
    max_central_directory_bytes: int = MiB
    max_manifest_bytes: int = MiB
    max_json_bytes: int = 64 * MiB  # spec.json and other JSON members, read whole
    max_line_bytes: int = 32 * MiB  # one JSON Lines record
    max_json_depth: int = 64


DEFAULT_LIMITS = Limits()


def size_text(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB else f"{n} bytes"


def quote(name: str) -> str:
    """A member name as one safe, bounded line: control characters escaped, long names cut."""
    shown = name if len(name) <= 120 else name[:117] + "..."
    return json.dumps(shown, ensure_ascii=False)


# guideline pictures keep the folders they are linked with (guidelines/img/x.png)
MAX_DEPTH = 4


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a bundle member, or None; shared by the reader and the writer."""
    if not name:
        return "has an empty name"
    if "\x00" in name:
        return "has a NUL byte in its name"
    if "\\" in name:
        return "has a backslash in its name"
    if name.startswith("/") or _DRIVE.match(name):
        return "has an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "has a path outside the bundle"
    if name.endswith("/"):
        return "is a directory entry; bundles hold only files"
    if "" in parts or "." in parts:
        return "has an empty or '.' path segment"
    if len(parts) > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH - 1} folders deep"
    if any(ord(c) < 32 for c in name):
        return "has a control character in its name"
    return None


def unpack(data: bytes, label: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Every member of the zip in `data`, by name; `label` (the file name) prefixes every error."""
    with ZipReader(io.BytesIO(data), label, limits) as z:
        return unpack_reader(z, limits)


def read_members(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    with ZipReader.open(path, limits) as z:
        return unpack_reader(z, limits)


def unpack_reader(z: ZipReader, limits: Limits) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    total = 0
    for info in z.infos:
        content = bytearray()
        for chunk in z.chunks(info.orig_filename, room=limits.max_total_bytes - total):
            content += chunk
        total += len(content)
        members[info.orig_filename] = bytes(content)
    return members


EOCD = b"PK\x05\x06"
EOCD64_LOCATOR = b"PK\x06\x07"
EOCD64 = b"PK\x06\x06"


def _central_directory_size(f: BinaryIO, file_size: int) -> tuple[int, int]:
    """(bytes, entries) the central directory claims, read from its end record as zipfile will.

    zipfile reads the whole central directory and builds an object per entry before anyone can
    count them: the end record is read first so a huge directory is refused without that."""
    tail_len = min(file_size, 22 + 65535 + 20 + 56)
    f.seek(file_size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(EOCD)
    if at < 0 or len(tail) - at < 22:
        raise zipfile.BadZipFile("no end of central directory")
    entries, cd_size, _offset = struct.unpack_from("<HII", tail, at + 10)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF or _offset == 0xFFFFFFFF:
        loc = at - 20
        if loc >= 0 and tail[loc:loc + 4] == EOCD64_LOCATOR:
            (rec_at,) = struct.unpack_from("<Q", tail, loc + 8)
            if rec_at + 56 <= file_size:
                f.seek(rec_at)
                rec = f.read(56)
                if rec[:4] == EOCD64:
                    entries, cd_size = struct.unpack_from("<QQ", rec, 32)
    return cd_size, entries


class ZipReader:
    """A zip checked from its central directory alone (names, links, counts, declared sizes and
    ratios) before a byte is inflated; members are then inflated one at a time, streaming."""

    def __init__(self, f: BinaryIO, label: str, limits: Limits = DEFAULT_LIMITS, *, owns: bool = False):
        self.label, self.limits, self._f, self._owns = label, limits, f, owns
        self.zf: zipfile.ZipFile | None = None
        try:
            self._check_directory()
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(cls, path: Path | str, limits: Limits = DEFAULT_LIMITS) -> ZipReader:
        """The zip at `path`, read from disk as needed (never the whole file in memory)."""
        path = Path(path)
        label = path.name
        try:
            # non-blocking, so a FIFO given as a bundle is refused rather than waited on
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            f = os.fdopen(fd, "rb")
        except FileNotFoundError:
            raise BundleError(f"{label}: file not found") from None
        except IsADirectoryError:
            raise BundleError(f"{label}: is a folder, not a bundle file") from None
        except OSError as e:
            raise BundleError(f"{label}: cannot be read ({e.strerror or e})") from None
        try:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise BundleError(f"{label}: is not a regular file")
        except BaseException:
            f.close()
            raise
        return cls(f, label, limits, owns=True)

    def _check_directory(self) -> None:
        label, limits, f = self.label, self.limits, self._f
        try:
            file_size = f.seek(0, os.SEEK_END)
        except OSError as e:
            raise BundleError(f"{label}: cannot be read ({e.strerror or e})") from None
        if file_size > limits.max_file_bytes:
            raise BundleError(f"{label}: file is larger than {size_text(limits.max_file_bytes)}")
        try:
            cd_size, entries = _central_directory_size(f, file_size)
        except CORRUPT:
            raise BundleError(f"{label}: not a zip file, or truncated") from None
        # every central entry is at least 46 bytes; a directory bigger than the members allowed
        # could hold is refused before zipfile parses it
        if entries > limits.max_members * 16 or cd_size > limits.max_central_directory_bytes:
            raise BundleError(f"{label}: has far more than {limits.max_members} members")
        try:
            f.seek(0)
            self.zf = zipfile.ZipFile(f)
            infos = self.zf.infolist()
        except CORRUPT:
            raise BundleError(f"{label}: not a zip file, or truncated") from None
        if not infos:
            raise BundleError(f"{label}: empty archive")
        if len(infos) > limits.max_members:
            raise BundleError(f"{label}: has {len(infos)} members; at most {limits.max_members} are allowed")
        seen: set[str] = set()
        declared = 0
        for info in infos:
            # orig_filename is the name as stored; zipfile cuts .filename at a NUL byte
            name = info.orig_filename
            problem = _info_problem(info, seen, limits)
            if problem:
                raise BundleError(f"{label}: member {quote(name)} {problem}")
            seen.add(name)
            declared += info.file_size
            if declared > limits.max_total_bytes:
                raise BundleError(f"{label}: members add up to more than {size_text(limits.max_total_bytes)}")
        self.infos = infos
        self.by_name = {i.orig_filename: i for i in infos}

    def names(self) -> list[str]:
        return [i.orig_filename for i in self.infos]

    def chunks(self, name: str, *, size: int | None = None, sha256: str | None = None,
               room: int | None = None) -> Iterator[bytes]:
        """The member's bytes, inflated CHUNK at a time and counted as they come: the sizes in
        the headers are the sender's word only. With `size` and `sha256` (the signed ones), it
        never goes past `size` and checks the hash at the end, before the last chunk is given."""
        info = self.by_name[name]
        limits = self.limits
        where = f"{self.label}: member {quote(name)}"
        if size is not None and info.file_size != size:
            raise BundleError(f"{where} does not match its hash: altered after signing")
        cap = limits.max_member_bytes if size is None else min(size, limits.max_member_bytes)
        room = limits.max_total_bytes if room is None else room
        budget = max(info.compress_size, 1) * limits.max_ratio
        digest = hashlib.sha256() if sha256 is not None else None
        got = 0
        held: bytes | None = None  # the last chunk is given only once the hash is checked
        try:
            with self.zf.open(info) as f:
                while chunk := f.read(CHUNK):
                    got += len(chunk)
                    if size is not None and got > size:
                        raise BundleError(f"{where} does not match its hash: altered after signing")
                    if got > limits.max_member_bytes:
                        raise BundleError(f"{where} is larger than {size_text(limits.max_member_bytes)}")
                    if got > room:
                        raise BundleError(f"{self.label}: members add up to more than "
                                          f"{size_text(limits.max_total_bytes)}")
                    if got > limits.ratio_floor_bytes and got > budget:
                        raise BundleError(f"{where} expands more than {limits.max_ratio} times (a zip bomb?)")
                    if got > cap:
                        raise BundleError(f"{where} is larger than {size_text(cap)}")
                    if digest is not None:
                        digest.update(chunk)
                    if held is not None:
                        yield held
                    held = chunk
        except CORRUPT as e:
            reason = str(e).split("\n")[0][:120] or type(e).__name__
            raise BundleError(f"{where} is damaged ({reason})") from None
        if size is not None and got != size or digest is not None and digest.hexdigest() != sha256:
            raise BundleError(f"{where} does not match its hash: altered after signing")
        if held is not None:
            yield held

    def read(self, name: str, *, limit: int, size: int | None = None, sha256: str | None = None) -> bytes:
        """A small member whole, refused past `limit` bytes (checked on the header first)."""
        info = self.by_name[name]
        if info.file_size > limit:
            raise BundleError(f"{self.label}: member {quote(name)} is larger than {size_text(limit)}")
        out = bytearray()
        for chunk in self.chunks(name, size=size, sha256=sha256):
            out += chunk
            if len(out) > limit:
                raise BundleError(f"{self.label}: member {quote(name)} is larger than {size_text(limit)}")
        return bytes(out)

    def close(self) -> None:
        if self.zf is not None:
            self.zf.close()
            self.zf = None
        if self._owns and self._f is not None:
            self._f.close()
        self._f = None

    def __enter__(self) -> ZipReader:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def _info_problem(info: zipfile.ZipInfo, seen: set[str], limits: Limits) -> str | None:
    name = info.orig_filename
    problem = name_problem(name)
    if problem:
        return problem
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_ISDIR(mode):
        return "is a directory entry; bundles hold only files"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "is not a regular file"
    if name in seen:
        return "appears twice"
    if info.flag_bits & 0x1:
        return "is encrypted"
    if info.compress_type not in ALLOWED_METHODS:
        return f"uses compression method {info.compress_type}; only stored and deflated are read"
    if info.file_size > limits.max_member_bytes:
        return f"is larger than {size_text(limits.max_member_bytes)}"
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        return f"expands more than {limits.max_ratio} times (a zip bomb?)"
    return None
