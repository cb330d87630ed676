"""The cardiac feature network (shipped weights cardiac-features-64) and the distances computed with it:
cFID, cKID, cFVD, LPIPS-style; its segmentation on held-out phantom frames; the training spec."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import ndimage  # noqa: E402

import cardiogen.train.specs_metrics as specs_metrics  # noqa: E402,F401 - registers "cardiac_features"
from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.metrics import (  # noqa: E402
    cardiac_fid,
    cardiac_fvd,
    cardiac_kid,
    cardiac_lpips,
    clip_descriptors,
    dice,
    embed_frames,
    fid_from_features,
    frame_phenotypes,
    kid_from_features,
    load_feature_network,
    predict_phenotypes,
    prepare_frames,
    segment_frames,
)
from cardiogen.phantom import PhantomConfig, make_case  # noqa: E402
from cardiogen.weights import Registry  # noqa: E402

NOISE = (0.02, 0.05, 0.1, 0.2)  # Gaussian noise sigma, fraction of the 99th intensity percentile
BLUR = (0.5, 1.0, 1.5, 2.0)  # Gaussian blur sigma, pixels (stronger blur leaves blobs: features saturate)


def _cases(seeds, frames=8, slices=10):
    return [make_case(PhantomConfig(seed=s, size=64, frames=frames, slices=slices, modalities=("cine",)))
            for s in seeds]


@pytest.fixture(scope="module")
def net():
    return load_feature_network()


@pytest.fixture(scope="module")
def heldout():
    """Phantom cases never used in training (train seeds 0-47) or in the registry's evaluation (1000-1007)."""
    cases = _cases((2000, 2001, 2002))
    cine = np.stack([c.cine.array for c in cases])  # (case, t, z, y, x)
    labels = np.stack([c.truth.masks.labels for c in cases])
    return cine, labels


def _noisy(x, level, seed=0):
    scale = np.percentile(x, 99)
    return x + level * scale * np.random.default_rng(seed).standard_normal(x.shape)


def _blur(x, sigma):
    return ndimage.gaussian_filter(x, [0] * (x.ndim - 2) + [sigma, sigma])


def _increasing(values):
    return all(a < b for a, b in zip(values, values[1:]))


def test_shipped_weights_are_registered_small_and_verified():
    registry = Registry()
    entry = registry.default_for("metrics")
    assert entry.id == "cardiac-features-64"
    assert registry.verify(entry.id) == [(entry.id, True, "ok")]
    assert entry.size_bytes < 3_000_000
    assert entry.training_command.startswith("cardiogen train cardiac_features")
    assert entry.metrics["dice_mean"] > 0.8 and "real_heldout" in entry.metrics


def test_segmentation_dice_on_heldout_phantom_frames_above_0_8(net, heldout):
    cine, labels = heldout
    frames = cine.reshape(-1, 64, 64)  # 3 cases x 8 frames x 10 slices
    pred = segment_frames(frames, net)
    assert pred.shape == (240, 64, 64) and pred.dtype == np.uint8
    scores = dice(pred, labels.reshape(-1, 64, 64), labels=(1, 2, 3, 4))
    assert np.mean(list(scores.values())) > 0.8, scores
    assert scores[1] > 0.85 and scores[2] > 0.75, scores
    # the phenotype head follows the truth of the frames
    true = frame_phenotypes(labels.reshape(-1, 64, 64))
    pred_phen = predict_phenotypes(frames, net)
    assert np.corrcoef(pred_phen[:, 0], true[:, 0])[0, 1] > 0.8


def test_distances_are_zero_for_a_set_against_itself(net, heldout):
    cine, _ = heldout
    frames = cine[0].reshape(-1, 64, 64)
    assert cardiac_fid(frames, frames, net) == pytest.approx(0.0, abs=1e-6)
    assert cardiac_fvd(cine[0], cine[0], net) == pytest.approx(0.0, abs=1e-6)
    assert cardiac_lpips(frames, frames, net) == 0.0
    # KID of a set with itself is the small O(1/m) negative bias of the unbiased estimator (see distribution.py)
    same, _ = cardiac_kid(frames, frames, net, subset_size=80, n_subsets=10)
    white = np.random.default_rng(0).random(frames.shape) * frames.max()
    far, _ = cardiac_kid(frames, white, net, subset_size=80, n_subsets=10)
    assert same <= 0 and abs(same) < 0.05 * far


def test_distances_grow_with_noise_and_with_blur(net, heldout):
    cine, _ = heldout
    videos = [cine[0][:, 2:8]]  # 6 mid-ventricular clips of 8 frames
    ref = videos[0].reshape(-1, 64, 64)  # their 48 frames
    e_ref, d_ref = embed_frames(ref, net), clip_descriptors(videos, net)
    for kind, levels, fn in (("noise", NOISE, _noisy), ("blur", BLUR, _blur)):
        fid, kid, lp, fvd = [], [], [], []
        for level in levels:
            moved = [fn(v, level) for v in videos]
            frames = moved[0].reshape(-1, 64, 64)
            e = embed_frames(frames, net)
            fid.append(fid_from_features(e_ref, e))
            kid.append(kid_from_features(e_ref, e, subset_size=len(e), n_subsets=1)[0])
            lp.append(cardiac_lpips(frames, ref, net))
            fvd.append(fid_from_features(d_ref, clip_descriptors(moved, net)))
        for name, values in (("cFID", fid), ("cKID", kid), ("LPIPS", lp), ("cFVD", fvd)):
            assert _increasing(values), (kind, name, values)
        assert min(fid[0], lp[0], fvd[0]) > 0 and kid[-1] > 0, (fid, lp, fvd, kid)


def test_phantom_vs_other_seeds_is_closer_than_phantom_vs_noise(net, heldout):
    cine, _ = heldout
    a = cine[0].reshape(-1, 64, 64)
    b = cine[1:].reshape(-1, 64, 64)
    rng = np.random.default_rng(1)
    white = rng.random(a.shape) * a.max()
    smooth = _blur(rng.random(a.shape), 3.0) * a.max()  # blobs: harder than white noise
    other = cardiac_fid(a, b, net)
    assert other < cardiac_fid(a, white, net)
    assert other < cardiac_fid(a, smooth, net)
    # motion matters for cFVD: shuffling the frames of each clip moves the clips away
    shuffled = [c[np.random.default_rng(2).permutation(c.shape[0])] for c in cine[1:]]
    assert cardiac_fvd([cine[0]], list(cine[1:]), net) < cardiac_fvd([cine[0]], shuffled, net)


def test_prepare_frames_sizes_gain_offset_and_errors(net, heldout):
    cine, _ = heldout
    frames = cine[0, :2].reshape(-1, 64, 64)
    assert prepare_frames(frames).shape == (20, 1, 64, 64)
    big = torch.nn.functional.interpolate(torch.from_numpy(frames)[:, None], size=(128, 128), mode="bilinear")
    assert prepare_frames(big).shape == (20, 1, 64, 64)
    assert prepare_frames(np.zeros((2, 32, 48)) + np.arange(48)).shape == (2, 1, 64, 64)
    # arbitrary MR units: gain and offset do not change the embedding
    e1, e2 = embed_frames(frames, net), embed_frames(frames * 3.0 + 100.0, net)
    assert np.allclose(e1, e2, atol=1e-3 * np.abs(e1).max())
    # 128-px frames of the same anatomy land near the 64-px ones
    assert cardiac_fid(frames, big, net) < 0.2 * cardiac_fid(frames, _noisy(frames, NOISE[-1]), net)
    with pytest.raises(CardioGenInputError, match="paired frames"):
        cardiac_lpips(frames, frames[:3], net)
    with pytest.raises(CardioGenInputError, match="at least 2 frames"):
        cardiac_fvd([frames[:1]], [frames[:1]], net)


def test_training_spec_batches_are_pure_and_tiny_training_reloads(tmp_path):
    from cardiogen.train import load_config, train

    cfg = load_config("cardiac_features_tiny.yaml")
    spec = specs_metrics.CardiacFeaturesSpec()
    b1, b2, b3 = spec.batch(cfg, 5, 0, 1), spec.batch(cfg, 5, 0, 1), spec.batch(cfg, 6, 0, 1)
    assert all(torch.equal(b1[k], b2[k]) for k in b1)
    assert not torch.equal(b1["image"], b3["image"])
    assert b1["image"].shape == (4, 1, 32, 32) and b1["allowed"].shape == (4, 5, 32, 32)
    assert torch.equal(b1["allowed"].sum(1), torch.ones(4, 32, 32, dtype=torch.long))  # phantom: one class each
    result = train("cardiac_features", cfg, tmp_path / "run", command="pytest tiny")
    assert "dice" in result.metrics and result.metrics["heldout_seeds"] == [1000]
    model = load_feature_network(result.weights)
    assert model.config.channels == (8, 16) and model.config.size == 32
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert embed_frames(np.random.default_rng(0).random((3, 40, 40)), model).shape == (3, 16)


def test_partial_labels_of_real_frames():
    labels = np.zeros((2, 8, 8), np.uint8)
    labels[:, 2:6, 2:6] = 2
    labels[:, 3:5, 3:5] = 1
    labels[1][labels[1] == 2] = 0  # an end-systolic frame: endocardium only
    allowed = specs_metrics.allowed_classes(labels, np.array([True, True]), np.array([True, False]))
    assert allowed[0, :, 0, 0].tolist() == [True, False, False, True, True]  # outside the LV: bg or RV
    assert allowed[1, :, 0, 0].tolist() == [True, False, True, True, True]  # myocardium unknown too
    assert allowed[0, :, 3, 3].tolist() == [False, True, False, False, False]


@pytest.mark.realdata
def test_real_sunnybrook_heldout_frames(net, shared_data):
    spec = specs_metrics.CardiacFeaturesSpec()
    cfg = {"data": {"real": True}}
    real = spec._real(spec._data(cfg), heldout=True)
    if not len(real["images"]):
        pytest.skip("Sunnybrook sample not found")
    pred = segment_frames(real["images"], net)
    blood = dice(pred == 1, real["labels"] == 1, labels=(1,))[1]
    assert blood > 0.7, blood
