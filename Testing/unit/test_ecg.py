"""cardiogen.phantom.ecg (synthetic 12-lead ECG from a heart dipole) and cardiogen.ecg_tools."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cardiogen import ecg_tools
from cardiogen.data import STANDARD_12_LEADS, Ecg
from cardiogen.errors import CardioGenInputError
from cardiogen.phantom.ecg import reference_heart_to_lps, synthesize_ecg

LEADS = list(STANDARD_12_LEADS)


def make(**changes) -> Ecg:
    args = dict(heart_rate_bpm=60.0, duration_s=10.0, sampling_rate=500.0, lv_mass_g=140.0, dyssynchrony=0.0,
                infarct_center_deg=None, infarct_width_deg=90.0, infarct_severity=0.0,
                heart_to_lps=reference_heart_to_lps(), sex="M", rng=np.random.default_rng(7), noise_mv=0.01)
    args.update(changes)
    return synthesize_ecg(**args)


@pytest.fixture(scope="module")
def normal() -> Ecg:
    return make()


# ---- structure -----------------------------------------------------------------------------------------------
def test_shape_leads_metadata(normal):
    assert normal.signals.shape == (12, 5000)
    assert normal.lead_names == STANDARD_12_LEADS
    assert normal.synthetic is True
    assert normal.sampling_rate == 500.0
    meta = normal.metadata
    assert meta["source"] == "cardiogen.phantom"
    assert meta["heart_rate_bpm"] == 60.0
    assert 80 <= meta["qrs_duration_ms"] <= 100
    assert meta["qt_ms"] == pytest.approx(521 - 2.0 * 60)  # men, PHYSIOLOGY §4
    assert make(sex="F").metadata["qt_ms"] == pytest.approx(511 - 1.8 * 60)
    for key in ("R", "P_onset", "QRS_onset", "QRS_offset", "T_offset"):
        assert key in normal.fiducials and normal.fiducials[key].size >= 9
    assert 0.5 < np.abs(normal.signals).max() < 3.0


def test_einthoven_and_goldberger_exact(normal):
    lead = normal.lead
    assert np.array_equal(lead("III"), lead("II") - lead("I"))
    assert np.allclose(lead("aVR"), -(lead("I") + lead("II")) / 2, atol=1e-12, rtol=0)
    assert np.allclose(lead("aVL"), lead("I") - lead("II") / 2, atol=1e-12, rtol=0)
    assert np.allclose(lead("aVF"), lead("II") - lead("I") / 2, atol=1e-12, rtol=0)


def test_seeded_determinism():
    a, b = make(rng=np.random.default_rng(3)), make(rng=np.random.default_rng(3))
    assert np.array_equal(a.signals, b.signals)
    c = make(rng=np.random.default_rng(4))
    assert not np.array_equal(a.signals, c.signals)
    assert np.abs(a.signals - c.signals).max() < 0.3  # only noise and wander differ
    clean1, clean2 = make(noise_mv=0.0, rng=np.random.default_rng(1)), make(noise_mv=0.0, rng=np.random.default_rng(2))
    assert np.array_equal(clean1.signals, clean2.signals)


# ---- timing --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hr, fs", [(50.0, 500.0), (75.0, 1000.0), (120.0, 500.0)])
def test_r_peaks_at_k_rr_and_detected(hr, fs):
    ecg = make(heart_rate_bpm=hr, sampling_rate=fs)
    r = ecg.fiducials["R"]
    rr_s = 60.0 / hr
    k = np.arange(r.size)
    assert r[0] == 0
    assert np.array_equal(r, np.round(k * rr_s * fs).astype(np.int64))  # R of beat k at t = k·RR
    clean_ii = make(heart_rate_bpm=hr, sampling_rate=fs, noise_mv=0.0).lead("II")
    for idx in r[1:-1]:  # the R is the largest QRS deflection of lead II
        window = np.abs(clean_ii[idx - int(0.06 * fs) : idx + int(0.06 * fs) + 1])
        assert np.argmax(window) == int(0.06 * fs)
    detected = ecg_tools.detect_r_peaks(ecg)
    tol = 0.010 * fs
    assert np.all(np.min(np.abs(detected[:, None] - r[None, :]), axis=0) <= tol)  # every R found
    edge = (detected < tol) | (detected > ecg.n_samples - 1 - tol)
    assert np.all(np.min(np.abs(detected[~edge, None] - r[None, :]), axis=1) <= tol)  # no false peak


@pytest.mark.parametrize("hr", [50.0, 65.0, 80.0, 100.0, 120.0])
def test_heart_rate_within_2_bpm(hr):
    ecg = make(heart_rate_bpm=hr)
    assert ecg.heart_rate_bpm() == pytest.approx(hr, abs=2.0)
    bare = Ecg(ecg.signals, ecg.sampling_rate, ecg.lead_names)  # no fiducials: R peaks are detected
    assert bare.heart_rate_bpm() == pytest.approx(hr, abs=2.0)


def test_fiducial_order_and_intervals(normal):
    fs = normal.sampling_rate
    fid = normal.fiducials
    r = fid["R"][1]
    on = fid["QRS_onset"][fid["QRS_onset"] < r][-1]
    off = fid["QRS_offset"][fid["QRS_offset"] > r][0]
    p_on = fid["P_onset"][fid["P_onset"] < on][-1]
    t_off = fid["T_offset"][fid["T_offset"] > off][0]
    assert (on - p_on) / fs * 1000 == pytest.approx(160, abs=15)  # PR ≈ 160 ms
    assert (off - on) / fs * 1000 == pytest.approx(normal.metadata["qrs_duration_ms"], abs=2)
    assert (t_off - on) / fs * 1000 == pytest.approx(normal.metadata["qt_ms"], abs=2)
    qrs = ecg_tools.measure_qrs(normal)  # the signal agrees with the fiducials
    assert qrs["onset_ms"] == pytest.approx((on - r) / fs * 1000, abs=8)
    assert qrs["offset_ms"] == pytest.approx((off - r) / fs * 1000, abs=8)


# ---- morphology follows the heart ----------------------------------------------------------------------------
def test_normal_morphology(normal):
    qrs = ecg_tools.measure_qrs(normal)
    beat, ir, fs = qrs["beat"], qrs["r_index"], normal.sampling_rate
    on, off = ir + int(qrs["onset_ms"] * fs / 1000), ir + int(qrs["offset_ms"] * fs / 1000)
    seg = {n: beat[i, on : off + 1] - beat[i, on - int(0.02 * fs)] for i, n in enumerate(LEADS)}
    assert 80 <= qrs["duration_ms"] <= 100
    assert seg["II"].max() > 0.6 and seg["aVR"].min() < -0.5  # upright II, negative aVR
    assert -seg["V1"].min() > 2 * seg["V1"].max()  # rS in V1
    assert seg["V5"].max() > 2 * -seg["V5"].min()  # qR/Rs in V5
    # R-wave progression: R grows from V1 to V4/V5
    r_amp = [seg[f"V{k}"].max() for k in range(1, 6)]
    assert r_amp[0] < r_amp[2] < r_amp[4]
    # QRS axis (net area of I and aVF) in the normal range
    axis = np.degrees(np.arctan2(seg["aVF"].sum(), seg["I"].sum()))
    assert 0 < axis < 90


def test_qrs_axis_follows_heart_orientation(normal):
    """A vertical heart (apex straight down) has a more rightward/inferior frontal axis than the reference."""
    def axis(ecg: Ecg) -> float:
        beat = ecg_tools.median_beat(ecg)[0]
        return float(np.degrees(np.arctan2(beat[LEADS.index("aVF")].sum(), beat[LEADS.index("I")].sum())))

    w = np.array([0.0, 0.3, 1.0])  # apex -> base: apex inferior (and a bit anterior)
    w /= np.linalg.norm(w)
    v = np.array([0.0, -1.0, 0.3])
    v -= (v @ w) * w
    v /= np.linalg.norm(v)
    u = np.cross(v, w)
    u = u if u[0] > 0 else -u
    vertical = make(heart_to_lps=np.column_stack([u, v, w]))
    assert axis(vertical) > axis(normal) + 10
    assert np.array_equal(vertical.lead("III"), vertical.lead("II") - vertical.lead("I"))


def test_sokolow_lyon_grows_with_lv_mass():
    masses = [90.0, 120.0, 150.0, 180.0, 210.0]
    volts = [ecg_tools.sokolow_lyon_mv(make(lv_mass_g=m)) for m in masses]
    assert all(b > a for a, b in zip(volts, volts[1:])), volts
    assert 1.5 <= ecg_tools.sokolow_lyon_mv(make(lv_mass_g=100.0)) <= 3.0  # normal heart (by cardiac MR)
    assert ecg_tools.sokolow_lyon_mv(make(lv_mass_g=200.0, sex="F")) > 3.5  # LVH criterion (PHYSIOLOGY §7)


def test_qrs_widens_with_dyssynchrony_lbbb_pattern():
    levels = [0.0, 0.33, 0.67, 1.0]
    ecgs = [make(dyssynchrony=d) for d in levels]
    widths = [ecg_tools.measure_qrs(e)["duration_ms"] for e in ecgs]
    assert all(b > a + 5 for a, b in zip(widths, widths[1:])), widths
    assert 80 <= widths[0] <= 100
    assert widths[-1] >= 140  # LBBB (Strauss: ≥ 140 ms men)
    # notched / bifid R in the lateral leads, QS in V1
    lbbb = ecgs[-1]
    qrs = ecg_tools.measure_qrs(lbbb)
    beat, ir, fs = qrs["beat"], qrs["r_index"], lbbb.sampling_rate
    on, off = ir + int(qrs["onset_ms"] * fs / 1000), ir + int(qrs["offset_ms"] * fs / 1000)
    notched = 0
    for name in ("I", "aVL", "V5", "V6"):
        x = beat[LEADS.index(name), on : off + 1]
        peaks, _ = signal.find_peaks(x, prominence=0.03)
        notched += peaks.size >= 2
    assert notched >= 2
    v1 = beat[LEADS.index("V1"), on : off + 1] - beat[LEADS.index("V1"), on]
    assert v1.min() < -0.5 and v1[: int(0.04 * fs)].max() < 0.05  # no initial r in V1


@pytest.mark.parametrize("theta, facing, opposite", [
    (90.0, ("V2", "V3", "V4"), ("III", "aVF")),  # anterior
    (270.0, ("II", "III", "aVF"), ("aVL",)),  # inferior
    (0.0, ("I", "aVL", "V5", "V6"), ("III",)),  # lateral
])
def test_infarct_st_elevation_in_facing_leads(theta, facing, opposite):
    base = make(noise_mv=0.0)
    j = ecg_tools.measure_qrs(base)["offset_ms"]
    st0 = ecg_tools.st_deviation_mv(base, 60.0, j_point_ms=j)
    mi = make(infarct_center_deg=theta, infarct_severity=1.0, noise_mv=0.0)
    st1 = ecg_tools.st_deviation_mv(mi, 60.0, j_point_ms=j)
    for name in facing:
        assert st1[name] - st0[name] >= 0.1, (name, st1[name] - st0[name])
    for name in opposite:  # reciprocal depression
        assert st1[name] - st0[name] < 0
    weak = make(infarct_center_deg=theta, infarct_severity=0.3, noise_mv=0.0)
    st_weak = ecg_tools.st_deviation_mv(weak, 60.0, j_point_ms=j)
    for name in facing:
        assert 0 < st_weak[name] - st0[name] < st1[name] - st0[name]
    # ST elevation survives noise and baseline wander (median beat, PR baseline)
    noisy = make(infarct_center_deg=theta, infarct_severity=1.0, noise_mv=0.02)
    st_noisy = ecg_tools.st_deviation_mv(noisy, 60.0, j_point_ms=j)
    assert sum(st_noisy[n] - st0[n] >= 0.1 for n in facing) >= 2


def test_inferior_infarct_q_waves_and_t_inversion():
    base, mi = make(noise_mv=0.0), make(infarct_center_deg=270.0, infarct_severity=1.0, noise_mv=0.0)
    fs = base.sampling_rate
    for name in ("III", "aVF"):
        for ecg, has_q in ((base, False), (mi, True)):
            qrs = ecg_tools.measure_qrs(ecg)
            beat, ir = qrs["beat"], qrs["r_index"]
            i = LEADS.index(name)
            on = ir + int(qrs["onset_ms"] * fs / 1000)
            x = beat[i] - beat[i, on]
            q = x[on : on + int(0.04 * fs)].min()  # initial 40 ms
            assert (q <= -0.1) == has_q, (name, q)
            t = x[ir + int(0.2 * fs) : ir + int(0.4 * fs)]
            assert (t.min() < -0.05) == has_q, (name, t.min())


@pytest.mark.parametrize("bad", [
    dict(heart_rate_bpm=0.0), dict(heart_rate_bpm=float("nan")), dict(duration_s=-1.0), dict(sampling_rate=10.0),
    dict(dyssynchrony=1.5), dict(infarct_severity=-0.1), dict(sex="X"), dict(heart_to_lps=np.ones((3, 3))),
    dict(heart_to_lps=np.eye(2)), dict(rng=42), dict(lv_mass_g="heavy"),
])
def test_bad_arguments_raise_input_error(bad):
    with pytest.raises(CardioGenInputError):
        make(**bad)


# ---- ecg_tools on edge cases ---------------------------------------------------------------------------------
def test_detector_handles_short_and_flat_leads():
    ecg = make(duration_s=1.5)
    assert ecg_tools.detect_r_peaks(ecg).size >= 1
    t = np.arange(2000) / 500.0
    sig = np.zeros((2, t.size))
    for k in range(1, 4):
        sig[0] += np.exp(-0.5 * ((t - k) / 0.012) ** 2)  # QRS-like bumps at 1, 2, 3 s; lead V1 flat
    flat_lead = Ecg(sig, 500.0, ("II", "V1"))
    assert np.array_equal(ecg_tools.detect_r_peaks(flat_lead), [500, 1000, 1500])
    with pytest.raises(CardioGenInputError):
        ecg_tools.measure_qrs(Ecg(np.random.default_rng(0).normal(size=(1, 100)), 500.0, ("I",)), r_peaks=[50])
