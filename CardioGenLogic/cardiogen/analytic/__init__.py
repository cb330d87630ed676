"""A second, independent heart generator: an analytic thick-walled LV ring, written apart from the phantom.

Every model of CardioGen is trained on :mod:`cardiogen.phantom`; testing it only there would test how well it fits
one generator. This package draws the LV differently (closed-form motion of a thick-walled ring or ellipse, its own
tissue classes, its own contrast, noise and acquisition models) and knows the exact truth: the Lagrangian
displacement of every point and its Green-Lagrange strain, computed from the analytic map itself.

Geometry and motion (reference = end-diastole, polar coordinates ``(R, Θ)`` about the LV centre, mm):

* wall between ``R_endo`` and ``R_epi = R_endo + wall_mm``; blood inside; an RV blood crescent beside the septum;
  lung/air around; a static chest-wall band farther out (still tissue: what DENSE phase-offset correction uses);
* endocardial radius ``r_endo(Θ, t) = R_endo (1 − a(Θ) s(t))`` with ``s`` a systolic waveform (0 at ED, 1 at ES) and
  ``a(Θ)`` the remote shortening, lowered to ``hypo_factor · a`` in a hypokinetic sector (raised-cosine edges);
* the wall is incompressible in-plane: ``r² = R² − R_endo² + r_endo²`` (area between the endocardium and any wall
  radius is kept), so the wall thickens radially while it shortens circumferentially; blood scales uniformly;
* an optional twist rotates the endocardium by ``twist_deg · s(t)``, falling linearly to 0 at ``R_epi + 10`` mm;
* outside the epicardium the motion tapers to zero between ``R_epi + 5`` and ``R_epi + 15`` mm;
* an optional ellipse: the whole picture is stretched by ``(1 + ellipticity, 1 / (1 + ellipticity))`` along an
  axis at ``ellipse_angle_deg`` (an affine map A: ``F = A F₀ A⁻¹``).

Strain truth uses the estimator's conventions (:mod:`cardiogen.motion.strain`): Green-Lagrange ``E``,
``E_rr = e_rᵀ E e_r`` with ``e_r`` radial from the reference LV centre, ``E_cc`` along the perpendicular; curves
are means over the reference wall pixels (pixel centres), by 60° sector (sector 0 starts at ``sector0_deg``
counter-clockwise in the image), in the hypokinetic sector's core and in the remote wall (more than 90° away from
the hypokinetic centre).

Images are rendered by supersampling every pixel (``supersample``² points), each point taking the class and the
displacement of the material now there (inverse map by fixed-point iteration), so partial volume at the wall's edges
is real: a pixel half on blood carries half blood signal.

* **DENSE** (:meth:`AnalyticCase.dense`): complex signal per point: myocardium ``e^{−t/T1}·e^{i 2π ke u}``, static
  tissue ``0.8 e^{−t/T1}`` with zero displacement, blood ``0.15`` with a random phase per point and frame (flow
  dephasing), lung/air 0; plus a planar background phase (``phase_offset_rad`` across the field of view) and complex
  Gaussian noise of ``1 / snr``. The phase is wrapped by construction.
* **cine** (:attr:`AnalyticCase.cine`): bSSFP-like magnitudes (blood 1.0, myocardium 0.3, static tissue 0.55,
  lung 0.04) with Rician noise.
* :func:`write_dense_workspace`: a DENSEanalysis ``.dns`` (MATLAB v5) with epi/endo contour control points, dilated
  by ``contour_margin_px`` pixels into air/lung and blood (as contours drawn by hand are), on the first
  ``contour_fraction`` of the frames only.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DenseSeries, DisplacementSeries, Geometry, ImageSeries, Segmentation, STANDARD_LABELS
from ..errors import CardioGenInputError

__all__ = ["AnalyticConfig", "AnalyticCase", "make_analytic_case", "write_dense_workspace", "TISSUE"]

#: Tissue classes of the reference configuration.
TISSUE = {"air": 0, "blood": 1, "myocardium": 2, "rv_blood": 3, "static": 4}


@dataclass(frozen=True)
class AnalyticConfig:
    """Parameters of one analytic case (lengths in mm, times in ms, angles in degrees, image-plane, CCW)."""

    seed: int = 0
    pixel_mm: float = 2.0
    matrix: int = 96
    frames: int = 24
    rr_ms: float = 900.0
    #: Fraction of the RR interval the frames cover (DENSE usually stops before the next ED).
    coverage: float = 0.85
    es_fraction: float = 0.35
    endo_radius_mm: float = 22.0
    wall_mm: float = 9.0
    endo_shortening: float = 0.30
    hypo_center_deg: float | None = 60.0
    hypo_width_deg: float = 80.0
    hypo_factor: float = 0.3
    twist_deg: float = 0.0
    ellipticity: float = 0.0
    ellipse_angle_deg: float = 30.0
    sector0_deg: float = 0.0
    ke: float = 0.1
    snr: float = 25.0
    t1_ms: float = 1000.0
    phase_offset_rad: float = 0.3
    centre_jitter_mm: float = 4.0
    supersample: int = 4
    cine_noise: float = 0.03
    contour_points: int = 16
    contour_margin_px: float = 1.5
    contour_fraction: float = 2.0 / 3.0

    def __post_init__(self) -> None:
        checks = {
            "pixel_mm": 0.5 <= self.pixel_mm <= 6.0, "matrix": 32 <= self.matrix <= 512,
            "frames": 4 <= self.frames <= 200, "rr_ms": 300 <= self.rr_ms <= 2000,
            "coverage": 0.2 <= self.coverage <= 1.0, "es_fraction": 0.1 <= self.es_fraction <= 0.6,
            "endo_radius_mm": 8 <= self.endo_radius_mm <= 45, "wall_mm": 3 <= self.wall_mm <= 20,
            "endo_shortening": 0 <= self.endo_shortening <= 0.5, "hypo_factor": 0 <= self.hypo_factor <= 1.5,
            "hypo_width_deg": 10 <= self.hypo_width_deg <= 180, "ellipticity": 0 <= self.ellipticity <= 0.5,
            "ke": 0.01 <= self.ke <= 1.0, "snr": self.snr > 0, "supersample": 1 <= self.supersample <= 8,
            "contour_points": 6 <= self.contour_points <= 200, "contour_margin_px": 0 <= self.contour_margin_px <= 4,
            "contour_fraction": 0 < self.contour_fraction <= 1, "t1_ms": self.t1_ms > 0,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise CardioGenInputError("analytic heart parameters out of range",
                                      got={k: getattr(self, k) for k in bad})
        half_fov = self.pixel_mm * self.matrix / 2
        if self.endo_radius_mm + self.wall_mm + 10 + self.centre_jitter_mm > half_fov:
            raise CardioGenInputError("the LV does not fit the field of view",
                                      expected=f"R_epi + 10 mm + jitter <= {half_fov:.0f} mm",
                                      got=self.endo_radius_mm + self.wall_mm + 10 + self.centre_jitter_mm)


def _waveform(tau: np.ndarray, es: float) -> np.ndarray:
    """Systolic waveform s(τ) of the RR fraction τ: 0 at ED, 1 at ES, rapid filling then diastasis."""
    tau = np.asarray(tau, dtype=float)
    rise = np.sin(0.5 * np.pi * np.clip(tau / es, 0, 1)) ** 2
    fall = 0.5 * (1 + np.cos(np.pi * np.clip((tau - es) / 0.35, 0, 1)))
    return np.where(tau <= es, rise, fall)


def _sector_weight(theta_deg: np.ndarray, centre: float, width: float, edge: float = 15.0) -> np.ndarray:
    """1 inside the sector's core, raised-cosine to 0 over ``edge`` degrees outside it."""
    d = np.abs((np.asarray(theta_deg) - centre + 180.0) % 360.0 - 180.0)
    core = width / 2.0
    ramp = np.clip((d - core) / edge, 0, 1)
    return 0.5 * (1 + np.cos(np.pi * ramp))


@dataclass
class AnalyticCase:
    """One analytic case: images, truth and the motion model behind them (see the module docstring)."""

    config: AnalyticConfig
    geometry: Geometry
    frame_times: np.ndarray
    centre_mm: np.ndarray
    cine: ImageSeries
    displacement: DisplacementSeries
    myocardium: np.ndarray
    tissue: np.ndarray
    truth_strain: dict
    motion: "_Motion" = field(repr=False)
    #: per frame: (reference positions of every pixel's sample points (y, x, s, 2), their tissue classes (y, x, s))
    samples: list = field(repr=False)
    #: tissue class (:data:`TISSUE`) of the material at every pixel centre, per frame ``(t, y, x)``
    centre_classes: np.ndarray = field(repr=False)
    _dense: DenseSeries | None = field(default=None, repr=False)

    @property
    def dense(self) -> DenseSeries:
        """The DENSE acquisition (rendered on first use) with the true myocardium (pixel centres) as contours."""
        if self._dense is None:
            self._dense = _render_dense(self)
        return self._dense

    def tagging(self, spacing_mm: float | None = None, t1_ms: float | None = None, blood_washout_ms: float = 30.0,
                lines: bool = False, snr: float = 30.0) -> ImageSeries:
        """A SPAMM tagged acquisition of this case, written apart from the phantom's: a 1-3-3-1 binomial SPAMM
        pattern (sharper dark lines than a cosine) on the reference positions of every sample point, a grid (or
        ``lines`` along x), recovering with ``t1_ms`` (default the config's T1); blood loses its tags with
        ``blood_washout_ms``; proton-density-like levels (myocardium 0.7, blood 0.85, static 0.75, lung 0.05);
        Rician noise of ``1 / snr``. Default spacing: 3 pixels."""
        cfg = self.config
        spacing = float(spacing_mm or 3.0 * cfg.pixel_mm)
        t1 = float(t1_ms or cfg.t1_ms)
        levels = np.zeros(len(TISSUE), dtype=np.float32)
        levels[[TISSUE["air"], TISSUE["blood"], TISSUE["myocardium"], TISSUE["rv_blood"], TISSUE["static"]]] = \
            [0.05, 0.85, 0.7, 0.85, 0.75]
        blood = np.zeros(len(TISSUE), dtype=bool)
        blood[[TISSUE["blood"], TISSUE["rv_blood"]]] = True
        rng = np.random.default_rng([cfg.seed, 7])
        out = np.zeros((len(self.frame_times), 1, cfg.matrix, cfg.matrix), dtype=np.float32)

        def saturation(u: np.ndarray) -> np.ndarray:  # 1 on a tag line's centre, 0 between lines
            return np.cos(np.pi * u / spacing) ** 6

        for t, (ref_pts, cls) in enumerate(self.samples):
            sat = saturation(ref_pts[..., 0])
            if not lines:
                sat = 1 - (1 - sat) * (1 - saturation(ref_pts[..., 1]))
            fade = np.where(blood[cls], np.exp(-self.frame_times[t] / blood_washout_ms) if t else 1.0,
                            np.exp(-self.frame_times[t] / t1))
            out[t, 0] = (levels[cls] * (1 - 0.9 * sat * fade)).mean(axis=-1)
        noise = (rng.standard_normal(out.shape) + 1j * rng.standard_normal(out.shape)) / snr
        return ImageSeries(np.abs(out + noise).astype(np.float32), geometry=self.geometry,
                           frame_times=self.frame_times, modality="tagging", synthetic=True,
                           description="SYNTHETIC analytic LV ring SPAMM tagging (cardiogen.analytic)",
                           provenance={"generator": "cardiogen.analytic", "tag_spacing_mm": spacing,
                                       "config": _config_dict(cfg)})

    def ring_tracks(self, sectors: int = 24, fractions: tuple = (0.15, 0.5, 0.85)) -> tuple[np.ndarray, list, list]:
        """Exact tracks ``(t, n, 2)`` in pixels (x, y) of landmarks on rings through the wall at ``fractions`` of
        its thickness (endo, mid, epi), with their layer and sector labels."""
        m = self.motion
        th = 2 * np.pi * np.arange(sectors) / sectors
        pts, layer, sector = [], [], []
        for name, f in zip(("endo", "mid", "epi"), fractions):
            r = m.r_endo + f * (m.r_epi - m.r_endo)
            circle = np.stack([r * np.cos(th), r * np.sin(th)], -1)
            pts.append(m.c + circle @ m.A.T)
            layer += [name] * sectors
            sector += list(range(sectors))
        ref = np.concatenate(pts)
        s_t = self.truth_strain["waveform"]
        tracks = np.stack([m.forward(ref, s) for s in s_t]) / self.config.pixel_mm
        return tracks.astype(np.float32), layer, sector

    @property
    def reference_myocardium(self) -> np.ndarray:
        """bool ``(y, x)``: pixel centres in the wall at the reference frame (what the truth curves average)."""
        return self.myocardium[0]

    @property
    def sector_labels(self) -> np.ndarray:
        """int ``(y, x)``: 60° sector 1..6 of each reference wall pixel (0 elsewhere)."""
        return self.truth_strain["sectors"]


# ----------------------------------------------------------------------------------------------------------------
# Motion model
# ----------------------------------------------------------------------------------------------------------------
class _Motion:
    def __init__(self, cfg: AnalyticConfig, centre: np.ndarray) -> None:
        self.cfg = cfg
        self.c = centre
        a = np.radians(cfg.ellipse_angle_deg)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        self.A = rot @ np.diag([1 + cfg.ellipticity, 1 / (1 + cfg.ellipticity)]) @ rot.T
        self.A_inv = np.linalg.inv(self.A)
        self.r_endo = cfg.endo_radius_mm
        self.r_epi = cfg.endo_radius_mm + cfg.wall_mm

    def _circle(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Image points (..., 2) [x, y] mm -> circle-frame radius R and angle Θ (degrees)."""
        q = (p - self.c) @ self.A_inv.T
        return np.hypot(q[..., 0], q[..., 1]), np.degrees(np.arctan2(q[..., 1], q[..., 0]))

    def amplitude(self, theta_deg: np.ndarray) -> np.ndarray:
        cfg = self.cfg
        a = np.full(np.shape(theta_deg), cfg.endo_shortening)
        if cfg.hypo_center_deg is not None:
            w = _sector_weight(theta_deg, cfg.hypo_center_deg, cfg.hypo_width_deg)
            a = a * (1 - w * (1 - cfg.hypo_factor))
        return a

    def forward(self, p: np.ndarray, s: float) -> np.ndarray:
        """Reference points (..., 2) mm -> current points at waveform value ``s``."""
        q = (p - self.c) @ self.A_inv.T
        big_r = np.hypot(q[..., 0], q[..., 1])
        theta = np.arctan2(q[..., 1], q[..., 0])
        r_endo_t = self.r_endo * (1 - self.amplitude(np.degrees(theta)) * s)
        r_wall = np.sqrt(np.maximum(big_r ** 2 - self.r_endo ** 2 + r_endo_t ** 2, 0.0))
        r_blood = big_r * r_endo_t / self.r_endo
        r = np.where(big_r < self.r_endo, r_blood, r_wall)
        taper = np.clip((self.r_epi + 15 - big_r) / 10.0, 0, 1)
        r = big_r + (r - big_r) * taper
        r_out = self.r_epi + 10.0
        spin = np.radians(self.cfg.twist_deg) * s * np.clip((r_out - big_r) / (r_out - self.r_endo), 0, 1)
        ang = theta + spin
        q_new = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=-1)
        return self.c + q_new @ self.A.T

    def inverse(self, x: np.ndarray, s: float, iterations: int = 60) -> np.ndarray:
        """Current points -> reference points (fixed point ``X ← x − u(X)``; the map's gradient is well under 1)."""
        big_x = x.copy()
        for _ in range(iterations):
            step = x - (self.forward(big_x, s) - big_x)
            if np.max(np.abs(step - big_x)) < 1e-6:
                big_x = step
                break
            big_x = step
        return big_x

    def tissue(self, p: np.ndarray) -> np.ndarray:
        """Tissue class (:data:`TISSUE`) of reference points (..., 2)."""
        big_r, theta = self._circle(p)
        out = np.zeros(big_r.shape, dtype=np.uint8)
        out[big_r < self.r_endo] = TISSUE["blood"]
        out[(big_r >= self.r_endo) & (big_r <= self.r_epi)] = TISSUE["myocardium"]
        rv_centre = (self.cfg.sector0_deg + 150.0)  # beside the septum (sectors 2-3)
        d = np.abs((theta - rv_centre + 180) % 360 - 180)
        rv = (big_r > self.r_epi + 2) & (big_r < self.r_epi + 2 + 0.7 * self.r_endo) & (d < 55)
        out[rv] = TISSUE["rv_blood"]
        out[(big_r > self.r_epi + 25) & (big_r < self.r_epi + 40)] = TISSUE["static"]
        return out

    def strain(self, p: np.ndarray, s: float, h: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """Exact (E_rr, E_cc) at reference points (..., 2): F by central differences of the analytic map."""
        fx = (self.forward(p + [h, 0], s) - self.forward(p - [h, 0], s)) / (2 * h)
        fy = (self.forward(p + [0, h], s) - self.forward(p - [0, h], s)) / (2 * h)
        F = np.stack([fx, fy], axis=-1)  # F[..., i, j] = d x_i / d X_j
        E = 0.5 * (np.swapaxes(F, -1, -2) @ F - np.eye(2))
        rel = p - self.c
        e_r = rel / np.maximum(np.linalg.norm(rel, axis=-1, keepdims=True), 1e-12)
        e_c = np.stack([-e_r[..., 1], e_r[..., 0]], axis=-1)
        quad = lambda e: np.einsum("...i,...ij,...j->...", e, E, e)  # noqa: E731
        return quad(e_r), quad(e_c)


# ----------------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------------
def _pixel_points(cfg: AnalyticConfig, sub: int) -> np.ndarray:
    """(matrix, matrix, sub*sub, 2) [x, y] mm sample points of every pixel (pixel (0, 0) centred at 0 mm)."""
    n = cfg.matrix
    offs = (np.arange(sub) + 0.5) / sub - 0.5
    oy, ox = np.meshgrid(offs, offs, indexing="ij")
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    px = (jj[..., None] + ox.reshape(-1)) * cfg.pixel_mm
    py = (ii[..., None] + oy.reshape(-1)) * cfg.pixel_mm
    return np.stack([px, py], axis=-1)


def make_analytic_case(config: AnalyticConfig | None = None, **changes: Any) -> AnalyticCase:
    """Build one analytic case: cine, true displacement, wall masks and strain truth (DENSE on first use).

    Args:
        config: :class:`AnalyticConfig` (default values when None); ``changes`` override its fields.

    Returns:
        :class:`AnalyticCase`: ``cine`` ImageSeries ``(t, 1, y, x)``, ``displacement`` Lagrangian
        DisplacementSeries ``(t, 3, 1, y, x)`` mm, ``myocardium`` bool ``(t, y, x)``, ``tissue`` uint8 ``(y, x)``
        reference classes, ``truth_strain`` (curves, see the module docstring).
    """
    cfg = replace(config or AnalyticConfig(), **changes) if changes else (config or AnalyticConfig())
    rng = np.random.default_rng(cfg.seed)
    n, sp = cfg.matrix, cfg.pixel_mm
    centre = np.array([(n - 1) / 2 * sp, (n - 1) / 2 * sp]) + rng.uniform(-1, 1, 2) * cfg.centre_jitter_mm
    motion = _Motion(cfg, centre)
    dt = cfg.rr_ms * cfg.coverage / cfg.frames
    times = np.arange(cfg.frames) * dt
    s_t = _waveform(times / cfg.rr_ms, cfg.es_fraction)
    geometry = Geometry(spacing=(sp, sp, 8.0))
    centres = _pixel_points(cfg, 1)[:, :, 0]  # (y, x, 2)
    tissue_ref = motion.tissue(centres)
    wall_ref = tissue_ref == TISSUE["myocardium"]

    # truth: Lagrangian displacement at pixel centres, strain at the reference wall pixels
    disp = np.zeros((cfg.frames, 3, 1, n, n), dtype=np.float32)
    err = np.zeros((cfg.frames,) + wall_ref.shape)
    ecc = np.zeros_like(err)
    for t, s in enumerate(s_t):
        u = motion.forward(centres, s) - centres
        disp[t, 0, 0], disp[t, 1, 0] = u[..., 0], u[..., 1]
        e_rr, e_cc = motion.strain(centres, s)
        err[t], ecc[t] = e_rr, e_cc
    theta = np.degrees(np.arctan2(centres[..., 1] - centre[1], centres[..., 0] - centre[0]))
    sectors = np.where(wall_ref, 1 + ((theta - cfg.sector0_deg) % 360 // 60).astype(int), 0)
    curves: dict[str, Any] = {"global_radial": err[:, wall_ref].mean(axis=1),
                              "global_circumferential": ecc[:, wall_ref].mean(axis=1),
                              "sector_radial": np.stack([err[:, sectors == k].mean(axis=1) for k in range(1, 7)], 1),
                              "sector_circumferential": np.stack([ecc[:, sectors == k].mean(axis=1)
                                                                  for k in range(1, 7)], 1)}
    # hypokinetic core / remote wall, by the angle in the circle frame (what the motion model uses)
    _, theta_circle = motion._circle(centres)
    if cfg.hypo_center_deg is not None:
        d = np.abs((theta_circle - cfg.hypo_center_deg + 180) % 360 - 180)
        hypo = wall_ref & (d <= cfg.hypo_width_deg / 2)
        remote = wall_ref & (d >= cfg.hypo_width_deg / 2 + 90)
    else:
        hypo = np.zeros_like(wall_ref)
        remote = wall_ref.copy()
    for name, region in (("hypokinetic", hypo), ("remote", remote)):
        if region.any():
            curves[f"{name}_radial"] = err[:, region].mean(axis=1)
            curves[f"{name}_circumferential"] = ecc[:, region].mean(axis=1)
    curves.update(sectors=sectors, hypokinetic_mask=hypo, remote_mask=remote, waveform=s_t,
                  es_frame=int(np.argmax(s_t)))

    # current-frame classes by supersampling (partial volume), cine rendering
    pts = _pixel_points(cfg, cfg.supersample)
    cine = np.zeros((cfg.frames, 1, n, n), dtype=np.float32)
    centre_classes = np.zeros((cfg.frames, n, n), dtype=np.uint8)
    levels = np.zeros(len(TISSUE), dtype=np.float32)
    levels[[TISSUE["air"], TISSUE["blood"], TISSUE["myocardium"], TISSUE["rv_blood"], TISSUE["static"]]] = \
        [0.04, 1.0, 0.3, 0.95, 0.55]
    cache = []
    for t, s in enumerate(s_t):
        ref_pts = motion.inverse(pts, s)
        cls = motion.tissue(ref_pts)
        cache.append((ref_pts, cls))
        cine[t, 0] = levels[cls].mean(axis=-1)
        centre_classes[t] = motion.tissue(motion.inverse(centres, s))
    noise = cfg.cine_noise * (rng.standard_normal(cine.shape) + 1j * rng.standard_normal(cine.shape))
    cine = np.abs(cine + noise).astype(np.float32)
    cine_series = ImageSeries(cine, geometry=geometry, frame_times=times, modality="cine", synthetic=True,
                              description="SYNTHETIC analytic LV ring cine (cardiogen.analytic)",
                              provenance={"generator": "cardiogen.analytic", "config": _config_dict(cfg)})
    displacement = DisplacementSeries(disp, geometry=geometry, frame_times=times, reference_frame=0,
                                      synthetic=True, provenance={"generator": "cardiogen.analytic", "truth": True})
    return AnalyticCase(cfg, geometry, times, centre, cine_series, displacement,
                        centre_classes == TISSUE["myocardium"], tissue_ref, curves, motion, cache, centre_classes)


def _config_dict(cfg: AnalyticConfig) -> dict:
    return {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}


def _render_dense(case: AnalyticCase) -> DenseSeries:
    cfg = case.config
    rng = np.random.default_rng(cfg.seed + 7919)
    n = cfg.matrix
    pts = _pixel_points(cfg, cfg.supersample)
    mag = np.zeros((cfg.frames, 1, n, n), dtype=np.float32)
    phase = np.zeros((2, cfg.frames, 1, n, n), dtype=np.float32)
    yy, xx = np.mgrid[0:n, 0:n] / max(n - 1, 1) - 0.5
    offsets = [cfg.phase_offset_rad * (xx + 0.5 * yy), cfg.phase_offset_rad * (-0.6 * xx + yy)]
    for t, (ref_pts, cls) in enumerate(case.samples):
        decay = np.exp(-case.frame_times[t] / cfg.t1_ms)
        u = pts - ref_pts  # displacement of the material now at each sample point, mm
        amp = np.zeros(cls.shape)
        amp[cls == TISSUE["myocardium"]] = decay
        amp[cls == TISSUE["static"]] = 0.8 * decay
        random_phase = rng.uniform(-np.pi, np.pi, cls.shape)
        blood = (cls == TISSUE["blood"]) | (cls == TISSUE["rv_blood"])
        amp[blood] = 0.15
        tissue_moves = ~blood
        signals = []
        for e in range(2):
            ph = np.where(tissue_moves, 2 * np.pi * cfg.ke * u[..., e] * (cls != TISSUE["static"]), random_phase)
            z = (amp * np.exp(1j * ph)).mean(axis=-1) * np.exp(1j * offsets[e])
            z = z + (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape)) / cfg.snr / np.sqrt(2)
            signals.append(z)
            phase[e, t, 0] = np.angle(z)
        mag[t, 0] = 0.5 * (np.abs(signals[0]) + np.abs(signals[1]))
    geometry = case.geometry
    magnitude = ImageSeries(mag, geometry=geometry, frame_times=case.frame_times, modality="dense_mag",
                            synthetic=True, description="SYNTHETIC analytic LV ring DENSE (cardiogen.analytic)",
                            provenance={"generator": "cardiogen.analytic", "config": _config_dict(cfg)})
    labels = np.zeros((cfg.frames, 1, n, n), dtype=np.uint8)
    for t in range(cfg.frames):
        labels[t, 0][case.centre_classes[t] == TISSUE["blood"]] = 1
        labels[t, 0][case.centre_classes[t] == TISSUE["myocardium"]] = 2
    seg = Segmentation(labels, label_table={1: STANDARD_LABELS[1], 2: STANDARD_LABELS[2]}, geometry=geometry,
                       frame_times=case.frame_times, synthetic=True, provenance={"source": "analytic truth"})
    return DenseSeries(magnitude=magnitude, phase=phase, encodings=("x", "y"), ke=cfg.ke, segmentation=seg,
                       metadata={"generator": "cardiogen.analytic"})


# ----------------------------------------------------------------------------------------------------------------
# DENSEanalysis workspace
# ----------------------------------------------------------------------------------------------------------------
def contour_points(case: AnalyticCase, frame: int, margin_px: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Epicardial and endocardial control points ``(n, 2)`` [x, y] in pixels (0-based) of one frame, moved
    ``margin_px`` pixels outwards (epicardium, into lung/air or RV) and inwards (endocardium, into blood)."""
    cfg = case.config
    margin = cfg.contour_margin_px if margin_px is None else float(margin_px)
    motion = case.motion
    s = case.truth_strain["waveform"][frame]
    ang = np.radians(np.arange(cfg.contour_points) * 360.0 / cfg.contour_points)
    out = []
    for radius, sign in ((motion.r_epi, 1.0), (motion.r_endo, -1.0)):
        q = np.stack([radius * np.cos(ang), radius * np.sin(ang)], -1) @ motion.A.T + motion.c
        cur = motion.forward(q, s)
        rel = cur - cur.mean(axis=0)
        unit = rel / np.linalg.norm(rel, axis=1, keepdims=True)
        out.append((cur + sign * margin * cfg.pixel_mm * unit) / cfg.pixel_mm)
    return out[0], out[1]


def write_dense_workspace(case: AnalyticCase, path: str | Path, *, contour_frames: Any = None,
                          margin_px: float | None = None) -> Path:
    """Write the case's DENSE as a DENSEanalysis workspace (``.dns``, MATLAB v5) that
    :func:`cardiogen.io.dense_io.read_dense_workspace` (and DENSEanalysis) read.

    Args:
        case: from :func:`make_analytic_case`.
        path: destination ``.dns``; written atomically.
        contour_frames: frames that get contours (default: the first ``contour_fraction`` of the frames).
        margin_px: contour dilation in pixels (default ``config.contour_margin_px``).

    Returns:
        The path written.
    """
    from scipy.io import savemat  # noqa: PLC0415

    from ..io.atomic import atomic_path  # noqa: PLC0415

    cfg = case.config
    dense = case.dense
    n_t = cfg.frames
    if contour_frames is None:
        contour_frames = range(int(np.ceil(cfg.contour_fraction * n_t)))
    frames = sorted({int(f) for f in contour_frames})
    if frames and not 0 <= frames[0] <= frames[-1] < n_t:
        raise CardioGenInputError("contour frame out of range", expected=f"0..{n_t - 1}", got=frames)
    img = np.empty((1, 3), dtype=object)
    img[0, 0] = np.ascontiguousarray(dense.magnitude.array[:, 0].transpose(1, 2, 0) * 1000).astype(np.float64)
    for e in range(2):
        raw = np.round((dense.phase[e, :, 0] + np.pi) / (2 * np.pi) * 4095.0)
        img[0, 1 + e] = np.clip(raw, 0, 4095).transpose(1, 2, 0).astype(np.float64)
    position = np.empty((n_t, 2), dtype=object)
    curved = np.zeros((n_t, 2))
    for f in range(n_t):
        if f in frames:
            epi, endo = contour_points(case, f, margin_px)
            position[f, 0], position[f, 1] = epi + 1.0, endo + 1.0  # base-1 [x y]
            curved[f] = 1
        else:
            position[f, 0] = np.zeros((0, 2))
            position[f, 1] = np.zeros((0, 2))
    dns = {"Name": "analytic", "Type": "xy", "MagIndex": np.array([1.0, np.nan, np.nan]),
           "PhaIndex": np.array([2.0, 3.0, np.nan]), "PixelSpacing": np.array([cfg.pixel_mm, cfg.pixel_mm]),
           "EncFreq": np.array([cfg.ke, cfg.ke, np.nan]), "Scale": np.array([1.0, 1.0, np.nan]),
           "NegFlag": np.array([0.0, 0.0, 0.0]), "SwapFlag": 0.0, "Number": float(n_t)}
    seq = {"TriggerTime": case.frame_times.astype(float), "SliceThickness": 8.0,
           "ImageOrientationPatient": np.array([1.0, 0, 0, 0, 1, 0]), "ImagePositionPatient": np.zeros(3),
           "SeriesDescription": "SYNTHETIC analytic LV ring DENSE", "PixelSpacing": np.array([cfg.pixel_mm] * 2)}
    roi = {"Name": "analytic SA", "Type": "SA", "Position": position, "IsCurved": curved}
    dest = Path(path)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            savemat(fh, {"dns": dns, "img": img, "roi": roi, "seq": seq}, do_compression=True)
    return dest
