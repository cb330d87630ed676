"""Static checks of the Slicer extension: CMake lists match the files on disk, modules follow the template."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXT = ROOT / "CardioGenExtension"
MODULES = sorted(p.name for p in EXT.iterdir() if p.is_dir() and (p / "CMakeLists.txt").exists()
                 and p.name != "CardioGenSlicerLib")


def _cmake_list(text: str, variable: str) -> list[str]:
    m = re.search(r"set\(\s*" + variable + r"\s+(.*?)\)", text, re.S)
    assert m, f"{variable} not set"
    items = m.group(1).split()
    return [i for i in items if not i.startswith("#")]


def _expand(items: list[str], module: str) -> set[str]:
    return {i.replace("${MODULE_NAME}", module) for i in items}


def test_top_level_cmake_has_metadata_and_every_module():
    text = (ROOT / "CMakeLists.txt").read_text()
    for key in ("EXTENSION_HOMEPAGE", "EXTENSION_CATEGORY", "EXTENSION_CONTRIBUTORS", "EXTENSION_DESCRIPTION",
                "EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS", "EXTENSION_DEPENDS"):
        assert re.search(rf"set\({key} ", text), key
    assert 'set(EXTENSION_CATEGORY "Cardiac")' in text
    assert "find_package(Slicer REQUIRED)" in text
    listed = set(re.findall(r"add_subdirectory\(CardioGenExtension/(\w+)\)", text))
    assert listed == set(MODULES) | {"CardioGenSlicerLib"}
    assert MODULES, "no module folders found"


@pytest.mark.parametrize("module", MODULES)
def test_module_cmake_lists_match_files(module):
    folder = EXT / module
    text = (folder / "CMakeLists.txt").read_text()
    assert re.search(rf"set\(MODULE_NAME {module}\)", text)
    assert "slicerMacroBuildScriptedModule(" in text
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text
    scripts = _expand(_cmake_list(text, "MODULE_PYTHON_SCRIPTS"), module)
    on_disk = {p.name for p in folder.glob("*.py")}
    assert scripts == on_disk, f"CMake scripts {sorted(scripts)} != files {sorted(on_disk)}"
    resources = _expand(_cmake_list(text, "MODULE_PYTHON_RESOURCES"), module)
    files = {str(p.relative_to(folder)) for p in (folder / "Resources").rglob("*") if p.is_file()}
    assert resources == files, f"CMake resources {sorted(resources)} != files {sorted(files)}"
    assert f"Resources/UI/{module}.ui" in files and f"Resources/Icons/{module}.png" in files
    assert (folder / "Testing" / "Python" / "CMakeLists.txt").exists()


def test_slicerlib_cmake_lists_every_python_file():
    folder = EXT / "CardioGenSlicerLib"
    listed = set(_cmake_list((folder / "CMakeLists.txt").read_text(), "PYTHON_SCRIPTS"))
    assert listed == {p.name for p in folder.glob("*.py")}


@pytest.mark.parametrize("module", MODULES)
def test_module_file_is_thin_and_has_template_classes(module):
    path = EXT / module / f"{module}.py"
    source = path.read_text()
    assert len(source.splitlines()) <= 400, "module files stay thin (<= 400 lines)"
    classes = {n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
    for suffix in ("", "Widget", "Logic", "Test"):
        assert module + suffix in classes
    assert "import cardiogen" not in source or "cardiogen." in source
    for banned in ("os.environ[", "CUDA_VISIBLE_DEVICES"):
        assert banned not in source


def test_ui_files_are_valid_designer_xml():
    import xml.etree.ElementTree as ET

    for ui in EXT.glob("*/Resources/UI/*.ui"):
        root = ET.parse(ui).getroot()
        assert root.tag == "ui" and root.find("widget") is not None, ui


def test_library_has_no_slicer_imports_and_extension_has_no_test_standins():
    for path in (ROOT / "CardioGenLogic" / "cardiogen").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(slicer|qt|ctk|vtk)\b", text, re.M), path
    for path in EXT.rglob("*.py"):
        assert "slicer_standin" not in path.read_text(), path
