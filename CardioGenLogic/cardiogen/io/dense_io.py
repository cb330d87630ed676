"""DENSEanalysis workspaces (``.dns``: a MATLAB v5 MAT-file) as :class:`~cardiogen.data.DenseSeries`.

What is read (variable names as DENSEanalysis writes them; see ``shared/data/README.md`` section 2):

* ``dns``: ``Type`` ('xy' -> encodings ("x", "y"); 'xyz' adds "z"), ``MagIndex``/``PhaIndex`` (1-based indices into
  ``img``, one per x/y/z position, NaN = absent), ``PixelSpacing`` [row, column] mm, ``EncFreq`` and ``Scale``
  (per x/y/z), ``NegFlag`` (negate that phase), ``SwapFlag`` (swap the x and y phases).
* ``img``: cell of ``(rows, cols, frames)`` arrays; magnitude ``img{MagIndex}``, phases ``img{PhaIndex}``.
* ``seq``: DICOM header fields: SliceThickness, ImageOrientationPatient, ImagePositionPatient, TriggerTime,
  RepetitionTime (first entry = magnitude series).
* ``roi``: ``Position{frame, 1}`` epicardium and ``Position{frame, 2}`` endocardium control points (base-1
  ``[x y]`` = [column row]).

Conversions (as DENSEanalysis ``DENSEdata.m`` / ``DENSEspline.m``):

* phase [rad] = 2π · raw / 4095 − π, negated where ``NegFlag`` is 1 (phase arrays already in radians, i.e. float
  values inside [−π, π] with negatives, are taken as they are).
* ke [cycles/mm] = Scale · EncFreq, so that phase = 2π · ke · u with u in mm along the encoding direction.
  (DENSEanalysis: displacement [pixels] = phase / (2π · Scale · EncFreq · PixelSpacing).)
* spacing (x, y, z) = (PixelSpacing[1], PixelSpacing[0], SliceThickness or 8 mm).
* geometry from the first ``seq`` entry's ImageOrientationPatient (row direction = index x, column direction =
  index y) and ImagePositionPatient; identity / zero origin when absent.
* frame times: per-frame ``TriggerTime`` when it holds one strictly increasing value per frame; otherwise
  ``offset + i · interval`` with ``interval`` = ``frame_interval_ms`` argument, else ``seq.RepetitionTime`` (Siemens
  cine/DENSE DICOM store the phase-to-phase time there), else :data:`DEFAULT_FRAME_INTERVAL_MS`; ``offset`` is a
  single TriggerTime when present, else 0. ``metadata["frame_time_source"]`` says which.
* ROI: each contour's control points go through a closed periodic cubic spline (``IsCurved``; straight polygon
  when all points are corners) and are filled (pixel centres inside): label 1 "LV blood pool" = inside the
  endocardium, label 2 "LV myocardium" = inside the epicardium minus inside the endocardium, on the frames that
  have both contours (``annotated``).
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..data import STANDARD_LABELS, DenseSeries, Geometry, ImageSeries, Segmentation
from ..errors import CardioGenInputError
from .sniff import MAX_BYTES, input_errors, require_file

__all__ = ["read_dense_workspace", "is_dense_workspace", "DEFAULT_FRAME_INTERVAL_MS", "DEFAULT_SLICE_THICKNESS_MM",
           "PHASE_RAW_MAX"]

#: Frame interval (ms) used when the workspace has neither per-frame TriggerTime nor RepetitionTime.
DEFAULT_FRAME_INTERVAL_MS = 30.0
#: Slice thickness (mm) used when ``seq`` has no SliceThickness (the sample data's value).
DEFAULT_SLICE_THICKNESS_MM = 8.0
#: Largest raw phase value (12-bit DICOM).
PHASE_RAW_MAX = 4095.0
_AXES = {"x": 0, "y": 1, "z": 2}
_SPLINE_POINTS = 200
_SEQ_FACTS = ("ProtocolName", "SeriesDescription", "Manufacturer", "ManufacturerModelName", "MagneticFieldStrength",
              "SequenceName", "RepetitionTime", "EchoTime", "FlipAngle", "SliceThickness", "NominalInterval",
              "CardiacNumberOfImages", "MRAcquisitionType")


# ----------------------------------------------------------------------------------------------------------------
# MAT-file checks
# ----------------------------------------------------------------------------------------------------------------
def is_dense_workspace(path: str | os.PathLike) -> bool:
    """True when ``path`` is a MATLAB v5 MAT-file holding ``dns`` and ``img`` variables (cheap; never raises)."""
    try:
        p = Path(path)
        with open(p, "rb") as fh:
            if not fh.read(20).startswith(b"MATLAB 5.0 MAT-file"):
                return False
        from scipy.io import whosmat  # noqa: PLC0415

        _MatScan(p).scan(p.read_bytes())
        names = {name for name, *_ in whosmat(str(p))}
    except (CardioGenInputError, OSError, ValueError, TypeError, IndexError, KeyError, AttributeError, EOFError,
            zlib.error, struct.error, RuntimeError, NotImplementedError, OverflowError, MemoryError, UnicodeError):
        return False
    return {"dns", "img"} <= names


_MI_INT8, _MI_UINT8, _MI_UINT16, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_COMPRESSED, _MI_UTF8 = 1, 2, 4, 5, 6, 14, 15, 16
#: numeric MAT data types (miINT8 ... miUINT64) -> item size
_NUMERIC_MI = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
_CHAR_MI = {1, 2, 4, 16, 17, 18}
_NUMERIC_CLASSES = set(range(6, 16))
#: Most elements a cell/struct may declare without any bytes behind them (empty char / field-less struct arrays).
_MAX_EMPTY_ELEMENTS = 1_000_000
_MAX_DEPTH = 100


class _MatScan:
    """Check the structure of a MAT v5 file before scipy.io.loadmat parses it.

    scipy's compiled MAT reader trusts the file: an unknown data-type code indexes a C array (segmentation fault),
    and cell/struct/char dimensions are allocated before any element is read (a corrupt dimension can ask for many
    GB). This walk follows scipy's reading order exactly (full/small element tags, 8-byte padding, array flags,
    dimensions, names, per-class contents) and raises CardioGenInputError ("corrupt MAT-file ...") for any element
    that runs past its parent, an invalid type code, negative dimensions, or more elements than bytes can hold.
    Well-formed files pass unchanged.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.endian = "<"

    def fail(self, what: str) -> None:
        raise CardioGenInputError(f"corrupt MAT-file: {what}", source=self.path)

    # -- top level -------------------------------------------------------------------------------------------
    def scan(self, data: bytes) -> None:
        if len(data) < 128:
            self.fail("shorter than its 128-byte header")
        version = data[124:128]
        major = version[int(version[2] == ord("I"))]
        if major == 2:
            raise CardioGenInputError("MATLAB v7.3 (HDF5) MAT-files are not supported; save the workspace with -v7",
                                      source=self.path)
        if major != 1:
            self.fail(f"unknown MAT version bytes {version!r}")
        self.endian = "<" if data[126:128] == b"IM" else ">"
        pos = 128
        while pos < len(data):
            if pos + 8 > len(data):
                self.fail(f"truncated variable tag at byte {pos}")
            mtype, nbytes = struct.unpack_from(self.endian + "II", data, pos)
            start, end = pos + 8, pos + 8 + nbytes
            if nbytes == 0:
                self.fail(f"empty variable at byte {pos}")
            if end > len(data):
                self.fail(f"variable at byte {pos} runs past the end of the file (truncated?)")
            if mtype == _MI_COMPRESSED:
                inner = self._inflate(data[start:end], pos)
                self._matrix(inner, 0, len(inner), 0)
            elif mtype == _MI_MATRIX:
                self._matrix(data, pos, end, 0)
            else:
                self.fail(f"unexpected element type {mtype} at byte {pos}")
            pos = end

    def _inflate(self, blob: bytes, pos: int) -> bytes:
        decomp = zlib.decompressobj()
        try:
            out = decomp.decompress(blob, MAX_BYTES)
        except zlib.error as exc:
            self.fail(f"compressed variable at byte {pos} is damaged ({exc})")
        if decomp.unconsumed_tail:
            self.fail(f"compressed variable at byte {pos} inflates to more than {MAX_BYTES // 1024**3} GB")
        if not decomp.eof:
            self.fail(f"compressed variable at byte {pos} is truncated")
        return out

    # -- elements --------------------------------------------------------------------------------------------
    def _tag(self, buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
        """(type, byte count, data start, next position) of a full or small data element."""
        if pos + 8 > end:
            self.fail(f"element tag at byte {pos} runs past its parent")
        word, nbytes = struct.unpack_from(self.endian + "II", buf, pos)
        if word >> 16:
            if word >> 16 > 4:
                self.fail(f"small data element at byte {pos} claims {word >> 16} bytes")
            return word & 0xFFFF, word >> 16, pos + 4, pos + 8
        if pos + 8 + nbytes > end:
            self.fail(f"element at byte {pos} ({nbytes} bytes) runs past its parent")
        return word, nbytes, pos + 8, pos + 8 + nbytes + (-nbytes % 8)

    def _int8_string(self, buf: bytes, pos: int, end: int) -> tuple[bytes, int]:
        mtype, n, start, nxt = self._tag(buf, pos, end)
        if mtype not in (_MI_INT8, _MI_UTF8):
            self.fail(f"name at byte {pos} has type {mtype}, expected miINT8")
        return buf[start:start + n], nxt

    def _int32s(self, buf: bytes, pos: int, end: int, max_bytes: int) -> tuple[tuple[int, ...], int]:
        mtype, n, start, nxt = self._tag(buf, pos, end)
        if mtype not in (_MI_INT32, _MI_UINT32):
            self.fail(f"integer element at byte {pos} has type {mtype}, expected miINT32")
        if n > max_bytes or n % 4:
            self.fail(f"integer element at byte {pos} has {n} bytes")
        values = struct.unpack_from(self.endian + f"{n // 4}i", buf, start)
        return values, nxt

    def _numeric(self, buf: bytes, pos: int, end: int) -> int:
        mtype, _, _, nxt = self._tag(buf, pos, end)
        if mtype not in _NUMERIC_MI:
            self.fail(f"numeric data at byte {pos} has invalid type code {mtype}")
        return nxt

    def _matrix(self, buf: bytes, pos: int, end: int, depth: int) -> int:
        """Parse one miMATRIX element at ``pos``; returns where scipy's reader continues."""
        if depth > _MAX_DEPTH:
            self.fail("arrays nested too deeply")
        if pos + 8 > end:
            self.fail(f"array tag at byte {pos} runs past its parent")
        mtype, nbytes = struct.unpack_from(self.endian + "II", buf, pos)
        if mtype != _MI_MATRIX:
            self.fail(f"expected an array (miMATRIX) at byte {pos}, got type {mtype}")
        if nbytes == 0:
            return pos + 8
        body_end = pos + 8 + nbytes
        if body_end > end:
            self.fail(f"array at byte {pos} ({nbytes} bytes) runs past its parent")
        return self._body(buf, pos + 8, body_end, depth)

    def _body(self, buf: bytes, pos: int, end: int, depth: int) -> int:
        if pos + 16 > end:
            self.fail(f"array flags at byte {pos} run past the array")
        flags = struct.unpack_from(self.endian + "I", buf, pos + 8)[0]
        mclass, is_complex = flags & 0xFF, bool(flags >> 11 & 1)
        pos += 16
        if mclass == 17:  # opaque: name, type system, class name, then one array
            for _ in range(3):
                _, pos = self._int8_string(buf, pos, end)
            return self._matrix(buf, pos, end, depth + 1)
        dims, pos = self._int32s(buf, pos, end, 128)
        if any(d < 0 for d in dims):
            self.fail(f"negative array dimensions {list(dims)}")
        _, pos = self._int8_string(buf, pos, end)
        count = 1
        for d in dims:
            count *= d
        if mclass in _NUMERIC_CLASSES:
            pos = self._numeric(buf, pos, end)
            return self._numeric(buf, pos, end) if is_complex else pos
        if mclass == 5:  # sparse: row indices, column pointers, values (+ imaginary)
            for _ in range(4 if is_complex else 3):
                pos = self._numeric(buf, pos, end)
            return pos
        if mclass == 4:  # char
            mtype, n, _, nxt = self._tag(buf, pos, end)
            if n == 0 and count > _MAX_EMPTY_ELEMENTS:
                self.fail(f"empty char array declares {count} characters")
            if n and mtype not in _CHAR_MI:
                self.fail(f"char data at byte {pos} has invalid type code {mtype}")
            return nxt
        if mclass == 1:  # cell
            self._room(count, end - pos, "cell")
            for _ in range(count):
                pos = self._matrix(buf, pos, end, depth + 1)
            return pos
        if mclass in (2, 3):  # struct / object (object: class name first)
            if mclass == 3:
                _, pos = self._int8_string(buf, pos, end)
            lengths, pos = self._int32s(buf, pos, end, 4)
            if len(lengths) != 1 or lengths[0] <= 0:
                self.fail(f"struct field-name length {list(lengths)}")
            names, pos = self._int8_string(buf, pos, end)
            n_fields = len(names) // lengths[0]
            if n_fields == 0:
                if count > _MAX_EMPTY_ELEMENTS:
                    self.fail(f"field-less struct array declares {count} elements")
                return pos
            self._room(count * n_fields, end - pos, "struct")
            for _ in range(count * n_fields):
                pos = self._matrix(buf, pos, end, depth + 1)
            return pos
        if mclass == 16:  # function handle: one nested array
            return self._matrix(buf, pos, end, depth + 1)
        self.fail(f"unknown array class {mclass}")
        return pos

    def _room(self, count: int, remaining: int, what: str) -> None:
        if count * 8 > remaining:
            self.fail(f"{what} array declares {count} elements in {remaining} bytes")


def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat  # noqa: PLC0415 (keep `import cardiogen.io` light)
    from scipy.io.matlab import MatReadError  # noqa: PLC0415

    with open(path, "rb") as fh:
        data = fh.read()
    if data[:4] == b"\x89HDF" or b"MATLAB 7.3 MAT-file" in data[:128]:
        raise CardioGenInputError("MATLAB v7.3 (HDF5) MAT-files are not supported; save the workspace with -v7",
                                  source=path)
    if not data.startswith(b"MATLAB 5.0 MAT-file"):
        raise CardioGenInputError("not a MATLAB v5 MAT-file (DENSEanalysis .dns workspace expected)", source=path,
                                  got=data[:20])
    _MatScan(path).scan(data)
    with input_errors(path, "DENSE workspace (MAT-file)", extra=(MatReadError,)):
        import warnings  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loadmat(str(path), variable_names=["dns", "img", "roi", "seq"], mat_dtype=False)


# ----------------------------------------------------------------------------------------------------------------
# MATLAB value helpers
# ----------------------------------------------------------------------------------------------------------------
def _record(value: Any, index: int = 0) -> Any:
    """Element ``index`` of a MATLAB struct array (an ndarray with named fields), else None."""
    if isinstance(value, np.ndarray) and value.dtype.names and value.size > index:
        return value.flat[index]
    return None


def _field(record: Any, name: str) -> Any:
    if record is None or not hasattr(record, "dtype") or not record.dtype.names or name not in record.dtype.names:
        return None
    return record[name]


def _numbers(value: Any) -> np.ndarray | None:
    """Flattened float array of a numeric MATLAB value (None when absent, empty or not numeric)."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype == object and arr.size == 1:
        return _numbers(arr.flat[0])
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        return None
    return arr.astype(float).reshape(-1)


def _text(value: Any) -> str:
    if value is None:
        return ""
    arr = np.asarray(value)
    if arr.dtype == object and arr.size >= 1:
        return _text(arr.flat[0])
    if arr.dtype.kind == "U":
        return "".join(str(x) for x in arr.reshape(-1))
    if arr.dtype.kind == "S":
        return b"".join(arr.reshape(-1).tolist()).decode("latin-1", "replace")
    return ""


def _first_finite(values: np.ndarray | None) -> float | None:
    if values is None:
        return None
    finite = values[np.isfinite(values)]
    return float(finite[0]) if finite.size else None


# ----------------------------------------------------------------------------------------------------------------
# Pieces of the workspace
# ----------------------------------------------------------------------------------------------------------------
def _encodings(dns: Any, path: Path) -> tuple[str, ...]:
    kind = _text(_field(dns, "Type")).strip().lower()
    if not kind:
        raise CardioGenInputError("DENSE workspace has no dns.Type (e.g. 'xy')", source=path)
    if any(c not in _AXES for c in kind) or len(set(kind)) != len(kind):
        raise CardioGenInputError("unsupported DENSE type", source=path, expected="'x', 'y', 'xy', 'xyz' ...",
                                  got=kind)
    return tuple(kind)


def _cells(m: dict) -> list:
    img = m.get("img")
    if isinstance(img, np.ndarray) and img.dtype == object:
        return list(img.reshape(-1, order="F"))
    return []


def _stack(cells: list, index: float | None, what: str, path: Path) -> np.ndarray:
    """img{index} (1-based) as (t, 1, rows, cols)."""
    if index is None or not np.isfinite(index) or index != int(index) or not 1 <= int(index) <= len(cells):
        if what.startswith("phase"):
            raise CardioGenInputError("DENSE file has no phase images", source=path,
                                      expected=f"img cell for {what}", got=f"index {index}, {len(cells)} cells")
        raise CardioGenInputError(f"DENSE file has no {what} image", source=path, got=f"index {index}")
    arr = np.asarray(cells[int(index) - 1])
    if arr.dtype == object or arr.dtype.kind not in "biuf" or arr.size == 0:
        if what.startswith("phase"):
            raise CardioGenInputError("DENSE file has no phase images", source=path,
                                      expected=f"numeric img cell for {what}", got=str(arr.dtype))
        raise CardioGenInputError(f"DENSE {what} image is empty or not numeric", source=path, got=str(arr.dtype))
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise CardioGenInputError(f"DENSE {what} image must be (rows, cols, frames)", source=path,
                                  got=f"shape {arr.shape}")
    return np.ascontiguousarray(arr.transpose(2, 0, 1)[:, None])


def _phase_radians(raw: np.ndarray, negate: bool) -> np.ndarray:
    already = raw.dtype.kind == "f" and raw.size and raw.min() < 0 and np.abs(raw).max() <= np.pi + 1e-3
    raw = raw.astype(np.float64)
    phase = raw if already else 2.0 * np.pi * raw / PHASE_RAW_MAX - np.pi
    if negate:
        phase = -phase
    return phase.astype(np.float32)


def _ke(dns: Any, encodings: tuple[str, ...], ke: Any, path: Path) -> tuple[tuple[float, ...], dict]:
    enc_freq = _numbers(_field(dns, "EncFreq"))
    scale = _numbers(_field(dns, "Scale"))
    facts = {"EncFreq": None if enc_freq is None else enc_freq.tolist(),
             "Scale": None if scale is None else scale.tolist()}
    if ke is not None:
        values = np.broadcast_to(np.asarray(ke, dtype=float), (len(encodings),))
        facts["ke_source"] = "argument"
        return tuple(float(v) for v in values), facts
    out = []
    for enc in encodings:
        i = _AXES[enc]
        f = enc_freq[i] if enc_freq is not None and enc_freq.size > i else np.nan
        if not (np.isfinite(f) and f > 0):
            raise CardioGenInputError(
                f"DENSE file has no encoding frequency (dns.EncFreq) for direction {enc}; pass ke= in cycles/mm",
                source=path, got=facts["EncFreq"])
        s = scale[i] if scale is not None and scale.size > i and np.isfinite(scale[i]) and scale[i] > 0 else 1.0
        out.append(float(s * f))
    facts["ke_source"] = "Scale*EncFreq"
    return tuple(out), facts


def _flag(values: np.ndarray | None, i: int) -> bool:
    return bool(values is not None and values.size > i and np.isfinite(values[i]) and values[i] != 0)


def _geometry(dns: Any, seq0: Any, path: Path) -> tuple[Geometry, dict]:
    facts: dict[str, Any] = {}
    ps = _numbers(_field(dns, "PixelSpacing"))
    if ps is None or ps.size < 2:
        ps = _numbers(_field(seq0, "PixelSpacing"))
    if ps is None or ps.size < 2 or not np.all(np.isfinite(ps[:2])) or np.any(ps[:2] <= 0):
        raise CardioGenInputError("missing spacing: DENSE file has no valid PixelSpacing", source=path,
                                  got=None if ps is None else ps.tolist())
    thick = _first_finite(_numbers(_field(seq0, "SliceThickness")))
    if thick is None or thick <= 0:
        thick = DEFAULT_SLICE_THICKNESS_MM
        facts["slice_thickness_source"] = "default"
    else:
        facts["slice_thickness_source"] = "seq.SliceThickness"
    spacing = (float(ps[1]), float(ps[0]), float(thick))
    iop = _numbers(_field(seq0, "ImageOrientationPatient"))
    ipp = _numbers(_field(seq0, "ImagePositionPatient"))
    direction = np.eye(3)
    if iop is not None and iop.size >= 6:
        row, col = iop[:3], iop[3:6]
        if not (np.all(np.isfinite(iop[:6])) and np.linalg.norm(row) > 0 and np.linalg.norm(col) > 0):
            raise CardioGenInputError("DENSE seq.ImageOrientationPatient is invalid", source=path,
                                      got=iop[:6].tolist())
        row = row / np.linalg.norm(row)
        col = col / np.linalg.norm(col)
        if abs(float(row @ col)) > 0.01:
            raise CardioGenInputError("DENSE seq.ImageOrientationPatient axes are not perpendicular", source=path,
                                      got=iop[:6].tolist())
        col = col - (row @ col) * row
        col = col / np.linalg.norm(col)
        direction = np.stack([row, col, np.cross(row, col)], axis=1)
        facts["orientation_source"] = "seq.ImageOrientationPatient"
    else:
        facts["orientation_source"] = "identity (no ImageOrientationPatient)"
    origin = (0.0, 0.0, 0.0)
    if ipp is not None and ipp.size >= 3:
        if not np.all(np.isfinite(ipp[:3])):
            raise CardioGenInputError("DENSE seq.ImagePositionPatient is not finite", source=path)
        origin = tuple(float(v) for v in ipp[:3])
    return Geometry(spacing=spacing, origin=origin, direction=direction), facts


def _frame_times(seq0: Any, n_frames: int, frame_interval_ms: float | None) -> tuple[np.ndarray, str]:
    trigger = _numbers(_field(seq0, "TriggerTime"))
    if trigger is not None and trigger.size == n_frames and n_frames > 1 and np.all(np.isfinite(trigger)) \
            and np.all(np.diff(trigger) > 0):
        return trigger, "seq.TriggerTime"
    offset = _first_finite(trigger) if trigger is not None and trigger.size == 1 else None
    offset = offset if offset is not None and offset >= 0 else 0.0
    if frame_interval_ms is not None:
        return offset + np.arange(n_frames) * float(frame_interval_ms), "frame_interval_ms argument"
    tr = _first_finite(_numbers(_field(seq0, "RepetitionTime")))
    if tr is not None and 0 < tr < 1000:
        return offset + np.arange(n_frames) * tr, "seq.RepetitionTime (interval between frames)"
    return offset + np.arange(n_frames) * DEFAULT_FRAME_INTERVAL_MS, f"default {DEFAULT_FRAME_INTERVAL_MS} ms"


def _seq_facts(seq0: Any) -> dict:
    facts = {}
    for name in _SEQ_FACTS:
        value = _field(seq0, name)
        if value is None:
            continue
        num = _numbers(value)
        if num is not None and num.size == 1:
            facts[name] = float(num[0])
        else:
            text = _text(value)
            if text:
                facts[name] = text[:200]
    return facts


def _contour_masks(points: Any, curved: Any, shape: tuple[int, int]) -> np.ndarray:
    from .contours import closed_spline, polygon_to_mask  # noqa: PLC0415

    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 3:
        raise CardioGenInputError("contour needs at least 3 [x y] control points", got=f"shape {pts.shape}")
    pts = pts - 1.0  # DENSEanalysis: base-1 pixel coordinates
    flags = _numbers(curved)
    spline = flags is None or bool(np.any(flags != 0))
    outline = closed_spline(pts, n=_SPLINE_POINTS) if spline else pts
    return polygon_to_mask(outline, shape)


def _roi_record(roi: Any) -> Any:
    if not isinstance(roi, np.ndarray) or not roi.dtype.names:
        return None
    records = [roi.flat[i] for i in range(roi.size)]
    for rec in records:
        if _text(_field(rec, "Type")).strip().upper() == "SA":
            return rec
    for rec in records:
        pos = _field(rec, "Position")
        if isinstance(pos, np.ndarray) and pos.ndim == 2 and pos.shape[1] == 2:
            return rec
    return None


def _segmentation(roi: Any, magnitude: ImageSeries, warnings_: list) -> Segmentation | None:
    rec = _roi_record(roi)
    if rec is None:
        return None
    position = _field(rec, "Position")
    curved = _field(rec, "IsCurved")
    if not isinstance(position, np.ndarray) or position.dtype != object or position.ndim != 2 \
            or position.shape[1] < 2:
        warnings_.append("roi.Position is not a (frames, 2) cell array; contours ignored")
        return None
    n_t, _, rows, cols = magnitude.shape
    labels = np.zeros((n_t, 1, rows, cols), dtype=np.uint8)
    annotated = np.zeros((n_t, 1), dtype=bool)
    for f in range(min(position.shape[0], n_t)):
        epi, endo = position[f, 0], position[f, 1]
        if np.asarray(epi).size == 0 and np.asarray(endo).size == 0:
            continue
        try:
            flags = (curved[f, 0], curved[f, 1]) if isinstance(curved, np.ndarray) and curved.ndim == 2 \
                and curved.shape[0] > f and curved.shape[1] >= 2 else (None, None)
            epi_mask = _contour_masks(epi, flags[0], (rows, cols))
            endo_mask = _contour_masks(endo, flags[1], (rows, cols))
        except (CardioGenInputError, ValueError, TypeError) as exc:
            warnings_.append(f"frame {f}: contour skipped ({exc})")
            continue
        labels[f, 0][epi_mask & ~endo_mask] = 2
        labels[f, 0][endo_mask] = 1
        annotated[f, 0] = True
    if not annotated.any():
        return None
    table = {1: STANDARD_LABELS[1], 2: STANDARD_LABELS[2]}
    return Segmentation(labels, label_table=table, geometry=magnitude.geometry, frame_times=magnitude.frame_times,
                        annotated=annotated,
                        provenance={"source": "DENSEanalysis roi", "roi": _text(_field(rec, "Name"))})


# ----------------------------------------------------------------------------------------------------------------
# Public reader
# ----------------------------------------------------------------------------------------------------------------
def read_dense_workspace(path: str | os.PathLike, *, ke: Any = None, frame_interval_ms: float | None = None,
                         with_contours: bool = True) -> DenseSeries:
    """Read a DENSEanalysis workspace (``.dns``) as a :class:`DenseSeries`.

    Args:
        path: the ``.dns`` (MATLAB v5 MAT-file).
        ke: encoding frequency in cycles/mm (scalar or one per encoding) overriding Scale·EncFreq; needed when the
            file has no EncFreq.
        frame_interval_ms: time between frames when the file has no per-frame TriggerTime.
        with_contours: build the myocardium / blood-pool :class:`Segmentation` from the ROI.

    Returns:
        DenseSeries: magnitude ``(t, 1, rows, cols)`` (raw values, modality "dense_mag"), phase ``(e, t, 1, rows,
        cols)`` radians, encodings, ke (cycles/mm), segmentation (or None) and metadata (raw dns fields, sources
        of frame times / slice thickness / orientation, ROI warnings).

    Raises:
        CardioGenInputError naming the file: missing or not a MAT-file, no ``dns``/``img``, "DENSE file has no phase
        images", no EncFreq (unless ``ke=``), missing PixelSpacing, inconsistent image sizes, corrupt data.
    """
    p = require_file(path, "DENSE workspace")
    m = _load_mat(p)
    with input_errors(p, "DENSE workspace"):
        if "dns" not in m or "img" not in m:
            raise CardioGenInputError("not a DENSEanalysis workspace: no 'dns'/'img' variables", source=p,
                                      got=sorted(k for k in m if not k.startswith("__")))
        dns = _record(m["dns"])
        if dns is None:
            raise CardioGenInputError("DENSE workspace 'dns' is not a struct", source=p)
        encodings = _encodings(dns, p)
        cells = _cells(m)
        pha_index = _numbers(_field(dns, "PhaIndex"))
        if not cells or pha_index is None or not np.any(np.isfinite(pha_index)):
            raise CardioGenInputError("DENSE file has no phase images", source=p,
                                      expected="dns.PhaIndex pointing into img", got=pha_index)
        mag_index = _first_finite(_numbers(_field(dns, "MagIndex")))
        magnitude_raw = _stack(cells, mag_index, "magnitude", p)
        neg = _numbers(_field(dns, "NegFlag"))
        phases = []
        for enc in encodings:
            i = _AXES[enc]
            idx = pha_index[i] if pha_index.size > i else None
            raw = _stack(cells, idx, f"phase {enc}", p)
            if raw.shape != magnitude_raw.shape:
                raise CardioGenInputError(f"DENSE phase {enc} and magnitude sizes differ", source=p,
                                          expected=magnitude_raw.shape, got=raw.shape)
            phases.append(_phase_radians(raw, _flag(neg, i)))
        swap = _flag(_numbers(_field(dns, "SwapFlag")), 0)
        if swap and "x" in encodings and "y" in encodings:
            ix, iy = encodings.index("x"), encodings.index("y")
            phases[ix], phases[iy] = phases[iy], phases[ix]
        seq0 = _record(m.get("seq"))
        geometry, geo_facts = _geometry(dns, seq0, p)
        n_frames = magnitude_raw.shape[0]
        number = _first_finite(_numbers(_field(dns, "Number")))
        times, time_source = _frame_times(seq0, n_frames, frame_interval_ms)
        ke_values, ke_facts = _ke(dns, encodings, ke, p)
        description = _text(_field(seq0, "SeriesDescription")) or _text(_field(dns, "Name")) or "DENSE"
        metadata: dict[str, Any] = {
            "format": "DENSEanalysis workspace", "source_file": str(p),
            "dns_name": _text(_field(dns, "Name")), "dns_type": "".join(encodings),
            "MagIndex": _numbers(_field(dns, "MagIndex")), "PhaIndex": pha_index, "NegFlag": neg,
            "SwapFlag": swap, "Number": number, "frame_time_source": time_source,
            "phase_formula": "phase = 2*pi*raw/4095 - pi, negated where NegFlag",
            "ke_formula": "ke [cycles/mm] = Scale*EncFreq; phase = 2*pi*ke*u_mm",
            "magnitude_units": "raw scanner values (DENSEanalysis normalises per frame for display)",
            **ke_facts, **geo_facts, "seq": _seq_facts(seq0),
        }
        metadata = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in metadata.items()}
        if number is not None and int(number) != n_frames:
            metadata["warning_number"] = f"dns.Number {int(number)} differs from the {n_frames} image frames"
        magnitude = ImageSeries(magnitude_raw.astype(np.float32), geometry=geometry, frame_times=times,
                                modality="dense_mag", description=description,
                                provenance={"source_file": str(p), "reader": "cardiogen.io.dense_io"},
                                metadata={"format": "DENSEanalysis workspace"})
        roi_warnings: list[str] = []
        segmentation = _segmentation(m.get("roi"), magnitude, roi_warnings) if with_contours else None
        if roi_warnings:
            metadata["roi_warnings"] = roi_warnings[:50]
        if segmentation is not None:
            metadata["contour_frames"] = np.flatnonzero(segmentation.annotated[:, 0]).tolist()
        return DenseSeries(magnitude=magnitude, phase=np.stack(phases), encodings=encodings, ke=ke_values,
                           segmentation=segmentation, metadata=metadata)
