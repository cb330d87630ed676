"""Seed 001, chapter 5: the image + mask autoencoder of short-axis stacks (issue 20.1) — data, input encoding, loss,
3D attention and the reconstruction metrics, against known truth."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiogen.models.heart3d import (NUM_CLASSES, es_frame, heart_ae_loss, reconstruction_metrics, split_output,
                                      stack_labels, stack_pool, to_input)
from cardiogen.nets.blocks import VolumeSelfAttention
from cardiogen.nets.video_vae import VideoVAE, VideoVAEConfig


def test_stack_pool_keeps_ed_and_es_with_the_standard_classes():
    pool = stack_pool((0,), slices=4, size=32)
    assert pool["image"].shape == (2, 4, 32, 32) and pool["labels"].shape == (2, 4, 32, 32)
    assert list(pool["phase"]) == ["ed", "es"] and list(pool["seed"]) == [0, 0]
    assert set(np.unique(pool["labels"])) <= set(range(NUM_CLASSES)) and {1, 2, 3} <= set(np.unique(pool["labels"]))
    lv = (pool["labels"] == 1).sum(axis=(1, 2, 3))
    assert lv[1] < 0.8 * lv[0]  # end-systole: a smaller LV blood pool than end-diastole
    assert -1.6 <= pool["image"].min() and pool["image"].max() <= 1.6
    assert pool["spacing"].shape == (2, 3) and pool["spacing"][0, 2] > pool["spacing"][0, 0]  # thick slices
    with pytest.raises(ValueError, match="phases"):
        stack_pool((0,), 4, 32, ("mid",))


def test_label_mapping_and_es_frame():
    lab = np.array([0, 1, 2, 3, 4, 5, 9, 14])
    np.testing.assert_array_equal(stack_labels(lab), [0, 1, 2, 3, 4, 0, 0, 0])
    cine = np.zeros((5, 1, 4, 4), np.uint8)
    for t, n in enumerate((9, 6, 3, 5, 8)):
        cine[t, 0].flat[:n] = 1
    assert es_frame(cine) == 2


def test_input_is_image_plus_one_hot_mask_and_bad_input_is_refused():
    img = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    lab = np.random.default_rng(1).integers(0, NUM_CLASSES, size=(2, 3, 8, 8))
    x = to_input(img, lab)
    assert x.shape == (2, 1 + NUM_CLASSES, 3, 8, 8)
    np.testing.assert_allclose(x[:, 0].numpy(), img)
    assert torch.equal(x[:, 1:].argmax(1), torch.from_numpy(lab)) and torch.all(x[:, 1:].sum(1) == 1)
    with pytest.raises(ValueError, match="both be"):
        to_input(img, lab[:, :2])
    with pytest.raises(ValueError, match="labels must be"):
        to_input(img, lab + NUM_CLASSES)


def test_loss_terms_are_l1_cross_entropy_and_kl():
    from cardiogen.nets.video_vae import VAEOutput

    lab = torch.randint(0, NUM_CLASSES, (1, 2, 4, 4))
    x = to_input(torch.zeros(1, 2, 4, 4), lab)
    recon = x.clone()
    recon[:, 0] += 0.25
    recon[:, 1:] *= 30.0  # confident, correct logits: cross-entropy ≈ 0
    out = VAEOutput(recon, torch.zeros(1, 4, 1, 1, 1), torch.zeros(1, 4, 1, 1, 1), torch.zeros(1, 4, 1, 1, 1))
    total, logs = heart_ae_loss(out, x, lab, beta=1e-4)
    assert abs(logs["l1"] - 0.25) < 1e-6 and logs["ce"] < 1e-6 and logs["kl"] == 0.0
    out.recon[:, 1:] = 0.0  # uniform logits: cross-entropy = log K
    _, logs = heart_ae_loss(out, x, lab)
    assert abs(logs["ce"] - np.log(NUM_CLASSES)) < 1e-5
    image, logits = split_output(torch.full((1, 1 + NUM_CLASSES, 2, 4, 4), 3.0))
    assert image.max() == 1.0 and logits.shape == (1, NUM_CLASSES, 2, 4, 4)


def test_volume_attention_starts_as_identity_and_mixes_all_positions():
    torch.manual_seed(0)
    att = VolumeSelfAttention(8, heads=2, groups=4)
    x = torch.randn(1, 8, 2, 3, 3)
    torch.testing.assert_close(att(x), x)  # zero-initialised output projection
    torch.nn.init.normal_(att.out.weight, std=0.5)
    y0 = att(x)
    x2 = x.clone()
    x2[0, :, 1, 2, 2] += 3.0  # one position of another slice changes ...
    assert not torch.allclose(att(x2)[0, :, 0, 0, 0], y0[0, :, 0, 0, 0])  # ... the output everywhere


def test_autoencoder_learns_a_stack_and_its_mask():
    """A small VAE with bottleneck attention overfits two phantom stacks: the decoded mask agrees with the truth
    (Dice) far better than at the start, and the metrics have the expected keys and ranges."""
    torch.manual_seed(0)
    pool = stack_pool((0,), slices=4, size=32)
    vae = VideoVAE(VideoVAEConfig(in_channels=1 + NUM_CLASSES, channels=(8, 8), latent_channels=4, groups=4,
                                  conv="factorised", mid_attention=True, heads=2))
    before = reconstruction_metrics(vae.eval(), pool["image"], pool["labels"], pool["spacing"])
    opt = torch.optim.Adam(vae.parameters(), lr=5e-3)
    x, lab = to_input(pool["image"], pool["labels"]), torch.from_numpy(pool["labels"].astype(np.int64))
    vae.train()
    for _ in range(80):
        loss, _ = heart_ae_loss(vae(x, generator=torch.Generator().manual_seed(0)), x, lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = reconstruction_metrics(vae.eval(), pool["image"], pool["labels"], pool["spacing"])
    lv = after["classes"]["LV blood pool"]
    assert lv["dice"]["mean"] > 0.65 > before["classes"]["LV blood pool"]["dice"]["mean"] + 0.3
    assert after["psnr_db"]["mean"] > before["psnr_db"]["mean"] + 5 and after["ssim"]["mean"] > 0.3
    assert 0 <= lv["assd_mm"]["mean"] <= lv["hd95_mm"]["mean"] < 15.0


def test_latent_diffusion_trains_on_the_frozen_autoencoder_and_samples_stacks_with_masks(tmp_path, monkeypatch):
    """heart_ae and heart_ldm (tiny configs, a few steps) train into a user registry; DDIM then draws stacks with
    masks on the autoencoder's grid, seeded per sample, and the denoiser refuses latents of another grid."""
    from cardiogen.models.heart3d import load_heart_ae
    from cardiogen.models.heart_ldm import HeartLDM, generate, load_heart_ldm, sample_latents
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    user = tmp_path / "user"
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(user))
    train("heart_ae", load_config("heart_ae_tiny.yaml"), tmp_path / "ae", register_dir=user)
    train("heart_ldm", load_config("heart_ldm_tiny.yaml"), tmp_path / "ldm", register_dir=user)
    reg = Registry()
    entry = reg.get("heart-ldm-tiny")
    assert entry.geometry["slices"] == 4 and entry.geometry["matrix"] == 32
    assert 0 <= entry.metrics["mask_image_dice"] <= 1 and entry.metrics["lv_blood_ml_heldout"] > 0
    ae = load_heart_ae("heart-ae-tiny")
    model = load_heart_ldm("heart-ldm-tiny", ae.config)
    assert isinstance(model, HeartLDM)
    assert (model.config.depth, model.config.size) == (4 // ae.config.temporal_factor, 32 // ae.config.spatial_factor)
    assert float(model.latent_scale) != 1.0  # fitted on the training latents
    images, masks = generate(model, ae, 2, steps=3, seed=5)
    assert images.shape == masks.shape == (2, 4, 32, 32) and masks.dtype == np.uint8 and masks.max() < NUM_CLASSES
    one = sample_latents(model, 1, steps=3, seed=6)
    torch.testing.assert_close(one[0], sample_latents(model, 2, steps=3, seed=5)[1])  # sample i: seed + i
    with pytest.raises(ValueError, match="z must be"):
        model(torch.zeros(1, 4, 3, 8, 8), torch.zeros(1))

    # the heart_3d pipeline on these weights: a stack and its segmentation, both marked synthetic, on the trained grid
    from cardiogen.pipelines import get_pipeline, heart_3d

    heart_3d._models.cache_clear()
    out = get_pipeline("heart_3d").load("heart-ldm-tiny", "cpu").run({}, {"seed": 5, "steps": 3})
    image, seg = out["image"], out["segmentation"]
    assert image.synthetic and seg.synthetic and "SYNTHETIC" in image.description
    assert image.array.shape == (1, 4, 32, 32) and seg.labels.shape == (1, 4, 32, 32)
    np.testing.assert_array_equal(seg.labels[0], masks[0])  # seed 5 = the first stack drawn above
    lo, hi = entry.geometry["pixel_mm_range"]
    assert lo <= image.geometry.spacing[0] <= hi and seg.geometry.spacing == image.geometry.spacing
    prov = image.provenance
    assert prov["weights"] == "heart-ldm-tiny" and prov["autoencoder"] == "heart-ae-tiny" and prov["seed"] == 5
    assert prov["sampler"] == "DDIM-3" and len(prov["weights_sha256"]) == 64 and seg.provenance["seed"] == 5

    # the CLI writes both, and they read back

    from cardiogen import io
    from cardiogen.cli import main

    assert main(["heart-3d", "--weights", "heart-ldm-tiny", "--seed", "5", "--steps", "3", "--device", "cpu",
                 "--out", str(tmp_path / "heart"), "--quiet"]) == 0
    back = io.load(tmp_path / "heart" / "segmentation.seg.nrrd", kind="segmentation")
    np.testing.assert_array_equal(back.labels, seg.labels)
    assert io.load(tmp_path / "heart" / "image.nrrd").array.shape == (1, 4, 32, 32)
    heart_3d._models.cache_clear()


def test_real_sunnybrook_stacks_for_the_autoencoder(shared_data):
    """The real stacks the benchmark feeds the autoencoder: each case's contoured ED slices on the autoencoder's
    pixel, cropped around the LV, with LV blood and myocardium from the manual contours."""
    from cardiogen.models.heart3d import sunnybrook_stacks

    r = sunnybrook_stacks(shared_data / "cine_sunnybrook", 2.9)
    assert r["image"].shape == r["labels"].shape == (3, 8, 64, 64) and len(r["case"]) == 3
    assert r["image"].min() >= -1.0 and r["image"].max() <= 1.5  # as the phantom stacks (normalise_minus1_1)
    for lab in r["labels"]:
        assert set(np.unique(lab)) == {0, 1, 2}  # no RV: it is not contoured
        assert ((lab == 2).sum(axis=(1, 2)) > 0).all()  # myocardium on every slice
        centre = np.argwhere(lab > 0)[:, 1:].mean(0)
        assert np.abs(centre - 32).max() < 6  # cropped around the LV
    assert np.allclose(r["spacing"][:, :2], 2.9)


def test_3d_lsgan_baseline_trains_in_the_latent_space_and_decodes_stacks(tmp_path, monkeypatch):
    """Table 5.1's LSGAN baseline (tiny config): trained on the frozen autoencoder's latents into a user registry,
    reloaded by its id, its samples decoded into stacks and masks on the autoencoder's grid."""
    from cardiogen.models.heart3d import decode_stacks, load_heart_ae
    from cardiogen.models.heart4d_baselines import load_stack_gan, sample_baseline
    from cardiogen.train import load_config, train

    user = tmp_path / "user"
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(user))
    train("heart_ae", load_config("heart_ae_tiny.yaml"), tmp_path / "ae", register_dir=user)
    train("heart_lsgan", load_config("heart_lsgan_tiny.yaml"), tmp_path / "gan", register_dir=user)
    gan = load_stack_gan("heart-lsgan-tiny")
    ae = load_heart_ae("heart-ae-tiny")
    z = sample_baseline(gan, [None] * 2, seed=1)
    assert tuple(z.shape) == (2, ae.config.latent_channels, 4 // ae.config.temporal_factor,
                              32 // ae.config.spatial_factor, 32 // ae.config.spatial_factor)
    images, masks = decode_stacks(ae, z)
    assert images.shape == masks.shape == (2, 4, 32, 32) and masks.max() < NUM_CLASSES
    torch.testing.assert_close(sample_baseline(gan, [None], seed=2)[0], z[1])  # sample i: seed + i
