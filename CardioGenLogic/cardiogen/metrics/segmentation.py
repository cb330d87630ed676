"""Overlap and surface metrics of label maps: Dice and the 95 % Hausdorff distance (mm).

Inputs are :class:`~cardiogen.data.Segmentation` objects (their geometry gives the spacing) or integer arrays
``(t, z, y, x)`` / ``(z, y, x)`` / ``(y, x)`` with ``spacing`` given as (x, y, z) mm like everywhere in cardiogen.

* Dice per label ``2|A∩B| / (|A| + |B|)``, pooled over every frame and slice of the input. A label absent from
  both maps has no Dice: it comes back as NaN and the means skip it.
* HD95 per label and frame, in mm: surfaces are the voxels of the structure that touch the outside
  (6-connectivity in 3D, 4 in 2D); the distances from each surface voxel of one map to the nearest surface voxel of
  the other are taken both ways (Euclidean distance transforms with the voxel spacing), and HD95 is the larger of
  the two directed 95th percentiles (as medpy and MONAI compute it). Both empty: NaN; one empty: inf. Frames are
  handled one at a time in 3D (z, y, x); ``per_slice=True`` treats every slice as its own 2D image (better for
  thick short-axis slices) and averages. The result per label is the mean over frames (slices) where it is defined.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["dice", "hd95", "surface_distances", "mean_defined"]


def _labels(x: Any, name: str) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    spacing = None
    if hasattr(x, "labels") and hasattr(x, "geometry"):
        spacing = tuple(x.geometry.spacing)
        arr = np.asarray(x.labels)
    else:
        arr = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise CardioGenInputError(f"{name} must hold whole label numbers")
    elif arr.dtype.kind not in "biu":
        raise CardioGenInputError(f"{name} must be an integer label map", got=str(arr.dtype))
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    elif arr.ndim != 4:
        raise CardioGenInputError(f"{name} must be (t, z, y, x), (z, y, x) or (y, x)", got=f"shape {arr.shape}")
    return arr.astype(np.int64), spacing


def _pair(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    a, sa = _labels(pred, "prediction")
    b, sb = _labels(ref, "reference")
    if a.shape != b.shape:
        raise CardioGenInputError("the two label maps differ in shape", expected=b.shape, got=a.shape)
    return a, b, sb or sa


def _label_list(a: np.ndarray, b: np.ndarray, labels: Iterable[int] | None) -> list[int]:
    if labels is None:
        return sorted((set(np.unique(a).tolist()) | set(np.unique(b).tolist())) - {0})
    return [int(v) for v in labels]


def dice(pred: Any, ref: Any, labels: Sequence[int] | None = None) -> dict[int, float]:
    """Dice per label over the whole map (1 = identical; NaN where the label is in neither map).

    Args:
        pred, ref: label maps (Segmentation or arrays, same shape).
        labels: which labels (default every non-zero label present in either map).
    """
    a, b, _ = _pair(pred, ref)
    out = {}
    for label in _label_list(a, b, labels):
        ma, mb = a == label, b == label
        total = int(ma.sum()) + int(mb.sum())
        out[label] = float("nan") if total == 0 else 2.0 * float(np.logical_and(ma, mb).sum()) / total
    return out


def _surface(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    if not mask.any():
        return mask
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure=structure, border_value=0)
    return mask & ~eroded


def surface_distances(mask_a: np.ndarray, mask_b: np.ndarray,
                      sampling: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from the surface voxels of ``a`` to the surface of ``b`` and back.

    Args:
        mask_a, mask_b: bool arrays of the same shape, both non-empty.
        sampling: voxel size per array axis (mm), e.g. (z, y, x).
    """
    from scipy import ndimage

    sa, sb = _surface(mask_a), _surface(mask_b)
    dist_to_b = ndimage.distance_transform_edt(~sb, sampling=sampling)
    dist_to_a = ndimage.distance_transform_edt(~sa, sampling=sampling)
    return dist_to_b[sa], dist_to_a[sb]


def _sampling(spacing: Sequence[float] | None, geo_spacing: tuple | None) -> tuple[float, float, float]:
    """Array-axis (z, y, x) voxel size from an (x, y[, z]) mm spacing, else the maps' geometry, else 1 mm."""
    sp = spacing if spacing is not None else geo_spacing if geo_spacing is not None else (1.0, 1.0, 1.0)
    sp = [float(v) for v in sp]
    if len(sp) == 2:
        sp = sp + [1.0]
    if len(sp) != 3 or min(sp) <= 0:
        raise CardioGenInputError("spacing must be (x, y, z) mm, each > 0", got=spacing)
    return sp[2], sp[1], sp[0]


def _surface_stat(ma: np.ndarray, mb: np.ndarray, sampling: Sequence[float],
                  reduce: Callable[[np.ndarray, np.ndarray], float]) -> float:
    """``reduce(d_ab, d_ba)`` of the two masks' surface distances; NaN when both are empty, inf when one is."""
    if not ma.any() and not mb.any():
        return float("nan")
    if not ma.any() or not mb.any():
        return float("inf")
    return float(reduce(*surface_distances(ma, mb, sampling)))


def _hd95_one(ma: np.ndarray, mb: np.ndarray, sampling: Sequence[float], percentile: float) -> float:
    return _surface_stat(ma, mb, sampling,
                         lambda d_ab, d_ba: max(np.percentile(d_ab, percentile), np.percentile(d_ba, percentile)))


def hd95(pred: Any, ref: Any, spacing: Sequence[float] | None = None, labels: Sequence[int] | None = None, *,
         per_slice: bool = False, percentile: float = 95.0) -> dict[int, float]:
    """95 % Hausdorff distance per label in mm (0 = identical surfaces).

    Args:
        pred, ref: label maps (Segmentation or arrays, same shape).
        spacing: (x, y, z) voxel size in mm; default the reference's (or prediction's) geometry, else 1 mm.
        labels: which labels (default every non-zero label present in either map).
        per_slice: 2D per slice instead of 3D per frame.
        percentile: 95 for HD95, 100 for the classical Hausdorff distance.
    """
    a, b, geo_spacing = _pair(pred, ref)
    sampling = _sampling(spacing, geo_spacing)
    out = {}
    for label in _label_list(a, b, labels):
        values = []
        for t in range(a.shape[0]):
            ma, mb = a[t] == label, b[t] == label
            if per_slice:
                values.extend(_hd95_one(ma[z], mb[z], sampling[1:], percentile) for z in range(a.shape[1]))
            else:
                values.append(_hd95_one(ma, mb, sampling, percentile))
        out[label] = mean_defined(values)
    return out


def assd(pred: Any, ref: Any, spacing: Sequence[float] | None = None,
         labels: Sequence[int] | None = None) -> dict[int, float]:
    """Average symmetric surface distance per label in mm (mean of the distances from each surface's voxels to the
    other surface, both directions pooled); 3D per frame, averaged over frames; NaN where a label is in neither map,
    inf where it is in one only. ``spacing`` (x, y, z) mm as :func:`hd95`."""
    a, b, geo_spacing = _pair(pred, ref)
    sampling = _sampling(spacing, geo_spacing)
    out = {}
    for label in _label_list(a, b, labels):
        values = [_surface_stat(a[t] == label, b[t] == label, sampling,
                                lambda d_ab, d_ba: np.concatenate([d_ab, d_ba]).mean()) for t in range(a.shape[0])]
        out[label] = mean_defined(values)
    return out


def mean_defined(values: Iterable[float]) -> float:
    """Mean of the non-NaN values (NaN when there are none; inf if any is inf)."""
    arr = np.asarray([v for v in values if not np.isnan(v)], dtype=np.float64)
    return float(arr.mean()) if arr.size else float("nan")
