"""Training spec of seed 003's PA-MAE (``pamae``): masked reconstruction + phase pre-training on phantom ECG.

Data: ``data.cases`` phantom subjects from ``data.first_seed`` (:func:`cardiogen.models.pamae.draw_subject`: varied
heart rate, LV mass, dyssynchrony, infarcts), 12 s of 12-lead ECG each from the phantom's ECG generator, filtered by
the front end; every batch crops random 10-s windows (random offsets, gain jitter ``data.gain_jitter``). Loss
(:func:`cardiogen.models.pamae.pamae_loss`): ``model.w_rec``·L_rec + ``model.w_phase``·L_phase, 1 and 1 as the
seed's Eq. 5. Evaluation on held-out subjects from ``eval.first_seed`` (1000): masked-patch RMSE against linear
interpolation, phase error; optionally a ridge probe of the frozen features (``eval.probe_train`` subjects from
seed 0, ``eval.probe_test`` held out from ``eval.probe_first_seed``) and the real ECGs of ``eval.real_data`` (a
folder of the sample data, :func:`cardiogen.io.sample_data_dir`, e.g. ``ecg``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from . import register_spec, seed_range


def _seeds(config: dict) -> tuple[int, ...]:
    return seed_range(config["data"], 0, 256)


def _eval_seeds(config: dict) -> tuple[int, ...]:
    return seed_range(config.get("eval", {}), 1000, 16)


@register_spec("pamae")
class PamaeSpec:
    """PA-MAE pre-trained on phantom 12-lead ECG."""

    name = "pamae"
    pipeline = "ecg_encoder"  # a component of ecg_to_cine, not a model that pipeline can run on its own

    def build(self, config: dict) -> Any:
        from ..nets.pamae import PAMAE, PAMAEConfig

        return PAMAE(PAMAEConfig.from_dict(config.get("model", {})))

    def geometry(self, config: dict) -> dict:
        from ..nets.pamae import PAMAEConfig

        cfg = PAMAEConfig.from_dict(config.get("model", {}))
        return {"pixel_mm": None, "matrix": None, "frames": None, "frames_range": None, "pixel_mm_range": None,
                "note": f"ECG input: {cfg.leads} leads x {cfg.samples} samples at {cfg.sampling_hz:g} Hz (mV, "
                        f"cardiogen.ecg_frontend.prepare); {cfg.tokens} tokens of {cfg.patch} samples "
                        f"({1000 * cfg.token_seconds:g} ms), features {cfg.dim} per token"}

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.pamae import crop_batch, phantom_ecg_pool
        from ..nets.pamae import PAMAEConfig

        d = config["data"]
        cfg = PAMAEConfig.from_dict(config.get("model", {}))
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        b = crop_batch(phantom_ecg_pool(_seeds(config)), rng, int(d.get("batch_size", 8)), cfg.samples, cfg.patch,
                       float(d.get("gain_jitter", 0.1)))
        return {"ecg": torch.from_numpy(b["ecg"]), "phase": torch.from_numpy(b["phase"]),
                "mask_seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.pamae import pamae_loss

        m = config.get("model", {})
        out = model(batch["ecg"], generator=torch.Generator().manual_seed(int(batch["mask_seed"])))
        return pamae_loss(out, batch["phase"], float(m.get("w_rec", 1.0)), float(m.get("w_phase", 1.0)))

    def evaluate(self, model: Any, config: dict) -> dict:
        """Held-out phantom reconstruction and phase (:func:`cardiogen.models.pamae.evaluate_phantom`), the frozen
        feature probe and the real ECGs when configured; CPU seconds for the features of one 10-s ECG."""
        import torch

        from ..models.pamae import evaluate_phantom, evaluate_real, probe_phantom

        model = model.cpu().eval()
        ev = config.get("eval", {})
        out = evaluate_phantom(model, _eval_seeds(config), int(ev.get("masks_per_subject", 2)))
        if int(ev.get("probe_train", 0)):
            first = int(ev.get("probe_first_seed", 2000))
            out["probe"] = probe_phantom(model, _seeds(config)[: int(ev["probe_train"])],
                                         range(first, first + int(ev.get("probe_test", 64))))
        real = ev.get("real_data")
        if real:
            from ..io import sample_data_dir

            path = Path(real) if Path(real).is_absolute() else sample_data_dir() / real
            out["real"] = evaluate_real(model, path) if path.is_dir() else {"skipped": f"{path} not found"}
        x = torch.zeros(1, model.config.leads, model.config.samples)
        start = time.perf_counter()
        for _ in range(3):
            model.features(x)
        out["timing"] = {"cpu_s_per_ecg_features": round((time.perf_counter() - start) / 3, 4)}
        return out

    def describe_data(self, config: dict) -> str:
        s, ev = _seeds(config), _eval_seeds(config)
        return (f"CardioGen phantom 12-lead ECG (phantom ECG generator only, no images), subjects {s[0]}-{s[-1]} "
                "(heart rate 45-110 bpm, LV mass, LVEDV, dyssynchrony, infarcts varied; "
                "cardiogen.models.pamae.draw_subject), 12 s at 500 Hz each, baseline/powerline filtered, random 10-s "
                f"windows; held out {ev[0]}-{ev[-1]}")
