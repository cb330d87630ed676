"""Renderers: one inverse-mapping pass per frame feeds cine, tagging and DENSE; CT has its own grid.

Every grid is a :class:`SampleSet`: the sample points (voxel centres, or a sub-grid per voxel for partial volume),
their static body tissue (computed once) and the subset where moving heart tissue can ever be (the only points
that are inverted per frame). Images are block means over the sub-grid.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..data import Geometry
from . import anatomy as A
from .heart import HeartModel, InverseResult


@dataclass(frozen=True)
class Placement:
    """Where the heart frame sits in the body: x_lps = origin_lps + heart_to_lps @ x_heart."""

    heart_to_lps: np.ndarray
    origin_lps: np.ndarray

    def to_lps(self, x_heart: np.ndarray) -> np.ndarray:
        return np.asarray(x_heart) @ self.heart_to_lps.T + self.origin_lps

    def to_heart(self, x_lps: np.ndarray) -> np.ndarray:
        return (np.asarray(x_lps) - self.origin_lps) @ self.heart_to_lps

    def vectors_to_lps(self, v_heart: np.ndarray) -> np.ndarray:
        """Rotate ``(..., 3)`` heart-frame vectors to LPS."""
        return np.asarray(v_heart) @ self.heart_to_lps.T


class SampleSet:
    """Sample points of a voxel grid, ``sub = (sz, sy, sx)`` points per voxel at the centres of equal sub-cells.

    Attributes:
        shape: (nz, ny, nx) voxels; ``sample_shape`` = (nz·sz, ny·sy, nx·sx).
        static_labels: uint8 body tissue at every sample (flat).
        cand: int64 flat indices of the samples where heart tissue can be; ``cu, cv, cw, crp`` their heart-frame
            coordinates (float32) and hypot(u, v).
        static_u, static_v: float32 heart-frame u, v of every sample (for static tag patterns).
    """

    def __init__(self, geometry: Geometry, shape: tuple[int, int, int], sub: tuple[int, int, int],
                 placement: Placement, model: HeartModel, apex_z_lps: float) -> None:
        self.geometry = geometry
        self._heart_to_lps = np.asarray(placement.heart_to_lps, dtype=float)
        self.shape = tuple(int(s) for s in shape)
        self.sub = tuple(int(s) for s in sub)
        self.sample_shape = tuple(n * s for n, s in zip(self.shape, self.sub))
        h = placement.heart_to_lps
        m_lps = np.asarray(geometry.direction) @ np.diag(geometry.spacing)  # index (i, j, k) -> LPS
        o_lps = np.asarray(geometry.origin)
        axes = []
        for axis, (n, s) in enumerate(zip(self.shape[::-1], self.sub[::-1])):  # x, y, z index axes
            off = (np.arange(s) + 0.5) / s - 0.5
            axes.append((np.arange(n)[:, None] + off[None, :]).reshape(-1))
        ii, jj, kk = axes
        # LPS and heart coordinates as broadcast sums of per-axis terms (z, y, x order of the array)
        lps = [o_lps[c] + m_lps[c, 0] * ii[None, None, :] + m_lps[c, 1] * jj[None, :, None]
               + m_lps[c, 2] * kk[:, None, None] for c in range(3)]
        m_h = h.T @ m_lps
        o_h = h.T @ (o_lps - placement.origin_lps)
        heart = [(o_h[c] + m_h[c, 0] * ii[None, None, :] + m_h[c, 1] * jj[None, :, None]
                  + m_h[c, 2] * kk[:, None, None]).astype(np.float32) for c in range(3)]
        full = [np.broadcast_to(a, self.sample_shape) for a in lps]
        self.static_labels = A.body_labels(full[0], full[1], full[2], apex_z_lps).reshape(-1)
        u, v, w = (np.ascontiguousarray(np.broadcast_to(a, self.sample_shape)).reshape(-1) for a in heart)
        self.static_u, self.static_v = u, v
        self.cand = np.flatnonzero(model.may_be_heart(u, v, w))
        self.cu, self.cv, self.cw = u[self.cand], v[self.cand], w[self.cand]
        self.crp = np.sqrt(self.cu * self.cu + self.cv * self.cv)
        # The body is built around the heart: where the ED heart sits, solid organs (liver dome, spine, paraspinal
        # muscle, aorta) give way to mediastinal fat, so that the contracting heart uncovers fat and lung, never
        # the cut face of an organ (a region that would appear from nowhere in systole).
        ed_heart = self.cand[self.invert(model, 0.0).labels > 0]
        solid = np.isin(self.static_labels[ed_heart], A.SOLID_BODY_TISSUES)
        self.static_labels[ed_heart[solid]] = A.FAT
        zs, ys, xs = self.sample_shape
        sz, sy, sx = self.sub
        cz, rem = np.divmod(self.cand, ys * xs)
        cy, cx = np.divmod(rem, xs)
        self.cand_voxel = ((cz // sz) * self.shape[1] + cy // sy) * self.shape[2] + cx // sx
        self.tissues = np.unique(self.static_labels)

    @property
    def n_voxels(self) -> int:
        return int(np.prod(self.shape))

    @property
    def n_sub(self) -> int:
        return int(np.prod(self.sub))

    def tissue_block_sums(self, weight: np.ndarray | None = None) -> np.ndarray:
        """``(len(self.tissues), n_voxels)`` float64: per static tissue, the block sum of ``weight`` (default 1)."""
        out = np.empty((len(self.tissues), self.n_voxels))
        for i, tissue in enumerate(self.tissues):
            sel = (self.static_labels == tissue).astype(np.float32)
            if weight is not None:
                sel *= weight
            out[i] = self.block_sum(sel).reshape(-1)
        return out

    def scatter(self, voxels: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``(n_voxels,)`` float64 sums of ``values`` per voxel index (sparse block sum)."""
        return np.bincount(voxels, weights=values, minlength=self.n_voxels)

    def axis_in_heart(self, axis: int) -> np.ndarray:
        """Heart-frame unit vector of index axis ``axis`` (0 = x, 1 = y, 2 = z)."""
        return self._heart_to_lps.T @ np.asarray(self.geometry.direction)[:, axis]

    @property
    def n_samples(self) -> int:
        return int(np.prod(self.sample_shape))

    def invert(self, model: HeartModel, t_ms: float) -> InverseResult:
        """Inverse mapping of the candidate samples at time t (float32 arrays)."""
        return model.inverse_components(self.cu, self.cv, self.cw, t_ms, rp=self.crp)

    def labels_at(self, model: HeartModel, t_ms: float,
                  res: InverseResult | None = None) -> tuple[np.ndarray, np.ndarray, InverseResult]:
        """(flat uint8 tissue of every sample at t, bool heart flag of the candidates, inverse result)."""
        if res is None:
            res = self.invert(model, t_ms)
        heart = res.labels > 0
        lab = self.static_labels.copy()
        lab[self.cand[heart]] = res.labels[heart]
        return lab, heart, res

    def block_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum over each voxel's sub-samples: flat ``(n_samples,)`` -> ``(nz, ny, nx)``."""
        nz, ny, nx = self.shape
        sz, sy, sx = self.sub
        if sz == sy == sx == 1:
            return values.reshape(self.shape)
        return values.reshape(nz, sz, ny, sy, nx, sx).sum(axis=(1, 3, 5), dtype=np.float32)

    def block_mean(self, values: np.ndarray) -> np.ndarray:
        return self.block_sum(values) * np.float32(1.0 / np.prod(self.sub))


def tag_pattern(s1: np.ndarray, s2: np.ndarray, spacing_mm: float, sharp: bool = True) -> np.ndarray:
    """SPAMM grid: 1 between tags, 0 on dark lines at s = n·spacing along both image axes.

    ``sharp``: thin lines (width ≈ 0.26·spacing, harmonics up to 4/spacing) when the samples resolve them; else a
    band-limited 1-1 SPAMM grid (one harmonic) that does not alias on coarse grids.
    """
    k = np.float32(2.0 * math.pi / spacing_mm)
    c1 = 0.5 + 0.5 * np.cos(k * s1)
    c2 = 0.5 + 0.5 * np.cos(k * s2)
    if sharp:
        c1 *= c1
        c2 *= c2
        c1 *= c1
        c2 *= c2
    return (1.0 - c1) * (1.0 - c2)


def _tag_lines(s: np.ndarray, spacing_mm: float, sharp: bool) -> np.ndarray:
    """One family of SPAMM tags: 1 between tags, 0 on the dark planes s = n·spacing (profile as tag_pattern)."""
    c = 0.5 + 0.5 * np.cos(np.float32(2.0 * math.pi / spacing_mm) * s)
    if sharp:
        c *= c
        c *= c
    return 1.0 - c


def tag_modulation(s1: np.ndarray, s2: np.ndarray, spacing_mm: float, sharp: bool, lines: bool = False,
                   cspamm: bool = False) -> np.ndarray:
    """The tag pattern P(X) of material coordinates, written at the R wave.

    SPAMM: P = T in [0, 1], the longitudinal magnetisation left by the tagging pulses (grid: the product of the
    two families, lines: the family across s1). CSPAMM: P = D/e in [-1, 1], the difference of the two acquisitions
    with opposite tag phase per family, (2·L − 1), averaged over the families of a grid.
    """
    if not cspamm:
        return _tag_lines(s1, spacing_mm, sharp) if lines else tag_pattern(s1, s2, spacing_mm, sharp)
    q = 2.0 * _tag_lines(s1, spacing_mm, sharp) - 1.0
    if not lines:
        q = 0.5 * (q + 2.0 * _tag_lines(s2, spacing_mm, sharp) - 1.0)
    return q


def tag_weights(t_ms: float, cspamm: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per tissue (alpha, beta) with signal = S·(alpha + beta·P) at t ms after the R wave.

    SPAMM: M_z(X, t) = M0·(1 − e(t)·(1 − T(X))), e(t) = exp(−t/T1) (T1 recovery of the tagged magnetisation), so
    alpha = 1 − e, beta = e. CSPAMM: (A − B)/2 = M0·e·P/2, shown as S·(1 + e·P)/2 (mid grey = no tag),
    alpha = 1/2, beta = e/2. Blood loses its tags within the first frames (flow and mixing replace the tagged
    blood of the slice): e = exp(−t/BLOOD_TAG_WASHOUT_MS) after frame 0.
    """
    e = np.exp(-t_ms / A.T1_MS)
    e[list(A.BLOOD_TISSUES)] = 1.0 if t_ms == 0 else math.exp(-t_ms / BLOOD_TAG_WASHOUT_MS)
    if cspamm:
        return np.full_like(e, 0.5), 0.5 * e
    return 1.0 - e, e


BLOOD_TAG_WASHOUT_MS = 40.0  # tags in blood flow out within a few frames
CINE_NOISE = 30.0  # blood 1000
TAG_NOISE = 25.0  # myocardium 1000
DENSE_NOISE = 45.0  # myocardium 1000 at ED
CT_NOISE_HU = 15.0


def render_mr(model: HeartModel, ss: SampleSet, frame_times: np.ndarray, *, cine: bool,
              tagging: bool, dense: bool, dense_ke: float, dense_encodings: tuple[str, ...], tag_spacing_mm: float,
              noise: bool, rngs: dict, timings: dict, tag_lines: bool = False, tag_cspamm: bool = False) -> dict:
    """Render the MR modalities on one short-axis grid.

    The static body's block sums are computed once per tissue; per frame only the samples that hold moving heart
    tissue are inverted and their difference to the static body is scattered into the voxels.

    Returns a dict with (noise-free unless ``noise``) float32 ``(t, z, y, x)`` arrays "cine", "tagging",
    "dense_mag", ``(e, t, z, y, x)`` "dense_phase" (wrapped radians) for the requested ones, and uint8 "labels"
    ``(t, z, y, x)``: per voxel the label 1-4 that covers most of its sub-samples (0 when the rest of the body
    covers at least as much), so that counted volumes are unbiased on thick slices.
    """
    n_t = len(frame_times)
    vshape = (n_t,) + ss.shape
    out: dict = {"labels": np.zeros(vshape, dtype=np.uint8)}
    clock = _Clock(timings)
    tissues = ss.tissues
    counts = ss.tissue_block_sums() if (cine or tagging or dense) else None
    inv_sub = 1.0 / ss.n_sub
    if cine:
        cine_tab = A.bssfp_signal()
        cine_static = cine_tab[tissues] @ counts
        out["cine"] = np.empty(vshape, dtype=np.float32)
    if tagging:
        tag_tab = A.spgr_signal()
        sample_mm = max(ss.geometry.spacing[0] / ss.sub[2], ss.geometry.spacing[1] / ss.sub[1])
        sharp = sample_mm <= tag_spacing_mm / 8.0  # 4th harmonic below the sampling Nyquist
        # the static body's material position is its position: its pattern is fixed, its contrast still relaxes
        static_p = tag_modulation(ss.static_u, ss.static_v, tag_spacing_mm, sharp, tag_lines, tag_cspamm)
        tag_weight = ss.tissue_block_sums(static_p)
        out["tagging"] = np.empty(vshape, dtype=np.float32)
    if dense:
        dmag_tab = A.DENSE_MAGNITUDE
        out["dense_mag"] = np.empty(vshape, dtype=np.float32)
        dense_re = np.empty((len(dense_encodings),) + vshape, dtype=np.float32)
        dense_im = np.empty_like(dense_re)
        axes = [ss.axis_in_heart("xyz".index(enc)) for enc in dense_encodings]
        two_pi_ke = np.float32(2.0 * math.pi * dense_ke)
    clock.lap("mr_grid")
    for f, t in enumerate(frame_times):
        res = ss.invert(model, t)
        heart = res.labels > 0
        hs = ss.cand[heart]  # samples holding moving heart tissue
        hv = ss.cand_voxel[heart]  # their voxels
        lab_h = res.labels[heart]
        sl = ss.static_labels[hs]  # what the static body has there
        clock.lap("mr_inverse")
        out["labels"][f] = majority_labels(ss, hv, lab_h).reshape(ss.shape)
        clock.lap("masks")
        if tagging or dense:
            rh = res.r[heart]
            mu, mv, mw = rh * res.cos_t[heart], rh * res.sin_t[heart], res.z[heart]
        clock.lap("mr_inverse")
        if cine:
            diff = (cine_tab[lab_h] - cine_tab[sl]).astype(np.float32)
            out["cine"][f] = ((cine_static + ss.scatter(hv, diff)) * inv_sub).reshape(ss.shape)
            clock.lap("cine")
        if tagging:
            # heart tissue carries the pattern written at t = 0 on its material (ED) position (mu, mv)
            alpha, beta = tag_weights(t, tag_cspamm)
            static = ((tag_tab * alpha)[tissues] @ counts) + ((tag_tab * beta)[tissues] @ tag_weight)
            p_h = tag_modulation(mu, mv, tag_spacing_mm, sharp, tag_lines, tag_cspamm)
            value_h = tag_tab[lab_h] * (alpha[lab_h] + beta[lab_h] * p_h)
            value_s = tag_tab[sl] * (alpha[sl] + beta[sl] * static_p[hs])
            out["tagging"][f] = ((static + ss.scatter(hv, value_h - value_s)) * inv_sub).reshape(ss.shape)
            clock.lap("tagging")
        if dense:
            dm = dmag_tab * np.exp(-t / A.T1_MS)  # stimulated echo fades with T1
            static_mag = dm[tissues] @ counts
            mag_h = dm[lab_h].astype(np.float32)
            mag_s = dm[sl].astype(np.float32)
            out["dense_mag"][f] = ((static_mag + ss.scatter(hv, mag_h - mag_s)) * inv_sub).reshape(ss.shape)
            d_heart = (ss.cu[heart] - mu, ss.cv[heart] - mv, ss.cw[heart] - mw)
            for e, axis in enumerate(axes):
                phase = two_pi_ke * _project(d_heart, axis)
                re = static_mag + ss.scatter(hv, mag_h * np.cos(phase) - mag_s)
                im = ss.scatter(hv, mag_h * np.sin(phase))
                dense_re[e, f] = (re * inv_sub).reshape(ss.shape)
                dense_im[e, f] = (im * inv_sub).reshape(ss.shape)
            clock.lap("dense")
    if cine and noise:
        out["cine"] = _rician(out["cine"], CINE_NOISE, rngs["cine"])
        clock.lap("cine")
    if tagging and noise:
        out["tagging"] = _rician(out["tagging"], TAG_NOISE, rngs["tagging"])
        clock.lap("tagging")
    if dense:
        if noise:
            rng = rngs["dense"]
            dense_re += rng.standard_normal(dense_re.shape, dtype=np.float32) * np.float32(DENSE_NOISE)
            dense_im += rng.standard_normal(dense_im.shape, dtype=np.float32) * np.float32(DENSE_NOISE)
            out["dense_mag"] = _rician(out["dense_mag"], DENSE_NOISE, rng)
        out["dense_phase"] = np.arctan2(dense_im, dense_re).astype(np.float32)
        clock.lap("dense")
    return out


def majority_labels(ss: SampleSet, voxels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``(n_voxels,)`` uint8: the standard label (1-4) holding most sub-samples of each voxel, else 0."""
    counts = np.bincount(voxels * 8 + labels, minlength=ss.n_voxels * 8).reshape(ss.n_voxels, 8)[:, :5]
    counts[:, 0] = ss.n_sub - counts[:, 1:5].sum(axis=1)
    return np.argmax(counts, axis=1).astype(np.uint8)


class _Clock:
    """Accumulates wall time per stage into a dict (seconds)."""

    def __init__(self, timings: dict) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _project(d_heart: tuple, axis: np.ndarray) -> np.ndarray:
    """Component of heart-frame displacements along a unit ``axis`` (heart frame), skipping zero terms."""
    out = None
    for comp, a in zip(d_heart, axis):
        if abs(a) < 1e-7:
            continue
        term = comp * np.float32(a)
        out = term if out is None else out + term
    return out if out is not None else np.zeros_like(d_heart[0])


def _rician(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """|img + σ·(n1 + i·n2)| (float32)."""
    n1 = rng.standard_normal(img.shape, dtype=np.float32)
    n2 = rng.standard_normal(img.shape, dtype=np.float32)
    n1 *= np.float32(sigma)
    n1 += img
    n2 *= np.float32(sigma)
    return np.sqrt(n1 * n1 + n2 * n2)


def render_ct(model: HeartModel, ss: SampleSet, phase_times: np.ndarray, *, noise: bool,
              rng: np.random.Generator, hu_table: np.ndarray | None = None,
              tissues_out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CT volumes (HU, float32 ``(t, z, y, x)``) and voxel-centre labels 1-4 (uint8) at the given phases.

    HU from ``hu_table`` (per tissue id, default :data:`anatomy.CT_HU`; see :func:`anatomy.ct_hu_table` for the
    contrast timing), infarcted myocardium hypo-enhanced, a Gaussian point spread (σ = 0.5 voxel) and white noise
    of 15 HU. ``tissues_out``, a uint8 ``(t, z, y, x)`` array, receives the tissue id of every voxel centre (the map
    the HU are drawn from).
    """
    n_t = len(phase_times)
    vols = np.empty((n_t,) + ss.shape, dtype=np.float32)
    labels = np.zeros((n_t,) + ss.shape, dtype=np.uint8)
    hu_tab = (A.CT_HU if hu_table is None else np.asarray(hu_table, dtype=np.float64)).astype(np.float32)
    for f, t in enumerate(phase_times):
        lab, heart, res = ss.labels_at(model, t)
        hu = hu_tab[lab]
        if model.infarct is not None:
            myo = res.labels == A.LV_MYO
            w = model.infarct_weight(res.cos_t[myo], res.sin_t[myo])
            hu[ss.cand[myo]] -= np.float32(A.CT_INFARCT_HU_DROP) * w
        vols[f] = ndimage.gaussian_filter(hu.reshape(ss.shape), sigma=0.5, mode="nearest", truncate=3.0)
        labels[f] = np.where((lab >= 1) & (lab <= 4), lab, 0).reshape(ss.shape)
        if tissues_out is not None:
            tissues_out[f] = lab.reshape(ss.shape)
    if noise:
        vols += rng.standard_normal(vols.shape, dtype=np.float32) * np.float32(CT_NOISE_HU)
    return vols, labels
