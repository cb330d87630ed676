"""A 3D PWC-Net (Sun et al. 2018, extended to volumes as seed 004 uses it): feature pyramid, warping, cost volume.

Conventions (as :mod:`cardiogen.nets.warp`): volumes ``(B, C, D, H, W)``; flows ``(B, 3, D, H, W)`` in voxels,
channels (x, y, z) along (W, H, D). The flow from volume ``a`` to volume ``b`` is defined on ``a``'s grid and
points into ``b``: ``a(x) ≈ b(x + f(x))``, so ``warp(b, f)`` brings ``b`` onto ``a`` (backward warping).

* :class:`FeaturePyramid3D` — ``levels`` stages of two 3D convolutions (the first with stride 2), giving features at
  1/2, 1/4, … of the input size. The seed's CVAE reuses this pyramid, frozen, as its multi-scale condition.
* :func:`correlation_3d` — the cost volume: for every displacement ``d ∈ [−r, r]³`` (voxels of that level) the mean
  over channels of ``f₁(x) · f₂(x + d)``: ``(2r+1)³`` channels.
* :class:`PWCFlow3D` — coarse to fine: at each level, the second volume's features are warped by the upsampled flow
  of the coarser level, correlated with the first's, and a small estimator (cost, features, upsampled flow) predicts
  a flow increment; the finest level's flow is upsampled to the input grid.
* :func:`multiscale_epe` — the training loss: the endpoint error of each level's flow against the true flow
  average-pooled (and scaled) to that level, weighted (PWC-Net's multi-scale loss).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .warp import warp

__all__ = ["PWC3DConfig", "FeaturePyramid3D", "PWCFlow3D", "correlation_3d", "multiscale_epe", "upsample_flow"]


@dataclass
class PWC3DConfig:
    """Sizes of the 3D PWC-Net (scaled down from the seed only through these numbers)."""

    channels: tuple = (8, 16, 24, 32)  #: pyramid widths, finest first; len = number of levels (1/2 .. 1/2^len)
    search: tuple = (1, 1, 2, 2)       #: correlation radius (voxels of the level) per level, finest first
    estimator: tuple = (32, 24, 16)    #: widths of the flow estimator's convolutions

    @classmethod
    def from_dict(cls, data: dict) -> "PWC3DConfig":
        cfg = cls(**config_fields(cls, data))
        if len(cfg.search) != len(cfg.channels):
            raise ValueError(f"search needs one radius per level ({len(cfg.channels)}), got {cfg.search}")
        return cfg


def config_fields(cls: type, data: dict) -> dict:
    """The entries of ``data`` that are fields of the dataclass ``cls``, lists turned into tuples of ints (widths)."""
    return {k: tuple(int(x) for x in v) if isinstance(v, (list, tuple)) else v
            for k, v in dict(data).items() if k in cls.__dataclass_fields__}


def conv3(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3×3×3 convolution (padding 1) and LeakyReLU(0.1), the block of the pyramid, the estimators and the CVAE."""
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.1))


class FeaturePyramid3D(nn.Module):
    """Multi-scale features of a volume ``(B, 1, D, H, W)``: a list finest (1/2) to coarsest (1/2^levels)."""

    def __init__(self, channels: tuple = (8, 16, 24, 32), in_channels: int = 1) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        stages, cin = [], in_channels
        for c in self.channels:
            stages.append(nn.Sequential(conv3(cin, c, stride=2), conv3(c, c)))
            cin = c
        self.stages = nn.ModuleList(stages)

    @property
    def multiple(self) -> int:
        """D, H and W must be multiples of this."""
        return 2 ** len(self.channels)

    def forward(self, volume: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], volume
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def correlation_3d(f1: torch.Tensor, f2: torch.Tensor, radius: int, normalise: bool = False) -> torch.Tensor:
    """Cost volume ``(B, (2r+1)³, D, H, W)``: mean over channels of ``f1(x) · f2(x + d)``, d ∈ [−r, r]³ (zero
    outside ``f2``); channel order z-major, then y, then x offsets. ``normalise``: features scaled to unit length
    per voxel first (the sum is then the cosine similarity)."""
    if f1.shape != f2.shape:
        raise ValueError(f"feature shapes differ: {tuple(f1.shape)} vs {tuple(f2.shape)}")
    r = int(radius)
    d, h, w = f1.shape[-3:]
    if normalise:  # cosine similarity: the cost does not scale with the features' magnitude
        f1 = F.normalize(f1, dim=1, eps=1e-6)
        f2 = F.normalize(f2, dim=1, eps=1e-6)
    padded = F.pad(f2, (r, r, r, r, r, r))
    out = []
    for dz in range(2 * r + 1):
        for dy in range(2 * r + 1):
            for dx in range(2 * r + 1):
                out.append((f1 * padded[:, :, dz:dz + d, dy:dy + h, dx:dx + w]).mean(dim=1))
    return torch.stack(out, dim=1)


def upsample_flow(flow: torch.Tensor, size: tuple) -> torch.Tensor:
    """Flow ``(B, 3, d, h, w)`` (voxels) trilinearly resized to ``size`` (D, H, W), each component scaled by the size
    ratio of its axis (x by W/w, y by H/h, z by D/d)."""
    up = F.interpolate(flow, size=tuple(size), mode="trilinear", align_corners=False)
    scale = torch.tensor([size[2] / flow.shape[-1], size[1] / flow.shape[-2], size[0] / flow.shape[-3]],
                         dtype=flow.dtype, device=flow.device).view(1, 3, 1, 1, 1)
    return up * scale


class _Estimator(nn.Module):
    def __init__(self, cin: int, widths: tuple) -> None:
        super().__init__()
        layers, c = [], cin
        for w in widths:
            layers.append(conv3(c, w))
            c = w
        self.body = nn.Sequential(*layers)
        self.flow = nn.Conv3d(c, 3, 3, padding=1)
        nn.init.normal_(self.flow.weight, std=1e-3)
        nn.init.zeros_(self.flow.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow(self.body(x))


class PWCFlow3D(nn.Module):
    """Flow from volume ``a`` to volume ``b`` (both ``(B, 1, D, H, W)``, intensities ~[0, 1]); see the module doc."""

    def __init__(self, config: PWC3DConfig | None = None) -> None:
        super().__init__()
        cfg = config or PWC3DConfig()
        self.config = cfg
        self.pyramid = FeaturePyramid3D(cfg.channels)
        self.estimators = nn.ModuleList(
            _Estimator((2 * r + 1) ** 3 + c + 3, cfg.estimator) for c, r in zip(cfg.channels, cfg.search))

    @property
    def multiple(self) -> int:
        return self.pyramid.multiple

    def forward(self, a: torch.Tensor, b: torch.Tensor, *, all_levels: bool = False):
        """Flow ``(B, 3, D, H, W)`` voxels on ``a``'s grid (``all_levels``: also the list of level flows, finest
        first, each in voxels of its level)."""
        if a.shape != b.shape or a.ndim != 5:
            raise ValueError(f"a and b must be equal (B, 1, D, H, W) volumes, got {tuple(a.shape)}, {tuple(b.shape)}")
        if any(s % self.multiple for s in a.shape[-3:]):
            raise ValueError(f"D, H, W must be multiples of {self.multiple}, got {tuple(a.shape[-3:])}")
        fa, fb = self.pyramid(a), self.pyramid(b)
        flows: list[torch.Tensor] = []
        flow = None
        for level in range(len(fa) - 1, -1, -1):
            f1, f2 = fa[level], fb[level]
            if flow is None:
                up = f1.new_zeros((f1.shape[0], 3) + tuple(f1.shape[-3:]))
                warped = f2
            else:
                up = upsample_flow(flow, f1.shape[-3:])
                warped = warp(f2, up)
            cost = correlation_3d(f1, warped, self.config.search[level], normalise=True) * f1.shape[1]
            flow = up + self.estimators[level](torch.cat([cost, f1, up], dim=1))
            flows.insert(0, flow)
        full = upsample_flow(flow, a.shape[-3:])
        return (full, flows) if all_levels else full


def multiscale_epe(full: torch.Tensor, levels: list[torch.Tensor], truth: torch.Tensor,
                   weights: tuple | None = None, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """PWC-Net's loss: Σ_l w_l · mean EPE(level flow, truth pooled to the level and scaled to its voxels), plus the
    full-resolution EPE (weight 1). ``mask`` ``(B, 1, D, H, W)`` weights voxels (e.g. the heart), default all.

    Returns ``(loss, {"epe": full-resolution mean EPE in voxels, "epe_l<k>": per level})``."""
    def epe(pred: torch.Tensor, true: torch.Tensor, m: torch.Tensor | None) -> torch.Tensor:
        e = (pred - true).norm(dim=1, keepdim=True)
        return e.mean() if m is None else (e * m).sum() / m.sum().clamp_min(1.0)

    weights = weights or tuple(0.32 / 2 ** i for i in range(len(levels)))
    total = epe(full, truth, mask)
    logs = {"epe": float(total.detach())}
    for k, (flow, w) in enumerate(zip(levels, weights)):
        size = flow.shape[-3:]
        factor = truth.shape[-1] // size[-1]
        true_k = F.avg_pool3d(truth, factor) / factor
        m_k = None if mask is None else F.avg_pool3d(mask, factor)
        e_k = epe(flow, true_k, m_k)
        total = total + w * e_k
        logs[f"epe_l{k}"] = float(e_k.detach())
    return total, logs
