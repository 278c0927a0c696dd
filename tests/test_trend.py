"""Trend detection on synthetic histories, and history loading that keeps machines apart."""

import json
import os
import random
import subprocess
import sys

import pandas as pd

from harness import trend
from harness.trend import detect, gate, history, markdown_summary

from .helpers import REAL_RESULTS
from .test_report import sample

DEMO = [{"name": "demo", "baseline": "base", "variants": {"base": {}}, "expect": []}]


def series(values, metric="build_s", fingerprint="m1"):
    return pd.DataFrame([{"fingerprint": fingerprint, "scenario": "s", "variant": "v",
                          "builder": "legacy", "cache": "cold", "metric": metric,
                          "run_id": f"run{i:02d}", "started_at": f"2026-11-{i + 1:02d}",
                          "value": value} for i, value in enumerate(values)])


def noisy(n, center=10.0, seed=1):
    generator = random.Random(seed)
    return [generator.gauss(center, 0.4) for _ in range(n)]


def test_a_hundred_flat_noisy_series_flag_nothing_as_one_corrected_family():
    frame = pd.concat([series(noisy(20, seed=seed)).assign(variant=f"v{seed}")
                       for seed in range(100)])
    assert detect(frame) == []
    uncorrected = [
        test.p_value for seed in range(100) for night in range(3, 20)
        if (test := trend._night(noisy(20, seed=seed)[max(0, night - 10):night],
                                 noisy(20, seed=seed)[night], night, "build_s", 10.0))
        and test.p_value is not None and test.p_value < trend.FAMILY_ALPHA]
    assert len(uncorrected) > 5  # what each night's test alone at 1 % would call a change


def test_a_15_percent_step_is_flagged_at_the_run_it_starts():
    values = noisy(12, seed=3) + noisy(8, center=11.5, seed=4)
    findings = detect(series(values))
    steps = [f for f in findings if f.kind == "step"]
    assert [(f.run_id, f.metric) for f in steps] == [("run12", "build_s")]
    assert 10 < steps[0].change_pct < 20


def test_a_slow_latest_run_is_flagged_against_the_window():
    findings = detect(series([*noisy(15, seed=5), 13.0]))
    assert [(f.kind, f.run_id) for f in findings] == [("latest", "run15")]


def test_a_size_change_beyond_the_byte_floor_is_a_new_regression():
    assert detect(series([100_000.0] * 5 + [101_024.0], metric="size_bytes")) == []  # ≤ 1 KiB
    findings = detect(series([100_000.0] * 5 + [101_025.0], metric="size_bytes"))
    assert [(f.kind, f.run_id, f.before, f.after, f.regression, f.new) for f in findings] == [
        ("latest", "run05", 100_000.0, 101_025.0, True, True)]
    assert gate(findings) == findings


def test_an_older_size_increase_is_a_known_change_that_does_not_fail_the_gate():
    findings = detect(series([100_000.0] * 3 + [103_000.0] * 3, metric="size_bytes"))
    assert [(f.kind, f.run_id, f.started_at, f.new) for f in findings] == [
        ("step", "run03", "2026-11-04", False)]
    assert gate(findings) == []
    assert "## Known changes (not failing)" in markdown_summary(findings, series([1.0]))


def test_an_improvement_is_listed_and_never_fails():
    findings = detect(series([100_000.0] * 5 + [50_000.0], metric="size_bytes"))
    assert [(f.regression, f.new) for f in findings] == [(False, True)]
    assert gate(findings) == []
    faster = detect(series([*noisy(15, seed=5), 7.0]))  # a faster build
    assert [(f.kind, f.regression) for f in faster] == [("latest", False)]


def test_machines_are_kept_apart(tmp_path):
    for index, (fingerprint, size) in enumerate([("fast-box", 100), ("slow-box", 200),
                                                 ("fast-box", 100), ("slow-box", 200)]):
        document = {"schema_version": 2, "run_id": f"r{index}", "state": "complete",
                    "started_at": f"2026-11-0{index + 1}T00:00:00+00:00", "ended_at": None,
                    "environment": {"fingerprint": fingerprint}, "options": {}, "scenarios": DEMO,
                    "samples": [sample("base", 1, 1.0, size)]}
        (tmp_path / f"r{index}.json").write_text(json.dumps(document))
    frame = history(tmp_path)
    assert sorted(frame["fingerprint"].unique()) == ["fast-box", "slow-box"]
    assert detect(frame) == []  # 100 vs 200 bytes is two machines, not a regression
    assert "4 run(s), 2 machine(s)" in markdown_summary([], frame)


def test_compressed_size_jitter_of_a_few_bytes_is_not_a_regression():
    assert detect(series([54_769_500.0, 54_769_512.0, 54_769_507.0, 54_769_530.0],
                         metric="compressed_bytes")) == []


def test_trend_command_fails_on_a_regression_only_when_asked(tmp_path):
    for index, size in enumerate([100_000, 100_000, 100_000, 200_000]):
        document = {"schema_version": 2, "run_id": f"r{index}", "state": "complete",
                    "started_at": f"2026-11-0{index + 1}T00:00:00+00:00", "ended_at": None,
                    "environment": {"fingerprint": "box"}, "options": {}, "scenarios": DEMO,
                    "samples": [sample("base", 1, 1.0, size)]}
        (tmp_path / f"r{index}.json").write_text(json.dumps(document))
    page = tmp_path / "trend.html"
    summary = tmp_path / "job-summary.md"
    flagged = subprocess.run([sys.executable, "-m", "harness", "trend", str(tmp_path),
                              "--fail-on-regression", "--html", str(page)],
                             capture_output=True, text=True, timeout=120,
                             env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)})
    relaxed = subprocess.run([sys.executable, "-m", "harness", "trend", str(tmp_path)],
                             capture_output=True, text=True, timeout=120)
    assert flagged.returncode == 1 and relaxed.returncode == 0
    assert "| demo/base/legacy/cold [box] | size_bytes | latest | r3 | 2026-11-04 | 100000 | " \
           "200000 | +100.0 % |" in flagged.stdout
    assert page.read_text().count("<svg") == 3  # build_s, start_s, size_bytes
    assert summary.read_text().strip() == flagged.stdout.strip()  # the job summary has it too


def test_five_nights_a_planted_megabyte_fails_once_and_stays_listed(tmp_path):
    """Nights 1-3 unchanged, night 4 one variant +1 MiB, night 5 unchanged: the gate fails
    on night 4 only, naming the variant and size_bytes; night 5 still lists the change."""
    real = json.loads(REAL_RESULTS.read_text())
    verdicts = []
    for night in range(1, 6):
        document = {**real, "run_id": f"night{night}",
                    "started_at": f"2026-11-0{night}T00:00:00+00:00"}
        if night >= 4:
            document["samples"] = [
                {**s, "size_bytes": s["size_bytes"] + (1 << 20)}
                if s["variant"] == "one-run" and s["size_bytes"] is not None else s
                for s in real["samples"]]
        (tmp_path / f"night{night}.json").write_text(json.dumps(document))
        done = subprocess.run([sys.executable, "-m", "harness", "trend", str(tmp_path),
                               "--fail-on-regression"], capture_output=True, text=True,
                              timeout=120)
        verdicts.append(done.returncode)
        if night == 4:
            assert "New regressions (the gate fails): 6" in done.stdout
            assert "| fixture/one-run/legacy/cold [" in done.stdout
            assert "size_bytes | latest | night4 |" in done.stdout
        if night == 5:
            assert "No new regression." in done.stdout
            assert "## Known changes (not failing)" in done.stdout
            assert "size_bytes | step | night4 | 2026-11-04 |" in done.stdout
    assert verdicts == [0, 0, 0, 1, 0]


def nightly(values, metric="build_s"):
    """detect() as each night of the history saw it: the findings of nights 1..N."""
    return [detect(series(values[:night], metric=metric)) for night in range(2, len(values) + 1)]


def test_a_persisting_timing_step_stays_listed_every_night_after_it_first_fails():
    """2e: a ×1.5 step in a timing was listed the night it failed, then not at all (the
    regressed nights inflated the window's spread) until night 14 to 18."""
    values = noisy(10, seed=7) + noisy(10, center=15.0, seed=8)
    nights = nightly(values)
    first = 11 - 2  # the night run10 is the newest (nightly() starts with 2 nights)
    assert [(f.kind, f.run_id, f.new) for f in nights[first]] == [("latest", "run10", True)]
    assert all(findings == [] for findings in nights[:first])
    for findings in nights[first + 1:]:
        assert [(f.kind, f.run_id, f.regression, f.new) for f in findings] == [
            ("step", "run10", True, False)]
        assert gate(findings) == []
    assert 40 < nights[-1][0].change_pct < 60


def test_a_second_step_after_a_first_is_found_for_sizes_and_timings():
    """2e: the step finder found one split per series; +10 kB after +100 kB was never listed."""
    sizes = [1e6] * 6 + [1.1e6] * 6 + [1.11e6] * 6
    assert [(f.run_id, f.before, f.after, f.new) for f in detect(series(sizes, "size_bytes"))] \
        == [("run06", 1e6, 1.1e6, False), ("run12", 1.1e6, 1.11e6, False)]
    timings = noisy(8, seed=11) + noisy(8, center=14.0, seed=12) + noisy(8, center=20.0, seed=13)
    assert [f.run_id for f in detect(series(timings))] == ["run08", "run16"]


def test_a_one_night_spike_is_not_a_step_and_does_not_hide_a_later_change():
    values = [*noisy(10, seed=21), 16.0, *noisy(5, seed=22), 14.0]
    assert [(f.kind, f.run_id) for f in detect(series(values))] == [("latest", "run16")]


def test_a_warm_build_that_missed_its_cache_is_no_timing_in_the_history(tmp_path):
    """2c: trend kept samples with a cache_warning: a 50 s warm build that missed its cache
    was trended as a warm timing."""
    real = json.loads(REAL_RESULTS.read_text())
    missed = {**real, "samples": [
        {**s, "build_s": 50.0, "cache_warning": "warm build not fully cached: 1/2 steps"}
        if s["cache"] == "warm" and s["status"] == "ok" else s for s in real["samples"]]}
    (tmp_path / "r.json").write_text(json.dumps(missed))
    frame = history(tmp_path)
    warm = frame[frame["cache"] == "warm"]
    assert len(warm) and "build_s" not in set(warm["metric"])
    assert "size_bytes" in set(warm["metric"])  # the image's own figures still count


def test_the_newest_nights_noise_is_dropped_and_an_earlier_step_kept():
    """The family's correction drops the newest night's own finding, never an earlier one."""
    values = [*noisy(8, seed=31), 14.0, 16.0, 15.0, 13.5, 16.5, 15.0, 14.5, 15.5, 17.0]
    assert [(f.kind, f.run_id) for f in detect(series(values))] == [("step", "run08")]
