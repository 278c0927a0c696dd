"""The runner's pure decisions; its builds are tested in test_integ_runner.py."""

from dataclasses import replace

import pytest

from harness import expect
from harness.engine import engine_failure
from harness.model import Builder, CacheMode, Run, RunOptions, Sample, Status, Variant
from harness.runner import unexpected_failures, unique_change

VARIANT = Variant(name="v", dockerfile="FROM a\nRUN deps\nCOPY . .\nRUN build\n",
                  dockerfile_origin="x:1")


def test_each_incremental_change_is_new():
    assert unique_change("# edit {nonce}\n", "r1-3") == "# edit r1-3\n"
    assert unique_change("# edit\n", "r1-3") == "# edit r1-3\n"


def sample(variant, **fields):
    return Sample(scenario="s", variant=variant, builder=Builder.LEGACY, cache=CacheMode.COLD,
                  repetition=1, **{"status": Status.OK, **fields})


def verdict(expr, variants, held=True):
    claim = expect.parse(expr, variants)
    return replace(expect.evaluate(claim, []), passed=held)


def test_start_failures_fail_the_run_unless_a_claim_predicted_them():
    run = Run(run_id="r", started_at="t", environment={}, options=RunOptions(), scenarios=[],
              samples=[sample("a", start_status=Status.FAILED, start_error="exited with 1"),
                       sample("b", start_status=Status.FAILED),
                       sample("c", status=Status.FAILED), sample("d")])
    assert [s.variant for s in unexpected_failures(run)] == ["a", "b", "c"]
    run.verdicts["s"] = [verdict("b.start_status == failed", "abcd"),
                         verdict("c.status == failed", "abcd"),
                         verdict("a.start_status == failed", "abcd", held=False)]
    assert [s.variant for s in unexpected_failures(run)] == ["a"]


@pytest.mark.parametrize(("error", "meaning"), [
    ("failed to create endpoint x on network bridge: could not find bridge docker0: route ip+"
     "net: no such network interface\nlog...", "its network bridge is gone"),
    ("write /var/lib/docker/tmp/x: no space left on device", "its disk is full"),
    ("the untimed priming build failed: failed to register layer: no space left on device",
     "its disk is full"),
    ("The command '/bin/sh -c false' returned a non-zero code: 1\nno space left on device",
     None),  # the build's own log may say anything: only the engine's error line counts
    (None, None),
])
def test_engine_level_failures_are_told_from_build_failures(error, meaning):
    found = engine_failure(sample("a", status=Status.FAILED, error=error))
    assert (found is None) if meaning is None else meaning in found
