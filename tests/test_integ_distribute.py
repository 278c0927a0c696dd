"""Push and pull on a real registry (Debian's docker-registry, started by `harness registry
up`): the issue's busybox + 6 MiB of /dev/urandom, layered and squashed by export-import."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from harness import distribute, engine, store
from harness.build import BuildRequest, build
from harness.model import Builder, Run, RunOptions, new_run_id, now
from harness.registry import DEFAULT_PORT, local_registry
from harness.remote import RUNNER, runner_for_run
from harness.runner import Runner, run_scenarios, started_run
from harness.scenario import load_scenario

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"
PORT = 5056  # not harness's default: a registry of the user's own may run there
MIB = 1 << 20
DISTRIBUTION = """\
repeat: 1
cache: [cold]
run: {start_repeat: 1, command: ["true"]}
variants:
  layered:
    dockerfile: |
      FROM busybox:latest
      RUN head -c 6291456 /dev/urandom > /random
      COPY f /f
  export-import: {extends: layered, squash: export-import}
files: {f: "x\\n"}
"""


def harness(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "XDG_STATE_HOME": str(state)})


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    state = tmp_path_factory.mktemp("state")
    up = harness("registry", "up", "--port", str(PORT), state=state)
    assert up.returncode == 0, up.stderr
    assert up.stdout.splitlines()[-1] == f"export HARNESS_REGISTRY=127.0.0.1:{PORT}"
    yield f"127.0.0.1:{PORT}", state
    harness("registry", "down", state=state)


@pytest.fixture(scope="module")
def pushed(registry, docker_client, tmp_path_factory):
    folder = tmp_path_factory.mktemp("distribution")
    (folder / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (folder / "distribution.yaml").write_text(textwrap.dedent(DISTRIBUTION))
    run = Run(run_id=new_run_id(), started_at=now(), environment={},
              options=RunOptions(registry=registry[0], registry_all=True),  # as --registry
              scenarios=[load_scenario(folder / "distribution.yaml")])
    with runner_for_run(True) as (remote, missing):  # where pulls are cold, as a run has it
        assert missing is None, missing
        run_scenarios(Runner(docker_client, run, save=lambda r: None,
                             progress=lambda p, done: None, remote=remote))
    yield run
    engine.remove_run(docker_client, run.run_id)


def by_key(run):
    return {(s.variant, s.builder): s for s in run.samples}


@pytest.mark.parametrize("builder", [Builder.LEGACY, Builder.BUILDKIT])
def test_the_layered_image_pushes_its_own_layers_only(pushed, builder):
    layered = by_key(pushed)[("layered", builder)]
    assert layered.distribution_error is None or "pull not measured" in \
        layered.distribution_error
    assert 6 * MIB < layered.push_bytes < 8.5 * MIB  # the random layer, not the base's
    assert layered.push_after_baseline_bytes == 0  # the baseline adds nothing after itself
    assert layered.push_s > 0
    assert layered.compressed_stored and layered.compressed_bytes > layered.push_bytes


@pytest.mark.parametrize("builder", [Builder.LEGACY, Builder.BUILDKIT])
def test_an_export_import_image_shares_nothing_with_the_base(pushed, builder):
    squashed = by_key(pushed)[("export-import", builder)]
    layered = by_key(pushed)[("layered", builder)]
    assert 6 * MIB < squashed.push_after_baseline_bytes < 8.5 * MIB
    assert squashed.push_bytes > layered.push_bytes  # it carries the base's files again
    assert squashed.pull_s > 0 and squashed.pull_bytes >= squashed.push_bytes


@pytest.fixture
def base_layers(registry, docker_client, busybox) -> set[str]:
    """The blob digests of the base's layers, as a push of the base makes them."""
    address, _ = registry
    probe = f"{address}/harness-test/base-probe:base"
    docker_client.images.get(busybox).tag(probe)
    try:
        distribute.docker_cli_call("push", probe)
        return {digest for digest, _ in
                distribute.registry_image(address, "harness-test/base-probe", "base").layers}
    finally:
        distribute.delete_repository(address, "harness-test/base-probe")
        docker_client.images.remove(probe)


@pytest.mark.parametrize("builder", [Builder.LEGACY, Builder.BUILDKIT])
def test_every_builders_image_is_pulled_cold(registry, pushed, base_layers, builder):
    """BuildKit's build cache kept its layers on the engine, so its pulls were not cold and
    went unrecorded; they are pulled on the emptied throwaway engine now, and each pull is
    what the registry's log says it served of the image's own (on the containerd store a
    base harness imported keeps no compressed blob, so its layer is served again)."""
    log = registry[1] / "harness" / "registry" / "registry.log"
    for variant in ("layered", "export-import"):
        sample = by_key(pushed)[(variant, builder)]
        assert sample.distribution_error is None and sample.pull_s > 0
        repository = distribute.run_registry_repository(
            pushed.run_id, f"distribution/{variant}-{builder}-{sample.repetition}")
        assert sample.pull_bytes == served_bytes(log, repository, 0, excluding=base_layers)
        # what only it holds comes back; BuildKit on Docker 26 also pushes an attestation
        # manifest (and its blobs) that a pull never fetches
        attestation = sample.push_bytes - sample.pull_bytes
        assert attestation == 0 or (builder == Builder.BUILDKIT and 0 < attestation < 8192)


def served_bytes(log: Path, repository: str, since: int,
                 excluding: set[str] = frozenset()) -> int:
    """What the registry's own access log says it sent a docker client (not harness, whose
    python-requests reads manifests for its own accounting) of `repository` after byte
    `since` of the log: every blob and manifest GET answered 200, with its bytes; not the
    blobs `excluding` names."""
    text = log.read_bytes()[since:].decode(errors="replace")
    return sum(int(written) for reference, written, agent in re.findall(
        rf'"GET /v2/{re.escape(repository)}/(?:blobs|manifests)/(\S+) HTTP/1\.1" 200 (\d+) '
        rf'"[^"]*" "([^"]*)"', text)
        if not agent.startswith("python-requests") and reference not in excluding)


def test_buildkit_pull_bytes_is_what_the_registry_served(registry, docker_client, tmp_path,
                                                          busybox, base_layers):
    """The ground truth of a pull: the registry's own log of what it sent the pulling engine
    (the manifests, an index on Docker 26, the config and the layers; no attestation), of
    the image's own: on the containerd store the base's layer is served again when the
    puller's content store no longer has its compressed blob (when this test runs first)."""
    address, state = registry
    log = state / "harness" / "registry" / "registry.log"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {busybox}\nRUN head -c 3000000 /dev/urandom > /r\nRUN echo two > /two\n")
    tag = f"harness-test/served:{new_run_id().lower()}"
    built = build(Builder.BUILDKIT, BuildRequest(context=tmp_path, tag=tag, labels={},
                                                 no_cache=True), docker_client)
    assert built.ok, built.log_tail
    since = log.stat().st_size
    try:
        with runner_for_run(True) as (remote, missing):
            assert missing is None, missing
            shipped = distribute.distribute(docker_client, address, "harness-test/served",
                                            tag, busybox, note_tag=lambda tag: None,
                                            puller=remote)
    finally:
        docker_client.images.remove(tag, force=True)
    assert shipped.pull_not_cold is None and shipped.pull_bytes is not None
    assert shipped.pull_bytes == served_bytes(log, "harness-test/served", since,
                                              excluding=base_layers) > 3_000_000


def test_push_bytes_is_what_the_registry_stored(registry, docker_client, tmp_path, busybox):
    """The ground truth: the blob files a push adds to the registry's storage."""
    address, state = registry
    blobs = state / "harness" / "registry" / "storage" / "docker" / "registry" / "v2" / "blobs"
    (tmp_path / "f").write_text("x\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:latest\nRUN head -c 2000000 /dev/urandom > /r\nCOPY f /f\n")
    image, _ = docker_client.images.build(path=str(tmp_path), labels=engine.run_labels("t"),
                                          rm=True)
    docker_client.api.tag("busybox:latest", f"{address}/harness-test/gt", "base")
    distribute.docker_cli_call("push", f"{address}/harness-test/gt:base")
    before = {p: p.stat().st_size for p in blobs.rglob("data")}
    shipped = distribute.distribute(docker_client, address, "harness-test/gt", image.id,
                                    "busybox:latest", note_tag=lambda tag: None)
    added = sum(p.stat().st_size for p in blobs.rglob("data") if p not in before)
    assert shipped.push_bytes == added  # and distribute removed its tags and the image
    assert not docker_client.images.list(name=f"{address}/harness-test/gt")


def test_the_run_leaves_no_tag_and_no_manifest(pushed, registry, docker_client):
    address = registry[0]
    assert not [tag for image in docker_client.images.list() for tag in image.tags
                if tag.startswith(address)]
    catalog = requests.get(f"http://{address}/v2/_catalog", timeout=10).json()
    for repository in catalog["repositories"]:
        tags = requests.get(f"http://{address}/v2/{repository}/tags/list", timeout=10).json()
        assert not tags.get("tags"), repository


def test_clean_removes_a_registry_tag_the_ledger_noted(docker_client, monkeypatch, tmp_path,
                                                       busybox):
    """A run stopped between tagging for a push and untagging leaves the tag: clean finds it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    run_id = new_run_id()
    reference = f"127.0.0.1:{PORT}/harness-run/{run_id.lower()}/s/v-legacy-1:image"
    engine.note_leftovers(engine.ledger_path(run_id), [], tags=[reference])
    docker_client.api.tag("busybox:latest", *reference.rsplit(":", 1))
    engine.remove_run(docker_client, run_id)
    assert not docker_client.images.list(name=reference.rsplit(":", 1)[0])
    assert docker_client.images.get("busybox:latest")  # the image itself is not harness's


def pulled_base_scenario(tmp_path, reference, recipe):
    (tmp_path / "pulled.yaml").write_text(textwrap.dedent(f"""\
        bases:
          {reference}: {recipe}
        repeat: 1
        cache: [cold]
        builders: [legacy]
        run: {{start_repeat: 1, command: ["/bin/busybox", "true"]}}
        variants:
          on-pulled: {{dockerfile: "FROM {reference}\\nCOPY f /f\\n"}}
        files: {{f: "x\\n"}}
        """))
    return Run(run_id=new_run_id(), started_at=now(), environment={}, options=RunOptions(),
               scenarios=[load_scenario(tmp_path / "pulled.yaml")])


@pytest.mark.parametrize("recipe", ["{scratch: {files: {/bin/busybox: /bin/busybox}}, "
                                    "pull: true}", "{pull: true}"])
def test_a_base_that_says_pull_true_is_pulled_from_the_local_registry(registry, docker_client,
                                                                      tmp_path, busybox,
                                                                      recipe):
    address = registry[0]
    reference = f"{address}/harness-test/pulled:1"
    docker_client.api.tag(busybox, f"{address}/harness-test/pulled", "1")
    distribute.docker_cli_call("push", reference)
    docker_client.images.remove(reference)
    run = pulled_base_scenario(tmp_path, reference, recipe)
    try:
        run_scenarios(Runner(docker_client, run, save=lambda r: None,
                             progress=lambda p, done: None))
        (base,) = run.bases
        assert (base.reference, base.action, base.origin) == (reference, "pulled", "pulled")
        assert [s.status for s in run.samples] == ["ok"]
    finally:
        engine.remove_run(docker_client, run.run_id)
        docker_client.images.remove(reference)
        distribute.delete_repository(address, "harness-test/pulled", tags=("1",))


def test_a_pull_only_base_that_cannot_be_pulled_fails_with_the_registrys_answer(
        registry, docker_client, tmp_path):
    reference = f"{registry[0]}/harness-test/never-pushed:1"
    run = pulled_base_scenario(tmp_path, reference, "{pull: true}")
    try:
        run_scenarios(Runner(docker_client, run, save=lambda r: None,
                             progress=lambda p, done: None))
    finally:
        engine.remove_run(docker_client, run.run_id)
    (sample,) = run.samples
    assert sample.status == "failed"
    assert f"base image {reference} is declared `pull: true` with no recipe, and its pull " \
           "failed: the registry answered: " in (sample.error or "")
    # the registry's own words, as each engine relays them
    assert "manifest unknown" in (sample.error or "") or "not found" in (sample.error or "")


def test_a_registry_scenario_starts_a_registry_for_its_run_and_stops_it(
        docker_client, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("HARNESS_REGISTRY", raising=False)
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / "own.yaml").write_text("registry: true\n" + textwrap.dedent(
        DISTRIBUTION).replace("  export-import: {extends: layered, squash: export-import}\n",
                              "").replace("6291456", "100000"))
    (tmp_path / "other.yaml").write_text(textwrap.dedent(DISTRIBUTION).replace(
        "  export-import: {extends: layered, squash: export-import}\n", "").replace(
        "6291456", "1000"))
    with started_run([load_scenario(tmp_path / "own.yaml"), load_scenario(tmp_path /
                                                                          "other.yaml")],
                     RunOptions(allow_concurrent=True), tmp_path / "out",
                     progress=lambda p, done: None) as (runner, _):
        run_scenarios(runner)
        address = runner.run.options.registry
    assert address == f"127.0.0.1:{DEFAULT_PORT}"
    pushed = {s.scenario: s.push_bytes for s in runner.run.samples}
    assert pushed["own"] and pushed["other"] is None  # only the scenario that asks for it
    assert local_registry() is None  # stopped, as the run started it
    assert not (tmp_path / "state" / "harness" / "registry" / "storage").exists()


def test_cache_remote_gives_a_cold_runner_every_step_from_the_registry(registry, docker_client,
                                                                       tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the CI runner is an engine flavour: root only")
    runner_was_up = engine.engine_answers(host=RUNNER.host)
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / "remote.yaml").write_text(textwrap.dedent(DISTRIBUTION).replace(
        "cache: [cold]", "cache: [remote]\nbuilders: [buildkit, legacy]").replace(
        "  export-import: {extends: layered, squash: export-import}\n", ""))
    with started_run([load_scenario(tmp_path / "remote.yaml")],
                     RunOptions(registry=registry[0], allow_concurrent=True), tmp_path / "out",
                     progress=lambda p, done: None) as (runner, _):
        run_scenarios(runner)
    samples = {s.builder: s for s in runner.run.samples}
    remote = samples[Builder.BUILDKIT]
    assert (remote.status, remote.steps_cached, remote.steps_total) == ("ok", 2, 2), remote.error
    assert remote.build_s > 0 and remote.cache_warning is None
    assert samples[Builder.LEGACY].status == "skipped"
    assert "BuildKit" in samples[Builder.LEGACY].error
    assert engine.engine_answers(host=RUNNER.host) == runner_was_up  # stopped if it started it
    address = registry[0]
    catalog = requests.get(f"http://{address}/v2/_catalog", timeout=10).json()["repositories"]
    for repository in catalog:  # the cache image is deleted after the run
        assert not requests.get(f"http://{address}/v2/{repository}/tags/list",
                                timeout=10).json().get("tags"), repository


def test_registry_down_stops_it_and_deletes_its_storage(tmp_path):
    """On a registry of its own: stopping the module's would fail the tests after it."""
    port = PORT + 2
    address, state = f"127.0.0.1:{port}", tmp_path / "state"
    assert harness("registry", "up", "--port", str(port), state=state).returncode == 0
    again = harness("registry", "up", "--port", str(port), state=state)
    assert "registry answers at" in again.stderr and "starting" not in again.stderr
    down = harness("registry", "down", state=state)
    assert down.returncode == 0, down.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}/v2/", timeout=5)
    assert not (state / "harness" / "registry" / "storage").exists()


def pushing_to(address: str) -> bool:
    """A `docker push` to the registry at `address` runs now."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"push" in words and any(w.startswith(address.encode()) for w in words):
            return True
    return False


def test_a_registry_killed_mid_push_stops_the_run_naming_it_with_the_samples_saved(
        tmp_path, docker_client, busybox):
    port = PORT + 1  # a registry of its own: the module's stays up for the other tests
    address = f"127.0.0.1:{port}"
    state = tmp_path / "state"
    assert harness("registry", "up", "--port", str(port), state=state).returncode == 0
    pid = int((state / "harness" / "registry" / "registry.pid").read_text())
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / "big.yaml").write_text(textwrap.dedent("""\
        repeat: 1
        cache: [cold]
        builders: [legacy]
        run: {start_repeat: 1, command: ["true"]}
        variants:
          big: {dockerfile: "FROM busybox:latest\\nRUN head -c 134217728 /dev/urandom > /r\\n"}
          second: {dockerfile: "FROM busybox:latest\\nRUN echo second > /s\\n"}
        """))
    run = subprocess.Popen([sys.executable, "-m", "harness", "run", str(tmp_path / "big.yaml"),
                            "--registry", address, "--order", "sequential",
                            "--out", str(tmp_path / "out")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not pushing_to(address) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pushing_to(address), "no push to the registry was seen"
        os.kill(pid, signal.SIGKILL)
        _, stderr = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
        harness("registry", "down", state=state)
    assert run.returncode == 2, stderr
    assert f"harness: the registry at {address} stopped answering; 1 sample(s) are saved" \
        in stderr
    assert "Traceback" not in stderr
    (results,) = (tmp_path / "out").glob("*.json")
    document = store.load(results)
    assert document["state"] == "registry-lost"
    (saved,) = document["samples"]
    assert (saved["variant"], saved["status"]) == ("big", "ok")
    assert saved["push_bytes"] is None and saved["distribution_error"]
    assert not docker_client.images.list(name=f"harness-run/{document['run_id'].lower()}")
