"""DENSEanalysis workspace (.dns) reader."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from scipy.io import loadmat, savemat

from cardiogen.data import DenseSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.io.dense_io import (DEFAULT_FRAME_INTERVAL_MS, DEFAULT_SLICE_THICKNESS_MM, is_dense_workspace,
                                   read_dense_workspace)

KE_TEMPLATE = 0.08 * 2.309401


@pytest.fixture(scope="module")
def template(shared_data: Path) -> DenseSeries:
    return read_dense_workspace(shared_data / "dense" / "template.dns")


def _resave(src: Path, dest: Path, **dns_changes) -> Path:
    """Copy of the template with some dns fields changed (seq reduced to plain fields)."""
    m = loadmat(str(src), variable_names=["dns", "img", "roi", "seq"])
    dns = m["dns"]
    for key, value in dns_changes.items():
        dns[0, 0][key] = value
    keep = ("SliceThickness", "ImagePositionPatient", "ImageOrientationPatient", "TriggerTime", "RepetitionTime",
            "PixelSpacing", "SeriesDescription")
    small = np.empty(m["seq"].shape, dtype=[(k, "O") for k in keep])
    for idx in np.ndindex(small.shape):
        for k in keep:
            small[idx][k] = m["seq"][idx][k]
    savemat(str(dest), {"dns": dns, "img": m["img"], "roi": m["roi"], "seq": small})
    return dest


@pytest.mark.realdata
def test_template_shapes_spacing_and_ke(template: DenseSeries) -> None:
    assert template.magnitude.shape == (35, 1, 128, 128)
    assert template.phase.shape == (2, 35, 1, 128, 128)
    assert template.encodings == ("x", "y")
    assert template.ke == pytest.approx((KE_TEMPLATE, KE_TEMPLATE))
    assert template.geometry.spacing == pytest.approx((2.5, 2.5, 8.0))
    assert template.magnitude.modality == "dense_mag"
    assert template.metadata["slice_thickness_source"] == "seq.SliceThickness"


@pytest.mark.realdata
def test_template_geometry_from_image_orientation(template: DenseSeries) -> None:
    g = template.geometry
    np.testing.assert_allclose(g.origin, (-79.46081545, -178.3306798, 196.91056021), atol=1e-6)
    np.testing.assert_allclose(g.direction[:, 0], [0.78488377, -0.04360793, -0.61810663], atol=1e-6)
    np.testing.assert_allclose(g.direction[:, 1], [-0.29064902, 0.8550678, -0.42939749], atol=1e-6)
    np.testing.assert_allclose(g.direction[:, 2], np.cross(g.direction[:, 0], g.direction[:, 1]), atol=1e-9)


@pytest.mark.realdata
def test_template_phase_conversion_and_negation(template: DenseSeries, shared_data: Path) -> None:
    m = loadmat(str(shared_data / "dense" / "template.dns"), variable_names=["img"])
    raw_x = m["img"][1, 0].astype(float).transpose(2, 0, 1)
    raw_y = m["img"][2, 0].astype(float).transpose(2, 0, 1)
    np.testing.assert_allclose(template.phase[0, :, 0], -(2 * np.pi * raw_x / 4095 - np.pi), atol=1e-5)  # NegFlag x
    np.testing.assert_allclose(template.phase[1, :, 0], 2 * np.pi * raw_y / 4095 - np.pi, atol=1e-5)
    assert np.abs(template.phase).max() <= np.pi + 1e-6
    np.testing.assert_array_equal(template.magnitude.array[:, 0], m["img"][0, 0].transpose(2, 0, 1))


@pytest.mark.realdata
def test_template_frame_times_documented_source(template: DenseSeries) -> None:
    times = template.frame_times
    assert len(times) == 35 and np.all(np.diff(times) > 0)
    assert template.metadata["frame_time_source"].startswith("seq.RepetitionTime")
    np.testing.assert_allclose(np.diff(times), 15.0)


@pytest.mark.realdata
def test_template_contours_give_ring_shaped_myocardium(template: DenseSeries) -> None:
    seg = template.segmentation
    assert seg is not None
    np.testing.assert_array_equal(np.flatnonzero(seg.annotated[:, 0]), np.arange(26))  # frames 1-26 (base 1)
    assert seg.label_table[1].name == "LV blood pool" and seg.label_table[2].name == "LV myocardium"
    for f in range(26):
        myo = seg.labels[f, 0] == 2
        blood = seg.labels[f, 0] == 1
        assert myo.sum() > 100 and blood.sum() > 100
        filled = ndimage.binary_fill_holes(myo)
        hole = filled & ~myo
        assert hole.sum() > 0.8 * blood.sum()  # the myocardium encloses the blood pool: a ring
        assert (blood & hole).sum() > 0.9 * blood.sum()
        assert ndimage.label(myo)[1] == 1
    assert not seg.labels[26:].any()
    # The LV sits around control-point centroid (x = column ~64, y = row ~66, base 1).
    rows, cols = np.nonzero(seg.labels[0, 0] == 1)
    assert abs(cols.mean() - 63) < 5 and abs(rows.mean() - 65) < 5


@pytest.mark.realdata
def test_template_reads_quickly(shared_data: Path) -> None:
    read_dense_workspace(shared_data / "dense" / "template.dns")
    t0 = time.perf_counter()
    read_dense_workspace(shared_data / "dense" / "template.dns")
    assert time.perf_counter() - t0 < 2.0
    assert is_dense_workspace(shared_data / "dense" / "template.dns")


@pytest.mark.realdata
def test_no_phase_images(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "dense" / "template.dns"
    path = _resave(src, tmp_path / "nophase.dns", PhaIndex=np.full((1, 3), np.nan))
    with pytest.raises(CardioGenInputError, match="DENSE file has no phase images") as info:
        read_dense_workspace(path)
    assert "nophase.dns" in str(info.value)
    path = _resave(src, tmp_path / "badindex.dns", PhaIndex=np.array([[7.0, 8.0, np.nan]]))
    with pytest.raises(CardioGenInputError, match="DENSE file has no phase images"):
        read_dense_workspace(path)


@pytest.mark.realdata
def test_missing_encfreq_needs_ke(tmp_path: Path, shared_data: Path) -> None:
    path = _resave(shared_data / "dense" / "template.dns", tmp_path / "noenc.dns",
                   EncFreq=np.full((1, 3), np.nan))
    with pytest.raises(CardioGenInputError, match="ke=") as info:
        read_dense_workspace(path)
    assert "noenc.dns" in str(info.value)
    dense = read_dense_workspace(path, ke=0.1)
    assert dense.ke == (0.1, 0.1) and dense.metadata["ke_source"] == "argument"


def test_not_a_mat_file(tmp_path: Path) -> None:
    path = tmp_path / "fake.dns"
    path.write_bytes(b"hello, this is not MATLAB" * 10)
    with pytest.raises(CardioGenInputError, match="not a MATLAB") as info:
        read_dense_workspace(path)
    assert str(path) in str(info.value)
    assert not is_dense_workspace(path)
    hdf = tmp_path / "v73.dns"
    hdf.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ") + b"\x89HDF\r\n\x1a\n")
    with pytest.raises(CardioGenInputError, match="v7.3"):
        read_dense_workspace(hdf)
    with pytest.raises(CardioGenInputError, match="not found"):
        read_dense_workspace(tmp_path / "missing.dns")


def test_mat_without_dense_variables(tmp_path: Path) -> None:
    path = tmp_path / "other.mat"
    savemat(str(path), {"x": np.arange(5)})
    with pytest.raises(CardioGenInputError, match="no 'dns'/'img'"):
        read_dense_workspace(path)


def _minimal_workspace(path: Path, *, kind: str = "xyz", seq: dict | None = None, frames: int = 4,
                       roi: dict | None = None) -> Path:
    rng = np.random.default_rng(2)
    n = len(kind)
    img = np.empty((1 + n, 1), dtype=object)
    img[0, 0] = rng.integers(0, 4000, (16, 20, frames)).astype(np.uint16)
    for i in range(n):
        img[1 + i, 0] = rng.integers(0, 4096, (16, 20, frames)).astype(np.uint16)
    pha = np.full(3, np.nan)
    for i, axis in enumerate(kind):
        pha["xyz".index(axis)] = 2 + i
    dns = {"Type": kind, "MagIndex": np.array([1.0, 1.0, 1.0]), "PhaIndex": pha, "Number": frames,
           "PixelSpacing": np.array([1.5, 2.0]), "EncFreq": np.array([0.1, 0.1, 0.05]),
           "Scale": np.array([1.0, 1.0, 2.0]), "NegFlag": np.array([0, 1, 0]), "SwapFlag": 0}
    contents = {"dns": dns, "img": img}
    if seq is not None:
        contents["seq"] = seq
    if roi is not None:
        contents["roi"] = roi
    savemat(str(path), contents)
    return path


def test_minimal_xyz_workspace_defaults(tmp_path: Path) -> None:
    dense = read_dense_workspace(_minimal_workspace(tmp_path / "mini.dns"))
    assert dense.encodings == ("x", "y", "z")
    assert dense.ke == pytest.approx((0.1, 0.1, 0.1))
    assert dense.geometry.spacing == pytest.approx((2.0, 1.5, DEFAULT_SLICE_THICKNESS_MM))  # (col, row) order
    np.testing.assert_allclose(dense.geometry.direction, np.eye(3))
    np.testing.assert_allclose(np.diff(dense.frame_times), DEFAULT_FRAME_INTERVAL_MS)
    assert dense.segmentation is None
    assert dense.magnitude.shape == (4, 1, 16, 20)


def test_per_frame_trigger_times_are_used(tmp_path: Path) -> None:
    seq = {"TriggerTime": np.array([12.0, 40.0, 71.0, 99.0]), "SliceThickness": 6.0}
    dense = read_dense_workspace(_minimal_workspace(tmp_path / "tt.dns", kind="xy", seq=seq))
    np.testing.assert_allclose(dense.frame_times, [12.0, 40.0, 71.0, 99.0])
    assert dense.metadata["frame_time_source"] == "seq.TriggerTime"
    assert dense.geometry.spacing[2] == 6.0
    dense = read_dense_workspace(tmp_path / "tt.dns", frame_interval_ms=20.0)  # per-frame times still win
    np.testing.assert_allclose(dense.frame_times, [12.0, 40.0, 71.0, 99.0])


def test_frame_interval_argument(tmp_path: Path) -> None:
    dense = read_dense_workspace(_minimal_workspace(tmp_path / "fi.dns", kind="xy"), frame_interval_ms=25.0)
    np.testing.assert_allclose(dense.frame_times, [0, 25, 50, 75])


def test_unsupported_type(tmp_path: Path) -> None:
    path = _minimal_workspace(tmp_path / "t.dns", kind="xy")
    m = loadmat(str(path))
    m["dns"][0, 0]["Type"] = np.array(["xq"])
    savemat(str(path), {"dns": m["dns"], "img": m["img"]})
    with pytest.raises(CardioGenInputError, match="unsupported DENSE type"):
        read_dense_workspace(path)


def test_corrupt_cell_dimensions_are_refused_before_allocation(tmp_path: Path) -> None:
    path = tmp_path / "cells.dns"
    cells = np.empty((3, 1), dtype=object)
    for i in range(3):
        cells[i, 0] = np.zeros((2, 2), np.uint16)
    savemat(str(path), {"dns": {"Type": "x"}, "img": cells}, do_compression=False)
    data = bytearray(path.read_bytes())
    # The img cell's dimensions (3, 1) follow its flags: find "img" and patch the int32 dims before it.
    name = data.index(b"img")
    dims_at = data.rindex(struct.pack("<ii", 3, 1), 0, name)
    data[dims_at:dims_at + 8] = struct.pack("<ii", 60000, 60000)  # 3.6e9 cells -> 29 GB of pointers
    path.write_bytes(bytes(data))
    t0 = time.perf_counter()
    with pytest.raises(CardioGenInputError, match="corrupt MAT-file"):
        read_dense_workspace(path)
    assert time.perf_counter() - t0 < 1.0


def test_invalid_type_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "code.dns"
    savemat(str(path), {"dns": {"Type": "x"}, "img": np.ones((2, 2))}, do_compression=False)
    data = bytearray(path.read_bytes())
    pos = data.index(struct.pack("<II", 9, 32))  # the double data element of img (miDOUBLE, 4 x 8 bytes)
    data[pos:pos + 4] = struct.pack("<I", 40)  # no such MAT data type: scipy would index past its type table
    path.write_bytes(bytes(data))
    with pytest.raises(CardioGenInputError, match="invalid type code"):
        read_dense_workspace(path)


def _square(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """Corner control points [x y] (base 1) of an axis-aligned rectangle."""
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def test_roi_coordinates_are_column_row_base_1(tmp_path: Path) -> None:
    position = np.empty((2, 2), dtype=object)
    position[0, 0] = _square(3, 14, 2, 9)  # epicardium: columns 3..14, rows 2..9 (base 1)
    position[0, 1] = _square(6, 11, 4, 7)  # endocardium
    position[1, 0] = np.zeros((0, 2))
    position[1, 1] = np.zeros((0, 2))
    curved = np.empty((2, 2), dtype=object)
    for idx in np.ndindex(2, 2):
        curved[idx] = np.zeros((4, 1))  # corners: straight polygon
    roi = {"Name": "ROI.1", "Type": "SA", "Position": position, "IsCurved": curved}
    dense = read_dense_workspace(_minimal_workspace(tmp_path / "roi.dns", kind="xy", roi=roi))
    seg = dense.segmentation
    assert seg is not None
    np.testing.assert_array_equal(seg.annotated[:, 0], [True, False, False, False])
    blood_rows, blood_cols = np.nonzero(seg.labels[0, 0] == 1)
    myo_rows, myo_cols = np.nonzero(seg.labels[0, 0] == 2)
    # base 1 -> base 0: endocardium columns 5..10, rows 3..6 (pixel centres inside or on the edge)
    assert blood_cols.min() >= 5 and blood_cols.max() <= 10 and blood_rows.min() >= 3 and blood_rows.max() <= 6
    assert myo_cols.min() >= 2 and myo_cols.max() <= 13 and myo_rows.min() >= 1 and myo_rows.max() <= 8
    assert myo_cols.max() - myo_cols.min() > myo_rows.max() - myo_rows.min()  # wide, not tall: x is the column


def test_mat_structure_check_accepts_every_file_scipy_reads() -> None:
    """The guard in front of loadmat must not reject valid files: scipy's own MAT v5 test files (sparse, objects,
    function handles, unicode, big-endian ...)."""
    import warnings

    import scipy.io.matlab

    from cardiogen.io.dense_io import _MatScan

    folder = Path(scipy.io.matlab.__file__).parent / "tests" / "data"
    files = sorted(p for p in folder.glob("*.mat") if p.read_bytes()[:10] == b"MATLAB 5.0")
    if not files:
        pytest.skip("scipy's MAT test files are not installed")
    rejected = []
    for path in files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loadmat(str(path))
        except Exception:  # noqa: BLE001 - only files scipy reads matter here
            continue
        try:
            _MatScan(path).scan(path.read_bytes())
        except CardioGenInputError as exc:
            rejected.append(f"{path.name}: {exc.problem}")
    assert not rejected, rejected
    assert len(files) > 50
