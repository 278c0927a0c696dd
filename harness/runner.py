"""The runner: every variant, builder, cache mode and repetition: built, measured, recorded.

Only the build call is timed (`time.perf_counter()` around it); priming builds, context
copies, inspection and start timing are not. A failing variant is data, not an exception:
its samples say `failed` with the log tail and the run goes on.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions

from harness import buildah, distribute, engine, expect, registry, store
from harness.bases import BaseError, ensure_bases
from harness.build import BuildOutcome, BuildRequest, build, loaded_into_engine
from harness.cache_mounts import CacheMounts
from harness.context import DOCKERFILE_NAME, append_to, materialize
from harness.environment import collect_environment
from harness.errors import HarnessError
from harness.expect import judge
from harness.images import ImageReadError, analyse_engine_image
from harness.matrix import cache_modes_of, matrix, repeat_of
from harness.measure import StartTiming, image_history, layer_sizes, time_starts
from harness.merge import push_after_baseline
from harness.model import (
    NOT_READ,
    POST_BUILD_SQUASH,
    BaseOutcome,
    Builder,
    CacheMode,
    ImageLayers,
    ImageRecord,
    Order,
    Position,
    Run,
    RunOptions,
    RunState,
    Sample,
    Scenario,
    Squash,
    Status,
    Variant,
    new_run_id,
    now,
)
from harness.remote import RemoteRunner, remote_cache_reference, runner_for_run
from harness.series import Series, cache_warning
from harness.transform import Made, transform

NONCE = "{nonce}"


REDACTED = "***"
CLASSIC_STORE_SQUASH = {
    Squash.LEGACY: 'Docker 26 answers "error squashing image: not implemented"',
    Squash.DOCKER_SQUASH: "docker-squash reads the classic store's docker save layout",
}
"""Squash methods that need the classic image store, with what happens on containerd's."""


class EngineLost(HarnessError):
    pass


class EngineFailed(HarnessError):
    pass


class RegistryLost(HarnessError):
    """The registry push and pull are measured on stopped answering: every further cold
    sample would lose its distribution figures the same way."""


Rounds = Callable[[Callable[[], None], Callable[[], None], int], None]
"""Runs `timed` n times with an untimed `setup` before each: a plain loop, or pytest-benchmark's
pedantic mode (harness.pytest_plugin)."""


def plain_rounds(setup: Callable[[], None], timed: Callable[[], None], rounds: int) -> None:
    for _ in range(rounds):
        setup()
        timed()


Progress = Callable[[Position, int], None]
"""Told where the run is and how many samples are finished, before each build."""
Finished = Callable[[Sample, int], None]
"""Told each sample as it is recorded, with how many are finished."""


@contextmanager
def started_run(scenarios: list[Scenario], options: RunOptions, results_dir: Path,
                progress: Progress, finished: Finished = lambda sample, done: None
                ) -> Iterator[tuple[Runner, Path]]:
    """The run setup `harness run` and the pytest plugin share: a connection, the environment,
    a Runner whose run is saved after every sample, and the results file it is saved to."""
    store.check_writable(results_dir)
    client = engine.connect()
    run_id = new_run_id()
    selected = list({id(s): s for s, _, _ in matrix(scenarios, options)}.values())
    try:
        with contextlib.nullcontext() if options.allow_concurrent else engine.engine_lock(
                f"run {run_id}"), registry.for_run(options, selected) as (options, missing), \
                runner_for_run(any(CacheMode.REMOTE in cache_modes_of(s, options)
                                   or (options.registry and (options.registry_all or s.registry))
                                   for s in selected)) as (remote, remote_missing):
            run = Run(run_id=run_id, started_at=now(), options=options, scenarios=scenarios,
                      environment=collect_environment(
                          client, sorted({s.path.parent for s in scenarios}), options.machine))
            path = store.results_path(results_dir, run.run_id)
            runner = Runner(client, run, save=lambda r: store.save(r, path), progress=progress,
                            finished=finished, registry_missing=missing, remote=remote,
                            remote_missing=remote_missing)
            yield runner, path
    finally:
        client.close()


def run_scenarios(runner: Runner) -> Run:
    """Measure every selected sample of the runner's scenarios, saving after each one.

    On Ctrl-C the run is saved as interrupted; if the engine stops answering it is saved
    and EngineLost names what was finished. The run's images and containers are removed
    at the end (unless keep_images); bases are kept.
    """
    run = runner.run
    work = matrix(run.scenarios, run.options)
    with runner.finishing():
        for scenario in run.scenarios:
            mine = [(variant, builder) for s, variant, builder in work if s is scenario]
            if run.options.order is Order.SEQUENTIAL:
                for variant, builder in mine:
                    for cache in cache_modes_of(scenario, run.options):
                        runner.measure(scenario, variant, builder, cache)
                    runner.remove_images()
            else:  # cold builds in turns; warm and incremental need each variant's own cache
                caches = cache_modes_of(scenario, run.options)
                for builder in dict.fromkeys(b for _, b in mine):
                    variants = [v for v, b in mine if b is builder]
                    if CacheMode.COLD in caches:
                        runner.measure_interleaved(scenario, variants, builder, CacheMode.COLD)
                        runner.remove_images()
                    for variant in variants:
                        for cache in caches:
                            if cache is not CacheMode.COLD:
                                runner.measure(scenario, variant, builder, cache)
                        runner.remove_images()
            runner.judge(scenario)
    return run


class Runner:
    """Measures one (variant, builder, cache mode) at a time into `run`, saving each sample."""

    def __init__(self, client: docker.DockerClient, run: Run, save: Callable[[Run], None],
                 progress: Progress, finished: Finished = lambda sample, done: None, *,
                 registry_missing: str | None = None, remote: RemoteRunner | None = None,
                 remote_missing: str | None = None) -> None:
        self.client = client
        self.run = run
        self.save = save
        self.progress = progress
        self.finished = finished
        self.bases: dict[str, BaseOutcome] = {}
        self.layers: dict[str, ImageLayers] = {}
        self.read_samples: dict[tuple[str, str, Builder],
                                list[tuple[list[int], ImageLayers, str]]] = {}
        """Per (scenario, variant, builder), the images read in full: their layer sizes, their
        figures, and which sample they were read for (`cold 1`)."""
        self.buildkit_missing = None if engine.buildx_version() else \
            "BuildKit unavailable: the docker buildx plugin is not installed"
        self.buildah_missing = None if buildah.version() else buildah.MISSING
        self.buildah_bases: set[str] | None = None
        """Bases copied into buildah's storage in this run (harness.buildah.copy_base); None
        until a buildah build is set up."""
        self.secrets = sorted({variant.build_args[name] for scenario in run.scenarios
                               for variant in scenario.variants.values()
                               for name in scenario.secret_build_args
                               if variant.build_args.get(name)}, key=len, reverse=True)
        self.remote = remote
        """The CI runner of `cache: remote` builds (harness.remote)."""
        self.remote_missing = remote_missing
        self.registry_missing = registry_missing
        """Why a `registry: true` scenario has no registry (its samples are skipped)."""
        self.cache_mounts = CacheMounts(client)
        """The cache mounts the run's BuildKit builds made, removed at its end."""
        info = client.info()
        self.experimental = bool(info.get("ExperimentalBuild"))
        self.image_store = engine.image_store(info)

    @contextmanager
    def finishing(self) -> Iterator[None]:
        """Marks the run complete, interrupted or engine-lost; cleans up and saves it."""
        run = self.run
        try:
            yield
            run.state = RunState.COMPLETE
        except KeyboardInterrupt:
            run.state = RunState.INTERRUPTED
            raise
        except EngineFailed:
            run.state = RunState.ENGINE_FAILED
            raise
        except RegistryLost:
            run.state = RunState.REGISTRY_LOST
            raise
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                docker.errors.DockerException) as error:
            if engine.engine_answers():
                raise  # the engine is fine: this is a bug, keep its traceback
            run.state = RunState.ENGINE_LOST
            raise EngineLost(f"the Docker engine stopped answering ({error.__class__.__name__}); "
                             f"{len(run.samples)} finished sample(s) are saved") from None
        finally:
            run.ended_at = now()
            if run.state is not RunState.ENGINE_LOST:
                self.remove_images()
                self.cache_mounts.remove()
            self.save(run)

    def remove_images(self) -> None:
        if not self.run.options.keep_images:
            engine.remove_run(self.client, self.run.run_id)
            if self.buildah_bases is not None:
                buildah.remove_run(self.run.run_id)

    def judge(self, scenario: Scenario) -> None:
        """The scenario's claims on its measured samples (first, what each pushed image adds
        to the baseline's: the baseline's image may be built after the others)."""
        figures = push_after_baseline(self.run.samples, scenario.name, scenario.baseline)
        if figures:
            self.run.samples = [
                replace(s, push_after_baseline_bytes=figures[key]) if (
                    key := (s.variant, str(s.builder), s.repetition)) in figures
                and s.scenario == scenario.name
                else s for s in self.run.samples]
            self.save(self.run)
        self.run.verdicts[scenario.name] = judge(
            scenario.expect, [s for s in self.run.samples if s.scenario == scenario.name],
            self.image_store)

    def record(self, sample: Sample) -> None:
        """Keep and save the sample; an engine-level failure, or a registry that stopped
        answering, stops the run, naming it (every further sample would fail the same way)."""
        self.run.samples.append(replace(sample, error=self.redact(sample.error),
                                        start_error=self.redact(sample.start_error)))
        self.save(self.run)
        self.finished(self.run.samples[-1], len(self.run.samples))
        broken = engine.engine_failure(sample)
        if broken:
            raise EngineFailed(f"the Docker engine at {engine.docker_host()} cannot {broken}; "
                               f"{len(self.run.samples)} sample(s) are saved. Its error: "
                               f"{(sample.error or sample.start_error or '').splitlines()[0]}")
        address = self.run.options.registry
        if sample.distribution_error and address and not registry.answers(address):
            raise RegistryLost(f"the registry at {address} stopped answering; "
                               f"{len(self.run.samples)} sample(s) are saved. The push or "
                               f"pull's error: {sample.distribution_error.splitlines()[0]}")

    def redact(self, text: str | None) -> str | None:
        """`text` with every secret build argument's value as ***: build logs and history
        show build args (`|1 TOKEN=...`)."""
        for secret in self.secrets:
            text = text.replace(secret, REDACTED) if text else text
        return text

    def measure(self, scenario: Scenario, variant: Variant, builder: Builder, cache: CacheMode,
                rounds: Rounds = plain_rounds) -> list[Sample]:
        """The samples of one variant with one builder in one cache mode, its repetitions in
        a row (`--order sequential`, and each pytest-benchmark benchmark)."""
        first = len(self.run.samples)
        with contextlib.ExitStack() as stack:
            series = self.series(scenario, variant, builder, cache, stack)
            if series is not None and series.prime():
                rounds(series.setup, series.timed, series.repeat)
                series.record_built()
        return self.run.samples[first:]

    def measure_interleaved(self, scenario: Scenario, variants: list[Variant],
                            builder: Builder, cache: CacheMode) -> None:
        """The variants' repetitions taken in turn (A B C A B C ...), so drift on the machine
        spreads over all variants instead of biasing the one that ran during it. With a
        seed, each turn's order is shuffled. For cold builds: in warm and incremental ones
        the variants would share the builder's cache (measured: a save-load variant's
        loaded image looked cached, 2 of 2 steps, from a sibling's step images)."""
        shuffle = random.Random(self.run.options.seed) if self.run.options.seed is not None \
            else None
        with contextlib.ExitStack() as stack:
            turns = [series for variant in variants if (series := self.series(
                scenario, variant, builder, cache, stack)) is not None and series.prime()]
            for _ in range(repeat_of(scenario, self.run.options)):
                if shuffle:
                    shuffle.shuffle(turns)
                for series in turns:
                    series.setup()
                    series.timed()
                    series.record_built()

    def series(self, scenario: Scenario, variant: Variant, builder: Builder, cache: CacheMode,
               stack: contextlib.ExitStack) -> Series | None:
        """The measuring of one (variant, builder, cache mode) with its context copy; None,
        with its samples recorded as failed or skipped, when it cannot be built here."""
        repeat = repeat_of(scenario, self.run.options)
        skip = self.why_skip(variant, builder) or (
            self.registry_missing if scenario.registry else None) or (
            self.why_no_remote(builder) if cache is CacheMode.REMOTE else None)
        problem = self.ensure_bases(scenario, variant) or (
            self.copy_bases_to_buildah(variant) if builder is Builder.BUILDAH and not skip
            else None)
        if problem or skip:
            for repetition in range(1, repeat + 1):
                self.record(Sample(
                    scenario=scenario.name, variant=variant.name, builder=builder,
                    cache=cache, repetition=repetition,
                    status=Status.FAILED if problem else Status.SKIPPED, error=problem or skip))
            return None
        if builder is Builder.BUILDKIT:
            self.cache_mounts.note(variant.dockerfile)
        return Series(runner=self, scenario=scenario, variant=variant, builder=builder,
                      cache=cache, repeat=repeat, stack=stack,
                      context=stack.enter_context(self.context(scenario, variant)))

    def why_no_remote(self, builder: Builder) -> str | None:
        if builder is Builder.LEGACY:
            return ("cache: remote is measured for BuildKit (--cache-from a registry image); "
                    "the legacy builder uses only images pulled before the build")
        if builder is Builder.BUILDAH:
            return ("cache: remote is measured for BuildKit (--cache-from a registry image's "
                    "inline cache); buildah's --cache-from reads a repository of step images")
        if not self.run.options.registry:
            return "cache: remote needs a registry (--registry, or `harness registry up`)"
        return self.remote_missing

    def why_skip(self, variant: Variant, builder: Builder) -> str | None:
        """Why this builder cannot build this variant here (a skip, not a failure)."""
        if builder is Builder.BUILDKIT and self.buildkit_missing:
            return self.buildkit_missing
        if builder is Builder.BUILDAH and self.buildah_missing:
            return self.buildah_missing
        if variant.squash is Squash.LEGACY and builder is Builder.BUILDKIT:
            return ("BuildKit has no --squash; use squash: docker-squash or export-import, "
                    "or a multi-stage build")
        if variant.squash is Squash.LEGACY and builder is Builder.BUILDAH:
            return ("buildah's --squash is not the legacy builder's: it squashes the base's "
                    "layers too, into one (measured with buildah 1.28); use squash: "
                    "export-import or a multi-stage build")
        if self.image_store == "containerd" and variant.squash in CLASSIC_STORE_SQUASH:
            return (f"squash: {variant.squash} does not work on the containerd image store "
                    f"({CLASSIC_STORE_SQUASH[variant.squash]}); use export-import, save-load "
                    "or a multi-stage build")
        if variant.squash is Squash.LEGACY and not self.experimental:
            return ("the engine is not in experimental mode, which --squash needs "
                    "(`harness engine up --experimental` turns it on and restarts the engine)")
        return None

    def ensure_bases(self, scenario: Scenario, variant: Variant) -> str | None:
        """None when every base the variant builds FROM is there; else the problem."""
        try:
            for outcome in ensure_bases(self.client, scenario.bases,
                                        [b for b in variant.bases if b not in self.bases],
                                        progress=lambda message: None):
                self.bases[outcome.reference] = outcome
                self.run.bases.append(outcome)
        except BaseError as error:
            return str(error)
        return None

    def copy_bases_to_buildah(self, variant: Variant) -> str | None:
        """None when buildah has this run's copy of each base; else the problem. Copied once
        per run, so buildah builds on the image the other builders use."""
        self.buildah_bases = self.buildah_bases or set()
        try:
            for reference in variant.bases:
                if reference not in self.buildah_bases:
                    buildah.copy_base(self.client, reference)
                    self.buildah_bases.add(reference)
        except buildah.BuildahError as error:
            return f"copying the base into buildah's storage failed: {error}"
        return None

    @contextmanager
    def context(self, scenario: Scenario, variant: Variant) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="harness-context-") as tmp:
            yield materialize(Path(tmp) / "context", dockerfile=variant.dockerfile,
                              files=scenario.files, source_dir=scenario.context)

    def changed_context(self, scenario: Scenario, context: Path, tag: str,
                        temporary: contextlib.ExitStack) -> Path:
        """A fresh copy with the incremental change, so each repetition is new to the cache."""
        assert scenario.incremental is not None
        changed = Path(temporary.enter_context(
            tempfile.TemporaryDirectory(prefix="harness-changed-"))) / "context"
        shutil.copytree(context, changed, symlinks=True)
        append_to(changed, scenario.incremental.path,
                  unique_change(scenario.incremental.text, f"{self.run.run_id}-{tag}"))
        return changed

    def build(self, scenario: Scenario, variant: Variant, builder: Builder, context: Path, *,
              no_cache: bool, tag: str, remote: bool = False,
              image_tag: str | None = None, inline_cache: bool = False) -> BuildOutcome:
        """The build, timed inside; tagged in the run's repository, with no label (the legacy
        builder would add one as a step): the user's Dockerfile, exactly. `remote`: on the
        CI runner, with --cache-from the registry's cache (harness.remote)."""
        image_tag = image_tag or (f"{engine.run_repository(self.run.run_id)}:"
                                  f"{f'{scenario.name}.{variant.name}-{builder}-{tag}'[:126]}")
        remote_host = self.remote.host if self.remote and (remote or inline_cache) else None
        outcome = build(builder, BuildRequest(
            context=context, dockerfile=DOCKERFILE_NAME, labels={}, no_cache=no_cache,
            tag=image_tag, build_args=variant.build_args, target=variant.target,
            squash=variant.squash is Squash.LEGACY,
            buildx_builder=self.run.options.buildx_builder,
            ledger=engine.ledger_path(self.run.run_id), docker_host=remote_host,
            cache_from=remote_cache_reference(self.run, scenario, variant) if remote else None,
            inline_cache=inline_cache), self.client)
        engine.note_leftovers(engine.ledger_path(self.run.run_id), outcome.created_image_ids)
        return outcome

    def transformed(self, variant: Variant, built: BuildOutcome) -> Made:
        """The build (a buildah image loaded into the engine first), and where the variant
        squashes after building, its transform (untimed by the build's clock; its own time
        is transform_s)."""
        built = loaded_into_engine(self.client, built)
        if not built.ok or built.image_id is None or variant.squash not in POST_BUILD_SQUASH:
            return Made(build=built)
        squash_from = variant.squash_from if variant.squash_from != "base" else variant.base
        return Made(build=built, transform=transform(
            self.client, variant.squash, built.image_id, tag=f"{built.tag}-t",
            labels=engine.run_labels(self.run.run_id),
            squash_from=None if squash_from is None else str(squash_from),
            restore_config=variant.restore_config))

    def sample(self, blank: Sample, scenario: Scenario, variant: Variant, made: Made) -> Sample:
        """The sample of one timed build: its outcome, its image's facts, its start time."""
        outcome = made.build
        transform_s = made.transform.transform_s if made.transform else None
        if made.error or made.image_id is None:
            return replace(blank, status=Status.FAILED, build_s=outcome.build_s,
                           transform_s=transform_s, steps_total=outcome.steps_total,
                           steps_cached=outcome.steps_cached, error=made.error)
        reads = self.run.options.read_images_of
        try:
            if reads is None or blank.cache in reads:
                image_id, figures = self.read_figures(blank, scenario, variant, made.image_id)
            else:  # the engine's ID, as a read gives it (containerd: the manifest's digest)
                image_id = self.client.api.inspect_image(made.image_id)["Id"]
                figures = {"figures_from": NOT_READ}
        except (ImageReadError, docker.errors.APIError) as error:
            return replace(blank, status=Status.FAILED, build_s=outcome.build_s,
                           transform_s=transform_s, steps_total=outcome.steps_total,
                           steps_cached=outcome.steps_cached, image_id=made.image_id,
                           error=f"layer analysis failed: {error}")
        start = self.time_start(variant, image_id)
        return replace(replace(
            blank, status=Status.OK, build_s=outcome.build_s, transform_s=transform_s,
            cache_warning=cache_warning(blank.cache, variant, outcome.steps_total,
                                        outcome.steps_cached),
            image_id=image_id, steps_total=outcome.steps_total,
            steps_cached=outcome.steps_cached, step_durations_s=outcome.step_durations_s,
            start_s=start.start_s, start_samples_s=start.samples_s,
            start_status=Status.OK if start.ok else Status.FAILED, start_error=start.error,
            buildah_size_bytes=outcome.buildah_size_bytes, **figures,
        ), **self.distribution(blank, scenario, variant, image_id))

    def read_figures(self, blank: Sample, scenario: Scenario, variant: Variant,
                image_id: str) -> tuple[str, dict[str, Any]]:
        """The image's ID and the sample's figures from its layer analysis (the first image
        of a variant and builder also recorded with its layers and history)."""
        reading = time.monotonic()
        try:
            layers, figures_from = self.sample_layers(blank, image_id)
            base = self.image_layers(variant.base) if variant.base else None
        finally:
            self.run.untimed_s["reading"] += time.monotonic() - reading
        image_id = layers.image_id
        if not any((r.scenario, r.variant, r.builder) == (blank.scenario, blank.variant,
                                                          blank.builder) for r in self.run.images):
            self.run.images.append(ImageRecord(
                scenario=scenario.name, variant=variant.name, builder=blank.builder,
                image_id=image_id, layers=layers, history=[
                    replace(entry, created_by=self.redact(entry.created_by) or "")
                    for entry in image_history(self.client, image_id)]))
        return image_id, dict(
            size_bytes=layers.unpacked_bytes, layer_count=len(layers.layers),
            base_size_bytes=base.unpacked_bytes if base else 0,
            base_layer_count=len(base.layers) if base else 0,
            compressed_bytes=layers.compressed_bytes, compressed_stored=layers.compressed_stored,
            wasted_bytes=layers.wasted_bytes, figures_from=figures_from)

    def distribution(self, blank: Sample, scenario: Scenario, variant: Variant,
                     image_id: str) -> dict[str, Any]:
        """With a registry, a cold build's push and pull (and an incremental one's, where
        the options ask): the sample's fields, taken last, as the pull replaces the image."""
        options = self.run.options
        pushed = blank.cache is CacheMode.COLD or (
            blank.cache is CacheMode.INCREMENTAL and options.registry_incremental)
        if not options.registry or not pushed or not (options.registry_all or scenario.registry):
            return {}
        fields = distribute.sample_fields(self.client, self.run, blank, image_id, variant.base,
                                          self.remote)
        return {k: self.redact(v) if k == "distribution_error" else v for k, v in fields.items()}

    def sample_layers(self, blank: Sample, image_id: str) -> tuple[ImageLayers, str | None]:
        """The layer analysis of a sample's image, and the sample it was read for where it is
        another's: a later build of a variant whose layers' sizes (`docker history`, no
        `docker save`) equal those of one read in full takes that one's figures; any size
        that differs, and the image is read in full."""
        if image_id in self.layers:
            return self.layers[image_id], None
        sizes = layer_sizes(self.client, image_id)
        read = self.read_samples.setdefault((blank.scenario, blank.variant, blank.builder), [])
        for read_sizes, layers, name in read:
            if read_sizes == sizes:
                return replace(layers, image_id=image_id), name
        layers = self.image_layers(image_id)
        read.append((sizes, layers, f"{blank.cache} {blank.repetition}"))
        return layers, None

    def image_layers(self, reference: str) -> ImageLayers:
        """The layer analysis of an image (a variant's, or a base), once per run."""
        if reference not in self.layers:
            self.layers[reference] = analyse_engine_image(
                self.client, reference, stored_blobs=self.image_store == "containerd")
        return self.layers[reference]

    def time_start(self, variant: Variant, image_id: str) -> StartTiming:
        """This sample's own container starts: a warm repetition's image is the same as the
        last one's, but its start is measured again, never copied."""
        run = variant.run
        return time_starts(self.client, image_id, repeat=run.start_repeat,
                           labels=engine.run_labels(self.run.run_id), command=run.command,
                           ready_log=run.ready_log, expect_exit=run.expect_exit,
                           timeout_s=run.timeout_s)


def unexpected_failures(run: Run) -> list[Sample]:
    """Samples that failed to build or to start, except those a held claim predicted."""
    return expect.unexpected_failures(run.samples, [
        (scenario, verdict) for scenario, verdicts in run.verdicts.items()
        for verdict in verdicts])


def unique_change(text: str, nonce: str) -> str:
    """The incremental text with `{nonce}` filled in (added before the last newline if absent).

    A change must be new to the build cache on every timed build, or the "incremental"
    build would be a cache hit from an earlier repetition or run.
    """
    if NONCE not in text:
        text = text[:-1] + " " + NONCE + "\n" if text.endswith("\n") else text + " " + NONCE
    return text.replace(NONCE, nonce)
