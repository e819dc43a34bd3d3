"""Consensus of rated variables: per unit, then per item and question as an answer, or a conflict."""

from __future__ import annotations

from dataclasses import dataclass

from annotary.analysis.arrays import is_missing
from annotary.analysis.consensus import (
    EPS,
    Consensus,
    borda,
    majority,
    mean_interval,
    median_ordinal,
)
from annotary.analysis.questions import kind_of
from annotary.analysis.variables import SET, Options, Variable, canon
from annotary.core.items import Item
from annotary.core.spec import Spec


@dataclass
class ItemConsensus:
    item_id: str
    question_id: str
    status: str  # agreed, conflict, decided (a conflict a reviewer decided) or single (one rating so far)
    value: dict | None  # answer-shaped, item order; a conflict keeps only agreed axes or criteria
    support: float | None  # the weakest part's share of ratings behind the value
    ratings: int
    score: float | None = None  # rubric: mean score
    decided: bool = False  # a reviewer's decision is the final answer (a conflict's, or an audited one's)


def mark_decided(consensus: list[ItemConsensus], decided) -> list[ItemConsensus]:
    """The consensus with the (item, question) pairs a reviewer decided marked: a decided
    conflict is no longer one (status decided); any decided pair has `decided` set."""
    if decided:
        for c in consensus:
            if (c.item_id, c.question_id) in decided:
                c.decided = True
                if c.status == "conflict":
                    c.status = "decided"
    return consensus


def tolerance(var: Variable, opt: Options) -> float:
    """How far from a numeric or ordinal consensus a rating may be and still agree with it:
    scale points on a scale, the interval tolerance on free numbers (a rubric score)."""
    return opt.ordinal_tolerance if var.scaled else opt.interval_tolerance


def nearest(scale: list, value: float) -> float:
    """The scale point nearest a value (the lower of two equally near: the conservative one)."""
    return float(min(scale, key=lambda p: (abs(p - value), p)))


def _unit(var: Variable, values: list, weights: list | None, opt: Options):
    """(value, support, agreed) of one unit's human ratings (rankings: _ranking_unit)."""
    if var.level == SET:
        value, support = set_majority(values)
        return value, support, value is not None
    if var.level == "nominal":
        c = majority(values, 0.0 if var.plurality else opt.min_share, weights)
        return c.value, c.support, c.value is not None
    tol = tolerance(var, opt)
    if var.level == "ordinal":
        c = median_ordinal(values, tol)
    else:
        c = mean_interval(values, tol)
        if var.scaled and c.value is not None:
            # the mean of an interval or ratio scale, as the scale point an answer can hold; its
            # support is the share of ratings within the tolerance of that point
            point = nearest(var.categories, c.value)
            x = [float(v) for v in values if not is_missing(v)]
            c = Consensus(point, sum(abs(v - point) <= tol + EPS for v in x) / len(x))
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


Units = dict[str, dict[tuple, tuple]]  # variable key -> unit -> (value, support, agreed, ratings)


def unit_consensus(variables: list[Variable], humans: list[str], opt: Options,
                   weights: dict[str, dict[str, float]] | None = None) -> Units:
    """Every unit's consensus, from the ratings of the given humans (in their order)."""
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
    kinds = {q.id: kind_of(q) for q in spec.questions}
    out = []
    for iid, item in items.items():  # in the items' and questions' order
        for q in spec.questions:
            parts = found.get((iid, q.id))
            if parts is None:
                continue
            kind = kinds[q.id]
            if len(parts) == 1 and not kind.partial:  # one variable, no partial answer: the common case
                ((part_key, (value, support, ok, n)),) = parts.items()
                status = "single" if n < 2 else "agreed" if ok else "conflict"
                value = kind.answer(q, {part_key: value}, item) if status != "conflict" else None
                out.append(ItemConsensus(iid, q.id, status, value, support, n))
                continue
            n = max(p[3] for p in parts.values())
            score = parts.get(("score", (iid,)))
            judged = {k: p for k, p in parts.items() if k[0] != "score"} or parts
            support = min(p[1] for p in judged.values())
            status = "single" if n < 2 else "agreed" if all(p[2] for p in judged.values()) else "conflict"
            agreed = {k: p[0] for k, p in judged.items() if p[2] or n < 2}
            value = kind.answer(q, agreed, item) if status != "conflict" or kind.partial else None
            out.append(ItemConsensus(iid, q.id, status, value, support, n, score[0] if score else None))
    return out


def matches(var: Variable, value, agreed, opt: Options, rejected: bool = False) -> bool:
    """Does a rating match an agreed unit value? `rejected`: the rating found no response acceptable."""
    if var.level in ("nominal", SET):
        return value == agreed
    if var.level == "ranking":
        return agreed["all_unacceptable"] == rejected and (rejected or canon(value) == canon(agreed["order"]))
    return abs(value - agreed) <= tolerance(var, opt) + EPS


def with_consensus(who: str, variables: list[Variable], units: Units, opt: Options) -> float | None:
    """Share of someone's ratings that match an agreed consensus of at least two people."""
    hits = [matches(var, v, units[var.key][u][0], opt, who in var.unacceptable.get(u[0], ()))
            for var in variables for u, v in var.values.get(who, {}).items()
            if u in units[var.key] and units[var.key][u][2] and units[var.key][u][3] >= 2]
    return sum(hits) / len(hits) if hits else None


def set_majority(values: list) -> tuple[int | None, float]:
    """(value, support): per category, a majority. The value is the set of the categories more
    than half the ratings hold (sets coded as bitmasks, agreement.as_bitmask); a category exactly
    half hold is a tie, so no value; the support is the share behind the weakest category's
    decision."""
    sets = [int(v) for v in values if not is_missing(v)]
    if not sets:
        return None, 0.0
    n = len(sets)
    every = 0
    for v in sets:
        every |= v
    agreed, support = 0, 1.0
    for bit in (1 << i for i in range(every.bit_length())):
        if not every & bit:
            continue
        yes = sum(1 for v in sets if v & bit)
        if 2 * yes == n:
            return None, 0.5
        if 2 * yes > n:
            agreed |= bit
        support = min(support, max(yes, n - yes) / n)
    return agreed, support
