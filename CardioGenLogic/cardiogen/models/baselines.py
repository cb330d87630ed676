"""Baselines of seed 000's Table 1 for DENSE -> cine: ControlNet-style conditioning and a CycleGAN-style translator.

* :class:`ControlNetVideo` (Zhang et al. 2023, as used in seed 000: VDM backbone frozen, only the control branch
  trained, conditioned on the LTMA/DENSE displacement): a trainable copy of the video U-Net encoder sees
  ``x_t + hint(motion)``; its level features go through zero-initialised 1×1×1 convolutions and are added to the
  frozen backbone's skip and middle features.
* :class:`CycleGANTranslator` (Zhu et al. 2017): unpaired frame-wise translation between DENSE magnitude and cine
  with two ResNet generators, two PatchGAN discriminators, least-squares adversarial loss and cycle consistency
  (λ = 10). Frames are translated independently (no temporal model), as in the seed's CycleGAN row.
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from ..nets.video_unet import MID, VideoUNet


class ControlNetVideo(nn.Module):
    """Frozen backbone ``base`` (a trained VDM U-Net) + trainable control branch.

    ``forward(x_t (B, 1, T, H, W), t (B,), motion (B, 2, T, H, W))`` -> ε prediction.
    """

    def __init__(self, base: VideoUNet) -> None:
        super().__init__()
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.copy = copy.deepcopy(base)
        for p in self.copy.parameters():
            p.requires_grad_(True)
        self.hint = nn.Sequential(nn.Conv3d(2, 16, 3, padding=1), nn.SiLU(), nn.Conv3d(16, base.config.in_channels,
                                                                                         3, padding=1))
        nn.init.zeros_(self.hint[-1].weight)
        nn.init.zeros_(self.hint[-1].bias)
        probe = torch.zeros(1, base.config.in_channels, 4, 2 ** base.config.levels * 2, 2 ** base.config.levels * 2)
        with torch.no_grad():
            shapes = {k: v.shape[1] for k, v in base.features(probe, torch.zeros(1)).items()}
        self.zero_convs = nn.ModuleDict({str(k): nn.Conv3d(c, c, 1) for k, c in shapes.items()})
        for conv in self.zero_convs.values():
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    conditioned = True

    def trainable_parameters(self):
        return [p for name, p in self.named_parameters() if not name.startswith("base.")]

    def forward(self, x: torch.Tensor, t: torch.Tensor, motion: Optional[torch.Tensor] = None) -> torch.Tensor:
        if motion is None:
            return self.base(x, t)
        feats = self.copy.features(x + self.hint(motion / 4.0), t)
        control = {(MID if k == MID else int(k)): self.zero_convs[str(k)](v) for k, v in feats.items()}
        return self.base(x, t, control=control)


def _norm(c: int) -> nn.Module:
    return nn.InstanceNorm2d(c, affine=True)


class _ResBlock2d(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), _norm(c), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1),
                                  _norm(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN generator ``(N, 1, H, W) -> (N, 1, H, W)`` in [-1, 1]: conv, 2 down, ``blocks`` res blocks, 2 up."""

    def __init__(self, channels: int = 32, blocks: int = 4) -> None:
        super().__init__()
        c = channels
        layers = [nn.Conv2d(1, c, 7, padding=3), _norm(c), nn.ReLU(),
                  nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), _norm(2 * c), nn.ReLU(),
                  nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), _norm(4 * c), nn.ReLU()]
        layers += [_ResBlock2d(4 * c) for _ in range(blocks)]
        layers += [nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), _norm(2 * c), nn.ReLU(),
                   nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1), _norm(c), nn.ReLU(),
                   nn.Conv2d(c, 1, 7, padding=3), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator ``(N, 1, H, W) -> (N, 1, h, w)`` realness logits."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        c = channels
        self.net = nn.Sequential(nn.Conv2d(1, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), _norm(2 * c), nn.LeakyReLU(0.2),
                                 nn.Conv2d(2 * c, 4 * c, 3, padding=1), _norm(4 * c), nn.LeakyReLU(0.2),
                                 nn.Conv2d(4 * c, 1, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CycleGANTranslator(nn.Module):
    """Two generators (DENSE -> cine ``g_dc``, cine -> DENSE ``g_cd``) and two discriminators."""

    conditioned = False

    def __init__(self, channels: int = 32, blocks: int = 4, cycle_weight: float = 10.0) -> None:
        super().__init__()
        self.g_dc, self.g_cd = ResnetGenerator(channels, blocks), ResnetGenerator(channels, blocks)
        self.d_c, self.d_d = PatchDiscriminator(channels), PatchDiscriminator(channels)
        self.cycle_weight = cycle_weight

    def generator_parameters(self):
        return list(self.g_dc.parameters()) + list(self.g_cd.parameters())

    def discriminator_parameters(self):
        return list(self.d_c.parameters()) + list(self.d_d.parameters())

    @staticmethod
    def _frames(video: torch.Tensor) -> torch.Tensor:
        """(B, 1, T, H, W) -> (B·T, 1, H, W)."""
        b, c, t, h, w = video.shape
        return video.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)

    def translate(self, dense_video: torch.Tensor) -> torch.Tensor:
        """DENSE magnitude video ``(B, 1, T, H, W)`` in [-1, 1] -> cine video, frame by frame."""
        b, c, t, h, w = dense_video.shape
        out = self.g_dc(self._frames(dense_video))
        return out.view(b, t, c, h, w).permute(0, 2, 1, 3, 4)

    def generator_loss(self, dense: torch.Tensor, cine: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """LSGAN + cycle loss of both generators on unpaired frames ``(N, 1, H, W)``."""
        fake_c, fake_d = self.g_dc(dense), self.g_cd(cine)
        adv = ((self.d_c(fake_c) - 1) ** 2).mean() + ((self.d_d(fake_d) - 1) ** 2).mean()
        cycle = (self.g_cd(fake_c) - dense).abs().mean() + (self.g_dc(fake_d) - cine).abs().mean()
        return adv + self.cycle_weight * cycle, {"adv": float(adv.detach()), "cycle": float(cycle.detach())}

    def discriminator_loss(self, dense: torch.Tensor, cine: torch.Tensor) -> torch.Tensor:
        """LSGAN loss of both discriminators on real frames and on the generators' current (detached) fakes."""
        with torch.no_grad():
            fake_c, fake_d = self.g_dc(dense), self.g_cd(cine)
        loss_c = ((self.d_c(cine) - 1) ** 2).mean() + (self.d_c(fake_c) ** 2).mean()
        loss_d = ((self.d_d(dense) - 1) ** 2).mean() + (self.d_d(fake_d) ** 2).mean()
        return 0.5 * (loss_c + loss_d)
