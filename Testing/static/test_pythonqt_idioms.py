"""Module code must run under Slicer's PythonQt, not only under the PySide6 the panel tests use.

PythonQt differs from PySide6 where it hurts at run time, not at import:

* a Qt property is an attribute: ``label.text`` is the string, so ``label.text()`` raises "'str' object is not
  callable" (read properties with ``CardioGenSlicerLib.qtcompat.prop`` or as attributes; ``isChecked()``,
  ``isEnabled()`` and the setters are methods in both);
* enums are flat on their class (``qt.Qt.AlignCenter``, ``qt.QSizePolicy.Expanding``), not scoped
  (``qt.Qt.AlignmentFlag.AlignCenter``);
* there is no PySide6 / PyQt / shiboken, no ``Signal``/``Slot``/``Property`` from Python, no ``__feature__``;
  dialogs run with ``exec_()``.

:func:`pyside_idioms` finds these in source text; the test runs it on every file of CardioGenExtension and on a
planted example. A line that must keep such a call (a plain Python object with a ``value()`` method, say) carries
``# pythonqt: ok``.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "CardioGenExtension"

#: Getters whose name is also the Qt property's: PythonQt shadows the method with the value.
SHADOWED_GETTERS = frozenset({
    "text", "value", "currentText", "currentIndex", "currentPath", "toolTip", "windowTitle", "plainText",
    "minimum", "maximum", "singleStep", "decimals", "suffix", "prefix", "placeholderText", "objectName", "title",
    "checked", "enabled", "visible", "collapsed", "tracking", "nodeTypes", "noneEnabled", "currentNodeID",
    "interval", "orientation", "alignment", "wordWrap", "readOnly", "styleSheet", "checkable", "count",
    "progress", "maximumWidth", "minimumWidth", "windowModality", "labelText",
})
#: Method names that are fine on Qt layouts/items though a same-named property exists elsewhere.
_LAYOUT_CALLS = re.compile(r"(layout|Layout)\w*\s*\.\s*count\(\)")

_TEXT_RULES = (
    (re.compile(r"^[ \t]*(from|import)\s+(PySide2|PySide6|PyQt5|PyQt6|shiboken2|shiboken6)\b", re.M),
     "PySide/PyQt import (Slicer has only `qt`, PythonQt)"),
    (re.compile(r"^[ \t]*from\s+__feature__\s+import", re.M), "PySide's __feature__ switch"),
    (re.compile(r"\bqt\.(Qt|Q[A-Za-z]+)\.([A-Z][A-Za-z]*)\.([A-Za-z_]\w*)"),
     "scoped enum (PythonQt: the value sits on the class, e.g. qt.Qt.AlignCenter)"),
    (re.compile(r"\bQtCore\.Qt\.|\bQtWidgets\.|\bQtGui\."), "PySide module namespace (use `qt.`)"),
    (re.compile(r"\.exec\(\s*\)"), "dialog .exec() (PythonQt: exec_())"),
    (re.compile(r"\b(qt\.)?(Signal|Slot|Property)\s*\("), "Signal/Slot/Property defined from Python (not in PythonQt)"),
)


def pyside_idioms(source: str, name: str = "<source>") -> list[str]:
    """``"name:line: message"`` for each PySide-only idiom in ``source``."""
    lines = source.splitlines()
    waived = {i + 1 for i, line in enumerate(lines) if "# pythonqt: ok" in line}
    found = []
    for pattern, message in _TEXT_RULES:
        for m in pattern.finditer(source):
            line = source.count("\n", 0, m.start()) + 1
            if line not in waived and not lines[line - 1].lstrip().startswith("#"):
                found.append((line, f"{message}: {m.group(0).strip()}"))
    for node in ast.walk(ast.parse(source, name)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args
                and not node.keywords and node.func.attr in SHADOWED_GETTERS and node.lineno not in waived):
            segment = ast.get_source_segment(source, node) or node.func.attr
            if _LAYOUT_CALLS.search(segment):
                continue
            found.append((node.lineno, f"getter call .{node.func.attr}() (PythonQt: a property, read "
                                       f"`.{node.func.attr}` or prop(w, {node.func.attr!r})): {segment}"))
    return [f"{name}:{line}: {message}" for line, message in sorted(found)]


MODULE_FILES = sorted(EXT.rglob("*.py"))


@pytest.mark.parametrize("path", MODULE_FILES, ids=lambda p: str(p.relative_to(EXT)))
def test_module_code_has_no_pyside_only_idioms(path):
    assert pyside_idioms(path.read_text(), str(path.relative_to(ROOT))) == []


PLANTED = '''
from PySide6 import QtWidgets
import qt


class PlantedWidget:
    def setup(self):
        name = self.ui.nameLineEdit.text()
        n = int(self.ui.countSpinBox.value())
        index = self.ui.kindComboBox.currentIndex()
        label = qt.QLabel()
        label.setAlignment(qt.Qt.AlignmentFlag.AlignCenter)
        policy = qt.QSizePolicy.Policy.Expanding
        dialog = qt.QDialog()
        dialog.exec()
        changed = qt.Signal(int)
        ok = label.text  # PythonQt style: an attribute
        rows = self.ui.inputsLayout.count()  # QLayout.count() is a method in PythonQt too
        flat = qt.Qt.AlignCenter
'''


def test_static_check_finds_each_planted_idiom():
    found = pyside_idioms(PLANTED, "planted.py")
    text = "\n".join(found)
    for expected in ("planted.py:2: PySide/PyQt import", "planted.py:8: getter call .text()",
                     "planted.py:9: getter call .value()", "planted.py:10: getter call .currentIndex()",
                     "planted.py:12: scoped enum", "planted.py:13: scoped enum", "planted.py:15: dialog .exec()",
                     "planted.py:16: Signal/Slot/Property"):
        assert expected in text, f"{expected!r} not found in:\n{text}"
    assert len(found) == 8, text  # the PythonQt-style lines (17-19) pass


def test_waiver_comment_silences_one_line():
    assert pyside_idioms("x = thing.value()  # pythonqt: ok\n") == []
    assert len(pyside_idioms("x = thing.value()\n")) == 1
