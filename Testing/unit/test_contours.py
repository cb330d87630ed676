"""Contours: pixel-centre rasterisation, closed splines, Sunnybrook manual contours."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.data import STANDARD_LABELS, ImageSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.io.contours import closed_spline, polygon_to_mask, read_contour_file, read_sunnybrook_contours
from cardiogen.io.dicom_io import read_dicom_series


def test_polygon_to_mask_pixel_centre_convention():
    # square with corners on pixel edges: covers pixel centres 2..5 (columns) x 1..3 (rows)
    square = [(1.5, 0.5), (5.5, 0.5), (5.5, 3.5), (1.5, 3.5)]
    mask = polygon_to_mask(square, (6, 8))
    assert mask.shape == (6, 8) and mask.dtype == bool
    rows, cols = np.nonzero(mask)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (1, 3, 2, 5)
    assert mask.sum() == 3 * 4


def test_polygon_to_mask_x_is_column():
    tall = [(0.6, -0.4), (1.4, -0.4), (1.4, 8.4), (0.6, 8.4)]  # thin in x, long in y
    mask = polygon_to_mask(tall, (10, 10))
    assert mask[:, 1].sum() == 9 and mask.sum() == 9


def test_polygon_area_matches_shoelace():
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    circle = np.column_stack([50 + 20 * np.cos(t), 40 + 20 * np.sin(t)])
    mask = polygon_to_mask(circle, (100, 100))
    assert mask.sum() == pytest.approx(np.pi * 20**2, rel=0.02)
    assert mask[40, 50] and not mask[40, 75]


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.zeros((5, 3)), [[0, 0], [1, np.nan], [2, 2]], "abc"])
def test_polygon_to_mask_rejects_bad_points(bad):
    with pytest.raises(CardioGenInputError):
        polygon_to_mask(bad, (4, 4))


def test_closed_spline_passes_through_points_and_closes():
    t = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ctrl = np.column_stack([30 + 10 * np.cos(t), 20 + 10 * np.sin(t)])
    curve = closed_spline(ctrl, n=400)
    assert curve.shape == (400, 2)
    # every control point lies on the curve
    dists = np.min(np.linalg.norm(curve[None] - ctrl[:, None], axis=2), axis=1)
    assert dists.max() < 0.1
    # smooth and close to the circle through the points; closed (last point next to the first)
    radius = np.linalg.norm(curve - [30, 20], axis=1)
    assert np.allclose(radius, 10, atol=0.15)
    step = np.linalg.norm(np.diff(np.vstack([curve, curve[:1]]), axis=0), axis=1)
    assert step.max() < 3 * step.mean()
    mask = polygon_to_mask(closed_spline(ctrl), (50, 60))
    assert mask.sum() == pytest.approx(np.pi * 100, rel=0.05)


def test_closed_spline_drops_repeated_end_and_rejects_degenerate():
    ctrl = np.array([[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]], float)
    assert closed_spline(ctrl, n=50).shape == (50, 2)
    with pytest.raises(CardioGenInputError):
        closed_spline([[0, 0], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(CardioGenInputError):
        closed_spline(ctrl, n=2)


def test_read_contour_file_errors(tmp_path):
    good = tmp_path / "IM-0001-0001-icontour-manual.txt"
    good.write_text("1.0 2.0\n3.0 2.0\n3.0 4.0\n")
    assert read_contour_file(good).shape == (3, 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("1.0 two\n")
    with pytest.raises(CardioGenInputError, match="bad.txt"):
        read_contour_file(bad)
    with pytest.raises(CardioGenInputError, match="missing.txt"):
        read_contour_file(tmp_path / "missing.txt")


def test_sunnybrook_reader_maps_files_by_provenance(tmp_path):
    # a tiny fake cine: 2 frames x 2 slices, files named 1..4.dcm
    cine = ImageSeries(np.zeros((2, 2, 20, 20)), modality="cine",
                       provenance={"files": [["/x/3.dcm", "/x/1.dcm"], ["/x/4.dcm", "/x/2.dcm"]]})
    (tmp_path / "i-contours").mkdir()
    (tmp_path / "o-contours").mkdir()
    inner = "\n".join(f"{x} {y}" for x, y in [(8, 8), (12, 8), (12, 12), (8, 12)])
    outer = "\n".join(f"{x} {y}" for x, y in [(5, 5), (15, 5), (15, 15), (5, 15)])
    (tmp_path / "i-contours" / "IM-0001-0002-icontour-manual.txt").write_text(inner)
    (tmp_path / "o-contours" / "IM-0001-0002-ocontour-manual.txt").write_text(outer)
    (tmp_path / "i-contours" / "IM-0001-0003-icontour-manual.txt").write_text(inner)
    seg = read_sunnybrook_contours(tmp_path, cine)
    assert seg.annotated.tolist() == [[True, False], [False, True]]
    assert (seg.labels[1, 1] == 1).sum() == 25 and (seg.labels[1, 1] == 2).sum() == 121 - 25
    assert (seg.labels[0, 0] == 1).sum() == 25 and (seg.labels[0, 0] == 2).sum() == 0
    assert seg.label_table[1] == STANDARD_LABELS[1] and seg.label_table[2] == STANDARD_LABELS[2]
    (tmp_path / "i-contours" / "IM-0001-0009-icontour-manual.txt").write_text(inner)
    with pytest.raises(CardioGenInputError, match="9.dcm") as err:
        read_sunnybrook_contours(tmp_path, cine)
    assert "IM-0001-0009" in str(err.value)


def test_sunnybrook_reader_errors(tmp_path):
    cine = ImageSeries(np.zeros((1, 1, 8, 8)))
    with pytest.raises(CardioGenInputError, match="not found"):
        read_sunnybrook_contours(tmp_path / "none", cine)
    with pytest.raises(CardioGenInputError, match="file list"):
        read_sunnybrook_contours(tmp_path, cine)
    cine.provenance["files"] = [["/x/1.dcm"]]
    with pytest.raises(CardioGenInputError, match="no Sunnybrook contour files"):
        read_sunnybrook_contours(tmp_path, cine)


@pytest.fixture(scope="module")
def sunnybrook(shared_data):
    cine = read_dicom_series(shared_data / "cine_sunnybrook" / "SCD0000101")
    seg = read_sunnybrook_contours(shared_data / "cine_sunnybrook" / "contours" / "SC-HF-I-1", cine)
    return cine, seg


@pytest.mark.realdata
def test_sunnybrook_contours_enclose_bright_blood(sunnybrook):
    cine, seg = sunnybrook
    assert seg.labels.shape == cine.shape and seg.geometry == cine.geometry
    frames, slices = np.nonzero(seg.annotated)
    assert sorted(set(frames.tolist())) == [7, 18]  # ES and ED (README)
    assert seg.annotated.sum() == 18
    # README slices 2-10 (file order) are array slices 1-9: the reader orders slices along the normal
    assert sorted(set(slices.tolist())) == list(range(1, 10))
    for t, z in zip(frames, slices):
        blood = seg.labels[t, z] == 1
        ring = ndimage.binary_dilation(blood, iterations=4) & ~blood
        image = cine.array[t, z]
        assert image[blood].mean() > image[ring].mean() + 0.5 * image.std()
    myo = seg.labels == 2
    assert myo[18].sum() > 0 and myo[7].sum() == 0  # outer contours only at ED


@pytest.mark.realdata
def test_sunnybrook_contour_provenance(sunnybrook):
    _, seg = sunnybrook
    files = seg.provenance["contour_files"]
    assert len(files) == 27
    key = next(k for k in files if k.endswith("IM-0001-0048-icontour-manual.txt"))
    assert files[key] == [7, 12 - 1 - (47 // 20)]  # 48.dcm: README slice 2, phase 7
