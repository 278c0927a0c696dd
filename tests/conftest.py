"""Shared fixtures. Nothing touches Docker at import time; `docker` fixtures connect lazily."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import pytest

from harness import engine


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
