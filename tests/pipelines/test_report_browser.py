"""The report in a real browser: headless Debian Chromium loads it with no errors and no broken images.

Chromium is installed by `make install` (apt-get install chromium); the
page is checked through the DevTools protocol (pipelines.report.browser).
"""

import io

import numpy as np
from PIL import Image

from pipelines.report import write_report
from pipelines.report.browser import check_page, pixel_spread
from tests.pipelines.test_report_fixture import build_fixture_run

# A page of text and plots on white: a blank or single-colour screenshot has a spread near 0.
MIN_PIXEL_SPREAD = 20.0


def test_report_renders_in_chromium_without_errors_or_missing_images(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"))
    page = write_report(run_dir)

    check = check_page(page, width=1280)

    assert check.console_errors == [] and check.failed_requests == []
    assert check.broken_images == []
    with open(page) as handle:
        assert check.image_count == handle.read().count("<img ")  # every picture of the page was checked
    # 24 sample thumbnails, class counts, candidates, 5 curve plots, policy preview, pseudo-labels, 4 component
    # plots, component DAG, artifact-level lineage, timings.
    assert check.image_count == 40
    screenshot = Image.open(io.BytesIO(check.screenshot))
    assert screenshot.width == 1280 and screenshot.height > 3000  # the whole page, not one viewport
    assert pixel_spread(check.screenshot) > MIN_PIXEL_SPREAD
    pixels = np.asarray(screenshot.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3)[::97], axis=0)) > 50  # text, badges and plots, not a flat fill


def test_an_undecodable_image_in_the_report_is_caught(tmp_path):
    run_dir = build_fixture_run(str(tmp_path / "run"), with_autofit=False, broken_png="calibration_curve.png")
    check = check_page(write_report(run_dir, with_preview=False))
    assert len(check.broken_images) == 1 and check.broken_images[0].startswith("calibration_curve.png <data:image/png")
    assert not check.ok


def test_missing_files_and_console_errors_are_caught(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><h1>x</h1>'
        '<img src="missing.png" alt="gone"><script>console.error("boom")</script></body></html>'
    )
    check = check_page(str(page))
    assert check.broken_images == ["gone <missing.png>"]
    assert any("boom" in error for error in check.console_errors)
    assert any("missing.png" in request for request in check.failed_requests)
    assert not check.ok


def test_blank_page_has_no_pixel_spread(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body></body></html>')
    check = check_page(str(page))
    assert check.ok and check.image_count == 0
    assert pixel_spread(check.screenshot) < 1.0
