"""Tier 5: each module's ScriptedLoadableModuleTest (what ``ctest`` runs inside a real Slicer build), executed here
on slicer-core with the Testing/ stand-ins for the application parts (``ScriptedLoadableModuleTest`` base,
``slicer.modules``). Inside Slicer the same classes run through ``slicer_add_python_unittest``."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

MODULES = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "CardioGenExtension").iterdir()
                 if (p / f"{p.name}.py").is_file())


@pytest.mark.parametrize("module_name", MODULES)
def test_module_selftest_runs(module_name):
    from slicer_standin import install_gui_standins, make_scene

    install_gui_standins()
    make_scene(fresh=True)
    module = importlib.import_module(module_name)
    test = getattr(module, f"{module_name}Test")()
    test.runTest()
