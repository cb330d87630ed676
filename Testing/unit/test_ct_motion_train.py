"""Training of seed 004's two networks through the one training loop: the flow estimator, then the CVAE on its frozen
pyramid; both exported to the registry with their grid and metrics."""
from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def tiny_ct_registry(tmp_path_factory):
    from cardiogen.train import load_config, train

    root = tmp_path_factory.mktemp("ct_motion")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARDIOGEN_USER_MODELS", str(root / "user"))
    flow = train("ct_flow", load_config("ct_flow_tiny.yaml"), root / "flow", register_dir=root / "user",
                 command="pytest")
    cvae = train("ct_cvae", load_config("ct_cvae_tiny.yaml"), root / "cvae", register_dir=root / "user",
                 command="pytest")
    yield root, flow, cvae
    mp.undo()


def test_flow_estimator_exports_its_grid_and_held_out_errors(tiny_ct_registry):
    from cardiogen.weights import Registry

    root, flow, _ = tiny_ct_registry
    entry = Registry([root / "user"]).get("ct-flow-tiny-test")
    assert entry.pipeline == "ct_flow"
    assert entry.geometry["matrix"] == 32 and entry.geometry["frames"] is None
    lo, hi = entry.geometry["pixel_mm_range"]
    assert 0 < lo <= entry.geometry["pixel_mm"] <= hi
    assert flow.metrics["heldout_seeds"] == [1000] and flow.metrics["mepe_heart_vox"] > 0
    assert entry.timing["cpu_s_per_pair"] > 0


def test_cvae_keeps_the_flow_estimators_pyramid_frozen(tiny_ct_registry):
    from cardiogen.weights import Registry

    root, _, cvae = tiny_ct_registry
    reg = Registry([root / "user"])
    flow_sd = reg.load_state_dict("ct-flow-tiny-test")
    cvae_sd = reg.load_state_dict("ct-cvae-tiny-test")
    pyramid = {k: v for k, v in cvae_sd.items() if k.startswith("pyramid.")}
    assert pyramid and all(torch.equal(v, flow_sd[k]) for k, v in pyramid.items())
    m = cvae.metrics
    assert m["pyramid_sha256"] == reg.get("ct-flow-tiny-test").sha256
    assert m["recon_mepe_heart_vox"] > 0 and m["sample_spread_heart_vox"] > 0
    assert 0.0 <= m["sample_folding_fraction"] <= 1.0
    assert reg.get("ct-cvae-tiny-test").pipeline == "ct_motion"


def test_cvae_without_a_pyramid_source_is_refused():
    from cardiogen.train import SPECS, load_config

    cfg = load_config("ct_cvae_tiny.yaml")
    cfg["model"].pop("pyramid_from")
    with pytest.raises(ValueError, match="pyramid_from"):
        SPECS["ct_cvae"]().build(cfg)


def test_phantom_pairs_warp_es_onto_ed_and_flips_keep_that_true():
    """The training data's flow is exact (warping ES by it gives ED in the heart), and the flip augmentation (axes
    flipped, the component negated) keeps it exact."""
    from cardiogen.models.ct_motion import phantom_pair_pool
    from cardiogen.nets.warp import warp
    from cardiogen.train.specs_ct_motion import _flip

    p = phantom_pair_pool((7,), 32)[0]
    rng = np.random.default_rng(1)
    for arrays in ([p["es"], p["ed"], p["flow"], p["mask"]], _flip([p["es"], p["ed"], p["flow"], p["mask"]], [2], rng)):
        es, ed, flow, mask = (torch.from_numpy(np.ascontiguousarray(a))[None] for a in arrays)
        heart = mask[0, 0] > 0
        warped = warp(es, flow)[0, 0]
        err = (warped - ed[0, 0]).abs()[heart].mean()
        static = (es - ed)[0, 0].abs()[heart].mean()
        assert err < 0.35 * static, (float(err), float(static))
