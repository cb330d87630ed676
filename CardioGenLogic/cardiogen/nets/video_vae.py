"""Small KL-regularised 3D (T, H, W) convolutional autoencoder for latent video diffusion.

Kingma & Welling 2014 (VAE); Rombach et al. 2022 (LDM, Sec. 3.1: a KL-regularised autoencoder with a weak KL term
whose latent a diffusion model then learns). Shapes::

    x (B, C, T, H, W) --encode--> mu, logvar (B, 4, T / f_t, H / f, W / f) --sample--> z --decode--> (B, C, T, H, W)

with f = 2^(levels − 1) and f_t = 2^(number of True in ``temporal_downsample``). The loss is
``L = rec(x̂, x) + β · KL(q(z|x) ‖ N(0, I)) (+ w_p · perceptual(x̂, x))``, each term a mean per element, so β does
not depend on the video size (LDM's β = 1e-6 multiplies per-sample sums; in per-element means that is
1e-6 × latent elements / pixel elements).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ConvKind, Downsample, ResBlock, SpaceTimeConv, Upsample, VolumeSelfAttention, check_groups, check_heads
from .schedules import _randn


@dataclass
class VideoVAEConfig:
    """Size of :class:`VideoVAE`."""

    in_channels: int = 1
    channels: tuple[int, ...] = (32, 64, 64)      #: per level; H, W are halved between levels
    temporal_downsample: tuple[bool, ...] = ()    #: per downsampling step (len(channels) − 1), or () for none
    latent_channels: int = 4
    num_res_blocks: int = 1
    groups: int = 8
    conv: str = ConvKind.FULL                     #: "full" 3×3×3, "factorised" or "spatial" (see blocks.ConvKind)
    mid_attention: bool = False                   #: 3D self-attention at the bottleneck of encoder and decoder
    heads: int = 4                                #: of the bottleneck attention

    @classmethod
    def from_dict(cls, data: Mapping) -> "VideoVAEConfig":
        """Build from a YAML / JSON mapping (lists become tuples, unknown keys raise ``ValueError``)."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown VideoVAEConfig keys: {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    @property
    def spatial_factor(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def temporal_factor(self) -> int:
        return 2 ** sum(bool(v) for v in self.temporal_downsample)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the options that clash."""
        if not self.channels or self.in_channels < 1 or self.latent_channels < 1 or self.num_res_blocks < 1:
            raise ValueError("channels must be non-empty; in_channels, latent_channels, num_res_blocks >= 1")
        for i, c in enumerate(self.channels):
            check_groups(c, self.groups, f"channels[{i}]")
        if self.temporal_downsample and len(self.temporal_downsample) != len(self.channels) - 1:
            raise ValueError(f"temporal_downsample needs one flag per downsampling step ({len(self.channels) - 1}), "
                             f"got {len(self.temporal_downsample)}")
        ConvKind(self.conv)
        if self.mid_attention:
            check_heads(self.channels[-1], self.heads)


@dataclass
class VAEOutput:
    """Result of :meth:`VideoVAE.forward`; ``recon (B, C, T, H, W)``, the rest ``(B, latent, T', H', W')``."""

    recon: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


@dataclass
class VAELoss:
    """Loss terms (scalars); ``total`` is the one to back-propagate."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    perceptual: torch.Tensor | None = None


class VideoVAE(nn.Module):
    """KL autoencoder for ``(B, C, T, H, W)`` videos (see the module docstring for shapes and the loss).

    Args:
        config: a :class:`VideoVAEConfig`.
    """

    def __init__(self, config: VideoVAEConfig | None = None) -> None:
        super().__init__()
        cfg = config or VideoVAEConfig()
        cfg.validate()
        self.config = cfg
        ch, levels = list(cfg.channels), len(cfg.channels)
        temporal = list(cfg.temporal_downsample) or [False] * (levels - 1)

        def res_stack(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(*(ResBlock(cin if i == 0 else cout, cout, 0, cfg.groups, 0.0, cfg.conv)
                                   for i in range(cfg.num_res_blocks)))

        enc: list[nn.Module] = [SpaceTimeConv(cfg.in_channels, ch[0], cfg.conv)]
        for i in range(levels):
            enc.append(res_stack(ch[max(i - 1, 0)], ch[i]))
            if i < levels - 1:
                enc.append(Downsample(ch[i], temporal[i]))
        mid = [VolumeSelfAttention(ch[-1], cfg.heads, cfg.groups)] if cfg.mid_attention else []
        enc += [ResBlock(ch[-1], ch[-1], 0, cfg.groups, 0.0, cfg.conv), *mid, nn.GroupNorm(cfg.groups, ch[-1]),
                nn.SiLU(), nn.Conv3d(ch[-1], 2 * cfg.latent_channels, 1)]
        self.encoder = nn.Sequential(*enc)
        mid = [VolumeSelfAttention(ch[-1], cfg.heads, cfg.groups)] if cfg.mid_attention else []
        dec: list[nn.Module] = [nn.Conv3d(cfg.latent_channels, ch[-1], 1),
                                ResBlock(ch[-1], ch[-1], 0, cfg.groups, 0.0, cfg.conv), *mid]
        for i in reversed(range(levels)):
            dec.append(res_stack(ch[min(i + 1, levels - 1)], ch[i]))
            if i > 0:
                dec.append(Upsample(ch[i], temporal[i - 1], cfg.conv))
        dec += [nn.GroupNorm(cfg.groups, ch[0]), nn.SiLU(), SpaceTimeConv(ch[0], cfg.in_channels, cfg.conv)]
        self.decoder = nn.Sequential(*dec)

    def latent_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """``(B, latent_channels, T / f_t, H / f, W / f)`` for an input ``(B, C, T, H, W)``."""
        b, _, t, h, w = input_shape
        cfg = self.config
        return b, cfg.latent_channels, t // cfg.temporal_factor, h // cfg.spatial_factor, w // cfg.spatial_factor

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, C, T, H, W)`` → ``(mu, logvar)``, each ``(B, latent, T / f_t, H / f, W / f)``."""
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"x must be (B, {cfg.in_channels}, T, H, W), got {tuple(x.shape)}")
        bad = {k: v for k, v, f in (("T", x.shape[2], cfg.temporal_factor), ("H", x.shape[3], cfg.spatial_factor),
                                    ("W", x.shape[4], cfg.spatial_factor)) if v % f}
        if bad:
            raise ValueError(f"T must be a multiple of {cfg.temporal_factor} and H, W of {cfg.spatial_factor}; "
                             f"got {bad}")
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    @staticmethod
    def sample(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reparameterised draw ``z = mu + exp(logvar / 2) ε`` (Kingma & Welling 2014, Eq. 10)."""
        return mu + torch.exp(0.5 * logvar) * _randn(tuple(mu.shape), generator, mu.device, mu.dtype)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """``z (B, latent, T', H', W')`` → ``(B, C, T' f_t, H' f, W' f)``."""
        if z.ndim != 5 or z.shape[1] != self.config.latent_channels:
            raise ValueError(f"z must be (B, {self.config.latent_channels}, T, H, W), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None,
                sample_posterior: bool = True) -> VAEOutput:
        """Encode, draw z (or take the mean), decode."""
        mu, logvar = self.encode(x)
        z = self.sample(mu, logvar, generator) if sample_posterior else mu
        return VAEOutput(self.decode(z), mu, logvar, z)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Mean per latent element of KL(N(mu, e^logvar) ‖ N(0, 1)) = ½ (mu² + e^logvar − 1 − logvar)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean()


def vae_loss(out: VAEOutput, x: torch.Tensor, *, beta: float = 1e-6, recon: str = "l1",
             perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
             perceptual_weight: float = 1.0) -> VAELoss:
    """``rec + β KL (+ w_p perceptual)`` for a :class:`VAEOutput` of ``x (B, C, T, H, W)``.

    Args:
        recon: "l1" (sharper, LDM's choice) or "l2".
        perceptual: optional ``f(recon, x) -> scalar`` (e.g. a frame-wise feature distance); no network is
            downloaded here (MONAI's PerceptualLoss needs one).
    """
    if recon not in ("l1", "l2"):
        raise ValueError(f"recon must be 'l1' or 'l2', got {recon!r}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    rec = F.l1_loss(out.recon, x) if recon == "l1" else F.mse_loss(out.recon, x)
    kl = kl_divergence(out.mu, out.logvar)
    total = rec + beta * kl
    p = None
    if perceptual is not None:
        p = perceptual(out.recon, x)
        total = total + perceptual_weight * p
    return VAELoss(total, rec, kl, p)
