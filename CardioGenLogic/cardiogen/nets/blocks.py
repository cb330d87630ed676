"""Small space-time building blocks for video networks on tensors ``(B, C, T, H, W)``.

Used by :mod:`cardiogen.nets.video_unet` (denoiser) and :mod:`cardiogen.nets.video_vae` (latent autoencoder):

* :func:`timestep_embedding` / :class:`TimestepEmbedding` — sinusoidal embedding of the diffusion step t
  (Vaswani et al. 2017, Sec. 3.5; Ho et al. 2020, App. B) followed by a 2-layer MLP;
* :class:`SpaceTimeConv` — a 3×3×3 conv, a 1×3×3 spatial conv (VDM, Ho et al. 2022), or a factorised
  "pseudo-3D" 1×3×3 spatial + 3×1×1 temporal conv (Make-A-Video, Singer et al. 2022, Sec. 3.2);
* :class:`ResBlock` — GroupNorm → SiLU → conv → (+ time embedding) → GroupNorm → SiLU → dropout → conv, + skip;
* :class:`Downsample` / :class:`Upsample` — ×2 in H, W (and optionally T);
* :class:`SpatialSelfAttention` (over the H·W pixels of each frame), :class:`TemporalAttention` (over the T frames of
  each pixel, wrapping :class:`~cardiogen.nets.attention.TemporalSelfAttention`) and :class:`CrossAttention` (each
  frame's pixels attend to a token sequence and/or to that frame of a conditioning feature map; seed 000, Sec. 3.2).

Every attention block ends in a zero-initialised projection added to its input, so an untrained block is the
identity and can be inserted into a trained network without changing it.
"""
from __future__ import annotations

import math
from enum import StrEnum

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TemporalSelfAttention


class ConvKind(StrEnum):
    """Kernel layout of :class:`SpaceTimeConv`."""

    FULL = "full"              #: one 3×3×3 kernel (Çiçek et al. 2016, 3D U-Net)
    FACTORISED = "factorised"  #: 1×3×3 spatial then 3×1×1 temporal (pseudo-3D, Make-A-Video)
    SPATIAL = "spatial"        #: 1×3×3 only; frames mix through temporal attention alone (VDM)


def check_groups(channels: int, groups: int, name: str = "channels") -> None:
    """Raise ``ValueError`` unless ``channels`` is a positive multiple of the GroupNorm ``groups``."""
    if groups < 1 or channels < 1 or channels % groups:
        raise ValueError(f"{name} ({channels}) must be a positive multiple of groups ({groups})")


def check_heads(channels: int, heads: int) -> None:
    """Raise ``ValueError`` unless ``channels`` is a positive multiple of the attention ``heads``."""
    if heads < 1 or channels % heads:
        raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding ``[cos(t ω_k), sin(t ω_k)]`` with ``ω_k = max_period^(-k / (dim/2))``.

    Args:
        t: ``(B,)`` diffusion steps (integer or fractional).
        dim: embedding size (even).
    Returns:
        ``(B, dim)`` float32.
    """
    if dim % 2:
        raise ValueError(f"dim must be even, got {dim}")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepEmbedding(nn.Module):
    """``t (B,)`` → ``(B, emb_dim)``: sinusoidal features of size ``dim``, Linear, SiLU, Linear."""

    def __init__(self, dim: int, emb_dim: int) -> None:
        super().__init__()
        if dim % 2 or dim < 2:
            raise ValueError(f"dim must be a positive even number, got {dim}")
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(timestep_embedding(t, self.dim))


def zero_module(module: nn.Module) -> nn.Module:
    """Set every parameter of ``module`` to zero and return it."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    return module


class SpaceTimeConv(nn.Module):
    """Same-size convolution ``(B, C_in, T, H, W)`` → ``(B, C_out, T, H, W)`` of the given :class:`ConvKind`.

    The temporal 3×1×1 conv of the factorised kind starts as the identity (Make-A-Video, Sec. 3.2), so a fresh
    factorised block behaves like a per-frame 2D conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kind: ConvKind | str = ConvKind.FACTORISED) -> None:
        super().__init__()
        kind = ConvKind(kind)
        self.kind = kind
        if kind is ConvKind.FULL:
            self.spatial = nn.Conv3d(in_channels, out_channels, 3, padding=1)
        else:
            self.spatial = nn.Conv3d(in_channels, out_channels, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = None
        if kind is ConvKind.FACTORISED:
            # replicate padding: the first and last frames see themselves, not zeros, at the ends of the clip
            self.temporal = nn.Conv3d(out_channels, out_channels, (3, 1, 1), padding=(1, 0, 0),
                                      padding_mode="replicate")
            with torch.no_grad():
                self.temporal.weight.zero_()
                self.temporal.weight[:, :, 1, 0, 0].copy_(torch.eye(out_channels))
                self.temporal.bias.zero_()

    def zero_init(self) -> "SpaceTimeConv":
        """Zero the spatial conv only (the output is then 0) and return self; a factorised conv keeps its temporal
        factor at the identity. (Zeroing both factors would leave each with a zero gradient for ever; zeroing the
        temporal factor instead makes every output frame a learned mix of its neighbours from scratch, which left
        the last frame of a clip poorly predicted.)"""
        zero_module(self.spatial)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.spatial(x)
        return x if self.temporal is None else self.temporal(x)


class ResBlock(nn.Module):
    """Residual block with a per-sample additive time embedding (Ho et al. 2020, App. B).

    ``h = conv1(SiLU(GN(x))) + W_e emb``; ``out = skip(x) + conv2(dropout(SiLU(GN(h))))``; conv2 starts at zero, so
    a fresh block is the identity (or a 1×1×1 projection where the channel count changes).

    Args:
        in_channels: C_in.
        out_channels: C_out.
        emb_dim: size of the embedding added after conv1; 0 for none (autoencoders).
        groups: GroupNorm groups; both channel counts must be multiples.
        dropout: dropout probability before conv2.
        conv: kernel layout (:class:`ConvKind`).
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int = 0, groups: int = 8,
                 dropout: float = 0.0, conv: ConvKind | str = ConvKind.FACTORISED) -> None:
        super().__init__()
        check_groups(in_channels, groups, "in_channels")
        check_groups(out_channels, groups, "out_channels")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.norm1 = nn.GroupNorm(groups, in_channels)
        self.conv1 = SpaceTimeConv(in_channels, out_channels, conv)
        self.emb = nn.Linear(emb_dim, out_channels) if emb_dim > 0 else None
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = SpaceTimeConv(out_channels, out_channels, conv).zero_init()
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv3d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, C_in, T, H, W)``, ``emb (B, emb_dim)`` → ``(B, C_out, T, H, W)``."""
        h = self.conv1(F.silu(self.norm1(x)))
        if self.emb is not None:
            if emb is None:
                raise ValueError("this block needs a time embedding (emb_dim > 0) but got emb=None")
            h = h + self.emb(F.silu(emb))[:, :, None, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Strided conv halving H, W (and T if ``temporal``): ``(B, C, T, H, W)`` → ``(B, C, T', H/2, W/2)``."""

    def __init__(self, channels: int, temporal: bool = False) -> None:
        super().__init__()
        if temporal:
            self.conv = nn.Conv3d(channels, channels, 3, stride=2, padding=1)
        else:
            self.conv = nn.Conv3d(channels, channels, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest ×2 in H, W (and T if ``temporal``) followed by a same-size conv."""

    def __init__(self, channels: int, temporal: bool = False, conv: ConvKind | str = ConvKind.FACTORISED) -> None:
        super().__init__()
        self.scale = (2.0, 2.0, 2.0) if temporal else (1.0, 2.0, 2.0)
        self.conv = SpaceTimeConv(channels, channels, conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=self.scale, mode="nearest"))


def _heads_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head ``softmax(Q Kᵀ / √d) V`` on token tensors ``q (N, Lq, C)``, ``k, v (N, Lk, C)`` → ``(N, Lq, C)``."""
    n, lq, c = q.shape

    def split(a: torch.Tensor) -> torch.Tensor:
        return a.reshape(a.shape[0], a.shape[1], heads, c // heads).transpose(1, 2)  # (N, h, L, d)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(n, lq, c)


class SpatialSelfAttention(nn.Module):
    """Self-attention over the H·W pixels of each frame (VDM's spatial attention, Ho et al. 2022, Sec. 3).

    ``x (B, C, T, H, W)`` → same shape; tokens are the pixels of one frame, frames and samples are independent.
    Pre-GroupNorm, zero-initialised output projection, residual.
    """

    #: attend across frames too (:class:`VolumeSelfAttention`)
    across_frames = False

    def __init__(self, channels: int, heads: int = 4, groups: int = 8) -> None:
        super().__init__()
        check_groups(channels, groups)
        check_heads(channels, heads)
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = zero_module(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        groups, length = (b, t * h * w) if self.across_frames else (b * t, h * w)
        tokens = self.norm(x).permute(0, 2, 3, 4, 1).reshape(groups, length, c)  # (B·T, H·W, C) or (B, T·H·W, C)
        q, k, v = self.qkv(tokens).chunk(3, dim=-1)
        mixed = self.out(_heads_attention(q, k, v, self.heads))
        return x + mixed.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class VolumeSelfAttention(SpatialSelfAttention):
    """Self-attention over all T·H·W positions of ``x (B, C, T, H, W)`` (3D attention, as the seed-001 autoencoder's
    bottleneck, where the grid is small); otherwise as :class:`SpatialSelfAttention`."""

    across_frames = True


class TemporalAttention(nn.Module):
    """Self-attention over the T frames of each pixel for ``(B, C, T, H, W)``.

    A layout adapter around :class:`~cardiogen.nets.attention.TemporalSelfAttention` (pre-LayerNorm, learned frame
    position embedding, zero-initialised output, residual), which works on ``(B, T, C, *S)``.
    """

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64) -> None:
        super().__init__()
        self.attention = TemporalSelfAttention(channels, heads=heads, max_frames=max_frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x.transpose(1, 2)).transpose(1, 2)


def grid_encoding(height: int, width: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Fixed 2D sinusoidal encoding of normalised pixel centres ``(y, x) ∈ (0, 1)``: ``(height·width, dim)``.

    Normalised coordinates make a pixel of a decoder level and the same place of a coarser or finer conditioning
    map get the same code, so cross-attention can align them although their grids differ.
    """
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    quarter = dim // 4
    freqs = math.pi * 2.0 ** torch.arange(quarter, device=device, dtype=torch.float32).clamp(max=10)
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    ay, ax = yy.reshape(-1, 1) * freqs, xx.reshape(-1, 1) * freqs
    return torch.cat([ay.sin(), ay.cos(), ax.sin(), ax.cos()], dim=-1).to(dtype)


class CrossAttention(nn.Module):
    """Cross-attention from a video to conditioning tokens (seed 000, Sec. 3.2: ``softmax(Q_h K_Fᵀ) V_F``).

    Queries are the pixels of one frame ``h`` (``Q = W_Q GN(h)``). Keys and values come from, concatenated:

    * ``context (B, L, D)``: a token sequence shared by all frames (projected D → C by a linear map);
    * ``cond_map (B, C_c, T, h', w')``: the same frame of a conditioning feature map, e.g. STME motion features,
      projected C_c → C by a 1×1×1 conv (the seed's 1×1 convolution) and flattened to h'·w' tokens; h', w' need
      not equal H, W. With ``positions`` a fixed encoding of normalised (y, x) is added to queries and map keys.

    Frame-wise attention costs O(T·H·W·(L + h'·w')) instead of O((T·H·W)·(T·h'·w')) for attention over all
    space-time tokens, and keeps frame t of the video tied to frame t of the motion. With neither input the block
    is the identity (unconditional / classifier-free-guidance branch).

    Args:
        channels: C of the video features.
        heads: attention heads (C divisible by heads).
        groups: GroupNorm groups for the query features.
        context_dim: D of ``context``; 0 disables it.
        map_channels: C_c of ``cond_map``; 0 disables it.
        positions: add the normalised 2D position encoding to queries and map keys.
    """

    def __init__(self, channels: int, heads: int = 4, groups: int = 8, context_dim: int = 0, map_channels: int = 0,
                 positions: bool = True) -> None:
        super().__init__()
        check_groups(channels, groups)
        check_heads(channels, heads)
        if context_dim <= 0 and map_channels <= 0:
            raise ValueError("CrossAttention needs context_dim > 0 or map_channels > 0")
        if positions and channels % 4:
            raise ValueError(f"positions=True needs channels divisible by 4, got {channels}")
        self.heads, self.context_dim, self.map_channels = heads, context_dim, map_channels
        self.positions = positions
        self.norm = nn.GroupNorm(groups, channels)
        self.context_proj = nn.Linear(context_dim, channels) if context_dim > 0 else None
        self.map_proj = nn.Conv3d(map_channels, channels, 1) if map_channels > 0 else None
        self.kv_norm = nn.LayerNorm(channels)
        self.to_q = nn.Linear(channels, channels)
        self.to_k = nn.Linear(channels, channels)
        self.to_v = nn.Linear(channels, channels)
        self.out = zero_module(nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                cond_map: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, C, T, H, W)``, ``context (B, L, D)``, ``cond_map (B, C_c, T, h', w')`` → ``(B, C, T, H, W)``."""
        if context is None and cond_map is None:
            return x
        b, c, t, h, w = x.shape
        queries = self.norm(x).permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)
        if self.positions:
            queries = queries + grid_encoding(h, w, c, x.device, x.dtype)
        keys, values = [], []
        if context is not None:
            if self.context_proj is None:
                raise ValueError("context given but this block was built with context_dim=0")
            if context.ndim != 3 or context.shape[0] != b or context.shape[2] != self.context_dim:
                raise ValueError(f"context must be ({b}, L, {self.context_dim}), got {tuple(context.shape)}")
            tokens = self.kv_norm(self.context_proj(context)).repeat_interleave(t, dim=0)  # (B·T, L, C)
            keys.append(tokens)
            values.append(tokens)
        if cond_map is not None:
            if self.map_proj is None:
                raise ValueError("cond_map given but this block was built with map_channels=0")
            if cond_map.ndim != 5 or cond_map.shape[:3] != (b, self.map_channels, t):
                raise ValueError(f"cond_map must be ({b}, {self.map_channels}, {t}, h, w), "
                                 f"got {tuple(cond_map.shape)}")
            mh, mw = cond_map.shape[3:]
            tokens = self.kv_norm(self.map_proj(cond_map).permute(0, 2, 3, 4, 1).reshape(b * t, mh * mw, c))
            values.append(tokens)
            keys.append(tokens + grid_encoding(mh, mw, c, x.device, x.dtype) if self.positions else tokens)
        k, v = self.to_k(torch.cat(keys, dim=1)), self.to_v(torch.cat(values, dim=1))
        mixed = self.out(_heads_attention(self.to_q(queries), k, v, self.heads))
        return x + mixed.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)
