"""Reading and writing cardiac data: one entry point for every format.

* :func:`load` recognises a file (by content first, extension second) or a DICOM folder and returns the right
  container: :class:`~cardiogen.data.ImageSeries` (DICOM series, NRRD / ``.seq.nrrd``, NIfTI),
  :class:`~cardiogen.data.Segmentation` (``.seg.nrrd``, label-map sequences), :class:`~cardiogen.data.
  DisplacementSeries` (vector NRRD), :class:`~cardiogen.data.DenseSeries` (DENSEanalysis ``.dns``, DENSE bundle
  ``.dense.json``) or :class:`~cardiogen.data.Ecg` (DICOM waveform, WFDB ``.hea``/``.dat``, ``.csv``).
* :func:`save` writes a container to the format its extension names.
* :func:`describe` summarises a container as a JSON-friendly dict (``cardiogen info``).

The explicit readers/writers are importable from here too (``from cardiogen.io import read_nrrd``); they are
imported lazily so that ``import cardiogen.io`` stays light.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CardioGenInputError
from .sniff import FORMATS, detect_format, full_suffix

__all__ = ["load", "save", "describe", "detect_format", "FORMATS", "SAVE_FORMATS", "sample_data_dir"]

# name -> submodule that defines it (imported on first use).
_EXPORTS = {
    "read_nrrd": "nrrd_io", "write_nrrd": "nrrd_io", "read_segmentation_nrrd": "nrrd_io",
    "write_segmentation_nrrd": "nrrd_io", "read_displacement_nrrd": "nrrd_io", "write_displacement_nrrd": "nrrd_io",
    "read_nrrd_header": "nrrd_io", "nrrd_content_kind": "nrrd_io",
    "read_nifti": "nifti_io", "write_nifti": "nifti_io", "read_segmentation_nifti": "nifti_io",
    "read_dense_workspace": "dense_io", "is_dense_workspace": "dense_io",
    "write_gif": "preview", "write_mp4": "preview", "mosaic_png": "preview", "render_frames": "preview",
    "read_dicom_series": "dicom_io", "list_dicom_series": "dicom_io", "is_dicom": "dicom_io",
    "read_dense_dicom": "dicom_io",
    "write_dicom_series": "dicom_export",
    "read_ecg_dicom": "ecg_io", "read_ecg_wfdb": "ecg_io", "read_ecg_csv": "ecg_io", "write_ecg_csv": "ecg_io",
    "is_ecg_dicom": "ecg_io", "read_ecg": "ecg_io",
    "closed_spline": "contours", "polygon_to_mask": "contours", "read_sunnybrook_contours": "contours",
    "read_dense_bundle": "bundle", "write_dense_bundle": "bundle",
    "read_landmarks_csv": "landmarks_io", "read_landmarks_json": "landmarks_io", "read_landmarks_hdf5": "landmarks_io",
    "read_landmarks": "landmarks_io", "read_tagging": "landmarks_io", "write_landmarks_json": "landmarks_io",
}
__all__ += sorted(_EXPORTS)

#: What :func:`save` writes, per container.
SAVE_FORMATS = {
    "ImageSeries": (".nrrd", ".seq.nrrd", ".nii", ".nii.gz", ".gif", ".mp4", ".png", "folder (DICOM)"),
    "Segmentation": (".seg.nrrd", ".seq.nrrd", ".nrrd", ".nii", ".nii.gz"),
    "DisplacementSeries": (".nrrd", ".seq.nrrd"),
    "DenseSeries": (".dense.json", ".gif", ".mp4", ".png"),
    "Ecg": (".csv",),
    "LandmarkSeries": (".json",),
}


def sample_data_dir() -> Path:
    """The openly licensed sample data (``$CARDIOGEN_SHARED_DATA``, else ``../shared/data`` beside the repository);
    it may be absent: callers check the files they need."""
    env = os.environ.get("CARDIOGEN_SHARED_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cardiogen.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def _function(module: str, name: str, path: Any) -> Any:
    """A reader/writer of a sibling module; a clear error when that module or function is not available."""
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        raise CardioGenInputError(f"no {module} support in this installation ({exc})", source=path) from exc
    fn = getattr(mod, name, None)
    if fn is None:
        raise CardioGenInputError(f"cardiogen.io.{module} has no {name}()", source=path)
    return fn


def _call(reader: Any, path: Path, options: dict) -> Any:
    """Call ``reader(path, **options)``; options it does not take are a clear input error, not a TypeError."""
    import inspect  # noqa: PLC0415

    params = list(inspect.signature(reader).parameters.values())
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        accepted = [p.name for p in params[1:] if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise CardioGenInputError(f"option(s) {', '.join(unknown)} do not apply to {reader.__name__}",
                                      source=path, expected=accepted or "no options", got=unknown)
    return reader(path, **options)


# ----------------------------------------------------------------------------------------------------------------
# load
# ----------------------------------------------------------------------------------------------------------------
_KINDS = (None, "auto", "image", "segmentation", "displacement", "dense", "ecg", "landmarks")


def load(path: str | os.PathLike, *, kind: str | None = None, **options: Any) -> Any:
    """Read any supported file or DICOM folder and return its container.

    Args:
        path: a file, or a folder of DICOM files.
        kind: force what to read: "image", "segmentation", "displacement", "dense", "ecg" or "landmarks" (default:
            from the file; NRRD headers say whether they hold a label map / segments or vectors; a JSON file with a
            "landmarks" list is read as landmarks). ``kind="landmarks"`` reads a landmark CSV / JSON
            (:class:`~cardiogen.data.LandmarkSeries`) or an HDF5 file of tagging cases (a list of
            (ImageSeries, LandmarkSeries)); see :mod:`cardiogen.io.landmarks_io`.
        options: passed to the reader (e.g. ``series_uid=`` for DICOM folders, ``modality=`` for NIfTI/NRRD,
            ``ke=`` / ``frame_interval_ms=`` for DENSE workspaces, ``sampling_rate=`` for CSV ECGs).

    Returns:
        ImageSeries, Segmentation, DisplacementSeries, DenseSeries or Ecg.

    Raises:
        CardioGenInputError naming the path: not found, "unknown file type" (with the list of known formats), or
        whatever the reader reports.
    """
    if kind not in _KINDS:
        raise CardioGenInputError("unknown kind", source=path, expected=_KINDS[2:], got=kind)
    p = Path(path)
    if not p.exists():
        raise CardioGenInputError("file or folder not found", source=p)
    if kind == "landmarks":
        return _call(_function("landmarks_io", "read_landmarks", p), p, options)
    if p.is_file() and p.name.lower().endswith(".json"):
        return _load_bundle(p, **options)
    fmt = detect_format(p)
    if fmt == "nrrd":
        return _load_nrrd(p, kind, options)
    if fmt == "nifti":
        if kind == "segmentation":
            return _call(_function("nifti_io", "read_segmentation_nifti", p), p, options)
        return _call(_function("nifti_io", "read_nifti", p), p, options)
    if fmt == "dense":
        return _call(_function("dense_io", "read_dense_workspace", p), p, options)
    if fmt == "dicom":
        return _call(_function("dicom_io", "read_dicom_series", p), p, options)
    if fmt == "ecg_dicom":
        return _call(_function("ecg_io", "read_ecg_dicom", p), p, options)
    if fmt == "wfdb":
        return _call(_function("ecg_io", "read_ecg_wfdb", p), p, options)
    if fmt == "csv":
        return _call(_function("ecg_io", "read_ecg_csv", p), p, options)
    raise CardioGenInputError("unknown file type", source=p, expected=list(FORMATS.values()), got=fmt)


def _load_nrrd(p: Path, kind: str | None, options: dict) -> Any:
    if kind in (None, "auto"):
        kind = _function("nrrd_io", "nrrd_content_kind", p)(p)
    if kind == "segmentation":
        return _call(_function("nrrd_io", "read_segmentation_nrrd", p), p, options)
    if kind == "displacement":
        return _call(_function("nrrd_io", "read_displacement_nrrd", p), p, options)
    if kind == "image":
        return _call(_function("nrrd_io", "read_nrrd", p), p, options)
    raise CardioGenInputError(f"a NRRD file cannot be read as {kind}", source=p,
                              expected=("image", "segmentation", "displacement"))


def _load_bundle(p: Path, **options: Any) -> Any:
    is_bundle = _function("bundle", "is_bundle", p)
    bundle_kind = is_bundle(p)
    if bundle_kind == "dense":
        return _call(_function("bundle", "read_dense_bundle", p), p, options)
    if _function("landmarks_io", "is_landmarks_json", p)(p):
        return _call(_function("landmarks_io", "read_landmarks_json", p), p, options)
    raise CardioGenInputError("unknown file type: JSON file that is not a CardioGen DENSE bundle", source=p,
                              expected=list(FORMATS.values()) + ['.dense.json ("cardiogen": "dense")'],
                              got=bundle_kind or ".json")


# ----------------------------------------------------------------------------------------------------------------
# save
# ----------------------------------------------------------------------------------------------------------------
def save(obj: Any, path: str | os.PathLike, **options: Any) -> Path:
    """Write ``obj`` in the format named by the extension of ``path`` (see :data:`SAVE_FORMATS`).

    ImageSeries: ``.nrrd`` (t > 1 is written as a Slicer sequence; prefer ``.seq.nrrd``), ``.seq.nrrd``,
    ``.nii``/``.nii.gz``, ``.gif``/``.mp4`` (preview of the middle slice), ``.png`` (frame mosaic), or a path without
    extension = a DICOM folder. Segmentation: ``.seg.nrrd`` (one frame) / ``.seq.nrrd`` (label sequence) / ``.nrrd``
    / ``.nii(.gz)``. DisplacementSeries: ``.nrrd`` / ``.seq.nrrd``. DenseSeries: ``.dense.json`` bundle or a preview
    of the magnitude with the contours. Ecg: ``.csv``.

    Returns:
        the path written (a folder for DICOM).
    """
    from ..data import DenseSeries, DisplacementSeries, Ecg, ImageSeries, LandmarkSeries, Segmentation  # noqa: PLC0415

    p = Path(path)
    suffix = full_suffix(p)
    name = p.name.lower()
    if isinstance(obj, ImageSeries):
        if suffix in (".nrrd", ".seq.nrrd"):
            return _function("nrrd_io", "write_nrrd", p)(obj, p, **options)
        if suffix in (".nii", ".nii.gz"):
            return _function("nifti_io", "write_nifti", p)(obj, p, **options)
        if suffix in (".gif", ".mp4", ".png"):
            return _preview(obj, p, suffix, options)
        if suffix == "" or p.is_dir():
            _function("dicom_export", "write_dicom_series", p)(obj, p, **options)
            return p
    elif isinstance(obj, Segmentation):
        if suffix in (".seg.nrrd", ".seq.nrrd", ".nrrd"):
            return _function("nrrd_io", "write_segmentation_nrrd", p)(obj, p, **options)
        if suffix in (".nii", ".nii.gz"):
            series = ImageSeries(obj.labels, geometry=obj.geometry, frame_times=obj.frame_times, modality="label",
                                 synthetic=obj.synthetic, provenance=obj.provenance,
                                 metadata={"labels": {str(v): i.name for v, i in obj.label_table.items()}})
            return _function("nifti_io", "write_nifti", p)(series, p, **options)
    elif isinstance(obj, DisplacementSeries):
        if suffix in (".nrrd", ".seq.nrrd"):
            return _function("nrrd_io", "write_displacement_nrrd", p)(obj, p, **options)
    elif isinstance(obj, DenseSeries):
        if name.endswith(".dense.json"):
            return _function("bundle", "write_dense_bundle", p)(obj, p, **options)
        if suffix in (".gif", ".mp4", ".png"):
            options.setdefault("overlay", obj.segmentation)
            return _preview(obj.magnitude, p, suffix, options)
    elif isinstance(obj, Ecg):
        if suffix == ".csv":
            return _function("ecg_io", "write_ecg_csv", p)(obj, p, **options)
    elif isinstance(obj, LandmarkSeries):
        if suffix == ".json":
            return _function("landmarks_io", "write_landmarks_json", p)(obj, p)
    else:
        raise CardioGenInputError("save: not a cardiogen container", source=p, expected=list(SAVE_FORMATS),
                                  got=type(obj).__name__)
    kind = type(obj).__name__
    raise CardioGenInputError(f"cannot save a {kind} as '{suffix or name}'", source=p,
                              expected=SAVE_FORMATS.get(kind), got=suffix or "(no extension)")


def _preview(series: Any, p: Path, suffix: str, options: dict) -> Path:
    fn = {".gif": "write_gif", ".mp4": "write_mp4", ".png": "mosaic_png"}[suffix]
    return _function("preview", fn, p)(series, p, **options)


# ----------------------------------------------------------------------------------------------------------------
# describe
# ----------------------------------------------------------------------------------------------------------------
def _timing(frame_times: np.ndarray) -> dict:
    times = np.asarray(frame_times, dtype=float)
    if times.size < 2:
        return {"frames": int(times.size), "frame_interval_ms": None, "duration_ms": None}
    interval = float(np.median(np.diff(times)))
    return {"frames": int(times.size), "frame_interval_ms": round(interval, 4),
            "duration_ms": round(float(times[-1] - times[0] + interval), 4)}


def _grid(geometry: Any) -> dict:
    return {"spacing_mm": [round(float(s), 6) for s in geometry.spacing],
            "origin_mm": [round(float(o), 4) for o in geometry.origin]}


def describe(obj: Any) -> dict:
    """A JSON-friendly summary of a container (used by ``cardiogen info`` and job summaries).

    Keys: ``kind``; images add modality, shape ``[t, z, y, x]``, spacing/origin (x, y, z mm), frames, frame interval
    (median step, ms), duration (last - first + one interval, ms), synthetic, value range; ECGs add leads, sampling
    rate, samples, duration (s) and heart rate (bpm, None when no two R peaks are found).
    """
    from ..data import DenseSeries, DisplacementSeries, Ecg, ImageSeries, Segmentation, StrainSeries  # noqa: PLC0415

    if isinstance(obj, ImageSeries):
        arr = obj.array
        return {"kind": "image", "modality": obj.modality, "shape": list(obj.shape), **_grid(obj.geometry),
                **_timing(obj.frame_times), "synthetic": obj.synthetic, "description": obj.description,
                "value_range": [float(arr.min()), float(arr.max())]}
    if isinstance(obj, DenseSeries):
        seg = obj.segmentation
        return {"kind": "dense", "modality": "dense", "shape": list(obj.magnitude.shape), **_grid(obj.geometry),
                **_timing(obj.frame_times), "encodings": list(obj.encodings),
                "ke_cycles_per_mm": [round(k, 6) for k in obj.ke], "synthetic": obj.magnitude.synthetic,
                "contour_frames": None if seg is None else int(seg.annotated.any(axis=1).sum())}
    if isinstance(obj, Segmentation):
        return {"kind": "segmentation", "modality": "label", "shape": list(obj.labels.shape), **_grid(obj.geometry),
                **_timing(obj.frame_times), "labels": {str(v): i.name for v, i in sorted(obj.label_table.items())},
                "labels_present": sorted(int(v) for v in np.unique(obj.labels) if v),
                "annotated_frames": int(obj.annotated.any(axis=1).sum()), "synthetic": obj.synthetic}
    if isinstance(obj, DisplacementSeries):
        mag = np.sqrt((obj.array.astype(np.float64) ** 2).sum(axis=1))
        return {"kind": "displacement", "shape": list(obj.array.shape), **_grid(obj.geometry),
                **_timing(obj.frame_times), "reference_frame": obj.reference_frame,
                "max_displacement_mm": round(float(mag.max()), 4), "synthetic": obj.synthetic}
    if isinstance(obj, StrainSeries):
        return {"kind": "strain", "components": sorted(obj.components), **_grid(obj.geometry),
                **_timing(obj.frame_times), "synthetic": obj.synthetic}
    from ..data import LandmarkSeries  # noqa: PLC0415

    if isinstance(obj, LandmarkSeries):
        labels = {k: sorted({str(v) for v in vals.tolist()})[:20] for k, vals in obj.labels.items()}
        return {"kind": "landmarks", "points": obj.n_points, **_timing(obj.frame_times),
                "layers": list(obj.layer_order), "labels": labels, "reference_frame": obj.reference_frame,
                "es_frame": obj.es_frame, "synthetic": obj.synthetic}
    if isinstance(obj, Ecg):
        try:
            hr = round(float(obj.heart_rate_bpm()), 2)
        except CardioGenInputError:
            hr = None
        return {"kind": "ecg", "leads": list(obj.lead_names), "n_leads": len(obj.lead_names),
                "sampling_rate_hz": float(obj.sampling_rate), "samples": obj.n_samples,
                "duration_s": round(float(obj.duration_s), 4), "heart_rate_bpm": hr, "synthetic": obj.synthetic}
    raise CardioGenInputError("describe: not a cardiogen container", got=type(obj).__name__)
