"""Tissues, their MR/CT properties (PHYSIOLOGY.md §5, §6), the heart's orientation and the static body around it.

Tissue ids (uint8) are shared by every renderer. Ids 1-4 are the cardiogen standard labels
(:data:`cardiogen.data.STANDARD_LABELS`); the others exist only inside the phantom.
"""
from __future__ import annotations

import numpy as np

from .config import _number

# ---- tissue ids --------------------------------------------------------------------------------------------
AIR = 0
LV_BLOOD = 1
LV_MYO = 2
RV_BLOOD = 3
RV_MYO = 4
EPI_FAT = 5  # epicardial fat, moves with the heart
LA_BLOOD = 6  # atria above the (moving) base plane
RA_BLOOD = 7
LUNG = 8
FAT = 9  # subcutaneous and mediastinal fat
MUSCLE = 10  # chest wall and paraspinal muscle
BONE = 11  # vertebral body
AORTA = 12  # descending aorta (blood)
LIVER = 13  # below the diaphragm
ATRIAL_WALL = 14  # atrial myocardium (and the interatrial septum), moves with the heart
N_TISSUES = 15
TISSUE_NAMES = ("air", "LV blood pool", "LV myocardium", "RV blood pool", "RV myocardium", "epicardial fat",
                "left atrium", "right atrium", "lung", "fat", "muscle", "bone", "aorta", "liver", "atrial wall")
MOVING_TISSUES = (LV_BLOOD, LV_MYO, RV_BLOOD, RV_MYO, EPI_FAT, LA_BLOOD, RA_BLOOD, ATRIAL_WALL)  #: carried by the heart
BLOOD_TISSUES = (LV_BLOOD, RV_BLOOD, LA_BLOOD, RA_BLOOD, AORTA)
HEART_TISSUES = (LV_BLOOD, LV_MYO, RV_BLOOD, RV_MYO)
SOLID_BODY_TISSUES = (MUSCLE, BONE, AORTA, LIVER)  # static organs the ED heart must not overlap (see SampleSet)


def _table(values: dict[int, float], default: float = 0.0) -> np.ndarray:
    out = np.full(N_TISSUES, default, dtype=np.float64)
    for key, val in values.items():
        out[key] = val
    return out


# ---- MR at 1.5 T (PHYSIOLOGY §5) ---------------------------------------------------------------------------
# T1 / T2 (ms) and proton density: myocardium T1 950 (native MOLLI), T2 50 (between 40 ‡ and the T2-map 55.8);
# blood 1441 / 254 (arterial); fat 312 / 117; liver 576 / 46; muscle 1008 / 44; bone 200 / 0.5; lung no signal.
_MR = {
    LV_MYO: (950.0, 50.0, 0.80), RV_MYO: (950.0, 50.0, 0.80), ATRIAL_WALL: (950.0, 50.0, 0.80),
    MUSCLE: (1008.0, 44.0, 0.80),
    LV_BLOOD: (1441.0, 254.0, 0.95), RV_BLOOD: (1441.0, 254.0, 0.95), LA_BLOOD: (1441.0, 254.0, 0.95),
    RA_BLOOD: (1441.0, 254.0, 0.95), AORTA: (1441.0, 254.0, 0.95),
    EPI_FAT: (312.0, 117.0, 0.70), FAT: (312.0, 117.0, 0.70), LIVER: (576.0, 46.0, 0.90), BONE: (200.0, 0.5, 0.12),
}
T1_MS = _table({k: v[0] for k, v in _MR.items()}, default=1000.0)
T2_MS = _table({k: v[1] for k, v in _MR.items()}, default=1.0)
PD = _table({k: v[2] for k, v in _MR.items()}, default=0.0)


def bssfp_signal(tr_ms: float = 3.0, te_ms: float = 1.5, flip_deg: float = 60.0) -> np.ndarray:
    """bSSFP steady-state signal per tissue (PHYSIOLOGY §5 formula), scaled so blood = 1000."""
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr_ms / T1_MS)
    e2 = np.exp(-tr_ms / T2_MS)
    s = PD * np.sin(a) * (1 - e1) * np.exp(-te_ms / T2_MS) / (1 - (e1 - e2) * np.cos(a) - e1 * e2)
    return 1000.0 * s / s[LV_BLOOD]


def spgr_signal(tr_ms: float = 5.0, flip_deg: float = 12.0) -> np.ndarray:
    """Spoiled gradient echo (tagging readout) signal per tissue, scaled so myocardium = 1000."""
    a = np.deg2rad(flip_deg)
    e1 = np.exp(-tr_ms / T1_MS)
    s = PD * np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1)
    return 1000.0 * s / s[LV_MYO]


#: DENSE magnitude per tissue (myocardium = 1000): blood suppressed by the stimulated-echo flow dephasing.
DENSE_MAGNITUDE = _table({LV_MYO: 1000.0, RV_MYO: 900.0, ATRIAL_WALL: 800.0, MUSCLE: 900.0, LIVER: 700.0,
                          EPI_FAT: 250.0, FAT: 250.0,
                          LV_BLOOD: 120.0, RV_BLOOD: 120.0, LA_BLOOD: 100.0, RA_BLOOD: 100.0, AORTA: 80.0,
                          BONE: 40.0})

# ---- CT (PHYSIOLOGY §6): contrast-enhanced (CTA) Hounsfield units ------------------------------------------
CT_HU = _table({AIR: -1000.0, LV_BLOOD: 400.0, LV_MYO: 90.0, RV_BLOOD: 300.0, RV_MYO: 85.0, EPI_FAT: -80.0,
                LA_BLOOD: 400.0, RA_BLOOD: 300.0, LUNG: -850.0, FAT: -90.0, MUSCLE: 50.0, BONE: 700.0,
                AORTA: 420.0, LIVER: 90.0, ATRIAL_WALL: 85.0})
CT_INFARCT_HU_DROP = 40.0  # hypo-enhancement of an infarcted sector (myocardium 90 -> 50 HU at severity 1)
CT_DEFAULT_CONTRAST_PHASE = 0.8  # the bolus timing of CT_HU


def ct_hu_table(contrast_phase: float = CT_DEFAULT_CONTRAST_PHASE) -> np.ndarray:
    """CT HU per tissue id for a bolus timing ``contrast_phase`` in [0, 1] (0 early, right heart brightest).

    The contrast passes the right heart first, then the left: left heart and aorta 200 + 250·c HU (aorta 20 HU
    more), right heart 460 − 200·c HU, enhanced myocardium 50 + 50·c (LV) and 45 + 50·c (RV) HU; unenhanced
    tissues as in :data:`CT_HU`. c = 0.8 gives :data:`CT_HU` exactly (aortic root 420 HU, PHYSIOLOGY §6: 423 ± 38);
    c = 0.35 an early scan (right heart 390, left 290 HU), c = 1 a late one (left 450, right 260 HU).
    """
    c = _number(contrast_phase, "contrast_phase", 0.0, 1.0, source="ct_hu_table")
    left, right = 200.0 + 250.0 * c, 460.0 - 200.0 * c
    out = CT_HU.copy()
    out[[LV_BLOOD, LA_BLOOD]] = left
    out[AORTA] = left + 20.0
    out[[RV_BLOOD, RA_BLOOD]] = right
    out[LV_MYO] = 50.0 + 50.0 * c
    out[RV_MYO] = 45.0 + 50.0 * c
    out[ATRIAL_WALL] = 45.0 + 50.0 * c
    return out


# ---- orientation -------------------------------------------------------------------------------------------
def heart_to_lps(azimuth_deg: float = 45.0, elevation_deg: float = 35.0) -> np.ndarray:
    """3x3 matrix whose columns are the heart axes u (lateral), v (anterior), w (apex -> base) in LPS.

    The apex points left, anterior and inferior: ``azimuth_deg`` left of the sagittal plane and ``elevation_deg``
    below the horizontal. The anterior wall faces anterior-superior, the inferior wall the diaphragm, the lateral
    wall left-posterior. (lateral, anterior, apex->base) is a left-handed triple in a right-handed body, so the
    matrix is orthonormal with determinant −1; its inverse is its transpose.
    """
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    apex_dir = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), -np.sin(el)])
    w = -apex_dir
    anterior_superior = np.array([0.0, -0.5, 1.0])
    v = anterior_superior - (anterior_superior @ w) * w
    v /= np.linalg.norm(v)
    u = np.cross(v, w)
    if u[0] < 0:  # lateral wall faces the patient's left
        u = -u
    return np.column_stack([u, v, w])


# ---- static body (LPS mm; body axis along z, heart placed by the case builder) ------------------------------
BODY_HALF_LR = 160.0  # body outline half-width (x)
BODY_HALF_AP = 115.0  # body outline half-depth (y)
BODY_CENTER_Y = 5.0
SUBCUT_FAT_MM = 10.0
CHEST_WALL_MM = 14.0
SPINE_CENTER = (0.0, 78.0)
SPINE_RADIUS = 22.0
AORTA_CENTER = (26.0, 48.0)
AORTA_RADIUS = 12.0
LV_MID_LPS = np.array([30.0, -10.0, 0.0])  # where the middle of the LV long axis sits in the body


def diaphragm_z(x: np.ndarray, apex_z: float) -> np.ndarray:
    """Height (LPS z, mm) of the diaphragm: just below the apex on the left, higher on the right."""
    return apex_z - 6.0 - 0.2 * (x - LV_MID_LPS[0] - 30.0)


def body_labels(x: np.ndarray, y: np.ndarray, z: np.ndarray, apex_z: float) -> np.ndarray:
    """Static tissue ids at LPS points (arrays of one shape): air, fat, muscle, lung, spine, aorta, liver."""
    rx, ry = BODY_HALF_LR, BODY_HALF_AP
    yc = y - BODY_CENTER_Y

    def inside(shrink: float) -> np.ndarray:
        return (x / (rx - shrink)) ** 2 + (yc / (ry - shrink)) ** 2 < 1.0

    lab = np.full(x.shape, AIR, dtype=np.uint8)
    lab[inside(0.0)] = FAT
    lab[inside(SUBCUT_FAT_MM)] = MUSCLE
    cavity = inside(SUBCUT_FAT_MM + CHEST_WALL_MM)
    lab[cavity] = LUNG
    paraspinal = cavity & (yc > ry - SUBCUT_FAT_MM - CHEST_WALL_MM - 40.0) & (np.abs(x) < 45.0)
    lab[paraspinal] = MUSCLE
    mediastinum = cavity & (np.abs(x - 5.0) < 18.0) & (y > 0.0)  # oesophagus and fat in front of the spine
    lab[mediastinum] = FAT
    lab[cavity & ~paraspinal & (z < diaphragm_z(x, apex_z))] = LIVER
    lab[cavity & ((x - AORTA_CENTER[0]) ** 2 + (y - AORTA_CENTER[1]) ** 2 < AORTA_RADIUS**2)] = AORTA
    lab[(x - SPINE_CENTER[0]) ** 2 + (y - SPINE_CENTER[1]) ** 2 < SPINE_RADIUS**2] = BONE
    return lab
