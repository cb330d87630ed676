"""Files written by cardiogen.io are read correctly by Slicer's own storage nodes (slicer-core from PyPI).

Skipped when slicer-core / trame-slicer are not installed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer", reason="slicer-core (PyPI) is not installed")
pytest.importorskip("trame_slicer", reason="trame-slicer is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # Testing/ for slicer_standin

from cardiogen.data import DisplacementSeries, Geometry, ImageSeries, LabelInfo, Segmentation  # noqa: E402
from cardiogen.io import write_displacement_nrrd, write_nrrd, write_segmentation_nrrd  # noqa: E402

RAS = np.diag([-1.0, -1.0, 1.0])
ROT = np.array([[0.8, -0.6, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
GEOMETRY = Geometry((1.2, 0.8, 5.0), (-10.5, 22.0, 103.25), ROT)


@pytest.fixture(scope="module")
def scene():
    from slicer_standin import make_scene

    return make_scene(fresh=True).scene


def _ijk_to_ras(volume) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def test_sequence_nrrd_read_by_slicer(scene, tmp_path: Path) -> None:
    import slicer

    arr = np.random.default_rng(0).integers(0, 100, (4, 3, 6, 5)).astype(float)
    path = write_nrrd(ImageSeries(arr, GEOMETRY, frame_times=[0, 40, 80.5, 121]), tmp_path / "cine.seq.nrrd")
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode")
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(sequence) == 1
    assert sequence.GetNumberOfDataNodes() == 4
    assert [sequence.GetNthIndexValue(i) for i in range(4)] == ["0", "40", "80.5", "121"]
    assert sequence.GetIndexName() == "time" and sequence.GetIndexUnit() == "ms"
    volume = sequence.GetNthDataNode(2)
    expected = np.eye(4)
    expected[:3, :3] = RAS @ GEOMETRY.direction @ np.diag(GEOMETRY.spacing)
    expected[:3, 3] = RAS @ np.array(GEOMETRY.origin)
    np.testing.assert_allclose(_ijk_to_ras(volume), expected, atol=1e-9)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(volume), arr[2])


def test_seg_nrrd_read_by_slicer(scene, tmp_path: Path) -> None:
    import slicer

    labels = np.zeros((1, 3, 6, 5), np.uint8)
    labels[0, 1, 1:5, 1:4] = 2
    labels[0, 1, 2:4, 2] = 1
    table = {1: LabelInfo("LV blood pool", (0.9, 0.2, 0.2)), 2: LabelInfo("LV myocardium", (0.9, 0.8, 0.2))}
    path = write_segmentation_nrrd(Segmentation(labels, label_table=table, geometry=GEOMETRY), tmp_path / "lv.seg.nrrd")
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(node) == 1
    segmentation = node.GetSegmentation()
    segments = [segmentation.GetNthSegment(i) for i in range(segmentation.GetNumberOfSegments())]
    assert [(s.GetName(), s.GetLabelValue()) for s in segments] == [("LV blood pool", 1), ("LV myocardium", 2)]
    assert segments[0].GetColor() == pytest.approx((0.9, 0.2, 0.2))


def test_displacement_nrrd_read_as_slicer_grid_transform(scene, tmp_path: Path) -> None:
    import slicer

    disp = np.zeros((1, 3, 3, 6, 5), np.float32)
    disp[0, 0], disp[0, 1], disp[0, 2] = 2.0, -1.0, 0.5  # LPS mm
    path = write_displacement_nrrd(DisplacementSeries(disp, geometry=GEOMETRY), tmp_path / "disp.nrrd")
    node = scene.AddNewNodeByClass("vtkMRMLGridTransformNode")
    storage = slicer.vtkMRMLTransformStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(node) == 1
    point_lps = np.array(GEOMETRY.origin) + ROT @ (np.array(GEOMETRY.spacing) * np.array([2, 3, 1]))
    point_ras = RAS @ point_lps
    # Slicer reads an ITK displacement field as the transform FROM parent (resampling convention), in RAS.
    moved = np.array(node.GetTransformFromParent().TransformPoint(point_ras.tolist()))
    np.testing.assert_allclose(moved - point_ras, RAS @ np.array([2.0, -1.0, 0.5]), atol=1e-4)


def test_label_sequence_read_by_slicer_as_label_maps(scene, tmp_path: Path) -> None:
    import slicer

    labels = np.zeros((3, 2, 6, 5), np.uint8)
    labels[:, 1, 2:4, 1:3] = 1
    path = write_segmentation_nrrd(Segmentation(labels, geometry=GEOMETRY, frame_times=[0, 50, 100]),
                                   tmp_path / "lv.seq.nrrd")
    sequence = scene.AddNewNodeByClass("vtkMRMLSequenceNode")
    storage = slicer.vtkMRMLVolumeSequenceStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.ReadData(sequence) == 1
    assert sequence.GetNumberOfDataNodes() == 3
    assert sequence.GetNthDataNode(0).GetClassName() == "vtkMRMLLabelMapVolumeNode"
    assert [sequence.GetNthIndexValue(i) for i in range(3)] == ["0", "50", "100"]
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(sequence.GetNthDataNode(1)), labels[1])
