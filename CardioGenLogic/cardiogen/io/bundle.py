"""JSON manifests that tie several image files into one object.

A DENSE bundle ``NAME.dense.json`` keeps a :class:`~cardiogen.data.DenseSeries` as files Slicer opens on their
own (magnitude and one phase ``.seq.nrrd`` per encoding direction) plus the facts that no image format holds
(encoding directions, ke)::

    {"cardiogen": "dense", "version": 1, "encodings": ["x", "y"], "ke_cycles_per_mm": [0.1, 0.1],
     "magnitude": "NAME_magnitude.seq.nrrd", "phase": {"x": "NAME_phase_x.seq.nrrd", ...},
     "segmentation": "NAME_contours.seg.nrrd" | null}
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..data import DenseSeries
from ..errors import CardioGenInputError
from .atomic import atomic_path

DENSE_SUFFIX = ".dense.json"


def _stem(path: Path) -> str:
    name = path.name
    return name[: -len(DENSE_SUFFIX)] if name.endswith(DENSE_SUFFIX) else path.stem


def write_dense_bundle(dense: DenseSeries, path: str | os.PathLike) -> Path:
    """Write a DENSE bundle (manifest last, so a crash never leaves a manifest pointing at missing files)."""
    from .nrrd_io import write_nrrd, write_segmentation_nrrd

    path = Path(path)
    stem = _stem(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    mag_name = f"{stem}_magnitude.seq.nrrd"
    write_nrrd(dense.magnitude, folder / mag_name)
    phase_files = {}
    for i, enc in enumerate(dense.encodings):
        name = f"{stem}_phase_{enc}.seq.nrrd"
        phase = dense.magnitude.with_array(dense.phase[i], modality="dense_phase",
                                           description=f"{dense.magnitude.description} phase {enc} (rad)".strip())
        write_nrrd(phase, folder / name)
        phase_files[enc] = name
    seg_name = None
    if dense.segmentation is not None:
        # one frame: a Slicer segmentation; several frames: a label-map sequence (Slicer reads .seg.nrrd layers)
        seg_name = f"{stem}_contours.{'seg' if dense.segmentation.n_frames == 1 else 'seq'}.nrrd"
        write_segmentation_nrrd(dense.segmentation, folder / seg_name)
    manifest = {
        "cardiogen": "dense",
        "version": 1,
        "encodings": list(dense.encodings),
        "ke_cycles_per_mm": [float(k) for k in dense.ke],
        "magnitude": mag_name,
        "phase": phase_files,
        "segmentation": seg_name,
        "metadata": _jsonable(dense.metadata),
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2))
    return path


def is_bundle(path: str | os.PathLike) -> str | None:
    """The bundle kind (``"dense"``, ``"case"``) of a JSON manifest, else None."""
    path = Path(path)
    if path.suffix.lower() != ".json" or not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
        data = json.loads(head.decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    kind = data.get("cardiogen") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def read_dense_bundle(path: str | os.PathLike) -> DenseSeries:
    """Read a DENSE bundle written by :func:`write_dense_bundle`."""
    from .nrrd_io import read_nrrd, read_segmentation_nrrd

    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CardioGenInputError(f"cannot read DENSE manifest: {exc}", source=path) from exc
    if not isinstance(manifest, dict) or manifest.get("cardiogen") != "dense":
        raise CardioGenInputError("not a CardioGen DENSE manifest", source=path, expected='"cardiogen": "dense"')
    encodings = manifest.get("encodings")
    phase_files = manifest.get("phase")
    if not encodings or not isinstance(phase_files, dict) or not phase_files:
        raise CardioGenInputError("DENSE file has no phase images", source=path)
    ke = manifest.get("ke_cycles_per_mm")
    if ke is None:
        raise CardioGenInputError("DENSE manifest has no encoding frequency (ke_cycles_per_mm)", source=path)
    folder = path.parent

    def _file(name: object) -> Path:
        if not isinstance(name, str) or not (folder / name).is_file():
            raise CardioGenInputError("DENSE manifest names a missing file", source=path, got=name)
        return folder / name

    magnitude = read_nrrd(_file(manifest.get("magnitude")))
    magnitude = magnitude.with_array(magnitude.array, modality="dense_mag")
    try:
        phases = np.stack([read_nrrd(_file(phase_files.get(e))).array for e in encodings])
    except ValueError as exc:
        raise CardioGenInputError(f"DENSE phase images differ in shape: {exc}", source=path) from exc
    seg = read_segmentation_nrrd(_file(manifest["segmentation"])) if manifest.get("segmentation") else None
    try:
        return DenseSeries(magnitude=magnitude, phase=phases, encodings=tuple(encodings), ke=ke,
                           segmentation=seg, metadata=dict(manifest.get("metadata") or {}))
    except CardioGenInputError as exc:
        raise exc.with_source(path) from None


def _jsonable(value):
    """Convert numpy values inside dicts/lists to JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
