"""Latent Explorer phenotypes in physical units: the conversion from the measurement grid and the slider scales
(c ↔ value on one heart) the panel shows its sliders with."""
from __future__ import annotations

import pytest

pytest.importorskip("torch")


def test_physical_units_of_the_measured_phenotypes():
    from cardiogen.latent.phenotypes import PHENOTYPE_UNITS, physical_phenotypes

    # the shipped generator: 64 px of 2.8 mm (179.2 mm), measured on the feature network's 64-pixel grid
    out = physical_phenotypes({"lv_area": 13.27, "myo_thickness": 1.216, "sphericity": 0.57, "ef_area": 33.7},
                              fov_mm=64 * 2.8, grid=64)
    assert out["lv_area"] == pytest.approx(0.1327 * 179.2 ** 2 / 100)  # 42.6 cm²
    assert out["myo_thickness"] == pytest.approx(1.216 * 2.8)  # 3.4 mm
    assert out["sphericity"] == 0.57 and out["ef_area"] == 33.7
    # a coarser measurement grid has bigger pixels
    assert physical_phenotypes({"myo_thickness": 1.0}, 179.2, 32)["myo_thickness"] == pytest.approx(5.6)
    assert PHENOTYPE_UNITS["lv_area"].text(42.61) == "42.6 cm²" and PHENOTYPE_UNITS["sphericity"].text(0.571) == "0.57"
    assert "px" not in {u.unit for u in PHENOTYPE_UNITS.values()}
    with pytest.raises(Exception, match="positive"):
        physical_phenotypes({"lv_area": 1.0}, 0.0, 64)


def test_slider_scale_keeps_the_monotone_run_around_zero_and_inverts_it():
    from cardiogen.latent.phenotypes import SCALE_POINTS, SliderScale

    # the shipped generator's LV area on seed 5: it grows up to c = 2, then falls again
    s = SliderScale.fit("lv_area", SCALE_POINTS, (19.23, 33.68, 48.15, 55.84, 64.2, 51.75))
    assert s.usable and s.cs == (-2.0, -1.0, 0.0, 1.0, 2.0) and s.range() == (19.23, 64.2)
    assert s.at_zero == 48.15 and s.value(0.5) == pytest.approx((48.15 + 55.84) / 2)
    for c in (-2.0, -0.3, 0.7, 2.0):
        assert s.c(s.value(c)) == pytest.approx(c)
    assert s.c(1000.0) == 2.0 and s.c(-1000.0) == -2.0  # clipped to the run
    assert s.c(48.1, decimals=1) == 0.0 and s.c(48.3, decimals=1) != 0.0  # the unmoved heart's shown value is c = 0
    assert s.display_decimals() == 1  # 45 cm² at 0.1 cm² steps: enough steps
    # a decreasing phenotype inverts too; a narrow range gets more decimals
    d = SliderScale.fit("sphericity", SCALE_POINTS, (0.70, 0.69, 0.68, 0.67, 0.66, 0.65))
    assert d.c(d.value(1.5)) == pytest.approx(1.5) and d.display_decimals() == 3
    # a phenotype that does not move has no scale (the slider stays in c); the run stops at a flat step
    assert not SliderScale.fit("x", SCALE_POINTS, (5.0,) * 6).usable
    assert SliderScale.fit("x", SCALE_POINTS, (1, 2, 3, 3, 4, 5)).cs == (-2.0, -1.0, 0.0)
    assert SliderScale.fit("x", SCALE_POINTS, (3, 2, 3, 4, 5, 6)).cs == (-1.0, 0.0, 1.0, 2.0, 3.0)
    with pytest.raises(Exception, match="c = 0|one of them 0"):
        SliderScale.fit("x", (1.0, 2.0), (1.0, 2.0))
    with pytest.raises(Exception, match="finite"):
        SliderScale.fit("x", (-1.0, 0.0), (1.0, float("nan")))


def test_shipped_slider_scales_match_the_measured_heart():
    from cardiogen.latent import LatentModel

    try:
        m = LatentModel.load("gancmri-phantom-64")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no shipped latent_video model: {exc}")
    w1 = m.start_latents(seed=5)
    scales = m.slider_scales(w1, ["lv_area", "myo_thickness"])
    measured = m.physical(m.measure(m.frames(w1)[:, None]))
    for name, s in scales.items():
        assert s.usable and s.at_zero == pytest.approx(float(measured[name][0]))
        c = 0.5 * s.cs[-1]
        moved = m.physical(m.measure(m.frames(m.apply_sliders(w1, {name: c}))[:, None]))[name][0]
        assert moved == pytest.approx(s.value(c), rel=0.1), name  # between measured points: close to the line
    with pytest.raises(Exception, match="one heart"):
        m.slider_scales(m.start_latents(seed=5, n=2))
