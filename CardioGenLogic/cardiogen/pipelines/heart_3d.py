"""``heart_3d``: a synthetic whole-heart short-axis stack with its segmentation (seed 001, chapter 5).

DDIM draws a latent of the frozen image + mask autoencoder (:mod:`cardiogen.models.heart_ldm`), whose decoder gives the
stack and its mask together; both are marked synthetic with the weights, their sha256, the seed and the sampler. The
stack lies on the grid the models were trained on (the phantom's short-axis geometry, recorded in the registry): the
mean pixel and slice spacing of the training stacks (``pixel_mm``, ``slice_mm``).

Python console API::

    from cardiogen.pipelines import heart_3d
    image, seg = heart_3d.generate(seed=3)        # ImageSeries (1 frame, S slices), Segmentation, both synthetic
"""
from __future__ import annotations

import functools
import time
from typing import Optional

import numpy as np

from ..data import STANDARD_LABELS, Geometry, ImageSeries, Segmentation
from . import Option, Output, Pipeline, Progress, register_pipeline


@functools.lru_cache(maxsize=2)
def _models(weights: Optional[str], device: str) -> dict:
    """The latent denoiser (registry entry ``weights`` or the default ``heart_3d`` one) and its frozen autoencoder."""
    from ..models.heart3d import load_heart_ae
    from ..models.heart_ldm import load_heart_ldm
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(weights) if weights else reg.default_for("heart_3d")
    ae_id = str(entry.config["model"]["ae_from"])
    ae = load_heart_ae(ae_id, device)
    return {"entry": entry, "ae_entry": reg.get(ae_id), "ldm": load_heart_ldm(entry.id, ae.config, device), "ae": ae}


def _geometry(entry) -> Geometry:
    g = entry.geometry
    px, dz = float(g["pixel_mm"]), float(g["slice_mm"])
    return Geometry(spacing=(px, px, dz), origin=(0.0, 0.0, 0.0), direction=np.eye(3))


class LatentHeartPipeline(Pipeline):
    """What the whole-heart pipelines share: models from a cached loader ``_loader(weights, device)`` on the
    resolved device."""

    _loader = staticmethod(_models)

    def _load(self) -> None:
        from ..device import resolve_device

        self.torch_device = str(resolve_device(self.device))
        self.models = self._loader(self.weights, self.torch_device)


@register_pipeline
class Heart3dPipeline(LatentHeartPipeline):
    name = "heart_3d"
    title = "Whole heart 3D (latent diffusion)"
    description = ("Generate a short-axis stack of a whole heart with its segmentation (seed 001, chapter 5): DDIM in "
                   "the latent space of an image + mask autoencoder, decoded into the images and their labels.")
    inputs = ()
    outputs = (Output("image", "ImageSeries", help="synthetic short-axis stack (one phase)"),
               Output("segmentation", "Segmentation", help="its synthetic segmentation (LV, RV blood and myocardium)"))
    options = (Option("seed", 0, minimum=0, maximum=2**31 - 1, help="random seed of the latent noise"),
               Option("steps", 50, minimum=1, maximum=1000, help="DDIM steps"))
    synthetic_outputs = True

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        from ..models.heart_ldm import generate
        from ..progress import report

        mods = self.models
        entry = mods["entry"]
        seed, steps = int(options["seed"]), int(options["steps"])
        report(progress, 0.05, f"DDIM, {steps} steps")
        t0 = time.time()
        images, masks = generate(mods["ldm"], mods["ae"], 1, steps=steps, seed=seed)
        seconds = time.time() - t0
        geometry = _geometry(entry)
        prov = dict(weights=entry.id, weights_sha256=entry.sha256, autoencoder=mods["ae_entry"].id,
                    autoencoder_sha256=mods["ae_entry"].sha256, seed=seed, sampler=f"DDIM-{steps}",
                    device=self.torch_device, seconds=round(seconds, 3), trained_on=entry.trained_on)
        image = ImageSeries(((images[0] + 1.0) * 0.5).astype(np.float32)[None], geometry, frame_times=np.zeros(1),
                            modality="cine", description="whole heart 3D (latent diffusion)")
        seg = Segmentation(masks[:1], label_table={k: v for k, v in STANDARD_LABELS.items() if k <= 4},
                           geometry=geometry, frame_times=np.zeros(1), synthetic=True,
                           provenance={"pipeline": self.name, **prov})
        report(progress, 1.0, "done")
        return {"image": image.mark_synthetic(self.name, **prov), "segmentation": seg}


def generate(seed: int = 0, steps: int = 50, weights: Optional[str] = None,
             device: str = "cpu") -> tuple[ImageSeries, Segmentation]:
    """A synthetic stack and its segmentation (see the module docstring)."""
    out = Heart3dPipeline().load(weights, device).run({}, {"seed": seed, "steps": steps})
    return out["image"], out["segmentation"]
