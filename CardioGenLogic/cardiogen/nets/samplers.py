"""Diffusion samplers as pure functions: DDPM (ancestral), DDIM and DPM-Solver++(2M), chosen by name at run time.

Every sampler has the signature ::

    sampler(model, shape, schedule, *, generator, steps, cond=None, uncond=None, guidance_scale=1.0,
            max_batch=None, progress=None, device=None, clip_denoised=None, x0_prior=None) -> (N, …) tensor

* ``model(x_t, t, **cond)`` is the denoiser; what it predicts (ε, v, x₀) comes from ``schedule.prediction``. Put it
  in ``eval()`` mode first; the samplers do not change the model.
* **Seeds** (STYLE guideline 9): sample i gets its own generator, which draws its starting noise and every later
  noise, so a sample does not depend on the batch size or on ``max_batch`` chunking. ``generator`` is an int (sample
  i uses seed + i), a sequence of seeds, a sequence of ``torch.Generator`` (one per sample), or one
  ``torch.Generator`` from which N seeds are drawn. Noise is drawn on the generator's device (CPU by default, so
  the same seeds give the same starting noise on every device).
* ``max_batch`` splits N samples into chunks run one after the other (memory budget).
* ``progress(fraction, message)`` is called after every network evaluation step.
* Classifier-free guidance (Ho & Salimans 2022): ``out = out(uncond) + w (out(cond) − out(uncond))``, where
  ``uncond`` are the model's keyword arguments for the unconditional branch (default: none at all).

Time steps: T−1 = τ_1 > … > τ_S = 0, evenly spaced, and a final step to "t = −1" (a = 1, σ = 0), which returns the
denoised estimate. With an ε-predicting network the first steps, taken from almost zero signal (ᾱ_{T−1} ≈ 1e-7 for
the cosine and sigmoid schedules), amplify network error by a_{τ_2}/a_{τ_1}; v-prediction or ``clip_denoised``
avoid that.

``x0_prior`` (shape ``shape[1:]`` or broadcastable to it): the x̂₀ used at the steps where ᾱ_t <
:data:`ZERO_SNR_ALPHA_BAR`. There x_t carries (almost) no information about x₀, so the posterior mean of x₀ is the
data mean, which an ε-prediction network cannot express: its x̂₀ = (x_t − σ_t ε̂)/a_t is its error times 1/a_t (1825
at ᾱ = 3e-7), clamped by ``clip_denoised`` into a binary ±c image whose mean then sets the brightness of the whole
sample. Pass the mean of the training data (the video diffusion models ship it with their weights,
:data:`X0_PRIOR_KEY`); the sampler then takes the steps from that noise level (the first of DDIM-25; the first 4 of
DDPM-1000 with the sigmoid schedule) from the data mean instead, without evaluating the network there. ε̂ is
re-derived from it so that the update stays consistent.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Protocol, Sequence

import torch

from ..progress import report
from .schedules import DiffusionSchedule, _randn

Cond = Mapping[str, Any]
Denoise = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]
GeneratorSpec = int | Sequence[int] | Sequence[torch.Generator] | torch.Generator

#: ᾱ_t below which ``x0_prior`` replaces the network's x̂₀ (signal amplitude a_t < 0.032)
ZERO_SNR_ALPHA_BAR = 1e-3
#: key of the training-data mean (x0 prior) in a video diffusion model's weights file
X0_PRIOR_KEY = "sampling.x0_prior"


class Sampler(Protocol):
    def __call__(self, model: Callable[..., torch.Tensor], shape: Sequence[int], schedule: DiffusionSchedule, *,
                 generator: GeneratorSpec, steps: int = ..., **kwargs: Any) -> torch.Tensor:  # pragma: no cover
        ...


# ---------------------------------------------------------------------------------------------------- helpers
def per_sample_generators(generator: GeneratorSpec, n: int) -> list[torch.Generator]:
    """One ``torch.Generator`` per sample from an int seed (seed + i), seeds, generators, or one generator."""
    if isinstance(generator, torch.Generator):
        seeds = torch.randint(0, 2**62, (n,), generator=generator, device=generator.device).tolist()
        return [torch.Generator(generator.device).manual_seed(int(s)) for s in seeds]
    if isinstance(generator, int):
        return [torch.Generator().manual_seed(generator + i) for i in range(n)]
    items = list(generator)
    if len(items) != n:
        raise ValueError(f"need one generator or seed per sample: expected {n}, got {len(items)}")
    if all(isinstance(g, torch.Generator) for g in items):
        return items
    if all(isinstance(g, int) for g in items):
        return [torch.Generator().manual_seed(int(s)) for s in items]
    raise ValueError("generator must be an int, a torch.Generator, or a sequence of ints or of torch.Generators")


SPACINGS = ("linspace", "logsnr")  #: time-step spacings of :func:`sampling_timesteps`


def sampling_timesteps(schedule: DiffusionSchedule, steps: int, spacing: str = "linspace") -> list[int]:
    """``steps`` distinct integer time steps from T−1 down to 0.

    * ``"linspace"``: evenly spaced in t (DDIM, Song et al. 2021, Sec. 4.2); all T steps when steps == T.
    * ``"logsnr"``: evenly spaced in λ = log(a/σ), the step variable of DPM-Solver (Lu et al. 2022, Sec. 3.3),
      which keeps second-order steps accurate where λ changes fast (the first steps of the sigmoid and cosine
      schedules); rounded to the nearest step and made strictly decreasing.
    """
    train_steps = schedule.steps
    if not 1 <= steps <= train_steps:
        raise ValueError(f"steps must be in [1, {train_steps}] (the schedule's length), got {steps}")
    if spacing not in SPACINGS:
        raise ValueError(f"unknown spacing {spacing!r}; available: {SPACINGS}")
    if steps == 1:
        return [train_steps - 1]
    if spacing == "linspace":
        return [round(v) for v in torch.linspace(train_steps - 1, 0, steps, dtype=torch.float64).tolist()]
    lam = 0.5 * torch.log(schedule.alphas_cumprod / (1.0 - schedule.alphas_cumprod))  # decreasing in t
    targets = torch.linspace(float(lam[-1]), float(lam[0]), steps, dtype=torch.float64)
    idx = [int(torch.argmin((lam - v).abs())) for v in targets]
    idx[0], idx[-1] = train_steps - 1, 0
    for i in range(1, steps):                  # strictly decreasing ...
        idx[i] = min(idx[i], idx[i - 1] - 1)
    for i in range(steps - 1, -1, -1):         # ... and leaving room for the remaining steps
        idx[i] = max(idx[i], steps - 1 - i, idx[i + 1] + 1 if i + 1 < steps else 0)
    return idx


def _batch_slice(obj: Any, start: int, stop: int, n: int, device: torch.device, path: str = "cond") -> Any:
    """Slice every tensor in a (nested) mapping / sequence along its batch axis and move it to ``device``."""
    if isinstance(obj, torch.Tensor):
        if obj.ndim == 0 or obj.shape[0] != n:
            raise ValueError(f"{path} must have batch size {n} (the number of samples), got {tuple(obj.shape)}")
        return obj[start:stop].to(device)
    if isinstance(obj, Mapping):
        return {k: _batch_slice(v, start, stop, n, device, f"{path}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_batch_slice(v, start, stop, n, device, f"{path}[{i}]") for i, v in enumerate(obj))
    return obj


def _noise(generators: Sequence[torch.Generator], shape: Sequence[int], device: torch.device) -> torch.Tensor:
    """``(len(generators), *shape)`` standard normal noise, row i from generator i."""
    return torch.stack([_randn(tuple(shape), g, device, torch.float32) for g in generators])


def _make_denoiser(model: Callable[..., torch.Tensor], schedule: DiffusionSchedule, cond: Cond, uncond: Cond,
                   guidance_scale: float, clip_denoised: float | None,
                   x0_prior: torch.Tensor | None = None) -> Denoise:
    """``denoise(x_t, t) -> (x̂_0, ε̂)`` with optional guidance, x̂_0 clipping to [−c, c], and the data mean as
    x̂_0 where ᾱ_t < :data:`ZERO_SNR_ALPHA_BAR` (when ``x0_prior`` is given; no network evaluation there)."""

    def denoise(x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        if x0_prior is not None and float(schedule.alphas_cumprod[t]) < ZERO_SNR_ALPHA_BAR:
            a, s = schedule.alpha_sigma(tt, x)
            x0 = x0_prior.to(device=x.device, dtype=x.dtype).expand_as(x)
            return x0, (x - a * x0) / s
        out = model(x, tt, **cond)
        if guidance_scale != 1.0:
            out_u = model(x, tt, **uncond)
            out = out_u + guidance_scale * (out - out_u)
        x0, eps = schedule.split(out, x, tt)
        if clip_denoised is not None:
            a, s = schedule.alpha_sigma(tt, x)
            x0 = x0.clamp(-clip_denoised, clip_denoised)
            eps = (x - a * x0) / s
        return x0, eps

    return denoise


Loop = Callable[[Denoise, torch.Tensor, Sequence[torch.Generator], DiffusionSchedule, list[int],
                 Callable[[int], None]], torch.Tensor]


def _run(name: str, loop: Loop, model: Callable[..., torch.Tensor], shape: Sequence[int],
         schedule: DiffusionSchedule, *, generator: GeneratorSpec, steps: int, cond: Cond | None,
         uncond: Cond | None, guidance_scale: float, max_batch: int | None,
         progress: Callable[[float, str], None] | None, device: torch.device | str | None,
         clip_denoised: float | None, spacing: str, x0_prior: torch.Tensor | None = None) -> torch.Tensor:
    """Shared driver: per-sample generators, chunking, conditioning slices, no_grad, progress."""
    shape = tuple(int(s) for s in shape)
    if x0_prior is not None:
        try:
            fits = torch.broadcast_shapes(tuple(x0_prior.shape), shape[1:]) == torch.Size(shape[1:])
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"x0_prior must have the shape of one sample, {shape[1:]}, or one that broadcasts to it; "
                             f"got {tuple(x0_prior.shape)}")
    if len(shape) < 2 or shape[0] < 1:
        raise ValueError(f"shape must be (N, C, …) with N >= 1, got {shape}")
    if max_batch is not None and max_batch < 1:
        raise ValueError(f"max_batch must be >= 1 or None, got {max_batch}")
    if device is None:
        params = getattr(model, "parameters", None)
        first = next(iter(params()), None) if callable(params) else None
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    n = shape[0]
    generators = per_sample_generators(generator, n)
    timesteps = sampling_timesteps(schedule, steps, spacing)
    chunk = max_batch or n
    n_chunks = math.ceil(n / chunk)
    outputs = []
    with torch.no_grad():
        for c in range(n_chunks):
            start, stop = c * chunk, min((c + 1) * chunk, n)
            denoise = _make_denoiser(model, schedule, _batch_slice(cond or {}, start, stop, n, device),
                                     _batch_slice(uncond or {}, start, stop, n, device, "uncond"),
                                     guidance_scale, clip_denoised, x0_prior)

            def on_step(i: int, c: int = c) -> None:
                report(progress, (c * steps + i + 1) / (n_chunks * steps),
                       f"{name} step {i + 1}/{steps}" + (f", chunk {c + 1}/{n_chunks}" if n_chunks > 1 else ""))

            x = _noise(generators[start:stop], shape[1:], device)
            outputs.append(loop(denoise, x, generators[start:stop], schedule, timesteps, on_step))
    return torch.cat(outputs)


# ---------------------------------------------------------------------------------------------------- loops
def _ddim_loop(eta: float) -> Loop:
    """DDIM update (Song et al. 2021, Eq. 12) from τ_i to τ_{i+1} (written t → s):

        x_s = a_s x̂_0 + √(σ_s² − c²) ε̂ + c z,   c = η (σ_s / σ_t) √(1 − a_t² / a_s²)   (Eq. 16)

    η = 0: deterministic DDIM. η = 1 over consecutive steps: c² = β̃_t (DDPM posterior variance, Ho et al. Eq. 7)
    and the mean equals μ̃_t(x_t, x̂_0), i.e. the DDPM ancestral step (Eq. 11); over skipped steps it is DDPM on
    the respaced schedule β'_i = 1 − ᾱ_{τ_i}/ᾱ_{τ_{i-1}} (Nichol & Dhariwal 2021, Sec. 4).
    """

    def loop(denoise: Denoise, x: torch.Tensor, generators: Sequence[torch.Generator],
             schedule: DiffusionSchedule, timesteps: list[int], on_step: Callable[[int], None]) -> torch.Tensor:
        for i, t in enumerate(timesteps):
            s = timesteps[i + 1] if i + 1 < len(timesteps) else -1
            x0, eps = denoise(x, t)
            a_t, sig_t = schedule.alpha_sigma(t, x)
            a_s, sig_s = schedule.alpha_sigma(s, x)
            c = eta * (sig_s / sig_t) * (1.0 - a_t**2 / a_s**2).clamp(min=0).sqrt()
            x = a_s * x0 + (sig_s**2 - c**2).clamp(min=0).sqrt() * eps
            if eta > 0 and s >= 0:
                x = x + c * _noise(generators, x.shape[1:], x.device)
            on_step(i)
        return x

    return loop


def _dpmpp_2m_loop(denoise: Denoise, x: torch.Tensor, generators: Sequence[torch.Generator],
                   schedule: DiffusionSchedule, timesteps: list[int], on_step: Callable[[int], None]) -> torch.Tensor:
    """DPM-Solver++(2M), the multistep second-order data-prediction solver (Lu et al. 2022, Alg. 2).

    With λ = log(a/σ), h_i = λ_{τ_i} − λ_{τ_{i−1}} and r_i = h_{i−1}/h_i:
    ``x_{τ_i} = (σ_{τ_i}/σ_{τ_{i−1}}) x − a_{τ_i} (e^{−h_i} − 1) D_i``, ``D_i = (1 + 1/(2 r_i)) x̂_0^{(i−1)} −
    1/(2 r_i) x̂_0^{(i−2)}`` (first step: D = x̂_0). The last step, to σ = 0, returns x̂_0 (first order).
    """
    prev_x0, prev_h = None, None
    for i, t in enumerate(timesteps):
        s = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        x0, _ = denoise(x, t)
        if s < 0:
            x = x0
        else:
            a_t, sig_t = schedule.alpha_sigma(t, x)
            a_s, sig_s = schedule.alpha_sigma(s, x)
            h = torch.log(a_s / sig_s) - torch.log(a_t / sig_t)
            d = x0
            if prev_x0 is not None:
                r = prev_h / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * prev_x0
            x = (sig_s / sig_t) * x - a_s * torch.expm1(-h) * d
            prev_x0, prev_h = x0, h
        on_step(i)
    return x


# ---------------------------------------------------------------------------------------------------- samplers
def ddpm_sample(model: Callable[..., torch.Tensor], shape: Sequence[int], schedule: DiffusionSchedule, *,
                generator: GeneratorSpec, steps: int = 1000, cond: Cond | None = None, uncond: Cond | None = None,
                guidance_scale: float = 1.0, max_batch: int | None = None,
                progress: Callable[[float, str], None] | None = None, device: torch.device | str | None = None,
                clip_denoised: float | None = None, spacing: str = "linspace",
                x0_prior: torch.Tensor | None = None) -> torch.Tensor:
    """Ancestral DDPM sampling (Ho et al. 2020, Alg. 2 with σ_t² = β̃_t; the seed's sampler), ``steps``
    network evaluations (fewer than T: respaced DDPM). Returns ``(N, *shape[1:])`` on ``device``."""
    return _run("ddpm", _ddim_loop(1.0), model, shape, schedule, generator=generator, steps=steps, cond=cond,
                uncond=uncond, guidance_scale=guidance_scale, max_batch=max_batch, progress=progress, device=device,
                clip_denoised=clip_denoised, spacing=spacing, x0_prior=x0_prior)


def ddim_sample(model: Callable[..., torch.Tensor], shape: Sequence[int], schedule: DiffusionSchedule, *,
                generator: GeneratorSpec, steps: int = 50, eta: float = 0.0, cond: Cond | None = None,
                uncond: Cond | None = None, guidance_scale: float = 1.0, max_batch: int | None = None,
                progress: Callable[[float, str], None] | None = None, device: torch.device | str | None = None,
                clip_denoised: float | None = None, spacing: str = "linspace",
                x0_prior: torch.Tensor | None = None) -> torch.Tensor:
    """DDIM sampling (Song et al. 2021); ``eta = 0`` is deterministic given the starting noise, ``eta = 1`` is
    respaced DDPM. Returns ``(N, *shape[1:])``."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    return _run("ddim", _ddim_loop(eta), model, shape, schedule, generator=generator, steps=steps, cond=cond,
                uncond=uncond, guidance_scale=guidance_scale, max_batch=max_batch, progress=progress, device=device,
                clip_denoised=clip_denoised, spacing=spacing, x0_prior=x0_prior)


def dpmpp_2m_sample(model: Callable[..., torch.Tensor], shape: Sequence[int], schedule: DiffusionSchedule, *,
                    generator: GeneratorSpec, steps: int = 20, cond: Cond | None = None, uncond: Cond | None = None,
                    guidance_scale: float = 1.0, max_batch: int | None = None,
                    progress: Callable[[float, str], None] | None = None, device: torch.device | str | None = None,
                    clip_denoised: float | None = None, spacing: str = "logsnr",
                    x0_prior: torch.Tensor | None = None) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022): deterministic, second order; 15–25 steps match DDIM-50 to 100.
    Returns ``(N, *shape[1:])``."""
    return _run("dpm++2m", _dpmpp_2m_loop, model, shape, schedule, generator=generator, steps=steps, cond=cond,
                uncond=uncond, guidance_scale=guidance_scale, max_batch=max_batch, progress=progress, device=device,
                clip_denoised=clip_denoised, spacing=spacing, x0_prior=x0_prior)


SAMPLERS: dict[str, Sampler] = {"ddpm": ddpm_sample, "ddim": ddim_sample, "dpmpp_2m": dpmpp_2m_sample}
#: display names of the registered samplers (captions, tables)
SAMPLER_NAMES: dict[str, str] = {"ddpm": "DDPM", "ddim": "DDIM", "dpmpp_2m": "DPM-Solver++(2M)"}


def sampler_label(name: str, steps: int) -> str:
    """``"DDIM-25"`` for the registered sampler ``"ddim"`` at 25 steps (an unknown name is shown as given)."""
    return f"{SAMPLER_NAMES.get(name, name)}-{int(steps)}"


def get_sampler(name: str) -> Sampler:
    """The sampler registered as ``name`` in :data:`SAMPLERS`."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; available: {sorted(SAMPLERS)}")
    return SAMPLERS[name]
