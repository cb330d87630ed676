"""The web session's one background job at a time: start, progress, Cancel, and the status the page shows.

A job is a :class:`CardioGenSlicerLib.process` job of the Slicer modules' logic (a child process);
:meth:`JobRunner.poll` reads its progress and, when it has finished, runs the ``on_done`` import on the server's
thread. Playback pauses while a job runs (:meth:`JobRunner.set_playing` is the session's) and resumes when a job
fails or is cancelled.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from cardiogen.errors import CardioGenInputError


@dataclass
class JobStatus:
    """What the page's progress bar and message line show."""

    task: str = ""              #: "data", "motion", "synthesis", "latent" ("" when idle)
    running: bool = False
    fraction: float = 0.0
    message: str = "Ready"
    error: str = ""
    finished_at: float = 0.0    #: time.monotonic() of the last finished job (0: none yet)
    generation: int = 0         #: increases whenever a job finishes (the page waits on it)


class JobRunner:
    """One job at a time, with its :class:`JobStatus`; subclasses provide ``playing`` and ``set_playing``."""

    def __init__(self) -> None:
        self.status = JobStatus()
        self.job: Any = None
        self._on_done: Optional[Callable[[Any], None]] = None
        self._resume_playing = False

    @property
    def playing(self) -> bool:
        return False

    def set_playing(self, playing: bool) -> None:
        """Start or stop playback of what is shown (the session's views)."""

    @property
    def busy(self) -> bool:
        return self.job is not None and not self.job.state.finished

    def _start(self, task: str, message: str, starter: Callable[..., Any], on_done: Callable[[Any], None]) -> None:
        if self.busy:
            raise CardioGenInputError("a job is running: wait for it or cancel it", got=self.status.task)
        self.status = JobStatus(task=task, running=True, message=message, generation=self.status.generation,
                                finished_at=self.status.finished_at)
        self._on_done = on_done
        # playback pauses while the job runs: every frame is rendered on this CPU, which the job needs (and the
        # server keeps answering the page); the job's results start playing when they arrive
        self._resume_playing = self.playing
        self.set_playing(False)
        try:
            self.job = starter(on_progress=self._progress, on_finished=self._finished)
        except Exception as exc:
            self._fail(str(exc))
            raise

    def _progress(self, fraction: float, message: str) -> None:
        self.status.fraction, self.status.message = float(fraction), str(message or self.status.message)

    def _finished(self, result: Any) -> None:
        from CardioGenSlicerLib.process import JobState

        if result.state == JobState.SUCCEEDED:
            try:
                self._on_done(result)
                self.status.message, self.status.error, self.status.fraction = "Done", "", 1.0
            except Exception as exc:  # import failed: the logic removed what it made
                self._fail(str(exc))
                return
        elif result.state == JobState.CANCELLED:
            self.status.message, self.status.error = "Cancelled", ""
            self.set_playing(self._resume_playing)
        else:
            self._fail(result.error or "the job failed")
            return
        self._settle()

    def _fail(self, error: str) -> None:
        self.status.error, self.status.message = error.splitlines()[0] if error else "failed", "Failed"
        self.set_playing(self._resume_playing)
        self._settle()

    def _settle(self) -> None:
        self.status.running = False
        self.status.finished_at = time.monotonic()
        self.status.generation += 1

    def poll(self) -> bool:
        """Read the running job's progress; import its results when it has finished. Returns True while a job runs
        (the page keeps polling)."""
        if self.job is None:
            return False
        return not self.job.poll().finished

    def cancel(self) -> None:
        if self.busy:
            self.job.cancel()

    def wait(self, timeout: float = 600.0, interval: float = 0.2) -> JobStatus:
        """Poll until the job ends (scripts and tests; the page polls from its event loop instead)."""
        end = time.monotonic() + timeout
        while self.poll():
            if time.monotonic() > end:
                self.cancel()
                raise TimeoutError(f"the {self.status.task} job did not finish in {timeout:.0f} s")
            time.sleep(interval)
        return self.status
