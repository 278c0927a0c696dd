"""Entry points: `nox -s tests`, `nox -s bench`, `nox -s lint`. Each provisions what it needs."""

import nox

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True


def provision_engine(session: nox.Session) -> None:
    """Make sure a Docker engine answers (installs and starts one on Debian/Ubuntu as root)."""
    session.run("harness", "engine", "up")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    provision_engine(session)
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every bundled scenario; arguments after `--` go to `harness run` (e.g. `-k cache-order`)."""
    session.install("-e", ".")
    provision_engine(session)
    session.run("harness", "run", "scenarios", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint,test]")
    session.run("ruff", "check", "harness", "tests", "benchmarks", "noxfile.py")
    session.run("mypy", *session.posargs)
