"""Offscreen rendering helpers for the render tier (real Slicer views via trame-slicer; charts via VTK)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def grab_window(window, path: Path) -> np.ndarray:
    """Render ``window`` (a vtkRenderWindow), save a PNG, return ``(h, w, 3)`` uint8 pixels."""
    import vtk
    from vtk.util import numpy_support

    window.Render()
    grab = vtk.vtkWindowToImageFilter()
    grab.SetInput(window)
    grab.ReadFrontBufferOff()
    grab.SetInputBufferTypeToRGB()
    grab.Update()
    writer = vtk.vtkPNGWriter()
    writer.SetFileName(str(path))
    writer.SetInputConnection(grab.GetOutputPort())
    writer.Write()
    image = grab.GetOutput()
    w, h, _ = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(h, w, 3)


def render_chart(chart_node, path: Path, size=(700, 400)) -> np.ndarray:
    """Draw a vtkMRMLPlotChartNode's series with vtkChartXY (the engine under Slicer's plot view)."""
    import vtk

    view = vtk.vtkContextView()
    view.GetRenderWindow().SetOffScreenRendering(True)
    view.GetRenderWindow().SetSize(*size)
    view.GetRenderer().SetBackground(1, 1, 1)
    chart = vtk.vtkChartXY()
    view.GetScene().AddItem(chart)
    for i in range(chart_node.GetNumberOfPlotSeriesNodes()):
        series = chart_node.GetNthPlotSeriesNode(i)
        table = series.GetTableNode().GetTable()
        line = chart.AddPlot(vtk.vtkChart.LINE)
        line.SetInputData(table, series.GetXColumnName(), series.GetYColumnName())
        line.SetLabel(series.GetName())
        line.SetColor(*(int(255 * c) for c in series.GetColor()), 255)
        line.SetWidth(max(1.0, series.GetLineWidth()))
    chart.SetShowLegend(bool(chart_node.GetLegendVisibility()))  # the series' names, as the plot view shows them
    chart.GetAxis(vtk.vtkAxis.BOTTOM).SetTitle(chart_node.GetXAxisTitle())
    chart.GetAxis(vtk.vtkAxis.LEFT).SetTitle(chart_node.GetYAxisTitle())
    return grab_window(view.GetRenderWindow(), path)
