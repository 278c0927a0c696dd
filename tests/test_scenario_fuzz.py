"""Property: no YAML document and no mutation of a valid scenario makes loading crash.

Whatever the input, checking returns problems (or a scenario); it never raises.
`HYPOTHESIS_PROFILE=deep pytest tests/test_scenario_fuzz.py` searches longer.
"""

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.scenario import check_scenario

VALID = """\
name: demo
description: fuzz target
files:
  app/main.py: "print('hello')\\n"
baseline: a
builders: [legacy, buildkit]
cache: [cold, warm, incremental]
repeat: 2
incremental:
  append: {path: app/main.py, text: "# changed\\n"}
run:
  command: ["/bin/sh", "-c", "true"]
  ready_log: null
  expect_exit: 0
  timeout_s: 30
bases:
  debian:bookworm: {debootstrap: {suite: bookworm, variant: minbase}}
variants:
  a:
    dockerfile: |
      FROM debian:bookworm
      COPY app /app
  b:
    extends: a
    build_args: {X: "1"}
    target: null
expect:
  - b.size_bytes <= 1.5 * a.size_bytes
"""

KEYS = ["name", "variants", "dockerfile", "extends", "baseline", "bases", "files", "run",
        "expect", "repeat", "cache", "builders", "incremental", "append", "path", "text",
        "context", "dockerfile_path", "target", "build_args", "debootstrap", "scratch", "tar",
        "build", "a", "b"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(KEYS))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers()),
                        children, max_size=5),
    ),
    max_leaves=25,
)

@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One folder for every example (pytest removes it; a function's tmp_path would be made
    anew for each of hypothesis's hundreds of examples)."""
    return tmp_path_factory.mktemp("fuzz")


def check_text(folder: Path, text: str | bytes) -> None:
    path = folder / "fuzz.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    scenario, problems = check_scenario(path)
    assert (scenario is None) == bool(problems)
    for problem in problems:
        assert problem.line >= 1 and problem.message


def test_the_fuzz_target_itself_is_valid(folder):
    path = folder / "valid.yaml"
    path.write_text(VALID)
    assert check_scenario(path)[1] == []


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_yaml_documents_never_crash(folder, document):
    check_text(folder, yaml.safe_dump(document, allow_unicode=True))


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(folder, data):
    check_text(folder, data)


@given(st.data())
def test_mutations_of_a_valid_scenario_never_crash(folder, data):
    lines = VALID.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(lines) - 1))
        mutation = data.draw(st.sampled_from(["delete", "duplicate", "replace", "insert",
                                              "truncate", "indent"]))
        if mutation == "delete" and len(lines) > 1:
            del lines[index]
        elif mutation == "duplicate":
            lines.insert(index, lines[index])
        elif mutation == "replace":
            lines[index] = data.draw(st.text(string.printable, max_size=40)) + "\n"
        elif mutation == "insert":
            key = data.draw(st.sampled_from(KEYS))
            value = data.draw(st.sampled_from(["", "1", "-3", "[]", "{}", "x", "null", "[a, b]",
                                               "{a: 1}", "true", "'FROM'", "a.size_bytes < 1"]))
            indent = data.draw(st.sampled_from(["", "  ", "    ", "      "]))
            lines.insert(index, f"{indent}{key}: {value}\n")
        elif mutation == "truncate":
            lines[index] = lines[index][: data.draw(st.integers(0, len(lines[index])))]
        elif mutation == "indent":
            lines[index] = "  " + lines[index]
    check_text(folder, "".join(lines))
