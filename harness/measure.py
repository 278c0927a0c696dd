"""Measure a built image: what the engine says about it, and how long a container takes to run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions


@dataclass(frozen=True, kw_only=True)
class ImageFacts:
    image_id: str
    size_bytes: int
    """`docker image inspect` .Size: the uncompressed size of all layers."""
    layer_count: int
    """len(.RootFS.Layers)."""


@dataclass(frozen=True, kw_only=True)
class StartSample:
    ok: bool
    start_s: float | None
    """From container create to process exit; None when the container failed."""
    error: str | None = None


def image_facts(client: docker.DockerClient, image_ref: str) -> ImageFacts:
    attrs = client.api.inspect_image(image_ref)
    return ImageFacts(image_id=attrs["Id"], size_bytes=int(attrs["Size"]),
                      layer_count=len(attrs.get("RootFS", {}).get("Layers") or []))


def time_start(client: docker.DockerClient, image_ref: str, *, labels: Mapping[str, str],
               command: Sequence[str] | None = None, expect_exit: int = 0,
               timeout_s: float = 30.0) -> StartSample:
    """Create, start and wait for one container; it is removed whatever happens."""
    container = None
    started = time.perf_counter()
    try:
        container = client.containers.create(image_ref, command=list(command) if command else None,
                                             labels=dict(labels), detach=True)
        container.start()
        exit_code = container.wait(timeout=timeout_s)["StatusCode"]
        start_s = time.perf_counter() - started
        if exit_code != expect_exit:
            output = container.logs(tail=10).decode(errors="replace").strip()
            return StartSample(ok=False, start_s=None,
                               error=f"exited with {exit_code}, expected {expect_exit}: {output}")
        return StartSample(ok=True, start_s=start_s)
    except docker.errors.APIError as error:
        return StartSample(ok=False, start_s=None, error=str(error.explanation or error))
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        return StartSample(ok=False, start_s=None,
                           error=f"did not exit within {timeout_s:g} s")
    finally:
        if container is not None:
            container.remove(force=True)
