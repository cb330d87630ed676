"""Progress reporting shared by the CLI, pipelines and the Slicer runner.

A progress callback is any callable ``progress(fraction: float, message: str) -> None`` with ``fraction`` in
[0, 1]. Library functions accept ``progress=None`` and call :func:`report` so they never depend on how progress is
shown: a tqdm bar on a terminal (:class:`TqdmProgress`), JSON lines for the Slicer background runner
(:class:`JsonLinesProgress`), or a Qt progress bar in the GUI process.
"""
from __future__ import annotations

import json
import sys
import time
from typing import Callable, Optional, Protocol, TextIO


class ProgressCallback(Protocol):
    def __call__(self, fraction: float, message: str) -> None:  # pragma: no cover - protocol
        ...


def report(progress: Optional[Callable[[float, str], None]], fraction: float, message: str = "") -> None:
    """Call ``progress`` if given, clamping ``fraction`` to [0, 1]."""
    if progress is not None:
        progress(min(1.0, max(0.0, float(fraction))), message)


def sub_progress(progress: Optional[Callable[[float, str], None]], start: float, stop: float):
    """A callback mapping [0, 1] of a sub-task onto [start, stop] of ``progress``."""
    if progress is None:
        return None

    def _sub(fraction: float, message: str = "") -> None:
        report(progress, start + (stop - start) * fraction, message)

    return _sub


class TqdmProgress:
    """A tqdm bar on stderr (percent scale); use as a context manager."""

    def __init__(self, desc: str = "", disable: bool | None = None) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=100, desc=desc, unit="%", file=sys.stderr, disable=disable,
                         bar_format="{desc} {percentage:3.0f}%|{bar}| {postfix}")

    def __call__(self, fraction: float, message: str = "") -> None:
        target = round(100 * fraction)
        if target > self._bar.n:
            self._bar.update(target - self._bar.n)
        if message:
            self._bar.set_postfix_str(message[:60], refresh=True)

    def __enter__(self) -> "TqdmProgress":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()


class JsonLinesProgress:
    """One JSON object per line: ``{"event": "progress", "fraction": 0.42, "message": "...", "time": ...}``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def __call__(self, fraction: float, message: str = "") -> None:
        self.emit("progress", fraction=round(float(fraction), 4), message=message)

    def emit(self, event: str, **fields) -> None:
        fields = {"event": event, **fields, "time": round(time.time(), 3)}
        self._stream.write(json.dumps(fields) + "\n")
        self._stream.flush()
