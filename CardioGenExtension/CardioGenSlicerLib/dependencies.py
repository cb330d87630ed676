"""Install what CardioGen needs inside Slicer's Python — after asking, and without touching Slicer's own packages.

* :func:`missing_requirements` lists the requirements of ``Resources/requirements-slicer.txt`` that are absent
  or too old.
* :class:`DependencyInstaller` asks the user (``confirm``), then installs with Slicer's pip helper
  (``slicer.util.pip_install``) under a constraints file that pins the packages Slicer already ships
  (:data:`PROTECTED`: torch, numpy, vtk, SimpleITK) at their installed versions, so they are never replaced.
  torch itself comes from Slicer's PyTorchUtils extension when it is present (it picks the CUDA build that fits
  the machine); CardioGen never pins it.
* :func:`device_report` says which devices torch can use (CPU, CUDA device name and memory) for the panels'
  "device" box and its "force CPU" choice.

Nothing here imports slicer at module level; the Slicer calls are injectable for tests.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

#: Packages Slicer ships and CardioGen must never pin, upgrade or replace.
PROTECTED = ("torch", "numpy", "vtk", "SimpleITK")

def _requirements_file() -> Path:
    """Installed extension: beside this package; development checkout: the repository's Resources/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "requirements-slicer.txt", here.parents[1] / "Resources" / "requirements-slicer.txt"):
        if candidate.is_file():
            return candidate
    return here / "requirements-slicer.txt"


REQUIREMENTS_FILE = _requirements_file()

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(>=|==|~=)?\s*([0-9][0-9A-Za-z.\-]*)?")


@dataclass(frozen=True)
class Requirement:
    name: str
    op: str = ""
    version: str = ""

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.version}"


def parse_requirements(lines: Iterable[str]) -> list[Requirement]:
    reqs = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = _REQ.match(line)
        if m:
            reqs.append(Requirement(m.group(1), m.group(2) or "", m.group(3) or ""))
    return reqs


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in re.split(r"[.+\-]", text):
        if piece.isdigit():
            parts.append(int(piece))
        else:
            break
    return tuple(parts)


def installed_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing_requirements(requirements: Optional[Iterable[Requirement]] = None,
                         version_of: Callable[[str], Optional[str]] = installed_version) -> list[Requirement]:
    """Requirements that are not installed or older than asked (protected packages are never listed)."""
    if requirements is None:
        requirements = parse_requirements(REQUIREMENTS_FILE.read_text().splitlines())
    missing = []
    for req in requirements:
        if req.name.lower() in {p.lower() for p in PROTECTED}:
            continue
        have = version_of(req.name)
        if have is None:
            missing.append(req)
        elif req.op in (">=", "~=") and req.version and _version_tuple(have) < _version_tuple(req.version):
            missing.append(req)
        elif req.op == "==" and req.version and _version_tuple(have) != _version_tuple(req.version):
            missing.append(req)
    return missing


def protected_constraints(version_of: Callable[[str], Optional[str]] = installed_version) -> list[str]:
    """``name==installed`` lines for the protected packages that are present (used as a pip constraints file)."""
    return [f"{name}=={v}" for name in PROTECTED if (v := version_of(name)) is not None]


class DependencyInstaller:
    """Ask, then install missing packages with Slicer's pip, never replacing protected packages.

    Args:
        confirm: ``(message) -> bool``; default ``slicer.util.confirmOkCancelDisplay``.
        pip_install: ``(args: str) -> None``; default ``slicer.util.pip_install``.
        install_torch: ``() -> bool`` installing torch; default PyTorchUtils when present.
    """

    def __init__(self, confirm: Optional[Callable[[str], bool]] = None,
                 pip_install: Optional[Callable[[str], None]] = None,
                 install_torch: Optional[Callable[[], bool]] = None,
                 version_of: Callable[[str], Optional[str]] = installed_version) -> None:
        self.confirm = confirm or _slicer_confirm
        self.pip_install = pip_install or _slicer_pip_install
        self.install_torch = install_torch or _pytorchutils_install_torch
        self.version_of = version_of

    def ensure(self, need_torch: bool = False) -> bool:
        """Make sure everything is installed; returns False when the user declined or an install failed."""
        missing = missing_requirements(version_of=self.version_of)
        torch_missing = need_torch and self.version_of("torch") is None
        if not missing and not torch_missing:
            return True
        names = [str(r) for r in missing] + (["torch (through PyTorchUtils)"] if torch_missing else [])
        message = ("CardioGen needs these Python packages, which are not installed in Slicer yet:\n\n  "
                   + "\n  ".join(names) + "\n\nInstall them now? This can take a few minutes.")
        if not self.confirm(message):
            return False
        if torch_missing and not self.install_torch():
            return False
        if missing:
            with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as fh:
                fh.write("\n".join(protected_constraints(self.version_of)) + "\n")
                constraints = fh.name
            try:
                self.pip_install(" ".join(f'"{r}"' for r in missing) + f' -c "{constraints}"')
            finally:
                Path(constraints).unlink(missing_ok=True)
        return not missing_requirements(version_of=self.version_of)


def _slicer_confirm(message: str) -> bool:  # pragma: no cover - needs the Slicer application
    import slicer

    return bool(slicer.util.confirmOkCancelDisplay(message, "CardioGen: install dependencies"))


def _slicer_pip_install(args: str) -> None:  # pragma: no cover - needs the Slicer application
    import slicer

    slicer.util.pip_install(args)


def _pytorchutils_install_torch() -> bool:  # pragma: no cover - needs the Slicer application
    try:
        import PyTorchUtils  # Slicer's PyTorch extension
    except ImportError:
        import slicer

        slicer.util.errorDisplay("CardioGen needs PyTorch. Install the 'PyTorch' extension from the Extensions "
                                 "Manager, restart Slicer, and try again.")
        return False
    logic = PyTorchUtils.PyTorchUtilsLogic()
    if not logic.torchInstalled():
        return logic.installTorch(askConfirmation=False) is not None
    return True


@dataclass
class DeviceInfo:
    torch_installed: bool
    cuda: bool
    name: str
    memory_gb: Optional[float]

    def describe(self) -> str:
        if not self.torch_installed:
            return "PyTorch not installed (CPU only once installed)"
        if not self.cuda:
            return "CPU (no CUDA GPU found)"
        mem = f", {self.memory_gb:.1f} GB" if self.memory_gb else ""
        return f"GPU: {self.name}{mem}"


def device_report() -> DeviceInfo:
    """Which device torch would use: CUDA device 0 (name, memory) or the CPU."""
    if installed_version("torch") is None:
        return DeviceInfo(False, False, "cpu", None)
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return DeviceInfo(True, True, props.name, props.total_memory / 1024**3)
    return DeviceInfo(True, False, "cpu", None)
