"""PA-MAE of seed 003 around the network: phantom ECG data, the loss, the metrics and a baseline, cycle alignment,
a linear probe, and the evaluation on real ECGs.

* Data (:func:`draw_subject`, :func:`phantom_ecg_pool`): phantom subjects drawn like the phantom's own (its
  demographics → phenotypes regression and the same random streams as :func:`cardiogen.phantom.make_case`), with the
  heart rate, LV mass, dyssynchrony and infarct widened for pre-training, rendered by the phantom's ECG generator
  (:func:`cardiogen.phantom.ecg.synthesize_ecg`; no images) and passed through the front end's baseline and
  powerline filters as a real ECG would be. The phase target comes from the phantom's exact R peaks.
* Loss (:func:`pamae_loss`): L = w_rec·L_rec + w_phase·L_phase (seed Eq. 5 with w = 1, 1), L_rec the MSE over the
  masked patches (Eq. 2 restricted to the masked tokens, as in the MAE), L_phase Eq. 4.
* Metrics: masked-patch RMSE (mV) against a linear interpolation across the masked patches
  (:func:`linear_fill`), and the circular phase error (rad, :func:`phase_error_rad`).
* :func:`align_cycle`: the seed's cycle extraction: one complete cardiac cycle of the token features, found from
  the *predicted* phase and resampled to the cine's frame count (Sec. 3.1, "ROI Align into 50-frame
  representations").
* :func:`ridge_probe`: frozen features → phantom heart rate, QRS duration, LV mass (what makes them worth
  conditioning on).
* :func:`evaluate_real`: the real ECGs of ``../shared/data/ecg`` through the front end (foreign data: a 2-lead
  record is refused by the front end, and only evaluated with its missing leads zero-filled, said so).
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import CardioGenInputError

__all__ = ["EcgSubject", "draw_subject", "subject_ecg", "phantom_ecg_pool", "token_phase", "crop_batch",
           "pamae_loss", "linear_fill", "phase_error_rad", "masked_reconstruction", "align_cycle",
           "pooled_features", "ridge_probe", "evaluate_phantom", "probe_phantom", "evaluate_real", "encode_ecg",
           "load_pamae"]

SECONDS_POOL = 12.0  #: s of phantom ECG per subject; 10-s windows are cropped at random offsets
FS = 500.0


# ---- phantom subjects --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EcgSubject:
    """One pre-training subject: what the phantom ECG depends on (units in the names)."""

    seed: int
    sex: str
    heart_rate_bpm: float
    lv_mass_g: float
    dyssynchrony: float
    infarct_center_deg: Optional[float]
    infarct_width_deg: float
    infarct_severity: float
    noise_mv: float
    lv_edv_ml: float

    def to_dict(self) -> dict:
        return asdict(self)


def draw_subject(seed: int) -> EcgSubject:
    """The pre-training subject of ``seed``.

    Sex and LV mass follow the phantom's own subject of that seed (``Demographics.random`` on stream 1 and the
    phenotype residual on stream 2, as :func:`cardiogen.phantom.make_case` draws them); a third stream widens the
    population for pre-training: heart rate uniform over the phantom's range 45-110 bpm (its own subjects vary only
    ±7 bpm), LV mass × exp(N(0, 0.2)) within 50-320 g, dyssynchrony 0 for half the subjects else U(0, 1), an infarct in
    35 % (lateral, anterior, septal or inferior ± 15°, 40-120° wide, severity 0.3-1), noise 0.005-0.04 mV; a fourth
    stream gives LVEDV × exp(N(0, 0.2)) within 60-320 mL (independent of the mass jitter, so that the features learn
    the QRS voltage and duration apart).
    """
    from ..phantom.demographics import RANGES, Demographics, phenotypes_from_demographics

    demo = Demographics.random(np.random.default_rng([seed, 1]))
    target = phenotypes_from_demographics(demo, np.random.default_rng([seed, 2]))
    rng = np.random.default_rng([seed, 31])
    hr = float(rng.uniform(*RANGES["hr"]))
    mass = float(np.clip(target.lv_mass_g * math.exp(rng.normal(0.0, 0.2)), *RANGES["mass"]))
    dys = 0.0 if rng.random() < 0.5 else float(rng.uniform(0.0, 1.0))
    center, width, severity = None, 0.0, 0.0
    if rng.random() < 0.35:
        center = float(rng.choice([0.0, 90.0, 180.0, 270.0]) + rng.normal(0.0, 15.0))
        width, severity = float(rng.uniform(40.0, 120.0)), float(rng.uniform(0.3, 1.0))
    edv_rng = np.random.default_rng([seed, 32])
    return EcgSubject(seed=int(seed), sex=demo.sex, heart_rate_bpm=hr, lv_mass_g=mass, dyssynchrony=dys,
                      infarct_center_deg=center, infarct_width_deg=width, infarct_severity=severity,
                      noise_mv=float(rng.uniform(0.005, 0.04)),
                      lv_edv_ml=float(np.clip(target.lvedv_ml * math.exp(edv_rng.normal(0.0, 0.2)), *RANGES["lvedv"])))


def subject_ecg(subject: EcgSubject, seconds: float = SECONDS_POOL) -> Any:
    """The subject's 12-lead phantom ECG at 500 Hz, baseline (0.5 Hz high-pass) and powerline filtered by the front
    end; :class:`cardiogen.data.Ecg` with the phantom's exact R peaks in ``fiducials["R"]`` and its intervals
    (``qrs_duration_ms`` ...) in ``metadata``."""
    from .. import ecg_frontend as fe
    from ..phantom.ecg import reference_heart_to_lps, synthesize_ecg

    ecg = synthesize_ecg(heart_rate_bpm=subject.heart_rate_bpm, duration_s=seconds, sampling_rate=FS,
                         lv_mass_g=subject.lv_mass_g, dyssynchrony=subject.dyssynchrony,
                         infarct_center_deg=subject.infarct_center_deg, infarct_width_deg=subject.infarct_width_deg,
                         infarct_severity=subject.infarct_severity, heart_to_lps=reference_heart_to_lps(),
                         sex=subject.sex, rng=np.random.default_rng([subject.seed, 7]), noise_mv=subject.noise_mv,
                         lv_edv_ml=subject.lv_edv_ml)
    return fe.remove_powerline(fe.remove_baseline(ecg), "auto")


@functools.lru_cache(maxsize=4)
def phantom_ecg_pool(seeds: tuple[int, ...], seconds: float = SECONDS_POOL) -> dict:
    """ECGs of the subjects of ``seeds`` (cached per process).

    Returns:
        dict: ``signals`` float32 ``(N, 12, seconds·500)`` mV; ``r_peaks`` list of N int64 arrays (samples);
        ``truth`` list of N dicts (the subject plus ``qrs_duration_ms``, ``qt_ms``).
    """
    signals, peaks, truth = [], [], []
    for seed in seeds:
        subject = draw_subject(seed)
        ecg = subject_ecg(subject, seconds)
        signals.append(ecg.signals.astype(np.float32))
        peaks.append(np.asarray(ecg.fiducials["R"], dtype=np.int64))
        truth.append({**subject.to_dict(), "qrs_duration_ms": float(ecg.metadata["qrs_duration_ms"]),
                      "qt_ms": float(ecg.metadata["qt_ms"])})
    return {"signals": np.stack(signals), "r_peaks": peaks, "truth": truth}


def token_phase(r_peaks: np.ndarray, samples: int, patch: int) -> np.ndarray:
    """Phase target per token ``(samples / patch, 2)`` = [sin φ, cos φ] at each token's centre sample, φ rising
    linearly from 0 to 2π between R peaks (:func:`cardiogen.ecg_frontend.phase_target`; before the first and after
    the last R the nearest RR interval continues it)."""
    from ..ecg_frontend import phase_target

    centres = np.arange(samples // patch) * patch + patch // 2
    return phase_target(samples, r_peaks)[centres].astype(np.float32)


def crop_batch(pool: dict, rng: np.random.Generator, batch_size: int, samples: int, patch: int,
               gain_jitter: float = 0.0) -> dict:
    """A batch of random subjects of ``pool``, each a ``samples``-long window at a random offset (so R does not
    sit at a fixed token), optionally scaled by exp(N(0, gain_jitter)) (electrode/body-size gain).

    Returns:
        dict: ``ecg`` float32 ``(B, 12, samples)`` mV, ``phase`` float32 ``(B, samples/patch, 2)``, ``index`` (B,)
        pool rows.
    """
    n, _, total = pool["signals"].shape
    idx = rng.integers(0, n, size=batch_size)
    ecg, phase = [], []
    for i in idx:
        off = int(rng.integers(0, total - samples + 1))
        x = pool["signals"][i, :, off : off + samples]
        if gain_jitter:
            x = x * np.float32(math.exp(rng.normal(0.0, gain_jitter)))
        r = pool["r_peaks"][i] - off
        ecg.append(x)
        phase.append(token_phase(r[(r >= 0) & (r < samples)], samples, patch))
    return {"ecg": np.stack(ecg).astype(np.float32), "phase": np.stack(phase), "index": idx}


# ---- loss --------------------------------------------------------------------------------------------------
def pamae_loss(out: Any, phase_target: Any, w_rec: float = 1.0, w_phase: float = 1.0) -> tuple[Any, dict]:
    """L_PA-MAE = w_rec·L_rec + w_phase·L_phase (seed Eq. 5: both weights 1).

    * L_rec (Eq. 2 over the masked tokens): mean squared error of the reconstructed patches against the input's,
      averaged over leads, samples and masked tokens, in network units (mV / input_scale_mv)².
    * L_phase (Eq. 4): (1/T') Σ_t ||φ̂_t − φ_t||², the squared error of [sin, cos] summed over its 2 entries and
      averaged over the T' tokens (all, unmasked features).

    Args:
        out: :class:`cardiogen.nets.pamae.PAMAEOutput`.
        phase_target: ``(B, P, 2)`` tensor.
    Returns:
        (loss, logs with ``rec`` and ``phase`` floats).
    """
    per_token = ((out.recon - out.target) ** 2).mean(dim=-1)  # (B, P)
    rec = per_token[out.mask].mean()
    phase = ((out.phase - phase_target) ** 2).sum(dim=-1).mean()
    loss = w_rec * rec + w_phase * phase
    return loss, {"rec": float(rec.detach()), "phase": float(phase.detach())}


# ---- metrics -----------------------------------------------------------------------------------------------
def linear_fill(x: np.ndarray, mask: np.ndarray, patch: int) -> np.ndarray:
    """Baseline: every lead's masked samples linearly interpolated between the nearest visible samples (held
    constant beyond the first/last visible one). ``x`` ``(C, T)``, ``mask`` bool ``(T / patch,)`` True = masked."""
    hidden = np.repeat(np.asarray(mask, dtype=bool), patch)
    t = np.arange(x.shape[1])
    out = x.copy()
    for c in range(x.shape[0]):
        out[c, hidden] = np.interp(t[hidden], t[~hidden], x[c, ~hidden])
    return out


def phase_error_rad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """|φ̂ − φ| wrapped to [0, π] (rad) per row of ``(…, 2)`` [sin, cos] arrays (φ = atan2(sin, cos))."""
    d = np.arctan2(pred[..., 0], pred[..., 1]) - np.arctan2(target[..., 0], target[..., 1])
    return np.abs(np.angle(np.exp(1j * d)))


def masked_reconstruction(model: Any, ecg_mv: np.ndarray, seed: int, leads: Optional[Sequence[int]] = None) -> dict:
    """Reconstruct the masked patches of ``ecg_mv`` ``(12, T)`` mV under one seeded random mask.

    Returns:
        dict: ``rmse_mv`` (model) and ``baseline_rmse_mv`` (:func:`linear_fill`) over the masked samples of the
        ``leads`` (default all); ``recon_mv`` ``(12, T)`` (the input with the masked patches replaced), ``mask``.
    """
    import torch

    from ..nets.pamae import random_masking, unpatchify

    cfg = model.config
    g = torch.Generator().manual_seed(int(seed))
    keep, mask = random_masking(1, cfg.tokens, cfg.mask_ratio, g)
    with torch.no_grad():
        out = model(torch.from_numpy(np.ascontiguousarray(ecg_mv, dtype=np.float32))[None], keep=keep)
    recon = unpatchify(out.recon, cfg.leads)[0].numpy() * cfg.input_scale_mv
    m = mask[0].numpy()
    hidden = np.repeat(m, cfg.patch)
    rows = list(range(ecg_mv.shape[0])) if leads is None else list(leads)
    base = linear_fill(ecg_mv, m, cfg.patch)
    filled = np.where(hidden[None], recon, ecg_mv)
    err = (filled - ecg_mv)[rows][:, hidden]
    err_b = (base - ecg_mv)[rows][:, hidden]
    return {"rmse_mv": float(np.sqrt(np.mean(err**2))), "baseline_rmse_mv": float(np.sqrt(np.mean(err_b**2))),
            "recon_mv": filled, "mask": m}


# ---- cycle alignment ---------------------------------------------------------------------------------------
def align_cycle(features: np.ndarray, phase: np.ndarray, frames: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """One complete cardiac cycle of token features, resampled to ``frames`` by the predicted phase (seed Sec. 3.1:
    "complete cardiac cycles are extracted from the predicted phase sequence and resampled ... into 50-frame
    representations").

    The predicted φ is unwrapped along the tokens (and made non-decreasing); the complete cycle nearest the record's
    middle, [2πk, 2π(k+1)), is sampled at φ = 2π(k + j/frames), j = 0..frames−1, by linear interpolation of the
    features between tokens. Frame 0 is then the R peak (end-diastole), as in :func:`cardiogen.ecg_frontend.
    cardiac_cycles`.

    Args:
        features: ``(P, D)`` token features (:meth:`PAMAE.features` of one record).
        phase: ``(P, 2)`` predicted [sin φ, cos φ].
        frames: output frames.
    Returns:
        ``(frames, D)`` features and the ``(frames,)`` fractional token positions they were taken at.
    Raises:
        CardioGenInputError: when the predicted phase holds no complete cycle.
    """
    phi = np.unwrap(np.arctan2(phase[:, 0], phase[:, 1]))
    phi = np.maximum.accumulate(phi)
    first, last = math.ceil(phi[0] / (2 * math.pi)), math.floor(phi[-1] / (2 * math.pi)) - 1
    if last < first:
        raise CardioGenInputError("the predicted ECG phase holds no complete cardiac cycle", source="PA-MAE",
                                  expected="≥ 1 cycle", got=f"phase span {phi[-1] - phi[0]:.2f} rad")
    mid = np.interp(0.5 * (len(phi) - 1), np.arange(len(phi)), phi) / (2 * math.pi)
    k = int(np.clip(math.floor(mid), first, last))  # the cycle that holds the record's middle
    targets = 2 * math.pi * (k + np.arange(frames) / frames)
    # positions where φ reaches each target (flat stretches of φ: np.interp takes the first)
    pos = np.interp(targets, phi, np.arange(len(phi), dtype=float))
    lo = np.clip(np.floor(pos).astype(int), 0, len(phi) - 1)
    hi = np.minimum(lo + 1, len(phi) - 1)
    w = (pos - lo)[:, None]
    return features[lo] * (1 - w) + features[hi] * w, pos


# ---- linear probe ------------------------------------------------------------------------------------------
def pooled_features(model: Any, ecg_mv: np.ndarray, batch: int = 16) -> np.ndarray:
    """Per record: the mean and the standard deviation over tokens of :meth:`PAMAE.features` → ``(N, 2D)``."""
    import torch

    out = []
    for i in range(0, len(ecg_mv), batch):
        f = model.features(torch.from_numpy(np.ascontiguousarray(ecg_mv[i : i + batch], dtype=np.float32)))
        out.append(torch.cat([f.mean(1), f.std(1)], dim=1).numpy())
    return np.concatenate(out)


def ridge_probe(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                alphas: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0), folds: int = 5) -> dict:
    """Ridge regression (features standardised on the training set) with α chosen by ``folds``-fold
    cross-validation on the training set; R² and MAE on the test set.

    Returns:
        dict: ``r2``, ``mae``, ``alpha``.
    """
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-8
    xt, xs = (x_train - mu) / sd, (x_test - mu) / sd
    ym = y_train.mean()

    def fit(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
        return np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (b - b.mean()))

    split = np.arange(len(xt)) % folds
    best, best_err = alphas[0], np.inf
    for alpha in alphas:
        err = 0.0
        for f in range(folds):
            tr, va = split != f, split == f
            w = fit(xt[tr], y_train[tr], alpha)
            err += float(np.sum((xt[va] @ w + y_train[tr].mean() - y_train[va]) ** 2))
        if err < best_err:
            best, best_err = alpha, err
    pred = xs @ fit(xt, y_train, best) + ym
    r2 = 1.0 - float(np.sum((pred - y_test) ** 2) / np.sum((y_test - y_test.mean()) ** 2))
    return {"r2": r2, "mae": float(np.mean(np.abs(pred - y_test))), "alpha": float(best)}


PROBE_TARGETS = {"heart_rate_bpm": "heart_rate_bpm", "qrs_duration_ms": "qrs_duration_ms", "lv_mass_g": "lv_mass_g",
                 "lv_edv_ml": "lv_edv_ml"}


def probe_phantom(model: Any, train_seeds: Sequence[int], test_seeds: Sequence[int], samples: int = 5000) -> dict:
    """Frozen-feature ridge probe of heart rate, QRS duration and LV mass on phantom subjects (the first ``samples``
    of each subject's ECG); R² and MAE on ``test_seeds``, with the same probe on an untrained network of the same
    size (seed 0) as the reference."""
    import torch

    from ..nets.pamae import PAMAE

    tr, te = phantom_ecg_pool(tuple(train_seeds)), phantom_ecg_pool(tuple(test_seeds))
    torch.manual_seed(0)
    untrained = PAMAE(model.config).eval()
    out: dict = {"train_subjects": len(train_seeds), "test_subjects": len(test_seeds),
                 "features": "mean and std over tokens of PAMAE.features (frozen)"}
    for name, net in (("pamae", model), ("untrained", untrained)):
        x_tr = pooled_features(net, tr["signals"][:, :, :samples])
        x_te = pooled_features(net, te["signals"][:, :, :samples])
        for key in PROBE_TARGETS:
            y_tr = np.array([t[key] for t in tr["truth"]])
            y_te = np.array([t[key] for t in te["truth"]])
            res = ridge_probe(x_tr, y_tr, x_te, y_te)
            out.setdefault(key, {})[name] = {"r2": round(res["r2"], 4), "mae": round(res["mae"], 3),
                                             "alpha": res["alpha"]}
    return out


# ---- evaluation --------------------------------------------------------------------------------------------
def evaluate_phantom(model: Any, seeds: Sequence[int], masks_per_subject: int = 2) -> dict:
    """Masked-patch RMSE (mV) of the model and of :func:`linear_fill`, and the phase error (rad) of every token, on
    the first 10 s of the subjects of ``seeds`` (``masks_per_subject`` seeded masks each)."""
    import torch

    cfg = model.config
    pool = phantom_ecg_pool(tuple(seeds))
    rm, rb, perr = [], [], []
    for i, seed in enumerate(seeds):
        x = pool["signals"][i, :, : cfg.samples]
        for j in range(masks_per_subject):
            res = masked_reconstruction(model, x, seed=int(seed) * 100 + j)
            rm.append(res["rmse_mv"])
            rb.append(res["baseline_rmse_mv"])
        r = pool["r_peaks"][i]
        target = token_phase(r[r < cfg.samples], cfg.samples, cfg.patch)
        pred = model.phase(torch.from_numpy(np.ascontiguousarray(x))[None])[0].numpy()
        perr.append(phase_error_rad(pred, target))
    perr_all = np.concatenate(perr)
    return {"heldout_seeds": [int(s) for s in seeds], "masks_per_subject": masks_per_subject,
            "masked_rmse_mv": float(np.mean(rm)), "baseline_linear_rmse_mv": float(np.mean(rb)),
            "masked_rmse_ratio_to_linear": float(np.mean(rm) / np.mean(rb)),
            "subjects_better_than_linear": float(np.mean(np.asarray(rm) < np.asarray(rb))),
            "phase_error_rad_mean": float(perr_all.mean()), "phase_error_rad_median": float(np.median(perr_all)),
            "phase_error_rad_p95": float(np.percentile(perr_all, 95))}


def _real_record(model: Any, ecg: Any, r_ref: np.ndarray, masks: int, leads: Optional[Sequence[int]] = None) -> dict:
    """Reconstruction (vs linear) and phase error on one prepared 12 × 5000 record; the phase is scored on the
    tokens between the first and last reference R peak only (outside them the target is an extrapolation)."""
    import torch

    cfg = model.config
    x = ecg.signals.astype(np.float32)
    rm, rb = [], []
    for j in range(masks):
        res = masked_reconstruction(model, x, seed=j, leads=leads)
        rm.append(res["rmse_mv"])
        rb.append(res["baseline_rmse_mv"])
    target = token_phase(r_ref, cfg.samples, cfg.patch)
    centres = np.arange(cfg.tokens) * cfg.patch + cfg.patch // 2
    inside = (centres >= r_ref[0]) & (centres <= r_ref[-1])
    pred = model.phase(torch.from_numpy(x)[None])[0].numpy()
    err = phase_error_rad(pred, target)[inside]
    return {"masked_rmse_mv": float(np.mean(rm)), "baseline_linear_rmse_mv": float(np.mean(rb)),
            "phase_error_rad_mean": float(err.mean()), "phase_error_rad_median": float(np.median(err)),
            "beats": int(len(r_ref))}


def evaluate_real(model: Any, data_dir: str | Path, masks: int = 4, mitdb_windows: int = 12) -> dict:
    """The real ECGs of ``data_dir`` (``../shared/data/ecg``) through the front end (:func:`cardiogen.ecg_frontend.
    prepare`): foreign data for a model pre-trained on the phantom only.

    * ``waveform_ecg.dcm`` (12 leads, 10 s, 1 kHz): masked-patch RMSE vs linear (``masks`` seeded masks); phase
      error against the phase from the front end's R peaks.
    * ``mitdb_100`` (2 leads, MLII and V5): the front end refuses it (10 leads cannot be derived; the refusal is
      recorded). With ``missing="zero"`` (the 10 absent leads zero-filled, an input the model never saw) the first
      ``mitdb_windows`` 10-s windows are scored on the two real leads, the phase against the reference beat
      annotations (``100.atr``).
    """
    from .. import ecg_frontend as fe
    from ..data import Ecg
    from ..io.ecg_io import read_ecg

    data_dir = Path(data_dir)
    out: dict = {"note": "real ECGs, foreign to a model pre-trained on phantom ECG only"}
    dcm = data_dir / "waveform_ecg.dcm"
    if dcm.is_file():
        prep = fe.prepare(read_ecg(dcm))
        out["waveform_ecg_dcm"] = {**_real_record(model, prep["ecg"], prep["r_peaks"], masks),
                                   "phase_reference": "R peaks of the front end (pan_tompkins)"}
    rec = data_dir / "mitdb_100" / "100.hea"
    if rec.is_file():
        raw = read_ecg(rec)
        entry: dict = {}
        try:
            fe.prepare(raw)
            entry["refused"] = None
        except CardioGenInputError as exc:
            entry["refused"] = str(exc)
        n = int(round(raw.sampling_rate * 10.0))
        rows = []
        for w in range(mitdb_windows):
            a = w * n
            r = np.asarray(raw.fiducials.get("R", []))
            window = Ecg(signals=raw.signals[:, a : a + n], sampling_rate=raw.sampling_rate,
                         lead_names=raw.lead_names, fiducials={"R": r[(r >= a) & (r < a + n)] - a},
                         metadata=dict(raw.metadata))
            prep = fe.prepare(window, missing="zero")
            ref = np.asarray(prep["ecg"].fiducials["R"])
            present = [prep["ecg"].lead_names.index(x) for x in ("II", "V5")]
            rows.append(_real_record(model, prep["ecg"], ref, masks=1, leads=present))
        entry["zero_filled"] = {
            "windows": mitdb_windows, "leads_scored": ["II (from MLII)", "V5"],
            "masked_rmse_mv": float(np.mean([r["masked_rmse_mv"] for r in rows])),
            "baseline_linear_rmse_mv": float(np.mean([r["baseline_linear_rmse_mv"] for r in rows])),
            "phase_error_rad_mean": float(np.mean([r["phase_error_rad_mean"] for r in rows])),
            "phase_reference": "reference beat annotations 100.atr",
            "note": "10 of 12 leads zero-filled (an input never seen in training)"}
        out["mitdb_100"] = entry
    return out


def encode_ecg(model: Any, ecg: Any, frames: Optional[int] = None, **prepare_kw: Any) -> dict:
    """Conditioning features of any :class:`cardiogen.data.Ecg` (any rate ≥ 100 Hz, any lead set the front end maps
    to 12 leads): :func:`cardiogen.ecg_frontend.prepare` (500 Hz, 10 s, filters, R peaks), then the frozen PA-MAE.

    Returns:
        dict: ``features`` ``(P, D)`` float32 (:meth:`PAMAE.features`), ``phase`` ``(P, 2)`` predicted
        [sin φ, cos φ], ``token_s`` (s per token), ``r_peaks`` (front end, samples at 500 Hz), ``ecg`` (the prepared
        Ecg); with ``frames``: ``cycle`` ``(frames, D)`` and ``cycle_tokens`` (:func:`align_cycle`).
    """
    import torch

    from ..ecg_frontend import prepare

    prep = prepare(ecg, **prepare_kw)
    x = torch.from_numpy(np.ascontiguousarray(prep["ecg"].signals, dtype=np.float32))[None]
    feats = model.features(x)[0].numpy()
    phase = model.phase_head(torch.from_numpy(feats)).detach().numpy()
    out = {"features": feats, "phase": phase, "token_s": model.config.token_seconds, "r_peaks": prep["r_peaks"],
           "ecg": prep["ecg"]}
    if frames is not None:
        out["cycle"], out["cycle_tokens"] = align_cycle(feats, phase, frames)
    return out


def load_pamae(model_id: str = "pamae-phantom", device: str = "cpu") -> Any:
    """A registered PA-MAE (eval mode) from the weights registry."""
    from ..nets.pamae import PAMAE, PAMAEConfig
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(model_id)
    model = PAMAE(PAMAEConfig.from_dict(entry.config.get("model", {})))
    model.load_state_dict(reg.load_state_dict(model_id, device=device))
    return model.to(device).eval()
