"""Identities: files on disk, permissions, signing and the public forms of a key."""

import base64
import json
import os
import sys

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from annotary.bundles.identity import (
    INFO_FILE,
    KEY_FILE,
    Identity,
    create_identity,
    fingerprint_of,
    key_id_of,
    load_identity,
    public_key_from_b64,
    verify_signature,
)
from annotary.core.errors import BundleError, IdentityError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def test_create_writes_key_and_card(tmp_path):
    ident = create_identity(tmp_path, name="  Ann  ", role="annotator")
    info = json.loads((tmp_path / INFO_FILE).read_text())
    assert info == json.loads(ident.card().model_dump_json())
    assert set(info) == {"name", "role", "key_id", "public_key", "created_at"}
    assert ident.name == "Ann"
    assert (tmp_path / KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    raw = base64.b64decode(ident.public_key)
    assert len(raw) == 32
    assert ident.key_id == key_id_of(raw) and len(ident.key_id) == 16
    assert list(tmp_path.iterdir()) and not list(tmp_path.glob("*.tmp"))


@posix_only
def test_key_file_is_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        create_identity(tmp_path, name="Ann", role="annotator")
    finally:
        os.umask(old)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


@posix_only
def test_overwrite_replaces_a_loose_key_with_a_0600_one(tmp_path):
    create_identity(tmp_path, name="Ann", role="annotator")
    os.chmod(tmp_path / KEY_FILE, 0o644)
    create_identity(tmp_path, name="Ann", role="annotator", overwrite=True)
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_load_round_trip(tmp_path):
    made = create_identity(tmp_path, name="Rev", role="reviewer")
    loaded = load_identity(tmp_path)
    assert loaded == made
    assert verify_signature(made.public_key, loaded.sign(b"x"), b"x")


def test_load_absent_is_none(tmp_path):
    assert load_identity(tmp_path / "nowhere") is None
    assert load_identity(tmp_path) is None


def test_refuses_to_overwrite(tmp_path):
    first = create_identity(tmp_path, name="Ann", role="annotator")
    with pytest.raises(IdentityError, match="already exists"):
        create_identity(tmp_path, name="Ann", role="annotator")
    assert load_identity(tmp_path) == first
    second = create_identity(tmp_path, name="Ann", role="annotator", overwrite=True)
    assert second.key_id != first.key_id
    assert load_identity(tmp_path) == second


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("", "annotator", "identity name is empty"),
        ("   ", "annotator", "identity name is empty"),
        ("a\nb", "annotator", "one line"),
        ("Ann", "admin", "unknown role 'admin'"),
    ],
)
def test_refuses_bad_name_or_role(tmp_path, name, role, message):
    with pytest.raises(IdentityError, match=message) as err:
        create_identity(tmp_path, name=name, role=role)
    assert "\n" not in str(err.value)
    assert not (tmp_path / KEY_FILE).exists()


def test_load_refuses_corrupt_key(tmp_path):
    create_identity(tmp_path, name="Ann", role="annotator")
    (tmp_path / KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n")
    with pytest.raises(IdentityError, match="not an Ed25519 private key"):
        load_identity(tmp_path)


def test_load_refuses_corrupt_card(tmp_path):
    create_identity(tmp_path, name="Ann", role="annotator")
    (tmp_path / INFO_FILE).write_text("{not json")
    with pytest.raises(IdentityError, match=INFO_FILE):
        load_identity(tmp_path)


def test_load_refuses_card_of_another_key(tmp_path):
    create_identity(tmp_path / "a", name="Ann", role="annotator")
    create_identity(tmp_path / "b", name="Bob", role="annotator")
    (tmp_path / "a" / INFO_FILE).write_bytes((tmp_path / "b" / INFO_FILE).read_bytes())
    with pytest.raises(IdentityError, match="does not match"):
        load_identity(tmp_path / "a")


def test_load_refuses_half_an_identity(tmp_path):
    create_identity(tmp_path, name="Ann", role="annotator")
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(IdentityError, match="identity.key is missing"):
        load_identity(tmp_path)


def test_sign_and_verify(signer):
    sig = signer.sign(b"manifest")
    assert len(sig) == 64
    assert verify_signature(signer.public_key, sig, b"manifest")
    assert not verify_signature(signer.public_key, sig, b"manifesT")
    assert not verify_signature(signer.public_key, sig[:-1], b"manifest")


def test_public_only_identity_cannot_sign(signer):
    public = Identity.from_card(signer.card())
    with pytest.raises(IdentityError, match="cannot sign"):
        public.sign(b"x")
    assert public.producer() == signer.producer()


def test_public_pem_is_the_same_key(signer):
    key = load_pem_public_key(signer.public_pem().encode())
    assert signer.public_pem().startswith("-----BEGIN PUBLIC KEY-----")
    key.verify(signer.sign(b"data"), b"data")


def test_fingerprint_format(signer):
    fp = signer.fingerprint
    groups = fp.split(" ")
    assert len(groups) == 8 and all(len(g) == 4 for g in groups)
    assert fp == fp.upper()
    assert fp.replace(" ", "").lower().startswith(signer.key_id)
    assert fingerprint_of(base64.b64decode(signer.public_key)) == fp


def test_producer_and_card(signer):
    p = signer.producer()
    assert (p.name, p.role, p.key_id, p.public_key) == (
        signer.name,
        signer.role,
        signer.key_id,
        signer.public_key,
    )
    assert signer.card().created_at == signer.created_at
    assert "private" not in repr(signer).lower()


@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"short").decode(), None])
def test_public_key_from_b64_refuses_bad_input(bad):
    with pytest.raises(BundleError):
        public_key_from_b64(bad)
