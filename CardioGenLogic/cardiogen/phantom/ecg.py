"""Synthetic 12-lead ECG from a cardiac dipole that follows the phantom heart (PHYSIOLOGY.md §4, §7).

Model
-----
The heart's electrical activity is one time-varying dipole (a vectorcardiogram). It is built in the
**heart-local frame** of the phantom:

* ``u`` lateral (LV free wall), ``v`` anterior, ``w`` LV long axis pointing apex -> base;
* a wall at circumferential angle θ = atan2(v, u) (degrees: 0 lateral, 90 anterior, 180 septal, 270 inferior)
  has outward normal ``cos θ·u + sin θ·v`` (tilted slightly towards the apex, like the cone of the LV).

Each wave is a sum of smooth dipole components (Gaussian or asymmetric Gaussian in time, fixed direction):

* P: atrial depolarization (base, septal side -> lateral and apical);
* QRS: septal ``q`` (towards the septum/RV), main LV ``R`` (towards the apex and the lateral wall), terminal
  ``s`` (towards the base); with ``dyssynchrony`` the septal vector reverses, the main vector splits in two
  (septum then free wall, a bifid R as in LBBB), the QRS widens (≈ 90 ms at 0, ≈ 150 ms at 1) and the ST-T
  becomes discordant;
* ST: a small plateau, plus an injury current towards the infarct (ST elevation in the leads facing it);
* T: repolarization (concordant with the QRS in a normal heart); an infarct adds a vector away from the scar
  (T inversion) and removes the scar's early QRS forces (Q waves).

The dipole is rotated to the body with ``heart_to_lps`` (columns = u, v, w in LPS), converted to Frank axes
(+X left, +Y inferior, +Z posterior; from LPS: X = x, Y = -z, Z = y) and projected with the Dower matrix on
I, II, V1-V6. III, aVR, aVL and aVF are derived from I and II, so Einthoven's law holds exactly (also with
noise, which is added to the independent leads only).

The component directions are written in Frank axes for :func:`reference_heart_to_lps` (a typical adult heart)
and stored in the heart frame, so a phantom heart that is rotated differently (vertical, horizontal, ...) gives
the matching change of axis and precordial pattern. With u, v, w as defined above an anatomically normal heart
has a left-handed frame (u × v points to the apex, det = −1); either handedness is accepted, but a frame that
flips one axis mirrors the ECG.

How the ECG depends on the heart (each relation is a function below, with its source)
-------------------------------------------------------------------------------------
* **Heart rate -> cycle**: the R peak (largest QRS deflection of the noise-free lead II) of beat k is at t = k·RR
  exactly, RR = 60000/HR ms; the R wave is end-diastole, the cine's frame 0, and frame j is at j·RR/frames.
* **Heart rate -> QT** (:func:`qt_interval_ms`): QT = 521 − 2.0·HR ms (men), 511 − 1.8·HR ms (women), the
  regression of healthy adults that also gives the phantom's end-systole (QS2; Weissler, Chest 1981;80:613,
  PHYSIOLOGY.md §4). It is a linear (Hodges-type) rate dependence: Hodges' QTc = QT + 1.75·(HR − 60)
  (Hodges, JACC 1983;1:694) stays within ≈ 20 ms from 50 to 120 bpm, whereas Bazett's QT/√RR over-corrects at
  high rates. Dyssynchrony lengthens QT by its QRS widening (the JT interval is kept).
* **Dyssynchrony -> QRS duration** (:func:`qrs_duration_ms`): the septal vector reverses and the LV free wall is
  activated late through the septum (left bundle branch block), so the QRS widens from ≈ 90 ms (normal 85 ± 8,
  70-104 ms, Rautaharju, J Electrocardiol 2013) to ≈ 150 ms at dyssynchrony 1 (LBBB ≥ 120 ms, AHA/ACCF/HRS 2009;
  Strauss, Am J Cardiol 2011: ≥ 140 ms men, ≥ 130 ms women), ≥ 120 ms from dyssynchrony ≈ 0.5.
* **LV size -> QRS duration** (:func:`activation_scale`): at a given conduction velocity the activation wavefront
  needs longer to cross a larger ventricle, so every QRS time (onset to each force's peak, and its spread) scales
  with the LV's linear size, (LVEDV / 140 mL)^(1/3): ≈ 89 ms for a 135 mL (mean female) LV, ≈ 94 ms for a 160 mL
  (mean male) LV (Hudsmith, JCMR 2005). QRS duration grows with LV end-diastolic volume and mass in patients
  (Stewart, Heart 2011;97:1766), and the larger male LV is why men's QRS is ≈ 8-10 ms longer and why the LBBB
  threshold is 10 ms higher in men (Strauss, Am J Cardiol 2011;107:927). With dyssynchrony the late free-wall
  activation scales the same way.
* **LV mass -> QRS voltage** (:func:`qrs_voltage_scale`): every QRS force scales with 0.4 + 0.6·M/100 g, so the
  Sokolow-Lyon voltage SV1 + RV5/6 (Sokolow & Lyon, Am Heart J 1949;37:161) and the Cornell voltage RaVL + SV3
  (Casale, Circulation 1987;75:565) grow with the mass and the Sokolow-Lyon criterion of LV hypertrophy
  (≥ 3.5 mV) is reached at ≈ 190 g (LVH by cardiac MR); a normal 100 g heart has lead II R ≈ 0.9 mV and
  Sokolow-Lyon ≈ 2.4 mV, a small 50 g heart still ≥ 0.5 mV in lead II (typical adult R 0.5-2 mV).
* **T wave** scales with the QRS voltage (0.3 + 0.7·scale), lead II T ≈ 0.25·R (T/R 0.1-0.35 in normal adults).
* **Infarct -> Q waves and ST-T** (:func:`infarct_forces`): the scar's depolarization forces are lost, so the
  early QRS vector points away from it: pathological Q waves (≥ 40 ms or ≥ 25 % of R, ESC athlete criteria /
  4th UDMI, Thygesen JACC 2018;72:2231) in the leads facing the territory (anterior θ ≈ 90°: V1-V4; lateral
  θ ≈ 0°: I, aVL, V5-V6; inferior θ ≈ 270°: II, III, aVF) and taller R waves in the opposite leads; an injury
  current gives ST elevation in the facing leads (reciprocal depression opposite) and repolarization turns away
  from the scar (T inversion). Q, ST and T scale with the severity and (as √) with the circumferential extent.
* PR ≈ 160 ms at 60 bpm, shortening with the rate (PR 158 ± 34 ms, Rautaharju 2013).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import STANDARD_12_LEADS, Ecg
from ..ecg_tools import _run_around_peak
from ..errors import CardioGenInputError

__all__ = ["synthesize_ecg", "reference_heart_to_lps", "DOWER_MATRIX", "lps_to_frank", "qrs_voltage_scale",
           "activation_scale", "qt_interval_ms", "qrs_duration_ms", "infarct_forces"]

#: Dower matrix (Clin Cardiol 1980;3:87): rows I, II, V1..V6; columns Frank X, Y, Z.
DOWER_MATRIX = np.array(
    [
        [0.632, -0.235, 0.059],  # I
        [0.235, 1.066, -0.132],  # II
        [-0.515, 0.157, -0.917],  # V1
        [0.044, 0.164, -1.387],  # V2
        [0.882, 0.098, -1.277],  # V3
        [1.213, 0.127, -0.601],  # V4
        [1.125, 0.127, -0.086],  # V5
        [0.831, 0.076, 0.230],  # V6
    ]
)

#: LPS (x left, y posterior, z superior) -> Frank (X left, Y inferior, Z posterior).
LPS_TO_FRANK = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def lps_to_frank(vectors_lps: np.ndarray) -> np.ndarray:
    """Convert ``(3, ...)`` LPS vectors to Frank ``(X, Y, Z)`` (left, inferior, posterior)."""
    return np.tensordot(LPS_TO_FRANK, np.asarray(vectors_lps, dtype=float), axes=1)


def _unit(*xyz: float) -> np.ndarray:
    vec = np.asarray(xyz, dtype=float)
    return vec / np.linalg.norm(vec)


def reference_heart_to_lps() -> np.ndarray:
    """A typical adult heart orientation: 3x3 matrix whose columns are u (lateral), v (anterior), w (apex->base).

    The apex points left, anterior and inferior (about 45° left of the sagittal plane and 35° below the
    horizontal); the anterior wall faces anterior-superior, the inferior wall faces the diaphragm, the lateral
    wall faces left-posterior. Used by the tests and as a sensible default for callers without a phantom.
    """
    from .anatomy import heart_to_lps

    return heart_to_lps()


# ---- dipole directions -------------------------------------------------------------------------------------
# Written in Frank axes (X left, Y inferior, Z posterior) for the reference orientation and stored in the heart
# frame (u lateral, v anterior, w apex->base), so they turn with the phantom's heart.


def _heart_dir(frank_x: float, frank_y: float, frank_z: float) -> np.ndarray:
    return reference_heart_to_lps().T @ LPS_TO_FRANK.T @ _unit(frank_x, frank_y, frank_z)


_DIR_P = _heart_dir(0.5, 0.8, 0.1)  # atria: right-superior -> left-inferior (P axis ≈ 60°)
_DIR_SEPTAL = _heart_dir(-0.7, -0.2, -0.65)  # septum left -> right, anterior: q in I, V5-V6, r in V1
_DIR_APICAL = _heart_dir(0.5, 0.5, -0.7)  # early apical/anterior forces: R progression V2-V4
_DIR_MAIN = _heart_dir(0.75, 0.4, 0.55)  # LV free wall: left, inferior, posterior (QRS axis ≈ 50°)
_DIR_TERMINAL = _heart_dir(-0.45, -0.25, 0.85)  # posterobasal: s in II, V5-V6
_DIR_T = _heart_dir(0.65, 0.6, -0.15)  # repolarization, concordant with the QRS
# Left bundle branch block: RV -> septum right to left -> LV free wall.
_DIR_SEPTAL_LBBB = _heart_dir(0.65, 0.3, 0.6)  # initial forces already leftward: no q in I, V6; QS in V1
_DIR_R1_LBBB = _heart_dir(0.65, 0.35, 0.65)  # transseptal
_DIR_R2_LBBB = _heart_dir(0.7, 0.0, 0.75)  # late LV free wall: left-posterior

_APICAL_TILT = 0.35  # outward normal of the LV cone tilts towards the apex
#: T-wave dipole (mV) of a normal 100 g heart: lead II T ≈ 0.25 of its R (T/R 0.1-0.35 in normal adults).
T_AMPLITUDE_MV = 0.23


@dataclass(frozen=True)
class _Component:
    """One dipole component: ``shape(s) * vector`` with s = ms since QRS onset."""

    kind: str  # "gauss", "agauss" (asymmetric Gaussian) or "plateau" (smooth box)
    center: float  # ms (gauss/agauss), start of the box (plateau)
    width1: float  # sigma (gauss), left sigma (agauss), rise time (plateau)
    width2: float  # unused (gauss), right sigma (agauss), end of the box (plateau)
    width3: float  # fall time (plateau)
    vector: np.ndarray  # (3,) heart frame, mV

    def shape(self, s: np.ndarray) -> np.ndarray:
        if self.kind == "gauss":
            return np.exp(-0.5 * ((s - self.center) / self.width1) ** 2)
        if self.kind == "agauss":
            sigma = np.where(s < self.center, self.width1, self.width2)
            return np.exp(-0.5 * ((s - self.center) / sigma) ** 2)
        # plateau: product of two logistic edges
        rise = 1.0 / (1.0 + np.exp(-np.clip((s - self.center) / self.width1, -60, 60)))
        fall = 1.0 / (1.0 + np.exp(-np.clip((self.width2 - s) / self.width3, -60, 60)))
        return rise * fall


@dataclass(frozen=True)
class _BeatModel:
    components: tuple[_Component, ...]
    p_onset: float  # ms since QRS onset (negative)
    qrs_offset: float
    t_offset: float
    qt_ms: float
    pr_ms: float

    def dipole(self, s: np.ndarray) -> np.ndarray:
        """``(3, len(s))`` heart-frame dipole (mV) at ms ``s`` since QRS onset."""
        out = np.zeros((3,) + np.shape(s))
        for comp in self.components:
            out += comp.vector[:, None] * comp.shape(s)[None]
        return out


def _check_inputs(heart_rate_bpm: float, duration_s: float, sampling_rate: float, lv_mass_g: float,
                  dyssynchrony: float, infarct_center_deg: float | None, infarct_width_deg: float,
                  infarct_severity: float, heart_to_lps: np.ndarray, sex: str, rng: object,
                  noise_mv: float, lv_edv_ml: float) -> tuple[np.ndarray, str]:
    def number(value: object, name: str, lo: float, hi: float, lo_open: bool = False) -> float:
        try:
            val = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise CardioGenInputError(f"{name} must be a number", source="synthesize_ecg", got=value) from exc
        bad = not np.isfinite(val) or val > hi or (val <= lo if lo_open else val < lo)
        if bad:
            bounds = f"{'(' if lo_open else '['}{lo}, {hi}]"
            raise CardioGenInputError(f"{name} out of range", source="synthesize_ecg", expected=bounds, got=value)
        return val

    number(heart_rate_bpm, "heart_rate_bpm", 20.0, 250.0)
    number(duration_s, "duration_s", 0.0, 3600.0, lo_open=True)
    number(sampling_rate, "sampling_rate", 50.0, 20000.0)
    number(lv_mass_g, "lv_mass_g", 10.0, 1000.0)
    number(lv_edv_ml, "lv_edv_ml", 20.0, 1000.0)
    number(dyssynchrony, "dyssynchrony", 0.0, 1.0)
    number(infarct_width_deg, "infarct_width_deg", 0.0, 360.0)
    number(infarct_severity, "infarct_severity", 0.0, 1.0)
    number(noise_mv, "noise_mv", 0.0, 10.0)
    if infarct_center_deg is not None:
        number(infarct_center_deg, "infarct_center_deg", -1e6, 1e6)
    if duration_s * sampling_rate < 2:
        raise CardioGenInputError("ECG would have fewer than 2 samples", source="synthesize_ecg",
                                  got=f"{duration_s} s at {sampling_rate} Hz")
    try:
        rot = np.asarray(heart_to_lps, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError("heart_to_lps must be a 3x3 matrix", source="synthesize_ecg") from exc
    if rot.shape != (3, 3) or not np.all(np.isfinite(rot)):
        raise CardioGenInputError("heart_to_lps must be a finite 3x3 matrix (columns u, v, w in LPS)",
                                  source="synthesize_ecg", got=f"shape {rot.shape}")
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3):
        raise CardioGenInputError("heart_to_lps must be orthonormal (columns u, v, w of unit length)",
                                  source="synthesize_ecg", got=np.round(rot, 4).tolist())
    sex_key = str(sex).strip().lower()
    if sex_key in ("m", "male", "man"):
        sex_key = "M"
    elif sex_key in ("f", "female", "woman"):
        sex_key = "F"
    else:
        raise CardioGenInputError("sex must be 'M' or 'F'", source="synthesize_ecg", got=sex)
    if not isinstance(rng, np.random.Generator):
        raise CardioGenInputError("rng must be a numpy.random.Generator", source="synthesize_ecg",
                                  got=type(rng).__name__)
    return rot, sex_key


def _infarct_normal(center_deg: float) -> np.ndarray:
    theta = np.deg2rad(center_deg)
    return _unit(np.cos(theta), np.sin(theta), -_APICAL_TILT)


def _qrs_extent(components: list[_Component]) -> tuple[float, float]:
    """QRS onset and offset (ms) of the dipole components: where the dipole's spatial velocity exceeds 10 % of
    its maximum (the rule of :func:`cardiogen.ecg_tools.measure_qrs`, applied to the noise-free dipole)."""
    step = 0.1
    s = np.arange(-150.0, 300.0, step)
    dip = np.zeros((3, s.size))
    for comp in components:
        dip += comp.vector[:, None] * comp.shape(s)[None]
    velocity = np.linalg.norm(np.gradient(dip, step, axis=1), axis=0)
    start, end = _run_around_peak(velocity, 0.1, int(round(30.0 / step)))
    return float(s[start]), float(s[end])


def _shifted(comp: _Component, shift: float) -> _Component:
    return _Component(comp.kind, comp.center + shift, comp.width1, comp.width2, comp.width3, comp.vector)


def _gauss(center: float, sigma: float, amp: float, direction: np.ndarray) -> _Component:
    return _Component("gauss", center, sigma, 0.0, 0.0, amp * direction)


#: LV mass (g) at which the QRS forces have their reference size (a normal adult heart by cardiac MR).
REFERENCE_LV_MASS_G = 100.0
#: LV end-diastolic volume (mL) at which the QRS times have their reference length (between the mean female,
#: 135 mL, and male, 160 mL, LV of Hudsmith, JCMR 2005;7:775).
REFERENCE_LVEDV_ML = 140.0


def activation_scale(lv_edv_ml: float) -> float:
    """Factor on every QRS time: (LVEDV / 140 mL)^(1/3), the LV's linear size against the reference heart.

    Activation crosses the ventricle at a roughly fixed conduction velocity, so its duration grows with the path
    length, the cube root of the volume (0.87 at 90 mL, 1.12 at 200 mL). QRS duration grows with LV volume and
    mass (Stewart, Heart 2011;97:1766); the sex difference of the QRS (≈ 8-10 ms) follows the larger male LV
    (Strauss, Am J Cardiol 2011;107:927).
    """
    return (float(lv_edv_ml) / REFERENCE_LVEDV_ML) ** (1.0 / 3.0)


def qrs_voltage_scale(lv_mass_g: float) -> float:
    """Factor on every QRS force: 0.4 + 0.6·M / 100 g (1 for a normal 100 g LV).

    The QRS voltage grows with the LV mass (the basis of the Sokolow-Lyon, Am Heart J 1949;37:161, and Cornell,
    Casale, Circulation 1987;75:565, voltage criteria of LV hypertrophy). The intercept stands for the forces that
    do not grow with the LV (RV, atrioventricular conduction, body habitus), so small hearts keep a lead II R of
    at least 0.5 mV; the slope puts the Sokolow-Lyon voltage at its 3.5 mV criterion at ≈ 190 g, an LV mass that
    cardiac MR calls hypertrophied in either sex (≈ 95 g/m² at 2 m²) [GK calibration].
    """
    return 0.4 + 0.6 * float(lv_mass_g) / REFERENCE_LV_MASS_G


def qt_interval_ms(heart_rate_bpm: float, sex: str) -> float:
    """QT (ms) of a normal QRS at ``heart_rate_bpm``: 521 − 2.0·HR (men), 511 − 1.8·HR (women), ≥ 200 ms.

    Weissler's regression of healthy adults (Chest 1981;80:613; PHYSIOLOGY.md §4), the same source as the
    phantom's end-systole (:func:`cardiogen.phantom.timing.es_time_ms`), so T ends ≈ 20 ms before the second
    heart sound at every rate. Its slope is close to Hodges' (QTc = QT + 1.75·(HR − 60), JACC 1983;1:694), so
    Hodges' QTc is nearly constant (≈ 404 ms at 50 bpm, ≈ 386 ms at 120 bpm, men).
    """
    qt = (521.0 - 2.0 * heart_rate_bpm) if sex == "M" else (511.0 - 1.8 * heart_rate_bpm)
    return max(qt, 200.0)


def _qrs_components(volt: float, d: float) -> list[_Component]:
    """QRS forces (ms, not yet aligned to the onset) for voltage scale ``volt`` and dyssynchrony ``d``.

    Normal sequence (Durrer, Circulation 1970;41:899): septum left -> right (q in I, V5-V6, r in V1), apical and
    anterior forces (R progression V2-V4), the LV free wall (the main R, ≈ 45 ms), posterobasal forces (s).
    Dyssynchrony = left bundle branch block: the septum is activated right -> left (no septal q in I, V5-V6; QS
    in V1), and the free wall ≈ 52·d ms later through the septum, which splits the R (notch) and widens the QRS.
    """
    qrs: list[_Component] = []
    sep_sigma = 6.0 + 4.0 * d
    sep_dir = _unit(*((1.0 - d) * _DIR_SEPTAL + d * _DIR_SEPTAL_LBBB))
    qrs.append(_gauss(2.0 * sep_sigma, sep_sigma, 0.22 * volt, sep_dir))
    if d < 1:
        qrs.append(_gauss(28.0, 9.0, 0.6 * volt * (1.0 - d), _DIR_APICAL))
    main_sigma = 11.0 + 5.0 * d
    c1 = 45.0 + 2.0 * d
    c2 = 45.0 + 52.0 * d
    amp_main = 1.45 * volt * (1.0 + 0.35 * d)
    dir1 = _unit(*((1.0 - d) * _DIR_MAIN + d * _DIR_R1_LBBB))
    dir2 = _unit(*((1.0 - d) * _DIR_MAIN + d * _DIR_R2_LBBB))
    qrs.append(_gauss(c1, main_sigma, amp_main * (1.0 - 0.45 * d), dir1))
    if d > 0:  # LBBB: the late free-wall activation splits off (bifid R)
        qrs.append(_gauss(c2, main_sigma, amp_main * 0.45 * d, dir2))
    if d < 1:
        qrs.append(_gauss(max(66.0, c2 + 24.0), 9.0, 0.5 * volt * (1.0 - d), _DIR_TERMINAL))
    return qrs


def _activated(comps: list[_Component], lv_edv_ml: float) -> list[_Component]:
    """QRS components with their times (peaks) and spreads (sigmas) × :func:`activation_scale` of ``lv_edv_ml``: a
    larger LV takes longer to activate."""
    s = activation_scale(lv_edv_ml)
    return [_Component(c.kind, c.center * s, c.width1 * s, c.width2 * s, c.width3 * s, c.vector) for c in comps]


def qrs_duration_ms(dyssynchrony: float, lv_edv_ml: float = REFERENCE_LVEDV_ML) -> float:
    """QRS duration (ms) of the model without infarct: ≈ 90 ms at dyssynchrony 0, ≈ 150 ms at 1, for the
    140 mL reference LV; × :func:`activation_scale` for another LV end-diastolic volume.

    Measured on the noise-free dipole like :func:`cardiogen.ecg_tools.measure_qrs` measures a recording
    (spatial velocity above 10 % of its peak). Normal 85 ± 8 ms (70-104, Rautaharju, J Electrocardiol 2013);
    LBBB ≥ 120 ms (AHA/ACCF/HRS 2009), ≥ 140 ms men / 130 ms women (Strauss, Am J Cardiol 2011;107:927).
    """
    onset, offset = _qrs_extent(_activated(_qrs_components(1.0, float(dyssynchrony)), lv_edv_ml))  # not on volt
    return offset - onset


def infarct_forces(center_deg: float, width_deg: float, severity: float, volt: float) -> dict[str, object]:
    """Dipole changes of a transmural infarct at circumferential angle ``center_deg`` (heart frame).

    * ``q``: the scar no longer depolarizes, so its early forces (≈ 10-40 ms after QRS onset, when the
      subendocardium-to-epicardium activation of the LV walls runs) are subtracted: the initial QRS vector points
      away from the scar, giving Q waves (≥ 40 ms or ≥ 25 % of R; ESC / 4th UDMI) in the leads facing it and a
      taller R opposite (e.g. V1-V2 in a lateral/posterior infarct). Scales with the QRS voltage.
    * ``st``: injury current towards the scar, ST elevation from the J point into the T wave in the facing leads,
      reciprocal ST depression opposite (4th UDMI: ≥ 0.1 mV in 2 contiguous leads).
    * ``t``: repolarization turns away from the scar: T inversion in the facing leads.

    All three scale with ``severity`` and with √(width / 90°) (bounded to 0.5-1.7).
    """
    normal = _infarct_normal(float(center_deg))
    extent = float(np.clip(width_deg / 90.0, 0.25, 3.0)) ** 0.5
    sev = float(severity)
    return {
        "normal": normal,
        "q": _gauss(24.0, 12.0, -0.85 * sev * extent * volt, normal),
        "st_mv": 0.42 * sev * extent,
        "t_mv": -0.6 * sev * extent,
    }


def _beat_model(heart_rate_bpm: float, lv_mass_g: float, dyssynchrony: float, infarct_center_deg: float | None,
                infarct_width_deg: float, infarct_severity: float, sex: str,
                lv_edv_ml: float = REFERENCE_LVEDV_ML) -> _BeatModel:
    """Dipole components of one beat, times in ms since QRS onset."""
    hr = heart_rate_bpm
    d = dyssynchrony
    rr = 60000.0 / hr
    volt = qrs_voltage_scale(lv_mass_g)

    infarct = None
    if infarct_center_deg is not None and infarct_severity > 0 and infarct_width_deg > 0:
        infarct = infarct_forces(float(infarct_center_deg), infarct_width_deg, infarct_severity, volt)

    # ---- QRS (designed times; shifted below so that the measured onset is 0) -----------------------------
    qrs = _qrs_components(volt, d)
    if infarct is not None:
        qrs.append(infarct["q"])
    qrs = _activated(qrs, lv_edv_ml)
    onset, offset = _qrs_extent(qrs)
    comps = [_shifted(c, -onset) for c in qrs]
    qrs_offset = offset - onset

    # ---- intervals --------------------------------------------------------------------------------------------
    # the QRS widening of dyssynchrony and of a large LV (narrowing of a small one) changes QT, not JT
    widening = qrs_duration_ms(d, lv_edv_ml) - qrs_duration_ms(0.0)
    qt = qt_interval_ms(hr, sex) + widening
    qt = min(qt, 0.9 * rr)
    pr = float(np.clip(160.0 - 0.4 * (hr - 60.0), 110.0, 200.0))
    pr = min(pr, 0.35 * rr)

    # ---- P wave -----------------------------------------------------------------------------------------------
    p_sigma = min(20.0, pr / 7.0)
    p_onset = -pr
    comps.append(_gauss(p_onset + 2.5 * p_sigma, p_sigma, 0.16, _DIR_P))

    # ---- ST-T -------------------------------------------------------------------------------------------------
    t_offset = qt
    t_sigma_right = 0.1 * qt
    t_sigma_left = 0.16 * qt
    t_peak = t_offset - 2.0 * t_sigma_right  # tangent of the steepest downslope meets the baseline at T end
    t_dir = _unit(*((1.0 - d) * _DIR_T - d * 1.2 * _DIR_R2_LBBB))  # LBBB: discordant T
    t_amp = T_AMPLITUDE_MV * (0.3 + 0.7 * volt) * (1.0 + 0.4 * d)
    comps.append(_Component("agauss", t_peak, t_sigma_left, t_sigma_right, 0.0, t_amp * t_dir))
    # small normal ST plateau (concordant with T); discordant ST shift in LBBB
    st_vec = 0.04 * _DIR_T - 0.18 * d * volt * _DIR_R2_LBBB
    comps.append(_Component("plateau", qrs_offset - 10.0, 8.0, t_peak, 0.6 * t_sigma_right, st_vec))
    if infarct is not None:
        normal = infarct["normal"]
        # injury current: ST elevation towards the infarct, from the J point into the T wave
        comps.append(_Component("plateau", qrs_offset - 10.0, 6.0, t_peak - 0.5 * t_sigma_left, 0.4 * t_sigma_left,
                                infarct["st_mv"] * normal))
        # repolarization turns away from the scar: (terminal) T inversion
        comps.append(_Component("agauss", t_peak, t_sigma_left, t_sigma_right, 0.0, infarct["t_mv"] * normal))

    return _BeatModel(tuple(comps), p_onset, qrs_offset, t_offset, qt, pr)


def _heart_to_leads(rot: np.ndarray) -> np.ndarray:
    """``(8, 3)`` matrix mapping a heart-frame dipole to the independent leads I, II, V1..V6."""
    return DOWER_MATRIX @ LPS_TO_FRANK @ rot


def _r_peak_offset(model: _BeatModel, lead_map: np.ndarray) -> float:
    """Time (ms since QRS onset) of the largest QRS deflection of the noise-free lead II."""
    s = np.arange(-5.0, model.qrs_offset + 10.0, 0.05)
    lead2 = lead_map[1] @ model.dipole(s)
    i = int(np.argmax(np.abs(lead2)))
    if 0 < i < s.size - 1:  # parabolic refinement
        y0, y1, y2 = np.abs(lead2[i - 1 : i + 2])
        denom = y0 - 2 * y1 + y2
        if denom != 0:
            return float(s[i] + 0.5 * (y0 - y2) / denom * 0.05)
    return float(s[i])


def _derive_limb_leads(independent: np.ndarray) -> np.ndarray:
    """``(8, n)`` I, II, V1..V6 -> ``(12, n)`` in :data:`STANDARD_12_LEADS` order (Einthoven exact)."""
    lead_i, lead_ii = independent[0], independent[1]
    derived = np.stack([lead_i, lead_ii, lead_ii - lead_i, -(lead_i + lead_ii) / 2.0, lead_i - lead_ii / 2.0,
                        lead_ii - lead_i / 2.0])
    return np.concatenate([derived, independent[2:]], axis=0)


def synthesize_ecg(*, heart_rate_bpm: float, duration_s: float, sampling_rate: float, lv_mass_g: float,
                   dyssynchrony: float, infarct_center_deg: float | None, infarct_width_deg: float,
                   infarct_severity: float, heart_to_lps: np.ndarray, sex: str, rng: np.random.Generator,
                   noise_mv: float = 0.01, lv_edv_ml: float = REFERENCE_LVEDV_ML) -> Ecg:
    """A synthetic 12-lead ECG synchronized with (and shaped by) the phantom heart.

    Args:
        heart_rate_bpm: constant heart rate (20-250 bpm); R of beat k at t = k·60/HR s exactly.
        duration_s: length of the recording (s, ≤ 3600).
        sampling_rate: Hz (≥ 50).
        lv_mass_g: LV mass (g); every QRS force scales with :func:`qrs_voltage_scale` (Sokolow-Lyon ≈ 2.4 mV at
            100 g, ≈ 3.5 mV, the LVH criterion, at ≈ 190 g).
        dyssynchrony: 0 (normal, QRS ≈ 90 ms) .. 1 (LBBB-like, QRS ≈ 150 ms, bifid R in I, aVL, V5-V6).
        infarct_center_deg: circumferential angle θ of the infarct in the heart frame (0 lateral, 90 anterior,
            180 septal, 270 inferior), or None for no infarct.
        infarct_width_deg: circumferential extent of the infarct (deg); larger infarcts give larger changes.
        infarct_severity: 0..1 scales the ST elevation, Q waves and T inversion.
        heart_to_lps: 3x3 orthonormal matrix (either handedness), columns = heart axes u (lateral),
            v (anterior), w (apex->base) in LPS (see :func:`reference_heart_to_lps` for a typical one).
        sex: "M" or "F" (also "male"/"female"); chooses the QT formula.
        rng: random generator for baseline wander and noise (seeded -> deterministic).
        noise_mv: standard deviation of white Gaussian noise (mV); baseline wander is 3·noise_mv. 0 gives a
            clean signal.
        lv_edv_ml: LV end-diastolic volume (mL, 20-1000); every QRS time scales with :func:`activation_scale`
            (the 140 mL reference heart by default).

    Returns:
        :class:`~cardiogen.data.Ecg` with signals ``(12, n)`` mV in :data:`~cardiogen.data.STANDARD_12_LEADS`
        order, n = round(duration_s·sampling_rate), ``synthetic=True``, fiducials "R", "P_onset", "QRS_onset",
        "QRS_offset", "T_offset" (sample indices inside the record; an entry whose time falls outside is
        dropped, so arrays may differ in length), and metadata with the model's intervals.
    """
    rot, sex_key = _check_inputs(heart_rate_bpm, duration_s, sampling_rate, lv_mass_g, dyssynchrony,
                                 infarct_center_deg, infarct_width_deg, infarct_severity, heart_to_lps, sex, rng,
                                 noise_mv, lv_edv_ml)
    fs = float(sampling_rate)
    hr = float(heart_rate_bpm)
    rr = 60000.0 / hr
    n = int(round(float(duration_s) * fs))
    model = _beat_model(hr, float(lv_mass_g), float(dyssynchrony), infarct_center_deg, float(infarct_width_deg),
                        float(infarct_severity), sex_key, float(lv_edv_ml))
    lead_map = _heart_to_leads(rot)
    r_offset = _r_peak_offset(model, lead_map)  # ms from QRS onset to R

    t_ms = np.arange(n) * 1000.0 / fs
    beat0 = np.floor(t_ms / rr).astype(np.int64)
    span_before = r_offset - model.p_onset + 100.0  # template support before R (ms)
    span_after = model.t_offset - r_offset + 250.0
    k_lo = -int(np.ceil(span_after / rr)) - 1
    k_hi = int(np.ceil(span_before / rr)) + 1
    dipole = np.zeros((3, n))
    for j in range(k_lo, k_hi + 1):
        s = t_ms - (beat0 + j) * rr + r_offset  # ms since the QRS onset of beat (beat0 + j)
        dipole += model.dipole(s)
    independent = lead_map @ dipole  # (8, n) noise-free I, II, V1..V6

    if noise_mv > 0:
        seconds = t_ms / 1000.0
        for lead in range(independent.shape[0]):
            freqs = rng.uniform(0.12, 0.45, size=2)
            phases = rng.uniform(0, 2 * np.pi, size=2)
            amps = rng.uniform(0.5, 1.0, size=2) * 3.0 * noise_mv / np.sqrt(2)
            for f, ph, a in zip(freqs, phases, amps):
                independent[lead] += a * np.sin(2 * np.pi * f * seconds + ph)
        independent += rng.normal(0.0, noise_mv, size=independent.shape)
    signals = _derive_limb_leads(independent)

    n_beats = int(np.floor((n - 1) / fs * 1000.0 / rr)) + 2
    r_times = np.arange(-1, n_beats + 1) * rr

    def to_samples(times_ms: np.ndarray) -> np.ndarray:
        idx = np.round(times_ms * fs / 1000.0).astype(np.int64)
        return idx[(idx >= 0) & (idx < n)]

    onset_times = r_times - r_offset
    fiducials = {
        "R": to_samples(r_times),
        "P_onset": to_samples(onset_times + model.p_onset),
        "QRS_onset": to_samples(onset_times),
        "QRS_offset": to_samples(onset_times + model.qrs_offset),
        "T_offset": to_samples(onset_times + model.t_offset),
    }
    clean = _derive_limb_leads(lead_map @ model.dipole(np.arange(-300.0, model.t_offset + 100.0, 1.0)))
    beat_s = np.arange(-300.0, model.t_offset + 100.0, 1.0)
    in_qrs = (beat_s >= 0) & (beat_s <= model.qrs_offset)
    names = list(STANDARD_12_LEADS)
    sv1 = -min(0.0, float(clean[names.index("V1"), in_qrs].min()))
    rv56 = max(float(clean[names.index("V5"), in_qrs].max()), float(clean[names.index("V6"), in_qrs].max()))
    cornell = max(0.0, float(clean[names.index("aVL"), in_qrs].max())) - min(0.0, float(clean[names.index("V3"),
                                                                                             in_qrs].min()))
    qrs_ms = float(model.qrs_offset)
    metadata = {
        "source": "cardiogen.phantom",
        "heart_rate_bpm": hr,
        "rr_ms": rr,
        "pr_ms": float(model.pr_ms),
        "qrs_duration_ms": qrs_ms,
        "qt_ms": float(model.qt_ms),
        "qtc_bazett_ms": float(model.qt_ms / np.sqrt(rr / 1000.0)),
        "qtc_hodges_ms": float(model.qt_ms + 1.75 * (hr - 60.0)),
        "r_after_qrs_onset_ms": r_offset,
        "sokolow_lyon_mv": sv1 + rv56,
        "cornell_mv": cornell,
        "qrs_voltage_scale": qrs_voltage_scale(float(lv_mass_g)),
        "lv_mass_g": float(lv_mass_g),
        "lv_edv_ml": float(lv_edv_ml),
        "activation_scale": activation_scale(float(lv_edv_ml)),
        "dyssynchrony": float(dyssynchrony),
        "infarct_center_deg": None if infarct_center_deg is None else float(infarct_center_deg),
        "infarct_width_deg": float(infarct_width_deg),
        "infarct_severity": float(infarct_severity),
        "sex": sex_key,
        "noise_mv": float(noise_mv),
        "baseline_wander_mv": 3.0 * float(noise_mv),
        "lead_model": "heart dipole -> Frank XYZ -> Dower matrix; III, aVR, aVL, aVF from I and II",
        "units": "mV",
    }
    return Ecg(signals=signals, sampling_rate=fs, lead_names=STANDARD_12_LEADS, fiducials=fiducials,
               start_time_ms=0.0, synthetic=True, metadata=metadata)
