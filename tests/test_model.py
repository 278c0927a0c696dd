"""The model: one metric table every reader uses, and modules that only read results load no
Docker code."""

import subprocess
import sys

import pytest

from harness.model import COMPARED, METRIC, METRICS, Better, Sample, default_thresholds_pct

READERS = ["report", "compare", "trend", "merge", "store", "scenario", "stats", "model",
           "expect", "matrix", "html_report", "cli"]


@pytest.mark.parametrize("module", READERS)
def test_a_module_that_only_reads_results_imports_no_docker_code(module: str) -> None:
    check = (f"import sys, harness.{module}; "
             "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
             "('docker', 'docker_squash', 'requests', 'urllib3')); print(loaded)")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_every_numeric_sample_field_is_in_the_metric_table() -> None:
    numeric = {name for name, kind in Sample.__annotations__.items()
               if kind in ("int | None", "float | None")}
    assert numeric == set(METRIC)


def test_compared_metrics_have_thresholds_and_timings_come_first() -> None:
    assert COMPARED == ("build_s", "transform_s", "start_s", "push_s", "pull_s", "size_bytes",
                        "compressed_bytes", "wasted_bytes", "layer_count", "push_bytes",
                        "push_after_baseline_bytes", "pull_bytes")
    assert set(default_thresholds_pct()) == set(COMPARED)
    assert all(not METRIC[m].exact for m in COMPARED[:5])
    assert all(METRIC[m].exact for m in COMPARED[5:])


def test_units_and_directions() -> None:
    assert {m.unit for m in METRICS} == {"s", "bytes", "layers", "steps"}
    assert [m.name for m in METRICS if m.better is Better.HIGHER] == ["steps_cached"]
    assert all(m.name.endswith("_bytes") == (m.unit == "bytes") for m in METRICS)
