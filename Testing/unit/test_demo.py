"""The demo page (``cardiogen demo``): readable tables (units, sensible digits, missing values stated), and the
DENSE -> cine row showing its input and the true cine at the model crop's field of view and scale."""
from __future__ import annotations

import re

import numpy as np
import pytest

from cardiogen.data import Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError


def test_readable_gives_units_sensible_digits_and_states_missing_values():
    from cardiogen.demo import NOT_MEASURED, readable

    assert readable("heart_rate_bpm", None) == ("Heart rate", NOT_MEASURED)
    assert readable("heart_rate_bpm", 59.26762468797152) == ("Heart rate", "59 bpm")
    assert readable("lv_edv_ml", 109.51530921793331) == ("LV end-diastolic volume", "110 mL")
    assert readable("lv_ef_pct", 62.5647) == ("LV ejection fraction", "62.6 %")
    assert readable("cardiac_output_l_min", 4.0581) == ("Cardiac output", "4.06 L/min")
    assert readable("lv_volume_curve_ml", [109.515309, None, 41.0597]) == ("LV volume per frame", "110, –, 41 mL")
    assert readable("notes", []) is None and readable("notes", ["ED and ES differ"]) == ("Notes", "ED and ES differ")
    assert readable("smoking", False) == ("Current smoker", "no")
    assert readable("ed_frame", 0) == ("End-diastolic frame", "0")
    assert readable("sphericity", 0.4796723783622758) == ("Sphericity (SAX diameter / LAX length)", "0.48")
    # quantities without an entry: 3 significant digits, never an exponent
    assert readable("some_ratio", 0.000123456) == ("some ratio", "0.000123")
    assert readable("some_count", 12345.678) == ("some count", "12300")
    assert readable("some_value", float("nan")) == ("some value", NOT_MEASURED)


def test_phantom_section_tables_are_readable(tmp_path):
    from cardiogen.demo import phantom_section
    from cardiogen.phantom import PhantomConfig, make_case

    case = make_case(PhantomConfig(seed=1, size=32, frames=8, slices=4, modalities=("cine",)))
    page = phantom_section(case, tmp_path)
    cells = re.findall(r"<td>(.*?)</td>", page)
    assert len(cells) > 20
    for cell in cells:
        assert cell != "None" and "[" not in cell, cell  # no Python reprs
        for number in re.findall(r"\d+(?:\.\d+)?", cell):  # at most 3 significant digits (counts and times aside)
            digits = number.replace(".", "").lstrip("0")
            assert len(digits) <= 3 or "." not in number, (cell, number)
    text = re.sub(r"<[^>]+>", " ", page)
    assert re.search(r"Heart rate\s+\d+ bpm", text) and re.search(r"Cardiac output\s+\d+\.\d\d L/min", text)
    assert re.search(r"LV end-diastolic volume\s+\d+ mL", text)
    assert re.search(r"LV volume per frame\s+(\d+, ){7}\d+ mL", text)  # 8 frames


def _plane(direction: np.ndarray, spacing: float, origin) -> Geometry:
    return Geometry(spacing=(spacing, spacing, 8.0), origin=tuple(origin), direction=direction)


def _rotation(deg: float) -> np.ndarray:
    a, b = np.radians(deg), np.radians(25.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rx @ rz


def test_crop_to_field_of_view_cuts_the_same_box_in_the_images_own_pixels():
    from cardiogen.demo import crop_to_field_of_view

    d = _rotation(0.0) @ _rotation(40.0)  # an oblique plane
    image_geom = _plane(d, 2.0, (-60.0, 30.0, 12.0))
    image = ImageSeries(np.arange(3 * 5 * 40 * 50, dtype=np.float32).reshape(3, 5, 40, 50), image_geom,
                        frame_times=np.arange(3) * 40.0)
    # a 16 x 16 crop of 3 mm pixels on slice 2 whose corner is at the corner of image pixel (x 10, y 7)
    corner = image_geom.index_to_world() @ np.array([10 - 0.5, 7 - 0.5, 2, 1.0])
    origin = corner[:3] + d[:, :2] @ np.array([1.5, 1.5])
    target = ImageSeries(np.zeros((3, 1, 16, 16), np.float32), _plane(d, 3.0, origin),
                         frame_times=np.arange(3) * 40.0)
    cropped, box = crop_to_field_of_view(image, target)
    assert box == (2, 7, 31, 10, 34)  # 48 mm = 24 pixels of 2 mm on each side
    assert cropped.shape == (3, 1, 24, 24)
    assert np.array_equal(cropped.array[:, 0], image.array[:, 2, 7:31, 10:34])
    # same field of view in the world: the crop's pixel (0, 0) centre is the image's pixel (10, 7) on slice 2
    assert np.allclose(cropped.geometry.origin, (image_geom.index_to_world() @ [10, 7, 2, 1.0])[:3])
    assert np.isclose(cropped.shape[3] * cropped.spacing[0], target.shape[3] * target.spacing[0])
    # a box running off the image keeps its size: the outside is zeros
    off = target.with_array(target.array, geometry=target.geometry.replace(
        origin=tuple(np.asarray(origin) - d[:, 0] * 12.0 - d[:, 1] * 18.0)))
    cut, box = crop_to_field_of_view(image, off)
    assert box == (2, -2, 22, 4, 28) and cut.shape == (3, 1, 24, 24)
    assert not cut.array[:, 0, :2].any() and np.array_equal(cut.array[:, 0, 2:], image.array[:, 2, 0:22, 4:28])
    with pytest.raises(CardioGenInputError, match="not parallel"):
        crop_to_field_of_view(image, target.with_array(target.array, geometry=_plane(d @ _rotation(30.0), 3.0,
                                                                                        origin)))
    def shifted(mm: float) -> ImageSeries:  # the crop's plane moved along the slice normal (slices 8 mm thick)
        return target.with_array(target.array, geometry=target.geometry.replace(
            origin=tuple(np.asarray(origin) + mm * d[:, 2])))

    assert crop_to_field_of_view(image, shifted(3.0))[1] == (2, 7, 31, 10, 34)  # inside slice 2's thickness
    assert crop_to_field_of_view(image, shifted(5.0))[1] == (3, 7, 31, 10, 34)  # nearer slice 3's centre
    with pytest.raises(CardioGenInputError, match="does not lie in a slice"):
        crop_to_field_of_view(image, shifted(-40.0))  # five slices down from slice 2: outside the image


def test_box_outline_frames_the_box_from_outside():
    from cardiogen.demo import _box_outline

    image = ImageSeries(np.zeros((2, 3, 12, 14), np.float32))
    ring = _box_outline(image, (1, 3, 7, 4, 10)).labels[0]
    assert not ring[[0, 2]].any() and not ring[1, 3:7, 4:10].any()  # the box itself stays visible
    assert ring[1, 2, 3:11].all() and ring[1, 7, 3:11].all() and ring[1, 2:8, 3].all() and ring[1, 2:8, 10].all()
    assert ring[1].sum() == 2 * 8 + 2 * 4
    edge = _box_outline(image, (1, -2, 5, -1, 6)).labels[0, 1]  # off the top-left corner: clipped, no wrap-around
    assert edge[5, 0:7].all() and edge[0:6, 6].all() and edge.sum() == 7 + 5 and not edge[-1].any()


def test_dense_to_cine_row_shows_input_and_true_cine_in_the_models_box(tmp_path):
    """On the shipped model: the DENSE input and true cine previews are the crop of the result's field of view
    (before: the whole slice, at about a third of the result's scale), and the whole DENSE slice is shown with that
    box drawn on it."""
    pytest.importorskip("torch")
    import imageio.v3 as iio

    from cardiogen.demo import crop_to_field_of_view, dense_to_cine_row
    from cardiogen.io.preview import render_frames
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.pipelines import get_pipeline
    from cardiogen.weights import Registry

    try:
        Registry().get("mfd-v2v-phantom-32")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped MFD-V2V weights missing: {exc}")
    case = make_case(PhantomConfig(seed=3, frames=12, slices=6, modalities=("cine", "dense")))
    cine = get_pipeline("dense_to_cine").load(device="cpu").run({"dense": case.dense}, {"seed": 0})["cine"]
    page = dense_to_cine_row(case, cine, tmp_path)
    fov = cine.shape[3] * cine.spacing[0]
    assert f"show that same {fov:.0f} × {fov:.0f} mm box at the same scale" in page
    shown = {name: iio.imread(tmp_path / "previews" / f"{name}.gif", index=None)[..., :3].astype(float)
             for name in ("dense_to_cine", "dense_input", "true_cine", "dense_input_whole")}
    assert shown["dense_input"].shape == shown["true_cine"].shape == shown["dense_to_cine"].shape
    z = cine.provenance["source_slice"]
    for name, series in (("dense_input", case.dense.magnitude), ("true_cine", case.cine)):
        crop, box = crop_to_field_of_view(series, cine)
        assert box[0] == z and abs(crop.shape[3] * crop.spacing[0] - fov) <= series.spacing[0]
        # the preview is that crop (GIF palette aside), not the whole slice
        assert np.abs(shown[name] - render_frames(crop)).mean() < 2.0, name
        assert np.abs(shown[name] - render_frames(series, slice_index=z)).mean() > 20.0, name
    # the whole slice, with a yellow frame of the box's size drawn on it
    mag = case.dense.magnitude
    frame = shown["dense_input_whole"][0]
    yellow = (frame[..., 0] > 200) & (frame[..., 1] > 170) & (frame[..., 2] < 80)
    cols = np.flatnonzero(yellow.sum(0) > 20)  # the frame's two vertical sides
    side_mm = (cols.max() - cols.min() + 1) / frame.shape[1] * mag.shape[3] * mag.spacing[0]
    _, (_, _, _, x0, x1) = crop_to_field_of_view(mag, cine)
    expected = (x1 - x0 + 2) * mag.spacing[0]  # the box's pixels and its frame one pixel outside on each side
    assert abs(side_mm - expected) < 0.5 * mag.spacing[0] and expected > fov, (side_mm, expected, fov)
    assert f"show {mag.shape[3] * mag.spacing[0] / fov:.1f}× larger" in page


def test_ct_motion_section_shows_es_synthetic_ed_samples_and_their_flow(tmp_path):
    from cardiogen.demo import ct_motion_section
    from cardiogen.phantom import PhantomConfig, make_case
    from cardiogen.weights import Registry

    try:
        Registry().get("ct-cvae-phantom-48")
    except Exception:  # noqa: BLE001
        pytest.skip("ct-cvae-phantom-48 is not registered")
    case = make_case(PhantomConfig(seed=2, ct_size=48, ct_frames=4, modalities=("ct",)))
    page = ct_motion_section(case, tmp_path, samples=2)
    for name in ("ct_es", "ct_synthetic_ed_1", "ct_synthetic_ed_2", "ct_true_ed", "ct_flow_1", "ct_flow_2"):
        assert (tmp_path / "previews" / f"{name}.png").is_file(), name
    assert page.count("<figcaption>SYNTHETIC ED") == 2 and "ct-cvae-phantom-48" in page and "true ED" in page
    from PIL import Image

    flow = np.asarray(Image.open(tmp_path / "previews" / "ct_flow_1.png"))
    assert flow.std() > 5  # the flow map is not blank


def test_tagging_section_shows_tracked_landmarks_and_cine_to_tagging(tmp_path):
    from PIL import Image

    from cardiogen.demo import tagging_section
    from cardiogen.phantom import PhantomConfig, make_case

    case = make_case(PhantomConfig(seed=3, modalities=("cine", "tagging")))
    page = tagging_section(case, tmp_path)
    for name in ("tagging_tracked_ED", "tagging_tracked_ES", "tagging_strain", "tagging_synthetic_ED",
                 "tagging_synthetic_ES", "tagging_true_ES", "tagging_cine_ES"):
        assert (tmp_path / "previews" / f"{name}.png").is_file(), name
    assert "SYNTHETIC tagging from cine" in page and "smcvae-phantom-64" in page and "tag-tracker-phantom-64" in page
    err = float(page.split("exact tracks ")[1].split(" mm")[0])
    assert err < 1.5
    es = np.asarray(Image.open(tmp_path / "previews" / "tagging_tracked_ES.png"))
    assert ((es[..., 0] == 255) & (es[..., 1] == 60)).any() and ((es[..., 1] == 220) & (es[..., 0] == 60)).any()
    synth = np.asarray(Image.open(tmp_path / "previews" / "tagging_synthetic_ES.png")).astype(float)
    true = np.asarray(Image.open(tmp_path / "previews" / "tagging_true_ES.png")).astype(float)
    assert np.abs(synth - true).mean() < 40 and synth.std() > 10
