"""CT motion (seed 004) from the Synthesis panel, offscreen: a phantom 4D CT and its ES heart segmentation in the
scene, the recorded ES phase preselected, two samples generated in the background with tiny models, and the nodes:
the pairs, the ED samples sequence, the flows as grid transforms both ways, the heart moved onto each synthetic ED."""
from __future__ import annotations

import numpy as np
import pytest
from qt_helpers import wait_for_job


@pytest.fixture(scope="module")
def tiny_ct_models(tmp_path_factory):
    """The tiny flow network and CVAE of seed 004 in a temporary user registry (the child job finds them through
    CARDIOGEN_USER_MODELS), as Testing/unit/test_ct_motion_train.py trains them."""
    from cardiogen.train import load_config, train

    root = tmp_path_factory.mktemp("ct_motion_panel")
    mp = pytest.MonkeyPatch()
    mp.setenv("CARDIOGEN_USER_MODELS", str(root / "user"))
    train("ct_flow", load_config("ct_flow_tiny.yaml"), root / "flow", register_dir=root / "user", command="pytest")
    train("ct_cvae", load_config("ct_cvae_tiny.yaml"), root / "cvae", register_dir=root / "user", command="pytest")
    yield root / "user"
    mp.undo()


@pytest.fixture(scope="module")
def case():
    from cardiogen.phantom import PhantomConfig, make_case

    return make_case(PhantomConfig(seed=5, ct_size=40, ct_frames=4, modalities=("ct",)))


def _scene_nodes(case):
    from cardiogen.data import Segmentation
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib import mrml_segmentation as mseg

    es = case.truth.ct_es_phase
    masks = case.truth.ct_masks
    ct = mb.image_series_to_nodes(case.ct, "Phantom 5 PHANTOM ct")
    heart = Segmentation(masks.labels[es][None], label_table=masks.label_table, geometry=masks.geometry)
    return ct.volume, mseg.segmentation_to_node(heart, "Phantom 5 PHANTOM ES heart")


def _widget(tmp_path):
    import CardioGenSynthesis
    from CardioGenSlicerLib.synthesis_logic import SynthesisLogic
    from PySide6 import QtWidgets

    parent = QtWidgets.QWidget()
    parent.resize(420, 760)
    logic = CardioGenSynthesis.CardioGenSynthesisLogic(SynthesisLogic(work_root=tmp_path / "synth"))
    widget = CardioGenSynthesis.CardioGenSynthesisWidget(parent, logic=logic)
    widget.setup()
    parent.show()
    combo = widget.ui.pipelineComboBox
    combo.setCurrentIndex([combo.itemData(i) for i in range(combo.count)].index("ct_motion"))
    return widget, parent


def test_ct_motion_from_the_panel_makes_sequences_and_grid_transforms(qapp, tmp_path, tiny_ct_models, case,
                                                                      artifacts_dir):
    import slicer
    from cardiogen import io
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.mrml_ct_motion import ATTR_FLOW_DIRECTION
    from CardioGenSlicerLib.qtcompat import prop

    ct, heart = _scene_nodes(case)
    widget, parent = _widget(tmp_path)
    ui = widget.ui
    assert widget.currentPipeline()["name"] == "ct_motion"
    assert set(widget.inputWidgets) == {"ct", "heart"}
    assert {"samples", "seed", "phase", "temperature"} <= set(widget.optionWidgets)
    weights = [ui.weightsComboBox.itemText(i) for i in range(ui.weightsComboBox.count)]
    assert "ct-cvae-tiny-test" in weights
    ui.weightsComboBox.setCurrentIndex(weights.index("ct-cvae-tiny-test"))
    ui.deviceComboBox.setCurrentIndex(ui.deviceComboBox.findText("cpu"))
    widget.inputWidgets["ct"].setCurrentNode(ct)
    phase = widget.optionWidgets["phase"]
    # the phantom 4D CT records its ES phase: preselected, and the spin box stops at the last phase
    assert prop(phase, "value") == case.truth.ct_es_phase == 2 and prop(phase, "maximum") == 3
    assert "records phase 2" in prop(phase, "toolTip")
    widget.inputWidgets["heart"].setCurrentNode(heart)
    widget.optionWidgets["samples"].setValue(2)
    assert widget.options()["phase"] == 2 and widget.options()["samples"] == 2
    ui.runButton.click()
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text.startswith("Done"), ui.statusLabel.text
    made = widget.results[-1]
    assert set(made.series) == {"pair", "pair_2", "ed_samples"}
    # the ED samples: one volume sequence of 2 synthetic volumes, indexed by sample
    samples = made.series["ed_samples"]
    assert samples.sequence.GetNumberOfDataNodes() == 2 and samples.sequence.GetIndexName() == "sample"
    assert "(synthetic)" in samples.volume.GetName() and mb.is_synthetic(samples.volume)
    assert mb.is_synthetic(samples.sequence)
    # each pair: synthetic ED at time 0, the given ES (phase 2) after it
    pair = made.series["pair"]
    assert pair.sequence.GetNumberOfDataNodes() == 2 and "(synthetic)" in pair.volume.GetName()
    pair.browser.SetSelectedItemNumber(1)
    assert np.allclose(slicer.util.arrayFromVolume(pair.volume), case.ct.array[2], atol=1e-3)
    ct_browser = mb.sequences_logic().GetFirstBrowserNodeForProxyNode(ct)
    assert not ct_browser.IsSynchronizedSequenceNode(pair.sequence)  # its own times: its own browser
    # the flows: two grid transforms per direction, synthetic, described, values equal to the job's flow files
    grids = slicer.util.getNodesByClass("vtkMRMLGridTransformNode")
    ed_to_es = [n for n in grids if n.GetAttribute(ATTR_FLOW_DIRECTION) == "ED->ES"]
    es_to_ed = [n for n in grids if n.GetAttribute(ATTR_FLOW_DIRECTION) == "ES->ED"]
    assert len(ed_to_es) == len(es_to_ed) == 2
    for node in ed_to_es + es_to_ed:
        assert "(synthetic)" in node.GetName() and mb.is_synthetic(node) and "SYNTHETIC" in node.GetDescription()
    assert made.nodes["flow_2_ed_to_es"].GetName() == "ct_motion flow 2 ED->ES (synthetic)"
    for key in ("flow", "flow_2"):
        flow = io.load(made.output_dir / f"{key}.seq.nrrd")
        node = mb.nodes_to_displacement(made.nodes[f"{key}_ed_to_es"])
        origin = np.linalg.solve(flow.geometry.index_to_world(), node.geometry.index_to_world() @ [0, 0, 0, 1])
        x0, y0, z0 = np.round(origin[:3]).astype(int)
        _, _, nz, ny, nx = node.array.shape
        assert np.allclose(node.array[0], flow.array[1][:, z0:z0 + nz, y0:y0 + ny, x0:x0 + nx], atol=1e-5)
        assert np.abs(flow.array[1]).max() > 0
    # the ES heart moved onto each synthetic ED, as a surface that plays with the pair
    assert made.nodes["heart_ed"].GetSegmentation().GetNumberOfSegments() == heart.GetSegmentation(
        ).GetNumberOfSegments()
    assert mb.is_synthetic(made.nodes["heart_ed_2"])
    assert pair.browser.IsSynchronizedSequenceNode(made.nodes["heart_motion"])
    assert made.nodes["heart_ed"].GetTransformNodeID() == made.nodes["heart_motion_proxy"].GetID()
    parent.grab().save(str(artifacts_dir / "panel_CardioGenSynthesis_ct_motion.png"))


def test_a_3d_ct_resets_the_phase_to_its_only_one(qapp, tmp_path, case):
    from cardiogen.data import ImageSeries
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.qtcompat import prop

    ct4d, _ = _scene_nodes(case)
    ct3d = mb.image_series_to_nodes(ImageSeries(case.ct.array[:1], case.ct.geometry, modality="ct"), "3D CT")
    widget, _ = _widget(tmp_path)
    widget.inputWidgets["ct"].setCurrentNode(ct4d)
    assert prop(widget.optionWidgets["phase"], "value") == 2
    widget.inputWidgets["ct"].setCurrentNode(ct3d.volume)
    assert prop(widget.optionWidgets["phase"], "value") == -1
