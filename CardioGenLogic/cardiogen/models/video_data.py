"""Video training data for the DENSE -> cine models: LV-centred crops of phantom cine with their motion.

Each sample is one short-axis slice through the LV over one cardiac cycle, cropped to ``size`` × ``size`` pixels
around the LV centroid (ED masks), with

* ``cine``: ``(1, T, H, W)`` intensities scaled to [-1, 1] by the video's 1st / 99th percentiles,
* ``motion``: ``(2, T, H, W)`` in-plane Lagrangian displacement in crop voxels (x, y) measured by LTMA on the cine
  (what MFD-V2V trains with; unpaired with DENSE),
* ``truth_motion``: the phantom's true in-plane displacement in the same units (for evaluation),
* ``dense_mag``: the DENSE magnitude crop (for the CycleGAN-style baseline), ``myo``: ED myocardium mask ``(H, W)``.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..data import DisplacementSeries, ImageSeries


def lv_crop_origin(mask: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left (y0, x0) of a ``size`` square centred on the mask centroid, clamped to the image."""
    ny, nx = mask.shape
    if mask.any():
        yy, xx = np.nonzero(mask)
        cy, cx = float(yy.mean()), float(xx.mean())
    else:
        cy, cx = (ny - 1) / 2, (nx - 1) / 2
    y0 = int(round(cy - size / 2))
    x0 = int(round(cx - size / 2))
    return max(0, min(ny - size, y0)), max(0, min(nx - size, x0))


def crop(arr: np.ndarray, y0: int, x0: int, size: int) -> np.ndarray:
    """Crop the last two axes (edge-padded when the image is smaller than ``size``)."""
    ny, nx = arr.shape[-2:]
    if ny < size or nx < size:
        pad = [(0, 0)] * (arr.ndim - 2) + [(0, max(0, size - ny)), (0, max(0, size - nx))]
        arr = np.pad(arr, pad, mode="edge")
    return arr[..., y0 : y0 + size, x0 : x0 + size]


def normalise_minus1_1(video: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(video, [1, 99])
    return np.clip(2.0 * (video - lo) / max(hi - lo, 1e-6) - 1.0, -1.5, 1.5).astype(np.float32)


def myocardial_motion(motion: np.ndarray, myo: np.ndarray, dilate: int = 1) -> np.ndarray:
    """Motion ``(..., 2, T, H, W)`` kept only on the ED myocardium ``(..., H, W)`` grown by ``dilate`` pixels, zero
    elsewhere: what DENSE measures (its Lagrangian displacement lives on the union of the frame-wise myocardial masks,
    about one pixel wider than the ED myocardium on the phantom), so that a model trained on LTMA motion sees at
    training the same kind of condition that DENSE gives it at inference."""
    from scipy.ndimage import binary_dilation

    myo = np.asarray(myo, dtype=bool)
    if dilate > 0:
        structure = np.zeros((3,) * myo.ndim, dtype=bool)
        structure[(1,) * (myo.ndim - 2)] = [[False, True, False], [True, True, True], [False, True, False]]
        myo = binary_dilation(myo, structure=structure, iterations=dilate)
    keep = myo[..., None, None, :, :]
    return (np.asarray(motion) * keep).astype(np.float32)


def inplane_voxels(disp: DisplacementSeries, series: ImageSeries, z: int) -> np.ndarray:
    """In-plane displacement of slice ``z`` in voxel units ``(2, T, H, W)`` (x, y) from LPS mm."""
    d = series.geometry.direction
    sx, sy, _ = series.geometry.spacing
    u = disp.array[:, :, z]  # (T, 3, H, W)
    ux = np.einsum("k,tkyx->tyx", d[:, 0], u) / sx
    uy = np.einsum("k,tkyx->tyx", d[:, 1], u) / sy
    return np.stack([ux, uy]).astype(np.float32)


#: LTMA weights that gave the motion features the shipped DENSE -> cine models were trained on; pinned so that a
#: newer default registration model (``ltma-cine-64``) does not change their training data or their benchmark.
MOTION_WEIGHTS = "ltma-phantom-64"


@functools.lru_cache(maxsize=4)
def phantom_video_pool(seeds: tuple[int, ...], size: int = 32, frames: int = 16, image_size: int = 64,
                       slices: int = 10, slices_per_case: int = 3, with_dense: bool = False) -> dict[str, Any]:
    """Arrays for ``seeds``: the ``slices_per_case`` mid-ventricular slices of each case (see module docstring)."""
    from ..motion.register import load_ltma, register_learned
    from ..phantom import PhantomConfig, make_case

    model, sha = load_ltma(MOTION_WEIGHTS)
    keys = ("cine", "motion", "truth_motion", "myo") + (("dense_mag",) if with_dense else ())
    out: dict[str, list] = {k: [] for k in keys}
    ids = []
    for seed in seeds:
        modalities = ("cine", "dense") if with_dense else ("cine",)
        case = make_case(PhantomConfig(seed=seed, size=image_size, frames=frames, slices=slices,
                                       modalities=modalities))
        myo = case.truth.masks.labels[0] == 2
        lv_slices = np.flatnonzero(myo.reshape(myo.shape[0], -1).sum(axis=1) > 20)
        if lv_slices.size == 0:
            continue
        mid = lv_slices[len(lv_slices) // 2]
        half = slices_per_case // 2
        chosen = [z for z in range(mid - half, mid - half + slices_per_case) if z in set(lv_slices.tolist())]
        disp = register_learned(case.cine, model, device="cpu")
        for z in chosen:
            y0, x0 = lv_crop_origin(myo[z], size)
            out["cine"].append(normalise_minus1_1(crop(case.cine.array[:, z], y0, x0, size))[None])
            out["motion"].append(crop(inplane_voxels(disp, case.cine, z), y0, x0, size))
            out["truth_motion"].append(crop(inplane_voxels(case.truth.displacement, case.cine, z), y0, x0, size))
            out["myo"].append(crop(myo[z], y0, x0, size))
            if with_dense:
                out["dense_mag"].append(normalise_minus1_1(crop(case.dense.magnitude.array[:, z], y0, x0, size))[None])
            ids.append((seed, int(z)))
    arrays = {k: np.stack(v).astype(np.float32 if k != "myo" else bool) for k, v in out.items()}
    arrays["ids"] = ids
    arrays["ltma_sha256"] = sha
    return arrays
