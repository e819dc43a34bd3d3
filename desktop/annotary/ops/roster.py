"""Identity cards and a project's roster: who may receive tasks and whose results are accepted."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from annotary.bundles.identity import Identity, fingerprint_of, key_id_of, verify_signature
from annotary.bundles.records import loads as strict_json
from annotary.core.changes import Change
from annotary.core.coordination import SignedCard, card_bytes
from annotary.core.errors import (
    AnnotaryError,
    BundleError,
    IdentityError,
    TrustError,
    describe_validation,
)
from annotary.core.formats import IdentityCard
from annotary.ops.project import project_info
from annotary.store import Store
from annotary.store.db import now_iso

MAX_CARD_BYTES = 64 * 1024
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(h|hour|min|minute))?\s*$")


@dataclass(frozen=True)
class Member:
    key_id: str
    name: str
    role: str
    fingerprint: str
    rate_per_hour: float | None
    added_at: str
    removed_at: str | None

    @property
    def active(self) -> bool:
        return self.removed_at is None


def export_card(*, identity: Identity, out: str | Path) -> Change:
    """Write the identity's public card, signed by its own key, for a coordinator's roster."""
    card = identity.card().model_dump(mode="json")
    signed = {"format": SignedCard.model_fields["format"].default, "card": card,
              "signature": base64.b64encode(identity.sign(card_bytes(card))).decode("ascii")}
    out = Path(out)
    try:
        out.write_text(json.dumps(signed, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as err:
        raise IdentityError(f"{out}: cannot write ({err.strerror or err})") from None
    return Change(op="card", counts={}, message=f"wrote {out.name}: card of {identity.name} "
                                                f"({identity.role}), key id {identity.key_id}")


def read_card(path: str | Path) -> IdentityCard:
    """A card whose self-signature holds: the key in it signed exactly this card."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise IdentityError(f"{path.name}: cannot read ({err.strerror or err})") from None
    if len(raw) > MAX_CARD_BYTES:
        raise IdentityError(f"{path.name}: {len(raw)} bytes is too large for an identity card")
    try:
        doc = strict_json(raw)  # no duplicate keys, bounded depth: the card comes from someone else
    except ValueError as err:
        raise IdentityError(f"{path.name}: not a JSON identity card ({err})") from None
    try:
        signed = SignedCard.model_validate(doc)
    except ValidationError as err:
        raise IdentityError(f"{path.name}: {describe_validation(err)}") from None
    card = signed.card
    try:
        signature = base64.b64decode(signed.signature, validate=True)
        public = base64.b64decode(card.public_key, validate=True)
        good = key_id_of(public) == card.key_id and verify_signature(
            card.public_key, signature, card_bytes(doc["card"]))
    except (binascii.Error, ValueError, BundleError):
        good = False
    if not good:
        raise TrustError(f"{path.name}: the card's self-signature does not match the card "
                         f"(altered, or not made by the key it names): refused")
    return card


def parse_rate(text: str | None) -> float | None:
    """Cost per hour on task from "60", "60/h" or "1.5/min"; None when not given."""
    if text is None:
        return None
    m = _RATE.match(text)
    if not m:
        raise AnnotaryError(f"rate {text!r}: write an amount per hour (60/h) or per minute (1/min)")
    value = float(m.group(1))
    return value * 60 if m.group(2) in ("min", "minute") else value


def add_members(store: Store, *, cards: list[str | Path], rate_per_hour: float | None = None) -> Change:
    """Add (or re-admit) people from their verified cards; every card is checked before any is added."""
    info = project_info(store)
    checked = [read_card(p) for p in cards]
    added, updated = [], []
    with store.atomic():
        for card in checked:
            row = store.one("SELECT public_key, rate_per_hour FROM roster WHERE project_id=? AND key_id=?",
                            (info.id, card.key_id))
            if row is None:
                store.conn.execute(
                    "INSERT INTO roster (project_id, key_id, name, role, public_key, card, rate_per_hour,"
                    " added_at) VALUES (?,?,?,?,?,?,?,?)",
                    (info.id, card.key_id, card.name, card.role, card.public_key,
                     card.model_dump_json(), rate_per_hour, now_iso()))
                added.append(card)
                continue
            if row["public_key"] != card.public_key:
                raise TrustError(f"key id {card.key_id} is in the roster with another public key: refused")
            store.conn.execute(
                "UPDATE roster SET name=?, role=?, card=?, rate_per_hour=?, removed_at=NULL"
                " WHERE project_id=? AND key_id=?",
                (card.name, card.role, card.model_dump_json(),
                 row["rate_per_hour"] if rate_per_hour is None else rate_per_hour, info.id, card.key_id))
            updated.append(card)
    names = ", ".join(f"{c.name} ({c.role}, {c.key_id})" for c in added + updated)
    return Change(op="roster-add", project_id=info.id,
                  counts={"added": len(added), "updated": len(updated)},
                  message=f"roster: {len(added)} added, {len(updated)} updated: {names}")


def find_member(store: Store, key: str) -> Member:
    """A roster entry by key id, a unique key id prefix (4+ digits) or a unique name."""
    everyone = members(store)
    found = [m for m in everyone if m.key_id == key] or \
        [m for m in everyone if len(key) >= 4 and m.key_id.startswith(key)] or \
        [m for m in everyone if m.name == key]
    if not found:
        raise AnnotaryError(f"no one with key id or name {key!r} in the roster")
    if len(found) > 1:
        raise AnnotaryError(f"{key!r} matches {len(found)} roster entries; give the whole key id")
    return found[0]


def remove_member(store: Store, *, key: str) -> Change:
    """Stop accepting results from a key; the labels already merged stay."""
    info = project_info(store)
    m = find_member(store, key)
    if not m.active:
        return Change(op="roster-remove", project_id=info.id, counts={"removed": 0},
                      message=f"{m.name} ({m.key_id}) was already removed")
    with store.atomic():
        store.conn.execute("UPDATE roster SET removed_at=? WHERE project_id=? AND key_id=?",
                           (now_iso(), info.id, m.key_id))
    return Change(op="roster-remove", project_id=info.id, counts={"removed": 1},
                  message=f"removed {m.name} ({m.key_id}); results they sign are refused from now on")


def members(store: Store, *, active_only: bool = False, role: str | None = None) -> list[Member]:
    info = project_info(store)
    rows = store.query("SELECT * FROM roster WHERE project_id=? ORDER BY rowid", (info.id,))
    out = [Member(r["key_id"], r["name"], r["role"], fingerprint_of(base64.b64decode(r["public_key"])),
                  r["rate_per_hour"], r["added_at"], r["removed_at"]) for r in rows]
    return [m for m in out if (m.active or not active_only) and (role is None or m.role == role)]
