"""The ``ecg_to_cine`` pipeline end to end on tiny trained models (issue 18.6): a synthetic cine of one R-R interval,
marked synthetic with its provenance, and clear refusals."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiogen.data import Ecg
from cardiogen.errors import CardioGenInputError
from cardiogen.phantom import PhantomConfig, make_case

SHARED_ECG = Path(__file__).resolve().parents[3] / "shared" / "data" / "ecg"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """cine-vae-tiny and ecg-flow-tiny trained (a few steps) into a user registry of their own."""
    from ecg_cine_helpers import train_tiny_ecg_cine

    from cardiogen.pipelines import ecg_to_cine

    user = train_tiny_ecg_cine(tmp_path_factory.mktemp("ecg_cine"))
    mp = pytest.MonkeyPatch()
    mp.setenv("CARDIOGEN_USER_MODELS", str(user))
    ecg_to_cine._models.cache_clear()
    yield user
    ecg_to_cine._models.cache_clear()
    mp.undo()


def test_pipeline_makes_a_marked_synthetic_cine_of_one_rr_interval(tiny_models):
    from cardiogen.pipelines import get_pipeline
    from cardiogen.weights import Registry

    from ecg_cine_helpers import ecg_in_range

    entry = Registry().get("ecg-flow-tiny")
    case = ecg_in_range(10.0)  # a phantom subject inside the trained heart-rate range, not among the training seeds
    pipe = get_pipeline("ecg_to_cine").load("ecg-flow-tiny", "cpu")
    out = pipe.run({"ecg": case.ecg}, {"seed": 3, "steps": 2, "samples": 2})
    cine = out["cine"]
    frames = entry.config["data"]["frames"]
    assert cine.array.shape == (frames, 1, 64, 64) and cine.synthetic and "SYNTHETIC" in cine.description
    assert np.isfinite(cine.array).all() and 0.0 <= cine.array.min() and cine.array.max() <= 1.0
    rr = case.truth.model.timing.rr_ms
    step = np.diff(cine.frame_times)
    assert np.allclose(step, step[0]) and abs(step[0] * frames / rr - 1.0) < 0.03  # one R-R interval of this ECG
    prov = cine.provenance
    assert prov["weights"] == "ecg-flow-tiny" and len(prov["weights_sha256"]) == 64 and prov["seed"] == 3
    assert prov["vae"] == "cine-vae-tiny" and prov["ecg_encoder"] == "pamae-phantom"
    true_r = case.ecg.times_ms[case.ecg.fiducials["R"]]  # frame 0 sits on one of the ECG's R peaks (a viewer's cursor)
    assert np.abs(true_r - prov["r_peak_ms"]).min() < 15.0 and true_r[0] < prov["r_peak_ms"] < true_r[-1]
    assert out["cine_2"].provenance["seed"] == 4 and not np.allclose(out["cine_2"].array, cine.array)
    again = pipe.run({"ecg": case.ecg}, {"seed": 3, "steps": 2})["cine"]
    np.testing.assert_allclose(again.array, cine.array, atol=1e-5)  # seeded (batch of 1 vs 2: float rounding)


def test_pipeline_refuses_foreign_heart_rates_and_unusable_ecgs(tiny_models):
    from cardiogen.pipelines import get_pipeline
    from cardiogen.weights import Registry

    pipe = get_pipeline("ecg_to_cine").load("ecg-flow-tiny", "cpu")
    lo, hi = Registry().get("ecg-flow-tiny").geometry["heart_rate_bpm_range"]
    fast = next(c for c in (make_case(PhantomConfig(seed=s, modalities=("ecg",))) for s in range(1000, 1200))
                if not lo - 2 <= c.truth.phenotypes_model.heart_rate_bpm <= hi + 2)
    with pytest.raises(CardioGenInputError, match="heart rate outside"):
        pipe.run({"ecg": fast.ecg}, {"steps": 1})
    ecg = make_case(PhantomConfig(seed=1000, modalities=("ecg",))).ecg
    two_leads = Ecg(ecg.signals[:2], ecg.sampling_rate, ecg.lead_names[:2], metadata={"source_file": "two.csv"})
    with pytest.raises(CardioGenInputError, match="two.csv"):
        pipe.run({"ecg": two_leads}, {"steps": 1})
    noise = 0.01 * np.random.default_rng(0).standard_normal(ecg.signals.shape)  # no heartbeat in it
    flat = Ecg(noise, ecg.sampling_rate, ecg.lead_names, metadata={"source_file": "noise.csv"})
    with pytest.raises(CardioGenInputError, match="noise.csv"):
        pipe.run({"ecg": flat}, {"steps": 1})


@pytest.mark.skipif(not (SHARED_ECG / "waveform_ecg.dcm").is_file(), reason="shared sample ECG absent")
def test_real_dicom_ecg_is_generated_over_its_own_rr_or_refused_with_the_reason(tiny_models):
    from cardiogen.ecg_frontend import detect_r_peaks, prepare
    from cardiogen.io.ecg_io import read_ecg
    from cardiogen.pipelines import get_pipeline

    ecg = read_ecg(SHARED_ECG / "waveform_ecg.dcm")
    prep = prepare(ecg)
    rr = float(np.median(np.diff(prep["r_peaks"]))) / prep["ecg"].sampling_rate * 1000.0
    assert len(detect_r_peaks(prep["ecg"])) >= 2
    pipe = get_pipeline("ecg_to_cine").load("ecg-flow-tiny", "cpu")
    try:
        cine = pipe.run({"ecg": ecg}, {"steps": 1})["cine"]
    except CardioGenInputError as exc:  # a tiny model trained on 3 subjects knows a narrow heart-rate range
        assert "waveform_ecg.dcm" in str(exc) and ("heart rate" in str(exc) or "phase" in str(exc))
    else:
        assert abs(cine.frame_times[1] * cine.array.shape[0] / rr - 1.0) < 0.03


def test_cli_writes_the_cine_from_an_ecg_file(tiny_models, tmp_path, capsys):
    import json

    from cardiogen import io
    from cardiogen.cli import main
    from ecg_cine_helpers import ecg_in_range

    case = ecg_in_range(10.0)
    src = io.save(case.ecg, tmp_path / "ecg.csv")
    out = tmp_path / "cine.seq.nrrd"
    assert main(["ecg-to-cine", str(src), "--weights", "ecg-flow-tiny", "--steps", "1", "--device", "cpu",
                 "--out", str(out), "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cine = io.load(out)
    assert cine.array.shape[0] == printed["frames"] and abs(printed["rr_ms"] - case.truth.model.timing.rr_ms) < 15
    assert not list(tmp_path.glob("*.partial*"))
    bad = tmp_path / "bad.csv"
    bad.write_text("time,I\n0,0.1\n0.002,0.2\n")
    assert main(["ecg-to-cine", str(bad), "--weights", "ecg-flow-tiny", "--out", str(tmp_path / "x.seq.nrrd"),
                 "--quiet"]) != 0
    assert "bad.csv" in capsys.readouterr().err and not (tmp_path / "x.seq.nrrd").exists()


def test_pipeline_runs_a_baseline_as_it_was_trained(tiny_models, tmp_path):
    """A registered baseline (raw median-beat context, deterministic regression) runs through the same pipeline:
    one cine per ECG whatever the seed, marked synthetic, its sampler named, one R-R interval long."""
    import copy
    import os

    from cardiogen.pipelines import ecg_to_cine, get_pipeline
    from cardiogen.train import load_config, train

    from ecg_cine_helpers import ecg_in_range

    config = copy.deepcopy(load_config("ecg_flow_tiny.yaml"))
    config["model"].update(condition="raw_ecg", objective="regression", cond_drop=0.0)
    config["export"]["id"] = "ecg-flow-tiny-baseline"
    assert os.environ["CARDIOGEN_USER_MODELS"] == str(tiny_models)
    train("ecg_flow", config, tmp_path / "run", register_dir=tiny_models)
    ecg_to_cine._models.cache_clear()
    case = ecg_in_range(10.0)
    pipe = get_pipeline("ecg_to_cine").load("ecg-flow-tiny-baseline", "cpu")
    a = pipe.run({"ecg": case.ecg}, {"seed": 1, "steps": 2})["cine"]
    b = pipe.run({"ecg": case.ecg}, {"seed": 7, "steps": 5})["cine"]
    np.testing.assert_allclose(a.array, b.array, atol=1e-6)
    assert a.synthetic and a.provenance["sampler"].startswith("deterministic")
    frames = config["data"]["frames"]
    assert abs(np.diff(a.frame_times)[0] * frames / case.truth.model.timing.rr_ms - 1.0) < 0.03
    true_r = case.ecg.times_ms[case.ecg.fiducials["R"]]
    assert np.abs(true_r - a.provenance["r_peak_ms"]).min() < 15.0
