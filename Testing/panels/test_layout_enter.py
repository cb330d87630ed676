"""Opening any CardioGen module (Slicer calls the widget's ``enter``) selects the CardioGen layout: three slice views
over the 3D view and a plot view, registered once on the scene's layout node."""
from __future__ import annotations

import pytest

MODULES = ("CardioGenData", "CardioGenMotion", "CardioGenSynthesis", "CardioGenLatent")


@pytest.mark.parametrize("module_name", MODULES)
def test_entering_a_module_selects_the_cardiogen_layout(qapp, tmp_path, module_name):
    import importlib

    import slicer
    from CardioGenSlicerLib import mrml_layout as ml
    from PySide6 import QtWidgets

    module = importlib.import_module(module_name)
    parent = QtWidgets.QWidget()
    widget = getattr(module, f"{module_name}Widget")(parent)
    widget.setup()
    layout = ml.layout_node(slicer.mrmlScene)
    layout.SetViewArrangement(layout.SlicerLayoutFourUpView)  # the user's layout before opening the module
    widget.enter()
    assert layout.GetViewArrangement() == ml.LAYOUT_ID
    description = layout.GetCurrentLayoutDescription()
    assert 'class="vtkMRMLPlotViewNode"' in description and 'class="vtkMRMLViewNode"' in description
    widget.enter()  # opening it again changes nothing: one description, one layout node
    assert layout.GetLayoutDescription(ml.LAYOUT_ID) == ml.LAYOUT_XML
    assert slicer.mrmlScene.GetNodesByClass("vtkMRMLLayoutNode").GetNumberOfItems() == 1
    widget.cleanup()
