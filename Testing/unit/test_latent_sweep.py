"""``cardiogen latent sweep``: every panel of the sweep PNG is captioned with its own slider value (and the phenotype
measured on that panel's frame), not with the whole list of values."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")


def _sweep(name: str = "sphericity") -> tuple:
    from cardiogen.data import ImageSeries

    rng = np.random.default_rng(0)
    frames = rng.uniform(0.0, 1.0, (3, 1, 32, 32)).astype(np.float32)
    series = ImageSeries(frames, frame_times=np.arange(3, dtype=float), modality="cine").mark_synthetic("test")
    sweep = {-2.0: (frames[0, 0], {name: 0.4911}), 0.0: (frames[1, 0], {name: 0.5602}),
             3.0: (frames[2, 0], {name: 0.6244})}
    return series, sweep


def _tiles(png: np.ndarray, n: int, gap: int = 2) -> list[np.ndarray]:
    w = (png.shape[1] - (n - 1) * gap) // n
    assert n * w + (n - 1) * gap == png.shape[1], "one row of equal panels"
    return [png[:, k * (w + gap):k * (w + gap) + w] for k in range(n)]


def _text_rows(label: str, shape_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The caption ``label`` as drawn on a black frame of ``shape_hw`` pixels, and the rows its text occupies."""
    from cardiogen.io.preview import render_frames

    blank = np.zeros((1, 1) + shape_hw, np.float32)
    with_text = render_frames(blank, window=(0.0, 1.0), label=label, show_time=False)[0]
    without = render_frames(blank, window=(0.0, 1.0), label="", show_time=False)[0]
    rows = np.flatnonzero((with_text != without).any(axis=(1, 2)))
    assert rows.size, label
    return with_text, rows


def test_sweep_labels_name_each_panels_own_value_and_measurement():
    from cardiogen.pipelines.latent_video import sweep_labels

    _, sweep = _sweep()
    assert sweep_labels("sphericity", sweep) == ["sphericity c=-2: 0.491", "sphericity c=0: 0.56",
                                                 "sphericity c=+3: 0.624"]
    assert sweep_labels("lv_area", {1.5: (None, {"lv_area": 42.61})}) == ["lv_area c=+1.5: 42.6 cm^2"]
    assert sweep_labels("myo_thickness", {0.0: (None, {"myo_thickness": 3.41})}) == ["myo_thickness c=0: 3.41 mm"]
    assert sweep_labels("ef_area", {2.0: (None, {"lv_area": 12.27})}) == ["ef_area c=+2"]  # not a frame phenotype


def test_sweep_png_panel_i_is_frame_i_with_caption_i(tmp_path):
    from PIL import Image

    from cardiogen.io.preview import render_frames
    from cardiogen.pipelines.latent_video import sweep_labels, write_sweep_png

    series, sweep = _sweep()
    labels = sweep_labels("sphericity", sweep)
    png = np.asarray(Image.open(write_sweep_png(series, sweep, "sphericity", tmp_path / "s.png")).convert("RGB"))
    tiles = _tiles(png, 3)
    for i, tile in enumerate(tiles):
        one = series.with_array(series.array[i:i + 1], frame_times=np.zeros(1))
        expected = render_frames(one, window=(0.0, 1.0), label=labels[i], show_time=False)[0]
        assert np.array_equal(tile, expected), labels[i]
    from cardiogen.errors import CardioGenInputError

    with pytest.raises(CardioGenInputError, match="one frame per slider value"):
        two = series.with_array(series.array[:2], frame_times=np.arange(2.0))
        write_sweep_png(two, sweep, "sphericity", tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()


def test_cli_sweep_captions_each_panel_with_its_own_value(tmp_path, capsys):
    """The README's sweep command on the shipped generator: panel k's caption is that of value k alone."""
    from PIL import Image

    from cardiogen.cli import main
    from cardiogen.weights import Registry

    try:
        Registry().get("gancmri-phantom-64")
        Registry().get("gancmri-phantom-64-directions")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped latent model missing: {exc}")
    out = tmp_path / "sweep.png"
    assert main(["latent", "sweep", "--slider", "sphericity", "--values=-2,0,3", "--out", str(out), "--quiet"]) == 0
    measured = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["measured"]
    assert list(measured) == ["-2.0", "0.0", "3.0"]
    tiles = _tiles(np.asarray(Image.open(out).convert("RGB")), 3)
    values = ("-2", "0", "+3")
    for k, tile in enumerate(tiles):
        label = f"sphericity c={values[k]}: {measured[list(measured)[k]]['sphericity']:.3g}"
        drawn, rows = _text_rows(label, (32, 32))  # any frame: the caption bar is the same on every image
        assert drawn.shape == tile.shape
        assert np.array_equal(tile[rows], drawn[rows]), (k, label)
        for j, other in enumerate(tiles):
            if j != k:
                assert not np.array_equal(other[rows], drawn[rows]), (j, label)
