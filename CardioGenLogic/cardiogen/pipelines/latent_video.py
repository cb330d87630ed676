"""``latent_video``: cine videos from the StyleGAN2 latent space with phenotype sliders (GANcMRI, seed 002).

Three ways to start (option ``start``):

* ``seed`` — a random heart: w(1) = mapping(z) − 0.7·k_ED→ES, then the trajectory (frame-to-frame or ED-to-ES);
* ``project_ed`` — the first (ED) frame of the given cine is projected into W, then the trajectory;
* ``project_video`` — every frame of the given cine is projected; the video keeps its own motion and can be made
  temporally finer (``tsr_factor``, seed 002 Sec. 3.3.4).

Phenotype sliders (``lv_area``, ``sphericity``, ``myo_thickness``; c ∈ [−2, 3]) move every latent along the fitted
direction before the frames are generated. Outputs are marked synthetic.

Python console API (also in the README)::

    from cardiogen.pipelines import latent_video
    cine = latent_video.generate(seed=3, sliders={"lv_area": 2.0}, frames=50)      # ImageSeries, synthetic
    sweep = latent_video.slider_sweep("sphericity", [-2, 0, 3], seed=3)            # {c: ED frame (R, R)}
    finer = latent_video.super_resolve(my_cine, factor=2)                           # projected + interpolated
"""
from __future__ import annotations

import functools
import time
from typing import Any, Optional, Sequence

import numpy as np

from ..data import ImageSeries
from ..errors import CardioGenInputError
from . import Input, Option, Output, Pipeline, Progress, register_pipeline

SLIDER_OPTIONS = ("lv_area", "sphericity", "myo_thickness", "ef_area")


@functools.lru_cache(maxsize=2)
def _model(weights: Optional[str], directions: Optional[str], device: str) -> Any:
    from ..latent import LatentModel

    return LatentModel.load(weights, directions, device=device)


def _slice_frames(cine: ImageSeries, index: int) -> tuple[np.ndarray, int]:
    nz = cine.array.shape[1]
    z = nz // 2 if index < 0 else index
    if not 0 <= z < nz:
        raise CardioGenInputError("slice index out of range", source=cine.description or "cine",
                                  expected=f"0..{nz - 1}", got=index)
    return cine.array[:, z], z


@register_pipeline
class LatentVideoPipeline(Pipeline):
    name = "latent_video"
    title = "Latent video (GANcMRI sliders)"
    description = ("Generate a four-chamber cine from the StyleGAN2 latent space (seed 002): random or projected "
                   "start, frame-to-frame or ED-to-ES trajectory, phenotype sliders, temporal super-resolution.")
    inputs = (Input("cine", "ImageSeries", modalities=("cine",), required=False,
                    help="cine to project (start = project_ed / project_video)"),)
    outputs = (Output("cine", "ImageSeries", help="synthetic cine video"),)
    options = (Option("start", "seed", choices=("seed", "project_ed", "project_video")),
               Option("method", "f2f", choices=("f2f", "ed_es"), help="trajectory: frame-to-frame or ED-to-ES"),
               Option("frames", 50, minimum=2, maximum=200),
               Option("seed", 0, minimum=0),
               Option("samples", 1, minimum=1, maximum=16),
               Option("lv_area", 0.0, minimum=-2.0, maximum=3.0, help="slider c (LV blood-pool area)"),
               Option("sphericity", 0.0, minimum=-2.0, maximum=3.0, help="slider c (LV sphericity)"),
               Option("myo_thickness", 0.0, minimum=-2.0, maximum=3.0, help="slider c (myocardial thickness)"),
               Option("ef_area", 0.0, minimum=-2.0, maximum=3.0, help="slider c (LV fractional area change, EF)"),
               Option("tsr_factor", 1, minimum=1, maximum=8, help="temporal super-resolution factor"),
               Option("projection_steps", 150, minimum=1, maximum=2000),
               Option("slice", -1, minimum=-1, help="slice of the cine to project (-1: middle)"),
               Option("psi", 1.0, minimum=0.0, maximum=1.0, help="truncation of random latents"))
    synthetic_outputs = True

    def _load(self) -> None:
        from ..device import resolve_device

        self.torch_device = str(resolve_device(self.device))
        self.model = _model(self.weights, None, self.torch_device)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..progress import report, sub_progress

        m = self.model
        sliders = {k: float(options[k]) for k in SLIDER_OPTIONS if options[k] != 0.0 and k in m.sliders}
        start, frames, n = options["start"], int(options["frames"]), int(options["samples"])
        factor = int(options["tsr_factor"])
        if start != "project_video" and factor > 1:  # a generated path is simply sampled more finely
            frames = factor * (frames - 1) + 1
        cine = inputs.get("cine")
        t0 = time.time()
        geometry, times, source = m.geometry(), None, {}
        if start == "seed":
            w1 = m.start_latents(int(options["seed"]), n, float(options["psi"]))
            videos = m.video(m.apply_sliders(w1, sliders), options["method"], frames)
        else:
            if cine is None:
                raise CardioGenInputError(f"start '{start}' needs an input cine to project")
            arr, z = _slice_frames(cine, int(options["slice"]))
            arr = m.on_grid(cine, z)
            source = {"source_slice": z, "source": cine.description}
            geometry = m.geometry(cine, z)
            if start == "project_ed":
                proj = m.project(arr, first_only=True, steps=int(options["projection_steps"]), seed=int(options["seed"]),
                                 progress=sub_progress(progress, 0.0, 0.8))
                w1 = m.apply_sliders(proj.ws, sliders).expand(n, -1, -1)
                videos = m.video(w1, options["method"], frames)
                times = None
            else:
                proj = m.project(arr, video=True, steps=int(options["projection_steps"]),
                                 steps_next=max(1, int(options["projection_steps"]) // 3), seed=int(options["seed"]),
                                 progress=sub_progress(progress, 0.0, 0.8))
                ws = m.apply_sliders(proj.ws, sliders)
                videos = m.super_resolve(ws, factor)[None].repeat(n, axis=0)
                src_t = np.asarray(cine.frame_times, dtype=float)
                pos = np.linspace(0, len(src_t) - 1, videos.shape[1])
                times = np.interp(pos, np.arange(len(src_t)), src_t)
            source["projection_pixel_mse"] = round(float(proj.pixel_mse.mean()), 5)
        if times is None:
            times = np.arange(videos.shape[1]) * 1000.0 / videos.shape[1]
        seconds = time.time() - t0
        report(progress, 0.95, "writing the synthetic cine")
        results = {}
        for k in range(videos.shape[0]):
            img = ((videos[k] + 1.0) * 0.5).astype(np.float32)[:, None]
            series = ImageSeries(img, geometry, frame_times=times, modality="cine",
                                 description=f"Latent video (GANcMRI {options['method']}) sample {k + 1}")
            results["cine" if k == 0 else f"cine_{k + 1}"] = series.mark_synthetic(
                self.name, weights=m.generator_entry.id, weights_sha256=m.generator_entry.sha256,
                directions=m.directions_entry.id, seed=int(options["seed"]) + k, start=start,
                method=options["method"], sliders=sliders, tsr_factor=factor,
                device=self.torch_device, seconds=round(seconds, 3), **source)
        report(progress, 1.0, "done")
        return results


# ---- console API -----------------------------------------------------------------------------------------------

def _pipeline(weights: Optional[str] = None, device: str = "cpu") -> LatentVideoPipeline:
    return LatentVideoPipeline().load(weights, device)


def generate(seed: int = 0, sliders: Optional[dict] = None, method: str = "f2f", frames: int = 50,
             weights: Optional[str] = None, device: str = "cpu") -> ImageSeries:
    """A synthetic four-chamber cine of a random heart (seeded), phenotype sliders applied."""
    opts = {"seed": seed, "method": method, "frames": frames, **(sliders or {})}
    return _pipeline(weights, device).run({}, opts)["cine"]


def slider_sweep(name: str, values: Sequence[float], seed: int = 0, weights: Optional[str] = None,
                 device: str = "cpu") -> dict:
    """``{c: (ED frame (R, R) in [-1, 1], measured phenotypes)}`` for slider ``name`` at each c (one heart); the
    phenotypes in physical units (LV area cm², myocardial thickness mm, sphericity; see
    :func:`cardiogen.latent.phenotypes.physical_phenotypes`)."""
    m = _pipeline(weights, device).model
    w1 = m.start_latents(seed)
    out = {}
    for c in values:
        frame = m.frames(m.apply_sliders(w1, {name: float(c)}))
        out[float(c)] = (frame[0], {k: float(v[0]) for k, v in m.physical(m.measure(frame[:, None])).items()})
    return out


def sweep_series(name: str, values: Sequence[float], seed: int = 0, weights: Optional[str] = None,
                 device: str = "cpu") -> tuple[ImageSeries, dict]:
    """The ED frames of a slider sweep as one synthetic series (one "frame" per slider value) + the measurements."""
    sweep = slider_sweep(name, values, seed, weights, device)
    m = _pipeline(weights, device).model
    frames = np.stack([(f + 1.0) * 0.5 for f, _ in sweep.values()])[:, None].astype(np.float32)
    series = ImageSeries(frames, m.geometry(), frame_times=np.arange(len(frames), dtype=float), modality="cine",
                         description=f"Latent slider sweep {name}")
    series = series.mark_synthetic("latent_video", weights=m.generator_entry.id, slider=name, values=list(sweep),
                                   seed=int(seed))
    return series, sweep


def _caption_unit(name: str) -> str:
    """The phenotype's unit as a sweep caption writes it (" cm^2": the captions' font has no "²")."""
    from ..latent.phenotypes import PHENOTYPE_UNITS

    unit = PHENOTYPE_UNITS[name].unit if name in PHENOTYPE_UNITS else ""
    return f" {unit.replace('²', '^2')}" if unit else ""


def sweep_labels(name: str, sweep: dict) -> list[str]:
    """One caption per panel of a sweep ``{c: (frame, measured phenotypes)}``: the slider ``name``, that panel's
    own value c and, when measured, the phenotype ``name`` on that panel's frame (3 significant digits)."""
    labels = []
    for c, (_, measured) in sweep.items():
        text = f"{name} c={float(c):+g}" if float(c) != 0.0 else f"{name} c=0"
        if name in (measured or {}):
            text += f": {float(measured[name]):.3g}{_caption_unit(name)}"
        labels.append(text)
    return labels


def write_sweep_png(series: ImageSeries, sweep: dict, name: str, path: Any, columns: Optional[int] = None) -> Any:
    """PNG grid of a slider sweep (``series`` and ``sweep`` from :func:`sweep_series`): panel i is frame i of
    ``series`` (display range [0, 1], the same for every panel) captioned with :func:`sweep_labels` ``[i]``, one
    row of ``len(sweep)`` panels unless ``columns`` is given. Returns the path."""
    from ..io.preview import render_frames, write_tile_grid

    labels = sweep_labels(name, sweep)
    if len(labels) != series.n_frames:
        raise CardioGenInputError("a sweep needs one frame per slider value", expected=len(labels),
                                  got=series.n_frames)
    tiles = np.stack([render_frames(series.with_array(series.array[i:i + 1], frame_times=np.zeros(1)),
                                    window=(0.0, 1.0), label=labels[i], show_time=False)[0]
                      for i in range(series.n_frames)])
    return write_tile_grid(tiles, path, int(columns) if columns else len(tiles))


def project(cine: ImageSeries, slice_index: int = -1, steps: int = 150, weights: Optional[str] = None,
            device: str = "cpu") -> Any:
    """Projection of every frame of one slice of ``cine`` (a :class:`cardiogen.latent.Projection`)."""
    m = _pipeline(weights, device).model
    arr = m.on_grid(cine, _slice_frames(cine, slice_index)[1])
    return m.project(arr, video=True, steps=steps, steps_next=max(1, steps // 3))


def super_resolve(cine: ImageSeries, factor: int = 2, slice_index: int = -1, steps: int = 150,
                  weights: Optional[str] = None, device: str = "cpu") -> ImageSeries:
    """``cine`` projected and re-sampled ``factor`` times more finely in time (synthetic)."""
    opts = {"start": "project_video", "tsr_factor": factor, "slice": slice_index, "projection_steps": steps}
    return _pipeline(weights, device).run({"cine": cine}, opts)["cine"]
