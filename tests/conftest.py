"""Shared fixtures. Nothing touches Docker at import time; `docker` fixtures connect lazily.

An autouse guard fails any test that reaches the Docker engine, the docker CLI or Chromium
without the matching marker, so `nox -s unit` (`-m "not docker and not chromium"`) really
runs without either. Only pytest, docker-py and harness are imported here: the bench
virtualenv has no test extras, and `pytest-benchmark compare` loads this file too.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.api.client
import pytest

from harness import engine
from harness.bases import ensure_bases
from harness.scenario import all_bases

BUNDLED_SCENARIOS = Path(__file__).parent.parent / "scenarios"

GUARDED_PROGRAMS = {"docker": "docker", "dockerd": "docker", "chromium": "chromium"}
"""Programs a test may start only when it carries the marker named here."""


def pytest_configure(config: pytest.Config) -> None:
    from hypothesis import settings  # not at import time: see the module docstring

    settings.register_profile("default", max_examples=300, deadline=None)
    settings.register_profile("deep", max_examples=5000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def marked_for_what_it_touches(request: pytest.FixtureRequest,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail an unmarked test that talks to the engine or starts docker/dockerd/chromium. No
    test writes to a real GitHub job summary (a hosted runner sets GITHUB_STEP_SUMMARY)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    allowed = {name for name in ("docker", "chromium") if request.node.get_closest_marker(name)}
    if "docker" not in allowed:
        def no_engine(*args: object, **kwargs: object) -> None:
            pytest.fail("this test talks to the Docker engine but is not marked "
                        "@pytest.mark.docker", pytrace=False)
        monkeypatch.setattr(docker.api.client.APIClient, "send", no_engine)
    popen_init = subprocess.Popen.__init__

    def guarded_popen(self: subprocess.Popen[bytes], args: object, *rest: object,
                      **kwargs: object) -> None:
        words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)  # type: ignore[call-overload]
        program = Path(os.fsdecode(words[0]).split()[0]).name if words else ""
        needs = GUARDED_PROGRAMS.get(program)
        if needs and needs not in allowed:
            pytest.fail(f"this test runs `{program}` but is not marked @pytest.mark.{needs}",
                        pytrace=False)
        popen_init(self, args, *rest, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(subprocess.Popen, "__init__", guarded_popen)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real engine. Tests marked `docker` fail (not skip) without one: CI provisions it."""
    try:
        client = engine.connect()
    except engine.EngineUnavailable as error:
        pytest.fail(f"{error}\n(run `harness engine up`, or deselect with -m 'not docker')")
    yield client
    client.close()


def bundled_base(client: docker.DockerClient, reference: str) -> str:
    """`reference`, made by its recipe in scenarios/bases.yaml where the engine lacks it: no
    test may rely on an image another test or an earlier run left behind."""
    ensure_bases(client, all_bases([BUNDLED_SCENARIOS]), [reference], lambda message: None)
    return reference


@pytest.fixture
def busybox(docker_client: docker.DockerClient) -> str:
    return bundled_base(docker_client, "busybox:latest")


@pytest.fixture
def debian_bookworm(docker_client: docker.DockerClient) -> str:
    """Made by debootstrap from Debian's mirror where the engine lacks it."""
    return bundled_base(docker_client, "debian:bookworm")


@pytest.fixture
def test_labels(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """Labels unique to one test; everything carrying them is removed afterwards."""
    run_id = f"test-{uuid.uuid4().hex[:12]}"
    yield engine.run_labels(run_id)
    engine.remove_labelled(docker_client, f"{engine.RUN_LABEL}={run_id}")


@pytest.fixture
def unique_reference(docker_client: docker.DockerClient) -> Iterator[Callable[[str], str]]:
    """Makes base references no one else uses; removes whatever got tagged with them."""
    made: list[str] = []

    def make(name: str) -> str:
        made.append(f"harness-test-{name}:{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield make
    for reference in reversed(made):  # images built on a base go before the base
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(reference, force=True)

