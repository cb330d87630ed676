"""ECG → cine in Slicer's views (issue 18 item 9), rendered offscreen: the ECG chart (every lead, the chosen beat's
window, the red cursor) and the synthetic cine from tiny trained models; stepping the cine's browser moves the cursor
across the beat in the rendered chart and changes the rendered slice."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory):
    from ecg_cine_helpers import train_tiny_ecg_cine

    return train_tiny_ecg_cine(tmp_path_factory.mktemp("ecg_cine"))


def _cursor_column(px: np.ndarray) -> int:
    """x pixel of the cursor: the column with the most pure-red pixels (a full-height vertical line; the red-brown
    leads II and V2 are drawn (204, 25, 25) and run horizontally)."""
    red = (px[..., 0] > 200) & (px[..., 1] < 60) & (px[..., 2] < 60)
    counts = red.sum(axis=0)
    assert counts.max() > 0.4 * px.shape[0], f"no full-height red cursor ({counts.max()} px)"
    return int(np.argmax(counts))


def _grey_columns(px: np.ndarray) -> np.ndarray:
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    grey = (np.abs(r - 115) < 30) & (np.abs(g - r) < 8) & (np.abs(b - r) < 8)  # the window lines, (115, 115, 115)
    counts = grey.sum(axis=0)
    return np.flatnonzero(counts > 0.4 * px.shape[0])


def test_cine_browser_moves_the_cursor_over_the_chosen_beat(app, tiny_registry, monkeypatch, tmp_path, artifacts_dir):
    monkeypatch.setenv("CARDIOGEN_USER_MODELS", str(tiny_registry))
    import slicer
    from ecg_cine_helpers import ecg_in_range
    from render_helpers import grab_window, render_chart
    from trame_slicer.views import ViewLayoutDefinition

    from CardioGenSlicerLib import mrml_ecg as me
    from CardioGenSlicerLib import mrml_ecg_window as mew
    from CardioGenSlicerLib.process import JobState
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic

    case = ecg_in_range(20.0)
    nodes = me.ecg_to_nodes(case.ecg, "Phantom ECG")
    table = nodes["table"]
    start, end = mew.select_beat(table, 10)
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Red"))
    view.render_window().SetSize(256, 256)
    logic = SynthesisLogic(work_root=tmp_path / "synth")
    result = logic.start("ecg_to_cine", {"ecg": table}, {"steps": 2, "seed": 1}, weights="ecg-flow-tiny").wait(600)
    assert result.state is JobState.SUCCEEDED, result.error + result.log_tail
    made = logic.import_result(result, table, name="ecg_to_cine", inputs={"ecg": table})
    cine, record = made.series["cine"], made.provenance["cine"]
    r = mew.r_peaks_ms(table)
    assert abs(record["r_peak_ms"] - r[10]) < 20.0
    cine.browser.SetPlaybackActive(False)
    seq = cine.sequence
    frames = seq.GetNumberOfDataNodes()
    chart_px, slice_px, marker_s = [], [], []
    for k in (0, frames // 2, frames - 1):
        cine.browser.SetSelectedItemNumber(k)
        marker_s.append(float(slicer.util.arrayFromTableColumn(nodes["marker_table"], "time_s")[0]))
        assert marker_s[-1] == pytest.approx((record["r_peak_ms"] + float(seq.GetNthIndexValue(k))) / 1000, abs=1e-6)
        chart_px.append(render_chart(nodes["chart"], artifacts_dir / f"render_ecg_cine_chart_{k}.png",
                                     size=(900, 420)).astype(float))
        view.fit_view_to_content()
        view.render()
        slice_px.append(grab_window(view.render_window(), artifacts_dir / f"render_ecg_cine_slice_{k}.png")
                        .astype(float).mean(axis=2))
    # the chart: twelve leads drawn, the window's two grey lines around the red cursor, which moves right
    dark = (chart_px[0].sum(axis=-1) < 300).mean()
    assert 0.005 < dark < 0.6, f"ECG chart blank or saturated ({dark:.3f} dark)"
    cols = [_cursor_column(px) for px in chart_px]
    assert cols[0] < cols[1] < cols[2], cols
    grey = _grey_columns(chart_px[0])
    assert grey.size >= 2 and grey.min() < cols[0] and cols[2] < grey.max(), (grey, cols)
    # pixels per second from the window lines (10 s apart): the cursor moved by the frame times
    px_per_s = (grey.max() - grey.min()) / ((end - start) / 1000.0)
    assert cols[2] - cols[0] == pytest.approx((marker_s[2] - marker_s[0]) * px_per_s, abs=3.0)
    # the cine plays in the slice view: non-blank, and stepping the browser changes it
    assert all(p.std() > 5 for p in slice_px), [p.std() for p in slice_px]
    assert np.abs(slice_px[0] - slice_px[1]).mean() > 1.0
