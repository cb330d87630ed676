"""CT motion from systole (seed 004) on held-out phantom subjects: flow estimation, the CVAE's claims, synthetic data.

Data: phantom ES/ED CT pairs with their exact flow (:func:`cardiogen.phantom.ct_motion_pair`; a population with
varied anatomy, size, pose, position and contrast timing), 48³ voxels over a field of view that fits the heart.
The shipped models (``ct-flow-phantom-48``, ``ct-cvae-phantom-48``) were trained on subjects 0-31; every figure here
is measured on held-out subjects (from 1000). Flows are compared in the moving heart (where the phantom's flow is
exact; the static body's flow is 0), in voxels and mm; "mEPE" is the mean Euclidean endpoint error.

1. **Flow estimation** (ED -> ES): the 3D PWC-Net against SimpleITK's demons (fast symmetric forces, three
   resolutions; iterations and smoothing chosen on subject 999, outside both sets) and B-spline registration (mean
   squares, L-BFGS-B, three levels) on the same pairs; time per pair on this CPU.
2. **Reconstruction** (the seed's 0.56 ± 0.58 voxels, leave-one-out on 44 real CTs; here held-out phantom subjects):
   the CVAE's flow decoded from the posterior mean, mEPE in the heart.
3. **Diversity and plausibility** of ``samples`` prior samples per ES volume: spread (mean pairwise EPE in the heart,
   and relative to the true flow's mean magnitude), folding (heart voxels with det(I + ∇f) <= 0), the LV myocardium's
   volume change between the ES and the synthetic ED (the wall is nearly incompressible: the phantom's truth is 0;
   measured on the subject's exact ES anatomy, :meth:`CtMotionPair.synthetic_ed_lv`, beside the same measure of the
   true flow on the grid) and the LV ejection fraction of each synthetic pair against the subject's exact one.
4. **Synthetic data** (the seed's proposed use): with ``--small`` phantom subjects as the only "real" training pairs,
   a flow estimator trained on them alone against one trained on them plus ``--per-real`` CVAE-generated pairs per
   subject (a CVAE trained on the same subjects, on the frozen pyramid of the first estimator), equal steps and batch
   size; both evaluated on the held-out subjects.

    python benchmarks/ct_motion.py                 # about 25 minutes on 2 cores
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))

FLOW_ID, CVAE_ID = "ct-flow-phantom-48", "ct-cvae-phantom-48"
GRID = 48  #: the models' grid (voxels per axis)
#: Published values of seed 004 (its reconstruction mEPE, leave-one-out on 44 real 4D CTs) and the plausibility bounds
#: the notes apply (a myocardial volume change beyond this fraction is not physiological; EF range of the phantom).
CONSTANTS = {"seed_recon_mepe_vox": 0.56, "seed_recon_mepe_sd_vox": 0.58, "seed_subjects": 44,
             "myo_change_limit": 0.1}
SUPERSAMPLE = 3  #: fine voxels per grid voxel of the exact ES anatomy the wall and EF are measured on

# ---- 1. flow estimation -----------------------------------------------------------------------------------------
def sitk_flow(ed: np.ndarray, es: np.ndarray, method: str) -> np.ndarray:
    """SimpleITK registration of ES (moving) onto ED (fixed): the displacement field on the ED grid pointing into ES
    ``(3, z, y, x)`` voxels (channels x, y, z), i.e. the same convention as the networks."""
    import SimpleITK as sitk

    fixed = sitk.GetImageFromArray(np.asarray(ed[0], dtype=np.float32))
    moving = sitk.GetImageFromArray(np.asarray(es[0], dtype=np.float32))
    if method == "demons":  # multi-resolution fast symmetric forces demons (settings tuned on subject 999)
        field = None
        for shrink, iterations in zip((4, 2, 1), (200, 150, 100)):
            f_s, m_s = fixed, moving
            if shrink > 1:
                f_s = sitk.Shrink(sitk.SmoothingRecursiveGaussian(fixed, 0.5 * shrink), [shrink] * 3)
                m_s = sitk.Shrink(sitk.SmoothingRecursiveGaussian(moving, 0.5 * shrink), [shrink] * 3)
            demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
            demons.SetNumberOfIterations(iterations)
            demons.SetStandardDeviations(2.0)
            if field is None:
                field = demons.Execute(f_s, m_s)
            else:
                field = demons.Execute(f_s, m_s, sitk.Resample(field, f_s, sitk.Transform(), sitk.sitkLinear, 0.0,
                                                               sitk.sitkVectorFloat64))
        disp = sitk.GetArrayFromImage(field)  # (z, y, x, 3), voxels of the full grid (its spacing is 1)
    else:
        tx = sitk.BSplineTransformInitializer(fixed, [6, 6, 6])
        reg = sitk.ImageRegistrationMethod()
        reg.SetMetricAsMeanSquares()
        reg.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=60)
        reg.SetInterpolator(sitk.sitkLinear)
        reg.SetShrinkFactorsPerLevel([4, 2, 1])
        reg.SetSmoothingSigmasPerLevel([2, 1, 0])
        reg.SetInitialTransform(tx, inPlace=True)
        reg.Execute(fixed, moving)
        field = sitk.TransformToDisplacementField(tx, sitk.sitkVectorFloat64, fixed.GetSize(), fixed.GetOrigin(),
                                                  fixed.GetSpacing(), fixed.GetDirection())
        disp = sitk.GetArrayFromImage(field)
    return np.moveaxis(disp, -1, 0).astype(np.float32)


def flow_estimation(pairs: tuple) -> dict:
    from cardiogen.models.ct_motion import estimate_flow, flow_epe, load_flow_estimator

    net = load_flow_estimator(FLOW_ID)
    estimate_flow(net, pairs[0]["ed"], pairs[0]["es"])  # warm-up (thread pools), not timed
    out: dict = {}
    for p in pairs:
        m = p["mask"][0] > 0
        row = {"spacing_mm": p["spacing_mm"], "zero_flow_vox": flow_epe(np.zeros_like(p["flow"]), p["flow"], m)}
        for name, fn in (("pwc", lambda: estimate_flow(net, p["ed"], p["es"])),
                         ("demons", lambda: sitk_flow(p["ed"], p["es"], "demons")),
                         ("bspline", lambda: sitk_flow(p["ed"], p["es"], "bspline"))):
            start = time.perf_counter()
            f = fn()
            row[f"{name}_s"] = time.perf_counter() - start
            row[f"{name}_vox"] = flow_epe(f, p["flow"], m)
            row[f"{name}_mm"] = row[f"{name}_vox"] * p["spacing_mm"]
        out[str(p["seed"])] = row
        print(f"subject {p['seed']}: " + ", ".join(f"{k} {row[k + '_vox']:.2f} vox {row[k + '_s']:.2f} s"
                                                   for k in ("pwc", "demons", "bspline")), flush=True)
    return out


# ---- 2-3. the CVAE --------------------------------------------------------------------------------------------
def cvae_claims(pairs: tuple, samples: int) -> dict:
    import torch

    from cardiogen.models.ct_motion import flow_epe, generate_flows, jacobian_determinant, load_cvae
    from cardiogen.phantom import PhantomConfig
    from cardiogen.phantom.ct_pair import ct_motion_pair

    model = load_cvae(CVAE_ID)
    out: dict = {}
    for p in pairs:
        subject = ct_motion_pair(p["seed"], config=PhantomConfig(ct_size=GRID))  # its heart model: exact anatomy
        es, flow = torch.from_numpy(p["es"][None]), torch.from_numpy(p["flow"][None])
        m = p["mask"][0] > 0
        with torch.inference_mode():
            mu, _ = model.encode(flow, es)
            rec = model.decode(mu, es)[0].numpy()
        truth_mag = float(np.linalg.norm(p["flow"], axis=0)[m].mean())
        # the same measurements on the true flow: what a grid flow alone does to the wall (the grid's floor)
        myo_change_true, ef_true_grid = subject.synthetic_ed_lv(p["flow"], SUPERSAMPLE)[0]
        edv, esv = subject.lv_volumes_ml
        row = {"myo_change_true_flow": myo_change_true, "ef_true_grid_flow": ef_true_grid,
               "recon_vox": flow_epe(rec, p["flow"], m), "recon_mm": flow_epe(rec, p["flow"], m) * p["spacing_mm"],
               "recon_all_vox": flow_epe(rec, p["flow"]), "truth_mean_magnitude_vox": truth_mag,
               "ef_true": 100.0 * (edv - esv) / edv}
        for prior, tag in (("auto", ""), ("normal", "normal_")):  # the fitted prior, and the seed's N(0, I)
            start = time.perf_counter()
            flows, _ = generate_flows(model, p["es"], samples, seed=p["seed"], prior=prior)
            per_sample = (time.perf_counter() - start) / samples
            spread = float(np.mean([flow_epe(flows[i], flows[j], m) for i in range(samples)
                                    for j in range(i + 1, samples)]))
            folds = [float((jacobian_determinant(f)[m] <= 0).mean()) for f in flows]
            myo_change, ef = subject.synthetic_ed_lv(flows, SUPERSAMPLE).T
            row.update({f"{tag}spread_vox": spread, f"{tag}spread_relative": spread / truth_mag,
                        f"{tag}folding_fraction": float(np.mean(folds)),
                        f"{tag}myo_change_mean": float(np.mean(myo_change)),
                        f"{tag}myo_change_max_abs": float(np.max(np.abs(myo_change))),
                        f"{tag}myo_change_min": float(np.min(myo_change)),
                        f"{tag}myo_change_max": float(np.max(myo_change)),
                        f"{tag}myo_excess_max_abs": float(np.max(np.abs(myo_change - myo_change_true))),
                        f"{tag}ef_samples_min": float(np.min(ef)), f"{tag}ef_samples_max": float(np.max(ef)),
                        f"{tag}ef_abs_error": float(np.mean(np.abs(np.array(ef) - row["ef_true"]))),
                        f"{tag}epe_to_truth_vox": float(np.mean([flow_epe(f, p["flow"], m) for f in flows])),
                        f"{tag}s_per_sample": per_sample})
        out[str(p["seed"])] = row
        print(f"subject {p['seed']}: recon {row['recon_vox']:.2f} vox; fitted prior: spread {row['spread_vox']:.2f} vox,"
              f" EF {row['ef_samples_min']:.0f}-{row['ef_samples_max']:.0f} %; N(0, I): EF {row['normal_ef_samples_min']:.0f}"
              f"-{row['normal_ef_samples_max']:.0f} % (true {row['ef_true']:.0f} %)", flush=True)
    return out


# ---- 4. synthetic pairs as training data ------------------------------------------------------------------------
def synthetic_data_experiment(small: int, per_real: int, steps: int, cvae_steps: int, heldout: tuple) -> dict:
    from cardiogen.models.ct_motion import estimate_flow, flow_epe, load_flow_estimator, phantom_pair_pool
    from cardiogen.train import load_config, train

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CARDIOGEN_USER_MODELS"] = str(Path(tmp) / "user")
        base = load_config("ct_flow_phantom.yaml")
        base["data"].update(cases=small)
        base["eval"]["cases"] = 1
        base["train"].update(steps=steps, checkpoint_every=steps)
        real = dict(base, export={"id": "bench-ct-flow-real", "license": "BSD-3-Clause"})
        t0 = time.time()
        train("ct_flow", real, Path(tmp) / "real", register_dir=Path(tmp) / "user", command="benchmark")
        real_s = time.time() - t0
        cv = load_config("ct_cvae_phantom.yaml")
        cv["model"]["pyramid_from"] = "bench-ct-flow-real"
        cv["data"].update(cases=small)
        cv["eval"]["cases"] = 1
        cv["train"].update(steps=cvae_steps, checkpoint_every=cvae_steps)
        cv["export"] = {"id": "bench-ct-cvae-small", "license": "BSD-3-Clause"}
        train("ct_cvae", cv, Path(tmp) / "cvae", register_dir=Path(tmp) / "user", command="benchmark")
        aug = load_config(real)
        aug["data"].update(synthetic_from="bench-ct-cvae-small", synthetic_per_real=per_real)
        aug["export"] = {"id": "bench-ct-flow-aug", "license": "BSD-3-Clause"}
        t0 = time.time()
        train("ct_flow", aug, Path(tmp) / "aug", register_dir=Path(tmp) / "user", command="benchmark")
        aug_s = time.time() - t0
        nets = {"real_only": load_flow_estimator("bench-ct-flow-real"),
                "real_plus_synthetic": load_flow_estimator("bench-ct-flow-aug")}
        rows = {}
        for p in phantom_pair_pool(heldout, GRID):
            m = p["mask"][0] > 0
            rows[str(p["seed"])] = {k: flow_epe(estimate_flow(n, p["ed"], p["es"]), p["flow"], m)
                                    for k, n in nets.items()}
        del os.environ["CARDIOGEN_USER_MODELS"]
    mean = {k: float(np.mean([r[k] for r in rows.values()])) for k in nets}
    return {"real_subjects": small, "synthetic_per_real": per_real, "synthetic_pairs": small * per_real,
            "steps": steps, "batch_size": base["data"]["batch_size"],
            "cvae_steps": cvae_steps, "train_s": {"real_only": real_s, "real_plus_synthetic": aug_s},
            "per_subject_vox": rows, "mean_vox": mean,
            "improvement_vox": mean["real_only"] - mean["real_plus_synthetic"]}


# ---- report ---------------------------------------------------------------------------------------------------------
def _stat(rows: dict, key: str) -> tuple[float, float]:
    v = np.array([r[key] for r in rows.values()], dtype=float)
    return float(v.mean()), float(v.std())


def derived(record: dict) -> dict[str, float]:
    """Figures the notes compute from the record: means and standard deviations over the held-out subjects."""
    m = record["metrics"]
    out: dict[str, float] = {}
    for key in ("pwc_vox", "pwc_mm", "pwc_s", "demons_vox", "demons_mm", "demons_s", "bspline_vox", "bspline_mm",
                "bspline_s", "zero_flow_vox"):
        out[f"flow_{key}_mean"], out[f"flow_{key}_sd"] = _stat(m["flow_estimation"], key)
    for key in ("recon_vox", "recon_mm", "recon_all_vox", "truth_mean_magnitude_vox"):
        out[f"cvae_{key}_mean"], out[f"cvae_{key}_sd"] = _stat(m["cvae"], key)
    c = list(m["cvae"].values())
    for tag in ("", "normal_"):
        for key in ("spread_vox", "spread_relative", "folding_fraction", "myo_change_mean", "s_per_sample",
                    "ef_abs_error", "epe_to_truth_vox"):
            out[f"cvae_{tag}{key}_mean"], out[f"cvae_{tag}{key}_sd"] = _stat(m["cvae"], tag + key)
        out[f"cvae_{tag}myo_change_max_abs"] = max(r[tag + "myo_change_max_abs"] for r in c)
        out[f"cvae_{tag}ef_min"] = min(r[tag + "ef_samples_min"] for r in c)
        out[f"cvae_{tag}ef_max"] = max(r[tag + "ef_samples_max"] for r in c)
        out[f"cvae_{tag}spread_percent"] = 100.0 * out[f"cvae_{tag}spread_relative_mean"]
        out[f"cvae_{tag}myo_change_min_percent"] = 100.0 * min(r[tag + "myo_change_min"] for r in c)
        out[f"cvae_{tag}myo_change_max_percent"] = 100.0 * max(r[tag + "myo_change_max"] for r in c)
        out[f"cvae_{tag}myo_excess_max_abs"] = max(r[tag + "myo_excess_max_abs"] for r in c)
        out[f"cvae_{tag}myo_excess_max_percent"] = 100.0 * out[f"cvae_{tag}myo_excess_max_abs"]
        out[f"cvae_{tag}folding_percent"] = 100.0 * out[f"cvae_{tag}folding_fraction_mean"]
    out["myo_change_true_flow_min_percent"] = 100.0 * min(r["myo_change_true_flow"] for r in c)
    out["myo_change_true_flow_max_percent"] = 100.0 * max(r["myo_change_true_flow"] for r in c)
    out["ef_true_grid_flow_error_mean"] = float(np.mean([abs(r["ef_true_grid_flow"] - r["ef_true"]) for r in c]))
    out["true_ef_min"] = min(r["ef_true"] for r in c)
    out["true_ef_max"] = max(r["ef_true"] for r in c)
    out["speedup_demons_over_pwc"] = out["flow_demons_s_mean"] / out["flow_pwc_s_mean"]
    out["speedup_bspline_over_pwc"] = out["flow_bspline_s_mean"] / out["flow_pwc_s_mean"]
    out["recon_ratio_to_seed"] = out["cvae_recon_vox_mean"] / CONSTANTS["seed_recon_mepe_vox"]
    return out


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run, every figure from ``record["metrics"]`` (or :func:`derived`, CONSTANTS)."""
    m, d = record["metrics"], derived(record)
    n = m["heldout"]
    table = ("| flow ED -> ES, held-out subjects | mEPE heart (voxels) | mEPE heart (mm) | s per pair |\n"
             "|---|---|---|---|\n")
    for key, name in (("pwc", f"3D PWC-Net (`{FLOW_ID}`)"), ("demons", "SimpleITK demons"),
                      ("bspline", "SimpleITK B-spline"), ("zero_flow", "no motion (zero flow)")):
        if key == "zero_flow":
            table += f"| {name} | {d['flow_zero_flow_vox_mean']:.2f} ± {d['flow_zero_flow_vox_sd']:.2f} | — | — |\n"
        else:
            table += (f"| {name} | {d[f'flow_{key}_vox_mean']:.2f} ± {d[f'flow_{key}_vox_sd']:.2f} | "
                      f"{d[f'flow_{key}_mm_mean']:.2f} | {d[f'flow_{key}_s_mean']:.2f} |\n")
    table += ("\n| CVAE (`" + CVAE_ID + "`), held-out subjects | ours: fitted prior (default) | ours: `N(0, I)` | "
              "seed 004 |\n|---|---|---|---|\n"
              f"| reconstruction mEPE heart (voxels) | {d['cvae_recon_vox_mean']:.2f} ± {d['cvae_recon_vox_sd']:.2f} | "
              f"(same encoder) | {CONSTANTS['seed_recon_mepe_vox']:.2f} ± {CONSTANTS['seed_recon_mepe_sd_vox']:.2f} |\n"
              f"| reconstruction mEPE heart (mm) | {d['cvae_recon_mm_mean']:.2f} | — | — |\n")
    rows = (("sample spread, heart (voxels)", "spread_vox_mean", ".2f", ""),
            ("mEPE of samples to the true flow (voxels)", "epe_to_truth_vox_mean", ".2f", ""),
            ("folding (heart voxels with `det(I + ∇f) <= 0`)", "folding_percent", ".2f", "%"),
            ("LV wall volume change beyond the true flow's, largest", "myo_excess_max_percent", ".1f", "%"),
            ("EF error of samples (points)", "ef_abs_error_mean", ".1f", ""),
            ("s per sample", "s_per_sample_mean", ".2f", ""))
    for label, key, fmt, unit in rows:
        table += f"| {label} | {d['cvae_' + key]:{fmt}}{unit} | {d['cvae_normal_' + key]:{fmt}}{unit} | — |\n"
    table += (f"| LV wall volume change ES -> synthetic ED | {d['cvae_myo_change_min_percent']:.1f} to "
              f"{d['cvae_myo_change_max_percent']:.1f}% | {d['cvae_normal_myo_change_min_percent']:.1f} to "
              f"{d['cvae_normal_myo_change_max_percent']:.1f}% | — |\n"
              f"| EF of the synthetic pairs | {d['cvae_ef_min']:.0f}-{d['cvae_ef_max']:.0f}% | "
              f"{d['cvae_normal_ef_min']:.0f}-{d['cvae_normal_ef_max']:.0f}% | — |\n")
    s = m.get("synthetic_data")
    if s:
        table += ("\n| flow estimator, equal budgets | training pairs | mEPE heart on held-out (voxels) |\n"
                  "|---|---|---|\n"
                  f"| real (phantom) pairs only | {s['real_subjects']} | {s['mean_vox']['real_only']:.3f} |\n"
                  f"| real + CVAE-generated | {s['real_subjects']} + {s['synthetic_pairs']} | "
                  f"{s['mean_vox']['real_plus_synthetic']:.3f} |\n")
    notes = [
        f"{n} held-out phantom subjects ({m['grid_voxels']}³, voxels of {min(r['spacing_mm'] for r in m['flow_estimation'].values()):.2f}"
        f"-{max(r['spacing_mm'] for r in m['flow_estimation'].values()):.2f} mm); errors in the moving heart, where the "
        "phantom's flow is exact.",
        f"Flow estimation: the 3D PWC-Net's mEPE is {d['flow_pwc_vox_mean']:.2f} voxels against "
        f"{d['flow_demons_vox_mean']:.2f} for demons and {d['flow_bspline_vox_mean']:.2f} for B-spline "
        f"(no motion: {d['flow_zero_flow_vox_mean']:.2f}), at {d['speedup_demons_over_pwc']:.0f}x and "
        f"{d['speedup_bspline_over_pwc']:.0f}x their speed.",
        f"Reconstruction: {d['cvae_recon_vox_mean']:.2f} ± {d['cvae_recon_vox_sd']:.2f} voxels on held-out phantom "
        f"subjects against the seed's {CONSTANTS['seed_recon_mepe_vox']:.2f} ± {CONSTANTS['seed_recon_mepe_sd_vox']:.2f} "
        f"(leave-one-out on {CONSTANTS['seed_subjects']} real CTs): {d['recon_ratio_to_seed']:.1f} times the seed's "
        "figure, on other data and another grid, so the two are not a like-for-like comparison.",
        f"Diversity and plausibility, with the fitted prior (the default): samples for one ES volume differ by "
        f"{d['cvae_spread_vox_mean']:.2f} voxels on average ({d['cvae_spread_percent']:.0f}% of the true flow's mean "
        f"magnitude); {d['cvae_folding_percent']:.2f}% of heart voxels fold. The LV wall (measured on the subject's "
        f"exact ES anatomy rendered {SUPERSAMPLE}x finer, the flow interpolated as the warp does) changes volume by "
        f"{d['cvae_myo_change_min_percent']:.1f} to {d['cvae_myo_change_max_percent']:.1f}% between ES and a synthetic "
        f"ED; the true flow, sampled on the same grid, changes it by {d['myo_change_true_flow_min_percent']:.1f} to "
        f"{d['myo_change_true_flow_max_percent']:.1f}% although the phantom's wall is incompressible: a 3 mm grid "
        "cannot carry the kink of the motion at the endocardium, where the blood pool compresses and the wall does "
        "not. Against that floor, no sample changes the wall by more than "
        f"{d['cvae_myo_excess_max_percent']:.1f}% beyond its subject's true flow "
        + ("(within" if d["cvae_myo_excess_max_abs"] <= CONSTANTS["myo_change_limit"] else "(BEYOND")
        + f" the {100 * CONSTANTS['myo_change_limit']:.0f}% a nearly incompressible wall allows). The synthetic "
        f"pairs' EF spans {d['cvae_ef_min']:.0f}-{d['cvae_ef_max']:.0f}% where the subjects' true EF spans "
        f"{d['true_ef_min']:.0f}-{d['true_ef_max']:.0f}% (the true flow on the grid: "
        f"{d['ef_true_grid_flow_error_mean']:.1f} points from the exact EF).",
        f"The seed's `N(0, I)` prior on this model: samples spread {d['cvae_normal_spread_vox_mean']:.2f} voxels but "
        f"their EF spans {d['cvae_normal_ef_min']:.0f}-{d['cvae_normal_ef_max']:.0f}% and they lie "
        f"{d['cvae_normal_epe_to_truth_vox_mean']:.2f} voxels from the true flow (fitted prior: "
        f"{d['cvae_epe_to_truth_vox_mean']:.2f}); the training posteriors do not fill `N(0, I)`, hence the fitted "
        "prior.",
    ]
    if s:
        better = s["improvement_vox"] > 0
        notes.append(
            f"Synthetic data: with {s['real_subjects']} real subjects and {s['steps']} steps of batch "
            f"{s['batch_size']} for both, adding {s['synthetic_per_real']} CVAE-generated pairs per subject "
            + (f"lowers the held-out mEPE from {s['mean_vox']['real_only']:.3f} to "
               f"{s['mean_vox']['real_plus_synthetic']:.3f} voxels." if better else
               f"does not help: {s['mean_vox']['real_plus_synthetic']:.3f} voxels against "
               f"{s['mean_vox']['real_only']:.3f} with real pairs only."))
    return table, "\n\n".join(notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=int, default=8, help="held-out subjects (seeds from 1000)")
    parser.add_argument("--samples", type=int, default=6, help="CVAE samples per ES volume")
    parser.add_argument("--small", type=int, default=6, help="real subjects of the synthetic-data experiment (0: skip)")
    parser.add_argument("--per-real", type=int, default=3)
    parser.add_argument("--steps", type=int, default=600, help="flow estimator steps, each arm of the experiment")
    parser.add_argument("--cvae-steps", type=int, default=600)
    args = parser.parse_args(argv)
    import SimpleITK as sitk
    import torch

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(torch.get_num_threads())
    from cardiogen.models.ct_motion import phantom_pair_pool

    heldout = tuple(range(1000, 1000 + args.heldout))
    pairs = phantom_pair_pool(heldout, GRID)
    metrics = {"flow_estimation": flow_estimation(pairs), "cvae": cvae_claims(pairs, args.samples),
               "samples": args.samples, "heldout": len(pairs), "grid_voxels": GRID,
               "torch_threads": torch.get_num_threads()}
    if args.small:
        metrics["synthetic_data"] = synthetic_data_experiment(args.small, args.per_real, args.steps, args.cvae_steps,
                                                              heldout)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import command_line, write_result

    command = command_line("ct_motion")
    write_result("ct_motion", command=command, metrics=metrics, report=report)
    table, notes = report({"metrics": metrics})
    print(table)
    print(notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
