"""CardioGen Data panel, built offscreen from its .ui file (PySide6) and clicked like a user."""
from __future__ import annotations

import time

import numpy as np
import pytest
from qt_helpers import wait_for_job


def _widget(tmp_path, **logic_kwargs):
    import CardioGenData
    from CardioGenSlicerLib.data_logic import DataLogic
    from PySide6 import QtWidgets

    parent = QtWidgets.QWidget()
    parent.resize(420, 760)
    logic = CardioGenData.CardioGenDataLogic(DataLogic(work_root=tmp_path / "work", **logic_kwargs))
    widget = CardioGenData.CardioGenDataWidget(parent, logic=logic)
    widget.setup()
    parent.show()
    return widget, parent




def _cardiogen_nodes():
    import slicer

    nodes = slicer.mrmlScene.GetNodes()
    return [nodes.GetItemAsObject(i) for i in range(nodes.GetNumberOfItems())
            if nodes.GetItemAsObject(i).GetAttribute("CardioGen.Kind")]


def test_panel_builds_from_ui_file_and_screenshot(qapp, tmp_path, artifacts_dir):
    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert ui.loadButton.text == "Load" and ui.phantomButton.isEnabled() and not ui.cancelButton.isEnabled()
    assert widget.modalities() == ("cine", "tagging", "dense", "ct", "ecg")
    ui.ctCheckBox.setChecked(False)
    assert "ct" not in widget.modalities()
    qapp.processEvents()
    path = artifacts_dir / "panel_CardioGenData.png"
    assert parent.grab().save(str(path))
    assert path.stat().st_size > 5000


def test_phantom_button_runs_in_background_and_loads_nodes(qapp, tmp_path, artifacts_dir):
    pytest.importorskip("cardiogen.phantom", reason="phantom not available")
    widget, parent = _widget(tmp_path)
    ui = widget.ui
    ui.sizeSpinBox.setValue(48)
    ui.framesSpinBox.setValue(12)
    ui.ctCheckBox.setChecked(False)
    ui.phantomButton.click()
    assert ui.cancelButton.isEnabled() and not ui.phantomButton.isEnabled()  # GUI stays responsive: job runs apart
    wait_for_job(qapp, widget)
    assert widget.job.result.error == "" and ui.statusLabel.text == "Done.", ui.summaryTextEdit.toPlainText()
    loaded = widget.loaded[-1]
    assert loaded.nodes["cine_sequence"].GetNumberOfDataNodes() == 12
    assert loaded.nodes["ecg_chart"].GetNumberOfPlotSeriesNodes() == 13
    assert "truth_segmentation" in loaded.nodes and "ct" not in loaded.nodes
    assert "cine" in ui.summaryTextEdit.toPlainText()
    assert ui.progressBar.value == 100 and ui.phantomButton.isEnabled()
    parent.grab().save(str(artifacts_dir / "panel_CardioGenData_loaded.png"))


def test_cancel_leaves_no_partial_nodes_or_files(qapp, tmp_path):
    pytest.importorskip("cardiogen.phantom", reason="phantom not available")
    widget, _ = _widget(tmp_path)
    before = len(_cardiogen_nodes())
    widget.ui.sizeSpinBox.setValue(128)
    widget.ui.framesSpinBox.setValue(50)
    widget.ui.phantomButton.click()
    deadline = time.monotonic() + 60
    while widget.job.fraction <= 0.0 and time.monotonic() < deadline:  # wait until the child is really working
        qapp.processEvents()
        time.sleep(0.02)
    widget.ui.cancelButton.click()
    qapp.processEvents()
    assert widget.job.state.value == "cancelled"
    assert widget.ui.statusLabel.text.startswith("Cancelled")
    assert len(_cardiogen_nodes()) == before
    work = tmp_path / "work"
    assert not work.exists() or list(work.iterdir()) == []
    assert widget.ui.phantomButton.isEnabled() and not widget.ui.cancelButton.isEnabled()


def test_load_button_reads_a_file_and_summarises_it(qapp, tmp_path):
    from cardiogen.data import Geometry, ImageSeries
    from cardiogen.io import save

    series = ImageSeries(np.random.default_rng(0).normal(size=(6, 2, 16, 16)), Geometry((1.5, 1.5, 8.0)),
                         frame_times=np.arange(6) * 40.0, modality="cine")
    path = save(series, tmp_path / "cine.seq.nrrd")
    widget, _ = _widget(tmp_path)
    widget.ui.pathLineEdit.setCurrentPath(str(path))
    widget.ui.loadButton.click()
    wait_for_job(qapp, widget)
    assert widget.ui.statusLabel.text == "Done.", widget.ui.summaryTextEdit.toPlainText()
    node = widget.loaded[-1].nodes["image"]
    assert widget.loaded[-1].nodes["image_sequence"].GetNumberOfDataNodes() == 6
    assert node.GetName() == "cine"
    text = widget.ui.summaryTextEdit.toPlainText()
    assert "cine" in text and "6" in text


def test_bad_file_shows_the_library_error_in_the_panel(qapp, tmp_path):
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: float\ndimension: 3\nsizes: 4 4\n\n" + b"\x00" * 7)
    widget, _ = _widget(tmp_path)
    before = len(_cardiogen_nodes())
    widget.ui.pathLineEdit.setCurrentPath(str(bad))
    widget.ui.loadButton.click()
    wait_for_job(qapp, widget)
    status = widget.ui.statusLabel.text
    assert status.startswith("Error:") and "broken.nrrd" in status
    assert "Traceback" not in status
    assert len(_cardiogen_nodes()) == before


def test_missing_path_is_reported_without_starting_a_job(qapp, tmp_path):
    widget, _ = _widget(tmp_path)
    widget.ui.pathLineEdit.setCurrentPath(str(tmp_path / "nope.dcm"))
    widget.ui.loadButton.click()
    assert widget.job is None
    assert "file or folder not found" in widget.ui.statusLabel.text


def test_ecg_window_by_beat_or_time_is_kept_on_the_ecg(qapp, tmp_path, artifacts_dir):
    """Issue 18.9: choose the ECG → cine input on an ECG's chart: a beat, or start/end; refusals are messages."""
    from cardiogen.phantom import PhantomConfig, make_case
    from CardioGenSlicerLib import mrml_ecg as me
    from CardioGenSlicerLib import mrml_ecg_window as mew

    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert not ui.selectBeatButton.isEnabled() and "Choose an ECG" in ui.windowLabel.text
    case = make_case(PhantomConfig(seed=1000, modalities=("ecg",), ecg_duration_s=20.0))
    nodes = me.ecg_to_nodes(case.ecg, "Phantom 1000 ECG")
    ui.ecgNodeComboBox.setCurrentNode(nodes["display_table"])  # a table, but not an ECG's data
    assert not ui.setWindowButton.isEnabled() and "not an ECG table" in ui.windowLabel.text
    table = nodes["table"]
    ui.ecgNodeComboBox.setCurrentNode(table)
    assert ui.selectBeatButton.isEnabled() and "No window" in ui.windowLabel.text
    assert (ui.windowStartSpinBox.value, ui.windowEndSpinBox.value) == (0.0, 10.0)
    assert ui.windowEndSpinBox.maximum == pytest.approx(20.0, abs=0.01)  # the record, in the box's 0.01 s
    ui.beatSpinBox.setValue(10)
    ui.selectBeatButton.click()
    r = mew.r_peaks_ms(table)
    start, end = mew.window(table)
    assert start < r[10] < r[11] < end and end - start == pytest.approx(10000.0)
    assert ui.windowStartSpinBox.value == pytest.approx(start / 1000, abs=0.01)
    assert "beat 10" in ui.windowLabel.text and "Synthesis" in ui.windowLabel.text
    parent.resize(420, 900)
    qapp.processEvents()
    parent.grab().save(str(artifacts_dir / "panel_CardioGenData_ecg_window.png"))
    ui.windowStartSpinBox.setValue(3.0)
    ui.windowEndSpinBox.setValue(4.5)
    ui.setWindowButton.click()  # 1.5 s: refused, with a message; the beat window stays
    assert ui.windowLabel.text.startswith("⚠") and "too short" in ui.windowLabel.text
    assert mew.window(table) == (start, end)
    ui.beatSpinBox.setValue(400)
    ui.selectBeatButton.click()
    assert "no such beat" in ui.windowLabel.text and mew.window(table) == (start, end)
    ui.windowStartSpinBox.setValue(2.0)
    ui.windowEndSpinBox.setValue(8.0)
    ui.setWindowButton.click()
    assert mew.window(table) == (2000.0, 8000.0) and mew.window_beat(table) is None
    assert "padded" in ui.windowLabel.text and "beat" not in ui.windowLabel.text
    ui.ecgNodeComboBox.setCurrentNode(None)
    ui.ecgNodeComboBox.setCurrentNode(table)  # the stored window comes back with the ECG
    assert (ui.windowStartSpinBox.value, ui.windowEndSpinBox.value) == (2.0, 8.0)
