"""STME: spatiotemporal motion encoder of MFD-V2V (seed 000, Section 3.2, Eq. 3).

``F = T ∘ S ∘ σ ∘ Conv₂ ∘ σ ∘ Conv₁(u)``: two 3D convolutions with ReLU over the motion sequence u (displacement
fields, channels (x, y) per frame), then spatial self-attention S (over the pixels of each frame) and temporal
self-attention T (over the frames at each pixel). The video diffusion U-Net's decoder attends to F (keys/values)
through cross-attention; F is resized to each decoder level and matched in channels by 1×1 convolutions (done in
the U-Net's conditioning hook).
"""
from __future__ import annotations

import torch
from torch import nn

from ..nets.attention import TemporalSelfAttention


class SpatialSelfAttention(nn.Module):
    """Multi-head self-attention over the H·W positions of every frame (pre-norm, residual, zero-init output)."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = nn.GroupNorm(min(8, channels), channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, C, T, H, W)`` -> same shape."""
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        q, k, v = self.qkv(self.norm(frames)).chunk(3, dim=1)
        d = c // self.heads

        def split(a: torch.Tensor) -> torch.Tensor:
            return a.reshape(b * t, self.heads, d, h * w).transpose(-1, -2)  # (N, heads, HW, d)

        # softmax(Q Kᵀ / √d) V, computed by the fused (flash / memory-efficient) kernel
        mixed = nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
        mixed = mixed.transpose(-1, -2).reshape(b * t, c, h, w)
        frames = frames + self.out(mixed)
        return frames.view(b, t, c, h, w).permute(0, 2, 1, 3, 4)


class STME(nn.Module):
    """Motion sequence ``(B, 2, T, H, W)`` (voxels) -> motion features F ``(B, C, T, H/s, W/s)``.

    Args:
        in_channels: displacement components (2 for in-plane motion).
        channels: C.
        heads: attention heads for S and T.
        downsample: spatial stride s of the first convolution (1 keeps the input resolution).
        max_frames: longest sequence for the temporal position embedding.
        motion_scale: divides the input displacement (voxels) so typical values are O(1).
    """

    def __init__(self, in_channels: int = 2, channels: int = 32, heads: int = 4, downsample: int = 1,
                 max_frames: int = 64, motion_scale: float = 4.0) -> None:
        super().__init__()
        self.motion_scale = float(motion_scale)
        self.conv1 = nn.Conv3d(in_channels, channels, kernel_size=3, stride=(1, downsample, downsample), padding=1)
        self.conv2 = nn.Conv3d(channels, channels, kernel_size=3, padding=1)
        self.act = nn.ReLU()
        self.spatial = SpatialSelfAttention(channels, heads)
        self.temporal = TemporalSelfAttention(channels, heads, max_frames)

    def forward(self, motion: torch.Tensor) -> torch.Tensor:
        if motion.ndim != 5:
            raise ValueError(f"motion must be (B, 2, T, H, W), got {tuple(motion.shape)}")
        f = self.act(self.conv2(self.act(self.conv1(motion / self.motion_scale))))  # σ∘Conv₂∘σ∘Conv₁
        f = self.spatial(f)                                                          # S
        return self.temporal(f.permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4)       # T
