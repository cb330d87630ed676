"""The Latent Explorer's live ED preview in a real Slicer slice view (offscreen): moving the LV-area slider from −2
to +3 grows the bright LV blood pool in the rendered view, and the preview node is marked synthetic."""
from __future__ import annotations

import pytest


def test_latent_preview_in_a_slice_view_follows_the_lv_area_slider(app, tmp_path, artifacts_dir):
    from cardiogen.weights import Registry

    try:
        Registry().get("gancmri-phantom-64-directions")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped latent model missing: {exc}")
    from CardioGenSlicerLib.latent_logic import LatentLogic
    from render_helpers import grab_window
    from trame_slicer.views import ViewLayoutDefinition

    logic = LatentLogic(work_root=tmp_path)
    start = logic.seed_start(4)
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view(label="Red"))
    view.render_window().SetSize(360, 360)
    bright = {}
    for c in (-2.0, 3.0):
        logic.preview(start, {"lv_area": c})
        node = logic.preview_node
        assert "(synthetic)" in node.GetName() and node.GetAttribute("CardioGen.Synthetic") == "1"
        view.set_background_volume_id(node.GetID())
        view.fit_view_to_content()
        node.GetDisplayNode().SetAutoWindowLevel(False)
        node.GetDisplayNode().SetWindowLevelMinMax(0.0, 1.0)
        view.render()
        pixels = grab_window(view.render_window(), artifacts_dir / f"render_latent_preview_{'low' if c < 0 else 'high'}.png")
        gray = pixels[..., :3].astype(float).mean(-1)
        bright[c] = float((gray > 200).mean())
    import shutil

    shutil.copy(artifacts_dir / "render_latent_preview_high.png", artifacts_dir / "render_latent_preview.png")
    assert bright[3.0] > bright[-2.0] * 1.1, bright  # the bright blood pool grows with the LV-area slider
