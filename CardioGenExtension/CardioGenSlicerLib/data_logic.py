"""Logic of the CardioGen Data module, usable without the GUI (Slicer's Python console, tests).

Reading a file or simulating a phantom runs in a background job (:mod:`.process`); the finished job's files are
turned into MRML nodes by :meth:`DataLogic.import_result`, which removes every node it made if anything fails, so
a failed import leaves nothing half-loaded in the scene.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cardiogen.errors import CardioGenInputError

from . import mrml_bridge as mb
from . import mrml_layout as ml
from . import mrml_segmentation as mseg
from . import mrml_ecg as me
from .process import BackgroundJob, JobLogic, JobResult

#: Modalities the phantom can render (the panel's check boxes).
PHANTOM_MODALITIES = ("cine", "tagging", "dense", "ct", "ecg")


@dataclass
class PhantomRequest:
    """What the panel asks the phantom for (mirrors ``cardiogen.phantom.PhantomConfig`` + demographics)."""

    modalities: tuple[str, ...] = PHANTOM_MODALITIES
    seed: int = 0
    size: int = 64
    frames: int = 20
    age: float = 55.0
    sex: str = "M"
    height_cm: float = 175.0
    weight_kg: float = 78.0
    sbp: float = 128.0
    infarct_deg: Optional[float] = None
    dyssynchrony: float = 0.0
    view: str = "sax"
    slices: Optional[int] = None  #: None: 10 short-axis slices, or 1 four-chamber plane

    def options(self) -> dict:
        bad = [m for m in self.modalities if m not in PHANTOM_MODALITIES]
        if bad or not self.modalities:
            raise CardioGenInputError("choose phantom modalities", expected=PHANTOM_MODALITIES, got=bad or "none")
        opts: dict[str, Any] = {
            "seed": int(self.seed), "size": int(self.size), "frames": int(self.frames),
            "modalities": list(self.modalities), "dyssynchrony": float(self.dyssynchrony),
            "demographics": {"age": float(self.age), "sex": self.sex, "height_cm": float(self.height_cm),
                             "weight_kg": float(self.weight_kg), "sbp": float(self.sbp)},
        }
        if self.view != "sax":
            opts["view"] = str(self.view)
        if self.slices is not None or self.view != "sax":
            opts["slices"] = int(self.slices if self.slices is not None else 1)
        if self.infarct_deg is not None:
            opts["infarct"] = {"center_deg": float(self.infarct_deg), "width_deg": 60.0, "severity": 0.8}
        return opts


@dataclass
class LoadedData:
    """Nodes made from one job, by role (e.g. "cine", "dense_phase_x", "ecg_chart", "truth_segmentation")."""

    nodes: dict[str, Any] = field(default_factory=dict)
    summary: str = ""
    browsers: list = field(default_factory=list)
    ecg_sync: Any = None

    def all_nodes(self) -> list:
        return list(self.nodes.values())


class DataLogic(JobLogic):
    """Start load/phantom jobs and import their results as nodes.

    Constructor arguments: see :class:`.process.JobLogic`.
    """

    work_prefix = "CardioGen-"

    def start_load(self, path: str, on_progress: Optional[Callable[[float, str], None]] = None,
                   on_finished: Optional[Callable[[JobResult], None]] = None, kind: str = "auto") -> BackgroundJob:
        """Read ``path`` (file or DICOM folder) in the background."""
        if not path or not Path(path).exists():
            raise CardioGenInputError("file or folder not found", source=path or "(no path)")
        options = {} if kind == "auto" else {"kind": kind}
        job = BackgroundJob("load", {"path": str(path)}, options, self._dir("load"), on_progress=on_progress,
                            on_finished=on_finished, process_factory=self.process_factory, python=self.python)
        job.start()
        return job

    def start_phantom(self, request: PhantomRequest, on_progress: Optional[Callable[[float, str], None]] = None,
                      on_finished: Optional[Callable[[JobResult], None]] = None) -> BackgroundJob:
        """Simulate a phantom case in the background."""
        job = BackgroundJob("phantom", {}, request.options(), self._dir("phantom"), on_progress=on_progress,
                            on_finished=on_finished, process_factory=self.process_factory, python=self.python)
        job.start()
        return job

    # ---- results -> nodes ---------------------------------------------------------------------------------------
    def import_result(self, result: JobResult, name: str = "CardioGen") -> LoadedData:
        """Create nodes for every output of a finished job; on any error remove them all and re-raise."""
        from cardiogen import io

        if result.output_dir is None:
            raise CardioGenInputError("the job produced no output folder")
        out = Path(result.output_dir)
        loaded = LoadedData()
        sequences: list = []  # 4D segmentations (Segmentation, node label), shown after the cine has its browser
        try:
            for role, rel in result.outputs.items():
                path = out / rel
                if role in ("manifest",) or role.startswith("truth_") and role not in (
                        "truth_segmentation_ed", "truth_segmentation"):
                    continue
                if role == "truth_segmentation":  # 4D: after the loop, to play with the cine's browser
                    continue
                if role in ("image", "cine", "tagging", "ct"):
                    series = io.load(path)
                    label = name if role == "image" else f"{name} {role}"
                    nodes = mb.image_series_to_nodes(series, label, self.scene)
                    self._add(loaded, role, nodes)
                elif role == "dense":
                    dense = io.load(path)
                    nodes = mb.image_series_to_nodes(dense.magnitude, f"{name} DENSE magnitude", self.scene)
                    for node in nodes.nodes:  # the Motion module's DENSE method reads the phase from this file
                        node.SetAttribute(mb.ATTR_SOURCE_FILE, str(path))
                    self._add(loaded, "dense_magnitude", nodes)
                    for i, enc in enumerate(dense.encodings):
                        phase = dense.magnitude.with_array(dense.phase[i], modality="dense_phase")
                        self._add(loaded, f"dense_phase_{enc}",
                                  mb.image_series_to_nodes(phase, f"{name} DENSE phase {enc}", self.scene))
                    if dense.segmentation is not None:
                        loaded.nodes["dense_contours"] = mseg.segmentation_to_node(
                            dense.segmentation, f"{name} DENSE contours", self._first_annotated(dense.segmentation),
                            self.scene)
                elif role == "ecg":
                    ecg = io.load(path)
                    made = me.ecg_to_nodes(ecg, f"{name} ECG", self.scene)
                    for key, node in made.items():
                        if isinstance(node, list):
                            for i, n in enumerate(node):
                                loaded.nodes[f"ecg_{key}_{i}"] = n
                        else:
                            loaded.nodes[f"ecg_{key}"] = node
                elif role == "landmarks":  # over the images loaded with them, when their frame times agree
                    from . import mrml_landmarks as mlm

                    nodes = mlm.landmarks_to_nodes(io.load(path), f"{name} landmarks", self.scene,
                                                   loaded.nodes.get("tagging_browser"))
                    loaded.nodes["landmarks"] = nodes.volume
                    loaded.nodes["landmarks_sequence"] = nodes.sequence
                    if nodes.browser is not None:
                        loaded.nodes["landmarks_browser"] = nodes.browser
                        loaded.browsers.append(nodes.browser)
                elif role == "segmentation" or role == "truth_segmentation_ed":
                    seg = io.load(path)
                    key = "segmentation" if role == "segmentation" else "truth_segmentation"
                    loaded.nodes[key] = mseg.segmentation_to_node(seg, f"{name} {key.replace('_', ' ')}", 0,
                                                                self.scene)
                    if role == "segmentation" and seg.n_frames > 1:  # a 4D file: also as a sequence, after the loop
                        sequences.append((seg, f"{name} segmentation 4D"))
            if "truth_segmentation" in result.outputs:
                sequences.append((io.load(out / result.outputs["truth_segmentation"]), f"{name} truth segmentation 4D"))
            for seg, label in sequences[:1]:  # one 4D segmentation plays in 3D (the loaded file's, else the truth's)
                self._add_segmentation_sequence(loaded, seg, label)
            self._wire_views(loaded)
            loaded.summary = summarize(result.summary)
        except Exception:
            if loaded.ecg_sync is not None:
                loaded.ecg_sync.close()
            mb.remove_nodes(loaded.all_nodes(), self.scene)
            raise
        return loaded

    @staticmethod
    def _first_annotated(seg: Any) -> int:
        frames = [t for t in range(seg.n_frames) if seg.annotated[t].any()]
        return frames[0] if frames else 0

    @staticmethod
    def _add(loaded: LoadedData, role: str, nodes: mb.SeriesNodes) -> None:
        loaded.nodes[role] = nodes.volume
        if nodes.sequence is not None:
            loaded.nodes[f"{role}_sequence"] = nodes.sequence
            loaded.nodes[f"{role}_browser"] = nodes.browser
            loaded.browsers.append(nodes.browser)

    def _add_segmentation_sequence(self, loaded: LoadedData, seg: Any, label: str) -> None:
        """A 4D segmentation as a segmentation sequence (closed surfaces in 3D), playing with the cine's browser
        when their frame times agree, else with its own."""
        browser = loaded.nodes.get("cine_browser")
        sequence = loaded.nodes.get("cine_sequence")
        if browser is not None and sequence is not None:
            times = [float(sequence.GetNthIndexValue(i)) for i in range(sequence.GetNumberOfDataNodes())]
            if len(times) != seg.n_frames or not all(f"{a:g}" == f"{float(b):g}"
                                                      for a, b in zip(times, seg.frame_times)):
                browser = None
        nodes = mseg.segmentation_sequence_to_nodes(seg, label, browser, self.scene)
        loaded.nodes["segmentation_4d"] = nodes.volume
        loaded.nodes["segmentation_4d_sequence"] = nodes.sequence
        if nodes.browser is not None:
            loaded.nodes["segmentation_4d_browser"] = nodes.browser
            loaded.browsers.append(nodes.browser)

    def _wire_views(self, loaded: LoadedData) -> None:
        """Show the main image in the slice views, rotated to its planes (the oblique cine's short axis in Red, its
        long-axis cuts in Yellow and Green), give segmentations a legend of their segments, play 4D data with the Sequences toolbar, show the ECG chart in a plot
        view, and keep the ECG marker on the playing frame."""
        import slicer

        main = next((loaded.nodes[r] for r in ("cine", "image", "dense_magnitude", "ct", "tagging")
                     if r in loaded.nodes), None)
        if main is not None:
            mb.show_in_slice_views(main, scene=self.scene)
            ml.align_views_to_volume(main, self.scene)
        for key in ("segmentation", "truth_segmentation", "dense_contours"):  # each colour overlay with its legend
            if key in loaded.nodes:
                legend = mseg.add_segment_legend(loaded.nodes[key])
                if legend is not None:
                    loaded.nodes[f"{key}_legend"] = legend
        browser = next((loaded.nodes[f"{r}_browser"] for r in ("cine", "image", "dense_magnitude", "ct")
                        if f"{r}_browser" in loaded.nodes), None)
        if browser is not None and "ecg_marker_table" in loaded.nodes:
            loaded.ecg_sync = me.EcgBrowserSync(browser, loaded.nodes["ecg_marker_table"])
        if "ecg_chart" in loaded.nodes:  # the plot view of the CardioGen layout
            ml.show_chart(loaded.nodes["ecg_chart"], self.scene)
        # Application-level conveniences that exist only inside the Slicer application (not in slicer-core):
        app = getattr(slicer, "app", None)
        if app is None:
            return
        modules = getattr(slicer, "modules", None)
        if browser is not None and hasattr(getattr(modules, "sequences", None), "setToolBarActiveBrowserNode"):
            modules.sequences.setToolBarActiveBrowserNode(browser)


def summarize(summary: dict) -> str:
    """Human-readable lines for the panel from a job summary (``cardiogen.io.describe`` dicts)."""
    lines = []
    items = summary.get("loaded") and {"loaded": summary["loaded"]} or summary
    for role, info in items.items():
        if not isinstance(info, dict):
            continue
        parts = [f"{k}: {_fmt(v)}" for k, v in info.items() if k in (
            "modality", "shape", "spacing_mm", "frames", "frame_interval_ms", "n_leads", "sampling_rate_hz",
            "duration_s", "heart_rate_bpm", "encodings", "ke_cycles_per_mm")]
        lines.append(f"{role} — " + ", ".join(parts))
    if "source" in summary:
        lines.append(f"source: {summary['source']}")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "×".join(_fmt(v) for v in value) if all(isinstance(v, (int, float)) for v in value) else str(value)
    return str(value)


def read_result_file(output_dir: Path) -> dict:
    """The ``result.json`` a job leaves in its output folder."""
    return json.loads((Path(output_dir) / "result.json").read_text())
