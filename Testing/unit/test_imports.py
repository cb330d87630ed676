"""The library must stay headless: importing every cardiogen module pulls in none of slicer, qt, ctk, vtk."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = ("slicer", "qt", "ctk", "vtk", "PythonQt", "PySide6", "PyQt5", "PyQt6")


def test_cardiogen_imports_no_gui_or_slicer_modules():
    logic = Path(__file__).resolve().parents[2] / "CardioGenLogic"
    code = f"""
import importlib, json, pkgutil, sys
sys.path.insert(0, {str(logic)!r})
import cardiogen
names = []
for mod in pkgutil.walk_packages(cardiogen.__path__, "cardiogen."):
    if mod.name.endswith("__main__"):
        continue
    importlib.import_module(mod.name)
    names.append(mod.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in {FORBIDDEN!r})
print(json.dumps({{"imported": names, "bad": bad}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(result["imported"]) >= 5, result["imported"]
    assert result["bad"] == [], f"cardiogen imported GUI/Slicer modules: {result['bad']}"
