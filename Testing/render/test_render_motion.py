"""The Motion module's results rendered offscreen: strain overlay from a registration in a slice view, the strain
curves chart and the bull's-eye image."""
from __future__ import annotations

import numpy as np


def test_motion_results_render_overlay_curves_and_bullseye(app, tmp_path, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_strain as ms
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
    chart = render_chart(motion.nodes["curves_chart"], artifacts_dir / "render_motion_curves.png").astype(float)
    assert 0.002 < (chart.sum(axis=-1) < 400).mean() < 0.6
    assert ((chart[..., 2] > 150) & (chart[..., 0] < 80)).sum() > 30, "global circumferential curve (blue) missing"
    bull = mb.nodes_to_image_series(motion.nodes["bullseye"]).array[0, 0]
    inside = bull > ms.OUTSIDE_MASK / 2
    assert inside.mean() > 0.4 and bull[inside].mean() < -0.03  # peak circumferential shortening in the segments
    view2 = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Yellow"))
    view2.render_window().SetSize(300, 300)
    view2.set_background_volume_id(motion.nodes["bullseye"].GetID())
    view2.fit_view_to_content()
    bpx = grab_window(view2.render_window(), artifacts_dir / "render_motion_bullseye.png").astype(float)
    assert ((bpx[..., 2] - bpx[..., 0]) > 30).sum() > 200, "bull's-eye not drawn with the strain colors"
