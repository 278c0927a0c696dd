"""What a run's numbers depend on: engine, builders, host and sources, one small collector each.

Nothing from the host environment is recorded beyond these facts (no variables, no paths
outside the scenarios' repository).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import docker

from harness import __version__, buildah, engine


def collect_environment(client: docker.DockerClient, scenario_dirs: list[Path],
                        machine: str | None = None) -> dict[str, Any]:
    """The run's environment; `machine` names the machine instead of its fingerprint."""
    environment: dict[str, Any] = {
        "engine": collect_engine(client),
        "builders": collect_builders(client),
        "host": collect_host(),
        "harness": {"version": __version__},
        "sources": collect_git(scenario_dirs[0]) if scenario_dirs else {},
    }
    environment["fingerprint"] = machine or fingerprint(environment)
    return environment


def collect_engine(client: docker.DockerClient) -> dict[str, Any]:
    version, info = client.version(), client.info()
    return {
        "docker_host": engine.docker_host(),
        "server_version": version.get("Version"),
        "api_version": version.get("ApiVersion"),
        "storage_driver": info.get("Driver"),
        "image_store": engine.image_store(info),
        "cgroup_version": info.get("CgroupVersion"),
        "experimental": bool(info.get("ExperimentalBuild")),
        "kernel": info.get("KernelVersion"),
        "operating_system": info.get("OperatingSystem"),
        "engine_cpus": info.get("NCPU"),
        "engine_memory_bytes": info.get("MemTotal"),
    }


def collect_builders(client: docker.DockerClient) -> dict[str, Any]:
    return {
        "legacy": {"available": True, "version": client.version().get("Version")},
        "buildkit": {"available": engine.buildx_version() is not None,
                     "version": engine.buildx_version()},
        "buildah": buildah_facts(buildah.version()),
    }


def buildah_facts(version: str | None) -> dict[str, Any]:
    """buildah's version and, where it is installed, its storage driver and why that one."""
    if version is None:
        return {"available": False, "version": None}
    chosen = buildah.storage()
    return {"available": True, "version": version, "storage_driver": chosen.driver,
            "storage_reason": chosen.why, "image_format": buildah.IMAGE_FORMAT}


def collect_host() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
    }


def collect_git(directory: Path) -> dict[str, Any]:
    """The commit of the scenarios' repository and whether it has uncommitted changes."""
    def git(*args: str) -> str | None:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                                text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit, "git_dirty": bool(git("status", "--porcelain"))}


def machine_key(environment: dict[str, Any]) -> list[Any]:
    """What makes measurements comparable between runs: the engine and builder versions,
    storage driver and image store, kernel major version and core count. Not the memory
    size or the CPU model string, which differ between otherwise alike hosted runners."""
    engine_facts, host = environment["engine"], environment["host"]
    builders = environment.get("builders", {})
    kernel = str(engine_facts.get("kernel") or "")
    return [engine_facts.get("server_version"), builders.get("buildkit", {}).get("version"),
            engine_facts.get("storage_driver"), engine_facts.get("image_store", "classic"),
            kernel.split(".")[0], host.get("cpu_count")]


def fingerprint(environment: dict[str, Any]) -> str:
    """Which machine this is, for keeping trends of different machines apart."""
    return hashlib.sha256(json.dumps(machine_key(environment)).encode()).hexdigest()[:12]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
