"""NIfTI-1/2 volumes and time series (``.nii`` / ``.nii.gz``) via nibabel.

Geometry: nibabel's ``affine`` (sform when its code is set, else qform, else the zooms) maps voxel (i, j, k) to
RAS millimetres. cardiogen is LPS, so the first two rows are negated; spacing is the length of each affine column
and ``direction`` the normalised columns. This matches what SimpleITK reports for the same file.

Time: the 4th zoom is the frame interval; ``xyzt_units`` says whether it is in s, ms or us (unknown: ms), and
``toffset`` is the time of frame 0. cardiogen writes 4D files with units mm / ms and keeps exact frame times,
modality, description, synthetic flag and provenance in a JSON header extension (NIfTI "comment" code 6, a JSON
object with a "cardiogen" key).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data import MODALITIES, Geometry, ImageSeries, Segmentation
from ..errors import CardioGenInputError, import_optional
from .atomic import atomic_path
from .sniff import check_size, full_suffix, input_errors, require_file

__all__ = ["read_nifti", "write_nifti", "read_segmentation_nifti", "guess_modality"]

_LPS = np.diag([-1.0, -1.0, 1.0])
_TIME_TO_MS = {"sec": 1000.0, "msec": 1.0, "usec": 0.001, "unknown": 1.0}
_SPACE_TO_MM = {"meter": 1000.0, "mm": 1.0, "micron": 0.001, "unknown": 1.0}
_EXTENSION_CODE = 6  # NIFTI_ECODE_COMMENT


def guess_modality(array: np.ndarray, integer_storage: bool) -> str:
    """"ct" when the file stores integers and has values below -500 (Hounsfield air), else "mr"."""
    if integer_storage and array.size and float(np.min(array)) < -500:
        return "ct"
    return "mr"


def _cardiogen_extension(header: Any) -> dict:
    extensions = getattr(header, "extensions", None) or []
    for ext in extensions:
        try:
            if int(ext.get_code()) != _EXTENSION_CODE:
                continue
            content = ext.get_content()
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
            obj = json.loads(text.rstrip("\x00 "))
        except (ValueError, TypeError, AttributeError, UnicodeError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get("cardiogen"), dict):
            return obj["cardiogen"]
    return {}


def _geometry(affine: np.ndarray, space_scale: float, path: Path) -> Geometry:
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        raise CardioGenInputError("NIfTI affine is not a finite 4x4 matrix", source=path)
    m = _LPS @ affine[:3, :3] * space_scale
    spacing = np.linalg.norm(m, axis=0)
    if not np.all(spacing > 0):
        raise CardioGenInputError("NIfTI affine has a zero-length axis (missing spacing)", source=path,
                                  got=spacing.tolist())
    direction = m / spacing
    if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
        # Slightly sheared affines (float rounding in sform) are snapped to the nearest rotation; real shears refused.
        u, _, vt = np.linalg.svd(direction)
        nearest = u @ vt
        if np.abs(nearest - direction).max() > 0.05:
            raise CardioGenInputError("NIfTI affine is sheared; cardiogen needs orthogonal axes", source=path,
                                      got=np.round(direction, 4).tolist())
        direction = nearest
    origin = _LPS @ affine[:3, 3] * space_scale
    return Geometry(spacing=tuple(spacing), origin=tuple(origin), direction=direction)


def _to_tzyx(data: np.ndarray, path: Path) -> np.ndarray:
    """nibabel (x, y, z[, t]) -> (t, z, y, x)."""
    if data.ndim > 4:
        extra = data.shape[4:]
        if int(np.prod(extra)) != 1:
            raise CardioGenInputError("NIfTI with more than 4 dimensions (vector/tensor images) is not supported",
                                      source=path, got=f"shape {data.shape}")
        data = data.reshape(data.shape[:4])
    if data.ndim == 2:
        return data.T[None, None]
    if data.ndim == 3:
        return data.T[None]
    if data.ndim == 4:
        return data.transpose(3, 2, 1, 0)
    raise CardioGenInputError("NIfTI image must be 2D, 3D or 4D", source=path, got=f"shape {data.shape}")


def _load(path: Path) -> Any:
    nib = import_optional("nibabel", package="nibabel", feature="reading NIfTI")  # light `import cardiogen.io`
    from nibabel.filebasedimages import ImageFileError  # noqa: PLC0415
    from nibabel.imageglobals import LoggingOutputSuppressor  # noqa: PLC0415
    from nibabel.spatialimages import HeaderDataError  # noqa: PLC0415

    with input_errors(path, "NIfTI file", extra=(ImageFileError, HeaderDataError)):
        suffix = full_suffix(path)
        if suffix not in (".nii", ".nii.gz"):
            raise CardioGenInputError("NIfTI files must end in .nii or .nii.gz", source=path, got=suffix)
        with LoggingOutputSuppressor():  # nibabel logs the header fields it repairs
            img = nib.load(str(path))
        if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
            raise CardioGenInputError("not a NIfTI-1/2 image", source=path, got=type(img).__name__)
        shape = tuple(int(s) for s in img.shape)
        if not shape or min(shape) < 1:
            raise CardioGenInputError("NIfTI image has an empty dimension", source=path, got=shape)
        dtype = np.dtype(img.get_data_dtype())
        check_size(int(np.prod(shape, dtype=object)), max(dtype.itemsize, 4), path, "NIfTI image")
        return img


def read_nifti(path: str | os.PathLike, *, modality: str | None = None) -> ImageSeries:
    """Read a 2D/3D/4D NIfTI file as an LPS :class:`ImageSeries`.

    Args:
        path: ``.nii`` or ``.nii.gz``.
        modality: one of :data:`~cardiogen.data.MODALITIES`; default: stored by cardiogen, else
            :func:`guess_modality` ("ct" for integer data with values below -500 HU, else "mr").

    Returns:
        float32 ``(t, z, y, x)`` series (scl_slope/inter applied); frame times in ms from the 4th zoom.
    """
    p = require_file(path, "NIfTI file")
    if modality is not None and modality not in MODALITIES:
        raise CardioGenInputError("unknown modality", expected=MODALITIES, got=modality)
    img = _load(p)
    with input_errors(p, "NIfTI file"):
        header = img.header
        space_unit, time_unit = header.get_xyzt_units()
        space_scale = _SPACE_TO_MM.get(space_unit, 1.0)
        geometry = _geometry(img.affine, space_scale, p)
        raw_dtype = np.dtype(img.get_data_dtype())
        with np.errstate(all="ignore"):
            data = np.asanyarray(img.dataobj)
        if data.dtype.kind == "c" or data.dtype.names:
            raise CardioGenInputError("complex / RGB NIfTI images are not supported", source=p, got=str(data.dtype))
        arr = _to_tzyx(np.asarray(data), p)
        stored = _cardiogen_extension(header)
        n_frames = arr.shape[0]
        times = _frame_times(header, time_unit, n_frames, stored)
        if modality is None:
            modality = stored.get("modality") if stored.get("modality") in MODALITIES else None
        if modality is None:
            modality = guess_modality(arr, raw_dtype.kind in "iu")
        descrip = header.get("descrip")
        descrip_text = bytes(np.asarray(descrip).item()).decode("latin-1", "replace") if descrip is not None else ""
        description = stored.get("description") if isinstance(stored.get("description"), str) else descrip_text
        synthetic = bool(stored.get("synthetic", False)) or "SYNTHETIC" in (description + descrip_text).upper()
        provenance = stored.get("provenance") if isinstance(stored.get("provenance"), dict) else {}
        metadata = stored.get("metadata") if isinstance(stored.get("metadata"), dict) else {}
        metadata.update(format="nifti", source_file=str(p), nifti_dtype=str(raw_dtype),
                        xyzt_units=[space_unit, time_unit],
                        sform_code=int(header.get("sform_code", 0)), qform_code=int(header.get("qform_code", 0)))
        return ImageSeries(arr, geometry=geometry, frame_times=times, modality=modality, synthetic=synthetic,
                           provenance=provenance, description=description.strip("\x00 "), metadata=metadata)


def _frame_times(header: Any, time_unit: str, n_frames: int, stored: dict) -> np.ndarray | None:
    exact = stored.get("frame_times")
    if isinstance(exact, list) and len(exact) == n_frames:
        try:
            values = np.asarray(exact, dtype=float)
            if np.all(np.isfinite(values)) and (n_frames == 1 or np.all(np.diff(values) > 0)):
                return values
        except (TypeError, ValueError):
            pass
    if n_frames == 1:
        return None
    zooms = header.get_zooms()
    scale = _TIME_TO_MS.get(time_unit, 1.0)
    step = float(zooms[3]) * scale if len(zooms) > 3 else 0.0
    offset = float(header.get("toffset", 0.0)) * scale
    if not np.isfinite(offset):
        offset = 0.0
    if not (np.isfinite(step) and step > 0):
        return None  # no usable interval: frame index (0, 1, 2 ...)
    return offset + np.arange(n_frames) * step


def _storage(array: np.ndarray) -> np.ndarray:
    arr = np.asarray(array)
    if np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)) and arr.size:
        lo, hi = float(arr.min()), float(arr.max())
        for dtype in (np.uint8, np.int16, np.int32):
            info = np.iinfo(dtype)
            if info.min <= lo and hi <= info.max:
                return arr.astype(dtype)
    return arr.astype(np.float32, copy=False)


def write_nifti(series: ImageSeries, path: str | os.PathLike) -> Path:
    """Write an :class:`ImageSeries` as NIfTI-1 (``.nii`` or ``.nii.gz``); 4D when t > 1.

    The affine (RAS) is set as both sform and qform (code 1, scanner); units are mm and ms; the 4th zoom is the
    median frame interval and ``toffset`` the first frame time. Exact frame times and cardiogen facts go into a JSON
    header extension. Whole-number images are stored as uint8/int16/int32, others as float32. Written atomically.
    """
    nib = import_optional("nibabel", package="nibabel", feature="writing NIfTI")

    if not isinstance(series, ImageSeries):
        raise CardioGenInputError("write_nifti expects an ImageSeries", got=type(series).__name__)
    path = Path(path)
    if full_suffix(path) not in (".nii", ".nii.gz"):
        raise CardioGenInputError("NIfTI files must end in .nii or .nii.gz", source=path)
    data = _storage(series.array)  # (t, z, y, x)
    data = data[0].T if series.n_frames == 1 else data.transpose(3, 2, 1, 0)
    affine = np.eye(4)
    affine[:3, :3] = _LPS @ series.geometry.direction @ np.diag(series.geometry.spacing)
    affine[:3, 3] = _LPS @ np.asarray(series.geometry.origin)
    img = nib.Nifti1Image(np.ascontiguousarray(data) if data.flags.c_contiguous else data, affine)
    header = img.header
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    header.set_xyzt_units("mm", "msec")
    if series.n_frames > 1:
        dt = float(np.median(np.diff(series.frame_times)))
        header.set_zooms(tuple(series.geometry.spacing) + (dt,))
        header["toffset"] = float(series.frame_times[0])
    desc = (series.description or "").encode("ascii", "replace")[:79]
    if series.synthetic and b"SYNTHETIC" not in desc.upper():
        desc = (b"SYNTHETIC " + desc)[:79]
    header["descrip"] = desc
    payload = {"cardiogen": {
        "modality": series.modality, "description": series.description, "synthetic": series.synthetic,
        "provenance": series.provenance, "frame_times": series.frame_times,
        "metadata": {k: v for k, v in series.metadata.items() if k not in ("xyzt_units", "sform_code", "qform_code")},
    }}
    text = json.dumps(payload, default=_json_default, ensure_ascii=True)
    header.extensions.append(nib.nifti1.Nifti1Extension(_EXTENSION_CODE, text.encode("ascii")))
    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def read_segmentation_nifti(path: str | os.PathLike, *, label_table: dict | None = None) -> Segmentation:
    """Read a NIfTI label map (e.g. a TotalSegmentator mask) as a :class:`Segmentation` on its own grid.

    Values must be whole numbers 0..255; names come from ``label_table`` (value -> LabelInfo or name), else
    "label <v>" (colors of :data:`~cardiogen.data.STANDARD_LABELS` where defined).
    """
    from ..data import STANDARD_LABELS, LabelInfo  # noqa: PLC0415

    p = Path(path)
    series = read_nifti(p, modality="label")
    with input_errors(p, "NIfTI label map"):
        arr = series.array
        if np.any(arr != np.round(arr)) or arr.min() < 0 or arr.max() > 255:
            raise CardioGenInputError("label map values must be whole numbers in 0..255", source=p)
        values = sorted(set(np.unique(arr).astype(int).tolist()) - {0})
        given = {int(v): i if isinstance(i, LabelInfo) else LabelInfo(str(i)) for v, i in (label_table or {}).items()}
        table = {v: given.get(v) or LabelInfo(f"label {v}", STANDARD_LABELS[v].color if v in STANDARD_LABELS
                                              else (1.0, 1.0, 1.0)) for v in values}
        return Segmentation(arr.astype(np.uint8), label_table=table, geometry=series.geometry,
                            frame_times=series.frame_times, synthetic=series.synthetic,
                            provenance=series.provenance)
