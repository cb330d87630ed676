"""Typed, validated containers for cardiac data (DESIGN.md, "Data model").

Conventions used everywhere in cardiogen:

* Arrays are indexed ``(t, z, y, x)``: t = frame, z = slice, y = row, x = column. A static volume has t = 1,
  a single 2D slice has z = 1.
* :class:`Geometry` holds spacing, origin and direction in the **LPS** world frame of DICOM and ITK.
  ``spacing`` and ``origin`` are ordered (x, y, z) like ITK; ``direction[:, i]`` is the unit vector of index
  axis i (i = 0 for x/columns, 1 for y/rows, 2 for z/slices). The world position of voxel (k, j, i) is
  ``origin + direction @ (spacing * (i, j, k))``. Slicer's RAS is converted only in CardioGenSlicerLib.
* Times are in milliseconds, lengths in millimetres, ECG amplitudes in millivolts.
* Displacement vectors have components (x, y, z) in LPS world millimetres, like ITK displacement fields.

Every container validates itself when built and raises :class:`~cardiogen.errors.CardioGenInputError`
that names the problem.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import CardioGenInputError

__all__ = [
    "Geometry",
    "ImageSeries",
    "DenseSeries",
    "Ecg",
    "DisplacementSeries",
    "Segmentation",
    "LabelInfo",
    "StrainSeries",
    "LandmarkSeries",
    "LANDMARK_LAYERS",
    "STANDARD_LABELS",
    "MODALITIES",
    "STANDARD_12_LEADS",
]

#: Modalities an :class:`ImageSeries` may carry.
MODALITIES = ("cine", "tagging", "dense_mag", "dense_phase", "ct", "mr", "strain", "label", "other")

#: The standard 12-lead order used by cardiogen.
STANDARD_12_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def _as_vec3(value: Any, name: str) -> tuple[float, float, float]:
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.size != 3:
        raise CardioGenInputError(f"{name} must have 3 values (x, y, z)", got=f"{arr.size} values")
    if not np.all(np.isfinite(arr)):
        raise CardioGenInputError(f"{name} has non-finite values", got=tuple(arr.tolist()))
    return (float(arr[0]), float(arr[1]), float(arr[2]))


@dataclass(frozen=True)
class Geometry:
    """Voxel grid placement in LPS world millimetres.

    Args:
        spacing: (x, y, z) voxel size in mm, each > 0.
        origin: (x, y, z) LPS position of voxel (0, 0, 0) in mm.
        direction: 3x3 orthonormal matrix; column i is the LPS direction of index axis i.
    """

    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        spacing = _as_vec3(self.spacing, "spacing")
        if min(spacing) <= 0:
            raise CardioGenInputError("spacing must be > 0 mm on every axis", got=spacing)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", _as_vec3(self.origin, "origin"))
        direction = np.asarray(self.direction, dtype=float)
        if direction.size != 9:
            raise CardioGenInputError("direction must be a 3x3 matrix", got=f"shape {direction.shape}")
        direction = direction.reshape(3, 3)
        if not np.all(np.isfinite(direction)):
            raise CardioGenInputError("direction has non-finite values")
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise CardioGenInputError(
                "direction must be orthonormal (columns of unit length, at right angles)",
                got=np.round(direction, 4).tolist(),
            )
        direction = direction.copy()
        direction.setflags(write=False)
        object.__setattr__(self, "direction", direction)

    # Value semantics (numpy arrays do not compare with ==).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Geometry):
            return NotImplemented
        return self.allclose(other, atol=0.0)

    def __hash__(self) -> int:
        return hash((self.spacing, self.origin, tuple(np.round(self.direction, 9).ravel())))

    def allclose(self, other: "Geometry", atol: float = 1e-4) -> bool:
        """True when spacing, origin and direction agree within ``atol`` (mm / unitless)."""
        return (
            np.allclose(self.spacing, other.spacing, atol=atol, rtol=0)
            and np.allclose(self.origin, other.origin, atol=atol, rtol=0)
            and np.allclose(self.direction, other.direction, atol=atol, rtol=0)
        )

    def index_to_world(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous (i, j, k, 1) = (x, y, z index) to LPS mm."""
        m = np.eye(4)
        m[:3, :3] = self.direction @ np.diag(self.spacing)
        m[:3, 3] = self.origin
        return m

    def world_to_index(self) -> np.ndarray:
        """Inverse of :meth:`index_to_world`."""
        return np.linalg.inv(self.index_to_world())

    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (cm³)."""
        return float(np.prod(self.spacing)) / 1000.0

    def replace(self, **changes: Any) -> "Geometry":
        return dataclasses.replace(self, **changes)


def _check_frame_times(frame_times: Any, n_frames: int, source: str) -> np.ndarray:
    if frame_times is None:
        return np.arange(n_frames, dtype=float)
    times = np.asarray(frame_times, dtype=float).reshape(-1)
    if times.size != n_frames:
        raise CardioGenInputError(
            f"{source}: frame_times must have one value per frame", expected=n_frames, got=times.size
        )
    if not np.all(np.isfinite(times)):
        raise CardioGenInputError(f"{source}: frame_times has non-finite values")
    if n_frames > 1 and np.any(np.diff(times) <= 0):
        raise CardioGenInputError(f"{source}: frame times must increase strictly", got=np.round(times, 3).tolist())
    return times


def _check_finite(array: np.ndarray, what: str) -> None:
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise CardioGenInputError(f"{what} contains {bad} NaN/Inf values")


@dataclass
class ImageSeries:
    """An image or image series with its geometry.

    Args:
        array: float32 ``(t, z, y, x)``; 2D/3D arrays are accepted as ``(y, x)`` / ``(z, y, x)`` and reshaped.
        geometry: where the voxels are (LPS mm).
        frame_times: ``(t,)`` ms, strictly increasing; default 0, 1, 2 ...
        modality: one of :data:`MODALITIES`.
        synthetic: True for anything a generative model made (always marked downstream).
        provenance: free dict (source files, pipeline, weights sha256, seed, device ...).
        description: human-readable series description.
        metadata: extra reader-specific facts (DICOM tags, heart rate ...).
    """

    array: np.ndarray
    geometry: Geometry = field(default_factory=Geometry)
    frame_times: np.ndarray | None = None
    modality: str = "other"
    synthetic: bool = False
    provenance: dict = field(default_factory=dict)
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.dtype.kind not in "biuf":
            raise CardioGenInputError("image array must be numeric", got=str(arr.dtype))
        if arr.ndim == 2:
            arr = arr[None, None]
        elif arr.ndim == 3:
            arr = arr[None]
        elif arr.ndim != 4:
            raise CardioGenInputError("image array must be (t, z, y, x), (z, y, x) or (y, x)", got=f"shape {arr.shape}")
        if arr.size == 0 or min(arr.shape) == 0:
            raise CardioGenInputError("image array is empty", got=f"shape {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        _check_finite(arr, "image array")
        self.array = arr
        if not isinstance(self.geometry, Geometry):
            raise CardioGenInputError("geometry must be a cardiogen.data.Geometry", got=type(self.geometry).__name__)
        self.frame_times = _check_frame_times(self.frame_times, arr.shape[0], "ImageSeries")
        if self.modality not in MODALITIES:
            raise CardioGenInputError("unknown modality", expected=MODALITIES, got=self.modality)
        self.synthetic = bool(self.synthetic)

    # ---- shape helpers -------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def n_frames(self) -> int:
        return int(self.array.shape[0])

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        """(z, y, x) voxels."""
        return tuple(self.array.shape[1:])  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.geometry.spacing

    def frame(self, index: int) -> "ImageSeries":
        """One frame as a static series (t = 1), same geometry."""
        if not -self.n_frames <= index < self.n_frames:
            raise CardioGenInputError("frame index out of range", expected=f"0..{self.n_frames - 1}", got=index)
        return self.with_array(self.array[index : index + 1] if index >= 0 else self.array[[index]],
                               frame_times=self.frame_times[[index]])

    def with_array(self, array: np.ndarray, **changes: Any) -> "ImageSeries":
        """A copy with a new array and the same geometry, times and metadata (unless changed)."""
        kwargs = dict(
            geometry=self.geometry,
            frame_times=self.frame_times,
            modality=self.modality,
            synthetic=self.synthetic,
            provenance=copy.deepcopy(self.provenance),
            description=self.description,
            metadata=copy.deepcopy(self.metadata),
        )
        kwargs.update(changes)
        return ImageSeries(array, **kwargs)

    def mark_synthetic(self, pipeline: str, **provenance: Any) -> "ImageSeries":
        """Return a copy marked synthetic ("SYNTHETIC" in the description, provenance recorded)."""
        desc = self.description or self.modality
        if "SYNTHETIC" not in desc.upper():
            desc = f"SYNTHETIC {desc}"
        prov = copy.deepcopy(self.provenance)
        prov.update(pipeline=pipeline, **provenance)
        return self.with_array(self.array, synthetic=True, description=desc, provenance=prov)


@dataclass
class DenseSeries:
    """A DENSE acquisition: magnitude plus wrapped phase per encoding direction.

    The phase encodes displacement from the encoding time (end-diastole):
    ``phase = wrap(2π · ke · u)`` with ``u`` in mm along the encoding direction.

    Args:
        magnitude: :class:`ImageSeries` (modality ``dense_mag``) ``(t, z, y, x)``.
        phase: float32 ``(e, t, z, y, x)`` radians in [-π, π], one block per encoding direction.
        encodings: the index axis each phase block encodes: ``"x"``, ``"y"`` or ``"z"``.
        ke: encoding frequency in cycles/mm, one per encoding (a scalar applies to all), each > 0.
        segmentation: optional myocardial contours/ROI as a :class:`Segmentation` on the same grid.
        metadata: reader facts (raw EncFreq, Scale, NegFlag ...).
    """

    magnitude: ImageSeries
    phase: np.ndarray
    encodings: tuple[str, ...] = ("x", "y")
    ke: Any = 0.1
    segmentation: "Segmentation | None" = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.magnitude, ImageSeries):
            raise CardioGenInputError("DENSE magnitude must be an ImageSeries", got=type(self.magnitude).__name__)
        if self.phase is None:
            raise CardioGenInputError("DENSE data has no phase images", expected="one phase series per encoding")
        phase = np.asarray(self.phase)
        if phase.ndim == 4:
            phase = phase[None]
        if phase.ndim != 5:
            raise CardioGenInputError("DENSE phase must be (e, t, z, y, x)", got=f"shape {phase.shape}")
        if phase.shape[0] == 0:
            raise CardioGenInputError("DENSE data has no phase images", expected="at least one encoding direction")
        if phase.shape[1:] != self.magnitude.shape:
            raise CardioGenInputError(
                "DENSE phase and magnitude shapes differ", expected=self.magnitude.shape, got=phase.shape[1:]
            )
        phase = np.ascontiguousarray(phase, dtype=np.float32)
        _check_finite(phase, "DENSE phase")
        if np.abs(phase).max() > np.pi + 1e-3:
            raise CardioGenInputError("DENSE phase must be wrapped radians in [-π, π]",
                                      got=f"max |phase| {float(np.abs(phase).max()):.3f}")
        self.phase = phase
        enc = tuple(str(e) for e in self.encodings)
        if len(enc) != phase.shape[0] or any(e not in ("x", "y", "z") for e in enc):
            raise CardioGenInputError(
                "DENSE encodings must name one index axis ('x', 'y', 'z') per phase block",
                expected=phase.shape[0], got=enc,
            )
        self.encodings = enc
        if self.ke is None:
            raise CardioGenInputError("DENSE data has no encoding frequency ke (cycles/mm)")
        ke = np.broadcast_to(np.asarray(self.ke, dtype=float), (len(enc),)).copy()
        if not np.all(np.isfinite(ke)) or np.any(ke <= 0):
            raise CardioGenInputError("DENSE encoding frequency ke must be > 0 cycles/mm", got=ke.tolist())
        self.ke = tuple(float(k) for k in ke)
        if self.segmentation is not None and self.segmentation.labels.shape[1:] != self.magnitude.spatial_shape:
            raise CardioGenInputError("DENSE segmentation grid differs from the images",
                                      expected=self.magnitude.spatial_shape, got=self.segmentation.labels.shape[1:])

    @property
    def geometry(self) -> Geometry:
        return self.magnitude.geometry

    @property
    def frame_times(self) -> np.ndarray:
        return self.magnitude.frame_times

    @property
    def n_frames(self) -> int:
        return self.magnitude.n_frames


@dataclass
class Ecg:
    """A multi-lead ECG.

    Args:
        signals: float ``(leads, samples)`` in millivolts.
        sampling_rate: Hz, > 0.
        lead_names: one name per lead (unique).
        fiducials: optional named sample indices, e.g. ``{"R": array([...])}``.
        start_time_ms: time of sample 0 relative to the image series' time 0 (ms).
        metadata: reader facts (device, filters, annotations ...).
    """

    signals: np.ndarray
    sampling_rate: float
    lead_names: tuple[str, ...]
    fiducials: dict = field(default_factory=dict)
    start_time_ms: float = 0.0
    synthetic: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        sig = np.asarray(self.signals)
        if sig.dtype.kind not in "biuf":
            raise CardioGenInputError("ECG signals must be numeric", got=str(sig.dtype))
        if sig.ndim == 1:
            sig = sig[None]
        if sig.ndim != 2:
            raise CardioGenInputError("ECG signals must be (leads, samples)", got=f"shape {sig.shape}")
        if sig.shape[0] == 0 or sig.shape[1] < 2:
            raise CardioGenInputError("ECG is empty", expected="at least 1 lead and 2 samples", got=f"shape {sig.shape}")
        sig = np.ascontiguousarray(sig, dtype=np.float64)
        _check_finite(sig, "ECG signals")
        if np.all(np.ptp(sig, axis=1) == 0):
            raise CardioGenInputError("ECG is flat (every lead is constant)")
        self.signals = sig
        fs = float(self.sampling_rate)
        if not np.isfinite(fs) or fs <= 0:
            raise CardioGenInputError("ECG sampling rate must be > 0 Hz", got=self.sampling_rate)
        self.sampling_rate = fs
        names = tuple(str(n) for n in self.lead_names)
        if len(names) != sig.shape[0]:
            raise CardioGenInputError("ECG needs one lead name per lead", expected=sig.shape[0], got=len(names))
        if len(set(names)) != len(names):
            raise CardioGenInputError("ECG lead names must be unique", got=names)
        self.lead_names = names
        self.fiducials = {k: np.asarray(v, dtype=np.int64) for k, v in dict(self.fiducials).items()}

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[1])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.sampling_rate

    @property
    def times_ms(self) -> np.ndarray:
        """``(samples,)`` time of each sample in ms (``start_time_ms`` + i / fs)."""
        return self.start_time_ms + np.arange(self.n_samples) * 1000.0 / self.sampling_rate

    def lead(self, name: str) -> np.ndarray:
        if name not in self.lead_names:
            raise CardioGenInputError("no such ECG lead", expected=self.lead_names, got=name)
        return self.signals[self.lead_names.index(name)]

    def heart_rate_bpm(self) -> float:
        """Mean heart rate from the R fiducials, or from R peaks detected on the strongest lead."""
        r = self.fiducials.get("R")
        if r is None or len(r) < 2:
            from .ecg_tools import detect_r_peaks  # local import: keeps this module light

            r = detect_r_peaks(self)
        if len(r) < 2:
            raise CardioGenInputError("cannot compute heart rate: fewer than two R peaks found")
        rr = np.diff(np.sort(r)) / self.sampling_rate
        return float(60.0 / np.median(rr))


@dataclass
class DisplacementSeries:
    """Lagrangian displacement from a reference frame.

    Args:
        array: float32 ``(t, 3, z, y, x)`` in mm; component order (x, y, z) in LPS world axes.
            ``array[t]`` moves the material point at voxel (z, y, x) of the reference frame to its position
            at frame t; ``array[reference_frame]`` is zero.
        geometry: grid of the reference frame.
        frame_times: ``(t,)`` ms.
        reference_frame: index of the reference frame (end-diastole for the phantom).
        mask: optional bool ``(z, y, x)`` where the displacement is defined / meaningful.
    """

    array: np.ndarray
    geometry: Geometry = field(default_factory=Geometry)
    frame_times: np.ndarray | None = None
    reference_frame: int = 0
    mask: np.ndarray | None = None
    synthetic: bool = False
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 5 or arr.shape[1] != 3:
            raise CardioGenInputError("displacement must be (t, 3, z, y, x) in mm", got=f"shape {arr.shape}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        _check_finite(arr, "displacement")
        self.array = arr
        self.frame_times = _check_frame_times(self.frame_times, arr.shape[0], "DisplacementSeries")
        if not 0 <= int(self.reference_frame) < arr.shape[0]:
            raise CardioGenInputError("reference frame out of range", expected=f"0..{arr.shape[0] - 1}",
                                      got=self.reference_frame)
        self.reference_frame = int(self.reference_frame)
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=bool)
            if mask.shape != arr.shape[2:]:
                raise CardioGenInputError("displacement mask grid differs", expected=arr.shape[2:], got=mask.shape)
            self.mask = mask

    @property
    def n_frames(self) -> int:
        return int(self.array.shape[0])

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape[2:])  # type: ignore[return-value]


@dataclass(frozen=True)
class LabelInfo:
    """Name and display color (RGB 0..1) of one label value."""

    name: str
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)


#: The label table cardiogen uses for cardiac segmentations.
STANDARD_LABELS: dict[int, LabelInfo] = {
    1: LabelInfo("LV blood pool", (0.86, 0.24, 0.18)),
    2: LabelInfo("LV myocardium", (0.95, 0.78, 0.25)),
    3: LabelInfo("RV blood pool", (0.25, 0.45, 0.90)),
    4: LabelInfo("RV myocardium", (0.55, 0.75, 0.95)),
}


@dataclass
class Segmentation:
    """A label map (per frame) with its label table.

    Args:
        labels: uint8 ``(t, z, y, x)`` (``(z, y, x)`` is accepted as one frame).
        label_table: value -> :class:`LabelInfo`; 0 is background and must not appear.
        geometry: grid (LPS mm).
        frame_times: ``(t,)`` ms.
        annotated: bool ``(t, z)``: which slices of which frames carry labels (contours exist only on some
            frames); default all True.
    """

    labels: np.ndarray
    label_table: Mapping[int, LabelInfo] = field(default_factory=lambda: dict(STANDARD_LABELS))
    geometry: Geometry = field(default_factory=Geometry)
    frame_times: np.ndarray | None = None
    annotated: np.ndarray | None = None
    synthetic: bool = False
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        lab = np.asarray(self.labels)
        if lab.ndim == 3:
            lab = lab[None]
        if lab.ndim != 4:
            raise CardioGenInputError("labels must be (t, z, y, x)", got=f"shape {lab.shape}")
        if lab.dtype.kind == "f":
            if not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab)):
                raise CardioGenInputError("labels must be whole numbers")
        if lab.size and (lab.min() < 0 or lab.max() > 255):
            raise CardioGenInputError("labels must be in 0..255", got=f"{lab.min()}..{lab.max()}")
        self.labels = np.ascontiguousarray(lab, dtype=np.uint8)
        table = {}
        for value, info in dict(self.label_table).items():
            value = int(value)
            if value <= 0 or value > 255:
                raise CardioGenInputError("label values must be 1..255 (0 is background)", got=value)
            table[value] = info if isinstance(info, LabelInfo) else LabelInfo(str(info))
        self.label_table = table
        present = set(np.unique(self.labels).tolist()) - {0}
        missing = present - set(table)
        if missing:
            raise CardioGenInputError("label values without a name in the label table", got=sorted(missing))
        self.frame_times = _check_frame_times(self.frame_times, lab.shape[0], "Segmentation")
        if self.annotated is None:
            self.annotated = np.ones(lab.shape[:2], dtype=bool)
        else:
            ann = np.asarray(self.annotated, dtype=bool)
            if ann.shape != lab.shape[:2]:
                raise CardioGenInputError("annotated must be (t, z)", expected=lab.shape[:2], got=ann.shape)
            self.annotated = ann

    @property
    def n_frames(self) -> int:
        return int(self.labels.shape[0])

    def value_of(self, name: str) -> int:
        """Label value of a named structure (case-insensitive)."""
        for value, info in self.label_table.items():
            if info.name.lower() == name.lower():
                return value
        raise CardioGenInputError("no such label", expected=[i.name for i in self.label_table.values()], got=name)

    def mask(self, name: str) -> np.ndarray:
        """bool ``(t, z, y, x)`` of one named structure."""
        return self.labels == self.value_of(name)


#: Strain components and their meaning (Green-Lagrange, in the LV's local frame).
STRAIN_COMPONENTS = ("radial", "circumferential", "longitudinal")


@dataclass
class StrainSeries:
    """Green-Lagrange strain maps (unitless, negative = shortening) in the LV's local frame.

    Args:
        components: name -> float32 ``(t, z, y, x)``, names from ("radial", "circumferential", "longitudinal").
        geometry: grid (of the reference frame: Lagrangian maps).
        frame_times: ``(t,)`` ms.
        mask: bool ``(z, y, x)`` where strain is defined (LV myocardium at the reference frame).
        segment_curves: optional name -> ``(t, n_segments)`` AHA segment means (16 segments: 6 basal, 6 mid,
            4 apical) and ``"global_<component>"`` -> ``(t,)``.
        reference_frame: frame of zero strain.
    """

    components: dict
    geometry: Geometry = field(default_factory=Geometry)
    frame_times: np.ndarray | None = None
    mask: np.ndarray | None = None
    segment_curves: dict = field(default_factory=dict)
    reference_frame: int = 0
    synthetic: bool = False
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.components:
            raise CardioGenInputError("strain needs at least one component", expected=STRAIN_COMPONENTS)
        shape = None
        comps = {}
        for name, arr in dict(self.components).items():
            if name not in STRAIN_COMPONENTS:
                raise CardioGenInputError("unknown strain component", expected=STRAIN_COMPONENTS, got=name)
            a = np.asarray(arr)
            if a.ndim == 3:
                a = a[None]
            if a.ndim != 4:
                raise CardioGenInputError(f"strain component {name} must be (t, z, y, x)", got=f"shape {a.shape}")
            if shape is not None and a.shape != shape:
                raise CardioGenInputError("strain components have different shapes", expected=shape, got=a.shape)
            shape = a.shape
            a = np.ascontiguousarray(a, dtype=np.float32)
            _check_finite(a, f"strain component {name}")
            comps[name] = a
        self.components = comps
        self.frame_times = _check_frame_times(self.frame_times, shape[0], "StrainSeries")
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=bool)
            if mask.shape != shape[1:]:
                raise CardioGenInputError("strain mask grid differs", expected=shape[1:], got=mask.shape)
            self.mask = mask

    @property
    def n_frames(self) -> int:
        return int(next(iter(self.components.values())).shape[0])

    def global_curve(self, component: str) -> np.ndarray:
        """``(t,)`` mean strain of a component inside the mask."""
        if component not in self.components:
            raise CardioGenInputError("strain component not present", expected=tuple(self.components), got=component)
        a = self.components[component]
        if self.mask is None:
            return a.reshape(a.shape[0], -1).mean(axis=1)
        return a[:, self.mask].mean(axis=1)

    def peak(self, component: str) -> float:
        """Peak (largest magnitude) global value of a component over the cycle."""
        curve = self.global_curve(component)
        return float(curve[np.argmax(np.abs(curve))])


def ensure_sequence(value: Any, length: int, name: str) -> Sequence:
    """Broadcast a scalar to a sequence of ``length`` or check the length (helper for readers)."""
    if np.isscalar(value):
        return [value] * length
    value = list(value)
    if len(value) != length:
        raise CardioGenInputError(f"{name} must have {length} values", got=len(value))
    return value


#: Myocardial layers of a landmark ring, from the endocardium outwards (the default ``layer_order``).
LANDMARK_LAYERS = ("endo", "mid", "epi")


@dataclass
class LandmarkSeries:
    """Myocardial landmarks tracked over frames (tagging / tag tracking; seed 001 ch. 4).

    Args:
        points: float ``(t, n, 3)`` LPS world mm (``(t, n, 2)`` accepted: in-plane x, y mm with z = 0).
        labels: name -> ``(n,)`` array per point. Known names: ``"layer"`` (str, one of ``layer_order``, endo ->
            epi), ``"sector"`` (int: angular position along its ring, points of one ring ordered by it; points of
            different layers with the same sector lie on one radial line), ``"slice"`` (int: which short-axis ring,
            0 = most basal; default 0), ``"segment"`` (int AHA 1..16: overrides the angle-derived segment).
        layer_order: layer names from the endocardium to the epicardium.
        frame_times: ``(t,)`` ms, strictly increasing.
        geometry: optional image grid (for pixel <-> mm and the in-plane axes used for angles).
        reference_frame: end-diastole (zero strain), default 0; es_frame: optional end-systole.
    """

    points: np.ndarray
    labels: dict = field(default_factory=dict)
    layer_order: tuple = LANDMARK_LAYERS
    frame_times: np.ndarray | None = None
    geometry: Geometry | None = None
    reference_frame: int = 0
    es_frame: int | None = None
    synthetic: bool = False
    provenance: dict = field(default_factory=dict)
    description: str = ""
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        pts = np.asarray(self.points)
        if pts.dtype.kind not in "biuf":
            raise CardioGenInputError("landmark points must be numeric", got=str(pts.dtype))
        if pts.ndim == 2 and pts.shape[-1] in (2, 3):
            pts = pts[None]
        if pts.ndim != 3 or pts.shape[2] not in (2, 3):
            raise CardioGenInputError("landmark points must be (t, n, 3) or (t, n, 2) mm", got=f"shape {pts.shape}")
        if pts.shape[0] == 0 or pts.shape[1] == 0:
            raise CardioGenInputError("landmark series is empty", got=f"shape {pts.shape}")
        pts = pts.astype(float)
        if pts.shape[2] == 2:
            pts = np.concatenate([pts, np.zeros(pts.shape[:2] + (1,))], axis=2)
        _check_finite(pts, "landmark points")
        self.points = np.ascontiguousarray(pts)
        n = pts.shape[1]
        self.frame_times = _check_frame_times(self.frame_times, pts.shape[0], "LandmarkSeries")
        if self.geometry is not None and not isinstance(self.geometry, Geometry):
            raise CardioGenInputError("geometry must be a cardiogen.data.Geometry", got=type(self.geometry).__name__)
        order = tuple(str(x) for x in self.layer_order)
        if not order or len(set(order)) != len(order):
            raise CardioGenInputError("layer_order must list distinct layer names (endo -> epi)", got=order)
        self.layer_order = order
        labels = {}
        for name, values in dict(self.labels).items():
            arr = np.asarray(values)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise CardioGenInputError(f"landmark label '{name}' needs one value per point", expected=n,
                                          got=f"shape {arr.shape}")
            if name in ("sector", "slice", "segment"):
                if arr.dtype.kind == "f":
                    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                        raise CardioGenInputError(f"landmark label '{name}' must be whole numbers")
                elif arr.dtype.kind not in "iub":
                    raise CardioGenInputError(f"landmark label '{name}' must be integers", got=str(arr.dtype))
                arr = arr.astype(np.int64)
            elif name == "layer":
                arr = np.asarray([str(v) for v in arr.tolist()], dtype=object)
                bad = sorted(set(arr.tolist()) - set(order))
                if bad:
                    raise CardioGenInputError("unknown landmark layer", expected=order, got=bad[:5])
            labels[str(name)] = arr
        if "segment" in labels and np.any((labels["segment"] < 1) | (labels["segment"] > 16)):
            raise CardioGenInputError("landmark AHA segment must be 1..16", got=sorted(set(labels["segment"]))[:5])
        self.labels = labels
        t = pts.shape[0]
        if not -t <= int(self.reference_frame) < t:
            raise CardioGenInputError("landmark reference frame out of range", expected=f"0..{t - 1}",
                                      got=self.reference_frame)
        self.reference_frame = int(self.reference_frame) % t
        if self.es_frame is not None:
            if not -t <= int(self.es_frame) < t:
                raise CardioGenInputError("landmark ES frame out of range", expected=f"0..{t - 1}", got=self.es_frame)
            self.es_frame = int(self.es_frame) % t
        self.synthetic = bool(self.synthetic)

    @property
    def n_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.points.shape[1])

    @staticmethod
    def pixels_to_mm(pixels: Any, geometry: Geometry, slice_index: float = 0.0) -> np.ndarray:
        """``(..., 2)`` (column x, row y) pixel indices -> ``(..., 3)`` LPS mm on slice ``slice_index``."""
        px = np.asarray(pixels, dtype=float)
        if px.shape[-1] != 2:
            raise CardioGenInputError("pixel coordinates must be (..., 2) (column x, row y)", got=f"shape {px.shape}")
        idx = np.concatenate([px, np.full(px.shape[:-1] + (1,), float(slice_index))], axis=-1)
        m = geometry.index_to_world()
        return idx @ m[:3, :3].T + m[:3, 3]

    @staticmethod
    def mm_to_pixels(points: Any, geometry: Geometry) -> np.ndarray:
        """``(..., 3)`` LPS mm -> ``(..., 3)`` continuous (x, y, z) voxel indices."""
        p = np.asarray(points, dtype=float)
        if p.shape[-1] != 3:
            raise CardioGenInputError("world points must be (..., 3) LPS mm", got=f"shape {p.shape}")
        m = geometry.world_to_index()
        return p @ m[:3, :3].T + m[:3, 3]
