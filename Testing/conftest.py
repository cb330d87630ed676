"""Shared pytest fixtures for every test tier.

Real sample data lives in ``../shared/data`` beside the repository (CI has it too); tests that need it use the
``shared_data`` fixture and are skipped with a clear reason where it is absent.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "CardioGenLogic"))

SHARED_DATA = Path(os.environ.get("CARDIOGEN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ``../shared/data``; skips the test when the sample data is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA} (set CARDIOGEN_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for files tests leave for people to look at (screenshots, previews); git-ignored."""
    path = REPO_ROOT / "Testing" / "_artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
