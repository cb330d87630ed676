"""Pipelines tag_tracking, cine_to_tagging and tagging_to_cine (seed 001, chapter 4) on a held-out phantom slice:
against the phantom's exact tracks and its own tagging, written by the background job, and refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cardiogen.data import LandmarkSeries
from cardiogen.errors import CardioGenInputError
from cardiogen.models.tag_tracking import truth_landmarks
from cardiogen.phantom import PhantomConfig, make_case
from cardiogen.pipelines import get_pipeline, list_pipelines


@pytest.fixture(scope="module")
def case():
    c = make_case(PhantomConfig(seed=1003, size=64, frames=20, slices=10, modalities=("cine", "tagging")))
    z = next(z for z in range(c.tagging.shape[1] // 2, c.tagging.shape[1]) if truth_landmarks(c, z) is not None)
    truth = truth_landmarks(c, z)
    start = LandmarkSeries(truth.points[:1], labels=truth.labels)
    return c, z, truth, start


def test_tagging_pipelines_are_listed_with_their_declarations():
    names = [p["name"] for p in list_pipelines()]
    assert {"tag_tracking", "cine_to_tagging", "tagging_to_cine"} <= set(names)
    c2t = next(p for p in list_pipelines() if p["name"] == "cine_to_tagging")
    assert c2t["synthetic"] and [i["name"] for i in c2t["inputs"]] == ["cine", "landmarks", "mask"]


def test_tag_tracking_pipeline_follows_the_truth(case):
    c, z, truth, start = case
    out = get_pipeline("tag_tracking").run({"tagging": c.tagging, "landmarks": start})
    tracked, strain = out["landmarks"], out["strain"]
    assert tracked.points.shape == truth.points.shape
    err = np.linalg.norm(tracked.points - truth.points, axis=-1)
    still = np.linalg.norm(truth.points[:1] - truth.points, axis=-1)
    assert err[1:].mean() < 1.5 and err[1:].mean() < 0.5 * still[1:].mean()
    es = c.truth.es_frame
    from cardiogen.motion.landmarks import landmark_strain_series

    true_circ = landmark_strain_series(truth).curve("circumferential")[es]
    assert true_circ < -0.1 and abs(strain.curve("circumferential")[es] - true_circ) < 0.03


def test_cine_to_tagging_pipeline_synthesises_this_slice_s_tagging(case):
    from cardiogen.models.tag_tracking import crop_sequence

    c, z, truth, start = case
    pipe = get_pipeline("cine_to_tagging")
    out = pipe.run({"cine": c.cine, "landmarks": start})["tagging"]
    assert out.synthetic and "SYNTHETIC" in out.description and out.provenance["weights"] == "smcvae-phantom-64"
    assert out.shape == (20, 1, 40, 40) and out.provenance["slice"] == z
    # placed where it was cut: the crop's first pixel is the series' pixel (x0, y0) on slice z
    x0, y0 = out.provenance["crop_origin_px"]
    np.testing.assert_allclose(out.geometry.origin,
                               (c.cine.geometry.index_to_world() @ np.array([x0, y0, z, 1.0]))[:3], atol=1e-6)
    true_tag, _ = crop_sequence(c.tagging.array[:, z], _px(c, start)[:, :2], 40)
    other, _ = crop_sequence(c.tagging.array[:, z], _px(c, start)[:, :2] + 6.0, 40)
    rmse = np.sqrt(np.mean((out.array[:, 0] - np.clip(true_tag, 0, 1)) ** 2))
    assert rmse < 0.1 and rmse < np.sqrt(np.mean((out.array[:, 0] - np.clip(other, 0, 1)) ** 2))
    # the same crop from the segmentation's LV instead of landmarks; and back to cine
    by_mask = pipe.run({"cine": c.cine, "mask": c.truth.masks}, {"slice": z})["tagging"]
    assert abs(np.subtract(by_mask.provenance["crop_origin_px"], out.provenance["crop_origin_px"])).max() <= 2
    cine = get_pipeline("tagging_to_cine").run({"tagging": c.tagging, "landmarks": start})["cine"]
    assert cine.synthetic and cine.modality == "cine" and cine.shape == (20, 1, 40, 40)


def _px(c, start):
    return LandmarkSeries.mm_to_pixels(start.points[0], c.tagging.geometry)


def test_tagging_pipelines_refuse_what_they_were_not_trained_for(case):
    c, z, truth, start = case
    short = c.cine.with_array(c.cine.array[:10], frame_times=c.cine.frame_times[:10])
    with pytest.raises(CardioGenInputError, match="20-frame"):
        get_pipeline("cine_to_tagging").run({"cine": short, "landmarks": start})
    with pytest.raises(CardioGenInputError, match="needs ED landmarks or an LV segmentation"):
        get_pipeline("cine_to_tagging").run({"cine": c.cine})
    with pytest.raises(CardioGenInputError, match="wrong modality"):
        get_pipeline("tag_tracking").run({"tagging": c.cine, "landmarks": start})


def test_pipeline_job_writes_landmarks_and_strain_curves(case, tmp_path):
    from cardiogen import io
    from cardiogen.jobs import _job_pipeline

    c, z, truth, start = case
    io.save(c.tagging, tmp_path / "tag.seq.nrrd")
    io.save(start, tmp_path / "start.json")
    res = _job_pipeline({"tagging": str(tmp_path / "tag.seq.nrrd"), "landmarks": str(tmp_path / "start.json")},
                        {"pipeline": "tag_tracking"}, tmp_path, None)
    assert res["outputs"] == {"landmarks": "landmarks.landmarks.json", "strain_curves": "strain_curves.csv"}
    back = io.load(tmp_path / "landmarks.landmarks.json")
    assert isinstance(back, LandmarkSeries) and back.points.shape == truth.points.shape
    assert list(back.labels["layer"]) == list(truth.labels["layer"])
    assert res["summary"]["strain"]["green_lagrange/circumferential/global"] < -0.1
    header = (tmp_path / "strain_curves.csv").read_text().splitlines()[0]
    assert "green_lagrange/circumferential/global" in header and "engineering/radial/endo-epi" in header
    json.loads((tmp_path / "landmarks.landmarks.json").read_text())
