"""Issue 19 item 3: strain from landmarks (Green-Lagrange and engineering), reference-checked on the phantom.

Landmarks are placed on the ED myocardium of a mid-ventricular short-axis ring (36 sectors at 0°, 10°, ...;
endo / mid / epi rings at 3 %, 50 % and 97 % of the wall) and carried by the phantom's exact forward map; their strain is compared with
the truth Green-Lagrange strain (HeartModel.strain_rcl) averaged over the same region: along each ring
(circumferential) or along the transmural lines (radial). Measured max |error| over seeds 0-2, with and without an
infarct, all frames: circumferential 0.0019, radial endo-epi 0.0078, endo-mid 0.0037, mid-epi 0.0008.
In-plane (2D) lengths differ from the 3D ones by <= 0.0065 (infarct: through-plane shear). Carrying the landmarks
with the truth *grid* displacement (trilinear) instead of the forward map is not this accurate (up to 0.03
circumferential, 0.1-0.3 radial on 64-32 px grids: the interpolation straddles the kink of the motion at the
endocardium and the zero beyond the heart mask), so the check uses the exact map.
"""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.data import Geometry, LandmarkSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.motion.landmarks import DEFINITIONS, landmark_strain_series
from cardiogen.phantom import InfarctSpec, PhantomConfig, make_case

N_SECTORS = 36


def _phantom_landmarks(seed: int, infarct):
    case = make_case(PhantomConfig(seed=seed, size=32, frames=10, slices=4, modalities=("cine",), noise=False,
                                   infarct=infarct))
    tr = case.truth
    m, g = tr.model, tr.model.geometry
    z = g.z_endo_apex + 0.55 * g.c_endo
    rn, rp = float(np.sqrt(g.r_endo2(np.array(z)))), float(np.sqrt(g.r_epi2(np.array(z))))
    radii = {"endo": rn + 0.03 * (rp - rn), "mid": 0.5 * (rn + rp), "epi": rp - 0.03 * (rp - rn)}
    th = np.radians(np.arange(N_SECTORS) * 360.0 / N_SECTORS)  # chords tile the 60° AHA sectors
    x, lay, sec = [], [], []
    for name, r in radii.items():
        for k, a in enumerate(th):
            x.append([r * np.cos(a), r * np.sin(a), z])
            lay.append(name)
            sec.append(k)
    x = np.asarray(x)
    times = tr.masks.frame_times
    pts = np.stack([tr.placement.to_lps(m.forward(x, t)) for t in times])
    series = LandmarkSeries(pts, labels={"layer": lay, "sector": sec}, frame_times=times, geometry=tr.masks.geometry)
    return series, m, radii, th, z, times


@pytest.mark.parametrize("seed,infarct", [(0, None), (1, InfarctSpec(90.0, 60.0, 0.8)), (2, None),
                                          (2, InfarctSpec(250.0, 90.0, 0.6))])
def test_phantom_truth_strain_reproduced(seed, infarct) -> None:
    series, model, radii, th, z, times = _phantom_landmarks(seed, infarct)
    res = landmark_strain_series(series)
    # circumferential, per layer: truth averaged along the ring
    for name, r in radii.items():
        a = np.radians(np.arange(N_SECTORS * 16) * 360.0 / (N_SECTORS * 16))
        xa = np.stack([r * np.cos(a), r * np.sin(a), np.full_like(a, z)], -1)
        truth = np.array([model.strain_rcl(xa, t)[:, 1].mean() for t in times])
        assert np.abs(res.curve("circumferential", region=name) - truth).max() < 0.01
        # per AHA segment (single slice = mid level, segments 7-12): truth over the same arcs
        seg = res.segment_curves("circumferential", layer=name)
        th_deg = np.degrees(a) % 360.0
        aha = 7 + (((th_deg - 60.0) % 360.0) // 60.0).astype(int)
        e = np.array([model.strain_rcl(xa, t)[:, 1] for t in times])
        for s in range(7, 13):
            assert np.abs(seg[:, s - 1] - e[:, aha == s].mean(axis=1)).max() < 0.01
        assert np.all(np.isnan(seg[:, :6])) and np.all(np.isnan(seg[:, 12:]))
    # radial: truth averaged along the transmural lines between the two rings
    for pair, (r0, r1) in {"endo-epi": (radii["endo"], radii["epi"]), "endo-mid": (radii["endo"], radii["mid"]),
                           "mid-epi": (radii["mid"], radii["epi"])}.items():
        aa, rr = np.meshgrid(th, np.linspace(r0, r1, 41), indexing="ij")
        xr = np.stack([rr * np.cos(aa), rr * np.sin(aa), np.full_like(aa, z)], -1).reshape(-1, 3)
        truth = np.array([model.strain_rcl(xr, t)[:, 0].mean() for t in times])
        assert np.abs(res.curve("radial", region=pair) - truth).max() < 0.01
        assert truth.max() > 0.3  # the phantom thickens: the check is not trivial
    np.testing.assert_array_equal(res.curve("radial"), res.curve("radial", region="endo-epi"))
    # 2D tracking (in-plane lengths, as tag tracking on one slice): through-plane motion ignored, still < 0.01
    flat = landmark_strain_series(series, in_plane=True)
    for key, curve in res.curves.items():
        assert np.abs(flat.curves[key] - curve).max() < 0.01, key
    # the two definitions side by side: GL = e + e²/2 exactly
    for comp in ("circumferential", "radial"):
        gl = res.pair_strain[f"green_lagrange/{comp}"]
        eng = res.pair_strain[f"engineering/{comp}"]
        np.testing.assert_allclose(gl, eng + 0.5 * eng**2, atol=1e-12)
        assert np.all(res.pair_strain[f"green_lagrange/{comp}"][0] == 0)
    assert set(res.provenance["definitions"]) == set(DEFINITIONS)


def test_simple_ring_by_angle_and_reference_frame(tmp_path) -> None:
    a = np.radians(np.arange(24) * 15.0)
    ring = lambda r: np.stack([r * np.cos(a), -r * np.sin(a), np.zeros_like(a)], -1)  # noqa: E731 (y = -v)
    frames = np.stack([np.concatenate([ring(20 * s), ring(30 * s + 5 * (1 - s))]) for s in (1.0, 0.8, 0.9)])
    perm = np.random.default_rng(0).permutation(48)  # no sector labels: rings ordered by angle
    layer = np.array(["endo"] * 24 + ["epi"] * 24)[perm]
    series = LandmarkSeries(frames[:, perm], labels={"layer": layer}, layer_order=("endo", "epi"),
                            frame_times=[0, 100, 200])
    res = landmark_strain_series(series)
    np.testing.assert_allclose(res.curve("circumferential", "engineering", "endo"), [0, -0.2, -0.1], atol=1e-12)
    thick = np.array([10.0, 0.8 * 30 + 1 - 16, 0.9 * 30 + 0.5 - 18])
    np.testing.assert_allclose(res.curve("radial", "engineering"), thick / 10 - 1, atol=1e-12)
    np.testing.assert_allclose(res.curve("radial", "green_lagrange"), 0.5 * ((thick / 10) ** 2 - 1), atol=1e-12)
    # segments (one slice = mid level): the point at 90° (image up) is mid anterior (7), 180° inferoseptal (9)
    order = res.pairs["radial"][:, 0]
    seg_of = dict(zip(perm[order].tolist(), res.pair_segment["radial"].tolist()))
    assert seg_of[6] == 7 and seg_of[12] == 9 and seg_of[18] == 10 and seg_of[1] == 12
    res1 = landmark_strain_series(series, reference_frame=1)
    assert res1.curve("circumferential", region="endo")[1] == 0
    res.write_csv(tmp_path / "s.csv")
    head = (tmp_path / "s.csv").read_text().splitlines()[0]
    assert "green_lagrange/circumferential/global" in head and "engineering/radial/global" in head


def test_landmark_series_validation_and_pixels() -> None:
    with pytest.raises(CardioGenInputError, match="NaN"):
        LandmarkSeries(np.full((2, 3, 2), np.nan))
    with pytest.raises(CardioGenInputError, match="one value per point"):
        LandmarkSeries(np.zeros((2, 3, 2)), labels={"layer": ["endo"] * 2})
    with pytest.raises(CardioGenInputError, match="unknown landmark layer"):
        LandmarkSeries(np.zeros((2, 3, 2)), labels={"layer": ["endo", "x", "epi"]})
    with pytest.raises(CardioGenInputError, match="frame_times"):
        LandmarkSeries(np.zeros((2, 3, 2)), frame_times=[0, 1, 2])
    with pytest.raises(CardioGenInputError, match="reference frame"):
        LandmarkSeries(np.zeros((2, 3, 2)), reference_frame=5)
    geo = Geometry(spacing=(1.5, 2.0, 8.0), origin=(10.0, -5.0, 3.0))
    px = np.array([[[4.0, 6.0]]])
    mm = LandmarkSeries.pixels_to_mm(px, geo)
    np.testing.assert_allclose(mm, [[[16.0, 7.0, 3.0]]])
    np.testing.assert_allclose(LandmarkSeries.mm_to_pixels(mm, geo)[..., :2], px)
    with pytest.raises(CardioGenInputError):
        landmark_strain_series(LandmarkSeries(np.zeros((2, 2, 2)) + np.arange(2)[None, :, None]))


def test_slices_give_aha_levels() -> None:
    a = np.radians(np.arange(12) * 30.0 + 15.0)
    ring = np.stack([20 * np.cos(a), -20 * np.sin(a), np.zeros_like(a)], -1)
    pts, slc = [], []
    for k in range(3):
        pts.append(ring + [0.0, 0.0, -10.0 * k])
        slc += [k] * 12
    pts = np.concatenate(pts)
    frames = np.stack([pts, pts * [0.9, 0.9, 1.0]])
    series = LandmarkSeries(frames, labels={"layer": ["mid"] * 36, "slice": slc, "sector": list(range(12)) * 3})
    res = landmark_strain_series(series)
    segs = res.segment_curves("circumferential")
    assert np.all(np.isfinite(segs[1])) and np.allclose(segs[1], 0.5 * (0.81 - 1))
    by_slice = res.pair_segment["circumferential"].reshape(3, 12)
    assert set(by_slice[0]) == set(range(1, 7)) and set(by_slice[1]) == set(range(7, 13))
    assert set(by_slice[2]) == set(range(13, 17))
    assert "radial" not in res.pairs  # one layer: no radial segments
    labelled = LandmarkSeries(frames, labels={"layer": ["mid"] * 36, "slice": slc, "segment": [5] * 36})
    assert set(landmark_strain_series(labelled).pair_segment["circumferential"]) == {5}
