"""Training spec of the GANcMRI StyleGAN2 frame generator (``cardiogen train stylegan2``; pipeline "latent_video").

Data (config ``data``): phantom four-chamber cine (:func:`cardiogen.models.gancmri.lax_video_pool`), ``cases``
seeds from ``first_seed``, ``frames`` frames each (50 as in seed 002); every batch item is one frame drawn uniformly
over cases and frames. Held-out evaluation uses seeds from ``eval.first_seed`` (1000).

One training step (StyleGAN2, Karras et al. 2020, config F without the fused ops):

1. G_ema ← lerp(G, G_ema, β) with β = 0.5^(batch / ema_half_life_images);
2. discriminator: logistic loss on real and G(z) frames; every ``r1_every`` steps + (γ/2)·R1·r1_every (lazy R1);
   its own Adam (betas 0, 0.99), checkpointed with the run (``extra_state``); gradients all-reduced under DDP;
3. generator (the training loop's optimiser and DDP wrapper): non-saturating loss with style mixing (probability
   ``style_mixing_prob``); every ``pl_every`` steps + pl_weight·pl_every·path-length penalty on half the batch.

Batches (frames, latents, mixing) are a pure function of (train.seed, step, rank), so resumed runs match.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from . import register_spec
from .gan import DiscriminatorOptimiser


@register_spec("stylegan2")
class StyleGAN2Spec(DiscriminatorOptimiser):
    name = "stylegan2"
    pipeline = "latent_video"

    def _data(self, config: dict) -> dict:
        d = config["data"]
        first = int(d.get("first_seed", 0))
        return {"seeds": tuple(range(first, first + int(d.get("cases", 64)))), "size": int(d.get("size", 64)),
                "frames": int(d.get("frames", 50)), "batch_size": int(d.get("batch_size", 16)),
                "pixel_mm": None if d.get("pixel_mm") is None else float(d["pixel_mm"])}

    def _reg(self, config: dict) -> dict:
        r = config.get("regularisation", {})
        return {"r1_gamma": float(r.get("r1_gamma", 1.0)), "r1_every": int(r.get("r1_every", 16)),
                "pl_weight": float(r.get("pl_weight", 2.0)), "pl_every": int(r.get("pl_every", 4)),
                "ema_half_life_images": float(r.get("ema_half_life_images", 2000.0)),
                "style_mixing_prob": float(r.get("style_mixing_prob", 0.9))}

    def build(self, config: dict) -> Any:
        from ..models.gancmri import build_gancmri

        m = dict(config["model"])
        m.setdefault("resolution", self._data(config)["size"])
        return build_gancmri(m)

    def parameters(self, model: Any):
        return model.generator_parameters()

    def d_betas_for(self, config: dict) -> tuple:
        """StyleGAN2's Adam betas (0, 0.99) unless ``train.betas`` says otherwise (both networks use them)."""
        return tuple(float(b) for b in config["train"].get("betas", (0.0, 0.99)))

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.gancmri import lax_video_pool

        d, reg = self._data(config), self._reg(config)
        pool = lax_video_pool(d["seeds"], d["size"], d["frames"], d["pixel_mm"])
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        n = d["batch_size"]
        vi = rng.integers(0, pool["video"].shape[0], n)
        ti = rng.integers(0, pool["video"].shape[1], n)
        real = torch.from_numpy(pool["video"][vi, ti])[:, None]
        z_dim = int(config["model"].get("z_dim", 128))
        z = torch.from_numpy(rng.standard_normal((n, z_dim))).float()
        mix = torch.from_numpy(rng.standard_normal((n, z_dim))).float() if rng.random() < reg["style_mixing_prob"] \
            else None
        return {"real": real, "z": z, "mix_z": mix, "step": step, "seed": int(rng.integers(0, 2**31 - 1))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..nets.stylegan2 import r1_penalty

        inner = getattr(model, "module", model)
        reg = self._reg(config)
        step, real, z, mix = batch["step"], batch["real"], batch["z"], batch["mix_z"]
        gen = torch.Generator().manual_seed(int(batch["seed"]))
        inner.update_ema(0.5 ** (real.shape[0] / max(reg["ema_half_life_images"], 1.0)))
        # discriminator step
        opt = self.d_optimiser(inner, config)
        d_loss = inner.discriminator_loss(real, z, mix, generator=gen)
        d_total = d_loss
        logs = {"d_loss": float(d_loss.detach())}
        if reg["r1_gamma"] > 0 and step % reg["r1_every"] == 0:
            r1 = r1_penalty(inner.D, real)
            d_total = d_total + 0.5 * reg["r1_gamma"] * reg["r1_every"] * r1
            logs["r1"] = float(r1.detach())
        opt.zero_grad(set_to_none=True)
        d_total.backward()
        _all_reduce_grads(inner.discriminator_parameters())
        opt.step()
        for p in inner.discriminator_parameters():  # keep D out of the generator step that follows
            p.grad = None
        # generator step (through the DDP wrapper when distributed)
        g_loss = model(z, mix, phase="G", generator=gen)
        logs["g_loss"] = float(g_loss.detach())
        total = g_loss
        if reg["pl_weight"] > 0 and step % reg["pl_every"] == 0:
            half = max(1, z.shape[0] // 2)
            ws = inner.G.broadcast(inner.G.mapping(z[:half]))
            pl = inner.pl(inner.G.synthesis, ws, generator=gen)
            total = total + reg["pl_weight"] * reg["pl_every"] * pl
            logs["path_length_penalty"] = float(pl.detach())
        return total, logs

    def evaluate(self, model: Any, config: dict) -> dict:
        """cFID (four-chamber feature network, when registered) of G_ema frames vs held-out phantom frames; time."""
        import torch

        from ..models.gancmri import lax_video_pool

        ev = config.get("eval", {})
        d = self._data(config)
        first = int(ev.get("first_seed", 1000))
        pool = lax_video_pool(tuple(range(first, first + int(ev.get("cases", 8)))), d["size"], d["frames"],
                              d["pixel_mm"])
        real = pool["video"].reshape(-1, d["size"], d["size"])
        n = int(ev.get("samples", 400))
        g = model.G_ema.cpu().eval()
        gen = torch.Generator().manual_seed(1234)
        start = time.time()
        with torch.no_grad():
            z = torch.randn(n, g.cfg.z_dim, generator=gen)
            fake = torch.cat([g(z[i:i + 50], noise_mode="none") for i in range(0, n, 50)])[:, 0].numpy()
        seconds = (time.time() - start) / n
        out = {"heldout_seeds": [first, first + int(ev.get("cases", 8)) - 1], "samples": n,
               "timing": {"cpu_s_per_frame": round(seconds, 5)}}
        weights = ev.get("feature_weights", "cardiac-features-lax-64")
        if weights in (None, "none"):
            out["cfid_lax_vs_heldout"] = "not computed (eval.feature_weights: none)"
            return out
        try:
            from ..metrics.features import cardiac_fid, load_feature_network

            net = load_feature_network(weights)
            idx = np.random.default_rng(0).choice(len(real), min(n, len(real)), replace=False)
            out["cfid_lax_vs_heldout"] = round(cardiac_fid(fake, real[idx], net), 3)
            half = len(idx) // 2
            out["cfid_lax_heldout_half_vs_half"] = round(cardiac_fid(real[idx[:half]], real[idx[half:]], net), 3)
        except Exception as exc:  # noqa: BLE001 - the metric network is optional here
            out["cfid_lax_vs_heldout"] = f"not computed: {exc}"
        return out

    def describe_data(self, config: dict) -> str:
        d = self._data(config)
        return (f"CardioGen phantom four-chamber long-axis cine frames, seeds {d['seeds'][0]}-{d['seeds'][-1]}, "
                f"{d['size']}x{d['size']} px at {d['pixel_mm']} mm, {d['frames']} frames per case (held-out evaluation seeds from 1000)")


def _all_reduce_grads(params) -> None:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world
