"""DICOM conformance tier: every export path's series passes dciodvfy (dicom3tools) with zero errors.

Skips with the reason where dciodvfy is not installed (``.ci/run`` installs the Debian package dicom3tools).
Warnings are pinned too: MR series have none; CT and Secondary Capture series only carry the listed attributes
outside their IOD (a Standard Extended SOP Class): the cardiac-phase attributes a multi-phase CT needs, and the
image-plane attributes a Secondary Capture needs to keep its geometry.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dciodvfy_check import assert_conforms, dciodvfy  # noqa: E402

from cardiogen.data import ImageSeries  # noqa: E402
from cardiogen.io.dicom_export import write_dicom_series  # noqa: E402

#: CT Image IOD: the classic CT IOD has no cardiac-phase attributes; the reader orders CT phases by them
CT_EXTENSIONS = {
    "(0x0018,0x1060)",  # TriggerTime
    "(0x0018,0x1062)",  # NominalInterval
    "(0x0018,0x1088)",  # HeartRate
    "(0x0020,0x0100)",  # TemporalPositionIdentifier
    "(0x0020,0x0105)",  # NumberOfTemporalPositions
}
#: SC Image IOD: no image plane / frame of reference; the reader needs them for the geometry
SC_EXTENSIONS = CT_EXTENSIONS - {"(0x0018,0x1062)", "(0x0018,0x1088)"} | {
    "(0x0018,0x0050)",  # SliceThickness
    "(0x0018,0x0088)",  # SpacingBetweenSlices
    "(0x0020,0x0032)",  # ImagePositionPatient
    "(0x0020,0x0037)",  # ImageOrientationPatient
    "(0x0020,0x0052)",  # FrameOfReferenceUID
    "(0x0020,0x1040)",  # PositionReferenceIndicator
    "(0x0020,0x1041)",  # SliceLocation
}


@pytest.fixture(scope="module")
def case():
    dciodvfy()  # skip before building the phantom when the validator is absent
    from cardiogen.phantom import PhantomConfig, make_case

    return make_case(PhantomConfig(seed=5, size=32, frames=4, slices=2, ct_size=24, ct_frames=2,
                                   modalities=("cine", "tagging", "dense", "ct")))


@pytest.mark.parametrize("name", ["cine", "tagging", "dense_mag", "dense_phase_x", "dense_phase_y"])
def test_phantom_mr_series_conform(case, tmp_path, name):
    if name == "dense_mag":
        series = case.dense.magnitude
    elif name.startswith("dense_phase"):
        i = case.dense.encodings.index(name[-1])
        series = case.dense.magnitude.with_array(case.dense.phase[i], modality="dense_phase")
    else:
        series = getattr(case, name)
    assert series.synthetic
    write_dicom_series(series, tmp_path / name)
    assert_conforms(tmp_path / name, "MRImage")


def test_phantom_ct_conforms(case, tmp_path):
    write_dicom_series(case.ct, tmp_path / "ct")
    assert_conforms(tmp_path / "ct", "CTImage", CT_EXTENSIONS)


def test_phantom_strain_and_labels_conform_as_secondary_capture(case, tmp_path):
    strain = case.truth.strain
    component = next(iter(strain.components))
    series = ImageSeries(strain.components[component], strain.geometry, frame_times=strain.frame_times,
                         modality="strain", synthetic=True, description=f"PHANTOM truth {component} strain")
    write_dicom_series(series, tmp_path / "strain")
    assert_conforms(tmp_path / "strain", "SCImage", SC_EXTENSIONS)
    masks = case.truth.masks
    labels = ImageSeries(masks.labels.astype(np.float32), masks.geometry, frame_times=masks.frame_times,
                         modality="label", synthetic=True)
    write_dicom_series(labels, tmp_path / "label")
    assert_conforms(tmp_path / "label", "SCImage", SC_EXTENSIONS)


def test_cli_convert_to_a_dicom_folder_conforms(case, tmp_path):
    import cardiogen.io as cio
    from cardiogen.cli import main

    cio.save(case.cine, tmp_path / "cine.seq.nrrd")
    assert main(["convert", str(tmp_path / "cine.seq.nrrd"), str(tmp_path / "dicom")]) == 0
    assert_conforms(tmp_path / "dicom", "MRImage")


@pytest.mark.realdata
@pytest.mark.parametrize("copy_patient", [False, True])
def test_real_cine_reexport_conforms_and_keeps_its_pixels(shared_data, tmp_path, copy_patient):
    dciodvfy()
    from cardiogen.io.dicom_io import read_dicom_series

    folder = shared_data / "cine_sunnybrook" / "SCD0000101"
    cine = read_dicom_series(folder)
    source = sorted(folder.glob("*.dcm"))[0] if copy_patient else None
    write_dicom_series(cine, tmp_path / "cine", source_dataset=source, copy_patient=copy_patient)
    # the copied PatientName "SCD0000101" is the source's, in a form PS3.5 retired; its birth date "00000000"
    # (not a date) is written empty
    assert_conforms(tmp_path / "cine", "MRImage",
                    allowed_warnings=("Patient's Name  PN [1] = <...> - Retired Person Name form",) * copy_patient)
    back = read_dicom_series(tmp_path / "cine")
    assert np.array_equal(back.array, cine.array)  # integer MR: stored exactly, no value mapping
    assert back.metadata["patient_position"] == cine.metadata["patient_position"]


@pytest.mark.realdata
def test_real_ct_reexport_conforms(shared_data, tmp_path):
    dciodvfy()
    import cardiogen.io as cio

    ct = cio.load(shared_data / "ct" / "ct_cropped.nii.gz")
    assert ct.modality == "ct"
    write_dicom_series(ct, tmp_path / "ct")
    assert_conforms(tmp_path / "ct", "CTImage", CT_EXTENSIONS)
    from cardiogen.io.dicom_io import read_dicom_series

    assert np.array_equal(read_dicom_series(tmp_path / "ct").array, ct.array)  # integer HU: exact
