"""smcVAE of cine and tagging (seed 001, chapter 4): the network, paired phantom data, training into the registry, and
the shipped model on held-out phantom slices against known truth."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiogen.errors import CardioGenInputError
from cardiogen.models import cine_tagging as ct
from cardiogen.nets.smcvae import SmcVAE, SmcVAEConfig, sparse_kl


def test_smcvae_shapes_sparse_posterior_and_refusals():
    for depth in (5, 7, 8):
        cfg = SmcVAEConfig(frames=6, size=24, depth=depth, width=8, max_width=16, latent=5)
        assert sum(cfg.strided()) == 3 and len(cfg.widths()) == depth
        model = SmcVAE(cfg)
        x = torch.rand(2, 6, 24, 24) * 2 - 1
        mu = model.encode(x, "cine")
        assert mu.shape == (2, 5)
        y = model.translate({"cine": x}, "tagging")
        assert y.shape == x.shape and y.abs().max() <= 1.0
    # the posterior's spread is sqrt(α)·|μ|: zero where μ is zero, larger with α
    mu = torch.tensor([[0.0, 1.0, -2.0, 0.5, 3.0]])
    with torch.no_grad():
        draws = torch.stack([model.sample_posterior(mu) for _ in range(2000)])
    assert torch.all(draws[:, 0, 0] == 0)
    np.testing.assert_allclose(draws[:, 0, 1:].std(0), np.exp(0.5 * cfg.init_log_alpha) * mu[0, 1:].abs(), rtol=0.1)
    # the sparse KL falls as α grows: unused dimensions are pushed to be dropped
    kls = [float(sparse_kl(torch.full((4,), v))) for v in (-6.0, -2.0, 0.0, 2.0, 6.0)]
    assert all(a > b for a, b in zip(kls, kls[1:])) and kls[-1] >= -1e-3
    with torch.no_grad():
        model.log_alpha[:2] = 5.0  # dropout rate ~1: switched off at inference
    assert model.kept.tolist() == [False, False, True, True, True]
    with torch.no_grad():
        assert torch.all(model.latent({"cine": x})[:, :2] == 0)
    with pytest.raises(CardioGenInputError, match="cine sequences must be"):
        model.encode(torch.zeros(2, 5, 24, 24), "cine")
    with pytest.raises(CardioGenInputError, match="unknown smcVAE channel"):
        model.encode(x, "dense")
    with pytest.raises(CardioGenInputError, match="depth"):
        SmcVAEConfig.from_dict({"depth": 2})


def test_paired_pool_aligns_cine_and_tagging_of_one_slice():
    pool = ct.paired_pool((1000,), 48, 8, 6, 8, 32)
    n = len(pool["cine"])
    assert n >= 2 and pool["cine"].shape == pool["tagging"].shape == (n, 8, 32, 32)
    assert 0.0 <= pool["cine"].min() and pool["tagging"].max() <= 1.0
    assert set(pool["region"]) <= set(ct.REGIONS) and pool["region"][0] != pool["region"][-1] or n < 3
    # the ED landmarks sit on the wall in both: the tracks' centroid is the crop's centre (within a pixel)
    centre = pool["tracks"][:, 0].mean(axis=1)
    assert np.all(np.abs(centre - 15.5) <= 1.0)
    # cine and tagging show the same heart: the LV blood pool is bright in cine where the tagging's blood is too
    # (tags fade in blood), i.e. their first frames correlate positively inside the crop
    r = [np.corrcoef(pool["cine"][i, 0].ravel(), pool["tagging"][i, 0].ravel())[0, 1] for i in range(n)]
    assert np.mean(r) > 0.2


def test_regions_split_usable_slices_by_height():
    assert ct.regions_of([30.0, 10.0, 20.0]) == ["basal", "apical", "mid"]
    assert ct.regions_of([5.0, 1.0, 2.0, 3.0, 4.0, 6.0]) == ["basal", "apical", "apical", "mid", "mid", "basal"]


def test_tiny_smcvae_trains_registers_and_translates(tmp_path):
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    train("smcvae", load_config("smcvae_tiny.yaml"), tmp_path / "run", register_dir=tmp_path / "reg")
    reg = Registry([tmp_path / "reg"])
    entry = reg.get("smcvae-tiny")
    assert entry.pipeline == "cine_to_tagging" and entry.geometry["view"] == "sax"
    for scenario, _, _ in ct.SCENARIOS:
        row = entry.metrics[scenario]["regions"]["all"]
        assert -1.0 <= row["ssim"]["mean"] <= 1.0 and row["rmse"]["mean"] > 0
    d = entry.config["data"]
    model = SmcVAE(SmcVAEConfig.from_dict(dict(entry.config["model"], frames=d["frames"], size=d["crop"])))
    model.load_state_dict(reg.load_state_dict("smcvae-tiny"))
    # log α learns at log_alpha_lr_scale (50) times train.lr: 3 Adam steps move it by up to 3 · 50 · lr, where at the
    # networks' rate they could not move it past 3 · lr = 0.003
    moved = float((model.log_alpha.detach() - model.cfg.init_log_alpha).abs().max())
    assert 0.02 < moved <= 3 * 50 * 1e-3 * 1.01, moved
    pool = ct.paired_pool((1000,), 48, 8, 6, 8, 32)
    out = ct.translate_pool(model, pool, ("cine",), "tagging")
    assert out.shape == pool["tagging"].shape and 0.0 <= out.min() and out.max() <= 1.0


def test_shipped_smcvae_synthesises_each_slice_s_own_tagging_and_strain():
    """Held-out phantom subjects: tagging synthesised from cine matches the true tagging of the same slice better
    than that of the other slices, and the tracker's ES circumferential strain on it follows the true tagging's."""
    from cardiogen.models.tag_tracking import load_tracker

    model, entry = ct.load_smcvae("smcvae-phantom-64")
    d = entry.config["data"]
    pool = ct.paired_pool((1000, 1001), int(d["size"]), int(d["frames"]), int(d["slices"]), int(d["sectors"]),
                          int(d["crop"]))
    synth = ct.translate_pool(model, pool, ("cine",), "tagging")
    n = len(synth)
    rmse = np.array([[np.sqrt(np.mean((synth[i] - pool["tagging"][j]) ** 2)) for j in range(n)] for i in range(n)])
    own, other = np.diag(rmse), (rmse.sum(1) - np.diag(rmse)) / (n - 1)
    assert np.all(own < other) and own.mean() < 0.1
    agreement = ct.strain_agreement(model, load_tracker()[0], pool)["circumferential/global"]
    assert abs(agreement["bias"]) < 0.03 and agreement["pearson_r"] > 0.6, agreement
    assert agreement["truth_mean"] < -0.1  # a real systole to agree on
