"""Myocardial landmarks (tagging, seed 001 chapter 4) in Slicer: a markups point list per frame in a sequence that
plays with the tagged images, the point list a user places back to a LandmarkSeries, and landmark strain curves in a
plot view with the definition in the axis title.

* :func:`landmarks_to_nodes`: :class:`cardiogen.data.LandmarkSeries` -> a sequence of ``vtkMRMLMarkupsFiducialNode``
  (one point list per frame, indexed by time in ms), with its own browser or added to the tagging's browser so the
  points move over the images; each point is labelled ``"<layer> <sector>"`` (e.g. "endo 03").
* :func:`node_to_landmarks`: a point list (the current frame of such a sequence, or one the user placed on the ED
  frame) -> a one-frame LandmarkSeries (LPS mm), the labels read back from the point labels.
* :func:`landmark_strain_to_nodes`: the tag_tracking job's curves CSV -> table (time in ms, strain in %) and chart
  of the global circumferential and radial (endo to epi) curves, Green-Lagrange and engineering side by side.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import slicer
import vtk

from cardiogen.data import LandmarkSeries
from cardiogen.errors import CardioGenInputError

from . import mrml_bridge as mb

KIND = "landmarks"
#: The curves plotted and how each definition is written in the chart (the issue: "the definition in the axis label").
DEFINITIONS = {"green_lagrange": "Green-Lagrange ½(L²−L₀²)/L₀²", "engineering": "engineering (L−L₀)/L₀"}
CURVES = (("circumferential", "global"), ("radial", "endo-epi"))
COLORS = {"circumferential": (0.1, 0.3, 0.85), "radial": (0.85, 0.2, 0.15)}


def point_labels(series: LandmarkSeries) -> list[str]:
    """``"<layer> <sector>"`` per point (``"p<i>"`` where a series has no layer/sector labels)."""
    layer, sector = series.labels.get("layer"), series.labels.get("sector")
    if layer is None or sector is None:
        return [f"p{i}" for i in range(series.n_points)]
    return [f"{la} {int(s):02d}" for la, s in zip(layer, sector)]


def _ras(points_lps: np.ndarray) -> np.ndarray:
    """LPS <-> RAS of ``(..., 3)`` points (its own inverse)."""
    return np.asarray(points_lps, float) @ mb.LPS_TO_RAS[:3, :3]


def landmarks_to_nodes(series: LandmarkSeries, name: str, scene: Any = None, browser: Any = None) -> mb.SeriesNodes:
    """Point lists per frame in a sequence (see the module docstring); with ``browser`` (the tagging's, whose index
    values are the same frame times) the points play with its images, else they get their own browser."""
    name = mb.node_name(name, series.synthetic)
    scn = mb._scene(scene)
    labels = point_labels(series)
    temp = slicer.vtkMRMLMarkupsFiducialNode()
    mb._mark(temp, KIND, series.synthetic)
    seq = mb._new_sequence(name, scn)
    for t, pts in zip(series.frame_times, _ras(series.points)):
        temp.RemoveAllControlPoints()
        for p, label in zip(pts, labels):
            temp.AddControlPoint(vtk.vtkVector3d(*p), label)
        seq.SetDataNodeAtValue(temp, f"{float(t):g}")
    mb._mark(seq, KIND, series.synthetic, series.provenance)
    if browser is not None and not _same_times(browser, series.frame_times):
        browser = None
    proxy, own = mb.play_sequence(seq, name, browser, scn)
    proxy.SetName(name)
    mb._mark(proxy, KIND, series.synthetic)
    proxy.SetLocked(True)
    proxy.CreateDefaultDisplayNodes()
    display = proxy.GetDisplayNode()
    display.SetGlyphScale(1.5)
    display.SetTextScale(0.0)  # 72 labels would hide the tags: the point list's table has them
    display.SetSelectedColor(1.0, 0.85, 0.1)
    return mb.SeriesNodes(volume=proxy, sequence=seq, browser=own)


def _same_times(browser: Any, times: np.ndarray) -> bool:
    master = browser.GetMasterSequenceNode()
    if master is None or master.GetNumberOfDataNodes() != len(times):
        return False
    return all(f"{float(master.GetNthIndexValue(i)):g}" == f"{float(t):g}" for i, t in enumerate(times))


def node_to_landmarks(node: Any) -> LandmarkSeries:
    """The point list's current points as one ED frame (LPS mm), layer and sector read from labels ``"endo 03"``."""
    if node is None or not node.IsA("vtkMRMLMarkupsFiducialNode"):
        raise CardioGenInputError("landmarks must be a markups point list", got=getattr(node, "GetClassName",
                                                                                         lambda: type(node))())
    n = node.GetNumberOfControlPoints()
    if n == 0:
        raise CardioGenInputError("the point list has no points", source=node.GetName())
    pts, layers, sectors = np.zeros((n, 3)), [], []
    for i in range(n):
        p = [0.0, 0.0, 0.0]
        node.GetNthControlPointPosition(i, p)
        pts[i] = p
        parts = node.GetNthControlPointLabel(i).split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise CardioGenInputError("each landmark's label must be '<layer> <sector>' (e.g. 'endo 03')",
                                      source=node.GetName(), got=node.GetNthControlPointLabel(i))
        layers.append(parts[0])
        sectors.append(int(parts[1]))
    return LandmarkSeries(_ras(pts)[None], labels={"layer": layers, "sector": sectors},
                          description=f"landmarks from {node.GetName()}")


def landmark_strain_to_nodes(csv_path: str | Path, name: str, scene: Any = None) -> dict:
    """Table (time in ms, strain in %) and chart of the global circumferential and radial endo-epi landmark strain,
    both definitions (:meth:`cardiogen.motion.landmarks.LandmarkStrain.write_csv`'s columns)."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[0], np.array([[float(v) for v in r] for r in rows[1:]], dtype=float)
    cols, labels = [0], ["time (ms)"]
    for definition, text in DEFINITIONS.items():
        for component, region in CURVES:
            key = f"{definition}/{component}/{region}"
            if key not in header:
                raise CardioGenInputError("the strain curves file lacks a curve", source=Path(csv_path).name,
                                          expected=key)
            cols.append(header.index(key))
            labels.append(f"{component} {region}, {text} (%)")
    values = np.column_stack([data[:, 0]] + [100.0 * data[:, i] for i in cols[1:]])
    scn = mb._scene(scene)
    table = scn.AddNewNodeByClass("vtkMRMLTableNode", f"{name} landmark strain")
    slicer.util.updateTableFromArray(table, np.nan_to_num(values, nan=0.0), labels)
    chart = scn.AddNewNodeByClass("vtkMRMLPlotChartNode", f"{name} landmark strain chart")
    chart.SetTitle(f"{name}: strain from tracked landmarks")
    chart.SetXAxisTitle("time (ms)")
    chart.SetYAxisTitle("strain (%): Green-Lagrange ½(L²−L₀²)/L₀² (solid), engineering (L−L₀)/L₀ (dashed)")
    chart.SetLegendVisibility(True)
    made: dict[str, Any] = {"strain_table": table, "strain_chart": chart}
    for label in labels[1:]:
        series = scn.AddNewNodeByClass("vtkMRMLPlotSeriesNode", label[:-len(" (%)")])
        series.SetAndObserveTableNodeID(table.GetID())
        series.SetXColumnName(labels[0])
        series.SetYColumnName(label)
        series.SetPlotType(series.PlotTypeScatter)
        series.SetMarkerStyle(series.MarkerStyleNone)
        series.SetLineWidth(3)
        if DEFINITIONS["engineering"] in label:
            series.SetLineStyle(series.LineStyleDash)
        series.SetColor(*COLORS[label.split()[0]])
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        made[f"curve {label[:-len(' (%)')]}"] = series
    return made

