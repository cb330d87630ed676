"""The analytic beating biventricular heart: geometry, motion (forward and inverse), tissues and exact volumes.

Coordinates are heart-local millimetres (u, v, w): w is the LV long axis from the epicardial apex (w = 0) to the
base, u lateral, v anterior; cylindrical (r, θ, Z) with θ = atan2(v, u). Capital letters are material (ED)
coordinates, primed ones the position at time t.

Geometry at ED
--------------
* LV: endocardium and epicardium are half prolate ellipsoids truncated at their equator, the base plane
  Z = Z_b. r_endo(Z)² = a_n²·(1 − ((Z_b − Z)/c_n)²), r_epi(Z)² = a_p²·(1 − ((Z_b − Z)/Z_b)²); above Z_b both
  continue as cylinders (C¹), which only matters for the mapping, never for tissue.
* RV: a crescent outside the LV epicardium, around θ_rv = 165° (septal, slightly anterior) with half-width 85°.
  With ρ = r − r_epi(Z), the cavity is 0 ≤ ρ < h(θ, Z) = H(Z)·p(θ) with p = ((cos(θ − θ_rv) − cos W)/(1 − cos W))₊
  (an offset-circle crescent) and H(Z) = H₀·sqrt(1 − ((Z_b − Z)/(Z_b − Z_rv))²) (shorter than the LV); the free
  wall (3.5 mm) lies on top of it and reaches a little beyond the cavity's tips. A 2.5 mm layer of epicardial fat
  covers both ventricles.
* Atria: ellipsoidal LA (over the LV) and RA (over the RV) standing on the base plane, each inside a 2.5 mm wall,
  the two walls meeting in the interatrial septum, AV-groove fat at the base (:meth:`HeartGeometry.atria`), all
  below the roof Z_b + 50 mm and within the base's outer outline; like every tissue they are carried by the one
  motion below, so they stay flush with the base (and fill as it descends).

Motion (one mapping for all tissues)
------------------------------------
With λ(θ, t) the longitudinal stretch, k(θ, t) the endocardial radius factor and φ(z', t) the twist:

    z' = λ·Z,            θ' = θ + φ(z', t),
    blood  (r < r_endo):  r' = k·r,
    LV wall:              r'² = r²/λ + r_endo(Z)²·(k² − 1/λ),
    outside (ρ ≥ 0):      r' = r'_epi + ρ',  ρ' = k_rv·ρ in the RV cavity, k_rv·h + c_rv·(ρ − h) in the RV wall,
                          a rigid shift beyond.

Because the (θ, Z) → (θ', z') map has Jacobian λ and r'²/2 has derivative 1/λ in r²/2, the wall is exactly
incompressible; the map inverts in closed form: θ = θ' − φ(z'), Z = z'/λ(θ), then r from r' region by region.
LV cavity volume: V(t) = V_ED · mean_θ(λ·k²). The twist uses z' (not Z) so that it inverts exactly.

Above the base the atria hang between the moving AV plane and a fixed roof Z_r = Z_b + 50 mm: z' = λ·Z_b +
(Z − Z_b)·(Z_r − λ·Z_b)/(Z_r − Z_b) (they stretch as the base descends, so they fill in systole); the radial
factors (λ, k, k_rv, c_rv used in r') blend from their values at the moving base z' = λ·Z_b to the identity 10 mm
above it (the annulus narrows with the ventricle, the atrial body does not), the twist from its base value at
z' ≤ Z_b to the identity at z' = Z_r, and above the roof nothing moves. The blend weights depend on z' and λ(θ)
alone, so the map still inverts in closed form, and the ventricles (z' ≤ λ·Z_b ≤ Z_b) move exactly as above. The atria are thus carried by the same map as the ventricles, flush
with the base at every phase, and the roof never uncovers the static body.

Regional function: an infarct sector multiplies the radial contraction by (1 − w(θ)) and the longitudinal one by
(1 − w(θ)/2), with w = severity inside the sector and a smooth ±20° taper; dyssynchrony delays the contraction by
τ(θ) = 120 ms·d·(1 + cos θ)/2 (0 at the septum, maximal at the lateral wall). Twist and the RV follow the undelayed
contraction s(t).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from . import anatomy as A
from .config import InfarctSpec
from .timing import CardiacTiming

TAU_MAX_MS = 120.0  # lateral-wall delay at dyssynchrony 1
INFARCT_TAPER_DEG = 20.0  # the infarct border zone: contraction tapers over ±20° around the nominal edge
LAMBDA_INFARCT_SHARE = 0.5  # share of the longitudinal shortening an infarct removes (of its radial share)
APEX_WALL_FRACTION = 0.8  # apical wall = 0.8 x basal wall (PHYSIOLOGY §2: apex −20 %)
MYOCARDIAL_DENSITY = 1.05  # g/mL
ANNULUS_MM = 10.0  # above the base, the ventricles' radial motion fades out over this height (the AV-valve annulus)


@dataclass(frozen=True)
class HeartGeometry:
    """ED shape of the heart (mm); see the module docstring.

    Args:
        a_endo, c_endo: endocardial short and long semi-axes.
        a_epi: epicardial short semi-axis; the epicardial long semi-axis is ``z_base`` (apex at Z = 0).
        z_base: height of the base plane above the epicardial apex.
        rv_height_mm: H₀, largest RV cavity width (at the base, θ = θ_rv).
        rv_apex_z: Z where the RV cavity ends (RV apex).
    """

    a_endo: float
    c_endo: float
    a_epi: float
    z_base: float
    rv_height_mm: float
    rv_apex_z: float
    rv_center_deg: float = 165.0
    rv_half_width_deg: float = 85.0
    rv_wall_mm: float = 3.5
    rv_wall_extra_deg: float = 15.0
    fat_mm: float = 2.5
    atria_height_mm: float = 50.0
    atrial_wall_mm: float = 2.5

    # ---- atria (material frame, above the base plane) -----------------------------------------------------
    def atria(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """((centre, semi-axes) of the left atrium, (centre, semi-axes) of the right atrium), (u, v, w) mm.

        Each atrium is the blood of an ellipsoid standing on the AV plane (its centre 0.45 of its height above the
        base, so that its cross-section at the base, the valve annulus, is narrower than its equator), inside a
        wall of :attr:`atrial_wall_mm`. Sizes follow the LV's outer radius a_epi (a normal LA in the 4-chamber view:
        about 40-45 mm wide and 45-50 mm long at end-systole, its annulus ~30 mm), capped so that the dome stays
        below the fixed roof Z_b + ``atria_height_mm``. Along θ_rv both surfaces touch at the mid-septum, so their
        walls form an interatrial septum continuous with the ventricular one: the LA reaches from there over the LV
        cavity, the RA over the RV cavity; both sit a little posterior.
        """
        cap = (self.atria_height_mm - self.atrial_wall_mm - 1.0) / 1.45
        septum = 0.5 * (self.a_endo + self.a_epi)  # mid-septum, along θ_rv
        la_u = min(0.5 * (septum + 0.9 * self.a_endo), 0.68 * self.a_epi)
        ra_u = min(0.5 * (self.a_epi + self.rv_height_mm - septum), 0.62 * self.a_epi)
        la_axes = np.array([la_u, 0.75 * self.a_epi, min(0.9 * self.a_epi, cap)])
        ra_axes = np.array([ra_u, 0.7 * self.a_epi, min(0.85 * self.a_epi, cap)])
        c, s = self.rv_cos()
        back = -0.12 * self.a_epi  # both atria a little posterior (v < 0)
        la_c = np.array([(septum - la_u) * c, (septum - la_u) * s + back, self.z_base + 0.45 * la_axes[2]])
        ra_c = np.array([(septum + ra_u) * c, (septum + ra_u) * s + back, self.z_base + 0.45 * ra_axes[2]])
        return (la_c, la_axes), (ra_c, ra_axes)

    def atrial_tissue(self, u: np.ndarray, v: np.ndarray, z: np.ndarray, footprint: np.ndarray) -> np.ndarray:
        """uint8 tissue ids at material points above the base (``footprint``: inside the ventricles' outline).

        Blood of the atrium whose surface is farther (LA or RA), atrial wall within :attr:`atrial_wall_mm` of either
        surface (where both meet, the interatrial septum), epicardial fat 2 mm around the walls, 0 elsewhere (the
        static body shows there).
        """
        out = np.zeros(np.shape(u), dtype=np.uint8)
        dist = []
        for centre, axes in self.atria():
            e = np.sqrt(((u - centre[0]) / axes[0]) ** 2 + ((v - centre[1]) / axes[1]) ** 2
                        + ((z - centre[2]) / axes[2]) ** 2)
            dist.append((e - 1.0) * float(axes.min()))  # ~ mm outside the surface (negative inside)
        d_la, d_ra = dist
        w = self.atrial_wall_mm
        near = np.minimum(d_la, d_ra)
        out[footprint & (near < w + 2.0)] = A.EPI_FAT
        out[footprint & (near < 0.0)] = A.ATRIAL_WALL
        out[footprint & (d_la < -w) & (d_la < d_ra - w)] = A.LA_BLOOD
        out[footprint & (d_ra < -w) & (d_ra < d_la - w)] = A.RA_BLOOD
        return out

    @property
    def z_endo_apex(self) -> float:
        """Height of the endocardial apex (mm)."""
        return self.z_base - self.c_endo

    @property
    def lv_cavity_ml(self) -> float:
        return 2.0 / 3.0 * math.pi * self.a_endo**2 * self.c_endo / 1000.0

    @property
    def lv_myocardium_ml(self) -> float:
        return 2.0 / 3.0 * math.pi * (self.a_epi**2 * self.z_base - self.a_endo**2 * self.c_endo) / 1000.0

    @property
    def sphericity(self) -> float:
        return 2.0 * self.a_endo / self.c_endo

    # ---- radii (arrays keep their dtype) ------------------------------------------------------------------
    def r_endo2(self, z: np.ndarray) -> np.ndarray:
        d = np.maximum(self.z_base - z, 0.0) * (1.0 / self.c_endo)
        return np.maximum(self.a_endo**2 * (1.0 - d * d), 0.0)

    def r_epi2(self, z: np.ndarray) -> np.ndarray:
        d = np.maximum(self.z_base - z, 0.0) * (1.0 / self.z_base)
        return np.maximum(self.a_epi**2 * (1.0 - d * d), 0.0)

    def rv_cos(self) -> tuple[float, float]:
        c = math.radians(self.rv_center_deg)
        return math.cos(c), math.sin(c)

    def rv_height(self, z: np.ndarray) -> np.ndarray:
        """H(Z): RV cavity width at θ_rv (mm); 0 below the RV apex."""
        length = self.z_base - self.rv_apex_z
        x = np.maximum(self.z_base - z, 0.0) * (1.0 / length)
        return self.rv_height_mm * np.sqrt(np.maximum(1.0 - x * x, 0.0))

    def rv_extent(self, cos_d: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h, h_out): outer limit of the RV cavity and of the RV wall, as ρ (mm) beyond the LV epicardium.

        ``cos_d`` is cos(θ − θ_rv) of the material angle.
        """
        cw = math.cos(math.radians(self.rv_half_width_deg))
        cw2 = math.cos(math.radians(self.rv_half_width_deg + self.rv_wall_extra_deg))
        p = np.clip((cos_d - cw) * (1.0 / (1.0 - cw)), 0.0, 1.0)
        q = np.clip((cos_d - cw2) * (1.0 / (cw - cw2)), 0.0, 1.0)
        taper = np.clip((z - (self.rv_apex_z - 6.0)) * (1.0 / 6.0), 0.0, 1.0)
        h = self.rv_height(z) * p
        return h, h + (self.rv_wall_mm * q) * taper


@dataclass(frozen=True)
class HeartMotion:
    """End-systolic motion parameters of healthy myocardium.

    Args:
        lam_es: longitudinal stretch λ at ES (base descent = (1 − λ)·Z_b).
        k_es: endocardial radius factor at ES.
        krv_es: RV cavity width factor at ES.
        crv_es: RV free-wall thickening factor at ES.
        twist_apex_deg, twist_base_deg: rotation at ES viewed from the apex (anticlockwise > 0), i.e. +θ.
    """

    lam_es: float
    k_es: float
    krv_es: float
    crv_es: float = 1.3
    twist_apex_deg: float = 10.0
    twist_base_deg: float = -3.0


@dataclass
class InverseResult:
    """Material point and tissue of deformed points (arrays of the input shape)."""

    r: np.ndarray  # material radius (mm)
    cos_t: np.ndarray  # cos θ (material)
    sin_t: np.ndarray  # sin θ
    z: np.ndarray  # material height Z (mm)
    labels: np.ndarray  # uint8 tissue id of the moving heart, 0 = not heart (static body)

    def material(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Material (U, V, W) in mm."""
        return self.r * self.cos_t, self.r * self.sin_t, self.z


class HeartModel:
    """The phantom heart: shape + motion + timing. All methods are vectorised and analytic.

    Args:
        geometry: :class:`HeartGeometry`.
        motion: :class:`HeartMotion`.
        timing: :class:`~cardiogen.phantom.timing.CardiacTiming`.
        infarct: optional :class:`~cardiogen.phantom.config.InfarctSpec`.
        dyssynchrony: 0..1.
        motion_scale: multiplies all motion (0: static heart).
    """

    def __init__(self, geometry: HeartGeometry, motion: HeartMotion, timing: CardiacTiming,
                 infarct: InfarctSpec | None = None, dyssynchrony: float = 0.0, motion_scale: float = 1.0) -> None:
        self.geometry = geometry
        self.motion = motion
        self.timing = timing
        self.infarct = infarct if infarct is not None and infarct.severity > 0 else None
        self.dyssynchrony = float(dyssynchrony)
        self.motion_scale = float(motion_scale)
        self._rv_c, self._rv_s = geometry.rv_cos()
        if self.infarct is not None:
            c = math.radians(self.infarct.center_deg)
            self._inf_c, self._inf_s = math.cos(c), math.sin(c)
            half = self.infarct.width_deg / 2.0
            self._inf_in = math.cos(math.radians(min(max(half - INFARCT_TAPER_DEG, 0.0), 180.0)))
            self._inf_out = math.cos(math.radians(min(half + INFARCT_TAPER_DEG, 180.0)))
            self._inf_all = half - INFARCT_TAPER_DEG >= 180.0

    # ---- regional factors ---------------------------------------------------------------------------------
    def infarct_weight(self, cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray | float:
        """w(θ) ∈ [0, severity]: fraction of contraction lost (smoothstep taper at the sector edges)."""
        if self.infarct is None:
            return 0.0
        if self._inf_all:
            return self.infarct.severity + 0.0 * cos_t
        cd = cos_t * self._inf_c + sin_t * self._inf_s
        x = np.clip((cd - self._inf_out) * (1.0 / max(self._inf_in - self._inf_out, 1e-9)), 0.0, 1.0)
        return self.infarct.severity * (x * x * (3.0 - 2.0 * x))

    def contraction(self, t_ms: float) -> float:
        """Global (septal, undelayed) contraction s(t) ∈ [0, 1]."""
        return float(self.timing.contraction(t_ms))

    def local_contraction(self, cos_t: np.ndarray, sin_t: np.ndarray, t_ms: float) -> np.ndarray | float:
        """Regional contraction s(g(t)) times motion_scale (the dyssynchrony delay applied, not the infarct)."""
        if self.dyssynchrony > 0:
            tau = (TAU_MAX_MS * self.dyssynchrony * 0.5) * (1.0 + np.asarray(cos_t, dtype=np.float64))
            s = self.timing.delayed_contraction(t_ms, tau).astype(np.asarray(cos_t).dtype, copy=False)
        else:
            s = self.contraction(t_ms)
        return s * self.motion_scale

    def factors(self, cos_t: np.ndarray, sin_t: np.ndarray, t_ms: float) -> tuple:
        """(λ, k, k_rv, c_rv) at material angle θ and time t (arrays where they vary with θ, else floats).

        An infarct removes the fraction w(θ) of the radial contraction (1 − k) and LAMBDA_INFARCT_SHARE·w(θ) of the
        longitudinal one (1 − λ): long-axis motion is partly passive (tethered to the remote wall), and a sharp
        step in λ would shear the border zone unrealistically.
        """
        m = self.motion
        s_loc = self.local_contraction(cos_t, sin_t, t_ms)
        if self.infarct is not None:
            w = self.infarct_weight(cos_t, sin_t)
            lam = 1.0 - (1.0 - m.lam_es) * (s_loc * (1.0 - LAMBDA_INFARCT_SHARE * w))
            k = 1.0 - (1.0 - m.k_es) * (s_loc * (1.0 - w))
        else:
            lam = 1.0 - (1.0 - m.lam_es) * s_loc
            k = 1.0 - (1.0 - m.k_es) * s_loc
        sg = self.contraction(t_ms) * self.motion_scale
        krv = max(1.0 - (1.0 - m.krv_es) * sg, 0.02)
        crv = 1.0 + (m.crv_es - 1.0) * sg
        return lam, k, krv, crv

    def twist_params(self, t_ms: float) -> tuple[float, float]:
        """φ(z') = φ0 + φ1·z' (radians): the twist is linear in the deformed height."""
        sg = self.contraction(t_ms) * self.motion_scale
        if sg == 0.0:
            return 0.0, 0.0
        lam_bar = 1.0 - (1.0 - self.motion.lam_es) * sg
        pa = math.radians(self.motion.twist_apex_deg) * sg
        pb = math.radians(self.motion.twist_base_deg) * sg
        return pa, (pb - pa) / (lam_bar * self.geometry.z_base)

    def _twist_cos_sin(self, zp: np.ndarray, t_ms: float):
        p0, p1 = self.twist_params(t_ms)
        if p0 == 0.0 and p1 == 0.0:
            return 1.0, 0.0
        zb = self.geometry.z_base
        phi = (p0 + p1 * np.minimum(zp, zb)) * self._atrial_blend(zp)
        return np.cos(phi), np.sin(phi)

    # ---- the atrial segment (module docstring): base values at z' <= Z_b, identity at the roof -------------
    @property
    def roof_z(self) -> float:
        """Height Z_r of the atrial roof (mm): the map is the identity at and above it."""
        return self.geometry.z_base + self.geometry.atria_height_mm

    def _atrial_blend(self, zp: np.ndarray) -> np.ndarray:
        """Weight of the ventricular motion at deformed height z': 1 up to Z_b, linear to 0 at the roof."""
        zb = self.geometry.z_base
        return np.clip((self.roof_z - zp) * (1.0 / (self.roof_z - zb)), 0.0, 1.0)

    def _radial_blend(self, zp: np.ndarray, lam) -> np.ndarray:
        """Weight of the ventricular radial factors at z': 1 up to the moving base λ·Z_b, linear to 0 at
        λ·Z_b + ANNULUS_MM. The valve annulus narrows with the ventricle; the atrial body above it does not contract
        with the ventricles (it fills while the AV plane descends). λ = λ(θ) of the material angle, which the
        inverse knows before the height, so the map still inverts in closed form."""
        return np.clip((lam * self.geometry.z_base + ANNULUS_MM - zp) * (1.0 / ANNULUS_MM), 0.0, 1.0)

    def _z_forward(self, w: np.ndarray, lam) -> np.ndarray:
        """z' of material height Z: λ·Z below the base, the stretched atrial segment, Z above the roof."""
        zb, zr = self.geometry.z_base, self.roof_z
        zbp = lam * zb
        return np.where(w <= zb, lam * w, np.where(w < zr, zbp + (w - zb) * ((zr - zbp) / (zr - zb)), w))

    def _z_inverse(self, wp: np.ndarray, lam) -> np.ndarray:
        """Material height Z of deformed height z' (inverse of :meth:`_z_forward` at the same λ(θ))."""
        zb, zr = self.geometry.z_base, self.roof_z
        zbp = lam * zb
        return np.where(wp <= zbp, wp / lam, np.where(wp < zr, zb + (wp - zbp) * ((zr - zb) / (zr - zbp)), wp))

    def _radial_factors(self, zp: np.ndarray, lam, k, krv, crv) -> tuple:
        """(λ, k, k_rv, c_rv) of the radial map at z': unchanged up to the moving base λ·Z_b, blended to 1 over
        the annulus above it."""
        up = zp > lam * self.geometry.z_base
        if not np.any(up):
            return lam, k, krv, crv
        b = self._radial_blend(zp, lam)
        return tuple(np.where(up, 1.0 + (f - 1.0) * b, f) for f in (lam, k, krv, crv))

    # ---- forward / inverse --------------------------------------------------------------------------------
    def forward(self, x_material: np.ndarray, t_ms: float) -> np.ndarray:
        """Position at time t of material points.

        Args:
            x_material: ``(..., 3)`` heart-frame (u, v, w) mm at ED.
            t_ms: time after the R wave (ms).
        Returns:
            ``(..., 3)`` heart-frame position at t, same dtype.
        """
        x = np.asarray(x_material)
        up, vp, wp = self.forward_components(x[..., 0], x[..., 1], x[..., 2], t_ms)
        return np.stack([up, vp, wp], axis=-1)

    def forward_components(self, u: np.ndarray, v: np.ndarray, w: np.ndarray,
                           t_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`forward` on separate component arrays; returns (u', v', w')."""
        g = self.geometry
        r2 = u * u + v * v
        r = np.sqrt(r2)
        small = r < 1e-9
        inv = 1.0 / np.where(small, 1.0, r)
        ct = np.where(small, 1.0, u * inv)
        st = np.where(small, 0.0, v * inv)
        lam, k, krv, crv = self.factors(ct, st, t_ms)
        zp = self._z_forward(w, lam)
        lam, k, krv, crv = self._radial_factors(zp, lam, k, krv, crv)
        rn2 = g.r_endo2(w)
        rp2 = g.r_epi2(w)
        a = k * k - 1.0 / lam
        blood = r2 < rn2
        myo = ~blood & (r2 < rp2)
        rpp = np.sqrt(np.maximum(rp2 / lam + rn2 * a, 0.0))
        rho = r - np.sqrt(rp2)
        h, hout = g.rv_extent(ct * self._rv_c + st * self._rv_s, w)
        b1 = krv * h
        b2 = b1 + crv * (hout - h)
        rho_p = np.where(rho < h, krv * rho, np.where(rho < hout, b1 + crv * (rho - h), b2 + (rho - hout)))
        rp = np.where(blood, k * r, np.where(myo, np.sqrt(np.maximum(r2 / lam + rn2 * a, 0.0)), rpp + rho_p))
        cphi, sphi = self._twist_cos_sin(zp, t_ms)
        return rp * (ct * cphi - st * sphi), rp * (st * cphi + ct * sphi), zp

    def inverse(self, x: np.ndarray, t_ms: float) -> tuple[np.ndarray, np.ndarray]:
        """Material point and tissue of deformed points.

        Args:
            x: ``(..., 3)`` heart-frame positions at time t (mm).
            t_ms: time after the R wave (ms).
        Returns:
            (``(..., 3)`` material heart-frame positions at ED, ``(...)`` uint8 tissue ids of the moving heart with
            0 where the point is not heart (the static body is there)).
        """
        x = np.asarray(x)
        res = self.inverse_components(x[..., 0], x[..., 1], x[..., 2], t_ms)
        return np.stack(res.material(), axis=-1), res.labels

    def inverse_components(self, up: np.ndarray, vp: np.ndarray, wp: np.ndarray, t_ms: float,
                           rp: np.ndarray | None = None) -> InverseResult:
        """Closed-form inverse of the motion on component arrays (``rp`` = hypot(u', v') if precomputed)."""
        g = self.geometry
        if rp is None:
            rp = np.sqrt(up * up + vp * vp)
        cphi, sphi = self._twist_cos_sin(wp, t_ms)
        small = rp < 1e-6
        inv = 1.0 / np.where(small, 1.0, rp)
        ct = np.where(small, 1.0, (up * cphi + vp * sphi) * inv)
        st = np.where(small, 0.0, (vp * cphi - up * sphi) * inv)
        lam, k, krv, crv = self.factors(ct, st, t_ms)
        z = self._z_inverse(wp, lam)
        lam, k, krv, crv = self._radial_factors(wp, lam, k, krv, crv)
        rn2 = g.r_endo2(z)
        rp2 = g.r_epi2(z)
        a = k * k - 1.0 / lam
        blood = rp < k * np.sqrt(rn2)
        rpp = np.sqrt(np.maximum(rp2 / lam + rn2 * a, 0.0))
        myo = ~blood & (rp < rpp)
        outer = ~(blood | myo)
        cos_d = ct * self._rv_c + st * self._rv_s
        h, hout = g.rv_extent(cos_d, z)
        rho_p = rp - rpp
        b1 = krv * h
        b2 = b1 + crv * (hout - h)
        in_cav = rho_p < b1
        in_wall = ~in_cav & (rho_p < b2)
        rho = np.where(in_cav, rho_p * (1.0 / krv),
                       np.where(in_wall, h + (rho_p - b1) * (1.0 / crv), hout + (rho_p - b2)))
        r = np.where(blood, rp / k, np.where(myo, np.sqrt(np.maximum(lam * (rp * rp - rn2 * a), 0.0)),
                                             np.sqrt(rp2) + rho))
        labels = np.zeros(np.shape(rp), dtype=np.uint8)
        below = z <= g.z_base
        labels[blood & below] = A.LV_BLOOD
        labels[myo & below] = A.LV_MYO
        outer_below = outer & below
        labels[outer_below & in_cav] = A.RV_BLOOD
        labels[outer_below & in_wall] = A.RV_MYO
        labels[outer_below & ~in_cav & ~in_wall & (rho - hout < g.fat_mm) & (z >= 0.0)] = A.EPI_FAT
        # Atria in material coordinates, like every other tissue: above the base the map continues the ventricles
        # as cylinders (r_endo = a_endo, r_epi = a_epi, h = H(Z_b)), so the atria are carried by the same motion
        # and stay flush with the contracting base (issue 21.1: testing the deformed r' against ED radii left a
        # wedge of right atrium beside the systolic RV and a notch at the AV plane).
        above = ~below & (z < self.roof_z)
        if np.any(above):
            idx = np.nonzero(above)
            labels[idx] = g.atrial_tissue(r[idx] * ct[idx], r[idx] * st[idx], z[idx], (rho < hout)[idx])
        return InverseResult(r=r, cos_t=ct, sin_t=st, z=z, labels=labels)

    def tissue(self, x_material: np.ndarray) -> np.ndarray:
        """uint8 tissue ids (0 = not heart) of material points at ED (``(..., 3)`` heart frame mm)."""
        return self.inverse(x_material, 0.0)[1]

    def may_be_heart(self, up: np.ndarray, vp: np.ndarray, wp: np.ndarray) -> np.ndarray:
        """bool: False where no moving heart tissue (incl. fat and atria) can be at any time (a safe bound)."""
        g, m = self.geometry, self.motion
        lam_min = 1.0 - (1.0 - m.lam_es) * self.motion_scale
        zmax = np.where(wp > 0, wp / lam_min, wp)
        rp = np.sqrt(up * up + vp * vp)
        twist_max = max(abs(m.twist_apex_deg), abs(m.twist_base_deg)) * self.motion_scale
        half = g.rv_half_width_deg + g.rv_wall_extra_deg + twist_max + 5.0
        inv = 1.0 / np.maximum(rp, 1e-6)
        cos_d = (up * self._rv_c + vp * self._rv_s) * inv
        rv_side = cos_d > math.cos(math.radians(min(half, 180.0)))
        crv_max = 1.0 + abs(m.crv_es - 1.0) * max(self.motion_scale, 1.0)
        reach = np.sqrt(g.r_epi2(zmax)) / math.sqrt(lam_min) + g.fat_mm + 2.0
        reach = reach + np.where(rv_side, g.rv_height(zmax) + crv_max * g.rv_wall_mm, 0.0)
        return (rp < reach) & (wp > -g.fat_mm - 2.0) & (wp < g.z_base + g.atria_height_mm + 1.0)

    # ---- exact volumes ------------------------------------------------------------------------------------
    _N_THETA = 1440

    def _theta_nodes(self) -> tuple[np.ndarray, np.ndarray]:
        th = (np.arange(self._N_THETA) + 0.5) * (2 * np.pi / self._N_THETA)
        return np.cos(th), np.sin(th)

    def lv_blood_volume_ml(self, t_ms: float) -> float:
        """Exact LV cavity volume (mL): V_ED · mean_θ(λ·k²)."""
        ct, st = self._theta_nodes()
        lam, k, _, _ = self.factors(ct, st, t_ms)
        return float(self.geometry.lv_cavity_ml * np.mean(np.broadcast_to(lam * k * k, ct.shape)))

    def lv_myocardium_volume_ml(self, t_ms: float = 0.0) -> float:
        """LV wall volume (mL), the same at every time (incompressible wall)."""
        return self.geometry.lv_myocardium_ml

    def rv_blood_volume_ml(self, t_ms: float) -> float:
        """RV cavity volume (mL) by Gauss-Legendre quadrature of the exact cross-sections (relative error < 1e-6)."""
        ct, st, wt, z, wz = self._rv_nodes()
        lam, k, krv, _ = self.factors(ct, st, t_ms)
        return rv_cavity_volume(self.geometry, ct, st, wt, z, wz, lam, k, krv)

    def _rv_nodes(self):
        g = self.geometry
        half = math.radians(g.rv_half_width_deg)
        xt, wt = np.polynomial.legendre.leggauss(128)
        th = math.radians(g.rv_center_deg) + half * xt
        xb, wb = np.polynomial.legendre.leggauss(64)
        beta = (xb + 1.0) * (math.pi / 4.0)  # Z = Z_b − L·sin β removes the square-root end point
        length = g.z_base - g.rv_apex_z
        z = g.z_base - length * np.sin(beta)
        wz = wb * (math.pi / 4.0) * length * np.cos(beta)
        return np.cos(th), np.sin(th), wt * half, z, wz

    # ---- strain -------------------------------------------------------------------------------------------
    def deformation_gradient(self, x_material: np.ndarray, t_ms: float, step_mm: float = 1e-3) -> np.ndarray:
        """F = ∂x'/∂X ``(N, 3, 3)`` (heart frame) by central differences of :meth:`forward` (float64)."""
        x = np.asarray(x_material, dtype=np.float64).reshape(-1, 3)
        out = np.empty((x.shape[0], 3, 3))
        for j in range(3):
            dx = np.zeros(3)
            dx[j] = step_mm
            out[:, :, j] = (self.forward(x + dx, t_ms) - self.forward(x - dx, t_ms)) / (2.0 * step_mm)
        return out

    def strain_rcl(self, x_material: np.ndarray, t_ms: float) -> np.ndarray:
        """Green-Lagrange strain ``(N, 3)`` (radial, circumferential, longitudinal) at material points.

        E = ½(FᵀF − I) projected on e_r = (cos θ, sin θ, 0), e_c = (−sin θ, cos θ, 0), e_l = (0, 0, 1) of the LV
        frame at ED (cylindrical about the long axis).
        """
        x = np.asarray(x_material, dtype=np.float64).reshape(-1, 3)
        f = self.deformation_gradient(x, t_ms)
        e = 0.5 * (np.einsum("nki,nkj->nij", f, f) - np.eye(3))
        basis = lv_basis(x)
        return np.einsum("nci,nij,ncj->nc", basis, e, basis)


def lv_basis(x_material: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)``: rows e_r, e_c, e_l (heart frame) at material points ``(N, 3)``."""
    x = np.asarray(x_material, dtype=np.float64).reshape(-1, 3)
    r = np.hypot(x[:, 0], x[:, 1])
    small = r < 1e-9
    ct = np.where(small, 1.0, x[:, 0] / np.where(small, 1.0, r))
    st = np.where(small, 0.0, x[:, 1] / np.where(small, 1.0, r))
    zero, one = np.zeros_like(r), np.ones_like(r)
    return np.stack([np.stack([ct, st, zero], -1), np.stack([-st, ct, zero], -1), np.stack([zero, zero, one], -1)],
                    axis=1)


def rv_cavity_volume(g: HeartGeometry, ct, st, wt, z, wz, lam, k, krv) -> float:
    """RV cavity volume (mL) on θ nodes (ct, st, weights wt) x Z nodes (z, wz) for factors λ(θ), k(θ), k_rv."""
    lam = np.broadcast_to(np.asarray(lam, dtype=float), ct.shape)[:, None]
    k = np.broadcast_to(np.asarray(k, dtype=float), ct.shape)[:, None]
    zz = z[None, :]
    rn2, rp2 = g.r_endo2(zz), g.r_epi2(zz)
    rpp = np.sqrt(np.maximum(rp2 / lam + rn2 * (k * k - 1.0 / lam), 0.0))
    rv_c, rv_s = g.rv_cos()
    h, _ = g.rv_extent((ct * rv_c + st * rv_s)[:, None], zz)
    area = lam * 0.5 * ((rpp + krv * h) ** 2 - rpp**2)
    return float(np.sum(area * wt[:, None] * wz[None, :]) / 1000.0)


def solve_heart(lvedv_ml: float, lvesv_ml: float, lv_mass_g: float, rvedv_ml: float, rvesv_ml: float,
                sphericity: float) -> tuple[HeartGeometry, HeartMotion]:
    """Geometry and ES motion that reproduce the phenotypes exactly (healthy, synchronous contraction).

    * endocardium: V = (2/3)π·a_n²·c_n with 2a_n/c_n = sphericity;
    * wall thickness T (basal; apex 0.8·T) by root finding on the myocardial volume = mass / 1.05 g/mL;
    * λ_ES = 1 − 0.15·EF/0.6 (base descent ≈ 15 mm at EF 60 %), k_ES = sqrt((1 − EF)/λ_ES);
    * RV cavity width H₀ by root finding on RVEDV, RV factor k_rv,ES on RVESV.
    """
    edv = lvedv_ml * 1000.0
    c_n = (6.0 * edv / (math.pi * sphericity**2)) ** (1.0 / 3.0)
    a_n = sphericity * c_n / 2.0
    v_myo = lv_mass_g / MYOCARDIAL_DENSITY * 1000.0

    def myo_err(t: float) -> float:
        return 2.0 / 3.0 * math.pi * ((a_n + t) ** 2 * (c_n + APEX_WALL_FRACTION * t) - a_n**2 * c_n) - v_myo

    thick = brentq(myo_err, 1e-3, 100.0, xtol=1e-10)
    a_p = a_n + thick
    z_b = c_n + APEX_WALL_FRACTION * thick
    ef = 1.0 - lvesv_ml / lvedv_ml
    lam_es = 1.0 - float(np.clip(0.15 * ef / 0.6, 0.04, 0.24))
    k_es = math.sqrt((1.0 - ef) / lam_es)
    rv_apex = 0.3 * z_b

    def geom(h0: float) -> HeartGeometry:
        return HeartGeometry(a_endo=a_n, c_endo=c_n, a_epi=a_p, z_base=z_b, rv_height_mm=h0, rv_apex_z=rv_apex)

    probe = HeartModel(geom(1.0), HeartMotion(1.0, 1.0, 1.0), CardiacTiming(60.0, 400.0))
    ct, st, wt, z, wz = probe._rv_nodes()
    h0 = brentq(lambda h: rv_cavity_volume(geom(h), ct, st, wt, z, wz, 1.0, 1.0, 1.0) - rvedv_ml, 1e-3, 200.0,
                xtol=1e-9)
    g = geom(h0)

    def rv_es(krv: float) -> float:
        return rv_cavity_volume(g, ct, st, wt, z, wz, lam_es, k_es, krv) - rvesv_ml

    krv_es = 1.0 if rv_es(1.0) <= 0 else brentq(rv_es, 1e-4, 1.0, xtol=1e-10)
    return g, HeartMotion(lam_es=lam_es, k_es=k_es, krv_es=krv_es, crv_es=1.0 + 0.4 * (1.0 - krv_es))


def aha_segments(x_material: np.ndarray, geometry: HeartGeometry) -> np.ndarray:
    """AHA segment (1..16; 17 = apical cap below the endocardial apex) of material points ``(..., 3)``.

    Basal/mid/apical thirds of Z between the endocardial apex and the base; basal and mid rings in 60° sectors
    starting at the anterior segment (θ 60-120° anterior, 120-180° anteroseptal, 180-240° inferoseptal, 240-300°
    inferior, 300-360° inferolateral, 0-60° anterolateral); apical ring in 90° sectors centred on 90° (anterior),
    180° (septal), 270° (inferior), 0° (lateral).
    """
    x = np.asarray(x_material, dtype=np.float64)
    th = np.degrees(np.arctan2(x[..., 1], x[..., 0])) % 360.0
    zr = (x[..., 2] - geometry.z_endo_apex) / geometry.c_endo
    ring6 = ((th - 60.0) % 360.0 // 60.0).astype(np.int64)  # 0 = anterior ... 5 = anterolateral
    ring4 = ((th - 45.0) % 360.0 // 90.0).astype(np.int64)  # 0 = anterior, 1 septal, 2 inferior, 3 lateral
    seg = np.where(zr >= 2.0 / 3.0, 1 + ring6, np.where(zr >= 1.0 / 3.0, 7 + ring6, 13 + ring4))
    return np.where(zr < 0.0, 17, seg).astype(np.uint8)
