"""Small ECG helpers: R-peak detection, median beat, QRS onset/offset, Sokolow-Lyon voltage, ST level.

Every function takes a :class:`cardiogen.data.Ecg` (signals ``(leads, samples)`` in mV) and works on any
sampling rate ≥ 20 Hz. Times returned are in ms, voltages in mV, sample positions are int64 indices.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
from scipy import signal

from .errors import CardioGenInputError

if TYPE_CHECKING:  # pragma: no cover
    from .data import Ecg

__all__ = ["detect_r_peaks", "median_beat", "measure_qrs", "sokolow_lyon_mv", "st_deviation_mv"]

#: Preferred leads for R detection when present (conventional rhythm leads).
_RHYTHM_LEADS = ("II", "MLII", "ECG II", "Lead II")


def _bandpass(x: np.ndarray, fs: float, lo: float, hi: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth band-pass along the last axis (``hi`` capped below Nyquist)."""
    nyq = fs / 2.0
    hi = min(hi, 0.9 * nyq)
    if hi <= lo:
        raise CardioGenInputError("ECG sampling rate too low for QRS analysis", expected="≥ 20 Hz", got=fs)
    b, a = signal.butter(2, [lo / nyq, hi / nyq], btype="band")
    padlen = min(x.shape[-1] - 1, 3 * max(len(a), len(b)))
    return signal.filtfilt(b, a, x, axis=-1, padlen=padlen)


def _lowpass(x: np.ndarray, fs: float, hi: float) -> np.ndarray:
    nyq = fs / 2.0
    if hi >= 0.9 * nyq:
        return np.asarray(x, dtype=float)
    b, a = signal.butter(2, hi / nyq, btype="low")
    padlen = min(x.shape[-1] - 1, 3 * max(len(a), len(b)))
    return signal.filtfilt(b, a, x, axis=-1, padlen=padlen)


def _lead_index(ecg: "Ecg", lead: str | None, filtered: np.ndarray) -> int:
    if lead is not None:
        if lead not in ecg.lead_names:
            raise CardioGenInputError("no such ECG lead", expected=ecg.lead_names, got=lead)
        return ecg.lead_names.index(lead)
    energy = np.sum(filtered**2, axis=1)
    strongest = int(np.argmax(energy))
    for name in _RHYTHM_LEADS:
        if name in ecg.lead_names:
            idx = ecg.lead_names.index(name)
            if energy[idx] >= 0.25 * energy[strongest]:
                return idx
    return strongest


def detect_r_peaks(ecg: "Ecg", lead: str | None = None, min_rr_ms: float = 250.0) -> np.ndarray:
    """Sample indices of R peaks.

    Band-passes (5-20 Hz) every lead (after mirroring 0.5 s at both ends, so that a beat at the very first or
    last sample is found too), sums the squared derivatives over the leads, integrates over 120 ms and picks
    peaks above 35 % of the 99th percentile, at least ``min_rr_ms`` apart. Each pick then moves to the largest
    absolute deflection (against the local median) within ±60 ms on the chosen lead: ``lead`` if given, else
    lead II (or MLII) when it carries at least a quarter of the strongest lead's QRS energy, else the strongest
    lead. A pick on the first or last sample is kept only when its deflection is at least half the median of
    the others (a QRS cut by the record's end is not an R peak inside it).

    Returns:
        int64 ``(n_peaks,)`` sample indices, sorted and unique (empty when no beat is found).
    """
    fs = ecg.sampling_rate
    n = ecg.n_samples
    if n < 4:
        return np.zeros(0, dtype=np.int64)
    pad = min(n - 1, int(0.5 * fs))
    padded = np.pad(ecg.signals, ((0, 0), (pad, pad)), mode="reflect")
    filtered = _bandpass(padded, fs, 5.0, 20.0)
    idx = _lead_index(ecg, lead, filtered[:, pad : pad + n])
    energy = np.sum(np.gradient(filtered, axis=1) ** 2, axis=0)
    win = max(1, int(0.12 * fs))
    integrated = np.convolve(energy, np.ones(win) / win, mode="same")
    height = 0.35 * np.percentile(integrated[pad : pad + n], 99)
    if not height > 0:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = signal.find_peaks(integrated, height=height, distance=max(1, int(min_rr_ms * fs / 1000)))
    peaks = peaks - pad
    peaks = peaks[(peaks >= -int(0.03 * fs)) & (peaks < n + int(0.03 * fs))]
    raw = ecg.signals[idx]
    half = max(1, int(0.06 * fs))
    base_half = max(half + 1, int(0.3 * fs))
    refined, size = [], []
    for p in np.clip(peaks, 0, n - 1):
        lo, up = max(0, p - half), min(n, p + half + 1)
        base = np.median(raw[max(0, p - base_half) : min(n, p + base_half + 1)])
        dev = np.abs(raw[lo:up] - base)
        refined.append(lo + int(np.argmax(dev)))
        size.append(float(dev.max()))
    refined_arr, size_arr = np.asarray(refined, dtype=np.int64), np.asarray(size)
    edge = (refined_arr == 0) | (refined_arr == n - 1)
    if np.any(edge) and np.any(~edge):
        keep = ~edge | (size_arr >= 0.5 * np.median(size_arr[~edge]))
        refined_arr = refined_arr[keep]
    return np.unique(refined_arr)


def _r_peaks(ecg: "Ecg", r_peaks: Sequence[int] | np.ndarray | None) -> np.ndarray:
    if r_peaks is None:
        r_peaks = ecg.fiducials.get("R")
        if r_peaks is None or len(r_peaks) == 0:
            r_peaks = detect_r_peaks(ecg)
    return np.asarray(r_peaks, dtype=np.int64)


def median_beat(ecg: "Ecg", r_peaks: Sequence[int] | np.ndarray | None = None, before_ms: float = 300.0,
                after_ms: float = 500.0) -> tuple[np.ndarray, int]:
    """Median of all beats that fit completely, aligned on their R peaks.

    Args:
        r_peaks: sample indices (default: ``fiducials["R"]``, else :func:`detect_r_peaks`).
        before_ms, after_ms: window around each R.

    Returns:
        ``(beat, r_index)``: float ``(leads, m)`` mV and the sample of R inside it.
    """
    fs = ecg.sampling_rate
    r = _r_peaks(ecg, r_peaks)
    pre = int(round(before_ms * fs / 1000.0))
    post = int(round(after_ms * fs / 1000.0))
    r = r[(r - pre >= 0) & (r + post < ecg.n_samples)]
    if r.size == 0:
        raise CardioGenInputError("no complete beat in the ECG for a median beat",
                                  expected=f"an R peak with {before_ms:g} ms before and {after_ms:g} ms after")
    beats = np.stack([ecg.signals[:, p - pre : p + post + 1] for p in r])
    return np.median(beats, axis=0), pre


def _run_around_peak(velocity: np.ndarray, threshold: float, max_gap: int) -> tuple[int, int]:
    """First and last index of the run around ``argmax(velocity)`` where it is ≥ ``threshold`` · max.

    Gaps of at most ``max_gap`` samples below the threshold do not end the run.
    """
    peak = int(np.argmax(velocity))
    above = velocity >= threshold * velocity[peak]
    max_gap = max(1, int(max_gap))
    bounds = []
    for step, stop in ((-1, -1), (1, velocity.size)):
        edge, quiet = peak, 0
        for i in range(peak + step, stop, step):
            quiet = 0 if above[i] else quiet + 1
            if quiet > max_gap:
                break
            if above[i]:
                edge = i
        bounds.append(edge)
    return bounds[0], bounds[1]


def measure_qrs(ecg: "Ecg", r_peaks: Sequence[int] | np.ndarray | None = None, threshold: float = 0.1,
                max_notch_ms: float = 30.0) -> dict:
    """QRS onset, offset and duration from the spatial velocity of the median beat.

    The spatial velocity is the root of the summed squared slopes of all leads (40 Hz low-pass). The QRS is the
    run of samples around its maximum (searched within R − 160 ms .. R + 200 ms) where it exceeds ``threshold``
    times that maximum; dips shorter than ``max_notch_ms`` (the notch of a bifid QRS) do not end the run, while
    the PR and ST segments (longer quiet stretches) keep the P and T waves out.

    Returns:
        dict with ``onset_ms`` and ``offset_ms`` (relative to R, onset negative), ``duration_ms``, and the
        ``beat`` / ``r_index`` of :func:`median_beat`.
    """
    fs = ecg.sampling_rate
    beat, ir = median_beat(ecg, r_peaks, before_ms=300.0, after_ms=500.0)
    smooth = _lowpass(beat, fs, 40.0)
    velocity = np.sqrt(np.sum(np.gradient(smooth, axis=1) ** 2, axis=0)) * fs / 1000.0  # mV/ms
    lo = max(0, ir - int(round(0.16 * fs)))
    up = min(velocity.size, ir + int(round(0.2 * fs)) + 1)
    window = velocity[lo:up]
    if not window.max() > 0:
        raise CardioGenInputError("ECG has no QRS complex (flat median beat)")
    start, end = _run_around_peak(window, threshold, int(round(max_notch_ms * fs / 1000.0)))
    onset = (lo + start - ir) * 1000.0 / fs
    offset = (lo + end - ir) * 1000.0 / fs
    return {"onset_ms": onset, "offset_ms": offset, "duration_ms": offset - onset, "beat": beat, "r_index": ir}


def _pr_baseline(beat: np.ndarray, ir: int, onset_ms: float, fs: float) -> np.ndarray:
    """``(leads,)`` median level of the 20 ms ending 10 ms before QRS onset (the PR segment)."""
    end = ir + int(round((onset_ms - 10.0) * fs / 1000.0))
    start = end - max(1, int(round(0.02 * fs)))
    start, end = max(0, start), max(1, end)
    return np.median(beat[:, start:end], axis=1)


def sokolow_lyon_mv(ecg: "Ecg", r_peaks: Sequence[int] | np.ndarray | None = None) -> float:
    """Sokolow-Lyon voltage SV1 + max(RV5, RV6) in mV, from the median beat against the PR baseline."""
    for name in ("V1", "V5", "V6"):
        if name not in ecg.lead_names:
            raise CardioGenInputError("Sokolow-Lyon needs leads V1, V5 and V6", expected="V1, V5, V6",
                                      got=ecg.lead_names)
    qrs = measure_qrs(ecg, r_peaks)
    beat, ir, fs = qrs["beat"], qrs["r_index"], ecg.sampling_rate
    base = _pr_baseline(beat, ir, qrs["onset_ms"], fs)
    a = ir + int(round(qrs["onset_ms"] * fs / 1000.0))
    b = ir + int(round(qrs["offset_ms"] * fs / 1000.0)) + 1
    names = ecg.lead_names
    sv1 = max(0.0, float(base[names.index("V1")] - beat[names.index("V1"), a:b].min()))
    rv5 = max(0.0, float(beat[names.index("V5"), a:b].max() - base[names.index("V5")]))
    rv6 = max(0.0, float(beat[names.index("V6"), a:b].max() - base[names.index("V6")]))
    return sv1 + max(rv5, rv6)


def st_deviation_mv(ecg: "Ecg", j_offset_ms: float = 60.0, r_peaks: Sequence[int] | np.ndarray | None = None,
                    j_point_ms: float | None = None) -> dict[str, float]:
    """ST level at J + ``j_offset_ms`` against the PR baseline, per lead (mV; positive = elevation).

    Args:
        j_point_ms: J point relative to R (ms); default the measured QRS offset (:func:`measure_qrs`).
    """
    qrs = measure_qrs(ecg, r_peaks)
    beat, ir, fs = qrs["beat"], qrs["r_index"], ecg.sampling_rate
    base = _pr_baseline(beat, ir, qrs["onset_ms"], fs)
    j = qrs["offset_ms"] if j_point_ms is None else float(j_point_ms)
    at = ir + int(round((j + j_offset_ms) * fs / 1000.0))
    if not 0 <= at < beat.shape[1]:
        raise CardioGenInputError("J + offset falls outside the median beat", got=f"{j + j_offset_ms:.0f} ms after R")
    return {name: float(beat[i, at] - base[i]) for i, name in enumerate(ecg.lead_names)}
