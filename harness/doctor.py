"""`harness doctor`: what this engine can do for harness, found by asking it and by trying.

Builder support is probed with real (tiny, labelled, removed) builds rather than guessed
from version numbers: a builder counts as available only if a build with it succeeded.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from harness import buildah, engine
from harness.build import BuildRequest, build, loaded_into_engine
from harness.model import Builder

REGISTRY_URL = "https://registry-1.docker.io/v2/"
REGISTRY_TIMEOUT_S = 3.0
LOW_DISK_BYTES = 5 * 1024**3
PROBE_DOCKERFILE = "FROM scratch\nCOPY probe /probe\n"


@dataclass(frozen=True, kw_only=True)
class Check:
    """One yes/no capability with the reason when it is no."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True, kw_only=True)
class Facts:
    docker_host: str
    reachable: Check
    server_version: str | None = None
    api_version: str | None = None
    os_arch: str | None = None
    storage_driver: str | None = None
    image_store: str | None = None
    """classic (graph driver) or containerd (the containerd image store)."""
    cgroup_version: str | None = None
    experimental: bool | None = None
    legacy_builder: Check | None = None
    buildkit: Check | None = None
    buildx_version: str | None = None
    squash: Check | None = None
    registry: Check | None = None
    """A public registry (bases with `pull: true`)."""
    push_registry: Check | None = None
    """Where push and pull are measured: $HARNESS_REGISTRY, else `harness registry up`'s."""
    data_root: str | None = None
    free_disk_bytes: int | None = None
    buildah: Check | None = None
    """A real tiny `buildah build`, loaded into the engine."""
    buildah_version: str | None = None
    buildah_storage: str | None = None
    """The storage driver of harness's buildah storage, and why that one."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, kw_only=True)
class Problem:
    blocking: bool
    what: str
    fix: str

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def collect_facts() -> Facts:
    host = engine.docker_host()
    try:
        client = engine.connect()
    except engine.EngineUnavailable as error:
        return Facts(docker_host=host, reachable=Check(ok=False, detail=error.reason),
                     buildx_version=engine.buildx_version(), registry=probe_registry(),
                     push_registry=push_registry())
    try:
        version = client.version()
        info = client.info()
        buildx_version = engine.buildx_version()
        with tempfile.TemporaryDirectory(prefix="harness-doctor-") as tmp:
            context = Path(tmp)
            (context / "Dockerfile").write_text(PROBE_DOCKERFILE)
            (context / "probe").write_text("probe\n")
            legacy = probe_build(client, context, Builder.LEGACY)
            squash = probe_build(client, context, Builder.LEGACY, squash=True)
            buildkit = (probe_build(client, context, Builder.BUILDKIT) if buildx_version
                        else Check(ok=False, detail="docker buildx plugin not installed"))
            buildah_version = buildah.version()
            buildah_check = (probe_build(client, context, Builder.BUILDAH) if buildah_version
                             else Check(ok=False, detail=buildah.MISSING))
    finally:
        client.close()
    data_root = info.get("DockerRootDir")
    return Facts(
        docker_host=host,
        reachable=Check(ok=True),
        server_version=version.get("Version"),
        api_version=version.get("ApiVersion"),
        os_arch=f"{version.get('Os')}/{version.get('Arch')}",
        storage_driver=info.get("Driver"),
        image_store=engine.image_store(info),
        cgroup_version=info.get("CgroupVersion"),
        experimental=bool(info.get("ExperimentalBuild")),
        legacy_builder=legacy,
        buildkit=buildkit,
        buildx_version=buildx_version,
        squash=squash,
        registry=probe_registry(),
        push_registry=push_registry(),
        data_root=data_root,
        free_disk_bytes=local_free_bytes(host, data_root),
        buildah=buildah_check,
        buildah_version=buildah_version,
        buildah_storage=buildah.storage().why if buildah_version else None,
    )


def probe_build(client: docker.DockerClient, context: Path, builder: Builder, *,
                squash: bool = False) -> Check:
    """A real tiny build with this builder; its images are removed by their run label (and
    buildah's copy by its tag)."""
    run_id = f"doctor-{uuid.uuid4().hex[:12]}"
    tag = f"harness-probe:{run_id}"
    try:
        outcome = loaded_into_engine(client, build(builder, BuildRequest(
            context=context, tag=tag, labels=engine.run_labels(run_id), no_cache=True,
            squash=squash), client))
    finally:
        engine.remove_labelled(client, f"{engine.RUN_LABEL}={run_id}")
        if builder is Builder.BUILDAH:
            buildah.remove_images(f"localhost/{tag}")
    return Check(ok=True) if outcome.ok else Check(ok=False, detail=str(outcome.error))


def probe_registry(url: str = REGISTRY_URL, timeout_s: float = REGISTRY_TIMEOUT_S) -> Check:
    """Any HTTP answer (even 401) means a registry is reachable; bounded by timeout_s."""
    try:
        urllib.request.urlopen(url, timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return Check(ok=True, detail=url)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Check(ok=False, detail=f"{url}: {reason}")
    return Check(ok=True, detail=url)


def push_registry() -> Check:
    from harness.registry import answers, local_registry

    address = os.environ.get("HARNESS_REGISTRY")
    if address:
        ok = answers(address)
        return Check(ok=ok, detail=f"{address} ($HARNESS_REGISTRY)"
                     + ("" if ok else ": /v2/ does not answer"))
    local = local_registry()
    return Check(ok=True, detail=f"{local.address} (harness registry up)") if local else \
        Check(ok=False, detail="none: `harness registry up` starts one")


def local_free_bytes(host: str, data_root: str | None) -> int | None:
    """Free bytes under the engine's data root, when the engine runs on this machine."""
    if not data_root or not host.startswith("unix://") or not Path(data_root).exists():
        return None
    return shutil.disk_usage(data_root).free


def problems(facts: Facts) -> list[Problem]:
    """What stops or limits harness on this engine, each with what to do about it."""
    if not facts.reachable.ok:
        return [Problem(blocking=True, what="no Docker engine answers",
                        fix="run `harness engine up` (root on Debian/Ubuntu) or start an engine "
                            "and set DOCKER_HOST")]
    found: list[Problem] = []
    legacy_ok = bool(facts.legacy_builder and facts.legacy_builder.ok)
    buildkit_ok = bool(facts.buildkit and facts.buildkit.ok)
    if not legacy_ok and not buildkit_ok:
        found.append(Problem(blocking=True, what="no builder can build an image",
                             fix="read the probe errors above and the engine's log"))
    if not buildkit_ok:
        found.append(Problem(blocking=False, what="BuildKit (docker buildx) unavailable: "
                             "its samples will be skipped",
                             fix="run `harness engine up` or install the docker-buildx plugin"))
    if not (facts.buildah and facts.buildah.ok):
        found.append(Problem(blocking=False, what="buildah unavailable: its samples will be "
                             "skipped", fix="run `harness engine up --buildah`, or read the "
                             "probe's error above"))
    if facts.image_store == "containerd":
        found.append(Problem(blocking=False, what="the containerd image store: squash: legacy "
                             "and squash: docker-squash variants will be skipped",
                             fix="measure them on an engine with the classic store "
                                 "(`harness engine up --flavor trixie`)"))
    elif not (facts.squash and facts.squash.ok):
        found.append(Problem(blocking=False, what="`docker build --squash` unusable: "
                             "legacy squash variants will be skipped",
                             fix='set "experimental": true in /etc/docker/daemon.json and '
                                 "restart dockerd"))
    if facts.free_disk_bytes is not None and facts.free_disk_bytes < LOW_DISK_BYTES:
        found.append(Problem(blocking=False, what=f"only {_gib(facts.free_disk_bytes)} free "
                             f"under {facts.data_root}",
                             fix="free disk space (`harness clean`, `docker system prune`)"))
    return found


def render(facts: Facts, found: list[Problem]) -> str:
    def mark(check: Check | None) -> str:
        if check is None:
            return "?"
        return "✓" if check.ok else f"✗ {check.detail}".rstrip()

    lines = [f"engine          {facts.docker_host} {mark(facts.reachable)}".rstrip()]
    if facts.reachable.ok:
        disk = (f"{_gib(facts.free_disk_bytes)} free under {facts.data_root}"
                if facts.free_disk_bytes is not None else f"not local ({facts.data_root})")
        lines += [
            f"server          Docker {facts.server_version} (API {facts.api_version}), "
            f"{facts.os_arch}",
            f"storage         {facts.storage_driver}, {facts.image_store} image store, "
            f"cgroup v{facts.cgroup_version}",
            f"experimental    {'✓' if facts.experimental else '✗'}",
            f"legacy builder  {mark(facts.legacy_builder)}",
            f"BuildKit        {mark(facts.buildkit)}"
            + (f" (buildx {facts.buildx_version})" if facts.buildx_version else ""),
            f"buildah         {mark(facts.buildah)}"
            + (f" (buildah {facts.buildah_version}; storage {facts.buildah_storage})"
               if facts.buildah_version else ""),
            f"squash          {mark(facts.squash)}",
            f"registry        {mark(facts.registry)}"
            + ("" if facts.registry and facts.registry.ok else " — bases are built locally"),
            f"push and pull   {_detail(facts.push_registry)}",
            f"disk            {disk}",
        ]
    for problem in found:
        kind = "error" if problem.blocking else "warning"
        lines.append(f"{kind}: {problem.what}\n  what to do: {problem.fix}")
    lines.append("builds can run" if not any(p.blocking for p in found) else "builds cannot run")
    return "\n".join(lines)


def _detail(check: Check | None) -> str:
    if check is None:
        return "?"
    return ("✓ " if check.ok else "✗ ") + check.detail


def _gib(size_bytes: int) -> str:
    return f"{size_bytes / 1024**3:.1f} GiB"
