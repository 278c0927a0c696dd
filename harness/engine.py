"""Talking to a Docker engine: reach it, label what harness makes, and remove only that.

Installing and starting an engine is `harness.provision`'s work.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import docker
import docker.constants
import docker.errors
import requests.exceptions

from harness import cache_home
from harness.errors import HarnessError
from harness.model import Sample

MANAGED_LABEL = "harness.managed"
"""Every image and container harness creates carries this label (value "true"). It is
never used to select what to delete: images built FROM a harness base inherit it."""
RUN_LABEL = "harness.run"
"""The run (or doctor probe, or test) that created a container or an untimed image: what
cleanup selects by. Bases are not part of any run (see bases.BASE_LABEL)."""
RUN_REPOSITORY = "harness-run"
"""A run's timed builds carry no label (the legacy builder would make it an extra build
step, inside the timed window); they are tagged `harness-run/RUN-ID:...` instead."""

CONTAINERD_SNAPSHOTTER = "io.containerd.snapshotter.v1"
"""`docker info`'s driver-type on the containerd image store."""

HOW_TO_GET_AN_ENGINE = (
    "Start a Docker engine and try again: Docker Desktop on macOS/Windows, "
    "`sudo apt-get install docker.io && sudo dockerd &` on Debian/Ubuntu, "
    "or point DOCKER_HOST at a reachable engine. "
    "`harness engine up` can do this by itself when run as root on Debian/Ubuntu."
)


class EngineUnavailable(HarnessError):
    """No Docker engine answers at DOCKER_HOST (or the default socket)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def docker_host() -> str:
    """The engine address docker-py and the docker CLI will use."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


OPERATION_TIMEOUT_S = 600
"""Read timeout of the working client: `docker save` of a large image, a squash or an import
can be silent for longer than a probe should wait (5 s timed out saving a 194 MB image)."""


def connect(timeout_s: float = 5.0, host: str | None = None) -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST, with the API version negotiated down to it.

    `timeout_s` bounds the probe; the client returned waits OPERATION_TIMEOUT_S per read.
    Negotiated by hand (not docker-py's version="auto") so a failed attempt closes its socket.
    """
    timeout = int(max(timeout_s, 1))
    address = host or docker_host()

    def client(version: str, timeout: int) -> docker.DockerClient:
        if host is None:  # DOCKER_HOST and its TLS settings, as the docker CLI reads them
            return docker.from_env(version=version, timeout=timeout)
        return docker.DockerClient(base_url=host, version=version, timeout=timeout)

    unix_problem = _unix_socket_problem(address, timeout_s)
    if unix_problem:
        raise EngineUnavailable(
            f"No Docker engine answers at {address} ({unix_problem}). " + HOW_TO_GET_AN_ENGINE,
            reason=unix_problem,
        )
    probe = client(docker.constants.MINIMUM_DOCKER_API_VERSION, timeout)
    try:
        api_version = probe.api.version(api_version=False)["ApiVersion"]
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        reason = _first_line(error)
        raise EngineUnavailable(
            f"No Docker engine answers at {address} ({reason}). " + HOW_TO_GET_AN_ENGINE,
            reason=reason,
        ) from None
    finally:
        probe.close()
    return client(api_version, max(timeout, OPERATION_TIMEOUT_S))


def _unix_socket_problem(host: str, timeout_s: float) -> str | None:
    """Why a unix:// engine socket cannot be connected to, found without docker-py.

    docker-py leaks its socket when the connect fails; this check closes its own.
    """
    if not host.startswith("unix://"):
        return None
    path = host.removeprefix("unix://")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout_s)
        try:
            probe.connect(path)
        except OSError as error:
            return f"{path}: {error.strerror or error}"
    return None


def engine_answers(timeout_s: float = 3.0, host: str | None = None) -> bool:
    try:
        connect(timeout_s, host).close()
    except EngineUnavailable:
        return False
    return True


def image_store(info: dict[str, Any]) -> str:
    """`containerd` where the engine keeps images in containerd's store (the snapshotter
    feature, default on new Docker installs), else `classic` (graph drivers like overlay2)."""
    driver_status = dict(tuple(pair) for pair in info.get("DriverStatus") or [])
    return "containerd" if driver_status.get("driver-type") == CONTAINERD_SNAPSHOTTER \
        else "classic"


def run_labels(run_id: str) -> dict[str, str]:
    """The labels of everything one run (or probe, or test) creates."""
    return {MANAGED_LABEL: "true", RUN_LABEL: run_id}


LOCK_DIR = Path(tempfile.gettempdir()) / "harness-locks"


@contextlib.contextmanager
def engine_lock(holder: str, host: str | None = None) -> Iterator[None]:
    """Hold this machine's lock on the engine for a run, or refuse at once naming the run that
    holds it: two runs at once spoil each other's warm samples (measured: 0 of 3 steps
    cached). The lock is a flock on a file per engine address; it goes with the process."""
    address = host or docker_host()
    LOCK_DIR.mkdir(exist_ok=True)
    if LOCK_DIR.stat().st_uid == os.geteuid():
        LOCK_DIR.chmod(0o1777)  # every user's runs share the locks (mkdir's mode is umasked)
    path = LOCK_DIR / f"{hashlib.sha256(address.encode()).hexdigest()[:16]}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    if os.fstat(descriptor).st_uid == os.geteuid():
        os.fchmod(descriptor, 0o666)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(descriptor, 200, 0).decode(errors="replace").strip()
            raise EngineBusy(f"another harness run ({other or 'unknown'}) is using the engine "
                             f"at {address}; concurrent runs spoil each other's warm samples. "
                             "Wait for it to finish, or pass --allow-concurrent") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{holder}, pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)


class EngineBusy(HarnessError):
    pass


def run_repository(run_id: str) -> str:
    """The repository a run's images are tagged in: unique per run, so concurrent runs never
    share a tag."""
    return f"{RUN_REPOSITORY}/{run_id.lower()}"


def ledger_dir() -> Path:
    return cache_home() / "runs"


def ledger_path(run_id: str) -> Path:
    return ledger_dir() / f"{run_id}.ids"


def note_leftovers(ledger: Path, images: Sequence[str], containers: Sequence[str] = (),
                   tags: Sequence[str] = ()) -> None:
    """Add what a run made that no tag or label finds to its ledger, so cleanup finds it
    whatever stops the run: the legacy builder's step images (with --squash nothing tagged
    keeps them), the step container and images of a build the engine died under, and the
    tags of pushed and pulled images (in a registry's name, not the run's repository)."""
    lines = ([f"container {c}\n" for c in containers] + [f"tag {t}\n" for t in tags]
             + [f"image {i}\n" for i in images])
    if lines:
        ledger.parent.mkdir(parents=True, exist_ok=True)
        with ledger.open("a") as file:
            file.write("".join(lines))


def remove_run(client: docker.DockerClient, run_id: str | None = None) -> int:
    """Everything one run (or, with None, every run) made: containers and images with its
    label, its tags in its repository, and the images in its ledger. Removing the last tag
    removes the image and its untagged parents; an image someone else also tagged keeps
    that tag. Returns how many containers, images and tags were removed."""
    removed = remove_labelled(client, RUN_LABEL if run_id is None else f"{RUN_LABEL}={run_id}")
    repository = f"{RUN_REPOSITORY}/*" if run_id is None else run_repository(run_id)
    for image in client.images.list(filters={"reference": repository}):
        for tag in image.tags:
            if tag.startswith(f"{RUN_REPOSITORY}/"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.images.remove(tag, force=True)
                    removed += 1
    ledgers = [ledger_path(run_id)] if run_id else sorted(ledger_dir().glob("*.ids"))
    for ledger in ledgers:
        if ledger.exists():
            entries = [line.split() for line in ledger.read_text().splitlines() if line]
            for kind, object_id in entries:
                if kind == "container":
                    with contextlib.suppress(docker.errors.NotFound):
                        _remove_container(client, object_id)
                        removed += 1
                elif kind == "tag":
                    with contextlib.suppress(docker.errors.NotFound):
                        client.images.remove(object_id)
                        removed += 1
            for kind, object_id in reversed(entries):  # children first
                if kind == "image":
                    removed += _remove_untagged(client, object_id)
            ledger.unlink()
    return removed


def _remove_untagged(client: docker.DockerClient, image_id: str) -> int:
    """Remove an image harness made unless it is gone, tagged by someone, or in use."""
    try:
        if client.images.get(image_id).tags:
            return 0
        client.images.remove(image_id)
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as error:
        if error.status_code != 409:
            raise
        return 0
    return 1


def remove_container(client: docker.DockerClient, container_id: str) -> None:
    """Force-remove a container harness made, with the anonymous volumes an image's VOLUME
    gave it, as `docker run --rm` does (`docker rm` without -v keeps them); the engine never
    removes a named volume this way."""
    client.api.remove_container(container_id, force=True, v=True)


def _remove_container(client: docker.DockerClient, container_id: str) -> None:
    """`remove_container`, unless the engine is removing it already (an interrupted legacy
    build's step container, which the builder removes itself: 409 Conflict)."""
    try:
        remove_container(client, container_id)
    except docker.errors.APIError as error:
        if "already in progress" not in str(error.explanation or ""):
            raise


def remove_labelled(client: docker.DockerClient, label: str) -> int:
    """Remove every container, then every image, carrying `label` (KEY or KEY=VALUE).

    With `bases.remove_bases`, the only ways harness deletes anything, so it never touches
    what it did not label. Images go children first (the legacy builder makes one labelled
    intermediate image per label); one still used by an unlabelled image is left.
    Returns how many containers and images were removed.
    """
    removed = 0
    for container in client.containers.list(all=True, filters={"label": label}):
        remove_container(client, str(container.id))
        removed += 1
    remaining = client.images.list(all=True, filters={"label": label})
    while remaining:
        in_use = []
        for image in remaining:
            try:
                client.images.remove(str(image.id), force=True)
                removed += 1
            except docker.errors.NotFound:
                continue  # pruned with its removed child
            except docker.errors.APIError as error:
                if error.status_code != 409:
                    raise
                in_use.append(image)
        if len(in_use) == len(remaining):
            break  # what is left has children harness did not label
        remaining = in_use
    return removed


def docker_cli() -> str:
    cli = shutil.which("docker")
    if not cli:
        raise EngineUnavailable("the docker CLI is not on PATH. " + HOW_TO_GET_AN_ENGINE)
    return cli


def buildx_version() -> str | None:
    """The version `docker buildx version` reports, or None where the plugin is missing."""
    cli = shutil.which("docker")
    if not cli:
        return None
    result = subprocess.run([cli, "buildx", "version"], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        return None
    match = re.search(r"\bv?(\d+\.\d+\.\d+\S*)", result.stdout)
    return match.group(1) if match else result.stdout.strip()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


ENGINE_FAILURES = {
    "no space left on device": "build or run anything: its disk is full (free space: "
                               "`harness clean`, `docker system prune`)",
    "could not find bridge": "run containers: its network bridge is gone (restart dockerd)",
    "network bridge not found": "run containers: its network bridge is gone (restart dockerd)",
    "failed to create endpoint": "run containers: it cannot attach them to a network "
                                 "(restart dockerd)",
}
"""Errors of the engine itself, as the engine words them: they fail every build alike."""


def engine_failure(sample: Sample) -> str | None:
    """What is wrong with the engine, when the sample failed for an engine-level reason.
    Only the engine's error line is read, not the build log (a RUN may print anything)."""
    for error in (sample.error, sample.start_error):
        first = error.splitlines()[0] if error else ""
        for words, meaning in ENGINE_FAILURES.items():
            if words in first.lower():
                return meaning
    return None
