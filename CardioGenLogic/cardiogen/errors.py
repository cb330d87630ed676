"""Typed errors of the cardiogen library.

Every error says *what* went wrong, *where* (the file or object), and, when it helps, what was
*expected* and what was *got*, so that the CLI, the Slicer panels and scripts can show it unchanged.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any


class CardioGenError(Exception):
    """Base class of every error raised on purpose by cardiogen."""


class CardioGenInputError(CardioGenError, ValueError):
    """Input data (a file, an array, an argument) is not what cardiogen can use.

    Args:
        problem: one sentence saying what is wrong.
        source: the file path or the name of the object that is wrong (shown first).
        expected: what was expected (optional).
        got: what arrived instead (optional).
    """

    def __init__(self, problem: str, *, source: Any = None, expected: Any = None, got: Any = None) -> None:
        self.problem = problem
        self.source = None if source is None else os.fspath(source) if isinstance(source, os.PathLike) else str(source)
        self.expected = expected
        self.got = got
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"{self.source}: {self.problem}" if self.source else self.problem
        details = []
        if self.expected is not None:
            details.append(f"expected {self.expected}")
        if self.got is not None:
            details.append(f"got {self.got}")
        if details:
            text += " (" + ", ".join(details) + ")"
        return text

    def with_source(self, source: Any) -> "CardioGenInputError":
        """Return a copy of this error that names ``source`` (used by readers that validate containers)."""
        if self.source:
            return self
        return CardioGenInputError(self.problem, source=source, expected=self.expected, got=self.got)


class CardioGenMissingPackageError(CardioGenInputError):
    """An optional Python package that one format or feature needs is not installed (the others still work)."""


def import_optional(module: str, *, package: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature`` (e.g. "reading NIfTI"); if it is missing, a
    :class:`CardioGenMissingPackageError` names the pip ``package`` and says that only this feature is off."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise CardioGenMissingPackageError(
            f"{feature} needs the Python package '{package}', which is not installed (pip install {package}; in "
            f"3D Slicer the CardioGen modules offer to install it); the other formats still work") from exc


class CardioGenWeightsError(CardioGenError):
    """Model weights are missing, corrupted (sha256 mismatch) or in a refused format (pickle)."""
