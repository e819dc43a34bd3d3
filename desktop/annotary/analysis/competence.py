"""Annotator competence: Dawid-Skene EM estimates of rater confusion matrices and of each unit's true label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotary.analysis.arrays import as_matrix
from annotary.analysis.variables import Variable, rating_matrix


@dataclass(frozen=True)
class Competence:
    confusion: np.ndarray    # raters x true class x given class; rows sum to 1
    reliability: np.ndarray  # raters: expected accuracy, sum_c prior_c * confusion[r, c, c]
    posterior: np.ndarray    # units x classes: probability of each true class
    prior: np.ndarray        # classes: estimated share of each true class
    log_likelihood: float    # of the ratings under the fitted model
    iterations: int
    converged: bool


def dawid_skene(matrix, n_classes: int | None = None, *, tol: float = 1e-6, max_iter: int = 500,
                smoothing: float = 0.01) -> Competence:
    """Dawid-Skene EM on a units x raters matrix of category indices 0..K-1 (nan = not rated), from majority vote."""
    x = as_matrix(matrix)
    units, raters = x.shape
    u, r = np.nonzero(~np.isnan(x))
    given = x[u, r]
    if np.any(given < 0) or np.any(given != np.round(given)):
        raise ValueError("ratings must be category indices 0, 1, 2 ...")
    k = given.astype(np.int64)
    n_classes = int(n_classes if n_classes is not None else (k.max() + 1 if k.size else 1))
    if k.size and k.max() >= n_classes:
        raise ValueError(f"category index {k.max()} with n_classes={n_classes}")
    return _fit(u, r, k, units, raters, n_classes, tol, max_iter, smoothing)


def _fit(u: np.ndarray, r: np.ndarray, k: np.ndarray, units: int, raters: int, n_classes: int,
         tol: float, max_iter: int, smoothing: float) -> Competence:
    """Dawid-Skene EM of ratings given as (unit, rater, class) in unit-then-rater order."""
    # Start from vote shares (soft majority vote): it fixes which class is which, so EM cannot
    # converge to a label-swapped solution, and makes the run deterministic.
    votes = np.bincount(u * n_classes + k, minlength=units * n_classes).reshape(units, n_classes)
    per = votes.sum(1, keepdims=True)
    rated = per[:, 0] > 0
    every = bool(rated.all())
    if every:  # no copies of a million units' votes
        post = votes / per
    else:
        post = np.full((units, n_classes), 1.0 / n_classes)
        post[rated] = votes[rated] / per[rated]
    del votes, per
    cell = (r * n_classes + k).astype(np.int32)  # (rater, given class) of every rating
    patterns, pattern_of = _patterns(u, cell, units)
    rating_pattern = pattern_of[u].astype(np.int32)
    converged, it, last, log_lik = False, 0, -np.inf, 0.0
    by_pattern = None  # after the first E-step: the posteriors of the patterns (class x pattern)

    def weights():  # per true class, each rating's unit's posterior (one class at a time)
        for c in range(n_classes):
            yield post[u, c] if by_pattern is None else by_pattern[c][rating_pattern]
    while it < max_iter:
        it += 1
        # M-step. Smoothing keeps every probability above zero: one unseen confusion must not
        # veto a class for ever (log 0), and raters with few ratings stay near uniform.
        prior = (post.sum(0) if every else post[rated].sum(0)) + smoothing
        prior /= prior.sum()
        conf = np.stack([np.bincount(cell, weights=w, minlength=raters * n_classes)
                         for w in weights()])  # true class x (rater, given class)
        conf = conf.reshape(n_classes, raters, n_classes).transpose(1, 0, 2) + smoothing
        conf /= conf.sum(2, keepdims=True)
        # E-step, in logs so hundreds of ratings per unit cannot underflow; once per pattern of
        # ratings (units rated alike by the same raters get the same posterior, by the same sums)
        logp = np.log(conf).transpose(0, 2, 1).reshape(raters * n_classes, n_classes)  # cell x true class
        summed = np.zeros((len(patterns), n_classes))
        for j in range(patterns.shape[1]):
            has = patterns[:, j] >= 0
            summed[has] += logp[patterns[has, j]]
        log_post = np.log(prior) + summed
        top = log_post.max(1, keepdims=True)
        post = np.exp(log_post - top)
        total = post.sum(1, keepdims=True)
        post /= total
        unit_lik = (top + np.log(total))[pattern_of]
        log_lik = float(unit_lik.sum() if every else unit_lik[rated].sum())
        by_pattern = post.T.copy()  # the same values as post[u, c], from the few patterns
        post = post[pattern_of]
        # Relative change of the likelihood, not of the posteriors: the posteriors of a few
        # units creep for hundreds of iterations after every decision has settled.
        if abs(log_lik - last) <= tol * abs(log_lik):
            converged = True
            break
        last = log_lik
    reliability = np.einsum("c,rcc->r", prior, conf)
    return Competence(conf, reliability, post, prior, log_lik, it, converged)


def _patterns(u: np.ndarray, cell: np.ndarray, units: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct sequences of (rater, given class) cells units hold (-1 padded), and each unit's."""
    per = np.bincount(u, minlength=units)
    width = int(per.max(initial=0))
    grid = np.full((units, max(width, 1)), -1, np.int32)
    start = np.concatenate(([0], np.cumsum(per)[:-1])) if units else np.zeros(0, np.int64)
    del per
    grid[u, np.arange(len(u), dtype=np.int32) - start[u].astype(np.int32)] = cell  # ratings come unit by unit
    del start
    base = raters_cells = int(cell.max(initial=-1)) + 2  # a cell code + 1; 0 pads
    if width and raters_cells ** width < 2**62:  # each row as one number: unique rows by a 1-D sort
        key = np.zeros(units, np.int64)
        for j in range(grid.shape[1]):
            key = key * base + (grid[:, j] + 1)
        keys, pattern_of = np.unique(key, return_inverse=True)
        patterns = np.empty((len(keys), grid.shape[1]), np.int64)
        for j in range(grid.shape[1] - 1, -1, -1):
            patterns[:, j] = keys % base - 1
            keys = keys // base
        return patterns, pattern_of.reshape(-1)
    patterns, pattern_of = np.unique(grid, axis=0, return_inverse=True)
    return patterns.astype(np.int64), pattern_of.reshape(-1)


# --- per variable -------------------------------------------------------------------------------

@dataclass
class CompetenceStats:
    """Dawid-Skene reliability (expected accuracy) of each annotator on one categorical variable."""

    question_id: str
    variable: str
    reliability: dict[str, float]
    converged: bool
    iterations: int


def competence(variables: list[Variable], humans: list[str]) -> list[CompetenceStats]:
    """Each scaled variable's (categories or scale points) Dawid-Skene fit over the humans who rated it (two at least)."""
    out = []
    for var in variables:
        if not var.scaled:
            continue
        who = [a for a in humans if var.rated_by(a)]
        if len(who) < 2:
            continue
        if var.cells is not None:
            u, r, k, units = _cell_ratings(var, who)
            if not np.any(np.bincount(u) >= 2):
                continue
            fit = _fit(u, r, k, units, len(who), len(var.categories), 1e-6, 500, 0.01)
        else:
            _, x = rating_matrix(var, who)
            if not np.any(np.count_nonzero(~np.isnan(x), axis=1) >= 2):
                continue
            fit = dawid_skene(x, len(var.categories))
        out.append(CompetenceStats(var.question_id, var.name,
                                   {a: float(r) for a, r in zip(who, fit.reliability, strict=True)},
                                   fit.converged, fit.iterations))
    return out


def _cell_ratings(var: Variable, who: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(unit, rater, class) of a variable held as cells, in the order dawid_skene reads its
    matrix (units as rating_matrix sorts them, then raters), and the number of units."""
    c = var.cells
    col = c.columns(who)
    keep = np.flatnonzero(col >= 0)
    rank = c.rank[c.item[keep]]
    # each unit's position among the rated items in rank order (np.unique's inverse, without its sort)
    present = np.zeros(len(c.rank) + 1, bool)
    present[rank] = True
    dense = np.cumsum(present, dtype=np.int32) - 1
    units = int(dense[-1]) + 1 if len(dense) else 0
    unit = dense[rank]
    del rank, present, dense
    value = c.numbers(var)[c.value[keep]]
    ok = ~np.isnan(value)
    u, r, k = unit[ok], col[keep][ok], value[ok].astype(np.int32)
    del unit, value, ok, keep
    order = np.lexsort((r, u))
    return u[order].astype(np.int32), r[order].astype(np.int32), k[order], units


def posterior_of(confusion: np.ndarray, prior: np.ndarray, given) -> np.ndarray:
    """One unit's posterior over the true classes from its ratings, (rater index, given class)
    pairs, under fitted confusion matrices and prior (ratings independent given the truth)."""
    log = np.log(prior).astype(float)
    for r, k in given:
        log = log + np.log(confusion[r, :, k])
    p = np.exp(log - log.max())
    return p / p.sum()
