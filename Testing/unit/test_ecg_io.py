"""cardiogen.io.ecg_io: DICOM waveform, WFDB and CSV ECG readers, CSV writer, sniffing, bad input."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest

from cardiogen import ecg_tools
from cardiogen.data import STANDARD_12_LEADS, Ecg
from cardiogen.errors import CardioGenInputError
from cardiogen.io.ecg_io import (is_ecg_dicom, read_ecg, read_ecg_csv, read_ecg_dicom, read_ecg_wfdb, sniff_ecg,
                                 standard_lead_name, write_ecg_csv)
from cardiogen.phantom.ecg import reference_heart_to_lps, synthesize_ecg


@pytest.fixture(scope="module")
def dicom_path(shared_data) -> Path:
    return shared_data / "ecg" / "waveform_ecg.dcm"


@pytest.fixture(scope="module")
def mitdb(shared_data) -> Path:
    return shared_data / "ecg" / "mitdb_100"


def _phantom(fs: float = 500.0, seconds: float = 4.0) -> Ecg:
    return synthesize_ecg(heart_rate_bpm=72, duration_s=seconds, sampling_rate=fs, lv_mass_g=150,
                          dyssynchrony=0.2, infarct_center_deg=None, infarct_width_deg=60, infarct_severity=0,
                          heart_to_lps=reference_heart_to_lps(), sex="F", rng=np.random.default_rng(1))


def _raises_naming(path: Path, func, *args, **kwargs) -> CardioGenInputError:
    with pytest.raises(CardioGenInputError) as info:
        func(*args, **kwargs)
    assert path.name in str(info.value), str(info.value)
    return info.value


# ---- DICOM ---------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_dicom_sample(dicom_path):
    ecg = read_ecg_dicom(dicom_path, expected_leads=12)
    assert ecg.lead_names == STANDARD_12_LEADS
    assert ecg.sampling_rate == 1000.0
    assert ecg.n_samples == 10000 and ecg.duration_s == pytest.approx(10.0)
    assert -1.2 <= ecg.signals.min() < -1.0 and 1.9 < ecg.signals.max() <= 2.0  # mV (1.25 µV per count)
    assert ecg.heart_rate_bpm() == pytest.approx(60000 / 982, abs=1.0)
    r = ecg.fiducials["R"]
    assert r.size == 10 and np.median(np.diff(r)) == pytest.approx(982, abs=10)
    for key in ("P_onset", "QRS_onset", "QRS_offset", "T_offset"):
        assert ecg.fiducials[key].size == 10
    assert np.all(ecg.fiducials["QRS_onset"] < r) and np.all(r < ecg.fiducials["QRS_offset"])
    # the median-beat annotation set (R at 501) is not mixed into the rhythm strip
    assert not np.any(np.abs(r - 500) < 10)
    meta = ecg.metadata
    assert meta["manufacturer"].startswith("Mortara") and meta["multiplex_group"] == "RHYTHM"
    assert meta["filter_low_hz"] == pytest.approx(0.05) and meta["filter_high_hz"] == pytest.approx(300)
    assert meta["measurements"]["RR Interval"] == 982 and meta["measurements"]["QRS Duration"] == 75
    assert "RITMO SINUSALE" in meta["statements"]
    # the annotated R positions agree with the detector and with the signal's QRS peaks
    detected = ecg_tools.detect_r_peaks(ecg)
    assert detected.size == 10 and np.max(np.abs(detected - r)) <= 10


@pytest.mark.realdata
def test_pydicom_sample_loads_the_same(dicom_path):
    theirs = read_ecg_dicom(pydicom.data.get_testdata_file("waveform_ecg.dcm"))
    ours = read_ecg_dicom(dicom_path)
    assert theirs.lead_names == ours.lead_names and theirs.sampling_rate == 1000.0
    assert np.array_equal(theirs.signals, ours.signals)
    assert np.array_equal(theirs.fiducials["R"], ours.fiducials["R"])


@pytest.mark.parametrize("text, code, name", [
    ("Lead I (Einthoven)", None, "I"), ("Lead aVR (Goldberger)", None, "aVR"), ("Lead V6 (Wilson)", None, "V6"),
    ("MDC_ECG_LEAD_AVF", None, "aVF"), ("v3", None, "V3"), ("ECG lead III", None, "III"), ("MLII", None, "MLII"),
    ("channel 5", "5.6.3-9-62", "aVR"), ("whatever", "2:4", "V2"), ("Pleth", None, "Pleth"),
])
def test_standard_lead_names(text, code, name):
    assert standard_lead_name(text, code) == name


# ---- WFDB ----------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_mitdb_100(mitdb):
    ecg = read_ecg_wfdb(mitdb / "100.hea")
    assert ecg.lead_names == ("MLII", "V5")
    assert ecg.sampling_rate == 360.0 and ecg.n_samples == 650000
    assert -2.8 < ecg.signals.min() and ecg.signals.max() < 1.5
    r = ecg.fiducials["R"]
    assert r.size >= 2239 and r.size == 2273  # N 2239 + A 33 + V 1; the rhythm label "+" is no beat
    assert ecg.heart_rate_bpm() == pytest.approx(75, abs=3)
    assert ecg.metadata["annotation_counts"]["N"] == 2239
    same = read_ecg_wfdb(mitdb / "100")  # record name without extension
    assert np.array_equal(same.signals, ecg.signals)
    # the detector finds the annotated beats of the first minute
    minute = Ecg(ecg.signals[:, : 360 * 60], 360.0, ecg.lead_names)
    det = ecg_tools.detect_r_peaks(minute)
    truth = r[r < 360 * 60]
    assert np.mean(np.min(np.abs(det[:, None] - truth[None]), axis=0) <= 18) >= 0.99  # within 50 ms


@pytest.mark.realdata
def test_read_ecg_dispatch(dicom_path, mitdb):
    assert read_ecg(dicom_path).lead_names == STANDARD_12_LEADS
    assert read_ecg(mitdb / "100.dat").lead_names == ("MLII", "V5")


# ---- CSV -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fs", [500.0, 360.0])
def test_csv_round_trip_exact(tmp_path, fs):
    ecg = _phantom(fs)
    ecg.start_time_ms = -12.5
    path = write_ecg_csv(ecg, tmp_path / "ecg.csv")
    back = read_ecg_csv(path)
    assert back.lead_names == ecg.lead_names
    assert back.sampling_rate == ecg.sampling_rate
    assert back.start_time_ms == ecg.start_time_ms
    assert np.array_equal(back.signals, ecg.signals)
    assert back.fiducials.keys() == ecg.fiducials.keys()
    for key in ecg.fiducials:
        assert np.array_equal(back.fiducials[key], ecg.fiducials[key])
    assert back.synthetic is True
    assert not list(tmp_path.glob(".*partial*"))  # atomic write left nothing behind


def test_csv_time_column_units_and_rate(tmp_path):
    t = np.arange(400) / 250.0
    x = np.sin(2 * np.pi * 1.2 * t)
    p = tmp_path / "secs.csv"
    p.write_text("time_s,I,II\n" + "\n".join(f"{a},{b},{2 * b}" for a, b in zip(t, x)) + "\n")
    ecg = read_ecg_csv(p)
    assert ecg.sampling_rate == pytest.approx(250.0) and ecg.lead_names == ("I", "II")
    p2 = tmp_path / "uv.csv"
    p2.write_text("# units: uV\nLead I,II [mV]\n" + "\n".join(f"{1000 * b},{b}" for b in x) + "\n")
    ecg2 = read_ecg_csv(p2, sampling_rate=250.0)
    assert ecg2.lead_names == ("I", "II")
    assert np.allclose(ecg2.signals[0], x) and np.allclose(ecg2.signals[1], x)
    p3 = tmp_path / "bare_time.csv"
    p3.write_text("time,V1\n" + "\n".join(f"{1000 * a},{b}" for a, b in zip(t, x)) + "\n")  # ms
    assert read_ecg_csv(p3).sampling_rate == pytest.approx(250.0)


# ---- sniffing ------------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_sniffing(tmp_path, dicom_path, mitdb):
    assert is_ecg_dicom(dicom_path) and sniff_ecg(dicom_path)
    assert sniff_ecg(mitdb / "100.hea") and sniff_ecg(mitdb / "100.dat")
    assert not is_ecg_dicom(mitdb / "100.dat") and not is_ecg_dicom(tmp_path / "missing.dcm")
    good = write_ecg_csv(_phantom(), tmp_path / "e.csv")
    assert sniff_ecg(good) and not is_ecg_dicom(good)
    other = tmp_path / "strain.csv"
    other.write_text("frame,radial,circumferential\n0,0,0\n1,0.1,-0.1\n")
    assert not sniff_ecg(other)
    image = tmp_path / "img.dcm"
    ds = pydicom.dcmread(dicom_path)
    del ds.WaveformSequence
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # secondary capture
    ds.Modality = "OT"
    ds.save_as(image)
    assert not is_ecg_dicom(image)


# ---- bad input -----------------------------------------------------------------------------------------------
def _dicom_variant(src: Path, dst: Path, change) -> Path:
    ds = pydicom.dcmread(src)
    change(ds)
    ds.save_as(dst)
    return dst


def _flat(ds):
    wf = ds.WaveformSequence[0]
    wf.WaveformData = bytes(len(wf.WaveformData))


def _dup(ds):
    ds.WaveformSequence[0].ChannelDefinitionSequence[1].ChannelSourceSequence[0].CodeMeaning = "Lead I (Einthoven)"


def _no_rate(ds):
    ds.WaveformSequence[0].SamplingFrequency = 0


def _no_samples(ds):
    ds.WaveformSequence[0].NumberOfWaveformSamples = 0


def _short_data(ds):
    wf = ds.WaveformSequence[0]
    wf.WaveformData = wf.WaveformData[: len(wf.WaveformData) // 3]


def _bad_channels(ds):
    seq = ds.WaveformSequence[0].ChannelDefinitionSequence
    del seq[5]


@pytest.mark.realdata
@pytest.mark.parametrize("change, needle", [
    (lambda ds: delattr(ds, "WaveformSequence"), "WaveformSequence"),
    (_flat, "flat"), (_dup, "unique"), (_no_rate, "SamplingFrequency"), (_no_samples, "empty"),
    (_short_data, "truncated"), (_bad_channels, "channel"),
])
def test_dicom_bad_variants(tmp_path, dicom_path, change, needle):
    path = _dicom_variant(dicom_path, tmp_path / "variant.dcm", change)
    err = _raises_naming(path, read_ecg_dicom, path)
    assert needle.lower() in str(err).lower()


@pytest.mark.realdata
def test_dicom_truncated_corrupt_missing_wrong_count(tmp_path, dicom_path, mitdb):
    data = dicom_path.read_bytes()
    for size in (100, 2000, len(data) // 2, len(data) - 2000):
        cut = tmp_path / f"cut{size}.dcm"
        cut.write_bytes(data[:size])
        _raises_naming(cut, read_ecg_dicom, cut)
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    _raises_naming(junk, read_ecg_dicom, junk)
    _raises_naming(tmp_path / "nope.dcm", read_ecg_dicom, tmp_path / "nope.dcm")
    err = _raises_naming(mitdb / "100.hea", read_ecg_wfdb, mitdb / "100.hea", expected_leads=12)
    assert "leads" in str(err)


@pytest.mark.realdata
def test_dicom_random_mutations_only_raise_input_errors(tmp_path, dicom_path):
    data = bytearray(dicom_path.read_bytes())
    rng = np.random.default_rng(11)
    header_end = 4000  # most structure (tags, lengths, sequences) lives before the waveform data
    loaded = 0
    for i in range(40):
        mutated = bytearray(data)
        for pos in rng.integers(128, header_end if i % 2 else len(data), size=int(rng.integers(1, 12))):
            mutated[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"m{i}.dcm"
        path.write_bytes(bytes(mutated))
        try:
            ecg = read_ecg_dicom(path)
        except CardioGenInputError as exc:
            assert path.name in str(exc)
        else:
            assert isinstance(ecg, Ecg) and np.all(np.isfinite(ecg.signals))
            loaded += 1
    assert loaded < 40  # the mutations did break something


@pytest.mark.realdata
def test_wfdb_bad_input(tmp_path, mitdb):
    only_header = tmp_path / "a"
    only_header.mkdir()
    shutil.copy(mitdb / "100.hea", only_header / "100.hea")
    err = _raises_naming(only_header / "100.hea", read_ecg_wfdb, only_header / "100.hea")
    assert "100.dat" in str(err)
    truncated = tmp_path / "b"
    truncated.mkdir()
    shutil.copy(mitdb / "100.hea", truncated / "100.hea")
    (truncated / "100.dat").write_bytes((mitdb / "100.dat").read_bytes()[:1000])
    _raises_naming(truncated / "100.hea", read_ecg_wfdb, truncated / "100.hea")
    garbage = tmp_path / "c"
    garbage.mkdir()
    (garbage / "100.hea").write_text("this is not a header\n\x00\x01 nonsense 12 x y\n")
    shutil.copy(mitdb / "100.dat", garbage / "100.dat")
    _raises_naming(garbage / "100.hea", read_ecg_wfdb, garbage / "100.hea")
    bad_atr = tmp_path / "d"
    bad_atr.mkdir()
    for name in ("100.hea", "100.dat"):
        shutil.copy(mitdb / name, bad_atr / name)
    (bad_atr / "100.atr").write_bytes(b"\xff\xfe" * 7)
    _raises_naming(bad_atr / "100.atr", read_ecg_wfdb, bad_atr / "100.hea")
    _raises_naming(tmp_path / "none.hea", read_ecg_wfdb, tmp_path / "none.hea")
    rng = np.random.default_rng(5)
    header = (mitdb / "100.hea").read_text()
    mutated_dir = tmp_path / "e"
    mutated_dir.mkdir()
    shutil.copy(mitdb / "100.dat", mutated_dir / "100.dat")
    for _ in range(15):
        chars = list(header)
        for pos in rng.integers(0, len(chars), size=3):
            chars[pos] = chr(int(rng.integers(32, 127)))
        (mutated_dir / "100.hea").write_text("".join(chars))
        try:
            read_ecg_wfdb(mutated_dir / "100.hea")
        except CardioGenInputError as exc:
            assert "100.hea" in str(exc) or "100.dat" in str(exc)


def _write_wfdb(folder: Path, p_signal: np.ndarray, names=("I", "II"), units=("mV", "uV")) -> Path:
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecations inside wfdb
        wfdb.wrsamp("rec", fs=250, units=list(units), sig_name=list(names), p_signal=p_signal, fmt=["16"] * len(names),
                    write_dir=str(folder))
    return folder / "rec.hea"


def test_wfdb_units_nan_and_duplicates(tmp_path):
    t = np.arange(1000) / 250.0
    x = np.column_stack([np.sin(2 * np.pi * t), 1000.0 * np.cos(2 * np.pi * t)])  # mV and µV
    ecg = read_ecg_wfdb(_write_wfdb(tmp_path / "ok", x))
    assert ecg.sampling_rate == 250.0 and ecg.lead_names == ("I", "II")
    assert np.allclose(ecg.signals[1], np.cos(2 * np.pi * t), atol=1e-3)  # µV -> mV
    _raises_naming(tmp_path / "ok" / "rec.hea", read_ecg_wfdb, tmp_path / "ok" / "rec.hea", expected_leads=12)
    with_nan = x.copy()
    with_nan[100, 0] = np.nan
    nan_hea = _write_wfdb(tmp_path / "nan", with_nan)
    assert "NaN" in str(_raises_naming(nan_hea, read_ecg_wfdb, nan_hea))
    dup_hea = _write_wfdb(tmp_path / "dup", x)
    dup_hea.write_text(dup_hea.read_text().replace(" II", " I"))
    assert "unique" in str(_raises_naming(dup_hea, read_ecg_wfdb, dup_hea))
    flat_hea = _write_wfdb(tmp_path / "flat", np.zeros_like(x))
    assert "flat" in str(_raises_naming(flat_hea, read_ecg_wfdb, flat_hea))


@pytest.mark.parametrize("content, needle", [
    ("", "empty"),
    ("# units: mV\n", "empty"),
    ("I,II\n", "no samples"),
    ("time_ms,I,II\n0,0.1,0.2\n2,abc,0.3\n4,0.1,0.2\n", "not a number"),
    ("time_ms,I,II\n0,0.1,0.2\n2,nan,0.3\n4,0.1,0.2\n", "NaN"),
    ("time_ms,I,II\n0,0.1,0.2\n2,inf,0.3\n4,0.1,0.2\n", "NaN/Inf"),
    ("time_ms,I,I\n0,0.1,0.2\n2,0.2,0.3\n4,0.1,0.2\n", "duplicated"),
    ("I,II\n0.1,0.2\n0.2,0.3\n0.1,0.2\n", "sampling rate"),
    ("time_ms,I,II\n0,1,1\n2,1,1\n4,1,1\n", "flat"),
    ("time_ms,I,II\n0,0.1,0.2\n2,0.3\n4,0.1,0.2\n", "cells"),
    ("time_ms,I,II\n0,0.1,0.2\n2,0.2,0.3\n9,0.1,0.2\n", "uniformly"),
    ("# units: mmHg\nI,II\n0.1,0.2\n0.2,0.3\n", "voltage"),
    ("1,2\n3,4\n", "header"),
    ("time_ms,I,II\n0,0.1,0.2\n", "2 samples"),
])
def test_csv_bad_input(tmp_path, content, needle):
    path = tmp_path / "bad_ecg.csv"
    path.write_text(content)
    err = _raises_naming(path, read_ecg_csv, path)
    assert needle.lower() in str(err).lower(), str(err)


def test_csv_wrong_lead_count_and_rate_conflict(tmp_path):
    path = write_ecg_csv(_phantom(), tmp_path / "twelve.csv")
    assert read_ecg_csv(path, expected_leads=12).n_samples == 2000
    two = tmp_path / "two_leads.csv"
    two.write_text("I,II\n" + "\n".join(f"{np.sin(i / 5)},{np.cos(i / 7)}" for i in range(50)))
    _raises_naming(two, read_ecg_csv, two, sampling_rate=250.0, expected_leads=12)
    _raises_naming(path, read_ecg_csv, path, sampling_rate=1000.0)  # file says 500 Hz
    _raises_naming(tmp_path / "missing.csv", read_ecg_csv, tmp_path / "missing.csv")


def test_csv_random_mutations_only_raise_input_errors(tmp_path):
    text = write_ecg_csv(_phantom(seconds=1.0), tmp_path / "src.csv").read_text()
    rng = np.random.default_rng(2)
    path = tmp_path / "mut.csv"
    for _ in range(30):
        chars = list(text)
        for pos in rng.integers(0, min(len(chars), 3000), size=4):
            chars[pos] = chr(int(rng.choice([ord(c) for c in "x,;#\n-.e0 :[]"])))
        path.write_text("".join(chars))
        try:
            read_ecg_csv(path, sampling_rate=500.0)
        except CardioGenInputError as exc:
            assert "mut.csv" in str(exc)
