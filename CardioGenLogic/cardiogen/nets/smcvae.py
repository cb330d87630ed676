"""Sparse multi-channel VAE of cine and tagging sequences (seed 001, chapter 4, section 4.2.1), the network only.

Two encoder/decoder pairs, one per channel (``cine``, ``tagging``), share one latent space ``s`` (Antelmi et al.
2019, the seed's refs. [194], [196]):

* **Encoder** of channel c: a short-axis sequence ``(B, T, H, W)`` (the T frames as image channels, the seed's 20
  frames of one slice) through ``depth`` depthwise-separable convolutions (a 3x3 depthwise convolution, one kernel per
  channel, then a 1x1 pointwise one; the seed's DW + PW, after Xception) and a fully connected layer to ``μ_c``
  ``(B, D)``.
* **Sparse posterior**: ``q(s | x_c) = N(μ_c, diag(α ⊙ μ_c²))`` with one learned ``log α`` ``(D,)`` shared by the
  channels (a dropout posterior, Molchanov et al. 2017): a latent dimension whose dropout rate ``α / (1 + α)`` grows
  past ``dropout_threshold`` carries no information and is switched off at inference, so the model infers how many
  dimensions it needs (:attr:`SmcVAE.kept`).
* **Decoder** of channel c: a fully connected layer to a ``(C, H/8, W/8)`` map, ``depth`` depthwise-separable
  layers (transposed where they upsample) and ``tanh``: the sequence in [-1, 1].

Any channel's latent decodes every channel: cine -> tagging is ``decode(tagging, encode(cine))``. Loss and data are in
:mod:`cardiogen.models.cine_tagging`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import CardioGenInputError
from .pwc3d import config_fields

__all__ = ["SmcVAEConfig", "SmcVAE", "sparse_kl", "CHANNELS"]

CHANNELS = ("cine", "tagging")
#: Molchanov et al. (2017) approximation of KL(N(μ, α μ²) ‖ log-uniform) per dimension.
_K1, _K2, _K3 = 0.63576, 1.87320, 1.48695


@dataclass
class SmcVAEConfig:
    """Sizes of the smcVAE (scaled only through these numbers)."""

    frames: int = 20              #: T, frames per sequence (the encoders' input channels)
    size: int = 40                #: H = W, pixels of the (cropped) sequence; a multiple of 8
    depth: int = 7                #: L, depthwise-separable layers per encoder and decoder (the seed: 7); >= 3
    width: int = 32               #: feature channels of the first layer, doubled at each of the 3 downsamplings
    max_width: int = 128
    latent: int = 64              #: D
    dropout_threshold: float = 0.2  #: latent dimensions with dropout rate α / (1 + α) above are off at inference
    init_log_alpha: float = -4.0
    #: factor on the learning rate of log α (the training spec's parameter group). At the network's rate (1), Adam
    #: moves log α by at most about lr per step: from -4 to the threshold's -1.4 takes some 2,600 steps of one-signed
    #: gradient, so a run of a few thousand steps could never switch a dimension off (version 1 kept 64 of 64).
    log_alpha_lr_scale: float = 1.0

    @classmethod
    def from_dict(cls, data: dict) -> "SmcVAEConfig":
        cfg = cls(**config_fields(cls, data))
        if cfg.depth < 3 or cfg.size % 8 or cfg.latent < 1:
            raise CardioGenInputError("smcVAE needs depth >= 3, a size divisible by 8 and latent >= 1",
                                      got=f"depth {cfg.depth}, size {cfg.size}, latent {cfg.latent}")
        return cfg

    def strided(self) -> list[bool]:
        """Which encoder layers halve the resolution: three, spread over the depth (first, middle, last-but-one)."""
        picks = {0, self.depth // 2, self.depth - 2} if self.depth > 3 else {0, 1, 2}
        return [i in picks for i in range(self.depth)]

    def widths(self) -> list[int]:
        out, w = [], self.width
        for s in self.strided():
            w = min(2 * w, self.max_width) if (s and out) else w
            out.append(w)
        return out


class DSConv(nn.Module):
    """Depthwise 3x3 (stride 1 or 2; transposed 4x4 stride 2 when ``up``) then pointwise 1x1, norm, LeakyReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1, up: bool = False, act: bool = True):
        super().__init__()
        if up:
            self.depthwise = nn.ConvTranspose2d(cin, cin, 4, stride=2, padding=1, groups=cin)
        else:
            self.depthwise = nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin)
        self.pointwise = nn.Conv2d(cin, cout, 1)
        self.post = nn.Sequential(nn.GroupNorm(min(8, cout), cout), nn.LeakyReLU(0.2)) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.pointwise(self.depthwise(x)))


class Encoder(nn.Module):
    """``(B, T, H, W)`` -> ``μ`` ``(B, D)``."""

    def __init__(self, cfg: SmcVAEConfig):
        super().__init__()
        layers, cin = [], cfg.frames
        for s, w in zip(cfg.strided(), cfg.widths()):
            layers.append(DSConv(cin, w, stride=2 if s else 1))
            cin = w
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(cin * (cfg.size // 8) ** 2, cfg.latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


class Decoder(nn.Module):
    """``s`` ``(B, D)`` -> ``(B, T, H, W)`` in [-1, 1] (the encoder mirrored)."""

    def __init__(self, cfg: SmcVAEConfig):
        super().__init__()
        widths, strided = cfg.widths()[::-1], cfg.strided()[::-1]
        self.start = (widths[0], cfg.size // 8, cfg.size // 8)
        self.fc = nn.Linear(cfg.latent, int(math.prod(self.start)))
        layers = []
        for i, (s, w) in enumerate(zip(strided, widths)):
            last = i == len(widths) - 1
            cout = cfg.frames if last else widths[i + 1]
            layers.append(DSConv(w, cout, up=s, act=not last))
        self.conv = nn.Sequential(*layers)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(self.fc(s).view(s.shape[0], *self.start)))


def sparse_kl(log_alpha: torch.Tensor) -> torch.Tensor:
    """KL of the dropout posterior against the scale-invariant log-uniform prior, summed over dimensions (nats;
    Molchanov et al. 2017, eq. 14): falls as α grows, i.e. pushes unused dimensions to be dropped."""
    neg_kl = _K1 * torch.sigmoid(_K2 + _K3 * log_alpha) - 0.5 * torch.log1p(torch.exp(-log_alpha)) - _K1
    return -neg_kl.sum()


class SmcVAE(nn.Module):
    """Cine and tagging encoders/decoders around one sparse latent (see the module docstring)."""

    def __init__(self, cfg: SmcVAEConfig | None = None):
        super().__init__()
        self.cfg = cfg or SmcVAEConfig()
        self.encoders = nn.ModuleDict({c: Encoder(self.cfg) for c in CHANNELS})
        self.decoders = nn.ModuleDict({c: Decoder(self.cfg) for c in CHANNELS})
        self.log_alpha = nn.Parameter(torch.full((self.cfg.latent,), float(self.cfg.init_log_alpha)))

    def _check(self, x: torch.Tensor, channel: str) -> None:
        if channel not in CHANNELS:
            raise CardioGenInputError("unknown smcVAE channel", expected=" or ".join(CHANNELS), got=channel)
        want = (self.cfg.frames, self.cfg.size, self.cfg.size)
        if x.ndim != 4 or tuple(x.shape[1:]) != want:
            raise CardioGenInputError(f"{channel} sequences must be (B, {want[0]}, {want[1]}, {want[2]})",
                                      got=str(tuple(x.shape)))

    def encode(self, x: torch.Tensor, channel: str) -> torch.Tensor:
        """``μ_c`` ``(B, D)`` of sequences ``(B, T, H, W)`` in [-1, 1]."""
        self._check(x, channel)
        return self.encoders[channel](x)

    def decode(self, s: torch.Tensor, channel: str) -> torch.Tensor:
        if channel not in CHANNELS:
            raise CardioGenInputError("unknown smcVAE channel", expected=" or ".join(CHANNELS), got=channel)
        return self.decoders[channel](s)

    def sample_posterior(self, mu: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``s ~ N(μ, α μ²)`` by reparameterisation."""
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * self.log_alpha) * mu.abs() * eps

    @property
    def dropout_rate(self) -> torch.Tensor:
        """``α / (1 + α)`` per latent dimension ``(D,)``."""
        return torch.sigmoid(self.log_alpha)

    @property
    def kept(self) -> torch.Tensor:
        """Bool ``(D,)``: the dimensions in use (dropout rate below the threshold)."""
        return self.dropout_rate < self.cfg.dropout_threshold

    def latent(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The inference latent ``(B, D)`` of one or both channels: the mean of the given channels' ``μ`` with the
        dropped dimensions set to 0."""
        if not inputs:
            raise CardioGenInputError("the smcVAE needs at least one channel", expected=" and/or ".join(CHANNELS))
        mu = torch.stack([self.encode(x, c) for c, x in inputs.items()]).mean(0)
        return mu * self.kept.to(mu.dtype)

    def translate(self, inputs: dict[str, torch.Tensor], target: str) -> torch.Tensor:
        """Sequences ``(B, T, H, W)`` of ``target`` decoded from the latent of ``inputs`` (channel -> sequences)."""
        return self.decode(self.latent(inputs), target)
