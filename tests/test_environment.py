"""What a run records about the machine it ran on."""

import subprocess

import pytest

from harness.environment import collect_engine, collect_git, collect_host, fingerprint

ENVIRONMENT = {"engine": {"storage_driver": "overlay2", "docker_host": "unix:///x.sock"},
               "host": {"cpu_model": "CPU", "cpu_count": 2, "memory_bytes": 1 << 34}}


def test_the_fingerprint_depends_on_the_machine_not_the_run():
    same = {"engine": dict(ENVIRONMENT["engine"], server_version="other"),
            "host": dict(ENVIRONMENT["host"])}
    assert fingerprint(ENVIRONMENT) == fingerprint(same)
    other = {"engine": dict(ENVIRONMENT["engine"], storage_driver="vfs"),
             "host": ENVIRONMENT["host"]}
    assert fingerprint(ENVIRONMENT) != fingerprint(other)
    assert len(fingerprint(ENVIRONMENT)) == 12


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
