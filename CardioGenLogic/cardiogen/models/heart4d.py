"""Conditional 4D latent diffusion of whole hearts over the cardiac cycle (seed 001, chapter 6; issue 20.3-20.4).

Pieces:

* :func:`cycle_pool` — phantom subjects rendered as short-axis cine stacks on one fixed grid (``frames`` × ``slices``
  × ``size``², fixed pixel and slice spacing, so that a bigger heart is bigger in the image), with the true label maps,
  the demographics that drove each heart and the phenotypes counted on those masks (:func:`cycle_phenotypes`);
* :data:`FACTORS` / :func:`condition_vector` — chapter 6's conditions (age, sex, height, weight, systolic and
  diastolic pressure, smoking, alcohol) as ``(B, F, 2)``: the normalised value and a "given" flag, so that any
  factor may be missing (``None``);
* :class:`DemographicEncoder` — the conditional mapping network (an MLP): one token per factor (a missing factor is
  its own learned token) plus one token of the whole profile, ``(B, F + 1, D)``, read by cross-attention;
* :class:`Heart4DLDM` — the encoder and the ε-prediction 3D U-Net with self- and cross-attention
  (:class:`~cardiogen.models.heart_ldm.HeartLDM`) on the per-frame latents of the frozen image + mask autoencoder
  stacked over the cycle: ``(C·S', T, h, w)``, the frames on the U-Net's depth axis (temporal attention over the
  cycle), each frame's latent slices in the channels;
* :func:`generate` — DDIM with classifier-free guidance → images ``(n, T, S, H, W)`` and masks, decoded frame by
  frame; :func:`cycle_phenotypes` measures them with :func:`cardiogen.measure.measure_segmentation`.

The phantom's demographics → phenotype model is :mod:`cardiogen.phantom.demographics` (PHYSIOLOGY.md): height, weight,
sex, age and systolic pressure move the volumes and mass; diastolic pressure, smoking and alcohol have no effect
there, so a model trained on it should not make them move anything.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import nn

from .conditions import BMI_RANGE, EFFECTIVE_FACTORS, FACTOR_NAMES, FACTORS, PHENOTYPES, Factor  # noqa: F401
from .heart_ldm import HeartLDM, HeartLDMConfig


#: The grid of the 4D model: 8 frames over the cycle, 8 slices of 14 mm (the slab covers the ventricles of nearly
#: every phantom subject), 32² pixels of 4 mm (a 128 mm field around the heart).
GRID = dict(frames=8, slices=8, size=32, pixel_mm=4.0, slice_mm=14.0)


def _factor_value(factor: Factor, value: Any) -> Optional[float]:
    """A raw condition value → its number (None stays None: a missing factor)."""
    if value is None:
        return None
    if factor.kind == "sex":
        key = str(value).strip().lower()
        if key in ("m", "male", "man", "1", "1.0"):
            return 1.0
        if key in ("f", "female", "woman", "-1", "-1.0"):
            return -1.0
        raise ValueError(f"{factor.name} must be 'M' or 'F', got {value!r}")
    if factor.kind == "bool":
        return 1.0 if bool(value) else 0.0
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{factor.name} must be a finite number, got {value!r}")
    return v


def condition_vector(profiles: Sequence[Mapping[str, Any] | Any | None]) -> torch.Tensor:
    """Profiles (dicts of :data:`FACTORS` names, :class:`~cardiogen.phantom.Demographics`, or None = nothing known)
    → ``(B, F, 2)`` float32: normalised value and 1 where given, 0 and 0 where missing.

    Raises:
        ValueError: an unknown factor name, a value outside the factor's range (the phantom population's), a
            body-mass index outside :data:`BMI_RANGE`, or a sex other than M/F.
    """
    out = np.zeros((len(profiles), len(FACTORS), 2), np.float32)
    for b, prof in enumerate(profiles):
        if prof is None:
            continue
        data = prof.to_dict() if hasattr(prof, "to_dict") else dict(prof)
        unknown = set(data) - set(FACTOR_NAMES)
        if unknown:
            raise ValueError(f"unknown conditions {sorted(unknown)}; expected some of {list(FACTOR_NAMES)}")
        for i, f in enumerate(FACTORS):
            v = _factor_value(f, data.get(f.name))
            if v is None:
                continue
            if f.kind == "number" and not f.minimum <= v <= f.maximum:
                raise ValueError(f"{f.name} = {v:g} {f.unit} is outside the range the model knows "
                                 f"({f.minimum:g}-{f.maximum:g} {f.unit})")
            out[b, i] = ((v - f.centre) / f.scale, 1.0)
        height, weight = data.get("height_cm"), data.get("weight_kg")
        if height is not None and weight is not None:
            bmi = float(weight) / (float(height) / 100.0) ** 2
            if not BMI_RANGE[0] <= bmi <= BMI_RANGE[1]:
                raise ValueError(f"height {float(height):g} cm and weight {float(weight):g} kg give a body-mass index "
                                 f"of {bmi:.1f} kg/m², outside the range the model knows ({BMI_RANGE[0]:g}-"
                                 f"{BMI_RANGE[1]:g} kg/m²)")
    return torch.from_numpy(out)


def drop_conditions(cond: torch.Tensor, generator: torch.Generator, p_all: float, p_each: float) -> torch.Tensor:
    """Classifier-free dropout of ``cond (B, F, 2)``: the whole profile with probability ``p_all`` (training the
    unconditional model), each factor with probability ``p_each`` (training for missing values)."""
    b, f, _ = cond.shape
    keep = (torch.rand((b, f), generator=generator) >= p_each) & (torch.rand((b, 1), generator=generator) >= p_all)
    return cond * keep[..., None].to(cond.dtype)


class DemographicEncoder(nn.Module):
    """Conditions ``(B, F, 2)`` → tokens ``(B, F + 1, D)``: per factor ``value · w_f + b_f`` (or the learned missing
    token ``m_f``) refined by a shared MLP, and an MLP token of the whole profile."""

    def __init__(self, n_factors: int = len(FACTORS), dim: int = 64) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_factors, dim) * 0.5)
        self.bias = nn.Parameter(torch.randn(n_factors, dim) * 0.5)
        self.missing = nn.Parameter(torch.randn(n_factors, dim) * 0.5)
        self.token_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.profile_mlp = nn.Sequential(nn.Linear(2 * n_factors, dim), nn.SiLU(), nn.Linear(dim, dim), nn.SiLU(),
                                         nn.Linear(dim, dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        if cond.ndim != 3 or cond.shape[1:] != (self.weight.shape[0], 2):
            raise ValueError(f"cond must be (B, {self.weight.shape[0]}, 2), got {tuple(cond.shape)}")
        value, given = cond[..., :1], cond[..., 1:]
        tok = given * (value * self.weight + self.bias) + (1.0 - given) * self.missing
        tok = tok + self.token_mlp(tok)
        prof = self.profile_mlp(cond.flatten(1))[:, None]
        return self.norm(torch.cat([tok, prof], dim=1))


@dataclass
class Heart4DConfig:
    """Size of the conditional denoiser; the latent grid ``(channels, frames, size)`` follows the autoencoder."""

    latent_channels: int = 8            #: C·S' (the autoencoder's latent channels × latent slices)
    frames: int = 8
    size: int = 8
    base_channels: int = 48
    channel_mult: tuple = (1, 2)
    num_res_blocks: int = 1
    heads: int = 4
    context_dim: int = 64
    schedule: str = "linear"
    schedule_steps: int = 1000

    @classmethod
    def from_dict(cls, data: Mapping) -> "Heart4DConfig":
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(data).items()}
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown Heart4DConfig keys: {sorted(unknown)}")
        return cls(**data)


class Heart4DLDM(nn.Module):
    """``forward(z_t (B, C·S', T, h, w), t (B,), cond (B, F, 2) | None)`` → ε; ``cond=None`` is the unconditional
    model (every factor missing)."""

    def __init__(self, config: Optional[Heart4DConfig] = None) -> None:
        super().__init__()
        cfg = config or Heart4DConfig()
        self.config = cfg
        self.encoder = DemographicEncoder(len(FACTORS), cfg.context_dim)
        self.denoiser = HeartLDM(HeartLDMConfig(
            latent_channels=cfg.latent_channels, depth=cfg.frames, size=cfg.size, base_channels=cfg.base_channels,
            channel_mult=tuple(cfg.channel_mult), num_res_blocks=cfg.num_res_blocks, heads=cfg.heads,
            schedule=cfg.schedule, schedule_steps=cfg.schedule_steps, context_dim=cfg.context_dim))

    @property
    def latent_scale(self) -> torch.Tensor:
        return self.denoiser.latent_scale

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: Optional[torch.Tensor] = None) -> torch.Tensor:
        if cond is None:
            cond = torch.zeros((z.shape[0], len(FACTORS), 2), dtype=z.dtype, device=z.device)
        return self.denoiser(z, t, context=self.encoder(cond.to(z.dtype)))

    def schedule(self) -> Any:
        return self.denoiser.schedule()

    @torch.no_grad()
    def fit_scale(self, latents: torch.Tensor) -> None:
        self.denoiser.fit_scale(latents)


# ----------------------------------------------------------------------------------------------------- data


def subject_config(seed: int, grid: Mapping[str, float] = GRID) -> Any:
    """The :class:`~cardiogen.phantom.PhantomConfig` of one subject's cine on the 4D model's fixed grid."""
    from ..phantom import PhantomConfig

    return PhantomConfig(seed=int(seed), size=int(grid["size"]), frames=int(grid["frames"]),
                         slices=int(grid["slices"]), pixel_mm=float(grid["pixel_mm"]),
                         slice_thickness_mm=float(grid["slice_mm"]), modalities=("cine",))


def render_cycle(seed: int, demographics: Any = None, grid: Mapping[str, float] = GRID) -> dict:
    """One phantom subject on the fixed grid: ``image (T, S, H, W)`` in [-1, 1], ``labels`` (:data:`CLASSES
    <cardiogen.models.heart3d.CLASSES>`), ``spacing`` (x, y, z mm), ``demographics`` (dict) and ``phenotypes``
    (:func:`cycle_phenotypes` of the true masks)."""
    from ..phantom import make_case
    from .heart3d import stack_labels
    from .video_data import normalise_minus1_1

    case = make_case(subject_config(seed, grid), demographics=demographics)
    labels = stack_labels(case.truth.masks.labels)
    spacing = tuple(float(v) for v in case.cine.geometry.spacing)
    return {"image": normalise_minus1_1(case.cine.array).astype(np.float32), "labels": labels, "spacing": spacing,
            "demographics": case.truth.demographics.to_dict(), "phenotypes": cycle_phenotypes(labels, spacing)}


@functools.lru_cache(maxsize=4)
def cycle_pool(seeds: tuple[int, ...], grid_items: tuple = tuple(GRID.items())) -> dict:
    """Phantom subjects on the fixed grid (:func:`render_cycle`), stacked: ``image`` float32 ``(N, T, S, H, W)``,
    ``labels`` uint8, ``spacing (N, 3)``, ``cond (N, F, 2)`` (:func:`condition_vector` of their demographics),
    ``demographics`` (list of dicts), ``phenotypes`` {name: (N,)}, ``seed (N,)``."""
    grid = dict(grid_items)
    rows = [render_cycle(s, grid=grid) for s in seeds]
    return {"image": np.stack([r["image"] for r in rows]), "labels": np.stack([r["labels"] for r in rows]),
            "spacing": np.asarray([r["spacing"] for r in rows]),
            "cond": condition_vector([r["demographics"] for r in rows]),
            "demographics": [r["demographics"] for r in rows],
            "phenotypes": {k: np.asarray([r["phenotypes"][k] for r in rows]) for k in PHENOTYPES},
            "seed": np.asarray(seeds)}


def cycle_phenotypes(labels: np.ndarray, spacing: Sequence[float]) -> dict:
    """LVEDV, LVESV, LVEF, LV mass, RVEDV, RVESV of a label cycle ``(T, S, H, W)`` (:data:`CLASSES
    <cardiogen.models.heart3d.CLASSES>`) on a grid of ``spacing`` (x, y, z mm), by
    :func:`cardiogen.measure.measure_segmentation` (ED / ES = largest / smallest LV blood pool); NaN where a
    chamber is absent."""
    from ..data import STANDARD_LABELS, Geometry, Segmentation
    from ..errors import CardioGenInputError
    from ..measure import measure_segmentation

    lab = np.asarray(labels, np.uint8)
    seg = Segmentation(lab, label_table={k: v for k, v in STANDARD_LABELS.items() if k <= 4},
                       geometry=Geometry(spacing=tuple(spacing)), frame_times=np.arange(lab.shape[0], dtype=float))
    try:
        m = measure_segmentation(seg)
    except CardioGenInputError:
        return {k: float("nan") for k in PHENOTYPES}
    num = lambda v: float("nan") if v is None else float(v)  # noqa: E731
    return {"lvedv_ml": num(m.lv_edv_ml), "lvesv_ml": num(m.lv_esv_ml), "lvef_pct": num(m.lv_ef_pct),
            "lv_mass_g": num(m.lv_mass_g), "rvedv_ml": num(m.rv_edv_ml), "rvesv_ml": num(m.rv_esv_ml)}


# ------------------------------------------------------------------------------------------- latents / sampling


def encode_cycles(ae: Any, image: np.ndarray, labels: np.ndarray, batch: int = 16) -> torch.Tensor:
    """Cycles ``(N, T, S, H, W)`` with labels → packed posterior-mean latents ``(N, C·S', T, h, w)``."""
    from .heart3d import encode_stacks

    n, t = image.shape[:2]
    z = encode_stacks(ae, image.reshape(n * t, *image.shape[2:]), labels.reshape(n * t, *labels.shape[2:]), batch)
    return pack(z, n)


def pack(z: torch.Tensor, n: int) -> torch.Tensor:
    """Per-frame latents ``(N·T, C, S', h, w)`` → ``(N, C·S', T, h, w)``."""
    nt, c, s, h, w = z.shape
    return z.reshape(n, nt // n, c * s, h, w).permute(0, 2, 1, 3, 4).contiguous()


def unpack(z: torch.Tensor, channels: int) -> torch.Tensor:
    """``(N, C·S', T, h, w)`` → per-frame latents ``(N·T, C, S', h, w)`` (``channels`` = C)."""
    n, cs, t, h, w = z.shape
    return z.permute(0, 2, 1, 3, 4).reshape(n * t, channels, cs // channels, h, w)


def decode_cycles(ae: Any, z: torch.Tensor, batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Packed latents ``(N, C·S', T, h, w)`` → images ``(N, T, S, H, W)`` in [-1, 1] and labels uint8."""
    from .heart3d import decode_stacks

    n, t = z.shape[0], z.shape[2]
    frames = unpack(z, ae.config.latent_channels)
    parts = [decode_stacks(ae, frames[i:i + batch]) for i in range(0, len(frames), batch)]
    img, lab = np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])
    return img.reshape(n, t, *img.shape[1:]), lab.reshape(n, t, *lab.shape[1:])


def sample_latents(model: Heart4DLDM, profiles: Sequence[Any], steps: int = 50, seed: int = 0,
                   guidance: float = 1.0, eta: float = 0.0, progress: Any = None) -> torch.Tensor:
    """One packed latent per profile (DDIM, ``steps`` steps; sample i from the generator seeded ``seed + i``;
    ``guidance`` > 1: classifier-free guidance against the unconditional model), in the autoencoder's units."""
    from ..nets.samplers import ddim_sample

    cfg = model.config
    cond = condition_vector(list(profiles))
    uncond = {"cond": torch.zeros_like(cond)} if guidance != 1.0 else None
    with torch.no_grad():
        z = ddim_sample(model, (len(cond), cfg.latent_channels, cfg.frames, cfg.size, cfg.size), model.schedule(),
                        generator=int(seed), steps=int(steps), eta=float(eta), cond={"cond": cond}, uncond=uncond,
                        guidance_scale=float(guidance), progress=progress)
    return z * model.latent_scale


def generate(model: Heart4DLDM, ae: Any, profiles: Sequence[Any], steps: int = 50, seed: int = 0,
             **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic cycles for ``profiles``: images ``(n, T, S, H, W)`` in [-1, 1] and masks uint8."""
    return decode_cycles(ae, sample_latents(model, profiles, steps, seed, **kw))


def model_config(config: dict, ae_config: Any, grid: Mapping[str, float]) -> Heart4DConfig:
    """The denoiser's size for a training config (``model`` keys of :class:`Heart4DConfig`; the latent grid from the
    autoencoder and the grid) — one rule for training and for loading weights."""
    m = {k: v for k, v in config.get("model", {}).items() if k in Heart4DConfig.__dataclass_fields__}
    m.update(latent_channels=ae_config.latent_channels * (int(grid["slices"]) // ae_config.temporal_factor),
             frames=int(grid["frames"]), size=int(grid["size"]) // ae_config.spatial_factor)
    return Heart4DConfig.from_dict(m)


def grid_of(config: dict) -> dict:
    """The fixed grid of a training config's ``data`` section (defaults: :data:`GRID`)."""
    d = config.get("data", {})
    return {k: type(v)(d.get(k, v)) for k, v in GRID.items()}


def load_heart_4d(model_id: str, device: str = "cpu") -> tuple[Heart4DLDM, Any, Any]:
    """A registered conditional 4D model (evaluation mode), its frozen autoencoder, and its registry entry."""
    from ..weights import Registry
    from .heart3d import load_heart_ae

    reg = Registry()
    entry = reg.get(model_id)
    ae = load_heart_ae(str(entry.config["model"]["ae_from"]), device)
    model = Heart4DLDM(model_config(entry.config, ae.config, grid_of(entry.config)))
    model.load_state_dict(reg.load_state_dict(model_id, device=device))
    return model.to(device).eval(), ae, entry


def describe_cycles(seeds: Sequence[int], grid: Mapping[str, float]) -> str:
    return (f"CardioGen phantom short-axis cine cycles ({grid['frames']} frames × {grid['slices']} slices of "
            f"{grid['slice_mm']:g} mm × {grid['size']}² pixels of {grid['pixel_mm']:g} mm, one fixed grid) with their "
            f"true label maps and the demographics that drove each heart (PHYSIOLOGY.md regression + residual), seeds "
            f"{seeds[0]}-{seeds[-1]} (held-out evaluation seeds from 1000)")


def profile_population(profile: Mapping[str, Any], seeds: Sequence[int], grid: Mapping[str, float] = GRID) -> dict:
    """The phantom population of one demographic profile: subjects with exactly ``profile`` (missing factors from
    the subject's seed) and the seeded residual variation of each ``seed``; ``{phenotype: (n,)}`` measured on the true
    masks of the fixed grid (:func:`cycle_phenotypes`)."""
    from ..phantom import Demographics

    rows = [render_cycle(int(s), Demographics.for_seed(int(s) + 500_000, **dict(profile)), grid)["phenotypes"]
            for s in seeds]
    return {k: np.asarray([r[k] for r in rows]) for k in PHENOTYPES}
