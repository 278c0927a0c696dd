from dataclasses import asdict, replace

import pytest

from harness.expect import evaluate, judge, parse, predicted_failure
from harness.model import Builder, CacheMode, Sample, Status
from harness.report import findings_table, verdict_lines

VARIANTS = ("small", "big", "broken")


def sample(variant, size, *, builder=Builder.LEGACY, cache=CacheMode.COLD, status=Status.OK,
           start_status=Status.OK, build_s=1.0):
    return Sample(scenario="s", variant=variant, builder=builder, cache=cache, repetition=1,
                  status=status, size_bytes=size, build_s=build_s, start_status=start_status)


SAMPLES = [
    sample("small", 100), sample("small", 100), sample("big", 300), sample("big", 300),
    sample("small", 100, builder=Builder.BUILDKIT), sample("big", 120, builder=Builder.BUILDKIT),
    sample("broken", None, status=Status.FAILED),
    sample("broken", None, status=Status.FAILED, builder=Builder.BUILDKIT),
]


def test_a_claim_holds_only_if_it_holds_for_every_builder_and_cache_mode():
    verdict = evaluate(parse("small.size_bytes <= 0.5 * big.size_bytes", VARIANTS), SAMPLES)
    assert [(v.group, v.left, v.right, v.holds) for v in verdict.values] == [
        ("buildkit/cold", 100, 60.0, False), ("legacy/cold", 100, 150.0, True)]
    assert not verdict.passed and not verdict.as_expected


def test_medians_are_compared():
    samples = [sample("small", size) for size in (1, 9, 2)] + [
        sample("big", size) for size in (25, 26, 1)]
    verdict = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples)
    assert [(v.left, v.right) for v in verdict.values] == [(2, 25)]
    assert verdict.passed


def timings(small, big):
    return [sample("small", 1, build_s=t) for t in small] + [
        sample("big", 1, build_s=t) for t in big]


@pytest.mark.parametrize(("small", "big", "outcome"), [
    ((1.0, 1.05, 0.95, 1.02, 0.98), (2.0, 2.1, 1.9, 2.05, 1.95), "holds"),
    ((3.0, 3.1, 2.9, 3.05, 2.95), (2.0, 2.1, 1.9, 2.05, 1.95), "fails"),
    ((1.0, 9.0, 2.0, 1.5, 8.0), (2.5, 2.6, 0.1, 2.4, 0.3), "inconclusive"),  # noise
    ((1.0,), (2.0,), "inconclusive"),  # one build a side says little
])
def test_a_timing_claim_holds_fails_or_is_inconclusive_by_its_interval(small, big, outcome):
    verdict = evaluate(parse("small.build_s < big.build_s", VARIANTS), timings(small, big))
    assert (verdict.passed, verdict.inconclusive, verdict.as_expected) == {
        "holds": (True, False, True), "fails": (False, False, False),
        "inconclusive": (False, True, True)}[outcome]
    (group,) = verdict.values
    if len(small) > 1:
        low, high = group.interval
        assert low <= group.left / group.right <= high


def test_an_inconclusive_known_false_claim_does_not_fail_the_run_either():
    verdict = evaluate(parse("small.build_s > big.build_s", VARIANTS, known_false=True),
                       timings((1.0,), (2.0,)))
    assert verdict.inconclusive and verdict.as_expected


def test_status_claims():
    assert evaluate(parse("broken.status == failed", VARIANTS), SAMPLES).passed
    assert evaluate(parse("small.status == ok", VARIANTS), SAMPLES).passed
    assert not evaluate(parse("small.status == failed", VARIANTS), SAMPLES).passed


def test_a_variant_without_ok_samples_has_no_number_and_fails_the_claim():
    verdict = evaluate(parse("broken.size_bytes < 1e9", VARIANTS), SAMPLES)
    assert [v.holds for v in verdict.values] == [None, None]
    assert not verdict.passed


@pytest.mark.parametrize(("expr", "as_expected"), [
    ("big.size_bytes < small.size_bytes", True),   # false, as known
    ("small.size_bytes < 1000", False),            # holds now: the finding changed
])
def test_known_false_claims_fail_the_run_only_when_they_start_holding(expr, as_expected):
    verdict = evaluate(parse(expr, VARIANTS, known_false=True), SAMPLES)
    assert verdict.known_false and verdict.as_expected is as_expected


@pytest.mark.parametrize(("expr", "variant"), [
    ("broken.status == failed", "broken"),
    ("failed == broken.status", "broken"),
    ("broken.status != failed", None),
    ("broken.status == ok", None),
    ("broken.size_bytes < 1", None),
])
def test_the_variant_a_claim_predicts_to_fail(expr, variant):
    assert predicted_failure(parse(expr, VARIANTS)) == variant


def test_a_claim_limited_to_a_cache_mode_ignores_the_others():
    samples = [sample("small", 1), sample("big", 2), sample("small", 5, cache=CacheMode.WARM),
               sample("big", 2, cache=CacheMode.WARM)]
    everywhere = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples)
    cold_only = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS,
                               cache=("cold",)), samples)
    assert not everywhere.passed
    assert cold_only.passed and [v.group for v in cold_only.values] == ["legacy/cold"]


def test_groups_where_a_variant_was_skipped_are_left_out():
    samples = [sample("small", 10), sample("big", 20),
               sample("small", None, builder=Builder.BUILDKIT, status=Status.SKIPPED),
               sample("big", 20, builder=Builder.BUILDKIT)]
    verdict = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples)
    assert verdict.passed and [v.group for v in verdict.values] == ["legacy/cold"]
    only_skipped = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples[2:])
    assert not only_skipped.passed and only_skipped.values == []


def test_a_claim_whose_variant_was_skipped_everywhere_is_skipped_with_the_reason():
    reason = "the engine is not in experimental mode, which --squash needs"
    samples = [sample("small", None, status=Status.SKIPPED), sample("big", 20),
               sample("small", None, builder=Builder.BUILDKIT, status=Status.SKIPPED),
               sample("big", 20, builder=Builder.BUILDKIT)]
    samples[0] = replace(samples[0], error=reason)
    samples[2] = replace(samples[2], error="BuildKit has no --squash")
    verdict = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples)
    assert verdict.skipped == f"BuildKit has no --squash; {reason}"
    assert verdict.as_expected and not verdict.passed and not verdict.inconclusive
    assert judge([parse("small.size_bytes < big.size_bytes", VARIANTS)], samples) == [verdict]
    document = {"expectations": [{"scenario": "s", **asdict(verdict)}]}
    assert verdict_lines(document)[0].startswith(
        "– skipped: BuildKit has no --squash; the engine is not in experimental mode")
    document |= {"scenarios": [{"name": "s", "variants": dict.fromkeys(VARIANTS)}],
                 "run_id": "r", "started_at": "2026-11-29", "environment": {}, "samples": []}
    assert "| – skipped: BuildKit has no --squash; the engine is not in experimental mode" \
        in findings_table([document])


def test_a_pull_that_could_not_be_measured_makes_its_claim_inconclusive_not_failed():
    samples = [replace(sample("small", 10), pull_bytes=100),
               replace(sample("big", 20), distribution_error="pull not measured: ...")]
    verdict = evaluate(parse("small.pull_bytes < big.pull_bytes", VARIANTS), samples)
    assert verdict.inconclusive and verdict.as_expected and not verdict.passed
    failed_build = [replace(sample("small", 10), pull_bytes=100),
                    sample("big", None, status=Status.FAILED)]
    assert not evaluate(parse("small.pull_bytes < big.pull_bytes", VARIANTS),
                        failed_build).as_expected  # a failed build still fails the claim


def test_groups_where_a_variant_was_not_measured_are_left_out():
    """e.g. `-k` deselected one variant's warm builds: the cold comparison still counts."""
    samples = [sample("small", 10), sample("big", 20),
               sample("big", 20, cache=CacheMode.WARM)]
    verdict = evaluate(parse("small.size_bytes < big.size_bytes", VARIANTS), samples)
    assert verdict.passed and [v.group for v in verdict.values] == ["legacy/cold"]
    wrong = evaluate(parse("small.size_bytes > big.size_bytes", VARIANTS), samples)
    assert not wrong.passed and [v.group for v in wrong.values] == ["legacy/cold"]


def test_start_time_claims_use_every_container_start_and_need_three_samples_a_side():
    def started(variant, starts):
        return Sample(scenario="s", variant=variant, builder=Builder.LEGACY,
                      cache=CacheMode.COLD, repetition=1, status=Status.OK, size_bytes=1,
                      start_s=sorted(starts)[len(starts) // 2], start_samples_s=list(starts),
                      start_status=Status.OK)
    claim = parse("small.start_s < big.start_s", VARIANTS)
    small, big = [0.20, 0.21, 0.19, 0.20, 0.22], [0.40, 0.41, 0.39, 0.42, 0.40]
    one_each = evaluate(claim, [started("small", small), started("big", big)])
    assert one_each.inconclusive and not one_each.passed  # five starts in a row: one window
    three_each = evaluate(claim, [started(v, starts) for _ in range(3)
                                  for v, starts in (("small", small), ("big", big))])
    assert three_each.passed and not three_each.inconclusive


def test_the_medians_shown_are_the_ones_judged_without_cache_missed_builds():
    """2f: _value kept cache-warned samples where _numbers dropped them."""
    from harness.model import Sample

    def warm(variant, build_s, warning=None):
        return replace(sample(variant, 1, cache=CacheMode.WARM, build_s=build_s),
                       cache_warning=warning)

    samples = [warm("small", 1.0), warm("small", 1.1), warm("small", 0.9),
               warm("small", 60.0, "warm build not fully cached: 1/2 steps"),
               warm("small", 61.0, "warm build not fully cached: 1/2 steps"),
               warm("big", 2.0), warm("big", 2.1), warm("big", 1.9)]
    assert all(isinstance(s, Sample) for s in samples)
    verdict = evaluate(parse("small.build_s < big.build_s", VARIANTS), samples)
    assert [(v.left, v.right) for v in verdict.values] == [(1.0, 2.0)]
    assert verdict.passed


def test_a_stored_sample_without_an_optional_field_is_judged_not_crashed():
    """2f: getattr without a default raised AttributeError on a stored sample (an older file)
    that lacks an optional field, such as push_bytes."""
    from types import SimpleNamespace

    stored = [SimpleNamespace(scenario="s", variant=v, builder="legacy", cache="cold",
                              status="ok", start_status="ok", error=None, size_bytes=size)
              for v, size in (("small", 1), ("big", 2))]
    verdict = evaluate(parse("small.push_bytes < big.push_bytes", VARIANTS), stored)
    assert verdict.values[0].left is None and not verdict.passed


def test_a_timing_claim_says_which_interval_decided_it():
    samples = [sample("small", 1, build_s=t) for t in (1.0, 1.1, 0.9)] + [
        sample("big", 1, build_s=t) for t in (2.0, 2.1, 1.9)]
    (group,) = evaluate(parse("small.build_s < big.build_s", VARIANTS), samples).values
    assert group.holds and group.interval_kind == "min–max"


def test_a_claim_scoped_to_an_image_store_is_judged_only_on_an_engine_with_it():
    claim = parse("small.size_bytes > big.size_bytes", VARIANTS, known_false=True,
                  image_stores=("classic",))
    assert [v.expr for v in judge([claim], SAMPLES, "classic")] == [claim.expr]
    assert judge([claim], SAMPLES, "containerd") == []
    unscoped = parse("small.size_bytes > big.size_bytes", VARIANTS)
    assert len(judge([unscoped], SAMPLES, "containerd")) == 1
