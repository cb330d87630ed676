"""Read DICOM image series (MR cine, MR, CT, DENSE) into cardiogen containers.

Reading rules (see ``docs`` of :func:`read_dicom_series`):

* Files are grouped by SeriesInstanceUID, then by **slice position** (ImagePositionPatient projected on the slice
  normal ``n = row × col`` of ImageOrientationPatient) and, at each position, ordered in **time** by the first of
  TriggerTime / TemporalPositionIdentifier / NominalPercentageOfCardiacPhase / AcquisitionTime / ContentTime that
  tells the images apart (CT prefers TemporalPositionIdentifier and the cardiac phase percentage).
* Slices are ordered by increasing position along ``n``, so ``direction = [row, col, n]`` is right-handed (as in
  ITK / GDCM / Slicer). ``origin`` is the ImagePositionPatient of slice 0 (the lowest along ``n``).
* The slice spacing is measured from the positions (never SliceThickness) and must be uniform.
* Frame times (ms) are the per-phase median across slices of TriggerTime (slices may come from different
  breath-holds with different RR intervals), else from the cardiac phase percentage and the RR interval, else
  from AcquisitionTime / ContentTime relative to the first phase, else 0, 1, 2 ...
* Pixel values get RescaleSlope / RescaleIntercept (CT in HU) and are returned as float32 ``(t, z, y, x)``. An
  image without them (no Modality LUT, as in the MR IOD) that holds exactly one linear Real World Value Mapping
  (RealWorldValueSlope / Intercept, e.g. the MR series :mod:`cardiogen.io.dicom_export` writes) gets that mapping.
* Classic single-frame files and enhanced multi-frame files (per-frame functional groups) are both read.

Every failure on bad input raises :class:`~cardiogen.errors.CardioGenInputError` naming the file or folder.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..data import MODALITIES, DenseSeries, Geometry, ImageSeries
from ..errors import CardioGenInputError

__all__ = [
    "DicomSeriesInfo",
    "list_dicom_series",
    "read_dicom_series",
    "read_dense_dicom",
    "read_dicom_header",
    "is_dicom",
    "parse_dense_comments",
    "DICOM_READERS",
]

PathLike = str | os.PathLike
Source = PathLike | Sequence[PathLike]

#: SOP classes that are never images (DICOMDIR, waveforms, SR, presentation states, RT structures ...).
_NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.1.3.10",  # Media Storage Directory (DICOMDIR)
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms (ECG ...)
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF / CDA
    "1.2.840.10008.5.1.4.1.1.481.3",  # RT structure set
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, spatial registration
)

# Time keys tried, in order, to order the images that share one slice position.
_TIME_KEYS_MR = ("TriggerTime", "TemporalPositionIdentifier", "NominalPercentageOfCardiacPhase", "AcquisitionTime",
                 "ContentTime")
_TIME_KEYS_CT = ("TemporalPositionIdentifier", "NominalPercentageOfCardiacPhase", "TriggerTime", "AcquisitionTime",
                 "ContentTime")

_IDENTIFYING = ("SOPClassUID", "Modality", "StudyInstanceUID", "SeriesInstanceUID", "Rows", "WaveformSequence",
                "DirectoryRecordSequence")

_POSITION_TOL_MM = 0.05  # images closer than this along the normal share a slice position
_IOP_TOL = 1e-3


# ---------------------------------------------------------------------------------------------------------------
# error plumbing
# ---------------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _input_errors(source: Any, problem: str) -> Iterator[None]:
    """Turn any failure of third-party code into CardioGenInputError naming ``source``.

    MemoryError, KeyboardInterrupt and SystemExit pass through unchanged.
    """
    try:
        yield
    except CardioGenInputError as exc:
        raise exc.with_source(source) from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - wrapping third-party errors is the point
        raise CardioGenInputError(f"{problem}: {type(exc).__name__}: {exc}", source=source) from exc


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """Silence pydicom's validation warnings (invalid UI/DA values are common and harmless)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
        warnings.filterwarnings("ignore", message=r".*(Invalid value for VR|invalid value for VR).*")
        yield


def _pydicom():
    import pydicom  # local import keeps ``import cardiogen.io`` light

    return pydicom


# ---------------------------------------------------------------------------------------------------------------
# cheap checks
# ---------------------------------------------------------------------------------------------------------------
def is_dicom(path: PathLike) -> bool:
    """True when ``path`` looks like a DICOM file (cheap; never raises for ordinary paths).

    Checks the 128-byte preamble + ``DICM`` marker first; files without a preamble (raw implicit VR) are accepted
    when their first element is in group 0x0002 or 0x0008 and pydicom can read a header with a SOP class, modality
    or study UID from it.
    """
    try:
        p = Path(path)
        if not p.is_file():
            return False
        with open(p, "rb") as fh:
            head = fh.read(132)
    except (OSError, ValueError, TypeError):
        return False
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    try:
        with _quiet_pydicom():
            ds = _pydicom().dcmread(p, force=True, stop_before_pixels=True,
                                    specific_tags=["SOPClassUID", "Modality", "StudyInstanceUID"])
            return any(k in ds for k in ("SOPClassUID", "Modality", "StudyInstanceUID"))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - "not DICOM" is the answer to any failure here
        return False


def read_dicom_header(path: PathLike, *, pixels: bool = False) -> Any:
    """Read one DICOM file's dataset (header only unless ``pixels``); errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise CardioGenInputError("DICOM file not found", source=p)
    with _quiet_pydicom(), _input_errors(p, "cannot read DICOM file (corrupt or truncated?)"):
        ds = _pydicom().dcmread(p, force=True, stop_before_pixels=not pixels)
        # touch every top-level element so that deferred parse errors surface here
        for _ in ds.iterall():
            pass
    if not any(k in ds for k in _IDENTIFYING):
        raise CardioGenInputError("not a readable DICOM dataset (corrupt header?): no SOPClassUID, Modality, UIDs "
                                  "or image size found", source=p)
    return ds


# ---------------------------------------------------------------------------------------------------------------
# header values
# ---------------------------------------------------------------------------------------------------------------
def _raw(ds: Any, keyword: str) -> Any:
    if keyword not in ds:
        return None
    value = ds[keyword].value
    if value is None or (isinstance(value, (str, bytes)) and not str(value).strip()):
        return None
    return value


def _floats(ds: Any, keyword: str, n: int | None, path: Path) -> list[float] | None:
    """Tag as a list of finite floats (None when absent/empty); invalid values raise naming the file."""
    value = _raw(ds, keyword)
    if value is None:
        return None
    with _input_errors(path, f"tag {keyword} has an invalid value"):
        if isinstance(value, (str, bytes, int, float)):
            values = [float(value)]
        else:
            values = [float(v) for v in value]
    if n is not None and len(values) != n:
        raise CardioGenInputError(f"tag {keyword} must have {n} values", source=path, got=len(values))
    if not all(math.isfinite(v) for v in values):
        raise CardioGenInputError(f"tag {keyword} has non-finite values", source=path, got=values)
    return values


def _float(ds: Any, keyword: str, path: Path) -> float | None:
    values = _floats(ds, keyword, None, path)
    return None if not values else values[0]


def _text(ds: Any, keyword: str) -> str:
    try:
        value = _raw(ds, keyword)
        if value is None:
            return ""
        if not isinstance(value, (str, bytes)) and isinstance(value, Iterable):
            return "\\".join(str(v) for v in value)
        return str(value).strip()
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - free text is optional
        return ""


def _parse_tm(value: Any) -> float | None:
    """DICOM TM ("HHMMSS.FFFFFF", "HH:MM:SS" ...) to seconds after midnight; None when unreadable."""
    if value is None:
        return None
    text = str(value).strip().replace(":", "")
    m = re.fullmatch(r"(\d{2})(\d{2})?(\d{2}(?:\.\d*)?)?", text)
    if not m:
        return None
    hh = int(m.group(1))
    mm = int(m.group(2) or 0)
    ss = float(m.group(3) or 0.0)
    if hh > 23 or mm > 59 or ss >= 61:
        return None
    return hh * 3600.0 + mm * 60.0 + ss


def _parse_dt(value: Any) -> float | None:
    """DICOM DT ("YYYYMMDDHHMMSS.FFFFFF") to seconds within its day (date part ignored)."""
    if value is None:
        return None
    text = str(value).strip()
    if len(text) < 10 or not text[:8].isdigit():
        return None
    return _parse_tm(text[8:].split("+")[0].split("-")[0])


# ---------------------------------------------------------------------------------------------------------------
# frame records (one per 2D image: a classic file, or one frame of an enhanced multi-frame file)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Frame:
    path: Path
    frame: int | None  # index in an enhanced multi-frame file, None for a classic file
    ds: Any  # header dataset (no pixels)
    series_uid: str
    dicom_modality: str
    rows: int
    cols: int
    iop: np.ndarray | None
    ipp: np.ndarray | None
    pixel_spacing: tuple[float, float] | None  # (row spacing = y, column spacing = x) mm
    times: dict = field(default_factory=dict)  # time key -> float
    slope: float = 1.0
    intercept: float = 0.0
    value_mapping: str = "none"  # "ModalityLUT" (Rescale*), "RealWorldValueMapping" or "none"

    @property
    def label(self) -> str:
        return str(self.path) if self.frame is None else f"{self.path} (frame {self.frame + 1})"


def _is_image_header(ds: Any) -> bool:
    sop = _text(ds, "SOPClassUID") or _text(getattr(ds, "file_meta", {}), "MediaStorageSOPClassUID")
    if any(sop.startswith(p) for p in _NON_IMAGE_SOP_PREFIXES):
        return False
    return "Rows" in ds and "Columns" in ds


def _functional(ds: Any, per_frame: Any, seq_kw: str, kw: str) -> Any:
    """Value of ``kw`` inside functional group ``seq_kw``: per-frame item first, then the shared group."""
    for group in (per_frame, _first_item(ds, "SharedFunctionalGroupsSequence")):
        if group is None or seq_kw not in group:
            continue
        seq = group[seq_kw].value
        if seq and kw in seq[0]:
            return seq[0]
    return None


def _first_item(ds: Any, seq_kw: str) -> Any:
    if seq_kw not in ds:
        return None
    seq = ds[seq_kw].value
    return seq[0] if seq else None


def _real_world_mapping(ds: Any, per_frame: Any, path: Path) -> tuple[float, float] | None:
    """(slope, intercept) of the one linear Real World Value Mapping of a frame, else None.

    Looked up in the per-frame functional group, the shared group, then the top-level dataset; a mapping with
    several items (several value ranges or units) or a lookup table instead of a slope is not applied.
    """
    for holder in (per_frame, _first_item(ds, "SharedFunctionalGroupsSequence"), ds):
        if holder is None or "RealWorldValueMappingSequence" not in holder:
            continue
        items = list(holder["RealWorldValueMappingSequence"].value or [])
        if len(items) != 1:
            return None
        slope = _float(items[0], "RealWorldValueSlope", path)
        intercept = _float(items[0], "RealWorldValueIntercept", path)
        if slope is None or intercept is None:
            return None
        return slope, intercept
    return None


def _frames_of(path: Path, ds: Any) -> list[_Frame]:
    """Image records of one header (one for classic files, one per frame for enhanced multi-frame files)."""
    with _input_errors(path, "cannot read the DICOM image header"):
        rows = int(ds.Rows)
        cols = int(ds.Columns)
        n_frames = int(ds.NumberOfFrames) if _raw(ds, "NumberOfFrames") is not None else 1
        series_uid = _text(ds, "SeriesInstanceUID")
        modality = _text(ds, "Modality").upper()
    if rows <= 0 or cols <= 0:
        raise CardioGenInputError("image has no rows or columns", source=path, got=(rows, cols))
    if n_frames < 1:
        raise CardioGenInputError("NumberOfFrames must be >= 1", source=path, got=n_frames)
    pffg = None
    if n_frames > 1 or "PerFrameFunctionalGroupsSequence" in ds and "SharedFunctionalGroupsSequence" in ds:
        with _input_errors(path, "cannot read the per-frame functional groups"):
            pffg = list(ds.PerFrameFunctionalGroupsSequence) if "PerFrameFunctionalGroupsSequence" in ds else []
        if n_frames > 1 and len(pffg) != n_frames:
            raise CardioGenInputError("enhanced DICOM needs one per-frame functional group item per frame",
                                      source=path, expected=n_frames, got=len(pffg))
    out = []
    for k in range(n_frames):
        item = pffg[k] if pffg and k < len(pffg) else None
        out.append(_frame_record(path, ds, None if n_frames == 1 else k, item, rows, cols, series_uid, modality))
    return out


def _frame_record(path: Path, ds: Any, frame: int | None, pf: Any, rows: int, cols: int, series_uid: str,
                  modality: str) -> _Frame:
    def grab(seq_kw: str, kw: str, n: int | None):
        holder = _functional(ds, pf, seq_kw, kw) if (pf is not None or frame is not None) else None
        if holder is not None:
            return _floats(holder, kw, n, path)
        return _floats(ds, kw, n, path)

    with _input_errors(path, "cannot read the DICOM image header"):
        iop = grab("PlaneOrientationSequence", "ImageOrientationPatient", 6)
        ipp = grab("PlanePositionSequence", "ImagePositionPatient", 3)
        ps = grab("PixelMeasuresSequence", "PixelSpacing", 2)
        slope = grab("PixelValueTransformationSequence", "RescaleSlope", None)
        intercept = grab("PixelValueTransformationSequence", "RescaleIntercept", None)
        mapping = "ModalityLUT" if slope or intercept else "none"
        if mapping == "none":
            rwv = _real_world_mapping(ds, pf, path)
            if rwv is not None:
                slope, intercept, mapping = [rwv[0]], [rwv[1]], "RealWorldValueMapping"
        times: dict[str, float] = {}
        tt = _float(ds, "TriggerTime", path)
        if pf is not None or frame is not None:
            holder = _functional(ds, pf, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime")
            if holder is not None:
                tt = _float(holder, "NominalCardiacTriggerDelayTime", path)
            holder = _functional(ds, pf, "FrameContentSequence", "TemporalPositionIndex")
            if holder is not None:
                times["TemporalPositionIdentifier"] = _float(holder, "TemporalPositionIndex", path)
            holder = _functional(ds, pf, "CardiacSynchronizationSequence", "NominalPercentageOfCardiacPhase")
            if holder is not None:
                times["NominalPercentageOfCardiacPhase"] = _float(holder, "NominalPercentageOfCardiacPhase", path)
            holder = _functional(ds, pf, "FrameContentSequence", "FrameAcquisitionDateTime")
            if holder is not None:
                times["AcquisitionTime"] = _parse_dt(_raw(holder, "FrameAcquisitionDateTime"))
        if tt is not None:
            times["TriggerTime"] = tt
        for kw in ("TemporalPositionIdentifier", "NominalPercentageOfCardiacPhase"):
            if kw not in times:
                value = _float(ds, kw, path)
                if value is not None:
                    times[kw] = value
        for kw in ("AcquisitionTime", "ContentTime"):
            if times.get(kw) is None:
                times[kw] = _parse_tm(_raw(ds, kw))
    times = {k: v for k, v in times.items() if v is not None and math.isfinite(v)}
    return _Frame(
        path=path, frame=frame, ds=ds, series_uid=series_uid, dicom_modality=modality, rows=rows, cols=cols,
        iop=None if iop is None else np.asarray(iop, dtype=float),
        ipp=None if ipp is None else np.asarray(ipp, dtype=float),
        pixel_spacing=None if ps is None else (ps[0], ps[1]),
        times=times,
        slope=1.0 if not slope else slope[0],
        intercept=0.0 if not intercept else intercept[0],
        value_mapping=mapping,
    )


# ---------------------------------------------------------------------------------------------------------------
# collecting files
# ---------------------------------------------------------------------------------------------------------------
def _natural_key(path: Path) -> list:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", path.name)]


def _collect(source: Source, recursive: bool) -> tuple[list[Path], str, bool]:
    """(files, label of the source, explicit) for a folder, one file or a list of files."""
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            pattern = p.rglob("*") if recursive else p.iterdir()
            try:
                files = sorted((f for f in pattern if f.is_file() and not f.name.startswith(".")), key=_natural_key)
            except OSError as exc:
                raise CardioGenInputError(f"cannot list folder: {exc}", source=p) from exc
            if not files:
                subdirs = [d.name for d in p.iterdir() if d.is_dir()] if not recursive else []
                hint = f" (it has sub-folders {sorted(subdirs)[:5]}; pass one of them)" if subdirs else ""
                raise CardioGenInputError(f"folder is empty{hint}", source=p)
            return files, str(p), False
        if p.is_file():
            return [p], str(p), True
        raise CardioGenInputError("no such file or folder", source=p)
    try:
        files = [Path(f) for f in source]
    except TypeError as exc:
        raise CardioGenInputError("expected a folder, a file or a list of files", got=type(source).__name__) from exc
    if not files:
        raise CardioGenInputError("empty list of DICOM files")
    for f in files:
        if not f.is_file():
            raise CardioGenInputError("DICOM file not found", source=f)
    label = str(files[0].parent) if len({f.parent for f in files}) == 1 else f"{len(files)} files"
    return files, label, True


def _read_frames(files: list[Path], explicit: bool, source: str) -> list[_Frame]:
    """Header records of every image in ``files`` (non-DICOM files in folders and non-image objects skipped)."""
    frames: list[_Frame] = []
    for f in files:
        if f.name.upper() == "DICOMDIR":
            continue
        if not is_dicom(f):
            if explicit:
                raise CardioGenInputError("not a DICOM file", source=f)
            continue
        ds = read_dicom_header(f)
        if not _is_image_header(ds):
            if explicit and len(files) == 1:
                raise CardioGenInputError("DICOM file holds no image (no Rows/Columns)", source=f,
                                          got=_text(ds, "SOPClassUID") or "unknown SOP class")
            continue
        frames.extend(_frames_of(f, ds))
    if not frames:
        raise CardioGenInputError("no DICOM images found", source=source)
    return frames


# ---------------------------------------------------------------------------------------------------------------
# listing
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class DicomSeriesInfo:
    """Summary of one DICOM series found in a folder.

    Attributes:
        series_uid: SeriesInstanceUID ("" when the files have none).
        description: SeriesDescription (or ProtocolName).
        modality: DICOM Modality code ("MR", "CT" ...).
        n_files: number of files.
        n_positions: number of distinct slice positions (along the slice normal).
        n_phases: number of images per slice position (cardiac phases / time points).
        files: the files, in natural name order.
        series_number: SeriesNumber or None.
        image_size: (rows, columns) of the first image.
    """

    series_uid: str
    description: str
    modality: str
    n_files: int
    n_positions: int
    n_phases: int
    files: list[Path]
    series_number: int | None = None
    image_size: tuple[int, int] = (0, 0)

    def summary(self) -> str:
        """One line: uid, description and counts."""
        desc = self.description or "(no description)"
        return (f"{self.series_uid or '(no SeriesInstanceUID)'} [{self.modality}] '{desc}': {self.n_files} files, "
                f"{self.n_positions} slice positions x {self.n_phases} phases, "
                f"{self.image_size[0]}x{self.image_size[1]}")


def _cluster_positions(values: np.ndarray, tol: float = _POSITION_TOL_MM) -> np.ndarray:
    """Cluster id (0 = lowest) of each projected position; neighbours closer than ``tol`` share a cluster."""
    order = np.argsort(values, kind="stable")
    ids = np.empty(len(values), dtype=int)
    current = 0
    for rank, idx in enumerate(order):
        if rank > 0 and values[idx] - values[order[rank - 1]] > tol:
            current += 1
        ids[idx] = current
    return ids


def _normal(iop: np.ndarray) -> np.ndarray:
    n = np.cross(iop[:3], iop[3:])
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _group_by_series(frames: list[_Frame]) -> dict[str, list[_Frame]]:
    groups: dict[str, list[_Frame]] = {}
    for fr in frames:
        groups.setdefault(fr.series_uid, []).append(fr)
    return groups


def _info(uid: str, frames: list[_Frame]) -> DicomSeriesInfo:
    first = frames[0]
    positions = np.zeros(len(frames))
    if all(fr.ipp is not None for fr in frames) and first.iop is not None:
        n = _normal(first.iop)
        positions = np.array([float(fr.ipp @ n) for fr in frames])
    ids = _cluster_positions(positions)
    counts = np.bincount(ids)
    files = list(dict.fromkeys(fr.path for fr in frames))
    number = None
    with contextlib.suppress(Exception):
        number = int(first.ds.SeriesNumber) if _raw(first.ds, "SeriesNumber") is not None else None
    return DicomSeriesInfo(
        series_uid=uid,
        description=_text(first.ds, "SeriesDescription") or _text(first.ds, "ProtocolName"),
        modality=first.dicom_modality,
        n_files=len(files),
        n_positions=int(len(counts)),
        n_phases=int(counts.max()),
        files=files,
        series_number=number,
        image_size=(first.rows, first.cols),
    )


def list_dicom_series(folder: Source, *, recursive: bool = False) -> list[DicomSeriesInfo]:
    """List the image series in a folder (or list of files), one :class:`DicomSeriesInfo` per SeriesInstanceUID.

    Non-DICOM files, DICOMDIR, waveforms and other non-image objects are skipped. Sorted by series number, then uid.

    Raises:
        CardioGenInputError: missing/empty folder, no DICOM image, or a corrupt DICOM file (named).
    """
    files, label, explicit = _collect(folder, recursive)
    frames = _read_frames(files, explicit, label)
    infos = [_info(uid, frs) for uid, frs in _group_by_series(frames).items()]
    infos.sort(key=lambda i: (i.series_number if i.series_number is not None else 1 << 30, i.series_uid))
    return infos


# ---------------------------------------------------------------------------------------------------------------
# building one series
# ---------------------------------------------------------------------------------------------------------------
_DICOM_FAMILY = {"cine": "MR", "mr": "MR", "tagging": "MR", "dense_mag": "MR", "dense_phase": "MR", "ct": "CT"}


def _select_series(frames: list[_Frame], source: str, series_uid: str | None, modality: str | None) -> list[_Frame]:
    groups = _group_by_series(frames)
    if modality is not None:
        want = _DICOM_FAMILY.get(modality.lower(), modality.upper())
        groups = {u: f for u, f in groups.items() if f[0].dicom_modality == want}
        if not groups:
            raise CardioGenInputError("no series of the requested modality", source=source, expected=want,
                                      got=sorted({f.dicom_modality for f in frames}))
    if series_uid is not None:
        if series_uid not in groups:
            listing = "; ".join(_info(u, f).summary() for u, f in groups.items())
            raise CardioGenInputError("series not found", source=source, expected=series_uid, got=listing)
        return groups[series_uid]
    if len(groups) > 1:
        infos = sorted((_info(u, f) for u, f in groups.items()), key=lambda i: i.series_uid)
        listing = "; ".join(i.summary() for i in infos)
        raise CardioGenInputError(
            f"holds {len(groups)} DICOM series; pass series_uid= to pick one (series are never mixed): {listing}",
            source=source)
    return next(iter(groups.values()))


def _majority(values: list, frames: list[_Frame], what: str, source: str, close: Callable[[Any, Any], bool]) -> Any:
    """The most common value; raises naming the first frame whose value differs from it."""
    reps: list[tuple[Any, int]] = []
    for v in values:
        for i, (r, c) in enumerate(reps):
            if close(r, v):
                reps[i] = (r, c + 1)
                break
        else:
            reps.append((v, 1))
    ref = max(reps, key=lambda rc: rc[1])[0]
    for fr, v in zip(frames, values):
        if not close(ref, v):
            raise CardioGenInputError(f"{what} differs from the rest of the series", source=fr.label,
                                      expected=_show(ref), got=_show(v))
    return ref


def _show(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return np.round(v, 4).tolist()
    return v


def _check_required(frames: list[_Frame]) -> None:
    for fr in frames:
        if fr.ipp is None:
            raise CardioGenInputError("missing ImagePositionPatient (0020,0032)", source=fr.label)
        if fr.iop is None:
            raise CardioGenInputError("missing ImageOrientationPatient (0020,0037)", source=fr.label)
        if fr.pixel_spacing is None:
            raise CardioGenInputError("missing PixelSpacing (0028,0030)", source=fr.label)
        if min(fr.pixel_spacing) <= 0:
            raise CardioGenInputError("PixelSpacing must be > 0 mm", source=fr.label, got=fr.pixel_spacing)


def _orientation(iop: np.ndarray, label: str) -> np.ndarray:
    row, col = iop[:3], iop[3:]
    nr, nc = np.linalg.norm(row), np.linalg.norm(col)
    if not (0.99 < nr < 1.01 and 0.99 < nc < 1.01) or abs(float(row @ col)) > 1e-2:
        raise CardioGenInputError("ImageOrientationPatient is not two orthogonal unit vectors", source=label,
                                  got=np.round(iop, 5).tolist())
    row = row / nr
    col = col - (col @ row) * row
    col = col / np.linalg.norm(col)
    return np.column_stack([row, col, np.cross(row, col)])


@dataclass
class _Layout:
    grid: list[list[_Frame]]  # [t][z]
    direction: np.ndarray
    spacing: tuple[float, float, float]
    origin: np.ndarray
    time_key: str | None
    frame_times: np.ndarray
    time_source: str


def _layout(frames: list[_Frame], source: str) -> _Layout:
    _check_required(frames)
    rows_cols = _majority([(f.rows, f.cols) for f in frames], frames, "image size (rows, columns)", source,
                          lambda a, b: a == b)
    del rows_cols
    ps = _majority([f.pixel_spacing for f in frames], frames, "PixelSpacing", source,
                   lambda a, b: abs(a[0] - b[0]) <= 1e-4 * max(a[0], 1) and abs(a[1] - b[1]) <= 1e-4 * max(a[1], 1))
    iop = _majority([f.iop for f in frames], frames, "ImageOrientationPatient", source,
                    lambda a, b: bool(np.max(np.abs(a - b)) <= _IOP_TOL))
    direction = _orientation(iop, frames[0].label)
    normal = direction[:, 2]
    proj = np.array([float(f.ipp @ normal) for f in frames])
    ids = _cluster_positions(proj)
    n_pos = int(ids.max()) + 1
    by_pos: list[list[_Frame]] = [[] for _ in range(n_pos)]
    for fr, i in zip(frames, ids):
        by_pos[i].append(fr)
    counts = [len(g) for g in by_pos]
    nt = max(set(counts), key=counts.count)
    for z, g in enumerate(by_pos):
        if len(g) != nt:
            raise CardioGenInputError(
                f"slice position {z} ({proj[ids == z].mean():.2f} mm along the normal) has {len(g)} images while "
                f"the other positions have {nt} (missing or extra images?)", source=g[0].label)

    # order in time at each position
    time_key = None
    if nt > 1:
        keys = _TIME_KEYS_CT if frames[0].dicom_modality == "CT" else _TIME_KEYS_MR
        for key in keys:
            if all(key in f.times for f in frames) and all(len({f.times[key] for f in g}) == nt for g in by_pos):
                time_key = key
                break
        if time_key is None:
            raise CardioGenInputError(
                f"{nt} images share each slice position and no TriggerTime / TemporalPositionIdentifier / "
                "NominalPercentageOfCardiacPhase / AcquisitionTime / ContentTime tells them apart "
                "(several series or echoes mixed?)", source=by_pos[0][0].label)
        for g in by_pos:
            g.sort(key=lambda f: f.times[time_key])
    grid = [[by_pos[z][t] for z in range(n_pos)] for t in range(nt)]

    # slice spacing from the positions, and stacking along the normal
    centres = np.array([np.median([float(f.ipp @ normal) for f in g]) for g in by_pos])
    if n_pos > 1:
        steps = np.diff(centres)
        dz = float(np.median(steps))
        tol = max(0.01 * dz, 0.05)
        bad = np.nonzero(np.abs(steps - dz) > tol)[0]
        if bad.size:
            raise CardioGenInputError(
                "irregular slice spacing (a slice may be missing or the folder mixes stacks)", source=source,
                expected=f"uniform steps of {dz:.3f} mm", got=f"steps {np.round(steps, 3).tolist()} mm")
    else:
        dz = None
        for kw in ("SpacingBetweenSlices", "SliceThickness"):
            value = _float(frames[0].ds, kw, frames[0].path)
            if value is not None and value > 0:
                dz = value
                break
        dz = dz or 1.0
    origin = grid[0][0].ipp.copy()
    for z in range(n_pos):
        for t in range(nt):
            fr = grid[t][z]
            offset = fr.ipp - origin
            inplane = offset - (offset @ normal) * normal
            if np.linalg.norm(inplane) > 0.5 * max(ps):
                raise CardioGenInputError(
                    "slices are not stacked along the slice normal (gantry tilt, sheared or mixed stacks)",
                    source=fr.label, got=f"in-plane offset {np.round(inplane, 2).tolist()} mm")
    times, time_source = _frame_times(grid, frames[0], time_key)
    return _Layout(grid=grid, direction=direction, spacing=(float(ps[1]), float(ps[0]), float(dz)), origin=origin,
                   time_key=time_key, frame_times=times, time_source=time_source)


def _rr_ms(frames: list[_Frame]) -> float | None:
    """Median RR interval (ms) from NominalInterval, else from HeartRate; None when unknown."""
    values = []
    for fr in frames:
        ni = _float(fr.ds, "NominalInterval", fr.path)
        if ni is not None and ni > 0:
            values.append(ni)
    if values:
        return float(np.median(values))
    hr = _float(frames[0].ds, "HeartRate", frames[0].path) if frames else None
    return 60000.0 / hr if hr and hr > 0 else None


def _frame_times(grid: list[list[_Frame]], first: _Frame, time_key: str | None) -> tuple[np.ndarray, str]:
    nt = len(grid)
    flat = [f for row in grid for f in row]

    def per_phase(key: str, scale: float = 1.0, relative: bool = False) -> np.ndarray | None:
        if not all(key in f.times for f in flat):
            return None
        values = np.array([[f.times[key] for f in row] for row in grid], dtype=float) * scale
        med = np.median(values, axis=1)
        if relative:
            med = med - med[0]
        return med

    candidates: list[tuple[str, Callable[[], np.ndarray | None]]] = [("TriggerTime", lambda: per_phase("TriggerTime"))]
    rr = _rr_ms(flat)
    if rr:
        candidates.append(("NominalPercentageOfCardiacPhase",
                           lambda: per_phase("NominalPercentageOfCardiacPhase", scale=rr / 100.0)))
    candidates += [("AcquisitionTime", lambda: per_phase("AcquisitionTime", 1000.0, relative=True)),
                   ("ContentTime", lambda: per_phase("ContentTime", 1000.0, relative=True))]
    if nt == 1:
        tt = per_phase("TriggerTime")
        return (tt, "TriggerTime") if tt is not None else (np.zeros(1), "none")
    for name, fn in candidates:
        times = fn()
        if times is not None and np.all(np.isfinite(times)) and np.all(np.diff(times) > 0):
            return times, name
    return np.arange(nt, dtype=float), "index"


def _pixels(frames_grid: list[list[_Frame]], rescale: bool, source: str) -> np.ndarray:
    nt, nz = len(frames_grid), len(frames_grid[0])
    rows, cols = frames_grid[0][0].rows, frames_grid[0][0].cols
    out = np.empty((nt, nz, rows, cols), dtype=np.float32)
    cache: dict[Path, np.ndarray] = {}
    for t in range(nt):
        for z in range(nz):
            fr = frames_grid[t][z]
            arr = cache.get(fr.path)
            if arr is None:
                arr = _file_pixels(fr.path)
                if fr.frame is not None:
                    cache = {fr.path: arr}  # keep only the current multi-frame file
            img = arr if fr.frame is None else arr[fr.frame]
            if img.shape != (rows, cols):
                raise CardioGenInputError("pixel data does not match Rows/Columns", source=fr.label,
                                          expected=(rows, cols), got=img.shape)
            if rescale and (fr.slope != 1.0 or fr.intercept != 0.0):
                if fr.slope == 0:
                    raise CardioGenInputError("RescaleSlope is 0", source=fr.label)
                values = img.astype(np.float64) * fr.slope + fr.intercept
            else:
                values = img.astype(np.float64)
            if not np.all(np.isfinite(values)) or np.abs(values).max(initial=0) > 3e38:
                raise CardioGenInputError("rescaled pixel values are NaN/Inf (bad RescaleSlope/Intercept?)",
                                          source=fr.label, got=(fr.slope, fr.intercept))
            out[t, z] = values
    return out


def _file_pixels(path: Path) -> np.ndarray:
    ds = read_dicom_header(path, pixels=True)
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise CardioGenInputError("DICOM file has no pixel data", source=path)
    with _input_errors(path, "cannot decode pixel data (corrupt, truncated or unsupported compression)"):
        spp = int(ds.SamplesPerPixel) if _raw(ds, "SamplesPerPixel") is not None else 1
        if spp != 1:
            raise CardioGenInputError("colour images are not supported", source=path, expected=1, got=spp)
        with _quiet_pydicom():
            arr = np.asarray(ds.pixel_array)
    if arr.dtype.kind not in "biuf":
        raise CardioGenInputError("pixel data is not numeric", source=path, got=str(arr.dtype))
    return arr


def _metadata(frames: list[_Frame], layout: _Layout, n_slices: int) -> dict:
    ds, path = frames[0].ds, frames[0].path
    md: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if value not in (None, ""):
            md[name] = value

    put("manufacturer", _text(ds, "Manufacturer"))
    put("model", _text(ds, "ManufacturerModelName"))
    put("software_versions", _text(ds, "SoftwareVersions"))
    put("dicom_modality", frames[0].dicom_modality)
    put("sop_class_uid", _text(ds, "SOPClassUID"))
    put("series_description", _text(ds, "SeriesDescription"))
    put("protocol_name", _text(ds, "ProtocolName"))
    put("sequence_name", _text(ds, "SequenceName"))
    put("image_type", _text(ds, "ImageType"))
    put("study_instance_uid", _text(ds, "StudyInstanceUID"))
    put("series_instance_uid", _text(ds, "SeriesInstanceUID"))
    put("frame_of_reference_uid", _text(ds, "FrameOfReferenceUID"))
    put("image_comments", _text(ds, "ImageComments"))
    put("body_part_examined", _text(ds, "BodyPartExamined"))
    put("patient_position", _text(ds, "PatientPosition"))
    for name, kw in (("series_number", "SeriesNumber"), ("cardiac_number_of_images", "CardiacNumberOfImages")):
        with contextlib.suppress(Exception):
            put(name, int(_float(ds, kw, path)) if _float(ds, kw, path) is not None else None)
    for name, kw in (("field_strength_t", "MagneticFieldStrength"), ("repetition_time_ms", "RepetitionTime"),
                     ("echo_time_ms", "EchoTime"), ("flip_angle_deg", "FlipAngle"),
                     ("slice_thickness_mm", "SliceThickness"), ("spacing_between_slices_mm", "SpacingBetweenSlices"),
                     ("kvp", "KVP"), ("pixel_bandwidth_hz", "PixelBandwidth")):
        with contextlib.suppress(CardioGenInputError):
            put(name, _float(ds, kw, path))
    with contextlib.suppress(CardioGenInputError):
        rr = _rr_ms(frames)
        if rr:
            md["nominal_interval_ms"] = rr
            md["heart_rate_bpm"] = 60000.0 / rr
    slopes = {(f.slope, f.intercept) for f in frames}
    if len(slopes) == 1:
        md["rescale_slope"], md["rescale_intercept"] = next(iter(slopes))
    mappings = {f.value_mapping for f in frames}
    md["pixel_value_mapping"] = next(iter(mappings)) if len(mappings) == 1 else "mixed"
    with contextlib.suppress(Exception):
        md["bits_stored"] = int(ds.BitsStored)
        md["pixel_representation"] = int(ds.PixelRepresentation)
    md["time_key"] = layout.time_key
    md["frame_time_source"] = layout.time_source
    md["n_slices"] = n_slices
    return md


_TAGGING_NAME = re.compile(r"(?i)tagg|(?<![a-z])tag(?![a-z])|spamm")


def _modality(frames: list[_Frame], layout: _Layout) -> str:
    ds, path = frames[0].ds, frames[0].path
    m = re.search(r"CardioGen[^;]*modality=(\w+)", _text(ds, "ImageComments"))
    if m and m.group(1) in MODALITIES:
        return m.group(1)
    code = frames[0].dicom_modality
    if code == "CT":
        return "ct"
    if code in ("", "MR"):
        # Tagged cine (SPAMM / CSPAMM; e.g. UK Biobank "cine_tagging_3sl"): named in the series description/protocol.
        names = " ".join(_text(ds, k) for k in ("SeriesDescription", "ProtocolName", "SequenceName"))
        if _TAGGING_NAME.search(names):
            return "tagging"
        cni = None
        with contextlib.suppress(CardioGenInputError):
            cni = _float(ds, "CardiacNumberOfImages", path)
        if (cni is not None and cni > 1) or (len(layout.grid) > 1 and layout.time_key == "TriggerTime"):
            return "cine"
        return "mr"
    return "other"


def _build(frames: list[_Frame], source: str, *, rescale: bool = True,
           modality: str | None = None) -> ImageSeries:
    layout = _layout(frames, source)
    array = _pixels(layout.grid, rescale, source)
    nz = len(layout.grid[0])
    geometry = Geometry(spacing=layout.spacing, origin=tuple(layout.origin), direction=layout.direction)
    md = _metadata(frames, layout, nz)
    # "mr" / "ct" only filter; other cardiogen names (tagging, dense_mag, cine ...) also set the output modality
    out_modality = modality if modality in MODALITIES and modality not in ("mr", "ct") else _modality(frames, layout)
    files = [[str(fr.path) for fr in row] for row in layout.grid]
    provenance: dict[str, Any] = {
        "reader": "cardiogen.io.dicom_io.read_dicom_series",
        "source": source,
        "series_instance_uid": frames[0].series_uid,
        "files": files,
    }
    if any(fr.frame is not None for row in layout.grid for fr in row):
        provenance["frame_numbers"] = [[fr.frame for fr in row] for row in layout.grid]
    description = (md.get("series_description") or md.get("protocol_name")
                   or f"{frames[0].dicom_modality or 'DICOM'} series {md.get('series_number', '')}".strip())
    synthetic = "SYNTHETIC" in (md.get("series_description", "") + " " + md.get("image_comments", "")).upper()
    with _input_errors(source, "invalid series"):
        return ImageSeries(array, geometry=geometry, frame_times=layout.frame_times, modality=out_modality,
                           synthetic=synthetic, provenance=provenance, description=description, metadata=md)


def _load(source: Source, series_uid: str | None, modality: str | None, recursive: bool,
          rescale: bool = True) -> tuple[ImageSeries, list[_Frame]]:
    files, label, explicit = _collect(source, recursive)
    with _quiet_pydicom():
        frames = _read_frames(files, explicit, label)
        chosen = _select_series(frames, label, series_uid, modality)
        return _build(chosen, label, rescale=rescale, modality=modality), chosen


def read_dicom_series(folder_or_files: Source, series_uid: str | None = None, modality: str | None = None, *,
                      recursive: bool = False) -> ImageSeries:
    """Read one DICOM series as an :class:`ImageSeries` ``(t, z, y, x)`` float32.

    Args:
        folder_or_files: a folder (its files, not sub-folders unless ``recursive``), one file or a list of files.
        series_uid: SeriesInstanceUID to read when the folder holds several series.
        modality: optional filter: a DICOM code ("MR", "CT") or a cardiogen modality ("cine", "ct", "mr",
            "tagging", "dense_mag" ...); cardiogen modalities other than "mr"/"ct" also set the output modality.
        recursive: also look in sub-folders.

    Returns:
        ImageSeries with rescaled values (CT in HU), geometry (LPS; see module docstring for slice order),
        frame times in ms, modality "tagging" (MR whose series description, protocol or sequence name says
        tag/tagging/SPAMM), "cine" (MR with CardiacNumberOfImages > 1 or several trigger times), "ct",
        "mr" or "other" (a modality stored by :func:`~cardiogen.io.dicom_export.write_dicom_series` is restored);
        ``synthetic`` is True when SeriesDescription or ImageComments says "SYNTHETIC"; ``metadata`` holds
        patient-free header facts (manufacturer, field strength, TR/TE/flip, heart rate, UIDs ...);
        ``provenance["files"]`` is the ``[t][z]`` list of source file paths.

    Raises:
        CardioGenInputError: naming the file or folder: not found/empty, corrupt or truncated DICOM, missing
            PixelSpacing / ImagePositionPatient / ImageOrientationPatient, inconsistent image sizes or orientations,
            several series without ``series_uid`` (they are listed), irregular or missing slices, NaN after rescale.
    """
    series, _ = _load(folder_or_files, series_uid, modality, recursive)
    return series


# ---------------------------------------------------------------------------------------------------------------
# DENSE
# ---------------------------------------------------------------------------------------------------------------
def parse_dense_comments(comment: str) -> dict:
    """Parse a Siemens/DENSEanalysis ImageComments string.

    Example: ``"DENSE x-enc pha - Scale:2.309401 EncFreq:0.08 Rep:0/1 Slc:0/1 Par:0/1 Phs:0/35 RCswap:0
    RCSflip:1/0/0"`` gives ``{"direction": "x", "type": "pha", "scale": 2.309401, "enc_freq": 0.08,
    "swap": 0, "negate": (1, 0, 0), "phase_index": 0, "n_phases": 35}``. Missing fields are absent.
    """
    out: dict[str, Any] = {}
    text = str(comment or "")
    m = re.search(r"DENSE\s+(\w+)[-\s]*(?:enc\s+)?(mag|pha)", text, re.IGNORECASE)
    if m:
        d = m.group(1).lower().split("-")[0]
        out["direction"] = d if d in ("x", "y", "z") else d
        out["type"] = m.group(2).lower()
    num = r"([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)"
    for name, pattern in (("scale", r"Scale:\s*" + num), ("enc_freq", r"EncFreq:\s*" + num)):
        m = re.search(pattern, text)
        if m:
            out[name] = float(m.group(1))
    m = re.search(r"RCswap:\s*(\d)", text)
    if m:
        out["swap"] = int(m.group(1))
    m = re.search(r"RCS?flip:\s*(\d)\s*/\s*(\d)\s*/\s*(\d)", text)
    if m:
        out["negate"] = tuple(int(g) for g in m.groups())
    m = re.search(r"Phs:\s*(\d+)\s*/\s*(\d+)", text)
    if m:
        out["phase_index"], out["n_phases"] = int(m.group(1)), int(m.group(2))
    return out


def _phase_range(frames: list[_Frame], raw: np.ndarray, label: str,
                 phase_range: tuple[float, float] | None) -> tuple[float, float]:
    if phase_range is not None:
        lo, hi = float(phase_range[0]), float(phase_range[1])
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise CardioGenInputError("phase_range must be (low, high) with high > low", got=phase_range)
        return lo, hi
    if raw.min() >= 0 and raw.max() <= 4095:
        return 0.0, 4095.0
    ds = frames[0].ds
    with _input_errors(label, "cannot read BitsStored / PixelRepresentation"):
        bits = int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1 if _raw(ds, "PixelRepresentation") is not None else False
    if signed:
        return -float(2 ** (bits - 1)), float(2 ** (bits - 1) - 1)
    return 0.0, float(2 ** bits - 1)


def read_dense_dicom(mag_files_or_folder: Source, phase_x: Source, phase_y: Source, phase_z: Source | None = None,
                     ke: float | Sequence[float] | None = None, *, phase_range: tuple[float, float] | None = None,
                     apply_flags: bool = True) -> DenseSeries:
    """Read DENSE magnitude + phase DICOM series into a :class:`DenseSeries`.

    Phase pixels (stored values, no rescale) are mapped linearly from ``[0, 4095]`` (12-bit, when the values fit)
    or else from the stored range of BitsStored / PixelRepresentation (or ``phase_range``) onto ``[-π, π]``, as
    DENSEanalysis does: ``phase = 2π (v - low) / (high - low) - π``.

    The encoding frequency of each phase series is ``ke = Scale · EncFreq`` cycles/mm parsed from the Siemens
    ImageComments (``"DENSE x-enc pha - Scale:2.309401 EncFreq:0.08 ..."``); the ``ke`` argument (scalar or one per
    encoding) overrides it. With ``apply_flags`` the DENSEanalysis flags in the comments are applied like
    DENSEanalysis: ``RCswap:1`` swaps the x and y phase blocks, then ``RCSflip:a/b/c`` negates the x/y/z phase.

    Args:
        mag_files_or_folder, phase_x, phase_y, phase_z: folders / files / file lists, one series each.
        ke: cycles/mm; required when the headers hold no EncFreq.

    Returns:
        DenseSeries with magnitude modality "dense_mag", phase ``(e, t, z, y, x)`` radians, encodings
        ("x", "y"[, "z"]), ke per encoding, metadata with the parsed comments.

    Raises:
        CardioGenInputError: unreadable series, magnitude/phase grids that differ, phase values outside the range,
            no encoding frequency found (naming the phase series).
    """
    mag, _ = _load(mag_files_or_folder, None, None, False)
    mag = mag.with_array(mag.array, modality="dense_mag")
    sources = [("x", phase_x), ("y", phase_y)] + ([("z", phase_z)] if phase_z is not None else [])
    blocks, comments, labels = [], [], []
    for enc, src in sources:
        series, frames = _load(src, None, None, False, rescale=False)
        label = series.provenance.get("source", str(src))
        if series.shape != mag.shape:
            raise CardioGenInputError(f"DENSE {enc} phase series shape differs from the magnitude", source=label,
                                      expected=mag.shape, got=series.shape)
        if not series.geometry.allclose(mag.geometry, atol=1e-2):
            raise CardioGenInputError(f"DENSE {enc} phase series geometry differs from the magnitude", source=label)
        raw = series.array.astype(np.float64)
        lo, hi = _phase_range(frames, raw, label, phase_range)
        if raw.min() < lo or raw.max() > hi:
            raise CardioGenInputError(f"DENSE {enc} phase values outside the expected stored range", source=label,
                                      expected=(lo, hi), got=(float(raw.min()), float(raw.max())))
        phase = np.clip(2.0 * np.pi * (raw - lo) / (hi - lo) - np.pi, -np.pi, np.pi)
        blocks.append(phase.astype(np.float32))
        comments.append(parse_dense_comments(_text(frames[0].ds, "ImageComments")))
        labels.append(label)
    encodings = [enc for enc, _ in sources]

    # encoding frequency per block (in the acquisition order, before any swap)
    ke_values: list[float | None] = []
    for c in comments:
        ke_values.append(c["enc_freq"] * c.get("scale", 1.0) if "enc_freq" in c else None)
    if ke is not None:
        given = np.broadcast_to(np.asarray(ke, dtype=float), (len(blocks),)) if np.ndim(ke) == 0 else \
            np.asarray(ke, dtype=float).reshape(-1)
        if given.size != len(blocks):
            raise CardioGenInputError("ke must be a scalar or one value per phase series", expected=len(blocks),
                                      got=given.size)
        ke_values = [float(v) for v in given]
    missing = [labels[i] for i, v in enumerate(ke_values) if v is None]
    if missing:
        raise CardioGenInputError(
            "no DENSE encoding frequency found (ImageComments lacks 'EncFreq:'); pass ke= in cycles/mm",
            source=missing[0])

    flags = {"swap": 0, "negate": (0, 0, 0)}
    for c in comments:
        if "swap" in c:
            flags["swap"] = c["swap"]
        if "negate" in c:
            flags["negate"] = c["negate"]
    if apply_flags:
        if flags["swap"] and len(blocks) >= 2:
            blocks[0], blocks[1] = blocks[1], blocks[0]
            ke_values[0], ke_values[1] = ke_values[1], ke_values[0]
        for i, enc in enumerate(encodings):
            if flags["negate"]["xyz".index(enc)]:
                blocks[i] = -blocks[i]
    metadata = {
        "reader": "cardiogen.io.dicom_io.read_dense_dicom",
        "comments": comments,
        "swap_flag": flags["swap"],
        "neg_flag": list(flags["negate"]),
        "flags_applied": bool(apply_flags),
        "phase_sources": labels,
        "magnitude_source": mag.provenance.get("source"),
    }
    with _input_errors(labels[0], "invalid DENSE data"):
        return DenseSeries(magnitude=mag, phase=np.stack(blocks), encodings=tuple(encodings), ke=ke_values,
                           metadata=metadata)


# ---------------------------------------------------------------------------------------------------------------
# fuzz entry points
# ---------------------------------------------------------------------------------------------------------------
def _read_as_dense(path: PathLike) -> DenseSeries:
    return read_dense_dicom(path, path, path, ke=0.1)


#: Reader entry points for robustness (fuzz) tests: each takes one path (a file or a folder) and either returns
#: a result or raises :class:`~cardiogen.errors.CardioGenInputError`; ``is_dicom`` returns a bool and never raises.
DICOM_READERS: dict[str, Callable[[PathLike], Any]] = {
    "is_dicom": is_dicom,
    "read_dicom_header": read_dicom_header,
    "list_dicom_series": list_dicom_series,
    "read_dicom_series": read_dicom_series,
    "read_dense_dicom": _read_as_dense,
}
