"""Quick-look previews of image series: animated GIF, MP4 (H.264) and a static PNG mosaic.

All three render the same frames (:func:`render_frames`): one slice (the middle one by default) of every frame,
windowed (1st-99th percentile of that slice over all frames unless ``window`` is given), resized so that the
short side is at least 192 px with square physical pixels (bilinear for the image, nearest for label overlays),
with an optional :class:`~cardiogen.data.Segmentation` overlay (translucent fill plus a solid contour per label,
colors from the label table, drawn only on annotated frames), a caption bar (``label`` and the frame time) and a
red "SYNTHETIC" banner whenever the series is synthetic.

Playback is real time by default: the frame interval is the median step of the frame times (steps under 5 ms are
taken as "no timing" and play at 10 fps).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data import DenseSeries, ImageSeries, Segmentation
from ..errors import CardioGenInputError, import_optional
from .atomic import atomic_path

__all__ = ["render_frames", "write_gif", "write_mp4", "mosaic_png", "MIN_SIZE"]

#: Smallest short side (px) of a rendered frame.
MIN_SIZE = 192
_DEFAULT_FPS = 10.0
_FILL_ALPHA = 0.30
_BANNER_RGB = (200, 30, 30)


def _as_series(obj: Any) -> ImageSeries:
    if isinstance(obj, ImageSeries):
        return obj
    if isinstance(obj, DenseSeries):
        return obj.magnitude
    if isinstance(obj, np.ndarray):
        arr = np.asarray(obj)
        if arr.ndim == 3:  # (t, y, x)
            arr = arr[:, None]
        return ImageSeries(arr)
    raise CardioGenInputError("preview needs an ImageSeries, DenseSeries or numpy array", got=type(obj).__name__)


def _slice_index(series: ImageSeries, slice_index: int | None) -> int:
    n_z = series.shape[1]
    if slice_index is None:
        return n_z // 2
    if not -n_z <= int(slice_index) < n_z:
        raise CardioGenInputError("slice index out of range", expected=f"0..{n_z - 1}", got=slice_index)
    return int(slice_index) % n_z


def _window(frames: np.ndarray, window: tuple[float, float] | None) -> tuple[float, float]:
    if window is None:
        lo, hi = (float(v) for v in np.percentile(frames, [1.0, 99.0]))
    else:
        try:
            lo, hi = (float(window[0]), float(window[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise CardioGenInputError("window must be (low, high)", got=window) from exc
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise CardioGenInputError("window must be finite", got=(lo, hi))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _output_size(shape_yx: tuple[int, int], spacing_xy: tuple[float, float], min_size: int) -> tuple[int, int]:
    ny, nx = shape_yx
    sx, sy = spacing_xy
    smin = min(sx, sy)
    h, w = ny * sy / smin, nx * sx / smin
    k = max(1.0, min_size / min(h, w))
    return max(1, int(round(h * k))), max(1, int(round(w * k)))


def _resize(img: np.ndarray, size_hw: tuple[int, int], nearest: bool) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    if img.shape[:2] == size_hw:
        return img
    mode = Image.NEAREST if nearest else Image.BILINEAR
    if img.dtype == np.uint8:
        return np.asarray(Image.fromarray(img).resize((size_hw[1], size_hw[0]), mode))
    out = Image.fromarray(img.astype(np.float32), mode="F").resize((size_hw[1], size_hw[0]), mode)
    return np.asarray(out)


def _overlay_labels(seg: Segmentation, series: ImageSeries, frame: int, z: int) -> np.ndarray | None:
    if seg.labels.shape[1:] != series.spatial_shape:
        raise CardioGenInputError("overlay grid differs from the image grid", expected=series.spatial_shape,
                                  got=seg.labels.shape[1:])
    if seg.n_frames == series.n_frames:
        f = frame
    elif seg.n_frames == 1:
        f = 0
    else:
        raise CardioGenInputError("overlay must have one frame or as many frames as the series",
                                  expected=f"1 or {series.n_frames}", got=seg.n_frames)
    if not seg.annotated[f, z]:
        return None
    return seg.labels[f, z]


def _draw_overlay(rgb: np.ndarray, labels: np.ndarray, seg: Segmentation) -> np.ndarray:
    from scipy.ndimage import binary_erosion  # noqa: PLC0415

    out = rgb.astype(np.float32)
    thick = max(1, min(rgb.shape[:2]) // 200)
    for value, info in seg.label_table.items():
        mask = labels == value
        if not mask.any():
            continue
        color = np.array(info.color, dtype=np.float32) * 255.0
        out[mask] = (1 - _FILL_ALPHA) * out[mask] + _FILL_ALPHA * color
        edge = mask & ~binary_erosion(mask, iterations=thick, border_value=0)
        out[edge] = color
    return np.clip(out, 0, 255).astype(np.uint8)


def _font(size: int) -> Any:
    from PIL import ImageFont  # noqa: PLC0415

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def _caption(rgb: np.ndarray, left: str, right: str, synthetic: bool) -> np.ndarray:
    from PIL import Image, ImageDraw  # noqa: PLC0415

    h, w = rgb.shape[:2]
    size = max(10, min(h, w) // 16)
    font = _font(size)
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    bar = size + 6
    if left or right:
        draw.rectangle([0, h - bar, w, h], fill=(0, 0, 0))
        if left:
            draw.text((4, h - bar + 2), left, fill=(255, 255, 255), font=font)
        if right:
            tw = draw.textlength(right, font=font)
            draw.text((max(4, w - tw - 4), h - bar + 2), right, fill=(255, 255, 255), font=font)
    if synthetic:
        draw.rectangle([0, 0, w, bar], fill=_BANNER_RGB)
        text = "SYNTHETIC"
        tw = draw.textlength(text, font=font)
        draw.text((max(2, (w - tw) / 2), 2), text, fill=(255, 255, 255), font=font)
    return np.asarray(img)


def render_frames(obj: Any, *, slice_index: int | None = None, window: tuple[float, float] | None = None,
                  overlay: Segmentation | None = None, label: str = "", min_size: int = MIN_SIZE,
                  show_time: bool = True) -> np.ndarray:
    """Render one slice of every frame as RGB.

    Args:
        obj: :class:`ImageSeries`, :class:`DenseSeries` (its magnitude) or an array ``(t, z, y, x)``, ``(t, y, x)``
            or ``(y, x)``.
        slice_index: z index (default: middle slice).
        window: (low, high) display range; default the 1st-99th percentile.
        overlay: segmentation on the same grid (one frame, or one per frame).
        label: caption text (bottom left).
        min_size: smallest short side in pixels.
        show_time: write the frame time (ms) bottom right.

    Returns:
        uint8 ``(t, H, W, 3)``.
    """
    series = _as_series(obj)
    if overlay is not None and not isinstance(overlay, Segmentation):
        raise CardioGenInputError("overlay must be a Segmentation", got=type(overlay).__name__)
    z = _slice_index(series, slice_index)
    frames = series.array[:, z]
    lo, hi = _window(frames, window)
    size = _output_size(frames.shape[1:], series.spacing[:2], int(min_size))
    has_times = _frame_interval_ms(series) is not None
    out = []
    for f in range(series.n_frames):
        gray = np.clip((frames[f] - lo) / (hi - lo), 0.0, 1.0)
        gray = (_resize(gray.astype(np.float32), size, nearest=False).clip(0, 1) * 255).astype(np.uint8)
        rgb = np.repeat(gray[:, :, None], 3, axis=2)
        if overlay is not None:
            labels = _overlay_labels(overlay, series, f, z)
            if labels is not None:
                rgb = _draw_overlay(rgb, _resize(labels, size, nearest=True), overlay)
        right = f"{series.frame_times[f]:.0f} ms" if show_time and has_times and series.n_frames > 1 else ""
        rgb = _caption(rgb, label, right, series.synthetic)
        out.append(rgb)
    return np.stack(out)


def _frame_interval_ms(series: ImageSeries) -> float | None:
    if series.n_frames < 2:
        return None
    dt = float(np.median(np.diff(series.frame_times)))
    return dt if dt >= 5.0 else None


def _fps(series: ImageSeries, fps: float | None) -> float:
    if fps is not None:
        if not (np.isfinite(fps) and fps > 0):
            raise CardioGenInputError("fps must be > 0", got=fps)
        return float(fps)
    dt = _frame_interval_ms(series)
    return 1000.0 / dt if dt else _DEFAULT_FPS


def _pad_even(frames: np.ndarray) -> np.ndarray:
    _, h, w, _ = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_gif(obj: Any, path: str | os.PathLike, *, slice_index: int | None = None, fps: float | None = None,
              window: tuple[float, float] | None = None, overlay: Segmentation | None = None,
              label: str = "") -> Path:
    """Write an animated GIF (loops forever) of one slice over time; real-time playback unless ``fps`` is given.

    GIF stores frame delays in 10 ms steps (at least 20 ms), so very fast series play slightly slower.
    """
    iio = import_optional("imageio.v3", package="imageio", feature="writing GIF")

    series = _as_series(obj)
    frames = render_frames(series, slice_index=slice_index, window=window, overlay=overlay, label=label)
    duration_ms = float(np.clip(1000.0 / _fps(series, fps), 20.0, 10000.0))
    path = Path(path)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, frames, extension=".gif", duration=duration_ms, loop=0)
    return path


def write_mp4(obj: Any, path: str | os.PathLike, *, slice_index: int | None = None, fps: float | None = None,
              window: tuple[float, float] | None = None, overlay: Segmentation | None = None,
              label: str = "") -> Path:
    """Write an H.264 MP4 (libx264, yuv420p, sizes padded to even) of one slice over time."""
    iio2 = import_optional("imageio.v2", package="imageio", feature="writing MP4")

    series = _as_series(obj)
    frames = _pad_even(render_frames(series, slice_index=slice_index, window=window, overlay=overlay, label=label))
    rate = _fps(series, fps)
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = iio2.get_writer(str(tmp), format="FFMPEG", mode="I", fps=rate, codec="libx264",
                                 pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error")
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()
    return path


def mosaic_png(obj: Any, path: str | os.PathLike, *, slice_index: int | None = None,
               window: tuple[float, float] | None = None, overlay: Segmentation | None = None, label: str = "",
               max_frames: int = 36, columns: int | None = None) -> Path:
    """Write a static PNG grid of frames (at most ``max_frames``, evenly sampled), each tile captioned with its time."""
    series = _as_series(obj)
    n = series.n_frames
    picks = np.unique(np.linspace(0, n - 1, min(n, max(1, int(max_frames)))).round().astype(int))
    tiles = render_frames(series, slice_index=slice_index, window=window, overlay=overlay, label=label)[picks]
    return write_tile_grid(tiles, path, int(columns) if columns else int(math.ceil(math.sqrt(len(picks)))))


def write_tile_grid(tiles: np.ndarray, path: str | os.PathLike, columns: int) -> Path:
    """Write RGB tiles ``(n, h, w, 3)`` uint8 as one PNG (atomically), ``columns`` per row, 2-pixel dark gaps."""
    from PIL import Image  # noqa: PLC0415

    cols = max(1, int(columns))
    rows = int(math.ceil(len(tiles) / cols))
    _, h, w, _ = tiles.shape
    gap = 2
    canvas = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), 40, dtype=np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(canvas).save(tmp, format="PNG")
    return path
