"""The Run / progress / Cancel behaviour every CardioGen panel shares (GUI side of :mod:`.process`).

A :class:`JobPanel` owns a timer that polls the running :class:`~.process.BackgroundJob` (the GUI thread never
waits), moves the progress bar and status text, switches the run buttons off and Cancel on while a job runs, and
shows errors — the library's one-line message and the log tail — in the panel instead of a traceback dialog.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from .process import JobResult, JobState


class JobPanel:
    """Args:
        progress_bar, status_label, cancel_button: the panel's widgets.
        run_buttons: buttons disabled while a job runs.
        details: optional text widget (``setPlainText``) for summaries and log tails.
        timer: a ``qt.QTimer`` (injectable).
        on_success: ``(JobResult) -> str`` turning a finished job into nodes; returns the summary text.
        before_start: ``() -> None or message`` run before every job, e.g. a
            :class:`~.dependencies.DependencyGate` (installs what the job needs on first use); a message means the
            job does not start and the message is shown.
    """

    def __init__(self, progress_bar: Any, status_label: Any, cancel_button: Any, run_buttons: Sequence[Any],
                 timer: Any, on_success: Callable[[JobResult], str], details: Any = None,
                 before_start: Optional[Callable[[], Optional[str]]] = None) -> None:
        self.progress_bar = progress_bar
        self.status_label = status_label
        self.cancel_button = cancel_button
        self.run_buttons = list(run_buttons)
        self.details = details
        self.on_success = on_success
        self.before_start = before_start
        self.on_out_of_memory: Optional[Callable[[], None]] = None  #: e.g. offer the CPU after a GPU OOM
        #: status line after a success, set by ``on_success`` (e.g. to report the result's warnings); "Done." if None
        self.done_message: Optional[str] = None
        self.job = None
        self.timer = timer
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.poll)
        self.cancel_button.clicked.connect(self.cancel)
        self.update_enabled()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.state is JobState.RUNNING

    def start(self, start_job: Callable[[Callable, Callable], Any], message: str) -> None:
        """``start_job(on_progress, on_finished)`` starts and returns a BackgroundJob; errors show in the panel."""
        if self.details is not None:
            self.details.setPlainText("")
        if not self.ready():
            return
        try:
            self.job = start_job(self.on_progress, self.on_finished)
        except Exception as exc:  # the library's clear error, shown in the panel
            self.show_error(str(exc))
            return
        self.progress_bar.setValue(0)
        self.status_label.setText(message + " …")
        self.timer.start()
        self.update_enabled()

    def ready(self) -> bool:
        """Run :attr:`before_start`; False (its message shown, nothing started) when the job cannot run."""
        refusal = self.before_start() if self.before_start is not None else None
        if refusal:
            self.progress_bar.setValue(0)
            self.status_label.setText(f"Not started: {refusal}")
            if self.details is not None:
                self.details.setPlainText(refusal)
            self.update_enabled()
            return False
        return True

    def poll(self) -> None:
        if self.job is None or self.job.poll().finished:
            self.timer.stop()
        self.update_enabled()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(round(100 * fraction)))
        if message:
            self.status_label.setText(message)

    def on_finished(self, result: JobResult) -> None:
        self.timer.stop()
        if result.state is JobState.SUCCEEDED:
            self.done_message = None
            try:
                summary = self.on_success(result)
            except Exception as exc:
                self.show_error(f"Could not show the result: {exc}")
            else:
                self.progress_bar.setValue(100)
                self.status_label.setText(self.done_message or "Done.")
                if self.details is not None:
                    self.details.setPlainText(summary or "")
        elif result.state is JobState.CANCELLED:
            self.progress_bar.setValue(0)
            self.status_label.setText("Cancelled. Nothing was added.")
        else:
            self.show_error(result.error, result.log_tail)
            if "out of memory" in result.error.lower() and self.on_out_of_memory is not None:
                self.on_out_of_memory()
        self.update_enabled()

    def show_error(self, message: str, log_tail: str = "") -> None:
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Error: {message}")
        if self.details is not None:
            self.details.setPlainText(log_tail or message)
        self.update_enabled()

    def update_enabled(self, extra_ok: Optional[bool] = True) -> None:
        for button in self.run_buttons:
            button.setEnabled(not self.running and bool(extra_ok))
        self.cancel_button.setEnabled(self.running)


def export_last_result(ui: Any, logic: Any, results: list, prop: Callable, what: str = "run a pipeline") -> None:
    """The panels' *Export*: the first series of the newest result to the path in ``ui.exportPathLineEdit`` (GIF,
    MP4 or a synthetic DICOM folder, see ``SynthesisLogic.export``); the outcome goes to ``ui.statusLabel``."""
    path = prop(ui.exportPathLineEdit, "currentPath")
    if not path or not results or not results[-1].series:
        ui.statusLabel.setText(f"Error: {what} and choose a file or folder first.")
        return
    node = next(iter(results[-1].series.values())).volume
    try:
        written = logic.export(node, path)
    except Exception as exc:  # the library's clear error, shown in the panel
        ui.statusLabel.setText(f"Error: {exc}")
        return
    ui.statusLabel.setText(f"Exported {node.GetName()} to {written}")


def switch_to_cpu(ui: Any, prop: Callable, advice: str) -> None:
    """After a GPU out-of-memory error: select "cpu" in ``ui.deviceComboBox`` and say so in ``ui.statusLabel``."""
    ui.deviceComboBox.setCurrentIndex(ui.deviceComboBox.findText("cpu"))
    ui.statusLabel.setText(prop(ui.statusLabel, "text") + f" — device switched to CPU: {advice}")
