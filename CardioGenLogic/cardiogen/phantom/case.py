"""Build a complete phantom case: :func:`make_case` -> :class:`PhantomCase`."""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..data import DenseSeries, Ecg, Geometry, ImageSeries, Segmentation, STANDARD_LABELS
from ..errors import CardioGenInputError
from . import anatomy as A
from .config import DEFAULT_TAG_SPACING_MM, MIN_TAG_PIXELS, PhantomConfig
from .demographics import Demographics, Phenotypes, phenotypes_from_demographics
from .heart import HeartModel, solve_heart
from .render import Placement, SampleSet, render_ct, render_mr
from .timing import CardiacTiming, es_time_ms
from .truth import PhantomTruth, lagrangian_truth, measured_phenotypes

#: Independent random streams (so that switching a modality on or off changes nothing else).
_STREAMS = {"demographics": 1, "residual": 2, "cine": 3, "tagging": 4, "dense": 5, "ct": 6, "ecg": 7,
            "ct_population": 8}
MR_SUBSAMPLES = (3, 2, 2)  # (through-slice, rows, columns) samples per voxel for partial volume
FOV_FACTOR = 1.7  # MR field of view / heart width (auto pixel size)


@dataclass
class PhantomCase:
    """One phantom case. Modalities that were not requested are None.

    Attributes:
        cine: bSSFP cine :class:`ImageSeries` ``(frames, slices, size, size)``, modality "cine".
        tagging: SPAMM tagging :class:`ImageSeries` on the same grid, modality "tagging".
        dense: :class:`DenseSeries` on the same grid (magnitude modality "dense_mag", wrapped phase per encoding).
        ct: contrast CT :class:`ImageSeries` ``(ct_frames, n, n, n)`` in HU, axial LPS grid, modality "ct".
        ecg: 12-lead :class:`Ecg` (R peaks at t = k·RR, the ED frames), or None when ``cardiogen.phantom.ecg``
            is not available.
        truth: :class:`~cardiogen.phantom.truth.PhantomTruth`.
        config, demographics, phenotypes: the inputs and the target phenotypes.
        timings_s: seconds spent per stage (for the benchmark).
    """

    cine: ImageSeries | None
    tagging: ImageSeries | None
    dense: DenseSeries | None
    ct: ImageSeries | None
    ecg: Ecg | None
    truth: PhantomTruth
    config: PhantomConfig
    demographics: Demographics
    phenotypes: Phenotypes
    timings_s: dict = field(default_factory=dict)


def tag_spacing_for(cfg: PhantomConfig, geometry: Geometry) -> float:
    """The SPAMM tag spacing (mm) rendered on an MR grid: the configured one, or 7 mm widened to 3 pixels."""
    if cfg.tag_spacing_mm is not None:
        return float(cfg.tag_spacing_mm)
    pixel = max(float(geometry.spacing[0]), float(geometry.spacing[1]))
    return max(DEFAULT_TAG_SPACING_MM, MIN_TAG_PIXELS * pixel)


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[stream]])


def _mr_geometry(model: HeartModel, placement: Placement, cfg: PhantomConfig) -> Geometry:
    """Oblique short-axis stack: x = u (lateral), y = −v (rows grow inferior), z = −w (slice 0 at the base)."""
    g = model.geometry
    th = np.linspace(0.0, 2.0 * np.pi, 721)
    rvc = math.radians(g.rv_center_deg)
    _, hout = g.rv_extent(np.cos(th - rvc), np.full_like(th, g.z_base))
    radius = g.a_epi + hout + g.fat_mm
    us, vs = radius * np.cos(th), radius * np.sin(th)
    u_c, v_c = 0.5 * (us.max() + us.min()), 0.5 * (vs.max() + vs.min())
    width = max(np.ptp(us), np.ptp(vs))
    pixel = cfg.pixel_mm if cfg.pixel_mm is not None else FOV_FACTOR * width / cfg.size
    thick = cfg.slice_thickness_mm if cfg.slice_thickness_mm is not None else (g.z_base + 4.0) / cfg.slices
    w_c = 0.5 * g.z_base
    n, nz = cfg.size, cfg.slices
    origin_heart = np.array([u_c - 0.5 * (n - 1) * pixel, v_c + 0.5 * (n - 1) * pixel, w_c + 0.5 * (nz - 1) * thick])
    direction = placement.heart_to_lps @ np.diag([1.0, -1.0, -1.0])
    return Geometry(spacing=(pixel, pixel, thick), origin=placement.to_lps(origin_heart), direction=direction)


def _lax_geometry(model: HeartModel, placement: Placement, cfg: PhantomConfig) -> Geometry:
    """Four-chamber-like long-axis planes: x = −e_rv (RV on the image left), y = +w (row 0 above the apex, rows grow
    toward the base and the atria), z = x × y; ``cfg.slices`` parallel planes centred on the LV long axis. The field
    of view spans the heart from the apex to above the atrial domes with a 15 % margin (automatic pixel size)."""
    g = model.geometry
    rvc = math.radians(g.rv_center_deg)
    e_rv = np.array([math.cos(rvc), math.sin(rvc), 0.0])
    ex = -e_rv
    ey = np.array([0.0, 0.0, 1.0])
    ez = np.cross(ex, ey)
    # lateral extent along e_rv: LV lateral epicardium (−a_epi) to the RV free wall (a_epi + RV cavity + wall)
    lo, hi = -(g.a_epi + g.fat_mm), g.a_epi + g.rv_height_mm + g.rv_wall_mm + g.fat_mm
    length = max(c[2] + a[2] for c, a in g.atria()) + g.atrial_wall_mm + 4.0  # apex to above the atrial domes
    width = max(hi - lo, length)
    n, nz = cfg.size, cfg.slices
    pixel = cfg.pixel_mm if cfg.pixel_mm is not None else 1.15 * width / cfg.size
    thick = cfg.slice_thickness_mm if cfg.slice_thickness_mm is not None else 8.0
    c_rv, c_w = 0.5 * (lo + hi), 0.5 * length - 4.0
    center = c_rv * e_rv + c_w * ey
    rot = np.stack([ex, ey, ez], axis=1)  # columns: index axes in the heart frame
    origin_heart = center - rot @ (np.array([n - 1, n - 1, nz - 1]) * 0.5 * np.array([pixel, pixel, thick]))
    return Geometry(spacing=(pixel, pixel, thick), origin=placement.to_lps(origin_heart),
                    direction=placement.heart_to_lps @ rot)


def _slab_covers_heart(geom: Geometry, placement: Placement, slices: int, z_base: float) -> bool:
    """True when the short-axis slab spans the ventricles from the apex (w = 0) to the base (w = z_base)."""
    w_first = placement.to_heart(np.asarray(geom.origin))[2] + 0.5 * geom.spacing[2]
    w_last = w_first - slices * geom.spacing[2]
    return bool(w_first >= z_base and w_last <= 0.0)


def _ct_geometry(model: HeartModel, placement: Placement, cfg: PhantomConfig) -> Geometry:
    """Axial grid (identity direction in LPS) centred on the ventricles + the lower atria."""
    g = model.geometry
    fov = 1.45 * g.z_base + 10.0
    spacing = cfg.ct_pixel_mm if cfg.ct_pixel_mm is not None else fov / cfg.ct_size
    rvc = math.radians(g.rv_center_deg)
    center_heart = np.array([0.35 * g.rv_height_mm * math.cos(rvc), 0.35 * g.rv_height_mm * math.sin(rvc),
                             0.6 * g.z_base])
    center = placement.to_lps(center_heart)
    origin = center - 0.5 * (cfg.ct_size - 1) * spacing
    return Geometry(spacing=(spacing,) * 3, origin=origin, direction=np.eye(3))


def _model_phenotypes(model: HeartModel, target: Phenotypes, t_es: float) -> Phenotypes:
    return Phenotypes(
        lvedv_ml=model.lv_blood_volume_ml(0.0), lvesv_ml=model.lv_blood_volume_ml(t_es),
        lv_mass_g=model.lv_myocardium_volume_ml() * 1.05, rvedv_ml=model.rv_blood_volume_ml(0.0),
        rvesv_ml=model.rv_blood_volume_ml(t_es), sphericity=model.geometry.sphericity,
        heart_rate_bpm=target.heart_rate_bpm,
    )


def _load_ecg_synthesizer() -> Callable | None:
    """The ECG synthesizer of ``cardiogen.phantom.ecg`` or None when that module cannot be imported."""
    try:
        from .ecg import synthesize_ecg
    except ImportError as exc:  # the ECG module is optional for the rest of the phantom
        warnings.warn(f"cardiogen.phantom.ecg is not available; no ECG rendered ({exc})", RuntimeWarning,
                      stacklevel=3)
        return None
    return synthesize_ecg


def _build_heart(cfg: PhantomConfig, demographics: Demographics) -> tuple[Phenotypes, CardiacTiming, HeartModel]:
    """(target phenotypes, timing, heart model) of a subject: the regression (+ the seeded residual) solved."""
    target = phenotypes_from_demographics(demographics, _rng(cfg.seed, "residual") if cfg.residual_variation
                                          else None)
    timing = CardiacTiming(target.heart_rate_bpm, es_time_ms(target.heart_rate_bpm, demographics.sex))
    geometry, motion = solve_heart(target.lvedv_ml, target.lvesv_ml, target.lv_mass_g, target.rvedv_ml,
                                   target.rvesv_ml, target.sphericity)
    model = HeartModel(geometry, motion, timing, infarct=cfg.infarct, dyssynchrony=cfg.dyssynchrony,
                       motion_scale=cfg.motion_scale)
    return target, timing, model


def make_case(config: PhantomConfig | None = None, demographics: Demographics | None = None) -> PhantomCase:
    """Render one phantom case (deterministic for a given config and demographics).

    Args:
        config: :class:`PhantomConfig` (default: ``PhantomConfig()``).
        demographics: the subject; None draws one from the seed (:meth:`Demographics.random`).
    Returns:
        :class:`PhantomCase` with the requested modalities and the truth.
    Raises:
        CardioGenInputError: on a wrong config or demographics type.
    """
    t_start = time.perf_counter()
    cfg = PhantomConfig() if config is None else config
    if not isinstance(cfg, PhantomConfig):
        raise CardioGenInputError("config must be a PhantomConfig", source="make_case", got=type(cfg).__name__)
    if demographics is None:
        demographics = Demographics.random(_rng(cfg.seed, "demographics"))
    elif not isinstance(demographics, Demographics):
        raise CardioGenInputError("demographics must be a Demographics", source="make_case",
                                  got=type(demographics).__name__)
    timings: dict = {}
    target, timing, model = _build_heart(cfg, demographics)
    geometry = model.geometry
    rot = A.heart_to_lps()
    placement = Placement(rot, A.LV_MID_LPS - rot @ np.array([0.0, 0.0, 0.5 * geometry.z_base]))
    apex_z = float(placement.origin_lps[2])
    rr = timing.rr_ms
    frame_times = np.arange(cfg.frames) * rr / cfg.frames
    lv_curve = np.array([model.lv_blood_volume_ml(t) for t in frame_times])
    es_frame = int(np.argmin(lv_curve))
    provenance = {"source": "cardiogen.phantom", "seed": cfg.seed, "config": cfg.to_dict()}
    timings["setup"] = time.perf_counter() - t_start

    # ---- MR grid: one inverse pass per frame for cine, tagging, DENSE and the masks -------------------------
    t0 = time.perf_counter()
    mr_geom = _lax_geometry(model, placement, cfg) if cfg.view == "4ch" else _mr_geometry(model, placement, cfg)
    mr_shape = (cfg.slices, cfg.size, cfg.size)
    mods = set(cfg.modalities)
    ss = SampleSet(mr_geom, mr_shape, MR_SUBSAMPLES, placement, model, apex_z)
    timings["mr_setup"] = time.perf_counter() - t0
    rngs = {name: _rng(cfg.seed, name) for name in ("cine", "tagging", "dense")}
    tag_spacing = tag_spacing_for(cfg, mr_geom)
    mr = render_mr(model, ss, frame_times, cine="cine" in mods, tagging="tagging" in mods,
                   dense="dense" in mods, dense_ke=cfg.dense_ke, dense_encodings=cfg.dense_encodings,
                   tag_spacing_mm=tag_spacing, tag_lines=cfg.tag_pattern == "lines",
                   tag_cspamm=cfg.tag_cspamm, noise=cfg.noise, rngs=rngs, timings=timings)
    t0 = time.perf_counter()
    meta = {"heart_rate_bpm": target.heart_rate_bpm, "rr_ms": rr, "es_frame": es_frame, "view": cfg.view,
            "heart_to_lps": rot.tolist()}

    def series(array: np.ndarray, modality: str, label: str, geom: Geometry, times: np.ndarray,
               extra: dict | None = None) -> ImageSeries:
        md = dict(meta)
        md.update(extra or {})
        return ImageSeries(array, geometry=geom, frame_times=times, modality=modality, synthetic=True,
                           provenance=dict(provenance), description=f"CardioGen PHANTOM {label} (seed {cfg.seed})",
                           metadata=md)

    masks = Segmentation(mr["labels"], label_table=dict(STANDARD_LABELS), geometry=mr_geom, frame_times=frame_times,
                         synthetic=True, provenance=dict(provenance))
    cine = series(mr["cine"], "cine", "cine", mr_geom, frame_times) if "cine" in mods else None
    tagging = (series(mr["tagging"], "tagging", "tagging", mr_geom, frame_times,
                      {"tag_spacing_mm": tag_spacing, "tag_pattern": cfg.tag_pattern,
                       "tag_cspamm": cfg.tag_cspamm}) if "tagging" in mods else None)
    dense = None
    if "dense" in mods:
        mag = series(mr["dense_mag"], "dense_mag", "DENSE magnitude", mr_geom, frame_times,
                     {"ke_cycles_per_mm": cfg.dense_ke, "encodings": list(cfg.dense_encodings)})
        dense = DenseSeries(mag, mr["dense_phase"], encodings=cfg.dense_encodings, ke=cfg.dense_ke,
                            segmentation=masks, metadata={"source": "cardiogen.phantom", "seed": cfg.seed})
    timings["mr_containers"] = time.perf_counter() - t0

    # ---- CT -------------------------------------------------------------------------------------------------
    ct = ct_masks = None
    ct_es = None
    if "ct" in mods:
        t0 = time.perf_counter()
        ct_geom = _ct_geometry(model, placement, cfg)
        ct_ss = SampleSet(ct_geom, (cfg.ct_size,) * 3, (1, 1, 1), placement, model, apex_z)
        ct_times = np.arange(cfg.ct_frames) * rr / cfg.ct_frames
        vols, ct_labels = render_ct(model, ct_ss, ct_times, noise=cfg.noise, rng=_rng(cfg.seed, "ct"))
        ct_es = int(np.argmin([model.lv_blood_volume_ml(t) for t in ct_times]))
        ct = series(vols, "ct", "CT", ct_geom, ct_times,
                    {"phases_pct_rr": (100.0 * np.arange(cfg.ct_frames) / cfg.ct_frames).tolist(), "es_frame": ct_es})
        ct_masks = Segmentation(ct_labels, label_table=dict(STANDARD_LABELS), geometry=ct_geom, frame_times=ct_times,
                                synthetic=True, provenance=dict(provenance))
        timings["ct"] = time.perf_counter() - t0

    # ---- ECG ------------------------------------------------------------------------------------------------
    ecg = None
    if "ecg" in mods:
        t0 = time.perf_counter()
        synth = _load_ecg_synthesizer()
        if synth is not None:
            inf = cfg.infarct
            ecg = synth(heart_rate_bpm=target.heart_rate_bpm, duration_s=cfg.ecg_duration_s,
                        sampling_rate=cfg.ecg_sampling_rate, lv_mass_g=target.lv_mass_g,
                        dyssynchrony=cfg.dyssynchrony, infarct_center_deg=None if inf is None else inf.center_deg,
                        infarct_width_deg=0.0 if inf is None else inf.width_deg,
                        infarct_severity=0.0 if inf is None else inf.severity, heart_to_lps=rot,
                        sex=demographics.sex, rng=_rng(cfg.seed, "ecg"), noise_mv=0.01 if cfg.noise else 0.0,
                        lv_edv_ml=float(lv_curve[0]))
        timings["ecg"] = time.perf_counter() - t0

    # ---- truth ----------------------------------------------------------------------------------------------
    t0 = time.perf_counter()
    disp, strain, aha = lagrangian_truth(model, placement, mr_geom, mr_shape, frame_times, provenance)
    t_es = float(frame_times[es_frame])
    truth = PhantomTruth(
        displacement=disp, strain=strain, masks=masks, ct_masks=ct_masks, phenotypes_target=target,
        phenotypes_model=_model_phenotypes(model, target, t_es),
        phenotypes_measured=measured_phenotypes(mr["labels"], mr_geom.voxel_volume_ml(), es_frame,
                                                cfg.view == "sax" and _slab_covers_heart(mr_geom, placement, cfg.slices,
                                                                                         geometry.z_base)),
        demographics=demographics, es_frame=es_frame, ct_es_phase=ct_es, heart_rate_bpm=target.heart_rate_bpm,
        es_time_ms=timing.es_ms, rr_ms=rr,
        volume_curves={"lv_blood_ml": lv_curve,
                       "rv_blood_ml": np.array([model.rv_blood_volume_ml(t) for t in frame_times]),
                       "lv_myocardium_ml": np.full(len(frame_times), model.lv_myocardium_volume_ml())},
        aha_segments=aha, heart_to_lps=rot, heart_origin_lps=placement.origin_lps, model=model,
    )
    timings["truth"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    return PhantomCase(cine=cine, tagging=tagging, dense=dense, ct=ct, ecg=ecg, truth=truth, config=cfg,
                       demographics=demographics, phenotypes=target, timings_s=timings)
