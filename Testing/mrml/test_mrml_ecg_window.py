"""The ECG input window (issue 18 item 9) on real MRML nodes: chart in s with one series per lead, a beat or a
start/end window stored on the table and drawn in the chart, the windowed ECG, refusals, and the cine cursor."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.errors import CardioGenInputError


@pytest.fixture()
def ecg20(scene):
    """A 20 s phantom ECG (500 Hz, known R peaks) as CardioGen Data shows it."""
    from cardiogen.phantom import PhantomConfig, make_case
    from CardioGenSlicerLib import mrml_ecg as me

    case = make_case(PhantomConfig(seed=1000, modalities=("ecg",), ecg_duration_s=20.0))
    return case, me.ecg_to_nodes(case.ecg, "ECG")


def test_chart_has_one_series_per_lead_in_mv_against_seconds(ecg20):
    import slicer

    case, nodes = ecg20
    chart = nodes["chart"]
    names = [chart.GetNthPlotSeriesNode(i).GetName() for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert names[:12] == list(case.ecg.lead_names) and names[12] == "current frame"
    assert chart.GetXAxisTitle() == "time (s)" and chart.GetYAxisTitle().startswith("mV")
    assert chart.GetLegendVisibility()
    t = slicer.util.arrayFromTableColumn(nodes["display_table"], "time_s")
    assert t[0] == pytest.approx(0.0) and t.size == 5000 and t[-1] == pytest.approx(20.0 - 2 / 500.0)  # drawn
    assert nodes["table"].GetNumberOfRows() == 10000  # the data keeps every sample (the pipeline's input)
    assert nodes["table"].GetNodeReference("CardioGenEcgChart") is chart


def test_beat_window_is_stored_drawn_and_cuts_the_ecg(ecg20):
    import slicer
    from CardioGenSlicerLib import mrml_ecg_window as mew

    case, nodes = ecg20
    table = nodes["table"]
    assert mew.window(table) is None and mew.windowed_ecg(table).n_samples == case.ecg.n_samples
    r = mew.r_peaks_ms(table)
    truth = case.ecg.times_ms[case.ecg.fiducials["R"]]  # the detector finds the phantom's own R peaks
    assert len(r) == len(truth) and np.abs(r - truth).max() < 15.0
    start, end = mew.select_beat(table, 10)
    assert end - start == pytest.approx(10000.0)
    assert start < r[10] < r[11] < end and abs(0.5 * (start + end) - 0.5 * (r[10] + r[11])) < 1.0
    assert mew.window(table) == (start, end) and mew.window_beat(table) == 10
    assert table.GetAttribute(mew.ATTR_START_MS) and table.GetAttribute(mew.ATTR_BEAT) == "10"
    lines = table.GetNodeReference(mew.REF_WINDOW)
    assert slicer.util.arrayFromTableColumn(lines, "start_s").tolist() == pytest.approx([start / 1000] * 2)
    assert nodes["chart"].GetNumberOfPlotSeriesNodes() == 15  # leads, cursor, two window lines
    ecg = mew.windowed_ecg(table)
    assert ecg.start_time_ms == pytest.approx(start) and ecg.duration_s == pytest.approx(10.0, abs=0.005)
    first = int(round(start * 0.5))
    np.testing.assert_allclose(ecg.signals[:, :10], case.ecg.signals[:, first:first + 10])
    # a late beat: the window moves back inside the record
    start, end = mew.select_beat(table, len(r) - 2)
    assert end == pytest.approx(mew.record_span_ms(table)[1])
    mew.set_window(table, 2000.0, 8000.0)  # shorter than 10 s: kept (the front end pads), said so
    assert mew.window_beat(table) is None and "padded" in mew.describe(2000.0, 8000.0)
    assert nodes["chart"].GetNumberOfPlotSeriesNodes() == 15  # the same lines moved


def test_windows_that_cannot_work_are_refused_with_a_message(ecg20):
    from CardioGenSlicerLib import mrml_ecg_window as mew

    _, nodes = ecg20
    table = nodes["table"]
    with pytest.raises(CardioGenInputError, match="too short"):
        mew.set_window(table, 1000.0, 2500.0)
    with pytest.raises(CardioGenInputError, match="empty"):
        mew.set_window(table, 5000.0, 4000.0)
    with pytest.raises(CardioGenInputError, match="no such beat"):
        mew.select_beat(table, 500)
    assert mew.window(table) is None  # nothing stored by a refused window
    with pytest.raises(CardioGenInputError, match="ECG table"):
        mew.set_window(nodes["display_table"], 0.0, 10000.0)


def test_cine_cursor_sits_at_the_r_peak_plus_the_frame_time(ecg20, scene):
    import slicer
    from cardiogen.data import ImageSeries
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_ecg_window as mew

    _, nodes = ecg20
    cine = mb.image_series_to_nodes(ImageSeries(np.zeros((4, 1, 2, 2)), frame_times=[0, 200, 400, 600],
                                                modality="cine"), "cine")
    sync = mew.attach_cine_cursor(cine.browser, nodes["table"], 8123.0)
    for k in (0, 3, 1):
        cine.browser.SetSelectedItemNumber(k)
        got = slicer.util.arrayFromTableColumn(nodes["marker_table"], "time_s")
        assert got.tolist() == pytest.approx([(8123.0 + 200 * k) / 1000] * 2)
    sync.close()
