"""Pipelines: one per user task, all with the same shape (DESIGN.md "Pipelines").

A pipeline declares its typed inputs, outputs and options; ``load(weights=..., device=...)`` prepares it and
``run(inputs, options, progress=...)`` returns typed results. The CLI, the background job ``pipeline`` and the
Slicer Synthesis panel are generic over :data:`PIPELINES`::

    from cardiogen.pipelines import get_pipeline
    p = get_pipeline("register").load(device="cpu")
    result = p.run({"cine": series}, {"method": "ltma"})
    result["displacement"]            # DisplacementSeries

Input/output kinds are the container names of :mod:`cardiogen.data` ("ImageSeries", "DenseSeries", "Ecg",
"Segmentation", "DisplacementSeries", "StrainSeries"); an :class:`Input` may restrict an ImageSeries by modality.
Synthetic outputs are always marked (``synthetic=True``, "SYNTHETIC" in the description, provenance with the
pipeline, weights sha256, seed and device).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import CardioGenInputError

Progress = Optional[Callable[[float, str], None]]


@dataclass(frozen=True)
class Input:
    """A declared input: name, container kind, optional modalities, required or not, help text."""

    name: str
    kind: str
    modalities: tuple[str, ...] = ()
    required: bool = True
    help: str = ""


@dataclass(frozen=True)
class Output:
    name: str
    kind: str
    help: str = ""


@dataclass(frozen=True)
class Option:
    """A declared option with its default and allowed values (``choices``) or range (``minimum``/``maximum``)."""

    name: str
    default: Any
    choices: tuple = ()
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    help: str = ""
    optional: bool = False  #: None is allowed (a value the user does not know, e.g. a missing demographic factor)
    unit: str = ""  #: shown beside the value (forms, CLI help)

    def check(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if self.choices and value not in self.choices:
            raise CardioGenInputError(f"option '{self.name}' has no such value", expected=self.choices, got=value)
        if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
            raise CardioGenInputError(f"option '{self.name}' out of range",
                                      expected=f"{self.minimum}..{self.maximum}", got=value)
        return value


class Pipeline:
    """Base class. Subclasses set ``name``, ``title``, ``inputs``, ``outputs``, ``options`` and implement ``_run``."""

    name: str = ""
    title: str = ""
    description: str = ""
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    options: tuple[Option, ...] = ()
    synthetic_outputs: bool = False

    def __init__(self) -> None:
        self.weights: Optional[str] = None
        self.device: str = "auto"
        self.loaded = False

    def load(self, weights: Optional[str] = None, device: str = "auto") -> "Pipeline":
        """Prepare models (weights from the registry, checked) on ``device``; returns self."""
        self.weights = weights
        self.device = device
        self._load()
        self.loaded = True
        return self

    def _load(self) -> None:
        """Load models; pipelines without weights need nothing."""

    def check_inputs(self, inputs: dict) -> dict:
        from .. import data

        out = {}
        for spec in self.inputs:
            value = inputs.get(spec.name)
            if value is None:
                if spec.required:
                    raise CardioGenInputError(f"pipeline '{self.name}' needs input '{spec.name}'",
                                              expected=spec.kind)
                continue
            cls = getattr(data, spec.kind)
            if not isinstance(value, cls):
                raise CardioGenInputError(f"input '{spec.name}' of pipeline '{self.name}' has the wrong type",
                                          expected=spec.kind, got=type(value).__name__)
            if spec.modalities and getattr(value, "modality", None) not in spec.modalities:
                raise CardioGenInputError(f"input '{spec.name}' has the wrong modality", expected=spec.modalities,
                                          got=getattr(value, "modality", None))
            out[spec.name] = value
        return out

    def check_options(self, options: Optional[dict]) -> dict:
        options = dict(options or {})
        known = {o.name: o for o in self.options}
        unknown = set(options) - set(known)
        if unknown:
            raise CardioGenInputError(f"unknown options for pipeline '{self.name}'", expected=sorted(known),
                                      got=sorted(unknown))
        return {name: spec.check(options.get(name, spec.default)) for name, spec in known.items()}

    def run(self, inputs: dict, options: Optional[dict] = None, progress: Progress = None) -> dict:
        if not self.loaded:
            self.load()
        return self._run(self.check_inputs(inputs), self.check_options(options), progress)

    def _run(self, inputs: dict, options: dict, progress: Progress) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def describe(cls) -> dict:
        """JSON-able declaration (the Slicer panel builds its input and option widgets from this)."""
        return {"name": cls.name, "title": cls.title, "description": cls.description,
                "inputs": [dataclasses.asdict(i) for i in cls.inputs],
                "outputs": [dataclasses.asdict(o) for o in cls.outputs],
                "options": [dataclasses.asdict(o) for o in cls.options], "synthetic": cls.synthetic_outputs}


PIPELINES: dict[str, type[Pipeline]] = {}


def register_pipeline(cls: type[Pipeline]) -> type[Pipeline]:
    PIPELINES[cls.name] = cls
    return cls


def get_pipeline(name: str) -> Pipeline:
    _import_builtin()
    if name not in PIPELINES:
        raise CardioGenInputError("unknown pipeline", expected=sorted(PIPELINES), got=name)
    return PIPELINES[name]()


#: Order of the built-in pipelines in listings (front ends preselect the first synthesis pipeline); it must not
#: depend on which module happened to be imported first. Pipelines registered by others follow, in their order.
BUILTIN_ORDER = ("register", "dense_displacement", "strain", "dense_to_cine", "latent_video", "ecg_to_cine",
                 "ct_motion", "heart_3d", "heart_4d", "tag_tracking", "cine_to_tagging", "tagging_to_cine")


def list_pipelines() -> list[dict]:
    _import_builtin()
    rank = {name: i for i, name in enumerate(BUILTIN_ORDER)}
    names = sorted(PIPELINES, key=lambda n: (rank.get(n, len(rank)), list(PIPELINES).index(n)))
    return [PIPELINES[n].describe() for n in names]


def _import_builtin() -> None:
    from . import motion  # noqa: F401 - registers register / dense_displacement / strain

    try:
        from . import dense_to_cine  # noqa: F401
    except ImportError:  # pragma: no cover - optional until its models exist
        pass
    from . import latent_video  # noqa: F401
    from . import ecg_to_cine  # noqa: F401
    from . import ct_motion  # noqa: F401
    from . import heart_3d  # noqa: F401
    from . import heart_4d  # noqa: F401
    from . import tagging  # noqa: F401 - tag_tracking / cine_to_tagging / tagging_to_cine


__all__ = ["Input", "Output", "Option", "Pipeline", "PIPELINES", "register_pipeline", "get_pipeline",
           "list_pipelines"]
