"""Synthesis panel, "ECG → cine" (issue 18 item 9), offscreen on tiny trained models: the beat window chosen on the
ECG is the input, the job runs in the background process, the synthetic cine's browser moves the ECG cursor; a window
the pipeline cannot use ends in a message, not a crash."""
from __future__ import annotations

import numpy as np
import pytest
from qt_helpers import wait_for_job


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory):
    from ecg_cine_helpers import train_tiny_ecg_cine

    return train_tiny_ecg_cine(tmp_path_factory.mktemp("ecg_cine"))


@pytest.fixture()
def ecg_nodes(qapp, tiny_registry, monkeypatch):
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(tiny_registry))
    from ecg_cine_helpers import ecg_in_range
    from CardioGenSlicerLib import mrml_ecg as me

    case = ecg_in_range(20.0)
    return case, me.ecg_to_nodes(case.ecg, "Phantom ECG")


def _widget(tmp_path):
    from qt_helpers import synthesis_widget

    widget, parent = synthesis_widget(tmp_path)
    combo = widget.ui.pipelineComboBox
    combo.setCurrentIndex(next(i for i in range(combo.count) if combo.itemData(i) == "ecg_to_cine"))
    widget.ui.weightsComboBox.setCurrentText("ecg-flow-tiny")
    widget.optionWidgets["steps"].setValue(2)
    return widget, parent


def test_ecg_to_cine_from_the_panel_moves_the_ecg_cursor(qapp, tmp_path, ecg_nodes, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_ecg_window as mew

    case, nodes = ecg_nodes
    table = nodes["table"]
    start, end = mew.select_beat(table, 10)  # as the Data module's "Select beat" does
    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert widget.currentPipeline()["name"] == "ecg_to_cine" and "ECG" in ui.pipelineComboBox.currentText
    assert set(widget.inputWidgets) == {"ecg"}
    assert "ecg-flow-tiny" in [ui.weightsComboBox.itemText(i) for i in range(ui.weightsComboBox.count)]
    widget.inputWidgets["ecg"].setCurrentNode(table)
    n_before = slicer.mrmlScene.GetNumberOfNodes()
    ui.runButton.click()
    assert widget.job is not None and ui.cancelButton.isEnabled()  # the GUI thread only waits for the job
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), (ui.statusLabel.text, widget.job.result.log_tail)
    made = widget.results[-1]
    cine = made.series["cine"]
    record = made.provenance["cine"]
    assert record["pipeline"] == "ecg_to_cine" and record["weights"] == "ecg-flow-tiny"
    assert "(synthetic)" in cine.volume.GetName() and cine.volume.GetAttribute("CardioGen.Synthetic") == "1"
    assert "ecg_to_cine" in ui.provenanceLabel.text and "ecg-flow-tiny" in ui.provenanceLabel.text
    # the input was the chosen window (the job's CSV), and the cine shows the chosen beat
    written = next((tmp_path / "synth").glob("inputs-*/ecg.csv")).read_text()
    assert f"# start_time_ms: {start!r}" in written
    r = mew.r_peaks_ms(table)
    assert abs(record["r_peak_ms"] - r[10]) < 20.0, (record["r_peak_ms"], r[9:12])
    assert abs(record["rr_ms"] - (r[11] - r[10])) < 20.0
    # the browser moves the red cursor over that beat: frame k at R + frame_times[k]
    seq = cine.sequence
    frames = seq.GetNumberOfDataNodes()
    times = [float(seq.GetNthIndexValue(k)) for k in range(frames)]
    assert times[0] == 0.0 and times[-1] < record["rr_ms"]
    seen = []
    for k in (0, frames // 2, frames - 1):
        cine.browser.SetSelectedItemNumber(k)
        at = slicer.util.arrayFromTableColumn(nodes["marker_table"], "time_s")
        assert at.tolist() == pytest.approx([(record["r_peak_ms"] + times[k]) / 1000.0] * 2, abs=1e-6)
        seen.append(at[0])
    assert r[10] / 1000 - 0.02 < seen[0] < seen[1] < seen[2] < r[11] / 1000
    assert slicer.mrmlScene.GetNumberOfNodes() > n_before and made.ecg_cursors
    parent.grab().save(str(artifacts_dir / "panel_CardioGenSynthesis_ecg_to_cine.png"))


def test_a_window_the_pipeline_cannot_use_is_a_message_not_a_crash(qapp, tmp_path, ecg_nodes):
    import slicer
    from CardioGenSlicerLib import mrml_ecg_window as mew

    _, nodes = ecg_nodes
    table = nodes["table"]
    mew.set_window(table, 3000.0, 6000.0)  # 3 s: padded to 10 s by the front end, then refused by the pipeline
    widget, _ = _widget(tmp_path)
    widget.inputWidgets["ecg"].setCurrentNode(table)
    n_before = slicer.mrmlScene.GetNumberOfNodes()
    widget.ui.runButton.click()
    wait_for_job(qapp, widget)
    text = widget.ui.statusLabel.text
    assert widget.job.result.state.value == "failed" and text.startswith("Error:"), text
    assert "Traceback" not in text and "phase" in text and "R-R" in text, text
    assert slicer.mrmlScene.GetNumberOfNodes() == n_before and widget.ui.runButton.isEnabled()
    with pytest.raises(Exception, match="too short"):  # under 2 s: refused before any job starts
        mew.set_window(table, 3000.0, 4000.0)
    assert np.isclose(mew.window(table)[1] - mew.window(table)[0], 3000.0)
