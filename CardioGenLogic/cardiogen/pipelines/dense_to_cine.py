"""``dense_to_cine``: DENSE in, synthetic cine out, guided by the DENSE motion (MFD-V2V, seed 000).

Steps: DENSE phase -> Lagrangian displacement (:mod:`cardiogen.motion.dense`) on the myocardium (the mask input, the
DENSE's contours, or the wall found on the images by :mod:`cardiogen.motion.dense_mask`; a mask whose phase is
incoherent is reported as a warning) -> one short-axis slice, in-plane,
resampled to the model's pixel size and frame count, cropped around the LV (contour centroid) -> STME features ->
video diffusion sampling (DDPM-1000 as in the seed, or a fast sampler; its first step, at zero signal-to-noise,
from the training-data mean: option ``mean_start``, see :mod:`cardiogen.nets.samplers`) -> cine crop resampled back
to the DENSE frame times, marked synthetic (description "SYNTHETIC ...", provenance with weights sha256, seed,
sampler, steps).

Every sample gets a quality check (option ``quality_check``, :func:`cardiogen.metrics.quality_summary`) by the
crop-level cardiac feature network (``cardiac-features-crop-32``): its quality head calls each model frame clean or
names its problem (noise, blur, saturated, blotches, washout; :mod:`cardiogen.metrics.corruptions`), and its
segmentation head looks for the LV. The shares of clean frames and of frames with an LV, and the main problem, are in
the sample's provenance (``quality``); a sample with less than :data:`QUALITY_MIN_CLEAN` of either is reported as a
warning (with ``mean_start`` off, the CPU-trained models failed for some seeds; a failed sample calls for another seed
or more samples).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..data import DenseSeries, Geometry, ImageSeries
from ..errors import CardioGenError, CardioGenInputError
from ..motion.dense_mask import LOW_COHERENCE, mask_or_auto
from . import Input, Option, Output, Pipeline, Progress, register_pipeline

QUALITY_NETWORK = "cardiac-features-crop-32"  #: registry id of the network of the per-sample quality check
QUALITY_MIN_CLEAN = 0.5  #: a sample with a smaller share of clean frames or of frames with an LV gets a warning


def _resample_time(arr: np.ndarray, times: np.ndarray, new_times: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation along ``axis`` from ``times`` to ``new_times`` (ms)."""
    moved = np.moveaxis(arr, axis, 0)
    idx = np.interp(new_times, times, np.arange(len(times)))
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, len(times) - 1)
    w = (idx - lo).reshape((-1,) + (1,) * (moved.ndim - 1))
    return np.moveaxis((1 - w) * moved[lo] + w * moved[hi], 0, axis)


def _zoom2d(arr: np.ndarray, factor: float, order: int = 1) -> np.ndarray:
    from scipy.ndimage import zoom

    if abs(factor - 1.0) < 1e-3:
        return arr
    return zoom(arr, [1.0] * (arr.ndim - 2) + [factor, factor], order=order)


def dense_motion_for_model(dense: DenseSeries, slice_index: int | None, size: int, frames: int, pixel_mm: float,
                           mask: Any = None) -> dict:
    """DENSE -> motion ``(2, frames, size, size)`` in model voxels around the LV, plus the crop geometry, the
    per-frame myocardial masks ``(t, z, y, x)`` on the DENSE grid, the mask's source and its mean phase coherence
    (``mask``: as :func:`~cardiogen.motion.dense.dense_displacement`, ``"auto"`` included)."""
    from ..models.video_data import crop, lv_crop_origin
    from ..motion.dense import dense_displacement, dense_to_lagrangian

    eul, masks = dense_displacement(dense, mask, return_frame_masks=True)
    disp = dense_to_lagrangian(eul, masks)
    nz = dense.magnitude.shape[1]
    ref_masks = np.asarray(masks)[disp.reference_frame]
    if slice_index is None:
        counts = ref_masks.reshape(nz, -1).sum(axis=1)
        lv = np.flatnonzero(counts > 0)
        slice_index = int(lv[len(lv) // 2]) if lv.size else nz // 2
    if not 0 <= slice_index < nz:
        raise CardioGenInputError("slice index out of range", expected=f"0..{nz - 1}", got=slice_index)
    from ..models.video_data import inplane_voxels

    sx, sy, _ = dense.geometry.spacing
    if abs(sx - sy) > 1e-3:
        raise CardioGenInputError("DENSE pixels must be square for dense_to_cine", got=(sx, sy))
    factor = sx / pixel_mm
    motion = inplane_voxels(disp, dense.magnitude, slice_index) * factor          # (2, T, H, W) model voxels
    motion = _zoom2d(motion, factor)
    roi = _zoom2d(ref_masks[slice_index].astype(np.float32), factor, order=0) > 0.5
    y0, x0 = lv_crop_origin(roi, size)
    motion = crop(motion, y0, x0, size)
    times = dense.frame_times
    new_times = np.linspace(times[0], times[-1], frames)
    motion = _resample_time(motion, times, new_times, axis=1).astype(np.float32)
    return {"motion": motion, "slice": slice_index, "crop_origin": (y0, x0), "zoom": factor, "model_times": new_times,
            "frame_masks": masks, "mask_source": eul.provenance["mask_source"],
            "mask_phase_coherence": eul.provenance["mask_phase_coherence"]}


#: Classifier-free guidance of the motion condition (Ho & Salimans 2022; MFD-V2V trains with 10 % condition drop;
#: seed 000 itself samples the conditioned model without guidance). Default 1 (none), chosen by the rule of
#: ``benchmarks/dense_to_cine_guidance.py`` on 40 validation phantoms (seeds 2000-2039, neither training nor benchmark
#: cases; docs/benchmarks.md): every scale above 1 is worse on cFID and Inception-FID with 95 % confidence (paired
#: bootstrap; guidance 4: cFID 2.58 vs 2.40, Inception-FID 41.6 vs 39.5) for a small gain in motion fidelity (EPE
#: 1.215 vs 1.249 mm) at twice the network evaluations. The earlier default, 4, came from 6 phantoms, too few to see
#: that cost. Scales above 1 remain an option for users who favour motion fidelity.
DEFAULT_GUIDANCE = 1.0
#: Default sampler and steps: DDIM-25 (seed 000 samples with DDPM-1000, available as ``sampler="ddpm"``). On 40
#: validation phantoms at the default guidance (``benchmarks/dense_to_cine_sampler.py``, docs/benchmarks.md) DDIM-25
#: is 46x faster than DDPM-1000 and better than it on every metric with 95 % confidence (cFID 2.40 vs 5.13,
#: Inception-FID 39.5 vs 61.7, motion EPE 1.249 vs 1.409 mm, LV Dice 0.93 vs 0.81); of the samplers tried it has the
#: lowest Inception-FID and a motion error within 0.013 mm of the lowest (DDIM-50: cFID 1.92 at twice the time, EPE
#: 1.272 mm). That benchmark's rule, fixed before the run, picks DPM-Solver++(2M)-10 (185x faster, cFID 2.11, but
#: Inception-FID 47.9 and EPE 1.331 mm); its notes say why the default does not follow it.
DEFAULT_SAMPLER = "ddim"
DEFAULT_STEPS = 25


@register_pipeline
class DenseToCinePipeline(Pipeline):
    name = "dense_to_cine"
    title = "DENSE → cine (MFD-V2V)"
    description = ("Synthesise a cine video from DENSE with motion-feature-guided video diffusion (seed 000): the "
                   "DENSE displacement conditions the diffusion U-Net through STME and cross-attention.")
    inputs = (Input("dense", "DenseSeries", help="DENSE magnitude + phase with encoding frequency"),
              Input("mask", "Segmentation", required=False, help="LV myocardium (else the DENSE contours)"))
    outputs = (Output("cine", "ImageSeries", help="synthetic cine crop around the LV"),)
    options = (Option("sampler", DEFAULT_SAMPLER, choices=("ddpm", "ddim", "dpmpp_2m")),
               Option("steps", DEFAULT_STEPS, minimum=1, maximum=1000),
               Option("seed", 0, minimum=0),
               Option("samples", 1, minimum=1, maximum=16),
               Option("slice", -1, minimum=-1, help="short-axis slice (-1: mid-ventricular)"),
               Option("myocardium", "contours", choices=("contours", "automatic"),
                      help="where DENSE motion is read: the mask input or the DENSE's contours (found on the images "
                           "when there are none), or always found on the images"),
               Option("guidance", DEFAULT_GUIDANCE, minimum=0.0, maximum=10.0,
                      help="classifier-free guidance scale of the motion condition (1: none, the default, chosen on "
                           "validation phantoms; above 1: closer motion, slightly less cine-like frames)"),
               Option("max_batch", 4, minimum=1, maximum=64, help="samples per network batch (memory budget)"),
               Option("mean_start", True, choices=(True, False),
                      help="take the first sampling step (zero signal-to-noise) from the training-data mean that "
                           "ships with the weights, not from the network's unusable x0 estimate there"),
               Option("quality_check", True, choices=(True, False),
                      help="check every sample's frames for noise, blur, saturation, blotches and washout (cardiac "
                           "feature network's quality head)"))
    synthetic_outputs = True

    def _load(self) -> None:
        from ..device import resolve_device
        from ..models.mfd_v2v import MFDV2VConfig, build_model, load_weights
        from ..weights import Registry

        registry = Registry()
        entry = registry.get(self.weights) if self.weights else registry.default_for(self.name)
        cfg = dict(entry.config.get("model", {}))
        data = entry.config.get("data", {})
        cfg.setdefault("size", int(data.get("size", 32)))
        cfg.setdefault("frames", int(data.get("frames", 16)))
        self.entry = entry
        self.torch_device = resolve_device(self.device)
        self.model = build_model(MFDV2VConfig.from_dict(cfg)).to(self.torch_device).eval()
        self.x0_prior = load_weights(self.model, registry.load_state_dict(entry.id, device=str(self.torch_device)))

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        import torch

        from ..nets.samplers import get_sampler
        from ..progress import report, sub_progress

        dense: DenseSeries = inputs["dense"]
        cfg = self.model.config
        mask = inputs["mask"].mask("LV myocardium") if "mask" in inputs else None
        mask = mask_or_auto(dense, mask, automatic=options["myocardium"] == "automatic")
        found = isinstance(mask, str)
        report(progress, 0.02, "DENSE phase -> displacement" + (" (myocardium found on the images)" if found else ""))
        prep = dense_motion_for_model(dense, None if options["slice"] < 0 else int(options["slice"]), cfg.size,
                                      cfg.frames, cfg.pixel_mm, mask)
        warnings = []
        if prep["mask_phase_coherence"] < LOW_COHERENCE:
            warnings.append(f"the myocardial mask's DENSE phase is incoherent (mean coherence "
                            f"{prep['mask_phase_coherence']:.2f} < {LOW_COHERENCE}): it lies largely on blood, lung "
                            "or air, so the motion read there is mostly noise; check the contours or run with "
                            "myocardium=automatic")
            report(progress, 0.05, "warning: " + warnings[-1])
        if options["mean_start"] and self.x0_prior is None:
            warnings.append(f"weights {self.entry.id} carry no training-data mean (exported before it was stored): the "
                            "first sampling step comes from the network, which can wash samples out; re-export the "
                            "weights with this version's training code to add it")
            report(progress, 0.06, "warning: " + warnings[-1])
        n = int(options["samples"])
        motion = torch.from_numpy(prep["motion"])[None].repeat(n, 1, 1, 1, 1).to(self.torch_device)
        sampler = get_sampler(options["sampler"])
        steps = int(options["steps"])
        start = time.time()
        with torch.inference_mode():
            cond = {"motion": motion} if self.model.conditioned else None
            uncond = {} if cond and options["guidance"] != 1.0 else None
            kwargs = dict(generator=int(options["seed"]), steps=steps, cond=cond,
                          progress=sub_progress(progress, 0.1, 0.95), device=self.torch_device,
                          max_batch=int(options["max_batch"]), clip_denoised=1.5,
                          x0_prior=self.x0_prior if options["mean_start"] else None)
            if uncond is not None:
                kwargs.update(uncond=uncond, guidance_scale=float(options["guidance"]))
            try:
                video = sampler(self.model, (n, 1, cfg.frames, cfg.size, cfg.size), self.model.schedule(), **kwargs)
            except torch.cuda.OutOfMemoryError as exc:
                raise CardioGenError(
                    f"GPU out of memory while sampling {n} video(s) on {self.torch_device}: run again on the CPU "
                    "(device=cpu) or with fewer samples / a smaller max_batch") from exc
        seconds = time.time() - start
        frames = video[:, 0].cpu().numpy()  # (n, T, H, W) in ~[-1, 1]
        quality, skipped = _quality_check(frames) if options["quality_check"] else ([None] * n, None)
        if skipped:
            warnings.append(skipped)
            report(progress, 0.96, "warning: " + skipped)
        sample_warnings = [list(warnings) for _ in range(n)]
        for k, q in enumerate(quality):
            problems = []
            if q is not None and q["clean_frames"] < QUALITY_MIN_CLEAN:
                problems.append(f"only {q['clean_frames']:.0%} of its frames look clean (mostly {q['main_problem']})")
            if q is not None and q["lv_frames"] < QUALITY_MIN_CLEAN:
                problems.append(f"the LV is found in only {q['lv_frames']:.0%} of its frames")
            if problems:
                sample_warnings[k].append(f"sample {k + 1}: {' and '.join(problems)} (quality check); such failures "
                                          "depend on the seed: draw another seed or more samples")
                report(progress, 0.96, "warning: " + sample_warnings[k][-1])
        frames = _resample_time(frames, prep["model_times"], dense.frame_times, axis=1)
        frames = (frames + 1.0) * 0.5  # display range [0, 1] (arbitrary units, like MR)
        geometry = _crop_geometry(dense.geometry, prep["slice"], prep["crop_origin"], cfg.pixel_mm)
        results = {}
        for k in range(n):
            cine = ImageSeries(frames[k][:, None], geometry, frame_times=dense.frame_times, modality="cine",
                               description=f"DENSE to cine (MFD-V2V) slice {prep['slice']} sample {k + 1}")
            results["cine" if k == 0 else f"cine_{k + 1}"] = cine.mark_synthetic(
                self.name, weights=self.entry.id, weights_sha256=self.entry.sha256, seed=int(options["seed"]),
                sample=k, sampler=options["sampler"], steps=steps, guidance=float(options["guidance"]),
                mean_start=bool(options["mean_start"] and self.x0_prior is not None),
                device=str(self.torch_device),
                seconds=round(seconds, 2), source_slice=prep["slice"], myocardium=prep["mask_source"],
                mask_phase_coherence=prep["mask_phase_coherence"], quality=quality[k], warnings=sample_warnings[k])
        report(progress, 1.0, "done")
        return results


def _quality_check(frames: np.ndarray) -> tuple[list, str | None]:
    """Per video of ``frames`` ``(n, T, H, W)`` (model grid): :func:`cardiogen.metrics.quality_summary` with the
    crop-level network, and None; or None for every video and the reason when that network cannot be loaded (not
    registered, or its file fails the sha256 check)."""
    from ..errors import CardioGenWeightsError
    from ..metrics import load_feature_network, quality_summary

    try:
        net = load_feature_network(QUALITY_NETWORK)
    except CardioGenWeightsError as exc:
        return [None] * len(frames), f"quality check skipped: {exc}"
    return [quality_summary(video, net) for video in frames], None


def _crop_geometry(geometry: Geometry, z: int, origin_yx: tuple[int, int], pixel_mm: float) -> Geometry:
    """Geometry of the model crop: same orientation, pixel size ``pixel_mm``, placed on slice ``z``."""
    d = np.asarray(geometry.direction)
    y0, x0 = origin_yx
    world = np.asarray(geometry.origin) + d @ np.array([x0 * pixel_mm, y0 * pixel_mm, z * geometry.spacing[2]])
    return Geometry(spacing=(pixel_mm, pixel_mm, geometry.spacing[2]), origin=world, direction=d)
