"""The AHA 17-segment bull's-eye picture: segments where the AHA puts them, borders, numbers and values written in
each segment, colours from the strain map with a legend."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PIL")


def test_segment_raster_has_the_seventeen_aha_segments_in_place():
    from cardiogen.motion.bullseye import segment_centres, segment_raster

    size = 200
    seg = segment_raster(size)
    assert set(np.unique(seg)) == set(range(18))  # 0 outside, 1..17
    c = size // 2
    # basal ring: 1 anterior at the top, 4 inferior at the bottom, 2 anteroseptal upper left, 6 anterolateral
    # upper right; apical: 14 septal left, 16 lateral right; apex cap 17 in the middle
    assert seg[3, c] == 1 and seg[size - 4, c] == 4 and seg[c, 3] in (2, 3) and seg[c, size - 4] in (5, 6)
    assert seg[int(c - 0.85 * c * np.sin(np.radians(150))), int(c + 0.85 * c * np.cos(np.radians(150)))] == 2
    assert seg[c, int(c - 0.37 * c)] == 14 and seg[c, int(c + 0.37 * c)] == 16 and seg[c, c] == 17
    # equal ring widths: the basal ring (1-6) is 7x the cap's area, mid 5x, apical 3x
    area = np.bincount(seg.ravel(), minlength=18).astype(float)
    cap = area[17]
    for ring, factor in ((range(1, 7), 7), (range(7, 13), 5), (range(13, 17), 3)):
        assert area[list(ring)].sum() / cap == pytest.approx(factor, rel=0.05)
    for k, (x, y) in segment_centres(size).items():
        assert seg[int(round(y)), int(round(x))] == k  # every label sits inside its segment


def test_picture_colours_borders_numbers_and_legend():
    from cardiogen.motion.bullseye import BORDER_RGB, NO_DATA_RGB, bullseye_rgb, segment_raster

    values = np.full(16, np.nan)
    values[0], values[3], values[12] = -30.0, 0.0, 15.0  # shortening, none, stretching; the rest without data
    size = 300
    img = bullseye_rgb(values, size=size, limit=30.0, title="")
    margin = max(8, size // 30)
    disc = img[margin:margin + size, margin:margin + size].astype(float)
    seg = segment_raster(size)

    def colour(k):  # the median colour of segment k away from its text and borders
        return np.median(disc[(seg == k)], axis=0)

    blue, white, red, grey = colour(1), colour(4), colour(13), colour(8)
    assert blue[2] > 200 and blue[0] < 80  # -30 %: full blue
    assert np.all(white > 240)  # 0: white
    assert red[0] > 240 and red[2] < 200  # +15 %: half red
    assert np.allclose(grey, np.array(NO_DATA_RGB) * 255, atol=3) and np.allclose(colour(17), grey, atol=3)
    # borders: along the ring between basal and mid, and between segments 1 and 2 (at 120°)
    dark = np.all(np.abs(disc - np.array(BORDER_RGB) * 255) < 30, axis=-1)
    c = (size - 1) / 2
    ring = [(int(round(c - 0.75 * size / 2 * np.sin(a))), int(round(c + 0.75 * size / 2 * np.cos(a))))
            for a in np.radians(np.arange(0, 360, 7))]
    assert np.mean([dark[max(r - 1, 0):r + 2, max(q - 1, 0):q + 2].any() for r, q in ring]) > 0.95
    # numbers and values: dark text pixels at every segment's label position, none in an empty segment's corner
    text = np.all(disc < 110, axis=-1) & ~dark
    from cardiogen.motion.bullseye import segment_centres

    for k, (x, y) in segment_centres(size).items():
        box = text[int(y) - size // 20:int(y) + size // 20, int(x) - size // 20:int(x) + size // 20]
        assert box.sum() > 10, f"segment {k}: no number/value written"
    # the legend right of the disc: red at the top, blue at the bottom
    legend = img[:, margin + size + margin:].astype(float)
    reddish = (legend[..., 0] - legend[..., 2]) > 150
    bluish = (legend[..., 2] - legend[..., 0]) > 150
    assert reddish.any() and bluish.any()
    assert np.flatnonzero(reddish.any(axis=1)).mean() < np.flatnonzero(bluish.any(axis=1)).mean()


def test_seventeen_values_fill_the_apex_and_bad_input_is_refused():
    from cardiogen.motion.bullseye import bullseye_rgb, diverging_rgb

    img = bullseye_rgb(np.full(17, -30.0), size=120)
    assert img.dtype == np.uint8 and img.ndim == 3
    centre = img[max(8, 120 // 30) + 60 + 12, max(8, 120 // 30) + 60 + 20]  # inside the cap, off its text
    assert centre[2] > 200 and centre[0] < 80
    assert np.allclose(diverging_rgb([-1.0, 0.0, 1.0, 5.0]), [[0.15, 0.4, 1.0], [1, 1, 1], [1, 0.25, 0.15],
                                                              [1, 0.25, 0.15]])
    with pytest.raises(Exception, match="16 or 17"):
        bullseye_rgb(np.zeros(6))
    with pytest.raises(Exception, match="positive"):
        bullseye_rgb(np.zeros(16), limit=0)
