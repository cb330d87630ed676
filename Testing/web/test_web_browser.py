"""Browser tier: ``cardiogen web`` on a free loopback port, driven by Debian's headless Chromium through Playwright.

One server and one page for the whole file, in order, as a class would use it: the first view, Data (a shared
sample, a bad upload, a phantom case with an infarct), Motion (strain overlay, curves, bull's-eye), Synthesis
(DENSE → cine side by side, playing; Cancel; cine → tagging), the Latent explorer (sliders, live preview, video) and both lessons;
last, the server stops and its session folder is gone. Screenshots go to ``Testing/_artifacts/web_*.png``
(``scripts/update_screenshots.sh`` copies them to ``docs/screenshots``) and are checked by pixel statistics.
"""
from __future__ import annotations

import io
import time

import numpy as np
import pytest

from conftest import CHROMIUM_ARGS, WebServer, chromium_path

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 420_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if chromium_path() is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -r requirements-dev.txt")
    srv = WebServer(tmp_path_factory.mktemp("web") / "server.log")
    srv.wait_listening()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _state(page) -> tuple[int, bool, int]:
    generation, busy, step = page.text_content("#cg-state").split("|")
    return int(generation), busy.strip() == "true", int(step)


def _wait_job(page, before: int) -> str:
    """Wait until a job started after generation ``before`` has finished; returns the status message."""
    page.wait_for_function(
        f"() => {{ const t = document.querySelector('#cg-state'); if (!t) return false;"
        f" const [g, busy] = t.textContent.split('|'); return Number(g) > {before} && busy.trim() === 'false'; }}",
        timeout=JOB_TIMEOUT_MS)
    return page.text_content("#cg-message").strip()


def _run(page, selector: str) -> str:
    before = _state(page)[0]
    page.click(selector)
    message = _wait_job(page, before)
    error = page.text_content("#cg-error") if page.query_selector("#cg-error") else ""
    assert message == "Done", f"{selector}: {message} {error}"
    time.sleep(2.5)  # the views are refitted after a layout switch (REFIT_DELAY_S) and their images reach the page
    return message


def _pixels(page, selector: str, path) -> np.ndarray:
    import imageio.v3 as iio

    png = page.locator(selector).screenshot(path=str(path))
    return iio.imread(io.BytesIO(png))[..., :3].astype(np.int16)


def _coloured(rgb: np.ndarray, min_chroma: int = 80) -> float:
    """Fraction of strongly coloured pixels (overlays, legends, curves; grey images have none)."""
    return float(((rgb.max(axis=-1) - rgb.min(axis=-1)) >= min_chroma).mean())


def _tab(page, name: str) -> None:
    page.click(f"#cg-tab-{name}")
    page.wait_for_selector(f"#cg-panel-{name}")


def _choose(page, selector: str, option: str) -> None:
    page.locator(selector).locator("xpath=ancestor::div[contains(@class, 'v-field')][1]").click()
    page.locator(".v-overlay--active .v-list-item", has_text=option).first.click()


def test_first_view(page, server, artifacts_dir):
    t0 = time.monotonic()
    page.goto(server.url)
    page.wait_for_function("() => { const im = document.querySelector('#cg-views img.image-display-area');"
                           " return im && im.naturalWidth > 0; }")
    assert time.monotonic() - t0 < 60
    assert page.title() == "CardioGen"
    for tab in ("data", "motion", "synthesis", "latent", "lessons"):
        assert page.is_visible(f"#cg-tab-{tab}")
    rgb = _pixels(page, "body", artifacts_dir / "web_start.png")
    assert rgb.std() > 10  # panel, views and 3D view's gradient, not a blank page


def test_data_sample_and_bad_upload(page, artifacts_dir, shared_data, tmp_path):
    _tab(page, "data")
    _choose(page, "#cg-sample", "12-lead ECG")
    _run(page, "#cg-open-sample")
    assert "n_leads: 12" in page.text_content("#cg-summary")
    page.wait_for_selector("#cg-curves")  # the ECG chart beside the views
    curves = _pixels(page, "#cg-curves", artifacts_dir / "web_data_ecg_chart.png")
    assert _coloured(curves) > 0.005
    bad = tmp_path / "broken.nrrd"
    bad.write_bytes(b"NRRD0004\nthis is not a header\n")
    before = _state(page)[0]
    page.set_input_files("#cg-upload", str(bad))
    message = _wait_job(page, before)
    assert message == "Failed"
    error = page.text_content("#cg-error")
    assert "broken.nrrd" in error and "\n" not in error.strip()


def test_data_phantom_with_infarct(page, artifacts_dir):
    _tab(page, "data")
    page.fill("#cg-ph-seed", "3")
    page.check("#cg-ph-infarct")
    page.check("#cg-ph-tagging")
    _run(page, "#cg-phantom")
    summary = page.text_content("#cg-summary")
    assert "cine" in summary and "dense" in summary and "ecg" in summary and "tagging" in summary
    assert "Phantom 3" in page.text_content("#cg-case")
    rgb = _pixels(page, "#cg-views", artifacts_dir / "web_data.png")
    assert rgb.std() > 20 and _coloured(rgb) > 0.01  # the cine with its segment overlay and legend
    page.screenshot(path=str(artifacts_dir / "web_task_data.png"))


def test_motion_strain(page, artifacts_dir):
    _tab(page, "motion")
    before_views = _pixels(page, "#cg-views", artifacts_dir / "web_motion_before.png")
    _run(page, "#cg-motion")
    peaks = page.text_content("#cg-peaks")
    assert "peak circumferential" in peaks and "%" in peaks
    page.wait_for_selector("#cg-curves")
    assert _coloured(_pixels(page, "#cg-curves", artifacts_dir / "web_motion_curves.png")) > 0.005
    circ = _pixels(page, "#cg-views", artifacts_dir / "web_motion.png")
    assert np.abs(circ - before_views).mean() > 3  # overlay, grid and bull's-eye drawn
    page.click("#cg-radial")  # the overlay switches component (MotionLogic.show_component, tested in its tiers)
    time.sleep(2.0)
    assert not page.query_selector("#cg-error")
    assert "v-btn--active" in (page.get_attribute("#cg-radial", "class") or "")
    radial = _pixels(page, "#cg-views", artifacts_dir / "web_motion_radial.png")
    assert radial.std() > 20 and _coloured(radial) > 0.01
    page.click("#cg-circ")
    time.sleep(1.0)
    page.screenshot(path=str(artifacts_dir / "web_task_motion.png"))


def test_synthesis_side_by_side(page, artifacts_dir):
    _tab(page, "synthesis")
    page.fill("#cg-syn-steps", "10")
    _run(page, "#cg-synthesis")
    assert "dense_to_cine" in page.text_content("#cg-provenance")
    page.wait_for_function("() => document.querySelectorAll('#cg-views img.image-display-area').length === 2")
    time.sleep(2.0)  # the compare layout (input | result), its views refitted
    first = _pixels(page, "#cg-views", artifacts_dir / "web_synthesis.png")
    half = first.shape[1] // 2
    assert first[:, half:].std() > 10  # the synthetic video is drawn in the right view
    time.sleep(1.5)
    later = _pixels(page, "#cg-views", artifacts_dir / "web_synthesis_later.png")
    assert np.abs(later - first).mean() > 0.5  # input and result are playing
    page.screenshot(path=str(artifacts_dir / "web_task_synthesis.png"))


def test_cancel(page):
    _tab(page, "synthesis")
    page.fill("#cg-syn-steps", "200")
    before = _state(page)[0]
    page.click("#cg-synthesis")
    page.wait_for_selector("#cg-cancel", state="visible")
    page.click("#cg-cancel")
    assert _wait_job(page, before) == "Cancelled"
    assert page.is_enabled("#cg-synthesis")


def test_synthesis_cine_to_tagging(page, artifacts_dir):
    """The phantom's cine -> synthetic tagging (smcVAE), the cine and the result side by side."""
    _tab(page, "synthesis")
    _choose(page, "#cg-pipeline", "cine_to_tagging")
    _run(page, "#cg-synthesis")
    assert "cine_to_tagging" in page.text_content("#cg-provenance")
    page.wait_for_function("() => document.querySelectorAll('#cg-views img.image-display-area').length === 2")
    time.sleep(2.0)
    rgb = _pixels(page, "#cg-views", artifacts_dir / "web_cine_to_tagging.png")
    assert rgb[:, rgb.shape[1] // 2:].std() > 10  # the synthetic tagging is drawn in the right view
    _choose(page, "#cg-pipeline", "dense_to_cine")


def test_latent_explorer(page, artifacts_dir):
    _tab(page, "latent")
    page.click("#cg-latent-seed")
    page.wait_for_selector("#cg-latent-measured")
    sliders = page.locator(".cg-latent-slider")
    assert sliders.count() >= 2
    label = page.text_content("#cg-panel-latent")
    assert "mm" in label or "cm" in label  # physical units, not pixels
    measured = page.text_content("#cg-latent-measured")
    first_label = page.locator(".cg-latent-label").first.text_content()  # "LV area: 44.4 cm²"
    thumb = sliders.first.locator(".v-slider-thumb")
    low, high, now = (float(thumb.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax", "aria-valuenow"))
    box = sliders.first.locator(".v-slider-track").bounding_box()
    far = 0.1 if now > (low + high) / 2 else 0.9  # away from the thumb: a click on the thumb moves nothing
    page.mouse.click(box["x"] + far * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => document.querySelector('#cg-latent-measured').textContent !== {measured!r}")
    assert page.locator(".cg-latent-label").first.text_content() != first_label  # the label shows the new value
    seconds = float(page.text_content("#cg-latent-time").split()[2])
    assert 0 < seconds < 5
    page.screenshot(path=str(artifacts_dir / "web_task_latent.png"))
    _run(page, "#cg-latent-video")
    assert "latent_video" in page.text_content("#cg-provenance")


@pytest.mark.parametrize("lesson_title", ["What strain means", "What a generator can and cannot do"])
def test_lessons(page, artifacts_dir, lesson_title):
    from CardioGenWeb import lessons

    item = next(x for x in lessons.LESSONS if x.title == lesson_title)
    _tab(page, "lessons")
    _choose(page, "#cg-lesson", lesson_title)
    page.wait_for_function("() => document.querySelector('#cg-state').textContent.endsWith('|0')")
    for k, step in enumerate(item.steps):
        before = _state(page)[0]
        assert step.title in page.text_content("#cg-lesson-step")
        page.click("#cg-lesson-step")
        page.wait_for_function(
            f"() => {{ const [g, busy, s] = document.querySelector('#cg-state').textContent.split('|');"
            f" return Number(s) === {k + 1} && busy.trim() === 'false'; }}", timeout=JOB_TIMEOUT_MS)
        assert not page.query_selector("#cg-error"), page.text_content("#cg-error")
        assert step.text[:40] in page.text_content("#cg-lesson-text")
        if step.action in ("phantom", "motion", "synthesis"):
            assert _state(page)[0] > before and page.text_content("#cg-message").strip() == "Done"
    time.sleep(1.5)
    page.screenshot(path=str(artifacts_dir / f"web_lesson_{item.id}.png"))
    if item.id == "strain":
        assert "peak circumferential" in page.text_content("#cg-peaks")
    if item.id == "generator":  # one sampling step: the quality check says what is wrong, on the page
        assert page.is_visible("#cg-warnings")
        assert "Quality check" in page.text_content("#cg-warnings")


def test_exit_removes_the_session_folder(server):
    folder = server.session_folder()
    assert folder is not None and folder.exists()
    server.stop()
    assert not folder.exists()
