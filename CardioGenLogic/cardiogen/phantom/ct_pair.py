"""ES/ED cardiac CT pairs with their exact flow, over a seeded population: :func:`ct_motion_pair`.

Training data for CT motion estimation and for the flow CVAE (:mod:`cardiogen.models.flow_cvae`): for each seed a
subject (demographics -> anatomy and size, :mod:`cardiogen.phantom.demographics`), a heart orientation and position
(in the body and in the field of view) and a contrast timing are drawn; the phantom renders the end-systolic and
end-diastolic CT and the flow between them comes from the closed-form motion (:class:`HeartModel`), so it is exact
at every voxel centre, not estimated.

Flow convention (:mod:`cardiogen.nets.warp`, the one :mod:`cardiogen.models.flow_cvae` trains on): ``flow_vox`` is
defined on the ED grid and points into the ES volume, ``ED(x) = ES(x + flow(x))``, channels (x, y, z) in voxels,
shape ``(3, z, y, x)``; so ``warp(ES, flow)`` is the ED volume. ``flow_mm`` is the same displacement in LPS mm.
``inverse_flow_vox`` / ``inverse_flow_mm`` are defined on the ES grid and point into ED: ``ES(y) = ED(y + g(y))``.
Both are exact where the heart (ventricles, epicardial fat, atria) is (``flow_mask`` on the ED grid,
``inverse_flow_mask`` on the ES grid) and 0 elsewhere: the static body does not move (where the contracting heart
uncovers it, no flow relates the two images).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
from scipy.optimize import minimize_scalar

from ..data import Geometry
from ..errors import CardioGenInputError
from . import anatomy as A
from .case import _build_heart, _ct_geometry, _rng
from .config import PhantomConfig
from .demographics import Demographics
from .heart import HeartModel
from .render import Placement, SampleSet, render_ct
from .truth import voxel_centers_heart

#: Population ranges (uniform) drawn per seed by :func:`ct_population_variation`.
AZIMUTH_DEG = (35.0, 55.0)  # apex left of the sagittal plane (default 45)
ELEVATION_DEG = (25.0, 45.0)  # apex below the horizontal (default 35)
BODY_SHIFT_MM = 6.0  # heart shift in the body, each LPS axis, ±
FOV_SHIFT_FRACTION = 0.08  # heart position in the CT field of view: shift, each axis, ± this fraction of the FOV
CONTRAST_PHASE = (0.35, 1.0)  # bolus timing, see anatomy.ct_hu_table

_MOVING = np.array(A.MOVING_TISSUES)  # tissues the motion carries (ventricles, epicardial fat, atria)


@dataclass(frozen=True)
class CtVariation:
    """Per-subject pose and contrast of a CT pair (besides the anatomy, which the demographics drive).

    Attributes:
        azimuth_deg, elevation_deg: heart orientation (:func:`anatomy.heart_to_lps`).
        body_shift_mm: ``(3,)`` LPS shift of the heart in the body (mm).
        fov_shift: ``(3,)`` shift of the field of view's centre from the heart's along x, y, z, as a fraction of
            the field of view (the heart's position in the image).
        contrast_phase: bolus timing in [0, 1] (:func:`anatomy.ct_hu_table`).
    """

    azimuth_deg: float = 45.0
    elevation_deg: float = 35.0
    body_shift_mm: tuple = (0.0, 0.0, 0.0)
    fov_shift: tuple = (0.0, 0.0, 0.0)
    contrast_phase: float = A.CT_DEFAULT_CONTRAST_PHASE


@dataclass
class CtMotionPair:
    """One subject's ES and ED CT with the exact flow between them (see the module docstring).

    Attributes:
        es, ed: float32 ``(z, y, x)`` HU volumes on one axial grid (``geometry``).
        flow_vox: float32 ``(3, z, y, x)`` voxels, channels (x, y, z), on the ED grid: ``ED(x) = ES(x + flow(x))``.
        flow_mm: float32 ``(3, z, y, x)`` the same in LPS mm.
        inverse_flow_vox, inverse_flow_mm: on the ES grid, ``ES(y) = ED(y + g(y))``.
        flow_mask, inverse_flow_mask: bool ``(z, y, x)``: moving heart tissue at ED / ES (the flow is exact there,
            0 elsewhere).
        es_labels, ed_labels: uint8 ``(z, y, x)`` standard labels (1 LV blood, 2 LV myocardium, 3 RV blood, 4 RV
            myocardium) at the voxel centres.
        es_tissues, ed_tissues: uint8 ``(z, y, x)`` phantom tissue ids (:mod:`cardiogen.phantom.anatomy`), the maps
            the HU are drawn from.
        geometry: the CT grid (identity direction, isotropic ``spacing_mm``).
        es_time_ms, ed_time_ms: phase times after the R wave (ED = 0; ES = smallest LV volume).
        seed, demographics, variation: what was drawn; ``lv_volumes_ml`` exact (ED, ES) LV blood volumes.
        model, placement: the subject's heart motion and its pose in the body (heart frame -> LPS).
    """

    es: np.ndarray
    ed: np.ndarray
    flow_vox: np.ndarray
    flow_mm: np.ndarray
    inverse_flow_vox: np.ndarray
    inverse_flow_mm: np.ndarray
    flow_mask: np.ndarray
    inverse_flow_mask: np.ndarray
    es_labels: np.ndarray
    ed_labels: np.ndarray
    es_tissues: np.ndarray
    ed_tissues: np.ndarray
    geometry: Geometry
    es_time_ms: float
    ed_time_ms: float
    seed: int
    demographics: Demographics
    variation: CtVariation
    lv_volumes_ml: tuple
    model: HeartModel = field(repr=False)
    placement: Placement | None = field(default=None, repr=False)

    @property
    def spacing_mm(self) -> tuple:
        """(x, y, z) voxel size in mm."""
        return tuple(self.geometry.spacing)

    def synthetic_ed_lv(self, flows: np.ndarray, supersample: int = 3) -> np.ndarray:
        """LV measures of the ED that each flow makes of this pair's ES, on the exact ES anatomy.

        What a grid flow does to the wall is measured without the grid's labels: the ES LV is rendered from the
        heart model on a grid ``supersample`` times finer, each fine ED point ``x`` is carried to ``x + f(x)`` with
        the flow interpolated trilinearly (as :func:`cardiogen.nets.warp.warp` does to make the synthetic ED image),
        and the fine labels there are counted. Counting the 48³ labels instead inflates a thin wall next to a
        compressing blood pool (a label voxel half blood, half wall is carried as wall with the pool's 2-3x
        expansion).

        Args:
            flows: ``(n, 3, z, y, x)`` or ``(3, z, y, x)`` on this pair's grid (voxels, ED -> ES, as ``flow_vox``).
            supersample: fine voxels per grid voxel along each axis (≥ 1).
        Returns:
            float ``(n, 2)``: the LV myocardium's relative volume change ED/ES − 1 and the LV ejection fraction (%)
            of each flow. ``flow_vox`` itself gives the grid's floor: an exactly incompressible motion sampled at
            3 mm voxel centres and interpolated still changes the wall by several percent.
        """
        from scipy.ndimage import map_coordinates

        if self.placement is None:
            raise CardioGenInputError("this pair has no placement (made by an older ct_motion_pair)",
                                      source="CtMotionPair.synthetic_ed_lv")
        flows = np.asarray(flows, dtype=np.float32)
        flows = flows[None] if flows.ndim == 4 else flows
        shape = self.es.shape
        if flows.ndim != 5 or flows.shape[1:] != (3,) + shape:
            raise CardioGenInputError(f"flows must be (n, 3) + {shape}", source="CtMotionPair.synthetic_ed_lv",
                                      got=str(flows.shape))
        k = int(supersample)
        if k < 1:
            raise CardioGenInputError("supersample must be ≥ 1", source="CtMotionPair.synthetic_ed_lv", got=k)
        g = self.geometry
        step = np.asarray(g.direction) @ np.diag(g.spacing)
        fine = Geometry(spacing=tuple(np.asarray(g.spacing) / k), direction=g.direction,
                        origin=np.asarray(g.origin) - step @ np.full(3, (k - 1) / (2 * k)))
        fine_shape = tuple(k * n for n in shape)
        _, tissue = self.model.inverse(voxel_centers_heart(fine, fine_shape, self.placement), self.es_time_ms)
        es_blood, es_myo = tissue == A.LV_BLOOD, tissue == A.LV_MYO
        coarse = [(np.arange(k * n) - (k - 1) / 2) / k for n in shape]  # fine index -> grid index, z, y, x
        zz, yy, xx = np.meshgrid(*coarse, indexing="ij")
        out = np.empty((flows.shape[0], 2))
        for i, f in enumerate(flows):
            disp = [map_coordinates(f[c], (zz, yy, xx), order=1, mode="nearest") for c in range(3)]  # x, y, z
            target = np.stack([zz + disp[2], yy + disp[1], xx + disp[0]])  # grid index of each fine ED point in ES
            idx = np.rint(target * k + (k - 1) / 2).astype(np.int64)
            inside = np.all((idx >= 0) & (idx < np.array(fine_shape).reshape(3, 1, 1, 1)), axis=0)
            lab = np.zeros(fine_shape, dtype=np.uint8)
            iz, iy, ix = (np.clip(a, 0, n - 1) for a, n in zip(idx, fine_shape))
            lab[inside] = tissue[iz, iy, ix][inside]
            ed_blood, ed_myo = float((lab == A.LV_BLOOD).sum()), float((lab == A.LV_MYO).sum())
            out[i] = (ed_myo / max(float(es_myo.sum()), 1.0) - 1.0,
                      100.0 * (ed_blood - float(es_blood.sum())) / max(ed_blood, 1.0))
        return out


def ct_population_variation(seed: int) -> CtVariation:
    """The pose and contrast timing :func:`ct_motion_pair` draws for ``seed`` (uniform in the module ranges)."""
    cfg = PhantomConfig(seed=seed, modalities=())  # validates the seed
    rng = _rng(cfg.seed, "ct_population")
    return CtVariation(azimuth_deg=float(rng.uniform(*AZIMUTH_DEG)), elevation_deg=float(rng.uniform(*ELEVATION_DEG)),
                       body_shift_mm=tuple(float(v) for v in rng.uniform(-BODY_SHIFT_MM, BODY_SHIFT_MM, 3)),
                       fov_shift=tuple(float(v) for v in rng.uniform(-FOV_SHIFT_FRACTION, FOV_SHIFT_FRACTION, 3)),
                       contrast_phase=float(rng.uniform(*CONTRAST_PHASE)))


def es_time(model: HeartModel) -> float:
    """Time (ms) of the smallest LV volume: the timing's end-systole, refined when the contraction is regional."""
    t_es = float(model.timing.es_ms)
    if model.dyssynchrony == 0 and model.infarct is None:
        return t_es
    hi = min(t_es + 200.0, model.timing.boundaries_ms[2])
    res = minimize_scalar(model.lv_blood_volume_ml, bounds=(0.5 * t_es, hi), method="bounded",
                          options={"xatol": 0.05})
    return float(res.x)


def ct_motion_pair(seed: int = 0, *, config: PhantomConfig | None = None, vary: bool = True,
                   demographics: Demographics | None = None) -> CtMotionPair:
    """Render one subject's ES and ED CT with the exact flow between them.

    Args:
        seed: the subject (integer ≥ 0); overrides ``config.seed``.
        config: grid and heart options: ``ct_size`` (voxels per axis), ``ct_pixel_mm`` (isotropic voxel, None:
            the FOV fits the heart), ``noise`` (15 HU white noise), ``infarct``, ``dyssynchrony``,
            ``motion_scale``, ``residual_variation``; other fields are ignored. Default ``PhantomConfig()``.
        vary: draw the pose and contrast timing from the seed (:func:`ct_population_variation`); False uses the
            :func:`make_case` defaults (the anatomy and size still vary with the seed's demographics).
        demographics: the subject; None draws it from the seed, as :func:`make_case` does.
    Returns:
        :class:`CtMotionPair`.
    Raises:
        CardioGenInputError: on a bad seed, config or demographics.
    """
    if config is None:
        config = PhantomConfig()
    if not isinstance(config, PhantomConfig):
        raise CardioGenInputError("config must be a PhantomConfig", source="ct_motion_pair",
                                  got=type(config).__name__)
    cfg = config.replace(seed=seed, modalities=("ct",))
    if demographics is None:
        demographics = Demographics.random(_rng(cfg.seed, "demographics"))
    elif not isinstance(demographics, Demographics):
        raise CardioGenInputError("demographics must be a Demographics", source="ct_motion_pair",
                                  got=type(demographics).__name__)
    var = ct_population_variation(cfg.seed) if vary else CtVariation()
    _, _, model = _build_heart(cfg, demographics)
    rot = A.heart_to_lps(var.azimuth_deg, var.elevation_deg)
    mid = A.LV_MID_LPS + np.asarray(var.body_shift_mm)
    placement = Placement(rot, mid - rot @ np.array([0.0, 0.0, 0.5 * model.geometry.z_base]))
    apex_z = float(placement.origin_lps[2])
    geom = _ct_geometry(model, placement, cfg)
    fov_mm = geom.spacing[0] * cfg.ct_size
    geom = Geometry(spacing=geom.spacing, origin=np.asarray(geom.origin) + fov_mm * np.asarray(var.fov_shift),
                    direction=geom.direction)
    shape = (cfg.ct_size,) * 3
    ss = SampleSet(geom, shape, (1, 1, 1), placement, model, apex_z)
    t_es = es_time(model)
    tissues = np.empty((2,) + shape, dtype=np.uint8)
    vols, labels = render_ct(model, ss, np.array([t_es, 0.0]), noise=cfg.noise, rng=_rng(cfg.seed, "ct"),
                             hu_table=A.ct_hu_table(var.contrast_phase), tissues_out=tissues)

    x = voxel_centers_heart(geom, shape, placement).reshape(-1, 3)
    to_index = np.linalg.inv(np.asarray(geom.direction) @ np.diag(geom.spacing))  # LPS mm -> index (x, y, z)

    def to_fields(mask: np.ndarray, disp_heart: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mm = np.zeros((x.shape[0], 3))
        mm[mask] = placement.vectors_to_lps(disp_heart)
        vox = mm @ to_index.T
        as_field = lambda a: np.moveaxis(a.reshape(shape + (3,)), -1, 0).astype(np.float32)  # noqa: E731
        return as_field(vox), as_field(mm)

    ed_moving = np.isin(tissues[1], _MOVING).reshape(-1)
    es_moving = np.isin(tissues[0], _MOVING).reshape(-1)
    flow_vox, flow_mm = to_fields(ed_moving, model.forward(x[ed_moving], t_es) - x[ed_moving])
    inv_vox, inv_mm = to_fields(es_moving, model.inverse(x[es_moving], t_es)[0] - x[es_moving])
    return CtMotionPair(
        es=vols[0], ed=vols[1], flow_vox=flow_vox, flow_mm=flow_mm, inverse_flow_vox=inv_vox, inverse_flow_mm=inv_mm,
        flow_mask=ed_moving.reshape(shape), inverse_flow_mask=es_moving.reshape(shape), es_labels=labels[0],
        ed_labels=labels[1], es_tissues=tissues[0], ed_tissues=tissues[1], geometry=geom, es_time_ms=t_es,
        ed_time_ms=0.0, seed=cfg.seed, demographics=demographics, variation=var,
        lv_volumes_ml=(model.lv_blood_volume_ml(0.0), model.lv_blood_volume_ml(t_es)), model=model,
        placement=placement)


def ct_motion_population(seeds: Iterable[int], **kwargs) -> list[CtMotionPair]:
    """:func:`ct_motion_pair` for each seed (an iterable of integers), with the same keyword arguments."""
    return [ct_motion_pair(s, **kwargs) for s in seeds]
