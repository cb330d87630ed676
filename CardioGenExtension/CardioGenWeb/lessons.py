"""Guided lessons for a class: each step is one click that runs one action of the session, with a sentence of
explanation shown on the page while it runs and after.

A step's ``action`` names an entry of :data:`ACTIONS`; its ``args`` are that action's keyword arguments. Actions that
start a background job return at once (the page shows the job's progress); the next step waits until it ends.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    action: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Lesson:
    id: str
    title: str
    steps: tuple


def _phantom(session: Any, label: str = "Lesson phantom", **request: Any) -> None:
    from CardioGenSlicerLib.data_logic import PhantomRequest

    request["modalities"] = tuple(request.get("modalities", ("cine",)))
    session.start_phantom(PhantomRequest(**request), label=label)


ACTIONS: dict[str, Callable[..., None]] = {
    "phantom": _phantom,
    "motion": lambda session, method="ltma": session.start_motion(method),
    "strain": lambda session, component="circumferential": session.show_strain(component),
    "synthesis": lambda session, pipeline, options=None: session.start_synthesis(pipeline, options or {}),
}

LESSONS: tuple = (
    Lesson("strain", "What strain means", (
        Step("A heart with an infarct",
             "The phantom simulates a short-axis cine of a left ventricle whose anterolateral wall no longer "
             "contracts (an infarct). Red shows the short axis, Yellow and Green cut along the heart: watch one side "
             "of the wall stay still while the rest thickens and moves inwards.",
             "phantom", {"modalities": ("cine",), "seed": 7, "frames": 20, "infarct_deg": 60.0,
                         "label": "Infarct phantom"}),
        Step("Track the motion",
             "A registration network (LTMA) follows every point of the wall from end-diastole through the cycle; "
             "the grid bends with the displacement it found. The curves show strain over time, one per AHA segment.",
             "motion", {"method": "ltma"}),
        Step("Radial strain: thickening",
             "Radial strain is the wall's fractional thickening: positive (red) where the wall thickens in systole. "
             "The infarcted segments stay near zero.",
             "strain", {"component": "radial"}),
        Step("Circumferential strain and the bull's-eye",
             "Circumferential strain is the fractional shortening along the wall: about -20 % (blue) in a healthy "
             "segment at end-systole. The bull's-eye (Green) puts the 16 AHA segments' peak values on one map: the "
             "infarct is the pale sector.",
             "strain", {"component": "circumferential"}),
    )),
    Lesson("generator", "What a generator can and cannot do", (
        Step("DENSE encodes motion",
             "DENSE MRI stores the wall's displacement in the phase of each pixel. The phantom makes DENSE and the "
             "true cine of the same heart, so we can check what a generator makes of the DENSE.",
             "phantom", {"modalities": ("dense", "cine"), "seed": 11, "frames": 20, "label": "DENSE phantom"}),
        Step("From motion to a cine",
             "A video diffusion model guided by the DENSE motion draws a cine-like video. Left: the DENSE input; "
             "right: the synthetic video, marked synthetic, with its provenance (weights, seed, sampler) below.",
             "synthesis", {"pipeline": "dense_to_cine", "options": {"steps": 25}}),
        Step("When it goes wrong",
             "With a single sampling step the model cannot remove its noise. The result still looks like an "
             "image, so a quality check (a cardiac network trained on our data) reads every frame and says what "
             "is wrong: read the warnings under the views.",
             "synthesis", {"pipeline": "dense_to_cine", "options": {"steps": 1, "mean_start": False}}),
    )),
)


def lesson(lesson_id: str) -> Lesson:
    for item in LESSONS:
        if item.id == lesson_id:
            return item
    raise KeyError(f"no lesson {lesson_id!r}; lessons: {[item.id for item in LESSONS]}")


def run_step(session: Any, step: Step) -> None:
    """Run one step's action on ``session`` (a job-starting action returns at once)."""
    ACTIONS[step.action](session, **step.args)
