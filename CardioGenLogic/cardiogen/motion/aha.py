"""AHA segments of the left ventricle (16 segments: the 17-segment model without the apical cap 17).

Conventions (shared with :mod:`cardiogen.motion.strain` and the phantom):

* **Slices.** Arrays are ``(z, y, x)``. By default slice 0 is the **base** and the slice index grows towards the
  apex (the phantom's convention). Give ``long_axis`` (LPS unit vector pointing apex -> base) to order the slices by
  their world position instead (the most basal slice is the one farthest along ``long_axis``), or give
  ``base_to_apex_slices`` (slice indices listed from base to apex) to set the order explicitly.
* **Levels.** The slices that contain myocardium, ordered base -> apex, are split into thirds by rank:
  slice rank ``k`` of ``n`` is basal when ``3k/n < 1``, mid when ``< 2``, apical otherwise (6 slices: 2 + 2 + 2).
  A single slice counts as **mid** (a single DENSE / tagging slice is usually mid-ventricular); two slices are
  basal + mid. The apical cap (segment 17) is not labelled: slices beyond the cavity are simply apical.
* **Angle.** Around the LV centre of each slice (centroid of the filled myocardium, plus the blood pool when it is
  given), measured in the image plane in millimetres: ``θ = atan2(v, u)`` with ``u = +x`` (image right, column
  index increasing) and ``v = −y`` (image up, row index decreasing), degrees counter-clockwise on screen. This is the
  phantom's heart frame: 0° lateral, 90° anterior, 180° septal, 270° inferior, i.e. the standard short-axis
  display viewed from the apex (anterior at the top, septum on the viewer's left, towards the RV).
  ``mirror=True`` flips the sense of rotation for images displayed as viewed from the base. The angle is taken
  in image index space, not from the geometry's handedness: check the display of real data (or pass
  ``rv_mask``) before trusting segment names.
* **Reference.** ``rv_insertion_deg`` is θ of the anterior RV insertion point (boundary between segments 1 and 2;
  the septum spans 120° from it). Default :data:`DEFAULT_RV_INSERTION_DEG` = 120°: septum centred at 180° (image
  left), anterior (segment 1) centred at 90° (image up, −y). With ``rv_mask`` the septum is centred on the direction
  from the LV centre to the RV centroid (all slices pooled, a standard simplification of locating the two RV
  insertion points) and the anterior insertion is 60° before it: ``rv_insertion = θ_RV − 60°``.
* **Segments.** Basal 1-6 and mid 7-12 are 60° sectors, going counter-clockwise on screen from the anterior
  insertion: 1/7 anterior ``[ins − 60°, ins)``, 2/8 anteroseptal ``[ins, ins + 60°)``, 3/9 inferoseptal, 4/10
  inferior, 5/11 inferolateral, 6/12 anterolateral. Apical 13-16 are 90° sectors centred on the septum centre
  ``ins + 60°``: 13 anterior ``[ins − 75°, ins + 15°)``, 14 septal ``[ins + 15°, ins + 105°)``, 15 inferior,
  16 lateral (default: 13 at 45-135°, 14 at 135-225°, 15 at 225-315°, 16 at 315-45°).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from ..data import Geometry
from ..errors import CardioGenInputError

__all__ = ["aha_segments", "segment_means", "slice_centers", "slice_angles_deg", "AHA_NAMES", "N_SEGMENTS",
           "DEFAULT_RV_INSERTION_DEG", "BASAL", "MID", "APICAL"]

N_SEGMENTS = 16
DEFAULT_RV_INSERTION_DEG = 120.0
BASAL, MID, APICAL = 0, 1, 2

#: Names of segments 1..16 (index 0 = segment 1).
AHA_NAMES = (
    "basal anterior", "basal anteroseptal", "basal inferoseptal", "basal inferior", "basal inferolateral",
    "basal anterolateral",
    "mid anterior", "mid anteroseptal", "mid inferoseptal", "mid inferior", "mid inferolateral", "mid anterolateral",
    "apical anterior", "apical septal", "apical inferior", "apical lateral",
)


def _mask3(mask: np.ndarray, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise CardioGenInputError(f"{name} must be (z, y, x)", got=f"shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise CardioGenInputError(f"{name} grid differs", expected=tuple(shape), got=arr.shape)
    return arr.astype(bool)


def slice_centers(myocardium_mask: np.ndarray, blood_pool_mask: np.ndarray | None = None) -> np.ndarray:
    """LV centre of each slice in index units.

    Args:
        myocardium_mask: bool ``(z, y, x)``.
        blood_pool_mask: optional bool ``(z, y, x)`` added to the myocardium before filling.

    Returns:
        float ``(z, 2)`` (x = column, y = row) centroid of the filled myocardium (holes filled, so a ring gives the
        centre of its cavity); slices without myocardium get the mean centre of the others (NaN when none has any).
    """
    myo = _mask3(myocardium_mask, "myocardium mask")
    region = myo.copy()
    if blood_pool_mask is not None:
        region |= _mask3(blood_pool_mask, "blood pool mask", myo.shape)
    centers = np.full((myo.shape[0], 2), np.nan)
    for k in range(myo.shape[0]):
        if not myo[k].any():
            continue
        filled = ndimage.binary_fill_holes(region[k])
        rows, cols = np.nonzero(filled)
        centers[k] = (cols.mean(), rows.mean())
    good = np.isfinite(centers[:, 0])
    if good.any():
        centers[~good] = centers[good].mean(axis=0)
    return centers


def slice_angles_deg(shape: tuple[int, int, int], geometry: Geometry, centers: np.ndarray,
                     mirror: bool = False) -> np.ndarray:
    """θ = atan2(v, u) in degrees [0, 360) of every voxel about its slice centre (see module docstring).

    Args:
        shape: ``(z, y, x)``.
        geometry: for the in-plane spacing (mm).
        centers: ``(z, 2)`` from :func:`slice_centers`.
        mirror: flip the sense of rotation (image viewed from the base).
    """
    nz, ny, nx = shape
    sx, sy = geometry.spacing[0], geometry.spacing[1]
    cols = np.arange(nx)[None, None, :]
    rows = np.arange(ny)[None, :, None]
    du = (cols - centers[:, 0][:, None, None]) * sx
    dv = -(rows - centers[:, 1][:, None, None]) * sy
    if mirror:
        dv = -dv
    return np.degrees(np.arctan2(dv, du)) % 360.0


def _slice_order(myo: np.ndarray, geometry: Geometry, long_axis, base_to_apex_slices) -> list[int]:
    with_myo = [k for k in range(myo.shape[0]) if myo[k].any()]
    if base_to_apex_slices is not None:
        order = [int(k) for k in base_to_apex_slices]
        if len(set(order)) != len(order) or any(not 0 <= k < myo.shape[0] for k in order):
            raise CardioGenInputError("base_to_apex_slices must list distinct slice indices",
                                      expected=f"0..{myo.shape[0] - 1}", got=order)
        return [k for k in order if myo[k].any()]
    if long_axis is None:
        return with_myo
    axis = np.asarray(long_axis, dtype=float).reshape(-1)
    if axis.size != 3 or not np.all(np.isfinite(axis)) or np.linalg.norm(axis) == 0:
        raise CardioGenInputError("long_axis must be a non-zero 3-vector (LPS, apex -> base)", got=axis.tolist())
    axis = axis / np.linalg.norm(axis)
    step = geometry.direction[:, 2] * geometry.spacing[2]
    # Position along the axis grows towards the base: sort descending.
    return sorted(with_myo, key=lambda k: -float(step @ axis) * k)


def _levels(order: list[int]) -> dict[int, int]:
    n = len(order)
    if n == 1:
        return {order[0]: MID}
    return {k: min(3 * rank // n, 2) for rank, k in enumerate(order)}


def _rv_angle(rv: np.ndarray, centers: np.ndarray, geometry: Geometry, mirror: bool) -> float:
    sx, sy = geometry.spacing[0], geometry.spacing[1]
    vec = np.zeros(2)
    for k in range(rv.shape[0]):
        rows, cols = np.nonzero(rv[k])
        if rows.size == 0 or not np.all(np.isfinite(centers[k])):
            continue
        du = (cols.mean() - centers[k, 0]) * sx
        dv = -(rows.mean() - centers[k, 1]) * sy * (-1 if mirror else 1)
        norm = np.hypot(du, dv)
        if norm > 0:
            vec += rows.size * np.array([du, dv]) / norm
    if not np.any(vec):
        raise CardioGenInputError("RV mask has no voxels away from the LV centre", expected="RV voxels")
    return float(np.degrees(np.arctan2(vec[1], vec[0])) % 360.0)


def aha_segments(myocardium_mask: np.ndarray, geometry: Geometry | None = None, *,
                 rv_insertion_deg: float | None = None, rv_mask: np.ndarray | None = None,
                 long_axis: Sequence[float] | None = None, base_to_apex_slices: Sequence[int] | None = None,
                 blood_pool_mask: np.ndarray | None = None, mirror: bool = False) -> np.ndarray:
    """AHA segment label (1..16) of every myocardial voxel.

    Args:
        myocardium_mask: bool ``(z, y, x)`` (``(y, x)`` accepted as one slice).
        geometry: grid (spacing for angles in mm; direction for ``long_axis`` ordering); default unit grid.
        rv_insertion_deg: θ of the anterior RV insertion (module docstring); default 120°.
        rv_mask: bool ``(z, y, x)`` RV (blood pool and/or wall); overrides ``rv_insertion_deg``.
        long_axis: LPS unit vector apex -> base: orders slices by world position.
        base_to_apex_slices: explicit slice order from base to apex (overrides ``long_axis``).
        blood_pool_mask: optional LV blood pool, used only for the slice centres.
        mirror: image displayed as viewed from the base (angles run clockwise on screen).

    Returns:
        int16 ``(z, y, x)``: 0 outside the myocardium (and on slices left out of ``base_to_apex_slices``), 1..16 inside.
    """
    myo = _mask3(myocardium_mask, "myocardium mask")
    geometry = geometry if geometry is not None else Geometry()
    if not myo.any():
        raise CardioGenInputError("AHA segments need a non-empty myocardium mask")
    centers = slice_centers(myo, blood_pool_mask)
    if rv_mask is not None:
        rv = _mask3(rv_mask, "RV mask", myo.shape)
        insertion = _rv_angle(rv, centers, geometry, mirror) - 60.0
    elif rv_insertion_deg is not None:
        insertion = float(rv_insertion_deg)
        if not np.isfinite(insertion):
            raise CardioGenInputError("rv_insertion_deg must be finite", got=rv_insertion_deg)
    else:
        insertion = DEFAULT_RV_INSERTION_DEG
    theta = slice_angles_deg(myo.shape, geometry, centers, mirror)
    sector6 = (np.floor(((theta - insertion + 60.0) % 360.0) / 60.0).astype(np.int16)) % 6  # 0 = anterior
    sector4 = (np.floor(((theta - (insertion + 60.0) + 135.0) % 360.0) / 90.0).astype(np.int16)) % 4
    out = np.zeros(myo.shape, dtype=np.int16)
    for k, level in _levels(_slice_order(myo, geometry, long_axis, base_to_apex_slices)).items():
        if level == APICAL:
            lab = 13 + sector4[k]
        else:
            lab = 1 + 6 * level + sector6[k]
        out[k][myo[k]] = lab[myo[k]]
    return out


def segment_means(values: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Mean of ``values`` per AHA segment.

    Args:
        values: float ``(t, z, y, x)`` (``(z, y, x)`` accepted as one frame).
        segments: int ``(z, y, x)`` from :func:`aha_segments` (0 = outside).

    Returns:
        float ``(t, 16)``; NaN for a segment without voxels.
    """
    vals = np.asarray(values, dtype=float)
    if vals.ndim == 3:
        vals = vals[None]
    seg = np.asarray(segments)
    if vals.ndim != 4 or vals.shape[1:] != seg.shape:
        raise CardioGenInputError("values must be (t, z, y, x) on the segment grid", expected=seg.shape,
                                  got=vals.shape)
    flat = vals.reshape(vals.shape[0], -1)
    labels = seg.reshape(-1).astype(np.int64)
    inside = (labels >= 1) & (labels <= N_SEGMENTS)
    counts = np.bincount(labels[inside] - 1, minlength=N_SEGMENTS).astype(float)
    out = np.full((vals.shape[0], N_SEGMENTS), np.nan)
    for t in range(vals.shape[0]):
        sums = np.bincount(labels[inside] - 1, weights=flat[t, inside], minlength=N_SEGMENTS)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[t] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def disc_sectors(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Polar layout of a bull's-eye raster ``(size, size)`` seen from the apex: (ρ, the 60° sector 0-5 of the basal and
    mid rings, the 90° sector 0-3 of the apical ring); ρ is the distance from the centre as a fraction of the disc's
    radius, sector 0 is anterior (at the top) and the sectors run counter-clockwise on screen."""
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    du, dv = cols - c, -(rows - c)
    rho = np.hypot(du, dv) / (size / 2.0)
    theta = np.degrees(np.arctan2(dv, du)) % 360.0
    sector6 = (np.floor(((theta - 60.0) % 360.0) / 60.0).astype(int)) % 6  # 0 = anterior (60-120°)
    sector4 = (np.floor(((theta - 45.0) % 360.0) / 90.0).astype(int)) % 4  # 0 = anterior (45-135°)
    return rho, sector6, sector4
