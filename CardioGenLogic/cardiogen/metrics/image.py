"""Paired image-quality metrics: SSIM, MS-SSIM and PSNR (our own torch code, no extra dependency).

Two kinds of input are accepted, and the kind decides the shape convention:

* **numpy arrays and** :class:`~cardiogen.data.ImageSeries`: ``(t, z, y, x)`` series (``(z, y, x)`` and ``(y, x)``
  are accepted too). Every 2D frame ``[t, z]`` is compared with the same frame of the reference; the result is the
  mean over frames (a float), or one value per frame, shaped ``(t, z)``, with ``reduction="none"``.
* **torch tensors**: batches ``(N, C, H, W)`` (``(N, H, W)`` is read as C = 1). The result is a differentiable
  ``(N,)`` tensor (mean over channels) with ``reduction="none"`` and a 0-d tensor with ``reduction="mean"``.

``data_range`` is the value span of the images (L in the SSIM constants and the peak of PSNR). When it is None it is
taken from the **reference** (second argument): ``max - min`` over the whole reference. Give it explicitly when
comparing batches whose range is known (e.g. 1.0 for [0, 1] images, 2.0 for [-1, 1]).

SSIM follows Wang et al. (2004) as scikit-image computes it with ``gaussian_weights=True, sigma=1.5,
use_sample_covariance=False``: an 11-tap Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, the mean taken over the
"valid" window positions (scikit-image crops the border of half a window, which is the same thing).

MS-SSIM follows Wang et al. (2003) as pytorch-msssim computes it: contrast-structure terms on the first M-1 scales
and the full SSIM on the last, combined as a weighted geometric mean; 2x2 average pooling between scales. The five
standard weights need images of at least 11·2⁴ = 176 pixels; smaller images (64-pixel cardiac frames) use a 3-tap
window and two scales with weights (0.5, 0.5), the setting that works for MONAI's MultiScaleSSIM on 64-pixel
images. ``weights="auto"`` picks between the two from the image size (:func:`ms_ssim_settings`).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["ssim", "ms_ssim", "psnr", "four_gr_ssim", "ms_ssim_settings", "STANDARD_MS_SSIM_WEIGHTS", "as_frames"]

#: The five scale weights of Wang et al. (2003).
STANDARD_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

K1, K2 = 0.01, 0.03


def as_frames(image: Any, name: str = "image") -> np.ndarray:
    """Any accepted numpy-side input as float64 ``(t, z, y, x)``.

    Args:
        image: :class:`~cardiogen.data.ImageSeries` or array ``(t, z, y, x)``, ``(z, y, x)`` or ``(y, x)``.
    """
    arr = getattr(image, "array", image)
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{name} must be numeric", got=type(image).__name__) from exc
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim != 4:
        raise CardioGenInputError(f"{name} must be (t, z, y, x), (z, y, x) or (y, x)", got=f"shape {arr.shape}")
    if arr.size == 0:
        raise CardioGenInputError(f"{name} is empty", got=f"shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise CardioGenInputError(f"{name} contains NaN/Inf values")
    return arr


def _is_torch(x: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of the metrics
        return False
    return isinstance(x, torch.Tensor)


def _pair(pred: Any, target: Any) -> tuple[Any, Any, bool, tuple]:
    """Both inputs as (N, C, H, W) float tensors; whether they came as torch; the numpy leading shape (t, z)."""
    import torch

    if _is_torch(pred) or _is_torch(target):
        if not (_is_torch(pred) and _is_torch(target)):
            raise CardioGenInputError("compare a torch tensor with a torch tensor (batches (N, C, H, W))",
                                      got=f"{type(pred).__name__} and {type(target).__name__}")
        x = pred[:, None] if pred.ndim == 3 else pred
        y = target[:, None] if target.ndim == 3 else target
        if x.ndim != 4 or y.ndim != 4:
            raise CardioGenInputError("torch batches must be (N, C, H, W) or (N, H, W)",
                                      got=f"{tuple(pred.shape)} and {tuple(target.shape)}")
        if x.shape != y.shape:
            raise CardioGenInputError("the two batches differ in shape", expected=tuple(y.shape), got=tuple(x.shape))
        if not x.is_floating_point():
            x = x.float()
        if not y.is_floating_point():
            y = y.float()
        return x, y.to(x.dtype), True, ()
    a = as_frames(pred, "prediction")
    b = as_frames(target, "reference")
    if a.shape != b.shape:
        raise CardioGenInputError("the two images differ in shape", expected=b.shape, got=a.shape)
    lead = a.shape[:2]
    x = torch.from_numpy(a.reshape(-1, 1, *a.shape[2:]))
    y = torch.from_numpy(b.reshape(-1, 1, *b.shape[2:]))
    return x, y, False, lead


def _data_range(y: Any, data_range: float | None) -> float:
    if data_range is None:
        span = float(y.max() - y.min())
        return span if span > 0 else 1.0
    value = float(data_range)
    if not math.isfinite(value) or value <= 0:
        raise CardioGenInputError("data_range must be > 0", got=data_range)
    return value


def _finish(values: Any, as_torch: bool, lead: tuple, reduction: str) -> Any:
    """values: (N,) tensor. Back to the caller's kind."""
    if reduction not in ("mean", "none"):
        raise CardioGenInputError("reduction must be 'mean' or 'none'", got=reduction)
    if as_torch:
        return values.mean() if reduction == "mean" else values
    out = values.detach().cpu().numpy().astype(np.float64)
    if reduction == "mean":
        return float(np.mean(out))
    return out.reshape(lead)


def _gaussian_window(size: int, sigma: float, dtype: Any, device: Any) -> Any:
    import torch

    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2.0 * sigma**2))
    g = g / g.sum()
    return g.to(dtype=dtype, device=device)


def _filter(x: Any, win: Any) -> Any:
    """Separable 'valid' Gaussian filtering of (N, C, H, W), one channel at a time."""
    import torch.nn.functional as F

    c = x.shape[1]
    k = win.numel()
    out = F.conv2d(x, win.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(out, win.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _ssim_terms(x: Any, y: Any, data_range: float, win: Any) -> tuple[Any, Any]:
    """Mean SSIM and mean contrast-structure per (N, C)."""
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mu_x = _filter(x, win)
    mu_y = _filter(y, win)
    sxx = _filter(x * x, win) - mu_x * mu_x
    syy = _filter(y * y, win) - mu_y * mu_y
    sxy = _filter(x * y, win) - mu_x * mu_y
    cs_map = (2.0 * sxy + c2) / (sxx + syy + c2)
    ssim_map = ((2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def _check_window(h: int, w: int, win_size: int, what: str) -> None:
    if win_size < 1 or win_size % 2 == 0:
        raise CardioGenInputError("the SSIM window size must be odd and >= 1", got=win_size)
    if min(h, w) < win_size:
        raise CardioGenInputError(f"images are smaller than the {what} window", expected=f">= {win_size} px",
                                  got=f"{h}x{w}")


def ssim(pred: Any, target: Any, data_range: float | None = None, *, win_size: int = 11, sigma: float = 1.5,
         reduction: str = "mean") -> Any:
    """Structural similarity (1 = identical).

    Args:
        pred: series ``(t, z, y, x)`` / ImageSeries, or torch batch ``(N, C, H, W)`` (see the module docstring).
        target: the reference, same shape.
        data_range: value span L; None: ``max - min`` of ``target``.
        win_size: Gaussian window taps (odd); sigma: its width in pixels.
        reduction: "mean" (float / 0-d tensor) or "none" (per frame ``(t, z)`` / per image ``(N,)``).
    """
    x, y, as_torch, lead = _pair(pred, target)
    _check_window(x.shape[-2], x.shape[-1], win_size, "SSIM")
    win = _gaussian_window(win_size, sigma, x.dtype, x.device)
    value, _ = _ssim_terms(x, y, _data_range(y, data_range), win)
    return _finish(value.mean(1), as_torch, lead, reduction)


def ms_ssim_settings(height: int, width: int | None = None) -> tuple[int, tuple[float, ...]]:
    """(window taps, scale weights) that ``weights="auto"`` uses for an image of this size.

    >= 176 px: the standard 11 taps and five weights; smaller: 3 taps and two scales (0.5, 0.5).
    """
    side = min(height, width if width is not None else height)
    if side >= 11 * 2 ** (len(STANDARD_MS_SSIM_WEIGHTS) - 1):
        return 11, STANDARD_MS_SSIM_WEIGHTS
    return 3, (0.5, 0.5)


def ms_ssim(pred: Any, target: Any, data_range: float | None = None, *,
            weights: str | Sequence[float] = "auto", win_size: int | None = None, sigma: float = 1.5,
            reduction: str = "mean") -> Any:
    """Multi-scale structural similarity (1 = identical).

    Args:
        pred, target, data_range, reduction: as :func:`ssim`.
        weights: per-scale exponents (their number is the number of scales), or "auto" (:func:`ms_ssim_settings`).
        win_size: Gaussian window taps; None: 11 with explicit weights, the automatic choice with "auto".
        sigma: Gaussian width (pixels).
    """
    import torch
    import torch.nn.functional as F

    x, y, as_torch, lead = _pair(pred, target)
    h, w = x.shape[-2:]
    if isinstance(weights, str):
        if weights != "auto":
            raise CardioGenInputError("weights must be 'auto' or a sequence of numbers", got=weights)
        auto_win, weights = ms_ssim_settings(h, w)
        win_size = auto_win if win_size is None else win_size
    weights = [float(v) for v in weights]
    if not weights or any(v < 0 or not math.isfinite(v) for v in weights):
        raise CardioGenInputError("MS-SSIM weights must be finite numbers >= 0", got=weights)
    win_size = 11 if win_size is None else int(win_size)
    scales = len(weights)
    need = win_size * 2 ** (scales - 1)
    if min(h, w) < need:
        raise CardioGenInputError(
            f"images are too small for {scales} MS-SSIM scales with a {win_size}-tap window "
            "(use weights='auto', or win_size=3 with weights=(0.5, 0.5) on 64-pixel images)",
            expected=f">= {need} px", got=f"{h}x{w}")
    _check_window(h, w, win_size, "MS-SSIM")
    rng = _data_range(y, data_range)
    win = _gaussian_window(win_size, sigma, x.dtype, x.device)
    w_t = torch.tensor(weights, dtype=x.dtype, device=x.device)
    terms = []
    for level in range(scales):
        s, cs = _ssim_terms(x, y, rng, win)
        if level < scales - 1:
            terms.append(torch.relu(cs))
            pad = [x.shape[-1] % 2, 0, x.shape[-2] % 2, 0]
            x = F.avg_pool2d(F.pad(x, pad, mode="replicate") if any(pad) else x, 2)
            y = F.avg_pool2d(F.pad(y, pad, mode="replicate") if any(pad) else y, 2)
        else:
            terms.append(torch.relu(s))
    stacked = torch.stack(terms, 0)  # (scales, N, C)
    value = torch.prod(stacked ** w_t.view(-1, 1, 1), dim=0)
    return _finish(value.mean(1), as_torch, lead, reduction)


def psnr(pred: Any, target: Any, data_range: float | None = None, *, reduction: str = "mean") -> Any:
    """Peak signal-to-noise ratio in dB, ``10 log10(L² / MSE)`` per frame / image (``inf`` when identical).

    Args: as :func:`ssim`. The mean over frames is the mean of the per-frame dB values (``inf`` if any is).
    """
    import torch

    x, y, as_torch, lead = _pair(pred, target)
    rng = _data_range(y, data_range)
    mse = ((x - y) ** 2).flatten(1).mean(1)
    value = 10.0 * torch.log10(rng**2 / mse)  # mse = 0 gives +inf
    return _finish(value, as_torch, lead, reduction)


def four_gr_ssim(pred: Any, target: Any, data_range: float | None = None, *, sigma: float = 1.5,
                 edge: float = 0.12, smooth: float = 0.06) -> float:
    """4-G-r SSIM (Li & Bovik 2010, "Content-partitioned structural similarity index"): a gradient-based SSIM map
    (luminance from the images, contrast-structure from their Sobel gradient magnitudes; Gaussian window ``sigma``)
    averaged separately over four regions and those four means averaged with equal weights (regions that are empty
    are left out). Regions from the gradient magnitudes ``g_t`` (target) and ``g_p`` (pred), with ``G`` the larger
    of their maxima: preserved edges (both > ``edge``·G), changed edges (one > ``edge``·G, the other not), smooth
    (``g_t`` < ``smooth``·G and ``g_p`` ≤ ``edge``·G), texture (the rest). Seed 001's table 5.1 uses it, with MS-SSIM,
    for diversity (lower between different samples = more diverse).

    Args:
        pred, target: 2D images ``(H, W)`` (or stacks ``(..., H, W)``: the mean over the 2D slices).
        data_range: the images' value range (default: target's max − min).
    """
    from scipy import ndimage

    p, t = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    if p.shape != t.shape or p.ndim < 2:
        raise CardioGenInputError("four_gr_ssim needs two images of one shape (..., H, W)",
                                  got=(p.shape, t.shape))
    if p.ndim > 2:
        return float(np.mean([four_gr_ssim(a, b, data_range, sigma=sigma, edge=edge, smooth=smooth)
                              for a, b in zip(p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:]))]))
    rng = float(data_range) if data_range is not None else float(t.max() - t.min()) or 1.0
    c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
    grad = lambda x: np.hypot(ndimage.sobel(x, 0), ndimage.sobel(x, 1))  # noqa: E731
    gp, gt = grad(p), grad(t)
    blur = lambda x: ndimage.gaussian_filter(x, sigma)  # noqa: E731
    mp, mt = blur(p), blur(t)
    lum = (2 * mp * mt + c1) / (mp ** 2 + mt ** 2 + c1)
    mgp, mgt = blur(gp), blur(gt)
    vp, vt, cov = blur(gp * gp) - mgp ** 2, blur(gt * gt) - mgt ** 2, blur(gp * gt) - mgp * mgt
    ssim_map = lum * (2 * cov + c2) / (np.maximum(vp, 0) + np.maximum(vt, 0) + c2)
    gmax = max(float(gt.max()), float(gp.max())) or 1.0
    hi_t, hi_p = gt > edge * gmax, gp > edge * gmax
    preserved = hi_t & hi_p
    changed = hi_t ^ hi_p
    flat = (gt < smooth * gmax) & ~hi_p & ~changed
    texture = ~(preserved | changed | flat)
    means = [float(ssim_map[r].mean()) for r in (preserved, changed, flat, texture) if r.any()]
    return float(np.mean(means))
