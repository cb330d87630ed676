"""Strain from displacement fields and landmarks, AHA segments, bullseye and curve files: analytic truths."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from cardiogen.data import DisplacementSeries, Geometry, StrainSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.motion import (aha_segments, bullseye_image, compute_strain, deformation_gradient, green_lagrange,
                              landmark_strain, lv_frame, peak_values, radial_circumferential,
                              radial_circumferential_pairs, segment_means, write_curves_csv)


# ----------------------------------------------------------------------------------------------------------------
# Helpers: an LV-like annulus stack and fields defined in world (LPS) millimetres
# ----------------------------------------------------------------------------------------------------------------
def _rotation(axis, deg):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.radians(deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


OBLIQUE = _rotation([0.3, -0.5, 0.8], 37.0)


def _grid(shape=(6, 40, 40), spacing=(1.0, 1.0, 4.0), direction=np.eye(3), origin=(-10.0, 5.0, 30.0)):
    geom = Geometry(spacing=spacing, origin=origin, direction=direction)
    nz, ny, nx = shape
    kk, jj, ii = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    idx = np.stack([ii, jj, kk], -1).astype(float)
    world = np.asarray(origin) + (idx * np.asarray(spacing)) @ geom.direction.T
    centre_idx = np.array([(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2])
    centre = np.asarray(origin) + geom.direction @ (centre_idx * np.asarray(spacing))
    return geom, world, centre


def _frame_coords(geom, world, centre):
    """Grid-frame coordinates (a, b, w) of every voxel: a along x, b along y, w along e_long = -direction[:, 2]."""
    rel = world - centre
    d = geom.direction
    return rel @ d[:, 0], rel @ d[:, 1], rel @ (-d[:, 2])


def _annulus(geom, world, centre, r_in=8.0, r_out=16.0):
    a, b, _ = _frame_coords(geom, world, centre)
    r = np.hypot(a, b)
    return (r >= r_in) & (r <= r_out)


def _series(u_world, geom, mask=None, n_frames=2):
    """(z, y, x, 3) world displacement -> DisplacementSeries with a zero reference frame then u."""
    arr = np.zeros((n_frames, 3) + u_world.shape[:3], np.float32)
    arr[-1] = np.moveaxis(u_world, -1, 0)
    return DisplacementSeries(arr, geometry=geom, frame_times=np.arange(n_frames) * 40.0, mask=mask)


def _interior(mask, margin=1):
    from scipy import ndimage

    out = mask.copy()
    for k in range(mask.shape[0]):
        out[k] = ndimage.binary_erosion(mask[k], iterations=margin)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Deformation gradient and Green-Lagrange
# ----------------------------------------------------------------------------------------------------------------
def test_green_lagrange_is_symmetric_and_matches_definition():
    rng = np.random.default_rng(1)
    F = np.eye(3) + 0.3 * rng.standard_normal((50, 3, 3))
    E = green_lagrange(F)
    assert np.allclose(E, np.swapaxes(E, -1, -2), atol=1e-12)
    assert np.allclose(E, 0.5 * (np.einsum("nki,nkj->nij", F, F) - np.eye(3)), atol=1e-12)
    with pytest.raises(CardioGenInputError):
        green_lagrange(np.eye(2))


def test_rigid_rotation_and_translation_give_zero_strain():
    geom, world, centre = _grid(direction=OBLIQUE)
    R = _rotation([0.2, 0.9, -0.4], 25.0)
    u = (world - centre) @ (R - np.eye(3)).T + np.array([1.5, -2.0, 0.7])
    disp = _series(u, geom)
    E = green_lagrange(deformation_gradient(disp))
    assert np.abs(E).max() < 1e-6  # the whole grid: a linear field is differentiated exactly everywhere
    myo = _annulus(geom, world, centre)
    strain = compute_strain(disp, myo)
    assert set(strain.components) == {"radial", "circumferential", "longitudinal"}
    for arr in strain.components.values():
        assert np.abs(arr).max() < 1e-6


@pytest.mark.parametrize("alpha", [0.2, -0.15])
def test_uniform_radial_stretch_gives_known_rr_and_cc(alpha):
    geom, world, centre = _grid()
    a, b, _ = _frame_coords(geom, world, centre)
    d = geom.direction
    u = alpha * (a[..., None] * d[:, 0] + b[..., None] * d[:, 1])  # alpha * r * e_r
    myo = _annulus(geom, world, centre)
    strain = compute_strain(_series(u, geom), myo)
    expected = alpha + alpha ** 2 / 2
    inner = _interior(myo)
    assert np.allclose(strain.components["radial"][1][inner], expected, atol=1e-5)
    assert np.allclose(strain.components["circumferential"][1][inner], expected, atol=1e-5)
    assert np.abs(strain.components["longitudinal"][1][myo]).max() < 1e-5
    assert np.abs(strain.components["radial"][0]).max() == 0.0  # reference frame
    assert strain.segment_curves["global_radial"][1] == pytest.approx(expected, abs=1e-5)


def test_uniform_in_plane_scaling_shortens_circumference():
    lam = 0.85  # u = (lambda - 1) r e_r
    geom, world, centre = _grid()
    a, b, _ = _frame_coords(geom, world, centre)
    u = (lam - 1) * (a[..., None] * geom.direction[:, 0] + b[..., None] * geom.direction[:, 1])
    myo = _annulus(geom, world, centre)
    strain = compute_strain(_series(u, geom), myo)
    expected = (lam ** 2 - 1) / 2  # -0.13875
    assert strain.peak("circumferential") == pytest.approx(expected, abs=1e-5)
    assert peak_values(strain)["circumferential"]["peak"] == pytest.approx(expected, abs=1e-5)
    assert np.allclose(strain.segment_curves["circumferential"][1], expected, atol=1e-5)  # all 16 segments


def _inward_shift(geom, world, centre, c=2.0):
    """u = -c e_r: E_rr = 0, E_cc = ((1 - c/r)^2 - 1)/2 (wall moving inward without thickening)."""
    a, b, _ = _frame_coords(geom, world, centre)
    r = np.hypot(a, b)
    er = (a[..., None] * geom.direction[:, 0] + b[..., None] * geom.direction[:, 1]) / np.maximum(r, 1e-9)[..., None]
    return -c * er, r


@pytest.mark.parametrize("direction", [np.eye(3), OBLIQUE, np.diag([1.0, -1.0, 1.0]) @ OBLIQUE])
def test_radial_and_circumferential_are_told_apart_in_any_orientation(direction):
    geom, world, centre = _grid(shape=(3, 81, 81), spacing=(0.5, 0.5, 3.0), direction=direction)
    u, r = _inward_shift(geom, world, centre)
    myo = _annulus(geom, world, centre, 10.0, 18.0)
    strain = compute_strain(_series(u, geom), myo)
    inner = _interior(myo)
    assert np.abs(strain.components["radial"][1][inner]).max() < 2e-3
    expected = ((1 - 2.0 / np.maximum(r, 1.0)) ** 2 - 1) / 2
    assert np.abs(strain.components["circumferential"][1][inner] - expected[inner]).max() < 2e-3
    assert strain.components["circumferential"][1][inner].max() < -0.09


def test_oblique_geometry_gives_the_same_strain_as_identity():
    results = []
    for direction in (np.eye(3), OBLIQUE):
        geom, world, centre = _grid(direction=direction)
        u, _ = _inward_shift(geom, world, centre, 1.5)
        _, _, w = _frame_coords(geom, world, centre)
        u = u + 0.05 * w[..., None] * (-geom.direction[:, 2])  # plus a longitudinal stretch
        myo = _annulus(geom, world, centre)
        results.append(compute_strain(_series(u, geom), myo))
    for name in ("radial", "circumferential", "longitudinal"):
        assert np.allclose(results[0].components[name], results[1].components[name], atol=1e-5)


def test_longitudinal_stretch_in_3d():
    beta = 0.12
    geom, world, centre = _grid()
    _, _, w = _frame_coords(geom, world, centre)
    u = beta * w[..., None] * (-geom.direction[:, 2])
    myo = _annulus(geom, world, centre)
    strain = compute_strain(_series(u, geom), myo)
    assert np.allclose(strain.components["longitudinal"][1][myo], beta + beta ** 2 / 2, atol=1e-5)
    assert np.abs(strain.components["radial"][1][myo]).max() < 1e-5
    assert np.abs(strain.components["circumferential"][1][myo]).max() < 1e-5


def test_single_slice_has_only_in_plane_components():
    alpha = -0.1
    geom, world, centre = _grid(shape=(1, 40, 40), direction=OBLIQUE)
    a, b, _ = _frame_coords(geom, world, centre)
    u = alpha * (a[..., None] * geom.direction[:, 0] + b[..., None] * geom.direction[:, 1])
    myo = _annulus(geom, world, centre)
    F = deformation_gradient(_series(u, geom))
    n = geom.direction[:, 2]
    assert np.allclose(F[1] @ n, n, atol=1e-6)  # F_zz = 1 in the slice frame
    strain = compute_strain(_series(u, geom), myo)
    assert set(strain.components) == {"radial", "circumferential"}
    assert np.allclose(strain.components["circumferential"][1][myo], alpha + alpha ** 2 / 2, atol=1e-5)
    assert np.all(np.isnan(strain.segment_curves["radial"][1][[0, 12]]))  # single slice = mid level only
    assert np.all(np.isfinite(strain.segment_curves["radial"][1][6:12]))


def test_derivative_mask_keeps_garbage_outside_the_wall_out():
    geom, world, centre = _grid(shape=(1, 48, 48))
    alpha = 0.1
    a, b, _ = _frame_coords(geom, world, centre)
    u = alpha * (a[..., None] * geom.direction[:, 0] + b[..., None] * geom.direction[:, 1])
    myo = _annulus(geom, world, centre)
    u[~myo] = 0.0  # like DENSE: nothing measured outside the myocardium
    masked = compute_strain(_series(u, geom, mask=myo), myo)
    assert np.allclose(masked.components["radial"][1][myo], alpha + alpha ** 2 / 2, atol=1e-5)
    whole = compute_strain(_series(u, geom, mask=myo), myo, derivative_mask=None)
    assert np.abs(whole.components["radial"][1][myo] - (alpha + alpha ** 2 / 2)).max() > 0.1


def test_smoothing_reduces_noise():
    geom, world, centre = _grid(shape=(1, 48, 48))
    rng = np.random.default_rng(3)
    u = 0.05 * rng.standard_normal(world.shape)
    myo = _annulus(geom, world, centre)
    raw = compute_strain(_series(u, geom), myo)
    smooth = compute_strain(_series(u, geom), myo, smooth_mm=2.0)
    assert smooth.components["radial"][1][myo].std() < 0.3 * raw.components["radial"][1][myo].std()
    assert smooth.provenance["smooth_mm"] == 2.0
    with pytest.raises(CardioGenInputError):
        compute_strain(_series(u, geom), myo, smooth_mm=-1)


def test_lv_frame_and_local_directions():
    geom, world, centre = _grid(direction=OBLIQUE)
    myo = _annulus(geom, world, centre)
    c, e_long = lv_frame(myo, geom)
    assert np.allclose(c, centre, atol=1e-6)
    assert np.allclose(e_long, -OBLIQUE[:, 2])
    _, e_long2 = lv_frame(myo, geom, long_axis=[0, 0, 2])
    assert np.allclose(e_long2, [0, 0, 1])
    e_r, e_c, _ = radial_circumferential(myo, geom)
    rel = world - centre
    perp = rel - (rel @ e_long)[..., None] * e_long
    assert np.allclose(e_r[myo], (perp / np.linalg.norm(perp, axis=-1, keepdims=True))[myo], atol=1e-9)
    assert np.allclose(np.einsum("...i,...i", e_r, e_c)[myo], 0, atol=1e-12)
    assert np.allclose(e_c[myo], np.cross(e_long, e_r[myo]))
    with pytest.raises(CardioGenInputError):
        lv_frame(np.zeros((2, 4, 4), bool), geom)


def test_bad_inputs_raise_input_errors():
    geom, world, centre = _grid(shape=(1, 20, 20))
    disp = _series(np.zeros(world.shape), geom)
    with pytest.raises(CardioGenInputError):
        compute_strain(disp, np.zeros((1, 20, 20), bool))
    with pytest.raises(CardioGenInputError):
        compute_strain(disp, np.ones((1, 10, 10), bool))
    with pytest.raises(CardioGenInputError):
        compute_strain("not a displacement", np.ones((1, 20, 20), bool))


# ----------------------------------------------------------------------------------------------------------------
# Landmarks
# ----------------------------------------------------------------------------------------------------------------
def test_landmark_strain_of_a_segment_stretched_by_ten_percent():
    pts = np.array([[[0, 0, 0], [10, 0, 0]], [[0, 0, 0], [11, 0, 0]], [[1, 1, 1], [1, 1, 10]]], float)
    eps = landmark_strain(pts, np.array([[0, 1]]))
    assert eps.shape == (3, 1)
    assert eps[1, 0] == pytest.approx(0.105)
    assert eps[2, 0] == pytest.approx(0.5 * (81 - 100) / 100)
    with pytest.raises(CardioGenInputError):
        landmark_strain(pts, np.array([[0, 5]]))
    with pytest.raises(CardioGenInputError):
        landmark_strain(np.zeros((2, 2, 3)), np.array([[0, 1]]))


def test_radial_and_circumferential_landmark_pairs():
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    circle = np.stack([np.cos(ang), np.sin(ang), 0 * ang], -1)
    endo = np.stack([20 * circle, 18 * circle])  # (t, n, 3): endocardium shortens by 10 %
    epi = np.stack([30 * circle, 29 * circle])  # wall thickens from 10 to 11 mm
    points, circ, radial = radial_circumferential_pairs(endo, epi)
    assert points.shape == (2, 48, 3)
    assert circ.shape == (48, 2) and radial.shape == (24, 2)
    assert np.all(radial[:, 1] - radial[:, 0] == 24)  # nearest epi point = same angle
    eps_c = landmark_strain(points, circ)
    assert np.allclose(eps_c[1, :24], 0.5 * (0.81 - 1))
    assert np.allclose(landmark_strain(points, radial)[1], 0.105)


# ----------------------------------------------------------------------------------------------------------------
# AHA segments
# ----------------------------------------------------------------------------------------------------------------
def _aha_stack(n_slices=6, size=48, spacing=(1.0, 1.0, 8.0)):
    geom = Geometry(spacing=spacing)
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    r = np.hypot(xx - c, yy - c)
    ring = (r >= 10) & (r <= 18)
    return geom, np.repeat(ring[None], n_slices, axis=0), c


def _centroid(mask):
    k, j, i = np.nonzero(mask)
    return i.mean(), j.mean()


def test_aha_segments_full_annulus_stack():
    geom, myo, c = _aha_stack()
    seg = aha_segments(myo, geom)
    assert set(np.unique(seg[myo]).tolist()) == set(range(1, 17))
    assert np.all(seg[~myo] == 0)
    # slices 0-1 basal, 2-3 mid, 4-5 apical (slice 0 = base)
    assert set(np.unique(seg[:2][myo[:2]])) == set(range(1, 7))
    assert set(np.unique(seg[2:4][myo[2:4]])) == set(range(7, 13))
    assert set(np.unique(seg[4:][myo[4:]])) == set(range(13, 17))
    sizes = np.bincount(seg[myo], minlength=17)[1:]
    for group in (sizes[:6], sizes[6:12], sizes[12:]):
        assert group.max() / group.min() < 1.15
    x1, y1 = _centroid(seg == 1)
    assert y1 < c - 8 and abs(x1 - c) < 2  # anterior = image up (-y)
    x4, y4 = _centroid(seg == 4)
    assert y4 > c + 8 and abs(x4 - c) < 2  # inferior = down
    x2, y2 = _centroid(seg == 2)
    x3, y3 = _centroid(seg == 3)
    assert x2 < c and y2 < c and x3 < c and y3 > c  # septum on the image left
    x14, _ = _centroid(seg == 14)
    x16, _ = _centroid(seg == 16)
    assert x14 < c - 8 and x16 > c + 8


def test_aha_reference_from_rv_mask_and_long_axis_order():
    geom, myo, c = _aha_stack()
    rv = np.zeros_like(myo)
    rv[:, 0:6, 18:30] = True  # RV above the LV: the septum faces image up
    seg = aha_segments(myo, geom, rv_mask=rv)
    x1, y1 = _centroid(seg == 1)
    assert x1 > c + 8 and abs(y1 - c) < 2  # anterior now 90° clockwise on screen: image right
    assert seg[0, 9, 23] == 3 and seg[0, 9, 24] == 2  # top of the ring = septum centre (2|3 boundary)
    flipped = aha_segments(myo, geom, long_axis=[0, 0, 1])  # +z points to the base: slice 5 is basal
    assert set(np.unique(flipped[4:][myo[4:]])) == set(range(1, 7))
    assert set(np.unique(flipped[:2][myo[:2]])) == set(range(13, 17))
    explicit = aha_segments(myo, geom, base_to_apex_slices=[5, 4, 3, 2, 1, 0])
    assert np.array_equal(explicit, flipped)
    rotated = aha_segments(myo, geom, rv_insertion_deg=120.0 - 90.0)
    assert np.array_equal(rotated, seg)


def test_single_slice_is_mid_and_segment_means():
    geom, myo, _ = _aha_stack(n_slices=1)
    seg = aha_segments(myo, geom)
    assert set(np.unique(seg[myo]).tolist()) == set(range(7, 13))
    values = np.stack([seg.astype(float), 2.0 * seg])
    means = segment_means(values, seg)
    assert means.shape == (2, 16)
    assert np.allclose(means[0, 6:12], np.arange(7, 13))
    assert np.allclose(means[1, 6:12], 2 * np.arange(7, 13))
    assert np.all(np.isnan(means[:, :6])) and np.all(np.isnan(means[:, 12:]))
    with pytest.raises(CardioGenInputError):
        aha_segments(np.zeros((2, 5, 5), bool))


# ----------------------------------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------------------------------
def test_bullseye_layout():
    size = 201
    img = bullseye_image(np.arange(1, 17), size=size)
    assert img.shape == (size, size)
    assert np.isnan(img[0, 0]) and np.isnan(img[-1, -1])
    c = (size - 1) / 2

    def at(deg, rho):
        a = np.radians(deg)
        return img[int(round(c - rho * size / 2 * np.sin(a))), int(round(c + rho * size / 2 * np.cos(a)))]

    assert [at(d, 0.85) for d in (90, 150, 210, 270, 330, 30)] == [1, 2, 3, 4, 5, 6]
    assert [at(d, 0.5) for d in (90, 150, 210, 270, 330, 30)] == [7, 8, 9, 10, 11, 12]
    assert [at(d, 0.2) for d in (90, 180, 270, 0)] == [13, 14, 15, 16]
    with pytest.raises(CardioGenInputError):
        bullseye_image(np.arange(17))


def test_peak_values_and_curves_csv(tmp_path):
    n = 5
    comps = {"radial": np.zeros((n, 1, 8, 8)), "circumferential": np.zeros((n, 1, 8, 8))}
    curve_r = np.array([0.0, 0.1, 0.3, 0.2, 0.05])
    curve_c = np.array([0.0, -0.05, -0.12, -0.18, -0.02])
    for t in range(n):
        comps["radial"][t] = curve_r[t]
        comps["circumferential"][t] = curve_c[t]
    seg_curves = {"radial": np.tile(curve_r[:, None], (1, 16)), "global_radial": curve_r,
                  "circumferential": np.tile(curve_c[:, None], (1, 16)), "global_circumferential": curve_c}
    seg_curves["radial"][:, 15] = np.nan
    strain = StrainSeries(comps, frame_times=np.arange(n) * 30.0 + 10, segment_curves=seg_curves)
    peaks = peak_values(strain)
    assert peaks["radial"] == {"peak": pytest.approx(0.3), "time_ms": 70.0, "frame": 2}
    assert peaks["circumferential"]["peak"] == pytest.approx(-0.18)
    assert peaks["circumferential"]["time_ms"] == 100.0
    path = tmp_path / "out" / "curves.csv"
    write_curves_csv(strain, path)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    assert header[:3] == ["time_ms", "global_radial", "global_circumferential"]
    assert "radial_seg01" in header and "circumferential_seg16" in header
    assert len(header) == 3 + 32 and len(rows) == n + 1
    assert float(rows[3][header.index("global_circumferential")]) == pytest.approx(-0.12)
    assert rows[1][header.index("radial_seg16")] == "nan"
    assert [p.name for p in path.parent.iterdir()] == ["curves.csv"]  # no temporary file left
