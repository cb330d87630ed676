"""4-G-r SSIM (seed 001's table 5.1 diversity measure) and the feature network's second depth."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage


def _disc(shift: float) -> np.ndarray:
    yy, xx = np.mgrid[:64, :64]
    return ndimage.gaussian_filter((((xx - 32 - shift) ** 2 + (yy - 30) ** 2) < 200).astype(float), 1.5)


def test_four_gr_ssim_is_one_for_equal_images_and_falls_as_they_differ():
    from cardiogen.errors import CardioGenInputError
    from cardiogen.metrics.image import four_gr_ssim, ssim

    a = _disc(0)
    assert four_gr_ssim(a, a, 1.0) == pytest.approx(1.0)
    values = [four_gr_ssim(a, _disc(s), 1.0) for s in (1, 2, 4, 8)]
    assert all(x > y for x, y in zip(values, values[1:])), values
    # weighting edges and smooth regions equally, it is harsher than SSIM on a moved edge
    assert values[1] < float(ssim(a, _disc(2), 1.0))
    stack = np.stack([a, _disc(2)])
    assert four_gr_ssim(stack, stack[::-1], 1.0) == pytest.approx(four_gr_ssim(a, _disc(2), 1.0), rel=0.05)
    with pytest.raises(CardioGenInputError):
        four_gr_ssim(a, a[:10])


def test_embedding_at_a_second_depth():
    from cardiogen.metrics.features import embed_frames, load_feature_network

    net = load_feature_network("cardiac-features-64")
    frames = np.stack([_disc(0), _disc(6)]).astype(np.float32)
    deep, mid = embed_frames(frames, net), embed_frames(frames, net, stage=-2)
    assert deep.shape == (2, net.config.channels[-1]) and mid.shape == (2, net.config.channels[-2])
    assert not np.allclose(mid[0], mid[1])
