"""The pipeline registry: declared inputs/options are checked; motion pipelines chain register -> strain."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.errors import CardioGenInputError
from cardiogen.pipelines import get_pipeline, list_pipelines
from cardiogen.phantom import PhantomConfig, make_case


@pytest.fixture(scope="module")
def case():
    return make_case(PhantomConfig(seed=1020, size=48, frames=10, slices=5, modalities=("cine", "dense")))


def test_registry_declares_inputs_outputs_options():
    names = {p["name"]: p for p in list_pipelines()}
    assert {"register", "dense_displacement", "strain"} <= set(names)
    reg = names["register"]
    assert reg["inputs"][0]["kind"] == "ImageSeries" and reg["outputs"][0]["kind"] == "DisplacementSeries"
    assert {o["name"] for o in reg["options"]} == {"method", "reference", "precision"}


def test_register_then_strain(case):
    disp = get_pipeline("register").load(device="cpu").run({"cine": case.cine}, {"method": "demons"})["displacement"]
    strain = get_pipeline("strain").run({"displacement": disp, "mask": case.truth.masks})["strain"]
    assert strain.peak("circumferential") < -0.05 and strain.peak("radial") > 0.05


def test_dense_pipeline(case):
    disp = get_pipeline("dense_displacement").run({"dense": case.dense})["displacement"]
    assert disp.array.shape == case.truth.displacement.array.shape


def test_dense_pipeline_without_contours_reads_the_wall_found_on_the_images(case):
    import dataclasses

    bare = dataclasses.replace(case.dense, segmentation=None)  # as DENSE DICOM arrives
    disp = get_pipeline("dense_displacement").run({"dense": bare})["displacement"]
    assert disp.provenance["mask_source"].startswith("automatic")
    from scipy import ndimage

    # on this coarse grid (4 mm pixels, thick slices) the wall found lies on the LV, not on the RV or the chest wall,
    # but partly on the pool's partial-volume edge (accuracy on a finer grid: test_dense_mask.py)
    ed = case.truth.masks.labels[disp.reference_frame]
    wall = np.stack([ndimage.binary_dilation(z) for z in ed == 2])
    assert np.count_nonzero(disp.mask & ((ed == 1) | (ed == 2))) > 0.95 * np.count_nonzero(disp.mask)
    assert np.count_nonzero(disp.mask & wall) > 0.5 * np.count_nonzero(disp.mask)


def test_bad_inputs_and_options_are_named(case):
    reg = get_pipeline("register")
    with pytest.raises(CardioGenInputError, match="needs input 'cine'"):
        reg.run({})
    with pytest.raises(CardioGenInputError, match="wrong type"):
        reg.run({"cine": case.dense})
    with pytest.raises(CardioGenInputError, match="no such value"):
        reg.run({"cine": case.cine}, {"method": "magic"})
    with pytest.raises(CardioGenInputError, match="unknown options"):
        reg.run({"cine": case.cine}, {"steps": 3})
    with pytest.raises(CardioGenInputError, match="unknown pipeline"):
        get_pipeline("teleport")


def test_pipeline_job_writes_outputs(tmp_path, case):
    from cardiogen.io import load, save
    from cardiogen.jobs import JOBS

    cine = save(case.cine, tmp_path / "cine.seq.nrrd")
    (tmp_path / "out").mkdir()
    result = JOBS["pipeline"]({"cine": str(cine)}, {"pipeline": "register", "device": "cpu",
                                                    "options": {"method": "demons"}}, tmp_path / "out", None)
    disp = load(tmp_path / "out" / result["outputs"]["displacement"])
    assert disp.array.shape == case.truth.displacement.array.shape
    with pytest.raises(CardioGenInputError, match="options.pipeline"):
        JOBS["pipeline"]({}, {}, tmp_path / "out", None)


def test_pipeline_listing_order_does_not_depend_on_import_order():
    """Front ends preselect the first synthesis pipeline; latent_video registered first must not change it."""
    import cardiogen.pipelines as pipelines

    pipelines.list_pipelines()  # every built-in registered
    saved = dict(pipelines.PIPELINES)
    try:
        pipelines.PIPELINES.clear()
        pipelines.PIPELINES["latent_video"] = saved["latent_video"]  # as when it was imported first
        pipelines.PIPELINES.update({k: v for k, v in saved.items() if k != "latent_video"})
        assert list(pipelines.PIPELINES)[0] == "latent_video"
        names = [d["name"] for d in pipelines.list_pipelines()]
        assert names.index("dense_to_cine") < names.index("latent_video")
        assert names[: len(pipelines.BUILTIN_ORDER)] == list(pipelines.BUILTIN_ORDER)
    finally:
        pipelines.PIPELINES.clear()
        pipelines.PIPELINES.update(saved)
