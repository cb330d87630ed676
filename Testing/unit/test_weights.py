"""cardiogen.weights: sha256-checked safetensors registry; pickles and corrupted files are refused."""
from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from cardiogen.errors import CardioGenWeightsError  # noqa: E402
from cardiogen.weights import Registry, add_weights, file_format, read_registry  # noqa: E402


def _weights(path, value=1.0):
    save_file({"w": torch.full((3, 4), value), "b": torch.arange(4.0)}, str(path))
    return path


def test_add_list_verify_and_load(tmp_path):
    src = _weights(tmp_path / "model.safetensors")
    reg_dir = tmp_path / "registry"
    entry = add_weights(src, model_id="m1", pipeline="register", license="BSD-3-Clause", trained_on="phantom",
                        folder=reg_dir, metrics={"epe": 0.5})
    assert (reg_dir / "model.safetensors").is_file() and entry.size_bytes == src.stat().st_size
    data = json.loads((reg_dir / "registry.json").read_text())
    assert data["schema"] == "cardiogen-weights/1" and data["models"][0]["sha256"] == entry.sha256
    registry = Registry([reg_dir])
    assert [e.id for e in registry.list("register")] == ["m1"] and registry.list("other") == []
    assert registry.verify() == [("m1", True, "ok")]
    tensors = registry.load_state_dict("m1")
    assert torch.equal(tensors["w"], torch.ones(3, 4))
    assert registry.default_for("register").id == "m1"


def test_wrong_sha256_is_refused_with_a_clear_error(tmp_path):
    reg_dir = tmp_path / "r"
    add_weights(_weights(tmp_path / "a.safetensors"), model_id="a", pipeline="p", license="x", trained_on="y",
                folder=reg_dir)
    _weights(reg_dir / "a.safetensors", value=2.0)  # same size, other content
    registry = Registry([reg_dir])
    (mid, ok, message), = registry.verify()
    assert not ok and "sha256" in message and "a.safetensors" in message
    with pytest.raises(CardioGenWeightsError, match="does not match the registry"):
        registry.load_state_dict("a")


def test_pickled_files_are_refused(tmp_path):
    pickled = tmp_path / "evil.pt"
    torch.save({"w": torch.ones(2)}, pickled)
    assert file_format(pickled) == "pickle"
    with pytest.raises(CardioGenWeightsError, match="pickled"):
        add_weights(pickled, model_id="e", pipeline="p", license="x", trained_on="y", folder=tmp_path / "r")
    # a registry entry pointing at a pickle (e.g. a replaced file) is refused at load time too
    reg_dir = tmp_path / "r2"
    entry = add_weights(_weights(tmp_path / "ok.safetensors"), model_id="ok", pipeline="p", license="x",
                        trained_on="y", folder=reg_dir)
    torch.save({"w": torch.ones(2)}, reg_dir / entry.file)
    with pytest.raises(CardioGenWeightsError, match="pickled"):
        Registry([reg_dir]).load_state_dict("ok")


def test_missing_model_and_missing_file(tmp_path):
    registry = Registry([tmp_path])
    with pytest.raises(CardioGenWeightsError, match="no model 'x'"):
        registry.get("x")
    with pytest.raises(CardioGenWeightsError, match="no weights registered"):
        registry.default_for("register")
    reg_dir = tmp_path / "r"
    entry = add_weights(_weights(tmp_path / "m.safetensors"), model_id="m", pipeline="p", license="x",
                        trained_on="y", folder=reg_dir)
    entry.path.unlink()
    assert "missing" in Registry([reg_dir]).verify("m")[0][2]


def test_bad_registry_file_is_an_input_error(tmp_path):
    from cardiogen.errors import CardioGenInputError

    (tmp_path / "registry.json").write_text('{"models": []}')
    with pytest.raises(CardioGenInputError, match="not a CardioGen weights registry"):
        read_registry(tmp_path)


def test_shipped_registry_verifies(tmp_path):
    """Every shipped demo model loads through the registry with its sha256 checked."""
    from cardiogen.weights import shipped_models_dir

    folder = shipped_models_dir()
    if not (folder / "registry.json").is_file():
        pytest.skip(f"no shipped registry at {folder}")
    results = Registry([folder]).verify()
    assert results and all(ok for _, ok, _ in results), results


def test_cli_weights_verify_and_add(tmp_path, capsys):
    from cardiogen.cli import main

    src = _weights(tmp_path / "u.safetensors")
    assert main(["weights", "add", str(src), "--id", "u", "--pipeline", "vdm", "--registry",
                 str(tmp_path / "reg")]) == 0
    assert main(["weights", "verify", "--registry", str(tmp_path / "reg")]) == 0
    assert "OK" in capsys.readouterr().out
    torch.save({"w": torch.ones(1)}, tmp_path / "p.pt")
    assert main(["weights", "add", str(tmp_path / "p.pt"), "--id", "p", "--pipeline", "x", "--registry",
                 str(tmp_path / "reg")]) == 1
    assert "pickled" in capsys.readouterr().err


def test_cli_weights_add_registration_model_records_its_grid(tmp_path, capsys):
    """A registration model is added only with the grid it was trained for (register_learned resamples there);
    the geometry and the training config land in the registry entry, from inline JSON or a file."""
    import json

    from cardiogen.cli import EXIT_BAD_INPUT, main
    from cardiogen.motion.register import TrainedGrid

    src = _weights(tmp_path / "r.safetensors")
    reg = str(tmp_path / "reg")
    assert main(["weights", "add", str(src), "--id", "r", "--pipeline", "register", "--registry", reg]) == EXIT_BAD_INPUT
    assert "--geometry" in capsys.readouterr().err
    bad = '{"pixel_mm": 2.5, "matrix": 64, "frames": 20}'
    assert main(["weights", "add", str(src), "--id", "r", "--pipeline", "register", "--registry", reg,
                 "--geometry", bad]) == EXIT_BAD_INPUT
    assert "pixel_mm_range" in capsys.readouterr().err
    assert main(["weights", "add", str(src), "--id", "r", "--pipeline", "register", "--registry", reg,
                 "--geometry", "{not json"]) == EXIT_BAD_INPUT
    assert "--geometry is not readable" in capsys.readouterr().err
    grid = {"pixel_mm": 1.8, "pixel_mm_range": [1.5, 2.2], "matrix": 96, "frames": 30, "frames_range": [20, 40]}
    (tmp_path / "cfg.yaml").write_text("model: {channels: [8, 16, 32]}\n")
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    assert main(["weights", "add", str(src), "--id", "r", "--pipeline", "register", "--registry", reg,
                 "--geometry", str(tmp_path / "grid.json"), "--config", str(tmp_path / "cfg.yaml")]) == 0
    entry = Registry([tmp_path / "reg"]).get("r")
    assert TrainedGrid.from_dict(entry.geometry) == TrainedGrid.from_dict(grid)
    assert entry.config == {"model": {"channels": [8, 16, 32]}}
