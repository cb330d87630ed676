"""Training spec of seed 001's tag tracker (``tag_tracker``, chapter 4): a CNN + RNN landmark tracker on phantom
tagging with exact landmark tracks.

Data (:func:`cardiogen.models.tag_tracking.tracking_pool`): ``data.cases`` phantom subjects from ``data.first_seed``
(varied size, heart rate, contraction, infarcts, tag spacing from the pixel size), every short-axis slice with a
usable LV ring: ``data.sectors`` landmarks on each of the endo, mid and epi rings at end-diastole, carried by the
phantom's exact motion; sequences cropped to ``data.crop`` pixels around the LV; random flips, transposition and
intensity gain/gamma. Loss (:func:`~cardiogen.models.tag_tracking.tracking_loss`): mean landmark distance in mm plus
``train.strain_weight`` × the mean |Green-Lagrange strain error| of the strain segments (0: positions only, version 1).
``model.init_from`` starts from registered weights (:func:`cardiogen.train.init_weights`).
Evaluation on held-out subjects from ``eval.first_seed`` (1000): landmark error (mm), strain difference against
the exact tracks (Green-Lagrange circumferential and radial), seconds per sequence.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import init_weights, register_spec, seed_range


def _pool(config: dict, section: str) -> dict:
    from ..models.tag_tracking import DEFAULT_FRACTIONS, tracking_pool

    d, part = config["data"], config.get(section, {})
    seeds = seed_range(config["data"], 0, 64) if section == "data" else seed_range(part, 1000, 8)
    return tracking_pool(seeds, int(d.get("size", 64)), int(d.get("frames", 20)), int(d.get("slices", 10)),
                         int(d.get("sectors", 24)), tuple(d.get("fractions", DEFAULT_FRACTIONS)),
                         int(d.get("crop", 40)))


def _sax_geometry(config: dict, spacing: np.ndarray, note: str) -> dict:
    """The registry's grid record of a short-axis model trained on phantom slices of ``spacing`` ``(S,)`` mm."""
    d = config["data"]
    frames = int(d.get("frames", 20))
    return {"pixel_mm": round(float(np.median(spacing)), 3),
            "pixel_mm_range": [round(float(spacing.min()), 3), round(float(spacing.max()), 3)],
            "matrix": int(d.get("size", 64)), "frames": frames, "frames_range": [frames, frames], "view": "sax",
            "note": note}


@register_spec("tag_tracker")
class TagTrackerSpec:
    """CNN + GRU landmark tracker trained on phantom tagging."""

    name = "tag_tracker"
    pipeline = "tag_tracking"

    def build(self, config: dict) -> Any:
        from ..nets.tag_tracker import TagTracker, TagTrackerConfig

        return init_weights(TagTracker(TagTrackerConfig.from_dict(config.get("model", {}))), config.get("model", {}))

    def geometry(self, config: dict) -> dict:
        d = config["data"]
        return _sax_geometry(config, _pool(config, "data")["spacing"][:, 0],
                             "phantom SPAMM tagging, one short-axis slice per sequence, cropped to "
                             f"{int(d.get('crop', 40))} pixels around the LV; {int(d.get('sectors', 24))} landmarks "
                             "per ring (endo, mid, epi) given at end-diastole (frame 0)")

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.tag_tracking import augment

        pool = _pool(config, "data")
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(pool["images"]), int(config["data"].get("batch_size", 4)))
        pairs = [augment(pool["images"][i], pool["tracks"][i], rng) for i in idx]
        return {"frames": torch.from_numpy(np.stack([p[0] for p in pairs])),
                "tracks": torch.from_numpy(np.stack([p[1] for p in pairs])),
                "spacing": torch.from_numpy(pool["spacing"][idx])}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.tag_tracking import tracking_loss

        weight = float(config["train"].get("strain_weight", 0.0))
        pairs = torch.from_numpy(_pool(config, "data")["pairs"]) if weight > 0.0 else None
        pred = model(batch["frames"], batch["tracks"][:, 0])
        loss, mm, strain = tracking_loss(pred, batch["tracks"], batch["spacing"], pairs, weight)
        return loss, {"landmark_mm": float(mm.detach()), "strain_error": float(strain.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        from ..models.tag_tracking import evaluate_tracking

        model = model.cpu().eval()
        out = evaluate_tracking(model, _pool(config, "eval"), demons=bool(config.get("eval", {}).get("demons")))
        out["timing"] = {"cpu_s_per_sequence": round(out["learned"]["seconds_per_sequence"], 4)}
        return out

    def describe_data(self, config: dict) -> str:
        d = config["data"]
        s, ev = seed_range(d, 0, 64), seed_range(config.get("eval", {}), 1000, 8)
        return (f"CardioGen phantom SPAMM tagging (short-axis slices with a usable LV ring, {int(d.get('size', 64))}² "
                f"x {int(d.get('frames', 20))} frames) with exact landmark tracks from the phantom's motion, subjects "
                f"{s[0]}-{s[-1]}; held out {ev[0]}-{ev[-1]}")


def _paired(config: dict, section: str) -> dict:
    from ..models.cine_tagging import paired_pool

    d, part = config["data"], config.get(section, {})
    seeds = seed_range(d, 0, 48) if section == "data" else seed_range(part, 1000, 8)
    return paired_pool(seeds, int(d.get("size", 64)), int(d.get("frames", 20)), int(d.get("slices", 10)),
                       int(d.get("sectors", 24)), int(d.get("crop", 40)))


@register_spec("smcvae")
class SmcVAESpec:
    """Seed 001's sparse multi-channel VAE of paired phantom cine and tagging (chapter 4).

    Data (:func:`cardiogen.models.cine_tagging.paired_pool`): the cine and tagging of every phantom short-axis slice
    with a usable LV ring, cropped together around the LV; random flips and transposition applied to both alike.
    Loss: :func:`~cardiogen.models.cine_tagging.smcvae_loss`. Evaluation on held-out subjects: the seed's table 4.1
    (SSIM, PSNR, RMSE, MAE per region for the four scenarios) and, with ``eval.strain`` naming a tracker, the strain
    agreement of tagging synthesised from cine with the true tagging.
    """

    name = "smcvae"
    pipeline = "cine_to_tagging"

    def build(self, config: dict) -> Any:
        from ..nets.smcvae import SmcVAE, SmcVAEConfig

        d = config["data"]
        model = dict(config.get("model", {}), frames=int(d.get("frames", 20)), size=int(d.get("crop", 40)))
        return SmcVAE(SmcVAEConfig.from_dict(model))

    def parameters(self, model: Any) -> list:
        """Two groups: the networks at ``train.lr``, log α at ``model.log_alpha_lr_scale`` times it."""
        rest = [p for name, p in model.named_parameters() if name != "log_alpha"]
        return [{"params": rest}, {"params": [model.log_alpha], "lr_scale": float(model.cfg.log_alpha_lr_scale)}]

    def geometry(self, config: dict) -> dict:
        d = config["data"]
        return _sax_geometry(config, _paired(config, "data")["spacing"][:, 0],
                             "phantom cine and SPAMM tagging of one short-axis slice, cropped to "
                             f"{int(d.get('crop', 40))} pixels around the LV, each normalised to [0, 1] (1st-99th "
                             "percentile)")

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.cine_tagging import to_model

        pool = _paired(config, "data")
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(pool["cine"]), int(config["data"].get("batch_size", 16)))
        out = {}
        flips = rng.integers(0, 2, (len(idx), 3))
        for c in ("cine", "tagging"):
            seqs = []
            for i, (fy, fx, tr) in zip(idx, flips):
                a = pool[c][i]
                a = a[:, ::-1] if fy else a
                a = a[:, :, ::-1] if fx else a
                seqs.append(np.ascontiguousarray(a.transpose(0, 2, 1) if tr else a))
            out[c] = to_model(torch.from_numpy(np.stack(seqs)))
        return out

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        from ..models.cine_tagging import smcvae_loss

        m = config.get("model", {})
        return smcvae_loss(model, batch, noise_sd=float(m.get("noise_sd", 0.1)),
                           kl_weight=float(m.get("kl_weight", 1.0)))

    def evaluate(self, model: Any, config: dict) -> dict:
        from ..models.cine_tagging import evaluate_translation, strain_agreement

        model = model.cpu().eval()
        pool = _paired(config, "eval")
        out = evaluate_translation(model, pool)
        tracker = config.get("eval", {}).get("strain")
        if tracker:
            from ..models.tag_tracking import load_tracker

            out["strain"] = {k: {kk: vv for kk, vv in v.items() if kk not in ("synthetic", "true_tagging")}
                             for k, v in strain_agreement(model, load_tracker(tracker)[0], pool).items()}
        out["timing"] = {"cpu_s_per_sequence": round(out["cine to tagging"]["seconds_per_sequence"], 4)}
        return out

    def describe_data(self, config: dict) -> str:
        d = config["data"]
        s, ev = seed_range(d, 0, 48), seed_range(config.get("eval", {}), 1000, 8)
        return (f"CardioGen phantom cine and SPAMM tagging of the same short-axis slices ({int(d.get('size', 64))}² x "
                f"{int(d.get('frames', 20))} frames, usable LV ring), subjects {s[0]}-{s[-1]}; held out "
                f"{ev[0]}-{ev[-1]}")
