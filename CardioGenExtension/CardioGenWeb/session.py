"""One browser session of the CardioGen web app, without any web code: a real MRML scene (slicer-core, through
trame-slicer's ``SlicerApp``), the Slicer modules' own logic classes over it (:mod:`CardioGenSlicerLib`), one
background job at a time (progress, Cancel), and a work folder that holds every file the session writes and is
removed by :meth:`WebSession.close`.

The web page (:mod:`.app`) only calls the ``start_*`` / ``latent_*`` methods and shows :attr:`WebSession.status`;
:meth:`WebSession.poll` (called from the server's event loop, :mod:`.jobs`) reads the job's progress and, when it has
finished, turns its files into nodes with the same ``import_result`` the Slicer modules use.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from cardiogen.errors import CardioGenInputError
from CardioGenSlicerLib.case_roles import IMAGE_ROLES, MASK_ROLES, case_inputs
from CardioGenSlicerLib.standalone import standalone_slicer_app, use_scene

from .jobs import JobRunner

#: Largest upload accepted (bytes); larger files are refused before anything is written.
UPLOAD_LIMIT_BYTES = 256 * 1024 * 1024
#: The shared samples a teacher can open with one click (relative to the samples folder), with their reader kind.
SAMPLES = {
    "Sunnybrook cine SCD0000101 (DICOM)": "cine_sunnybrook/SCD0000101",
    "DENSE workspace template.dns": "dense/template.dns",
    "12-lead ECG (DICOM waveform)": "ecg/waveform_ecg.dcm",
    "Cardiac CT crop (NIfTI)": "ct/ct_cropped.nii.gz",
}
#: Playback is capped at this rate: every frame is rendered on the server's CPU and sent to the page, and a slower
#: loop leaves the server time to answer clicks while videos play.
MAX_PLAYBACK_FPS = 5.0


def default_samples_dir() -> Optional[Path]:
    """``$CARDIOGEN_SHARED_DATA``, else ``../shared/data`` beside the repository (the project's real samples), if
    present."""
    import os

    here = Path(__file__).resolve().parents[2]
    env = os.environ.get("CARDIOGEN_SHARED_DATA")
    for candidate in ([Path(env)] if env else []) + [here.parent / "shared" / "data"]:
        if candidate.is_dir():
            return candidate
    return None


@dataclass
class SessionState:
    """Nodes of the current case and of what was computed from it (replaced by the next case)."""

    case: Any = None            #: data_logic.LoadedData
    case_label: str = ""
    motion: Any = None          #: motion_logic.MotionResult
    synthesis: Any = None       #: synthesis_logic.SynthesisResult
    latent_start: Any = None    #: latent_logic.LatentStart
    latent_video: Any = None    #: synthesis_logic.SynthesisResult of a latent video
    latest: Any = None          #: the result made last (synthesis or latent video): its warnings and provenance show
    layout: str = "CardioGen"   #: "CardioGen" (3 slice views + 3D) or "Compare" (input | result)
    shown: Any = None           #: the volume the slice views were last fitted to (CardioGen layout)
    curves: Optional[tuple[str, Any]] = None  #: (kind, chart node) shown beside the views: strain or ECG
    scales: dict = field(default_factory=dict)   #: latent slider name -> SliderScale of the current start
    due: dict = field(default_factory=dict)      #: browser id -> time its next frame is due (playback)


class WebSession(JobRunner):
    """The scene, the modules' logic, the running job and the session's files.

    Args:
        app: a slicer-core application (default: :func:`standalone_slicer_app`).
        work_root: the session's folder (default: a new temporary one, removed by :meth:`close`).
        process_factory, python: how jobs start (as in :class:`CardioGenSlicerLib.process.JobLogic`).
        samples_dir: folder of the shared samples (default :func:`default_samples_dir`).
    """

    def __init__(self, app: Any = None, work_root: Optional[Path] = None, process_factory: Any = None,
                 python: Optional[str] = None, samples_dir: Optional[Path] = None) -> None:
        from CardioGenSlicerLib.data_logic import DataLogic
        from CardioGenSlicerLib.latent_logic import LatentLogic
        from CardioGenSlicerLib.motion_logic import MotionLogic
        from CardioGenSlicerLib.process import default_process_factory
        from CardioGenSlicerLib.synthesis_logic import SynthesisLogic

        super().__init__()
        self.app = app if app is not None else standalone_slicer_app()
        use_scene(self.app)
        self.scene = self.app.scene
        self.work_root = Path(work_root) if work_root else Path(tempfile.mkdtemp(prefix="CardioGenWeb-"))
        self.work_root.mkdir(parents=True, exist_ok=True)
        kw = dict(process_factory=process_factory or default_process_factory, python=python, scene=self.scene)
        self.data = DataLogic(work_root=self.work_root / "data", **kw)
        self.motion = MotionLogic(work_root=self.work_root / "motion", **kw)
        self.synthesis = SynthesisLogic(work_root=self.work_root / "synthesis", **kw)
        self.latent = LatentLogic(work_root=self.work_root / "latent", **kw)
        self.samples_dir = Path(samples_dir) if samples_dir else default_samples_dir()
        self.state = SessionState()
        self._closed = False

    # ---- Data ---------------------------------------------------------------------------------------------------
    def start_phantom(self, request: Any, label: str = "Phantom") -> None:
        """Simulate a phantom case (a :class:`CardioGenSlicerLib.data_logic.PhantomRequest`); it replaces the case."""
        self._start("data", "Simulating the phantom…", lambda **cb: self.data.start_phantom(request, **cb),
                    lambda result: self._set_case(result, label))

    def sample_names(self) -> list[str]:
        """The shared samples present on this machine."""
        if self.samples_dir is None:
            return []
        return [name for name, rel in SAMPLES.items() if (self.samples_dir / rel).exists()]

    def start_sample(self, name: str) -> None:
        if name not in SAMPLES:
            raise CardioGenInputError("unknown sample", expected=tuple(SAMPLES), got=name)
        if self.samples_dir is None or not (self.samples_dir / SAMPLES[name]).exists():
            raise CardioGenInputError("sample not found on this machine", source=SAMPLES[name])
        self.start_load(self.samples_dir / SAMPLES[name], label=Path(SAMPLES[name]).name.split(".")[0])

    def start_load(self, path: str | Path, label: str = "Loaded") -> None:
        """Read a file or DICOM folder with CardioGen's readers (bad files fail with the reader's one-line error)."""
        self._start("data", f"Reading {Path(path).name}…", lambda **cb: self.data.start_load(str(path), **cb),
                    lambda result: self._set_case(result, label))

    def save_upload(self, filename: str, content: bytes) -> Path:
        """Write an uploaded file into the session's folder (size-limited, the name reduced to safe characters)."""
        if len(content) > UPLOAD_LIMIT_BYTES:
            raise CardioGenInputError("file too large to upload", source=filename,
                                      expected=f"at most {UPLOAD_LIMIT_BYTES // (1024 * 1024)} MiB",
                                      got=f"{len(content) / (1024 * 1024):.0f} MiB")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "upload").name).lstrip(".") or "upload"
        folder = self.work_root / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(content)
        tmp.replace(path)
        return path

    def _clear(self) -> None:
        from CardioGenSlicerLib import mrml_bridge as mb

        st = self.state
        nodes: list = []
        for made in (st.latent_video, st.synthesis, st.motion, st.case):
            if made is not None:
                nodes.extend(made.all_nodes())
        if st.case is not None and st.case.ecg_sync is not None:
            st.case.ecg_sync.close()
        if self.latent.preview_node is not None:
            nodes.append(self.latent.preview_node)
            self.latent.preview_node = None
        mb.remove_nodes([n for n in nodes if n is not None], self.scene)
        self.state = SessionState()

    def _set_case(self, result: Any, label: str) -> None:
        self._clear()
        self.state.case = self.data.import_result(result, label)
        self.state.case_label = label
        self.state.shown = self.case_node()
        if "ecg_chart" in self.state.case.nodes:
            self.state.curves = ("ecg", self.state.case.nodes["ecg_chart"])
        self.set_playing(True)

    def case_node(self, roles: tuple = IMAGE_ROLES) -> Any:
        case = self.state.case
        if case is None:
            return None
        return next((case.nodes[r] for r in roles if r in case.nodes), None)

    # ---- Motion -------------------------------------------------------------------------------------------------
    def start_motion(self, method: str = "ltma") -> None:
        """Track the case's motion (``ltma``, ``demons`` or ``dense``); strain overlay, curves and bull's-eye."""
        image = self.case_node(("dense_magnitude",) if method == "dense" else ("cine", "image", "tagging"))
        if image is None:
            raise CardioGenInputError("load a case first: a cine (or, for the DENSE method, DENSE data)",
                                      got=self.state.case_label or "no case")
        mask = self.case_node(MASK_ROLES) if method != "dense" else None
        if method != "dense" and mask is None:
            raise CardioGenInputError("strain needs a myocardium mask: a phantom case or contours",
                                      source=self.state.case_label)

        def done(result: Any) -> None:
            from CardioGenSlicerLib import mrml_bridge as mb

            if self.state.motion is not None:
                mb.remove_nodes(self.state.motion.all_nodes(), self.scene)
            self.state.motion = self.motion.import_result(result, image, name=f"{self.state.case_label} motion")
            self._outline_masks()
            chart = self.state.motion.nodes.get("curves_chart")
            if chart is not None:
                self.state.curves = ("strain", chart)
            self.state.layout = "CardioGen"

        self._start("motion", f"Tracking motion ({method})…",
                    lambda **cb: self.motion.start(method, image, mask, device="cpu", **cb), done)

    def show_strain(self, component: str) -> None:
        """Overlay another strain component (``radial``, ``circumferential``) with its legend."""
        if self.state.motion is None:
            raise CardioGenInputError("run Motion first: there is no strain to show")
        reference = self.case_node(("cine", "image", "tagging", "dense_magnitude"))
        self.motion.show_component(self.state.motion, component, reference)
        self._outline_masks()
        self.state.layout = "CardioGen"

    def _outline_masks(self) -> None:
        """The case's segmentations as outlines in the slice views, so the strain colours under them show."""
        case = self.state.case.nodes if self.state.case is not None else {}
        for role in MASK_ROLES:
            display = case[role].GetDisplayNode() if role in case and case[role].IsA("vtkMRMLSegmentationNode") \
                else None
            if display is not None:
                display.SetVisibility2DFill(False)

    # ---- Synthesis ----------------------------------------------------------------------------------------------
    @staticmethod
    def form_options(pipeline: str, seed: int, steps: int) -> dict:
        """The Synthesis form's seed and (DENSE -> cine's) sampling steps, as far as ``pipeline`` declares them (the
        tagging pipelines are deterministic and take no seed)."""
        from CardioGenSlicerLib.synthesis_logic import declared_options

        form = {"seed": int(seed), "steps": int(steps)} if pipeline == "dense_to_cine" else {"seed": int(seed)}
        return declared_options(pipeline, form)

    def pipeline_inputs(self, pipeline: str) -> dict:
        """``{input name: node}`` from the current case (the page does not ask: one case at a time): an input named
        after a case role (``tagging``, ``cine``, ``ct``, ``landmarks``) takes that role, any other its kind's."""
        from CardioGenSlicerLib.synthesis_logic import pipeline_declaration

        case = self.state.case.nodes if self.state.case is not None else {}
        return case_inputs(pipeline_declaration(pipeline), case, self.state.case_label)

    def start_synthesis(self, pipeline: str, options: Optional[dict] = None) -> None:
        nodes = self.pipeline_inputs(pipeline)
        input_node = next((n for n in nodes.values() if n is not None), None)

        def done(result: Any) -> None:
            from CardioGenSlicerLib import mrml_bridge as mb

            if self.state.synthesis is not None:
                mb.remove_nodes(self.state.synthesis.all_nodes(), self.scene)
            self.state.synthesis = self.synthesis.import_result(result, input_node, name=f"{pipeline} (synthetic)",
                                                                inputs=nodes)
            self.state.latest = self.state.synthesis
            compare = input_node is not None and input_node.IsA("vtkMRMLVolumeNode") and pipeline != "ct_motion"
            self.state.layout = "Compare" if compare else "CardioGen"
            if not compare:
                self.state.shown = self._result_volume(self.state.synthesis) or self.state.shown
            self.set_playing(True)

        self._start("synthesis", f"Running {pipeline}…",
                    lambda **cb: self.synthesis.start(pipeline, nodes, dict(options or {}), device="cpu", **cb), done)

    # ---- Latent explorer ----------------------------------------------------------------------------------------
    def latent_seed(self, seed: int) -> dict:
        """A seeded random heart as the start; returns the slider ranges in physical units."""
        self.state.latent_start = self.latent.seed_start(int(seed))
        self.state.scales = self.latent.slider_scales(self.state.latent_start)  # once per start
        return self.latent_scales()

    def latent_scales(self) -> dict:
        """``{name: {label, unit, decimals, min, max, value}}`` of the usable frame-phenotype sliders, in physical
        units, for the current start (``value``: the unmoved heart's)."""
        out = {}
        for name, scale in self.state.scales.items():
            if not scale.usable:
                continue
            low, high = scale.range()
            decimals = scale.display_decimals()
            out[name] = {"label": scale.unit.label, "unit": scale.unit.unit, "decimals": decimals,
                         "min": round(float(low), decimals), "max": round(float(high), decimals),
                         "value": round(float(scale.at_zero), decimals)}
        return out

    def _slider_cs(self, physical: dict) -> dict:
        """Slider values c for phenotype values in physical units (a value shown as the unmoved heart's gives 0)."""
        scales = self.state.scales
        return {name: scales[name].c(float(value), scales[name].display_decimals())
                for name, value in physical.items() if name in scales and scales[name].usable}

    def latent_preview(self, physical: dict) -> dict:
        """The ED frame for sliders given in physical units; returns its measured phenotypes and the time taken."""
        if self.state.latent_start is None:
            self.latent_seed(0)
        sliders = self._slider_cs(physical)
        frame = self.latent.preview(self.state.latent_start, sliders)
        self.state.layout, self.state.shown = "CardioGen", self.latent.preview_node
        return {"measured": self.latent.measure(frame), "seconds": self.latent.last_preview_seconds,
                "sliders": sliders}

    def start_latent_video(self, physical: dict, frames: int = 25) -> None:
        if self.state.latent_start is None:
            self.latent_seed(0)
        sliders = self._slider_cs(physical)

        def done(result: Any) -> None:
            from CardioGenSlicerLib import mrml_bridge as mb

            if self.state.latent_video is not None:
                mb.remove_nodes(self.state.latent_video.all_nodes(), self.scene)
            self.state.latent_video = self.latent.import_result(result, None, name="Latent video (synthetic)")
            self.state.latest = self.state.latent_video
            self.state.layout = "CardioGen"
            self.state.shown = self._result_volume(self.state.latent_video) or self.state.shown
            self.set_playing(True)

        self._start("latent", "Generating the video…", lambda **cb: self.latent.start_video(
            self.state.latent_start, sliders, frames=int(frames), device="cpu", **cb), done)

    @staticmethod
    def _result_volume(made: Any) -> Any:
        return next((s.volume for s in made.series.values()
                     if s.volume is not None and s.volume.IsA("vtkMRMLVolumeNode")), None) if made else None

    def refit_views(self) -> None:
        """Fit the slice views again to what they show, after the page resized them (a layout switch): the compare
        views to the result's plane and field of view, else the views to the shown volume's planes (and the bull's-
        eye back in its view)."""
        from CardioGenSlicerLib import mrml_bridge as mb
        from CardioGenSlicerLib import mrml_compare as mc
        from CardioGenSlicerLib import mrml_curves as mcv
        from CardioGenSlicerLib import mrml_layout as ml

        st = self.state
        if st.layout == "Compare":
            result, pairs = self._result_volume(st.synthesis), mc.compare_views(self.scene)
            if result is not None and len(pairs) >= 2:
                mb.align_slice_to_volume_plane(pairs[0][0], result)
                mc.match_slice_view(pairs[1][0], pairs[0][0])
            return
        if st.shown is not None and self.scene.GetNodeByID(st.shown.GetID()) is not None:
            ml.align_views_to_volume(st.shown, self.scene)
        bullseye = st.motion.nodes.get("bullseye") if st.motion is not None else None
        if bullseye is not None:
            mcv.show_in_slice_view(bullseye, scene=self.scene)

    # ---- playback -----------------------------------------------------------------------------------------------
    def browsers(self) -> list:
        """Sequence browsers of what is shown: the case's (results synchronised with it follow) and results' own."""
        st = self.state
        out = list(st.case.browsers) if st.case is not None else []
        for made in (st.synthesis, st.latent_video):
            for series in (made.series.values() if made is not None else ()):
                if series.browser is not None and series.browser not in out:
                    out.append(series.browser)
        return [b for b in out if b is not None and self.scene.GetNodeByID(b.GetID()) is not None]

    def set_playing(self, playing: bool) -> None:
        for browser in self.browsers():
            browser.SetPlaybackLooped(True)
            browser.SetPlaybackActive(bool(playing))

    @property
    def playing(self) -> bool:
        return any(b.GetPlaybackActive() for b in self.browsers())

    def step_playback(self, now: Optional[float] = None) -> bool:
        """Advance every playing browser whose next frame is due (Slicer's Sequences toolbar does this from a Qt
        timer at the browser's playback rate). Returns True when a frame changed."""
        now = time.monotonic() if now is None else now
        changed = False
        for browser in self.browsers():
            if not browser.GetPlaybackActive():
                continue
            period = 1.0 / min(MAX_PLAYBACK_FPS, max(0.5, float(browser.GetPlaybackRateFps() or MAX_PLAYBACK_FPS)))
            due = self.state.due.get(browser.GetID(), 0.0)
            if now >= due:
                browser.SelectNextItem()
                self.state.due[browser.GetID()] = now + period
                changed = True
        return changed

    # ---- what the page shows ------------------------------------------------------------------------------------
    def summary(self) -> str:
        case = self.state.case
        return case.summary if case is not None else ""

    def warnings(self) -> list[str]:
        made = self.state.latest
        return list(made.warnings) if made is not None else []

    def close(self) -> None:
        """Stop the job and remove every file the session wrote."""
        if self._closed:
            return
        self._closed = True
        try:
            self.cancel()
        finally:
            shutil.rmtree(self.work_root, ignore_errors=True)
