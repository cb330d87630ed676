"""The ``cardiogen`` command line.

Sub-commands (``cardiogen COMMAND --help`` for options)::

    cardiogen phantom --out DIR [--seed N --size 64 --frames 20 --modalities cine,tagging,dense,ct,ecg]
    cardiogen info FILE [FILE ...]
    cardiogen convert IN OUT
    cardiogen preview FILE --out X.gif
    cardiogen measure SERIES [--contours DIR]
    cardiogen demo --out DIR
    cardiogen train MODEL --config CFG.yaml --out RUN [--register FOLDER]
    cardiogen weights list | verify [ID] | add FILE --id ID --pipeline NAME
    cardiogen latent project FILE --out DIR | generate --out F.seq.nrrd | sweep --slider NAME --out F.png | fit
    cardiogen run JOB.json          (background jobs of the Slicer modules; JSON lines on stdout)

Every command exits 0 on success, 2 on bad input (with a one-line message naming the file and the problem)
and 1 on an unexpected failure.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import CardioGenError, CardioGenInputError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _modalities(text: str) -> tuple[str, ...]:
    items = tuple(m.strip() for m in text.split(",") if m.strip())
    if not items:
        raise argparse.ArgumentTypeError("give at least one modality")
    return items


def _add_phantom_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--size", type=_positive_int, default=64, help="MR image size in pixels (default 64)")
    p.add_argument("--frames", type=_positive_int, default=20, help="MR frames per cardiac cycle (default 20)")
    p.add_argument("--slices", type=_positive_int, default=10, help="short-axis slices (default 10)")
    p.add_argument("--ct-size", type=_positive_int, default=64, help="CT volume size in voxels (default 64)")
    p.add_argument("--ct-frames", type=_positive_int, default=10, help="CT phases over the cycle (default 10)")
    p.add_argument("--modalities", type=_modalities, default=("cine", "tagging", "dense", "ct", "ecg"),
                   help="comma-separated subset of cine,tagging,dense,ct,ecg (default all)")
    p.add_argument("--infarct", type=float, default=None, metavar="ANGLE_DEG",
                   help="add a regional infarct centred at this angle (0 lateral, 90 anterior, 180 septal, 270 inferior)")
    p.add_argument("--dyssynchrony", type=float, default=0.0, help="0 (none) .. 1 (LBBB-like)")
    p.add_argument("--view", choices=("sax", "4ch"), default="sax",
                   help="MR view: short-axis stack (default) or four-chamber long-axis planes")
    p.add_argument("--age", type=float, default=None)
    p.add_argument("--sex", choices=("M", "F"), default=None)
    p.add_argument("--height", type=float, default=None, help="cm")
    p.add_argument("--weight", type=float, default=None, help="kg")
    p.add_argument("--sbp", type=float, default=None, help="systolic blood pressure, mmHg")
    p.add_argument("--dbp", type=float, default=None, help="diastolic blood pressure, mmHg")


def _phantom_from_args(args: argparse.Namespace, progress=None):
    from . import phantom

    infarct = None
    if args.infarct is not None:
        infarct = phantom.InfarctSpec(center_deg=args.infarct, width_deg=60.0, severity=0.8)
    config = phantom.PhantomConfig(
        seed=args.seed, size=args.size, frames=args.frames, slices=args.slices, ct_size=args.ct_size,
        ct_frames=args.ct_frames, modalities=tuple(args.modalities), infarct=infarct,
        dyssynchrony=args.dyssynchrony, view=args.view,
    )
    demo_fields = {k: getattr(args, k) for k in ("age", "sex", "height", "weight", "sbp", "dbp")}
    rename = {"height": "height_cm", "weight": "weight_kg"}
    changes = {rename.get(k, k): v for k, v in demo_fields.items() if v is not None}
    demographics = phantom.Demographics.for_seed(args.seed, **changes) if changes else None
    return phantom.make_case(config, demographics=demographics)


# ---- commands ------------------------------------------------------------------------------------------------
def cmd_phantom(args: argparse.Namespace) -> int:
    from .io.case import save_case
    from .progress import TqdmProgress, sub_progress

    with TqdmProgress("phantom", disable=args.quiet) as bar:
        bar(0.0, "simulating")
        case = _phantom_from_args(args)
        bar(0.5, "writing files")
        files = save_case(case, args.out, progress=sub_progress(bar, 0.5, 1.0))
    if not args.quiet:
        for name, path in files.items():
            print(f"{name:24s} {path}")
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    from . import io

    status = EXIT_OK
    for path in args.files:
        try:
            info = io.describe(io.load(path))
        except CardioGenInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        if args.json:
            print(json.dumps({"file": str(path), **info}, default=str))
        else:
            print(f"{path}")
            for key, value in info.items():
                print(f"  {key:18s} {value}")
    return status


def cmd_convert(args: argparse.Namespace) -> int:
    from . import io

    obj = io.load(args.input)
    out = io.save(obj, args.output)
    print(out)
    return EXIT_OK


def cmd_preview(args: argparse.Namespace) -> int:
    from . import io
    from .io import preview

    obj = io.load(args.file)
    series = getattr(obj, "magnitude", obj)  # a DenseSeries previews its magnitude
    out = Path(args.out)
    if out.suffix.lower() == ".mp4":
        preview.write_mp4(series, out, slice_index=args.slice)
    elif out.suffix.lower() == ".png":
        preview.mosaic_png(series, out, slice_index=args.slice)
    else:
        preview.write_gif(series, out, slice_index=args.slice)
    print(out)
    return EXIT_OK


def cmd_measure(args: argparse.Namespace) -> int:
    from .measure import measure_files

    result = measure_files(args.series, contours_dir=args.contours)
    if args.json:
        print(json.dumps(result.as_dict(), default=float))
    else:
        print(result.format_table())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    page = run_demo(args.out, seed=args.seed, quiet=args.quiet)
    print(f"demo page: {page}")
    return EXIT_OK


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the teaching web app (trame over the Slicer modules' logic; needs trame-slicer and the repository's
    CardioGenExtension folder)."""
    import importlib.util

    extension = Path(__file__).resolve().parents[2] / "CardioGenExtension"
    if not (extension / "CardioGenWeb" / "app.py").is_file():
        raise CardioGenInputError("cardiogen web runs from a CardioGen checkout (its CardioGenExtension folder)",
                                  source=extension)
    if importlib.util.find_spec("trame_slicer") is None:
        raise CardioGenInputError("cardiogen web needs trame-slicer: bash scripts/setup.sh --dev "
                                  "(pip install -r requirements-dev.txt)")
    if str(extension) not in sys.path:
        sys.path.insert(0, str(extension))
    from CardioGenWeb.app import main as serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}: anyone who can reach this machine can use the app", file=sys.stderr)
    serve(port=args.port, host=args.host, open_browser=args.open)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from .jobs import run_job_file

    return run_job_file(args.manifest)


def cmd_train(args: argparse.Namespace) -> int:
    from .progress import TqdmProgress
    from .train import train

    command = "cardiogen train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else f"cardiogen train {args.model}"
    with TqdmProgress(f"train {args.model}", disable=args.quiet) as bar:
        result = train(args.model, args.config, args.out, register_dir=args.register, progress=bar, command=command)
    if result is not None:  # rank 0
        print(json.dumps({"id": result.model_id, "weights": str(result.weights), "registry": str(result.registry_dir),
                          "metrics": result.metrics, "seconds": round(result.seconds, 1)}, default=str))
    return EXIT_OK


def cmd_ct_motion(args: argparse.Namespace) -> int:
    """ES CT -> synthetic ED CTs with their exact flow (pipeline ``ct_motion``, seed 004), written to a folder."""
    from . import io
    from .io.atomic import atomic_dir
    from .pipelines import get_pipeline
    from .progress import TqdmProgress

    ct = io.load(args.ct)
    heart = io.load(args.heart, kind="segmentation") if args.heart else None
    pipe = get_pipeline("ct_motion").load(args.weights, args.device)
    with TqdmProgress("ct_motion", disable=args.quiet) as bar:
        out = pipe.run({"ct": ct, "heart": heart}, {"samples": args.samples, "seed": args.seed, "phase": args.phase,
                                                    "temperature": args.temperature}, progress=bar)
    written = {}
    with atomic_dir(Path(args.out)) as tmp:
        for name, obj in out.items():
            suffix = ".seq.nrrd" if obj.array.shape[0] > 1 else ".nrrd"
            io.save(obj, tmp / f"{name}{suffix}")
            written[name] = str(Path(args.out) / f"{name}{suffix}")
    print(json.dumps({"outputs": written, "weights": pipe.entry.id, "samples": args.samples, "seed": args.seed}))
    return EXIT_OK


def cmd_ecg_to_cine(args: argparse.Namespace) -> int:
    """ECG -> synthetic four-chamber cine of one R-R interval (pipeline ``ecg_to_cine``, seed 003)."""
    from . import io
    from .io.atomic import atomic_dir, atomic_path
    from .io.ecg_io import read_ecg
    from .pipelines import get_pipeline
    from .progress import TqdmProgress

    ecg = read_ecg(args.ecg)
    pipe = get_pipeline("ecg_to_cine").load(args.weights, args.device)
    with TqdmProgress("ecg_to_cine", disable=args.quiet) as bar:
        options = {"seed": args.seed, "steps": args.steps}
        if args.guidance is not None:
            options["guidance"] = args.guidance
        out = pipe.run({"ecg": ecg}, options, progress=bar)
    cine = out["cine"]
    target = Path(args.out)
    with (atomic_path(target) if target.suffix else atomic_dir(target)) as tmp:  # no suffix: a DICOM folder
        io.save(cine, tmp)
    prov = cine.provenance
    print(json.dumps({"output": str(args.out), "frames": int(cine.array.shape[0]), "rr_ms": prov["rr_ms"],
                      "heart_rate_bpm": prov["heart_rate_bpm"], "weights": prov["weights"], "seed": args.seed}))
    return EXIT_OK


def _run_heart(args: argparse.Namespace, name: str, options: dict) -> dict:
    """Run pipeline ``name`` (``heart_3d`` / ``heart_4d``) and write image.nrrd and segmentation.seg.nrrd into the
    folder ``args.out`` (all or nothing); returns the pipeline's outputs."""
    from . import io
    from .io.atomic import atomic_dir
    from .pipelines import get_pipeline
    from .progress import TqdmProgress

    pipe = get_pipeline(name).load(args.weights, args.device)
    with TqdmProgress(name, disable=args.quiet) as bar:
        out = pipe.run({}, options, progress=bar)
    names = {"image": "image.nrrd", "segmentation": "segmentation.seg.nrrd"}
    with atomic_dir(Path(args.out)) as tmp:
        for key, filename in names.items():
            io.save(out[key], tmp / filename)
        if "phenotypes" in out["segmentation"].provenance:
            (tmp / "phenotypes.json").write_text(json.dumps(out["segmentation"].provenance["phenotypes"], indent=1))
    out["files"] = {k: str(Path(args.out) / v) for k, v in names.items()}
    return out


def cmd_heart_3d(args: argparse.Namespace) -> int:
    """A synthetic whole-heart short-axis stack and its segmentation (pipeline ``heart_3d``, seed 001), to a folder."""
    out = _run_heart(args, "heart_3d", {"seed": args.seed, "steps": args.steps})
    print(json.dumps({"outputs": out["files"], "weights": out["image"].provenance["weights"], "seed": args.seed}))
    return EXIT_OK


def _factor_value(text: str) -> Any:
    """A demographic flag's value: ``unknown`` → None, yes/no → bool, M/F kept, else a number."""
    key = text.strip().lower()
    if key in ("unknown", "none", "na", ""):
        return None
    if key in ("yes", "true"):
        return True
    if key in ("no", "false"):
        return False
    if key in ("m", "f"):
        return key.upper()
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, M/F, yes/no or 'unknown', got {text!r}") from exc


def cmd_heart_4d(args: argparse.Namespace) -> int:
    """A synthetic whole heart over the cycle with its segmentation for a demographic profile (pipeline
    ``heart_4d``, seed 001 chapter 6), to a folder with the measured phenotypes (phenotypes.json)."""
    from .models.conditions import FACTOR_NAMES

    profile = {k: getattr(args, k) for k in FACTOR_NAMES}
    out = _run_heart(args, "heart_4d", {"seed": args.seed, "steps": args.steps, "guidance": args.guidance,
                                        **profile})
    print(json.dumps({"outputs": out["files"], "weights": out["image"].provenance["weights"], "seed": args.seed,
                      "conditioning": profile, "phenotypes": out["segmentation"].provenance["phenotypes"]}))
    return EXIT_OK


def _json_option(value: str, option: str) -> dict:
    """A JSON object given inline or as a path to a .json/.yaml file (``option`` names it in errors)."""
    text, source = value, option
    path = Path(value)
    if not value.lstrip().startswith("{"):
        if not path.is_file():
            raise CardioGenInputError(f"{option} is neither a JSON object nor a file", source=path)
        text, source = path.read_text(encoding="utf-8"), path
    try:
        if isinstance(source, Path) and source.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 (json or yaml syntax)
        raise CardioGenInputError(f"{option} is not readable: {exc}", source=source) from exc
    if not isinstance(data, dict):
        raise CardioGenInputError(f"{option} must be an object (key: value)", source=source,
                                  got=type(data).__name__)
    return data


def cmd_weights(args: argparse.Namespace) -> int:
    from .weights import Registry, add_weights

    if args.action == "add":
        if not args.file or not args.id or not args.pipeline:
            raise CardioGenInputError("weights add needs FILE, --id and --pipeline")
        extra = {}
        if args.geometry is not None:
            extra["geometry"] = _json_option(args.geometry, "--geometry")
            if args.pipeline == "register":  # the learned registration refuses a model whose grid it cannot read
                from .motion.register import TrainedGrid

                TrainedGrid.from_dict(extra["geometry"], source="--geometry")
        elif args.pipeline == "register":
            raise CardioGenInputError("a registration model needs --geometry: the pixel size, matrix and frame count "
                                      "it was trained for (register_learned resamples inputs there)",
                                      expected='--geometry \'{"pixel_mm": 2.5, "pixel_mm_range": [2.0, 3.3], '
                                               '"matrix": 64, "frames": 20, "frames_range": [16, 50]}\'')
        if args.config is not None:
            extra["config"] = _json_option(args.config, "--config")
        entry = add_weights(args.file, model_id=args.id, pipeline=args.pipeline, license=args.license,
                            trained_on=args.trained_on, folder=args.registry, **extra)
        print(f"added {entry.id} ({entry.size_bytes} bytes, sha256 {entry.sha256[:16]}…) to {entry.registry_dir}")
        return EXIT_OK
    registry = Registry([args.registry]) if args.registry else Registry()
    if args.action == "list":
        for e in registry.list():
            print(f"{e.id:24s} {e.pipeline:14s} {e.size_bytes / 1e6:7.2f} MB  {e.license:14s} {e.trained_on}")
        return EXIT_OK
    results = registry.verify(args.file)
    for model_id, ok, message in results:
        print(f"{model_id:24s} {'OK ' if ok else 'BAD'} {message}")
    return EXIT_OK if all(ok for _, ok, _ in results) else EXIT_FAILURE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cardiogen", description="CardioGen: generative cardiac imaging tools")
    parser.add_argument("--version", action="version", version=f"cardiogen {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("phantom", help="simulate a phantom case in every modality, with its ground truth")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    _add_phantom_options(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_phantom)

    p = sub.add_parser("info", help="describe a file: modality, shape, spacing, frames, heart rate")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="convert between formats (by extension: .nrrd .seq.nrrd .nii.gz .csv, DICOM folder)")
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("preview", help="write an animated GIF/MP4 (or PNG mosaic) of a series")
    p.add_argument("file", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--slice", type=int, default=None, help="slice index (default: middle)")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("measure", help="LV/RV volumes, EF, mass and sphericity from a segmented series")
    p.add_argument("series", type=Path, help="image series (DICOM folder, NRRD) or a segmentation file")
    p.add_argument("--contours", type=Path, default=None, help="folder of Sunnybrook-style contour files")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_measure)

    p = sub.add_parser("train", help="train a model (CPU, GPU, or torchrun for many GPUs/nodes); exports weights")
    p.add_argument("model", help="model name, e.g. ltma")
    p.add_argument("--config", required=True, help="YAML config (a path, or a name in cardiogen/configs)")
    p.add_argument("--out", required=True, type=Path, help="run folder (checkpoints; resumes when present)")
    p.add_argument("--register", type=Path, default=None, help="registry folder to add the weights to")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("weights", help="list, verify or add model weights in the registry")
    p.add_argument("action", choices=("list", "verify", "add"))
    p.add_argument("file", nargs="?", default=None, help="verify: model id (default all); add: a .safetensors file")
    p.add_argument("--id")
    p.add_argument("--pipeline")
    p.add_argument("--license", default="unknown")
    p.add_argument("--trained-on", default="user data")
    p.add_argument("--geometry", default=None,
                   help="add: the grid the model was trained for, JSON or a .json file (pixel_mm, pixel_mm_range, "
                        "matrix, frames, frames_range); required for pipeline 'register'")
    p.add_argument("--config", default=None,
                   help="add: the training config (JSON, or a .json/.yaml file; its 'model' section builds the network)")
    p.add_argument("--registry", type=Path, default=None, help="registry folder (default: shipped + user)")
    p.set_defaults(func=cmd_weights)

    from .cli_latent import add_latent_parser

    add_latent_parser(sub)

    p = sub.add_parser("ct-motion", help="synthetic end-diastolic CTs with their exact flow from an end-systolic CT "
                                         "(seed 004)")
    p.add_argument("ct", type=Path, help="CT volume or 4D CT (NIfTI, NRRD, DICOM folder)")
    p.add_argument("--heart", type=Path, default=None, help="heart mask (default: found from the contrast)")
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--phase", type=int, default=-1, help="ES phase of a 4D CT (default: the recorded one)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--weights", default=None, help="registry id (default: the shipped ct_motion model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, type=Path, help="output folder (pair, flow, ed_samples per sample)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ct_motion)

    p = sub.add_parser("ecg-to-cine", help="a synthetic four-chamber cine of one cardiac cycle from a 12-lead ECG "
                                           "(seed 003)")
    p.add_argument("ecg", type=Path, help="ECG file (DICOM waveform, WFDB header, CSV)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20, help="Euler steps of the rectified flow")
    p.add_argument("--guidance", type=float, default=None,
                   help="classifier-free guidance (1 = none; default: the pipeline's, chosen on validation subjects)")
    p.add_argument("--weights", default=None, help="registry id (default: the shipped ecg_to_cine model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, type=Path, help="output cine (.seq.nrrd, .nii.gz, ...)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ecg_to_cine)

    p = sub.add_parser("heart-3d", help="a synthetic whole-heart short-axis stack with its segmentation (seed 001)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--weights", default=None, help="registry id (default: the shipped heart_3d model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, type=Path, help="output folder (image.nrrd, segmentation.seg.nrrd)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_heart_3d)

    from .models.conditions import FACTORS

    p = sub.add_parser("heart-4d", help="a synthetic whole heart over the cardiac cycle with its segmentation, for a "
                                        "demographic profile (seed 001, chapter 6)")
    for f in FACTORS:
        unit = f" ({f.unit}, {f.minimum:g}-{f.maximum:g})" if f.kind == "number" else (
            " (M or F)" if f.kind == "sex" else " (yes or no)")
        default = {"sex": "M", "bool": False}.get(f.kind, f.default)
        p.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=_factor_value, default=default,
                       help=f"{f.label}{unit}; 'unknown' leaves it out (default {default})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--weights", default=None, help="registry id (default: the shipped heart_4d model)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, type=Path,
                   help="output folder (image.nrrd, segmentation.seg.nrrd, phenotypes.json)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_heart_4d)

    p = sub.add_parser("web", help="the teaching web app in the browser: Data, Motion, Synthesis, Latent explorer, "
                                   "lessons (local only by default)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(func=cmd_web)

    p = sub.add_parser("run", help="run a background job from a JSON manifest, printing JSON-lines progress")
    p.add_argument("manifest", type=Path)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="the main job on the built-in phantom: every modality, previews, one HTML page")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CardioGenInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CardioGenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
