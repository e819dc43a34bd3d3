"""What triage reads from a project: people's and raters' answers per item, reduced to comparable parts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from annotary.analysis.triage import TRIAGE_MODES, Parts, answer_parts, triage_reason
from annotary.core.errors import AnnotaryError
from annotary.ops.project import ProjectInfo, item_skeletons
from annotary.ops.quality import load_raters, load_ratings
from annotary.store import Store


@dataclass
class Holdings:
    """The current labels of a project's normal items, as triage compares them."""

    questions: list[str]  # the questions with a categorical or ordinal answer
    kinds: dict[str, str]  # item -> kind, in the project's order
    people: dict[str, dict[str, dict[str, Parts | None]]]  # item -> person -> question -> parts
    raters: dict[str, dict[str, dict[str, tuple[Parts | None, int | None]]]]  # rater -> item -> question -> (parts, confidence)
    names: dict[str, str]  # rater id -> name
    machines: list[str]  # non-human raters, in the order they were added
    scales: dict[str, int] = field(default_factory=dict)  # question -> confidence scale

    def rater_view(self, rater: str, iid: str, min_confidence: float | None
                   ) -> tuple[dict[str, Parts | None], set[str]]:
        """A rater's answers on an item by question, and the questions where it is below
        `min_confidence` (a probability, compared on the question's confidence scale, where the
        rater's imported probability was put; a label without a confidence is never below)."""
        given = self.raters.get(rater, {}).get(iid, {})
        answers = {q: p for q, (p, _) in given.items()}
        unsure = set()
        if min_confidence is not None:
            for q, (_, conf) in given.items():
                scale = self.scales.get(q, 5)
                if conf is not None and conf < 1 + round(min_confidence * (scale - 1)):
                    unsure.add(q)
        return answers, unsure


def triage_questions(info: ProjectInfo) -> list[str]:
    found = [q.id for q in info.spec.questions if q.mode in TRIAGE_MODES]
    if not found:
        raise AnnotaryError("triage compares categorical or ordinal answers (pairwise, ranking, scoring, "
                            "rubric); this spec has none")
    return found


def load_holdings(store: Store, info: ProjectInfo) -> Holdings:
    questions = triage_questions(info)
    asked = set(questions)
    items = item_skeletons(store, info.id)
    raters = load_raters(store, info.id)
    people: dict[str, dict[str, dict[str, Parts | None]]] = defaultdict(lambda: defaultdict(dict))
    machine: dict[str, dict] = {m: defaultdict(dict) for m in sorted(raters.machines)}
    parsed: dict[int, Parts | None] = {}
    for r in load_ratings(store, info.id):
        item = items.get(r.item_id)
        if item is None or item.kind != "normal":
            continue
        answer = r.answer
        key = id(answer)  # equal answers share one dict (load_ratings): parse each once
        if key not in parsed:
            parsed[key] = answer_parts(answer)
        parts = parsed[key] if r.question_id in asked else None
        if r.annotator in raters.machines:
            if r.question_id in asked:
                machine[r.annotator][r.item_id][r.question_id] = (parts, r.confidence)
        else:
            people[r.item_id][r.annotator][r.question_id] = parts
    order = [r[0] for r in store.query("SELECT id FROM raters WHERE project_id=? AND human=0 ORDER BY rowid",
                                       (info.id,))]
    return Holdings(questions, {iid: it.kind for iid, it in items.items()}, people, machine, raters.names,
                    order, {q.id: q.confidence_scale for q in info.spec.questions})


def resolve_rater(holdings: Holdings, name: str) -> str:
    """A non-human rater's id from its name or id ("gpt35" or "rater:gpt35")."""
    for rid in holdings.machines:
        if name in (rid, holdings.names.get(rid)):
            return rid
    known = ", ".join(holdings.names.get(r, r) for r in holdings.machines)
    raise AnnotaryError(f"no non-human rater {name!r} in this project" + (
        f" (raters: {known})" if known else "; import its labels with `annotary labels import --rater`"))


def item_reason(holdings: Holdings, iid: str, people: list[str], rater: str, *, min_confidence: float | None,
                tolerance: float, cap: int) -> tuple[bool, str]:
    """triage_reason for one item and the given people (in the order they were asked)."""
    answers, unsure = holdings.rater_view(rater, iid, min_confidence)
    mine = holdings.people.get(iid, {})
    return triage_reason([mine.get(p, {}) for p in people], answers, unsure, questions=holdings.questions,
                         rater_name=holdings.names.get(rater, rater), min_confidence=min_confidence,
                         tolerance=tolerance, cap=cap)
