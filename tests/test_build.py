import subprocess
import time
from pathlib import Path

import pytest

from harness.build import (
    _buildkit_error,
    _parse_time,
    _run_to_the_end,
    buildah_steps,
    buildkit_log,
    buildkit_steps,
    count_legacy_steps,
    created_step_images,
    legacy_steps,
    outside_json,
)

DATA = Path(__file__).parent / "data"
# Recorded from `docker buildx build --progress=rawjson` (buildx 0.13.1, engine 20.10) of:
#   FROM scratch / COPY busybox / WORKDIR /app / ENV A=1 / RUN echo built-ok / CMD [...]
COLD = (DATA / "buildkit-cold.rawjson").read_text()
WARM = (DATA / "buildkit-warm.rawjson").read_text()
FAILED = (DATA / "buildkit-failed.rawjson").read_text()


def test_buildkit_cold_build_counts_snapshot_steps_none_cached():
    steps = buildkit_steps(COLD)
    assert [s.name.split("]")[0] + "]" for s in steps] == ["[1/3]", "[2/3]", "[3/3]"]
    assert [s.cached for s in steps] == [False, False, False]
    assert all(s.duration_s >= 0 for s in steps)
    assert any(s.duration_s > 0 for s in steps)


def test_buildkit_warm_build_has_every_step_cached():
    steps = buildkit_steps(WARM)
    assert len(steps) == 3
    assert all(s.cached for s in steps)


def test_buildkit_step_numbers_padded_past_nine_steps_are_counted():
    """BuildKit writes `[ 3/11] RUN ...` once a build has ten or more steps."""
    # recorded: a warm build of layer-count's ten-layers variant (FROM + 10 RUNs)
    steps = buildkit_steps((DATA / "buildkit-warm-11-steps.rawjson").read_text())
    assert len(steps) == 10 and all(s.cached for s in steps)
    assert steps[1].name.startswith("[ 3/11] RUN for i in $(seq 11 20)")


def test_buildkit_log_decodes_run_output():
    assert "built-ok" in buildkit_log(COLD)


def test_buildkit_failure_reports_the_failing_command():
    assert "exit code: 3" in _buildkit_error(FAILED)
    assert "about-to-fail" in buildkit_log(FAILED)


def test_a_build_that_fails_before_any_step_shows_the_clis_error_never_the_json():
    """Recorded: `COPY onlyone`, which BuildKit's frontend refuses; no step ran, so there is no
    build output to show: the log is what the CLI said, without the progress records."""
    refused = (DATA / "buildkit-parse-error.rawjson").read_text()
    assert buildkit_log(refused) == []
    lines = outside_json(refused)
    assert len(lines) == 1 and lines[0].startswith("ERROR: failed to solve: ")
    assert "COPY requires at least two arguments" in lines[0]


LEGACY_LOG = """\
Step 1/5 : FROM debian:bookworm
 ---> 1a2b3c4d5e6f
Step 2/5 : ENV A=1
 ---> Using cache
 ---> 4d5e6f7a8b9c
Step 3/5 : COPY app /app
 ---> Using cache
 ---> 7a8b9c0d1e2f
Step 4/5 : RUN make
 ---> Running in 0abc00000000
Removing intermediate container 0abc00000000
 ---> def012345678
Step 5/5 : CMD ["/app/run"]
 ---> Running in 1abc00000000
""".splitlines()


def test_legacy_steps_count_snapshot_instructions_only():
    assert count_legacy_steps(legacy_steps(LEGACY_LOG)) == (2, 1)


def test_legacy_steps_record_what_each_step_produced():
    steps = legacy_steps(LEGACY_LOG)
    assert [(s.instruction, s.cached, s.image_id) for s in steps] == [
        ("FROM", False, "1a2b3c4d5e6f"), ("ENV", True, "4d5e6f7a8b9c"),
        ("COPY", True, "7a8b9c0d1e2f"), ("RUN", False, "def012345678"), ("CMD", False, None)]


def test_legacy_steps_of_an_empty_log():
    assert count_legacy_steps(legacy_steps([])) == (0, 0)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("1970-01-01T00:00:01.5Z", 1.5),
    ("1970-01-01T00:00:00.123456789Z", 0.123456789),
    ("1970-01-01T00:01:00Z", 60.0),
])
def test_parse_time_keeps_nanoseconds(stamp, expected):
    assert _parse_time(stamp) == pytest.approx(expected, abs=1e-9)


# Recorded from `buildah build --layers --pull-never --force-rm` (buildah 1.28.2), output and
# errors together, of data/buildah/multi-stage.Dockerfile (cold: --no-cache; then warm) and
# data/buildah/failing-run.Dockerfile (cold)
BUILDAH = {name: (DATA / "buildah" / f"{name}.txt").read_text().splitlines()
           for name in ("multi-stage-cold", "multi-stage-warm", "failing-run")}


def test_buildah_cold_build_counts_snapshot_steps_of_every_stage_none_cached():
    steps = buildah_steps(BUILDAH["multi-stage-cold"])
    assert [s.instruction for s in steps] == ["FROM", "RUN", "FROM", "WORKDIR", "COPY", "COPY",
                                              "ENV", "CMD"]
    assert count_legacy_steps(steps) == (4, 0)  # RUN, WORKDIR, COPY, COPY


def test_buildah_warm_build_has_every_step_cached():
    assert count_legacy_steps(buildah_steps(BUILDAH["multi-stage-warm"])) == (4, 4)


def test_buildah_failed_build_names_the_step_images_it_made():
    steps = buildah_steps(BUILDAH["failing-run"])
    assert [(s.instruction, s.image_id) for s in steps] == [
        ("FROM", None), ("RUN", "ca23ec2e308"), ("RUN", None)]
    assert created_step_images(steps) == ["ca23ec2e308"]
    assert count_legacy_steps(steps) == (2, 0)


def test_buildah_cached_steps_made_no_image_to_remove():
    assert created_step_images(buildah_steps(BUILDAH["multi-stage-warm"])) == []


def test_a_builder_runs_to_its_end_with_its_output_read_after_the_timed_window():
    result, seconds = _run_to_the_end(
        ["sh", "-c", "echo out; sleep 0.2; printf 'caf\\303\\251 \\377\\n' >&2; exit 3"])
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "café \ufffd\n")
    assert 0.2 <= seconds < 5


def test_an_interrupted_builder_is_interrupted_too_and_its_output_handed_over(monkeypatch):
    handed: list[str] = []
    waits = iter([KeyboardInterrupt, None])

    def wait(self, timeout=None):
        if next(waits) is KeyboardInterrupt:  # Ctrl-C once the builder is at work
            time.sleep(0.5)
            raise KeyboardInterrupt
        return real_wait(self, timeout=timeout)
    real_wait = subprocess.Popen.wait
    monkeypatch.setattr(subprocess.Popen, "wait", wait)
    with pytest.raises(KeyboardInterrupt):
        _run_to_the_end(["sh", "-c", "echo step 1; trap 'echo stopped; exit 130' INT; "
                                     "sleep 5 & wait"], interrupted=handed.append)
    assert handed == ["step 1\nstopped\n"]
