"""Items: a prompt (text or conversation), optional context, and the responses to judge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from annotary.core.errors import ItemError
from annotary.core.spec import (
    CategoricalQuestion,
    Criterion,
    DemonstrationQuestion,
    PairwiseQuestion,
    RankingQuestion,
    RubricQuestion,
    ScoringQuestion,
    Spec,
)

ITEM_ID_PATTERN = r"^[^\x00-\x1f]{1,200}$"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Turn(Model):
    role: Literal["system", "user", "assistant"]
    content: str


class Response(Model):
    id: str = Field(min_length=1, max_length=100)
    text: str
    model: str | None = Field(None, description="The model that wrote it, if known")


# what a bundle's JSON may hold (bundles.records reads with these bounds): SQLite keeps integers
# in 64 bits and turns larger ones into REAL, so no JSON a bundle holds may carry a bigger one,
# whatever field it is in; nor NaN or Infinity, nor nesting deeper than this
JSON_INT_LIMIT = 2**63 - 1
JSON_MAX_DEPTH = 64
_FREE_DEPTH = JSON_MAX_DEPTH - 8  # an item's free-form fields sit a few levels inside a bundle's line


def _bundle_safe(value: Any, depth: int = 0) -> None:
    """Refuse in free-form data (metadata, gold answers) what a bundle could carry but never be
    read back from: an integer beyond 64 bits, NaN or Infinity, nesting beyond the reader's bound."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -JSON_INT_LIMIT <= value <= JSON_INT_LIMIT:
            raise ValueError(f"number {str(value)[:24]}… is out of range (64-bit integers only)")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value} is not a number JSON can hold")
    elif isinstance(value, dict | list):
        if depth >= _FREE_DEPTH:
            raise ValueError(f"nested more than {_FREE_DEPTH} levels deep")
        for v in value.values() if isinstance(value, dict) else value:
            _bundle_safe(v, depth + 1)


class Item(Model):
    id: str = Field(pattern=ITEM_ID_PATTERN)
    prompt: str | list[Turn] = Field(description="A single instruction, or a conversation")
    context: str | None = Field(None, description="Extra input shown with the prompt")
    responses: list[Response] = Field(default_factory=list)
    kind: Literal["normal", "gold", "calibration"] = "normal"
    gold: dict[str, Any] | None = Field(
        None, description="Expert answers per question id; never shown for gold items"
    )
    explanation: str | None = Field(None, description="Why the expert answer is right (calibration)")
    rubric: list[Criterion] | None = Field(None, description="Per-item rubric criteria")
    rubric_criteria: list[str] | None = Field(
        None, description="Ids of the spec's global criteria that apply to this item (default: all)")
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata", "gold")
    @classmethod
    def _free_form(cls, value):
        if value:
            _bundle_safe(value)
        return value

    @model_validator(mode="after")
    def _check(self):
        responses = self.responses
        if len(responses) > 1 and len({r.id for r in responses}) != len(responses):
            raise ValueError("response ids repeat")
        if isinstance(self.prompt, list) and not self.prompt:
            raise ValueError("prompt conversation is empty")
        return self

    @property
    def turns(self) -> list[Turn]:
        if isinstance(self.prompt, str):
            return [Turn(role="user", content=self.prompt)]
        return list(self.prompt)

    def response(self, response_id: str) -> Response:
        for r in self.responses:
            if r.id == response_id:
                return r
        raise KeyError(response_id)


def criteria_for(q: RubricQuestion, item: Item) -> list[Criterion]:
    """The criteria a rubric question applies to an item: chosen global ones, then the item's."""
    chosen = q.criteria
    if q.per_item and item.rubric_criteria is not None:
        wanted = set(item.rubric_criteria)
        chosen = [c for c in q.criteria if c.id in wanted]
    return list(chosen) + (list(item.rubric or []) if q.per_item else [])


def fits_checker(spec: Spec) -> Callable[[Item, Callable[[], str]], None]:
    """check_item_fits for the many items of one spec: check(item, where), `where` made only if
    the item is refused. Whether an item with no rubric, criteria or gold answers of its own fits
    depends on its number of responses alone (when no question is a demonstration, which reads
    the prompt): once such an item fits, the others with as many responses are not checked again."""
    fitting: set[int] = set()  # response counts known to fit, for such items
    by_count = not any(isinstance(q, DemonstrationQuestion) for q in spec.questions)

    def check(item: Item, where: Callable[[], str]) -> None:
        plain = by_count and not item.rubric and item.rubric_criteria is None and not item.gold
        n = len(item.responses)
        if plain and n in fitting:
            return
        check_item_fits(item, spec, where())
        if plain:
            fitting.add(n)
    return check


def check_item_fits(item: Item, spec: Spec, where: str = "") -> None:
    """Refuse an item that one of the spec's questions cannot be asked of."""
    at = f"{where}item {item.id!r}"
    n = len(item.responses)
    for q in spec.questions:
        if isinstance(q, PairwiseQuestion) and n != 2:
            raise ItemError(f"{at}: responses: question {q.id!r} compares 2 responses, item has {n}")
        if isinstance(q, RankingQuestion):
            if not 2 <= n <= 9:
                raise ItemError(f"{at}: responses: question {q.id!r} ranks 2 to 9 responses, item has {n}")
        if isinstance(q, ScoringQuestion) and n < 1:
            raise ItemError(f"{at}: responses: question {q.id!r} scores responses, item has none")
        if isinstance(q, RubricQuestion):
            if (item.rubric or item.rubric_criteria is not None) and not q.per_item:
                raise ItemError(f"{at}: rubric: question {q.id!r} does not take per-item criteria")
            known = {c.id for c in q.criteria}
            for ref in item.rubric_criteria or []:
                if ref not in known:
                    raise ItemError(f"{at}: rubric_criteria: unknown criterion {ref!r} of question {q.id!r}")
            own = [c.id for c in item.rubric or []]
            clash = sorted((set(own) & known) | {c for c in own if own.count(c) > 1})
            if clash:
                raise ItemError(f"{at}: rubric: criterion id {clash[0]!r} is used twice")
            if not criteria_for(q, item):
                raise ItemError(f"{at}: rubric: question {q.id!r} has no criteria for this item")
            if n < 1:
                raise ItemError(f"{at}: responses: question {q.id!r} grades a response, item has none")
        if isinstance(q, CategoricalQuestion) and q.target == "response" and n < 1:
            raise ItemError(f"{at}: responses: question {q.id!r} is asked of each response, item has none")
        if isinstance(q, DemonstrationQuestion):
            if not item.turns or not item.turns[-1].content.strip():
                raise ItemError(f"{at}: prompt: a demonstration needs an instruction")
            if q.edit_draft and n < 1:
                raise ItemError(f"{at}: responses: question {q.id!r} edits a draft, item has none")
    if item.gold:
        known = {q.id for q in spec.questions}
        unknown = sorted(set(item.gold) - known)
        if unknown:
            raise ItemError(f"{at}: gold: unknown question {unknown[0]!r}")
