"""DENSE phase -> displacement: spatial / temporal unwrapping, offsets, Eulerian -> Lagrangian, real swine sample."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.data import STANDARD_LABELS, DenseSeries, Geometry, ImageSeries, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.motion import (dense_displacement, dense_frame_masks, dense_strain, dense_to_lagrangian,
                              peak_values, unwrap_spatial, unwrap_temporal)

TWO_PI = 2 * np.pi


def _wrap(a):
    return (a + np.pi) % TWO_PI - np.pi


def _annulus(shape, centre, r_in, r_out):
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    r = np.hypot(xx - centre[0], yy - centre[1])
    return (r >= r_in) & (r <= r_out)


def _assert_exact_up_to_2pi_k(unwrapped, truth, mask, atol=1e-9):
    diff = (unwrapped - truth)[mask]
    k = diff.mean() / TWO_PI
    assert abs(k - round(k)) < 1e-6
    assert np.abs(diff - diff.mean()).max() < atol


# ----------------------------------------------------------------------------------------------------------------
# Spatial and temporal unwrapping
# ----------------------------------------------------------------------------------------------------------------
def test_unwrap_linear_ramp_in_annulus():
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    truth = 0.9 * xx - 0.5 * yy  # ~37 rad across: many wraps
    mask = _annulus((64, 64), (31.5, 31.5), 12, 28)
    out = unwrap_spatial(_wrap(truth), mask)
    _assert_exact_up_to_2pi_k(out, truth, mask)
    assert np.all(out[~mask] == 0)


def test_unwrap_quadratic_bowl_in_annulus_and_3d_stack():
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    r2 = (xx - 30.0) ** 2 + (yy - 33.0) ** 2
    truth = 0.045 * r2  # up to ~2.6 rad per pixel at the edge, ~40 rad deep
    mask = _annulus((64, 64), (31.5, 31.5), 8, 29)
    _assert_exact_up_to_2pi_k(unwrap_spatial(_wrap(truth), mask), truth, mask)
    stack = np.stack([truth, -truth + 3.0])
    out = unwrap_spatial(_wrap(stack), np.stack([mask, mask]))
    for k in range(2):
        _assert_exact_up_to_2pi_k(out[k], stack[k], mask)


def test_unwrap_disconnected_regions_each_exact():
    yy, xx = np.mgrid[0:40, 0:80].astype(float)
    truth = 0.7 * xx + 0.2 * yy
    mask = np.zeros((40, 80), bool)
    mask[5:35, 5:35] = True
    mask[5:35, 45:75] = True
    out = unwrap_spatial(_wrap(truth), mask)
    for region in (mask & (xx < 40), mask & (xx >= 40)):
        _assert_exact_up_to_2pi_k(out, truth, region)


def test_quality_guided_unwrapping_survives_noise_and_bad_pixels():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    mask = _annulus((64, 64), (31.5, 31.5), 12, 28)
    for _ in range(3):
        truth = 0.036 * ((xx - 30) ** 2 + (yy - 33) ** 2) + rng.normal(0, 0.35, xx.shape)
        bad = mask & (rng.random(xx.shape) < 0.05)  # 5 % of pixels with pure-noise phase (blood, partial volume)
        phase = _wrap(truth)
        phase[bad] = rng.uniform(-np.pi, np.pi, bad.sum())
        k = np.round((unwrap_spatial(phase, mask) - truth)[mask & ~bad] / TWO_PI).astype(int)
        assert np.mean(k != np.bincount(k - k.min()).argmax() + k.min()) < 0.03  # an unguided fill gets ~30 %


def test_temporal_unwrapping_recovers_a_series_that_wraps_over_frames():
    n_t = 16
    yy, xx = np.mgrid[0:40, 0:40].astype(float)
    mask = _annulus((40, 40), (19.5, 19.5), 6, 16)
    truth = np.stack([0.7 * t + 0.05 * t * (xx - 20) for t in range(n_t)])  # 10 rad by the last frame
    wrapped = _wrap(truth)
    spatial = np.stack([unwrap_spatial(w, mask) for w in wrapped])
    out = unwrap_temporal(spatial, mask, reference_frame=0)
    assert np.allclose(out[:, mask], truth[:, mask], atol=1e-9)
    # per-pixel temporal unwrapping alone (no spatial step) also works for slow changes
    per_pixel = unwrap_temporal(wrapped, mask, reference_frame=0)
    assert np.allclose(per_pixel[:, mask], truth[:, mask], atol=1e-9)
    # the reference frame itself spans more than 2π: its median (not its seed pixel) fixes the global 2πk
    steep = np.stack([0.7 * t + 0.35 * (yy - 19.5) * (1 + 0.02 * t) for t in range(n_t)])
    out_steep = unwrap_temporal(np.stack([unwrap_spatial(w, mask) for w in _wrap(steep)]), mask)
    assert np.allclose(out_steep[:, mask], steep[:, mask], atol=1e-9)
    # reference in the middle: frames before it are unwrapped backwards
    shifted = truth - truth[5]
    out5 = unwrap_temporal(np.stack([unwrap_spatial(w, mask) for w in _wrap(shifted)]), mask, reference_frame=5)
    assert np.allclose(out5[:, mask], shifted[:, mask], atol=1e-9)


# ----------------------------------------------------------------------------------------------------------------
# Synthetic DENSE: radial contraction plus translation, Eulerian sampling
# ----------------------------------------------------------------------------------------------------------------
KE = 0.5  # cycles/mm: wrap length 2 mm
SIZE = 112
CENTRE = np.array([55.0, 57.0])  # (x, y) pixel
R_IN, R_OUT = 10.0, 20.0
S_MAX = 0.15  # contraction: |u| up to ~3 mm = 1.5 wrap lengths


def _motion(n_t):
    s = S_MAX * np.sin(np.linspace(0, np.pi, n_t))  # < half a wrap length of motion between frames
    shift = np.stack([0.6 * s / S_MAX, -0.4 * s / S_MAX], 1)  # translation (x, y) mm
    return s, shift


def _synthetic_dense(n_t=13, direction=np.eye(3), offset=None, with_segmentation=True, annotated_every=1,
                     static_ring=True, rng_seed=0):
    """Material point X -> x = c + shift + (1 - s)(X - c); returns DENSE + Eulerian truth (t, 2, y, x) mm."""
    rng = np.random.default_rng(rng_seed)
    s, shift = _motion(n_t)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    mag = np.zeros((n_t, 1, SIZE, SIZE), np.float32)
    phase = np.zeros((2, n_t, 1, SIZE, SIZE))
    truth = np.zeros((n_t, 2, SIZE, SIZE))
    labels = np.zeros((n_t, 1, SIZE, SIZE), np.uint8)
    r_static = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
    static = static_ring & (r_static >= 48) & (r_static <= 55)
    for t in range(n_t):
        cx, cy = CENTRE + shift[t]
        rel_x, rel_y = xx - cx, yy - cy
        r = np.hypot(rel_x, rel_y)
        # Eulerian: u(x) = x - X with X = c + (x - c - shift) / (1 - s)
        ux = (xx - CENTRE[0]) - rel_x / (1 - s[t])
        uy = (yy - CENTRE[1]) - rel_y / (1 - s[t])
        truth[t] = ux, uy
        myo = (r >= (1 - s[t]) * R_IN) & (r <= (1 - s[t]) * R_OUT)
        blood = r < (1 - s[t]) * R_IN
        labels[t, 0][myo] = 2
        labels[t, 0][blood] = 1
        mag[t, 0] = np.where(myo, 1000.0, np.where(static, 800.0, np.where(blood, 100.0, 5.0)))
        for e, u in enumerate((ux, uy)):
            ph = TWO_PI * KE * u
            ph = np.where(myo, ph, np.where(static, 0.0, rng.uniform(-np.pi, np.pi, ph.shape)))
            if offset is not None:
                ph = ph + offset(xx, yy, t, e)
            phase[e, t, 0] = _wrap(ph)
    geom = Geometry(spacing=(1.0, 1.0, 8.0), origin=(10.0, -20.0, 5.0), direction=direction)
    magnitude = ImageSeries(mag, geometry=geom, frame_times=np.arange(n_t) * 30.0, modality="dense_mag")
    seg = None
    if with_segmentation:
        annotated = np.zeros((n_t, 1), bool)
        annotated[::annotated_every] = True
        lab = np.where(annotated[:, :, None, None], labels, 0)
        seg = Segmentation(lab, label_table={1: STANDARD_LABELS[1], 2: STANDARD_LABELS[2]}, geometry=geom,
                           frame_times=magnitude.frame_times, annotated=annotated)
    dense = DenseSeries(magnitude=magnitude, phase=phase.astype(np.float32), encodings=("x", "y"), ke=KE,
                        segmentation=seg)
    return dense, truth, labels[:, 0] == 2, s


def _index_components(disp, direction):
    """World (t, 3, 1, y, x) -> index-axis components (t, 3, y, x)."""
    return np.einsum("ji,tjyx->tiyx", direction, disp.array[:, :, 0])


def test_dense_displacement_recovers_radial_contraction():
    dense, truth, myo, _ = _synthetic_dense()
    disp, masks = dense_displacement(dense, return_frame_masks=True)
    # the tracked wall: inside the true wall, and all of it but an edge pixel here and there
    assert not np.any(masks[:, 0] & ~myo)
    assert masks[:, 0].sum() >= 0.99 * myo.sum() and np.array_equal(masks[0, 0], myo[0])
    assert disp.provenance["sampling"].startswith("eulerian")
    assert disp.provenance["frame_sources"] == ["contour"] * 13
    assert np.array_equal(disp.mask[0], masks[:, 0].any(axis=0))
    u = _index_components(disp, np.eye(3))
    assert np.abs(truth).max() > 1.4 / KE  # the test really wraps (> 1.4 wrap lengths)
    for t in range(truth.shape[0]):
        m = masks[t, 0]
        err = np.abs(u[t, :2][:, m] - truth[t][:, m]).max()
        assert err < 0.05, (t, err)
    assert np.all(u[:, 2] == 0)  # no z encoding
    assert np.all(disp.array[:, :, 0][:, :, ~disp.mask[0]] == 0)


def test_dense_displacement_uses_the_grid_direction():
    direction = np.array([[0.0, -1.0, 0.0], [0.6, 0.0, 0.8], [-0.8, 0.0, 0.6]])
    dense, truth, _, _ = _synthetic_dense(direction=direction)
    disp, masks = dense_displacement(dense, return_frame_masks=True)
    myo = masks[:, 0]
    u = _index_components(disp, direction)
    t = 3
    assert np.abs(u[t, :2][:, myo[t]] - truth[t][:, myo[t]]).max() < 0.05
    world_x = disp.array[t, :, 0][:, myo[t]]
    expected = direction[:, 0:1] * truth[t, 0][myo[t]] + direction[:, 1:2] * truth[t, 1][myo[t]]
    assert np.abs(world_x - expected).max() < 0.05


def test_offset_correction_removes_a_planar_background_phase():
    def offset(xx, yy, t, e):
        return 0.4 + 0.01 * (xx - 50) * (1 + 0.1 * t) - 0.012 * (yy - 60) + 0.3 * e

    dense, truth, true_myo, _ = _synthetic_dense(offset=offset)
    t = 4
    myo = true_myo & dense_displacement(dense, return_frame_masks=True)[1][:, 0]  # measured pixels of the wall
    assert myo[t].sum() >= 0.95 * true_myo[t].sum()
    good = _index_components(dense_displacement(dense), np.eye(3))
    assert np.abs(good[t, :2][:, myo[t]] - truth[t][:, myo[t]]).max() < 0.05
    const = _index_components(dense_displacement(dense, offset_correction="constant"), np.eye(3))
    const_err = np.abs(const[t, :2][:, myo[t]] - truth[t][:, myo[t]]).max()
    off = _index_components(dense_displacement(dense, offset_correction=False), np.eye(3))
    off_err = np.abs(off[t, :2][:, myo[t]] - truth[t][:, myo[t]]).max()
    assert off_err > 0.1 and const_err > 0.05  # the correction is what makes the difference
    # no static tissue at all: the correction is skipped (and says so) instead of inventing an offset
    bare, truth2, _, _ = _synthetic_dense(static_ring=False)
    disp, masks2 = dense_displacement(bare, return_frame_masks=True)
    myo2 = masks2[:, 0]
    assert disp.provenance["offset_uncorrected_frames"] == list(range(13))
    u = _index_components(disp, np.eye(3))
    assert np.abs(u[2, :2][:, myo2[2]] - truth2[2][:, myo2[2]]).max() < 0.05


def test_lagrangian_conversion_and_strain_of_the_contraction():
    dense, _, myo, s = _synthetic_dense()
    eul, masks = dense_displacement(dense, return_frame_masks=True)
    lag = dense_to_lagrangian(eul, masks)
    assert lag.provenance["sampling"].startswith("lagrangian")
    ref = myo[0]
    assert np.array_equal(lag.mask[0], ref)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(float)
    _, shift = _motion(len(s))
    inner = ndimage.binary_erosion(ref, iterations=2)
    for t in range(len(s)):
        ux = shift[t, 0] - s[t] * (xx - CENTRE[0])  # Lagrangian truth: x - X for X on the reference grid
        uy = shift[t, 1] - s[t] * (yy - CENTRE[1])
        err = max(np.abs(lag.array[t, 0, 0][inner] - ux[inner]).max(),
                  np.abs(lag.array[t, 1, 0][inner] - uy[inner]).max())
        assert err < 0.05, (t, err)
    strain = dense_strain(dense)
    t_peak = int(np.argmax(s))
    expected = ((1 - s[t_peak]) ** 2 - 1) / 2
    assert set(strain.components) == {"radial", "circumferential"}
    assert strain.segment_curves["global_circumferential"][t_peak] == pytest.approx(expected, abs=0.01)
    assert strain.segment_curves["global_radial"][t_peak] == pytest.approx(expected, abs=0.01)
    assert peak_values(strain)["circumferential"]["frame"] == t_peak


def test_masks_from_the_nearest_annotated_frame_and_mask_argument():
    dense, truth, myo, _ = _synthetic_dense(n_t=13, annotated_every=3)  # contours on frames 0, 3, 6, 9, 12
    masks = dense_frame_masks(dense)
    for t, src in enumerate([0, 0, 3, 3, 3, 6, 6, 6, 9, 9, 9, 12, 12]):
        assert np.array_equal(masks[t, 0], myo[src])
    static = dense_frame_masks(dense, mask=myo[0])
    assert static.shape == (13, 1, SIZE, SIZE) and np.array_equal(static[4, 0], myo[0])
    one_frame = dense_frame_masks(dense, mask=myo[0][None, None])  # a (1, z, y, x) segmentation file: static
    assert np.array_equal(one_frame, static)
    disp, measured = dense_displacement(dense, mask=myo[:, None], return_frame_masks=True)
    u = _index_components(disp, np.eye(3))
    m4 = measured[4, 0]
    assert m4.sum() >= 0.95 * myo[4].sum()
    assert np.abs(u[4, :2][:, m4] - truth[4][:, m4]).max() < 0.05
    with pytest.raises(CardioGenInputError):
        dense_frame_masks(dense, mask=np.ones((5, 5), bool))
    with pytest.raises(CardioGenInputError, match="on the DENSE grid"):
        dense_frame_masks(dense, mask=np.ones((2, 1, SIZE, SIZE), bool))  # two frames of thirteen


def test_per_frame_mask_with_unoutlined_frames_is_propagated_ended_or_nearest_on_request():
    """A (t, z, y, x) mask drawn on some frames only (like the sample workspace's contours, frames 0-25 of 35): by
    default the wall is propagated by the measured motion (never a stale mask reused silently), with
    ``unannotated="end"`` those frames are not measured, and ``"nearest"`` (the earlier path) reuses the last one."""
    dense, truth, myo, _ = _synthetic_dense(n_t=13, annotated_every=3)
    partial = np.zeros((13, 1, SIZE, SIZE), bool)
    partial[:9, 0] = myo[:9]  # frames 9-12 not outlined
    disp, masks = dense_displacement(dense, mask=partial, return_frame_masks=True)
    assert disp.provenance["frame_sources"] == ["contour"] * 9 + ["propagated"] * 4
    assert disp.provenance["measured_frames"] == list(range(13))
    u = _index_components(disp, np.eye(3))
    for t in range(9, 13):
        m = masks[t, 0]
        dice = 2 * (m & myo[t]).sum() / (m.sum() + myo[t].sum())
        assert dice > 0.95, (t, dice)  # the propagated wall is where the wall is now
        assert np.abs(u[t, :2][:, m] - truth[t][:, m]).max() < 0.05
    assert np.abs(truth[11][:, myo[11]]).max() > 0.5  # measured, not zero
    ended, ended_masks = dense_displacement(dense, mask=partial, unannotated="end", return_frame_masks=True)
    assert ended.provenance["measured_frames"] == list(range(9))
    assert not ended_masks[9:].any() and np.all(ended.array[9:] == 0)
    strain = dense_strain(dense, partial, displacement_options={"unannotated": "end"})
    assert np.all(np.isnan(strain.segment_curves["global_circumferential"][9:]))
    assert np.all(np.isfinite(strain.segment_curves["global_circumferential"][:9]))
    old = dense_frame_masks(dense, mask=partial)
    for t in range(9, 13):
        assert np.array_equal(old[t, 0], myo[8])
    _, near = dense_displacement(dense, mask=partial, unannotated="nearest", return_frame_masks=True)
    assert np.array_equal(near[12, 0], myo[8])
    with pytest.raises(CardioGenInputError, match="unannotated"):
        dense_displacement(dense, unannotated="reuse")


def test_missing_mask_or_ke_is_a_clear_input_error():
    dense, _, _, _ = _synthetic_dense(n_t=3, with_segmentation=False)
    with pytest.raises(CardioGenInputError, match="DENSE displacement needs a myocardial mask"):
        dense_displacement(dense)
    with pytest.raises(CardioGenInputError, match="myocardial mask"):
        dense_displacement(dense, mask=np.zeros((SIZE, SIZE), bool))
    with_seg, _, _, _ = _synthetic_dense(n_t=3)
    with_seg.ke = None
    with pytest.raises(CardioGenInputError, match="ke"):
        dense_displacement(with_seg)
    with_seg.ke = (0.5, -1.0)
    with pytest.raises(CardioGenInputError, match="ke"):
        dense_displacement(with_seg)
    with pytest.raises(CardioGenInputError):
        dense_displacement("not dense")


# ----------------------------------------------------------------------------------------------------------------
# Real swine DENSE sample (shared/data/dense/template.dns)
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_swine_dense_strain(shared_data):
    path = shared_data / "dense" / "template.dns"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    from cardiogen.io import load

    dense = load(path)
    assert isinstance(dense, DenseSeries) and dense.segmentation is not None
    # The file's own contours: the whole pipeline runs and gives finite values (no assertion on the values: see
    # _image_based_myocardium for why they are not meaningful on this sample).
    contour_strain = dense_strain(dense)
    assert all(np.all(np.isfinite(c)) for c in contour_strain.components.values())
    # The stored ROI misses this acquisition's wall (its endocardial line follows the epicardium): refine the
    # myocardium from the images inside the endocardial contour.
    from cardiogen.motion.dense import refine_myocardium_mask

    strain = dense_strain(dense, refine_myocardium_mask(dense, region_labels=(1,)))
    peaks = peak_values(strain)
    print("real swine DENSE peaks (image-based mask):", peaks)
    print("with the file's contours:", peak_values(contour_strain))
    assert set(peaks) == {"radial", "circumferential"}
    assert -0.30 < peaks["circumferential"]["peak"] < -0.05
    assert peaks["radial"]["peak"] > 0.05
    # shortening and thickening develop through systole: end-systole later than 100 ms
    assert peaks["circumferential"]["time_ms"] > 100
