"""The supported Slicer / Python versions are checked when a module loads: an old Slicer gets one clear sentence."""
from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import pytest
from CardioGenSlicerLib import compat

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "CardioGenExtension"
MODULES = sorted(p.name for p in EXT.iterdir() if (p / f"{p.name}.py").is_file())


def test_supported_and_unsupported_versions():
    assert compat.environment_problem((5, 10, 0), (3, 12, 10)) is None
    assert compat.environment_problem((6, 0), (3, 12)) is None
    assert compat.environment_problem(None, (3, 11, 4)) is None  # outside Slicer only Python counts
    old = compat.environment_problem((5, 8, 1), (3, 9, 10))
    assert "needs 3D Slicer 5.10 or later" in old and "Python 3.11 or later" in old
    assert "this is Slicer 5.8.1 with Python 3.9.10" in old and "download.slicer.org" in old
    assert "this is Python 3.10.2" in compat.environment_problem(None, (3, 10, 2))
    with pytest.raises(compat.UnsupportedEnvironmentError, match="Slicer 5.6"):
        compat.require_supported_environment((5, 6), (3, 12))


@pytest.mark.parametrize("app, expected", [
    (types.SimpleNamespace(majorVersion=5, minorVersion=10), (5, 10)),          # PythonQt: properties
    (types.SimpleNamespace(majorVersion=lambda: 5, minorVersion=lambda: 8), (5, 8)),  # getters
    (types.SimpleNamespace(applicationVersion="5.6.2"), (5, 6)),
    (None, None),
])
def test_slicer_version_of_the_running_application(monkeypatch, app, expected):
    fake = types.ModuleType("slicer")
    fake.app = app
    monkeypatch.setitem(sys.modules, "slicer", fake)
    assert compat.slicer_version() == expected


def test_compat_parses_on_old_pythons_and_runs_before_the_rest_of_each_module():
    ast.parse((EXT / "CardioGenSlicerLib" / "compat.py").read_text(), feature_version=(3, 6))
    for name in MODULES:
        body = ast.parse((EXT / name / f"{name}.py").read_text()).body
        check = next(i for i, node in enumerate(body) if isinstance(node, ast.Expr)
                     and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "")
                     == "require_supported_environment")
        allowed = ("__future__", "CardioGenSlicerLib.compat", "os", "sys", "logging")  # nothing newer than 3.6
        later = [node for node in body[:check] if isinstance(node, ast.ImportFrom) and node.module not in allowed
                 or isinstance(node, ast.Import) and any(a.name not in allowed for a in node.names)]
        assert not later, (name, [ast.dump(n) for n in later])


@pytest.mark.parametrize("module", MODULES)
def test_loading_a_module_in_an_old_slicer_stops_with_the_message(module, tmp_path):
    """The module file itself, imported in a fresh interpreter whose ``slicer.app`` says 5.8."""
    code = (f"import sys, types\n"
            f"slicer = types.ModuleType('slicer'); slicer.app = types.SimpleNamespace(majorVersion=5, minorVersion=8)\n"
            f"sys.modules['slicer'] = slicer\n"
            f"sys.path.insert(0, {str(EXT / module)!r})\n"
            f"import {module}\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("CardioGenSlicerLib.compat.UnsupportedEnvironmentError: CardioGen needs 3D Slicer 5.10"), \
        run.stderr[-2000:]
    assert "require_supported_environment()" in run.stderr  # stopped there, before qt, slicer or the library
