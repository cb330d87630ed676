"""A pipeline's inputs are taken from the loaded case's roles without MRML (the web page's and panels' rule)."""
from __future__ import annotations

import pytest
from CardioGenSlicerLib.case_roles import case_inputs

from cardiogen.errors import CardioGenInputError

DECLARATION = {"name": "demo", "inputs": [
    {"name": "tagging", "kind": "ImageSeries", "required": True},
    {"name": "mask", "kind": "Segmentation", "required": False},
    {"name": "ecg", "kind": "Ecg", "required": False}]}


def test_named_role_wins_over_kind_and_optional_inputs_may_be_missing():
    case = {"cine": "cine-node", "tagging": "tag-node", "truth_segmentation": "seg-node"}
    assert case_inputs(DECLARATION, case, "Case") == {"tagging": "tag-node", "mask": "seg-node", "ecg": None}
    kind_only = {"name": "demo", "inputs": [{"name": "image", "kind": "ImageSeries", "required": True}]}
    assert case_inputs(kind_only, case) == {"image": "cine-node"}  # the kind's preferred role first


def test_a_missing_required_input_names_pipeline_input_and_case():
    with pytest.raises(CardioGenInputError, match="demo needs a case with ImageSeries data \\(input 'tagging'\\)") as e:
        case_inputs(DECLARATION, {"cine": "cine-node"}, "Patient 2")
    assert "Patient 2" in str(e.value)
    with pytest.raises(CardioGenInputError, match="no case"):
        case_inputs(DECLARATION, {})
