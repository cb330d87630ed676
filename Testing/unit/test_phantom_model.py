"""The analytic heart model of cardiogen.phantom: inverse/forward consistency, incompressibility, exact volumes,
time course, twist and regional timing, and the bounds the renderers rely on."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.phantom import (CardiacTiming, Demographics, HeartModel, InfarctSpec, PhantomConfig, aha_segments,
                               es_time_ms, heart_to_lps, make_case, solve_heart)
from cardiogen.phantom import anatomy as A


@pytest.fixture(scope="module")
def shape_and_motion():
    return solve_heart(lvedv_ml=150, lvesv_ml=62, lv_mass_g=115, rvedv_ml=175, rvesv_ml=72, sphericity=0.56)


def _model(shape_and_motion, **kw) -> HeartModel:
    geometry, motion = shape_and_motion
    return HeartModel(geometry, motion, CardiacTiming(64.0, es_time_ms(64.0)), **kw)


VARIANTS = [{}, {"infarct": InfarctSpec(90.0, 70.0, 0.8)}, {"dyssynchrony": 1.0}, {"motion_scale": 1.5}]


@pytest.mark.parametrize("kw", VARIANTS)
def test_inverse_undoes_forward(shape_and_motion, kw):
    model = _model(shape_and_motion, **kw)
    rng = np.random.default_rng(0)
    x = rng.uniform([-90, -90, -10], [60, 60, 140], (20000, 3))
    ed_labels = model.tissue(x)
    for t in (0.0, 120.0, model.timing.es_ms, 650.0):
        moved = model.forward(x, t)
        back, labels = model.inverse(moved, t)
        np.testing.assert_allclose(back, x, atol=1e-8)
        heart = (ed_labels >= 1) & (ed_labels <= 4)
        assert np.array_equal(labels[heart], ed_labels[heart])  # tissue travels with the material


@pytest.mark.parametrize("kw", VARIANTS)
def test_wall_is_incompressible(shape_and_motion, kw):
    model = _model(shape_and_motion, **kw)
    rng = np.random.default_rng(1)
    x = rng.uniform([-40, -40, 0], [40, 40, 110], (60000, 3))
    myo = x[model.tissue(x) == A.LV_MYO][:3000]
    det = np.linalg.det(model.deformation_gradient(myo, model.timing.es_ms))
    np.testing.assert_allclose(det, 1.0, atol=1e-6)
    assert model.lv_blood_volume_ml(model.timing.es_ms) < model.lv_blood_volume_ml(0.0)


def test_exact_volumes_match_monte_carlo(shape_and_motion):
    model = _model(shape_and_motion, infarct=InfarctSpec(200.0, 90.0, 0.6))
    rng = np.random.default_rng(2)
    lo, hi = np.array([-110.0, -90.0, -5.0]), np.array([60.0, 90.0, 125.0])
    x = rng.uniform(lo, hi, (1_500_000, 3))
    box_ml = np.prod(hi - lo) / 1000.0
    t = model.timing.es_ms
    labels = model.inverse(x, t)[1]
    frac = np.bincount(labels, minlength=5)[:4] / len(x)
    sigma = np.sqrt(frac * (1 - frac) / len(x)) * box_ml
    assert abs(frac[1] * box_ml - model.lv_blood_volume_ml(t)) < 4 * sigma[1]
    assert abs(frac[2] * box_ml - model.lv_myocardium_volume_ml()) < 4 * sigma[2]
    assert abs(frac[3] * box_ml - model.rv_blood_volume_ml(t)) < 4 * sigma[3]


def test_solved_heart_reproduces_phenotypes(shape_and_motion):
    model = _model(shape_and_motion)
    es = model.timing.es_ms
    assert model.lv_blood_volume_ml(0) == pytest.approx(150, rel=1e-9)
    assert model.lv_blood_volume_ml(es) == pytest.approx(62, rel=1e-9)
    assert model.lv_myocardium_volume_ml() * 1.05 == pytest.approx(115, rel=1e-9)
    assert model.rv_blood_volume_ml(0) == pytest.approx(175, rel=1e-6)
    assert model.rv_blood_volume_ml(es) == pytest.approx(72, rel=1e-6)
    assert model.geometry.sphericity == pytest.approx(0.56)
    descent = model.geometry.z_base - model.forward(np.array([[0.0, 0.0, model.geometry.z_base]]), es)[0, 2]
    assert 12.0 <= descent <= 19.0  # base descent (PHYSIOLOGY §2)
    apex = model.forward(np.array([[0.0, 0.0, 0.0]]), es)[0]
    np.testing.assert_allclose(apex, 0.0, atol=1e-9)  # the apex stays put
    geometry = model.geometry
    assert 4.0 < geometry.a_epi - geometry.a_endo < 12.0  # basal wall thickness (mm)


def test_time_course():
    for hr, frac in ((60.0, 0.41), (75.0, 0.47)):
        timing = CardiacTiming(hr, es_time_ms(hr, "M"))
        assert timing.es_ms / timing.rr_ms == pytest.approx(frac, abs=0.01)
        t = np.linspace(0, timing.rr_ms, 2001)
        s = timing.contraction(t)
        assert s[0] == 0.0 and s[-1] == pytest.approx(0.0, abs=1e-12)
        assert timing.contraction(timing.es_ms) == pytest.approx(1.0)
        assert s.min() >= 0.0 and s.max() <= 1.0 + 1e-12
        assert np.abs(np.diff(s)).max() < 0.01  # smooth, no jumps
        assert np.all(np.diff(s[t <= timing.es_ms]) >= 0)  # systole contracts monotonically


def test_twist_and_dyssynchrony(shape_and_motion):
    model = _model(shape_and_motion)
    es = model.timing.es_ms
    zb = model.geometry.z_base
    pts = np.array([[30.0, 0.0, 8.0], [38.0, 0.0, zb - 2.0]])  # lateral wall near the apex and near the base
    moved = model.forward(pts, es)
    angles = np.degrees(np.arctan2(moved[:, 1], moved[:, 0]))
    assert 4.0 < angles[0] < 11.0  # apex rotates anticlockwise seen from the apex (+θ)
    assert -4.0 < angles[1] < -1.0  # base clockwise
    late = _model(shape_and_motion, dyssynchrony=1.0)
    lateral, septal = np.array([1.0]), np.array([-1.0])
    t = 100.0
    s_lat = late.local_contraction(lateral, np.zeros(1), t)[0]
    s_sep = late.local_contraction(septal, np.zeros(1), t)[0]
    assert s_lat < 0.5 * s_sep  # the lateral wall starts late (LBBB-like)
    assert late.local_contraction(lateral, np.zeros(1), 0.0)[0] == 0.0  # everything at rest at ED


def test_candidate_region_contains_all_heart_tissue(shape_and_motion):
    for kw in VARIANTS:
        model = _model(shape_and_motion, **kw)
        rng = np.random.default_rng(3)
        x = rng.uniform([-130, -130, -20], [130, 130, 160], (400000, 3)).astype(np.float32)
        outside = ~model.may_be_heart(x[:, 0], x[:, 1], x[:, 2])
        for t in np.linspace(0, model.timing.rr_ms, 9)[:-1]:
            labels = model.inverse_components(x[:, 0], x[:, 1], x[:, 2], t).labels
            assert not np.any(labels[outside] > 0)


def test_heart_orientation_and_aha(shape_and_motion):
    rot = heart_to_lps()
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-12)
    u, v, w = rot.T
    assert u[0] > 0.5  # lateral faces the patient's left
    assert v[1] < 0  # anterior faces anterior (-y in LPS)
    assert w[0] < 0 and w[1] > 0 and w[2] > 0  # apex -> base points right, posterior, superior
    geometry = shape_and_motion[0]
    z_mid = geometry.z_endo_apex + 0.5 * geometry.c_endo
    pts = [[0.0, 30.0, z_mid], [-30.0, 0.0, z_mid], [0.0, -30.0, z_mid], [30.0, 0.0, geometry.z_base - 1.0],
           [0.0, 30.0, geometry.z_endo_apex + 5.0], [0.0, 0.0, 1.0]]
    assert aha_segments(np.array(pts), geometry).tolist() == [7, 9, 10, 6, 13, 17]


def test_size_range_smoke():
    demo = Demographics()
    big = make_case(PhantomConfig(seed=0, size=128, frames=10, slices=4, modalities=("cine", "ct"), ct_size=96,
                                  ct_frames=1, noise=False), demo)
    assert big.cine.shape == (10, 4, 128, 128) and big.ct.shape == (1, 96, 96, 96)
    small = make_case(PhantomConfig(seed=0, size=32, frames=50, slices=2, modalities=("tagging",), noise=False), demo)
    assert small.tagging.shape == (50, 2, 32, 32)
    assert np.isfinite(small.tagging.array).all() and small.tagging.array.max() > 0
