"""Training infrastructure: a tiny LTMA config trains, checkpoints, resumes identically, exports and reloads
bit-identically through the registry."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("cardiogen.phantom")

from cardiogen.train import load_config, train  # noqa: E402
from cardiogen.weights import Registry  # noqa: E402


def _cfg(steps=4):
    cfg = load_config("ltma_tiny.yaml")
    cfg["train"]["steps"] = steps
    return cfg


def test_tiny_training_exports_and_reloads_bit_identically(tmp_path):
    result = train("ltma", _cfg(), tmp_path / "run", command="pytest tiny")
    assert result.weights.is_file() and result.steps == 4
    registry = Registry([result.registry_dir])
    entry = registry.get("ltma-tiny-test")
    assert entry.pipeline == "register" and entry.training_command == "pytest tiny"
    assert "epe_mm_in_plane" in entry.metrics and entry.timing["cpu_s_per_case"] > 0
    assert registry.verify() == [("ltma-tiny-test", True, "ok")]
    from cardiogen.models.ltma import LTMAConfig, LTMANet

    model = LTMANet(LTMAConfig.from_dict(entry.config["model"]))
    model.load_state_dict(registry.load_state_dict(entry.id))
    trained = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["model"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, trained[key]), key
    frames = torch.rand(1, 8, 32, 32)
    ref = LTMANet(LTMAConfig.from_dict(entry.config["model"]))
    ref.load_state_dict(trained)
    assert torch.equal(model(frames), ref(frames))


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    straight = train("ltma", _cfg(), tmp_path / "a", command="a")
    train("ltma", _cfg(), tmp_path / "b", max_steps=2, command="b")  # stops after checkpointing step 2
    resumed = train("ltma", _cfg(), tmp_path / "b", command="b")
    assert resumed.resumed_from == 2
    a = Registry([straight.registry_dir]).load_state_dict("ltma-tiny-test")
    b = Registry([resumed.registry_dir]).load_state_dict("ltma-tiny-test")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_model_and_bad_config(tmp_path):
    from cardiogen.errors import CardioGenInputError

    with pytest.raises(CardioGenInputError, match="unknown model"):
        train("nope", _cfg(), tmp_path)
    with pytest.raises(CardioGenInputError, match="cannot read training config"):
        load_config(tmp_path / "missing.yaml")


def test_torchrun_two_processes_ddp_on_cpu(tmp_path):
    """The same command under torchrun: two CPU processes (Gloo), gradients all-reduced, rank 0 exports."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists() and not shutil.which("torchrun"):
        pytest.skip("torchrun not installed")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2] / "CardioGenLogic"))
    cfg = _cfg(steps=2)
    import yaml

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([str(torchrun if torchrun.exists() else shutil.which("torchrun")), "--standalone",
                           "--nproc_per_node", "2", "-m", "cardiogen", "train", "ltma", "--config",
                           str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "run"), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    registry = Registry([tmp_path / "run"])
    assert registry.verify() == [("ltma-tiny-test", True, "ok")]
    assert proc.stdout.count('"id": "ltma-tiny-test"') == 1  # only rank 0 exports


def test_weight_average_follows_the_documented_update():
    """avg ← avg + (1 − d)(w − avg), d = min(decay, (1 + n)/(10 + n)); starts from the first weights seen."""
    from cardiogen.errors import CardioGenInputError
    from cardiogen.train import WeightAverage

    model = torch.nn.Linear(3, 2)
    ema = WeightAverage(0.5)
    history = []
    for n in range(4):
        with torch.no_grad():
            model.weight.add_(1.0)
        history.append(model.weight.detach().clone())
        ema.update(model)
    expected = history[0].clone()
    for n, w in enumerate(history):
        d = min(0.5, (1 + n) / (10 + n))
        expected = expected + (1 - d) * (w - expected)
    assert torch.allclose(ema.state_dict()["weights"]["weight"], expected)
    assert ema.state_dict()["updates"] == 4
    target = torch.nn.Linear(3, 2)
    ema.copy_to(target)
    assert torch.allclose(target.weight, expected) and torch.allclose(target.bias, model.bias)
    off = WeightAverage(0.0)
    off.update(model)
    assert off.state_dict() is None
    with pytest.raises(CardioGenInputError, match="ema_decay"):
        WeightAverage(1.0)


def test_ema_training_exports_the_average_and_resumes_to_the_same_weights(tmp_path):
    """With train.ema_decay the exported weights are the checkpointed average (not the last raw weights), and an
    interrupted run resumes to exactly the weights of an uninterrupted one."""
    cfg = _cfg(steps=4)
    cfg["train"]["ema_decay"] = 0.9
    straight = train("ltma", cfg, tmp_path / "a", command="a")
    state = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    exported = Registry([straight.registry_dir]).load_state_dict("ltma-tiny-test")
    assert state["ema"]["updates"] == 4
    averaged = [k for k in state["ema"]["weights"] if not torch.equal(state["ema"]["weights"][k], state["model"][k])]
    assert averaged, "the average should differ from the last raw weights"
    assert all(torch.equal(exported[k], state["ema"]["weights"][k]) for k in state["ema"]["weights"])
    train("ltma", cfg, tmp_path / "b", max_steps=2, command="b")
    resumed = train("ltma", cfg, tmp_path / "b", command="b")
    assert resumed.resumed_from == 2
    again = Registry([resumed.registry_dir]).load_state_dict("ltma-tiny-test")
    assert all(torch.equal(exported[k], again[k]) for k in exported)
