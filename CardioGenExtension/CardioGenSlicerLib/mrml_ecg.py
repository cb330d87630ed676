"""ECGs in the scene: a table of the leads (true mV), a stacked display table, one plot series per lead in a chart,
and a red current-frame marker kept in sync with a sequence browser (split from :mod:`.mrml_bridge`)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import slicer
import vtk

from cardiogen.data import Ecg
from cardiogen.errors import CardioGenInputError

from .mrml_bridge import ATTR_SYNTHETIC, _mark, _scene, node_name

ECG_LEAD_OFFSET_MV = 2.5  #: vertical spacing of stacked leads in the chart


def ecg_to_nodes(ecg: Ecg, name: str, scene: Any = None, max_points: int = 5000) -> dict:
    """Table + chart for an ECG.

    * ``table``: time_ms + one column per lead in true mV (decimated to ``max_points`` samples) — the data.
    * ``display_table``: the same leads shifted by −k·:data:`ECG_LEAD_OFFSET_MV` so the chart shows them stacked
      like a paper ECG (lead k at −2.5·k mV), and the plot series (one per lead) read it.
    * ``chart``: the plot chart; ``marker``/``marker_table``: a vertical red line that :func:`set_ecg_marker`
      (or :class:`EcgBrowserSync`) moves to the current frame time.
    """
    scn = _scene(scene)
    name = node_name(name, ecg.synthetic)
    step = max(1, int(np.ceil(ecg.n_samples / max_points)))
    times = ecg.times_ms[::step]
    leads = list(ecg.lead_names)
    table = scn.AddNewNodeByClass("vtkMRMLTableNode", name)
    columns = np.column_stack([times] + [ecg.signals[i, ::step] for i in range(len(leads))])
    slicer.util.updateTableFromArray(table, columns, ["time_ms", *leads])
    table.SetAttribute("CardioGen.SamplingRate", str(ecg.sampling_rate / step))
    _mark(table, "ecg", ecg.synthetic, ecg.metadata)
    offsets = -ECG_LEAD_OFFSET_MV * np.arange(len(leads))
    display = scn.AddNewNodeByClass("vtkMRMLTableNode", name + " display")
    slicer.util.updateTableFromArray(display, np.column_stack([times] + [columns[:, 1 + i] + offsets[i]
                                                                          for i in range(len(leads))]),
                                     ["time_ms", *leads])
    _mark(display, "ecg_display", ecg.synthetic)
    chart = scn.AddNewNodeByClass("vtkMRMLPlotChartNode", name + " chart")
    chart.SetTitle(name)
    chart.SetXAxisTitle("time (ms)")
    chart.SetYAxisTitle(f"mV (lead k drawn at -{ECG_LEAD_OFFSET_MV:g}k mV)")
    series_nodes = []
    colors = _lead_colors(len(leads))
    for lead, color in zip(leads, colors):
        s = scn.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{name} {lead}")
        s.SetAndObserveTableNodeID(display.GetID())
        s.SetXColumnName("time_ms")
        s.SetYColumnName(lead)
        s.SetPlotType(s.PlotTypeScatter)
        s.SetMarkerStyle(s.MarkerStyleNone)
        s.SetColor(*color)
        chart.AddAndObservePlotSeriesNodeID(s.GetID())
        series_nodes.append(s)
    marker_table = scn.AddNewNodeByClass("vtkMRMLTableNode", name + " current time")
    lo = float(columns[:, 1:].min() + offsets.min())
    hi = float(columns[:, 1:].max())
    slicer.util.updateTableFromArray(marker_table, np.array([[0.0, lo], [0.0, hi]]), ["time_ms", "mV"])
    marker = scn.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name + " current frame")
    marker.SetAndObserveTableNodeID(marker_table.GetID())
    marker.SetXColumnName("time_ms")
    marker.SetYColumnName("mV")
    marker.SetPlotType(marker.PlotTypeScatter)
    marker.SetMarkerStyle(marker.MarkerStyleNone)
    marker.SetLineWidth(3)
    marker.SetColor(1.0, 0.0, 0.0)
    chart.AddAndObservePlotSeriesNodeID(marker.GetID())
    return {"table": table, "display_table": display, "chart": chart, "series": series_nodes,
            "marker_table": marker_table, "marker": marker}


def set_ecg_marker(marker_table: Any, time_ms: float) -> None:
    """Move the current-time marker of an ECG chart to ``time_ms``."""
    table = marker_table.GetTable()
    for row in range(2):
        table.SetValue(row, 0, float(time_ms))
    table.Modified()
    marker_table.Modified()


class EcgBrowserSync:
    """Keeps an ECG chart's marker on the browser's current frame time (modulo the RR of the beat shown).

    Observes the browser node; ``update()`` can also be called directly (tests).
    """

    def __init__(self, browser: Any, marker_table: Any, cycle_ms: Optional[float] = None) -> None:
        self.browser = browser
        self.marker_table = marker_table
        self.cycle_ms = cycle_ms
        self._tag = browser.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda *_: self.update())
        self.update()

    def current_time_ms(self) -> float:
        seq = self.browser.GetMasterSequenceNode()
        index = self.browser.GetSelectedItemNumber()
        if seq is None or index < 0:
            return 0.0
        return float(seq.GetNthIndexValue(index))

    def update(self) -> None:
        set_ecg_marker(self.marker_table, self.current_time_ms())

    def close(self) -> None:
        self.browser.RemoveObserver(self._tag)


def nodes_to_ecg(table: Any) -> Ecg:
    """Table node written by :func:`ecg_to_nodes` -> Ecg."""
    names = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    if not names or names[0] != "time_ms":
        raise CardioGenInputError("ECG table must start with a time_ms column", source=table.GetName(), got=names[:1])
    times = slicer.util.arrayFromTableColumn(table, "time_ms")
    signals = np.stack([slicer.util.arrayFromTableColumn(table, n) for n in names[1:]])
    fs = 1000.0 / float(np.median(np.diff(times)))
    return Ecg(signals, fs, tuple(names[1:]), start_time_ms=float(times[0]),
               synthetic=table.GetAttribute(ATTR_SYNTHETIC) == "1")


def _lead_colors(n: int) -> list[tuple[float, float, float]]:
    base = [(0.0, 0.0, 0.0), (0.8, 0.1, 0.1), (0.1, 0.4, 0.8), (0.1, 0.6, 0.2), (0.6, 0.2, 0.7), (0.9, 0.5, 0.0)]
    return [base[i % len(base)] for i in range(n)]


