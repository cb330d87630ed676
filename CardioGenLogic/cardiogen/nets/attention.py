"""Multi-head self-attention across frames (temporal attention) for feature maps ``(B, T, C, *S)``."""
from __future__ import annotations


import torch
from torch import nn


class TemporalSelfAttention(nn.Module):
    """Self-attention over the T frames at every spatial position (seed 000, Eq. 1).

    ``Q = W_Q Z, K = W_K Z, V = W_V Z``; ``Ẑ = ⊕_j softmax(Q_j K_jᵀ / √d) V_j`` with h heads, followed by an
    output projection and a residual connection (pre-norm), so an untrained block starts near identity.

    Args:
        channels: C, the feature size per frame and position.
        heads: h; C must be divisible by h.
        max_frames: length of the learned frame-position embedding.
    """

    def __init__(self, channels: int, heads: int = 4, max_frames: int = 64) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.out = nn.Linear(channels, channels)
        self.position = nn.Parameter(torch.zeros(max_frames, channels))
        nn.init.normal_(self.position, std=0.02)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z``: ``(B, T, C, *S)`` -> same shape."""
        b, t, c = z.shape[:3]
        spatial = z.shape[3:]
        if t > self.position.shape[0]:
            raise ValueError(f"at most {self.position.shape[0]} frames supported, got {t}")
        tokens = z.flatten(3).permute(0, 3, 1, 2).reshape(-1, t, c)  # (B*P, T, C)
        x = self.norm(tokens + self.position[:t])
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        d = c // self.heads

        def split(a: torch.Tensor) -> torch.Tensor:
            return a.view(a.shape[0], t, self.heads, d).transpose(1, 2)  # (N, h, T, d)

        # softmax(Q Kᵀ / √d) V with the fused kernel (same result as the explicit product, less memory)
        mixed = nn.functional.scaled_dot_product_attention(split(q), split(k), split(v))
        mixed = mixed.transpose(1, 2).reshape(-1, t, c)
        tokens = tokens + self.out(mixed)
        p = tokens.shape[0] // b
        return tokens.view(b, p, t, c).permute(0, 2, 3, 1).reshape(b, t, c, *spatial)
