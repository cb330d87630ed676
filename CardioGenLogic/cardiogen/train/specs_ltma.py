"""LTMA training on cines of many geometries: phantom, analytic and real cines moved to the network grid.

A config with ``data.sources`` trains on a mix of

* ``phantom``: :mod:`cardiogen.phantom` cines rendered at random in-plane pixels, matrices and frame counts
  (``data.pixel_mm``, ``data.matrix``, ``data.frames`` ranges; the field of view at least ``data.min_fov_mm``), every
  ``data.phantom_native_every``-th seed at the phantom's own geometry (64 px, automatic pixel, 20 frames);
* ``analytic``: the independent generator :mod:`cardiogen.analytic` (its cine rendering) at random geometry and
  heart parameters;
* ``sunnybrook``: the real cines of ``data.sunnybrook_patients`` in ``../shared/data/cine_sunnybrook`` (the loss
  needs no truth; their contours are used only to centre the training crops on the heart).

Every source video goes through the same resampling as inference (:func:`cardiogen.motion.register.to_network_grid`
with the config's ``grid``), so the network sees what survives resampling: field of view, contrast, noise,
temporal sampling. Each step draws one source (``data.source_weights``) and one video of it, cuts
``data.batch_size`` random ``data.crop``-pixel crops near the heart (a fully convolutional network; the crop bounds the
cost of a step) with random cyclic rotation of the frames (any reference phase), flips and transposition, gamma
contrast, a smooth multiplicative bias field and Rician noise. Batches are a pure function of (seed, step, rank).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

SOURCES = ("phantom", "analytic", "sunnybrook")


def trained_grid(config: dict) -> Any:
    """The :class:`~cardiogen.motion.register.TrainedGrid` of a config (``data.grid``)."""
    from ..motion.register import TrainedGrid

    return TrainedGrid.from_dict(config["data"]["grid"], source="ltma config data.grid")


def _grid_key(config: dict) -> tuple:
    g = trained_grid(config)
    return (g.pixel_mm, g.pixel_mm_range, g.matrix, g.frames, g.frames_range)


def _grid_from_key(key: tuple) -> Any:
    from ..motion.register import TrainedGrid

    return TrainedGrid(*key)


def _geometry_draw(rng: np.random.Generator, d: dict) -> tuple[float, int, int]:
    """(pixel mm, matrix, frames) of one source case, uniform in the config's ranges, field of view >= min_fov_mm."""
    pixel = float(rng.uniform(*d["pixel_mm"]))
    lo = max(int(d["matrix"][0]), int(np.ceil(float(d["min_fov_mm"]) / pixel)))
    matrix = int(rng.integers(min(lo, int(d["matrix"][1])), int(d["matrix"][1]) + 1))
    frames = int(rng.integers(int(d["frames"][0]), int(d["frames"][1]) + 1))
    return pixel, matrix, frames


def _centre(mask: np.ndarray) -> tuple[float, float]:
    rows, cols = np.nonzero(mask)
    return (float(rows.mean()), float(cols.mean())) if rows.size else (mask.shape[0] / 2, mask.shape[1] / 2)


@functools.lru_cache(maxsize=2)
def phantom_pool(seeds: tuple[int, ...], draw: tuple, grid_key: tuple) -> tuple:
    """Phantom videos on the network grid: tuple of (float32 ``(slices, t, y, x)``, LV centre (row, col) on that grid,
    source geometry (pixel, matrix, frames))."""
    from ..motion.register import to_network_grid
    from ..phantom import PhantomConfig, make_case

    d = dict(draw)
    grid = _grid_from_key(grid_key)
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 17])
        pixel, matrix, frames = _geometry_draw(rng, d)
        if int(d.get("phantom_native_every", 0)) and seed % int(d["phantom_native_every"]) == 0:
            pixel, matrix, frames = None, 64, 20  # the phantom's own geometry (auto pixel, about 2.6-3.3 mm)
        case = make_case(PhantomConfig(seed=seed, size=matrix, pixel_mm=pixel, frames=frames,
                                       slices=int(d["slices"]), modalities=("cine",)))
        pixel = float(case.cine.spacing[0])
        lv = case.truth.masks.labels[0] == 2
        keep = [z for z in range(lv.shape[0]) if lv[z].sum() > 20]
        if not keep:
            continue
        video, net = to_network_grid(case.cine.array[:, keep].transpose(1, 0, 2, 3), case.cine.spacing[:2], grid)
        cy, cx = _centre(lv[keep].any(axis=0))
        out.append((video.astype(np.float32), (cy * net.shape[0] / matrix, cx * net.shape[1] / matrix),
                    (pixel, matrix, frames)))
    return tuple(out)


def analytic_config(seed: int, pixel: float, matrix: int, frames: int, rng: np.random.Generator,
                    supersample: int = 2) -> Any:
    """A random :class:`cardiogen.analytic.AnalyticConfig` of the given geometry (heart parameters drawn by ``rng``;
    the heart shrunk where the field of view is small)."""
    from ..analytic import AnalyticConfig

    endo = float(rng.uniform(14, 28))
    wall = float(rng.uniform(6, 13))
    room = pixel * matrix / 2 - 10 - 4 - 1
    if endo + wall > room:
        scale = room / (endo + wall)
        endo, wall = max(8.0, endo * scale), max(3.0, wall * scale)
    return AnalyticConfig(seed=seed, pixel_mm=pixel, matrix=matrix, frames=frames, endo_radius_mm=endo, wall_mm=wall,
                          endo_shortening=float(rng.uniform(0.15, 0.4)), coverage=float(rng.uniform(0.8, 1.0)),
                          es_fraction=float(rng.uniform(0.28, 0.42)), rr_ms=float(rng.uniform(600, 1200)),
                          hypo_center_deg=float(rng.uniform(0, 360)) if rng.random() < 0.7 else None,
                          hypo_factor=float(rng.uniform(0.0, 0.6)), twist_deg=float(rng.uniform(-10, 10)),
                          ellipticity=float(rng.uniform(0, 0.25)), ellipse_angle_deg=float(rng.uniform(0, 180)),
                          cine_noise=float(rng.uniform(0.01, 0.06)), supersample=supersample)


@functools.lru_cache(maxsize=2)
def analytic_pool(seeds: tuple[int, ...], draw: tuple, grid_key: tuple) -> tuple:
    """Analytic cines (:mod:`cardiogen.analytic`) on the network grid, as :func:`phantom_pool`."""
    from ..analytic import make_analytic_case
    from ..motion.register import to_network_grid

    d = dict(draw)
    grid = _grid_from_key(grid_key)
    out = []
    for seed in seeds:
        rng = np.random.default_rng([seed, 29])
        pixel, matrix, frames = _geometry_draw(rng, d)
        case = make_analytic_case(analytic_config(seed, pixel, matrix, frames, rng))
        video, net = to_network_grid(case.cine.array.transpose(1, 0, 2, 3), case.cine.spacing[:2], grid)
        cy, cx = _centre(case.myocardium[0])
        out.append((video.astype(np.float32), (cy * net.shape[0] / matrix, cx * net.shape[1] / matrix),
                    (pixel, matrix, frames)))
    return tuple(out)


SUNNYBROOK_CONTOURS = {"SCD0000101": "SC-HF-I-1", "SCD0000201": "SC-HF-I-2", "SCD0000401": "SC-HF-I-5"}


def load_sunnybrook(patient: str, root: Path | None = None) -> tuple[Any, Any]:
    """(cine ImageSeries ``(20, z, 256, 256)``, contour Segmentation) of one Sunnybrook patient of the sample data."""
    from .. import io as cgio
    from ..errors import CardioGenInputError
    from ..io import sample_data_dir
    from ..io.contours import read_sunnybrook_contours

    if patient not in SUNNYBROOK_CONTOURS:
        raise CardioGenInputError("unknown Sunnybrook patient", expected=sorted(SUNNYBROOK_CONTOURS), got=patient)
    base = Path(root or sample_data_dir()) / "cine_sunnybrook"
    if not (base / patient).is_dir():
        raise CardioGenInputError("Sunnybrook cine not found (sample data absent?)", source=base / patient)
    cine = cgio.load(str(base / patient))
    return cine, read_sunnybrook_contours(str(base / "contours" / SUNNYBROOK_CONTOURS[patient]), cine)


@functools.lru_cache(maxsize=2)
def sunnybrook_pool(patients: tuple[str, ...], grid_key: tuple) -> tuple:
    """Every slice of the given Sunnybrook patients on the network grid, as :func:`phantom_pool` (the LV centre from
    the manual contours, used only to place crops)."""
    from ..motion.register import to_network_grid

    grid = _grid_from_key(grid_key)
    out = []
    for patient in patients:
        cine, seg = load_sunnybrook(patient)
        t, nz, ny, nx = cine.shape
        video, net = to_network_grid(cine.array.transpose(1, 0, 2, 3), cine.spacing[:2], grid)
        cy, cx = _centre(seg.labels.max(axis=(0, 1)) > 0)
        out.append((video.astype(np.float32), (cy * net.shape[0] / ny, cx * net.shape[1] / nx),
                    (float(cine.spacing[0]), nx, t)))
    return tuple(out)


def _pools(config: dict) -> dict[str, tuple]:
    d = config["data"]
    key = _grid_key(config)
    draw = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in d.items()
                        if k in ("pixel_mm", "matrix", "frames", "min_fov_mm", "slices", "phantom_native_every")))
    pools = {}
    for name in d["sources"]:
        if name not in SOURCES:
            from ..errors import CardioGenInputError

            raise CardioGenInputError("unknown LTMA training source", expected=SOURCES, got=name)
        spec = d["sources"][name]
        if name == "sunnybrook":
            pools[name] = sunnybrook_pool(tuple(spec["patients"]), key)
        else:
            seeds = tuple(range(int(spec["first_seed"]), int(spec["first_seed"]) + int(spec["cases"])))
            pools[name] = (phantom_pool if name == "phantom" else analytic_pool)(seeds, draw, key)
    return pools


def _crop(video: np.ndarray, centre: tuple[float, float], size: int, rng: np.random.Generator,
          jitter: float) -> np.ndarray:
    """A ``size``-pixel crop ``(t, size, size)`` of ``video`` ``(t, y, x)`` near ``centre`` (edge-padded)."""
    t, ny, nx = video.shape
    pad = max(0, size - ny, size - nx)
    if pad:
        video = np.pad(video, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        centre = (centre[0] + pad, centre[1] + pad)
        ny, nx = video.shape[1:]
    cy = int(round(centre[0] + rng.uniform(-jitter, jitter))) - size // 2
    cx = int(round(centre[1] + rng.uniform(-jitter, jitter))) - size // 2
    y0, x0 = int(np.clip(cy, 0, ny - size)), int(np.clip(cx, 0, nx - size))
    return video[:, y0 : y0 + size, x0 : x0 + size]


def augment(video: np.ndarray, rng: np.random.Generator, aug: dict) -> np.ndarray:
    """One video ``(t, y, x)`` scaled to ~[0, 1] -> augmented copy: cyclic frame rotation (probability
    ``roll``), flips / transposition, gamma in ``gamma``, bias field exp(±``bias``) (a random plane plus a quadric
    over the crop), Rician noise of standard deviation up to ``noise``."""
    t, ny, nx = video.shape
    lo, hi = np.percentile(video, [1, 99])
    v = np.clip((video - lo) / max(hi - lo, 1e-6), 0, 1.5)
    if rng.random() < float(aug.get("roll", 0.5)):
        v = np.roll(v, -int(rng.integers(0, t)), axis=0)
    if rng.random() < 0.5:
        v = v[:, :, ::-1]
    if rng.random() < 0.5:
        v = v[:, ::-1, :]
    if rng.random() < 0.5 and ny == nx:
        v = v.transpose(0, 2, 1)
    v = np.power(v, rng.uniform(*aug.get("gamma", (0.7, 1.5))))
    yy, xx = np.mgrid[-1:1:complex(0, ny), -1:1:complex(0, nx)]
    c = rng.normal(size=5)
    field = c[0] * xx + c[1] * yy + 0.5 * (c[2] * xx * xx + c[3] * yy * yy + c[4] * xx * yy)
    field = field / max(np.abs(field).max(), 1e-6) * rng.uniform(0, float(aug.get("bias", 0.3)))
    v = v * np.exp(field)[None]
    sigma = rng.uniform(0, float(aug.get("noise", 0.06)))
    if sigma > 0:
        v = np.hypot(v + sigma * rng.standard_normal(v.shape), sigma * rng.standard_normal(v.shape))
    return np.ascontiguousarray(v, dtype=np.float32)


def mixed_batch(config: dict, step: int, rank: int) -> Any:
    """Batch ``(batch_size, t, crop, crop)`` of one source video (see the module docstring), normalised."""
    import torch

    from ..models.ltma import normalise_video

    d = config["data"]
    pools = _pools(config)
    names = [n for n in d["sources"] if pools[n]]
    weights = np.array([float(d["sources"][n].get("weight", 1.0)) for n in names])
    rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    video, centre, _ = pools[name][int(rng.integers(0, len(pools[name])))]
    items = []
    for _ in range(int(d.get("batch_size", 2))):
        z = int(rng.integers(0, video.shape[0]))
        crop = _crop(video[z], centre, int(d.get("crop", 64)), rng, float(d.get("crop_jitter", 16)))
        items.append(augment(crop, rng, d.get("augment", {})))
    return normalise_video(torch.from_numpy(np.stack(items)))


def describe_sources(config: dict) -> str:
    """Training data in words, from the config (and the pools' actual sizes)."""
    d = config["data"]
    g = trained_grid(config)
    pools = _pools(config)
    parts = []
    for name, spec in d["sources"].items():
        n = len(pools[name])
        share = float(spec.get("weight", 1.0)) / sum(float(s.get("weight", 1.0)) for s in d["sources"].values())
        if name == "sunnybrook":
            parts.append(f"real Sunnybrook cines of {', '.join(spec['patients'])} (every slice, 20 frames, "
                         f"1.37 mm; no labels used but for crop centres) ({share:.0%} of steps)")
        else:
            first = int(spec["first_seed"])
            label = "CardioGen phantom" if name == "phantom" else "analytic ring/ellipse generator (cardiogen.analytic)"
            parts.append(f"{label} cines, {n} cases (seeds {first}-{first + int(spec['cases']) - 1}) at "
                         f"{d['pixel_mm'][0]}-{d['pixel_mm'][1]} mm, {d['matrix'][0]}-{d['matrix'][1]} px, "
                         f"{d['frames'][0]}-{d['frames'][1]} frames"
                         + (f" (seeds divisible by {d['phantom_native_every']} at the phantom's own 64-px geometry, "
                            "20 frames)"
                            if name == "phantom" and d.get("phantom_native_every") else "")
                         + f" ({share:.0%} of steps)")
    return ("; ".join(parts) + f"; all resampled to the network grid ({g.pixel_mm_range[0]}-{g.pixel_mm_range[1]} mm "
            f"pixels, {g.frames_range[0]}-{g.frames_range[1]} frames), {d.get('crop', 64)}-px crops, random reference "
            "phase, flips, gamma, bias field, Rician noise")
