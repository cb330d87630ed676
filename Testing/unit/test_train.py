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
