"""Conversion between cardiogen containers and MRML nodes (the only place that knows both).

Coordinate frames: cardiogen stays in LPS like DICOM and ITK; MRML uses RAS. The single conversion is
:data:`LPS_TO_RAS` (negate x and y), applied in :func:`ijk_to_ras` / :func:`geometry_from_ijk_to_ras` and to
displacement vectors. Arrays: cardiogen frames are ``(z, y, x)`` = MRML volume arrays ``(k, j, i)``.

4D data follows SlicerHeart's pattern: a ``vtkMRMLSequenceNode`` with index name "time", unit "ms", numeric index
values, one data node per frame, a ``vtkMRMLSequenceBrowserNode`` and its proxy node. Synthetic results carry
" (synthetic)" in their node names and the attribute ``CardioGen.Synthetic = "1"``; every node made here has
``CardioGen.Kind`` (cine, dense_mag, strain, ecg ...).

The sequences logic is taken from ``slicer.modules.sequences.logic()`` (in tests a stand-in provides it).
ECG tables/charts live in :mod:`.mrml_ecg`, strain overlays in :mod:`.mrml_strain`, segmentation nodes in
:mod:`.mrml_segmentation`.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np
import slicer
import vtk

from cardiogen.data import DisplacementSeries, Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError

from .provenance import set_node_attributes as set_provenance_attributes

#: RAS = LPS_TO_RAS @ LPS (and its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

ATTR_SYNTHETIC = "CardioGen.Synthetic"
ATTR_KIND = "CardioGen.Kind"
ATTR_PROVENANCE = "CardioGen.Provenance"
ATTR_SOURCE_FILE = "CardioGen.SourceFile"  #: file a node was loaded from (e.g. the DENSE bundle with its phases)
ATTR_ES_FRAME = "CardioGen.ESFrame"  #: end-systolic frame a 4D series records (metadata "es_frame"), e.g. a 4D CT
SYNTHETIC_SUFFIX = " (synthetic)"


# ---- geometry ------------------------------------------------------------------------------------------------
def ijk_to_ras(geometry: Geometry) -> np.ndarray:
    """4x4 IJK-to-RAS matrix of a cardiogen geometry (LPS -> RAS once, here)."""
    return LPS_TO_RAS @ geometry.index_to_world()


def geometry_from_ijk_to_ras(matrix: Any) -> Geometry:
    """Geometry (LPS) from a 4x4 IJK-to-RAS matrix (numpy or vtkMatrix4x4)."""
    m = slicer.util.arrayFromVTKMatrix(matrix) if isinstance(matrix, vtk.vtkMatrix4x4) else np.asarray(matrix, float)
    lps = LPS_TO_RAS @ m
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    return Geometry(spacing=spacing, origin=lps[:3, 3], direction=lps[:3, :3] / spacing)


def _volume_ijk_to_ras(node: Any) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return slicer.util.arrayFromVTKMatrix(matrix)


def _scene(scene: Any = None) -> Any:
    return scene if scene is not None else slicer.mrmlScene


def _mark(node: Any, kind: str, synthetic: bool, provenance: Optional[dict] = None) -> None:
    node.SetAttribute(ATTR_KIND, kind)
    node.SetAttribute(ATTR_SYNTHETIC, "1" if synthetic else "0")
    if provenance:  # the whole record (JSON) and its key fields one by one (pipeline, weights, sha256, seed, ...)
        set_provenance_attributes(node, provenance)


def node_name(name: str, synthetic: bool) -> str:
    """Node name with the synthetic marker appended once."""
    if synthetic and SYNTHETIC_SUFFIX.strip() not in name:
        return name + SYNTHETIC_SUFFIX
    return name


def is_synthetic(node: Any) -> bool:
    return node.GetAttribute(ATTR_SYNTHETIC) == "1"


def sequences_logic() -> Any:
    return slicer.modules.sequences.logic()


# ---- volumes and sequences -----------------------------------------------------------------------------------
def _new_volume(frame: np.ndarray, geometry: Geometry, name: str, class_name: str = "vtkMRMLScalarVolumeNode",
                scene: Any = None) -> Any:
    """A volume node in the scene (frame is (z, y, x))."""
    node = _scene(scene).AddNewNodeByClass(class_name, name)
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(ijk_to_ras(geometry)))
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(frame))
    node.CreateDefaultDisplayNodes()
    return node


def _new_sequence(name: str, scene: Any = None) -> Any:
    """An empty sequence node indexed by time in ms (numeric index values)."""
    seq = _scene(scene).AddNewNodeByClass("vtkMRMLSequenceNode", name)
    seq.SetIndexName("time")
    seq.SetIndexUnit("ms")
    seq.SetIndexType(seq.NumericIndex)
    return seq


def _make_browser(seq: Any, name: str, scene: Any = None) -> tuple[Any, Any]:
    browser = _scene(scene).AddNewNodeByClass("vtkMRMLSequenceBrowserNode", name + " browser")
    browser.SetAndObserveMasterSequenceNodeID(seq.GetID())
    browser.SetPlaybackRateFps(10.0)
    browser.SetPlaybackItemSkippingEnabled(False)
    sequences_logic().UpdateProxyNodesFromSequences(browser)
    proxy = browser.GetProxyNode(seq)
    browser.SetSelectedItemNumber(0)
    return browser, proxy


def play_sequence(seq: Any, name: str, browser: Any = None, scene: Any = None) -> tuple[Any, Any]:
    """(proxy node, its own browser or None): with ``browser`` (an existing browser whose index values are the same
    times) the sequence is added to it and plays with its other sequences; otherwise it gets its own browser."""
    if browser is None:
        own, proxy = _make_browser(seq, name, scene)
        return proxy, own
    browser.AddSynchronizedSequenceNode(seq)
    sequences_logic().UpdateProxyNodesFromSequences(browser)
    return browser.GetProxyNode(seq), None


class SeriesNodes:
    """What :func:`image_series_to_nodes` made: a volume, or a sequence + browser + proxy volume."""

    def __init__(self, volume: Any = None, sequence: Any = None, browser: Any = None) -> None:
        self.volume = volume          # the node shown in views (the proxy for a sequence)
        self.sequence = sequence
        self.browser = browser

    @property
    def nodes(self) -> list:
        return [n for n in (self.browser, self.sequence, self.volume) if n is not None]


def image_series_to_nodes(series: ImageSeries, name: str, scene: Any = None) -> SeriesNodes:
    """A static series becomes a scalar volume; a series of frames becomes a sequence with a browser."""
    name = node_name(name, series.synthetic)
    if series.n_frames == 1:
        vol = _new_volume(series.array[0], series.geometry, name, scene=scene)
        _mark(vol, series.modality, series.synthetic, series.provenance)
        return SeriesNodes(volume=vol)
    temp = vtk_volume_node()
    temp.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(ijk_to_ras(series.geometry)))
    _mark(temp, series.modality, series.synthetic)  # every frame (and so the proxy) carries the marks
    set_provenance_attributes(temp, series.provenance, whole=False)  # and the provenance's key fields
    seq = _new_sequence(name, scene)
    for t, frame in zip(series.frame_times, series.array):
        slicer.util.updateVolumeFromArray(temp, np.ascontiguousarray(frame))
        seq.SetDataNodeAtValue(temp, f"{float(t):g}")
    _mark(seq, series.modality, series.synthetic, series.provenance)
    browser, proxy = _make_browser(seq, name, scene)
    proxy.SetName(name)
    _mark(proxy, series.modality, series.synthetic)
    _mark(browser, series.modality, series.synthetic)
    es = (series.metadata or {}).get("es_frame")
    if es is not None:  # e.g. a 4D CT's ES phase: the CT motion pipeline's default phase, kept through the scene
        for node in (seq, proxy, browser):
            node.SetAttribute(ATTR_ES_FRAME, str(int(es)))
    proxy.CreateDefaultDisplayNodes()
    return SeriesNodes(volume=proxy, sequence=seq, browser=browser)


def recorded_es_frame(node: Any) -> Optional[int]:
    """The end-systolic frame a series node (proxy, sequence or browser) records, or None."""
    for candidate in (node, _as_sequence(node)):
        value = candidate.GetAttribute(ATTR_ES_FRAME) if candidate is not None else None
        if value not in (None, ""):
            return int(value)
    return None


def update_volume_node(node: Any, series: ImageSeries) -> None:
    """Replace the voxels (first frame) and geometry of an existing scalar volume node in place (live previews)."""
    node.SetIJKToRASMatrix(slicer.util.vtkMatrixFromArray(ijk_to_ras(series.geometry)))
    slicer.util.updateVolumeFromArray(node, np.ascontiguousarray(series.array[0]))
    _mark(node, series.modality, series.synthetic, series.provenance)


def vtk_volume_node() -> Any:
    """A scalar volume node outside the scene (a template for sequence frames)."""
    node = slicer.vtkMRMLScalarVolumeNode()
    node.SetAndObserveImageData(vtk.vtkImageData())
    return node


def _frame_times_of(seq: Any) -> np.ndarray:
    values = [seq.GetNthIndexValue(i) for i in range(seq.GetNumberOfDataNodes())]
    try:
        return np.array([float(v) for v in values])
    except ValueError as exc:
        raise CardioGenInputError("sequence index values are not numbers", source=seq.GetName(), got=values) from exc


def nodes_to_image_series(node: Any, modality: Optional[str] = None) -> ImageSeries:
    """A scalar volume, a sequence node, or a browser/proxy of a volume sequence -> ImageSeries."""
    seq = _as_sequence(node)
    kind = modality or (node.GetAttribute(ATTR_KIND) or "other")
    synthetic = node.GetAttribute(ATTR_SYNTHETIC) == "1"
    if seq is None:
        arr = slicer.util.arrayFromVolume(node)
        if arr.ndim != 3:
            raise CardioGenInputError("only scalar volumes are supported", source=node.GetName(), got=arr.shape)
        return ImageSeries(arr.copy(), geometry_from_ijk_to_ras(_volume_ijk_to_ras(node)), modality=kind,
                           synthetic=synthetic, description=node.GetName())
    frames = []
    geometry = None
    for i in range(seq.GetNumberOfDataNodes()):
        data = seq.GetNthDataNode(i)
        frames.append(slicer.util.arrayFromVolume(data).copy())
        geometry = geometry or geometry_from_ijk_to_ras(_volume_ijk_to_ras(data))
    es = recorded_es_frame(node)
    return ImageSeries(np.stack(frames), geometry, frame_times=_frame_times_of(seq), modality=kind,
                       synthetic=synthetic or seq.GetAttribute(ATTR_SYNTHETIC) == "1", description=seq.GetName(),
                       metadata={"es_frame": es} if es is not None else {})


def _as_sequence(node: Any) -> Any:
    if node.IsA("vtkMRMLSequenceNode"):
        return node
    if node.IsA("vtkMRMLSequenceBrowserNode"):
        return node.GetMasterSequenceNode()
    browser = sequences_logic().GetFirstBrowserNodeForProxyNode(node)
    if browser is not None:
        return browser.GetSequenceNode(node)
    return None


def source_file(node: Any) -> str:
    """The file a node was loaded from (:data:`ATTR_SOURCE_FILE`), read from the node or, for a proxy node whose
    attributes a playing browser has replaced with its frame's, from its sequence; "" when none."""
    source = node.GetAttribute(ATTR_SOURCE_FILE) if node is not None else None
    if not source and node is not None:
        sequence = _as_sequence(node)
        source = sequence.GetAttribute(ATTR_SOURCE_FILE) if sequence is not None else None
    return source or ""


# ---- displacement as grid transforms ---------------------------------------------------------------------------
def _grid_transform(displacement_lps: np.ndarray, geometry: Geometry) -> Any:
    """A vtkOrientedGridTransform from a (3, z, y, x) LPS displacement (mm) on ``geometry``."""
    comps = np.asarray(displacement_lps, dtype=np.float64)
    ras = np.stack([-comps[0], -comps[1], comps[2]], axis=-1)  # (z, y, x, 3) RAS vectors
    nz, ny, nx = comps.shape[1:]
    image = vtk.vtkImageData()
    image.SetDimensions(nx, ny, nz)
    m = ijk_to_ras(geometry)
    spacing = np.array(geometry.spacing)
    image.SetOrigin(*m[:3, 3])
    image.SetSpacing(*spacing)
    image.AllocateScalars(vtk.VTK_DOUBLE, 3)
    from vtk.util import numpy_support

    flat = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())
    flat[:] = ras.reshape(-1, 3)
    direction = vtk.vtkMatrix4x4()
    for r in range(3):
        for c in range(3):
            direction.SetElement(r, c, m[r, c] / spacing[c])
    transform = slicer.vtkOrientedGridTransform()
    transform.SetDisplacementGridData(image)
    transform.SetGridDirectionMatrix(direction)
    transform.SetInterpolationModeToLinear()
    return transform


def displacement_to_nodes(disp: DisplacementSeries, name: str, scene: Any = None, browser: Any = None) -> SeriesNodes:
    """A sequence of grid transform nodes (one per frame; "to parent" moves reference points to frame t).

    The Lagrangian field ``x = X + u(X)`` is stored as the transform *to parent*, so a model or markup placed on
    the reference frame and put under the proxy transform follows the motion as the browser plays. With
    ``browser`` (an existing sequence browser whose index values are the same times) the sequence is added to it
    and plays with its other sequences; otherwise it gets its own browser.
    """
    name = node_name(name, disp.synthetic)
    scn = _scene(scene)
    temp = slicer.vtkMRMLGridTransformNode()
    _mark(temp, "displacement", disp.synthetic)
    seq = _new_sequence(name, scn)
    for t, field in zip(disp.frame_times, disp.array):
        temp.SetAndObserveTransformToParent(_grid_transform(field, disp.geometry))
        seq.SetDataNodeAtValue(temp, f"{float(t):g}")
    _mark(seq, "displacement", disp.synthetic, disp.provenance)
    proxy, own = play_sequence(seq, name, browser, scene)
    proxy.SetName(name)
    _mark(proxy, "displacement", disp.synthetic)
    return SeriesNodes(volume=proxy, sequence=seq, browser=own)


def nodes_to_displacement(node: Any) -> DisplacementSeries:
    """Grid transform (sequence) -> DisplacementSeries (LPS components, mm)."""
    seq = _as_sequence(node)
    nodes = [node] if seq is None else [seq.GetNthDataNode(i) for i in range(seq.GetNumberOfDataNodes())]
    fields, geometry = [], None
    from vtk.util import numpy_support

    for n in nodes:
        transform = n.GetTransformToParent()
        grid = slicer.vtkOrientedGridTransform.SafeDownCast(transform)
        if grid is None:
            raise CardioGenInputError("node is not a grid transform", source=n.GetName())
        image = grid.GetDisplacementGrid()
        nx, ny, nz = image.GetDimensions()
        ras = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(nz, ny, nx, 3)
        fields.append(np.stack([-ras[..., 0], -ras[..., 1], ras[..., 2]]))
        if geometry is None:
            d = slicer.util.arrayFromVTKMatrix(grid.GetGridDirectionMatrix())[:3, :3]
            m = np.eye(4)
            m[:3, :3] = d @ np.diag(image.GetSpacing())
            m[:3, 3] = image.GetOrigin()
            geometry = geometry_from_ijk_to_ras(m)
    times = _frame_times_of(seq) if seq is not None else None
    return DisplacementSeries(np.stack(fields), geometry, frame_times=times,
                              synthetic=node.GetAttribute(ATTR_SYNTHETIC) == "1")


def show_in_slice_views(background: Any, foreground: Any = None, foreground_opacity: float = 0.6,
                        label: Any = None, scene: Any = None) -> None:
    """Set the layers of every slice view through the scene's slice composite nodes (works without slicer.app)."""
    scn = _scene(scene)
    composites = scn.GetNodesByClass("vtkMRMLSliceCompositeNode")
    for i in range(composites.GetNumberOfItems()):
        comp = composites.GetItemAsObject(i)
        comp.SetBackgroundVolumeID(background.GetID() if background is not None else None)
        comp.SetForegroundVolumeID(foreground.GetID() if foreground is not None else None)
        comp.SetForegroundOpacity(foreground_opacity if foreground is not None else 0.0)
        if label is not None:
            comp.SetLabelVolumeID(label.GetID())


def align_slice_to_volume_plane(slice_node: Any, volume_node: Any, slice_index: Optional[int] = None) -> None:
    """Show slice ``slice_index`` (default: middle) of a volume's own k-plane — the short-axis plane of a cine
    stack — with the volume's columns to the right and rows downwards, whatever the stack's obliquity."""
    m = _volume_ijk_to_ras(volume_node)
    dims = volume_node.GetImageData().GetDimensions()
    k = dims[2] // 2 if slice_index is None else int(slice_index)
    axes = m[:3, :3] / np.linalg.norm(m[:3, :3], axis=0)
    normal, transverse = axes[:, 2], axes[:, 0]
    centre = m @ np.array([(dims[0] - 1) / 2.0, (dims[1] - 1) / 2.0, k, 1.0])
    # Slicer's slice "up" is normal x transverse; rows grow downward on screen, so flip the normal if needed
    if np.dot(np.cross(normal, transverse), axes[:, 1]) > 0:
        normal = -normal
    slice_node.SetSliceToRASByNTP(*normal, *transverse, *centre[:3], 0)
    spacing = np.linalg.norm(m[:3, :3], axis=0)
    fov_x, fov_y = dims[0] * spacing[0], dims[1] * spacing[1]
    dims_xy = slice_node.GetDimensions()
    aspect = dims_xy[1] / max(dims_xy[0], 1)
    fov = max(fov_x, fov_y / max(aspect, 1e-6))
    slice_node.SetFieldOfView(fov, fov * aspect, float(spacing[2]))


def remove_nodes(nodes: Iterable[Any], scene: Any = None) -> None:
    """Remove nodes (and sequence data) from the scene; used to undo a failed load."""
    scn = _scene(scene)
    for node in nodes:
        if node is not None and scn.IsNodePresent(node):
            scn.RemoveNode(node)
