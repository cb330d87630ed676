"""Seed 000's baselines: VDM (no guidance), ControlNet-style conditioning, CycleGAN-style translation."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from cardiogen.train import load_config, train  # noqa: E402
from cardiogen.weights import Registry  # noqa: E402


def test_vdm_then_controlnet_trains_only_the_control_branch(tmp_path, monkeypatch):
    reg = tmp_path / "reg"
    vdm = train("vdm", load_config("vdm_tiny.yaml"), tmp_path / "vdm", register_dir=reg, command="pytest")
    assert Registry([reg]).get("vdm-tiny-test").pipeline == "dense_to_cine_vdm"
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(reg))
    from cardiogen.train.specs_synthesis import ControlNetSpec

    cfg = load_config("controlnet_tiny.yaml")
    spec = ControlNetSpec()
    model = spec.build(cfg)
    base_before = {k: v.clone() for k, v in model.base.state_dict().items()}
    x, t = torch.randn(1, 1, 8, 16, 16), torch.tensor([400])
    motion = torch.randn(1, 2, 8, 16, 16)
    assert torch.allclose(model(x, t, motion), model(x, t))  # zero convolutions: starts as the VDM exactly
    result = train("controlnet", cfg, tmp_path / "cn", register_dir=reg, command="pytest")
    trained = Registry([reg]).load_state_dict(result.model_id)
    for k, v in base_before.items():
        assert torch.equal(trained["base." + k], v), k  # the backbone stays frozen
    changed = [k for k in trained if k.startswith("zero_convs") and trained[k].abs().sum() > 0]
    assert changed, "the zero convolutions did not learn"
    assert vdm.metrics["heldout_mse_t500"] > 0


def test_cyclegan_trains_generators_and_translates_videos(tmp_path):
    from cardiogen.models.baselines import CycleGANTranslator

    result = train("cyclegan", load_config("cyclegan_tiny.yaml"), tmp_path / "cg", command="pytest")
    assert 0 < result.metrics["heldout_l1_vs_true_cine"] < 2.5
    model = CycleGANTranslator(8, 1)
    model.load_state_dict(Registry([result.registry_dir]).load_state_dict("cyclegan-tiny-test"))
    out = model.translate(torch.rand(2, 1, 5, 16, 16) * 2 - 1)
    assert out.shape == (2, 1, 5, 16, 16) and out.abs().max() <= 1.0


def test_cyclegan_resumes_to_the_same_weights_with_its_discriminator_optimiser(tmp_path):
    """The discriminators' optimiser is checkpointed with the run (cardiogen.train.gan), so an interrupted CycleGAN
    run resumes to exactly the weights of an uninterrupted one."""
    import torch

    cfg = load_config("cyclegan_tiny.yaml")
    straight = train("cyclegan", cfg, tmp_path / "a", command="a")
    train("cyclegan", cfg, tmp_path / "b", max_steps=1, command="b")
    assert "d_optimizer" in torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["extra"]
    resumed = train("cyclegan", cfg, tmp_path / "b", command="b")
    assert resumed.resumed_from == 1
    a = Registry([straight.registry_dir]).load_state_dict("cyclegan-tiny-test")
    b = Registry([resumed.registry_dir]).load_state_dict("cyclegan-tiny-test")
    assert all(torch.equal(a[k], b[k]) for k in a)
