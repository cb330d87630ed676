"""Configuration of a phantom case: :class:`PhantomConfig` and :class:`InfarctSpec` (validated on creation)."""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import CardioGenInputError

#: Modalities :func:`cardiogen.phantom.make_case` can render.
PHANTOM_MODALITIES = ("cine", "tagging", "dense", "ct", "ecg")
TAG_PATTERNS = ("grid", "lines")
DEFAULT_TAG_SPACING_MM = 7.0
MIN_TAG_PIXELS = 3.0  # automatic spacing: at least this many in-plane pixels per tag

#: MR views :func:`cardiogen.phantom.make_case` can render.
MR_VIEWS = ("sax", "4ch")

_SOURCE = "PhantomConfig"


def _number(value: Any, name: str, lo: float, hi: float, *, lo_open: bool = False, source: str = _SOURCE) -> float:
    try:
        val = float(value)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{name} must be a number", source=source, got=value) from exc
    if not math.isfinite(val) or val > hi or (val <= lo if lo_open else val < lo):
        bounds = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise CardioGenInputError(f"{name} is out of range", source=source, expected=bounds, got=value)
    return val


def _integer(value: Any, name: str, lo: int, hi: int, source: str = _SOURCE) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise CardioGenInputError(f"{name} must be an integer", source=source, got=value)
    val = int(value)
    if not lo <= val <= hi:
        raise CardioGenInputError(f"{name} is out of range", source=source, expected=f"{lo}..{hi}", got=val)
    return val


@dataclass(frozen=True)
class InfarctSpec:
    """A regional hypokinesis (infarct) of the LV: an angular sector, transmural, base to apex.

    Args:
        center_deg: centre of the sector, θ = atan2(v, u) in degrees (0 lateral, 90 anterior, 180 septal,
            270 inferior; see :mod:`cardiogen.phantom`).
        width_deg: full angular width of the sector (degrees, 10..360); the edges taper over ±20°.
        severity: 0 (normal) .. 1 (akinetic): fraction of the radial contraction removed (half of it for the
            longitudinal contraction).
    """

    center_deg: float = 90.0
    width_deg: float = 60.0
    severity: float = 0.8

    def __post_init__(self) -> None:
        src = "InfarctSpec"
        object.__setattr__(self, "center_deg", _number(self.center_deg, "center_deg", -720.0, 720.0, source=src))
        object.__setattr__(self, "width_deg", _number(self.width_deg, "width_deg", 10.0, 360.0, source=src))
        object.__setattr__(self, "severity", _number(self.severity, "severity", 0.0, 1.0, source=src))


@dataclass(frozen=True)
class PhantomConfig:
    """Everything that defines one phantom case (with the demographics).

    Args:
        seed: integer seed; the same seed and config give identical arrays.
        size: in-plane matrix of the MR series (square, 32..256 pixels).
        frames: MR frames over one RR interval (2..200); frame i is at i·RR/frames ms, frame 0 = ED (R wave).
        slices: short-axis slices (1..128), slice 0 toward the base, contiguous (no gap); the slab is centred on the
            middle of the LV long axis.
        slice_thickness_mm: slice thickness = spacing (mm); None: the slab spans the LV from 2 mm below the apex to
            2 mm above the base.
        pixel_mm: in-plane pixel (mm); None: the field of view is 1.7 x the heart's width (~190 mm), so that some
            body (lungs, chest wall, liver, aorta, spine) surrounds the heart.
        modalities: any of ``("cine", "tagging", "dense", "ct", "ecg")``; the others come back as None.
        ct_size: CT matrix (cubic, 24..160 voxels).
        ct_frames: CT phases at i·RR/ct_frames (1..40; default 10 = 0..90 % RR).
        ct_pixel_mm: CT isotropic voxel (mm); None: the field of view fits the heart (~2.3 mm at 64).
        dense_ke: DENSE encoding frequency (cycles/mm, > 0).
        dense_encodings: DENSE encoded index axes, subset of ("x", "y", "z").
        tag_spacing_mm: SPAMM tag spacing (mm, 4..15); None (default): 7 mm, or 3 in-plane pixels where the pixel
            is coarser than 7/3 mm (tags finer than ~3 pixels alias as they move: at the automatic 64-pixel grid,
            ~3 mm pixels, the spacing becomes ~9 mm; ``size`` >= 84 keeps 7 mm). The spacing used is in the
            tagging series' metadata "tag_spacing_mm".
        tag_pattern: "grid" (two orthogonal tag families along the image axes) or "lines" (planes across x).
        tag_cspamm: complementary SPAMM (the difference of two acquisitions with opposite tag phase): removes the
            T1-relaxed untagged magnetisation, so the contrast lasts into diastole; shown as S·(1 + D)/2 with
            D = e^{-t/T1}·(2·L − 1) per tag family (mean over the families of a grid).
        noise: add image/ECG noise (False gives noise-free images: useful in tests).
        infarct: None or an :class:`InfarctSpec`.
        dyssynchrony: 0..1; the contraction of the wall is delayed from 0 ms at the septum to 120 ms·dyssynchrony
            at the lateral wall (LBBB-like).
        motion_scale: 0..1.5 multiplies all motion (0: a heart that does not move).
        residual_variation: add the seeded residual (unexplained) variation to the phenotypes.
        ecg_duration_s: ECG length (s).
        ecg_sampling_rate: ECG sampling rate (Hz).
        view: MR view: "sax" (short-axis stack, the default) or "4ch" (long-axis four-chamber-like planes through
            the LV long axis and the RV centre, ``slices`` parallel planes; apex at the top of the image, RV on the
            image left, as read clinically). The "4ch" view shows the LV length, so sphericity is visible in it.
    """

    seed: int = 0
    size: int = 64
    frames: int = 20
    slices: int = 10
    slice_thickness_mm: float | None = None
    pixel_mm: float | None = None
    modalities: tuple[str, ...] = PHANTOM_MODALITIES
    ct_size: int = 64
    ct_frames: int = 10
    ct_pixel_mm: float | None = None
    dense_ke: float = 0.1
    dense_encodings: tuple[str, ...] = ("x", "y")
    tag_spacing_mm: float | None = None
    tag_pattern: str = "grid"
    tag_cspamm: bool = False
    noise: bool = True
    infarct: InfarctSpec | None = None
    dyssynchrony: float = 0.0
    motion_scale: float = 1.0
    residual_variation: bool = True
    ecg_duration_s: float = 10.0
    ecg_sampling_rate: float = 500.0
    view: str = "sax"

    def __post_init__(self) -> None:
        setv = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        setv("seed", _integer(self.seed, "seed", 0, 2**63 - 1))
        setv("size", _integer(self.size, "size", 32, 256))
        setv("frames", _integer(self.frames, "frames", 2, 200))
        setv("slices", _integer(self.slices, "slices", 1, 128))
        if self.slice_thickness_mm is not None:
            setv("slice_thickness_mm", _number(self.slice_thickness_mm, "slice_thickness_mm", 0.2, 50.0))
        if self.pixel_mm is not None:
            setv("pixel_mm", _number(self.pixel_mm, "pixel_mm", 0.2, 20.0))
        mods = (self.modalities,) if isinstance(self.modalities, str) else tuple(self.modalities)
        for mod in mods:
            if mod not in PHANTOM_MODALITIES:
                raise CardioGenInputError("unknown phantom modality", source=_SOURCE, expected=PHANTOM_MODALITIES,
                                          got=mod)
        setv("modalities", tuple(dict.fromkeys(mods)))
        setv("ct_size", _integer(self.ct_size, "ct_size", 24, 160))
        setv("ct_frames", _integer(self.ct_frames, "ct_frames", 1, 40))
        if self.ct_pixel_mm is not None:
            setv("ct_pixel_mm", _number(self.ct_pixel_mm, "ct_pixel_mm", 0.2, 20.0))
        setv("dense_ke", _number(self.dense_ke, "dense_ke", 0.0, 2.0, lo_open=True))
        enc = (self.dense_encodings,) if isinstance(self.dense_encodings, str) else tuple(self.dense_encodings)
        if not enc or any(e not in ("x", "y", "z") for e in enc) or len(set(enc)) != len(enc):
            raise CardioGenInputError("dense_encodings must be distinct index axes from ('x', 'y', 'z')",
                                      source=_SOURCE, got=enc)
        setv("dense_encodings", enc)
        if self.tag_spacing_mm is not None:
            setv("tag_spacing_mm", _number(self.tag_spacing_mm, "tag_spacing_mm", 4.0, 15.0))
        if self.tag_pattern not in TAG_PATTERNS:
            raise CardioGenInputError("unknown tag pattern", source=_SOURCE, expected=TAG_PATTERNS,
                                      got=self.tag_pattern)
        setv("tag_cspamm", bool(self.tag_cspamm))
        setv("noise", bool(self.noise))
        if self.infarct is not None and not isinstance(self.infarct, InfarctSpec):
            if isinstance(self.infarct, dict):
                setv("infarct", InfarctSpec(**self.infarct))
            else:
                raise CardioGenInputError("infarct must be None or an InfarctSpec", source=_SOURCE,
                                          got=type(self.infarct).__name__)
        setv("dyssynchrony", _number(self.dyssynchrony, "dyssynchrony", 0.0, 1.0))
        setv("motion_scale", _number(self.motion_scale, "motion_scale", 0.0, 1.5))
        setv("residual_variation", bool(self.residual_variation))
        setv("ecg_duration_s", _number(self.ecg_duration_s, "ecg_duration_s", 0.5, 600.0))
        setv("ecg_sampling_rate", _number(self.ecg_sampling_rate, "ecg_sampling_rate", 100.0, 10000.0))
        if self.view not in MR_VIEWS:
            raise CardioGenInputError("unknown MR view", source=_SOURCE, expected=MR_VIEWS, got=self.view)

    def replace(self, **changes: Any) -> "PhantomConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-friendly dict (tuples as lists, the infarct as a dict or None)."""
        out = {}
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if isinstance(val, InfarctSpec):
                val = dataclasses.asdict(val)
            elif isinstance(val, tuple):
                val = list(val)
            out[f.name] = val
        return out
