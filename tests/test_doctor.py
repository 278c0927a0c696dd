import http.server
import subprocess
import sys
import threading

import pytest

from harness.doctor import Check, Facts, local_free_bytes, probe_registry, problems, render

HEALTHY = Facts(
    docker_host="unix:///var/run/docker.sock", reachable=Check(ok=True),
    server_version="20.10.24", api_version="1.41", os_arch="linux/amd64",
    storage_driver="overlay2", image_store="classic", cgroup_version="1", experimental=True,
    legacy_builder=Check(ok=True), buildkit=Check(ok=True), buildx_version="0.13.1",
    squash=Check(ok=True), registry=Check(ok=False, detail="no route"),
    data_root="/var/lib/docker", free_disk_bytes=80 * 1024**3, buildah=Check(ok=True),
    buildah_version="1.28.2", buildah_storage="overlay: buildah's overlay driver works here",
)


def replace(facts: Facts, **changes) -> Facts:
    return Facts(**{**facts.__dict__, **changes})


def test_healthy_engine_has_no_problems_and_renders_ticks():
    assert problems(HEALTHY) == []
    text = render(HEALTHY, [])
    for line in ("legacy builder  ✓", "BuildKit        ✓ (buildx 0.13.1)", "squash          ✓",
                 "buildah         ✓ (buildah 1.28.2; storage overlay: buildah's overlay "
                 "driver works here)",
                 "storage         overlay2, classic image store, cgroup v1",
                 "80.0 GiB free under /var/lib/docker"):
        assert line in text
    assert text.endswith("builds can run")


def test_unreachable_engine_blocks_and_says_what_to_do():
    facts = Facts(docker_host="unix:///x.sock", reachable=Check(ok=False, detail="refused"))
    found = problems(facts)
    assert [p.blocking for p in found] == [True]
    assert "harness engine up" in found[0].fix
    assert render(facts, found).endswith("builds cannot run")


def test_missing_buildkit_and_squash_are_warnings_not_blockers():
    facts = replace(HEALTHY, buildkit=Check(ok=False, detail="not installed"),
                    squash=Check(ok=False, detail="experimental off"))
    found = problems(facts)
    assert [p.blocking for p in found] == [False, False]
    assert "BuildKit" in found[0].what and "experimental" in found[1].fix


def test_missing_buildah_is_a_warning_naming_how_to_install_it():
    facts = replace(HEALTHY, buildah=Check(ok=False, detail="not installed"),
                    buildah_version=None, buildah_storage=None)
    found = problems(facts)
    assert [(p.blocking, p.fix) for p in found] == [
        (False, "run `harness engine up --buildah`, or read the probe's error above")]
    assert "buildah         ✗ not installed\n" in render(facts, found)


def test_no_working_builder_blocks():
    facts = replace(HEALTHY, legacy_builder=Check(ok=False, detail="x"),
                    buildkit=Check(ok=False, detail="y"))
    assert any(p.blocking and "no builder" in p.what for p in problems(facts))


def test_low_disk_is_a_warning():
    found = problems(replace(HEALTHY, free_disk_bytes=1024**3))
    expected = [(False, "only 1.0 GiB free under /var/lib/docker")]
    assert [(p.blocking, p.what) for p in found] == expected


def test_free_disk_is_only_measured_for_a_local_engine(tmp_path):
    assert local_free_bytes("tcp://build-host:2375", str(tmp_path)) is None
    assert local_free_bytes("unix:///var/run/docker.sock", str(tmp_path / "missing")) is None
    assert local_free_bytes("unix:///var/run/docker.sock", str(tmp_path)) > 0


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_registry_answering_401_counts_as_reachable():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        check = probe_registry(f"http://127.0.0.1:{server.server_port}/v2/", timeout_s=2)
    finally:
        thread.join(timeout=5)
        server.server_close()
    assert check.ok


def test_registry_refusing_connections_is_unreachable():
    check = probe_registry("http://127.0.0.1:1/v2/", timeout_s=1)
    assert not check.ok and "127.0.0.1:1" in check.detail


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_doctor_without_engine_exits_1_without_traceback(tmp_path, json_flag):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/absent.sock", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "harness", "doctor", *json_flag],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "harness engine up" in result.stdout


def test_the_containerd_store_explains_which_squash_variants_are_skipped():
    found = problems(replace(HEALTHY, image_store="containerd",
                             squash=Check(ok=False, detail="not implemented")))
    assert [(p.blocking, p.what) for p in found] == [
        (False, "the containerd image store: squash: legacy and squash: docker-squash "
                "variants will be skipped")]
