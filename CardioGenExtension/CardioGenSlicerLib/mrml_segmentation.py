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
