"""Seed 003's latent rectified flow: the video DiT, the template, the loss and the Euler sampler (issue 18.4-5)."""
from __future__ import annotations

import pytest
import torch

from cardiogen.models.ecg_cine import EcgFlowModel, euler_sample, rectified_flow_loss
from cardiogen.nets.video_dit import VideoDiT, VideoDiTConfig

SMALL = VideoDiTConfig(latent_channels=2, frames=4, height=8, width=8, patch=2, dim=32, depth=1, heads=2,
                       mlp_ratio=2.0, cond_dim=16, cond_tokens=5)


def test_dit_shapes_zero_init_and_condition_dropout():
    torch.manual_seed(0)
    net = VideoDiT(SMALL)
    z, t, c = torch.randn(3, 2, 4, 8, 8), torch.rand(3), torch.randn(3, 5, 16)
    v = net(z, t, c)
    assert v.shape == z.shape and torch.count_nonzero(v) == 0  # adaLN-Zero: the untrained net predicts v = 0
    for p in net.parameters():  # perturb every weight: now the output depends on z, t and c
        p.data.add_(0.05 * torch.randn_like(p))
    v1, v2 = net(z, t, c), net(z, t, c + 1.0)
    assert not torch.allclose(v1, v2)
    dropped = net(z, t, c, drop=torch.tensor([True, False, True]))
    uncond = net(z, t, None)
    assert torch.allclose(dropped[0], uncond[0], atol=1e-6) and torch.allclose(dropped[1], v1[1], atol=1e-6)
    with pytest.raises(ValueError, match="z must be"):
        net(torch.randn(1, 2, 5, 8, 8), torch.rand(1), None)
    with pytest.raises(ValueError, match="cond must be"):
        net(z, t, torch.randn(3, 4, 16))
    with pytest.raises(ValueError, match="divisible"):
        VideoDiT(VideoDiTConfig(height=9, width=8, patch=2))


def test_template_is_the_mean_latent_over_subjects_and_time_in_unit_scale():
    model = EcgFlowModel(SMALL, alpha=0.3)
    lat = torch.randn(6, 2, 4, 8, 8) * 3.0 + torch.linspace(-1, 1, 8).view(1, 1, 1, 1, 8)
    model.fit_template(lat)
    scale = float(model.latent_scale)
    assert abs(scale - float(lat.std())) < 1e-5
    torch.testing.assert_close(model.template[:, 0], (lat / scale).mean(dim=(0, 2)))
    z0 = torch.stack([model.start(1, torch.Generator().manual_seed(i))[0] for i in range(200)])
    torch.testing.assert_close(z0.mean(0), model.template.expand(2, 4, 8, 8), atol=0.1, rtol=0)
    assert abs(float(z0.std(0).mean()) - 0.3) < 0.02  # α·ε around the template (Eq. 8)


class _Oracle(torch.nn.Module):
    """The exact rectified-flow velocity toward a known z1 from the model's own start: v = (z1 − z_t) / (1 − t)."""

    def __init__(self, inner: EcgFlowModel, z1: torch.Tensor) -> None:
        super().__init__()
        self.inner, self.z1 = inner, z1
        self.config = inner.config

    def start(self, b, generator=None, use_template=True):
        return self.inner.start(b, generator, use_template)

    def forward(self, z, t, cond=None, drop=None):
        return (self.z1 - z) / (1.0 - t).view(-1, 1, 1, 1, 1)


@pytest.mark.parametrize("steps", [1, 3, 10])
def test_euler_sampler_follows_the_velocity_to_t_equals_1(steps):
    inner = EcgFlowModel(SMALL)
    z1 = torch.randn(2, 2, 4, 8, 8)
    out = euler_sample(_Oracle(inner, z1), torch.zeros(2, 5, 16), steps=steps)
    torch.testing.assert_close(out, z1, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="steps"):
        euler_sample(inner, None, steps=0)


def test_rectified_flow_training_learns_a_condition_dependent_target():
    """Two conditions, two target latents: after training, sampling with each condition lands nearer its own target
    than the other's, and guidance keeps it there."""
    torch.manual_seed(0)
    model = EcgFlowModel(SMALL, alpha=0.5)
    targets = torch.stack([torch.full((2, 4, 8, 8), 1.0), torch.full((2, 4, 8, 8), -1.0)])
    targets[1, :, :, :, :4] = 0.5  # not just a sign flip: spatial structure too
    conds = torch.stack([torch.ones(5, 16), -torch.ones(5, 16)])
    model.fit_template(targets)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    first = None
    for step in range(150):
        idx = torch.randint(0, 2, (8,), generator=g)
        loss, _ = rectified_flow_loss(model, targets[idx] / model.latent_scale, conds[idx], g, cond_drop=0.1)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first
    for guidance in (1.0, 2.0):
        out = euler_sample(model, conds, steps=10, guidance=guidance, generator=torch.Generator().manual_seed(1))
        scaled = targets / model.latent_scale
        for k in range(2):
            own, other = (out[k] - scaled[k]).pow(2).mean(), (out[k] - scaled[1 - k]).pow(2).mean()
            assert own < 0.25 * other, (guidance, k, float(own), float(other))


def test_area_length_volume_of_an_ellipse_is_its_prolate_ellipsoid():
    """Single-plane area-length: an ellipse of semi-axes a < c (in-plane long axis) is the section of the prolate
    ellipsoid (4/3)·π·a²·c, whatever its orientation; EF from the largest and smallest frame; mass from the rim."""
    import numpy as np

    from cardiogen.models.ecg_cine import area_length_phenotypes

    px = 0.5
    yy, xx = np.mgrid[0:200, 0:200] * px

    def ellipse(a, c, angle, cx=50.0, cy=50.0):
        ca, sa = np.cos(angle), np.sin(angle)
        u, v = (xx - cx) * ca + (yy - cy) * sa, -(xx - cx) * sa + (yy - cy) * ca
        return (u / c) ** 2 + (v / a) ** 2 < 1.0

    frames = []
    for a, c in ((20.0, 40.0), (14.0, 34.0)):
        lab = np.zeros(xx.shape, np.uint8)
        lab[ellipse(a + 6, c + 6, 0.6)] = 2
        lab[ellipse(a, c, 0.6)] = 1
        frames.append(lab)
    out = area_length_phenotypes(np.stack(frames), px)
    edv, esv = 4 / 3 * np.pi * 20**2 * 40 / 1000, 4 / 3 * np.pi * 14**2 * 34 / 1000
    assert abs(out["lvedv_ml"] / edv - 1) < 0.03 and abs(out["lvesv_ml"] / esv - 1) < 0.03
    assert out["ed_frame"] == 0 and out["es_frame"] == 1
    assert abs(out["ef_pct"] - 100 * (1 - esv / edv)) < 2.0
    shell = 4 / 3 * np.pi * (26**2 * 46 - 20**2 * 40) / 1000 * 1.05
    assert abs(out["lv_mass_g"] / shell - 1) < 0.05


def test_clinical_population_adds_infarcts_and_dyssynchrony_to_the_same_subjects():
    from cardiogen.models.ecg_cine import subject_config

    healthy = [subject_config(s) for s in range(30)]
    clinical = [subject_config(s, population="clinical") for s in range(30)]
    assert all(c.infarct is None and c.dyssynchrony == 0.0 for c in healthy)
    assert 5 <= sum(c.infarct is not None for c in clinical) <= 20
    assert sum(c.dyssynchrony > 0 for c in clinical) >= 8
    assert all(h.seed == c.seed and c.view == "4ch" and c.pixel_mm == h.pixel_mm for h, c in zip(healthy, clinical))
    # a dyssynchronous heart contracts less (LBBB with its cardiomyopathy): 1 − 0.4·d of its healthy twin
    assert all(c.motion_scale == pytest.approx(1.0 - 0.4 * c.dyssynchrony) for c in clinical)
    assert all(h.motion_scale == 1.0 for h in healthy)
    with pytest.raises(ValueError, match="population"):
        subject_config(0, population="sick")


def test_clinical_dyssynchrony_lowers_the_ejection_fraction_the_ecg_widens_the_qrs():
    """The same subject with LBBB (no infarct): lower EF, same LVEDV, wider QRS; the ECG's LVEDV is the heart's."""
    from cardiogen.models.ecg_cine import subject_config
    from cardiogen.phantom import make_case

    seed = next(s for s in range(40) if subject_config(s, population="clinical").infarct is None
                and subject_config(s, population="clinical").dyssynchrony > 0.6)
    kw = dict(size=32, frames=8)
    healthy = make_case(subject_config(seed, population="healthy", **kw))
    clinical = make_case(subject_config(seed, population="clinical", **kw))
    ph, pc = healthy.truth.phenotypes_model, clinical.truth.phenotypes_model
    assert pc.lvedv_ml == pytest.approx(ph.lvedv_ml)
    assert pc.lvef_pct < ph.lvef_pct - 10.0, (ph.lvef_pct, pc.lvef_pct)
    assert clinical.ecg.metadata["qrs_duration_ms"] > healthy.ecg.metadata["qrs_duration_ms"] + 25.0
    assert clinical.ecg.metadata["lv_edv_ml"] == pytest.approx(pc.lvedv_ml)


def test_raw_condition_tokens_hold_the_median_beat_from_the_r_peak():
    """The "w/o PA-MAE" context: token j holds the 12 leads' samples of cine frame j of the R-aligned median beat;
    the summary token carries each lead's range and the R-R interval."""
    import numpy as np

    from cardiogen.models.ecg_cine import RAW_SAMPLES_PER_FRAME, raw_condition_tokens
    from cardiogen.phantom import PhantomConfig, make_case

    case = make_case(PhantomConfig(seed=4, modalities=("ecg",), ecg_duration_s=10.0))
    out = raw_condition_tokens(case.ecg, frames=16)
    s = RAW_SAMPLES_PER_FRAME
    assert out["tokens"].shape == (17, 12 * s) and out["tokens"].dtype == np.float32
    assert abs(out["rr_ms"] / case.truth.model.timing.rr_ms - 1.0) < 0.01
    lead = list(case.ecg.lead_names).index("II")
    beat_ii = out["tokens"][:16].reshape(16, 12, s)[:, lead].ravel()  # lead II over the whole cycle
    assert np.argmax(beat_ii) <= 2  # the beat starts at its R peak
    summary = out["tokens"][16]
    assert abs(summary[12 + lead] - beat_ii.max()) < 1e-5 and abs(summary[lead] - np.ptp(beat_ii)) < 1e-5
    assert abs(summary[36] * 1000.0 - out["rr_ms"]) < 1e-3 and np.all(summary[37:] == 0)
    assert 0.5 < beat_ii.max() < 2.5  # mV: a real R wave


def test_regression_baseline_is_deterministic_and_learns_the_condition():
    """The cross-modal baseline maps each condition to its own latent in one pass; the flow model draws noise."""
    from cardiogen.models.ecg_cine import regression_loss, sample_latents

    torch.manual_seed(0)
    model = EcgFlowModel(SMALL, alpha=0.5)
    targets = torch.stack([torch.full((2, 4, 8, 8), 1.0), torch.full((2, 4, 8, 8), -1.0)])
    targets[1, :, :, :, :4] = 0.5
    conds = torch.stack([torch.ones(5, 16), -torch.ones(5, 16)])
    model.fit_template(targets)
    scaled = targets / model.latent_scale
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        loss, logs = regression_loss(model, scaled, conds)
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert "latent_mse" in logs and float(loss.detach()) < 0.1 * first
    cfg = {"objective": "regression"}
    a = sample_latents(model, conds, cfg, generator=torch.Generator().manual_seed(1))
    b = sample_latents(model, conds, cfg, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b)
    assert (a - scaled).pow(2).mean() < 0.1 * (a - scaled.flip(0)).pow(2).mean()
    f1 = sample_latents(model, conds, {"objective": "flow"}, steps=2, generator=torch.Generator().manual_seed(1))
    f2 = sample_latents(model, conds, {"objective": "flow"}, steps=2, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(f1, f2)
    with pytest.raises(ValueError, match="objective"):
        sample_latents(model, conds, {"objective": "gan"})


def test_raw_ecg_condition_sizes_the_network_for_the_raw_tokens():
    from cardiogen.models.ecg_cine import RAW_SAMPLES_PER_FRAME, dit_config, model_tokens
    from cardiogen.nets.video_vae import VideoVAEConfig

    config = {"model": {"dim": 32, "depth": 1, "heads": 2, "cond_dim": 128, "condition": "raw_ecg"},
              "data": {"frames": 8, "size": 64}}
    cfg = dit_config(config, VideoVAEConfig())
    assert cfg.cond_dim == 12 * RAW_SAMPLES_PER_FRAME and cfg.cond_tokens == 9
    config["model"]["condition"] = "pamae"
    assert dit_config(config, VideoVAEConfig()).cond_dim == 128
    with pytest.raises(ValueError, match="condition"):
        model_tokens("spectrogram", None, None, 8)
