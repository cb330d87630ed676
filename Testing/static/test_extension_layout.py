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


def _cmake_set(text: str, variable: str) -> str:
    m = re.search(r'set\(' + variable + r'\s+"?([^")]*)"?\)', text)
    assert m, f"{variable} not set"
    return m.group(1)


def test_icon_and_screenshot_urls_point_to_files_in_the_repository():
    text = (ROOT / "CMakeLists.txt").read_text()
    prefix = "https://raw.githubusercontent.com/cardiogen/SlicerCardioGen/main/"
    urls = _cmake_set(text, "EXTENSION_SCREENSHOTURLS").split() + [_cmake_set(text, "EXTENSION_ICONURL")]
    assert len(urls) >= 3
    for url in urls:
        assert url.startswith(prefix), url
        path = ROOT / url[len(prefix):]
        assert path.is_file() and path.stat().st_size > 1000, f"{url}: no such file in the repository"


def test_minimum_slicer_version_is_the_same_in_cmake_the_modules_and_the_docs():
    import sys

    sys.path.insert(0, str(EXT))
    from CardioGenSlicerLib.compat import MINIMUM_PYTHON, MINIMUM_SLICER

    version = ".".join(map(str, MINIMUM_SLICER))
    assert _cmake_set((ROOT / "CMakeLists.txt").read_text(), "CARDIOGEN_MINIMUM_SLICER_VERSION") == version
    docs = (ROOT / "docs" / "slicer.md").read_text()
    assert f"Slicer {version} or later" in docs and f"Python {'.'.join(map(str, MINIMUM_PYTHON))}" in docs
    pyproject = (ROOT / "CardioGenLogic" / "pyproject.toml").read_text()
    assert f'requires-python = ">={".".join(map(str, MINIMUM_PYTHON))}' in pyproject


def test_build_tree_has_the_package_and_the_weights_where_cardiogen_finds_them(tmp_path):
    """Run CMake/CardioGenBuildTree.cmake (what the top-level CMakeLists.txt includes) with `cmake -P` into a fake
    build tree, then import cardiogen from that tree in a fresh interpreter: it finds the registry beside itself
    and loads shipped weights with their sha256 checked."""
    import os
    import shutil
    import subprocess
    import sys

    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    lib = "lib/Slicer-5.10/qt-scripted-modules"
    # in script mode CMAKE_BINARY_DIR is the working directory
    run = subprocess.run([cmake, f"-DCARDIOGEN_SOURCE_DIR={ROOT}", f"-DSlicer_QTSCRIPTEDMODULES_LIB_DIR={lib}", "-P",
                          str(ROOT / "CMake" / "CardioGenBuildTree.cmake")],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    tree = tmp_path / lib
    shipped = sorted(p.name for p in (ROOT / "Resources" / "Models").glob("*.safetensors"))
    assert sorted(p.name for p in (tree / "Resources" / "Models").glob("*.safetensors")) == shipped
    assert (tree / "cardiogen" / "weights.py").is_file() and (tree / "cardiogen" / "configs").is_dir()
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from cardiogen.weights import Registry, shipped_models_dir, "
            "check_file; print(shipped_models_dir()); r = Registry(); check_file(r.get('gancmri-phantom-64')); "
            "print(len(r.list()))")
    env = {k: v for k, v in os.environ.items() if k not in ("CARDIOGEN_MODELS", "PYTHONPATH")}
    env["CARDIOGEN_USER_MODELS"] = str(tmp_path / "user-models")
    check = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, text=True, timeout=300,
                           cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stderr[-2000:]
    found, count = check.stdout.split()
    assert found == str(tree / "Resources" / "Models") and int(count) >= len(shipped) - 1


_FAKE_SLICER = """
set(Slicer_VERSION_MAJOR {major})
set(Slicer_VERSION_MINOR {minor})
set(Slicer_QTSCRIPTEDMODULES_LIB_DIR lib/Slicer-{major}.{minor}/qt-scripted-modules)
set(Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR ${{Slicer_QTSCRIPTEDMODULES_LIB_DIR}})
set(Slicer_USE_FILE ${{CMAKE_CURRENT_LIST_DIR}}/empty.cmake)
set(Slicer_EXTENSION_GENERATE_CONFIG ${{CMAKE_CURRENT_LIST_DIR}}/empty.cmake)
set(Slicer_EXTENSION_CPACK ${{CMAKE_CURRENT_LIST_DIR}}/empty.cmake)
function(slicerMacroBuildScriptedModule)
endfunction()
function(ctkMacroCompilePythonScript)
endfunction()
function(slicer_add_python_unittest)
endfunction()
"""


@pytest.mark.parametrize("version, ok", [((5, 10), True), ((5, 8), False)])
def test_cmake_configures_against_a_stub_slicer_and_refuses_an_old_one(tmp_path, version, ok):
    """The whole CMake tree configures (a stub SlicerConfig.cmake: no-op macros, the version given); the minimum
    Slicer version stops an older one with a clear message."""
    import shutil
    import subprocess

    cmake = shutil.which("cmake")
    if cmake is None or not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("cmake or a C compiler (project() looks for one) is not installed")
    stub = tmp_path / "Slicer"
    stub.mkdir()
    (stub / "empty.cmake").write_text("")
    (stub / "SlicerConfig.cmake").write_text(_FAKE_SLICER.format(major=version[0], minor=version[1]))
    run = subprocess.run([cmake, "-S", str(ROOT), "-B", str(tmp_path / "build"), f"-DSlicer_DIR={stub}",
                          "-DBUILD_TESTING=OFF"], capture_output=True, text=True, timeout=300)
    if ok:
        assert run.returncode == 0, run.stderr[-3000:]
        models = tmp_path / "build" / "lib" / "Slicer-5.10" / "qt-scripted-modules" / "Resources" / "Models"
        assert (models / "registry.json").is_file()
    else:
        assert run.returncode != 0 and "CardioGen needs Slicer 5.10 or later" in run.stderr, run.stderr[-3000:]


def test_slicer_docs_list_every_module_the_pytorch_step_and_the_self_tests():
    docs = (ROOT / "docs" / "slicer.md").read_text()
    for module in MODULES:
        title = re.search(r'self\.parent\.title = "([^"]+)"', (EXT / module / f"{module}.py").read_text()).group(1)
        assert f"**{title}**" in docs and f"### {title}" in docs, title
        assert f'slicer.selfTests["{module}"]' in docs or f'"{module}"' in docs, module
    assert "PyTorch extension" in docs and "Extensions Manager" in docs and "EXTENSION_DEPENDS" in docs
    for how in ("Reload and Test", "slicer.selfTests[", "ctest -R py_CardioGen"):
        assert how in docs, how
    for shot in re.findall(r"\]\((screenshots/[^)]+)\)", docs):
        assert (ROOT / "docs" / shot).is_file(), shot
