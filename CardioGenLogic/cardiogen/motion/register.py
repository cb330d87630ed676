"""Cine registration: the learned LTMA model and a classical SimpleITK baseline, both -> DisplacementSeries (mm).

Both register every short-axis slice of a cine ``(t, z, y, x)`` frame-by-frame to the reference frame (ED) in
the slice plane and return the **Lagrangian** displacement of reference points, ``x = X + u(X)``, with LPS
components in mm (the through-plane component is 0: a 2D cine cannot see it).

* :func:`register_learned` runs :class:`cardiogen.models.ltma.LTMANet` with weights from the registry.
* :func:`register_classical` runs SimpleITK's fast symmetric-forces demons (or a B-spline) per frame with
  fixed = reference and moving = frame t, whose transform maps reference points to frame-t points directly.
* :func:`endpoint_error` compares with the phantom's truth in the myocardium.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

import numpy as np

from ..data import DisplacementSeries, ImageSeries
from ..errors import CardioGenInputError
from ..progress import report


def _voxel_to_world(ux: np.ndarray, uy: np.ndarray, series: ImageSeries) -> np.ndarray:
    """In-plane voxel displacements (x, y) -> LPS mm ``(3, ...)`` through spacing and direction."""
    sx, sy, _ = series.geometry.spacing
    d = series.geometry.direction
    return np.einsum("k,...->k...", d[:, 0], ux * sx) + np.einsum("k,...->k...", d[:, 1], uy * sy)


def _check_cine(series: ImageSeries, reference: int) -> None:
    if not isinstance(series, ImageSeries):
        raise CardioGenInputError("registration needs an ImageSeries", got=type(series).__name__)
    if series.n_frames < 2:
        raise CardioGenInputError("registration needs at least 2 frames", got=series.n_frames)
    if not 0 <= reference < series.n_frames:
        raise CardioGenInputError("reference frame out of range", expected=f"0..{series.n_frames - 1}", got=reference)


def register_learned(series: ImageSeries, model: Any = None, *, weights: Optional[str] = None, reference: int = 0,
                     device: str = "auto", slices_per_batch: int = 16,
                     progress: Optional[Callable[[float, str], None]] = None) -> DisplacementSeries:
    """LTMA registration of every slice (``model``: an LTMANet, or loaded from ``weights`` in the registry).

    Slices are registered as a batch of videos (``slices_per_batch`` at a time, to bound memory)."""
    import torch

    from ..device import resolve_device
    from ..models.ltma import normalise_video

    _check_cine(series, reference)
    dev = resolve_device(device)
    sha = None
    if model is None:
        model, sha = load_ltma(weights, device=str(dev))
    model = model.to(dev).eval()
    t, nz, ny, nx = series.shape
    if t > model.config.max_frames:
        raise CardioGenInputError("too many frames for the LTMA model", expected=f"<= {model.config.max_frames}",
                                  got=t)
    m = model.multiple
    py, px = (-ny) % m, (-nx) % m
    out = np.zeros((t, 3, nz, ny, nx), np.float32)
    start = time.time()
    with torch.inference_mode():
        for z0 in range(0, nz, slices_per_batch):
            z1 = min(nz, z0 + slices_per_batch)
            video = torch.from_numpy(np.ascontiguousarray(series.array[:, z0:z1].transpose(1, 0, 2, 3))).to(dev)
            video = torch.nn.functional.pad(video, (0, px, 0, py), mode="replicate") if (px or py) else video
            v = model(normalise_video(video), reference)
            u = model.lagrangian(v)[:, :, :, :ny, :nx].cpu().numpy()  # (slices, t, 2, y, x) voxels
            for i, z in enumerate(range(z0, z1)):
                out[:, :, z] = _voxel_to_world(u[i, :, 0], u[i, :, 1], series).transpose(1, 0, 2, 3)
            report(progress, z1 / nz, f"LTMA slices {z0 + 1}-{z1} of {nz}")
    out[reference] = 0.0
    return DisplacementSeries(out, series.geometry, frame_times=series.frame_times, reference_frame=reference,
                              provenance={"method": "ltma", "weights_sha256": sha, "device": str(dev),
                                          "seconds": round(time.time() - start, 3)})


def load_ltma(weights: Optional[str] = None, device: str = "cpu") -> tuple[Any, str]:
    """An LTMANet with registry weights (default: the first model registered for pipeline "register")."""
    from ..models.ltma import LTMAConfig, LTMANet
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(weights) if weights else registry.default_for("register")
    model = LTMANet(LTMAConfig.from_dict(entry.config.get("model", {})))
    model.load_state_dict(registry.load_state_dict(entry.id, device=device))
    return model, entry.sha256


def register_classical(series: ImageSeries, *, method: str = "demons", reference: int = 0,
                       iterations: int = 60, smoothing_voxels: float = 1.5,
                       progress: Optional[Callable[[float, str], None]] = None) -> DisplacementSeries:
    """SimpleITK baseline, frame t -> reference, per slice. ``method``: "demons" or "bspline"."""
    import SimpleITK as sitk

    _check_cine(series, reference)
    if method not in ("demons", "bspline"):
        raise CardioGenInputError("unknown classical registration method", expected=("demons", "bspline"), got=method)
    t, nz, ny, nx = series.shape
    out = np.zeros((t, 3, nz, ny, nx), np.float32)
    start = time.time()
    lo, hi = np.percentile(series.array, [1, 99])
    scale = 1.0 / max(hi - lo, 1e-6)
    for z in range(nz):
        fixed = sitk.GetImageFromArray(((series.array[reference, z] - lo) * scale).astype(np.float32))
        for f in range(t):
            if f == reference:
                continue
            moving = sitk.GetImageFromArray(((series.array[f, z] - lo) * scale).astype(np.float32))
            if method == "demons":
                demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
                demons.SetNumberOfIterations(iterations)
                demons.SetStandardDeviations(smoothing_voxels)
                field = demons.Execute(fixed, moving)
                arr = sitk.GetArrayFromImage(field)  # (y, x, 2) voxel units (spacing 1)
                ux, uy = arr[..., 0], arr[..., 1]
            else:
                tx = sitk.BSplineTransformInitializer(fixed, [8, 8])
                reg = sitk.ImageRegistrationMethod()
                reg.SetMetricAsMeanSquares()
                reg.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=50)
                reg.SetInterpolator(sitk.sitkLinear)
                reg.SetShrinkFactorsPerLevel([4, 2, 1])
                reg.SetSmoothingSigmasPerLevel([2, 1, 0])
                reg.SetInitialTransform(tx, inPlace=True)
                reg.Execute(fixed, moving)
                conv = sitk.TransformToDisplacementFieldFilter()
                conv.SetReferenceImage(fixed)
                arr = sitk.GetArrayFromImage(conv.Execute(tx))
                ux, uy = arr[..., 0], arr[..., 1]
            out[f, :, z] = _voxel_to_world(ux, uy, series)
        report(progress, (z + 1) / nz, f"{method} slice {z + 1}/{nz}")
    return DisplacementSeries(out, series.geometry, frame_times=series.frame_times, reference_frame=reference,
                              provenance={"method": f"simpleitk-{method}", "seconds": round(time.time() - start, 3)})


def endpoint_error(pred: DisplacementSeries, truth: DisplacementSeries, mask: np.ndarray,
                   in_plane: bool = True, geometry_direction: Optional[np.ndarray] = None) -> float:
    """Mean end-point error (mm) inside ``mask`` (z, y, x) over frames != reference.

    ``in_plane``: compare only the components in the slice plane (a 2D cine cannot see through-plane motion).
    """
    if pred.array.shape != truth.array.shape:
        raise CardioGenInputError("displacement shapes differ", expected=truth.array.shape, got=pred.array.shape)
    diff = pred.array - truth.array  # (t, 3, z, y, x)
    if in_plane:
        d = geometry_direction if geometry_direction is not None else truth.geometry.direction
        normal = d[:, 2]
        along = np.einsum("k,tkzyx->tzyx", normal, diff)
        diff = diff - normal[None, :, None, None, None] * along[:, None]
    err = np.linalg.norm(diff, axis=1)  # (t, z, y, x)
    frames = [i for i in range(err.shape[0]) if i != truth.reference_frame]
    return float(err[frames][:, mask].mean())


def warp_reference(series: ImageSeries, disp: DisplacementSeries) -> np.ndarray:
    """Reference frame pushed to every frame by a Lagrangian field (for "registration lowers intensity error").

    Uses the inverse by fixed-point iteration on each slice: X = x − u(X).
    """
    from scipy.ndimage import map_coordinates

    t, nz, ny, nx = series.shape
    d = series.geometry.direction
    sx, sy, _ = series.geometry.spacing
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float64)
    out = np.empty_like(series.array)
    for f in range(t):
        for z in range(nz):
            u = disp.array[f, :, z]
            ux = np.einsum("k,kyx->yx", d[:, 0], u) / sx
            uy = np.einsum("k,kyx->yx", d[:, 1], u) / sy
            X, Y = xx.copy(), yy.copy()
            for _ in range(10):
                X = xx - map_coordinates(ux, [Y, X], order=1, mode="nearest")
                Y = yy - map_coordinates(uy, [Y, X], order=1, mode="nearest")
            out[f, z] = map_coordinates(series.array[disp.reference_frame, z], [Y, X], order=1, mode="nearest")
    return out
