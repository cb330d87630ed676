"""CardioGenSlicerLib.process: the background runner, headless (real child processes and injected fakes)."""
from __future__ import annotations

import io
import json
import os
import sys
import time

import pytest

from CardioGenSlicerLib.process import BackgroundJob, JobState, TimerDriver


def _run(tmp_path, options, **kwargs):
    progress = []
    finished = []
    job = BackgroundJob("selftest", {}, options, tmp_path / "out", on_progress=lambda f, m: progress.append((f, m)),
                        on_finished=finished.append, python=sys.executable, **kwargs)
    job.start()
    return job, progress, finished


def test_successful_job_reports_progress_and_outputs(tmp_path):
    job, progress, finished = _run(tmp_path, {"steps": 3, "seconds": 0.1})
    result = job.wait(timeout=60)
    assert result.state is JobState.SUCCEEDED, result.log_tail
    assert [round(f, 2) for f, _ in progress][:3] == [0.25, 0.5, 0.75] and progress[-1][0] == 1.0
    assert sorted(result.outputs) == ["step_0", "step_1", "step_2"]
    assert (tmp_path / "out" / "step_2.txt").read_text() == "step 2\n"
    assert len(finished) == 1 and finished[0] is result
    assert not list(tmp_path.glob(".out.*.partial"))


def test_failed_job_leaves_no_files_and_shows_the_error(tmp_path):
    job, _, finished = _run(tmp_path, {"steps": 3, "seconds": 0.1, "fail": True})
    result = job.wait(timeout=60)
    assert result.state is JobState.FAILED and result.return_code == 2
    assert "self-test asked to fail" in result.error and "self-test asked to fail" in result.log_tail
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_cancel_kills_the_process_tree_and_removes_partial_files(tmp_path):
    psutil = pytest.importorskip("psutil")
    job, progress, finished = _run(tmp_path, {"steps": 200, "seconds": 60, "spawn_child": True})
    deadline = time.monotonic() + 30
    child_pid = None
    while time.monotonic() < deadline and (child_pid is None or not progress):
        job.poll()
        partial = list(tmp_path.glob(".out.*.partial"))
        if partial and (partial[0] / "child.pid").exists():
            child_pid = int((partial[0] / "child.pid").read_text())
        time.sleep(0.05)
    assert child_pid is not None and progress, "the job never started writing"
    assert list(tmp_path.glob(".out.*.partial")), "partial folder should exist while running"
    parent_pid = job._process.pid
    job.cancel()
    assert job.state is JobState.CANCELLED and finished[-1].state is JobState.CANCELLED
    time.sleep(0.2)
    for pid in (parent_pid, child_pid):
        alive = psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert not alive, f"process {pid} survived Cancel"
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


def test_bad_manifest_options_fail_cleanly(tmp_path):
    job = BackgroundJob("no-such-job", {}, {}, tmp_path / "out", python=sys.executable)
    job.start()
    result = job.wait(timeout=60)
    assert result.state is JobState.FAILED and "unknown job" in result.error


class FakeProcess:
    """An injected child: yields prepared stdout lines, then exits with ``code``."""

    def __init__(self, lines, code=0):
        self.pid = os.getpid()
        self.stdout = io.StringIO("".join(json.dumps(x) + "\n" if isinstance(x, dict) else x for x in lines))
        self.code = code
        self.killed = False

    def poll(self):
        return self.code

    def wait(self, timeout=None):
        return self.code

    def terminate(self):
        self.killed = True


def test_injected_process_drives_progress_without_a_child(tmp_path):
    fake = FakeProcess([{"event": "start"}, {"event": "progress", "fraction": 0.3, "message": "half"},
                        "a free log line\n",
                        {"event": "result", "outputs": {"x": "x.nrrd"}, "summary": {"n": 1}}])
    seen = []
    job = BackgroundJob("phantom", {}, {}, tmp_path / "o", process_factory=lambda cmd, env: fake,
                        on_progress=lambda f, m: seen.append((f, m)))
    job.start()
    result = job.wait(timeout=10)
    assert seen == [(0.3, "half")]
    assert result.state is JobState.SUCCEEDED and result.outputs == {"x": "x.nrrd"}
    assert "a free log line" in result.log_tail


def test_timer_driver_polls_until_finished(tmp_path):
    class Signal:
        def __init__(self):
            self.fn = None

        def connect(self, fn):
            self.fn = fn

    class Timer:
        def __init__(self):
            self.timeout, self.running = Signal(), False

        def start(self, ms):
            self.running = True

        def stop(self):
            self.running = False

    fake = FakeProcess([{"event": "result", "outputs": {}, "summary": {}}])
    job = BackgroundJob("phantom", {}, {}, tmp_path / "o", process_factory=lambda cmd, env: fake)
    job.start()
    timer = Timer()
    TimerDriver(job, timer)
    for _ in range(100):
        if not timer.running:
            break
        timer.timeout.fn()
        time.sleep(0.01)
    assert job.state is JobState.SUCCEEDED and not timer.running
