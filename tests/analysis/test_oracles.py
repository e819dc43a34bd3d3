"""Agreement statistics against independent implementations on random data with missing ratings."""

import numpy as np
import pytest

from annotary.analysis.agreement import (
    cohen_kappa,
    fleiss_from_matrix,
    fleiss_kappa,
    kendall_w,
    krippendorff_alpha,
    mean_kendall_tau,
    pairwise_cohen,
)

SEEDS = range(8)


def ratings(seed, units=300, raters=5, values=5, missing=0.3):
    """Random ratings 1..values with a shared tendency per unit, so agreement is not all chance."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, values + 1, (units, 1))
    x = np.where(rng.random((units, raters)) < 0.6, truth, rng.integers(1, values + 1, (units, raters)))
    x = x.astype(float)
    x[rng.random(x.shape) < missing] = np.nan
    return x


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package(seed, level):
    krippendorff = pytest.importorskip("krippendorff")
    x = ratings(seed, raters=3 + seed % 4, values=2 + seed % 6, missing=0.1 * (seed % 5))
    expected = krippendorff.alpha(reliability_data=x.T, level_of_measurement=level)
    assert krippendorff_alpha(x, level) == pytest.approx(expected, abs=1e-10)


def test_alpha_matches_on_non_integer_values():
    krippendorff = pytest.importorskip("krippendorff")
    x = ratings(99) / 4 + 0.3  # e.g. rubric scores: fractions, not a 1..k scale
    for level in ("ordinal", "interval", "ratio"):
        expected = krippendorff.alpha(reliability_data=x.T, level_of_measurement=level)
        assert krippendorff_alpha(x, level) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_matches_sklearn(seed, weights):
    metrics = pytest.importorskip("sklearn.metrics")
    x = ratings(seed, raters=2, values=2 + seed % 5)
    a, b = x[:, 0], x[:, 1]
    both = ~(np.isnan(a) | np.isnan(b))
    expected = metrics.cohen_kappa_score(a[both], b[both], weights=weights)
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected, abs=1e-10)
    cats = np.arange(1, 8)  # a fixed scale with unused points, as pairwise_cohen passes it
    expected = metrics.cohen_kappa_score(a[both], b[both], weights=weights, labels=cats)
    assert cohen_kappa(a, b, weights=weights, categories=cats) == pytest.approx(expected, abs=1e-10)


def test_pairwise_cohen_matches_sklearn_per_pair():
    metrics = pytest.importorskip("sklearn.metrics")
    x = ratings(5, raters=4)
    cats = np.unique(x[~np.isnan(x)])
    for (i, j), (kappa, n, *_) in pairwise_cohen(x, range(4), weights="quadratic").items():
        both = ~(np.isnan(x[:, i]) | np.isnan(x[:, j]))
        assert n == both.sum()
        expected = metrics.cohen_kappa_score(x[both, i], x[both, j], weights="quadratic", labels=cats)
        assert kappa == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_fleiss_matches_statsmodels(seed):
    inter_rater = pytest.importorskip("statsmodels.stats.inter_rater")
    x = ratings(seed, raters=3 + seed, values=2 + seed % 4, missing=0)  # Fleiss: equal raters per unit
    table, _ = inter_rater.aggregate_raters(x)
    expected = inter_rater.fleiss_kappa(table, method="fleiss")
    assert fleiss_kappa(table) == pytest.approx(expected, abs=1e-10)
    assert fleiss_from_matrix(x) == pytest.approx(expected, abs=1e-10)


def random_rankings(seed, raters, items, ties):
    rng = np.random.default_rng(seed)
    base = rng.permutation(items)
    r = np.array([base + rng.normal(0, 2, items) for _ in range(raters)])
    return np.round(r) if ties else r  # rounding makes ties


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_tau_matches_scipy(seed):
    stats = pytest.importorskip("scipy.stats")
    r = random_rankings(seed, raters=2 + seed % 4, items=4 + seed, ties=seed % 2 == 0)
    taus = [stats.kendalltau(r[i], r[j]).statistic
            for i in range(len(r)) for j in range(i + 1, len(r))]
    assert mean_kendall_tau(r) == pytest.approx(np.nanmean(taus), abs=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_kendall_w_matches_scipy_friedman(seed):
    # Friedman's chi-square (tie-corrected in scipy) is m (n - 1) W.
    stats = pytest.importorskip("scipy.stats")
    r = random_rankings(seed, raters=2 + seed % 4, items=4 + seed, ties=seed % 2 == 0)
    m, n = r.shape
    chi2 = stats.friedmanchisquare(*r.T).statistic
    assert kendall_w(r) == pytest.approx(chi2 / (m * (n - 1)), abs=1e-10)


def test_batch_rankings_match_one_by_one():
    units = np.stack([random_rankings(s, raters=4, items=6, ties=True) for s in range(20)])
    units[3, 1] = np.nan
    units[5, 2, :3] = np.nan
    assert kendall_w(units) == pytest.approx([kendall_w(u) for u in units])
    assert mean_kendall_tau(units) == pytest.approx([mean_kendall_tau(u) for u in units])


def test_large_matrix_matches_package():
    krippendorff = pytest.importorskip("krippendorff")
    x = ratings(7, units=100_000, raters=5, missing=0.2)
    expected = krippendorff.alpha(reliability_data=x.T, level_of_measurement="ordinal")
    assert krippendorff_alpha(x, "ordinal") == pytest.approx(expected, abs=1e-9)
