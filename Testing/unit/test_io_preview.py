"""GIF / MP4 / PNG previews."""
from __future__ import annotations

from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from cardiogen.data import Geometry, ImageSeries, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.io.preview import MIN_SIZE, mosaic_png, render_frames, write_gif, write_mp4


def _disk_series(n_frames: int = 6, size: tuple[int, int] = (40, 48), *, synthetic: bool = False,
                 interval: float = 50.0) -> tuple[ImageSeries, Segmentation]:
    ny, nx = size
    yy, xx = np.mgrid[:ny, :nx]
    arr = np.zeros((n_frames, 3, ny, nx), dtype=np.float32)
    labels = np.zeros((n_frames, 3, ny, nx), dtype=np.uint8)
    for t in range(n_frames):
        r = 8 + 3 * np.sin(2 * np.pi * t / n_frames)
        d = np.hypot(yy - ny / 2, xx - nx / 2)
        arr[t, :] = 100.0 * (d < r) + 10.0
        labels[t, 1][d < r] = 1
        labels[t, 1][(d >= r) & (d < r + 3)] = 2
    series = ImageSeries(arr, Geometry((1.5, 1.5, 8.0)), frame_times=np.arange(n_frames) * interval,
                         modality="cine", synthetic=synthetic)
    return series, Segmentation(labels, geometry=series.geometry, frame_times=series.frame_times)


def _is_red(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] > 150) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)


def test_render_upscales_and_marks_synthetic() -> None:
    series, seg = _disk_series(synthetic=True)
    frames = render_frames(series, overlay=seg, label="test")
    assert frames.shape[0] == 6 and frames.dtype == np.uint8 and frames.shape[3] == 3
    assert min(frames.shape[1:3]) >= MIN_SIZE
    assert _is_red(frames[0, :6]).mean() > 0.5  # red SYNTHETIC banner on top
    plain = render_frames(_disk_series(synthetic=False)[0])
    assert _is_red(plain[0, :6]).mean() < 0.01


def test_overlay_draws_label_colors_only_on_annotated_frames() -> None:
    series, seg = _disk_series()
    seg.annotated[:] = False
    seg.annotated[2, 1] = True
    frames = render_frames(series, overlay=seg)
    color = np.array(seg.label_table[2].color) * 255
    near = np.all(np.abs(frames.astype(float) - color) < 30, axis=-1)
    assert near[2].sum() > 50
    assert near[0].sum() < 5


def test_non_square_pixels_keep_physical_aspect() -> None:
    series = ImageSeries(np.zeros((2, 1, 20, 40)), Geometry((0.5, 2.0, 1.0)))  # 20 mm wide, 40 mm tall
    frames = render_frames(series, show_time=False)
    h, w = frames.shape[1:3]
    assert h == pytest.approx(2 * w, rel=0.02)


def test_gif_real_time_duration(tmp_path: Path) -> None:
    series, seg = _disk_series(interval=50.0)
    out = write_gif(series, tmp_path / "cine.gif", overlay=seg, label="disk")
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 6 and min(frames.shape[1:3]) >= MIN_SIZE
    assert iio.immeta(out)["duration"] == 50
    assert iio.immeta(write_gif(series, tmp_path / "fast.gif", fps=5))["duration"] == 200


def test_mp4_even_size_and_frame_count(tmp_path: Path) -> None:
    series, _ = _disk_series(n_frames=8, size=(33, 47), synthetic=True)
    out = write_mp4(series, tmp_path / "cine.mp4", window=(0, 120))
    reader = iio2.get_reader(str(out))
    meta = reader.get_meta_data()
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == 8
    h, w = frames[0].shape[:2]
    assert h % 2 == 0 and w % 2 == 0 and min(h, w) >= MIN_SIZE
    assert meta["codec"] == "h264"
    assert meta["fps"] == pytest.approx(20.0, rel=0.01)


def test_mosaic_png(tmp_path: Path) -> None:
    series, seg = _disk_series(n_frames=5)
    out = mosaic_png(series, tmp_path / "m.png", overlay=seg, columns=5)
    with Image.open(out) as img:
        w, h = img.size
    assert w > 4 * h  # one row of five tiles


def test_array_input_and_bad_arguments(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).normal(size=(3, 16, 16))  # (t, y, x)
    out = write_gif(arr, tmp_path / "a.gif")
    assert iio.imread(out, index=None).shape[0] == 3
    assert iio.immeta(out)["duration"] == 100  # no real timing -> 10 fps
    series, seg = _disk_series()
    with pytest.raises(CardioGenInputError, match="slice index"):
        render_frames(series, slice_index=9)
    with pytest.raises(CardioGenInputError, match="overlay"):
        render_frames(series, overlay=Segmentation(np.zeros((1, 2, 5, 5), np.uint8)))
    with pytest.raises(CardioGenInputError):
        render_frames("not an image")
    with pytest.raises(CardioGenInputError, match="fps"):
        write_gif(series, tmp_path / "x.gif", fps=0)
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.realdata
def test_dense_preview_artifacts(shared_data: Path, artifacts_dir: Path) -> None:
    from cardiogen.io.dense_io import read_dense_workspace

    dense = read_dense_workspace(shared_data / "dense" / "template.dns")
    out = write_gif(dense.magnitude, artifacts_dir / "io_dense_template.gif", overlay=dense.segmentation,
                    label="DENSE template (magnitude)")
    assert iio.imread(out, index=None).shape[0] == 35
    synthetic = dense.magnitude.mark_synthetic("preview-test")
    png = mosaic_png(synthetic, artifacts_dir / "io_dense_template_synthetic.png", overlay=dense.segmentation,
                     max_frames=12)
    assert png.stat().st_size > 10_000
