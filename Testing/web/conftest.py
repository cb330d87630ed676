"""The web app's tiers: the session without a browser, and a browser tier that starts ``cardiogen web`` on a free
loopback port and drives Debian's headless Chromium through Playwright (no browser download)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "CardioGenExtension"))
sys.path.insert(0, str(ROOT / "Testing"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

pytest.importorskip("trame_slicer", reason="trame-slicer (PyPI) is not installed: pip install -r requirements-dev.txt")

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--no-first-run"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebServer:
    """``cardiogen web`` in a child process on a free loopback port."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = log_path
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "CardioGenLogic"), env.get("PYTHONPATH", "")])
        self.started = time.monotonic()
        self.log = open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "cardiogen", "web", "--port", str(self.port)],
                                        stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))

    def wait_listening(self, timeout: float = 120.0) -> float:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError(f"cardiogen web exited ({self.process.returncode}):\n{self.log_text()[-3000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return time.monotonic() - self.started
            time.sleep(0.2)
        raise TimeoutError(f"cardiogen web did not listen on {self.port} in {timeout:.0f} s")

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def session_folder(self) -> Path | None:
        for line in self.log_text().splitlines():
            if "session folder" in line:
                return Path(line.split("session folder", 1)[1].split("(")[0].strip())
        return None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # as Ctrl+C: the app removes its session folder
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode
