"""The main job on the built-in phantom: one case in every modality, previews, and a static HTML page.

``cardiogen demo --out DIR`` (the README's first command) calls :func:`run_demo`. Later pipelines add their
sections through :data:`SECTIONS` (each a function ``(case, out_dir, progress) -> html``).
"""
from __future__ import annotations

import html
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .progress import TqdmProgress, report, sub_progress

Section = Callable[[Any, Path, Optional[Callable[[float, str], None]]], str]

#: Extra demo sections registered by pipelines (title, function); run in order after the phantom section.
SECTIONS: list[tuple[str, Section]] = []


def _rel(path: Path, root: Path) -> str:
    return html.escape(os.path.relpath(path, root))


def _figure(path: Path, root: Path, caption: str, width: int = 256) -> str:
    return (f'<figure><img src="{_rel(path, root)}" width="{width}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _plot_ecg(ecg: Any, path: Path, seconds: float = 3.0) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(ecg.n_samples, int(seconds * ecg.sampling_rate))
    t = ecg.times_ms[:n]
    fig, axes = plt.subplots(6, 2, figsize=(10, 7), sharex=True)
    for i, name in enumerate(ecg.lead_names[:12]):
        ax = axes[i % 6, i // 6]
        ax.plot(t, ecg.signals[i, :n], lw=0.8, color="k")
        ax.set_ylabel(name, rotation=0, labelpad=18)
        ax.grid(True, color="#f3b0b0", lw=0.4)
        r = ecg.fiducials.get("R")
        if r is not None:
            r = r[r < n]
            ax.plot(t[r], ecg.signals[i, r], "r.", ms=3)
    for ax in axes[-1]:
        ax.set_xlabel("time (ms)")
    fig.suptitle("Phantom 12-lead ECG (mV); red dots: R peaks = end-diastole")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _plot_strain(strain: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for comp in strain.components:
        ax.plot(strain.frame_times, 100 * strain.global_curve(comp), marker="o", ms=3, label=comp)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("time from end-diastole (ms)")
    ax.set_ylabel("Green-Lagrange strain (%)")
    ax.set_title("Ground-truth global LV strain")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


#: How the demo page shows each quantity it knows: key -> (name, unit, decimals). Phenotypes (model targets),
#: demographics and :class:`cardiogen.measure.Measurements`; other keys get 3 significant digits.
QUANTITIES: dict[str, tuple[str, str, Optional[int]]] = {
    "age": ("Age", "years", 0), "sex": ("Sex", "", None), "height_cm": ("Height", "cm", 0),
    "weight_kg": ("Weight", "kg", 1), "sbp": ("Systolic blood pressure", "mmHg", 0),
    "dbp": ("Diastolic blood pressure", "mmHg", 0), "smoking": ("Current smoker", "", None),
    "alcohol": ("Alcohol", "units/week", 1),
    "lvedv_ml": ("LV end-diastolic volume", "mL", 0), "lvesv_ml": ("LV end-systolic volume", "mL", 0),
    "lv_mass_g": ("LV mass", "g", 0), "rvedv_ml": ("RV end-diastolic volume", "mL", 0),
    "rvesv_ml": ("RV end-systolic volume", "mL", 0), "sphericity": ("Sphericity (SAX diameter / LAX length)", "", 2),
    "heart_rate_bpm": ("Heart rate", "bpm", 0),
    "lv_edv_ml": ("LV end-diastolic volume", "mL", 0), "lv_esv_ml": ("LV end-systolic volume", "mL", 0),
    "lv_sv_ml": ("LV stroke volume", "mL", 0), "lv_ef_pct": ("LV ejection fraction", "%", 1),
    "ed_frame": ("End-diastolic frame", "", None), "es_frame": ("End-systolic frame", "", None),
    "ed_time_ms": ("End-diastole at", "ms", 0), "es_time_ms": ("End-systole at", "ms", 0),
    "lv_myocardial_volume_ml": ("LV myocardial volume (ED)", "mL", 0),
    "rv_edv_ml": ("RV end-diastolic volume", "mL", 0), "rv_esv_ml": ("RV end-systolic volume", "mL", 0),
    "rv_sv_ml": ("RV stroke volume", "mL", 0), "rv_ef_pct": ("RV ejection fraction", "%", 1),
    "rv_ed_frame": ("RV end-diastolic frame", "", None), "rv_es_frame": ("RV end-systolic frame", "", None),
    "sphericity_index": ("Sphericity index (D / L)", "", 2), "lv_long_axis_mm": ("LV long axis L (ED)", "mm", 0),
    "lv_short_axis_diameter_mm": ("LV short-axis diameter D (ED)", "mm", 0),
    "cardiac_output_l_min": ("Cardiac output", "L/min", 2), "slice_spacing_mm": ("Slice spacing", "mm", 1),
    "n_slices_ed": ("Slices with LV at ED", "", None), "n_slices_es": ("Slices with LV at ES", "", None),
    "lv_volume_curve_ml": ("LV volume per frame", "mL", 0), "method": ("Method", "", None),
    "notes": ("Notes", "", None), "synthetic": ("Synthetic segmentation", "", None),
}
#: What a missing value (None) reads as.
NOT_MEASURED = "not measured"


def _number(value: float, decimals: Optional[int]) -> str:
    """``value`` with ``decimals`` places, or with 3 significant digits (never in exponent form) when None."""
    value = float(value)
    if not np.isfinite(value):
        return NOT_MEASURED
    if decimals is None:
        magnitude = int(np.floor(np.log10(abs(value)))) if value != 0 else 0
        decimals = max(0, 2 - magnitude)
        value = float(f"{value:.3g}")
    return f"{value:.{decimals}f}"


def readable(key: str, value: Any) -> Optional[tuple[str, str]]:
    """(name, text) of one quantity for the page, with its unit and sensible digits (:data:`QUANTITIES`); None for
    an empty list (nothing to show). A missing value (None) reads :data:`NOT_MEASURED`; a list of numbers is written
    as its values with the unit once; booleans read yes / no."""
    name, unit, decimals = QUANTITIES.get(key, (key.replace("_", " "), "", None))
    suffix = f" {unit}" if unit else ""
    if value is None:
        return name, NOT_MEASURED
    if isinstance(value, (bool, np.bool_)):
        return name, "yes" if value else "no"
    if isinstance(value, (int, np.integer)) and decimals is None:
        return name, f"{int(value)}{suffix}"
    if isinstance(value, (int, float, np.integer, np.floating)):
        text = _number(value, decimals)
        return name, text + (suffix if text != NOT_MEASURED else "")
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if not items:
            return None
        if all(v is None or isinstance(v, (int, float, np.integer, np.floating)) for v in items):
            return name, ", ".join("–" if v is None else _number(v, decimals) for v in items) + suffix
        return name, "; ".join(str(v) for v in items)
    return name, str(value)


def _table(rows: dict[str, Any]) -> str:
    """Two-column HTML table of ``rows`` made readable by :func:`readable`."""
    cells = []
    for key, value in rows.items():
        shown = readable(key, value)
        if shown is None:
            continue
        cells.append(f"<tr><th>{html.escape(shown[0])}</th><td>{html.escape(shown[1])}</td></tr>")
    return "<table>" + "".join(cells) + "</table>"


def _as_dict(obj: Any) -> dict:
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return dict(obj or {})


def phantom_section(case: Any, out: Path, progress=None) -> str:
    """Previews of every modality of the phantom case, its ECG, truth strain and phenotypes."""
    from .io import preview
    from .measure import measure_segmentation

    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    figures = []
    seg = case.truth.masks
    items = [("cine", case.cine, "Cine bSSFP (mid slice) with true masks", seg),
             ("tagging", case.tagging, "SPAMM tagging", None)]
    if case.dense is not None:
        items.append(("dense_magnitude", case.dense.magnitude, "DENSE magnitude", None))
    for i, (name, series, caption, overlay) in enumerate(items):
        if series is None:
            continue
        report(progress, 0.1 + 0.5 * i / len(items), f"preview {name}")
        path = preview.write_gif(series, prev / f"{name}.gif", overlay=overlay)
        figures.append(_figure(path, out, caption))
    if case.dense is not None:
        for i, enc in enumerate(case.dense.encodings):
            phase = case.dense.magnitude.with_array(case.dense.phase[i], modality="dense_phase")
            path = preview.write_gif(phase, prev / f"dense_phase_{enc}.gif", window=(-np.pi, np.pi))
            figures.append(_figure(path, out, f"DENSE phase, {enc}-encoding (wrapped, rad)"))
    if case.ct is not None:
        report(progress, 0.7, "preview ct")
        path = preview.write_gif(case.ct, prev / "ct.gif", window=(-200.0, 600.0))
        figures.append(_figure(path, out, "4D CT (mid axial slice, HU -200..600)"))
    extra = []
    if case.ecg is not None:
        report(progress, 0.8, "ECG plot")
        extra.append(_figure(_plot_ecg(case.ecg, prev / "ecg.png"), out, "12-lead ECG", width=700))
    if case.truth.strain is not None:
        extra.append(_figure(_plot_strain(case.truth.strain, prev / "strain.png"), out, "Truth strain", width=400))
    pheno = _as_dict(case.phenotypes)
    # the cine's heart rate (as read from a DICOM header by ``cardiogen measure``) also gives the cardiac output
    measured = measure_segmentation(seg, heart_rate_bpm=case.cine.metadata.get("heart_rate_bpm")).as_dict()
    demo = _as_dict(case.demographics)
    report(progress, 1.0, "phantom section done")
    return (
        "<h2>Phantom case: every modality from one ground-truth motion</h2>"
        f"<div class='row'>{''.join(figures)}</div><div class='row'>{''.join(extra)}</div>"
        "<div class='row'><div><h3>Demographics</h3>" + _table(demo) + "</div>"
        "<div><h3>Phenotypes (model targets)</h3>" + _table(pheno) + "</div>"
        "<div><h3>Measured from the rendered masks (cardiogen.measure)</h3>" + _table(measured) + "</div></div>"
    )


def crop_to_field_of_view(series: Any, target: Any) -> tuple[Any, tuple[int, int, int, int, int]]:
    """``series`` cut to the in-plane field of view of ``target``'s first slice (e.g. the DENSE input and the true
    cine cut to the LV crop that a pipeline worked on), so that both show the same region at the same scale.

    Args:
        series: :class:`~cardiogen.data.ImageSeries` ``(t, z, y, x)`` whose grid holds ``target``'s plane.
        target: :class:`~cardiogen.data.ImageSeries` on an in-plane grid parallel to ``series``'s (any pixel size).

    Returns:
        The slice of ``series`` through that plane, frames ``(t, 1, y, x)`` in ``series``'s own pixels (those whose
        centres lie in the box; zeros where the box leaves the image), its geometry placed accordingly; and the box
        ``(z, y0, y1, x0, x1)`` in ``series`` indices (``y1``, ``x1`` exclusive).
    """
    from .data import ImageSeries
    from .errors import CardioGenInputError

    if not isinstance(series, ImageSeries) or not isinstance(target, ImageSeries):
        raise CardioGenInputError("crop_to_field_of_view needs two ImageSeries",
                                  got=(type(series).__name__, type(target).__name__))
    d_s, d_t = np.asarray(series.geometry.direction), np.asarray(target.geometry.direction)
    if not np.allclose(np.abs(d_t[:, :2].T @ d_s[:, :2]), np.eye(2), atol=1e-3):
        raise CardioGenInputError("the field of view's rows and columns are not parallel to the image's",
                                  source=series.description or "series")
    ny, nx = target.shape[2:]
    corners = np.array([[x, y, 0.0, 1.0] for x in (-0.5, nx - 0.5) for y in (-0.5, ny - 0.5)]).T  # (4, 4)
    idx = (series.geometry.world_to_index() @ target.geometry.index_to_world() @ corners)[:3]  # (x, y, z) rows
    z = int(np.round(idx[2].mean()))
    if not 0 <= z < series.shape[1] or np.abs(idx[2] - z).max() > 0.5:
        raise CardioGenInputError("the field of view does not lie in a slice of the image",
                                  source=series.description or "series", got=np.round(idx[2], 2).tolist())
    eps = 1e-6
    x0, x1 = int(np.ceil(idx[0].min() - eps)), int(np.floor(idx[0].max() + eps)) + 1
    y0, y1 = int(np.ceil(idx[1].min() - eps)), int(np.floor(idx[1].max() + eps)) + 1
    _, _, sy, sx = series.shape
    out = np.zeros((series.n_frames, 1, y1 - y0, x1 - x0), dtype=series.array.dtype)
    ys, xs = slice(max(y0, 0), min(y1, sy)), slice(max(x0, 0), min(x1, sx))
    if ys.start < ys.stop and xs.start < xs.stop:
        out[:, 0, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = series.array[:, z, ys, xs]
    origin = (series.geometry.index_to_world() @ np.array([x0, y0, z, 1.0]))[:3]
    return series.with_array(out, geometry=series.geometry.replace(origin=tuple(origin))), (z, y0, y1, x0, x1)


def _box_outline(series: Any, box: tuple[int, int, int, int, int]) -> Any:
    """One-frame :class:`~cardiogen.data.Segmentation` on ``series``'s grid: a one-pixel yellow frame just outside
    ``box`` (as returned by :func:`crop_to_field_of_view`) on its slice, clipped to the image."""
    from .data import LabelInfo, Segmentation

    z, y0, y1, x0, x1 = box
    _, nz, ny, nx = series.shape
    ring = np.zeros((ny + 2, nx + 2), dtype=np.uint8)  # image pixel (y, x) is ring[y + 1, x + 1]

    def rows(a: int, b: int) -> slice:
        return slice(int(np.clip(a, 0, ny + 2)), int(np.clip(b, 0, ny + 2)))

    def cols(a: int, b: int) -> slice:
        return slice(int(np.clip(a, 0, nx + 2)), int(np.clip(b, 0, nx + 2)))

    ring[rows(y0, y1 + 2), cols(x0, x1 + 2)] = 1  # the box and one pixel around it ...
    ring[rows(y0 + 1, y1 + 1), cols(x0 + 1, x1 + 1)] = 0  # ... less the box
    labels = np.zeros((1, nz, ny, nx), dtype=np.uint8)
    labels[0, z] = ring[1:-1, 1:-1]
    return Segmentation(labels, {1: LabelInfo("model crop", (1.0, 0.85, 0.0))}, geometry=series.geometry)


def dense_to_cine_section(case: Any, out: Path, progress=None) -> str:
    """DENSE -> cine (MFD-V2V) on the phantom's DENSE, shown beside the DENSE magnitude and the true cine cut to the
    same LV box (same field of view and scale), and the whole DENSE slice with that box drawn on it."""
    from .errors import CardioGenWeightsError
    from .pipelines import get_pipeline

    if case.dense is None:
        return ""
    title = "<h2>DENSE → cine (MFD-V2V, seed 000)</h2>"
    try:
        pipe = get_pipeline("dense_to_cine").load(device="auto")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    result = pipe.run({"dense": case.dense}, {"seed": 0}, progress=progress)  # the pipeline's sampler and steps
    html_row = dense_to_cine_row(case, result["cine"], out)
    report(progress, 1.0, "dense_to_cine done")
    return title + html_row


def dense_to_cine_row(case: Any, cine: Any, out: Path) -> str:
    """Previews and HTML of one DENSE -> cine result ``cine`` (the pipeline's crop, with its provenance) of
    ``case``: the result, the DENSE magnitude and the true cine cut to the result's field of view
    (:func:`crop_to_field_of_view`), and the whole DENSE slice with that box drawn on it."""
    from .io import preview
    from .nets.samplers import sampler_label

    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    z = cine.provenance["source_slice"]
    synthetic = preview.write_gif(cine, prev / "dense_to_cine.gif")
    mag = case.dense.magnitude
    quality = cine.provenance.get("quality")
    checked = (f", quality check: {quality['clean_frames']:.0%} of frames clean"
               + (f", otherwise {quality['main_problem']}" if quality["main_problem"] else "")) if quality else ""
    g = cine.provenance["guidance"]
    guided = "no guidance" if g == 1.0 else f"guidance {g:g}"
    sampled = sampler_label(cine.provenance["sampler"], cine.provenance["steps"])
    side = [(_figure(synthetic, out, f"SYNTHETIC cine from DENSE (slice {z}, {sampled}, "
                                     f"{guided}, {cine.provenance['seconds']:.1f} s on {cine.provenance['device']}"
                                     f"{checked})"))]
    dense_crop, box = crop_to_field_of_view(mag, cine)
    true_crop, _ = crop_to_field_of_view(case.cine, cine)
    for name, series, caption in (("dense_input", dense_crop, "DENSE magnitude input (same slice, same box)"),
                                  ("true_cine", true_crop, "the phantom's true cine (not seen by the model; same "
                                                           "slice, same box)")):
        side.append(_figure(preview.write_gif(series, prev / f"{name}.gif"), out, caption))
    fov = (cine.shape[3] * cine.spacing[0], cine.shape[2] * cine.spacing[1])  # (x, y) mm
    whole = (mag.shape[3] * mag.spacing[0], mag.shape[2] * mag.spacing[1])
    zoom = whole[0] / fov[0]
    path = preview.write_gif(mag, prev / "dense_input_whole.gif", slice_index=box[0], overlay=_box_outline(mag, box))
    context = _figure(path, out, f"the whole DENSE slice ({whole[0]:.0f} × {whole[1]:.0f} mm); yellow: the box "
                                 f"that the first three images show {zoom:.1f}× larger")
    return ("<p>The DENSE displacement (phase → unwrapping → Lagrangian motion) conditions the video diffusion "
            "U-Net through the spatiotemporal motion encoder and cross-attention; the cine appearance was learned "
            f"from phantom cine. Weights <code>{html.escape(cine.provenance['weights'])}</code> "
            f"(sha256 {cine.provenance['weights_sha256'][:12]}…). The model works on a {cine.shape[3]} × "
            f"{cine.shape[2]}-pixel crop around the LV ({cine.spacing[0]:.2f} mm pixels): the first three images "
            f"show that same {fov[0]:.0f} × {fov[1]:.0f} mm box at the same scale; the fourth shows where it lies.</p>"
            f"<div class='row'>{''.join(side)}{context}</div>")


SECTIONS.append(("DENSE to cine", dense_to_cine_section))


def _save_tile(series: Any, path: Path, label: str) -> Path:
    from PIL import Image

    from .io.atomic import atomic_path
    from .io.preview import render_frames

    tile = render_frames(series, window=(0.0, 1.0), label=label, show_time=False)[0]
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(tile).save(tmp, format="PNG")
    return path


def latent_video_section(case: Any, out: Path, progress=None) -> str:
    """GANcMRI (seed 002): slider sweeps of one random heart's ED frame, and generated 50-frame videos."""
    from .errors import CardioGenWeightsError
    from .io import preview
    from .pipelines import latent_video

    title = "<h2>Latent-space cine generation with phenotype sliders (GANcMRI, seed 002)</h2>"
    seed = int(case.config.seed)
    try:
        pipe = latent_video._pipeline(None, "cpu")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    m = pipe.model
    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    rows = []
    values = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
    for k, name in enumerate(("lv_area", "sphericity")):
        report(progress, 0.1 + 0.3 * k, f"slider sweep {name}")
        series, sweep = latent_video.sweep_series(name, values, seed=seed)
        figs = []
        for i, c in enumerate(sweep):
            one = series.with_array(series.array[i:i + 1], frame_times=np.zeros(1))
            measured = sweep[c][1][name]
            path = _save_tile(one, prev / f"latent_{name}_{i}.png", f"c={c:+g}")
            unit = {"lv_area": " cm²", "myo_thickness": " mm"}.get(name, "")
            figs.append(_figure(path, out, f"{name} slider c = {c:+g}: measured {measured:.3g}{unit}", width=150))
        rows.append(f"<h3>{html.escape(name)} slider (c from −2 to +3), same heart</h3><div class='row'>{''.join(figs)}</div>")
    report(progress, 0.75, "latent videos")
    videos = []
    for label, sliders in (("as sampled", {}), ("LV area slider +2", {"lv_area": 2.0})):
        cine = pipe.run({}, {"seed": seed, "frames": 50, **sliders})["cine"]
        path = preview.write_gif(cine, prev / f"latent_video_{len(videos)}.gif")
        videos.append(_figure(path, out, f"SYNTHETIC 50-frame video, frame-to-frame trajectory, {label} "
                                         f"({cine.provenance['seconds']:.2f} s on CPU)"))
    from .phantom import PhantomConfig, make_case

    ref = make_case(PhantomConfig(seed=seed, size=m.resolution, frames=50, slices=1, view="4ch",
                                  modalities=("cine",), pixel_mm=m.pixel_mm))
    videos.append(_figure(preview.write_gif(ref.cine, prev / "phantom_4ch.gif"), out,
                          "phantom four-chamber cine (the generator's training domain; not a generated image)"))
    report(progress, 1.0, "latent_video done")
    return (title + "<p>A StyleGAN2 generator trained on phantom four-chamber frames; a random latent is moved to "
            "end-diastole (w − 0.7·k<sub>ED→ES</sub>), along phenotype directions (mean latent of the high group − "
            "low group) and along the frame-to-frame trajectory. Phenotypes are measured on each generated frame with "
            f"our four-chamber segmentation network. Weights <code>{html.escape(m.generator_entry.id)}</code> "
            f"(sha256 {m.generator_entry.sha256[:12]}…), directions <code>{html.escape(m.directions_entry.id)}</code>."
            "</p>" + "".join(rows) + f"<h3>Videos</h3><div class='row'>{''.join(videos)}</div>")


SECTIONS.append(("Latent video sliders", latent_video_section))


def ecg_to_cine_section(case: Any, out: Path, progress=None) -> str:
    """Seed 003: the 12-lead ECG of a held-out phantom subject, the cine generated from it, and that subject's true
    four-chamber cine on the same grid (64 pixels of 2.8 mm, one cycle)."""
    from .errors import CardioGenInputError, CardioGenWeightsError
    from .io import preview
    from .metrics.features import load_feature_network, segment_frames
    from .models.ecg_cine import PIXEL_MM, area_length_phenotypes, subject_config
    from .phantom import make_case
    from .pipelines import get_pipeline

    title = "<h2>ECG to cine (ECGFlowCMR, seed 003)</h2>"
    try:
        pipe = get_pipeline("ecg_to_cine").load(device="cpu")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    frames = pipe.models["flow"].config.frames
    seed = 1000 + int(case.config.seed)  # outside the training subjects (0-95)
    report(progress, 0.1, "held-out subject")
    population = str(pipe.models["entry"].config["data"].get("population", "healthy"))
    subject = make_case(subject_config(seed, frames, 64, PIXEL_MM, population))  # drawn as the training subjects
    try:
        cine = pipe.run({"ecg": subject.ecg}, {"seed": 0})["cine"]
    except CardioGenInputError as exc:
        return title + f"<p>Refused for phantom subject {seed}: {html.escape(str(exc))}</p>"
    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    report(progress, 0.7, "figures")
    infarct = subject.config.infarct
    who = (f"with an infarct at {infarct.center_deg:.0f}°, {infarct.width_deg:.0f}° wide" if infarct is not None
           else "without an infarct")
    ecg_fig = _figure(_plot_ecg(subject.ecg, prev / "ecg_to_cine_ecg.png"), out,
                      f"the input: 12-lead ECG of phantom subject {seed}, {who} (first 3 s)", width=520)
    truth = subject.truth.phenotypes_model
    measured = area_length_phenotypes(subject.truth.masks.labels[:, 0], PIXEL_MM)
    prov = cine.provenance
    seg = segment_frames(cine.array[:, 0] * 2.0 - 1.0, load_feature_network("cardiac-features-lax-64"))
    gen_m = area_length_phenotypes(seg, PIXEL_MM)
    gen = _figure(preview.write_gif(cine, prev / "ecg_to_cine.gif"), out,
                  f"SYNTHETIC cine from that ECG: {frames} frames over its R-R of {prov['rr_ms']:.0f} ms "
                  f"({prov['seconds']:.2f} s on CPU); area-length on its segmentation: LVEDV "
                  f"{gen_m['lvedv_ml']:.0f} mL, EF {gen_m['ef_pct']:.0f} %")
    ref = _figure(preview.write_gif(subject.cine, prev / "ecg_to_cine_truth.gif"), out,
                  f"the subject's phantom cine, same grid (not generated): LVEDV {truth.lvedv_ml:.0f} mL, "
                  f"EF {truth.lvef_pct:.0f} % (area-length on its masks: {measured['lvedv_ml']:.0f} mL, "
                  f"{measured['ef_pct']:.0f} %)")
    report(progress, 1.0, "ecg_to_cine done")
    return (title + "<p>The ECG goes through the front end (500 Hz, 12 leads, filters, R peaks) and the frozen phase-"
            "aware masked ECG autoencoder; one complete cycle of its features, aligned by the predicted phase, "
            "conditions a video transformer that integrates a rectified flow from the population's mean latent cine "
            "(the anatomical template) plus noise; the video VAE decodes it. "
            f"Weights <code>{html.escape(prov['weights'])}</code> (sha256 {html.escape(prov['weights_sha256'][:12])}…), "
            f"VAE <code>{html.escape(prov['vae'])}</code>, ECG encoder <code>{html.escape(prov['ecg_encoder'])}</code>, "
            f"{html.escape(prov['sampler'])}.</p><div class='row'>{ecg_fig}</div><div class='row'>{gen}{ref}</div>")


SECTIONS.append(("ECG to cine", ecg_to_cine_section))


def _save_png(rgb: np.ndarray, path: Path) -> Path:
    from PIL import Image

    from .io.atomic import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG")
    return path


def ct_motion_section(case: Any, out: Path, progress=None, samples: int = 3) -> str:
    """Seed 004: the phantom's ES CT, synthetic ED volumes sampled from the flow CVAE, their flow (magnitude), and the
    true ED beside them (an axial slice through the ventricles)."""
    from .errors import CardioGenWeightsError
    from .io.preview import render_frames
    from .pipelines import get_pipeline

    title = "<h2>Systole-conditioned CT motion (seed 004)</h2>"
    if case.ct is None:
        return title + "<p>Skipped: the case has no CT.</p>"
    try:
        pipe = get_pipeline("ct_motion").load(device="cpu")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    report(progress, 0.1, "sampling synthetic ED volumes")
    es = int(case.truth.ct_es_phase)
    res = pipe.run({"ct": case.ct, "heart": case.truth.ct_masks}, {"samples": samples, "seed": int(case.config.seed)})
    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    lv = np.argwhere(case.truth.ct_masks.labels[es] == 1)
    z = int(np.median(lv[:, 0])) if lv.size else None  # an axial slice through the LV blood pool
    window = (-250.0, 750.0)

    def tile(arr: np.ndarray, name: str, label: str, win=window) -> str:
        rgb = render_frames(arr[None, :, :, :], slice_index=z, window=win, label=label, show_time=False)[0]
        return _figure(_save_png(rgb, prev / f"{name}.png"), out, label, width=170)

    figs = [tile(case.ct.array[es], "ct_es", f"ES (phase {es}, given)")]
    for k in range(samples):
        key = "pair" if k == 0 else f"pair_{k + 1}"
        figs.append(tile(res[key].array[0], f"ct_synthetic_ed_{k + 1}", f"SYNTHETIC ED, sample {k + 1}"))
    figs.append(tile(case.ct.array[0], "ct_true_ed", "true ED (phase 0; not generated)"))
    mags = [np.linalg.norm(res["flow" if k == 0 else f"flow_{k + 1}"].array[1], axis=0) for k in range(samples)]
    top = float(max(m.max() for m in mags)) or 1.0
    flows = [tile(m, f"ct_flow_{k + 1}", f"|flow| sample {k + 1}, 0-{top:.1f} mm", win=(0.0, top))
             for k, m in enumerate(mags)]
    prov = res["pair"].provenance
    report(progress, 1.0, "ct_motion done")
    return (title + "<p>A conditional VAE of 3D flow fields, conditioned on the end-systolic CT through the frozen "
            "feature pyramid of a 3D PWC-Net, samples flows; each warps the ES volume into a synthetic end-diastolic "
            f"volume whose flow is its exact ground truth. Weights <code>{html.escape(prov['weights'])}</code> "
            f"(sha256 {html.escape(prov['weights_sha256'][:12])}…), seed {int(case.config.seed)}; the heart is the "
            f"phantom's ventricles at ES; axial slice {z}.</p><div class='row'>{''.join(figs)}</div><h3>Flow magnitude (ED voxel to its ES position)</h3>"
            f"<div class='row'>{''.join(flows)}</div>")


SECTIONS.append(("CT motion", ct_motion_section))

#: The demo's two demographic profiles for the 4D hearts (chapter 6), far apart in body size and blood pressure.
DEMO_PROFILES = {"woman, 68 y, 156 cm, 54 kg, 118/74 mmHg": dict(age=68, sex="F", height_cm=156, weight_kg=54, sbp=118,
                                                                  dbp=74, smoking=False, alcohol=2),
                 "man, 42 y, 191 cm, 102 kg, 162/96 mmHg": dict(age=42, sex="M", height_cm=191, weight_kg=102, sbp=162,
                                                                 dbp=96, smoking=False, alcohol=8)}


def heart_4d_section(case: Any, out: Path, progress=None, steps: int = 25) -> str:
    """Seed 001, chapter 6: two demographic profiles' generated 4D hearts (mid-ventricular slice at ED and ES with
    the generated masks' outlines) and the phenotypes measured on their masks beside the phantom's for the profile."""
    from .data import Segmentation
    from .errors import CardioGenWeightsError
    from .io.preview import render_frames
    from .models.conditions import PHENOTYPE_LABELS
    from .pipelines import get_pipeline

    title = "<h2>Whole hearts from demographics (seed 001, chapter 6)</h2>"
    try:
        pipe = get_pipeline("heart_4d").load(device="cpu")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    from .models.heart4d import profile_population

    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    figs, rows = [], []
    for i, (label, prof) in enumerate(DEMO_PROFILES.items()):
        report(progress, 0.1 + 0.4 * i, f"generating the heart of a {label}")
        res = pipe.run({}, {"seed": int(case.config.seed), "steps": steps, **prof})
        image, seg = res["image"], res["segmentation"]
        ph = seg.provenance["phenotypes"]
        ed, es = int(np.nanargmax((seg.labels == 1).sum(axis=(1, 2, 3)))), int(np.argmin((seg.labels == 1).sum(
            axis=(1, 2, 3))))
        z = int(np.median(np.flatnonzero((seg.labels[ed] == 1).any(axis=(1, 2)))))  # mid-ventricular
        for phase, t in (("ED", ed), ("ES", es)):
            rgb = render_frames(image.array[t:t + 1], slice_index=z, window=(0.0, 1.0), show_time=False,
                                overlay=Segmentation(seg.labels[t], seg.label_table, seg.geometry),
                                label=f"SYNTHETIC {phase}")[0]
            figs.append(_figure(_save_png(rgb, prev / f"heart4d_{i}_{phase.lower()}.png"), out,
                                f"{label}: {phase} (frame {t}), slice {z}", width=200))
        ref = profile_population(prof, range(3_000_000 + 100 * i, 3_000_000 + 100 * i + 20))
        rows.append((label, ph, {k: float(np.nanmean(v)) for k, v in ref.items()}))
    head = "".join(f"<th>{html.escape(label)}: generated</th><th>phantom, same profile (20 subjects)</th>"
                   for label, _, _ in rows)
    body = "".join(f"<tr><th>{short} ({unit})</th>" + "".join(f"<td>{g[k]:.0f}</td><td>{r[k]:.0f}</td>"
                                                               for _, g, r in rows)
                   + "</tr>" for k, (short, _, unit) in PHENOTYPE_LABELS.items())
    prov = res["image"].provenance
    report(progress, 1.0, "heart_4d done")
    return (title + "<p>A latent DDIM conditioned through an MLP encoder and cross-attention on age, sex, height, "
            "weight, blood pressure, smoking and alcohol draws the latent of a whole short-axis cine and its "
            "segmentation over the cycle; the phenotypes are measured on the generated masks with "
            f"<code>cardiogen.measure</code>. Weights <code>{html.escape(prov['weights'])}</code> (sha256 "
            f"{html.escape(prov['weights_sha256'][:12])}…), DDIM {steps} steps, seed {int(case.config.seed)}.</p>"
            f"<div class='row'>{''.join(figs)}</div><table><tr><th></th>{head}</tr>{body}</table>")


SECTIONS.append(("Whole hearts from demographics", heart_4d_section))


def _tile_with_points(frame: np.ndarray, points: list[tuple[np.ndarray, tuple]], scale: int = 5) -> np.ndarray:
    """A [0, 1] frame ``(h, w)`` as RGB, ``scale``x larger, with point sets ``(N, 2)`` (crop pixels x, y) drawn as
    small squares of the given colours."""
    grey = (np.clip(frame, 0.0, 1.0) * 255).astype(np.uint8)
    rgb = np.repeat(np.kron(grey, np.ones((scale, scale), np.uint8))[..., None], 3, axis=2)
    for pts, colour in points:
        for x, y in np.rint((np.asarray(pts) + 0.5) * scale - 0.5).astype(int):
            rgb[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = colour
    return rgb


def _plot_landmark_strain(tracked: Any, truth: Any, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for (comp, region), colour in ((("circumferential", "global"), "tab:blue"), (("radial", "endo-epi"), "tab:red")):
        ax.plot(tracked.frame_times, 100 * tracked.curve(comp, region=region), color=colour, marker="o", ms=3,
                label=f"{comp}, tracked")
        ax.plot(truth.frame_times, 100 * truth.curve(comp, region=region), color=colour, ls="--",
                label=f"{comp}, truth")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("time from end-diastole (ms)")
    ax.set_ylabel("Green-Lagrange ½(L²−L₀²)/L₀² (%)")
    ax.set_title("Strain from landmarks")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def tagging_section(case: Any, out: Path, progress=None) -> str:
    """Seed 001, chapter 4: the phantom's tagging of one short-axis slice with landmarks tracked by the CNN + RNN
    tracker (and the truth), their strain, and tagging synthesised from the slice's cine (smcVAE) beside the true
    tagging, at end-diastole and end-systole."""
    from .data import LandmarkSeries
    from .errors import CardioGenInputError, CardioGenWeightsError
    from .models.tag_tracking import crop_sequence, truth_landmarks
    from .motion.landmarks import landmark_strain_series
    from .pipelines import get_pipeline

    title = "<h2>Tagging: tracked landmarks and cine to tagging (seed 001)</h2>"
    if case.tagging is None or case.cine is None:
        return title + "<p>Skipped: the case has no tagging or cine.</p>"
    rings = {z: truth for z in range(case.tagging.shape[1]) if (truth := truth_landmarks(case, z)) is not None}
    if not rings:
        return title + "<p>Skipped: no slice with a usable LV ring.</p>"
    z = sorted(rings)[len(rings) // 2]
    truth = rings[z]
    start = LandmarkSeries(truth.points[:1], labels=truth.labels)
    try:
        report(progress, 0.1, "tracking landmarks")
        tracked = get_pipeline("tag_tracking").run({"tagging": case.tagging, "landmarks": start})["landmarks"]
        report(progress, 0.5, "cine to tagging")
        synth = get_pipeline("cine_to_tagging").run({"cine": case.cine, "landmarks": start})["tagging"]
    except (CardioGenWeightsError, CardioGenInputError) as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    crop = synth.shape[-1]
    corner = np.asarray(synth.provenance["crop_origin_px"], float)  # (x0, y0) of the crop in the slice's pixels
    ed_px = LandmarkSeries.mm_to_pixels(truth.points[0], case.tagging.geometry)[:, :2]
    true_tag, _ = crop_sequence(case.tagging.array[:, z], ed_px, crop)
    true_cine, _ = crop_sequence(case.cine.array[:, z], ed_px, crop)
    truth_px = LandmarkSeries.mm_to_pixels(truth.points, case.tagging.geometry)[..., :2] - corner
    tracked_px = LandmarkSeries.mm_to_pixels(tracked.points, case.tagging.geometry)[..., :2] - corner
    es = int(case.truth.es_frame)
    figs = []
    for t, phase in ((0, "ED"), (es, "ES")):
        rgb = _tile_with_points(true_tag[t], [(truth_px[t], (60, 220, 60)), (tracked_px[t], (255, 60, 60))])
        figs.append(_figure(_save_png(rgb, prev / f"tagging_tracked_{phase}.png"), out,
                            f"phantom tagging, {phase}: tracked (red), truth (green)", width=200))
    plot = _plot_landmark_strain(landmark_strain_series(tracked), landmark_strain_series(truth),
                                 prev / "tagging_strain.png")
    figs.append(_figure(plot, out, "global circumferential and radial (endo to epi) strain", width=400))
    pairs = []
    for t, phase in ((0, "ED"), (es, "ES")):
        for name, arr, label in (("cine", true_cine, f"cine (input), {phase}"),
                                 ("synthetic", synth.array[:, 0], f"SYNTHETIC tagging from cine, {phase}"),
                                 ("true", true_tag, f"true tagging (not used), {phase}")):
            rgb = _tile_with_points(arr[t], [])
            pairs.append(_figure(_save_png(rgb, prev / f"tagging_{name}_{phase}.png"), out, label, width=200))
    err = float(np.linalg.norm(tracked.points - truth.points, axis=-1)[1:].mean())
    report(progress, 1.0, "tagging done")
    weights = html.escape(tracked.provenance["weights"])
    return (title + f"<p>Slice {z}: {truth.n_points} landmarks on three rings (endo, mid, epi) placed at end-diastole "
            f"and carried through the {case.tagging.n_frames} frames by <code>{weights}</code>; mean distance to "
            f"the phantom's exact tracks {err:.2f} mm.</p><div class='row'>{''.join(figs)}</div><h3>Cine to tagging (smcVAE <code>{html.escape(synth.provenance['weights'])}</code>)</h3>"
            f"<div class='row'>{''.join(pairs)}</div>")


SECTIONS.append(("Tagging", tagging_section))


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>CardioGen demo</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ font-size: 0.85em; color: #555; max-width: 260px; }}
img {{ image-rendering: pixelated; border: 1px solid #ccc; }}
table {{ border-collapse: collapse; font-size: 0.85em; }} th, td {{ border: 1px solid #ddd; padding: 2px 6px; text-align: left; }}
.banner {{ background: #fff3cd; padding: 0.5em 1em; border: 1px solid #e0c060; }}
</style></head><body>
<h1>CardioGen demo</h1>
<p class="banner">Every image on this page is <b>synthetic</b> (CardioGen phantom or generative model output),
not patient data. Generated {date} by <code>{command}</code> in {seconds:.1f} s.</p>
{body}
<h2>Files</h2><p>The case files open in 3D Slicer (<code>.seq.nrrd</code> sequences, <code>.seg.nrrd</code>) and with
<code>cardiogen info</code>: see <a href="case/case.json">case/case.json</a>.</p>
</body></html>
"""


def run_demo(out_dir: str | os.PathLike, *, seed: int = 0, quiet: bool = False) -> Path:
    """Simulate the phantom case, write it and its previews, and build ``OUT/index.html``; returns the page."""
    from . import phantom
    from .io.case import save_case

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with TqdmProgress("demo", disable=quiet) as bar:
        bar(0.0, "simulating phantom")
        case = phantom.make_case(phantom.PhantomConfig(seed=seed))
        bar(0.15, "writing case files")
        save_case(case, out / "case", progress=sub_progress(bar, 0.15, 0.35))
        n = len(SECTIONS) + 1
        body = [phantom_section(case, out, sub_progress(bar, 0.35, 0.35 + 0.65 / n))]
        for i, (title, section) in enumerate(SECTIONS, start=1):
            bar(0.35 + 0.65 * i / n, title)
            body.append(section(case, out, sub_progress(bar, 0.35 + 0.65 * i / n, 0.35 + 0.65 * (i + 1) / n)))
        bar(1.0, "done")
    page = out / "index.html"
    page.write_text(PAGE.format(date=time.strftime("%Y-%m-%d %H:%M"), command=f"cardiogen demo --out {out} --seed {seed}",
                                seconds=time.time() - start, body="\n".join(body)))
    (out / "demo.json").write_text(json.dumps({"seed": seed, "seconds": round(time.time() - start, 2)}))
    return page
