"""Strain curves as Slicer table/plot nodes in %, named by AHA segment and shown in the plot view; the bull's-eye
picture as an RGB volume face-on in its slice view; the deformation grid kept out of that view."""
from __future__ import annotations

import numpy as np
import pytest


def _csv(path):
    header = ["time_ms", "global_radial", "global_circumferential"] + [f"circumferential_seg{k:02d}"
                                                                        for k in range(1, 17)] + ["radial_seg01"]
    rows = [[0.0, 0.0, 0.0] + [0.0] * 16 + [0.0], [100.0, 0.2, -0.15] + [-0.01 * k for k in range(1, 17)] + [0.3]]
    rows[1][5] = float("nan")
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in rows) + "\n")
    return path


def test_curve_labels():
    from CardioGenSlicerLib.mrml_curves import curve_label

    assert curve_label("global_circumferential") == "global circumferential"
    assert curve_label("circumferential_seg01") == "1 basal anterior"
    assert curve_label("radial_seg16") == "16 apical lateral"
    assert curve_label("time_ms") is None and curve_label("circumferential_seg17") is None


def test_curves_in_percent_named_by_segment_in_the_plot_view(scene, tmp_path):
    import slicer
    from CardioGenSlicerLib import mrml_curves as mc

    plot_view = scene.AddNewNodeByClass("vtkMRMLPlotViewNode")
    made = mc.strain_curves_to_nodes(_csv(tmp_path / "curves.csv"), "Case", scene=scene)
    table, chart = made["curves_table"], made["curves_chart"]
    columns = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    assert columns[:4] == ["time (ms)", "global radial (%)", "global circumferential (%)", "1 basal anterior (%)"]
    assert "16 apical lateral (%)" in columns and not any("radial_seg" in c or "1 basal anterior" in c and
                                                          c != "1 basal anterior (%)" for c in columns)
    assert len(columns) == 1 + 2 + 16  # the radial segment curves are not plotted (circumferential chosen)
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(table, "global circumferential (%)"), [0.0, -15.0])
    np.testing.assert_allclose(slicer.util.arrayFromTableColumn(table, "2 basal anteroseptal (%)"), [0.0, -2.0])
    assert slicer.util.arrayFromTableColumn(table, "3 basal inferoseptal (%)")[1] == 0.0  # a NaN is drawn at 0
    assert table.GetAttribute("CardioGen.StrainUnit") == "%"
    assert chart.GetYAxisTitle() == "strain (%)" and chart.GetXAxisTitle() == "time (ms)"
    assert chart.GetLegendVisibility()
    names = [chart.GetNthPlotSeriesNode(i).GetName() for i in range(chart.GetNumberOfPlotSeriesNodes())]
    assert names[:3] == ["global radial", "global circumferential", "1 basal anterior"] and len(names) == 18
    first, seg = made["curve_global_circumferential"], made["curve_circumferential_seg01"]
    assert first.GetLineWidth() > seg.GetLineWidth() and first.GetYColumnName() == "global circumferential (%)"
    assert len({made[f"curve_circumferential_seg{k:02d}"].GetColor() for k in range(1, 17)}) == 16
    mc.show_chart(chart, scene)
    assert plot_view.GetPlotChartNodeID() == chart.GetID()


def test_bullseye_volume_face_on_in_its_view_and_the_grid_kept_out(scene):
    import slicer
    from CardioGenSlicerLib import mrml_curves as mc

    values = np.linspace(-20, 0, 16)
    node = mc.bullseye_to_node(values, "Bull", "title", scene)
    arr = slicer.util.arrayFromVolume(node)
    assert node.IsA("vtkMRMLVectorVolumeNode") and arr.ndim == 4 and arr.shape[0] == 1 and arr.shape[-1] == 3
    view = "BullTest"  # a view of its own (earlier tests' views stay in the shared scene)
    assert mc.show_in_slice_view(node, view, scene=scene) is None  # no such view: nothing to do
    assert mc.views_except(view, scene) == []
    nodes = {}
    for name in ("RedTest", view):
        s = scene.AddNewNodeByClass("vtkMRMLSliceNode")
        s.SetLayoutName(name)
        c = scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
        c.SetLayoutName(name)
        nodes[name] = (s, c)
    view3d = scene.AddNewNodeByClass("vtkMRMLViewNode")
    slice_node = mc.show_in_slice_view(node, view, scene=scene)
    green, green_comp = nodes[view]
    assert slice_node is green and green_comp.GetBackgroundVolumeID() == node.GetID()
    # face-on: the picture's plane, its columns to the right (the slice x axis along the volume's i axis)
    m = slicer.util.arrayFromVTKMatrix(green.GetSliceToRAS())
    import vtk

    mat = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(mat)
    ijk = slicer.util.arrayFromVTKMatrix(mat)
    i_axis = ijk[:3, 0] / np.linalg.norm(ijk[:3, 0])
    assert np.dot(m[:3, 0], i_axis) == pytest.approx(1.0)
    assert abs(np.dot(m[:3, 2], ijk[:3, 2] / np.linalg.norm(ijk[:3, 2]))) == pytest.approx(1.0)
    others = set(mc.views_except(view, scene))
    assert {nodes["RedTest"][0].GetID(), view3d.GetID()} <= others and green.GetID() not in others
