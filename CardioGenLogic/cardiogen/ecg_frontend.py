"""ECG front end for ECG-to-cine (seed 003): a fixed input format, filtering, R peaks, cycles and a phase target.

Every function takes or returns a :class:`cardiogen.data.Ecg` (signals ``(leads, samples)`` in mV, sampling rate
in Hz) or plain arrays whose shapes and units are given below. Sample positions are int64 indices, 0-based.

Pipeline (what :func:`prepare` runs, each step also usable alone):

1. :func:`standardise` — any sampling rate ≥ :data:`MIN_SAMPLING_HZ` resampled to 500 Hz with an anti-alias filter,
   cropped or padded to 10 s, and mapped to the 12 standard leads I, II, III, aVR, aVL, aVF, V1-V6
   (:data:`cardiogen.data.STANDARD_12_LEADS`); the policies are stated there.
2. :func:`remove_baseline` — zero-phase high-pass (0.5 Hz) or the two-stage median filter of de Chazal et al.
3. :func:`remove_powerline` — zero-phase notches at 50 or 60 Hz and their harmonics (given, or detected from the
   spectrum).
4. :func:`detect_r_peaks` — R peaks by a named detector: ``"pan_tompkins"`` (ours: Pan & Tompkins 1985 on the summed
   leads, adaptive thresholds, 200 ms refractory period, T-wave check and search-back), ``"energy"`` (the simpler
   detector of :func:`cardiogen.ecg_tools.detect_r_peaks`), ``"xqrs"`` and ``"gqrs"`` (wfdb-python's detectors, on
   the rhythm lead). Every detector's picks move to the same R point (largest deflection of the rhythm lead within
   ±60 ms), so they differ only in which beats they find. ``benchmarks/ecg_rpeaks.py`` compares them on MIT-BIH
   record 100 and on phantom ECGs; :data:`DEFAULT_DETECTOR` is the one chosen from that comparison.
5. :func:`cardiac_cycles` — each R-R interval resampled to the cine's frame count (frame 0 = R = end-diastole, the
   phantom's and the usual cine trigger convention).
6. :func:`phase_target` — ``(n, 2)`` [sin φ, cos φ] with φ rising linearly from 0 to 2π between consecutive R peaks.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Sequence

import numpy as np
from scipy import interpolate, signal

from .data import STANDARD_12_LEADS, Ecg
from .errors import CardioGenInputError

__all__ = [
    "FS_OUT", "SECONDS", "MIN_SAMPLING_HZ", "DETECTORS", "DEFAULT_DETECTOR", "resample", "map_leads",
    "standardise", "remove_baseline", "remove_powerline", "detect_powerline", "detect_r_peaks", "rhythm_lead",
    "cardiac_cycles", "phase_target", "prepare",
]

FS_OUT = 500.0  #: Hz, the model's input rate
SECONDS = 10.0  #: s, the model's input length
MIN_SAMPLING_HZ = 100.0  #: below this the QRS (energy up to ≈ 40 Hz) is not resolved: refused
DETECTORS = ("pan_tompkins", "energy", "xqrs", "gqrs")
#: Chosen from benchmarks/ecg_rpeaks.py (docs/benchmarks.md, section ecg_rpeaks): ours, which uses every lead.
DEFAULT_DETECTOR = "pan_tompkins"
#: Modified (Mason-Likar / Holter) limb leads accepted for the standard ones (documented lead mapping).
MODIFIED_LIMB = {"MLI": "I", "MLII": "II", "MLIII": "III"}
_RHYTHM_LEADS = ("II", "MLII", "I", "V5")
_LIMB = ("I", "II", "III", "aVR", "aVL", "aVF")
_PRECORDIAL = ("V1", "V2", "V3", "V4", "V5", "V6")


# ---- checks ------------------------------------------------------------------------------------------------
def _source(ecg: Ecg) -> str:
    return str(ecg.metadata.get("source_file") or ecg.metadata.get("source") or "ECG")


def _check_ecg(ecg: Any, min_fs: float = MIN_SAMPLING_HZ, min_seconds: float = 0.0) -> Ecg:
    """``ecg`` itself after checking type, finiteness (signals may have been changed after construction), rate and
    length; raises :class:`CardioGenInputError` naming the ECG's file."""
    if not isinstance(ecg, Ecg):
        raise CardioGenInputError("ECG front end needs a cardiogen.data.Ecg", got=type(ecg).__name__)
    sig = np.asarray(ecg.signals)
    if sig.ndim != 2 or not np.all(np.isfinite(sig)):
        bad = int(sig.size - np.count_nonzero(np.isfinite(sig))) if sig.ndim == 2 else None
        raise CardioGenInputError("ECG signals must be a finite (leads, samples) array", source=_source(ecg),
                                  got=f"{bad} NaN/Inf samples" if bad else f"shape {sig.shape}")
    if ecg.sampling_rate < min_fs:
        raise CardioGenInputError("ECG sampling rate too low", source=_source(ecg), expected=f"≥ {min_fs:g} Hz",
                                  got=f"{ecg.sampling_rate:g} Hz")
    if ecg.duration_s < min_seconds:
        raise CardioGenInputError("ECG too short", source=_source(ecg), expected=f"≥ {min_seconds:g} s",
                                  got=f"{ecg.duration_s:.3g} s")
    return ecg


def _with(ecg: Ecg, signals: np.ndarray, fs: float | None = None, lead_names: Sequence[str] | None = None,
          fiducials: dict | None = None, **meta: Any) -> Ecg:
    """A new Ecg like ``ecg`` with the given fields replaced and ``meta`` added to its metadata."""
    metadata = dict(ecg.metadata)
    metadata.update(meta)
    return Ecg(signals=signals, sampling_rate=ecg.sampling_rate if fs is None else fs,
               lead_names=tuple(ecg.lead_names if lead_names is None else lead_names),
               fiducials=dict(ecg.fiducials if fiducials is None else fiducials), start_time_ms=ecg.start_time_ms,
               synthetic=ecg.synthetic, metadata=metadata)


# ---- resampling, leads, length -----------------------------------------------------------------------------
def resample(ecg: Ecg, fs_out: float = FS_OUT) -> Ecg:
    """``ecg`` at ``fs_out`` Hz; sample 0 keeps its time, fiducials move to the nearest new sample.

    Rates whose ratio is a fraction with numerator and denominator ≤ 1000 (500/360 = 25/18, 500/257, 500/1000 ...)
    go through :func:`scipy.signal.resample_poly` (polyphase FIR with a Kaiser-window anti-alias low-pass at the
    lower Nyquist). Other ratios: a zero-phase 8th-order Butterworth low-pass at 0.45 × the lower rate, then a cubic
    spline on the new time grid. Output length: ``ceil(n · fs_out / fs)`` samples.
    """
    _check_ecg(ecg, min_fs=1e-9)
    fs_in, fs_out = float(ecg.sampling_rate), float(fs_out)
    if not (np.isfinite(fs_out) and fs_out > 0):
        raise CardioGenInputError("output sampling rate must be > 0 Hz", got=fs_out)
    if fs_in == fs_out:
        return ecg
    n_out = int(math.ceil(ecg.n_samples * fs_out / fs_in - 1e-9))
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    if abs(float(ratio) - fs_out / fs_in) <= 1e-9 * fs_out / fs_in:
        out = signal.resample_poly(ecg.signals, ratio.numerator, ratio.denominator, axis=1, padtype="line")
        method = f"resample_poly up {ratio.numerator} down {ratio.denominator}"
    else:
        x = ecg.signals
        if fs_out < fs_in:
            sos = signal.butter(8, 0.45 * fs_out / (fs_in / 2.0), output="sos")
            x = signal.sosfiltfilt(sos, x, axis=1)
        t_in = np.arange(ecg.n_samples) / fs_in
        out = interpolate.CubicSpline(t_in, x, axis=1)(np.arange(n_out) / fs_out)
        method = "Butterworth low-pass + cubic spline"
    out = out[:, :n_out]
    scale = fs_out / fs_in
    fid = {k: np.unique(np.clip(np.round(np.asarray(v) * scale).astype(np.int64), 0, n_out - 1))
           for k, v in ecg.fiducials.items()}
    return _with(ecg, out, fs=fs_out, fiducials=fid, resampled_from_hz=fs_in, resampling=method)


def map_leads(ecg: Ecg, leads: Sequence[str] = STANDARD_12_LEADS, missing: str = "error") -> Ecg:
    """``ecg`` with exactly ``leads`` in that order (default the 12 standard leads).

    Lead mapping (recorded in ``metadata["lead_mapping"]``):

    * a modified limb lead stands for the standard one when that is absent: MLI → I, MLII → II, MLIII → III
      (Mason-Likar / Holter placement; its amplitudes and axis differ somewhat from the standard lead's);
    * with any two of I, II, III the third follows from Einthoven's law (III = II − I), and the augmented leads from
      I and II: aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2;
    * other leads are never invented. ``missing="error"`` (default) raises :class:`CardioGenInputError` naming the
      file and the missing leads; ``missing="zero"`` fills them with 0 mV and lists them in
      ``metadata["missing_leads"]`` (for a model trained with lead dropout).
    """
    _check_ecg(ecg, min_fs=1e-9)
    if missing not in ("error", "zero"):
        raise CardioGenInputError("missing must be 'error' or 'zero'", got=missing)
    have = {name: ecg.signals[i] for i, name in enumerate(ecg.lead_names)}
    mapping: dict[str, str] = {}
    for modified, standard in MODIFIED_LIMB.items():
        if standard not in have and modified in have:
            have[standard] = have[modified]
            mapping[standard] = modified
    i_, ii, iii = have.get("I"), have.get("II"), have.get("III")
    if i_ is None and ii is not None and iii is not None:
        have["I"], mapping["I"] = ii - iii, "II - III"
    elif ii is None and i_ is not None and iii is not None:
        have["II"], mapping["II"] = i_ + iii, "I + III"
    if "I" in have and "II" in have:
        i_, ii = have["I"], have["II"]
        derived = {"III": (ii - i_, "II - I"), "aVR": (-(i_ + ii) / 2.0, "-(I + II)/2"),
                   "aVL": (i_ - ii / 2.0, "I - II/2"), "aVF": (ii - i_ / 2.0, "II - I/2")}
        for name, (values, rule) in derived.items():
            if name not in have:
                have[name], mapping[name] = values, rule
    absent = [name for name in leads if name not in have]
    if absent and missing == "error":
        raise CardioGenInputError(f"ECG lacks lead(s) {', '.join(absent)} and they cannot be derived",
                                  source=_source(ecg), expected=f"{len(leads)} leads ({', '.join(leads)}); limb "
                                  "leads derive from any two of I, II, III",
                                  got=", ".join(ecg.lead_names))
    zeros = np.zeros(ecg.n_samples)
    out = np.stack([have.get(name, zeros) for name in leads])
    if np.all(np.ptp(out, axis=1) == 0):
        raise CardioGenInputError("none of the requested leads is present", source=_source(ecg),
                                  expected=", ".join(leads), got=", ".join(ecg.lead_names))
    meta: dict[str, Any] = {"lead_mapping": mapping}
    if absent:
        meta["missing_leads"] = absent
    return _with(ecg, out, lead_names=tuple(leads), **meta)


def standardise(ecg: Ecg, fs_out: float = FS_OUT, seconds: float = SECONDS, leads: int | Sequence[str] = 12,
                crop: str = "start", min_seconds: float = 2.0, missing: str = "error") -> Ecg:
    """The model's input format: ``leads`` standard leads × ``seconds`` s at ``fs_out`` Hz.

    Args:
        ecg: any sampling rate ≥ :data:`MIN_SAMPLING_HZ`, any lead set from which the leads can be mapped
            (:func:`map_leads`).
        fs_out: Hz (500).
        seconds: output length in s (10).
        leads: 12 (the standard 12 leads), or a sequence of standard lead names.
        crop: which ``seconds`` of a longer record to keep: ``"start"`` (the first, default) or ``"center"``.
        min_seconds: shorter records are refused; records between ``min_seconds`` and ``seconds`` are padded at the
            end with each lead's median (its baseline, so no step appears), and ``metadata["valid_samples"]`` says how
            many samples are real.
        missing: see :func:`map_leads`.

    Returns:
        :class:`Ecg` with signals ``(len(leads), round(seconds·fs_out))`` mV at ``fs_out`` Hz; fiducials moved
        with the crop (those outside dropped); ``start_time_ms`` advanced by the crop.
    """
    _check_ecg(ecg, min_seconds=min_seconds)
    if leads == 12:
        names: Sequence[str] = STANDARD_12_LEADS
    elif isinstance(leads, (list, tuple)) and leads and all(isinstance(n, str) for n in leads):
        names = tuple(leads)
    else:
        raise CardioGenInputError("leads must be 12 or a sequence of standard lead names", got=leads)
    if crop not in ("start", "center"):
        raise CardioGenInputError("crop must be 'start' or 'center'", got=crop)
    mapped = map_leads(resample(ecg, fs_out), names, missing=missing)
    n_out = int(round(seconds * fs_out))
    n = mapped.n_samples
    first = 0 if (n <= n_out or crop == "start") else (n - n_out) // 2
    kept = mapped.signals[:, first : first + n_out]
    valid = kept.shape[1]
    if valid < n_out:
        base = np.median(kept, axis=1, keepdims=True)
        kept = np.concatenate([kept, np.repeat(base, n_out - valid, axis=1)], axis=1)
    fid = {k: np.asarray(v)[(np.asarray(v) >= first) & (np.asarray(v) < first + valid)] - first
           for k, v in mapped.fiducials.items()}
    out = _with(mapped, kept, fiducials=fid, valid_samples=valid, crop=crop, crop_start_sample=first)
    out.start_time_ms = mapped.start_time_ms + first * 1000.0 / fs_out
    return out


# ---- filters -----------------------------------------------------------------------------------------------
def remove_baseline(ecg: Ecg, cutoff_hz: float = 0.5, method: str = "highpass") -> Ecg:
    """``ecg`` without baseline wander.

    ``method="highpass"``: zero-phase 2nd-order Butterworth high-pass at ``cutoff_hz`` (applied forward and back, so
    4th order in magnitude, no delay; 0.5 Hz keeps the ST segment within the AHA recommendation of ≤ 0.67 Hz; the
    record is mirrored evenly at its ends for the filter, so a record ending on an R peak keeps its baseline).
    ``method="median"``: subtract the baseline of de Chazal et al. 2004 — a 200 ms then a 600 ms median filter
    (``cutoff_hz`` unused).
    """
    _check_ecg(ecg, min_fs=1e-9)
    fs = ecg.sampling_rate
    if method == "highpass":
        if not 0 < cutoff_hz < fs / 2:
            raise CardioGenInputError("baseline cut-off must be between 0 and Nyquist", expected=f"(0, {fs / 2:g}) Hz",
                                      got=cutoff_hz)
        sos = signal.butter(2, cutoff_hz / (fs / 2.0), btype="high", output="sos")
        out = signal.sosfiltfilt(sos, ecg.signals, axis=1, padtype="even", padlen=min(ecg.n_samples - 1, int(3 * fs)))
    elif method == "median":
        k1, k2 = int(0.2 * fs) | 1, int(0.6 * fs) | 1
        base = np.stack([signal.medfilt(signal.medfilt(x, k1), k2) for x in ecg.signals])
        out = ecg.signals - base
    else:
        raise CardioGenInputError("baseline method must be 'highpass' or 'median'", got=method)
    return _with(ecg, out, baseline_removed=f"{method} {cutoff_hz:g} Hz" if method == "highpass" else method)


def detect_powerline(ecg: Ecg, ratio: float = 4.0) -> float | None:
    """50.0 or 60.0 when that line frequency stands out of the spectrum, the stronger of the two when both do; None
    when neither does or the rate cannot carry it.

    "Stands out": the Welch power density (4 s segments, summed over leads) within ±0.5 Hz of the line is at least
    ``ratio`` times the largest density 3-8 Hz either side (the largest, not the median, so that a harmonic of the
    heart rate that happens to fall near 50 or 60 Hz, with its neighbours as strong, is not taken for a line)."""
    _check_ecg(ecg, min_fs=1e-9)
    fs = ecg.sampling_rate
    nper = int(min(ecg.n_samples, 4 * fs))  # 0.25 Hz bins
    freqs, psd = signal.welch(ecg.signals, fs=fs, nperseg=nper, axis=1)
    psd = psd.sum(axis=0)
    scores = {}
    for f0 in (50.0, 60.0):
        if f0 >= 0.48 * fs:
            continue
        line = psd[np.abs(freqs - f0) <= 0.5].max()
        side = psd[(np.abs(freqs - f0) >= 3.0) & (np.abs(freqs - f0) <= 8.0)]
        if side.size and side.max() > 0:
            scores[f0] = line / side.max()
    best = max(scores, key=scores.get, default=None)
    return best if best is not None and scores[best] >= ratio else None


def remove_powerline(ecg: Ecg, freq: float | str = "auto", quality: float = 30.0, harmonics: bool = True) -> Ecg:
    """``ecg`` with zero-phase IIR notches (:func:`scipy.signal.iirnotch`, quality ``quality`` = f0 / bandwidth) at
    ``freq`` and, with ``harmonics``, its multiples below 0.48 × the sampling rate.

    Args:
        freq: 50, 60, or ``"auto"`` (:func:`detect_powerline`; the ECG is returned unchanged, with
            ``metadata["powerline_hz"] = None``, when no line frequency stands out).
    """
    _check_ecg(ecg, min_fs=1e-9)
    fs = ecg.sampling_rate
    if freq == "auto":
        f0 = detect_powerline(ecg)
        if f0 is None:
            return _with(ecg, ecg.signals, powerline_hz=None)
    else:
        try:
            f0 = float(freq)
        except (TypeError, ValueError):
            raise CardioGenInputError("powerline frequency must be 50, 60 or 'auto'", got=freq) from None
        if f0 not in (50.0, 60.0):
            raise CardioGenInputError("powerline frequency must be 50, 60 or 'auto'", got=freq)
    if f0 >= 0.48 * fs:
        raise CardioGenInputError("sampling rate too low for a powerline notch", source=_source(ecg),
                                  expected=f"> {f0 / 0.48:.0f} Hz", got=f"{fs:g} Hz")
    out = ecg.signals
    k = 1
    while k * f0 < 0.48 * fs and (k == 1 or harmonics):
        b, a = signal.iirnotch(k * f0, quality, fs=fs)
        out = signal.filtfilt(b, a, out, axis=1, padtype="even", padlen=min(ecg.n_samples - 1, int(fs)))
        k += 1
    return _with(ecg, out, powerline_hz=f0)


# ---- R peaks -----------------------------------------------------------------------------------------------
def _sos_band(fs: float, lo: float, hi: float) -> np.ndarray:
    return signal.butter(2, [lo / (fs / 2.0), min(hi, 0.45 * fs) / (fs / 2.0)], btype="band", output="sos")


def rhythm_lead(ecg: Ecg) -> int:
    """Index of the lead R peaks are placed on: II (or MLII, I, V5) when its QRS band (5-20 Hz) carries at least a
    quarter of the strongest lead's energy, else the strongest lead."""
    band = signal.sosfiltfilt(_sos_band(ecg.sampling_rate, 5.0, 20.0), ecg.signals, axis=1)
    energy = np.sum(band**2, axis=1)
    for name in _RHYTHM_LEADS:
        if name in ecg.lead_names and energy[ecg.lead_names.index(name)] >= 0.25 * energy.max():
            return ecg.lead_names.index(name)
    return int(np.argmax(energy))


def _refine(ecg: Ecg, picks: np.ndarray, lead: int, refractory: int) -> np.ndarray:
    """Move each pick to the largest absolute deflection (against the median of ±300 ms) of ``lead`` (0.5-40 Hz,
    zero phase, the record mirrored evenly at its ends so that an R on the first or last sample stays a peak) within
    ±60 ms, then keep the larger of two R peaks closer than ``refractory`` samples. A pick on the first or last
    sample is kept only when its deflection is at least half the median of the others (a QRS cut by the record's
    end is not an R inside it)."""
    fs, n = ecg.sampling_rate, ecg.n_samples
    if picks.size == 0:
        return picks.astype(np.int64)
    pad = min(n - 1, int(0.5 * fs))
    x = signal.sosfiltfilt(_sos_band(fs, 0.5, 40.0), np.pad(ecg.signals[lead], pad, mode="reflect"))[pad : pad + n]
    half = max(1, int(round(0.06 * fs)))
    base_half = int(round(0.3 * fs))
    out, size = [], []
    for p in np.clip(picks, 0, n - 1):
        lo, up = max(0, p - half), min(n, p + half + 1)
        seg = np.abs(x[lo:up] - np.median(x[max(0, p - base_half) : p + base_half + 1]))
        out.append(lo + int(np.argmax(seg)))
        size.append(float(seg.max()))
    order = np.argsort(out)
    r, s = np.asarray(out)[order], np.asarray(size)[order]
    keep: list[int] = []
    for i in range(r.size):
        if keep and r[i] - r[keep[-1]] < refractory:
            if s[i] > s[keep[-1]]:
                keep[-1] = i
            continue
        keep.append(i)
    r, s = r[keep].astype(np.int64), s[keep]
    edge = (r == 0) | (r == n - 1)
    if np.any(edge) and np.any(~edge):
        keep_edge = ~edge | (s >= 0.5 * np.median(s[~edge]))
        r = r[keep_edge]
    return r


def _pan_tompkins(ecg: Ecg, refractory_s: float = 0.2) -> np.ndarray:
    """QRS positions (samples) by Pan & Tompkins (IEEE TBME 32:230, 1985) on all leads together.

    Band-pass 5-15 Hz (zero phase), derivative, squared and summed over leads, 150 ms moving-window integration
    (centred). Local maxima at least ``refractory_s`` apart are candidates; a candidate above THRESHOLD I1 =
    NPKI + 0.25 (SPKI − NPKI) is a QRS unless it comes within 360 ms of the last QRS with less than half its maximal
    slope (a T wave); signal and noise levels SPKI, NPKI are running averages (weight 0.125). When no QRS was found
    for 1.66 × the mean of the last 8 RR intervals, search-back takes the largest skipped candidate above I1 / 2.
    0.5 s of the record is mirrored at both ends so beats at its edges are found too.
    """
    fs, n = ecg.sampling_rate, ecg.n_samples
    pad = min(n - 1, int(0.5 * fs))
    x = np.pad(ecg.signals, ((0, 0), (pad, pad)), mode="reflect")
    band = signal.sosfiltfilt(_sos_band(fs, 5.0, 15.0), x, axis=1)
    slope = np.gradient(band, axis=1)
    slope_sq = np.sum(slope**2, axis=0)
    win = max(1, int(round(0.15 * fs)))
    integ = np.convolve(slope_sq, np.ones(win) / win, mode="same")
    refractory = max(1, int(round(refractory_s * fs)))
    cands, _ = signal.find_peaks(integ, distance=refractory)
    if cands.size == 0:
        return np.zeros(0, dtype=np.int64)
    learn = integ[pad : pad + int(2 * fs)] if n > 2 * fs else integ[pad : pad + n]
    spki, npki = learn.max() / 3.0, learn.mean() / 2.0
    half_slope = int(round(0.075 * fs))
    qrs: list[int] = []
    qrs_slope: list[float] = []
    rr: list[float] = []
    skipped: list[int] = []
    for c in cands:
        thr1 = npki + 0.25 * (spki - npki)
        # search-back: a beat missed since the last QRS
        if qrs and rr:
            limit = 1.66 * float(np.mean(rr[-8:]))
            if c - qrs[-1] > limit and skipped:
                back = [s for s in skipped if s - qrs[-1] >= refractory and c - s >= refractory]
                if back:
                    best = max(back, key=lambda s: integ[s])
                    if integ[best] > 0.5 * thr1:
                        rr.append(best - qrs[-1])
                        qrs.append(best)
                        qrs_slope.append(float(np.sqrt(slope_sq[max(0, best - half_slope) : best + 1].max())))
                        spki = 0.25 * integ[best] + 0.75 * spki
                        skipped = [s for s in skipped if s > best]
                        thr1 = npki + 0.25 * (spki - npki)
        peak = integ[c]
        if peak > thr1:
            s_max = float(np.sqrt(slope_sq[max(0, c - half_slope) : c + 1].max()))
            if qrs and c - qrs[-1] < 0.36 * fs and s_max < 0.5 * qrs_slope[-1]:
                npki = 0.125 * peak + 0.875 * npki  # T wave
                skipped.append(c)
                continue
            if qrs:
                rr.append(c - qrs[-1])
            qrs.append(c)
            qrs_slope.append(s_max)
            spki = 0.125 * peak + 0.875 * spki
            skipped = []
        else:
            npki = 0.125 * peak + 0.875 * npki
            skipped.append(c)
    out = np.asarray(qrs, dtype=np.int64) - pad
    margin = int(round(0.06 * fs))  # a QRS centred just outside may hold an R just inside (the refinement decides)
    return np.clip(out[(out >= -margin) & (out < n + margin)], 0, n - 1)


def _energy(ecg: Ecg) -> np.ndarray:
    from .ecg_tools import detect_r_peaks as energy_detector

    return energy_detector(ecg)


def _wfdb(ecg: Ecg, lead: int, which: str) -> np.ndarray:
    try:
        from wfdb import processing
    except ImportError as exc:
        raise CardioGenInputError(f"R-peak detector {which!r} needs the Python package 'wfdb', which is not "
                                  "installed (the detectors 'pan_tompkins' and 'energy' do not)", got=str(exc)) from exc
    import contextlib
    import io
    import logging

    x = np.asarray(ecg.signals[lead], dtype=float)
    logger = logging.getLogger("wfdb")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if which == "xqrs":
                det = processing.XQRS(sig=x, fs=ecg.sampling_rate)
                det.detect(verbose=False)
                found = det.qrs_inds
            else:
                found = processing.gqrs_detect(sig=x, fs=ecg.sampling_rate)
    finally:
        logger.setLevel(level)
    return np.asarray(found, dtype=np.int64)


def detect_r_peaks(ecg: Ecg, method: str = DEFAULT_DETECTOR, lead: str | None = None,
                   refractory_ms: float = 200.0) -> np.ndarray:
    """Sample indices of R peaks.

    Args:
        ecg: any rate ≥ :data:`MIN_SAMPLING_HZ`, at least 1 s.
        method: one of :data:`DETECTORS` (see the module docstring); ``"xqrs"`` and ``"gqrs"`` run on the rhythm
            lead only, the others on all leads.
        lead: the lead R is placed on (default :func:`rhythm_lead`).
        refractory_ms: two R peaks closer than this are one beat (the larger kept).

    Returns:
        int64 ``(n_peaks,)`` sorted sample indices at the largest deflection of ``lead`` within ±60 ms of each
        detection (empty when no beat is found).
    """
    _check_ecg(ecg, min_seconds=1.0)
    if lead is None:
        idx = rhythm_lead(ecg)
    elif lead in ecg.lead_names:
        idx = ecg.lead_names.index(lead)
    else:
        raise CardioGenInputError("no such ECG lead", source=_source(ecg), expected=ecg.lead_names, got=lead)
    if method == "pan_tompkins":
        picks = _pan_tompkins(ecg, refractory_ms / 1000.0)
    elif method == "energy":
        picks = _energy(ecg)
    elif method in ("xqrs", "gqrs"):
        picks = _wfdb(ecg, idx, method)
    else:
        raise CardioGenInputError("unknown R-peak detector", expected=DETECTORS, got=method)
    return _refine(ecg, np.asarray(picks, dtype=np.int64), idx, max(1, int(round(refractory_ms * ecg.sampling_rate
                                                                                 / 1000.0))))


# ---- cycles and phase --------------------------------------------------------------------------------------
def _check_peaks(r_peaks: Sequence[int] | np.ndarray, n_samples: int, need: int) -> np.ndarray:
    r = np.asarray(r_peaks)
    if r.ndim != 1 or (r.size and r.dtype.kind not in "iuf"):
        raise CardioGenInputError("R peaks must be a 1-D array of sample indices", got=f"shape {r.shape}")
    if r.size and not np.all(np.isfinite(r)):
        raise CardioGenInputError("R peaks contain NaN/Inf")
    if r.size < need:
        raise CardioGenInputError("too few R peaks (no complete cardiac cycle)", expected=f"≥ {need}", got=r.size)
    r = r.astype(np.int64)
    if np.any(np.diff(r) <= 0):
        raise CardioGenInputError("R peaks must increase strictly")
    if r[0] < 0 or r[-1] >= n_samples:
        raise CardioGenInputError("R peaks outside the record", expected=f"0 .. {n_samples - 1}",
                                  got=f"{r[0]} .. {r[-1]}")
    return r


def cardiac_cycles(ecg: Ecg, r_peaks: Sequence[int] | np.ndarray, frames: int) -> np.ndarray:
    """Every complete R-R cycle resampled to the cine's frame count.

    Cycle k spans ``[r_k, r_{k+1})``; frame j samples it (linear interpolation) at ``r_k + j (r_{k+1} − r_k) /
    frames``, so frame 0 is the R peak (end-diastole, the trigger of a retrospectively gated cine) and the frames are
    evenly spaced in the cycle, like the cine's phases.

    Returns:
        float ``(n_cycles, leads, frames)`` mV, n_cycles = len(r_peaks) − 1.
    """
    _check_ecg(ecg, min_fs=1e-9)
    if int(frames) != frames or frames < 2:
        raise CardioGenInputError("frame count must be an integer ≥ 2", got=frames)
    r = _check_peaks(r_peaks, ecg.n_samples, 2)
    frames = int(frames)
    pos = r[:-1, None] + np.diff(r)[:, None] * (np.arange(frames)[None] / frames)  # (cycles, frames) samples
    lo = np.floor(pos).astype(np.int64)
    w = pos - lo
    hi = np.minimum(lo + 1, ecg.n_samples - 1)
    x = ecg.signals
    cycles = x[:, lo] * (1.0 - w)[None] + x[:, hi] * w[None]  # (leads, cycles, frames)
    return np.ascontiguousarray(np.transpose(cycles, (1, 0, 2)))


def phase_target(n_samples: int, r_peaks: Sequence[int] | np.ndarray, outside: str = "extrapolate") -> np.ndarray:
    """Cardiac phase target ``(n_samples, 2)`` = [sin φ, cos φ].

    φ = 2π (t − r_k) / (r_{k+1} − r_k) for r_k ≤ t < r_{k+1}: 0 at each R peak, rising linearly to 2π at the next.
    Before the first and after the last R peak, ``outside="extrapolate"`` continues φ with the nearest RR interval;
    ``outside="nan"`` leaves NaN there (mask them out of a loss).
    """
    if int(n_samples) != n_samples or n_samples < 2:
        raise CardioGenInputError("phase target needs n_samples ≥ 2", got=n_samples)
    if outside not in ("extrapolate", "nan"):
        raise CardioGenInputError("outside must be 'extrapolate' or 'nan'", got=outside)
    n = int(n_samples)
    r = _check_peaks(r_peaks, n, 2)
    t = np.arange(n, dtype=float)
    k = np.clip(np.searchsorted(r, t, side="right") - 1, 0, r.size - 2)  # the cycle (or nearest one) of t
    phi = 2.0 * np.pi * (t - r[k]) / (r[k + 1] - r[k])
    out = np.stack([np.sin(phi), np.cos(phi)], axis=1)
    if outside == "nan":
        out[(t < r[0]) | (t > r[-1])] = np.nan
    return out


def prepare(ecg: Ecg, frames: int | None = None, powerline: float | str = "auto", method: str = DEFAULT_DETECTOR,
            **standardise_kw: Any) -> dict[str, Any]:
    """The whole front end: :func:`standardise` → :func:`remove_baseline` → :func:`remove_powerline` →
    :func:`detect_r_peaks` → :func:`phase_target` (and :func:`cardiac_cycles` when ``frames`` is given).

    Returns:
        dict with ``ecg`` (the filtered 12 × 5000 Ecg, 500 Hz), ``r_peaks`` (int64 sample indices), ``phase``
        ``(5000, 2)``, and ``cycles`` ``(n_cycles, 12, frames)`` when ``frames`` is given.
    """
    std = standardise(ecg, **standardise_kw)
    clean = remove_powerline(remove_baseline(std), powerline)
    valid = int(clean.metadata.get("valid_samples", clean.n_samples))
    r = detect_r_peaks(clean, method=method)
    r = r[r < valid]
    if r.size < 2:
        raise CardioGenInputError("fewer than two R peaks found", source=_source(ecg), expected="≥ 2 beats",
                                  got=r.size)
    out: dict[str, Any] = {"ecg": clean, "r_peaks": r, "phase": phase_target(clean.n_samples, r)}
    if frames is not None:
        out["cycles"] = cardiac_cycles(clean, r, frames)
    return out
