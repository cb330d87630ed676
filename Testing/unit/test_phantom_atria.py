"""The phantom's atria and walls as a four-chamber cine shows them (issue 18.1): two ellipsoidal atria standing on
the AV plane, separated by a septum, filling in ventricular systole; LV walls of physiological thickness that thicken.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cardiogen.phantom import PhantomConfig, make_case
from cardiogen.phantom import anatomy as A
from cardiogen.phantom.truth import voxel_centers_heart

SEEDS = (0, 3, 8)


def _atrial_volumes(model, t_ms: float, h: float = 1.0) -> dict[int, float]:
    """mL of LA blood, RA blood and atrial wall at time t (voxel count on an h-mm grid of the deformed space)."""
    g = model.geometry
    reach = g.a_epi + g.rv_height_mm + g.rv_wall_mm + 10.0
    uu, vv, ww = np.mgrid[-reach:reach:h, -reach:reach:h, g.z_base - 25.0:model.roof_z + 1.0:h]
    _, lab = model.inverse(np.stack([uu, vv, ww], -1), t_ms)
    return {k: float((lab == k).sum()) * h**3 / 1000.0 for k in (A.LA_BLOOD, A.RA_BLOOD, A.ATRIAL_WALL)}


@pytest.mark.parametrize("seed", SEEDS)
def test_atria_fill_in_systole_with_plausible_volumes(seed):
    model = make_case(PhantomConfig(seed=seed, modalities=())).truth.model
    ed, es = _atrial_volumes(model, 0.0), _atrial_volumes(model, model.timing.es_ms)
    for tissue in (A.LA_BLOOD, A.RA_BLOOD):
        assert 15.0 < ed[tissue] < 90.0, (tissue, ed)
        assert es[tissue] > 1.1 * ed[tissue], (tissue, ed, es)  # the AV plane descends, the atria fill
    assert es[A.LA_BLOOD] > es[A.RA_BLOOD] * 0.9  # the LA is not the smaller atrium by much
    lv_ed = model.lv_blood_volume_ml(0.0)
    assert 0.15 * lv_ed < ed[A.LA_BLOOD] < 0.6 * lv_ed  # minimal LA volume ~ 1/4-1/2 of LVEDV


@pytest.mark.parametrize("seed", SEEDS)
def test_four_chamber_view_shows_two_atria_under_their_ventricles_separated_by_a_septum(seed):
    case = make_case(PhantomConfig(seed=seed, size=128, pixel_mm=1.3, frames=10, slices=3, view="4ch",
                                   modalities=("cine",)))
    model = case.truth.model
    ny, nx = case.cine.shape[2:]
    heart = voxel_centers_heart(case.cine.geometry, case.cine.shape[1:], case.truth.placement)[1].reshape(-1, 3)
    es_frame = int(np.argmin([model.lv_blood_volume_ml(t) for t in case.cine.frame_times]))
    for frame in (0, es_frame):
        _, lab = model.inverse(heart, float(case.cine.frame_times[frame]))
        lab = lab.reshape(ny, nx)
        for tissue in (A.LA_BLOOD, A.RA_BLOOD):
            comps, n = ndimage.label(lab == tissue)
            assert n >= 1 and np.bincount(comps.ravel())[1:].max() > 150, (frame, tissue)
        la, ra = lab == A.LA_BLOOD, lab == A.RA_BLOOD
        assert not (ndimage.binary_dilation(la) & ra).any()  # never touching: a septum between them
        # the RA lies on the RV side (image left), the LA on the LV side, both below the ventricles
        assert np.nonzero(ra)[1].mean() < np.nonzero(la)[1].mean()
        assert np.nonzero(la)[0].mean() > np.nonzero(lab == A.LV_BLOOD)[0].mean()
        # the LA in this view: 30-60 mm wide and 30-70 mm long (a 4-chamber LA ~40-45 x 45-50 mm at ES)
        rows, cols = np.nonzero(la)
        width, length = np.ptp(cols) * 1.3, np.ptp(rows) * 1.3
        assert 30.0 < width < 60.0 and 30.0 < length < 70.0, (frame, width, length)


@pytest.mark.parametrize("seed", range(6))
def test_lv_walls_have_physiological_thickness_and_thicken(seed):
    """Mid-ventricular lateral wall: ED thickness within M 6.3±1.1 / F 5.3±0.9 mm ± 2 SD, and it thickens in systole
    (PHYSIOLOGY.md §2: 4.4±1.4 mm at mid)."""
    model = make_case(PhantomConfig(seed=seed, modalities=())).truth.model
    g = model.geometry
    c, s = g.rv_cos()
    rr = np.arange(0.0, 70.0, 0.05)
    ray = np.stack([-rr * c, -rr * s, np.full_like(rr, g.z_base - 0.5 * g.c_endo)], -1)
    myo = ray[model.tissue(ray) == A.LV_MYO]
    thick = []
    for t in (0.0, model.timing.es_ms):
        r = np.hypot(*model.forward(myo, t)[:, :2].T)
        thick.append(float(r.max() - r.min()))
    assert 3.5 <= thick[0] <= 8.5, thick
    assert thick[1] - thick[0] >= 1.5, thick
