"""Provisioning: install and start what harness needs on a Debian/Ubuntu host (the engine,
the BuildKit plugin, the host tools that make bases). `harness.engine` only talks to an
engine; this module changes the host.

`provision()` is the one idempotent entry point used by `harness engine up`, nox and CI:
an engine that already answers is left alone, so a second run costs a ping and a few
`dpkg-query` calls.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from harness import cache_home
from harness.engine import (
    HOW_TO_GET_AN_ENGINE,
    EngineUnavailable,
    buildx_version,
    connect,
    docker_host,
    engine_answers,
)
from harness.errors import HarnessError

DAEMON_JSON = Path("/etc/docker/daemon.json")
DOCKERD_LOG = Path("/var/log/harness-dockerd.log")
PLUGIN_DIR = Path("/usr/local/lib/docker/cli-plugins")
"""Where a fetched docker-buildx goes: searched by every docker CLI, whatever the user's HOME."""

HOST_PACKAGES = ("busybox-static", "debootstrap", "pigz")
"""Host tools harness uses to make base images locally (scratch + busybox, debootstrap), and
pigz, the floor benchmarks/layer_analysis.py measures against."""

ENGINE_PACKAGE = "docker.io"
BUILDX_SUITE = "trixie"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
START_TIMEOUT_S = 60.0

Log = Callable[[str], None]

def provision(log: Log, experimental: bool = False) -> None:
    """Make sure an engine answers and the BuildKit plugin is there, installing what is missing
    (as root, or through passwordless sudo, as on hosted CI runners). An engine that answers
    is never restarted, unless `experimental` asks to turn its experimental mode on."""
    if os.environ.get("HARNESS_NO_ENGINE_SETUP") == "1":
        if not engine_answers():
            raise EngineUnavailable(
                f"No Docker engine answers at {docker_host()}, and HARNESS_NO_ENGINE_SETUP=1 "
                "turns provisioning off. " + HOW_TO_GET_AN_ENGINE
            )
        log("engine answers; provisioning is off (HARNESS_NO_ENGINE_SETUP=1)")
        return

    answering = engine_answers()
    if answering:
        log(f"engine answers at {docker_host()}")
    elif "DOCKER_HOST" in os.environ:
        raise EngineUnavailable(
            f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer. harness only starts a local "
            "engine; unset DOCKER_HOST to use one, or start the engine it points at."
        )
    why_not = why_cannot_provision()
    if why_not and not answering:
        raise EngineUnavailable(f"No Docker engine answers at {docker_host()}, and {why_not}. "
                                + HOW_TO_GET_AN_ENGINE)
    if why_not:
        log(f"not installing host tools: {why_not}")
    else:
        wanted = HOST_PACKAGES if answering else (ENGINE_PACKAGE, *HOST_PACKAGES)
        apt_install([p for p in wanted if not dpkg_installed(p)], log)
    if not answering:
        configure_daemon(DAEMON_JSON, log)
        start_dockerd(log)
    elif experimental and not engine_experimental():
        if why_not:
            raise EngineUnavailable(f"cannot turn on experimental mode: {why_not}")
        configure_daemon(DAEMON_JSON, log)
        restart_dockerd(log)

    if buildx_version():
        log(f"BuildKit plugin: docker buildx {buildx_version()}")
    elif why_not:
        log(f"BuildKit plugin missing and not installed: {why_not}")
    else:
        install_buildx(log)


def why_cannot_provision() -> str | None:
    """None when this host can be provisioned (Linux, root, apt); otherwise the reason."""
    if platform.system() != "Linux":
        return f"harness provisions engines only on Debian/Ubuntu Linux, not {platform.system()}"
    if os.geteuid() != 0 and not _passwordless_sudo():
        return ("provisioning needs root or passwordless sudo (apt-get and dockerd); run "
                "`sudo harness engine up`")
    if not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        return "this host has no apt-get/dpkg, so harness cannot install docker.io"
    return None


def dpkg_installed(package: str) -> bool:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev}", package],
        capture_output=True, text=True, check=False,
    )
    return result.stdout.startswith("ii")


def apt_install(packages: list[str], log: Log) -> None:
    if not packages:
        return
    log(f"installing {' '.join(packages)} with apt-get")
    apt = as_root(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"])
    _run([*apt, "update", "-q"], "apt-get update")
    _run([*apt, "install", "-y", "-q", "--no-install-recommends", *packages],
         f"apt-get install {' '.join(packages)}")


def as_root(command: list[str]) -> list[str]:
    """The command as root: itself when harness is root, else through `sudo -n`."""
    return command if os.geteuid() == 0 else ["sudo", "-n", *command]


def _passwordless_sudo() -> bool:
    return shutil.which("sudo") is not None and subprocess.run(
        ["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0


def with_experimental(daemon_json: str | None) -> str:
    """daemon.json text with `"experimental": true`, every other key kept as it was."""
    config = json.loads(daemon_json) if daemon_json and daemon_json.strip() else {}
    if not isinstance(config, dict):
        raise ValueError("the top level is not a JSON object")
    config["experimental"] = True
    return json.dumps(config, indent=2) + "\n"


def configure_daemon(path: Path, log: Log) -> None:
    """Turn on experimental mode, needed by `docker build --squash` on the legacy builder."""
    old = path.read_text() if path.exists() else None
    try:
        new = with_experimental(old)
    except ValueError as error:
        raise HarnessError(f"{path}: not a valid daemon.json ({error}); fix or remove it") from None
    if new != old:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as written:
            written.write(new)
            written.flush()
            _run(as_root(["install", "-D", "-m", "644", written.name, str(path)]),
                 f"writing {path}")
        log(f"wrote {path} with experimental: true")


def start_dockerd(log: Log, timeout_s: float = START_TIMEOUT_S) -> None:
    """Start dockerd in the background (its log in DOCKERD_LOG) and wait until it answers."""
    dockerd = shutil.which("dockerd")
    if not dockerd:
        raise EngineUnavailable("dockerd is not on PATH after installing docker.io. "
                                + HOW_TO_GET_AN_ENGINE)
    log(f"starting dockerd (log: {dockerd_log()})")
    with dockerd_log().open("ab") as log_file:
        process = subprocess.Popen(
            as_root([dockerd]), stdin=subprocess.DEVNULL, stdout=log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if engine_answers(timeout_s=2):
            log(f"dockerd answers (pid {process.pid})")
            return
        if process.poll() is not None:
            raise EngineUnavailable(
                f"dockerd exited with code {process.returncode}. Last lines of "
                f"{dockerd_log()}:\n" + tail(dockerd_log()))
        time.sleep(0.5)
    raise EngineUnavailable(
        f"dockerd did not answer within {timeout_s:.0f} s. Last lines of {dockerd_log()}:\n"
        + tail(dockerd_log()))


def dockerd_log() -> Path:
    """Where the dockerd harness starts logs: under /var/log as root, else in the user's cache
    (the log file is opened by harness, not by the sudo'd dockerd)."""
    if os.geteuid() == 0:
        return DOCKERD_LOG
    cache_home().mkdir(parents=True, exist_ok=True)
    return cache_home() / "dockerd.log"


def engine_experimental() -> bool:
    client = connect()
    try:
        return bool(client.info().get("ExperimentalBuild"))
    finally:
        client.close()


def restart_dockerd(log: Log) -> None:
    """Restart the engine so daemon.json takes effect: through systemd where it runs the
    engine, else the dockerd of /var/run/docker.pid, stopped and started again."""
    if subprocess.run(["systemctl", "is-active", "--quiet", "docker"], capture_output=True,
                      check=False).returncode == 0:
        log("restarting docker with systemctl")
        _run(as_root(["systemctl", "restart", "docker"]), "systemctl restart docker")
        return
    pidfile = Path("/var/run/docker.pid")
    if pidfile.exists():
        pid = pidfile.read_text().strip()
        log(f"stopping dockerd (pid {pid})")
        _run(as_root(["kill", pid]), f"kill {pid}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while engine_answers(timeout_s=1) and time.monotonic() < deadline:
            time.sleep(0.5)
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    start_dockerd(log)


def install_buildx(log: Log) -> None:
    """The distro's docker-buildx where it has one, else the one from Debian's trixie suite."""
    if apt_candidate("docker-buildx"):
        apt_install(["docker-buildx"], log)
    else:
        fetch_buildx_from_suite(BUILDX_SUITE, debian_mirror(read_apt_sources()), log)
    version = buildx_version()
    if not version:
        raise HarnessError("docker-buildx was installed but `docker buildx version` fails; "
                           f"check {PLUGIN_DIR}/docker-buildx")
    log(f"BuildKit plugin: docker buildx {version}")


def apt_candidate(package: str) -> str | None:
    result = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True,
                            check=False)
    match = re.search(r"Candidate:\s*(\S+)", result.stdout)
    return match.group(1) if match and match.group(1) != "(none)" else None


def fetch_buildx_from_suite(suite: str, mirror: str, log: Log) -> None:
    """docker-buildx from another Debian suite: only its plugin binary is installed."""
    with tempfile.TemporaryDirectory(prefix="harness-buildx-") as tmp:
        (deb,) = unpack_from_suite(suite, mirror, ["docker-buildx"], Path(tmp) / "root", log)
        binaries = list((Path(tmp) / "root").rglob("cli-plugins/docker-buildx"))
        if not binaries:
            raise HarnessError(f"{deb} holds no cli-plugins/docker-buildx binary")
        target = PLUGIN_DIR / "docker-buildx"
        _run(as_root(["install", "-D", "-m", "755", str(binaries[0]), str(target)]),
             f"installing {target}")
        log(f"installed {target} from {deb}")


def unpack_from_suite(suite: str, mirror: str, packages: list[str], destination: Path,
                      log: Log) -> list[str]:
    """`apt-get download` packages of another suite with private apt state and unpack them
    into `destination` (`dpkg-deb -x`); returns the .deb file names.

    The host's sources, lists and cache are never touched: the temporary source list and
    `Dir::State::Lists`/`Dir::Cache` live in a temporary directory.
    """
    log(f"fetching {' '.join(packages)} from Debian {suite} ({mirror})")
    with tempfile.TemporaryDirectory(prefix="harness-apt-") as tmp:
        work = Path(tmp)
        (work / "lists" / "partial").mkdir(parents=True)
        (work / "cache" / "archives" / "partial").mkdir(parents=True)
        (work / "parts").mkdir()
        sources = work / "sources.list"
        sources.write_text(f"deb [signed-by={DEBIAN_KEYRING}] {mirror} {suite} main\n")
        options = [
            "-o", f"Dir::Etc::SourceList={sources}",
            "-o", f"Dir::Etc::SourceParts={work / 'parts'}",
            "-o", f"Dir::State::Lists={work / 'lists'}",
            "-o", f"Dir::Cache={work / 'cache'}",
            "-o", "APT::Get::List-Cleanup=0",
        ]
        _run(["apt-get", *options, "update", "-q"], f"apt-get update for {suite}")
        _run(["apt-get", *options, "download", *packages],
             f"apt-get download {' '.join(packages)}", cwd=work)
        debs = sorted(work.glob("*.deb"))
        if len(debs) != len(packages):
            raise HarnessError(f"apt-get download left {len(debs)} .deb file(s) for "
                               f"{len(packages)} package(s) in {work}")
        destination.mkdir(parents=True, exist_ok=True)
        for deb in debs:
            _run(["dpkg-deb", "-x", str(deb), str(destination)], f"dpkg-deb -x {deb.name}")
        return [deb.name for deb in debs]


def read_apt_sources() -> list[str]:
    paths = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    return [p.read_text(errors="replace") for p in paths
            if p.is_file() and p.suffix in {".list", ".sources", ""}]


def debian_mirror(source_texts: Iterable[str]) -> str:
    """The host's Debian archive mirror (not security), from one-line or deb822 sources."""
    for text in source_texts:
        for uri, suites in _apt_source_entries(text):
            if "security" in uri or not uri.startswith(("http://", "https://")):
                continue
            if any(not re.search(r"-(security|updates|backports)$", s) for s in suites):
                return uri.rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


def _apt_source_entries(text: str) -> list[tuple[str, list[str]]]:
    """(URI, suites) pairs of the `deb` entries in one sources file, either format."""
    entries: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for raw in stanza.splitlines():
            if raw.startswith("#") or ":" not in raw:
                continue
            key, _, value = raw.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            entries.extend((uri, fields.get("suites", "").split())
                           for uri in fields.get("uris", "").split())
    return entries


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return last_lines(path.read_text(errors="replace"), lines)


def last_lines(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd,
                            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if result.returncode != 0:
        output = last_lines(result.stdout + result.stderr)
        raise HarnessError(f"{what} failed with exit code {result.returncode}:\n{output}")


