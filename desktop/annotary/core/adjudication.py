"""Adjudication formats: the cases a reviewer decides, and the decisions that come back."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from annotary.core.errors import MAX_DURATION_MS, MAX_INT32
from annotary.core.labels import Answer

# strongest first; single+judge: one person's answer that the AI judge of a triage round gave too
PROVENANCE = ("gold", "adjudicated", "unanimous", "majority", "single+judge", "single")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseAnswer(Model):
    """One annotator's label as the reviewer sees it."""

    who: str = Field(description="The annotator's name, or a pseudonym such as 'Annotator 2'")
    answer: Answer | None = Field(None, description="In the item's own response order")
    rationale: str | None = None
    confidence: int | None = Field(None, ge=1, le=9)
    duration_ms: int | None = Field(None, ge=0, le=MAX_DURATION_MS)
    flags: list[str] = Field(default_factory=list)
    skip_reason: str | None = None
    shown_order: list[str] = Field(default_factory=list)


class Case(Model):
    """One question of one item sent to a reviewer (cases.jsonl of an adjudication bundle)."""

    item_id: str
    question_id: str
    reason: Literal["conflict", "audit"]
    answers: list[CaseAnswer] = Field(min_length=1)
    consensus: Answer | None = Field(None, description="The consensus attempt, if one was reached")
    majority: int | None = Field(
        None, ge=0, le=MAX_INT32, description="Index into answers of an answer a strict majority shares (if any)")
    support: float | None = Field(None, ge=0, le=1, description="Share of annotators behind the consensus")
    agreement: dict[str, float | None] = Field(
        default_factory=dict, description="The question's agreement figures (alpha, kappa…)")


class Decision(Model):
    """A reviewer's final answer to a case (decisions.jsonl of a decisions bundle)."""

    item_id: str
    question_id: str
    reviewer: str = Field(description="Key id of the reviewer")
    revision: int = Field(ge=1, le=MAX_INT32)
    decided_at: datetime
    answer: Answer
    adopted: int | None = Field(None, ge=0, le=MAX_INT32, description="Index of the annotator answer adopted unchanged")
    overrides_majority: bool = False
    reason: str | None = Field(None, description="Why; required when overriding a majority")
    duration_ms: int = Field(0, ge=0, le=MAX_DURATION_MS)
