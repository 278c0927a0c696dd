"""Shared fixtures. Nothing touches Docker at import time; `docker` fixtures connect lazily."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import docker
import pytest
from hypothesis import settings

from harness import engine

settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile("deep", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The real engine. Tests marked `docker` fail (not skip) without one: CI provisions it."""
    try:
        client = engine.connect()
    except engine.EngineUnavailable as error:
        pytest.fail(f"{error}\n(run `harness engine up`, or deselect with -m 'not docker')")
    yield client
    client.close()


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

