"""Benchmark: the web app's responsiveness on CPU, in headless Chromium (Debian's, through Playwright).

* first view: from starting ``cardiogen web`` to the page showing a rendered Slicer view (target < 10 s); trame-
  slicer's own ``medical-viewer`` app, started the same way on the same machine in the same run, is the baseline;
* latent explorer: from releasing a phenotype slider to the Red view's new image in the page (target < 1 s), with
  the part spent generating the preview frame on the server.

    .venv/bin/python benchmarks/web.py [--runs 3] [--moves 6]

Writes docs/benchmarks/web.json and the web section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "CardioGenLogic"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

FIRST_VIEW_TARGET_S = 10.0
PREVIEW_TARGET_S = 1.0
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--no-first-run"]
VIEW_JS = ("() => { const im = document.querySelector('img.image-display-area');"
           " return im !== null && im.naturalWidth > 0; }")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(command: list[str], log: Path) -> tuple[subprocess.Popen, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1",
               VTK_DEFAULT_OPENGL_WINDOW=os.environ.get("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow"))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "CardioGenLogic"), env.get("PYTHONPATH", "")])
    t0 = time.monotonic()
    proc = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, cwd=str(REPO))
    return proc, t0


def _wait_port(proc: subprocess.Popen, port: int, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError("server did not listen")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def first_view(browser, command: list[str], port: int, log: Path) -> dict:
    """Seconds from starting ``command`` to listening and to a rendered view in a new page."""
    proc, t0 = _start(command, log)
    try:
        _wait_port(proc, port)
        listening = time.monotonic() - t0
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(VIEW_JS, timeout=120_000)
        shown = time.monotonic() - t0
        page.close()
        return {"listening_s": listening, "first_view_s": shown}
    finally:
        _stop(proc)


def slider_moves(browser, port: int, log: Path, moves: int) -> list[dict]:
    """Release the first phenotype slider at ``moves`` positions; per move the seconds to the server's new measure
    and to the Red view's new image, and the server's time to make the preview frame."""
    proc, _ = _start([sys.executable, "-m", "cardiogen", "web", "--port", str(port)], log)
    out = []
    try:
        _wait_port(proc, port)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(VIEW_JS, timeout=120_000)
        page.click("#cg-tab-latent")
        page.click("#cg-latent-seed")
        page.wait_for_selector("#cg-latent-measured", timeout=120_000)
        time.sleep(2.0)
        slider = page.locator(".cg-latent-slider").first
        box = slider.locator(".v-slider-track").bounding_box()
        thumb = slider.locator(".v-slider-thumb")
        low, high, now = (float(thumb.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax", "aria-valuenow"))
        start = 0.15 if now > (low + high) / 2 else 0.85  # away from the thumb: a click on it moves nothing
        red = "() => document.querySelector('#cg-views img.image-display-area').src"
        for k in range(moves):
            # alternate ends of the track (each click lands far from where the last one left the thumb)
            frac = (start if k % 2 == 0 else 1.0 - start) + 0.05 * (k // 2 % 3) * (1 if start < 0.5 else -1)
            x = box["x"] + box["width"] * frac
            measured, src = page.text_content("#cg-latent-measured"), page.evaluate(red)
            t0 = time.monotonic()
            page.mouse.click(x, box["y"] + box["height"] / 2)
            page.wait_for_function(f"() => document.querySelector('#cg-latent-measured').textContent !== "
                                   f"{measured!r}", timeout=30_000)
            t_measured = time.monotonic() - t0
            page.wait_for_function(f"() => ({red})() !== {src!r}", timeout=30_000)
            t_view = time.monotonic() - t0
            server_s = float(page.text_content("#cg-latent-time").split()[2])
            out.append({"to_measure_s": t_measured, "to_view_s": t_view, "server_preview_s": server_s})
            time.sleep(0.5)
        page.close()
    finally:
        _stop(proc)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="server starts per app (median reported)")
    parser.add_argument("--moves", type=int, default=6, help="slider releases")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium is not installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    from _common import command_line, write_result

    logs = REPO / "Testing" / "_artifacts"
    logs.mkdir(parents=True, exist_ok=True)
    viewer = shutil.which("medical-viewer", path=str(Path(sys.executable).parent)) or shutil.which("medical-viewer")
    starts: dict[str, list[dict]] = {"cardiogen": [], "medical_viewer": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for _ in range(args.runs):  # interleaved: both apps see the same machine load
            port = _free_port()
            starts["cardiogen"].append(first_view(
                browser, [sys.executable, "-m", "cardiogen", "web", "--port", str(port)], port,
                logs / "bench_web_cardiogen.log"))
            if viewer:
                port = _free_port()
                starts["medical_viewer"].append(first_view(
                    browser, [viewer, "--server", "--host", "127.0.0.1", "--port", str(port)], port,
                    logs / "bench_web_viewer.log"))
        moves = slider_moves(browser, _free_port(), logs / "bench_web_slider.log", args.moves)
        browser.close()

    def med(rows: list[dict], key: str) -> float | None:
        return round(statistics.median(r[key] for r in rows), 3) if rows else None

    metrics = {
        "runs": args.runs, "moves": args.moves, "threads": 1,
        "first_view_target_s": FIRST_VIEW_TARGET_S, "preview_target_s": PREVIEW_TARGET_S,
        "cardiogen_listening_s": med(starts["cardiogen"], "listening_s"),
        "cardiogen_first_view_s": med(starts["cardiogen"], "first_view_s"),
        "viewer_listening_s": med(starts["medical_viewer"], "listening_s"),
        "viewer_first_view_s": med(starts["medical_viewer"], "first_view_s"),
        "slider_to_measure_s": med(moves, "to_measure_s"),
        "slider_to_view_s": med(moves, "to_view_s"),
        "slider_to_view_max_s": round(max(m["to_view_s"] for m in moves), 3),
        "server_preview_s": med(moves, "server_preview_s"),
        "starts": starts, "slider": moves,
    }
    viewer = metrics["viewer_first_view_s"]
    metrics["first_view_ratio_to_viewer"] = round(metrics["cardiogen_first_view_s"] / viewer, 2) if viewer else None
    metrics["slider_view_to_server_ratio"] = round(metrics["slider_to_view_s"] / max(metrics["server_preview_s"], 1e-6),
                                                   1)
    command = command_line("web")
    write_result("web", command=command, metrics=metrics, report=report)
    print(report({"metrics": metrics})[0])
    ok = metrics["cardiogen_first_view_s"] < FIRST_VIEW_TARGET_S and metrics["slider_to_view_s"] < PREVIEW_TARGET_S
    return 0 if ok else 1


def report(record: dict) -> tuple[str, str]:
    """Table and notes from a recorded run, every figure from ``record["metrics"]``."""
    m = record["metrics"]
    fv, pv = m["first_view_target_s"], m["preview_target_s"]
    viewer = m["viewer_first_view_s"]
    ratio = f"{m['first_view_ratio_to_viewer']:.2f}×" if viewer else "n/a"
    table = (
        "| measure | CardioGen web | baseline | ratio | target |\n|---|---|---|---|---|\n"
        f"| server start → listening (s, median of {m['runs']}) | {m['cardiogen_listening_s']:.2f} | "
        f"{m['viewer_listening_s'] if m['viewer_listening_s'] is not None else 'n/a'} (trame-slicer medical-viewer) "
        "| | |\n"
        f"| server start → first rendered view in the page (s) | **{m['cardiogen_first_view_s']:.2f}** | "
        f"{viewer if viewer is not None else 'n/a'} (medical-viewer) | {ratio} | < {fv:g} s |\n"
        f"| slider released → Red view's new image (s, median of {m['moves']}; max) | "
        f"**{m['slider_to_view_s']:.2f}** ({m['slider_to_view_max_s']:.2f}) | "
        f"{m['server_preview_s']:.3f} (server makes the frame) | "
        f"{m['slider_view_to_server_ratio']:.1f}× | < {pv:g} s |\n"
        f"| slider released → measured phenotypes shown (s) | {m['slider_to_measure_s']:.2f} | | | |")
    meets_fv, meets_pv = m["cardiogen_first_view_s"] < fv, m["slider_to_view_s"] < pv
    notes = (f"First view {'meets' if meets_fv else 'MISSES'} its target ({m['cardiogen_first_view_s']:.2f} s "
             f"against {fv:g} s); the slider preview {'meets' if meets_pv else 'MISSES'} its target "
             f"({m['slider_to_view_s']:.2f} s median against {pv:g} s). Headless Chromium on the same machine as "
             f"the server (loopback), server with {m['threads']} BLAS/OpenMP thread; a view counts as shown when "
             "its image has pixels in the page, a preview when the Red view's image changes.")
    return table, notes


if __name__ == "__main__":
    sys.exit(main())
