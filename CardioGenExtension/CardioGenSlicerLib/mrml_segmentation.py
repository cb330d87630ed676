"""Segmentation nodes from and to cardiogen :class:`~cardiogen.data.Segmentation` label maps (named, coloured segments;
label values from the segment names), on the coordinate conventions of :mod:`.mrml_bridge`."""
from __future__ import annotations

from typing import Any

import numpy as np
import slicer
import vtk

from cardiogen.data import STANDARD_LABELS, Geometry, LabelInfo, Segmentation

from . import mrml_bridge as mb


def segmentation_to_node(seg: Segmentation, name: str, frame: int = 0, scene: Any = None) -> Any:
    """One frame of a label map as a segmentation node with named, colored segments (ids = label names)."""
    scn = mb._scene(scene)
    name = mb.node_name(name, seg.synthetic)
    seg_node = scn.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    seg_node.CreateDefaultDisplayNodes()
    labels = seg.labels[frame]
    labelmap = scn.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__cardiogen_temp_labelmap")
    try:
        labelmap.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(mb.ijk_to_ras(seg.geometry)))
        segmentation = seg_node.GetSegmentation()
        for value, info in sorted(seg.label_table.items()):
            binary = (labels == value).astype(np.uint8)
            if not binary.any():
                continue
            slicer.util.updateVolumeFromArray(labelmap, binary)
            oriented = slicer.vtkOrientedImageData()
            oriented.DeepCopy(labelmap.GetImageData())
            matrix = vtk.vtkMatrix4x4()
            labelmap.GetIJKToRASMatrix(matrix)
            oriented.SetImageToWorldMatrix(matrix)
            segment_id = segmentation.AddEmptySegment(info.name, info.name, list(info.color))
            slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(
                oriented, seg_node, segment_id, slicer.vtkSlicerSegmentationsModuleLogic.MODE_REPLACE)
            segment = segmentation.GetSegment(segment_id)
            segment.SetLabelValue(int(value))
    finally:
        scn.RemoveNode(labelmap)
    mb._mark(seg_node, "segmentation", seg.synthetic, seg.provenance)
    return seg_node


def node_to_segmentation(seg_node: Any, reference: Geometry, shape_zyx: tuple[int, int, int]) -> Segmentation:
    """Segmentation node -> one-frame Segmentation on a reference grid; label values from segment names."""
    by_name = {info.name.lower(): (value, info) for value, info in STANDARD_LABELS.items()}
    segmentation = seg_node.GetSegmentation()
    labels = np.zeros(shape_zyx, dtype=np.uint8)
    table: dict[int, LabelInfo] = {}
    next_value = max(STANDARD_LABELS) + 1
    ref = slicer.vtkMRMLScalarVolumeNode()
    ref.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(mb.ijk_to_ras(reference)))
    image = vtk.vtkImageData()
    image.SetDimensions(shape_zyx[2], shape_zyx[1], shape_zyx[0])
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    ref.SetAndObserveImageData(image)
    for i in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(i)
        segment = segmentation.GetSegment(segment_id)
        name = segment.GetName()
        if name.lower() in by_name:
            value, info = by_name[name.lower()]
        else:
            value, next_value = next_value, next_value + 1
            info = LabelInfo(name, tuple(segment.GetColor()))
        arr = _segment_array(seg_node, segment_id, ref)
        labels[arr > 0] = value
        table[value] = info
    return Segmentation(labels, table, reference, synthetic=seg_node.GetAttribute(mb.ATTR_SYNTHETIC) == "1")


def _segment_array(seg_node: Any, segment_id: str, reference_node: Any) -> np.ndarray:
    """Binary (z, y, x) array of one segment resampled on the reference volume's grid."""
    logic = slicer.vtkSlicerSegmentationsModuleLogic
    ids = vtk.vtkStringArray()
    ids.InsertNextValue(segment_id)
    labelmap = slicer.vtkMRMLLabelMapVolumeNode()
    scn = seg_node.GetScene()
    scn.AddNode(labelmap)
    try:
        logic.ExportSegmentsToLabelmapNode(seg_node, ids, labelmap, reference_node)
        arr = slicer.util.arrayFromVolume(labelmap).copy()
    finally:
        scn.RemoveNode(labelmap)
    return arr


def segmentation_sequence_to_nodes(seg: Segmentation, name: str, browser: Any = None,
                                   scene: Any = None) -> mb.SeriesNodes:
    """Every frame of a 4D label map as a sequence of segmentation nodes (index "time", ms), each holding its closed
    surfaces, so that the proxy shows the current frame's surfaces in 3D as the browser plays.

    With ``browser`` (the cine's, same frame times) the sequence is synchronised with it and plays with the cine;
    otherwise it gets its own browser. The proxy is shown in 3D only (its slice outlines are left off: the slice
    views keep the static segmentation a motion mask is drawn on)."""
    scn = mb._scene(scene)
    name = mb.node_name(name, seg.synthetic)
    seq = mb._new_sequence(name, scn)
    for t, time_ms in enumerate(seg.frame_times):
        frame = segmentation_to_node(seg, "__cardiogen_temp_segmentation", t, scn)
        try:
            frame.CreateClosedSurfaceRepresentation()
            seq.SetDataNodeAtValue(frame, f"{float(time_ms):g}")
        finally:
            scn.RemoveNode(frame)
    mb._mark(seq, "segmentation", seg.synthetic, seg.provenance)
    proxy, own = mb.play_sequence(seq, name, browser, scn)
    proxy.SetName(name)
    mb._mark(proxy, "segmentation", seg.synthetic)
    proxy.CreateDefaultDisplayNodes()
    display = proxy.GetDisplayNode()
    display.SetPreferredDisplayRepresentationName3D("Closed surface")
    display.SetVisibility3D(True)
    display.SetVisibility2D(False)
    return mb.SeriesNodes(volume=proxy, sequence=seq, browser=own)


def add_segment_legend(seg_node: Any, title: str = "segments") -> Any:
    """A colour legend of a segmentation's segments (name and colour each) in the views that show it: the legend
    reads a colour table, so one is made from the segments (segment order) and set as the display's colour node;
    the segments keep their own colours. Returns the legend display node (None without the Colors module)."""
    colors = getattr(getattr(slicer, "modules", None), "colors", None)
    segmentation = seg_node.GetSegmentation()
    if colors is None or segmentation.GetNumberOfSegments() == 0:
        return None
    scn = seg_node.GetScene()
    table = scn.AddNewNodeByClass("vtkMRMLColorTableNode", f"{seg_node.GetName()} segment colors")
    table.SetTypeToUser()
    table.SetNumberOfColors(segmentation.GetNumberOfSegments())
    for i in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetSegment(segmentation.GetNthSegmentID(i))
        table.SetColor(i, segment.GetName(), *segment.GetColor(), 1.0)
    table.SetAttribute(mb.ATTR_KIND, "segment_colors")
    seg_node.GetDisplayNode().SetAndObserveColorNodeID(table.GetID())
    legend = colors.logic().AddDefaultColorLegendDisplayNode(seg_node)
    if legend is not None:
        legend.SetTitleText(title)
        legend.SetVisibility(True)
    return legend
