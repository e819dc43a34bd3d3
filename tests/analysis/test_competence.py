"""Dawid-Skene: recovers the truth from one good and two biased raters better than majority vote."""

import numpy as np
import pytest

from annotary.analysis.competence import dawid_skene


def synthetic(units=3000, seed=0):
    """Truth over 3 classes; rater 1 is right 90% of the time, raters 0 and 2 are right 50% and
    otherwise both say the next class, so they often outvote the good rater together."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, units, p=[0.5, 0.3, 0.2])
    good = np.where(rng.random(units) < 0.9, truth, rng.integers(0, 3, units))
    noisy = [np.where(rng.random(units) < 0.5, truth, (truth + 1) % 3) for _ in range(2)]
    x = np.stack([noisy[0], good, noisy[1]], axis=1).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, truth


def majority_vote(x, k=3):
    counts = np.stack([(x == c).sum(1) for c in range(k)], axis=1)
    return counts.argmax(1)


def test_recovers_truth_better_than_majority_and_ranks_the_good_rater_first():
    x, truth = synthetic()
    fit = dawid_skene(x)
    assert fit.converged
    ds_acc = (fit.posterior.argmax(1) == truth).mean()
    mv_acc = (majority_vote(x) == truth).mean()
    assert ds_acc > mv_acc + 0.05
    assert ds_acc > 0.85
    assert fit.reliability.argmax() == 1
    assert fit.reliability[1] == pytest.approx(0.93, abs=0.03)  # 0.9 + 0.1 / 3 by chance
    assert fit.reliability[0] == pytest.approx(0.5, abs=0.05)
    assert fit.confusion.shape == (3, 3, 3)
    assert np.allclose(fit.confusion.sum(2), 1)
    assert np.allclose(fit.posterior.sum(1), 1)
    assert fit.prior == pytest.approx([0.5, 0.3, 0.2], abs=0.03)
    # The biased raters' habit of saying the next class is learned.
    assert fit.confusion[0, 0, 1] == pytest.approx(0.5, abs=0.05)


def test_deterministic():
    x, _ = synthetic(500, seed=3)
    a, b = dawid_skene(x), dawid_skene(x)
    assert np.array_equal(a.posterior, b.posterior) and a.iterations == b.iterations


def test_unanimous_raters_are_reliable_and_unrated_units_get_the_prior():
    x = np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2], [0, 0, 0], [np.nan] * 3])
    fit = dawid_skene(x)
    assert (fit.posterior[:4].argmax(1) == [0, 1, 2, 0]).all()
    assert (fit.posterior[:4].max(1) > 0.99).all()
    assert (fit.reliability > 0.95).all()
    assert fit.posterior[4] == pytest.approx(fit.prior)


def test_declared_classes_and_bad_input():
    fit = dawid_skene([[0, 0], [1, np.nan]], n_classes=4)
    assert fit.posterior.shape == (2, 4) and fit.confusion.shape == (2, 4, 4)
    with pytest.raises(ValueError, match="category index"):
        dawid_skene([[0, 3]], n_classes=2)
    with pytest.raises(ValueError, match="indices"):
        dawid_skene([[0, 1.5]])
