"""The cardiogen command line: phantom -> info -> convert -> preview -> measure, demo, run; bad input exits 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cardiogen.cli import main


@pytest.fixture(scope="module")
def phantom_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "case"
    assert main(["phantom", "--out", str(out), "--seed", "3", "--size", "48", "--frames", "12", "--slices", "8",
                 "--ct-size", "40", "--ct-frames", "4", "--quiet"]) == 0
    return out


def test_phantom_writes_every_modality_and_truth(phantom_dir):
    manifest = json.loads((phantom_dir / "case.json").read_text())
    for key in ("cine", "tagging", "dense", "ct", "ecg", "truth_segmentation", "truth_displacement",
                "truth_strain_circumferential", "truth_phenotypes"):
        assert (phantom_dir / manifest["files"][key]).is_file(), key
    assert manifest["config"]["seed"] == 3 and "lvedv_ml" in manifest["phenotypes"]
    assert not list(phantom_dir.rglob("*.partial*"))


def test_info_describes_each_file(phantom_dir, capsys):
    files = [phantom_dir / n for n in ("cine.seq.nrrd", "tagging.seq.nrrd", "dense.dense.json", "ct.seq.nrrd",
                                       "ecg.csv", "truth/segmentation.seq.nrrd", "truth/displacement.seq.nrrd")]
    assert main(["info", "--json", *map(str, files)]) == 0
    infos = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    by_name = {Path(i["file"]).name: i for i in infos}
    assert by_name["cine.seq.nrrd"]["modality"] == "cine" and by_name["cine.seq.nrrd"]["shape"] == [12, 8, 48, 48]
    assert by_name["ct.seq.nrrd"]["modality"] == "ct" and by_name["ct.seq.nrrd"]["frames"] == 4
    assert by_name["dense.dense.json"]["kind"] == "dense"
    assert by_name["ecg.csv"]["n_leads"] == 12 and 40 < by_name["ecg.csv"]["heart_rate_bpm"] < 110
    assert by_name["segmentation.seq.nrrd"]["kind"] == "segmentation"
    assert by_name["displacement.seq.nrrd"]["kind"] == "displacement"
    assert all(i["synthetic"] for i in infos if "synthetic" in i and i["kind"] == "image")


def test_convert_and_preview(phantom_dir, tmp_path):
    from cardiogen.io import load

    assert main(["convert", str(phantom_dir / "ct.seq.nrrd"), str(tmp_path / "ct.nii.gz")]) == 0
    a, b = load(phantom_dir / "ct.seq.nrrd"), load(tmp_path / "ct.nii.gz")
    assert np.allclose(a.array, b.array, atol=1e-3) and a.geometry.allclose(b.geometry, atol=1e-3)
    assert np.allclose(a.frame_times, b.frame_times, atol=1e-3)
    assert main(["preview", str(phantom_dir / "tagging.seq.nrrd"), "--out", str(tmp_path / "tag.gif")]) == 0
    assert (tmp_path / "tag.gif").stat().st_size > 1000
    assert main(["preview", str(phantom_dir / "cine.seq.nrrd"), "--out", str(tmp_path / "cine.mp4")]) == 0
    assert (tmp_path / "cine.mp4").stat().st_size > 1000


def test_measure_on_phantom_truth_matches_the_phantom(phantom_dir, capsys):
    assert main(["measure", str(phantom_dir / "truth" / "segmentation.seq.nrrd"), "--json"]) == 0
    measured = json.loads(capsys.readouterr().out)
    truth = json.loads((phantom_dir / "truth" / "phenotypes.json").read_text())
    assert measured["lv_edv_ml"] == pytest.approx(truth["lvedv_ml"], rel=0.15)
    assert 40 < measured["lv_ef_pct"] < 80


def test_bad_input_exits_2_with_a_message_naming_the_file(tmp_path, capsys):
    bogus = tmp_path / "mystery.xyz"
    bogus.write_bytes(b"\x00\x01garbage")
    assert main(["info", str(bogus)]) == 2
    err = capsys.readouterr().err
    assert "mystery.xyz" in err and "unknown file type" in err
    assert main(["convert", str(tmp_path / "missing.nrrd"), str(tmp_path / "x.nii")]) == 2
    assert not (tmp_path / "x.nii").exists()
    assert main(["phantom", "--out", str(tmp_path / "p"), "--size", "8", "--quiet"]) == 2


def test_demo_builds_the_html_page(tmp_path):
    from cardiogen.demo import run_demo

    page = run_demo(tmp_path / "demo", seed=1, quiet=True)
    html = page.read_text()
    assert "synthetic" in html and "previews/cine.gif" in html and "12-lead ECG" in html
    for name in ("cine.gif", "tagging.gif", "dense_phase_x.gif", "ct.gif", "ecg.png", "strain.png"):
        assert (tmp_path / "demo" / "previews" / name).stat().st_size > 1000, name


def test_python_m_cardiogen_run_job_streams_json_progress(tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"job": "phantom", "options": {"seed": 5, "size": 32, "frames": 10, "slices": 4,
                                                              "modalities": ["cine", "ecg"]},
                               "output_dir": str(tmp_path / "out")}))
    proc = subprocess.run([sys.executable, "-m", "cardiogen", "run", str(job)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "result" and kinds.count("progress") >= 3
    fractions = [e["fraction"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    result = events[-1]
    assert (tmp_path / "out" / result["outputs"]["cine"]).is_file()
    assert result["summary"]["cine"]["modality"] == "cine"
