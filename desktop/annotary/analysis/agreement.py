"""Inter-rater agreement: percent agreement, Cohen's and Fleiss' kappa, Krippendorff's alpha, Kendall's W and tau.

A *matrix* is units x raters of numbers, nan where a rater gave no rating (see arrays.as_matrix
and arrays.encode). A statistic the data cannot define is nan, never an exception: no unit rated
twice, no items in common, or a single category in use (chance-corrected agreement needs some
variation; percent agreement still reports how often raters matched).
"""

from __future__ import annotations

import importlib
import math
import time
from itertools import combinations
from typing import NamedTuple

import numpy as np

from annotary.analysis.arrays import as_matrix, as_vector

GOOD, WATCH = 0.7, 0.4
LEVELS = ("nominal", "ordinal", "interval", "ratio", "set")
NAN = math.nan


def band(value: float | None) -> str:
    """Reading of a kappa/alpha value: "good" >= 0.7, "watch" >= 0.4, "flagged" below, "n/a" if undefined."""
    if value is None or math.isnan(value):
        return "n/a"
    return "good" if value >= GOOD else "watch" if value >= WATCH else "flagged"


# --- pairs of ratings within a unit -------------------------------------------------------------

def _pairable(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Units rated at least twice, each row's values first and nan last, cut to the widest row."""
    x = np.sort(as_matrix(matrix), axis=1)  # nan sorts last; order within a unit is irrelevant
    m = np.count_nonzero(~np.isnan(x), axis=1)
    keep = m >= 2
    x, m = x[keep], m[keep]
    # Cutting to the widest row keeps pair loops at overlap^2, not raters^2, for sparse rosters.
    return x[:, : m.max(initial=0)], m


def _pair_sum(x: np.ndarray, delta) -> np.ndarray:
    """Per unit, the sum of delta(a, b) over its unordered pairs of ratings."""
    total = np.zeros(len(x))
    for i in range(x.shape[1] - 1):  # one column against the rest: memory stays units x raters
        a, b = x[:, i : i + 1], x[:, i + 1 :]
        total += np.where(np.isnan(b), 0.0, delta(a, b)).sum(axis=1)  # nan in a implies nan in b
    return total


def percent_agreement(matrix) -> float:
    """Mean over units rated at least twice of the share of rater pairs giving the same rating."""
    x, m = _pairable(matrix)
    if not len(x):
        return NAN
    return float(np.mean(_pair_sum(x, np.equal) / (m * (m - 1) / 2)))


# --- Cohen's kappa ------------------------------------------------------------------------------

class PairKappa(NamedTuple):
    kappa: float
    n: int  # units both raters rated
    se: float = NAN  # asymptotic standard error (Fleiss, Cohen & Everitt 1969)
    expected: float = NAN  # chance agreement (weighted where the kappa is)


class Estimate(NamedTuple):
    """A chance-corrected figure with its uncertainty: a 95 % interval, a standard error where
    one is known, and the chance term it corrects for (expected agreement for a kappa, expected
    disagreement for an alpha)."""

    value: float
    low: float = NAN
    high: float = NAN
    se: float = NAN
    expected: float = NAN


Z95 = 1.959963984540054  # the standard normal's 97.5 % point
SAMPLES = 2000  # bootstrap replicates (Hayes & Krippendorff 2007 use 1,000 at least)
SEED = 0  # every interval is seeded: the same data always gives the same interval


def wald(value: float, se: float, lowest: float = -1.0) -> tuple[float, float]:
    """value -/+ 1.96 standard errors, within [lowest, 1]."""
    if math.isnan(value) or math.isnan(se):
        return NAN, NAN
    return max(lowest, value - Z95 * se), min(1.0, value + Z95 * se)


def _weights(k: int, weights: str | None) -> np.ndarray:
    """Disagreement weights on category positions, as scikit-learn defines them."""
    i, j = np.indices((k, k))
    if weights is None:
        return (i != j).astype(float)
    if weights == "linear":
        return np.abs(i - j).astype(float)
    if weights == "quadratic":
        return ((i - j) ** 2).astype(float)
    raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")


def _positions(values: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """Index of each value in categories (in the caller's order, which weighting relies on)."""
    order = np.argsort(categories, kind="stable")
    at = np.searchsorted(categories, values, sorter=order).clip(0, len(categories) - 1)
    pos = order[at]
    if not np.array_equal(categories[pos], values):
        bad = values[categories[pos] != values][0]
        raise ValueError(f"rating {bad:g} is not one of the categories")
    return pos


def _table(a, b, categories) -> tuple[np.ndarray, int]:
    """The k x k table of shares of two raters' ratings over the units both rated, and their number."""
    a, b = as_vector(a), as_vector(b)
    if a.shape != b.shape:
        raise ValueError("the two raters must rate the same units")
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if not a.size:
        return np.zeros((0, 0)), 0
    cats = np.unique(np.concatenate([a, b])) if categories is None else np.asarray(categories, float)
    k = len(cats)
    observed = np.bincount(_positions(a, cats) * k + _positions(b, cats), minlength=k * k)
    return observed.reshape(k, k) / a.size, int(a.size)


def kappa_of_table(p: np.ndarray, n: int, weights: str | None = None) -> PairKappa:
    """Cohen's kappa of a table of shares over n units, with its large-sample standard error
    (Fleiss, Cohen & Everitt 1969; the ASE SAS prints) and its chance agreement."""
    if not n:
        return PairKappa(NAN, 0)
    d, w, rows, cols, chance = _agreement_weights(p, weights)
    if chance >= 1 - 1e-12 or (d * np.outer(rows, cols)).sum() <= 1e-12:  # one category only
        return PairKappa(NAN, n, NAN, chance)
    kappa = float((float((w * p).sum()) - chance) / (1 - chance))
    w_row, w_col = w @ cols, rows @ w  # mean weight of each row / column category
    spread = (p * (w - (w_row[:, None] + w_col[None, :]) * (1 - kappa)) ** 2).sum()
    var = (spread - (kappa - chance * (1 - kappa)) ** 2) / (n * (1 - chance) ** 2)
    return PairKappa(kappa, n, float(math.sqrt(max(var, 0.0))), chance)


def _agreement_weights(p: np.ndarray, weights: str | None):
    """(disagreement weights, agreement weights (1 on the diagonal), row shares, column shares,
    chance agreement) of a k x k table of shares."""
    k = len(p)
    d = _weights(k, weights)
    w = 1 - d / d.max() if d.max() > 0 else np.ones((k, k))
    rows, cols = p.sum(1), p.sum(0)
    return d, w, rows, cols, float(rows @ w @ cols)


def cohen_null_se(p: np.ndarray, n: int, weights: str | None = None) -> float:
    """The standard error of Cohen's kappa where there is no agreement beyond chance (for a test
    of kappa = 0; Fleiss, Cohen & Everitt 1969)."""
    if not n or not len(p):
        return NAN
    _, w, rows, cols, chance = _agreement_weights(p, weights)
    if chance >= 1 - 1e-12:
        return NAN
    w_row, w_col = w @ cols, rows @ w
    spread = (np.outer(rows, cols) * (w - (w_row[:, None] + w_col[None, :])) ** 2).sum()
    return float(math.sqrt(max(spread - chance**2, 0.0) / (n * (1 - chance) ** 2)))


def cohen_estimate(a, b, *, weights: str | None = None, categories=None) -> PairKappa:
    """Cohen's kappa of two raters with its standard error and chance agreement."""
    p, n = _table(a, b, categories)
    return kappa_of_table(p, n, weights)


def cohen_kappa(a, b, *, weights: str | None = None, categories=None) -> float:
    """Cohen's kappa of two raters (unweighted, linear or quadratic), over units both rated."""
    return cohen_estimate(a, b, weights=weights, categories=categories).kappa


def pairwise_cohen(matrix, rater_ids, weights: str | None = None,
                   categories=None) -> dict[tuple, PairKappa]:
    """Cohen's kappa, its standard error and the number of shared units for every pair of raters (columns)."""
    x = as_matrix(matrix)
    ids = list(rater_ids)
    if len(ids) != x.shape[1]:
        raise ValueError(f"{len(ids)} rater ids for {x.shape[1]} columns")
    # One category list for all pairs, so weighted kappas measure distance on the same scale.
    cats = np.unique(x[~np.isnan(x)]) if categories is None else categories
    rated = ~np.isnan(x)
    out = {}
    for i, j in combinations(range(len(ids)), 2):
        n = int(np.count_nonzero(rated[:, i] & rated[:, j]))
        out[(ids[i], ids[j])] = cohen_estimate(x[:, i], x[:, j], weights=weights, categories=cats) \
            if n else PairKappa(NAN, 0)
    return out


# --- Fleiss' kappa ------------------------------------------------------------------------------

def fleiss_kappa(counts) -> float:
    """Fleiss' kappa of a units x categories table of rating counts (row totals may differ)."""
    t, n = _pairable_counts(counts)
    if not len(t):
        return NAN
    # Per-unit agreement over each unit's own total: Fleiss (1971) when every total is equal.
    return _fleiss_parts(t, n)[0]


def _pairable_counts(counts) -> tuple[np.ndarray, np.ndarray]:
    """The rows of a units x categories count table with two ratings or more, and their totals."""
    t = np.asarray(counts, dtype=float)
    if t.ndim != 2:
        raise ValueError("expected a units x categories table of counts")
    n = t.sum(axis=1)
    return t[n >= 2], n[n >= 2]


def _fleiss_parts(t: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """(kappa, chance agreement) of a count table whose rows all hold two ratings or more."""
    p_unit = (t * (t - 1)).sum(axis=1) / (n * (n - 1))
    p_cat = t.sum(axis=0) / n.sum()
    p_chance = float((p_cat**2).sum())
    if p_chance >= 1 - 1e-12:
        return NAN, p_chance
    return float((p_unit.mean() - p_chance) / (1 - p_chance)), p_chance


def fleiss_estimate(counts, *, samples: int = SAMPLES, seed: int = SEED) -> Estimate:
    """Fleiss' kappa with its chance agreement, its standard error where there is no agreement
    beyond chance (Fleiss, Nee & Landis 1979: the one its z test uses; a unit's m(m-1) summed
    where raters per unit differ) and a 95 % interval by resampling units (seeded)."""
    t, n = _pairable_counts(counts)
    if not len(t):
        return Estimate(NAN)
    kappa, chance = _fleiss_parts(t, n)
    if math.isnan(kappa):
        return Estimate(NAN, expected=chance)
    p = t.sum(axis=0) / n.sum()
    pq = p * (1 - p)
    spread = pq.sum() ** 2 - (pq * (1 - 2 * p)).sum()
    se = math.sqrt(2 * max(spread, 0.0) / (n * (n - 1)).sum()) / pq.sum()
    # units with the same counts are interchangeable: resample how many of each kind there are
    kinds, freq = np.unique(t, axis=0, return_counts=True)
    draws = np.random.default_rng(seed).multinomial(len(t), freq / freq.sum(), size=samples).astype(float)
    m = kinds.sum(axis=1)
    p_unit = (kinds * (kinds - 1)).sum(axis=1) / (m * (m - 1))
    p_cat = (draws @ kinds) / (draws @ m)[:, None]
    p_chance = (p_cat**2).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = (draws @ p_unit / len(t) - p_chance) / (1 - p_chance)
    low, high = _percentiles(boot)
    return Estimate(kappa, low, high, se, chance)


def _percentiles(boot: np.ndarray) -> tuple[float, float]:
    """The 2.5 and 97.5 percentiles of bootstrap replicates (undefined ones left out)."""
    boot = boot[np.isfinite(boot)]
    if not boot.size:
        return NAN, NAN
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(low), float(high)


def category_counts(matrix) -> tuple[np.ndarray, np.ndarray]:
    """The units x categories count table of a ratings matrix, and the categories (sorted)."""
    x = as_matrix(matrix)
    rated = ~np.isnan(x)
    cats, code = np.unique(x[rated], return_inverse=True)
    unit = np.nonzero(rated)[0]
    k = len(cats)
    counts = np.bincount(unit * k + code, minlength=len(x) * k).reshape(len(x), k)
    return counts, cats


def fleiss_from_matrix(matrix) -> float:
    """Fleiss' kappa of a units x raters matrix of categories."""
    return fleiss_kappa(category_counts(matrix)[0])


def fleiss_estimate_from_matrix(matrix, **kw) -> Estimate:
    """fleiss_estimate of a units x raters matrix of categories."""
    return fleiss_estimate(category_counts(matrix)[0], **kw)


# --- Krippendorff's alpha -----------------------------------------------------------------------

def _squared(a, b):
    return (a - b) ** 2


def _ratio(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        d = ((a - b) / (a + b)) ** 2
    return np.where(a + b == 0, 0.0, d)  # 0 vs 0 is no distance


def masi(a, b):
    """MASI distance (Passonneau 2006) of sets coded as bitmasks (bit i: category i picked):
    1 - J * M, J the Jaccard index, M 1 for identical sets, 2/3 when one holds the other, 1/3
    when they overlap, 0 when disjoint. Two empty sets are identical; nan pairs give nan."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    missing = np.isnan(a) | np.isnan(b)
    ia = np.where(missing, 0, a).astype(np.uint64)
    ib = np.where(missing, 0, b).astype(np.uint64)
    both, either = np.bitwise_count(ia & ib), np.bitwise_count(ia | ib)
    jaccard = np.where(either == 0, 1.0, both / np.maximum(either, 1))
    inside = (both == np.bitwise_count(ia)) | (both == np.bitwise_count(ib))
    m = np.where(ia == ib, 1.0, np.where(inside, 2 / 3, np.where(both > 0, 1 / 3, 0.0)))
    return np.where(missing, np.nan, 1 - jaccard * m)


def as_bitmask(positions) -> int:
    """A set of category positions as the bitmask the "set" level codes it by: at that level
    alpha measures two sets' distance by MASI."""
    return sum(1 << int(p) for p in set(positions))


_DELTA = {"nominal": np.not_equal, "ordinal": _squared, "interval": _squared, "ratio": _ratio,
          "set": masi}


def _expected(values: np.ndarray, counts: np.ndarray, level: str) -> float:
    """Sum over ordered pairs of pairable ratings of their distance: n(n-1) times D_e."""
    n = counts.sum()
    if level == "nominal":
        return float(n * n - (counts**2).sum())
    if level in ("ordinal", "interval"):  # sum n_c n_k (v_c - v_k)^2 = 2 n sum n_c (v_c - mean)^2
        mean = (counts * values).sum() / n
        return float(2 * n * (counts * (values - mean) ** 2).sum())
    total = 0.0
    delta = _DELTA[level]
    for s in range(0, len(values), 1024):  # ratio and set have no closed form; chunks bound memory
        block = delta(values[s : s + 1024, None], values[None, :])
        total += counts[s : s + 1024] @ block @ counts
    return float(total)


def _alpha_parts(matrix, level: str):
    """(pairable units as _pairable gives them, in the level's numbers; ratings per unit; n(n-1)
    D_e), or None where alpha is undefined (no ratings, or a single value)."""
    if level not in _DELTA:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    x, m = _pairable(matrix)
    rated = ~np.isnan(x)
    raw, counts = np.unique(x[rated], return_counts=True)
    if raw.size < 2:  # no ratings, or a single value: no variation, alpha is undefined
        return None
    values = raw
    if level == "ordinal":
        # The ordinal distance between c and k is (sum of n_g for g from c to k - (n_c + n_k)/2)^2,
        # which is the squared difference of the mid-ranks cum(n)_c - n_c/2: interval on mid-ranks.
        values = np.cumsum(counts) - counts / 2
        x[rated] = values[np.searchsorted(raw, x[rated])]
    return x, m, _expected(values, counts, level)


def krippendorff_alpha(matrix, level: str = "nominal") -> float:
    """Krippendorff's alpha of a units x raters matrix with missing ratings, at any level of measurement."""
    parts = _alpha_parts(matrix, level)
    if parts is None:
        return NAN
    x, m, expected = parts
    # Coincidence-matrix form: sum_ck o_ck delta_ck, where each unit adds its ordered pairs of
    # ratings with weight 1/(m_u - 1); summing delta over the pairs avoids a values x values matrix.
    observed = float((2 * _pair_sum(x, _DELTA[level]) / (m - 1)).sum())
    return float(1 - (m.sum() - 1) * observed / expected)


BINS = 1024  # at most this many distinct pair distances are resampled (more are binned)


def alpha_estimate(matrix, level: str = "nominal", *, samples: int = SAMPLES,
                   seed: int = SEED) -> Estimate:
    """Krippendorff's alpha, its expected disagreement D_e and a 95 % bootstrap interval
    (Hayes & Krippendorff 2007; seeded, so the same data gives the same interval).

    As there: D_e stays that of the data; each replicate draws, for every unit of m ratings,
    m(m-1)/2 pairs of ratings from all pairable pairs (each pair weighted as the coincidence
    matrix weighs it, 1/(m-1) for its unit), and its alpha is 1 - D_o*/D_e with D_o* their
    distances weighted 2/(m-1) over n. The draws of a replicate are counted per distinct
    distance (a multinomial), so a replicate costs the number of distances, not of units."""
    parts = _alpha_parts(matrix, level)
    if parts is None:
        return Estimate(NAN)
    x, m, expected = parts
    n = float(m.sum())
    d_e = expected / (n * (n - 1))
    alpha = krippendorff_alpha(matrix, level)
    if d_e <= 0:
        return Estimate(alpha, expected=d_e)
    # every unordered pair of ratings within a unit: its distance and weight 1/(m_u - 1)
    delta, weight = [], []
    delta_of = _DELTA[level]
    for i in range(x.shape[1] - 1):
        a, b = x[:, i : i + 1], x[:, i + 1 :]
        ok = ~np.isnan(b)
        dist = delta_of(a, np.where(ok, b, a))
        delta.append(dist[ok])
        weight.append(np.broadcast_to(1 / (m[:, None] - 1), b.shape)[ok])
    delta, weight = np.concatenate(delta), np.concatenate(weight)
    values, at = np.unique(delta, return_inverse=True)
    share = np.bincount(at, weights=weight)
    if len(values) > BINS:  # a continuous scale: distances binned, each bin at its weighted mean
        edges = np.linspace(values[0], values[-1], BINS + 1)
        binned = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, BINS - 1)
        mass = np.bincount(binned, weights=share, minlength=BINS)
        values = np.bincount(binned, weights=share * values, minlength=BINS) / np.where(mass > 0, mass, 1)
        share = mass
    share = share / share.sum()
    rng = np.random.default_rng(seed)
    observed = np.zeros(samples)
    for size in np.unique(m):  # units of the same size draw alike
        draws = int((m == size).sum() * size * (size - 1) // 2)
        counts = rng.multinomial(draws, share, size=samples)
        observed += 2 / (size - 1) * (counts @ values)
    boot = 1 - observed / n / d_e
    low, high = _percentiles(boot)
    return Estimate(alpha, low, high, NAN, d_e)


# --- rankings -----------------------------------------------------------------------------------

def _ranks(rankings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks along the last axis (smaller = better, nan tied last) and each tie-group size."""
    x = np.where(np.isnan(rankings), np.inf, rankings)
    a, b = x[..., :, None], x[..., None, :]
    ties = (b == a).sum(-1)
    return (b < a).sum(-1) + (ties + 1) / 2, ties


def _rankings(rankings) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rankings, dtype=float)
    if r.ndim < 2:
        raise ValueError("expected raters x items ranks (or units x raters x items)")
    return r, ~np.all(np.isnan(r), axis=-1)  # a row of nan is a rater who did not rank


def _scalar(a: np.ndarray):
    return float(a) if a.ndim == 0 else a


def kendall_w(rankings):
    """Kendall's W (tie-corrected) of a raters x items rank matrix; units x raters x items gives one W per unit."""
    r, rated = _rankings(rankings)
    ranks, ties = _ranks(r)
    m, k = rated.sum(-1), r.shape[-1]
    sums = np.where(rated[..., None], ranks, 0).sum(-2)
    s = ((sums - m[..., None] * (k + 1) / 2) ** 2).sum(-1)
    # sum over tie groups of t^3 - t equals the sum over items of (group size)^2 - 1
    t = np.where(rated[..., None], ties**2 - 1, 0).sum((-2, -1))
    den = m**2 * (k**3 - k) - m * t
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where((m >= 2) & (den > 0), 12 * s / den, NAN)
    return _scalar(w)


def mean_kendall_tau(rankings):
    """Mean Kendall tau-b over rater pairs of a raters x items rank matrix (or per unit of a 3-D array)."""
    r, rated = _rankings(rankings)
    x = np.where(np.isnan(r), np.inf, r)  # unranked items of a partial ranking tie last
    a, b = x[..., :, None], x[..., None, :]
    sign = (a > b).astype(np.int8) - (a < b)  # int8 keeps units x raters x items^2 small
    untied = (sign != 0).sum((-2, -1))
    total = np.zeros(r.shape[:-2])
    count = np.zeros(r.shape[:-2])
    for i, j in combinations(range(r.shape[-2]), 2):
        num = (sign[..., i, :, :] * sign[..., j, :, :].astype(np.int16)).sum((-2, -1))
        den = np.sqrt(untied[..., i] * untied[..., j].astype(float))
        ok = rated[..., i] & rated[..., j] & (den > 0)
        total += np.where(ok, num / np.where(ok, den, 1), 0)
        count += ok
    with np.errstate(invalid="ignore"):
        return _scalar(np.where(count > 0, total / count, NAN))


# --- benchmark ----------------------------------------------------------------------------------

def benchmark_alpha(units: int = 100_000, raters: int = 5, level: str = "nominal",
                    seed: int = 0) -> dict:
    """Seconds for alpha on random 1-5 ratings (20% missing), against the krippendorff package if installed."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, (units, raters)).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    start = time.perf_counter()
    ours = krippendorff_alpha(x, level)
    out = {"units": units, "raters": raters, "level": level, "alpha": ours,
           "seconds": time.perf_counter() - start}
    try:  # a dev-only oracle; import_module keeps PyInstaller from bundling it
        krippendorff = importlib.import_module("krippendorff")
    except ImportError:
        return out
    start = time.perf_counter()
    theirs = krippendorff.alpha(reliability_data=x.T, level_of_measurement=level)
    out.update(reference_alpha=float(theirs), reference_seconds=time.perf_counter() - start)
    return out
