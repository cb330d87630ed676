"""The LV myocardium found on DENSE images (no contours) and the phase-coherence check of masks, against the
phantom's known walls and motion, and on the real swine sample whose stored ROI misses the wall."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.data import DenseSeries, Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.motion.dense import dense_displacement, dense_frame_masks, dense_to_lagrangian
from cardiogen.motion.dense_mask import LOW_COHERENCE, detect_myocardium, mask_phase_coherence, phase_coherence


def _dice(a, b):
    return 2.0 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


@pytest.fixture(scope="module")
def phantom():
    from cardiogen.phantom import PhantomConfig, make_case

    return make_case(PhantomConfig(seed=11, size=64, frames=12, slices=6, modalities=("dense",)))


def test_phase_coherence_is_one_on_smooth_phase_and_low_on_noise():
    yy, xx = np.mgrid[:20, :20]
    smooth = np.stack([0.3 * xx, -0.2 * yy])  # wraps several times: coherence ignores wraps
    noise = np.random.default_rng(0).uniform(-np.pi, np.pi, (2, 20, 20))
    assert phase_coherence(smooth)[2:-2, 2:-2].min() > 0.97
    assert phase_coherence(noise).mean() < 0.5
    mixed = np.stack([smooth[0], noise[1]])  # the minimum over encodings
    assert np.allclose(phase_coherence(mixed), phase_coherence(noise[1]))


def test_detected_wall_matches_the_phantom_myocardium(phantom):
    labels = phantom.truth.masks.labels
    auto = detect_myocardium(phantom.dense)
    per_slice = [np.mean([_dice(auto[t, k], labels[t, k] == 2) for t in range(auto.shape[0])]) for k in range(6)]
    mid = per_slice[2:5]  # mid-ventricular slices; the basal and apical ones have partial-volume rings
    assert min(mid) > 0.65 and np.mean(mid) > 0.7, per_slice
    # it sits on the LV wall, not on the RV or the chest wall: nearly every pixel is LV myocardium or touches it
    lv_wall = np.stack([[ndimage.binary_dilation(labels[t, k] == 2) for k in range(6)]
                        for t in range(labels.shape[0])])
    assert np.count_nonzero(auto & lv_wall) > 0.95 * np.count_nonzero(auto)


def test_mask_coherence_separates_the_wall_from_a_ring_around_the_heart(phantom):
    """A ring just outside the epicardium (like the sample workspace's ROI) reads phase noise: flagged as off."""
    labels = phantom.truth.masks.labels
    dense = phantom.dense
    outside = np.stack([[ndimage.binary_dilation(labels[t, k] == 2, iterations=4)
                         & ~ndimage.binary_dilation(labels[t, k] > 0) for k in range(6)]
                        for t in range(labels.shape[0])])
    assert mask_phase_coherence(dense, labels == 2) > 0.85
    assert mask_phase_coherence(dense, detect_myocardium(dense)) > 0.85
    assert mask_phase_coherence(dense, outside) < LOW_COHERENCE
    assert np.isnan(mask_phase_coherence(dense, np.zeros_like(outside)))


def test_automatic_mask_gives_the_phantom_motion(phantom):
    """DENSE displacement read on the detected wall is as close to the known motion as on the true contours."""
    dense = phantom.dense
    direction = dense.magnitude.geometry.direction
    truth = phantom.truth.displacement.array
    truth = np.stack([np.einsum("tczyx,c->tzyx", truth, direction[:, i]) for i in range(2)], axis=1)
    myo0 = phantom.truth.masks.labels[0] == 2
    epe = {}
    for mask in (None, "auto"):
        eul, masks = dense_displacement(dense, mask, return_frame_masks=True)
        lag = dense_to_lagrangian(eul, masks).array
        u = np.stack([np.einsum("tczyx,c->tzyx", lag, direction[:, i]) for i in range(2)], axis=1)
        where = masks[0] & myo0
        assert np.count_nonzero(where) > 50
        epe[mask] = float(np.linalg.norm(u - truth, axis=1)[1:][:, where].mean())
        if mask == "auto":
            assert eul.provenance["mask_source"].startswith("automatic")
            assert eul.provenance["mask_phase_coherence"] > 0.85
    peak = float(np.abs(truth[:, :, myo0]).max())
    assert epe["auto"] < 0.25 * peak and epe["auto"] < 1.5 * epe[None], (epe, peak)


def test_no_blood_pool_is_an_input_error_naming_the_file():
    rng = np.random.default_rng(1)
    geom = Geometry(spacing=(2.5, 2.5, 8.0))
    mag = ImageSeries(rng.uniform(100, 200, (4, 1, 40, 40)).astype(np.float32), geom,
                      frame_times=np.arange(4) * 30.0, modality="dense_mag")
    dense = DenseSeries(mag, rng.uniform(-np.pi, np.pi, (2, 4, 1, 40, 40)).astype(np.float32), ("x", "y"),
                        ke=0.1, metadata={"source_file": "noise_only.dcm"})
    with pytest.raises(CardioGenInputError, match="no LV blood pool") as err:
        detect_myocardium(dense)
    assert "noise_only.dcm" in str(err.value)
    with pytest.raises(CardioGenInputError, match="array or 'auto'"):
        dense_frame_masks(dense, "automatic")
    with pytest.raises(CardioGenInputError, match="slice index"):
        detect_myocardium(dense, slices=3)


def test_real_sample_wall_is_found_where_the_stored_roi_reads_noise():
    """The sample workspace's ROI lies outside the epicardium (its phase is noise); the detected wall is coherent,
    lies inside that ROI's outline, and gives physiological systolic strain."""
    from cardiogen.io import load, sample_data_dir
    from cardiogen.motion.dense import dense_strain
    from cardiogen.motion.strain import peak_values

    path = sample_data_dir() / "dense" / "template.dns"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    dense = load(path)
    auto = detect_myocardium(dense)
    frames = auto.reshape(auto.shape[0], -1).any(axis=1)
    assert frames.sum() >= 30  # all but the first frames, where the blood is not yet dephased
    stored = dense.segmentation.labels == dense.segmentation.value_of("LV myocardium")
    assert mask_phase_coherence(dense, auto) > 0.85
    assert mask_phase_coherence(dense, stored) < LOW_COHERENCE
    outline = ndimage.binary_fill_holes(dense.segmentation.labels[5, 0] > 0)
    assert np.count_nonzero(auto[5, 0] & outline) > 0.95 * np.count_nonzero(auto[5, 0])
    peaks = peak_values(dense_strain(dense, "auto"))
    assert -0.30 < peaks["circumferential"]["peak"] < -0.05 and peaks["radial"]["peak"] > 0.05
