"""cardiogen.metrics.bootstrap: intervals over resampled cases, paired across models, against known truth."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.errors import CardioGenInputError
from cardiogen.metrics import (
    bootstrap_statistics,
    case_bootstrap,
    fid_from_features,
    ordering_share,
    paired_difference,
    resample_indices,
    rows_of,
)


def test_interval_of_a_mean_covers_the_true_mean_at_about_its_level():
    """Known truth: 200 samples of 40 cases from N(1, 1); the 90 % interval of the mean must cover 1 about 90 % of
    the time (percentile bootstrap of a mean is slightly narrow at n = 40: coverage near 0.88)."""
    rng = np.random.default_rng(1)
    covered = 0
    for trial in range(200):
        x = rng.normal(1.0, 1.0, 40)
        ci = case_bootstrap(lambda idx: x[idx].mean(), 40, n_resamples=300, level=0.9, seed=trial)
        assert ci.low < ci.estimate < ci.high
        assert ci.estimate == pytest.approx(x.mean())
        covered += ci.low <= 1.0 <= ci.high
    assert 0.82 <= covered / 200 <= 0.96, covered
    # the interval's width follows the standard error: about 2 * 1.645 / sqrt(40)
    assert ci.high - ci.low == pytest.approx(2 * 1.645 / np.sqrt(40), rel=0.3)


def test_pairing_cancels_what_moves_both_models_alike():
    """Two models on 30 cases whose difficulty varies much more than the models differ: the paired interval of the
    difference excludes 0, while the two models' own intervals overlap."""
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0.0, 2.0, 30)
    a = difficulty + rng.normal(0.0, 0.1, 30)  # model a: 0.3 better (lower error) on every case
    b = difficulty + 0.3 + rng.normal(0.0, 0.1, 30)
    diff = paired_difference(lambda idx: a[idx].mean(), lambda idx: b[idx].mean(), 30, n_resamples=500)
    assert diff.estimate == pytest.approx(b.mean() - a.mean())
    assert diff.excludes_zero() and diff.low > 0.2 and diff.share_positive == 1.0
    ci_a = case_bootstrap(lambda idx: a[idx].mean(), 30, n_resamples=500)
    ci_b = case_bootstrap(lambda idx: b[idx].mean(), 30, n_resamples=500)
    assert ci_a.high > ci_b.low  # unpaired, the two would look alike
    same = paired_difference(lambda idx: a[idx].mean(), lambda idx: a[idx].mean(), 30, n_resamples=50)
    assert (same.estimate, same.low, same.high, same.share_positive) == (0.0, 0.0, 0.0, 0.0)
    assert not same.excludes_zero()


def test_set_distances_per_case_blocks_and_ordering():
    """cFID-style use: per-case blocks of frame features against the reference blocks of the same cases. Models
    further from the reference rank behind in nearly every resample; two draws of one model tie."""
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((20, 16, 8))
    models = {shift: ref + shift + rng.standard_normal(ref.shape) * 0.2 for shift in (0.0, 0.3, 0.6, 1.2)}

    def stat(blocks):
        return lambda idx: fid_from_features(rows_of(blocks, idx), rows_of(ref, idx))

    order = [stat(models[s]) for s in (0.0, 0.3, 0.6, 1.2)]
    assert ordering_share(order, 20, n_resamples=200) > 0.95
    assert ordering_share(order[::-1], 20, n_resamples=200) == 0.0
    twin = ref + rng.standard_normal(ref.shape) * 0.2
    tie = paired_difference(stat(models[0.0]), stat(twin), 20, n_resamples=200)
    assert tie.low < 0.0 < tie.high
    dice_good, dice_poor = 0.9 + rng.normal(0, 0.01, 20), 0.8 + rng.normal(0, 0.01, 20)  # higher is better
    good, poor = (lambda idx: dice_good[idx].mean()), (lambda idx: dice_poor[idx].mean())
    assert ordering_share([good, poor], 20, lower_is_better=False, n_resamples=50) == 1.0
    assert ordering_share([poor, good], 20, lower_is_better=False, n_resamples=50) == 0.0


def test_resamples_are_seeded_and_shared():
    a = resample_indices(12, 5, seed=7)
    assert a.shape == (5, 12) and a.min() >= 0 and a.max() < 12
    assert np.array_equal(a, resample_indices(12, 5, seed=7))
    assert not np.array_equal(a, resample_indices(12, 5, seed=8))
    x = np.arange(12.0)
    first = case_bootstrap(lambda idx: x[idx].mean(), 12, n_resamples=50, seed=4)
    assert first == case_bootstrap(lambda idx: x[idx].mean(), 12, n_resamples=50, seed=4)
    assert first.as_dict()["n_resamples"] == 50 and first.format(1).startswith("5.5 [")
    assert first.format(1, signed=True).startswith("+5.5 [+")
    assert rows_of(np.zeros((4, 3, 2)), np.array([0, 0, 1])).shape == (9, 2)
    assert rows_of(np.zeros((4, 2)), np.array([3, 1])).shape == (2, 2)


@pytest.mark.parametrize("call, message", [
    (lambda: resample_indices(1, 10), "n_cases"),
    (lambda: resample_indices(5, 0), "n_resamples"),
    (lambda: case_bootstrap(lambda idx: 0.0, 5, level=1.0), "level"),
    (lambda: case_bootstrap(lambda idx: float("nan"), 5), "not finite on all cases"),
    (lambda: case_bootstrap(lambda idx: 0.0 if len(set(idx)) == 5 else np.inf, 5), "not finite on resample"),
    (lambda: ordering_share([lambda idx: 0.0], 5), "at least 2 models"),
    (lambda: rows_of(np.zeros(3), np.array([0])), "per-case blocks"),
])
def test_bad_arguments_say_what_is_wrong(call, message):
    with pytest.raises(CardioGenInputError, match=message):
        call()


def test_one_table_of_resamples_serves_every_comparison():
    """bootstrap_statistics evaluates each statistic once per resample; its intervals, differences and orderings
    agree with the one-off functions on the same seed."""
    rng = np.random.default_rng(5)
    x, y, z = rng.normal(0, 1, 25), rng.normal(2.0, 0.5, 25), rng.normal(3.0, 0.5, 25)
    calls = {"x": 0}

    def sx(idx):
        calls["x"] += 1
        return x[idx].mean()

    stats = {"x": sx, "y": lambda idx: y[idx].mean(), "z": lambda idx: z[idx].mean()}
    table = bootstrap_statistics(stats, 25, n_resamples=100, seed=3)
    assert calls["x"] == 101  # all cases, then each resample once
    assert table.interval("y") == case_bootstrap(stats["y"], 25, n_resamples=100, seed=3)
    assert table.difference("x", "z") == paired_difference(sx, stats["z"], 25, n_resamples=100, seed=3)
    assert table.ordering(["x", "y", "z"]) == ordering_share([sx, stats["y"], stats["z"]], 25, n_resamples=100,
                                                             seed=3)
    assert table.ordering(["z", "y", "x"], lower_is_better=False) == table.ordering(["x", "y", "z"])
    assert table.advantage("x", "z") == table.difference("x", "z")
    assert table.advantage("z", "x", lower_is_better=False) == table.difference("x", "z")
    rel = table.relative_difference("y", "z")  # z's mean 1.0 against y's 0.5 (both above 0 here)
    assert rel.estimate == pytest.approx(z.mean() / y.mean() - 1.0) and rel.low < rel.estimate < rel.high
    with pytest.raises(CardioGenInputError, match="above 0 in every resample"):
        table.relative_difference("x", "y")  # x's mean is near 0 and changes sign
    with pytest.raises(CardioGenInputError, match="no bootstrap statistic of that name"):
        table.interval("w")
    with pytest.raises(CardioGenInputError, match="no statistics"):
        bootstrap_statistics({}, 5)
