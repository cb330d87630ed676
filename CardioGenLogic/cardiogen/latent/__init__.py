"""Latent-space cine video generation (seed 002, GANcMRI): generator, projection, trajectories, sliders, TSR.

:class:`LatentModel` bundles what a user needs, loaded through the weights registry:

* the StyleGAN2 frame generator (``G_ema`` of a ``latent_video`` model, e.g. ``gancmri-phantom-64``),
* its fitted directions (a ``latent_directions`` entry: ED→ES and frame-to-frame trajectories, phenotype sliders),
* the four-chamber cardiac feature network (perceptual projection loss, phenotype measurement).

Typical use (also the ``latent_video`` pipeline and the Latent Explorer module)::

    from cardiogen.latent import LatentModel
    m = LatentModel.load()                              # registry defaults, CPU
    w1 = m.start_latents(seed=3)                        # ED start latent of a random heart
    w1 = m.apply_sliders(w1, {"lv_area": 2.0})          # bigger LV
    video = m.video(w1, method="f2f", frames=50)        # (1, 50, R, R) in [-1, 1]

:func:`fit_directions` projects phantom training videos and fits the directions (``cardiogen latent fit``).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from ..errors import CardioGenInputError, CardioGenWeightsError
from ..progress import report, sub_progress
from .phenotypes import (LATENT_PHENOTYPES, PHENOTYPE_UNITS, SCALE_POINTS, SLIDER_RANGE, FRAME_PHENOTYPES,
                         PhenotypeUnit, SliderScale, fit_phenotype_directions, generate_frames, measure_frames,
                         measure_video_phenotypes, physical_phenotypes, sample_start_latents, slider_linearity,
                         split_directions, video_ef_area)
from .projector import Projection, frames_for_generator, project, project_video
from .trajectory import Trajectories, fit_trajectories, start_latent, super_resolve_latents, video_latents

GENERATOR_PIPELINE = "latent_video"
DIRECTIONS_PIPELINE = "latent_directions"
FEATURES_LAX = "cardiac-features-lax-64"


def load_generator(weights: Optional[str] = None, device: str = "cpu") -> tuple[Any, Any]:
    """(``G_ema`` in eval mode, registry entry) of a ``latent_video`` model (default: the registry's first)."""
    from ..models.gancmri import GANcMRI
    from ..weights import Registry

    registry = Registry()
    entry = registry.get(weights) if weights else registry.default_for(GENERATOR_PIPELINE)
    if entry.pipeline != GENERATOR_PIPELINE:
        raise CardioGenWeightsError(f"model '{entry.id}' is a '{entry.pipeline}' model, not a StyleGAN2 "
                                    f"'{GENERATOR_PIPELINE}' generator")
    cfg = dict(entry.config.get("model", {}))
    cfg.setdefault("resolution", int(entry.config.get("data", {}).get("size", 64)))
    model = GANcMRI(cfg)
    try:
        model.load_state_dict(registry.load_state_dict(entry.id))
    except RuntimeError as exc:
        raise CardioGenWeightsError(f"weights {entry.id} do not fit the StyleGAN2 architecture: {exc}") from exc
    g = model.G_ema.eval().to(device)
    for p in g.parameters():
        p.requires_grad_(False)
    return g, entry


def load_directions(generator_entry: Any, directions: Optional[str] = None) -> tuple[Trajectories, Any]:
    """Fitted directions for a generator (the registry's ``latent_directions`` entry made for its sha256)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ..weights import Registry, check_file

    registry = Registry()
    if directions:
        entry = registry.get(directions)
    else:
        matches = [e for e in registry.list(DIRECTIONS_PIPELINE)
                   if e.config.get("generator_sha256") == generator_entry.sha256]
        if not matches:
            raise CardioGenWeightsError(f"no fitted directions for generator '{generator_entry.id}'; fit them with "
                                        f"'cardiogen latent fit --weights {generator_entry.id}'")
        entry = matches[0]
    check_file(entry)
    with safe_open(str(entry.path), framework="pt") as fh:
        meta = json.loads((fh.metadata() or {}).get("trajectories", "{}"))
    return Trajectories.from_tensors(load_file(str(entry.path)), meta), entry


@dataclass
class LatentModel:
    generator: Any
    trajectories: Trajectories
    features: Any
    generator_entry: Any = None
    directions_entry: Any = None
    pixel_mm: float = 2.8

    @classmethod
    def load(cls, weights: Optional[str] = None, directions: Optional[str] = None, device: str = "cpu",
             features: Optional[str] = FEATURES_LAX) -> "LatentModel":
        from ..device import resolve_device
        from ..metrics.features import load_feature_network

        dev = str(resolve_device(device))
        g, entry = load_generator(weights, dev)
        traj, dentry = load_directions(entry, directions)
        net = load_feature_network(features, dev) if features else None
        pixel = float(entry.config.get("data", {}).get("pixel_mm") or 2.8)
        return cls(g, traj, net, entry, dentry, pixel)

    @property
    def resolution(self) -> int:
        return int(self.generator.cfg.resolution)

    #: An input must span at least this fraction of the generator's field of view along each axis (the rest is
    #: padded with the video's background level); a smaller crop would leave the generator a frame unlike any it saw.
    MIN_FOV_FRACTION = 0.6

    def geometry(self, cine: Any = None, z: int = 0) -> Any:
        """Geometry of generated frames: the generator's own grid (``pixel_mm`` pixels, 8 mm slab, identity
        orientation), or — for frames projected from slice ``z`` of ``cine`` — the grid :meth:`on_grid` resamples
        that slice to (the generator's pixel, ``resolution``² pixels centred on the slice's centre, the slice's
        orientation)."""
        from ..data import Geometry

        px = self.pixel_mm
        if cine is None:
            return Geometry(spacing=(px, px, 8.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3))
        g = cine.geometry
        ny, nx = cine.array.shape[-2:]
        first = self._grid_start((ny, nx), g.spacing)  # input index (col, row) of the output pixel (0, 0)
        d = np.asarray(g.direction)
        origin = np.asarray(g.origin) + d @ np.array([first[0] * g.spacing[0], first[1] * g.spacing[1],
                                                      z * g.spacing[2]])
        return Geometry(spacing=(px, px, g.spacing[2]), origin=origin, direction=d)

    def _grid_start(self, shape: tuple, spacing: Any) -> np.ndarray:
        """Input index (col, row) of the generator grid's pixel (0, 0): the grid is centred on the input's centre."""
        ny, nx = shape
        half = (self.resolution - 1) / 2 * self.pixel_mm
        return np.array([(nx - 1) / 2 - half / spacing[0], (ny - 1) / 2 - half / spacing[1]])

    def on_grid(self, cine: Any, z: int) -> np.ndarray:
        """Frames ``(t, R, R)`` of slice ``z`` of the ImageSeries ``cine`` on the generator's grid: resampled to its
        pixel (``pixel_mm``, the registry's trained geometry) over ``R = resolution`` pixels centred on the slice's
        centre (a larger field of view is cropped, a smaller one padded with the video's 1st-percentile level),
        Gaussian pre-filtered when pixels grow. Refused (:class:`CardioGenInputError`) when the slice spans less
        than :data:`MIN_FOV_FRACTION` of the generator's field of view along an axis."""
        from scipy import ndimage

        g = cine.geometry
        t, _, ny, nx = cine.array.shape
        sx, sy = float(g.spacing[0]), float(g.spacing[1])
        fov = self.resolution * self.pixel_mm
        short = {axis: n * s for axis, n, s in (("x", nx, sx), ("y", ny, sy)) if n * s < self.MIN_FOV_FRACTION * fov}
        if short:
            raise CardioGenInputError(
                "the image's field of view is too small for the latent generator, which was trained on "
                f"{self.resolution}-pixel frames of {self.pixel_mm:g} mm ({fov:.0f} mm)",
                source=cine.description or "cine",
                expected=f">= {self.MIN_FOV_FRACTION * fov:.0f} mm along x and y",
                got=", ".join(f"{a}: {v:.0f} mm" for a, v in short.items()))
        frames = np.asarray(cine.array[:, z], dtype=np.float32)
        if abs(sx - self.pixel_mm) < 1e-3 * self.pixel_mm and abs(sy - self.pixel_mm) < 1e-3 * self.pixel_mm \
                and (ny, nx) == (self.resolution, self.resolution):
            return frames.copy()
        sigma = [0.0, max(0.0, (self.pixel_mm / sy) ** 2 - 1) ** 0.5 / 2,
                 max(0.0, (self.pixel_mm / sx) ** 2 - 1) ** 0.5 / 2]
        if any(sigma):
            frames = ndimage.gaussian_filter(frames, sigma, mode="nearest")
        first = self._grid_start((ny, nx), (sx, sy))
        j = np.arange(self.resolution)
        cols = first[0] + j * self.pixel_mm / sx
        rows = first[1] + j * self.pixel_mm / sy
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        fill = float(np.percentile(frames, 1))
        return np.stack([ndimage.map_coordinates(f, [rr, cc], order=1, mode="constant", cval=fill)
                         for f in frames]).astype(np.float32)

    @property
    def sliders(self) -> tuple[str, ...]:
        return tuple(self.trajectories.phenotype_directions)

    def start_latents(self, seed: int = 0, n: int = 1, psi: float = 1.0) -> torch.Tensor:
        """ED start latents ``(n, num_ws, w_dim)`` of seeded random hearts (w(1) = mapping(z) − 0.7 k)."""
        return sample_start_latents(self.generator, self.trajectories, n, seed, psi)

    def apply_sliders(self, ws: torch.Tensor, sliders: Optional[dict] = None) -> torch.Tensor:
        """w + Σ c_name · k_name; c outside [−2, 3] is refused (the seed's range)."""
        out = ws.clone()
        for name, c in (sliders or {}).items():
            if name not in self.trajectories.phenotype_directions:
                raise CardioGenInputError("unknown phenotype slider", expected=self.sliders, got=name)
            c = float(c)
            if not SLIDER_RANGE[0] <= c <= SLIDER_RANGE[1]:
                raise CardioGenInputError(f"slider '{name}' out of range", expected=SLIDER_RANGE, got=c)
            out = out + c * torch.from_numpy(self.trajectories.phenotype_directions[name]).to(out)
        return out

    def frames(self, ws: torch.Tensor) -> np.ndarray:
        """Noise-free frames ``(N, R, R)`` in [-1, 1]."""
        return generate_frames(self.generator, ws)[:, 0].numpy()

    def video(self, w1: torch.Tensor, method: str = "f2f", frames: int = 50,
              smoothing: Optional[str] = None) -> np.ndarray:
        """Videos ``(B, T, R, R)`` in [-1, 1] from ED start latents ``(B, num_ws, w_dim)``."""
        lat = video_latents(w1, self.trajectories, method=method, frames=frames, smoothing=smoothing)
        b, t = lat.shape[:2]
        return self.frames(lat.reshape(b * t, *lat.shape[2:])).reshape(b, t, self.resolution, self.resolution)

    def measure(self, frames: Any) -> dict:
        """Frame phenotypes (lv_area, sphericity, myo_thickness) per frame."""
        if self.features is None:
            raise CardioGenInputError("no feature network loaded for phenotype measurement")
        return measure_frames(frames, self.features)

    def physical(self, measured: dict) -> dict:
        """Measured phenotypes in physical units (cm², mm, %; see :func:`.phenotypes.physical_phenotypes`): the
        measurement grid spans the generator's field of view (``resolution × pixel_mm``)."""
        grid = int(getattr(getattr(self.features, "config", None), "size", self.resolution))
        return physical_phenotypes(measured, self.resolution * self.pixel_mm, grid)

    def slider_scales(self, w1: torch.Tensor, names: Optional[Any] = None) -> dict:
        """``{name: SliderScale}`` for one ED start latent ``(1, num_ws, w_dim)``: each slider alone moved to
        :data:`.phenotypes.SCALE_POINTS` and its phenotype measured (frames in one batch; ``ef_area`` on
        frame-to-frame videos), in physical units."""
        if w1.shape[0] != 1:
            raise CardioGenInputError("slider scales are made for one heart", expected="(1, num_ws, w_dim)",
                                      got=tuple(w1.shape))
        scales = {}
        for name in (self.sliders if names is None else names):
            moved = torch.cat([self.apply_sliders(w1, {name: c}) for c in SCALE_POINTS])
            raw = (self.measure(self.frames(moved)[:, None]) if name in FRAME_PHENOTYPES
                   else self.measure_videos(moved))
            scales[name] = SliderScale.fit(name, SCALE_POINTS, self.physical({name: raw[name]})[name])
        return scales

    def measure_videos(self, w1: torch.Tensor) -> dict:
        """Video phenotypes (``ef_area``: LV fractional area change, %) of frame-to-frame videos from ``w1``."""
        if self.features is None:
            raise CardioGenInputError("no feature network loaded for phenotype measurement")
        return measure_video_phenotypes(self.generator, self.trajectories, self.features, w1)

    def project(self, frames: Any, *, video: bool = True, first_only: bool = False, mode: str = "w",
                steps: int = 200, steps_next: int = 60, progress: Optional[Callable] = None,
                **kwargs: Any) -> Projection:
        """Project frames ``(..., H, W)`` already on the generator's grid (:meth:`on_grid` brings a slice of an
        ImageSeries there; other arrays are resized to the generator's size as they are), intensities scaled over
        the whole video as in training; ``first_only`` projects only the first (ED) frame."""
        x = frames_for_generator(frames, self.resolution)
        if first_only:
            x, video = x[:1], False
        common = dict(mode=mode, perceptual_net=self.features, progress=progress, **kwargs)
        if video and x.shape[0] > 1:
            return project_video(self.generator, x, steps_first=steps, steps_next=steps_next, **common)
        return project(self.generator, x, steps=steps, **common)

    def super_resolve(self, ws: torch.Tensor, factor: int = 2, smoothing: str = "none") -> np.ndarray:
        """Frames ``(factor·(M−1)+1, R, R)`` between the projected frames of one video ``(M, num_ws, w_dim)``."""
        if int(factor) < 1:
            raise CardioGenInputError("super-resolution factor must be >= 1", got=factor)
        m = ws.shape[0]
        pos = np.linspace(0, m - 1, int(factor) * (m - 1) + 1)
        return self.frames(super_resolve_latents(ws, pos, smoothing=smoothing))


def _choose_smoothing(g: Any, traj: Trajectories, net: Any, real_videos: np.ndarray, n: int = 8) -> tuple[str, dict]:
    """The frame-to-frame smoothing whose generated videos' LV fractional area change is closest to the real
    videos' (the seed's formula can remove most of the motion when the top components carry it)."""
    real = measure_frames(real_videos[:n].reshape(-1, *real_videos.shape[-2:]), net)["lv_area"]
    real_fac = float(np.mean([video_ef_area(a) for a in real.reshape(min(n, len(real_videos)), -1)]))
    w1 = sample_start_latents(g, traj, n, seed=777)
    facs = {name: float(measure_video_phenotypes(g, traj, net, w1, frames=None, smoothing=name)["ef_area"].mean())
            for name in ("seed", "lowrank", "none")}
    best = min(facs, key=lambda k: abs(facs[k] - real_fac))
    return best, {"real_fac_pct": round(real_fac, 2), **{f"{k}_fac_pct": round(v, 2) for k, v in facs.items()},
                  "chosen": best}


def fit_directions(weights: Optional[str] = None, *, videos: int = 16, first_seed: int = 0, frames: int = 50,
                   steps_first: int = 150, steps_next: int = 40, pca_components: int = 32, smoothing: str = "auto",
                   phenotype_samples: int = 4000, projected_ed: int = 160, out: Optional[str] = None,
                   register: Optional[str] = None,
                   device: str = "cpu", progress: Optional[Callable] = None, command: Optional[str] = None) -> dict:
    """Project ``videos`` phantom four-chamber training videos, fit the trajectories and phenotype directions, save
    them as ``<generator id>-directions.safetensors`` in ``out`` and register them (pipeline ``latent_directions``).

    ``smoothing`` of the frame-to-frame directions: "seed" (k − PCA⁻¹(PCA(k)), seed 002), "lowrank", "none", or
    "auto": the one whose videos' LV fractional area change is closest to the training videos' (all three stay
    available at generation time; the benchmark reports each).

    Phenotype directions (high-minus-low group means) come from two sources: ``phenotype_samples`` generated ED
    frames (measured), and — with ``projected_ed`` > 0 — the projections of that many training ED frames split by
    the phenotype measured on the real frames (seed 002's way). Per phenotype the direction whose slider is more
    linear (Pearson R of c vs measurement on validation hearts, z seeds 9000+) is kept; both scores are recorded."""
    from safetensors.torch import save_file

    from ..metrics.features import load_feature_network
    from ..models.gancmri import lax_video_pool
    from ..weights import add_weights

    start = time.time()
    g, entry = load_generator(weights, device)
    net = load_feature_network(FEATURES_LAX, device)
    data = entry.config.get("data", {})
    seeds = tuple(range(int(first_seed), int(first_seed) + int(videos)))
    # one rendering of the training videos: the first ``videos`` for the trajectories, ``projected_ed`` for sliders
    pool = lax_video_pool(tuple(range(int(first_seed), int(first_seed) + max(int(videos), int(projected_ed)))),
                          int(g.cfg.resolution), int(frames), data.get("pixel_mm"))
    lat, mses = [], []
    for i in range(len(seeds)):
        x = torch.from_numpy(pool["video"][i])[:, None]
        proj = project_video(g, x, steps_first=steps_first, steps_next=steps_next, perceptual_net=net,
                             seed=i, progress=sub_progress(progress, 0.8 * i / len(seeds), 0.8 * (i + 1) / len(seeds)))
        lat.append(proj.ws.numpy())
        mses.append(float(proj.pixel_mse.mean()))
    traj = fit_trajectories(np.stack(lat), pool["es_frame"][:len(seeds)], pca_components=pca_components,
                            smoothing="seed" if smoothing == "auto" else smoothing)
    if smoothing == "auto":
        traj.smoothing, selection = _choose_smoothing(g, traj, net, pool["video"][:len(seeds)])
        traj.info["smoothing_selection"] = selection
    dirs, stats = fit_phenotype_directions(g, traj, net, samples=phenotype_samples,
                                           progress=sub_progress(progress, 0.8, 0.9))
    if projected_ed > 0:  # seed 002's own source: projected real ED frames split by their measured phenotype
        report(progress, 0.9, f"projecting {projected_ed} training ED frames")
        real = pool["video"][:int(projected_ed)]  # (N, T, R, R)
        proj = project(g, torch.from_numpy(real[:, 0])[:, None], steps=steps_first // 3 * 2 or 1,
                       perceptual_net=net, batch_size=80)
        measured = {k: v.reshape(real.shape[:2]) for k, v in measure_frames(real.reshape(-1, *real.shape[-2:]),
                                                                             net).items()}
        real_vals = {k: v[:, 0] for k, v in measured.items()}  # ED frames
        real_vals["ef_area"] = np.array([video_ef_area(a) for a in measured["lv_area"]])
        p_dirs, p_stats = split_directions(proj.ws, real_vals, list(dirs))
        choice = {}
        for name in dirs:  # keep, per phenotype, the direction whose sliders are more linear on validation hearts
            r_gen = slider_linearity(g, traj, net, name, dirs[name])
            r_proj = slider_linearity(g, traj, net, name, p_dirs[name])
            choice[name] = {"generated_r": round(r_gen, 4), "projected_r": round(r_proj, 4),
                            "chosen": "projected" if r_proj > r_gen else "generated"}
            if r_proj > r_gen:
                dirs[name] = p_dirs[name]
        stats = {"generated": stats, "projected": p_stats, "choice": choice,
                 "projected_ed_frames": int(projected_ed)}
    traj.phenotype_directions = dirs
    traj.info.update({"seeds": [seeds[0], seeds[-1]], "projection": {"mode": "w", "steps_first": steps_first,
                                                                     "steps_next": steps_next,
                                                                     "pixel_mse_mean": round(float(np.mean(mses)), 5)},
                      "phenotype_directions": stats, "seconds": round(time.time() - start, 1)})
    out_dir = Path(out or ".")
    out_dir.mkdir(parents=True, exist_ok=True)
    model_id = f"{entry.id}-directions"
    path = out_dir / f"{model_id}.safetensors"
    save_file({k: v.contiguous() for k, v in traj.tensors().items()}, str(path),
              metadata={"trajectories": json.dumps(traj.metadata()), "generator": entry.id})
    reg = add_weights(path, model_id=model_id, pipeline=DIRECTIONS_PIPELINE, license="BSD-3-Clause",
                      trained_on=f"projections of phantom four-chamber cine seeds {seeds[0]}-{seeds[-1]} "
                                 f"({frames} frames) into {entry.id}; phenotype split on {phenotype_samples} "
                                 f"generated ED frames and {projected_ed} projected training ED frames",
                      folder=Path(register) if register else out_dir, training_command=command or "",
                      config={"generator": entry.id, "generator_sha256": entry.sha256, "videos": videos,
                              "frames": frames, "pca_components": pca_components, "smoothing": smoothing,
                              "phenotype_samples": phenotype_samples, "projected_ed": projected_ed},
                      metrics=traj.info, timing={"fit_seconds": round(time.time() - start, 1)})
    report(progress, 1.0, f"directions saved: {path}")
    return {"id": model_id, "path": str(reg.path), "info": traj.info}


__all__ = ["LatentModel", "fit_directions", "load_generator", "load_directions", "Trajectories", "Projection",
           "LATENT_PHENOTYPES", "SLIDER_RANGE", "fit_trajectories", "video_latents", "start_latent",
           "super_resolve_latents", "project", "project_video", "frames_for_generator", "measure_frames",
           "video_ef_area", "fit_phenotype_directions", "measure_video_phenotypes", "PHENOTYPE_UNITS",
           "PhenotypeUnit", "SliderScale", "physical_phenotypes"]
