"""The phantom against its own analytic truth (cardiogen.phantom): volumes, strain, DENSE phase, ECG timing,
phenotype regressions, determinism and input checks. Each test compares two independently computed things, so a
wrong mapping, sign or convention makes it fail."""
from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.errors import CardioGenInputError
from cardiogen.phantom import (Demographics, InfarctSpec, PhantomConfig, make_case, phenotypes_from_demographics)

REFERENCE_MAN = Demographics(age=50, sex="M", height_cm=176, weight_kg=84, sbp=135, dbp=82)


def _ecg_available() -> bool:
    try:
        importlib.import_module("cardiogen.phantom.ecg")
    except ImportError:
        return False
    return True


@pytest.fixture(scope="module")
def default_case():
    """The healthy default case in every modality (64 x 64 x 10 slices x 20 frames, CT 64³ x 10)."""
    return make_case(PhantomConfig(seed=0, residual_variation=False), REFERENCE_MAN)


@pytest.fixture(scope="module")
def fine_case():
    """Masks only, on a fine grid (1.3 mm pixels, 40 slices of ~2.7 mm) for volume checks."""
    cfg = PhantomConfig(seed=1, size=96, pixel_mm=1.3, slices=40, frames=5, modalities=(), residual_variation=False)
    return make_case(cfg, REFERENCE_MAN)


# ---- volumes -------------------------------------------------------------------------------------------------
def test_mask_volumes_match_analytic_volumes(fine_case):
    truth = fine_case.truth
    voxel_ml = truth.masks.geometry.voxel_volume_ml()
    labels = truth.masks.labels
    es = truth.es_frame
    assert es not in (0, labels.shape[0] - 1)
    assert truth.phenotypes_measured["grid_covers_heart"]
    curves = truth.volume_curves
    checks = [
        (0, 1, curves["lv_blood_ml"][0]), (es, 1, curves["lv_blood_ml"][es]),
        (0, 2, curves["lv_myocardium_ml"][0]), (es, 2, curves["lv_myocardium_ml"][es]),
        (0, 3, curves["rv_blood_ml"][0]), (es, 3, curves["rv_blood_ml"][es]),
    ]
    for frame, label, analytic in checks:
        counted = np.count_nonzero(labels[frame] == label) * voxel_ml
        assert counted == pytest.approx(analytic, rel=0.03), (frame, label)
    # the analytic volumes are the phenotypes the heart was built from
    target = fine_case.phenotypes
    assert curves["lv_blood_ml"][0] == pytest.approx(target.lvedv_ml, rel=1e-6)
    assert curves["rv_blood_ml"][0] == pytest.approx(target.rvedv_ml, rel=1e-5)
    assert curves["lv_myocardium_ml"][0] * 1.05 == pytest.approx(target.lv_mass_g, rel=1e-6)


def test_ef_measured_from_masks_matches_target(fine_case, default_case):
    measured = fine_case.truth.phenotypes_measured["lvef_pct"]
    assert measured == pytest.approx(fine_case.phenotypes.lvef_pct, abs=2.5)
    assert measured == pytest.approx(fine_case.truth.phenotypes_model.lvef_pct, abs=1.5)
    # the default grid (10 mm slices) is biased by how the base plane cuts the slices, but stays close
    assert default_case.truth.phenotypes_measured["lvef_pct"] == pytest.approx(default_case.phenotypes.lvef_pct,
                                                                               abs=7.0)


# ---- strain against the displacement -------------------------------------------------------------------------
def _green_lagrange_from_displacement(disp: np.ndarray, geometry) -> np.ndarray:
    """E ``(z, y, x, 3, 3)`` (LPS) from a displacement frame ``(3, z, y, x)`` by central differences."""
    sx, sy, sz = geometry.spacing
    grads = [np.gradient(disp[c], sz, sy, sx) for c in range(3)]  # grads[c][axis]: d u_c / d s_(z, y, x)
    g_index = np.stack([np.stack([grads[c][2], grads[c][1], grads[c][0]], -1) for c in range(3)], -2)  # [.., c, i]
    g_world = g_index @ np.asarray(geometry.direction).T  # d u_c / d x_world
    f = np.eye(3) + g_world
    return 0.5 * (np.swapaxes(f, -1, -2) @ f - np.eye(3))


def _lv_directions(truth) -> np.ndarray:
    """``(3, 3, z, y, x)`` radial, circumferential, longitudinal LPS unit vectors, from the LV long axis alone."""
    geo = truth.displacement.geometry
    nz, ny, nx = truth.displacement.spatial_shape
    idx = np.stack(np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="xy"), -1)  # (y, x, z, 3)
    idx = np.moveaxis(idx, 2, 0).astype(float)  # (z, y, x, 3) as (i, j, k)
    pos = idx @ (np.asarray(geo.direction) @ np.diag(geo.spacing)).T + np.asarray(geo.origin)
    axis = truth.heart_to_lps[:, 2]
    rel = pos - truth.heart_origin_lps
    radial = rel - (rel @ axis)[..., None] * axis
    radial /= np.linalg.norm(radial, axis=-1, keepdims=True)
    circ = np.cross(axis, radial)
    long_ = np.broadcast_to(axis, radial.shape)
    return np.moveaxis(np.stack([radial, circ, long_]), -1, 1)


def test_strain_matches_finite_differences_of_displacement():
    cfg = PhantomConfig(seed=2, size=80, pixel_mm=1.0, slices=12, slice_thickness_mm=1.0, frames=4, modalities=(),
                        residual_variation=False)
    truth = make_case(cfg, REFERENCE_MAN).truth
    assert not truth.phenotypes_measured["grid_covers_heart"]  # a 12 mm slab: only part of the LV
    core = ndimage.binary_erosion(truth.strain.mask, iterations=2)
    assert core.sum() > 500
    dirs = _lv_directions(truth)
    np.testing.assert_allclose(np.abs(np.einsum("ic...,ic...->i...", dirs, truth.strain_directions())), 1.0,
                               atol=1e-9)
    for frame in (1, 2):
        e = _green_lagrange_from_displacement(truth.displacement.array[frame], truth.displacement.geometry)
        for i, name in enumerate(("radial", "circumferential", "longitudinal")):
            d = np.moveaxis(dirs[i], 0, -1)  # (z, y, x, 3)
            fd = np.einsum("...i,...ij,...j->...", d, e, d)[core]
            exact = truth.strain.components[name][frame][core]
            err = np.abs(fd - exact)
            assert np.median(err) < 0.01, (frame, name, np.median(err))
            assert np.percentile(err, 95) < 0.03, (frame, name, np.percentile(err, 95))
            if frame == truth.es_frame:
                assert np.abs(exact).max() > 0.08  # a real deformation was compared


def test_zero_motion_gives_zero_displacement_and_strain():
    cfg = PhantomConfig(seed=3, size=32, frames=4, slices=4, modalities=("cine", "dense"), noise=False,
                        motion_scale=0.0)
    case = make_case(cfg)
    truth = case.truth
    assert np.abs(truth.displacement.array).max() < 1e-6
    for comp in truth.strain.components.values():
        assert np.abs(comp).max() < 1e-6
    assert np.array_equal(truth.masks.labels[0], truth.masks.labels[2])
    assert np.allclose(case.cine.array[0], case.cine.array[2], rtol=0, atol=1e-2)
    assert np.abs(case.dense.phase).max() < 1e-4


def test_healthy_strain_is_physiological(default_case):
    curves = default_case.truth.strain.segment_curves
    ecc = curves["global_circumferential"]
    assert -0.25 <= ecc.min() <= -0.12
    assert curves["global_radial"].max() > 0.1
    assert curves["global_longitudinal"].min() < -0.05
    es = default_case.truth.es_frame
    assert np.argmin(ecc) in (es - 1, es, es + 1)
    assert ecc[0] == pytest.approx(0.0, abs=1e-6)


def test_infarct_sector_shortens_less_than_remote():
    cfg = PhantomConfig(seed=4, size=48, frames=8, slices=8, modalities=(), residual_variation=False,
                        infarct=InfarctSpec(center_deg=90.0, width_deg=80.0, severity=0.9))
    truth = make_case(cfg, REFERENCE_MAN).truth
    seg = truth.strain.segment_curves["circumferential"]  # (t, 16), AHA order
    es = truth.es_frame
    anterior = seg[es, [0, 6]].mean()  # basal and mid anterior (θ 60-120°)
    inferior = seg[es, [3, 9]].mean()  # basal and mid inferior (remote)
    assert inferior < -0.12
    assert anterior > inferior + 0.08
    assert truth.phenotypes_model.lvef_pct < truth.phenotypes_target.lvef_pct - 3


# ---- DENSE ---------------------------------------------------------------------------------------------------
def _dense_case(ke: float):
    cfg = PhantomConfig(seed=5, size=64, pixel_mm=1.6, slices=4, slice_thickness_mm=5.0, frames=5,
                        modalities=("dense",), dense_ke=ke, dense_encodings=("x", "y", "z"), noise=False)
    return make_case(cfg, REFERENCE_MAN)


def _encoded_displacement(case, frame: int) -> np.ndarray:
    """``(3, z, y, x)`` mm: Eulerian displacement projected on the x, y, z index axes."""
    d = case.truth.eulerian_displacement(frame)
    direction = np.asarray(case.dense.geometry.direction)
    return np.einsum("czyx,ce->ezyx", d, direction)


def _myocardium_core(case, frame: int) -> np.ndarray:
    myo = case.truth.masks.labels[frame] == 2
    return np.stack([ndimage.binary_erosion(s, iterations=1) for s in myo])


@pytest.mark.parametrize("ke", [0.1, 0.02])
def test_dense_phase_encodes_displacement(ke):
    case = _dense_case(ke)
    es = case.truth.es_frame
    for frame in (0, es):
        core = _myocardium_core(case, frame)
        assert core.sum() > 50
        u = _encoded_displacement(case, frame)
        for e in range(3):
            expected = 2 * np.pi * ke * u[e][core]
            phase = case.dense.phase[e, frame][core]
            wrapped_err = np.angle(np.exp(1j * (phase - expected)))
            assert np.percentile(np.abs(wrapped_err), 95) < 0.05, (ke, frame, e)
            if ke * np.abs(u[e][core]).max() < 0.4:  # no wrapping: equal without the modulo
                assert np.percentile(np.abs(phase - expected), 95) < 0.05
    if ke == 0.1:  # large ke wraps at ES: the test above really compared modulo 2π
        assert np.abs(2 * np.pi * ke * _encoded_displacement(case, es)[:, _myocardium_core(case, es)]).max() > np.pi


# ---- ECG -----------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not _ecg_available(), reason="cardiogen.phantom.ecg is not available")
def test_ecg_r_peaks_fall_on_ed_frames():
    case = make_case(PhantomConfig(seed=6, modalities=("ecg",), ecg_duration_s=6.0), REFERENCE_MAN)
    ecg = case.ecg
    assert ecg is not None and ecg.n_samples == 3000
    rr = case.truth.rr_ms
    r_ms = ecg.fiducials["R"] * 1000.0 / ecg.sampling_rate
    assert len(r_ms) >= 5
    cycles = np.round(r_ms / rr)
    assert np.array_equal(cycles, np.arange(cycles[0], cycles[0] + len(cycles)))
    assert np.abs(r_ms - cycles * rr).max() <= 1000.0 / ecg.sampling_rate
    assert ecg.heart_rate_bpm() == pytest.approx(case.truth.heart_rate_bpm, rel=0.01)


def test_case_without_the_ecg_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "cardiogen.phantom.ecg", None)  # makes the import fail
    with pytest.warns(RuntimeWarning, match="ecg"):
        case = make_case(PhantomConfig(seed=0, size=32, frames=2, slices=2, modalities=("cine", "ecg")))
    assert case.ecg is None and case.cine is not None


# ---- phenotypes from demographics ----------------------------------------------------------------------------
def _pheno(**changes):
    base = dict(age=55, sex="F", height_cm=165, weight_kg=70, sbp=130, dbp=80)
    base.update(changes)
    return phenotypes_from_demographics(Demographics(**base))


def test_phenotypes_move_monotonically_with_demographics():
    light, heavy = _pheno(weight_kg=60), _pheno(weight_kg=95)
    assert heavy.lvedv_ml > light.lvedv_ml and heavy.lv_mass_g > light.lv_mass_g and heavy.rvedv_ml > light.rvedv_ml
    assert _pheno(sbp=160).lv_mass_g > _pheno(sbp=115).lv_mass_g
    young, old = _pheno(age=30), _pheno(age=75)
    assert old.lvedv_ml < young.lvedv_ml and old.rvedv_ml < young.rvedv_ml
    assert old.lvef_pct == pytest.approx(young.lvef_pct, abs=1e-9)  # EF does not change with age
    assert _pheno(height_cm=185).lvedv_ml > _pheno(height_cm=150).lvedv_ml
    male, female = _pheno(sex="M"), _pheno(sex="F")
    assert male.lvedv_ml > female.lvedv_ml and male.lv_mass_g > female.lv_mass_g and male.rvedv_ml > female.rvedv_ml
    assert female.lvef_pct > male.lvef_pct
    for sex in ("M", "F"):  # reference subjects reproduce the sourced means
        ref = {"M": (160.0, 58.0), "F": (135.0, 61.0)}[sex]
        height = {"M": 176.0, "F": 163.0}[sex]
        bmi = {"M": 27.1, "F": 26.2}[sex]
        p = phenotypes_from_demographics(Demographics(age=40, sex=sex, height_cm=height,
                                                      weight_kg=bmi * (height / 100) ** 2,
                                                      sbp={"M": 141, "F": 133}[sex], dbp=80))
        assert p.lvedv_ml == pytest.approx(ref[0], rel=1e-6) and p.lvef_pct == pytest.approx(ref[1], abs=1e-6)


def test_case_uses_the_regression_and_the_seeded_residual():
    small = dict(size=32, frames=2, slices=2, modalities=())
    demo = Demographics(age=60, sex="F", height_cm=160, weight_kg=80, sbp=150, dbp=90)
    plain = make_case(PhantomConfig(seed=7, residual_variation=False, **small), demo)
    assert plain.phenotypes == phenotypes_from_demographics(demo)
    varied = [make_case(PhantomConfig(seed=s, **small), demo).phenotypes for s in (7, 8)]
    assert varied[0] != plain.phenotypes and varied[0] != varied[1]
    assert make_case(PhantomConfig(seed=7, **small), demo).phenotypes == varied[0]


# ---- determinism, containers, metadata -----------------------------------------------------------------------
def _small(seed: int):
    cfg = PhantomConfig(seed=seed, size=32, frames=4, slices=3, ct_size=24, ct_frames=2, ecg_duration_s=2.0)
    return make_case(cfg)


def test_seeded_determinism():
    a, b, c = _small(11), _small(11), _small(12)
    for name in ("cine", "tagging", "ct"):
        assert np.array_equal(getattr(a, name).array, getattr(b, name).array)
        assert not np.array_equal(getattr(a, name).array, getattr(c, name).array)
    assert np.array_equal(a.dense.phase, b.dense.phase) and not np.array_equal(a.dense.phase, c.dense.phase)
    assert np.array_equal(a.truth.displacement.array, b.truth.displacement.array)
    assert a.demographics == b.demographics and a.phenotypes == b.phenotypes
    if a.ecg is not None:
        assert np.array_equal(a.ecg.signals, b.ecg.signals) and not np.array_equal(a.ecg.signals, c.ecg.signals)


def test_containers_and_metadata(default_case):
    case = default_case
    cfg = case.config
    rr = case.truth.rr_ms
    for series, modality in ((case.cine, "cine"), (case.tagging, "tagging"), (case.dense.magnitude, "dense_mag"),
                             (case.ct, "ct")):
        assert series.modality == modality and series.synthetic
        assert "PHANTOM" in series.description and f"seed {cfg.seed}" in series.description
        assert series.provenance["source"] == "cardiogen.phantom" and series.provenance["seed"] == cfg.seed
        assert series.provenance["config"]["size"] == cfg.size
        assert series.metadata["heart_rate_bpm"] == pytest.approx(case.truth.heart_rate_bpm)
        assert series.array.dtype == np.float32
    assert case.cine.shape == (20, 10, 64, 64) and case.ct.shape == (10, 64, 64, 64)
    np.testing.assert_allclose(case.cine.frame_times, np.arange(20) * rr / 20)
    np.testing.assert_allclose(case.ct.frame_times, np.arange(10) * rr / 10)
    assert case.dense.phase.shape == (2, 20, 10, 64, 64) and case.dense.ke == (0.1, 0.1)
    assert np.abs(case.dense.phase).max() <= np.pi + 1e-6
    # geometry: oblique short axis, base first; the apex is left, anterior and inferior of the base
    geo = case.cine.geometry
    direction = np.asarray(geo.direction)
    assert np.abs(direction - np.eye(3)).max() > 0.3
    rot = case.truth.heart_to_lps
    np.testing.assert_allclose(direction, rot @ np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    base_to_apex = -rot[:, 2]
    assert base_to_apex[0] > 0 and base_to_apex[1] < 0 and base_to_apex[2] < 0  # L, A, I in LPS
    assert (case.truth.masks.labels[0, -1] > 0).sum() < (case.truth.masks.labels[0, 4] > 0).sum()  # apex smaller
    # contrast: bSSFP blood bright, myocardium dark; CT HU values
    lab = case.truth.masks.labels[0]
    assert np.median(case.cine.array[0][lab == 1]) > 2.5 * np.median(case.cine.array[0][lab == 2])
    ct_lab = case.truth.ct_masks.labels[0]
    ct = case.ct.array[0]
    assert np.median(ct[ct_lab == 1]) == pytest.approx(400, abs=40)
    assert np.median(ct[ct_lab == 3]) == pytest.approx(300, abs=40)
    assert np.median(ct[ct_lab == 2]) == pytest.approx(90, abs=40)
    assert np.percentile(ct, 5) < -700  # lung
    ct_voxel = case.truth.ct_masks.geometry.voxel_volume_ml()
    assert np.count_nonzero(ct_lab == 1) * ct_voxel == pytest.approx(case.phenotypes.lvedv_ml, rel=0.06)


def test_modalities_not_requested_are_none():
    case = make_case(PhantomConfig(seed=0, size=32, frames=2, slices=2, modalities=("cine",)))
    assert case.cine is not None
    assert case.tagging is None and case.dense is None and case.ct is None and case.ecg is None
    assert case.truth.ct_masks is None


@pytest.mark.parametrize("changes", [
    dict(size=8), dict(frames=1), dict(dense_ke=-0.1), dict(dense_ke=0.0), dict(modalities=("cine", "pet")),
    dict(slices=0), dict(ct_size=8), dict(motion_scale=-1.0), dict(dyssynchrony=2.0), dict(dense_encodings=("q",)),
    dict(pixel_mm=-1.0), dict(seed=1.5), dict(infarct="anterior"),
])
def test_wrong_config_raises(changes):
    with pytest.raises(CardioGenInputError):
        PhantomConfig(**changes)


def test_wrong_demographics_and_infarct_raise():
    with pytest.raises(CardioGenInputError):
        Demographics(sex="X")
    with pytest.raises(CardioGenInputError):
        Demographics(sbp=80, dbp=90)
    with pytest.raises(CardioGenInputError):
        InfarctSpec(severity=1.5)
    with pytest.raises(CardioGenInputError):
        make_case(PhantomConfig(size=32), demographics={"age": 40})
    assert math.isfinite(Demographics.random(np.random.default_rng(0)).bmi)


def test_four_chamber_view_shows_the_lv_long_axis_and_its_sphericity():
    """view="4ch": one long-axis plane through the LV axis and the RV; the LV blood pool's width / length on it
    follows the model's sphericity (SAX diameter / LAX length) across subjects."""
    import numpy as np

    from cardiogen.errors import CardioGenInputError
    from cardiogen.phantom import PhantomConfig, make_case

    truth_sph, image_sph = [], []
    for seed in range(10):
        case = make_case(PhantomConfig(seed=seed, size=64, frames=4, slices=1, view="4ch", modalities=("cine",),
                                       noise=False, pixel_mm=2.8))
        lab = case.truth.masks.labels[0, 0]
        lv = lab == 1
        rows, cols = np.flatnonzero(lv.any(1)), np.flatnonzero(lv.any(0))
        assert len(rows) > len(cols)          # the LV is longer than wide on a long-axis view
        assert (lab == 3).any() and (lab == 2).any()
        assert case.cine.metadata["view"] == "4ch"
        assert not case.truth.phenotypes_measured["grid_covers_heart"]  # one plane: no volumes
        truth_sph.append(case.truth.phenotypes_model.sphericity)
        image_sph.append(len(cols) / len(rows))
    assert np.corrcoef(truth_sph, image_sph)[0, 1] > 0.75
    with pytest.raises(CardioGenInputError, match="unknown MR view"):
        PhantomConfig(view="2ch")
