"""The local person's identity: created once, used to sign every bundle they produce."""

from __future__ import annotations

from annotary.bundles.identity import Identity, create_identity, load_identity
from annotary.core.errors import IdentityError
from annotary.paths import data_dir


def current_identity() -> Identity | None:
    return load_identity(data_dir())


def require_identity() -> Identity:
    ident = current_identity()
    if ident is None:
        raise IdentityError(
            "no identity yet: create one with `annotary identity create --name NAME --role annotator`"
        )
    return ident


def make_identity(*, name: str, role: str, overwrite: bool = False) -> Identity:
    return create_identity(data_dir(), name=name, role=role, overwrite=overwrite)
