"""The decision rules of the validation benchmarks that set the pipeline's defaults, on inputs with a known answer.

``benchmarks/dense_to_cine_guidance.py`` chooses MFD-V2V's guidance scale and ``benchmarks/dense_to_cine_sampler.py``
its fast sampler; each rule is fixed before its run and written in its docstring. These tests pin them: a change of
rule shows up here, not silently in a default.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def sampler_bench():
    return _load("dense_to_cine_sampler")


@pytest.fixture(scope="module")
def guidance_bench():
    return _load("dense_to_cine_guidance")


def _interval(estimate: float, low: float, high: float) -> dict:
    return {"estimate": estimate, "low": low, "high": high}


def _relative(cfid: dict, inception: dict | None = None) -> dict:
    out = {"cfid": {"label": "cFID", "relative": cfid}}
    if inception is not None:
        out["inception_fid"] = {"label": "Inception-FID", "relative": inception}
    return out


CONFIGS = [("ddim", 10), ("ddim", 25), ("ddim", 50), ("dpmpp_2m", 15)]


def test_sampler_rule_takes_the_fewest_steps_among_admissible(sampler_bench):
    names = [sampler_bench.label(*c) for c in CONFIGS]
    assert names == ["DDIM-10", "DDIM-25", "DDIM-50", "DPM-Solver++(2M)-15"]
    cfid = {"DDIM-10": _interval(0.30, 0.10, 0.50),     # 30 % worse, and worse with confidence
            "DDIM-25": _interval(0.12, -0.20, 0.40),    # within the noise but above the 10 % target
            "DDIM-50": _interval(0.04, -0.30, 0.50),    # admissible
            "DPM-Solver++(2M)-15": _interval(-0.02, -0.40, 0.30)}  # admissible, fewer steps than DDIM-50
    inception = {n: _interval(0.01, -0.05, 0.07) for n in names}
    speed = {"DDIM-10": 90.0, "DDIM-25": 40.0, "DDIM-50": 21.0, "DPM-Solver++(2M)-15": 60.0}
    chosen, why = sampler_bench.choose(_relative(cfid, inception), speed, CONFIGS)
    assert chosen == ("dpmpp_2m", 15)
    assert why["DDIM-50"] == "admissible"
    assert "cFID +30%" in why["DDIM-10"] and "cFID +12%" in why["DDIM-25"]


def test_sampler_rule_needs_the_speedup_and_every_installed_fid(sampler_bench):
    names = [sampler_bench.label(*c) for c in CONFIGS]
    good = {n: _interval(0.0, -0.1, 0.1) for n in names}
    speed = {n: 19.9 for n in names}  # nobody is 20x faster
    chosen, why = sampler_bench.choose(_relative(good), speed, CONFIGS)
    assert chosen is None and all("only 19.9x faster" in w for w in why.values())
    # Inception-FID worse with confidence (though within 10 %) rules a configuration out
    inception = dict(good, **{"DDIM-10": _interval(0.08, 0.02, 0.15)})
    speed = {n: 50.0 for n in names}
    chosen, why = sampler_bench.choose(_relative(good, inception), speed, CONFIGS)
    assert chosen == ("dpmpp_2m", 15) and "Inception-FID worse with 95 % confidence" in why["DDIM-10"]
    # without Inception-FID installed the rule reads cFID alone
    chosen, _ = sampler_bench.choose(_relative(good), speed, CONFIGS)
    assert chosen == ("ddim", 10)


def test_sampler_rule_breaks_ties_on_cfid(sampler_bench):
    configs = [("ddim", 25), ("dpmpp_2m", 25)]
    cfid = {"DDIM-25": _interval(0.05, -0.2, 0.3), "DPM-Solver++(2M)-25": _interval(-0.01, -0.2, 0.3)}
    chosen, _ = sampler_bench.choose(_relative(cfid), {"DDIM-25": 40.0, "DPM-Solver++(2M)-25": 40.0}, configs)
    assert chosen == ("dpmpp_2m", 25)


def test_guidance_rule_takes_the_lowest_motion_error_among_admissible(guidance_bench):
    lab = guidance_bench.label
    adv = lambda high: {"high": high}  # noqa: E731  (advantage over no guidance; high <= 0: worse with confidence)
    ranking = {"cfid": {"label": "cFID", "advantage": {lab(1.0): adv(0.0), lab(2.0): adv(0.1), lab(4.0): adv(-0.1)}},
               "inception_fid": {"label": "Inception-FID",
                                 "advantage": {lab(1.0): adv(0.0), lab(2.0): adv(0.5), lab(4.0): adv(0.5)}}}
    epe = {1.0: 1.25, 2.0: 1.23, 4.0: 1.21}
    chosen, why = guidance_bench.choose(ranking, [1.0, 2.0, 4.0], epe)
    assert chosen == 2.0  # 4 has the lowest error but is worse on cFID with confidence
    assert why[lab(4.0)] == "worse than no guidance on cFID" and why[lab(1.0)] == "admissible"


@pytest.fixture(scope="module")
def main_bench():
    return _load("dense_to_cine")


def test_ranking_bootstrap_orders_models_by_their_known_distance_on_fid_and_kid(main_bench):
    """Per-case feature blocks: a near copy of the truth, a noisier copy, a shifted one; the paired bootstrap of the
    main benchmark must rank them in that order on the Fréchet distance and on the KID, with confidence."""
    rng = np.random.default_rng(0)
    n, frames, dim = 24, 4, 6
    truth = rng.normal(size=(n, frames, dim))
    models = {"near": truth + 0.1 * rng.normal(size=truth.shape), "noisy": truth + 0.8 * rng.normal(size=truth.shape),
              "shifted": truth + 1.5}
    blocks = {name: {"inception": f} for name, f in models.items()}
    ranking = main_bench.ranking_uncertainty(blocks, {"inception": truth}, ["near"], ["noisy", "shifted"], n, 200)
    assert set(ranking) == {"inception_fid", "inception_kid"}
    for key in ranking:
        adv = ranking[key]["advantage_of_ours"]
        for rival in ("noisy", "shifted"):
            assert adv[f"near vs {rival}"]["low"] > 0 and adv[f"near vs {rival}"]["share_positive"] > 0.95, key
        assert ranking[key]["seed_order_share"]["near"] > 0.9, key
    # the KID's subsets are drawn alike for every model: a model against itself differs by exactly 0
    twins = {"a": {"inception": models["noisy"]}, "b": {"inception": models["noisy"].copy()}}
    kid = main_bench.ranking_uncertainty(twins, {"inception": truth}, ["a"], ["b"], n, 50)["inception_kid"]
    assert kid["advantage_of_ours"]["a vs b"]["estimate"] == 0.0 and kid["advantage_of_ours"]["a vs b"]["high"] == 0.0
