"""Build one image with one builder and report what happened: image id, wall time, cache use.

Steps are the Dockerfile instructions that make a filesystem snapshot (RUN, COPY, ADD,
WORKDIR): every builder reports those, so `steps_cached == steps_total` means "fully cached"
for either. FROM and metadata-only instructions (ENV, LABEL, CMD, ...) are not counted;
BuildKit has no step for the latter at all.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests.exceptions

from harness import buildah, engine
from harness.dockerfile import SNAPSHOT_INSTRUCTIONS
from harness.model import Builder

LOG_TAIL_LINES = 30
_LEGACY_STEP = re.compile(r"^Step \d+/\d+ : (\w+)", re.IGNORECASE)
_LEGACY_CACHED = re.compile(r"^---> Using cache$")
_LEGACY_PRODUCED = re.compile(r"^---> ([0-9a-f]{12,64})$")
_LEGACY_RUNNING = re.compile(r"^---> Running in ([0-9a-f]{12,64})$")
BUILDER_EXIT_TIMEOUT_S = 60
# "[2/3] RUN", "[ 3/11] RUN" (padded from ten steps on), "[build 2/4] COPY"
_BUILDKIT_STEP = re.compile(r"^\[(?:[^\]\s]+ )?\s*\d+/\d+\] (\w+)")
# "STEP 2/4: RUN", "[1/2] STEP 2/2: RUN" (multi-stage); "--> Using cache <id>", "--> <id>"
_BUILDAH_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: (\w+)")
_BUILDAH_CACHED = re.compile(r"^--> Using cache ")
_BUILDAH_PRODUCED = re.compile(r"^--> ([0-9a-f]{11,64})$")


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    context: Path
    tag: str
    labels: Mapping[str, str]
    no_cache: bool
    dockerfile: str = "Dockerfile"
    """Path of the Dockerfile inside the context."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    squash: bool = False
    """The legacy builder's --squash (needs the engine's experimental mode)."""
    buildx_builder: str | None = None
    """BuildKit only: the buildx builder to build on (`--builder`), e.g. a remote one."""
    ledger: Path | None = None
    """Legacy only: where to note the step container and images of a build that ended
    before it could clean up (the engine died under it), for `harness clean`."""
    cache_from: str | None = None
    """BuildKit only: an image in a registry whose inline cache the build may use."""
    inline_cache: bool = False
    """BuildKit only: write cache metadata into the image (`--cache-to type=inline`)."""
    docker_host: str | None = None
    """BuildKit only: the engine to build on, when not DOCKER_HOST's (harness.remote)."""


@dataclass(frozen=True, kw_only=True)
class BuildOutcome:
    ok: bool
    build_s: float
    image_id: str | None
    steps_total: int
    steps_cached: int
    step_durations_s: list[float]
    """Per-step wall time where the builder reports it (BuildKit), else empty."""
    log_tail: str
    error: str | None = None
    tag: str = ""
    """The tag the request gave the image."""
    created_image_ids: list[str] = field(default_factory=list)
    """Step images the legacy builder made (not cache hits, not FROM), which no tag keeps:
    after `--squash` the unsquashed chain is left dangling."""
    buildah_image: str | None = None
    """buildah: its image in buildah's storage; `loaded_into_engine` sets image_id."""
    buildah_size_bytes: int | None = None
    """buildah's own size of its image (layer tars, manifest, config)."""


def build(builder: Builder, request: BuildRequest,
          client: docker.DockerClient | None = None) -> BuildOutcome:
    if builder is Builder.BUILDKIT:
        return dataclasses.replace(build_buildkit(request), tag=request.tag)
    if builder is Builder.BUILDAH:
        return dataclasses.replace(build_buildah(request), tag=request.tag)
    if client is None:
        raise ValueError("the legacy builder needs a docker client")
    return dataclasses.replace(build_legacy(client, request), tag=request.tag)


def build_legacy(client: docker.DockerClient, request: BuildRequest) -> BuildOutcome:
    """The classic builder through docker-py, intermediate containers always removed."""
    log: list[str] = []
    image_id: str | None = None
    error: str | None = None
    started = time.perf_counter()
    try:
        stream = client.api.build(
            path=str(request.context), dockerfile=request.dockerfile, tag=request.tag,
            labels=dict(request.labels), nocache=request.no_cache,
            buildargs=dict(request.build_args), target=request.target, squash=request.squash,
            rm=True, forcerm=True, pull=False, decode=True,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.extend(chunk["stream"].splitlines())
            if "aux" in chunk and "ID" in chunk["aux"]:
                image_id = chunk["aux"]["ID"]
            if "error" in chunk:
                error = str(chunk["error"]).strip()
                log.append(error)
    except docker.errors.APIError as api_error:
        error = str(api_error.explanation or api_error)
        log.append(error)
    except BaseException:
        # Interrupted, or the engine went away: stop the step container that is running (its
        # step then fails, so nothing more is committed) and drop the step images made so
        # far, where the engine still answers; the caller deals with the interruption.
        containers = [m.group(1) for line in log if (m := _LEGACY_RUNNING.match(line.strip()))]
        if request.ledger is not None:
            engine.note_leftovers(request.ledger, created_step_images(legacy_steps(log)),
                                  containers)
        with contextlib.suppress(docker.errors.DockerException,
                                 requests.exceptions.RequestException):
            for container in containers:
                with contextlib.suppress(docker.errors.NotFound):
                    engine.remove_container(client, container)
            _remove_created_images(client, legacy_steps(log))
        raise
    build_s = time.perf_counter() - started
    steps = legacy_steps(log)
    if error is not None:
        _remove_created_images(client, steps)
    total, cached = count_legacy_steps(steps)
    return BuildOutcome(
        created_image_ids=[] if error else created_step_images(steps),
        ok=error is None and image_id is not None, build_s=build_s,
        image_id=None if error else image_id, steps_total=total, steps_cached=cached,
        step_durations_s=[], log_tail="\n".join(log[-LOG_TAIL_LINES:]),
        error=error or (None if image_id else "the build reported no image id"),
    )


@dataclass(frozen=True, kw_only=True)
class LoggedStep:
    """A step as the legacy builder's or buildah's output tells it."""

    instruction: str
    cached: bool
    image_id: str | None
    """The short id the step produced (" ---> abc123", "--> abc123"); None if it did not
    finish."""


def legacy_steps(log_lines: list[str]) -> list[LoggedStep]:
    """Every step of a legacy build's output, FROM and metadata steps included."""
    return logged_steps(log_lines, _LEGACY_STEP, _LEGACY_CACHED, _LEGACY_PRODUCED)


def logged_steps(log_lines: list[str], step_line: re.Pattern[str], cached_line: re.Pattern[str],
                 produced_line: re.Pattern[str]) -> list[LoggedStep]:
    """The steps a builder's output names (a line matching `step_line` starts one), each
    cached when a `cached_line` follows it, with the id a `produced_line` gives."""
    steps: list[LoggedStep] = []
    for line in log_lines:
        step = step_line.match(line)
        if step:
            steps.append(LoggedStep(instruction=step.group(1).upper(), cached=False,
                                    image_id=None))
        elif steps and cached_line.match(line.strip()):
            steps[-1] = dataclasses.replace(steps[-1], cached=True)
        elif steps and (produced := produced_line.match(line.strip())):
            steps[-1] = dataclasses.replace(steps[-1], image_id=produced.group(1))
    return steps


def count_legacy_steps(steps: list[LoggedStep]) -> tuple[int, int]:
    """(snapshot steps, of which cached)."""
    snapshots = [s for s in steps if s.instruction in SNAPSHOT_INSTRUCTIONS]
    return len(snapshots), sum(1 for s in snapshots if s.cached)


def created_step_images(steps: list[LoggedStep]) -> list[str]:
    return [s.image_id for s in steps if s.image_id and not s.cached and s.instruction != "FROM"]


def _remove_created_images(client: docker.DockerClient, steps: list[LoggedStep]) -> None:
    """After a failed legacy build, remove the unlabelled step images it created.

    Cached steps' images and the FROM image existed before this build and are left alone;
    an image something else now uses (the engine answers 409) is left too.
    """
    for image_id in reversed(created_step_images(steps)):
        try:
            client.images.remove(image_id)
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as error:
            if error.status_code != 409:
                raise


def build_buildkit(request: BuildRequest) -> BuildOutcome:
    """BuildKit through `docker buildx build` (docker-py cannot drive it: docker-py #2230)."""
    if request.squash:
        raise ValueError("BuildKit has no --squash")
    with tempfile.TemporaryDirectory(prefix="harness-buildx-") as tmp:
        metadata_file = Path(tmp) / "metadata.json"
        command = [
            engine.docker_cli(), "buildx", "build", "--load", "--progress=rawjson",
            "--metadata-file", str(metadata_file), "--tag", request.tag,
            "--file", str(request.context / request.dockerfile),
        ]
        command += shared_flags(request)
        if request.buildx_builder:
            command += ["--builder", request.buildx_builder]
        if request.cache_from:
            command += ["--cache-from", f"type=registry,ref={request.cache_from}"]
        if request.inline_cache:
            command += ["--cache-to", "type=inline"]
        command.append(str(request.context))
        environment = {**os.environ, "DOCKER_HOST": request.docker_host} \
            if request.docker_host else None
        result, build_s = _run_to_the_end(command, environment)
        metadata = json.loads(metadata_file.read_text()) if metadata_file.exists() else {}
    steps = buildkit_steps(result.stderr)
    log = buildkit_log(result.stderr) or outside_json(result.stderr)
    image_id = metadata.get("containerimage.config.digest") or metadata.get(
        "containerimage.digest")
    failed = result.returncode != 0 or not image_id
    return BuildOutcome(
        ok=not failed, build_s=build_s, image_id=None if failed else image_id,
        steps_total=len(steps), steps_cached=sum(1 for s in steps if s.cached),
        step_durations_s=[s.duration_s for s in steps],
        log_tail="\n".join(log[-LOG_TAIL_LINES:]),
        error=(_buildkit_error(result.stderr) or f"docker buildx build exited with "
               f"{result.returncode}") if failed else None,
    )


def build_buildah(request: BuildRequest) -> BuildOutcome:
    """`buildah build` in harness's storage, always with `--layers` (podman build's default),
    so cold (`--no-cache`) and cached builds make the same image, one layer per RUN/COPY as
    the other builders do; without it buildah commits one layer for the whole Dockerfile.
    Always in Docker's format (buildah.IMAGE_FORMAT), so SHELL and HEALTHCHECK mean what
    they mean to Docker's builders.
    The image stays in buildah's storage until `loaded_into_engine`."""
    if request.squash:
        raise ValueError("buildah's --squash is not the legacy builder's (see harness.runner)")
    store = buildah.storage()
    command = store.command(
        "build", "--layers", "--pull-never", "--force-rm", "--format", buildah.IMAGE_FORMAT,
        "--tag", request.tag, "--file", str(request.context / request.dockerfile))
    command += shared_flags(request)
    command.append(str(request.context))
    result, build_s = _run_to_the_end(
        command, interrupted=lambda output: buildah.remove_step_images(
            created_step_images(buildah_steps(output.splitlines()))))
    # the image's id ends its output (with --iidfile it would print no step ids at all)
    last = (result.stdout.splitlines() or [""])[-1]
    built = last if re.fullmatch(r"[0-9a-f]{64}", last) else None
    log = (result.stdout + result.stderr).splitlines()
    steps = buildah_steps(log)
    total, cached = count_legacy_steps(steps)
    error = None
    if result.returncode != 0 or not built:
        buildah.remove_step_images(created_step_images(steps))
        error = next((line for line in reversed(log) if line.startswith("Error:")),
                     f"buildah build exited with {result.returncode}")
    return BuildOutcome(
        ok=error is None, build_s=build_s, image_id=None, steps_total=total,
        steps_cached=cached, step_durations_s=[], log_tail="\n".join(log[-LOG_TAIL_LINES:]),
        error=error, buildah_image=None if error else built)


def loaded_into_engine(client: docker.DockerClient, built: BuildOutcome) -> BuildOutcome:
    """A buildah build's image loaded into the engine (untimed: after the timed call, as
    the bench times that whole call), with buildah's own size; other builds as they are."""
    if built.buildah_image is None or built.image_id is not None:
        return built
    size = buildah.size_bytes(built.buildah_image)
    try:
        image_id = buildah.copy_into_engine(client, built.buildah_image, built.tag)
    except (buildah.BuildahError, docker.errors.APIError) as failed:
        return dataclasses.replace(built, ok=False, buildah_size_bytes=size,
                                   error=f"moving the image into the engine failed: {failed}")
    return dataclasses.replace(built, image_id=image_id, buildah_size_bytes=size)


def buildah_steps(log_lines: list[str]) -> list[LoggedStep]:
    """Every step of a `buildah build` output, FROM and metadata steps included."""
    return logged_steps(log_lines, _BUILDAH_STEP, _BUILDAH_CACHED, _BUILDAH_PRODUCED)


def shared_flags(request: BuildRequest) -> list[str]:
    """The flags `docker buildx build` and `buildah build` spell alike: labels, build args,
    target, --no-cache."""
    flags = [arg for key, value in request.labels.items() for arg in ("--label", f"{key}={value}")]
    flags += [arg for key, value in request.build_args.items()
              for arg in ("--build-arg", f"{key}={value}")]
    if request.target:
        flags += ["--target", request.target]
    if request.no_cache:
        flags.append("--no-cache")
    return flags


def _run_to_the_end(command: list[str], environment: dict[str, str] | None = None,
                    interrupted: Callable[[str], None] = lambda output: None
                    ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the builder, and the seconds from its start to its exit: the timed window. Its
    output goes to files read after that: while it runs harness only waits (no pipe to drain,
    no decoding in the window). When harness is interrupted, interrupt the builder too and
    wait for it to exit, so nothing it makes appears after harness has cleaned up;
    `interrupted` is then given the builder's whole output, to undo what it made."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=environment)
        try:
            process.wait()
            seconds = time.perf_counter() - started
        except BaseException:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=BUILDER_EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            interrupted(_read(stdout))
            raise
        return subprocess.CompletedProcess(command, process.returncode, _read(stdout),
                                           _read(stderr)), seconds


def _read(file: IO[bytes]) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


@dataclass(frozen=True, kw_only=True)
class BuildkitStep:
    name: str
    cached: bool
    duration_s: float


def buildkit_steps(rawjson: str) -> list[BuildkitStep]:
    """The snapshot steps of a `--progress=rawjson` stream, in order, with their final state."""
    vertices: dict[str, dict[str, Any]] = {}
    for status in _json_objects(rawjson):
        for vertex in status.get("vertexes") or []:
            vertices.setdefault(vertex["digest"], {}).update(
                {k: v for k, v in vertex.items() if v is not None})
    steps = []
    for vertex in vertices.values():
        match = _BUILDKIT_STEP.match(vertex.get("name", ""))
        if not match or match.group(1).upper() not in SNAPSHOT_INSTRUCTIONS:
            continue
        steps.append(BuildkitStep(name=vertex["name"], cached=bool(vertex.get("cached")),
                                  duration_s=_seconds_between(vertex.get("started"),
                                                              vertex.get("completed"))))
    return steps


def buildkit_log(rawjson: str) -> list[str]:
    """The build's own output lines (RUN stdout/stderr) from a rawjson stream."""
    lines: list[str] = []
    for status in _json_objects(rawjson):
        for entry in status.get("logs") or []:
            data = base64.b64decode(entry.get("data", "")).decode(errors="replace")
            lines.extend(data.splitlines())
    return lines


def outside_json(text: str) -> list[str]:
    """The lines of a rawjson stream that are not its progress records: what the CLI said
    itself (`ERROR: failed to solve: ...`), never the records' JSON."""
    kept, position = [], 0
    for start, end, _ in _json_spans(text):
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    return [line for line in "".join(kept).splitlines() if line.strip()]


def _buildkit_error(rawjson: str) -> str | None:
    errors = [v["error"] for status in _json_objects(rawjson)
              for v in status.get("vertexes") or [] if v.get("error")]
    if errors:
        return str(errors[-1])
    lines = [line for line in rawjson.splitlines() if line.startswith("ERROR")]
    return lines[-1] if lines else None


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects in a concatenated (pretty-printed) stream; other lines are skipped."""
    return (value for _, _, value in _json_spans(text) if isinstance(value, dict))


def _json_spans(text: str) -> Iterator[tuple[int, int, Any]]:
    """Each JSON value that starts with `{` in the stream: where it starts and ends, and it."""
    decoder = json.JSONDecoder()
    position = 0
    while (start := text.find("{", position)) != -1:
        try:
            value, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        yield start, position, value


def _seconds_between(started: str | None, completed: str | None) -> float:
    if not started or not completed:
        return 0.0
    return _parse_time(completed) - _parse_time(started)


def _parse_time(stamp: str) -> float:
    """RFC 3339 with nanoseconds (Go's format) to epoch seconds; Python parses only microseconds."""
    head, _, rest = stamp.rstrip("Z").partition(".")
    fraction = rest.split("+")[0].split("-")[0]
    seconds = datetime.fromisoformat(head + "+00:00").timestamp()
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)
