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
  and peaks (myocardium refined from the images inside the stored endocardial contour, which misses the wall).

Writes ``docs/benchmarks/motion.json`` and its table in ``docs/benchmarks.md``.
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
    return {"file": str(path.relative_to(REPO.parent)), "peaks": peaks,
            "frame_times_ms": strain.frame_times.tolist(),
            "global_radial": strain.global_curve("radial").tolist(),
            "global_circumferential": strain.global_curve("circumferential").tolist()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--weights", nargs="*", default=None,
                        help="registry ids of LTMA models (default: every model registered for 'register')")
    args = parser.parse_args(argv)
    import torch

    from cardiogen.weights import Registry

    weights = args.weights or [e.id for e in Registry().list("register")]
    mean, rows = run(args.cases, weights)
    real = real_dense()
    main_id = weights[0]
    speedup = {w: mean["demons_s"] / mean[f"{w}_s"] for w in weights}
    targets = {
        "ltma_epe_at_or_below_demons": mean[f"{main_id}_epe_mm"] <= mean["demons_epe_mm"],
        "ltma_at_least_20x_faster_cpu": speedup[main_id] >= 20,
        "dense_peak_circ_within_0.02": mean["dense_peak_circ_abs_err"] <= 0.02,
    }
    registry = Registry()
    lines = [f"| method (held-out phantom seeds {rows[0]['seed']}-{rows[-1]['seed']}, n = {len(rows)}) "
             f"| EPE mm (in-plane, LV myo) | RMSE E_rr | RMSE E_cc | RMSE global E_cc "
             f"| s / case (CPU, {torch.get_num_threads()} threads) | demons time / this |",
             "|---|---|---|---|---|---|---|"]
    for name in [*weights, "demons"]:
        label = (f"LTMA `{name}` ({registry.get(name).size_bytes // 1024} KB)" if name != "demons"
                 else "SimpleITK demons (baseline)")
        ratio = f"{speedup[name]:.1f}×" if name != "demons" else "1×"
        lines.append(f"| {label} | {mean[name + '_epe_mm']:.2f} | {mean[name + '_rmse_radial']:.3f} "
                     f"| {mean[name + '_rmse_circumferential']:.3f} | {mean[name + '_rmse_global_circumferential']:.3f} "
                     f"| {mean[name + '_s']:.2f} | {ratio} |")
    table = "\n".join(lines) + "\n"
    table += (f"\nDENSE path (phantom phase → unwrapping → displacement → strain): peak global E_cc "
              f"{mean['dense_peak_circ']:.3f} vs truth {mean['truth_peak_circ']:.3f}, mean absolute error "
              f"**{mean['dense_peak_circ_abs_err']:.3f}** (target ≤ 0.02).\n")
    if real:
        p = real["peaks"]
        table += (f"\nReal swine DENSE sample (`{real['file']}`): peak global circumferential strain "
                  f"**{p['circumferential']['peak']:.3f}** at {p['circumferential']['time_ms']:.0f} ms, radial "
                  f"**{p['radial']['peak']:.3f}** at {p['radial']['time_ms']:.0f} ms (healthy E_cc roughly −0.10 to "
                  "−0.25). The stored ROI misses this scan's wall, so the myocardium is refined from magnitude and "
                  "phase coherence inside the stored endocardial contour.\n")
    table += (f"\nTargets (default model `{main_id}`): "
              + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items()) + ".")
    metrics = {"mean": mean, "targets": targets, "speedup_demons_over_ltma": speedup, "per_case": rows,
               "real_dense": real, "torch_threads": torch.get_num_threads(),
               "weights_sha256": {w: registry.get(w).sha256 for w in weights}}
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/motion.py", *sys.argv[1:]])
    notes = ""
    if not (targets["ltma_epe_at_or_below_demons"] and targets["ltma_at_least_20x_faster_cpu"]):
        notes = ("Shortfall: the LTMA demo weights are trained for minutes on 24 phantom cases on CPU; the EPE "
                 "difference to demons is within the spread between cases, and the wider variant trades speed "
                 "for accuracy. On CPU LTMA's time is dominated by full-resolution convolutions over 10 slices × "
                 "20 frames; demons' by its 60 iterations per frame. Both use the 2 cores of this machine.")
    write_result("motion", command=command, metrics=metrics, table_md=table, notes=notes)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
