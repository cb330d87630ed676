"""Contours: polygons to masks, closed splines, and the Sunnybrook manual contour files.

Pixel convention used throughout (the DICOM / ITK index convention):

* A point ``(x, y)`` is in **pixel units** with ``x = column`` and ``y = row``.
* Integer coordinates are **pixel centres**: pixel ``[row r, column c]`` covers ``[c - 0.5, c + 0.5] x
  [r - 0.5, r + 0.5]`` and its centre is ``(x=c, y=r)``; the top-left corner of the image is ``(-0.5, -0.5)``.
* :func:`polygon_to_mask` marks a pixel when its **centre** lies inside the polygon (the polygon is implicitly
  closed); centres exactly on an edge may fall either way.

Sunnybrook contour files (``IM-0001-NNNN-{i|o}contour-manual.txt``) hold ``x y`` per line in this convention and
refer to DICOM file ``NNNN.dcm`` (leading zeros dropped).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..data import STANDARD_LABELS, ImageSeries, Segmentation
from ..errors import CardioGenInputError, import_optional

__all__ = ["polygon_to_mask", "closed_spline", "read_contour_file", "read_sunnybrook_contours",
           "SUNNYBROOK_CONTOUR_PATTERN"]

#: File name pattern of Sunnybrook manual contours: group 1 = image number, group 2 = "i" or "o".
SUNNYBROOK_CONTOUR_PATTERN = re.compile(r"IM-\d+-(\d+)-([io])contour-manual\.txt$", re.IGNORECASE)


def _points(points: Any, what: str, source: Any = None, min_points: int = 3) -> np.ndarray:
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{what} must be numeric (N, 2) points", source=source) from exc
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise CardioGenInputError(f"{what} must be (N, 2) points [x = column, y = row]", source=source,
                                  got=f"shape {pts.shape}")
    if pts.shape[0] < min_points:
        raise CardioGenInputError(f"{what} needs at least {min_points} points", source=source, got=pts.shape[0])
    if not np.all(np.isfinite(pts)):
        raise CardioGenInputError(f"{what} has NaN/Inf coordinates", source=source)
    return pts


def polygon_to_mask(points_xy: Any, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a closed polygon.

    Args:
        points_xy: ``(N, 2)`` vertices ``[x = column, y = row]`` in pixel units, integer = pixel centre
            (see the module docstring); the last vertex connects back to the first.
        shape: ``(rows, cols)`` of the mask.

    Returns:
        bool ``(rows, cols)``: True where the pixel centre is inside the polygon.
    """
    pts = _points(points_xy, "polygon")
    try:
        rows, cols = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError, IndexError) as exc:
        raise CardioGenInputError("mask shape must be (rows, cols)", got=shape) from exc
    if rows <= 0 or cols <= 0:
        raise CardioGenInputError("mask shape must be positive", got=(rows, cols))
    polygon = import_optional("skimage.draw", package="scikit-image", feature="filling contours").polygon

    rr, cc = polygon(pts[:, 1], pts[:, 0], shape=(rows, cols))
    mask = np.zeros((rows, cols), dtype=bool)
    mask[rr, cc] = True
    return mask


def closed_spline(control_points: Any, n: int = 200) -> np.ndarray:
    """Periodic cubic spline through closed-contour control points (DENSEanalysis ROIs: IsClosed, IsCurved).

    The spline is parameterised by cumulative chord length and passes through every control point.

    Args:
        control_points: ``(M, 2)`` points ``[x, y]`` (M >= 3; a repeated last point equal to the first is dropped).
        n: number of output points (>= 3), evenly spaced in the chord-length parameter.

    Returns:
        ``(n, 2)`` float points along the closed curve (the first point is not repeated at the end).
    """
    pts = _points(control_points, "spline control points")
    if int(n) < 3:
        raise CardioGenInputError("closed_spline needs n >= 3 output points", got=n)
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(np.diff(pts, axis=0) != 0, axis=1)
    pts = pts[keep]
    if len(pts) > 1 and np.all(pts[-1] == pts[0]):
        pts = pts[:-1]
    if len(pts) < 3:
        raise CardioGenInputError("closed_spline needs at least 3 distinct control points", got=len(pts))
    from scipy.interpolate import CubicSpline  # noqa: PLC0415

    closed = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    spline = CubicSpline(s, closed, bc_type="periodic", axis=0)
    u = np.linspace(0.0, s[-1], int(n), endpoint=False)
    return spline(u)


def read_contour_file(path: str | os.PathLike) -> np.ndarray:
    """Read a text contour (one ``x y`` pair per line, pixel units) as ``(N, 2)`` float."""
    p = Path(path)
    try:
        pts = np.loadtxt(p, dtype=float, ndmin=2)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reading failure becomes an input error naming the file
        raise CardioGenInputError(f"cannot read contour file: {type(exc).__name__}: {exc}", source=p) from exc
    return _points(pts, "contour", source=p)


def _image_number(path: str) -> int | None:
    digits = re.findall(r"\d+", Path(path).stem)
    return int(digits[-1]) if digits else None


def read_sunnybrook_contours(contour_dir: str | os.PathLike, cine: ImageSeries) -> Segmentation:
    """Sunnybrook manual LV contours as a :class:`Segmentation` on the grid of ``cine``.

    ``IM-0001-NNNN-icontour-manual.txt`` (inner = endocardium) and ``...-ocontour-manual.txt`` (outer =
    epicardium) refer to DICOM file ``NNNN.dcm``; the file's (t, z) comes from ``cine.provenance["files"]`` (as
    written by :func:`cardiogen.io.dicom_io.read_dicom_series`). Contour files are searched for in
    ``contour_dir`` and its sub-folders (``i-contours/``, ``o-contours/``).

    Labels: inner contour → 1 "LV blood pool"; outer minus inner → 2 "LV myocardium" where both exist at that
    (t, z) (an outer contour without an inner one is not filled). ``annotated[t, z]`` is True where any contour
    exists.

    Raises:
        CardioGenInputError: no contour files, a contour naming an image that is not in ``cine``, unreadable
            contours, or a cine without a file list.
    """
    root = Path(contour_dir)
    if not root.is_dir():
        raise CardioGenInputError("contour folder not found", source=root)
    if not isinstance(cine, ImageSeries):
        raise CardioGenInputError("cine must be an ImageSeries", got=type(cine).__name__)
    files = cine.provenance.get("files") if isinstance(cine.provenance, dict) else None
    nt, nz, rows, cols = cine.shape
    if not files or len(files) != nt or any(len(row) != nz for row in files):
        raise CardioGenInputError("cine has no [t][z] file list in provenance['files'] (read it with "
                                  "cardiogen.io.dicom_io.read_dicom_series)", source=cine.description or "cine")
    index: dict[int, tuple[int, int]] = {}
    for t, row in enumerate(files):
        for z, f in enumerate(row):
            number = _image_number(str(f))
            if number is None:
                continue
            if number in index and index[number] != (t, z):
                raise CardioGenInputError("cine file names do not give unique image numbers", source=str(f))
            index[number] = (t, z)

    contour_files = sorted(p for p in root.rglob("*") if p.is_file() and SUNNYBROOK_CONTOUR_PATTERN.search(p.name))
    if not contour_files:
        raise CardioGenInputError("no Sunnybrook contour files (IM-xxxx-NNNN-{i|o}contour-manual.txt) found",
                                  source=root)
    inner: dict[tuple[int, int], np.ndarray] = {}
    outer: dict[tuple[int, int], np.ndarray] = {}
    used: dict[str, list] = {}
    for cf in contour_files:
        m = SUNNYBROOK_CONTOUR_PATTERN.search(cf.name)
        number, kind = int(m.group(1)), m.group(2).lower()
        if number not in index:
            raise CardioGenInputError(f"contour refers to image {number}.dcm, which is not in the cine series",
                                      source=cf)
        t, z = index[number]
        pts = read_contour_file(cf)
        if (pts[:, 0].max() < -0.5 or pts[:, 0].min() > cols - 0.5 or pts[:, 1].max() < -0.5
                or pts[:, 1].min() > rows - 0.5):
            raise CardioGenInputError("contour lies outside the image", source=cf,
                                      expected=f"x in [0, {cols}), y in [0, {rows})")
        mask = polygon_to_mask(pts, (rows, cols))
        target = inner if kind == "i" else outer
        target[(t, z)] = target.get((t, z), np.zeros((rows, cols), bool)) | mask
        used[str(cf)] = [t, z]

    labels = np.zeros((nt, nz, rows, cols), dtype=np.uint8)
    annotated = np.zeros((nt, nz), dtype=bool)
    for (t, z), mask in outer.items():
        if (t, z) in inner:
            labels[t, z][mask & ~inner[(t, z)]] = 2
        annotated[t, z] = True
    for (t, z), mask in inner.items():
        labels[t, z][mask] = 1
        annotated[t, z] = True
    table = {1: STANDARD_LABELS[1], 2: STANDARD_LABELS[2]}
    provenance = {
        "reader": "cardiogen.io.contours.read_sunnybrook_contours",
        "source": str(root),
        "contour_files": used,  # file -> [t, z]
        "outer_without_inner": sorted([list(k) for k in outer if k not in inner]),
        "image_source": cine.provenance.get("source"),
    }
    return Segmentation(labels, label_table=table, geometry=cine.geometry, frame_times=cine.frame_times,
                        annotated=annotated, provenance=provenance)
