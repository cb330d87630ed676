"""GANcMRI (seed 002): a StyleGAN2 frame generator trained on four-chamber cine frames, plus its training data.

* :class:`GANcMRI` holds the generator ``G``, the discriminator ``D``, the exponential moving average ``G_ema``
  (the generator used for inference, as in StyleGAN2) and the path-length regulariser state. ``forward`` dispatches
  by ``phase`` so that DDP (``torchrun``) synchronises the generator step through its wrapper.
* :func:`lax_video_pool` renders the training / evaluation videos: phantom four-chamber cine (``view="4ch"``), one
  long-axis plane per case, ``frames`` frames over one RR interval starting at ED, intensities scaled to [-1, 1] by
  the video's 1st / 99th percentiles, with the truth labels and the ES frame.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ..nets.stylegan2 import (Discriminator, Generator, PathLengthRegularizer, StyleGAN2Config, d_logistic_loss,
                              g_nonsaturating_loss)
from .video_data import normalise_minus1_1


class GANcMRI(nn.Module):
    """StyleGAN2 G + D + G_ema for grayscale cine frames ``(B, 1, R, R)`` in [-1, 1]."""

    def __init__(self, config: StyleGAN2Config | dict) -> None:
        super().__init__()
        self.config = config if isinstance(config, StyleGAN2Config) else StyleGAN2Config.from_dict(config)
        self.G = Generator(self.config)
        self.D = Discriminator(self.config)
        self.G_ema = copy.deepcopy(self.G)
        for p in self.G_ema.parameters():
            p.requires_grad_(False)
        self.pl = PathLengthRegularizer()

    def generator_parameters(self):
        return self.G.parameters()

    def discriminator_parameters(self):
        return self.D.parameters()

    @torch.no_grad()
    def update_ema(self, beta: float) -> None:
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    def forward(self, z: torch.Tensor, mix_z: Optional[torch.Tensor] = None, phase: str = "G",
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """phase "G": the generator's non-saturating loss for latents ``z`` (style mixing with ``mix_z``)."""
        if phase != "G":
            raise ValueError(f"unknown phase {phase!r}")
        fake = self.G(z, mix_z=mix_z, generator=generator, update_w_avg=self.training)
        return g_nonsaturating_loss(self.D(fake))

    def discriminator_loss(self, real: torch.Tensor, z: torch.Tensor, mix_z: Optional[torch.Tensor] = None,
                           generator: Optional[torch.Generator] = None) -> torch.Tensor:
        with torch.no_grad():
            fake = self.G(z, mix_z=mix_z, generator=generator)
        return d_logistic_loss(self.D(real), self.D(fake))


def build_gancmri(model_cfg: dict) -> GANcMRI:
    return GANcMRI(StyleGAN2Config.from_dict(model_cfg))


@functools.lru_cache(maxsize=6)
def lax_video_pool(seeds: tuple[int, ...], size: int = 64, frames: int = 50,
                   pixel_mm: Optional[float] = 2.8) -> dict[str, Any]:
    """Phantom four-chamber cine videos for ``seeds``, at a fixed pixel size (``pixel_mm``; None: the phantom's
    heart-sized field of view) so that bigger hearts look bigger, as in a real scanner's fixed field of view.

    Returns:
        ``video`` float32 ``(N, T, size, size)`` in [-1, 1]; ``labels`` uint8 ``(N, T, size, size)`` (1 LV blood,
        2 LV myocardium, 3 RV blood, 4 RV myocardium); ``es_frame`` int ``(N,)``; ``sphericity`` (model, ratio),
        ``pixel_mm`` ``(N,)``; ``seeds``.
    """
    from ..phantom import PhantomConfig, make_case

    videos, labels, es, sph, pix = [], [], [], [], []
    for seed in seeds:
        case = make_case(PhantomConfig(seed=int(seed), size=size, frames=frames, slices=1, view="4ch",
                                       modalities=("cine",), pixel_mm=pixel_mm))
        videos.append(normalise_minus1_1(case.cine.array[:, 0]))
        labels.append(case.truth.masks.labels[:, 0])
        es.append(case.truth.es_frame)
        sph.append(case.truth.phenotypes_model.sphericity)
        pix.append(case.cine.geometry.spacing[0])
    return {"video": np.stack(videos).astype(np.float32), "labels": np.stack(labels).astype(np.uint8),
            "es_frame": np.array(es, dtype=int), "sphericity": np.array(sph), "pixel_mm": np.array(pix),
            "seeds": tuple(int(s) for s in seeds)}
