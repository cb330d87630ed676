"""Training specs of seed 003 (ECG → cine): the video VAE (``cine_vae``) and the latent rectified flow (``ecg_flow``).

* ``cine_vae`` — the seed's 3D-VAE with anisotropic compression (space downsampled, time kept) on phantom
  four-chamber cines of one cycle (:func:`cardiogen.models.ecg_cine.paired_pool`); each step takes random cyclic
  windows of ``data.crop_frames`` frames (the network is convolutional in time, the window bounds a CPU step's cost)
  with a random intensity gain; L1 reconstruction + β·KL (``loss.beta``, per-element means).
* ``ecg_flow`` — the DiT velocity network on the frozen VAE's latents (``model.vae_from``), conditioned on the frozen
  PA-MAE's cycle-aligned ECG features (``model.pamae_from``); the template and latent scale are fitted on the training
  subjects' latents when the model is built (Eq. 6); rectified-flow loss (Eq. 7-10) with condition dropout
  ``model.cond_drop`` for classifier-free guidance. The seed's baselines, same network, data and budget:
  ``model.use_template: false`` ("w/o template": z0 = pure noise), ``model.condition: raw_ecg`` ("w/o PA-MAE": the
  front end's median beat as the context, :func:`cardiogen.models.ecg_cine.raw_condition_tokens`) and
  ``model.objective: regression`` (the deterministic cross-modal autoencoder: ECG → latent in one pass).
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from . import register_spec
from . import seed_range as _seeds


def _frames(config: dict) -> int:
    return int(config["data"].get("frames", 16))


def _population(config: dict) -> str:
    """``data.population``: "healthy" (default) or "clinical" (:func:`cardiogen.models.ecg_cine.subject_config`)."""
    return str(config["data"].get("population", "healthy"))


@functools.lru_cache(maxsize=2)
def _vae(vae_id: str) -> Any:
    from ..nets.video_vae import VideoVAE, VideoVAEConfig
    from ..weights import Registry

    reg = Registry()
    vae = VideoVAE(VideoVAEConfig.from_dict(reg.get(vae_id).config.get("model", {})))
    vae.load_state_dict(reg.load_state_dict(vae_id))
    return vae.eval()


@functools.lru_cache(maxsize=2)
def _latents(vae_id: str, seeds: tuple[int, ...], frames: int, population: str = "healthy") -> Any:
    from ..models.ecg_cine import encode_videos, paired_pool

    return encode_videos(_vae(vae_id), paired_pool(seeds, frames, population=population)["video"])


def _conditions(config: dict, seeds: tuple[int, ...]) -> np.ndarray:
    """``(N, frames + 1, D_c)`` context of the subjects' ECGs as the model is configured (``model.condition``)."""
    from ..models.ecg_cine import pool_conditions, pool_raw_conditions

    m = config["model"]
    if m.get("condition", "pamae") == "raw_ecg":
        return pool_raw_conditions(seeds, _frames(config), _population(config))
    return pool_conditions(str(m["pamae_from"]), seeds, _frames(config), _population(config))


def _grid(config: dict) -> dict:
    """The cine grid of the paired data (the registry's ``geometry``): fixed 2.8 mm pixels, one cycle of frames."""
    from ..models.ecg_cine import PIXEL_MM

    frames = _frames(config)
    return {"pixel_mm": PIXEL_MM, "pixel_mm_range": [PIXEL_MM, PIXEL_MM], "matrix": int(config["data"].get("size", 64)),
            "frames": frames, "frames_range": [frames, frames], "view": "4ch"}


@register_spec("cine_vae")
class CineVaeSpec:
    """3D VAE (space compressed, time kept) of phantom four-chamber cines."""

    name = "cine_vae"
    pipeline = "cine_vae"

    def build(self, config: dict) -> Any:
        from ..nets.video_vae import VideoVAE, VideoVAEConfig

        return VideoVAE(VideoVAEConfig.from_dict(config.get("model", {})))

    def geometry(self, config: dict) -> dict:
        return {**_grid(config), "note": "phantom four-chamber cine of one cycle at 2.8 mm (trained on cyclic windows "
                                         f"of {int(config['data'].get('crop_frames', 8))} frames; convolutional in "
                                         "time)"}

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.ecg_cine import paired_pool

        d = config["data"]
        videos = paired_pool(_seeds(d), _frames(config), population=_population(config))["video"]
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        n, t = videos.shape[:2]
        crop = min(int(d.get("crop_frames", 8)), t)
        out = []
        for i in rng.integers(0, n, size=int(d.get("batch_size", 4))):
            start = int(rng.integers(0, t))
            clip = np.take(videos[int(i)], np.arange(start, start + crop) % t, axis=0)
            gain = float(rng.uniform(*d.get("gain", (0.9, 1.1))))
            out.append(np.clip((clip + 1.0) * gain - 1.0, -1.0, 1.0))
        return {"x": torch.from_numpy(np.stack(out).astype(np.float32))[:, None], "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..nets.video_vae import vae_loss

        g = torch.Generator().manual_seed(int(batch["seed"]))
        out = model(batch["x"], generator=g)
        parts = vae_loss(out, batch["x"], beta=float(config.get("loss", {}).get("beta", 1e-4)))
        return parts.total, {"rec": float(parts.recon.detach()), "kl": float(parts.kl.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        """Held-out subjects, whole cycles through the posterior mean: L1 and PSNR (on [-1, 1], peak-to-peak 2) of
        the reconstruction; CPU s per video (encode + decode)."""
        import torch

        from ..models.ecg_cine import paired_pool

        model = model.cpu().eval()
        seeds = _seeds(config.get("eval", {}), 1000, 4)
        videos = paired_pool(seeds, _frames(config), population=_population(config))["video"]
        l1, psnr, seconds = [], [], []
        with torch.no_grad():
            for v in videos:
                x = torch.from_numpy(v)[None, None]
                start = time.perf_counter()
                rec = model.decode(model.encode(x)[0])
                seconds.append(time.perf_counter() - start)
                err = (rec - x).float()
                l1.append(float(err.abs().mean()))
                psnr.append(float(10 * np.log10(4.0 / max(float((err**2).mean()), 1e-12))))
        return {"heldout_seeds": list(seeds), "l1": float(np.mean(l1)), "psnr_db": float(np.mean(psnr)),
                "timing": {"cpu_s_per_video": round(float(np.mean(seconds)), 3)}}

    def describe_data(self, config: dict) -> str:
        from ..models.ecg_cine import describe

        return (describe(_seeds(config["data"]), _frames(config), _population(config))
                + "; the ECG is not used by this model")


@register_spec("ecg_flow")
class EcgFlowSpec:
    """Latent rectified flow v_θ(z_t, t, c) conditioned on the ECG (PA-MAE features)."""

    name = "ecg_flow"
    pipeline = "ecg_to_cine"

    def build(self, config: dict) -> Any:
        from ..models.ecg_cine import EcgFlowModel, dit_config

        m = dict(config.get("model", {}))
        vae = _vae(str(m["vae_from"]))
        model = EcgFlowModel(dit_config(config, vae.config), alpha=float(m.get("alpha", 0.5)))
        model.fit_template(_latents(str(m["vae_from"]), _seeds(config["data"]), _frames(config),
                                    _population(config)))
        return model

    def geometry(self, config: dict) -> dict:
        """What the model was trained for: the cine grid and the heart-rate range of the training subjects (the
        pipeline refuses ECGs outside it)."""
        from ..models.ecg_cine import paired_pool

        pool = paired_pool(_seeds(config["data"]), _frames(config), population=_population(config))
        hr = pool["truth"]["heart_rate_bpm"]
        return {**_grid(config), "population": _population(config),
                "heart_rate_bpm_range": [round(float(hr.min()), 1), round(float(hr.max()), 1)],
                "note": "phantom four-chamber cine of one cycle at 2.8 mm; the ECG of any rate and length goes "
                        "through cardiogen.ecg_frontend.prepare (10 s, 500 Hz, 12 leads)"}

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        m, d = config["model"], config["data"]
        seeds = _seeds(d)
        lat = _latents(str(m["vae_from"]), seeds, _frames(config), _population(config))
        cond = _conditions(config, seeds)
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(seeds), size=int(d.get("batch_size", 8)))
        return {"z1": lat[idx], "cond": torch.from_numpy(cond[idx]), "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.ecg_cine import rectified_flow_loss, regression_loss

        m = config["model"]
        inner = getattr(model, "module", model)
        g = torch.Generator().manual_seed(int(batch["seed"]))
        z1 = batch["z1"] / inner.latent_scale
        if m.get("objective", "flow") == "regression":
            return regression_loss(model, z1, batch["cond"])
        return rectified_flow_loss(model, z1, batch["cond"], g, cond_drop=float(m.get("cond_drop", 0.1)),
                                   use_template=bool(m.get("use_template", True)))

    def evaluate(self, model: Any, config: dict) -> dict:
        """Held-out subjects: generate each from its ECG (Euler, ``eval.steps``), decode, and compare with the true
        cine: pixel L1, and the LV blood area (the four-chamber feature network's segmentation, % of the frame) at ED
        and ES against the true masks' — Pearson r across subjects; CPU s per video."""
        import torch

        from ..latent.phenotypes import measure_frames
        from ..metrics.features import load_feature_network
        from ..models.ecg_cine import decode_latents, paired_pool, sample_latents

        m, ev = config["model"], config.get("eval", {})
        model = model.cpu().eval()
        seeds = _seeds(ev, 1000, 8)
        frames = _frames(config)
        pool = paired_pool(seeds, frames, population=_population(config))
        cond = torch.from_numpy(_conditions(config, seeds))
        vae = _vae(str(m["vae_from"]))
        start = time.perf_counter()
        z = sample_latents(model, cond, m, steps=int(ev.get("steps", 20)), generator=torch.Generator().manual_seed(0))
        video = decode_latents(vae, z, model.latent_scale)
        seconds = (time.perf_counter() - start) / len(seeds)
        net = load_feature_network(str(ev.get("features", "cardiac-features-lax-64")))
        area = measure_frames(video.reshape(-1, *video.shape[2:]), net)["lv_area"].reshape(len(seeds), frames)
        true_area = 100.0 * (pool["labels"] == 1).mean(axis=(2, 3))
        ed_r = float(np.corrcoef(area[:, 0], true_area[:, 0])[0, 1])
        es_true = true_area.argmin(axis=1)
        es_r = float(np.corrcoef(area[np.arange(len(seeds)), es_true], true_area[np.arange(len(seeds)), es_true])[0, 1])
        return {"heldout_seeds": list(seeds), "l1": float(np.abs(video - pool["video"]).mean()),
                "lv_area_ed_r": ed_r, "lv_area_es_r": es_r, "steps": int(ev.get("steps", 20)),
                "timing": {"cpu_s_per_video": round(seconds, 3)}}

    def describe_data(self, config: dict) -> str:
        from ..models.ecg_cine import describe

        m = config["model"]
        context = ("the raw median beat of the ECG (no ECG encoder)" if m.get("condition", "pamae") == "raw_ecg"
                   else f"ECG features of {m['pamae_from']} (frozen)")
        return (describe(_seeds(config["data"]), _frames(config), _population(config))
                + f"; latents of {m['vae_from']} (frozen), {context}")
