"""CardioGen Motion panel, offscreen: pick the phantom cine and its truth myocardium, Run, see strain and curves."""
from __future__ import annotations

import pytest
from qt_helpers import wait_for_job


@pytest.fixture()
def phantom_nodes(qapp, tmp_path):
    from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

    data = DataLogic(work_root=tmp_path / "data")
    result = data.start_phantom(PhantomRequest(size=48, frames=10, modalities=("cine", "dense"), seed=4)).wait(300)
    return data.import_result(result, name="Phantom 4 PHANTOM")


def _widget(tmp_path):
    import CardioGenMotion
    from CardioGenSlicerLib.motion_logic import MotionLogic
    from PySide6 import QtWidgets

    parent = QtWidgets.QWidget()
    parent.resize(420, 640)
    logic = CardioGenMotion.CardioGenMotionLogic(MotionLogic(work_root=tmp_path / "motion"))
    widget = CardioGenMotion.CardioGenMotionWidget(parent, logic=logic)
    widget.setup()
    parent.show()
    return widget, parent


def test_demons_run_shows_strain_overlay_curves_and_exports(qapp, tmp_path, phantom_nodes, artifacts_dir):
    import slicer

    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert not ui.runButton.isEnabled()  # nothing selected yet
    ui.inputSelector.setCurrentNode(phantom_nodes.nodes["cine"])
    ui.maskSelector.setCurrentNode(phantom_nodes.nodes["truth_segmentation"])
    ui.methodComboBox.setCurrentText("Demons (classical)")
    assert ui.runButton.isEnabled()
    ui.runButton.click()
    assert ui.cancelButton.isEnabled()
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text == "Done.", ui.statusLabel.text
    motion = widget.results[-1]
    assert motion.peaks["circumferential"]["peak"] < -0.05 and motion.peaks["radial"]["peak"] > 0.05
    assert "peak circumferential" in ui.peaksLabel.text
    assert motion.nodes["displacement_sequence"].GetNumberOfDataNodes() == 10
    assert motion.nodes["displacement"].GetDisplayNode().GetVisualizationMode() == 1  # grid
    comp = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    overlay = motion.strain_nodes["circumferential"].volume
    from CardioGenSlicerLib.mrml_curves import BULLSEYE_VIEW

    for i in range(comp.GetNumberOfItems()):  # every slice view but the bull's-eye's (when that view exists)
        node = comp.GetItemAsObject(i)
        if node.GetLayoutName() != BULLSEYE_VIEW:
            assert node.GetForegroundVolumeID() == overlay.GetID(), node.GetLayoutName()
    assert motion.nodes["curves_chart"].GetNumberOfPlotSeriesNodes() >= 3
    assert motion.nodes["legend"] is not None
    ui.componentComboBox.setCurrentText("radial")
    assert "radial" in ui.statusLabel.text
    colors = slicer.modules.colors.logic()  # one legend, the shown component's
    assert not colors.GetColorLegendDisplayNode(overlay).GetVisibility()
    assert colors.GetColorLegendDisplayNode(motion.strain_nodes["radial"].volume).GetVisibility()
    for i in range(comp.GetNumberOfItems()):  # the bull's-eye keeps its view
        node = comp.GetItemAsObject(i)
        if node.GetLayoutName() == BULLSEYE_VIEW:
            assert node.GetBackgroundVolumeID() == motion.nodes["bullseye"].GetID()
    ui.exportPathLineEdit.setCurrentPath(str(tmp_path / "curves.csv"))
    assert ui.exportButton.isEnabled()
    ui.exportButton.click()
    assert (tmp_path / "curves.csv").read_text().startswith("time_ms") or "time_ms" in (tmp_path / "curves.csv").read_text()
    assert (tmp_path / "curves.peaks.json").is_file()
    parent.grab().save(str(artifacts_dir / "panel_CardioGenMotion.png"))


def test_dense_method_needs_dense_data_and_says_so(qapp, tmp_path, phantom_nodes):
    widget, _ = _widget(tmp_path)
    widget.ui.inputSelector.setCurrentNode(phantom_nodes.nodes["cine"])
    widget.ui.methodComboBox.setCurrentText("DENSE phase")
    widget.ui.runButton.click()
    assert widget.job is None
    assert "DENSE" in widget.ui.statusLabel.text and widget.ui.statusLabel.text.startswith("Error:")


def test_dense_method_on_phantom_dense(qapp, tmp_path, phantom_nodes):
    widget, _ = _widget(tmp_path)
    widget.ui.inputSelector.setCurrentNode(phantom_nodes.nodes["dense_magnitude"])
    widget.ui.methodComboBox.setCurrentText("DENSE phase")
    widget.ui.runButton.click()
    wait_for_job(qapp, widget)
    assert widget.ui.statusLabel.text == "Done.", widget.ui.statusLabel.text
    assert widget.results[-1].peaks["circumferential"]["peak"] < -0.05


def test_cancel_removes_everything(qapp, tmp_path, phantom_nodes):
    import slicer

    widget, _ = _widget(tmp_path)
    n_before = slicer.mrmlScene.GetNumberOfNodes()
    widget.ui.inputSelector.setCurrentNode(phantom_nodes.nodes["cine"])
    widget.ui.methodComboBox.setCurrentText("B-spline (classical)")
    widget.ui.runButton.click()
    widget.ui.cancelButton.click()
    assert widget.job.state.value == "cancelled"
    assert slicer.mrmlScene.GetNumberOfNodes() == n_before
    motion_dirs = [p for p in (tmp_path / "motion").iterdir() if p.name.startswith(("motion", ".motion"))]
    assert motion_dirs == []
