"""LTMA: latent temporal multi-head attention registration of a cine video (seed 000, Section 3.1).

Architecture (2D + time, one short-axis slice at a time):

* a U-Net encoder E shared by all frames encodes the pair (reference frame I⁰, frame Iᵗ) into latent velocity
  features zᵗ ``(C, H/4, W/4)``;
* a multi-head self-attention block across the T frames (Eq. 1) mixes the latents of all frames at each position,
  giving ẑᵗ — long-range temporal dependencies instead of recurrence;
* the U-Net decoder D (with the encoder's skip connections) maps ẑᵗ to a stationary velocity field vᵗ
  ``(2, H, W)`` (voxel units, channels (x, y)); with ``velocity_downsize`` f > 1 the decoder stops at H/f and vᵗ is
  ``(2, H/f, W/f)`` in units of those coarse voxels, integrated there and its displacement upsampled to ``(H, W)``;
* scaling and squaring integrates φᵗ = exp(vᵗ), a diffeomorphism; training minimises
  λ‖I⁰ ∘ φᵗ − Iᵗ‖² + ‖∇vᵗ‖² (Eq. 2; weight decay plays reg(Θ)).

Because φᵗ pulls the reference into frame t (a backward map on frame t's grid), the Lagrangian displacement of
reference points is the inverse map, which for a stationary velocity field is exp(−vᵗ): ``u_t(X) = exp(−vᵗ)(X) − X``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..nets.attention import TemporalSelfAttention
from ..nets.warp import gradient_loss, integrate_velocity, warp


@dataclass
class LTMAConfig:
    """Network size (scaled down from the seed only through these numbers)."""

    channels: tuple = (16, 32, 32)   #: encoder widths; len = number of resolution levels (H divisible by 2^(len-1))
    heads: int = 4                   #: attention heads in the latent temporal attention
    max_frames: int = 64
    int_steps: int = 7               #: scaling-and-squaring steps
    velocity_downsize: int = 1       #: 1: velocity on the input grid; 2^k: the decoder stops k levels early and the
    #: velocity is predicted and integrated on a grid 2^k times coarser, its displacement upsampled bilinearly
    #: (VoxelMorph's ``int_downsize``: a stationary velocity field is smooth, and full-resolution layers dominate the
    #: CPU time)
    smooth_weight: float = 0.05      #: weight of ‖∇v‖² relative to the image term (λ = 1)

    @classmethod
    def from_dict(cls, data: dict) -> "LTMAConfig":
        data = dict(data)
        if "channels" in data:
            data["channels"] = tuple(int(c) for c in data["channels"])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.LeakyReLU(0.2))


class LTMANet(nn.Module):
    """Video registration network. Input frames ``(B, T, H, W)`` (intensity ~[0, 1]); frame ``reference`` is I⁰."""

    def __init__(self, config: LTMAConfig | None = None) -> None:
        super().__init__()
        cfg = config or LTMAConfig()
        self.config = cfg
        ch = list(cfg.channels)
        if len(ch) < 2:
            raise ValueError(f"channels needs at least 2 levels, got {ch}")
        self.enc = nn.ModuleList()
        cin = 2
        for i, c in enumerate(ch):
            self.enc.append(nn.Sequential(_conv(cin, c, stride=1 if i == 0 else 2), _conv(c, c)))
            cin = c
        self.attention = TemporalSelfAttention(ch[-1], heads=cfg.heads, max_frames=cfg.max_frames)
        ds = int(cfg.velocity_downsize)
        if ds < 1 or ds & (ds - 1) or ds.bit_length() > len(ch):
            raise ValueError(f"velocity_downsize must be a power of 2 below 2^{len(ch)}, got {cfg.velocity_downsize}")
        self.velocity_level = ds.bit_length() - 1
        self.dec = nn.ModuleList()
        for i in range(len(ch) - 1, self.velocity_level, -1):
            self.dec.append(nn.Sequential(_conv(ch[i] + ch[i - 1], ch[i - 1]), _conv(ch[i - 1], ch[i - 1])))
        self.flow = nn.Conv2d(ch[self.velocity_level], 2, 3, padding=1)
        nn.init.normal_(self.flow.weight, std=1e-5)
        nn.init.zeros_(self.flow.bias)

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this."""
        return 2 ** (len(self.config.channels) - 1)

    def forward(self, frames: torch.Tensor, reference: int = 0) -> torch.Tensor:
        """Velocity fields ``(B, T, 2, H/f, W/f)`` (units of those voxels; f = ``velocity_downsize``) taking frame
        ``reference`` to each frame."""
        if frames.ndim != 4:
            raise ValueError(f"frames must be (B, T, H, W), got {tuple(frames.shape)}")
        b, t, h, w = frames.shape
        if h % self.multiple or w % self.multiple:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {h}x{w}")
        ref = frames[:, reference : reference + 1].expand(b, t, h, w)
        x = torch.stack([ref, frames], dim=2).reshape(b * t, 2, h, w)
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
        z = x.view(b, t, *x.shape[1:])
        z = self.attention(z).reshape(b * t, *x.shape[1:])
        x = z
        for i, block in enumerate(self.dec):
            skip = skips[-2 - i]
            x = _upsample2(x, skip.shape[-2:])
            x = block(torch.cat([x, skip], dim=1))
        v = self.flow(x)
        return v.view(b, t, 2, *v.shape[-2:])

    def _exp(self, velocity: torch.Tensor) -> torch.Tensor:
        """Displacement of exp(v) ``(B, T, 2, H, W)`` in input voxels from a velocity ``(B, T, 2, H/f, W/f)``."""
        b, t = velocity.shape[:2]
        u = integrate_velocity(velocity.flatten(0, 1), self.config.int_steps)
        f = int(self.config.velocity_downsize)
        if f > 1:  # coarse voxels -> input voxels
            u = nn.functional.interpolate(u, scale_factor=f, mode="bilinear", align_corners=False) * f
        return u.view(b, t, *u.shape[1:])

    def backward_maps(self, velocity: torch.Tensor) -> torch.Tensor:
        """Displacements of φᵗ = exp(vᵗ) ``(B, T, 2, H, W)``: frame-t grid -> reference positions."""
        return self._exp(velocity)

    def lagrangian(self, velocity: torch.Tensor) -> torch.Tensor:
        """Forward displacement of reference points exp(−vᵗ) − id ``(B, T, 2, H, W)`` (voxels, (x, y))."""
        return self._exp(-velocity)

    def loss(self, frames: torch.Tensor, reference: int = 0) -> tuple[torch.Tensor, dict]:
        """λ‖I⁰∘φᵗ − Iᵗ‖² + w_s‖∇vᵗ‖² averaged over frames (Eq. 2)."""
        v = self(frames, reference)
        b, t, h, w = frames.shape
        u = self.backward_maps(v).flatten(0, 1)
        ref = frames[:, reference : reference + 1].expand(b, t, h, w).reshape(b * t, 1, h, w)
        warped = warp(ref, u)
        image = ((warped - frames.reshape(b * t, 1, h, w)) ** 2).mean()
        smooth = gradient_loss(v.flatten(0, 1))
        total = image + self.config.smooth_weight * smooth
        return total, {"image_mse": float(image.detach()), "smooth": float(smooth.detach())}


def _upsample2(x: torch.Tensor, size: tuple) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling by indexing (much cheaper on CPU than interpolate on mkldnn outputs)."""
    b, c, h, w = x.shape
    if (2 * h, 2 * w) == tuple(size):
        return x[:, :, :, None, :, None].expand(b, c, h, 2, w, 2).reshape(b, c, 2 * h, 2 * w)
    return nn.functional.interpolate(x, size=size, mode="nearest")


def normalise_video(frames: torch.Tensor) -> torch.Tensor:
    """Scale each video ``(B, T, H, W)`` to ~[0, 1] by its 1st and 99th intensity percentiles."""
    flat = frames.flatten(1)
    n = flat.shape[1]
    lo = flat.kthvalue(max(1, int(round(0.01 * (n - 1))) + 1), dim=1).values.view(-1, 1, 1, 1)
    hi = flat.kthvalue(max(1, int(round(0.99 * (n - 1))) + 1), dim=1).values.view(-1, 1, 1, 1)
    return ((frames - lo) / (hi - lo).clamp_min(1e-6)).clamp(-0.5, 1.5)
