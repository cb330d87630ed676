"""GANcMRI (seed 002): StyleGAN2 blocks, training, projection, trajectories, phenotypes, the latent_video pipeline
and the ``cardiogen latent`` CLI. A tiny generator is trained into a temporary registry (seconds); the shipped
gancmri-phantom-64 is used where behaviour needs a trained model (sliders)."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.nets.stylegan2 import (Discriminator, Generator, ModulatedConv2d, PathLengthRegularizer,  # noqa: E402
                                      StyleGAN2Config, r1_penalty)


def _small_cfg(**kw) -> StyleGAN2Config:
    base = dict(resolution=32, z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16,
                d_channel_base=128, d_channel_max=16)
    base.update(kw)
    return StyleGAN2Config(**base)


# ---- network blocks ------------------------------------------------------------------------------------------
def test_modulated_conv_activation_form_equals_weight_form():
    torch.manual_seed(0)
    for up in (False, True):
        m = ModulatedConv2d(8, 12, 3, 16, up=up)
        x, w = torch.randn(3, 8, 6, 6), torch.randn(3, 16)
        a = m(x, w)
        m.fused = True
        b = m(x, w)
        assert a.shape == (3, 12, 12 if up else 6, 12 if up else 6)
        assert torch.allclose(a, b, atol=1e-5)


def test_demodulation_makes_the_output_independent_of_the_style_scale():
    torch.manual_seed(1)
    m = ModulatedConv2d(8, 8, 3, 4)
    x = torch.randn(2, 8, 10, 10)
    s = m.affine(torch.randn(2, 4)).detach()
    m.affine = torch.nn.Identity()  # feed the style directly
    assert torch.allclose(m(x, s), m(x, 10.0 * s), atol=1e-4)
    out = m(torch.randn(64, 8, 16, 16), s.repeat(32, 1))
    assert 0.6 < float(out[:, :, 1:-1, 1:-1].detach().std()) < 1.4  # demodulated: ~unit variance for unit-variance input


def test_generator_layers_match_the_seed_latent_shape():
    assert StyleGAN2Config(resolution=256).num_ws == 14  # W ⊂ R^{14×512} in seed 002
    cfg = _small_cfg()
    g = Generator(cfg)
    img = g(torch.randn(4, 16))
    assert img.shape == (4, 1, 32, 32) and cfg.num_ws == 8
    assert len(g.synthesis.noise_shapes()) == 1 + 2 * 3
    with pytest.raises(ValueError):
        StyleGAN2Config(resolution=48)


def test_truncation_to_zero_gives_the_mean_latent_image_for_every_z():
    g = Generator(_small_cfg()).eval()
    g.mapping.w_avg.normal_()
    with torch.no_grad():
        a = g(torch.randn(2, 16), psi=0.0, noise_mode="none")
    assert torch.allclose(a[0], a[1], atol=1e-6)


def test_mapping_tracks_the_mean_latent_during_training():
    g = Generator(_small_cfg())
    before = g.mapping.w_avg.clone()
    g.mapping(torch.randn(8, 16), update_w_avg=True)
    assert not torch.equal(before, g.mapping.w_avg)


def test_regularisers_are_positive_and_differentiable():
    cfg = _small_cfg()
    d, g = Discriminator(cfg), Generator(cfg)
    real = torch.randn(4, 1, 32, 32)
    r1 = r1_penalty(d, real)
    r1.backward()
    assert float(r1.detach()) > 0 and d.from_rgb.weight.grad is not None
    pl = PathLengthRegularizer()
    ws = g.broadcast(g.mapping(torch.randn(2, 16)))
    penalty = pl(g.synthesis, ws)
    penalty.backward()
    assert float(pl.mean) > 0 and g.synthesis.const.grad is not None
    assert d(real).shape == (4,)


# ---- trajectories (pure latent algebra, known truth) ---------------------------------------------------------
def _linear_videos(n=5, t=12, layers=3, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((layers, dim))
    phase = np.sin(np.pi * np.arange(t) / (t - 1))  # 0 at ED, 1 mid-cycle, 0 again at the end
    starts = rng.standard_normal((n, 1, layers, dim))
    return starts + phase[None, :, None, None] * direction[None, None], direction, phase


def test_trajectory_directions_recover_a_known_latent_motion():
    from cardiogen.latent.trajectory import fit_trajectories, start_latent, video_latents

    lv, direction, phase = _linear_videos()
    es = np.full(5, 6)
    traj = fit_trajectories(lv, es, pca_components=2, smoothing="none")
    assert np.allclose(traj.k_ed_es, phase[6] * direction, atol=1e-5)
    w1 = torch.from_numpy(lv[:2, 0].astype(np.float32))
    path = video_latents(w1, traj, method="f2f", smoothing="none").numpy()
    assert np.allclose(path, lv[:2], atol=1e-4)  # frame-to-frame steps rebuild every video from its first frame
    ed_es = video_latents(w1, traj, method="ed_es").numpy()
    assert np.allclose(ed_es[:, 0], ed_es[:, -1], atol=1e-5) or np.allclose(ed_es[:, 0], lv[:2, 0], atol=1e-5)
    assert np.allclose(ed_es[:, 6] - ed_es[:, 0], traj.k_ed_es, atol=1e-5)  # at ES: w(1) + k
    w = torch.zeros(1, 3, 4)
    assert np.allclose(start_latent(w, traj).numpy(), -0.7 * traj.k_ed_es)
    longer = video_latents(w1, traj, frames=23, smoothing="none").numpy()
    assert longer.shape[1] == 23 and np.allclose(longer[:, -1], lv[:2, -1], atol=1e-4)


def test_pca_smoothing_follows_the_seed_formula():
    from cardiogen.latent.trajectory import pca_reconstruct, smooth_directions

    rng = np.random.default_rng(2)
    k = rng.standard_normal((9, 2, 5))
    flat = k.reshape(9, -1)
    assert np.allclose(pca_reconstruct(flat, 8), flat)  # all components: exact reconstruction
    assert np.allclose(smooth_directions(k, 8, "seed"), 0.0, atol=1e-5)  # k - PCA^-1(PCA(k)) = 0
    low = smooth_directions(k, 2, "lowrank")
    assert np.allclose(smooth_directions(k, 2, "seed") + low, k, atol=1e-5)
    centred = low.reshape(9, -1) - low.reshape(9, -1).mean(0)
    assert np.linalg.matrix_rank(centred, tol=1e-5) == 2
    with pytest.raises(CardioGenInputError):
        smooth_directions(k, 2, "nope")


def test_temporal_super_resolution_interpolates_between_projected_frames():
    from cardiogen.latent.trajectory import super_resolve_latents

    ws = torch.randn(6, 3, 4)
    out = super_resolve_latents(ws, np.array([0, 1, 1.5, 5])).numpy()
    assert np.allclose(out[[0, 1, 3]], ws.numpy()[[0, 1, 5]], atol=1e-5)
    assert np.allclose(out[2], 0.5 * (ws[1] + ws[2]).numpy(), atol=1e-5)
    seed_form = super_resolve_latents(ws, np.arange(6.0), drop=2, smoothing="seed").numpy()
    assert seed_form.shape == (6, 3, 4) and np.allclose(seed_form[0], ws[0].numpy())
    with pytest.raises(CardioGenInputError):
        super_resolve_latents(ws, np.array([6.5]))


def test_fit_trajectories_rejects_bad_inputs():
    from cardiogen.latent.trajectory import fit_trajectories

    with pytest.raises(CardioGenInputError):
        fit_trajectories(np.zeros((2, 2, 3, 4)), np.array([1, 1]))
    with pytest.raises(CardioGenInputError):
        fit_trajectories(np.zeros((2, 6, 3, 4)), np.array([0, 9]))


# ---- tiny trained generator in a temporary registry ----------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory):
    pytest.importorskip("cardiogen.phantom")
    from cardiogen.latent import fit_directions
    from cardiogen.train import load_config, train

    root = tmp_path_factory.mktemp("latent")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARDIOGEN_USER_MODELS", str(root / "user"))
    train("stylegan2", load_config("stylegan2_tiny.yaml"), root / "run", register_dir=root / "user", command="pytest")
    fit_directions("stylegan2-tiny-test", videos=2, frames=6, steps_first=8, steps_next=4, pca_components=3,
                   projected_ed=4, phenotype_samples=16, out=str(root / "dirs"), register=str(root / "user"))
    yield root
    mp.undo()


def test_tiny_stylegan2_trains_exports_and_resumes_identically(tmp_path, tiny_registry):
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    cfg = load_config("stylegan2_tiny.yaml")
    train("stylegan2", cfg, tmp_path / "b", max_steps=2, command="b")  # checkpoint with the D optimiser state
    state = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert "d_optimizer" in state["extra"]
    resumed = train("stylegan2", cfg, tmp_path / "b", command="b")
    assert resumed.resumed_from == 2
    a = Registry([tiny_registry / "user"]).load_state_dict("stylegan2-tiny-test")
    b = Registry([resumed.registry_dir]).load_state_dict("stylegan2-tiny-test")
    assert all(torch.equal(a[k], b[k]) for k in a)
    entry = Registry([tiny_registry / "user"]).get("stylegan2-tiny-test")
    assert entry.pipeline == "latent_video" and entry.metrics["timing"]["cpu_s_per_frame"] > 0 \
        if "timing" in entry.metrics else entry.timing["cpu_s_per_frame"] > 0


def test_projection_recovers_a_generated_frame(tiny_registry):
    from cardiogen.latent import load_generator, project

    g, _ = load_generator("stylegan2-tiny-test")
    torch.manual_seed(3)
    with torch.no_grad():
        w_true = g.mapping(torch.randn(2, g.cfg.z_dim))
        target = g.synthesis(g.broadcast(w_true), noise_mode="none")
        start_mse = float((g.synthesis(g.broadcast(g.mapping.w_avg[None].expand(2, -1)), noise_mode="none")
                           - target).square().mean())
    proj = project(g, target, steps=120, lr=0.05, optimise_noise=False)
    assert proj.ws.shape == (2, g.num_ws, g.cfg.w_dim)
    assert proj.pixel_mse.mean() < 0.25 * start_mse
    for p in g.parameters():  # the generator itself is untouched
        assert not p.requires_grad
    with pytest.raises(CardioGenInputError, match="size"):
        project(g, torch.zeros(1, 1, 16, 16), steps=1)


def test_latent_video_pipeline_with_the_tiny_model(tiny_registry):
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.pipelines import get_pipeline

    p = get_pipeline("latent_video").load("stylegan2-tiny-test", "cpu")
    cine = p.run({}, {"seed": 1, "frames": 8, "lv_area": 2.0, "samples": 2})
    assert cine["cine"].array.shape == (8, 1, 32, 32) and "cine_2" in cine
    assert cine["cine"].synthetic and "SYNTHETIC" in cine["cine"].description
    assert cine["cine"].provenance["sliders"] == {"lv_area": 2.0}
    fine = p.run({}, {"seed": 1, "frames": 8, "tsr_factor": 3})["cine"]
    assert fine.array.shape[0] == 22
    case = make_case(PhantomConfig(seed=4, frames=6, slices=1, view="4ch", modalities=("cine",)))
    tsr = p.run({"cine": case.cine}, {"start": "project_video", "tsr_factor": 2, "projection_steps": 3})["cine"]
    assert tsr.array.shape[0] == 11
    assert np.allclose(tsr.frame_times[[0, -1]], case.cine.frame_times[[0, -1]])
    with pytest.raises(CardioGenInputError, match="needs an input cine"):
        p.run({}, {"start": "project_ed"})
    with pytest.raises(CardioGenInputError, match="out of range"):
        p.run({}, {"sphericity": 4.0})


def test_latent_cli(tiny_registry, tmp_path, capsys):
    from cardiogen.cli import main

    assert main(["latent", "generate", "--weights", "stylegan2-tiny-test", "--frames", "5", "--slider",
                 "sphericity=1", "--out", str(tmp_path / "g.seq.nrrd"), "--quiet"]) == 0
    assert (tmp_path / "g.seq.nrrd").is_file()
    assert main(["latent", "sweep", "--weights", "stylegan2-tiny-test", "--slider", "lv_area", "--values=-2,3",
                 "--out", str(tmp_path / "s.png"), "--quiet"]) == 0
    assert main(["latent", "project", str(tmp_path / "g.seq.nrrd"), "--weights", "stylegan2-tiny-test",
                 "--steps", "3", "--out", str(tmp_path / "proj"), "--quiet"]) == 0
    assert (tmp_path / "proj" / "latents.safetensors").is_file()
    assert main(["latent", "generate", "--weights", "stylegan2-tiny-test", "--slider", "lv_area=9",
                 "--out", str(tmp_path / "x.seq.nrrd"), "--quiet"]) == 2
    assert main(["latent", "project", "--out", str(tmp_path / "p2"), "--quiet"]) == 2
    assert not (tmp_path / "x.seq.nrrd").exists() and not (tmp_path / "p2").exists()


# ---- phenotype measurement on phantom four-chamber frames (the shipped four-chamber feature network) ----------
def _lax_features():
    from cardiogen.weights import Registry

    try:
        Registry().get("cardiac-features-lax-64")
    except Exception:  # noqa: BLE001
        pytest.skip("cardiac-features-lax-64 is not registered")
    from cardiogen.metrics.features import load_feature_network

    return load_feature_network("cardiac-features-lax-64")


def test_phenotype_measurement_follows_the_phantom_truth():
    from cardiogen.latent import measure_frames, video_ef_area
    from cardiogen.models.gancmri import lax_video_pool

    net = _lax_features()
    pool = lax_video_pool(tuple(range(1000, 1004)), 64, 20)
    frames = pool["video"].reshape(-1, 64, 64)
    labels = pool["labels"].reshape(-1, 64, 64)
    m = measure_frames(frames, net)
    true_area = 100.0 * (labels == 1).mean((1, 2))
    assert np.corrcoef(m["lv_area"], true_area)[0, 1] > 0.97
    assert np.abs(m["lv_area"] - true_area).mean() < 1.5
    efs = [video_ef_area(m["lv_area"].reshape(4, 20)[i]) for i in range(4)]
    true_efs = [video_ef_area(true_area.reshape(4, 20)[i]) for i in range(4)]
    assert np.allclose(efs, true_efs, atol=8.0)
    ed = measure_frames(pool["video"][:, 0], net)
    assert np.all((ed["sphericity"] > 0.2) & (ed["sphericity"] < 0.9))
    assert np.all(ed["myo_thickness"] > 0)


# ---- the shipped model: sliders move the measured phenotype ----------------------------------------------------
def test_shipped_sliders_move_the_measured_phenotype_in_the_right_direction():
    from cardiogen.latent import LatentModel

    net = _lax_features()
    try:
        m = LatentModel.load("gancmri-phantom-64")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no shipped latent_video model: {exc}")
    assert m.features is not None and net is not None
    w1 = m.start_latents(seed=11, n=6)
    for name in ("lv_area", "sphericity"):
        low = m.measure(m.frames(m.apply_sliders(w1, {name: -2.0}))[:, None])[name]
        high = m.measure(m.frames(m.apply_sliders(w1, {name: 3.0}))[:, None])[name]
        assert np.mean(high > low) >= 5 / 6, name
        assert high.mean() > low.mean() + 0.1 * abs(low.mean()) * (1 if name == "lv_area" else 0.2)
    assert math.isfinite(float(m.trajectories.es_frame))


def test_stylegan2_trains_under_torchrun_ddp_on_cpu(tmp_path):
    """The GAN spec under DDP (two CPU processes, Gloo): the generator step goes through the DDP wrapper, the
    discriminator's gradients are all-reduced by the spec; the run completes and only rank 0 exports."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from cardiogen.train import load_config
    from cardiogen.weights import Registry

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists() and not shutil.which("torchrun"):
        pytest.skip("torchrun not installed")
    cfg = load_config("stylegan2_tiny.yaml")
    cfg["train"]["steps"] = 3
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2] / "CardioGenLogic"))
    proc = subprocess.run([str(torchrun if torchrun.exists() else shutil.which("torchrun")), "--standalone",
                           "--nproc_per_node", "2", "-m", "cardiogen", "train", "stylegan2", "--config",
                           str(tmp_path / "cfg.yaml"), "--out", str(tmp_path / "run"), "--quiet"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert Registry([tmp_path / "run"]).verify() == [("stylegan2-tiny-test", True, "ok")]
    assert proc.stdout.count('"id": "stylegan2-tiny-test"') == 1
