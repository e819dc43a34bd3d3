"""Coordinator formats: self-signed identity cards and labels from raters outside the roster."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from annotary.core.formats import IdentityCard
from annotary.core.labels import Answer

CARD_FORMAT = "annotary.card/1"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignedCard(Model):
    """A person's public identity card, signed by the card's own key (a .card.json file)."""

    format: Literal["annotary.card/1"] = CARD_FORMAT
    card: IdentityCard
    signature: str = Field(
        description="Base64 of the raw 64-byte Ed25519 signature, by card.public_key, of the card "
                    "object as canonical JSON: keys sorted, no whitespace, UTF-8")


def card_bytes(card: dict[str, Any]) -> bytes:
    """The exact bytes a card's self-signature covers, from the card object as written in the file."""
    return json.dumps(card, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RaterLabel(Model):
    """One line of a rater's labels file (`annotary labels import`): an LLM judge, a reward model."""

    item_id: str = Field(min_length=1)
    question_id: str = Field(min_length=1)
    answer: Answer = Field(description="In the item's own response order, as in a label")
    confidence: float | None = Field(
        None, ge=0, le=1, description="The rater's probability that its answer is right")
    rationale: str | None = None
