"""Who a bundle is encrypted to: the cards asked for, or the people the project sends it to by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from annotary.bundles.identity import Identity
from annotary.bundles.sealed import Recipient, distinct
from annotary.core.errors import AnnotaryError
from annotary.ops.roster import read_card
from annotary.paths import data_dir
from annotary.store import Store


@dataclass(frozen=True)
class Encryption:
    """What the person asked for: `encrypt` (to the bundle's own readers), `encrypt_to` (cards of
    more readers; implies encrypt), `plaintext` (no encryption, even for a confidential project)."""

    encrypt: bool = False
    encrypt_to: Sequence[str | Path] = ()
    plaintext: bool = False

    def check(self) -> list[Recipient]:
        """The cards' recipients (each card's self-signature checked); AnnotaryError if the choice
        contradicts itself."""
        if self.plaintext and (self.encrypt or self.encrypt_to):
            raise AnnotaryError("--plaintext and --encrypt-to (or --encrypt) exclude each other: choose one")
        return [Recipient.of(read_card(card)) for card in self.encrypt_to]


DEFAULT_CHOICE = Encryption()  # nothing asked: the project's default
PLAINTEXT_HINT = "or write it unencrypted with --plaintext"


def recipients(choice: Encryption, *, signer: Identity, readers: Sequence[Recipient], confidential: bool,
               what: str, by_default: bool = False, extra: Sequence[Recipient] | None = None) -> list[Recipient]:
    """Who the bundle `what` is encrypted to; [] for plaintext.

    Encrypted when asked (`encrypt`, `encrypt_to`), when the project is `confidential`, or when
    `by_default` (results of a task bundle that came encrypted), unless `plaintext`. Its readers
    are `readers` (the annotator, the reviewer, the coordinator), the cards given, and the signer,
    so the sender can still check what they sent."""
    extra = choice.check() if extra is None else extra
    if choice.plaintext or not (choice.encrypt or extra or confidential or by_default):
        return []
    people = [*readers, *extra]
    if not people:
        why = "the project is confidential" if confidential and not choice.encrypt else "it is to be encrypted"
        raise AnnotaryError(f"{what}: {why}: name who may read it with --encrypt-to CARD.json, {PLAINTEXT_HINT}")
    return distinct([*people, Recipient.of(signer)])


def seal_options(chosen: Sequence[Recipient]) -> dict:
    """write_bundle's keywords for `chosen` recipients (none: a plaintext bundle). The signed zip
    waits for its encryption in a private folder of the data folder, not beside the output."""
    return {"recipients": list(chosen), "workdir": data_dir() / "tmp"} if chosen else {}


def sealed_text(chosen: Sequence[Recipient]) -> str:
    """How a command's message says it was encrypted (nothing for plaintext)."""
    if not chosen:
        return ""
    names = ", ".join(r.name for r in chosen)
    return f", encrypted to {names}"


def roster_recipient(store: Store, project_id: str, key_id: str) -> Recipient:
    row = store.one("SELECT name, public_key FROM roster WHERE project_id=? AND key_id=?", (project_id, key_id))
    if row is None:
        raise AnnotaryError(f"key {key_id} is not in the roster of project {project_id!r}")
    return Recipient(row[0], row[1])


def coordinator_recipient(store: Store, project_id: str) -> Recipient | None:
    """The coordinator named by the project's task bundles (None if none is known here)."""
    row = store.one("SELECT coordinator_name, coordinator_public_key FROM projects WHERE id=?", (project_id,))
    if row is None or not row[1]:
        return None
    return Recipient(row[0] or "the coordinator", row[1])


def came_sealed(store: Store, project_id: str) -> bool:
    """Whether the task (or adjudication) bundles of the project came encrypted."""
    return store.one("SELECT 1 FROM bundle_log WHERE project_id=? AND kind IN ('tasks', 'adjudication')"
                     " AND json_extract(details, '$.sealed') = 1", (project_id,)) is not None
