"""The installed package is the one imported, wherever Python starts: from the folder above a clone named
``cardiogen`` (whose top folder would otherwise be taken for an empty namespace package, failing late with a confusing
ImportError), ``import cardiogen`` and ``python -m cardiogen`` still find the real package."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_a_folder_named_cardiogen_in_the_working_directory_does_not_shadow_the_package(tmp_path):
    installed = _run(["-c", "import importlib.metadata as m; print(m.version('cardiogen'))"], Path("/"))
    if installed.returncode != 0:
        pytest.skip("cardiogen is not installed in this interpreter (bash scripts/setup.sh installs it)")
    version = installed.stdout.strip()
    clone = tmp_path / "cardiogen"  # what `git clone ... cardiogen` leaves: no __init__.py at its top
    (clone / "CardioGenLogic" / "cardiogen").mkdir(parents=True)
    (clone / "README.md").write_text("a clone\n")
    hint = ("the folder 'cardiogen' in the working directory shadowed the installed package: the editable install "
            "must be a sys.path entry (CardioGenLogic/pyproject.toml package-dir; re-run bash scripts/setup.sh)")
    out = _run(["-c", "import cardiogen, cardiogen.phantom; print(cardiogen.__file__, cardiogen.__version__)"],
               tmp_path)
    assert out.returncode == 0, f"{hint}\n{out.stderr}"
    file, imported_version = out.stdout.split()
    assert Path(file).name == "__init__.py" and not Path(file).is_relative_to(tmp_path), (hint, file)
    assert imported_version == version
    cli = _run(["-m", "cardiogen", "--version"], tmp_path)
    assert cli.returncode == 0 and version in cli.stdout + cli.stderr, f"{hint}\n{cli.stderr}"
