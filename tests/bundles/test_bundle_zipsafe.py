"""Hostile zip files: every kind of bad archive is refused with a one-line reason naming the member."""

import io
import os
import stat
import warnings
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotary.bundles.zipsafe import DEFAULT_LIMITS, Limits, read_members, unpack
from annotary.core.errors import BundleError


def make_zip(entries, method=zipfile.ZIP_DEFLATED):
    """entries: (name, data) or (ZipInfo, data); duplicates are written as given."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names, which we want
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    return buf.getvalue()


def refused(data, limits=DEFAULT_LIMITS, label="b.annotary"):
    with pytest.raises(BundleError) as err:
        unpack(data, label, limits)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{label}: ")
    return message


def info(name, mode=None, method=zipfile.ZIP_DEFLATED):
    i = zipfile.ZipInfo(name)
    i.compress_type = method
    if mode is not None:
        i.create_system = 3
        i.external_attr = mode << 16
    return i


def test_reads_flat_and_one_folder_deep():
    data = make_zip([("manifest.json", b"{}"), ("images/x.png", b"\x89PNG"), ("empty.txt", b"")])
    assert unpack(data, "b") == {"manifest.json": b"{}", "images/x.png": b"\x89PNG", "empty.txt": b""}


def test_read_members_from_a_path(tmp_path):
    p = tmp_path / "b.annotary"
    p.write_bytes(make_zip([("a.txt", b"hello")]))
    assert read_members(p) == {"a.txt": b"hello"}


def test_missing_file(tmp_path):
    with pytest.raises(BundleError, match=r"^nope.annotary: file not found$"):
        read_members(tmp_path / "nope.annotary")


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(BundleError, match="is a folder"):
        read_members(tmp_path)


def test_file_over_size_limit(tmp_path):
    p = tmp_path / "big.annotary"
    p.write_bytes(make_zip([("a.txt", os.urandom(500))]))
    with pytest.raises(BundleError, match="file is larger than 100 bytes"):
        read_members(p, Limits(max_file_bytes=100))


def test_not_a_zip():
    assert "not a zip file, or truncated" in refused(b"this is a text file, not a bundle\n" * 20)


def test_truncated():
    data = make_zip([("a.txt", os.urandom(2000)), ("b.txt", b"b" * 100)])
    assert "not a zip file, or truncated" in refused(data[: len(data) // 2])


def test_crc_failure_is_damage():
    data = bytearray(make_zip([("a.txt", b"hello world " * 10)], method=zipfile.ZIP_STORED))
    at = data.index(b"hello world")
    data[at] ^= 0x01
    assert refused(bytes(data)) == 'b.annotary: member "a.txt" is damaged (Bad CRC-32 for file \'a.txt\')'


def test_empty_archive():
    assert refused(make_zip([])) == "b.annotary: empty archive"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("/etc/passwd", "has an absolute path"),
        ("C:/Windows/x.txt", "has an absolute path"),
        ("c:x.txt", "has an absolute path"),
        ("../x", "has a path outside the bundle"),
        ("images/../../x", "has a path outside the bundle"),
        ("..", "has a path outside the bundle"),
        ("images\\x.png", "has a backslash in its name"),
        ("\\x.png", "has a backslash in its name"),
        ("a/b/c/d/e.txt", "is nested more than 3 folders deep"),
        ("a//b", "has an empty or '.' path segment"),
        ("./a", "has an empty or '.' path segment"),
        ("images/", "is a directory entry"),
        ("a\nb", "has a control character"),
    ],
)
def test_bad_member_names(name, reason):
    message = refused(make_zip([("ok.txt", b"1"), (name, b"x")]))
    assert reason in message
    assert message.startswith("b.annotary: member ")


def test_dot_dot_message_names_the_member():
    assert refused(make_zip([("../x", b"x")])) == 'b.annotary: member "../x" has a path outside the bundle'


def test_nul_in_member_name():
    # zipfile cuts names at NUL when writing, so patch an equal-length placeholder in both headers
    data = make_zip([("evil.txtQjpg", b"x")]).replace(b"evil.txtQjpg", b"evil.txt\x00jpg")
    assert refused(data) == 'b.annotary: member "evil.txt\\u0000jpg" has a NUL byte in its name'


def test_symlink_member():
    data = make_zip([(info("link", stat.S_IFLNK | 0o777), b"/etc/passwd")])
    assert refused(data) == 'b.annotary: member "link" is a symbolic link'


def test_directory_entry_by_mode():
    data = make_zip([(info("images", stat.S_IFDIR | 0o755), b"")])
    assert "is a directory entry" in refused(data)


def test_fifo_member():
    assert "is not a regular file" in refused(make_zip([(info("pipe", stat.S_IFIFO | 0o644), b"")]))


def test_duplicate_names():
    data = make_zip([("items.jsonl", b"{}\n"), ("items.jsonl", b"[]\n")])
    assert refused(data) == 'b.annotary: member "items.jsonl" appears twice'


def test_too_many_members():
    data = make_zip([(f"{i}.txt", b"x") for i in range(5)])
    assert unpack(data, "b", Limits(max_members=5))
    assert refused(data, Limits(max_members=4)) == "b.annotary: has 5 members; at most 4 are allowed"


def test_member_over_size_limit():
    data = make_zip([("a.txt", b"1"), ("big.bin", os.urandom(3000))])
    assert refused(data, Limits(max_member_bytes=2000)) == 'b.annotary: member "big.bin" is larger than 2000 bytes'


def test_total_over_size_limit():
    data = make_zip([(f"{i}.bin", os.urandom(800)) for i in range(3)])
    assert "members add up to more than 2000 bytes" in refused(data, Limits(max_total_bytes=2000))


def test_header_sizes_are_not_trusted():
    """A member whose headers claim 16 bytes but hold 3000 is caught while reading, not believed."""
    real = os.urandom(3000)
    data = bytearray(make_zip([("big.bin", real)], method=zipfile.ZIP_STORED))
    # stored: patch uncompressed size fields (local header offset 22, central offset 24) down to 16
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = (16).to_bytes(4, "little")
    data[central + 24 : central + 28] = (16).to_bytes(4, "little")
    message = refused(bytes(data), Limits(max_member_bytes=2000))
    assert 'member "big.bin"' in message


def test_zip_bomb_ratio():
    data = make_zip([("zeros.bin", bytes(2 * 1024 * 1024))])
    assert len(data) < 10_000
    assert refused(data) == 'b.annotary: member "zeros.bin" expands more than 200 times (a zip bomb?)'


def test_zip_bomb_caught_while_reading_with_lying_headers():
    data = bytearray(make_zip([("zeros.bin", bytes(4 * 1024 * 1024))]))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")  # claims 1000 bytes uncompressed
    assert "zeros.bin" in refused(bytes(data))


def test_small_compressible_member_is_fine():
    # the ratio only applies past 1 MiB: small JSON often compresses 300x and is harmless
    assert unpack(make_zip([("zeros.bin", bytes(512 * 1024))]), "b")["zeros.bin"] == bytes(512 * 1024)


def test_ratio_limit_is_configurable():
    data = make_zip([("zeros.bin", bytes(64 * 1024))])
    assert "expands more than 10 times" in refused(data, Limits(max_ratio=10, ratio_floor_bytes=1024))


def test_encrypted_member():
    # zipfile clears flag bits when writing, so set the "encrypted" bit in both headers by hand
    data = bytearray(make_zip([("secret.txt", b"x")]))
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    assert refused(bytes(data)) == 'b.annotary: member "secret.txt" is encrypted'


def test_unsupported_compression():
    data = make_zip([(info("a.txt", method=zipfile.ZIP_BZIP2), b"x" * 100)])
    assert "uses compression method 12" in refused(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_only_ever_bundle_error(data):
    try:
        unpack(data, "b")
    except BundleError as e:
        assert "\n" not in str(e)


SAMPLE = make_zip([("manifest.json", b'{"a": 1}' * 30), ("items.jsonl", b"{}\n" * 50), ("images/x.png", b"png")])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_damaged_zip_only_ever_bundle_error(edits):
    data = bytearray(SAMPLE)
    for at, value in edits:
        data[at] = value
    try:
        members = unpack(bytes(data), "b", Limits(max_member_bytes=4096))
    except BundleError as e:
        assert "\n" not in str(e)
    else:
        assert all(len(v) <= 4096 for v in members.values())


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(SAMPLE)))
def test_any_truncation_only_ever_bundle_error(n):
    try:
        unpack(SAMPLE[:n], "b")
    except BundleError:
        pass


def test_huge_central_directory_refused_before_parsing():
    data = make_zip([(f"{i}", b"") for i in range(300)], method=zipfile.ZIP_STORED)
    assert refused(data, Limits(max_members=8)) == "b.annotary: has far more than 8 members"
