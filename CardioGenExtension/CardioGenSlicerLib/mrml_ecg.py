"""ECGs in the scene: a table of the leads (true mV), a stacked display table, one plot series per lead (named by the
lead) in a chart of mV against s, and a red current-frame marker kept in sync with a sequence browser (split from
:mod:`.mrml_bridge`). The input window a user picks on an ECG is :mod:`.mrml_ecg_window`'s."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import slicer
import vtk

from cardiogen.data import Ecg
from cardiogen.errors import CardioGenInputError

from .mrml_bridge import ATTR_SYNTHETIC, _mark, _scene, node_name

ECG_LEAD_OFFSET_MV = 2.5  #: vertical spacing of stacked leads in the chart
#: node references from an ECG table to its display nodes (so any module finds the chart of an ECG it is given)
REF_CHART, REF_DISPLAY, REF_MARKER = "CardioGenEcgChart", "CardioGenEcgDisplay", "CardioGenEcgMarker"


def ecg_to_nodes(ecg: Ecg, name: str, scene: Any = None, max_points: int = 5000) -> dict:
    """Table + chart for an ECG.

    * ``table``: time_ms + one column per lead in true mV, every sample — the data (the input of ECG → cine).
    * the rest as :func:`add_chart` makes them (``display_table``, ``chart``, ``series``, ``marker_table``,
      ``marker``); the chart draws at most ``max_points`` samples per lead.
    """
    scn = _scene(scene)
    name = node_name(name, ecg.synthetic)
    leads = list(ecg.lead_names)
    table = scn.AddNewNodeByClass("vtkMRMLTableNode", name)
    columns = np.column_stack([ecg.times_ms, ecg.signals.T])
    slicer.util.updateTableFromArray(table, columns, ["time_ms", *leads])
    table.SetAttribute("CardioGen.SamplingRate", str(ecg.sampling_rate))
    _mark(table, "ecg", ecg.synthetic, ecg.metadata)
    return {"table": table, **add_chart(table, scn, max_points)}


def add_chart(table: Any, scene: Any = None, max_points: int = 5000) -> dict:
    """The chart of an ECG table (``time_ms`` + one column per lead, mV), referenced from the table.

    * ``display_table``: time in s and the leads (every ``ceil(samples / max_points)``-th sample) shifted by
      −k·:data:`ECG_LEAD_OFFSET_MV` so the chart shows them stacked like a paper ECG (lead k at −2.5·k mV); the plot
      series (one per lead, named by the lead, with a legend) read it.
    * ``chart``: the plot chart (mV against s); ``marker``/``marker_table``: a vertical red line that
      :func:`set_ecg_marker` (or :class:`EcgBrowserSync`) moves to the current frame time.
    """
    scn = _scene(scene)
    name = table.GetName()
    leads = [table.GetColumnName(i) for i in range(1, table.GetNumberOfColumns())]
    times = slicer.util.arrayFromTableColumn(table, "time_ms") / 1000.0
    step = max(1, int(np.ceil(times.size / max_points)))
    times = times[::step]
    values = np.stack([slicer.util.arrayFromTableColumn(table, lead)[::step] for lead in leads], axis=1)
    offsets = -ECG_LEAD_OFFSET_MV * np.arange(len(leads))
    display = scn.AddNewNodeByClass("vtkMRMLTableNode", name + " display")
    slicer.util.updateTableFromArray(display, np.column_stack([times, values + offsets]), ["time_s", *leads])
    _mark(display, "ecg_display", table.GetAttribute(ATTR_SYNTHETIC) == "1")
    chart = scn.AddNewNodeByClass("vtkMRMLPlotChartNode", name + " chart")
    chart.SetTitle(name)
    chart.SetXAxisTitle("time (s)")
    chart.SetYAxisTitle(f"mV (lead k drawn at -{ECG_LEAD_OFFSET_MV:g}k mV)")
    chart.SetLegendVisibility(True)
    series_nodes = []
    for lead, color in zip(leads, _lead_colors(len(leads))):
        s = line_series(scn, lead, display, "time_s", lead, color)
        s.SetAttribute("CardioGen.EcgLead", lead)
        chart.AddAndObservePlotSeriesNodeID(s.GetID())
        series_nodes.append(s)
    marker_table = scn.AddNewNodeByClass("vtkMRMLTableNode", name + " current time")
    lo, hi = float(values.min() + offsets.min()), float(values.max())
    slicer.util.updateTableFromArray(marker_table, np.array([[0.0, lo], [0.0, hi]]), ["time_s", "mV"])
    marker = line_series(scn, "current frame", marker_table, "time_s", "mV", (1.0, 0.0, 0.0))
    marker.SetLineWidth(3)
    chart.AddAndObservePlotSeriesNodeID(marker.GetID())
    for role, node in ((REF_CHART, chart), (REF_DISPLAY, display), (REF_MARKER, marker_table)):
        table.SetNodeReferenceID(role, node.GetID())
    return {"display_table": display, "chart": chart, "series": series_nodes, "marker_table": marker_table,
            "marker": marker}


def chart_nodes(table: Any, scene: Any = None) -> dict:
    """The chart nodes of an ECG table (:func:`add_chart`'s, made now if the table has none): ``chart``,
    ``display_table``, ``marker_table``."""
    chart = table.GetNodeReference(REF_CHART)
    if chart is None:
        made = add_chart(table, scene)
        return {"chart": made["chart"], "display_table": made["display_table"], "marker_table": made["marker_table"]}
    return {"chart": chart, "display_table": table.GetNodeReference(REF_DISPLAY),
            "marker_table": table.GetNodeReference(REF_MARKER)}


def line_series(scene: Any, name: str, table: Any, x: str, y: str, color: tuple) -> Any:
    """A plot series drawing column ``y`` against ``x`` of ``table`` as a line without markers."""
    s = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name)
    s.SetAndObserveTableNodeID(table.GetID())
    s.SetXColumnName(x)
    s.SetYColumnName(y)
    s.SetPlotType(s.PlotTypeScatter)
    s.SetMarkerStyle(s.MarkerStyleNone)
    s.SetColor(*color)
    return s


def set_ecg_marker(marker_table: Any, time_ms: float) -> None:
    """Move the current-time marker of an ECG chart to ``time_ms`` (the chart's axis is in s)."""
    table = marker_table.GetTable()
    for row in range(2):
        table.SetValue(row, 0, float(time_ms) / 1000.0)
    table.Modified()
    marker_table.Modified()


class EcgBrowserSync:
    """Keeps an ECG chart's marker on the browser's current frame time, plus ``offset_ms``: a sequence whose time 0
    is an R peak of the ECG (a synthetic cine of one R-R interval) passes that R peak's time on the ECG's axis.

    Observes the browser node; ``update()`` can also be called directly (tests).
    """

    def __init__(self, browser: Any, marker_table: Any, cycle_ms: Optional[float] = None,
                 offset_ms: float = 0.0) -> None:
        self.browser = browser
        self.marker_table = marker_table
        self.cycle_ms = cycle_ms
        self.offset_ms = float(offset_ms)
        self._tag = browser.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda *_: self.update())
        self.update()

    def current_time_ms(self) -> float:
        seq = self.browser.GetMasterSequenceNode()
        index = self.browser.GetSelectedItemNumber()
        if seq is None or index < 0:
            return 0.0
        return float(seq.GetNthIndexValue(index))

    def update(self) -> None:
        set_ecg_marker(self.marker_table, self.offset_ms + self.current_time_ms())

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


