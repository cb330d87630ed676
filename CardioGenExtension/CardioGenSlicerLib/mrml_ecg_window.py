"""The input window a user picks on an ECG table (a beat, or a start/end time), kept on the node, drawn in its chart,
used by ``ecg_to_cine`` as its input; and the cine's ECG cursor.

* :func:`set_window` / :func:`window` store and read the window as attributes of the ECG table
  (:data:`ATTR_START_MS`, :data:`ATTR_END_MS`, :data:`ATTR_BEAT`), so it is saved with the scene; two grey vertical
  lines mark it in the ECG's chart.
* :func:`select_beat` picks a window of :data:`MODEL_SECONDS` around beat k (the R-R interval from R peak k to k+1):
  the pipeline uses the complete cycle nearest its input's middle, so that beat is the one the cine shows.
* :func:`windowed_ecg` is the ECG inside the window (the Synthesis input). ``ecg_to_cine`` takes 10 s
  (:data:`cardiogen.ecg_frontend.SECONDS`): a longer window is cut to its first 10 s; a shorter one of at least
  :data:`MIN_SECONDS` is padded to 10 s with each lead's baseline (its median) by the front end
  (:func:`cardiogen.ecg_frontend.standardise`); the pipeline then still needs two R peaks and a PA-MAE phase whose cycle
  agrees with the R-R interval over the padded 10 s, else it refuses with a :class:`CardioGenInputError` (on phantom
  ECGs 8-10 s windows ran and 3-6 s ones were refused this way); a window shorter than :data:`MIN_SECONDS` is refused
  here.
* :func:`attach_cine_cursor`: frame k of a synthetic cine is at ``r_peak_ms + frame_times[k]`` on the ECG's axis
  (``r_peak_ms`` from the cine's provenance); the chart's red marker follows the cine's browser there.

R-peak detection runs on the table's samples (a few ms for 10 s) when a beat is chosen and is cached on the node.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import slicer

from cardiogen.data import Ecg
from cardiogen.errors import CardioGenInputError

from . import mrml_ecg as me
from .mrml_bridge import ATTR_KIND, _scene

ATTR_START_MS = "CardioGen.EcgWindowStartMs"
ATTR_END_MS = "CardioGen.EcgWindowEndMs"
ATTR_BEAT = "CardioGen.EcgWindowBeat"  #: the beat index the window was chosen for ("" for a start/end window)
ATTR_R_PEAKS = "CardioGen.EcgRPeaksMs"  #: cached R-peak times (ms, comma separated)
REF_WINDOW = "CardioGenEcgWindow"
MODEL_SECONDS = 10.0  #: s, what ecg_to_cine reads (cardiogen.ecg_frontend.SECONDS)
MIN_SECONDS = 2.0  #: s, shorter inputs are refused (cardiogen.ecg_frontend.standardise's min_seconds)


def is_ecg_table(node: Any) -> bool:
    return (node is not None and node.IsA("vtkMRMLTableNode") and node.GetNumberOfColumns() > 1
            and node.GetColumnName(0) == "time_ms" and node.GetAttribute(ATTR_KIND) != "ecg_display")


def _check_table(table: Any) -> None:
    if not is_ecg_table(table):
        raise CardioGenInputError("choose an ECG table (time_ms and one column per lead, as CardioGen Data loads it)",
                                  got=None if table is None else table.GetName())


def record_span_ms(table: Any) -> tuple[float, float]:
    """First and last sample time (ms) of an ECG table."""
    _check_table(table)
    t = slicer.util.arrayFromTableColumn(table, "time_ms")
    return float(t[0]), float(t[-1])


def window(table: Any) -> Optional[tuple[float, float]]:
    """The stored window ``(start_ms, end_ms)``, or None (then the whole record is the input)."""
    start, end = table.GetAttribute(ATTR_START_MS), table.GetAttribute(ATTR_END_MS)
    return (float(start), float(end)) if start and end else None


def window_beat(table: Any) -> Optional[int]:
    beat = table.GetAttribute(ATTR_BEAT)
    return int(beat) if beat else None


def describe(start_ms: float, end_ms: float) -> str:
    """What the pipeline does with a window of this length (the panel shows it)."""
    seconds = (end_ms - start_ms) / 1000.0
    if seconds < MIN_SECONDS:
        return f"{seconds:.1f} s: too short, ECG → cine needs at least {MIN_SECONDS:g} s (it reads {MODEL_SECONDS:g} s)"
    if seconds < MODEL_SECONDS - 1e-6:
        return (f"{seconds:.1f} s: padded to {MODEL_SECONDS:g} s with each lead's baseline; ECG → cine refuses it "
                "(a message, no cine) when the ECG encoder's phase over the padding disagrees with the R peaks, "
                "as it often does below about 8 s")
    if seconds > MODEL_SECONDS + 1e-6:
        return f"{seconds:.1f} s: ECG → cine reads its first {MODEL_SECONDS:g} s"
    return f"{seconds:.1f} s, as ECG → cine reads"


def set_window(table: Any, start_ms: float, end_ms: float, beat: Optional[int] = None) -> tuple[float, float]:
    """Store the input window (clipped to the record) on the table and mark it in the chart; refuses an empty window
    or one shorter than :data:`MIN_SECONDS` (a :class:`CardioGenInputError` saying what and why)."""
    first, last = record_span_ms(table)
    start, end = max(float(start_ms), first), min(float(end_ms), last)
    if end <= start:
        raise CardioGenInputError("the ECG window is empty: its end must come after its start, inside the record",
                                  source=table.GetName(), expected=f"{first / 1000:.2f}-{last / 1000:.2f} s",
                                  got=f"{start_ms / 1000:.2f}-{end_ms / 1000:.2f} s")
    if end - start < MIN_SECONDS * 1000.0:
        raise CardioGenInputError("the ECG window is too short for ECG → cine", source=table.GetName(),
                                  expected=f"≥ {MIN_SECONDS:g} s ({MODEL_SECONDS:g} s are read; shorter is padded)",
                                  got=f"{(end - start) / 1000:.2f} s")
    table.SetAttribute(ATTR_START_MS, repr(start))
    table.SetAttribute(ATTR_END_MS, repr(end))
    table.SetAttribute(ATTR_BEAT, "" if beat is None else str(int(beat)))
    _draw(table, start, end)
    return start, end


def r_peaks_ms(table: Any) -> np.ndarray:
    """R-peak times (ms) of the ECG table, detected once (the library's default detector) and cached on the node."""
    cached = table.GetAttribute(ATTR_R_PEAKS)
    if cached is not None:
        return np.array([float(v) for v in cached.split(",") if v], float)
    from cardiogen.ecg_frontend import detect_r_peaks, remove_baseline

    ecg = me.nodes_to_ecg(table)
    r = detect_r_peaks(remove_baseline(ecg))
    times = ecg.start_time_ms + r * 1000.0 / ecg.sampling_rate
    table.SetAttribute(ATTR_R_PEAKS, ",".join(f"{t:.1f}" for t in times))
    return times


def select_beat(table: Any, index: int, seconds: float = MODEL_SECONDS) -> tuple[float, float]:
    """The window of ``seconds`` centred on beat ``index`` (R peak ``index`` to ``index + 1``), moved to lie inside the
    record; stored with :func:`set_window`."""
    r = r_peaks_ms(table)
    if r.size < 2:
        raise CardioGenInputError("no complete beat found in this ECG", source=table.GetName(), expected="≥ 2 R peaks",
                                  got=int(r.size))
    if not 0 <= int(index) < r.size - 1:
        raise CardioGenInputError("no such beat", source=table.GetName(), expected=f"0-{r.size - 2}", got=int(index))
    first, last = record_span_ms(table)
    centre = 0.5 * (r[index] + r[index + 1])
    start = min(max(centre - 500.0 * seconds, first), max(first, last - 1000.0 * seconds))
    return set_window(table, start, start + 1000.0 * seconds, beat=int(index))


def windowed_ecg(table: Any) -> Ecg:
    """The ECG of the table inside its window (the whole record without one); ``start_time_ms`` stays on the
    record's axis, so the pipeline's ``r_peak_ms`` is a time of this table."""
    ecg = me.nodes_to_ecg(table)
    span = window(table)
    ecg.metadata["source"] = table.GetName()
    if span is None:
        return ecg
    t = ecg.times_ms
    keep = (t >= span[0] - 1e-6) & (t <= span[1] + 1e-6)
    return Ecg(ecg.signals[:, keep], ecg.sampling_rate, ecg.lead_names, start_time_ms=float(t[keep][0]),
               synthetic=ecg.synthetic,
               metadata={"source": f"{table.GetName()} ({span[0] / 1000:.2f}-{span[1] / 1000:.2f} s)"})


def attach_cine_cursor(browser: Any, table: Any, r_peak_ms: float, scene: Any = None) -> me.EcgBrowserSync:
    """Keep the ECG chart's red marker at ``r_peak_ms`` + the browser's current frame time (the cine's frame times
    start at the R peak); makes the chart if the table has none."""
    nodes = me.chart_nodes(table, scene)
    return me.EcgBrowserSync(browser, nodes["marker_table"], offset_ms=float(r_peak_ms))


def _draw(table: Any, start_ms: float, end_ms: float) -> None:
    """Two grey vertical lines at the window's ends in the ECG's chart (made on first use)."""
    nodes = me.chart_nodes(table)
    marker = slicer.util.arrayFromTableColumn(nodes["marker_table"], "mV")
    values = np.array([[start_ms / 1000.0, end_ms / 1000.0, float(marker.min())],
                       [start_ms / 1000.0, end_ms / 1000.0, float(marker.max())]])
    lines = table.GetNodeReference(REF_WINDOW)
    if lines is None:
        scn = _scene(table.GetScene())
        lines = scn.AddNewNodeByClass("vtkMRMLTableNode", table.GetName() + " window")
        slicer.util.updateTableFromArray(lines, values, ["start_s", "end_s", "mV"])
        for label, column in (("window start", "start_s"), ("window end", "end_s")):
            s = me.line_series(scn, label, lines, column, "mV", (0.45, 0.45, 0.45))
            s.SetLineWidth(2)
            nodes["chart"].AddAndObservePlotSeriesNodeID(s.GetID())
        table.SetNodeReferenceID(REF_WINDOW, lines.GetID())
    else:
        slicer.util.updateTableFromArray(lines, values, ["start_s", "end_s", "mV"])
