"""``cardiogen latent ...``: the GANcMRI latent-space commands (seed 002).

    cardiogen latent project FILE --out DIR [--slice Z --mode w|w+ --steps 150 --weights ID]
    cardiogen latent generate --out FILE.seq.nrrd [--seed N --method f2f|ed_es --frames 50 --slider lv_area=2 ...]
    cardiogen latent sweep --slider lv_area --values=-2,0,1,3 --out SWEEP.png [--seed N]
    cardiogen latent fit --weights ID --out DIR [--register FOLDER --videos 16]

``project`` writes the latents (``latents.safetensors``: ws (frames, layers, w_dim), per-frame reconstruction MSE)
and the reconstruction as a synthetic series; ``fit`` projects phantom training videos and fits the trajectories and
phenotype directions for a newly trained generator.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import CardioGenInputError


def _slider(text: str) -> tuple[str, float]:
    name, eq, value = text.partition("=")
    if not eq:
        return name.strip(), None  # sweep: the slider's name only
    try:
        return name.strip(), float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"slider must be NAME=VALUE, got {text!r}") from exc


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"values must be comma-separated numbers, got {text!r}") from exc


def cmd_latent(args: argparse.Namespace) -> int:
    from .progress import TqdmProgress

    with TqdmProgress(f"latent {args.action}", disable=args.quiet) as bar:
        result = ACTIONS[args.action](args, bar)
    print(json.dumps(result, default=str))
    return 0


def _project(args: argparse.Namespace, bar) -> dict:
    import numpy as np
    from safetensors.torch import save_file

    from . import io
    from .data import ImageSeries
    from .io.atomic import atomic_dir
    from .pipelines.latent_video import _pipeline, _slice_frames

    series = io.load(args.file)
    model = _pipeline(args.weights, args.device).model
    z = _slice_frames(series, args.slice)[1]
    proj = model.project(model.on_grid(series, z), video=True, mode=args.mode, steps=args.steps, steps_next=max(1, args.steps // 3),
                         progress=bar)
    recon = ImageSeries(((model.frames(proj.ws) + 1.0) * 0.5)[:, None].astype(np.float32), model.geometry(series, z),
                        frame_times=series.frame_times, modality="cine",
                        description="Latent reconstruction (GANcMRI projection)").mark_synthetic(
        "latent_video", weights=model.generator_entry.id, weights_sha256=model.generator_entry.sha256,
        source=str(args.file), source_slice=z, mode=proj.mode)
    with atomic_dir(Path(args.out)) as tmp:
        save_file({"ws": proj.ws.contiguous(), "pixel_mse": __import__("torch").from_numpy(proj.pixel_mse)},
                  str(tmp / "latents.safetensors"),
                  metadata={"source": str(args.file), "slice": str(z), "mode": proj.mode,
                            "weights": model.generator_entry.id})
        io.save(recon, tmp / "reconstruction.seq.nrrd")
    return {"latents": str(Path(args.out) / "latents.safetensors"), "frames": int(proj.ws.shape[0]),
            "pixel_mse_mean": float(np.mean(proj.pixel_mse)),
            "reconstruction": str(Path(args.out) / "reconstruction.seq.nrrd")}


def _generate(args: argparse.Namespace, bar) -> dict:
    from . import io
    from .pipelines.latent_video import _pipeline

    opts = {"seed": args.seed, "method": args.method, "frames": args.frames, "tsr_factor": args.tsr_factor}
    sliders = dict(args.slider or [])
    if any(v is None for v in sliders.values()):
        raise CardioGenInputError("generate needs --slider NAME=VALUE", got=sorted(sliders))
    opts.update(sliders)
    cine = _pipeline(args.weights, args.device).run({}, opts, progress=bar)["cine"]
    io.save(cine, args.out)
    return {"out": str(args.out), "frames": int(cine.array.shape[0]), "description": cine.description}


def _sweep(args: argparse.Namespace, bar) -> dict:
    from .pipelines.latent_video import sweep_series, write_sweep_png

    series, sweep = sweep_series(args.slider, args.values, seed=args.seed, weights=args.weights, device=args.device)
    write_sweep_png(series, sweep, args.slider, args.out)
    return {"out": str(args.out), "measured": {str(c): m for c, (_, m) in sweep.items()}}


def _fit(args: argparse.Namespace, bar) -> dict:
    from .latent import fit_directions

    command = "cardiogen latent " + " ".join(sys.argv[2:])
    return fit_directions(args.weights, videos=args.videos, frames=args.frames, steps_first=args.steps,
                          steps_next=max(1, args.steps // 4), pca_components=args.pca_components,
                          smoothing=args.smoothing, phenotype_samples=args.phenotype_samples,
                          projected_ed=args.projected_ed, out=str(args.out),
                          register=str(args.register) if args.register else None, device=args.device,
                          progress=bar, command=command)


ACTIONS = {"project": _project, "generate": _generate, "sweep": _sweep, "fit": _fit}


def add_latent_parser(sub) -> None:
    p = sub.add_parser("latent", help="GANcMRI latent space: project a cine, generate videos, slider sweeps, fit")
    p.add_argument("action", choices=sorted(ACTIONS))
    p.add_argument("file", nargs="?", type=Path, help="project: the cine to project")
    p.add_argument("--out", type=Path, help="output (folder for project/fit, file for generate/sweep)")
    p.add_argument("--weights", default=None, help="generator id (default: the registry's latent_video model)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--slice", type=int, default=-1)
    p.add_argument("--mode", choices=("w", "w+"), default="w")
    p.add_argument("--steps", type=int, default=150, help="projection steps (first frame)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("f2f", "ed_es"), default="f2f")
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--tsr-factor", type=int, default=1)
    p.add_argument("--slider", type=_slider, action="append", help="NAME=VALUE (generate); NAME (sweep)")
    p.add_argument("--values", type=_floats, default=[-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    p.add_argument("--videos", type=int, default=16)
    p.add_argument("--pca-components", type=int, default=32)
    p.add_argument("--smoothing", choices=("auto", "seed", "lowrank", "none"), default="auto")
    p.add_argument("--phenotype-samples", type=int, default=4000)
    p.add_argument("--projected-ed", type=int, default=160, help="training ED frames projected for the sliders")
    p.add_argument("--register", type=Path, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_checked)


def _checked(args: argparse.Namespace) -> int:
    need = {"project": ("file", "out"), "generate": ("out",), "sweep": ("slider", "out"), "fit": ("out",)}
    missing = [n for n in need[args.action] if getattr(args, n) in (None, [])]
    if missing:
        raise CardioGenInputError(f"'cardiogen latent {args.action}' needs " + ", ".join(f"--{m}" if m != "file"
                                                                                         else "FILE" for m in missing))
    if args.action == "sweep":
        args.slider = args.slider[0][0]
    return cmd_latent(args)
