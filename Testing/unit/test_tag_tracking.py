"""Issue 19 item 4: tag tracking. The training data's exact tracks (phantom and the independent analytic generator)
sit on the myocardium they were written on; the tracker trains into a registry and runs; the shipped tracker beats
the classical baseline and no motion on held-out phantom subjects and on the analytic generator."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from cardiogen.errors import CardioGenInputError
from cardiogen.models import tag_tracking as tt
from cardiogen.phantom import PhantomConfig, make_case


def _inside(mask: np.ndarray, pts: np.ndarray) -> float:
    """Fraction of points (x, y pixels) whose nearest pixel is in ``mask`` (y, x)."""
    ij = np.round(pts[:, ::-1]).astype(int)
    return float(mask[ij[:, 0], ij[:, 1]].mean())


def test_phantom_tracks_stay_on_the_myocardium_they_were_written_on():
    case = make_case(PhantomConfig(seed=5, size=64, frames=20, slices=10, modalities=("tagging",)))
    labels, es = case.truth.masks.labels, case.truth.es_frame
    used = 0
    for z in range(case.tagging.shape[1]):
        got = tt.slice_tracks(case, z)
        if got is None:
            continue
        used += 1
        tracks = got["tracks"]
        assert tracks.shape == (20, 72, 2) and got["layer"][:24] == ["endo"] * 24
        mid = np.asarray(got["layer"]) == "mid"
        assert _inside(labels[0, z] == 2, tracks[0][mid]) == 1.0  # the mid ring lies in the ED LV wall
        if 3 <= z <= 6:  # mid-ventricle (the base moves ~1 slice through the plane by ES): carried with the wall
            assert _inside(labels[es, z] == 2, tracks[es][mid]) >= 0.9
        moved = np.linalg.norm(tracks[es] - tracks[0], axis=-1)
        assert 0.3 < np.median(moved) < 4.0  # pixels: the wall moves, by a plausible amount
    assert used >= 5  # the apical and basal slices without a usable ring are left out


def test_analytic_tagging_fades_in_blood_and_moves_with_the_wall():
    from cardiogen.analytic import make_analytic_case

    case = make_analytic_case(seed=3, pixel_mm=2.9, matrix=64, frames=20, coverage=0.95)
    tag = case.tagging().array[:, 0]
    tracks, layer, _ = case.ring_tracks()
    myo = case.myocardium
    mid = np.asarray(layer) == "mid"
    es = int(case.truth_strain["es_frame"])
    assert _inside(myo[0], tracks[0][mid]) == 1.0 and _inside(myo[es], tracks[es][mid]) >= 0.9
    blood = case.centre_classes == 1

    def contrast(t: int, region: np.ndarray) -> float:
        return float(tag[t][region[t]].std() / tag[t][region[t]].mean())

    assert contrast(3, blood) < 0.5 * contrast(0, blood)  # tags washed out of the blood
    assert contrast(es, myo) > 0.5 * contrast(0, myo)  # and kept in the wall through systole
    # the tag lines move with the wall: the ES image sampled at the carried points matches the ED image at the
    # written points better than at the points left where they were written
    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1])

    ed = map_coordinates(tag[0], tracks[0][:, ::-1].T, order=1)
    carried = map_coordinates(tag[es], tracks[es][:, ::-1].T, order=1)
    still = map_coordinates(tag[es], tracks[0][:, ::-1].T, order=1)
    assert corr(ed, carried) > corr(ed, still) + 0.1


def test_tiny_tracker_trains_registers_and_tracks(tmp_path):
    from cardiogen.nets.tag_tracker import TagTracker, TagTrackerConfig
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    train("tag_tracker", load_config("tag_tracker_tiny.yaml"), tmp_path / "run", register_dir=tmp_path / "reg")
    reg = Registry([tmp_path / "reg"])
    entry = reg.get("tag-tracker-tiny")
    assert entry.pipeline == "tag_tracking" and entry.geometry["view"] == "sax"
    assert {"learned"} <= set(entry.metrics) and entry.metrics["learned"]["sequences"] > 0
    model = TagTracker(TagTrackerConfig.from_dict(entry.config["model"]))
    model.load_state_dict(reg.load_state_dict("tag-tracker-tiny"))
    pool = tt.tracking_pool((1000,), 48, 8, 6, 8, crop=32)
    out = tt.track(model.eval(), pool["images"][0], pool["tracks"][0, 0], crop=32)
    assert out.shape == pool["tracks"][0].shape and np.allclose(out[0], pool["tracks"][0, 0], atol=1e-4)
    with pytest.raises(CardioGenInputError, match="frames"):
        import torch

        model(torch.zeros(1, 8, 32), torch.zeros(1, 3, 2))


def test_strain_aware_loss_charges_wall_thickening_not_rigid_shifts():
    """The strain term is zero for the exact tracks and for a rigid shift (which costs only millimetres), and for a
    wall thinned by 0.3 mm at every frame it equals the hand-computed mean |Green-Lagrange error| of the segments."""
    import torch

    pool = tt.tracking_pool((1000,), 64, 20, 10, 24)
    i = len(pool["images"]) // 2
    truth = torch.from_numpy(pool["tracks"][i:i + 1]).double()
    sp = torch.from_numpy(pool["spacing"][i:i + 1]).double()
    pairs = tt.segment_pairs(pool["tracks"][i], pool["labels"])
    assert np.array_equal(pool["pairs"], pairs)  # the pool carries them, computed once
    strain = tt.strain_of_tracks(pool["tracks"][i], pool["spacing"][i], pool["labels"])
    assert len(pairs) == sum(len(v) for v in strain.pairs.values()) == 3 * 24 + 3 * 24  # rings; endo-mid, mid-epi, endo-epi
    pairs_t = torch.from_numpy(pairs)
    total, mm, term = tt.tracking_loss(truth, truth, sp, pairs_t, 5.0)
    assert float(term) < 1e-9 and float(mm) < 1e-3
    shifted = truth.clone()
    shifted[:, 1:] += 0.5
    total, mm, term = tt.tracking_loss(shifted, truth, sp, pairs_t, 5.0)
    assert float(term) < 1e-9 and float(mm) == pytest.approx(0.5 * float(np.hypot(*pool["spacing"][i])), rel=1e-3)
    assert float(total) == pytest.approx(float(mm))
    # thin the wall: endo landmarks 0.15 mm out, epi landmarks 0.15 mm in, along the ray from the LV centre
    layer = np.asarray(pool["labels"]["layer"])
    thin = pool["tracks"][i].astype(float).copy()
    centre = thin.mean(axis=1, keepdims=True)
    ray = (thin - centre) / np.linalg.norm(thin - centre, axis=-1, keepdims=True)
    move = np.where(layer == "endo", 0.15, np.where(layer == "epi", -0.15, 0.0))[None, :, None] / pool["spacing"][i]
    thin[1:] += (ray * move)[1:]
    _, _, term = tt.tracking_loss(torch.from_numpy(thin[None]), truth, sp, pairs_t, 5.0)
    mine = tt.strain_of_tracks(thin, pool["spacing"][i], pool["labels"])
    want = np.abs(np.concatenate([mine.pair_strain[f"green_lagrange/{c}"] - strain.pair_strain[f"green_lagrange/{c}"]
                                  for c in ("circumferential", "radial")], axis=1)[1:]).mean()
    assert float(term) == pytest.approx(want, rel=1e-6) and want > 0.01
    es = int(pool["es_frame"][i])
    assert mine.curve("radial", region="endo-epi")[es] < strain.curve("radial", region="endo-epi")[es] - 0.05


def test_init_weights_starts_from_registered_weights_whole_or_by_matching_tensors():
    import torch

    from cardiogen.nets.tag_tracker import TagTracker, TagTrackerConfig
    from cardiogen.train import init_weights
    from cardiogen.weights import Registry

    entry = _shipped()
    cfg = dict(entry.config["model"])
    model = init_weights(TagTracker(TagTrackerConfig.from_dict(cfg)), {**cfg, "init_from": SHIPPED})
    state = Registry().load_state_dict(SHIPPED)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    other = TagTracker(TagTrackerConfig.from_dict({**cfg, "hidden": 48}))
    fresh = {k: v.clone() for k, v in other.state_dict().items()}
    init_weights(other, {"init_from": SHIPPED, "init_partial": True})
    got = other.state_dict()
    assert all(torch.equal(got[k], state[k]) for k in got if k.startswith("cnn."))
    assert torch.equal(got["gru.weight_hh"], fresh["gru.weight_hh"])  # another shape: kept fresh
    untouched = TagTracker(TagTrackerConfig.from_dict(cfg))
    assert init_weights(untouched, cfg) is untouched


def test_incremental_demons_baseline_follows_the_wall():
    pool = tt.tracking_pool((1000,), 64, 20, 10, 24)
    i = len(pool["images"]) // 2
    truth, sp = pool["tracks"][i], pool["spacing"][i]
    carried = tt.track_demons(pool["images"][i], truth[0], sp)
    err = np.linalg.norm((carried - truth) * sp, axis=-1)[1:].mean()
    still = np.linalg.norm((truth - truth[:1]) * sp, axis=-1)[1:].mean()
    assert err < 0.8 * still


SHIPPED = "tag-tracker-phantom-64"


def _shipped():
    from cardiogen.weights import Registry

    try:
        return Registry().get(SHIPPED)
    except Exception as exc:  # noqa: BLE001 - absent weights: say so
        pytest.skip(f"no shipped tag tracker: {exc}")


def _start_landmarks(case, z):
    from cardiogen.data import LandmarkSeries

    got = tt.slice_tracks(case, z)
    m = case.tagging.geometry.index_to_world()
    px = got["tracks"][0]
    lps = (m @ np.c_[px, np.full(len(px), float(z)), np.ones(len(px))].T).T[:, :3]
    return LandmarkSeries(lps[None], labels={"layer": got["layer"], "sector": got["sector"]},
                          geometry=case.tagging.geometry), got["tracks"]


def test_shipped_tracker_on_held_out_phantom_and_the_analytic_generator():
    """Held-out phantom subject 1003 (whole API: LandmarkSeries in, LandmarkSeries out) and two analytic cases:
    the learned tracker is closer to the exact tracks than incremental demons and than no motion."""
    _shipped()
    case = make_case(PhantomConfig(seed=1003, size=64, frames=20, slices=10, modalities=("tagging",)))
    start, truth = _start_landmarks(case, 5)
    tracked = tt.track_landmarks(case.tagging, start)
    assert tracked.points.shape == (20, 72, 3) and tracked.provenance["weights"] == SHIPPED
    wi = case.tagging.geometry.world_to_index()
    px = (wi @ np.c_[tracked.points.reshape(-1, 3), np.ones(20 * 72)].T).T[:, :2].reshape(20, 72, 2)
    sp = case.tagging.spacing[:2]
    learned = np.linalg.norm((px - truth) * sp, axis=-1)[1:].mean()
    demons = np.linalg.norm((tt.track_demons(case.tagging.array[:, 5], truth[0], sp) - truth) * sp, axis=-1)[1:].mean()
    still = np.linalg.norm((truth - truth[:1]) * sp, axis=-1)[1:].mean()
    assert learned < demons and learned < 0.5 * still, (learned, demons, still)
    model, entry = tt.load_tracker(SHIPPED)
    # wall thickening over two held-out subjects' slices: no systematic under-estimate of ES radial (endo-epi)
    # strain (the positions-only stage 1 read it 0.12 low here; single slices scatter by about 0.1 on 2.9 mm pixels)
    bias = tt.evaluate_tracking(model, tt.tracking_pool((1003, 1004), 64, 20, 10, 24))["learned"]["strain_bias_es"]
    assert abs(bias["radial/endo-epi"]) < 0.06 and abs(bias["circumferential/global"]) < 0.02, bias
    pool = tt.analytic_pool(2, float(entry.geometry["pixel_mm"]))
    res = tt.evaluate_tracking(model, pool, demons=True)
    still = np.mean([np.linalg.norm((t - t[:1]) * s, axis=-1)[1:].mean()
                     for t, s in zip(pool["tracks"], pool["spacing"])])
    assert res["learned"]["landmark_error_mm"] < min(res["demons"]["landmark_error_mm"], 0.7 * still), res


def test_pretraining_stages_are_registered_but_never_offered(tmp_path):
    """A config's export.pipeline registers a stage under another pipeline (the shipped trackers' positions-only
    stage 1): a tracked sequence never gets it, and the stage-2 config starts from it."""
    from cardiogen.train import load_config, train
    from cardiogen.weights import Registry

    cfg = load_config("tag_tracker_tiny.yaml")
    cfg["export"] = dict(cfg["export"], id="tag-tracker-tiny-stage1", pipeline="tag_tracking_pretrain")
    train("tag_tracker", cfg, tmp_path / "run", register_dir=tmp_path / "reg")
    assert Registry([tmp_path / "reg"]).get("tag-tracker-tiny-stage1").pipeline == "tag_tracking_pretrain"
    _shipped()
    offered = [e.id for e in Registry().list("tag_tracking")]
    assert offered and not any(i.endswith("-stage1") for i in offered), offered
    for size in ("", "_128"):
        stage2 = load_config(f"tag_tracker_phantom{size}.yaml")
        start = Registry().get(stage2["model"]["init_from"])
        assert start.pipeline == "tag_tracking_pretrain" and stage2["train"]["strain_weight"] > 0
        assert not load_config(f"tag_tracker_phantom{size}_stage1.yaml")["train"].get("strain_weight")


def test_tracker_refuses_a_grid_it_was_not_trained_for():
    import dataclasses

    _shipped()
    case = make_case(PhantomConfig(seed=1004, size=64, frames=16, slices=10, modalities=("tagging",)))
    start, _ = _start_landmarks(case, 5)
    with pytest.raises(CardioGenInputError, match="trained on 20-frame"):
        tt.track_landmarks(case.tagging, start, weights="tag-tracker-phantom-64")
    with pytest.raises(CardioGenInputError, match="no tag tracker is trained for this sequence's frames"):
        tt.track_landmarks(case.tagging, start)  # none of the registered trackers fits: it says which exist
    case = make_case(PhantomConfig(seed=1004, size=64, frames=20, slices=10, modalities=("tagging",)))
    start, _ = _start_landmarks(case, 5)
    assert tt.tracker_for(case.tagging) == "tag-tracker-phantom-64"
    fine = dataclasses.replace(case.tagging, geometry=case.tagging.geometry.replace(
        spacing=(1.2, 1.2, case.tagging.spacing[2])))
    with pytest.raises(CardioGenInputError, match="resample the sequence in-plane"):
        tt.track_landmarks(fine, start, weights="tag-tracker-phantom-64")
    coarse = dataclasses.replace(case.tagging, geometry=case.tagging.geometry.replace(
        spacing=(6.0, 6.0, case.tagging.spacing[2])))
    with pytest.raises(CardioGenInputError, match="tag-tracker-phantom-64: 20 frames"):
        tt.track_landmarks(coarse, start)
    with pytest.raises(CardioGenInputError, match="lie in one slice"):
        tt.track_landmarks(case.tagging, start, z_index=2)


def test_the_tracker_of_the_seed_s_resolution_is_chosen_for_fine_pixels_and_tracks_closer():
    """A 128² phantom (about 1.4 mm pixels, 7 mm tags, as UK Biobank tagging) picks tag-tracker-phantom-128 by
    itself; on a held-out subject it follows the exact tracks more closely than the 64² tracker does on 64²."""
    from cardiogen.weights import Registry

    try:
        Registry().get("tag-tracker-phantom-128")
    except Exception as exc:  # noqa: BLE001 - absent weights: say so
        pytest.skip(f"no fine tag tracker: {exc}")
    errors = {}
    for size in (64, 128):
        case = make_case(PhantomConfig(seed=1005, size=size, frames=20, slices=10, modalities=("tagging",)))
        z = next(z for z in range(case.tagging.shape[1] // 2, case.tagging.shape[1]) if tt.slice_tracks(case, z))
        start, truth_px = _start_landmarks(case, z)
        assert tt.tracker_for(case.tagging) == f"tag-tracker-phantom-{size}"
        out = tt.track_landmarks(case.tagging, start)
        wi = case.tagging.geometry.world_to_index()
        px = (wi @ np.c_[out.points.reshape(-1, 3), np.ones(out.points[..., 0].size)].T).T[:, :2]
        d = np.linalg.norm((px.reshape(truth_px.shape) - truth_px) * case.tagging.spacing[0], axis=-1)
        errors[size] = float(d[1:].mean())
        assert out.provenance["weights"] == f"tag-tracker-phantom-{size}"
    assert errors[128] < 0.5 and errors[128] < errors[64], errors
