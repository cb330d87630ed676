"""The one weights registry of CardioGen (DESIGN.md "Weights").

A registry is a JSON file ``registry.json`` beside the weight files it lists::

    {"schema": "cardiogen-weights/1", "models": [
      {"id": "ltma-phantom-64", "pipeline": "register", "version": "1", "file": "ltma-phantom-64.safetensors",
       "sha256": "...", "size_bytes": 123456, "license": "BSD-3-Clause", "url": null,
       "trained_on": "CardioGen phantom, seeds 0-199 (held out: 1000-1019)",
       "training_command": "cardiogen train ltma --config ...", "config": {...},
       "metrics": {...}, "timing": {"cpu_s_per_case": 0.05, "gpu_s_per_case": null}, "created": "2026-...",
       "geometry": {"pixel_mm": 2.5, "pixel_mm_range": [2.0, 3.3], "matrix": 64, "frames": 20,
                    "frames_range": [16, 50]}}]}

``geometry`` says which grid the model was trained for: in-plane pixel size (mm; ``pixel_mm_range``: the pixels
it saw on its own grid), image matrix (pixels; the training crop or frame size), frame count (``frames_range``:
the counts it saw; ``null`` for models of single frames), and, where a model knows it, ``note``. Pipelines resample
inputs to it and results back, or refuse an input they cannot bring there.

Two registries are searched: the shipped one (``Resources/Models`` of the extension or a development checkout,
or ``$CARDIOGEN_MODELS``) and the user's (``$CARDIOGEN_USER_MODELS`` or ``~/.cardiogen/models``), where
``cardiogen weights add FILE`` copies weights the user trained. Loading checks the size and sha256 first and reads
only safetensors: a pickled file (``torch.save``) is refused, because unpickling can run arbitrary code.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import CardioGenInputError, CardioGenWeightsError

SCHEMA = "cardiogen-weights/1"
REQUIRED_FIELDS = ("id", "pipeline", "file", "sha256", "size_bytes", "license", "trained_on")


def _package_dir() -> Path:
    return Path(__file__).resolve().parent


def shipped_models_dir() -> Path:
    """``$CARDIOGEN_MODELS``, else the first ``Resources/Models`` found beside or above the package."""
    env = os.environ.get("CARDIOGEN_MODELS")
    if env:
        return Path(env)
    pkg = _package_dir()
    for base in (pkg.parent, pkg.parent.parent, pkg.parent.parent.parent):
        candidate = base / "Resources" / "Models"
        if (candidate / "registry.json").is_file():
            return candidate
    return pkg.parent.parent / "Resources" / "Models"


def user_models_dir() -> Path:
    return Path(os.environ.get("CARDIOGEN_USER_MODELS", Path.home() / ".cardiogen" / "models"))


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ModelEntry:
    """One registered model (see the module docstring for the JSON form)."""

    id: str
    pipeline: str
    file: str
    sha256: str
    size_bytes: int
    license: str
    trained_on: str
    version: str = "1"
    url: Optional[str] = None
    training_command: str = ""
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    created: str = ""
    geometry: dict = field(default_factory=dict)
    registry_dir: Optional[Path] = field(default=None, repr=False, compare=False)

    @property
    def path(self) -> Path:
        if self.registry_dir is None:
            raise CardioGenWeightsError(f"model {self.id}: registry folder unknown")
        return self.registry_dir / self.file

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("registry_dir", None)
        return data

    @classmethod
    def from_json(cls, data: dict, registry_dir: Path, source: Path) -> "ModelEntry":
        if not isinstance(data, dict):
            raise CardioGenInputError("registry entry must be an object", source=source, got=type(data).__name__)
        missing = [k for k in REQUIRED_FIELDS if k not in data]
        if missing:
            raise CardioGenInputError("registry entry lacks fields", source=source, expected=list(REQUIRED_FIELDS),
                                      got=f"{data.get('id', '?')} without {missing}")
        known = {f for f in cls.__dataclass_fields__ if f != "registry_dir"}
        entry = cls(**{k: v for k, v in data.items() if k in known})
        entry.registry_dir = registry_dir
        return entry


class Registry:
    """All models from the shipped and the user registry (user entries override shipped ones with the same id)."""

    def __init__(self, dirs: Optional[list[Path]] = None) -> None:
        self.dirs = [Path(d) for d in (dirs if dirs is not None else [shipped_models_dir(), user_models_dir()])]
        self.entries: dict[str, ModelEntry] = {}
        for folder in self.dirs:
            for entry in read_registry(folder):
                self.entries[entry.id] = entry

    def list(self, pipeline: Optional[str] = None) -> list[ModelEntry]:
        return [e for e in self.entries.values() if pipeline is None or e.pipeline == pipeline]

    def get(self, model_id: str) -> ModelEntry:
        if model_id not in self.entries:
            raise CardioGenWeightsError(f"no model '{model_id}' in the registry (known: {sorted(self.entries)})")
        return self.entries[model_id]

    def default_for(self, pipeline: str) -> ModelEntry:
        models = self.list(pipeline)
        if not models:
            raise CardioGenWeightsError(f"no weights registered for pipeline '{pipeline}'; train some with "
                                        f"'cardiogen train' and add them with 'cardiogen weights add'")
        return models[0]

    def verify(self, model_id: Optional[str] = None) -> list[tuple[str, bool, str]]:
        """(id, ok, message) for one or every model: file present, size and sha256 match, safetensors format."""
        out = []
        for entry in [self.get(model_id)] if model_id else self.list():
            try:
                check_file(entry)
                out.append((entry.id, True, "ok"))
            except CardioGenWeightsError as exc:
                out.append((entry.id, False, str(exc)))
        return out

    def load_state_dict(self, model_id: str, device: str = "cpu") -> dict:
        """Verified tensors of a model (safetensors only)."""
        entry = self.get(model_id)
        check_file(entry)
        from safetensors.torch import load_file

        return load_file(str(entry.path), device=device)


def read_registry(folder: Path) -> list[ModelEntry]:
    path = Path(folder) / "registry.json"
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CardioGenInputError(f"cannot read the weights registry: {exc}", source=path) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("models"), list):
        raise CardioGenInputError("not a CardioGen weights registry", source=path, expected=f'"schema": "{SCHEMA}"')
    return [ModelEntry.from_json(item, Path(folder), path) for item in data["models"]]


def write_registry(folder: Path, entries: list[ModelEntry]) -> Path:
    from .io.atomic import atomic_path

    path = Path(folder) / "registry.json"
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"schema": SCHEMA, "models": [e.to_json() for e in entries]}, indent=2) + "\n")
    return path


def file_format(path: Path) -> str:
    """"safetensors", "pickle" (incl. torch zip archives) or "unknown", from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:2] == b"PK" or (head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5):
        return "pickle"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n < (100 << 20) and head[8:9] == b"{":
            return "safetensors"
    return "unknown"


def check_file(entry: ModelEntry) -> None:
    """Raise CardioGenWeightsError unless the file exists, is safetensors, and matches size and sha256."""
    path = entry.path
    if not path.is_file():
        raise CardioGenWeightsError(f"{path}: weights file of model '{entry.id}' is missing")
    fmt = file_format(path)
    if fmt == "pickle":
        raise CardioGenWeightsError(f"{path}: is a pickled file; CardioGen loads only safetensors weights "
                                    f"(unpickling can run arbitrary code). Convert it with safetensors.torch.save_file.")
    if fmt != "safetensors":
        raise CardioGenWeightsError(f"{path}: not a safetensors file")
    size = path.stat().st_size
    if size != entry.size_bytes:
        raise CardioGenWeightsError(f"{path}: size {size} bytes differs from the registry ({entry.size_bytes})")
    digest = sha256_of(path)
    if digest != entry.sha256:
        raise CardioGenWeightsError(f"{path}: sha256 {digest[:16]}… does not match the registry "
                                    f"({entry.sha256[:16]}…); the file is corrupted or was replaced")


def add_weights(file: str | os.PathLike, *, model_id: str, pipeline: str, license: str, trained_on: str,
                folder: Optional[Path] = None, copy: bool = True, **extra: Any) -> ModelEntry:
    """Register a safetensors file (copied into ``folder``, default the user registry); replaces an entry with
    the same id. Pickled files are refused."""
    src = Path(file)
    if not src.is_file():
        raise CardioGenInputError("weights file not found", source=src)
    fmt = file_format(src)
    if fmt != "safetensors":
        raise CardioGenWeightsError(f"{src}: {'is a pickled file' if fmt == 'pickle' else 'not a safetensors file'}"
                                    "; only safetensors weights can be added")
    folder = Path(folder) if folder is not None else user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / src.name
    if copy and src.resolve() != dest.resolve():
        shutil.copy2(src, dest)
    entry = ModelEntry(id=model_id, pipeline=pipeline, file=dest.name, sha256=sha256_of(dest),
                       size_bytes=dest.stat().st_size, license=license, trained_on=trained_on,
                       created=extra.pop("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
                       **extra)
    entry.registry_dir = folder
    entries = [e for e in read_registry(folder) if e.id != model_id] + [entry]
    write_registry(folder, entries)
    return entry
