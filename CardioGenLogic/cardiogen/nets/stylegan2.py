"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN") in plain PyTorch.

Runs on CPU and GPU with no custom CUDA kernels (the fused bias-act / upfirdn2d ops of the official code are an
optional speed-up that we do not need at phantom sizes). What seed 002 relies on is all here:

* :class:`MappingNetwork` — z ~ N(0, I) → pixel norm → ``mapping_layers`` equalised-lr FC + leaky ReLU (lr × 0.01)
  → w ∈ W; keeps the running mean ``w_avg`` for the truncation trick.
* :class:`SynthesisNetwork` — learned 4×4 constant, per resolution two :class:`ModulatedConv2d` (style = affine(w),
  weight modulation + demodulation), per-pixel noise inputs with learned strengths, skip ``to_rgb`` outputs summed
  across resolutions; ``num_ws = 2·log2(resolution) − 2`` per-layer styles (W+; 14 at 256×256 as in 002).
* :class:`Discriminator` — residual architecture with minibatch standard deviation.
* Losses (:func:`d_logistic_loss`, :func:`g_nonsaturating_loss`) and the lazy regularisers
  (:func:`r1_penalty`, :class:`PathLengthRegularizer`).

Shapes: images ``(B, C, H, W)`` in [-1, 1]; ``z`` ``(B, z_dim)``; ``w`` ``(B, w_dim)``; ``ws`` ``(B, num_ws, w_dim)``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


@dataclass
class StyleGAN2Config:
    """Sizes of a StyleGAN2 (the seed: 256×256, z/w 512, 8 mapping layers, channels 512 … 64).

    ``channels`` maps resolution → feature maps; missing resolutions use ``min(channel_base // res, channel_max)``.
    """

    resolution: int = 64
    img_channels: int = 1
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    channel_base: int = 4096
    channel_max: int = 128
    d_channel_base: int = 2048
    d_channel_max: int = 128
    mbstd_group: int = 4
    w_avg_beta: float = 0.995
    style_mixing_prob: float = 0.9
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        log2 = math.log2(self.resolution)
        if self.resolution < 8 or log2 != int(log2):
            raise ValueError(f"resolution must be a power of two >= 8, got {self.resolution}")

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2

    def g_channels(self, res: int) -> int:
        return int(min(self.channel_base // res, self.channel_max))

    def d_channels(self, res: int) -> int:
        return int(min(self.d_channel_base // res, self.d_channel_max))

    @classmethod
    def from_dict(cls, d: dict) -> "StyleGAN2Config":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)


# ---- equalised learning rate layers ---------------------------------------------------------------------------
class EqualLinear(nn.Module):
    """Linear layer with weights ~ N(0, 1/lr_mul²) scaled at run time by ``lr_mul / sqrt(in)`` (Karras et al. 2018)."""

    def __init__(self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return F.leaky_relu(out, 0.2) * SQRT2 if self.activation else out


class EqualConv2d(nn.Module):
    """Conv with equalised learning rate, optional ×½ downsampling (average pool after the conv) and lrelu·√2."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True, activation: bool = True,
                 down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.padding = kernel // 2
        self.activation, self.down = activation, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)
        if self.down:
            out = F.avg_pool2d(out, 2)
        return F.leaky_relu(out, 0.2) * SQRT2 if self.activation else out


# ---- mapping ---------------------------------------------------------------------------------------------------
class MappingNetwork(nn.Module):
    """z ``(B, z_dim)`` → w ``(B, w_dim)``; tracks ``w_avg`` during training (for truncation and projection)."""

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        dims = [cfg.z_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.Sequential(*[EqualLinear(a, b, lr_mul=0.01, activation=True) for a, b in zip(dims, dims[1:])])
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))
        self.w_avg_beta = cfg.w_avg_beta

    def forward(self, z: torch.Tensor, update_w_avg: bool = False) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)  # pixel norm
        w = self.layers(z)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w


# ---- synthesis -------------------------------------------------------------------------------------------------
class ModulatedConv2d(nn.Module):
    """Style-modulated conv: w' = w · s (per input channel), demodulated by 1/‖w'‖ per output channel (Eq. 1–3).

    ``forward(x (B, in, H, W), w (B, w_dim))`` → ``(B, out, H·u, W·u)`` with u = 2 when ``up`` (bilinear ×2 then conv).
    ``fused=True`` modulates the weights and runs one grouped convolution over the batch (the paper's form);
    the default scales the activations by the style before an ordinary convolution and the outputs by the
    demodulation coefficients after it, which is mathematically identical and faster on CPU.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, w_dim: int, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel, kernel))
        self.affine = EqualLinear(w_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.demodulate, self.up = demodulate, up
        self.fused = False
        self.in_ch, self.out_ch, self.padding = in_ch, out_ch, kernel // 2

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        style = self.affine(w)  # (B, in)
        weight = self.weight[0] * self.scale  # (out, in, k, k)
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.fused:
            w_b = weight[None] * style.view(b, 1, self.in_ch, 1, 1)
            if self.demodulate:
                w_b = w_b * torch.rsqrt(w_b.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
            h, wd = x.shape[-2:]
            out = F.conv2d(x.reshape(1, b * self.in_ch, h, wd), w_b.reshape(b * self.out_ch, self.in_ch,
                                                                            *w_b.shape[-2:]),
                           padding=self.padding, groups=b)
            return out.view(b, self.out_ch, h, wd)
        # the same operation with the style applied to the activations (faster on CPU: one ordinary conv)
        out = F.conv2d(x * style.view(b, self.in_ch, 1, 1), weight, padding=self.padding)
        if self.demodulate:
            dcoef = torch.rsqrt((weight.square().sum(dim=(2, 3))[None] * style.square()[:, None, :]).sum(2) + 1e-8)
            out = out * dcoef.view(b, self.out_ch, 1, 1)
        return out


class NoiseInjection(nn.Module):
    """Adds ``strength · noise`` (per-pixel N(0, 1), shared over channels); a fixed noise buffer can be given."""

    def __init__(self) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        return x + self.strength * noise


class StyledLayer(nn.Module):
    """ModulatedConv2d → noise → bias → leaky ReLU·√2."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, up=up)
        self.noise = NoiseInjection()
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        return F.leaky_relu(self.noise(self.conv(x, w), noise) + self.bias, 0.2) * SQRT2


class ToRGB(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: Optional[torch.Tensor]) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if skip is not None:
            out = out + F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
        return out


class SynthesisNetwork(nn.Module):
    """ws ``(B, num_ws, w_dim)`` → image ``(B, img_channels, R, R)``.

    Layer order of the styles: ws[0] = 4×4 conv, then per resolution 8 … R two convs (ws[2i-1], ws[2i]); ``to_rgb``
    at each resolution uses the style of the next conv (as the official code), the last one ws[num_ws-1].
    """

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.cfg = cfg
        c4 = cfg.g_channels(4)
        self.const = nn.Parameter(torch.randn(1, c4, 4, 4))
        self.conv4 = StyledLayer(c4, c4, cfg.w_dim)
        self.rgb4 = ToRGB(c4, cfg.img_channels, cfg.w_dim)
        self.blocks = nn.ModuleList()
        self.rgbs = nn.ModuleList()
        res, ch = 8, c4
        while res <= cfg.resolution:
            out = cfg.g_channels(res)
            self.blocks.append(nn.ModuleList([StyledLayer(ch, out, cfg.w_dim, up=True),
                                              StyledLayer(out, out, cfg.w_dim)]))
            self.rgbs.append(ToRGB(out, cfg.img_channels, cfg.w_dim))
            res, ch = res * 2, out

    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of every noise input, in layer order (1 at 4×4, then 2 per resolution)."""
        shapes = [(4, 4)]
        res = 8
        while res <= self.cfg.resolution:
            shapes += [(res, res), (res, res)]
            res *= 2
        return shapes

    def forward(self, ws: torch.Tensor, noise: Optional[list] = None, noise_mode: str = "random") -> torch.Tensor:
        """``noise_mode``: "random" (fresh noise), "const" (the given ``noise`` list, e.g. from the projector) or
        "none" (no noise: deterministic images for a latent)."""
        if noise is None:
            noise = [None] * len(self.noise_shapes())
            if noise_mode == "none":
                noise = [torch.zeros(ws.shape[0], 1, h, w, device=ws.device, dtype=ws.dtype)
                         for h, w in self.noise_shapes()]
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.conv4(x, ws[:, 0], noise[0])
        img = self.rgb4(x, ws[:, 1], None)
        for i, ((up, conv), rgb) in enumerate(zip(self.blocks, self.rgbs)):
            x = up(x, ws[:, 1 + 2 * i], noise[1 + 2 * i])
            x = conv(x, ws[:, 2 + 2 * i], noise[2 + 2 * i])
            img = rgb(x, ws[:, min(3 + 2 * i, ws.shape[1] - 1)], img)
        return img


class Generator(nn.Module):
    """Mapping + synthesis. ``forward(z)`` → images; ``mapping(z)`` → w; ``synthesis(ws)`` → images."""

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)

    @property
    def num_ws(self) -> int:
        return self.cfg.num_ws

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w ``(B, w_dim)`` → W+ ``(B, num_ws, w_dim)`` (the same style in every layer)."""
        return w[:, None, :].expand(-1, self.num_ws, -1)

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        return self.mapping.w_avg.lerp(w, psi) if psi != 1.0 else w

    def forward(self, z: torch.Tensor, psi: float = 1.0, noise_mode: str = "random",
                mix_z: Optional[torch.Tensor] = None, generator: Optional[torch.Generator] = None,
                update_w_avg: bool = False) -> torch.Tensor:
        ws = self.broadcast(self.truncate(self.mapping(z, update_w_avg=update_w_avg), psi))
        if mix_z is not None:  # style mixing regularisation: switch to a second latent after a random layer
            ws2 = self.broadcast(self.truncate(self.mapping(mix_z), psi))
            cut = int(torch.randint(1, self.num_ws, (1,), generator=generator))
            ws = torch.cat([ws[:, :cut], ws2[:, cut:]], dim=1)
        return self.synthesis(ws, noise_mode=noise_mode)


# ---- discriminator ---------------------------------------------------------------------------------------------
class DiscriminatorBlock(nn.Module):
    """Two 3×3 convs (the second downsamples) + a 1×1 downsampling skip; output (skip + main)/√2."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(in_ch, in_ch, 3)
        self.conv2 = EqualConv2d(in_ch, out_ch, 3, down=True)
        self.skip = EqualConv2d(in_ch, out_ch, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv2(self.conv1(x))) / SQRT2


class Discriminator(nn.Module):
    """Residual discriminator: ``(B, C, R, R)`` → logits ``(B,)``."""

    def __init__(self, cfg: StyleGAN2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.from_rgb = EqualConv2d(cfg.img_channels, cfg.d_channels(cfg.resolution), 1)
        blocks = []
        res = cfg.resolution
        while res > 4:
            blocks.append(DiscriminatorBlock(cfg.d_channels(res), cfg.d_channels(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = cfg.d_channels(4)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        g = min(self.cfg.mbstd_group, b)
        while b % g:
            g -= 1
        y = x.reshape(g, -1, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/g,)
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.minibatch_stddev(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)


# ---- losses and regularisers -----------------------------------------------------------------------------------
def d_logistic_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating logistic loss of the discriminator: softplus(D(fake)) + softplus(−D(real))."""
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(−D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """R1 = E‖∇ₓ D(x)‖² on real images (Mescheder et al. 2018); multiply by γ/2 (and the lazy interval)."""
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


class PathLengthRegularizer(nn.Module):
    """Path length regularisation (StyleGAN2 Sec. 3.2): (‖J_wᵀ y‖ − a)², y ~ N(0, I)/√(HW), a = EMA of the lengths."""

    def __init__(self, decay: float = 0.01) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("mean", torch.zeros(()))

    def forward(self, synthesis: SynthesisNetwork, ws: torch.Tensor,
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        ws = ws.detach().requires_grad_(True)
        img = synthesis(ws)
        y = torch.randn(img.shape, generator=generator).to(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        with torch.no_grad():
            self.mean.copy_(self.mean.lerp(lengths.mean(), self.decay))
        return (lengths - self.mean).square().mean()
