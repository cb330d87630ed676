"""cardiogen.metrics.image: SSIM / MS-SSIM / PSNR on (t, z, y, x) series and torch batches."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy import ndimage  # noqa: E402

from cardiogen.data import ImageSeries  # noqa: E402
from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.metrics import ms_ssim, psnr, ssim  # noqa: E402
from cardiogen.metrics.image import ms_ssim_settings  # noqa: E402


@pytest.fixture(scope="module")
def series():
    """A smooth random (t, z, y, x) = (3, 2, 64, 64) series in [0, 1]."""
    rng = np.random.default_rng(1)
    arr = ndimage.gaussian_filter(rng.random((3, 2, 64, 64)), (0, 0, 2, 2))
    arr = (arr - arr.min()) / (arr.max() - arr.min())
    return arr


def _noisy(arr, sigma, seed=0):
    return arr + sigma * np.random.default_rng(seed).standard_normal(arr.shape)


def test_identical_images_give_perfect_scores(series):
    img = ImageSeries(series.astype(np.float32))
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert psnr(img, img) == float("inf")
    per_frame = ssim(series, series, reduction="none")
    assert per_frame.shape == (3, 2) and np.allclose(per_frame, 1.0)


def test_ssim_and_psnr_agree_with_scikit_image(series):
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    for t, sigma in ((0, 0.05), (1, 0.1), (2, 0.2)):
        ref = series[t, 0]
        img = np.clip(_noisy(ref, sigma, seed=t), 0, 1)
        expected = structural_similarity(img, ref, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
        assert ssim(img, ref, data_range=1.0) == pytest.approx(expected, abs=1e-6)
        assert psnr(img, ref, data_range=1.0) == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=1.0),
                                                               abs=1e-6)
    # a non-square image, data range from the reference
    ref = series[0, 1, :48, :]
    img = ndimage.gaussian_filter(ref, 1.0)
    expected = structural_similarity(img, ref, data_range=float(ref.max() - ref.min()), gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert ssim(img, ref) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("metric", [ssim, ms_ssim, psnr])
def test_scores_fall_monotonically_with_noise_and_blur(series, metric):
    noise = [metric(_noisy(series, s), series, data_range=1.0) for s in (0.01, 0.03, 0.1, 0.3)]
    assert all(a > b for a, b in zip(noise, noise[1:])), noise
    blur = [metric(ndimage.gaussian_filter(series, (0, 0, s, s)), series, data_range=1.0) for s in (0.5, 1, 2, 4)]
    assert all(a > b for a, b in zip(blur, blur[1:])), blur


def test_torch_batches_are_differentiable_per_image():
    torch.manual_seed(0)
    ref = torch.rand(4, 1, 64, 64)
    pred = (ref + 0.05 * torch.randn(4, 1, 64, 64)).requires_grad_(True)
    per_image = ssim(pred, ref, data_range=1.0, reduction="none")
    assert per_image.shape == (4,)
    (1 - ms_ssim(pred, ref, data_range=1.0)).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0
    # a (N, C, H, W) batch gives the same SSIM as the same frames as a numpy (t, z, y, x) series
    series = ssim(pred.detach().numpy().astype(np.float64), ref.numpy().astype(np.float64), data_range=1.0,
                  reduction="none")
    assert np.allclose(series[:, 0], per_image.detach().numpy(), atol=1e-5)
    assert float(psnr(ref, ref, data_range=1.0)) == float("inf")


def test_ms_ssim_settings_and_small_image_errors():
    assert ms_ssim_settings(64) == (3, (0.5, 0.5))
    assert ms_ssim_settings(256)[0] == 11 and len(ms_ssim_settings(256)[1]) == 5
    a = np.random.default_rng(0).random((64, 64))
    with pytest.raises(CardioGenInputError, match="too small"):
        ms_ssim(a, a, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333))
    assert ms_ssim(a, a, win_size=3, weights=(0.5, 0.5)) == pytest.approx(1.0)
    with pytest.raises(CardioGenInputError, match="differ in shape"):
        ssim(a, a[:32])
    with pytest.raises(CardioGenInputError, match="torch tensor"):
        ssim(torch.zeros(1, 1, 16, 16), np.zeros((16, 16)))
    with pytest.raises(CardioGenInputError, match="NaN"):
        psnr(np.full((16, 16), np.nan), a[:16, :16])
