"""Projection of frames into the StyleGAN2 latent space (seed 002, Sec. 3.3.1: P : X → W).

Follows the StyleGAN2 projector (Karras et al. 2020, App. D): start every frame at the mean latent ``w_avg`` (plus
a ramped-down Gaussian perturbation), optimise the latent (one w broadcast to every layer — "w" — or one per layer —
"w+") and the per-layer noise maps with Adam (learning-rate ramp-up and cosine ramp-down) to minimise

    pixel_weight · MSE(G(w), x) + perceptual_weight · d_LPIPS(G(w), x) + noise_weight · Σ autocorrelation(noise)²

where d_LPIPS is our LPIPS-style distance on the four-chamber cardiac feature network (the seed uses VGG-LPIPS;
nothing is downloaded here) and the noise term is the multi-scale autocorrelation regulariser of the official code.
Frames are independent; they are optimised together in batches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import CardioGenInputError
from ..progress import report


@dataclass
class Projection:
    """Latents of projected frames.

    Attributes:
        ws: ``(N, num_ws, w_dim)`` float32 (W+ form; in "w" mode every layer holds the same w).
        noise: list per noise input of ``(N, 1, H, W)`` maps (what reproduces the frames exactly), or None.
        loss: ``(N,)`` final objective per frame; ``pixel_mse``: ``(N,)`` MSE of the reconstruction (range [-1, 1]).
        mode: "w" or "w+"; ``steps``: optimisation steps.
    """

    ws: torch.Tensor
    noise: Optional[list]
    loss: np.ndarray
    pixel_mse: np.ndarray
    mode: str
    steps: int


def perceptual_distance(net: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Differentiable LPIPS-style distance per frame ``(N,)`` of ``(N, 1, H, W)`` frames in [-1, 1]: unit-normalised
    encoder features of every stage of the cardiac feature network, squared differences averaged over space and
    stages (the same distance as :func:`cardiogen.metrics.cardiac_lpips`, with gradients)."""
    size = int(getattr(getattr(net, "config", None), "size", a.shape[-1]))
    if a.shape[-1] != size:
        a = F.interpolate(a, size=(size, size), mode="bilinear", align_corners=False)
        b = F.interpolate(b, size=(size, size), mode="bilinear", align_corners=False)
    fa, fb = net.stages((a + 1.0) * 0.5), net.stages((b + 1.0) * 0.5)
    per = []
    for x, y in zip(fa, fb):
        x = x / (x.norm(dim=1, keepdim=True) + 1e-10)
        y = y / (y.norm(dim=1, keepdim=True) + 1e-10)
        per.append((x - y).square().sum(1).mean((-2, -1)))
    return torch.stack(per).mean(0)


def noise_regularisation(noise: list[torch.Tensor]) -> torch.Tensor:
    """Σ over noise maps and scales (down to 8×8) of squared 1-pixel autocorrelations in x and y, per frame ``(N,)``."""
    total = 0.0
    for n in noise:
        while True:
            total = total + (n * torch.roll(n, 1, dims=3)).mean((1, 2, 3)).square() \
                + (n * torch.roll(n, 1, dims=2)).mean((1, 2, 3)).square()
            if n.shape[-1] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


def frames_for_generator(frames: Any, resolution: int) -> torch.Tensor:
    """``(N, 1, R, R)`` float32 in [-1, 1] from an ImageSeries / array ``(..., H, W)`` / tensor: each frame resized
    to the generator's resolution; intensities scaled per *video* (all frames together) by the 1st/99th
    percentiles, as the training data."""
    from ..data import ImageSeries
    from ..models.video_data import normalise_minus1_1

    if isinstance(frames, ImageSeries):
        arr = frames.array.reshape(-1, *frames.array.shape[-2:])
    elif isinstance(frames, torch.Tensor):
        arr = frames.detach().cpu().numpy()
        arr = arr.reshape(-1, *arr.shape[-2:])
    else:
        arr = np.asarray(frames, dtype=np.float32)
        if arr.ndim < 2:
            raise CardioGenInputError("frames must be (..., H, W)", got=f"shape {arr.shape}")
        arr = arr.reshape(-1, *arr.shape[-2:])
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        raise CardioGenInputError("frames are empty or contain NaN/Inf")
    x = torch.from_numpy(normalise_minus1_1(arr))[:, None]  # the training data's scaling
    if x.shape[-2:] != (resolution, resolution):
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                          antialias=max(x.shape[-2:]) > resolution)
    return x


def project(generator: Any, frames: torch.Tensor, *, mode: str = "w", steps: int = 200, lr: float = 0.1,
            pixel_weight: float = 1.0, perceptual_weight: float = 1.0, noise_weight: float = 1e3,
            perceptual_net: Any = None, init_ws: Optional[torch.Tensor] = None, optimise_noise: bool = True,
            seed: int = 0, batch_size: int = 64, progress: Optional[Callable] = None) -> Projection:
    """Project ``frames`` ``(N, 1, R, R)`` in [-1, 1] (see :func:`frames_for_generator`) into the latent space.

    Args:
        generator: a :class:`~cardiogen.nets.stylegan2.Generator` (eval mode; its weights are not changed).
        mode: "w" (one latent per frame, as the official projector and seed 002) or "w+" (one per layer).
        steps, lr: Adam steps and peak learning rate (ramp-up over the first 5 %, cosine ramp-down over the last 25 %).
        perceptual_net: the cardiac feature network for the perceptual term (None: pixel loss only).
        init_ws: ``(N, num_ws, w_dim)`` starting latents (e.g. the previous frame of a video); default ``w_avg``.
        optimise_noise: also fit the noise maps (regularised); otherwise noise is zero.
    """
    if mode not in ("w", "w+"):
        raise CardioGenInputError("projection mode must be 'w' or 'w+'", got=mode)
    if frames.ndim != 4 or frames.shape[1] != 1:
        raise CardioGenInputError("frames must be (N, 1, R, R)", got=tuple(frames.shape))
    res = generator.cfg.resolution
    if tuple(frames.shape[-2:]) != (res, res):
        raise CardioGenInputError("frames do not have the generator's size", expected=(res, res),
                                  got=tuple(frames.shape[-2:]))
    device = next(generator.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    out_ws, out_noise, losses, mses = [], [], [], []
    n_total = frames.shape[0]
    for p in generator.parameters():
        p.requires_grad_(False)
    if perceptual_net is not None:
        for p in perceptual_net.parameters():
            p.requires_grad_(False)
    shapes = generator.synthesis.noise_shapes()
    w_avg = generator.mapping.w_avg.detach()
    # spread of w around its mean, for the initial perturbation (official: from 10 000 samples)
    with torch.no_grad():
        w_std = float((generator.mapping(torch.randn(2000, generator.cfg.z_dim, generator=gen).to(device))
                       - w_avg).square().sum(1).mean().sqrt())
    for start in range(0, n_total, int(batch_size)):
        target = frames[start:start + int(batch_size)].to(device)
        n = target.shape[0]
        if init_ws is not None:
            w0 = init_ws[start:start + n].to(device).clone()
            if mode == "w":
                w0 = w0.mean(1)
        else:
            w0 = w_avg.expand(n, -1).clone() if mode == "w" else w_avg.expand(n, generator.num_ws, -1).clone()
        w_opt = w0.requires_grad_(True)
        noise = [torch.zeros(n, 1, h, w, device=device) for h, w in shapes]
        if optimise_noise:
            noise = [torch.randn(n, 1, h, w, generator=gen).to(device) for h, w in shapes]
            for nz in noise:
                nz.requires_grad_(True)
        params = [w_opt] + (noise if optimise_noise else [])
        opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
        for step in range(int(steps)):
            t = step / max(int(steps) - 1, 1)
            ramp = 0.5 - 0.5 * math.cos(min(1.0, (1.0 - t) / 0.25) * math.pi)  # official schedule
            ramp *= min(1.0, t / 0.05)
            for g in opt.param_groups:
                g["lr"] = lr * max(ramp, 0.01)
            noise_scale = w_std * 0.05 * max(0.0, 1.0 - t / 0.75) ** 2 if init_ws is None else 0.0
            w_in = w_opt + noise_scale * torch.randn(w_opt.shape, generator=gen).to(device)
            ws = w_in[:, None, :].expand(-1, generator.num_ws, -1) if mode == "w" else w_in
            img = generator.synthesis(ws, noise=noise, noise_mode="const")
            per_frame = pixel_weight * (img - target).square().mean((1, 2, 3))
            if perceptual_net is not None and perceptual_weight > 0:
                per_frame = per_frame + perceptual_weight * perceptual_distance(perceptual_net, img, target)
            total = per_frame.sum()
            if optimise_noise and noise_weight > 0:
                total = total + noise_weight * noise_regularisation(noise).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            if optimise_noise:
                with torch.no_grad():  # keep the noise maps N(0, 1)
                    for nz in noise:
                        nz.sub_(nz.mean((1, 2, 3), keepdim=True)).div_(nz.std((1, 2, 3), keepdim=True) + 1e-8)
            done = (start + n * (step + 1) / steps) / n_total
            report(progress, done, f"projecting frames {start + 1}-{start + n} of {n_total}: step {step + 1}/{steps}")
        with torch.no_grad():
            ws = w_opt[:, None, :].expand(-1, generator.num_ws, -1) if mode == "w" else w_opt
            img = generator.synthesis(ws, noise=noise, noise_mode="const")
            mse = (img - target).square().mean((1, 2, 3))
        out_ws.append(ws.detach().cpu().clone())
        out_noise.append([nz.detach().cpu() for nz in noise])
        losses.append(per_frame.detach().cpu().numpy())
        mses.append(mse.cpu().numpy())
    noise_all = [torch.cat([b[i] for b in out_noise]) for i in range(len(shapes))]
    return Projection(ws=torch.cat(out_ws), noise=noise_all, loss=np.concatenate(losses),
                      pixel_mse=np.concatenate(mses), mode=mode, steps=int(steps))


def project_video(generator: Any, frames: torch.Tensor, *, steps_first: int = 200, steps_next: int = 60,
                  **kwargs: Any) -> Projection:
    """Project every frame of one or more videos ``(T, 1, R, R)``: the first frame from ``w_avg`` with
    ``steps_first`` steps, then every frame from the first frame's latent with ``steps_next`` steps (all frames of
    the video together). Each frame keeps its own latent, as in seed 002."""
    first = project(generator, frames[:1], steps=steps_first, **kwargs)
    init = first.ws.expand(frames.shape[0], -1, -1)
    return project(generator, frames, steps=steps_next, init_ws=init, **kwargs)
