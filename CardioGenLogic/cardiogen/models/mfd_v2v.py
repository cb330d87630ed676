"""MFD-V2V: motion-feature-guided video diffusion for DENSE -> cine translation (seed 000, Sections 3.1-3.2).

* Motion: training uses the LTMA displacement of each cine video (unpaired: cine appearance, cine motion); inference
  uses the displacement measured by DENSE. Both are in-plane Lagrangian fields in voxel units, ``(B, 2, T, H, W)``.
* STME (:mod:`cardiogen.models.stme`) turns the motion into features F ``(B, C, T, H, W)``.
* The video diffusion U-Net (:class:`cardiogen.nets.video_unet.VideoUNet`) denoises the cine; its decoder levels
  attend to F (resized to each level; channels matched by the U-Net's 1×1×1 projections) through cross-attention.
* DDPM with the seed's sigmoid schedule, 1000 steps, ε-prediction; any registered sampler at inference.

:func:`build_model` also builds the unconditioned VDM baseline (``conditioning: none``), sharing everything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..nets.schedules import DiffusionSchedule, make_schedule
from ..nets.video_unet import VideoUNet, VideoUNetConfig
from .stme import STME


@dataclass
class MFDV2VConfig:
    """Model configuration (scaled down from the seed only through these numbers)."""

    size: int = 32                      #: H = W of the LV crop
    frames: int = 16                    #: T
    pixel_mm: float = 2.5               #: crop pixel size the model was trained at
    base_channels: int = 32
    channel_mult: tuple = (1, 2, 2)
    num_res_blocks: int = 1
    heads: int = 4
    stme_channels: int = 32
    stme_downsample: int = 2            #: STME works at H/2 (its spatial attention is quadratic in pixels)
    cross_attention_levels: tuple = (0, 1, 2)   #: decoder levels attending to the motion features
    conditioning: str = "stme"          #: "stme" (MFD-V2V) or "none" (VDM baseline)
    schedule: str = "sigmoid"
    schedule_steps: int = 1000
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping) -> "MFDV2VConfig":
        data = dict(data)
        for key in ("channel_mult", "cross_attention_levels"):
            if key in data:
                data[key] = tuple(data[key])
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown MFD-V2V config keys: {sorted(unknown)}")
        return cls(**data)


class MFDV2V(nn.Module):
    """ε-prediction denoiser ``forward(x_t (B, 1, T, H, W), t (B,), motion (B, 2, T, H, W) | None)``."""

    def __init__(self, config: Optional[MFDV2VConfig] = None) -> None:
        super().__init__()
        cfg = config or MFDV2VConfig()
        self.config = cfg
        if cfg.conditioning not in ("stme", "none"):
            raise ValueError(f"conditioning must be 'stme' or 'none', got {cfg.conditioning!r}")
        levels = len(cfg.channel_mult)
        cross = tuple(cfg.cross_attention_levels) if cfg.conditioning == "stme" else ()
        if any(not 0 <= lv < levels for lv in cross):
            raise ValueError(f"cross_attention_levels {cross} outside 0..{levels - 1}")
        self.unet = VideoUNet(VideoUNetConfig(
            in_channels=1, out_channels=1, base_channels=cfg.base_channels, channel_mult=tuple(cfg.channel_mult),
            num_res_blocks=cfg.num_res_blocks, heads=cfg.heads, cross_attention_levels=cross,
            map_channels={lv: cfg.stme_channels for lv in cross}, max_frames=max(64, cfg.frames),
            spatial_attention_levels=(levels - 1,), temporal_attention_levels=tuple(range(1, levels))))
        self.stme = (STME(2, cfg.stme_channels, cfg.heads, downsample=cfg.stme_downsample,
                          max_frames=max(64, cfg.frames)) if cross else None)

    @property
    def conditioned(self) -> bool:
        return self.stme is not None

    def motion_features(self, motion: torch.Tensor) -> dict[int, torch.Tensor]:
        """F from STME, resized (area / trilinear) to every cross-attention level's (T, h, w)."""
        feats = self.stme(motion)
        out = {}
        for level in self.unet.config.cross_attention_levels:
            size = (motion.shape[2], motion.shape[3] // 2**level, motion.shape[4] // 2**level)
            out[level] = feats if feats.shape[2:] == size else F.interpolate(feats, size=size, mode="trilinear",
                                                                            align_corners=False)
        return out

    def forward(self, x: torch.Tensor, t: torch.Tensor, motion: Optional[torch.Tensor] = None) -> torch.Tensor:
        if motion is not None and self.conditioned:
            if motion.shape[0] != x.shape[0] or motion.shape[2:] != x.shape[2:]:
                raise ValueError(f"motion must be (B, 2, {tuple(x.shape[2:])}), got {tuple(motion.shape)}")
            return self.unet(x, t, cond_maps=self.motion_features(motion))
        return self.unet(x, t)

    def schedule(self) -> DiffusionSchedule:
        return make_schedule(self.config.schedule, self.config.schedule_steps, "epsilon")


def build_model(config: Mapping[str, Any] | MFDV2VConfig) -> MFDV2V:
    return MFDV2V(config if isinstance(config, MFDV2VConfig) else MFDV2VConfig.from_dict(config))


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor]) -> Optional[torch.Tensor]:
    """Load a video diffusion weights file's tensors into ``model`` (strict) and return the training-data mean stored
    beside them (:data:`cardiogen.nets.samplers.X0_PRIOR_KEY`, ``(1, T, H, W)``, the sampler's ``x0_prior``), or
    None for weights exported before it was stored."""
    from ..nets.samplers import X0_PRIOR_KEY

    state = dict(state)
    prior = state.pop(X0_PRIOR_KEY, None)
    model.load_state_dict(state)
    return prior
