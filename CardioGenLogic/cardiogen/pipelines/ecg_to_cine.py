"""``ecg_to_cine``: a synthetic four-chamber cine of one cardiac cycle from a 12-lead ECG (ECGFlowCMR, seed 003).

The ECG (any reader: DICOM waveform, WFDB, CSV; any rate; leads mapped by the front end) goes through
:func:`cardiogen.ecg_frontend.prepare` and the frozen PA-MAE; one complete cycle of its features, aligned by the
predicted phase, and the record's mean feature condition the rectified flow, which is integrated with Euler steps
from the anatomical template plus noise; the VAE decodes the latent. The cine spans one R-R interval of the ECG
(frame 0 at the R peak whose time, on the ECG's own time axis, the provenance records as ``r_peak_ms``), on the
generator's own grid (64 pixels of 2.8 mm, one four-chamber plane).

Refused (``CardioGenInputError``): an ECG whose leads cannot be mapped to 12, one without two R peaks, a PA-MAE phase
that holds no complete cycle or whose cycle length disagrees with the R-R interval by more than 20 % (the features
would be misaligned with the frames), a heart rate outside the range the model was trained on.

Python console API::

    from cardiogen.pipelines import ecg_to_cine
    cine = ecg_to_cine.generate(ecg, seed=0)        # ImageSeries, synthetic, frame_times over one R-R interval
"""
from __future__ import annotations

import functools
import time
from typing import Optional

import numpy as np

from ..data import Ecg, Geometry, ImageSeries
from ..errors import CardioGenInputError
from . import Input, Option, Output, Pipeline, Progress, register_pipeline

#: largest relative disagreement between the PA-MAE phase's cycle length and the front end's R-R interval
MAX_CYCLE_MISMATCH = 0.2
#: classifier-free guidance by default: the weight with the best phenotype tracking on validation subjects (never
#: trained on nor tested) in benchmarks/ecg_to_cine.py's sweep (4 for ecg-flow-phantom-64 v4, the largest weight tried;
#: 2 for v3; 1.5 for v2)
DEFAULT_GUIDANCE = 4.0


@functools.lru_cache(maxsize=2)
def _models(weights: Optional[str], device: str) -> dict:
    """The flow model (registry entry ``weights`` or the default ``ecg_to_cine`` one) and its frozen VAE and PA-MAE."""
    from ..models.ecg_cine import EcgFlowModel, dit_config
    from ..models.pamae import load_pamae
    from ..nets.video_vae import VideoVAE, VideoVAEConfig
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(weights) if weights else reg.default_for("ecg_to_cine")
    m = entry.config.get("model", {})
    vae_entry = reg.get(str(m["vae_from"]))
    vae = VideoVAE(VideoVAEConfig.from_dict(vae_entry.config.get("model", {})))
    vae.load_state_dict(reg.load_state_dict(vae_entry.id, device=device))
    state = reg.load_state_dict(entry.id, device=device)
    flow = EcgFlowModel(dit_config(entry.config, vae.config))
    flow.load_state_dict(state)
    pamae = load_pamae(str(m["pamae_from"]), device=device)
    return {"entry": entry, "vae_entry": vae_entry, "pamae_entry": reg.get(str(m["pamae_from"])),
            "flow": flow.to(device).eval(), "vae": vae.to(device).eval(), "pamae": pamae}


def _check_cycle(enc: dict, rr_ms: float, source: str) -> float:
    """Cycle length (ms) by the PA-MAE phase; refuses when it disagrees with the R-R interval."""
    phi = np.maximum.accumulate(np.unwrap(np.arctan2(enc["phase"][:, 0], enc["phase"][:, 1])))
    cycles = (phi[-1] - phi[0]) / (2 * np.pi)
    span_ms = (len(phi) - 1) * float(enc["token_s"]) * 1000.0
    if cycles < 1.0:
        raise CardioGenInputError("the ECG's predicted cardiac phase holds no complete cycle", source=source,
                                  expected="≥ 1 cycle in 10 s", got=f"{cycles:.2f}")
    phase_rr = span_ms / cycles
    if not np.isfinite(rr_ms) or abs(phase_rr / rr_ms - 1.0) > MAX_CYCLE_MISMATCH:
        raise CardioGenInputError("the ECG encoder's phase disagrees with the R peaks: its cycle alignment cannot be "
                                  "trusted for this recording", source=source,
                                  expected=f"cycle within {MAX_CYCLE_MISMATCH:.0%} of R-R {rr_ms:.0f} ms",
                                  got=f"{phase_rr:.0f} ms")
    return phase_rr


def _cycle_r_peak_ms(cond: dict) -> float:
    """Time (ms, on the input ECG's own time axis: its ``start_time_ms`` + offset) of the R peak at frame 0: the front
    end's R peak nearest the start of the cycle the PA-MAE phase chose (token k's phase is that of its centre,
    (k + 0.5) tokens). Frame k of the cine is at this time + ``frame_times[k]`` (a viewer's ECG cursor)."""
    enc = cond["encoded"]
    fs = float(enc["ecg"].sampling_rate)
    start = (float(enc["cycle_tokens"][0]) + 0.5) * float(enc["token_s"]) * fs
    r = np.asarray(cond["r_peaks"], float)
    return float(enc["ecg"].start_time_ms) + float(r[np.argmin(np.abs(r - start))]) * 1000.0 / fs


@register_pipeline
class EcgToCinePipeline(Pipeline):
    name = "ecg_to_cine"
    title = "ECG → cine (ECGFlowCMR)"
    description = ("Generate a four-chamber cine of one cardiac cycle from a 12-lead ECG (seed 003): PA-MAE features "
                   "of one aligned cycle, latent rectified flow from the anatomical template, Euler sampling.")
    inputs = (Input("ecg", "Ecg", help="12-lead ECG (any rate; 10 s are used)"),)
    outputs = (Output("cine", "ImageSeries", help="synthetic four-chamber cine, one R-R interval"),)
    options = (Option("seed", 0, minimum=0, maximum=2**31 - 1, help="random seed of the noise around the template"),
               Option("steps", 20, minimum=1, maximum=500, help="Euler steps from t = 0 to 1"),
               Option("guidance", DEFAULT_GUIDANCE, minimum=1.0, maximum=8.0,
                      help="classifier-free guidance (1 = none; the default is the validation sweep's best)"),
               Option("samples", 1, minimum=1, maximum=8, help="videos from the same ECG (seeds seed, seed+1, ...)"))
    synthetic_outputs = True

    def _load(self) -> None:
        from ..device import resolve_device

        self.torch_device = str(resolve_device(self.device))
        self.models = _models(self.weights, self.torch_device)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:
        import torch

        from ..models.ecg_cine import decode_latents, model_tokens, sample_latents
        from ..progress import report

        ecg: Ecg = inputs["ecg"]
        source = str(ecg.metadata.get("source_file") or ecg.metadata.get("source") or "ECG")
        mods = self.models
        flow, entry = mods["flow"], mods["entry"]
        frames = flow.config.frames
        report(progress, 0.05, "ECG front end and PA-MAE features")
        t0 = time.time()
        model_cfg = entry.config.get("model", {})
        try:
            cond = model_tokens(str(model_cfg.get("condition", "pamae")), mods["pamae"], ecg, frames)
        except CardioGenInputError as exc:  # name the recording in every refusal
            if source in str(exc):
                raise
            raise CardioGenInputError(str(exc), source=source) from exc
        rr = cond["rr_ms"]
        if "encoded" in cond:  # PA-MAE context: the cycle its phase chose
            _check_cycle(cond["encoded"], rr, source)
            r_peak_ms = _cycle_r_peak_ms(cond)
        else:  # the raw median beat (a baseline): frame 0 at the first R peak
            prepared = cond["ecg"]
            r_peak_ms = float(prepared.start_time_ms) + float(cond["r_peaks"][0]) * 1000.0 / prepared.sampling_rate
        hr = 60000.0 / rr
        lo, hi = entry.geometry.get("heart_rate_bpm_range", (0.0, float("inf")))
        if not lo <= hr <= hi:
            raise CardioGenInputError("heart rate outside the range the ECG → cine model was trained on",
                                      source=source, expected=f"{lo:.0f}-{hi:.0f} bpm", got=f"{hr:.0f} bpm")
        n = int(options["samples"])
        tokens = torch.from_numpy(cond["tokens"])[None].expand(n, -1, -1).to(self.torch_device)
        g = torch.Generator(device=self.torch_device).manual_seed(int(options["seed"]))
        deterministic = model_cfg.get("objective", "flow") == "regression"
        sampler = "deterministic (regression baseline)" if deterministic else f"euler {int(options['steps'])} steps"
        report(progress, 0.2, sampler)
        z = sample_latents(flow, tokens, model_cfg, steps=int(options["steps"]), guidance=float(options["guidance"]),
                           generator=g)
        report(progress, 0.85, "decoding")
        videos = decode_latents(mods["vae"], z, flow.latent_scale)
        seconds = time.time() - t0
        px = float(entry.geometry.get("pixel_mm", 2.8))
        geometry = Geometry(spacing=(px, px, 8.0), origin=(0.0, 0.0, 0.0), direction=np.eye(3))
        times = np.arange(frames) * rr / frames
        results = {}
        for k in range(n):
            img = ((videos[k] + 1.0) * 0.5).astype(np.float32)[:, None]
            series = ImageSeries(img, geometry, frame_times=times, modality="cine",
                                 description=f"ECG to cine (ECGFlowCMR) sample {k + 1}")
            results["cine" if k == 0 else f"cine_{k + 1}"] = series.mark_synthetic(
                self.name, weights=entry.id, weights_sha256=entry.sha256, vae=mods["vae_entry"].id,
                vae_sha256=mods["vae_entry"].sha256, ecg_encoder=mods["pamae_entry"].id,
                ecg_encoder_sha256=mods["pamae_entry"].sha256, seed=int(options["seed"]) + k,
                sampler=sampler, guidance=float(options["guidance"]),
                rr_ms=round(rr, 1), r_peak_ms=round(r_peak_ms, 1), heart_rate_bpm=round(hr, 1), source=source,
                device=self.torch_device, seconds=round(seconds, 3), trained_on=entry.trained_on)
        report(progress, 1.0, "done")
        return results


def generate(ecg: Ecg, seed: int = 0, steps: int = 20, guidance: float = DEFAULT_GUIDANCE, weights: Optional[str] = None,
             device: str = "cpu") -> ImageSeries:
    """A synthetic four-chamber cine of one R-R interval of ``ecg`` (see the module docstring)."""
    pipe = EcgToCinePipeline().load(weights, device)
    return pipe.run({"ecg": ecg}, {"seed": seed, "steps": steps, "guidance": guidance})["cine"]
