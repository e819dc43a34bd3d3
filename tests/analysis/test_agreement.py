"""Agreement statistics: published worked examples, edge cases and the input helpers."""

import math

import numpy as np
import pytest

from annotary.analysis.agreement import (
    band,
    category_counts,
    cohen_kappa,
    fleiss_from_matrix,
    fleiss_kappa,
    kendall_w,
    krippendorff_alpha,
    mean_kendall_tau,
    pairwise_cohen,
    percent_agreement,
)
from annotary.analysis.arrays import as_matrix, encode

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", reliability data with
# missing values: observers A-D (rows there, columns here) x 12 units.
KRIPPENDORFF_2011 = np.array(as_matrix([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
    [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
])).T

# Wikipedia, "Fleiss' kappa": 10 subjects x 5 categories, 14 raters each.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]


def table_to_ratings(table):
    """Two raters' rating vectors from a contingency table (rows rater a, columns rater b)."""
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return a, b


def counts_to_matrix(counts):
    """A units x raters matrix whose category counts are the given table."""
    return np.array([[c for c, n in enumerate(row) for _ in range(n)] for row in counts], float)


@pytest.mark.parametrize("level, expected", [
    ("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)])
def test_alpha_reproduces_krippendorff_2011(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level) == pytest.approx(expected, abs=5e-4)


def test_fleiss_reproduces_wikipedia():
    assert round(fleiss_kappa(FLEISS_WIKIPEDIA), 3) == 0.210
    assert fleiss_from_matrix(counts_to_matrix(FLEISS_WIKIPEDIA)) == pytest.approx(
        fleiss_kappa(FLEISS_WIKIPEDIA))


def test_cohen_on_the_two_by_two_table():
    a, b = table_to_ratings([[20, 5], [10, 15]])
    assert cohen_kappa(a, b) == pytest.approx(0.40)


def test_cohen_drops_units_either_rater_missed():
    a, b = table_to_ratings([[20, 5], [10, 15]])
    assert cohen_kappa(a + [1, N, N], b + [N, 0, N]) == pytest.approx(0.40)


def test_cohen_weights_follow_category_order():
    a, b = [1, 2, 3, 3], [1, 3, 2, 3]
    linear = cohen_kappa(a, b, weights="linear")
    assert cohen_kappa(a, b, weights="linear", categories=[1, 2, 3]) == linear
    # Adding an unused category at the end stretches nothing between used ones ...
    assert cohen_kappa(a, b, weights="linear", categories=[1, 2, 3, 4]) == pytest.approx(linear)
    # ... but putting it in the middle does.
    assert cohen_kappa(a, b, weights="linear", categories=[1, 2, 4, 3]) != pytest.approx(linear)
    with pytest.raises(ValueError, match="not one of the categories"):
        cohen_kappa(a, b, categories=[1, 2])
    with pytest.raises(ValueError, match="weights"):
        cohen_kappa(a, b, weights="cubic")


def test_pairwise_cohen_reports_every_pair_and_overlap():
    m = [[0, 0, N], [1, 1, 1], [1, 0, N], [0, 0, 0], [N, N, 1]]
    out = pairwise_cohen(m, ["ann", "bob", "cy"])
    assert list(out) == [("ann", "bob"), ("ann", "cy"), ("bob", "cy")]
    assert out["ann", "bob"].n == 4
    assert out["ann", "bob"].kappa == pytest.approx(cohen_kappa([0, 1, 1, 0], [0, 1, 0, 0]))
    assert out["ann", "cy"][:2] == (1.0, 2) and out["ann", "cy"].se == 0.0  # perfect agreement: no spread
    with pytest.raises(ValueError, match="rater ids"):
        pairwise_cohen(m, ["ann"])


def test_no_overlap_is_nan_not_a_crash():
    m = [[0, N], [N, 1], [1, N]]
    out = pairwise_cohen(m, ["a", "b"])
    assert out["a", "b"].n == 0 and math.isnan(out["a", "b"].kappa)
    assert math.isnan(cohen_kappa([0, N], [N, 1]))
    assert math.isnan(percent_agreement(m))
    assert math.isnan(fleiss_from_matrix(m))
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert math.isnan(krippendorff_alpha(m, level))
    assert math.isnan(krippendorff_alpha(np.empty((0, 3))))


def test_perfect_agreement_is_one_when_categories_vary():
    m = [[0, 0, 0], [1, 1, N], [2, 2, 2], [1, 1, 1]]
    assert percent_agreement(m) == 1.0
    assert fleiss_from_matrix(m) == pytest.approx(1.0)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(m, level) == pytest.approx(1.0)
    assert cohen_kappa([0, 1, 2], [0, 1, 2], weights="quadratic") == pytest.approx(1.0)


def test_a_single_category_is_undefined_but_fully_agreed():
    m = [[3, 3], [3, 3], [3, N]]
    assert percent_agreement(m) == 1.0
    assert math.isnan(cohen_kappa([3, 3], [3, 3]))
    assert math.isnan(fleiss_from_matrix(m))
    assert math.isnan(krippendorff_alpha(m, "interval"))
    assert math.isnan(krippendorff_alpha([[0.1, 0.1], [0.1, 0.1], [0.1, 0.1]], "interval"))
    assert band(krippendorff_alpha(m)) == "n/a"


def test_percent_agreement_averages_units():
    # unit 1: 3 of 3 pairs agree; unit 2: 1 of 3; unit 3: 0 of 1; unit 4 rated once: ignored
    assert percent_agreement([[1, 1, 1], [1, 1, 2], [1, 2, N], [1, N, N]]) == pytest.approx(
        (1 + 1 / 3 + 0) / 3)


def test_alpha_ignores_raters_column_order_and_empty_columns():
    shuffled = KRIPPENDORFF_2011[:, [2, 0, 3, 1]]
    padded = np.hstack([np.full((12, 30), np.nan), shuffled])
    assert krippendorff_alpha(padded, "ordinal") == pytest.approx(
        krippendorff_alpha(KRIPPENDORFF_2011, "ordinal"))


def test_alpha_rejects_unknown_level():
    with pytest.raises(ValueError, match="level"):
        krippendorff_alpha(KRIPPENDORFF_2011, "cardinal")


def test_category_counts():
    counts, cats = category_counts([[2, 5, N], [5, 5, 5]])
    assert cats.tolist() == [2, 5]
    assert counts.tolist() == [[1, 1], [0, 3]]


def test_kendall_w_known_values():
    assert kendall_w([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]) == pytest.approx(1.0)
    assert kendall_w([[1, 2, 3, 4], [4, 3, 2, 1]]) == pytest.approx(0.0)
    # Ties: 3 raters x 4 items, second rater ties items 2 and 3.
    r = [[1, 2, 3, 4], [1, 2.5, 2.5, 4], [2, 1, 3, 4]]
    sums = np.array([4, 5.5, 8.5, 12])
    s = ((sums - 7.5) ** 2).sum()
    assert kendall_w(r) == pytest.approx(12 * s / (9 * 60 - 3 * 6))


def test_rankings_accept_tied_ranks_as_any_equal_numbers():
    # "1, 2, 2, 4" and "1, 2, 2, 3" both tie the middle two: same average ranks.
    assert kendall_w([[1, 2, 2, 4], [1, 3, 2, 4]]) == pytest.approx(
        kendall_w([[1, 2.5, 2.5, 4], [1, 3, 2, 4]]))
    assert mean_kendall_tau([[1, 2, 2, 3], [1, 3, 2, 4]]) == pytest.approx(
        mean_kendall_tau([[1, 2.5, 2.5, 4], [1, 3, 2, 4]]))


def test_rankings_partial_and_missing_raters():
    # nan items of a row are unranked (tied last); an all-nan row is a rater who did not rank.
    partial = [[1, 2, N, N], [1, 2, 3, 4], [N, N, N, N]]
    explicit = [[1, 2, 3.5, 3.5], [1, 2, 3, 4]]
    assert kendall_w(partial) == pytest.approx(kendall_w(explicit))
    assert mean_kendall_tau(partial) == pytest.approx(mean_kendall_tau(explicit))
    assert math.isnan(kendall_w([[1, 2, 3], [N, N, N]]))
    assert math.isnan(mean_kendall_tau([[1, 1, 1], [1, 2, 3]]))  # tau-b undefined for all-tied


def test_rankings_batch_over_units():
    units = np.array([[[1, 2, 3], [1, 2, 3]], [[1, 2, 3], [3, 2, 1]], [[1, 2, 3], [N, N, N]]])
    w = kendall_w(units)
    assert w[:2] == pytest.approx([1.0, 0.0]) and math.isnan(w[2])
    tau = mean_kendall_tau(units)
    assert tau[:2] == pytest.approx([1.0, -1.0]) and math.isnan(tau[2])
    assert [kendall_w(u) for u in units[:2]] == pytest.approx(w[:2].tolist())


@pytest.mark.parametrize("value, expected", [
    (0.95, "good"), (0.7, "good"), (0.69, "watch"), (0.4, "watch"), (0.39, "flagged"),
    (-0.2, "flagged"), (None, "n/a"), (math.nan, "n/a")])
def test_band(value, expected):
    assert band(value) == expected


def test_encode_labels_and_missing():
    codes, cats = encode([["A", "B", None], ["tie", "A", math.nan]])
    assert cats == ["A", "B", "tie"]
    assert np.array_equal(codes, [[0, 1, np.nan], [2, 0, np.nan]], equal_nan=True)
    codes, cats = encode([["bad", "good"]], categories=["good", "bad"])
    assert codes.tolist() == [[1, 0]]
    with pytest.raises(ValueError, match="'meh'"):
        encode([["meh"]], categories=["good", "bad"])


def test_as_matrix_refuses_other_shapes():
    with pytest.raises(ValueError, match="units x raters"):
        as_matrix([1, 2, 3])
