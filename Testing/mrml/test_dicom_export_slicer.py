"""The Slicer-side DICOM export (SynthesisLogic.export of a synthetic sequence node) passes dciodvfy."""
from __future__ import annotations

import numpy as np

from cardiogen.data import ImageSeries
from dciodvfy_check import assert_conforms, dciodvfy


def test_synthesis_export_of_a_synthetic_cine_node_conforms(scene, tmp_path):
    dciodvfy()
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic

    rng = np.random.default_rng(1)
    series = ImageSeries(rng.uniform(0.0, 1.0, size=(3, 2, 10, 12)).astype(np.float32),
                         frame_times=[0.0, 35.0, 70.0], modality="cine").mark_synthetic("unit-test", seed=1)
    nodes = mb.image_series_to_nodes(series, "cine", scene=scene)
    out = SynthesisLogic.export(nodes.volume, tmp_path / "dicom")
    assert_conforms(out, "MRImage")
    from cardiogen.io.dicom_io import read_dicom_series

    back = read_dicom_series(out)
    assert back.synthetic and back.modality == "cine"
    assert np.abs(back.array - series.array).max() <= 1.0 / 131070 * 1.01
