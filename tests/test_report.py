"""Reports from hand-made results documents."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from harness import store
from harness.errors import HarnessError
from harness.report import (
    bmf_report,
    csv_report,
    findings_table,
    gab_report,
    group_stats,
    json_report,
    markdown_report,
    summary_table,
    update_findings,
)

from .helpers import REAL_RESULTS


def sample(variant, repetition, build_s, size, **fields):
    return {"scenario": "demo", "variant": variant, "builder": "legacy", "cache": "cold",
            "repetition": repetition, "status": "ok", "error": None, "build_s": build_s,
            "transform_s": None, "image_id": "sha256:x", "size_bytes": size, "layer_count": 3,
            "steps_total": 2, "steps_cached": 0, "step_durations_s": [], "base_size_bytes": 0,
            "base_layer_count": 0, "compressed_bytes": size and size // 2, "wasted_bytes": 0,
            "start_s": 0.25, "start_samples_s": [0.25], "start_status": "ok",
            "start_error": None, **fields}


def document(samples, expectations=()):
    return {"schema_version": 2, "run_id": "r1", "state": "complete",
            "started_at": "2026-11-28T00:00:00+00:00", "ended_at": "2026-11-28T00:01:00+00:00",
            "scenarios": [{"name": "demo", "description": "A demo.\n", "baseline": "base"}],
            "samples": list(samples), "expectations": list(expectations)}


DOC = document(
    [sample("base", r, t, 2_000_000) for r, t in ((1, 1.0), (2, 1.1), (3, 0.9))]
    + [sample("fast", r, t, 1_500_000) for r, t in ((1, 0.5), (2, 0.55), (3, 0.45))]
    + [sample("broken", 1, None, None, status="failed", error="RUN false\nexit code: 1")],
    [{"scenario": "demo", "expr": "fast.size_bytes < base.size_bytes", "passed": True,
      "known_false": False, "as_expected": True, "note": "", "values": []}])

# Snapshot: regenerate by hand only after checking the new output line by line.
EXPECTED_MARKDOWN = (Path(__file__).parent / "data" / "report-demo.md").read_text()


def test_markdown_report_snapshot():
    assert markdown_report(DOC) == EXPECTED_MARKDOWN


def test_csv_is_the_tidy_sample_table():
    frame = pd.read_csv(io.StringIO(csv_report(DOC)), dtype=str)
    assert len(frame) == 7
    assert list(frame.columns[:6]) == ["scenario", "variant", "builder", "cache", "repetition",
                                       "status"]
    assert frame["start_samples_s"].iloc[0] == "0.250000"


def test_json_report_has_statistics_and_baseline_comparisons():
    groups = {g["variant"]: g for g in json.loads(json_report(DOC))["groups"]}
    assert groups["base"]["metrics"]["build_s"]["median"] == pytest.approx(1.0)
    assert groups["base"]["versus_baseline"] == {}
    fast = groups["fast"]["versus_baseline"]
    assert fast["size_bytes"] == {"baseline": 2_000_000, "value": 1_500_000, "ratio": 0.75,
                                  "ci_low": None, "ci_high": None, "interval": None,
                                  "p_value": None, "test": "exact", "significant": True}
    assert fast["build_s"]["significant"] and fast["build_s"]["test"] == "t-log"
    assert groups["broken"]["ok"] == 0 and groups["broken"]["problem"].startswith("RUN false")


def test_gab_output_has_the_custom_smaller_is_better_shape():
    entries = json.loads(gab_report(DOC))
    assert isinstance(entries, list) and entries
    for entry in entries:
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["unit"], str)
        assert isinstance(entry["value"], (int, float))
    by_name = {e["name"]: e for e in entries}
    assert by_name["demo/fast [legacy, cold] size_bytes"]["value"] == 1_500_000
    assert by_name["demo/base [legacy, cold] build_s"]["unit"] == "s"
    assert len(by_name) == len(entries)  # names are unique


def test_bmf_output_matches_the_documented_schema():
    benchmarks = json.loads(bmf_report(DOC))
    for measures in benchmarks.values():
        for metric in measures.values():
            assert isinstance(metric["value"], (int, float))
            assert set(metric) <= {"value", "lower_value", "upper_value"}
            assert metric["lower_value"] <= metric["value"] <= metric["upper_value"]
    assert benchmarks["demo/base [legacy, cold]"]["build-s"] == {
        "value": pytest.approx(1.0), "lower_value": 0.9, "upper_value": 1.1}
    assert "demo/broken [legacy, cold]" not in benchmarks


def findings_document():
    return {**DOC, "environment": {"engine": {"server_version": "20.10.24",
                                              "storage_driver": "overlay2"}},
            "scenarios": [{"name": "demo", "variants": {"base": {}, "fast": {}, "slow": {}}}],
            "expectations": [
                {"scenario": "demo", "expr": "fast.size_bytes < 0.8 * base.size_bytes",
                 "passed": True, "known_false": False, "as_expected": True, "note": "",
                 "values": [{"group": "legacy/cold", "left": 1_500_000, "right": 1_600_000,
                             "holds": True},
                            {"group": "buildkit/cold", "left": 1_500_000,
                             "right": 1_600_000, "holds": True}]},
                {"scenario": "demo", "expr": "slow.start_s < 0.5 * base.start_s",
                 "passed": False, "known_false": True, "as_expected": True,
                 "note": "no gain", "values": [
                     {"group": "buildah/cold", "left": 0.2, "right": 0.125, "holds": None},
                     {"group": "legacy/cold", "left": 0.3, "right": 0.125, "holds": False},
                     {"group": "legacy/warm", "left": 0.1, "right": 0.125, "holds": True},
                     {"group": "buildkit/cold", "left": 0.28, "right": 0.15,
                      "holds": False}]}]}


def test_findings_table_shows_verdicts_and_medians_without_factors():
    table = findings_table([findings_document()])
    assert table.startswith("Run `r1` (2026-11-28, engine 20.10.24, overlay2, 7 samples).\n\n")
    lines = table.splitlines()
    assert "| demo       | `fast.size_bytes < 0.8 * base.size_bytes` | ✓" in lines[4]
    assert "1.5 MB vs 2.0 MB (all 2 groups)" in lines[4]
    assert [c.strip() for c in lines[4].split("|")][4] == "legacy ✓ · buildkit ✓"
    assert "✗ known false" in lines[5] and "no gain" in lines[5]
    assert [c.strip() for c in lines[5].split("|")][4] == "legacy ✗ · buildkit ✗ · buildah ?"
    assert "legacy/cold: 300 ms vs 250 ms; legacy/warm: 100 ms vs 250 ms; buildkit/cold: " \
        "280 ms vs 300 ms" in lines[5]


def test_update_findings_replaces_only_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- findings:start -->\nold table\n<!-- findings:end -->\nrest\n")
    update_findings(readme, "new table\n")
    assert readme.read_text() == ("intro\n<!-- findings:start -->\nnew table\n"
                                  "<!-- findings:end -->\nrest\n")
    readme.write_text("no markers\n")
    with pytest.raises(HarnessError, match=r"README\.md: no `<!-- findings:start -->`"):
        update_findings(readme, "x")


def test_a_single_sample_shows_no_spread_and_no_interval():
    single = document([sample("base", 1, 1.0, 2_000_000), sample("fast", 1, 0.5, 1_500_000)])
    lines = markdown_report(single).splitlines()
    base = next(line for line in lines if line.startswith("| base (baseline)"))
    fast = next(line for line in lines if line.startswith("| fast"))
    assert "1.00 s (n=1)" in base and "±" not in base
    assert "×0.50" in fast and "[" not in fast


def test_every_format_reads_a_real_results_file():
    real = store.load(REAL_RESULTS)
    groups = {(g["variant"], g["builder"], g["cache"]): g for g in group_stats(real)}
    assert len(groups) == 3 * 2 * 3  # variants × builders × cache modes
    one_run = groups[("one-run", "legacy", "cold")]
    assert one_run["metrics"]["size_bytes"]["median"] == next(
        s["size_bytes"] for s in real["samples"]
        if (s["variant"], s["builder"], s["cache"]) == ("one-run", "legacy", "cold"))
    assert one_run["versus_baseline"]["wasted_bytes"]["ratio"] == 0
    assert groups[("broken", "buildkit", "warm")]["ok"] == 0
    markdown = markdown_report(real)
    assert "## fixture" in markdown and "✗ known false" in markdown
    assert len(pd.read_csv(io.StringIO(csv_report(real)))) == len(real["samples"])
    assert {e["unit"] for e in json.loads(gab_report(real))} == {"s", "bytes", "layers"}
    assert "one-run" in " ".join(json.loads(bmf_report(real)))
    assert findings_table([real]).count("| fixture ") == 4


def test_samples_that_missed_the_cache_are_shown_and_left_out_of_timings():
    warned = sample("fast", 4, 9.0, 1_500_000, cache_warning="warm build not fully cached")
    doc = document([*DOC["samples"], warned], DOC["expectations"])
    fast = next(g for g in group_stats(doc) if g["variant"] == "fast")
    assert fast["metrics"]["build_s"]["n"] == 3 and fast["metrics"]["build_s"]["max"] == 0.55
    assert fast["metrics"]["size_bytes"]["n"] == 4  # sizes are exact: every sample counts
    assert fast["cache_warnings"] == ["repetition 4: warm build not fully cached"]
    assert "not cached as implied (untimed)" in markdown_report(doc)


def strict(text):
    """json.loads as a strict parser reads: no NaN, no Infinity."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_outputs_are_strict_json_when_baseline_and_variant_waste_nothing():
    """2b: a zero baseline gave ratio inf, written as `Infinity` by report --format json and
    run --json (both json_report)."""
    assert all(s["wasted_bytes"] == 0 for s in DOC["samples"] if s["status"] == "ok")
    groups = {g["variant"]: g for g in strict(json_report(DOC))["groups"]}
    assert groups["fast"]["versus_baseline"]["wasted_bytes"]["ratio"] is None
    strict(gab_report(DOC))
    strict(bmf_report(DOC))


def test_a_saved_file_is_strict_json_and_infinity_is_refused_on_load(tmp_path):
    path = tmp_path / "r.json"
    with pytest.raises(ValueError):
        store.write_document({"schema_version": 3, "ratio": float("inf")}, path)
    assert not path.exists()
    path.write_text(REAL_RESULTS.read_text().replace('"build_s": 0.', '"build_s": Infinity, '
                                                     '"x": 0.', 1))
    with pytest.raises(HarnessError, match="invalid JSON: Infinity is not JSON"):
        store.load(path)


def test_the_significance_mark_is_holm_corrected_over_the_run():
    """2f: the report's * was each comparison alone at 5 %. Twenty variants ×1.15 slower, each
    p < 0.05 alone, none below 0.05 / 20: none survives the correction; one alone does."""
    base = [sample("base", r, t, 1) for r, t in ((1, 1.0), (2, 1.005), (3, 0.995))]
    slower = [sample(f"v{i}", r, t * 1.15, 1) for i in range(20)
              for r, t in ((1, 1.0), (2, 1.04), (3, 0.96))]
    rows = group_stats(document(base + slower))
    alone = [r["versus_baseline"]["build_s"] for r in rows if r["variant"] != "base"]
    assert all(c["p_value"] < 0.05 for c in alone)
    assert not any(c["significant"] for c in alone)
    one = group_stats(document(base + slower[:3]))
    assert [r["versus_baseline"]["build_s"]["significant"] for r in one
            if r["variant"] != "base"] == [True]


def test_a_push_or_pull_that_failed_is_shown_beside_its_sample():
    """A distribution_error was kept in the results and shown nowhere."""
    failed = document([sample("base", 1, 1.0, 2_000_000, push_bytes=5_000_000),
                       sample("fast", 1, 0.5, 1_500_000,
                              distribution_error="push failed: connection refused")])
    for text in (summary_table(failed), markdown_report(failed)):
        (line,) = [line for line in text.splitlines() if "fast" in line and "|" in line]
        assert "push/pull not measured: push failed: connection refused" in line


def test_findings_of_two_engines_have_a_verdict_per_engine():
    """A claim's outcome can depend on the engine: each run gets its verdict columns, and a
    claim one engine did not judge (scoped to the other's image store) shows –."""
    classic = findings_document()
    classic["environment"]["engine"]["image_store"] = "classic"
    containerd = {**findings_document(), "run_id": "r2", "environment": {"engine": {
        "server_version": "26.1.5", "storage_driver": "overlayfs", "image_store": "containerd"}}}
    containerd["expectations"] = [classic["expectations"][0], {
        **classic["expectations"][1], "known_false": False, "note": "holds here",
        "passed": True, "values": [{"group": "legacy/cold", "left": 0.2, "right": 0.5,
                                    "holds": True}]}]
    table = findings_table([classic, containerd])
    assert table.startswith("Run `r1` (2026-11-28, engine 20.10.24 classic, overlay2, 7 samples)"
                            ". Run `r2` (2026-11-28, engine 26.1.5 containerd, overlayfs, 7 "
                            "samples).\n\n")
    header, _, *rows = table.splitlines()[2:]
    assert [c.strip() for c in header.split("|")][3:7] == [
        "verdict (20.10.24 classic)", "by builder (20.10.24 classic)",
        "verdict (26.1.5 containerd)", "by builder (26.1.5 containerd)"]
    cells = [[c.strip() for c in row.split("|")][1:-1] for row in rows]
    assert [row[2] for row in cells] == ["✓", "✗ known false", "–"]
    assert [row[4] for row in cells] == ["✓", "–", "✓"]
    assert cells[2][5] == "legacy ✓" and cells[2][-1] == "holds here"
