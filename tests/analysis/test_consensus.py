"""Per-unit consensus: majority, median, mean and Borda, with their support shares."""

import math

import pytest

from annotary.analysis.consensus import borda, borda_scores, majority, mean_interval, median_ordinal


def test_majority_value_and_share():
    assert majority(["A", "A", "B"]) == ("A", pytest.approx(2 / 3))
    assert majority(["A", "B", None, math.nan, "A"]) == ("A", pytest.approx(2 / 3))


def test_majority_ties_and_weak_shares_are_conflicts():
    assert majority(["A", "B"]) == (None, 0.5)
    assert majority(["A", "A", "B", "B", "tie"]).value is None
    assert majority(["A", "A", "B", "tie"]) == ("A", 0.5)  # half, and no rival as large
    assert majority(["A", "A", "B", "tie"], min_share=0.6) == (None, 0.5)
    assert majority(["A", "A", "B"], min_share=2 / 3).value == "A"  # 2/3 meets 2/3 exactly


def test_majority_weights():
    assert majority(["A", "B", "B"], weights=[0.9, 0.3, 0.3]) == ("A", pytest.approx(0.6))
    with pytest.raises(ValueError):
        majority(["A", "B"], weights=[1.0])


def test_nothing_rated_is_no_consensus():
    for f in (majority, median_ordinal, mean_interval):
        assert f([None, math.nan]) == (None, 0.0)
    assert borda([]) == (None, 0.0)


def test_median_is_a_scale_point():
    assert median_ordinal([1, 4, 4]) == (4, pytest.approx(2 / 3))
    assert median_ordinal([2, 4]) == (2, 0.5)  # lower median of an even split
    assert median_ordinal([2, 3, 3, 5], tol=1) == (3, 0.75)
    assert median_ordinal([3, None, 3]) == (3, 1.0)


def test_mean_and_share_within_tolerance():
    assert mean_interval([1, 2, 3]) == (2.0, pytest.approx(1 / 3))
    assert mean_interval([1, 2, 3], tol=1) == (2.0, 1.0)
    assert mean_interval([0.5, None]) == (0.5, 1.0)


def test_borda_points_and_order():
    rankings = [["r1", "r2", "r3"], ["r1", "r3", "r2"], ["r2", "r1", "r3"]]
    assert borda_scores(rankings) == {"r1": 5, "r2": 3, "r3": 1}
    order, support = borda(rankings)
    assert order == [["r1"], ["r2"], ["r3"]]
    # 9 rater preferences; the consensus keeps r1>r2 twice, r1>r3 three times, r2>r3 twice.
    assert support == pytest.approx(7 / 9)


def test_borda_tied_groups_share_points():
    # RankingAnswer.order shape: groups of ids, best first, a group is a tie.
    assert borda_scores([[["r1", "r2"], ["r3"]]]) == {"r1": 1.5, "r2": 1.5, "r3": 0}
    order, support = borda([[["r1", "r2"], ["r3"]], [["r2"], ["r1", "r3"]]])
    assert order == [["r2"], ["r1"], ["r3"]]
    assert support == 1.0


def test_borda_partial_rankings_tie_the_rest_last():
    scores = borda_scores([["r2"]], items=["r1", "r2", "r3"])
    assert scores == {"r1": 0.5, "r2": 2, "r3": 0.5}
    order, _ = borda([["r2"]], items=["r1", "r2", "r3"])
    assert order == [["r2"], ["r1", "r3"]]


def test_borda_even_split_is_a_tie():
    order, support = borda([["a", "b"], ["b", "a"]])
    assert order == [["a", "b"]]
    assert support == 0.0
