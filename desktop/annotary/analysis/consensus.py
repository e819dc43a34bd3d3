"""Per-unit consensus: majority for categories, median for ordinal scales, mean for intervals, Borda for rankings.

Each function takes one unit's ratings (None or nan = missing) and returns a Consensus: the
agreed value (None when there is none, i.e. a conflict) and its support, the share of ratings
behind it. What support counts as enough is the caller's threshold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

from annotary.analysis.arrays import is_missing

EPS = 1e-9  # shares such as 2/3 must meet a 2/3 threshold despite rounding


class Consensus(NamedTuple):
    value: Any
    support: float


def majority(values: Sequence[Hashable], min_share: float = 0.5,
             weights: Sequence[float] | None = None) -> Consensus:
    """The most given value if its (weighted) share reaches min_share and no other value ties it, else None."""
    tally: dict[Hashable, float] = defaultdict(float)
    for v, w in zip(values, weights if weights is not None else [1.0] * len(values), strict=True):
        if not is_missing(v):
            tally[v] += w
    total = sum(tally.values())
    if not tally or total <= 0:
        return Consensus(None, 0.0)
    ranked = sorted(tally.items(), key=lambda kv: kv[1], reverse=True)
    share = ranked[0][1] / total
    tied = len(ranked) > 1 and ranked[1][1] >= ranked[0][1] - EPS * total
    if tied or share < min_share - EPS:
        return Consensus(None, share)
    return Consensus(ranked[0][0], share)


def _numbers(values) -> np.ndarray:
    x = np.asarray([np.nan if is_missing(v) else v for v in values], dtype=float)
    return x[~np.isnan(x)]


def median_ordinal(values: Sequence[float | None], tol: float = 0) -> Consensus:
    """Lower median (always a scale point; the conservative one of an even split) and the share within tol of it."""
    x = np.sort(_numbers(values))
    if not x.size:
        return Consensus(None, 0.0)
    med = x[(x.size - 1) // 2]
    return Consensus(med.item(), float(np.mean(np.abs(x - med) <= tol + EPS)))


def mean_interval(values: Sequence[float | None], tol: float = 0.5) -> Consensus:
    """Mean rating and the share of ratings within tol of it."""
    x = _numbers(values)
    if not x.size:
        return Consensus(None, 0.0)
    mean = x.mean()
    return Consensus(float(mean), float(np.mean(np.abs(x - mean) <= tol + EPS)))


Ranking = Sequence[str | Sequence[str]]  # best first; a group of ids is a tie (RankingAnswer.order)


def _groups(ranking: Ranking, ids: list[str]) -> list[list[str]]:
    """A ranking as groups, the ids it leaves out tied in one last group (partial top-k rankings)."""
    groups = [[g] if isinstance(g, str) else list(g) for g in ranking]
    ranked = {i for g in groups for i in g}
    rest = [i for i in ids if i not in ranked]
    return [g for g in groups if g] + ([rest] if rest else [])


def borda_scores(rankings: Sequence[Ranking], items: Sequence[str] | None = None) -> dict[str, float]:
    """Borda points per id summed over rankings: n-1 for the best down to 0, tied ids sharing the average."""
    ids = list(items) if items is not None else sorted(
        {i for r in rankings for g in _groups(r, []) for i in g})
    n = len(ids)
    score = dict.fromkeys(ids, 0.0)
    for r in rankings:
        pos = 0
        for g in _groups(r, ids):
            pts = n - 1 - pos - (len(g) - 1) / 2  # mean of the points the group's positions span
            for i in g:
                score[i] += pts
            pos += len(g)
    return score


def borda(rankings: Sequence[Ranking], items: Sequence[str] | None = None) -> Consensus:
    """Borda order (groups of equal score, best first) and the share of raters' pairwise preferences it keeps."""
    score = borda_scores(rankings, items)
    if not rankings or not score:
        return Consensus(None, 0.0)
    order: list[list[str]] = []
    for i in sorted(score, key=lambda i: -score[i]):  # sort is stable: ties keep the ids' order
        if order and abs(score[order[-1][0]] - score[i]) < EPS:
            order[-1].append(i)
        else:
            order.append([i])
    place = {i: p for p, g in enumerate(order) for i in g}
    kept = total = 0
    ids = list(score)
    for r in rankings:
        rank = {i: p for p, g in enumerate(_groups(r, ids)) for i in g}
        for a, b in combinations(ids, 2):
            if rank[a] != rank[b]:
                total += 1
                kept += (rank[a] < rank[b]) == (place[a] < place[b]) and place[a] != place[b]
    return Consensus(order, kept / total if total else 0.0)
