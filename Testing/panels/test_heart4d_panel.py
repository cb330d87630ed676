"""Whole hearts from demographics (seed 001 chapter 6, ``heart_4d``) from the Synthesis panel, offscreen: the
demographic form (sliders with units and ranges, sex and smoking as choices, "unknown" boxes), a generated heart as
an image sequence with its segmentation's surfaces playing in sync, the phenotype table, and a second profile
compared side by side. Tiny models (a few training steps) in a temporary user registry."""
from __future__ import annotations

import pytest
from qt_helpers import synthesis_widget, wait_for_job


@pytest.fixture(scope="module")
def tiny_heart_models(tmp_path_factory):
    from cardiogen.train import load_config, train

    root = tmp_path_factory.mktemp("heart4d_panel")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARDIOGEN_USER_MODELS", str(root / "user"))
    train("heart_ae", load_config("heart_ae_cycle_tiny.yaml"), root / "ae", register_dir=root / "user",
          command="pytest")
    train("heart_4d", load_config("heart_4d_tiny.yaml"), root / "ldm", register_dir=root / "user", command="pytest")
    yield root / "user"
    mp.undo()


def _choose(widget, name: str) -> None:
    combo = widget.ui.pipelineComboBox
    combo.setCurrentIndex([combo.itemData(i) for i in range(combo.count)].index(name))


def test_demographic_form_generates_a_playing_4d_heart_with_phenotypes_and_compares_two(
        qapp, tmp_path, tiny_heart_models, artifacts_dir):
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.qtcompat import prop

    widget, parent = synthesis_widget(tmp_path)
    _choose(widget, "heart_4d")
    ui = widget.ui
    assert not widget.inputWidgets  # demographics only, no image input
    ui.weightsComboBox.setCurrentIndex([ui.weightsComboBox.itemText(i) for i in range(ui.weightsComboBox.count)]
                                       .index("heart-4d-tiny"))
    parts = widget.optionalParts
    assert {"age", "sex", "height_cm", "weight_kg", "sbp", "dbp", "smoking", "alcohol"} == set(parts)
    # numbers: a slider over the plausible range and a spin box with the unit
    age = parts["age"]
    assert (age["slider"].minimum, age["slider"].maximum) == (25, 80) and age["value"].suffix == " years"
    assert parts["height_cm"]["value"].suffix == " cm" and parts["sbp"]["value"].suffix == " mmHg"
    age["slider"].setValue(68)
    assert age["value"].value == 68.0
    parts["sex"]["value"].setCurrentIndex(1)  # F
    parts["height_cm"]["unknown"].setChecked(True)
    assert not parts["height_cm"]["value"].isEnabled() and not parts["height_cm"]["slider"].isEnabled()
    widget.optionWidgets["steps"].setValue(2)
    opts = widget.options()
    assert opts["age"] == 68.0 and opts["sex"] == "F" and opts["height_cm"] is None and opts["smoking"] is False
    ui.runButton.click()
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), ui.statusLabel.text
    first = widget.results[-1]
    image = first.series["image"]
    assert image.sequence.GetNumberOfDataNodes() == 8 and "synthetic" in image.volume.GetName().lower()
    assert image.volume.GetAttribute(mb.ATTR_SYNTHETIC) == "1"
    surfaces = first.surfaces["segmentation"]
    assert surfaces.sequence.GetNumberOfDataNodes() == 8
    assert image.browser.IsSynchronizedSequenceNode(surfaces.sequence)  # the surfaces play with the images
    assert surfaces.volume.GetDisplayNode().GetVisibility3D()
    table = first.nodes["phenotypes"].GetTable()
    assert table.GetNumberOfColumns() == 3  # measure, unit, this heart
    rows = {table.GetValue(r, 0).ToString(): table.GetValue(r, 2).ToString() for r in range(table.GetNumberOfRows())}
    assert rows["Age"] == "68.0" and rows["Sex"] == "F" and rows["Height"] == "unknown"
    assert "LV end-diastolic volume" in rows and "LV mass" in rows
    prov = first.provenance["segmentation"]
    assert prov["conditioning"]["age"] == 68.0 and prov["conditioning"]["height_cm"] is None

    # a second profile: compared side by side with the first, both playing with the first heart's browser
    parts["height_cm"]["unknown"].setChecked(False)
    parts["height_cm"]["slider"].setValue(192)
    parts["sex"]["value"].setCurrentIndex(0)
    ui.runButton.click()
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), ui.statusLabel.text
    second = widget.results[-1]
    assert image.browser.IsSynchronizedSequenceNode(second.series["image"].sequence)
    assert image.browser.IsSynchronizedSequenceNode(second.surfaces["segmentation"].sequence)
    table = second.nodes["phenotypes"].GetTable()
    assert table.GetNumberOfColumns() == 4
    titles = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    assert titles[2:] == ["previous heart", "this heart"]
    rows = {table.GetValue(r, 0).ToString(): (table.GetValue(r, 2).ToString(), table.GetValue(r, 3).ToString())
            for r in range(table.GetNumberOfRows())}
    assert rows["Height"] == ("unknown", "192.0") and rows["Sex"] == ("F", "M")
    # (the two views side by side are rendered in Testing/render/test_render_heart4d.py: this scene has no views)
    assert not surfaces.volume.GetDisplayNode().GetVisibility3D()  # the 3D view shows the new heart
    assert prop(ui.provenanceLabel, "text").startswith("Provenance")
    parent.grab().save(str(artifacts_dir / "panel_CardioGenSynthesis_heart_4d.png"))
