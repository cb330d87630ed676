"""Clinical LV/RV measurements from a segmentation: volumes, EF, stroke volume, LV mass, sphericity.

Method (documented so that numbers can be compared):

* **Volumes** by slice summation (the "Simpson's rule" of cardiac MR): for each frame, the voxel count of a label on
  every *annotated* slice (``seg.annotated[t, z]``) times the voxel volume ``sx · sy · sz``, where ``sz`` is the
  TRUE slice spacing of the geometry (centre-to-centre, measured from the slice positions by the DICOM reader;
  not SliceThickness). Slices that are not annotated count as unknown, not as empty.
* **ED / ES**: the frames of largest / smallest LV blood-pool volume among the frames where the LV blood pool is
  annotated (unless given). At least two such frames are needed.
* **EF** = (EDV − ESV) / EDV · 100 %; **SV** = EDV − ESV; **CO** = SV · heart rate when the rate is known.
* **LV mass** = LV myocardial volume at ED × 1.05 g/mL.
* **RV** EDV/ESV/EF from the RV blood-pool label when it is present: at the LV's ED/ES frames when the RV is
  annotated there, else at the RV's own largest/smallest-volume frames.
* **Sphericity index** at ED = short-axis diameter / long-axis length of the LV cavity (both mm):

  - short-axis stack (slice spacing > 1.5 × in-plane pixel size): long axis length L = number of slices spanned by
    the cavity (first to last slice holding cavity voxels, inclusive) × slice spacing, i.e. the cavity's extent
    along the slice normal; short-axis diameter D = 2·sqrt(A_max / π) with A_max the largest cavity slice area;
  - near-isotropic 3D volumes: L = extent of the cavity along its first principal axis (voxel centres ± half a
    voxel), D = 2·sqrt(A_max / π) with A_max the largest cross-section perpendicular to that axis.

  SI = D / L; 1 for a sphere-like cavity, ~0.5 for a normal elongated LV, higher in dilated hearts.
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
import numpy as np

from .data import Segmentation
from .errors import CardioGenInputError

__all__ = ["Measurements", "measure_segmentation", "measure_files", "MYOCARDIAL_DENSITY_G_PER_ML"]

#: Density used for LV mass (g/mL).
MYOCARDIAL_DENSITY_G_PER_ML = 1.05

_LV_BLOOD = ("LV blood pool", "LV", "left ventricle", "LV cavity")
_LV_MYO = ("LV myocardium", "myocardium", "MYO")
_RV_BLOOD = ("RV blood pool", "RV", "right ventricle", "RV cavity")


@dataclass
class Measurements:
    """Result of :func:`measure_segmentation` (volumes mL, mass g, fractions %, lengths mm, times ms)."""

    lv_edv_ml: float
    lv_esv_ml: float
    lv_sv_ml: float
    lv_ef_pct: float
    ed_frame: int
    es_frame: int
    ed_time_ms: float
    es_time_ms: float
    lv_mass_g: float | None = None
    lv_myocardial_volume_ml: float | None = None
    rv_edv_ml: float | None = None
    rv_esv_ml: float | None = None
    rv_sv_ml: float | None = None
    rv_ef_pct: float | None = None
    rv_ed_frame: int | None = None
    rv_es_frame: int | None = None
    sphericity_index: float | None = None
    lv_long_axis_mm: float | None = None
    lv_short_axis_diameter_mm: float | None = None
    heart_rate_bpm: float | None = None
    cardiac_output_l_min: float | None = None
    slice_spacing_mm: float = 0.0
    n_slices_ed: int = 0
    n_slices_es: int = 0
    lv_volume_curve_ml: list = field(default_factory=list)  # per frame; None where not annotated
    method: str = "slice summation (Simpson) over annotated slices, true slice spacing"
    notes: list = field(default_factory=list)
    synthetic: bool = False

    def as_dict(self) -> dict:
        """Plain JSON-friendly dict (floats, ints, lists, None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, (np.floating, np.integer)):
                out[key] = value.item()
        return out

    def format_table(self) -> str:
        """Human-readable two-column table."""
        def num(value: float | None, fmt: str = "{:.1f}") -> str:
            return "n/a" if value is None else fmt.format(value)

        rows = [
            ("LV EDV", f"{num(self.lv_edv_ml)} mL (frame {self.ed_frame}, {self.ed_time_ms:.0f} ms)"),
            ("LV ESV", f"{num(self.lv_esv_ml)} mL (frame {self.es_frame}, {self.es_time_ms:.0f} ms)"),
            ("LV SV", f"{num(self.lv_sv_ml)} mL"),
            ("LV EF", f"{num(self.lv_ef_pct)} %"),
            ("LV mass", f"{num(self.lv_mass_g)} g" + (f" (myocardium {num(self.lv_myocardial_volume_ml)} mL at ED, "
                                                      f"{MYOCARDIAL_DENSITY_G_PER_ML} g/mL)"
                                                      if self.lv_mass_g is not None else "")),
        ]
        if self.rv_edv_ml is not None:
            rows += [("RV EDV", f"{num(self.rv_edv_ml)} mL"), ("RV ESV", f"{num(self.rv_esv_ml)} mL"),
                     ("RV EF", f"{num(self.rv_ef_pct)} %")]
        rows.append(("Sphericity index", num(self.sphericity_index, "{:.2f}")
                     + (f" (D {self.lv_short_axis_diameter_mm:.1f} mm / L {self.lv_long_axis_mm:.1f} mm)"
                        if self.sphericity_index is not None else "")))
        if self.heart_rate_bpm is not None:
            rows.append(("Heart rate", f"{self.heart_rate_bpm:.0f} bpm"))
        if self.cardiac_output_l_min is not None:
            rows.append(("Cardiac output", f"{self.cardiac_output_l_min:.2f} L/min"))
        rows.append(("Slices (ED/ES)", f"{self.n_slices_ed}/{self.n_slices_es} annotated, "
                                       f"spacing {self.slice_spacing_mm:.2f} mm"))
        rows.append(("Method", self.method))
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        if self.synthetic:
            lines.insert(0, "SYNTHETIC segmentation")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _label_value(seg: Segmentation, names: tuple[str, ...]) -> int | None:
    lowered = {info.name.lower(): value for value, info in seg.label_table.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _volumes(seg: Segmentation, value: int) -> tuple[np.ndarray, np.ndarray]:
    """(volume per frame mL with NaN where the label is not annotated, per-(t, z) voxel counts)."""
    counts = np.count_nonzero(seg.labels == value, axis=(2, 3)).astype(float)  # (t, z)
    counts[~seg.annotated] = 0.0
    voxel_ml = seg.geometry.voxel_volume_ml()
    vol = counts.sum(axis=1) * voxel_ml
    present = (counts > 0).any(axis=1)
    vol[~present] = np.nan
    return vol, counts


def _check_frame(value: int | None, n: int, name: str) -> int | None:
    if value is None:
        return None
    try:
        index = int(value)
    except (TypeError, ValueError) as exc:
        raise CardioGenInputError(f"{name} must be a frame index", got=value) from exc
    if index < 0:
        index += n
    if not 0 <= index < n:
        raise CardioGenInputError(f"{name} out of range", expected=f"0..{n - 1}", got=value)
    return index


def _sphericity(seg: Segmentation, frame: int, value: int) -> tuple[float, float, float] | None:
    """(SI, D mm, L mm) of the cavity at ``frame``; None when it cannot be computed."""
    mask = seg.labels[frame] == value
    mask[~seg.annotated[frame]] = False
    if not mask.any():
        return None
    sx, sy, sz = seg.geometry.spacing
    if sz > 1.5 * max(sx, sy):  # short-axis stack
        slices = np.nonzero(mask.any(axis=(1, 2)))[0]
        length = (slices.max() - slices.min() + 1) * sz
        area_max = np.count_nonzero(mask, axis=(1, 2)).max() * sx * sy
    else:  # 3D: principal axis of the cavity
        idx = np.argwhere(mask)[:, ::-1].astype(float)  # (i, j, k) = (x, y, z) indices
        m = seg.geometry.direction @ np.diag(seg.geometry.spacing)
        pts = idx @ m.T
        if len(pts) < 4:
            return None
        centred = pts - pts.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        axis = vt[0]
        proj = centred @ axis
        half_voxel = 0.5 * float(np.abs(m.T @ axis).sum())
        length = float(proj.max() - proj.min()) + 2 * half_voxel
        slab = float(min(seg.geometry.spacing))
        bins = np.floor((proj - proj.min()) / slab).astype(int)
        area_max = np.bincount(bins).max() * seg.geometry.voxel_volume_ml() * 1000.0 / slab
    if length <= 0:
        return None
    diameter = 2.0 * math.sqrt(area_max / math.pi)
    return diameter / length, diameter, float(length)


def measure_segmentation(seg: Segmentation, ed_frame: int | None = None, es_frame: int | None = None, *,
                         heart_rate_bpm: float | None = None) -> Measurements:
    """LV (and RV) volumes, EF, SV, LV mass and sphericity of a segmentation (see the module docstring).

    Args:
        seg: label map ``(t, z, y, x)`` with ``annotated`` flags and a label table naming "LV blood pool"
            (and optionally "LV myocardium", "RV blood pool").
        ed_frame, es_frame: frame indices; default: largest / smallest LV blood-pool volume.
        heart_rate_bpm: optional, for cardiac output.

    Raises:
        CardioGenInputError: no LV blood-pool label, fewer than 2 frames with an annotated LV blood pool, or a
            given ED/ES frame without an annotated LV blood pool.
    """
    if not isinstance(seg, Segmentation):
        raise CardioGenInputError("measure_segmentation needs a Segmentation", got=type(seg).__name__)
    lv = _label_value(seg, _LV_BLOOD)
    if lv is None:
        raise CardioGenInputError("segmentation has no 'LV blood pool' label",
                                  expected="a label named 'LV blood pool'",
                                  got=[i.name for i in seg.label_table.values()])
    n = seg.n_frames
    lv_vol, lv_counts = _volumes(seg, lv)
    frames = np.nonzero(np.isfinite(lv_vol))[0]
    if frames.size < 2:
        raise CardioGenInputError("the LV blood pool must be annotated on at least 2 frames to measure EF",
                                  expected=">= 2 frames", got=f"{frames.size} frame(s)")
    ed = _check_frame(ed_frame, n, "ed_frame")
    es = _check_frame(es_frame, n, "es_frame")
    for name, f in (("ed_frame", ed), ("es_frame", es)):
        if f is not None and not np.isfinite(lv_vol[f]):
            raise CardioGenInputError(f"{name} has no annotated LV blood pool", expected=frames.tolist(), got=f)
    ed = int(frames[np.argmax(lv_vol[frames])]) if ed is None else ed
    es = int(frames[np.argmin(lv_vol[frames])]) if es is None else es
    notes = []
    edv, esv = float(lv_vol[ed]), float(lv_vol[es])
    if edv <= 0:
        raise CardioGenInputError("LV end-diastolic volume is 0")
    if edv < esv:
        notes.append("ED volume is smaller than ES volume (check ed_frame/es_frame)")
    lv_slices = lv_counts > 0
    if not np.array_equal(seg.annotated[ed], seg.annotated[es]):
        notes.append("ED and ES frames are annotated on different slices")
    times = seg.frame_times
    result = Measurements(
        lv_edv_ml=edv, lv_esv_ml=esv, lv_sv_ml=edv - esv, lv_ef_pct=(edv - esv) / edv * 100.0,
        ed_frame=ed, es_frame=es, ed_time_ms=float(times[ed]), es_time_ms=float(times[es]),
        slice_spacing_mm=float(seg.geometry.spacing[2]),
        n_slices_ed=int(lv_slices[ed].sum()), n_slices_es=int(lv_slices[es].sum()),
        lv_volume_curve_ml=[None if not np.isfinite(v) else float(v) for v in lv_vol],
        notes=notes, synthetic=bool(seg.synthetic),
    )
    myo = _label_value(seg, _LV_MYO)
    if myo is not None:
        myo_vol, _ = _volumes(seg, myo)
        if np.isfinite(myo_vol[ed]):
            result.lv_myocardial_volume_ml = float(myo_vol[ed])
            result.lv_mass_g = float(myo_vol[ed]) * MYOCARDIAL_DENSITY_G_PER_ML
        else:
            notes.append("LV myocardium not annotated at ED: no LV mass")
    rv = _label_value(seg, _RV_BLOOD)
    if rv is not None:
        rv_vol, _ = _volumes(seg, rv)
        rv_frames = np.nonzero(np.isfinite(rv_vol))[0]
        if rv_frames.size >= 2:
            if np.isfinite(rv_vol[ed]) and np.isfinite(rv_vol[es]):
                red, res = ed, es
            else:
                red = int(rv_frames[np.argmax(rv_vol[rv_frames])])
                res = int(rv_frames[np.argmin(rv_vol[rv_frames])])
            result.rv_edv_ml, result.rv_esv_ml = float(rv_vol[red]), float(rv_vol[res])
            result.rv_sv_ml = result.rv_edv_ml - result.rv_esv_ml
            result.rv_ef_pct = result.rv_sv_ml / result.rv_edv_ml * 100.0 if result.rv_edv_ml > 0 else None
            result.rv_ed_frame, result.rv_es_frame = red, res
        elif rv_frames.size:
            notes.append("RV blood pool annotated on fewer than 2 frames: no RV volumes")
    sph = _sphericity(seg, ed, lv)
    if sph is not None:
        result.sphericity_index, result.lv_short_axis_diameter_mm, result.lv_long_axis_mm = sph
    if heart_rate_bpm is not None and np.isfinite(heart_rate_bpm) and heart_rate_bpm > 0:
        result.heart_rate_bpm = float(heart_rate_bpm)
        result.cardiac_output_l_min = result.lv_sv_ml * float(heart_rate_bpm) / 1000.0
    return result


def _read_label_file(path: Path) -> Segmentation:
    """A label map file (NRRD / .seg.nrrd / .seq.nrrd, NIfTI ...) as a Segmentation."""
    from .io import sniff  # noqa: PLC0415 - lazy: keeps ``import cardiogen.measure`` light

    kind = sniff.detect_format(path)
    if kind == "nrrd":
        from .io import nrrd_io  # noqa: PLC0415

        return nrrd_io.read_segmentation_nrrd(path)
    if kind == "nifti":
        return _read_label_image_sitk(path)
    raise CardioGenInputError("measure needs a segmentation file (label map NRRD / NIfTI) or an image series with "
                              "--contours", source=path, got=kind)


def _read_label_image_sitk(path: Path) -> Segmentation:
    from .data import STANDARD_LABELS, Geometry, LabelInfo  # noqa: PLC0415

    try:
        import SimpleITK as sitk  # noqa: PLC0415

        image = sitk.ReadImage(str(path))
        array = sitk.GetArrayFromImage(image)
        dim = image.GetDimension()
        spacing = image.GetSpacing()[:3]
        origin = image.GetOrigin()[:3]
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(dim, dim)[:3, :3]
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is an input error naming the file
        raise CardioGenInputError(f"cannot read label image: {type(exc).__name__}: {exc}", source=path) from exc
    if array.ndim not in (3, 4):
        raise CardioGenInputError("label image must be 3D or 4D", source=path, got=f"shape {array.shape}")
    if array.dtype.kind == "f" and (not np.all(np.isfinite(array)) or np.any(array != np.round(array))):
        raise CardioGenInputError("label image must hold whole numbers", source=path)
    values = sorted(set(np.unique(array).tolist()) - {0})
    table = {int(v): STANDARD_LABELS.get(int(v), LabelInfo(f"label {int(v)}")) for v in values}
    try:
        return Segmentation(array, label_table=table, geometry=Geometry(spacing, origin, direction),
                            provenance={"source": str(path)})
    except CardioGenInputError as exc:
        raise exc.with_source(path) from None


def measure_files(series_path: str | os.PathLike, contours_dir: str | os.PathLike | None = None) -> Measurements:
    """Measure from files (the ``cardiogen measure SERIES [--contours DIR]`` command).

    Args:
        series_path: with ``contours_dir``: the DICOM cine series (folder / files) the contours were drawn on;
            without: a segmentation file (label-map NRRD, Slicer .seg.nrrd, label-map sequence, NIfTI).
        contours_dir: folder of Sunnybrook-style contour files (``IM-0001-NNNN-{i|o}contour-manual.txt``).
    """
    path = Path(series_path)
    if not path.exists():
        raise CardioGenInputError("file or folder not found", source=path)
    if contours_dir is not None:
        from .io.contours import read_sunnybrook_contours  # noqa: PLC0415
        from .io.dicom_io import read_dicom_series  # noqa: PLC0415

        cine = read_dicom_series(path)
        seg = read_sunnybrook_contours(contours_dir, cine)
        return measure_segmentation(seg, heart_rate_bpm=cine.metadata.get("heart_rate_bpm"))
    if path.is_dir():
        raise CardioGenInputError("a DICOM folder alone has no segmentation: pass --contours DIR (Sunnybrook "
                                  "contours) or a segmentation file", source=path)
    return measure_segmentation(_read_label_file(path))
