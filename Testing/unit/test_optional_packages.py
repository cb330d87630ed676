"""A missing optional package disables only its format, with a message naming the package (fresh 3D Slicer)."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from cardiogen.data import Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError, CardioGenMissingPackageError, import_optional


def _series():
    return ImageSeries(np.random.default_rng(0).normal(size=(4, 2, 8, 8)), Geometry((1.5, 1.5, 8.0)),
                       frame_times=np.arange(4) * 40.0, modality="cine")


def test_missing_nibabel_disables_nifti_only(tmp_path, monkeypatch):
    from cardiogen.io import load, save

    nifti = save(_series(), tmp_path / "cine.nii.gz")
    nrrd = save(_series(), tmp_path / "cine.seq.nrrd")
    monkeypatch.setitem(sys.modules, "nibabel", None)
    with pytest.raises(CardioGenInputError, match="needs the Python package 'nibabel'") as info:
        load(nifti)
    assert "other formats still work" in str(info.value)
    assert load(nrrd).array.shape[0] == 4


def test_missing_wfdb_disables_wfdb_records_only(tmp_path, monkeypatch):
    from cardiogen.io import read_ecg_wfdb

    (tmp_path / "rec.hea").write_text("rec 1 500 1000\nrec.dat 16 200 12 0 0 0 0 I\n")
    monkeypatch.setitem(sys.modules, "wfdb", None)
    with pytest.raises(CardioGenInputError, match="'wfdb'"):
        read_ecg_wfdb(tmp_path / "rec.hea")


def test_import_optional_names_the_pip_package():
    with pytest.raises(CardioGenMissingPackageError, match="pip install scikit-image"):
        import_optional("skimage_not_here", package="scikit-image", feature="filling contours")
    assert import_optional("json", package="json", feature="x").dumps([]) == "[]"
