"""Bundle files: a signed round trip, atomic writes, and every way a bundle can be tampered with."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from annotary.bundles import bundle as bundle_module
from annotary.bundles.bundle import MANIFEST, SIGNATURE, read_bundle, write_bundle
from annotary.bundles.identity import Identity
from annotary.bundles.records import dump_jsonl
from annotary.bundles.zipsafe import Limits
from annotary.core.errors import BundleError, IdentityError
from annotary.core.formats import FORMAT_VERSION
from annotary.core.items import Item

ITEMS = [Item(id=str(i), prompt=f"prompt {i}", responses=[{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]) for i in range(3)]
MEMBERS = {
    "items.jsonl": dump_jsonl(ITEMS),
    "spec.json": b'{"questions": []}',
    "guidelines.md": "# Règles\n".encode(),
    "images/fig.png": b"\x89PNG\r\n",
}


def write(path, signer, **kw):
    kw.setdefault("kind", "tasks")
    kw.setdefault("project_id", "proj-1")
    kw.setdefault("project_name", "Contract review")
    kw.setdefault("members", MEMBERS)
    return write_bundle(path, identity=signer, **kw)


@pytest.fixture
def bundle(tmp_path, signer):
    path = tmp_path / "tasks.annotary"
    write(path, signer, counts={"items.jsonl": 3})
    return path


def entries(path):
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def rezip(path, *, replace=None, drop=(), add=None):
    """Rewrite the zip in place with some members changed, as a tamperer would."""
    replace = replace or {}
    out = [(n, replace.get(n, d)) for n, d in entries(path) if n not in drop]
    out += list((add or {}).items())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in out:
            zf.writestr(name, data)
    return path


def resign(path, signer, edit):
    """Change the manifest and sign it properly, so that only the edit is wrong."""
    doc = json.loads(dict(entries(path))[MANIFEST])
    edit(doc)
    data = json.dumps(doc, indent=2, sort_keys=True).encode()
    return rezip(path, replace={MANIFEST: data, SIGNATURE: signer.sign(data)})


def refused(path, **kw):
    with pytest.raises(BundleError) as err:
        read_bundle(path, **kw)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{Path(path).name}: ")
    return message


# -- round trip ---------------------------------------------------------------


def test_round_trip(bundle, signer):
    opened = read_bundle(bundle, expect_kind="tasks")
    m = opened.manifest
    assert (m.format, m.version, m.kind, m.project_id, m.project_name, m.round) == (
        "annotary-bundle",
        FORMAT_VERSION,
        "tasks",
        "proj-1",
        "Contract review",
        1,
    )
    assert m.producer == signer.producer()
    assert m.counts == {"items.jsonl": 3}
    assert m.created_at.utcoffset().total_seconds() == 0
    assert re.fullmatch(r"[0-9a-f]{32}", m.bundle_id)
    assert [x.name for x in m.members] == sorted(MEMBERS)
    assert opened.members == MEMBERS
    assert opened.sha256 == hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert opened.records("items.jsonl", Item) == ITEMS
    assert opened.member("guidelines.md") == "# Règles\n".encode()


def test_zip_layout(bundle):
    names = [n for n, _ in entries(bundle)]
    assert names[:2] == [MANIFEST, SIGNATURE]
    assert names[2:] == sorted(MEMBERS)
    manifest = dict(entries(bundle))[MANIFEST]
    assert manifest == read_bundle(bundle).manifest_bytes
    doc = json.loads(manifest)
    assert list(doc) == sorted(doc) and b'\n  "bundle_id"' in manifest
    with zipfile.ZipFile(bundle) as zf:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in zf.infolist())


def test_returned_manifest_is_what_was_written(tmp_path, signer):
    written = write(tmp_path / "b.annotary", signer, round=3, bundle_id="abcdef0123456789")
    assert read_bundle(tmp_path / "b.annotary").manifest == written
    assert written.round == 3 and written.bundle_id == "abcdef0123456789"


def test_missing_member_and_records_errors_name_the_file(tmp_path, signer):
    path = tmp_path / "b.annotary"
    write(path, signer, members={"items.jsonl": b'{"id": "1", "prompt": "p"}\n{"id": 2\n'})
    opened = read_bundle(path)
    with pytest.raises(BundleError, match=r"^b.annotary: bundle has no results.jsonl$"):
        opened.member("results.jsonl")
    with pytest.raises(BundleError, match=r"^b.annotary: items.jsonl line 2: not valid JSON"):
        opened.records("items.jsonl", Item)


@pytest.mark.parametrize("name", [MANIFEST, SIGNATURE])
def test_write_refuses_reserved_names(tmp_path, signer, name):
    with pytest.raises(BundleError, match="cannot be a member"):
        write(tmp_path / "b.annotary", signer, members={name: b"{}"})
    assert not list(tmp_path.glob("*.annotary"))


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b/c/d/e", "dir/", "a\\b"])
def test_write_refuses_names_the_reader_would_refuse(tmp_path, signer, name):
    with pytest.raises(BundleError, match="member "):
        write(tmp_path / "b.annotary", signer, members={name: b"x"})


def test_write_refuses_a_bad_manifest_field(tmp_path, signer):
    with pytest.raises(BundleError, match=r"^b.annotary: manifest.json: kind: "):
        write(tmp_path / "b.annotary", signer, kind="gifts")


def test_write_needs_a_private_key(tmp_path, signer):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(IdentityError):
        write(out / "b.annotary", Identity.from_card(signer.card()))
    assert list(out.iterdir()) == []


# -- atomic writes ------------------------------------------------------------


def test_write_leaves_no_temp_files(tmp_path, signer):
    out = tmp_path / "out"
    out.mkdir()
    write(out / "b.annotary", signer)
    write(out / "b.annotary", signer, kind="results")
    assert [p.name for p in out.iterdir()] == ["b.annotary"]
    assert read_bundle(out / "b.annotary").manifest.kind == "results"


def test_failed_write_keeps_the_old_file(tmp_path, signer, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "b.annotary"
    write(target, signer)
    before = target.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundle_module.os, "fsync", broken_fsync)
    with pytest.raises(BundleError, match=r"^b.annotary: cannot write \(No space left on device\)$"):
        write(target, signer, kind="results")
    assert target.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["b.annotary"]


def test_write_into_missing_folder(tmp_path, signer):
    with pytest.raises(BundleError, match="cannot write"):
        write(tmp_path / "nope" / "b.annotary", signer)


# -- hostile and damaged bundles ------------------------------------------------


def test_truncated_bundle(bundle):
    bundle.write_bytes(bundle.read_bytes()[:-100])
    assert refused(bundle) == "tasks.annotary: not a zip file, or truncated"


def test_not_a_zip(tmp_path):
    path = tmp_path / "notes.annotary"
    path.write_text("hello")
    assert refused(path) == "notes.annotary: not a zip file, or truncated"


def test_missing_file(tmp_path):
    assert refused(tmp_path / "gone.annotary") == "gone.annotary: file not found"


def test_hash_mismatch(bundle):
    rezip(bundle, replace={"items.jsonl": dump_jsonl(ITEMS[:2])})
    assert refused(bundle) == 'tasks.annotary: member "items.jsonl" does not match its hash: altered after signing'


def test_same_size_hash_mismatch(bundle):
    rezip(bundle, replace={"spec.json": b'{"questions": [1]}'[:17]})
    assert "does not match its hash" in refused(bundle)


def test_missing_signature(bundle):
    rezip(bundle, drop=[SIGNATURE])
    assert refused(bundle) == "tasks.annotary: missing signature (manifest.sig)"


def test_missing_manifest(bundle):
    rezip(bundle, drop=[MANIFEST])
    assert "has no manifest.json" in refused(bundle)


def test_bad_signature_after_manifest_edit(bundle):
    manifest = dict(entries(bundle))[MANIFEST]
    rezip(bundle, replace={MANIFEST: manifest.replace(b"Contract review", b"Contract reviex")})
    assert refused(bundle) == (
        "tasks.annotary: signature does not match the manifest: "
        "the file was altered or not signed by its producer"
    )


def test_flipped_signature_byte(bundle):
    sig = bytearray(dict(entries(bundle))[SIGNATURE])
    sig[10] ^= 0xFF
    rezip(bundle, replace={SIGNATURE: bytes(sig)})
    assert "signature does not match the manifest" in refused(bundle)


def test_signature_of_wrong_length(bundle):
    rezip(bundle, replace={SIGNATURE: b"\x00" * 63})
    assert "manifest.sig is 63 bytes" in refused(bundle)


def test_signed_by_someone_else(bundle, signer, stranger):
    # the manifest names the coordinator, but a stranger signed it
    resign(bundle, stranger, lambda doc: None)
    assert "signature does not match the manifest" in refused(bundle)


def test_key_id_mismatch(bundle, signer):
    resign(bundle, signer, lambda doc: doc["producer"].update(key_id="0123456789abcdef"))
    assert "producer key id 0123456789abcdef does not match the producer's public key" in refused(bundle)


def test_bad_public_key(bundle, signer):
    resign(bundle, signer, lambda doc: doc["producer"].update(public_key="bm90IGEga2V5"))
    assert "manifest.json: producer public key is 9 bytes" in refused(bundle)


def test_newer_format_version(bundle, signer):
    resign(bundle, signer, lambda doc: doc.update(version=99))
    assert refused(bundle) == (
        f"tasks.annotary: format version 99 is newer than this Annotary understands ({FORMAT_VERSION})"
    )


def test_newer_version_with_unknown_fields_still_says_version(bundle, signer):
    resign(bundle, signer, lambda doc: doc.update(version=7, shiny="new", members="elsewhere"))
    assert "format version 7 is newer" in refused(bundle)


def test_version_not_a_number(bundle, signer):
    resign(bundle, signer, lambda doc: doc.update(version="1"))
    assert "version is missing or not a whole number" in refused(bundle)


def test_unknown_format_name(bundle, signer):
    resign(bundle, signer, lambda doc: doc.update(format="other-tool"))
    assert refused(bundle) == 'tasks.annotary: unknown format "other-tool"; not an Annotary bundle'


def test_manifest_not_json(bundle):
    rezip(bundle, replace={MANIFEST: b"{nope"})
    assert "manifest.json is not valid JSON" in refused(bundle)


def test_manifest_schema_violation(bundle, signer):
    resign(bundle, signer, lambda doc: doc.update(round=0))
    assert refused(bundle).startswith("tasks.annotary: manifest.json: round: ")


def test_listed_member_missing(bundle):
    rezip(bundle, drop=["guidelines.md"])
    assert refused(bundle) == 'tasks.annotary: member "guidelines.md" is listed in the manifest but missing'


def test_unlisted_member(bundle):
    rezip(bundle, add={"x.txt": b"surprise"})
    assert refused(bundle) == 'tasks.annotary: member "x.txt" is not listed in the manifest'


def test_member_listed_twice(bundle, signer):
    resign(bundle, signer, lambda doc: doc["members"].append(doc["members"][0]))
    assert "lists member" in refused(bundle) and "twice" in refused(bundle)


def test_wrong_kind(bundle):
    assert refused(bundle, expect_kind="results") == "tasks.annotary: this is a tasks bundle; expected results"
    message = refused(bundle, expect_kind=("results", "decisions"))
    assert message.endswith("expected results or decisions")
    assert read_bundle(bundle, expect_kind=("results", "tasks")).manifest.kind == "tasks"


def test_malformed_items_in_a_signed_bundle(tmp_path, signer):
    path = tmp_path / "b.annotary"
    good = dump_jsonl(ITEMS)
    write(path, signer, members={"items.jsonl": good + b'{"id": "9", "prompt": 5}\n'})
    with pytest.raises(BundleError, match=r"^b.annotary: items.jsonl line 4: prompt"):
        read_bundle(path).records("items.jsonl", Item)


def test_limits_apply_to_bundles(bundle):
    assert "has 6 members; at most 5" in refused(bundle, limits=Limits(max_members=5))


# -- stock OpenSSL can check a signature -------------------------------------------


def _openssl_3():
    exe = shutil.which("openssl")
    if not exe:
        return None
    out = subprocess.run([exe, "version"], capture_output=True, text=True).stdout
    match = re.match(r"OpenSSL (\d+)\.", out)
    return exe if match and int(match.group(1)) >= 3 else None


@pytest.mark.skipif(_openssl_3() is None, reason="needs OpenSSL 3")
def test_openssl_verifies_the_signature(bundle, signer, tmp_path):
    out = tmp_path / "extracted"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(out)
    (out / "signer.pem").write_text(signer.public_pem())
    cmd = [
        _openssl_3(),
        *"pkeyutl -verify -pubin -inkey signer.pem -rawin -in manifest.json -sigfile manifest.sig".split(),
    ]
    ok = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "Signature Verified Successfully" in ok.stdout

    manifest = out / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"proj-1", b"proj-2"))
    bad = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Signature Verified Successfully" not in bad.stdout
    assert os.path.exists(out / "images" / "fig.png")
