"""Write an :class:`ImageSeries` as a DICOM series (one file per frame and slice).

Every exported series is *derived*: ImageType ``DERIVED\\SECONDARY``, fresh Study/Series/SOP/FrameOfReference
UIDs, BurnedInAnnotation ``NO``. Synthetic series carry "SYNTHETIC" in SeriesDescription and ImageComments.
No patient identifier is copied unless ``copy_patient=True`` (then PatientName/ID/BirthDate/Sex only).

Pixels are stored as int16 with RescaleSlope/RescaleIntercept chosen per series: integer-valued data that fits
int16 (e.g. CT HU) is stored exactly (slope 1, intercept 0); other data is scaled to use the full int16 range, so
the round-trip error is at most half a slope step (≈ range / 131068).
"""
from __future__ import annotations

import datetime as _dt
import os
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
            Capture (with the same geometry tags).
        folder: output folder; it must not exist or be empty unless ``overwrite`` (then it is replaced whole).
        source_dataset: pydicom Dataset or DICOM file the series derives from (only used for patient tags).
        copy_patient: copy PatientName, PatientID, PatientBirthDate, PatientSex from ``source_dataset``.
        series_description: SeriesDescription (default: the series description); "SYNTHETIC" is prepended for
            synthetic series.

    Returns:
        The written files, ordered by frame then slice.

    Raises:
        CardioGenInputError: not an ImageSeries, non-empty folder without ``overwrite``, bad source dataset.
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

    import pydicom  # noqa: PLC0415
    from pydicom.dataset import FileMetaDataset  # noqa: PLC0415
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: PLC0415

    sop_class, dicom_modality = SOP_CLASS_FOR_MODALITY.get(series.modality, (SECONDARY_CAPTURE, "OT"))
    nt, nz, rows, cols = series.shape
    if rows > 65535 or cols > 65535:
        raise CardioGenInputError("image too large for DICOM", got=(rows, cols))
    slope, intercept = _rescale(series.array)
    stored_all = np.clip(np.round((series.array.astype(np.float64) - intercept) / slope), -32768, 32767)
    stored_all = stored_all.astype(np.int16)

    geom = series.geometry
    direction = np.asarray(geom.direction, dtype=float)
    iop = [_ds_text(v) for v in np.concatenate([direction[:, 0], direction[:, 1]])]
    sx, sy, sz = geom.spacing
    origin = np.asarray(geom.origin, dtype=float)
    study_uid, series_uid, for_uid = generate_uid(), generate_uid(), generate_uid()
    now = _dt.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    description = _description(series, series_description)
    comment = f"CardioGen: modality={series.modality}"
    if series.synthetic:
        comment = f"SYNTHETIC image generated by CardioGen; {comment}"
        pipeline = series.provenance.get("pipeline") if isinstance(series.provenance, dict) else None
        if pipeline:
            comment += f"; pipeline={pipeline}"
    lo, hi = np.percentile(series.array, [1, 99]) if series.array.size else (0.0, 1.0)
    window_center, window_width = (lo + hi) / 2.0, max(hi - lo, 1e-3)
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
                ds.ImageType = ["DERIVED", "SECONDARY"]
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
                    for kw in _PATIENT_KEYWORDS:
                        if kw in source:
                            setattr(ds, kw, source[kw].value)
                else:
                    ds.PatientIdentityRemoved = "YES"
                ds.BurnedInAnnotation = "NO"
                ds.ImageComments = comment[:10240]
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.FrameOfReferenceUID = for_uid
                ds.PositionReferenceIndicator = ""
                ds.StudyID = ""
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
                ds.TriggerTime = _ds_text(series.frame_times[t])
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
                    ds.ScanOptions = ""
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
                ds.BitsStored = 16
                ds.HighBit = 15
                ds.PixelRepresentation = 1
                ds.RescaleIntercept = _ds_text(intercept)
                ds.RescaleSlope = _ds_text(slope)
                ds.RescaleType = "HU" if dicom_modality == "CT" else "US"
                ds.WindowCenter = _ds_text(window_center)
                ds.WindowWidth = _ds_text(window_width)
                ds.LossyImageCompression = "00"
                ds.PixelData = np.ascontiguousarray(stored_all[t, z]).astype("<i2").tobytes()
                name = f"IM_t{t:04d}_z{z:04d}.dcm"
                try:
                    ds.save_as(tmp / name, enforce_file_format=True)
                except MemoryError:
                    raise
                except (OSError, ValueError, TypeError) as exc:
                    raise CardioGenInputError(f"cannot write DICOM file: {exc}", source=out / name) from exc
                written.append(out / name)
    return written

