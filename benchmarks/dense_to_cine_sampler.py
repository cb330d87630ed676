"""Choosing MFD-V2V's fast sampler and its steps on validation phantoms, against DDPM-1000 (seed 000's sampler).

    python benchmarks/dense_to_cine_sampler.py [--cases 40] [--ddim 10 25 50 100] [--dpmpp 10 15 25] [--bootstrap 1000]

On ``--cases`` validation phantoms (seeds 2000..; neither training, seeds 0-23, nor the benchmark's test cases,
3000.., nor its unpaired reference, 5000..), MFD-V2V (``dense_to_cine``'s registered weights, at the pipeline's
default guidance, first step from the training-data mean) samples one video per case with DDPM-1000 (seed 000's
sampler) and with every fast configuration: DDIM (``--ddim`` steps) and DPM-Solver++(2M) (``--dpmpp`` steps), with
the same start noise per case. Per configuration: seconds per video (sampling only, after a warm-up), cFID and
cFVD against the true cine of the same slices (crop-level feature network), Inception-FID and I3D-FVD where
installed, motion EPE and LV Dice, as in ``benchmarks/dense_to_cine.py``; and, paired over the cases by bootstrap,
each statistic's relative difference to DDPM-1000 (value / DDPM-1000's value - 1).

Rule, fixed before the run (issue 6's target: FID within 10 % of DDPM-1000 at >= 20x less time): a configuration is
*admissible* when it is at least 20x faster than DDPM-1000 in this run and, for cFID and Inception-FID (where
installed), its relative difference to DDPM-1000 is at most +10 % and not above 0 with 95 % confidence (the lower
end of its interval is at most 0). The default is the admissible configuration with the fewest network evaluations
(ties: lower cFID). When none is admissible the default stays as it is and the target is reported as not met.

Writes ``docs/benchmarks/dense_to_cine_sampler.json`` and its table in ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402
from dense_to_cine import DIGITS, evaluate, generate, resampled_rows, validation_set  # noqa: E402
from cardiogen.nets.samplers import sampler_label as label  # noqa: E402

REFERENCE = "DDPM-1000"
TARGET = 0.10  #: relative FID difference to DDPM-1000 allowed by issue 6
MIN_SPEEDUP = 20.0  #: at >= 20x less time
RULE_KEYS = ("cfid", "inception_fid")  #: FIDs that enter the rule (Inception-FID only where installed)


def choose(relative: dict, speedup: dict, configs: list) -> tuple[tuple | None, dict]:
    """The rule of this benchmark (module docstring). ``relative[key]["relative"][label]``: the interval (dict) of
    the relative difference to DDPM-1000; ``speedup[label]``; ``configs``: ``(sampler, steps)``. Returns the chosen
    configuration (None: none admissible) and, per configuration, why it is (not) admissible."""
    why = {}
    for sampler, steps in configs:
        name, fails = label(sampler, steps), []
        if speedup[name] < MIN_SPEEDUP:
            fails.append(f"only {speedup[name]:.1f}x faster")
        for key in RULE_KEYS:
            if key not in relative:
                continue
            d = relative[key]["relative"][name]
            if d["estimate"] > TARGET:
                fails.append(f"{relative[key]['label']} {d['estimate']:+.0%}")
            elif d["low"] > 0.0:
                fails.append(f"{relative[key]['label']} worse with 95 % confidence")
        why[name] = "admissible" if not fails else "; ".join(fails)
    admissible = [c for c in configs if why[label(*c)] == "admissible"]
    if not admissible:
        return None, why
    return min(admissible, key=lambda c: (c[1], relative["cfid"]["relative"][label(*c)]["estimate"])), why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--ddim", type=int, nargs="*", default=[10, 25, 50, 100])
    parser.add_argument("--dpmpp", type=int, nargs="*", default=[10, 15, 25])
    parser.add_argument("--ddpm-steps", type=int, default=1000, help="steps of the reference (1000: seed 000's)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples of the paired bootstrap over cases")
    args = parser.parse_args(argv)
    import torch

    from cardiogen.pipelines.dense_to_cine import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS

    reference = label("ddpm", args.ddpm_steps)
    configs = [("ddim", n) for n in sorted(set(args.ddim))] + [("dpmpp_2m", n) for n in sorted(set(args.dpmpp))]
    entry, cases, truth, caption = validation_set(args.cases, args.frames)
    generate("warm-up", entry, cases[:1], "ddim", 2, DEFAULT_GUIDANCE)  # one-off costs of the first passes
    rows, blocks = {}, {}
    for sampler, steps in [("ddpm", args.ddpm_steps), *configs]:
        name = label(sampler, steps)
        videos, seconds = generate("MFD-V2V", entry, cases, sampler, steps, DEFAULT_GUIDANCE)
        rows[name], blocks[name] = evaluate(videos, cases, truth, None)
        rows[name].update(s_per_video=seconds, steps=steps, sampler=sampler)
        print(name, {k: rows[name].get(k) for k in ("cfid", "inception_fid", "motion_epe_mm", "s_per_video")},
              flush=True)
    speedup = {n: rows[reference]["s_per_video"] / r["s_per_video"] for n, r in rows.items()}
    relative = resampled_rows(blocks, truth, reference, len(cases), args.bootstrap, relative=True)
    chosen, why = choose(relative, speedup, configs)

    keys = list(relative)
    lines = [f"{caption}, guidance {DEFAULT_GUIDANCE:g}, first step from the training-data "
             "mean, one video per case with the same start noise for every sampler. Values, then the relative "
             f"difference to {reference} (value / {reference}'s − 1; lower is better except for LV Dice) with its "
             f"95 % interval (paired bootstrap over the cases, {args.bootstrap} resamples):\n",
             "| sampler | " + " | ".join(relative[k]["label"] for k in keys)
             + f" | s / video (CPU) | faster than {reference} | rule |",
             "|---|" + "---|" * (len(keys) + 3)]
    for name, r in rows.items():
        cells = []
        for k in keys:
            d, f = relative[k]["relative"][name], DIGITS.get(k, 1)
            cells.append(f"{r[k]:.{f}f}" + ("" if name == reference else
                                            f" ({d['estimate']:+.0%} [{d['low']:+.0%}, {d['high']:+.0%}])"))
        is_chosen = chosen is not None and name == label(*chosen)
        lines.append(f"| {name}{' **chosen**' if is_chosen else ''} | " + " | ".join(cells)
                     + f" | {r['s_per_video']:.2f} | {speedup[name]:.1f}× | {why.get(name, 'reference')} |")
    default = label(DEFAULT_SAMPLER, DEFAULT_STEPS)
    verdict = ("none is admissible: the target is not met on these cases" if chosen is None
               else f"**{label(*chosen)}**")
    table = "\n".join(lines) + f"\n\nChosen by the rule: {verdict} (the pipeline's default is {default}).\n"
    metrics = {"weights": entry.id, "validation_cases": [c["seed"] for c in cases], "guidance": DEFAULT_GUIDANCE,
               "reference": reference, "rows": rows, "speedup": speedup, "relative_to_reference": relative,
               "admissible": why, "chosen": None if chosen is None else {"sampler": chosen[0], "steps": chosen[1]},
               "pipeline_default": {"sampler": DEFAULT_SAMPLER, "steps": DEFAULT_STEPS},
               "torch_threads": torch.get_num_threads()}
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/dense_to_cine_sampler.py", *sys.argv[1:]])
    write_result("dense_to_cine_sampler", command=command, metrics=metrics, table_md=table, notes=NOTES)
    print(table)
    return 0


NOTES = """The rule is the one in this script's docstring, fixed before the run (commit f8bbcf4); it reads the
validation phantoms only, never the benchmark's test cases.

What the run found, and why the pipeline's default does not follow the rule's pick:
- DDPM-1000, seed 000's sampler and the rule's reference, gives worse videos than every DDIM configuration on cFID,
  Inception-FID, I3D-FVD, motion EPE and LV Dice; DDIM-25 is better than it on each with 95 % confidence. Its
  stochastic steps leave some videos with a faint ventricle (3 of 40 fail the quality check, LV Dice 0.81 vs 0.93).
  With our small model, trained briefly on CPU, the deterministic sampler is the better one. The rule assumed the
  opposite (DDPM-1000 as the quality the fast samplers approach), so "within 10 % of DDPM-1000" admits every fast
  configuration and the rule reduces to "fewest steps".
- Its pick, DPM-Solver++(2M)-10 (185x faster), has a lower cFID than DDIM-25 (2.11 vs 2.40) but a worse
  Inception-FID (47.9 vs 39.5), I3D-FVD (985 vs 493) and motion error (1.331 vs 1.249 mm, more than twice what
  guidance 4 gains). Motion fidelity is what MFD-V2V is for, so the default stays DDIM-25. This departure from the
  rule is ours, stated here, for the project lead to confirm or overrule.
- Over DDIM's steps, cFID falls from 10 to 50 steps and then stays (3.84, 2.40, 1.92, 1.95 at 10, 25, 50, 100),
  Inception-FID is lowest at 25 (44.4, 39.5, 40.4, 44.5) and the motion error rises with the steps (1.236, 1.249,
  1.272, 1.309 mm). DPM-Solver++(2M) is not monotonic in its steps here (cFID 2.11, 3.25, 2.34 at 10, 15, 25) and is
  behind DDIM at the same or fewer steps on Inception-FID, I3D-FVD and motion.
- Issue 6's target (FID within 10 % of DDPM-1000 at >= 20x less time): DDIM-25, the default, is 46x faster and
  better than DDPM-1000 on every metric with 95 % confidence (cFID -53 %, interval [-75 %, -11 %]; Inception-FID
  -36 %, [-50 %, -15 %])."""


if __name__ == "__main__":
    sys.exit(main())
