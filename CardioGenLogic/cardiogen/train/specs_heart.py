"""Training specs of seed 001's whole-heart latent diffusion (chapters 5-6): the image + mask autoencoder
(``heart_ae``).

* ``heart_ae`` — chapter 5's VAE with 3D convolutions and 3D attention at the bottleneck (``model.mid_attention``) on
  phantom short-axis stacks at end-diastole and end-systole (:func:`cardiogen.models.heart3d.stack_pool`), image and
  one-hot mask in the channels; each step takes random stacks with a random intensity gain and a small in-plane shift
  (image and mask together); L1 on the image + cross-entropy of the mask + β·KL (``loss.beta``, the seed's 1e-4).
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from . import register_spec
from .gan import DiscriminatorOptimiser
from . import seed_range as _seeds


def _pool(config: dict, seeds: tuple[int, ...]) -> dict:
    """Stacks ``(N, S, H, W)`` with labels and spacing: ED and ES on the phantom's own grid, or (``data.cycle``) every
    frame of the cycle on the 4D model's fixed grid (:func:`cardiogen.models.heart4d.cycle_pool`)."""
    from ..models.heart3d import stack_pool

    d = config["data"]
    if d.get("cycle"):
        from ..models.heart4d import cycle_pool, grid_of

        pool = cycle_pool(seeds, tuple(grid_of(config).items()))
        n, t = pool["image"].shape[:2]
        return {"image": pool["image"].reshape(n * t, *pool["image"].shape[2:]),
                "labels": pool["labels"].reshape(n * t, *pool["labels"].shape[2:]),
                "spacing": np.repeat(pool["spacing"], t, axis=0), "seed": np.repeat(pool["seed"], t)}
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
        if d.get("cycle"):  # one fixed grid: nothing to read from the subjects
            from ..models.heart4d import grid_of

            g = grid_of(config)
            return {"pixel_mm": g["pixel_mm"], "pixel_mm_range": [g["pixel_mm"], g["pixel_mm"]], "matrix": g["size"],
                    "frames": g["frames"], "frames_range": [g["frames"], g["frames"]], "slices": g["slices"],
                    "slice_mm": g["slice_mm"], "slice_mm_range": [g["slice_mm"], g["slice_mm"]], "view": "sax",
                    "phases": "every frame of the cycle",
                    "note": "phantom short-axis stacks on one fixed grid (a bigger heart is bigger in the image)"}
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
        if d.get("cycle"):
            from ..models.heart4d import describe_cycles, grid_of

            return describe_cycles(_seeds(d), grid_of(config))
        return describe(_seeds(d), int(d.get("slices", 8)), int(d.get("size", 64)))


def _ae(ae_id: str) -> Any:
    from ..models.heart3d import load_heart_ae

    return load_heart_ae(ae_id)


def _latents(config: dict, seeds: tuple[int, ...]) -> Any:
    """Posterior means ``(N, C, S', h, w)`` of the pool's stacks through the frozen autoencoder ``model.ae_from``
    (computed once per autoencoder, subjects and grid: every training step draws from them)."""
    d = config["data"]
    return _stack_latents(str(config["model"]["ae_from"]), tuple(seeds), int(d.get("slices", 8)),
                          int(d.get("size", 64)))


@functools.lru_cache(maxsize=2)
def _stack_latents(ae_id: str, seeds: tuple[int, ...], slices: int, size: int) -> Any:
    from ..models.heart3d import encode_stacks, stack_pool

    pool = stack_pool(seeds, slices, size)
    return encode_stacks(_ae(ae_id), pool["image"], pool["labels"])


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


@functools.lru_cache(maxsize=2)
def _cycle_latents(ae_id: str, seeds: tuple[int, ...], grid_items: tuple) -> Any:
    """Packed posterior-mean latents ``(N, C·S', T, h, w)`` of the subjects' cycles and their conditions
    ``(N, F, 2)``, through the frozen autoencoder ``ae_id``."""
    from ..models.heart4d import cycle_pool, encode_cycles

    pool = cycle_pool(seeds, grid_items)
    return encode_cycles(_ae(ae_id), pool["image"], pool["labels"]), pool["cond"]


def _cycle_data(config: dict, seeds: tuple[int, ...]) -> Any:
    from ..models.heart4d import grid_of

    return _cycle_latents(str(config["model"]["ae_from"]), seeds, tuple(grid_of(config).items()))


@register_spec("heart_4d")
class Heart4dSpec:
    """Chapter 6's conditional 4D latent DDPM: the per-frame latents of the frozen cycle autoencoder stacked over the
    cycle, a 3D U-Net with self-attention and cross-attention to the demographic encoder's tokens, the L1 noise loss;
    classifier-free dropout of the whole profile (``data.drop_all``) and of single factors (``data.drop_each``)."""

    name = "heart_4d"
    pipeline = "heart_4d"

    def build(self, config: dict) -> Any:
        from ..models.heart4d import Heart4DLDM, grid_of, model_config

        ae = _ae(str(config["model"]["ae_from"]))
        model = Heart4DLDM(model_config(config, ae.config, grid_of(config)))
        model.fit_scale(_cycle_data(config, _seeds(config["data"]))[0])
        return model

    def geometry(self, config: dict) -> dict:
        return HeartAeSpec().geometry({**config, "data": {**config["data"], "cycle": True}})

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        d = config["data"]
        lat, cond = _cycle_data(config, _seeds(d))
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(lat), size=int(d.get("batch_size", 16)))
        return {"z0": lat[idx], "cond": cond[idx], "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.heart4d import drop_conditions
        from ..nets.schedules import diffusion_loss

        inner = getattr(model, "module", model)
        d = config["data"]
        g = torch.Generator().manual_seed(int(batch["seed"]))
        cond = drop_conditions(batch["cond"], g, float(d.get("drop_all", 0.1)), float(d.get("drop_each", 0.1)))
        loss = diffusion_loss(model, batch["z0"] / inner.latent_scale, {"cond": cond}, g, schedule=inner.schedule(),
                              norm=str(config.get("loss", {}).get("norm", "l1")))
        return loss, {"noise_l1": float(loss.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        """Two profiles of the held-out population (a small woman and a large man), ``eval.samples`` cycles each
        (DDIM ``eval.steps``): LVEDV and LV mass of the generated masks against the phantom's for the same
        profiles; CPU s per cycle."""
        from ..models.heart4d import cycle_phenotypes, generate, grid_of, profile_population

        model = model.cpu().eval()
        ev = config.get("eval", {})
        n, steps = int(ev.get("samples", 4)), int(ev.get("steps", 25))
        ae = _ae(str(config["model"]["ae_from"]))

        grid = grid_of(config)
        spacing = (grid["pixel_mm"], grid["pixel_mm"], grid["slice_mm"])
        out = {}
        profiles = {"small woman": dict(age=60, sex="F", height_cm=155, weight_kg=55, sbp=120, dbp=75),
                    "large man": dict(age=45, sex="M", height_cm=190, weight_kg=100, sbp=150, dbp=90)}
        seconds = 0.0
        for name, prof in profiles.items():
            start = time.perf_counter()
            _, masks = generate(model, ae, [prof] * n, steps, seed=0)
            seconds += time.perf_counter() - start
            gen = [cycle_phenotypes(m, spacing) for m in masks]
            ref = profile_population(prof, range(n), grid)
            out[name] = {k: {"generated": float(np.nanmean([g[k] for g in gen])),
                             "phantom": float(np.nanmean(ref[k]))} for k in ("lvedv_ml", "lv_mass_g")}
        return {"samples": n, "steps": steps, **out,
                "timing": {"cpu_s_per_cycle": round(seconds / (2 * n), 3)}}

    def describe_data(self, config: dict) -> str:
        from ..models.heart4d import describe_cycles, grid_of

        return (describe_cycles(_seeds(config["data"]), grid_of(config))
                + f"; latents of {config['model']['ae_from']} (frozen)")


def _latent_gan_step(spec: Any, model: Any, z: Any, cond: Any, g: Any, config: dict) -> tuple[Any, dict]:
    """One least-squares GAN step of a :class:`~cardiogen.models.heart4d_baselines.LatentCGAN`: the discriminator's
    update (:meth:`~cardiogen.train.gan.DiscriminatorOptimiser.d_step`), then the generator's loss through the
    updated discriminator (the training loop steps the generator)."""
    d_loss = model.d_loss(z, cond, g)
    spec.d_step(model, config, d_loss)
    g_loss = model.g_loss(cond, g)
    return g_loss, {"g_loss": float(g_loss.detach()), "d_loss": float(d_loss.detach())}


class _LatentBaselineSpec:
    """What figure 6.2's latent baselines share: the heart_4d data (scaled packed latents and conditions, single
    factors dropped with ``data.drop_each``), geometry and description. Registered under their own pipeline name
    (benchmark baselines, not weights the heart_4d pipeline can load)."""

    pipeline = "heart_4d_baseline"

    def _config(self, config: dict) -> Any:
        from ..models.heart4d import grid_of, model_config
        from ..models.heart4d_baselines import LatentBaselineConfig

        ae = _ae(str(config["model"]["ae_from"]))
        grid = model_config(config, ae.config, grid_of(config))
        return LatentBaselineConfig.from_dict({**config.get("model", {}), "latent_channels": grid.latent_channels,
                                               "frames": grid.frames, "size": grid.size})

    def _fit_scale(self, model: Any, config: dict) -> Any:
        import torch

        with torch.no_grad():
            model.latent_scale.copy_(_cycle_data(config, _seeds(config["data"]))[0].float().std().clamp_min(1e-6))
        return model

    def geometry(self, config: dict) -> dict:
        return Heart4dSpec().geometry(config)

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        return Heart4dSpec().batch(config, step, rank, world)

    def _inputs(self, model: Any, batch: Any, config: dict) -> tuple:
        import torch

        from ..models.heart4d import drop_conditions

        inner = getattr(model, "module", model)
        g = torch.Generator().manual_seed(int(batch["seed"]))
        cond = drop_conditions(batch["cond"], g, 0.0, float(config["data"].get("drop_each", 0.1)))
        return batch["z0"] / inner.latent_scale, cond, g

    def evaluate(self, model: Any, config: dict) -> dict:
        """Mean LVEDV of 4 generated cycles of a held-out profile (the benchmark compares the methods in full)."""
        from ..models.heart4d import cycle_phenotypes, decode_cycles, grid_of
        from ..models.heart4d_baselines import sample_baseline

        model = model.cpu().eval()
        grid = grid_of(config)
        prof = dict(age=55, sex="M", height_cm=176, weight_kg=84, sbp=135, dbp=82)
        _, masks = decode_cycles(_ae(str(config["model"]["ae_from"])), sample_baseline(model, [prof] * 4))
        ph = np.asarray([cycle_phenotypes(m, (grid["pixel_mm"], grid["pixel_mm"], grid["slice_mm"]))["lvedv_ml"]
                         for m in masks])
        ph = ph[np.isfinite(ph)]  # a cycle without an LV blood pool has no LVEDV
        return {"lvedv_ml_generated": float(ph.mean()) if ph.size else None, "cycles_with_lv": int(ph.size)}

    def describe_data(self, config: dict) -> str:
        return Heart4dSpec().describe_data(config)


@register_spec("heart_4d_cvae")
class Heart4dCvaeSpec(_LatentBaselineSpec):
    """Figure 6.2's CVAE baseline in the heart_4d latent space (MSE + β·KL)."""

    name = "heart_4d_cvae"

    def build(self, config: dict) -> Any:
        from ..models.heart4d_baselines import LatentCVAE

        return self._fit_scale(LatentCVAE(self._config(config)), config)

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        z, cond, g = self._inputs(model, batch, config)
        return getattr(model, "module", model).loss(z, cond, g)


@register_spec("heart_4d_cgan")
class Heart4dCganSpec(DiscriminatorOptimiser, _LatentBaselineSpec):
    """Figure 6.2's conditional GAN baseline in the heart_4d latent space (least-squares loss, alternating steps)."""

    name = "heart_4d_cgan"

    def build(self, config: dict) -> Any:
        from ..models.heart4d_baselines import LatentCGAN

        return self._fit_scale(LatentCGAN(self._config(config)), config)

    def parameters(self, model: Any):
        return model.generator_parameters()

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        z, cond, g = self._inputs(model, batch, config)
        return _latent_gan_step(self, model, z, cond, g, config)


@register_spec("heart_lsgan")
class HeartLsganSpec(DiscriminatorOptimiser):
    """Table 5.1's 3D LSGAN baseline for heart_ldm: a least-squares GAN (no condition: every factor missing) on the
    same frozen autoencoder's latents of the same stacks, with the LDM's budget; decoded by the same decoder."""

    name = "heart_lsgan"
    pipeline = "heart_3d_lsgan"

    def build(self, config: dict) -> Any:
        import torch

        from ..models.heart4d_baselines import LatentCGAN, stack_gan_config

        ae = _ae(str(config["model"]["ae_from"]))
        d = config["data"]
        model = LatentCGAN(stack_gan_config(config.get("model", {}), ae.config, d.get("slices", 8), d.get("size", 64)))
        with torch.no_grad():
            model.latent_scale.copy_(_latents(config, _seeds(d)).float().std().clamp_min(1e-6))
        return model

    def geometry(self, config: dict) -> dict:
        return HeartAeSpec().geometry(config)

    def parameters(self, model: Any):
        return model.generator_parameters()

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        return HeartLdmSpec().batch(config, step, rank, world)

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.heart4d import FACTORS

        inner = getattr(model, "module", model)
        z = batch["z0"] / inner.latent_scale
        cond = torch.zeros((len(z), len(FACTORS), 2))
        g = torch.Generator().manual_seed(int(batch["seed"]))
        return _latent_gan_step(self, model, z, cond, g, config)

    def evaluate(self, model: Any, config: dict) -> dict:
        """Mean LV blood volume of 8 generated stacks (the benchmark compares the methods in full)."""
        from ..models.heart3d import decode_stacks
        from ..models.heart4d_baselines import sample_baseline

        model = model.cpu().eval()
        _, masks = decode_stacks(_ae(str(config["model"]["ae_from"])), sample_baseline(model, [None] * 8))
        held = _pool(config, _seeds(config.get("eval", {}), 1000, 4))
        voxel_ml = float(np.prod(held["spacing"].mean(0))) / 1000.0
        return {"lv_blood_ml_generated": float((masks == 1).sum(axis=(1, 2, 3)).mean() * voxel_ml)}

    def describe_data(self, config: dict) -> str:
        return HeartLdmSpec().describe_data(config)
