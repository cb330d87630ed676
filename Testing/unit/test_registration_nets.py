"""Warping, scaling and squaring, temporal attention and the LTMA network (no phantom needed)."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from cardiogen.models.ltma import LTMAConfig, LTMANet  # noqa: E402
from cardiogen.nets.attention import TemporalSelfAttention  # noqa: E402
from cardiogen.nets.warp import compose, gradient_loss, integrate_velocity, warp  # noqa: E402


def _smooth_field(shape=(1, 2, 32, 32), amp=2.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(shape[0], shape[1], 4, 4, generator=g) * amp
    return torch.nn.functional.interpolate(coarse, size=shape[2:], mode="bicubic", align_corners=True)


def test_warp_with_integer_shift_moves_the_image():
    img = torch.zeros(1, 1, 16, 16)
    img[0, 0, 5, 7] = 1.0
    u = torch.zeros(1, 2, 16, 16)
    u[:, 0] = 2.0  # sample at x + 2  -> content moves 2 px to the left
    out = warp(img, u)
    assert out[0, 0, 5, 5] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def test_warp_3d_and_shape_errors():
    vol = torch.rand(1, 1, 6, 8, 10)
    assert torch.allclose(warp(vol, torch.zeros(1, 3, 6, 8, 10)), vol, atol=1e-6)
    with pytest.raises(ValueError, match="displacement must be"):
        warp(vol, torch.zeros(1, 2, 6, 8, 10))


def test_integrating_v_then_minus_v_returns_identity():
    v = _smooth_field(amp=2.0)
    phi = integrate_velocity(v, 7)
    phi_inv = integrate_velocity(-v, 7)
    residual = compose(phi, phi_inv)[:, :, 4:-4, 4:-4]  # away from the border padding
    # velocities up to ~4 px: linear interpolation leaves < 0.1 px (2.5 %) and < 0.03 px on average
    assert residual.abs().max() < 0.1 and residual.abs().mean() < 0.03
    assert phi.abs().max() > 1.0  # the field is not trivially small


def test_scaling_and_squaring_of_a_constant_velocity_is_a_translation():
    v = torch.zeros(1, 2, 16, 16)
    v[:, 1] = 1.5
    assert torch.allclose(integrate_velocity(v, 6)[:, :, 2:-2, 2:-2], v[:, :, 2:-2, 2:-2], atol=1e-4)


def test_gradient_loss_is_zero_for_constant_and_positive_otherwise():
    assert gradient_loss(torch.ones(1, 2, 8, 8)) == 0
    assert gradient_loss(_smooth_field()) > 0


def test_temporal_attention_mixes_frames_and_starts_as_identity():
    att = TemporalSelfAttention(8, heads=2, max_frames=10)
    z = torch.randn(2, 5, 8, 3, 3)
    assert torch.allclose(att(z), z)  # zero-initialised output projection
    torch.nn.init.normal_(att.out.weight)
    out = att(z)
    z2 = z.clone()
    z2[:, 4] += torch.randn_like(z2[:, 4])  # changing the last frame changes the output of the first (attention across time)
    assert not torch.allclose(att(z2)[:, 0], out[:, 0])
    with pytest.raises(ValueError, match="divisible"):
        TemporalSelfAttention(6, heads=4)


def test_ltma_shapes_and_lagrangian_is_inverse_of_backward_map():
    torch.manual_seed(0)
    net = LTMANet(LTMAConfig(channels=(8, 16, 16), heads=2, max_frames=8, int_steps=6))
    frames = torch.rand(2, 5, 32, 32)
    v = net(frames)
    assert v.shape == (2, 5, 2, 32, 32)
    v = v + _smooth_field((10, 2, 32, 32), amp=1.0).view(2, 5, 2, 32, 32)
    back = net.backward_maps(v).flatten(0, 1)
    fwd = net.lagrangian(v).flatten(0, 1)
    assert compose(back, fwd)[:, :, 4:-4, 4:-4].abs().max() < 0.05
    loss, logs = net.loss(frames)
    assert math.isfinite(float(loss.detach())) and logs["image_mse"] > 0
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.rand(1, 3, 30, 32))


def test_ltma_training_steps_lower_the_registration_loss_on_a_moving_disc():
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    frames = torch.stack([((xx - 16) ** 2 + (yy - 16) ** 2 < (9 - 0.8 * t) ** 2).float() for t in range(6)])[None]
    net = LTMANet(LTMAConfig(channels=(8, 16, 16), heads=2, max_frames=8, int_steps=5))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    first = float(net.loss(frames)[0].detach())
    for _ in range(60):
        loss, _ = net.loss(frames)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(net.loss(frames)[0].detach()) < 0.5 * first


def test_ltma_coarse_velocity_gives_a_full_resolution_displacement_in_input_voxels():
    torch.manual_seed(0)
    net = LTMANet(LTMAConfig(channels=(8, 16, 16), heads=2, max_frames=8, int_steps=6, velocity_downsize=2))
    frames = torch.rand(2, 5, 32, 32)
    v = net(frames)
    assert v.shape == (2, 5, 2, 16, 16) and len(net.dec) == 1
    # a constant coarse velocity of c coarse voxels is a translation by 2c input voxels
    c = torch.tensor([0.75, -0.5]).view(1, 1, 2, 1, 1)
    u = net.lagrangian(c.expand(2, 5, 2, 16, 16).clone())
    assert u.shape == (2, 5, 2, 32, 32)
    assert torch.allclose(u[..., 4:-4, 4:-4], -2 * c.expand_as(u[..., 4:-4, 4:-4]), atol=1e-4)
    # smooth fields: the backward and forward maps still invert each other on the input grid
    v = _smooth_field((10, 2, 16, 16), amp=0.5).view(2, 5, 2, 16, 16)
    back, fwd = net.backward_maps(v).flatten(0, 1), net.lagrangian(v).flatten(0, 1)
    assert compose(back, fwd)[:, :, 6:-6, 6:-6].abs().max() < 0.1
    loss, logs = net.loss(frames)
    assert math.isfinite(float(loss.detach())) and logs["image_mse"] > 0
    for bad in (3, 8):
        with pytest.raises(ValueError, match="velocity_downsize"):
            LTMANet(LTMAConfig(channels=(8, 16, 16), velocity_downsize=bad))
