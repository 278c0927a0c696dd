"""The command line as a user meets it: exit codes and messages, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli
from harness.cli import main

from .helpers import REAL_RESULTS

SCENARIOS = Path(__file__).parent.parent / "scenarios"


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_validate_lists_every_problem_as_file_line_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("repeat: 0\nvariants:\n  v: {dockerfile: 'FROM x y'}\n")
    result = harness("validate", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{bad}:1: repeat: expected a whole number ≥ 1, found 0",
        f"{bad}:3: variants.v.dockerfile: cannot read `FROM x y`: expected "
        "`FROM [--platform=...] IMAGE [AS NAME]`",
        "2 problem(s)",
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_validate_binary_file_is_a_problem_not_a_crash(tmp_path):
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)))
    result = harness("validate", str(junk))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{junk}:1: this is a binary file")


def test_validate_missing_path_is_a_clean_error(tmp_path):
    result = harness("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert result.stderr == f"harness: {tmp_path / 'nope.yaml'}: no such file or directory\n"


def test_validate_defaults_to_the_scenarios_folder():
    result = harness("validate", cwd=SCENARIOS.parent)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


@pytest.mark.docker
def test_bases_build_reports_what_it_did(unique_reference, tmp_path):
    reference = unique_reference("cli")
    (tmp_path / "bases.yaml").write_text(
        f"bases:\n  {reference}:\n    scratch: {{files: {{/bin/busybox: /bin/busybox}}}}\n")
    first = harness("bases", "build", str(tmp_path))
    second = harness("bases", "build", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert f"| {reference} | built " in first.stdout
    assert f"{reference}: making it by scratch recipe" in first.stderr  # progress
    assert f"| {reference} | present " in second.stdout


@pytest.mark.parametrize(("argv", "cache", "repeat"), [
    (["run"], None, None),
    (["run", "--quick"], ("cold", "warm"), 1),
    (["run", "--quick", "--repeat", "2", "--cache", "incremental"], ("incremental",), 2),
])
def test_quick_runs_one_repetition_of_cold_and_warm(argv, cache, repeat):
    from harness.cli import build_parser, run_options

    options = run_options(build_parser().parse_args(argv))
    assert (options.cache, options.repeat) == (cache, repeat)


def test_a_bad_out_is_refused_before_anything_is_built(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("variants:\n  a: {dockerfile: FROM scratch}\n")
    (tmp_path / "file").write_text("x")
    assert main(["run", str(scenario), "--out", str(tmp_path / "file" / "out")]) == 2
    error = capsys.readouterr().err
    assert f"harness: {tmp_path / 'file' / 'out'}: cannot write results there" in error
    assert "Traceback" not in error


def test_the_clis_copies_of_engine_names_match_their_modules():
    from harness import flavors, registry

    assert list(flavors.FLAVORS) == cli.FLAVOR_NAMES
    assert cli.DEFAULT_REGISTRY_PORT == registry.DEFAULT_PORT


def test_reading_comparing_trending_merging_and_validating_load_no_docker_code(tmp_path):
    """Through the whole command, not just the import: each runs in a fresh interpreter."""
    (tmp_path / "history").mkdir()
    for name in ("a", "b"):
        (tmp_path / "history" / f"{name}.json").write_text(REAL_RESULTS.read_text())
    a, b = (str(tmp_path / "history" / f"{name}.json") for name in ("a", "b"))
    for args in (["report", a, "-o", str(tmp_path / "r.md")], ["compare", a, b],
                 ["trend", str(tmp_path / "history")], ["validate", str(SCENARIOS)],
                 ["merge", a, b, "-o", str(tmp_path / "m.json")]):
        check = ("import sys; from harness.cli import main\n"
                 "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
                 "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                 "('docker', 'docker_squash', 'requests', 'urllib3')))")
        result = subprocess.run([sys.executable, "-c", check, *args], capture_output=True,
                                text=True, timeout=120, cwd=tmp_path)
        assert result.stdout.strip().splitlines()[-1] == "[]", (args, result.stderr)
