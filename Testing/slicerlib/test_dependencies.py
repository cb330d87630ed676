"""CardioGenSlicerLib.dependencies: asks before installing, never replaces Slicer's own packages."""
from __future__ import annotations

from CardioGenSlicerLib import dependencies as dep


def test_requirements_file_has_no_protected_packages():
    reqs = dep.parse_requirements(dep.REQUIREMENTS_FILE.read_text().splitlines())
    names = {r.name.lower() for r in reqs}
    assert names and not names & {p.lower() for p in dep.PROTECTED}
    assert "pydicom" in names and "nibabel" in names


def test_missing_requirements_checks_presence_and_versions():
    versions = {"scipy": "1.9.0", "pydicom": "3.0.2", "torch": None, "numpy": "1.0"}
    reqs = dep.parse_requirements(["scipy>=1.11", "pydicom>=3.0", "nibabel", "numpy>=2", "torch>=3  # never"])
    missing = dep.missing_requirements(reqs, version_of=versions.get)
    assert [str(r) for r in missing] == ["scipy>=1.11", "nibabel"]


def test_installer_asks_first_and_pins_protected_packages():
    installed = {"numpy": "1.26.4", "SimpleITK": "2.4.0", "vtk": "9.4.0", "torch": None}
    asked, calls = [], []

    def version_of(name):
        return installed.get(name, None) if name in installed else ("99" if calls else None)

    def pip_install(args):
        calls.append(args)
        constraints = args.split("-c ")[1].strip('"')
        calls.append(open(constraints).read())

    inst = dep.DependencyInstaller(confirm=lambda m: asked.append(m) or True, pip_install=pip_install,
                                   install_torch=lambda: True, version_of=version_of)
    assert inst.ensure() is True
    assert len(asked) == 1 and "pydicom" in asked[0]
    assert "numpy==1.26.4" in calls[1] and "SimpleITK==2.4.0" in calls[1] and "vtk==9.4.0" in calls[1]
    assert "torch" not in calls[0]


def test_installer_does_nothing_when_user_declines():
    calls = []
    inst = dep.DependencyInstaller(confirm=lambda m: False, pip_install=calls.append, install_torch=lambda: True,
                                   version_of=lambda name: None)
    assert inst.ensure(need_torch=True) is False and calls == []


def test_device_report_describes_cpu_here():
    info = dep.device_report()
    assert info.torch_installed and not info.cuda
    assert "CPU" in info.describe()
