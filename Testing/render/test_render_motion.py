"""The Motion module's results rendered offscreen: strain overlay from a registration in a slice view, the strain
curves chart (in %, curves named by AHA segment, shown in the plot view) and the AHA 17-segment bull's-eye picture
face-on in the Green slice view."""
from __future__ import annotations

import numpy as np
import pytest


def test_motion_results_render_overlay_curves_and_bullseye(app, tmp_path, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.data_logic import DataLogic, PhantomRequest
    from CardioGenSlicerLib.motion_logic import MotionLogic
    from render_helpers import grab_window, render_chart
    from trame_slicer.views import ViewLayoutDefinition

    data = DataLogic(work_root=tmp_path / "d")
    loaded = data.import_result(data.start_phantom(PhantomRequest(size=64, frames=12, modalities=("cine",), seed=6))
                                .wait(300), name="Phantom 6 PHANTOM")
    loaded.nodes["truth_segmentation"].GetDisplayNode().SetVisibility(False)  # only the strain overlay is colored
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Red"))
    view.render_window().SetSize(400, 400)
    green = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Green"))
    green.render_window().SetSize(400, 340)
    plot_view = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotViewNode")  # the layout's plot view
    logic = MotionLogic(work_root=tmp_path / "m")
    result = logic.start("demons", loaded.nodes["cine"], loaded.nodes["truth_segmentation"]).wait(300)
    assert result.error == "", result.log_tail
    motion = logic.import_result(result, loaded.nodes["cine"], name="Phantom 6 motion")
    frame = motion.peaks["circumferential"]["frame"]
    loaded.nodes["cine_browser"].SetSelectedItemNumber(frame)
    motion.strain_nodes["circumferential"].browser.SetSelectedItemNumber(frame)
    slice_node = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceNode").GetItemAsObject(0)
    seg = mb.nodes_to_image_series(loaded.nodes["cine"])
    lv = np.flatnonzero(np.abs(seg.array[0]).sum(axis=(1, 2)) > 0)
    view.fit_view_to_content()
    mb.align_slice_to_volume_plane(slice_node, loaded.nodes["cine"], int(lv[len(lv) // 2]))
    view.render()
    px = grab_window(view.render_window(), artifacts_dir / "render_motion_strain.png").astype(float)
    assert px.std() > 10
    blue = (px[..., 2] - np.maximum(px[..., 0], px[..., 1])) > 40
    assert blue.sum() > 50, "registration-derived circumferential shortening (blue) not shown"
    chart_node = motion.nodes["curves_chart"]
    assert plot_view.GetPlotChartNodeID() == chart_node.GetID()  # shown in the plot view
    assert chart_node.GetYAxisTitle() == "strain (%)" and chart_node.GetLegendVisibility()
    names = [chart_node.GetNthPlotSeriesNode(i).GetName() for i in range(chart_node.GetNumberOfPlotSeriesNodes())]
    assert "global circumferential" in names and "1 basal anterior" in names and "16 apical lateral" in names
    # the table is in %: the global circumferential curve's minimum is the reported peak times 100
    table = motion.nodes["curves_table"]
    global_circ = slicer.util.arrayFromTableColumn(table, "global circumferential (%)")
    assert global_circ.min() == pytest.approx(100 * motion.peaks["circumferential"]["peak"], abs=1e-3)
    assert -40 < global_circ.min() < -3  # a phantom heart's peak circumferential shortening, in %
    chart = render_chart(chart_node, artifacts_dir / "render_motion_curves.png").astype(float)
    assert 0.002 < (chart.sum(axis=-1) < 400).mean() < 0.6
    assert ((chart[..., 2] > 150) & (chart[..., 0] < 80)).sum() > 30, "global circumferential curve (blue) missing"

    bull = motion.nodes["bullseye"]
    assert bull.IsA("vtkMRMLVectorVolumeNode") and bull.GetImageData().GetNumberOfScalarComponents() == 3
    composites = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    green_comp = next(c for c in (composites.GetItemAsObject(i) for i in range(composites.GetNumberOfItems()))
                      if c.GetLayoutName() == "Green")  # other tests of this process may have added views first
    assert green_comp.GetBackgroundVolumeID() == bull.GetID()
    grid = motion.nodes["displacement"].GetDisplayNode()  # the deformation grid stays off the bull's-eye
    slices = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceNode")
    green_slice = next(n for n in (slices.GetItemAsObject(i) for i in range(slices.GetNumberOfItems()))
                       if n.GetLayoutName() == "Green")
    assert not grid.IsDisplayableInView(green_slice.GetID()) and grid.IsDisplayableInView(slice_node.GetID())
    green.fit_view_to_content()  # the view's size (set above) reaches its slice node
    bpx = grab_window(green.render_window(), artifacts_dir / "render_motion_bullseye.png").astype(float)
    shortening = (bpx[..., 2] - bpx[..., 0]) > 60
    assert shortening.sum() > 2000, "bull's-eye segments not drawn with the strain colors (shortening = blue)"
    dark = bpx.max(axis=-1) < 70  # segment borders and the numbers / values written in the segments
    assert 300 < dark.sum() < 0.2 * dark.size, dark.sum()
    legend = (bpx[..., 0] - bpx[..., 2]) > 120  # the legend's red (+) end: no segment is stretched at peak
    assert legend.sum() > 20, "colour legend missing"
    # face-on and unmirrored: the title (text, dark) at the top left, the legend on the right
    cols = np.flatnonzero(legend.any(axis=0))
    assert cols.mean() > 0.6 * bpx.shape[1]
