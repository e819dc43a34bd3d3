"""What each question mode does with keys and how its screen state becomes an answer."""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from annotary.core.errors import LabelError
from annotary.core.items import Item, criteria_for
from annotary.core.labels import (
    Answer,
    CategoricalAnswer,
    CategoricalChoice,
    DemonstrationAnswer,
    PairwiseAnswer,
    RankingAnswer,
    RubricAnswer,
    ScoringAnswer,
    pairwise_from_screen,
    rubric_score,
    screen_from_pairwise,
)
from annotary.core.spec import (
    CategoricalQuestion,
    DemonstrationQuestion,
    PairwiseQuestion,
    RankingQuestion,
    RubricQuestion,
    ScoringQuestion,
)

PAIRWISE_KEYS = {"binary": ("A", "B"), "tie": ("A", "B", "tie"),
                 "fourway": ("A", "B", "tie", "both_bad"), "strength": ()}

# CJK scripts write words without spaces: each character counts as a word there
WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
                   r"|[^\s\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


def word_count(text: str) -> int:
    return len(WORDS.findall(text))


# A value is the screen state of one question's answer: plain JSON, so drafts can store it.
Value = dict[str, Any] | None


def named(q) -> str:
    """A question as the expert knows it: its own words (the first sentence, kept short), never
    its internal id."""
    text = " ".join(q.text.split())
    cut = re.search(r"[?.!:](\s|$)", text)
    if cut and cut.end() >= 12:
        text = text[:cut.end()].strip()
    if len(text) > 60:
        text = text[:57].rsplit(" ", 1)[0] + "…"
    return f"“{text}”"


def letter(position: int) -> str:
    return chr(ord("A") + position)


class Mode:
    """Default behaviour; each mode overrides what it needs."""

    def empty(self, q, item: Item, shown: list[str]) -> Value:
        return None

    def problems(self, q, value: Value, item: Item, shown: list[str]) -> list[str]:
        """What is still missing before this answer is complete (empty = complete)."""
        return [] if value else ["choose an answer"]

    def started(self, value: Value) -> bool:
        return bool(value)

    def to_answer(self, q, value: Value, item: Item, shown: list[str]):
        raise NotImplementedError

    def from_answer(self, q, answer, item: Item, shown: list[str]) -> Value:
        raise NotImplementedError


class Pairwise(Mode):
    def problems(self, q, value, item, shown):
        return [] if value else ["choose an answer"]

    def to_answer(self, q: PairwiseQuestion, value, item, shown):
        return pairwise_from_screen(q, shown, item, key=value.get("key"), point=value.get("point"))

    def from_answer(self, q, answer: PairwiseAnswer, item, shown):
        key, point = screen_from_pairwise(q, shown, item, answer)
        return {"point": point} if point is not None else {"key": key}

    @staticmethod
    def choose(q: PairwiseQuestion, key: str) -> Value:
        if key not in PAIRWISE_KEYS[q.scale]:
            allowed = ", ".join(PAIRWISE_KEYS[q.scale]) or f"the digits 1 to {q.points}"
            raise LabelError(f"{named(q)}: {key!r} is not an answer here (use {allowed})")
        return {"key": key}

    @staticmethod
    def point(q: PairwiseQuestion, n: int) -> Value:
        if q.scale != "strength":
            raise LabelError(f"{named(q)}: digits pick a point of a strength scale; use the letters")
        if not 1 <= n <= q.points:
            raise LabelError(f"{named(q)}: the scale has points 1 to {q.points}")
        return {"point": n}


class Ranking(Mode):
    """order: groups of response ids, best first (a group of several is a tie)."""

    def empty(self, q, item, shown):
        return {"order": [], "tie_next": False, "all_unacceptable": False}

    def started(self, value):
        return bool(value and (value["order"] or value["all_unacceptable"]))

    @staticmethod
    def need(q: RankingQuestion, item: Item) -> int:
        return min(q.top_k or len(item.responses), len(item.responses))

    def problems(self, q, value, item, shown):
        if value["all_unacceptable"] and not value["order"]:
            return []
        ranked = sum(len(g) for g in value["order"])
        need = self.need(q, item)
        if ranked < need:
            return [f"rank {need - ranked} more response{'s' if need - ranked > 1 else ''}"]
        return []

    def to_answer(self, q, value, item, shown):
        return RankingAnswer(order=[list(g) for g in value["order"]],
                             all_unacceptable=value["all_unacceptable"])

    def from_answer(self, q, answer: RankingAnswer, item, shown):
        return {"order": [list(g) for g in answer.order], "tie_next": False,
                "all_unacceptable": answer.all_unacceptable}

    def press(self, q: RankingQuestion, value, item: Item, shown: list[str], n: int) -> Value:
        if not 1 <= n <= len(shown):
            raise LabelError(f"{named(q)}: there are responses 1 to {len(shown)}")
        rid = shown[n - 1]
        order = [list(g) for g in value["order"]]
        if any(rid in g for g in order):
            raise LabelError(f"{named(q)}: response {n} is already ranked (Backspace takes back the last)")
        if sum(len(g) for g in order) >= self.need(q, item):
            raise LabelError(f"{named(q)}: only the best {self.need(q, item)} are ranked here")
        if value["tie_next"] and order:
            order[-1].append(rid)
        else:
            order.append([rid])
        return {**value, "order": order, "tie_next": False}

    def tie(self, q: RankingQuestion, value) -> Value:
        if not q.allow_ties:
            raise LabelError(f"{named(q)}: this ranking does not allow ties")
        if not value["order"]:
            raise LabelError(f"{named(q)}: rank a response first, then '=' ties the next one with it")
        return {**value, "tie_next": True}

    def backspace(self, q, value) -> Value:
        if value["tie_next"]:
            return {**value, "tie_next": False}
        order = [list(g) for g in value["order"]]
        if not order:
            raise LabelError(f"{named(q)}: nothing ranked yet")
        order[-1].pop()
        if not order[-1]:
            order.pop()
        return {**value, "order": order}

    @staticmethod
    def rank_of(value, rid: str) -> int | None:
        """1-based rank shown on a badge (tied responses share one)."""
        place = 1
        for group in value["order"]:
            if rid in group:
                return place
            place += len(group)
        return None


class Scoring(Mode):
    """scores: response id -> axis id -> value."""

    def empty(self, q, item, shown):
        return {"scores": {}}

    def started(self, value):
        return bool(value and any(value["scores"].values()))

    def problems(self, q: ScoringQuestion, value, item, shown):
        out = []
        for pos, rid in enumerate(shown):
            missing = [ax.name for ax in q.axes if ax.required and ax.id not in value["scores"].get(rid, {})]
            if missing:
                out.append(f"response {letter(pos)}: {', '.join(missing)}")
        return out

    def to_answer(self, q, value, item, shown):
        return ScoringAnswer(scores={rid: dict(v) for rid, v in value["scores"].items() if v})

    def from_answer(self, q, answer: ScoringAnswer, item, shown):
        return {"scores": {rid: dict(v) for rid, v in answer.scores.items()}}

    @staticmethod
    def score(q: ScoringQuestion, value, rid: str, axis_index: int, n: int) -> Value:
        axis = q.axes[axis_index]
        allowed = [p.value for p in axis.scale]
        if n not in allowed:
            raise LabelError(f"{named(q)}: {axis.name} takes {min(allowed)} to {max(allowed)}")
        scores = {r: dict(v) for r, v in value["scores"].items()}
        scores.setdefault(rid, {})[axis.id] = n
        return {"scores": scores}

    @staticmethod
    def clear(q: ScoringQuestion, value, rid: str, axis_index: int) -> Value:
        scores = {r: dict(v) for r, v in value["scores"].items()}
        scores.get(rid, {}).pop(q.axes[axis_index].id, None)
        return {"scores": scores}


class Rubric(Mode):
    """marks: criterion id -> met / not_met / partly."""

    def empty(self, q, item, shown):
        return {"marks": {}}

    def started(self, value):
        return bool(value and value["marks"])

    def problems(self, q: RubricQuestion, value, item, shown):
        left = [c for c in criteria_for(q, item) if c.required and c.id not in value["marks"]]
        if left:
            return [f"decide {len(left)} more criteri{'a' if len(left) > 1 else 'on'}"]
        return []

    def to_answer(self, q, value, item, shown):
        return RubricAnswer(marks=dict(value["marks"]))

    def from_answer(self, q, answer: RubricAnswer, item, shown):
        return {"marks": dict(answer.marks)}

    @staticmethod
    def mark(q: RubricQuestion, value, cid: str, mark: str | None) -> Value:
        if mark == "partly" and not q.allow_partial:
            raise LabelError(f"{named(q)}: this rubric has no 'partly'")
        marks = dict(value["marks"])
        if mark is None:
            marks.pop(cid, None)
        else:
            marks[cid] = mark
        return {"marks": marks}

    @staticmethod
    def toggled(q: RubricQuestion, current: str | None) -> str:
        cycle = ["met", "partly", "not_met"] if q.allow_partial else ["met", "not_met"]
        return cycle[0] if current not in cycle else cycle[(cycle.index(current) + 1) % len(cycle)]

    @staticmethod
    def score(q, value, item):
        return rubric_score(criteria_for(q, item), value["marks"])


class Demonstration(Mode):
    """text: the response written; draft: the model draft it started from (if any)."""

    def empty(self, q: DemonstrationQuestion, item, shown):
        draft = item.responses[0].text if q.edit_draft and item.responses else None
        return {"text": draft or "", "draft": draft}

    def started(self, value):
        return bool(value and value["text"] != (value.get("draft") or ""))

    def problems(self, q: DemonstrationQuestion, value, item, shown):
        words = word_count(value["text"])
        if not words:
            return ["write the response"]
        if words < q.min_words:
            return [f"write at least {q.min_words} words ({words} so far)"]
        return []

    def to_answer(self, q, value, item, shown):
        return DemonstrationAnswer(text=value["text"], draft=value.get("draft"))

    def from_answer(self, q, answer: DemonstrationAnswer, item, shown):
        return {"text": answer.text, "draft": answer.draft}


# Keys of a categorical question's entries: 1-9, then letters. E and R stay with the item's
# commands (edit, rationale); 0 is "None of these" in multi-choice.
CATEGORY_KEYS = tuple("123456789ABCDFGHIJKLMNOPQSTUVWXYZ")
NONE_KEY = "0"
OTHER, NONE = "\x00other", "\x00none"  # the entries that are not categories
FILTER_FROM = 10  # lists this long get a filter box


class Categorical(Mode):
    """units: unit -> {"picked": [names], "other": text or None, "none": bool}; the unit is ""
    for a question asked of the item, a response id for one asked of each response."""

    @staticmethod
    def units(q: CategoricalQuestion, shown: list[str]) -> list[str]:
        return list(shown) if q.target == "response" else [""]

    @staticmethod
    def blank() -> dict:
        return {"picked": [], "other": None, "none": False}

    def empty(self, q, item, shown):
        return {"units": {}}

    def started(self, value):
        return bool(value and any(self.answered(u) or u["other"] is not None
                                  for u in value["units"].values()))

    @staticmethod
    def answered(unit: dict | None) -> bool:
        if not unit:
            return False
        return bool(unit["picked"] or unit["none"] or (unit["other"] or "").strip())

    def unit_problem(self, q, unit: dict | None) -> str | None:
        if unit and unit["other"] is not None and not unit["other"].strip():
            return "write what 'Other' is"
        if not self.answered(unit):
            return "pick a category" if not q.multiple else "pick categories (0: none of these)"
        return None

    def problems(self, q: CategoricalQuestion, value, item, shown):
        out = []
        for pos, unit in enumerate(self.units(q, shown)):
            problem = self.unit_problem(q, value["units"].get(unit))
            if problem:
                out.append(f"response {letter(pos)}: {problem}" if unit else problem)
        return out

    @staticmethod
    def _choice(q, unit: dict) -> CategoricalChoice:
        picked = set(unit["picked"])
        other = unit["other"].strip() if unit["other"] is not None else None
        return CategoricalChoice(categories=[n for n in q.names() if n in picked], other=other)

    def to_answer(self, q: CategoricalQuestion, value, item, shown):
        if q.target == "response":
            return CategoricalAnswer(responses={rid: self._choice(q, value["units"][rid])
                                                for rid in item_ids(item) if rid in value["units"]})
        choice = self._choice(q, value["units"].get("", self.blank()))
        return CategoricalAnswer(categories=choice.categories, other=choice.other)

    def from_answer(self, q, answer: CategoricalAnswer, item, shown):
        units = {}
        for unit, choice in answer.choices().items():
            units[unit or ""] = {"picked": list(choice.categories), "other": choice.other,
                                 "none": q.multiple and not choice.categories and choice.other is None}
        return {"units": units}

    @staticmethod
    def entries(q: CategoricalQuestion) -> list[str]:
        """What the cursor moves over: the category names, then Other and None of these."""
        out = q.names()
        if q.other:
            out.append(OTHER)
        if q.multiple:
            out.append(NONE)
        return out

    @classmethod
    def keys(cls, q: CategoricalQuestion) -> dict[str, str]:
        """Entry -> its key, as shown on the buttons (a list past 32 leaves the rest keyless)."""
        out = {}
        free = iter(CATEGORY_KEYS)
        for entry in cls.entries(q):
            if entry == NONE:
                out[entry] = NONE_KEY
            else:
                key = next(free, None)
                if key is not None:
                    out[entry] = key
        return out

    @classmethod
    def entry_for_key(cls, q: CategoricalQuestion, key: str) -> str:
        key = key.upper()
        for entry, k in cls.keys(q).items():
            if k == key:
                return entry
        if key == NONE_KEY:
            raise LabelError(f"{named(q)}: pick one category; 0 (none of these) is for multi-choice")
        raise LabelError(f"{named(q)}: no category has the key {key}")

    @staticmethod
    def matches(q: CategoricalQuestion, text: str) -> list[str]:
        """Entries a filter text keeps: categories whose name or description holds every word
        typed; Other and None of these always stay."""
        words = text.casefold().split()
        kept = [c.name for c in q.categories
                if all(w in f"{c.name} {c.description}".casefold() for w in words)]
        return kept + [e for e in Categorical.entries(q) if e in (OTHER, NONE)]

    def pick(self, q: CategoricalQuestion, value, unit: str, entry: str) -> Value:
        """The value after choosing an entry: single choice replaces, multi-choice toggles."""
        units = {u: {**v, "picked": list(v["picked"])} for u, v in value["units"].items()}
        cur = units.get(unit) or self.blank()
        if entry == NONE:
            if not q.multiple:
                raise LabelError(f"{named(q)}: pick one category; 'none of these' is for multi-choice")
            cur = {**self.blank(), "none": not cur["none"]}
        elif entry == OTHER:
            if not q.other:
                raise LabelError(f"{named(q)}: this question offers no 'Other'")
            if q.multiple:
                cur = {**cur, "none": False, "other": None if cur["other"] is not None else ""}
            else:
                cur = {**self.blank(), "other": cur["other"] or ""}
        else:
            if entry not in q.names():
                raise LabelError(f"{named(q)}: {entry!r} is not a category here")
            if q.multiple:
                picked = cur["picked"]
                picked = [p for p in picked if p != entry] if entry in picked else [*picked, entry]
                cur = {**cur, "picked": picked, "none": False}
            else:
                cur = {**self.blank(), "picked": [entry]}
        units[unit] = cur
        return {"units": units}

    @staticmethod
    def with_other_text(value, unit: str, text: str) -> Value:
        units = dict(value["units"])
        units[unit] = {**(units.get(unit) or Categorical.blank()), "other": text}
        return {"units": units}

    @staticmethod
    def label(entry: str) -> str:
        return {OTHER: "Other…", NONE: "None of these"}.get(entry, entry)


def item_ids(item: Item) -> list[str]:
    return [r.id for r in item.responses]


def choice_text(choice) -> str:
    """A categorical choice in words: the categories, then Other's text; none of these."""
    parts = list(choice.categories)
    if choice.other is not None:
        parts.append(f"Other: {choice.other}")
    return ", ".join(parts) or "none of these"


MODES: dict[str, Mode] = {
    "pairwise": Pairwise(), "ranking": Ranking(), "scoring": Scoring(),
    "rubric": Rubric(), "demonstration": Demonstration(), "categorical": Categorical(),
}


_ANSWER = TypeAdapter(Answer)


def parse_answer(data) -> object:
    """An answer from its JSON form (as stored in an item's gold)."""
    try:
        return _ANSWER.validate_python(data)
    except ValidationError as err:
        raise ValueError(str(err)) from None


def describe(q, answer, item: Item, shown: list[str]) -> str:
    """An answer in the words of the screen the annotator saw (A = left response)."""
    pos = {rid: letter(i) for i, rid in enumerate(shown)}
    if isinstance(answer, PairwiseAnswer):
        key, point = screen_from_pairwise(q, shown, item, answer)
        if point is not None:
            return f"point {point} ({q.strength_labels()[point - 1]})"
        return {"A": "A is better", "B": "B is better", "tie": "tie", "both_bad": "both bad"}[key]
    if isinstance(answer, RankingAnswer):
        text = " > ".join(" = ".join(pos.get(r, r) for r in g) for g in answer.order)
        return (text + " (all unacceptable)") if answer.all_unacceptable else text
    if isinstance(answer, ScoringAnswer):
        names = {a.id: a.name for a in q.axes}
        return "; ".join(f"{pos.get(rid, rid)}: " + ", ".join(f"{names.get(k, k)} {v}" for k, v in axes.items())
                         for rid, axes in answer.scores.items())
    if isinstance(answer, RubricAnswer):
        earned, positive, _ = rubric_score(criteria_for(q, item), answer.marks)
        return f"{earned} of {positive} points"
    if isinstance(answer, DemonstrationAnswer):
        words = answer.text.split()
        return " ".join(words[:30]) + (" …" if len(words) > 30 else "")
    if isinstance(answer, CategoricalAnswer):
        choices = sorted(answer.choices().items(), key=lambda kv: pos.get(kv[0], "~"))
        return "; ".join((f"{pos.get(unit, unit)}: " if unit else "") + choice_text(choice)
                         for unit, choice in choices)
    return str(answer)
