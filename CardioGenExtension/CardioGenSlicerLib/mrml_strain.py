"""Strain overlays in the scene: a diverging color table, strain maps as a volume sequence with values outside the
myocardium hidden by the display threshold, and a color legend (split from :mod:`.mrml_bridge`)."""
from __future__ import annotations

from typing import Any

import slicer

from cardiogen.data import ImageSeries, StrainSeries
from cardiogen.errors import CardioGenInputError

from .mrml_bridge import ATTR_KIND, SeriesNodes, _scene, image_series_to_nodes

STRAIN_RANGE = 0.3          #: color table spans -0.3 .. +0.3 (Green-Lagrange, unitless)
OUTSIDE_MASK = -10.0        #: value written outside the myocardium; hidden by the display threshold


def strain_color_table(scene: Any = None, name: str = "CardioGen strain (diverging)") -> Any:
    """A 256-entry diverging blue-white-red color table (negative = shortening = blue), made once per scene."""
    scn = _scene(scene)
    existing = scn.GetFirstNodeByName(name)
    if existing is not None:
        return existing
    table = scn.AddNewNodeByClass("vtkMRMLColorTableNode", name)
    table.SetTypeToUser()
    table.SetNumberOfColors(256)
    table.SetNamesInitialised(True)
    from cardiogen.motion.bullseye import diverging_rgb  # the bull's-eye's colours too

    for i in range(256):
        x = i / 255.0 * 2.0 - 1.0  # -1 .. 1
        table.SetColor(i, f"{x * STRAIN_RANGE:+.3f}", *(float(v) for v in diverging_rgb(x)), 1.0)
    table.SetAttribute(ATTR_KIND, "strain_colors")
    return table


def strain_to_nodes(strain: StrainSeries, component: str, name: str, scene: Any = None) -> SeriesNodes:
    """One strain component as a volume sequence with the diverging color table; outside the mask is hidden."""
    if component not in strain.components:
        raise CardioGenInputError("strain component not present", expected=tuple(strain.components), got=component)
    values = strain.components[component].copy()
    if strain.mask is not None:
        values[:, ~strain.mask] = OUTSIDE_MASK
    series = ImageSeries(values, strain.geometry, frame_times=strain.frame_times, modality="strain",
                         synthetic=strain.synthetic, provenance=strain.provenance)
    nodes = image_series_to_nodes(series, f"{name} {component} strain", scene)
    style_strain_display(nodes.volume, scene)
    return nodes


def style_strain_display(volume_node: Any, scene: Any = None) -> None:
    """Diverging strain colors over ±:data:`STRAIN_RANGE`; values at :data:`OUTSIDE_MASK` are not drawn."""
    display = volume_node.GetDisplayNode()
    display.SetAndObserveColorNodeID(strain_color_table(scene).GetID())
    display.AutoWindowLevelOff()
    display.SetWindowLevel(2 * STRAIN_RANGE, 0.0)
    display.SetApplyThreshold(True)
    display.SetLowerThreshold(OUTSIDE_MASK / 2)
    display.SetUpperThreshold(1e6)
    display.SetInterpolate(False)


def hide_strain_legend(volume_node: Any) -> None:
    """Hide a strain overlay's colour legend, if it has one (another component's overlay is shown instead)."""
    legend = slicer.modules.colors.logic().GetColorLegendDisplayNode(volume_node)
    if legend is not None:
        legend.SetVisibility(False)


def add_strain_legend(volume_node: Any, title: str = "strain") -> Any:
    """Color legend for a strain overlay (Colors module logic)."""
    logic = slicer.modules.colors.logic()
    legend = logic.AddDefaultColorLegendDisplayNode(volume_node)
    if legend is not None:
        legend.SetTitleText(title)
        legend.SetVisibility(True)
    return legend
