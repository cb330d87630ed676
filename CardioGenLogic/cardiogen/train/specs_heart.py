"""Training specs of seed 001's whole-heart latent diffusion (chapters 5-6): the image + mask autoencoder
(``heart_ae``).

* ``heart_ae`` — chapter 5's VAE with 3D convolutions and 3D attention at the bottleneck (``model.mid_attention``) on
  phantom short-axis stacks at end-diastole and end-systole (:func:`cardiogen.models.heart3d.stack_pool`), image and
  one-hot mask in the channels; each step takes random stacks with a random intensity gain and a small in-plane shift
  (image and mask together); L1 on the image + cross-entropy of the mask + β·KL (``loss.beta``, the seed's 1e-4).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import register_spec
from . import seed_range as _seeds


def _pool(config: dict, seeds: tuple[int, ...]) -> dict:
    from ..models.heart3d import stack_pool

    d = config["data"]
    return stack_pool(seeds, int(d.get("slices", 8)), int(d.get("size", 64)))


@register_spec("heart_ae")
class HeartAeSpec:
    """3D image + mask VAE of short-axis stacks (slices on the network's depth axis)."""

    name = "heart_ae"
    pipeline = "heart_ae"

    def build(self, config: dict) -> Any:
        from ..models.heart3d import NUM_CLASSES
        from ..nets.video_vae import VideoVAE, VideoVAEConfig

        return VideoVAE(VideoVAEConfig.from_dict({**config.get("model", {}), "in_channels": 1 + NUM_CLASSES}))

    def geometry(self, config: dict) -> dict:
        """The stack grid the model was trained on (the phantom's short-axis geometry: its pixel and slice spacing
        vary a little with the subject's size; the range is recorded)."""
        d = config["data"]
        sp = _pool(config, _seeds(d))["spacing"]
        return {"pixel_mm": round(float(sp[:, 0].mean()), 3),
                "pixel_mm_range": [round(float(sp[:, 0].min()), 3), round(float(sp[:, 0].max()), 3)],
                "matrix": int(d.get("size", 64)), "frames": 1, "frames_range": [1, 1],
                "slices": int(d.get("slices", 8)), "slice_mm": round(float(sp[:, 2].mean()), 3),
                "slice_mm_range": [round(float(sp[:, 2].min()), 3), round(float(sp[:, 2].max()), 3)],
                "view": "sax", "phases": ["ed", "es"],
                "note": "phantom short-axis stacks (one phase each, ED or ES) on the phantom's own grid, whose pixel "
                        "and slice spacing grow with the subject's size"}

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.heart3d import to_input

        d = config["data"]
        pool = _pool(config, _seeds(d))
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(pool["image"]), size=int(d.get("batch_size", 4)))
        shift = int(d.get("max_shift_px", 2))
        images, labels = [], []
        for i in idx:
            dy, dx = (int(v) for v in rng.integers(-shift, shift + 1, size=2))
            gain = float(rng.uniform(*d.get("gain", (0.9, 1.1))))
            images.append(np.clip((np.roll(pool["image"][i], (dy, dx), axis=(1, 2)) + 1.0) * gain - 1.0, -1.0, 1.5))
            labels.append(np.roll(pool["labels"][i], (dy, dx), axis=(1, 2)))
        labels = np.stack(labels)
        return {"x": to_input(np.stack(images), labels), "labels": torch.from_numpy(labels.astype(np.int64)),
                "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.heart3d import heart_ae_loss

        g = torch.Generator().manual_seed(int(batch["seed"]))
        out = model(batch["x"], generator=g)
        lo = config.get("loss", {})
        return heart_ae_loss(out, batch["x"], batch["labels"], beta=float(lo.get("beta", 1e-4)),
                             mask_weight=float(lo.get("mask_weight", 1.0)))

    def evaluate(self, model: Any, config: dict) -> dict:
        """Held-out subjects at ED and ES through the posterior mean: SSIM, PSNR, and Dice / HD95 / ASSD per class
        (:func:`cardiogen.models.heart3d.reconstruction_metrics`); CPU s per stack (encode + decode)."""
        from ..models.heart3d import reconstruct, reconstruction_metrics

        model = model.cpu().eval()
        seeds = _seeds(config.get("eval", {}), 1000, 4)
        pool = _pool(config, seeds)
        start = time.perf_counter()
        reconstruct(model, pool["image"][:2], pool["labels"][:2], batch=1)
        seconds = (time.perf_counter() - start) / 2
        out = reconstruction_metrics(model, pool["image"], pool["labels"], pool["spacing"])
        return {"heldout_seeds": list(seeds), **out, "timing": {"cpu_s_per_stack": round(seconds, 3)}}

    def describe_data(self, config: dict) -> str:
        from ..models.heart3d import describe

        d = config["data"]
        return describe(_seeds(d), int(d.get("slices", 8)), int(d.get("size", 64)))


def _ae(ae_id: str) -> Any:
    from ..models.heart3d import load_heart_ae

    return load_heart_ae(ae_id)


def _latents(config: dict, seeds: tuple[int, ...]) -> Any:
    """Posterior means ``(N, C, S', h, w)`` of the pool's stacks through the frozen autoencoder ``model.ae_from``."""
    from ..models.heart3d import encode_stacks

    pool = _pool(config, seeds)
    return encode_stacks(_ae(str(config["model"]["ae_from"])), pool["image"], pool["labels"])


@register_spec("heart_ldm")
class HeartLdmSpec:
    """Chapter 5's latent DDPM of whole-heart stacks and masks (3D U-Net with attention, L1 noise loss, DDIM)."""

    name = "heart_ldm"
    pipeline = "heart_3d"

    def build(self, config: dict) -> Any:
        from ..models.heart_ldm import HeartLDM, ldm_config

        d = config["data"]
        ae = _ae(str(config["model"]["ae_from"]))
        model = HeartLDM(ldm_config(config, ae.config, (int(d.get("slices", 8)), int(d.get("size", 64)))))
        model.fit_scale(_latents(config, _seeds(d)))
        return model

    def geometry(self, config: dict) -> dict:
        return HeartAeSpec().geometry(config)

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        d = config["data"]
        lat = _latents(config, _seeds(d))
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(lat), size=int(d.get("batch_size", 16)))
        return {"z0": lat[idx], "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..nets.schedules import diffusion_loss

        inner = getattr(model, "module", model)
        g = torch.Generator().manual_seed(int(batch["seed"]))
        loss = diffusion_loss(model, batch["z0"] / inner.latent_scale, None, g, schedule=inner.schedule(),
                              norm=str(config.get("loss", {}).get("norm", "l1")))
        return loss, {"noise_l1": float(loss.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        """Generated stacks (DDIM, ``eval.steps``): the LV blood and myocardium volumes of the generated masks against
        the held-out subjects' (mean, mL), the agreement of each generated mask with a segmentation of its own
        generated image (Dice of the LV classes, by the short-axis feature network slice by slice), CPU s per stack."""
        from ..metrics.features import load_feature_network
        from ..metrics.segmentation import dice
        from ..models.heart3d import segment_stacks
        from ..models.heart_ldm import generate

        model = model.cpu().eval()
        ev = config.get("eval", {})
        n, steps = int(ev.get("samples", 8)), int(ev.get("steps", 50))
        ae = _ae(str(config["model"]["ae_from"]))
        start = time.perf_counter()
        images, masks = generate(model, ae, n, steps, seed=0)
        seconds = (time.perf_counter() - start) / n
        held = _pool(config, _seeds(ev, 1000, 4))
        voxel_ml = float(np.prod(held["spacing"].mean(0))) / 1000.0
        net = load_feature_network(str(ev.get("features", "cardiac-features-64")))
        seg = segment_stacks(images, net)
        agree = [np.nanmean([dice(seg[k], masks[k], (1, 2))[c] for c in (1, 2)]) for k in range(n)]
        return {"samples": n, "steps": steps, "mask_image_dice": float(np.nanmean(agree)),
                "lv_blood_ml_generated": float((masks == 1).sum(axis=(1, 2, 3)).mean() * voxel_ml),
                "lv_blood_ml_heldout": float((held["labels"] == 1).sum(axis=(1, 2, 3)).mean() * voxel_ml),
                "lv_myo_ml_generated": float((masks == 2).sum(axis=(1, 2, 3)).mean() * voxel_ml),
                "lv_myo_ml_heldout": float((held["labels"] == 2).sum(axis=(1, 2, 3)).mean() * voxel_ml),
                "timing": {"cpu_s_per_stack": round(seconds, 3)}}

    def describe_data(self, config: dict) -> str:
        return HeartAeSpec().describe_data(config) + f"; latents of {config['model']['ae_from']} (frozen)"
