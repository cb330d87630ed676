"""CardioGen phantom: a seeded, analytic, beating biventricular heart rendered in every modality, with its truth.

One ground-truth motion (:class:`HeartModel`, closed-form forward and inverse) drives every modality: bSSFP cine,
SPAMM tagging, DENSE (wrapped phase = 2π·ke·displacement), 4D contrast CT (HU) and a synchronized 12-lead ECG
(:mod:`cardiogen.phantom.ecg`). The case returns the truth: Lagrangian displacement, Green-Lagrange strain, masks
per frame, exact and measured phenotypes. Demographics drive the phenotypes through a documented regression
(:mod:`cardiogen.phantom.demographics`).

Conventions
-----------
* **Heart frame** (u, v, w) in mm: w is the LV long axis from the epicardial apex (w = 0) to the base, +u lateral,
  −u septal (RV side), +v anterior, −v inferior. This triple is left-handed in the (right-handed) body, so
  :attr:`PhantomTruth.heart_to_lps` (columns u, v, w in LPS) is orthonormal with determinant −1; x_lps =
  heart_origin_lps + heart_to_lps @ x_heart and its inverse uses the transpose.
* **Circumferential angle** θ = atan2(v, u) in degrees: 0 = lateral, 90 = anterior, 180 = septal, 270 = inferior.
  Viewed from the apex (the usual short-axis display) θ grows anticlockwise. Infarct centres, the RV position
  (165°) and the ECG's infarct vector use this θ. Twist at ES: apex +10°, base −3°.
* **MR stack** (cine, tagging, DENSE share one grid): columns x = u, rows y = −v (rows grow inferior), slices
  z = −w (slice 0 at the base, slices go toward the apex); true short-axis slices, oblique in LPS (direction =
  heart_to_lps @ diag(1, −1, −1), determinant −1). Frame i is at i·RR/frames ms; frame 0 is ED = the R wave.
* **Masks** (:attr:`PhantomTruth.masks`, standard labels 1 LV blood, 2 LV myocardium, 3 RV blood, 4 RV myocardium)
  per frame: on the MR grid the label covering most of each voxel's sub-samples, on the CT grid the voxel centre.
* **CT**: axial LPS grid (identity direction), phases at i·RR/ct_frames (0-90 % RR for 10 phases).
  :func:`ct_motion_pair` gives one subject's ES and ED CT with the exact flow between them (voxels and mm) over a
  seeded population of anatomy, size, pose, position in the field of view and contrast timing.
* Everything is marked ``synthetic=True`` with "PHANTOM" in the description and provenance
  ``{"source": "cardiogen.phantom", "seed", "config"}``.

Example::

    from cardiogen.phantom import PhantomConfig, make_case
    case = make_case(PhantomConfig(seed=3, modalities=("cine", "dense")))
    case.cine.array.shape            # (20, 10, 64, 64)
    case.truth.strain.peak("circumferential")
"""
from .anatomy import heart_to_lps
from .case import PhantomCase, make_case
from .config import MR_VIEWS, PHANTOM_MODALITIES, InfarctSpec, PhantomConfig
from .ct_pair import CtMotionPair, CtVariation, ct_motion_pair, ct_motion_population, ct_population_variation
from .demographics import Demographics, Phenotypes, phenotypes_from_demographics
from .heart import HeartGeometry, HeartModel, HeartMotion, aha_segments, solve_heart
from .render import Placement
from .timing import CardiacTiming, es_time_ms
from .truth import PhantomTruth

__all__ = [
    "CardiacTiming",
    "CtMotionPair",
    "CtVariation",
    "Demographics",
    "HeartGeometry",
    "HeartModel",
    "HeartMotion",
    "InfarctSpec",
    "PHANTOM_MODALITIES",
    "MR_VIEWS",
    "PhantomCase",
    "PhantomConfig",
    "PhantomTruth",
    "Phenotypes",
    "Placement",
    "aha_segments",
    "ct_motion_pair",
    "ct_motion_population",
    "ct_population_variation",
    "es_time_ms",
    "heart_to_lps",
    "make_case",
    "phenotypes_from_demographics",
    "solve_heart",
]
