"""The crop-level cardiac feature network (shipped weights cardiac-features-crop-32), its corruptions and its
training spec: it must see on 32-px LV crops what the whole-frame network, padded, did not (saturated noise)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import cardiogen.train.specs_metrics as specs_metrics  # noqa: E402 - registers "cardiac_features_crop"
from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.metrics import (  # noqa: E402
    cardiac_fid,
    cardiac_fvd,
    dice,
    load_feature_network,
    predict_quality,
    segment_frames,
)
from cardiogen.metrics.corruptions import ANATOMY_KEPT, CORRUPTIONS, SEVERITY, corrupt  # noqa: E402
from cardiogen.metrics.features import normalise_frames  # noqa: E402
from cardiogen.weights import Registry  # noqa: E402

CROP_ID = "cardiac-features-crop-32"


@pytest.fixture(scope="module")
def net():
    return load_feature_network(CROP_ID)


@pytest.fixture(scope="module")
def crops():
    """LV crops of held-out phantoms (training seeds 0-47, registry evaluation 1000-1007): two disjoint sets."""
    a = specs_metrics.phantom_crop_pool((2000, 2001), 32, 64, 8, 10)
    b = specs_metrics.phantom_crop_pool((2002, 2003), 32, 64, 8, 10)
    return a, b


def _corrupted(images: np.ndarray, kind: str, severity: float, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    x = normalise_frames(torch.from_numpy(images[:, None].astype(np.float32)))
    return torch.cat([corrupt(x[i:i + 1], kind, severity, rng) for i in range(len(x))])


def test_corruptions_change_frames_as_documented():
    rng = np.random.default_rng(0)
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(corrupt(x, "clean", 0.0, rng), x)
    saturated = corrupt(x, "saturated", 0.5, rng)
    assert set(saturated.unique().tolist()) <= {0.0, 1.0}
    washed = corrupt(x, "washout", 0.6, rng)
    assert washed.max() <= 1.0 and washed.min() >= 0.6 - 1e-6 and (washed == 1.0).float().mean() > 0.3
    blurred = corrupt(x, "blur", 2.0, rng)
    assert blurred.shape == x.shape and blurred.std() < 0.5 * x.std()
    for kind in CORRUPTIONS[1:]:
        one = corrupt(x, kind, np.mean(SEVERITY[kind]), np.random.default_rng(3))
        two = corrupt(x, kind, np.mean(SEVERITY[kind]), np.random.default_rng(3))
        assert torch.equal(one, two) and not torch.equal(one, x), kind
    with pytest.raises(CardioGenInputError, match="unknown corruption"):
        corrupt(x, "jpeg", 0.5, rng)


def test_crop_spec_batches_are_pure_corrupted_and_tiny_training_reloads(tmp_path):
    from cardiogen.train import load_config, train

    cfg = load_config("cardiac_features_crop_tiny.yaml")
    spec = specs_metrics.CardiacFeaturesCropSpec()
    b1, b2 = spec.batch(cfg, 7, 0, 1), spec.batch(cfg, 7, 0, 1)
    assert all(torch.equal(b1[k], b2[k]) for k in b1)
    assert b1["image"].shape == (8, 1, 16, 16) and b1["quality"].shape == (8,)
    kept = [CORRUPTIONS.index(k) for k in ANATOMY_KEPT]
    assert torch.equal(b1["anatomy"], torch.from_numpy(np.isin(b1["quality"].numpy(), kept)))
    qualities = torch.cat([spec.batch(cfg, s, 0, 1)["quality"] for s in range(10)])
    assert 0.3 < float((qualities > 0).float().mean()) < 0.7 and int(qualities.max()) < len(CORRUPTIONS)
    result = train("cardiac_features_crop", cfg, tmp_path / "run", command="pytest tiny")
    assert set(result.metrics["quality_accuracy"]) == set(CORRUPTIONS)
    assert "clean_vs_other_phantoms" in result.metrics["cfid_corrupted_vs_clean"]
    model = load_feature_network(result.weights)
    assert model.config.quality == len(CORRUPTIONS) and model.config.size == 16
    assert predict_quality(np.random.default_rng(0).random((3, 20, 20)), model).shape == (3, len(CORRUPTIONS))


def test_crop_spec_needs_one_quality_class_per_corruption():
    from cardiogen.train import load_config

    cfg = load_config("cardiac_features_crop_tiny.yaml")
    cfg["model"]["quality"] = 0
    with pytest.raises(CardioGenInputError, match="one class per corruption"):
        specs_metrics.CardiacFeaturesCropSpec().build(cfg)


def test_quality_needs_a_network_with_the_head():
    with pytest.raises(CardioGenInputError, match="no quality head"):
        predict_quality(np.zeros((1, 32, 32)), load_feature_network())


def test_shipped_crop_network_is_registered_but_not_the_default():
    registry = Registry()
    entry = registry.get(CROP_ID)
    assert entry.pipeline == "metrics" and registry.default_for("metrics").id != CROP_ID
    assert registry.verify(CROP_ID) == [(CROP_ID, True, "ok")]
    assert entry.training_command.startswith("cardiogen train cardiac_features_crop")
    assert entry.config["model"]["quality"] == len(CORRUPTIONS) and entry.size_bytes < 3_000_000


def test_segments_heldout_crops(net, crops):
    images, labels = crops[0]
    pred = segment_frames(images, net)
    assert pred.shape == images.shape
    lv = dice(np.isin(pred, (1, 2)).astype(np.uint8), np.isin(labels, (1, 2)).astype(np.uint8), labels=[1])[1]
    assert lv > 0.85, lv


def test_sees_corruptions_that_the_padded_whole_frame_network_missed(net, crops):
    (a, _), (b, _) = crops
    floor = cardiac_fid(a, b, net)
    assert cardiac_fid(a, a, net) == pytest.approx(0.0, abs=1e-6)
    # the regression of the reverted sampler change: saturated binary noise must be far from cine
    for kind in CORRUPTIONS[1:]:
        far = cardiac_fid(a, _corrupted(b, kind, np.mean(SEVERITY[kind])), net)
        assert far > 10 * floor, (kind, far, floor)
    # the quality head names them on held-out crops
    for k, kind in enumerate(CORRUPTIONS):
        moved = _corrupted(b, kind, np.mean(SEVERITY[kind]), seed=1)
        share = float((predict_quality(moved, net).argmax(1) == k).mean())
        assert share > 0.8, (kind, share)


def test_distances_grow_with_noise(net, crops):
    (a, _), (b, _) = crops
    fid = [cardiac_fid(a, _corrupted(b, "noise", s), net) for s in (0.0, 0.03, 0.1, 0.3)]
    assert all(x < y for x, y in zip(fid, fid[1:])), fid
    clips = [c for c in a.reshape(-1, 8, 32, 32)]
    noisy = [_corrupted(c, "noise", 0.2).numpy()[:, 0] for c in clips]
    assert cardiac_fvd(clips[:4], clips[4:], net) < cardiac_fvd(clips[:4], noisy[4:], net)


def test_quality_summary_of_a_clean_and_of_a_failed_video(net, crops):
    from cardiogen.metrics import quality_summary

    (a, labels), _ = crops
    clips = a.reshape(-1, 8, 32, 32)  # one slice over 8 frames each, base to apex
    clip = clips[int(np.argmax(np.isin(labels, (1, 2)).reshape(len(clips), -1).mean(1)))]  # mid-ventricular
    assert quality_summary(clip, net) == {"clean_frames": 1.0, "main_problem": None, "lv_frames": 1.0}
    saturated = quality_summary(_corrupted(clip, "saturated", 0.6), net)
    assert saturated["clean_frames"] == 0.0 and saturated["main_problem"] == "saturated"
    ramp = np.mgrid[0:4, 0:32, 0:32][2] / 31.0  # smooth frames without a ventricle
    assert quality_summary(ramp, net)["lv_frames"] == 0.0
