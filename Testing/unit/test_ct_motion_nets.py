"""The 3D PWC-Net and the flow CVAE of seed 004: cost volume, flow scaling, frozen conditioning, augmentation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cardiogen.models.flow_cvae import FlowCVAE, FlowCVAEConfig, augment_pair, cvae_loss, latent_line, synthesise_ed
from cardiogen.nets.pwc3d import FeaturePyramid3D, PWC3DConfig, PWCFlow3D, correlation_3d, multiscale_epe, \
    upsample_flow
from cardiogen.nets.warp import warp


def _blob_volume(n: int = 16, centre=(8.0, 8.0, 8.0), sigma: float = 2.5) -> torch.Tensor:
    z, y, x = torch.meshgrid(*(torch.arange(n, dtype=torch.float32),) * 3, indexing="ij")
    return torch.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2) / (2 * sigma**2))[None, None]


def test_correlation_peaks_at_the_true_shift():
    torch.manual_seed(0)
    f1 = torch.randn(1, 4, 6, 7, 8)
    shift = (1, -1, 0)  # (dx, dy, dz): f2(x + d) = f1(x)
    f2 = torch.roll(f1, shifts=(shift[2], shift[1], shift[0]), dims=(2, 3, 4))
    cost = correlation_3d(f1, f2, 1)
    assert cost.shape == (1, 27, 6, 7, 8)
    best = cost[..., 1:-1, 1:-1, 1:-1].mean(dim=(0, 2, 3, 4)).argmax().item()
    dz, dy, dx = np.unravel_index(best, (3, 3, 3))
    assert (dx - 1, dy - 1, dz - 1) == shift


def test_upsampled_flow_is_scaled_per_axis():
    flow = torch.zeros(1, 3, 2, 4, 8)
    flow[:, 0], flow[:, 1], flow[:, 2] = 1.0, 2.0, 3.0
    up = upsample_flow(flow, (8, 8, 16))
    assert torch.allclose(up[:, 0], torch.full_like(up[:, 0], 2.0))  # x: 8 -> 16
    assert torch.allclose(up[:, 1], torch.full_like(up[:, 1], 4.0))  # y: 4 -> 8
    assert torch.allclose(up[:, 2], torch.full_like(up[:, 2], 12.0))  # z: 2 -> 8


def test_pwc_fits_translations_of_a_blob():
    """The whole coarse-to-fine chain trains: supervised steps on four translated blobs bring their flow error far
    under the zero-flow error (generalisation to unseen subjects is measured in ``benchmarks/ct_motion.py``)."""
    torch.manual_seed(0)
    net = PWCFlow3D(PWC3DConfig(channels=(8, 12), search=(1, 1), estimator=(16, 8)))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    shifts = 2.0 * np.array([[1.0, -0.5, 0.7], [-1.2, 0.8, 0.0], [0.3, 1.1, -0.9], [-0.6, -1.0, 0.5]])
    a = _blob_volume(16)
    pairs = [(_blob_volume(16, centre=tuple(8 + t)),  # a(x) = b(x + t)
              torch.tensor(t, dtype=torch.float32).view(1, 3, 1, 1, 1).expand(1, 3, 16, 16, 16)) for t in shifts]
    mask = (a > 0.2).float()  # the flow is observable only where the image has structure
    for step in range(200):
        b, f = pairs[step % len(pairs)]
        full, levels = net(a, b, all_levels=True)
        loss, _ = multiscale_epe(full, levels, f, mask=mask)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        errs = [float(((net(a, b) - f).norm(dim=1, keepdim=True) * mask).sum() / mask.sum()) for b, f in pairs]
    zero = [float(np.linalg.norm(t)) for t in shifts]
    assert np.mean(errs) < 0.4 * np.mean(zero), (errs, zero)  # a network that ignores the images: about 0.9


def test_cvae_trains_only_its_own_weights_and_keeps_the_pyramid_frozen():
    torch.manual_seed(0)
    pyramid = FeaturePyramid3D((4, 6))
    before = {k: v.clone() for k, v in pyramid.state_dict().items()}
    model = FlowCVAE(FlowCVAEConfig(channels=(6, 8), latent=2, pyramid_channels=(4, 6)), pyramid)
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    es = torch.rand(2, 1, 8, 8, 8)
    flow = torch.randn(2, 3, 8, 8, 8)
    model.train()
    assert not model.pyramid.training  # the frozen pyramid stays in evaluation mode
    for _ in range(3):
        flow_hat, mu, logvar = model(flow, es)
        loss, logs = cvae_loss(flow_hat, flow, mu, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert all(p.grad is None for p in model.pyramid.parameters())
    assert all(torch.equal(before[k], v) for k, v in pyramid.state_dict().items())
    assert mu.shape == model.latent_shape(tuple(es.shape)) == (2, 2, 2, 2, 2)
    assert set(logs) == {"mse", "mepe_vox", "kl"} and logs["kl"] >= 0


def test_sampling_is_seeded_and_the_latent_line_joins_two_samples():
    torch.manual_seed(0)
    model = FlowCVAE(FlowCVAEConfig(channels=(6, 8), latent=2, pyramid_channels=(4, 6)), FeaturePyramid3D((4, 6)))
    model.eval()
    es = torch.rand(1, 1, 8, 8, 8)
    a = model.sample(es, 3, generator=torch.Generator().manual_seed(5))
    b = model.sample(es, 3, generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 3, 8, 8, 8) and torch.equal(a, b)
    line = latent_line(model, es, 4, seed=2)
    g = torch.Generator().manual_seed(2)
    shape = model.latent_shape(tuple(es.shape))
    za, zb = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    assert torch.allclose(line[0], model.sample(es, z=za)[0], atol=1e-6)
    assert torch.allclose(line[-1], model.sample(es, z=zb)[0], atol=1e-6)
    ed = synthesise_ed(es, line)
    assert ed.shape == (4, 1, 8, 8, 8)


def test_augmentation_moves_image_and_flow_together():
    """With ED = warp(ES, f), the augmented pair still satisfies ED' = warp(ES', f') where ED' is ED under the same
    similarity: f'(y) = s · f(T⁻¹ y)."""
    n = 24
    es = _blob_volume(n, centre=(12, 11, 12), sigma=3.0)
    z, y, x = torch.meshgrid(*(torch.arange(n, dtype=torch.float32),) * 3, indexing="ij")
    flow = torch.stack([0.8 * torch.sin(z / 6), 0.6 * torch.cos(x / 5), 0.5 * torch.ones_like(x)])[None]
    ed = warp(es, flow)
    rng_state = np.random.default_rng(3)
    es_a, flow_a = augment_pair(es, flow, np.random.default_rng(3), noise_var=0.0, max_shift_vox=2.0)
    ed_a, _ = augment_pair(ed, flow, rng_state, noise_var=0.0, max_shift_vox=2.0)  # same draws: same similarity
    assert not torch.allclose(es_a, es)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4), slice(4, -4))
    err = (warp(es_a, flow_a) - ed_a)[inner].abs().max()
    assert err < 0.03, float(err)
    with pytest.raises(ValueError, match="multiples"):
        FlowCVAE(FlowCVAEConfig(channels=(6, 8), latent=2, pyramid_channels=(4, 6)),
                 FeaturePyramid3D((4, 6))).condition(torch.rand(1, 1, 6, 8, 8))


def test_latent_skips_feed_the_latent_to_every_decoder_level():
    """With ``latent_skips`` each decoder level sees the (upsampled) latent: changing z changes the flow even when
    the bottom path is cut off."""
    torch.manual_seed(0)
    cfg = FlowCVAEConfig(channels=(6, 8), latent=2, pyramid_channels=(4, 6), latent_skips=True)
    model = FlowCVAE(cfg, FeaturePyramid3D((4, 6))).eval()
    assert model.dec_mix[0][0].in_channels == 6 + 4 + 2 and model.dec_mix[1][0].in_channels == 6 + 1 + 2
    es = torch.rand(1, 1, 8, 8, 8)
    with torch.no_grad():
        for p in model.dec_in.parameters():  # no signal through the bottom: only the skips can carry z
            p.zero_()
        za, zb = torch.zeros(model.latent_shape(tuple(es.shape))), torch.ones(model.latent_shape(tuple(es.shape)))
        for p in model.to_flow.parameters():
            p.normal_(0, 0.1)
        assert not torch.allclose(model.decode(za, es), model.decode(zb, es))


def test_myocardial_volume_term_measures_the_walls_volume_change():
    """A uniform scaling about the centre, f(x) = (s − 1)(x − c), has det(I + ∇f) = s³ everywhere: the torch
    determinant agrees with the numpy one, the volume error of any wall is s³ − 1, and the loss term penalises it."""
    from cardiogen.models.ct_motion import jacobian_determinant
    from cardiogen.models.flow_cvae import jacobian_determinant_torch, myocardial_volume_error

    n, s = 12, 1.1
    z, y, x = torch.meshgrid(*(torch.arange(n, dtype=torch.float64),) * 3, indexing="ij")
    c = (n - 1) / 2
    flow = torch.stack([(s - 1) * (x - c), (s - 1) * (y - c), 0.5 * (s - 1) * (z - c)])[None]
    det = jacobian_determinant_torch(flow)
    np.testing.assert_allclose(det[0].numpy(), jacobian_determinant(flow[0].numpy()), atol=1e-10)
    assert abs(float(det.mean()) - s * s * (1 + 0.5 * (s - 1))) < 1e-9
    wall = torch.zeros(1, 1, n, n, n)
    wall[..., 3:9, 3:9, 3:9] = 1
    assert abs(float(myocardial_volume_error(flow, wall)[0]) - (s * s * (1 + 0.5 * (s - 1)) - 1)) < 1e-9
    assert abs(float(myocardial_volume_error(torch.zeros_like(flow), wall)[0])) < 1e-12
    mu = logvar = torch.zeros(1, 2, 2, 2, 2)
    base, logs0 = cvae_loss(flow.float(), flow.float(), mu, logvar)
    with_term, logs = cvae_loss(flow.float(), flow.float(), mu, logvar, myo=wall, volume_weight=10.0)
    assert "myo_volume_change" not in logs0 and abs(logs["myo_volume_change"] - (s * s * 1.05 - 1)) < 1e-5
    assert abs(float(with_term - base) - 10.0 * (s * s * 1.05 - 1) ** 2) < 1e-5
