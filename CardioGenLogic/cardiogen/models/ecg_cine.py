"""ECG → cine (seed 003, ECGFlowCMR): paired phantom data, the anatomy template, rectified flow and Euler sampling.

Pieces (each small, the network in :mod:`cardiogen.nets.video_dit`, the autoencoder in :mod:`cardiogen.nets.video_vae`,
the ECG encoder in :mod:`cardiogen.nets.pamae`):

* :func:`paired_pool` — phantom subjects rendered once with their four-chamber cine (one cardiac cycle, ``frames``
  frames at a fixed pixel size, so bigger hearts look bigger) and the 12-lead ECG of the same heart, plus the truth
  (LVEDV, LVESV, EF, LV mass, heart rate, RR);
* :func:`condition_tokens` — the frozen PA-MAE's cycle-aligned features (``frames`` tokens, frame 0 at the R peak)
  and their mean over the whole record (1 global token): the context c the velocity network cross-attends to;
* :class:`EcgFlowModel` — the velocity network plus what sampling needs from training: the anatomical template
  z_template (Eq. 6, the mean latent over subjects and time), the latent scale, and α (Eq. 8);
* :func:`rectified_flow_loss` (Eq. 7-10) and :func:`euler_sample` (Eq. 11, classifier-free guidance optional);
* the baselines of the seed's comparison, trained by the same spec with equal budgets: ``model.condition: raw_ecg``
  (:func:`raw_condition_tokens`, "w/o PA-MAE": the front end's median beat instead of the encoder's features),
  ``model.use_template: false`` ("w/o template": z0 = pure noise) and ``model.objective: regression``
  (:func:`regression_loss`, the deterministic cross-modal autoencoder [26]: ECG features → the cine autoencoder's
  latent in one pass, no noise); :func:`sample_latents` runs whichever a registered model was trained as.
"""
from __future__ import annotations

import functools
from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ..nets.video_dit import VideoDiT, VideoDiTConfig

PIXEL_MM = 2.8  #: the fixed in-plane pixel of the paired cines (the four-chamber grid of the latent generator)


POPULATIONS = ("healthy", "clinical")
#: In the clinical population a dyssynchronous (LBBB-like) heart contracts (1 − 0.4·d) as much as its healthy
#: twin (``PhantomConfig.motion_scale``): wide-QRS LBBB is the ECG of the failing, dyssynchronous ventricle (the CRT
#: population: LBBB, QRS ≥ 130-150 ms and LVEF ≤ 35 %, Glikson, Eur Heart J 2021;42:3427), and the septal-lateral
#: wasted work of LBBB itself lowers EF (resynchronisation raises it by ≈ 5-10 points). At d = 1 a 60 % EF falls
#: to ≈ 36 %.
LBBB_CONTRACTION_LOSS = 0.4


def subject_config(seed: int, frames: int = 16, size: int = 64, pixel_mm: float = PIXEL_MM,
                   population: str = "healthy") -> Any:
    """The :class:`~cardiogen.phantom.PhantomConfig` of one paired subject.

    ``healthy``: the phantom's own subject of the seed (synchronous, no infarct). ``clinical``: the same subject with
    the infarct and dyssynchrony of the PA-MAE pre-training subject of that seed (:func:`cardiogen.models.pamae.
    draw_subject`: an infarct in about a third, 40-120° wide, severity 0.3-1; dyssynchrony in about half, with the
    contraction lost to it, :data:`LBBB_CONTRACTION_LOSS`), so that the population's ejection fractions vary with
    what the ECG shows (pathological Q waves, a wide QRS), as in a cardiology clinic rather than a healthy cohort.
    """
    from ..phantom import InfarctSpec, PhantomConfig

    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")
    extra: dict = {}
    if population == "clinical":
        from .pamae import draw_subject

        sub = draw_subject(int(seed))
        extra["dyssynchrony"] = sub.dyssynchrony
        extra["motion_scale"] = 1.0 - LBBB_CONTRACTION_LOSS * sub.dyssynchrony
        if sub.infarct_center_deg is not None:
            extra["infarct"] = InfarctSpec(center_deg=sub.infarct_center_deg, width_deg=sub.infarct_width_deg,
                                           severity=sub.infarct_severity)
    return PhantomConfig(seed=int(seed), size=size, frames=frames, slices=1, view="4ch", modalities=("cine", "ecg"),
                         pixel_mm=pixel_mm, **extra)


@functools.lru_cache(maxsize=4)
def paired_pool(seeds: tuple[int, ...], frames: int = 16, size: int = 64, pixel_mm: float = PIXEL_MM,
                population: str = "healthy") -> dict:
    """Phantom subjects (:func:`subject_config`) with a four-chamber cine of one cycle and the ECG of the same heart.

    Returns:
        dict: ``video`` float32 ``(N, frames, size, size)`` in [-1, 1] (the middle four-chamber plane), ``labels``
        uint8 ``(N, frames, size, size)``, ``ecg`` list of :class:`cardiogen.data.Ecg` (10 s, 500 Hz, 12 leads, mV),
        ``truth`` dict of ``(N,)`` arrays (``lvedv_ml``, ``lvesv_ml``, ``ef_pct``, ``lv_mass_g``, ``heart_rate_bpm``,
        ``rr_ms``), ``seeds``.
    """
    from ..phantom import make_case
    from .video_data import normalise_minus1_1

    videos, labels, ecgs = [], [], []
    truth: dict[str, list] = {k: [] for k in ("lvedv_ml", "lvesv_ml", "ef_pct", "lv_mass_g", "heart_rate_bpm",
                                              "rr_ms")}
    for seed in seeds:
        case = make_case(subject_config(seed, frames, size, pixel_mm, population))
        videos.append(normalise_minus1_1(case.cine.array[:, 0]))
        labels.append(case.truth.masks.labels[:, 0])
        ecgs.append(case.ecg)
        p = case.truth.phenotypes_model
        truth["lvedv_ml"].append(p.lvedv_ml)
        truth["lvesv_ml"].append(p.lvesv_ml)
        truth["ef_pct"].append(p.lvef_pct)
        truth["lv_mass_g"].append(p.lv_mass_g)
        truth["heart_rate_bpm"].append(p.heart_rate_bpm)
        truth["rr_ms"].append(case.truth.model.timing.rr_ms)
    return {"video": np.stack(videos).astype(np.float32), "labels": np.stack(labels).astype(np.uint8),
            "ecg": ecgs, "truth": {k: np.asarray(v, float) for k, v in truth.items()},
            "seeds": tuple(int(s) for s in seeds)}


def condition_tokens(pamae: Any, ecg: Any, frames: int) -> dict:
    """Context c of one ECG: ``tokens`` ``(frames + 1, D)`` float32 (cycle-aligned PA-MAE features, frame 0 at the
    R peak, then the record's mean feature), ``rr_ms`` (median R-R of the front end's R peaks), ``r_peaks``,
    ``encoded`` (:func:`cardiogen.models.pamae.encode_ecg`'s output: features, predicted phase, token_s ...)."""
    from .pamae import encode_ecg

    enc = encode_ecg(pamae, ecg, frames=frames)
    tokens = np.concatenate([enc["cycle"], enc["features"].mean(axis=0, keepdims=True)], axis=0)
    rr = _median_rr_ms(enc["r_peaks"], enc["ecg"].sampling_rate)
    return {"tokens": tokens.astype(np.float32), "rr_ms": rr, "r_peaks": enc["r_peaks"], "encoded": enc}


def _median_rr_ms(r_peaks: Any, sampling_rate: float) -> float:
    """Median R-R interval (ms) of R-peak sample indices (NaN with fewer than two peaks)."""
    r = np.asarray(r_peaks, float)
    return float(np.median(np.diff(r)) / float(sampling_rate) * 1000.0) if r.size >= 2 else float("nan")


CONDITIONS = ("pamae", "raw_ecg")  #: ``model.condition``: the frozen PA-MAE's features, or the raw median beat
OBJECTIVES = ("flow", "regression")  #: ``model.objective``: rectified flow, or deterministic regression (baseline)
RAW_SAMPLES_PER_FRAME = 8  #: samples of each lead per cine frame in :func:`raw_condition_tokens`


def raw_condition_tokens(ecg: Any, frames: int, samples_per_frame: int = RAW_SAMPLES_PER_FRAME) -> dict:
    """Context c without an ECG encoder (the "w/o PA-MAE" ablation): the front end's R-peak-aligned median beat.

    Every R-R cycle of the prepared ECG (:func:`cardiogen.ecg_frontend.prepare`) is resampled to ``frames ×
    samples_per_frame`` points (frame 0 at the R peak, as the cine), the median over cycles is cut into the cine's
    frames: token j holds the 12 leads' samples of frame j (``12 · samples_per_frame`` mV values). The last token
    summarises the beat: each lead's peak-to-peak, maximum and minimum (mV) and the R-R interval (s), zero-padded.

    Returns:
        dict: ``tokens`` ``(frames + 1, 12 · samples_per_frame)`` float32, ``rr_ms``, ``r_peaks`` (samples of ``ecg``,
        the prepared 500 Hz record).
    """
    from ..ecg_frontend import cardiac_cycles, prepare

    prep = prepare(ecg)
    r = np.asarray(prep["r_peaks"])
    beat = np.median(cardiac_cycles(prep["ecg"], r, frames * samples_per_frame), axis=0)  # (leads, F·s)
    leads = beat.shape[0]
    tokens = beat.reshape(leads, frames, samples_per_frame).transpose(1, 0, 2).reshape(frames, -1)
    rr = _median_rr_ms(r, prep["ecg"].sampling_rate)
    summary = np.zeros(tokens.shape[1])
    stats = np.concatenate([np.ptp(beat, axis=1), beat.max(axis=1), beat.min(axis=1), [rr / 1000.0]])
    summary[:stats.size] = stats
    return {"tokens": np.concatenate([tokens, summary[None]]).astype(np.float32), "rr_ms": rr, "r_peaks": r,
            "ecg": prep["ecg"]}


def model_tokens(condition: str, pamae: Any, ecg: Any, frames: int) -> dict:
    """The context a model trained with ``model.condition`` sees (:func:`condition_tokens` or
    :func:`raw_condition_tokens`)."""
    if condition not in CONDITIONS:
        raise ValueError(f"model.condition must be one of {CONDITIONS}, got {condition!r}")
    return condition_tokens(pamae, ecg, frames) if condition == "pamae" else raw_condition_tokens(ecg, frames)


@functools.lru_cache(maxsize=4)
def pool_raw_conditions(seeds: tuple[int, ...], frames: int, population: str = "healthy") -> np.ndarray:
    """``(N, frames + 1, 12 · RAW_SAMPLES_PER_FRAME)`` :func:`raw_condition_tokens` of :func:`paired_pool`'s ECGs."""
    pool = paired_pool(seeds, frames, population=population)
    return np.stack([raw_condition_tokens(ecg, frames)["tokens"] for ecg in pool["ecg"]])


@functools.lru_cache(maxsize=4)
def pool_conditions(pamae_id: str, seeds: tuple[int, ...], frames: int, population: str = "healthy") -> np.ndarray:
    """``(N, frames + 1, D)`` condition tokens of :func:`paired_pool`'s ECGs through the registered PA-MAE."""
    from .pamae import load_pamae

    model = load_pamae(pamae_id)
    pool = paired_pool(seeds, frames, population=population)
    with torch.no_grad():
        return np.stack([condition_tokens(model, ecg, frames)["tokens"] for ecg in pool["ecg"]])


def dit_config(config: dict, vae_config: Any) -> VideoDiTConfig:
    """The velocity network's size for a training config (``model`` keys of :class:`VideoDiTConfig`; the latent grid
    and the condition length follow the VAE and ``data.frames`` / ``data.size``) — the one rule for training and
    for loading registered weights."""
    m = config.get("model", {})
    frames = int(config["data"].get("frames", 16))
    dit = {k: v for k, v in m.items() if k in VideoDiTConfig.__dataclass_fields__}
    dit.setdefault("latent_channels", vae_config.latent_channels)
    size = int(config["data"].get("size", 64)) // vae_config.spatial_factor
    dit.update(frames=frames, height=size, width=size, cond_tokens=frames + 1)
    if m.get("condition", "pamae") == "raw_ecg":
        dit["cond_dim"] = 12 * RAW_SAMPLES_PER_FRAME
    return VideoDiTConfig.from_dict(dit)


class EcgFlowModel(nn.Module):
    """v_θ with its sampling constants: ``template`` ``(C, 1, h, w)`` (scaled latent units), ``latent_scale``
    (latents are divided by it so that they have unit spread), ``alpha`` (noise on the template, Eq. 8)."""

    def __init__(self, config: VideoDiTConfig, alpha: float = 0.5) -> None:
        super().__init__()
        self.net = VideoDiT(config)
        self.register_buffer("template", torch.zeros(config.latent_channels, 1, config.height, config.width))
        self.register_buffer("latent_scale", torch.ones(()))
        self.register_buffer("alpha", torch.tensor(float(alpha)))

    @property
    def config(self) -> VideoDiTConfig:
        return self.net.config

    def forward(self, z: torch.Tensor, t: torch.Tensor, cond: Optional[torch.Tensor] = None,
                drop: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.net(z, t, cond, drop)

    def start(self, batch: int, generator: Optional[torch.Generator] = None, use_template: bool = True) -> torch.Tensor:
        """z0 = z_template + α·ε ``(B, C, T, h, w)`` (Eq. 8); without the template (ablation) z0 = ε."""
        cfg = self.config
        shape = (batch, cfg.latent_channels, cfg.frames, cfg.height, cfg.width)
        eps = torch.randn(shape, generator=generator, device=self.template.device)
        if not use_template:
            return eps
        return self.template.unsqueeze(0) + self.alpha * eps

    @torch.no_grad()
    def fit_template(self, latents: torch.Tensor) -> None:
        """Set the latent scale and z_template from training latents ``(N, C, T, h, w)`` (unscaled, posterior means):
        scale = their standard deviation, template = the mean over subjects and time (Eq. 6) in scaled units."""
        scale = latents.float().std().clamp_min(1e-6)
        self.latent_scale.copy_(scale)
        self.template.copy_((latents.float() / scale).mean(dim=(0, 2)).unsqueeze(1))


def rectified_flow_loss(model: EcgFlowModel, z1: torch.Tensor, cond: Optional[torch.Tensor],
                        generator: Optional[torch.Generator] = None, cond_drop: float = 0.1,
                        use_template: bool = True) -> tuple[torch.Tensor, dict]:
    """‖v_θ(z_t, t, c) − (z1 − z0)‖² with z_t = (1 − t)·z0 + t·z1, t ~ U(0, 1) (Eq. 7-10); ``z1`` in scaled latent
    units ``(B, C, T, h, w)``; each sample's condition is replaced by the null tokens with probability ``cond_drop``."""
    b = z1.shape[0]
    z0 = model.start(b, generator, use_template)
    t = torch.rand(b, generator=generator)
    zt = (1 - t.view(b, 1, 1, 1, 1)) * z0 + t.view(b, 1, 1, 1, 1) * z1
    drop = torch.rand(b, generator=generator) < cond_drop if cond is not None else None
    v = model(zt, t, cond, drop)
    loss = ((v - (z1 - z0)) ** 2).mean()
    return loss, {"flow_mse": float(loss.detach())}


@torch.no_grad()
def euler_sample(model: EcgFlowModel, cond: Optional[torch.Tensor], steps: int = 20, guidance: float = 1.0,
                 generator: Optional[torch.Generator] = None, use_template: bool = True,
                 batch: Optional[int] = None) -> torch.Tensor:
    """z1 by explicit Euler from t = 0 to 1 in ``steps`` steps (Eq. 11); ``guidance`` w > 1 mixes
    v = v_uncond + w·(v_cond − v_uncond) (classifier-free guidance; 1 = none). Returns scaled latents."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    b = cond.shape[0] if cond is not None else int(batch or 1)
    z = model.start(b, generator, use_template)
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((b,), i * dt)
        v = model(z, t, cond)
        if cond is not None and guidance != 1.0:
            v = model(z, t, None) + guidance * (v - model(z, t, None))
        z = z + dt * v
    return z


def _template_start(model: EcgFlowModel, batch: int) -> torch.Tensor:
    cfg = model.config
    return model.template.unsqueeze(0).expand(batch, -1, cfg.frames, -1, -1)


def regression_loss(model: EcgFlowModel, z1: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The deterministic cross-modal baseline: ‖z_template + f_θ(z_template, 0, c) − z1‖² (scaled latent units
    ``(B, C, T, h, w)``): the same network maps the ECG to the cine autoencoder's latent in one pass, no noise."""
    z0 = _template_start(model, z1.shape[0])
    pred = z0 + model(z0, torch.zeros(z1.shape[0]), cond)
    loss = ((pred - z1) ** 2).mean()
    return loss, {"latent_mse": float(loss.detach())}


@torch.no_grad()
def sample_latents(model: EcgFlowModel, cond: torch.Tensor, model_config: dict, steps: int = 20,
                   guidance: float = 1.0, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Scaled latents ``(B, C, T, h, w)`` from a model as it was trained (its config's ``model`` section):
    ``objective: regression`` → one deterministic pass (steps, guidance and generator unused); otherwise Euler
    sampling (:func:`euler_sample`) from the template (or from pure noise with ``use_template: false``)."""
    objective = str(model_config.get("objective", "flow"))
    if objective not in OBJECTIVES:
        raise ValueError(f"model.objective must be one of {OBJECTIVES}, got {objective!r}")
    if objective == "regression":
        z0 = _template_start(model, cond.shape[0])
        return z0 + model(z0, torch.zeros(cond.shape[0], device=z0.device), cond)
    return euler_sample(model, cond, steps=steps, guidance=guidance, generator=generator,
                        use_template=bool(model_config.get("use_template", True)))


def decode_latents(vae: Any, z_scaled: torch.Tensor, latent_scale: float | torch.Tensor) -> np.ndarray:
    """Frames ``(B, T, H, W)`` in [-1, 1] from scaled latents through the VAE decoder."""
    with torch.no_grad():
        x = vae.decode(z_scaled * latent_scale)
    return x[:, 0].clamp(-1.0, 1.0).cpu().numpy()


def encode_videos(vae: Any, videos: np.ndarray, batch: int = 8) -> torch.Tensor:
    """Posterior means ``(N, C, T, h, w)`` (unscaled) of videos ``(N, T, H, W)`` in [-1, 1]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(videos), batch):
            x = torch.from_numpy(np.ascontiguousarray(videos[i:i + batch]))[:, None]
            out.append(vae.encode(x)[0])
    return torch.cat(out)


def describe(seeds: Sequence[int], frames: int, population: str = "healthy") -> str:
    who = ("healthy subjects" if population == "healthy" else
           "a clinical population (infarcts in about a third, dyssynchrony in about half; cardiogen.models.ecg_cine."
           "subject_config)")
    return (f"CardioGen phantom four-chamber cine (middle plane, 64 px at {PIXEL_MM} mm, one cycle of {frames} frames) "
            f"with the 12-lead ECG of the same heart, {who}, seeds {seeds[0]}-{seeds[-1]} (held-out evaluation seeds "
            f"from 1000)")


def _long_axis_length(mask: np.ndarray, pixel_mm: float) -> float:
    """Extent (mm) of a 2D mask along its principal axis (one pixel added for the pixels' own size)."""
    rows, cols = np.nonzero(mask)
    if rows.size < 3:
        return 0.0
    pts = np.stack([rows, cols], 1).astype(float)
    pts -= pts.mean(0)
    axis = np.linalg.eigh(pts.T @ pts)[1][:, -1]
    proj = pts @ axis
    return float(proj.max() - proj.min() + 1.0) * pixel_mm


def area_length_phenotypes(labels: np.ndarray, pixel_mm: float) -> dict:
    """LV volumes, EF and mass of a four-chamber cine's segmentation by the single-plane area-length method.

    V = 8·A² / (3π·L) for the LV blood pool (area A, long-axis length L of the mask) in every frame; EDV = the
    largest, ESV = the smallest; mass = 1.05 g/mL × (V_epi − V_endo) at the end-diastolic frame, V_epi from the blood
    pool plus myocardium. ``labels`` ``(T, H, W)`` with the standard values (1 LV blood, 2 LV myocardium).

    Returns:
        dict: ``volumes_ml`` ``(T,)``, ``lvedv_ml``, ``lvesv_ml``, ``ef_pct``, ``lv_mass_g``, ``ed_frame``,
        ``es_frame``.
    """
    px2 = pixel_mm * pixel_mm
    vols = []
    for frame in labels:
        blood = frame == 1
        length = _long_axis_length(blood, pixel_mm)
        area = blood.sum() * px2
        vols.append(8.0 * area**2 / (3.0 * np.pi * length) / 1000.0 if length > 0 else 0.0)
    vols = np.asarray(vols)
    ed, es = int(np.argmax(vols)), int(np.argmin(vols))
    outer = np.isin(labels[ed], (1, 2))
    length = _long_axis_length(outer, pixel_mm)
    v_epi = 8.0 * (outer.sum() * px2) ** 2 / (3.0 * np.pi * length) / 1000.0 if length > 0 else 0.0
    edv, esv = float(vols[ed]), float(vols[es])
    return {"volumes_ml": vols, "lvedv_ml": edv, "lvesv_ml": esv,
            "ef_pct": 100.0 * (1.0 - esv / edv) if edv > 0 else float("nan"),
            "lv_mass_g": 1.05 * max(v_epi - edv, 0.0), "ed_frame": ed, "es_frame": es}
