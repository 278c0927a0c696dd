"""The hosted CI runner's path, rehearsed here: a user who is not root, has passwordless sudo
and is in the docker group, with an engine already running, and harness in its own
virtualenv from /usr/bin/python3 (root's Python is not readable by other users)."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.one_store]
USER = "harness-ci"
REPO = Path(__file__).parent.parent
BASE = "harness-test/bb:1"
TINY = """\
bases:
  harness-test/bb:1:
    scratch: {files: {/bin/busybox: /bin/busybox}}
repeat: 1
run: {command: ["/bin/busybox", "true"], start_repeat: 1}
quick: {builders: [legacy]}
variants:
  one: {dockerfile: "FROM harness-test/bb:1\\nCOPY f /f\\n"}
files: {f: "x\\n"}
"""


def as_root(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def as_user(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sudo", "-n", "-u", USER, "-H", *command], capture_output=True,
                          text=True, timeout=900, cwd=cwd)


@pytest.fixture(scope="module", autouse=True)
def base_removed_after() -> Iterator[None]:
    """The tests' base, made by the user's runs (a base is kept between runs, by design),
    removed after them unless it was on the engine before."""
    there = subprocess.run(["docker", "image", "inspect", BASE], capture_output=True)
    yield
    if there.returncode != 0:
        subprocess.run(["docker", "image", "rm", BASE], capture_output=True)


@pytest.fixture(scope="module")
def runner_user(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user, its sudo rule and docker group, and a virtualenv with harness; its bin."""
    if os.geteuid() != 0:
        pytest.skip("makes a user: run as root (CI does)")
    if not shutil.which("sudo"):
        as_root("apt-get", "install", "-y", "-q", "sudo")
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        as_root("useradd", "--create-home", "--groups", "docker", USER)
    sudoers = Path(f"/etc/sudoers.d/{USER}")
    sudoers.write_text(f"{USER} ALL=(ALL) NOPASSWD:ALL\n")
    sudoers.chmod(0o440)
    home = Path(f"/home/{USER}")
    source = home / "harness-src"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".nox", "results", "__pycache__", "*.egg-info", "build", "artifacts"))
    as_root("chown", "-R", f"{USER}:{USER}", str(source))
    venv = home / "venv"
    if not (venv / "bin" / "harness").exists():
        made = as_user("/usr/bin/python3", "-m", "venv", str(venv))
        assert made.returncode == 0, made.stderr
    installed = as_user(str(venv / "bin" / "pip"), "install", "-q", str(source))
    assert installed.returncode == 0, installed.stderr[-2000:]
    return venv / "bin"


def test_engine_up_leaves_the_running_engine_alone(runner_user):
    assert as_user("id", "-u").stdout.strip() != "0"
    done = as_user(str(runner_user / "harness"), "engine", "up")
    assert done.returncode == 0, done.stderr
    assert "engine answers at" in done.stderr and "starting dockerd" not in done.stderr
    assert done.stdout.splitlines()[-1].startswith("export DOCKER_HOST=")


def test_a_quick_run_works_as_that_user(runner_user, tmp_path):
    folder = Path(f"/home/{USER}/scenario")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "tiny.yaml").write_text(TINY)
    as_root("chown", "-R", f"{USER}:{USER}", str(folder))
    done = as_user(str(runner_user / "harness"), "run", "--quick", str(folder / "tiny.yaml"),
                   "--out", str(folder / "out"), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    (results,) = (folder / "out").glob("*.json")
    assert results.stat().st_uid != 0
    assert "[2/2] tiny/one legacy warm rep 1" in done.stderr  # the CI log's lines


BUILDAH_TINY = """\
bases:
  harness-test/bb:1:
    scratch: {files: {/bin/busybox: /bin/busybox}}
repeat: 1
builders: [buildah]
run: {command: ["/bin/busybox", "cat", "/made"], start_repeat: 1}
variants:
  one:
    dockerfile: |
      FROM harness-test/bb:1
      COPY f /f
      RUN ["/bin/busybox", "cp", "/f", "/made"]
files: {f: "x\\n"}
"""


def test_buildah_builds_rootless_as_that_user(runner_user):
    """buildah as the user itself (rootless, in its own user namespace), its storage in the
    user's home; `harness clean` as the user empties it."""
    up = as_user(str(runner_user / "harness"), "engine", "up", "--buildah")
    assert up.returncode == 0 and "buildah 1." in up.stderr, up.stderr
    folder = Path(f"/home/{USER}/buildah-scenario")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "tiny.yaml").write_text(BUILDAH_TINY)
    as_root("chown", "-R", f"{USER}:{USER}", str(folder))
    done = as_user(str(runner_user / "harness"), "run", str(folder / "tiny.yaml"), "--out",
                   str(folder / "out"), cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    (results,) = (folder / "out").glob("*.json")
    document = json.loads(results.read_text())
    assert [(s["cache"], s["status"], s["start_status"], s["steps_cached"])
            for s in document["samples"]] == [("cold", "ok", "ok", 0), ("warm", "ok", "ok", 2)]
    storage = Path(f"/home/{USER}/.local/state/harness/buildah")
    assert json.loads((storage / "driver.json").read_text())["driver"] in ("overlay", "vfs")
    assert storage.stat().st_uid != 0
    cleaned = as_user(str(runner_user / "harness"), "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    listed = as_user("buildah", "--root", str(storage / "root"), "--runroot",
                     f"/tmp/harness-buildah-{as_user('id', '-u').stdout.strip()}", "images", "-q")
    assert listed.returncode == 0 and listed.stdout == "", listed.stderr


NIGHTLY_TINY = """\
bases:
  harness-test/bb:1:
    scratch: {files: {/bin/busybox: /bin/busybox}}
repeat: 1
builders: [legacy]
run: {command: ["/bin/busybox", "true"], start_repeat: 1}
variants:
  one: {dockerfile: "FROM harness-test/bb:1\\nCOPY f /f\\n"}
  two: {dockerfile: "FROM harness-test/bb:1\\nCOPY f /f\\nCOPY g /g\\n"}
"""


def test_three_nights_of_the_nightly_rehearsed_as_that_user(runner_user):
    """scripts/nightly rehearse, the workflow's own steps (two shards, merge, the history
    branch on a bare remote, the trend gate): green, red on a planted +1 MiB, green."""
    home = Path(f"/home/{USER}")
    checkout, remote, tiny = home / "nightly-src", home / "nightly-remote.git", home / "tiny"
    for folder in (checkout, remote, tiny):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".git", ".nox", "results", "__pycache__", "*.egg-info", "build", "artifacts"))
    tiny.mkdir()
    as_root("chown", "-R", f"{USER}:{USER}", str(checkout), str(tiny))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    for command in (["git", "init", "-q", "--bare", str(remote)], ["git", "init", "-q"],
                    ["git", "add", "-A"], [*git, "commit", "-q", "-m", "source"],
                    ["git", "remote", "add", "origin", str(remote)],
                    ["git", "push", "-q", "origin", "HEAD:refs/heads/main"]):
        done = as_user(*command, cwd=checkout)
        assert done.returncode == 0, done.stderr

    def night(number: int, extra_bytes: int) -> subprocess.CompletedProcess[str]:
        (tiny / "tiny.yaml").write_text(
            NIGHTLY_TINY + f'files: {{f: "x\\n", g: "{"y" * (1 + extra_bytes)}"}}\n')
        return as_user("env", f"PYTHON={runner_user / 'python'}", f"BENCH_SCENARIOS={tiny}",
                       f"NIGHTLY_ID=night{number}", "scripts/nightly", "rehearse",
                       cwd=checkout)

    for number, extra, green in ((1, 0, True), (2, 1 << 20, False), (3, 1 << 20, True)):
        done = night(number, extra)
        log = done.stdout + done.stderr
        assert (done.returncode == 0) == green, f"night {number}:\n{log[-3000:]}"
        if number == 2:
            regressions = log.split("## New regressions")[1].split("##")[0]
            assert "tiny/two/legacy/cold" in regressions and "| size_bytes |" in regressions
            assert "tiny/one" not in regressions
        if number == 3:
            assert "No new regression." in log
            assert "tiny/two/legacy/cold" in log.split("## Known changes (not failing)")[1]
    kept = as_user("git", "--git-dir", str(remote), "ls-tree", "--name-only",
                   "bench-history", "results/")
    assert kept.stdout.split() == [f"results/nightly-night{n}.json" for n in range(1, 4)]
