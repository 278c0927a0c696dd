"""`harness compare`: two runs matched by group, regressions beyond noise and thresholds."""

import random

import pytest

from harness.compare import compare_runs, parse_thresholds
from harness.stats import holm_rejected

from .test_report import document, sample


def shifted(factor, size_delta=0, layers=3):
    return document([sample("base", r, t * factor, 2_000_000 + size_delta, layer_count=layers)
                     for r, t in ((1, 1.0), (2, 1.02), (3, 0.98))])


def regressions(old, new, *thresholds):
    return [(c.metric, round(c.change_pct, 1)) for c in
            compare_runs(old, new, parse_thresholds(list(thresholds))) if c.regression]


def test_compare_flags_a_real_slowdown_not_noise():
    assert regressions(shifted(1.0), shifted(1.03)) == []
    assert regressions(shifted(1.0), shifted(1.3)) == [("build_s", 30.0)]
    assert regressions(shifted(1.0), shifted(0.7)) == []  # faster is no regression


def test_compare_thresholds_for_sizes_and_layers():
    assert regressions(shifted(1.0), shifted(1.0, size_delta=10_000)) == []  # +0.5 %
    assert regressions(shifted(1.0), shifted(1.0, size_delta=40_000)) == [
        ("size_bytes", 2.0), ("compressed_bytes", 2.0)]
    assert regressions(shifted(1.0), shifted(1.0, layers=4)) == [("layer_count", 33.3)]
    assert regressions(shifted(1.0), shifted(1.0, size_delta=40_000), "size_bytes=5",
                       "compressed_bytes=5") == []


def test_bad_threshold_says_what_is_expected():
    with pytest.raises(ValueError, match=r"--threshold speed=5: expected METRIC=PCT"):
        parse_thresholds(["speed=5"])




def test_identical_runs_report_no_change():
    assert [c for c in compare_runs(shifted(1.0), shifted(1.0), parse_thresholds([]))
            if c.significant] == []


def test_a_few_bytes_of_compressed_estimate_jitter_are_not_significant():
    old = shifted(1.0)
    new = document([{**s, "compressed_bytes": s["compressed_bytes"] + 2}
                    for s in shifted(1.0)["samples"]])
    changes = {c.metric: c for c in compare_runs(old, new, parse_thresholds([]))}
    assert not changes["compressed_bytes"].significant
    assert not any(c.significant for c in changes.values())


def test_a_build_that_missed_its_cache_is_not_compared_as_a_timing():
    old = shifted(1.0)
    new = shifted(1.0)
    new["samples"].append({**new["samples"][0], "repetition": 4, "build_s": 50.0,
                           "cache_warning": "warm build not fully cached: 0/2 steps"})
    build = next(c for c in compare_runs(old, new, parse_thresholds([]))
                 if c.metric == "build_s")
    assert build.new == pytest.approx(1.0) and not build.regression


def test_holm_keeps_the_smallest_p_values_within_alpha_over_m():
    p_values = [(1, 0.001), (2, 0.013), (3, 0.03), (4, 0.04)]
    # 0.001 < 0.05/4, 0.013 < 0.05/3, 0.03 >= 0.05/2: stop there
    assert holm_rejected(p_values, 0.05) == [1, 2]
    assert holm_rejected(p_values, 0.05, keep=False) == [3, 4]
    assert holm_rejected([(9, 0.04)], 0.05) == [9]  # one test: no correction


def test_many_a_a_comparisons_call_nothing_significant():
    """Twenty groups of identical-distribution timings (CV 10 %); uncorrected, two of these
    twenty pass p < 0.05 with a change over 1 %."""
    rng = random.Random(5)

    def run():
        return document([sample(f"v{g}", r, rng.gauss(1.0, 0.1), 2_000_000)
                         for g in range(20) for r in range(1, 6)])
    changes = compare_runs(run(), run(), parse_thresholds(["build_s=1"]))
    assert [c for c in changes if c.metric == "build_s" and c.significant] == []


def verdicts(old, new):
    return {c.metric: c.verdict for c in compare_runs(old, new, parse_thresholds([]))}


def test_timing_comparisons_are_three_way():
    tight = [1.0, 1.01, 0.99, 1.005, 0.995]
    steady = document([sample("base", r, t, 2_000_000) for r, t in enumerate(tight, 1)])
    assert verdicts(steady, steady)["build_s"] == "unchanged"  # interval within ±10 %
    slower = document([sample("base", r, t * 1.5, 2_000_000) for r, t in enumerate(tight, 1)])
    assert verdicts(steady, slower)["build_s"] == "regression"
    assert verdicts(slower, steady)["build_s"] == "improvement"
    wild = document([sample("base", r, t, 2_000_000)
                     for r, t in enumerate([0.6, 1.0, 1.5, 0.8, 1.3], 1)])
    assert verdicts(steady, wild)["build_s"] == "inconclusive"  # neither shown nor ruled out
    assert verdicts(steady, wild)["size_bytes"] == "unchanged"  # exact metrics: two-way


def test_a_jump_from_zero_waste_is_a_regression_not_unchanged():
    """2a: 0 → 100 MB of waste was `change_pct` 0.0, "unchanged", exit 0."""
    old = document([sample("base", r, 1.0, 2_000_000) for r in (1, 2, 3)])
    new = document([sample("base", r, 1.0, 2_000_000, wasted_bytes=100_000_000)
                    for r in (1, 2, 3)])
    (waste,) = [c for c in compare_runs(old, new, parse_thresholds([]))
                if c.metric == "wasted_bytes"]
    assert (waste.change_pct, waste.regression, waste.verdict) == (None, True, "regression")
    tiny = document([sample("base", r, 1.0, 2_000_000, wasted_bytes=1000) for r in (1, 2, 3)])
    (within_floor,) = [c for c in compare_runs(old, tiny, parse_thresholds([]))
                       if c.metric == "wasted_bytes"]
    assert not within_floor.regression  # 1000 bytes from 0: below the 1 KiB floor


def test_compare_command_shows_the_absolute_change_from_zero_and_fails(tmp_path, capsys):
    import json

    from harness.cli import main

    from .helpers import REAL_RESULTS

    real = json.loads(REAL_RESULTS.read_text())
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    for path, waste in ((old, 0), (new, 100_000_000)):
        path.write_text(json.dumps({**real, "samples": [
            {**s, "wasted_bytes": waste if s["status"] == "ok" else None}
            for s in real["samples"]]}))
    assert main(["compare", str(old), str(new)]) == 1
    shown = capsys.readouterr().out
    assert "wasted_bytes" in shown and "+100.0 MB (from 0)" in shown
    assert "REGRESSION" in shown
