"""Factorised space-time U-Net denoiser for videos ``(B, C, T, H, W)`` (seed 000, Sec. 2-3; VDM, Ho et al. 2022).

Layout (level 0 = full resolution, level i = H/2^i × W/2^i, channels ``base_channels · channel_mult[i]``)::

    conv_in → [encoder level i: res blocks → spatial / temporal self-attention → skip_i → downsample]
            → middle: res → spatial + temporal attention → res
            → [decoder level i: upsample → concat skip_i → res blocks → attention → cross-attention]
            → GroupNorm → SiLU → conv_out (zero-initialised: a fresh net predicts 0)

* Time step: sinusoidal embedding + MLP, added inside every residual block.
* Self-attention: spatial (H·W pixels per frame) and temporal (T frames per pixel) at the chosen levels; the middle
  block always has both.
* Conditioning (seed 000, Sec. 3.2, MFD-V2V): cross-attention in chosen decoder levels to a token sequence
  ``context (B, L, D)`` and/or per-level feature maps ``cond_maps {level: (B, C_c, T_level, h, w)}`` (STME motion
  features), projected by 1×1×1 convs and used as keys / values.
* ControlNet-style baseline (Zhang et al. 2023): ``control {level: (B, C_level, T_level, H_level, W_level),
  "mid": ...}`` residuals are added to the skip features and to the middle output; :meth:`VideoUNet.features`
  returns exactly those tensors, so a trainable encoder copy plus zero 1×1×1 convs gives the control branch.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import (ConvKind, CrossAttention, Downsample, ResBlock, SpaceTimeConv, SpatialSelfAttention,
                     TemporalAttention, TimestepEmbedding, Upsample, check_groups, check_heads)

MID = "mid"  #: key of the middle block in ``control`` and :meth:`VideoUNet.features`


@dataclass
class VideoUNetConfig:
    """Size and options of :class:`VideoUNet` (levels counted from 0 = full resolution)."""

    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)           #: one entry per level; H, W divisible by 2^(levels-1)
    num_res_blocks: int = 1                              #: res blocks per encoder level (decoder: the same)
    spatial_attention_levels: tuple[int, ...] = (2,)     #: levels with self-attention over H·W
    temporal_attention_levels: tuple[int, ...] = (1, 2)  #: levels with self-attention over T
    cross_attention_levels: tuple[int, ...] = ()         #: decoder levels with cross-attention
    context_dim: int = 0                                 #: D of ``context (B, L, D)``; 0: no token context
    map_channels: dict[int, int] = field(default_factory=dict)  #: {level: C_c} of ``cond_maps``
    cross_attention_positions: bool = True               #: add normalised (y, x) codes to queries / map keys
    heads: int = 4
    groups: int = 8
    dropout: float = 0.0
    conv: str = ConvKind.FACTORISED                      #: "factorised" (1×3×3 + 3×1×1), "full", "spatial"
    temporal_downsample: bool = False                    #: halve T between levels too
    max_frames: int = 64                                 #: temporal attention position table size

    @classmethod
    def from_dict(cls, data: Mapping) -> "VideoUNetConfig":
        """Build from a YAML / JSON mapping (lists become tuples, unknown keys raise ``ValueError``)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown VideoUNetConfig keys: {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        if "map_channels" in values:
            values["map_channels"] = {int(k): int(v) for k, v in values["map_channels"].items()}
        return cls(**values)

    @property
    def levels(self) -> int:
        return len(self.channel_mult)

    def level_channels(self, level: int) -> int:
        return self.base_channels * self.channel_mult[level]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the options that clash."""
        if self.levels < 1 or any(m < 1 for m in self.channel_mult):
            raise ValueError(f"channel_mult needs >= 1 positive entries, got {self.channel_mult}")
        if self.in_channels < 1 or self.out_channels < 1 or self.num_res_blocks < 1:
            raise ValueError("in_channels, out_channels and num_res_blocks must be >= 1")
        if self.base_channels % 2:
            raise ValueError(f"base_channels must be even (time embedding), got {self.base_channels}")
        ConvKind(self.conv)
        for i in range(self.levels):
            check_groups(self.level_channels(i), self.groups, f"channels of level {i}")
        attn_levels = set(self.spatial_attention_levels) | set(self.temporal_attention_levels)
        for name, chosen in (("spatial_attention_levels", self.spatial_attention_levels),
                             ("temporal_attention_levels", self.temporal_attention_levels),
                             ("cross_attention_levels", self.cross_attention_levels),
                             ("map_channels", tuple(self.map_channels))):
            bad = [lv for lv in chosen if not 0 <= lv < self.levels]
            if bad:
                raise ValueError(f"{name} {bad} outside levels 0..{self.levels - 1} (channel_mult has {self.levels})")
        for lv in attn_levels | set(self.cross_attention_levels) | {self.levels - 1}:
            check_heads(self.level_channels(lv), self.heads)
        missing = set(self.map_channels) - set(self.cross_attention_levels)
        if missing:
            raise ValueError(f"map_channels levels {sorted(missing)} need cross-attention there: add them to "
                             f"cross_attention_levels {self.cross_attention_levels}")
        if self.cross_attention_levels and self.context_dim <= 0 and not self.map_channels:
            raise ValueError("cross_attention_levels given but neither context_dim nor map_channels is set")
        if (self.context_dim > 0 or self.map_channels) and not self.cross_attention_levels:
            raise ValueError("context_dim / map_channels given but cross_attention_levels is empty")
        if self.cross_attention_positions:
            for lv in self.cross_attention_levels:
                if self.level_channels(lv) % 4:
                    raise ValueError(f"cross_attention_positions needs level {lv} channels divisible by 4")


class _Stage(nn.Module):
    """Res blocks, then optional spatial / temporal self-attention, then optional cross-attention (one level)."""

    def __init__(self, in_channels: int, out_channels: int, n_res: int, emb_dim: int, cfg: VideoUNetConfig,
                 spatial: bool, temporal: bool, cross: CrossAttention | None = None) -> None:
        super().__init__()
        self.res = nn.ModuleList(
            ResBlock(in_channels if i == 0 else out_channels, out_channels, emb_dim, cfg.groups, cfg.dropout, cfg.conv)
            for i in range(n_res))
        self.spatial = SpatialSelfAttention(out_channels, cfg.heads, cfg.groups) if spatial else None
        self.temporal = TemporalAttention(out_channels, cfg.heads, cfg.max_frames) if temporal else None
        self.cross = cross

    def forward(self, h: torch.Tensor, emb: torch.Tensor, context: torch.Tensor | None = None,
                cond_map: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.res:
            h = block(h, emb)
        if self.spatial is not None:
            h = self.spatial(h)
        if self.temporal is not None:
            h = self.temporal(h)
        if self.cross is not None:
            h = self.cross(h, context, cond_map)
        return h


class VideoUNet(nn.Module):
    """Space-time U-Net ``ε_θ(x_t, t, F)`` predicting ``(B, C_out, T, H, W)`` from ``x_t (B, C_in, T, H, W)``.

    Args:
        config: a :class:`VideoUNetConfig` (default: 32 base channels, 3 levels, factorised convs).
    """

    def __init__(self, config: VideoUNetConfig | None = None) -> None:
        super().__init__()
        cfg = config or VideoUNetConfig()
        cfg.validate()
        self.config = cfg
        ch = [cfg.level_channels(i) for i in range(cfg.levels)]
        emb_dim = 4 * cfg.base_channels
        self.time_embed = TimestepEmbedding(cfg.base_channels, emb_dim)
        self.conv_in = SpaceTimeConv(cfg.in_channels, ch[0], cfg.conv)
        self.encoder, self.downsample = nn.ModuleList(), nn.ModuleList()
        for i in range(cfg.levels):
            self.encoder.append(_Stage(ch[max(i - 1, 0)], ch[i], cfg.num_res_blocks, emb_dim, cfg,
                                       i in cfg.spatial_attention_levels, i in cfg.temporal_attention_levels))
            if i < cfg.levels - 1:
                self.downsample.append(Downsample(ch[i], cfg.temporal_downsample))
        self.middle = _Stage(ch[-1], ch[-1], 1, emb_dim, cfg, spatial=True, temporal=True)
        self.middle_out = ResBlock(ch[-1], ch[-1], emb_dim, cfg.groups, cfg.dropout, cfg.conv)
        self.decoder, self.upsample = nn.ModuleDict(), nn.ModuleDict()
        for i in reversed(range(cfg.levels)):
            below = ch[i + 1] if i < cfg.levels - 1 else ch[-1]
            cross = None
            if i in cfg.cross_attention_levels:
                cross = CrossAttention(ch[i], cfg.heads, cfg.groups, cfg.context_dim, cfg.map_channels.get(i, 0),
                                       cfg.cross_attention_positions)
            self.decoder[str(i)] = _Stage(below + ch[i], ch[i], cfg.num_res_blocks, emb_dim, cfg,
                                          i in cfg.spatial_attention_levels, i in cfg.temporal_attention_levels, cross)
            if i < cfg.levels - 1:
                self.upsample[str(i)] = Upsample(below, cfg.temporal_downsample, cfg.conv)
        self.norm_out = nn.GroupNorm(cfg.groups, ch[0])
        self.conv_out = SpaceTimeConv(ch[0], cfg.out_channels, cfg.conv).zero_init()

    # ------------------------------------------------------------------ shapes
    def level_shape(self, level: int, input_shape: tuple[int, ...]) -> tuple[int, int, int, int, int]:
        """Shape ``(B, C_level, T_level, H_level, W_level)`` of the skip / control tensor of ``level`` (or the
        middle block for ``level == levels - 1``) for an input of ``input_shape``."""
        b, _, t, h, w = input_shape
        f = 2 ** level
        return (b, self.config.level_channels(level), t // f if self.config.temporal_downsample else t, h // f, w // f)

    def _check_input(self, x: torch.Tensor) -> None:
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"x must be (B, {cfg.in_channels}, T, H, W), got {tuple(x.shape)}")
        f = 2 ** (cfg.levels - 1)
        dims = {"H": x.shape[3], "W": x.shape[4]} | ({"T": x.shape[2]} if cfg.temporal_downsample else {})
        bad = {k: v for k, v in dims.items() if v % f}
        if bad:
            raise ValueError(f"{', '.join(bad)} must be multiples of {f} ({cfg.levels} levels), got {bad}")
        if x.shape[2] > cfg.max_frames:
            raise ValueError(f"at most max_frames={cfg.max_frames} frames, got T={x.shape[2]}")

    # ------------------------------------------------------------------ forward
    def _embed(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must be a scalar or ({x.shape[0]},), got {tuple(t.shape)}")
        return self.time_embed(t)

    def _encode(self, x: torch.Tensor, emb: torch.Tensor,
                control: Mapping[int | str, torch.Tensor] | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Encoder + middle; returns the middle output and the skips (control residuals added to both)."""
        control = dict(control or {})
        unknown = set(control) - set(range(self.config.levels)) - {MID}
        if unknown:
            raise ValueError(f"control keys must be levels 0..{self.config.levels - 1} or '{MID}', got {unknown}")
        h = self.conv_in(x)
        skips = []
        for i, stage in enumerate(self.encoder):
            h = stage(h, emb)
            skips.append(_add_control(h, control.get(i), f"control[{i}]"))
            if i < len(self.downsample):
                h = self.downsample[i](h)
        h = self.middle_out(self.middle(h, emb), emb)
        return _add_control(h, control.get(MID), f"control['{MID}']"), skips

    def features(self, x: torch.Tensor, t: torch.Tensor | float) -> dict[int | str, torch.Tensor]:
        """Encoder features ``{level: (B, C_level, T_level, H_level, W_level), "mid": ...}`` — the tensors that
        ``control`` residuals are added to (use a copy of this net as the ControlNet encoder)."""
        self._check_input(x)
        h, skips = self._encode(x, self._embed(x, t), None)
        return {**dict(enumerate(skips)), MID: h}

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, context: torch.Tensor | None = None,
                cond_maps: Mapping[int, torch.Tensor] | None = None,
                control: Mapping[int | str, torch.Tensor] | None = None) -> torch.Tensor:
        """Predict the model target (ε, v or x₀; see :mod:`cardiogen.nets.schedules`).

        Args:
            x: ``(B, C_in, T, H, W)`` noisy video x_t.
            t: ``(B,)`` or scalar diffusion step (0 … steps-1).
            context: ``(B, L, context_dim)`` conditioning tokens for every cross-attention level.
            cond_maps: ``{level: (B, C_c, T_level, h, w)}`` conditioning feature maps (C_c = ``map_channels[level]``).
            control: ``{level: (B, C_level, T_level, H_level, W_level), "mid": ...}`` additive residuals.
        Returns:
            ``(B, C_out, T, H, W)``.
        """
        self._check_input(x)
        cond_maps = dict(cond_maps or {})
        unknown = set(cond_maps) - set(self.config.map_channels)
        if unknown:
            raise ValueError(f"cond_maps levels {sorted(unknown)} not in map_channels {self.config.map_channels}")
        if context is not None and self.config.context_dim <= 0:
            raise ValueError("context given but the net was built with context_dim=0")
        emb = self._embed(x, t)
        h, skips = self._encode(x, emb, control)
        for i in reversed(range(self.config.levels)):
            if i < self.config.levels - 1:
                h = self.upsample[str(i)](h)
            h = self.decoder[str(i)](torch.cat([h, skips[i]], dim=1), emb, context, cond_maps.get(i))
        return self.conv_out(F.silu(self.norm_out(h)))


def _add_control(h: torch.Tensor, residual: torch.Tensor | None, name: str) -> torch.Tensor:
    if residual is None:
        return h
    if residual.shape != h.shape:
        raise ValueError(f"{name} must have shape {tuple(h.shape)}, got {tuple(residual.shape)}")
    return h + residual
