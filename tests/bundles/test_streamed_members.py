"""Members given as a stream of chunks: read once, never held whole, and written as the same bundle."""

import zipfile

import pytest

from annotary.bundles.bundle import MANIFEST, SIGNATURE, open_bundle, read_bundle, write_bundle
from annotary.bundles.sealed import Recipient, Unseal, is_sealed
from annotary.core.errors import BundleError

ITEMS = b"".join(b'{"id": "%d", "prompt": "prompt %d \xc3\xa9"}\n' % (i, i) for i in range(5000))
SMALL = {"spec.json": b'{"questions": []}', "guidelines.md": b"# Rules\n"}


def chunks(data: bytes, size: int):
    """The data in pieces of `size` bytes, as a generator: it can be read only once."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def write(path, signer, items, **kw):
    return write_bundle(path, kind="tasks", project_id="proj-1", project_name="Streams", identity=signer,
                        members={**SMALL, "items.jsonl": items}, bundle_id="0123456789abcdef", **kw)


def members(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, i.CRC, i.file_size, i.compress_size, i.compress_type) for i in zf.infolist()]


@pytest.mark.parametrize("size", [1, 777, 1 << 20])
def test_a_streamed_member_makes_the_bundle_its_bytes_make(tmp_path, signer, size):
    whole = write(tmp_path / "whole.annotary", signer, ITEMS)
    streamed = write(tmp_path / "streamed.annotary", signer, chunks(ITEMS, size))
    assert streamed.members == whole.members  # the same signed hashes and sizes
    assert members(tmp_path / "streamed.annotary") == members(tmp_path / "whole.annotary")
    opened = read_bundle(tmp_path / "streamed.annotary", expect_kind="tasks")
    assert opened.members["items.jsonl"] == ITEMS
    assert [n for n, *_ in members(tmp_path / "streamed.annotary")][:2] == [MANIFEST, SIGNATURE]


def test_an_empty_stream_is_an_empty_member(tmp_path, signer):
    write(tmp_path / "b.annotary", signer, iter(()))
    assert read_bundle(tmp_path / "b.annotary").members["items.jsonl"] == b""


def test_a_stream_leaves_nothing_beside_the_bundle(tmp_path, signer):
    out = tmp_path / "out"
    out.mkdir()
    write(out / "b.annotary", signer, chunks(ITEMS, 4096))
    assert [p.name for p in out.iterdir()] == ["b.annotary"]


def test_a_stream_that_fails_leaves_the_old_bundle(tmp_path, signer):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "b.annotary"
    write(target, signer, ITEMS)
    before = target.read_bytes()

    def broken():
        yield ITEMS[:1000]
        raise RuntimeError("the store went away")

    with pytest.raises(RuntimeError, match="the store went away"):
        write(target, signer, broken())
    assert target.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["b.annotary"]


def test_an_encrypted_bundle_with_a_streamed_member(tmp_path, signer, stranger):
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    path = out / "b.annotary"
    write(path, signer, chunks(ITEMS, 4096), recipients=[Recipient.of(stranger)], workdir=work)
    assert is_sealed(path) and [p.name for p in out.iterdir()] == ["b.annotary"]
    assert ITEMS[:200] not in path.read_bytes()
    assert not any(work.rglob("*")) or all(p.is_dir() for p in work.rglob("*"))  # no plain copy stays
    with open_bundle(path, unseal=Unseal(identity=lambda: stranger, workdir=work)) as b:
        assert b.read("items.jsonl") == ITEMS
    with pytest.raises(BundleError):
        open_bundle(path, unseal=Unseal(identity=lambda: signer, workdir=work)).close()
