"""How good a project's labels are: agreement, consensus, competence, gold, position bias, time, cost, progress.

Everything returns plain dataclasses (figures as floats, None where the data cannot define
them) for the CLI, the dashboard and the CSV export. Only human labels count toward agreement
and consensus; non-human raters (LLM judges, reward models) are compared with the humans apart.
Agreement and consensus are computed on normal items: gold items measure accuracy, calibration
items are training.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from annotary.analysis.agreement import (
    band,
    cohen_kappa,
    fleiss_from_matrix,
    kendall_w,
    krippendorff_alpha,
    mean_kendall_tau,
    pairwise_cohen,
    percent_agreement,
)
from annotary.analysis.arrays import is_missing
from annotary.analysis.competence import dawid_skene
from annotary.analysis.consensus import EPS, borda, majority, mean_interval, median_ordinal
from annotary.core.errors import AnnotaryError
from annotary.core.items import Item, criteria_for
from annotary.core.labels import rubric_score
from annotary.core.spec import PairwiseQuestion, RubricQuestion, ScoringQuestion, Spec
from annotary.ops.project import ANSWER, item_skeletons, project_info
from annotary.store import Store

PAIRWISE_CHOICES = {"binary": ["A", "B"], "tie": ["A", "B", "tie"],
                    "fourway": ["A", "B", "tie", "both_bad"]}
MARKS = ["not_met", "partly", "met"]
ITEM_CRITERIA = "item-criteria"  # per-item rubric criteria, pooled: their ids mean nothing across items


@dataclass(frozen=True)
class Options:
    min_share: float = 0.5  # share the top categorical answer needs (a tie never agrees)
    ordinal_tolerance: float = 1.0  # scale points from the median that still agree
    interval_tolerance: float = 0.1  # on a rubric score (0..1)
    weak_support: float = 0.75  # below it an adaptive round asks one more annotator
    weighted: bool = False  # weight categorical consensus by Dawid-Skene reliability


# --- loading ------------------------------------------------------------------------------------

class Rating(NamedTuple):
    """The current revision of one annotator's label, reduced to what the figures need (a named
    tuple: a large project has hundreds of thousands, and a tuple is made in a fraction of the
    time a frozen dataclass takes)."""

    annotator: str
    item_id: str
    question_id: str
    revision: int
    answer: dict | None  # shared between equal answers: never change it
    shown_first: str | None  # the response shown on the left (as "A")
    confidence: int | None
    guidelines_version: str


# max() makes SQLite take the bare columns from the row of the newest revision; the verdict
# ([answer, guidelines version]), the facts ([shown first, confidence]) and the grouping come
# from the index, in its order (migration 0006)
CURRENT_ALL = """
    SELECT annotator, item_id, question_id, max(revision), verdict, facts FROM labels INDEXED BY labels_current
    WHERE project_id=? AND retracted=0 GROUP BY annotator, item_id, question_id
"""


# where no label has a second revision, every label is current: no grouping (which takes
# SQLite longer than the scan)
FIRST_ALL = """
    SELECT annotator, item_id, question_id, revision, verdict, facts FROM labels INDEXED BY labels_current
    WHERE project_id=? AND retracted=0
"""
REVISED = "SELECT 1 FROM labels WHERE project_id=? AND retracted=0 AND revision > 1 LIMIT 1"


def load_ratings(store: Store, project_id: str) -> list[Rating]:
    parsed: dict[tuple, tuple] = {}  # few distinct (answer, version, shown first, confidence): parse each once
    out = []
    make = Rating._make
    current = CURRENT_ALL if store.one(REVISED, (project_id,)) else FIRST_ALL
    for who, iid, qid, revision, verdict, facts in store.tuples(current, (project_id,)):
        found = parsed.get((verdict, facts))
        if found is None:
            (answer, version), (first, confidence) = json.loads(verdict), json.loads(facts)
            found = parsed[(verdict, facts)] = (answer, first, confidence, version or "")
        out.append(make((who, iid, qid, revision, *found)))
    return out


@dataclass(frozen=True)
class Raters:
    """Who is who: roster people, outside humans (imported labels) and non-human raters."""

    names: dict[str, str]
    machines: frozenset[str]
    roster: frozenset[str]
    rates: dict[str, float | None]


def load_raters(store: Store, project_id: str) -> Raters:
    names, rates = {}, {}
    for r in store.query("SELECT key_id, name, rate_per_hour FROM roster WHERE project_id=?"
                         " ORDER BY rowid", (project_id,)):
        names[r[0]], rates[r[0]] = r[1], r[2]
    machines = set()
    for r in store.query("SELECT id, name, human FROM raters WHERE project_id=? ORDER BY rowid",
                         (project_id,)):
        names[r[0]] = r[1]
        if not r[2]:
            machines.add(r[0])
    return Raters(names, frozenset(machines), frozenset(rates), rates)


# --- variables: what one question asks, as units x raters data ----------------------------------

@dataclass
class Variable:
    """One rated quantity of a question (its choice, a scoring axis, a rubric criterion ...)."""

    question_id: str
    name: str
    level: str  # nominal, ordinal, interval or ranking
    categories: list = field(default_factory=list)  # in scale order; codes are positions
    values: dict[str, dict[tuple, Any]] = field(default_factory=lambda: defaultdict(dict))
    responses: dict[str, list[str]] = field(default_factory=dict)  # ranking: item -> response ids
    unacceptable: dict[str, set[str]] = field(default_factory=dict)  # ranking: item -> who found none acceptable

    @property
    def key(self) -> str:
        return f"{self.question_id}.{self.name}"


def declare_variables(spec: Spec, question: str | None = None) -> dict[tuple[str, str], Variable]:
    out: dict[tuple[str, str], Variable] = {}

    def add(q, name, level, categories=()):
        out[(q.id, name)] = Variable(q.id, name, level, list(categories))

    for q in spec.questions:
        if question is not None and q.id != question:
            continue
        if q.mode == "pairwise":
            if q.scale == "strength":
                add(q, "strength", "ordinal", range(1, q.points + 1))
            else:
                add(q, "choice", "nominal", PAIRWISE_CHOICES[q.scale])
        elif q.mode == "ranking":
            add(q, "order", "ranking")
        elif q.mode == "scoring":
            for ax in q.axes:
                add(q, ax.id, "ordinal", sorted(p.value for p in ax.scale))
        elif q.mode == "rubric":
            for c in q.criteria:
                add(q, c.id, "nominal", MARKS if q.allow_partial else ["not_met", "met"])
            if q.per_item:
                add(q, ITEM_CRITERIA, "nominal", MARKS if q.allow_partial else ["not_met", "met"])
            add(q, "score", "interval")
    return out


def build_variables(spec: Spec, items: dict[str, Item], ratings: Iterable[Rating],
                    question: str | None = None) -> list[Variable]:
    found = declare_variables(spec, question)
    questions = {q.id: q for q in spec.questions}
    for r in ratings:
        q = questions.get(r.question_id)
        item = items.get(r.item_id)
        a = r.answer
        if q is None or item is None or a is None or a.get("mode") != q.mode:
            continue
        if question is not None and q.id != question:
            continue
        who, iid = r.annotator, r.item_id
        if isinstance(q, PairwiseQuestion):
            name = "strength" if q.scale == "strength" else "choice"
            found[(q.id, name)].values[who][(iid,)] = a.get(name)
        elif q.mode == "ranking":
            var = found[(q.id, "order")]
            var.values[who][(iid,)] = a["order"]
            var.responses[iid] = [x.id for x in item.responses]
            if a.get("all_unacceptable"):
                var.unacceptable.setdefault(iid, set()).add(who)
        elif isinstance(q, ScoringQuestion):
            for rid, axes in a["scores"].items():
                for axis, v in axes.items():
                    if (q.id, axis) in found:
                        found[(q.id, axis)].values[who][(iid, rid)] = v
        elif isinstance(q, RubricQuestion):
            crits = criteria_for(q, item)
            own = {c.id for c in q.criteria}
            for c in crits:
                mark = a["marks"].get(c.id)
                if mark is not None:
                    key = (q.id, c.id) if c.id in own else (q.id, ITEM_CRITERIA)
                    unit = (iid,) if c.id in own else (iid, c.id)
                    found[key].values[who][unit] = mark
            score = rubric_score(crits, a["marks"])[2]
            if score is not None:
                found[(q.id, "score")].values[who][(iid,)] = score
    return list(found.values())


def _matrix(var: Variable, raters: list[str]) -> tuple[list[tuple], np.ndarray]:
    """Units (sorted) x raters: category positions, or the numbers of an interval variable; nan = not rated."""
    units = sorted({u for a in raters for u in var.values.get(a, {})})
    at = {u: i for i, u in enumerate(units)}
    code = (lambda v: float(v)) if var.level == "interval" else \
        {c: float(i) for i, c in enumerate(var.categories)}.get
    x = np.full((len(units), len(raters)), np.nan)
    for j, a in enumerate(raters):
        rated = var.values.get(a, {})
        if rated:
            x[[at[u] for u in rated], j] = [code(v) for v in rated.values()]
    return units, x


def _canon(order) -> tuple:
    return tuple(tuple(sorted(g)) for g in order if g)


def _same_ranking(a: dict, b: dict) -> bool:
    """Two ranking answers agree: both find no response acceptable, or both rank them alike."""
    rejected = bool(a.get("all_unacceptable"))
    return rejected == bool(b.get("all_unacceptable")) and (rejected or _canon(a["order"]) == _canon(b["order"]))


def _rank_arrays(var: Variable, raters: list[str]) -> list[tuple[list[str], np.ndarray]]:
    """Per number of responses: (items, items x raters x responses array of group positions).

    A response a ranking leaves out is nan, which the rank statistics tie last."""
    items = sorted({u[0] for a in raters for u in var.values.get(a, {})})
    by_k: dict[int, list[str]] = defaultdict(list)
    for iid in items:
        by_k[len(var.responses[iid])].append(iid)
    out = []
    for k, ids in sorted(by_k.items()):
        arr = np.full((len(ids), len(raters), k), np.nan)
        for i, iid in enumerate(ids):
            col = {rid: n for n, rid in enumerate(var.responses[iid])}
            for j, a in enumerate(raters):
                order = var.values.get(a, {}).get((iid,))
                for pos, group in enumerate(order or []):
                    for rid in group:
                        arr[i, j, col[rid]] = pos + 1
        out.append((ids, arr))
    return out


# --- agreement ----------------------------------------------------------------------------------

@dataclass
class PairStat:
    a: str
    b: str
    n: int  # units both rated
    kappa: float | None = None
    kappa_linear: float | None = None
    kappa_quadratic: float | None = None
    tau: float | None = None

    @property
    def value(self) -> float | None:
        """The headline figure of the pair: quadratic kappa on ordinal scales, tau for rankings."""
        for v in (self.tau, self.kappa_quadratic, self.kappa):
            if v is not None:
                return v
        return None


@dataclass
class VariableStats:
    question_id: str
    variable: str
    level: str
    units: int  # rated at least once
    pairable: int  # rated at least twice
    ratings: int
    percent_agreement: float | None = None
    fleiss_kappa: float | None = None
    alpha: float | None = None
    kendall_w: float | None = None
    mean_tau: float | None = None
    band: str = "n/a"
    pairs: list[PairStat] = field(default_factory=list)
    distribution: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.question_id}.{self.variable}"


def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def variable_stats(var: Variable, raters: list[str], *, pairs: bool = True) -> VariableStats:
    if var.level == "ranking":
        return _ranking_stats(var, raters, pairs)
    _, x = _matrix(var, raters)
    s = matrix_stats(var, x)
    if pairs and var.level != "interval":
        cats = list(range(len(var.categories)))
        plain = pairwise_cohen(x, raters, None, cats)
        weighted = {w: pairwise_cohen(x, raters, w, cats) for w in ("linear", "quadratic")} \
            if var.level == "ordinal" else {}
        for (a, b), pk in plain.items():
            p = PairStat(a, b, pk.n, _num(pk.kappa))
            if weighted:
                p.kappa_linear = _num(weighted["linear"][(a, b)].kappa)
                p.kappa_quadratic = _num(weighted["quadratic"][(a, b)].kappa)
            s.pairs.append(p)
    return s


def matrix_stats(var: Variable, x: np.ndarray) -> VariableStats:
    """The figures of a units x raters matrix (_matrix) that do not depend on who rated what:
    each unit's ratings as a set are enough (a row may hold them in any columns)."""
    rated = np.count_nonzero(~np.isnan(x), axis=1)
    s = VariableStats(var.question_id, var.name, var.level, int(np.count_nonzero(rated)),
                      int(np.count_nonzero(rated >= 2)), int(rated.sum()))
    s.alpha = _num(krippendorff_alpha(x, "interval" if var.level == "interval" else var.level))
    s.band = band(s.alpha)
    if var.level == "interval":  # a rubric score: tenths from 0 (or the lowest score) to 1
        scores = x[~np.isnan(x)]
        if scores.size:
            counts, edges = np.histogram(scores, bins=10, range=(min(0.0, float(scores.min())), 1.0))
            s.distribution = {f"{e:.2f}": int(c) for e, c in zip(edges, counts, strict=False)}
        return s
    s.percent_agreement = _num(percent_agreement(x))
    s.fleiss_kappa = _num(fleiss_from_matrix(x))
    counts = np.bincount(x[~np.isnan(x)].astype(int), minlength=len(var.categories))
    s.distribution = {str(c): int(n) for c, n in zip(var.categories, counts, strict=True)}
    return s


def _ranking_stats(var: Variable, raters: list[str], pairs: bool) -> VariableStats:
    arrays = _rank_arrays(var, raters)
    ranked = np.concatenate([~np.all(np.isnan(arr), axis=-1) for _, arr in arrays]) \
        if arrays else np.zeros((0, len(raters)), bool)
    per_unit = ranked.sum(1)
    s = VariableStats(var.question_id, var.name, "ranking", int(np.count_nonzero(per_unit)),
                      int(np.count_nonzero(per_unit >= 2)), int(per_unit.sum()))
    w, tau, positions, same = [], [], [], []
    first: dict[str, int] = defaultdict(int)
    for ids, arr in arrays:
        w.extend(np.atleast_1d(kendall_w(arr)).tolist())
        tau.extend(np.atleast_1d(mean_kendall_tau(arr)).tolist())
        done = ~np.all(np.isnan(arr), axis=-1)  # items x raters
        last = np.where(done[..., None], np.nan_to_num(arr, nan=arr.shape[-1] + 1), np.nan)
        positions.append(last.transpose(0, 2, 1).reshape(-1, len(raters)))  # (item, response) units
        for i, iid in enumerate(ids):
            row = [_canon(var.values.get(a, {}).get((iid,))) if done[i, j] else None
                   for j, a in enumerate(raters)]
            same.append(row)
            for order in filter(None, row):
                for rid in order[0]:
                    first[f"#{var.responses[iid].index(rid) + 1}"] += 1
    s.kendall_w, s.mean_tau = _mean(w), _mean(tau)
    if positions:
        s.alpha = _num(krippendorff_alpha(np.concatenate(positions), "ordinal"))
        kinds = {o: n for n, o in enumerate({o for row in same for o in row if o is not None})}
        codes = [[math.nan if o is None else kinds[o] for o in row] for row in same]
        s.percent_agreement = _num(percent_agreement(codes))
    s.band = band(s.alpha)
    s.distribution = dict(sorted(first.items()))
    if pairs:
        for i in range(len(raters)):
            for j in range(i + 1, len(raters)):
                taus = [np.atleast_1d(mean_kendall_tau(arr[:, [i, j], :])) for _, arr in arrays]
                flat = np.concatenate(taus) if taus else np.array([])
                flat = flat[~np.isnan(flat)]
                s.pairs.append(PairStat(raters[i], raters[j], int(flat.size),
                                        tau=float(flat.mean()) if flat.size else None))
    return s


# --- consensus ----------------------------------------------------------------------------------

@dataclass
class ItemConsensus:
    item_id: str
    question_id: str
    status: str  # agreed, conflict, or single (one rating so far)
    value: dict | None  # answer-shaped, item order; a conflict keeps only agreed axes or criteria
    support: float | None  # the weakest part's share of ratings behind the value
    ratings: int
    score: float | None = None  # rubric: mean score


def _unit(var: Variable, values: list, weights: list | None, opt: Options):
    """(value, support, agreed) of one unit's human ratings (rankings: _ranking_unit)."""
    if var.level == "nominal":
        c = majority(values, opt.min_share, weights)
        return c.value, c.support, c.value is not None
    if var.level == "ordinal":
        c = median_ordinal(values, opt.ordinal_tolerance)
    else:
        c = mean_interval(values, opt.interval_tolerance)
    return c.value, c.support, _enough(c.value, c.support, opt)


def _enough(value, support: float, opt: Options) -> bool:
    # the central value always supports itself, so two ratings reach one half: ask for more
    return value is not None and support > 0.5 + EPS and support >= opt.min_share - EPS


def _ranking_unit(var: Variable, orders: list, who: list[str], opt: Options, item_id: str):
    """(value, support, agreed) of one item's rankings; the value is {"order", "all_unacceptable"}.

    Finding every response unacceptable is decided first, as a yes / no majority: a majority that
    says so is the consensus (ordered by the rankings they gave, if any); otherwise, where most
    rank, the Borda order of their rankings, supported by the smaller of their share and the
    share of pairwise preferences it keeps. Half and half is a conflict."""
    flagged = var.unacceptable.get(item_id, ())
    rejecting = [o for o, a in zip(orders, who, strict=True) if a in flagged]
    share = len(rejecting) / len(orders)
    if _enough(True, share, opt):
        given = [o for o in rejecting if o]
        order = borda(given, var.responses[item_id]).value if given else []
        return {"order": order, "all_unacceptable": True}, share, True
    if rejecting and 1 - share <= 0.5 + EPS:
        return None, max(share, 1 - share), False
    c = borda([o for o, a in zip(orders, who, strict=True) if a not in flagged], var.responses[item_id])
    support = min(c.support, 1 - share)
    value = None if c.value is None else {"order": c.value, "all_unacceptable": False}
    return value, support, _enough(value, support, opt)


def _answer(q, parts: dict[tuple[str, tuple], Any], item: Item) -> dict:
    """The answer-shaped consensus value from its agreed parts (variable name, unit) -> value."""
    if q.mode == "pairwise":
        name = "strength" if q.scale == "strength" else "choice"
        return pairwise_answer(q, parts[(name, (item.id,))], [r.id for r in item.responses[:2]])
    if q.mode == "ranking":
        return {"mode": "ranking", **parts[("order", (item.id,))]}
    if q.mode == "scoring":
        scores: dict[str, dict] = defaultdict(dict)
        for (axis, unit), v in parts.items():
            scores[unit[1]][axis] = v
        return {"mode": "scoring", "scores": dict(scores)}
    marks = {(unit[1] if name == ITEM_CRITERIA else name): v
             for (name, unit), v in parts.items() if name != "score"}
    return {"mode": "rubric", "marks": marks}


def pairwise_answer(q, value, response_ids: list[str]) -> dict:
    """The answer a pairwise consensus value (a choice, or a point of the strength scale) stands for."""
    if q.scale == "strength":
        point = int(value)
        n = q.points
        choice = "tie" if n % 2 and point == (n + 1) // 2 else ("A" if point <= n // 2 else "B")
        out = {"mode": "pairwise", "choice": choice, "strength": point}
    else:
        out = {"mode": "pairwise", "choice": value}
    if out["choice"] in ("A", "B"):
        out["preferred"] = response_ids[0 if out["choice"] == "A" else 1]
    return out


Units = dict[str, dict[tuple, tuple]]  # variable key -> unit -> (value, support, agreed, ratings)


def unit_consensus(variables: list[Variable], humans: list[str], opt: Options,
                   weights: dict[str, dict[str, float]] | None = None) -> Units:
    out: Units = {}
    for var in variables:
        by_unit: dict[tuple, list] = {}
        raters: dict[tuple, list] = {}
        for a in humans:
            for u, v in var.values.get(a, {}).items():
                if u in by_unit:
                    by_unit[u].append(v)
                    raters[u].append(a)
                else:
                    by_unit[u], raters[u] = [v], [a]
        w = (weights or {}).get(var.key) if var.level == "nominal" else None
        found = out[var.key] = {}
        for u, values in by_unit.items():
            if var.level == "ranking":
                found[u] = (*_ranking_unit(var, values, raters[u], opt, u[0]), len(values))
            else:
                found[u] = unit_value(var, values, [w.get(a, 0.0) for a in raters[u]] if w else None, opt)
    return out


def unit_value(var: Variable, values: list, weights: list | None, opt: Options) -> tuple:
    """(value, support, agreed, ratings) of one unit of a categorical or numeric variable, from
    its human ratings in the order of the report's annotators."""
    first = values[0]
    if values.count(first) == len(values) and not is_missing(first) and (weights is None or sum(weights) > 0):
        # identical ratings: what majority, median and mean make of them, without the work
        return (first if var.level == "nominal" else float(first), 1.0, True, len(values))
    return (*_unit(var, values, weights, opt), len(values))


def consensus(spec: Spec, items: dict[str, Item], variables: list[Variable],
              units: Units) -> list[ItemConsensus]:
    """Per item and question: the consensus answer, or a conflict (free text has none: a reviewer decides)."""
    found: dict[tuple[str, str], dict] = {}  # (item, question) -> parts
    for var in variables:
        name, qid = var.name, var.question_id
        for u, part in units[var.key].items():
            key = (u[0], qid)
            if key in found:
                found[key][(name, u)] = part
            else:
                found[key] = {(name, u): part}
    out = []
    for iid, item in items.items():  # in the items' and questions' order
        for q in spec.questions:
            parts = found.get((iid, q.id))
            if parts is None:
                continue
            if q.mode in ("pairwise", "ranking"):  # one variable, no partial answer: the common case
                ((part_key, (value, support, ok, n)),) = parts.items()
                status = "single" if n < 2 else "agreed" if ok else "conflict"
                value = _answer(q, {part_key: value}, item) if status != "conflict" else None
                out.append(ItemConsensus(iid, q.id, status, value, support, n))
                continue
            n = max(p[3] for p in parts.values())
            score = parts.get(("score", (iid,)))
            judged = {k: p for k, p in parts.items() if k[0] != "score"} or parts
            support = min(p[1] for p in judged.values())
            status = "single" if n < 2 else "agreed" if all(p[2] for p in judged.values()) else "conflict"
            agreed = {k: p[0] for k, p in judged.items() if p[2] or n < 2}
            partial = q.mode in ("scoring", "rubric")
            value = _answer(q, agreed, item) if status != "conflict" or partial else None
            out.append(ItemConsensus(iid, q.id, status, value, support, n, score[0] if score else None))
    return out


def _matches(var: Variable, value, agreed, opt: Options, rejected: bool = False) -> bool:
    """Does a rating match an agreed unit value? `rejected`: the rating found no response acceptable."""
    if var.level == "nominal":
        return value == agreed
    if var.level == "ordinal":
        return abs(value - agreed) <= opt.ordinal_tolerance + EPS
    if var.level == "interval":
        return abs(value - agreed) <= opt.interval_tolerance + EPS
    return agreed["all_unacceptable"] == rejected and (rejected or _canon(value) == _canon(agreed["order"]))


# --- competence ---------------------------------------------------------------------------------

@dataclass
class CompetenceStats:
    """Dawid-Skene reliability (expected accuracy) of each annotator on one categorical variable."""

    question_id: str
    variable: str
    reliability: dict[str, float]
    converged: bool
    iterations: int


def competence(variables: list[Variable], humans: list[str]) -> list[CompetenceStats]:
    out = []
    for var in variables:
        if var.level not in ("nominal", "ordinal"):
            continue
        who = [a for a in humans if var.values.get(a)]
        if len(who) < 2:
            continue
        _, x = _matrix(var, who)
        if not np.any(np.count_nonzero(~np.isnan(x), axis=1) >= 2):
            continue
        fit = dawid_skene(x, len(var.categories))
        out.append(CompetenceStats(var.question_id, var.name,
                                   {a: float(r) for a, r in zip(who, fit.reliability, strict=True)},
                                   fit.converged, fit.iterations))
    return out


# --- per annotator ------------------------------------------------------------------------------

def answer_score(q, given: dict | None, gold: dict) -> float | None:
    """How much of the expert answer a label matches, 0 to 1; None when not scored (skipped, free text)."""
    if given is None or given.get("mode") != q.mode:
        return None
    if q.mode == "pairwise":
        return float(given["choice"] == gold["choice"])
    if q.mode == "ranking":
        return float(_same_ranking(given, gold))
    if q.mode == "scoring":
        cells = [(rid, ax, v) for rid, axes in gold["scores"].items() for ax, v in axes.items()]
        hits = sum(given["scores"].get(rid, {}).get(ax) == v for rid, ax, v in cells)
        return hits / len(cells) if cells else None
    if q.mode == "rubric":
        marks = gold["marks"]
        return sum(given["marks"].get(c) == m for c, m in marks.items()) / len(marks) if marks else None
    return None


def _gold(item: Item) -> dict[str, dict]:
    """The expert answers in the shape of a label's answer (checked when the item was added)."""
    return {qid: ANSWER.validate_python(raw).model_dump(mode="json") for qid, raw in (item.gold or {}).items()}


def _with_consensus(who: str, variables: list[Variable], units: Units, opt: Options) -> float | None:
    """Share of someone's ratings that match an agreed consensus of at least two people."""
    hits = [_matches(var, v, units[var.key][u][0], opt, who in var.unacceptable.get(u[0], ()))
            for var in variables for u, v in var.values.get(who, {}).items()
            if u in units[var.key] and units[var.key][u][2] and units[var.key][u][3] >= 2]
    return sum(hits) / len(hits) if hits else None


def _unsure(r: Rating, scales: dict[str, int]) -> bool:
    """A confidence below the middle of the question's scale (a rater's probability below 1/2)."""
    return r.confidence is not None and r.confidence < (scales.get(r.question_id, 5) + 1) / 2


@dataclass
class AnnotatorStats:
    annotator: str
    name: str
    source: str  # roster (signed results) or outside (imported human labels)
    assigned: int
    labeled: int  # items with a current label, any kind
    agreement_others: float | None  # mean pairwise kappa (quadratic on ordinal, tau on rankings)
    agreement_consensus: float | None  # share of ratings matching an agreed consensus
    band: str
    gold_items: int
    gold_accuracy: float | None
    calibration_items: int
    calibration_accuracy: float | None
    position_a_share: float | None  # pairwise: share of A/B picks that went to the left response
    position_picks: int
    median_seconds: float | None  # time on task per item (all revisions)
    hours: float | None
    items_per_hour: float | None
    revision_rate: float | None  # share of labeled items submitted more than once
    rate_per_hour: float | None
    cost: float | None
    competence: float | None  # mean Dawid-Skene reliability over categorical variables


def _durations(store: Store, project_id: str) -> dict[str, dict[str, float]]:
    """Seconds on task per annotator and item, summed over the revisions merged."""
    rows = store.conn.execute(
        "SELECT annotator, item_id, max(json_extract(data, '$.duration_ms')) FROM labels"
        " WHERE project_id=? AND retracted=0 GROUP BY annotator, item_id, revision", (project_id,))
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for who, iid, ms in rows:
        out[who][iid] += (ms or 0) / 1000
    return out


def _weighted(pairs: list[tuple[float | None, int]]) -> float | None:
    good = [(v, n) for v, n in pairs if v is not None and n > 0]
    total = sum(n for _, n in good)
    return sum(v * n for v, n in good) / total if total else None


def annotator_stats(store: Store, *, project_id: str, spec: Spec, items: dict[str, Item],
                    ratings: list[Rating], people: list[str], raters: Raters,
                    variables: list[Variable], stats: list[VariableStats], units: Units,
                    comp: list[CompetenceStats], opt: Options) -> list[AnnotatorStats]:
    questions = {q.id: q for q in spec.questions}
    truths = {iid: _gold(it) for iid, it in items.items() if it.kind in ("gold", "calibration")}
    assigned = dict(store.query("SELECT annotator, count(*) FROM assignments WHERE project_id=?"
                                " GROUP BY annotator", (project_id,)))
    seconds = _durations(store, project_id)
    by_who: dict[str, list[Rating]] = defaultdict(list)
    for r in ratings:
        by_who[r.annotator].append(r)
    out = []
    for who in people:
        mine = by_who.get(who, [])
        pair_values = [(p.value, p.n) for s in stats for p in s.pairs if who in (p.a, p.b)]
        scores: dict[str, list[float]] = {"gold": [], "calibration": []}
        gold_items: dict[str, set] = {"gold": set(), "calibration": set()}
        picks = left = 0
        latest: dict[str, int] = {}
        for r in mine:
            item = items.get(r.item_id)
            if item is None:
                continue
            latest[r.item_id] = max(latest.get(r.item_id, 0), r.revision)
            truth = truths.get(r.item_id, {}).get(r.question_id)
            if truth is not None:
                gold_items[item.kind].add(r.item_id)
                score = answer_score(questions[r.question_id], r.answer, truth)
                if score is not None:
                    scores[item.kind].append(score)
            a = r.answer
            if (who in raters.roster and a and a.get("mode") == "pairwise" and a.get("choice") in ("A", "B")
                    and r.shown_first):
                picked = a.get("preferred") or item.responses[0 if a["choice"] == "A" else 1].id
                picks += 1
                left += picked == r.shown_first
        times = list(seconds.get(who, {}).values()) if who in raters.roster else []
        hours = sum(times) / 3600 if times else None
        rate = raters.rates.get(who)
        agree = _weighted(pair_values)
        out.append(AnnotatorStats(
            annotator=who, name=raters.names.get(who, who),
            source="roster" if who in raters.roster else "outside",
            assigned=assigned.get(who, 0), labeled=len(latest),
            agreement_others=agree, agreement_consensus=_with_consensus(who, variables, units, opt),
            band=band(agree), gold_items=len(gold_items["gold"]), gold_accuracy=_mean(scores["gold"]),
            calibration_items=len(gold_items["calibration"]),
            calibration_accuracy=_mean(scores["calibration"]),
            position_a_share=left / picks if picks else None, position_picks=picks,
            median_seconds=statistics.median(times) if times else None, hours=hours,
            items_per_hour=len(times) / hours if hours else None,
            revision_rate=sum(v > 1 for v in latest.values()) / len(latest) if latest else None,
            rate_per_hour=rate, cost=hours * rate if hours is not None and rate is not None else None,
            competence=_mean(c.reliability[who] for c in comp if who in c.reliability)))
    return out


# --- non-human raters ---------------------------------------------------------------------------

@dataclass
class RaterStats:
    """A non-human rater against the humans; it never counts toward human consensus."""

    rater: str
    name: str
    labels: int
    items: int
    agreement_humans: float | None  # mean pairwise figure with each human, weighted by shared units
    agreement_consensus: float | None  # share of its ratings matching an agreed human consensus
    unsure: int  # labels with a confidence below the middle of the question's scale
    pairs: dict[str, list[PairStat]] = field(default_factory=dict)  # variable -> with each human


def _pair(var: Variable, x: np.ndarray, i: int, j: int, a: str, b: str) -> PairStat:
    both = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
    n = int(np.count_nonzero(both))
    cats = list(range(len(var.categories)))
    p = PairStat(a, b, n)
    if n:
        p.kappa = _num(cohen_kappa(x[:, i], x[:, j], categories=cats))
        if var.level == "ordinal":
            p.kappa_linear = _num(cohen_kappa(x[:, i], x[:, j], weights="linear", categories=cats))
            p.kappa_quadratic = _num(cohen_kappa(x[:, i], x[:, j], weights="quadratic", categories=cats))
    return p


def rater_stats(spec: Spec, machines: list[str], humans: list[str], raters: Raters,
                ratings: list[Rating], variables: list[Variable], units: Units,
                opt: Options) -> list[RaterStats]:
    scales = {q.id: q.confidence_scale for q in spec.questions}
    out = []
    for m in machines:
        mine = [r for r in ratings if r.annotator == m]
        s = RaterStats(m, raters.names.get(m, m), len(mine), len({r.item_id for r in mine}), None,
                       _with_consensus(m, variables, units, opt), sum(_unsure(r, scales) for r in mine))
        weighted = []
        for var in variables:
            if not var.values.get(m) or var.level == "interval":
                continue
            cols = [*humans, m]
            if var.level == "ranking":
                pairs = [PairStat(m, p.a, p.n, tau=p.tau) for p in variable_stats(var, cols).pairs if p.b == m]
            else:
                _, x = _matrix(var, cols)
                pairs = [_pair(var, x, j, len(humans), m, h) for j, h in enumerate(humans)]
            s.pairs[var.key] = pairs
            weighted += [(p.value, p.n) for p in pairs]
        s.agreement_humans = _weighted(weighted)
        out.append(s)
    return out


# --- per round and per guidelines version -------------------------------------------------------

@dataclass
class GroupStats:
    by: str  # round or guidelines
    group: str
    question_id: str
    variable: str
    level: str
    annotators: int
    pairable: int
    percent_agreement: float | None
    alpha: float | None
    kendall_w: float | None
    band: str


def group_stats(by: str, groups: dict[str, list[Rating]], spec: Spec, items: dict[str, Item],
                question: str | None) -> list[GroupStats]:
    """The headline figures per group, side by side; none when every label is in one group."""
    if len(groups) < 2:
        return []
    out = []
    for group in sorted(groups, key=lambda g: (len(g), g)):  # round 10 after round 9
        rs = groups[group]
        who = sorted({r.annotator for r in rs})
        for var in build_variables(spec, items, rs, question):
            s = variable_stats(var, who, pairs=False)
            out.append(GroupStats(by, group, var.question_id, var.name, var.level,
                                  sum(1 for a in who if var.values.get(a)), s.pairable,
                                  s.percent_agreement, s.alpha, s.kendall_w, s.band))
    return out


# --- the report ---------------------------------------------------------------------------------

def _plain(obj):
    """JSON-ready: nan becomes None, tuples lists."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if is_dataclass(obj):
        return _plain(asdict(obj))
    return obj


@dataclass
class QualityReport:
    project_id: str
    project_name: str
    question: str | None
    humans: list[str]  # the columns of every agreement matrix
    names: dict[str, str]
    items: dict[str, int]  # per kind
    variables: list[VariableStats]
    consensus: list[ItemConsensus]
    annotators: list[AnnotatorStats]
    raters: list[RaterStats]
    competence: list[CompetenceStats]
    by_round: list[GroupStats]
    by_guidelines: list[GroupStats]
    options: Options
    guidelines_versions: list[str] = field(default_factory=list)  # the labels were made under

    # what the report was computed from, for final answers to reuse (not part of the report)
    loaded: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def conflicts(self) -> list[ItemConsensus]:
        return [c for c in self.consensus if c.status == "conflict"]

    def as_dict(self) -> dict:
        out = _plain(replace(self, loaded=None))
        out.pop("loaded", None)
        return out


def quality_report(store: Store, *, question: str | None = None, options: Options | None = None,
                   light: bool = False) -> QualityReport:
    """Every agreement, consensus and per-annotator figure the project's labels support.

    `light` computes only what a dataset export needs (agreement per question and consensus):
    no annotator-pair, per-annotator, competence, outside-rater or per-round figures."""
    opt = options or Options()
    info = project_info(store)
    spec = info.spec
    if question is not None and question not in {q.id for q in spec.questions}:
        raise AnnotaryError(f"no question {question!r} in the spec "
                            f"(questions: {', '.join(q.id for q in spec.questions)})")
    items = item_skeletons(store, info.id)
    raters = load_raters(store, info.id)
    all_ratings = load_ratings(store, info.id)
    ratings = [r for r in all_ratings if r.item_id in items
               and (question is None or r.question_id == question)]
    ordered = [*raters.names, *sorted({r.annotator for r in ratings} - set(raters.names))]
    labeled = {r.annotator for r in ratings}
    humans = [a for a in ordered if a in labeled and a not in raters.machines]
    machines = [a for a in ordered if a in labeled and a in raters.machines]
    normal = [r for r in ratings if items[r.item_id].kind == "normal"]
    variables = build_variables(spec, items, normal, question)
    matrix_humans = [a for a in humans if any(var.values.get(a) for var in variables)]
    stats = [variable_stats(v, matrix_humans, pairs=not light) for v in variables]
    comp = competence(variables, matrix_humans) if not light or opt.weighted else []
    weights = {f"{c.question_id}.{c.variable}": c.reliability for c in comp} if opt.weighted else None
    units = unit_consensus(variables, matrix_humans, opt, weights)
    annotating = store.query("SELECT key_id FROM roster WHERE project_id=? AND role='annotator'"
                             " AND removed_at IS NULL", (info.id,))
    people = humans + [r[0] for r in annotating if r[0] not in humans]
    round_of = {(r[0], r[1]): str(r[2]) for r in store.query(
        "SELECT item_id, annotator, round FROM assignments WHERE project_id=?", (info.id,))}
    by_round: dict[str, list[Rating]] = defaultdict(list)
    by_guidelines: dict[str, list[Rating]] = defaultdict(list)
    for r in normal:
        if r.annotator in raters.machines:
            continue
        if (r.item_id, r.annotator) in round_of:
            by_round[round_of[(r.item_id, r.annotator)]].append(r)
        by_guidelines[r.guidelines_version].append(r)
    return QualityReport(
        project_id=info.id, project_name=info.name, question=question, humans=matrix_humans,
        names={a: raters.names.get(a, a) for a in ordered},
        items={k: sum(1 for i in items.values() if i.kind == k) for k in ("normal", "gold", "calibration")},
        variables=stats, consensus=consensus(spec, items, variables, units),
        annotators=[] if light else annotator_stats(
            store, project_id=info.id, spec=spec, items=items, ratings=ratings, people=people,
            raters=raters, variables=variables, stats=stats, units=units, comp=comp, opt=opt),
        raters=rater_stats(spec, machines, matrix_humans, raters, normal, variables, units, opt),
        competence=comp,
        by_round=[] if light else group_stats("round", by_round, spec, items, question),
        by_guidelines=[] if light else group_stats("guidelines", by_guidelines, spec, items, question),
        options=opt, guidelines_versions=sorted(by_guidelines),
        loaded=(items, all_ratings, raters))


def heatmap(report: QualityReport, variable: str) -> tuple[list[str], list[list[float | None]]]:
    """Annotator x annotator matrix of a variable's headline pairwise figure (1 on the diagonal)."""
    found = [s for s in report.variables if s.key == variable]
    if not found:
        raise AnnotaryError(f"no variable {variable!r}; one of {', '.join(s.key for s in report.variables)}")
    ids = report.humans
    at = {a: i for i, a in enumerate(ids)}
    grid: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(ids))] for i in range(len(ids))]
    for p in found[0].pairs:
        grid[at[p.a]][at[p.b]] = grid[at[p.b]][at[p.a]] = p.value
    return ids, grid


def disputed_items(report: QualityReport, store: Store) -> list[tuple[str, str]]:
    """Items an adaptive round sends to one more annotator, most disputed first, with why.

    Conflicts, then weak consensus (support below options.weak_support), then items where a
    non-human rater disagrees with an agreed human consensus or is unsure."""
    why: dict[str, tuple[int, float, str]] = {}

    def note(iid, rank, support, reason):
        if iid not in why or (rank, support) < why[iid][:2]:
            why[iid] = (rank, support, reason)

    for c in report.consensus:
        if c.status == "conflict":
            note(c.item_id, 0, c.support or 0.0, f"{c.question_id}: no consensus")
        elif c.status == "agreed" and (c.support or 0.0) < report.options.weak_support - EPS:
            note(c.item_id, 1, c.support, f"{c.question_id}: weak consensus ({c.support:.2f})")
    if report.raters:
        agreed = {(c.item_id, c.question_id): c.value for c in report.consensus if c.status == "agreed"}
        spec = project_info(store).spec
        scales = {q.id: q.confidence_scale for q in spec.questions}
        for r in load_ratings(store, report.project_id):
            if r.annotator not in {s.rater for s in report.raters}:
                continue
            human = agreed.get((r.item_id, r.question_id))
            if human is not None and r.answer is not None and _differs(human, r.answer, report.options):
                note(r.item_id, 2, 0.0, f"{r.question_id}: {report.names.get(r.annotator)} disagrees")
            elif _unsure(r, scales):
                note(r.item_id, 3, 0.0, f"{r.question_id}: {report.names.get(r.annotator)} is unsure")
    return [(iid, w[2]) for iid, w in sorted(why.items(), key=lambda kv: kv[1][:2])]


def _differs(agreed: dict, answer: dict, opt: Options) -> bool:
    """Does an answer disagree with an agreed consensus value (by the consensus's own tolerance)?"""
    mode = answer.get("mode")
    if mode == "pairwise":
        return agreed["choice"] != answer["choice"]
    if mode == "ranking":
        return not _same_ranking(agreed, answer)
    if mode == "scoring":
        return any(abs(v - answer["scores"].get(rid, {}).get(ax, v)) > opt.ordinal_tolerance + EPS
                   for rid, axes in agreed["scores"].items() for ax, v in axes.items())
    if mode == "rubric":
        return any(answer["marks"].get(c, m) != m for c, m in agreed["marks"].items())
    return False


# --- progress -----------------------------------------------------------------------------------

@dataclass
class StatusReport:
    project_id: str
    project_name: str
    round: int
    guidelines_version: str
    items: dict[str, int]
    labels: int  # current labels, everyone
    bundles: int  # result bundles merged
    rounds: list[dict]  # round, created_at, guidelines_version, annotators, assigned, labeled
    progress: list[dict]  # per annotator and round: assigned, labeled, remaining
    people: list[dict]  # roster: key, name, role, active, assigned, labeled, remaining
    raters: list[dict]  # outside raters: id, name, human, labels

    def as_dict(self) -> dict:
        return _plain(self)


PROGRESS = """
    SELECT a.annotator, a.round, count(*) AS assigned, count(l.item_id) AS labeled
    FROM assignments a LEFT JOIN (SELECT DISTINCT item_id, annotator FROM labels
                                  WHERE project_id=:p AND retracted=0) l
      ON l.item_id=a.item_id AND l.annotator=a.annotator
    WHERE a.project_id=:p GROUP BY a.annotator, a.round
"""


def project_status(store: Store) -> StatusReport:
    """Progress per annotator and round, from the store alone (fast: no figures computed)."""
    info = project_info(store)
    p = {"p": info.id}
    kinds = dict(store.query("SELECT kind, count(*) FROM items WHERE project_id=? GROUP BY kind", (info.id,)))
    names = dict(store.query("SELECT key_id, name FROM roster WHERE project_id=? ORDER BY rowid", (info.id,)))
    order = {k: n for n, k in enumerate(names)}
    progress = sorted(({"annotator": r[0], "name": names.get(r[0], r[0]), "round": r[1], "assigned": r[2],
                        "labeled": r[3], "remaining": r[2] - r[3]} for r in store.query(PROGRESS, p)),
                      key=lambda x: (x["round"], order.get(x["annotator"], len(order))))
    rounds = []
    for r in store.query("SELECT round, created_at, guidelines_version FROM rounds WHERE project_id=?"
                         " ORDER BY round", (info.id,)):
        rows = [x for x in progress if x["round"] == r[0]]
        rounds.append({"round": r[0], "created_at": r[1], "guidelines_version": r[2],
                       "annotators": len(rows), "assigned": sum(x["assigned"] for x in rows),
                       "labeled": sum(x["labeled"] for x in rows)})
    people = []
    for r in store.query("SELECT key_id, name, role, removed_at FROM roster WHERE project_id=?"
                         " ORDER BY rowid", (info.id,)):
        rows = [x for x in progress if x["annotator"] == r[0]]
        assigned, labeled = sum(x["assigned"] for x in rows), sum(x["labeled"] for x in rows)
        people.append({"annotator": r[0], "name": r[1], "role": r[2], "active": r[3] is None,
                       "assigned": assigned, "labeled": labeled, "remaining": assigned - labeled})
    raters = [{"id": r[0], "name": r[1], "human": bool(r[2]), "labels": r[3]} for r in store.query(
        "SELECT r.id, r.name, r.human, (SELECT count(DISTINCT item_id || char(0) || question_id)"
        " FROM labels l WHERE l.project_id=r.project_id AND l.annotator=r.id) FROM raters r"
        " WHERE r.project_id=? ORDER BY r.rowid", (info.id,))]
    labels = store.one("SELECT count(*) FROM (SELECT DISTINCT item_id, question_id, annotator FROM labels"
                       " WHERE project_id=? AND retracted=0)", (info.id,))[0]
    bundles = store.one("SELECT count(*) FROM bundle_log WHERE project_id=? AND kind='results'",
                        (info.id,))[0]
    return StatusReport(info.id, info.name, info.round, info.guidelines_version,
                        {k: kinds.get(k, 0) for k in ("normal", "gold", "calibration")}, labels, bundles,
                        rounds, progress, people, raters)


# --- CSV ----------------------------------------------------------------------------------------

def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    if rows:
        w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return out.getvalue()


def _row(obj, drop=()) -> dict:
    return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj) if f.name not in drop}


def csv_tables(report: QualityReport) -> dict[str, str]:
    """Every table of the report as CSV text, by file name."""
    names = report.names
    pairs = [{"question_id": s.question_id, "variable": s.variable, "a": p.a, "a_name": names.get(p.a),
              "b": p.b, "b_name": names.get(p.b), **_row(p, ("a", "b"))}
             for s in report.variables for p in s.pairs]
    rater_pairs = [{"rater": r.rater, "variable": key, "human": p.b, "human_name": names.get(p.b),
                    **_row(p, ("a", "b"))} for r in report.raters for key, ps in r.pairs.items() for p in ps]
    dist = [{"question_id": s.question_id, "variable": s.variable, "category": c, "count": n}
            for s in report.variables for c, n in s.distribution.items()]
    comp = [{"question_id": c.question_id, "variable": c.variable, "annotator": a, "name": names.get(a),
             "reliability": v} for c in report.competence for a, v in c.reliability.items()]
    return {
        "agreement.csv": to_csv([_row(s, ("pairs", "distribution")) for s in report.variables]),
        "pairs.csv": to_csv(pairs),
        "distribution.csv": to_csv(dist),
        "annotators.csv": to_csv([_row(a) for a in report.annotators]),
        "raters.csv": to_csv([_row(r, ("pairs",)) for r in report.raters]),
        "rater_pairs.csv": to_csv(rater_pairs),
        "competence.csv": to_csv(comp),
        "consensus.csv": to_csv([_row(c) for c in report.consensus]),
        "by_round.csv": to_csv([_row(g) for g in report.by_round + report.by_guidelines]),
    }


def status_csv(status: StatusReport) -> dict[str, str]:
    return {"progress.csv": to_csv(status.progress), "rounds.csv": to_csv(status.rounds),
            "people.csv": to_csv(status.people)}
