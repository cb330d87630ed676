"""Write an :class:`ImageSeries` as a DICOM series (one file per frame and slice) that passes ``dciodvfy``.

Every exported series is *derived*: ImageType ``DERIVED\\SECONDARY`` (value 3 ``OTHER`` or ``PHASE MAP`` for MR,
``AXIAL`` for CT), fresh Study/Series/SOP/FrameOfReference UIDs, BurnedInAnnotation ``NO``. Synthetic series carry
"SYNTHETIC" in SeriesDescription, StudyDescription and ImageComments. No patient identifier is copied unless
``copy_patient=True`` (then PatientName/ID/BirthDate/Sex only); otherwise PatientIdentityRemoved is ``YES`` with a
DeidentificationMethod and PatientID is a pseudonym made from the new StudyInstanceUID ("SYNTHETIC-..." or
"ANON-..."), so that DICOMDIR and PACS imports work.

Pixels (the IODs differ):

* **MR** (cine, tagging, DENSE magnitude and phase, mr): unsigned 16-bit without RescaleSlope/RescaleIntercept,
  which are not part of the MR Image IOD and which MR viewers ignore. Integer data in ``0..65535`` is stored
  exactly; other data is scaled onto ``0..65535`` (round-trip error at most ``range / 131070``) and a Real World
  Value Mapping item carries the original values (``value = stored * slope + intercept``, 64-bit floats), which
  :func:`~cardiogen.io.dicom_io.read_dicom_series` applies. DENSE phase is stored as 12-bit ``0..4095`` for
  ``[-π, π]`` (the Siemens / DENSEanalysis convention) with a mapping in radians.
* **CT** and **Secondary Capture** (strain, label, other): int16 with RescaleSlope/RescaleIntercept (CT in HU);
  integer data that fits int16 is stored exactly (slope 1, intercept 0), other data is scaled to the int16 range
  (round-trip error at most half a slope step, about range / 64000).

Windows (WindowCenter/Width) are in the values after the Modality LUT (MR: the stored values); a window narrower
than 1 gets VOILUTFunction ``LINEAR_EXACT``. Multi-frame (enhanced) objects are not written.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..data import ImageSeries
from ..errors import CardioGenInputError
from .atomic import atomic_dir

__all__ = ["write_dicom_series", "SOP_CLASS_FOR_MODALITY"]

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"

#: cardiogen modality -> (SOP class UID, DICOM Modality code)
SOP_CLASS_FOR_MODALITY = {
    "cine": (MR_IMAGE_STORAGE, "MR"),
    "mr": (MR_IMAGE_STORAGE, "MR"),
    "tagging": (MR_IMAGE_STORAGE, "MR"),
    "dense_mag": (MR_IMAGE_STORAGE, "MR"),
    "dense_phase": (MR_IMAGE_STORAGE, "MR"),
    "ct": (CT_IMAGE_STORAGE, "CT"),
}

_PATIENT_KEYWORDS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")


def _ds_text(value: float) -> str:
    """A decimal string (DS, at most 16 characters) for ``value``."""
    from pydicom.valuerep import format_number_as_ds  # noqa: PLC0415

    return format_number_as_ds(float(value))


def _rescale(array: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) so that ``stored = round((v - intercept) / slope)`` fits int16 and keeps precision."""
    lo, hi = float(array.min()), float(array.max())
    if np.all(array == np.round(array)) and lo >= -32768 and hi <= 32767:
        return 1.0, 0.0
    intercept = float(_ds_text((hi + lo) / 2.0))
    span = max(hi - intercept, intercept - lo)
    if span <= 0:
        return 1.0, intercept
    slope = float(_ds_text(span / 32000.0))  # a little headroom for the DS rounding
    return slope, intercept


@dataclass(frozen=True)
class _PixelEncoding:
    """How real values become stored integers: ``value = stored * slope + intercept``.

    ``mapping`` is "ModalityLUT" (RescaleSlope / RescaleIntercept, CT and Secondary Capture), "RealWorldValue"
    (a Real World Value Mapping item, MR: the MR IOD has no Modality LUT) or "none" (stored = value).
    """

    stored: np.ndarray  # (t, z, y, x) int16 or uint16
    signed: bool
    bits_stored: int
    slope: float
    intercept: float
    mapping: str
    units: tuple[str, str]  # UCUM (code, meaning) of the real-world values


_UNITLESS = ("1", "no units")
_RADIANS = ("rad", "radian")
_UINT16_MAX = 65535
_PHASE_LEVELS = 4095  # 12-bit phase images: the Siemens / DENSEanalysis convention read back by read_dense_dicom


def _modality_lut_encoding(array: np.ndarray) -> _PixelEncoding:
    """int16 with RescaleSlope / RescaleIntercept (exact for integer data in the int16 range, e.g. CT HU)."""
    slope, intercept = _rescale(array)
    stored = np.clip(np.round((array.astype(np.float64) - intercept) / slope), -32768, 32767).astype(np.int16)
    return _PixelEncoding(stored, True, 16, slope, intercept, "ModalityLUT", _UNITLESS)


def _mr_encoding(array: np.ndarray, modality: str, source: Path) -> _PixelEncoding:
    """Unsigned MR pixels without a Modality LUT (the MR IOD has none; MR viewers show the stored values).

    * DENSE phase ``[-π, π]`` rad -> 12-bit ``0..4095`` (``read_dense_dicom`` and DENSEanalysis read this), with a
      Real World Value Mapping in radians;
    * integer data in ``0..65535`` (e.g. a re-exported scanner series) is stored exactly, with no mapping;
    * anything else is scaled onto ``0..65535`` (an error of at most ``range / 131070``) and a Real World Value
      Mapping (slope and intercept as 64-bit floats) gives the original values back.
    """
    values = array.astype(np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if modality == "dense_phase":
        if lo < -np.pi - 1e-3 or hi > np.pi + 1e-3:
            raise CardioGenInputError("DENSE phase must be wrapped radians in [-pi, pi]", source=source,
                                      got=(lo, hi))
        slope = 2.0 * np.pi / _PHASE_LEVELS
        stored = np.clip(np.round((values + np.pi) / slope), 0, _PHASE_LEVELS).astype(np.uint16)
        return _PixelEncoding(stored, False, 12, slope, -np.pi, "RealWorldValue", _RADIANS)
    if np.all(values == np.round(values)) and lo >= 0 and hi <= _UINT16_MAX:
        return _PixelEncoding(values.astype(np.uint16), False, 16, 1.0, 0.0, "none", _UNITLESS)
    slope = (hi - lo) / _UINT16_MAX if hi > lo else 1.0
    stored = np.clip(np.round((values - lo) / slope), 0, _UINT16_MAX).astype(np.uint16)
    return _PixelEncoding(stored, False, 16, slope, lo, "RealWorldValue", _UNITLESS)


def _real_world_value_item(enc: _PixelEncoding, modality: str) -> Any:
    """One Real World Value Mapping item (PS3.3 C.7.6.16.2.11) for the MR encodings."""
    from pydicom.dataset import Dataset  # noqa: PLC0415

    units = Dataset()
    units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = enc.units[0], "UCUM", enc.units[1]
    item = Dataset()
    item.RealWorldValueFirstValueMapped = 0
    item.RealWorldValueLastValueMapped = (1 << enc.bits_stored) - 1
    item.RealWorldValueIntercept = float(enc.intercept)
    item.RealWorldValueSlope = float(enc.slope)
    item.LUTExplanation = ("DENSE phase" if modality == "dense_phase" else f"CardioGen {modality} value")[:64]
    item.LUTLabel = "CARDIOGEN"
    item.MeasurementUnitsCodeSequence = [units]
    return item


def _image_type_value3(modality: str, dicom_modality: str, direction: np.ndarray) -> str | None:
    """ImageType value 3 (a defined term of the MR / CT Image Module; None for Secondary Capture)."""
    if dicom_modality == "MR":
        return "PHASE MAP" if modality == "dense_phase" else "OTHER"
    if dicom_modality == "CT":
        return "AXIAL" if abs(float(direction[2, 2])) >= np.cos(np.radians(45.0)) else "REFORMATTED"
    return None


def _orientation_letters(vector: np.ndarray) -> str:
    """PatientOrientation letters (LPS: L/R, P/A, H/F) of a direction, largest component first."""
    letters = (("L", "R"), ("P", "A"), ("H", "F"))
    order = np.argsort(-np.abs(vector))
    return "".join(letters[i][0 if vector[i] > 0 else 1] for i in order if abs(vector[i]) > 1e-3)


#: cardiogen modalities that are images of the heart (CardioGen's CT is cardiac CT); BodyPartExamined HEART, an
#: unpaired part, so Laterality is absent
_CARDIAC = ("cine", "tagging", "dense_mag", "dense_phase", "strain", "label", "ct")
_GATED = ("cine", "tagging", "dense_mag", "dense_phase")


def _body_part(series: ImageSeries) -> str:
    """BodyPartExamined: from the series metadata (a re-exported scanner series), else HEART for cardiac modalities
    and synthetic series, else empty (unknown: then Laterality is written empty)."""
    known = str(series.metadata.get("body_part_examined", "") if isinstance(series.metadata, dict) else "")
    if known:
        return known.upper()[:16]
    return "HEART" if series.modality in _CARDIAC or series.synthetic else ""


def _patient_position(series: ImageSeries, source: Any) -> str:
    """PatientPosition (HFS, FFS ...) from the source dataset or the series metadata; empty (unknown) otherwise."""
    if source is not None and source.get("PatientPosition"):
        return str(source.PatientPosition)
    return str(series.metadata.get("patient_position", "") if isinstance(series.metadata, dict) else "")


def _deidentification_method(series: ImageSeries) -> str:
    """DeidentificationMethod (LO) of an export that copies no patient attribute."""
    if series.synthetic:
        return "SYNTHETIC image, no patient: CardioGen writes no identifiers"
    return "CardioGen export: no patient attribute copied"


def _patient_attributes(source: Any) -> dict[str, Any]:
    """PatientName/ID/BirthDate/Sex of ``source``; a birth date that is not a date (e.g. the placeholder
    "00000000") or a sex other than M/F/O is written empty (unknown), as its VR requires."""
    out: dict[str, Any] = {}
    for kw in _PATIENT_KEYWORDS:
        if kw not in source:
            continue
        value = source[kw].value
        if kw == "PatientBirthDate":
            try:
                _dt.datetime.strptime(str(value or ""), "%Y%m%d")
            except ValueError:
                value = ""
        elif kw == "PatientSex" and str(value or "").upper() not in ("M", "F", "O"):
            value = ""
        out[kw] = value
    return out


def _pseudonym(prefix: str, uid: str, length: int) -> str:
    """A short identifier derived from a fresh UID (stable within one export, unrelated to any patient)."""
    digest = hashlib.sha1(uid.encode("ascii")).hexdigest().upper()
    return f"{prefix}{digest}"[:length]


def _source_dataset(source: Any) -> Any:
    if source is None:
        return None
    if isinstance(source, (str, os.PathLike)):
        from .dicom_io import read_dicom_header  # noqa: PLC0415

        return read_dicom_header(source)
    if not hasattr(source, "get"):
        raise CardioGenInputError("source_dataset must be a pydicom Dataset or a DICOM file path",
                                  got=type(source).__name__)
    return source


def _description(series: ImageSeries, series_description: str | None) -> str:
    text = series_description or series.description or series.modality
    text = " ".join(str(text).split())
    if series.synthetic and "SYNTHETIC" not in text.upper():
        text = f"SYNTHETIC {text}"
    return text[:64]


def write_dicom_series(series: ImageSeries, folder: str | os.PathLike, *, source_dataset: Any = None,
                       copy_patient: bool = False, series_description: str | None = None,
                       overwrite: bool = False) -> list[Path]:
    """Write ``series`` as DICOM files ``IM_tTTTT_zZZZ.dcm`` in ``folder`` (created atomically).

    Args:
        series: the series; modality "ct" → CT Image Storage, MR modalities → MR Image Storage, else Secondary
            Capture (with the same geometry tags); pixels as in the module docstring.
        folder: output folder; it must not exist or be empty unless ``overwrite`` (then it is replaced whole).
        source_dataset: pydicom Dataset or DICOM file the series derives from (only used for patient tags and
            PatientPosition).
        copy_patient: copy PatientName, PatientID, PatientBirthDate, PatientSex from ``source_dataset``.
        series_description: SeriesDescription (default: the series description); "SYNTHETIC" is prepended for
            synthetic series.

    Returns:
        The written files, ordered by frame then slice.

    Raises:
        CardioGenInputError: not an ImageSeries, non-empty folder without ``overwrite``, bad source dataset,
            DENSE phase outside ``[-π, π]``.
    """
    if not isinstance(series, ImageSeries):
        raise CardioGenInputError("write_dicom_series needs an ImageSeries", got=type(series).__name__)
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CardioGenInputError("output path exists and is not a folder", source=out)
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise CardioGenInputError("output folder is not empty (pass overwrite=True to replace it)", source=out)
    if copy_patient and source_dataset is None:
        raise CardioGenInputError("copy_patient=True needs source_dataset")
    source = _source_dataset(source_dataset)
    copied = _patient_attributes(source) if copy_patient else {}

    import pydicom  # noqa: PLC0415
    from pydicom.dataset import FileMetaDataset  # noqa: PLC0415
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: PLC0415

    sop_class, dicom_modality = SOP_CLASS_FOR_MODALITY.get(series.modality, (SECONDARY_CAPTURE, "OT"))
    nt, nz, rows, cols = series.shape
    if rows > 65535 or cols > 65535:
        raise CardioGenInputError("image too large for DICOM", got=(rows, cols))
    if dicom_modality == "MR":
        encoding = _mr_encoding(series.array, series.modality, out)
    else:
        encoding = _modality_lut_encoding(series.array)
    geom = series.geometry
    direction = np.asarray(geom.direction, dtype=float)
    iop = [_ds_text(v) for v in np.concatenate([direction[:, 0], direction[:, 1]])]
    sx, sy, sz = geom.spacing
    origin = np.asarray(geom.origin, dtype=float)
    study_uid, series_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    patient_id = _pseudonym("SYNTHETIC-" if series.synthetic else "ANON-", study_uid, 26)
    study_id = _pseudonym("CG", study_uid, 16)
    pixel_dtype = "<i2" if encoding.signed else "<u2"
    now = _dt.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    description = _description(series, series_description)
    comment = f"CardioGen: modality={series.modality}"
    if series.synthetic:
        comment = f"SYNTHETIC image generated by CardioGen; {comment}"
        pipeline = series.provenance.get("pipeline") if isinstance(series.provenance, dict) else None
        if pipeline:
            comment += f"; pipeline={pipeline}"
    # the window applies after the Modality LUT: to the stored values of MR, to rescaled values otherwise
    shown = (encoding.stored.astype(np.float64) * encoding.slope + encoding.intercept
             if encoding.mapping == "ModalityLUT" else encoding.stored)
    lo, hi = np.percentile(shown, [1, 99]) if shown.size else (0.0, 1.0)
    window_center, window_width = (lo + hi) / 2.0, max(hi - lo, 1e-3)
    value3 = _image_type_value3(series.modality, dicom_modality, direction)
    cardiac_gated = dicom_modality == "MR" and (nt > 1 or series.modality in _GATED)
    body_part, patient_position = _body_part(series), _patient_position(series, source)
    patient_orientation = [_orientation_letters(direction[:, 0]), _orientation_letters(direction[:, 1])]
    heart_rate = series.metadata.get("heart_rate_bpm") if isinstance(series.metadata, dict) else None
    from .. import __version__  # noqa: PLC0415

    written: list[Path] = []
    with atomic_dir(out) as tmp:
        for t in range(nt):
            for z in range(nz):
                sop_uid = generate_uid()
                meta = FileMetaDataset()
                meta.MediaStorageSOPClassUID = sop_class
                meta.MediaStorageSOPInstanceUID = sop_uid
                meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds = pydicom.Dataset()
                ds.file_meta = meta
                ds.SpecificCharacterSet = "ISO_IR 192"
                ds.ImageType = ["DERIVED", "SECONDARY"] + ([value3] if value3 else [])
                ds.SOPClassUID = sop_class
                ds.SOPInstanceUID = sop_uid
                ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
                ds.StudyTime = ds.SeriesTime = ds.ContentTime = time
                ds.AccessionNumber = ""
                ds.Modality = dicom_modality
                ds.Manufacturer = "CardioGen"
                ds.SoftwareVersions = f"cardiogen {__version__}"
                ds.ReferringPhysicianName = ""
                ds.SeriesDescription = description
                ds.StudyDescription = "SYNTHETIC" if series.synthetic else ""
                ds.PatientName = ""
                ds.PatientID = ""
                ds.PatientBirthDate = ""
                ds.PatientSex = ""
                if copy_patient and source is not None:
                    for kw, value in copied.items():
                        setattr(ds, kw, value)
                else:
                    ds.PatientID = patient_id
                    ds.PatientIdentityRemoved = "YES"
                    ds.DeidentificationMethod = _deidentification_method(series)
                if body_part:
                    ds.BodyPartExamined = body_part  # an unpaired part: Laterality is absent
                else:
                    ds.Laterality = ""  # unknown
                if dicom_modality in ("MR", "CT"):
                    ds.PatientPosition = patient_position
                else:
                    ds.PatientOrientation = patient_orientation
                ds.BurnedInAnnotation = "NO"
                ds.ImageComments = comment[:10240]
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.FrameOfReferenceUID = for_uid
                ds.PositionReferenceIndicator = ""
                ds.StudyID = study_id
                ds.SeriesNumber = 1
                ds.InstanceNumber = t * nz + z + 1
                ds.AcquisitionNumber = 1
                ipp = origin + direction[:, 2] * sz * z
                ds.ImagePositionPatient = [_ds_text(v) for v in ipp]
                ds.ImageOrientationPatient = iop
                ds.SliceLocation = _ds_text(float(ipp @ direction[:, 2]))
                ds.PixelSpacing = [_ds_text(sy), _ds_text(sx)]  # (row spacing, column spacing)
                ds.SliceThickness = _ds_text(sz)
                ds.SpacingBetweenSlices = _ds_text(sz)
                if cardiac_gated or (dicom_modality != "MR" and nt > 1):
                    ds.TriggerTime = _ds_text(series.frame_times[t])
                if dicom_modality == "MR" or nt > 1:  # outside the CT and SC IODs: only for several phases
                    ds.TemporalPositionIdentifier = t + 1
                    ds.NumberOfTemporalPositions = nt
                if series.modality == "cine" or nt > 1 and dicom_modality == "MR":
                    ds.CardiacNumberOfImages = nt
                if heart_rate:
                    ds.HeartRate = int(round(float(heart_rate)))
                    ds.NominalInterval = int(round(60000.0 / float(heart_rate)))
                if dicom_modality == "MR":
                    ds.ScanningSequence = "RM"  # research mode: not an acquisition
                    ds.SequenceVariant = "NONE"
                    ds.ScanOptions = "CG" if cardiac_gated else ""  # cardiac phases: TriggerTime applies
                    ds.MRAcquisitionType = "2D"
                    ds.EchoTime = ""
                    ds.RepetitionTime = ""
                    ds.EchoTrainLength = ""
                elif dicom_modality == "CT":
                    ds.KVP = ""
                    ds.ConvolutionKernel = ""
                else:
                    ds.ConversionType = "SYN"
                ds.SamplesPerPixel = 1
                ds.PhotometricInterpretation = "MONOCHROME2"
                ds.Rows = rows
                ds.Columns = cols
                ds.BitsAllocated = 16
                ds.BitsStored = encoding.bits_stored
                ds.HighBit = encoding.bits_stored - 1
                ds.PixelRepresentation = 1 if encoding.signed else 0
                if encoding.mapping == "ModalityLUT":
                    ds.RescaleIntercept = _ds_text(encoding.intercept)
                    ds.RescaleSlope = _ds_text(encoding.slope)
                    ds.RescaleType = "HU" if dicom_modality == "CT" else "US"
                elif encoding.mapping == "RealWorldValue":
                    ds.RealWorldValueMappingSequence = [_real_world_value_item(encoding, series.modality)]
                ds.WindowCenter = _ds_text(window_center)
                ds.WindowWidth = _ds_text(window_width)
                if window_width < 1.0:
                    ds.VOILUTFunction = "LINEAR_EXACT"  # a LINEAR window must be at least 1 wide
                ds.LossyImageCompression = "00"
                ds.PixelData = np.ascontiguousarray(encoding.stored[t, z]).astype(pixel_dtype).tobytes()
                name = f"IM_t{t:04d}_z{z:04d}.dcm"
                try:
                    ds.save_as(tmp / name, enforce_file_format=True)
                except MemoryError:
                    raise
                except (OSError, ValueError, TypeError) as exc:
                    raise CardioGenInputError(f"cannot write DICOM file: {exc}", source=out / name) from exc
                written.append(out / name)
    return written

