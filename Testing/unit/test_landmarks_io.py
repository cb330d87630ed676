"""Issue 19 item 2: landmark readers (CSV, JSON, HDF5) and tagging series input; bad files give clear errors."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from cardiogen.data import Geometry, ImageSeries, LandmarkSeries
from cardiogen.errors import CardioGenInputError, CardioGenMissingPackageError
from cardiogen.io import landmarks_io as L


def _csv(path, rows, header="frame,point,x,y,unit,layer,sector"):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def _rows(nt=3, n=8, unit="mm"):
    rows = []
    for f in range(nt):
        for p in range(n):
            a = 2 * np.pi * (p % 4) / 4
            r = (10 if p < 4 else 15) * (1 - 0.05 * f)
            rows.append((f, p, round(r * np.cos(a), 4), round(-r * np.sin(a), 4), unit, 0 if p < 4 else 1, p % 4))
    return rows


def test_csv_mm_and_px(tmp_path) -> None:
    s = L.read_landmarks_csv(_csv(tmp_path / "a.csv", _rows()))
    assert isinstance(s, LandmarkSeries) and s.points.shape == (3, 8, 3)
    assert s.layer_order == ("endo", "epi") and list(s.labels["layer"][:5]) == ["endo"] * 4 + ["epi"]
    np.testing.assert_allclose(s.points[0, 0], [10, 0, 0])
    geo = Geometry(spacing=(2.0, 2.0, 8.0), origin=(1.0, 2.0, 3.0))
    px = L.read_landmarks_csv(_csv(tmp_path / "b.csv", _rows(unit="px")), geometry=geo)
    np.testing.assert_allclose(px.points[0, 0], [21.0, 2.0, 3.0])
    with pytest.raises(CardioGenInputError, match="geometry"):
        L.read_landmarks_csv(tmp_path / "b.csv")
    # unit stated by option only
    _csv(tmp_path / "c.csv", [r[:4] for r in _rows()], header="frame,point,x,y")
    with pytest.raises(CardioGenInputError, match="unit is not stated"):
        L.read_landmarks_csv(tmp_path / "c.csv")
    assert L.read_landmarks_csv(tmp_path / "c.csv", unit="mm").n_points == 8


def test_json_and_strain_end_to_end(tmp_path) -> None:
    from cardiogen.motion.landmarks import landmark_strain_series

    recs = [dict(zip(("frame", "point", "x", "y", "unit", "layer", "sector"), r)) for r in _rows()]
    for r in recs:
        r.pop("unit")
    (tmp_path / "l.json").write_text(json.dumps({"unit": "mm", "landmarks": recs, "frame_times": [0, 40, 80],
                                                 "es_frame": 2}))
    s = L.read_landmarks_json(tmp_path / "l.json")
    assert s.es_frame == 2 and s.frame_times.tolist() == [0, 40, 80]
    res = landmark_strain_series(s)
    np.testing.assert_allclose(res.curve("circumferential", "engineering", "endo"), [0, -0.05, -0.1], atol=1e-4)


@pytest.mark.parametrize("case", ["empty", "header_only", "columns", "nan", "text", "missing_row", "duplicate",
                                  "gap", "ragged", "units", "truncated", "badunit", "layer"])
def test_bad_csv(tmp_path, case) -> None:
    rows = _rows()
    p = tmp_path / f"{case}.csv"
    if case == "empty":
        p.write_text("")
    elif case == "header_only":
        p.write_text("frame,point,x,y,unit\n")
    elif case == "columns":
        _csv(p, rows, header="frame,pt,x,y,unit,layer,sector")
    elif case == "nan":
        rows[3] = rows[3][:2] + ("nan",) + rows[3][3:]
        _csv(p, rows)
    elif case == "text":
        rows[3] = rows[3][:3] + ("abc",) + rows[3][4:]
        _csv(p, rows)
    elif case == "missing_row":
        _csv(p, rows[:-1])
    elif case == "duplicate":
        _csv(p, rows[:-1] + [rows[0]])
    elif case == "gap":
        _csv(p, [r for r in rows if r[0] != 1])
    elif case == "ragged":
        _csv(p, rows)
        p.write_text(p.read_text() + "1,2\n")
    elif case == "units":
        rows[0] = rows[0][:4] + ("px",) + rows[0][5:]
        _csv(p, rows)
    elif case == "truncated":
        _csv(p, rows)
        p.write_bytes(p.read_bytes()[:57])
    elif case == "badunit":
        _csv(p, _rows(unit="inch"))
    elif case == "layer":
        rows = [r[:5] + ("bogus",) + r[6:] for r in rows]
        _csv(p, rows)
    with pytest.raises(CardioGenInputError) as exc:
        L.read_landmarks_csv(p)
    assert str(p) in str(exc.value)


def test_csv_fuzz(tmp_path) -> None:
    """Seeded mutations of a good CSV: a valid series or a CardioGenInputError naming the file, nothing else."""
    good = _csv(tmp_path / "good.csv", _rows()).read_bytes()
    rng = np.random.default_rng(19)
    outcomes = {"ok": 0, "error": 0}
    for i in range(300):
        data = bytearray(good)
        kind = i % 4
        if kind == 0:
            data = data[: int(rng.integers(0, len(data)))]
        elif kind == 1:
            for _ in range(int(rng.integers(1, 6))):
                data[int(rng.integers(len(data)))] = int(rng.integers(256))
        elif kind == 2:
            pos = int(rng.integers(len(data)))
            data[pos:pos] = rng.choice([b"nan", b"-1", b"1e308", b",", b"\n", b"\x00", b"px"])
        else:
            text = data.decode()
            lines = text.splitlines()
            del lines[int(rng.integers(1, len(lines)))]
            data = bytearray(("\n".join(lines)).encode())
        p = tmp_path / f"m{i}.csv"
        p.write_bytes(bytes(data))
        try:
            out = L.read_landmarks_csv(p)
            assert isinstance(out, LandmarkSeries)
            outcomes["ok"] += 1
        except CardioGenInputError as exc:
            assert str(p) in str(exc)
            outcomes["error"] += 1
    assert outcomes["error"] > 100


@pytest.mark.parametrize("doc", ["{", "[]", '{"landmarks": 3}', '{"unit": "mm", "landmarks": [1, 2]}',
                                 '{"unit": "mm", "landmarks": [{"frame": 0, "point": 0, "x": 1}]}'])
def test_bad_json(tmp_path, doc) -> None:
    p = tmp_path / "bad.json"
    p.write_text(doc)
    with pytest.raises(CardioGenInputError) as exc:
        L.read_landmarks_json(p)
    assert str(p) in str(exc.value)


def test_hdf5(tmp_path) -> None:
    if importlib.util.find_spec("h5py") is None:
        with pytest.raises(CardioGenMissingPackageError, match="h5py"):
            L.read_landmarks_hdf5(_csv(tmp_path / "x.h5", _rows()))
        pytest.skip("h5py is not installed: the HDF5 reader reports the missing package (checked)")
    import h5py

    rng = np.random.default_rng(0)
    img = rng.random((2, 5, 16, 16)).astype(np.float32)
    lm = rng.random((2, 5, 2, 7)) * 15
    with h5py.File(tmp_path / "d.h5", "w") as fh:
        fh["images"] = img
        fh["points"] = lm
        fh["pixel_spacing"] = np.array([[1.5, 1.5], [2.0, 2.0]])
        fh["ed"] = np.array([0, 1])
        fh["es"] = np.array([3, 4])
    cases = L.read_landmarks_hdf5(tmp_path / "d.h5")
    assert len(cases) == 2
    image, marks = cases[1]
    assert image.modality == "tagging" and image.shape == (5, 1, 16, 16)
    assert marks.reference_frame == 1 and marks.es_frame == 4
    np.testing.assert_allclose(marks.points[:, :, 0], lm[1, :, 0] * 2.0)
    with h5py.File(tmp_path / "two.h5", "w") as fh:
        fh["images"] = img
        fh["a"] = lm
        fh["b"] = np.swapaxes(lm, 2, 3)
    with pytest.raises(CardioGenInputError, match="several"):
        L.read_landmarks_hdf5(tmp_path / "two.h5")
    one = L.read_landmarks_hdf5(tmp_path / "two.h5", landmarks_key="b", case=0)
    np.testing.assert_allclose(one[0][1].points[:, :, 1], lm[0, :, 1])
    from cardiogen.io import load

    assert len(load(tmp_path / "d.h5", kind="landmarks", case=1)) == 1
    (tmp_path / "bad.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(CardioGenInputError):
        L.read_landmarks_hdf5(tmp_path / "bad.h5")


def test_read_tagging_nifti(tmp_path) -> None:
    pytest.importorskip("nibabel")
    from cardiogen.io import save

    series = ImageSeries(np.random.default_rng(0).random((4, 1, 12, 12)), modality="cine")
    save(series, tmp_path / "t.nii.gz")
    tag = L.read_tagging(tmp_path / "t.nii.gz")
    assert tag.modality == "tagging" and tag.shape == (4, 1, 12, 12)


def test_tagged_dicom_named_tagging(tmp_path) -> None:
    pydicom = pytest.importorskip("pydicom")
    from cardiogen.io import load, write_dicom_series

    series = ImageSeries(np.random.default_rng(1).random((3, 1, 10, 10)) * 100, modality="cine",
                         geometry=Geometry(spacing=(1.4, 1.4, 8.0)), frame_times=[0, 41, 82])
    files = write_dicom_series(series, tmp_path / "dcm")
    for desc, expected in (("cine_tagging_3sl_rot45", "tagging"), ("SAX grid TAG", "tagging"),
                           ("CSPAMM mid", "tagging"), ("CINE_segmented_SAX stage", "cine")):
        for f in files:
            ds = pydicom.dcmread(f)
            if "ImageComments" in ds:
                del ds.ImageComments
            ds.SeriesDescription = desc
            ds.save_as(f)
        out = load(tmp_path / "dcm")
        assert out.modality == expected, desc
        assert out.n_frames == 3 and out.frame_times.tolist() == pytest.approx([0, 41, 82])
    assert L.read_tagging(tmp_path / "dcm").modality == "tagging"


def test_load_dispatch_and_describe(tmp_path) -> None:
    from cardiogen.io import describe, load

    csv_path = _csv(tmp_path / "l.csv", _rows())
    s = load(csv_path, kind="landmarks")
    assert isinstance(s, LandmarkSeries)
    recs = [dict(zip(("frame", "point", "x", "y", "unit"), r[:5])) for r in _rows()]
    (tmp_path / "l.json").write_text(json.dumps({"landmarks": recs}))
    assert load(tmp_path / "l.json").n_points == 8  # a JSON with a "landmarks" list is recognised
    d = describe(s)
    assert d["kind"] == "landmarks" and d["points"] == 8 and d["frames"] == 3 and d["layers"] == ["endo", "epi"]
    (tmp_path / "l.xyz").write_text("x")
    with pytest.raises(CardioGenInputError, match="unknown landmark file type"):
        load(tmp_path / "l.xyz", kind="landmarks")
    with pytest.raises(CardioGenInputError, match="do not apply"):
        load(csv_path, kind="landmarks", bogus=1)
