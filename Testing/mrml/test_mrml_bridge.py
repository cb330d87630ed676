"""CardioGenSlicerLib.mrml_bridge on real MRML classes (slicer-core from PyPI)."""
from __future__ import annotations

import numpy as np
import pytest

from cardiogen.data import DisplacementSeries, Ecg, Geometry, ImageSeries, Segmentation, StrainSeries


def _oblique() -> Geometry:
    a = np.deg2rad(30)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return Geometry(spacing=(1.5, 1.25, 8.0), origin=(-20.0, 35.5, 12.0), direction=rot)


def test_static_volume_round_trip_keeps_geometry_and_values(scene):
    from CardioGenSlicerLib import mrml_bridge as mb

    rng = np.random.default_rng(0)
    series = ImageSeries(rng.normal(size=(1, 4, 6, 5)), _oblique(), modality="ct")
    nodes = mb.image_series_to_nodes(series, "ct")
    assert nodes.sequence is None and nodes.volume.IsA("vtkMRMLScalarVolumeNode")
    # LPS -> RAS: the node's IJK-to-RAS negates the first two rows of our index-to-LPS matrix
    m = np.zeros((4, 4))
    import vtk

    mat = vtk.vtkMatrix4x4()
    nodes.volume.GetIJKToRASMatrix(mat)
    for r in range(4):
        for c in range(4):
            m[r, c] = mat.GetElement(r, c)
    assert np.allclose(m[0], -series.geometry.index_to_world()[0])
    assert np.allclose(m[2], series.geometry.index_to_world()[2])
    back = mb.nodes_to_image_series(nodes.volume)
    assert back.geometry.allclose(series.geometry, atol=1e-6)
    assert np.allclose(back.array, series.array)
    assert back.modality == "ct"


def test_4d_series_becomes_sequence_with_browser_and_proxy(scene):
    from CardioGenSlicerLib import mrml_bridge as mb

    arr = np.stack([np.full((2, 3, 4), t, dtype=np.float32) for t in range(5)])
    series = ImageSeries(arr, _oblique(), frame_times=[0, 37.5, 75, 112.5, 150], modality="cine", synthetic=True)
    nodes = mb.image_series_to_nodes(series, "cine")
    seq, browser, proxy = nodes.sequence, nodes.browser, nodes.volume
    assert seq.GetNumberOfDataNodes() == 5
    assert seq.GetIndexName() == "time" and seq.GetIndexUnit() == "ms"
    assert [float(seq.GetNthIndexValue(i)) for i in range(5)] == [0, 37.5, 75, 112.5, 150]
    assert "(synthetic)" in proxy.GetName() and mb.is_synthetic(proxy) and mb.is_synthetic(seq)
    import slicer

    browser.SetSelectedItemNumber(3)
    assert slicer.util.arrayFromVolume(proxy).mean() == pytest.approx(3.0)
    back = mb.nodes_to_image_series(proxy)
    assert back.frame_times.tolist() == [0, 37.5, 75, 112.5, 150]
    assert back.geometry.allclose(series.geometry, atol=1e-6)
    assert np.array_equal(back.array, series.array)
    assert back.synthetic


def test_source_file_survives_playing_the_browser(scene):
    """The DENSE magnitude's source file (its phases, read by Motion's DENSE method and by dense_to_cine) is still
    found on the proxy after the browser stepped: the proxy's attributes are then the frame's."""
    from CardioGenSlicerLib import mrml_bridge as mb

    series = ImageSeries(np.zeros((4, 2, 3, 4), np.float32), _oblique(), frame_times=[0, 40, 80, 120],
                         modality="dense_mag")
    nodes = mb.image_series_to_nodes(series, "DENSE magnitude")
    for node in nodes.nodes:  # as CardioGen Data marks what it loaded
        node.SetAttribute(mb.ATTR_SOURCE_FILE, "/data/case.dns")
    for _ in range(3):
        nodes.browser.SelectNextItem()
    assert mb.source_file(nodes.volume) == "/data/case.dns"
    assert mb.source_file(mb.image_series_to_nodes(series, "other").volume) == ""


def test_displacement_round_trip_through_grid_transforms(scene):
    from CardioGenSlicerLib import mrml_bridge as mb

    rng = np.random.default_rng(1)
    field = rng.normal(size=(3, 3, 2, 4, 5)).astype(np.float32)
    field[0] = 0
    disp = DisplacementSeries(field, _oblique(), frame_times=[0, 50, 100])
    nodes = mb.displacement_to_nodes(disp, "motion")
    assert nodes.sequence.GetNumberOfDataNodes() == 3
    assert nodes.volume.IsA("vtkMRMLGridTransformNode")
    back = mb.nodes_to_displacement(nodes.sequence)
    assert np.allclose(back.array, disp.array, atol=1e-6)
    assert back.geometry.allclose(disp.geometry, atol=1e-6)
    # a point at a voxel centre of frame 2 moves by the stored vector, converted to RAS
    import vtk

    transform = nodes.sequence.GetNthDataNode(2).GetTransformToParent()
    idx = np.array([2, 1, 1, 1.0])  # (i, j, k) = (x, y, z)
    lps = disp.geometry.index_to_world() @ idx
    ras = np.array([-lps[0], -lps[1], lps[2]])
    moved = np.array(transform.TransformPoint(*ras))
    u = field[2, :, 1, 1, 2]
    assert np.allclose(moved - ras, [-u[0], -u[1], u[2]], atol=1e-4)
    del vtk


def test_segmentation_node_has_named_colored_segments_and_round_trips(scene):
    from CardioGenSlicerLib import mrml_segmentation as mseg

    g = Geometry(spacing=(1.0, 1.0, 2.0))
    labels = np.zeros((1, 3, 10, 10), np.uint8)
    labels[0, :, 3:7, 3:7] = 2
    labels[0, :, 4:6, 4:6] = 1
    labels[0, 1, 0:2, 0:3] = 3
    seg = Segmentation(labels, geometry=g)
    node = mseg.segmentation_to_node(seg, "truth")
    s = node.GetSegmentation()
    names = sorted(s.GetNthSegment(i).GetName() for i in range(s.GetNumberOfSegments()))
    assert names == ["LV blood pool", "LV myocardium", "RV blood pool"]
    color = s.GetSegment(s.GetSegmentIdBySegmentName("LV myocardium")).GetColor()
    assert color == pytest.approx((0.95, 0.78, 0.25), abs=1e-3)
    back = mseg.node_to_segmentation(node, g, labels.shape[1:])
    assert np.array_equal(back.labels, labels)


def test_ecg_table_plot_and_marker_follow_browser(scene):
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_ecg as me

    fs = 250.0
    t = np.arange(1000) / fs
    sig = np.stack([np.sin(2 * np.pi * t * (i + 1)) for i in range(12)])
    ecg = Ecg(sig, fs, ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"))
    nodes = me.ecg_to_nodes(ecg, "ECG")
    assert nodes["table"].GetNumberOfColumns() == 13
    assert nodes["chart"].GetNumberOfPlotSeriesNodes() == 13  # 12 leads + marker
    back = me.nodes_to_ecg(nodes["table"])
    assert back.lead_names == ecg.lead_names and back.sampling_rate == pytest.approx(fs)
    assert np.allclose(back.signals, ecg.signals)
    series = ImageSeries(np.zeros((4, 1, 2, 2)), frame_times=[0, 100, 200, 300], modality="cine")
    cine = mb.image_series_to_nodes(series, "cine")
    sync = me.EcgBrowserSync(cine.browser, nodes["marker_table"])
    cine.browser.SetSelectedItemNumber(2)
    import slicer

    assert slicer.util.arrayFromTableColumn(nodes["marker_table"], "time_s").tolist() == [0.2, 0.2]  # chart in s
    sync.close()


def test_strain_overlay_uses_diverging_table_and_hides_outside_mask(scene):
    from CardioGenSlicerLib import mrml_strain as ms

    comp = np.zeros((2, 1, 8, 8), np.float32)
    comp[1] = -0.2
    mask = np.zeros((1, 8, 8), bool)
    mask[0, 2:6, 2:6] = True
    strain = StrainSeries({"circumferential": comp}, mask=mask, frame_times=[0, 100])
    nodes = ms.strain_to_nodes(strain, "circumferential", "phantom")
    display = nodes.volume.GetDisplayNode()
    colors = display.GetColorNode()
    assert colors.GetName().startswith("CardioGen strain") and colors.GetNumberOfColors() == 256
    low, high = [0.0] * 4, [0.0] * 4
    colors.GetColor(0, low)
    colors.GetColor(255, high)
    assert low[2] > low[0] and high[0] > high[2]  # blue for shortening, red for stretch
    assert display.GetApplyThreshold() and display.GetLowerThreshold() > ms.OUTSIDE_MASK
    import slicer

    nodes.browser.SetSelectedItemNumber(1)
    arr = slicer.util.arrayFromVolume(nodes.volume)
    assert arr[0, 3, 3] == pytest.approx(-0.2) and arr[0, 0, 0] == ms.OUTSIDE_MASK
    with pytest.raises(Exception, match="not present"):
        ms.strain_to_nodes(strain, "radial", "phantom")


def test_strain_legend_is_added_to_the_overlay(scene):
    from CardioGenSlicerLib import mrml_strain as ms

    comp = np.full((2, 1, 4, 4), -0.1, np.float32)
    strain = StrainSeries({"radial": comp}, frame_times=[0, 100])
    nodes = ms.strain_to_nodes(strain, "radial", "legend test")
    legend = ms.add_strain_legend(nodes.volume, "radial strain")
    assert legend is not None and legend.IsA("vtkMRMLColorLegendDisplayNode")
    assert legend.GetTitleText() == "radial strain" and legend.GetVisibility()
