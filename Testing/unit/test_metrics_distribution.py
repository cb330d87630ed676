"""cardiogen.metrics: Fréchet distance / KID on features, Dice / HD95 on label maps, phenotype distances."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.data import Geometry, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.metrics import (
    compare_phenotypes,
    dice,
    feature_stats,
    fid_from_features,
    frame_phenotypes,
    frechet_distance,
    hd95,
    kid_from_features,
    kl_divergence,
    mmd_rbf,
    pearson_r,
    wasserstein1,
)


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    mix = rng.standard_normal((32, 32)) / 6
    return rng.standard_normal((400, 32)) @ (np.eye(32) + mix), rng


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_shift_and_noise(feats):
    f, rng = feats
    assert fid_from_features(f, f) == pytest.approx(0.0, abs=1e-8)
    # fewer samples than dimensions: singular covariances stay finite and give 0 against themselves
    assert fid_from_features(f[:10], f[:10]) == pytest.approx(0.0, abs=1e-8)
    noise = rng.standard_normal(f.shape)
    values = [fid_from_features(f, f + s * noise) for s in (0.1, 0.3, 1.0, 3.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    shifted = [fid_from_features(f, f + s) for s in (0.1, 0.5, 1.0)]
    assert all(a < b for a, b in zip(shifted, shifted[1:]))
    assert shifted[1] == pytest.approx(32 * 0.25, rel=1e-6)  # pure mean shift: |Δμ|²


def test_frechet_distance_closed_forms_and_scipy_agreement(feats):
    # 1-D: (m1 - m2)² + (s1 - s2)²
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # diagonal covariances: Σ (√a - √b)²
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 16.0])
    assert frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(
        np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    f, rng = feats
    g = f[:200] * 1.3 + 0.2 * rng.standard_normal((200, 32))
    assert fid_from_features(f, g) == pytest.approx(fid_from_features(f, g, method="sqrtm"), rel=1e-6)
    # fewer samples than dimensions: the sample-matrix route equals the covariance route and scipy's sqrtm
    small_a, small_b = f[:20], g[:12] + 0.3
    via_stats = fid_from_features(feature_stats(small_a), feature_stats(small_b))
    assert fid_from_features(small_a, small_b) == pytest.approx(via_stats, rel=1e-6)
    assert fid_from_features(small_a, small_b, method="sqrtm") == pytest.approx(via_stats, rel=1e-5)
    with pytest.raises(CardioGenInputError, match="different dimensions"):
        fid_from_features(f, f[:, :5])
    with pytest.raises(CardioGenInputError, match="at least 2"):
        fid_from_features(f[:1], f)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_shift(feats):
    f, rng = feats
    far = kid_from_features(f, f + 0.6, subset_size=100, n_subsets=20)[0]
    # two samples of one distribution: scatters around 0
    mix = np.eye(32) + np.random.default_rng(0).standard_normal((32, 32)) / 6  # the fixture's mixing matrix
    other = np.random.default_rng(7).standard_normal((400, 32)) @ mix
    assert abs(kid_from_features(f, other, subset_size=100, n_subsets=20)[0]) < 0.05 * far
    # a set against itself: the O(1/m) closed form -(2/m)(mean k(x, x) - mean k(x, x')) <= 0
    k = (f @ f.T / 32 + 1) ** 3
    m = len(f)
    closed = -(2 / m) * (np.trace(k) / m - (k.sum() - np.trace(k)) / (m * (m - 1)))
    same, spread = kid_from_features(f, f, subset_size=m, n_subsets=2)
    assert same == pytest.approx(closed, rel=1e-9) and same <= 0 and abs(same) < 0.1 * far and spread < 1e-12
    values = [kid_from_features(f, f + s, subset_size=100, n_subsets=20)[0] for s in (0.3, 0.6, 1.0)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert kid_from_features(f, f + 0.3, seed=1, n_subsets=5)[0] == kid_from_features(f, f + 0.3, seed=1, n_subsets=5)[0]


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_dice_and_hd95_identity_and_known_shift():
    lab = np.zeros((2, 3, 40, 40), np.uint8)
    lab[:, :, 10:30, 10:30] = 2
    lab[:, :, 15:25, 15:25] = 1
    seg = Segmentation(lab, geometry=Geometry(spacing=(1.5, 1.5, 8.0)))
    assert dice(seg, seg) == {1: 1.0, 2: 1.0}
    assert hd95(seg, seg) == {1: 0.0, 2: 0.0}
    shifted = np.roll(lab, 2, axis=-1)  # 2 columns = 3 mm
    d = dice(shifted, lab)
    assert d[1] == pytest.approx(2 * 80 / 200) and 0 < d[2] < 1
    assert hd95(shifted, lab, spacing=(1.5, 1.5, 8.0), labels=[1], per_slice=True)[1] == pytest.approx(3.0)
    assert hd95(Segmentation(shifted, geometry=seg.geometry), seg, labels=[1])[1] == pytest.approx(3.0)
    # anisotropic spacing counts: columns 1.5 mm, rows 0.5 mm
    down = np.roll(lab, 2, axis=-2)
    assert hd95(down, lab, spacing=(1.5, 0.5, 8.0), labels=[1], per_slice=True)[1] == pytest.approx(1.0)
    # absent in both: undefined; absent in one: Dice 0, HD inf
    assert np.isnan(dice(lab, lab, labels=[3])[3]) and np.isnan(hd95(lab, lab, labels=[3])[3])
    empty = np.zeros_like(lab)
    assert dice(empty, lab, labels=[1])[1] == 0.0 and hd95(empty, lab, labels=[1])[1] == float("inf")
    with pytest.raises(CardioGenInputError, match="differ in shape"):
        dice(lab[0], lab)


def test_hd95_grows_with_boundary_error():
    ref = _disc((64, 64), (32, 32), 12).astype(np.uint8)
    values = [hd95(_disc((64, 64), (32, 32), 12 + r).astype(np.uint8), ref, spacing=(2.0, 2.0, 1.0))[1]
              for r in (1, 2, 4)]
    assert values == pytest.approx([2.0, 4.0, 8.0], abs=0.6)
    assert all(a < b for a, b in zip(values, values[1:]))


def test_phenotype_distances():
    rng = np.random.default_rng(3)
    x = rng.normal(120, 20, 300)
    assert pearson_r(x, 2 * x + 1)[0] == pytest.approx(1.0)
    assert pearson_r(x, -x)[0] == pytest.approx(-1.0)
    assert mmd_rbf(x, x) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein1(x, x) == 0.0 and kl_divergence(x, x) == pytest.approx(0.0, abs=1e-12)
    assert wasserstein1(x, x + 7) == pytest.approx(7.0)
    shifts = (2, 10, 30)
    for fn in (mmd_rbf, wasserstein1, kl_divergence):
        values = [fn(x, x + s) for s in shifts]
        assert all(a < b for a, b in zip(values, values[1:])), (fn.__name__, values)
    table = compare_phenotypes({"lvedv": x, "ef": x / 2}, {"lvedv": x + 5, "other": x})
    assert list(table) == ["lvedv"] and table["lvedv"]["wasserstein1"] == pytest.approx(5.0)
    with pytest.raises(CardioGenInputError, match="constant"):
        pearson_r(np.ones(5), x[:5])


def test_frame_phenotypes_of_a_disc():
    lab = np.zeros((64, 64), np.uint8)
    lab[_disc((64, 64), (32, 32), 10)] = 2
    lab[_disc((64, 64), (32, 32), 7)] = 1
    phen = frame_phenotypes(lab)
    assert phen[0] == pytest.approx(100 * (lab == 1).sum() / 4096)
    assert phen[1] == pytest.approx(100 * (lab == 2).sum() / 4096)
    assert phen[2] == pytest.approx(1.0, abs=0.02)
    ellipse = np.zeros((64, 64), np.uint8)
    yy, xx = np.mgrid[:64, :64]
    ellipse[((yy - 32) / 5.0) ** 2 + ((xx - 32) / 10.0) ** 2 <= 1] = 1
    assert frame_phenotypes(ellipse)[2] == pytest.approx(0.5, abs=0.03)
    assert frame_phenotypes(np.zeros((2, 8, 8), np.uint8)).shape == (2, 3)
def test_assd_of_concentric_spheres_is_their_radius_gap():
    """Surfaces of spheres of radius 8 and 11 mm (1 mm voxels) lie 3 mm apart everywhere: ASSD ≈ 3 mm, ≤ HD95; a label
    in one map only is inf, in neither NaN; anisotropic spacing is honoured."""
    import numpy as np

    from cardiogen.metrics.segmentation import assd, hd95

    z, y, x = np.mgrid[:40, :40, :40] - 19.5
    r = np.sqrt(x**2 + y**2 + z**2)
    a, b = (r < 8).astype(np.uint8), (r < 11).astype(np.uint8)
    d = assd(a, b)[1]
    assert abs(d - 3.0) < 0.6 and d <= hd95(a, b)[1] + 1e-9
    assert assd(a, a)[1] == 0.0
    assert assd(a, np.zeros_like(a), labels=[1])[1] == float("inf")
    assert np.isnan(assd(np.zeros_like(a), np.zeros_like(a), labels=[1])[1])
    assert abs(assd(a, b, spacing=(2.0, 2.0, 2.0))[1] - 2 * d) < 1e-9


def test_improved_precision_recall_of_shifted_and_collapsed_sets():
    """Same distribution: both near 1; a generator that covers only a corner: precision high, recall low; one off the
    real manifold: precision near 0."""
    import numpy as np

    from cardiogen.metrics.distribution import improved_precision_recall

    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    p, r = improved_precision_recall(real, rng.normal(size=(300, 4)), k=3)
    assert p > 0.85 and r > 0.85
    corner = 0.2 * rng.normal(size=(300, 4)) + 1.0
    p, r = improved_precision_recall(real, corner, k=3)
    assert p > 0.9 and r < 0.3
    p, r = improved_precision_recall(real, rng.normal(size=(300, 4)) + 8.0, k=3)
    assert p < 0.05 and r < 0.05
    with pytest.raises(CardioGenInputError):
        improved_precision_recall(real, real[:, :3])
