#!/usr/bin/env bash
# Re-render the documentation screenshots from the panel and render test tiers into docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow
.venv/bin/python -m pytest -q Testing/panels Testing/render Testing/web
mkdir -p docs/screenshots
for f in panel_CardioGenData.png panel_CardioGenData_loaded.png render_slice_cine_strain.png \
         render_3d_segmentation.png render_ecg_chart.png panel_CardioGenMotion.png \
         render_motion_strain.png render_motion_curves.png render_motion_bullseye.png panel_CardioGenSynthesis.png \
         panel_CardioGenLatent.png render_latent_preview.png panel_CardioGenSynthesis_ct_motion.png \
         ct_motion_slice_ed.png ct_motion_3d_ed.png ct_motion_3d_es.png layout_CardioGenData.png \
         layout_CardioGenMotion.png layout_CardioGenSynthesis.png layout_CardioGenLatent.png \
         layout_CardioGenData_panel.png layout_CardioGenMotion_panel.png layout_CardioGenSynthesis_panel.png \
         layout_CardioGenLatent_panel.png web_task_data.png web_task_motion.png web_task_synthesis.png \
         web_task_latent.png web_lesson_strain.png web_lesson_generator.png; do
  cp "Testing/_artifacts/$f" docs/screenshots/
done
ls -la docs/screenshots
