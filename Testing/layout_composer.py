"""Screenshots of a whole Slicer layout for the render tier: the views of a layout description (the CardioGen layout:
Red / Yellow / Green slice views over the 3D view and the plot view) made as real MRML views offscreen (trame-slicer's
DirectViewFactory over slicer-core), rendered, and tiled into one image as the layout arranges them.

Slice and 3D views are Slicer's own view classes (slice logic, displayable managers, colour legends). Slicer's plot
view is a Qt widget that slicer-core lacks: the plot view node's chart is drawn with VTK's chart (the engine under
that widget, :func:`render_helpers.render_chart`). Each tile carries a title bar in the view's colour with its label,
as Slicer's view controllers do. Test-only: product code never imports this.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

BAR = 18                    #: height of a tile's title bar (px)
GAP = 3                     #: dark gap between tiles (px)
GAP_GRAY = 40
GAP_COLOR = (GAP_GRAY,) * 3


@dataclass
class Tile:
    tag: str                #: singleton tag of the view ("Red", "1", "PlotView1")
    view_class: str
    label: str
    color: tuple
    pixels: Optional[np.ndarray] = None  #: (h, w, 3) uint8 of the view itself, top row first (no title bar)


@dataclass
class ComposedLayout:
    image: np.ndarray                     #: (h, w, 3) uint8
    tiles: dict = field(default_factory=dict)  #: tag -> Tile


def _hex(color: Optional[str], default=(90, 90, 90)) -> tuple:
    if not color or not color.startswith("#") or len(color) != 7:
        return default
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


class LayoutViews:
    """The views a layout description names, created offscreen in ``app`` (a trame-slicer ``SlicerApp`` whose view
    manager has a ``DirectViewFactory(do_render_offscreen=True)``) before any data is shown, as Slicer's layout manager
    creates them when the layout is selected."""

    def __init__(self, app, xml: str, slice_size=(360, 330), wide_size=(540, 360)) -> None:
        import slicer
        from trame_slicer.views import ViewLayoutDefinition

        self.app, self.xml = app, xml
        self.root = ET.fromstring(xml)
        self.views, self.tiles, self.sizes = {}, {}, {}
        scene = app.scene
        for element in self.root.iter("view"):
            cls, tag = element.get("class"), element.get("singletontag")
            props = {p.get("name"): p.text for p in element.iter("property")}
            self.tiles[tag] = Tile(tag, cls, props.get("viewlabel") or tag,
                                   _hex(props.get("viewcolor"), (110, 110, 120)))
            size = slice_size if cls == "vtkMRMLSliceNode" else wide_size
            self.sizes[tag] = size
            if cls in ("vtkMRMLSliceNode", "vtkMRMLViewNode"):
                view = app.view_manager.create_view(ViewLayoutDefinition.from_xml(ET.tostring(element).decode()))
                view.render_window().SetSize(*size)
                if cls == "vtkMRMLSliceNode":  # singletons per name: one made by an earlier test keeps its size
                    self.slice_node(tag).SetDimensions(size[0], size[1], 1)
                else:  # the 3D view framed on what it shows (the heart), not on the box around every volume
                    node = scene.GetNodeByID(view.get_view_node_id())
                    node.SetBoxVisible(False)
                    node.SetAxisLabelsVisible(False)
                self.views[tag] = view
            elif cls == "vtkMRMLPlotViewNode":
                node = scene.GetSingletonNode(tag, cls)
                if node is None:
                    node = slicer.vtkMRMLPlotViewNode()
                    node.SetSingletonTag(tag)
                    node.SetLayoutName(tag)
                    node.SetName(f"View{tag}")
                    node = scene.AddNode(node)
                self.views[tag] = node

    def slice_node(self, tag: str):
        return self.app.scene.GetSingletonNode(tag, "vtkMRMLSliceNode")

    def _render(self, tile: Tile, path: Path) -> np.ndarray:
        from render_helpers import grab_window, render_chart

        view = self.views[tile.tag]
        if tile.view_class == "vtkMRMLPlotViewNode":
            chart = view.GetScene().GetNodeByID(view.GetPlotChartNodeID() or "")
            if chart is None:
                return np.full((self.sizes[tile.tag][1], self.sizes[tile.tag][0], 3), 255, np.uint8)
            return render_chart(chart, path, size=self.sizes[tile.tag])
        if tile.view_class == "vtkMRMLViewNode":
            view.fit_view_to_content()  # "center the view", as a user does once data is loaded, then frame it
            view.renderer().ResetCamera()
            view.renderer().GetActiveCamera().Zoom(0.85)
        view.render()
        return grab_window(view.render_window(), path)

    def compose(self, path: Path) -> ComposedLayout:
        """Render every view (each also saved beside ``path`` as ``<stem>_<tag>.png``) and tile them into ``path``."""
        for tag, tile in self.tiles.items():  # VTK's rows run bottom-up: turned to the screen's top-down order
            tile.pixels = np.ascontiguousarray(self._render(tile, path.with_name(f"{path.stem}_{tag}.png"))[::-1])
        image = self._tile(self.root)
        save_png(image, path)
        return ComposedLayout(image, dict(self.tiles))

    def _tile(self, element) -> np.ndarray:
        if element.tag == "view":
            return _with_bar(self.tiles[element.get("singletontag")])
        parts = [self._tile(child) for item in element.findall("item") for child in item]
        if element.tag == "layout" and element.get("type") == "horizontal":
            return _stack(parts, axis=1)
        return _stack(parts, axis=0)


def _with_bar(tile: Tile) -> np.ndarray:
    h, w, _ = tile.pixels.shape
    bar = np.empty((BAR, w, 3), np.uint8)
    bar[:] = tile.color
    try:
        from PIL import Image, ImageDraw

        img = Image.fromarray(bar)
        dark = sum(tile.color) > 380
        ImageDraw.Draw(img).text((6, 3), tile.label, fill=(0, 0, 0) if dark else (255, 255, 255))
        bar = np.asarray(img)
    except ImportError:  # the bar's colour alone names the view
        pass
    return np.concatenate([bar, tile.pixels], axis=0)


def _stack(parts: list, axis: int) -> np.ndarray:
    """Concatenate images along ``axis`` (0: rows, 1: columns) with gaps, padding the other axis to the largest."""
    other = 1 - axis
    size = max(p.shape[other] for p in parts)
    padded = []
    for i, part in enumerate(parts):
        pad = [(0, 0), (0, 0), (0, 0)]
        pad[other] = (0, size - part.shape[other])
        part = np.pad(part, pad, constant_values=GAP_GRAY)
        if i:
            gap_shape = [size, size, 3]
            gap_shape[axis] = GAP
            padded.append(np.full(gap_shape, GAP_COLOR, np.uint8))
        padded.append(part)
    return np.concatenate(padded, axis=axis)


def save_png(image: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path)


def beside_panel(layout_png: Path, panel_png: Path, path: Path) -> Optional[np.ndarray]:
    """The module panel (the panel tier's screenshot) on the left of the composed layout, as Slicer's main window
    places them; None when the panel tier has not left its screenshot."""
    from PIL import Image

    if not Path(panel_png).is_file():
        return None
    panel = np.asarray(Image.open(panel_png).convert("RGB"))
    layout = np.asarray(Image.open(layout_png).convert("RGB"))
    if panel.shape[0] > layout.shape[0]:  # a long panel is shown scrolled to its top, as in the module panel
        panel = panel[: layout.shape[0]]
    image = _stack([panel, layout], axis=1)
    save_png(image, path)
    return image


def non_blank(pixels: np.ndarray, min_std: float = 8.0) -> bool:
    """A rendered view shows something: its pixels vary."""
    return float(np.asarray(pixels, float).std()) > min_std
