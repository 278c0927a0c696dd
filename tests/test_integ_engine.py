"""Against the real engine: doctor's verdicts and a tiny image built and run by each builder."""

import subprocess
import sys

import pytest

from harness import doctor, engine
from harness.build import BuildRequest, build
from harness.context import DOCKERFILE_NAME, materialize
from harness.images import analyse_engine_image
from harness.measure import time_start
from harness.model import Builder
from harness.transform import export_import

from .helpers import built_in_engine, write_busybox_context
from .test_integ_runner import TINY, harness_run, scenario_folder

pytestmark = pytest.mark.docker
TINY_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh", "-c", "true"]
"""


def test_doctor_finds_both_builders_and_squash(docker_client):
    facts = doctor.collect_facts()
    assert facts.reachable.ok
    assert facts.legacy_builder and facts.legacy_builder.ok, facts.legacy_builder
    assert facts.buildkit and facts.buildkit.ok, facts.buildkit
    assert facts.storage_driver and facts.server_version and facts.api_version
    assert facts.image_store == engine.image_store(docker_client.info())
    if facts.image_store == "classic":
        assert facts.squash and facts.squash.ok, facts.squash
    else:  # Docker 26's containerd store: "error squashing image: not implemented"
        assert facts.squash and "not implemented" in facts.squash.detail
    assert not any(p.blocking for p in doctor.problems(facts))


def test_doctor_leaves_no_probe_images_behind(docker_client):
    doctor.collect_facts()
    probes = docker_client.images.list(all=True, filters={"label": "harness.run"})
    assert [i for i in probes if i.labels["harness.run"].startswith("doctor-")] == []


def test_doctor_cli_exits_0_with_ticks(docker_client):
    result = subprocess.run([sys.executable, "-m", "harness", "doctor"], capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "legacy builder  ✓" in result.stdout
    assert "BuildKit        ✓" in result.stdout
    classic = engine.image_store(docker_client.info()) == "classic"
    assert ("squash          ✓" in result.stdout) is classic


@pytest.mark.parametrize("builder", list(Builder))
def test_tiny_image_builds_measures_and_runs(builder, docker_client, test_labels, tmp_path):
    context = write_busybox_context(tmp_path, TINY_DOCKERFILE)
    tag = f"harness-test:{test_labels['harness.run']}-{builder}"
    request = BuildRequest(context=context, tag=tag, labels=test_labels, no_cache=True)

    outcome = built_in_engine(docker_client, builder, request)

    assert outcome.ok, outcome.log_tail
    assert (outcome.steps_total, outcome.steps_cached) == (2, 0)
    assert outcome.build_s > 0
    attrs = docker_client.api.inspect_image(tag)
    assert attrs["Id"] == outcome.image_id
    assert attrs["Config"]["Labels"]["harness.run"] == test_labels["harness.run"]
    layers = analyse_engine_image(docker_client, tag, cache_dir=tmp_path / "cache",
                           stored_blobs=engine.image_store(docker_client.info()) == "containerd")
    symlink_bytes = sum(r.unpacked_bytes - r.added_bytes for r in layers.layers)
    assert symlink_bytes > 0  # busybox --install made symlinks
    if engine.image_store(docker_client.info()) == "classic":
        # The classic store's .Size counts symlink targets in layers the legacy builder
        # commits (and buildah's, loaded), not in those BuildKit exports; harness always
        # counts them. (containerd's .Size is its blobs': compressed, or for a loaded image
        # the tars.)
        assert attrs["Size"] == layers.unpacked_bytes - (
            symlink_bytes if builder is Builder.BUILDKIT else 0)
    assert layers.unpacked_bytes > 1_000_000  # the busybox binary
    assert len(layers.layers) == len(attrs["RootFS"]["Layers"]) == 2
    start = time_start(docker_client, tag, labels=test_labels)
    assert start.ok, start.error
    assert 0 < start.start_s < 30
    assert docker_client.containers.list(all=True, filters={"label": f"harness.run="
                                                            f"{test_labels['harness.run']}"}) == []


@pytest.mark.parametrize("builder", list(Builder))
def test_failing_run_step_is_a_failed_outcome_with_its_log(builder, docker_client, test_labels,
                                                            tmp_path):
    dockerfile = ('FROM scratch\nCOPY busybox /bin/busybox\n'
                  'RUN ["/bin/busybox", "sh", "-c", "echo about-to-fail; exit 3"]\n')
    context = write_busybox_context(tmp_path, dockerfile)
    request = BuildRequest(context=context, tag=f"harness-test:{test_labels['harness.run']}",
                           labels=test_labels, no_cache=True)

    outcome = build(builder, request, docker_client)

    assert not outcome.ok and outcome.image_id is None
    assert "about-to-fail" in outcome.log_tail
    assert outcome.error


def test_unexpected_exit_code_is_a_failed_start_and_leaves_nothing(docker_client, test_labels,
                                                                   tmp_path):
    context = write_busybox_context(tmp_path, TINY_DOCKERFILE)
    tag = f"harness-test:{test_labels['harness.run']}"
    assert build(Builder.LEGACY, BuildRequest(context=context, tag=tag, labels=test_labels,
                                              no_cache=True), docker_client).ok

    start = time_start(docker_client, tag, labels=test_labels, command=["/bin/sh", "-c", "exit 4"])

    assert not start.ok and start.start_s is None
    assert "exited with 4, expected 0" in start.error
    assert docker_client.containers.list(
        all=True, filters={"label": f"harness.run={test_labels['harness.run']}"}) == []


def test_containers_harness_removes_take_the_anonymous_volumes_their_image_declares(
        docker_client, test_labels, tmp_path):
    """An image with a VOLUME gives each container an anonymous volume, which `docker rm`
    without -v keeps: a timed start, the export of export-import and the cleanup of a
    container a stopped run left all take it along, and the engine holds the volumes it held
    before."""
    context = write_busybox_context(tmp_path, TINY_DOCKERFILE.replace(
        "CMD", "VOLUME /data\nCMD"))
    tag = f"harness-test:{test_labels['harness.run']}-volume"
    assert build(Builder.LEGACY, BuildRequest(context=context, tag=tag, labels=test_labels,
                                              no_cache=True), docker_client).ok
    volumes = {volume.name for volume in docker_client.volumes.list()}

    assert time_start(docker_client, tag, labels=test_labels).ok
    assert export_import(docker_client, tag, f"{tag}-flat", test_labels, restore_config=True)
    left = docker_client.containers.create(tag, labels=test_labels)
    assert left.attrs["Mounts"]  # its anonymous volume, made with the container
    engine.remove_labelled(docker_client, f"{engine.RUN_LABEL}={test_labels['harness.run']}")

    assert {volume.name for volume in docker_client.volumes.list()} == volumes


# here, not beside the runner's tests: its `harness clean` would remove the images their
# module-wide run keeps, in whatever order the tests run
def test_a_run_never_touches_an_unrelated_image_or_container(docker_client, tmp_path, busybox,
                                                              test_labels, unique_reference):
    context = materialize(tmp_path / "ctx", dockerfile=f"FROM {busybox}\nRUN touch /x\n",
                          files={})
    users_tag = unique_reference("bystander")
    users_image, _ = docker_client.images.build(path=str(context), dockerfile=DOCKERFILE_NAME,
                                                tag=users_tag, rm=True)
    container = docker_client.containers.create(users_tag, ["true"])
    try:
        path = scenario_folder(tmp_path, TINY)
        result = harness_run(str(path), "--repeat", "1", "--out", str(tmp_path / "out"),
                             cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        subprocess.run([sys.executable, "-m", "harness", "clean"], check=True,
                       capture_output=True)
        assert docker_client.images.get(users_tag).id == users_image.id
        container.reload()
        assert container.status == "created"
    finally:
        container.remove(force=True)
