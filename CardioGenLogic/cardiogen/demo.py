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


def _table(rows: dict[str, Any]) -> str:
    cells = []
    for key, value in rows.items():
        if isinstance(value, float):
            value = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        cells.append(f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>")
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
    measured = measure_segmentation(seg).as_dict()
    pheno = _as_dict(case.phenotypes)
    demo = _as_dict(case.demographics)
    report(progress, 1.0, "phantom section done")
    return (
        "<h2>Phantom case: every modality from one ground-truth motion</h2>"
        f"<div class='row'>{''.join(figures)}</div><div class='row'>{''.join(extra)}</div>"
        "<div class='row'><div><h3>Demographics</h3>" + _table(demo) + "</div>"
        "<div><h3>Phenotypes (model targets)</h3>" + _table(pheno) + "</div>"
        "<div><h3>Measured from the rendered masks (cardiogen.measure)</h3>" + _table(measured) + "</div></div>"
    )


def dense_to_cine_section(case: Any, out: Path, progress=None) -> str:
    """DENSE -> cine (MFD-V2V) on the phantom's DENSE, shown beside the DENSE magnitude and the true cine."""
    from .errors import CardioGenWeightsError
    from .nets.samplers import sampler_label
    from .pipelines import get_pipeline

    if case.dense is None:
        return ""
    title = "<h2>DENSE → cine (MFD-V2V, seed 000)</h2>"
    try:
        pipe = get_pipeline("dense_to_cine").load(device="auto")
    except CardioGenWeightsError as exc:
        return title + f"<p>Skipped: {html.escape(str(exc))}</p>"
    result = pipe.run({"dense": case.dense}, {"seed": 0}, progress=progress)  # the pipeline's sampler and steps
    cine = result["cine"]
    prev = out / "previews"
    prev.mkdir(parents=True, exist_ok=True)
    from .io import preview

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
    for name, series in (("dense_input", mag), ("true_cine", case.cine)):
        path = preview.write_gif(series, prev / f"{name}.gif", slice_index=z)
        side.append(_figure(path, out, {"dense_input": "DENSE magnitude input (same slice)",
                                        "true_cine": "the phantom's true cine (not seen by the model)"}[name]))
    report(progress, 1.0, "dense_to_cine done")
    return (title + "<p>The DENSE displacement (phase → unwrapping → Lagrangian motion) conditions the video diffusion "
            "U-Net through the spatiotemporal motion encoder and cross-attention; the cine appearance was learned "
            f"from phantom cine. Weights <code>{html.escape(cine.provenance['weights'])}</code> "
            f"(sha256 {cine.provenance['weights_sha256'][:12]}…).</p>"
            f"<div class='row'>{''.join(side)}</div>")


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
            unit = " % of the frame" if name == "lv_area" else ""
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
