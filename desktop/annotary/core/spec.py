"""The project spec: the questions asked of every item, in one of six modes."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from annotary.core.errors import MAX_INT32, SpecError, describe_validation

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Requirement(StrEnum):
    off = "off"
    optional = "optional"
    required = "required"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScalePoint(Strict):
    """One point of a scale: its value, a short label and the anchor text that defines it."""

    value: int = Field(ge=-MAX_INT32, le=MAX_INT32)
    label: str = Field(min_length=1)
    anchor: str = ""


class QuestionBase(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1, description="What the expert is asked, shown above the answer")
    required: bool = True
    rationale: Requirement = Requirement.off
    confidence: Requirement = Requirement.off
    confidence_scale: int = Field(5, ge=2, le=9)
    guidelines_section: str | None = Field(
        None, description="Heading of guidelines.md the question links to"
    )


PairwiseScale = Literal["binary", "tie", "fourway", "strength"]


class PairwiseQuestion(QuestionBase):
    """Compare two responses: binary, with tie, four-way, or an N-point strength scale."""

    mode: Literal["pairwise"] = "pairwise"
    scale: PairwiseScale = "fourway"
    points: int = Field(8, ge=2, le=9, description="Number of points of a strength scale")
    point_labels: list[str] | None = Field(
        None, description="Labels of the strength points, from 'A much better' to 'B much better'"
    )
    axis: str | None = Field(None, description="The aspect compared, e.g. helpfulness")

    @model_validator(mode="after")
    def _labels_fit(self):
        if self.point_labels is not None and len(self.point_labels) != self.points:
            raise ValueError(
                f"point_labels has {len(self.point_labels)} labels for {self.points} points"
            )
        return self

    def strength_labels(self) -> list[str]:
        """Labels of the strength points as seen on screen (point 1 = A much better)."""
        if self.point_labels:
            return list(self.point_labels)
        n = self.points
        half = n // 2
        steps = {1: ["better"], 2: ["better", "slightly better"],
                 3: ["much better", "better", "slightly better"],
                 4: ["much better", "better", "slightly better", "marginally better"]}[max(1, min(half, 4))]
        steps = (steps + ["marginally better"] * half)[:half]
        left = [f"A {s}" for s in steps]
        right = [f"B {s}" for s in reversed(steps)]
        mid = ["About the same"] if n % 2 else []
        return left + mid + right


class RankingQuestion(QuestionBase):
    """Order N (2-9) responses, best first."""

    mode: Literal["ranking"] = "ranking"
    allow_ties: bool = False
    top_k: int | None = Field(None, ge=1, le=9, description="Rank only the best k; the rest stay unranked")


class Axis(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    required: bool = True
    scale: list[ScalePoint] = Field(min_length=2, max_length=10)

    @field_validator("scale")
    @classmethod
    def _anchored(cls, scale: list[ScalePoint]):
        missing = [p.value for p in scale if not p.anchor.strip()]
        if missing:
            raise ValueError(f"scale points {missing} have no anchor text")
        values = [p.value for p in scale]
        if len(set(values)) != len(values):
            raise ValueError("scale values repeat")
        return scale


def _scale(low: int, anchors: list[str]) -> list[dict]:
    return [{"value": low + i, "label": str(low + i), "anchor": a} for i, a in enumerate(anchors)]


# Published multi-axis schemes: HelpSteer2 (NVIDIA, 0-4) and UltraFeedback (OpenBMB, 1-5)
PRESETS: dict[str, list[dict]] = {
    "helpsteer2": [
        {"id": "helpfulness", "name": "Helpfulness", "scale": _scale(0, [
            "Not helpful at all", "Slightly helpful", "Partly helpful", "Mostly helpful",
            "Completely helpful: fully addresses the prompt"])},
        {"id": "correctness", "name": "Correctness", "scale": _scale(0, [
            "Mostly wrong or hallucinated", "Several errors", "Some errors", "Minor errors only",
            "Fully correct and complete"])},
        {"id": "coherence", "name": "Coherence", "scale": _scale(0, [
            "Incoherent", "Hard to follow", "Partly clear", "Mostly clear", "Perfectly clear and consistent"])},
        {"id": "complexity", "name": "Complexity", "scale": _scale(0, [
            "Basic language anyone understands", "Simple language", "Some expertise needed",
            "Advanced language", "Expert language"])},
        {"id": "verbosity", "name": "Verbosity", "scale": _scale(0, [
            "Succinct", "Fairly short", "Medium length", "Fairly long", "Verbose"])},
    ],
    "ultrafeedback": [
        {"id": "instruction_following", "name": "Instruction following", "scale": _scale(1, [
            "Irrelevant", "Partial focus", "Partial compliance", "Almost there", "Comprehensive compliance"])},
        {"id": "honesty", "name": "Honesty", "scale": _scale(1, [
            "Confidently incorrect", "Confident with significant mistakes", "Uncertain or refuses",
            "Correct but uncertain", "Correct and confident"])},
        {"id": "truthfulness", "name": "Truthfulness", "scale": _scale(1, [
            "Completely hallucinated", "Severe hallucination", "Partial hallucination",
            "Insignificant hallucination", "No hallucination"])},
        {"id": "helpfulness", "name": "Helpfulness", "scale": _scale(1, [
            "Severely incorrect", "Partially incorrect", "Correct", "Highly informative",
            "Outstandingly helpful"])},
    ],
}


class ScoringQuestion(QuestionBase):
    """Rate each response on several axes, each with its own anchored scale."""

    mode: Literal["scoring"] = "scoring"
    level: Literal["ordinal", "interval", "ratio"] = Field(
        "ordinal", description="Level of measurement of the scores: ordinal (ranked points; median "
        "consensus), interval (equal steps; mean consensus) or ratio (equal steps from a true zero; "
        "scale values not negative)")
    preset: Literal["helpsteer2", "ultrafeedback"] | None = Field(
        None, description="Fill the axes from a published scheme (when axes are not given)")
    axes: list[Axis] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data):
        if isinstance(data, dict) and data.get("preset") in PRESETS and not data.get("axes"):
            data = {**data, "axes": PRESETS[data["preset"]]}
        return data

    @model_validator(mode="after")
    def _ratio_from_zero(self):
        if self.level == "ratio":
            below = [f"{ax.id} {p.value}" for ax in self.axes for p in ax.scale if p.value < 0]
            if below:
                raise ValueError(f"a ratio scale starts at a true zero, but {', '.join(below)} "
                                 "is negative (use level = \"interval\")")
        return self


class Criterion(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1)
    points: int = Field(ge=-MAX_INT32, le=MAX_INT32, description="Signed points: positive for desired, negative for harmful")
    explanation: str = ""
    required: bool = True


class RubricQuestion(QuestionBase):
    """Mark criteria met / not met for the item's first response; score = met / positive points."""

    mode: Literal["rubric"] = "rubric"
    criteria: list[Criterion] = Field(default_factory=list, description="Global criteria")
    per_item: bool = Field(False, description="Items may carry criteria of their own")
    allow_partial: bool = False

    @field_validator("criteria")
    @classmethod
    def _unique_criteria(cls, criteria: list[Criterion]):
        ids = [c.id for c in criteria]
        if len(set(ids)) != len(ids):
            raise ValueError("criterion ids repeat")
        return criteria


class DemonstrationQuestion(QuestionBase):
    """Write the ideal response, or edit a model draft."""

    mode: Literal["demonstration"] = "demonstration"
    edit_draft: bool = Field(False, description="Start from the item's first response as a draft")
    min_words: int = Field(0, ge=0, le=MAX_INT32)


class Category(Strict):
    """One answer of a categorical question: its name (the word on screen and in the data) and
    an optional description shown as help."""

    name: str = Field(min_length=1, max_length=200)
    description: str = ""


MIN_CATEGORIES, MAX_CATEGORIES = 2, 50


class CategoricalQuestion(QuestionBase):
    """Pick one category (or several) from a named list, once per item or once per response."""

    mode: Literal["categorical"] = "categorical"
    categories: list[Category] = Field(
        description="2 to 50 categories: a name, or a table {name, description}")
    multiple: bool = Field(False, description="Any number of categories (false: exactly one)")
    target: Literal["item", "response"] = Field(
        "item", description="Asked once per item, or once per response")
    other: bool = Field(False, description="Offer 'Other' with a free text")

    @field_validator("categories", mode="before")
    @classmethod
    def _named(cls, value):
        if not isinstance(value, list):
            return value
        if not MIN_CATEGORIES <= len(value) <= MAX_CATEGORIES:
            raise ValueError(f"{len(value)} given; a categorical question has "
                             f"{MIN_CATEGORIES} to {MAX_CATEGORIES}")
        out = []
        for n, c in enumerate(value, 1):
            c = {"name": c} if isinstance(c, str) else c
            if isinstance(c, dict) and isinstance(c.get("name"), str):
                c = {**c, "name": " ".join(c["name"].split())}
                if not c["name"]:
                    raise ValueError(f"category {n} has an empty name")
            out.append(c)
        return out

    @field_validator("categories")
    @classmethod
    def _unique_names(cls, categories: list[Category]):
        seen: dict[str, str] = {}
        for c in categories:
            key = c.name.casefold()
            if key in seen:
                raise ValueError(f"category {c.name!r} is listed twice")
            seen[key] = c.name
        return categories

    @model_validator(mode="after")
    def _other_apart(self):
        if self.other and any(c.name.casefold() == "other" for c in self.categories):
            raise ValueError("a category named 'Other' and other = true: keep one of them")
        return self

    def names(self) -> list[str]:
        return [c.name for c in self.categories]


Question = Annotated[
    PairwiseQuestion | RankingQuestion | ScoringQuestion | RubricQuestion | DemonstrationQuestion
    | CategoricalQuestion,
    Field(discriminator="mode"),
]

DEFAULT_FLAGS = ["unsafe", "needs_expert", "unclear"]


class Spec(Strict):
    """What is asked of every item of a project."""

    format: Literal["annotary.spec/1"] = "annotary.spec/1"
    project_id: str | None = Field(None, pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    guidelines_version: str = Field("1", min_length=1)
    questions: list[Question] = Field(min_length=1)
    flags: list[str] = Field(default_factory=lambda: list(DEFAULT_FLAGS))
    allow_skip: bool = True
    skip_reasons: list[str] = Field(
        default_factory=lambda: ["cannot judge", "outside my expertise", "broken item"]
    )
    shuffle: bool = Field(True, description="Shuffle response order per annotator (position bias)")
    confidential: bool = Field(False, description="Every bundle of the project is encrypted to its "
                               "recipients (age); a plaintext one only when asked for (--plaintext)")

    @model_validator(mode="after")
    def _unique(self):
        ids = [q.id for q in self.questions]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"question ids repeat: {', '.join(sorted(dup))}")
        return self

    @property
    def resolved_project_id(self) -> str:
        if self.project_id:
            return self.project_id
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower()[:48]
        return slug or "project"

    def question(self, question_id: str):
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def version(self) -> str:
        """Short content hash: labels record which spec they answered."""
        # how bundles travel is not what was asked: a project made confidential keeps its version
        raw = json.dumps(self.model_dump(mode="json", exclude={"confidential"}), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:12]


def parse_spec(data: dict, source: str = "spec") -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as err:
        raise SpecError(f"{source}: {describe_validation(err)}") from None


def load_spec_file(path) -> Spec:
    """Read a spec from TOML (.toml) or JSON."""
    from pathlib import Path

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SpecError(f"{path}: cannot read ({err.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not valid UTF-8") from None
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON (name it .toml for TOML)"
        raise SpecError(f"{path}: not a valid spec in {kind}: {err}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a spec is a table of settings")
    return parse_spec(data, source=path.name)
