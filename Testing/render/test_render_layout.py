"""The CardioGen layout as a user sees it, one image per module: the layout's views made offscreen as real MRML views
before the data arrives (as Slicer's layout manager makes them), the module's results loaded through its logic, every
view rendered and tiled as the layout arranges them (Testing/layout_composer.py), with the module panel beside it when
the panel tier has left its screenshot. Pixel statistics, not exact pixels, are checked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _views(app):
    from CardioGenSlicerLib import mrml_layout as ml
    from layout_composer import LayoutViews

    ml.select_layout(app.scene)
    return LayoutViews(app, ml.LAYOUT_XML)


def _phantom_job(tmp_path, seed, modalities):
    phantom = pytest.importorskip("cardiogen.phantom")
    from cardiogen.io.case import save_case
    from CardioGenSlicerLib.process import JobResult, JobState

    case = phantom.make_case(phantom.PhantomConfig(seed=seed, size=64, frames=12, modalities=modalities))
    files = save_case(case, tmp_path)
    outputs = {k: str(Path(v).relative_to(tmp_path)) for k, v in files.items()}
    return JobResult(JobState.SUCCEEDED, outputs=outputs, output_dir=tmp_path), case


def _check_tiles(composed, n=5):
    from layout_composer import non_blank

    assert len(composed.tiles) == n
    blank = [tag for tag, tile in composed.tiles.items() if not non_blank(tile.pixels)]
    assert not blank, f"blank views: {blank}"
    h = max(t.pixels.shape[0] for t in composed.tiles.values())
    assert composed.image.shape[0] > 2 * h  # two rows: slice views over the 3D and plot views


def _surfaces(pixels) -> np.ndarray:
    px = pixels.astype(float)
    return np.abs(px - px[2, 2]).sum(axis=-1) > 30


def _with_panel(module, artifacts_dir, panel=None):
    """The panel tier's screenshot of the module's panel (``panel``: the one of the same task) left of the layout."""
    from layout_composer import beside_panel

    return beside_panel(artifacts_dir / f"layout_{module}.png", artifacts_dir / (panel or f"panel_{module}.png"),
                        artifacts_dir / f"layout_{module}_panel.png")


def test_data_layout(app, tmp_path, artifacts_dir):
    """Data: the phantom cine in its short axis (Red) and long-axis cuts (Yellow, Green) with the ED segmentation and
    its legend, the 4D segmentation's surfaces in 3D (changing with the browser), the ECG in the plot view."""
    import slicer
    from CardioGenSlicerLib import mrml_layout as ml
    from CardioGenSlicerLib.data_logic import DataLogic
    from render_helpers import grab_window

    views = _views(app)
    result, case = _phantom_job(tmp_path, 4, ("cine", "ecg"))
    loaded = DataLogic(work_root=tmp_path / "w").import_result(result, name="Phantom 4 PHANTOM")
    legend = loaded.nodes["truth_segmentation_legend"]  # the segment names and colours
    colors = loaded.nodes["truth_segmentation"].GetDisplayNode().GetColorNode()
    assert legend.GetVisibility() and colors.GetNumberOfColors() == 4 and colors.GetColorName(0) == "LV blood pool"
    assert ml.is_selected(app.scene)
    plot = views.views[ml.PLOT_VIEW]
    assert plot.GetPlotChartNodeID() == loaded.nodes["ecg_chart"].GetID()  # the ECG chart in the layout's plot view
    red = views.slice_node("Red")
    cine_axes = slicer.util.arrayFromVTKMatrix(_ijk(loaded.nodes["cine"]))[:3, :3]
    normal = slicer.util.arrayFromVTKMatrix(red.GetSliceToRAS())[:3, 2]
    assert abs(np.dot(normal, cine_axes[:, 2]) / np.linalg.norm(cine_axes[:, 2])) > 0.9999  # oblique short axis
    browser = loaded.nodes["cine_browser"]
    browser.SetSelectedItemNumber(0)
    composed = views.compose(artifacts_dir / "layout_CardioGenData.png")
    _check_tiles(composed)
    red_px = composed.tiles["Red"].pixels.astype(float)
    colored = (np.abs(red_px[..., 0] - red_px[..., 1]) + np.abs(red_px[..., 1] - red_px[..., 2])) > 80
    assert colored.sum() > 200, "segmentation overlay missing in Red"
    swatches = colored[:, int(0.7 * red_px.shape[1]):]  # the legend's colour bar, right of the heart
    assert swatches.sum() > 150, "segment legend missing in Red"
    threed = _surfaces(composed.tiles["1"].pixels)
    assert threed.mean() > 0.02, "no surfaces in the 3D view"
    es = int(np.argmin(case.truth.masks.mask("LV blood pool").sum(axis=(1, 2, 3))))
    browser.SetSelectedItemNumber(es)
    view3d = views.views["1"]
    es_px = grab_window(view3d.render_window(), artifacts_dir / "layout_CardioGenData_1_es.png")[::-1]
    changed = np.abs(es_px.astype(float) - composed.tiles["1"].pixels).sum(axis=-1) > 30
    assert changed.mean() > 0.002, "the 3D surfaces do not change with the browser"
    chart = composed.tiles[ml.PLOT_VIEW].pixels.astype(float)
    assert 0.005 < (chart.sum(axis=-1) < 300).mean() < 0.6, "ECG chart blank or saturated"
    _with_panel("CardioGenData", artifacts_dir, "panel_CardioGenData_loaded.png")


def test_motion_layout(app, tmp_path, artifacts_dir):
    """Motion: strain overlay with its legend and the deformation grid (Red), the same on a long-axis cut (Yellow), the
    bull's-eye with its legend (Green), surfaces in 3D, the strain curves (%) in the plot view."""
    from CardioGenSlicerLib import mrml_layout as ml
    from CardioGenSlicerLib.data_logic import DataLogic
    from CardioGenSlicerLib.motion_logic import MotionLogic

    views = _views(app)
    (tmp_path / "d").mkdir()
    result, _case = _phantom_job(tmp_path / "d", 6, ("cine",))
    loaded = DataLogic(work_root=tmp_path / "w").import_result(result, name="Phantom 6 PHANTOM")
    loaded.nodes["truth_segmentation"].GetDisplayNode().SetVisibility(False)  # only the strain overlay is coloured
    logic = MotionLogic(work_root=tmp_path / "m")
    job = logic.start("demons", loaded.nodes["cine"], loaded.nodes["truth_segmentation"]).wait(300)
    assert job.error == "", job.log_tail
    motion = logic.import_result(job, loaded.nodes["cine"], name="Phantom 6 motion")
    frame = motion.peaks["circumferential"]["frame"]
    loaded.nodes["cine_browser"].SetSelectedItemNumber(frame)
    motion.strain_nodes["circumferential"].browser.SetSelectedItemNumber(frame)
    assert views.views[ml.PLOT_VIEW].GetPlotChartNodeID() == motion.nodes["curves_chart"].GetID()
    composed = views.compose(artifacts_dir / "layout_CardioGenMotion.png")
    _check_tiles(composed)
    red = composed.tiles["Red"].pixels.astype(float)
    blue = (red[..., 2] - np.maximum(red[..., 0], red[..., 1])) > 40
    assert blue.sum() > 50, "circumferential shortening (blue) missing in Red"
    legend_red_end = (red[..., 0] - red[..., 2]) > 120  # the legend's + end: nothing in the wall is that red at peak
    assert legend_red_end.sum() > 20, "strain legend missing in Red"
    assert np.flatnonzero(legend_red_end.any(axis=0)).mean() > 0.6 * red.shape[1]  # on the right, as Slicer draws it
    green = composed.tiles["Green"].pixels.astype(float)
    assert ((green[..., 2] - green[..., 0]) > 60).sum() > 1000, "bull's-eye segments missing in Green"
    assert ((green[..., 0] - green[..., 2]) > 120).sum() > 20, "bull's-eye legend missing"
    assert _surfaces(composed.tiles["1"].pixels).mean() > 0.02, "no surfaces in the 3D view"
    chart = composed.tiles[ml.PLOT_VIEW].pixels.astype(float)
    assert ((chart[..., 2] > 150) & (chart[..., 0] < 80)).sum() > 30, "global circumferential curve (blue) missing"
    _with_panel("CardioGenMotion", artifacts_dir)


def test_synthesis_layout(app, tmp_path, artifacts_dir):
    """Synthesis (ECG -> cine with the shipped models) after a phantom case was loaded: the synthetic four-chamber
    cine in Red (its own plane), the phantom cine's long-axis cuts in Yellow and Green, the 4D surfaces in 3D, the
    ECG with the chosen beat's window and the cine's cursor in the plot view."""
    import slicer
    from CardioGenSlicerLib import mrml_ecg_window as mew
    from CardioGenSlicerLib import mrml_layout as ml
    from CardioGenSlicerLib.data_logic import DataLogic
    from CardioGenSlicerLib.process import JobState
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic

    from cardiogen.weights import Registry

    try:
        lo, hi = Registry().get("ecg-flow-phantom-64").geometry["heart_rate_bpm_range"]
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped ECG -> cine model missing: {exc}")
    views = _views(app)
    phantom = pytest.importorskip("cardiogen.phantom")
    seed = next(s for s in range(1000, 1040) if lo + 3 <= phantom.make_case(phantom.PhantomConfig(
        seed=s, modalities=("ecg",), ecg_duration_s=4.0)).truth.phenotypes_model.heart_rate_bpm <= hi - 3)
    (tmp_path / "d").mkdir()
    result, _case = _phantom_job(tmp_path / "d", seed, ("cine", "ecg"))
    loaded = DataLogic(work_root=tmp_path / "w").import_result(result, name=f"Phantom {seed} PHANTOM")
    table = loaded.nodes["ecg_table"]
    mew.select_beat(table, 5)
    logic = SynthesisLogic(work_root=tmp_path / "s")
    job = logic.start("ecg_to_cine", {"ecg": table}, {"seed": 1}).wait(600)
    assert job.state is JobState.SUCCEEDED, job.error + job.log_tail
    made = logic.import_result(job, table, name="ecg_to_cine", inputs={"ecg": table})
    cine = made.series["cine"]
    cine.browser.SetPlaybackActive(False)
    cine.browser.SetSelectedItemNumber(4)
    composites = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    backgrounds = {c.GetLayoutName(): c.GetBackgroundVolumeID()
                   for c in (composites.GetItemAsObject(i) for i in range(composites.GetNumberOfItems()))}
    assert backgrounds["Red"] == cine.volume.GetID()  # a single plane: shown where its plane is, in Red
    assert backgrounds["Yellow"] == backgrounds["Green"] == loaded.nodes["cine"].GetID()
    # the phantom's short-axis segmentation stays out of Red, which now shows another heart (the synthetic one)
    shown = [views.slice_node("Yellow").GetID(), views.slice_node("Green").GetID(),
             app.scene.GetNodeByID(views.views["1"].get_view_node_id()).GetID()]
    loaded.nodes["truth_segmentation"].GetDisplayNode().SetViewNodeIDs(shown)
    red = views.slice_node("Red")
    axes = slicer.util.arrayFromVTKMatrix(_ijk(cine.volume))[:3, :3]
    normal = slicer.util.arrayFromVTKMatrix(red.GetSliceToRAS())[:3, 2]
    assert abs(np.dot(normal, axes[:, 2]) / np.linalg.norm(axes[:, 2])) > 0.9999
    assert views.views[ml.PLOT_VIEW].GetPlotChartNodeID() == loaded.nodes["ecg_chart"].GetID()
    composed = views.compose(artifacts_dir / "layout_CardioGenSynthesis.png")
    _check_tiles(composed)
    assert _surfaces(composed.tiles["1"].pixels).mean() > 0.02, "no surfaces in the 3D view"
    chart = composed.tiles[ml.PLOT_VIEW].pixels.astype(float)
    red_cursor = (chart[..., 0] > 200) & (chart[..., 1] < 60) & (chart[..., 2] < 60)
    assert red_cursor.sum(axis=0).max() > 0.4 * chart.shape[0], "the cine's cursor is not drawn on the ECG"
    _with_panel("CardioGenSynthesis", artifacts_dir, "panel_CardioGenSynthesis_ecg_to_cine.png")


def test_latent_layout(app, tmp_path, artifacts_dir):
    """Latent Explorer after a phantom case was loaded: the live ED preview of a generated heart (LV-area slider at +3)
    in Red, rotated to its plane; the phantom's long-axis cuts, surfaces and ECG stay in the other views."""
    import slicer
    from CardioGenSlicerLib.data_logic import DataLogic
    from CardioGenSlicerLib.latent_logic import LatentLogic

    from cardiogen.weights import Registry

    try:
        Registry().get("gancmri-phantom-64-directions")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped latent model missing: {exc}")
    views = _views(app)
    (tmp_path / "d").mkdir()
    result, _case = _phantom_job(tmp_path / "d", 4, ("cine", "ecg"))
    loaded = DataLogic(work_root=tmp_path / "w").import_result(result, name="Phantom 4 PHANTOM")
    logic = LatentLogic(work_root=tmp_path / "l")
    logic.preview(logic.seed_start(4), {"lv_area": 3.0})
    preview = logic.preview_node
    preview.GetDisplayNode().SetAutoWindowLevel(False)
    preview.GetDisplayNode().SetWindowLevelMinMax(0.0, 1.0)
    composites = slicer.mrmlScene.GetNodesByClass("vtkMRMLSliceCompositeNode")
    backgrounds = {c.GetLayoutName(): c.GetBackgroundVolumeID()
                   for c in (composites.GetItemAsObject(i) for i in range(composites.GetNumberOfItems()))}
    assert backgrounds["Red"] == preview.GetID() and backgrounds["Yellow"] == loaded.nodes["cine"].GetID()
    normal = slicer.util.arrayFromVTKMatrix(views.slice_node("Red").GetSliceToRAS())[:3, 2]
    axes = slicer.util.arrayFromVTKMatrix(_ijk(preview))[:3, :3]
    assert abs(np.dot(normal, axes[:, 2]) / np.linalg.norm(axes[:, 2])) > 0.9999
    shown = [views.slice_node("Yellow").GetID(), views.slice_node("Green").GetID(),
             app.scene.GetNodeByID(views.views["1"].get_view_node_id()).GetID()]
    loaded.nodes["truth_segmentation"].GetDisplayNode().SetViewNodeIDs(shown)  # Red shows another heart
    composed = views.compose(artifacts_dir / "layout_CardioGenLatent.png")
    _check_tiles(composed)
    red = composed.tiles["Red"].pixels.astype(float).mean(axis=-1)
    assert (red > 200).mean() > 0.02, "the preview's bright blood pools are not in Red"
    _with_panel("CardioGenLatent", artifacts_dir)


def _ijk(volume):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    return matrix
