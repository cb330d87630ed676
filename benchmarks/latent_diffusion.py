"""Whole-heart latent diffusion (seed 001, chapter 5): the image + mask autoencoder and the latent DDIM on held-out
phantom short-axis stacks, with table 5.1's measures.

Data: phantom subjects from seed 1000 (never trained on), short-axis stacks at end-diastole and end-systole with their
true label maps (:func:`cardiogen.models.heart3d.stack_pool`).

* **Autoencoder** (``--ae``, chapter 5's VAE): posterior-mean reconstructions of the held-out stacks — SSIM and PSNR of
  the images, Dice, HD95 and ASSD of the masks per class (the seed: SSIM 0.78, PSNR 23.9 dB, Dice 0.91).
* **Generation** (``--ldm``, DDIM ``--steps``): ``--samples`` stacks with their masks against the held-out stacks:
  cFID (our cardiac feature network ``cardiac-features-64`` on every slice; Inception-FID where installed), improved
  precision and recall (k = 3, the same features), diversity as the mean MS-SSIM of random pairs of stacks (lower =
  more diverse; the real stacks' own value beside it), the consistency of each generated mask with a segmentation of
  its generated image (mean Dice of LV blood, LV myocardium and RV blood; the same on the real stacks is the
  segmenter's ceiling), and the volumes of the generated masks against the held-out ones (mean, SD and Wasserstein-1
  distance, mL). Baseline of table 5.1: the same autoencoder sampled from its prior N(0, I) ("3D VAE"); the 3D LSGAN is
  not trained yet.

    python benchmarks/latent_diffusion.py [--cases 16] [--samples 64] [--steps 50]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))

FEATURES = "cardiac-features-64"
LSGAN = "heart-lsgan-phantom-64"


def _lsgan(model_id: str):
    """Table 5.1's 3D LSGAN baseline (spec ``heart_lsgan``: the same latent space, the LDM's budget)."""
    from cardiogen.models.heart4d_baselines import load_stack_gan

    return load_stack_gan(model_id)
VOLUME_CLASSES = {"lv_blood": 1, "lv_myo": 2, "rv_blood": 3}
#: Seed 001's table 5.1 (UK Biobank, Inception features) and its autoencoder row; our phantom figures sit beside them.
CONSTANTS = {"seed_ae_ssim": 0.78, "seed_ae_psnr_db": 23.94, "seed_ae_dice": 0.91, "seed_ldm_ip": 0.86,
             "seed_ldm_ir": 0.76, "seed_ldm_ms_ssim": 0.67, "seed_vae_ip": 0.76, "seed_vae_ir": 0.74,
             "seed_vae_ms_ssim": 0.78, "seed_ldm_4gr": 0.37, "seed_vae_4gr": 0.81, "seed_gan_ip": 0.51,
             "seed_gan_ir": 0.43, "seed_gan_ms_ssim": 0.91, "seed_gan_4gr": 0.88, "diversity_pairs": 50}


def _volumes(masks: np.ndarray, voxel_ml: float) -> dict[str, np.ndarray]:
    return {k: (masks == c).sum(axis=(1, 2, 3)) * voxel_ml for k, c in VOLUME_CLASSES.items()}


def _diversity(images: np.ndarray, pairs: int, seed: int = 0, metric: str = "ms_ssim") -> float:
    """Mean MS-SSIM (or 4-G-r SSIM, ``metric="four_gr_ssim"``; slice by slice, data range 2) of random pairs of
    different stacks."""
    from cardiogen.metrics import image

    fn = getattr(image, metric)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(pairs):
        i, j = rng.choice(len(images), 2, replace=False)
        values.append(float(fn(np.clip(images[i], -1, 1), np.clip(images[j], -1, 1), data_range=2.0)))
    return float(np.mean(values))


def _consistency(images: np.ndarray, masks: np.ndarray, net) -> float:
    from cardiogen.metrics.segmentation import dice
    from cardiogen.models.heart3d import segment_stacks

    seg = segment_stacks(images, net)
    return float(np.nanmean([np.nanmean(list(dice(seg[k], masks[k], (1, 2, 3)).values())) for k in range(len(seg))]))


def _generation(images: np.ndarray, masks: np.ndarray, real: dict, net, voxel_ml: float, pairs: int) -> dict:
    from scipy.stats import wasserstein_distance

    from cardiogen.metrics.distribution import fid_from_features, improved_precision_recall
    from cardiogen.metrics.features import embed_frames

    flat = lambda x: np.clip(x, -1, 1).reshape(-1, *x.shape[2:])  # noqa: E731
    fe, fr = embed_frames(flat(images), net), embed_frames(flat(real["image"]), net)
    fe2, fr2 = embed_frames(flat(images), net, stage=-2), embed_frames(flat(real["image"]), net, stage=-2)
    ip, ir = improved_precision_recall(fr, fe, k=3)
    gen_v, real_v = _volumes(masks, voxel_ml), _volumes(real["labels"], voxel_ml)
    extra = {}
    from cardiogen.metrics.inception import inception_available

    if inception_available():  # the seed's FID backbone, only where its weights are installed
        import torch

        from cardiogen.metrics.inception import inception_fid

        frames = lambda x: torch.from_numpy(np.ascontiguousarray(flat(x)[:, None], np.float32))  # noqa: E731
        extra["inception_fid"] = float(inception_fid(frames(images), frames(real["image"]), value_range=(-1.0, 1.0)))
    return {"cfid": float(fid_from_features(fe, fr)), "cfid_stage2": float(fid_from_features(fe2, fr2)), **extra,
            "precision": ip, "recall": ir, "ms_ssim": _diversity(images, pairs),
            "four_gr_ssim": _diversity(images, pairs, metric="four_gr_ssim"),
            "mask_image_dice": _consistency(images, masks, net),
            "volumes": {k: {"mean": float(gen_v[k].mean()), "sd": float(gen_v[k].std()),
                            "w1": float(wasserstein_distance(gen_v[k], real_v[k]))} for k in VOLUME_CLASSES}}


def run(cases: int, samples: int, steps: int, ldm_id: str) -> dict:
    import torch

    from cardiogen.metrics.features import load_feature_network
    from cardiogen.models.heart3d import decode_stacks, reconstruction_metrics, stack_pool, sunnybrook_stacks
    from cardiogen.models.heart4d_baselines import sample_baseline
    from cardiogen.models.heart_ldm import generate
    from cardiogen.pipelines.heart_3d import _models
    from cardiogen.weights import Registry

    mods = _models(ldm_id, "cpu")
    entry = mods["entry"]
    d = entry.config["data"]
    seeds = tuple(range(1000, 1000 + cases))
    real = stack_pool(seeds, int(d.get("slices", 8)), int(d.get("size", 64)))
    voxel_ml = float(np.prod(real["spacing"].mean(0))) / 1000.0
    net = load_feature_network(FEATURES)
    ae = reconstruction_metrics(mods["ae"], real["image"], real["labels"], real["spacing"])
    from cardiogen.io import sample_data_dir

    sunny = sunnybrook_stacks(sample_data_dir() / "cine_sunnybrook", float(Registry().get(mods["ae_entry"].id).geometry["pixel_mm"]),
                              int(d.get("slices", 8)), int(d.get("size", 64)))
    ae_real = {"cases": sunny["case"], "slice_mm": [float(v) for v in sunny["spacing"][:, 2]],
               **reconstruction_metrics(mods["ae"], sunny["image"], sunny["labels"], sunny["spacing"], (1, 2))}
    start = time.perf_counter()
    images, masks = generate(mods["ldm"], mods["ae"], samples, steps, seed=0)
    seconds = (time.perf_counter() - start) / samples
    cfg = mods["ldm"].config
    z = torch.randn((samples, cfg.latent_channels, cfg.depth, cfg.size, cfg.size), generator=torch.Generator().manual_seed(0))
    prior_images, prior_masks = decode_stacks(mods["ae"], z)
    gan = _lsgan(LSGAN)
    gan_images, gan_masks = decode_stacks(mods["ae"], sample_baseline(gan, [None] * samples, seed=0))
    pairs = int(CONSTANTS["diversity_pairs"])
    real_v = _volumes(real["labels"], voxel_ml)
    return {"seeds": list(seeds), "stacks": int(len(real["image"])), "samples": samples, "steps": steps,
            "ldm": ldm_id, "ae": mods["ae_entry"].id, "features": FEATURES, "lsgan": LSGAN,
            "ae_ldm_trained_steps": [int(Registry().get(mods["ae_entry"].id).config["train"]["steps"]),
                                     int(entry.config["train"]["steps"])],
            "lsgan_trained_steps": int(Registry().get(LSGAN).config["train"]["steps"]),
            "autoencoder": ae, "autoencoder_real": ae_real, "seconds_per_stack": seconds,
            "methods": {"ldm": _generation(images, masks, real, net, voxel_ml, pairs),
                        "vae prior": _generation(prior_images, prior_masks, real, net, voxel_ml, pairs),
                        "lsgan": _generation(gan_images, gan_masks, real, net, voxel_ml, pairs)},
            "real": {"ms_ssim": _diversity(real["image"], pairs),
                     "four_gr_ssim": _diversity(real["image"], pairs, metric="four_gr_ssim"),
                     "mask_image_dice": _consistency(real["image"], real["labels"], net),
                     "volumes": {k: {"mean": float(v.mean()), "sd": float(v.std())} for k, v in real_v.items()}}}


LABELS = {"lv_blood": "LV blood", "lv_myo": "LV myocardium", "rv_blood": "RV blood"}


def report(record: dict) -> tuple[str, str]:
    m = record["metrics"]
    ae = m["autoencoder"]
    seeds = m["seeds"]
    c = CONSTANTS
    lines = [f"Held-out phantom subjects {seeds[0]}-{seeds[-1]} ({m['stacks']} stacks at ED and ES); autoencoder "
             f"`{m['ae']}`, latent DDIM `{m['ldm']}` ({m['steps']} steps, {m['samples']} samples); backbone "
             f"`{m['features']}`.", "",
             "| autoencoder, held-out stacks | ours | seed 001 (UK Biobank) |", "|---|---|---|",
             f"| SSIM | {ae['ssim']['mean']:.3f} ± {ae['ssim']['sd']:.3f} | {c['seed_ae_ssim']:g} |",
             f"| PSNR (dB) | {ae['psnr_db']['mean']:.2f} ± {ae['psnr_db']['sd']:.2f} | {c['seed_ae_psnr_db']:g} |",
             f"| Dice, mean of the classes | {ae['dice_mean']:.3f} | {c['seed_ae_dice']:g} |"]
    for name, cl in ae["classes"].items():
        if cl["dice"]["mean"] is None:
            continue
        lines.append(f"| {name}: Dice / HD95 / ASSD (mm) | {cl['dice']['mean']:.3f} / "
                     f"{cl['hd95_mm']['mean']:.1f} / {cl['assd_mm']['mean']:.2f} | |")
    if "autoencoder_real" in m:
        r = m["autoencoder_real"]
        cl = r["classes"]
        lines.append(f"| real Sunnybrook ED stacks ({len(r['cases'])} patients, LV contours only): SSIM / PSNR (dB) / "
                     f"Dice LV blood, LV myocardium | {r['ssim']['mean']:.3f} / {r['psnr_db']['mean']:.1f} / "
                     f"{cl['LV blood pool']['dice']['mean']:.2f}, {cl['LV myocardium']['dice']['mean']:.2f} | |")
    lines += ["", "| generation | cFID (embedding / second depth) | precision | recall | MS-SSIM / 4-G-r SSIM "
                  "(diversity, lower = more diverse) | mask vs segmentation of its image (Dice) | "
                  + " | ".join(f"{LABELS[k]} mL (W1)" for k in VOLUME_CLASSES) + " |",
              "|---|---|---|---|---|---|" + "---|" * len(VOLUME_CLASSES)]
    seed_rows = {"ldm": (c["seed_ldm_ip"], c["seed_ldm_ir"], c["seed_ldm_ms_ssim"], c["seed_ldm_4gr"]),
                 "vae prior": (c["seed_vae_ip"], c["seed_vae_ir"], c["seed_vae_ms_ssim"], c["seed_vae_4gr"]),
                 "lsgan": (c["seed_gan_ip"], c["seed_gan_ir"], c["seed_gan_ms_ssim"], c["seed_gan_4gr"])}
    titles = {"ldm": "latent DDIM (ours)", "vae prior": "3D VAE sampled from N(0, I) (baseline)",
              "lsgan": "3D LSGAN in the same latent space, same budget (baseline)"}
    seed_titles = {"ldm": "its LDM", "vae prior": "its 3D VAE", "lsgan": "its 3D LSGAN"}
    for name, r in m["methods"].items():
        vols = " | ".join(f"{r['volumes'][k]['mean']:.0f} ± {r['volumes'][k]['sd']:.0f} ({r['volumes'][k]['w1']:.0f})"
                          for k in VOLUME_CLASSES)
        cfid = f"{r['cfid']:.3f} / {r['cfid_stage2']:.3f}" if "cfid_stage2" in r else f"{r['cfid']:.3f}"
        div = f"{r['ms_ssim']:.3f} / {r['four_gr_ssim']:.3f}" if "four_gr_ssim" in r else f"{r['ms_ssim']:.3f}"
        lines.append(f"| {titles[name]} | {cfid} | {r['precision']:.2f} | {r['recall']:.2f} | "
                     f"{div} | {r['mask_image_dice']:.3f} | {vols} |")
        ip, ir, ms, gr = seed_rows[name]
        lines.append(f"| seed 001 (UK Biobank): {seed_titles[name]} | | {ip:g} | {ir:g} | {ms:g} / {gr:g} | | "
                     + " | " * (len(VOLUME_CLASSES) - 1) + " |")
    real = m["real"]
    vols = " | ".join(f"{real['volumes'][k]['mean']:.0f} ± {real['volumes'][k]['sd']:.0f}" for k in VOLUME_CLASSES)
    div = f"{real['ms_ssim']:.3f} / {real['four_gr_ssim']:.3f}" if "four_gr_ssim" in real else f"{real['ms_ssim']:.3f}"
    lines.append(f"| held-out phantom stacks (reference) | | | | {div} | {real['mask_image_dice']:.3f} | {vols} |")
    lines += ["", f"Time per generated stack on this CPU (DDIM {m['steps']} steps and decoding): "
                  f"**{m['seconds_per_stack']:.2f} s**."]
    ldm, prior = m["methods"]["ldm"], m["methods"]["vae prior"]
    notes = (f"The latent DDIM against its own autoencoder sampled from N(0, I): cFID {ldm['cfid']:.3f} against "
             f"{prior['cfid']:.3f}, precision {ldm['precision']:.2f} against {prior['precision']:.2f}, recall "
             f"{ldm['recall']:.2f} against {prior['recall']:.2f}; its masks agree with a segmentation of their own "
             f"images at Dice {ldm['mask_image_dice']:.3f} (real stacks with their true masks: "
             f"{real['mask_image_dice']:.3f}). Trained for {m['ae_ldm_trained_steps'][0]} (autoencoder) and "
             f"{m['ae_ldm_trained_steps'][1]} (DDIM) steps. "
             + ("" if "inception_fid" in ldm else "Inception-FID: its weights are not installed on this machine "
                "(the benchmark adds it where they are). ")
             + "The 4D model conditioned on demographics is benchmarked in heart_4d.")
    if "lsgan" in m["methods"]:
        gan = m["methods"]["lsgan"]
        notes += (f" The 3D LSGAN ({m['lsgan_trained_steps']} steps, as the DDIM): cFID {gan['cfid']:.3f}, precision "
                  f"{gan['precision']:.2f}, recall {gan['recall']:.2f}, MS-SSIM {gan['ms_ssim']:.3f}" + (
                      " (its samples collapse onto a few hearts, as the seed's LSGAN had the least diversity)."
                      if gan["recall"] < 0.05 else "."))
    if "autoencoder_real" in m:
        r = m["autoencoder_real"]
        notes += (f" On real anatomy the phantom-trained autoencoder does not hold: the Sunnybrook ED stacks (heart "
                  f"failure patients, resampled to its pixel, {min(r['slice_mm']):.0f}-{max(r['slice_mm']):.0f} mm slices, "
                  f"RV not contoured so background in the mask) come back at SSIM {r['ssim']['mean']:.3f} against "
                  f"{ae['ssim']['mean']:.3f} on held-out phantom stacks, LV blood Dice "
                  f"{r['classes']['LV blood pool']['dice']['mean']:.2f}; heart_3d and heart_4d take no image input, "
                  "so no pipeline passes a real image through it.")
    return "\n".join(lines) + "\n", notes


def main(argv: list[str] | None = None) -> int:
    from _common import command_line, write_result

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--ldm", default="heart-ldm-phantom-64")
    args = parser.parse_args(argv)
    metrics = run(args.cases, args.samples, args.steps, args.ldm)
    command = command_line("latent_diffusion")
    write_result("latent_diffusion", command=command, metrics=metrics, report=report)
    print(report({"metrics": metrics, "machine": {}})[0])
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())
