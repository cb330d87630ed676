"""Background jobs: ``python -m cardiogen run JOB.json`` (the protocol of the Slicer background runner).

The GUI process (Slicer) writes a job manifest, starts ``PythonSlicer -m cardiogen run JOB.json`` and reads one
JSON object per stdout line::

    {"event": "start", "job": "phantom", "pid": 1234, "time": ...}
    {"event": "progress", "fraction": 0.42, "message": "rendering cine", "time": ...}
    {"event": "result", "output_dir": "...", "outputs": {"cine": "cine.seq.nrrd", ...}, "summary": {...}}
    {"event": "error", "kind": "input" | "failure", "message": "...", "time": ...}

Job manifest::

    {"job": "phantom" | "load", "inputs": {...}, "options": {...}, "output_dir": "/abs/path"}

Outputs are written into a temporary folder beside ``output_dir`` that is renamed to ``output_dir`` only when the
job succeeds, so a failed or killed job leaves no partial files (the runner also removes the temporary folder
when it kills a job). Exit codes: 0 success, 2 bad input, 1 other failure.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

from .errors import CardioGenError, CardioGenInputError
from .progress import JsonLinesProgress, report, sub_progress

Job = Callable[[dict, dict, Path, Callable[[float, str], None]], dict]

#: name -> function(inputs, options, out_dir, progress) -> {"outputs": {...}, "summary": {...}}
JOBS: dict[str, Job] = {}


def register_job(name: str) -> Callable[[Job], Job]:
    def _register(fn: Job) -> Job:
        JOBS[name] = fn
        return fn

    return _register


@register_job("phantom")
def _job_phantom(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Simulate a phantom case (options = PhantomConfig fields + "demographics" dict) and write its files."""
    import dataclasses

    from . import phantom
    from .io import describe
    from .io.case import save_case

    opts = dict(options)
    demo = opts.pop("demographics", None)
    infarct = opts.pop("infarct", None)
    if infarct is not None:
        opts["infarct"] = phantom.InfarctSpec(**infarct)
    if "modalities" in opts:
        opts["modalities"] = tuple(opts["modalities"])
    known = {f.name for f in dataclasses.fields(phantom.PhantomConfig)}
    unknown = set(opts) - known
    if unknown:
        raise CardioGenInputError("unknown phantom options", expected=sorted(known), got=sorted(unknown))
    config = phantom.PhantomConfig(**opts)
    demographics = phantom.Demographics.for_seed(config.seed, **demo) if demo else None
    report(progress, 0.02, "simulating the phantom")
    case = phantom.make_case(config, demographics=demographics)
    report(progress, 0.6, "writing files")
    files = save_case(case, out_dir, progress=sub_progress(progress, 0.6, 0.98))
    summary = {}
    for name in ("cine", "tagging", "ct", "dense", "ecg"):
        obj = getattr(case, name, None)
        if obj is not None:
            summary[name] = describe(obj)
    return {"outputs": {k: str(Path(v).relative_to(out_dir)) for k, v in files.items()}, "summary": summary}


@register_job("load")
def _job_load(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Read any supported file or DICOM folder (``inputs["path"]``) and re-write it as NRRD/CSV for Slicer."""
    from . import io
    from .data import DenseSeries, Ecg, ImageSeries, LandmarkSeries, Segmentation
    from .io.bundle import write_dense_bundle

    path = inputs.get("path")
    if not path:
        raise CardioGenInputError("load job needs inputs.path")
    report(progress, 0.05, f"reading {Path(path).name}")
    obj = io.load(path, **options)
    report(progress, 0.6, "converting for Slicer")
    outputs: dict[str, str] = {}
    if isinstance(obj, list) and obj and all(isinstance(c, tuple) for c in obj):  # HDF5 tagging + landmarks cases
        images, marks = obj[0]
        io.save(images, out_dir / "tagging.seq.nrrd")
        io.save(marks, out_dir / "landmarks.landmarks.json")
        outputs.update(tagging="tagging.seq.nrrd", landmarks="landmarks.landmarks.json")
        return {"outputs": outputs, "summary": {"loaded": io.describe(images), "source": str(path),
                                                "cases": len(obj), "shown_case": 0}}
    if isinstance(obj, LandmarkSeries):
        io.save(obj, out_dir / "landmarks.landmarks.json")
        outputs["landmarks"] = "landmarks.landmarks.json"
        return {"outputs": outputs, "summary": {"loaded": f"{obj.n_points} landmarks x {obj.n_frames} frames",
                                                "source": str(path)}}
    if isinstance(obj, ImageSeries):
        name = "image.seq.nrrd" if obj.n_frames > 1 else "image.nrrd"
        io.save(obj, out_dir / name)
        outputs["image"] = name
    elif isinstance(obj, DenseSeries):
        write_dense_bundle(obj, out_dir / "dense.dense.json")
        outputs["dense"] = "dense.dense.json"
    elif isinstance(obj, Ecg):
        io.save(obj, out_dir / "ecg.csv")
        outputs["ecg"] = "ecg.csv"
    elif isinstance(obj, Segmentation):
        name = "segmentation.seg.nrrd" if obj.n_frames == 1 else "segmentation.seq.nrrd"
        io.save(obj, out_dir / name)
        outputs["segmentation"] = name
    else:  # pragma: no cover - load() only returns the types above
        raise CardioGenInputError("nothing to convert", got=type(obj).__name__)
    return {"outputs": outputs, "summary": {"loaded": io.describe(obj), "source": str(path)}}


@register_job("motion")
def _job_motion(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Motion and strain (the Motion module): register a cine (learned LTMA or classical demons / B-spline) or
    convert DENSE phase to displacement, then strain in the LV myocardium.

    inputs: ``cine`` (image file) or ``dense`` (DENSE file), optional ``mask`` (segmentation file with an
    "LV myocardium" label; for DENSE the contours are used when no mask is given, and the wall is found on the
    images when there are no contours either).
    options: ``method`` ("ltma", "demons", "bspline", "dense"), ``weights`` (registry id), ``device``,
    ``reference`` (frame), ``refine_mask`` (DENSE: refine the myocardium from the images).
    """
    import numpy as np

    from . import io
    from .data import ImageSeries
    from .motion.register import register_classical, register_learned
    from .motion.strain import bullseye_image, compute_strain, peak_values, write_curves_csv

    method = options.get("method", "ltma")
    if method not in ("ltma", "demons", "bspline", "dense"):
        raise CardioGenInputError("unknown motion method", expected=("ltma", "demons", "bspline", "dense"),
                                  got=method)
    outputs: dict[str, str] = {}
    strain = None
    if method == "dense":
        from .motion.dense import dense_motion_and_strain, refine_myocardium_mask
        from .motion.dense_mask import mask_or_auto

        if not inputs.get("dense"):
            raise CardioGenInputError("the DENSE method needs a DENSE input (inputs.dense)")
        dense = io.load(inputs["dense"])
        mask = None
        if inputs.get("mask"):
            mask = io.load(inputs["mask"]).mask("LV myocardium")
        if options.get("refine_mask"):
            mask = refine_myocardium_mask(dense, region_labels=tuple(options.get("region_labels", (1, 2))))
        mask = mask_or_auto(dense, mask)
        if isinstance(mask, str):  # DICOM DENSE: no contours
            report(progress, 0.15, "no contours: finding the LV myocardium on the DENSE images")
        report(progress, 0.2, "DENSE phase -> displacement -> strain")
        # through-plane strain needs a z encoding; in-plane DENSE gives radial and circumferential only
        disp, strain = dense_motion_and_strain(dense, mask, longitudinal="z" in dense.encodings)
        reference_series = dense.magnitude
    else:
        if not inputs.get("cine"):
            raise CardioGenInputError(f"the {method} method needs a cine input (inputs.cine)")
        series = io.load(inputs["cine"])
        if not isinstance(series, ImageSeries):
            raise CardioGenInputError("the motion input is not an image series", source=inputs["cine"],
                                      got=type(series).__name__)
        reference = int(options.get("reference", 0))
        sub = sub_progress(progress, 0.05, 0.7)
        if method == "ltma":
            disp = register_learned(series, weights=options.get("weights"), reference=reference,
                                    device=options.get("device", "auto"), progress=sub)
        else:
            disp = register_classical(series, method=method, reference=reference, progress=sub)
        reference_series = series
        if inputs.get("mask"):
            seg = io.load(inputs["mask"])
            myo = seg.mask("LV myocardium")[min(reference, seg.n_frames - 1)]
            if myo.shape != disp.spatial_shape:
                raise CardioGenInputError("the myocardium mask grid differs from the cine", source=inputs["mask"],
                                          expected=disp.spatial_shape, got=myo.shape)
            report(progress, 0.75, "computing strain")
            strain = compute_strain(disp, myo, longitudinal=False)
    io.save(disp, out_dir / "displacement.seq.nrrd")
    outputs["displacement"] = "displacement.seq.nrrd"
    summary: dict[str, Any] = {"method": method, "frames": disp.n_frames,
                               "max_displacement_mm": float(np.abs(disp.array).max()),
                               "provenance": disp.provenance}
    if strain is not None:
        for comp, arr in strain.components.items():
            img = reference_series.with_array(arr, modality="strain", description=f"{comp} strain",
                                              frame_times=strain.frame_times)
            io.save(img, out_dir / f"strain_{comp}.seq.nrrd")
            outputs[f"strain_{comp}"] = f"strain_{comp}.seq.nrrd"
        mask_img = reference_series.with_array(strain.mask[None].astype(np.float32), modality="label",
                                               frame_times=strain.frame_times[:1], description="strain mask")
        io.save(mask_img, out_dir / "strain_mask.nrrd")
        outputs["strain_mask"] = "strain_mask.nrrd"
        write_curves_csv(strain, out_dir / "strain_curves.csv")
        outputs["curves"] = "strain_curves.csv"
        peaks = peak_values(strain)
        summary["peaks"] = peaks
        curves = strain.segment_curves.get("circumferential")
        if curves is not None:
            frame = peaks["circumferential"]["frame"]
            np.save(out_dir / "bullseye_circumferential.npy", bullseye_image(curves[frame]).astype(np.float32))
            outputs["bullseye"] = "bullseye_circumferential.npy"
            summary["segments_circumferential_at_peak"] = [None if np.isnan(v) else float(v) for v in curves[frame]]
    report(progress, 0.98, "writing results")
    return {"outputs": outputs, "summary": summary}


@register_job("pipeline")
def _job_pipeline(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Run any registered pipeline (the Synthesis panel): ``options["pipeline"]`` names it, ``options["weights"]``
    and ``options["device"]`` load it, ``options["options"]`` are its own options; ``inputs`` maps its declared
    input names to files. Every output is written as a file Slicer opens (synthetic ones marked)."""
    from . import io
    from .data import DenseSeries, DisplacementSeries, Ecg, ImageSeries, LandmarkSeries, Segmentation, StrainSeries
    from .io.bundle import write_dense_bundle
    from .motion.landmarks import LandmarkStrain
    from .pipelines import get_pipeline

    name = options.get("pipeline")
    if not name:
        raise CardioGenInputError("the pipeline job needs options.pipeline")
    pipeline = get_pipeline(name)
    report(progress, 0.02, f"loading {name}")
    pipeline.load(weights=options.get("weights"), device=options.get("device", "auto"))
    loaded = {key: io.load(path) for key, path in inputs.items() if path}
    results = pipeline.run(loaded, options.get("options") or {}, progress=sub_progress(progress, 0.05, 0.95))
    outputs: dict[str, str] = {}
    summary: dict[str, Any] = {"pipeline": name}
    for key, obj in results.items():
        if isinstance(obj, (ImageSeries, Segmentation, DisplacementSeries)):
            n = obj.n_frames if hasattr(obj, "n_frames") else 1
            fname = f"{key}.seq.nrrd" if n > 1 else (f"{key}.seg.nrrd" if isinstance(obj, Segmentation)
                                                     else f"{key}.nrrd")
            io.save(obj, out_dir / fname)
            outputs[key] = fname
            summary[key] = io.describe(obj)
        elif isinstance(obj, DenseSeries):
            write_dense_bundle(obj, out_dir / f"{key}.dense.json")
            outputs[key] = f"{key}.dense.json"
        elif isinstance(obj, Ecg):
            io.save(obj, out_dir / f"{key}.csv")
            outputs[key] = f"{key}.csv"
        elif isinstance(obj, StrainSeries):
            from .motion.strain import peak_values, write_curves_csv

            for comp, arr in obj.components.items():
                img = ImageSeries(arr, obj.geometry, frame_times=obj.frame_times, modality="strain",
                                  description=f"{comp} strain")
                io.save(img, out_dir / f"{key}_{comp}.seq.nrrd")
                outputs[f"{key}_{comp}"] = f"{key}_{comp}.seq.nrrd"
            write_curves_csv(obj, out_dir / f"{key}_curves.csv")
            outputs[f"{key}_curves"] = f"{key}_curves.csv"
            summary["peaks"] = peak_values(obj)
        elif isinstance(obj, LandmarkSeries):
            io.save(obj, out_dir / f"{key}.landmarks.json")
            outputs[key] = f"{key}.landmarks.json"
        elif isinstance(obj, LandmarkStrain):
            obj.write_csv(out_dir / f"{key}_curves.csv")
            outputs[f"{key}_curves"] = f"{key}_curves.csv"
            summary[key] = {name: float(max(v, key=abs)) for name, v in sorted(obj.curves.items())
                            if "/global" in name or "/endo-epi" in name}
        else:
            summary[key] = obj if isinstance(obj, (int, float, str, list, dict)) else str(obj)
    return {"outputs": outputs, "summary": summary}


@register_job("latent_project")
def _job_latent_project(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Project the ED (first) frame of one slice of ``inputs["cine"]`` into the GANcMRI latent space (the Latent
    Explorer's "Project"); writes ``latents.safetensors`` (ws ``(1, num_ws, w_dim)``). Same seed and steps as the
    ``latent_video`` pipeline's ``project_ed`` start, so both find the same latent."""
    from safetensors.torch import save_file

    from . import io
    from .pipelines.latent_video import _pipeline, _slice_frames

    if not inputs.get("cine"):
        raise CardioGenInputError("the latent_project job needs inputs.cine")
    cine = io.load(inputs["cine"])
    report(progress, 0.02, "loading the generator")
    model = _pipeline(options.get("weights"), options.get("device", "cpu")).model
    z = _slice_frames(cine, int(options.get("slice", -1)))[1]
    proj = model.project(model.on_grid(cine, z), first_only=True, steps=int(options.get("steps", 150)), seed=int(options.get("seed", 0)),
                         progress=sub_progress(progress, 0.05, 0.95))
    save_file({"ws": proj.ws.contiguous()}, str(out_dir / "latents.safetensors"),
              metadata={"source": str(inputs["cine"]), "slice": str(z), "weights": model.generator_entry.id})
    return {"outputs": {"latents": "latents.safetensors"},
            "summary": {"slice": z, "pixel_mse": round(float(proj.pixel_mse.mean()), 5),
                        "weights": model.generator_entry.id}}


@register_job("selftest")
def _job_selftest(inputs: dict, options: dict, out_dir: Path, progress) -> dict:
    """Check the background machinery in an installation (Slicer's "Test background processing"):
    writes ``steps`` small files over ``seconds``, optionally starts a helper child process (to check that Cancel
    kills the whole process tree) and optionally fails at the end."""
    import subprocess
    import time

    steps = int(options.get("steps", 5))
    seconds = float(options.get("seconds", 1.0))
    child = None
    if options.get("spawn_child"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        (out_dir / "child.pid").write_text(str(child.pid))
        print(json.dumps({"event": "child", "pid": child.pid}), flush=True)
    try:
        for i in range(steps):
            (out_dir / f"step_{i}.txt").write_text(f"step {i}\n")
            report(progress, (i + 1) / (steps + 1), f"step {i + 1} of {steps}")
            time.sleep(seconds / max(steps, 1))
        if options.get("fail"):
            raise CardioGenInputError("self-test asked to fail", source="selftest")
    finally:
        if child is not None:
            child.kill()
    return {"outputs": {f"step_{i}": f"step_{i}.txt" for i in range(steps)}, "summary": {"steps": steps}}


def run_job_file(manifest_path: str | os.PathLike, stream=None) -> int:
    """Run the job described by ``manifest_path``, reporting JSON lines on ``stream`` (stdout)."""
    from .io.atomic import atomic_dir

    out = JsonLinesProgress(stream)
    manifest_path = Path(manifest_path)
    try:
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise CardioGenInputError(f"cannot read job manifest: {exc}", source=manifest_path) from exc
        if not isinstance(manifest, dict):
            raise CardioGenInputError("job manifest must be a JSON object", source=manifest_path)
        name = manifest.get("job")
        if name not in JOBS:
            raise CardioGenInputError("unknown job", source=manifest_path, expected=sorted(JOBS), got=name)
        if not manifest.get("output_dir"):
            raise CardioGenInputError("job manifest has no output_dir", source=manifest_path)
        output_dir = Path(manifest["output_dir"])
        out.emit("start", job=name, pid=os.getpid())
        with atomic_dir(output_dir) as tmp:
            result = JOBS[name](dict(manifest.get("inputs") or {}), dict(manifest.get("options") or {}), tmp, out)
            (tmp / "result.json").write_text(json.dumps(result, indent=2, default=str))
        out(1.0, "done")
        out.emit("result", output_dir=str(output_dir), **result)
        return 0
    except CardioGenInputError as exc:
        out.emit("error", kind="input", message=str(exc))
        return 2
    except CardioGenError as exc:
        out.emit("error", kind="failure", message=str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - report every failure to the GUI, with the traceback in stderr
        traceback.print_exc(file=sys.stderr)
        out.emit("error", kind="failure", message=f"{type(exc).__name__}: {exc}")
        return 1
