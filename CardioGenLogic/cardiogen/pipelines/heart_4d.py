"""``heart_4d``: a synthetic whole heart over the cardiac cycle, with its segmentation, for a demographic profile
(seed 001, chapter 6).

DDIM draws a 4D latent of the conditional model (:mod:`cardiogen.models.heart4d`) for the given age, sex, height,
weight, blood pressure, smoking and alcohol (any of them may be unknown: ``None``); the frozen image + mask decoder
turns each frame's latent into the short-axis stack and its mask. Both outputs are marked synthetic with the weights,
their sha256, the seed, the sampler and the conditioning; the segmentation carries the phenotypes measured on it
(LVEDV, LVESV, LVEF, LV mass, RVEDV, RVESV, :func:`cardiogen.models.heart4d.cycle_phenotypes`). The images lie on the
fixed grid the model was trained on (recorded in the registry). The model is not conditioned on heart rate: frame
times assume the phantom's reference rate for the sex (65 bpm when unknown).

Python console API::

    from cardiogen.pipelines import heart_4d
    image, seg = heart_4d.generate(dict(age=62, sex="F", height_cm=160, weight_kg=70, sbp=150), seed=3)
    seg.provenance["phenotypes"]["lvedv_ml"]
"""
from __future__ import annotations

import functools
import time
from typing import Any, Mapping, Optional

import numpy as np

from ..data import STANDARD_LABELS, Geometry, ImageSeries, Segmentation
from ..errors import CardioGenInputError
from . import Option, Output, Progress, register_pipeline
from .heart_3d import LatentHeartPipeline


@functools.lru_cache(maxsize=2)
def _models(weights: Optional[str], device: str) -> dict:
    """The conditional 4D model (registry entry ``weights`` or the default ``heart_4d`` one) and its autoencoder."""
    from ..models.heart4d import load_heart_4d
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(weights) if weights else reg.default_for("heart_4d")
    model, ae, entry = load_heart_4d(entry.id, device)
    return {"entry": entry, "ae_entry": reg.get(str(entry.config["model"]["ae_from"])), "model": model, "ae": ae}


def _factor_options() -> tuple[Option, ...]:
    from ..models.conditions import FACTORS

    out = []
    for f in FACTORS:
        if f.kind == "sex":
            out.append(Option(f.name, "M", choices=("M", "F"), optional=True, help="sex (None: unknown)"))
        elif f.kind == "bool":
            out.append(Option(f.name, False, choices=(False, True), optional=True, help=f"{f.label} (None: unknown)"))
        else:
            out.append(Option(f.name, f.default, minimum=f.minimum, maximum=f.maximum, optional=True, unit=f.unit,
                              help=f"{f.label} ({f.unit}; None: unknown)"))
    return tuple(out)


def reference_heart_rate(sex: Any) -> float:
    """The phantom's reference heart rate (bpm) for ``sex`` (M 64, F 66; 65 when unknown)."""
    from ..phantom.demographics import REFERENCE

    return float(REFERENCE[sex]["hr"]) if sex in REFERENCE else 65.0


@register_pipeline
class Heart4dPipeline(LatentHeartPipeline):
    name = "heart_4d"
    title = "Whole heart 4D from demographics (latent diffusion)"
    description = ("Generate a short-axis cine of a whole heart over the cardiac cycle with its segmentation for a "
                   "demographic profile (seed 001, chapter 6): conditional DDIM in the latent space of an image + "
                   "mask autoencoder; the phenotypes measured on the generated masks come with it.")
    inputs = ()
    outputs = (Output("image", "ImageSeries", help="synthetic short-axis cine (frames x slices)"),
               Output("segmentation", "Segmentation", help="its synthetic segmentation sequence, with phenotypes"))
    options = (Option("seed", 0, minimum=0, maximum=2**31 - 1, help="random seed of the latent noise"),
               Option("steps", 50, minimum=1, maximum=1000, help="DDIM steps"),
               Option("guidance", 1.0, minimum=0.0, maximum=10.0, help="classifier-free guidance scale (1: none)"),
               ) + _factor_options()
    synthetic_outputs = True
    _loader = staticmethod(_models)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..models.heart4d import FACTOR_NAMES, condition_vector, cycle_phenotypes, generate, grid_of
        from ..progress import report

        mods = self.models
        entry = mods["entry"]
        seed, steps, guidance = int(options["seed"]), int(options["steps"]), float(options["guidance"])
        profile = {k: options[k] for k in FACTOR_NAMES if options.get(k) is not None}
        try:
            condition_vector([profile])
        except ValueError as exc:
            raise CardioGenInputError(f"heart_4d cannot use this profile: {exc}", source="heart_4d",
                                      got=profile) from exc
        report(progress, 0.05, f"DDIM, {steps} steps")
        t0 = time.time()
        sub = lambda f, msg="": report(progress, 0.05 + 0.85 * f, msg or "sampling")  # noqa: E731
        images, masks = generate(mods["model"], mods["ae"], [profile], steps=steps, seed=seed, guidance=guidance,
                                 progress=sub)
        seconds = time.time() - t0
        grid = grid_of(entry.config)
        geometry = Geometry(spacing=(grid["pixel_mm"], grid["pixel_mm"], grid["slice_mm"]), origin=(0.0, 0.0, 0.0),
                            direction=np.eye(3))
        hr = reference_heart_rate(profile.get("sex"))
        times = np.arange(grid["frames"]) * (60000.0 / hr) / grid["frames"]
        phenotypes = cycle_phenotypes(masks[0], geometry.spacing)
        prov = dict(weights=entry.id, weights_sha256=entry.sha256, autoencoder=mods["ae_entry"].id,
                    autoencoder_sha256=mods["ae_entry"].sha256, seed=seed, sampler=f"DDIM-{steps}",
                    guidance=guidance, conditioning={k: profile.get(k) for k in FACTOR_NAMES},
                    heart_rate_bpm_assumed=hr, device=self.torch_device, seconds=round(seconds, 3),
                    trained_on=entry.trained_on)
        image = ImageSeries(((images[0] + 1.0) * 0.5).astype(np.float32), geometry, frame_times=times,
                            modality="cine", description="whole heart 4D from demographics (latent diffusion)")
        seg = Segmentation(masks[0], label_table={k: v for k, v in STANDARD_LABELS.items() if k <= 4},
                           geometry=geometry, frame_times=times, synthetic=True,
                           provenance={"pipeline": self.name, **prov, "phenotypes": phenotypes})
        report(progress, 1.0, "done")
        return {"image": image.mark_synthetic(self.name, **prov), "segmentation": seg}


def generate(profile: Optional[Mapping[str, Any]] = None, seed: int = 0, steps: int = 50, guidance: float = 1.0,
             weights: Optional[str] = None, device: str = "cpu") -> tuple[ImageSeries, Segmentation]:
    """A synthetic cycle and its segmentation for ``profile`` (factor name → value; absent or None: unknown)."""
    from ..models.conditions import FACTOR_NAMES

    profile = dict(profile or {})
    unknown = set(profile) - set(FACTOR_NAMES)
    if unknown:
        raise CardioGenInputError("unknown demographic factors", source="heart_4d", expected=list(FACTOR_NAMES),
                                  got=sorted(unknown))
    options = {"seed": seed, "steps": steps, "guidance": guidance, **{k: profile.get(k) for k in FACTOR_NAMES}}
    out = Heart4dPipeline().load(weights, device).run({}, options)
    return out["image"], out["segmentation"]
