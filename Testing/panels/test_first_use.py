"""First use on a fresh Slicer: the optional packages are missing; the first job asks, installs (with an
injectable installer, no network) under constraints that keep Slicer's own packages, then runs; declining runs
nothing and says so; a missing optional reader disables only its format."""
from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest
from qt_helpers import wait_for_job

#: What a fresh Slicer lacks (import name -> distribution name).
FRESH_MISSING = {"nrrd": "pynrrd", "nibabel": "nibabel", "wfdb": "wfdb", "safetensors": "safetensors",
                 "torch": "torch", "skimage": "scikit-image"}

# Import them for real before any test hides them, so that "installing" one gives back the same module object: a
# second import of torch in one process registers its C operators twice and breaks torch for every later test
# of the worker (pytest-xdist runs other files in this process afterwards).
for _module in FRESH_MISSING:
    try:
        importlib.import_module(_module)
    except ImportError:
        pass


class FreshSlicer:
    """A Slicer Python without CardioGen's optional packages: imports of them fail in this process and the
    installer's version lookups report them absent until the fake pip "installs" them."""

    def __init__(self, monkeypatch, answer=True):
        from CardioGenSlicerLib import dependencies as dep

        self.dep = dep
        self.answer = answer
        self.asked, self.pip_calls, self.progress = [], [], []
        self.absent = set(FRESH_MISSING.values()) | {"imageio", "imageio-ffmpeg", "pyyaml", "tqdm"}
        self.monkeypatch = monkeypatch
        self.hidden = set(FRESH_MISSING)
        # the modules already imported in this process come back as the same objects when "installed": importing
        # torch a second time in one process breaks it (its C operators register twice) for every later test
        self.originals = {module: sys.modules.get(module) for module in FRESH_MISSING}
        for module in FRESH_MISSING:  # hidden from this process: panels must set up without them
            monkeypatch.setitem(sys.modules, module, None)
        real_find_spec = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None if name.split(".")[0]
                            in self.hidden else real_find_spec(name, *a, **k))

    def version_of(self, name):
        return None if name in self.absent else self.dep.installed_version(name)

    def confirm(self, message):
        self.asked.append(message)
        return self.answer

    def pip_install(self, args):
        requested, constraints = args.split(" -c ")
        self.pip_calls.append((requested, open(constraints.strip('"')).read()))
        for req in self.dep.parse_requirements(requested.replace('"', "").split()):
            self.absent.discard(req.name)
            for module, dist in FRESH_MISSING.items():  # importable from now on
                if dist == req.name and module in self.hidden:
                    self.hidden.discard(module)
                    if self.originals[module] is not None:
                        self.monkeypatch.setitem(sys.modules, module, self.originals[module])
                    else:
                        self.monkeypatch.delitem(sys.modules, module, raising=False)

    def progress_factory(self, title):
        log = self.progress

        class Progress:
            def step(self, text, fraction):
                log.append((text, fraction))

            def close(self):
                log.append(("closed", 1.0))

        log.append((title, 0.0))
        return Progress()

    def installer(self):
        return self.dep.DependencyInstaller(confirm=self.confirm, pip_install=self.pip_install,
                                            version_of=self.version_of, progress=self.progress_factory,
                                            install_torch=lambda: False)


def _data_widget(tmp_path, installer):
    import CardioGenData
    from CardioGenSlicerLib.data_logic import DataLogic

    logic = CardioGenData.CardioGenDataLogic(DataLogic(work_root=tmp_path / "work"))
    return CardioGenData.CardioGenDataWidget(None, logic=logic, installer=installer)  # setup() in the constructor


def test_first_phantom_case_asks_installs_then_runs(qapp, tmp_path, monkeypatch):
    pytest.importorskip("cardiogen.phantom", reason="phantom not available")
    fresh = FreshSlicer(monkeypatch)
    with pytest.raises(ImportError):
        import nibabel  # noqa: F401  (the fresh Slicer has none of them)
    widget = _data_widget(tmp_path, fresh.installer())
    ui = widget.ui
    ui.sizeSpinBox.setValue(32)
    ui.framesSpinBox.setValue(10)
    for box in (ui.taggingCheckBox, ui.denseCheckBox, ui.ctCheckBox, ui.ecgCheckBox):
        box.setChecked(False)
    ui.phantomButton.click()
    assert len(fresh.asked) == 1
    for name in ("pynrrd", "nibabel", "wfdb", "safetensors"):
        assert name in fresh.asked[0]
    assert "torch" not in fresh.asked[0]  # the Data module needs no PyTorch
    requested, constraints = fresh.pip_calls[0]
    assert "pynrrd" in requested and "numpy" not in requested and "scipy" not in requested
    pins = constraints.split()
    for name in ("numpy", "vtk", "SimpleITK", "pydicom", "scipy", "pillow"):
        assert any(p.lower().startswith(name.lower() + "==") for p in pins), (name, pins[:20])
    assert fresh.progress[0][0].startswith("CardioGen") and fresh.progress[-1][0] == "closed"
    wait_for_job(qapp, widget)
    assert ui.statusLabel.text == "Done.", ui.summaryTextEdit.toPlainText()
    assert widget.loaded[-1].nodes["cine_sequence"].GetNumberOfDataNodes() == 10
    ui.phantomButton.click()  # the second job: no second question
    assert len(fresh.asked) == 1
    wait_for_job(qapp, widget)
    widget.cleanup()


def test_declining_runs_nothing_and_says_why(qapp, tmp_path, monkeypatch):
    fresh = FreshSlicer(monkeypatch, answer=False)
    widget = _data_widget(tmp_path, fresh.installer())
    widget.ui.phantomButton.click()
    assert widget.job is None and fresh.pip_calls == [] and len(fresh.asked) == 1
    status = widget.ui.statusLabel.text
    assert status.startswith("Not started:") and "declined" in status and "pynrrd" in status
    assert widget.ui.phantomButton.isEnabled()


def test_motion_without_the_pytorch_extension_names_it(qapp, tmp_path, monkeypatch):
    import CardioGenMotion
    from CardioGenSlicerLib.motion_logic import MotionLogic

    fresh = FreshSlicer(monkeypatch)
    fresh.absent.clear()
    fresh.absent.add("torch")
    monkeypatch.setitem(sys.modules, "PyTorchUtils", None)
    installer = fresh.dep.DependencyInstaller(confirm=fresh.confirm, pip_install=fresh.pip_install,
                                              version_of=fresh.version_of, progress=fresh.progress_factory)
    logic = CardioGenMotion.CardioGenMotionLogic(MotionLogic(work_root=tmp_path / "m"))
    widget = CardioGenMotion.CardioGenMotionWidget(None, logic=logic, installer=installer)
    assert widget.dependencies() is not None  # LTMA (learned) is the default method: it needs torch
    message = widget.dependencies()
    assert "'PyTorch' extension" in message and fresh.asked == []
    widget.ui.methodComboBox.setCurrentIndex(widget.ui.methodComboBox.findText("Demons (classical)"))
    assert widget.dependencies() is None  # the classical methods run without PyTorch
    widget.cleanup()


def test_latent_explorer_installs_torch_on_first_apply_then_previews(qapp, tmp_path, monkeypatch):
    import CardioGenLatent
    from CardioGenSlicerLib.latent_logic import LatentLogic
    from cardiogen.weights import Registry

    try:
        Registry().get("gancmri-phantom-64")
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"shipped latent model missing: {exc}")
    fresh = FreshSlicer(monkeypatch)
    torch_installs = []

    def install_torch():  # PyTorchUtils stand-in: torch becomes importable
        torch_installs.append(1)
        fresh.absent.discard("torch")
        fresh.hidden.discard("torch")
        monkeypatch.setitem(sys.modules, "torch", fresh.originals["torch"])  # the same module (never re-imported)
        return True

    installer = fresh.dep.DependencyInstaller(confirm=fresh.confirm, pip_install=fresh.pip_install,
                                              version_of=fresh.version_of, progress=fresh.progress_factory,
                                              install_torch=install_torch)
    logic = CardioGenLatent.CardioGenLatentLogic(LatentLogic(work_root=tmp_path / "latent"))
    widget = CardioGenLatent.CardioGenLatentWidget(None, logic=logic, installer=installer)
    assert widget.sliders == {} and "first use" in widget.ui.statusLabel.text  # no torch yet: no model loaded
    widget.ui.applyStartButton.click()
    assert len(fresh.asked) == 1 and "torch" in fresh.asked[0] and torch_installs == [1]
    assert widget.sliders and widget.start is not None, widget.ui.statusLabel.text
    assert "Measured" in widget.ui.measuredLabel.text
    widget.ui.applyStartButton.click()
    assert len(fresh.asked) == 1
    widget.cleanup()
