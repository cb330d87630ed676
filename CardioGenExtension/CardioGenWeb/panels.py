"""The web app's page (trame, Vuetify 3): a drawer with the five task panels and the job status, the Slicer views
with the results beneath them. Widgets only: every button calls a server trigger of :class:`.app.CardioGenWebApp`
with the form's values; the ids (``cg-*``) are what the browser tier and ``benchmarks/web.py`` drive."""
from __future__ import annotations

from typing import Any

TASKS = (("data", "Data"), ("motion", "Motion"), ("synthesis", "Synthesis"), ("latent", "Latent explorer"),
         ("lessons", "Lessons"))
MOTION_METHODS = (("LTMA (learned registration)", "ltma"), ("Demons", "demons"), ("DENSE phase", "dense"))
# Buttons send the form's values with the click (a value typed just before the click may reach the server's state
# after the click does).
PHANTOM_CLICK = ("trigger('run_phantom', [{seed: ph_seed, frames: ph_frames, age: ph_age, sex: ph_sex, "
                 "height: ph_height, weight: ph_weight, sbp: ph_sbp, infarct: ph_infarct, "
                 "infarct_deg: ph_infarct_deg, dyssynchrony: ph_dyssynchrony, dense: ph_dense, ecg: ph_ecg, tagging: ph_tagging}])")


def build_page(server: Any, layout_manager: Any) -> Any:
    """The page: the task panels in the drawer, the Slicer views with results beneath them; returns the layout."""
    from trame.ui.vuetify3 import SinglePageWithDrawerLayout
    from trame.widgets import html
    from trame.widgets import vuetify3 as v3

    with SinglePageWithDrawerLayout(server, theme="dark") as layout:
        layout.title.set_text("CardioGen")
        with layout.toolbar:
            v3.VSpacer()
            html.Span("{{ case_label }}", classes="text-caption mr-4", id="cg-case")
            v3.VBtn("{{ playing ? 'Pause' : 'Play' }}", id="cg-play", click="trigger('toggle_play')",
                    variant="tonal", size="small", classes="mr-2")
        with layout.drawer as drawer:
            drawer.width = 380
            with v3.VTabs(v_model=("task", "data"), density="compact", show_arrows=True, id="cg-tasks"):
                for value, title in TASKS:
                    v3.VTab(title, value=value, id=f"cg-tab-{value}")
            with html.Div(classes="pa-3"):
                data_panel(v3, html)
                motion_panel(v3, html)
                synthesis_panel(v3, html)
                latent_panel(v3, html)
                lessons_panel(v3, html)
                status_panel(v3, html)
        with layout.content:
            with html.Div(style="display: flex; flex-direction: column; height: 100%;"):
                with html.Div(style="flex: 1; display: flex; min-height: 0;", id="cg-views"):
                    layout_manager.initialize_layout_grid(layout)
                with html.Div(v_if="curves_src || warnings.length || provenance || peaks || summary",
                              classes="d-flex pa-2", style="gap: 12px; max-height: 34%;", id="cg-results"):
                    html.Img(v_if="curves_src", src=("curves_src",), style="height: 100%; max-height: 300px;",
                             id="cg-curves", alt=("curves_title",))
                    with html.Div(classes="text-body-2", style="overflow: auto;"):
                        with v3.VAlert(v_if="warnings.length", type="warning", density="compact",
                                       id="cg-warnings", classes="mb-2"):
                            html.Div("Quality check: {{ w }}", v_for="w in warnings", key="w")
                        html.Div("{{ peaks }}", v_if="peaks", id="cg-peaks")
                        html.Div("Provenance — {{ provenance }}", v_if="provenance", id="cg-provenance",
                                 classes="text-caption")
                        html.Pre("{{ summary }}", v_if="summary", id="cg-summary", classes="text-caption")
    return layout


def data_panel(v3: Any, html: Any) -> None:
    with html.Div(v_if="task == 'data'", id="cg-panel-data"):
        html.Div("Phantom case (every model's training data, with its ground truth)", classes="text-subtitle-2")
        with v3.VRow(dense=True):
            with v3.VCol(cols=6):
                v3.VTextField(label="Seed", v_model=("ph_seed",), type="number", density="compact", id="cg-ph-seed")
                v3.VTextField(label="Age (years)", v_model=("ph_age",), type="number", density="compact")
                v3.VTextField(label="Height (cm)", v_model=("ph_height",), type="number", density="compact")
                v3.VTextField(label="Systolic BP (mmHg)", v_model=("ph_sbp",), type="number", density="compact")
            with v3.VCol(cols=6):
                v3.VTextField(label="Frames", v_model=("ph_frames",), type="number", density="compact")
                v3.VSelect(label="Sex", v_model=("ph_sex",), items=("['F', 'M']",), density="compact")
                v3.VTextField(label="Weight (kg)", v_model=("ph_weight",), type="number", density="compact")
                v3.VTextField(label="Dyssynchrony (0-1)", v_model=("ph_dyssynchrony",), type="number",
                              density="compact")
        v3.VCheckbox(label="Infarct", v_model=("ph_infarct",), density="compact", hide_details=True,
                     id="cg-ph-infarct")
        v3.VSlider(v_if="ph_infarct", label="Infarct centre (deg)", v_model=("ph_infarct_deg",), min=0, max=359,
                   step=1, thumb_label=True, density="compact")
        with html.Div(classes="d-flex"):
            v3.VCheckbox(label="DENSE", v_model=("ph_dense",), density="compact", hide_details=True, id="cg-ph-dense")
            v3.VCheckbox(label="ECG", v_model=("ph_ecg",), density="compact", hide_details=True, id="cg-ph-ecg")
            v3.VCheckbox(label="Tagging", v_model=("ph_tagging",), density="compact", hide_details=True,
                         id="cg-ph-tagging")
        v3.VBtn("Create phantom case", id="cg-phantom", click=PHANTOM_CLICK, disabled=("busy",),
                color="primary", block=True, classes="mb-4")
        html.Div("Shared samples", classes="text-subtitle-2")
        v3.VSelect(v_model=("sample",), items=("samples",), label="Sample", density="compact", id="cg-sample")
        v3.VBtn("Open sample", id="cg-open-sample", click="trigger('open_sample', [sample])",
                disabled=("busy || !sample",), block=True, classes="mb-4")
        v3.VFileInput(v_model=("upload",), label="Upload a file (DICOM, NIfTI, NRRD, DENSE .dns, ECG)",
                      density="compact", id="cg-upload", disabled=("busy",), show_size=True)


def motion_panel(v3: Any, html: Any) -> None:
    with html.Div(v_if="task == 'motion'", id="cg-panel-motion"):
        v3.VSelect(label="Method", v_model=("motion_method",),
                   items=(str([{"title": t, "value": v} for t, v in MOTION_METHODS]),), density="compact")
        v3.VBtn("Track motion and strain", id="cg-motion", click="trigger('run_motion', [motion_method])",
                disabled=("busy",), color="primary", block=True, classes="mb-3")
        with v3.VBtnToggle(v_model=("strain_component",), mandatory=True, density="compact", id="cg-component"):
            v3.VBtn("Circumferential", value="circumferential", size="small", id="cg-circ")
            v3.VBtn("Radial", value="radial", size="small", id="cg-radial")
        html.Div("The strain overlay has its legend in the slice views; the bull's-eye (AHA segments, peak "
                 "circumferential strain) is in Green; the curves are below the views.",
                 classes="text-caption mt-2")


def synthesis_panel(v3: Any, html: Any) -> None:
    with html.Div(v_if="task == 'synthesis'", id="cg-panel-synthesis"):
        v3.VSelect(label="Pipeline", v_model=("pipeline",), items=("pipelines",), density="compact",
                   id="cg-pipeline")
        v3.VTextField(label="Seed", v_model=("syn_seed",), type="number", density="compact")
        v3.VTextField(v_if="pipeline == 'dense_to_cine'", label="Sampling steps", v_model=("syn_steps",),
                      type="number", density="compact", id="cg-syn-steps")
        v3.VBtn("Generate", id="cg-synthesis", click="trigger('run_synthesis', [pipeline, syn_seed, syn_steps])",
                disabled=("busy",), color="primary", block=True)
        html.Div("The inputs come from the current case (DENSE, ECG, CT). Input and result play side by side; "
                 "every result is marked synthetic.", classes="text-caption mt-2")


def latent_panel(v3: Any, html: Any) -> None:
    with html.Div(v_if="task == 'latent'", id="cg-panel-latent"):
        with html.Div(classes="d-flex", style="gap: 8px"):
            v3.VTextField(label="Seed", v_model=("latent_seed",), type="number", density="compact")
            v3.VBtn("New heart", id="cg-latent-seed", click="trigger('latent_seed', [latent_seed])", disabled=("busy",))
        with html.Div(v_for="s in latent_sliders", key="s.name", classes="mt-1"):
            html.Div("{{ s.label }}: {{ Number(s.value).toFixed(s.decimals) }} {{ s.unit }}",
                     classes="text-body-2 cg-latent-label")
            v3.VSlider(model_value=("s.value",), min=("s.min",), max=("s.max",), step=("s.step",),
                       density="compact", update_modelValue="s.value = $event",  # the label follows the drag
                       end="trigger('latent_slider', [s.name, $event])",
                       classes="cg-latent-slider", hide_details=True)
        html.Div("Preview (ED frame, Red): {{ latent_measured }}", v_if="latent_measured",
                 classes="text-caption", id="cg-latent-measured")
        html.Div("preview in {{ latent_preview_s }} s", v_if="latent_preview_s !== null",
                 classes="text-caption", id="cg-latent-time")
        v3.VBtn("Generate the video", id="cg-latent-video", click="trigger('latent_video')", disabled=("busy",),
                color="primary", block=True, classes="mt-2")


def lessons_panel(v3: Any, html: Any) -> None:
    with html.Div(v_if="task == 'lessons'", id="cg-panel-lessons"):
        v3.VSelect(label="Lesson", v_model=("lesson",), items=("lessons",), density="compact", id="cg-lesson")
        with html.Ol(classes="text-body-2 ml-4"):
            html.Li("{{ s.title }}", v_for="(s, i) in lesson_steps", key="i",
                    classes=("i < lesson_step ? 'text-success' : (i == lesson_step ? 'font-weight-bold' : '')",))
        v3.VBtn("{{ lesson_step < lesson_steps.length ? 'Step ' + (lesson_step + 1) + ': ' + "
                "lesson_steps[lesson_step].title : 'Start again' }}", id="cg-lesson-step",
                click="trigger('lesson_step', [lesson])", disabled=("busy",), color="primary", block=True,
                classes="my-2 text-none")
        v3.VCard(v_if="lesson_text", text=("lesson_text",), variant="tonal", id="cg-lesson-text")


def status_panel(v3: Any, html: Any) -> None:
    with html.Div(classes="mt-4", id="cg-status"):
        # for scripts and the browser tier: jobs finished, running, next lesson step
        html.Span("{{ generation }}|{{ busy }}|{{ lesson_step }}", id="cg-state", style="display: none")
        v3.VProgressLinear(model_value=("progress",), height=6, color="primary", v_show="busy",
                           id="cg-progress")
        with html.Div(classes="d-flex align-center mt-1"):
            html.Span("{{ message }}", classes="text-caption", id="cg-message")
            v3.VSpacer()
            v3.VBtn("Cancel", v_show="busy", click="trigger('cancel')", size="small", id="cg-cancel",
                    variant="outlined")
        v3.VAlert(v_if="error", text=("error",), type="error", density="compact", id="cg-error",
                  classes="mt-2")
