"""A result's provenance in the panel line, on node attributes and in the JSON beside an export (no Slicer needed:
nodes are anything with Get/SetAttribute)."""
from __future__ import annotations

import json

import pytest
from CardioGenSlicerLib import provenance as prov

RECORD = {"pipeline": "dense_to_cine", "weights": "mfd-v2v-phantom-32", "weights_sha256": "8fea67c1" + "0" * 56,
          "seed": 7, "sample": 0, "sampler": "ddim", "steps": 25, "device": "cpu", "quality": {"clean_frames": 0.9},
          "warnings": []}


class Node:
    def __init__(self):
        self.attributes = {}

    def SetAttribute(self, name, value):
        self.attributes[name] = value

    def GetAttribute(self, name):
        return self.attributes.get(name)


def test_summary_names_the_key_fields_and_skips_missing_ones():
    text = prov.summary_text(RECORD)
    assert text == ("pipeline dense_to_cine · weights mfd-v2v-phantom-32 · sha256 8fea67c100000000… · seed 7 · "
                    "sampler ddim (25 steps) · device cpu")
    # a pipeline without a sampler (latent_video): no empty field
    assert prov.summary_text({"pipeline": "latent_video", "seed": 0, "device": "cpu"}) == \
        "pipeline latent_video · seed 0 · device cpu"
    assert prov.summary_text(None) == "" and prov.key_fields({"seed": 0, "sampler": ""}) == {"seed": 0}


def test_node_attributes_keep_the_whole_record_and_each_key_field():
    node = Node()
    prov.set_node_attributes(node, RECORD)
    assert json.loads(node.GetAttribute("CardioGen.Provenance")) == RECORD
    assert node.GetAttribute("CardioGen.Provenance.WeightsSHA256") == RECORD["weights_sha256"]
    assert node.GetAttribute("CardioGen.Provenance.Seed") == "7"
    assert prov.from_node(node) == RECORD
    frame = Node()  # a sequence's frames carry only the key fields
    prov.set_node_attributes(frame, RECORD, whole=False)
    assert frame.GetAttribute("CardioGen.Provenance") is None
    assert prov.from_node(frame) == {"pipeline": "dense_to_cine", "weights": "mfd-v2v-phantom-32",
                                     "weights_sha256": RECORD["weights_sha256"], "seed": "7", "sampler": "ddim",
                                     "device": "cpu"}
    broken = Node()  # an unreadable whole record (a scene edited by hand): the key fields remain
    prov.set_node_attributes(broken, RECORD)
    broken.SetAttribute("CardioGen.Provenance", '{"pipeline": "dense_to_ci')
    assert prov.from_node(broken)["seed"] == "7"
    assert prov.from_node(Node()) == {}
    prov.set_node_attributes(Node(), None)  # nothing to keep: no error


@pytest.mark.parametrize("name, sidecar", [("video.gif", "video.provenance.json"),
                                           ("video.mp4", "video.provenance.json")])
def test_sidecar_beside_a_file_and_inside_a_dicom_folder(tmp_path, name, sidecar):
    exported = tmp_path / name
    exported.write_bytes(b"GIF89a")
    path = prov.write_sidecar(exported, RECORD, "Result (synthetic)")
    assert path == tmp_path / sidecar
    data = json.loads(path.read_text())
    assert data["exported"] == name and data["node"] == "Result (synthetic)" and data["synthetic"] is True
    assert data["key"]["weights_sha256"] == RECORD["weights_sha256"] and data["provenance"] == RECORD
    folder = tmp_path / "dicom"
    folder.mkdir()
    assert prov.write_sidecar(folder, RECORD) == folder / "provenance.json"
