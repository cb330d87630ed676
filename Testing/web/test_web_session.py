"""The web app's session and lessons without a browser: uploads, input mapping, playback, charts, layouts, and the
session folder's lifetime. Jobs themselves run in the browser tier (test_web_browser.py)."""
from __future__ import annotations

import inspect
import io

import numpy as np
import pytest

from cardiogen.data import Ecg, Geometry, ImageSeries
from cardiogen.errors import CardioGenInputError


@pytest.fixture()
def session(tmp_path):
    from slicer_standin import make_scene

    from CardioGenWeb.session import WebSession

    s = WebSession(app=make_scene(fresh=True), work_root=tmp_path / "session", samples_dir=tmp_path / "none")
    yield s
    s.close()


def test_upload_is_size_limited_and_kept_in_the_session_folder(session, monkeypatch):
    from CardioGenWeb import session as ws

    path = session.save_upload("../../etc/evil name.nii.gz", b"abc")
    assert path.parent == session.work_root / "uploads" and path.name == "evil_name.nii.gz"
    assert path.read_bytes() == b"abc" and not list(path.parent.glob("*.part"))
    monkeypatch.setattr(ws, "UPLOAD_LIMIT_BYTES", 2)
    with pytest.raises(CardioGenInputError, match="too large") as err:
        session.save_upload("big.dcm", b"abc")
    assert "big.dcm" in str(err.value)
    assert not (session.work_root / "uploads" / "big.dcm").exists()


def test_tasks_without_a_case_say_what_they_need(session):
    with pytest.raises(CardioGenInputError, match="load a case first"):
        session.start_motion("ltma")
    with pytest.raises(CardioGenInputError, match="dense_to_cine needs a case with DenseSeries"):
        session.start_synthesis("dense_to_cine")
    with pytest.raises(CardioGenInputError, match="unknown pipeline"):
        session.pipeline_inputs("no_such_pipeline")
    with pytest.raises(CardioGenInputError, match="run Motion first"):
        session.show_strain("radial")
    with pytest.raises(CardioGenInputError, match="unknown sample"):
        session.start_sample("nothing")
    assert session.sample_names() == []  # no samples folder here
    assert not session.busy and session.status.generation == 0


def _case(session, n_frames=4):
    from CardioGenSlicerLib import mrml_bridge as mb
    from CardioGenSlicerLib.data_logic import LoadedData

    arr = np.stack([np.full((2, 8, 8), t, np.float32) for t in range(n_frames)])
    series = ImageSeries(arr, Geometry(spacing=(1.5, 1.5, 8.0)), frame_times=np.arange(n_frames) * 40.0,
                         modality="cine")
    nodes = mb.image_series_to_nodes(series, "Case cine", session.scene)
    loaded = LoadedData(nodes={"cine": nodes.volume, "cine_sequence": nodes.sequence, "cine_browser": nodes.browser},
                        browsers=[nodes.browser])
    session.state.case, session.state.case_label = loaded, "Case"
    return nodes


def test_playback_steps_the_case_browser_at_its_rate(session):
    import slicer

    nodes = _case(session)
    session.set_playing(True)
    assert session.playing and nodes.browser.GetPlaybackLooped()
    nodes.browser.SetPlaybackRateFps(4.0)
    seen = []
    for k in range(6):  # 0.25 s apart: one frame each; 0.1 s later: not due yet
        assert session.step_playback(now=100.0 + 0.25 * k)
        assert not session.step_playback(now=100.0 + 0.25 * k + 0.1)
        seen.append(slicer.util.arrayFromVolume(nodes.volume).mean())
    assert seen == [1.0, 2.0, 3.0, 0.0, 1.0, 2.0]  # loops
    from CardioGenWeb.session import MAX_PLAYBACK_FPS

    nodes.browser.SetPlaybackRateFps(100.0)  # capped: the server renders every frame
    t = 200.0
    assert session.step_playback(now=t)
    assert not session.step_playback(now=t + 0.9 / MAX_PLAYBACK_FPS)
    assert session.step_playback(now=t + 1.0 / MAX_PLAYBACK_FPS)
    session.set_playing(False)
    assert not session.playing and not session.step_playback(now=300.0)


def test_inputs_come_from_the_case_by_kind(session):
    nodes = _case(session)
    with pytest.raises(CardioGenInputError, match="DenseSeries"):
        session.pipeline_inputs("dense_to_cine")
    assert session.pipeline_inputs("latent_video") == {"cine": nodes.volume}
    with pytest.raises(CardioGenInputError, match="strain needs a myocardium mask"):
        session.start_motion("ltma")


def test_inputs_named_after_a_role_take_it(session):
    """A case with cine and tagging: each tagging pipeline gets the series it names; tracking needs landmarks and
    says so; the page's pipeline list offers the tagging pipelines and the 4D heart (no inputs)."""
    from CardioGenSlicerLib import mrml_bridge as mb

    from CardioGenWeb.app import SYNTHESIS_PIPELINES

    cine = _case(session)
    arr = np.zeros((4, 2, 8, 8), np.float32)
    tagging = mb.image_series_to_nodes(ImageSeries(arr, Geometry(spacing=(1.5, 1.5, 8.0)),
                                                   frame_times=np.arange(4) * 40.0, modality="tagging"),
                                       "Case tagging", session.scene)
    session.state.case.nodes["tagging"] = tagging.volume
    assert session.pipeline_inputs("cine_to_tagging")["cine"] is cine.volume
    assert session.pipeline_inputs("tagging_to_cine")["tagging"] is tagging.volume
    with pytest.raises(CardioGenInputError, match="tag_tracking needs a case with LandmarkSeries"):
        session.pipeline_inputs("tag_tracking")
    assert session.pipeline_inputs("heart_4d") == {}
    assert {"heart_4d", "cine_to_tagging", "tagging_to_cine", "tag_tracking"} <= set(SYNTHESIS_PIPELINES)
    # the form's seed and steps go only where declared: the tagging pipelines take neither
    assert session.form_options("cine_to_tagging", 3, 10) == {}
    assert session.form_options("heart_4d", 3, 10) == {"seed": 3}
    assert session.form_options("dense_to_cine", 3, 10) == {"seed": 3, "steps": 10}
    with pytest.raises(CardioGenInputError, match="unknown pipeline"):
        session.form_options("nothing", 0, 1)


def test_a_new_case_removes_the_previous_one(session):
    nodes = _case(session)
    ids = [n.GetID() for n in nodes.nodes]
    session._clear()
    assert all(session.scene.GetNodeByID(i) is None for i in ids)
    assert session.state.case is None and session.browsers() == []


def test_ecg_chart_becomes_a_png_with_every_lead(session):
    import imageio.v3 as iio

    from CardioGenSlicerLib import mrml_ecg as me
    from CardioGenWeb.app import chart_png

    t = np.arange(0, 2.0, 1 / 500)
    leads = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    signal = np.stack([np.sin(2 * np.pi * 1.2 * t) * (1 + 0.1 * k) for k in range(12)])  # (leads, samples)
    made = me.ecg_to_nodes(Ecg(signal, 500.0, leads), "ECG", session.scene)
    png = chart_png(made["chart"])
    rgb = iio.imread(io.BytesIO(png))[..., :3].astype(int)
    assert rgb.shape[0] > 200 and rgb.shape[1] > 400
    assert ((rgb.max(-1) - rgb.min(-1)) > 80).mean() > 0.01  # coloured lead traces


def test_web_layouts_use_the_cardiogen_views():
    from CardioGenWeb.app import web_layouts

    layouts = web_layouts()
    tags = {name: [v.singleton_tag for v in layout.get_views(is_recursive=True)] for name, layout in layouts.items()}
    assert tags["CardioGen"] == ["ThreeD", "Red", "Yellow", "Green"] or set(tags["CardioGen"]) == {
        "Red", "Yellow", "Green", "ThreeD"}
    assert tags["Compare"] == ["Red", "Yellow"]
    assert all(tag.isidentifier() for names in tags.values() for tag in names)  # page state is named after them


def test_every_lesson_step_runs_its_action_with_valid_arguments(monkeypatch):
    """Each step's action exists and accepts its arguments; phantom steps make valid requests and synthesis steps
    name registered pipelines with options they declare."""
    from CardioGenSlicerLib.synthesis_logic import pipeline_declarations
    from CardioGenWeb import lessons

    calls = []

    class Recorder:
        def start_phantom(self, request, label):
            request.options()  # raises on an invalid request
            calls.append(("phantom", request))

        def start_motion(self, method):
            calls.append(("motion", method))

        def show_strain(self, component):
            calls.append(("strain", component))

        def start_synthesis(self, pipeline, options):
            calls.append(("synthesis", pipeline, options))

    declarations = {d["name"]: d for d in pipeline_declarations()}
    for item in lessons.LESSONS:
        assert item.steps and len({s.title for s in item.steps}) == len(item.steps)
        for step in item.steps:
            assert step.action in lessons.ACTIONS
            inspect.signature(lessons.ACTIONS[step.action]).bind(None, **step.args)
            assert len(step.text) > 60  # a sentence of explanation
            lessons.run_step(Recorder(), step)
    kinds = [c[0] for c in calls]
    assert kinds.count("phantom") == 2 and "motion" in kinds and "strain" in kinds
    strain_lesson = [c for c in calls if c[0] == "phantom"][0][1]
    assert strain_lesson.infarct_deg is not None  # the strain lesson shows an infarct
    for _, pipeline, options in [c for c in calls if c[0] == "synthesis"]:
        assert pipeline in declarations
        declared = {o["name"] for o in declarations[pipeline]["options"]}
        assert set(options) <= declared
    with pytest.raises(KeyError, match="no lesson"):
        lessons.lesson("nope")


def test_close_removes_the_session_folder(tmp_path):
    from slicer_standin import make_scene

    from CardioGenWeb.session import WebSession

    s = WebSession(app=make_scene(fresh=True), work_root=tmp_path / "w")
    s.save_upload("a.csv", b"1,2")
    assert (tmp_path / "w" / "uploads" / "a.csv").exists()
    s.close()
    s.close()  # twice is harmless
    assert not (tmp_path / "w").exists()


def test_cli_web_binds_loopback_by_default_and_warns_otherwise(monkeypatch, capsys):
    from cardiogen import cli

    args = cli.build_parser().parse_args(["web"])
    assert args.host == "127.0.0.1" and args.func is cli.cmd_web
    served = {}
    import CardioGenWeb.app as web_app

    monkeypatch.setattr(web_app, "main", lambda **kw: served.update(kw))
    assert cli.main(["web", "--port", "0", "--host", "0.0.0.0"]) == 0
    assert served == {"port": 0, "host": "0.0.0.0", "open_browser": False}
    assert "anyone who can reach this machine" in capsys.readouterr().err


def test_result_lines_name_the_latest_result_and_the_peaks():
    from types import SimpleNamespace

    from CardioGenWeb.app import peaks_line, provenance_line

    made = SimpleNamespace(provenance={"cine": {"pipeline": "latent_video", "weights": "w", "weights_sha256": "a" * 64,
                                                "seed": 3, "device": "cpu", "sampler": None}})
    line = provenance_line(made)
    assert line == f"pipeline: latent_video · weights: w · weights_sha256: {'a' * 16} · seed: 3 · device: cpu"
    assert provenance_line(None) == "" and peaks_line(None) == ""
    motion = SimpleNamespace(peaks={"radial": {"peak": 0.25, "time_ms": 300.0},
                                    "circumferential": {"peak": float("nan"), "time_ms": 0.0}})
    assert peaks_line(motion) == "peak radial: +25.0 % at 300 ms"
