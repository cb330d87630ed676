"""cardiogen.ecg_frontend: resampling, lead mapping, filters, R peaks, cardiac cycles and the phase target."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen import ecg_frontend as fe
from cardiogen.data import STANDARD_12_LEADS, Ecg
from cardiogen.errors import CardioGenInputError
from cardiogen.phantom.ecg import reference_heart_to_lps, synthesize_ecg


def _phantom(fs: float = 500.0, hr: float = 72.0, seconds: float = 10.0, noise: float = 0.01, seed: int = 0,
             dys: float = 0.0) -> Ecg:
    return synthesize_ecg(heart_rate_bpm=hr, duration_s=seconds, sampling_rate=fs, lv_mass_g=150.0,
                          dyssynchrony=dys, infarct_center_deg=None, infarct_width_deg=60.0, infarct_severity=0.0,
                          heart_to_lps=reference_heart_to_lps(), sex="F", rng=np.random.default_rng(seed),
                          noise_mv=noise)


def _tone_amplitude(x: np.ndarray, fs: float, f0: float) -> float:
    """Amplitude of the f0 component of ``x`` (least squares on sin and cos)."""
    t = np.arange(x.size) / fs
    basis = np.stack([np.sin(2 * np.pi * f0 * t), np.cos(2 * np.pi * f0 * t), np.ones_like(t)], axis=1)
    coef = np.linalg.lstsq(basis, x, rcond=None)[0]
    return float(np.hypot(coef[0], coef[1]))


# ---- resampling --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fs_in", [360.0, 1000.0, 250.0, 333.3])
def test_resampling_keeps_a_sinusoid(fs_in):
    t = np.arange(int(10 * fs_in)) / fs_in
    ecg = Ecg(np.stack([np.sin(2 * np.pi * 7.0 * t), 0.5 * np.cos(2 * np.pi * 1.3 * t)]), fs_in, ("I", "II"))
    out = fe.resample(ecg, 500.0)
    assert out.sampling_rate == 500.0 and out.n_samples == int(np.ceil(t.size * 500.0 / fs_in - 1e-9))
    t2 = np.arange(out.n_samples) / 500.0
    inner = (t2 > 0.2) & (t2 < t[-1] - 0.2)
    assert np.max(np.abs(out.signals[0, inner] - np.sin(2 * np.pi * 7.0 * t2[inner]))) < 2e-3
    assert np.max(np.abs(out.signals[1, inner] - 0.5 * np.cos(2 * np.pi * 1.3 * t2[inner]))) < 2e-3


def test_downsampling_filters_what_the_new_rate_cannot_carry():
    fs = 1000.0
    t = np.arange(10000) / fs
    ecg = Ecg(np.sin(2 * np.pi * 300.0 * t)[None] + np.sin(2 * np.pi * 5.0 * t)[None], fs, ("II",))
    out = fe.resample(ecg, 500.0)
    # 300 Hz would alias to 200 Hz at 500 Hz; the anti-alias filter removes it
    assert _tone_amplitude(out.signals[0], 500.0, 200.0) < 0.01
    assert _tone_amplitude(out.signals[0], 500.0, 5.0) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("fs", [250.0, 360.0, 1000.0])
def test_standardise_keeps_rr_and_r_times(fs):
    ecg = _phantom(fs=fs, hr=75.0, seconds=12.0)
    std = fe.standardise(ecg)
    assert std.signals.shape == (12, 5000) and std.sampling_rate == 500.0 and std.lead_names == STANDARD_12_LEADS
    r = fe.detect_r_peaks(std)
    assert np.median(np.diff(r)) * 2.0 == pytest.approx(800.0, abs=2.0)  # ms
    truth = np.arange(0, 13) * 0.8
    truth = truth[(truth > 0.1) & (truth < 9.9)]
    inner = r[(r > 50) & (r < 4950)] / 500.0
    assert inner.size == truth.size and np.max(np.abs(inner - truth)) <= 0.004


def test_standardise_crop_and_pad_policy():
    long = _phantom(seconds=14.0)
    start, center = fe.standardise(long), fe.standardise(long, crop="center")
    assert np.allclose(start.signals, fe.map_leads(long).signals[:, :5000])
    assert center.metadata["crop_start_sample"] == 1000 and center.start_time_ms == pytest.approx(2000.0)
    assert np.all(center.fiducials["R"] < 5000) and np.all(center.fiducials["R"] >= 0)
    short = fe.standardise(_phantom(seconds=6.0))
    assert short.signals.shape == (12, 5000) and short.metadata["valid_samples"] == 3000
    tail = short.signals[:, 3000:]
    assert np.all(tail == tail[:, :1])  # padded with a constant (the lead's median)
    with pytest.raises(CardioGenInputError, match="too short"):
        fe.standardise(_phantom(seconds=1.5))


# ---- leads -------------------------------------------------------------------------------------------------
def test_limb_leads_derive_from_i_and_ii():
    rng = np.random.default_rng(3)
    names = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    ecg = Ecg(rng.normal(size=(8, 1000)), 500.0, names, metadata={"source_file": "eight.csv"})
    out = fe.map_leads(ecg)
    lead = {n: out.signals[i] for i, n in enumerate(out.lead_names)}
    assert out.lead_names == STANDARD_12_LEADS
    assert np.allclose(lead["III"], lead["II"] - lead["I"])
    assert np.allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2)
    assert np.allclose(lead["aVL"], lead["I"] - lead["II"] / 2)
    assert np.allclose(lead["aVF"], lead["II"] - lead["I"] / 2)
    assert np.allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0)
    assert out.metadata["lead_mapping"]["aVF"] == "II - I/2"
    # the phantom derives its limb leads the same way
    ph = fe.map_leads(Ecg(_phantom().signals[[0, 1, 6, 7, 8, 9, 10, 11]], 500.0, names))
    assert np.allclose(ph.signals, _phantom().signals)


def test_limb_leads_from_ii_and_iii_and_modified_ii():
    rng = np.random.default_rng(4)
    i_, ii = rng.normal(size=(2, 800))
    v = rng.normal(size=(6, 800))
    ecg = Ecg(np.vstack([ii, ii - i_, v]), 400.0, ("II", "III", "V1", "V2", "V3", "V4", "V5", "V6"))
    assert np.allclose(fe.map_leads(ecg).signals[0], i_)
    holter = fe.map_leads(Ecg(np.vstack([ii, v]), 400.0, ("MLII", "V1", "V2", "V3", "V4", "V5", "V6")),
                          leads=("II", "V1"))
    assert np.allclose(holter.signals[0], ii) and holter.metadata["lead_mapping"] == {"II": "MLII"}


def test_missing_leads_are_refused_naming_file_and_leads():
    ecg = Ecg(np.random.default_rng(5).normal(size=(2, 5000)), 500.0, ("I", "II"),
              metadata={"source_file": "/data/two_leads.csv"})
    with pytest.raises(CardioGenInputError) as info:
        fe.standardise(ecg)
    text = str(info.value)
    assert "two_leads.csv" in text and "V1, V2, V3, V4, V5, V6" in text
    filled = fe.standardise(ecg, missing="zero")
    assert filled.metadata["missing_leads"] == list(STANDARD_12_LEADS[6:])
    assert np.all(filled.signals[6:] == 0) and np.any(filled.signals[2] != 0)
    with pytest.raises(CardioGenInputError, match="cannot be derived"):
        fe.map_leads(Ecg(np.random.default_rng(5).normal(size=(1, 100)), 500.0, ("V5",)), leads=("I", "V5"))


# ---- filters -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("line_hz", [50.0, 60.0])
def test_powerline_tone_is_removed(line_hz):
    clean = fe.standardise(_phantom(seed=2))
    t = np.arange(clean.n_samples) / 500.0
    noisy = Ecg(clean.signals + 0.2 * np.sin(2 * np.pi * line_hz * t + 0.3), 500.0, clean.lead_names)
    assert fe.detect_powerline(noisy) == line_hz and fe.detect_powerline(clean) is None
    out = fe.remove_powerline(noisy)
    assert out.metadata["powerline_hz"] == line_hz
    inner = slice(500, -500)
    before = _tone_amplitude(noisy.signals[1, inner] - clean.signals[1, inner], 500.0, line_hz)
    after = _tone_amplitude(out.signals[1, inner] - clean.signals[1, inner], 500.0, line_hz)
    assert before == pytest.approx(0.2, rel=0.01)
    assert before / after > 100  # measured: > 40 dB attenuation at the line frequency
    # the ECG itself is kept (the notch is narrow)
    assert np.sqrt(np.mean((out.signals[:, inner] - clean.signals[:, inner]) ** 2)) < 0.02
    other = 60.0 if line_hz == 50.0 else 50.0
    wrong = fe.remove_powerline(noisy, freq=other)  # the other line frequency leaves the tone
    assert _tone_amplitude(wrong.signals[1, inner] - clean.signals[1, inner], 500.0, line_hz) > 0.15
    assert fe.remove_powerline(clean).metadata["powerline_hz"] is None


def test_baseline_wander_is_removed():
    clean = fe.standardise(_phantom(noise=0.0))
    t = np.arange(clean.n_samples) / 500.0
    wander = 0.8 * np.sin(2 * np.pi * 0.15 * t) + 0.3
    noisy = Ecg(clean.signals + wander, 500.0, clean.lead_names)
    ref = fe.remove_baseline(clean)
    for method in ("highpass", "median"):
        out = fe.remove_baseline(noisy, method=method)
        inner = slice(500, -500)
        resid = out.signals[:, inner] - (ref.signals[:, inner] if method == "highpass" else
                                        fe.remove_baseline(clean, method="median").signals[:, inner])
        assert np.sqrt(np.mean(resid**2)) < 0.05, method
        assert abs(np.median(out.signals[1])) < 0.1


# ---- R peaks -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fs, hr, noise, dys", [(500.0, 60.0, 0.01, 0.0), (250.0, 120.0, 0.05, 0.7),
                                                (1000.0, 45.0, 0.1, 0.3), (360.0, 170.0, 0.02, 0.0)])
def test_r_peaks_on_phantom_within_a_few_ms(fs, hr, noise, dys):
    ecg = fe.remove_powerline(fe.remove_baseline(fe.standardise(_phantom(fs=fs, hr=hr, noise=noise, dys=dys))))
    r = fe.detect_r_peaks(ecg) / 500.0
    rr = 60.0 / hr
    truth = np.arange(0, int(10 / rr) + 2) * rr
    truth = truth[(truth > 0.1) & (truth < 9.9)]
    inner = r[(r > 0.1) & (r < 9.9)]
    assert inner.size == truth.size
    assert np.max(np.abs(inner - truth)) <= 0.006  # s: within 6 ms (3 samples at 500 Hz)


@pytest.mark.parametrize("method", fe.DETECTORS)
def test_every_detector_runs_and_finds_the_phantom_beats(method):
    if method in ("xqrs", "gqrs"):
        pytest.importorskip("wfdb", reason="wfdb's detectors need the wfdb package")
    ecg = fe.remove_baseline(fe.standardise(_phantom(hr=80.0, seconds=10.0)))
    r = fe.detect_r_peaks(ecg, method=method) / 500.0
    truth = np.arange(0, 14) * 0.75
    truth = truth[(truth > 0.5) & (truth < 9.5)]  # gqrs misses a beat 250 ms before the end: edges left out here
    inner = r[(r > 0.5) & (r < 9.5)]
    assert inner.size == truth.size and np.max(np.abs(inner - truth)) <= 0.006


def test_detector_errors():
    ecg = fe.standardise(_phantom())
    with pytest.raises(CardioGenInputError, match="unknown R-peak detector"):
        fe.detect_r_peaks(ecg, method="magic")
    with pytest.raises(CardioGenInputError, match="no such ECG lead"):
        fe.detect_r_peaks(ecg, lead="V9")
    low = Ecg(np.random.default_rng(0).normal(size=(1, 500)), 50.0, ("II",), metadata={"source_file": "low.csv"})
    with pytest.raises(CardioGenInputError, match="sampling rate too low") as info:
        fe.detect_r_peaks(low)
    assert "low.csv" in str(info.value)
    with pytest.raises(CardioGenInputError, match="too short"):
        fe.detect_r_peaks(Ecg(np.random.default_rng(0).normal(size=(1, 200)), 500.0, ("II",)))
    nan = fe.standardise(_phantom())
    nan.signals[3, 100] = np.nan  # changed after construction
    with pytest.raises(CardioGenInputError, match="NaN"):
        fe.detect_r_peaks(nan)
    with pytest.raises(CardioGenInputError, match="NaN"):
        fe.standardise(nan)
    with pytest.raises(CardioGenInputError, match="leads must be"):
        fe.standardise(_phantom(), leads=8)


# ---- cycles and phase --------------------------------------------------------------------------------------
def test_cardiac_cycles_resample_each_rr_to_the_frame_count():
    ramp = np.arange(1000, dtype=float)
    ecg = Ecg(np.stack([ramp, 2 * ramp]), 500.0, ("I", "II"))
    r = np.array([100, 300, 550, 900])
    cycles = fe.cardiac_cycles(ecg, r, 25)
    assert cycles.shape == (3, 2, 25)
    assert np.allclose(cycles[:, 0, 0], r[:-1])  # frame 0 is the R peak
    assert np.allclose(cycles[1, 0], 300 + 250 * np.arange(25) / 25)  # evenly spaced in the cycle
    assert np.allclose(cycles[:, 1], 2 * cycles[:, 0])
    ph = fe.standardise(_phantom(hr=60.0))
    beats = fe.cardiac_cycles(ph, fe.detect_r_peaks(ph), 30)
    assert beats.shape[1:] == (12, 30) and beats.shape[0] >= 8
    # a constant heart rate gives the same beat each cycle (noise only)
    assert np.max(np.std(beats[:, 1], axis=0)) < 0.1
    with pytest.raises(CardioGenInputError, match="too few R peaks"):
        fe.cardiac_cycles(ecg, [10], 25)
    with pytest.raises(CardioGenInputError, match="frame count"):
        fe.cardiac_cycles(ecg, r, 1)
    with pytest.raises(CardioGenInputError, match="outside the record"):
        fe.cardiac_cycles(ecg, [10, 2000], 25)


def test_phase_target():
    r = np.array([50, 250, 500, 700])
    target = fe.phase_target(800, r)
    assert target.shape == (800, 2)
    assert np.allclose(np.hypot(target[:, 0], target[:, 1]), 1.0)
    assert np.allclose(target[r], [0.0, 1.0])  # φ = 0 at every R peak
    assert np.allclose(target[150], [0.0, -1.0]) and np.allclose(target[375], [0.0, -1.0])  # φ = π mid-cycle
    assert np.allclose(target[300], [np.sin(2 * np.pi * 50 / 250), np.cos(2 * np.pi * 50 / 250)])
    phi = np.unwrap(np.arctan2(target[:, 0], target[:, 1]))
    steps = np.diff(phi)
    assert np.all(steps > 0)  # φ rises everywhere (extrapolated before the first and after the last R)
    assert np.allclose(steps[50:249], 2 * np.pi / 200) and np.allclose(steps[250:499], 2 * np.pi / 250)
    masked = fe.phase_target(800, r, outside="nan")
    assert np.all(np.isnan(masked[:50])) and np.all(np.isnan(masked[701:])) and not np.any(np.isnan(masked[50:701]))
    for bad, message in (([5], "too few"), ([5, np.nan], "NaN"), ([50, 40], "increase"), ([5, 900], "outside")):
        with pytest.raises(CardioGenInputError, match=message):
            fe.phase_target(800, bad)


def test_prepare_runs_the_whole_front_end():
    out = fe.prepare(_phantom(fs=360.0, hr=90.0, seconds=11.0), frames=20)
    assert out["ecg"].signals.shape == (12, 5000) and out["phase"].shape == (5000, 2)
    assert out["cycles"].shape == (out["r_peaks"].size - 1, 12, 20)
    assert np.allclose(out["phase"][out["r_peaks"]], [0.0, 1.0])


# ---- real data ---------------------------------------------------------------------------------------------
@pytest.mark.realdata
def test_mitdb_100_through_the_loader(shared_data):
    from cardiogen.io.ecg_io import read_ecg_wfdb

    path = shared_data / "ecg" / "mitdb_100" / "100.hea"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    raw = read_ecg_wfdb(path)
    with pytest.raises(CardioGenInputError) as info:
        fe.standardise(raw)
    assert "100.hea" in str(info.value) and "V1, V2, V3, V4, V6" in str(info.value)
    std = fe.standardise(raw, missing="zero")
    assert std.signals.shape == (12, 5000) and std.metadata["lead_mapping"]["II"] == "MLII"
    # five minutes at 500 Hz against the reference beat labels, ±50 ms
    five = Ecg(raw.signals[:, : 360 * 300], 360.0, raw.lead_names)
    ecg = fe.remove_powerline(fe.remove_baseline(fe.resample(five, 500.0)))
    det = fe.detect_r_peaks(ecg) / 500.0
    ref = raw.fiducials["R"][raw.fiducials["R"] < 360 * 300] / 360.0
    hits = np.min(np.abs(det[:, None] - ref[None]), axis=0) <= 0.05
    assert hits.mean() >= 0.998 and abs(det.size - ref.size) <= 1


@pytest.mark.realdata
def test_dicom_12_lead_sample_through_the_front_end(shared_data):
    from cardiogen.io.ecg_io import read_ecg_dicom

    path = shared_data / "ecg" / "waveform_ecg.dcm"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    raw = read_ecg_dicom(path)  # 12 leads, 1000 Hz, 10 s, with the device's R fiducials
    out = fe.prepare(raw, frames=25)
    assert out["ecg"].signals.shape == (12, 5000) and out["ecg"].lead_names == STANDARD_12_LEADS
    r_ms = out["r_peaks"] * 2.0
    assert r_ms.size == raw.fiducials["R"].size == 10
    assert np.max(np.abs(r_ms - raw.fiducials["R"])) <= 4.0  # device fiducials at 1 ms, ours at 2 ms
    assert out["cycles"].shape == (9, 12, 25)
