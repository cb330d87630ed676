"""Which node of a loaded case feeds which pipeline input: the case roles (``cine``, ``tagging``, ``segmentation``
...) that :meth:`CardioGenSlicerLib.data_logic.DataLogic.import_result` names, and the rule that maps a pipeline
declaration's inputs onto them. Pure Python (no MRML import), so a page or a test can use it before the Slicer
application exists.
"""
from __future__ import annotations

from typing import Any, Mapping

from cardiogen.errors import CardioGenInputError

#: Image roles of a loaded case, in the order the views prefer them.
IMAGE_ROLES = ("cine", "image", "dense_magnitude", "ct", "tagging")
MASK_ROLES = ("segmentation", "truth_segmentation", "dense_contours")
#: Case roles a pipeline input of each kind takes, and of inputs named after a role (a tagging pipeline's ``tagging``
#: is the tagged series even when the case has a cine too).
ROLES_BY_KIND = {"DenseSeries": ("dense_magnitude",), "ImageSeries": ("cine", "image", "tagging", "ct"),
                 "Segmentation": MASK_ROLES, "Ecg": ("ecg_table",), "LandmarkSeries": ("landmarks",)}
ROLES_BY_NAME = {"tagging": ("tagging",), "cine": ("cine", "image"), "ct": ("ct",), "landmarks": ("landmarks",)}


def case_inputs(declaration: Mapping, case_nodes: Mapping[str, Any], case_label: str = "") -> dict:
    """``{input name: node or None}`` for a pipeline ``declaration`` (:func:`cardiogen.pipelines.list_pipelines`'s
    entry) from a case's ``{role: node}``: an input named after a case role takes that role, any other its kind's.

    Raises:
        CardioGenInputError: a required input has no node of its role or kind in the case.
    """
    nodes = {}
    for spec in declaration["inputs"]:
        roles = ROLES_BY_NAME.get(spec["name"], ROLES_BY_KIND.get(spec["kind"], ()))
        node = next((case_nodes[r] for r in roles if r in case_nodes), None)
        if node is None and spec["required"]:
            raise CardioGenInputError(
                f"{declaration['name']} needs a case with {spec['kind']} data (input '{spec['name']}')",
                got=case_label or "no case")
        nodes[spec["name"]] = node
    return nodes
