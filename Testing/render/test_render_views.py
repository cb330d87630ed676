"""Real Slicer views rendered offscreen (trame-slicer's DirectViewFactory over slicer-core): the phantom cine
with the strain overlay in a slice view, the segmentation in a 3D view, and the ECG chart."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def case():
    phantom = pytest.importorskip("cardiogen.phantom")
    return phantom.make_case(phantom.PhantomConfig(seed=2, size=64, frames=12, slices=8, modalities=("cine", "ecg")))


def _grab(view, path) -> np.ndarray:
    from render_helpers import grab_window

    view.render()
    return grab_window(view.render_window(), path)


def _slice_view(app, name):
    from trame_slicer.views import ViewLayoutDefinition

    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label=name))
    view.render_window().SetSize(400, 400)
    return view


def test_slice_view_shows_cine_with_colored_strain_overlay(app, case, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_strain as ms

    cine = mb.image_series_to_nodes(case.cine, "Phantom cine")
    strain = ms.strain_to_nodes(case.truth.strain, "circumferential", "Phantom")
    view = _slice_view(app, "Red")
    es = int(case.truth.es_frame) if hasattr(case.truth, "es_frame") else case.cine.n_frames // 3
    cine.browser.SetSelectedItemNumber(es)
    strain.browser.SetSelectedItemNumber(es)
    view.set_background_volume_id(cine.volume.GetID())
    view.set_foreground_volume_id(strain.volume.GetID())
    view.set_foreground_opacity(0.7)
    # show the short-axis plane of the (oblique) cine stack, through a mid-ventricular slice
    slice_node = view.logic.GetSliceNode() if hasattr(view, "logic") else slicer.mrmlScene.GetNodesByClass(
        "vtkMRMLSliceNode").GetItemAsObject(0)
    lv_slices = np.flatnonzero((case.truth.masks.labels[0] == 2).any(axis=(1, 2)))
    mid = int(lv_slices[len(lv_slices) // 2])  # mid-ventricular short-axis slice
    view.fit_view_to_content()
    mb.align_slice_to_volume_plane(slice_node, cine.volume, mid)
    pixels = _grab(view, artifacts_dir / "render_slice_cine_strain.png")
    gray = pixels.astype(float)
    assert gray.std() > 10, "slice view is blank"
    r, g, b = gray[..., 0], gray[..., 1], gray[..., 2]
    blue = (b - np.maximum(r, g)) > 40    # circumferential shortening at ES is blue in the diverging table
    assert blue.sum() > 100, f"strain overlay colors missing ({blue.sum()} blue pixels)"
    colored = np.abs(r - g) + np.abs(g - b) > 60
    assert colored.mean() < 0.5, "overlay should cover the myocardium, not the whole view"


def test_threed_view_shows_segmentation_surfaces(app, case, artifacts_dir):
    from CardioGenSlicerLib import mrml_segmentation as mseg
    from trame_slicer.views import ViewLayoutDefinition

    seg_node = mseg.segmentation_to_node(case.truth.masks, "Phantom truth", frame=0)
    seg_node.CreateClosedSurfaceRepresentation()
    view = app.view_manager.create_view(ViewLayoutDefinition.threed_view())
    view.render_window().SetSize(400, 400)
    view.reset_camera()
    view.fit_view_to_content()
    pixels = _grab(view, artifacts_dir / "render_3d_segmentation.png").astype(float)
    background = pixels[2, 2]
    differs = np.abs(pixels - background).sum(axis=-1) > 30
    assert differs.mean() > 0.03, "3D view shows no surfaces"
    r, b = pixels[..., 0], pixels[..., 2]
    assert ((r > 120) & (r > b + 40)).sum() > 50, "LV segment colors (red/yellow) not visible"


def test_ecg_chart_renders_twelve_leads(app, case, artifacts_dir):
    """The ECG table/plot nodes drawn with VTK's chart (the engine under Slicer's plot view)."""
    from CardioGenSlicerLib import mrml_ecg as me

    nodes = me.ecg_to_nodes(case.ecg, "Phantom ECG")
    chart_node = nodes["chart"]
    from render_helpers import render_chart

    assert chart_node.GetNumberOfPlotSeriesNodes() == 13
    px = render_chart(chart_node, artifacts_dir / "render_ecg_chart.png").astype(float)
    dark = (px.sum(axis=-1) < 300).mean()
    assert 0.005 < dark < 0.6, f"ECG chart blank or saturated ({dark:.3f} dark)"
    red = (px[..., 0] > 150) & (px[..., 1] < 90) & (px[..., 2] < 90)
    assert red.sum() > 20, "current-frame marker (red) not drawn"
