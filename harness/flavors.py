"""Engine flavours: other Docker engines started beside the default one, to measure on the
engines people run (`harness engine up --flavor NAME`).

A flavour is Debian's docker.io and containerd of another suite, fetched with private apt
state and unpacked under /var/lib/harness/engines/NAME (never installed over the host's),
run with bookworm's runc (trixie's needs glibc 2.38). Its dockerd has its own socket, data
root, exec root, pidfile and bridge; it makes no iptables rules of its own
(`--iptables=false`: its rules would share chains with the default engine's); harness adds
the three it needs for the bridge's outbound traffic, each tagged with a comment naming
the flavour, and `down` removes exactly those, the bridge, and the dockerd it started.
The default engine's `docker0` and rules are never touched: a dockerd without a bridge
(`--bridge none`) deletes `docker0` (moby's removeDefaultBridgeInterface).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.engine import EngineUnavailable, engine_answers
from harness.errors import HarnessError
from harness.provision import (
    START_TIMEOUT_S,
    Log,
    apt_install,
    debian_mirror,
    dpkg_installed,
    install_buildx,
    read_apt_sources,
    tail,
    unpack_from_suite,
    why_cannot_provision,
)
from harness.provision import buildx_version as buildx_present

STATE_ROOT = Path("/var/lib/harness/engines")
RUN_ROOT = Path("/run/harness")
HOST_PACKAGES = ("runc", "iptables", "iproute2", "busybox-static", "debootstrap")
"""From the host's own suite: the runtime, the tools for the bridge and rules, and what makes
bases."""
SUITE_PACKAGES = ["docker.io", "containerd"]
STOP_TIMEOUT_S = 30.0
_children: dict[int, subprocess.Popen[bytes]] = {}
"""dockerds this process started, reaped when it stops them."""


@dataclass(frozen=True, kw_only=True)
class Flavor:
    name: str
    suite: str
    containerd_store: bool
    """The containerd image store ("features": {"containerd-snapshotter": true})."""
    bridge: str
    bridge_address: str
    """The bridge's own address with the prefix of its subnet."""
    binaries_of: str = ""
    """Another flavour whose unpacked engine this one runs (the same packages once)."""

    @property
    def state(self) -> Path:
        return STATE_ROOT / self.name

    @property
    def root(self) -> Path:
        """Where the suite's docker.io and containerd are unpacked."""
        return STATE_ROOT / (self.binaries_of or self.name) / "root"

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.name

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.state / "dockerd.log"

    @property
    def subnet(self) -> str:
        address, prefix = self.bridge_address.split("/")
        return ".".join(address.split(".")[:3]) + f".0/{prefix}"


FLAVORS = {flavor.name: flavor for flavor in (
    Flavor(name="trixie", suite="trixie", containerd_store=False, bridge="harness-tx0",
           bridge_address="10.221.1.1/24"),
    Flavor(name="trixie-containerd", suite="trixie", containerd_store=True,
           bridge="harness-tc0", bridge_address="10.221.2.1/24"),
    # a throwaway CI runner for `cache: remote` (harness.remote): everything in it is harness's
    Flavor(name="ci-runner", suite="trixie", containerd_store=False, bridge="harness-cr0",
           bridge_address="10.221.3.1/24", binaries_of="trixie"),
)}
"""Besides `default`, the host's own engine (`harness.provision`)."""


def flavor_up(flavor: Flavor, log: Log) -> str:
    """Start the flavour's engine unless it answers already; returns its DOCKER_HOST."""
    if engine_answers(host=flavor.host):
        log(f"{flavor.name} engine answers at {flavor.host}")
        return flavor.host
    why_not = why_cannot_provision() or (None if os.geteuid() == 0 else (
        "flavours need root (ip, iptables and a second dockerd): run "
        f"`sudo harness engine up --flavor {flavor.name}`"))
    if why_not:
        raise EngineUnavailable(f"cannot start the {flavor.name} engine: {why_not}")
    apt_install([p for p in HOST_PACKAGES if not dpkg_installed(p)], log)
    if not buildx_present():
        install_buildx(log)
    root = flavor.root
    if not (root / "usr" / "sbin" / "dockerd").exists():
        unpack_from_suite(flavor.suite, debian_mirror(read_apt_sources()), SUITE_PACKAGES,
                          root, log)
    pidfile = flavor.run_dir / "dockerd.pid"
    if pidfile.exists() and not _alive(int(pidfile.read_text() or 0)):
        pidfile.unlink()  # left by a dockerd that was killed
    add_bridge(flavor, log)
    start_flavor_dockerd(flavor, log)
    return flavor.host


def flavor_down(flavor: Flavor, log: Log, *, purge: bool = False) -> None:
    """Stop the flavour's dockerd (and the containerd it runs), remove its rules and bridge.
    Its data root is kept, so images and bases survive to the next `up`, unless `purge`:
    then the next `up` starts an engine with no image at all, as a new user's is."""
    pidfile = flavor.run_dir / "dockerd.pid"
    pid = int(pidfile.read_text()) if pidfile.exists() else None
    if pid is not None and _alive(pid):
        log(f"stopping the {flavor.name} dockerd (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        if pid in _children:
            _children.pop(pid).wait()
    for rule in flavor_rules(flavor):
        _run(["iptables", *rule])
    if Path(f"/sys/class/net/{flavor.bridge}").exists():
        _run(["ip", "link", "delete", flavor.bridge])
        log(f"removed bridge {flavor.bridge}")
    if purge:
        remove_data_root(flavor, log)


def remove_data_root(flavor: Flavor, log: Log) -> None:
    """Delete the stopped flavour's data root; a dockerd that was killed can leave its
    containers' and snapshots' mounts under it, which are unmounted first."""
    data = flavor.state / "data"
    if not data.exists():
        return
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mount in sorted((m for m in mounts if Path(m).is_relative_to(data)), reverse=True):
        _run(["umount", "--lazy", mount])
    shutil.rmtree(data)
    log(f"deleted the {flavor.name} engine's data root {data}")


def add_bridge(flavor: Flavor, log: Log) -> None:
    """The flavour's bridge and the rules its containers need to reach out (NAT, forward)."""
    if not Path(f"/sys/class/net/{flavor.bridge}").exists():
        _run(["ip", "link", "add", flavor.bridge, "type", "bridge"])
        _run(["ip", "addr", "add", flavor.bridge_address, "dev", flavor.bridge])
        log(f"made bridge {flavor.bridge} ({flavor.bridge_address})")
    _run(["ip", "link", "set", flavor.bridge, "up"])
    comment = ["-m", "comment", "--comment", f"harness-{flavor.name}"]
    wanted = [
        ["-t", "nat", "POSTROUTING", "-s", flavor.subnet, "!", "-o", flavor.bridge,
         *comment, "-j", "MASQUERADE"],
        ["-t", "filter", "FORWARD", "-i", flavor.bridge, *comment, "-j", "ACCEPT"],
        ["-t", "filter", "FORWARD", "-o", flavor.bridge, "-m", "conntrack", "--ctstate",
         "RELATED,ESTABLISHED", *comment, "-j", "ACCEPT"],
    ]
    for table, flag, chain, *rest in wanted:
        if subprocess.run(["iptables", table, flag, "-C", chain, *rest],
                          capture_output=True, check=False).returncode != 0:
            _run(["iptables", table, flag, "-I", chain, "1", *rest])


def flavor_rules(flavor: Flavor) -> list[list[str]]:
    """The flavour's rules (found by their comment), as the arguments of `iptables` that
    delete each."""
    rules = []
    for table in ("nat", "filter"):
        listed = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True,
                                check=False).stdout
        for line in listed.splitlines():
            words = shlex.split(line)
            if words[:1] == ["-A"] and f"harness-{flavor.name}" in words:
                rules.append(["-t", table, "-D", *words[1:]])
    return rules


def start_flavor_dockerd(flavor: Flavor, log: Log) -> None:
    root = flavor.root
    flavor.state.mkdir(parents=True, exist_ok=True)
    flavor.run_dir.mkdir(parents=True, exist_ok=True)
    config = flavor.state / "daemon.json"
    config.write_text(json.dumps({"features": {"containerd-snapshotter":
                                               flavor.containerd_store},
                                  "experimental": True}, indent=2) + "\n")
    command = [str(root / "usr" / "sbin" / "dockerd"), "--config-file", str(config),
               "-H", flavor.host, "--data-root", str(flavor.state / "data"),
               "--exec-root", str(flavor.run_dir / "exec"),
               "--pidfile", str(flavor.run_dir / "dockerd.pid"),
               "--bridge", flavor.bridge, "--iptables=false"]
    path = f"{root / 'usr' / 'bin'}:{root / 'usr' / 'sbin'}:/usr/sbin:/usr/bin:/sbin:/bin"
    log(f"starting the {flavor.name} dockerd (log: {flavor.log})")
    with flavor.log.open("ab") as log_file:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file,
                                   stderr=subprocess.STDOUT, start_new_session=True, cwd="/",
                                   env={**os.environ, "PATH": path})
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if engine_answers(timeout_s=2, host=flavor.host):
            _children[process.pid] = process
            log(f"{flavor.name} dockerd answers (pid {process.pid})")
            return
        if process.poll() is not None:
            raise EngineUnavailable(f"the {flavor.name} dockerd exited with code "
                                    f"{process.returncode}. Last lines of {flavor.log}:\n"
                                    + tail(flavor.log))
        time.sleep(0.5)
    raise EngineUnavailable(f"the {flavor.name} dockerd did not answer within "
                            f"{START_TIMEOUT_S:.0f} s. Last lines of {flavor.log}:\n"
                            + tail(flavor.log))


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"`{' '.join(command)}` failed: {result.stderr.strip()}")
