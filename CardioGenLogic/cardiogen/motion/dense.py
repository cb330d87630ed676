"""DENSE: wrapped phase -> displacement (Eulerian) -> Lagrangian displacement -> strain.

DENSE encodes the displacement since the encoding time (end-diastole) in the phase,
``phase = wrap(2π · ke · u)`` with ``u`` in mm along the encoded index axis (:class:`~cardiogen.data.DenseSeries`).
:func:`dense_displacement` inverts this per encoding direction, per slice:

1. **Phase-offset correction** (``offset_correction``; ``True`` = ``"planar"``, ``"constant"``, or ``False``). The
   background phase (eddy currents, concomitant fields, B0 drift) is estimated per frame from **static tissue**
   and subtracted: pixels of ``static_mask`` when given, otherwise pixels far from the heart (more than
   ``heart_margin_mm`` from the filled LV mask of any frame) whose magnitude is above a quarter of the median
   myocardial magnitude and whose phase is locally coherent (|mean of e^{iφ}| over 3×3 > 0.9; this drops lung,
   air and blood, whose DENSE phase is noise). The offset is the magnitude-weighted circular mean ("constant"),
   plus a robust least-squares plane in pixel coordinates fitted to the residual ("planar"). Frames with fewer
   than :data:`MIN_STATIC_PIXELS` such pixels are left uncorrected (recorded in the provenance). Static tissue is
   assumed not to move (breath-hold); when it does, switch the correction off.
2. **Spatial unwrapping** inside the myocardial mask (:func:`unwrap_spatial`): quality-guided path following
   (flood fill from the best pixel of each connected region; quality = mean absolute wrapped phase difference to
   the 4-neighbours in the mask; each pixel is unwrapped against the mean of its already unwrapped neighbours).
   Each region is exact up to its own 2πk.
3. **Temporal unwrapping** (:func:`unwrap_temporal`): at the reference frame (displacement ≈ 0 at the encoding
   time) each region's median is brought into [−π, π); then frame by frame away from the reference, each region is
   shifted by the 2πk that best matches the previous frame (median over the region, the previous field extended by
   nearest neighbour outside its mask), and finally every pixel whose jump from the previous frame still exceeds π
   is moved by 2π. Without temporal unwrapping each frame is normalised like the reference frame (valid while the
   mean displacement stays under half a wrap length ``1/(2 ke)``).
4. ``u = phase / (2π ke)`` mm along the encoded index axis, converted to LPS components with the grid direction:
   ``u_world += direction[:, axis] · u``. Unencoded axes contribute nothing (2D DENSE gives in-plane motion only).

**Masks.** From ``dense.segmentation`` (label "LV myocardium", value 2 in the standard table), per frame and slice;
frames whose slice carries no contour take the mask of the **nearest annotated frame** (ties: the earlier one). This
is a simplification: the myocardium moves, so on those frames the mask is only approximately where the wall is.
A ``mask`` argument (``(z, y, x)`` for all frames or ``(t, z, y, x)``) replaces the segmentation; ``mask="auto"``
finds the LV myocardium on the DENSE images themselves (:func:`~cardiogen.motion.dense_mask.detect_myocardium`: a
ring of phase-coherent tissue around the dark, phase-incoherent blood pool). The provenance records the mask's mean
phase coherence (``mask_phase_coherence``): under :data:`~cardiogen.motion.dense_mask.LOW_COHERENCE` the mask lies
largely on blood, lung or air, i.e. the contours do not sit on this series' myocardium.

**Sampling.** DENSE measures, at pixel ``x`` of frame ``t``, the displacement of the material point **now at x**:
an Eulerian sampling of a Lagrangian quantity. :func:`dense_displacement` returns it as it is (``provenance
["sampling"] = "eulerian"``, ``mask`` = the union of the frame masks); :func:`dense_to_lagrangian` resamples it onto
the reference grid, which :func:`~cardiogen.motion.strain.compute_strain` needs, and :func:`dense_strain` chains the
three steps.
"""
from __future__ import annotations

import heapq
from typing import Any

import numpy as np
from scipy import ndimage

from ..data import DenseSeries, DisplacementSeries, Segmentation, StrainSeries
from ..errors import CardioGenInputError
from .dense_mask import mask_phase_coherence, phase_coherence

__all__ = ["dense_displacement", "dense_to_lagrangian", "dense_strain", "dense_motion_and_strain",
           "dense_frame_masks", "unwrap_spatial", "unwrap_temporal", "estimate_phase_offset", "pixel_coherence",
           "MIN_STATIC_PIXELS", "UNANNOTATED", "STRAIN_METHODS"]

TWO_PI = 2.0 * np.pi
#: Fewest static-tissue pixels for a phase-offset estimate of one frame.
MIN_STATIC_PIXELS = 50
_AXES = {"x": 0, "y": 1, "z": 2}
_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _wrap(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + np.pi) % TWO_PI - np.pi


# ----------------------------------------------------------------------------------------------------------------
# Spatial unwrapping
# ----------------------------------------------------------------------------------------------------------------
def _quality(phase: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean |wrapped difference| to the 4-neighbours inside the mask (lower = better; π where isolated)."""
    total = np.zeros(phase.shape)
    count = np.zeros(phase.shape)
    for axis in (0, 1):
        d = np.abs(_wrap(np.diff(phase, axis=axis)))
        both = np.logical_and(np.take(mask, range(0, mask.shape[axis] - 1), axis),
                              np.take(mask, range(1, mask.shape[axis]), axis))
        d = np.where(both, d, 0.0)
        pad_lo = [(0, 0), (0, 0)]
        pad_hi = [(0, 0), (0, 0)]
        pad_lo[axis] = (1, 0)
        pad_hi[axis] = (0, 1)
        total += np.pad(d, pad_lo) + np.pad(d, pad_hi)
        count += np.pad(both, pad_lo).astype(float) + np.pad(both, pad_hi).astype(float)
    return np.where(count > 0, total / np.maximum(count, 1), np.pi)


def _unwrap_2d(phase: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quality-guided flood fill of one 2D slice. Returns (unwrapped, component labels)."""
    out = np.zeros(phase.shape, dtype=float)
    labels, n = ndimage.label(mask)
    if n == 0:
        return out, labels
    quality = _quality(phase, mask)
    done = np.zeros(mask.shape, dtype=bool)
    ny, nx = mask.shape
    for comp in range(1, n + 1):
        region = labels == comp
        q = np.where(region, quality, np.inf)
        seed = np.unravel_index(int(np.argmin(q)), q.shape)
        out[seed] = phase[seed]
        done[seed] = True
        heap: list[tuple[float, int, int]] = []
        queued = np.zeros(mask.shape, dtype=bool)

        def push(r: int, c: int) -> None:
            for dr, dc in _NEIGHBOURS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < ny and 0 <= cc < nx and region[rr, cc] and not done[rr, cc] and not queued[rr, cc]:
                    queued[rr, cc] = True
                    heapq.heappush(heap, (float(quality[rr, cc]), rr, cc))

        push(*seed)
        while heap:
            _, r, c = heapq.heappop(heap)
            refs = [out[r + dr, c + dc] for dr, dc in _NEIGHBOURS
                    if 0 <= r + dr < ny and 0 <= c + dc < nx and done[r + dr, c + dc]]
            ref = float(np.mean(refs))
            out[r, c] = phase[r, c] + TWO_PI * np.round((ref - phase[r, c]) / TWO_PI)
            done[r, c] = True
            push(r, c)
    return out, labels


def unwrap_spatial(phase: Any, mask: Any) -> np.ndarray:
    """Unwrap wrapped phase inside a mask, slice by slice (2D quality-guided path following).

    Args:
        phase: wrapped radians ``(y, x)`` or ``(z, y, x)``.
        mask: bool, same shape: where the phase is meaningful (myocardium).

    Returns:
        float, same shape: unwrapped inside ``mask`` (each connected region of each slice exact up to its own 2πk;
        the seed pixel keeps its wrapped value), 0 outside.
    """
    ph = np.asarray(phase, dtype=float)
    m = np.asarray(mask, dtype=bool)
    if ph.shape != m.shape or ph.ndim not in (2, 3):
        raise CardioGenInputError("phase and mask must be (y, x) or (z, y, x) of the same shape",
                                  got=f"{ph.shape} and {m.shape}")
    if ph.ndim == 2:
        return _unwrap_2d(ph, m)[0]
    return np.stack([_unwrap_2d(ph[k], m[k])[0] for k in range(ph.shape[0])])


# ----------------------------------------------------------------------------------------------------------------
# Temporal unwrapping
# ----------------------------------------------------------------------------------------------------------------
def _extend(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``values`` outside ``mask`` replaced by the nearest value inside (2D or 3D)."""
    if mask.all() or not mask.any():
        return values
    idx = ndimage.distance_transform_edt(~mask, return_distances=False, return_indices=True)
    return values[tuple(idx)]


def _normalise(frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = frame.copy()
    for comp in range(1, int(labels.max()) + 1):
        region = labels == comp
        if region.any():
            out[region] -= TWO_PI * np.round(np.median(out[region]) / TWO_PI)
    return out


def _align(frame: np.ndarray, labels: np.ndarray, mask: np.ndarray, previous: np.ndarray,
           prev_mask: np.ndarray, per_pixel: bool) -> np.ndarray:
    ref = _extend(previous, prev_mask)
    out = frame.copy()
    for comp in range(1, int(labels.max()) + 1):
        region = labels == comp
        if region.any():
            out[region] += TWO_PI * np.round(np.median(ref[region] - out[region]) / TWO_PI)
    if per_pixel:
        out = np.where(mask, out + TWO_PI * np.round((ref - out) / TWO_PI), out)
    return out


def unwrap_temporal(phase: Any, masks: Any, *, reference_frame: int = 0, per_pixel: bool = True) -> np.ndarray:
    """Fix the 2πk of each frame (and each pixel) from the reference frame outwards.

    Args:
        phase: ``(t, y, x)`` radians per frame: spatially unwrapped (each connected region of each frame exact up
            to 2πk) or simply wrapped.
        masks: bool ``(t, y, x)`` (or ``(y, x)`` for all frames).
        reference_frame: frame where the displacement is ≈ 0 (its regions' medians go into [−π, π)).
        per_pixel: after the region shift, move every pixel that still jumps by more than π from the previous frame
            (the previous frame extended by nearest neighbour outside its mask) by 2π.

    Returns:
        float ``(t, y, x)``; 0 outside the masks.
    """
    ph = np.asarray(phase, dtype=float)
    m = np.asarray(masks, dtype=bool)
    if m.ndim == ph.ndim - 1:
        m = np.broadcast_to(m, ph.shape)
    if ph.ndim != 3 or m.shape != ph.shape:
        raise CardioGenInputError("phase must be (t, y, x) with masks of the same shape",
                                  got=f"{ph.shape} and {m.shape}")
    n_t = ph.shape[0]
    if not 0 <= reference_frame < n_t:
        raise CardioGenInputError("reference frame out of range", expected=f"0..{n_t - 1}", got=reference_frame)
    out = np.where(m, ph, 0.0)
    labels = [ndimage.label(m[t])[0] for t in range(n_t)]
    out[reference_frame] = _normalise(out[reference_frame], labels[reference_frame])
    order = list(range(reference_frame + 1, n_t)) + list(range(reference_frame - 1, -1, -1))
    for t in order:
        prev = t - 1 if t > reference_frame else t + 1
        if not m[t].any():
            continue
        if not m[prev].any():  # no data to compare with: treat as a new reference
            out[t] = _normalise(out[t], labels[t])
            continue
        out[t] = _align(out[t], labels[t], m[t], out[prev], m[prev], per_pixel)
    return np.where(m, out, 0.0)


# ----------------------------------------------------------------------------------------------------------------
# Phase offsets
# ----------------------------------------------------------------------------------------------------------------
def estimate_phase_offset(phase: Any, weights: Any, static: Any, mode: str = "planar") -> np.ndarray | None:
    """Background phase of one 2D frame from static pixels.

    Args:
        phase: wrapped radians ``(y, x)``.
        weights: ``(y, x)`` >= 0 (magnitude) for the circular mean.
        static: bool ``(y, x)`` static-tissue pixels.
        mode: ``"constant"`` (weighted circular mean) or ``"planar"`` (plus a plane fitted to the residual, twice,
            keeping residuals under π/2 then π/4).

    Returns:
        float ``(y, x)`` offset map in radians, or None when fewer than :data:`MIN_STATIC_PIXELS` static pixels.
    """
    ph = np.asarray(phase, dtype=float)
    st = np.asarray(static, dtype=bool)
    w = np.asarray(weights, dtype=float)
    if mode not in ("constant", "planar"):
        raise CardioGenInputError("offset mode must be 'constant' or 'planar'", got=mode)
    if np.count_nonzero(st) < MIN_STATIC_PIXELS:
        return None
    z = np.sum(w[st] * np.exp(1j * ph[st]))
    if abs(z) == 0:
        return None
    const = float(np.angle(z))
    offset = np.full(ph.shape, const)
    if mode == "constant":
        return offset
    rows, cols = np.nonzero(st)
    for limit in (np.pi / 2, np.pi / 4):
        resid = _wrap(ph[rows, cols] - offset[rows, cols])
        keep = np.abs(resid) < limit
        if np.count_nonzero(keep) < MIN_STATIC_PIXELS:
            break
        a = np.column_stack([np.ones(keep.sum()), cols[keep], rows[keep]])
        coef, *_ = np.linalg.lstsq(a, resid[keep] + offset[rows[keep], cols[keep]], rcond=None)
        yy, xx = np.mgrid[0:ph.shape[0], 0:ph.shape[1]]
        offset = coef[0] + coef[1] * xx + coef[2] * yy
    return offset


def _static_mask(dense: DenseSeries, t: int, k: int, heart: np.ndarray, myo: np.ndarray,
                 margin_mm: float) -> np.ndarray:
    """Automatic static tissue of one slice/frame: far from the heart, bright, phase-coherent in every encoding."""
    mag = dense.magnitude.array[t, k]
    if heart.any() and margin_mm > 0:
        sx, sy = dense.magnitude.geometry.spacing[:2]
        far = ndimage.distance_transform_edt(~heart, sampling=(sy, sx)) > margin_mm
    else:
        far = ~heart
    ref = np.median(mag[myo]) if myo.any() else np.median(mag[mag > 0]) if np.any(mag > 0) else 0.0
    tissue = mag > 0.25 * ref if ref > 0 else np.zeros_like(heart)
    coherent = phase_coherence(dense.phase[:, t, k]) > 0.9
    return far & tissue & coherent


# ----------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------
def _myo_value(seg: Segmentation) -> int:
    try:
        return seg.value_of("LV myocardium")
    except CardioGenInputError:
        return 2


def _fill_from_nearest_frame(masks: np.ndarray, annotated: np.ndarray) -> np.ndarray:
    """``(t, z, y, x)`` masks where every slice takes, on each frame, its mask on the nearest frame of ``annotated``
    ``(t, z)`` (ties: the earlier frame); slices with no annotated frame stay empty."""
    out = np.zeros_like(masks, dtype=bool)
    for k in range(masks.shape[1]):
        frames = np.flatnonzero(annotated[:, k])
        if frames.size == 0:
            continue
        for t in range(masks.shape[0]):
            out[t, k] = masks[frames[np.argmin(np.abs(frames - t))], k]
    return out


def dense_frame_masks(dense: DenseSeries, mask: Any = None) -> np.ndarray:
    """Per-frame myocardial masks ``(t, z, y, x)`` as outlined, each frame without an outline filled from the nearest
    outlined one: what :func:`dense_displacement`'s ``unannotated="nearest"`` path measures on (the default tracked
    path measures the wall itself; this fill only keeps the heart out of its static-tissue search there).

    ``mask`` (``(z, y, x)``/``(y, x)`` for all frames, or ``(t, z, y, x)``) wins over ``dense.segmentation``;
    ``mask="auto"`` detects the myocardium on the images (:func:`~cardiogen.motion.dense_mask.detect_myocardium`); from
    the segmentation, slices of frames without a contour take the nearest annotated frame's mask (ties: earlier), and
    so do the empty slices of a ``(t, z, y, x)`` mask (a contour drawn on some frames only, e.g. DENSEanalysis
    workspaces loaded as a segmentation): the phase is measured on every frame, only the outline is missing there.

    Raises:
        CardioGenInputError: "DENSE displacement needs a myocardial mask" when there is none or it is empty.
    """
    drawn, annotated, _ = _drawn_masks(dense, mask)
    return _fill_from_nearest_frame(drawn, annotated)


def _drawn_masks(dense: DenseSeries, mask: Any = None) -> tuple[np.ndarray, np.ndarray, str]:
    """The myocardium as drawn (or given, or found): ``(masks (t, z, y, x), annotated (t, z), source)``; frames
    without an outline are empty and not annotated. ``mask="auto"`` is checked by
    :func:`~cardiogen.motion.dense_mask.check_myocardium_mask` (refused when it is not a coherent ring)."""
    n_t, n_z, n_y, n_x = dense.magnitude.shape
    if isinstance(mask, str):
        if mask != "auto":
            raise CardioGenInputError("DENSE mask must be an array or 'auto'", got=mask)
        from .dense_mask import check_myocardium_mask, detect_myocardium  # noqa: PLC0415

        m = detect_myocardium(dense)
        check_myocardium_mask(dense, m, what="the automatic myocardium (mask='auto')")
        source = "automatic (cardiogen.motion.dense_mask.detect_myocardium)"
    elif mask is not None:
        m = np.asarray(mask)
        if m.ndim == 2:
            m = m[None]
        if m.ndim == 4 and m.shape[0] == 1:  # one frame (e.g. the end-diastolic segmentation): static
            m = m[0]
        if m.ndim == 3:
            m = np.broadcast_to(m, (n_t,) + m.shape)
        if m.shape != (n_t, n_z, n_y, n_x):
            raise CardioGenInputError("DENSE mask must be (z, y, x) or (t, z, y, x) on the DENSE grid",
                                      expected=(n_t, n_z, n_y, n_x), got=np.asarray(mask).shape)
        m = np.array(m, dtype=bool)
        source = "mask argument"
    elif dense.segmentation is not None:
        seg = dense.segmentation
        if seg.labels.shape != (n_t, n_z, n_y, n_x):
            raise CardioGenInputError("DENSE segmentation grid differs from the images",
                                      expected=(n_t, n_z, n_y, n_x), got=seg.labels.shape)
        m = (seg.labels == _myo_value(seg)) & np.asarray(seg.annotated, dtype=bool)[:, :, None, None]
        source = "segmentation"
    else:
        raise CardioGenInputError("DENSE displacement needs a myocardial mask",
                                  expected="dense.segmentation with LV myocardium contours or mask=")
    annotated = m.reshape(n_t, n_z, -1).any(axis=2)
    if not annotated.any():
        raise CardioGenInputError("DENSE displacement needs a myocardial mask", got="empty mask")
    return np.asarray(m, dtype=bool), annotated, source


def _ke_values(dense: DenseSeries) -> list[float]:
    ke = dense.ke
    if ke is None:
        raise CardioGenInputError("DENSE data has no encoding frequency ke (cycles/mm)")
    values = np.atleast_1d(np.asarray(ke, dtype=float)).reshape(-1)
    n_e = dense.phase.shape[0]
    if values.size == 1:
        values = np.repeat(values, n_e)
    if values.size != n_e or not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise CardioGenInputError("DENSE ke must be > 0 cycles/mm, one per encoding", expected=n_e,
                                  got=values.tolist())
    return values.tolist()


# ----------------------------------------------------------------------------------------------------------------
# Per-pixel quality and tracking of the wall
# ----------------------------------------------------------------------------------------------------------------
#: Policies for frames whose slice has no drawn contour (see :func:`dense_displacement`).
UNANNOTATED = ("propagate", "end", "nearest")
#: Default per-pixel thresholds of the tracked path (see :func:`dense_displacement`).
COHERENCE_MIN = 0.8
#: Half the wall's median magnitude: a pixel on the wall's edge is kept when about half of it or more is wall, i.e.
#: when its centre lies on the wall (the strain map's truth is defined at pixel centres). A pixel mostly of blood or
#: air carries the edge's displacement at a position the wall does not occupy, which flattens the measured
#: transmural gradient (0.3 let such pixels in: on the analytic ring, remote radial strain up to 0.05 under the
#: truth; ``benchmarks/dense_strain.py``).
MAGNITUDE_FRACTION = 0.5
#: A frame whose tracked wall keeps less than this fraction of the reference wall is "lost" (not measured).
MIN_WALL_FRACTION = 0.3


def pixel_coherence(phases: Any) -> np.ndarray:
    """Per-pixel phase coherence ``(y, x)`` of wrapped phases ``(e, y, x)``: the best |mean of e^{iφ}| over the
    four 2×2 windows that contain the pixel, the minimum over encodings.

    Unlike the 3×3 measure of :func:`~cardiogen.motion.dense_mask.phase_coherence` it does not mark a tissue pixel
    on the wall's edge as incoherent because its other neighbours are blood: one window lies in the tissue. Blood,
    lung and air (random phase) stay low (about 0.6 at best of four windows of noise; tissue about 0.95-1).
    """
    ph = np.asarray(phases, dtype=float)
    if ph.ndim == 2:
        ph = ph[None]
    out = None
    for e in range(ph.shape[0]):
        z = np.exp(1j * ph[e])
        s = np.pad(z, 1, mode="constant")
        # mean over the 2x2 window whose top-left is (r, c), for r, c in -1..n-1
        win = (s[:-1, :-1] + s[1:, :-1] + s[:-1, 1:] + s[1:, 1:]) / 4.0
        mag = np.abs(win)
        best = np.maximum.reduce([mag[:-1, :-1], mag[1:, :-1], mag[:-1, 1:], mag[1:, 1:]])
        out = best if out is None else np.minimum(out, best)
    return out


def _local_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of ``values`` over the 3×3 neighbours (not the pixel itself) inside ``mask``; NaN where none."""
    ny, nx = mask.shape
    pad_v = np.pad(np.where(mask, values, np.nan), 1, constant_values=np.nan)
    stack = [pad_v[1 + dr: 1 + dr + ny, 1 + dc: 1 + dc + nx] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
             if (dr, dc) != (0, 0)]
    stack = np.stack(stack)
    out = np.full(mask.shape, np.nan)
    some = np.isfinite(stack).any(axis=0)
    out[some] = np.nanmedian(stack[:, some], axis=0)
    return out


def _drop_small_components(mask: np.ndarray, min_pixels: int = 5) -> np.ndarray:
    lab, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum(mask, lab, range(1, n + 1))
    keep = [i + 1 for i, sz in enumerate(sizes) if sz >= min_pixels]
    return np.isin(lab, keep)


def _track_slice(phase: np.ndarray, mag: np.ndarray, drawn: np.ndarray, annotated: np.ndarray, ke: list[float],
                 axes: list[int], spacing_xy: tuple[float, float], ref: int, policy: str, coherence_min: float,
                 magnitude_fraction: float, search_px: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Measure the wall of one slice frame by frame from the reference frame (see :func:`dense_displacement`).

    Args:
        phase: ``(e, t, y, x)`` offset-corrected wrapped phase; mag: ``(t, y, x)``; drawn: bool ``(t, y, x)`` drawn
        myocardium (empty on frames without contour); annotated: bool ``(t,)``.

    Returns:
        ``(u, masks, info)``: ``u`` ``(e, t, y, x)`` mm along each encoding's index axis (0 outside ``masks``),
        ``masks`` bool ``(t, y, x)`` measured wall pixels, ``info`` with per-frame sources and pixel counts.
    """
    n_e, n_t, n_y, n_x = phase.shape
    u = np.zeros((n_e, n_t, n_y, n_x))
    masks = np.zeros((n_t, n_y, n_x), dtype=bool)
    source = ["none"] * n_t
    dropped = {"incoherent": 0, "off_wall": 0, "outlier": 0}
    frames = np.flatnonzero(annotated)
    if frames.size == 0:
        return u, masks, {"source": source, "dropped": dropped}
    start = ref if annotated[ref] else int(frames[np.argmin(np.abs(frames - ref))])
    region0 = drawn[start]

    def good(t: int, region: np.ndarray) -> np.ndarray:
        coh = pixel_coherence(phase[:, t])
        m = region & (coh >= coherence_min)
        if m.any():
            m &= mag[t] >= magnitude_fraction * np.median(mag[t][m])
        dropped["incoherent"] += int(np.count_nonzero(region & ~m))
        return m

    wall0 = _drop_small_components(good(ref, region0))
    if not wall0.any():
        return u, masks, {"source": source, "dropped": dropped}
    masks[ref] = wall0
    for e in range(n_e):
        unwrapped = _unwrap_2d(phase[e, ref], wall0)[0]
        u[e, ref] = _normalise(unwrapped, ndimage.label(wall0)[0]) / (TWO_PI * ke[e])
    source[ref] = "contour" if annotated[ref] else "reference (nearest contour)"
    wall0_f = wall0.astype(float)
    rows, cols = np.mgrid[0:n_y, 0:n_x].astype(float)
    order = list(range(ref + 1, n_t)) + list(range(ref - 1, -1, -1))
    stopped = {1: False, -1: False}
    for t in order:
        direction = 1 if t > ref else -1
        prev = t - direction
        if annotated[t]:
            region, src = ndimage.binary_dilation(drawn[t]), "contour"
        elif policy == "propagate" and not stopped[direction] and masks[prev].any():
            region, src = ndimage.binary_dilation(masks[prev], iterations=search_px), "propagated"
        else:
            stopped[direction] = True
            continue
        m = good(t, region)
        if not m.any():
            stopped[direction] = stopped[direction] or src == "propagated"
            continue
        labels = ndimage.label(m)[0]
        cur = np.zeros((n_e, n_y, n_x))
        ref_prev = masks[prev] if masks[prev].any() else wall0
        u_prev_src = u[:, prev] if masks[prev].any() else u[:, ref]
        for e in range(n_e):
            ph = _unwrap_2d(phase[e, t], m)[0]
            prev_phase = u_prev_src[e] * (TWO_PI * ke[e])
            cur[e] = _align(ph, labels, m, prev_phase, ref_prev, True) / (TWO_PI * ke[e])
        # pull back: the material now at x came from X = x - u; it must come from the reference wall
        r_back, c_back = rows.copy(), cols.copy()
        for e in range(n_e):
            if axes[e] == 0:
                c_back = c_back - cur[e] / spacing_xy[0]
            elif axes[e] == 1:
                r_back = r_back - cur[e] / spacing_xy[1]
        inside = ndimage.map_coordinates(wall0_f, [r_back[m], c_back[m]], order=1, mode="constant") > 0.25
        on_wall = np.zeros_like(m)
        on_wall[m] = inside
        dropped["off_wall"] += int(np.count_nonzero(m & ~on_wall))
        m = on_wall
        # neighbours and previous frame: an unwrapping error is a jump of a wrap length 1/ke
        bad = np.zeros_like(m)
        for e in range(n_e):
            tol = 0.25 / ke[e]
            med = _local_median(cur[e], m)
            bad |= m & np.isfinite(med) & (np.abs(cur[e] - med) > tol)
        m2 = _drop_small_components(m & ~bad)
        dropped["outlier"] += int(np.count_nonzero(m & ~m2))
        if np.count_nonzero(m2) < MIN_WALL_FRACTION * np.count_nonzero(wall0):
            source[t] = f"lost ({src})"
            if src == "propagated":
                stopped[direction] = True
            continue
        masks[t] = m2
        u[:, t] = np.where(m2, cur, 0.0)
        source[t] = src
    return u, masks, {"source": source, "dropped": dropped}


# ----------------------------------------------------------------------------------------------------------------
# Phase -> displacement
# ----------------------------------------------------------------------------------------------------------------
def _offset_mode(offset_correction: Any) -> str | None:
    if offset_correction is True:
        return "planar"
    if offset_correction is False or offset_correction is None:
        return None
    if offset_correction in ("constant", "planar"):
        return str(offset_correction)
    raise CardioGenInputError("offset_correction must be True, False, 'constant' or 'planar'",
                              got=offset_correction)


def dense_displacement(dense: DenseSeries, mask: Any = None, *, temporal_unwrap: bool = True,
                       offset_correction: bool | str = True, reference_frame: int = 0, spatial_unwrap: bool = True,
                       per_pixel_temporal: bool = True, static_mask: Any = None, heart_margin_mm: float = 25.0,
                       unannotated: str = "propagate", coherence_min: float = COHERENCE_MIN,
                       magnitude_fraction: float = MAGNITUDE_FRACTION, search_px: int = 2,
                       return_frame_masks: bool = False) -> DisplacementSeries | tuple[DisplacementSeries, np.ndarray]:
    """DENSE phase -> Eulerian displacement (see the module docstring for every step).

    Two paths. The default (**tracked**, ``unannotated="propagate"`` or ``"end"``) measures the wall frame by frame
    from the reference frame with a per-pixel quality check, because contours drawn by hand take in a rim of blood,
    air or lung whose phase is noise:

    * a pixel is used only where its phase is coherent (:func:`pixel_coherence` >= ``coherence_min``) and its
      magnitude is at least ``magnitude_fraction`` of the frame's median over the coherent outline (default one half:
      edge pixels whose centre lies on the wall, see :data:`MAGNITUDE_FRACTION`);
    * the reference wall = the reference frame's outline ∩ those pixels; on every later (earlier) frame the search
      region is that frame's outline dilated by one pixel, or, without an outline, the previous frame's measured
      wall dilated by ``search_px`` pixels (``"propagate"``); ``"end"`` stops measuring at the first frame without an
      outline;
    * inside the region each encoding is unwrapped spatially and aligned in time to the previous frame; a pixel is
      kept only when the material now there came from the reference wall (pull-back ``X = x − u`` falls inside it)
      and when its displacement agrees with its measured neighbours' median within a quarter wrap (``0.25 / ke``
      mm: an unwrapping error is a whole wrap);
    * a frame keeping less than :data:`MIN_WALL_FRACTION` of the reference wall is "lost" (not measured; with
      propagation, the frames after it are not measured either).

    The provenance says, per frame, where its wall came from (``frame_sources``: contour, propagated, lost, none)
    and lists ``measured_frames``; frames not measured are all zero with an empty mask.

    ``unannotated="nearest"`` is the earlier path, kept for comparison: no per-pixel quality, and each frame without
    an outline reuses the nearest outlined frame's mask (the wall has moved: only approximately right).

    Args:
        dense: :class:`DenseSeries`.
        mask: myocardial mask overriding ``dense.segmentation`` (``(z, y, x)`` or ``(t, z, y, x)``; empty frames of
            the latter count as not outlined), or ``"auto"`` to find the myocardium on the images
            (:func:`~cardiogen.motion.dense_mask.detect_myocardium`, refused when it is not a coherent ring).
        temporal_unwrap: fix 2πk frame to frame from the reference frame (nearest path; the tracked path always does).
        offset_correction: ``True``/``"planar"``, ``"constant"`` or ``False``.
        reference_frame: frame of ≈ zero displacement (the encoding time).
        spatial_unwrap: quality-guided unwrapping inside the mask (nearest path; the tracked path always does).
        per_pixel_temporal: nearest path: also move single pixels that jump by more than π from the previous frame.
        static_mask: bool ``(z, y, x)`` or ``(t, z, y, x)`` of static tissue for the offset estimate.
        heart_margin_mm: automatic static tissue lies farther than this from the filled LV.
        unannotated: ``"propagate"`` (default), ``"end"`` or ``"nearest"`` (above).
        coherence_min, magnitude_fraction, search_px: per-pixel thresholds and search band of the tracked path.
        return_frame_masks: also return the per-frame masks ``(t, z, y, x)``.

    Returns:
        :class:`DisplacementSeries` ``(t, 3, z, y, x)`` mm, LPS components, **Eulerian** (value at pixel x of frame
        t = displacement of the material point now at x), 0 outside each frame's mask; ``mask`` = union of the frame
        masks; provenance notes the sampling, ke, offsets, frame sources. With ``return_frame_masks``:
        ``(displacement, masks)``.

    Raises:
        CardioGenInputError: no mask ("DENSE displacement needs a myocardial mask"), an automatic mask that is not a
        coherent ring, no/invalid ke, bad arguments, no measurable wall on the reference frame.
    """
    if not isinstance(dense, DenseSeries):
        raise CardioGenInputError("dense_displacement needs a cardiogen.data.DenseSeries", got=type(dense).__name__)
    if unannotated not in UNANNOTATED:
        raise CardioGenInputError("unannotated must be one of " + ", ".join(UNANNOTATED), got=unannotated)
    if not 0 < float(coherence_min) < 1 or not 0 <= float(magnitude_fraction) < 1 or int(search_px) < 0:
        raise CardioGenInputError("coherence_min in (0, 1), magnitude_fraction in [0, 1), search_px >= 0",
                                  got=(coherence_min, magnitude_fraction, search_px))
    ke = _ke_values(dense)
    drawn, annotated, mask_source = _drawn_masks(dense, mask)
    nearest = _fill_from_nearest_frame(drawn, annotated)
    mode = _offset_mode(offset_correction)
    if not np.isfinite(float(heart_margin_mm)) or float(heart_margin_mm) < 0:
        raise CardioGenInputError("heart_margin_mm must be >= 0 mm", got=heart_margin_mm)
    n_t, n_z, n_y, n_x = dense.magnitude.shape
    if not 0 <= int(reference_frame) < n_t:
        raise CardioGenInputError("reference frame out of range", expected=f"0..{n_t - 1}", got=reference_frame)
    reference_frame = int(reference_frame)
    static = None
    if static_mask is not None:
        static = np.asarray(static_mask, dtype=bool)
        if static.ndim == 3:
            static = np.broadcast_to(static, (n_t,) + static.shape)
        if static.shape != nearest.shape:
            raise CardioGenInputError("static_mask must be (z, y, x) or (t, z, y, x) on the DENSE grid",
                                      expected=nearest.shape[1:], got=np.asarray(static_mask).shape)
    heart = np.stack([np.stack([ndimage.binary_fill_holes(nearest[t, k]) for k in range(n_z)]) for t in range(n_t)])
    heart_any = heart.any(axis=0)
    geometry = dense.magnitude.geometry
    uncorrected: list[tuple[int, int]] = []
    offsets_rad: dict[str, list] = {}
    phases = []
    for e, enc in enumerate(dense.encodings):
        phase = dense.phase[e].astype(float)  # (t, z, y, x)
        offs = []
        if mode is not None:
            for t in range(n_t):
                for k in range(n_z):
                    if static is not None:
                        st = static[t, k]
                    else:
                        st = _static_mask(dense, t, k, heart_any[k], nearest[t, k], float(heart_margin_mm))
                    off = estimate_phase_offset(phase[t, k], dense.magnitude.array[t, k], st & ~heart[t, k], mode)
                    if off is None:
                        uncorrected.append((t, k))
                        offs.append(0.0)
                        continue
                    phase[t, k] = _wrap(phase[t, k] - off)
                    offs.append(float(np.mean(off[nearest[t, k]])) if nearest[t, k].any() else float(np.mean(off)))
        offsets_rad[enc] = offs
        phases.append(phase)
    disp = np.zeros((n_t, 3, n_z, n_y, n_x), dtype=np.float64)
    axes = [_AXES[enc] for enc in dense.encodings]
    tracked = unannotated != "nearest"
    quality: dict[str, Any] = {}
    if tracked:
        masks = np.zeros_like(nearest)
        sources = [["none"] * n_z for _ in range(n_t)]
        dropped = {"incoherent": 0, "off_wall": 0, "outlier": 0}
        sx, sy = geometry.spacing[:2]
        for k in range(n_z):
            if not annotated[:, k].any():
                continue
            u_k, m_k, info = _track_slice(np.stack([p[:, k] for p in phases]), dense.magnitude.array[:, k],
                                          drawn[:, k], annotated[:, k], ke, axes, (sx, sy), reference_frame,
                                          unannotated, float(coherence_min), float(magnitude_fraction),
                                          int(search_px))
            masks[:, k] = m_k
            for t in range(n_t):
                sources[t][k] = info["source"][t]
            for key, value in info["dropped"].items():
                dropped[key] += value
            for e in range(len(axes)):
                disp[:, :, k] += geometry.direction[:, axes[e]][None, :, None, None] * u_k[e][:, None]
        if not masks[reference_frame].any():
            raise CardioGenInputError(
                "no measurable myocardium on the DENSE reference frame: the outline holds no pixel of coherent "
                "phase (is it on this series' wall?)", source=dense.metadata.get("source_file")
                if isinstance(dense.metadata, dict) else None)
        quality = {"frame_sources": [s[0] if n_z == 1 else s for s in sources],
                   "dropped_pixels": dropped, "coherence_min": float(coherence_min),
                   "magnitude_fraction": float(magnitude_fraction), "search_px": int(search_px)}
    else:
        masks = nearest
        for e, phase in enumerate(phases):
            for k in range(n_z):
                series = np.zeros((n_t, n_y, n_x))
                for t in range(n_t):
                    if spatial_unwrap:
                        series[t] = _unwrap_2d(phase[t, k], masks[t, k])[0]
                    else:
                        series[t] = np.where(masks[t, k], phase[t, k], 0.0)
                if temporal_unwrap:
                    series = unwrap_temporal(series, masks[:, k], reference_frame=reference_frame,
                                             per_pixel=per_pixel_temporal)
                else:
                    for t in range(n_t):
                        series[t] = _normalise(series[t], ndimage.label(masks[t, k])[0])
                u_axis = series / (TWO_PI * ke[e])  # mm along the index axis
                disp[:, :, k] += geometry.direction[:, axes[e]][None, :, None, None] * u_axis[:, None]
    disp *= masks[:, None]
    measured = masks.reshape(n_t, -1).any(axis=1)
    provenance = {
        "method": "DENSE phase -> displacement (cardiogen.motion.dense)",
        "sampling": "eulerian: value at pixel x of frame t = displacement of the material point now at x",
        "ke_cycles_per_mm": ke, "encodings": list(dense.encodings), "reference_frame": reference_frame,
        "offset_correction": mode or "off", "spatial_unwrap": bool(spatial_unwrap or tracked),
        "temporal_unwrap": bool(temporal_unwrap or tracked), "per_pixel_temporal": bool(per_pixel_temporal),
        "mask_source": mask_source, "unannotated": unannotated,
        "tracking": "per-pixel quality, wall tracked from the reference frame" if tracked else
                    "none: frames without an outline reuse the nearest outlined frame's mask",
        "contour_frames": np.flatnonzero(annotated.any(axis=1)).tolist(),
        "measured_frames": np.flatnonzero(measured).tolist(),
        "mask_phase_coherence": round(mask_phase_coherence(dense, nearest), 3),
        "measured_phase_coherence": round(mask_phase_coherence(dense, masks), 3),
        "offset_mean_in_mask_rad": offsets_rad,
        "offset_uncorrected_frames": sorted({t for t, _ in uncorrected}),
        "unencoded_axes_zero": [a for a in "xyz" if a not in dense.encodings],
        **quality,
    }
    result = DisplacementSeries(disp.astype(np.float32), geometry=geometry, frame_times=dense.magnitude.frame_times,
                                reference_frame=reference_frame, mask=masks.any(axis=0),
                                synthetic=dense.magnitude.synthetic, provenance=provenance)
    return (result, masks) if return_frame_masks else result


# ----------------------------------------------------------------------------------------------------------------
# Eulerian -> Lagrangian
# ----------------------------------------------------------------------------------------------------------------
def dense_to_lagrangian(disp_eulerian: DisplacementSeries, frame_masks: Any = None, *, reference_mask: Any = None,
                        iterations: int = 50, tol_mm: float = 1e-4) -> DisplacementSeries:
    """Resample an Eulerian DENSE displacement onto the reference (Lagrangian) grid.

    For each reference point ``X`` of ``reference_mask`` and each frame, the current position ``x`` solves
    ``x − u_E(x) = X`` by the fixed-point iteration ``x ← X + u_E(x)`` (Spottiswoode et al., IEEE TMI 2007), and
    ``u_L(X) = u_E(x)``. Approximations: ``u_E`` is interpolated bilinearly in each slice's plane (slices are
    independent 2D acquisitions; the through-plane component is carried along but never moves a point to another
    slice); outside a frame's mask ``u_E`` takes the nearest measured value, so points that leave the contour use
    the wall's edge value; no temporal fitting or smoothing. Converges when ``|∂u/∂x| < 1`` (any real wall).

    Args:
        disp_eulerian: from :func:`dense_displacement`.
        frame_masks: bool ``(t, z, y, x)`` where ``u_E`` is measured; default ``disp_eulerian.mask`` for all frames.
        reference_mask: Lagrangian domain ``(z, y, x)``; default the reference frame's mask.
        iterations: most fixed-point iterations.
        tol_mm: stop when no point moves more than this between iterations.

    Returns:
        Lagrangian :class:`DisplacementSeries` on the same grid, 0 outside ``reference_mask``, ``mask`` =
        ``reference_mask``, provenance ``sampling = "lagrangian"`` with the largest final fixed-point update.
    """
    if not isinstance(disp_eulerian, DisplacementSeries):
        raise CardioGenInputError("dense_to_lagrangian needs a DisplacementSeries", got=type(disp_eulerian).__name__)
    n_t = disp_eulerian.n_frames
    shape = disp_eulerian.spatial_shape
    if frame_masks is None:
        base = disp_eulerian.mask if disp_eulerian.mask is not None else np.ones(shape, dtype=bool)
        frame_masks = np.broadcast_to(base, (n_t,) + shape)
    fm = np.asarray(frame_masks, dtype=bool)
    if fm.shape != (n_t,) + shape:
        raise CardioGenInputError("frame_masks must be (t, z, y, x)", expected=(n_t,) + shape, got=fm.shape)
    ref = fm[disp_eulerian.reference_frame] if reference_mask is None else np.asarray(reference_mask, dtype=bool)
    if ref.ndim == 2:
        ref = ref[None]
    if ref.shape != shape:
        raise CardioGenInputError("reference_mask grid differs", expected=shape, got=ref.shape)
    if not ref.any():
        raise CardioGenInputError("reference mask is empty")
    geometry = disp_eulerian.geometry
    d, sp = geometry.direction, np.asarray(geometry.spacing)
    out = np.zeros(disp_eulerian.array.shape, dtype=np.float64)
    worst = 0.0
    for k in range(shape[0]):
        rows, cols = np.nonzero(ref[k])
        if rows.size == 0:
            continue
        for t in range(n_t):
            if not fm[t, k].any():
                continue
            comps = [_extend(disp_eulerian.array[t, c, k].astype(float), fm[t, k]) for c in range(3)]

            def sample(r: np.ndarray, c: np.ndarray) -> np.ndarray:
                coords = np.vstack([r, c])
                return np.stack([ndimage.map_coordinates(comp, coords, order=1, mode="nearest") for comp in comps])

            r, c = rows.astype(float), cols.astype(float)
            step = np.inf
            for _ in range(int(iterations)):
                u = sample(r, c)  # (3, n) world mm
                idx = (d.T @ u) / sp[:, None]  # index displacement (x, y, z)
                r_new, c_new = rows + idx[1], cols + idx[0]
                step = float(np.max(np.hypot((r_new - r) * sp[1], (c_new - c) * sp[0])))
                r, c = r_new, c_new
                if step < tol_mm:
                    break
            worst = max(worst, step)
            out[t, :, k, rows, cols] = sample(r, c).T
    provenance = dict(disp_eulerian.provenance)
    provenance.update(sampling="lagrangian: value at reference voxel X = displacement of the material point X",
                      lagrangian_method="fixed point x = X + u_E(x), bilinear in-plane, nearest outside the masks",
                      lagrangian_last_update_mm=worst)
    return DisplacementSeries(out.astype(np.float32), geometry=geometry, frame_times=disp_eulerian.frame_times,
                              reference_frame=disp_eulerian.reference_frame, mask=ref,
                              synthetic=disp_eulerian.synthetic, provenance=provenance)


#: Strain estimators of :func:`dense_strain`: "mesh" (default, :func:`~cardiogen.motion.dense_mesh.mesh_strain`) and
#: "grid" (Eulerian -> Lagrangian resampling, then :func:`~cardiogen.motion.strain.compute_strain`).
STRAIN_METHODS = ("mesh", "grid")


def dense_strain(dense: DenseSeries, mask: Any = None, *, method: str = "mesh", smooth_mm: float | None = None,
                 displacement_options: dict | None = None, **strain_options: Any) -> StrainSeries:
    """DENSE -> Eulerian displacement (:func:`dense_displacement`, tracked with per-pixel quality) -> strain.

    ``method="mesh"`` (default) takes the deformation gradient per triangle of measured pixels
    (:func:`~cardiogen.motion.dense_mesh.mesh_strain`, robust means for the curves); ``"grid"`` resamples onto the
    reference grid (:func:`dense_to_lagrangian`) and differentiates there (:func:`~cardiogen.motion.strain.
    compute_strain`; needed for longitudinal strain of a 3D-encoded stack). ``benchmarks/dense_strain.py`` compares
    the two on the analytic ring (:mod:`cardiogen.analytic`). Frames that were not measured (no outline and no
    propagation, or lost) have NaN curves; ``provenance["measured_frames"]`` lists the others.

    The myocardium measured on the reference frame (and, when the segmentation has one, the blood pool) define
    the strain mask and the LV centre. ``displacement_options`` go to :func:`dense_displacement`, ``strain_options``
    to the estimator (AHA options; ``longitudinal`` for "grid").
    """
    return _motion_and_strain(dense, mask, method, smooth_mm, displacement_options, strain_options,
                              lagrangian=False)[1]


def _blood_pool(dense: DenseSeries, ref: int) -> np.ndarray | None:
    seg = dense.segmentation
    if seg is None:
        return None
    try:
        blood_value = seg.value_of("LV blood pool")
    except CardioGenInputError:
        return None
    annotated = np.flatnonzero(np.asarray(seg.annotated).any(axis=1))
    f = int(annotated[np.argmin(np.abs(annotated - ref))]) if annotated.size else ref
    blood = seg.labels[f] == blood_value
    return blood if blood.any() else None


def dense_motion_and_strain(dense: DenseSeries, mask: Any = None, *, method: str = "mesh",
                            smooth_mm: float | None = None, displacement_options: dict | None = None,
                            **strain_options: Any) -> tuple[DisplacementSeries, StrainSeries]:
    """Like :func:`dense_strain`, also returning the Lagrangian displacement (on the reference grid, for display
    and export)."""
    return _motion_and_strain(dense, mask, method, smooth_mm, displacement_options, strain_options, lagrangian=True)


def _motion_and_strain(dense: DenseSeries, mask: Any, method: str, smooth_mm: float | None,
                       displacement_options: dict | None, strain_options: dict, *,
                       lagrangian: bool) -> tuple[DisplacementSeries | None, StrainSeries]:
    """The DENSE strain chain; the Lagrangian resampling runs only when the grid estimator or the caller needs it."""
    from .dense_mesh import mesh_strain  # noqa: PLC0415
    from .strain import compute_strain  # noqa: PLC0415

    if method not in STRAIN_METHODS:
        raise CardioGenInputError("DENSE strain method must be one of " + ", ".join(STRAIN_METHODS), got=method)
    opts = dict(displacement_options or {})
    eul, masks = dense_displacement(dense, mask, return_frame_masks=True, **opts)
    ref = eul.reference_frame
    blood = _blood_pool(dense, ref) if mask is None else None
    strain_options.setdefault("blood_pool_mask", blood)
    measured = masks.reshape(masks.shape[0], -1).any(axis=1)
    if method == "mesh" and strain_options.get("longitudinal"):
        method = "grid"  # the mesh is in-plane; a 3D-encoded stack's longitudinal strain needs the grid
    lag = dense_to_lagrangian(eul, masks) if lagrangian or method == "grid" else None
    if method == "mesh":
        strain_options.pop("longitudinal", None)
        if smooth_mm:
            raise CardioGenInputError("smooth_mm applies to method='grid'; the mesh estimator does not smooth",
                                      got=smooth_mm)
        strain = mesh_strain(eul, masks, masks[ref], **strain_options)
    else:
        strain = compute_strain(lag, masks[ref], smooth_mm=smooth_mm, **strain_options)
        for key, curve in strain.segment_curves.items():
            curve = np.array(curve, dtype=float)
            curve[~measured] = np.nan
            strain.segment_curves[key] = curve
        for name in strain.components:
            strain.components[name][~measured] = 0.0
        strain.provenance.update(strain_estimator="grid", measured_frames=np.flatnonzero(measured).tolist())
    strain.provenance["frame_sources"] = eul.provenance.get("frame_sources")
    return lag, strain


def refine_myocardium_mask(dense: DenseSeries, region: Any = None, *, magnitude_fraction: float = 0.5,
                           coherence_min: float = 0.6, first_valid_frame: int = 3,
                           region_labels: tuple[int, ...] = (1, 2)) -> np.ndarray:
    """Myocardial masks ``(t, z, y, x)`` from the images, inside a rough region (default: the contours' whole LV).

    DENSE suppresses blood and its phase is smooth only in tissue, so the myocardium is the bright, phase-coherent
    tissue inside the LV outline. Used when contours are imprecise: on the real swine sample in
    ``shared/data/dense`` the stored ROI runs about 1.5x too large (its endocardial line follows the epicardium).
    Without any outline, :func:`~cardiogen.motion.dense_mask.detect_myocardium` finds the wall on the images alone.

    Args:
        region: bool ``(t, z, y, x)`` or ``(z, y, x)`` outline to search in; default: the union of ``region_labels`` of
            ``dense.segmentation`` dilated by one pixel (frames without contours use the nearest annotated one).
        region_labels: labels forming the default region: (1, 2) = inside the epicardial contour; for the swine
            sample, whose stored endocardial contour follows the epicardium, use (1,).
        magnitude_fraction: keep pixels brighter than this fraction of the region's median magnitude.
        coherence_min: keep pixels whose local phase coherence |mean(exp(iφ))| (3x3) exceeds this in every encoding.
        first_valid_frame: earlier frames (blood not yet suppressed after the encoding) take this frame's mask.
    """
    from scipy import ndimage

    mag = dense.magnitude.array
    n_t, n_z = mag.shape[:2]
    if region is None:
        if dense.segmentation is None:
            raise CardioGenInputError("refining the myocardium needs contours or a region mask")
        seg = dense.segmentation
        annotated = np.flatnonzero(seg.annotated.any(axis=1))
        if annotated.size == 0:
            raise CardioGenInputError("the DENSE contours annotate no frame")
        region = np.zeros(mag.shape, bool)
        for t in range(n_t):
            f = int(annotated[np.argmin(np.abs(annotated - t))])
            for z in range(n_z):
                region[t, z] = ndimage.binary_dilation(np.isin(seg.labels[f, z], region_labels))
    region = np.asarray(region, bool)
    if region.ndim == 3:
        region = np.broadcast_to(region, mag.shape)
    if region.shape != mag.shape:
        raise CardioGenInputError("region mask grid differs from the DENSE images", expected=mag.shape,
                                  got=region.shape)
    masks = np.zeros(mag.shape, bool)
    for t in range(n_t):
        f = min(max(t, first_valid_frame), n_t - 1)
        for z in range(n_z):
            reg = region[f, z]
            if not reg.any():
                continue
            coh = phase_coherence(dense.phase[:, f, z])
            m = reg & (mag[f, z] > magnitude_fraction * np.median(mag[f, z][reg])) & (coh > coherence_min)
            m = ndimage.binary_opening(m)
            lab, n = ndimage.label(m)
            if n:
                masks[t, z] = lab == 1 + int(np.argmax(ndimage.sum(m, lab, range(1, n + 1))))
    return masks
