"""CardioGen Latent Explorer panel, offscreen, with the shipped GANcMRI generator: sliders drive a live ED preview
whose measured phenotype moves the right way, release generates the video in the background (synthetic sequence),
projection of a cine, Cancel, export."""
from __future__ import annotations

import pytest
from qt_helpers import wait_for_job


@pytest.fixture(scope="module")
def shipped():
    from cardiogen.weights import Registry

    try:
        Registry().get("gancmri-phantom-64")
        Registry().get("gancmri-phantom-64-directions")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped latent model missing: {exc}")
    return True


def _widget(tmp_path):
    import CardioGenLatent
    from CardioGenSlicerLib.latent_logic import LatentLogic
    from PySide6 import QtWidgets

    parent = QtWidgets.QWidget()
    parent.resize(420, 760)
    logic = CardioGenLatent.CardioGenLatentLogic(LatentLogic(work_root=tmp_path / "latent"))
    widget = CardioGenLatent.CardioGenLatentWidget(parent, logic=logic)
    widget.setup()
    parent.show()
    return widget, parent


def test_dragging_sliders_moves_the_measured_phenotype_and_release_makes_a_video(qapp, tmp_path, shipped,
                                                                                 artifacts_dir):
    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert {"lv_area", "sphericity", "myo_thickness"} <= set(widget.sliders)
    ui.seedSpinBox.setValue(5)
    ui.autoVideoCheckBox.setChecked(False)
    ui.applyStartButton.click()
    assert widget.start is not None and widget.logic.preview_node is not None
    assert "(synthetic)" in widget.logic.preview_node.GetName()
    base = dict(widget.lastMeasured)
    for name in ("lv_area", "sphericity"):
        slider = widget.sliders[name]
        slider.drag(slider.minimum)  # mouse still down: live preview only, no job
        low = widget.lastMeasured[name]
        slider.drag(slider.maximum)
        high = widget.lastMeasured[name]
        assert widget.job is None
        assert widget.sliderValues() == {}, name  # a drag alone moves no slider: base is the comparison at c=0
        # the phenotype moves the right way through the unmoved heart (seed 5: lv_area 19.2 < 48.1 < 64.2 cm²,
        # sphericity 0.53 < 0.60 < 0.69)
        assert low < base[name] < high, (name, low, base[name], high)
        # the slider is in the phenotype's unit: its ends are the values measured there, its rest the heart's own
        assert (low, high) == pytest.approx((slider.minimum, slider.maximum), abs=1.5 * 10.0 ** -slider.decimals)
        assert slider.value == pytest.approx(base[name], abs=10.0 ** -slider.decimals)
    assert widget.logic.last_preview_seconds < 1.0  # one generator pass
    ui.framesSpinBox.setValue(12)
    ui.autoVideoCheckBox.setChecked(True)
    area = widget.sliders["lv_area"]
    target = base["lv_area"] + 0.5 * (area.maximum - base["lv_area"])
    area.drag(target)
    area.release()  # release: the video is generated in the background from the c giving that area
    assert widget.job is not None
    c = widget.sliderValues()["lv_area"]
    assert 0.0 < c < widget.scales["lv_area"].cs[-1]
    assert widget.lastMeasured["lv_area"] == pytest.approx(target, rel=0.1)  # the previewed heart has about it
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), ui.statusLabel.text
    video = widget.results[-1].series["cine"]
    assert video.sequence.GetNumberOfDataNodes() == 12
    assert "(synthetic)" in video.volume.GetName() and video.volume.GetAttribute("CardioGen.Synthetic") == "1"
    parent.grab().save(str(artifacts_dir / "panel_CardioGenLatent.png"))
    ui.exportPathLineEdit.setCurrentPath(str(tmp_path / "latent.gif"))
    ui.exportButton.click()
    assert (tmp_path / "latent.gif").stat().st_size > 500, ui.statusLabel.text


def test_slider_labels_are_in_physical_units_and_reset_returns_the_heart(qapp, tmp_path, shipped):
    widget, _ = _widget(tmp_path)
    labels = {name: label.text for name, label in widget.sliderLabels.items()}
    assert all("(direction c)" in text for text in labels.values()), labels  # no heart yet: c
    assert (widget.sliders["lv_area"].minimum, widget.sliders["lv_area"].maximum) == (-2.0, 3.0)
    widget.ui.seedSpinBox.setValue(3)
    widget.ui.autoVideoCheckBox.setChecked(False)
    widget.ui.applyStartButton.click()
    labels = {name: label.text for name, label in widget.sliderLabels.items()}
    assert labels["lv_area"] == "LV area (cm²):" and widget.sliders["lv_area"].suffix == " cm²"
    assert labels["myo_thickness"] == "Myocardial thickness (mm):" and widget.sliders["myo_thickness"].suffix == " mm"
    assert labels["sphericity"] == "Sphericity (width/length):"
    assert labels["ef_area"] == "Fractional area change (direction c):"  # a video phenotype: measured per video
    text = widget.ui.measuredLabel.text
    assert "cm²" in text and " mm" in text and "px" not in text and "% of frame" not in text, text
    # phantom-sized numbers: a 179 mm field of view, LV area tens of cm², wall a few mm
    assert 10 < widget.lastMeasured["lv_area"] < 120 and 1 < widget.lastMeasured["myo_thickness"] < 10
    thick = widget.sliders["myo_thickness"]
    thick.setValue(thick.maximum)
    assert widget.sliderValues()["myo_thickness"] == pytest.approx(widget.scales["myo_thickness"].cs[-1])
    assert widget.lastMeasured["myo_thickness"] == pytest.approx(thick.maximum, abs=0.15)
    widget.ui.resetSlidersButton.click()
    assert widget.sliderValues() == {}
    assert thick.value == pytest.approx(widget.scales["myo_thickness"].at_zero, abs=0.05)


def test_project_a_cine_then_cancel_a_video(qapp, tmp_path, shipped):
    import slicer
    from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest

    data = DataLogic(work_root=tmp_path / "data")
    loaded = data.import_result(data.start_phantom(PhantomRequest(size=64, frames=8, modalities=("cine",), seed=3,
                                                                  view="4ch")).wait(300), name="Phantom 3")
    widget, _ = _widget(tmp_path)
    ui = widget.ui
    ui.startComboBox.setCurrentIndex(1)
    ui.cineSelector.setMRMLScene(slicer.mrmlScene)
    ui.cineSelector.setCurrentNode(loaded.nodes["cine"])
    ui.projectionStepsSpinBox.setValue(5)
    ui.applyStartButton.click()
    wait_for_job(qapp, widget)
    assert widget.start is not None and widget.start.kind == "project_ed", ui.statusLabel.text
    assert widget.start.ws.shape[0] == 1
    n_before = slicer.mrmlScene.GetNumberOfNodes()
    ui.framesSpinBox.setValue(200)
    ui.tsrSpinBox.setValue(8)
    ui.generateButton.click()
    ui.cancelButton.click()
    assert widget.job.state.value == "cancelled" and ui.statusLabel.text.startswith("Cancelled")
    assert slicer.mrmlScene.GetNumberOfNodes() == n_before


def test_generate_without_a_start_says_what_to_do(qapp, tmp_path, shipped):
    widget, _ = _widget(tmp_path)
    widget.ui.generateButton.click()
    assert widget.job is None and "apply a start" in widget.ui.statusLabel.text
