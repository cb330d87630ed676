"""Input and result side by side for visual QA: two slice views of one orientation and zoom, linked, playing together.

:func:`show_side_by_side` puts the input in the first view (Red) and the result in the second (Yellow) of the
side-by-side layout, gives both the result's own plane (its k-plane, through its middle; the result of a pipeline
covers the region it synthesised, so both views show that region at the same scale), the same field of view and
the same centre, and links them (same view group, linked control: a pan, zoom or slice change in one follows in the
other). The result's sequence plays with the input's browser (:mod:`.synthesis_logic` synchronises it);
:func:`play_together` starts that browser looping.
"""
from __future__ import annotations

from typing import Any, Optional

from . import mrml_bridge as mb

COMPARE_VIEWS = ("Red", "Yellow")  #: the two slice views of Slicer's side-by-side layout


def compare_views(scene: Any = None) -> list[tuple[Any, Any]]:
    """``[(slice node, slice composite node)]`` of the views that compare input and result: Red and Yellow where
    the scene has them, else the first two slice views with a composite node."""
    scn = mb._scene(scene)
    composites = {}
    nodes = scn.GetNodesByClass("vtkMRMLSliceCompositeNode")
    for i in range(nodes.GetNumberOfItems()):
        composite = nodes.GetItemAsObject(i)
        composites.setdefault(composite.GetLayoutName(), composite)
    slices = scn.GetNodesByClass("vtkMRMLSliceNode")
    pairs = [(slices.GetItemAsObject(i), composites.get(slices.GetItemAsObject(i).GetLayoutName()))
             for i in range(slices.GetNumberOfItems())]
    pairs = [(s, c) for s, c in pairs if c is not None]
    named = {s.GetLayoutName(): (s, c) for s, c in pairs}
    if all(name in named for name in COMPARE_VIEWS):
        return [named[name] for name in COMPARE_VIEWS]
    return pairs[:2]


def show_side_by_side(input_node: Any, result_node: Any, scene: Any = None, set_layout: bool = True) -> list:
    """Input volume in the first compare view, result volume in the second, one orientation and zoom, linked; their
    foreground and label layers are cleared, so that both show only what is compared.

    Returns the two slice nodes (empty when the scene has fewer than two slice views)."""
    pairs = compare_views(scene)
    if len(pairs) < 2:
        return []
    (first, first_comp), (second, second_comp) = pairs
    first_comp.SetBackgroundVolumeID(input_node.GetID())
    second_comp.SetBackgroundVolumeID(result_node.GetID())
    for comp in (first_comp, second_comp):  # an overlay left from an earlier task would sit over one side only
        comp.SetForegroundVolumeID(None)
        comp.SetLabelVolumeID(None)
    mb.align_slice_to_volume_plane(first, result_node)
    match_slice_view(second, first)
    second.SetViewGroup(first.GetViewGroup())
    for comp in (first_comp, second_comp):
        comp.SetLinkedControl(True)
    keep_overlays_out((first, second), scene)
    if set_layout:
        layout = mb._scene(scene).GetFirstNodeByClass("vtkMRMLLayoutNode")
        if layout is not None:
            layout.SetViewArrangement(layout.SlicerLayoutSideBySideView)
    return [first, second]


#: Display nodes drawn over every view unless told otherwise: segmentations, transforms' grids, colour legends.
OVERLAY_DISPLAY_CLASSES = ("vtkMRMLSegmentationDisplayNode", "vtkMRMLTransformDisplayNode",
                           "vtkMRMLColorLegendDisplayNode")


def keep_overlays_out(views: Any, scene: Any = None) -> int:
    """Restrict every overlay display (segmentations, displacement grids, colour legends) to the views other than
    ``views`` (slice or 3D view nodes), so the compared views show the input and the result alone; an overlay left
    with no view is hidden. Returns how many display nodes changed."""
    scn = mb._scene(scene)
    out = {v.GetID() for v in views}
    all_views = [n.GetID() for cls in ("vtkMRMLSliceNode", "vtkMRMLViewNode")
                 for n in (scn.GetNodesByClass(cls).GetItemAsObject(i)
                           for i in range(scn.GetNodesByClass(cls).GetNumberOfItems()))]
    changed = 0
    for cls in OVERLAY_DISPLAY_CLASSES:
        nodes = scn.GetNodesByClass(cls)
        for i in range(nodes.GetNumberOfItems()):
            display = nodes.GetItemAsObject(i)
            shown_in = [display.GetNthViewNodeID(k) for k in range(display.GetNumberOfViewNodeIDs())] or all_views
            keep = [v for v in shown_in if v not in out]
            if keep == shown_in:
                continue
            changed += 1
            if keep:
                display.SetViewNodeIDs(keep)
            else:
                display.SetVisibility(False)
    return changed


def match_slice_view(target: Any, source: Any) -> None:
    """Give ``target`` the plane, centre and field of view of ``source`` (same orientation and zoom)."""
    target.GetSliceToRAS().DeepCopy(source.GetSliceToRAS())
    target.SetFieldOfView(*source.GetFieldOfView())
    target.SetXYZOrigin(*source.GetXYZOrigin())
    target.UpdateMatrices()


def play_together(browser: Optional[Any]) -> None:
    """Start the (input's) browser looping: the input and every synchronised result step together."""
    if browser is not None:
        browser.SetPlaybackLooped(True)
        browser.SetPlaybackActive(True)
