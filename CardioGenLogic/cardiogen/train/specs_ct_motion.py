"""Training specs of seed 004: the 3D PWC-Net flow estimator (``ct_flow``) and the flow CVAE (``ct_cvae``).

Both learn from phantom ES/ED CT pairs with their exact flow (:func:`cardiogen.phantom.ct_motion_pair`: a seeded
population with varied anatomy, size, pose, position in the field of view and contrast timing), on a ``data.size``³
grid whose field of view fits the heart. Held-out evaluation subjects start at seed ``eval.first_seed`` (1000).

* ``ct_flow`` — supervised: the multi-scale endpoint error against the exact flow, voxels of the moving heart
  weighted ``data.heart_weight`` times the rest (the static body's flow is 0 and easy); augmentation: random flips
  (image axes flipped, the flow's component negated) and intensity noise.
* ``ct_cvae`` — the CVAE conditioned on the ES volume's features from the frozen pyramid of a trained ``ct_flow``
  model (``model.pyramid_from``, a registry id); the seed's augmentations (intensity noise of variance 0.015, shifts,
  zoom 0.9-1.1, applied consistently to image and flow), reconstruction + KL; the seed clips gradients at 0.75
  (``train.grad_clip``).
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from . import register_spec, seed_range


def _seeds(d: dict) -> tuple[int, ...]:
    return seed_range(d, 0, 24)


def _eval_seeds(config: dict) -> tuple[int, ...]:
    return seed_range(config.get("eval", {}), 1000, 4)


def _pool(config: dict, seeds: tuple[int, ...] | None = None) -> tuple:
    from ..models.ct_motion import phantom_pair_pool

    d = config["data"]
    return phantom_pair_pool(seeds if seeds is not None else _seeds(d), int(d.get("size", 48)))


def _training_pool(config: dict) -> tuple:
    """The pairs a ``ct_flow`` run draws from: the phantom pairs, plus ``data.synthetic_per_real`` CVAE-generated pairs
    per phantom ES volume when ``data.synthetic_from`` names a registered ``ct_cvae`` model (the seed's proposed
    use: synthetic ES/ED pairs with exact flow as extra training data)."""
    d = config["data"]
    real = _pool(config)
    if not d.get("synthetic_from"):
        return real
    return real + synthetic_pair_pool(str(d["synthetic_from"]), _seeds(d), int(d.get("size", 48)),
                                      int(d.get("synthetic_per_real", 1)), int(d.get("synthetic_seed", 0)))


@functools.lru_cache(maxsize=2)
def synthetic_pair_pool(cvae_id: str, seeds: tuple[int, ...], size: int, per_real: int, seed: int) -> tuple:
    """CVAE-generated pairs for the phantom ES volumes of ``seeds``: for each, ``per_real`` flows sampled from the
    prior, the ES warped by each into a synthetic ED, the ES heart mask carried along (nearest) as the ED mask;
    entries like :func:`cardiogen.models.ct_motion.phantom_pair_pool`'s (``synthetic: True``)."""
    import torch

    from ..models.ct_motion import generate_flows, load_cvae, phantom_pair_pool
    from ..nets.warp import warp

    model = load_cvae(cvae_id)
    out = []
    for p in phantom_pair_pool(seeds, size):
        flows, eds = generate_flows(model, p["es"], per_real, seed=seed * 100003 + p["seed"])
        es_mask = (np.isin(p["es_labels"], (1, 2, 3, 4))).astype(np.float32)[None, None]
        for f, ed in zip(flows, eds):
            with torch.no_grad():
                m = warp(torch.from_numpy(es_mask), torch.from_numpy(f[None]), mode="nearest")[0].numpy()
            out.append({"es": p["es"], "ed": ed[None].astype(np.float32), "flow": f.astype(np.float32), "mask": m,
                        "spacing_mm": p["spacing_mm"], "seed": p["seed"], "synthetic": True})
    return tuple(out)


def _geometry(config: dict) -> dict:
    """Registry geometry: the CT grid's voxel (median and range over the training subjects) and matrix."""
    pool = _pool(config)
    sp = [p["spacing_mm"] for p in pool]
    n = int(config["data"].get("size", 48))
    return {"pixel_mm": round(float(np.median(sp)), 3), "pixel_mm_range": [round(float(min(sp)), 3),
                                                                          round(float(max(sp)), 3)],
            "matrix": n, "frames": None, "frames_range": None,
            "note": f"phantom cardiac CT, {n}^3 isotropic voxels over a field of view that fits the heart; the "
                    "ct_motion pipeline resamples a CT to the median voxel around its heart and the flow back"}


def _describe(config: dict, what: str) -> str:
    s = _seeds(config["data"])
    ev = _eval_seeds(config)
    return (f"CardioGen phantom CT ES/ED pairs ({what}), subjects {s[0]}-{s[-1]} (varied anatomy, size, pose, position "
            f"and contrast timing), {int(config['data'].get('size', 48))}^3 voxels, exact flow; held out "
            f"{ev[0]}-{ev[-1]}")


def _flip(batch: list[np.ndarray], flows: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Flip every array along random spatial axes; flow arrays (indices in ``flows``) negate that axis' component."""
    out = [b.copy() for b in batch]
    for axis_xyz in range(3):
        if rng.random() < 0.5:
            arr_axis = 3 - axis_xyz  # (c, z, y, x): x is axis 3
            for i in range(len(out)):
                out[i] = np.flip(out[i], axis=arr_axis).copy()
                if i in flows:
                    out[i][axis_xyz] *= -1.0
    return out


@register_spec("ct_flow")
class CtFlowSpec:
    """3D PWC-Net trained on phantom ED→ES pairs with their exact flow."""

    name = "ct_flow"
    pipeline = "ct_flow"

    def build(self, config: dict) -> Any:
        from ..nets.pwc3d import PWC3DConfig, PWCFlow3D

        return PWCFlow3D(PWC3DConfig.from_dict(config.get("model", {})))

    def geometry(self, config: dict) -> dict:
        return _geometry(config)

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        d = config["data"]
        pool = _training_pool(config)
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        items = []
        for i in rng.integers(0, len(pool), size=int(d.get("batch_size", 2))):
            p = pool[int(i)]
            ed, es, flow, mask = _flip([p["ed"], p["es"], p["flow"], p["mask"]], [2], rng)
            noise = float(d.get("noise", 0.02))
            ed = ed + noise * rng.standard_normal(ed.shape).astype(np.float32)
            es = es + noise * rng.standard_normal(es.shape).astype(np.float32)
            items.append((ed, es, flow, mask))
        stack = lambda k: torch.from_numpy(np.stack([it[k] for it in items]).astype(np.float32))  # noqa: E731
        return {"ed": stack(0), "es": stack(1), "flow": stack(2), "mask": stack(3)}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        from ..nets.pwc3d import multiscale_epe

        full, levels = model(batch["ed"], batch["es"], all_levels=True)
        weight = 1.0 + float(config["data"].get("heart_weight", 4.0)) * batch["mask"]
        loss, logs = multiscale_epe(full, levels, batch["flow"], mask=weight)
        return loss, logs

    def evaluate(self, model: Any, config: dict) -> dict:
        """mEPE (voxels and mm) in the moving heart and over the whole volume on held-out subjects; CPU s per pair."""
        from ..models.ct_motion import estimate_flow, flow_epe

        model = model.cpu().eval()
        seeds = _eval_seeds(config)
        rows, seconds = [], []
        for p in _pool(config, seeds):
            start = time.perf_counter()
            f = estimate_flow(model, p["ed"], p["es"])
            seconds.append(time.perf_counter() - start)
            m = p["mask"][0] > 0
            rows.append((flow_epe(f, p["flow"], m), flow_epe(f, p["flow"]), p["spacing_mm"]))
        r = np.array(rows)
        return {"heldout_seeds": list(seeds), "mepe_heart_vox": float(r[:, 0].mean()),
                "mepe_heart_mm": float((r[:, 0] * r[:, 2]).mean()), "mepe_all_vox": float(r[:, 1].mean()),
                "timing": {"cpu_s_per_pair": round(float(np.mean(seconds)), 3)}}

    def describe_data(self, config: dict) -> str:
        d = config["data"]
        extra = (f", plus {int(d.get('synthetic_per_real', 1))} pairs per subject generated by {d['synthetic_from']}"
                 if d.get("synthetic_from") else "")
        return _describe(config, "ED -> ES flow, supervised") + extra


@register_spec("ct_cvae")
class CtCvaeSpec:
    """The seed's CVAE of flow fields, conditioned on the ES volume through a frozen ``ct_flow`` pyramid."""

    name = "ct_cvae"
    pipeline = "ct_motion"

    def build(self, config: dict) -> Any:
        from ..models.flow_cvae import FlowCVAE, FlowCVAEConfig
        from ..nets.pwc3d import PWC3DConfig, PWCFlow3D
        from ..weights import Registry

        m = config.get("model", {})
        source = m.get("pyramid_from")
        if not source:
            raise ValueError("ct_cvae needs model.pyramid_from: the registry id of a trained ct_flow model")
        entry = Registry().get(str(source))
        flow_net = PWCFlow3D(PWC3DConfig.from_dict(entry.config.get("model", {})))
        flow_net.load_state_dict(Registry().load_state_dict(entry.id))
        cfg = FlowCVAEConfig.from_dict({**m, "pyramid_channels": list(flow_net.config.channels)})
        model = FlowCVAE(cfg, flow_net.pyramid)
        model.pyramid_sha256 = entry.sha256
        return model

    def parameters(self, model: Any) -> Any:
        return model.trainable_parameters()

    def finalize(self, model: Any, config: dict) -> None:
        """Fit the aggregated posterior of the training pairs (the sampling prior, :meth:`FlowCVAE.fit_latent_prior`)."""
        import torch

        pool = _pool(config)
        model.cpu().eval()
        model.fit_latent_prior([torch.from_numpy(p["flow"][None]) for p in pool],
                               [torch.from_numpy(p["es"][None]) for p in pool])

    def geometry(self, config: dict) -> dict:
        return _geometry(config)

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.flow_cvae import augment_pair

        d = config["data"]
        aug = d.get("augment", {})
        pool = _pool(config)
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(pool), size=int(d.get("batch_size", 2)))
        # masks: the moving heart and the LV myocardium at ED (label 2), moved with the pair by flips and augmentation
        masks = [np.concatenate([pool[int(i)]["mask"], (pool[int(i)]["ed_labels"] == 2)[None].astype(np.float32)])
                 for i in idx]
        flipped = [_flip([pool[int(i)]["es"], pool[int(i)]["flow"], m], [1], rng) for i, m in zip(idx, masks)]
        es = torch.from_numpy(np.stack([f[0] for f in flipped]))
        flow = torch.from_numpy(np.stack([f[1] for f in flipped]))
        mask = torch.from_numpy(np.stack([f[2] for f in flipped]))
        es, flow, mask = augment_pair(es, flow, rng, noise_var=float(aug.get("noise_var", 0.015)),
                                      max_shift_vox=float(aug.get("max_shift_vox", 4.0)),
                                      zoom=tuple(aug.get("zoom", (0.9, 1.1))), mask=mask)
        return {"es": es, "flow": flow, "mask": mask[:, :1], "myo": mask[:, 1:], "seed": int(rng.integers(2**31))}

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch

        from ..models.flow_cvae import cvae_loss

        g = torch.Generator().manual_seed(int(batch["seed"]))
        flow_hat, mu, logvar = model(batch["flow"], batch["es"], generator=g)
        m = config.get("model", {})
        weight = 1.0 + float(config["data"].get("heart_weight", 4.0)) * batch["mask"]
        return cvae_loss(flow_hat, batch["flow"], mu, logvar, rec_weight=float(m.get("rec_weight", 1.0)),
                         kl_weight=float(m.get("kl_weight", 1e-3)), mask=weight, myo=batch.get("myo"),
                         volume_weight=float(m.get("volume_weight", 0.0)))

    def evaluate(self, model: Any, config: dict) -> dict:
        """On held-out subjects: reconstruction mEPE (posterior mean) in the heart and overall (voxels, mm); of 4
        prior samples per subject: spread (mean pairwise EPE in the heart), folding (fraction of heart voxels with
        det(I + ∇f) <= 0), EF error, the largest LV myocardium volume change ES -> synthetic ED; CPU s per sample."""
        import torch

        from ..models.ct_motion import (flow_epe, generate_flows, jacobian_determinant, lv_ejection_fraction,
                                        myocardium_volume_change)

        model = model.cpu().eval()
        seeds = _eval_seeds(config)
        rec, rec_all, spread, fold, seconds, ef_err, myo = [], [], [], [], [], [], []
        for p in _pool(config, seeds):
            es, flow = torch.from_numpy(p["es"][None]), torch.from_numpy(p["flow"][None])
            m = p["mask"][0] > 0
            with torch.inference_mode():
                mu, _ = model.encode(flow, es)
                f_hat = model.decode(mu, es)[0].numpy()
            rec.append((flow_epe(f_hat, p["flow"], m), p["spacing_mm"]))
            rec_all.append(flow_epe(f_hat, p["flow"]))
            start = time.perf_counter()
            flows, _ = generate_flows(model, p["es"], 4, seed=p["seed"])
            seconds.append((time.perf_counter() - start) / 4)
            spread.append(np.mean([flow_epe(flows[i], flows[j], m) for i in range(4) for j in range(i + 1, 4)]))
            fold.append(np.mean([float((jacobian_determinant(f)[m] <= 0).mean()) for f in flows]))
            true_ef = lv_ejection_fraction(p["es_labels"], p["flow"])
            ef_err.append(np.mean([abs(lv_ejection_fraction(p["es_labels"], f) - true_ef) for f in flows]))
            myo.append(max(abs(myocardium_volume_change(p["es_labels"], f)) for f in flows))
        r = np.array(rec)
        return {"heldout_seeds": list(seeds), "recon_mepe_heart_vox": float(r[:, 0].mean()),
                "recon_mepe_heart_vox_sd": float(r[:, 0].std()), "recon_mepe_heart_mm": float((r[:, 0] * r[:, 1]).mean()),
                "recon_mepe_all_vox": float(np.mean(rec_all)), "sample_spread_heart_vox": float(np.mean(spread)),
                "sample_folding_fraction": float(np.mean(fold)), "sample_ef_abs_error": float(np.mean(ef_err)),
                "sample_myo_volume_change_max": float(np.max(myo)),
                "sample_prior": "aggregate posterior" if model.has_latent_prior else "N(0, I)",
                "pyramid_sha256": getattr(model, "pyramid_sha256", None),
                "timing": {"cpu_s_per_sample": round(float(np.mean(seconds)), 3)}}

    def describe_data(self, config: dict) -> str:
        return _describe(config, "flow CVAE conditioned on the ES volume")
