"""The Slicer stand-in is as strict as PythonQt where the modules could go wrong, and every module passes it.

* Qt properties are attributes: ``label.text`` is the string and ``label.text()`` raises TypeError, for widgets
  made in code and for those a .ui file builds;
* ``ScriptedLoadableModuleWidget(None)`` calls ``setup()`` from its constructor (with a parent the application
  calls it afterwards), so a widget must have its injected logic before the base constructor runs;
* enums are flat (``qt.Qt.AlignCenter``); PySide's scoped spelling is refused.
"""
from __future__ import annotations

import importlib

import pytest


def test_properties_are_attributes_and_getter_calls_fail(qapp):
    import ctk
    import qt

    label = qt.QLabel()
    label.setText("peaks")
    assert label.text == "peaks"
    with pytest.raises(TypeError, match="not callable"):
        label.text()
    box = qt.QCheckBox()
    box.setChecked(True)
    assert box.checked is True and box.isChecked()  # isChecked() is a method in PythonQt too
    box.enabled = False  # PythonQt sets properties by assignment
    assert not box.isEnabled()
    spin = qt.QSpinBox()
    spin.setValue(3)
    assert spin.value == 3
    slider = ctk.ctkSliderWidget()
    slider.setValue(1.5)
    assert slider.value == 1.5
    with pytest.raises(TypeError):
        slider.value()


def test_ctk_slider_widget_is_ctks_not_a_spin_box(qapp):
    """ctkSliderWidget as PythonQt exposes it: a QWidget with CTK's properties as attributes and CTK's methods only;
    the value is clamped and rounded to the decimals; with tracking off a drag only reports valueIsChanging."""
    import ctk
    import qt

    slider = ctk.ctkSliderWidget()
    assert not isinstance(slider, qt.QAbstractSpinBox)
    for spin_only in ("setSpecialValueText", "stepBy", "setKeyboardTracking", "cleanText"):
        assert not hasattr(slider, spin_only), spin_only
    for getter in ("minimum", "maximum", "decimals", "singleStep", "suffix", "prefix", "tracking"):
        with pytest.raises(TypeError, match="not callable"):
            getattr(slider, getter)()
    slider.setDecimals(1)
    slider.setRange(-2.0, 3.0)
    slider.setSuffix(" mm")
    assert (slider.minimum, slider.maximum, slider.decimals, slider.suffix) == (-2.0, 3.0, 1, " mm")
    slider.setValue(9.0)
    assert slider.value == 3.0  # clamped
    slider.setValue(1.26)
    assert slider.value == 1.3 and slider.spinBox().text() == "1.3 mm"  # rounded to the decimals, unit shown
    changed, changing = [], []
    slider.valueChanged.connect(changed.append)
    slider.valueIsChanging.connect(changing.append)
    slider.setTracking(False)
    assert slider.tracking is False and not slider.hasTracking()
    slider.drag(-1.0)
    assert changing == [-1.0] and changed == [] and slider.value == 1.3  # the button is still down
    slider.release()
    assert changed == [-1.0] and slider.value == -1.0
    slider.blockSignals(True)
    slider.setValue(0.0)
    slider.blockSignals(False)
    assert changed == [-1.0] and slider.value == 0.0
    slider.setMaximum(-5.0)  # a maximum below the minimum moves the minimum (CTK keeps the range valid)
    assert slider.minimum == slider.maximum == slider.value == -5.0


def test_ui_file_widgets_follow_pythonqt(qapp):
    import CardioGenData
    import slicer

    widget = CardioGenData.CardioGenDataWidget(None)  # the stand-in's qMRMLWidget parent, setup() inside
    ui = widget.ui
    assert ui.loadButton.text == "Load" and isinstance(ui.sizeSpinBox.value, int)
    with pytest.raises(TypeError):
        ui.statusLabel.text()
    assert ui.kindComboBox.currentText == "auto"
    assert (ui.dyssynchronySlider.maximum, ui.dyssynchronySlider.singleStep, ui.dyssynchronySlider.decimals) \
        == (1.0, 0.05, 2)  # the .ui's properties reach CTK's slider through the meta-object
    assert isinstance(slicer.util.childWidgetVariables(widget.parent), type(ui))


def test_enums_are_flat_as_in_pythonqt(qapp):
    import qt

    assert qt.Qt.AlignCenter is not None and qt.Qt.Checked is not None
    with pytest.raises(AttributeError, match="scoped enums"):
        qt.Qt.AlignmentFlag.AlignCenter


def test_setup_runs_in_the_constructor_without_a_parent(qapp):
    from slicer.ScriptedLoadableModule import ScriptedLoadableModuleWidget

    calls = []

    class ProbeWidget(ScriptedLoadableModuleWidget):
        def setup(self):
            ScriptedLoadableModuleWidget.setup(self)
            calls.append(getattr(self, "injected", "missing"))

    ProbeWidget(None)
    assert calls == ["missing"]  # setup() ran before the subclass constructor went on
    import qt

    ProbeWidget(qt.QWidget())
    assert calls == ["missing"]  # with a parent the application calls setup()


LOGICS = {"CardioGenData": "data_logic.DataLogic", "CardioGenMotion": "motion_logic.MotionLogic",
          "CardioGenSynthesis": "synthesis_logic.SynthesisLogic", "CardioGenLatent": "latent_logic.LatentLogic"}


@pytest.mark.parametrize("module", sorted(LOGICS))
def test_every_module_sets_up_in_its_constructor_with_the_injected_logic(qapp, tmp_path, module):
    lib_module, lib_class = LOGICS[module].split(".")
    impl = getattr(importlib.import_module(f"CardioGenSlicerLib.{lib_module}"), lib_class)(work_root=tmp_path)
    mod = importlib.import_module(module)
    logic = getattr(mod, f"{module}Logic")(impl)
    widget = getattr(mod, f"{module}Widget")(None, logic=logic)  # as Slicer does without a parent: setup() inside
    assert widget.logic is logic and widget.panel is not None and widget.ui is not None
    assert widget.job is None
    status = widget.ui.statusLabel.text
    assert not status.startswith("Error"), status
    widget.cleanup()
