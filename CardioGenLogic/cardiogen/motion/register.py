"""Cine registration: the learned LTMA model and a classical SimpleITK baseline, both -> DisplacementSeries (mm).

Both register every short-axis slice of a cine ``(t, z, y, x)`` frame-by-frame to the reference frame (ED) in
the slice plane and return the **Lagrangian** displacement of reference points, ``x = X + u(X)``, with LPS
components in mm (the through-plane component is 0: a 2D cine cannot see it).

* :func:`register_learned` runs :class:`cardiogen.models.ltma.LTMANet` with weights from the registry, on the grid
  the weights were trained for (:class:`TrainedGrid`, the registry entry's ``geometry``): the cine is resampled to
  the trained pixel-size and frame-count ranges (:func:`network_grid`), the displacement back to the cine's pixels,
  frames and mm. A model that records no grid is refused rather than run on a grid it may not know.
* :func:`register_classical` runs SimpleITK's fast symmetric-forces demons (or a B-spline) per frame with
  fixed = reference and moving = frame t, whose transform maps reference points to frame-t points directly.
* :func:`endpoint_error` compares with the phantom's truth in the myocardium.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class TrainedGrid:
    """The grid a learned registration model was trained for (the registry entry's ``geometry``).

    ``pixel_mm_range``: in-plane pixel sizes (mm) the network saw on its own grid in training; an input whose pixel
    lies outside is resampled to the nearer end. ``frames_range``: frame counts seen in training; other counts are
    interpolated in time to the nearer end. ``pixel_mm``, ``matrix`` and ``frames`` are the nominal training grid
    (the network is fully convolutional, so any matrix runs; ``matrix`` is the training crop).
    """

    pixel_mm: float
    pixel_mm_range: tuple[float, float]
    matrix: int
    frames: int
    frames_range: tuple[int, int]

    @classmethod
    def from_dict(cls, data: Any, source: str = "registry entry") -> "TrainedGrid":
        """From ``{"pixel_mm", "pixel_mm_range", "matrix", "frames", "frames_range"}``; a missing or bad field is a
        :class:`CardioGenInputError` naming ``source``."""
        keys = ("pixel_mm", "pixel_mm_range", "matrix", "frames", "frames_range")
        if not isinstance(data, dict) or any(k not in data for k in keys):
            raise CardioGenInputError("the model does not record the grid it was trained for", source=source,
                                      expected=f"'geometry' with {list(keys)}",
                                      got=sorted(data) if isinstance(data, dict) else data)
        try:
            lo, hi = (float(v) for v in data["pixel_mm_range"])
            flo, fhi = (int(v) for v in data["frames_range"])
            grid = cls(float(data["pixel_mm"]), (lo, hi), int(data["matrix"]), int(data["frames"]), (flo, fhi))
        except (TypeError, ValueError) as exc:
            raise CardioGenInputError(f"unreadable trained geometry: {exc}", source=source, got=data) from exc
        if not (0 < lo <= grid.pixel_mm <= hi and 2 <= flo <= grid.frames <= fhi and grid.matrix > 0):
            raise CardioGenInputError("inconsistent trained geometry", source=source,
                                      expected="0 < pixel_mm_range[0] <= pixel_mm <= pixel_mm_range[1], "
                                               "2 <= frames_range[0] <= frames <= frames_range[1]", got=data)
        return grid

    def to_dict(self) -> dict:
        return {"pixel_mm": self.pixel_mm, "pixel_mm_range": list(self.pixel_mm_range), "matrix": self.matrix,
                "frames": self.frames, "frames_range": list(self.frames_range)}

    def network_pixel(self, pixel_mm: float) -> float:
        """Target pixel (mm) on the network grid for an input pixel: itself inside the trained range, else the
        nearer end."""
        return float(min(max(pixel_mm, self.pixel_mm_range[0]), self.pixel_mm_range[1]))

    def network_frames(self, frames: int) -> int:
        """Frame count on the network grid: itself inside the trained range, else the nearer end."""
        return int(min(max(frames, self.frames_range[0]), self.frames_range[1]))


@dataclass(frozen=True)
class NetworkGrid:
    """Where an input series runs: ``shape`` (ny, nx) with pixels ``spacing`` (sx, sy) mm and ``frames`` frames,
    spanning the input's field of view (pixel edges aligned) and cardiac cycle (first and last frame aligned)."""

    shape: tuple[int, int]
    spacing: tuple[float, float]
    frames: int
    resampled: bool

    def to_dict(self) -> dict:
        return {"matrix": list(self.shape), "pixel_mm": [round(s, 4) for s in self.spacing], "frames": self.frames,
                "resampled": self.resampled}


def network_grid(shape_yx: tuple[int, int], spacing_xy: tuple[float, float], frames: int,
                 grid: TrainedGrid) -> NetworkGrid:
    """The network grid of an input of ``shape_yx`` pixels of ``spacing_xy`` mm and ``frames`` frames."""
    ny, nx = int(shape_yx[0]), int(shape_yx[1])
    sx, sy = float(spacing_xy[0]), float(spacing_xy[1])
    nx2 = max(8, int(round(nx * sx / grid.network_pixel(sx))))
    ny2 = max(8, int(round(ny * sy / grid.network_pixel(sy))))
    t2 = grid.network_frames(frames)
    resampled = (ny2, nx2, t2) != (ny, nx, frames)
    return NetworkGrid((ny2, nx2), (nx * sx / nx2, ny * sy / ny2), t2, resampled)


def resample_frames(array: np.ndarray, frames: int, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` to ``frames`` samples with the first and last samples kept in place."""
    n = array.shape[axis]
    if n == frames:
        return array
    pos = np.linspace(0.0, n - 1.0, frames)
    i0 = np.clip(np.floor(pos).astype(int), 0, n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (pos - i0).reshape([-1 if k == axis else 1 for k in range(array.ndim)])
    return (np.take(array, i0, axis=axis) * (1.0 - w) + np.take(array, i1, axis=axis) * w).astype(array.dtype)


def resample_plane(array: np.ndarray, shape_yx: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of the last two axes ``(..., y, x)`` to ``shape_yx`` over the same field of view (pixel
    edges aligned; antialiased when shrinking)."""
    import torch

    lead, (ny, nx) = array.shape[:-2], array.shape[-2:]
    if (ny, nx) == tuple(shape_yx):
        return array
    x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32).reshape(-1, 1, ny, nx))
    shrink = shape_yx[0] < ny or shape_yx[1] < nx
    y = torch.nn.functional.interpolate(x, size=tuple(shape_yx), mode="bilinear", align_corners=False,
                                        antialias=shrink)
    return y.reshape(*lead, *shape_yx).numpy()


def to_network_grid(video: np.ndarray, spacing_xy: tuple[float, float], grid: TrainedGrid,
                    reference: int = 0) -> tuple[np.ndarray, NetworkGrid]:
    """Videos ``(n, t, y, x)`` -> ``(n, t', y', x')`` on the network grid with the reference frame first (a cine
    covers one cardiac cycle, so the frames are rotated cyclically), and that grid."""
    n, t, ny, nx = video.shape
    net = network_grid((ny, nx), spacing_xy, t, grid)
    rolled = np.roll(video, -reference, axis=1)
    return resample_frames(resample_plane(rolled, net.shape), net.frames, axis=1), net


def ltma_precision(precision: str, device: Any) -> Any:
    """torch dtype for LTMA inference: "float32", "bfloat16", or "auto" (bfloat16 on a CPU with native bfloat16
    convolutions, else float32)."""
    import torch

    if precision not in ("auto", "float32", "bfloat16"):
        raise CardioGenInputError("unknown LTMA precision", expected=("auto", "float32", "bfloat16"), got=precision)
    if precision == "auto":
        native = str(device).startswith("cpu") and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        return torch.bfloat16 if native else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def register_learned(series: ImageSeries, model: Any = None, *, weights: Optional[str] = None, reference: int = 0,
                     grid: "TrainedGrid | str | None" = None, device: str = "auto", precision: str = "auto",
                     slices_per_batch: int = 16,
                     progress: Optional[Callable[[float, str], None]] = None) -> DisplacementSeries:
    """LTMA registration of every slice (``model``: an LTMANet, or loaded from ``weights`` in the registry).

    Each slice's video is moved to the grid the model was trained for (``grid``: a :class:`TrainedGrid`, default the
    one recorded in the registry and attached to the model by :func:`load_ltma`): its pixel size is resampled into
    the trained range over the same field of view, its frame count interpolated into the trained range, and its
    frames rotated so that the reference comes first. The network's displacement (network pixels) is converted to
    mm with the network grid's pixel size, interpolated back to the input's frames and pixels, and rotated back.
    ``grid="native"`` runs on the input grid as it is (for comparisons only). A model without a recorded grid is
    refused (:class:`CardioGenInputError`), since its result on a foreign grid could be silently wrong.

    ``precision``: see :func:`ltma_precision`. Slices run as a batch of videos, ``slices_per_batch`` at a time.
    Returns a DisplacementSeries ``(t, 3, z, y, x)`` in LPS mm on the input grid; its provenance records the
    network grid used.
    """
    import torch

    from ..device import resolve_device
    from ..models.ltma import normalise_video

    _check_cine(series, reference)
    dev = resolve_device(device)
    dtype = ltma_precision(precision, dev)
    sha = None
    if model is None:
        model, sha = load_ltma(weights, device=str(dev))
    if grid is None:
        grid = getattr(model, "trained_grid", None)
        if grid is None:
            raise CardioGenInputError("the LTMA model does not say which pixel size and frame count it was trained "
                                      "for; register it with a 'geometry' entry or pass grid=TrainedGrid(...)",
                                      source=weights or "model")
    model = model.to(dev).eval()
    t, nz, ny, nx = series.shape
    sx, sy, _ = series.geometry.spacing
    if grid == "native":
        net = NetworkGrid((ny, nx), (sx, sy), t, False)
    elif isinstance(grid, TrainedGrid):
        net = network_grid((ny, nx), (sx, sy), t, grid)
    else:
        raise CardioGenInputError("grid must be a TrainedGrid or 'native'", got=grid)
    if net.frames > model.config.max_frames:
        raise CardioGenInputError("too many frames for the LTMA model", expected=f"<= {model.config.max_frames}",
                                  got=net.frames)
    m = model.multiple
    ny2, nx2 = net.shape
    py, px = (-ny2) % m, (-nx2) % m
    out = np.zeros((t, 3, nz, ny, nx), np.float32)
    d = series.geometry.direction
    start = time.time()
    with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype, enabled=dtype != torch.float32):
        for z0 in range(0, nz, slices_per_batch):
            z1 = min(nz, z0 + slices_per_batch)
            frames = series.array[:, z0:z1].transpose(1, 0, 2, 3)  # (slices, t, y, x)
            if net.resampled:
                frames = resample_frames(resample_plane(np.roll(frames, -reference, axis=1), net.shape), net.frames, 1)
                ref = 0
            else:
                ref = reference
            video = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.float32)).to(dev)
            video = torch.nn.functional.pad(video, (0, px, 0, py), mode="replicate") if (px or py) else video
            v = model(normalise_video(video), ref)
            u = model.lagrangian(v.float())[:, :, :, :ny2, :nx2].float().cpu().numpy()  # (slices, t', 2, y', x') px
            u_mm = u * np.array([net.spacing[0], net.spacing[1]], np.float32)[None, None, :, None, None]
            if net.resampled:
                u_mm = np.roll(resample_plane(resample_frames(u_mm, t, axis=1), (ny, nx)), reference, axis=1)
            ux, uy = u_mm[:, :, 0].transpose(1, 0, 2, 3), u_mm[:, :, 1].transpose(1, 0, 2, 3)  # (t, slices, y, x)
            for k in range(3):  # index axes -> LPS
                out[:, k, z0:z1] = d[k, 0] * ux + d[k, 1] * uy
            report(progress, z1 / nz, f"LTMA slices {z0 + 1}-{z1} of {nz}")
    out[reference] = 0.0
    return DisplacementSeries(out, series.geometry, frame_times=series.frame_times, reference_frame=reference,
                              provenance={"method": "ltma", "weights_sha256": sha, "device": str(dev),
                                          "precision": str(dtype).replace("torch.", ""),
                                          "network_grid": net.to_dict(),
                                          "trained_grid": grid.to_dict() if isinstance(grid, TrainedGrid) else grid,
                                          "seconds": round(time.time() - start, 3)})


def load_ltma(weights: Optional[str] = None, device: str = "cpu") -> tuple[Any, str]:
    """An LTMANet with registry weights (default: the first model registered for pipeline "register"), with its
    trained grid (:class:`TrainedGrid`, from the entry's ``geometry``) as ``model.trained_grid`` (None when the
    entry records none: :func:`register_learned` then refuses to run it without an explicit grid)."""
    from ..models.ltma import LTMAConfig, LTMANet
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(weights) if weights else registry.default_for("register")
    model = LTMANet(LTMAConfig.from_dict(entry.config.get("model", {})))
    model.load_state_dict(registry.load_state_dict(entry.id, device=device))
    model.trained_grid = (TrainedGrid.from_dict(entry.geometry, source=f"registry model '{entry.id}'")
                          if entry.geometry else None)
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
