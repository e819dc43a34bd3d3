"""What triage reads from a project: people's and raters' answers per item, reduced to comparable parts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from annotary.analysis.competence import dawid_skene, posterior_of
from annotary.analysis.consensus import EPS
from annotary.analysis.triage import (
    TRIAGE_MODES,
    Parts,
    answer_parts,
    competence_reason,
    majority_parts,
    triage_reason,
)
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


def questions_of(info: ProjectInfo, modes: tuple[str, ...], refusal: str) -> list[str]:
    """The spec's questions of these modes; AnnotaryError(refusal) if it has none."""
    found = [q.id for q in info.spec.questions if q.mode in modes]
    if not found:
        raise AnnotaryError(refusal)
    return found


def triage_questions(info: ProjectInfo) -> list[str]:
    return questions_of(info, TRIAGE_MODES, "triage compares categorical or ordinal answers (pairwise, ranking, "
                                            "scoring, rubric); this spec has none")


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


# --- competence-guided routing --------------------------------------------------------------------

COMPETENCE_MODES = ("pairwise", "scoring", "rubric")  # a ranking's top choice names other responses per item
MIN_SHARED = 5  # items a person shares with another before their competence is estimated
DEFAULT_MIN_POSTERIOR = 0.9


@dataclass
class Fit:
    """A Dawid–Skene fit of one variable (a question's choice, axis or criterion)."""

    confusion: np.ndarray
    prior: np.ndarray
    raters: dict[str, int]  # person -> row of the confusion matrices
    categories: dict  # value -> class index
    ordinal: bool


Variable = tuple[str, str]  # (question, part name): "choice", a scoring axis, a rubric criterion


def _variable(qid: str, key: tuple) -> tuple[Variable, tuple]:
    """The variable of an answer part and the rest of its key (a scoring axis's response)."""
    return (qid, str(key[-1])), tuple(key[:-1])


def competence_questions(info: ProjectInfo) -> list[str]:
    return questions_of(info, COMPETENCE_MODES, "competence routing weighs pairwise, scoring or rubric answers "
                                                "with Dawid–Skene estimates; this spec has none")


def fit_estimates(holdings: Holdings, questions: list[str], items: Iterable[str] | None = None,
                  min_shared: int = MIN_SHARED) -> dict[Variable, Fit]:
    """Dawid–Skene fits per variable from the people's answers on `items` (default all), on the
    units two people or more answered: one person's lone answers would only confirm their own
    estimate. People sharing fewer than `min_shared` units with another have no estimate."""
    values: dict[Variable, dict[tuple, dict[str, object]]] = defaultdict(lambda: defaultdict(dict))
    ordinal: dict[Variable, bool] = {}
    for iid in (holdings.people if items is None else items):
        for person, answers in holdings.people.get(iid, {}).items():
            for q in questions:
                for key, (kind, v) in (answers.get(q) or {}).items():
                    var, rest = _variable(q, key)
                    values[var][(iid, *rest)][person] = v
                    ordinal[var] = kind == "ordinal"
    out = {}
    for var, units in values.items():
        shared = [u for u in units.values() if len(u) >= 2]
        counts = Counter(p for u in shared for p in u)
        who = sorted(p for p, n in counts.items() if n >= min_shared)
        if len(who) < 2:
            continue
        seen = {v for u in units.values() for v in u.values()}
        cats = sorted(seen) if ordinal[var] else sorted(seen, key=repr)
        at = {c: i for i, c in enumerate(cats)}
        rows = [u for u in shared if sum(p in u for p in who) >= 2]
        x = np.full((len(rows), len(who)), np.nan)
        for i, u in enumerate(rows):
            for j, p in enumerate(who):
                if p in u:
                    x[i, j] = at[u[p]]
        fit = dawid_skene(x, len(cats))
        out[var] = Fit(fit.confusion, fit.prior, {p: j for j, p in enumerate(who)}, at, ordinal[var])
    return out


def answer_posterior(fits: dict[Variable, Fit], holdings: Holdings, iid: str, people: list[str],
                     questions: list[str], tolerance: float = 0.0) -> float | None:
    """The Dawid–Skene probability that the people's current answer on an item is right: per
    part, the posterior mass of their majority value (scores: within `tolerance` points), from
    the answers of `people` alone; the weakest part. None: no part has an estimate."""
    mine = holdings.people.get(iid, {})
    weakest = None
    for q in questions:
        given = [(p, mine[p][q]) for p in people if mine.get(p, {}).get(q)]
        if not given:
            continue
        current = majority_parts([parts for _, parts in given], tolerance)
        for key, value in current.items():
            fit = fits.get(_variable(q, key)[0])
            if fit is None or value is None:
                continue
            ratings = [(fit.raters[p], fit.categories[parts[key][1]]) for p, parts in given
                       if key in parts and p in fit.raters and parts[key][1] in fit.categories]
            if not ratings:
                continue
            post = posterior_of(fit.confusion, fit.prior, ratings)
            if fit.ordinal:
                mass = sum(post[i] for c, i in fit.categories.items() if abs(c - value) <= tolerance + EPS)
            else:
                mass = post[fit.categories[value]] if value in fit.categories else 0.0
            weakest = float(mass) if weakest is None else min(weakest, float(mass))
    return weakest


def competence_item_reason(fits: dict[Variable, Fit], holdings: Holdings, iid: str, people: list[str],
                           questions: list[str], *, min_posterior: float, tolerance: float,
                           cap: int) -> tuple[bool, str]:
    """competence_reason for one item and the given people."""
    mine = holdings.people.get(iid, {})
    posterior = answer_posterior(fits, holdings, iid, people, questions, tolerance)
    return competence_reason([{q: mine.get(p, {}).get(q) for q in questions} for p in people], posterior,
                             questions=questions, min_posterior=min_posterior, tolerance=tolerance, cap=cap)
