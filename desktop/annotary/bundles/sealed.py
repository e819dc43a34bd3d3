"""Confidential bundles: a signed bundle wrapped in the age format (age-encryption.org/v1) for its recipients.

DESIGN: sign inside, encrypt outside. The signed zip is encrypted, streaming, to `ssh-ed25519`
age recipients: the Ed25519 keys people already sign with, so there is no second key. Reading
unwraps it, streaming, into a file only its owner can read, in a folder only its owner can
enter, which is always removed; the one bundle reader then verifies it as any other.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyrage
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from annotary.bundles.identity import Identity, key_id_of
from annotary.core.errors import AnnotaryError, BundleError

AGE_HEADER = b"age-encryption.org/v1\n"
AGE_ARMOR = b"-----BEGIN AGE ENCRYPTED FILE-----"


@dataclass(frozen=True)
class Recipient:
    """Someone a bundle is encrypted to: a name to show and their Ed25519 public key (base64)."""

    name: str
    public_key: str

    @property
    def key_id(self) -> str:
        return key_id_of(base64.b64decode(self.public_key))

    @property
    def line(self) -> str:
        """The key as an age recipient (and an OpenSSH public key line): `ssh-ed25519 AAAA…`."""
        return openssh_public_line(self.public_key)

    @classmethod
    def of(cls, identity) -> Recipient:
        """An Identity, an IdentityCard, or anything with a name and a public key."""
        return cls(identity.name, identity.public_key)


def openssh_public_line(public_b64: str) -> str:
    raw = base64.b64decode(public_b64)
    return (Ed25519PublicKey.from_public_bytes(raw)
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode("ascii"))


def distinct(recipients: Sequence[Recipient]) -> list[Recipient]:
    """Each key once, in the order given."""
    seen: dict[str, Recipient] = {}
    for r in recipients:
        seen.setdefault(r.public_key, r)
    return list(seen.values())


def is_sealed(path: Path | str) -> bool:
    """Whether the file is an age file (binary or ASCII-armored), told by its header line."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(AGE_ARMOR) + 64)
    except OSError:
        return False  # the reader that opens it next says why it cannot
    return head.startswith(AGE_HEADER) or head.lstrip().startswith(AGE_ARMOR)


PREFIX = ".annotary-"
STALE_SECONDS = 24 * 3600


def _sweep(workdir: Path) -> None:
    """Private folders a killed process could not remove (a power cut, SIGKILL): gone after a day
    (no open or merge takes that long, so none is in use)."""
    now = time.time()
    for folder in workdir.glob(PREFIX + "*"):
        try:
            if now - folder.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass


@contextmanager
def private_folder(workdir: Path | None = None) -> Iterator[Path]:
    """A fresh folder only its owner can enter (mkdtemp makes it 0700), removed with all it holds
    on the way out, however that is."""
    if workdir is not None:
        try:
            Path(workdir).mkdir(parents=True, exist_ok=True, mode=0o700)
            _sweep(Path(workdir))
        except OSError:
            workdir = None
    try:
        folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=workdir))
    except OSError as e:
        raise BundleError(f"cannot make a private temporary folder ({e.strerror or e})") from None
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def private_file(path: Path):
    """A new file only its owner can read, opened for writing (born 0600: never readable by others)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600), "wb")


@contextmanager
def atomic_output(path: Path) -> Iterator:
    """A file to write that becomes `path` whole on success (a reader sees the old file or the
    whole new one) and leaves nothing behind on failure; OSError becomes a one-line BundleError."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise BundleError(f"{path.name}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise BundleError(f"{path.name}: cannot write ({e.strerror or e})") from None
        raise


def seal(plain: Path, out: Path, recipients: Sequence[Recipient]) -> None:
    """Encrypt the file `plain` to `recipients`, streaming, into `out` atomically."""
    recipients = distinct(recipients)
    if not recipients:
        raise BundleError(f"{out.name}: no recipients to encrypt to")
    try:
        keys = [pyrage.ssh.Recipient.from_str(r.line) for r in recipients]
    except (pyrage.RecipientError, ValueError) as e:
        raise BundleError(f"{out.name}: a recipient's key cannot be used ({e})") from None
    try:
        with open(plain, "rb") as src, atomic_output(out) as dst:
            pyrage.encrypt_io(src, dst, keys)
    except pyrage.EncryptError as e:
        raise BundleError(f"{out.name}: cannot encrypt ({e})") from None


@dataclass(frozen=True)
class Unseal:
    """How an encrypted bundle is opened here: the local identity (asked for only when a file is
    encrypted: a protected key may need its passphrase) and where the private folder goes."""

    identity: Callable[[], Identity | None]
    workdir: Path | None = None


class _Capped:
    """A file writer that refuses to grow past `limit` bytes (an age file has no compression,
    but its plaintext is still bounded like any bundle's)."""

    def __init__(self, f, limit: int):
        self.f, self.limit, self.n = f, limit, 0

    def write(self, data) -> int:
        self.n += len(data)
        if self.n > self.limit:
            raise _TooLarge()
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


class _TooLarge(Exception):
    pass


def _age_identity(identity: Identity):
    private = identity.private()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption())
    return pyrage.ssh.Identity.from_buffer(pem)


@contextmanager
def unsealed(path: Path, unseal: Unseal | None, *, max_bytes: int) -> Iterator[Path]:
    """The plaintext of `path`: the file itself when it is not an age file; else its decryption
    with the local identity, streaming, in a private temporary file of the same name, removed
    on the way out. BundleError (one line) when it cannot be opened here."""
    path = Path(path)
    if not is_sealed(path):
        yield path
        return
    label = path.name
    identity = unseal.identity() if unseal is not None else None
    if identity is None:
        raise BundleError(f"{label}: encrypted (age), and there is no identity on this computer to open it")
    try:
        key = _age_identity(identity)
    except AnnotaryError as e:
        raise BundleError(f"{label}: encrypted; {e.message}") from None
    with private_folder(unseal.workdir) as folder:
        plain = folder / label
        try:
            with open(path, "rb") as src, private_file(plain) as dst:
                pyrage.decrypt_io(src, _Capped(dst, max_bytes), [key])
        except pyrage.DecryptError as e:
            if "no matching keys" in str(e).lower():
                raise BundleError(f"{label}: encrypted for someone else: your key {identity.key_id} "
                                  f"({identity.name}) is not one of its recipients") from None
            raise BundleError(f"{label}: a damaged or unreadable age file "
                              f"({' '.join(str(e).split())[:120]})") from None
        except _TooLarge:
            raise BundleError(f"{label}: decrypts to more than {max_bytes // (1 << 20)} MiB, "
                              "larger than a bundle may be") from None
        except OSError as e:
            raise BundleError(f"{label}: cannot be decrypted here ({e.strerror or e})") from None
        except (ValueError, TypeError) as e:  # the binding's own refusals of odd input
            raise BundleError(f"{label}: a damaged or unreadable age file ({str(e)[:120]})") from None
        yield plain
