"""Labels: one annotator's answer to one question of one item, with its revision history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from annotary.core.errors import MAX_DURATION_MS, MAX_INT32, LabelError
from annotary.core.items import Item, criteria_for
from annotary.core.spec import (
    CategoricalQuestion,
    DemonstrationQuestion,
    PairwiseQuestion,
    RankingQuestion,
    Requirement,
    RubricQuestion,
    ScoringQuestion,
    Spec,
)


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PairwiseChoice = Literal["A", "B", "tie", "both_bad"]


class PairwiseAnswer(Model):
    """In the item's own order: A is responses[0], B is responses[1], whatever was shown."""

    mode: Literal["pairwise"] = "pairwise"
    choice: PairwiseChoice
    strength: int | None = Field(
        None, ge=1, le=9, description="Strength point, 1 = responses[0] much better"
    )
    preferred: str | None = Field(None, description="Id of the preferred response, if any")


class RankingAnswer(Model):
    mode: Literal["ranking"] = "ranking"
    order: list[list[str]] = Field(description="Groups of response ids, best first; a group is a tie")
    all_unacceptable: bool = False


class ScoringAnswer(Model):
    mode: Literal["scoring"] = "scoring"
    scores: dict[str, dict[str, Annotated[int, Field(ge=-MAX_INT32, le=MAX_INT32)]]] = Field(
        description="response id -> axis id -> value")


class RubricAnswer(Model):
    mode: Literal["rubric"] = "rubric"
    marks: dict[str, Literal["met", "not_met", "partly"]]


class DemonstrationAnswer(Model):
    mode: Literal["demonstration"] = "demonstration"
    text: str
    draft: str | None = Field(None, description="The model draft the text was edited from")


MAX_OTHER = 2000  # characters of an "Other" text


class CategoricalChoice(Model):
    """What was picked for one response of a per-response categorical question."""

    categories: list[str] = Field(default_factory=list, description="Category names picked")
    other: str | None = Field(None, max_length=MAX_OTHER, description="The 'Other' text, if given")


class CategoricalAnswer(Model):
    """Categories picked by name. Per item: `categories` (and `other`); per response
    (target = "response"): `responses`, response id -> its choice, in the item's own ids."""

    mode: Literal["categorical"] = "categorical"
    categories: list[str] = Field(default_factory=list, description="Category names picked")
    other: str | None = Field(None, max_length=MAX_OTHER, description="The 'Other' text, if given")
    responses: dict[str, CategoricalChoice] | None = Field(
        None, description="target = response: response id -> the categories picked for it")

    def choices(self) -> dict[str | None, CategoricalChoice]:
        """Unit -> choice: {None: ...} for a per-item answer, response id -> ... otherwise."""
        if self.responses is not None:
            return dict(self.responses)
        return {None: CategoricalChoice(categories=list(self.categories), other=self.other)}


Answer = Annotated[
    PairwiseAnswer | RankingAnswer | ScoringAnswer | RubricAnswer | DemonstrationAnswer
    | CategoricalAnswer,
    Field(discriminator="mode"),
]


class Label(Model):
    """One revision of one annotator's label of one question of one item."""

    project_id: str
    item_id: str
    question_id: str
    annotator: str = Field(description="Key id of the annotator")
    revision: int = Field(ge=1, le=MAX_INT32)
    created_at: datetime
    submitted_at: datetime
    duration_ms: int = Field(ge=0, le=MAX_DURATION_MS)
    shown_order: list[str] = Field(description="Response ids in the order shown on screen")
    answer: Answer | None = None
    rationale: str | None = None
    confidence: int | None = Field(None, ge=1, le=9)
    flags: list[str] = Field(default_factory=list)
    skip_reason: str | None = None
    spec_version: str
    guidelines_version: str

    @model_validator(mode="after")
    def _answer_or_skip(self):
        if self.answer is None and not self.skip_reason:
            raise ValueError("a label needs an answer or a skip reason")
        return self


def pairwise_from_screen(q: PairwiseQuestion, shown_order: list[str], item: Item, *,
                         key: str | None = None, point: int | None = None) -> PairwiseAnswer:
    """Turn what the annotator chose on screen (A = left) into the item's own order."""
    swapped = shown_order[0] != item.responses[0].id
    if point is not None:
        if q.scale != "strength" or not 1 <= point <= q.points:
            raise LabelError(f"{q.id}: point {point} is not on this scale")
        canon = q.points + 1 - point if swapped else point
        n = q.points
        if n % 2 and canon == (n + 1) // 2:
            choice: str = "tie"
        else:
            choice = "A" if canon <= n // 2 else "B"
        pref = None if choice == "tie" else item.responses[0 if choice == "A" else 1].id
        return PairwiseAnswer(choice=choice, strength=canon, preferred=pref)
    allowed = {"binary": {"A", "B"}, "tie": {"A", "B", "tie"},
               "fourway": {"A", "B", "tie", "both_bad"}, "strength": set()}[q.scale]
    if key not in allowed:
        raise LabelError(f"{q.id}: {key!r} is not an answer of this scale")
    choice = key
    if swapped and key in ("A", "B"):
        choice = "B" if key == "A" else "A"
    pref = item.responses[0 if choice == "A" else 1].id if choice in ("A", "B") else None
    return PairwiseAnswer(choice=choice, preferred=pref)


def screen_from_pairwise(q: PairwiseQuestion, shown_order: list[str], item: Item,
                         answer: PairwiseAnswer) -> tuple[str | None, int | None]:
    """The (key, point) the annotator sees for a stored answer: inverse of pairwise_from_screen."""
    swapped = shown_order[0] != item.responses[0].id
    if answer.strength is not None:
        return None, (q.points + 1 - answer.strength) if swapped else answer.strength
    key = answer.choice
    if swapped and key in ("A", "B"):
        key = "B" if key == "A" else "A"
    return key, None


def check_label_fits(label: Label, spec: Spec, item: Item) -> None:
    """Refuse a label that does not answer its question properly."""
    problem = label_problem(label, spec, item)
    if problem is not None:
        raise LabelError(f"label of item {label.item_id!r}, question {label.question_id!r}: {problem}")


def check_answer_fits(q, a: Answer, item: Item, at: str) -> None:
    """Refuse an answer that does not fit its question (also used for gold answers)."""
    problem = answer_problem(q, a, item)
    if problem is not None:
        raise LabelError(f"{at}: {problem}")


# The checks return what is wrong (None when nothing is): a merge checks every label of a
# bundle, and describing the place of a problem only where there is one halves its cost.

def label_problem(label: Label, spec: Spec, item: Item) -> str | None:
    try:
        q = spec.question(label.question_id)
    except KeyError:
        return "question_id: not in the spec"
    ids = [r.id for r in item.responses]
    shown = label.shown_order
    if shown != ids and (len(shown) != len(ids) or sorted(shown) != sorted(ids)):
        return "shown_order: does not list the item's responses"
    if label.flags and not set(label.flags) <= set(spec.flags):
        return f"flags: {sorted(set(label.flags) - set(spec.flags))[0]!r} is not a flag of the spec"
    if label.confidence is not None and label.confidence > q.confidence_scale:
        return f"confidence: {label.confidence} is above the scale of {q.confidence_scale}"
    if label.answer is None:
        return None if spec.allow_skip else "answer: missing and the spec does not allow skipping"
    if label.answer.mode != q.mode:
        return f"answer: a {label.answer.mode} answer to a {q.mode} question"
    if q.rationale is Requirement.required and not (label.rationale or "").strip():
        return "rationale: required"
    if q.confidence is Requirement.required and label.confidence is None:
        return "confidence: required"
    return answer_problem(q, label.answer, item)


PAIRWISE_ALLOWED = {"binary": frozenset({"A", "B"}), "tie": frozenset({"A", "B", "tie"}),
                    "fourway": frozenset({"A", "B", "tie", "both_bad"}),
                    "strength": frozenset({"A", "B", "tie"})}


def answer_problem(q, a: Answer, item: Item) -> str | None:
    if a.mode != q.mode:
        return f"answer: a {a.mode} answer to a {q.mode} question"
    if isinstance(q, PairwiseQuestion):
        if a.choice not in PAIRWISE_ALLOWED[q.scale]:
            return f"answer.choice: {a.choice!r} is not on a {q.scale} scale"
        if q.scale == "strength" and (a.strength is None or a.strength > q.points):
            return f"answer.strength: needs a point from 1 to {q.points}"
        # the preferred response, when given, must be the one the choice names
        if a.preferred is not None:
            responses = item.responses
            named = (responses[0 if a.choice == "A" else 1].id
                     if len(responses) == 2 and a.choice in ("A", "B") else None)
            if a.preferred != named:
                return f"answer.preferred: {a.preferred!r} is not the response choice {a.choice!r} names"
        return None
    ids = [r.id for r in item.responses]
    if isinstance(q, RankingQuestion):
        flat = [r for g in a.order for r in g]
        if len(set(flat)) != len(flat) or not set(flat) <= set(ids):
            return "answer.order: lists unknown or repeated responses"
        if not q.allow_ties and any(len(g) > 1 for g in a.order):
            return "answer.order: ties are not allowed"
        need = min(q.top_k or len(ids), len(ids))
        if len(flat) < need and not a.all_unacceptable:
            return f"answer.order: ranks {len(flat)} of {need} responses"
    elif isinstance(q, ScoringQuestion):
        for rid, axes in a.scores.items():
            if rid not in ids:
                return f"answer.scores: unknown response {rid!r}"
            for ax in q.axes:
                v = axes.get(ax.id)
                if v is None and ax.required:
                    return f"answer.scores.{rid}.{ax.id}: required"
                if v is not None and v not in {p.value for p in ax.scale}:
                    return f"answer.scores.{rid}.{ax.id}: {v} is not on the scale"
    elif isinstance(q, RubricQuestion):
        crits = criteria_for(q, item)
        known = {c.id for c in crits}
        for cid, mark in a.marks.items():
            if cid not in known:
                return f"answer.marks: unknown criterion {cid!r}"
            if mark == "partly" and not q.allow_partial:
                return f"answer.marks.{cid}: 'partly' is not allowed"
        for c in crits:
            if c.required and c.id not in a.marks:
                return f"answer.marks.{c.id}: required"
    elif isinstance(q, DemonstrationQuestion):
        if not a.text.strip():
            return "answer.text: empty"
    elif isinstance(q, CategoricalQuestion):
        return categorical_problem(q, a, ids)
    return None


def choice_problem(q: CategoricalQuestion, choice, at: str) -> str | None:
    known = set(q.names())
    picked = list(choice.categories)
    for name in picked:
        if name not in known:
            return f"{at}.categories: {name!r} is not a category of the question"
    if len(set(picked)) != len(picked):
        return f"{at}.categories: a category is picked twice"
    if choice.other is not None:
        if not q.other:
            return f"{at}.other: the question offers no 'Other'"
        if not choice.other.strip():
            return f"{at}.other: empty"
    given = len(picked) + (choice.other is not None)
    if not q.multiple and given != 1:
        return f"{at}.categories: a single-choice question takes exactly one, not {given}"
    return None


def categorical_problem(q: CategoricalQuestion, a, ids: list[str]) -> str | None:
    if q.target == "item":
        if a.responses is not None:
            return "answer.responses: the question is asked once per item, not per response"
        return choice_problem(q, a, "answer")
    if a.responses is None or a.categories or a.other is not None:
        return "answer.responses: the question is asked once per response"
    for rid, choice in a.responses.items():
        if rid not in ids:
            return f"answer.responses: unknown response {rid!r}"
        problem = choice_problem(q, choice, f"answer.responses.{rid}")
        if problem:
            return problem
    left = [rid for rid in ids if rid not in a.responses]
    if left:
        return f"answer.responses.{left[0]}: required"
    return None


def rubric_score(criteria, marks: dict[str, str]) -> tuple[int | float, int, float | None]:
    """(sum of met points, sum of positive points, score). "partly" earns half the points.

    The score is not clipped: harmful criteria met can take it below 0 (HealthBench clips only
    the mean over items)."""
    earned = 0.0
    for c in criteria:
        mark = marks.get(c.id)
        if mark == "met":
            earned += c.points
        elif mark == "partly":
            earned += c.points / 2
    positive = sum(c.points for c in criteria if c.points > 0)
    earned = int(earned) if float(earned).is_integer() else earned
    return earned, positive, (earned / positive if positive else None)
