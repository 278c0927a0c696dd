"""The hosted CI runner's path, rehearsed here: a user who is not root, has passwordless sudo
and is in the docker group, with an engine already running, and harness in its own
virtualenv from /usr/bin/python3 (root's Python is not readable by other users)."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker
USER = "harness-ci"
REPO = Path(__file__).parent.parent
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
