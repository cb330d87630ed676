"""Built-in training specs (one per trainable model). Importing this module registers them in ``SPECS``."""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np

from . import init_weights, register_spec


@functools.lru_cache(maxsize=4)
def phantom_cine_pool(seeds: tuple[int, ...], size: int, frames: int, slices: int) -> tuple[np.ndarray, tuple]:
    """Cine videos of phantom cases: float32 ``(n_videos, T, H, W)`` (slices that show the LV) and their
    (seed, slice) ids. Cached per process: generation dominates the first steps of a run."""
    from ..phantom import PhantomConfig, make_case

    videos, ids = [], []
    for seed in seeds:
        case = make_case(PhantomConfig(seed=seed, size=size, frames=frames, slices=slices, modalities=("cine",)))
        lv = case.truth.masks.labels[0] == 2  # LV myocardium at ED, (z, y, x)
        for z in range(case.cine.shape[1]):
            if lv[z].sum() > 20:
                videos.append(case.cine.array[:, z])
                ids.append((seed, z))
    return np.stack(videos).astype(np.float32), tuple(ids)


@register_spec("ltma")
class LtmaSpec:
    """LTMA registration trained on phantom cine (unsupervised: image similarity + smoothness)."""

    name = "ltma"
    pipeline = "register"

    def build(self, config: dict) -> Any:
        """The network; ``model.init_from`` / ``model.init_partial``: :func:`cardiogen.train.init_weights`."""
        from ..models.ltma import LTMAConfig, LTMANet

        return init_weights(LTMANet(LTMAConfig.from_dict(config["model"])), config["model"])

    def _data(self, config: dict) -> dict:
        d = config["data"]
        return {"seeds": tuple(range(int(d.get("first_seed", 0)), int(d.get("first_seed", 0)) + int(d.get("cases", 16)))),
                "size": int(d.get("size", 64)), "frames": int(d.get("frames", 20)), "slices": int(d.get("slices", 10)),
                "batch_size": int(d.get("batch_size", 2))}

    @staticmethod
    def _mixed(config: dict) -> bool:
        """True for configs with ``data.sources`` (phantom / analytic / real cines at many geometries,
        :mod:`cardiogen.train.specs_ltma`); else the phantom-only data of the first shipped weights."""
        return "sources" in config["data"]

    def geometry(self, config: dict) -> dict:
        """The grid the model is trained for (registry ``geometry``): the config's ``data.grid`` for mixed data;
        for phantom-only data the phantom's own pixel sizes (seeds of the config), matrix and frame count."""
        if self._mixed(config):
            from .specs_ltma import trained_grid

            return trained_grid(config).to_dict()
        from ..phantom import PhantomConfig, make_case

        d = self._data(config)
        pixels = [make_case(PhantomConfig(seed=s, size=d["size"], frames=2, slices=2, modalities=("cine",)))
                  .cine.spacing[0] for s in d["seeds"]]
        return {"pixel_mm": round(float(np.median(pixels)), 3),
                "pixel_mm_range": [round(float(min(pixels)), 3), round(float(max(pixels)), 3)],
                "matrix": d["size"], "frames": d["frames"], "frames_range": [d["frames"], d["frames"]]}

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..models.ltma import normalise_video

        if self._mixed(config):
            from .specs_ltma import mixed_batch

            return mixed_batch(config, step, rank)
        d = self._data(config)
        videos, _ = phantom_cine_pool(d["seeds"], d["size"], d["frames"], d["slices"])
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        idx = rng.integers(0, len(videos), size=d["batch_size"])
        batch = torch.from_numpy(videos[idx])
        if rng.random() < 0.5:  # flips keep the motion physical and double the data
            batch = batch.flip(-1)
        return normalise_video(batch)

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        inner = getattr(model, "module", model)
        if inner is model:
            return model.loss(batch)
        # DDP: call forward through the wrapper so gradients are all-reduced
        from ..nets.warp import gradient_loss, warp

        v = model(batch)
        b, t, h, w = batch.shape
        u = inner.backward_maps(v).flatten(0, 1)
        ref = batch[:, :1].expand(b, t, h, w).reshape(b * t, 1, h, w)
        image = ((warp(ref, u) - batch.reshape(b * t, 1, h, w)) ** 2).mean()
        smooth = gradient_loss(v.flatten(0, 1))
        return image + inner.config.smooth_weight * smooth, {"image_mse": float(image.detach())}

    def evaluate(self, model: Any, config: dict) -> dict:
        """In-plane end-point error (mm) in the LV myocardium on held-out phantom seeds (64 px, the phantom's own
        pixel, 20 frames / the config's), and CPU time per case; for mixed data also on held-out analytic cines
        (``eval.analytic_cases`` from ``eval.analytic_first_seed``, 128 px at 1.5 mm, 30 frames)."""
        from ..motion.register import TrainedGrid, endpoint_error, register_learned
        from ..phantom import PhantomConfig, make_case

        ev = config.get("eval", {})
        grid = TrainedGrid.from_dict(self.geometry(config), source="training config")
        if self._mixed(config):  # the benchmark's phantom geometry
            size, frames, slices = 64, 20, 10
        else:
            d = self._data(config)
            size, frames, slices = d["size"], d["frames"], d["slices"]
        seeds = range(int(ev.get("first_seed", 1000)), int(ev.get("first_seed", 1000)) + int(ev.get("cases", 2)))
        errors, seconds = [], []
        for seed in seeds:
            case = make_case(PhantomConfig(seed=seed, size=size, frames=frames, slices=slices, modalities=("cine",)))
            start = time.time()
            disp = register_learned(case.cine, model.cpu(), grid=grid, device="cpu")
            seconds.append(time.time() - start)
            mask = case.truth.masks.labels[0] == 2
            errors.append(endpoint_error(disp, case.truth.displacement, mask))
        out = {"heldout_seeds": [int(s) for s in seeds], "epe_mm_in_plane": float(np.mean(errors)),
               "timing": {"cpu_s_per_case": round(float(np.mean(seconds)), 3)}}
        if self._mixed(config) and int(ev.get("analytic_cases", 0)):
            from ..analytic import AnalyticConfig, make_analytic_case

            first = int(ev.get("analytic_first_seed", 5000))
            a_seeds = range(first, first + int(ev["analytic_cases"]))
            a_err = []
            for seed in a_seeds:
                case = make_analytic_case(AnalyticConfig(seed=seed, pixel_mm=1.5, matrix=128, frames=30,
                                                         supersample=2))
                disp = register_learned(case.cine, model.cpu(), grid=grid, device="cpu")
                a_err.append(endpoint_error(disp, case.displacement, case.myocardium[0][None]))
            out["analytic_heldout"] = {"seeds": list(a_seeds), "geometry": "128 px, 1.5 mm, 30 frames",
                                       "epe_mm_in_plane": float(np.mean(a_err))}
        return out

    def describe_data(self, config: dict) -> str:
        if self._mixed(config):
            from .specs_ltma import describe_sources

            return describe_sources(config)
        d = self._data(config)
        return (f"CardioGen phantom cine, seeds {d['seeds'][0]}-{d['seeds'][-1]}, {d['size']}x{d['size']} px, "
                f"{d['frames']} frames, {d['slices']} slices (held-out evaluation seeds from 1000)")


# Specs of other model families register themselves on import.
from . import specs_synthesis  # noqa: E402,F401

try:
    from . import specs_metrics  # noqa: E402,F401
except ImportError:  # pragma: no cover - metrics package not installed in a trimmed build
    pass
from . import specs_latent  # noqa: E402,F401
from . import specs_ct_motion  # noqa: E402,F401
from . import specs_pamae  # noqa: E402,F401
from . import specs_ecg_cine  # noqa: E402,F401
from . import specs_heart  # noqa: E402,F401
from . import specs_tagging  # noqa: E402,F401
