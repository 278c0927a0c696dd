"""A series' pure decisions: whether a build hit the cache its mode implies, and the sample of
a build on the CI runner; its builds are tested in test_integ_runner.py."""

import pytest

from harness.build import BuildOutcome
from harness.model import Builder, CacheMode, Sample, Status, Variant
from harness.series import cache_warning, remote_sample

VARIANT = Variant(name="v", dockerfile="FROM a\nRUN deps\nCOPY . .\nRUN build\n",
                  dockerfile_origin="x:1")


@pytest.mark.parametrize(("cache", "total", "cached", "warning"), [
    (CacheMode.WARM, 3, 3, None),
    (CacheMode.WARM, 3, 0, "warm build not fully cached: 0/3 steps"),
    (CacheMode.INCREMENTAL, 3, 1, None),
    (CacheMode.INCREMENTAL, 3, 0, "incremental build cached 0 step(s); the 1 before the "
                                  "first COPY/ADD of the context should be"),
    (CacheMode.COLD, 3, 0, None),
    (CacheMode.REMOTE, 3, 3, None),
    (CacheMode.REMOTE, 3, 2, "remote build not fully cached: 2/3 steps"),
])
def test_a_build_that_missed_the_cache_its_mode_implies_is_flagged(cache, total, cached,
                                                                   warning):
    assert cache_warning(cache, VARIANT, total, cached) == warning


def blank(cache=CacheMode.REMOTE):
    return Sample(scenario="s", variant="v", builder=Builder.BUILDKIT, cache=cache,
                  repetition=2, status=Status.SKIPPED)


def test_a_build_on_the_ci_runner_keeps_its_time_and_cache_hits_and_flags_a_miss():
    built = BuildOutcome(ok=True, build_s=1.5, image_id="sha256:i", tag="t", steps_total=3,
                         steps_cached=2, step_durations_s=[0.5, 1.0], log_tail="")
    sample = remote_sample(blank(), VARIANT, built)
    assert (sample.status, sample.build_s, sample.image_id, sample.repetition) == (
        Status.OK, 1.5, "sha256:i", 2)
    assert sample.cache_warning == "remote build not fully cached: 2/3 steps"


def test_a_failed_build_on_the_ci_runner_is_a_failed_sample_with_its_log():
    built = BuildOutcome(ok=False, build_s=0.4, image_id=None, tag="t", steps_total=1,
                         steps_cached=0, step_durations_s=[], error="RUN false: exit code 1",
                         log_tail="false")
    sample = remote_sample(blank(), VARIANT, built)
    assert sample.status is Status.FAILED and sample.error == "RUN false: exit code 1\nfalse"
    assert sample.image_id is None and sample.cache_warning is None
