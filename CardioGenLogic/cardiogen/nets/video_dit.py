"""Video Diffusion Transformer (DiT) velocity network for latent rectified flow (seed 003, Sec. 3.2, Eq. 9).

Peebles & Xie 2023 (DiT: patch tokens, adaLN-Zero conditioning on the flow time); Ma et al. 2024 (Latte: spatial and
temporal attention in alternation for video latents); the ECG enters by cross-attention to its cycle-aligned
PA-MAE features, as the seed's v_θ(z_t, t, c). Shapes::

    z_t (B, C, T, H, W) --patchify p×p--> tokens (B, T, N, D), N = (H/p)(W/p)
        + learned spatial (N, D) and temporal (T, D) position embeddings
    depth × [ adaLN-Zero( spatial self-attention over N ) ; adaLN-Zero( temporal self-attention over T ) ;
              cross-attention to the condition tokens (B, L, D_c) ; adaLN-Zero( MLP ) ]
    --adaLN, linear, unpatchify--> v (B, C, T, H, W)

The adaLN modulation reads the embedding of the flow time t plus the mean condition token, so the network knows
both where it is on the path and the global ECG morphology. Condition dropout (a learned null token sequence) trains
the unconditional velocity that classifier-free guidance needs.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import check_heads, timestep_embedding


@dataclass
class VideoDiTConfig:
    """Size of :class:`VideoDiT` (latent grid, patching, width, depth, condition)."""

    latent_channels: int = 4
    frames: int = 20                 #: T of the latent video (the seed keeps time: the cine's frame count)
    height: int = 16
    width: int = 16
    patch: int = 2
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    cond_dim: int = 64               #: D_c of the condition tokens (PA-MAE feature width)
    cond_tokens: int = 21            #: L: cycle-aligned frames + 1 global token

    @classmethod
    def from_dict(cls, data: Mapping) -> "VideoDiTConfig":
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown VideoDiTConfig keys: {sorted(unknown)}")
        return cls(**dict(data))

    def validate(self) -> None:
        if self.height % self.patch or self.width % self.patch:
            raise ValueError(f"latent {self.height}x{self.width} is not divisible by patch {self.patch}")
        check_heads(self.dim, self.heads)
        if min(self.frames, self.depth, self.cond_tokens, self.cond_dim) < 1:
            raise ValueError("frames, depth, cond_tokens and cond_dim must be >= 1")


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: x ``(B, ..., D)`` with per-sample shift and scale ``(B, D)``."""
    view = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
    return x * (1 + scale.view(view)) + shift.view(view)


class _Attention(nn.Module):
    """Multi-head attention of ``x (B', S, D)`` to ``context (B', L, D_c)`` (self-attention when context is None)."""

    def __init__(self, dim: int, heads: int, context_dim: Optional[int] = None) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        b, s, d = x.shape
        ctx = x if context is None else context
        q = self.q(x).view(b, s, self.heads, d // self.heads).transpose(1, 2)
        k, v = self.kv(ctx).view(b, ctx.shape[1], 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, s, d))


class DiTBlock(nn.Module):
    """Spatial attention, temporal attention, cross-attention to the condition, MLP; adaLN-Zero on three of them."""

    def __init__(self, dim: int, heads: int, cond_dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm_s = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn_s = _Attention(dim, heads)
        self.norm_t = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn_t = _Attention(dim, heads)
        self.norm_c = nn.LayerNorm(dim, eps=1e-6)
        self.attn_c = _Attention(dim, heads, context_dim=cond_dim)
        self.norm_m = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 9 * dim))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)
        nn.init.zeros_(self.attn_c.out.weight)
        nn.init.zeros_(self.attn_c.out.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x ``(B, T, N, D)``, c ``(B, D)`` (time + global condition), cond ``(B, L, D_c)``."""
        b, t, n, d = x.shape
        sh_s, sc_s, g_s, sh_t, sc_t, g_t, sh_m, sc_m, g_m = self.ada(c).chunk(9, dim=1)
        h = _modulate(self.norm_s(x), sh_s, sc_s).reshape(b * t, n, d)
        x = x + g_s.view(b, 1, 1, d) * self.attn_s(h).view(b, t, n, d)
        h = _modulate(self.norm_t(x), sh_t, sc_t).transpose(1, 2).reshape(b * n, t, d)
        x = x + g_t.view(b, 1, 1, d) * self.attn_t(h).view(b, n, t, d).transpose(1, 2)
        h = self.norm_c(x).reshape(b, t * n, d)
        x = x + self.attn_c(h, cond).view(b, t, n, d)
        return x + g_m.view(b, 1, 1, d) * self.mlp(_modulate(self.norm_m(x), sh_m, sc_m))


class VideoDiT(nn.Module):
    """Velocity network v_θ(z_t, t, c) on a latent video; see the module docstring."""

    def __init__(self, config: VideoDiTConfig | None = None) -> None:
        super().__init__()
        cfg = config or VideoDiTConfig()
        cfg.validate()
        self.config = cfg
        p, d = cfg.patch, cfg.dim
        self.tokens = (cfg.height // p) * (cfg.width // p)
        self.embed = nn.Linear(cfg.latent_channels * p * p, d)
        self.pos_space = nn.Parameter(torch.randn(self.tokens, d) * 0.02)
        self.pos_time = nn.Parameter(torch.randn(cfg.frames, d) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.cond_pos = nn.Parameter(torch.randn(cfg.cond_tokens, cfg.cond_dim) * 0.02)
        self.cond_global = nn.Linear(cfg.cond_dim, d)
        self.null_cond = nn.Parameter(torch.zeros(cfg.cond_tokens, cfg.cond_dim))
        self.blocks = nn.ModuleList([DiTBlock(d, cfg.heads, cfg.cond_dim, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.out = nn.Linear(d, cfg.latent_channels * p * p)
        for layer in (self.ada_out[1], self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def _check(self, z: torch.Tensor, cond: Optional[torch.Tensor]) -> None:
        cfg = self.config
        want = (cfg.latent_channels, cfg.frames, cfg.height, cfg.width)
        if z.ndim != 5 or tuple(z.shape[1:]) != want:
            raise ValueError(f"z must be (B, {', '.join(map(str, want))}), got {tuple(z.shape)}")
        if cond is not None and tuple(cond.shape[1:]) != (cfg.cond_tokens, cfg.cond_dim):
            raise ValueError(f"cond must be (B, {cfg.cond_tokens}, {cfg.cond_dim}), got {tuple(cond.shape)}")

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: Optional[torch.Tensor] = None,
                drop: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Velocity ``(B, C, T, H, W)``.

        Args:
            z: ``(B, C, T, H, W)`` latent z_t.
            t: ``(B,)`` flow time in [0, 1].
            cond: ``(B, L, D_c)`` condition tokens; None = unconditional (the null tokens).
            drop: optional ``(B,)`` bool: replace those samples' condition by the null tokens (training dropout).
        """
        self._check(z, cond)
        cfg = self.config
        b, c, nt, h, w = z.shape
        p = cfg.patch
        null = self.null_cond.unsqueeze(0).expand(b, -1, -1)
        if cond is None:
            cond = null
        elif drop is not None:
            cond = torch.where(drop.view(b, 1, 1), null, cond)
        cond = cond + self.cond_pos
        x = z.view(b, c, nt, h // p, p, w // p, p).permute(0, 2, 3, 5, 1, 4, 6).reshape(b, nt, self.tokens, c * p * p)
        x = self.embed(x) + self.pos_space + self.pos_time[:, None, :]
        temb = self.time_mlp(timestep_embedding(t.float() * 1000.0, cfg.dim))
        cvec = temb + self.cond_global(cond.mean(dim=1))
        for block in self.blocks:
            x = block(x, cvec, cond)
        shift, scale = self.ada_out(cvec).chunk(2, dim=1)
        x = self.out(_modulate(self.norm_out(x), shift, scale))  # (B, T, N, C·p·p)
        x = x.view(b, nt, h // p, w // p, c, p, p).permute(0, 4, 1, 2, 5, 3, 6)
        return x.reshape(b, c, nt, h, w)
