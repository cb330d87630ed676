"""Results of the ``ct_motion`` pipeline (seed 004: synthetic end-diastolic CTs from one end-systolic CT) as nodes.

The pipeline's flow ``u`` of each sample lives on the synthetic ED grid (= the input CT's grid), LPS mm, and
points into the ES volume: ``ED(x) = ES(x + u(x))``. Per sample ``k`` this module makes:

* "``name`` pair k (synthetic)": a 2-frame volume sequence (ED at time 0, the given ES at its time) with a browser;
* "``name`` flow k ED->ES (synthetic)": a grid transform node whose *to parent* transform is ``x -> x + u(x)``: a
  node drawn on the synthetic ED moves to the ES under it;
* "``name`` flow k ES->ED (synthetic)": the same grid as the transform *from parent*: put an ES node (the heart
  segmentation of the input CT) under it, or harden it, and it lands on the synthetic ED — the annotation of the
  synthetic volume;
* with a heart segmentation (the pipeline's ``heart`` input, drawn on the ES CT): "``name`` heart ED k
  (synthetic)", that segmentation moved onto the synthetic ED by "flow k ES->ED" (hardened), shown as a closed
  surface and placed under "``name`` heart motion k (synthetic)", a 2-frame transform sequence played by the pair's
  browser (time 0: no motion, the surface is at ED; the ES time: ED->ES, the surface is at ES), so pressing play
  shows the heart surface moving between the synthetic ED and the ES in the 3D view, in step with the slice views.

``ed_samples`` (every synthetic ED volume) becomes a sequence indexed by "sample". Nothing here computes more than
copies and one resampling of the heart segmentation; the sampling ran in the background job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import slicer
from cardiogen.data import DisplacementSeries, Geometry

from . import mrml_bridge as mb

ATTR_FLOW_DIRECTION = "CardioGen.FlowDirection"  #: "ED->ES" or "ES->ED" on the grid transforms of CT motion


def crop_to_motion(disp: DisplacementSeries, margin: int = 1) -> DisplacementSeries:
    """The same field on the smallest box of its grid holding every non-zero vector, plus ``margin`` voxels of
    zeros (at least 2 voxels per axis). A grid transform keeps its border displacement outside its grid, so with
    a zero border the cropped transform moves exactly the points the full one moves (a CT's motion is confined to
    the heart; the full CT grid would cost gigabytes as transforms)."""
    arr = np.asarray(disp.array)
    moving = np.any(arr != 0, axis=(0, 1))  # (z, y, x)
    shape = np.array(moving.shape)
    if moving.any():
        idx = np.argwhere(moving)
        lo = np.maximum(idx.min(axis=0) - margin, 0)
        hi = np.minimum(idx.max(axis=0) + margin + 1, shape)
    else:
        lo, hi = np.zeros(3, int), np.minimum(shape, 2)
    hi = np.maximum(hi, np.minimum(lo + 2, shape))
    lo = np.minimum(lo, np.maximum(hi - 2, 0))
    sub = arr[:, :, lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    origin = (disp.geometry.index_to_world() @ np.array([lo[2], lo[1], lo[0], 1.0]))[:3]
    geometry = Geometry(spacing=disp.geometry.spacing, origin=origin, direction=disp.geometry.direction)
    return DisplacementSeries(np.ascontiguousarray(sub), geometry, frame_times=disp.frame_times,
                              reference_frame=disp.reference_frame, synthetic=disp.synthetic,
                              provenance=disp.provenance)


def flow_to_transform_nodes(field_lps: np.ndarray, geometry: Geometry, name: str, synthetic: bool = True,
                            provenance: Optional[dict] = None, scene: Any = None) -> tuple[Any, Any]:
    """Two grid transform nodes from one flow ``u`` (``(3, z, y, x)`` LPS mm on the grid of the *reference* volume
    A, pointing into the other volume B: ``A(x) = B(x + u(x))``, as ``ct_motion``'s ED -> ES flow).

    * "``name`` ED->ES" (A -> B): its transform *to parent* is ``x -> x + u(x)``: a node placed on A and put under
      it moves to its position in B (points are moved by the to-parent transform; a volume under it is shown
      resampled, so volume A under it looks like B).
    * "``name`` ES->ED" (B -> A): the same grid as the transform *from parent* (its to-parent is the inverse, which
      VTK computes where needed): a node on B under it (hardened: resampled exactly at ``x + u(x)``) lands on A.

    With A = ED and B = ES (``ct_motion``): apply "ES->ED" to an ES segmentation to get the ED one. The grid is cropped to the
    moving region (:func:`crop_to_motion`). Both nodes are marked (kind "displacement", :data:`ATTR_FLOW_DIRECTION`).
    """
    disp = crop_to_motion(DisplacementSeries(np.asarray(field_lps, dtype=np.float32)[None], geometry))
    grid = mb._grid_transform(disp.array[0], disp.geometry)
    scn = mb._scene(scene)
    nodes = []
    for direction, inverse in (("ED->ES", False), ("ES->ED", True)):
        node = scn.AddNewNodeByClass("vtkMRMLGridTransformNode", mb.node_name(f"{name} {direction}", synthetic))
        if inverse:
            same = slicer.vtkOrientedGridTransform()
            same.SetDisplacementGridData(grid.GetDisplacementGrid())
            same.SetGridDirectionMatrix(grid.GetGridDirectionMatrix())
            same.SetInterpolationModeToLinear()
            node.SetAndObserveTransformFromParent(same)
        else:
            node.SetAndObserveTransformToParent(grid)
        mb._mark(node, "displacement", synthetic, provenance)
        node.SetAttribute(ATTR_FLOW_DIRECTION, direction)
        nodes.append(node)
    return nodes[0], nodes[1]


@dataclass
class CtMotionNodes:
    pairs: dict = field(default_factory=dict)       #: output key ("pair", "pair_2" ...) -> SeriesNodes
    ed_samples: Optional[mb.SeriesNodes] = None
    ed_to_es: list = field(default_factory=list)    #: grid transform nodes, one per sample
    es_to_ed: list = field(default_factory=list)
    motion: list = field(default_factory=list)      #: SeriesNodes of the heart motion (sequence in the pair browser)
    hearts_ed: list = field(default_factory=list)   #: segmentation nodes on the synthetic ED, one per sample

    def series(self) -> dict:
        out = dict(self.pairs)
        if self.ed_samples is not None:
            out["ed_samples"] = self.ed_samples
        return out

    def nodes(self) -> dict:
        """Named non-series nodes (for :class:`~.synthesis_logic.SynthesisResult`)."""
        out = {}
        for k, (a, b) in enumerate(zip(self.ed_to_es, self.es_to_ed)):
            out[f"flow{_suffix(k)}_ed_to_es"], out[f"flow{_suffix(k)}_es_to_ed"] = a, b
        for k, motion in enumerate(self.motion):
            out[f"heart_motion{_suffix(k)}"] = motion.sequence
            out[f"heart_motion{_suffix(k)}_proxy"] = motion.volume
        for k, heart in enumerate(self.hearts_ed):
            out[f"heart_ed{_suffix(k)}"] = heart
        return out


def _suffix(k: int) -> str:
    return "" if k == 0 else f"_{k + 1}"


def ct_motion_to_nodes(outputs: dict, name: str, heart_node: Any = None, scene: Any = None) -> CtMotionNodes:
    """Nodes for the loaded outputs of one ``ct_motion`` run (``{"pair": ImageSeries, "flow": DisplacementSeries,
    ..., "ed_samples": ImageSeries}``); ``heart_node``: the ES heart segmentation node, or None (no surface)."""
    made = CtMotionNodes()
    try:
        k = 0
        while f"pair{_suffix(k)}" in outputs:
            pair, flow = outputs[f"pair{_suffix(k)}"], outputs[f"flow{_suffix(k)}"]
            nodes = mb.image_series_to_nodes(pair, f"{name} pair {k + 1}", scene)
            made.pairs[f"pair{_suffix(k)}"] = nodes
            _describe(nodes.sequence, "synthetic ED (time 0) and the given ES CT")
            ed_to_es, es_to_ed = flow_to_transform_nodes(flow.array[1], flow.geometry, f"{name} flow {k + 1}",
                                                            synthetic=True, provenance=flow.provenance, scene=scene)
            _describe(ed_to_es, "SYNTHETIC flow: to parent x -> x + u(x) moves a node on the synthetic ED to the ES "
                                "(ED(x) = ES(x + u(x)), u on the ED grid, mm)")
            _describe(es_to_ed, "SYNTHETIC flow, inverse direction: a node on the ES (e.g. its heart segmentation) "
                                "under this transform, or hardened, lands on the synthetic ED")
            made.ed_to_es.append(ed_to_es)
            made.es_to_ed.append(es_to_ed)
            if heart_node is not None:
                heart = _moved_segmentation(heart_node, es_to_ed, f"{name} heart ED {k + 1}", scene)
                made.hearts_ed.append(heart)
                motion = mb.displacement_to_nodes(crop_to_motion(flow), f"{name} heart motion {k + 1}", scene,
                                                  browser=nodes.browser)
                made.motion.append(motion)
                heart.SetAndObserveTransformNodeID(motion.volume.GetID())
            nodes.browser.SetSelectedItemNumber(0)  # the synthetic ED
            k += 1
        if "ed_samples" in outputs:
            made.ed_samples = mb.image_series_to_nodes(outputs["ed_samples"], f"{name} ED samples", scene)
            if made.ed_samples.sequence is not None:
                made.ed_samples.sequence.SetIndexName("sample")
                made.ed_samples.sequence.SetIndexUnit("")
    except Exception:
        remove(made, scene)
        raise
    return made


def _describe(node: Any, text: str) -> None:
    if node is not None:
        node.SetDescription(text)


def _moved_segmentation(heart_node: Any, transform_node: Any, name: str, scene: Any) -> Any:
    """A copy of ``heart_node`` hardened through ``transform_node`` (marked synthetic), with a closed surface."""
    scn = mb._scene(scene)
    moved = scn.AddNewNodeByClass("vtkMRMLSegmentationNode", mb.node_name(name, True))
    moved.CreateDefaultDisplayNodes()
    source = heart_node.GetSegmentation()
    for i in range(source.GetNumberOfSegments()):  # segment by segment: the display node learns each one
        moved.GetSegmentation().CopySegmentFromSegmentation(source, source.GetNthSegmentID(i))
    moved.SetAndObserveTransformNodeID(transform_node.GetID())
    slicer.vtkSlicerTransformLogic.hardenTransform(moved)
    moved.CreateClosedSurfaceRepresentation()
    display = moved.GetDisplayNode()
    if display is not None:
        display.SetVisibility3D(True)
        display.SetVisibility2DFill(False)  # outlines over the synthetic ED: the volume stays visible under them
    mb._mark(moved, "segmentation", True, {"source": heart_node.GetName(), "moved_by": transform_node.GetName()})
    moved.SetDescription(f"SYNTHETIC: {heart_node.GetName()} moved onto the synthetic ED by {transform_node.GetName()}")
    return moved


def remove(made: CtMotionNodes, scene: Any = None) -> None:
    nodes = [n for s in made.series().values() for n in s.nodes]
    nodes += list(made.nodes().values())
    mb.remove_nodes(nodes, scene)
