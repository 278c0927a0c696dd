import json

import pytest

from harness import provision
from harness.errors import HarnessError


def test_with_experimental_keeps_other_keys():
    text = provision.with_experimental('{"data-root": "/srv/docker", "experimental": false}')
    assert json.loads(text) == {"data-root": "/srv/docker", "experimental": True}


def test_with_experimental_starts_from_nothing():
    assert json.loads(provision.with_experimental(None)) == {"experimental": True}
    assert json.loads(provision.with_experimental("  \n")) == {"experimental": True}


def test_configure_daemon_rejects_invalid_json_naming_the_file(tmp_path):
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text("{not json")
    with pytest.raises(HarnessError, match=r"daemon\.json: not a valid daemon\.json"):
        provision.configure_daemon(daemon_json, log=lambda _: None)
    assert daemon_json.read_text() == "{not json"


def test_configure_daemon_writes_only_when_needed(tmp_path):
    daemon_json = tmp_path / "docker" / "daemon.json"
    messages: list[str] = []
    provision.configure_daemon(daemon_json, log=messages.append)
    provision.configure_daemon(daemon_json, log=messages.append)
    assert json.loads(daemon_json.read_text()) == {"experimental": True}
    assert len(messages) == 1


DEB822 = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_debian_mirror_from_deb822_skips_security():
    security_first = DEB822.split("\n\n")[1]
    assert provision.debian_mirror([security_first, DEB822]) == "http://mirror.example/debian"


def test_debian_mirror_from_one_line_sources():
    text = ("# comment\ndeb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian/ bookworm main\n")
    assert provision.debian_mirror([text]) == "http://one.example/debian"


def test_debian_mirror_defaults_when_nothing_fits():
    only_updates = "deb http://x.example/debian bookworm-updates main\n"
    assert provision.debian_mirror([only_updates, ""]) == provision.DEFAULT_DEBIAN_MIRROR


def test_provisioning_needs_root_or_passwordless_sudo(monkeypatch):
    monkeypatch.setattr(provision.platform, "system", lambda: "Linux")
    monkeypatch.setattr(provision.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(provision, "_passwordless_sudo", lambda: False)
    assert "needs root or passwordless sudo" in provision.why_cannot_provision()
    monkeypatch.setattr(provision, "_passwordless_sudo", lambda: True)
    assert provision.why_cannot_provision() is None
    assert provision.as_root(["apt-get", "update"]) == ["sudo", "-n", "apt-get", "update"]


def test_provisioning_refused_off_linux(monkeypatch):
    monkeypatch.setattr(provision.platform, "system", lambda: "Darwin")
    assert "not Darwin" in provision.why_cannot_provision()


def _never(*args, **kwargs):
    raise AssertionError("provisioning must not install anything here")


def test_provision_off_with_no_engine_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_NO_ENGINE_SETUP", "1")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setattr(provision, "apt_install", _never)
    with pytest.raises(provision.EngineUnavailable, match="HARNESS_NO_ENGINE_SETUP=1"):
        provision.provision(log=lambda _: None)


def test_provision_does_not_start_a_local_engine_for_a_remote_docker_host(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_NO_ENGINE_SETUP", raising=False)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setattr(provision, "apt_install", _never)
    monkeypatch.setattr(provision, "start_dockerd", _never)
    with pytest.raises(provision.EngineUnavailable, match="does not answer"):
        provision.provision(log=lambda _: None)


def test_provision_without_root_explains_how_to_get_an_engine(monkeypatch):
    monkeypatch.delenv("HARNESS_NO_ENGINE_SETUP", raising=False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(provision, "engine_answers", lambda timeout_s=3.0: False)
    monkeypatch.setattr(provision, "why_cannot_provision", lambda: "provisioning needs root")
    monkeypatch.setattr(provision, "apt_install", _never)
    with pytest.raises(provision.EngineUnavailable, match=r"needs root.*Docker Desktop"):
        provision.provision(log=lambda _: None)
