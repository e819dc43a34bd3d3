"""Ed25519 identities: create and load the local key pair, sign, and verify others' signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from annotary.core.errors import BundleError, IdentityError, describe_validation
from annotary.core.formats import IdentityCard, Producer, Role

KEY_FILE = "identity.key"
INFO_FILE = "identity.json"
ROLES: tuple[str, ...] = get_args(Role)
SIGNATURE_SIZE = 64


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


def fingerprint_of(public_raw: bytes) -> str:
    """The first 128 bits of the key's SHA-256 as eight groups, e.g. "AB12 CD34 ..." (for reading aloud)."""
    digest = hashlib.sha256(public_raw).hexdigest()[:32].upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def public_key_from_b64(s: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise BundleError("public key is not valid base64") from None
    if len(raw) != 32:
        raise BundleError(f"public key is {len(raw)} bytes; an Ed25519 key is 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(public_b64: str, signature: bytes, data: bytes) -> bool:
    """True if `signature` is the key's signature of `data`; BundleError if the key itself is bad."""
    key = public_key_from_b64(public_b64)
    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _raw_public(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    if isinstance(key, Ed25519PrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Identity:
    name: str
    role: str
    key_id: str
    public_key: str
    created_at: datetime
    private_key: Ed25519PrivateKey | None = field(default=None, repr=False, compare=False)
    # a key file protected by a passphrase is decrypted when the key is first needed
    unlock: Callable[[], Ed25519PrivateKey] | None = field(default=None, repr=False, compare=False)

    @property
    def protected(self) -> bool:
        """Whether the private key file is protected by a passphrase."""
        return self.unlock is not None

    def private(self) -> Ed25519PrivateKey:
        """The private key, unlocked with its passphrase the first time if it is protected."""
        if self.private_key is None and self.unlock is not None:
            self.private_key = self.unlock()
        if self.private_key is None:
            raise IdentityError(f"identity {self.name!r} has no private key here")
        return self.private_key

    @classmethod
    def from_card(cls, card: IdentityCard, private_key: Ed25519PrivateKey | None = None) -> Identity:
        return cls(card.name, card.role, card.key_id, card.public_key, card.created_at, private_key)

    @property
    def public_raw(self) -> bytes:
        return base64.b64decode(self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.public_raw)

    def sign(self, data: bytes) -> bytes:
        if self.private_key is None and self.unlock is None:
            raise IdentityError(f"identity {self.name!r} has no private key here; it cannot sign")
        return self.private().sign(data)

    def openssh_public(self) -> str:
        """The public key as one OpenSSH line (`ssh-ed25519 AAAA… name`): an age recipient."""
        line = public_key_from_b64(self.public_key).public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii")
        comment = "".join(c if c.isalnum() or c in "._-@" else "_" for c in self.name)[:64]
        return f"{line} {comment}" if comment else line

    def card(self) -> IdentityCard:
        return IdentityCard(
            name=self.name,
            role=self.role,
            key_id=self.key_id,
            public_key=self.public_key,
            created_at=self.created_at,
        )

    def producer(self) -> Producer:
        return Producer(name=self.name, role=self.role, key_id=self.key_id, public_key=self.public_key)

    def public_pem(self) -> str:
        return (
            public_key_from_b64(self.public_key)
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )


def _write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically; the file is born 0600 so the key is never readable by others."""
    # mkstemp opens with O_CREAT | O_EXCL and mode 0600: no moment exists where others may read it
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_identity(directory: Path, *, name: str, role: str, overwrite: bool = False) -> Identity:
    directory = Path(directory)
    name = name.strip()
    if not name:
        raise IdentityError("identity name is empty")
    if len(name) > 200 or any(ord(c) < 32 for c in name):
        raise IdentityError("identity name must be one line of at most 200 characters")
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}; use annotator, reviewer or coordinator")
    key_path, info_path = directory / KEY_FILE, directory / INFO_FILE
    if not overwrite and (key_path.exists() or info_path.exists()):
        raise IdentityError(f"an identity already exists in {directory}")

    private = Ed25519PrivateKey.generate()
    raw = _raw_public(private)
    card = IdentityCard(
        name=name,
        role=role,
        key_id=key_id_of(raw),
        public_key=base64.b64encode(raw).decode("ascii"),
        created_at=datetime.now(UTC).replace(microsecond=0),
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(key_path, pem)
        _write_private(info_path, card.model_dump_json(indent=2).encode("utf-8") + b"\n")
    except OSError as e:
        raise IdentityError(f"cannot write identity in {directory}: {e.strerror or e}") from None
    return Identity.from_card(card, private)


PassphraseSource = Callable[[], "str | None"]
ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def _read_identity_files(directory: Path) -> tuple[bytes, IdentityCard] | None:
    key_path, info_path = directory / KEY_FILE, directory / INFO_FILE
    if not key_path.exists() and not info_path.exists():
        return None
    try:
        pem = key_path.read_bytes()
        info = info_path.read_bytes()
    except FileNotFoundError as e:
        raise IdentityError(f"identity in {directory} is incomplete: {Path(e.filename).name} is missing") from None
    except OSError as e:
        raise IdentityError(f"cannot read identity in {directory}: {e.strerror or e}") from None
    try:
        card = IdentityCard.model_validate_json(info)
    except ValidationError as e:
        raise IdentityError(f"{info_path}: {describe_validation(e)}") from None
    return pem, card


def _private_from_pem(pem: bytes, password: bytes | None, key_path: Path, card: IdentityCard) -> Ed25519PrivateKey:
    try:
        private = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        if password is not None:
            raise IdentityError("wrong passphrase for your private key") from None
        private = None
    if not isinstance(private, Ed25519PrivateKey):
        raise IdentityError(f"{key_path} is not an Ed25519 private key")
    raw = _raw_public(private)
    if card.public_key != base64.b64encode(raw).decode("ascii") or card.key_id != key_id_of(raw):
        raise IdentityError(f"{key_path.with_name(INFO_FILE)} does not match {KEY_FILE}: the key pair was mixed up")
    return private


def load_identity(directory: Path, passphrase: PassphraseSource | None = None) -> Identity | None:
    """The identity kept in `directory`, or None. A key file protected by a passphrase is left
    locked: `passphrase()` is asked for it the first time the key signs or decrypts."""
    directory = Path(directory)
    found = _read_identity_files(directory)
    if found is None:
        return None
    pem, card = found
    key_path = directory / KEY_FILE
    if pem.lstrip().startswith(ENCRYPTED_PEM):
        def unlock() -> Ed25519PrivateKey:
            given = passphrase() if passphrase is not None else None
            if not given:
                raise IdentityError("your private key is protected by a passphrase: give it when asked "
                                    "(or in ANNOTARY_PASSPHRASE)")
            return _private_from_pem(pem, given.encode("utf-8"), key_path, card)

        locked = Identity.from_card(card)
        locked.unlock = unlock
        return locked
    return Identity.from_card(card, _private_from_pem(pem, None, key_path, card))


def set_passphrase(directory: Path, identity: Identity, passphrase: str | None) -> None:
    """Protect the private key file with `passphrase` (None: remove the protection). The key is
    written again, atomically, 0600; it must be unlocked (identity.private()) first."""
    private = identity.private()
    if passphrase is not None and len(passphrase) < 8:
        raise IdentityError("a passphrase needs at least 8 characters")
    encryption = (serialization.BestAvailableEncryption(passphrase.encode("utf-8")) if passphrase
                  else serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        _write_private(Path(directory) / KEY_FILE, pem)
    except OSError as e:
        raise IdentityError(f"cannot write identity in {directory}: {e.strerror or e}") from None
