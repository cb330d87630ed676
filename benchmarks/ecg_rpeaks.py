"""R-peak detection of the ECG front end (issue 18, item 2): MIT-BIH record 100 and phantom ECGs with known R times.

Detectors (:data:`cardiogen.ecg_frontend.DETECTORS`): ``pan_tompkins`` (ours, all leads), ``energy`` (the older
detector of :mod:`cardiogen.ecg_tools`), ``xqrs`` and ``gqrs`` (wfdb-python, on the rhythm lead). Every detector's
picks move to the same R point (largest deflection of the rhythm lead within ±60 ms), so they differ only in which
beats they find. neurokit2 is not installed in this environment and is not compared.

* MIT-BIH Arrhythmia Database record 100 (``shared/data/ecg/mitdb_100``, 30 min, MLII and V5 at 360 Hz), read with
  :func:`cardiogen.io.ecg_io.read_ecg_wfdb`; reference = its beat annotations (N, A, V; the rhythm label is no beat).
  The record goes through the front end as a model input would: resampled to 500 Hz, baseline and powerline removed.
* Phantom ECGs (:func:`cardiogen.phantom.ecg.synthesize_ecg`, 12 leads, 10 s) at 250, 360 and 1000 Hz with noise,
  baseline wander and a 50 or 60 Hz powerline tone, through :func:`cardiogen.ecg_frontend.standardise` (500 Hz),
  baseline and powerline removal; reference = the model's R times k·RR exactly (beats within 100 ms of either end of
  the record, half cut, are left out of both reference and detections).

A detection matches the nearest unmatched reference beat within the tolerance: 150 ms (the match window of ANSI/AAMI
EC57 used for MIT-BIH results) and 50 ms. Sensitivity = TP / (TP + FN), PPV = TP / (TP + FP), F1 their harmonic
mean. The whole record counts (no learning period left out).

    python benchmarks/ecg_rpeaks.py          # about 2 minutes on 2 cores
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))

#: not measured: the target of issue 18, item 2
CONSTANTS = {"target_f1": 0.995, "large_error_ms": 5.0}  # the target; a timing error the notes single out
TOLERANCES_MS = (150.0, 50.0)
EDGE_MS = 100.0
SEEDS = (0, 1, 2)
HEART_RATES = (48.0, 75.0, 110.0, 160.0)
NOISE_MV = (0.02, 0.1)
RATES_HZ = (250.0, 360.0, 1000.0)


def match(reference_s: np.ndarray, detected_s: np.ndarray, tolerance_s: float) -> tuple[int, int, int, np.ndarray]:
    """(TP, FP, FN, errors_s of the matched pairs): each reference beat, in time order, takes the nearest unmatched
    detection within ``tolerance_s``."""
    det = np.sort(np.asarray(detected_s, dtype=float))
    used = np.zeros(det.size, dtype=bool)
    errors = []
    for r in np.sort(np.asarray(reference_s, dtype=float)):
        lo, hi = np.searchsorted(det, r - tolerance_s), np.searchsorted(det, r + tolerance_s, side="right")
        free = [i for i in range(lo, hi) if not used[i]]
        if free:
            best = min(free, key=lambda i: abs(det[i] - r))
            used[best] = True
            errors.append(det[best] - r)
    tp = len(errors)
    return tp, int(det.size - tp), int(len(reference_s) - tp), np.asarray(errors)


def scores(tp: int, fp: int, fn: int) -> dict:
    se = tp / (tp + fn) if tp + fn else float("nan")
    ppv = tp / (tp + fp) if tp + fp else float("nan")
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return {"tp": tp, "fp": fp, "fn": fn, "sensitivity": round(se, 5), "ppv": round(ppv, 5), "f1": round(f1, 5)}


def evaluate(reference_s: np.ndarray, detected_s: np.ndarray) -> dict:
    out = {}
    for tol in TOLERANCES_MS:
        tp, fp, fn, err = match(reference_s, detected_s, tol / 1000.0)
        out[f"tol_{tol:g}ms"] = scores(tp, fp, fn)
        if tol == min(TOLERANCES_MS):
            out["abs_errors_ms"] = np.abs(err) * 1000.0
    return out


def mitdb(path: Path) -> dict:
    from cardiogen import ecg_frontend as fe
    from cardiogen.io.ecg_io import read_ecg_wfdb
    from _common import display_path

    raw = read_ecg_wfdb(path / "100.hea")
    ref = raw.fiducials["R"] / raw.sampling_rate
    ecg = fe.remove_powerline(fe.remove_baseline(fe.resample(raw, fe.FS_OUT)))
    out = {"record": display_path(path / "100.hea"), "leads": list(raw.lead_names), "fs_hz": raw.sampling_rate,
           "duration_s": round(raw.duration_s, 1), "reference_beats": int(ref.size), "resampled_to_hz": fe.FS_OUT,
           "powerline_hz": ecg.metadata["powerline_hz"], "rhythm_lead": ecg.lead_names[fe.rhythm_lead(ecg)],
           "detectors": {}}
    for name in fe.DETECTORS:
        t0 = time.perf_counter()
        r = fe.detect_r_peaks(ecg, method=name)
        seconds = time.perf_counter() - t0
        ev = evaluate(ref, r / ecg.sampling_rate)
        err = ev.pop("abs_errors_ms")
        out["detectors"][name] = {**ev, "detected": int(r.size),
                                  "median_abs_error_ms": round(float(np.median(err)), 2), "seconds": round(seconds, 2)}
        print(f"mitdb_100 {name}: {ev}", flush=True)
    return out


def phantom() -> dict:
    from cardiogen import ecg_frontend as fe
    from cardiogen.data import STANDARD_12_LEADS
    from cardiogen.phantom.ecg import reference_heart_to_lps, synthesize_ecg

    cases: list[dict] = []
    per = {name: {"errors": [], "case_f1": []} for name in fe.DETECTORS}
    totals = {name: {f"tol_{t:g}ms": [0, 0, 0] for t in TOLERANCES_MS} for name in fe.DETECTORS}
    i = 0
    for seed in SEEDS:
        for hr in HEART_RATES:
            for noise in NOISE_MV:
                fs = RATES_HZ[i % len(RATES_HZ)]
                line_hz = (50.0, 60.0)[i % 2]
                dys = (0.0, 0.7)[(i // 2) % 2]
                rng = np.random.default_rng(seed)
                ecg = synthesize_ecg(heart_rate_bpm=hr, duration_s=fe.SECONDS, sampling_rate=fs, lv_mass_g=150.0,
                                     dyssynchrony=dys, infarct_center_deg=None, infarct_width_deg=60.0,
                                     infarct_severity=0.0, heart_to_lps=reference_heart_to_lps(), sex="M", rng=rng,
                                     noise_mv=noise)
                t = np.arange(ecg.n_samples) / fs
                ecg.signals = ecg.signals + 0.05 * np.sin(2 * np.pi * line_hz * t + rng.uniform(0, 6.28))[None]
                std = fe.remove_powerline(fe.remove_baseline(fe.standardise(ecg)))
                rr = 60.0 / hr
                truth = np.arange(0, int(fe.SECONDS / rr) + 2) * rr
                inside = lambda x: x[(x >= EDGE_MS / 1000) & (x <= fe.SECONDS - EDGE_MS / 1000)]  # noqa: E731
                truth = inside(truth)
                cases.append({"seed": seed, "heart_rate_bpm": hr, "noise_mv": noise, "fs_hz": fs,
                              "powerline_hz": line_hz, "powerline_found_hz": std.metadata["powerline_hz"],
                              "dyssynchrony": dys, "beats": int(truth.size)})
                for name in fe.DETECTORS:
                    det = inside(fe.detect_r_peaks(std, method=name) / std.sampling_rate)
                    ev = evaluate(truth, det)
                    err = ev.pop("abs_errors_ms")
                    per[name]["errors"].extend(err.tolist())
                    per[name]["case_f1"].append(ev["tol_150ms"]["f1"])
                    if name == fe.DEFAULT_DETECTOR:
                        cases[-1]["default_max_abs_error_ms"] = round(float(err.max()), 2) if err.size else None
                    for key, s in ev.items():
                        for j, part in enumerate(("tp", "fp", "fn")):
                            totals[name][key][j] += s[part]
                i += 1
    det_out = {}
    for name in totals:
        err = np.asarray(per[name]["errors"])
        det_out[name] = {**{k: scores(*v) for k, v in totals[name].items()},
                         "worst_case_f1": float(min(per[name]["case_f1"])),
                         "median_abs_error_ms": round(float(np.median(err)), 2),
                         "p95_abs_error_ms": round(float(np.percentile(err, 95)), 2),
                         "max_abs_error_ms": round(float(err.max()), 2)}
        print(f"phantom {name}: {det_out[name]}", flush=True)
    return {"seeds": list(SEEDS), "heart_rates_bpm": list(HEART_RATES), "noise_mv": list(NOISE_MV),
            "sampling_rates_hz": list(RATES_HZ), "edge_ms": EDGE_MS, "fs_out_hz": fe.FS_OUT,
            "leads": len(STANDARD_12_LEADS), "n_cases": len(cases),
            "powerline_detected": int(sum(c["powerline_found_hz"] == c["powerline_hz"] for c in cases)),
            "cases": cases, "detectors": det_out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="folder of mitdb_100 (default shared/data/ecg)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cardiogen import ecg_frontend as fe
    from cardiogen.io import sample_data_dir
    from _common import command_line, write_result

    path = args.data or sample_data_dir() / "ecg" / "mitdb_100"
    metrics: dict = {"tolerances_ms": list(TOLERANCES_MS), "default": fe.DEFAULT_DETECTOR,
                     "detectors": list(fe.DETECTORS)}
    if (path / "100.hea").is_file():
        metrics["mitdb_100"] = mitdb(path)
    metrics["phantom"] = phantom()
    command = command_line("ecg_rpeaks")
    write_result("ecg_rpeaks", command=command, metrics=metrics, report=report)
    table, notes = report({"metrics": metrics})
    print(table + "\n\n" + notes)
    return 0


def _f1_cell(s: dict) -> str:
    return f"{s['f1']:.4f} ({s['sensitivity']:.4f} / {s['ppv']:.4f})"


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run, every figure from ``record["metrics"]`` (the target from CONSTANTS)."""
    m = record["metrics"]
    target = CONSTANTS["target_f1"]
    wide, narrow = (f"tol_{t:g}ms" for t in m["tolerances_ms"])
    tw, tn = m["tolerances_ms"]
    ph = m["phantom"]
    lines = []
    if "mitdb_100" in m:
        mb = m["mitdb_100"]
        lines.append(f"| detector | mitdb_100 F1 (Se / PPV), ±{tw:g} ms | mitdb_100 F1, ±{tn:g} ms | mitdb_100 TP / FP "
                     f"/ FN (±{tw:g} ms) | mitdb_100 median abs error ms | s for the record | phantom F1 (Se / PPV), "
                     f"±{tw:g} ms | phantom F1, ±{tn:g} ms | phantom worst case F1 | phantom abs error ms: median / "
                     "95th pct / max |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
    else:
        lines.append(f"| detector | phantom F1 (Se / PPV), ±{tw:g} ms | phantom F1, ±{tn:g} ms | phantom worst case F1 "
                     "| phantom abs error ms: median / 95th pct / max |")
        lines.append("|---|---|---|---|---|")
    for name in m["detectors"]:
        p = ph["detectors"][name]
        bold = "**" if name == m["default"] else ""
        row = f"| {bold}{name}{bold} | "
        if "mitdb_100" in m:
            d = m["mitdb_100"]["detectors"][name]
            w = d[wide]
            row += (f"{_f1_cell(w)} | {d[narrow]['f1']:.4f} | {w['tp']} / {w['fp']} / {w['fn']} | "
                    f"{d['median_abs_error_ms']:.2f} | {d['seconds']:.1f} | ")
        row += (f"{_f1_cell(p[wide])} | {p[narrow]['f1']:.4f} | {p['worst_case_f1']:.4f} | "
                f"{p['median_abs_error_ms']:.2f} / {p['p95_abs_error_ms']:.2f} / {p['max_abs_error_ms']:.2f} |")
        lines.append(row)
    table = "\n".join(lines)

    notes = []
    default = m["default"]
    if "mitdb_100" in m:
        mb = m["mitdb_100"]
        f1 = {n: mb["detectors"][n][wide]["f1"] for n in m["detectors"]}
        best = max(f1, key=f1.get)
        met = f1[default] >= target
        notes.append(
            f"MIT-BIH record 100 ({mb['duration_s']:g} s, {' and '.join(mb['leads'])} at {mb['fs_hz']:g} Hz, "
            f"{mb['reference_beats']} reference beats), resampled to {mb['resampled_to_hz']:g} Hz with baseline and "
            f"powerline removed (line frequency found: {mb['powerline_hz'] if mb['powerline_hz'] else 'none'}); R on "
            f"lead {mb['rhythm_lead']}. Default detector `{default}`: F1 {f1[default]:.4f} at ±{tw:g} ms, "
            f"{'meets' if met else 'MISSED'} the target F1 ≥ {target:g}; at ±{tn:g} ms F1 "
            f"{mb['detectors'][default][narrow]['f1']:.4f} "
            f"({'meets' if mb['detectors'][default][narrow]['f1'] >= target else 'MISSED'}).")
        others = [n for n in m["detectors"] if n != default]
        notes.append("Others at ±" + f"{tw:g} ms: " + ", ".join(
            f"`{n}` {f1[n]:.4f} ({'meets' if f1[n] >= target else 'MISSED'})" for n in others) + ". "
            + ("The default is the best on this record (or tied)." if f1[default] >= f1[best] else
               f"`{best}` is better on this record than the default.")
            + " This record is no held-out test: the edge handling of `pan_tompkins` (a QRS centred just past the "
            "record's end) was added after its first run here missed the last beat, cut by the record's end.")
    else:
        notes.append(f"MIT-BIH record 100 was not found: the target F1 ≥ {target:g} on it is not measured.")
    pf1 = {n: ph["detectors"][n][wide]["f1"] for n in m["detectors"]}
    pbest = max(pf1, key=pf1.get)
    notes.append(
        f"Phantom: {ph['n_cases']} ECGs of {ph['leads']} leads (seeds {ph['seeds'][0]}-{ph['seeds'][-1]}, heart rates "
        f"{', '.join(f'{h:g}' for h in ph['heart_rates_bpm'])} bpm, noise "
        f"{' and '.join(f'{v:g}' for v in ph['noise_mv'])} mV with baseline wander, sampled at "
        f"{', '.join(f'{v:g}' for v in ph['sampling_rates_hz'])} Hz, a powerline tone) standardised to "
        f"{ph['fs_out_hz']:g} Hz; the "
        f"powerline detector named the right line frequency in {ph['powerline_detected']} of {ph['n_cases']}. "
        f"Default `{default}`: F1 {pf1[default]:.4f}, median R timing error "
        f"{ph['detectors'][default]['median_abs_error_ms']:.2f} ms; best F1 `{pbest}` {pf1[pbest]:.4f}. Beats within "
        f"{ph['edge_ms']:g} ms of the record's ends are left out.")
    large = CONSTANTS["large_error_ms"]
    big = [c for c in ph["cases"] if (c.get("default_max_abs_error_ms") or 0) > large]
    if big:
        noise = sorted({c["noise_mv"] for c in big})
        bifid = [c for c in big if c["dyssynchrony"] > 0]
        notes[-1] += (f" Timing errors above {large:g} ms (in {len(big)} of {ph['n_cases']} ECGs, at most "
                      f"{max(c['default_max_abs_error_ms'] for c in big):.2f} ms) come with noise "
                      f"{' or '.join(f'{v:g}' for v in noise)} mV; {len(bifid)} of these {len(big)} have a "
                      "dyssynchronous, bifid R, whose two humps of nearly equal height let noise decide which is "
                      "the largest deflection (the phantom's R).")
    return table, "\n\n".join(notes)


if __name__ == "__main__":
    sys.exit(main())
