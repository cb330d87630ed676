"""Shared generative blocks: video U-Net, noise schedules, samplers (analytic Gaussian oracle) and the video VAE."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from cardiogen.nets.blocks import CrossAttention, ResBlock, SpaceTimeConv  # noqa: E402
from cardiogen.nets.samplers import (SAMPLER_NAMES, SAMPLERS, ddim_sample, ddpm_sample, get_sampler,  # noqa: E402
                                     per_sample_generators, sampler_label, sampling_timesteps)
from cardiogen.nets.schedules import (SCHEDULES, DiffusionSchedule, PredictionType,  # noqa: E402
                                      diffusion_loss, make_schedule)
from cardiogen.nets.video_unet import MID, VideoUNet, VideoUNetConfig  # noqa: E402
from cardiogen.nets.video_vae import VideoVAE, VideoVAEConfig, kl_divergence, vae_loss  # noqa: E402

@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from threads, and on the shared 2-core machine extra OpenMP threads that compete
    with other jobs make this file 10–25× slower; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(base_channels=8, channel_mult=(1, 2), groups=4, heads=2, spatial_attention_levels=(1,),
            temporal_attention_levels=(1,))


def _unzero(net: torch.nn.Module, seed: int = 0, std: float = 0.2) -> torch.nn.Module:
    """Give every all-zero weight (zero-initialised outputs) random values so that every path shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("weight") and p.abs().max() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * std)
    return net


def _gaussian_denoiser(schedule: DiffusionSchedule, mu: float, sd: float):
    """Exact network for data N(mu, sd²) per element: x_t ~ N(a mu, a² sd² + σ²), so
    E[ε | x_t] = σ (x_t − a mu) / (a² sd² + σ²); returned in the schedule's prediction type."""

    def model(x, t):
        a, s = schedule.alpha_sigma(t, x)
        eps = s * (x - a * mu) / (a**2 * sd**2 + s**2)
        x0 = (x - s * eps) / a
        return {"epsilon": eps, "x0": x0, "v": a * eps - s * x0}[schedule.prediction.value]

    return model


# ------------------------------------------------------------------------------------------------ video U-Net
@pytest.mark.parametrize("options, shape", [
    (dict(), (2, 1, 4, 8, 8)),
    (dict(conv="full", temporal_downsample=True, num_res_blocks=2, dropout=0.1), (1, 1, 4, 8, 8)),
    (dict(channel_mult=(1, 2, 2), conv="spatial", in_channels=2, out_channels=3, spatial_attention_levels=(0, 2),
          temporal_attention_levels=(0,), cross_attention_levels=(0, 1), context_dim=6, map_channels={1: 5}),
     (2, 2, 3, 16, 12)),
])
def test_video_unet_shapes(options, shape):
    net = VideoUNet(VideoUNetConfig(**{**TINY, **options}))
    cfg = net.config
    kwargs = {}
    if cfg.context_dim:
        kwargs = dict(context=torch.randn(shape[0], 7, cfg.context_dim),
                      cond_maps={1: torch.randn(shape[0], 5, shape[2], 3, 5)})
    out = net(torch.randn(shape), torch.randint(0, 1000, (shape[0],)), **kwargs)
    assert out.shape == (shape[0], cfg.out_channels, *shape[2:])
    feats = net.features(torch.randn(shape), 10)
    for level in range(cfg.levels):
        assert feats[level].shape == net.level_shape(level, shape)
    assert feats[MID].shape == net.level_shape(cfg.levels - 1, shape)


@pytest.mark.parametrize("conv", ["factorised", "full"])
def test_output_conv_is_zero_initialised_and_every_parameter_learns(conv):
    net = VideoUNet(VideoUNetConfig(**TINY, conv=conv))
    x = torch.randn(2, 1, 4, 8, 8)
    assert torch.count_nonzero(net(x, torch.tensor([1, 900]))) == 0
    schedule = make_schedule("sigmoid")
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for step in range(4):  # zero-initialised layers open one after the other
        opt.zero_grad()
        diffusion_loss(net, x, generator=torch.Generator().manual_seed(step), schedule=schedule).backward()
        opt.step()
    dead = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().max() == 0]
    assert dead == []  # no zero × zero product (e.g. both factors of a factorised conv) stays stuck


def test_fresh_attention_and_residual_blocks_are_identity():
    x = torch.randn(2, 8, 3, 4, 4)
    cross = CrossAttention(8, heads=2, groups=4, context_dim=5, map_channels=3)
    assert torch.equal(cross(x, torch.randn(2, 6, 5), torch.randn(2, 3, 3, 2, 2)), x)
    assert torch.equal(ResBlock(8, 8, emb_dim=4, groups=4)(x, torch.randn(2, 4)), x)
    conv = SpaceTimeConv(8, 8, "factorised")  # the temporal 3×1×1 part starts as the identity
    assert torch.allclose(conv(x), conv.spatial(x), atol=1e-6)


def test_cross_attention_follows_context_and_conditioning_maps():
    cfg = VideoUNetConfig(**{**TINY, "cross_attention_levels": (0, 1), "context_dim": 6, "map_channels": {0: 3}})
    net = _unzero(VideoUNet(cfg)).eval()
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(1, 1, 4, 8, 8, generator=g), torch.tensor([50])
    ctx, maps = torch.randn(1, 5, 6, generator=g), {0: torch.randn(1, 3, 4, 4, 4, generator=g)}
    base = net(x, t, context=ctx, cond_maps=maps)
    assert torch.equal(base, net(x, t, context=ctx, cond_maps=maps))
    assert (net(x, t, context=ctx + 1.0, cond_maps=maps) - base).abs().max() > 1e-3
    assert (net(x, t, context=ctx, cond_maps={0: maps[0].flip(-1)}) - base).abs().max() > 1e-3
    assert (net(x, t) - base).abs().max() > 1e-3  # no conditioning: the blocks are skipped
    with pytest.raises(ValueError, match="cond_maps levels"):
        net(x, t, cond_maps={1: torch.randn(1, 3, 4, 4, 4)})
    with pytest.raises(ValueError, match="context must be"):
        net(x, t, context=torch.randn(1, 5, 4))


def test_control_residuals_are_added_to_skips_and_middle():
    net = _unzero(VideoUNet(VideoUNetConfig(**TINY))).eval()
    x, t = torch.randn(1, 1, 4, 8, 8), torch.tensor([10])
    feats = net.features(x, t)
    control = {0: torch.randn_like(feats[0]), MID: torch.randn_like(feats[MID])}
    seen = {}
    net.decoder["0"].register_forward_pre_hook(lambda m, args: seen.update(level0=args[0]))
    net.decoder["1"].register_forward_pre_hook(lambda m, args: seen.update(level1=args[0]))
    out = net(x, t, control=control)
    c0, c1 = net.config.level_channels(0), net.config.level_channels(1)
    # decoder input = concat(upsampled path, skip): the skip of level 0 and the middle output carry the residuals
    assert torch.allclose(seen["level0"][:, c1:], feats[0] + control[0], atol=1e-5)
    assert torch.allclose(seen["level1"][:, :c1], feats[MID] + control[MID], atol=1e-5)
    assert torch.allclose(seen["level1"][:, c1:], feats[1], atol=1e-5)
    assert c0 == seen["level0"].shape[1] - c1
    zero = {k: torch.zeros_like(v) for k, v in feats.items()}
    assert torch.allclose(net(x, t, control=zero), net(x, t), atol=1e-6)
    assert (out - net(x, t)).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"control\[0\] must have shape"):
        net(x, t, control={0: torch.zeros(1, 8, 4, 4, 4)})
    with pytest.raises(ValueError, match="control keys"):
        net(x, t, control={5: feats[0]})


@pytest.mark.parametrize("options, match", [
    (dict(base_channels=6), "multiple of groups"),
    (dict(heads=3), "divisible by heads"),
    (dict(spatial_attention_levels=(4,)), "outside levels"),
    (dict(map_channels={0: 3}, context_dim=0), "need cross-attention"),
    (dict(cross_attention_levels=(0,)), "neither context_dim nor map_channels"),
    (dict(conv="octagonal"), "octagonal"),
])
def test_video_unet_rejects_clashing_options(options, match):
    with pytest.raises(ValueError, match=match):
        VideoUNet(VideoUNetConfig(**{**TINY, **options}))


def test_video_unet_rejects_bad_input_sizes():
    net = VideoUNet(VideoUNetConfig(**{**TINY, "temporal_downsample": True}))
    with pytest.raises(ValueError, match="context_dim=0"):
        net(torch.zeros(1, 1, 4, 8, 8), 0, context=torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="multiples of 2"):
        net(torch.zeros(1, 1, 3, 8, 8), 0)
    with pytest.raises(ValueError, match=r"x must be \(B, 1"):
        net(torch.zeros(1, 2, 4, 8, 8), 0)


def test_config_from_dict():
    cfg = VideoUNetConfig.from_dict({"channel_mult": [1, 2], "map_channels": {"0": 3}, "cross_attention_levels": [0]})
    assert cfg.channel_mult == (1, 2) and cfg.map_channels == {0: 3}
    with pytest.raises(ValueError, match="unknown"):
        VideoUNetConfig.from_dict({"widths": [1]})


# ------------------------------------------------------------------------------------------------ schedules
@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_values(name):
    s = make_schedule(name, 1000)
    abar = s.alphas_cumprod
    assert s.betas.shape == (1000,) and s.steps == 1000
    assert bool(((s.betas > 0) & (s.betas < 1)).all()) and bool(((abar > 0) & (abar < 1)).all())
    assert bool((abar[1:] < abar[:-1]).all())            # monotone: signal only decreases
    assert bool((s.betas[1:] >= s.betas[:-1]).all())      # and noise is added ever faster
    assert abar[0] > 0.999 and abar[-1] < 1e-4            # clean start, almost pure noise at t = T − 1
    assert bool((s.snr()[1:] < s.snr()[:-1]).all())


def test_sigmoid_and_cosine_golden_values():
    sig = make_schedule("sigmoid").alphas_cumprod
    # ᾱ_t = γ((t + 1)/T) with γ(τ) = (σ(3) − σ(6τ − 3)) / (σ(3) − σ(−3)); γ(1/2) = 1/2 by symmetry
    assert sig[499].item() == pytest.approx(0.5, abs=1e-9)
    logistic = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    gamma = lambda tau: (logistic(3) - logistic(6 * tau - 3)) / (logistic(3) - logistic(-3))  # noqa: E731
    assert sig[249].item() == pytest.approx(gamma(0.25), rel=1e-9)
    cos = make_schedule("cosine").alphas_cumprod
    f = lambda tau: math.cos((tau + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert cos[599].item() == pytest.approx(f(0.6) / f(0.0), rel=1e-9)
    lin = make_schedule("linear", 100).betas  # scaled by 1000 / steps
    assert lin[0].item() == pytest.approx(1e-3) and lin[-1].item() == pytest.approx(0.2)


def test_schedule_errors():
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("zigzag")
    with pytest.raises(ValueError, match="betas must be"):
        DiffusionSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="prediction"):
        make_schedule("linear", prediction="score")
    with pytest.raises(ValueError, match="t must be"):
        make_schedule("linear", 10).q_sample(torch.zeros(2, 3), torch.tensor([0, 10]), torch.zeros(2, 3))


def test_q_sample_statistics():
    s = make_schedule("sigmoid")
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((4, 20000), 1.5)
    t = torch.tensor([0, 300, 700, 999])
    xt = s.q_sample(x0, t, torch.randn(x0.shape, generator=g))
    abar = s.alphas_cumprod[t].float()
    assert torch.allclose(xt.mean(1), abar.sqrt() * 1.5, atol=0.03)
    assert torch.allclose(xt.std(1), (1 - abar).sqrt(), rtol=0.03, atol=1e-3)


@pytest.mark.parametrize("prediction", list(PredictionType))
def test_prediction_targets_invert(prediction):
    s = make_schedule("cosine", prediction=prediction)
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(3, 2, 5, generator=g, dtype=torch.float64), torch.randn(3, 2, 5, generator=g,
                                                                                    dtype=torch.float64)
    t = torch.tensor([1, 500, 990])
    xt = s.q_sample(x0, t, eps)
    x0_hat, eps_hat = s.split(s.target(x0, eps, t), xt, t)
    assert torch.allclose(x0_hat, x0, atol=1e-6) and torch.allclose(eps_hat, eps, atol=1e-6)
    for other in PredictionType:
        expected = make_schedule("cosine", prediction=other).target(x0, eps, t)
        assert torch.allclose(s.convert(s.target(x0, eps, t), xt, t, other), expected, atol=1e-6)


def test_diffusion_loss_is_reproducible_and_uses_condition():
    s = make_schedule("linear", 100)
    calls = []

    def model(x, t, **kw):
        calls.append(sorted(kw))
        return torch.zeros_like(x)

    x0 = torch.randn(64, 50)
    l1 = diffusion_loss(model, x0, {"context": 1}, torch.Generator().manual_seed(5), schedule=s)
    l2 = diffusion_loss(model, x0, {"context": 1}, torch.Generator().manual_seed(5), schedule=s)
    assert l1 == l2 and l1.item() == pytest.approx(1.0, abs=0.05)  # E[ε²] for a zero prediction
    diffusion_loss(model, x0, {"context": 1}, schedule=s, cond_drop_prob=1.0)
    assert calls == [["context"], ["context"], []]


# ------------------------------------------------------------------------------------------------ samplers
@pytest.mark.parametrize("prediction", ["epsilon", "v"])
def test_samplers_reproduce_a_gaussian_with_the_optimal_denoiser(prediction):
    mu, sd = 0.7, 0.5
    s = make_schedule("sigmoid", prediction=prediction)
    model = _gaussian_denoiser(s, mu, sd)
    # 40 samples × 500 iid elements: Monte Carlo error ≈ 0.004 on the mean and 0.5 % on the std
    for name, steps, std_tol in (("ddpm", 1000, 0.02), ("ddim", 50, 0.06), ("dpmpp_2m", 20, 0.03)):
        out = get_sampler(name)(model, (40, 500), s, generator=0, steps=steps)
        assert out.mean().item() == pytest.approx(mu, abs=0.02), name
        assert out.std().item() == pytest.approx(sd, rel=std_tol), name


def test_ddim_matches_the_closed_form_linear_map_for_a_gaussian():
    """For data N(mu, sd²) each DDIM step is affine: x_s − a_s mu = k (x_t − a_t mu),
    k = (a_s a_t sd² + σ_s σ_t) / (a_t² sd² + σ_t²) (Song et al. 2021, Eq. 12, with the exact x̂_0 and ε̂).
    The product of the k explains DDIM's known variance shrinkage at few steps."""
    mu, sd, steps = -0.3, 0.8, 25
    s = make_schedule("cosine")
    out = ddim_sample(_gaussian_denoiser(s, mu, sd), (3, 1, 2, 4, 4), s, generator=[11, 12, 13], steps=steps)
    start = torch.stack([torch.randn(1, 2, 4, 4, generator=torch.Generator().manual_seed(k)) for k in (11, 12, 13)])
    ts = sampling_timesteps(s, steps) + [-1]
    abar = lambda t: 1.0 if t < 0 else s.alphas_cumprod[t].item()  # noqa: E731
    k = 1.0
    for t, nxt in zip(ts[:-1], ts[1:]):
        a_t, s_t, a_s, s_s = (math.sqrt(abar(t)), math.sqrt(1 - abar(t)), math.sqrt(abar(nxt)),
                              math.sqrt(1 - abar(nxt)))
        k *= (a_s * a_t * sd**2 + s_s * s_t) / (a_t**2 * sd**2 + s_t**2)
    expected = mu + k * (start - math.sqrt(abar(ts[0])) * mu)
    assert torch.allclose(out, expected, atol=1e-4)


def test_ddpm_step_is_the_ancestral_update_of_ho_et_al():
    """With T = 2, ddpm_sample does x_0 ← μ̃(x_1) + √β̃_1 z (Ho et al. Eq. 7/11) then returns x̂_0(x_0, t = 0)."""
    s = DiffusionSchedule(torch.tensor([0.1, 0.3], dtype=torch.float64))
    model = _gaussian_denoiser(s, 0.2, 1.3)
    out = ddpm_sample(model, (1, 6), s, generator=[4], steps=2)
    g = torch.Generator().manual_seed(4)
    x = torch.randn(6, generator=g)[None]
    beta, alpha, abar = s.betas.float(), 1 - s.betas.float(), s.alphas_cumprod.float()
    eps = model(x, torch.tensor([1]))
    mean = (x - beta[1] / (1 - abar[1]).sqrt() * eps) / alpha[1].sqrt()    # Eq. 11
    var = (1 - abar[0]) / (1 - abar[1]) * beta[1]                           # β̃_1, Eq. 7
    x = mean + var.sqrt() * torch.randn(6, generator=g)[None]
    x0 = (x - (1 - abar[0]).sqrt() * model(x, torch.tensor([0]))) / abar[0].sqrt()
    assert torch.allclose(out, x0, atol=1e-5)


def test_ddim_eta0_is_deterministic_given_the_seed():
    net = _unzero(VideoUNet(VideoUNetConfig(**TINY))).eval()
    s = make_schedule("sigmoid", prediction="v")
    a = ddim_sample(net, (2, 1, 4, 8, 8), s, generator=7, steps=5)
    b = ddim_sample(net, (2, 1, 4, 8, 8), s, generator=7, steps=5)
    c = ddim_sample(net, (2, 1, 4, 8, 8), s, generator=8, steps=5)
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert torch.equal(a[1], c[0])  # seed 7 + 1 == seed 8 + 0: a sample depends on its own seed only


def test_chunked_sampling_equals_one_batch_with_per_sample_generators():
    net = _unzero(VideoUNet(VideoUNetConfig(**TINY))).eval()
    s = make_schedule("cosine", prediction="v")
    shape = (5, 1, 4, 8, 8)
    seen = []
    whole = ddpm_sample(net, shape, s, generator=torch.Generator().manual_seed(3), steps=6)
    chunked = ddpm_sample(net, shape, s, generator=torch.Generator().manual_seed(3), steps=6, max_batch=2,
                          progress=lambda f, m: seen.append((f, m)))
    first_two = ddpm_sample(net, (2, 1, 4, 8, 8), s, generator=torch.Generator().manual_seed(3), steps=6)
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert torch.allclose(whole[:2], first_two, atol=1e-5)
    fractions = [f for f, _ in seen]
    assert len(seen) == 18 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == "ddpm step 6/6, chunk 3/3"


def test_conditioning_is_sliced_per_chunk_and_guidance_mixes_branches():
    s = make_schedule("linear", 20)
    calls = []

    def model(x, t, scale=None):
        calls.append(None if scale is None else scale.flatten().tolist())
        return torch.zeros_like(x) if scale is None else x * scale.view(-1, 1)

    cond = {"scale": torch.tensor([[1.0], [2.0], [3.0]])}
    ddim_sample(model, (3, 4), s, generator=0, steps=2, cond=cond, max_batch=2)
    assert calls == [[1.0, 2.0], [1.0, 2.0], [3.0], [3.0]]
    calls.clear()
    out_w = ddim_sample(model, (3, 4), s, generator=0, steps=2, cond=cond, guidance_scale=3.0)
    assert calls == [[1.0, 2.0, 3.0], None, [1.0, 2.0, 3.0], None]
    wrapped = lambda x, t, scale=None: model(x, t, scale * 3.0 if scale is not None else None)  # noqa: E731
    out_3 = ddim_sample(wrapped, (3, 4), s, generator=0, steps=2, cond=cond)  # uncond ≡ 0: w·out(cond)
    assert torch.allclose(out_w, out_3, atol=1e-5)
    with pytest.raises(ValueError, match="batch size 3"):
        ddim_sample(model, (3, 4), s, generator=0, steps=2, cond={"scale": torch.ones(2, 1)})


def test_sampler_cost_is_one_network_evaluation_per_step():
    """Sampling cost = network evaluations: DDPM-1000 makes 1000, DDIM-50 50, DPM-Solver++(2M)-20 20 (the wall-time
    ratio is measured in benchmarks/dense_to_cine.py, not here)."""
    net = VideoUNet(VideoUNetConfig(**TINY)).eval()
    calls = []

    def counted(x, t):
        calls.append(1)
        return net(x, t)

    s = make_schedule("sigmoid")
    for name, steps in (("ddim", 50), ("ddpm", 1000), ("dpmpp_2m", 20)):
        calls.clear()
        SAMPLERS[name](counted, (1, 1, 4, 8, 8), s, generator=0, steps=steps)
        assert len(calls) == steps, name


def test_mean_start_skips_the_network_at_zero_snr_and_stops_its_error_setting_the_brightness():
    """At ᾱ = 3e-7 (the sigmoid schedule's last step) an ε-network's x̂0 = (x − σ ε̂)/a is its error times 1/a ≈ 1825.
    A network whose ε̂ errs by a tenth of each sample's mean (a brightness error, as the shipped video models make
    at that step) scatters the samples' brightness; with the data mean as x0_prior the first step does not evaluate
    the network, and the brightness scatters no more than with the exact denoiser."""
    mu, sd = 0.2, 0.5
    s = make_schedule("sigmoid")
    exact = _gaussian_denoiser(s, mu, sd)
    evaluated = []

    def model(x, t):
        evaluated.append(int(t[0]))
        return exact(x, t) + 0.1 * x.mean(-1, keepdim=True)

    kwargs = dict(generator=0, steps=25, clip_denoised=1.5)
    plain = ddim_sample(model, (40, 500), s, **kwargs)
    assert evaluated[0] == 999 and len(evaluated) == 25
    evaluated.clear()
    started = ddim_sample(model, (40, 500), s, x0_prior=torch.full((500,), mu), **kwargs)
    assert 999 not in evaluated and len(evaluated) == 24  # only t = 999 has ᾱ < ZERO_SNR_ALPHA_BAR of DDIM-25's steps
    spread = lambda out: out.mean(1).std().item()  # noqa: E731 - per-sample brightness
    reference = spread(ddim_sample(exact, (40, 500), s, **kwargs))
    assert spread(plain) > 2 * reference and spread(started) < 1.2 * reference, (spread(plain), spread(started))
    assert started.mean().item() == pytest.approx(mu, abs=0.03)
    for wrong in (torch.zeros(3), torch.zeros(4, 500)):  # does not broadcast / broadcasts to more than one sample
        with pytest.raises(ValueError, match=r"x0_prior must have the shape of one sample, \(500,\)"):
            ddim_sample(model, (2, 500), s, x0_prior=wrong, **kwargs)


def test_every_registered_sampler_has_a_display_name():
    assert set(SAMPLER_NAMES) == set(SAMPLERS)
    assert sampler_label("ddim", 25) == "DDIM-25" and sampler_label("dpmpp_2m", 10) == "DPM-Solver++(2M)-10"


def test_sampler_argument_errors():
    s = make_schedule("linear", 10)
    model = _gaussian_denoiser(s, 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown sampler"):
        get_sampler("heun")
    with pytest.raises(ValueError, match="steps must be in"):
        ddim_sample(model, (1, 3), s, generator=0, steps=11)
    with pytest.raises(ValueError, match="one generator or seed per sample"):
        ddim_sample(model, (2, 3), s, generator=[1], steps=3)
    with pytest.raises(ValueError, match="eta"):
        ddim_sample(model, (2, 3), s, generator=0, steps=3, eta=2.0)
    assert len(per_sample_generators(torch.Generator().manual_seed(0), 3)) == 3
    for spacing in ("linspace", "logsnr"):
        for steps in (2, 7, 30, 999, 1000):
            ts = sampling_timesteps(make_schedule("sigmoid"), steps, spacing)
            assert len(set(ts)) == steps and ts[0] == 999 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    with pytest.raises(ValueError, match="unknown spacing"):
        sampling_timesteps(make_schedule("sigmoid"), 10, "karras")


# ------------------------------------------------------------------------------------------------ video VAE
def _moving_discs(n: int, frames: int = 8, size: int = 16, seed: int = 0) -> torch.Tensor:
    """``(n, 1, frames, size, size)`` in [−1, 1]: a soft disc of random radius moving at constant velocity."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    out = torch.zeros(n, 1, frames, size, size)
    for i in range(n):
        start = torch.rand(2, generator=g) * size / 2 + size / 4
        velocity = torch.rand(2, generator=g) - 0.5
        radius = 2.5 + 1.5 * torch.rand((), generator=g)
        for t in range(frames):
            cy, cx = start + velocity * t
            out[i, 0, t] = torch.sigmoid(2 * (radius - ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()))
    return 2 * out - 1


def test_video_vae_shapes_and_errors():
    vae = VideoVAE(VideoVAEConfig(channels=(8, 8, 16), groups=4, temporal_downsample=(True, False)))
    x = torch.randn(2, 1, 4, 16, 8)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == vae.latent_shape(x.shape) == (2, 4, 2, 4, 2)
    assert vae.decode(mu).shape == x.shape
    with pytest.raises(ValueError, match="multiple of 2"):
        vae.encode(torch.randn(1, 1, 3, 16, 8))
    with pytest.raises(ValueError, match="one flag per downsampling"):
        VideoVAE(VideoVAEConfig(channels=(8, 8), groups=4, temporal_downsample=(True, True)))
    with pytest.raises(ValueError, match="multiple of groups"):
        VideoVAE(VideoVAEConfig(channels=(8, 12), groups=8))
    assert kl_divergence(torch.zeros(3), torch.zeros(3)) == 0


def test_video_vae_learns_moving_discs():
    torch.manual_seed(0)
    x = _moving_discs(8)
    vae = VideoVAE(VideoVAEConfig(channels=(8, 16, 16), groups=4, temporal_downsample=(False, True)))
    assert vae.latent_shape(x.shape) == (8, 4, 4, 4, 4)  # 8× fewer numbers than the video
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)

    def error() -> float:
        with torch.no_grad():
            return (vae(x, sample_posterior=False).recon - x).abs().mean().item()

    before = error()
    for _ in range(100):
        loss = vae_loss(vae(x, generator=g), x, beta=1e-4, perceptual=lambda r, y: (r - y).pow(2).mean(),
                        perceptual_weight=0.1)
        opt.zero_grad()
        loss.total.backward()
        opt.step()
    after = error()
    mean_video_error = (x - x.mean(0, keepdim=True)).abs().mean().item()  # best input-independent output
    assert after < 0.5 * before and after < 0.5 * mean_video_error
    assert loss.perceptual is not None and loss.kl > 0
