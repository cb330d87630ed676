"""DICOM export: round trip through the reader, synthetic marking, patient tags, atomic output."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from cardiogen.data import Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.io import dicom_export
from cardiogen.io.dicom_export import write_dicom_series
from cardiogen.io.dicom_io import read_dicom_series


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _cine(synthetic: bool = False) -> ImageSeries:
    rng = np.random.default_rng(0)
    array = rng.normal(300.0, 80.0, size=(4, 3, 12, 10)).astype(np.float32)
    geometry = Geometry(spacing=(1.4, 1.2, 8.0), origin=(12.5, -30.25, 47.0), direction=_rotation(0.3, -0.6, 0.9))
    series = ImageSeries(array, geometry=geometry, frame_times=[15.0, 52.5, 90.0, 127.5], modality="cine",
                         description="short axis cine", metadata={"heart_rate_bpm": 72.0})
    return series.mark_synthetic("unit-test", seed=1) if synthetic else series


def _read(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pydicom.dcmread(path)


def test_round_trip_oblique_cine(tmp_path):
    series = _cine()
    files = write_dicom_series(series, tmp_path / "out")
    assert len(files) == 12 and all(f.is_file() for f in files)
    back = read_dicom_series(tmp_path / "out")
    assert back.shape == series.shape
    assert back.geometry.allclose(series.geometry, atol=1e-4)
    assert np.allclose(back.frame_times, series.frame_times)
    span = float(series.array.max() - series.array.min())
    assert np.abs(back.array - series.array).max() <= span / 60000.0
    assert back.modality == "cine"
    assert back.metadata["heart_rate_bpm"] == pytest.approx(72.0, abs=0.5)


def test_round_trip_ct_integer_hu_is_exact(tmp_path):
    rng = np.random.default_rng(2)
    array = rng.integers(-1024, 3000, size=(2, 3, 8, 9)).astype(np.float32)
    series = ImageSeries(array, geometry=Geometry((0.7, 0.7, 1.25), (-80, -90, 120)), frame_times=[0.0, 400.0],
                         modality="ct")
    files = write_dicom_series(series, tmp_path / "ct")
    ds = _read(files[0])
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and ds.Modality == "CT"
    assert float(ds.RescaleSlope) == 1.0 and float(ds.RescaleIntercept) == 0.0
    back = read_dicom_series(tmp_path / "ct")
    assert back.modality == "ct" and back.shape == (2, 3, 8, 9)
    assert np.array_equal(back.array, array)
    assert np.allclose(back.frame_times, [0.0, 400.0])


def test_other_modality_round_trip_keeps_modality(tmp_path):
    series = ImageSeries(np.linspace(0, 1, 2 * 5 * 6).reshape(1, 2, 5, 6), modality="strain")
    files = write_dicom_series(series, tmp_path / "s")
    assert _read(files[0]).SOPClassUID == dicom_export.SECONDARY_CAPTURE
    back = read_dicom_series(tmp_path / "s")
    assert back.modality == "strain"
    assert np.allclose(back.array, series.array, atol=1e-4)


def test_synthetic_marking_and_no_patient(tmp_path):
    series = _cine(synthetic=True)
    source = pydicom.Dataset()
    source.PatientName, source.PatientID = "Doe^Jane", "ID-42"
    source.PatientBirthDate, source.PatientSex = "19700101", "F"
    source.InstitutionName, source.OtherPatientIDs = "Hospital", "X-1"
    files = write_dicom_series(series, tmp_path / "syn", source_dataset=source)
    ds = _read(files[0])
    assert list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "SYNTHETIC" in ds.SeriesDescription
    assert "SYNTHETIC" in ds.ImageComments
    assert ds.BurnedInAnnotation == "NO"
    assert str(ds.get("PatientName", "")) == "" and ds.PatientID.startswith("SYNTHETIC-")
    assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethod
    assert "ID-42" not in str(ds) and "Doe" not in str(ds)
    assert "InstitutionName" not in ds and "OtherPatientIDs" not in ds
    assert ds.StudyInstanceUID != ds.SeriesInstanceUID and ds.FrameOfReferenceUID
    uids = {_read(f).SOPInstanceUID for f in files}
    assert len(uids) == len(files)
    assert {_read(f).SeriesInstanceUID for f in files} == {ds.SeriesInstanceUID}
    assert [int(_read(f).TemporalPositionIdentifier) for f in files[::3]] == [1, 2, 3, 4]
    assert read_dicom_series(tmp_path / "syn").synthetic


def test_synthetic_description_is_enforced(tmp_path):
    series = _cine(synthetic=True)
    files = write_dicom_series(series, tmp_path / "d", series_description="my derived series")
    assert _read(files[0]).SeriesDescription.startswith("SYNTHETIC")
    plain = write_dicom_series(_cine(), tmp_path / "p", series_description="plain")
    assert _read(plain[0]).SeriesDescription == "plain"


def test_copy_patient_only_four_tags(tmp_path):
    source = pydicom.Dataset()
    source.PatientName, source.PatientID = "Doe^Jane", "ID-42"
    source.PatientBirthDate, source.PatientSex = "19700101", "F"
    source.PatientAddress = "Somewhere 1"
    files = write_dicom_series(_cine(), tmp_path / "pt", source_dataset=source, copy_patient=True)
    ds = _read(files[0])
    assert str(ds.PatientName) == "Doe^Jane" and ds.PatientID == "ID-42"
    assert ds.PatientBirthDate == "19700101" and ds.PatientSex == "F"
    assert "PatientAddress" not in ds
    assert "PatientIdentityRemoved" not in ds and "DeidentificationMethod" not in ds
    with pytest.raises(CardioGenInputError, match="source_dataset"):
        write_dicom_series(_cine(), tmp_path / "pt2", copy_patient=True)
    source.PatientBirthDate, source.PatientSex = "00000000", "X"  # placeholders that break their VR: unknown
    ds = _read(write_dicom_series(_cine(), tmp_path / "pt3", source_dataset=source, copy_patient=True)[0])
    assert ds.PatientBirthDate == "" and ds.PatientSex == "" and ds.PatientID == "ID-42"


def test_refuses_non_empty_folder_and_overwrites_on_request(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(CardioGenInputError, match="not empty"):
        write_dicom_series(_cine(), out)
    assert (out / "keep.txt").exists()
    write_dicom_series(_cine(), out, overwrite=True)
    assert not (out / "keep.txt").exists() and len(list(out.glob("*.dcm"))) == 12


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = pydicom.Dataset.save_as

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pydicom.Dataset, "save_as", flaky)
    with pytest.raises(CardioGenInputError, match="disk full"):
        write_dicom_series(_cine(), tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_rejects_non_series(tmp_path):
    with pytest.raises(CardioGenInputError):
        write_dicom_series(np.zeros((2, 2)), tmp_path / "x")  # type: ignore[arg-type]


def test_mr_pixels_have_no_rescale_and_a_real_world_value_mapping(tmp_path):
    series = _cine(synthetic=True)
    files = write_dicom_series(series, tmp_path / "mr")
    ds = _read(files[0])
    assert "RescaleSlope" not in ds and "RescaleIntercept" not in ds and "RescaleType" not in ds
    assert ds.PixelRepresentation == 0 and ds.BitsStored == 16
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY", "OTHER"] and ds.ScanOptions == "CG"
    stored = ds.pixel_array
    assert stored.dtype == np.uint16 and stored.max() <= 65535
    (item,) = ds.RealWorldValueMappingSequence
    values = stored * item.RealWorldValueSlope + item.RealWorldValueIntercept
    span = float(series.array.max() - series.array.min())
    assert np.abs(values - series.array[0, 0]).max() <= span / 131070 * 1.01
    # the window is in stored values (no Modality LUT), inside their range
    assert 0 < float(ds.WindowCenter) < 65535 and float(ds.WindowWidth) > 1000
    back = read_dicom_series(tmp_path / "mr")
    assert back.metadata["pixel_value_mapping"] == "RealWorldValueMapping"


def test_integer_mr_is_stored_exactly_without_mapping(tmp_path):
    array = np.random.default_rng(3).integers(0, 4096, size=(3, 2, 6, 7)).astype(np.float32)
    series = ImageSeries(array, frame_times=[0.0, 40.0, 80.0], modality="cine",
                         metadata={"body_part_examined": "chest", "patient_position": "FFS"})
    files = write_dicom_series(series, tmp_path / "int")
    ds = _read(files[0])
    assert "RealWorldValueMappingSequence" not in ds and "RescaleSlope" not in ds
    assert ds.BodyPartExamined == "CHEST" and ds.PatientPosition == "FFS" and "Laterality" not in ds
    assert ds.PatientID.startswith("ANON-")
    back = read_dicom_series(tmp_path / "int")
    assert np.array_equal(back.array, array) and back.metadata["pixel_value_mapping"] == "none"


def test_dense_phase_is_12_bit_and_reads_back_as_dense(tmp_path):
    from cardiogen.io.dicom_io import read_dense_dicom

    rng = np.random.default_rng(4)
    mag = ImageSeries(rng.uniform(0, 500, size=(3, 1, 8, 9)), frame_times=[10.0, 40.0, 70.0], modality="dense_mag")
    phases = [rng.uniform(-np.pi, np.pi, size=mag.shape) for _ in range(2)]
    write_dicom_series(mag, tmp_path / "mag")
    for name, phase in zip("xy", phases):
        files = write_dicom_series(mag.with_array(phase, modality="dense_phase"), tmp_path / name)
    ds = _read(files[0])
    assert list(ds.ImageType)[2] == "PHASE MAP" and ds.BitsStored == 12 and ds.pixel_array.max() <= 4095
    assert ds.RealWorldValueMappingSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "rad"
    dense = read_dense_dicom(tmp_path / "mag", tmp_path / "x", tmp_path / "y", ke=0.1)
    step = 2 * np.pi / 4095
    for got, want in zip(dense.phase, phases):
        assert np.abs(got - want).max() <= step / 2 + 1e-5
    back = read_dicom_series(tmp_path / "y")
    assert back.modality == "dense_phase" and np.abs(back.array - phases[1]).max() <= step / 2 + 1e-5
    with pytest.raises(CardioGenInputError, match="wrapped radians"):
        write_dicom_series(mag.with_array(phases[0] * 2, modality="dense_phase"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_narrow_window_is_linear_exact(tmp_path):
    series = ImageSeries(np.linspace(-0.2, 0.3, 2 * 2 * 8 * 8).reshape(2, 2, 8, 8), modality="strain")
    ds = _read(write_dicom_series(series, tmp_path / "s")[0])
    assert float(ds.WindowWidth) < 1 and ds.VOILUTFunction == "LINEAR_EXACT"
    assert "RescaleSlope" in ds and len(ds.PatientOrientation) == 2


def test_reader_applies_one_linear_real_world_mapping_only(tmp_path):
    series = _cine()
    files = write_dicom_series(series, tmp_path / "a")
    raw = read_dicom_series(tmp_path / "a")
    for path in files:  # a second mapping item: ambiguous, the stored values are returned
        ds = _read(path)
        ds.RealWorldValueMappingSequence.append(ds.RealWorldValueMappingSequence[0])
        ds.save_as(path)
    two = read_dicom_series(tmp_path / "a")
    assert two.metadata["pixel_value_mapping"] == "none" and two.array.max() > 60000
    assert np.abs(raw.array - series.array).max() < 1.0
