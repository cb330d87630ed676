"""Logic of the CardioGen Latent Explorer module (seed 002: GANcMRI sliders and trajectories).

Two speeds of work:

* **Live preview** (:meth:`LatentLogic.preview`): one ED frame from the current start latent with the current slider
  values — a single forward pass of the 64×64 generator (milliseconds; measured in the panel test) done in the
  Slicer process, so the frame follows the slider while it is dragged. The model is loaded once, lazily.
* **Everything else** runs in background processes with progress and Cancel: projecting the selected cine's ED
  frame (job ``latent_project``) and generating the full video (pipeline ``latent_video``: trajectory, sliders,
  temporal super-resolution) whose result becomes a sequence with a browser, marked synthetic.

The video job re-derives the start latent from the same inputs (seed, or the same projection with the same seed and
steps), so the video starts at exactly the previewed frame.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from cardiogen.errors import CardioGenInputError

from . import mrml_bridge as mb
from . import mrml_layout as ml
from .process import BackgroundJob, JobResult
from .synthesis_logic import SynthesisLogic

PREVIEW_NAME = "Latent ED preview (synthetic)"


@dataclass
class LatentStart:
    """Where videos start: a seeded random heart or the projection of a cine's ED frame."""

    kind: str = "seed"          #: "seed" or "project_ed"
    seed: int = 0
    cine_node: Any = None
    projection_steps: int = 150
    ws: Any = None              #: torch (1, num_ws, w_dim) once known
    info: dict = field(default_factory=dict)


class LatentLogic(SynthesisLogic):
    work_prefix = "CardioGenLatent-"

    def __init__(self, *args: Any, weights: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weights = weights
        self._model = None
        self.preview_node = None
        self._preview_views: set = set()  #: layout names of the slice views that show the preview
        self.last_preview_seconds = float("nan")

    # ---- in-process model (preview only) -----------------------------------------------------------------------
    def model(self) -> Any:
        if self._model is None:
            from cardiogen.latent import LatentModel

            self._model = LatentModel.load(self.weights, device="cpu")
        return self._model

    def slider_names(self) -> list[str]:
        return list(self.model().sliders)

    def seed_start(self, seed: int) -> LatentStart:
        return LatentStart("seed", int(seed), ws=self.model().start_latents(int(seed)))

    def preview(self, start: LatentStart, sliders: dict) -> np.ndarray:
        """The ED frame ``(R, R)`` in [-1, 1] for ``start`` moved by ``sliders``; also shown in the preview node."""
        if start.ws is None:
            raise CardioGenInputError("no start latent yet: choose a seed or project a cine first")
        t0 = time.perf_counter()
        m = self.model()
        frame = m.frames(m.apply_sliders(start.ws, sliders))[0]
        self.last_preview_seconds = time.perf_counter() - t0
        self._show_preview(frame)
        return frame

    def measure(self, frame: np.ndarray) -> dict:
        """The ED frame's phenotypes ``(R, R)`` in physical units (LV area cm², thickness mm, sphericity)."""
        m = self.model()
        return {k: float(v[0]) for k, v in m.physical(m.measure(frame[None, None])).items()}

    def phenotype_unit(self, name: str) -> Any:
        """Label, unit and decimals of a phenotype (:class:`cardiogen.latent.phenotypes.PhenotypeUnit`)."""
        from cardiogen.latent.phenotypes import PHENOTYPE_UNITS, PhenotypeUnit

        return PHENOTYPE_UNITS.get(name, PhenotypeUnit(name, "", 2))

    def slider_scales(self, start: LatentStart) -> dict:
        """``{name: SliderScale}`` of the frame phenotypes' sliders for this start (each measured at six slider
        values: six generator passes per slider, about 60 ms). The video phenotype (``ef_area``) needs generated
        videos to measure (seconds), too slow for the panel's thread: its slider stays in c."""
        from cardiogen.latent.phenotypes import FRAME_PHENOTYPES

        if start.ws is None:
            raise CardioGenInputError("no start latent yet: choose a seed or project a cine first")
        names = [n for n in self.slider_names() if n in FRAME_PHENOTYPES]
        return self.model().slider_scales(start.ws, names)

    def _show_preview(self, frame: np.ndarray) -> None:
        from cardiogen.data import ImageSeries

        series = ImageSeries(((frame + 1.0) * 0.5)[None, None].astype(np.float32), self.model().geometry(),
                             modality="cine", description="Latent ED preview").mark_synthetic("latent_video")
        scn = mb._scene(self.scene)
        if self.preview_node is not None and scn.GetNodeByID(self.preview_node.GetID()) is not None:
            mb.update_volume_node(self.preview_node, series)
        else:  # once, when it appears: the slice view rotated to its plane (Red; later frames keep the user's zoom)
            self.preview_node = mb.image_series_to_nodes(series, "Latent ED preview", self.scene).volume
            self._preview_views = {n.GetLayoutName() for n in ml.align_views_to_volume(self.preview_node, self.scene)}
        composites = scn.GetNodesByClass("vtkMRMLSliceCompositeNode")
        for i in range(composites.GetNumberOfItems()):
            composite = composites.GetItemAsObject(i)
            if composite.GetLayoutName() in self._preview_views or (not self._preview_views and i == 0):
                composite.SetBackgroundVolumeID(self.preview_node.GetID())

    # ---- background jobs ---------------------------------------------------------------------------------------
    def start_projection(self, cine_node: Any, *, seed: int = 0, steps: int = 150, slice_index: int = -1,
                         on_progress: Optional[Callable] = None,
                         on_finished: Optional[Callable[[JobResult], None]] = None) -> BackgroundJob:
        """Project the ED frame of ``cine_node`` (background job ``latent_project``)."""
        from cardiogen import io

        if cine_node is None:
            raise CardioGenInputError("choose the cine to project")
        folder = self._dir("inputs")
        folder.mkdir(parents=True, exist_ok=True)
        path = io.save(mb.nodes_to_image_series(cine_node), folder / "cine.seq.nrrd")
        options = {"seed": int(seed), "steps": int(steps), "slice": int(slice_index), "device": "cpu"}
        if self.weights:
            options["weights"] = self.weights
        job = BackgroundJob("latent_project", {"cine": str(path)}, options, self._dir("project"),
                            on_progress=on_progress, on_finished=on_finished, process_factory=self.process_factory,
                            python=self.python)
        job.start()
        return job

    def projected_start(self, result: JobResult, cine_node: Any, seed: int, steps: int) -> LatentStart:
        from safetensors.torch import load_file

        ws = load_file(str(Path(result.output_dir) / result.outputs["latents"]))["ws"]
        return LatentStart("project_ed", int(seed), cine_node, int(steps), ws=ws, info=dict(result.summary))

    def start_video(self, start: LatentStart, sliders: dict, *, method: str = "f2f", frames: int = 50,
                    tsr_factor: int = 1, device: str = "auto", on_progress: Optional[Callable] = None,
                    on_finished: Optional[Callable[[JobResult], None]] = None) -> BackgroundJob:
        options = {"start": start.kind, "seed": int(start.seed), "method": method, "frames": int(frames),
                   "tsr_factor": int(tsr_factor), "projection_steps": int(start.projection_steps)}
        options.update({k: float(v) for k, v in sliders.items()})
        nodes = {"cine": start.cine_node if start.kind == "project_ed" else None}
        return self.start("latent_video", nodes, options, weights=self.weights, device=device,
                          on_progress=on_progress, on_finished=on_finished)
