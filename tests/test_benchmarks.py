"""The benchmarks in benchmarks/ run and print their figures; what the figures are is the
benchmarks' business, not the tests' (tests check behaviour, not wall time)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import image_ids

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def run(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.docker
def test_build_time_prints_a_ratio_per_builder_and_leaves_no_image(docker_client, busybox):
    before = image_ids(docker_client)
    output = run(str(BENCHMARKS / "build_time.py"), "1")
    assert image_ids(docker_client) <= before
    for builder in ("legacy", "buildkit"):
        assert re.search(rf"^{builder}: harness build_s [\d.]+ s, docker \w+ wall [\d.]+ s, "
                         r"ratio [\d.]+ \(medians of 1, interleaved\)$", output, re.MULTILINE)


@pytest.mark.docker
def test_layer_analysis_prints_time_and_peak_memory_of_both_sides(docker_client):
    output = run(str(BENCHMARKS / "layer_analysis.py"), "--random-image", "8", "1")
    assert re.search(r"analysis [\d.]+ s, peak \d+ MB; docker save \| pigz -6 [\d.]+ s, "
                     r"peak \d+ MB; time ratio [\d.]+", output)
    assert not docker_client.images.list(filters={"reference": "harness-bench/*"})


def test_layer_analysis_without_arguments_prints_its_usage():
    result = subprocess.run([sys.executable, str(BENCHMARKS / "layer_analysis.py")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Run:" in result.stderr and "needs pigz" not in result.stderr
