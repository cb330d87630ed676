"""The Slicer and Python versions CardioGen supports, checked when a module loads.

CardioGen needs 3D Slicer 5.10 or later: its Python is 3.12, and the library and its models need Python 3.11 or
later (``CardioGenLogic/pyproject.toml``). Each module file calls :func:`require_supported_environment` before it
imports anything else of CardioGen, so an older Slicer logs one clear sentence (what is needed, what was found,
where to get a newer Slicer) instead of a syntax or import error deep in the library.

Keep this file importable by old Pythons (no newer syntax, no CardioGen imports): it must run where the rest
cannot.
"""
import sys

MINIMUM_SLICER = (5, 10)
MINIMUM_PYTHON = (3, 11)
DOWNLOAD = "https://download.slicer.org"


def slicer_version():
    """``(major, minor)`` of the running Slicer application; None outside it (tests, PythonSlicer scripts)."""
    try:
        import slicer

        app = slicer.app
    except (ImportError, AttributeError):
        return None
    if app is None:
        return None
    try:
        parts = [_read(app, "majorVersion"), _read(app, "minorVersion")]
        if None in parts:
            parts = [int(p) for p in str(_read(app, "applicationVersion")).split(".")[:2]]
        return (int(parts[0]), int(parts[1]))
    except (TypeError, ValueError):
        return None


def _read(obj, name):
    """A Qt property under PythonQt (an attribute) or under other bindings (a getter)."""
    value = getattr(obj, name, None)
    return value() if callable(value) else value


def environment_problem(slicer_ver=None, python_ver=None):
    """None when the versions are supported, else the sentence to show. ``slicer_ver`` None: not inside Slicer
    (only Python is checked); ``python_ver`` defaults to the running interpreter's."""
    python_ver = tuple(python_ver if python_ver is not None else sys.version_info[:3])
    found = []
    if slicer_ver is not None and tuple(slicer_ver[:2]) < MINIMUM_SLICER:
        found.append("Slicer " + ".".join(str(v) for v in slicer_ver))
    if python_ver[:2] < MINIMUM_PYTHON:
        found.append("Python " + ".".join(str(v) for v in python_ver))
    if not found:
        return None
    return ("CardioGen needs 3D Slicer {0}.{1} or later (the models need Python {2}.{3} or later; Slicer {0}.{1} "
            "has Python 3.12), but this is {4}. Install a newer Slicer from {5}.".format(
                MINIMUM_SLICER[0], MINIMUM_SLICER[1], MINIMUM_PYTHON[0], MINIMUM_PYTHON[1], " with ".join(found),
                DOWNLOAD))


class UnsupportedEnvironmentError(RuntimeError):
    """Raised at module load on an unsupported Slicer or Python; its message says what is needed."""


def require_supported_environment(slicer_ver=None, python_ver=None):
    """Raise :class:`UnsupportedEnvironmentError` (after logging the message) on an unsupported Slicer or Python;
    ``slicer_ver`` defaults to the running application's."""
    problem = environment_problem(slicer_ver if slicer_ver is not None else slicer_version(), python_ver)
    if problem:
        import logging

        logging.error(problem)
        raise UnsupportedEnvironmentError(problem)
