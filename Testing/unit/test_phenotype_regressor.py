"""The downstream phenotype regressor of seed 003's Table 3 analogue (issue 18.8) and its benchmark's verdicts."""
from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cardiogen.errors import CardioGenInputError
from cardiogen.models import phenotype_regressor as pr

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def phantom() -> dict:
    """Phantom four-chamber cines of 8 frames (clinical population): 24 training and 12 held-out subjects."""
    from cardiogen.models.ecg_cine import paired_pool

    torch.set_num_threads(1)
    train = paired_pool(tuple(range(24)), 8, population="clinical")
    test = paired_pool(tuple(range(1000, 1012)), 8, population="clinical")
    return {"x": train["video"], "y": train["truth"]["lvedv_ml"], "x_test": test["video"],
            "y_test": test["truth"]["lvedv_ml"]}


def test_regressor_learns_lvedv_of_held_out_phantom_subjects_better_than_the_mean(phantom):
    model = pr.fit(phantom["x"], phantom["y"], steps=100, seed=0, config=pr.RegressorConfig(batch=8))
    pred = pr.predict(model, phantom["x_test"])
    assert pred.shape == (12, 1)
    ours = pr.regression_metrics(pred, phantom["y_test"], names=("lvedv_ml",))["lvedv_ml"]
    mean_pred = np.full_like(phantom["y_test"], phantom["y"].mean())
    baseline = pr.regression_metrics(mean_pred, phantom["y_test"], names=("lvedv_ml",))["lvedv_ml"]
    assert ours["r2"] > 0.3 and ours["r2"] > baseline["r2"] + 0.3, (ours, baseline)
    assert ours["mae"] < 0.8 * baseline["mae"], (ours, baseline)
    # the targets' standardization travels with the model: predictions come back in mL
    assert abs(float(model.mean[0]) - phantom["y"].mean()) < 1e-3 and 40.0 < pred.mean() < 300.0


def test_fit_is_deterministic_in_its_seed_and_uses_given_target_stats(phantom):
    x, y = phantom["x"][:6], np.stack([phantom["y"][:6], 2.0 * phantom["y"][:6]], 1)
    cfg = pr.RegressorConfig(width=4, hidden=8, batch=4)
    a = pr.predict(pr.fit(x, y, steps=3, seed=1, config=cfg), x)
    b = pr.predict(pr.fit(x, y, steps=3, seed=1, config=cfg), x)
    c = pr.predict(pr.fit(x, y, steps=3, seed=2, config=cfg), x)
    assert a.shape == (6, 2) and np.array_equal(a, b) and not np.allclose(a, c)
    m = pr.fit(x, y, steps=1, seed=0, config=cfg, target_stats=([100.0, 200.0], [10.0, 0.0]))
    assert torch.allclose(m.mean, torch.tensor([100.0, 200.0])) and torch.allclose(m.sd, torch.tensor([10.0, 1.0]))


def test_wrong_shapes_are_refused_naming_expected_and_got(phantom):
    x = phantom["x"][:4]
    with pytest.raises(CardioGenInputError, match=r"expected array \(N, T, H, W\).*got shape \(8, 64, 64\)"):
        pr.fit(x[0], np.zeros(8), steps=1)
    with pytest.raises(CardioGenInputError, match=r"one row per cine.*expected array \(4, outputs\).*got shape \(3,\)"):
        pr.fit(x, np.zeros(3), steps=1)
    with pytest.raises(CardioGenInputError, match="non-finite"):
        pr.fit(x, np.array([1.0, np.nan, 2.0, 3.0]), steps=1)
    with pytest.raises(CardioGenInputError, match="steps"):
        pr.fit(x, np.zeros(4), steps=0)
    with pytest.raises(CardioGenInputError, match="too short or too small"):
        pr.fit(x[:, :, :8, :8], np.zeros(4), steps=1)
    model = pr.fit(x, np.arange(4.0), steps=1, config=pr.RegressorConfig(width=4, hidden=8, batch=4))
    with pytest.raises(CardioGenInputError, match=r"expected \(N, 8, 64, 64\).*got shape \(4, 6, 64, 64\)"):
        pr.predict(model, x[:, :6])
    with pytest.raises(CardioGenInputError, match="target_stats"):
        pr.fit(x, np.zeros((4, 2)), steps=1, target_stats=([0.0], [1.0]))


def test_metrics_match_hand_computed_values():
    truth = np.array([[1.0, 10.0], [3.0, 10.0], [3.0, 20.0], [5.0, 20.0]])
    pred = np.array([[1.0, 15.0], [2.0, 15.0], [3.0, 15.0], [4.0, 15.0]])
    m = pr.regression_metrics(pred, truth, names=("a", "b"))
    # a: errors 0, -1, 0, -1 -> MAE 0.5; SS_res 2, SS_tot (4 + 0 + 0 + 4) = 8 -> R² 0.75
    assert m["a"]["mae"] == pytest.approx(0.5) and m["a"]["r2"] == pytest.approx(0.75)
    # b: the mean predictor -> R² 0, MAE 5
    assert m["b"]["mae"] == pytest.approx(5.0) and m["b"]["r2"] == pytest.approx(0.0)
    worse = pr.regression_metrics(truth[:, :1] * -1.0, truth[:, :1], names=("a",))["a"]
    assert worse["r2"] < 0.0  # worse than the mean: negative
    with pytest.raises(CardioGenInputError, match="matching"):
        pr.regression_metrics(pred[:3], truth)
    with pytest.raises(CardioGenInputError, match="one name per column"):
        pr.regression_metrics(pred, truth, names=("a",))


def _bench():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location("_bench_ecg_synthetic_augmentation",
                                                      BENCHMARKS / "ecg_synthetic_augmentation.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def _row(r2: list[float], n_real: int = 8, n_syn: int = 0) -> dict:
    s = lambda v: {"values": v, "mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1))}  # noqa: E731
    return {"n_real": n_real, "n_synthetic": n_syn,
            **{k: {"r2": s(r2), "mae": s([1.0, 1.1, 1.2])} for k in ("lvedv_ml", "ef_pct", "lv_mass_g")}}


def test_benchmark_verdicts_follow_the_recorded_values():
    bench = _bench()
    fid = {k: {"values": [0.5] * 3, "mean": 0.5, "sd": 0.0} for k in bench.PHENOTYPES}
    metrics = {"population": "clinical", "model": "m", "generation_steps": 20, "real_seeds": [0, 7],
               "synthetic_seeds": [3000, 3023], "test_seeds": [1000, 1007], "frames": 16,
               "regressor": {"steps": 20, "batch": 16, "seeds": 3, "seconds_per_fit": 1.0},
               "mixtures": {"real only": _row([0.60, 0.61, 0.62]),
                            "real + 1x synthetic": _row([0.60, 0.62, 0.61], n_syn=8)},
               "synthetic_label_fidelity_r2": fid,
               "seconds": {"phantom": 1.0, "generation_per_video": 0.5, "total": 10.0}}
    record = {"metrics": metrics, "machine": {}}
    _, notes = bench.report(record)
    assert "LVEDV within noise" in notes and "NOT reproduced" in notes
    better = copy.deepcopy(record)
    better["metrics"]["mixtures"]["real + 1x synthetic"] = _row([0.70, 0.71, 0.72], n_syn=8)
    _, notes = bench.report(better)
    assert "LVEDV better" in notes and "helps here" in notes and "NOT reproduced" not in notes
    assert bench.derived(better)["1_lvedv_ml_r2_delta"] == pytest.approx(0.10)
    worse = copy.deepcopy(record)
    worse["metrics"]["mixtures"]["real + 1x synthetic"] = _row([0.40, 0.41, 0.42], n_syn=8)
    _, notes = bench.report(worse)
    assert "EF worse" in notes and "every one is worse" in notes
    worse["metrics"]["mixtures"]["real + 2x synthetic"] = _row([0.61, 0.60, 0.62], n_syn=16)
    _, notes = bench.report(worse)
    assert "some are worse" in notes and "every one" not in notes
    # a scarcer real set is a second experiment with its own table, verdicts and derived differences
    scarce = copy.deepcopy(record)
    scarce["metrics"]["smaller_real_sets"] = [{
        "real_seeds": [0, 3], "synthetic_seeds": [3000, 3011], "synthetic_label_fidelity_r2": fid,
        "mixtures": {"real only": _row([0.30, 0.31, 0.32], n_real=4),
                     "real + 1x synthetic": _row([0.50, 0.51, 0.52], n_real=4, n_syn=4)}}]
    table, notes = bench.report(scarce)
    assert "real training subjects 0-3" in table and table.count("| real only |") == 2
    main_notes, scarce_notes = notes.split("With 4 real training cines:")
    assert "NOT reproduced" in main_notes and "LVEDV better" in scarce_notes and "helps here" in scarce_notes
    values = bench.derived(scarce)
    assert values["s0_1_lvedv_ml_r2_delta"] == pytest.approx(0.20) and "1_lvedv_ml_r2_delta" in values
