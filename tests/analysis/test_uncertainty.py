"""Uncertainty of the agreement figures: published standard errors reproduced, seeded intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotary.analysis.agreement import (
    alpha_estimate,
    cohen_estimate,
    cohen_null_se,
    fleiss_estimate,
    fleiss_estimate_from_matrix,
    kappa_of_table,
    krippendorff_alpha,
    wald,
)

# SAS PROC FREQ AGREE example (statsmodels' test oracle): two raters, three categories, 19 units
SAS_TABLE = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]], dtype=float)

# Fleiss (1971) Table 1: 30 patients, 6 psychiatrists each, 5 diagnoses (R irr `diagnoses`)
DIAGNOSES = np.array([
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5]],
    dtype=float)

# Hayes & Krippendorff (2007) Table 1: 40 units, 5 observers, ordinal 0-3, "." = not coded
HK_2007 = """\
1 1 1 2 . 2|2 1 1 0 1 .|3 2 3 3 3 .|4 . 0 0 . 0|5 0 0 0 . 0|6 0 0 0 . 0|7 1 0 2 . 1|8 1 . 2 0 .
9 2 2 2 . 2|10 2 1 1 1 .|11 . 1 0 0 .|12 0 0 0 0 .|13 1 2 2 2 .|14 3 3 2 2 3|15 1 1 1 . 1
16 1 1 1 . 1|17 2 1 2 . 2|18 1 2 3 3 .|19 1 1 0 1 .|20 0 0 0 . 0|21 0 0 1 1 .|22 0 0 . 0 0
23 2 3 3 3 .|24 0 0 0 0 .|25 1 2 . 2 2|26 0 1 1 1 .|27 0 0 0 1 0|28 1 2 1 2 .|29 1 1 2 2 .
30 1 1 2 . 2|31 1 1 0 . 0|32 2 1 2 1 .|33 2 2 . 2 2|34 3 2 2 2 .|35 2 2 2 . 2|36 2 2 3 . 2
37 2 2 2 . 2|38 2 2 . 1 2|39 2 2 2 2 .|40 1 1 1 . 1"""
HK = np.array([[math.nan if v == "." else float(v) for v in unit.split()[1:]]
               for line in HK_2007.splitlines() for unit in line.split("|")])


def test_cohen_kappa_standard_errors_are_sas_s():
    n = int(SAS_TABLE.sum())
    plain = kappa_of_table(SAS_TABLE / n, n)
    assert (round(plain.kappa, 4), round(plain.se, 4)) == (0.4842, 0.1380)
    assert tuple(round(v, 4) for v in wald(plain.kappa, plain.se)) == (0.2137, 0.7547)
    assert round(cohen_null_se(SAS_TABLE / n, n), 4) == 0.1484
    # SAS's weighted kappa (Cicchetti-Allison weights on scores 0, 1, 2: linear)
    linear = kappa_of_table(SAS_TABLE / n, n, "linear")
    assert (round(linear.kappa, 4), round(linear.se, 4)) == (0.4701, 0.1457)
    assert tuple(round(v, 4) for v in wald(linear.kappa, linear.se)) == (0.1845, 0.7558)
    assert round(cohen_null_se(SAS_TABLE / n, n, "linear"), 4) == 0.1426


def test_cohen_estimate_from_ratings_is_the_table_s():
    rows, cols = np.nonzero(SAS_TABLE)
    a = np.repeat(rows, SAS_TABLE[rows, cols].astype(int)).astype(float)
    b = np.repeat(cols, SAS_TABLE[rows, cols].astype(int)).astype(float)
    got = cohen_estimate(a, b, categories=[0, 1, 2])
    n = int(SAS_TABLE.sum())
    assert got == pytest.approx(kappa_of_table(SAS_TABLE / n, n))
    # chance agreement: the raters' marginal shares multiplied, summed over categories
    p = SAS_TABLE / n
    assert got.expected == pytest.approx(float(p.sum(1) @ p.sum(0)))


def test_fleiss_standard_error_is_fleiss_nee_landis_on_fleiss_1971():
    e = fleiss_estimate_from_matrix(DIAGNOSES)
    assert e.value == pytest.approx(0.4302445, abs=1e-7)  # Fleiss (1971): .430
    assert e.value / e.se == pytest.approx(17.65183, abs=1e-5)  # R irr::kappam.fleiss z
    assert e.expected == pytest.approx(0.2199383, abs=1e-7)  # the sum of squared category shares
    assert e.low < e.value < e.high


def test_alpha_interval_holds_the_estimate_and_is_seeded():
    e = alpha_estimate(HK, "ordinal")
    assert round(e.value, 4) == 0.7598  # Hayes & Krippendorff (2007)
    assert e.low < e.value < e.high and 0.6 < e.low and e.high < 0.9
    assert alpha_estimate(HK, "ordinal") == e  # same data, same interval
    other = alpha_estimate(HK, "ordinal", seed=7)
    assert other != e and other.low == pytest.approx(e.low, abs=0.02)
    for level in ("nominal", "interval", "ratio"):
        f = alpha_estimate(HK, level)
        assert f.value == pytest.approx(krippendorff_alpha(HK, level))
        assert f.low <= f.value <= f.high


def test_the_bootstrap_is_centred_on_alpha_and_narrows_with_more_units():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 4, 2000)
    x = np.where(rng.random((2000, 3)) < 0.8, truth[:, None], rng.integers(0, 4, (2000, 3))).astype(float)
    big, small = alpha_estimate(x, "nominal"), alpha_estimate(x[:100], "nominal")
    assert (big.low + big.high) / 2 == pytest.approx(big.value, abs=0.01)
    assert big.high - big.low < (small.high - small.low) / 3


def test_undefined_figures_have_no_interval():
    one = np.ones((5, 3))
    assert all(math.isnan(v) for v in alpha_estimate(one, "nominal")[:3])
    assert math.isnan(fleiss_estimate(np.zeros((0, 3))).value)
    assert math.isnan(cohen_estimate([1, 1], [1, 1]).se)
    assert all(math.isnan(v) for v in wald(math.nan, 0.1))
