"""ECG readers (DICOM waveform, WFDB, CSV) and a CSV writer.

Every reader returns a :class:`cardiogen.data.Ecg` with signals ``(leads, samples)`` in **mV**, standard lead
names where they can be recognised (I, II, III, aVR, aVL, aVF, V1-V6), the sampling rate in Hz, and fiducials
(sample indices, 0-based) where the file has them. Any failure on bad input (missing or truncated file,
corrupt data, no waveform, empty or flat signals, NaN/Inf, duplicated lead names, wrong lead count, missing
sampling rate, non-numeric cells, ...) raises :class:`~cardiogen.errors.CardioGenInputError` naming the file;
errors of pydicom, wfdb and numpy are wrapped (MemoryError and KeyboardInterrupt pass through).

CSV layout written by :func:`write_ecg_csv` (and read by :func:`read_ecg_csv`)::

    # cardiogen ECG
    # units: mV
    # sampling_rate_hz: 500.0
    # start_time_ms: 0.0
    # synthetic: true
    # fiducial R: 0 500 1000
    time_ms,I,II,III,...
    0.0,0.0123,...

Only the header row and the numbers are required; ``# units: uV`` (or a header suffix like ``I [uV]``) scales
to mV, and the sampling rate comes from ``# sampling_rate_hz:``, a first column ``time_ms`` / ``time_s`` /
``time``, or the ``sampling_rate`` argument.
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..data import Ecg
from ..errors import CardioGenInputError, import_optional
from .atomic import atomic_path

__all__ = [
    "read_ecg",
    "read_ecg_dicom",
    "read_ecg_wfdb",
    "read_ecg_csv",
    "write_ecg_csv",
    "is_ecg_dicom",
    "sniff_ecg",
    "standard_lead_name",
    "ECG_DICOM_SOP_CLASSES",
]

#: SOP classes of DICOM waveform storages that carry ECG channels.
ECG_DICOM_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.1.4": "General 32-bit ECG Waveform Storage",
    "1.2.840.10008.5.1.4.1.1.9.2.1": "Hemodynamic Waveform Storage",
}

_STANDARD_BY_UPPER = {name.upper(): name for name in
                      ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9",
                       "V3R", "V4R", "V5R", "V6R", "V7R", "-aVR", "MLII", "MLI", "MLIII")}
# SCP-ECG (5.6.3-9-n) and ISO/IEEE 11073 MDC (2:n) lead codes.
_LEAD_CODES = {1: "I", 2: "II", 61: "III", 62: "aVR", 63: "aVL", 64: "aVF", 3: "V1", 4: "V2", 5: "V3", 6: "V4",
               7: "V5", 8: "V6", 9: "V7", 10: "V2R", 11: "V3R", 12: "V4R", 13: "V5R", 14: "V6R", 15: "V7R"}

#: Voltage units -> factor to mV (UCUM codes and common spellings).
_UNIT_TO_MV = {"uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3, "mv": 1.0,
               "millivolt": 1.0, "millivolts": 1.0, "v": 1e3, "volt": 1e3, "volts": 1e3, "nv": 1e-6,
               "nanovolt": 1e-6}

#: WFDB beat annotation symbols (a beat at each such annotation).
_WFDB_BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")

#: DICOM annotation concept names -> fiducial keys.
_FIDUCIAL_NAMES = {"fiducial point": "R", "r peak": "R", "r wave peak": "R", "qrs onset": "QRS_onset",
                   "qrs offset": "QRS_offset", "qrs end": "QRS_offset", "p onset": "P_onset", "p offset": "P_offset",
                   "p end": "P_offset", "t onset": "T_onset", "t offset": "T_offset", "t end": "T_offset",
                   "p peak": "P_peak", "t peak": "T_peak"}


# ---- helpers -------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _reading(path: Path, what: str) -> Iterator[None]:
    """Turn every failure inside into a CardioGenInputError naming ``path`` (MemoryError passes through)."""
    try:
        yield
    except CardioGenInputError as exc:
        if exc.source:
            raise
        raise exc.with_source(path) from exc
    except MemoryError:
        raise
    except Exception as exc:  # third-party parsers raise anything on corrupt input
        raise CardioGenInputError(f"cannot read {what}: {type(exc).__name__}: {exc}", source=path) from exc


def _existing_file(path: str | os.PathLike) -> Path:
    try:
        p = Path(os.fspath(path))
    except TypeError as exc:
        raise CardioGenInputError("ECG path must be a file path", got=type(path).__name__) from exc
    if not p.is_file():
        raise CardioGenInputError("ECG file not found", source=p)
    return p


def standard_lead_name(text: Any, code: Any = None) -> str:
    """Map a lead label (e.g. ``"Lead I (Einthoven)"``, ``"MDC_ECG_LEAD_AVR"``, ``"v1"``) to a standard name.

    Unrecognised labels come back stripped but otherwise unchanged; ``code`` (an SCP-ECG ``5.6.3-9-n`` or MDC
    ``2:n`` code value) is used when the text is not recognised.
    """
    raw = str(text if text is not None else "").strip()
    cleaned = re.sub(r"\(.*?\)", " ", raw)
    cleaned = re.sub(r"(?i)mdc_ecg_lead_|\blead\b|\becg\b|\bderivation\b", " ", cleaned)
    cleaned = re.sub(r"[\s_:]+", "", cleaned)
    if cleaned.upper() in _STANDARD_BY_UPPER:
        return _STANDARD_BY_UPPER[cleaned.upper()]
    if code is not None:
        match = re.fullmatch(r"(?:5\.6\.3-9-|2:|MDC_ECG_LEAD_)(\d+)", str(code).strip())
        if match and int(match.group(1)) in _LEAD_CODES:
            return _LEAD_CODES[int(match.group(1))]
    return raw


def _unit_factor(unit: str | None) -> float | None:
    """Factor to mV for a voltage unit, None when the unit is not a voltage."""
    if unit is None:
        return None
    key = str(unit).strip().lower().replace(" ", "")
    return _UNIT_TO_MV.get(key)


def _check_leads(ecg: Ecg, expected_leads: int | None, path: Path) -> Ecg:
    if expected_leads is not None and len(ecg.lead_names) != int(expected_leads):
        raise CardioGenInputError("wrong number of ECG leads", source=path, expected=int(expected_leads),
                                  got=f"{len(ecg.lead_names)} ({', '.join(ecg.lead_names)})")
    return ecg


# ---- DICOM ---------------------------------------------------------------------------------------------------
def is_ecg_dicom(path: str | os.PathLike) -> bool:
    """True when ``path`` is a DICOM file of an ECG waveform storage (reads the header only; never raises)."""
    try:
        import pydicom

        p = Path(os.fspath(path))
        if not p.is_file():
            return False
        with open(p, "rb") as fh:
            head = fh.read(132)
        if head[128:132] != b"DICM" and p.suffix.lower() not in (".dcm", ".dicom", ""):
            return False
        ds = pydicom.dcmread(p, stop_before_pixels=True, specific_tags=["SOPClassUID", "Modality"])
        if str(ds.get("SOPClassUID", "")) in ECG_DICOM_SOP_CLASSES:
            return True
        if str(ds.get("Modality", "")).upper() in ("ECG", "HD"):
            full = pydicom.dcmread(p, stop_before_pixels=True)
            return "WaveformSequence" in full
        return False
    except MemoryError:
        raise
    except Exception:  # sniffing must not raise on foreign files
        return False


def _code_meaning(item: Any, seq_name: str) -> tuple[str | None, str | None]:
    seq = item.get(seq_name)
    if not seq:
        return None, None
    first = seq[0]
    meaning = first.get("CodeMeaning")
    value = first.get("CodeValue")
    return (None if meaning is None else str(meaning)), (None if value is None else str(value))


def _pick_group(waveforms: Any) -> int:
    labels = [str(w.get("MultiplexGroupLabel", "")).upper() for w in waveforms]
    for i, label in enumerate(labels):
        if "RHYTHM" in label:
            return i
    lengths = [int(w.get("NumberOfWaveformSamples", 0) or 0) for w in waveforms]
    return int(np.argmax(lengths))


def _as_list(value: Any) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _dicom_annotations(ds: Any, group: int, n_samples: int, signals_mv: np.ndarray, fs: float) -> tuple[dict, dict]:
    """Fiducials (0-based sample indices) and annotation metadata of the chosen multiplex group."""
    statements: list[str] = []
    measurements: dict[str, float] = {}
    units: dict[str, str] = {}
    sets: dict[Any, dict[str, list[int]]] = {}
    for n, item in enumerate(ds.get("WaveformAnnotationSequence", []) or []):
        refs = item.get("ReferencedWaveformChannels")
        if refs is not None:
            refs = [int(v) for v in _as_list(refs)]
            groups = set(refs[0::2])
            if groups and (group + 1) not in groups:
                continue
        text = item.get("UnformattedTextValue")
        meaning, _ = _code_meaning(item, "ConceptNameCodeSequence")
        if text is not None and meaning is None:
            statements.append(str(text))
            continue
        if meaning is None:
            continue
        if "NumericValue" in item and item.NumericValue is not None and item.NumericValue != "":
            measurements[meaning] = float(_as_list(item.NumericValue)[0])
            unit_meaning, unit_code = _code_meaning(item, "MeasurementUnitsCodeSequence")
            if unit_code or unit_meaning:
                units[meaning] = str(unit_code or unit_meaning)
            continue
        positions = item.get("ReferencedSamplePositions")
        if positions is None:
            continue
        positions = [int(v) for v in _as_list(positions)]
        key = _FIDUCIAL_NAMES.get(meaning.strip().lower(), re.sub(r"\W+", "_", meaning.strip()))
        group_no = item.get("AnnotationGroupNumber", f"item{n}")
        sets.setdefault(group_no, {}).setdefault(key, []).extend(p - 1 for p in positions)  # DICOM is 1-based

    # Some devices put the median-beat fiducials in the same annotation list as the rhythm strip (both
    # referencing the rhythm group). Sets whose R lies within 200 ms of another set's R cannot all belong to the
    # strip: keep the one closest to the QRS peak of the strip, set the others aside.
    magnitude = np.sqrt(np.sum((signals_mv - np.median(signals_mv, axis=1, keepdims=True)) ** 2, axis=0))
    window = max(1, int(round(0.05 * fs)))  # ±50 ms searched around a fiducial for the local QRS peak

    def misfit(r: int) -> int:
        lo, up = max(0, r - window), min(n_samples, r + window + 1)
        return abs(lo + int(np.argmax(magnitude[lo:up])) - r)

    with_r = sorted(((v["R"][0], k) for k, v in sets.items() if v.get("R") and 0 <= v["R"][0] < n_samples))
    dropped: set = set()
    i = 0
    while i < len(with_r):
        j = i
        while j + 1 < len(with_r) and with_r[j + 1][0] - with_r[j][0] < 0.2 * fs:
            j += 1
        if j > i:
            cluster = with_r[i : j + 1]
            best = min(cluster, key=lambda rk: misfit(rk[0]))
            dropped.update(k for r, k in cluster if k != best[1])
        i = j + 1
    fiducials: dict[str, list[int]] = {}
    for k, entry in sets.items():
        if k in dropped:
            continue
        for name, pos in entry.items():
            fiducials.setdefault(name, []).extend(p for p in pos if 0 <= p < n_samples)
    fid = {name: np.unique(np.asarray(pos, dtype=np.int64)) for name, pos in fiducials.items() if pos}
    meta = {"statements": statements, "measurements": measurements, "measurement_units": units}
    if dropped:
        meta["annotation_sets_not_on_rhythm_strip"] = {str(k): {n: v for n, v in sets[k].items()} for k in dropped}
    return fid, meta


def read_ecg_dicom(path: str | os.PathLike, expected_leads: int | None = None) -> Ecg:
    """Read a DICOM waveform ECG (12-lead, general, ambulatory ECG or hemodynamic waveform storage).

    Uses the multiplex group labelled RHYTHM (else the longest), converts each voltage channel to mV (units
    from ChannelSensitivityUnitsSequence; non-voltage channels are skipped), names the channels after their
    ChannelSourceSequence code meaning (``"Lead I (Einthoven)"`` -> ``"I"``), and turns annotations into
    fiducials (``"Fiducial Point"`` -> ``"R"``, ``"QRS Onset"`` -> ``"QRS_onset"`` ...) and metadata (device,
    filters, global measurements, statements).

    Args:
        expected_leads: when given, the number of leads the file must have.
    """
    p = _existing_file(path)
    with _reading(p, "DICOM ECG"):
        import pydicom

        ds = pydicom.dcmread(p)
        if "WaveformSequence" not in ds or len(ds.WaveformSequence) == 0:
            raise CardioGenInputError("DICOM file has no WaveformSequence (not a waveform/ECG object)", source=p,
                                      got=f"SOP class {ds.get('SOPClassUID', 'unknown')}")
        waveforms = ds.WaveformSequence
        g = _pick_group(waveforms)
        wf = waveforms[g]
        fs = float(wf.get("SamplingFrequency") or 0)
        if not math.isfinite(fs) or fs <= 0:
            raise CardioGenInputError("DICOM waveform has no valid SamplingFrequency", source=p,
                                      got=wf.get("SamplingFrequency"))
        n_samples = int(wf.get("NumberOfWaveformSamples") or 0)
        n_channels = int(wf.get("NumberOfWaveformChannels") or 0)
        if n_samples < 2 or n_channels < 1:
            raise CardioGenInputError("DICOM ECG is empty", source=p,
                                      got=f"{n_channels} channels x {n_samples} samples")
        for k, item in enumerate(waveforms):  # a short data block anywhere means the file was cut
            data = item.get("WaveformData")
            needed = (int(item.get("NumberOfWaveformSamples") or 0) * int(item.get("NumberOfWaveformChannels") or 0)
                      * int(item.get("WaveformBitsAllocated") or 0) // 8)
            if data is None or len(data) < needed:
                raise CardioGenInputError(f"DICOM waveform data of multiplex group {k + 1} is truncated", source=p,
                                          expected=f"{needed} bytes", got=f"{0 if data is None else len(data)} bytes")
        values = np.asarray(ds.waveform_array(g), dtype=float)  # (samples, channels), sensitivity applied
        channels = list(wf.get("ChannelDefinitionSequence") or [])
        if len(channels) != n_channels or values.shape != (n_samples, n_channels):
            raise CardioGenInputError("DICOM channel definitions do not match the waveform data", source=p,
                                      expected=n_channels, got=len(channels))
        names: list[str] = []
        rows: list[np.ndarray] = []
        skipped: list[str] = []
        assumed_units = False
        for c, ch in enumerate(channels):
            meaning, code = _code_meaning(ch, "ChannelSourceSequence")
            label = ch.get("ChannelLabel")
            name = standard_lead_name(meaning if meaning is not None else label or f"channel {c + 1}", code)
            unit, unit_code = _code_meaning(ch, "ChannelSensitivityUnitsSequence")
            factor = _unit_factor(unit_code) or _unit_factor(unit)
            if unit is None and unit_code is None:
                factor, assumed_units = 1e-3, True  # ECG waveforms are recorded in µV by convention
            if factor is None:
                skipped.append(f"{name} [{unit_code or unit}]")
                continue
            names.append(name)
            rows.append(values[:, c] * factor)
        if not rows:
            raise CardioGenInputError("DICOM waveform has no voltage channel", source=p, got=skipped)
        signals = np.stack(rows)
        if not np.all(np.isfinite(signals)):
            raise CardioGenInputError("DICOM ECG contains NaN/Inf values", source=p)
        fiducials, ann_meta = _dicom_annotations(ds, g, n_samples, signals, fs)
        first = channels[0]
        metadata: dict[str, Any] = {
            "source_file": str(p),
            "format": "DICOM waveform",
            "sop_class_uid": str(ds.get("SOPClassUID", "")),
            "sop_class": ECG_DICOM_SOP_CLASSES.get(str(ds.get("SOPClassUID", "")), "unknown"),
            "multiplex_group": str(wf.get("MultiplexGroupLabel", "")),
            "multiplex_groups": [
                {"label": str(w.get("MultiplexGroupLabel", "")), "samples": int(w.get("NumberOfWaveformSamples") or 0),
                 "sampling_rate": float(w.get("SamplingFrequency") or 0)} for w in waveforms
            ],
            "manufacturer": str(ds.get("Manufacturer", "")),
            "model": str(ds.get("ManufacturerModelName", "")),
            "software_versions": str(ds.get("SoftwareVersions", "")),
            "acquisition_datetime": str(ds.get("AcquisitionDateTime", "")),
            "filter_low_hz": _float_or_none(first.get("FilterLowFrequency")),
            "filter_high_hz": _float_or_none(first.get("FilterHighFrequency")),
            "notch_filter_hz": _float_or_none(first.get("NotchFilterFrequency")),
            "units": "mV",
        }
        metadata.update(ann_meta)
        if skipped:
            metadata["skipped_channels"] = skipped
        if assumed_units:
            metadata["warnings"] = ["channel sensitivity units missing: assumed µV"]
        ecg = Ecg(signals=signals, sampling_rate=fs, lead_names=tuple(names), fiducials=fiducials, metadata=metadata)
        return _check_leads(ecg, expected_leads, p)


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


# ---- WFDB ----------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_wfdb() -> Iterator[None]:
    """Hide the pandas deprecation warnings that wfdb 4.3 emits on every read (not about the user's data)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        yield


def read_ecg_wfdb(path: str | os.PathLike, expected_leads: int | None = None) -> Ecg:
    """Read a WFDB record (``.hea`` + signal files, PhysioNet format) in mV.

    Args:
        path: the ``.hea`` file, the ``.dat`` file, or the record path without extension.
        expected_leads: when given, the number of leads the record must have.

    Beat annotations of a ``.atr`` file beside the header (if present) become ``fiducials["R"]``; their
    symbols are in ``metadata["beat_symbols"]`` and the counts of all labels in ``metadata["annotation_counts"]``.
    """
    raw = Path(os.fspath(path))
    record = raw.with_suffix("") if raw.suffix.lower() in (".hea", ".dat", ".atr") else raw
    header = record.with_name(record.name + ".hea")
    if not header.is_file():
        raise CardioGenInputError("WFDB header (.hea) not found", source=header)
    with _reading(header, "WFDB record"), _quiet_wfdb():
        wfdb = import_optional("wfdb", package="wfdb", feature="reading WFDB ECG records")

        head = wfdb.rdheader(str(record))
        files = [f for f in (getattr(head, "file_name", None) or []) if f]
        for fname in dict.fromkeys(files):
            if not (header.parent / fname).is_file():
                raise CardioGenInputError(f"WFDB signal file {fname} is missing", source=header,
                                          expected=str(header.parent / fname))
        if head.sig_len is not None and int(head.sig_len) <= 0:
            raise CardioGenInputError("WFDB record is empty (0 samples)", source=header)
        rec = wfdb.rdrecord(str(record), physical=True)
        sig = rec.p_signal
        if sig is None or np.size(sig) == 0:
            raise CardioGenInputError("WFDB record has no signals", source=header)
        sig = np.asarray(sig, dtype=float)
        if sig.ndim != 2 or (head.sig_len is not None and sig.shape[0] != int(head.sig_len)):
            raise CardioGenInputError("WFDB signal file is truncated", source=header,
                                      expected=f"{head.sig_len} samples", got=sig.shape[0])
        fs = float(rec.fs or 0)
        if not math.isfinite(fs) or fs <= 0:
            raise CardioGenInputError("WFDB record has no valid sampling frequency", source=header, got=rec.fs)
        names, rows, skipped, notes = [], [], [], []
        for c, (name, unit) in enumerate(zip(rec.sig_name, rec.units)):
            factor = _unit_factor(unit)
            if factor is None:
                if unit in (None, "", "NU"):
                    factor = 1.0
                    notes.append(f"{name}: units '{unit}' assumed mV")
                else:
                    skipped.append(f"{name} [{unit}]")
                    continue
            names.append(standard_lead_name(name))
            rows.append(sig[:, c] * factor)
        if not rows:
            raise CardioGenInputError("WFDB record has no voltage signal", source=header, got=skipped)
        signals = np.stack(rows)
        bad = int(np.size(signals) - np.count_nonzero(np.isfinite(signals)))
        if bad:
            raise CardioGenInputError(f"WFDB record contains {bad} NaN/Inf (invalid) samples", source=header)
        metadata: dict[str, Any] = {
            "source_file": str(header),
            "format": "WFDB",
            "record_name": rec.record_name,
            "comments": list(rec.comments or []),
            "signal_format": list(rec.fmt or []),
            "adc_gain": [float(v) for v in (rec.adc_gain or [])],
            "baseline": [int(v) for v in (rec.baseline or [])],
            "units": "mV",
        }
        if skipped:
            metadata["skipped_channels"] = skipped
        if notes:
            metadata["warnings"] = notes
        fiducials: dict[str, np.ndarray] = {}
    atr = record.with_name(record.name + ".atr")
    if atr.is_file():
        with _reading(atr, "WFDB beat annotations"), _quiet_wfdb():
            ann = wfdb.rdann(str(record), "atr")
            samples = np.asarray(ann.sample, dtype=np.int64)
            symbols = list(ann.symbol)
            keep = np.array([s in _WFDB_BEAT_SYMBOLS for s in symbols], dtype=bool)
            keep &= (samples >= 0) & (samples < signals.shape[1])
            fiducials["R"] = samples[keep]
            metadata["beat_symbols"] = [s for s, k in zip(symbols, keep) if k]
            metadata["annotation_counts"] = dict(Counter(symbols))
            metadata["annotation_file"] = str(atr)
    with _reading(header, "WFDB record"):
        ecg = Ecg(signals=signals, sampling_rate=fs, lead_names=tuple(names), fiducials=fiducials,
                  metadata=metadata)
        return _check_leads(ecg, expected_leads, header)


# ---- CSV -----------------------------------------------------------------------------------------------------
_TIME_NAMES = {"time": None, "t": None, "time_ms": "ms", "t_ms": "ms", "time_s": "s", "t_s": "s", "time_sec": "s",
               "ms": "ms"}
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]\s*$")


def _split_header_unit(cell: str) -> tuple[str, str | None]:
    match = _HEADER_UNIT.match(cell.strip())
    if match:
        return match.group("name").strip(), match.group("unit").strip()
    return cell.strip(), None


def _csv_preamble(text: str, path: Path) -> tuple[dict[str, str], list[str], str, int]:
    """Comment key/values, header cells, delimiter and the index of the first data line."""
    comments: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if ":" in body:
                key, value = body.split(":", 1)
                comments[key.strip().lower()] = value.strip()
            continue
        delimiter = "\t" if "\t" in stripped else ";" if (";" in stripped and "," not in stripped) else ","
        header = next(csv.reader([stripped], delimiter=delimiter))
        return comments, [h.strip() for h in header], delimiter, i + 1
    raise CardioGenInputError("CSV ECG is empty (no header row of lead names)", source=path)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _parse_csv_numbers(lines: list[str], delimiter: str, n_cols: int, first_line_no: int, path: Path) -> np.ndarray:
    body = [(no, ln) for no, ln in enumerate(lines, start=first_line_no)
            if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise CardioGenInputError("CSV ECG has a header but no samples", source=path)
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=delimiter, dtype=float, ndmin=2)
        if data.shape[1] == n_cols:
            return data
    except ValueError:
        pass
    for no, ln in body:  # find the first bad row / cell for a precise message
        cells = ln.split(delimiter)
        if len(cells) != n_cols:
            raise CardioGenInputError(f"CSV line {no} has {len(cells)} cells", source=path, expected=n_cols,
                                      got=len(cells))
        for c, cell in enumerate(cells):
            if not _is_number(cell.strip()):
                raise CardioGenInputError(f"CSV line {no}, column {c + 1}: not a number", source=path,
                                          got=repr(cell.strip()[:40]))
    raise CardioGenInputError("CSV ECG could not be parsed as numbers", source=path)


def _sampling_from_time(time: np.ndarray, unit: str | None, path: Path) -> tuple[float, float]:
    """(sampling rate Hz, start ms) from a time column; unit None: seconds or ms, whichever is plausible."""
    if time.size < 2:
        raise CardioGenInputError("CSV ECG needs at least 2 samples", source=path)
    steps = np.diff(time)
    dt = float(np.median(steps))
    if not np.isfinite(dt) or dt <= 0:
        raise CardioGenInputError("CSV time column must increase", source=path)
    if np.max(np.abs(steps - dt)) > 0.01 * dt:
        raise CardioGenInputError("CSV time column is not uniformly sampled", source=path,
                                  got=f"steps {steps.min():g}..{steps.max():g}")
    if unit is None:
        unit = "s" if 20.0 <= 1.0 / dt <= 100000.0 else "ms"
    scale = 1000.0 if unit in ("s", "sec", "seconds") else 1.0
    if unit not in ("s", "sec", "seconds", "ms"):
        raise CardioGenInputError("CSV time unit not understood", source=path, expected="s or ms", got=unit)
    return 1000.0 / (dt * scale), float(time[0] * scale)


def read_ecg_csv(path: str | os.PathLike, sampling_rate: float | None = None,
                 expected_leads: int | None = None) -> Ecg:
    """Read an ECG from CSV: a header row of lead names, one column per lead, values in mV.

    Args:
        sampling_rate: Hz; needed only when the file has neither a ``# sampling_rate_hz:`` line nor a first
            column ``time_ms`` / ``time_s`` / ``time`` (``time`` = seconds or ms, whichever gives a plausible
            rate). If given as well, it must agree with the file (within 0.5 %).
        expected_leads: when given, the number of leads the file must have.

    Units: mV unless a ``# units: uV`` (or V) line or a header suffix such as ``I [uV]`` says otherwise.
    """
    p = _existing_file(path)
    with _reading(p, "CSV ECG"):
        text = p.read_text(encoding="utf-8-sig")
        comments, header, delimiter, first = _csv_preamble(text, p)
        if all(_is_number(h) for h in header if h):
            raise CardioGenInputError("CSV ECG needs a header row of lead names", source=p, got=header[:4])
        default_unit = comments.get("units")
        default_factor = 1.0 if default_unit is None else _unit_factor(default_unit)
        if default_factor is None:
            raise CardioGenInputError("CSV units must be a voltage (mV, uV, V)", source=p, got=default_unit)
        data = _parse_csv_numbers(text.splitlines()[first:], delimiter, len(header), first + 1, p)
        if data.shape[0] < 2:
            raise CardioGenInputError("CSV ECG needs at least 2 samples", source=p, got=data.shape[0])
        bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        if bad:
            raise CardioGenInputError(f"CSV ECG contains {bad} NaN/Inf values", source=p)

        first_name, first_unit = _split_header_unit(header[0])
        time_key = first_name.strip().lower()
        fs_file = start_ms = None
        lead_cols = list(range(len(header)))
        if time_key in _TIME_NAMES:
            unit = (first_unit or _TIME_NAMES[time_key])
            fs_file, start_ms = _sampling_from_time(data[:, 0], None if unit is None else unit.lower(), p)
            lead_cols = lead_cols[1:]
        if "sampling_rate_hz" in comments or "sampling_rate" in comments:
            value = comments.get("sampling_rate_hz", comments.get("sampling_rate", ""))
            fs_comment = float(re.sub(r"(?i)\s*hz\s*$", "", value))
            if fs_file is not None and abs(fs_comment - fs_file) > 0.005 * fs_comment:
                raise CardioGenInputError("CSV sampling rate line and time column disagree", source=p,
                                          expected=fs_comment, got=fs_file)
            fs_file = fs_comment
        if fs_file is None and sampling_rate is None:
            raise CardioGenInputError("CSV ECG has no time column and no sampling rate", source=p,
                                      expected="a first column time_ms/time_s, a '# sampling_rate_hz:' line, "
                                               "or the sampling_rate argument")
        if fs_file is not None and sampling_rate is not None and abs(float(sampling_rate) - fs_file) > 0.005 * fs_file:
            raise CardioGenInputError("sampling_rate argument disagrees with the CSV file", source=p,
                                      expected=fs_file, got=sampling_rate)
        fs = float(fs_file if fs_file is not None else sampling_rate)  # type: ignore[arg-type]
        if "start_time_ms" in comments:
            start_ms = float(comments["start_time_ms"])
        if not lead_cols:
            raise CardioGenInputError("CSV ECG has no lead columns", source=p, got=header)
        names, rows = [], []
        for c in lead_cols:
            name, unit = _split_header_unit(header[c])
            factor = default_factor if unit is None else _unit_factor(unit)
            if factor is None:
                raise CardioGenInputError(f"CSV column {name!r}: unit is not a voltage", source=p,
                                          expected="mV, uV or V", got=unit)
            if not name:
                raise CardioGenInputError(f"CSV column {c + 1} has no lead name", source=p)
            names.append(standard_lead_name(name))
            rows.append(data[:, c] * factor if factor != 1.0 else data[:, c])
        dup = [n for n, k in Counter(names).items() if k > 1]
        if dup:
            raise CardioGenInputError("CSV ECG has duplicated lead names", source=p, got=dup)
        fiducials = {}
        for line in text.splitlines()[:first]:
            m = re.match(r"^\s*#\s*fiducial\s+([^:\s]+)\s*:(.*)$", line, flags=re.IGNORECASE)
            if m:
                fiducials[m.group(1)] = np.asarray([int(v) for v in m.group(2).split()], dtype=np.int64)
        synthetic = comments.get("synthetic", "false").strip().lower() in ("1", "true", "yes")
        ecg = Ecg(signals=np.stack(rows), sampling_rate=fs, lead_names=tuple(names), fiducials=fiducials,
                  start_time_ms=float(start_ms or 0.0), synthetic=synthetic,
                  metadata={"source_file": str(p), "format": "CSV", "units": "mV"})
        return _check_leads(ecg, expected_leads, p)


def write_ecg_csv(ecg: Ecg, path: str | os.PathLike) -> Path:
    """Write ``ecg`` as CSV (``time_ms`` first, one column per lead, mV, 17 significant digits) atomically.

    Sampling rate, start time, the synthetic flag and fiducials go to ``#`` comment lines, so
    :func:`read_ecg_csv` gives back the same signals, rate, names, start time and fiducials exactly.
    """
    if not isinstance(ecg, Ecg):
        raise CardioGenInputError("write_ecg_csv needs a cardiogen.data.Ecg", got=type(ecg).__name__)
    bad = [n for n in ecg.lead_names if any(ch in n for ch in ',;\t"\n\r#[]()') or not n.strip() or n != n.strip()]
    if bad:
        raise CardioGenInputError("lead names cannot be written to CSV", source=path, got=bad)
    for name in ecg.fiducials:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(name)):
            raise CardioGenInputError("fiducial names must be letters, digits, _ . -", source=path, got=name)
    out = Path(os.fspath(path))
    lines = ["# cardiogen ECG", "# units: mV", f"# sampling_rate_hz: {ecg.sampling_rate!r}",
             f"# start_time_ms: {float(ecg.start_time_ms)!r}", f"# synthetic: {'true' if ecg.synthetic else 'false'}"]
    for name, idx in ecg.fiducials.items():
        lines.append(f"# fiducial {name}: " + " ".join(str(int(i)) for i in np.asarray(idx).ravel()))
    lines.append(",".join(["time_ms", *ecg.lead_names]))
    table = np.column_stack([ecg.times_ms, ecg.signals.T])
    with atomic_path(out) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write("\n".join(lines) + "\n")
            np.savetxt(fh, table, fmt="%.17g", delimiter=",")
    return out


# ---- dispatch ------------------------------------------------------------------------------------------------
def _csv_has_leads(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            for _ in range(200):
                line = fh.readline()
                if not line:
                    return False
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                delimiter = "\t" if "\t" in line else ";" if (";" in line and "," not in line) else ","
                cells = [_split_header_unit(c)[0] for c in line.strip().split(delimiter)]
                return any(standard_lead_name(c) in _STANDARD_BY_UPPER.values() for c in cells)
    except OSError:
        return False
    return False


def sniff_ecg(path: str | os.PathLike) -> bool:
    """True when :func:`read_ecg` can try ``path``: an ECG DICOM, a WFDB ``.hea``/``.dat`` (with its header),
    or a ``.csv`` whose header names at least one ECG lead. Never raises."""
    try:
        p = Path(os.fspath(path))
    except TypeError:
        return False
    suffix = p.suffix.lower()
    if suffix == ".hea":
        return p.is_file()
    if suffix == ".dat":
        return p.is_file() and p.with_suffix(".hea").is_file()
    if suffix == ".csv":
        return p.is_file() and _csv_has_leads(p)
    return is_ecg_dicom(p)


def read_ecg(path: str | os.PathLike, **kwargs: Any) -> Ecg:
    """Read an ECG file of any supported kind (chosen by extension, DICOM by content)."""
    p = Path(os.fspath(path))
    suffix = p.suffix.lower()
    if suffix in (".hea", ".dat") or (not p.exists() and p.with_name(p.name + ".hea").is_file()):
        return read_ecg_wfdb(p, **kwargs)
    if suffix in (".csv", ".txt", ".tsv"):
        return read_ecg_csv(p, **kwargs)
    return read_ecg_dicom(p, **kwargs)
