"""Cine registration on the phantom: the shipped LTMA weights and the SimpleITK baseline track the known motion."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from cardiogen.data import DisplacementSeries  # noqa: E402
from cardiogen.errors import CardioGenInputError  # noqa: E402
from cardiogen.motion.register import endpoint_error, register_classical, register_learned, warp_reference  # noqa: E402
from cardiogen.phantom import PhantomConfig, make_case  # noqa: E402
from cardiogen.weights import Registry  # noqa: E402


@pytest.fixture(scope="module")
def case():
    return make_case(PhantomConfig(seed=1010, size=64, frames=12, slices=6, modalities=("cine",)))


def _zero(case):
    t = case.truth.displacement
    return DisplacementSeries(np.zeros_like(t.array), t.geometry, frame_times=t.frame_times)


def _intensity_error(case, disp, mask):
    warped = warp_reference(case.cine, disp)
    return float(np.mean((warped[:, mask] - case.cine.array[:, mask]) ** 2))


def test_shipped_ltma_weights_track_the_phantom_motion(case):
    if not any(e.pipeline == "register" for e in Registry().list()):
        pytest.skip("no LTMA weights shipped")
    myo = case.truth.masks.labels[0] == 2
    disp = register_learned(case.cine, device="cpu")
    assert disp.provenance["weights_sha256"] and disp.array.shape == case.truth.displacement.array.shape
    epe, epe0 = endpoint_error(disp, case.truth.displacement, myo), endpoint_error(_zero(case), case.truth.displacement, myo)
    assert epe < 0.6 * epe0, (epe, epe0)
    heart = case.truth.masks.labels[0] > 0
    assert _intensity_error(case, disp, heart) < 0.7 * _intensity_error(case, _zero(case), heart)


def test_demons_baseline_lowers_the_intensity_error(case):
    myo = case.truth.masks.labels[0] == 2
    disp = register_classical(case.cine, method="demons", iterations=40)
    assert endpoint_error(disp, case.truth.displacement, myo) < 0.7 * endpoint_error(_zero(case), case.truth.displacement, myo)
    heart = case.truth.masks.labels[0] > 0
    assert _intensity_error(case, disp, heart) < 0.7 * _intensity_error(case, _zero(case), heart)


def test_registration_input_errors(case):
    with pytest.raises(CardioGenInputError, match="at least 2 frames"):
        register_classical(case.cine.frame(0))
    with pytest.raises(CardioGenInputError, match="reference frame"):
        register_classical(case.cine, reference=99)
    with pytest.raises(CardioGenInputError, match="unknown classical"):
        register_classical(case.cine, method="optical-flow")
    with pytest.raises(CardioGenInputError, match="shapes differ"):
        endpoint_error(_zero(case), DisplacementSeries(np.zeros((2, 3, 1, 4, 4))), np.ones((1, 4, 4), bool))


def test_motion_job_reports_a_mask_on_the_wrong_grid(tmp_path, case):
    from cardiogen.data import Segmentation
    from cardiogen.io import save
    from cardiogen.jobs import JOBS

    cine = save(case.cine, tmp_path / "cine.seq.nrrd")
    seg = Segmentation(np.full((1, 2, 8, 8), 2, np.uint8))
    mask = save(seg, tmp_path / "mask.seg.nrrd")
    (tmp_path / "out").mkdir()
    with pytest.raises(CardioGenInputError, match="grid differs"):
        JOBS["motion"]({"cine": str(cine), "mask": str(mask)}, {"method": "demons"}, tmp_path / "out", None)
    with pytest.raises(CardioGenInputError, match="needs a DENSE input"):
        JOBS["motion"]({"cine": str(cine)}, {"method": "dense"}, tmp_path / "out", None)
