"""CardioGen Synthesis panel, offscreen: generic widgets from the pipeline registry, Run, Cancel, export."""
from __future__ import annotations

import pytest
from qt_helpers import wait_for_job


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """A few-step MFD-V2V model in a temporary user registry (the child job finds it through the environment)."""
    from cardiogen.train import load_config, train

    run = tmp_path_factory.mktemp("mfd") / "run"
    train("mfd_v2v", load_config("mfd_v2v_tiny.yaml"), run, command="pytest")
    return run


@pytest.fixture()
def dense_nodes(qapp, tmp_path, tiny_weights, monkeypatch):
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(tiny_weights))
    from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

    data = DataLogic(work_root=tmp_path / "data")
    result = data.start_phantom(PhantomRequest(size=32, frames=10, modalities=("dense",), seed=8)).wait(300)
    return data.import_result(result, name="Phantom 8 PHANTOM")


def _widget(tmp_path):
    from qt_helpers import synthesis_widget

    return synthesis_widget(tmp_path)


def test_dense_to_cine_from_the_panel_with_synchronised_playback(qapp, tmp_path, dense_nodes, artifacts_dir):
    import slicer

    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert widget.currentPipeline()["name"] == "dense_to_cine"  # the first synthesis pipeline is preselected
    assert set(widget.inputWidgets) == {"dense", "mask"} and {"sampler", "steps", "seed", "samples"} <= set(
        widget.optionWidgets)
    assert "mfd-v2v-tiny-test" in [ui.weightsComboBox.itemText(i) for i in range(ui.weightsComboBox.count)]
    widget.inputWidgets["dense"].setCurrentNode(dense_nodes.nodes["dense_magnitude"])
    widget.optionWidgets["steps"].setValue(3)
    widget.optionWidgets["samples"].setValue(2)
    widget.optionWidgets["mean_start"].setChecked(False)  # the earlier sampler: 3 steps give noisy videos
    assert widget.options()["mean_start"] is False
    ui.runButton.click()
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), ui.statusLabel.text
    made = widget.results[-1]
    assert set(made.series) == {"cine", "cine_2"}
    # the quality check's warnings about those noisy videos reach the status line and its tooltip
    assert made.warnings and "quality check" in made.warnings[0], made.warnings
    from CardioGenSlicerLib.qtcompat import prop

    assert "warning" in ui.statusLabel.text and made.warnings[0] in prop(ui.statusLabel, "toolTip")
    # ... and stand in the panel itself, every one of them, in a label a user sees
    assert ui.warningsLabel.isVisible() and all(w in ui.warningsLabel.text for w in made.warnings)
    # the provenance is shown, kept on the nodes and exported
    record = made.provenance["cine"]
    assert record["pipeline"] == "dense_to_cine"
    assert record["weights"] in [ui.weightsComboBox.itemText(i) for i in range(ui.weightsComboBox.count)]
    shown = ui.provenanceLabel.text
    for part in ("dense_to_cine", record["weights"], record["weights_sha256"][:16], f"seed {record['seed']}",
                 f"sampler {record['sampler']} (3 steps)", f"device {record['device']}", "+1 more output"):
        assert part in shown, (part, shown)
    made.series["cine"].browser.SetSelectedItemNumber(5)  # a step of the browser keeps the proxy's attributes
    for node in (made.series["cine"].volume, made.series["cine"].sequence):
        assert node.GetAttribute("CardioGen.Provenance.WeightsSHA256") == record["weights_sha256"]
        assert node.GetAttribute("CardioGen.Provenance.Seed") == str(record["seed"])
        assert node.GetAttribute("CardioGen.Provenance.Sampler") == record["sampler"]
        assert node.GetAttribute("CardioGen.Provenance.Device") == record["device"]
    cine = made.series["cine"]
    assert "(synthetic)" in cine.volume.GetName() and cine.volume.GetAttribute("CardioGen.Synthetic") == "1"
    browser = dense_nodes.nodes["dense_magnitude_browser"]
    assert browser.IsSynchronizedSequenceNode(cine.sequence)
    browser.SetSelectedItemNumber(4)
    assert cine.browser is not None
    comps = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    if comps.GetNumberOfItems() >= 2:
        assert comps.GetItemAsObject(1).GetBackgroundVolumeID() == cine.volume.GetID()
    parent.grab().save(str(artifacts_dir / "panel_CardioGenSynthesis.png"))
    ui.exportPathLineEdit.setCurrentPath(str(tmp_path / "synthetic.gif"))
    ui.exportButton.click()
    assert (tmp_path / "synthetic.gif").stat().st_size > 500, ui.statusLabel.text
    import json

    sidecar = json.loads((tmp_path / "synthetic.provenance.json").read_text())
    assert sidecar["exported"] == "synthetic.gif" and sidecar["synthetic"] is True
    assert sidecar["key"] == {k: record[k] for k in ("pipeline", "weights", "weights_sha256", "seed", "sampler",
                                                     "device")}
    assert sidecar["provenance"]["quality"] == record["quality"]  # the whole record, not only the key fields
    ui.exportPathLineEdit.setCurrentPath(str(tmp_path / "dicom"))
    ui.exportButton.click()
    import pydicom

    files = sorted((tmp_path / "dicom").glob("*.dcm"))
    assert files, ui.statusLabel.text
    ds = pydicom.dcmread(files[0])
    assert "SYNTHETIC" in ds.SeriesDescription.upper() and list(ds.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert json.loads((tmp_path / "dicom" / "provenance.json").read_text())["key"]["seed"] == record["seed"]
    # a clean run hides the warnings again
    widget._showWarnings([])
    assert not ui.warningsLabel.isVisible() and prop(ui.statusLabel, "toolTip") == ""


def test_cancel_and_missing_input(qapp, tmp_path, dense_nodes):
    import slicer

    widget, _ = _widget(tmp_path)
    widget.inputWidgets["dense"].setCurrentNode(dense_nodes.nodes["dense_phase_x"])  # an image, but not DENSE data
    widget.ui.runButton.click()
    assert widget.job is None and "needs DENSE data" in widget.ui.statusLabel.text
    n_before = slicer.mrmlScene.GetNumberOfNodes()
    widget.inputWidgets["dense"].setCurrentNode(dense_nodes.nodes["dense_magnitude"])
    widget.optionWidgets["steps"].setValue(200)
    widget.ui.runButton.click()
    widget.ui.cancelButton.click()
    assert widget.job.state.value == "cancelled" and widget.ui.statusLabel.text.startswith("Cancelled")
    assert slicer.mrmlScene.GetNumberOfNodes() == n_before
    assert not [p for p in (tmp_path / "synth").iterdir() if p.name.startswith((".dense_to_cine", "dense_to_cine"))]


def test_gpu_out_of_memory_offers_the_cpu(qapp, tmp_path):
    from CardioGenSlicerLib.process import JobResult, JobState

    widget, _ = _widget(tmp_path)
    widget.ui.deviceComboBox.setCurrentText("cuda")
    widget.panel.on_finished(JobResult(JobState.FAILED, error="GPU out of memory while sampling 8 video(s) on cuda"))
    assert widget.ui.deviceComboBox.currentText == "cpu"
    assert "out of memory" in widget.ui.statusLabel.text and "press Run to retry" in widget.ui.statusLabel.text
