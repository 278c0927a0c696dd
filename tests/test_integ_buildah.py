"""buildah as the third builder, on the real engine and buildah: the same images as BuildKit's,
its cache, its storage and its cleanup."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness import buildah, engine
from harness.model import Builder, CacheMode, Run, RunOptions, Status, new_run_id, now
from harness.runner import Runner
from harness.scenario import load_scenario

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"

SAME_IMAGE = """\
description: a 4 MiB RUN and a COPY, and the same with a second RUN
builders: [buildkit, buildah]
cache: [cold, warm]
repeat: 1
files: {app.txt: "the app\\n"}
run: {command: ["cat", "/app.txt"], start_repeat: 2}
variants:
  run-and-copy:
    dockerfile: |
      FROM busybox:latest
      RUN head -c 4194304 /dev/urandom > /blob
      COPY app.txt /app.txt
  two-runs:
    dockerfile: |
      FROM busybox:latest
      RUN head -c 4194304 /dev/urandom > /blob
      RUN echo more > /more
      COPY app.txt /app.txt
"""


def run_scenario(tmp_path: Path, text: str, *args: str,
                 env: dict[str, str] | None = None) -> dict:
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(tmp_path / "s.yaml"),
                           "--out", str(tmp_path / "out"), *args], capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    (results,) = (tmp_path / "out").glob("*.json")
    return json.loads(results.read_text())


def buildah_listing(what: str) -> list[str]:
    return subprocess.run(buildah.storage().command(what, "--quiet", "--all"), check=True,
                          capture_output=True, text=True).stdout.split()


def as_buildah_shows(size: int) -> str:
    """go-units' HumanSizeWithPrecision(size, 3), as `buildah images` shows sizes."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} B"


def test_buildah_makes_the_image_buildkit_makes_and_uses_its_cache(tmp_path, docker_client,
                                                                  busybox):
    buildah.copy_base(docker_client, busybox)  # this engine's, as the run copies it
    images_before = buildah_listing("images")
    document = run_scenario(tmp_path, SAME_IMAGE)
    samples = {(s["variant"], s["builder"], s["cache"]): s for s in document["samples"]}
    assert len(samples) == 8 and all(s["status"] == "ok" for s in samples.values())
    for variant, steps in (("run-and-copy", 2), ("two-runs", 3)):
        buildkit, cold, warm = (samples[(variant, "buildkit", "cold")],
                                samples[(variant, "buildah", "cold")],
                                samples[(variant, "buildah", "warm")])
        assert abs(cold["size_bytes"] - buildkit["size_bytes"]) <= 0.01 * buildkit["size_bytes"]
        assert cold["layer_count"] == buildkit["layer_count"] == \
            buildkit["base_layer_count"] + steps
        assert (cold["steps_cached"], warm["steps_cached"]) == (0, warm["steps_total"])
        assert warm["steps_total"] == steps
        assert cold["start_status"] == warm["start_status"] == "ok"
        # buildah counts its layer tars: a little more than the files in them
        assert cold["size_bytes"] < cold["buildah_size_bytes"] < 1.05 * cold["size_bytes"]
        assert buildkit["buildah_size_bytes"] is None
    assert document["environment"]["builders"]["buildah"]["storage_driver"] in buildah.DRIVERS
    # nothing of the run is left in buildah's storage or in the engine
    assert buildah_listing("images") == images_before and buildah_listing("containers") == []
    assert not docker_client.images.list(name=f"harness-run/{document['run_id'].lower()}")


def test_buildah_size_is_what_buildah_images_shows(tmp_path, docker_client, busybox):
    (tmp_path / "Dockerfile").write_text("FROM busybox:latest\nRUN head -c 300000 /dev/zero > "
                                         "/zeros\n")
    buildah.copy_base(docker_client, busybox)
    built = subprocess.run(buildah.storage().command(
        "build", "--layers", "--pull-never", "--tag", "harness-test/size:1", str(tmp_path)),
        capture_output=True, text=True, check=True).stdout.split()[-1]
    try:
        shown = subprocess.run(buildah.storage().command(
            "images", "--format", "{{.Size}}", "harness-test/size:1"), capture_output=True,
            text=True, check=True).stdout.strip()
        size = buildah.size_bytes(built)
        assert size is not None and as_buildah_shows(size) == shown, (size, shown)
    finally:
        assert buildah.remove_images("localhost/harness-test/size:") == 1


BUILD_INPUTS = """\
description: build args, a target, .dockerignore, a secret build arg; squashing
builders: [buildkit, buildah]
cache: [cold]
repeat: 1
secret_build_args: [TOKEN]
files:
  kept.txt: "kept\\n"
  ignored.txt: "ignored\\n"
  .dockerignore: "ignored.txt\\n"
run:
  command: ["sh", "-c", "test \\"$(cat /arg)\\" = hello && test -e /kept.txt &&
            test ! -e /ignored.txt && test ! -e /final-stage"]
  start_repeat: 1
variants:
  inputs:
    build_args: {GREETING: hello, TOKEN: s3cr3t-v4lue}
    target: first
    dockerfile: |
      FROM busybox:latest AS first
      ARG GREETING
      ARG TOKEN
      RUN echo "$GREETING" > /arg && test "${#TOKEN}" = 12
      COPY . /
      FROM first
      RUN touch /final-stage
  squashed:
    squash: export-import
    dockerfile: |
      FROM busybox:latest
      RUN echo hello > /arg
      RUN echo more > /more
      COPY kept.txt /
"""


def test_build_args_target_context_secrets_and_squash_as_with_buildkit(tmp_path):
    document = run_scenario(tmp_path, BUILD_INPUTS)
    samples = {(s["variant"], s["builder"]): s for s in document["samples"]}
    for builder in ("buildkit", "buildah"):
        inputs = samples[("inputs", builder)]
        assert inputs["status"] == "ok" and inputs["start_status"] == "ok", inputs
    assert samples[("inputs", "buildah")]["layer_count"] == \
        samples[("inputs", "buildkit")]["layer_count"]
    for builder in ("buildkit", "buildah"):  # the transform works on buildah's image too
        squashed = samples[("squashed", builder)]
        assert squashed["status"] == "ok" and squashed["layer_count"] == 1
    assert "s3cr3t-v4lue" not in (tmp_path / "out").joinpath(
        f"{document['run_id']}.json").read_text()


def test_harness_clean_empties_its_buildah_storage_and_not_the_users(tmp_path, docker_client,
                                                                     busybox):
    users = subprocess.run(["buildah", "from", "--name", "harness-test-users-own", "scratch"],
                           capture_output=True, text=True)  # the user's default storage
    assert users.returncode == 0, users.stderr
    try:
        buildah.copy_base(docker_client, busybox)
        left = subprocess.run(buildah.storage().command("from", busybox),
                              capture_output=True, text=True, check=True)  # a killed build's
        assert left.stdout.strip() in subprocess.run(buildah.storage().command(
            "containers", "--format", "{{.ContainerName}}"), capture_output=True, text=True,
            check=True).stdout.split()
        cleaned = subprocess.run([sys.executable, "-m", "harness", "clean"],
                                 capture_output=True, text=True, timeout=300)
        assert cleaned.returncode == 0, cleaned.stderr
        assert "from harness's buildah storage" in cleaned.stdout
        assert buildah_listing("containers") == buildah_listing("images") == []
        assert "harness-test-users-own" in subprocess.run(
            ["buildah", "containers", "--format", "{{.ContainerName}}"], capture_output=True,
            text=True, check=True).stdout
    finally:
        subprocess.run(["buildah", "rm", "harness-test-users-own"], capture_output=True)


def test_doctor_json_reports_buildah():
    done = subprocess.run([sys.executable, "-m", "harness", "doctor", "--json"],
                          capture_output=True, text=True, timeout=300)
    facts = json.loads(done.stdout)["facts"]
    assert facts["buildah"]["ok"] is True, facts["buildah"]
    assert facts["buildah_version"] == buildah.version()
    assert facts["buildah_storage"].split(":")[0] in buildah.DRIVERS


def test_the_move_into_the_engine_is_outside_the_timed_call(tmp_path, docker_client):
    """pytest-benchmark times the whole timed call: buildah's image reaches the engine only in
    the untimed step after it."""
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SAME_IMAGE))
    run = Run(run_id=new_run_id(), started_at=now(), environment={},
              options=RunOptions(builders=(Builder.BUILDAH,), select="two-runs"),
              scenarios=[load_scenario(tmp_path / "s.yaml")])
    runner = Runner(docker_client, run, save=lambda r: None, progress=lambda p, done: None)
    in_engine_after_timed: list[int] = []

    def rounds(setup, timed, count):
        for _ in range(count):
            setup()
            timed()
            in_engine_after_timed.append(len(docker_client.images.list(
                name=engine.run_repository(run.run_id))))

    try:
        samples = runner.measure(run.scenarios[0], run.scenarios[0].variants["two-runs"],
                                 Builder.BUILDAH, CacheMode.COLD, rounds=rounds)
        assert [s.status for s in samples] == [Status.OK]
        assert in_engine_after_timed == [0]
        assert docker_client.images.list(name=engine.run_repository(run.run_id))  # after
    finally:
        runner.remove_images()


SHELL_AND_HEALTHCHECK = """\
description: a base with no /bin/sh, a SHELL to run RUN with, and a HEALTHCHECK
builders: [legacy, buildkit, buildah]
cache: [cold]
repeat: 1
bases:
  harness-test/busybox-only:1:
    scratch: {files: {/bin/busybox: /bin/busybox}}
run: {start_repeat: 1}
variants:
  shell:
    dockerfile: |
      FROM harness-test/busybox-only:1
      SHELL ["/bin/busybox", "sh", "-c"]
      RUN /bin/busybox echo built > /built && /bin/busybox test -e /built
      HEALTHCHECK --interval=7s --retries=2 CMD ["/bin/busybox", "true"]
      STOPSIGNAL SIGINT
      CMD ["/bin/busybox", "cat", "/built"]
"""


def test_shell_and_healthcheck_mean_the_same_to_all_three_builders(tmp_path, docker_client):
    """buildah's default OCI format drops SHELL (its RUN then looks for /bin/sh, which this
    base lacks) and HEALTHCHECK; in Docker's format it builds what Docker's builders build."""
    document = run_scenario(tmp_path, SHELL_AND_HEALTHCHECK, "--keep-images")
    try:
        samples = {s["builder"]: s for s in document["samples"]}
        assert sorted(samples) == ["buildah", "buildkit", "legacy"]
        assert all(s["status"] == "ok" and s["start_status"] == "ok"
                   for s in samples.values()), samples
        assert len({s["layer_count"] for s in samples.values()}) == 1
        configs = {builder: docker_client.api.inspect_image(s["image_id"])["Config"]
                   for builder, s in samples.items()}
        for builder, config in configs.items():
            assert config["Shell"] == ["/bin/busybox", "sh", "-c"], builder
            assert config["Healthcheck"]["Test"] == ["CMD", "/bin/busybox", "true"], builder
            assert config["Healthcheck"]["Interval"] == 7_000_000_000, builder
            assert config["StopSignal"] == "SIGINT", builder
            assert config["Cmd"] == ["/bin/busybox", "cat", "/built"], builder
        assert document["environment"]["builders"]["buildah"]["image_format"] == "docker"
    finally:
        engine.remove_run(docker_client, document["run_id"])
        docker_client.images.remove("harness-test/busybox-only:1", force=True)
