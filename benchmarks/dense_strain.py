"""DENSE strain on data the project never trained on: the analytic ring of :mod:`cardiogen.analytic`.

Each case is an analytic LV (thick-walled ring or ellipse, wall 3-6 pixels, hypokinetic sector, optional twist) at
1.5-2.5 mm pixels, rendered as DENSE with partial volume, flow-dephased blood, a planar background phase, complex
noise and phase wrapping, and stored as a DENSEanalysis workspace whose contours are dilated by 1-2 pixels into blood
and air (as contours drawn by hand) and missing for the last third of the frames. The workspace is read back with
``cardiogen.io.load`` and every estimator runs on it:

* ``mesh`` — the default of :func:`cardiogen.motion.dense.dense_strain`: wall tracked with per-pixel quality,
  contours propagated by the measured motion, deformation gradient per triangle (DENSEanalysis-style);
* ``grid`` — the same tracked wall, strain by Eulerian -> Lagrangian resampling and finite differences on the grid
  (the estimator before this benchmark);
* ``mesh-end`` — the default estimator told to end the curves at the last drawn contour;
* ``nearest`` — the path before this benchmark: no per-pixel quality, frames without a contour reuse the nearest
  contour, grid strain;
* ``mesh-auto`` — the default estimator on the wall found on the images (``mask="auto"``), or its refusal.

Truth: the analytic map's exact Green-Lagrange strain, averaged over the reference wall's pixel centres (global), its
hypokinetic core and its remote wall (more than 90° from the hypokinetic sector). Peaks are the curves' extremes
(Err max, Ecc min) over the measured frames; sector values are read at the true end-systolic frame, as means of the
estimator's strain map over the true region.

Targets (issue 17): peak global Ecc and Err within 0.02 of the truth, sector and remote values within 0.03, no strain
reported beyond the drawn frames unless propagated.

    python benchmarks/dense_strain.py --cases 18   # seeds 100-117 (about 3 minutes on 2 cores)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))

ESTIMATORS = {
    "mesh": {"method": "mesh", "unannotated": "propagate"},
    "grid": {"method": "grid", "unannotated": "propagate"},
    "mesh-end": {"method": "mesh", "unannotated": "end"},
    "nearest": {"method": "grid", "unannotated": "nearest"},
    "mesh-auto": {"method": "mesh", "unannotated": "propagate", "mask": "auto"},
}
DEFAULT = "mesh"
TARGET_GLOBAL = 0.02
TARGET_SECTOR = 0.03
ERRORS = ("peak_ecc", "peak_err", "hypo_ecc", "hypo_err", "remote_ecc", "remote_err")
#: Seeds 100-108 (the first 9 cases) were used to choose the per-pixel magnitude threshold
#: (:data:`cardiogen.motion.dense.MAGNITUDE_FRACTION`); cases from seed 109 on were not looked at before it was set.
TUNING_SEEDS = (100, 108)


def cases(n: int) -> list[dict]:
    """Case parameters: pixel sizes 1.5 / 2.0 / 2.5 mm in turn, walls of 3-6 pixels, ellipses, twist, margins."""
    out = []
    pixels = (1.5, 2.0, 2.5)
    for i in range(n):
        px = pixels[i % 3]
        rng = np.random.default_rng(100 + i)
        out.append(dict(seed=100 + i, pixel_mm=px, matrix=int(round(170 / px)), frames=int(rng.integers(20, 31)),
                        wall_mm=float(np.round(rng.uniform(7.5, 10.0), 1)),
                        endo_radius_mm=float(np.round(rng.uniform(18, 25), 1)),
                        endo_shortening=float(np.round(rng.uniform(0.22, 0.34), 2)),
                        hypo_center_deg=float(rng.integers(0, 360)), hypo_factor=float(np.round(rng.uniform(0.1, 0.5), 2)),
                        twist_deg=float([0.0, 6.0, -8.0][i % 3]), ellipticity=float([0.0, 0.12, 0.06][(i // 3) % 3]),
                        contour_margin_px=float([1.0, 1.5, 2.0][(i // 3) % 3]), snr=float(rng.uniform(18, 30)),
                        supersample=3))
    return out


def _region_mean(strain, name: str, frame: int, region: np.ndarray) -> float:
    arr = strain.components[name][frame, 0]
    sel = region & (arr != 0)
    return float(arr[sel].mean()) if sel.any() else float("nan")


def run_case(params: dict, workdir: Path) -> dict:
    from cardiogen.analytic import AnalyticConfig, make_analytic_case, write_dense_workspace
    from cardiogen.errors import CardioGenInputError
    from cardiogen.io import load
    from cardiogen.motion.dense import dense_strain

    case = make_analytic_case(AnalyticConfig(**params))
    truth = case.truth_strain
    es = truth["es_frame"]
    path = write_dense_workspace(case, workdir / f"analytic_{params['seed']}.dns")
    dense = load(path)
    contour_frames = np.flatnonzero(dense.segmentation.annotated[:, 0])
    last_contour = int(contour_frames.max())
    row: dict = {"params": params, "truth": {
        "peak_ecc": float(truth["global_circumferential"].min()), "peak_err": float(truth["global_radial"].max()),
        "hypo_ecc": float(truth["hypokinetic_circumferential"][es]), "hypo_err": float(truth["hypokinetic_radial"][es]),
        "remote_ecc": float(truth["remote_circumferential"][es]), "remote_err": float(truth["remote_radial"][es])},
        "es_frame": es, "last_contour_frame": last_contour, "frames": params["frames"],
        "wall_px": round(params["wall_mm"] / params["pixel_mm"], 2)}
    for name, opts in ESTIMATORS.items():
        t0 = time.perf_counter()
        try:
            strain = dense_strain(dense, opts.get("mask"), method=opts["method"],
                                  displacement_options={"unannotated": opts["unannotated"]})
        except CardioGenInputError as err:
            row[name] = {"refused": str(err)[:300], "s": time.perf_counter() - t0}
            continue
        seconds = time.perf_counter() - t0
        curves = strain.segment_curves
        ecc, err = np.asarray(curves["global_circumferential"]), np.asarray(curves["global_radial"])
        finite = np.isfinite(ecc)
        est = {"peak_ecc": float(np.nanmin(ecc)), "peak_err": float(np.nanmax(err)),
               "hypo_ecc": _region_mean(strain, "circumferential", es, truth["hypokinetic_mask"]),
               "hypo_err": _region_mean(strain, "radial", es, truth["hypokinetic_mask"]),
               "remote_ecc": _region_mean(strain, "circumferential", es, truth["remote_mask"]),
               "remote_err": _region_mean(strain, "radial", es, truth["remote_mask"])}
        sources = strain.provenance.get("frame_sources") or []
        row[name] = {"s": seconds, "estimate": est,
                     "abs_error": {k: abs(est[k] - row["truth"][k]) for k in ERRORS},
                     "frames_reported_after_last_contour": int(np.count_nonzero(finite[last_contour + 1:])),
                     "frames_propagated": int(sum(1 for s in sources if s == "propagated")),
                     "frames_lost": int(sum(1 for s in sources if str(s).startswith("lost")))}
    return row


def summarise(rows: list[dict]) -> dict:
    summary: dict = {}
    for name in ESTIMATORS:
        done = [r[name] for r in rows if "abs_error" in r[name]]
        entry = {"cases": len(rows), "measured_cases": len(done), "refused_cases": len(rows) - len(done),
                 "mean_s": float(np.mean([r[name]["s"] for r in rows]))}
        if done:
            for k in ERRORS:
                vals = np.array([d["abs_error"][k] for d in done], dtype=float)
                entry[f"max_abs_{k}"] = float(np.nanmax(vals)) if np.isfinite(vals).any() else None
                entry[f"mean_abs_{k}"] = float(np.nanmean(vals)) if np.isfinite(vals).any() else None
            entry["frames_reported_after_last_contour"] = int(sum(d["frames_reported_after_last_contour"]
                                                                  for d in done))
            entry["frames_propagated"] = int(sum(d["frames_propagated"] for d in done))
            entry["frames_lost"] = int(sum(d["frames_lost"] for d in done))
        summary[name] = entry
    d = summary[DEFAULT]
    summary["targets"] = {
        "global_within": TARGET_GLOBAL, "sector_within": TARGET_SECTOR,
        "global_met": d.get("max_abs_peak_ecc") is not None
        and max(d["max_abs_peak_ecc"], d["max_abs_peak_err"]) <= TARGET_GLOBAL,
        "sector_met": d.get("max_abs_hypo_ecc") is not None
        and max(d[f"max_abs_{k}"] for k in ERRORS[2:]) <= TARGET_SECTOR,
        "end_policy_reports_nothing_after_contours": summary["mesh-end"].get("frames_reported_after_last_contour")
        == 0,
    }
    return summary


def add_held_out(metrics: dict, rows: list[dict]) -> None:
    """The summary of the cases not used to set the thresholds (seeds after :data:`TUNING_SEEDS`), when any ran."""
    held = [r for r in rows if r["params"]["seed"] > TUNING_SEEDS[1]]
    metrics["tuning_seeds"] = {"first": TUNING_SEEDS[0], "last": TUNING_SEEDS[1]}
    if held:
        metrics["summary_held_out"] = summarise(held)


def _cell(value, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.{digits}f}"


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run, every figure from ``record["metrics"]``."""
    m = record["metrics"]
    s, tg = m["summary"], m["summary"]["targets"]
    cases_ = list(m["cases"].values())  # keyed by seed
    pixels = sorted({c["params"]["pixel_mm"] for c in cases_})
    walls = [c["wall_px"] for c in cases_]
    head = ("| estimator | cases measured | max abs error: peak Ecc | peak Err | hypokinetic Ecc | hypokinetic Err "
            "| remote Ecc | remote Err | frames after the last contour (propagated) | s per case |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for name in ESTIMATORS:
        e = s[name]
        bold = "**" if name == m["default"] else ""
        lines.append(f"| {bold}{name}{bold} | {e['measured_cases']} of {e['cases']} | "
                     + " | ".join(_cell(e.get(f"max_abs_{k}")) for k in ERRORS)
                     + f" | {e.get('frames_reported_after_last_contour', '—')} ({e.get('frames_propagated', '—')})"
                     + f" | {e['mean_s']:.1f} |")
    per_case = ("\n\n| case | pixel mm | wall px | frames (last contour) | truth peak Ecc / Err | "
                f"{m['default']} peak Ecc / Err | grid peak Err | nearest peak Err |\n|---|---|---|---|---|---|---|---|\n")
    for c in cases_:
        t, d = c["truth"], c[m["default"]]
        de = d.get("estimate", {})
        g = c["grid"].get("estimate", {})
        n = c["nearest"].get("estimate", {})
        per_case += (f"| {c['params']['seed']} | {c['params']['pixel_mm']:g} | {c['wall_px']:g} | {c['frames']} "
                     f"({c['last_contour_frame']}) | {t['peak_ecc']:.3f} / {t['peak_err']:.3f} | "
                     f"{_cell(de.get('peak_ecc'))} / {_cell(de.get('peak_err'))} | {_cell(g.get('peak_err'))} | "
                     f"{_cell(n.get('peak_err'))} |\n")
    table = head + "\n".join(lines) + per_case
    d, g, near = s[m["default"]], s["grid"], s["nearest"]
    worst_global = max(d["max_abs_peak_ecc"], d["max_abs_peak_err"])
    worst_sector = max(d[f"max_abs_{k}"] for k in ERRORS[2:])
    notes = [
        f"{len(cases_)} analytic cases at {', '.join(f'{p:g}' for p in pixels)} mm pixels, walls of "
        f"{min(walls):g}-{max(walls):g} pixels, contours dilated into blood and air and missing after the first two "
        "thirds of the frames.",
        f"Default estimator `{m['default']}`: largest peak error {worst_global:.4f} "
        f"({'meets' if tg['global_met'] else 'MISSES'} the {tg['global_within']:g} target), largest hypokinetic or "
        f"remote error {worst_sector:.4f} ({'meets' if tg['sector_met'] else 'MISSES'} the {tg['sector_within']:g} "
        "target).",
        f"Thin walls: on the same tracked wall the grid estimator's largest peak Err error is "
        f"{g['max_abs_peak_err']:.3f} (mean {g['mean_abs_peak_err']:.3f}), the mesh's {d['max_abs_peak_err']:.3f} "
        f"(mean {d['mean_abs_peak_err']:.3f}); on the hypokinetic and remote values the grid's largest error is "
        f"{max(g[f'max_abs_{k}'] for k in ERRORS[2:]):.4f} against the mesh's {worst_sector:.4f}, so "
        + ("the mesh is ahead on both." if worst_sector <= max(g[f'max_abs_{k}'] for k in ERRORS[2:]) else
           "neither estimator is ahead on every measure: the mesh (the default) reads peaks better, the grid "
           "regional values."),
    ]
    held = m.get("summary_held_out")
    if held:
        h, ht = held[m["default"]], held["targets"]
        ts = m["tuning_seeds"]
        notes.append(
            f"The per-pixel magnitude threshold was set on seeds {ts['first']}-{ts['last']}; on the "
            f"{h['cases']} cases after them, not looked at before, the default's largest peak error is "
            f"{max(h['max_abs_peak_ecc'], h['max_abs_peak_err']):.4f} "
            f"({'meets' if ht['global_met'] else 'MISSES'} the target) and its largest hypokinetic or remote error "
            f"{max(h[f'max_abs_{k}'] for k in ERRORS[2:]):.4f} ({'meets' if ht['sector_met'] else 'MISSES'} the "
            "target).")
    if near.get("max_abs_peak_err") is not None:
        notes.append(f"The path before this benchmark (no per-pixel quality, nearest contour reused) is off by up to "
                     f"{near['max_abs_peak_err']:.2f} in peak Err and {near['max_abs_peak_ecc']:.2f} in peak Ecc.")
    end = s["mesh-end"]
    notes.append(f"With `unannotated=\"end\"` the curves stop at the last drawn contour: "
                 f"{end.get('frames_reported_after_last_contour')} frames reported after it; with propagation "
                 f"{d.get('frames_propagated')} frames were measured on contours propagated by the measured motion "
                 f"and {d.get('frames_lost')} were lost.")
    auto = s["mesh-auto"]
    notes.append(f"With the automatic mask: measured on {auto['measured_cases']} of {auto['cases']} cases, refused "
                 f"on {auto['refused_cases']}"
                 + (f"; largest peak error {max(auto['max_abs_peak_ecc'], auto['max_abs_peak_err']):.3f}."
                    if auto.get("max_abs_peak_ecc") is not None else "."))
    return table, "\n\n".join(notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=18)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for params in cases(args.cases):
            t0 = time.perf_counter()
            rows.append(run_case(params, Path(tmp)))
            r = rows[-1]
            print(f"case {params['seed']} ({params['pixel_mm']} mm, wall {r['wall_px']} px): "
                  + ", ".join(f"{n} {r[n]['abs_error']['peak_err']:.3f}/{r[n]['abs_error']['peak_ecc']:.3f}"
                              if "abs_error" in r[n] else f"{n} refused" for n in ESTIMATORS)
                  + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
    metrics = {"default": DEFAULT, "summary": summarise(rows), "cases": {str(r["params"]["seed"]): r for r in rows}}
    add_held_out(metrics, rows)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import command_line, write_result

    command = command_line("dense_strain")
    write_result("dense_strain", command=command, metrics=metrics, report=report)
    table, notes = report({"metrics": metrics})
    print(table)
    print(notes)
    t = metrics["summary"]["targets"]
    return 0 if t["global_met"] and t["sector_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
