"""Logic of the CardioGen Synthesis module: any registered pipeline, inputs from the scene, results as sequences.

* :func:`pipeline_declarations` lists what the library's pipeline registry declares (inputs, options, outputs).
* :meth:`SynthesisLogic.start` writes the chosen input nodes to files and runs the ``pipeline`` background job.
* :meth:`SynthesisLogic.import_result` turns each output into nodes (synthetic ones named "(synthetic)" with the
  ``CardioGen.Synthetic`` attribute, provenance kept as ``CardioGen.Provenance.*`` attributes), synchronises result
  sequences with the input's browser so both play together, and shows the input and the result side by side in two
  linked views of one orientation and zoom (:mod:`.mrml_compare`).
* :meth:`SynthesisLogic.export` writes a result as GIF, MP4 or a synthetic-marked DICOM series, with its provenance
  as JSON beside it (:mod:`.provenance`).
* ``ecg_to_cine`` (seed 003) reads the window chosen on the ECG table (:mod:`.mrml_ecg_window`) and its cine moves
  the ECG chart's cursor as its browser plays (frame k at the provenance's ``r_peak_ms`` + its frame time).
* ``ct_motion`` (seed 004) results get their own nodes (:mod:`.mrml_ct_motion`): each flow as two grid transforms
  (ED->ES and ES->ED), the heart segmentation input moved onto each synthetic ED and played between ES and ED with
  the pair's browser; :func:`recorded_phase` gives the panel the 4D CT's recorded ES phase.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cardiogen.errors import CardioGenInputError

from . import mrml_bridge as mb
from . import mrml_segmentation as mseg
from . import mrml_compare as mc
from . import mrml_ecg as me
from . import mrml_ecg_window as mew
from . import mrml_landmarks as mlm
from . import mrml_layout as ml
from . import provenance as prov
from .process import BackgroundJob, JobLogic, JobResult

#: MRML node classes that can feed each input kind.
NODE_TYPES = {
    "ImageSeries": ("vtkMRMLScalarVolumeNode",),
    "DenseSeries": ("vtkMRMLScalarVolumeNode",),   # the DENSE magnitude loaded by CardioGen Data
    "Segmentation": ("vtkMRMLSegmentationNode",),
    "Ecg": ("vtkMRMLTableNode",),
    "DisplacementSeries": ("vtkMRMLGridTransformNode",),
    "LandmarkSeries": ("vtkMRMLMarkupsFiducialNode",),
}


def recorded_phase(node: Any) -> Optional[tuple[Optional[int], int]]:
    """``(recorded ES frame or None, number of frames)`` of a 4D volume series node; None for anything else."""
    if node is None or not node.IsA("vtkMRMLScalarVolumeNode"):
        return None
    seq = mb._as_sequence(node)
    if seq is None:
        return None
    return mb.recorded_es_frame(node), seq.GetNumberOfDataNodes()


def pipeline_declarations() -> list[dict]:
    from cardiogen.pipelines import list_pipelines

    return list_pipelines()


def pipeline_declaration(pipeline: str) -> dict:
    """The registered pipeline's declaration (inputs, options); unknown names refused."""
    declaration = next((d for d in pipeline_declarations() if d["name"] == pipeline), None)
    if declaration is None:
        raise CardioGenInputError("unknown pipeline", got=pipeline)
    return declaration


def declared_options(pipeline: str, values: dict) -> dict:
    """The entries of ``values`` that ``pipeline`` declares as options (a form's fields it has no use for dropped)."""
    declared = {o["name"] for o in pipeline_declaration(pipeline)["options"]}
    return {k: v for k, v in values.items() if k in declared}


@dataclass
class SynthesisResult:
    nodes: dict = field(default_factory=dict)
    series: dict = field(default_factory=dict)   #: output name -> SeriesNodes
    output_dir: Optional[Path] = None
    summary: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)   #: the outputs' provenance warnings, each once, in order
    provenance: dict = field(default_factory=dict)  #: output name -> its provenance record
    ecg_cursors: list = field(default_factory=list)  #: EcgBrowserSync of results generated from an ECG
    surfaces: dict = field(default_factory=dict)  #: output name -> SeriesNodes of a segmentation sequence (3D)

    def all_nodes(self) -> list:
        out = list(self.nodes.values())
        for s in list(self.series.values()) + list(self.surfaces.values()):
            out.extend(s.nodes)
        return out


class SynthesisLogic(JobLogic):
    work_prefix = "CardioGenSynthesis-"
    #: the last ``heart_4d`` result, (image SeriesNodes, surfaces SeriesNodes, provenance): the next one is compared
    #: with it side by side, with both in the phenotype table
    last_heart: Optional[tuple] = None
    heart_table: Any = None

    def write_inputs(self, declaration: dict, nodes: dict) -> dict:
        """Files for the declared inputs from the chosen nodes (``{input name: node or None}``)."""
        from cardiogen import io

        folder = self._dir("inputs")
        folder.mkdir(parents=True, exist_ok=True)
        files: dict[str, str] = {}
        reference = None
        for spec in declaration["inputs"]:
            node = nodes.get(spec["name"])
            if node is None:
                if spec["required"]:
                    raise CardioGenInputError(f"choose the input '{spec['name']}' ({spec['kind']})")
                continue
            kind = spec["kind"]
            if kind == "DenseSeries":
                source = mb.source_file(node)
                if not source or not Path(source).is_file():
                    raise CardioGenInputError("this input needs DENSE data loaded with CardioGen Data",
                                              source=node.GetName())
                files[spec["name"]] = source
                reference = reference or mb.nodes_to_image_series(node)
            elif kind == "ImageSeries":
                series = mb.nodes_to_image_series(node)
                files[spec["name"]] = str(io.save(series, folder / f"{spec['name']}.seq.nrrd"))
                reference = reference or series
            elif kind == "Segmentation":
                if reference is None:
                    raise CardioGenInputError("choose the image input before the segmentation")
                seg = mseg.node_to_segmentation(node, reference.geometry, reference.spatial_shape)
                files[spec["name"]] = str(io.save(seg, folder / f"{spec['name']}.seg.nrrd"))
            elif kind == "Ecg":  # the window chosen in CardioGen Data (mrml_ecg_window), else the whole record
                files[spec["name"]] = str(io.save(mew.windowed_ecg(node), folder / f"{spec['name']}.csv"))
            elif kind == "DisplacementSeries":
                files[spec["name"]] = str(io.save(mb.nodes_to_displacement(node), folder / f"{spec['name']}.seq.nrrd"))
            elif kind == "LandmarkSeries":  # the point list's current points, as the ED landmarks
                files[spec["name"]] = str(io.save(mlm.node_to_landmarks(node), folder / f"{spec['name']}.json"))
            else:
                raise CardioGenInputError("input kind not supported in Slicer", got=kind)
        return files

    def start(self, pipeline: str, nodes: dict, options: dict, *, weights: Optional[str] = None,
              device: str = "auto", on_progress: Optional[Callable[[float, str], None]] = None,
              on_finished: Optional[Callable[[JobResult], None]] = None) -> BackgroundJob:
        files = self.write_inputs(pipeline_declaration(pipeline), nodes)
        job_options = {"pipeline": pipeline, "device": device, "options": dict(options)}
        if weights:
            job_options["weights"] = weights
        job = BackgroundJob("pipeline", files, job_options, self._dir(pipeline), on_progress=on_progress,
                            on_finished=on_finished, process_factory=self.process_factory, python=self.python)
        job.start()
        return job

    def import_result(self, result: JobResult, input_node: Any = None, name: str = "CardioGen",
                      inputs: Optional[dict] = None) -> SynthesisResult:
        """Nodes for every output; ``inputs`` (``{input name: node}``, the run's inputs) lets ``ct_motion`` move its
        heart segmentation input onto the synthetic ED volumes."""
        from cardiogen import io
        from cardiogen.data import DisplacementSeries, ImageSeries, LandmarkSeries, Segmentation

        out = Path(result.output_dir)
        made = SynthesisResult(output_dir=out, summary=dict(result.summary))
        if made.summary.get("pipeline") == "ct_motion":
            return self._import_ct_motion(result, made, input_node, name, inputs or {})
        cycles: dict = {}
        try:
            for key, rel in result.outputs.items():
                label = f"{name} {key}"
                if key.endswith("_curves") and rel.endswith(".csv"):  # tag_tracking's landmark strain
                    made.nodes.update(mlm.landmark_strain_to_nodes(out / rel, name, self.scene))
                    continue
                obj = io.load(out / rel)
                if getattr(obj, "provenance", None):
                    made.provenance[key] = dict(obj.provenance)
                if isinstance(obj, ImageSeries):
                    made.series[key] = mb.image_series_to_nodes(obj, label, self.scene)
                    for text in (obj.provenance or {}).get("warnings", []) or []:
                        if text not in made.warnings:
                            made.warnings.append(text)
                elif isinstance(obj, DisplacementSeries):
                    made.series[key] = mb.displacement_to_nodes(obj, label, self.scene)
                elif isinstance(obj, Segmentation) and obj.n_frames > 1:  # plays with its image (below)
                    cycles[key] = (obj, label)
                elif isinstance(obj, Segmentation):
                    made.nodes[key] = mseg.segmentation_to_node(obj, label, 0, self.scene)
                elif isinstance(obj, LandmarkSeries):  # moving points over the input's images
                    browser = (mb.sequences_logic().GetFirstBrowserNodeForProxyNode(input_node)
                               if input_node is not None else None)
                    made.series[key] = mlm.landmarks_to_nodes(obj, label, self.scene, browser)
            image_browser = next((v.browser for v in made.series.values() if v.browser is not None), None)
            for key, (seg, label) in cycles.items():  # surfaces in 3D, playing with the generated images
                made.surfaces[key] = mseg.segmentation_sequence_to_nodes(seg, label, image_browser, self.scene)
            self._show(made, input_node)
            if made.summary.get("pipeline") == "heart_4d":
                self._show_heart(made)
            if "strain_chart" in made.nodes:
                self._show_chart(made.nodes["strain_chart"])
            if mew.is_ecg_table(input_node):
                self._follow_ecg(made, input_node)
        except Exception:
            mb.remove_nodes(made.all_nodes(), self.scene)
            raise
        return made

    def _show_heart(self, made: SynthesisResult) -> None:
        """A generated 4D heart: its phenotype table (with the previous heart's column beside it) and, when there is
        a previous heart still in the scene, both side by side playing together."""
        from . import mrml_heart4d as mh

        image = next(iter(made.series.values()), None)
        surfaces = next(iter(made.surfaces.values()), None)
        record = next((p for p in made.provenance.values() if "phenotypes" in p), None)
        if image is None or record is None:
            return
        scn = mb._scene(self.scene)
        hearts = [("this heart", record)]
        last = self.last_heart
        if last is not None and scn.IsNodePresent(last[0].volume):
            hearts.insert(0, ("previous heart", last[2]))
            mh.compare_hearts(last[:2], (image, surfaces), self.scene)
            if last[1] is not None and scn.IsNodePresent(last[1].volume):
                last[1].volume.GetDisplayNode().SetVisibility3D(False)  # the 3D view shows the new heart
        table = self.heart_table if self.heart_table is not None and scn.IsNodePresent(self.heart_table) else None
        self.heart_table = mh.phenotype_table(hearts, scene=self.scene, table=table)  # refilled, or new if removed
        made.nodes["phenotypes"] = self.heart_table
        self.last_heart = (image, surfaces, record)

    def _show_chart(self, chart: Any) -> None:
        import slicer

        if getattr(getattr(slicer, "modules", None), "plots", None) is not None:  # inside the Slicer application only
            ml.show_chart(chart, self.scene)

    def _follow_ecg(self, made: SynthesisResult, table: Any) -> None:
        """A cine generated from an ECG (``ecg_to_cine``) moves the ECG chart's cursor: frame k at the provenance's
        ``r_peak_ms`` (the R peak the cycle starts at, on the ECG's axis) + its frame time; the chart is shown."""
        import slicer

        for key, series in made.series.items():
            r_peak = (made.provenance.get(key) or {}).get("r_peak_ms")
            if series.browser is not None and r_peak is not None:
                made.ecg_cursors.append(mew.attach_cine_cursor(series.browser, table, float(r_peak), self.scene))
                break
        plots = getattr(getattr(slicer, "modules", None), "plots", None)
        if made.ecg_cursors and plots is not None:  # inside the Slicer application only
            ml.show_chart(table.GetNodeReference(me.REF_CHART), self.scene)

    def _import_ct_motion(self, result: JobResult, made: SynthesisResult, input_node: Any, name: str,
                          inputs: dict) -> SynthesisResult:
        from cardiogen import io

        from . import mrml_ct_motion as mct

        out = Path(result.output_dir)
        outputs = {key: io.load(out / rel) for key, rel in result.outputs.items()}
        nodes = mct.ct_motion_to_nodes(outputs, name, heart_node=inputs.get("heart"), scene=self.scene)
        made.series.update(nodes.series())
        made.nodes.update(nodes.nodes())
        for key, obj in outputs.items():
            if getattr(obj, "provenance", None):
                made.provenance[key] = dict(obj.provenance)
            for text in (getattr(obj, "provenance", None) or {}).get("warnings", []) or []:
                if text not in made.warnings:
                    made.warnings.append(text)
        try:
            # the pair has its own times (ED 0, ES at its time): it plays with its own browser, not the input's
            self._show(made, input_node, synchronise=False)
        except Exception:
            mb.remove_nodes(made.all_nodes(), self.scene)
            raise
        return made

    def _show(self, made: SynthesisResult, input_node: Any, synchronise: bool = True) -> None:
        browser = (mb.sequences_logic().GetFirstBrowserNodeForProxyNode(input_node)
                   if input_node is not None and synchronise else None)
        for series in made.series.values():
            if browser is not None and series.sequence is not None:
                # play together: the result follows the input's browser (frame times are the same)
                browser.AddSynchronizedSequenceNode(series.sequence)
                if series.volume is not None:  # the result's own node (the one shown) is the one that plays along
                    browser.AddProxyNode(series.volume, series.sequence, False)
                mb.sequences_logic().UpdateProxyNodesFromSequences(browser)
        first = next((s for s in made.series.values() if s.volume is not None and s.volume.IsA("vtkMRMLVolumeNode")),
                     None)
        if first is None:
            return
        if input_node is not None and input_node.IsA("vtkMRMLVolumeNode"):
            # input and result side by side: one orientation and zoom, linked, playing with the input's browser
            mc.show_side_by_side(input_node, first.volume, self.scene)
        else:  # in the views rotated to its planes (a single plane: Red only; the others keep what they showed)
            shown_in = {n.GetLayoutName() for n in ml.align_views_to_volume(first.volume, self.scene)}
            scn = mb._scene(self.scene)
            composites = scn.GetNodesByClass("vtkMRMLSliceCompositeNode")
            for i in range(composites.GetNumberOfItems()):
                composite = composites.GetItemAsObject(i)
                if not shown_in or composite.GetLayoutName() in shown_in:
                    composite.SetBackgroundVolumeID(first.volume.GetID())
        if synchronise:
            mc.play_together(browser if browser is not None else first.browser)

    @staticmethod
    def export(node: Any, path: str | Path) -> Path:
        """GIF / MP4 (by extension) or a synthetic-marked DICOM series (a folder path without extension); the node's
        provenance goes beside it as JSON (``<name>.provenance.json``, or ``provenance.json`` in the DICOM folder)."""
        written = SynthesisLogic._export(node, path)
        sequence = mb._as_sequence(node)  # a sequence keeps the whole record, its frames the key fields
        record = (prov.from_node(sequence) if sequence is not None else {}) or prov.from_node(node)
        prov.write_sidecar(written, record, node.GetName(), mb.is_synthetic(node))
        return written

    @staticmethod
    def _export(node: Any, path: str | Path) -> Path:
        from cardiogen import io
        from cardiogen.io.dicom_export import write_dicom_series

        series = mb.nodes_to_image_series(node)
        if node.GetAttribute(mb.ATTR_SYNTHETIC) == "1" and not series.synthetic:
            series = series.mark_synthetic("slicer-export")
        path = Path(path)
        if path.suffix.lower() in (".gif", ".mp4", ".png"):
            return Path(io.save(series, path))
        if path.suffix:
            raise CardioGenInputError("export to .gif, .mp4, .png or a DICOM folder (no extension)", got=path.suffix)
        write_dicom_series(series, path)
        return path
