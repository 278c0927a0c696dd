"""What a run records about the machine it ran on."""

import subprocess

import pytest

from harness.environment import collect_engine, collect_git, collect_host, fingerprint

ENVIRONMENT = {"engine": {"storage_driver": "overlay2", "docker_host": "unix:///x.sock",
                          "server_version": "26.1.5", "image_store": "classic",
                          "kernel": "6.1.0-18-amd64"},
               "builders": {"buildkit": {"version": "0.13.1"}},
               "host": {"cpu_model": "CPU", "cpu_count": 2, "memory_bytes": 1 << 34}}


def changed(part: str, **values: object) -> dict:
    return {**ENVIRONMENT, part: {**ENVIRONMENT[part], **values}}


def test_the_machine_key_ignores_what_differs_between_alike_hosted_runners():
    key = fingerprint(ENVIRONMENT)
    assert len(key) == 12
    for alike in (changed("host", cpu_model="Other CPU @ 2.4GHz", memory_bytes=1 << 33),
                  changed("engine", kernel="6.8.0-1017-azure", docker_host="unix:///y.sock")):
        assert fingerprint(alike) == key
    for different in (changed("engine", server_version="27.0.1"),
                      changed("engine", image_store="containerd"),
                      changed("engine", storage_driver="vfs"),
                      changed("engine", kernel="5.15.0"), changed("host", cpu_count=4),
                      changed("builders", buildkit={"version": "0.16.0"})):
        assert fingerprint(different) != key


def test_the_host_facts():
    host = collect_host()
    assert host["cpu_count"] >= 1 and host["memory_bytes"] > 1 << 20
    assert host["cpu_model"] and host["python"].count(".") == 2


def test_git_commit_and_dirty_state(tmp_path):
    assert collect_git(tmp_path) == {"git_commit": None, "git_dirty": None}
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "a.yaml").write_text("x: 1\n")
    git("add", "a.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    clean = collect_git(tmp_path)
    assert len(clean["git_commit"]) == 40 and clean["git_dirty"] is False
    (tmp_path / "a.yaml").write_text("x: 2\n")
    assert collect_git(tmp_path)["git_dirty"] is True


@pytest.mark.docker
def test_the_engine_facts_are_what_docker_info_says(docker_client):
    facts = collect_engine(docker_client)
    info = docker_client.info()
    assert facts["storage_driver"] == info["Driver"]
    assert facts["server_version"] == docker_client.version()["Version"]
