"""Read Qt properties the same way under Slicer's PythonQt and under PySide6 (used by the panel tests).

PythonQt exposes Qt properties as attributes (``spinBox.value`` is a number), PySide6 as methods
(``spinBox.value()``). :func:`prop` returns the value in both. Setters are always explicit calls
(``setValue``, ``setText``), which both bindings support.
"""
from __future__ import annotations

from typing import Any


def prop(widget: Any, name: str) -> Any:
    """The value of Qt property ``name`` of ``widget`` (attribute or getter method)."""
    value = getattr(widget, name, None)
    if value is None:  # PySide6 names boolean getters isX (checked -> isChecked)
        value = getattr(widget, "is" + name[:1].upper() + name[1:])
    return value() if callable(value) else value
