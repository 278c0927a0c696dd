"""Engine flavours: a second Docker engine beside the default one, and nothing of the
default engine's touched by starting or stopping it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from harness import flavors
from harness.engine import connect, engine_answers, image_store

from .helpers import image_ids
from .test_integ_runner import sleeping

FLAVOR = flavors.FLAVORS["trixie-containerd"]


def test_each_flavour_has_its_own_socket_bridge_and_subnet():
    chosen = list(flavors.FLAVORS.values())
    assert len({f.socket for f in chosen}) == len({f.bridge for f in chosen}) == len(chosen)
    assert len({f.subnet for f in chosen}) == len(chosen)
    assert FLAVOR.subnet == "10.221.2.0/24"
    assert FLAVOR.host == "unix:///run/harness/trixie-containerd/docker.sock"
    assert all(f.bridge != "docker0" and len(f.bridge) <= 15 for f in chosen)  # IFNAMSIZ


def only_its_own(flavor: flavors.Flavor) -> None:
    """A test that stops (or purges) a flavour's engine runs only where it starts it: one
    already running is someone's."""
    if engine_answers(host=flavor.host):
        pytest.skip(f"the {flavor.name} flavour runs already, and this test would stop it")


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=600)


def rules_not_of(flavor: flavors.Flavor) -> list[str]:
    """Every iptables rule but the flavour's own: those may be left from an earlier engine of
    the flavour that was killed rather than stopped, and `down` removes them too."""
    return [line for table in ("filter", "nat") for line in subprocess.run(
        ["iptables", "-t", table, "-S"], capture_output=True, text=True, check=True
    ).stdout.splitlines() if f"harness-{flavor.name}" not in line]


def default_engine_runs_a_container(client: docker.DockerClient) -> bool:
    client.containers.run("busybox:latest", ["true"], remove=True)
    return True


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("DOCKER_HOST", "").startswith("unix:///run/harness/"),
                    reason="this test stops the flavour's engine: run it from the default one")
def test_up_starts_docker_26_with_the_containerd_store_and_down_leaves_the_default_alone(
        docker_client, busybox):
    only_its_own(FLAVOR)
    assert default_engine_runs_a_container(docker_client)
    rules_before = rules_not_of(FLAVOR)
    up = harness("engine", "up", "--flavor", FLAVOR.name)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.splitlines()[-1] == f"export DOCKER_HOST={FLAVOR.host}"
        flavour = connect(host=FLAVOR.host)
        info = flavour.info()
        assert info["ServerVersion"].startswith("26.")
        assert image_store(info) == "containerd"
        flavour.close()
        assert Path("/sys/class/net/docker0").exists()
        assert default_engine_runs_a_container(docker_client)
        again = harness("engine", "up", "--flavor", FLAVOR.name)  # answers: left as it is
        assert again.returncode == 0 and "answers at" in again.stderr
    finally:
        down = harness("engine", "down", "--flavor", FLAVOR.name)
    assert down.returncode == 0, down.stderr
    assert not Path(f"/sys/class/net/{FLAVOR.bridge}").exists()
    assert flavors.flavor_rules(FLAVOR) == []
    assert Path("/sys/class/net/docker0").exists()
    assert rules_not_of(FLAVOR) == rules_before
    assert default_engine_runs_a_container(docker_client)
    assert (FLAVOR.state / "data").is_dir()  # kept for the next `up`, unless purged:
    purged = harness("engine", "down", "--flavor", FLAVOR.name, "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not (FLAVOR.state / "data").exists() and "deleted" in purged.stderr


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("DOCKER_HOST", "").startswith("unix:///run/harness/"),
                    reason="this test stops the flavour's engine: run it from the default one")
def test_an_engine_without_its_bridge_stops_the_run_with_one_clear_message(tmp_path):
    flavor = flavors.FLAVORS["trixie"]
    only_its_own(flavor)
    up = harness("engine", "up", "--flavor", flavor.name)
    try:
        assert up.returncode == 0, up.stderr
        subprocess.run(["ip", "link", "delete", flavor.bridge], check=True)
        (tmp_path / "s.yaml").write_text(
            "bases:\n  harness-test/bb:1:\n    scratch: {files: {/bin/busybox: /bin/busybox}}\n"
            "repeat: 2\ncache: [cold]\nbuilders: [legacy]\nvariants:\n"
            "  a: {dockerfile: \"FROM harness-test/bb:1\\nRUN [\\\"/bin/busybox\\\", "
            "\\\"true\\\"]\\n\"}\n  b: {extends: a}\n")
        done = subprocess.run([sys.executable, "-m", "harness", "run", str(tmp_path / "s.yaml"),
                               "--out", str(tmp_path / "out")], capture_output=True, text=True,
                              timeout=600, env={**os.environ, "DOCKER_HOST": flavor.host})
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"harness: the Docker engine at {flavor.host} cannot run containers: it " \
               "cannot attach them to a network (restart dockerd)" in done.stderr
        assert flavor.bridge in done.stderr  # the engine's own words follow
        assert "Traceback" not in done.stderr
        (results,) = (tmp_path / "out").glob("*.json")
        document = json.loads(results.read_text())
        assert document["state"] == "engine-failed" and len(document["samples"]) == 1
    finally:
        harness("engine", "down", "--flavor", flavor.name)
    assert Path("/sys/class/net/docker0").exists()


SLEEPY = ("bases:\n  harness-test/bb:1:\n    scratch:\n      files: {/bin/busybox: /bin/busybox}\n"
          "      run: [[\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]]\n"
          "repeat: 1\ncache: [cold]\nbuilders: [legacy]\nvariants:\n  sleeps:\n"
          "    dockerfile: |\n      FROM harness-test/bb:1\n      RUN echo before > /before\n"
          "      RUN sleep 47\n")


@pytest.mark.docker
@pytest.mark.skipif(os.environ.get("DOCKER_HOST", "").startswith("unix:///run/harness/"),
                    reason="this test stops the flavour's engine: run it from the default one")
def test_harness_clean_removes_what_a_build_left_when_the_engine_died_under_it(tmp_path):
    flavor = flavors.FLAVORS["trixie"]
    only_its_own(flavor)
    env = {**os.environ, "DOCKER_HOST": flavor.host}
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SLEEPY)
    assert harness("engine", "up", "--flavor", flavor.name).returncode == 0
    try:
        for prepare in (["bases", "build", str(scenario)], ["clean"]):  # leftovers of others
            subprocess.run([sys.executable, "-m", "harness", *prepare], env=env, check=True,
                           capture_output=True)
        client = connect(host=flavor.host)
        images = image_ids(client)
        containers = {c.id for c in client.containers.list(all=True)}
        client.close()
        run = subprocess.Popen([sys.executable, "-m", "harness", "run", str(scenario), "--out",
                                str(tmp_path / "out")], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not sleeping() and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        assert sleeping(), "the RUN step never started"
        dockerd = int((flavor.run_dir / "dockerd.pid").read_text())
        os.kill(dockerd, signal.SIGKILL)
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 2 and "the Docker engine stopped answering" in stderr, stderr
        assert harness("engine", "up", "--flavor", flavor.name).returncode == 0  # restarted
        assert len(flavors.flavor_rules(flavor)) == 3  # the killed engine's, not added twice
        client = connect(host=flavor.host)
        left = ({c.id for c in client.containers.list(all=True)} - containers,
                image_ids(client) - images)
        assert left[0] and left[1]  # the killed step's container, the RUN echo step image
        cleaned = subprocess.run([sys.executable, "-m", "harness", "clean"], env=env,
                                 capture_output=True, text=True)
        assert cleaned.returncode == 0, cleaned.stderr
        assert {c.id for c in client.containers.list(all=True)} == containers
        assert image_ids(client) == images
        client.close()
    finally:
        harness("engine", "down", "--flavor", flavor.name)
