"""Image corruptions that generators produce, used to make the crop-level feature network see them.

A feature network trained on clean frames only need not respond to failures it never saw: our first cardiac feature
network, fed 32-pixel LV crops padded to its field of view, put saturated binary noise next to real cine (see
``docs/benchmarks.md``, dense_to_cine). The crop-level network (``cardiac-features-crop-32``) therefore also learns to
name the corruption of a frame, so its embedding (and every distance built on it) moves when a generator's output
shows one. The kinds are the failures seen in this project's generators, with a severity range where each is clearly
present:

==================  =====================================================================  ======================
kind                what it does to a frame ``x`` normalised to about [0, 1]                 severity (range)
==================  =====================================================================  ======================
``clean``           nothing
``noise``           adds Gaussian noise of SD ``s``                                          s in [0.06, 0.5]
``blur``            Gaussian blur of SD ``s`` pixels                                         s in [1.2, 2.5]
``saturated``       binary image ``x + s * N(0, 1) > t`` (t in [0.3, 0.7]): saturated noise  s in [0.15, 1.0]
``blotches``        mixes in a smooth random field: ``(1 - s) x + s r`` (r blurred noise)    s in [0.5, 1.0]
``washout``         brightness offset ``s`` clipped at 1: a blown-out frame                  s in [0.35, 0.8]
==================  =====================================================================  ======================

The order of :data:`CORRUPTIONS` is the class order of the network's quality head (0 = clean).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["CORRUPTIONS", "SEVERITY", "ANATOMY_KEPT", "corrupt"]

#: Quality classes, in the order of the quality head's outputs.
CORRUPTIONS = ("clean", "noise", "blur", "saturated", "blotches", "washout")
#: Severity range (low, high) drawn for each corruption in training.
SEVERITY = {"clean": (0.0, 0.0), "noise": (0.06, 0.5), "blur": (1.2, 2.5), "saturated": (0.15, 1.0),
            "blotches": (0.5, 1.0), "washout": (0.35, 0.8)}
#: Corruptions after which the anatomy is still in the frame (its labels still supervise the segmentation).
ANATOMY_KEPT = ("clean", "noise", "blur")


def _gaussian_blur(x: Any, sigma: float) -> Any:
    """Separable Gaussian blur of a ``(1, 1, H, W)`` tensor (reflect padding, radius 3 SD), SD ``sigma`` pixels: the
    Gaussian window and separable filter of SSIM (:mod:`.image`) on the padded frame."""
    import torch.nn.functional as F

    from .image import _filter, _gaussian_window

    radius = max(1, int(np.ceil(3 * sigma)))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    return _filter(padded, _gaussian_window(2 * radius + 1, sigma, x.dtype, x.device))


def corrupt(x: Any, kind: str, severity: float, rng: np.random.Generator) -> Any:
    """One frame ``x`` ``(1, 1, H, W)`` (torch, normalised to about [0, 1]) with corruption ``kind`` of strength
    ``severity`` (see the module docstring for both); random parts are drawn from ``rng``."""
    import torch

    if kind not in CORRUPTIONS:
        raise CardioGenInputError("unknown corruption", expected=" / ".join(CORRUPTIONS), got=kind)
    s = float(severity)
    shape = tuple(x.shape)

    def normal() -> Any:
        return torch.from_numpy(rng.standard_normal(shape)).to(x.dtype)

    if kind == "clean":
        return x
    if kind == "noise":
        return x + s * normal()
    if kind == "blur":
        return _gaussian_blur(x, s)
    if kind == "saturated":
        return (x + s * normal() > float(rng.uniform(0.3, 0.7))).to(x.dtype)
    if kind == "blotches":
        field = _gaussian_blur(normal(), float(rng.uniform(1.5, 4.0)))
        field = (field - field.min()) / (field.max() - field.min()).clamp(min=1e-8)
        return (1 - s) * x + s * field
    return (x + s).clamp(max=1.0)  # washout
