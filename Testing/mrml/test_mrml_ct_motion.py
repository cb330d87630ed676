"""CT motion (pipeline ct_motion, seed 004) in MRML on real vtkMRML classes: the flow's grid transforms, their
direction, the ES heart moved onto the ED, the heart motion played by the pair's browser, the recorded ES phase."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.data import DisplacementSeries, Geometry, ImageSeries, Segmentation


def _oblique() -> Geometry:
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    return Geometry(spacing=(1.5, 1.25, 2.0), origin=(-20.0, 35.5, 12.0), direction=rot)


def _ras(geometry: Geometry, ijk) -> np.ndarray:
    lps = geometry.index_to_world() @ np.append(np.asarray(ijk, float), 1.0)
    return np.array([-lps[0], -lps[1], lps[2]])


def test_grid_transform_values_equal_the_flow_and_point_the_right_way(scene):
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.mrml_ct_motion import ATTR_FLOW_DIRECTION, flow_to_transform_nodes
    from vtk.util import numpy_support

    g = _oblique()
    rng = np.random.default_rng(3)
    u = np.zeros((3, 8, 9, 10), np.float32)
    # a smooth (invertible) motion of about a millimetre in a box
    u[:, 2:6, 3:7, 2:8] = np.array([1.0, -0.8, 0.6])[:, None, None, None] + rng.normal(scale=0.1, size=(3, 4, 4, 6))
    ed_to_es, es_to_ed = flow_to_transform_nodes(u, g, "flow 1", provenance={"seed": 3})
    assert ed_to_es.IsA("vtkMRMLGridTransformNode") and es_to_ed.IsA("vtkMRMLGridTransformNode")
    assert ed_to_es.GetName() == "flow 1 ED->ES (synthetic)" and es_to_ed.GetName() == "flow 1 ES->ED (synthetic)"
    assert mb.is_synthetic(ed_to_es) and ed_to_es.GetAttribute(ATTR_FLOW_DIRECTION) == "ED->ES"
    assert es_to_ed.GetAttribute(ATTR_FLOW_DIRECTION) == "ES->ED"
    # the grid holds the flow (RAS components) on the moving box of the ED grid (cropped with a zero border)
    grid = ed_to_es.GetTransformToParent()
    image = grid.GetDisplacementGrid()
    nx, ny, nz = image.GetDimensions()
    assert (nz, ny, nx) == (6, 6, 8)  # z 2..5, y 3..6, x 2..7 plus one voxel each side
    ras = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(nz, ny, nx, 3)
    lps = np.stack([-ras[..., 0], -ras[..., 1], ras[..., 2]])
    assert np.allclose(lps, u[:, 1:7, 2:8, 1:9], atol=1e-6)
    back = mb.nodes_to_displacement(ed_to_es)
    assert np.allclose(back.array[0], u[:, 1:7, 2:8, 1:9], atol=1e-6)
    assert np.allclose(back.geometry.index_to_world() @ [0, 0, 0, 1], g.index_to_world() @ [1, 2, 1, 1])
    # direction: ED->ES's to-parent moves the ED voxel x to x + u(x) ...
    x = (4, 4, 3)  # (i, j, k)
    p = _ras(g, x)
    v = u[:, x[2], x[1], x[0]]
    moved = np.array(grid.TransformPoint(*p))
    assert np.allclose(moved - p, [-v[0], -v[1], v[2]], atol=1e-4)
    # ... ES->ED holds the same grid as its from-parent (a node on ES is resampled at x + u(x)) and its
    # to-parent is the inverse, bringing that ES point back to the ED voxel
    assert np.allclose(np.array(es_to_ed.GetTransformFromParent().TransformPoint(*p)), moved, atol=1e-4)
    assert np.allclose(np.array(es_to_ed.GetTransformToParent().TransformPoint(*moved)), p, atol=0.05)
    # outside the moving box nothing moves
    far = _ras(g, (0, 0, 0))
    assert np.allclose(np.array(grid.TransformPoint(*far)), far)


@pytest.fixture(scope="module")
def pair():
    """A phantom ES/ED CT pair with its exact flow (the ct_motion convention: ED(x) = ES(x + u(x)), LPS mm)."""
    from cardiogen.phantom import PhantomConfig
    from cardiogen.phantom.ct_pair import ct_motion_pair

    return ct_motion_pair(4, config=PhantomConfig(ct_size=40))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.logical_and(a, b).sum() / max(a.sum() + b.sum(), 1)


def _outputs(p) -> dict:
    """What ct_motion returns for one sample, built from the exact pair (so the right answer is known)."""
    times = np.array([0.0, p.es_time_ms])
    pair = ImageSeries(np.stack([p.ed, p.es]).astype(np.float32), p.geometry, frame_times=times, modality="ct",
                       description="SYNTHETIC ED + ES", metadata={"es_frame": 1}).mark_synthetic("ct_motion")
    disp = np.zeros((2, 3) + p.es.shape, np.float32)
    disp[1] = p.flow_mm
    flow = DisplacementSeries(disp, p.geometry, frame_times=times, synthetic=True, provenance={"seed": 0})
    ed = ImageSeries(p.ed[None].astype(np.float32), p.geometry, modality="ct").mark_synthetic("ct_motion")
    return {"pair": pair, "flow": flow, "ed_samples": ed}


def test_es_heart_moved_by_es_to_ed_overlaps_the_ed_heart(scene, pair):
    """The phantom's ES labels hardened through "ES->ED" match its ED labels better than unmoved, and better than
    through the wrong direction (ED->ES)."""
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_segmentation as mseg
    from CardioGenSlicerLib import mrml_ct_motion as mct

    g, shape = pair.geometry, pair.es.shape
    es_heart = Segmentation((pair.es_labels > 0).astype(np.uint8)[None], geometry=g)
    heart_node = mseg.segmentation_to_node(es_heart, "ES heart")
    made = mct.ct_motion_to_nodes(_outputs(pair), "ct_motion", heart_node=heart_node)
    assert len(made.ed_to_es) == len(made.es_to_ed) == len(made.hearts_ed) == 1
    heart_ed = made.hearts_ed[0]
    assert mb.is_synthetic(heart_ed) and "(synthetic)" in heart_ed.GetName()
    heart_ed.SetAndObserveTransformNodeID(None)  # read it where it is (hardened), not where the browser puts it
    ed_truth = pair.ed_labels > 0
    es_truth = pair.es_labels > 0
    moved = mseg.node_to_segmentation(heart_ed, g, shape).labels[0] > 0
    unmoved = mseg.node_to_segmentation(heart_node, g, shape).labels[0] > 0
    wrong = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "wrong way")
    wrong.GetSegmentation().DeepCopy(heart_node.GetSegmentation())
    wrong.SetAndObserveTransformNodeID(made.ed_to_es[0].GetID())
    slicer.vtkSlicerTransformLogic.hardenTransform(wrong)
    wrong_way = mseg.node_to_segmentation(wrong, g, shape).labels[0] > 0
    d_moved, d_unmoved, d_wrong = _dice(moved, ed_truth), _dice(unmoved, ed_truth), _dice(wrong_way, ed_truth)
    assert np.array_equal(unmoved, es_truth)
    assert d_moved > 0.9 and d_moved > d_unmoved + 0.05 and d_moved > d_wrong + 0.05, (d_moved, d_unmoved, d_wrong)
    # the ES->ED result is the exact nearest-neighbour warp ES(x + u(x)) wherever the voxel is not on an edge
    from scipy import ndimage

    idx = np.indices(shape).reshape(3, -1).astype(float)
    world = g.index_to_world() @ np.stack([idx[2], idx[1], idx[0], np.ones(idx.shape[1])])
    world[:3] += pair.flow_mm.reshape(3, -1)
    s = g.world_to_index() @ world
    warped = ndimage.map_coordinates(es_truth.astype(float), [s[2], s[1], s[0]], order=1).reshape(shape)
    sure = (warped < 0.05) | (warped > 0.95)
    assert (moved[sure] == (warped[sure] > 0.5)).mean() > 0.995


def test_heart_motion_plays_between_ed_and_es_with_the_pair(scene, pair):
    import slicer
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_segmentation as mseg
    from CardioGenSlicerLib import mrml_ct_motion as mct

    es_heart = Segmentation((pair.es_labels > 0).astype(np.uint8)[None], geometry=pair.geometry)
    heart_node = mseg.segmentation_to_node(es_heart, "ES heart")
    made = mct.ct_motion_to_nodes(_outputs(pair), "ct_motion", heart_node=heart_node)
    nodes = made.pairs["pair"]
    assert nodes.sequence.GetNumberOfDataNodes() == 2 and mb.is_synthetic(nodes.volume)
    motion = made.motion[0]
    assert nodes.browser.IsSynchronizedSequenceNode(motion.sequence) and motion.browser is None
    assert made.hearts_ed[0].GetTransformNodeID() == motion.volume.GetID()
    assert made.hearts_ed[0].GetSegmentation().ContainsRepresentation("Closed surface")
    assert made.ed_samples.sequence is None  # one sample: a plain volume
    transform = motion.volume
    voxel = np.argwhere(np.linalg.norm(pair.flow_mm, axis=0) > 2.0)[0]  # (z, y, x) of a moving ED voxel
    p = _ras(pair.geometry, voxel[::-1])
    u = pair.flow_mm[:, voxel[0], voxel[1], voxel[2]]
    nodes.browser.SetSelectedItemNumber(0)  # ED: the pair shows the synthetic ED, the heart does not move
    assert np.allclose(slicer.util.arrayFromVolume(nodes.volume), pair.ed)
    assert np.allclose(np.array(transform.GetTransformToParent().TransformPoint(*p)), p, atol=1e-4)
    nodes.browser.SetSelectedItemNumber(1)  # ES: the ED heart is moved to the ES
    assert np.allclose(slicer.util.arrayFromVolume(nodes.volume), pair.es)
    moved = np.array(transform.GetTransformToParent().TransformPoint(*p))
    assert np.allclose(moved - p, [-u[0], -u[1], u[2]], atol=1e-3)
    mct.remove(made)
    assert not scene.IsNodePresent(nodes.sequence) and not scene.IsNodePresent(made.es_to_ed[0])


def test_recorded_es_phase_survives_the_scene(scene):
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.synthesis_logic import recorded_phase

    ct = ImageSeries(np.zeros((4, 3, 4, 5), np.float32), _oblique(), frame_times=[0, 100, 200, 300], modality="ct",
                     metadata={"es_frame": 2})
    nodes = mb.image_series_to_nodes(ct, "4D CT")
    assert recorded_phase(nodes.volume) == (2, 4)
    assert mb.nodes_to_image_series(nodes.volume).metadata["es_frame"] == 2
    plain = mb.image_series_to_nodes(ImageSeries(np.zeros((2, 3, 4, 5)), modality="ct"), "no ES")
    assert recorded_phase(plain.volume) == (None, 2)
    assert recorded_phase(mb.image_series_to_nodes(ImageSeries(np.zeros((1, 3, 4, 5))), "3D").volume) is None
