"""How sure is a benchmark's ranking? Percentile bootstrap over cases, paired across models.

A benchmark evaluates every model on the same held-out cases, and its set statistics (cFID, cFVD, I3D-FVD) and
per-case means (motion error, Dice) move when the cases change. Resampling the *cases* with replacement, and using
the same resample for every model and for the reference set of those cases, gives the spread of each statistic
and, for a difference between two models, an interval that keeps their pairing: case-to-case variation that moves
both models alike cancels (Efron & Tibshirani 1993, ch. 13; the percentile interval).

* :func:`bootstrap_statistics` -- every model's statistic on all cases and on the same resamples, evaluated
  once; its :class:`Resampled` gives each model's interval, paired (relative) differences and ordering shares.
* :func:`case_bootstrap` -- any statistic of a set of case indices ``idx (n,)``: the value on all cases, a
  percentile interval, and the share of resamples in which it is above 0.
* :func:`paired_difference` -- ``statistic_b(idx) - statistic_a(idx)`` on the same resamples, so that for a
  "lower is better" metric a positive value means ``a`` is better.
* :func:`ordering_share` -- the share of resamples in which a whole ranking of models holds (for example seed 000's
  Table 1: ours, then VDM, then ControlNet, then CycleGAN).
* :func:`rows_of` -- gathers the rows of per-case blocks ``(n_cases, k, d)`` of features for a resample.

With duplicated cases a resample's Fréchet distance is biased upward (fewer distinct samples); the bias hits every
model of one resample alike, so read the intervals of *differences* and the ordering shares, not the spread of one
model's value, as the uncertainty of a ranking. Deterministic for a given ``seed``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["Interval", "Resampled", "bootstrap_statistics", "case_bootstrap", "ordering_share", "paired_difference",
           "resample_indices", "rows_of"]

Statistic = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Interval:
    """A statistic on all cases (``estimate``) with its percentile interval ``[low, high]`` at ``level``, and the
    share of the ``n_resamples`` resamples in which it was above 0 (``share_positive``)."""

    estimate: float
    low: float
    high: float
    level: float
    share_positive: float
    n_resamples: int

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0."""
        return self.low > 0.0 or self.high < 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def format(self, digits: int = 2, signed: bool = False) -> str:
        """``"0.41 [0.12, 0.70]"`` (``signed``: ``"+0.41 [+0.12, +0.70]"``, for differences)."""
        f = f"{'+' if signed else ''}.{digits}f"
        return f"{self.estimate:{f}} [{self.low:{f}}, {self.high:{f}}]"


def resample_indices(n_cases: int, n_resamples: int, seed: int = 0) -> np.ndarray:
    """``(n_resamples, n_cases)`` case indices drawn with replacement (row k is resample k; seeded)."""
    n_cases, n_resamples = _count(n_cases, "n_cases", 2), _count(n_resamples, "n_resamples", 1)
    return np.random.default_rng(seed).integers(0, n_cases, size=(n_resamples, n_cases))


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise CardioGenInputError(f"{name} must be an integer of at least {minimum}", got=value)
    return int(value)


def _value(statistic: Statistic, idx: np.ndarray, what: str) -> float:
    v = float(statistic(idx))
    if not np.isfinite(v):
        raise CardioGenInputError(f"the bootstrap statistic is not finite on {what}", got=v)
    return v


class Resampled:
    """Every model's statistic on all cases and on each of the same resamples, evaluated once; intervals, paired
    differences and ordering shares are read from these values (see :func:`bootstrap_statistics`).

    Attributes:
        estimates: ``{name: value on all cases}``.
        values: ``{name: (n_resamples,) values}``, resample k the same cases for every name.
        level: coverage of the intervals.
    """

    def __init__(self, estimates: dict, values: dict, level: float) -> None:
        self.estimates, self.values, self.level = estimates, values, float(level)

    def _get(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise CardioGenInputError("no bootstrap statistic of that name", expected=sorted(self.values), got=name)
        return self.values[name]

    def _interval(self, estimate: float, values: np.ndarray) -> Interval:
        tail = (1.0 - self.level) / 2.0
        low, high = np.quantile(values, [tail, 1.0 - tail])
        return Interval(float(estimate), float(low), float(high), self.level, float(np.mean(values > 0.0)),
                        len(values))

    def interval(self, name: str) -> Interval:
        """Percentile interval of one statistic."""
        values = self._get(name)
        return self._interval(self.estimates[name], values)

    def difference(self, a: str, b: str) -> Interval:
        """Paired interval of ``b - a`` (positive: ``a`` lower; for "lower is better", ``a`` better)."""
        values = self._get(b) - self._get(a)
        return self._interval(self.estimates[b] - self.estimates[a], values)

    def advantage(self, a: str, b: str, *, lower_is_better: bool = True) -> Interval:
        """How much better ``a`` is than ``b`` (positive: ``a`` better): ``b - a`` for a metric where lower is
        better, ``a - b`` otherwise (for example Dice)."""
        return self.difference(a, b) if lower_is_better else self.difference(b, a)

    def relative_difference(self, a: str, b: str) -> Interval:
        """Paired interval of ``b / a - 1`` (for example +0.08: ``b`` is 8 % above ``a``); needs ``a`` > 0."""
        va, vb = self._get(a), self._get(b)
        if self.estimates[a] <= 0.0 or np.any(va <= 0.0):
            raise CardioGenInputError(f"a relative difference needs {a!r} above 0 in every resample",
                                      got=float(np.min(va)))
        return self._interval(self.estimates[b] / self.estimates[a] - 1.0, vb / va - 1.0)

    def ordering(self, names: Sequence[str], *, lower_is_better: bool = True) -> float:
        """Share of resamples in which ``names`` keep their order, the first best (strictly)."""
        if len(names) < 2:
            raise CardioGenInputError("an ordering needs at least 2 models", got=len(names))
        v = np.stack([self._get(n) for n in names]) * (1.0 if lower_is_better else -1.0)
        return float(np.mean(np.all(np.diff(v, axis=0) > 0.0, axis=0)))


def bootstrap_statistics(statistics: Mapping[str, Statistic], n_cases: int, *, n_resamples: int = 1000,
                         level: float = 0.95, seed: int = 0) -> Resampled:
    """Evaluates every named statistic on all cases and on the same ``n_resamples`` resamples of the cases.

    Args:
        statistics: ``{name: statistic}``; a statistic maps case indices ``idx (n_cases,)`` (with repeats in a
            resample) to a float.
        n_cases: number of cases (>= 2).
        n_resamples: bootstrap resamples.
        level: coverage of the intervals, in (0, 1).
        seed: seed of the resamples (the same seed gives the same resamples in another call).
    """
    if not 0.0 < float(level) < 1.0:
        raise CardioGenInputError("level must lie strictly between 0 and 1", got=level)
    if not statistics:
        raise CardioGenInputError("no statistics given")
    draws = resample_indices(n_cases, n_resamples, seed)
    everything = np.arange(draws.shape[1])
    estimates = {name: _value(stat, everything, f"all cases ({name})") for name, stat in statistics.items()}
    values = {name: np.array([_value(stat, idx, f"resample {k} ({name})") for k, idx in enumerate(draws)])
              for name, stat in statistics.items()}
    return Resampled(estimates, values, level)


def case_bootstrap(statistic: Statistic, n_cases: int, *, n_resamples: int = 1000, level: float = 0.95,
                   seed: int = 0) -> Interval:
    """Percentile bootstrap of one ``statistic(idx)`` over ``n_cases`` cases (keywords of
    :func:`bootstrap_statistics`)."""
    return bootstrap_statistics({"s": statistic}, n_cases, n_resamples=n_resamples, level=level,
                                seed=seed).interval("s")


def paired_difference(statistic_a: Statistic, statistic_b: Statistic, n_cases: int, **kwargs) -> Interval:
    """Bootstrap of ``statistic_b(idx) - statistic_a(idx)`` on shared resamples (keywords of
    :func:`bootstrap_statistics`). For a metric where lower is better, a positive difference means ``a`` is better;
    ``share_positive`` is the share of resamples in which ``a`` was better."""
    return bootstrap_statistics({"a": statistic_a, "b": statistic_b}, n_cases, **kwargs).difference("a", "b")


def ordering_share(statistics: Sequence[Statistic], n_cases: int, *, lower_is_better: bool = True,
                   n_resamples: int = 1000, seed: int = 0) -> float:
    """Share of resamples in which the models' statistics keep the given order: ``statistics[0]`` best, then
    ``statistics[1]`` and so on (strictly; ``lower_is_better`` False for metrics such as Dice)."""
    if len(statistics) < 2:
        raise CardioGenInputError("an ordering needs at least 2 models", got=len(statistics))
    named = {str(k): s for k, s in enumerate(statistics)}
    table = bootstrap_statistics(named, n_cases, n_resamples=n_resamples, seed=seed)
    return table.ordering(list(named), lower_is_better=lower_is_better)


def rows_of(blocks: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The rows of per-case blocks for case indices ``idx``: ``blocks (n_cases, k, d)`` -> ``(len(idx) * k, d)``
    (for example the 16 frame embeddings of each case); ``(n_cases, d)`` -> ``(len(idx), d)``."""
    arr = np.asarray(blocks)
    if arr.ndim not in (2, 3):
        raise CardioGenInputError("per-case blocks must be (n_cases, d) or (n_cases, k, d)", got=f"shape {arr.shape}")
    picked = arr[np.asarray(idx)]
    return picked.reshape(-1, arr.shape[-1])
