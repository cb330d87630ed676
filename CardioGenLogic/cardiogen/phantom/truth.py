"""Ground truth of a phantom case: Lagrangian displacement, strain, masks, volumes and phenotypes."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data import DisplacementSeries, Geometry, Segmentation, StrainSeries
from . import anatomy as A
from .demographics import Demographics, Phenotypes
from .heart import HeartModel, aha_segments, lv_basis
from .render import Placement

STRAIN_NAMES = ("radial", "circumferential", "longitudinal")


def voxel_centers_heart(geometry: Geometry, shape: tuple[int, int, int], placement: Placement) -> np.ndarray:
    """``(z, y, x, 3)`` float64 heart-frame coordinates of the voxel centres of a grid."""
    nz, ny, nx = shape
    kk, jj, ii = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([ii, jj, kk], axis=-1).astype(np.float64)
    lps = idx @ (np.asarray(geometry.direction) @ np.diag(geometry.spacing)).T + np.asarray(geometry.origin)
    return placement.to_heart(lps)


@dataclass
class PhantomTruth:
    """Everything known about a phantom case.

    Attributes:
        displacement: Lagrangian displacement from ED (frame 0) on the MR grid, LPS mm; mask = heart (labels 1-4
            at ED). Blood-pool values follow the smooth extension of the wall motion (blood is not tracked).
        strain: Green-Lagrange strain (radial, circumferential, longitudinal; LV frame at ED, cylindrical about
            the long axis) on the MR grid in the ED LV myocardium, with "global_<component>" ``(t,)`` and
            "<component>" ``(t, 16)`` AHA segment curves (0 for a segment without voxels).
        masks: per-frame labels on the MR grid (1 LV blood, 2 LV myo, 3 RV blood, 4 RV myo): the label covering
            most of each voxel's 3 x 2 x 2 sub-samples, so counted volumes stay unbiased on thick slices. (The
            displacement and strain masks use the tissue at the voxel centre.)
        ct_masks: the same on the CT grid at voxel centres (None without CT).
        phenotypes_target: the phenotypes the heart was built from (demographics regression + residual).
        phenotypes_model: exact phenotypes of the model (volumes at frame 0 and the ES frame; differs from the
            target with an infarct or dyssynchrony).
        phenotypes_measured: volumes (mL), EF (%) and mass (g) counted on the MR masks, and "grid_covers_heart"
            (False when the MR grid cuts the ventricles: the counts are then partial).
        es_frame: MR frame of smallest LV volume; ct_es_phase likewise for CT.
        volume_curves: exact "lv_blood_ml", "rv_blood_ml", "lv_myocardium_ml" per MR frame.
        aha_segments: uint8 ``(z, y, x)`` AHA segment (1-17) of the ED LV myocardium voxels, 0 elsewhere.
        heart_to_lps, heart_origin_lps: x_lps = origin + heart_to_lps @ x_heart (heart frame: see the package).
        model: the :class:`~cardiogen.phantom.heart.HeartModel` (forward / inverse / tissue).
    """

    displacement: DisplacementSeries
    strain: StrainSeries
    masks: Segmentation
    ct_masks: Segmentation | None
    phenotypes_target: Phenotypes
    phenotypes_model: Phenotypes
    phenotypes_measured: dict
    demographics: Demographics
    es_frame: int
    ct_es_phase: int | None
    heart_rate_bpm: float
    es_time_ms: float
    rr_ms: float
    volume_curves: dict
    aha_segments: np.ndarray
    heart_to_lps: np.ndarray
    heart_origin_lps: np.ndarray
    model: HeartModel = field(repr=False)

    @property
    def placement(self) -> Placement:
        return Placement(self.heart_to_lps, self.heart_origin_lps)

    def eulerian_displacement(self, frame: int) -> np.ndarray:
        """``(3, z, y, x)`` float32 LPS mm: x − X(x, t) for the material at each MR voxel centre at ``frame``.

        This is what a DENSE phase image encodes (phase = 2π·ke·(x − X)·axis); zero outside the moving heart.
        """
        geom = self.masks.geometry
        shape = self.masks.labels.shape[1:]
        x = voxel_centers_heart(geom, shape, self.placement)
        t = float(self.masks.frame_times[frame])
        xm, lab = self.model.inverse(x, t)
        d = np.where((lab > 0)[..., None], x - xm, 0.0)
        return np.moveaxis(self.placement.vectors_to_lps(d), -1, 0).astype(np.float32)

    def strain_directions(self) -> np.ndarray:
        """``(3, 3, z, y, x)``: LPS unit vectors e_r, e_c, e_l (first axis) of the ED LV frame at each MR voxel."""
        shape = self.masks.labels.shape[1:]
        x = voxel_centers_heart(self.masks.geometry, shape, self.placement).reshape(-1, 3)
        basis = self.placement.vectors_to_lps(lv_basis(x))  # (N, 3 dirs, 3 comps)
        return np.moveaxis(basis.reshape(shape + (3, 3)), (3, 4), (0, 1))


def lagrangian_truth(model: HeartModel, placement: Placement, geometry: Geometry, shape: tuple[int, int, int],
                     frame_times: np.ndarray, provenance: dict):
    """(DisplacementSeries, StrainSeries, AHA map) on an MR grid; see :class:`PhantomTruth`."""
    x = voxel_centers_heart(geometry, shape, placement).reshape(-1, 3)
    tissue = model.tissue(x)
    moving = (tissue >= A.LV_BLOOD) & (tissue <= A.EPI_FAT)
    heart = (tissue >= A.LV_BLOOD) & (tissue <= A.RV_MYO)
    myo = tissue == A.LV_MYO
    n_t = len(frame_times)
    disp = np.zeros((n_t, 3, x.shape[0]), dtype=np.float32)
    xm = x[moving]
    xmyo = x[myo]
    comps = {name: np.zeros((n_t, x.shape[0]), dtype=np.float32) for name in STRAIN_NAMES}
    for f, t in enumerate(frame_times):
        d = model.forward(xm, t) - xm
        disp[f][:, moving] = placement.vectors_to_lps(d).T
        if xmyo.size:
            e = model.strain_rcl(xmyo, t)
            for c, name in enumerate(STRAIN_NAMES):
                comps[name][f, myo] = e[:, c]
    seg_map = np.zeros(x.shape[0], dtype=np.uint8)
    seg_map[myo] = aha_segments(xmyo, model.geometry)
    curves = {}
    for name in STRAIN_NAMES:
        a = comps[name]
        curves[f"global_{name}"] = a[:, myo].mean(axis=1) if myo.any() else np.zeros(n_t, dtype=np.float32)
        seg = np.zeros((n_t, 16), dtype=np.float32)
        for s in range(1, 17):
            sel = seg_map == s
            if sel.any():
                seg[:, s - 1] = a[:, sel].mean(axis=1)
        curves[name] = seg
    nz, ny, nx = shape
    dseries = DisplacementSeries(disp.reshape(n_t, 3, nz, ny, nx), geometry=geometry, frame_times=frame_times,
                                 reference_frame=0, mask=heart.reshape(shape), synthetic=True,
                                 provenance=dict(provenance))
    sseries = StrainSeries({k: v.reshape(n_t, nz, ny, nx) for k, v in comps.items()}, geometry=geometry,
                           frame_times=frame_times, mask=myo.reshape(shape), segment_curves=curves,
                           reference_frame=0, synthetic=True, provenance=dict(provenance))
    return dseries, sseries, seg_map.reshape(shape)


def measured_phenotypes(masks: np.ndarray, voxel_ml: float, es_frame: int, slab_covers_heart: bool = True) -> dict:
    """Volumes (mL), EF (%) and LV mass (g, 1.05 g/mL) counted on label maps ``(t, z, y, x)``.

    ``grid_covers_heart`` in the result is False when the ventricles reach the in-plane border of the grid or the
    slab (``slab_covers_heart``) does not span apex to base: the counts then miss part of the heart.
    """
    heart = (masks >= 1) & (masks <= 4)
    on_border = heart[:, :, [0, -1], :].any() or heart[:, :, :, [0, -1]].any()
    def vol(frame: int, label: int) -> float:
        return float(np.count_nonzero(masks[frame] == label)) * voxel_ml

    lvedv, lvesv = vol(0, A.LV_BLOOD), vol(es_frame, A.LV_BLOOD)
    rvedv, rvesv = vol(0, A.RV_BLOOD), vol(es_frame, A.RV_BLOOD)
    return {
        "lvedv_ml": lvedv, "lvesv_ml": lvesv, "lvef_pct": 100.0 * (1 - lvesv / lvedv) if lvedv else float("nan"),
        "lv_myocardium_ed_ml": vol(0, A.LV_MYO), "lv_myocardium_es_ml": vol(es_frame, A.LV_MYO),
        "lv_mass_g": 1.05 * vol(0, A.LV_MYO), "rvedv_ml": rvedv, "rvesv_ml": rvesv,
        "rvef_pct": 100.0 * (1 - rvesv / rvedv) if rvedv else float("nan"),
        "grid_covers_heart": bool(slab_covers_heart and not on_border),
    }
