"""The verifying bundle reader: manifest and signature before anything else, members streamed to
their signed size with their hash checked, records line by line."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile

import pytest
from pydantic import BaseModel

from annotary.bundles.bundle import open_bundle, write_bundle
from annotary.bundles.records import dump_jsonl
from annotary.bundles.zipsafe import Limits
from annotary.core.errors import BundleError

RECORDS = [{"n": n, "text": "x" * 50} for n in range(2000)]


class Record(BaseModel):
    n: int
    text: str


def _bundle(tmp_path, signer, members=None):
    path = tmp_path / "b.annotary"
    write_bundle(path, kind="results", project_id="p", project_name="P", identity=signer,
                 members=members or {"results.jsonl": dump_jsonl(RECORDS), "notes.txt": b"hello"})
    return path


def _replace(path, dest, **members):
    with zipfile.ZipFile(path) as src:
        entries = [(i.filename, members.get(i.filename.replace(".", "_"), src.read(i))) for i in src.infolist()]
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return dest


def test_reader_streams_records_and_members(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    with open_bundle(path, expect_kind="results") as b:
        assert b.manifest.producer.key_id == signer.key_id
        assert sorted(b.names()) == ["notes.txt", "results.jsonl"]
        assert [d["n"] for _, d in b.dicts("results.jsonl")] == list(range(2000))
        assert b.read("notes.txt") == b"hello"
        assert b.key == (b.manifest.bundle_id, signer.key_id)
        b.verify_all()


def test_nothing_but_the_manifest_is_inflated_on_open(tmp_path, signer, monkeypatch):
    path = _bundle(tmp_path, signer)
    opened = []
    real = zipfile.ZipFile.open

    def spy(self, name, *a, **k):
        opened.append(name.orig_filename if isinstance(name, zipfile.ZipInfo) else name)
        return real(self, name, *a, **k)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    with open_bundle(path):
        assert opened == ["manifest.json", "manifest.sig"]


def test_altered_member_is_refused_before_its_last_bytes(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    data = bytearray(dump_jsonl(RECORDS))
    data[-10] = ord("y")  # same size, other bytes
    bad = _replace(path, tmp_path / "bad.annotary", results_jsonl=bytes(data))
    got = bytearray()
    with open_bundle(bad) as b, pytest.raises(BundleError, match=r'"results\.jsonl" does not match its hash'):
        for chunk in b.chunks("results.jsonl"):
            got += chunk
    assert len(got) < len(data)  # the last chunk, altered, was never given out
    with open_bundle(bad) as b, pytest.raises(BundleError, match=r"^bad\.annotary: member \"results\.jsonl\""):
        for _ in b.records("results.jsonl", Record):
            pass


def test_a_longer_member_than_signed_is_refused_on_its_header(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    bad = _replace(path, tmp_path / "bad.annotary", notes_txt=b"hello, and more")
    with pytest.raises(BundleError, match=r'"notes\.txt" does not match its hash'):
        open_bundle(bad)


def test_oversized_manifest_refused_without_reading_it(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    big = _replace(path, tmp_path / "big.annotary", manifest_json=os.urandom(1024 * 1024).hex().encode())
    with pytest.raises(BundleError, match=r'"manifest\.json" is larger than 1 MiB'):
        open_bundle(big)


def test_central_directory_bigger_than_the_members_allowed(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<I", data, end + 12, 50 * 1024 * 1024)  # claims a 50 MiB directory
    bad = tmp_path / "cd.annotary"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"far more than 64 members"):
        open_bundle(bad)


def test_record_line_longer_than_the_limit(tmp_path, signer):
    path = _bundle(tmp_path, signer, {"results.jsonl": json.dumps({"t": "x" * 5000}).encode() + b"\n"})
    with open_bundle(path, limits=Limits(max_line_bytes=1000)) as b, \
            pytest.raises(BundleError, match=r"results\.jsonl line 1: longer than 1000 bytes"):
        list(b.dicts("results.jsonl"))


@pytest.mark.parametrize("body,reason", [
    (b'{"a": 1, "a": 2}\n', r'line 1: not valid JSON \(key "a" appears twice'),
    (b"{}\n" + b'{"a":' * 100 + b"1" + b"}" * 100 + b"\n", r"line 2: not valid JSON \(nested more than 64"),
    (b'{"a": 99999999999999999999999}\n', r"line 1: not valid JSON \(number .* is out of range"),
])
def test_strict_records(tmp_path, signer, body, reason):
    path = _bundle(tmp_path, signer, {"results.jsonl": body})
    with open_bundle(path) as b, pytest.raises(BundleError, match=r"^b\.annotary: results\.jsonl " + reason):
        list(b.dicts("results.jsonl"))


def test_manifest_with_duplicate_key_is_refused_even_signed(tmp_path, signer):
    path = _bundle(tmp_path, signer)
    with zipfile.ZipFile(path) as z:
        raw = z.read("manifest.json").decode()
    text = raw.replace('"project_id": "p"', '"project_id": "other", "project_id": "p"', 1).encode()
    bad = _replace(path, tmp_path / "dup.annotary", manifest_json=text, manifest_sig=signer.sign(text))
    with pytest.raises(BundleError, match=r'^dup\.annotary: manifest\.json is not valid JSON \(key "project_id"'):
        open_bundle(bad)


def test_reader_over_bytes_in_memory_is_the_same_reader():
    # unpack (kept for callers holding bytes) goes through the same checks
    from annotary.bundles.zipsafe import unpack

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", b"x")
    assert unpack(buf.getvalue(), "b") == {"a.txt": b"x"}
