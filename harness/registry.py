"""A local registry for measuring distribution (`harness registry up|down`): Debian's
docker-registry (CNCF distribution 2.8) on 127.0.0.1.

It runs as the calling user, with its own config, storage, pidfile and log under
state_home()/registry: no root and no system service. Where `docker-registry` is not on
PATH, bookworm's package is fetched with private apt state and unpacked there: installing
the package system-wide would also enable and start Debian's own registry service on port
5000. Deletes are enabled, so a run's repositories can be deleted through the API and their
blobs garbage-collected afterwards. The engine talks plain HTTP to a registry on 127.0.0.1
without any configuration (it is an insecure registry by default).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from harness import state_home
from harness.errors import HarnessError
from harness.model import RunOptions, Scenario
from harness.provision import Log, debian_mirror, read_apt_sources, tail, unpack_from_suite

DEFAULT_PORT = 5055
"""Not 5000, where Debian's own docker-registry service listens once installed."""
START_TIMEOUT_S = 15.0
SUITE = "bookworm"
_children: dict[int, subprocess.Popen[bytes]] = {}
"""Registries this process started, reaped when it stops them."""


def registry_home() -> Path:
    return state_home() / "registry"


@dataclass(frozen=True)
class LocalRegistry:
    """The registry `harness registry up` started: where it listens and keeps its blobs."""

    address: str
    home: Path

    @property
    def storage(self) -> Path:
        return self.home / "storage"

    @property
    def config(self) -> Path:
        return self.home / "config.yml"


def registry_up(port: int, log: Log) -> LocalRegistry:
    """Start the registry unless it runs already; returns it once /v2/ answers."""
    home = registry_home()
    running = local_registry()
    if running is not None:
        if running.address != f"127.0.0.1:{port}":
            log(f"the registry already runs at {running.address}")
        else:
            log(f"registry answers at {running.address}")
        return running
    binary = shutil.which("docker-registry") or _unpacked_binary(home, log)
    home.mkdir(parents=True, exist_ok=True)
    registry = LocalRegistry(address=f"127.0.0.1:{port}", home=home)
    registry.storage.mkdir(exist_ok=True)
    registry.config.write_text(
        "version: 0.1\n"
        "log: {level: info, formatter: text}\n"
        f"storage:\n  filesystem: {{rootdirectory: {registry.storage}}}\n"
        "  delete: {enabled: true}\n"
        f"http: {{addr: '127.0.0.1:{port}'}}\n")
    log_path = home / "registry.log"
    log(f"starting {binary} on 127.0.0.1:{port} (storage {registry.storage}, log {log_path})")
    with log_path.open("ab") as log_file:
        process = subprocess.Popen([binary, "serve", str(registry.config)],
                                   stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True, cwd="/")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if answers(registry.address):
            _children[process.pid] = process
            (home / "registry.pid").write_text(f"{process.pid}\n")
            (home / "address").write_text(registry.address + "\n")
            log(f"registry answers at {registry.address} (pid {process.pid})")
            return registry
        if process.poll() is not None:
            raise HarnessError(f"docker-registry exited with code {process.returncode}. "
                               f"Last lines of {log_path}:\n{tail(log_path)}")
        time.sleep(0.2)
    process.terminate()
    raise HarnessError(f"docker-registry did not answer on {registry.address} within "
                       f"{START_TIMEOUT_S:.0f} s. Last lines of {log_path}:\n{tail(log_path)}")


def registry_down(log: Log) -> None:
    """Stop the registry harness started and delete its storage (nothing else)."""
    home = registry_home()
    pid = _pid(home)
    if pid is not None:
        log(f"stopping docker-registry (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid(home) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid(home) is not None:
            os.kill(pid, signal.SIGKILL)
        if pid in _children:
            _children.pop(pid).wait()
    else:
        log("no registry of harness's runs")
    for name in ("registry.pid", "address"):
        (home / name).unlink(missing_ok=True)
    if (home / "storage").exists():
        shutil.rmtree(home / "storage")
        log(f"removed {home / 'storage'}")


def local_registry() -> LocalRegistry | None:
    """The registry `harness registry up` started, if it runs and answers."""
    home = registry_home()
    if _pid(home) is None:
        return None
    address = (home / "address").read_text().strip()
    return LocalRegistry(address=address, home=home) if answers(address) else None


def answers(address: str, timeout_s: float = 2.0) -> bool:
    import requests  # not for every `harness` command that imports this module

    try:
        return requests.get(f"http://{address}/v2/", timeout=timeout_s).status_code == 200
    except requests.RequestException:
        return False


def _pid(home: Path) -> int | None:
    """The pid of the registry harness started, if that process still runs it (a pid the
    system gave to another program since is not ours)."""
    try:
        pid = int((home / "registry.pid").read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(home / "config.yml").encode() in command else None


def _unpacked_binary(home: Path, log: Log) -> str:
    binary = home / "root" / "usr" / "bin" / "docker-registry"
    if not binary.exists():
        unpack_from_suite(SUITE, debian_mirror(read_apt_sources()), ["docker-registry"],
                          home / "root", log)
    return str(binary)


@contextmanager
def for_run(options: RunOptions, scenarios: list[Scenario]
            ) -> Iterator[tuple[RunOptions, str | None]]:
    """The registry push and pull are measured on: --registry, else HARNESS_REGISTRY (for
    every scenario), else, when a selected scenario says `registry: true`, the local one
    (`harness registry up`; for those scenarios), stopped after the run if the run started
    it. Also why there is none, when one was wanted and could not be started."""
    given = options.registry or os.environ.get("HARNESS_REGISTRY") or None
    if given or not any(s.registry for s in scenarios):
        yield replace(options, registry=given, registry_all=bool(given)), None
        return
    running = local_registry()
    try:
        address = (running or registry_up(DEFAULT_PORT, log=lambda message: None)).address
    except HarnessError as error:
        yield options, f"it needs a registry and none could be started: {error}"
        return
    try:
        yield replace(options, registry=address), None
    finally:
        if running is None:
            registry_down(log=lambda message: None)
