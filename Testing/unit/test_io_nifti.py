"""NIfTI reading/writing: LPS geometry like SimpleITK, 4D timing, cardiogen facts."""
from __future__ import annotations

import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from cardiogen.data import Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.io.nifti_io import guess_modality, read_nifti, read_segmentation_nifti, write_nifti

sitk = pytest.importorskip("SimpleITK")


def _oblique() -> Geometry:
    a, b = 0.5, -0.3
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return Geometry((1.5, 1.25, 8.0), (12.0, -40.0, 66.5), rz @ rx)


def _assert_same_as_sitk(series: ImageSeries, path: Path) -> None:
    img = sitk.ReadImage(str(path))
    np.testing.assert_allclose(img.GetOrigin()[:3], series.geometry.origin, atol=1e-4)
    np.testing.assert_allclose(img.GetSpacing()[:3], series.geometry.spacing, atol=1e-5)
    direction = np.array(img.GetDirection())
    n = int(round(np.sqrt(direction.size)))
    np.testing.assert_allclose(direction.reshape(n, n)[:3, :3], series.geometry.direction, atol=1e-5)


@pytest.mark.realdata
def test_ct_sample_geometry_matches_simpleitk(shared_data: Path) -> None:
    path = shared_data / "ct" / "ct_cropped.nii.gz"
    ct = read_nifti(path)
    assert ct.shape == (1, 112, 102, 122)
    np.testing.assert_allclose(ct.geometry.origin, (-71.66, -255.66, 576.2), atol=0.01)
    np.testing.assert_allclose(ct.geometry.direction, np.eye(3))
    assert ct.geometry.spacing == pytest.approx((1.5, 1.5, 1.5))
    _assert_same_as_sitk(ct, path)
    np.testing.assert_array_equal(ct.array[0], sitk.GetArrayFromImage(sitk.ReadImage(str(path))))
    assert ct.modality == "ct"
    assert ct.array.min() == -1064 and ct.array.max() == 3343


@pytest.mark.realdata
def test_ct_round_trip_and_mask_as_segmentation(tmp_path: Path, shared_data: Path) -> None:
    ct = read_nifti(shared_data / "ct" / "ct_cropped.nii.gz")
    out = write_nifti(ct, tmp_path / "ct.nii.gz")
    back = read_nifti(out)
    np.testing.assert_array_equal(back.array, ct.array)
    assert back.geometry.allclose(ct.geometry, atol=1e-5)
    assert nib.load(str(out)).get_data_dtype() == np.int16
    heart = read_segmentation_nifti(shared_data / "ct" / "heart.nii.gz", label_table={1: "heart"})
    assert heart.labels.shape == (1, 191, 167, 233)
    assert int(heart.labels.sum()) == 198176
    assert heart.label_table[1].name == "heart"


def test_4d_round_trip_oblique_with_exact_frame_times(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    series = ImageSeries(rng.normal(size=(5, 3, 8, 6)), _oblique(), frame_times=[10, 45, 82, 118, 151],
                         modality="cine", synthetic=True, provenance={"seed": 1}, description="demo")
    out = write_nifti(series, tmp_path / "cine.nii.gz")
    hdr = nib.load(str(out)).header
    assert hdr.get_xyzt_units() == ("mm", "msec")
    assert hdr.get_data_shape() == (6, 8, 3, 5)
    assert b"SYNTHETIC" in bytes(hdr["descrip"])
    back = read_nifti(out)
    np.testing.assert_allclose(back.array, series.array, rtol=1e-6)
    np.testing.assert_allclose(back.frame_times, series.frame_times)
    assert back.geometry.allclose(series.geometry, atol=1e-5)
    assert back.synthetic and back.modality == "cine" and back.provenance == {"seed": 1}
    _assert_same_as_sitk(series, out)


def test_static_write_is_read_by_simpleitk(tmp_path: Path) -> None:
    series = ImageSeries(np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3), _oblique())
    out = write_nifti(series, tmp_path / "vol.nii")
    _assert_same_as_sitk(series, out)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(out))), series.array[0])


def test_time_unit_seconds_is_converted(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.zeros((4, 4, 2, 3), np.float32), np.diag([2.0, 2.0, 5.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.header.set_zooms((2.0, 2.0, 5.0, 0.05))
    nib.save(img, str(tmp_path / "t.nii"))
    series = read_nifti(tmp_path / "t.nii")
    np.testing.assert_allclose(series.frame_times, [0.0, 50.0, 100.0])
    assert series.modality == "mr"
    # RAS affine diag(2, 2, 5) -> LPS direction diag(-1, -1, 1)
    np.testing.assert_allclose(series.geometry.direction, np.diag([-1.0, -1.0, 1.0]))


def test_modality_guess_and_override(tmp_path: Path) -> None:
    assert guess_modality(np.array([-1000.0, 40.0]), integer_storage=True) == "ct"
    assert guess_modality(np.array([-1000.0, 40.0]), integer_storage=False) == "mr"
    img = nib.Nifti1Image(np.full((3, 3, 3), -1000, np.int16), np.eye(4))
    nib.save(img, str(tmp_path / "air.nii.gz"))
    assert read_nifti(tmp_path / "air.nii.gz").modality == "ct"
    assert read_nifti(tmp_path / "air.nii.gz", modality="other").modality == "other"
    with pytest.raises(CardioGenInputError, match="modality"):
        read_nifti(tmp_path / "air.nii.gz", modality="xray")


@pytest.mark.parametrize(
    "content",
    [b"", b"not nifti at all" * 40, gzip.compress(b"x" * 400, mtime=0)],
    ids=["empty", "text", "gzip-of-junk"],
)
def test_bad_files_are_input_errors_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.nii.gz"
    path.write_bytes(content)
    with pytest.raises(CardioGenInputError) as info:
        read_nifti(path)
    assert str(path) in str(info.value)


def test_truncated_data_is_an_input_error(tmp_path: Path) -> None:
    img = nib.Nifti1Image(np.ones((16, 16, 16), np.float32), np.eye(4))
    nib.save(img, str(tmp_path / "full.nii"))
    data = (tmp_path / "full.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(data[: len(data) // 2])
    with pytest.raises(CardioGenInputError, match="cut.nii"):
        read_nifti(tmp_path / "cut.nii")


def test_write_rejects_wrong_extension(tmp_path: Path) -> None:
    with pytest.raises(CardioGenInputError, match=".nii"):
        write_nifti(ImageSeries(np.zeros((2, 2, 2))), tmp_path / "x.nrrd")
