"""Myocardial landmarks per frame (tag tracking; issue 19 item 2) -> :class:`~cardiogen.data.LandmarkSeries`.

* CSV (:func:`read_landmarks_csv`): a header row, then one row per landmark and frame. Columns (any order, case
  ignored): ``frame`` (0-based int), ``point`` (int id, the same set in every frame), ``x``, ``y`` and optionally
  ``z``; optional ``unit`` (``mm`` or ``px``, the same on every row), ``time_ms``, ``layer`` (endo/mid/epi or an
  int 0 = endocardium), ``sector``, ``slice``, ``segment``. ``mm`` = LPS world millimetres; ``px`` = (column,
  row) pixel indices of ``geometry`` (needed) on slice ``slice`` (default 0).
* JSON (:func:`read_landmarks_json`): ``{"unit": "mm"|"px", "landmarks": [{"frame", "point", "x", "y", ...}],
  "frame_times": [...], "reference_frame": 0, "es_frame": 7}`` (the same fields as the CSV; a bare list of records
  is accepted).
* HDF5 (:func:`read_landmarks_hdf5`, needs ``h5py``): one or more cases as an image array ``(cases, frames, H, W)``
  beside landmark coordinates ``(cases, frames, 2, N)`` or ``(cases, frames, N, 2)`` in pixels (x = column first),
  with optional pixel spacing and ED/ES indices; datasets are found by shape and name, or named by options.

The unit is always stated (column, field or ``unit=`` option); a file that does not state it is refused. Every
failure is a :class:`~cardiogen.errors.CardioGenInputError` naming the file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..data import LANDMARK_LAYERS, Geometry, ImageSeries, LandmarkSeries
from ..errors import CardioGenInputError, import_optional
from .sniff import check_size, input_errors, require_file

__all__ = ["read_landmarks", "read_landmarks_csv", "read_landmarks_json", "read_landmarks_hdf5",
           "landmarks_from_records", "is_landmarks_json", "read_tagging", "write_landmarks_json"]

_MAX_TEXT = 256 * 1024**2
_UNITS = ("mm", "px")


def _unit(value: Any, source: Any) -> str:
    u = str(value).strip().lower()
    u = {"pixel": "px", "pixels": "px", "millimetre": "mm", "millimeter": "mm", "millimetres": "mm"}.get(u, u)
    if u not in _UNITS:
        raise CardioGenInputError("landmark unit must be 'mm' or 'px'", source=source, expected=_UNITS, got=value)
    return u


def _layers(values: list, source: Any) -> tuple[list[str], tuple[str, ...]]:
    if all(isinstance(v, (int, np.integer)) or (isinstance(v, str) and v.strip().lstrip("-").isdigit())
           for v in values):
        ints = sorted({int(v) for v in values})
        if ints[0] < 0:
            raise CardioGenInputError("landmark layer numbers must be >= 0 (0 = endocardium)", source=source)
        if len(ints) <= 3 and ints == list(range(len(ints))):
            order = {1: ("mid",), 2: ("endo", "epi"), 3: LANDMARK_LAYERS}[len(ints)]
        else:
            order = tuple(f"layer{k}" for k in ints)
            order = ("endo",) + order[1:-1] + ("epi",) if len(order) > 1 else order
        names = dict(zip(ints, order))
        return [names[int(v)] for v in values], order
    names = [str(v).strip().lower() for v in values]
    extra = sorted(set(names) - set(LANDMARK_LAYERS))
    if extra:
        raise CardioGenInputError("unknown landmark layer", source=source, expected=LANDMARK_LAYERS, got=extra[:5])
    return names, tuple(lay for lay in LANDMARK_LAYERS if lay in set(names))


def _number(value: Any, name: str, source: Any, integer: bool = False) -> float:
    try:
        x = float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)
    except (TypeError, ValueError):
        raise CardioGenInputError(f"landmark field '{name}' is not a number", source=source, got=value) from None
    if not np.isfinite(x):
        raise CardioGenInputError(f"landmark field '{name}' is NaN/Inf", source=source, got=value)
    if integer and x != round(x):
        raise CardioGenInputError(f"landmark field '{name}' must be a whole number", source=source, got=value)
    return x


def landmarks_from_records(records: list[dict], *, source: Any = "landmarks", unit: str | None = None,
                           geometry: Geometry | None = None, frame_times: Any = None, reference_frame: int = 0,
                           es_frame: int | None = None) -> LandmarkSeries:
    """Records ``{"frame", "point", "x", "y"[, "z", "unit", "time_ms", "layer", "sector", "slice", "segment"]}``
    -> :class:`LandmarkSeries` (see the module docstring)."""
    if not records:
        raise CardioGenInputError("no landmarks in the file", source=source)
    recs = []
    for r in records:
        if not isinstance(r, dict):
            raise CardioGenInputError("landmark records must be objects with frame, point, x, y", source=source,
                                      got=type(r).__name__)
        recs.append({str(k).strip().lower(): v for k, v in r.items() if k is not None})
    missing = [c for c in ("frame", "point", "x", "y") if any(c not in r or r[c] in ("", None) for r in recs)]
    if missing:
        raise CardioGenInputError("landmark records lack required fields", source=source,
                                  expected="frame, point, x, y", got=f"missing {missing}")
    units = {str(r["unit"]).strip().lower() for r in recs if r.get("unit") not in (None, "")}
    if len(units) > 1:
        raise CardioGenInputError("landmark unit differs between rows", source=source, got=sorted(units))
    stated = units.pop() if units else None
    if unit is not None and stated is not None and _unit(unit, source) != _unit(stated, source):
        raise CardioGenInputError("the unit option contradicts the file", source=source, expected=stated, got=unit)
    if unit is None and stated is None:
        raise CardioGenInputError("landmark unit is not stated (a 'unit' column/field or the unit= option)",
                                  source=source, expected=_UNITS)
    u = _unit(unit if unit is not None else stated, source)
    if u == "px" and geometry is None:
        raise CardioGenInputError("pixel landmarks need the image geometry (geometry= or an image)", source=source)
    frames = [int(_number(r["frame"], "frame", source, True)) for r in recs]
    points = [int(_number(r["point"], "point", source, True)) for r in recs]
    fset, pset = sorted(set(frames)), sorted(set(points))
    if fset[0] < 0 or fset != list(range(fset[0], fset[0] + len(fset))):
        raise CardioGenInputError("landmark frames must be consecutive indices", source=source,
                                  got=f"{fset[:5]}{' ...' if len(fset) > 5 else ''}")
    nt, npnt = len(fset), len(pset)
    check_size(nt * npnt * 3, 8, source, "landmarks")
    if len(recs) != nt * npnt or len(set(zip(frames, points))) != len(recs):
        raise CardioGenInputError("every frame must hold the same landmarks once (mismatched frame/point counts)",
                                  source=source, expected=f"{nt} frames x {npnt} points = {nt * npnt} rows",
                                  got=f"{len(recs)} rows, {len(set(zip(frames, points)))} distinct")
    has_z = any(r.get("z") not in (None, "") for r in recs)
    xyz = np.zeros((nt, npnt, 3))
    f0, pidx = fset[0], {p: i for i, p in enumerate(pset)}
    per_point: dict[str, list] = {}
    times = np.full(nt, np.nan)
    for r, f, p in zip(recs, frames, points):
        c = [_number(r["x"], "x", source), _number(r["y"], "y", source),
             _number(r["z"], "z", source) if has_z else 0.0]
        xyz[f - f0, pidx[p]] = c
        if r.get("time_ms") not in (None, ""):
            times[f - f0] = _number(r["time_ms"], "time_ms", source)
        if f == f0:
            for key in ("layer", "sector", "slice", "segment"):
                if r.get(key) not in (None, ""):
                    per_point.setdefault(key, [None] * npnt)[pidx[p]] = r[key]
    labels: dict[str, Any] = {}
    order = LANDMARK_LAYERS
    for key, vals in per_point.items():
        if any(v is None for v in vals):
            raise CardioGenInputError(f"landmark label '{key}' is missing for some points", source=source)
        if key == "layer":
            labels[key], order = _layers(vals, source)
        else:
            labels[key] = [int(_number(v, key, source, True)) for v in vals]
    if u == "px":
        slc = np.asarray(labels.get("slice", np.zeros(npnt)), dtype=float)
        z_idx = xyz[..., 2] if has_z else np.broadcast_to(slc, (nt, npnt))
        idx = np.stack([xyz[..., 0], xyz[..., 1], z_idx], axis=-1)
        m = geometry.index_to_world()
        xyz = idx @ m[:3, :3].T + m[:3, 3]
    if frame_times is None and np.all(np.isfinite(times)):
        frame_times = times
    elif frame_times is None and np.any(np.isfinite(times)):
        raise CardioGenInputError("time_ms is given for some frames only", source=source)
    with input_errors(source, "landmarks"):
        return LandmarkSeries(xyz, labels=labels, layer_order=order, frame_times=frame_times, geometry=geometry,
                              reference_frame=reference_frame, es_frame=es_frame,
                              provenance={"reader": "cardiogen.io.landmarks_io", "source": str(source),
                                          "unit_in_file": u})


def _geometry(geometry: Any, image: Any, source: Any) -> Geometry | None:
    if image is not None:
        if not isinstance(image, ImageSeries):
            raise CardioGenInputError("image= must be an ImageSeries", source=source, got=type(image).__name__)
        return image.geometry
    if geometry is not None and not isinstance(geometry, Geometry):
        raise CardioGenInputError("geometry= must be a cardiogen.data.Geometry", source=source,
                                  got=type(geometry).__name__)
    return geometry


def _read_text(p: Path) -> str:
    if p.stat().st_size > _MAX_TEXT:
        raise CardioGenInputError("landmark file is too large", source=p, got=f"{p.stat().st_size} bytes")
    with input_errors(p, "landmark file"):
        return p.read_bytes().decode("utf-8-sig")


def read_landmarks_csv(path: str | os.PathLike, *, unit: str | None = None, geometry: Geometry | None = None,
                       image: ImageSeries | None = None, frame_times: Any = None, reference_frame: int = 0,
                       es_frame: int | None = None) -> LandmarkSeries:
    """Landmarks from a CSV table (module docstring); ``unit`` when the file has no ``unit`` column."""
    p = require_file(path, "landmark CSV")
    geo = _geometry(geometry, image, p)
    text = _read_text(p)
    with input_errors(p, "landmark CSV", extra=(csv.Error,)):
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            raise CardioGenInputError("landmark CSV is empty", source=p)
        cols = {str(c).strip().lower() for c in reader.fieldnames if c is not None}
        if not {"frame", "point", "x", "y"} <= cols:
            raise CardioGenInputError("landmark CSV lacks columns", source=p, expected="frame, point, x, y[, z]",
                                      got=sorted(cols)[:10])
        rows = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise CardioGenInputError("landmark CSV row has a different number of fields than the header",
                                          source=p, got=f"line {reader.line_num}")
            rows.append(row)
    return landmarks_from_records(rows, source=p, unit=unit, geometry=geo, frame_times=frame_times,
                                  reference_frame=reference_frame, es_frame=es_frame)


def read_landmarks_json(path: str | os.PathLike, *, unit: str | None = None, geometry: Geometry | None = None,
                        image: ImageSeries | None = None) -> LandmarkSeries:
    """Landmarks from JSON (module docstring)."""
    p = require_file(path, "landmark JSON")
    geo = _geometry(geometry, image, p)
    text = _read_text(p)
    with input_errors(p, "landmark JSON", extra=(json.JSONDecodeError, RecursionError)):
        doc = json.loads(text)
    if isinstance(doc, list):
        doc = {"landmarks": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("landmarks"), list):
        raise CardioGenInputError("landmark JSON needs a 'landmarks' list of records", source=p,
                                  got=type(doc).__name__ if not isinstance(doc, dict) else sorted(doc)[:10])
    if unit is None and doc.get("unit") is not None:
        unit = doc["unit"]
    opts = {}
    for key in ("reference_frame", "es_frame"):
        if doc.get(key) is not None:
            opts[key] = int(_number(doc[key], key, p, True))
    return landmarks_from_records(doc["landmarks"], source=p, unit=unit, geometry=geo,
                                  frame_times=doc.get("frame_times"), **opts)


# ----------------------------------------------------------------------------------------------------------------
# HDF5
# ----------------------------------------------------------------------------------------------------------------
def _h5_datasets(h5: Any, fh: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    fh.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5.Dataset) else None)
    return found


def _pick(found: dict, key: str | None, what: str, p: Path, test) -> str | None:
    if key is not None:
        if key not in found:
            raise CardioGenInputError(f"no dataset '{key}' for the {what}", source=p, expected=sorted(found)[:20])
        return key
    cands = [k for k, d in found.items() if test(k, d)]
    if len(cands) > 1:
        raise CardioGenInputError(f"several datasets could be the {what}; name one with an option", source=p,
                                  got=cands[:10])
    return cands[0] if cands else None


def read_landmarks_hdf5(path: str | os.PathLike, *, image_key: str | None = None,
                        landmarks_key: str | None = None, spacing_key: str | None = None,
                        ed_key: str | None = None, es_key: str | None = None, case: int | None = None,
                        pixel_spacing_mm: Any = None) -> list[tuple[ImageSeries, LandmarkSeries]]:
    """Cases of an HDF5 file as ``[(ImageSeries modality "tagging", LandmarkSeries), ...]``.

    Datasets are found by shape: the image ``(cases, frames, H, W)``, the landmarks ``(cases, frames, 2, N)`` or
    ``(cases, frames, N, 2)`` (pixel x = column, y = row); spacing (``(cases, 2)`` or ``(2,)`` mm, name containing
    "spacing" or "pixel"), ED and ES indices (``(cases,)``, names "ed"/"es"). ``*_key`` options name them; ``case``
    reads one case; ``pixel_spacing_mm`` overrides / replaces a missing spacing (default 1 mm, recorded).
    """
    p = require_file(path, "HDF5 file")
    h5 = import_optional("h5py", package="h5py", feature="reading HDF5 landmark files")
    with input_errors(p, "HDF5 file", extra=(h5.h5e.HDF5ExtError,) if hasattr(h5, "h5e") and hasattr(
            h5.h5e, "HDF5ExtError") else ()):
        with h5.File(p, "r") as fh:
            found = _h5_datasets(h5, fh)
            img_k = _pick(found, image_key, "image array (cases, frames, H, W)", p,
                          lambda k, d: d.ndim == 4 and d.shape[2] > 4 and d.shape[3] > 4)
            if img_k is None:
                raise CardioGenInputError("no image array (cases, frames, H, W) in the HDF5 file", source=p,
                                          got={k: d.shape for k, d in list(found.items())[:10]})
            img_d = found[img_k]
            nc, nt = img_d.shape[:2]
            lm_k = _pick(found, landmarks_key, "landmarks (cases, frames, 2, N)", p,
                         lambda k, d: k != img_k and d.ndim == 4 and d.shape[:2] == (nc, nt)
                         and 2 in (d.shape[2], d.shape[3]))
            if lm_k is None:
                raise CardioGenInputError("no landmark array (cases, frames, 2, N) matching the images", source=p,
                                          expected=f"({nc}, {nt}, 2, N) or ({nc}, {nt}, N, 2)",
                                          got={k: d.shape for k, d in list(found.items())[:10]})
            lm_d = found[lm_k]
            if lm_d.ndim != 4 or lm_d.shape[:2] != (nc, nt) or 2 not in lm_d.shape[2:]:
                raise CardioGenInputError("landmark array does not match the images", source=p,
                                          expected=f"({nc}, {nt}, 2, N)", got=lm_d.shape)
            check_size(int(np.prod(img_d.shape)), 4, p, "HDF5 image")
            name_is = lambda pat: (lambda k, d: re.search(pat, k.split("/")[-1], re.I) is not None  # noqa: E731
                                   and d.ndim <= 2 and d.size <= 2 * max(nc, 1))
            sp_k = _pick(found, spacing_key, "pixel spacing", p, name_is(r"spacing|pixel_?size|pixdim"))
            ed_k = _pick(found, ed_key, "ED index", p, name_is(r"(^|_)ed($|_|_frame|_index)"))
            es_k = _pick(found, es_key, "ES index", p, name_is(r"(^|_)es($|_|_frame|_index)"))
            cases = range(nc) if case is None else [int(case)]
            if case is not None and not 0 <= int(case) < nc:
                raise CardioGenInputError("case index out of range", source=p, expected=f"0..{nc - 1}", got=case)
            spacing = None if sp_k is None else np.asarray(found[sp_k][()], dtype=float)
            ed = None if ed_k is None else np.asarray(found[ed_k][()]).reshape(-1)
            es = None if es_k is None else np.asarray(found[es_k][()]).reshape(-1)
            out = []
            for c in cases:
                img = np.asarray(img_d[c], dtype=np.float32)
                lm = np.asarray(lm_d[c], dtype=float)
                if lm.shape[1] == 2 and lm.shape[2] != 2:
                    lm = np.swapaxes(lm, 1, 2)
                elif lm.shape[1] == 2 and lm.shape[2] == 2:
                    lm = np.swapaxes(lm, 1, 2)  # (frames, 2, N) is the documented primary layout
                if pixel_spacing_mm is not None:
                    sp = np.broadcast_to(np.asarray(pixel_spacing_mm, dtype=float).reshape(-1), (2,))
                elif spacing is not None:
                    sp = spacing.reshape(-1)[:2] if spacing.ndim == 1 else spacing[c].reshape(-1)[:2]
                    if sp.size == 1:
                        sp = np.repeat(sp, 2)
                else:
                    sp = np.array([1.0, 1.0])
                geo = Geometry(spacing=(float(sp[0]), float(sp[1]), 1.0))
                ed_c = 0 if ed is None else int(ed[c] if ed.size > 1 else ed[0])
                es_c = None if es is None else int(es[c] if es.size > 1 else es[0])
                prov = {"reader": "cardiogen.io.landmarks_io.read_landmarks_hdf5", "source": str(p), "case": c,
                        "datasets": {"image": img_k, "landmarks": lm_k, "spacing": sp_k, "ed": ed_k, "es": es_k},
                        "spacing_assumed": sp_k is None and pixel_spacing_mm is None}
                image = ImageSeries(img[:, None], geometry=geo, modality="tagging", provenance=dict(prov),
                                    description=f"tagging case {c}", metadata={"ed_frame": ed_c, "es_frame": es_c})
                pts = LandmarkSeries.pixels_to_mm(lm, geo)
                out.append((image, LandmarkSeries(pts, geometry=geo, reference_frame=ed_c, es_frame=es_c,
                                                  provenance=prov)))
    return out


def read_tagging(path: str | os.PathLike, **options: Any) -> ImageSeries:
    """A tagged image series (DICOM folder/file grouped by series and trigger time, NIfTI, NRRD / .seq.nrrd) via
    :func:`cardiogen.io.load` with ``modality="tagging"``."""
    from . import load  # noqa: PLC0415

    options.setdefault("modality", "tagging")
    series = load(path, kind="image", **options)
    if not isinstance(series, ImageSeries):
        raise CardioGenInputError("not an image series", source=path, got=type(series).__name__)
    if series.modality != "tagging":
        series = series.with_array(series.array, modality="tagging")
    return series


_HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")


def is_landmarks_json(path: str | os.PathLike) -> bool:
    """True when ``path`` is a JSON file (under 64 MB) whose top level is a ``landmarks`` list (or a list of records
    with ``frame`` and ``point``)."""
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size > 64 * 1024**2:
            return False
        doc = json.loads(p.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return False
    if isinstance(doc, dict):
        return isinstance(doc.get("landmarks"), list)
    return isinstance(doc, list) and bool(doc) and isinstance(doc[0], dict) and {"frame", "point"} <= set(doc[0])


def read_landmarks(path: str | os.PathLike, **options: Any) -> Any:
    """Landmarks by file type: ``.csv`` / ``.json`` -> :class:`LandmarkSeries`; HDF5 (``.h5``, ``.hdf5`` or the
    HDF5 signature) -> list of ``(ImageSeries, LandmarkSeries)`` per case. ``options`` go to the reader."""
    from . import _call  # noqa: PLC0415 (options a reader does not take: a clear error)

    p = require_file(path, "landmark file")
    suffix = p.suffix.lower()
    with input_errors(p, "landmark file"):
        with open(p, "rb") as fh:
            head = fh.read(8)
    if suffix in _HDF5_SUFFIXES or head == b"\x89HDF\r\n\x1a\n":
        return _call(read_landmarks_hdf5, p, options)
    if suffix == ".json":
        return _call(read_landmarks_json, p, options)
    if suffix in (".csv", ".txt", ".tsv"):
        return _call(read_landmarks_csv, p, options)
    raise CardioGenInputError("unknown landmark file type", source=p,
                              expected=".csv, .json or HDF5 (.h5/.hdf5)", got=suffix or "(no extension)")


def write_landmarks_json(series: LandmarkSeries, path: str | os.PathLike) -> Path:
    """Write landmarks as the JSON :func:`read_landmarks_json` reads (LPS mm, one record per frame and point, with
    the layer/sector/slice/segment labels), plus ``synthetic``, ``description`` and ``provenance``; written atomically
    (nothing half-written is left)."""
    p = Path(path)
    labels = {k: [v.item() if hasattr(v, "item") else v for v in vals] for k, vals in series.labels.items()}
    records = []
    for f in range(series.n_frames):
        for i in range(series.n_points):
            x, y, z = (float(v) for v in series.points[f, i])
            rec = {"frame": f, "point": i, "x": x, "y": y, "z": z, "time_ms": float(series.frame_times[f])}
            rec.update({k: vals[i] for k, vals in labels.items()})
            records.append(rec)
    doc = {"unit": "mm", "landmarks": records, "reference_frame": series.reference_frame,
           "es_frame": series.es_frame, "layer_order": list(series.layer_order), "synthetic": series.synthetic,
           "description": series.description, "provenance": series.provenance}
    from .atomic import atomic_path

    with atomic_path(p) as tmp:
        Path(tmp).write_text(json.dumps(doc, default=str), encoding="utf-8")
    return p
