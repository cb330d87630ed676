"""Discrete DDPM noise schedules, the forward process q(x_t | x_0), prediction targets and the training loss.

Notation (Ho et al. 2020, "DDPM"; seed 000, Sec. 2): ``β_t`` for t = 0 … T-1 (the paper's 1 … T), ``α_t = 1 − β_t``,
``ᾱ_t = Π_{s≤t} α_s``; signal and noise levels ``a_t = √ᾱ_t`` and ``σ_t = √(1 − ᾱ_t)``, so that

    x_t = a_t x_0 + σ_t ε,   ε ~ N(0, I)                       (DDPM Eq. 4)

Schedules are registered by name in :data:`SCHEDULES` (``steps -> betas``) and turned into a
:class:`DiffusionSchedule` by :func:`make_schedule`, which also fixes what the network predicts
(:class:`PredictionType`: ε, v = a_t ε − σ_t x_0 (Salimans & Ho 2022, Sec. 4), or x_0). Samplers
(:mod:`cardiogen.nets.samplers`) and :func:`diffusion_loss` read the prediction type from the schedule, so training
and sampling cannot disagree.
"""
from __future__ import annotations

import math
from enum import StrEnum
from typing import Any, Callable, Mapping

import torch
import torch.nn.functional as F

BetaFn = Callable[[int], torch.Tensor]
SCHEDULES: dict[str, BetaFn] = {}  #: name -> ``betas(steps)`` returning ``(steps,)`` float64 in (0, 1)

MAX_BETA = 0.999  #: clip of β_t for schedules defined through ᾱ (Nichol & Dhariwal 2021, Sec. 3.2)


class PredictionType(StrEnum):
    """What the denoiser outputs."""

    EPSILON = "epsilon"  #: the noise ε (DDPM; seed 000's L_ε)
    V = "v"              #: v = a_t ε − σ_t x_0 (Salimans & Ho 2022)
    X0 = "x0"            #: the clean sample x_0


def register_schedule(name: str) -> Callable[[BetaFn], BetaFn]:
    """Decorator adding ``fn(steps) -> betas`` to :data:`SCHEDULES` under ``name``."""

    def add(fn: BetaFn) -> BetaFn:
        if name in SCHEDULES:
            raise ValueError(f"schedule {name!r} is already registered")
        SCHEDULES[name] = fn
        return fn

    return add


def _betas_from_alpha_bar(alpha_bar: Callable[[torch.Tensor], torch.Tensor], steps: int) -> torch.Tensor:
    """β_t = 1 − ᾱ(τ_{t+1}) / ᾱ(τ_t) on τ = t / T, with ᾱ(·) normalised by ᾱ(0), clipped to :data:`MAX_BETA`."""
    tau = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
    abar = alpha_bar(tau)
    abar = abar / abar[0]
    return (1.0 - abar[1:] / abar[:-1]).clamp(min=0.0, max=MAX_BETA)


@register_schedule("linear")
def linear_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Linear β from 1e-4 to 0.02 (DDPM, Sec. 4), scaled by 1000 / steps so that ᾱ_T stays small for any T
    (Nichol & Dhariwal 2021, improved-diffusion)."""
    scale = 1000.0 / steps
    return torch.linspace(scale * beta_start, scale * beta_end, steps, dtype=torch.float64).clamp(max=MAX_BETA)


@register_schedule("cosine")
def cosine_betas(steps: int, s: float = 0.008) -> torch.Tensor:
    """ᾱ(τ) = cos²((τ + s) / (1 + s) · π/2) (Nichol & Dhariwal 2021, Eq. 17). The public MFD-V2V code uses this."""
    return _betas_from_alpha_bar(lambda tau: torch.cos((tau + s) / (1 + s) * math.pi / 2) ** 2, steps)


@register_schedule("sigmoid")
def sigmoid_betas(steps: int, start: float = -3.0, end: float = 3.0, tau: float = 1.0) -> torch.Tensor:
    """Sigmoid schedule of seed 000 (Sec. 4.1: "sigmoid-beta noise scheduler [17]", 1000 steps).

    [17] Jabri, Fleet & Chen, "Scalable adaptive computation for iterative generation", ICML 2023 (RIN); the
    schedule is written out in Chen 2023, "On the importance of noise scheduling for diffusion models", Alg. 1:
    ``ᾱ(τ) = (σ(end/τ_s) − σ((τ (end − start) + start)/τ_s)) / (σ(end/τ_s) − σ(start/τ_s))`` with the logistic σ,
    ``τ ∈ [0, 1]`` and temperature ``τ_s`` (``tau``). It keeps more steps at high noise than the cosine schedule,
    which RIN found better for larger images. Defaults start = −3, end = 3, τ_s = 1 are those of Chen's Alg. 1.
    """
    if not start < end or tau <= 0:
        raise ValueError(f"need start < end and tau > 0, got start={start}, end={end}, tau={tau}")
    v_start = torch.sigmoid(torch.tensor(start / tau, dtype=torch.float64))
    v_end = torch.sigmoid(torch.tensor(end / tau, dtype=torch.float64))
    return _betas_from_alpha_bar(
        lambda t: (v_end - torch.sigmoid((t * (end - start) + start) / tau)) / (v_end - v_start), steps)


@register_schedule("sigmoid_beta")
def sigmoid_beta_betas(steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """β_t = β_start + (β_end − β_start) · σ(linspace(−6, 6)) (GeoDiff, Xu et al. 2022; MONAI's "sigmoid_beta").
    Not the seed's schedule (see ``"sigmoid"``); kept for comparison with MONAI-trained models."""
    return beta_start + (beta_end - beta_start) * torch.sigmoid(torch.linspace(-6, 6, steps, dtype=torch.float64))


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, device, dtype) -> torch.Tensor:
    """Standard normal draw on the generator's device (CPU generators give device-independent values), moved."""
    where = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=where, dtype=dtype).to(device)


class DiffusionSchedule:
    """A discrete variance-preserving diffusion process and the network's prediction type.

    Args:
        betas: ``(steps,)`` values in (0, 1).
        prediction: what the network predicts (:class:`PredictionType` or its name).
        name: the registry name, for provenance.
    """

    def __init__(self, betas: torch.Tensor, prediction: PredictionType | str = PredictionType.EPSILON,
                 name: str = "custom") -> None:
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() < 1 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"betas must be a non-empty sequence in (0, 1), got {betas.numel()} values "
                             f"in [{betas.min().item() if betas.numel() else 'n/a'}, "
                             f"{betas.max().item() if betas.numel() else 'n/a'}]")
        self.betas = betas                                      #: (T,) β_t, float64
        self.alphas_cumprod = torch.cumprod(1.0 - betas, 0)     #: (T,) ᾱ_t, float64
        if prediction not in set(PredictionType):
            raise ValueError(f"prediction must be one of {[p.value for p in PredictionType]}, got {prediction!r}")
        self.prediction = PredictionType(prediction)
        self.name = name

    def __repr__(self) -> str:
        return f"DiffusionSchedule({self.name!r}, steps={self.steps}, prediction={self.prediction.value!r})"

    @property
    def steps(self) -> int:
        """T, the number of diffusion steps."""
        return self.betas.numel()

    def alpha_sigma(self, t: torch.Tensor | int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a_t, σ_t)`` shaped ``(B, 1, …, 1)`` like ``like`` (its dtype and device).

        ``t`` is ``(B,)`` or a scalar, integer steps in −1 … T−1; t = −1 means clean data (a = 1, σ = 0), the target
        of a sampler's last step.
        """
        t = torch.as_tensor(t).long().cpu()
        if t.ndim == 0:
            t = t.expand(like.shape[0])
        if t.ndim != 1 or (t.numel() and (int(t.min()) < -1 or int(t.max()) >= self.steps)):
            raise ValueError(f"t must be (B,) integers in [-1, {self.steps - 1}], got {t.tolist()}")
        abar = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        view = (-1,) + (1,) * (like.ndim - 1)
        a = abar.sqrt().to(device=like.device, dtype=like.dtype).view(view)
        s = (1.0 - abar).clamp(min=0).sqrt().to(device=like.device, dtype=like.dtype).view(view)
        return a, s

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """Sample x_t ~ q(x_t | x_0): ``a_t x0 + σ_t noise`` (DDPM Eq. 4); all tensors ``(B, …)``."""
        if noise.shape != x0.shape:
            raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
        a, s = self.alpha_sigma(t, x0)
        return a * x0 + s * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The regression target of the prediction type for ``(x0, noise, t)``."""
        if self.prediction is PredictionType.EPSILON:
            return noise
        if self.prediction is PredictionType.X0:
            return x0
        a, s = self.alpha_sigma(t, x0)
        return a * noise - s * x0

    def split(self, output: torch.Tensor, x_t: torch.Tensor,
              t: torch.Tensor | int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x̂_0, ε̂)`` from a network output at ``(x_t, t)`` (all ``(B, …)``), inverting x_t = a x_0 + σ ε:

        * ε: ``x̂_0 = (x_t − σ ε̂) / a``;
        * x_0: ``ε̂ = (x_t − a x̂_0) / σ``;
        * v: ``x̂_0 = a x_t − σ v̂``, ``ε̂ = σ x_t + a v̂`` (a² + σ² = 1).
        """
        a, s = self.alpha_sigma(t, x_t)
        if self.prediction is PredictionType.EPSILON:
            return (x_t - s * output) / a, output
        if self.prediction is PredictionType.X0:
            return output, (x_t - a * output) / s.clamp(min=1e-12)
        return a * x_t - s * output, s * x_t + a * output

    def convert(self, output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor | int,
                to: PredictionType | str) -> torch.Tensor:
        """Re-express a network output as another prediction type at the same ``(x_t, t)``."""
        to = PredictionType(to)
        x0, eps = self.split(output, x_t, t)
        if to is PredictionType.EPSILON:
            return eps
        if to is PredictionType.X0:
            return x0
        a, s = self.alpha_sigma(t, x_t)
        return a * eps - s * x0

    def snr(self) -> torch.Tensor:
        """``(T,)`` signal-to-noise ratio ᾱ_t / (1 − ᾱ_t), strictly decreasing for a valid schedule."""
        return self.alphas_cumprod / (1.0 - self.alphas_cumprod)


def make_schedule(name: str = "sigmoid", steps: int = 1000, prediction: PredictionType | str = "epsilon",
                  **options: float) -> DiffusionSchedule:
    """A registered schedule by ``name`` (:data:`SCHEDULES`) with ``steps`` steps; ``options`` go to its function."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; registered: {sorted(SCHEDULES)}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return DiffusionSchedule(SCHEDULES[name](steps, **options), prediction, name)


def diffusion_loss(model: Callable[..., torch.Tensor], x0: torch.Tensor, cond: Mapping[str, Any] | None = None,
                   generator: torch.Generator | None = None, *, schedule: DiffusionSchedule,
                   cond_drop_prob: float = 0.0, t: torch.Tensor | None = None, norm: str = "l2") -> torch.Tensor:
    """Mean squared error between ``model(x_t, t, **cond)`` and the schedule's target (seed 000's L_ε for ε);
    ``norm="l1"``: the mean absolute error instead (seed 001's Eq. 5.4).

    Args:
        model: denoiser called as ``model(x_t (B, …), t (B,) long, **cond)``.
        x0: ``(B, …)`` clean training samples.
        cond: keyword arguments for the model (e.g. ``{"cond_maps": {...}}``); tensors have batch size B.
        generator: draws t ~ U{0, …, T−1}, ε ~ N(0, I) and the conditioning drop (reproducible training).
        schedule: the diffusion process and prediction type.
        cond_drop_prob: probability of training this batch without ``cond`` (classifier-free guidance,
            Ho & Salimans 2022); one draw per batch, because an absent condition is not per-sample.
        t: ``(B,)`` fixed steps instead of random ones (tests, evaluation at chosen noise levels).
    Returns:
        scalar loss.
    """
    if not 0.0 <= cond_drop_prob <= 1.0:
        raise ValueError(f"cond_drop_prob must be in [0, 1], got {cond_drop_prob}")
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    b = x0.shape[0]
    gen_device = generator.device if generator is not None else torch.device("cpu")
    if t is None:
        t = torch.randint(0, schedule.steps, (b,), generator=generator, device=gen_device)
    t = torch.as_tensor(t, device=x0.device).long()
    noise = _randn(tuple(x0.shape), generator, x0.device, x0.dtype)
    kwargs = dict(cond or {})
    if cond_drop_prob > 0 and float(torch.rand((), generator=generator, device=gen_device)) < cond_drop_prob:
        kwargs = {}
    out = model(schedule.q_sample(x0, t, noise), t, **kwargs)
    target = schedule.target(x0, noise, t)
    return F.mse_loss(out, target) if norm == "l2" else F.l1_loss(out, target)
