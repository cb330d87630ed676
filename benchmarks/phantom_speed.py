"""Benchmark: time to make one phantom case in every modality on ONE CPU core.

Case: MR 64 x 64 x 10 slices x 20 frames (cine, tagging, DENSE x/y), CT 64³ x 10 phases, 10 s 12-lead ECG at
500 Hz, and the truth (displacement, strain, masks). Target: median < 2 s.

    .venv/bin/python benchmarks/phantom_speed.py [--runs 7] [--output docs/benchmarks/phantom_speed.json]

Writes the JSON (machine, command, date, metrics with a per-stage breakdown) and prints one markdown table row.
"""
from __future__ import annotations

import os

if __name__ == "__main__":  # one thread everywhere, before numpy (or anything loading BLAS / OpenMP) is imported
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS"):
        os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))


TARGET_S = 2.0
STAGES = ("setup", "mr_setup", "mr_grid", "mr_inverse", "masks", "cine", "tagging", "dense", "ct", "ecg", "truth")


def _pin_one_core() -> int | None:
    """Restrict this process to one CPU (the first it may use); returns it, or None where unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs (median reported), after one warm-up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from cardiogen.phantom import PhantomConfig, make_case

    cpu = _pin_one_core()
    cfg = PhantomConfig(seed=args.seed, size=64, frames=20, slices=10, ct_size=64, ct_frames=10,
                        modalities=("cine", "tagging", "dense", "ct", "ecg"))
    make_case(cfg)  # warm-up: imports, caches
    totals, stages = [], {name: [] for name in STAGES}
    for run in range(args.runs):
        t0 = time.perf_counter()
        case = make_case(cfg.replace(seed=args.seed + run))
        totals.append(time.perf_counter() - t0)
        for name in STAGES:
            stages[name].append(case.timings_s.get(name, 0.0))
    median = statistics.median(totals)
    breakdown = {name: round(statistics.median(vals), 4) for name, vals in stages.items()}
    breakdown["mr_total"] = round(sum(breakdown[k] for k in ("mr_setup", "mr_grid", "mr_inverse", "masks", "cine",
                                                             "tagging", "dense")), 4)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import command_line, write_result

    metrics = {"runs": args.runs, "median_s": round(median, 4), "min_s": round(min(totals), 4),
               "max_s": round(max(totals), 4), "target_s": TARGET_S, "meets_target": median < TARGET_S,
               "ecg_rendered": case.ecg is not None, "pinned_cpu": cpu, "threads": 1, "stage_median_s": breakdown,
               "config": cfg.to_dict()}
    command = command_line("phantom_speed")
    write_result("phantom_speed", command=command, metrics=metrics, report=report)
    table, _ = report({"metrics": metrics})
    print(table)
    return 0 if median < TARGET_S else 1


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run (``record["metrics"]`` as :func:`main` writes it), every figure from it."""
    m = record["metrics"]
    b, c = m["stage_median_s"], m["config"]
    target, threads = m["target_s"], m["threads"]
    table = (f"| case | median s (target < {target:g} s, {threads} core) | min / max s "
             "| MR: cine + tagging + DENSE + masks | CT | ECG | truth |\n|---|---|---|---|---|---|---|\n"
             f"| MR {c['size']}×{c['size']}×{c['slices']} × {c['frames']} frames, CT {c['ct_size']}³ × "
             f"{c['ct_frames']}, {c['ecg_duration_s']:g} s ECG | **{m['median_s']:.2f}** | {m['min_s']:.2f} / "
             f"{m['max_s']:.2f} | {b['mr_total']:.2f} | {b['ct']:.2f} | {b['ecg']:.3f} | {b['truth']:.2f} |")
    meets = m["median_s"] < target
    notes = (f"{'Meets' if meets else 'MISSES'} the target: one case in all modalities "
             f"{'in under' if meets else 'takes more than'} {target:g} s on one CPU core (median of {m['runs']} runs "
             f"after a warm-up; process pinned to one core, BLAS/OpenMP threads {threads}).")
    return table, notes


if __name__ == "__main__":
    sys.exit(main())
