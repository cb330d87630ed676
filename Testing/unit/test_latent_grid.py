"""The latent generator projects a cine on the grid it was trained for (issue 17, item 4).

GANcMRI learned four-chamber frames of 64 pixels at 2.8 mm; a cine of another pixel size or field of view is
resampled there (centred crop or padding), not squeezed into 64 pixels, and the generated frames' geometry says
where they lie. These tests need no weights: ``on_grid`` depends only on the generator's size and pixel.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from cardiogen.data import Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.latent import LatentModel


def _model(resolution: int = 64, pixel_mm: float = 2.8) -> LatentModel:
    return LatentModel(SimpleNamespace(cfg=SimpleNamespace(resolution=resolution)), None, None, pixel_mm=pixel_mm)


def _disc_cine(n: int, pixel: float, centre_mm=(0.0, 0.0), radius_mm: float = 30.0, frames: int = 3,
               origin=(-100.0, -80.0, 5.0)) -> ImageSeries:
    """A bright disc of ``radius_mm`` at world (x, y) ``centre_mm`` on an n×n grid of ``pixel`` mm."""
    g = Geometry(spacing=(pixel, pixel, 8.0), origin=origin, direction=np.eye(3))
    jj, ii = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    x, y = origin[0] + jj * pixel, origin[1] + ii * pixel
    img = np.where(np.hypot(x - centre_mm[0], y - centre_mm[1]) < radius_mm, 1.0, 0.1).astype(np.float32)
    return ImageSeries(np.repeat(img[None, None], frames, axis=0), geometry=g, frame_times=np.arange(frames) * 40.0,
                       modality="cine")


def _disc_in_output(m: LatentModel, cine: ImageSeries) -> tuple[np.ndarray, float]:
    """Centre (world mm, via the model's geometry) and radius (mm) of the bright disc on the generator's grid."""
    out = m.on_grid(cine, 0)
    assert out.shape == (cine.n_frames, m.resolution, m.resolution)
    mask = out[0] > 0.55
    rows, cols = np.nonzero(mask)
    world = m.geometry(cine, 0).index_to_world() @ np.array([cols.mean(), rows.mean(), 0.0, 1.0])
    return world[:2], float(np.sqrt(mask.sum() / np.pi) * m.pixel_mm)


@pytest.mark.parametrize("n, pixel", [(64, 2.8), (128, 1.4), (256, 1.37), (96, 2.2)])
def test_a_disc_keeps_its_place_and_size_in_mm_whatever_the_input_grid(n, pixel):
    m = _model()
    fov = n * pixel
    origin = (-fov / 2 + 7.0, -fov / 2 - 5.0, 5.0)  # the disc sits off the image centre
    cine = _disc_cine(n, pixel, centre_mm=(10.0, -12.0), radius_mm=30.0, origin=origin)
    centre, radius = _disc_in_output(m, cine)
    assert np.allclose(centre, (10.0, -12.0), atol=0.5 * m.pixel_mm), centre
    assert radius == pytest.approx(30.0, abs=m.pixel_mm)  # squeezing 256 px into 64 would give about 14 mm


def test_the_generator_grid_itself_passes_through_unchanged():
    m = _model()
    cine = _disc_cine(64, 2.8)
    assert np.array_equal(m.on_grid(cine, 0), cine.array[:, 0])
    g = m.geometry(cine, 0)
    assert np.allclose(g.origin, cine.geometry.origin) and np.allclose(g.spacing[:2], (2.8, 2.8))


def test_a_smaller_field_of_view_is_padded_with_the_background_and_a_tiny_one_refused():
    m = _model()
    cine = _disc_cine(60, 2.0, radius_mm=25.0)  # 120 mm of the generator's 179 mm
    out = m.on_grid(cine, 0)
    assert out[0, 0, 0] == pytest.approx(0.1, abs=1e-6)  # the padding takes the video's background level
    with pytest.raises(CardioGenInputError, match="field of view is too small") as err:
        m.on_grid(_disc_cine(40, 2.0), 0)  # 80 mm
    assert "179 mm" in str(err.value) and "x: 80 mm" in str(err.value)


def test_the_generated_geometry_follows_the_slice_orientation_and_position():
    m = _model()
    theta = np.radians(30)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    g = Geometry(spacing=(1.4, 1.4, 8.0), origin=(3.0, 4.0, 5.0), direction=rot)
    cine = ImageSeries(np.zeros((2, 3, 128, 128), np.float32), geometry=g, frame_times=[0.0, 40.0], modality="cine")
    out_g = m.geometry(cine, 2)
    assert np.allclose(out_g.direction, rot) and np.allclose(out_g.spacing[:2], (2.8, 2.8))
    centre_out = out_g.index_to_world() @ np.array([31.5, 31.5, 0.0, 1.0])
    centre_in = g.index_to_world() @ np.array([63.5, 63.5, 2.0, 1.0])
    assert np.allclose(centre_out, centre_in, atol=1e-6)  # the two grids share their centre on slice 2
