"""Every command that reads results files refuses a bad one clearly: the file and the field
named, exit 2, no traceback; trend skips it with a warning. The loader is fuzzed."""

import copy
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import store
from harness.errors import HarnessError
from harness.report import group_stats, markdown_report

from .helpers import REAL_RESULTS

REAL = json.loads(REAL_RESULTS.read_text())
BROKEN = {
    "no run_id": ({k: v for k, v in REAL.items() if k != "run_id"},
                  "the top level: 'run_id' is a required property"),
    "a sample's size as text": ({**REAL, "samples": [{**REAL["samples"][0],
                                                      "size_bytes": "big"}]},
                                "samples[0].size_bytes: 'big' is not of type 'integer', 'null'"),
    "samples not a list": ({**REAL, "samples": {"a": 1}},
                           "samples: {'a': 1} is not of type 'array'"),
    "an unknown state": ({**REAL, "state": "done"}, "state: 'done' is not one of"),
}


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("case", BROKEN)
def test_report_compare_merge_refuse_a_bad_file_naming_file_and_field(tmp_path, case):
    document, field = BROKEN[case]
    bad, good = tmp_path / "bad.json", tmp_path / "good.json"
    bad.write_text(json.dumps(document))
    good.write_text(REAL_RESULTS.read_text())
    for args in (["report", str(bad)], ["compare", str(good), str(bad)],
                 ["merge", str(good), str(bad), "-o", str(tmp_path / "merged.json")]):
        done = harness(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert f"harness: {bad}: not a valid harness results file: {field}" in done.stderr
        assert "Traceback" not in done.stderr


def test_trend_skips_a_bad_file_with_a_warning(tmp_path):
    for night in range(3):
        (tmp_path / f"night{night}.json").write_text(json.dumps(
            {**REAL, "run_id": f"n{night}", "started_at": f"2026-11-0{night + 1}T00:00:00"}))
    (tmp_path / "corrupt.json").write_text('{"schema_version": 3, "run_id"')
    (tmp_path / "wrong.json").write_text(json.dumps(BROKEN["no run_id"][0]))
    done = harness("trend", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "3 run(s)" in done.stdout
    assert f"harness: warning: skipped {tmp_path / 'corrupt.json'}: not a harness results " \
           "file (invalid JSON" in done.stderr
    assert f"skipped {tmp_path / 'wrong.json'}: not a valid harness results file" in done.stderr


PATHS = [("run_id",), ("state",), ("samples",), ("samples", 0), ("samples", 0, "status"),
         ("samples", 0, "build_s"), ("samples", 0, "size_bytes"), ("scenarios", 0, "baseline"),
         ("scenarios", 0, "variants"), ("scenarios",), ("expectations", 0, "values"),
         ("environment",), ("samples", 1, "variant"), ("samples", 2, "cache")]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=5), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@given(path=st.sampled_from(PATHS), value=VALUES, drop=st.booleans())
def test_a_mangled_file_is_either_refused_clearly_or_reported(tmp_path_factory, path, value,
                                                               drop):
    document = copy.deepcopy(REAL)
    holder = document
    for key in path[:-1]:
        holder = holder[key]
    if drop and isinstance(holder, dict):
        holder.pop(path[-1], None)
    else:
        holder[path[-1]] = value
    file = tmp_path_factory.mktemp("fuzz") / "mangled.json"
    file.write_text(json.dumps(document))
    try:
        loaded = store.load(file)
    except HarnessError as error:
        assert str(error).startswith(f"{file}: ")
        return
    group_stats(loaded)
    markdown_report(loaded)
