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


# ---- the ct_motion pipeline (tiny CVAE of the fixture) -------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_pipeline(tiny_ct_registry):
    from cardiogen.pipelines import get_pipeline

    return get_pipeline("ct_motion").load("ct-cvae-tiny-test", "cpu")


def test_pipeline_on_a_phantom_4d_ct_gives_marked_pairs_whose_flow_makes_the_ed(tiny_pipeline):
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.pipelines.ct_motion import sample_world

    case = make_case(PhantomConfig(seed=5, ct_size=40, ct_frames=4, modalities=("ct",)))
    es = case.truth.ct_es_phase
    out = tiny_pipeline.run({"ct": case.ct}, {"samples": 2, "seed": 3})
    assert set(out) == {"pair", "pair_2", "flow", "flow_2", "ed_samples"}
    pair, flow = out["pair"], out["flow"]
    assert pair.array.shape == (2,) + case.ct.array.shape[1:] and pair.geometry.allclose(case.ct.geometry)
    assert pair.synthetic and "SYNTHETIC" in pair.description and out["ed_samples"].synthetic and flow.synthetic
    assert pair.provenance["weights"] == "ct-cvae-tiny-test" and pair.provenance["es_phase"] == es
    assert np.array_equal(pair.array[1], case.ct.array[es].astype(np.float32))  # frame 1 is the given ES
    assert np.all(flow.array[0] == 0) and np.abs(flow.array[1]).max() > 0
    # frame 0 is the ES warped by the flow: resampling the ES at x + u(x) again gives it back
    again = sample_world(case.ct.array[es], case.ct.geometry, case.ct.geometry, pair.array.shape[1:],
                         cval=float(np.percentile(case.ct.array[es], 1)), offset_mm=flow.array[1])
    assert np.allclose(again, pair.array[0], atol=1e-3)
    assert not np.allclose(out["pair_2"].array[0], pair.array[0])  # two samples differ
    assert np.array_equal(out["ed_samples"].array[1], out["pair_2"].array[0])
    same = tiny_pipeline.run({"ct": case.ct}, {"samples": 1, "seed": 3})
    assert np.allclose(same["pair"].array, pair.array, atol=0.05)  # seeded (a batch of one: float rounding only)


def test_pipeline_runs_on_the_real_ct_crop_with_its_heart_mask(tiny_pipeline):
    from cardiogen import io
    from cardiogen.io import sample_data_dir

    folder = sample_data_dir() / "ct"
    if not (folder / "ct_cropped.nii.gz").is_file():
        pytest.skip(f"real CT sample absent ({folder})")
    ct = io.load(folder / "ct_cropped.nii.gz")
    heart = io.load(folder / "heart.nii.gz", kind="segmentation")  # on another grid than the crop
    out = tiny_pipeline.run({"ct": ct, "heart": heart}, {"samples": 1})
    assert out["pair"].array.shape == (2,) + ct.array.shape[1:] and out["pair"].geometry.allclose(ct.geometry)
    assert out["pair"].provenance["heart_from"] == "mask input"
    moved = np.linalg.norm(out["flow"].array[1], axis=0)
    assert moved.max() > 0 and moved[0, 0, 0] == 0  # the corner of the crop is outside the model's cube


def test_pipeline_refuses_a_ct_without_heart_and_an_unknown_es_phase(tiny_pipeline):
    from cardiogen.data import Geometry, ImageSeries
    from cardiogen.errors import CardioGenInputError
    from cardiogen.phantom import PhantomConfig, make_case

    lung = ImageSeries(np.full((1, 40, 40, 40), -800.0, np.float32), geometry=Geometry(spacing=(3.0, 3.0, 3.0)),
                       frame_times=[0.0], modality="ct", description="lung only")
    with pytest.raises(CardioGenInputError, match="no contrast-filled heart") as err:
        tiny_pipeline.run({"ct": lung}, {})
    assert "lung only" in str(err.value)
    case = make_case(PhantomConfig(seed=5, ct_size=40, ct_frames=3, modalities=("ct",)))
    four_d = case.ct.with_array(case.ct.array, metadata={})
    with pytest.raises(CardioGenInputError, match="end-systolic phase"):
        tiny_pipeline.run({"ct": four_d}, {})
    with pytest.raises(CardioGenInputError, match="out of range"):
        tiny_pipeline.run({"ct": case.ct}, {"phase": 7})


def test_flow_estimator_can_train_on_cvae_generated_pairs_besides_the_phantom(tiny_ct_registry):
    """The seed's proposed use: synthetic ES/ED pairs (ES warped by CVAE samples, exact flow) as extra data."""
    from cardiogen.models.ct_motion import load_flow_estimator
    from cardiogen.nets.warp import warp
    from cardiogen.train import SPECS, load_config, train
    from cardiogen.train.specs_ct_motion import _training_pool

    root, _, _ = tiny_ct_registry
    cfg = load_config("ct_flow_tiny.yaml")
    cfg["data"].update(synthetic_from="ct-cvae-tiny-test", synthetic_per_real=2)
    cfg["export"]["id"] = "ct-flow-tiny-aug"
    pool = _training_pool(cfg)
    synthetic = [p for p in pool if p.get("synthetic")]
    assert len(pool) == 3 * cfg["data"]["cases"] and len(synthetic) == 2 * cfg["data"]["cases"]
    s = synthetic[0]
    ed = warp(torch.from_numpy(s["es"][None]), torch.from_numpy(s["flow"][None]))[0].numpy()
    assert np.allclose(ed, s["ed"], atol=1e-5)  # exact by construction
    assert "generated by ct-cvae-tiny-test" in SPECS["ct_flow"]().describe_data(cfg)
    result = train("ct_flow", cfg, root / "aug", register_dir=root / "user", command="pytest")
    assert load_flow_estimator(result.model_id) is not None


def test_cli_ct_motion_writes_pairs_and_flows_and_refuses_bad_input(tiny_ct_registry, tmp_path, capsys):
    import json

    from cardiogen import io
    from cardiogen.cli import EXIT_BAD_INPUT, main
    from cardiogen.phantom import PhantomConfig, make_case

    case = make_case(PhantomConfig(seed=5, ct_size=40, ct_frames=3, modalities=("ct",)))
    io.save(case.ct, tmp_path / "ct.seq.nrrd")
    assert main(["ct-motion", str(tmp_path / "ct.seq.nrrd"), "--weights", "ct-cvae-tiny-test", "--samples", "2",
                 "--phase", str(case.truth.ct_es_phase), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["outputs"]
    assert set(written) == {"pair", "pair_2", "flow", "flow_2", "ed_samples"}
    pair = io.load(written["pair"])
    assert pair.array.shape == (2, 40, 40, 40) and "SYNTHETIC" in pair.description
    flow = io.load(written["flow"], kind="displacement")
    assert flow.array.shape == (2, 3, 40, 40, 40)
    (tmp_path / "bad.nrrd").write_text("not an image")
    assert main(["ct-motion", str(tmp_path / "bad.nrrd"), "--weights", "ct-cvae-tiny-test",
                 "--out", str(tmp_path / "out2"), "--quiet"]) == EXIT_BAD_INPUT
    assert "bad.nrrd" in capsys.readouterr().err and not (tmp_path / "out2").exists()


def test_pipeline_finds_the_heart_from_the_contrast_or_says_to_give_a_mask(tiny_pipeline):
    """Without a mask, the contrast-filled region centres the model's cube (the real crop runs); a region that does
    not fit the cube (here a contrast-filled tube along z, as an aorta) is refused with the advice to give a mask."""
    from cardiogen import io
    from cardiogen.data import Geometry, ImageSeries
    from cardiogen.errors import CardioGenInputError
    from cardiogen.io import sample_data_dir

    path = sample_data_dir() / "ct" / "ct_cropped.nii.gz"
    if path.is_file():
        out = tiny_pipeline.run({"ct": io.load(path)}, {})
        assert out["pair"].provenance["heart_from"].startswith("find_heart")
    vol = np.full((1, 120, 40, 40), 40.0, np.float32)  # soft tissue
    vol[0, :, 15:25, 15:25] = 400.0                     # a 360 mm contrast-filled tube
    tube = ImageSeries(vol, geometry=Geometry(spacing=(3.0, 3.0, 3.0)), frame_times=[0.0], modality="ct",
                       description="tube")
    with pytest.raises(CardioGenInputError, match="give a heart mask") as err:
        tiny_pipeline.run({"ct": tube}, {})
    assert "tube" in str(err.value)


def test_cvae_export_carries_its_fitted_latent_prior(tiny_ct_registry):
    """After training, the aggregated posterior of the training pairs is fitted and exported with the weights; samples
    draw from it (at temperature 0: its mean), N(0, I) stays available, and another volume size is refused."""
    from cardiogen.models.ct_motion import load_cvae

    model = load_cvae("ct-cvae-tiny-test")
    es = torch.rand(1, 1, 32, 32, 32)
    assert model.has_latent_prior and tuple(model.latent_mean.shape) == model.latent_shape(tuple(es.shape))[1:]
    assert bool((model.latent_std > 0).all())
    with torch.no_grad():
        at_mean = model.sample(es, 1, temperature=0.0)
        assert torch.allclose(at_mean, model.decode(model.latent_mean[None], es), atol=1e-6)
        normal = model.sample(es, 1, temperature=0.0, prior="normal")
        assert torch.allclose(normal, model.decode(torch.zeros_like(model.latent_mean)[None], es), atol=1e-6)
    with pytest.raises(ValueError, match="another size"):
        model.sample(torch.rand(1, 1, 16, 16, 16), 1)
