"""Generated 4D hearts (``heart_4d``) in real Slicer views, offscreen: two demographic profiles' hearts side by side
in the Red and Yellow views playing with one browser, the surfaces in a 3D view at end-diastole and end-systole, and
the phenotype table with both profiles.

The hearts fed to the nodes have ``heart_4d``'s outputs and conventions (fixed grid, 8 frames, synthetic marks,
phenotypes and conditioning in the segmentation's provenance) but come from the phantom's true cycles of the two
profiles, so the views show real anatomy and motion without a trained model."""
from __future__ import annotations

import numpy as np

PROFILES = {"small": dict(age=70, sex="F", height_cm=152, weight_kg=52, sbp=118, dbp=72),
            "large": dict(age=40, sex="M", height_cm=195, weight_kg=105, sbp=165, dbp=95)}


def _heart(name: str):
    from cardiogen.data import STANDARD_LABELS, Geometry, ImageSeries, Segmentation
    from cardiogen.models.heart4d import GRID, render_cycle
    from cardiogen.phantom import Demographics

    prof = PROFILES[name]
    r = render_cycle(11, Demographics(**prof))
    g = Geometry(spacing=r["spacing"])
    times = np.arange(GRID["frames"]) * 900.0 / GRID["frames"]
    prov = {"pipeline": "heart_4d", "phenotypes": r["phenotypes"], "conditioning": prof}
    image = ImageSeries((r["image"] + 1) / 2, g, frame_times=times, modality="cine").mark_synthetic("heart_4d")
    seg = Segmentation(r["labels"], label_table={k: v for k, v in STANDARD_LABELS.items() if k <= 4}, geometry=g,
                       frame_times=times, synthetic=True, provenance=prov)
    return image, seg


def _grab(view, path) -> np.ndarray:
    from render_helpers import grab_window

    view.render()
    return grab_window(view.render_window(), path).astype(float)


def test_two_profiles_side_by_side_with_surfaces_and_phenotype_table(app, artifacts_dir):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_compare as mc
    from CardioGenSlicerLib import mrml_segmentation as mseg
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic, SynthesisResult
    from trame_slicer.views import ViewLayoutDefinition

    views = []
    for label in ("Red", "Yellow"):
        view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label=label))
        view.render_window().SetSize(300, 300)
        views.append(view)
    view3d = app.view_manager.create_view(ViewLayoutDefinition.threed_view())  # as in the CardioGen layout
    view3d.render_window().SetSize(400, 400)
    logic = SynthesisLogic(scene=slicer.mrmlScene)
    made = {}
    for name in ("small", "large"):  # as import_result does for a heart_4d job's outputs
        image, seg = _heart(name)
        series = mb.image_series_to_nodes(image, f"heart_4d {name} image")
        surfaces = mseg.segmentation_sequence_to_nodes(seg, f"heart_4d {name} segmentation", series.browser)
        result = SynthesisResult(series={"image": series}, surfaces={"segmentation": surfaces},
                                 summary={"pipeline": "heart_4d"}, provenance={"segmentation": seg.provenance})
        logic._show(result, None)
        logic._show_heart(result)
        made[name] = result
    small, large = made["small"].series["image"], made["large"].series["image"]
    (_, red), (_, yellow) = mc.compare_views()
    assert red.GetBackgroundVolumeID() == small.volume.GetID()
    assert yellow.GetBackgroundVolumeID() == large.volume.GetID()
    assert small.browser.IsSynchronizedSequenceNode(large.sequence)
    assert small.browser.IsSynchronizedSequenceNode(made["large"].surfaces["segmentation"].sequence)

    # the two hearts at ED through the middle slice: the larger profile's heart covers more of its view
    for view in views:
        view.fit_view_to_content()
    small.browser.SetSelectedItemNumber(0)
    a = _grab(views[0], artifacts_dir / "heart4d_small_ed.png")
    b = _grab(views[1], artifacts_dir / "heart4d_large_ed.png")
    assert a.std() > 10 and b.std() > 10, "a compare view is blank"

    # stepping the one browser moves both hearts to end-systole
    es = int(np.argmin([(_heart("large")[1].labels[t] == 1).sum() for t in range(8)]))
    small.browser.SetSelectedItemNumber(es)
    assert large.volume.GetImageData() is not None
    b_es = _grab(views[1], artifacts_dir / "heart4d_large_es.png")
    assert np.abs(b_es - b).mean() > 0.5, "the second heart did not move with the first heart's browser"

    # 3D: the new heart's surfaces, moving between ED and ES
    small.browser.SetSelectedItemNumber(0)
    view3d.reset_camera()
    view3d.fit_view_to_content()
    ed3 = _grab(view3d, artifacts_dir / "heart4d_3d_ed.png")
    small.browser.SetSelectedItemNumber(es)
    es3 = _grab(view3d, artifacts_dir / "heart4d_3d_es.png")
    fg = lambda px: np.abs(px - px[:, :1]).sum(axis=-1) > 30  # noqa: E731 (unlike the background gradient)
    assert fg(ed3).mean() > 0.02, "3D view shows no heart surface"
    assert fg(es3).mean() > 0.02 and np.abs(ed3 - es3).sum(axis=-1).mean() > 2.0, "the surfaces did not move"

    # the phenotype table: both profiles side by side, the larger heart bigger
    table = logic.heart_table.GetTable()
    rows = {table.GetValue(r, 0).ToString(): (float(table.GetValue(r, 2).ToString()),
                                              float(table.GetValue(r, 3).ToString()))
            for r in range(6)}
    assert rows["LV end-diastolic volume"][1] > 1.3 * rows["LV end-diastolic volume"][0]
    assert rows["LV mass"][1] > 1.3 * rows["LV mass"][0]
    assert logic.heart_table.GetAttribute(mb.ATTR_SYNTHETIC) == "1"
