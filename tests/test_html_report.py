"""The HTML report: self-contained, and it renders in headless Chromium without errors."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.html_report import html_report

from .test_report import DOC

ARTIFACTS = Path(__file__).parent / "artifacts"


def test_the_page_is_self_contained_with_charts_tables_and_claims():
    page = html_report(DOC)
    assert page.startswith("<!doctype html>") and page.endswith("</html>")
    assert page.count("<svg") == 2  # size and build-time charts
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # nothing fetched
    for text in ("<h2 id='demo'>demo</h2>", "<h3>legacy, cold</h3>", "base (baseline)",
                 "failed: RUN false", "fast.size_bytes &lt; base.size_bytes",
                 "<h2>Environment</h2>", "<h2>Warnings</h2>"):
        assert text in page


def test_the_page_renders_in_headless_chromium_without_console_errors(tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is missing: `apt-get install chromium` (nox -s tests does)")
    page = tmp_path / "report.html"
    page.write_text(html_report(DOC))
    screenshot = tmp_path / "report.png"
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
         "--v=0", "--window-size=1200,1600", f"--screenshot={screenshot}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert result.returncode == 0, result.stderr[-2000:]
    assert console == []
    assert screenshot.stat().st_size > 20_000  # a page with charts, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(screenshot, ARTIFACTS / "report.png")
