"""cardiogen.io.load / save / describe: format recognition, dispatch and summaries."""
from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from cardiogen import io
from cardiogen.data import DenseSeries, DisplacementSeries, Ecg, Geometry, ImageSeries, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.io.sniff import detect_format, full_suffix


def _has(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(f"cardiogen.io.{module}"), name)
    except ImportError:
        return False


def _series(t: int = 3, synthetic: bool = False) -> ImageSeries:
    arr = np.random.default_rng(0).normal(100, 10, size=(t, 2, 8, 10))
    return ImageSeries(arr, Geometry((1.5, 1.5, 6.0), (1.0, 2.0, 3.0)), frame_times=np.arange(t) * 40.0 + 5,
                       modality="cine", synthetic=synthetic)


def test_full_suffix() -> None:
    assert full_suffix("a/b.SEQ.nrrd") == ".seq.nrrd"
    assert full_suffix("x.seg.nrrd") == ".seg.nrrd"
    assert full_suffix("ct.nii.gz") == ".nii.gz"
    assert full_suffix("x.tar.gz") == ".gz"
    assert full_suffix("folder") == ""


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(CardioGenInputError, match="not found") as info:
        io.load(tmp_path / "nothing.nrrd")
    assert "nothing.nrrd" in str(info.value)
    odd = tmp_path / "notes.xyz"
    odd.write_text("hello")
    with pytest.raises(CardioGenInputError, match="unknown file type") as info:
        io.load(odd)
    message = str(info.value)
    assert "notes.xyz" in message and "expected" in message and ".nrrd" in message and "got" in message
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(CardioGenInputError, match="unknown file type"):
        io.load(empty_dir)
    with pytest.raises(CardioGenInputError, match="kind"):
        io.load(odd, kind="banana")


def test_content_beats_extension(tmp_path: Path) -> None:
    out = io.save(_series(1), tmp_path / "image.nrrd")
    renamed = tmp_path / "image.dat_unknown"
    renamed.write_bytes(out.read_bytes())
    assert detect_format(renamed) == "nrrd"
    assert isinstance(io.load(renamed), ImageSeries)


def test_nrrd_round_trips_through_load_and_save(tmp_path: Path) -> None:
    series = _series(3, synthetic=True)
    seq = io.save(series, tmp_path / "cine.seq.nrrd")
    back = io.load(seq)
    assert isinstance(back, ImageSeries) and back.synthetic
    np.testing.assert_allclose(back.frame_times, series.frame_times)
    labels = np.zeros((1, 2, 8, 10), np.uint8)
    labels[0, 1, 2:5, 3:7] = 1
    seg = Segmentation(labels, geometry=series.geometry)
    seg_path = io.save(seg, tmp_path / "lv.seg.nrrd")
    assert isinstance(io.load(seg_path), Segmentation)
    assert isinstance(io.load(seg_path, kind="image"), ImageSeries)  # the label map as an image
    disp = DisplacementSeries(np.zeros((2, 3, 2, 8, 10)), geometry=series.geometry, frame_times=[0, 40])
    disp_path = io.save(disp, tmp_path / "motion.seq.nrrd")
    assert isinstance(io.load(disp_path), DisplacementSeries)
    with pytest.raises(CardioGenInputError, match="NRRD"):
        io.load(seq, kind="dense")
    assert io.load(seq).modality == "cine" and io.load(seq, modality="mr").modality == "mr"
    with pytest.raises(CardioGenInputError, match="do not apply") as info:
        io.load(seg_path, modality="mr")
    assert "lv.seg.nrrd" in str(info.value) and "label_table" in str(info.value)


def test_nifti_and_previews_through_save(tmp_path: Path) -> None:
    series = _series(4)
    nii = io.save(series, tmp_path / "cine.nii.gz")
    back = io.load(nii)
    np.testing.assert_allclose(back.array, series.array, rtol=1e-6)
    labels = np.zeros((1, 2, 8, 10), np.uint8)
    labels[0, 0, 1:3, 1:3] = 2
    seg_nii = io.save(Segmentation(labels, geometry=series.geometry), tmp_path / "mask.nii.gz")
    seg = io.load(seg_nii, kind="segmentation")
    assert isinstance(seg, Segmentation) and seg.labels.sum() == 8
    for suffix in (".gif", ".mp4", ".png"):
        out = io.save(series, tmp_path / f"preview{suffix}")
        assert out.stat().st_size > 0
    with pytest.raises(CardioGenInputError, match="cannot save") as info:
        io.save(series, tmp_path / "x.docx")
    assert "x.docx" in str(info.value)
    with pytest.raises(CardioGenInputError, match="not a cardiogen container"):
        io.save({"a": 1}, tmp_path / "x.nrrd")


def test_describe_image_and_segmentation() -> None:
    info = io.describe(_series(3))
    assert info["kind"] == "image" and info["modality"] == "cine"
    assert info["shape"] == [3, 2, 8, 10] and info["spacing_mm"] == [1.5, 1.5, 6.0]
    assert info["frames"] == 3 and info["frame_interval_ms"] == 40.0 and info["duration_ms"] == 120.0
    json.dumps(info)
    static = io.describe(_series(1))
    assert static["frame_interval_ms"] is None and static["duration_ms"] is None
    seg_info = io.describe(Segmentation(np.ones((2, 1, 3, 3), np.uint8), frame_times=[0, 30]))
    assert seg_info["kind"] == "segmentation" and seg_info["labels"]["1"] == "LV blood pool"
    assert seg_info["labels_present"] == [1] and seg_info["frames"] == 2
    with pytest.raises(CardioGenInputError):
        io.describe(42)


def test_describe_ecg() -> None:
    fs = 500.0
    t = np.arange(int(10 * fs)) / fs
    signal = np.zeros_like(t)
    for beat in np.arange(0.5, 10, 0.75):  # 80 bpm
        signal += np.exp(-0.5 * ((t - beat) / 0.01) ** 2)
    ecg = Ecg(np.vstack([signal, 0.5 * signal]), fs, ("I", "II"))
    info = io.describe(ecg)
    assert info["kind"] == "ecg" and info["leads"] == ["I", "II"] and info["sampling_rate_hz"] == 500.0
    assert info["duration_s"] == 10.0
    assert info["heart_rate_bpm"] == pytest.approx(80.0, abs=2.0)
    json.dumps(info)


def test_lazy_reexports() -> None:
    assert callable(io.read_nrrd) and callable(io.write_nifti) and callable(io.read_dense_workspace)
    assert "read_nrrd" in dir(io)
    with pytest.raises(AttributeError):
        io.no_such_function  # noqa: B018


@pytest.mark.realdata
@pytest.mark.parametrize("relative, expected", [
    ("ct/ct_cropped.nii.gz", ImageSeries),
    ("dense/template.dns", DenseSeries),
])
def test_load_own_real_samples(shared_data: Path, relative: str, expected: type) -> None:
    obj = io.load(shared_data / relative)
    assert isinstance(obj, expected)
    info = io.describe(obj)
    json.dumps(info)
    if expected is DenseSeries:
        assert info["frames"] == 35 and info["encodings"] == ["x", "y"] and info["contour_frames"] == 26


@pytest.mark.realdata
@pytest.mark.parametrize("relative, module, name, expected", [
    ("cine_sunnybrook/SCD0000101", "dicom_io", "read_dicom_series", ImageSeries),
    ("ecg/waveform_ecg.dcm", "ecg_io", "read_ecg_dicom", Ecg),
    ("ecg/mitdb_100/100.hea", "ecg_io", "read_ecg_wfdb", Ecg),
])
def test_load_other_real_samples(shared_data: Path, relative: str, module: str, name: str, expected: type) -> None:
    if not _has(module, name):
        pytest.skip(f"cardiogen.io.{module}.{name} not available yet")
    obj = io.load(shared_data / relative)
    assert isinstance(obj, expected)
    info = io.describe(obj)
    json.dumps(info)
    if expected is Ecg and "waveform" in relative:
        assert info["n_leads"] == 12 and info["heart_rate_bpm"] == pytest.approx(61, abs=3)
    if expected is ImageSeries:
        assert info["frames"] == 20 and info["shape"][1] == 12


@pytest.mark.realdata
def test_dense_save_as_bundle_and_preview(tmp_path: Path, shared_data: Path) -> None:
    dense = io.load(shared_data / "dense" / "template.dns")
    gif = io.save(dense, tmp_path / "dense.gif")
    assert gif.stat().st_size > 0
    if not _has("bundle", "write_dense_bundle"):
        pytest.skip("cardiogen.io.bundle not available")
    manifest = io.save(dense, tmp_path / "dense.dense.json")
    back = io.load(manifest)
    assert isinstance(back, DenseSeries) and back.encodings == ("x", "y")


def test_ecg_csv_and_dicom_folder_saving(tmp_path: Path) -> None:
    if _has("ecg_io", "write_ecg_csv"):
        ecg = Ecg(np.random.default_rng(1).normal(size=(2, 500)), 250.0, ("I", "II"))
        out = io.save(ecg, tmp_path / "ecg.csv")
        back = io.load(out)
        assert isinstance(back, Ecg) and back.lead_names == ("I", "II")
    if _has("dicom_export", "write_dicom_series") and _has("dicom_io", "read_dicom_series"):
        series = _series(2)
        folder = io.save(series, tmp_path / "dicom_out")
        assert folder.is_dir() and detect_format(folder) == "dicom"
        back = io.load(folder)
        assert isinstance(back, ImageSeries) and back.shape == series.shape
