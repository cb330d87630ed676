"""Motion benchmark: LTMA vs SimpleITK demons on held-out phantom cases, the DENSE strain path, the real DENSE sample.

    python benchmarks/motion.py [--cases 20] [--weights ltma-phantom-64]

In one run, on ``--cases`` held-out phantom cases (seeds 1000.., never used for training: 64x64, 10 slices, 20
frames, noise on):

* end-point error (mm, in-plane, LV myocardium at ED, all frames but ED) of LTMA and of the demons baseline,
* strain RMSE against the truth (voxelwise radial and circumferential Green-Lagrange strain in the LV
  myocardium, and the RMSE of the global circumferential curve),
* time per case for both on this CPU, and their ratio;
* the DENSE path (phantom DENSE phase -> unwrapping -> displacement -> strain): peak global circumferential strain
  against the truth (target: within 0.02);
* the real swine DENSE sample (``../shared/data/dense/template.dns``): global radial and circumferential curves
  and peaks (myocardium refined from the images inside the stored endocardial contour, which misses the wall);
* a foreign set no phantom model was tuned on (``--foreign-cases``): cines of the independent analytic generator
  (:mod:`cardiogen.analytic`, seeds 1000.., at the pixel sizes, matrices and frame counts of
  :data:`FOREIGN_GEOMETRIES`) with EPE in the true wall and times as above, the default model also run on the native
  grid for comparison; and the real Sunnybrook cines (three patients, reference = their end-diastole): Dice of the
  LV blood pool propagated from the end-diastolic to the end-systolic contour frame, against that frame's manual
  contour, beside no motion. Demons gets as many threads as torch.

Writes ``docs/benchmarks/motion.json`` and its table in ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, display_path, write_result  # noqa: E402
from cardiogen.motion.dense import dense_strain, refine_myocardium_mask  # noqa: E402
from cardiogen.motion.register import endpoint_error, load_ltma, register_classical, register_learned  # noqa: E402
from cardiogen.motion.strain import compute_strain, peak_values  # noqa: E402
from cardiogen.phantom import PhantomConfig, make_case  # noqa: E402


def strain_errors(pred_disp, case) -> dict:
    """Voxelwise RMSE of radial/circumferential strain and RMSE of the global circumferential curve."""
    myo = case.truth.masks.labels[0] == 2
    pred = compute_strain(pred_disp, myo, longitudinal=False)
    truth = case.truth.strain
    out = {}
    for comp in ("radial", "circumferential"):
        diff = pred.components[comp][:, myo] - truth.components[comp][:, myo]
        out[f"rmse_{comp}"] = float(np.sqrt(np.mean(diff**2)))
    out["rmse_global_circumferential"] = float(np.sqrt(np.mean(
        (pred.global_curve("circumferential") - truth.components["circumferential"][:, myo].mean(axis=1)) ** 2)))
    return out


def run(cases: int, weights: list[str], first_seed: int = 1000) -> tuple[dict, list[dict]]:
    models = {w: load_ltma(w)[0] for w in weights}
    rows = []
    for i in range(cases):
        seed = first_seed + i
        case = make_case(PhantomConfig(seed=seed, size=64, frames=20, slices=10, modalities=("cine", "dense")))
        myo = case.truth.masks.labels[0] == 2
        row = {"seed": seed}
        methods = [(w, lambda m=m: register_learned(case.cine, m, device="cpu")) for w, m in models.items()]
        methods.append(("demons", lambda: register_classical(case.cine, method="demons")))
        if i == 0:  # warm-up (thread pools, oneDNN kernels), not timed
            for _, fn in methods:
                fn()
        for name, fn in methods:
            start = time.perf_counter()
            disp = fn()
            row[f"{name}_s"] = time.perf_counter() - start
            row[f"{name}_epe_mm"] = endpoint_error(disp, case.truth.displacement, myo)
            for key, value in strain_errors(disp, case).items():
                row[f"{name}_{key}"] = value
        truth_peak = float(case.truth.strain.components["circumferential"][:, myo].mean(axis=1).min())
        d_strain = dense_strain(case.dense)
        row["dense_peak_circ"] = peak_values(d_strain)["circumferential"]["peak"]
        row["truth_peak_circ"] = truth_peak
        row["dense_peak_circ_abs_err"] = abs(row["dense_peak_circ"] - truth_peak)
        rows.append(row)
        print(f"seed {seed}: " + " | ".join(f"{n} EPE {row[n + '_epe_mm']:.2f} mm {row[n + '_s']:.2f} s"
                                             for n, _ in methods)
              + f" | DENSE peak Ecc {row['dense_peak_circ']:.3f} vs truth {truth_peak:.3f}", flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "seed"}
    return mean, rows


def real_dense() -> dict | None:
    from cardiogen.io import load, sample_data_dir

    path = sample_data_dir() / "dense" / "template.dns"
    if not path.is_file():
        return None

    dense = load(path)
    strain = dense_strain(dense, refine_myocardium_mask(dense, region_labels=(1,)))
    peaks = peak_values(strain)
    return {"file": display_path(path), "peaks": peaks,
            "frame_times_ms": strain.frame_times.tolist(),
            "global_radial": strain.global_curve("radial").tolist(),
            "global_circumferential": strain.global_curve("circumferential").tolist()}


#: (pixel mm, matrix, frames) of the analytic foreign cases, cycled over the seeds (the issue's case first)
FOREIGN_GEOMETRIES = ((1.5, 128, 30), (2.0, 96, 24), (1.2, 160, 40), (2.5, 80, 20), (1.8, 112, 50), (1.5, 128, 16))
FOREIGN_SUPERSAMPLE = 2  #: analytic rendering: sample points per pixel side (partial volume at the wall's edges)


def _run_methods(series, models: dict, reference: int, native: str | None = None) -> dict:
    """{name: (DisplacementSeries, seconds)} for every LTMA model, demons, and ``native`` (a model id run on the
    input grid as it is)."""
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        disp = register_learned(series, model, reference=reference, device="cpu")
        out[name] = (disp, time.perf_counter() - start)
    if native:
        start = time.perf_counter()
        disp = register_learned(series, models[native], reference=reference, device="cpu", grid="native")
        out[native + "_native"] = (disp, time.perf_counter() - start)
    start = time.perf_counter()
    disp = register_classical(series, method="demons", reference=reference)
    out["demons"] = (disp, time.perf_counter() - start)
    return out


def foreign_analytic(models: dict, cases: int, first_seed: int = 1000) -> tuple[dict, list[dict]]:
    """EPE (mm, in-plane, true wall at the reference) and seconds per case on analytic cines (means, per case)."""
    from cardiogen.analytic import AnalyticConfig, make_analytic_case

    main_id = next(iter(models))
    rows = []
    for i in range(cases):
        pixel, matrix, frames = FOREIGN_GEOMETRIES[i % len(FOREIGN_GEOMETRIES)]
        case = make_analytic_case(AnalyticConfig(seed=first_seed + i, pixel_mm=pixel, matrix=matrix, frames=frames,
                                                 supersample=FOREIGN_SUPERSAMPLE))
        wall = case.myocardium[0][None]
        if i == 0:  # warm-up, not timed
            _run_methods(case.cine, models, 0, main_id)
        row = {"seed": first_seed + i, "pixel_mm": pixel, "matrix": matrix, "frames": frames}
        for name, (disp, seconds) in _run_methods(case.cine, models, 0, main_id).items():
            row[f"{name}_s"] = seconds
            row[f"{name}_epe_mm"] = endpoint_error(disp, case.displacement, wall)
        rows.append(row)
        print(f"analytic {row['seed']} ({pixel} mm, {matrix} px, {frames} frames): "
              + " | ".join(f"{k[:-7]} {v:.2f} mm" for k, v in row.items() if k.endswith("_epe_mm")), flush=True)
    keys = [k for k in rows[0] if k.endswith(("_s", "_epe_mm"))]
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}, rows


def _propagate(mask: np.ndarray, disp, frame: int) -> np.ndarray:
    """bool ``(z, y, x)``: the reference-frame ``mask`` carried to ``frame`` by the Lagrangian ``disp``."""
    from cardiogen.data import DisplacementSeries, ImageSeries
    from cardiogen.motion.register import warp_reference

    pair = DisplacementSeries(disp.array[[disp.reference_frame, frame]], disp.geometry, reference_frame=0)
    series = ImageSeries(np.stack([mask, mask]).astype(np.float32), disp.geometry)
    return warp_reference(series, pair)[1] > 0.5


def _slab(geometry, slices: list[int]):
    """Geometry of the consecutive ``slices`` of a stack (its first slice's origin; same spacing and direction)."""
    if slices != list(range(slices[0], slices[-1] + 1)):
        raise ValueError(f"slices must be consecutive, got {slices}")
    origin = np.asarray(geometry.origin) + geometry.direction[:, 2] * geometry.spacing[2] * slices[0]
    return geometry.replace(origin=tuple(origin))


def foreign_sunnybrook(models: dict) -> dict | None:
    """Per Sunnybrook patient, on the slices contoured at both ED and ES: Dice of the LV blood pool propagated
    ED -> ES (mean over those slices) and seconds, for every method and for no motion; None without the sample
    data."""
    from cardiogen.errors import CardioGenInputError
    from cardiogen.metrics import dice
    from cardiogen.train.specs_ltma import SUNNYBROOK_CONTOURS, load_sunnybrook

    rows = []
    for patient in SUNNYBROOK_CONTOURS:
        try:
            cine, seg = load_sunnybrook(patient)
        except CardioGenInputError:
            return None
        blood = seg.labels == 1
        contoured = sorted({int(t) for t in np.nonzero(seg.annotated)[0]}, key=lambda t: -int(blood[t].sum()))
        ed, es = contoured[0], contoured[-1]
        slices = [z for z in range(cine.shape[1]) if blood[ed, z].any() and blood[es, z].any()]
        row = {"patient": patient, "ed_frame": ed, "es_frame": es, "slices": len(slices)}
        cine = cine.with_array(cine.array[:, slices], geometry=_slab(cine.geometry, slices))
        blood = blood[:, slices]
        slices = list(range(len(slices)))

        def score(pred: np.ndarray) -> float:
            return float(np.mean([dice(pred[z].astype(np.uint8), blood[es, z].astype(np.uint8), labels=[1])[1]
                                  for z in slices]))

        row["no_motion_dice"] = score(blood[ed])
        for name, (disp, seconds) in _run_methods(cine, models, ed).items():
            row[f"{name}_s"] = seconds
            row[f"{name}_dice"] = score(_propagate(blood[ed], disp, es))
        rows.append(row)
        print(f"Sunnybrook {patient} ED {ed} -> ES {es}: "
              + " | ".join(f"{k[:-5]} Dice {v:.3f}" for k, v in row.items() if k.endswith("_dice")), flush=True)
    return {"per_patient": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--weights", nargs="*", default=None,
                        help="registry ids of LTMA models (default: every model registered for 'register')")
    parser.add_argument("--foreign-cases", type=int, default=12, help="analytic foreign cases (0: none)")
    args = parser.parse_args(argv)
    import SimpleITK as sitk
    import torch

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(torch.get_num_threads())  # demons: the same threads as LTMA

    from cardiogen.weights import Registry

    weights = args.weights or [e.id for e in Registry().list("register")]
    mean, rows = run(args.cases, weights)
    real = real_dense()
    main_id = weights[0]
    models = {w: load_ltma(w)[0] for w in weights}
    foreign = None
    if args.foreign_cases:
        f_mean, f_rows = foreign_analytic(models, args.foreign_cases)
        foreign = {"analytic_mean": f_mean, "analytic_per_case": f_rows,
                   "analytic_supersample": FOREIGN_SUPERSAMPLE, "sunnybrook": foreign_sunnybrook(models)}
    speedup = {w: mean["demons_s"] / mean[f"{w}_s"] for w in weights}
    targets = {
        "ltma_epe_at_or_below_demons": mean[f"{main_id}_epe_mm"] <= mean["demons_epe_mm"],
        "ltma_at_least_20x_faster_cpu": speedup[main_id] >= SPEEDUP_TARGET,
        "dense_peak_circ_within_0.02": mean["dense_peak_circ_abs_err"] <= DENSE_PEAK_TOLERANCE,
    }
    if foreign:
        fm = foreign["analytic_mean"]
        targets["foreign_ltma_epe_at_or_below_demons"] = fm[f"{main_id}_epe_mm"] <= fm["demons_epe_mm"]
        targets["foreign_ltma_at_least_20x_faster_cpu"] = fm["demons_s"] / fm[f"{main_id}_s"] >= SPEEDUP_TARGET
    registry = Registry()
    metrics = {"mean": mean, "targets": targets, "speedup_demons_over_ltma": speedup, "per_case": rows,
               "real_dense": real, "torch_threads": torch.get_num_threads(), "foreign": foreign,
               "itk_threads": sitk.ProcessObject.GetGlobalDefaultNumberOfThreads(),
               "weights_sha256": {w: registry.get(w).sha256 for w in weights},
               "weights_size_bytes": {w: registry.get(w).size_bytes for w in weights}}
    command = command_line("motion")
    write_result("motion", command=command, metrics=metrics, report=report)
    print(report({"metrics": metrics, "machine": {}})[0])
    return 0


SPEEDUP_TARGET = 20.0  #: LTMA at least this many times faster than demons (issue 17)
DENSE_PEAK_TOLERANCE = 0.02  #: DENSE path's peak global E_cc within this of the truth
HEALTHY_PEAK_ECC = (-0.25, -0.10)  #: rough published range of healthy peak global circumferential strain
CONSTANTS = {"speedup_target": SPEEDUP_TARGET, "dense_peak_tolerance": DENSE_PEAK_TOLERANCE,
             "healthy_peak_ecc_low": HEALTHY_PEAK_ECC[0], "healthy_peak_ecc_high": HEALTHY_PEAK_ECC[1]}
"""Figures the report prints that no run measures: targets and a published reference range."""


def derived(record: dict) -> dict[str, float]:
    """Figures the notes compute from the record: each LTMA model's EPE minus demons' (mm, mean over the cases), and
    the smallest and largest per-case difference of the default (first) model."""
    m = record["metrics"]
    mean, models = m["mean"], list(m["speedup_demons_over_ltma"])
    out = {f"epe_minus_demons_{w}": mean[f"{w}_epe_mm"] - mean["demons_epe_mm"] for w in models}
    per_case = [r[f"{models[0]}_epe_mm"] - r["demons_epe_mm"] for r in m["per_case"]]
    out.update(per_case_epe_minus_demons_min=min(per_case), per_case_epe_minus_demons_max=max(per_case))
    for w, size in m.get("weights_size_bytes", {}).items():
        out[f"weights_kib_{w}"] = size // 1024
    foreign = m.get("foreign") or {}
    if foreign:
        fm = foreign["analytic_mean"]
        for name in _foreign_methods(record):
            out[f"foreign_speedup_{name}"] = fm["demons_s"] / fm[f"{name}_s"]
        out["foreign_epe_minus_demons"] = fm[f"{models[0]}_epe_mm"] - fm["demons_epe_mm"]
        for name in ["no_motion", *_foreign_methods(record), "demons"]:
            rows = (foreign.get("sunnybrook") or {}).get("per_patient") or []
            if rows and f"{name}_dice" in rows[0]:
                out[f"sunnybrook_mean_dice_{name}"] = float(np.mean([r[f"{name}_dice"] for r in rows]))
                if name != "no_motion":
                    out[f"sunnybrook_mean_s_{name}"] = float(np.mean([r[f"{name}_s"] for r in rows]))
    return out


def _foreign_methods(record: dict) -> list[str]:
    """The LTMA rows of the foreign set: every model on its trained grid, then the default one on the native grid."""
    models = list(record["metrics"]["speedup_demons_over_ltma"])
    return [*models, f"{models[0]}_native"]


def foreign_report(record: dict, d: dict) -> str:
    """The foreign-set table (analytic cines and Sunnybrook), every figure from the record; empty without one."""
    m = record["metrics"]
    foreign = m.get("foreign")
    if not foreign:
        return ""
    fm, rows = foreign["analytic_mean"], foreign["analytic_per_case"]
    sunny = (foreign.get("sunnybrook") or {}).get("per_patient") or []
    geoms = sorted({(r["pixel_mm"], r["matrix"], r["frames"]) for r in rows})
    head = (f"\nForeign set: {len(rows)} analytic cines (`cardiogen.analytic`, seeds "
            f"{rows[0]['seed']}-{rows[-1]['seed']}, geometries "
            + ", ".join(f"{p:g} mm × {n} px × {t} frames" for p, n, t in geoms)
            + f", {foreign['analytic_supersample']}×{foreign['analytic_supersample']} samples per pixel)")
    if sunny:
        head += (" and the real Sunnybrook cines of " + ", ".join(f"{r['patient']} (ED frame {r['ed_frame']} → "
                                                               f"ES frame {r['es_frame']}, {r['slices']} slices)"
                                                               for r in sunny))
    lines = [head + ". EPE in the true wall; Sunnybrook: Dice of the end-diastolic LV blood pool carried to "
             "end-systole against the manual contour.\n",
             "| method | analytic EPE mm | s / case | demons time / this | Sunnybrook Dice (per patient) "
             "| Sunnybrook s / patient |", "|---|---|---|---|---|---|"]
    names = [*_foreign_methods(record), "demons"]
    if sunny:
        lines.append("| no motion | | | | " + " / ".join(f"{r['no_motion_dice']:.3f}" for r in sunny) + " | |")
    for name in names:
        label = ("SimpleITK demons (baseline)" if name == "demons" else
                 f"LTMA `{name[:-7]}` on the input grid (no resampling)" if name.endswith("_native")
                 else f"LTMA `{name}`")
        ratio = "1×" if name == "demons" else f"{d['foreign_speedup_' + name]:.1f}×"
        dice = " / ".join(f"{r[name + '_dice']:.3f}" for r in sunny if name + "_dice" in r)
        secs = f"{d['sunnybrook_mean_s_' + name]:.2f}" if "sunnybrook_mean_s_" + name in d else ""
        lines.append(f"| {label} | {fm[name + '_epe_mm']:.2f} | {fm[name + '_s']:.2f} | {ratio} | {dice} | {secs} |")
    return "\n".join(lines) + "\n"


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run (``record["metrics"]`` as :func:`main` writes it; ``record["machine"]`` for
    the core count), every figure formatted from the record."""
    m = record["metrics"]
    mean, speedup, rows = m["mean"], m["speedup_demons_over_ltma"], m["per_case"]
    models, sizes = list(speedup), m.get("weights_size_bytes", {})
    main_id, d = models[0], derived(record)
    lines = [f"| method (held-out phantom seeds {rows[0]['seed']}-{rows[-1]['seed']}, n = {len(rows)}) "
             f"| EPE mm (in-plane, LV myo) | RMSE E_rr | RMSE E_cc | RMSE global E_cc "
             f"| s / case (CPU, {m['torch_threads']} threads) | demons time / this |",
             "|---|---|---|---|---|---|---|"]
    for name in [*models, "demons"]:
        label = ("SimpleITK demons (baseline)" if name == "demons" else f"LTMA `{name}`"
                 + (f" ({sizes[name] // 1024} KB)" if name in sizes else ""))
        ratio = f"{speedup[name]:.1f}×" if name != "demons" else "1×"
        lines.append(f"| {label} | {mean[name + '_epe_mm']:.2f} | {mean[name + '_rmse_radial']:.3f} "
                     f"| {mean[name + '_rmse_circumferential']:.3f} | {mean[name + '_rmse_global_circumferential']:.3f} "
                     f"| {mean[name + '_s']:.2f} | {ratio} |")
    table = "\n".join(lines) + "\n"
    table += (f"\nDENSE path (phantom phase → unwrapping → displacement → strain): peak global E_cc "
              f"{mean['dense_peak_circ']:.3f} vs truth {mean['truth_peak_circ']:.3f}, mean absolute error "
              f"**{mean['dense_peak_circ_abs_err']:.3f}** (target ≤ {DENSE_PEAK_TOLERANCE:g}).\n")
    real = m.get("real_dense")
    if real:
        p = real["peaks"]
        ecc = p["circumferential"]["peak"]
        low, high = HEALTHY_PEAK_ECC
        where = ("within it" if low <= ecc <= high else
                 "less shortening than that" if ecc > high else "more shortening than that")
        table += (f"\nReal swine DENSE sample (`{real['file']}`): peak global circumferential strain "
                  f"**{ecc:.3f}** at {p['circumferential']['time_ms']:.0f} ms, radial "
                  f"**{p['radial']['peak']:.3f}** at {p['radial']['time_ms']:.0f} ms (healthy E_cc roughly "
                  f"{high:.2f} to {low:.2f}; this heart: {where}). The stored ROI misses this scan's wall, so the "
                  "myocardium is refined from magnitude and phase coherence inside the stored endocardial contour.\n")
    table += foreign_report(record, d)
    table += (f"\nTargets (default model `{main_id}`): "
              + ", ".join(f"`{k}`: {'met' if v else 'NOT met'}" for k, v in m["targets"].items()) + ".")
    return table, _shortfall(record, d)


def _shortfall(record: dict, d: dict) -> str:
    """The notes: what falls short of the LTMA targets and by how much (empty when both are met)."""
    m = record["metrics"]
    mean, speedup, targets = m["mean"], m["speedup_demons_over_ltma"], m["targets"]
    models = list(speedup)
    main_id, others = models[0], models[1:]
    demons = mean["demons_epe_mm"]
    if all(v for k, v in targets.items() if "ltma" in k):
        return _caveats(record, d)
    foreign = _foreign_verdict(record, d)
    if targets["ltma_epe_at_or_below_demons"] and targets["ltma_at_least_20x_faster_cpu"]:
        return foreign.strip()
    parts = []
    if not targets["ltma_epe_at_or_below_demons"]:
        lo, hi = d["per_case_epe_minus_demons_min"], d["per_case_epe_minus_demons_max"]
        spread = ("within the case-to-case spread" if lo < 0 < hi else "above it in every case" if lo > 0
                  else "below it in every case")
        parts.append(f"the default LTMA model's EPE ({mean[main_id + '_epe_mm']:.2f} mm) is "
                     f"{d['epe_minus_demons_' + main_id]:.2f} mm above demons ({demons:.2f} mm) — {spread} "
                     f"(per-case differences range from {lo:+.2f} to {hi:+.2f} mm)")
    else:
        parts.append(f"the default LTMA model's EPE ({mean[main_id + '_epe_mm']:.2f} mm) is at or below demons "
                     f"({demons:.2f} mm)")
    for w in others:
        e = mean[f"{w}_epe_mm"]
        parts.append(f"`{w}` ({e:.2f} mm) is {'at or below' if e <= demons else 'above'} demons at "
                     f"{speedup[w]:.1f}×")
    text = "Shortfall: " + "; ".join(parts) + "."
    better = [w for w in models if mean[f"{w}_rmse_circumferential"] < mean["demons_rmse_circumferential"]]
    if better:
        who = ("Both LTMA models" if len(better) == len(models) == 2 else "Every LTMA model"
               if len(better) == len(models) else ", ".join(f"`{w}`" for w in better))
        text += (f" {who} {'beat' if len(better) > 1 and who != 'Every LTMA model' else 'beats'} demons on "
                 "circumferential strain (RMSE "
                 + " / ".join(f"{mean[w + '_rmse_circumferential']:.3f}" for w in better)
                 + f" vs {mean['demons_rmse_circumferential']:.3f}).")
    cores = record.get("machine", {}).get("cpu_count")
    on = f"on this {cores}-core CPU" if cores else "on this CPU"
    if m.get("itk_threads"):  # runs that record it gave demons as many threads as torch
        on += f" (both with {m['torch_threads']} thread{'s' if m['torch_threads'] > 1 else ''})"
    if targets["ltma_at_least_20x_faster_cpu"]:
        text += f" The default model is {speedup[main_id]:.0f}× faster than demons {on}."
    else:
        text += (f" The default model is {speedup[main_id]:.0f}× faster than demons {on}, short of "
                 f"{SPEEDUP_TARGET:g}×: its time is dominated by full-resolution convolutions over every slice and "
                 "frame; demons' by its iterations per frame.")
    data = "" if foreign else "on phantom cases "
    return (text + f" The LTMA models were trained briefly {data}on CPU (training budget in the registry: "
            "`cardiogen weights list`); longer training and a GPU benchmark are the next steps." + foreign)


def _caveats(record: dict, d: dict) -> str:
    """With every target met: where the default model still trails demons (strain RMSE, Sunnybrook Dice)."""
    m = record["metrics"]
    mean = m["mean"]
    main_id = list(m["speedup_demons_over_ltma"])[0]
    parts = [f"{label} {mean[main_id + key]:.3f} vs {mean['demons' + key]:.3f}"
             for key, label in (("_rmse_radial", "voxelwise radial strain RMSE"),
                                ("_rmse_circumferential", "voxelwise circumferential strain RMSE"),
                                ("_rmse_global_circumferential", "global circumferential strain RMSE"))
             if mean[main_id + key] > mean["demons" + key]]
    dice = f"sunnybrook_mean_dice_{main_id}"
    if dice in d and d[dice] < d["sunnybrook_mean_dice_demons"]:
        parts.append(f"mean Dice of the blood pool propagated on Sunnybrook {d[dice]:.3f} vs "
                     f"{d['sunnybrook_mean_dice_demons']:.3f}")
    if not parts:
        return ""
    return f"Every target is met; the default model `{main_id}` still trails demons on " + "; ".join(parts) + "."


def _foreign_verdict(record: dict, d: dict) -> str:
    """The notes on the foreign set: the default model against demons in EPE and time, and on Sunnybrook."""
    m = record["metrics"]
    foreign = m.get("foreign")
    if not foreign:
        return ""
    main_id = list(m["speedup_demons_over_ltma"])[0]
    fm = foreign["analytic_mean"]
    diff = d["foreign_epe_minus_demons"]
    text = (f" On the foreign analytic cines the default model's EPE ({fm[main_id + '_epe_mm']:.2f} mm) is "
            + (f"{-diff:.2f} mm below" if diff < 0 else f"{diff:.2f} mm above" if diff > 0 else "equal to")
            + f" demons' ({fm['demons_epe_mm']:.2f} mm) at {d['foreign_speedup_' + main_id]:.1f}× its speed"
            + (f" (target {SPEEDUP_TARGET:g}×)" if d["foreign_speedup_" + main_id] < SPEEDUP_TARGET else "")
            + f"; run on the input grid without resampling it reaches {fm[main_id + '_native_epe_mm']:.2f} mm.")
    if f"sunnybrook_mean_dice_{main_id}" in d:
        text += (" On Sunnybrook its propagated blood pool has a mean Dice of "
                 f"{d['sunnybrook_mean_dice_' + main_id]:.3f} (demons {d['sunnybrook_mean_dice_demons']:.3f}, "
                 f"no motion {d['sunnybrook_mean_dice_no_motion']:.3f}).")
    return text


if __name__ == "__main__":
    sys.exit(main())
