"""Benchmark: time to make one phantom case in every modality on ONE CPU core.

Case: MR 64 x 64 x 10 slices x 20 frames (cine, tagging, DENSE x/y), CT 64³ x 10 phases, 10 s 12-lead ECG at
500 Hz, and the truth (displacement, strain, masks). Target: median < 2 s.

    .venv/bin/python benchmarks/phantom_speed.py [--runs 7] [--output docs/benchmarks/phantom_speed.json]

Writes the JSON (machine, command, date, metrics with a per-stage breakdown) and prints one markdown table row.
"""
from __future__ import annotations

import os

# One thread everywhere, before numpy (or anything that loads a BLAS / OpenMP runtime) is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))

import numpy as np  # noqa: E402

from cardiogen.io.atomic import atomic_path  # noqa: E402
from cardiogen.phantom import PhantomConfig, make_case  # noqa: E402

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
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks" / "phantom_speed.json")
    args = parser.parse_args(argv)
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
    result = {
        "benchmark": "phantom_speed",
        "description": "make_case, all modalities: MR 64x64x10 x 20 frames (cine, tagging, DENSE x/y), "
                       "CT 64^3 x 10 phases, 10 s 12-lead ECG, truth; one CPU core",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": {"platform": platform.platform(), "cpu_model": _cpu_model(), "python": platform.python_version(),
                    "numpy": np.__version__, "pinned_cpu": cpu, "threads": 1},
        "config": cfg.to_dict(),
        "metrics": {
            "runs": args.runs,
            "median_s": round(median, 4),
            "min_s": round(min(totals), 4),
            "max_s": round(max(totals), 4),
            "target_s": TARGET_S,
            "meets_target": median < TARGET_S,
            "ecg_rendered": case.ecg is not None,
            "stage_median_s": breakdown,
        },
    }
    with atomic_path(args.output) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    b = breakdown
    print("| date | CPU | median s (target < 2) | MR (cine+tag+DENSE+masks) | CT | ECG | truth |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {result['date'][:10]} | {result['machine']['cpu_model']} (1 core) | {median:.2f} | {b['mr_total']:.2f} "
          f"| {b['ct']:.2f} | {b['ecg']:.2f} | {b['truth']:.2f} |")
    return 0 if median < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
