"""The CardioGen layout on a real vtkMRMLLayoutNode, slice views rotated to an oblique cine's planes on load, and the 4D
segmentation as a segmentation sequence with closed surfaces playing with the cine's browser (slicer-core)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _no_leftover_views(scene):
    """Remove the slice views a test made (singletons survive a scene clear): a later test in the same process that
    builds real views (trame-slicer) must not find these stand-in nodes in place of its own."""
    import slicer

    def view_ids():
        return {n.GetID() for cls in ("vtkMRMLSliceNode", "vtkMRMLSliceCompositeNode")
                for n in slicer.util.getNodesByClass(cls, scene)}

    before = view_ids()
    yield
    for node_id in view_ids() - before:
        node = scene.GetNodeByID(node_id)
        if node is not None:
            scene.RemoveNode(node)


def _slice_nodes(scene, names=("Red", "Yellow", "Green")):
    """Slice nodes (and their composite nodes) as Slicer's layout manager makes them; reused where present
    (slice nodes are singletons per name in a scene)."""
    import slicer

    out = {}
    for name in names:
        node = scene.GetSingletonNode(name, "vtkMRMLSliceNode")
        if node is None:
            logic = slicer.vtkMRMLSliceLogic()
            logic.SetMRMLScene(scene)
            logic.AddSliceNode(name)
            node = scene.GetSingletonNode(name, "vtkMRMLSliceNode")
        node.SetOrientationToAxial()
        node.SetDimensions(300, 200, 1)
        out[name] = node
    return out


def _normal(slice_node) -> np.ndarray:
    import slicer

    return slicer.util.arrayFromVTKMatrix(slice_node.GetSliceToRAS())[:3, 2]


def _parallel(a, b) -> float:
    return abs(float(np.dot(a, b)) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_layout_is_registered_once_and_selected(scene):
    import xml.etree.ElementTree as ET

    from CardioGenSlicerLib import mrml_layout as ml

    node = ml.select_layout(scene)
    assert node.GetViewArrangement() == ml.LAYOUT_ID and ml.is_selected(scene)
    assert node.GetCurrentLayoutDescription() == ml.LAYOUT_XML
    classes = [v.get("class") for v in ET.fromstring(node.GetLayoutDescription(ml.LAYOUT_ID)).iter("view")]
    assert classes.count("vtkMRMLSliceNode") == 3 and "vtkMRMLViewNode" in classes and "vtkMRMLPlotViewNode" in classes
    assert [tag for cls, tag in ml.layout_views() if cls == "vtkMRMLSliceNode"] == list(ml.SLICE_VIEWS)
    assert not ml.register_layout(node)  # idempotent: the same description is not added twice
    assert ml.select_layout(scene) is node and scene.GetNodesByClass("vtkMRMLLayoutNode").GetNumberOfItems() == 1
    node.SetViewArrangement(node.SlicerLayoutFourUpView)
    assert not ml.is_selected(scene)
    ml.select_layout(scene)
    assert node.GetViewArrangement() == ml.LAYOUT_ID


def test_chart_stays_in_the_cardiogen_layout(scene):
    from CardioGenSlicerLib import mrml_layout as ml

    ml.select_layout(scene)
    view = scene.AddNewNodeByClass("vtkMRMLPlotViewNode")
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", "c")
    ml.show_chart(chart, scene)
    assert view.GetPlotChartNodeID() == chart.GetID() and ml.is_selected(scene)


def test_slice_views_rotate_to_an_oblique_volume(scene):
    import slicer
    from CardioGenSlicerLib import mrml_layout as ml

    views = _slice_nodes(scene)
    a, b = np.radians(30), np.radians(20)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    m = np.eye(4)  # an oblique stack: rotated 30 deg about one axis and 20 deg about another
    m[:3, :3] = rx @ ry @ np.diag([1.5, 1.5, 8.0])
    m[:3, 3] = (10, -20, 5)
    volume = slicer.util.addVolumeFromArray(np.zeros((6, 40, 50), np.float32), m, "oblique")
    moved = ml.align_views_to_volume(volume, scene)
    assert set(moved) == set(views.values())
    axes = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
    assert _parallel(_normal(views["Red"]), axes[:, 2]) > 0.9999   # short axis: the stack's own plane
    assert _parallel(_normal(views["Yellow"]), axes[:, 0]) > 0.9999
    assert _parallel(_normal(views["Green"]), axes[:, 1]) > 0.9999
    centre = (m @ np.array([24.5, 19.5, 2.5, 1.0]))[:3]
    for node in (views["Yellow"], views["Green"]):  # the long-axis cuts go through the volume's centre
        origin = slicer.util.arrayFromVTKMatrix(node.GetSliceToRAS())[:3, 3]
        assert np.allclose(origin, centre, atol=1e-6)
    red_origin = slicer.util.arrayFromVTKMatrix(views["Red"].GetSliceToRAS())[:3, 3]
    assert abs(np.dot(red_origin - m[:3, 3], axes[:, 2]) - 3 * 8.0) < 1e-6  # through the middle slice (k = 3)


@pytest.fixture(scope="module")
def phantom_job(tmp_path_factory):
    """A finished phantom job's folder (as the background job leaves it) with an oblique cine and its 4D masks."""
    phantom = pytest.importorskip("cardiogen.phantom")
    from cardiogen.io.case import save_case
    from CardioGenSlicerLib.process import JobResult, JobState

    out = tmp_path_factory.mktemp("phantom_job")
    case = phantom.make_case(phantom.PhantomConfig(seed=3, size=48, frames=6, slices=6, modalities=("cine",)))
    files = save_case(case, out)
    outputs = {k: str(Path(v).relative_to(out)) for k, v in files.items()}
    return JobResult(JobState.SUCCEEDED, outputs=outputs, output_dir=out), case


def test_loading_a_cine_rotates_the_views_and_plays_the_4d_segmentation(scene, phantom_job):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.data_logic import DataLogic

    result, case = phantom_job
    views = _slice_nodes(scene)
    loaded = DataLogic(scene=scene).import_result(result, name="Phantom 3")
    cine = loaded.nodes["cine"]
    ijk = slicer.util.arrayFromVTKMatrix(_ijk(cine))
    axes = ijk[:3, :3] / np.linalg.norm(ijk[:3, :3], axis=0)
    assert abs(axes[2, 2]) < 0.99, "the phantom's short-axis stack should be oblique"
    assert _parallel(_normal(views["Red"]), axes[:, 2]) > 0.9999  # the load path rotated Red to the short axis
    assert _parallel(_normal(views["Yellow"]), axes[:, 0]) > 0.9999

    seg4d, seq = loaded.nodes["segmentation_4d"], loaded.nodes["segmentation_4d_sequence"]
    assert seq.GetNumberOfDataNodes() == case.cine.n_frames == 6  # one segmentation node per frame
    assert all(seq.GetNthDataNode(i).IsA("vtkMRMLSegmentationNode") for i in range(6))
    browser = loaded.nodes["cine_browser"]  # synchronised: it plays with the cine
    assert browser.IsSynchronizedSequenceNodeID(seq.GetID()) and "segmentation_4d_browser" not in loaded.nodes
    assert seq.GetIndexName() == "time" and seq.GetIndexUnit() == "ms"
    display = seg4d.GetDisplayNode()
    assert display.GetVisibility3D() and display.GetPreferredDisplayRepresentationName3D() == "Closed surface"

    def blood_pool_volume():
        segmentation = seg4d.GetSegmentation()
        assert segmentation.ContainsRepresentation("Closed surface")
        poly = seg4d.GetClosedSurfaceInternalRepresentation(segmentation.GetSegmentIdBySegmentName("LV blood pool"))
        mass = mb.vtk.vtkMassProperties()
        mass.SetInputData(poly)
        mass.Update()
        return mass.GetVolume()

    es = int(np.argmin(case.truth.masks.mask("LV blood pool").sum(axis=(1, 2, 3))))
    browser.SetSelectedItemNumber(0)
    ed_volume = blood_pool_volume()
    browser.SetSelectedItemNumber(es)
    es_volume = blood_pool_volume()
    assert es_volume < 0.9 * ed_volume, (ed_volume, es_volume)  # the blood pool's surface shrinks into systole
    assert loaded.nodes["truth_segmentation"].GetSegmentation().GetNumberOfSegments() > 0  # the static ED mask stays


def _ijk(volume):
    import vtk

    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    return matrix


def test_a_4d_segmentation_file_plays_as_a_sequence_with_its_cine(scene, phantom_job, tmp_path):
    """A loaded file job with a cine and a 4D label file: the static node for the views and Motion (its first frame),
    and the sequence of per-frame segmentations with closed surfaces, synchronised with the cine's browser."""
    from cardiogen import io
    from CardioGenSlicerLib.data_logic import DataLogic
    from CardioGenSlicerLib.process import JobResult, JobState

    _, case = phantom_job
    io.save(case.cine, tmp_path / "cine.seq.nrrd")
    io.save(case.truth.masks, tmp_path / "labels.seq.nrrd")
    result = JobResult(JobState.SUCCEEDED, outputs={"cine": "cine.seq.nrrd", "segmentation": "labels.seq.nrrd"},
                       output_dir=tmp_path)
    _slice_nodes(scene)
    loaded = DataLogic(scene=scene).import_result(result, name="File")
    seq = loaded.nodes["segmentation_4d_sequence"]
    assert seq.GetNumberOfDataNodes() == case.truth.masks.n_frames == 6
    assert loaded.nodes["cine_browser"].IsSynchronizedSequenceNodeID(seq.GetID())
    assert loaded.nodes["segmentation"].GetSegmentation().GetNumberOfSegments() > 0
    assert loaded.nodes["segmentation_4d"].GetDisplayNode().GetPreferredDisplayRepresentationName3D() == \
        "Closed surface"
