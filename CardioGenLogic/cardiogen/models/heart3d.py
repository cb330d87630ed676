"""Whole-heart short-axis stacks with their segmentation, for the latent diffusion of seed 001 (chapters 5-6).

Pieces (the network is :class:`cardiogen.nets.video_vae.VideoVAE` with the stack's slices on its "T" axis):

* :func:`stack_pool` — phantom subjects rendered once as a short-axis cine stack (``slices`` × ``size``², the
  phantom's own geometry, e.g. 8 slices of about 13 mm and 2.6 mm pixels), kept at end-diastole (frame 0, the R
  wave) and end-systole (the frame with the smallest LV blood pool), with the true label maps;
* :func:`to_input` — the autoencoder's input: the image and the one-hot mask stacked in channels (the seed stacks
  image and mask in the channel dimension; one-hot keeps classes categorical), ``(B, 1 + K, S, H, W)``;
* :func:`heart_ae_loss` — chapter 5's loss: L1 on the image channel + sparse categorical cross-entropy of the mask
  logits + β·KL (β about 1e-4);
* :func:`split_output` / :func:`reconstruction_metrics` — decoded image and labels; SSIM, PSNR of the images and
  Dice, HD95, ASSD of the masks per class (table 5.1's autoencoder row: SSIM 0.78, PSNR 23.9 dB, Dice 0.91).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

#: Mask classes (the phantom's standard labels): 0 background, 1 LV blood, 2 LV myocardium, 3 RV blood,
#: 4 RV myocardium.
CLASSES = ("background", "LV blood pool", "LV myocardium", "RV blood pool", "RV myocardium")
NUM_CLASSES = len(CLASSES)
PHASES = ("ed", "es")


def subject_config(seed: int, slices: int = 8, size: int = 64, frames: int = 20) -> Any:
    """The :class:`~cardiogen.phantom.PhantomConfig` of one subject's short-axis cine stack."""
    from ..phantom import PhantomConfig

    return PhantomConfig(seed=int(seed), size=int(size), frames=int(frames), slices=int(slices), modalities=("cine",))


def stack_labels(labels: np.ndarray) -> np.ndarray:
    """Phantom label maps → the mask classes (:data:`CLASSES`): every other tissue is background."""
    lab = np.asarray(labels)
    return np.where(lab < NUM_CLASSES, lab, 0).astype(np.uint8)


def es_frame(labels: np.ndarray) -> int:
    """End-systole of a label cine ``(T, S, H, W)``: the frame with the smallest LV blood pool."""
    return int(np.argmin((np.asarray(labels) == 1).sum(axis=(1, 2, 3))))


@functools.lru_cache(maxsize=4)
def stack_pool(seeds: tuple[int, ...], slices: int = 8, size: int = 64, phases: tuple[str, ...] = PHASES) -> dict:
    """Phantom short-axis stacks at the requested phases.

    Returns:
        dict: ``image`` float32 ``(N, S, H, W)`` in [-1, 1] (per subject, 1st-99th percentile of its cine),
        ``labels`` uint8 ``(N, S, H, W)`` (:data:`CLASSES`), ``spacing`` ``(N, 3)`` (x, y, z mm), ``seed`` and
        ``phase`` ``(N,)``, N = len(seeds) × len(phases).
    """
    from ..phantom import make_case
    from .video_data import normalise_minus1_1

    bad = set(phases) - set(PHASES)
    if bad:
        raise ValueError(f"phases must be among {PHASES}, got {sorted(bad)}")
    images, labels, spacing, who, phase = [], [], [], [], []
    for seed in seeds:
        case = make_case(subject_config(seed, slices, size))
        cine = normalise_minus1_1(case.cine.array)
        lab = case.truth.masks.labels
        frames = {"ed": 0, "es": es_frame(lab)}
        for ph in phases:
            images.append(cine[frames[ph]])
            labels.append(stack_labels(lab[frames[ph]]))
            spacing.append(tuple(float(v) for v in case.cine.geometry.spacing))
            who.append(int(seed))
            phase.append(ph)
    return {"image": np.stack(images).astype(np.float32), "labels": np.stack(labels), "spacing": np.asarray(spacing),
            "seed": np.asarray(who), "phase": np.asarray(phase)}


def to_input(image: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(B, 1 + K, S, H, W)`` float32: the image ``(B, S, H, W)`` and the one-hot labels ``(B, S, H, W)``."""
    img = torch.as_tensor(np.asarray(image, dtype=np.float32))
    lab = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    if img.ndim != 4 or tuple(img.shape) != tuple(lab.shape):
        raise ValueError(f"image and labels must both be (B, S, H, W), got {tuple(img.shape)} and {tuple(lab.shape)}")
    if int(lab.min()) < 0 or int(lab.max()) >= NUM_CLASSES:
        raise ValueError(f"labels must be in 0..{NUM_CLASSES - 1}, got {int(lab.min())}..{int(lab.max())}")
    onehot = F.one_hot(lab, NUM_CLASSES).permute(0, 4, 1, 2, 3).float()
    return torch.cat([img[:, None], onehot], dim=1)


def split_output(recon: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A decoded ``(B, 1 + K, S, H, W)`` → image ``(B, S, H, W)`` (clamped to [-1, 1]) and mask logits
    ``(B, K, S, H, W)``."""
    return recon[:, 0].clamp(-1.0, 1.0), recon[:, 1:]


def heart_ae_loss(out: Any, x: torch.Tensor, labels: torch.Tensor, beta: float = 1e-4,
                  mask_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Chapter 5's autoencoder loss: ``L1(image) + w · CE(mask logits, labels) + β · KL`` (each a mean per element;
    ``out`` a :class:`~cardiogen.nets.video_vae.VAEOutput`, ``x`` the input of :func:`to_input`, ``labels``
    ``(B, S, H, W)`` int)."""
    from ..nets.video_vae import kl_divergence

    l1 = (out.recon[:, 0] - x[:, 0]).abs().mean()
    ce = F.cross_entropy(out.recon[:, 1:], labels.long())
    kl = kl_divergence(out.mu, out.logvar)
    total = l1 + mask_weight * ce + beta * kl
    return total, {"l1": float(l1.detach()), "ce": float(ce.detach()), "kl": float(kl.detach())}


def decode_stacks(vae: Any, z: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Latents ``(B, C, S', h, w)`` → images ``(B, S, H, W)`` in [-1, 1] and labels ``(B, S, H, W)`` uint8."""
    with torch.no_grad():
        image, logits = split_output(vae.decode(z))
    return image.numpy(), logits.argmax(dim=1).numpy().astype(np.uint8)


def reconstruct(vae: Any, image: np.ndarray, labels: np.ndarray, batch: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Posterior-mean reconstructions (images, labels) of stacks ``(N, S, H, W)``."""
    mu = encode_stacks(vae, image, labels, batch)
    parts = [decode_stacks(vae, mu[i:i + batch]) for i in range(0, len(mu), batch)]
    return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])


def reconstruction_metrics(vae: Any, image: np.ndarray, labels: np.ndarray, spacing: np.ndarray,
                           classes: Sequence[int] = (1, 2, 3, 4)) -> dict:
    """Per stack, then mean ± SD: SSIM and PSNR of the decoded images (2D per slice, data range 2 on [-1, 1]); Dice,
    HD95 and ASSD (mm, 3D with the stack's spacing) of the decoded masks per class."""
    from ..metrics.image import psnr, ssim
    from ..metrics.segmentation import assd, dice, hd95

    rec_img, rec_lab = reconstruct(vae, image, labels)
    rows: dict[str, list] = {"ssim": [], "psnr_db": []}
    per_class: dict[str, dict[str, list]] = {CLASSES[c]: {"dice": [], "hd95_mm": [], "assd_mm": []} for c in classes}
    for k in range(len(image)):
        rows["ssim"].append(float(ssim(rec_img[k], image[k], data_range=2.0, win_size=7)))
        rows["psnr_db"].append(float(psnr(rec_img[k], image[k], data_range=2.0)))
        sp = tuple(spacing[k])
        d, h, a = (dice(rec_lab[k], labels[k], classes), hd95(rec_lab[k], labels[k], sp, classes),
                   assd(rec_lab[k], labels[k], sp, classes))
        for c in classes:
            per_class[CLASSES[c]]["dice"].append(d[c])
            per_class[CLASSES[c]]["hd95_mm"].append(h[c])
            per_class[CLASSES[c]]["assd_mm"].append(a[c])

    def stat(values: list) -> dict:
        """Mean and SD of the finite values (None when there are none: a class absent from every stack)."""
        v = np.asarray(values, float)
        v = v[np.isfinite(v)]
        return {"mean": float(v.mean()) if v.size else None, "sd": float(v.std()) if v.size else None,
                "n": int(v.size)}

    return {**{k: stat(v) for k, v in rows.items()},
            "classes": {name: {k: stat(v) for k, v in m.items()} for name, m in per_class.items()},
            "dice_mean": float(np.nanmean([np.nanmean(m["dice"]) for m in per_class.values()
                                           if np.isfinite(m["dice"]).any()]))}


def encode_stacks(vae: Any, image: np.ndarray, labels: np.ndarray, batch: int = 8) -> torch.Tensor:
    """Posterior means ``(N, C, S', h, w)`` of stacks ``(N, S, H, W)`` with their labels."""
    out = []
    with torch.no_grad():
        for i in range(0, len(image), batch):
            out.append(vae.encode(to_input(image[i:i + batch], labels[i:i + batch]))[0])
    return torch.cat(out)


def segment_stacks(images: np.ndarray, network: Any) -> np.ndarray:
    """Labels ``(N, S, H, W)`` of stacks ``(N, S, H, W)`` by a 2D cardiac feature network, slice by slice, brought
    back (nearest) from the network's grid to the stack's."""
    from ..metrics.features import segment_frames

    n, s, h, w = images.shape
    seg = torch.from_numpy(segment_frames(images.reshape(-1, h, w), network)).float()[:, None]
    if seg.shape[-2:] != (h, w):
        seg = F.interpolate(seg, size=(h, w), mode="nearest")
    return seg[:, 0].numpy().astype(np.uint8).reshape(n, s, h, w)


def load_heart_ae(model_id: str = "heart-ae-phantom-64", device: str = "cpu") -> Any:
    """A registered ``heart_ae`` (evaluation mode) from the weights registry."""
    from ..nets.video_vae import VideoVAE, VideoVAEConfig
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(model_id)
    vae = VideoVAE(VideoVAEConfig.from_dict({**entry.config.get("model", {}), "in_channels": 1 + NUM_CLASSES}))
    vae.load_state_dict(reg.load_state_dict(model_id, device=device))
    return vae.to(device).eval()


def describe(seeds: Sequence[int], slices: int, size: int) -> str:
    return (f"CardioGen phantom short-axis cine stacks ({slices} slices × {size}², the phantom's geometry) at "
            f"end-diastole and end-systole with their true label maps (LV and RV blood pool and myocardium), seeds "
            f"{seeds[0]}-{seeds[-1]} (held-out evaluation seeds from 1000)")


#: The Sunnybrook cases in ../shared/data/cine_sunnybrook (cine folder, contour folder).
SUNNYBROOK_CASES = (("SCD0000101", "SC-HF-I-1"), ("SCD0000201", "SC-HF-I-2"), ("SCD0000401", "SC-HF-I-5"))


def sunnybrook_stacks(root: Any, pixel_mm: float, slices: int = 8, size: int = 64) -> dict:
    """Real short-axis stacks for the autoencoder (issue 20.1): each Sunnybrook case's frame with both LV contours
    (end-diastole), its ``slices`` contoured slices nearest the middle of the contoured range, resampled in-plane to
    ``pixel_mm`` (bilinear; labels nearest) and cropped to ``size``² around the LV. Labels: LV blood pool and LV
    myocardium from the manual contours; the RV is not contoured, so it is background in the mask (a difference from
    the phantom that the evaluation names).

    Returns:
        dict like :func:`stack_pool`'s (``image`` in [-1, 1] per case, ``labels``, ``spacing``) plus ``case`` names;
        cases with fewer than ``slices`` contoured slices are left out.
    """
    from pathlib import Path

    from scipy import ndimage

    from ..io.contours import read_sunnybrook_contours
    from ..io.dicom_io import read_dicom_series
    from .video_data import normalise_minus1_1

    images, labels, spacing, names = [], [], [], []
    for series, contours in SUNNYBROOK_CASES:
        cine = read_dicom_series(Path(root) / series)
        seg = read_sunnybrook_contours(Path(root) / "contours" / contours, cine)
        myo = (seg.labels == 2).any(axis=(2, 3))
        t = int(np.argmax(myo.sum(axis=1)))
        zs = np.flatnonzero(myo[t])
        if len(zs) < slices:
            continue
        start = int(zs[0] + (len(zs) - slices) // 2)
        img = normalise_minus1_1(cine.array[t, start:start + slices])
        lab = seg.labels[t, start:start + slices]
        sx = float(cine.geometry.spacing[0])
        factor = sx / float(pixel_mm)
        img = np.stack([ndimage.zoom(s, factor, order=1) for s in img])
        lab = np.stack([ndimage.zoom(s, factor, order=0) for s in lab])
        cy, cx = (int(round(v)) for v in np.argwhere(lab > 0)[:, 1:].mean(0))
        half = size // 2
        pad = [(0, 0), (half, half), (half, half)]
        img = np.pad(img, pad, constant_values=-1.0)[:, cy:cy + size, cx:cx + size]
        lab = np.pad(lab, pad)[:, cy:cy + size, cx:cx + size]
        images.append(img.astype(np.float32))
        labels.append(stack_labels(lab))
        spacing.append((float(pixel_mm), float(pixel_mm), float(cine.geometry.spacing[2])))
        names.append(series)
    return {"image": np.stack(images), "labels": np.stack(labels), "spacing": np.asarray(spacing), "case": names}
