"""`nox -s bench`'s pytest-benchmark plugin, run in a subprocess on a tiny scenario."""

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness import engine

from .helpers import render_in_chromium

pytestmark = pytest.mark.docker

SCENARIO = """\
description: a tiny scenario for the plugin's tests
files:
  data.txt: "hello\\n"
repeat: 2
cache: [cold, warm]
variants:
  one:
    dockerfile: |
      FROM busybox:latest
      COPY data.txt /data.txt
  broken:
    dockerfile: |
      FROM busybox:latest
      RUN echo about to fail && false
  squashed:
    squash: legacy
    dockerfile: |
      FROM busybox:latest
      COPY data.txt /data.txt
expect:
  - broken.status == failed
  - one.layer_count {claim} squashed.layer_count
"""


def run_bench(folder: Path, claim: str, *args: str) -> tuple[subprocess.CompletedProcess[str],
                                                              Path]:
    scenarios = folder / "scenarios"
    scenarios.mkdir()
    shutil.copy("scenarios/bases.yaml", scenarios)
    (scenarios / "tiny.yaml").write_text(SCENARIO.format(claim=claim))
    results = folder / "results"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider",
         "-v", "--benchmark-autosave", f"--benchmark-storage={results / 'pytest-benchmark'}",
         "--results-dir", str(results), *args, str(scenarios)],
        cwd=folder, capture_output=True, text=True, timeout=600)
    return done, results


@pytest.mark.chromium
def test_bench_plugin_times_the_runner_builds_and_saves_both_result_files(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    done, results = run_bench(tmp_path, ">=", "-k", "not warm or one")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "one[legacy-cold] PASSED" in output
    assert "broken[legacy-cold] XFAIL" in output  # the scenario says it fails to build
    assert "squashed[buildkit-cold] SKIPPED" in output  # BuildKit has no --squash
    assert "broken[legacy-warm]" not in output  # -k reached pytest
    assert "tiny.yaml::expect PASSED" in output
    (run_file,) = results.glob("*.json")
    assert f"results: {run_file}" in output
    assert run_file.with_suffix(".md").is_file()
    render_in_chromium(run_file.with_suffix(".html"), tmp_path, "bench-report.png")
    run = json.loads(run_file.read_text())
    assert run["state"] == "complete"
    assert [e["passed"] for e in run["expectations"]] == [True, True]
    broken = [s for s in run["samples"] if s["variant"] == "broken"]
    assert broken and all(s["status"] == "failed" for s in broken)
    assert "about to fail" in broken[0]["error"]

    (benchmark_file,) = (results / "pytest-benchmark").glob("*/0001_*.json")
    benchmarks = {b["name"]: b for b in json.loads(benchmark_file.read_text())["benchmarks"]}
    # failed builds are not benchmarks; skipped ones never ran
    assert set(benchmarks) == {"one[legacy-cold]", "one[legacy-warm]", "one[buildkit-cold]",
                               "one[buildkit-warm]", "squashed[legacy-cold]"}
    for name, benchmark in benchmarks.items():
        variant, _, modes = name.rstrip("]").partition("[")
        builder, cache = modes.split("-")
        samples = [s for s in run["samples"] if (s["variant"], s["builder"], s["cache"])
                   == (variant, builder, cache)]
        assert benchmark["stats"]["rounds"] == len(samples) == 2
        harness_median = statistics.median(s["build_s"] for s in samples)
        # pytest-benchmark times the same call the runner times, plus a function call
        assert benchmark["stats"]["median"] == pytest.approx(harness_median, rel=0.05, abs=0.005)
        assert benchmark["extra_info"]["size_bytes"] == samples[-1]["size_bytes"] > 0
        assert benchmark["extra_info"]["layer_count"] == samples[-1]["layer_count"]
        assert benchmark["group"] == f"tiny {builder} {cache}"
    repository = engine.run_repository(run["run_id"])
    assert docker_client.images.list(filters={"reference": repository}) == []


def test_bench_plugin_fails_on_a_claim_that_does_not_hold(tmp_path: Path,
                                                          docker_client: docker.DockerClient
                                                          ) -> None:
    if engine.image_store(docker_client.info()) == "containerd":
        pytest.skip("the false claim is about a legacy --squash variant, which the containerd "
                    "image store skips")
    done, _ = run_bench(tmp_path, "<", "--quick", "-k", "legacy-cold or expect")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "tiny.yaml::expect FAILED" in output
    assert "claims not as stated:\none.layer_count < squashed.layer_count" in output
    assert "Traceback" not in output


def test_bench_plugin_reports_a_bad_scenario_by_file_and_line(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "bad.yaml").write_text("variants:\n  a:\n    dockerfil: x\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider",
         str(scenarios)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"{scenarios / 'bad.yaml'}:3: variants.a.dockerfil: unknown key" in output
    assert "Traceback" not in output


@pytest.mark.one_store
def test_bench_plugin_shard_selects_the_same_slice_as_harness_run(tmp_path: Path) -> None:
    from harness.matrix import matrix
    from harness.model import RunOptions
    from harness.scenario import load_scenarios

    scenarios = Path("scenarios").resolve()
    for index in (1, 2, 3):
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "harness.pytest_plugin", "-p",
             "no:cacheprovider", "--collect-only", "-q", "--shard", f"{index}/3", str(scenarios)],
            cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        collected = {(Path(line.split("::")[0]).stem, line.split("::")[1].partition("[")[0],
                      line.partition("[")[2].split("-")[0])
                     for line in done.stdout.splitlines() if "[" in line}
        expected = {(s.name, v.name, str(b)) for s, v, b in
                    matrix(load_scenarios([scenarios]), RunOptions(shard=(index, 3)))}
        assert collected == expected and expected
