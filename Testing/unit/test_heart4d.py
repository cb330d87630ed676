"""Conditional 4D latent diffusion of whole hearts (seed 001, chapter 6; issue 20.3-20.5)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiogen.models.heart4d import (FACTORS, GRID, PHENOTYPES, DemographicEncoder, condition_vector,
                                      cycle_phenotypes, drop_conditions, pack, render_cycle, unpack)


def test_condition_vector_normalises_and_marks_missing_factors():
    """Known factors give (normalised value, 1), unknown ones (0, 0); sex M/F = ±1; bad values are refused."""
    cond = condition_vector([dict(age=70, sex="F", height_cm=None, smoking=True), None])
    assert cond.shape == (2, len(FACTORS), 2)
    names = [f.name for f in FACTORS]
    age, sex, height, smoking = (names.index(k) for k in ("age", "sex", "height_cm", "smoking"))
    assert cond[0, age].tolist() == pytest.approx([(70 - 55) / 15, 1.0])
    assert cond[0, sex].tolist() == [-1.0, 1.0] and cond[0, smoking].tolist() == [1.0, 1.0]
    assert cond[0, height].tolist() == [0.0, 0.0] and float(cond[1].abs().sum()) == 0.0
    with pytest.raises(ValueError, match="outside the range"):  # the phantom population is 25-80 years old
        condition_vector([dict(age=18)])
    with pytest.raises(ValueError, match="body-mass index of 51.0"):  # each in range, together outside BMI 18-42
        condition_vector([dict(height_cm=150, weight_kg=114.75)])
    condition_vector([dict(height_cm=150, weight_kg=90)])  # BMI 40: known
    with pytest.raises(ValueError, match="unknown conditions"):
        condition_vector([dict(shoe_size=44)])
    with pytest.raises(ValueError, match="'M' or 'F'"):
        condition_vector([dict(sex="X")])


def test_encoder_gives_one_token_per_factor_and_missing_is_its_own_token():
    enc = DemographicEncoder(len(FACTORS), 16)
    cond = condition_vector([dict(age=40), dict(age=80), None])
    tok = enc(cond)
    assert tok.shape == (3, len(FACTORS) + 1, 16)
    assert not torch.allclose(tok[0, 0], tok[1, 0])          # age moves its token
    torch.testing.assert_close(tok[0, 1:-1], tok[2, 1:-1])   # the other factors: missing in both
    g = torch.Generator().manual_seed(0)
    dropped = drop_conditions(condition_vector([dict(age=40, sex="M")] * 400), g, 0.5, 0.0)
    frac = float((dropped[:, 0, 1] == 0).float().mean())
    assert 0.4 < frac < 0.6 and torch.equal(dropped[:, 0, 1] == 0, dropped[:, 1, 1] == 0)  # whole profile at once


def test_latents_pack_and_unpack_frames():
    z = torch.randn(2 * 8, 4, 2, 8, 8)
    packed = pack(z, 2)
    assert packed.shape == (2, 8, 8, 8, 8)
    torch.testing.assert_close(unpack(packed, 4), z)
    torch.testing.assert_close(packed[1, 1::2, 3], z[8 + 3, :, 1])  # subject 1, frame 3, latent slice 1 of 2


def test_fixed_grid_cycle_carries_demographics_and_measured_phenotypes():
    """A bigger subject on the fixed grid has a bigger heart in the image; the phenotypes measured on the true masks
    follow the phantom's model phenotypes."""
    from cardiogen.phantom import Demographics

    small = render_cycle(7, Demographics(age=50, sex="F", height_cm=150, weight_kg=50, sbp=115, dbp=75))
    large = render_cycle(7, Demographics(age=50, sex="M", height_cm=195, weight_kg=105, sbp=160, dbp=95))
    for r in (small, large):
        assert r["image"].shape == r["labels"].shape == (GRID["frames"], GRID["slices"], GRID["size"], GRID["size"])
        assert r["spacing"] == (GRID["pixel_mm"], GRID["pixel_mm"], GRID["slice_mm"])
        assert set(r["phenotypes"]) == set(PHENOTYPES)
    assert (large["labels"][0] == 1).sum() > 1.4 * (small["labels"][0] == 1).sum()
    assert large["phenotypes"]["lvedv_ml"] > 1.4 * small["phenotypes"]["lvedv_ml"]
    assert large["phenotypes"]["lv_mass_g"] > 1.4 * small["phenotypes"]["lv_mass_g"]
    assert 40 < small["phenotypes"]["lvef_pct"] < 75
    # measured on the grid vs counted by hand: LV blood at ED
    voxel_ml = GRID["pixel_mm"] ** 2 * GRID["slice_mm"] / 1000.0
    ed = int(np.argmax((small["labels"] == 1).sum(axis=(1, 2, 3))))
    assert small["phenotypes"]["lvedv_ml"] == pytest.approx((small["labels"][ed] == 1).sum() * voxel_ml, rel=1e-6)


def test_phenotypes_of_an_empty_cycle_are_nan():
    ph = cycle_phenotypes(np.zeros((8, 8, 32, 32), np.uint8), (4.0, 4.0, 14.0))
    assert all(np.isnan(v) for v in ph.values())


def test_4d_model_and_baselines_train_sample_and_run_as_a_pipeline(tmp_path, monkeypatch):
    """The cycle autoencoder, the conditional 4D LDM and the CVAE / CGAN baselines (tiny configs) train into a user
    registry; the pipeline and the CLI make a synthetic cycle with its segmentation and phenotypes for a profile with
    missing factors; sample i depends on seed + i only; a profile outside the ranges is refused."""
    from cardiogen.errors import CardioGenInputError
    from cardiogen.models.heart4d import decode_cycles, generate, load_heart_4d, sample_latents
    from cardiogen.models.heart4d_baselines import sample_baseline
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    user = tmp_path / "user"
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(user))
    for name, cfg in (("heart_ae", "heart_ae_cycle_tiny"), ("heart_4d", "heart_4d_tiny"),
                      ("heart_4d_cvae", "heart_4d_cvae_tiny"), ("heart_4d_cgan", "heart_4d_cgan_tiny")):
        train(name, load_config(f"{cfg}.yaml"), tmp_path / name, register_dir=user)
    reg = Registry()
    entry = reg.get("heart-4d-tiny")
    assert entry.geometry["frames"] == 8 and entry.geometry["matrix"] == 32 and entry.geometry["slice_mm"] == 14.0
    assert entry.metrics["large man"]["lvedv_ml"]["phantom"] > entry.metrics["small woman"]["lvedv_ml"]["phantom"]
    model, ae, _ = load_heart_4d("heart-4d-tiny")
    prof = [dict(age=60, sex="F"), dict(age=30, sex="M", height_cm=190)]
    images, masks = generate(model, ae, prof, steps=2, seed=3, guidance=2.0)
    assert images.shape == masks.shape == (2, 8, 8, 32, 32) and masks.dtype == np.uint8 and masks.max() < 5
    torch.testing.assert_close(sample_latents(model, prof[1:], steps=2, seed=4),
                               sample_latents(model, prof, steps=2, seed=3)[1:])
    for base in ("heart-4d-cvae-tiny", "heart-4d-cgan-tiny"):
        from cardiogen.models.heart4d_baselines import LatentCGAN, LatentCVAE, LatentBaselineConfig

        e = reg.get(base)
        cls = LatentCVAE if "cvae" in base else LatentCGAN
        cfg = model.config
        m = cls(LatentBaselineConfig.from_dict({**e.config["model"], "latent_channels": cfg.latent_channels,
                                                "frames": cfg.frames, "size": cfg.size}))
        m.load_state_dict(reg.load_state_dict(base))
        imgs, labs = decode_cycles(ae, sample_baseline(m.eval(), prof, seed=1))
        assert labs.shape == (2, 8, 8, 32, 32)

    from cardiogen.pipelines import heart_4d

    heart_4d._models.cache_clear()
    image, seg = heart_4d.generate(dict(age=62, sex="F", sbp=None), seed=3, steps=2, weights="heart-4d-tiny")
    assert image.synthetic and seg.synthetic and "SYNTHETIC" in image.description
    assert image.array.shape == seg.labels.shape == (8, 8, 32, 32)
    prov = seg.provenance
    assert prov["conditioning"]["age"] == 62 and prov["conditioning"]["sbp"] is None
    assert prov["conditioning"]["height_cm"] is None and image.provenance["weights"] == "heart-4d-tiny"
    assert set(prov["phenotypes"]) == set(PHENOTYPES) and prov["heart_rate_bpm_assumed"] == 66.0
    assert image.frame_times[1] == pytest.approx(60000 / 66 / 8)
    with pytest.raises(CardioGenInputError, match="out of range"):
        heart_4d.generate(dict(age=120), steps=2, weights="heart-4d-tiny")
    with pytest.raises(CardioGenInputError, match="unknown demographic"):
        heart_4d.generate(dict(shoe=3), steps=2, weights="heart-4d-tiny")

    import json

    from cardiogen.cli import main

    out = tmp_path / "heart4d"
    assert main(["heart-4d", "--weights", "heart-4d-tiny", "--age", "70", "--sex", "F", "--height-cm", "unknown",
                 "--steps", "2", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == {"image.nrrd", "segmentation.seg.nrrd", "phenotypes.json"}
    assert set(json.loads((out / "phenotypes.json").read_text())) == set(PHENOTYPES)
    heart_4d._models.cache_clear()


def test_shipped_model_makes_the_heart_of_the_profile():
    """heart-4d-phantom-32: the same noise seeds give a bigger heart for a large man than for a small woman, each
    close to the phantom population of its profile (LVEDV within 20 %, LV mass within 25 %)."""
    from cardiogen.models.heart4d import cycle_phenotypes, generate, load_heart_4d, profile_population

    model, ae, entry = load_heart_4d("heart-4d-phantom-32")
    small = dict(age=65, sex="F", height_cm=155, weight_kg=55, sbp=120, dbp=75)
    large = dict(age=45, sex="M", height_cm=192, weight_kg=100, sbp=155, dbp=92)
    spacing = (GRID["pixel_mm"], GRID["pixel_mm"], GRID["slice_mm"])
    out = {}
    for name, prof in (("small", small), ("large", large)):
        _, masks = generate(model, ae, [prof] * 4, steps=20, seed=11)
        gen = [cycle_phenotypes(m, spacing) for m in masks]
        ref = profile_population(prof, range(40, 48))
        out[name] = {k: (np.mean([g[k] for g in gen]), np.mean(ref[k])) for k in ("lvedv_ml", "lv_mass_g")}
    for k in ("lvedv_ml", "lv_mass_g"):
        assert out["large"][k][0] > 1.3 * out["small"][k][0], (k, out)
    for name in out:
        assert out[name]["lvedv_ml"][0] == pytest.approx(out[name]["lvedv_ml"][1], rel=0.2), out
        assert out[name]["lv_mass_g"][0] == pytest.approx(out[name]["lv_mass_g"][1], rel=0.25), out
