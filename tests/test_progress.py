"""Progress for long work: in a CI log (no terminal), a plain line per finished sample."""

import pytest

from harness.model import Builder, CacheMode, Position, Sample, Status
from harness.progress import _clock, progress_reporter, run_progress


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0m00s"), (59.9, "0m59s"), (61, "1m01s"),
                                                (3725, "62m05s")])
def test_the_clock_shows_minutes_and_seconds(seconds, shown):
    assert _clock(seconds) == shown


def test_a_ci_log_gets_a_line_per_finished_sample_with_k_of_n_and_figures(capsys):
    with run_progress(4) as (progress, finished):
        progress(Position(scenario="s", variant="v", builder=Builder.LEGACY,
                          cache=CacheMode.COLD, repetition=1, repeat=2), 0)
        finished(Sample(scenario="s", variant="v", builder=Builder.LEGACY, cache=CacheMode.COLD,
                        repetition=1, status=Status.OK, build_s=1.234,
                        size_bytes=5_600_000), 1)
        finished(Sample(scenario="s", variant="w", builder=Builder.BUILDKIT,
                        cache=CacheMode.WARM, repetition=2, status=Status.FAILED), 2)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[1/4] s/v legacy cold rep 1: build 1.23 s, 5.6 MB (elapsed 0m")
    assert "ETA 0m" in lines[0]
    assert lines[1].startswith("[2/4] s/w buildkit warm rep 2: no build time, failed (elapsed")
    assert len(lines) == 2  # the progress callback prints nothing in a log


def test_long_work_reports_each_message_as_a_line_in_a_log(capsys):
    with progress_reporter() as report:
        report("debootstrap bookworm")
        report("importing")
    assert capsys.readouterr().err == "debootstrap bookworm\nimporting\n"
