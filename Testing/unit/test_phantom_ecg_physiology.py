"""The phantom's 12-lead ECG follows its heart (issue 18, item 1): every relation measured on the signal.

Heart rate -> R peaks at the ED frames and QT; dyssynchrony and LV size -> QRS duration; LV mass -> QRS voltage;
infarct -> Q waves and ST-T in the leads facing it; amplitudes of adult ECGs. Sources are cited in cardiogen.phantom.ecg.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cardiogen import ecg_frontend, ecg_tools
from cardiogen.data import STANDARD_12_LEADS, Ecg
from cardiogen.phantom import InfarctSpec, PhantomConfig, make_case
from cardiogen.phantom.ecg import (activation_scale, qrs_duration_ms, qt_interval_ms, reference_heart_to_lps,
                                   synthesize_ecg)

LEADS = list(STANDARD_12_LEADS)
SEEDS = range(12)
TERRITORIES = {  # θ (heart frame) -> (leads facing the territory, opposite leads)
    "anterior": (90.0, ("V1", "V2", "V3", "V4"), ("II", "III", "aVF")),
    "inferior": (270.0, ("II", "III", "aVF"), ("I", "aVL")),
    "lateral": (0.0, ("I", "aVL", "V5", "V6"), ("V1", "V2")),
}


def case_ecg(seed: int, **cfg) -> tuple[Ecg, object]:
    case = make_case(PhantomConfig(seed=seed, size=32, slices=2, frames=cfg.pop("frames", 2), modalities=("ecg",),
                                   **cfg))
    return case.ecg, case


def make(**changes) -> Ecg:
    args = dict(heart_rate_bpm=60.0, duration_s=10.0, sampling_rate=500.0, lv_mass_g=100.0, dyssynchrony=0.0,
                infarct_center_deg=None, infarct_width_deg=90.0, infarct_severity=0.0,
                heart_to_lps=reference_heart_to_lps(), sex="M", rng=np.random.default_rng(7), noise_mv=0.01)
    args.update(changes)
    return synthesize_ecg(**args)


def beat_waves(ecg: Ecg) -> dict:
    """Median beat against the PR baseline, QRS onset/offset from the spatial velocity (ecg_tools.measure_qrs)."""
    fs = ecg.sampling_rate
    qrs = ecg_tools.measure_qrs(ecg)
    beat, ir = qrs["beat"], qrs["r_index"]
    on = ir + int(round(qrs["onset_ms"] * fs / 1000.0))
    off = ir + int(round(qrs["offset_ms"] * fs / 1000.0))
    base = np.median(beat[:, on - int(0.03 * fs) : on - int(0.01 * fs)], axis=1)
    return {"beat": beat - base[:, None], "ir": ir, "on": on, "off": off, "fs": fs, "qrs_ms": qrs["duration_ms"]}


def q_wave(w: dict, lead: str) -> tuple[float, float, float]:
    """(Q duration ms, Q depth mV, R height mV): the initial negative deflection of the QRS, if any."""
    x = w["beat"][LEADS.index(lead), w["on"] : w["off"] + 1]
    r = max(float(x.max()), 0.0)
    first = np.nonzero(np.abs(x) > 0.02)[0]
    if first.size == 0 or x[first[0]] > 0:
        return 0.0, 0.0, r
    back = np.nonzero(x[first[0]:] >= 0)[0]
    end = first[0] + back[0] if back.size else x.size  # QS: negative to the end
    return end * 1000.0 / w["fs"], float(-x[:end].min()), r


def pathological_q(w: dict, lead: str) -> bool:
    """Q ≥ 40 ms, or Q ≥ 25 % of R and ≥ 0.1 mV (ESC criteria; PHYSIOLOGY.md §7)."""
    dur, depth, r = q_wave(w, lead)
    return dur >= 40.0 or (depth >= 0.1 and depth >= 0.25 * r)


def r_and_t_lead_ii(w: dict) -> tuple[float, float]:
    ii = w["beat"][LEADS.index("II")]
    return float(ii[w["on"] : w["off"] + 1].max()), float(ii[w["off"] : w["off"] + int(0.45 * w["fs"])].max())


def qt_tangent_ms(w: dict, rr_ms: float, lead: str = "II") -> float:
    """QT from the QRS onset to the T end by the tangent method (steepest T downslope meets the baseline).

    The T peak is searched from 60 ms after the QRS offset to 60 % of RR after the onset (before the next P);
    the beat is low-passed at 25 Hz first so that the noise does not set the slope.
    """
    fs = w["fs"]
    b, a = signal.butter(2, 25.0 / (fs / 2.0))
    x = signal.filtfilt(b, a, w["beat"][LEADS.index(lead)])
    seg = slice(w["off"] + int(0.06 * fs), w["on"] + int(min(0.5, 0.6 * rr_ms / 1000.0) * fs))
    t_peak = seg.start + int(np.argmax(x[seg]))
    slope = np.gradient(x, 1.0 / fs)
    k = t_peak + int(np.argmin(slope[t_peak : t_peak + int(0.15 * fs)]))
    t_end = k - x[k] / slope[k] * fs  # samples
    return (t_end - w["on"]) * 1000.0 / fs


# ---- heart rate: R peaks on the ED frames ----------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3, 5])
def test_r_peaks_on_the_cine_ed_frames(seed):
    ecg, case = case_ecg(seed, frames=20)
    rr = case.truth.rr_ms
    assert ecg.metadata["heart_rate_bpm"] == pytest.approx(case.truth.heart_rate_bpm)
    peaks_ms = ecg_frontend.detect_r_peaks(ecg) * 1000.0 / ecg.sampling_rate
    k = np.round(peaks_ms / rr)
    assert np.abs(peaks_ms - k * rr).max() <= 4.0, peaks_ms - k * rr  # R of beat k at k·RR
    assert np.array_equal(k, np.arange(k[0], k[0] + k.size))  # one R per cycle, none missed
    assert k.size >= int(1000.0 * ecg.duration_s / rr) - 1  # every beat of the record but the edges
    # the R wave is end-diastole, the cine's frame 0 (frame j at j·RR/frames): the LV is largest there
    assert case.truth.es_frame > 0 and int(np.argmax(case.truth.volume_curves["lv_blood_ml"])) == 0


def test_t_wave_ends_before_end_systole():
    """T ends shortly before the phantom's end-systole (aortic closure) at every heart rate (QT and QS2: Weissler)."""
    for seed in SEEDS:
        ecg, case = case_ecg(seed)
        w = beat_waves(ecg)
        t_end_after_r = qt_tangent_ms(w, case.truth.rr_ms) - (w["ir"] - w["on"]) * 1000.0 / w["fs"]
        assert 0.0 < case.truth.es_time_ms - t_end_after_r < 100.0, (seed, case.truth.es_time_ms, t_end_after_r)


# ---- heart rate: QT ---------------------------------------------------------------------------------------------
def test_qt_follows_heart_rate():
    rates = [50.0, 60.0, 75.0, 90.0, 105.0, 120.0]
    qts = []
    for hr in rates:
        w = beat_waves(make(heart_rate_bpm=hr))
        qt = qt_tangent_ms(w, 60000.0 / hr)
        assert qt == pytest.approx(qt_interval_ms(hr, "M"), abs=12.0), hr
        qts.append(qt)
    qts = np.array(qts)
    assert np.all(np.diff(qts) < 0) and qts[0] - qts[-1] > 100.0  # QT shortens with the rate
    hodges = qts + 1.75 * (np.array(rates) - 60.0)  # QTc (Hodges, JACC 1983)
    assert hodges.max() - hodges.min() < 25.0, hodges
    assert np.all((hodges > 360.0) & (hodges < 440.0))  # normal QTc
    rr = 60.0 / np.array(rates)
    bazett = qts / np.sqrt(rr)
    assert np.all((bazett > 360.0) & (bazett < 440.0)), bazett


# ---- dyssynchrony: QRS duration ---------------------------------------------------------------------------------
def test_qrs_duration_grows_with_dyssynchrony():
    cases = [case_ecg(4, dyssynchrony=d) for d in (0.0, 0.25, 0.5, 0.75, 1.0)]
    widths = [beat_waves(ecg)["qrs_ms"] for ecg, _ in cases]
    assert all(b > a + 5.0 for a, b in zip(widths, widths[1:])), widths
    assert 80.0 <= widths[0] <= 104.0  # normal 85 ± 8 ms (70-104)
    strauss = 140.0 if cases[0][1].demographics.sex == "M" else 130.0  # Strauss: ≥ 140 ms men, ≥ 130 ms women
    assert widths[2] >= 105.0 and widths[-1] >= strauss, widths  # LBBB ≥ 120 ms from dyssynchrony ≈ 0.5


# ---- LV size: QRS duration --------------------------------------------------------------------------------------
def test_qrs_duration_grows_with_lv_size():
    """Activation time scales with the LV's linear size, (LVEDV / 140 mL)^(1/3), measured on the signal."""
    volumes = (90.0, 120.0, 140.0, 180.0, 240.0)
    widths = [beat_waves(make(lv_edv_ml=v, noise_mv=0.0))["qrs_ms"] for v in volumes]
    assert all(b > a + 2.0 for a, b in zip(widths, widths[1:])), widths
    expected = widths[2] * np.array([activation_scale(v) for v in volumes])
    assert np.allclose(widths, expected, atol=3.0), (widths, expected)
    assert all(70.0 <= w <= 112.0 for w in widths), widths  # normal QRS 70-104 ms; a 240 mL LV is dilated
    # the model's own number, as a recording's measurement gives it
    assert abs(qrs_duration_ms(0.0, 180.0) - widths[3]) < 3.0
    # the mean male LV (160 mL) gives a QRS 4-10 ms longer than the mean female one (135 mL), as the sexes differ
    assert 3.0 <= qrs_duration_ms(0.0, 160.0) - qrs_duration_ms(0.0, 135.0) <= 10.0
    # with dyssynchrony the late activation scales the same way
    assert qrs_duration_ms(1.0, 200.0) > qrs_duration_ms(1.0, 120.0) + 10.0


def test_phantom_ecg_carries_its_lvedv():
    """make_case passes the heart's own LVEDV: over seeds the QRS duration ranks with the LVEDV (no dyssynchrony)."""
    edv, qrs = [], []
    for seed in SEEDS:
        ecg, case = case_ecg(seed)
        assert ecg.metadata["lv_edv_ml"] == pytest.approx(case.truth.phenotypes_model.lvedv_ml, rel=1e-6)
        edv.append(case.truth.phenotypes_model.lvedv_ml)
        qrs.append(ecg.metadata["qrs_duration_ms"])
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    assert np.corrcoef(rank(edv), rank(qrs))[0, 1] > 0.95, (edv, qrs)


def test_lv_edv_out_of_range_is_refused():
    from cardiogen.errors import CardioGenInputError

    with pytest.raises(CardioGenInputError, match="lv_edv_ml"):
        make(lv_edv_ml=5.0)


# ---- LV mass: QRS voltage ---------------------------------------------------------------------------------------
def test_qrs_voltage_grows_with_the_phantoms_lv_mass():
    mass, sokolow, cornell = [], [], []
    for seed in SEEDS:
        ecg, case = case_ecg(seed)
        w = beat_waves(ecg)
        b, on, off = w["beat"], w["on"], w["off"]
        mass.append(case.phenotypes.lv_mass_g)
        sokolow.append(ecg_tools.sokolow_lyon_mv(ecg))
        cornell.append(b[LEADS.index("aVL"), on : off + 1].max() - b[LEADS.index("V3"), on : off + 1].min())
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    for volts in (sokolow, cornell):
        rho = np.corrcoef(rank(mass), rank(volts))[0, 1]
        assert rho > 0.9, (rho, mass, volts)


def test_lvh_voltage_criteria():
    masses = [60.0, 100.0, 140.0, 190.0, 240.0]
    sokolow = [ecg_tools.sokolow_lyon_mv(make(lv_mass_g=m)) for m in masses]
    assert all(b > a for a, b in zip(sokolow, sokolow[1:])), sokolow
    assert 1.5 <= sokolow[1] <= 3.0  # normal heart
    assert sokolow[-2] >= 3.4 and sokolow[-1] > 3.5  # Sokolow-Lyon LVH criterion ≥ 3.5 mV
    cornell_f = make(lv_mass_g=240.0, sex="F").metadata["cornell_mv"]
    assert cornell_f > make(lv_mass_g=100.0, sex="F").metadata["cornell_mv"]


# ---- amplitudes -------------------------------------------------------------------------------------------------
def test_normal_amplitudes_over_seeds():
    for seed in SEEDS:
        ecg, case = case_ecg(seed)
        r, t = r_and_t_lead_ii(beat_waves(ecg))
        assert 0.5 <= r <= 2.0, (seed, case.phenotypes.lv_mass_g, r)  # adult lead II R 0.5-2 mV
        assert 0.1 <= t / r <= 0.4, (seed, r, t)  # T well below R, upright
    r, t = r_and_t_lead_ii(beat_waves(make(lv_mass_g=50.0)))  # the phantom's smallest LV
    assert 0.5 <= r <= 1.0 and 0.1 * r <= t < 0.4 * r, (r, t)
    r, t = r_and_t_lead_ii(beat_waves(make(lv_mass_g=320.0)))  # its largest: LVH, limb-lead R ≈ 2 mV (Romhilt-Estes)
    assert 1.6 <= r <= 2.5 and 0.1 * r <= t < 0.4 * r, (r, t)


# ---- infarct: Q waves and ST-T in the facing leads ---------------------------------------------------------------
@pytest.mark.parametrize("territory", sorted(TERRITORIES))
def test_infarct_q_waves_and_st_t_in_facing_leads(territory):
    theta, facing, opposite = TERRITORIES[territory]
    seed = 2
    normal = beat_waves(case_ecg(seed)[0])
    ecg, case = case_ecg(seed, infarct=InfarctSpec(center_deg=theta, width_deg=90.0, severity=1.0))
    mi = beat_waves(ecg)
    for lead in LEADS:
        if lead not in ("aVR", "aVL", "III"):  # small or reversed complexes: normal Q waves allowed there
            assert not pathological_q(normal, lead), (lead, q_wave(normal, lead))
    has_q = [pathological_q(mi, lead) for lead in facing]
    assert sum(has_q) >= len(facing) - 1, [(lead, q_wave(mi, lead)) for lead in facing]
    assert any(a and b for a, b in zip(has_q, has_q[1:]))  # in ≥ 2 contiguous leads
    for lead in opposite:
        assert not pathological_q(mi, lead), (lead, q_wave(mi, lead))
    st0 = ecg_tools.st_deviation_mv(case_ecg(seed)[0], 60.0)
    st1 = ecg_tools.st_deviation_mv(ecg, 60.0)
    assert max(st1[lead] - st0[lead] for lead in facing) >= 0.1  # ST elevation facing
    assert all(st1[lead] - st0[lead] < 0 for lead in opposite)  # reciprocal depression
    fs = mi["fs"]
    for lead in facing:  # T inversion (terminal part) facing
        i = LEADS.index(lead)
        t0 = normal["beat"][i, normal["off"] + int(0.1 * fs) : normal["off"] + int(0.4 * fs)]
        t1 = mi["beat"][i, mi["off"] + int(0.1 * fs) : mi["off"] + int(0.4 * fs)]
        assert t1.min() < t0.min() - 0.05, lead


def test_default_phantom_infarct_gives_q_waves():
    """The phantom's default infarct (anterior, 60°, severity 0.8) has Q waves in ≥ 2 contiguous precordial leads."""
    ecg, _ = case_ecg(1, infarct=InfarctSpec())
    w = beat_waves(ecg)
    has_q = [pathological_q(w, lead) for lead in ("V1", "V2", "V3", "V4")]
    assert any(a and b for a, b in zip(has_q, has_q[1:])), [q_wave(w, f"V{k}") for k in range(1, 5)]
