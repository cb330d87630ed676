"""Figure 6.2's baselines for the conditional 4D model: a conditional VAE and a conditional GAN (seed 001, chapter 6).

Both work in the same packed latent space as :class:`~cardiogen.models.heart4d.Heart4DLDM` (``(C·S', T, h, w)``,
the per-frame latents of the frozen cycle autoencoder, divided by ``latent_scale``) and are decoded by the same
decoder, so that the comparison isolates the generative model; both read the same conditions ``(B, F, 2)`` through
the same :class:`~cardiogen.models.heart4d.DemographicEncoder`'s whole-profile MLP token.

* :class:`LatentCVAE` — CVAE (Sohn et al. 2015, the seed's [64]): the condition is concatenated with the input in the
  encoder and with the code in the decoder; loss = MSE + β·KL; samples decode ``z ~ N(0, I)``.
* :class:`LatentCGAN` — conditional GAN (Mirza & Osindero 2014, the seed's [258]) with the least-squares loss (Mao et
  al. 2017); the discriminator sees the latent and the condition (projection).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .heart4d import FACTORS, DemographicEncoder


@dataclass
class LatentBaselineConfig:
    """Latent grid (as :class:`~cardiogen.models.heart4d.Heart4DConfig`) and the baselines' width."""

    latent_channels: int = 8
    frames: int = 8
    size: int = 8
    channels: int = 64
    code_dim: int = 64
    context_dim: int = 64
    beta: float = 1e-2

    @classmethod
    def from_dict(cls, data: Mapping) -> "LatentBaselineConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(data).items() if k in known})


def _strides(cfg: LatentBaselineConfig) -> tuple[tuple, tuple, int]:
    """Kernel, stride and the depth after two strided layers: the depth axis ``T`` is halved twice when it has at
    least 4 entries (a cycle's frames), kept otherwise (a 3D latent's 2 slices)."""
    if cfg.frames >= 4:
        return (4, 4, 4), (2, 2, 2), cfg.frames // 4
    return (1, 4, 4), (1, 2, 2), cfg.frames


def _encoder(cfg: LatentBaselineConfig, in_extra: int, out: int) -> nn.Sequential:
    """``(B, C + extra, T, h, w)`` → ``(B, out)``: two strided 3D convolutions and a linear head."""
    c = cfg.channels
    k, st, depth = _strides(cfg)
    pad = tuple(1 if v == 4 else 0 for v in k)
    return nn.Sequential(
        nn.Conv3d(cfg.latent_channels + in_extra, c, 3, padding=1), nn.SiLU(),
        nn.Conv3d(c, c, k, stride=st, padding=pad), nn.SiLU(),
        nn.Conv3d(c, 2 * c, k, stride=st, padding=pad), nn.SiLU(),
        nn.Flatten(), nn.Linear(2 * c * depth * (cfg.size // 4) ** 2, out))


class _Decoder(nn.Module):
    """``(B, code + context)`` → ``(B, C, T, h, w)``: a linear map to a ``(2c, T/4, h/4, w/4)`` grid and two
    transposed 3D convolutions."""

    def __init__(self, cfg: LatentBaselineConfig, in_dim: int) -> None:
        super().__init__()
        c = cfg.channels
        k, st, depth = _strides(cfg)
        pad = tuple(1 if v == 4 else 0 for v in k)
        self.grid = (2 * c, depth, cfg.size // 4, cfg.size // 4)
        self.fc = nn.Linear(in_dim, 2 * c * self.grid[1] * self.grid[2] * self.grid[3])
        self.net = nn.Sequential(
            nn.SiLU(), nn.ConvTranspose3d(2 * c, c, k, stride=st, padding=pad), nn.SiLU(),
            nn.ConvTranspose3d(c, c, k, stride=st, padding=pad), nn.SiLU(),
            nn.Conv3d(c, cfg.latent_channels, 3, padding=1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).reshape(-1, *self.grid))


def _broadcast(token: torch.Tensor, cfg: LatentBaselineConfig) -> torch.Tensor:
    """``(B, D)`` → ``(B, D, T, h, w)``."""
    return token[:, :, None, None, None].expand(-1, -1, cfg.frames, cfg.size, cfg.size)


class LatentCVAE(nn.Module):
    """Conditional VAE on packed latents (scaled units): ``forward(z, cond, generator)`` → (reconstruction, μ,
    log σ²); :meth:`sample` ``(cond, generator)``."""

    def __init__(self, config: Optional[LatentBaselineConfig] = None) -> None:
        super().__init__()
        cfg = config or LatentBaselineConfig()
        self.config = cfg
        self.cond = DemographicEncoder(len(FACTORS), cfg.context_dim)
        self.encoder = _encoder(cfg, cfg.context_dim, 2 * cfg.code_dim)
        self.decoder = _Decoder(cfg, cfg.code_dim + cfg.context_dim)
        self.register_buffer("latent_scale", torch.ones(()))

    def _token(self, cond: torch.Tensor) -> torch.Tensor:
        return self.cond(cond)[:, -1]

    def forward(self, z: torch.Tensor, cond: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tok = self._token(cond)
        mu, logvar = self.encoder(torch.cat([z, _broadcast(tok, self.config)], 1)).chunk(2, dim=1)
        logvar = logvar.clamp(-10.0, 10.0)
        code = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return self.decoder(torch.cat([code, tok], 1)), mu, logvar

    def loss(self, z: torch.Tensor, cond: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        recon, mu, logvar = self(z, cond, generator)
        mse = F.mse_loss(recon, z)
        kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean() / z[0].numel()
        return mse + self.config.beta * kl * z[0].numel() / self.config.code_dim, {"mse": float(mse.detach()),
                                                                                      "kl": float(kl.detach())}

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        code = torch.randn((len(cond), self.config.code_dim), generator=generator)
        return self.decoder(torch.cat([code, self._token(cond)], 1))


class LatentCGAN(nn.Module):
    """Conditional least-squares GAN on packed latents (scaled units): generator ``(noise, cond)``, discriminator
    ``(latent, cond)`` with a projection of the condition token."""

    def __init__(self, config: Optional[LatentBaselineConfig] = None) -> None:
        super().__init__()
        cfg = config or LatentBaselineConfig()
        self.config = cfg
        self.g_cond = DemographicEncoder(len(FACTORS), cfg.context_dim)
        self.generator = _Decoder(cfg, cfg.code_dim + cfg.context_dim)
        self.d_cond = DemographicEncoder(len(FACTORS), cfg.context_dim)
        self.d_features = _encoder(cfg, 0, cfg.context_dim)
        self.d_out = nn.Linear(cfg.context_dim, 1)
        self.register_buffer("latent_scale", torch.ones(()))

    def generator_parameters(self) -> list:
        return list(self.g_cond.parameters()) + list(self.generator.parameters())

    def discriminator_parameters(self) -> list:
        return list(self.d_cond.parameters()) + list(self.d_features.parameters()) + list(self.d_out.parameters())

    def generate(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        code = torch.randn((len(cond), self.config.code_dim), generator=generator)
        return self.generator(torch.cat([code, self.g_cond(cond)[:, -1]], 1))

    def discriminate(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.d_features(z))
        return self.d_out(h)[:, 0] + (h * self.d_cond(cond)[:, -1]).sum(1) / h.shape[1] ** 0.5

    def d_loss(self, z: torch.Tensor, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            fake = self.generate(cond, generator)
        return 0.5 * ((self.discriminate(z, cond) - 1).pow(2).mean() + self.discriminate(fake, cond).pow(2).mean())

    def g_loss(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return 0.5 * (self.discriminate(self.generate(cond, generator), cond) - 1).pow(2).mean()

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.generate(cond, generator)


def stack_gan_config(model: Mapping, ae_config: Any, slices: int, size: int) -> LatentBaselineConfig:
    """The 3D LSGAN's size (table 5.1's baseline, spec ``heart_lsgan``) on the latent grid of the stack autoencoder
    ``ae_config`` for stacks of ``slices`` × ``size``² — one rule for training and loading."""
    return LatentBaselineConfig.from_dict({**dict(model), "latent_channels": ae_config.latent_channels,
                                           "frames": int(slices) // ae_config.temporal_factor,
                                           "size": int(size) // ae_config.spatial_factor})


def load_stack_gan(model_id: str) -> "LatentCGAN":
    """A registered ``heart_lsgan`` (evaluation mode)."""
    from ..weights import Registry
    from .heart3d import load_heart_ae

    reg = Registry()
    entry = reg.get(model_id)
    d = entry.config["data"]
    ae = load_heart_ae(str(entry.config["model"]["ae_from"]))
    model = LatentCGAN(stack_gan_config(entry.config["model"], ae.config, d.get("slices", 8), d.get("size", 64)))
    model.load_state_dict(reg.load_state_dict(model_id))
    return model.eval()


def sample_baseline(model: Any, profiles: list, seed: int = 0) -> torch.Tensor:
    """Packed latents (autoencoder units) for ``profiles`` from a baseline (sample i from the generator seeded
    ``seed + i``)."""
    from .heart4d import condition_vector

    cond = condition_vector(profiles)
    out = [model.sample(cond[i:i + 1], torch.Generator().manual_seed(int(seed) + i)) for i in range(len(cond))]
    return torch.cat(out) * model.latent_scale
