"""Myocardial strain from displacement fields and from tracked landmarks.

Definitions (PHYSIOLOGY.md §3; seed 001 ch. 4, eq. 4.2):

* Deformation gradient ``F = I + ∂u/∂X`` with ``u`` the Lagrangian displacement (LPS mm) and ``X`` the reference
  position in LPS world mm. Derivatives are taken along the index axes (central differences, one-sided at the edge
  of the grid or of the derivative mask) and converted to world axes with the grid's direction matrix:
  ``∂u/∂X = G · Dᵀ`` where ``G[c, i] = ∂u_c / ∂s_i`` is the derivative along index axis ``i`` per mm and
  ``D[:, i]`` that axis's LPS direction. A single slice (z = 1) has no through-plane derivative: ``F d_z = d_z``
  ("F_zz = 1" in the slice frame).
* Green-Lagrange strain ``E = ½ (FᵀF − I)``; a component along a unit vector ``e`` is ``eᵀ E e``
  (negative = shortening). Landmark strain between two tracked points is ``ε = ½ (L² − L₀²) / L₀²``.
* LV local frame (:func:`lv_frame`, :func:`radial_circumferential`): the long axis ``e_long`` points **apex ->
  base**. For a short-axis stack it is the slice normal: by default slice 0 is the base and the slice index grows
  towards the apex (the phantom's convention), so ``e_long = −direction[:, 2]``; pass ``long_axis`` to override.
  The sign of ``e_long`` does not change any strain value (``E_ll``, ``E_rr``, ``E_cc`` are quadratic forms); it
  only orders the AHA levels. The radial unit vector ``e_r`` points from the axis outwards, perpendicular to
  ``e_long``, through the LV centre **of each slice** (centroid of the filled myocardium / blood pool);
  ``e_c = e_long × e_r``.
"""
from __future__ import annotations

import csv
import os
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from ..data import DisplacementSeries, Geometry, Segmentation, StrainSeries
from ..errors import CardioGenInputError
from .aha import N_SEGMENTS, aha_segments, disc_sectors, segment_means, slice_centers

__all__ = ["deformation_gradient", "green_lagrange", "lv_frame", "radial_circumferential", "compute_strain",
           "landmark_strain", "radial_circumferential_pairs", "peak_values", "bullseye_image", "write_curves_csv"]


# ----------------------------------------------------------------------------------------------------------------
# Deformation gradient and Green-Lagrange strain
# ----------------------------------------------------------------------------------------------------------------
def _check_disp(disp: Any) -> DisplacementSeries:
    if not isinstance(disp, DisplacementSeries):
        raise CardioGenInputError("strain needs a cardiogen.data.DisplacementSeries", got=type(disp).__name__)
    return disp


def _mask3(mask: Any, shape: tuple[int, int, int], name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape != tuple(shape):
        raise CardioGenInputError(f"{name} must be (z, y, x) on the displacement grid", expected=tuple(shape),
                                  got=arr.shape)
    return arr.astype(bool)


def _smooth(u: np.ndarray, spacing: tuple[float, float, float], sigma_mm: float, mask: np.ndarray | None) -> np.ndarray:
    """Gaussian smoothing of ``u`` (3, z, y, x) with sigma in mm; normalised convolution inside ``mask``."""
    nz = u.shape[1]
    sigma = (0.0 if nz == 1 else sigma_mm / spacing[2], sigma_mm / spacing[1], sigma_mm / spacing[0])
    if mask is None:
        return np.stack([ndimage.gaussian_filter(c, sigma, mode="nearest") for c in u])
    w = ndimage.gaussian_filter(mask.astype(float), sigma, mode="constant")
    out = np.stack([ndimage.gaussian_filter(c * mask, sigma, mode="constant") for c in u])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(mask & (w > 1e-6), out / np.maximum(w, 1e-12), u)
    return out


def _diff(f: np.ndarray, m: np.ndarray, axis: int, h: float) -> np.ndarray:
    """Derivative of ``f`` (..., z, y, x) along spatial ``axis`` (0 = z, 1 = y, 2 = x of ``m``) per mm.

    Central differences where both neighbours are in ``m``; one-sided where only one is; 0 where none is.
    """
    n = m.shape[axis]
    out = np.zeros(f.shape, dtype=float)
    if n == 1:
        return out
    fa = axis + f.ndim - 3

    def sl(arr_ndim: int, ax: int, start: int | None, stop: int | None) -> tuple:
        idx = [slice(None)] * arr_ndim
        idx[ax] = slice(start, stop)
        return tuple(idx)

    # Neighbour availability (inside the grid and inside the mask).
    has_p = np.zeros_like(m)
    has_m = np.zeros_like(m)
    has_p[sl(3, axis, None, -1)] = m[sl(3, axis, 1, None)]
    has_m[sl(3, axis, 1, None)] = m[sl(3, axis, None, -1)]
    has_p &= m
    has_m &= m
    fp = np.zeros_like(out)
    fm = np.zeros_like(out)
    fp[sl(f.ndim, fa, None, -1)] = f[sl(f.ndim, fa, 1, None)]
    fm[sl(f.ndim, fa, 1, None)] = f[sl(f.ndim, fa, None, -1)]
    both = has_p & has_m
    only_p = has_p & ~has_m
    only_m = has_m & ~has_p
    out = np.where(both, (fp - fm) / (2 * h), out)
    out = np.where(only_p, (fp - f) / h, out)
    out = np.where(only_m, (f - fm) / h, out)
    return out


def _frame_gradient(u: np.ndarray, geometry: Geometry, mask: np.ndarray) -> np.ndarray:
    """``∂u/∂X`` (z, y, x, 3, 3) of one frame ``u`` (3, z, y, x) in world mm."""
    sx, sy, sz = geometry.spacing
    g = np.zeros(u.shape[1:] + (3, 3))
    g[..., :, 0] = np.moveaxis(_diff(u, mask, 2, sx), 0, -1)
    g[..., :, 1] = np.moveaxis(_diff(u, mask, 1, sy), 0, -1)
    g[..., :, 2] = np.moveaxis(_diff(u, mask, 0, sz), 0, -1)
    return g @ geometry.direction.T


def _prepare(disp: DisplacementSeries, mask: Any, smooth_mm: float | None) -> tuple[np.ndarray, float | None]:
    shape = disp.spatial_shape
    m = np.ones(shape, dtype=bool) if mask is None else _mask3(mask, shape, "derivative mask")
    if smooth_mm is not None:
        smooth_mm = float(smooth_mm)
        if not np.isfinite(smooth_mm) or smooth_mm < 0:
            raise CardioGenInputError("smooth_mm must be >= 0 mm", got=smooth_mm)
        if smooth_mm == 0:
            smooth_mm = None
    return m, smooth_mm


def deformation_gradient(disp: DisplacementSeries, *, mask: Any = None, smooth_mm: float | None = None) -> np.ndarray:
    """Deformation gradient of a Lagrangian displacement series.

    Args:
        disp: :class:`DisplacementSeries` ``(t, 3, z, y, x)`` mm (LPS components).
        mask: optional bool ``(z, y, x)``: derivatives use only voxels inside it (one-sided at its edge, 0 on
            isolated voxels); default the whole grid (``np.gradient``-like central differences).
        smooth_mm: optional Gaussian sigma (mm) applied to ``u`` before differentiation (inside ``mask``).

    Returns:
        float64 ``(t, z, y, x, 3, 3)``: ``F[..., i, j] = δ_ij + ∂u_i/∂X_j`` in LPS world axes.
    """
    disp = _check_disp(disp)
    m, smooth_mm = _prepare(disp, mask, smooth_mm)
    out = np.empty((disp.n_frames,) + disp.spatial_shape + (3, 3))
    for t in range(disp.n_frames):
        u = disp.array[t].astype(float)
        if smooth_mm:
            u = _smooth(u, disp.geometry.spacing, smooth_mm, None if mask is None else m)
        out[t] = _frame_gradient(u, disp.geometry, m) + np.eye(3)
    return out


def green_lagrange(F: np.ndarray) -> np.ndarray:
    """Green-Lagrange strain ``E = ½ (FᵀF − I)`` of ``F`` (..., 3, 3); symmetric by construction."""
    F = np.asarray(F, dtype=float)
    if F.ndim < 2 or F.shape[-2:] != (3, 3):
        raise CardioGenInputError("F must be (..., 3, 3)", got=f"shape {F.shape}")
    return 0.5 * (np.swapaxes(F, -1, -2) @ F - np.eye(3))


# ----------------------------------------------------------------------------------------------------------------
# LV frame
# ----------------------------------------------------------------------------------------------------------------
def _unit(vec: Any, name: str) -> np.ndarray:
    v = np.asarray(vec, dtype=float).reshape(-1)
    if v.size != 3 or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise CardioGenInputError(f"{name} must be a non-zero 3-vector (LPS)", got=v.tolist())
    return v / np.linalg.norm(v)


def _lv_masks(mask_or_segmentation: Any, frame: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(mask_or_segmentation, Segmentation):
        seg = mask_or_segmentation
        myo = seg.labels[frame] == seg.value_of("LV myocardium")
        try:
            blood = seg.labels[frame] == seg.value_of("LV blood pool")
        except CardioGenInputError:
            blood = None
        return myo, blood
    arr = np.asarray(mask_or_segmentation)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise CardioGenInputError("LV mask must be (z, y, x)", got=f"shape {arr.shape}")
    return arr.astype(bool), None


def _index_to_world(geometry: Geometry, idx_xyz: np.ndarray) -> np.ndarray:
    return np.asarray(geometry.origin) + (geometry.direction @ (np.asarray(geometry.spacing) * idx_xyz).T).T


def lv_frame(mask_or_segmentation: Any, geometry: Geometry, long_axis: Sequence[float] | None = None, *,
             blood_pool_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """LV centre and long axis.

    Args:
        mask_or_segmentation: bool myocardium ``(z, y, x)`` or a :class:`Segmentation` (frame 0: "LV myocardium"
            plus "LV blood pool" when labelled).
        geometry: grid of the mask.
        long_axis: LPS vector apex -> base overriding the default ``−direction[:, 2]`` (slice 0 = base).
        blood_pool_mask: optional LV blood pool (helps the centre of open rings).

    Returns:
        ``(center_world (3,) mm, e_long (3,) unit)``: centre = mean of the per-slice centres (slices with
        myocardium), in LPS mm.
    """
    myo, blood = _lv_masks(mask_or_segmentation)
    if blood_pool_mask is not None:
        blood = blood_pool_mask
    if not myo.any():
        raise CardioGenInputError("LV frame needs a non-empty myocardium mask")
    centers = slice_centers(myo, blood)
    ks = np.array([k for k in range(myo.shape[0]) if myo[k].any()], dtype=float)
    idx = np.column_stack([centers[ks.astype(int)], ks])
    center = _index_to_world(geometry, idx).mean(axis=0)
    e_long = -np.asarray(geometry.direction[:, 2], dtype=float) if long_axis is None else _unit(long_axis, "long_axis")
    return center, e_long


def radial_circumferential(mask_or_segmentation: Any, geometry: Geometry, long_axis: Sequence[float] | None = None,
                           *, blood_pool_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-voxel LV unit vectors.

    Returns:
        ``(e_r, e_c, e_long)``: ``e_r`` and ``e_c`` float ``(z, y, x, 3)`` LPS unit vectors (0 on the axis itself),
        ``e_long`` ``(3,)``. ``e_r`` is radial from the axis through each slice's LV centre, perpendicular to
        ``e_long``; ``e_c = e_long × e_r``.
    """
    myo, blood = _lv_masks(mask_or_segmentation)
    if blood_pool_mask is not None:
        blood = blood_pool_mask
    _, e_long = lv_frame(myo, geometry, long_axis, blood_pool_mask=blood)
    centers = slice_centers(myo, blood)
    nz, ny, nx = myo.shape
    kk, jj, ii = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    rel = np.stack([ii - centers[:, 0][:, None, None], jj - centers[:, 1][:, None, None], np.zeros_like(kk)], -1)
    world = (rel * np.asarray(geometry.spacing)) @ geometry.direction.T  # (z, y, x, 3) from the slice centre
    perp = world - (world @ e_long)[..., None] * e_long
    norm = np.linalg.norm(perp, axis=-1, keepdims=True)
    e_r = np.where(norm > 1e-9, perp / np.maximum(norm, 1e-12), 0.0)
    e_c = np.cross(e_long, e_r)
    return e_r, e_c, e_long


# ----------------------------------------------------------------------------------------------------------------
# Strain series
# ----------------------------------------------------------------------------------------------------------------
def _quad(e: np.ndarray, E: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...ij,...j->...", e, E, e)


def compute_strain(disp: DisplacementSeries, myocardium_mask: Any, *, long_axis: Sequence[float] | None = None,
                   blood_pool_mask: Any = None, smooth_mm: float | None = None, derivative_mask: Any = "auto",
                   rv_mask: Any = None, rv_insertion_deg: float | None = None, segments: Any = None,
                   longitudinal: bool | None = None) -> StrainSeries:
    """Radial / circumferential (/ longitudinal) Green-Lagrange strain maps with AHA and global curves.

    Args:
        disp: Lagrangian :class:`DisplacementSeries` (reference grid).
        myocardium_mask: bool ``(z, y, x)`` LV myocardium at the reference frame.
        long_axis: LPS vector apex -> base (default ``−direction[:, 2]``, see the module docstring).
        blood_pool_mask: optional LV blood pool (reference frame), for the LV centres.
        smooth_mm: Gaussian sigma (mm) applied to ``u`` before differentiation; default none (no regularisation).
        derivative_mask: voxels whose displacement the derivatives may use: ``"auto"`` = ``disp.mask`` when set
            (e.g. DENSE: only the myocardium carries data) else the whole grid; ``None`` = whole grid; or a mask.
        rv_mask / rv_insertion_deg: AHA reference (see :mod:`cardiogen.motion.aha`).
        segments: precomputed AHA labels ``(z, y, x)`` (skips :func:`aha_segments`).
        longitudinal: include ``E_ll``; default when z > 1 and the myocardium spans more than one slice (a single
            2D slice has no through-plane derivative, so only radial and circumferential are returned).

    Returns:
        :class:`StrainSeries` with components ``(t, z, y, x)`` (0 outside the myocardium), ``mask`` = myocardium,
        ``segment_curves``: ``<component>`` -> ``(t, 16)`` AHA means (NaN where a segment is empty) and
        ``global_<component>`` -> ``(t,)`` means over the myocardium.
    """
    disp = _check_disp(disp)
    shape = disp.spatial_shape
    myo = _mask3(myocardium_mask, shape, "myocardium mask")
    if not myo.any():
        raise CardioGenInputError("strain needs a non-empty myocardium mask")
    blood = None if blood_pool_mask is None else _mask3(blood_pool_mask, shape, "blood pool mask")
    if isinstance(derivative_mask, str):
        if derivative_mask != "auto":
            raise CardioGenInputError("derivative_mask must be 'auto', None or a mask", got=derivative_mask)
        derivative_mask = disp.mask
    m, smooth_mm = _prepare(disp, derivative_mask, smooth_mm)
    e_r, e_c, e_long = radial_circumferential(myo, disp.geometry, long_axis, blood_pool_mask=blood)
    n_slices = int(np.count_nonzero(myo.reshape(shape[0], -1).any(axis=1)))
    if longitudinal is None:
        longitudinal = shape[0] > 1 and n_slices > 1
    names = ["radial", "circumferential"] + (["longitudinal"] if longitudinal else [])
    comps = {name: np.zeros((disp.n_frames,) + shape, dtype=np.float32) for name in names}
    for t in range(disp.n_frames):
        u = disp.array[t].astype(float)
        if smooth_mm:
            u = _smooth(u, disp.geometry.spacing, smooth_mm, None if derivative_mask is None else m)
        F = _frame_gradient(u, disp.geometry, m)[myo] + np.eye(3)
        E = green_lagrange(F)
        comps["radial"][t][myo] = _quad(e_r[myo], E)
        comps["circumferential"][t][myo] = _quad(e_c[myo], E)
        if longitudinal:
            comps["longitudinal"][t][myo] = _quad(np.broadcast_to(e_long, F.shape[:-1]), E)
    if segments is None:
        segments = aha_segments(myo, disp.geometry, rv_mask=rv_mask, rv_insertion_deg=rv_insertion_deg,
                                long_axis=long_axis, blood_pool_mask=blood)
    else:
        segments = np.asarray(segments)
        if segments.shape != shape:
            raise CardioGenInputError("AHA segments grid differs", expected=shape, got=segments.shape)
    curves: dict[str, np.ndarray] = {}
    for name, arr in comps.items():
        curves[name] = segment_means(arr, segments)
        curves[f"global_{name}"] = arr[:, myo].astype(float).mean(axis=1)
    provenance = {
        "method": "Green-Lagrange E = 1/2 (F^T F - I), F = I + du/dX (central differences, world LPS mm)",
        "smooth_mm": smooth_mm or 0.0, "long_axis_lps": e_long.tolist(),
        "derivative_domain": "whole grid" if derivative_mask is None else "mask",
        "displacement_provenance": dict(disp.provenance),
    }
    return StrainSeries(comps, geometry=disp.geometry, frame_times=disp.frame_times, mask=myo,
                        segment_curves=curves, reference_frame=disp.reference_frame, synthetic=disp.synthetic,
                        provenance=provenance)


# ----------------------------------------------------------------------------------------------------------------
# Landmarks
# ----------------------------------------------------------------------------------------------------------------
def landmark_strain(points: Any, pairs: Any, *, reference_frame: int = 0) -> np.ndarray:
    """Green-Lagrange strain of tracked landmark pairs, ``ε = ½ (L² − L₀²) / L₀²`` (seed 001, eq. 4.2).

    Args:
        points: ``(t, n, 3)`` (or ``(t, n, 2)``) landmark positions in mm.
        pairs: int ``(m, 2)`` point indices.
        reference_frame: frame of ``L₀``.

    Returns:
        float ``(t, m)``.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 3 or pts.shape[2] not in (2, 3) or pts.shape[1] < 2:
        raise CardioGenInputError("landmarks must be (t, n, 3) points in mm", got=f"shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise CardioGenInputError("landmarks contain NaN/Inf")
    pr = np.asarray(pairs)
    if pr.ndim != 2 or pr.shape[1] != 2 or pr.dtype.kind not in "iu":
        raise CardioGenInputError("pairs must be (m, 2) integer indices", got=f"shape {pr.shape}, {pr.dtype}")
    if pr.size and (pr.min() < 0 or pr.max() >= pts.shape[1]):
        raise CardioGenInputError("pair index out of range", expected=f"0..{pts.shape[1] - 1}",
                                  got=f"{pr.min()}..{pr.max()}")
    if not -pts.shape[0] <= reference_frame < pts.shape[0]:
        raise CardioGenInputError("reference frame out of range", got=reference_frame)
    length2 = np.sum((pts[:, pr[:, 0]] - pts[:, pr[:, 1]]) ** 2, axis=-1)
    l0 = length2[reference_frame]
    if np.any(l0 <= 0):
        raise CardioGenInputError("landmark pair with zero length at the reference frame",
                                  got=pr[l0 <= 0].tolist()[:5])
    return 0.5 * (length2 - l0) / l0


def radial_circumferential_pairs(endo_points: Any, epi_points: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Landmark pairs for circumferential and radial strain.

    Args:
        endo_points: ``(n_endo, d)`` or ``(t, n_endo, d)`` points ordered along the closed endocardial contour.
        epi_points: ``(n_epi, d)`` or ``(t, n_epi, d)`` points ordered along the closed epicardial contour.

    Returns:
        ``(points, circumferential_pairs, radial_pairs)``: ``points`` = endo then epi concatenated along the point
        axis (indices 0..n_endo-1 endo, n_endo.. epi); circumferential pairs join consecutive points of each closed
        contour; radial pairs join each endo point to the nearest epi point (at the first frame).
    """
    endo = np.asarray(endo_points, dtype=float)
    epi = np.asarray(epi_points, dtype=float)
    if endo.ndim != epi.ndim or endo.ndim not in (2, 3) or endo.shape[-1] not in (2, 3) \
            or epi.shape[-1] != endo.shape[-1] or (endo.ndim == 3 and endo.shape[0] != epi.shape[0]):
        raise CardioGenInputError("endo/epi points must both be (n, d) or (t, n, d)",
                                  got=f"{endo.shape} and {epi.shape}")
    n_endo, n_epi = endo.shape[-2], epi.shape[-2]
    if n_endo < 3 or n_epi < 3:
        raise CardioGenInputError("each contour needs at least 3 points", got=(n_endo, n_epi))
    points = np.concatenate([endo, epi], axis=-2)
    circ = [(i, (i + 1) % n_endo) for i in range(n_endo)]
    circ += [(n_endo + i, n_endo + (i + 1) % n_epi) for i in range(n_epi)]
    ref_endo = endo if endo.ndim == 2 else endo[0]
    ref_epi = epi if epi.ndim == 2 else epi[0]
    dist = np.linalg.norm(ref_endo[:, None, :] - ref_epi[None, :, :], axis=-1)
    radial = [(i, n_endo + int(np.argmin(dist[i]))) for i in range(n_endo)]
    return points, np.asarray(circ, dtype=np.int64), np.asarray(radial, dtype=np.int64)


# ----------------------------------------------------------------------------------------------------------------
# Summaries and outputs
# ----------------------------------------------------------------------------------------------------------------
def _global(strain: StrainSeries, name: str) -> np.ndarray:
    curve = strain.segment_curves.get(f"global_{name}")
    return np.asarray(curve, dtype=float) if curve is not None else strain.global_curve(name).astype(float)


def peak_values(strain: StrainSeries) -> dict:
    """Peak global strain per component.

    Radial peaks at its maximum (thickening), circumferential and longitudinal at their minimum (shortening).

    Returns:
        ``{component: {"peak": value, "time_ms": frame time of the peak, "frame": index}}``.
    """
    if not isinstance(strain, StrainSeries):
        raise CardioGenInputError("peak_values needs a StrainSeries", got=type(strain).__name__)
    out = {}
    for name in strain.components:
        curve = _global(strain, name)
        i = int(np.nanargmax(curve) if name == "radial" else np.nanargmin(curve))
        out[name] = {"peak": float(curve[i]), "time_ms": float(strain.frame_times[i]), "frame": i}
    return out


def bullseye_image(values: Any, size: int = 256) -> np.ndarray:
    """AHA 16-segment bullseye raster.

    Rings from outside in: basal (1-6), mid (7-12), apical (13-16), equal widths, the apical ring reaching the
    centre (no apical cap). Segment 1 (anterior) at the top, then counter-clockwise on screen: 2 anteroseptal
    (upper left), 3 inferoseptal, 4 inferior (bottom), 5 inferolateral, 6 anterolateral (upper right), as viewed
    from the apex; apical 13 anterior (top), 14 septal (left), 15 inferior, 16 lateral (right).

    Args:
        values: ``(16,)`` per-segment values (segment 1 first).
        size: output side in pixels.

    Returns:
        float ``(size, size)`` with NaN outside the disc.
    """
    vals = np.asarray(values, dtype=float).reshape(-1)
    if vals.size != N_SEGMENTS:
        raise CardioGenInputError("bullseye needs 16 segment values", got=vals.size)
    size = int(size)
    if size < 8:
        raise CardioGenInputError("bullseye size must be >= 8 pixels", got=size)
    rho, sector6, sector4 = disc_sectors(size)
    seg = np.where(rho < 1 / 3, 12 + sector4, np.where(rho < 2 / 3, 6 + sector6, sector6))
    out = vals[seg]
    out[rho > 1.0] = np.nan
    return out


def write_curves_csv(strain: StrainSeries, path: str | os.PathLike) -> None:
    """Write strain curves to CSV (atomically).

    Columns: ``time_ms``, ``global_<component>`` for each component, then ``<component>_seg01`` ..
    ``<component>_seg16`` for each component with AHA curves; one row per frame; NaN as ``nan``.
    """
    from ..io.atomic import atomic_path  # noqa: PLC0415

    if not isinstance(strain, StrainSeries):
        raise CardioGenInputError("write_curves_csv needs a StrainSeries", got=type(strain).__name__)
    columns: list[tuple[str, np.ndarray]] = [("time_ms", np.asarray(strain.frame_times, dtype=float))]
    for name in strain.components:
        columns.append((f"global_{name}", _global(strain, name)))
    for name in strain.components:
        seg = strain.segment_curves.get(name)
        if seg is None:
            continue
        seg = np.asarray(seg, dtype=float)
        for k in range(seg.shape[1]):
            columns.append((f"{name}_seg{k + 1:02d}", seg[:, k]))
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow([name for name, _ in columns])
            for t in range(strain.n_frames):
                writer.writerow([f"{col[t]:.6g}" for _, col in columns])
