"""Write a phantom case (every modality plus its ground truth) as files that Slicer and ``cardiogen info`` open.

Layout of ``OUT/``::

    case.json                      manifest: what each file is, config, demographics, phenotypes
    cine.seq.nrrd                  bSSFP cine (t, z, y, x) as a Slicer sequence (index "time", unit "ms")
    tagging.seq.nrrd               SPAMM tagging
    dense.dense.json               DENSE bundle -> dense_magnitude.seq.nrrd, dense_phase_x/_y.seq.nrrd
    ct.seq.nrrd                    4D CT in HU (phases over the cycle)
    ecg.csv                        12-lead ECG, mV, first column time_ms (0 = R wave = end-diastole)
    truth/segmentation.seq.nrrd    label map per MR frame (1 LV blood, 2 LV myo, 3 RV blood, 4 RV myo)
    truth/segmentation_ed.seg.nrrd the end-diastolic labels as a Slicer segmentation
    truth/ct_segmentation.seq.nrrd label map per CT phase
    truth/displacement.seq.nrrd    Lagrangian displacement from ED (vector, mm, LPS components)
    truth/strain_<component>.seq.nrrd  Green-Lagrange strain maps
    truth/strain_curves.csv        global strain curves over the cycle
    truth/phenotypes.json, truth/demographics.json
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..progress import report
from .atomic import atomic_path
from .bundle import _jsonable


def _asdict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    return _jsonable(obj)


def save_case(case: Any, out_dir: str | os.PathLike,
              progress: Optional[Callable[[float, str], None]] = None) -> dict[str, Path]:
    """Write ``case`` (a :class:`cardiogen.phantom.PhantomCase`) into ``out_dir``; returns name -> path.

    Each file is written atomically; the manifest ``case.json`` is written last.
    """
    from . import save
    from .bundle import write_dense_bundle
    from .nrrd_io import write_displacement_nrrd, write_segmentation_nrrd

    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    truth = case.truth
    jobs: list[tuple[str, Callable[[], Path]]] = []
    for name in ("cine", "tagging", "ct"):
        series = getattr(case, name, None)
        if series is not None:
            jobs.append((name, lambda s=series, n=name: save(s, out / f"{n}.seq.nrrd")))
    if getattr(case, "dense", None) is not None:
        jobs.append(("dense", lambda: write_dense_bundle(case.dense, out / "dense.dense.json")))
    if getattr(case, "ecg", None) is not None:
        jobs.append(("ecg", lambda: save(case.ecg, out / "ecg.csv")))
    seg = getattr(truth, "masks", None)
    if seg is not None:
        jobs.append(("truth_segmentation", lambda: write_segmentation_nrrd(seg, out / "truth" / "segmentation.seq.nrrd")))
        ed = dataclasses.replace(seg, labels=seg.labels[:1], frame_times=seg.frame_times[:1],
                                 annotated=seg.annotated[:1])
        jobs.append(("truth_segmentation_ed",
                     lambda: write_segmentation_nrrd(ed, out / "truth" / "segmentation_ed.seg.nrrd")))
    ct_seg = getattr(truth, "ct_masks", None)
    if ct_seg is not None:
        jobs.append(("truth_ct_segmentation",
                     lambda: write_segmentation_nrrd(ct_seg, out / "truth" / "ct_segmentation.seq.nrrd")))
    disp = getattr(truth, "displacement", None)
    if disp is not None:
        jobs.append(("truth_displacement",
                     lambda: write_displacement_nrrd(disp, out / "truth" / "displacement.seq.nrrd")))
    strain = getattr(truth, "strain", None)
    if strain is not None:
        from ..data import ImageSeries

        for comp, arr in strain.components.items():
            img = ImageSeries(arr, strain.geometry, frame_times=strain.frame_times, modality="strain",
                              synthetic=True, description=f"PHANTOM truth Green-Lagrange {comp} strain")
            jobs.append((f"truth_strain_{comp}", lambda i=img, c=comp: save(i, out / "truth" / f"strain_{c}.seq.nrrd")))
        jobs.append(("truth_strain_curves", lambda: _write_strain_curves(strain, out / "truth" / "strain_curves.csv")))
    jobs.append(("truth_phenotypes", lambda: _write_json(out / "truth" / "phenotypes.json", case.phenotypes)))
    jobs.append(("truth_demographics", lambda: _write_json(out / "truth" / "demographics.json", case.demographics)))

    for i, (name, job) in enumerate(jobs):
        report(progress, i / (len(jobs) + 1), f"writing {name}")
        files[name] = Path(job())
    manifest = {
        "cardiogen": "case",
        "version": 1,
        "files": {k: str(v.relative_to(out)) for k, v in files.items()},
        "config": _asdict(case.config),
        "demographics": _asdict(case.demographics),
        "phenotypes": _asdict(case.phenotypes),
    }
    files["manifest"] = _write_json(out / "case.json", manifest)
    report(progress, 1.0, "done")
    return files


def _write_json(path: Path, obj: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_asdict(obj), indent=2))
    return path


def _write_strain_curves(strain: Any, path: Path) -> Path:
    comps = list(strain.components)
    curves = np.stack([strain.global_curve(c) for c in comps], axis=1)
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["time_ms"] + [f"global_{c}" for c in comps])
            for t, row in zip(strain.frame_times, curves):
                writer.writerow([f"{t:.3f}"] + [f"{v:.6f}" for v in row])
    return path
