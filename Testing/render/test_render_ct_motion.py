"""CT motion results (seed 004) in real Slicer views, offscreen: the synthetic ED in a slice view, and the heart
surface in a 3D view at ED and at ES as the pair's browser plays.

The result fed to the nodes has ``ct_motion``'s outputs and conventions but comes from the phantom's exact ES/ED
pair (its ED and its exact flow ED(x) = ES(x + u(x))), so the views show a real heart motion without a trained
model (the tiny test models barely move anything)."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def pair():
    from cardiogen.phantom import PhantomConfig
    from cardiogen.phantom.ct_pair import ct_motion_pair

    return ct_motion_pair(4, config=PhantomConfig(ct_size=64))


def _outputs(p) -> dict:
    from cardiogen.data import DisplacementSeries, ImageSeries

    times = np.array([0.0, p.es_time_ms])
    pair = ImageSeries(np.stack([p.ed, p.es]).astype(np.float32), p.geometry, frame_times=times, modality="ct",
                       description="SYNTHETIC ED + ES CT pair 1 (phantom)").mark_synthetic("ct_motion")
    disp = np.zeros((2, 3) + p.es.shape, np.float32)
    disp[1] = p.flow_mm
    flow = DisplacementSeries(disp, p.geometry, frame_times=times, synthetic=True)
    return {"pair": pair, "flow": flow,
            "ed_samples": ImageSeries(p.ed[None].astype(np.float32), p.geometry, modality="ct").mark_synthetic("x")}


def _grab(view, path) -> np.ndarray:
    from render_helpers import grab_window

    view.render()
    return grab_window(view.render_window(), path).astype(float)


def _foreground(px: np.ndarray) -> np.ndarray:
    """Pixels unlike the 3D view's background (a vertical gradient: each row's own left-edge colour)."""
    return np.abs(px - px[:, :1]).sum(axis=-1) > 30


def test_ct_motion_slice_and_heart_surface_between_es_and_ed(app, pair, artifacts_dir):
    import slicer
    from cardiogen.data import STANDARD_LABELS, Segmentation
    from CardioGenSlicerLib import mrml_segmentation as mseg
    from CardioGenSlicerLib import mrml_ct_motion as mct
    from trame_slicer.views import ViewLayoutDefinition

    g = pair.geometry
    es_heart = Segmentation(pair.es_labels[None], label_table=dict(STANDARD_LABELS), geometry=g)
    heart_node = mseg.segmentation_to_node(es_heart, "Phantom ES heart")
    made = mct.ct_motion_to_nodes(_outputs(pair), "ct_motion", heart_node=heart_node)
    heart_node.GetDisplayNode().SetVisibility(False)  # only the moving heart (on the synthetic ED) is drawn
    nodes = made.pairs["pair"]
    nodes.browser.SetSelectedItemNumber(0)  # the synthetic ED
    display = nodes.volume.GetDisplayNode()
    display.SetAutoWindowLevel(False)
    display.SetWindowLevel(900.0, 150.0)

    # slice view: the synthetic ED through the middle of the heart, the moved heart's outline on it
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Red"))
    view.render_window().SetSize(400, 400)
    view.set_background_volume_id(nodes.volume.GetID())
    view.fit_view_to_content()
    z = np.flatnonzero((pair.ed_labels > 0).any(axis=(1, 2)))
    centre = g.index_to_world() @ np.array([0.0, 0.0, float(z[len(z) // 2]), 1.0])
    slice_node = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceNode").GetItemAsObject(0)
    slice_node.SetSliceOffset(float(centre[2]))  # axial: RAS S = LPS S
    px = _grab(view, artifacts_dir / "ct_motion_slice_ed.png")
    assert px.std() > 20, "slice view is blank"
    bright = (px.mean(axis=-1) > 200).mean()  # contrast-filled chambers and bone at this window
    assert 0.005 < bright < 0.5, bright

    # 3D view: the heart surface at ED (time 0) and at ES (the pair's second frame)
    view3d = app.view_manager.create_view(ViewLayoutDefinition.threed_view())
    view3d.render_window().SetSize(400, 400)
    view3d.reset_camera()
    view3d.fit_view_to_content()
    ed = _grab(view3d, artifacts_dir / "ct_motion_3d_ed.png")
    nodes.browser.SetSelectedItemNumber(1)
    es = _grab(view3d, artifacts_dir / "ct_motion_3d_es.png")
    ed_fg, es_fg = _foreground(ed), _foreground(es)
    assert ed_fg.mean() > 0.03 and es_fg.mean() > 0.01, "3D view shows no heart surface"
    r, b = ed[..., 0], ed[..., 2]
    assert ((r > 120) & (r > b + 40)).sum() > 50, "LV colors (red/yellow) not visible"
    # the same camera: the heart is smaller at ES (it contracted) and the pictures differ
    assert es_fg.sum() < 0.97 * ed_fg.sum(), (int(es_fg.sum()), int(ed_fg.sum()))
    assert np.abs(ed - es).sum(axis=-1).mean() > 2.0
