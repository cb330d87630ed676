"""Training specs of the DENSE -> cine video diffusion models: ``mfd_v2v`` (motion-guided) and ``vdm`` (no guidance).

Both are trained on LV-centred phantom cine crops (:mod:`cardiogen.models.video_data`) with the diffusion loss of
seed 000 (ε-prediction, sigmoid schedule, 1000 steps); ``mfd_v2v`` conditions on the LTMA motion of the same
video through STME + cross-attention and drops the condition for 10 % of batches (classifier-free guidance).

``data.motion_mask: myocardium`` keeps the LTMA motion only on the (slightly grown) ED myocardium, as DENSE measures
it (:func:`cardiogen.models.video_data.myocardial_motion`); ``none`` (the default) conditions on the whole field.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..errors import CardioGenInputError
from . import register_spec
from .gan import DiscriminatorOptimiser

MOTION_MASKS = ("none", "myocardium")  #: values of ``data.motion_mask``


class _VideoDiffusionSpec:
    name = "mfd_v2v"
    pipeline = "dense_to_cine"
    conditioning = "stme"

    def _data(self, config: dict) -> dict:
        d = config["data"]
        first = int(d.get("first_seed", 0))
        if d.get("motion_mask", "none") not in MOTION_MASKS:
            raise CardioGenInputError("unknown data.motion_mask", expected=list(MOTION_MASKS), got=d["motion_mask"])
        return {"seeds": tuple(range(first, first + int(d.get("cases", 8)))), "size": int(d.get("size", 32)),
                "frames": int(d.get("frames", 16)), "image_size": int(d.get("image_size", 64)),
                "slices": int(d.get("slices", 10)), "slices_per_case": int(d.get("slices_per_case", 3)),
                "batch_size": int(d.get("batch_size", 4)), "motion_mask": str(d.get("motion_mask", "none"))}

    def _motion(self, pool: dict, idx: Any, d: dict) -> np.ndarray:
        """The motion condition of pool videos ``idx`` ``(B, 2, T, H, W)``, masked as ``data.motion_mask`` says."""
        from ..models.video_data import myocardial_motion

        if d["motion_mask"] == "myocardium":
            return myocardial_motion(pool["motion"][idx], pool["myo"][idx])
        return pool["motion"][idx]

    def build(self, config: dict) -> Any:
        from ..models.mfd_v2v import build_model

        model_cfg = dict(config["model"])
        model_cfg["conditioning"] = self.conditioning
        d = self._data(config)
        model_cfg.setdefault("size", d["size"])
        model_cfg.setdefault("frames", d["frames"])
        return build_model(model_cfg)

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.video_data import phantom_video_pool

        d = self._data(config)
        pool = phantom_video_pool(d["seeds"], d["size"], d["frames"], d["image_size"], d["slices"],
                                  d["slices_per_case"])
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(pool["cine"]), size=d["batch_size"])
        cine = torch.from_numpy(pool["cine"][idx])
        motion = torch.from_numpy(self._motion(pool, idx, d))
        if rng.random() < 0.5:  # left-right flip: mirror the image and negate the x displacement
            cine = cine.flip(-1)
            motion = motion.flip(-1) * torch.tensor([-1.0, 1.0]).view(1, 2, 1, 1, 1)
        generator_seed = int(rng.integers(0, 2**31 - 1))
        return {"cine": cine, "motion": motion, "seed": generator_seed}

    def extra_tensors(self, model: Any, config: dict) -> dict:
        """Exported beside the weights: the mean training video ``(1, T, H, W)``, the sampler's ``x0_prior`` at
        (near) zero SNR (see :mod:`cardiogen.nets.samplers`)."""
        import torch

        from ..models.video_data import phantom_video_pool
        from ..nets.samplers import X0_PRIOR_KEY

        d = self._data(config)
        pool = phantom_video_pool(d["seeds"], d["size"], d["frames"], d["image_size"], d["slices"],
                                  d["slices_per_case"])
        return {X0_PRIOR_KEY: torch.from_numpy(pool["cine"].mean(0).astype(np.float32))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..nets.schedules import diffusion_loss

        inner = getattr(model, "module", model)
        generator = torch.Generator().manual_seed(int(batch["seed"]))
        cond = {"motion": batch["motion"]} if inner.conditioned else None
        loss = diffusion_loss(model, batch["cine"], cond, generator, schedule=_schedule(inner),
                              cond_drop_prob=float(config["train"].get("cond_drop_prob", 0.1)) if cond else 0.0)
        return loss, {"diffusion_mse": float(loss.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        """Denoising error at fixed noise levels on held-out videos (cheap; the full benchmark samples videos)."""
        import torch

        from ..models.video_data import phantom_video_pool
        from ..nets.schedules import diffusion_loss

        ev = config.get("eval", {})
        d = self._data(config)
        first = int(ev.get("first_seed", 2000))
        pool = phantom_video_pool(tuple(range(first, first + int(ev.get("cases", 2)))), d["size"], d["frames"],
                                  d["image_size"], d["slices"], 1)
        cine = torch.from_numpy(pool["cine"])
        motion = torch.from_numpy(self._motion(pool, np.arange(len(pool["cine"])), d))
        schedule = _schedule(model)
        out = {}
        with torch.no_grad():
            for t in (100, 500, 900):
                tt = torch.full((cine.shape[0],), t, dtype=torch.long)
                g = torch.Generator().manual_seed(t)
                cond = {"motion": motion} if model.conditioned else None
                out[f"heldout_mse_t{t}"] = float(diffusion_loss(model, cine, cond, g, schedule=schedule, t=tt))
            start = time.time()
            model(cine[:1], torch.tensor([500]), motion[:1] if model.conditioned else None)
            out["timing"] = {"cpu_s_per_network_eval": round(time.time() - start, 4)}
        return out

    def describe_data(self, config: dict) -> str:
        d = self._data(config)
        return (f"CardioGen phantom cine, seeds {d['seeds'][0]}-{d['seeds'][-1]}, {d['slices_per_case']} mid-ventricular "
                f"slices each, LV-centred {d['size']}x{d['size']} crops, {d['frames']} frames; motion condition = "
                "LTMA displacement of the same cine (ltma-phantom-64)"
                + (" on the ED myocardium grown by one pixel (as DENSE measures it)"
                   if d["motion_mask"] == "myocardium" else ""))


def _schedule(model: Any):
    cache = getattr(model, "_cardiogen_schedule", None)
    if cache is None:
        cache = model.schedule()
        model._cardiogen_schedule = cache
    return cache


@register_spec("mfd_v2v")
class MfdV2vSpec(_VideoDiffusionSpec):
    name = "mfd_v2v"
    conditioning = "stme"


@register_spec("vdm")
class VdmSpec(_VideoDiffusionSpec):
    """The unconditioned video diffusion baseline (VDM) of seed 000's Table 1."""

    name = "vdm"
    pipeline = "dense_to_cine_vdm"   # a baseline: never the default weights of the dense_to_cine pipeline
    conditioning = "none"


@register_spec("controlnet")
class ControlNetSpec(_VideoDiffusionSpec):
    """ControlNet-style baseline: the trained VDM (``model.base_weights`` in the registry) frozen, a trainable copy of
    its encoder conditioned on the LTMA motion, joined by zero convolutions (seed 000 trains only the control part)."""

    name = "controlnet"
    pipeline = "dense_to_cine_controlnet"
    conditioning = "none"

    def build(self, config: dict) -> Any:
        from ..models.baselines import ControlNetVideo
        from ..models.mfd_v2v import MFDV2VConfig, build_model, load_weights
        from ..weights import Registry

        registry = Registry()
        base_id = config["model"].get("base_weights")
        entry = registry.get(base_id) if base_id else registry.default_for("dense_to_cine_vdm")
        base_cfg = dict(entry.config["model"])
        base_cfg["conditioning"] = "none"
        vdm = build_model(MFDV2VConfig.from_dict(base_cfg))
        load_weights(vdm, registry.load_state_dict(entry.id))
        model = ControlNetVideo(vdm.unet)
        model.config = vdm.config
        model.schedule = vdm.schedule
        model.base_sha256 = entry.sha256
        return model

    def parameters(self, model: Any):
        return model.trainable_parameters()

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..nets.schedules import diffusion_loss

        generator = torch.Generator().manual_seed(int(batch["seed"]))
        loss = diffusion_loss(model, batch["cine"], {"motion": batch["motion"]}, generator,
                              schedule=_schedule(getattr(model, "module", model)))
        return loss, {"diffusion_mse": float(loss.detach())}


@register_spec("cyclegan")
class CycleGanSpec(DiscriminatorOptimiser, _VideoDiffusionSpec):
    """CycleGAN-style unpaired DENSE-magnitude <-> cine translator (frame-wise), the last row of seed 000's Table 1."""

    name = "cyclegan"
    pipeline = "dense_to_cine_cyclegan"

    def build(self, config: dict) -> Any:
        from ..models.baselines import CycleGANTranslator

        m = config["model"]
        return CycleGANTranslator(int(m.get("channels", 32)), int(m.get("blocks", 4)),
                                  float(m.get("cycle_weight", 10.0)))

    def extra_tensors(self, model: Any, config: dict) -> dict:
        return {}  # a translator, not a diffusion model: no sampler prior

    def parameters(self, model: Any):
        return model.generator_parameters()

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.video_data import phantom_video_pool

        d = self._data(config)
        pool = phantom_video_pool(d["seeds"], d["size"], d["frames"], d["image_size"], d["slices"],
                                  d["slices_per_case"], with_dense=True)
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        n, t = len(pool["cine"]), d["frames"]
        # unpaired: DENSE frames and cine frames from independently drawn videos and times
        vi, vj = rng.integers(0, n, d["batch_size"]), rng.integers(0, n, d["batch_size"])
        ti, tj = rng.integers(0, t, d["batch_size"]), rng.integers(0, t, d["batch_size"])
        dense = torch.from_numpy(pool["dense_mag"][vi, 0, ti])[:, None]
        cine = torch.from_numpy(pool["cine"][vj, 0, tj])[:, None]
        return {"dense": dense, "cine": cine}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        d_loss = model.discriminator_loss(batch["dense"], batch["cine"])
        self.d_step(model, config, d_loss)  # the discriminators' own optimiser (alternating GAN updates)
        loss, logs = model.generator_loss(batch["dense"], batch["cine"])  # through the updated discriminators
        logs["d_loss"] = float(d_loss.detach())
        return loss, logs

    def evaluate(self, model: Any, config: dict) -> dict:
        import torch

        from ..models.video_data import phantom_video_pool

        ev = config.get("eval", {})
        d = self._data(config)
        first = int(ev.get("first_seed", 2000))
        pool = phantom_video_pool(tuple(range(first, first + int(ev.get("cases", 2)))), d["size"], d["frames"],
                                  d["image_size"], d["slices"], 1, with_dense=True)
        with torch.no_grad():
            fake = model.translate(torch.from_numpy(pool["dense_mag"]))
        err = float((fake - torch.from_numpy(pool["cine"])).abs().mean())
        return {"heldout_l1_vs_true_cine": err}

    def describe_data(self, config: dict) -> str:
        return super().describe_data(config).split("; motion condition")[0] + "; unpaired DENSE magnitude and cine frames"
