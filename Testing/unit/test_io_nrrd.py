"""NRRD, Slicer .seq.nrrd / .seg.nrrd and displacement NRRD reading and writing."""
from __future__ import annotations

from pathlib import Path

import nrrd
import numpy as np
import pytest

from cardiogen.data import STANDARD_LABELS, DisplacementSeries, Geometry, ImageSeries, LabelInfo, Segmentation
from cardiogen.errors import CardioGenInputError
from cardiogen.io import nrrd_io
from cardiogen.io.nrrd_io import (nrrd_content_kind, read_displacement_nrrd, read_nrrd, read_nrrd_header,
                                  read_segmentation_nrrd, write_displacement_nrrd, write_nrrd,
                                  write_segmentation_nrrd)


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


OBLIQUE = Geometry(spacing=(1.2, 0.8, 5.0), origin=(-10.5, 22.0, 103.25), direction=_rotation(0.35, -0.6, 0.9))


def _series(t: int = 4, *, integer: bool = False, synthetic: bool = True) -> ImageSeries:
    rng = np.random.default_rng(3)
    arr = rng.normal(size=(t, 3, 6, 5)) * 50
    if integer:
        arr = np.round(arr)
    times = np.cumsum(np.r_[10.0, rng.uniform(30, 45, t - 1)])
    return ImageSeries(arr, OBLIQUE, frame_times=times, modality="cine", synthetic=synthetic,
                       provenance={"pipeline": "test", "seed": 3}, description="héllo\nline two",
                       metadata={"heart_rate_bpm": 72.5})


def _header_text(path: Path) -> str:
    data = path.read_bytes()
    return data[: data.index(b"\n\n")].decode("ascii")


def test_static_round_trip_keeps_geometry_values_and_facts(tmp_path: Path) -> None:
    series = _series(1)
    out = write_nrrd(series, tmp_path / "static.nrrd")
    text = _header_text(out)
    assert "dimension: 3" in text and "kinds: domain domain domain" in text
    assert "space: left-posterior-superior" in text
    back = read_nrrd(out)
    assert back.geometry.allclose(OBLIQUE, atol=1e-9)
    np.testing.assert_array_equal(back.array, series.array)
    np.testing.assert_allclose(back.frame_times, series.frame_times)
    assert back.modality == "cine" and back.synthetic is True
    assert back.provenance == {"pipeline": "test", "seed": 3}
    assert back.description == "héllo\nline two"
    assert back.metadata["heart_rate_bpm"] == 72.5


def test_sequence_layout_is_what_slicer_reads(tmp_path: Path) -> None:
    series = _series(4)
    out = write_nrrd(series, tmp_path / "cine.seq.nrrd")
    header = read_nrrd_header(out)
    text = _header_text(out)
    assert header["dimension"] == 4
    assert list(header["sizes"]) == [5, 6, 3, 4]  # x, y, z, list: the list axis is LAST
    assert header["kinds"] == ["domain", "domain", "domain", "list"]
    assert np.all(np.isnan(header["space directions"][3]))
    assert text.splitlines()[[i for i, line in enumerate(text.splitlines())
                              if line.startswith("space directions:")][0]].endswith(" none")
    assert 'labels: "" "" "" "time"' in text and 'units: "" "" "" "ms"' in text
    values = " ".join(format(t, ".10g") for t in series.frame_times)
    assert f"axis 3 index values:={values}" in text
    assert "axis 3 index type:=numeric" in text
    assert "DataNodeClassName:=vtkMRMLScalarVolumeNode" in text
    back = read_nrrd(out)
    np.testing.assert_allclose(back.frame_times, series.frame_times)
    np.testing.assert_array_equal(back.array, series.array)
    assert back.geometry.allclose(OBLIQUE, atol=1e-9)
    assert back.metadata["sequence_index_name"] == "time" and back.metadata["sequence_index_unit"] == "ms"


def test_direction_columns_times_spacing_in_space_directions(tmp_path: Path) -> None:
    out = write_nrrd(_series(1), tmp_path / "a.nrrd")
    sd = read_nrrd_header(out)["space directions"]
    for i in range(3):
        np.testing.assert_allclose(sd[i], OBLIQUE.direction[:, i] * OBLIQUE.spacing[i], atol=1e-12)


def test_simpleitk_agrees_on_geometry_and_voxels(tmp_path: Path) -> None:
    sitk = pytest.importorskip("SimpleITK")
    series = _series(1, integer=True)
    out = write_nrrd(series, tmp_path / "a.nrrd")
    img = sitk.ReadImage(str(out))
    np.testing.assert_allclose(img.GetSpacing(), OBLIQUE.spacing, atol=1e-9)
    np.testing.assert_allclose(img.GetOrigin(), OBLIQUE.origin, atol=1e-9)
    np.testing.assert_allclose(np.array(img.GetDirection()).reshape(3, 3), OBLIQUE.direction, atol=1e-9)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(img), series.array[0])
    # world position of one voxel, both ways
    idx = (4, 2, 1)  # (x, y, z)
    world = OBLIQUE.index_to_world() @ np.array([*idx, 1.0])
    np.testing.assert_allclose(img.TransformIndexToPhysicalPoint(idx), world[:3], atol=1e-9)


def test_whole_numbers_stored_as_integers_others_as_float(tmp_path: Path) -> None:
    assert read_nrrd_header(write_nrrd(_series(1, integer=True), tmp_path / "i.nrrd"))["type"] == "int16"
    assert read_nrrd_header(write_nrrd(_series(1), tmp_path / "f.nrrd"))["type"] == "float"


def test_ras_space_is_converted_to_lps(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int16).reshape(4, 3, 2, order="F")  # x, y, z
    header = {"space": "right-anterior-superior", "space directions": np.diag([2.0, 3.0, 4.0]),
              "space origin": np.array([10.0, 20.0, 30.0]), "kinds": ["domain"] * 3}
    nrrd.write(str(tmp_path / "ras.nrrd"), data, header, index_order="F")
    back = read_nrrd(tmp_path / "ras.nrrd")
    assert back.geometry.allclose(Geometry((2, 3, 4), (-10, -20, 30), np.diag([-1.0, -1.0, 1.0])), atol=1e-12)
    assert back.array[0, 1, 2, 3] == data[3, 2, 1]  # (z, y, x) vs NRRD (x, y, z)


def test_old_slicer_layout_list_axis_first_and_seconds_unit(tmp_path: Path) -> None:
    data = np.random.default_rng(0).integers(0, 100, (3, 4, 5, 2)).astype(np.int16)  # list, x, y, z
    sd = np.vstack([np.full(3, np.nan), np.eye(3)])
    header = {"space": "left-posterior-superior", "space directions": sd, "kinds": ["list", "domain", "domain",
                                                                                   "domain"],
              "labels": ["time", "", "", ""], "units": ["s", "", "", ""], "axis 0 index values": "0 0.05 0.1"}
    nrrd.write(str(tmp_path / "old.seq.nrrd"), data, header, index_order="F")
    back = read_nrrd(tmp_path / "old.seq.nrrd")
    assert back.shape == (3, 2, 5, 4)
    np.testing.assert_allclose(back.frame_times, [0.0, 50.0, 100.0])
    assert back.array[2, 1, 4, 3] == data[2, 3, 4, 1]


def test_2d_nrrd_and_spacings_without_space_directions(tmp_path: Path) -> None:
    nrrd.write(str(tmp_path / "flat.nrrd"), np.ones((7, 5), np.float32), {"spacings": [0.5, 0.25],
                                                                           "kinds": ["domain", "domain"]})
    back = read_nrrd(tmp_path / "flat.nrrd")
    assert back.shape == (1, 1, 5, 7)
    assert back.geometry.spacing == (0.5, 0.25, 1.0)


def test_detached_header_nhdr(tmp_path: Path) -> None:
    data = np.arange(60, dtype=np.float32).reshape(5, 4, 3, order="F")
    nrrd.write(str(tmp_path / "vol.nhdr"), data, {"space": "LPS", "space directions": np.eye(3) * 2,
                                                  "encoding": "raw"}, index_order="F")
    back = read_nrrd(tmp_path / "vol.nhdr")
    assert back.shape == (1, 3, 4, 5) and back.array[0, 2, 3, 4] == data[4, 3, 2]
    (tmp_path / "vol.raw").unlink()
    with pytest.raises(CardioGenInputError, match="data file"):
        read_nrrd(tmp_path / "vol.nhdr")


def test_missing_spacing_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nogeo.nrrd"
    nrrd.write(str(path), np.ones((4, 4, 4), np.float32))
    with pytest.raises(CardioGenInputError, match="missing spacing") as info:
        read_nrrd(path)
    assert str(path) in str(info.value)


def test_absurd_sizes_rejected_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.nrrd"
    path.write_bytes(b"NRRD0004\ntype: double\ndimension: 3\nsizes: 100000 100000 100000\nencoding: raw\n"
                     b"endian: little\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n\n\x00\x00")
    with pytest.raises(CardioGenInputError, match="GB") as info:
        read_nrrd(path)
    assert "huge.nrrd" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"hello", b"NRRD0004\nnot a header line\n\n", b"NRRD0004\ntype: float\n"])
def test_garbage_is_an_input_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.nrrd"
    path.write_bytes(content)
    with pytest.raises(CardioGenInputError) as info:
        read_nrrd(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CardioGenInputError, match="not found"):
        read_nrrd(tmp_path / "nope.nrrd")


def test_vector_file_is_not_a_scalar_image(tmp_path: Path) -> None:
    disp = DisplacementSeries(np.zeros((1, 3, 2, 3, 4)), geometry=OBLIQUE)
    out = write_displacement_nrrd(disp, tmp_path / "d.nrrd")
    with pytest.raises(CardioGenInputError, match="read_displacement_nrrd"):
        read_nrrd(out)


# ---- segmentations ---------------------------------------------------------------------------------------------
def _labels(t: int = 1) -> np.ndarray:
    lab = np.zeros((t, 3, 6, 5), dtype=np.uint8)
    lab[:, 1, 1:5, 1:4] = 2
    lab[:, 1, 2:4, 2] = 1
    return lab


def test_seg_nrrd_has_slicer_segment_fields_and_round_trips(tmp_path: Path) -> None:
    table = {1: STANDARD_LABELS[1], 2: STANDARD_LABELS[2], 3: LabelInfo("RV blood pool", (0.1, 0.2, 0.9))}
    seg = Segmentation(_labels(), label_table=table, geometry=OBLIQUE, frame_times=[120.0])
    out = write_segmentation_nrrd(seg, tmp_path / "lv.seg.nrrd")
    header = read_nrrd_header(out)
    assert header["Segment0_LabelValue"] == "1" and header["Segment1_LabelValue"] == "2"
    assert header["Segment0_Name"] == "LV blood pool" and header["Segment1_Name"] == "LV myocardium"
    assert header["Segment0_Layer"] == "0" and header["Segment0_ID"] == "Segment_1"
    assert header["Segment1_Extent"] == "1 3 1 4 1 1"  # x0 x1 y0 y1 z0 z1
    assert header["Segment2_Extent"] == "0 -1 0 -1 0 -1"  # empty segment
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"
    assert header["Segmentation_ReferenceImageExtentOffset"] == "0 0 0"
    assert [float(c) for c in header["Segment2_Color"].split()] == pytest.approx([0.1, 0.2, 0.9])
    assert nrrd_content_kind(out) == "segmentation"
    back = read_segmentation_nrrd(out)
    np.testing.assert_array_equal(back.labels, seg.labels)
    assert back.label_table[3].name == "RV blood pool"
    assert back.geometry.allclose(OBLIQUE, atol=1e-9)
    np.testing.assert_allclose(back.frame_times, [120.0])


def test_multi_frame_segmentation_is_a_label_sequence(tmp_path: Path) -> None:
    annotated = np.zeros((4, 3), dtype=bool)
    annotated[[0, 2], 1] = True
    seg = Segmentation(_labels(4), geometry=OBLIQUE, frame_times=[0, 40, 80, 120], annotated=annotated,
                       synthetic=True)
    out = write_segmentation_nrrd(seg, tmp_path / "lv.seq.nrrd")
    text = _header_text(out)
    assert "DataNodeClassName:=vtkMRMLLabelMapVolumeNode" in text and "axis 3 index values:=0 40 80 120" in text
    back = read_segmentation_nrrd(out)
    np.testing.assert_array_equal(back.labels, seg.labels)
    np.testing.assert_array_equal(back.annotated, annotated)
    np.testing.assert_allclose(back.frame_times, [0, 40, 80, 120])
    assert back.synthetic and back.label_table[2].name == "LV myocardium"
    # Callers that name a multi-frame file .seg.nrrd still get a label sequence that reads back as frames.
    again = read_segmentation_nrrd(write_segmentation_nrrd(seg, tmp_path / "lv.seg.nrrd"))
    np.testing.assert_array_equal(again.labels, seg.labels)
    np.testing.assert_allclose(again.frame_times, [0, 40, 80, 120])


def test_plain_label_map_gets_generic_names(tmp_path: Path) -> None:
    data = np.zeros((4, 4, 2), dtype=np.uint8)
    data[1:3, 1:3, 0] = 7
    nrrd.write(str(tmp_path / "mask.nrrd"), data, {"space": "LPS", "space directions": np.eye(3)})
    seg = read_segmentation_nrrd(tmp_path / "mask.nrrd")
    assert seg.label_table[7].name == "label 7"
    seg = read_segmentation_nrrd(tmp_path / "mask.nrrd", label_table={7: "heart"})
    assert seg.label_table[7].name == "heart"


def test_slicer_two_layer_seg_nrrd_is_merged(tmp_path: Path) -> None:
    layers = np.zeros((2, 4, 4, 2), dtype=np.uint8)  # layer, x, y, z (Slicer: list axis FIRST for layers)
    layers[0, 0:2, :, 0] = 1
    layers[1, 2:4, :, 1] = 1
    header = {"space": "left-posterior-superior", "kinds": ["list", "domain", "domain", "domain"],
              "space directions": np.vstack([np.full(3, np.nan), np.eye(3)]),
              "Segment0_ID": "a", "Segment0_Name": "heart", "Segment0_LabelValue": "1", "Segment0_Layer": "0",
              "Segment1_ID": "b", "Segment1_Name": "aorta", "Segment1_LabelValue": "1", "Segment1_Layer": "1",
              "Segmentation_MasterRepresentation": "Binary labelmap"}
    nrrd.write(str(tmp_path / "two.seg.nrrd"), layers, header, index_order="F")
    seg = read_segmentation_nrrd(tmp_path / "two.seg.nrrd")
    assert seg.n_frames == 1
    assert {i.name for i in seg.label_table.values()} == {"heart", "aorta"}
    assert seg.labels[0, 0, 0, 0] == seg.value_of("heart") and seg.labels[0, 1, 0, 3] == seg.value_of("aorta")


# ---- displacement ----------------------------------------------------------------------------------------------
def test_displacement_sequence_round_trip(tmp_path: Path) -> None:
    arr = np.random.default_rng(5).normal(size=(3, 3, 3, 6, 5)).astype(np.float32)
    arr[0] = 0
    disp = DisplacementSeries(arr, geometry=OBLIQUE, frame_times=[0, 33.3, 66.6], reference_frame=0,
                              synthetic=True, provenance={"model": "x"})
    out = write_displacement_nrrd(disp, tmp_path / "disp.seq.nrrd")
    header = read_nrrd_header(out)
    assert header["kinds"] == ["vector", "domain", "domain", "domain", "list"]
    assert list(header["sizes"]) == [3, 5, 6, 3, 3]
    assert header["axis 3 index values"] == "0 33.3 66.6"
    assert nrrd_content_kind(out) == "displacement"
    back = read_displacement_nrrd(out)
    np.testing.assert_array_equal(back.array, arr)
    np.testing.assert_allclose(back.frame_times, [0, 33.3, 66.6])
    assert back.geometry.allclose(OBLIQUE, atol=1e-9) and back.synthetic and back.provenance == {"model": "x"}
    single = write_displacement_nrrd(DisplacementSeries(arr[1:2], geometry=OBLIQUE), tmp_path / "one.nrrd")
    assert read_nrrd_header(single)["kinds"] == ["vector", "domain", "domain", "domain"]
    np.testing.assert_array_equal(read_displacement_nrrd(single).array, arr[1:2])


def test_ras_displacement_vectors_become_lps(tmp_path: Path) -> None:
    data = np.zeros((3, 2, 2, 2), dtype=np.float32)
    data[:, 0, 0, 0] = [1.0, 2.0, 3.0]  # RAS components
    header = {"space": "RAS", "kinds": ["vector", "domain", "domain", "domain"],
              "space directions": np.vstack([np.full(3, np.nan), np.eye(3)])}
    nrrd.write(str(tmp_path / "ras_disp.nrrd"), data, header, index_order="F")
    back = read_displacement_nrrd(tmp_path / "ras_disp.nrrd")
    np.testing.assert_allclose(back.array[0, :, 0, 0, 0], [-1.0, -2.0, 3.0])


def test_writers_are_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        Path(args[0]).write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(nrrd, "write", boom)
    with pytest.raises(RuntimeError):
        write_nrrd(_series(2), tmp_path / "x.seq.nrrd")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_synthetic_flag_errs_on_the_synthetic_side(tmp_path: Path) -> None:
    out = write_nrrd(_series(1, synthetic=False), tmp_path / "a.nrrd")
    data = out.read_bytes().replace(b"cardiogen_synthetic:=false", b"cardiogen_synthetic:=fal?e")
    out.write_bytes(data)
    assert read_nrrd(out).synthetic is True


def test_module_constants() -> None:
    assert nrrd_io.COMPRESSION_LEVEL in range(1, 10)
