"""cardiogen.data: containers validate what they hold and name the problem."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.data import (STANDARD_LABELS, DenseSeries, DisplacementSeries, Ecg, Geometry, ImageSeries,
                            Segmentation, StrainSeries)
from cardiogen.errors import CardioGenInputError


def _rotation(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def test_geometry_index_to_world_maps_voxels_to_lps():
    g = Geometry(spacing=(2.0, 3.0, 10.0), origin=(5.0, -4.0, 1.0), direction=_rotation(90))
    world = g.index_to_world() @ np.array([1.0, 0.0, 0.0, 1.0])
    # one step along x (columns) moves 2 mm along the direction's first column (+y in LPS here)
    assert np.allclose(world[:3], [5.0, -2.0, 1.0])
    assert np.allclose(g.world_to_index() @ world, [1, 0, 0, 1])
    assert g.voxel_volume_ml() == pytest.approx(0.06)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(spacing=(1, 0, 1)), "spacing must be > 0"),
    (dict(spacing=(1, -1, 1)), "spacing must be > 0"),
    (dict(spacing=(1, 1)), "3 values"),
    (dict(origin=(0, np.nan, 0)), "non-finite"),
    (dict(direction=np.diag([1.0, 2.0, 1.0])), "orthonormal"),
    (dict(direction=np.eye(2)), "3x3"),
])
def test_geometry_rejects_bad_values(kwargs, needle):
    with pytest.raises(CardioGenInputError, match=needle):
        Geometry(**kwargs)


def test_image_series_reshapes_and_checks():
    s = ImageSeries(np.zeros((4, 5)), modality="cine")
    assert s.shape == (1, 1, 4, 5) and s.array.dtype == np.float32
    s3 = ImageSeries(np.zeros((3, 4, 5)))
    assert s3.shape == (1, 3, 4, 5)
    with pytest.raises(CardioGenInputError, match="NaN/Inf"):
        ImageSeries(np.array([[0.0, np.inf]]))
    with pytest.raises(CardioGenInputError, match="increase strictly"):
        ImageSeries(np.zeros((3, 1, 2, 2)), frame_times=[0, 20, 10])
    with pytest.raises(CardioGenInputError, match="one value per frame"):
        ImageSeries(np.zeros((3, 1, 2, 2)), frame_times=[0, 20])
    with pytest.raises(CardioGenInputError, match="unknown modality"):
        ImageSeries(np.zeros((2, 2)), modality="xray")
    with pytest.raises(CardioGenInputError, match="empty"):
        ImageSeries(np.zeros((0, 2)))
    with pytest.raises(CardioGenInputError, match="numeric"):
        ImageSeries(np.array([["a", "b"]]))
    with pytest.raises(CardioGenInputError, match=r"\(t, z, y, x\)"):
        ImageSeries(np.zeros((1, 1, 1, 2, 2)))


def test_image_series_frame_and_synthetic_marking():
    s = ImageSeries(np.arange(24, dtype=float).reshape(3, 1, 2, 4), frame_times=[0, 40, 80], modality="cine",
                    description="phantom cine")
    f = s.frame(2)
    assert f.shape == (1, 1, 2, 4) and f.frame_times.tolist() == [80.0]
    assert np.array_equal(f.array[0], s.array[2])
    syn = s.mark_synthetic("dense_to_cine", weights_sha256="abc")
    assert syn.synthetic and "SYNTHETIC" in syn.description and syn.provenance["pipeline"] == "dense_to_cine"
    assert not s.synthetic  # the original is untouched
    with pytest.raises(CardioGenInputError, match="out of range"):
        s.frame(3)


def test_dense_series_validation():
    mag = ImageSeries(np.ones((2, 1, 4, 4)), modality="dense_mag")
    phase = np.zeros((2, 2, 1, 4, 4))
    d = DenseSeries(mag, phase, encodings=("x", "y"), ke=0.1)
    assert d.ke == (0.1, 0.1) and d.n_frames == 2
    with pytest.raises(CardioGenInputError, match="no phase"):
        DenseSeries(mag, None)
    with pytest.raises(CardioGenInputError, match="encoding frequency"):
        DenseSeries(mag, phase, ke=None)
    with pytest.raises(CardioGenInputError, match="ke must be > 0"):
        DenseSeries(mag, phase, ke=-0.1)
    with pytest.raises(CardioGenInputError, match="shapes differ"):
        DenseSeries(mag, np.zeros((2, 3, 1, 4, 4)))
    with pytest.raises(CardioGenInputError, match="wrapped"):
        DenseSeries(mag, phase + 4.0)
    with pytest.raises(CardioGenInputError, match="encodings"):
        DenseSeries(mag, phase, encodings=("x",))


def test_ecg_validation_and_heart_rate():
    fs = 500.0
    t = np.arange(int(10 * fs)) / fs
    beat = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.01**2))  # one spike every 0.8 s -> 75 bpm
    ecg = Ecg(np.stack([beat, 0.5 * beat]), fs, ("I", "II"))
    assert ecg.heart_rate_bpm() == pytest.approx(75, abs=1)
    assert ecg.times_ms[1] == pytest.approx(2.0)
    with pytest.raises(CardioGenInputError, match="flat"):
        Ecg(np.zeros((2, 100)), fs, ("I", "II"))
    with pytest.raises(CardioGenInputError, match="empty"):
        Ecg(np.zeros((2, 1)), fs, ("I", "II"))
    with pytest.raises(CardioGenInputError, match="one lead name per lead"):
        Ecg(np.stack([beat, beat]), fs, ("I",))
    with pytest.raises(CardioGenInputError, match="unique"):
        Ecg(np.stack([beat, beat]), fs, ("I", "I"))
    with pytest.raises(CardioGenInputError, match="sampling rate"):
        Ecg(np.stack([beat]), 0, ("I",))
    with pytest.raises(CardioGenInputError, match="NaN"):
        Ecg(np.array([[0.0, np.nan, 1.0]]), fs, ("I",))


def test_displacement_segmentation_strain_validation():
    d = DisplacementSeries(np.zeros((3, 3, 1, 4, 4)), frame_times=[0, 1, 2], mask=np.ones((1, 4, 4)))
    assert d.spatial_shape == (1, 4, 4)
    with pytest.raises(CardioGenInputError, match=r"\(t, 3, z, y, x\)"):
        DisplacementSeries(np.zeros((3, 2, 1, 4, 4)))
    with pytest.raises(CardioGenInputError, match="reference frame"):
        DisplacementSeries(np.zeros((3, 3, 1, 4, 4)), reference_frame=3)

    labels = np.zeros((2, 1, 4, 4), dtype=np.uint8)
    labels[:, 0, 1:3, 1:3] = 1
    seg = Segmentation(labels)
    assert seg.mask("lv blood pool").sum() == 8 and seg.value_of("LV myocardium") == 2
    assert seg.annotated.shape == (2, 1) and seg.annotated.all()
    with pytest.raises(CardioGenInputError, match="without a name"):
        Segmentation(labels * 9)
    with pytest.raises(CardioGenInputError, match="no such label"):
        seg.mask("aorta")
    assert STANDARD_LABELS[1].name == "LV blood pool"

    comp = np.zeros((2, 1, 4, 4))
    comp[1] = -0.2
    mask = np.zeros((1, 4, 4), bool)
    mask[0, 1:3, 1:3] = True
    strain = StrainSeries({"circumferential": comp}, mask=mask)
    assert strain.global_curve("circumferential").tolist() == pytest.approx([0.0, -0.2])
    assert strain.peak("circumferential") == pytest.approx(-0.2)
    with pytest.raises(CardioGenInputError, match="unknown strain component"):
        StrainSeries({"shear": comp})
