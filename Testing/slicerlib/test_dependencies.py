"""CardioGenSlicerLib.dependencies: asks before installing, never replaces Slicer's own packages."""
from __future__ import annotations

import sys
import types

import pytest

from CardioGenSlicerLib import dependencies as dep


class FakeProgress:
    def __init__(self, log):
        self.log = log

    def __call__(self, title):
        self.log.append(("open", title))
        return self

    def step(self, text, fraction):
        self.log.append((text, fraction))

    def close(self):
        self.log.append(("close", None))


def test_requirements_file_never_names_torch_or_slicers_core_packages():
    reqs = dep.parse_requirements(dep.REQUIREMENTS_FILE.read_text().splitlines())
    names = {r.name.lower() for r in reqs}
    assert names and not names & {"torch", "numpy", "vtk", "simpleitk"}
    assert {"nibabel", "wfdb", "pynrrd", "safetensors"} <= names


def test_missing_requirements_never_upgrade_a_package_slicer_ships():
    versions = {"scipy": "1.9.0", "torch": None, "numpy": "1.0", "pynrrd": "0.4"}
    reqs = dep.parse_requirements(["scipy>=1.11", "pydicom>=3.0", "nibabel", "numpy>=2", "torch>=3  # never",
                                   "pynrrd>=1.0"])
    missing = dep.missing_requirements(reqs, version_of=versions.get)
    # scipy and numpy are Slicer's (kept as shipped), pydicom is protected but absent, torch comes from PyTorchUtils
    assert [str(r) for r in missing] == ["pydicom>=3.0", "nibabel", "pynrrd>=1.0"]


def test_constraints_pin_every_installed_package_read_at_run_time():
    installed = {"numpy": "1.26.4", "vtk": "9.4.0", "SimpleITK": "2.4.0", "pydicom": "2.4.4", "scipy": "1.13.1",
                 "Pillow": "10.4.0", "requests": "2.32.3", "SomeSlicerExtra": "3.1", "pynrrd": "0.4.0",
                 "weird": "local-build"}
    lines = dep.protected_constraints(installed.get, lambda: installed, installing=["pynrrd"])
    for pin in ("numpy==1.26.4", "vtk==9.4.0", "SimpleITK==2.4.0", "pydicom==2.4.4", "scipy==1.13.1",
                "Pillow==10.4.0", "requests==2.32.3", "SomeSlicerExtra==3.1"):
        assert pin in lines
    assert not any(line.startswith(("pynrrd", "weird", "torch")) for line in lines)
    real = dep.installed_distributions()
    assert "numpy" in {name.lower() for name in real}


def _installer(installed, asked, calls, log, answer=True, **kwargs):
    def version_of(name):
        return installed.get(name)

    def pip_install(args):
        calls.append(args)
        constraints = args.split("-c ")[1].strip('"')
        calls.append(open(constraints).read())
        for req in dep.parse_requirements(args.replace('"', "").split(" -c ")[0].split()):
            installed[req.name] = "99"

    return dep.DependencyInstaller(confirm=lambda m: asked.append(m) or answer, pip_install=pip_install,
                                   version_of=version_of, installed=lambda: dict(installed),
                                   progress=FakeProgress(log), **kwargs)


def test_installer_asks_first_shows_progress_and_pins_slicers_packages():
    installed = {"numpy": "1.26.4", "SimpleITK": "2.4.0", "vtk": "9.4.0", "scipy": "1.13.1", "pydicom": "3.0.1",
                 "Pillow": "10.4.0"}
    asked, calls, log = [], [], []
    inst = _installer(installed, asked, calls, log, install_torch=lambda: True)
    assert inst.ensure() is True and inst.message == ""
    assert len(asked) == 1 and "nibabel" in asked[0] and "kept as they are" in asked[0]
    requested = calls[0].split(" -c ")[0]
    assert "nibabel" in requested and "scipy" not in requested and "pydicom" not in requested
    for pin in ("numpy==1.26.4", "SimpleITK==2.4.0", "vtk==9.4.0", "scipy==1.13.1", "pydicom==3.0.1",
                "Pillow==10.4.0"):
        assert pin in calls[1]
    assert "torch" not in calls[0] and "nibabel==" not in calls[1]
    assert log[0][0] == "open" and log[-1] == ("close", None) and ("Done.", 1.0) in log
    asked.clear()
    assert inst.ensure() is True and asked == []  # nothing missing any more: no question


def test_installer_does_nothing_when_user_declines():
    asked, calls, log = [], [], []
    inst = _installer({}, asked, calls, log, answer=False, install_torch=lambda: True)
    assert inst.ensure(need_torch=True) is False and calls == [] and log == []
    assert "declined" in inst.message and "nibabel" in inst.message


def test_torch_needs_the_pytorch_extension_and_says_so(monkeypatch):
    asked, calls, log = [], [], []
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)  # the extension is not installed
    inst = _installer({"torch": None}, asked, calls, log)
    assert inst.ensure(need_torch=True) is False
    assert "'PyTorch' extension" in inst.message and "Extensions Manager" in inst.message
    assert asked == [] and calls == []  # nothing asked that could not be done
    with pytest.raises(dep.DependencyError, match="PyTorch"):
        dep._pytorchutils_install_torch()


def test_torch_comes_from_pytorchutils_with_our_version_requirement(monkeypatch):
    seen = []

    class Logic:
        def torchInstalled(self):
            return False

        def installTorch(self, askConfirmation, torchVersionRequirement=None):
            seen.append((askConfirmation, torchVersionRequirement))
            return types.SimpleNamespace(__version__="2.5.0")

    monkeypatch.setitem(sys.modules, "PyTorchUtils", types.SimpleNamespace(PyTorchUtilsLogic=Logic))
    assert dep._pytorchutils_available()
    assert dep._pytorchutils_install_torch() is True
    assert seen == [(False, dep.TORCH_REQUIREMENT)]  # CardioGen asked already; PyTorchUtils picks the build


def test_gate_asks_once_per_need():
    installed = {"numpy": "1.26.4"}
    asked, calls, log = [], [], []
    torch_installs = []

    def install_torch():
        torch_installs.append(1)
        installed["torch"] = "2.5.0"
        return True

    need = {"torch": False}
    gate = dep.DependencyGate(_installer(installed, asked, calls, log, install_torch=install_torch),
                              need_torch=lambda: need["torch"])
    assert gate() is None and len(asked) == 1 and torch_installs == []
    assert gate() is None and len(asked) == 1  # asked once
    need["torch"] = True
    assert gate() is None and len(asked) == 2 and torch_installs == [1]  # torch the first time a job needs it
    assert gate() is None and len(asked) == 2


def test_gate_returns_the_message_when_declined_and_asks_again_next_time():
    asked, calls, log = [], [], []
    gate = dep.DependencyGate(_installer({}, asked, calls, log, answer=False, install_torch=lambda: True))
    assert "declined" in gate() and "declined" in gate()
    assert len(asked) == 2 and calls == []


def test_device_report_describes_cpu_here():
    info = dep.device_report()
    assert info.torch_installed and not info.cuda
    assert "CPU" in info.describe()


def test_extension_declares_the_pytorch_extension():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "CMakeLists.txt").read_text()
    depends = re.search(r"set\(EXTENSION_DEPENDS ([^)]*)\)", text).group(1).split()
    assert "PyTorch" in depends
