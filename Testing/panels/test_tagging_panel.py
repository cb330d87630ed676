"""Tagging in Slicer (issue 19 item 8), offscreen: phantom tagging and its ED landmarks loaded through CardioGen Data,
tag tracking and cine -> tagging run from the Synthesis panel; the tracked landmarks move over the tagged images with
their browser and the strain curves carry their definition in the axis title."""
from __future__ import annotations

import numpy as np
import pytest
from qt_helpers import wait_for_job

SEED = 1003


@pytest.fixture()
def tagging_scene(qapp, tmp_path):
    """Phantom cine + tagging (through the Data module's phantom job) and the truth's ED landmarks of one usable slice
    (written to JSON and loaded through the Data module's load job); returns (loaded, landmarks, truth points LPS)."""
    from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

    from cardiogen import io, phantom
    from cardiogen.data import LandmarkSeries
    from cardiogen.models.tag_tracking import truth_landmarks

    request = PhantomRequest(seed=SEED, size=64, frames=20, modalities=("cine", "tagging"))
    data = DataLogic(work_root=tmp_path / "data")
    loaded = data.import_result(data.start_phantom(request).wait(300), name="Phantom")
    opts = request.options()  # the same case in this process, for its exact landmark tracks
    demo = opts.pop("demographics")
    opts["modalities"] = tuple(opts["modalities"])
    case = phantom.make_case(phantom.PhantomConfig(**opts), demographics=phantom.Demographics.for_seed(SEED, **demo))
    z = next(z for z in range(case.tagging.shape[1] // 2, case.tagging.shape[1]) if truth_landmarks(case, z))
    truth = truth_landmarks(case, z)
    io.save(LandmarkSeries(truth.points[:1], labels=truth.labels), tmp_path / "ed_landmarks.json")
    marks = data.import_result(data.start_load(str(tmp_path / "ed_landmarks.json")).wait(120), name="ED")
    return loaded, marks.nodes["landmarks"], truth.points, case.truth.es_frame


def _points_lps(node) -> np.ndarray:
    out = np.zeros((node.GetNumberOfControlPoints(), 3))
    for i in range(len(out)):
        p = [0.0, 0.0, 0.0]
        node.GetNthControlPointPosition(i, p)
        out[i] = p
    return out * np.array([-1.0, -1.0, 1.0])


def _choose(widget, name: str) -> None:
    combo = widget.ui.pipelineComboBox
    combo.setCurrentIndex(next(i for i in range(combo.count) if combo.itemData(i) == name))


def test_tag_tracking_and_cine_to_tagging_from_the_panel(qapp, tmp_path, tagging_scene, artifacts_dir):
    from qt_helpers import synthesis_widget

    loaded, start_node, truth, es = tagging_scene
    assert start_node.IsA("vtkMRMLMarkupsFiducialNode") and start_node.GetNumberOfControlPoints() == truth.shape[1]
    assert start_node.GetNthControlPointLabel(0) == "endo 00"
    np.testing.assert_allclose(_points_lps(start_node), truth[0], atol=1e-3)

    widget, parent = synthesis_widget(tmp_path)
    _choose(widget, "tag_tracking")
    assert set(widget.inputWidgets) == {"tagging", "landmarks"}
    widget.inputWidgets["tagging"].setCurrentNode(loaded.nodes["tagging"])
    widget.inputWidgets["landmarks"].setCurrentNode(start_node)
    widget.ui.runButton.click()
    wait_for_job(qapp, widget)
    assert widget.ui.statusLabel.text.startswith("Done"), widget.ui.statusLabel.text
    made = widget.results[-1]
    tracked = made.series["landmarks"]
    browser = loaded.nodes["tagging_browser"]
    assert browser.IsSynchronizedSequenceNode(tracked.sequence) and tracked.sequence.GetNumberOfDataNodes() == 20
    # the points move over the images with the tagging's browser, where the phantom's wall goes
    browser.SetSelectedItemNumber(es)
    proxy = browser.GetProxyNode(tracked.sequence)
    at_es = _points_lps(proxy)
    assert np.linalg.norm(at_es - truth[es], axis=1).mean() < 1.5
    assert np.linalg.norm(at_es - truth[0], axis=1).mean() > 2.0
    chart = made.nodes["strain_chart"]
    assert "Green-Lagrange ½(L²−L₀²)/L₀²" in chart.GetYAxisTitle() and "(L−L₀)/L₀" in chart.GetYAxisTitle()
    assert chart.GetNumberOfPlotSeriesNodes() == 4
    parent.grab().save(str(artifacts_dir / "panel_CardioGenSynthesis_tagging.png"))

    _choose(widget, "cine_to_tagging")
    widget.inputWidgets["cine"].setCurrentNode(loaded.nodes["cine"])
    widget.inputWidgets["landmarks"].setCurrentNode(start_node)
    widget.ui.runButton.click()
    wait_for_job(qapp, widget)
    assert widget.ui.statusLabel.text.startswith("Done"), widget.ui.statusLabel.text
    synth = widget.results[-1].series["tagging"]
    assert "(synthetic)" in synth.volume.GetName() and synth.volume.GetAttribute("CardioGen.Synthetic") == "1"
    assert synth.sequence.GetNumberOfDataNodes() == 20
