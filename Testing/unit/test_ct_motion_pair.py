"""ES/ED CT pairs with exact flow over a seeded population (issue 21.1): the flow carries ES onto ED, the
population varies in anatomy, size, pose, position and contrast, and wrong inputs raise typed errors."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.errors import CardioGenInputError
from cardiogen.phantom import (InfarctSpec, PhantomConfig, ct_motion_pair, ct_motion_population,
                               ct_population_variation, make_case)
from cardiogen.phantom import anatomy as A

SMALL = PhantomConfig(ct_size=48, noise=False)


def _sample_nearest(volume: np.ndarray, flow_vox: np.ndarray) -> np.ndarray:
    """``volume`` at x + flow(x) (nearest voxel, border clamped): the backward warp of cardiogen.nets.warp."""
    zz, yy, xx = np.meshgrid(*(np.arange(n) for n in volume.shape), indexing="ij")
    coords = np.stack([zz + flow_vox[2], yy + flow_vox[1], xx + flow_vox[0]])
    return ndimage.map_coordinates(volume, coords, order=0, mode="nearest")


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


@pytest.fixture(scope="module")
def pair():
    return ct_motion_pair(7, config=SMALL)


def test_pair_shapes_units_and_phases(pair):
    n = SMALL.ct_size
    assert pair.es.shape == pair.ed.shape == (n, n, n) and pair.es.dtype == np.float32
    assert pair.flow_vox.shape == pair.flow_mm.shape == (3, n, n, n)
    assert pair.ed_time_ms == 0.0 and pair.es_time_ms == pytest.approx(pair.model.timing.es_ms)
    sp = np.asarray(pair.spacing_mm)
    np.testing.assert_allclose(pair.flow_mm, pair.flow_vox * sp[:, None, None, None], rtol=1e-5, atol=1e-5)
    lv_ed, lv_es = pair.lv_volumes_ml
    assert lv_es < 0.7 * lv_ed  # a real systole
    # counted LV blood volumes agree with the exact ones
    voxel_ml = float(np.prod(sp)) / 1000.0
    assert np.count_nonzero(pair.ed_labels == A.LV_BLOOD) * voxel_ml == pytest.approx(lv_ed, rel=0.05)
    assert np.count_nonzero(pair.es_labels == A.LV_BLOOD) * voxel_ml == pytest.approx(lv_es, rel=0.08)
    # the flow is zero off the heart and reaches the base descent (≈ 15 % of the LV length) on it
    assert not np.any(pair.flow_vox[:, ~pair.flow_mask])
    base_descent = (1.0 - pair.model.motion.lam_es) * pair.model.geometry.z_base
    assert 0.9 * base_descent < np.linalg.norm(pair.flow_mm, axis=0).max() < 0.4 * pair.model.geometry.z_base


def test_flow_warps_es_labels_onto_ed(pair):
    """Nearest-voxel warps at 48³ (≈ 3 mm voxels): Dice limited by the sampling of a 3-voxel wall only."""
    warped = _sample_nearest(pair.es_labels, pair.flow_vox)
    for label, floor in ((A.LV_BLOOD, 0.94), (A.LV_MYO, 0.8), (A.RV_BLOOD, 0.92), (A.RV_MYO, 0.65)):
        d = _dice(warped == label, pair.ed_labels == label)
        before = _dice(pair.es_labels == label, pair.ed_labels == label)
        assert d > floor, f"label {label}: Dice {d:.3f}"
        assert d > before + 0.3  # the flow explains the difference
    # the inverse flow carries ED onto ES where the heart is at ES (off it the static body shows, flow 0)
    back = np.where(pair.inverse_flow_mask, _sample_nearest(pair.ed_labels, pair.inverse_flow_vox), 0)
    for label, floor in ((A.LV_BLOOD, 0.9), (A.LV_MYO, 0.8), (A.RV_BLOOD, 0.88), (A.RV_MYO, 0.65)):
        d = _dice(back == label, pair.es_labels == label)
        assert d > floor, f"inverse, label {label}: Dice {d:.3f}"


def test_flow_warps_the_es_image_onto_ed(pair):
    """Noise-free: inside the heart (away from its border) warp(ES, flow) reproduces the ED HU closely."""
    warped = ndimage.map_coordinates(pair.es, np.stack(np.meshgrid(*(np.arange(n) for n in pair.es.shape),
                                                                   indexing="ij"))
                                     + pair.flow_vox[::-1], order=1, mode="nearest")
    core = ndimage.binary_erosion(np.isin(pair.ed_labels, (A.LV_BLOOD, A.RV_BLOOD)), iterations=2)
    err_warped = np.abs(warped - pair.ed)[core].mean()
    err_none = np.abs(pair.es - pair.ed)[core].mean()
    assert err_warped < 10.0 and err_warped < 0.25 * err_none


def test_synthetic_ed_lv_measures_flows_on_the_exact_anatomy(pair):
    """No motion and a whole-voxel shift leave the wall and pool as they are; the true flow gives the exact EF within
    a few points and a wall change that is the grid's floor (the phantom's wall is incompressible): it falls as the
    grid is refined."""
    zero = np.zeros_like(pair.flow_vox)
    shift = zero.copy()
    shift[0] = 2.0
    np.testing.assert_allclose(pair.synthetic_ed_lv(np.stack([zero, shift])), 0.0, atol=1e-12)
    wall, ef = pair.synthetic_ed_lv(pair.flow_vox)[0]
    edv, esv = pair.lv_volumes_ml
    assert abs(ef - 100.0 * (edv - esv) / edv) < 4.0
    coarse = ct_motion_pair(7, config=PhantomConfig(ct_size=32, noise=False))
    wall_coarse = coarse.synthetic_ed_lv(coarse.flow_vox)[0, 0]
    assert 0.0 < wall < 0.8 * wall_coarse, (wall, wall_coarse)
    with pytest.raises(CardioGenInputError, match="flows must be"):
        pair.synthetic_ed_lv(zero[:, :-1])


def test_population_varies_in_anatomy_size_pose_position_and_contrast():
    pairs = ct_motion_population(range(5), config=PhantomConfig(ct_size=32, noise=False))
    lv = np.array([p.lv_volumes_ml[0] for p in pairs])
    assert lv.std() / lv.mean() > 0.05  # size / anatomy
    assert len({round(p.model.geometry.sphericity, 3) for p in pairs}) == 5
    var = [p.variation for p in pairs]
    assert np.ptp([v.azimuth_deg for v in var]) > 5 and np.ptp([v.elevation_deg for v in var]) > 5  # pose
    centroids = np.array([ndimage.center_of_mass(p.ed_labels == A.LV_BLOOD) for p in pairs])
    assert np.ptp(centroids, axis=0).max() > 1.5  # the heart sits in different places of the image (voxels)
    lv_hu = np.array([np.median(p.ed[p.ed_labels == A.LV_BLOOD]) for p in pairs])
    rv_hu = np.array([np.median(p.ed[p.ed_labels == A.RV_BLOOD]) for p in pairs])
    assert np.ptp(lv_hu - rv_hu) > 40.0  # contrast timing
    for p, v in zip(pairs, var):  # the rendered HU follow the drawn contrast timing
        table = A.ct_hu_table(v.contrast_phase)
        assert np.median(p.ed[ndimage.binary_erosion(p.ed_labels == A.LV_BLOOD, iterations=2)]) == \
            pytest.approx(table[A.LV_BLOOD], abs=5.0)
    # deterministic per seed
    again = ct_motion_pair(3, config=PhantomConfig(ct_size=32, noise=False))
    np.testing.assert_array_equal(again.ed, pairs[3].ed)
    np.testing.assert_array_equal(again.flow_vox, pairs[3].flow_vox)
    assert ct_population_variation(3) == pairs[3].variation


def test_no_variation_matches_make_case_geometry_and_labels():
    cfg = PhantomConfig(seed=2, ct_size=32, ct_frames=1, noise=False, modalities=("ct",))
    case = make_case(cfg)
    pair = ct_motion_pair(2, config=cfg, vary=False)
    np.testing.assert_array_equal(pair.ed_labels, case.truth.ct_masks.labels[0])
    np.testing.assert_allclose(pair.ed, case.ct.array[0], atol=1e-4)  # default contrast = CT_HU


def test_regional_motion_pair_uses_the_smallest_lv_volume():
    cfg = PhantomConfig(ct_size=32, noise=False, dyssynchrony=0.8,
                        infarct=InfarctSpec(center_deg=90.0, width_deg=80.0, severity=0.8))
    p = ct_motion_pair(1, config=cfg)
    model = p.model
    grid = np.linspace(0.5 * model.timing.es_ms, model.timing.es_ms + 150.0, 60)
    assert model.lv_blood_volume_ml(p.es_time_ms) <= min(model.lv_blood_volume_ml(t) for t in grid) + 1e-6


@pytest.mark.parametrize("kwargs", [dict(seed=-1), dict(seed=1.5), dict(seed=0, config="ct"),
                                    dict(seed=0, demographics={"age": 50})])
def test_wrong_inputs_raise_typed_errors(kwargs):
    with pytest.raises(CardioGenInputError):
        ct_motion_pair(**kwargs)


def test_contrast_table_default_and_range():
    np.testing.assert_array_equal(A.ct_hu_table(), A.CT_HU)
    early, late = A.ct_hu_table(0.35), A.ct_hu_table(1.0)
    assert early[A.RV_BLOOD] > early[A.LV_BLOOD] and late[A.LV_BLOOD] > late[A.RV_BLOOD]
    with pytest.raises(CardioGenInputError):
        A.ct_hu_table(1.5)
