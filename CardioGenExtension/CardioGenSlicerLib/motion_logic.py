"""Logic of the CardioGen Motion module, usable without the GUI.

:meth:`MotionLogic.start` writes the selected nodes to files and runs the ``motion`` background job
(``cardiogen.jobs``); :meth:`MotionLogic.import_result` shows the result: the displacement as a sequence of grid
transforms (drawn as a deformed grid on the reference), a strain component as a colored foreground overlay with its
legend, the global and AHA segment curves (in %, named by segment) in the plot view, and the AHA 17-segment
bull's-eye of peak circumferential strain (borders, numbers, values, colour legend) in a slice view
(:mod:`.mrml_curves`). Everything it adds is removed again if any step fails.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from cardiogen.data import ImageSeries
from cardiogen.errors import CardioGenInputError

from . import mrml_bridge as mb
from . import mrml_segmentation as mseg
from . import mrml_compare as mcmp
from . import mrml_curves as mc
from . import mrml_strain as ms
from .process import BackgroundJob, JobLogic, JobResult

METHODS = {"LTMA (learned)": "ltma", "Demons (classical)": "demons", "B-spline (classical)": "bspline",
           "DENSE phase": "dense"}


AHA_NAMES = ("basal anterior", "basal anteroseptal", "basal inferoseptal", "basal inferior", "basal inferolateral",
             "basal anterolateral", "mid anterior", "mid anteroseptal", "mid inferoseptal", "mid inferior",
             "mid inferolateral", "mid anterolateral", "apical anterior", "apical septal", "apical inferior",
             "apical lateral")


@dataclass
class MotionResult:
    nodes: dict = field(default_factory=dict)
    strain_nodes: dict = field(default_factory=dict)   #: component -> SeriesNodes
    peaks: dict = field(default_factory=dict)
    output_dir: Optional[Path] = None

    def all_nodes(self) -> list:
        out = list(self.nodes.values())
        for nodes in self.strain_nodes.values():
            out.extend(nodes.nodes)
        return out


class MotionLogic(JobLogic):
    work_prefix = "CardioGenMotion-"

    def prepare_inputs(self, method: str, image_node: Any, mask_node: Any = None) -> dict:
        """Write the selected nodes to files for the job; returns the job's ``inputs``."""
        from cardiogen import io

        if image_node is None:
            raise CardioGenInputError("select an image series (cine, or the DENSE magnitude)")
        inputs: dict[str, str] = {}
        folder = self._dir("inputs")
        folder.mkdir(parents=True, exist_ok=True)
        series = mb.nodes_to_image_series(image_node)
        if method == "dense":
            source = mb.source_file(image_node)
            if not source or not Path(source).is_file():
                raise CardioGenInputError("the DENSE method needs DENSE data loaded with CardioGen Data (magnitude "
                                          "and phase); the selected node has no DENSE source",
                                          source=image_node.GetName())
            inputs["dense"] = source
        else:
            if series.n_frames < 2:
                raise CardioGenInputError("registration needs a series of frames", source=image_node.GetName(),
                                          got=f"{series.n_frames} frame")
            inputs["cine"] = str(io.save(series, folder / "cine.seq.nrrd"))
        if mask_node is not None:
            seg = mseg.node_to_segmentation(mask_node, series.geometry, series.spatial_shape)
            if not (seg.labels > 0).any():
                raise CardioGenInputError("the mask segmentation is empty on the image grid",
                                          source=mask_node.GetName())
            seg.value_of("LV myocardium")  # raises a clear error when the segment is missing
            inputs["mask"] = str(io.save(seg, folder / "mask.seg.nrrd"))
        return inputs

    def start(self, method: str, image_node: Any, mask_node: Any = None, *, weights: Optional[str] = None,
              device: str = "auto", refine_mask: bool = False,
              on_progress: Optional[Callable[[float, str], None]] = None,
              on_finished: Optional[Callable[[JobResult], None]] = None) -> BackgroundJob:
        if method not in METHODS.values():
            raise CardioGenInputError("unknown motion method", expected=tuple(METHODS.values()), got=method)
        inputs = self.prepare_inputs(method, image_node, mask_node)
        options: dict[str, Any] = {"method": method, "device": device}
        if weights:
            options["weights"] = weights
        if refine_mask:
            options["refine_mask"] = True
        job = BackgroundJob("motion", inputs, options, self._dir("motion"), on_progress=on_progress,
                            on_finished=on_finished, process_factory=self.process_factory, python=self.python)
        job.start()
        return job

    # ---- results -> nodes -----------------------------------------------------------------------------------------
    def import_result(self, result: JobResult, reference_node: Any, name: str = "Motion",
                      component: str = "circumferential") -> MotionResult:
        from cardiogen import io

        out = Path(result.output_dir)
        motion = MotionResult(output_dir=out, peaks=dict(result.summary.get("peaks") or {}))
        try:
            disp = io.load(out / result.outputs["displacement"])
            nodes = mb.displacement_to_nodes(disp, f"{name} displacement", self.scene)
            motion.nodes.update(displacement=nodes.volume, displacement_sequence=nodes.sequence,
                                displacement_browser=nodes.browser)
            show_displacement_grid(nodes.volume, mc.views_except(mc.BULLSEYE_VIEW, self.scene))
            mask = None
            if "strain_mask" in result.outputs:
                mask = io.load(out / result.outputs["strain_mask"]).array[0] > 0.5  # (z, y, x)
            for key, rel in result.outputs.items():
                if key.startswith("strain_") and key != "strain_mask":
                    comp = key[len("strain_"):]
                    series = io.load(out / rel)
                    values = series.array.copy()
                    if mask is not None:
                        values[:, ~mask] = ms.OUTSIDE_MASK
                    motion.strain_nodes[comp] = _strain_series_nodes(series.with_array(values), f"{name} {comp}",
                                                                     self.scene)
            if "curves" in result.outputs:  # in %, named by AHA segment, in the plot view
                motion.nodes.update(mc.strain_curves_to_nodes(out / result.outputs["curves"], name, scene=self.scene))
                mc.show_chart(motion.nodes["curves_chart"], self.scene)
            segments = result.summary.get("segments_circumferential_at_peak")
            if segments:  # the AHA 17-segment bull's-eye picture, face-on in the third slice view
                values = 100.0 * np.array([np.nan if v is None else v for v in segments], dtype=float)
                motion.nodes["bullseye"] = mc.bullseye_to_node(
                    values, f"{name} bull's-eye (peak circumferential, %)", "Peak circumferential strain (%)",
                    self.scene)
            if component in motion.strain_nodes:  # the overlay with its legend, the bull's-eye in its own view
                self.show_component(motion, component, reference_node)
            elif "bullseye" in motion.nodes:
                mc.show_in_slice_view(motion.nodes["bullseye"], scene=self.scene)
        except Exception:
            mb.remove_nodes(motion.all_nodes(), self.scene)
            raise
        return motion

    def show_component(self, motion: MotionResult, component: str, reference_node: Any) -> None:
        """Overlay one strain component (with legend) on the reference image in the slice views."""
        if component not in motion.strain_nodes:
            raise CardioGenInputError("strain component not computed", expected=tuple(motion.strain_nodes),
                                      got=component)
        overlay = motion.strain_nodes[component].volume
        mb.show_in_slice_views(reference_node, overlay, 0.6, scene=self.scene)
        for other, nodes in motion.strain_nodes.items():  # one legend: the shown component's
            if other != component:
                ms.hide_strain_legend(nodes.volume)
        motion.nodes["legend"] = ms.add_strain_legend(overlay, f"{component} strain")
        if motion.nodes.get("bullseye") is not None:  # the bull's-eye keeps its view, without the image overlays
            bullseye_view = mc.show_in_slice_view(motion.nodes["bullseye"], scene=self.scene)
            if bullseye_view is not None:
                mcmp.keep_overlays_out([bullseye_view], self.scene)

    @staticmethod
    def export_csv(motion: MotionResult, path: str | Path) -> Path:
        """Copy the curves CSV (time, global and AHA segment curves) and write the peaks next to it (JSON)."""
        if motion.output_dir is None or not (motion.output_dir / "strain_curves.csv").is_file():
            raise CardioGenInputError("no strain curves to export (run with a myocardium mask or DENSE)")
        path = Path(path)
        shutil.copyfile(motion.output_dir / "strain_curves.csv", path)
        path.with_suffix(".peaks.json").write_text(json.dumps(motion.peaks, indent=2))
        return path


def _strain_series_nodes(series: ImageSeries, name: str, scene: Any) -> mb.SeriesNodes:
    nodes = mb.image_series_to_nodes(series, name, scene)
    ms.style_strain_display(nodes.volume, scene)
    return nodes


def show_displacement_grid(transform_node: Any, view_ids: Optional[list] = None) -> None:
    """Draw a transform as a deformed grid in the slice views (Transforms module's grid visualization); with
    ``view_ids``, only in those views (set before the display is attached: views decide then whether they draw it)."""
    scn = transform_node.GetScene()
    display = scn.AddNewNodeByClass("vtkMRMLTransformDisplayNode")
    for view_id in view_ids or ():
        display.AddViewNodeID(view_id)
    display.SetVisualizationMode(display.VIS_MODE_GRID)
    display.SetVisibility2D(True)
    display.SetVisibility(True)
    display.SetGridSpacingMm(6.0)
    transform_node.SetAndObserveDisplayNodeID(display.GetID())
