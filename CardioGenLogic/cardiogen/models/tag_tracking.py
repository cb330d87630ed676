"""Tag tracking on tagged short-axis MRI (seed 001, chapter 4): phantom training data with exact landmark tracks, the
loss, inference on an :class:`~cardiogen.data.ImageSeries`, the classical baseline and the evaluation.

Landmarks (as Ferdian et al. 2020, the seed's ref. [174]): ``sectors`` points around the LV on each of three rings
(endo, mid, epi at ``fractions`` of the wall's thickness) in one short-axis slice at end-diastole, where the tags are
written. The phantom knows where that material is in every frame (:meth:`HeartModel.forward`, exact); the tracks are
its in-plane positions (the seed tracks in 2D: through-plane motion is not seen by a 2D sequence).

The classical baseline (:func:`track_demons`) registers each frame to the one before with SimpleITK demons
(:func:`cardiogen.motion.register.register_classical`) and carries the landmarks on by the displacement sampled at
their positions. Strain from tracks: :func:`cardiogen.motion.landmarks.landmark_strain_series` (Green-Lagrange, the
seed's eq. 4.2, and engineering), circumferential along the rings and radial endo to epi.
"""
from __future__ import annotations

import functools
import time
from typing import Any, Iterable, Optional

import numpy as np

from ..data import Geometry, ImageSeries, LandmarkSeries
from ..errors import CardioGenInputError

LAYERS = ("endo", "mid", "epi")
DEFAULT_FRACTIONS = (0.15, 0.5, 0.85)
#: Rings need this much LV cavity radius (mm): towards the apex the ring is too small for tags 6-9 mm apart.
MIN_ENDO_RADIUS_MM = 8.0
#: and stay this far below the base (mm), where the phantom's wall ends.
BASE_MARGIN_MM = 6.0


def ring_points(model: Any, z: float, sectors: int,
                fractions: Iterable[float]) -> Optional[tuple[np.ndarray, list, list]]:
    """ED material points ``(N, 3)`` (heart frame, mm) of the rings at heart height ``z``, with layer and sector
    labels; None where the slice has no usable ring (apex, above the base)."""
    g = model.geometry
    rn2, rp2 = float(g.r_endo2(np.array(z))), float(g.r_epi2(np.array(z)))
    if rn2 < MIN_ENDO_RADIUS_MM ** 2 or z > g.z_base - BASE_MARGIN_MM:
        return None
    rn, rp = np.sqrt(rn2), np.sqrt(rp2)
    th = 2.0 * np.pi * np.arange(sectors) / sectors
    pts, layer, sector = [], [], []
    for name, f in zip(LAYERS, fractions):
        r = rn + float(f) * (rp - rn)
        pts.append(np.stack([r * np.cos(th), r * np.sin(th), np.full(sectors, z)], -1))
        layer += [name] * sectors
        sector += list(range(sectors))
    return np.concatenate(pts), layer, sector


def slice_tracks(case: Any, z_index: int, sectors: int = 24,
                 fractions: Iterable[float] = DEFAULT_FRACTIONS) -> Optional[dict]:
    """Exact landmark tracks of one short-axis slice of a phantom case: ``tracks`` ``(T, N, 2)`` pixels (x, y) of
    the tagging grid, ``layer`` and ``sector`` labels, ``height_mm`` (the slice's height along the LV axis, apex
    low); None where the slice has no usable ring."""
    tr, series = case.truth, case.tagging
    m = series.geometry.index_to_world()
    ny, nx = series.shape[2:]
    centre = m @ np.array([(nx - 1) / 2.0, (ny - 1) / 2.0, z_index, 1.0])
    z = float(tr.placement.to_heart(centre[None, :3])[0, 2])
    ring = ring_points(tr.model, z, sectors, fractions)
    if ring is None:
        return None
    x, layer, sector = ring
    tracks = []
    for t in series.frame_times:
        lps = tr.placement.to_lps(tr.model.forward(x, float(t)))
        tracks.append(LandmarkSeries.mm_to_pixels(lps, series.geometry)[:, :2])
    return {"tracks": np.asarray(tracks, np.float32), "layer": layer, "sector": sector, "height_mm": z}


def truth_landmarks(case: Any, z_index: int, sectors: int = 24) -> Optional[LandmarkSeries]:
    """The exact landmark tracks of :func:`slice_tracks` as a :class:`LandmarkSeries` (LPS mm on the slice, every
    frame, layer and sector labels, the tagging's frame times and grid); None where the slice has no usable ring.
    Its first frame is what a user would place at end-diastole."""
    got = slice_tracks(case, z_index, sectors)
    if got is None:
        return None
    geometry = case.tagging.geometry
    return LandmarkSeries(LandmarkSeries.pixels_to_mm(got["tracks"], geometry, z_index),
                          labels={"layer": got["layer"], "sector": got["sector"]},
                          frame_times=case.tagging.frame_times, geometry=geometry,
                          description=f"phantom landmark truth, slice {z_index}")


def normalise(frames: np.ndarray) -> np.ndarray:
    """Intensities to about [0, 1] (1st and 99th percentiles of the sequence), float32."""
    lo, hi = np.percentile(frames, [1, 99])
    return ((frames - lo) / max(float(hi - lo), 1e-6)).astype(np.float32)


def crop_box(start_px: np.ndarray, shape_yx: tuple[int, int], crop: int) -> tuple[int, int]:
    """Top-left (y0, x0) of a ``crop``-pixel square centred on the landmarks' centroid (may extend past the image:
    the crop pads with zeros)."""
    cx, cy = np.asarray(start_px, float).mean(axis=0)
    return int(round(cy - crop / 2.0)), int(round(cx - crop / 2.0))


def crop_sequence(frames: np.ndarray, start_px: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """A sequence ``(T, H, W)`` normalised and cropped around landmarks at ``start_px`` ``(N, 2)``; returns the
    crop and the offset (x0, y0) to subtract from image pixels to get crop pixels."""
    y0, x0 = crop_box(start_px, frames.shape[1:], crop)
    return crop_frames(normalise(frames), y0, x0, crop), np.array([x0, y0], np.float32)


def crop_frames(frames: np.ndarray, y0: int, x0: int, crop: int) -> np.ndarray:
    """``(T, H, W)`` -> ``(T, crop, crop)`` from (y0, x0), zero outside the image."""
    t, h, w = frames.shape
    out = np.zeros((t, crop, crop), np.float32)
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + crop, h), min(x0 + crop, w)
    if ye > ys and xe > xs:
        out[:, ys - y0:ye - y0, xs - x0:xe - x0] = frames[:, ys:ye, xs:xe]
    return out


@functools.lru_cache(maxsize=4)
def tracking_pool(seeds: tuple[int, ...], size: int, frames: int, slices: int, sectors: int,
                  fractions: tuple = DEFAULT_FRACTIONS, crop: int = 40) -> dict:
    """Phantom tagging sequences with exact tracks, cropped around the LV: ``images`` ``(S, T, crop, crop)``
    (normalised), ``tracks`` ``(S, T, N, 2)`` crop pixels, ``spacing`` ``(S, 2)`` mm, ``es_frame`` ``(S,)``, ``ids``
    (seed, slice), the ``layer``/``sector`` labels and the strain segments' landmark ``pairs`` (:func:`segment_pairs`,
    the same for every sequence). Cached per process."""
    from ..phantom import PhantomConfig, make_case

    images, tracks, spacing, es, ids = [], [], [], [], []
    labels = None
    for seed in seeds:
        case = make_case(PhantomConfig(seed=seed, size=size, frames=frames, slices=slices, modalities=("tagging",)))
        for z in range(case.tagging.shape[1]):
            got = slice_tracks(case, z, sectors, fractions)
            if got is None:
                continue
            img, off = crop_sequence(case.tagging.array[:, z], got["tracks"][0], crop)
            images.append(img)
            tracks.append(got["tracks"] - off)
            spacing.append(case.tagging.spacing[:2])
            es.append(case.truth.es_frame)
            ids.append((seed, z))
            labels = {"layer": got["layer"], "sector": got["sector"]}
    if not images:
        raise CardioGenInputError("no phantom slice with a usable landmark ring", got=f"seeds {seeds[:3]}...")
    return {"images": np.stack(images), "tracks": np.stack(tracks), "spacing": np.asarray(spacing, np.float32),
            "es_frame": np.asarray(es), "ids": tuple(ids), "labels": labels,
            "pairs": segment_pairs(tracks[0], labels)}


def analytic_pool(cases: int, pixel_mm: float, frames: int = 20, crop: int = 40, matrix: int = 64,
                  tag_spacing_mm: Optional[float] = None) -> dict:
    """Tagged sequences of the independent analytic generator (:meth:`cardiogen.analytic.AnalyticCase.tagging`)
    with exact ring tracks, cropped as :func:`tracking_pool`: LV size, wall, shortening, a hypokinetic sector, twist
    and ellipticity drawn per case (seeds 100...), on a ``matrix``² grid of ``pixel_mm``, tags ``tag_spacing_mm``
    apart (None: 3 pixels)."""
    from ..analytic import make_analytic_case

    rng = np.random.default_rng(7)
    images, tracks, spacing, es = [], [], [], []
    labels = None
    for k in range(cases):
        case = make_analytic_case(seed=100 + k, pixel_mm=pixel_mm, matrix=matrix, frames=frames, coverage=0.95,
                                  endo_radius_mm=float(rng.uniform(18, 26)), wall_mm=float(rng.uniform(6, 10)),
                                  endo_shortening=float(rng.uniform(0.2, 0.35)),
                                  hypo_center_deg=float(rng.uniform(0, 360)), twist_deg=float(rng.uniform(-8, 8)),
                                  ellipticity=float(rng.uniform(0, 0.15)), centre_jitter_mm=3.0)
        trk, layer, sector = case.ring_tracks()
        img, off = crop_sequence(case.tagging(spacing_mm=tag_spacing_mm).array[:, 0], trk[0], crop)
        images.append(img)
        tracks.append(trk - off)
        spacing.append((pixel_mm, pixel_mm))
        es.append(int(case.truth_strain["es_frame"]))
        labels = {"layer": layer, "sector": sector}
    return {"images": np.stack(images), "tracks": np.stack(tracks), "spacing": np.asarray(spacing, np.float32),
            "es_frame": np.asarray(es), "labels": labels}


def augment(images: np.ndarray, tracks: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random flips, transposition and intensity gain/gamma of one sequence ``(T, H, W)`` with its tracks
    ``(T, N, 2)`` (the landmarks move with the image)."""
    img, trk = images.copy(), tracks.copy()
    h, w = img.shape[1:]
    if rng.random() < 0.5:
        img, trk[..., 0] = img[:, :, ::-1], (w - 1) - trk[..., 0]
    if rng.random() < 0.5:
        img, trk[..., 1] = img[:, ::-1, :], (h - 1) - trk[..., 1]
    if rng.random() < 0.5 and h == w:
        img, trk = img.transpose(0, 2, 1), trk[..., ::-1]
    gamma = float(np.exp(rng.normal(0.0, 0.2)))
    img = np.clip(img, 0.0, None) ** gamma * float(rng.uniform(0.8, 1.2))
    return np.ascontiguousarray(img, np.float32), np.ascontiguousarray(trk, np.float32)


def segment_pairs(tracks_px: np.ndarray, labels: dict) -> np.ndarray:
    """``(M, 2)`` landmark index pairs of the segments landmark strain is measured on (circumferential along each
    ring, radial endo-mid, mid-epi and endo-epi of each sector: :func:`cardiogen.motion.landmarks.
    landmark_strain_series`) for landmarks labelled ``labels``; ``tracks_px`` ``(T, N, 2)``, any sequence of them."""
    pairs = strain_of_tracks(tracks_px, np.ones(2), labels).pairs
    return np.concatenate([pairs[c] for c in ("circumferential", "radial") if c in pairs]).astype(np.int64)


def tracking_loss(pred: Any, truth: Any, spacing: Any, pairs: Any = None, strain_weight: float = 0.0) -> tuple:
    """Training loss of the tracker: ``(total, landmark_mm, strain)``.

    ``landmark_mm``: mean landmark distance in mm over frames 1..T-1 (frame 0 is given); ``pred``/``truth``
    ``(B, T, N, 2)`` pixels, ``spacing`` ``(B, 2)`` mm. ``strain`` (strain-aware term, 0 without ``pairs`` or
    weight): mean |Green-Lagrange strain error| ½(L²−L₀²)/L₀² of the segments ``pairs`` ``(M, 2)`` over frames
    1..T-1, the quantity the strain curves are made of. A loss on positions alone lets a tracker that smooths its
    steps over neighbouring landmarks move the endocardium too little and the epicardium too much at a small cost
    in mm (version 1 of both trackers under-estimated wall thickening, so radial strain, this way); this term
    charges it for the strain it gets wrong. ``total`` = landmark_mm + ``strain_weight`` · strain."""
    import torch

    d = (pred[:, 1:] - truth[:, 1:]) * spacing[:, None, None, :]
    mm = (d.pow(2).sum(-1) + 1e-8).sqrt().mean()
    if pairs is None or strain_weight <= 0.0:
        return mm, mm, torch.zeros((), dtype=mm.dtype)

    def green_lagrange(x: Any) -> Any:
        v = (x[:, :, pairs[:, 0]] - x[:, :, pairs[:, 1]]) * spacing[:, None, None, :]
        sq = v.pow(2).sum(-1)                                             # (B, T, M) squared lengths, mm²
        return 0.5 * (sq[:, 1:] / sq[:, :1].clamp_min(1e-6) - 1.0)

    strain = (green_lagrange(pred) - green_lagrange(truth)).abs().mean()
    return mm + float(strain_weight) * strain, mm, strain


def track(model: Any, frames: np.ndarray, start_px: np.ndarray, crop: int = 40) -> np.ndarray:
    """Landmarks ``(T, N, 2)`` pixels of a tagged sequence ``(T, H, W)`` from their ED positions ``(N, 2)``."""
    import torch

    img, off = crop_sequence(frames, start_px, crop)
    with torch.no_grad():
        out = model(torch.from_numpy(img)[None], torch.from_numpy(np.asarray(start_px, np.float32) - off)[None])
    return out[0].numpy() + off


def track_demons(frames: np.ndarray, start_px: np.ndarray, spacing_xy: tuple[float, float],
                 iterations: int = 30, smoothing_voxels: float = 2.5, incremental: bool = True) -> np.ndarray:
    """Classical baseline: SimpleITK demons carrying the ED landmarks by the displacement sampled (bilinearly) at
    their positions. ``incremental`` (default): frame t registered to frame t - 1 and the landmarks carried on from
    where frame t - 1 left them (small steps between frames whose tags have faded alike); else every frame to ED.
    Defaults chosen on a small grid (iterations 30-300, smoothing 1-3 pixels, both schemes) on phantom tagging:
    registering every frame to ED did worse than no motion at all (the faded, periodic tags mislead it); the
    incremental scheme with these settings did best. Returns ``(T, N, 2)`` pixels."""
    from scipy.ndimage import map_coordinates

    from ..motion.register import register_classical

    t = frames.shape[0]
    geom = Geometry(spacing=(float(spacing_xy[0]), float(spacing_xy[1]), 1.0))

    def register(stack: np.ndarray) -> np.ndarray:
        series = ImageSeries(stack[:, None].astype(np.float32), geom, frame_times=np.arange(len(stack)) * 40.0,
                             modality="tagging")
        return register_classical(series, method="demons", iterations=iterations,
                                  smoothing_voxels=smoothing_voxels).array

    def carry(disp: np.ndarray, p: np.ndarray) -> np.ndarray:
        ux = map_coordinates(disp[0, 0], [p[:, 1], p[:, 0]], order=1, mode="nearest")
        uy = map_coordinates(disp[1, 0], [p[:, 1], p[:, 0]], order=1, mode="nearest")
        return p + np.stack([ux / spacing_xy[0], uy / spacing_xy[1]], -1)

    start = np.asarray(start_px, float)
    out = np.empty((t, len(start), 2), np.float32)
    out[0] = start
    if incremental:
        for f in range(1, t):
            out[f] = carry(register(frames[f - 1:f + 1])[1], out[f - 1].astype(float))
    else:
        disp = register(frames)
        for f in range(1, t):
            out[f] = carry(disp[f], start)
    return out


def strain_of_tracks(tracks_px: np.ndarray, spacing_xy: np.ndarray, labels: dict,
                     frame_times: Optional[np.ndarray] = None) -> Any:
    """Landmark strain (:class:`~cardiogen.motion.landmarks.LandmarkStrain`) of in-plane tracks ``(T, N, 2)``."""
    from ..motion.landmarks import landmark_strain_series

    mm = np.asarray(tracks_px, float) * np.asarray(spacing_xy, float)[None, None, :2]
    t = mm.shape[0]
    series = LandmarkSeries(mm, labels={"layer": list(labels["layer"]), "sector": list(labels["sector"])},
                            frame_times=np.arange(t) * 40.0 if frame_times is None else frame_times)
    return landmark_strain_series(series)


STRAIN_CURVES = (("circumferential", "global"), ("radial", "endo-epi"))


def evaluate_tracking(model: Any, pool: dict, demons: bool = False) -> dict:
    """Landmark error (mm: mean over landmarks and frames 1..T-1, and at ES) and strain difference against the
    exact tracks (Green-Lagrange global circumferential and radial endo-epi: largest |difference| over the cycle
    and at ES, and the signed mean at ES, ``strain_bias_es``), per sequence and summarised; seconds per sequence.
    ``demons``: the classical baseline as well."""
    methods = {"learned": lambda img, start, sp: track(model, img, start, img.shape[-1])}
    if demons:
        methods["demons"] = lambda img, start, sp: track_demons(img, start, sp)
    truth_strain = [strain_of_tracks(t, sp, pool["labels"]) for t, sp in zip(pool["tracks"], pool["spacing"])]
    out: dict = {}
    for name, fn in methods.items():
        err, err_es, seconds = [], [], []
        sdiff: dict = {c: [] for c in STRAIN_CURVES}
        sdiff_es: dict = {c: [] for c in STRAIN_CURVES}
        sbias_es: dict = {c: [] for c in STRAIN_CURVES}
        for i in range(len(pool["images"])):
            img, truth, sp, es = pool["images"][i], pool["tracks"][i], pool["spacing"][i], int(pool["es_frame"][i])
            start = time.perf_counter()
            pred = fn(img, truth[0], sp)
            seconds.append(time.perf_counter() - start)
            d = np.linalg.norm((pred - truth) * sp[None, None, :], axis=-1)
            err.append(float(d[1:].mean()))
            err_es.append(float(d[es].mean()))
            s_pred, s_true = strain_of_tracks(pred, sp, pool["labels"]), truth_strain[i]
            for comp, region in STRAIN_CURVES:
                a, b = s_pred.curve(comp, region=region), s_true.curve(comp, region=region)
                sdiff[(comp, region)].append(float(np.abs(a - b).max()))
                sdiff_es[(comp, region)].append(float(abs(a[es] - b[es])))
                sbias_es[(comp, region)].append(float(a[es] - b[es]))
        out[name] = {
            "landmark_error_mm": float(np.mean(err)), "landmark_error_mm_sd": float(np.std(err)),
            "landmark_error_es_mm": float(np.mean(err_es)),
            "strain_diff_max": {f"{c}/{r}": float(np.mean(v)) for (c, r), v in sdiff.items()},
            "strain_diff_es": {f"{c}/{r}": float(np.mean(v)) for (c, r), v in sdiff_es.items()},
            "strain_bias_es": {f"{c}/{r}": float(np.mean(v)) for (c, r), v in sbias_es.items()},
            "seconds_per_sequence": float(np.median(seconds)), "sequences": len(err),
        }
    return out


#: Tolerance on the pixel size the weights were trained at (tags are then as many pixels apart as in training).
PIXEL_TOLERANCE = 0.15


def load_tracker(weights: str = "tag-tracker-phantom-64") -> tuple[Any, Any]:
    """The registered tracker (eval mode) and its registry entry."""
    from ..nets.tag_tracker import TagTracker, TagTrackerConfig
    from ..weights import Registry

    reg = Registry()
    entry = reg.get(weights)
    model = TagTracker(TagTrackerConfig.from_dict(entry.config.get("model", {})))
    model.load_state_dict(reg.load_state_dict(weights))
    return model.eval(), entry


def check_grid(series: ImageSeries, entry: Any, name: str = "tag tracker",
               frames_why: str = ": a landmark's step per frame would differ") -> None:
    """Refuse, saying why, a sequence the weights (``name`` ``entry.id``) were not trained for: another frame count,
    or a pixel size (hence tag spacing in pixels) outside the trained range (within :data:`PIXEL_TOLERANCE`)."""
    geo = entry.geometry
    frames = int(geo.get("frames") or series.n_frames)
    if series.n_frames != frames:
        raise CardioGenInputError(f"{name} {entry.id} was trained on {frames}-frame sequences{frames_why}",
                                  source=series.description or None, expected=frames, got=series.n_frames)
    lo, hi = geo.get("pixel_mm_range") or (geo["pixel_mm"], geo["pixel_mm"])
    px = float(series.spacing[0])
    if not lo * (1 - PIXEL_TOLERANCE) <= px <= hi * (1 + PIXEL_TOLERANCE):
        raise CardioGenInputError(f"{name} {entry.id} was trained on pixels of {lo:.2f}-{hi:.2f} mm (tags as many "
                                  "pixels apart as in training); resample the sequence in-plane first",
                                  source=series.description or None,
                                  expected=f"{lo * (1 - PIXEL_TOLERANCE):.2f}-{hi * (1 + PIXEL_TOLERANCE):.2f} mm",
                                  got=f"{px:.2f} mm")


def tracker_for(series: ImageSeries) -> str:
    """The registered tag tracker trained for this sequence's grid (frame count, and the pixel size within
    :data:`PIXEL_TOLERANCE`, the nearest if several); refuses, listing what is registered, if none is."""
    from ..weights import Registry

    fits, trained = [], []
    px = float(series.spacing[0])
    for entry in Registry().list("tag_tracking"):
        geo = entry.geometry or {}
        lo, hi = geo.get("pixel_mm_range") or (geo.get("pixel_mm"), geo.get("pixel_mm"))
        if lo is None:
            continue
        trained.append(f"{entry.id}: {geo.get('frames')} frames, {lo:.2f}-{hi:.2f} mm")
        try:
            check_grid(series, entry)
        except CardioGenInputError:
            continue
        fits.append((abs(px - float(geo.get("pixel_mm", lo))), entry.id))
    if not fits:
        raise CardioGenInputError("no tag tracker is trained for this sequence's frames and pixel size (tags must be "
                                  "as many pixels apart as in training); resample it",
                                  source=series.description or None,
                                  expected="; ".join(trained) or "a registered tag_tracking model",
                                  got=f"{series.n_frames} frames, {px:.2f} mm pixels")
    return min(fits)[1]


def landmark_slice(series: ImageSeries, start: LandmarkSeries, z_index: Optional[int] = None) -> tuple[int, np.ndarray]:
    """(slice index, ``(N, 2)`` pixel (x, y) positions) of the landmarks' reference points, which must lie in one
    slice of ``series`` (``z_index``, default: the one they lie in)."""
    idx = LandmarkSeries.mm_to_pixels(start.points[start.reference_frame], series.geometry)
    z = int(np.round(np.median(idx[:, 2]))) if z_index is None else int(z_index)
    if not 0 <= z < series.shape[1] or np.abs(idx[:, 2] - z).max() > 0.5:
        raise CardioGenInputError("the landmarks' reference points must lie in one slice of the series",
                                  source=series.description or None, expected=f"slice index 0..{series.shape[1] - 1}",
                                  got=f"slice indices {idx[:, 2].min():.2f}..{idx[:, 2].max():.2f}")
    return z, idx[:, :2]


def track_landmarks(series: ImageSeries, start: LandmarkSeries, z_index: Optional[int] = None,
                    weights: Optional[str] = None) -> LandmarkSeries:
    """Track landmarks through a tagged short-axis sequence.

    Args:
        series: tagging ``(t, z, y, x)``; frame 0 is end-diastole (where the tags were written).
        start: landmarks whose frame-0 (reference) points lie in one slice of ``series`` (LPS mm), with ``layer``
            (and ``sector``) labels, e.g. read from a CSV/JSON or placed on an ED contour.
        z_index: the slice (default: the one the points lie in).
        weights: registry id of the tracker; None: the one trained for the sequence's grid (:func:`tracker_for`).

    Returns:
        :class:`LandmarkSeries` ``(t, n, 3)`` LPS mm in the slice's plane, with ``start``'s labels, the sequence's
        frame times and the tracker's provenance; strain: :func:`cardiogen.motion.landmarks.landmark_strain_series`.
    """
    model, entry = load_tracker(weights or tracker_for(series))
    check_grid(series, entry)
    z, start_px = landmark_slice(series, start, z_index)
    crop = int(entry.config.get("data", {}).get("crop", 40))
    px = track(model, series.array[:, z], start_px, crop)
    return LandmarkSeries(LandmarkSeries.pixels_to_mm(px, series.geometry, z), labels=dict(start.labels),
                          layer_order=start.layer_order, frame_times=series.frame_times, geometry=series.geometry, reference_frame=0,
                          es_frame=start.es_frame, description=f"landmarks tracked by {entry.id}",
                          provenance={"method": "tag_tracker", "weights": entry.id, "weights_sha256": entry.sha256,
                                      "slice": z})
