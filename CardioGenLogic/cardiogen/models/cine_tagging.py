"""Cine <-> tagging translation with the smcVAE (seed 001, chapter 4): paired phantom data, the loss, the seed's
table 4.1 scenarios per region and its central claim (strain tracked on tagging synthesised from cine agrees with
strain on the true tagging, figure 4.8).

Data (:func:`paired_pool`): every phantom short-axis slice with a usable LV ring gives one pair, the cine and the
SPAMM tagging of the same slice and cardiac phases (the phantom renders both from one heart), cropped to the same
``crop`` pixels around the LV (the landmarks' centroid at end-diastole, as the tag tracker's crops), each normalised
to [0, 1] (1st-99th percentile of the sequence, clipped); with the exact landmark tracks and the slice's region
(apical, mid or basal third of the usable slices). The network sees [-1, 1] (:func:`to_model`).

Loss (:func:`smcvae_loss`, the seed's eq. 4.1): for each channel c, a latent drawn from ``q(s | x_c)`` decodes
every channel; Gaussian likelihood (``noise_sd``) of all of them, averaged over c, plus the sparse KL
(:func:`cardiogen.nets.smcvae.sparse_kl`); both per pixel.
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from ..errors import CardioGenInputError
from .tag_tracking import DEFAULT_FRACTIONS, STRAIN_CURVES, crop_sequence, slice_tracks, strain_of_tracks, track

REGIONS = ("apical", "mid", "basal")
#: (scenario, inputs, output) of the seed's table 4.1.
SCENARIOS = (("reconstruction tagging", ("cine", "tagging"), "tagging"),
             ("reconstruction cine", ("cine", "tagging"), "cine"),
             ("cine to tagging", ("cine",), "tagging"),
             ("tagging to cine", ("tagging",), "cine"))


def to_model(x: Any) -> Any:
    """[0, 1] sequences -> the network's [-1, 1] (clipped)."""
    return 2.0 * x.clip(0.0, 1.0) - 1.0


def from_model(y: Any) -> Any:
    return 0.5 * (y + 1.0)


def regions_of(heights: list[float]) -> list[str]:
    """Apical, mid or basal third of one case's usable slices by their height along the LV axis (apex low)."""
    order = np.argsort(np.argsort(heights))
    return [REGIONS[min(2, int(3 * r / len(heights)))] for r in order]


@functools.lru_cache(maxsize=4)
def paired_pool(seeds: tuple[int, ...], size: int, frames: int, slices: int, sectors: int = 24,
                crop: int = 40) -> dict:
    """Paired phantom cine and tagging crops: ``cine``, ``tagging`` float32 ``(S, T, crop, crop)`` in [0, 1],
    ``tracks`` ``(S, T, N, 2)`` crop pixels, ``spacing`` ``(S, 2)`` mm, ``es_frame`` ``(S,)``, ``region`` ``(S,)``,
    ``ids`` (seed, slice) and the landmark ``labels``. Cached per process."""
    from ..phantom import PhantomConfig, make_case

    out: dict = {k: [] for k in ("cine", "tagging", "tracks", "spacing", "es_frame", "region", "ids")}
    labels = None
    for seed in seeds:
        case = make_case(PhantomConfig(seed=seed, size=size, frames=frames, slices=slices,
                                       modalities=("cine", "tagging")))
        got = [(z, slice_tracks(case, z, sectors, DEFAULT_FRACTIONS)) for z in range(case.tagging.shape[1])]
        got = [(z, g) for z, g in got if g is not None]
        for (z, g), region in zip(got, regions_of([g["height_mm"] for _, g in got])):
            tag, off = crop_sequence(case.tagging.array[:, z], g["tracks"][0], crop)
            cine, _ = crop_sequence(case.cine.array[:, z], g["tracks"][0], crop)
            out["cine"].append(np.clip(cine, 0.0, 1.0))
            out["tagging"].append(np.clip(tag, 0.0, 1.0))
            out["tracks"].append(g["tracks"] - off)
            out["spacing"].append(case.tagging.spacing[:2])
            out["es_frame"].append(case.truth.es_frame)
            out["region"].append(region)
            out["ids"].append((seed, z))
            labels = {"layer": g["layer"], "sector": g["sector"]}
    if not out["cine"]:
        raise CardioGenInputError("no phantom slice with a usable LV ring", got=f"seeds {seeds[:3]}...")
    pool = {k: np.stack(v) for k, v in out.items() if k in ("cine", "tagging", "tracks")}
    pool.update(spacing=np.asarray(out["spacing"], np.float32), es_frame=np.asarray(out["es_frame"]),
                region=np.asarray(out["region"]), ids=tuple(out["ids"]), labels=labels)
    return pool


def smcvae_loss(model: Any, batch: dict, *, noise_sd: float = 0.1, kl_weight: float = 1.0,
                generator: Any = None) -> tuple[Any, dict]:
    """The seed's eq. 4.1 per pixel: ``E_c[ Σ_i ‖x_i − dec_i(s_c)‖² / (2 σ²) ] + kl_weight · KL_sparse`` with
    ``s_c ~ q(s | x_c)``; ``batch`` holds ``cine`` and ``tagging`` ``(B, T, H, W)`` in [-1, 1]. Logs the MSE of
    each route (``cine>tagging`` ...) and the number of latent dimensions in use."""
    from ..nets.smcvae import CHANNELS, sparse_kl

    npix = float(np.prod(batch["cine"].shape[1:]))
    rec, logs = 0.0, {}
    for c in CHANNELS:
        s = model.sample_posterior(model.encode(batch[c], c), generator=generator)
        for i in CHANNELS:
            mse = (model.decode(s, i) - batch[i]).square().mean()
            rec = rec + mse
            logs[f"{c}>{i}"] = float(mse.detach())
    nll = rec / len(CHANNELS) / (2.0 * noise_sd ** 2)
    kl = sparse_kl(model.log_alpha) / npix
    logs.update(nll=float(nll.detach()), kl=float(kl.detach()), kept=int(model.kept.sum()))
    return nll + kl_weight * kl, logs


def translate_pool(model: Any, pool: dict, inputs: tuple[str, ...], target: str, batch: int = 16) -> np.ndarray:
    """``target`` sequences ``(S, T, H, W)`` in [0, 1] decoded from ``inputs`` of every pair of the pool."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(pool["cine"]), batch):
            xs = {c: to_model(torch.from_numpy(pool[c][i:i + batch])) for c in inputs}
            out.append(from_model(model.eval().translate(xs, target)).clamp(0, 1).numpy())
    return np.concatenate(out)


def image_metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Per sequence ``(S,)``: SSIM and PSNR (dB) over frames, RMSE and MAE, intensities in [0, 1]."""
    import torch

    from ..metrics.image import psnr, ssim

    p, t = torch.from_numpy(pred).float(), torch.from_numpy(true).float()
    s, n = p.shape[:2]
    flat_p, flat_t = p.reshape(s * n, 1, *p.shape[2:]), t.reshape(s * n, 1, *t.shape[2:])
    return {"ssim": ssim(flat_p, flat_t, 1.0, reduction="none").reshape(s, n).mean(1).numpy(),
            "psnr": psnr(flat_p, flat_t, 1.0, reduction="none").reshape(s, n).mean(1).numpy(),
            "rmse": (p - t).square().flatten(1).mean(1).sqrt().numpy(),
            "mae": (p - t).abs().flatten(1).mean(1).numpy()}


def evaluate_translation(model: Any, pool: dict) -> dict:
    """The seed's table 4.1: for each scenario and region (and all), mean and SD of SSIM, PSNR, RMSE, MAE against
    the phantom's own sequences; seconds per sequence of cine -> tagging."""
    out: dict = {}
    for name, inputs, target in SCENARIOS:
        start = time.perf_counter()
        pred = translate_pool(model, pool, inputs, target)
        seconds = (time.perf_counter() - start) / len(pred)
        m = image_metrics(pred, pool[target])
        rows = {}
        for region in REGIONS + ("all",):
            sel = np.ones(len(pred), bool) if region == "all" else pool["region"] == region
            if sel.any():
                rows[region] = {k: {"mean": float(v[sel].mean()), "sd": float(v[sel].std()), "n": int(sel.sum())}
                                for k, v in m.items()}
        out[name] = {"regions": rows, "seconds_per_sequence": seconds}
    out["latent_kept"] = int(model.kept.sum())
    out["latent"] = int(model.cfg.latent)
    return out


def strain_agreement(smcvae: Any, tracker: Any, pool: dict) -> dict:
    """The seed's claim: the tag tracker's end-systolic strain (Green-Lagrange, global circumferential and radial
    endo-epi) on tagging synthesised from cine against the same tracker on the true tagging (Bland-Altman bias, SD and
    95 % limits) and both against the exact tracks; the ED landmarks are the truth's."""
    synth = translate_pool(smcvae, pool, ("cine",), "tagging")
    crop = pool["cine"].shape[-1]
    values: dict = {f"{c}/{r}": {"synthetic": [], "true_tagging": [], "truth": []} for c, r in STRAIN_CURVES}
    for i in range(len(synth)):
        truth, sp, es = pool["tracks"][i], pool["spacing"][i], int(pool["es_frame"][i])
        for key, frames in (("synthetic", synth[i]), ("true_tagging", pool["tagging"][i])):
            tracks = track(tracker, frames, truth[0], crop)
            s = strain_of_tracks(tracks, sp, pool["labels"])
            for c, r in STRAIN_CURVES:
                values[f"{c}/{r}"][key].append(float(s.curve(c, region=r)[es]))
        s = strain_of_tracks(truth, sp, pool["labels"])
        for c, r in STRAIN_CURVES:
            values[f"{c}/{r}"]["truth"].append(float(s.curve(c, region=r)[es]))
    out: dict = {}
    for key, v in values.items():
        a, b, t = (np.asarray(v[k]) for k in ("synthetic", "true_tagging", "truth"))
        d = a - b
        out[key] = {"bias": float(d.mean()), "sd": float(d.std(ddof=1)) if len(d) > 1 else 0.0,
                    "loa_low": float(d.mean() - 1.96 * d.std(ddof=1)) if len(d) > 1 else float(d.mean()),
                    "loa_high": float(d.mean() + 1.96 * d.std(ddof=1)) if len(d) > 1 else float(d.mean()),
                    "mean_abs_synthetic_vs_truth": float(np.abs(a - t).mean()),
                    "mean_abs_true_tagging_vs_truth": float(np.abs(b - t).mean()),
                    "pearson_r": float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 else float("nan"),
                    "truth_mean": float(t.mean()), "n": int(len(a)),
                    "regions": {r: {"bias": float(d[pool["region"] == r].mean()),
                                    "sd": float(d[pool["region"] == r].std()),
                                    "true_tagging_mean": float(b[pool["region"] == r].mean()),
                                    "synthetic_mean": float(a[pool["region"] == r].mean())}
                                for r in REGIONS if (pool["region"] == r).any()},
                    "synthetic": a.tolist(), "true_tagging": b.tolist()}
    return out


def load_smcvae(weights: str = "smcvae-phantom-64") -> tuple[Any, Any]:
    """(model in evaluation mode, registry entry) of a registered ``smcvae``."""
    from ..nets.smcvae import SmcVAE, SmcVAEConfig
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(weights)
    d = entry.config.get("data", {})
    model = SmcVAE(SmcVAEConfig.from_dict(dict(entry.config.get("model", {}), frames=int(d.get("frames", 20)),
                                               size=int(d.get("crop", 40)))))
    model.load_state_dict(registry.load_state_dict(entry.id))
    return model.eval(), entry
