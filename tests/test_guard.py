"""The conftest guard: an unmarked test that reaches Docker or Chromium fails, saying why."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    docker: engine\n    chromium: browser\n")
    return pytester


def test_an_unmarked_test_that_calls_the_engine_fails(inner: pytest.Pytester) -> None:
    inner.makepyfile("""
        import docker

        def test_pings():
            docker.DockerClient(base_url="unix:///nonexistent/docker.sock").ping()
    """)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*talks to the Docker engine but is not marked*"])


@pytest.mark.parametrize("program", ["docker", "/usr/sbin/dockerd", "chromium"])
def test_an_unmarked_test_that_starts_a_guarded_program_fails(inner: pytest.Pytester,
                                                              program: str) -> None:
    inner.makepyfile(f"""
        import subprocess

        def test_runs():
            subprocess.run([{program!r}, "--version"])
    """)
    result = inner.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*runs `{Path(program).name}` but is not marked*"])


def test_a_marked_test_may_start_its_program_and_others_are_untouched(
        inner: pytest.Pytester) -> None:
    inner.makepyfile("""
        import subprocess
        import pytest

        @pytest.mark.chromium
        def test_marked():
            with pytest.raises(FileNotFoundError):
                subprocess.run(["chromium-that-is-not-installed"])
            subprocess.run(["true"], check=True)

        def test_other_programs():
            subprocess.run(["true"], check=True)
    """)
    inner.runpytest_subprocess().assert_outcomes(passed=2)
