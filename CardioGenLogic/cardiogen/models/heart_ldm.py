"""Latent diffusion of whole-heart short-axis stacks with their masks (seed 001, chapter 5; issue 20.2).

The frozen image + mask autoencoder (:mod:`cardiogen.models.heart3d`, spec ``heart_ae``) maps a stack ``(S, H, W)``
and its mask to a latent ``z0`` ``(C, S', h, w)``; a DDPM (1000 steps, ε-prediction) learns those latents with a 3D
U-Net with self-attention (:class:`cardiogen.nets.video_unet.VideoUNet`, the slices on its depth axis) trained with
the L1 noise loss of Eq. 5.4; DDIM (Eq. 5.3) samples new latents, which the decoder turns into a stack *and* its
mask. Latents are divided by their standard deviation over the training set (``latent_scale``, stored with the
weights) so that the diffusion sees unit spread.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

import numpy as np
import torch
from torch import nn

from ..nets.schedules import DiffusionSchedule, make_schedule
from ..nets.video_unet import VideoUNet, VideoUNetConfig


@dataclass
class HeartLDMConfig:
    """Size of the latent denoiser (the latent grid follows the autoencoder)."""

    latent_channels: int = 4
    depth: int = 2                      #: S' (latent slices)
    size: int = 16                      #: h = w of the latent
    base_channels: int = 64
    channel_mult: tuple = (1, 2, 2)
    num_res_blocks: int = 1
    heads: int = 4
    schedule: str = "linear"
    schedule_steps: int = 1000
    context_dim: int = 0                #: > 0: cross-attention to condition tokens (chapter 6's conditioning)

    @classmethod
    def from_dict(cls, data: Mapping) -> "HeartLDMConfig":
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(data).items()}
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown HeartLDMConfig keys: {sorted(unknown)}")
        return cls(**data)


class HeartLDM(nn.Module):
    """ε-prediction denoiser ``forward(z_t (B, C, S', h, w), t (B,), context (B, L, D) | None)`` with its
    ``latent_scale``."""

    def __init__(self, config: Optional[HeartLDMConfig] = None) -> None:
        super().__init__()
        cfg = config or HeartLDMConfig()
        self.config = cfg
        levels = len(cfg.channel_mult)
        cross = tuple(range(levels)) if cfg.context_dim > 0 else ()
        self.unet = VideoUNet(VideoUNetConfig(
            in_channels=cfg.latent_channels, out_channels=cfg.latent_channels, base_channels=cfg.base_channels,
            channel_mult=tuple(cfg.channel_mult), num_res_blocks=cfg.num_res_blocks, heads=cfg.heads,
            spatial_attention_levels=tuple(range(1, levels)), temporal_attention_levels=tuple(range(levels)),
            cross_attention_levels=cross, context_dim=cfg.context_dim, cross_attention_positions=False,
            max_frames=max(8, cfg.depth)))
        self.register_buffer("latent_scale", torch.ones(()))

    def forward(self, z: torch.Tensor, t: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        cfg = self.config
        shape = (cfg.latent_channels, cfg.depth, cfg.size, cfg.size)
        if z.ndim != 5 or tuple(z.shape[1:]) != shape:
            raise ValueError(f"z must be (B, {', '.join(map(str, shape))}), got {tuple(z.shape)}")
        return self.unet(z, t, context=context)

    def schedule(self) -> DiffusionSchedule:
        return make_schedule(self.config.schedule, self.config.schedule_steps, "epsilon")

    @torch.no_grad()
    def fit_scale(self, latents: torch.Tensor) -> None:
        """latent_scale = the standard deviation of the training latents ``(N, C, S', h, w)`` (posterior means)."""
        self.latent_scale.copy_(latents.float().std().clamp_min(1e-6))


def ldm_config(config: dict, ae_config: Any, stack_shape: tuple[int, int]) -> HeartLDMConfig:
    """The denoiser's size for a training config (``model`` keys of :class:`HeartLDMConfig`; the latent grid follows
    the autoencoder and the stack ``(slices, size)``) — one rule for training and for loading weights."""
    m = {k: v for k, v in config.get("model", {}).items() if k in HeartLDMConfig.__dataclass_fields__}
    slices, size = stack_shape
    m.update(latent_channels=ae_config.latent_channels, depth=slices // ae_config.temporal_factor,
             size=size // ae_config.spatial_factor)
    return HeartLDMConfig.from_dict(m)


def load_heart_ldm(model_id: str, ae_config: Any, device: str = "cpu") -> HeartLDM:
    """A registered ``heart_ldm`` (evaluation mode), sized by :func:`ldm_config` from its config and its autoencoder's
    ``ae_config``."""
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(model_id)
    d = entry.config["data"]
    model = HeartLDM(ldm_config(entry.config, ae_config, (int(d.get("slices", 8)), int(d.get("size", 64)))))
    model.load_state_dict(reg.load_state_dict(model_id, device=device))
    return model.to(device).eval()


def sample_latents(model: HeartLDM, n: int, steps: int = 50, seed: int = 0, eta: float = 0.0,
                   context: Optional[torch.Tensor] = None, guidance: float = 1.0) -> torch.Tensor:
    """``n`` latents ``(n, C, S', h, w)`` in the autoencoder's units (DDIM, ``steps`` steps; sample i drawn from the
    generator seeded ``seed + i``, so a stack does not depend on the batch it is drawn in)."""
    from ..nets.samplers import ddim_sample

    cfg = model.config
    cond = {"context": context} if context is not None else None
    uncond = {"context": None} if context is not None and guidance != 1.0 else None
    with torch.no_grad():
        z = ddim_sample(model, (int(n), cfg.latent_channels, cfg.depth, cfg.size, cfg.size), model.schedule(),
                        generator=int(seed), steps=int(steps), eta=float(eta), cond=cond, uncond=uncond,
                        guidance_scale=float(guidance))
    return z * model.latent_scale


def generate(model: HeartLDM, ae: Any, n: int, steps: int = 50, seed: int = 0, **kw: Any) -> tuple[np.ndarray,
                                                                                                     np.ndarray]:
    """``n`` synthetic stacks: images ``(n, S, H, W)`` in [-1, 1] and their masks ``(n, S, H, W)`` uint8."""
    from .heart3d import decode_stacks

    return decode_stacks(ae, sample_latents(model, n, steps, seed, **kw))
