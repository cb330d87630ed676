"""DICOM reader: Sunnybrook cine, synthetic CT / DENSE series, and every bad-input case."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from cardiogen.errors import CardioGenInputError
from cardiogen.io.dicom_io import (
    DICOM_READERS,
    is_dicom,
    list_dicom_series,
    parse_dense_comments,
    read_dense_dicom,
    read_dicom_series,
)

SUNNY = "cine_sunnybrook/SCD0000101"


# ------------------------------------------------------------------------------------------------------------
# helpers: small synthetic DICOM series written with pydicom only
# ------------------------------------------------------------------------------------------------------------
def write_slices(folder: Path, stored: np.ndarray, *, modality: str = "CT", slope: float = 1.0,
                 intercept: float = 0.0, spacing=(0.8, 0.7), dz: float = 2.5, origin=(-50.0, -60.0, 100.0),
                 iop=(1, 0, 0, 0, 1, 0), series_uid: str | None = None, times=None, comments=None,
                 time_tag: str = "TemporalPositionIdentifier", unsigned: bool = False, bits_stored: int = 16,
                 z_positions=None) -> list[Path]:
    """Write ``stored`` (t, z, rows, cols) integers as single-frame DICOM files; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    nt, nz, rows, cols = stored.shape
    series_uid = series_uid or generate_uid()
    study_uid, for_uid = generate_uid(), generate_uid()
    iop = np.asarray(iop, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    paths = []
    sop = "1.2.840.10008.5.1.4.1.1.2" if modality == "CT" else "1.2.840.10008.5.1.4.1.1.4"
    for t in range(nt):
        for z in range(nz):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = sop
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = pydicom.Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = sop
            ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
            ds.Modality = modality
            ds.PatientName = "Test^Patient"
            ds.PatientID = "TEST001"
            ds.StudyInstanceUID = study_uid
            ds.SeriesInstanceUID = series_uid
            ds.FrameOfReferenceUID = for_uid
            ds.SeriesDescription = f"synthetic {modality} test"
            ds.SeriesNumber = 7
            ds.InstanceNumber = t * nz + z + 1
            zpos = z * dz if z_positions is None else z_positions[z]
            ds.ImagePositionPatient = [float(v) for v in np.asarray(origin) + normal * zpos]
            ds.ImageOrientationPatient = [float(v) for v in iop]
            ds.PixelSpacing = [spacing[1], spacing[0]]
            ds.SliceThickness = dz
            if times is not None:
                if time_tag == "TemporalPositionIdentifier":
                    ds.TemporalPositionIdentifier = t + 1
                    ds.AcquisitionTime = f"1200{int(times[t] // 1000):02d}.{int(times[t] % 1000):03d}"
                else:
                    setattr(ds, time_tag, times[t])
            if comments is not None:
                ds.ImageComments = comments
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.Rows, ds.Columns = rows, cols
            ds.BitsAllocated = 16
            ds.BitsStored = bits_stored
            ds.HighBit = bits_stored - 1
            ds.PixelRepresentation = 0 if unsigned else 1
            ds.RescaleSlope = slope
            ds.RescaleIntercept = intercept
            dtype = "<u2" if unsigned else "<i2"
            ds.PixelData = np.ascontiguousarray(stored[t, z]).astype(dtype).tobytes()
            path = folder / f"img{t * nz + z + 1:04d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            paths.append(path)
    return paths


def small_ct(folder: Path, nt: int = 1, nz: int = 4, **kw) -> tuple[np.ndarray, list[Path]]:
    rng = np.random.default_rng(1)
    stored = rng.integers(0, 3000, size=(nt, nz, 6, 5)).astype(np.int16)
    times = [0.0, 350.0, 700.0][:nt] if nt > 1 else None
    return stored, write_slices(folder, stored, slope=1.0, intercept=-1024.0, times=times, **kw)


def edit(path: Path, **changes) -> None:
    ds = pydicom.dcmread(path)
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path)


# ------------------------------------------------------------------------------------------------------------
# Sunnybrook cine (real data, read once)
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sunny_dir(shared_data) -> Path:
    return shared_data / SUNNY


@pytest.fixture(scope="module")
def cine(sunny_dir):
    return read_dicom_series(sunny_dir)


@pytest.mark.realdata
def test_sunnybrook_shape_spacing_times(cine):
    assert cine.shape == (20, 12, 256, 256)
    assert np.allclose(cine.spacing, (1.3672, 1.3672, 10.0), atol=1e-3)
    assert cine.modality == "cine"
    assert np.all(np.diff(cine.frame_times) > 0)
    assert 15 < cine.frame_times[0] < 25 and 700 < cine.frame_times[-1] < 780
    assert cine.array.dtype == np.float32 and 1000 < cine.array.max() < 1300 and cine.array.min() >= 0


@pytest.mark.realdata
def test_sunnybrook_geometry_from_headers(cine):
    files = cine.provenance["files"]
    assert len(files) == 20 and all(len(row) == 12 for row in files)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = pydicom.dcmread(files[0][0], stop_before_pixels=True)
        last = pydicom.dcmread(files[0][-1], stop_before_pixels=True)
    iop = np.array(first.ImageOrientationPatient, dtype=float)
    # origin = ImagePositionPatient of slice 0; direction columns = IOP row/column cosines and their cross product
    assert np.allclose(cine.geometry.origin, np.array(first.ImagePositionPatient, dtype=float), atol=1e-4)
    assert np.allclose(cine.geometry.direction[:, 0], iop[:3], atol=1e-5)
    assert np.allclose(cine.geometry.direction[:, 1], iop[3:], atol=1e-5)
    assert np.allclose(cine.geometry.direction[:, 2], np.cross(iop[:3], iop[3:]), atol=1e-5)
    # slice 0 is the lowest position along the normal; slices are 10 mm apart; the last is slice 0 + 11 steps
    n = cine.geometry.direction[:, 2]
    step = (np.array(last.ImagePositionPatient, dtype=float) - np.array(first.ImagePositionPatient, dtype=float)) @ n
    assert step == pytest.approx(110.0, abs=0.01)
    world = cine.geometry.index_to_world() @ np.array([0, 0, 11, 1.0])
    assert np.allclose(world[:3], np.array(last.ImagePositionPatient, dtype=float), atol=1e-3)
    # every file of one slice shares its position; frames are ordered by trigger time per slice
    names = {int(Path(f).stem) for row in files for f in row}
    assert names == set(range(1, 241))
    assert Path(files[0][11]).name == "1.dcm" and Path(files[19][11]).name == "20.dcm"


@pytest.mark.realdata
def test_sunnybrook_metadata_is_patient_free(cine):
    md = cine.metadata
    assert md["manufacturer"].startswith("GE")
    assert md["field_strength_t"] == pytest.approx(1.5)
    assert md["repetition_time_ms"] == pytest.approx(3.349)
    assert md["echo_time_ms"] == pytest.approx(1.532)
    assert md["flip_angle_deg"] == pytest.approx(45)
    assert 70 < md["heart_rate_bpm"] < 90
    assert md["series_instance_uid"] and md["study_instance_uid"]
    assert md["frame_time_source"] == "TriggerTime"
    text = repr(md)
    assert "SCD0000101" not in text and "PatientName" not in text


@pytest.mark.realdata
def test_sunnybrook_listing(sunny_dir):
    infos = list_dicom_series(sunny_dir)
    assert len(infos) == 1
    info = infos[0]
    assert (info.n_files, info.n_positions, info.n_phases, info.modality) == (240, 12, 20, "MR")
    assert info.image_size == (256, 256)


@pytest.mark.realdata
def test_two_series_in_one_folder_are_listed_not_mixed(sunny_dir, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for k in range(1, 5):
        shutil.copy(sunny_dir / f"{k}.dcm", folder / f"{k}.dcm")
    other_uid = generate_uid()
    for k in (3, 4):
        edit(folder / f"{k}.dcm", SeriesInstanceUID=other_uid, SeriesDescription="second series")
    (folder / "notes.txt").write_text("not dicom")
    infos = list_dicom_series(folder)
    assert len(infos) == 2 and sorted(i.n_files for i in infos) == [2, 2]
    with pytest.raises(CardioGenInputError) as err:
        read_dicom_series(folder)
    message = str(err.value)
    assert str(folder) in message and other_uid in message and "second series" in message
    assert "2.16.124.113543.6006.99.08975550791105350405" in message
    one = read_dicom_series(folder, series_uid=other_uid)
    assert one.shape == (2, 1, 256, 256)
    with pytest.raises(CardioGenInputError, match="series not found"):
        read_dicom_series(folder, series_uid="1.2.3")


@pytest.mark.realdata
def test_truncated_and_corrupt_sunnybrook_files_name_the_file(sunny_dir, tmp_path):
    folder = tmp_path / "cut"
    folder.mkdir()
    for k in range(1, 4):
        shutil.copy(sunny_dir / f"{k}.dcm", folder / f"{k}.dcm")
    data = (folder / "2.dcm").read_bytes()
    (folder / "2.dcm").write_bytes(data[: len(data) // 2])
    with pytest.raises(CardioGenInputError) as err:
        read_dicom_series(folder)
    assert "2.dcm" in str(err.value)
    # garbage after the DICM marker
    data = (folder / "3.dcm").read_bytes()
    (folder / "3.dcm").write_bytes(data[:132] + bytes(range(256)) * 8 + data[132 + 2048:])
    for reader in ("read_dicom_series", "list_dicom_series", "read_dicom_header"):
        target = folder / "3.dcm" if reader == "read_dicom_header" else folder
        with pytest.raises(CardioGenInputError):
            DICOM_READERS[reader](target)


@pytest.mark.realdata
def test_mutated_copies_raise_only_input_errors(sunny_dir, tmp_path):
    """A small fuzz pass: every reader returns or raises CardioGenInputError on mutated copies."""
    rng = np.random.default_rng(5)
    original = (sunny_dir / "1.dcm").read_bytes()
    for i in range(25):
        data = bytearray(original)
        kind = i % 3
        if kind == 0:  # flip bytes in the header
            for pos in rng.integers(0, 1600, size=8):
                data[pos] = int(rng.integers(0, 256))
        elif kind == 1:  # truncate
            data = data[: int(rng.integers(100, len(data)))]
        else:  # overwrite a block
            start = int(rng.integers(132, 1500))
            data[start:start + 64] = bytes(rng.integers(0, 256, size=64, dtype=np.uint8))
        path = tmp_path / f"m{i}" / "1.dcm"
        path.parent.mkdir()
        path.write_bytes(bytes(data))
        for name, reader in DICOM_READERS.items():
            try:
                reader(path)
            except CardioGenInputError:
                pass


# ------------------------------------------------------------------------------------------------------------
# synthetic CT
# ------------------------------------------------------------------------------------------------------------
def test_ct_series_hu_rescale(tmp_path):
    stored, _ = small_ct(tmp_path / "ct")
    series = read_dicom_series(tmp_path / "ct")
    assert series.modality == "ct" and series.shape == (1, 4, 6, 5)
    assert np.array_equal(series.array, stored.astype(np.float32) - 1024.0)
    assert np.allclose(series.spacing, (0.8, 0.7, 2.5))
    assert np.allclose(series.geometry.origin, (-50, -60, 100))
    assert series.metadata["rescale_intercept"] == -1024.0


def test_ct_two_time_points_give_4d(tmp_path):
    stored, paths = small_ct(tmp_path / "ct4d", nt=2)
    # shuffle the file order on disk: the reader must sort by position and temporal position
    series = read_dicom_series(list(reversed(paths)))
    assert series.shape == (2, 4, 6, 5)
    assert np.array_equal(series.array, stored.astype(np.float32) - 1024.0)
    assert np.allclose(series.frame_times, [0.0, 350.0])
    assert series.metadata["time_key"] == "TemporalPositionIdentifier"


def test_oblique_descending_slices_sorted_along_normal(tmp_path):
    c, s = np.cos(0.4), np.sin(0.4)
    iop = (c, s, 0.0, 0.0, 0.0, -1.0)  # oblique coronal-ish
    stored = np.arange(3 * 4 * 5, dtype=np.int16).reshape(1, 3, 4, 5)
    write_slices(tmp_path / "obl", stored, iop=iop, z_positions=[0.0, -3.0, -6.0], modality="MR")
    series = read_dicom_series(tmp_path / "obl")
    assert series.spacing[2] == pytest.approx(3.0)
    # the file written at z_position -6 is slice 0 (lowest along the normal)
    assert np.array_equal(series.array[0, 0], stored[0, 2])
    assert np.allclose(np.linalg.det(series.geometry.direction), 1.0)


def test_cine_trigger_times_per_phase_median(tmp_path):
    stored = np.zeros((3, 2, 4, 4), dtype=np.int16)
    folder = tmp_path / "cine"
    write_slices(folder / "a", stored[:, :1], modality="MR", times=[10.0, 50.0, 90.0], time_tag="TriggerTime",
                 series_uid="1.2.3.4", z_positions=[0.0])
    write_slices(folder / "b", stored[:, :1], modality="MR", times=[12.0, 54.0, 96.0], time_tag="TriggerTime",
                 series_uid="1.2.3.4", z_positions=[2.5])
    files = sorted((folder / "a").iterdir()) + sorted((folder / "b").iterdir())
    series = read_dicom_series(files)
    assert series.modality == "cine" and series.shape == (3, 2, 4, 4)
    assert np.allclose(series.frame_times, [11.0, 52.0, 93.0])


# ------------------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------------------
def test_missing_pixel_spacing_names_file(tmp_path):
    _, paths = small_ct(tmp_path / "ct")
    edit(paths[2], PixelSpacing=None)
    with pytest.raises(CardioGenInputError, match="PixelSpacing") as err:
        read_dicom_series(tmp_path / "ct")
    assert paths[2].name in str(err.value)


def test_missing_image_position_names_file(tmp_path):
    _, paths = small_ct(tmp_path / "ct")
    edit(paths[1], ImagePositionPatient=None)
    with pytest.raises(CardioGenInputError, match="ImagePositionPatient") as err:
        read_dicom_series(tmp_path / "ct")
    assert paths[1].name in str(err.value)


def test_inconsistent_image_size_names_file(tmp_path):
    _, paths = small_ct(tmp_path / "ct")
    ds = pydicom.dcmread(paths[3])
    ds.Rows, ds.Columns = 4, 4
    ds.PixelData = np.zeros((4, 4), "<i2").tobytes()
    ds.save_as(paths[3])
    with pytest.raises(CardioGenInputError, match="image size") as err:
        read_dicom_series(tmp_path / "ct")
    assert paths[3].name in str(err.value)


def test_nan_rescale_names_file(tmp_path):
    _, paths = small_ct(tmp_path / "ct")
    ds = pydicom.dcmread(paths[0])
    ds["RescaleSlope"] = pydicom.DataElement(0x00281053, "DS", "NaN", validation_mode=0)
    ds.save_as(paths[0])
    with pytest.raises(CardioGenInputError) as err:
        read_dicom_series(tmp_path / "ct")
    assert paths[0].name in str(err.value)


def test_missing_slice_is_irregular_spacing(tmp_path):
    _, paths = small_ct(tmp_path / "ct", nz=5)
    paths[2].unlink()
    with pytest.raises(CardioGenInputError, match="irregular slice spacing") as err:
        read_dicom_series(tmp_path / "ct")
    assert str(tmp_path / "ct") in str(err.value)


def test_missing_phase_image_is_reported(tmp_path):
    _, paths = small_ct(tmp_path / "ct", nt=2, nz=3)
    paths[4].unlink()
    with pytest.raises(CardioGenInputError, match="has 1 images"):
        read_dicom_series(tmp_path / "ct")


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CardioGenInputError, match="empty") as err:
        read_dicom_series(tmp_path / "empty")
    assert "empty" in str(err.value) and str(tmp_path / "empty") in str(err.value)
    with pytest.raises(CardioGenInputError, match="no such file"):
        read_dicom_series(tmp_path / "nope")
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("hello")
    with pytest.raises(CardioGenInputError, match="no DICOM images"):
        list_dicom_series(tmp_path / "text")
    with pytest.raises(CardioGenInputError, match="not a DICOM file") as err:
        read_dicom_series([tmp_path / "text" / "a.txt"])
    assert "a.txt" in str(err.value)


def test_is_dicom(tmp_path):
    _, paths = small_ct(tmp_path / "ct", nz=1)
    assert is_dicom(paths[0])
    (tmp_path / "x.txt").write_text("DICM is not at byte 128")
    assert not is_dicom(tmp_path / "x.txt")
    assert not is_dicom(tmp_path)
    assert not is_dicom(tmp_path / "missing.dcm")
    raw = tmp_path / "raw.dcm"  # implicit VR little endian, no preamble
    ds = pydicom.dcmread(paths[0])
    del ds.file_meta
    ds.preamble = None
    ds.save_as(raw, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert raw.read_bytes()[:2] == b"\x08\x00"
    assert is_dicom(raw)


def test_non_image_files_are_skipped(tmp_path):
    _, paths = small_ct(tmp_path / "ct", nz=2)
    (tmp_path / "ct" / "DICOMDIR").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    (tmp_path / "ct" / "readme.txt").write_text("x")
    assert read_dicom_series(tmp_path / "ct").shape == (1, 2, 6, 5)


def test_modality_filter(tmp_path):
    small_ct(tmp_path / "mix")
    stored = np.zeros((1, 2, 6, 5), np.int16)
    write_slices(tmp_path / "mix" / "mr", stored, modality="MR")
    for f in (tmp_path / "mix" / "mr").iterdir():
        f.rename(tmp_path / "mix" / f"mr_{f.name}")
    with pytest.raises(CardioGenInputError, match="2 DICOM series"):
        read_dicom_series(tmp_path / "mix")
    assert read_dicom_series(tmp_path / "mix", modality="CT").shape == (1, 4, 6, 5)
    assert read_dicom_series(tmp_path / "mix", modality="mr").shape == (1, 2, 6, 5)


# ------------------------------------------------------------------------------------------------------------
# DENSE
# ------------------------------------------------------------------------------------------------------------
def _dense_files(tmp_path: Path, *, with_comments: bool = True):
    nt, nz, rows, cols = 3, 1, 8, 8
    rng = np.random.default_rng(3)
    mag = rng.integers(0, 4000, size=(nt, nz, rows, cols)).astype(np.uint16)
    px = rng.integers(0, 4096, size=(nt, nz, rows, cols)).astype(np.uint16)
    py = rng.integers(0, 4096, size=(nt, nz, rows, cols)).astype(np.uint16)
    common = dict(modality="MR", times=[0.0, 30.0, 60.0], time_tag="TriggerTime", unsigned=True, bits_stored=12)
    write_slices(tmp_path / "mag", mag, comments="DENSE overall mag - Rep:0/1 Slc:0/1 Par:0/1 Phs:0/3 RCswap:0 "
                 "RCSflip:1/0/0" if with_comments else None, **common)
    cx = "DENSE x-enc pha - Scale:2.309401 EncFreq:0.08 Rep:0/1 Slc:0/1 Par:0/1 Phs:0/3 RCswap:0 RCSflip:1/0/0"
    cy = "DENSE y-enc pha - Scale:2.309401 EncFreq:0.08 Rep:0/1 Slc:0/1 Par:0/1 Phs:0/3 RCswap:0 RCSflip:1/0/0"
    write_slices(tmp_path / "px", px, comments=cx if with_comments else None, **common)
    write_slices(tmp_path / "py", py, comments=cy if with_comments else None, **common)
    return mag, px, py


def test_dense_dicom_phase_scaling_and_ke(tmp_path):
    mag, px, py = _dense_files(tmp_path)
    dense = read_dense_dicom(tmp_path / "mag", tmp_path / "px", tmp_path / "py")
    assert dense.magnitude.modality == "dense_mag" and dense.phase.shape == (2, 3, 1, 8, 8)
    assert dense.encodings == ("x", "y")
    assert dense.ke == pytest.approx((2.309401 * 0.08, 2.309401 * 0.08))
    expected_y = 2 * np.pi * py.astype(np.float64) / 4095 - np.pi
    assert np.allclose(dense.phase[1], expected_y, atol=1e-5)
    expected_x = -(2 * np.pi * px.astype(np.float64) / 4095 - np.pi)  # RCSflip:1/0/0 negates x
    assert np.allclose(dense.phase[0], expected_x, atol=1e-5)
    assert dense.metadata["neg_flag"] == [1, 0, 0]
    raw = read_dense_dicom(tmp_path / "mag", tmp_path / "px", tmp_path / "py", apply_flags=False)
    assert np.allclose(raw.phase[0], -expected_x, atol=1e-5)
    assert np.allclose(dense.frame_times, [0, 30, 60])


def test_dense_dicom_needs_ke(tmp_path):
    _dense_files(tmp_path, with_comments=False)
    with pytest.raises(CardioGenInputError, match="encoding frequency") as err:
        read_dense_dicom(tmp_path / "mag", tmp_path / "px", tmp_path / "py")
    assert "px" in str(err.value)
    dense = read_dense_dicom(tmp_path / "mag", tmp_path / "px", tmp_path / "py", ke=0.15)
    assert dense.ke == (0.15, 0.15)


def test_dense_dicom_shape_mismatch(tmp_path):
    _dense_files(tmp_path)
    other = np.zeros((2, 1, 8, 8), np.uint16)
    write_slices(tmp_path / "short", other, modality="MR", times=[0.0, 30.0], time_tag="TriggerTime", unsigned=True)
    with pytest.raises(CardioGenInputError, match="shape differs") as err:
        read_dense_dicom(tmp_path / "mag", tmp_path / "short", tmp_path / "py", ke=0.1)
    assert "short" in str(err.value)


def test_parse_dense_comments():
    info = parse_dense_comments("DENSE x-enc pha - Scale:2.309401 EncFreq:0.08 Rep:0/1 Slc:0/1 Par:0/1 Phs:4/35 "
                                "RCswap:1 RCSflip:0/1/0")
    assert info["direction"] == "x" and info["type"] == "pha"
    assert info["scale"] == pytest.approx(2.309401) and info["enc_freq"] == pytest.approx(0.08)
    assert info["swap"] == 1 and info["negate"] == (0, 1, 0)
    assert (info["phase_index"], info["n_phases"]) == (4, 35)
    assert parse_dense_comments("") == {}


def test_enhanced_multiframe_mr(tmp_path):
    """One enhanced multi-frame file: 2 slices x 3 phases in per-frame functional groups."""
    from pydicom.sequence import Sequence

    nt, nz, rows, cols = 3, 2, 4, 5
    pixels = np.arange(nt * nz * rows * cols, dtype=np.int16).reshape(nt * nz, rows, cols)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesInstanceUID, ds.StudyInstanceUID = generate_uid(), generate_uid()
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, nt * nz
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    shared = pydicom.Dataset()
    pm = pydicom.Dataset()
    pm.PixelSpacing, pm.SliceThickness = [1.5, 1.25], 6.0
    po = pydicom.Dataset()
    po.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = Sequence([pm]), Sequence([po])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    order = []
    for z in (1, 0):  # slices stored out of order on purpose
        for t in range(nt):
            item = pydicom.Dataset()
            pp = pydicom.Dataset()
            pp.ImagePositionPatient = [0.0, 0.0, 6.0 * z]
            cs = pydicom.Dataset()
            cs.NominalCardiacTriggerDelayTime = 40.0 * t + 5.0
            item.PlanePositionSequence, item.CardiacSynchronizationSequence = Sequence([pp]), Sequence([cs])
            per_frame.append(item)
            order.append((t, z))
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = pixels.astype("<i2").tobytes()
    path = tmp_path / "enhanced.dcm"
    ds.save_as(path, enforce_file_format=True)
    series = read_dicom_series(path)
    assert series.shape == (nt, nz, rows, cols) and series.modality == "cine"
    assert np.allclose(series.spacing, (1.25, 1.5, 6.0))
    assert np.allclose(series.frame_times, [5.0, 45.0, 85.0])
    for k, (t, z) in enumerate(order):
        assert np.array_equal(series.array[t, z], pixels[k])
    assert series.provenance["frame_numbers"][0][0] == order.index((0, 0))
