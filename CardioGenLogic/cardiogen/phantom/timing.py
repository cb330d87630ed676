"""Time course of contraction over one cardiac cycle (PHYSIOLOGY.md §4).

``s(t)`` ∈ [0, 1] is the contraction state: 0 at end-diastole (t = 0, the R wave, frame 0) and 1 at end-systole.
It is made of cosine blends, so it is C¹ and periodic with period RR:

* systole [0, t_ES]: 0 → 1 (nearly linear over mid-systole);
* isovolumic relaxation (12 % of diastole): stays at 1;
* rapid filling (33 % of diastole): 1 → 0.25;
* diastasis (33 %): 0.25 → 0.18;
* atrial kick (22 %): 0.18 → 0 at RR.

t_ES follows the heart rate through the QS2 interval (Weissler; Chest 1981): QS2 = 541 − 2.2·HR ms (men),
540 − 2.0·HR ms (women), i.e. ES at ≈ 41 % of RR at 60 bpm and ≈ 47 % at 75 bpm.

Electrical dyssynchrony delays a region by τ: its local time g(t) = max(0, t − τ) until the end of rapid filling,
then returns smoothly to t by the end of the cycle (so every region is at rest at ED and the cycle stays periodic).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_PHASES = (0.12, 0.33, 0.33, 0.22)  # IVR, rapid filling, diastasis, atrial kick (fractions of diastole)
_LEVELS = (1.0, 1.0, 0.25, 0.18, 0.0)  # s at the phase boundaries from end-systole to the next ED


def es_time_ms(heart_rate_bpm: float, sex: str = "M") -> float:
    """End-systole after the R wave (ms): QS2 = 541 − 2.2·HR (men) or 540 − 2.0·HR (women), at most 60 % of RR."""
    qs2 = 541.0 - 2.2 * heart_rate_bpm if sex == "M" else 540.0 - 2.0 * heart_rate_bpm
    return float(min(qs2, 0.6 * 60000.0 / heart_rate_bpm))


def _blend(t: np.ndarray, t0: float, t1: float, s0: float, s1: float) -> np.ndarray:
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return s0 + (s1 - s0) * 0.5 * (1.0 - np.cos(np.pi * x))


@dataclass(frozen=True)
class CardiacTiming:
    """Heart rate, end-systolic time and the contraction time course.

    Args:
        heart_rate_bpm: beats per minute.
        es_ms: end-systole after the R wave (ms), see :func:`es_time_ms`.
    """

    heart_rate_bpm: float
    es_ms: float

    @property
    def rr_ms(self) -> float:
        return 60000.0 / self.heart_rate_bpm

    @property
    def boundaries_ms(self) -> tuple[float, ...]:
        """End-systole, end of IVR, end of rapid filling, end of diastasis, RR (ms)."""
        dia = self.rr_ms - self.es_ms
        out = [self.es_ms]
        for frac in _PHASES:
            out.append(out[-1] + frac * dia)
        out[-1] = self.rr_ms
        return tuple(out)

    def contraction(self, t_ms: np.ndarray | float) -> np.ndarray | float:
        """s(t) ∈ [0, 1] (periodic in RR); same shape as ``t_ms`` (a float for a scalar)."""
        scalar = np.ndim(t_ms) == 0
        t = np.mod(np.asarray(t_ms, dtype=float), self.rr_ms)
        s = _blend(t, 0.0, self.es_ms, 0.0, 1.0)
        bounds = self.boundaries_ms
        for i in range(4):
            seg = _blend(t, bounds[i], bounds[i + 1], _LEVELS[i], _LEVELS[i + 1])
            s = np.where(t >= bounds[i], seg, s)
        return float(s) if scalar else s

    def local_time(self, t_ms: float, delay_ms: np.ndarray | float) -> np.ndarray | float:
        """Local time g(t) of a region whose activation is delayed by ``delay_ms`` (see module docstring).

        ``t_ms`` is a scalar in [0, RR); ``delay_ms`` is an array (or scalar) ≥ 0, well below the end of rapid
        filling. g is monotone in t, g(0) = 0 and g(RR) = RR.
        """
        t = float(np.mod(t_ms, self.rr_ms))
        t_return = self.boundaries_ms[2]
        if t <= t_return:
            return np.maximum(0.0, t - np.asarray(delay_ms))
        x = (t - t_return) / (self.rr_ms - t_return)
        return t - np.asarray(delay_ms) * 0.5 * (1.0 + np.cos(np.pi * x))

    def delayed_contraction(self, t_ms: float, delay_ms: np.ndarray | float) -> np.ndarray:
        """s(g(t)) for regions delayed by ``delay_ms`` (array): their contraction state at time ``t_ms``."""
        return self.contraction(self.local_time(t_ms, delay_ms))
