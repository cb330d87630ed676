"""Phenotype comparisons: paired agreement (Pearson R) and distribution distances (MMD, Wasserstein-1, KL).

Phenotypes are numbers per case (LVEDV ml, LVEF %, mass g ...) or per frame (the areas below). Paired metrics
compare the same cases measured two ways; distribution metrics compare a real and a synthetic population.

* :func:`pearson_r`: Pearson correlation of paired values (scipy.stats.pearsonr), with its p-value.
* :func:`mmd_rbf`: biased (V-statistic) MMD² with a Gaussian kernel; bandwidth by the median heuristic on the pooled
  sample unless given. Works on 1-D samples or ``(n, d)`` vectors; 0 for identical samples.
* :func:`wasserstein1`: earth mover's distance between two 1-D samples (scipy.stats.wasserstein_distance), in the
  phenotype's unit.
* :func:`kl_divergence`: KL(P || Q) in nats between histograms of the two samples on shared bin edges (the range of
  both samples), with additive (Laplace) smoothing ``alpha`` per bin so that empty bins of Q do not give inf.
* :func:`frame_phenotypes`: the per-frame phenotypes that the cardiac feature network regresses, from a label map.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["pearson_r", "mmd_rbf", "wasserstein1", "kl_divergence", "compare_phenotypes", "frame_phenotypes",
           "FRAME_PHENOTYPES"]

#: Names of the per-frame phenotypes of :func:`frame_phenotypes` (and of the feature network's regression head).
FRAME_PHENOTYPES = ("lv_blood_area_pct", "lv_myo_area_pct", "lv_roundness")


def _sample(x: Any, name: str, min_n: int = 2) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{name} must be numeric", got=type(x).__name__) from exc
    if arr.ndim == 0 or arr.shape[0] < min_n:
        raise CardioGenInputError(f"{name} needs at least {min_n} values", got=arr.shape)
    if not np.all(np.isfinite(arr)):
        raise CardioGenInputError(f"{name} contains NaN/Inf values")
    return arr


def pearson_r(a: Any, b: Any) -> tuple[float, float]:
    """(r, two-sided p) of paired 1-D values (same length, >= 3)."""
    from scipy import stats

    x, y = _sample(a, "first values", 3).ravel(), _sample(b, "second values", 3).ravel()
    if x.shape != y.shape:
        raise CardioGenInputError("paired values must have the same length", expected=x.shape, got=y.shape)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise CardioGenInputError("Pearson R is undefined for a constant sample")
    res = stats.pearsonr(x, y)
    return float(res.statistic), float(res.pvalue)


def mmd_rbf(a: Any, b: Any, bandwidth: float | None = None) -> float:
    """Biased MMD² with ``k = exp(-|x - y|² / (2 h²))``; ``h`` = median pairwise distance of the pooled sample
    when None. 1-D samples or ``(n, d)``."""
    x, y = _sample(a, "first sample"), _sample(b, "second sample")
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    if x.shape[1] != y.shape[1]:
        raise CardioGenInputError("samples differ in dimension", expected=x.shape[1], got=y.shape[1])
    z = np.concatenate([x, y])
    d2 = np.sum((z[:, None, :] - z[None, :, :]) ** 2, axis=-1)
    if bandwidth is None:
        off = d2[np.triu_indices(len(z), 1)]
        h = float(np.sqrt(np.median(off[off > 0]))) if np.any(off > 0) else 1.0
    else:
        h = float(bandwidth)
        if not h > 0:
            raise CardioGenInputError("bandwidth must be > 0", got=bandwidth)
    k = np.exp(-d2 / (2.0 * h * h))
    n = x.shape[0]
    value = k[:n, :n].mean() + k[n:, n:].mean() - 2.0 * k[:n, n:].mean()
    return float(max(value, 0.0))


def wasserstein1(a: Any, b: Any) -> float:
    """Wasserstein-1 distance between two 1-D samples (same unit as the values)."""
    from scipy import stats

    return float(stats.wasserstein_distance(_sample(a, "first sample", 1).ravel(),
                                            _sample(b, "second sample", 1).ravel()))


def kl_divergence(p_samples: Any, q_samples: Any, *, bins: int = 20, alpha: float = 1.0) -> float:
    """KL(P || Q) in nats of the histograms of two 1-D samples.

    Args:
        p_samples: sample of P (e.g. the real population); q_samples: sample of Q (e.g. synthetic).
        bins: number of shared bins over the range of both samples.
        alpha: pseudo-count added to every bin of both histograms (> 0).
    """
    p = _sample(p_samples, "first sample", 1).ravel()
    q = _sample(q_samples, "second sample", 1).ravel()
    if not alpha > 0:
        raise CardioGenInputError("alpha (smoothing pseudo-count) must be > 0", got=alpha)
    lo, hi = float(min(p.min(), q.min())), float(max(p.max(), q.max()))
    if hi <= lo:
        return 0.0
    edges = np.linspace(lo, hi, int(bins) + 1)
    hp = np.histogram(p, edges)[0] + alpha
    hq = np.histogram(q, edges)[0] + alpha
    hp, hq = hp / hp.sum(), hq / hq.sum()
    return float(np.sum(hp * np.log(hp / hq)))


def compare_phenotypes(real: Mapping[str, Any], synthetic: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Distribution distances for each phenotype present in both mappings (name -> 1-D sample).

    Returns ``{name: {"mmd_rbf", "wasserstein1", "kl", "mean_real", "mean_synthetic"}}``.
    """
    out = {}
    for name in sorted(set(real) & set(synthetic)):
        r, s = _sample(real[name], name), _sample(synthetic[name], name)
        out[name] = {"mmd_rbf": mmd_rbf(r, s), "wasserstein1": wasserstein1(r, s), "kl": kl_divergence(r, s),
                     "mean_real": float(r.mean()), "mean_synthetic": float(s.mean())}
    return out


def frame_phenotypes(labels: Any, min_pixels: int = 5) -> np.ndarray:
    """Per-frame LV phenotypes of 2D label maps (standard labels: 1 LV blood, 2 LV myocardium).

    Args:
        labels: integer ``(..., H, W)`` label maps.
        min_pixels: below this LV blood area the roundness is 0.

    Returns:
        float ``(..., 3)``: LV blood area and LV myocardium area in **percent of the frame** (the network sees a
        resampled frame of unknown pixel size, so areas are relative to the field of view), and the LV cavity
        roundness ``sqrt(λmin / λmax)`` of the second moments of the blood pool (1 = circle; a short-axis
        "sphericity-like" ratio; 0 when the cavity has fewer than ``min_pixels`` pixels).
    """
    lab = np.asarray(labels)
    if lab.ndim < 2:
        raise CardioGenInputError("labels must be (..., H, W)", got=f"shape {lab.shape}")
    h, w = lab.shape[-2:]
    flat = lab.reshape(-1, h, w)
    out = np.zeros((flat.shape[0], 3), dtype=np.float64)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for i, frame in enumerate(flat):
        blood = frame == 1
        n = int(blood.sum())
        out[i, 0] = 100.0 * n / (h * w)
        out[i, 1] = 100.0 * float((frame == 2).sum()) / (h * w)
        if n >= min_pixels:
            ys, xs = yy[blood], xx[blood]
            cov = np.cov(np.stack([ys, xs])) + np.eye(2) / 12.0  # + pixel extent
            vals = np.linalg.eigvalsh(cov)
            out[i, 2] = float(np.sqrt(max(vals[0], 0.0) / vals[1]))
    return out.reshape(*lab.shape[:-2], 3)
