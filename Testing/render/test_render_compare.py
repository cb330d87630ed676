"""Synthesis QA views, rendered offscreen through real Slicer slice views: the input and the result side by side in
the Red and Yellow views of the side-by-side layout, with one orientation and zoom (their rendered hearts overlap),
linked (a zoom in one follows in the other) and playing together (stepping the input's browser moves both)."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def case():
    phantom = pytest.importorskip("cardiogen.phantom")
    return phantom.make_case(phantom.PhantomConfig(seed=4, size=64, frames=8, slices=6, modalities=("cine",)))


def _views(app):
    from trame_slicer.views import ViewLayoutDefinition

    views = []
    for name in ("Red", "Yellow"):
        view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label=name))
        view.render_window().SetSize(300, 300)
        views.append(view)
    return views


def _grab(view, path):
    from render_helpers import grab_window

    view.render()
    return grab_window(view.render_window(), path).astype(float).mean(axis=2)


def test_input_and_result_side_by_side_in_linked_views_playing_together(app, case, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_compare as mc
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic, SynthesisResult

    views = _views(app)
    layout = (slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLLayoutNode")  # one layout node, as in Slicer (a layout
              or slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLayoutNode"))  # test may have made it already)
    cine = mb.image_series_to_nodes(case.cine, "Phantom cine")
    # a "result" on the same grid: the cine with inverted contrast, marked synthetic
    result_series = case.cine.with_array(case.cine.array.max() - case.cine.array).mark_synthetic("test", seed=3)
    result = mb.image_series_to_nodes(result_series, "Result")
    # an overlay an earlier task left (the case's segmentation): kept out of the compared views, still in the others
    from CardioGenSlicerLib import mrml_segmentation as mseg

    seg = mseg.segmentation_to_node(case.truth.masks, "Case segmentation", 0)
    seg.GetDisplayNode().SetViewNodeIDs([])  # shown everywhere
    made = SynthesisResult(series={"cine": result})
    SynthesisLogic(scene=slicer.mrmlScene)._show(made, cine.volume)

    pairs = mc.compare_views()
    (red, red_comp), (yellow, yellow_comp) = pairs
    assert (red.GetLayoutName(), yellow.GetLayoutName()) == ("Red", "Yellow")
    assert red_comp.GetBackgroundVolumeID() == cine.volume.GetID()
    assert yellow_comp.GetBackgroundVolumeID() == result.volume.GetID()
    assert layout.GetViewArrangement() == layout.SlicerLayoutSideBySideView
    m_red, m_yellow = (slicer.util.arrayFromVTKMatrix(n.GetSliceToRAS()) for n in (red, yellow))
    np.testing.assert_allclose(m_red, m_yellow, atol=1e-6)  # one orientation and centre
    np.testing.assert_allclose(red.GetFieldOfView(), yellow.GetFieldOfView())  # one zoom
    # the cine's own (oblique) plane, not the default axial one
    normal = m_red[:3, 2]
    stack_normal = np.asarray(mb._volume_ijk_to_ras(cine.volume))[:3, 2]
    assert abs(abs(np.dot(normal, stack_normal / np.linalg.norm(stack_normal))) - 1) < 1e-6
    assert red_comp.GetLinkedControl() and yellow_comp.GetLinkedControl()
    assert red.GetViewGroup() == yellow.GetViewGroup()
    display = seg.GetDisplayNode()
    shown_in = {display.GetNthViewNodeID(k) for k in range(display.GetNumberOfViewNodeIDs())}
    if shown_in:  # other views exist: it stays there, out of Red and Yellow
        assert red.GetID() not in shown_in and yellow.GetID() not in shown_in
    else:  # no other view: hidden
        assert not display.GetVisibility()

    # rendered: the same heart at the same place and scale in both views (the result is the inverted input). A window
    # 25 % wider than each volume's range keeps its darkest voxels above the black background outside the volume, so
    # the lit pixels are the volume's footprint.
    for node in (cine.volume, result.volume):
        values = slicer.util.arrayFromVolume(node)
        display = node.GetDisplayNode()
        display.AutoWindowLevelOff()
        display.SetWindowLevel(1.25 * float(np.ptp(values)), 0.5 * float(values.min() + values.max()))
    # slice nodes are singletons per name: a Red or Yellow node that an earlier test of this process rendered in a
    # window of another size keeps that size's dimensions; give both the size of the windows grabbed here
    for node in (red, yellow):
        node.SetDimensions(300, 300, 1)
    a = _grab(views[0], artifacts_dir / "render_compare_input.png")
    b = _grab(views[1], artifacts_dir / "render_compare_result.png")
    assert a.std() > 10 and b.std() > 10, "a compare view is blank"
    inside_a, inside_b = a > 0, b > 0  # the volume's footprint (the background outside it is black)
    iou = (inside_a & inside_b).sum() / max((inside_a | inside_b).sum(), 1)
    assert iou > 0.95, f"input and result footprints differ (IoU {iou:.2f}): not one orientation and zoom"
    both = inside_a & inside_b
    assert np.corrcoef(a[both], b[both])[0, 1] < -0.8, "the result view should show the inverted input, pixel for pixel"

    # playing together: the result follows the input's browser
    assert cine.browser.IsSynchronizedSequenceNode(result.sequence)
    assert cine.browser.GetPlaybackActive() and cine.browser.GetPlaybackLooped()
    cine.browser.SetSelectedItemNumber(3)
    # the node shown in the result view is the one the input's browser drives (not a second proxy of the sequence)
    np.testing.assert_allclose(slicer.util.arrayFromVolume(result.volume),
                               result_series.array[3], atol=1e-4)
    b3 = _grab(views[1], artifacts_dir / "render_compare_result_3.png")
    assert np.abs(b3 - b).mean() > 0.5, "stepping the input's browser did not change the result view"

    # linked: a zoom in the input view follows in the result view (Slicer's slice link logic)
    fov = np.array(red.GetFieldOfView())
    red.SetInteractionFlags(red.FieldOfViewFlag)
    red.SetInteracting(True)
    red.SetFieldOfView(*(fov * 0.5))
    red.SetInteracting(False)
    np.testing.assert_allclose(yellow.GetFieldOfView()[:2], fov[:2] * 0.5, rtol=1e-6)
