"""Clinical measurements: slice summation with the true spacing, ED/ES picking, mass, RV, sphericity, files/CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cardiogen.data import STANDARD_LABELS, Geometry, LabelInfo, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.measure import Measurements, measure_files, measure_segmentation

SPACING = (1.5, 1.5, 10.0)
VOXEL_ML = 1.5 * 1.5 * 10.0 / 1000.0


def _stack(sides: list[int], n_slices: int = 6, ring: int = 0, rv_side: int = 0,
           annotated_slices: slice = slice(1, 5)) -> Segmentation:
    """Frames of square LV cavities (side per frame) on slices ``annotated_slices``; optional myocardial ring/RV."""
    nt = len(sides)
    labels = np.zeros((nt, n_slices, 40, 40), np.uint8)
    annotated = np.zeros((nt, n_slices), bool)
    for t, side in enumerate(sides):
        if side == 0:
            continue
        lo = 20 - side // 2
        sl = labels[t, annotated_slices]
        if ring:
            sl[:, lo - ring:lo + side + ring, lo - ring:lo + side + ring] = 2
        sl[:, lo:lo + side, lo:lo + side] = 1
        if rv_side:
            sl[:, 2:2 + rv_side - t, 2:2 + rv_side - t] = 3
        annotated[t, annotated_slices] = True
    return Segmentation(labels, label_table=dict(STANDARD_LABELS), geometry=Geometry(spacing=SPACING),
                        frame_times=np.arange(nt) * 50.0, annotated=annotated)


def test_volumes_use_true_slice_spacing_and_annotated_slices():
    seg = _stack([10, 6, 8, 0])
    m = measure_segmentation(seg)
    assert m.ed_frame == 0 and m.es_frame == 1
    assert m.lv_edv_ml == pytest.approx(4 * 100 * VOXEL_ML)
    assert m.lv_esv_ml == pytest.approx(4 * 36 * VOXEL_ML)
    assert m.lv_ef_pct == pytest.approx((100 - 36) / 100 * 100)
    assert m.lv_sv_ml == pytest.approx(m.lv_edv_ml - m.lv_esv_ml)
    assert m.lv_volume_curve_ml[3] is None and m.n_slices_ed == 4
    assert m.slice_spacing_mm == 10.0 and m.ed_time_ms == 0.0 and m.es_time_ms == 50.0
    # labels on a slice that is not annotated are ignored
    seg.labels[0, 5, 0:10, 0:10] = 1
    assert measure_segmentation(seg).lv_edv_ml == pytest.approx(m.lv_edv_ml)
    # doubling the slice spacing doubles the volumes
    seg2 = _stack([10, 6, 8])
    seg2.geometry = Geometry(spacing=(1.5, 1.5, 20.0))
    assert measure_segmentation(seg2).lv_edv_ml == pytest.approx(2 * m.lv_edv_ml)


def test_explicit_ed_es_and_errors():
    seg = _stack([10, 6, 8, 0])
    m = measure_segmentation(seg, ed_frame=2, es_frame=1)
    assert (m.ed_frame, m.es_frame) == (2, 1)
    assert m.lv_edv_ml == pytest.approx(4 * 64 * VOXEL_ML)
    with pytest.raises(CardioGenInputError, match="ed_frame has no annotated LV"):
        measure_segmentation(seg, ed_frame=3)
    with pytest.raises(CardioGenInputError, match="out of range"):
        measure_segmentation(seg, es_frame=9)
    with pytest.raises(CardioGenInputError, match="at least 2 frames"):
        measure_segmentation(_stack([10, 0, 0]))
    no_lv = Segmentation(np.zeros((2, 2, 4, 4), np.uint8), label_table={5: LabelInfo("aorta")})
    with pytest.raises(CardioGenInputError, match="LV blood pool"):
        measure_segmentation(no_lv)
    with pytest.raises(CardioGenInputError):
        measure_segmentation("not a segmentation")  # type: ignore[arg-type]


def test_mass_rv_and_report():
    seg = _stack([10, 6], ring=2, rv_side=10)
    m = measure_segmentation(seg, heart_rate_bpm=60)
    myo_voxels = 4 * (14 * 14 - 100)
    assert m.lv_myocardial_volume_ml == pytest.approx(myo_voxels * VOXEL_ML)
    assert m.lv_mass_g == pytest.approx(myo_voxels * VOXEL_ML * 1.05)
    assert m.rv_edv_ml == pytest.approx(4 * 100 * VOXEL_ML)
    assert m.rv_esv_ml == pytest.approx(4 * 81 * VOXEL_ML)
    assert m.rv_ef_pct == pytest.approx(19.0)
    assert m.cardiac_output_l_min == pytest.approx(m.lv_sv_ml * 60 / 1000)
    d = m.as_dict()
    json.dumps(d)
    assert d["lv_ef_pct"] == pytest.approx(m.lv_ef_pct)
    table = m.format_table()
    assert "LV EF" in table and "RV EDV" in table and "LV mass" in table
    assert isinstance(m, Measurements)


def test_sphericity_short_axis_stack():
    seg = _stack([10, 6])
    m = measure_segmentation(seg)
    diameter = 2 * math.sqrt(100 * 1.5 * 1.5 / math.pi)
    assert m.lv_long_axis_mm == pytest.approx(4 * 10.0)
    assert m.lv_short_axis_diameter_mm == pytest.approx(diameter)
    assert m.sphericity_index == pytest.approx(diameter / 40.0)


def test_sphericity_isotropic_ball_and_ellipsoid():
    z, y, x = np.mgrid[0:40, 0:40, 0:40]
    frames = []
    for a, c in ((12, 12), (8, 16)):  # ball, then an elongated ellipsoid along an oblique axis
        u = ((x - 20) + (z - 20)) / math.sqrt(2)
        v = ((x - 20) - (z - 20)) / math.sqrt(2)
        frames.append(((u / c) ** 2 + (v / a) ** 2 + ((y - 20) / a) ** 2 <= 1).astype(np.uint8))
    seg = Segmentation(np.stack(frames), geometry=Geometry(spacing=(1.0, 1.0, 1.0)))
    ball = measure_segmentation(seg, ed_frame=0, es_frame=1)
    assert ball.sphericity_index == pytest.approx(1.0, abs=0.12)
    ellipsoid = measure_segmentation(seg, ed_frame=1, es_frame=0)
    assert ellipsoid.lv_long_axis_mm == pytest.approx(32, abs=2.5)
    assert ellipsoid.sphericity_index == pytest.approx(0.5, abs=0.08)


def test_measure_files_label_nifti(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    seg = _stack([10, 6, 8], ring=2)
    frames = []
    for t in range(seg.n_frames):
        img = sitk.GetImageFromArray(seg.labels[t])
        img.SetSpacing(SPACING)
        frames.append(img)
    path = tmp_path / "labels.nii.gz"
    sitk.WriteImage(sitk.JoinSeries(frames), str(path))
    m = measure_files(path)
    assert m.lv_edv_ml == pytest.approx(4 * 100 * VOXEL_ML)
    assert m.lv_ef_pct == pytest.approx(64.0)
    assert m.lv_mass_g is not None


def test_measure_files_errors(tmp_path):
    with pytest.raises(CardioGenInputError, match="not found"):
        measure_files(tmp_path / "missing")
    (tmp_path / "dicoms").mkdir()
    with pytest.raises(CardioGenInputError, match="--contours"):
        measure_files(tmp_path / "dicoms")


@pytest.fixture(scope="module")
def sunnybrook_measurements(shared_data):
    root = shared_data / "cine_sunnybrook"
    return measure_files(root / "SCD0000101", contours_dir=root / "contours" / "SC-HF-I-1")


@pytest.mark.realdata
def test_sunnybrook_reference_values(sunnybrook_measurements):
    m = sunnybrook_measurements
    assert (m.ed_frame, m.es_frame) == (18, 7)  # README: ED phase 18, ES phase 7
    assert m.lv_edv_ml == pytest.approx(191, rel=0.10)
    assert m.lv_esv_ml == pytest.approx(141, rel=0.10)
    assert m.lv_ef_pct == pytest.approx(26, rel=0.10)
    assert m.lv_mass_g == pytest.approx(117, rel=0.15)
    assert m.slice_spacing_mm == pytest.approx(10.0, abs=1e-3)
    assert m.n_slices_ed == 9 and m.n_slices_es == 9
    assert 0.3 < m.sphericity_index < 1.0 and m.lv_long_axis_mm == pytest.approx(90.0, abs=0.01)
    assert m.heart_rate_bpm == pytest.approx(79, abs=3)


@pytest.mark.realdata
def test_cli_measure(shared_data, capsys):
    cli = pytest.importorskip("cardiogen.cli")
    root = shared_data / "cine_sunnybrook"
    code = cli.main(["measure", str(root / "SCD0000101"), "--contours", str(root / "contours" / "SC-HF-I-1"),
                     "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lv_ef_pct"] == pytest.approx(26, rel=0.10)
