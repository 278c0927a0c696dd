"""harness analyse: the figures, the CI gate and dive's .dive-ci, on hand-made archives."""

import json

import pytest

from harness.analyse import (
    GateError,
    Limits,
    analyse,
    dive_ci_limits,
    gate,
    parse_bytes,
    redact,
)
from harness.cli import main
from harness.images import read_archive
from tests.image_tars import Member, hand_made, oci_layout, write_tar

MB = 1_000_000


def wasteful_and_rewritten(tmp_path):
    """An image whose later layer deletes 10 % of what it ships, and its multi-stage rewrite
    (the final files only, one layer)."""
    wasteful = hand_made([[Member("app", size=9 * MB), Member("tmp.o", size=MB)],
                          [Member(".wh.tmp.o")]], ["RUN make", "RUN rm tmp.o"])
    rewritten = hand_made([[Member("app", size=9 * MB)]], ["COPY --from=build /app /app"])
    return (write_tar(oci_layout(wasteful), tmp_path / "wasteful.tar"),
            write_tar(oci_layout(rewritten), tmp_path / "rewritten.tar"))


def test_efficiency_is_the_share_of_shipped_file_bytes_the_image_shows(tmp_path):
    wasteful, rewritten = wasteful_and_rewritten(tmp_path)
    analysis = analyse(read_archive(wasteful, "linux/amd64", lambda m: None))
    assert (analysis.wasted_bytes, analysis.file_bytes) == (MB, 10 * MB)
    assert analysis.efficiency == pytest.approx(0.9)
    assert analysis.top_waste[0].path == "tmp.o"
    assert analyse(read_archive(rewritten, "linux/amd64", lambda m: None)).efficiency == 1.0


def test_dive_ci_lowest_efficiency_fails_the_wasteful_image_and_passes_its_rewrite(
        tmp_path, monkeypatch, capsys):
    wasteful, rewritten = wasteful_and_rewritten(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.95\n"
                                       "  highestUserWastedPercent: disabled\n")
    assert main(["analyse", "--archive", str(wasteful), "--ci"]) == 1
    out = capsys.readouterr().out
    assert "| FAIL | min efficiency | 0.9000  | 0.9500" in out
    assert main(["analyse", "--archive", str(rewritten), "--ci"]) == 0
    assert "| PASS | min efficiency | 1.0000  | 0.9500" in capsys.readouterr().out


def test_the_gate_writes_the_job_summary_and_json(tmp_path, monkeypatch, capsys):
    wasteful, _ = wasteful_and_rewritten(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["analyse", "--archive", str(wasteful), "--ci", "--max-layers", "1",
                 "--max-wasted-bytes", "2MB", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["analysis"]["format"] == "harness-analysis/1"
    assert [(o["rule"], o["passed"]) for o in document["gate"]] == [
        ("max wasted bytes", True), ("max layers", False)]
    assert "| FAIL | max layers" in summary.read_text()


def test_the_analysis_json_follows_its_published_schema(tmp_path, capsys):
    import jsonschema

    from harness.analyse import SCHEMA

    wasteful, _ = wasteful_and_rewritten(tmp_path)
    assert main(["analyse", "--archive", str(wasteful), "--json"]) == 0
    jsonschema.validate(json.loads(capsys.readouterr().out)["analysis"], SCHEMA)


def test_dive_ci_defaults_disabled_and_units(tmp_path):
    path = tmp_path / ".dive-ci"
    path.write_text("rules:\n  highestWastedBytes: 20MB\n")
    assert dive_ci_limits(path) == Limits(min_efficiency=0.9, max_wasted_percent=10.0,
                                          max_wasted_bytes=20 * MB)
    path.write_text("rules:\n  lowestEfficiency: disabled\n  highestUserWastedPercent: 0.25\n"
                    "  highestWastedBytes: 1.5 GiB\n")
    assert dive_ci_limits(path) == Limits(max_wasted_percent=25.0,
                                          max_wasted_bytes=int(1.5 * 1024**3))


@pytest.mark.parametrize("text, message", [
    ("rules: [1]\n", "expected a `rules:` mapping"),
    ("rules:\n  lowestEfficency: 0.9\n", "unknown rule.*lowestEfficency"),
    ("rules:\n  lowestEfficiency: high\n", "lowestEfficiency: expected a ratio.*'high'"),
    ("rules:\n  highestWastedBytes: lots\n", "highestWastedBytes: expected a size"),
    ("rules: {\n", "not YAML"),
])
def test_a_bad_dive_ci_is_named_with_its_field(tmp_path, text, message):
    path = tmp_path / ".dive-ci"
    path.write_text(text)
    with pytest.raises(GateError, match=message):
        dive_ci_limits(path)


def test_bad_input_exits_2_with_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["analyse", "--archive", str(tmp_path / "none.tar")]) == 2
    assert "no such archive" in capsys.readouterr().err
    assert main(["analyse", "--archive", str(tmp_path), "--ci"]) == 2
    assert "no limit given" in capsys.readouterr().err
    assert main(["analyse", "--archive", str(tmp_path), "--max-size", "big"]) == 2
    assert "--max-size: expected a size" in capsys.readouterr().err


def test_gate_limits_are_inclusive():
    from harness.model import ImageAnalysis

    analysis = ImageAnalysis(reference="x", source="archive", platform="linux/amd64",
                             image_id="sha256:x", size_bytes=100, compressed_bytes=50,
                             compressed_stored=True, file_bytes=100, wasted_bytes=10,
                             efficiency=0.9, user_wasted_ratio=0.1, layers=[], top_waste=[])
    outcomes = gate(analysis, Limits(min_efficiency=0.9, max_wasted_bytes=10,
                                     max_wasted_percent=10.0, max_size=100, max_layers=0))
    assert all(o.passed for o in outcomes) and len(outcomes) == 5
    assert not any(o.passed for o in gate(analysis, Limits(
        min_efficiency=0.91, max_wasted_bytes=9, max_wasted_percent=9.9, max_size=99)))


def test_secret_looking_build_args_are_redacted_in_the_history():
    assert redact("|2 API_TOKEN=abc123 VERSION=1.2 /bin/sh -c make") == \
        "|2 API_TOKEN=*** VERSION=1.2 /bin/sh -c make"
    assert redact('ENV DB_PASSWORD="s e c" HOME=/root') == 'ENV DB_PASSWORD=*** HOME=/root'


def test_sizes_parse_as_dive_reads_them():
    assert [parse_bytes(t, "x") for t in ("1000", "20MB", "20 mb", "1KiB", "2G")] == [
        1000, 20 * MB, 20 * MB, 1024, 2 * 10**9]


def test_the_schema_names_exactly_the_records_fields():
    from dataclasses import fields

    from harness.analyse import SCHEMA
    from harness.model import AnalysedLayer, ImageAnalysis, WastedFile

    assert set(SCHEMA["required"]) == {f.name for f in fields(ImageAnalysis)}
    assert set(SCHEMA["properties"]["layers"]["items"]["required"]) == {
        f.name for f in fields(AnalysedLayer)}
    assert set(SCHEMA["properties"]["top_waste"]["items"]["required"]) == {
        f.name for f in fields(WastedFile)}


def test_the_html_page_is_self_contained_with_the_layer_chart(tmp_path):
    wasteful, _ = wasteful_and_rewritten(tmp_path)
    page = tmp_path / "analysis.html"
    assert main(["analyse", "--archive", str(wasteful), "--html", str(page)]) == 0
    text = page.read_text()
    assert text.count("<svg") == 1 and "<script" not in text
    assert "<td>/tmp.o</td>" in text and "RUN rm tmp.o" in text


@pytest.mark.chromium
def test_the_html_page_renders_in_headless_chromium(tmp_path):
    from tests.helpers import render_in_chromium

    wasteful, _ = wasteful_and_rewritten(tmp_path)
    page = tmp_path / "analysis.html"
    assert main(["analyse", "--archive", str(wasteful), "--ci", "--min-efficiency", "0.95",
                 "--html", str(page)]) == 1
    render_in_chromium(page, tmp_path, "analysis.png")
