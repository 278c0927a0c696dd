"""Measure a built image: what the engine says about it, and how long a container takes."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from harness import engine
from harness.model import HistoryEntry


@dataclass(frozen=True, kw_only=True)
class StartSample:
    ok: bool
    start_s: float | None
    """From container create to process exit (or the ready line); None when it failed."""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class StartTiming:
    """Several starts of one image: the median and the raw samples."""

    ok: bool
    start_s: float | None
    samples_s: list[float] = field(default_factory=list)
    error: str | None = None


def image_history(client: docker.DockerClient, image_ref: str) -> list[HistoryEntry]:
    """`docker history`, oldest step first."""
    return [HistoryEntry(created_by=entry.get("CreatedBy", ""), size_bytes=int(entry["Size"]))
            for entry in reversed(client.api.history(image_ref))]


def layer_sizes(client: docker.DockerClient, image_ref: str) -> list[int]:
    """Each history step's size, oldest first, and the layer count: what the engine keeps of
    an image's layers without a `docker save` (a later build of the same Dockerfile that
    wrote other files differs here, unless every file kept its size)."""
    layers = len((client.api.inspect_image(image_ref).get("RootFS") or {}).get("Layers") or [])
    return [layers] + [entry.size_bytes for entry in image_history(client, image_ref)]


def time_starts(client: docker.DockerClient, image_ref: str, *, repeat: int,
                labels: Mapping[str, str], command: Sequence[str] | None = None,
                ready_log: str | None = None, expect_exit: int = 0,
                timeout_s: float = 30.0) -> StartTiming:
    """`repeat` timed starts; the first failure ends the series (it would fail again)."""
    samples: list[float] = []
    for _ in range(repeat):
        sample = time_start(client, image_ref, labels=labels, command=command,
                            ready_log=ready_log, expect_exit=expect_exit, timeout_s=timeout_s)
        if not sample.ok or sample.start_s is None:
            return StartTiming(ok=False, start_s=None, samples_s=samples, error=sample.error)
        samples.append(sample.start_s)
    return StartTiming(ok=True, start_s=statistics.median(samples), samples_s=samples)


def time_start(client: docker.DockerClient, image_ref: str, *, labels: Mapping[str, str],
               command: Sequence[str] | None = None, ready_log: str | None = None,
               expect_exit: int = 0, timeout_s: float = 30.0) -> StartSample:
    """Create and start one container; time it to exit, or to the ready line.

    The container is removed whatever happens, timeouts included.
    """
    container = None
    started = time.perf_counter()
    try:
        container = client.containers.create(image_ref, command=list(command) if command else None,
                                             labels=dict(labels), detach=True)
        container.start()
        if ready_log is not None:
            return _wait_for_ready_line(container, re.compile(ready_log), started, timeout_s)
        exit_code = container.wait(timeout=timeout_s)["StatusCode"]
        start_s = time.perf_counter() - started
        if exit_code != expect_exit:
            return StartSample(ok=False, start_s=None,
                               error=f"exited with {exit_code}, expected {expect_exit}: "
                                     f"{_log_tail(container)}")
        return StartSample(ok=True, start_s=start_s)
    except docker.errors.APIError as error:
        return StartSample(ok=False, start_s=None, error=str(error.explanation or error))
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        return StartSample(ok=False, start_s=None, error=f"did not exit within {timeout_s:g} s")
    finally:
        if container is not None:
            engine.remove_container(client, str(container.id))


def _wait_for_ready_line(container: Container, pattern: re.Pattern[str], started: float,
                         timeout_s: float) -> StartSample:
    """Follow the log in a thread so the wait is bounded; the caller removes the container."""
    ready_at: list[float] = []
    done = threading.Event()

    def follow() -> None:
        buffer = ""
        stream = container.logs(stream=True, follow=True)
        try:
            for chunk in stream:
                buffer += chunk.decode(errors="replace")
                lines = buffer.split("\n")
                buffer = lines.pop()
                if any(pattern.search(line) for line in lines):
                    ready_at.append(time.perf_counter())
                    return
            if pattern.search(buffer):
                ready_at.append(time.perf_counter())
        except (docker.errors.APIError, requests.exceptions.RequestException):
            pass  # the container was removed under the stream: the timeout path reports it
        finally:
            stream.close()
            # docker-py leaves the socket to the garbage collector otherwise
            stream._response.close()  # type: ignore[attr-defined]
            done.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    done.wait(timeout_s)
    if ready_at:
        return StartSample(ok=True, start_s=ready_at[0] - started)
    container.reload()
    if container.status == "exited":
        code = container.attrs["State"]["ExitCode"]
        return StartSample(ok=False, start_s=None,
                           error=f"exited with {code} before printing a line matching "
                                 f"/{pattern.pattern}/: {_log_tail(container)}")
    return StartSample(ok=False, start_s=None,
                       error=f"no log line matched /{pattern.pattern}/ within {timeout_s:g} s")


def _log_tail(container: Container) -> str:
    return container.logs(tail=10).decode(errors="replace").strip()
