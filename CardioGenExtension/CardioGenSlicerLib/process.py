"""Background jobs for the Slicer modules: ``PythonSlicer -m cardiogen run JOB.json`` with progress and Cancel.

This module imports neither slicer nor qt, so it is tested headless. The GUI drives it with a timer that calls
:meth:`BackgroundJob.poll` (see :class:`TimerDriver`); nothing here blocks: a reader thread moves the child's
stdout lines into a queue, and :meth:`poll` drains it.

Protocol (``cardiogen.jobs``): the child prints one JSON object per line (``start``, ``progress``, ``result``,
``error``) and writes its files into a temporary ``.NAME.*.partial`` folder that becomes ``output_dir`` only on
success. :meth:`BackgroundJob.cancel` kills the whole process tree (its own process group, then any survivors found
with psutil) and removes the partial folder and ``output_dir``, so a cancelled or failed run leaves no files.
"""
from __future__ import annotations

import collections
import enum
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, Sequence


class JobState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    BAD_INPUT = 2
    CANCELLED = -15


class ChildProcess(Protocol):
    """What :class:`BackgroundJob` needs from a process (``subprocess.Popen`` has it; tests inject fakes)."""

    pid: int
    stdout: Any

    def poll(self) -> Optional[int]: ...

    def wait(self, timeout: Optional[float] = None) -> int: ...


ProcessFactory = Callable[[Sequence[str], dict], ChildProcess]


def default_process_factory(command: Sequence[str], env: dict) -> ChildProcess:
    """Start ``command`` in its own process group (so Cancel can kill the whole tree), stdout piped, stderr to a
    log file kept beside the job."""
    kwargs: dict[str, Any] = {}
    if os.name == "nt":  # pragma: no cover - Windows
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
    else:
        kwargs["start_new_session"] = True
    return subprocess.Popen(list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True,
                            bufsize=1, **kwargs)


def default_python() -> str:
    """PythonSlicer inside Slicer (it has Slicer's packages but no GUI), else this interpreter."""
    if "slicer" in sys.modules:
        candidate = shutil.which("PythonSlicer")
        if candidate:
            return candidate
        home = getattr(getattr(sys.modules["slicer"], "app", None), "slicerHome", None)
        if home:
            for rel in ("bin/PythonSlicer", "bin/PythonSlicer.exe"):
                path = Path(home) / rel
                if path.exists():
                    return str(path)
    return sys.executable


def cardiogen_pythonpath() -> str:
    """The folder holding the ``cardiogen`` package (so a development checkout works in the child too)."""
    import cardiogen

    return str(Path(cardiogen.__file__).resolve().parents[1])


@dataclass
class JobResult:
    state: JobState
    outputs: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    output_dir: Optional[Path] = None
    error: str = ""
    log_tail: str = ""
    return_code: Optional[int] = None


class BackgroundJob:
    """One ``cardiogen run`` job.

    Args:
        job: job name in ``cardiogen.jobs.JOBS`` ("phantom", "load", pipelines later).
        inputs / options: JSON-able dicts passed to the job.
        output_dir: where the results appear on success (must not exist yet, or be empty).
        on_progress: ``(fraction, message)`` called from :meth:`poll` (GUI thread).
        on_finished: ``(JobResult)`` called once from :meth:`poll` or :meth:`cancel`.
        process_factory: starts the child; injectable for tests.
        python: interpreter for the child (default: PythonSlicer inside Slicer, else ``sys.executable``).
        force_cpu: asks the job to use the CPU (passed as an option; the environment is left alone).
    """

    LOG_LINES = 40

    def __init__(self, job: str, inputs: dict, options: dict, output_dir: str | os.PathLike, *,
                 on_progress: Optional[Callable[[float, str], None]] = None,
                 on_finished: Optional[Callable[[JobResult], None]] = None,
                 process_factory: ProcessFactory = default_process_factory, python: Optional[str] = None,
                 force_cpu: bool = False) -> None:
        self.job = job
        self.inputs = dict(inputs)
        self.options = dict(options)
        if force_cpu:
            self.options["device"] = "cpu"
        self.output_dir = Path(output_dir)
        self.on_progress = on_progress
        self.on_finished = on_finished
        self.process_factory = process_factory
        self.python = python or default_python()
        self.state = JobState.IDLE
        self.fraction = 0.0
        self.message = ""
        self.result: Optional[JobResult] = None
        self._process: Optional[ChildProcess] = None
        self._queue: "queue.Queue[Optional[str]]" = queue.Queue()
        self._log: collections.deque[str] = collections.deque(maxlen=self.LOG_LINES)
        self._reader: Optional[threading.Thread] = None
        self._workdir: Optional[Path] = None
        self._result_event: Optional[dict] = None
        self._error_event: Optional[dict] = None
        self._eof = False

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state is not JobState.IDLE:
            raise RuntimeError(f"job already {self.state.value}")
        if self.output_dir.exists() and any(self.output_dir.iterdir()):
            raise FileExistsError(f"{self.output_dir}: output folder exists and is not empty")
        self._workdir = Path(tempfile.mkdtemp(prefix="cardiogen-job-"))
        manifest = self._workdir / "job.json"
        manifest.write_text(json.dumps({"job": self.job, "inputs": self.inputs, "options": self.options,
                                        "output_dir": str(self.output_dir.resolve())}, default=str))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (cardiogen_pythonpath(), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        command = [self.python, "-m", "cardiogen", "run", str(manifest)]
        self._process = self.process_factory(command, env)
        self.state = JobState.RUNNING
        self._reader = threading.Thread(target=self._read_stdout, name=f"cardiogen-{self.job}-reader", daemon=True)
        self._reader.start()

    def _read_stdout(self) -> None:
        stream = self._process.stdout if self._process is not None else None
        try:
            if stream is not None:
                for line in stream:
                    self._queue.put(line)
        except (OSError, ValueError):  # stream closed by cancel
            pass
        finally:
            self._queue.put(None)

    def poll(self) -> JobState:
        """Drain the child's output (call from a GUI timer); finishes the job when the child has exited."""
        if self.state is not JobState.RUNNING:
            return self.state
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._eof = True
                break
            self._handle_line(line)
        if self._eof and self._process is not None:
            code = self._process.poll()
            if code is None:
                try:
                    code = self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    return self.state
            self._finish(code)
        return self.state

    def wait(self, timeout: float = 600.0, interval: float = 0.05) -> JobResult:
        """Poll until finished (scripts and tests; the GUI uses a timer instead)."""
        deadline = time.monotonic() + timeout
        while self.poll() is JobState.RUNNING:
            if time.monotonic() > deadline:
                self.cancel()
                break
            time.sleep(interval)
        assert self.result is not None
        return self.result

    def _handle_line(self, line: str) -> None:
        text = line.rstrip("\n")
        try:
            event = json.loads(text) if text.startswith("{") else None
        except ValueError:
            event = None
        if not isinstance(event, dict) or "event" not in event:
            if text.strip():
                self._log.append(text)
            return
        kind = event["event"]
        if kind == "progress":
            self.fraction = float(event.get("fraction", self.fraction))
            self.message = str(event.get("message", ""))
            if self.on_progress:
                self.on_progress(self.fraction, self.message)
        elif kind == "result":
            self._result_event = event
        elif kind == "error":
            self._error_event = event
            self._log.append(f"error: {event.get('message', '')}")

    def _finish(self, code: int) -> None:
        if code == 0 and self._result_event is not None:
            result = JobResult(JobState.SUCCEEDED, outputs=dict(self._result_event.get("outputs") or {}),
                               summary=dict(self._result_event.get("summary") or {}), output_dir=self.output_dir,
                               log_tail=self.log_tail, return_code=code)
        else:
            message = (self._error_event or {}).get("message") or f"the background process exited with code {code}"
            self._remove_outputs()
            result = JobResult(JobState.FAILED, error=str(message), log_tail=self.log_tail, return_code=code)
        self._complete(result)

    def cancel(self) -> None:
        """Kill the process tree, remove partial and final outputs, and finish as CANCELLED."""
        if self.state is not JobState.RUNNING:
            return
        if self._process is not None:
            kill_process_tree(self._process)
        self._remove_outputs()
        self._complete(JobResult(JobState.CANCELLED, error="cancelled by the user", log_tail=self.log_tail,
                                 return_code=ExitCode.CANCELLED))

    def _complete(self, result: JobResult) -> None:
        self.state = result.state
        self.result = result
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
        if self.on_finished:
            self.on_finished(result)

    def _remove_outputs(self) -> None:
        parent = self.output_dir.parent
        if parent.is_dir():
            for partial in parent.glob(f".{self.output_dir.name}.*.partial"):
                shutil.rmtree(partial, ignore_errors=True)
        if self.output_dir.exists():
            shutil.rmtree(self.output_dir, ignore_errors=True)

    @property
    def log_tail(self) -> str:
        return "\n".join(self._log)


def kill_process_tree(process: ChildProcess, timeout: float = 5.0) -> None:
    """Terminate a child and all its descendants (process group first, then psutil for strays)."""
    descendants = []
    try:
        import psutil

        try:
            descendants = psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
    except ImportError:  # pragma: no cover - psutil ships with Slicer
        psutil = None  # type: ignore[assignment]
    if os.name != "nt":
        try:
            os.killpg(os.getpgid(process.pid), signal.SIGTERM)
        except (ProcessLookupError, PermissionError, OSError):
            pass
    terminate = getattr(process, "terminate", None)
    if terminate is not None:
        try:
            terminate()
        except OSError:
            pass
    try:
        process.wait(timeout=timeout)
    except Exception:  # noqa: BLE001 - escalate below whatever the wait raised
        kill = getattr(process, "kill", None)
        if kill is not None:
            try:
                kill()
            except OSError:
                pass
    for child in descendants:
        try:
            child.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass


class JobLogic:
    """What every module logic that starts background jobs shares: the process factory and interpreter (both
    injectable), a work folder (default: a new temporary one) with numbered per-job output folders, the scene.

    Args:
        process_factory: how jobs start their child process (tests inject fakes).
        python: interpreter for jobs (default: PythonSlicer inside Slicer).
        work_root: where job inputs and outputs go.
        scene: MRML scene (default ``slicer.mrmlScene``).
    """

    work_prefix = "CardioGen-"

    def __init__(self, process_factory: ProcessFactory = default_process_factory, python: Optional[str] = None,
                 work_root: Optional[Path] = None, scene: Any = None) -> None:
        self.process_factory = process_factory
        self.python = python
        self.work_root = Path(work_root) if work_root else Path(tempfile.mkdtemp(prefix=self.work_prefix))
        self.scene = scene
        self._counter = 0

    def _dir(self, stem: str) -> Path:
        """A new numbered folder name under the work root (created by whoever writes into it)."""
        self._counter += 1
        return self.work_root / f"{stem}-{self._counter:03d}"


class TimerDriver:
    """Polls a job from a GUI timer: ``TimerDriver(job, timer_factory)``; the timer factory returns an object with
    ``timeout.connect(fn)``, ``start(ms)`` and ``stop()`` (a ``qt.QTimer``), keeping Qt out of this module."""

    def __init__(self, job: BackgroundJob, timer: Any, interval_ms: int = 200) -> None:
        self.job = job
        self.timer = timer
        self.timer.timeout.connect(self._tick)
        self.timer.start(interval_ms)

    def _tick(self) -> None:
        if self.job.poll().finished:
            self.timer.stop()
