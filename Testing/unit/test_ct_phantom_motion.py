"""The phantom's 4D CT is one motion of one anatomy: every phase's moving tissues are the first phase's, carried.

Issue 21.1: the atria were drawn in the deformed frame (a fixed cylinder above the moving base plane) while the
ventricles follow the closed-form motion, so at systole a wedge of right atrium stuck out beside the contracted RV
and a notch opened at the AV plane. The atria are now carried by the one map (stretched between the moving base and a
fixed roof). These tests warp the rendered ED tissue map by the phantom's own truth motion (:meth:`HeartModel.inverse`)
and require it to match every rendered phase beyond a one-voxel boundary band.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.phantom import InfarctSpec, PhantomConfig, make_case
from cardiogen.phantom import anatomy as A
from cardiogen.phantom.render import SampleSet
from cardiogen.phantom.truth import voxel_centers_heart

MOVING = A.MOVING_TISSUES  # ventricles, epicardial fat and atria: all move with the heart


def _rendered_tissues(case, times) -> np.ndarray:
    """``(t, z, y, x)`` uint8 tissue ids the CT renderer draws its HU from (the same SampleSet pass)."""
    truth = case.truth
    geom = case.ct.geometry
    ss = SampleSet(geom, case.ct.shape[1:], (1, 1, 1), truth.placement, truth.model,
                   float(truth.placement.origin_lps[2]))
    return np.stack([ss.labels_at(truth.model, float(t))[0].reshape(ss.shape) for t in times])


def _moving_only(tissues: np.ndarray) -> np.ndarray:
    return np.where(np.isin(tissues, MOVING), tissues, 0).astype(np.uint8)


def _warp_mismatch(case, ed: np.ndarray, phase: np.ndarray, t_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """(bool mismatch map, bool compared map): phase(x) vs ED tissue at the material point X(x, t) of x.

    Compared are voxels whose material point falls inside the grid and whose ED neighbourhood (3 x 3 x 3 voxels
    around the nearest voxel) and own neighbourhood at t hold one moving-tissue id: the boundary band, where
    nearest-voxel sampling decides, is left out.
    """
    truth = case.truth
    geom = case.ct.geometry
    shape = ed.shape
    x = voxel_centers_heart(geom, shape, truth.placement).reshape(-1, 3)
    xm, _ = truth.model.inverse(x, t_ms)
    lps = truth.placement.to_lps(xm)
    idx = (lps - np.asarray(geom.origin)) @ np.linalg.inv(np.asarray(geom.direction) @ np.diag(geom.spacing)).T
    ijk = np.rint(idx).astype(np.int64)  # (i, j, k) = (x, y, z) index of the nearest ED voxel
    inside = np.all((ijk >= 0) & (ijk < np.array(shape[::-1])), axis=1)
    ijk = np.where(inside[:, None], ijk, 0)
    uniform_ed = ndimage.maximum_filter(ed, 3) == ndimage.minimum_filter(ed, 3)
    uniform_t = (ndimage.maximum_filter(phase, 3) == ndimage.minimum_filter(phase, 3)).reshape(-1)
    warped = ed[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    compared = inside & uniform_ed[ijk[:, 2], ijk[:, 1], ijk[:, 0]] & uniform_t
    mismatch = compared & (warped != phase.reshape(-1))
    return mismatch.reshape(shape), compared.reshape(shape)


CASES = [
    pytest.param(PhantomConfig(seed=0, modalities=("ct",), noise=False), tuple(range(1, 10)), id="demo-seed0"),
    pytest.param(PhantomConfig(seed=5, modalities=("ct",), noise=False, ct_size=48, ct_frames=5), (1, 2, 3),
                 id="seed5"),
    pytest.param(PhantomConfig(seed=11, modalities=("ct",), noise=False, ct_size=48, ct_frames=5, dyssynchrony=0.6,
                               infarct=InfarctSpec(center_deg=200.0, width_deg=90.0, severity=0.7)), (1, 2, 4),
                 id="seed11-infarct-dyssynchrony"),
]


@pytest.mark.parametrize("config,phases", CASES)
def test_each_ct_phase_is_the_first_carried_by_the_truth_motion(config, phases):
    case = make_case(config)
    times = case.ct.frame_times
    tissues = _moving_only(_rendered_tissues(case, [times[0]] + [times[p] for p in phases]))
    ed = tissues[0]
    assert np.isin(ed, (A.LA_BLOOD, A.RA_BLOOD)).any()  # the atria are in the field of view
    for i, p in enumerate(phases, start=1):
        mismatch, compared = _warp_mismatch(case, ed, tissues[i], float(times[p]))
        heart = compared & (tissues[i] > 0)
        assert heart.sum() > 1000  # a real comparison
        # no region appears or vanishes: beyond the boundary band every voxel is its material point's ED tissue
        lab, n = ndimage.label(mismatch)
        largest = int(np.bincount(lab.ravel())[1:].max()) if n else 0
        assert largest <= 3, f"phase {p} ({times[p]:.0f} ms): a {largest}-voxel region differs from ED carried"
        assert mismatch.sum() <= 1e-3 * heart.sum(), f"phase {p}: {int(mismatch.sum())} voxels differ"


@pytest.mark.parametrize("config,phases", CASES[:2])
def test_ct_label_components_persist(config, phases):
    """Each standard label keeps its large connected components (≥ 20 voxels) and the atria stay one region each."""
    case = make_case(config)
    labels = case.truth.ct_masks.labels
    tissues = _rendered_tissues(case, [case.ct.frame_times[0]] + [case.ct.frame_times[p] for p in phases])

    def big_components(mask: np.ndarray) -> int:
        lab, n = ndimage.label(mask)
        return int(np.count_nonzero(np.bincount(lab.ravel())[1:] >= 20)) if n else 0

    for label in (A.LV_BLOOD, A.LV_MYO, A.RV_BLOOD):
        counts = [big_components(labels[p] == label) for p in (0,) + tuple(phases)]
        assert len(set(counts)) == 1, f"label {label}: large components per phase {counts}"
    for tissue in (A.LA_BLOOD, A.RA_BLOOD):
        counts = [big_components(t == tissue) for t in tissues]
        assert counts == [1] * len(tissues), f"tissue {tissue}: large components per phase {counts}"


@pytest.mark.parametrize("config", [PhantomConfig(seed=3, modalities=()),
                                    PhantomConfig(seed=4, modalities=(), dyssynchrony=0.8,
                                                  infarct=InfarctSpec(center_deg=150.0, width_deg=70.0))])
def test_atria_move_with_the_base_and_the_roof_stays(config):
    """Atrial material round-trips through forward/inverse, keeps its tissue, and the roof and above do not move."""
    model = make_case(config).truth.model
    g = model.geometry
    rng = np.random.default_rng(0)
    n = 4000
    th = rng.uniform(0, 2 * np.pi, n)
    r = rng.uniform(0, g.a_epi + g.rv_height_mm + g.rv_wall_mm, n)
    z = rng.uniform(g.z_base + 0.5, model.roof_z + 20.0, n)
    xm = np.stack([r * np.cos(th), r * np.sin(th), z], axis=-1)
    tissue = model.tissue(xm)
    assert np.isin(tissue, (A.LA_BLOOD, A.RA_BLOOD)).sum() > 0.08 * n  # two ellipsoidal atria in the sampled cylinder
    t_es = model.timing.es_ms
    x = model.forward(xm, t_es)
    back, lab = model.inverse(x, t_es)
    np.testing.assert_allclose(back, xm, atol=1e-6)
    np.testing.assert_array_equal(lab, tissue)
    above = z >= model.roof_z
    np.testing.assert_allclose(x[above], xm[above], atol=1e-9)  # nothing moves above the roof
    atrial = np.isin(tissue, (A.LA_BLOOD, A.RA_BLOOD, A.ATRIAL_WALL))
    assert np.all(x[atrial, 2] < xm[atrial, 2] + 1e-9)  # the atria descend with the base ...
    assert np.ptp(x[atrial, 2] - xm[atrial, 2]) > 5.0  # ... more at the AV plane than under the roof


@pytest.mark.parametrize("config,phases", CASES)
def test_the_contracting_heart_uncovers_only_lung_and_fat(config, phases):
    """Where the ED heart was and the heart is no longer, the static body shows lung or mediastinal fat: never the cut
    face of a solid organ (liver dome, spine, muscle, aorta) that the ED heart overlapped."""
    case = make_case(config)
    times = case.ct.frame_times
    tissues = _rendered_tissues(case, [times[0]] + [times[p] for p in phases])
    ed_heart = np.isin(tissues[0], MOVING)
    for i, p in enumerate(phases, start=1):
        uncovered = tissues[i][ed_heart & ~np.isin(tissues[i], MOVING)]
        assert uncovered.size > 100
        solid = np.isin(uncovered, A.SOLID_BODY_TISSUES)
        assert not solid.any(), f"phase {p}: uncovered {np.bincount(uncovered[solid])} (tissue ids)"
