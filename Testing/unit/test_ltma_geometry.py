"""Learned registration on grids it was not trained for: the registry records each model's grid, register_learned
resamples inputs to it (pixel size, frame count, reference phase) and the displacement back in mm, or refuses."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cardiogen.data import Geometry, ImageSeries  # noqa: E402
from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.motion.register import (  # noqa: E402
    TrainedGrid, endpoint_error, load_ltma, network_grid, register_learned, resample_frames, resample_plane)
from cardiogen.weights import Registry  # noqa: E402

GRID = TrainedGrid(pixel_mm=2.5, pixel_mm_range=(2.0, 3.3), matrix=64, frames=20, frames_range=(16, 50))


class FrameIndexNet(torch.nn.Module):
    """Stand-in for LTMANet whose Lagrangian displacement is known: frame k of the network's video moves every
    point by (k, -2k) network pixels (x, y)."""

    class config:  # noqa: N801 - mimics LTMAConfig's attribute
        max_frames = 64

    multiple = 4

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple] = []

    def forward(self, frames, reference=0):
        b, t, h, w = frames.shape
        self.seen.append((tuple(frames.shape), reference))
        k = torch.arange(t, dtype=torch.float32).view(1, t, 1, 1, 1)
        return torch.cat([k, -2 * k], dim=2).expand(b, t, 2, h, w).clone()

    def lagrangian(self, v):
        return v


def _series(t: int, ny: int, nx: int, spacing: tuple, direction=None, nz: int = 1) -> ImageSeries:
    rng = np.random.default_rng(0)
    geom = Geometry(spacing=spacing, direction=np.eye(3) if direction is None else direction)
    return ImageSeries(rng.random((t, nz, ny, nx)).astype(np.float32), geom, modality="cine")


def test_every_shipped_model_records_its_trained_grid():
    from cardiogen.weights import shipped_models_dir

    for entry in Registry([shipped_models_dir()]).list():
        g = entry.geometry
        assert {"pixel_mm", "pixel_mm_range", "matrix", "frames", "frames_range"} <= set(g), entry.id
        if g["pixel_mm"] is None:  # a model of non-image input (an ECG encoder) says what it takes instead
            assert g["pixel_mm_range"] is None and g.get("note"), entry.id
            continue
        assert g["pixel_mm_range"][0] <= g["pixel_mm"] <= g["pixel_mm_range"][1], entry.id
        if entry.pipeline == "register":
            grid = TrainedGrid.from_dict(g, source=entry.id)
            assert grid.frames_range[0] <= grid.frames <= grid.frames_range[1]


def test_trained_grid_is_validated():
    with pytest.raises(CardioGenInputError, match="does not record the grid"):
        TrainedGrid.from_dict({"pixel_mm": 2.5}, source="x")
    with pytest.raises(CardioGenInputError, match="inconsistent"):
        TrainedGrid.from_dict({**GRID.to_dict(), "pixel_mm": 5.0}, source="x")
    assert TrainedGrid.from_dict(GRID.to_dict()) == GRID


def test_network_grid_keeps_the_field_of_view_and_clamps_pixel_and_frames():
    net = network_grid((128, 128), (1.5, 1.5), 30, GRID)  # 1.5 mm -> 2.0 mm, 30 frames kept
    assert net.shape == (96, 96) and net.spacing == (2.0, 2.0) and net.frames == 30 and net.resampled
    net = network_grid((64, 64), (2.9, 2.9), 20, GRID)  # inside the trained ranges: untouched
    assert net.shape == (64, 64) and net.spacing == (2.9, 2.9) and not net.resampled
    net = network_grid((40, 50), (5.0, 4.0), 80, GRID)  # coarse, anisotropic, too many frames
    assert net.shape == (48, 76) and net.frames == 50  # 250 mm / 3.3 -> 76 columns, 160 mm / 3.3 -> 48 rows
    assert net.spacing[0] * 76 == pytest.approx(50 * 5.0) and net.spacing[1] * 48 == pytest.approx(40 * 4.0)


def test_resampling_helpers_are_exact_on_linear_signals():
    x = np.linspace(0, 9, 10, dtype=np.float32)[None, :, None] * np.ones((2, 1, 3), np.float32)
    y = resample_frames(x, 19, axis=1)
    assert np.allclose(y[0, :, 0], np.linspace(0, 9, 19), atol=1e-5)
    plane = np.ones((3, 40, 60), np.float32) * 7.0
    assert np.allclose(resample_plane(plane, (20, 30)), 7.0) and resample_plane(plane, (20, 30)).shape == (3, 20, 30)


@pytest.mark.parametrize("t,reference", [(30, 0), (60, 7), (12, 3)])
def test_displacement_comes_back_in_mm_on_the_input_frames(t, reference):
    """A 1.5 mm, t-frame cine with a rotated orientation: the known network displacement (k, -2k) network pixels at
    network frame k must come back as mm on the input grid, with the reference first and frames interpolated."""
    d = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # image x -> LPS +y, image y -> LPS -x
    series = _series(t, 128, 128, (1.5, 1.5, 8.0), d, nz=2)
    net_model = FrameIndexNet()
    disp = register_learned(series, net_model, grid=GRID, reference=reference, device="cpu", precision="float32")
    net = network_grid((128, 128), (1.5, 1.5), t, GRID)
    assert disp.provenance["network_grid"]["frames"] == net.frames == min(max(t, 16), 50)
    assert net_model.seen[0] == ((2, net.frames, 96, 96), 0)  # reference rotated to the front
    for f in range(t):
        j = (f - reference) % t  # position after the rotation
        k = j * (net.frames - 1) / (t - 1)  # network frame (fractional)
        ux, uy = k * net.spacing[0], -2 * k * net.spacing[1]
        expected = d[:, 0] * ux + d[:, 1] * uy
        if f == reference:
            expected = 0 * expected
        got = disp.array[f, :, 1, 64, 64]
        assert np.allclose(got, expected, atol=1e-3), (f, got, expected)


def test_models_without_a_trained_grid_are_refused():
    from cardiogen.models.ltma import LTMAConfig, LTMANet

    series = _series(20, 64, 64, (2.5, 2.5, 8.0))
    with pytest.raises(CardioGenInputError, match="trained for"):
        register_learned(series, LTMANet(LTMAConfig(channels=(4, 8))), device="cpu")
    with pytest.raises(CardioGenInputError, match="unknown LTMA precision"):
        register_learned(series, LTMANet(LTMAConfig(channels=(4, 8))), grid=GRID, precision="half")


def test_default_ltma_on_a_foreign_analytic_cine_is_resampled_and_tracks_the_motion():
    """The issue's case, small: an analytic (not phantom) cine at 1.5 mm with 30 frames. The default model runs on
    its trained grid and its end-point error in the wall is far below that of no motion."""
    analytic = pytest.importorskip("cardiogen.analytic")
    if not Registry().list("register"):
        pytest.skip("no LTMA weights shipped")
    case = analytic.make_analytic_case(analytic.AnalyticConfig(seed=4242, pixel_mm=1.5, matrix=96, frames=30,
                                                               supersample=2))
    model, _ = load_ltma()
    wall = case.myocardium[0][None]
    disp = register_learned(case.cine, model, device="cpu")
    assert disp.provenance["network_grid"]["resampled"]
    zero = float(np.linalg.norm(case.displacement.array[1:, :, 0], axis=1)[:, case.myocardium[0]].mean())
    epe = endpoint_error(disp, case.displacement, wall)
    assert epe < 0.5 * zero, (epe, zero)


def _mixed_config(tmp_sources: dict) -> dict:
    from cardiogen.train import load_config

    return load_config({
        "model": {"channels": [4, 8], "heads": 2, "max_frames": 64, "int_steps": 4},
        "data": {"grid": GRID.to_dict(), "pixel_mm": [1.5, 3.0], "matrix": [64, 80], "frames": [6, 8],
                 "min_fov_mm": 120, "slices": 3, "phantom_native_every": 2, "crop": 32, "batch_size": 2,
                 "sources": tmp_sources},
        "eval": {"first_seed": 1000, "cases": 1}, "train": {"steps": 2, "device": "cpu", "checkpoint_every": 1},
        "export": {"id": "ltma-mixed-test"}})


def test_mixed_ltma_batches_are_a_pure_function_of_the_step_and_come_from_the_network_grid():
    pytest.importorskip("cardiogen.analytic")
    from cardiogen.train.specs_ltma import _pools, mixed_batch

    cfg = _mixed_config({"phantom": {"first_seed": 0, "cases": 2, "weight": 1.0},
                         "analytic": {"first_seed": 0, "cases": 1, "weight": 1.0}})
    pools = _pools(cfg)
    native, drawn = pools["phantom"]  # seed 0 at the phantom's own geometry, seed 1 drawn (1.5-3.0 mm, 64-80 px)
    assert native[2][1:] == (64, 20) and 6 <= drawn[2][2] <= 8
    for video, centre, (pixel, matrix, frames) in pools["phantom"] + pools["analytic"]:
        net = network_grid((matrix, matrix), (pixel, pixel), frames, GRID)
        assert video.shape[1:] == (net.frames, *net.shape)  # resampled exactly as register_learned does
        assert 0 <= centre[0] < net.shape[0] and 0 <= centre[1] < net.shape[1]
    a, b, c = mixed_batch(cfg, 5, 0), mixed_batch(cfg, 5, 0), mixed_batch(cfg, 6, 0)
    assert a.shape[0] == 2 and a.shape[2:] == (32, 32) and torch.isfinite(a).all()
    assert torch.equal(a, b) and not (a.shape == c.shape and torch.equal(a, c))


def test_mixed_ltma_training_registers_its_grid(tmp_path):
    pytest.importorskip("cardiogen.analytic")
    from cardiogen.train import train

    cfg = _mixed_config({"phantom": {"first_seed": 0, "cases": 2, "weight": 1.0}})
    result = train("ltma", cfg, tmp_path / "run", command="pytest mixed")
    entry = Registry([result.registry_dir]).get("ltma-mixed-test")
    assert TrainedGrid.from_dict(entry.geometry) == GRID
    assert "phantom" in entry.trained_on and "resampled to the network grid" in entry.trained_on
    assert entry.metrics["epe_mm_in_plane"] > 0
