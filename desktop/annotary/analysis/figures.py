"""Agreement figures of rated variables: per variable, per pair of raters, per group of ratings."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from itertools import combinations

import numpy as np

from annotary.analysis.agreement import (
    NAN,
    PairKappa,
    alpha_estimate,
    band,
    cohen_estimate,
    fleiss_estimate_from_matrix,
    kendall_w,
    mean_kendall_tau,
    pairwise_cohen,
    percent_agreement,
    wald,
)
from annotary.analysis.table import first_of_groups
from annotary.analysis.variables import Variable, canon, rank_arrays, rating_matrix, values_of

WEIGHTED = ("ordinal", "interval", "ratio")  # levels whose pairs also get weighted kappas


@dataclass
class PairStat:
    a: str
    b: str
    n: int  # units both rated
    kappa: float | None = None
    kappa_linear: float | None = None
    kappa_quadratic: float | None = None
    tau: float | None = None
    # each kappa's standard error (Fleiss, Cohen & Everitt 1969) and 95 % interval
    kappa_se: float | None = None
    kappa_low: float | None = None
    kappa_high: float | None = None
    kappa_expected: float | None = None  # chance agreement of the unweighted kappa
    kappa_linear_se: float | None = None
    kappa_linear_low: float | None = None
    kappa_linear_high: float | None = None
    kappa_quadratic_se: float | None = None
    kappa_quadratic_low: float | None = None
    kappa_quadratic_high: float | None = None

    @property
    def headline(self) -> str | None:
        """Which figure is the pair's headline: quadratic kappa on scales, tau for rankings."""
        for name in ("tau", "kappa_quadratic", "kappa"):
            if getattr(self, name) is not None:
                return name
        return None

    @property
    def value(self) -> float | None:
        """The headline figure of the pair: quadratic kappa on ordinal scales, tau for rankings."""
        name = self.headline
        return None if name is None else getattr(self, name)

    @property
    def interval(self) -> tuple[float | None, float | None]:
        """The headline figure's 95 % interval ((None, None) for tau, or where undefined)."""
        name = self.headline
        if name in (None, "tau"):
            return None, None
        return getattr(self, f"{name}_low"), getattr(self, f"{name}_high")

    def put(self, name: str, k: PairKappa) -> None:
        """Set one kappa (kappa, kappa_linear or kappa_quadratic) with its uncertainty."""
        setattr(self, name, num(k.kappa))
        low, high = wald(k.kappa, k.se)
        setattr(self, f"{name}_se", num(k.se))
        setattr(self, f"{name}_low", num(low))
        setattr(self, f"{name}_high", num(high))
        if name == "kappa":
            self.kappa_expected = num(k.expected)


@dataclass
class VariableStats:
    question_id: str
    variable: str
    level: str
    units: int  # rated at least once
    pairable: int  # rated at least twice
    ratings: int
    percent_agreement: float | None = None
    expected_agreement: float | None = None  # by chance, as Fleiss' kappa counts it
    fleiss_kappa: float | None = None
    fleiss_kappa_se: float | None = None  # where no agreement is beyond chance (Fleiss, Nee & Landis 1979)
    fleiss_kappa_low: float | None = None  # 95 % interval, resampling units (seeded)
    fleiss_kappa_high: float | None = None
    alpha: float | None = None
    alpha_low: float | None = None  # 95 % bootstrap interval (Hayes & Krippendorff 2007, seeded)
    alpha_high: float | None = None
    kendall_w: float | None = None
    mean_tau: float | None = None
    band: str = "n/a"
    pairs: list[PairStat] = field(default_factory=list)
    distribution: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.question_id}.{self.variable}"


def num(v) -> float | None:
    """A float, None for nan (and for None)."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


def mean(values) -> float | None:
    """The mean of the values that are numbers; None when there is none."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(vals)) if vals else None


def weighted_mean(pairs: list[tuple[float | None, int]]) -> float | None:
    """Mean of (value, weight) pairs, weighted; None where no value has weight."""
    good = [(v, n) for v, n in pairs if v is not None and n > 0]
    total = sum(n for _, n in good)
    return sum(v * n for v, n in good) / total if total else None


def alpha_figures(x: np.ndarray, level: str) -> tuple[float | None, float | None, float | None]:
    """Alpha and its 95 % bootstrap interval."""
    e = alpha_estimate(x, level)
    return num(e.value), num(e.low), num(e.high)


def variable_stats(var: Variable, raters: list[str], *, pairs: bool = True) -> VariableStats:
    """Every figure of a variable over the given raters (the matrix's columns, in that order)."""
    if var.level == "ranking":
        return _ranking_stats(var, raters, pairs)
    if var.cells is not None:
        s = matrix_stats(var, compact_matrix(var, raters))
        cohen = _cell_cohen
    else:
        _, x = rating_matrix(var, raters)
        s = matrix_stats(var, x)
        cohen = partial(pairwise_cohen, x)
    if pairs and var.scaled:
        cats = list(range(len(var.categories)))
        plain = cohen(raters, None, cats) if var.cells is None else cohen(var, raters, None, cats)
        weighted = {w: cohen(raters, w, cats) if var.cells is None else cohen(var, raters, w, cats)
                    for w in ("linear", "quadratic")} if var.level in WEIGHTED else {}
        for (a, b), pk in plain.items():
            p = PairStat(a, b, pk.n)
            p.put("kappa", pk)
            if weighted:
                p.put("kappa_linear", weighted["linear"][(a, b)])
                p.put("kappa_quadratic", weighted["quadratic"][(a, b)])
            s.pairs.append(p)
    return s


def compact_matrix(var: Variable, raters: list[str]) -> np.ndarray:
    """A variable's units (in rating_matrix's order) x their ratings by the given raters, in no
    particular column: what matrix_stats needs, in units x the most ratings a unit has."""
    c = var.cells
    keep = np.flatnonzero(c.columns(raters) >= 0)
    order = keep[np.argsort(c.rank[c.item[keep]], kind="stable")]
    del keep  # each temporary as soon as it is used: a million ratings' indices are 8 MB each
    unit = c.rank[c.item[order]]
    starts = first_of_groups(unit)
    n = np.diff(np.append(starts, len(unit)))
    row = np.repeat(np.arange(len(starts), dtype=np.int32), n)
    at = np.arange(len(unit), dtype=np.int32) - starts[row].astype(np.int32)
    del unit
    given = c.numbers(var)[c.value[order]]
    del order
    x = np.full((len(starts), max(int(n.max(initial=0)), 1)), np.nan)
    x[row, at] = given
    return x


def _cell_cohen(var: Variable, raters: list[str], weights: str | None, cats) -> dict[tuple, PairKappa]:
    """pairwise_cohen of a variable held as cells: each pair over the units both rated."""
    c = var.cells
    col = c.columns(raters)
    value = c.numbers(var)[c.value]
    mine = []
    for j in range(len(raters)):
        at = np.flatnonzero((col == j) & ~np.isnan(value))
        at = at[np.argsort(c.item[at], kind="stable")]
        mine.append((c.item[at], value[at]))
    out = {}
    for i, j in combinations(range(len(raters)), 2):
        common, a, b = np.intersect1d(mine[i][0], mine[j][0], assume_unique=True, return_indices=True)
        out[(raters[i], raters[j])] = cohen_estimate(mine[i][1][a], mine[j][1][b], weights=weights,
                                                     categories=cats) if len(common) else PairKappa(NAN, 0)
    return out


def matrix_stats(var: Variable, x: np.ndarray) -> VariableStats:
    """The figures of a units x raters matrix (rating_matrix) that do not depend on who rated
    what: each unit's ratings as a set are enough (a row may hold them in any columns)."""
    rated = np.count_nonzero(~np.isnan(x), axis=1)
    s = VariableStats(var.question_id, var.name, var.level, int(np.count_nonzero(rated)),
                      int(np.count_nonzero(rated >= 2)), int(rated.sum()))
    s.alpha, s.alpha_low, s.alpha_high = alpha_figures(values_of(var, x), var.level)
    s.band = band(s.alpha)
    if not var.scaled:  # a rubric score: tenths from 0 (or the lowest score) to 1
        scores = x[~np.isnan(x)]
        if scores.size:
            counts, edges = np.histogram(scores, bins=10, range=(min(0.0, float(scores.min())), 1.0))
            s.distribution = {f"{e:.2f}": int(c) for e, c in zip(edges, counts, strict=False)}
        if var.level == "set":  # sets of categories, each a bitmask: alpha above is MASI's
            _set_figures(var, x, s)
        return s
    s.percent_agreement = num(percent_agreement(x))
    f = fleiss_estimate_from_matrix(x)
    s.fleiss_kappa, s.fleiss_kappa_se = num(f.value), num(f.se)
    s.fleiss_kappa_low, s.fleiss_kappa_high, s.expected_agreement = num(f.low), num(f.high), num(f.expected)
    counts = np.bincount(x[~np.isnan(x)].astype(int), minlength=len(var.categories))
    s.distribution = {str(c): int(n) for c, n in zip(var.categories, counts, strict=True)}
    return s


def _set_figures(var: Variable, x: np.ndarray, s: VariableStats) -> None:
    """Sets of categories: the share of pairs giving the same set, and how often each category
    was picked (per-category kappas are variables of their own)."""
    s.percent_agreement = num(percent_agreement(x))
    masks = x[~np.isnan(x)].astype(np.int64)
    s.distribution = {str(c): int(np.count_nonzero(masks & (1 << i)))
                      for i, c in enumerate(var.members)}


def _ranking_stats(var: Variable, raters: list[str], pairs: bool) -> VariableStats:
    arrays = rank_arrays(var, raters)
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
            row = [canon(var.values.get(a, {}).get((iid,))) if done[i, j] else None
                   for j, a in enumerate(raters)]
            same.append(row)
            for order in filter(None, row):
                for rid in order[0]:
                    first[f"#{var.responses[iid].index(rid) + 1}"] += 1
    s.kendall_w, s.mean_tau = mean(w), mean(tau)
    if positions:
        s.alpha, s.alpha_low, s.alpha_high = alpha_figures(np.concatenate(positions), "ordinal")
        kinds = {o: n for n, o in enumerate({o for row in same for o in row if o is not None})}
        codes = [[math.nan if o is None else kinds[o] for o in row] for row in same]
        s.percent_agreement = num(percent_agreement(codes))
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


def pair_stat(var: Variable, x: np.ndarray, i: int, j: int, a: str, b: str) -> PairStat:
    """Cohen's kappas of columns i and j of a variable's matrix (a and b their raters)."""
    both = ~np.isnan(x[:, i]) & ~np.isnan(x[:, j])
    n = int(np.count_nonzero(both))
    cats = list(range(len(var.categories)))
    p = PairStat(a, b, n)
    if n:
        p.put("kappa", cohen_estimate(x[:, i], x[:, j], categories=cats))
        if var.level in WEIGHTED:
            for w in ("linear", "quadratic"):
                p.put(f"kappa_{w}", cohen_estimate(x[:, i], x[:, j], weights=w, categories=cats))
    return p
