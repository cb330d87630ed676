"""The CardioGen web app for teaching: real Slicer views (trame-slicer over slicer-core) beside a panel with the
four tasks of the Slicer modules — Data, Motion, Synthesis, Latent explorer — and guided lessons.

Thin: every action is a :class:`.session.WebSession` method (the Slicer modules' logic over the app's scene); long
jobs run in a background process, polled from the server's event loop (progress bar, Cancel), so the page stays
responsive. ``cardiogen web`` starts it (:func:`main`); it binds 127.0.0.1 unless told otherwise.
"""
from __future__ import annotations

import asyncio
import base64
import dataclasses
import io as _io
import logging
from typing import Any, Optional

import numpy as np

from cardiogen.errors import CardioGenError

from . import lessons as ls
from . import panels
from .session import WebSession

log = logging.getLogger("cardiogen.web")

#: Server methods the page's buttons call (``trigger(name, [values])``).
TRIGGERS = ("run_phantom", "open_sample", "run_motion", "run_synthesis", "latent_seed", "latent_slider",
            "latent_video", "lesson_step", "toggle_play", "cancel")
#: Pipelines the Synthesis task offers (the latent explorer has its own task; the others need inputs a case has).
SYNTHESIS_PIPELINES = ("dense_to_cine", "ecg_to_cine", "ct_motion", "heart_3d", "heart_4d", "cine_to_tagging",
                       "tagging_to_cine", "tag_tracking")
POLL_S = 0.1
RCA_FPS = 8.0
RCA_QUALITY = 90  #: trame-rca's still-frame quality
REFIT_DELAY_S = 1.0  #: after a layout switch, the page's views report their new sizes within this time


def web_layouts() -> dict:
    """trame-slicer layouts over the CardioGen layout's views: "CardioGen" (Red, Yellow, Green over the 3D view)
    and "Compare" (Red | Yellow: input and result side by side, as Slicer's side-by-side layout)."""
    import xml.etree.ElementTree as ET

    from CardioGenSlicerLib import mrml_layout as ml
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

    views = {e.get("singletontag"): ViewLayoutDefinition.from_xml(ET.tostring(e).decode())
             for e in ET.fromstring(ml.LAYOUT_XML).iter("view") if e.get("class") != "vtkMRMLPlotViewNode"}
    row = Layout(LayoutDirection.Horizontal, [views[t] for t in ml.SLICE_VIEWS])
    # trame-slicer names page state after the singleton tag: Slicer's "1" is no JavaScript identifier
    threed = dataclasses.replace(views[ml.THREED_VIEW], singleton_tag="ThreeD")
    return {
        "CardioGen": Layout(LayoutDirection.Vertical, [row, threed], flex_sizes=["3", "2"]),
        "Compare": Layout(LayoutDirection.Horizontal, [views["Red"], views["Yellow"]]),
    }


def chart_png(chart: Any, width_px: int = 560, height_px: int = 300) -> bytes:
    """A plot chart node's series (Slicer's plot view content) as a PNG: lines in the series' colours with their
    names, the chart's axis titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import slicer

    fig, ax = plt.subplots(figsize=(width_px / 100, height_px / 100), dpi=100)
    try:
        for i in range(chart.GetNumberOfPlotSeriesNodes()):
            series = chart.GetNthPlotSeriesNode(i)
            table = series.GetTableNode()
            if table is None or not series.GetXColumnName():
                continue
            x = slicer.util.arrayFromTableColumn(table, series.GetXColumnName())
            y = slicer.util.arrayFromTableColumn(table, series.GetYColumnName())
            ax.plot(x, y, color=series.GetColor(), lw=max(1.0, series.GetLineWidth() * 0.6), label=series.GetName())
        ax.set_xlabel(chart.GetXAxisTitle())
        ax.set_ylabel(chart.GetYAxisTitle())
        ax.set_title(chart.GetTitle() or chart.GetName(), fontsize=9)
        ax.grid(alpha=0.3)
        if chart.GetNumberOfPlotSeriesNodes() <= 20:
            ax.legend(fontsize=6, ncol=3, loc="best")
        fig.tight_layout()
        buf = _io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def provenance_line(made: Any) -> str:
    """A result's provenance in one line (pipeline, weights, sha256 prefix, seed, sampler, steps, device)."""
    if made is None or not made.provenance:
        return ""
    record = next(iter(made.provenance.values()))
    keys = ("pipeline", "weights", "weights_sha256", "seed", "sampler", "steps", "device")
    return " · ".join(f"{k}: {str(record[k])[:16] if k == 'weights_sha256' else record[k]}"
                      for k in keys if record.get(k) not in (None, ""))


def peaks_line(motion: Any) -> str:
    """A motion result's peak strains (%, with their times in ms) in one line."""
    if motion is None or not motion.peaks:
        return ""
    return " · ".join(f"peak {comp}: {100.0 * v['peak']:+.1f} % at {v['time_ms']:.0f} ms"
                      for comp, v in sorted(motion.peaks.items()) if np.isfinite(v.get("peak", np.nan)))


class CardioGenWebApp:
    """The trame server, its page and the session behind it."""

    def __init__(self, server: Any = None, session: Optional[WebSession] = None) -> None:
        from trame.app import get_server
        from trame_slicer import module as trame_slicer_module
        from trame_slicer.core import LayoutManager
        from trame_slicer.rca_view import register_rca_factories

        self.server = server or get_server(client_type="vue3")
        self.server.enable_module(trame_slicer_module)
        self.session = session or WebSession()
        self.state, self.ctrl = self.server.state, self.server.controller
        # views are rendered on the server's CPU: a modest frame rate keeps it answering while videos play
        # (one render per frame: an interactive frame at the still frame's quality is not followed by a second render)
        register_rca_factories(self.session.app.view_manager, self.server, target_fps=RCA_FPS,
                               interactive_quality=RCA_QUALITY)
        self.layout_manager = LayoutManager(self.session.scene, self.session.app.view_manager, self.server)
        self.layout_manager.register_layout_dict(web_layouts(), lazy_initialization=True)
        self._seen_generation = 0
        self._chart_shown: Optional[str] = None  #: ID of the chart node whose PNG the page shows
        self._poller: Optional[asyncio.Task] = None
        self._init_state()
        for name in TRIGGERS:
            self.server.trigger(name)(getattr(self, name))
        self.ui = panels.build_page(self.server, self.layout_manager)
        self.layout_manager.set_layout("CardioGen")
        self.ctrl.on_server_ready.add(self._on_ready)
        self.ctrl.on_server_exited.add(lambda **_: self.session.close())

    # ---- state --------------------------------------------------------------------------------------------------
    def _init_state(self) -> None:
        from CardioGenSlicerLib.data_logic import PhantomRequest

        st, req = self.state, PhantomRequest()
        available = set(self._pipeline_names())
        st.trame__title = "CardioGen"
        st.update({
            "task": "data", "busy": False, "progress": 0, "message": "Ready", "error": "", "generation": 0,
            "ph_seed": req.seed, "ph_frames": req.frames, "ph_age": req.age, "ph_sex": req.sex,
            "ph_height": req.height_cm, "ph_weight": req.weight_kg, "ph_sbp": req.sbp, "ph_infarct": False,
            "ph_infarct_deg": 60.0, "ph_dyssynchrony": req.dyssynchrony, "ph_dense": True, "ph_ecg": True,
            "ph_tagging": False,
            "samples": self.session.sample_names(), "sample": None, "upload": None,
            "motion_method": "ltma", "strain_component": "circumferential",
            "pipelines": [p for p in SYNTHESIS_PIPELINES if p in available],
            "pipeline": "dense_to_cine", "syn_seed": 0, "syn_steps": 25,
            "latent_seed": 0, "latent_sliders": [], "latent_measured": "", "latent_preview_s": None,
            "lessons": [{"title": x.title, "value": x.id} for x in ls.LESSONS], "lesson": ls.LESSONS[0].id,
            "lesson_step": 0, "lesson_steps": [], "lesson_text": "",
            "summary": "", "warnings": [], "provenance": "", "peaks": "", "curves_src": "", "curves_title": "",
            "playing": False, "case_label": "", "layout": "CardioGen",
        })
        self._lesson_changed(ls.LESSONS[0].id)
        self.state.change("lesson")(lambda lesson, **_: self._lesson_changed(lesson))
        self.state.change("strain_component")(lambda strain_component, **_: self._act(
            self.session.show_strain, strain_component) if self.session.state.motion is not None else None)
        self.state.change("upload")(lambda upload, **_: self._uploaded(upload))

    @staticmethod
    def _pipeline_names() -> list[str]:
        from CardioGenSlicerLib.synthesis_logic import pipeline_declarations

        return [d["name"] for d in pipeline_declarations()]

    def _lesson_changed(self, lesson_id: str) -> None:
        item = ls.lesson(lesson_id)
        self.state.lesson_steps = [{"title": s.title, "text": s.text} for s in item.steps]
        self.state.lesson_step, self.state.lesson_text = 0, ""

    def _sync(self) -> None:
        """Copy the session's status and results into the page's state (inside ``with state``)."""
        s, st = self.session, self.state
        status = s.status
        st.busy, st.progress = status.running, round(100 * status.fraction)
        st.message, st.error = status.message, status.error
        st.playing = s.playing
        if status.generation != self._seen_generation:  # a job ended: show what it made
            self._seen_generation = status.generation
            st.generation = status.generation
            self._show_results()

    def _show_results(self) -> None:
        s, st = self.session, self.state
        st.summary, st.warnings = s.summary(), s.warnings()
        st.provenance, st.peaks = provenance_line(s.state.latest), peaks_line(s.state.motion)
        st.case_label = s.state.case_label
        curves = s.state.curves
        chart_id = curves[1].GetID() if curves is not None else None
        if chart_id != self._chart_shown:  # drawn once per chart, not on every result (e.g. each slider preview)
            self._chart_shown = chart_id
            st.curves_src = "data:image/png;base64," + base64.b64encode(chart_png(curves[1])).decode() \
                if curves is not None else ""
            st.curves_title = ("Strain curves (%)" if curves[0] == "strain" else "ECG (mV)") if curves else ""
        if s.state.layout != self.layout_manager.layout_id:
            self._set_layout(s.state.layout)
        st.layout = s.state.layout

    def _set_layout(self, name: str) -> None:
        """Switch the page's layout; once the page has resized the views, fit them to what they show."""
        from trame.app import asynchronous

        self.layout_manager.set_layout(name)

        async def refit() -> None:
            await asyncio.sleep(REFIT_DELAY_S)
            self.session.refit_views()

        asynchronous.create_task(refit())

    # ---- actions (each one line over the session; errors become the page's one-line message) -------------------
    def _act(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            out = fn(*args, **kwargs)
            self.state.error = ""
        except (CardioGenError, KeyError, ValueError) as exc:
            self.state.error = str(exc).splitlines()[0]
            return None
        self._sync()
        if not self.session.busy:
            self._show_results()
        return out

    # Buttons send the form's values with the click (a value typed just before the click may reach the server's
    # state after the click does).
    def run_phantom(self, form: dict) -> None:
        from CardioGenSlicerLib.data_logic import PhantomRequest

        try:
            modalities = ("cine",) + tuple(m for m in ("dense", "ecg", "tagging") if form.get(m))
            request = PhantomRequest(modalities=modalities, seed=int(form["seed"]), frames=int(form["frames"]),
                                     age=float(form["age"]), sex=str(form["sex"]), height_cm=float(form["height"]),
                                     weight_kg=float(form["weight"]), sbp=float(form["sbp"]),
                                     infarct_deg=float(form["infarct_deg"]) if form["infarct"] else None,
                                     dyssynchrony=float(form["dyssynchrony"]))
        except (KeyError, TypeError, ValueError) as exc:
            self.state.error = f"phantom form: a number is missing or not a number ({exc})"
            return
        self._act(self.session.start_phantom, request, f"Phantom {request.seed}")

    def open_sample(self, sample: Optional[str]) -> None:
        if not sample:
            self.state.error = "choose a sample first"
            return
        self._act(self.session.start_sample, sample)

    def _uploaded(self, upload: Any) -> None:
        from trame.app.file_upload import ClientFile

        if not upload:
            return
        item = upload[0] if isinstance(upload, list) else upload
        file = ClientFile(item)
        if file.is_empty:
            return
        path = self._act(self.session.save_upload, file.name, file.content)
        if path is not None:
            self._act(self.session.start_load, path, file.name)

    def run_motion(self, method: str) -> None:
        self._act(self.session.start_motion, method)

    def run_synthesis(self, pipeline: str, seed: Any, steps: Any) -> None:
        try:
            seed, steps = int(seed), int(steps)
        except (TypeError, ValueError):
            self.state.error = f"seed and steps must be whole numbers (got {seed!r}, {steps!r})"
            return
        self._act(lambda: self.session.start_synthesis(pipeline, self.session.form_options(pipeline, seed, steps)))

    def latent_seed(self, seed: Any = None) -> None:
        seed = self.state.latent_seed if seed is None else seed
        try:
            seed = int(seed)
        except (TypeError, ValueError):
            self.state.error = f"the seed must be a whole number (got {seed!r})"
            return
        scales = self._act(self.session.latent_seed, seed)
        if scales is None:
            return
        self.state.latent_sliders = [dict(name=name, **info, step=10.0 ** -info["decimals"])
                                     for name, info in scales.items()]
        self.latent_preview()

    def latent_slider(self, name: str, value: float) -> None:
        sliders = [dict(s) for s in self.state.latent_sliders]
        for s in sliders:
            if s["name"] == name:
                s["value"] = float(value)
        self.state.latent_sliders = sliders
        self.latent_preview()

    def latent_preview(self) -> None:
        if not self.state.latent_sliders:
            self.latent_seed()
            return
        out = self._act(self.session.latent_preview, {s["name"]: s["value"] for s in self.state.latent_sliders})
        if out is not None:
            self.state.latent_measured = " · ".join(f"{k}: {v:.2f}" for k, v in out["measured"].items())
            self.state.latent_preview_s = round(float(out["seconds"]), 3)
            if self.layout_manager.layout_id != "CardioGen":
                self.state.layout = "CardioGen"
                self._set_layout("CardioGen")

    def latent_video(self) -> None:
        self._act(self.session.start_latent_video, {s["name"]: s["value"] for s in self.state.latent_sliders})

    def lesson_step(self, lesson_id: Optional[str] = None) -> None:
        item = ls.lesson(lesson_id or self.state.lesson)
        k = int(self.state.lesson_step)
        if k >= len(item.steps):
            self._lesson_changed(item.id)
            return
        step = item.steps[k]
        self.state.lesson_text = step.text
        self._act(ls.run_step, self.session, step)
        if not self.state.error:
            self.state.lesson_step = k + 1

    def toggle_play(self) -> None:
        self.session.set_playing(not self.session.playing)
        self.state.playing = self.session.playing

    def cancel(self) -> None:
        self.session.cancel()

    # ---- event loop ---------------------------------------------------------------------------------------------
    def _on_ready(self, **_: Any) -> None:
        from trame.app import asynchronous

        self._poller = asynchronous.create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self.session.poll()
                self.session.step_playback()
                with self.state:
                    self._sync()
            except Exception:  # the loop must survive a bad result; the session already reported it
                log.exception("CardioGen web: poll failed")


def main(port: int = 0, host: str = "127.0.0.1", open_browser: bool = False) -> None:
    """Serve the app (``port`` 0: any free port, printed at start). Blocks until the server stops; the session's
    folder is removed at exit."""
    app = CardioGenWebApp()
    print(f"CardioGen web: session folder {app.session.work_root} (removed at exit)", flush=True)
    try:
        app.server.start(port=int(port), host=host, open_browser=open_browser)
    finally:
        app.session.close()
