"""The local person's identity: created once, used to sign every bundle they produce."""

from __future__ import annotations

import os
from collections.abc import Callable

from annotary.bundles.identity import Identity, create_identity, load_identity, set_passphrase
from annotary.core.errors import IdentityError
from annotary.paths import data_dir

PASSPHRASE_ENV = "ANNOTARY_PASSPHRASE"

# The passphrase of a protected key, kept in memory once it unlocked the key: asked once per
# session (a terminal prompt, the app's dialog), never written anywhere.
_session: dict[str, str] = {}
_ask: Callable[[], str | None] | None = None


def set_passphrase_prompt(ask: Callable[[], str | None] | None) -> None:
    """How this program asks for the passphrase of a protected key (None: it cannot ask)."""
    global _ask
    _ask = ask


def _passphrase() -> str | None:
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if "passphrase" in _session:
        return _session["passphrase"]
    return _ask() if _ask is not None else None


def current_identity() -> Identity | None:
    """The identity of this computer's user; a protected key is unlocked when first needed, with
    the passphrase from ANNOTARY_PASSPHRASE, this session, or the prompt (kept once it works)."""
    given: list[str | None] = []

    def source() -> str | None:
        given.append(_passphrase())
        return given[-1]

    ident = load_identity(data_dir(), passphrase=source)
    if ident is not None and ident.unlock is not None:
        inner = ident.unlock

        def unlock():
            key = inner()
            if given and given[-1]:
                _session["passphrase"] = given[-1]
            return key

        ident.unlock = unlock
    return ident


def require_identity() -> Identity:
    ident = current_identity()
    if ident is None:
        raise IdentityError(
            "no identity yet: create one with `annotary identity create --name NAME --role annotator`"
        )
    return ident


def make_identity(*, name: str, role: str, overwrite: bool = False) -> Identity:
    return create_identity(data_dir(), name=name, role=role, overwrite=overwrite)


def unlock_identity(passphrase: str) -> Identity:
    """Unlock the protected key with `passphrase` and keep the passphrase for this session;
    IdentityError (nothing kept) if it is wrong."""
    ident = load_identity(data_dir(), passphrase=lambda: passphrase)
    if ident is None:
        raise IdentityError("no identity yet")
    ident.private()
    if ident.protected:
        _session["passphrase"] = passphrase
    return ident


def forget_passphrase() -> None:
    _session.clear()


def change_passphrase(passphrase: str | None) -> Identity:
    """Protect the private key with `passphrase`, or (None) remove its protection."""
    ident = require_identity()
    set_passphrase(data_dir(), ident, passphrase)
    _session.clear()
    if passphrase:
        _session["passphrase"] = passphrase
    return ident
