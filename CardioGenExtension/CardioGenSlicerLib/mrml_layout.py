"""The CardioGen view layout and the oblique cine planes of its slice views.

* :data:`LAYOUT_XML`: three slice views (Red, Yellow, Green) over a row of the 3D view and a plot view, registered
  on the scene's layout node under :data:`LAYOUT_ID` (``vtkMRMLLayoutNode.AddLayoutDescription``, once: calling
  :func:`register_layout` again changes nothing). :func:`select_layout` registers it and switches to it — through
  ``slicer.app.layoutManager().setLayout`` inside Slicer (which creates the views it names), through the layout node's
  view arrangement where there is no application (slicer-core in tests). Each CardioGen module selects it when it
  opens (``enter``).
* :func:`align_views_to_volume`: Red shows the volume's own k-plane (the short-axis plane of an oblique cine stack,
  through its middle slice, :func:`.mrml_bridge.align_slice_to_volume_plane`), Yellow and Green the two planes
  along the stack through its centre (normal to the volume's columns and to its rows: the long-axis cuts of a
  short-axis stack). The Data module calls it when a cine or another image is loaded into the views.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Optional

import numpy as np
import slicer

from . import mrml_bridge as mb

LAYOUT_ID = 7301  #: CardioGen's custom layout (Slicer's own layouts stay below 100; extensions use 500+)
SLICE_VIEWS = ("Red", "Yellow", "Green")
THREED_VIEW = "1"           #: singleton tag of the 3D view (Slicer's first 3D view, "View1")
PLOT_VIEW = "PlotView1"     #: singleton tag of the plot view (Slicer's first plot view)


def _slice_view(tag: str, orientation: str, label: str, color: str) -> str:
    return (f'<item><view class="vtkMRMLSliceNode" singletontag="{tag}">'
            f'<property name="orientation" action="default">{orientation}</property>'
            f'<property name="viewlabel" action="default">{label}</property>'
            f'<property name="viewcolor" action="default">{color}</property>'
            f'</view></item>')


#: Red / Yellow / Green on top; the 3D view and the plot view (strain curves, ECG) below.
LAYOUT_XML = (
    '<layout type="vertical" split="true">'
    '<item><layout type="horizontal">'
    + _slice_view("Red", "Axial", "R", "#F34A33")
    + _slice_view("Yellow", "Sagittal", "Y", "#EDD54C")
    + _slice_view("Green", "Coronal", "G", "#6EB04B")
    + '</layout></item>'
    '<item><layout type="horizontal">'
    f'<item><view class="vtkMRMLViewNode" singletontag="{THREED_VIEW}">'
    '<property name="viewlabel" action="default">1</property></view></item>'
    f'<item><view class="vtkMRMLPlotViewNode" singletontag="{PLOT_VIEW}">'
    '<property name="viewlabel" action="default">P</property></view></item>'
    '</layout></item>'
    '</layout>'
)


def layout_views(xml: str = LAYOUT_XML) -> list[tuple[str, str]]:
    """``[(view class, singleton tag)]`` of a layout description, in document order."""
    return [(v.get("class"), v.get("singletontag")) for v in ET.fromstring(xml).iter("view")]


def layout_node(scene: Any = None, create: bool = True) -> Optional[Any]:
    """The scene's layout node (Slicer's application makes it; without the application one is added, as a
    singleton like Slicer's, when ``create``)."""
    scn = mb._scene(scene)
    node = scn.GetFirstNodeByClass("vtkMRMLLayoutNode")
    if node is None and create:
        node = slicer.vtkMRMLLayoutNode()
        node.SetSingletonTag("vtkMRMLLayoutNode")
        node = scn.AddNode(node)
    return node


def register_layout(node: Any) -> bool:
    """Add the CardioGen layout description to ``node`` under :data:`LAYOUT_ID`; True when it was added or
    replaced an older one, False when the same description was already there."""
    if node.IsLayoutDescription(LAYOUT_ID):
        if node.GetLayoutDescription(LAYOUT_ID) == LAYOUT_XML:
            return False
        node.SetLayoutDescription(LAYOUT_ID, LAYOUT_XML)
        return True
    node.AddLayoutDescription(LAYOUT_ID, LAYOUT_XML)
    return True


def select_layout(scene: Any = None) -> Any:
    """Register the CardioGen layout and switch the application to it; returns the layout node."""
    app = getattr(slicer, "app", None)
    manager = app.layoutManager() if app is not None and hasattr(app, "layoutManager") else None
    if manager is not None:
        node = manager.layoutLogic().GetLayoutNode()
        register_layout(node)
        manager.setLayout(LAYOUT_ID)
        return node
    node = layout_node(scene)
    register_layout(node)
    node.SetViewArrangement(LAYOUT_ID)
    return node


def _slice_nodes(scene: Any = None) -> dict:
    scn = mb._scene(scene)
    nodes = scn.GetNodesByClass("vtkMRMLSliceNode")
    out = {}
    for i in range(nodes.GetNumberOfItems()):
        node = nodes.GetItemAsObject(i)
        out.setdefault(node.GetLayoutName(), node)
    return out


def _volume_axes(volume: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """(unit axes (3, 3) as columns i, j, k in RAS; spacing (3,); centre (3,) RAS; dimensions)."""
    m = mb._volume_ijk_to_ras(volume)
    dims = volume.GetImageData().GetDimensions()
    spacing = np.linalg.norm(m[:3, :3], axis=0)
    centre = (m @ np.array([(dims[0] - 1) / 2.0, (dims[1] - 1) / 2.0, (dims[2] - 1) / 2.0, 1.0]))[:3]
    return m[:3, :3] / spacing, spacing, centre, dims


def align_long_axis(slice_node: Any, volume: Any, across: int) -> None:
    """Show the plane along the stack through the volume's centre: normal to its columns (``across=0``: the plane
    of rows and slices) or to its rows (``across=1``: columns and slices); the slices run up the screen."""
    axes, spacing, centre, dims = _volume_axes(volume)
    in_plane = 1 - across  # the other in-plane axis of the image (rows or columns)
    normal, transverse = axes[:, across], axes[:, in_plane]
    if np.dot(np.cross(normal, transverse), axes[:, 2]) < 0:  # screen "up" (normal x transverse) along +k
        normal = -normal
    slice_node.SetSliceToRASByNTP(*normal, *transverse, *centre, 0)
    fov_x, fov_y = dims[in_plane] * spacing[in_plane], dims[2] * spacing[2]
    size = slice_node.GetDimensions()
    aspect = size[1] / max(size[0], 1)
    fov = max(fov_x, fov_y / max(aspect, 1e-6))
    slice_node.SetFieldOfView(fov, fov * aspect, float(spacing[across]))


def align_views_to_volume(volume: Any, scene: Any = None, slice_index: Optional[int] = None) -> list:
    """Rotate the slice views to the volume's planes (see the module docstring); returns the slice nodes moved.

    A single-slice volume (one four-chamber plane) moves only Red: a plane across one slice shows a line."""
    nodes = _slice_nodes(scene)
    moved = []
    if "Red" in nodes:
        mb.align_slice_to_volume_plane(nodes["Red"], volume, slice_index)
        moved.append(nodes["Red"])
    if volume.GetImageData().GetDimensions()[2] > 1:
        for name, across in (("Yellow", 0), ("Green", 1)):
            if name in nodes:
                align_long_axis(nodes[name], volume, across)
                moved.append(nodes[name])
    return moved


def is_selected(scene: Any = None) -> bool:
    """Whether the scene's layout node shows the CardioGen layout."""
    node = layout_node(scene, create=False)
    return node is not None and node.GetViewArrangement() == LAYOUT_ID


def show_chart(chart: Any, scene: Any = None) -> None:
    """Show ``chart`` in the plot view. In the CardioGen layout (which has one) the plot view nodes get the chart
    directly: the Plots module's ``ShowChartInLayout`` would switch to one of Slicer's own plot layouts. Elsewhere
    that module does it; without it (slicer-core) every plot view node of the scene gets the chart."""
    plots = getattr(getattr(slicer, "modules", None), "plots", None)
    if not is_selected(scene) and plots is not None and hasattr(plots, "logic"):
        plots.logic().ShowChartInLayout(chart)
        return
    scn = mb._scene(scene)
    selection = scn.GetFirstNodeByClass("vtkMRMLSelectionNode")
    if selection is not None and hasattr(selection, "SetActivePlotChartID"):
        selection.SetActivePlotChartID(chart.GetID())
    views = scn.GetNodesByClass("vtkMRMLPlotViewNode")
    for i in range(views.GetNumberOfItems()):
        views.GetItemAsObject(i).SetPlotChartNodeID(chart.GetID())
