"""Training spec of the cardiac feature network (``cardiogen train cardiac_features``; pipeline "metrics").

Data (config section ``data``):

* **Phantom cine frames**: ``cases`` phantom cases (seeds ``first_seed``...), ``frames`` frames x ``slices`` slices
  each at ``size`` pixels, every 2D frame with its truth labels (1 LV blood, 2 LV myocardium, 3 RV blood, 4 RV
  myocardium). Held-out evaluation uses seeds from ``eval.first_seed`` (1000).
* **Real frames** (small, for real-data exposure): the Sunnybrook cine sample in ``../shared/data`` with manual LV
  contours (9 slices x 2 phases = 18 frames; the slices in ``real_heldout_slices`` are kept for evaluation). Each
  batch item is real with probability ``real_fraction`` (default 0.1). The frames are cropped to ``real_fov_mm``
  around the LV (the phantom's field of view) and resampled to ``size``. Their labels are partial: only the LV is
  drawn (the RV never, the epicardium only at end-diastole), so the segmentation loss for them is the negative log
  of the total probability of the classes a pixel may be (e.g. "background, RV blood or RV myocardium" outside the
  LV). Missing sample data leaves the phantom alone (the registry's ``trained_on`` says which).

Each batch is a pure function of (train.seed, step, rank): a seeded generator picks the frames and draws the
augmentation: rotation (any angle), flip, zoom 0.85-1.2, shift +-12 % of the field, then gamma 0.7-1.4, a smooth
multiplicative bias field, Gaussian noise (sigma 0-0.04 of the intensity range, half of the items) and the same
percentile normalisation as at inference (:func:`cardiogen.metrics.features.normalise_frames`). The phenotype
targets are computed from the augmented labels.

Loss = cross-entropy (partial for real frames) + soft Dice (phantom items, labels 1-4) + 0.2 phenotype MSE
(targets divided by (5, 5, 0.3); the myocardium area of real frames without an epicardial contour is left out).

``cardiogen train cardiac_features_crop`` (:class:`CardiacFeaturesCropSpec`) trains the same network on the DENSE ->
cine models' 32-pixel LV crops with a quality head that names corruptions (:mod:`cardiogen.metrics.corruptions`),
shipped as ``cardiac-features-crop-32``.
"""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..io import sample_data_dir
from . import register_spec

CLASSES = 5
PHEN_SCALE = (5.0, 5.0, 0.3)


@functools.lru_cache(maxsize=4)
def phantom_frame_pool(seeds: tuple[int, ...], size: int, frames: int, slices: int,
                       view: str = "sax") -> tuple[np.ndarray, np.ndarray]:
    """Every 2D cine frame of the phantom cases: float32 ``(n, size, size)`` images and uint8 labels (cached).
    ``view``: "sax" (short-axis stack) or "4ch" (long-axis planes)."""
    from ..phantom import PhantomConfig, make_case

    images, labels = [], []
    for seed in seeds:
        case = make_case(PhantomConfig(seed=seed, size=size, frames=frames, slices=slices, modalities=("cine",),
                                       view=view))
        images.append(case.cine.array.reshape(-1, size, size))
        labels.append(case.truth.masks.labels.reshape(-1, size, size))
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.uint8)


def _resample_frame(image: np.ndarray, labels: np.ndarray, centre: tuple[float, float], side: int,
                    size: int) -> tuple[np.ndarray, np.ndarray]:
    """Square crop of ``side`` px around ``centre`` (row, col), padded with the image minimum, resampled to
    ``size``: the image anti-aliased bilinear, the labels by majority of area."""
    import torch
    import torch.nn.functional as F

    r0 = int(round(centre[0] - side / 2))
    c0 = int(round(centre[1] - side / 2))
    pad = side
    img = np.pad(image, pad, constant_values=float(image.min()))[r0 + pad:r0 + pad + side, c0 + pad:c0 + pad + side]
    lab = np.pad(labels, pad)[r0 + pad:r0 + pad + side, c0 + pad:c0 + pad + side]
    t_img = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
    t_img = F.interpolate(t_img, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    onehot = F.one_hot(torch.from_numpy(lab.astype(np.int64)), CLASSES).permute(2, 0, 1)[None].float()
    t_lab = F.interpolate(onehot, size=(size, size), mode="area").argmax(1)
    return t_img[0, 0].numpy(), t_lab[0].numpy().astype(np.uint8)


@functools.lru_cache(maxsize=2)
def sunnybrook_pool(root: str, size: int, fov_mm: float) -> dict:
    """The annotated Sunnybrook frames at ``size`` px: images, labels (0/1/2), has_epi flags, slice indices.
    Empty arrays when the sample data is absent."""
    empty = {"images": np.zeros((0, size, size), np.float32), "labels": np.zeros((0, size, size), np.uint8),
             "has_epi": np.zeros(0, bool), "slices": np.zeros(0, int), "phases": np.zeros(0, int), "source": None}
    base = Path(root) / "cine_sunnybrook"
    dicom_dir, contour_dir = base / "SCD0000101", base / "contours" / "SC-HF-I-1"
    if not dicom_dir.is_dir() or not contour_dir.is_dir():
        return empty
    from .. import io as cgio
    from ..io.contours import read_sunnybrook_contours

    cine = cgio.load(str(dicom_dir))
    seg = read_sunnybrook_contours(str(contour_dir), cine)
    side = int(round(fov_mm / float(cine.spacing[0])))
    images, labels, has_epi, slices, phases = [], [], [], [], []
    for t, z in zip(*np.nonzero(seg.annotated)):
        lab = seg.labels[t, z]
        if not (lab > 0).any():
            continue
        rows, cols = np.nonzero(lab > 0)
        img, lab64 = _resample_frame(cine.array[t, z], lab, (rows.mean(), cols.mean()), side, size)
        images.append(img)
        labels.append(lab64)
        has_epi.append(bool((lab == 2).any()))
        slices.append(int(z))
        phases.append(int(t))
    if not images:
        return empty
    return {"images": np.stack(images), "labels": np.stack(labels), "has_epi": np.array(has_epi),
            "slices": np.array(slices), "phases": np.array(phases), "source": str(base)}


def allowed_classes(labels: np.ndarray, partial: np.ndarray, has_epi: np.ndarray) -> np.ndarray:
    """bool ``(n, 5, H, W)``: the classes each pixel may be. Full labels: one class. Partial (real) labels: label 1
    and 2 are certain; elsewhere background or RV (and LV myocardium when the epicardium was not drawn)."""
    n, h, w = labels.shape
    out = np.zeros((n, CLASSES, h, w), dtype=bool)
    for c in range(CLASSES):
        out[:, c] = labels == c
    for i in np.nonzero(partial)[0]:
        outside = labels[i] == 0
        out[i, 3] |= outside
        out[i, 4] |= outside
        if not has_epi[i]:
            out[i, 2] |= outside
    return out


def augment(images: np.ndarray, allowed: np.ndarray, rng: np.random.Generator,
            padding: str = "zeros") -> tuple[Any, Any]:
    """Geometric + intensity augmentation (see the module docstring). Returns torch (n, 1, H, W) images and
    bool (n, 5, H, W) allowed classes. ``padding``: how the field is filled where rotation and shift leave it
    ("zeros": dark background, right for whole frames; "reflection": mirrored tissue, right for crops, whose
    borders cut through tissue)."""
    import torch
    import torch.nn.functional as F

    from ..metrics.features import normalise_frames

    n, h, w = images.shape
    x = normalise_frames(torch.from_numpy(images[:, None].astype(np.float32)))
    angle = rng.uniform(0, 2 * np.pi, n)
    scale = np.exp(rng.uniform(np.log(0.85), np.log(1.2), n))
    flip = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    shift = rng.uniform(-0.24, 0.24, (n, 2))
    theta = np.zeros((n, 2, 3))
    theta[:, 0, 0] = np.cos(angle) / scale * flip
    theta[:, 0, 1] = -np.sin(angle) / scale
    theta[:, 1, 0] = np.sin(angle) / scale * flip
    theta[:, 1, 1] = np.cos(angle) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(torch.from_numpy(theta).float(), [n, 1, h, w], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    a = F.grid_sample(torch.from_numpy(allowed).float(), grid, mode="nearest", padding_mode=padding,
                      align_corners=False) > 0.5
    a[:, 0] |= ~a.any(1)  # outside the original field: background
    gamma = torch.from_numpy(np.exp(rng.uniform(np.log(0.7), np.log(1.4), n))).float().view(-1, 1, 1, 1)
    x = x.clamp(min=0.0) ** gamma
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    coef = torch.from_numpy(rng.uniform(-0.3, 0.3, (n, 2))).float()
    x = x * torch.exp(coef[:, 0].view(-1, 1, 1, 1) * yy + coef[:, 1].view(-1, 1, 1, 1) * xx)
    sigma = rng.uniform(0.0, 0.04, n) * (rng.random(n) < 0.5)
    noise = torch.from_numpy(rng.standard_normal((n, 1, h, w)) * sigma[:, None, None, None]).float()
    return normalise_frames(x + noise), a


@register_spec("cardiac_features")
class CardiacFeaturesSpec:
    """Cardiac feature network (segmentation + phenotype regression) for cFID / cFVD / LPIPS-style metrics."""

    name = "cardiac_features"
    pipeline = "metrics"

    def build(self, config: dict) -> Any:
        from ..metrics.features import CardiacFeatureNet, FeatureNetConfig

        import torch

        # channels_last is ~30 % faster for these small convolutions on CPU (oneDNN); exports are made contiguous
        return CardiacFeatureNet(FeatureNetConfig.from_dict(config["model"])).to(memory_format=torch.channels_last)

    def _data(self, config: dict) -> dict:
        d = config["data"]
        first = int(d.get("first_seed", 0))
        return {"seeds": tuple(range(first, first + int(d.get("cases", 16)))), "size": int(d.get("size", 64)),
                "frames": int(d.get("frames", 10)), "slices": int(d.get("slices", 10)),
                "batch_size": int(d.get("batch_size", 32)), "real": bool(d.get("real", True)),
                "real_fraction": float(d.get("real_fraction", 0.1)),
                "real_heldout_slices": tuple(int(s) for s in d.get("real_heldout_slices", (3, 7))),
                "real_fov_mm": float(d.get("real_fov_mm", 190.0)), "view": str(d.get("view", "sax"))}

    def _real(self, d: dict, heldout: bool) -> dict:
        if not d["real"]:
            return sunnybrook_pool("/nonexistent", d["size"], d["real_fov_mm"])
        pool = sunnybrook_pool(str(sample_data_dir()), d["size"], d["real_fov_mm"])
        keep = np.isin(pool["slices"], d["real_heldout_slices"])
        keep = keep if heldout else ~keep
        return {k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in pool.items()}

    def _pool(self, d: dict, seeds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Phantom frames and labels of ``seeds`` as this network sees them."""
        return phantom_frame_pool(seeds, d["size"], d["frames"], d["slices"], d["view"])

    def batch(self, config: dict, step: int, rank: int, world: int) -> Any:
        import torch

        from ..metrics.phenotype import frame_phenotypes

        d = self._data(config)
        images, labels = self._pool(d, d["seeds"])
        real = self._real(d, heldout=False)
        rng = np.random.default_rng([int(config["train"]["seed"]), step, rank])
        n = d["batch_size"]
        is_real = (rng.random(n) < d["real_fraction"]) if len(real["images"]) else np.zeros(n, bool)
        idx_ph = rng.integers(0, len(images), n)
        idx_re = rng.integers(0, max(len(real["images"]), 1), n)
        imgs = np.where(is_real[:, None, None], real["images"][idx_re] if len(real["images"]) else 0, images[idx_ph])
        labs = np.where(is_real[:, None, None], real["labels"][idx_re] if len(real["labels"]) else 0, labels[idx_ph])
        has_epi = np.where(is_real, real["has_epi"][idx_re] if len(real["has_epi"]) else True, True)
        allowed = allowed_classes(labs.astype(np.uint8), is_real, has_epi)
        x, a = augment(imgs.astype(np.float32), allowed, rng, d.get("padding", "zeros"))
        # augmented labels: the single allowed class (full labels) or the certain LV labels (partial ones)
        certain = a.sum(1) == 1
        lab_aug = torch.where(certain, a.float().argmax(1), torch.zeros_like(a[:, 0], dtype=torch.long))
        phen = frame_phenotypes(lab_aug.numpy())
        phen_mask = np.ones_like(phen)
        phen_mask[is_real & ~has_epi, 1] = 0.0
        out = {"image": x, "allowed": a, "full": torch.from_numpy(~is_real),
               "phenotypes": torch.from_numpy(phen).float(), "phen_mask": torch.from_numpy(phen_mask).float()}
        return self._extend(out, d, rng)

    def _extend(self, batch: dict, d: dict, rng: np.random.Generator) -> dict:
        """Hook for subclasses: change the finished batch (the crop spec corrupts part of it)."""
        return batch

    def loss(self, model: Any, batch: Any, config: dict) -> tuple[Any, dict]:
        import torch
        import torch.nn.functional as F

        out = model(batch["image"].contiguous(memory_format=torch.channels_last))
        logp = F.log_softmax(out["seg"], 1)
        allowed = batch["allowed"]
        ce_pixel = -torch.logsumexp(logp.masked_fill(~allowed, -1e4), 1)
        if "anatomy" in batch:  # items whose anatomy a corruption destroyed train the quality head only
            anatomy = batch["anatomy"]
            ce = (ce_pixel.mean((-2, -1)) * anatomy).sum() / anatomy.sum().clamp(min=1)
        else:  # the whole-frame network: exactly the loss it was trained with
            anatomy = torch.ones(logp.shape[0], dtype=torch.bool, device=logp.device)
            ce = ce_pixel.mean()
        full = batch["full"] & anatomy
        dice_loss = torch.zeros((), device=logp.device)
        if bool(full.any()):
            p = logp[full].exp()[:, 1:]
            t = allowed[full].float()[:, 1:]
            inter = (p * t).sum((-2, -1))
            denom = p.sum((-2, -1)) + t.sum((-2, -1))
            dice_loss = 1.0 - ((2 * inter + 1.0) / (denom + 1.0)).mean()
        scale = torch.tensor(PHEN_SCALE, device=logp.device)
        phen_mask = batch["phen_mask"] * anatomy[:, None]
        err = ((out["phenotypes"] - batch["phenotypes"]) / scale) ** 2 * phen_mask
        phen = err.sum() / phen_mask.sum().clamp(min=1.0)
        total = ce + dice_loss + 0.2 * phen
        logs = {"ce": float(ce.detach()), "dice_loss": float(dice_loss.detach()), "phen_mse": float(phen.detach())}
        if "quality" in batch:
            q = F.cross_entropy(out["quality"], batch["quality"])
            total = total + q
            logs["quality_ce"] = float(q.detach())
        return total, logs

    def evaluate(self, model: Any, config: dict) -> dict:
        """Held-out phantom Dice per label (pooled over frames), phenotype agreement, real held-out Dice, CPU time."""
        from ..metrics.features import predict_phenotypes, segment_frames
        from ..metrics.phenotype import FRAME_PHENOTYPES, frame_phenotypes, pearson_r
        from ..metrics.segmentation import dice, mean_defined

        ev = config.get("eval", {})
        d = self._data(config)
        first = int(ev.get("first_seed", 1000))
        seeds = tuple(range(first, first + int(ev.get("cases", 4))))
        images, labels = self._pool(d, seeds)
        net = model.cpu().eval()
        start = time.time()
        pred = segment_frames(images, net)
        seconds = (time.time() - start) / len(images)
        per_label = dice(pred, labels, labels=(1, 2, 3, 4))
        phen_true = frame_phenotypes(labels)
        phen_pred = predict_phenotypes(images, net)
        phen = {}
        for i, name in enumerate(FRAME_PHENOTYPES):
            varied = np.ptp(phen_pred[:, i]) > 0 and np.ptp(phen_true[:, i]) > 0
            r = pearson_r(phen_pred[:, i], phen_true[:, i])[0] if varied else float("nan")
            phen[name] = {"mae": round(float(np.mean(np.abs(phen_pred[:, i] - phen_true[:, i]))), 4), "r": round(r, 4)}
        metrics = {"heldout_seeds": [int(s) for s in seeds], "heldout_frames": int(len(images)),
                   "dice": {str(k): round(v, 4) for k, v in per_label.items()},
                   "dice_mean": round(mean_defined(per_label.values()), 4), "phenotypes": phen}
        real = self._real(d, heldout=True)
        if len(real["images"]):
            rpred = segment_frames(real["images"], net)
            blood = dice(rpred == 1, real["labels"] == 1, labels=(1,))[1]
            epi = real["has_epi"]
            myo = dice(rpred[epi] == 2, real["labels"][epi] == 2, labels=(1,))[1] if epi.any() else float("nan")
            metrics["real_heldout"] = {"source": "Sunnybrook SCD0000101 (SC-HF-I-1), manual LV contours",
                                       "slices": [int(s) for s in sorted(set(real["slices"].tolist()))],
                                       "frames": int(len(real["images"])), "dice_lv_blood": round(blood, 4),
                                       "dice_lv_myo": round(myo, 4)}
        metrics["timing"] = {"cpu_s_per_frame": round(seconds, 5)}
        return self._evaluate_more(net, metrics, images, config)

    def _evaluate_more(self, net: Any, metrics: dict, images: np.ndarray, config: dict) -> dict:
        """Hook for subclasses: more held-out metrics on the evaluation ``images``."""
        return metrics

    def geometry(self, config: dict) -> dict:
        """The frames the network learned from (registry ``geometry``): the phantom's own automatic pixel of the
        training seeds in the config's view (single frames: no frame count)."""
        from ..phantom import PhantomConfig, make_case

        d = self._data(config)
        image = int(d.get("image_size", d["size"]))  # crop networks: the phantom image the crops come from
        pixels = [make_case(PhantomConfig(seed=s, size=image, frames=2, slices=1, view=d["view"],
                                          modalities=("cine",))).cine.spacing[0] for s in d["seeds"]]
        view = {"sax": "short-axis", "4ch": "four-chamber"}.get(d["view"], d["view"])
        crops = f"{d['size']}-px crops of " if "crop" in d else ""
        note = (f"single frames: {crops}phantom {view} view at its own pixel of seeds {d['seeds'][0]}-"
                f"{d['seeds'][-1]}" + ("; plus Sunnybrook frames" if d["real"] else ""))
        return {"pixel_mm": round(float(np.median(pixels)), 3),
                "pixel_mm_range": [round(float(min(pixels)), 3), round(float(max(pixels)), 3)],
                "matrix": d["size"], "frames": None, "frames_range": None, "note": note}

    def describe_data(self, config: dict) -> str:
        d = self._data(config)
        real = self._real(d, heldout=False)
        view = {"sax": "short-axis", "4ch": "four-chamber long-axis"}.get(d["view"], d["view"])
        text = (f"CardioGen phantom {view} cine frames, seeds {d['seeds'][0]}-{d['seeds'][-1]}, {d['size']}x{d['size']} px, "
                f"{d['frames']} frames x {d['slices']} slices per case (held-out evaluation seeds from 1000)")
        if len(real["images"]):
            text += (f"; plus {len(real['images'])} real Sunnybrook cine frames with manual LV contours (CC0, "
                     f"SCD0000101, slices other than {list(d['real_heldout_slices'])}), "
                     f"{d['real_fraction']:.0%} of batch items")
        else:
            text += "; no real frames (Sunnybrook sample data absent or disabled)"
        return text


@functools.lru_cache(maxsize=4)
def phantom_crop_pool(seeds: tuple[int, ...], crop: int, image_size: int, frames: int,
                      slices: int) -> tuple[np.ndarray, np.ndarray]:
    """LV-centred crops of phantom short-axis cine as the DENSE -> cine models see them: every frame of every slice
    through the LV (ED myocardium > 20 px), ``crop`` x ``crop`` pixels around the ED myocardium's centroid of the slice
    (:func:`cardiogen.models.video_data.lv_crop_origin`). float32 ``(n, crop, crop)`` images, uint8 labels (cached)."""
    from ..models.video_data import crop as crop_arr
    from ..models.video_data import lv_crop_origin
    from ..phantom import PhantomConfig, make_case

    images, labels = [], []
    for seed in seeds:
        case = make_case(PhantomConfig(seed=seed, size=image_size, frames=frames, slices=slices, modalities=("cine",)))
        lab = case.truth.masks.labels  # (t, z, y, x)
        for z in range(lab.shape[1]):
            myo = lab[0, z] == 2
            if myo.sum() <= 20:
                continue
            y0, x0 = lv_crop_origin(myo, crop)
            images.append(crop_arr(case.cine.array[:, z], y0, x0, crop))
            labels.append(crop_arr(lab[:, z], y0, x0, crop))
    return np.concatenate(images).astype(np.float32), np.concatenate(labels).astype(np.uint8)


@register_spec("cardiac_features_crop")
class CardiacFeaturesCropSpec(CardiacFeaturesSpec):
    """Crop-level cardiac feature network: the same network on the DENSE -> cine models' 32-pixel LV crops, with an
    image-quality head trained on corrupted crops (:mod:`cardiogen.metrics.corruptions`).

    Data (config section ``data``): phantom crops (:func:`phantom_crop_pool`; ``crop``, ``image_size``, ``frames``,
    ``slices``), real Sunnybrook frames cropped to ``real_fov_mm`` around the LV (as the base spec), the base spec's
    augmentation with mirrored borders (``padding: reflection``), then a fraction ``corrupt_fraction`` of the items
    corrupted with a kind drawn uniformly from the corruptions and a severity drawn uniformly from its range.
    Loss: the base loss on the items whose anatomy survives (clean, noise, blur) + cross-entropy of the quality head
    on every item. Evaluation adds the quality head's accuracy per kind and the cFID of corrupted held-out crops
    against clean ones, beside the floor (clean against clean crops of other held-out phantoms).
    """

    name = "cardiac_features_crop"

    def _data(self, config: dict) -> dict:
        d = config["data"]
        out = super()._data(config)
        crop = int(d.get("crop", 32))
        out.update(size=crop, crop=crop, image_size=int(d.get("image_size", 64)),
                   real_fov_mm=float(d.get("real_fov_mm", 88.0)), padding=str(d.get("padding", "reflection")),
                   corrupt_fraction=float(d.get("corrupt_fraction", 0.5)))
        return out

    def build(self, config: dict) -> Any:
        from ..errors import CardioGenInputError
        from ..metrics.corruptions import CORRUPTIONS

        quality = int(config["model"].get("quality", 0))
        if quality != len(CORRUPTIONS):
            raise CardioGenInputError("the crop network's quality head needs one class per corruption",
                                      expected=f"model.quality: {len(CORRUPTIONS)} ({', '.join(CORRUPTIONS)})",
                                      got=quality)
        return super().build(config)

    def _pool(self, d: dict, seeds: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        return phantom_crop_pool(seeds, d["crop"], d["image_size"], d["frames"], d["slices"])

    def _extend(self, batch: dict, d: dict, rng: np.random.Generator) -> dict:
        import torch

        from ..metrics.corruptions import ANATOMY_KEPT, CORRUPTIONS, SEVERITY, corrupt
        from ..metrics.features import normalise_frames

        n = batch["image"].shape[0]
        kinds = np.where(rng.random(n) < d["corrupt_fraction"], rng.integers(1, len(CORRUPTIONS), n), 0)
        images = batch["image"].clone()
        for i in np.nonzero(kinds)[0]:
            kind = CORRUPTIONS[kinds[i]]
            images[i:i + 1] = normalise_frames(corrupt(images[i:i + 1], kind, rng.uniform(*SEVERITY[kind]), rng))
        batch["image"] = images
        batch["quality"] = torch.from_numpy(kinds.astype(np.int64))
        batch["anatomy"] = torch.from_numpy(np.isin(kinds, [CORRUPTIONS.index(k) for k in ANATOMY_KEPT]))
        return batch

    def _evaluate_more(self, net: Any, metrics: dict, images: np.ndarray, config: dict) -> dict:
        """Quality accuracy per kind and cFID of corrupted vs clean held-out crops (mid severity, fixed seed)."""
        import torch

        from ..metrics.corruptions import CORRUPTIONS, SEVERITY, corrupt
        from ..metrics.features import cardiac_fid, normalise_frames, predict_quality

        rng = np.random.default_rng(0)
        half = len(images) // 2  # crops of the first half of the held-out cases against those of the second half
        a, b = images[:half], images[half:]
        x = normalise_frames(torch.from_numpy(b[:, None]))
        quality, cfid = {}, {"clean_vs_other_phantoms": round(cardiac_fid(a, b, net), 3)}
        for k, kind in enumerate(CORRUPTIONS):
            sev = float(np.mean(SEVERITY[kind]))
            moved = torch.cat([corrupt(x[i:i + 1], kind, sev, rng) for i in range(len(x))])
            quality[kind] = round(float((predict_quality(moved, net).argmax(1) == k).mean()), 4)
            if kind != "clean":
                cfid[kind] = round(cardiac_fid(a, moved, net), 3)
        metrics["quality_accuracy"] = quality
        metrics["cfid_corrupted_vs_clean"] = cfid
        return metrics

    def describe_data(self, config: dict) -> str:
        d = self._data(config)
        real = self._real(d, heldout=False)
        text = (f"CardioGen phantom short-axis cine, {d['crop']}x{d['crop']} px LV-centred crops of every LV slice and "
                f"frame of {d['image_size']} px phantoms, seeds {d['seeds'][0]}-{d['seeds'][-1]}, {d['frames']} frames "
                f"x {d['slices']} slices per case (held-out evaluation seeds from 1000); {d['corrupt_fraction']:.0%} "
                "of batch items corrupted (noise, blur, saturated noise, blotches, washout) for the quality head")
        if len(real["images"]):
            text += (f"; plus {len(real['images'])} real Sunnybrook cine frames with manual LV contours cropped to "
                     f"{d['real_fov_mm']:g} mm around the LV (CC0, SCD0000101, slices other than "
                     f"{list(d['real_heldout_slices'])}), {d['real_fraction']:.0%} of batch items")
        return text
