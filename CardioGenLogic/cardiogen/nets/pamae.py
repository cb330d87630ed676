"""Phase-aware masked ECG autoencoder (PA-MAE) of seed 003 (ECGFlowCMR, Sec. 3.1), the network only.

The seed's PA-MAE learns ECG features under two supervisions: masked signal reconstruction (Eq. 1-2) and a phase
head that predicts [sin φ, cos φ] of the cardiac phase at every encoded time step (Eq. 3-4). Its input is the
12-lead ECG at 500 Hz, 10 s (5000 samples: :func:`cardiogen.ecg_frontend.standardise`), masked with ratio
ρ = 0.5 (Sec. 4.2). Here the masking is that of the masked autoencoder the seed builds on (He et al., CVPR 2022,
its ref. [12]): the signal is cut into non-overlapping temporal patches (all leads together), a random half of the
patches is dropped, a transformer encoder sees only the visible patches, and a light decoder with mask tokens
reconstructs the signal of the masked patches. One addition of ours: the decoder first mixes neighbouring tokens with
a residual convolution (``decoder_kernel``), so a masked place sees its visible neighbours at once; with the plain
MAE decoder, training on phantom ECG sat on a "mean patch" plateau (masked-patch RMSE 0.93 × that of linear
interpolation after 300 steps, still 0.87 after 1400; with a 5-token kernel 0.56 after 300 steps, same data). The
phase head, as in the seed, reads the encoder features of the *full*, unmasked signal (Eq. 3: P_ecg(F)); those same
features are what :meth:`PAMAE.features` returns for conditioning a generator. Sizes the paper leaves out are
config numbers (:class:`PAMAEConfig`); the seed's 8× temporal downsampling (T' = 625) is ``patch = 8``, the shipped
phantom model uses longer patches (25 samples, 50 ms) to train on one CPU thread.

Units: the network reads ECG in mV divided by ``input_scale_mv`` (a fixed scale, not per record, so QRS voltage —
which grows with LV mass — stays in the features) and reconstructs in the same scaled units.
Shapes: B batch, C leads (12), T samples (5000), P = T / patch tokens, D encoder width.

Losses are in :mod:`cardiogen.models.pamae`; this module holds the blocks and the network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CardioGenInputError
from .blocks import check_heads

__all__ = ["PAMAEConfig", "PAMAE", "PAMAEOutput", "PatchEmbed1d", "TransformerBlock", "random_masking",
           "sincos_positions", "patchify", "unpatchify"]


@dataclass(frozen=True)
class PAMAEConfig:
    """Sizes of the PA-MAE.

    Args:
        leads: C, input leads (12, in :data:`cardiogen.data.STANDARD_12_LEADS` order).
        samples: T, samples per record (5000 = 10 s at 500 Hz).
        sampling_hz: the input rate (500 Hz); only documents the token time step ``patch / sampling_hz``.
        patch: samples per token (8 = the seed's 8× downsampling; 25 = 50 ms).
        dim: encoder width D.
        depth: encoder transformer blocks.
        heads: encoder attention heads (D divisible by it).
        decoder_dim: decoder width (a "light" decoder: narrower and shallower than the encoder).
        decoder_depth: decoder transformer blocks.
        decoder_heads: decoder attention heads.
        mlp_ratio: hidden width of the blocks' MLP / width.
        phase_hidden: hidden width of the phase head's MLP.
        mask_ratio: ρ, fraction of tokens masked in training (0.5, Sec. 4.2).
        input_scale_mv: mV per network unit (the input is divided by it).
        decoder_kernel: odd width (tokens) of a residual convolution over the decoder's token sequence before its
            transformer blocks (1: none, the plain MAE decoder).
    """

    leads: int = 12
    samples: int = 5000
    sampling_hz: float = 500.0
    patch: int = 25
    dim: int = 128
    depth: int = 4
    heads: int = 4
    decoder_dim: int = 64
    decoder_depth: int = 2
    decoder_heads: int = 4
    mlp_ratio: float = 4.0
    phase_hidden: int = 64
    mask_ratio: float = 0.5
    input_scale_mv: float = 0.25
    decoder_kernel: int = 5

    def __post_init__(self) -> None:
        if self.leads < 1 or self.samples < 1 or self.patch < 1:
            raise ValueError(f"leads, samples and patch must be ≥ 1, got {self.leads}, {self.samples}, {self.patch}")
        if self.samples % self.patch:
            raise ValueError(f"samples ({self.samples}) must be a multiple of patch ({self.patch})")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.decoder_kernel < 1 or self.decoder_kernel % 2 == 0:
            raise ValueError(f"decoder_kernel must be odd and ≥ 1, got {self.decoder_kernel}")
        if self.input_scale_mv <= 0:
            raise ValueError(f"input_scale_mv must be > 0, got {self.input_scale_mv}")
        check_heads(self.dim, self.heads)
        check_heads(self.decoder_dim, self.decoder_heads)

    @property
    def tokens(self) -> int:
        """P, tokens per record (T / patch)."""
        return self.samples // self.patch

    @property
    def token_seconds(self) -> float:
        """Duration of one token (s)."""
        return self.patch / self.sampling_hz

    @classmethod
    def from_dict(cls, data: dict) -> "PAMAEConfig":
        return cls(**{k: v for k, v in dict(data).items() if k in cls.__dataclass_fields__})


class PAMAEOutput(NamedTuple):
    """A training forward pass.

    Attributes:
        recon: ``(B, P, C·patch)`` reconstructed patches (network units, i.e. mV / input_scale_mv), all tokens
            (the loss uses the masked ones).
        target: ``(B, P, C·patch)`` the input's patches (network units).
        mask: ``(B, P)`` bool, True where the token was masked (hidden from the encoder).
        phase: ``(B, P, 2)`` predicted [sin φ, cos φ] per token from the unmasked encoder features.
    """

    recon: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    phase: torch.Tensor


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """``(B, C, T)`` → ``(B, P, C·patch)``: token p holds samples ``[p·patch, (p+1)·patch)`` of every lead
    (lead-major: lead c's samples at ``[c·patch, (c+1)·patch)``)."""
    b, c, t = x.shape
    return x.reshape(b, c, t // patch, patch).permute(0, 2, 1, 3).reshape(b, t // patch, c * patch)


def unpatchify(tokens: torch.Tensor, leads: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: ``(B, P, C·patch)`` → ``(B, C, P·patch)``."""
    b, p, cp = tokens.shape
    patch = cp // leads
    return tokens.reshape(b, p, leads, patch).permute(0, 2, 1, 3).reshape(b, leads, p * patch)


def sincos_positions(n: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sine-cosine position embedding ``(n, dim)`` (Vaswani et al. 2017; the MAE's fixed embedding):
    ``[sin(p ω_k), cos(p ω_k)]`` with ``ω_k = 10000^(-k / (dim/2))``."""
    if dim % 2:
        raise ValueError(f"position embedding dim must be even, got {dim}")
    half = dim // 2
    omega = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32) / half)
    angle = torch.arange(n, dtype=torch.float32)[:, None] * omega[None]
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


def random_masking(batch: int, tokens: int, ratio: float, generator: Optional[torch.Generator] = None,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Which tokens each record keeps (Eq. 1's binary mask m, with exactly ``round(ratio·P)`` zeros per record).

    Args:
        batch: B.
        tokens: P.
        ratio: ρ, the masked fraction.
        generator: torch CPU generator (seeded → the same masks on any device).
    Returns:
        ``keep`` int64 ``(B, P − n_mask)`` indices of the visible tokens, ascending; ``mask`` bool ``(B, P)``,
        True where masked.
    """
    n_mask = int(round(ratio * tokens))
    if not 0 < n_mask < tokens:
        raise ValueError(f"mask ratio {ratio} of {tokens} tokens leaves no masked or no visible token")
    noise = torch.rand(batch, tokens, generator=generator)
    order = torch.argsort(noise, dim=1)
    keep = torch.sort(order[:, n_mask:], dim=1).values
    mask = torch.ones(batch, tokens, dtype=torch.bool)
    mask.scatter_(1, keep, False)
    return keep.to(device), mask.to(device)


class PatchEmbed1d(nn.Module):
    """Temporal patch embedding: each ``patch``-sample window of all C leads → one D-vector (a strided
    convolution, as ViT's patch embedding).

    Args:
        leads: C.
        patch: samples per token.
        dim: D.
    """

    def __init__(self, leads: int, patch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(leads, dim, kernel_size=patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, C, T)`` → ``(B, T / patch, D)``."""
        return self.proj(x).transpose(1, 2)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + MHSA(LN(x))``, then ``x + MLP(LN(x))`` (GELU).

    Args:
        dim: token width.
        heads: attention heads (dim divisible by heads).
        mlp_ratio: MLP hidden width / dim.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        check_heads(dim, heads)
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(round(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, N, dim)`` → same shape."""
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, d/heads)
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class PAMAE(nn.Module):
    """The PA-MAE: patch embedding + transformer encoder E_ecg, light transformer decoder D_ecg, phase head P_ecg.

    * ``forward(x)`` (training): encoder on the visible tokens → decoder reconstructs every token's patch
      (Eq. 2's x̂, the loss keeps the masked ones); encoder on all tokens → phase head (Eq. 3).
    * :meth:`features` (frozen conditioning): the encoder on all tokens, no masking.
    * :meth:`phase`: [sin φ, cos φ] per token from those features.

    Args:
        config: :class:`PAMAEConfig`.
    """

    def __init__(self, config: PAMAEConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or PAMAEConfig()
        self.embed = PatchEmbed1d(cfg.leads, cfg.patch, cfg.dim)
        self.register_buffer("pos", sincos_positions(cfg.tokens, cfg.dim), persistent=False)
        self.encoder = nn.ModuleList([TransformerBlock(cfg.dim, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.encoder_norm = nn.LayerNorm(cfg.dim)
        # light decoder (MAE): project to a narrower width, mask tokens at the hidden places, own positions
        self.decoder_in = nn.Linear(cfg.dim, cfg.decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, cfg.decoder_dim))
        self.register_buffer("decoder_pos", sincos_positions(cfg.tokens, cfg.decoder_dim), persistent=False)
        # local mixing over neighbouring tokens: a masked place gets its neighbours' features without having to learn
        # positional attention first (the plain MAE decoder sat on a "mean patch" plateau for ~1000 steps)
        self.decoder_local = nn.Conv1d(cfg.decoder_dim, cfg.decoder_dim, cfg.decoder_kernel,
                                       padding=cfg.decoder_kernel // 2) if cfg.decoder_kernel > 1 else None
        self.decoder = nn.ModuleList([TransformerBlock(cfg.decoder_dim, cfg.decoder_heads, cfg.mlp_ratio)
                                      for _ in range(cfg.decoder_depth)])
        self.decoder_norm = nn.LayerNorm(cfg.decoder_dim)
        self.decoder_out = nn.Linear(cfg.decoder_dim, cfg.leads * cfg.patch)
        # P_ecg: per-token MLP on the unmasked features → [sin φ, cos φ]
        self.phase_head = nn.Sequential(nn.Linear(cfg.dim, cfg.phase_hidden), nn.GELU(),
                                        nn.Linear(cfg.phase_hidden, 2))
        nn.init.normal_(self.mask_token, std=0.02)
        self.apply(_init_weights)

    # ---- input ---------------------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as a float ``(B, C, T)`` tensor; a wrong rank, lead count or length raises
        :class:`~cardiogen.errors.CardioGenInputError` (expected vs got)."""
        cfg = self.config
        if not isinstance(x, torch.Tensor):
            raise CardioGenInputError("PA-MAE input must be a torch tensor", source="PA-MAE", got=type(x).__name__)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3:
            raise CardioGenInputError("PA-MAE input must be (batch, leads, samples)", source="PA-MAE",
                                      expected=f"(B, {cfg.leads}, {cfg.samples})", got=tuple(x.shape))
        if x.shape[1] != cfg.leads:
            raise CardioGenInputError("PA-MAE input has the wrong number of leads", source="PA-MAE",
                                      expected=f"{cfg.leads} leads", got=f"{x.shape[1]} leads")
        if x.shape[2] != cfg.samples:
            raise CardioGenInputError("PA-MAE input has the wrong length", source="PA-MAE",
                                      expected=f"{cfg.samples} samples ({cfg.samples / cfg.sampling_hz:g} s at "
                                      f"{cfg.sampling_hz:g} Hz)", got=f"{x.shape[2]} samples")
        if not torch.isfinite(x).all():
            raise CardioGenInputError("PA-MAE input contains NaN/Inf", source="PA-MAE")
        return x.float()

    def scale(self, x_mv: torch.Tensor) -> torch.Tensor:
        """mV → network units."""
        return x_mv / self.config.input_scale_mv

    # ---- encoder / decoder ---------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, keep: Optional[torch.Tensor] = None) -> torch.Tensor:
        """E_ecg: ``x`` ``(B, C, T)`` network units → ``(B, N, D)`` features of the visible tokens ``keep``
        (``(B, N)`` indices) or of all P tokens (``keep`` None)."""
        tokens = self.embed(x) + self.pos[None]
        if keep is not None:
            tokens = torch.gather(tokens, 1, keep[..., None].expand(-1, -1, tokens.shape[-1]))
        for block in self.encoder:
            tokens = block(tokens)
        return self.encoder_norm(tokens)

    def decode(self, visible: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """D_ecg: visible features ``(B, N, D)`` at token indices ``keep`` ``(B, N)`` → ``(B, P, C·patch)``
        reconstructed patches (mask tokens fill the other places)."""
        b = visible.shape[0]
        cfg = self.config
        y = self.mask_token.expand(b, cfg.tokens, cfg.decoder_dim).clone()
        y = y.scatter(1, keep[..., None].expand(-1, -1, cfg.decoder_dim), self.decoder_in(visible))
        y = y + self.decoder_pos[None]
        if self.decoder_local is not None:
            y = y + self.decoder_local(y.transpose(1, 2)).transpose(1, 2)
        for block in self.decoder:
            y = block(y)
        return self.decoder_out(self.decoder_norm(y))

    def forward(self, x_mv: torch.Tensor, generator: Optional[torch.Generator] = None,
                keep: Optional[torch.Tensor] = None) -> PAMAEOutput:
        """Training pass (Eq. 1-3).

        Args:
            x_mv: ``(B, C, T)`` ECG in mV.
            generator: seeds the random mask (:func:`random_masking`, ratio ``config.mask_ratio``).
            keep: ``(B, N)`` visible-token indices instead of a random mask.
        Returns:
            :class:`PAMAEOutput`.
        """
        x = self.scale(self.check_input(x_mv))
        b = x.shape[0]
        if keep is None:
            keep, mask = random_masking(b, self.config.tokens, self.config.mask_ratio, generator, x.device)
        else:
            mask = torch.ones(b, self.config.tokens, dtype=torch.bool, device=x.device)
            mask.scatter_(1, keep, False)
        recon = self.decode(self.encode(x, keep), keep)
        phase = self.phase_head(self.encode(x))
        return PAMAEOutput(recon, patchify(x, self.config.patch), mask, phase)

    # ---- frozen use ----------------------------------------------------------------------------------------
    @torch.no_grad()
    def features(self, ecg_mv: torch.Tensor) -> torch.Tensor:
        """Frozen token features for conditioning (no masking).

        Args:
            ecg_mv: ``(B, C, T)`` or ``(C, T)`` ECG in mV at ``config.sampling_hz`` (12 × 5000: the output of
                :func:`cardiogen.ecg_frontend.prepare`).
        Returns:
            ``(B, P, D)`` float32: token p covers samples ``[p·patch, (p+1)·patch)``, i.e. time
            ``(p + 0.5)·patch / sampling_hz`` s at its centre; D = ``config.dim``. These are the features F of
            Eq. 3 (after the encoder's final LayerNorm) that the phase head reads.
        """
        return self.encode(self.scale(self.check_input(ecg_mv)))

    @torch.no_grad()
    def phase(self, ecg_mv: torch.Tensor) -> torch.Tensor:
        """Predicted ``(B, P, 2)`` [sin φ, cos φ] per token (not normalised; φ = atan2 of the two)."""
        return self.phase_head(self.features(ecg_mv))


def _init_weights(module: nn.Module) -> None:
    """MAE initialisation: Xavier-uniform linear layers with zero bias, LayerNorm at identity."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
