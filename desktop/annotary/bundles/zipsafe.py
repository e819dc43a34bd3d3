"""Reading zip files from strangers: names, links, counts, sizes and ratios checked before trusting a byte."""

from __future__ import annotations

import io
import json
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from annotary.core.errors import BundleError

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = 256 * 1024
CENTRAL_ENTRY = b"PK\x01\x02"
ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# a damaged archive surfaces as any of these, depending on where zipfile trips over it
CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    max_members: int = 64
    max_member_bytes: int = 512 * MiB
    max_total_bytes: int = 2 * GiB
    max_ratio: int = 200
    ratio_floor_bytes: int = MiB
    max_file_bytes: int = GiB


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


def read_file_bytes(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The whole file, refused if missing, unreadable or larger than the limit."""
    path = Path(path)
    label = path.name
    try:
        with path.open("rb") as f:
            data = f.read(limits.max_file_bytes + 1)
    except FileNotFoundError:
        raise BundleError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise BundleError(f"{label}: is a folder, not a bundle file") from None
    except OSError as e:
        raise BundleError(f"{label}: cannot be read ({e.strerror or e})") from None
    if len(data) > limits.max_file_bytes:
        raise BundleError(f"{label}: file is larger than {size_text(limits.max_file_bytes)}")
    return data


def unpack(data: bytes, label: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """Every member of the zip in `data`, by name; `label` (the file name) prefixes every error."""
    # zipfile builds every central-directory entry before we can count them; each entry starts
    # with this signature, so counting it first keeps a million-entry archive from eating memory
    if data.count(CENTRAL_ENTRY) > limits.max_members * 16:
        raise BundleError(f"{label}: has far more than {limits.max_members} members")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
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

    members: dict[str, bytes] = {}
    total = 0
    for info in infos:
        content = _read_member(zf, info, label, limits, limits.max_total_bytes - total)
        total += len(content)
        members[info.orig_filename] = content
    return members


def read_members(path: Path | str, limits: Limits = DEFAULT_LIMITS) -> dict[str, bytes]:
    return unpack(read_file_bytes(path, limits), Path(path).name, limits)


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


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limits: Limits, room: int) -> bytes:
    """Decompress in chunks, counting as we go: the sizes in the headers are the sender's word only."""
    where = f"{label}: member {quote(info.orig_filename)}"
    budget = max(info.compress_size, 1) * limits.max_ratio
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(CHUNK):
                out += chunk
                if len(out) > limits.max_member_bytes:
                    raise BundleError(f"{where} is larger than {size_text(limits.max_member_bytes)}")
                if len(out) > room:
                    raise BundleError(f"{label}: members add up to more than {size_text(limits.max_total_bytes)}")
                if len(out) > limits.ratio_floor_bytes and len(out) > budget:
                    raise BundleError(f"{where} expands more than {limits.max_ratio} times (a zip bomb?)")
    except CORRUPT as e:
        reason = str(e).split("\n")[0][:120] or type(e).__name__
        raise BundleError(f"{where} is damaged ({reason})") from None
    return bytes(out)
