"""The runner on the real engine, with tiny busybox images."""

import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from harness import buildah, engine, store
from harness.compare import compare_runs, parse_thresholds
from harness.model import (
    NOT_READ,
    Builder,
    CacheMode,
    Order,
    Run,
    RunOptions,
    Status,
    new_run_id,
    now,
)
from harness.runner import Runner, run_scenarios
from harness.scenario import load_scenario

from .helpers import image_ids

pytestmark = pytest.mark.docker
SCENARIOS = Path(__file__).parent.parent / "scenarios"

TINY = """\
description: tiny busybox scenario for the runner tests
files:
  deps.txt: "busybox\\n"
  app/main.sh: "echo hello\\n"
repeat: 2
builders: [legacy, buildkit, buildah]
incremental:
  append: {path: app/main.sh, text: "# changed\\n"}
run: {start_repeat: 2}
variants:
  copy-late:
    dockerfile: |
      FROM busybox:latest
      COPY deps.txt /deps.txt
      RUN cat /deps.txt > /installed
      COPY app /app
      RUN cat /app/main.sh > /copied
      CMD ["sh", "/app/main.sh"]
"""


def scenario_folder(tmp_path: Path, text: str, name: str = "tiny.yaml") -> Path:
    (tmp_path / "bases.yaml").write_text((SCENARIOS / "bases.yaml").read_text())
    (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path / name


def run_in_process(client, path: Path, **options) -> Run:
    run = Run(run_id=new_run_id(), started_at=now(), environment={},
              options=RunOptions(**options), scenarios=[load_scenario(path)])
    return run_scenarios(Runner(client, run, save=lambda r: None, progress=lambda p, done: None))


def harness_run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "run", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def run_containers(client, run_id: str) -> list:
    return client.containers.list(all=True, filters={"label": f"harness.run={run_id}"})


@pytest.fixture(scope="module")
def cache_run(docker_client, tmp_path_factory):
    """One run of the tiny scenario, images kept for inspection, removed afterwards. Its
    content is its own: on the containerd store an identical image of another test's run
    has the same id, and that run's cleanup would remove it."""
    path = scenario_folder(tmp_path_factory.mktemp("tiny"), TINY.replace(
        'deps.txt: "busybox\\n"', f'deps.txt: "busybox {uuid.uuid4().hex}\\n"'))
    run = run_in_process(docker_client, path, keep_images=True)
    yield run
    engine.remove_run(docker_client, run.run_id)
    buildah.remove_run(run.run_id)


def samples(run: Run, builder: Builder, cache: CacheMode) -> list:
    found = [s for s in run.samples if (s.builder, s.cache) == (builder, cache)]
    assert len(found) == 2 and all(s.status is Status.OK for s in found), found
    return found


@pytest.mark.parametrize("builder", list(Builder))
def test_cold_builds_use_no_cache(cache_run, builder):
    for sample in samples(cache_run, builder, CacheMode.COLD):
        assert (sample.steps_total, sample.steps_cached) == (4, 0)


@pytest.mark.parametrize("builder", list(Builder))
def test_warm_builds_are_fully_cached(cache_run, builder):
    for sample in samples(cache_run, builder, CacheMode.WARM):
        assert sample.steps_cached == sample.steps_total == 4


@pytest.mark.parametrize("builder", list(Builder))
def test_incremental_change_invalidates_from_its_copy_on(cache_run, builder):
    for sample in samples(cache_run, builder, CacheMode.INCREMENTAL):
        assert (sample.steps_total, sample.steps_cached) == (4, 2)  # COPY deps, RUN reused
        if builder is Builder.BUILDKIT:
            assert len(sample.step_durations_s) == 4


def test_size_and_layers_are_what_docker_inspect_says(cache_run, docker_client):
    ok = [s for s in cache_run.samples if s.status is Status.OK]
    assert len(ok) == 18
    classic = engine.image_store(docker_client.info()) == "classic"  # containerd: compressed
    for sample in ok:
        attrs = docker_client.api.inspect_image(sample.image_id)
        assert sample.size_bytes == attrs["Size"] or not classic
        assert sample.layer_count == len(attrs["RootFS"]["Layers"]) == 6
        base = docker_client.api.inspect_image("busybox:latest")
        assert sample.base_size_bytes == base["Size"] or not classic
        assert sample.base_layer_count == len(base["RootFS"]["Layers"])
        assert sample.start_status is Status.OK and len(sample.start_samples_s) == 2
        assert 0 < sample.compressed_bytes < sample.size_bytes
        assert sample.wasted_bytes == 0
        assert sample.start_s == statistics.median(sample.start_samples_s)


def test_the_timed_build_is_the_users_dockerfile_exactly(cache_run, docker_client):
    """No label added (the legacy builder would add it as a step), only a run-unique tag;
    the base's own labels are inherited as in any build FROM it. buildah adds its own
    version label, as the user's `buildah build` does."""
    base_labels = docker_client.api.inspect_image("busybox:latest")["Config"]["Labels"]
    base_steps = len(docker_client.api.history("busybox:latest"))
    for record in cache_run.images:
        attrs = docker_client.api.inspect_image(record.image_id)
        assert attrs["Config"]["Labels"] == base_labels | (
            {"io.buildah.version": buildah.version()} if record.builder == "buildah" else {})
        added = [e.created_by for e in record.history[base_steps:]]
        assert len(added) == 5 and not [step for step in added if "LABEL" in step]
        assert [t for t in attrs["RepoTags"]
                if t.startswith(engine.run_repository(cache_run.run_id) + ":")]


def test_history_is_kept_once_per_variant_and_builder(cache_run):
    assert sorted(r.builder for r in cache_run.images) == ["buildah", "buildkit", "legacy"]
    for record in cache_run.images:
        assert any("/copied" in entry.created_by for entry in record.history)
        assert len(record.layers.layers) == 6


def test_the_users_files_are_never_modified(cache_run):
    scenario = cache_run.scenarios[0]
    assert scenario.files["app/main.sh"] == "echo hello\n"
    assert "# changed" not in Path(scenario.path).read_text().split("text:")[0]


def test_failing_variant_is_recorded_and_the_others_finish_exit_1(docker_client, tmp_path):
    path = scenario_folder(tmp_path, TINY + """\
  broken:
    dockerfile: |
      FROM busybox:latest
      RUN echo about-to-fail && exit 7
""")
    result = harness_run(str(path), "--repeat", "1", "--cache", "cold", "--out",
                         str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    (results_file,) = (tmp_path / "out").glob("*.json")
    document = store.load(results_file)
    by_variant = {(s["variant"], s["builder"]): s for s in document["samples"]}
    for builder in Builder:
        assert by_variant[("copy-late", builder)]["status"] == "ok"
        failed = by_variant[("broken", builder)]
        assert failed["status"] == "failed"
        assert "about-to-fail" in failed["error"]
    assert document["state"] == "complete"
    assert f"results: {results_file}" in result.stdout
    report = results_file.with_suffix(".md").read_text()
    assert "| broken " in report and "failed: " in report
    assert run_containers(docker_client, document["run_id"]) == []
    repository = engine.run_repository(document["run_id"])
    assert docker_client.images.list(filters={"reference": repository}) == []


def test_a_container_that_never_gets_ready_times_out_cleanly(docker_client, tmp_path):
    path = scenario_folder(tmp_path, """\
        run: {ready_log: "^ready$", timeout_s: 2, start_repeat: 1}
        variants:
          never-ready:
            dockerfile: |
              FROM busybox:latest
              CMD ["sh", "-c", "echo starting; sleep 60"]
          ready:
            dockerfile: |
              FROM busybox:latest
              CMD ["sh", "-c", "echo ready; sleep 60"]
        expect:
          - ready.layer_count > 0
          - {expr: ready.build_s > 0, cache: [warm]}
        """)
    started = time.monotonic()
    run = run_in_process(docker_client, path, repeat=1, cache=(CacheMode.COLD,),
                         builders=(Builder.LEGACY,))
    never, ready = run.samples
    assert never.status is Status.OK and never.start_status is Status.FAILED
    assert never.start_error == "no log line matched /^ready$/ within 2 s"
    assert ready.start_status is Status.OK and 0 < ready.start_s < 2
    assert time.monotonic() - started < 30
    assert run_containers(docker_client, run.run_id) == []
    # only cold builds ran: the warm-only claim is not evaluated rather than failed
    assert [v.expr for v in run.verdicts["tiny"]] == ["ready.layer_count > 0"]


def test_interrupting_a_run_leaves_a_valid_file_and_no_containers(docker_client, tmp_path):
    path = scenario_folder(tmp_path, TINY.replace("repeat: 2", "repeat: 5"))
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--out",
                                str(out)], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until some samples are saved
        files = list(out.glob("*.json"))
        if files and len(json.loads(files[0].read_text())["samples"]) >= 3:
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr
    (results_file,) = out.glob("*.json")
    document = store.load(results_file)
    assert document["state"] == "interrupted"
    assert 3 <= len(document["samples"]) < 30
    assert document["ended_at"]
    assert run_containers(docker_client, document["run_id"]) == []
    assert "Traceback" not in stderr
    assert not list(out.glob(".*.tmp"))


class SocketProxy:
    """A unix-socket proxy to the engine that can be cut, as if the engine died."""

    def __init__(self, path: Path) -> None:
        # the engine the tests use (DOCKER_HOST: the flavour's, in the engines session); the
        # default engine's socket here once left this test's images there, unremoved
        self.path = path
        self.upstream = engine.docker_host().removeprefix("unix://")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(64)
        self.open: list[socket.socket] = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream)
            self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.server.close()
        self.path.unlink()
        for connection in self.open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


def test_engine_lost_mid_run_ends_with_one_message_and_keeps_the_results(docker_client,
                                                                           busybox, tmp_path):
    path = scenario_folder(tmp_path, TINY.replace("repeat: 2", "repeat: 5"))
    before = image_ids(docker_client)
    proxy = SocketProxy(tmp_path / "engine.sock")
    out = tmp_path / "out"
    env = {**os.environ, "DOCKER_HOST": f"unix://{proxy.path}"}
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--out",
                                str(out), "--builder", "legacy"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        files = list(out.glob("*.json"))
        if files and len(json.loads(files[0].read_text())["samples"]) >= 3:
            break
        time.sleep(0.1)
    proxy.cut()
    _, stderr = process.communicate(timeout=120)
    (results_file,) = out.glob("*.json")
    document = store.load(results_file)
    engine.remove_run(docker_client, document["run_id"])
    remove_newest_first(docker_client, image_ids(docker_client) - before)

    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith("harness: the Docker engine stopped answering")
    assert document["state"] == "engine-lost"
    assert len(document["samples"]) >= 3


def remove_newest_first(client, leftovers: set[str]) -> None:
    """Images the engine made that no run knows of: a legacy step it committed after the
    connection was cut, whose ID never reached harness (3 runs in 8 here). Removed by the
    test that cut it, so the engine is left as it was found; children before parents."""
    for image in sorted((client.images.get(i) for i in leftovers),
                        key=lambda image: image.attrs["Created"], reverse=True):
        client.images.remove(image.id)


TWO_SIZES = """\
description: two sizes, for shards
repeat: 1
cache: [cold]
run: {start_repeat: 1}
variants:
  small:
    dockerfile: |
      FROM busybox:latest
      RUN echo small > /f
  big:
    dockerfile: |
      FROM busybox:latest
      RUN head -c 100000 /dev/zero > /f
expect:
  - small.size_bytes < big.size_bytes
"""


def test_shards_run_on_a_named_buildx_builder_and_merge_into_one_judged_run(tmp_path):
    path = scenario_folder(tmp_path, TWO_SIZES)
    for shard in ("1/2", "2/2"):
        done = harness_run(str(path), "--shard", shard, "--buildx-builder", "default",
                           "--out", str(tmp_path / "shards"), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    shards = sorted((tmp_path / "shards").glob("*.json"))
    measured = [{(s["variant"], s["builder"]) for s in store.load(p)["samples"]} for p in shards]
    # the matrix is small/legacy, small/buildkit, big/legacy, big/buildkit: stride 2
    assert sorted(measured, key=sorted) == [{("big", "buildkit"), ("small", "buildkit")},
                                            {("big", "legacy"), ("small", "legacy")}]
    assert all(store.load(p)["options"]["buildx_builder"] == "default" for p in shards)
    out = tmp_path / "merged.json"
    done = subprocess.run([sys.executable, "-m", "harness", "merge", *map(str, shards), "-o",
                           str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    merged = store.load(out)
    assert len(merged["samples"]) == 4 and all(s["status"] == "ok" for s in merged["samples"])
    (claim,) = merged["expectations"]
    assert claim["passed"] and len(claim["values"]) == 2


def test_an_unknown_buildx_builder_fails_the_buildkit_builds_naming_it(docker_client, tmp_path):
    path = scenario_folder(tmp_path, TWO_SIZES)
    run = run_in_process(docker_client, path, builders=(Builder.BUILDKIT,),
                         buildx_builder="no-such-builder", select="small")
    (sample,) = run.samples
    assert sample.status is Status.FAILED
    assert "no-such-builder" in (sample.error or "")


ORDERED = """\
description: two tiny variants for the order of repetitions
repeat: 3
cache: [cold, warm]
builders: [legacy]
run: {start_repeat: 1}
variants:
  a:
    dockerfile: |
      FROM busybox:latest
      RUN echo a > /a
  b:
    dockerfile: |
      FROM busybox:latest
      RUN echo b > /b
"""


@pytest.mark.parametrize(("order", "seed", "cold"), [
    (Order.INTERLEAVED, None, "ababab"),
    (Order.SEQUENTIAL, None, "aaabbb"),
])
def test_repetitions_are_interleaved_or_sequential(docker_client, tmp_path, order, seed, cold):
    run = run_in_process(docker_client, scenario_folder(tmp_path, ORDERED), order=order,
                         seed=seed)
    engine.remove_run(docker_client, run.run_id)
    for cache, expected in ((CacheMode.COLD, cold), (CacheMode.WARM, "aaabbb")):
        mine = [s for s in run.samples if s.cache is cache]
        assert "".join(s.variant for s in mine) == expected  # warm: each variant's own cache
        assert all(s.status is Status.OK and s.cache_warning is None for s in mine)


def test_a_seed_shuffles_each_turn_and_is_recorded(docker_client, tmp_path):
    path = scenario_folder(tmp_path, ORDERED)
    orders = []
    for _ in range(2):
        run = run_in_process(docker_client, path, order=Order.INTERLEAVED, seed=7,
                             cache=(CacheMode.COLD,))
        engine.remove_run(docker_client, run.run_id)
        orders.append("".join(s.variant for s in run.samples))
        assert store.run_record(run)["options"]["seed"] == 7
    assert orders[0] == orders[1]  # the same seed, the same order
    assert sorted(orders[0]) == list("aaabbb")
    turns = [orders[0][i:i + 2] for i in range(0, 6, 2)]
    assert all(sorted(turn) == ["a", "b"] for turn in turns)  # each turn has every variant


def test_warm_repetitions_each_measure_their_own_start(docker_client, tmp_path):
    run = run_in_process(docker_client, scenario_folder(tmp_path, ORDERED), repeat=5,
                         cache=(CacheMode.WARM,), select="/a")
    engine.remove_run(docker_client, run.run_id)
    warm = [s for s in run.samples if s.cache is CacheMode.WARM]
    assert len({s.image_id for s in warm}) == 1  # the same image every time...
    assert len({s.start_s for s in warm}) == 5  # ...started anew each time


def test_two_identical_runs_differ_in_no_byte_metric(docker_client, tmp_path):
    path = scenario_folder(tmp_path, TINY)
    runs = []
    for _ in range(2):
        run = run_in_process(docker_client, path, cache=(CacheMode.COLD, CacheMode.WARM))
        engine.remove_run(docker_client, run.run_id)
        runs.append(json.loads(json.dumps(store.run_record(run), default=str)))
    changes = compare_runs(runs[0], runs[1], parse_thresholds([]))
    assert {c.metric for c in changes} >= {"size_bytes", "compressed_bytes", "wasted_bytes",
                                            "layer_count", "start_s", "build_s"}
    assert [c for c in changes if c.metric.endswith("_bytes") and c.significant] == []


SLEEPY = """\
description: a RUN that sleeps, to be interrupted
repeat: 1
cache: [cold]
builders: [legacy, buildkit, buildah]
run: {start_repeat: 1}
variants:
  sleeps:
    dockerfile: |
      FROM busybox:latest
      RUN echo before > /before
      RUN sleep 47
"""


def sleeping() -> bool:
    """A `sleep 47` runs on the host (both builders' RUN steps are host processes)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if cmdline.read_bytes() == b"sleep\x0047\x00":
                return True
    return False


@pytest.mark.parametrize("builder", list(Builder))
def test_sigint_during_a_build_exits_130_and_leaves_nothing(docker_client, tmp_path, builder,
                                                            busybox):
    path = scenario_folder(tmp_path, SLEEPY)
    if builder is Builder.BUILDAH:  # the run copies its base into buildah's storage, kept
        buildah.copy_base(docker_client, "busybox:latest")
    base_copies = buildah_listing("images") if builder is Builder.BUILDAH else ""
    images = image_ids(docker_client)
    containers = {c.id for c in docker_client.containers.list(all=True)}
    process = subprocess.Popen([sys.executable, "-m", "harness", "run", str(path), "--builder",
                                builder, "--out", str(tmp_path / "out")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not sleeping() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert sleeping(), "the RUN step never started"
    process.send_signal(signal.SIGINT)  # to harness alone, not to its builder
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert image_ids(docker_client) == images
    assert {c.id for c in docker_client.containers.list(all=True)} == containers
    assert not sleeping()
    if builder is Builder.BUILDAH:  # its build container and step image, in its storage
        assert buildah_listing("containers") == "" and buildah_listing("images") == base_copies


def buildah_listing(what: str) -> str:
    return subprocess.run(buildah.storage().command(what, "--quiet", "--all"), check=True,
                          capture_output=True, text=True).stdout


def test_a_ci_log_gets_a_line_per_sample_and_json_gets_the_summary(docker_client, tmp_path):
    path = scenario_folder(tmp_path, ORDERED)
    result = harness_run(str(path), "--cache", "cold", "--repeat", "2", "--json", "--out",
                         str(tmp_path / "out"), "--machine", "nightly-runner", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in lines] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert re.fullmatch(r"\[1/4\] tiny/a legacy cold rep 1: build [\d.]+ s, [\d.]+ MB "
                        r"\(elapsed \dm\d\ds, ETA \dm\d\ds\)", lines[0]), lines[0]
    summary = json.loads(result.stdout)
    assert {g["variant"] for g in summary["groups"]} == {"a", "b"}
    (results,) = (tmp_path / "out").glob("*.json")
    assert store.load(results)["environment"]["fingerprint"] == "nightly-runner"
    # each variant's diff against the baseline, linked from the report
    diff = results.with_suffix(".diffs") / "tiny.b.legacy.md"
    assert diff.read_text().startswith("B is the same size as A\n")
    assert re.search(r"^\| /b +\| added +\| \+2 ", diff.read_text(), re.MULTILINE)
    assert "Layers only B has: layer 2: /bin/sh -c echo b > /b" in diff.read_text()
    assert f"[b (legacy)]({results.stem}.diffs/tiny.b.legacy.md)" in \
        results.with_suffix(".md").read_text()


PLANTED = """\
description: later repetitions read by their layer sizes, unless a file differs
repeat: 3
cache: [cold]
builders: [legacy, buildkit]
run: {start_repeat: 1}
variants:
  same:
    dockerfile: |
      FROM busybox:latest
      RUN head -c 5000 /dev/zero > /same
  planted:
    dockerfile: |
      FROM busybox:latest
      RUN n=$((0x$(head -c 8 /proc/sys/kernel/random/uuid) % 1000000 + 1)); \\
          head -c $n /dev/zero > /planted
"""


def test_a_later_repetition_takes_the_first_ones_figures_only_if_its_layer_sizes_match(
        docker_client, tmp_path):
    from harness import images

    run = run_in_process(docker_client, scenario_folder(tmp_path, PLANTED), keep_images=True)
    classic = engine.image_store(docker_client.info()) == "classic"  # containerd: compressed
    try:
        for builder in (Builder.LEGACY, Builder.BUILDKIT):
            same, planted = ([s for s in run.samples if (s.variant, s.builder) == (v, builder)]
                             for v in ("same", "planted"))
            assert [s.figures_from for s in same] == [None, "cold 1", "cold 1"]
            assert [s.figures_from for s in planted] == [None, None, None]
            assert len({s.size_bytes for s in planted}) == 3  # each its own planted file
            assert len({s.image_id for s in same}) == 3
            images.READ_IMAGES.clear()  # each image read in full anew, with no cache
            for sample in same + planted:
                read = images.analyse_engine_image(docker_client, sample.image_id,
                                                   cache_dir=tmp_path / "fresh")
                assert (sample.size_bytes, sample.layer_count, sample.wasted_bytes) == (
                    read.unpacked_bytes, len(read.layers), read.wasted_bytes)
                assert sample.size_bytes == docker_client.api.inspect_image(
                    sample.image_id)["Size"] or not classic
        store.save(run, tmp_path / "run.json")
        assert [s["figures_from"] for s in store.load(tmp_path / "run.json")["samples"]
                if s["variant"] == "same"] == [None, "cold 1", "cold 1"] * 2
    finally:
        engine.remove_run(docker_client, run.run_id)


def test_a_run_that_reads_cold_builds_alone_leaves_the_others_figures_unread(
        docker_client, tmp_path, monkeypatch):
    from harness import images

    text = TINY.replace("repeat: 2", "repeat: 1").replace("[legacy, buildkit, buildah]",
                                                          "[legacy]")
    path = scenario_folder(tmp_path, text.replace(
        'deps.txt: "busybox\\n"', f'deps.txt: "busybox {uuid.uuid4().hex}\\n"'))
    read: list[str] = []
    real_read = images.read_engine

    def read_engine(client, reference, *args, **kwargs):
        read.append(client.api.inspect_image(reference)["Id"])
        return real_read(client, reference, *args, **kwargs)

    monkeypatch.setattr(images, "read_engine", read_engine)
    run = run_in_process(docker_client, path, keep_images=True,
                         read_images_of=(CacheMode.COLD,))
    try:
        by_cache = {s.cache: s for s in run.samples}
        assert set(by_cache) == {CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL}
        assert all(s.status is Status.OK and s.build_s and s.start_s for s in run.samples)
        cold = by_cache[CacheMode.COLD]
        assert cold.figures_from is None and cold.size_bytes and cold.layer_count
        if engine.image_store(docker_client.info()) == "classic":
            assert cold.size_bytes == docker_client.api.inspect_image(cold.image_id)["Size"]
        for sample in (by_cache[CacheMode.WARM], by_cache[CacheMode.INCREMENTAL]):
            assert sample.figures_from == NOT_READ
            assert (sample.size_bytes, sample.layer_count, sample.compressed_bytes,
                    sample.wasted_bytes) == (None, None, None, None)
        incremental = by_cache[CacheMode.INCREMENTAL].image_id
        assert incremental not in read and incremental != cold.image_id  # not saved at all
        assert cold.image_id in read
        store.save(run, tmp_path / "run.json")  # the schema takes the unread samples
        assert [s["figures_from"] for s in store.load(tmp_path / "run.json")["samples"]
                if s["cache"] != "cold"] == [NOT_READ, NOT_READ]
    finally:
        engine.remove_run(docker_client, run.run_id)


def cache_mount_records(client, target: str) -> set[str]:
    return {r["ID"] for r in client.df().get("BuildCache") or []
            if r.get("Type") == "exec.cachemount"
            and r.get("Description", "").startswith(f"cached mount {target} from ")}


def test_cold_builds_find_cache_mounts_empty_and_the_run_removes_them(docker_client, tmp_path):
    """A cold build finds its cache mounts empty (BuildKit's --no-cache gives a fresh one,
    measured on Docker 20.10 and 26), and an incremental build finds what an earlier one
    left: the RUN counts the mount's files into the image, then adds one. The records the run
    made are gone after it; a user's own cache mount on the same folder is neither read nor
    removed."""
    target = f"/cache-{uuid.uuid4().hex[:8]}"
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "Dockerfile").write_text(
        f"FROM busybox:latest\nRUN --mount=type=cache,target={target} touch {target}/users\n")
    built = subprocess.run([engine.docker_cli(), "buildx", "build", "--load", "-q",
                            str(theirs)], check=True, capture_output=True, text=True)
    users = cache_mount_records(docker_client, target)
    try:
        assert len(users) == 1
        measured_leaving_only(docker_client, tmp_path, target, users)
    finally:
        docker_client.images.remove(built.stdout.strip(), force=True)
        for record in users:
            docker_client.api.prune_builds(filters={"id": [f"^{record}$"]})


def measured_leaving_only(docker_client, tmp_path, target, users):
    path = scenario_folder(tmp_path, f"""\
        description: cache mounts
        files:
          app.sh: "echo hello\\n"
        incremental:
          append: {{path: app.sh, text: "# changed\\n"}}
        variants:
          mounted:
            dockerfile: |
              FROM busybox:latest
              COPY app.sh /app.sh
              RUN --mount=type=cache,target={target},id=harness-test-{target[7:]} \\
                  sh -c 'ls {target} | wc -l > /found && touch {target}/$$$$'
        """)
    run = run_in_process(docker_client, path, builders=(Builder.BUILDKIT,), keep_images=True,
                         cache=(CacheMode.COLD, CacheMode.INCREMENTAL), repeat=2)
    try:
        found = [(s.cache, s.repetition, int(docker_client.containers.run(
            s.image_id, ["cat", "/found"], remove=True))) for s in run.samples]
    finally:
        engine.remove_run(docker_client, run.run_id)
    assert [(c, r) for c, r, _ in found] == [(CacheMode.COLD, 1), (CacheMode.COLD, 2),
                                             (CacheMode.INCREMENTAL, 1),
                                             (CacheMode.INCREMENTAL, 2)]
    assert [n for _, _, n in found[:2]] == [0, 0]
    assert found[2][2] >= 1  # what an earlier build left, as a user's rebuild finds it
    assert cache_mount_records(docker_client, target) == users  # theirs only, still there
