"""The HTML report: self-contained, and it renders in headless Chromium without errors."""

import re

import pytest

from harness.html_report import html_report

from .helpers import render_in_chromium
from .test_report import DOC


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


@pytest.mark.chromium
def test_the_page_renders_in_headless_chromium_without_console_errors(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html_report(DOC))
    render_in_chromium(page, tmp_path, "report.png")


def test_push_and_pull_bytes_get_a_chart_and_summary_columns_when_measured():
    from harness.report import summary_table

    from .test_report import document, sample

    shipped = document([sample(v, 1, 1.0, 4_000_000, push_bytes=push, pull_bytes=push,
                               push_after_baseline_bytes=after)
                        for v, push, after in (("base", 5_249_004, 0),
                                               ("squashed", 3_168_227, 3_168_227))])
    page = html_report(shipped)
    assert page.count("<svg") == 3 and "distribution (cold builds)" in page
    assert "push" not in summary_table(DOC)
    header, _, *rows = summary_table(shipped).splitlines()
    assert [cell.strip() for cell in header.split("|")][-3:-1] == ["push", "pull"]
    assert "| 5.2 MB " in rows[0] and "| 3.2 MB " in rows[1]
