"""Install what CardioGen needs inside Slicer's Python — after asking, and without touching Slicer's own packages.

* :func:`missing_requirements` lists the requirements of ``Resources/requirements-slicer.txt`` that are absent
  or too old.
* :class:`DependencyInstaller` asks the user (``confirm``), then installs with Slicer's pip helper
  (``slicer.util.pip_install``) under a constraints file that pins every package already installed in Slicer's
  Python (read at run time: numpy, vtk, SimpleITK, pydicom, scipy, Pillow, requests, ... at their installed
  versions), so pip can add packages but never upgrade or replace one Slicer ships. :data:`PROTECTED` are never
  asked for while present, whatever version CardioGen would prefer. torch itself comes from the PyTorch
  extension's PyTorchUtils (declared in ``EXTENSION_DEPENDS``; it picks the CUDA build that fits the machine);
  CardioGen never pins it. A progress dialog shows each step.
* :class:`DependencyGate` is what a module panel calls before each job: it runs the installer once (per need:
  the pip packages, then torch the first time a job needs it) and returns the message to show when the user
  declined or an install failed.
* :func:`device_report` says which devices torch can use (CPU, CUDA device name and memory) for the panels'
  "device" box and its "force CPU" choice.

Nothing here imports slicer at module level; the Slicer calls are injectable for tests.
"""
from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

#: Packages Slicer ships and CardioGen must never upgrade or replace (never requested while present; pinned at
#: their installed versions with everything else installed, see :func:`protected_constraints`).
PROTECTED = ("torch", "numpy", "vtk", "SimpleITK", "pydicom", "scipy", "Pillow", "requests", "packaging",
             "setuptools", "pip", "wheel", "six", "urllib3", "certifi", "idna", "charset-normalizer", "GitPython",
             "dicomweb-client", "lxml", "psutil")
#: What PyTorchUtils may install (torch 2 is what the shipped models and cardiogen.nets need).
TORCH_REQUIREMENT = ">=2.0"

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


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_requirements(requirements: Optional[Iterable[Requirement]] = None,
                         version_of: Callable[[str], Optional[str]] = installed_version) -> list[Requirement]:
    """Requirements that are not installed or older than asked. Protected packages are listed only when absent
    (never to upgrade the version Slicer ships); torch never (it comes through PyTorchUtils)."""
    if requirements is None:
        requirements = parse_requirements(REQUIREMENTS_FILE.read_text().splitlines())
    protected = {_canonical(p) for p in PROTECTED}
    missing = []
    for req in requirements:
        have = version_of(req.name)
        if _canonical(req.name) == "torch" or (_canonical(req.name) in protected and have is not None):
            continue
        if have is None:
            missing.append(req)
        elif req.op in (">=", "~=") and req.version and _version_tuple(have) < _version_tuple(req.version):
            missing.append(req)
        elif req.op == "==" and req.version and _version_tuple(have) != _version_tuple(req.version):
            missing.append(req)
    return missing


def installed_distributions() -> dict[str, str]:
    """``{name: version}`` of every distribution installed in this Python (Slicer's bundle and earlier installs),
    read now, at run time."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and dist.version:
            found.setdefault(name, dist.version)
    return found


def protected_constraints(version_of: Callable[[str], Optional[str]] = installed_version,
                          installed: Optional[Callable[[], dict]] = installed_distributions,
                          installing: Iterable[str] = ()) -> list[str]:
    """``name==version`` lines for a pip constraints file: the :data:`PROTECTED` packages that are present and every
    other installed distribution except those being installed now, each at the version installed."""
    skip = {_canonical(n) for n in installing}
    pins = {}
    for name in PROTECTED:
        if (v := version_of(name)) is not None:
            pins[_canonical(name)] = f"{name}=={v}"
    for name, v in (installed() if installed is not None else {}).items():
        key = _canonical(name)
        if key not in skip and key not in pins and re.fullmatch(r"[0-9][0-9A-Za-z.+!\-]*", v):
            pins[key] = f"{name}=={v}"
    return sorted(pins.values(), key=str.lower)


class DependencyError(RuntimeError):
    """A dependency could not be installed (the message says what to do)."""


class DependencyInstaller:
    """Ask, then install missing packages with Slicer's pip, never replacing a package that is installed.

    Args:
        confirm: ``(message) -> bool``; default ``slicer.util.confirmOkCancelDisplay``.
        pip_install: ``(args: str) -> None``; default ``slicer.util.pip_install``.
        install_torch: ``() -> bool`` installing torch; default PyTorchUtils (raises :class:`DependencyError`
            naming the PyTorch extension when it is not installed).
        torch_installer_available: ``() -> bool``; default: is PyTorchUtils importable. Checked before asking.
        version_of: ``(distribution name) -> version or None``.
        installed: ``() -> {name: version}`` of everything installed (the constraints); default reads it now.
        progress: ``(title) -> object with step(text, fraction) and close()``; default Slicer's progress dialog.

    After :meth:`ensure` returns False, :attr:`message` says why (declined, PyTorch extension missing, pip error).
    """

    def __init__(self, confirm: Optional[Callable[[str], bool]] = None,
                 pip_install: Optional[Callable[[str], None]] = None,
                 install_torch: Optional[Callable[[], bool]] = None,
                 version_of: Callable[[str], Optional[str]] = installed_version,
                 torch_installer_available: Optional[Callable[[], bool]] = None,
                 installed: Optional[Callable[[], dict]] = installed_distributions,
                 progress: Optional[Callable[[str], Any]] = None) -> None:
        self.confirm = confirm or _slicer_confirm
        self.pip_install = pip_install or _slicer_pip_install
        self.install_torch = install_torch or _pytorchutils_install_torch
        self.torch_installer_available = torch_installer_available or (
            (lambda: True) if install_torch is not None else _pytorchutils_available)
        self.version_of = version_of
        self.installed = installed
        self.progress = progress or _SlicerProgress
        self.message = ""

    def needed(self, need_torch: bool = False) -> list[str]:
        """What :meth:`ensure` would install, as shown to the user."""
        names = [str(r) for r in missing_requirements(version_of=self.version_of)]
        return names + (["torch (through the PyTorch extension)"] if need_torch and not self._has_torch() else [])

    def _has_torch(self) -> bool:
        return self.version_of("torch") is not None

    def ensure(self, need_torch: bool = False) -> bool:
        """Make sure everything is installed; False (and :attr:`message`) when the user declined or it failed."""
        self.message = ""
        missing = missing_requirements(version_of=self.version_of)
        torch_missing = need_torch and not self._has_torch()
        if not missing and not torch_missing:
            return True
        if torch_missing and not self.torch_installer_available():
            self.message = PYTORCH_EXTENSION_MESSAGE
            return False
        names = self.needed(need_torch)
        message = ("CardioGen needs these Python packages, which are not installed in Slicer yet:\n\n  "
                   + "\n  ".join(names) + "\n\nInstall them now? This can take a few minutes. Packages that Slicer "
                   "ships (numpy, vtk, SimpleITK, pydicom, scipy, Pillow, ...) are kept as they are.")
        if not self.confirm(message):
            self.message = ("Not installed (declined): " + ", ".join(names) + ". Nothing was run; the next run asks "
                            "again.")
            return False
        progress = self.progress("CardioGen: installing dependencies")
        try:
            if torch_missing:
                progress.step("Installing PyTorch (through the PyTorch extension) ...", 0.05)
                if not self.install_torch():
                    raise DependencyError("PyTorch was not installed (the PyTorch extension gave up or was "
                                          "cancelled).")
            if missing:
                progress.step("Installing " + ", ".join(r.name for r in missing) + " ...", 0.5)
                with tempfile.NamedTemporaryFile("w", suffix="-constraints.txt", delete=False) as fh:
                    fh.write("\n".join(protected_constraints(self.version_of, self.installed,
                                                              [r.name for r in missing])) + "\n")
                    constraints = fh.name
                try:
                    self.pip_install(" ".join(f'"{r}"' for r in missing) + f' -c "{constraints}"')
                finally:
                    Path(constraints).unlink(missing_ok=True)
                importlib.invalidate_caches()
            progress.step("Done.", 1.0)
        except Exception as exc:  # pip's CalledProcessError, PyTorchUtils' errors: shown in the panel
            self.message = f"Installing the dependencies failed: {exc}"
            return False
        finally:
            progress.close()
        still = self.needed(need_torch)
        if still:
            self.message = "Still missing after the install: " + ", ".join(still) + " (see the Python console)."
            return False
        return True


class DependencyGate:
    """Run before each job of a module panel: installs what the job needs the first time (asking once per need).

    Args:
        installer: a :class:`DependencyInstaller`, or a ``() -> DependencyInstaller`` built on first use.
        need_torch: bool or ``() -> bool`` (e.g. only for the learned registration).

    Calling it returns ``None`` when the job may start, else the message to show instead of starting it.
    """

    def __init__(self, installer: Any, need_torch: Any = False) -> None:
        self._installer = installer
        self._need_torch = need_torch
        self._done = set()  # "packages", "torch"

    @property
    def installer(self) -> "DependencyInstaller":
        if not isinstance(self._installer, DependencyInstaller) and callable(self._installer):
            self._installer = self._installer()
        return self._installer

    def __call__(self) -> Optional[str]:
        need_torch = bool(self._need_torch() if callable(self._need_torch) else self._need_torch)
        wanted = {"packages"} | ({"torch"} if need_torch else set())
        if wanted <= self._done:
            return None
        installer = self.installer
        if not installer.ensure(need_torch=need_torch):
            return installer.message or "CardioGen's Python packages are not installed."
        self._done |= wanted
        return None


PYTORCH_EXTENSION_MESSAGE = ("CardioGen needs PyTorch for this: install the 'PyTorch' extension from the Extensions "
                             "Manager (CardioGen declares it as a dependency), restart Slicer, and run again.")


class _SlicerProgress:
    """Slicer's modal progress dialog (``slicer.util.createProgressDialog``), kept responsive between steps."""

    def __init__(self, title: str) -> None:
        import qt
        import slicer

        self._qt = qt
        self.dialog = slicer.util.createProgressDialog(windowTitle=title, labelText=title, maximum=100, value=0)
        qt.QApplication.processEvents()

    def step(self, text: str, fraction: float) -> None:
        self.dialog.setLabelText(text)
        self.dialog.setValue(int(round(100 * fraction)))
        self._qt.QApplication.processEvents()

    def close(self) -> None:
        self.dialog.close()


def _slicer_confirm(message: str) -> bool:  # pragma: no cover - needs the Slicer application
    import slicer

    return bool(slicer.util.confirmOkCancelDisplay(message, "CardioGen: install dependencies"))


def _slicer_pip_install(args: str) -> None:  # pragma: no cover - needs the Slicer application
    import slicer

    slicer.util.pip_install(args)


def _pytorchutils_available() -> bool:
    """Is the PyTorch extension's PyTorchUtils importable (without importing it)?"""
    try:
        return importlib.util.find_spec("PyTorchUtils") is not None
    except ValueError:  # imported already, without a spec
        return sys.modules.get("PyTorchUtils") is not None


def _pytorchutils_install_torch() -> bool:
    """torch through the PyTorch extension (it chooses the CUDA/CPU build); we asked already, so it does not."""
    try:
        import PyTorchUtils  # Slicer's PyTorch extension
    except ImportError as exc:
        raise DependencyError(PYTORCH_EXTENSION_MESSAGE) from exc
    logic = PyTorchUtils.PyTorchUtilsLogic()
    if logic.torchInstalled():
        return True
    return logic.installTorch(askConfirmation=False, torchVersionRequirement=TORCH_REQUIREMENT) is not None


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
