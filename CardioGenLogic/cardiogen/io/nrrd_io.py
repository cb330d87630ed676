"""NRRD files: plain volumes, Slicer volume sequences (``.seq.nrrd``), segmentations (``.seg.nrrd``) and
displacement fields.

Layout on disk (NRRD axes are listed fastest first, i.e. (x, y, z[, t]) while cardiogen arrays are (t, z, y, x)):

* static image (t = 1): 3D NRRD, ``kinds: domain domain domain``, ``space: left-posterior-superior``,
  ``space directions`` = column i of ``direction`` times ``spacing[i]``, ``space origin``.
* image series (t > 1): Slicer sequence file, written as ``.seq.nrrd``: the list (time) axis is the LAST NRRD axis,
  ``kinds: domain domain domain list``, a ``none`` space direction for it, ``labels``/``units`` name it "time"/"ms"
  and Slicer's custom field ``axis 3 index values:=0 40 80 ...`` holds the frame times in ms.
* segmentation, one frame: Slicer ``.seg.nrrd`` (uint8 label map with ``Segment<i>_ID/Name/Color/LabelValue/Layer/
  Extent`` fields); several frames: a label-map sequence (``DataNodeClassName:=vtkMRMLLabelMapVolumeNode``).
* displacement: vector NRRD, component axis first (``kinds: vector domain domain domain [list]``), components
  (x, y, z) in LPS millimetres (ITK / Slicer grid-transform convention), list axis last for several frames.

cardiogen facts travel in custom ``cardiogen_<name>:=<JSON>`` fields (modality, description, synthetic flag,
provenance, metadata, label table ...). Reading accepts RAS / LAS / LPS spaces (converted to LPS), 2D/3D/4D files,
sequences with the list axis first (older Slicer) or last, and ``spacings`` when ``space directions`` is absent;
a file without either has no geometry and is refused ("missing spacing").
"""
from __future__ import annotations

import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data import MODALITIES, STANDARD_LABELS, DisplacementSeries, Geometry, ImageSeries, LabelInfo, Segmentation
from ..errors import CardioGenInputError
from .atomic import atomic_path
from .sniff import check_size, full_suffix, input_errors, require_file

__all__ = [
    "read_nrrd",
    "write_nrrd",
    "read_segmentation_nrrd",
    "write_segmentation_nrrd",
    "read_displacement_nrrd",
    "write_displacement_nrrd",
    "read_nrrd_header",
    "nrrd_content_kind",
]

_LIST_KINDS = {"list", "sequence", "time"}
_VECTOR_KINDS = {
    "vector", "covariant-vector", "normal", "2-vector", "3-vector", "4-vector", "3-gradient", "3-normal",
    "3-color", "rgb-color", "hsv-color", "xyz-color", "4-color", "rgba-color", "point", "complex", "quaternion",
    "2d-symmetric-matrix", "2d-masked-symmetric-matrix", "2d-matrix", "2d-masked-matrix", "3d-symmetric-matrix",
    "3d-masked-symmetric-matrix", "3d-matrix", "3d-masked-matrix",
}
_SPATIAL_KINDS = {"domain", "space"}
# NRRD 'space' value -> signs that turn its first three world axes into LPS.
_SPACE_SIGNS = {
    "left-posterior-superior": (1.0, 1.0, 1.0), "lps": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0), "ras": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (1.0, -1.0, 1.0), "las": (1.0, -1.0, 1.0),
    "scanner-xyz": (1.0, 1.0, 1.0), "3d-right-handed": (1.0, 1.0, 1.0), "3d-left-handed": (1.0, 1.0, 1.0),
}
_ENCODINGS = {"raw", "gzip", "gz", "bzip2", "bz2", "ascii", "text", "txt"}
_SECONDS_UNITS = {"s", "sec", "secs", "second", "seconds"}
_SEGMENT_KEY = re.compile(r"^Segment(\d+)_(\w+)$")
_INDEX_VALUES_KEY = re.compile(r"^axis (\d+) index values$")
_MAX_CUSTOM_FIELDS = 400
_MAX_HEADER_BYTES = 1 << 20

#: gzip level for written files (1 is ~5x faster than 9 and only slightly larger on images).
COMPRESSION_LEVEL = 1


# ----------------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Raw:
    """What a NRRD file holds, in cardiogen order."""

    data: np.ndarray  # (t, c, z, y, x), native dtype
    geometry: Geometry
    frame_times: np.ndarray | None
    header: dict
    list_axis: int | None
    component_axis: int | None
    n_spatial: int
    space_signs: tuple[float, float, float]
    custom: dict = field(default_factory=dict)  # cardiogen_* fields, JSON-decoded


def read_nrrd_header(path: str | os.PathLike) -> dict:
    """The parsed NRRD header of ``path`` (pynrrd types; custom ``key:=value`` fields as strings)."""
    p = require_file(path, "NRRD file")
    import nrrd  # noqa: PLC0415 (keep `import cardiogen.io` light)

    with input_errors(p, "NRRD header", extra=(nrrd.NRRDError,)):
        with open(p, "rb") as fh:
            return _parse_header(fh, p)


def _parse_header(fh: Any, path: Path) -> dict:
    import nrrd  # noqa: PLC0415

    magic = fh.read(8)
    if not magic.startswith(b"NRRD000"):
        raise CardioGenInputError("not a NRRD file (missing 'NRRD000x' magic line)", source=path, got=magic[:8])
    fh.seek(0)
    head = fh.read(_MAX_HEADER_BYTES)
    end = head.find(b"\n\n")
    if end < 0:
        end = head.find(b"\r\n\r\n")
    if end < 0 and len(head) >= _MAX_HEADER_BYTES:
        raise CardioGenInputError("NRRD header has no end (no blank line in the first 1 MB)", source=path)
    for number, line in enumerate(head[:end if end >= 0 else len(head)].split(b"\n")[1:], start=2):
        text = line.strip()
        if text and not text.startswith(b"#") and b":" not in text:
            raise CardioGenInputError(f"NRRD header line {number} is not 'field: value'", source=path,
                                      got=text[:60].decode("latin-1"))
    fh.seek(0)
    return dict(nrrd.read_header(fh))


def _validate_header(header: dict, path: Path) -> tuple[int, list[int], np.dtype]:
    from nrrd.reader import _TYPEMAP_NRRD2NUMPY  # noqa: PLC0415

    for required in ("dimension", "type", "encoding", "sizes"):
        if required not in header:
            raise CardioGenInputError(f"NRRD header is missing the required field '{required}'", source=path)
    dim = int(header["dimension"])
    sizes = [int(s) for s in np.asarray(header["sizes"]).reshape(-1)]
    if not 1 <= dim <= 16 or len(sizes) != dim:
        raise CardioGenInputError("NRRD 'dimension' and 'sizes' disagree", source=path, expected=dim, got=sizes)
    if min(sizes) < 1:
        raise CardioGenInputError("NRRD 'sizes' must be >= 1", source=path, got=sizes)
    ntype = str(header["type"]).strip()
    if ntype not in _TYPEMAP_NRRD2NUMPY or ntype == "block":
        raise CardioGenInputError("unsupported NRRD data type", source=path, got=ntype)
    encoding = str(header["encoding"]).strip().lower()
    if encoding not in _ENCODINGS:
        raise CardioGenInputError("unsupported NRRD encoding", source=path, expected=sorted(_ENCODINGS), got=encoding)
    dtype = np.dtype(_TYPEMAP_NRRD2NUMPY[ntype])
    check_size(int(np.prod(sizes, dtype=object)), dtype.itemsize, path, "NRRD image")
    return dim, sizes, dtype


def _check_data_file(header: dict, path: Path) -> None:
    name = header.get("datafile", header.get("data file"))
    if name is None:
        return
    name = str(name).strip()
    if name.upper().startswith("LIST") or "%" in name:
        raise CardioGenInputError("NRRD data file lists / patterns are not supported", source=path, got=name)
    data_path = Path(name) if os.path.isabs(name) else path.parent / name
    if not data_path.is_file():
        raise CardioGenInputError("NRRD data file not found (or not a regular file)", source=path, got=str(data_path))


def _roles(header: dict, dim: int, path: Path) -> tuple[list[int], int | None, int | None]:
    """(spatial axes, component axis, list axis) in NRRD axis numbers."""
    kinds = header.get("kinds")
    if kinds is not None:
        kinds = [str(k).lower() for k in kinds]
        if len(kinds) != dim:
            raise CardioGenInputError("NRRD 'kinds' needs one entry per axis", source=path, expected=dim,
                                      got=len(kinds))
    else:
        kinds = [None] * dim
    directions = header.get("space directions")
    if directions is not None:
        sd = np.asarray(directions, dtype=float)
        if sd.ndim != 2 or sd.shape[0] != dim:
            raise CardioGenInputError("NRRD 'space directions' needs one vector (or 'none') per axis", source=path,
                                      expected=dim, got=f"shape {sd.shape}")
        finite_rows = np.all(np.isfinite(sd), axis=1)
        partial = np.any(np.isfinite(sd), axis=1) & ~finite_rows
        if np.any(partial):
            raise CardioGenInputError("NRRD 'space directions' has non-finite values", source=path)
        spatial = [i for i in range(dim) if finite_rows[i]]
    else:
        spacings = header.get("spacings")
        if spacings is None:
            raise CardioGenInputError(
                "missing spacing: the NRRD header has neither 'space directions' nor 'spacings'", source=path,
                expected="voxel geometry (cardiogen requires spacing)")
        spacings = np.asarray(spacings, dtype=float).reshape(-1)
        if spacings.size != dim:
            raise CardioGenInputError("NRRD 'spacings' needs one value per axis", source=path, expected=dim,
                                      got=spacings.size)
        spatial = [i for i in range(dim) if np.isfinite(spacings[i]) and kinds[i] in (None, *_SPATIAL_KINDS)][:3]
    others = [i for i in range(dim) if i not in spatial]
    if len(spatial) not in (2, 3):
        raise CardioGenInputError("NRRD image must have 2 or 3 spatial axes", source=path, got=len(spatial))
    comp = [i for i in others if kinds[i] in _VECTOR_KINDS]
    lst = [i for i in others if i not in comp]
    if not comp and len(lst) == 2:
        comp, lst = [lst[0]], [lst[1]]
    if len(comp) > 1 or len(lst) > 1:
        raise CardioGenInputError("unsupported NRRD axis layout (too many non-spatial axes)", source=path,
                                  got=kinds)
    return spatial, (comp[0] if comp else None), (lst[0] if lst else None)


def _space_signs(header: dict, path: Path) -> tuple[float, float, float]:
    space = header.get("space")
    if space is None:
        sdim = header.get("space dimension")
        if sdim is not None and int(sdim) not in (2, 3):
            raise CardioGenInputError("unsupported NRRD space dimension", source=path, expected="2 or 3", got=sdim)
        return (1.0, 1.0, 1.0)  # ITK convention: an unnamed space is LPS
    key = str(space).strip().lower()
    if key not in _SPACE_SIGNS:
        raise CardioGenInputError("unsupported NRRD space", source=path, expected=sorted(_SPACE_SIGNS), got=space)
    return _SPACE_SIGNS[key]


def _pad3(vec: np.ndarray, path: Path, what: str) -> np.ndarray:
    vec = np.asarray(vec, dtype=float).reshape(-1)
    if vec.size == 2:
        vec = np.append(vec, 0.0)
    if vec.size != 3:
        raise CardioGenInputError(f"NRRD {what} must have 2 or 3 components", source=path, got=vec.size)
    if not np.all(np.isfinite(vec)):
        raise CardioGenInputError(f"NRRD {what} has non-finite values", source=path)
    return vec


def _geometry(header: dict, spatial: list[int], signs: tuple[float, float, float], path: Path) -> Geometry:
    directions = header.get("space directions")
    cols, spacing = [], []
    if directions is not None:
        sd = np.asarray(directions, dtype=float)
        for axis in spatial:
            vec = _pad3(sd[axis], path, "space direction")
            norm = float(np.linalg.norm(vec))
            if not norm > 0:
                raise CardioGenInputError("NRRD space direction has zero length", source=path, got=vec.tolist())
            cols.append(vec / norm)
            spacing.append(norm)
    else:
        spacings = np.asarray(header["spacings"], dtype=float).reshape(-1)
        for k, axis in enumerate(spatial):
            if not spacings[axis] > 0:
                raise CardioGenInputError("NRRD 'spacings' must be > 0", source=path, got=float(spacings[axis]))
            cols.append(np.eye(3)[k])
            spacing.append(float(spacings[axis]))
    if len(cols) == 2:
        normal = np.cross(cols[0], cols[1])
        norm = float(np.linalg.norm(normal))
        if not norm > 0:
            raise CardioGenInputError("NRRD in-plane space directions are parallel", source=path)
        cols.append(normal / norm)
        thick = header.get("thicknesses")
        z = 1.0
        if thick is not None:
            values = np.asarray(thick, dtype=float).reshape(-1)
            finite = values[np.isfinite(values) & (values > 0)]
            z = float(finite[0]) if finite.size else 1.0
        spacing.append(z)
    flip = np.diag(signs)
    direction = flip @ np.stack(cols, axis=1)
    origin = np.zeros(3)
    if header.get("space origin") is not None:
        origin = _pad3(header["space origin"], path, "space origin")
    origin = flip @ origin
    return Geometry(spacing=tuple(spacing), origin=tuple(origin), direction=direction)


def _custom_fields(header: dict) -> dict:
    out = {}
    for key, value in header.items():
        if isinstance(key, str) and key.startswith("cardiogen_"):
            try:
                out[key[len("cardiogen_"):]] = json.loads(str(value))
            except (ValueError, TypeError):
                out[key[len("cardiogen_"):]] = _CORRUPT
    return out


class _Corrupt:
    def __repr__(self) -> str:
        return "<corrupt>"


_CORRUPT = _Corrupt()


def _index_values(header: dict, list_axis: int, n_frames: int, path: Path) -> tuple[np.ndarray | None, str]:
    keys = {int(m.group(1)): k for k in header if isinstance(k, str) and (m := _INDEX_VALUES_KEY.match(k))}
    if not keys:
        return None, ""
    key = keys.get(list_axis) or keys.get(3) or keys.get(0) or next(iter(keys.values()))
    type_key = key.replace("values", "type")
    text = str(header[key]).split()
    if str(header.get(type_key, "numeric")).strip().lower() == "text":
        return None, "text"
    try:
        values = np.array([float(v) for v in text], dtype=float)
    except ValueError as exc:
        raise CardioGenInputError(f"NRRD '{key}' are not numbers", source=path, got=" ".join(text[:5])) from exc
    if values.size != n_frames:
        raise CardioGenInputError(f"NRRD '{key}' must have one value per frame", source=path, expected=n_frames,
                                  got=values.size)
    return values, key


def _frame_times(header: dict, list_axis: int | None, n_frames: int, custom: dict,
                 path: Path) -> np.ndarray | None:
    if list_axis is None:
        stored = custom.get("frame_times")
        if isinstance(stored, list) and len(stored) == n_frames:
            try:
                return np.asarray(stored, dtype=float)
            except (TypeError, ValueError):
                return None
        return None
    unit = ""
    units = header.get("units")
    if units is not None and len(units) == int(header["dimension"]):
        unit = str(units[list_axis]).strip().lower()
    scale = 1000.0 if unit in _SECONDS_UNITS else 1.0
    values, _ = _index_values(header, list_axis, n_frames, path)
    if values is not None:
        return values * scale
    spacings = header.get("spacings")
    if spacings is not None:
        step = float(np.asarray(spacings, dtype=float).reshape(-1)[list_axis])
        if np.isfinite(step) and step > 0:
            return np.arange(n_frames) * step * scale
    return None


def _read_raw(path: str | os.PathLike) -> _Raw:
    import nrrd  # noqa: PLC0415

    p = require_file(path, "NRRD file")
    with input_errors(p, "NRRD file", extra=(nrrd.NRRDError,)), np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with open(p, "rb") as fh:
            header = _parse_header(fh, p)
            dim, sizes, _ = _validate_header(header, p)
            spatial, comp, lst = _roles(header, dim, p)
            signs = _space_signs(header, p)
            geometry = _geometry(header, spatial, signs, p)
            _check_data_file(header, p)
            data = nrrd.read_data(header, fh, str(p), index_order="F")
        if tuple(data.shape) != tuple(sizes):
            raise CardioGenInputError("NRRD data does not match 'sizes'", source=p, expected=sizes, got=data.shape)
        order = ([lst] if lst is not None else []) + ([comp] if comp is not None else []) + spatial[::-1]
        arr = np.transpose(data, order)
        if lst is None:
            arr = arr[None]
        if comp is None:
            arr = arr[:, None]
        if len(spatial) == 2:
            arr = arr[:, :, None]
        arr = np.ascontiguousarray(arr)
        if arr.dtype.byteorder not in ("=", "|"):
            arr = arr.astype(arr.dtype.newbyteorder("="))
        custom = _custom_fields(header)
        times = _frame_times(header, lst, arr.shape[0], custom, p)
        return _Raw(arr, geometry, times, header, lst, comp, len(spatial), signs, custom)


def _text_custom(header: dict) -> dict:
    """Non-cardiogen custom fields (strings), bounded, for metadata."""
    skip = {"type", "dimension", "space", "sizes", "space directions", "kinds", "endian", "encoding", "space origin",
            "labels", "units", "spacings", "thicknesses", "space dimension", "measurement frame", "space units",
            "data file", "datafile", "content", "centerings", "axis mins", "axismins", "axis maxs", "axismaxs",
            "min", "max", "old min", "oldmin", "old max", "oldmax", "line skip", "lineskip", "byte skip",
            "byteskip", "sample units"}
    out = {}
    for key, value in header.items():
        if len(out) >= _MAX_CUSTOM_FIELDS:
            break
        if isinstance(key, str) and key not in skip and not key.startswith("cardiogen_"):
            out[key] = str(value)[:2000]
    return out


def _synthetic_flag(custom: dict, description: str) -> bool:
    flag = custom.get("synthetic", False)
    if flag is _CORRUPT:
        return True  # cannot tell: err on the side of marking it synthetic
    return bool(flag) or "SYNTHETIC" in description.upper()


def _string(custom: dict, key: str) -> str:
    value = custom.get(key, "")
    return value if isinstance(value, str) else ""


def _dict(custom: dict, key: str) -> dict:
    value = custom.get(key, {})
    return value if isinstance(value, dict) else {}


def _axis_label(header: dict, axis: int | None) -> tuple[str, str]:
    if axis is None:
        return "", ""
    dim = int(header["dimension"])
    labels, units = header.get("labels"), header.get("units")
    label = str(labels[axis]) if labels is not None and len(labels) == dim else ""
    unit = str(units[axis]) if units is not None and len(units) == dim else ""
    return label, unit


def read_nrrd(path: str | os.PathLike, *, modality: str | None = None) -> ImageSeries:
    """Read a 2D/3D/4D NRRD or a Slicer ``.seq.nrrd`` volume sequence.

    Args:
        path: ``.nrrd``, ``.nhdr`` or ``.seq.nrrd`` file.
        modality: modality to assign; default the stored ``cardiogen_modality``, else "label" for label-map
            sequences, else "other".

    Returns:
        :class:`ImageSeries`, float32 ``(t, z, y, x)``, LPS geometry, frame times in ms (from Slicer's
        ``axis N index values``; seconds are converted when the list axis unit says so; else 0, 1, 2 ...).

    Raises:
        CardioGenInputError: the file is missing, corrupt, has no geometry ("missing spacing"), has several
            components per voxel (use :func:`read_displacement_nrrd`), or sizes above 2 GB.
    """
    p = Path(path)
    raw = _read_raw(p)
    with input_errors(p, "NRRD file"):
        if raw.data.shape[1] != 1:
            raise CardioGenInputError(
                f"NRRD has {raw.data.shape[1]} components per voxel; read_nrrd reads scalar images "
                "(use read_displacement_nrrd for vector fields)", source=p)
        custom = raw.custom
        description = _string(custom, "description")
        stored_modality = custom.get("modality")
        if modality is not None:
            mod = modality
        elif isinstance(stored_modality, str) and stored_modality in MODALITIES:
            mod = stored_modality
        elif str(raw.header.get("DataNodeClassName", "")).strip() == "vtkMRMLLabelMapVolumeNode":
            mod = "label"
        else:
            mod = "other"
        if modality is not None and modality not in MODALITIES:
            raise CardioGenInputError("unknown modality", expected=MODALITIES, got=modality)
        label, unit = _axis_label(raw.header, raw.list_axis)
        metadata = _dict(custom, "metadata")
        metadata.update(format="nrrd", source_file=str(p), nrrd_type=str(raw.header.get("type")),
                        nrrd_space=str(raw.header.get("space", "")), sequence_index_name=label,
                        sequence_index_unit=unit, nrrd_fields=_text_custom(raw.header))
        return ImageSeries(raw.data[:, 0], geometry=raw.geometry, frame_times=raw.frame_times, modality=mod,
                           synthetic=_synthetic_flag(custom, description), provenance=_dict(custom, "provenance"),
                           description=description, metadata=metadata)


def nrrd_content_kind(path: str | os.PathLike) -> str:
    """"image", "segmentation" or "displacement": what a NRRD file holds, from its header only."""
    header = read_nrrd_header(path)
    kind = str(header.get("cardiogen_kind", "")).strip().strip('"')
    if kind in ("image", "segmentation", "displacement"):
        return kind
    if "Segmentation_MasterRepresentation" in header or any(isinstance(k, str) and _SEGMENT_KEY.match(k)
                                                            for k in header):
        return "segmentation"
    if str(header.get("DataNodeClassName", "")).strip() == "vtkMRMLLabelMapVolumeNode":
        return "segmentation"
    kinds = [str(k).lower() for k in header.get("kinds", [])]
    if any(k in _VECTOR_KINDS for k in kinds):
        return "displacement"
    return "image"


# ----------------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------------
def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=True, separators=(",", ":"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    return str(obj)


def _storage(array: np.ndarray) -> np.ndarray:
    """Smallest exact on-disk dtype: uint8 / int16 / uint16 / int32 for whole numbers, else float32."""
    arr = np.asarray(array)
    if arr.dtype.kind in "biu":
        lo, hi = int(arr.min()), int(arr.max())
    elif arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)):
        lo, hi = float(arr.min()), float(arr.max())
    else:
        return arr.astype(np.float32, copy=False)
    for dtype in (np.uint8, np.int16, np.uint16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return arr.astype(dtype)
    return arr.astype(np.float32, copy=False)


def _space_directions(geometry: Geometry, leading_none: int = 0, trailing_none: int = 0) -> np.ndarray:
    rows = [np.full(3, np.nan)] * leading_none
    rows += [geometry.direction[:, i] * geometry.spacing[i] for i in range(3)]
    rows += [np.full(3, np.nan)] * trailing_none
    return np.array(rows, dtype=float)


def _times_text(times: np.ndarray) -> str:
    return " ".join(format(float(t), ".10g") for t in times)


def _base_header(geometry: Geometry, kinds: list[str], leading_none: int = 0, trailing_none: int = 0) -> dict:
    return {
        "space": "left-posterior-superior",
        "space directions": _space_directions(geometry, leading_none, trailing_none),
        "kinds": kinds,
        "encoding": "gzip",
        "space origin": np.asarray(geometry.origin, dtype=float),
    }


def _sequence_fields(header: dict, times: np.ndarray, n_axes: int, node_class: str) -> None:
    header["labels"] = [""] * (n_axes - 1) + ["time"]
    header["units"] = [""] * (n_axes - 1) + ["ms"]
    header["DataNodeClassName"] = node_class
    header["axis 3 index type"] = "numeric"
    header["axis 3 index values"] = _times_text(times)


def _common_custom(header: dict, kind: str, *, modality: str | None = None, description: str = "",
                   synthetic: bool = False, provenance: dict | None = None, metadata: dict | None = None) -> None:
    from .. import __version__  # noqa: PLC0415

    header["cardiogen_kind"] = _json(kind)
    if modality is not None:
        header["cardiogen_modality"] = _json(modality)
    header["cardiogen_description"] = _json(description)
    header["cardiogen_synthetic"] = _json(bool(synthetic))
    header["cardiogen_provenance"] = _json(provenance or {})
    if metadata:
        header["cardiogen_metadata"] = _json({k: v for k, v in metadata.items() if k != "nrrd_fields"})
    header["cardiogen_version"] = _json(__version__)


def _write(path: str | os.PathLike, data_f: np.ndarray, header: dict) -> Path:
    import nrrd  # noqa: PLC0415

    path = Path(path)
    with atomic_path(path) as tmp:
        nrrd.write(str(tmp), data_f, header, index_order="F", compression_level=COMPRESSION_LEVEL)
    return path


def _require(obj: Any, cls: type, what: str) -> None:
    if not isinstance(obj, cls):
        raise CardioGenInputError(f"{what} expects a {cls.__name__}", got=type(obj).__name__)


def write_nrrd(series: ImageSeries, path: str | os.PathLike) -> Path:
    """Write an :class:`ImageSeries` as NRRD (t = 1) or as a Slicer volume sequence (t > 1, use ``.seq.nrrd``).

    A static series written to a ``.seq.nrrd`` path becomes a one-item sequence. Values are stored exactly in the
    smallest fitting integer type when they are whole numbers, else float32. Written atomically.

    Returns:
        the path written.
    """
    _require(series, ImageSeries, "write_nrrd")
    arr = _storage(series.array)  # (t, z, y, x)
    sequence = series.n_frames > 1 or full_suffix(path) == ".seq.nrrd"
    if sequence:
        header = _base_header(series.geometry, ["domain"] * 3 + ["list"], trailing_none=1)
        _sequence_fields(header, series.frame_times, 4, "vtkMRMLScalarVolumeNode")
        data = arr.transpose(3, 2, 1, 0)
    else:
        header = _base_header(series.geometry, ["domain"] * 3)
        data = arr[0].transpose(2, 1, 0)
    _common_custom(header, "image", modality=series.modality, description=series.description,
                   synthetic=series.synthetic, provenance=series.provenance, metadata=series.metadata)
    if not sequence:
        header["cardiogen_frame_times"] = _json(series.frame_times)
    return _write(path, data, header)


# ----------------------------------------------------------------------------------------------------------------
# Segmentations
# ----------------------------------------------------------------------------------------------------------------
def _color_text(color: tuple[float, float, float]) -> str:
    return " ".join(format(float(c), ".6g") for c in color)


def _extent(mask: np.ndarray) -> str:
    """Slicer extent 'x0 x1 y0 y1 z0 z1' of a bool (z, y, x) mask ('0 -1 0 -1 0 -1' when empty)."""
    if not mask.any():
        return "0 -1 0 -1 0 -1"
    z, y, x = np.nonzero(mask)
    return f"{x.min()} {x.max()} {y.min()} {y.max()} {z.min()} {z.max()}"


def _labels_json(table: dict) -> str:
    return _json({str(v): {"name": info.name, "color": list(info.color)} for v, info in sorted(table.items())})


def write_segmentation_nrrd(seg: Segmentation, path: str | os.PathLike) -> Path:
    """Write a :class:`Segmentation`.

    One frame: a Slicer ``.seg.nrrd`` (uint8 label map, one ``Segment<i>_*`` field group per label, all in layer 0).
    Several frames: a label-map volume sequence (list axis last, ``DataNodeClassName:=vtkMRMLLabelMapVolumeNode``,
    frame times as Slicer index values), whatever the name. Name such files ``.seq.nrrd``: Slicer opens a
    ``.seg.nrrd`` as a segmentation and would take the frames for layers. cardiogen reads both back as frames.
    """
    _require(seg, Segmentation, "write_segmentation_nrrd")
    path = Path(path)
    labels = seg.labels  # (t, z, y, x) uint8
    sequence = seg.n_frames > 1 or full_suffix(path) == ".seq.nrrd"
    if sequence:
        header = _base_header(seg.geometry, ["domain"] * 3 + ["list"], trailing_none=1)
        _sequence_fields(header, seg.frame_times, 4, "vtkMRMLLabelMapVolumeNode")
        data = labels.transpose(3, 2, 1, 0)
    else:
        header = _base_header(seg.geometry, ["domain"] * 3)
        data = labels[0].transpose(2, 1, 0)
        for i, (value, info) in enumerate(sorted(seg.label_table.items())):
            header[f"Segment{i}_Color"] = _color_text(info.color)
            header[f"Segment{i}_ColorAutoGenerated"] = "0"
            header[f"Segment{i}_Extent"] = _extent(labels[0] == value)
            header[f"Segment{i}_ID"] = f"Segment_{value}"
            header[f"Segment{i}_LabelValue"] = str(value)
            header[f"Segment{i}_Layer"] = "0"
            header[f"Segment{i}_Name"] = re.sub(r"[\r\n|]", " ", info.name).encode("ascii", "replace").decode()
            header[f"Segment{i}_NameAutoGenerated"] = "0"
            header[f"Segment{i}_Tags"] = "Segmentation.Status:inprogress|"
        header["Segmentation_ContainedRepresentationNames"] = "Binary labelmap|"
        header["Segmentation_MasterRepresentation"] = "Binary labelmap"
        header["Segmentation_ReferenceImageExtentOffset"] = "0 0 0"
        header["cardiogen_frame_times"] = _json(seg.frame_times)
    _common_custom(header, "segmentation", modality="label", synthetic=seg.synthetic, provenance=seg.provenance)
    header["cardiogen_labels"] = _labels_json(seg.label_table)
    header["cardiogen_annotated"] = _json(seg.annotated.astype(int))
    return _write(path, data, header)


def _segment_fields(header: dict) -> dict[int, dict[str, str]]:
    segments: dict[int, dict[str, str]] = {}
    for key, value in header.items():
        m = _SEGMENT_KEY.match(key) if isinstance(key, str) else None
        if m:
            segments.setdefault(int(m.group(1)), {})[m.group(2)] = str(value).strip()
    return dict(sorted(segments.items()))


def _parse_color(text: str | None) -> tuple[float, float, float]:
    try:
        values = [float(v) for v in (text or "").split()]
    except ValueError:
        values = []
    if len(values) == 3 and all(np.isfinite(values)):
        return tuple(float(min(max(v, 0.0), 1.0)) for v in values)  # type: ignore[return-value]
    return (1.0, 1.0, 1.0)


def _default_table(values: set[int]) -> dict[int, LabelInfo]:
    """Generic names ("label <v>") for label values nobody named; colors from STANDARD_LABELS where defined."""
    table = {}
    for v in sorted(values):
        color = STANDARD_LABELS[v].color if v in STANDARD_LABELS else _palette(v)
        table[v] = LabelInfo(f"label {v}", color)
    return table


def _palette(value: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(value)
    return tuple(float(c) for c in rng.uniform(0.2, 1.0, 3))  # type: ignore[return-value]


def _whole_labels(data: np.ndarray, path: Path) -> np.ndarray:
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
            raise CardioGenInputError("label map values must be whole numbers", source=path)
    if data.size and (data.min() < 0 or data.max() > 255):
        raise CardioGenInputError("label map values must be in 0..255", source=path,
                                  got=f"{data.min()}..{data.max()}")
    return data.astype(np.uint8)


def _slicer_segments(raw: _Raw, segments: dict[int, dict[str, str]], path: Path) -> tuple[np.ndarray, dict]:
    """Merge the layers of a Slicer .seg.nrrd into one label map; returns (labels (1, z, y, x), table)."""
    layered = raw.list_axis == 0 and raw.data.shape[0] > 1
    layers = raw.data[:, 0] if layered else raw.data[:1, 0]
    infos = []
    for index, fields in segments.items():
        try:
            value = int(fields.get("LabelValue", "1"))
            layer = int(fields.get("Layer", str(index) if layered else "0"))
        except ValueError as exc:
            raise CardioGenInputError(f"Segment{index} has a non-integer LabelValue/Layer", source=path) from exc
        if not 0 <= layer < layers.shape[0]:
            raise CardioGenInputError(f"Segment{index}_Layer out of range", source=path,
                                      expected=f"0..{layers.shape[0] - 1}", got=layer)
        name = fields.get("Name") or fields.get("ID") or f"Segment {index}"
        infos.append((value, layer, name, _parse_color(fields.get("Color"))))
    values = [v for v, *_ in infos]
    unique_values = len(set(values)) == len(values) and all(1 <= v <= 255 for v in values)
    out = np.zeros(layers.shape[1:], dtype=np.uint8)
    table = {}
    for k, (value, layer, name, color) in enumerate(infos):
        new_value = value if unique_values else k + 1
        if not 1 <= new_value <= 255:
            raise CardioGenInputError("too many segments for a uint8 label map", source=path, got=len(infos))
        mask = layers[layer] == value
        if np.any(out[mask] != 0):
            raise CardioGenInputError("segments overlap (several layers); cannot merge them into one label map",
                                      source=path)
        out[mask] = new_value
        table[new_value] = LabelInfo(name, color)
    if not layered:
        present = set(np.unique(_whole_labels(layers[0], path)).tolist()) - {0}
        stray = present - {v for v, *_ in infos}
        if stray:
            raise CardioGenInputError("label map has values that no Segment field describes", source=path,
                                      got=sorted(stray))
    return out[None], table


def read_segmentation_nrrd(path: str | os.PathLike, *, label_table: dict | None = None) -> Segmentation:
    """Read a label map NRRD, a label-map sequence (``.seq.nrrd``) or a Slicer ``.seg.nrrd``.

    Slicer segment fields give the label table (name, color, label value); several layers are merged when the
    segments do not overlap. Plain label maps take names from ``cardiogen_labels``, else from ``label_table``
    (value -> LabelInfo or name), else "label <v>".

    Returns:
        :class:`Segmentation` uint8 ``(t, z, y, x)`` with geometry, frame times and annotated flags.
    """
    p = Path(path)
    raw = _read_raw(p)
    with input_errors(p, "NRRD segmentation"):
        if raw.data.shape[1] != 1:
            raise CardioGenInputError("segmentation NRRD must have one component per voxel", source=p,
                                      got=raw.data.shape[1])
        segments = _segment_fields(raw.header)
        times = raw.frame_times
        if segments:
            labels, table = _slicer_segments(raw, segments, p)
            if labels.shape[0] != raw.data.shape[0]:
                times = None
        else:
            labels = _whole_labels(raw.data[:, 0], p)
            table = _stored_table(raw.custom.get("labels"))
            if table is None and label_table is not None:
                table = {int(v): i if isinstance(i, LabelInfo) else LabelInfo(str(i)) for v, i in label_table.items()}
            present = set(np.unique(labels).tolist()) - {0}
            if table is None:
                table = _default_table(present)
            else:
                table.update(_default_table(present - set(table)))
        if times is None and labels.shape[0] == 1:
            stored = raw.custom.get("frame_times")
            if isinstance(stored, list) and len(stored) == 1 and isinstance(stored[0], (int, float)):
                times = np.asarray(stored, dtype=float)
        annotated = raw.custom.get("annotated")
        ann = None
        if isinstance(annotated, list):
            try:
                candidate = np.asarray(annotated, dtype=bool)
            except (TypeError, ValueError):
                candidate = None
            if candidate is not None and candidate.shape == labels.shape[:2]:
                ann = candidate
        return Segmentation(labels, label_table=table, geometry=raw.geometry, frame_times=times, annotated=ann,
                            synthetic=_synthetic_flag(raw.custom, ""), provenance=_dict(raw.custom, "provenance"))


def _stored_table(stored: Any) -> dict[int, LabelInfo] | None:
    if not isinstance(stored, dict):
        return None
    table = {}
    for key, info in stored.items():
        try:
            value = int(key)
        except ValueError:
            continue
        if not 1 <= value <= 255 or not isinstance(info, dict):
            continue
        color = info.get("color", [1.0, 1.0, 1.0])
        table[value] = LabelInfo(str(info.get("name", f"label {value}")),
                                 _parse_color(" ".join(str(c) for c in color) if isinstance(color, list) else None))
    return table


# ----------------------------------------------------------------------------------------------------------------
# Displacement fields
# ----------------------------------------------------------------------------------------------------------------
def write_displacement_nrrd(disp: DisplacementSeries, path: str | os.PathLike) -> Path:
    """Write a :class:`DisplacementSeries` as a vector NRRD (component axis first, ``kind vector``).

    Components are (x, y, z) LPS millimetres (ITK displacement-field convention, usable as a Slicer grid transform).
    Several frames add a list axis last (Slicer sequence; ``axis 3 index values`` = frame times in ms, Slicer's key
    for the sequence axis whatever the component axis). The reference frame is kept in ``cardiogen_reference_frame``;
    the optional mask is not stored.
    """
    _require(disp, DisplacementSeries, "write_displacement_nrrd")
    arr = disp.array.astype(np.float32, copy=False)  # (t, 3, z, y, x)
    sequence = disp.n_frames > 1 or full_suffix(path) == ".seq.nrrd"
    if sequence:
        header = _base_header(disp.geometry, ["vector"] + ["domain"] * 3 + ["list"], leading_none=1,
                              trailing_none=1)
        _sequence_fields(header, disp.frame_times, 5, "vtkMRMLVectorVolumeNode")
        data = arr.transpose(1, 4, 3, 2, 0)
    else:
        header = _base_header(disp.geometry, ["vector"] + ["domain"] * 3, leading_none=1)
        data = arr[0].transpose(0, 3, 2, 1)
        header["cardiogen_frame_times"] = _json(disp.frame_times)
    header["measurement frame"] = np.eye(3)
    _common_custom(header, "displacement", synthetic=disp.synthetic, provenance=disp.provenance)
    header["cardiogen_reference_frame"] = _json(disp.reference_frame)
    return _write(path, data, header)


def read_displacement_nrrd(path: str | os.PathLike) -> DisplacementSeries:
    """Read a 3-component vector NRRD (optionally a sequence) as a :class:`DisplacementSeries`.

    Vectors are converted to LPS like the grid: a RAS file has its x and y components negated; a ``measurement
    frame`` is applied (world = frame @ vector).
    """
    p = Path(path)
    raw = _read_raw(p)
    with input_errors(p, "displacement NRRD"):
        if raw.data.shape[1] != 3:
            raise CardioGenInputError("displacement NRRD must have 3 components per voxel", source=p,
                                      got=raw.data.shape[1])
        vec = raw.data.astype(np.float32)
        frame = raw.header.get("measurement frame")
        matrix = np.diag(raw.space_signs)
        if frame is not None:
            mf = np.asarray(frame, dtype=float)
            if mf.shape != (3, 3) or not np.all(np.isfinite(mf)):
                raise CardioGenInputError("NRRD 'measurement frame' must be a finite 3x3 matrix", source=p)
            # pynrrd gives the vectors of the frame as rows; world = sum_k v_k * row_k.
            matrix = matrix @ mf.T
        if not np.allclose(matrix, np.eye(3)):
            vec = np.einsum("ij,tjzyx->tizyx", matrix, vec).astype(np.float32)
        ref = raw.custom.get("reference_frame", 0)
        ref = ref if isinstance(ref, int) and 0 <= ref < vec.shape[0] else 0
        return DisplacementSeries(vec, geometry=raw.geometry, frame_times=raw.frame_times, reference_frame=ref,
                                  synthetic=_synthetic_flag(raw.custom, ""), provenance=_dict(raw.custom, "provenance"))
