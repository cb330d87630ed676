"""Strain curves in Slicer's plot view and the AHA bull's-eye picture in a slice view (the Motion module's results).

* :func:`strain_curves_to_nodes`: the motion job's curves CSV (Green-Lagrange, unitless) as a table in **%** with
  named columns ("global circumferential", "1 basal anterior", … as the AHA names the segments), one plot series
  per curve named the same (the chart's legend), axis titles with units; :func:`show_chart` puts the chart in the
  layout's plot view.
* :func:`bullseye_to_node`: the AHA 17-segment bull's-eye of :func:`cardiogen.motion.bullseye.bullseye_rgb`
  (borders, numbers, values in %, colour legend) as an RGB volume; :func:`show_in_slice_view` shows it face-on.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Optional

import numpy as np
import slicer

from . import mrml_bridge as mb
from . import mrml_layout

GLOBAL_COLORS = {"radial": (0.85, 0.2, 0.15), "circumferential": (0.1, 0.3, 0.85), "longitudinal": (0.1, 0.6, 0.2)}
#: one colour per AHA segment (a qualitative palette; the global curves above are drawn thicker, with markers)
SEGMENT_COLORS = ((0.9, 0.6, 0.0), (0.35, 0.7, 0.9), (0.0, 0.6, 0.5), (0.95, 0.9, 0.25), (0.0, 0.45, 0.7),
                  (0.8, 0.4, 0.0), (0.8, 0.6, 0.7), (0.6, 0.6, 0.6), (0.55, 0.35, 0.15), (0.5, 0.0, 0.5),
                  (0.4, 0.75, 0.35), (0.95, 0.5, 0.5), (0.3, 0.3, 0.3), (0.6, 0.8, 0.2), (0.2, 0.2, 0.8),
                  (0.9, 0.3, 0.6))
ATTR_STRAIN_UNIT = "CardioGen.StrainUnit"


def curve_label(column: str) -> Optional[str]:
    """Name of a curves-CSV column: ``global_circumferential`` → "global circumferential",
    ``circumferential_seg01`` → "1 basal anterior"; None for ``time_ms`` and unknown columns."""
    from cardiogen.motion.aha import AHA_NAMES

    if column.startswith("global_"):
        return "global " + column[len("global_"):]
    head, sep, number = column.rpartition("_seg")
    if sep and number.isdigit() and 1 <= int(number) <= len(AHA_NAMES):
        return f"{int(number)} {AHA_NAMES[int(number) - 1]}"
    return None


def read_curves_csv(path: str | Path) -> tuple[list[str], np.ndarray]:
    """(header, rows ``(frames, columns)`` float with NaN) of the motion job's ``strain_curves.csv``."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    data = np.array([[float(v) if v not in ("", "nan") else np.nan for v in r] for r in rows[1:]], dtype=float)
    return rows[0], data.reshape(len(rows) - 1, len(rows[0]))


def strain_curves_to_nodes(csv_path: str | Path, name: str, component: str = "circumferential",
                           scene: Any = None) -> dict:
    """Table (time in ms, strain in %) and chart of the global curves and ``component``'s AHA segment curves."""
    header, data = read_curves_csv(csv_path)
    keep = [i for i, col in enumerate(header[1:], 1)
            if col.startswith("global_") or (col.startswith(component + "_seg") and curve_label(col))]
    labels = ["time (ms)"] + [f"{curve_label(header[i])} (%)" for i in keep]
    values = np.column_stack([data[:, 0]] + [100.0 * data[:, i] for i in keep])
    scn = mb._scene(scene)
    table = scn.AddNewNodeByClass("vtkMRMLTableNode", f"{name} strain curves")
    slicer.util.updateTableFromArray(table, np.nan_to_num(values, nan=0.0), labels)
    table.SetAttribute(ATTR_STRAIN_UNIT, "%")
    chart = scn.AddNewNodeByClass("vtkMRMLPlotChartNode", f"{name} strain curves chart")
    chart.SetTitle(f"{name}: Green-Lagrange strain, global and AHA segments ({component})")
    chart.SetXAxisTitle("time (ms)")
    chart.SetYAxisTitle("strain (%)")
    chart.SetLegendVisibility(True)
    made = {"curves_table": table, "curves_chart": chart}
    for label, i in zip(labels[1:], keep):
        column = header[i]
        series = scn.AddNewNodeByClass("vtkMRMLPlotSeriesNode", label[:-len(" (%)")])
        series.SetAndObserveTableNodeID(table.GetID())
        series.SetXColumnName(labels[0])
        series.SetYColumnName(label)
        series.SetPlotType(series.PlotTypeScatter)
        is_global = column.startswith("global_")
        series.SetMarkerStyle(series.MarkerStyleCircle if is_global else series.MarkerStyleNone)
        series.SetLineWidth(3 if is_global else 1)
        segment = int(column.rpartition("_seg")[2]) if not is_global else 0
        series.SetColor(*(GLOBAL_COLORS.get(column[len("global_"):], (0.4, 0.4, 0.4)) if is_global
                          else SEGMENT_COLORS[(segment - 1) % len(SEGMENT_COLORS)]))
        chart.AddAndObservePlotSeriesNodeID(series.GetID())
        made[f"curve_{column}"] = series
    return made


def show_chart(chart: Any, scene: Any = None) -> None:
    """Show ``chart`` in the layout's plot view (:func:`.mrml_layout.show_chart`: kept in the CardioGen layout)."""
    mrml_layout.show_chart(chart, scene)


def bullseye_to_node(values: Any, name: str, title: str = "", scene: Any = None, limit: float = 30.0) -> Any:
    """The AHA 17-segment bull's-eye picture of segment ``values`` (16 or 17, in %) as an RGB vector volume (one
    pixel per mm, columns to the right and rows downward in its own plane)."""
    from cardiogen.motion.bullseye import bullseye_rgb

    rgb = bullseye_rgb(values, limit=limit, unit="%", title=title)
    node = mb._scene(scene).AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(rgb[None]))  # (k, j, i, RGB)
    node.CreateDefaultDisplayNodes()
    node.SetAttribute(ATTR_STRAIN_UNIT, "%")
    return node


BULLSEYE_VIEW = "Green"  #: the slice view that shows the bull's-eye (the deformation grid stays out of it)


def show_in_slice_view(volume: Any, layout_name: str = BULLSEYE_VIEW, scene: Any = None) -> Optional[Any]:
    """Show ``volume`` alone and face-on (its own plane, fitted) in the slice view ``layout_name``; returns that
    view's slice node, None when the scene has no such view."""
    scn = mb._scene(scene)
    slices, composites = scn.GetNodesByClass("vtkMRMLSliceNode"), scn.GetNodesByClass("vtkMRMLSliceCompositeNode")
    slice_node = next((slices.GetItemAsObject(i) for i in range(slices.GetNumberOfItems())
                       if slices.GetItemAsObject(i).GetLayoutName() == layout_name), None)
    composite = next((composites.GetItemAsObject(i) for i in range(composites.GetNumberOfItems())
                      if composites.GetItemAsObject(i).GetLayoutName() == layout_name), None)
    if slice_node is None or composite is None:
        return None
    composite.SetBackgroundVolumeID(volume.GetID())
    composite.SetForegroundVolumeID(None)
    composite.SetLabelVolumeID(None)
    composite.SetLinkedControl(False)  # not linked to the image views
    mb.align_slice_to_volume_plane(slice_node, volume)
    return slice_node



def views_except(layout_name: str, scene: Any = None) -> list[str]:
    """IDs of the scene's slice and 3D view nodes other than the slice view ``layout_name`` (all of them, [] meaning
    every view, when there is no such view): a display node restricted to these stays out of that view."""
    scn = mb._scene(scene)
    views = [c.GetItemAsObject(i) for c in (scn.GetNodesByClass("vtkMRMLSliceNode"),
                                            scn.GetNodesByClass("vtkMRMLViewNode"))
             for i in range(c.GetNumberOfItems())]
    if not any(v.IsA("vtkMRMLSliceNode") and v.GetLayoutName() == layout_name for v in views):
        return []
    return [v.GetID() for v in views if not (v.IsA("vtkMRMLSliceNode") and v.GetLayoutName() == layout_name)]
