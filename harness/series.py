"""One (variant, builder, cache mode) being measured: its priming build, its timed rounds, and
whether each build hit the cache its mode implies."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import docker

from harness.build import BuildOutcome
from harness.cache_mounts import mounted_targets
from harness.dockerfile import steps_before_the_context
from harness.model import Builder, CacheMode, Position, Run, Sample, Scenario, Status, Variant
from harness.remote import RemoteRunner, remote_cache_reference
from harness.transform import Made


class Measuring(Protocol):
    """What a series asks of the run that measures it (harness.runner.Runner): the small
    interface, so this module does not import the runner back."""

    client: docker.DockerClient
    run: Run
    remote: RemoteRunner | None

    def progress(self, position: Position, done: int) -> None: ...

    def build(self, scenario: Scenario, variant: Variant, builder: Builder, context: Path, *,
              no_cache: bool, tag: str, remote: bool = False,
              image_tag: str | None = None, inline_cache: bool = False) -> BuildOutcome: ...

    def transformed(self, variant: Variant, built: BuildOutcome) -> Made: ...

    def sample(self, blank: Sample, scenario: Scenario, variant: Variant,
               made: Made) -> Sample: ...

    def record(self, sample: Sample) -> None: ...

    def changed_context(self, scenario: Scenario, context: Path, tag: str,
                        temporary: contextlib.ExitStack) -> Path: ...


class Series:
    """One (variant, builder, cache mode) being measured: an untimed priming build (warm,
    incremental), then timed rounds. Each round's post-build transform and sample (layers,
    start time) are taken after its build, outside the timed call: only the build itself is
    inside `timed` (pytest-benchmark's timing is build_s)."""

    def __init__(self, *, runner: Measuring, scenario: Scenario, variant: Variant,
                 builder: Builder, cache: CacheMode, repeat: int, context: Path,
                 stack: contextlib.ExitStack) -> None:
        self.runner, self.scenario, self.variant = runner, scenario, variant
        self.builder, self.cache, self.repeat = builder, cache, repeat
        self.context, self.stack = context, stack
        self.position = Position(scenario=scenario.name, variant=variant.name,
                                 builder=builder, cache=cache, repetition=0, repeat=repeat)
        self.blank = Sample(scenario=scenario.name, variant=variant.name, builder=builder,
                            cache=cache, repetition=0, status=Status.SKIPPED)
        self.repetition = 0
        self.built: BuildOutcome | None = None
        self.build_context = context

    def prime(self) -> bool:
        """The untimed build that fills the cache (for `remote`, the registry's); False
        (samples recorded as failed) if it fails."""
        if self.cache is CacheMode.COLD:
            return True
        runner = self.runner
        runner.progress(self.position, len(runner.run.samples))  # repetition 0: priming
        started = time.monotonic()
        if self.cache is CacheMode.REMOTE:
            priming_error = self.push_remote_cache()
        else:
            context = self.context
            if self.cache is CacheMode.INCREMENTAL and mounted_targets(self.variant.dockerfile):
                # changed too: the RUNs after the change run, and fill the cache mounts as
                # the user's last build did (taken from the cold builds' cache, they would not)
                context = runner.changed_context(self.scenario, self.context,
                                                 f"{self.variant.name}-prime", self.stack)
            priming = runner.transformed(self.variant, runner.build(
                self.scenario, self.variant, self.builder, context, no_cache=False,
                tag="prime"))
            priming_error = priming.error
        runner.run.untimed_s["priming"] += time.monotonic() - started
        if priming_error:
            for repetition in range(1, self.repeat + 1):
                runner.record(replace(self.blank, repetition=repetition, status=Status.FAILED,
                                      error=f"the untimed priming build failed: "
                                            f"{priming_error}"))
            return False
        return True

    def setup(self) -> None:
        """Untimed, before each round: the last round's sample, the incremental change."""
        self.record_built()
        self.repetition += 1
        self.runner.progress(replace(self.position, repetition=self.repetition),
                             len(self.runner.run.samples))
        if self.cache is CacheMode.REMOTE:
            self.make_remote_runner_cold()
        if self.cache is CacheMode.INCREMENTAL:
            self.build_context = self.runner.changed_context(
                self.scenario, self.context,
                f"{self.variant.name}-{self.cache}-{self.repetition}", self.stack)

    def timed(self) -> None:
        self.built = self.runner.build(self.scenario, self.variant, self.builder,
                                       self.build_context, no_cache=self.cache is CacheMode.COLD,
                                       tag=f"{self.cache}-{self.repetition}",
                                       remote=self.cache is CacheMode.REMOTE)

    def record_built(self) -> None:
        if self.built is not None:
            runner = self.runner
            blank = replace(self.blank, repetition=self.repetition)
            runner.record(remote_sample(blank, self.variant, self.built)
                          if self.cache is CacheMode.REMOTE else
                          runner.sample(blank, self.scenario, self.variant,
                                        runner.transformed(self.variant, self.built)))
            self.built = None


    def push_remote_cache(self) -> str | None:
        """The earlier CI run: on the runner, build with inline cache and push; its error."""
        self.make_remote_runner_cold()
        runner = self.runner
        reference = remote_cache_reference(runner.run, self.scenario, self.variant)
        built = runner.build(self.scenario, self.variant, Builder.BUILDKIT, self.context,
                             no_cache=True, tag="", image_tag=reference, inline_cache=True)
        assert runner.remote is not None
        return f"{built.error}\n{built.log_tail}" if built.error else \
            runner.remote.push(reference)

    def make_remote_runner_cold(self) -> None:
        assert self.runner.remote is not None
        self.runner.remote.make_cold(self.runner.client, list(self.variant.bases))


def remote_sample(blank: Sample, variant: Variant, built: BuildOutcome) -> Sample:
    """A build on the CI runner: its time and cache hits (its image stays there)."""
    fields: dict[str, Any] = {
        "build_s": built.build_s, "steps_total": built.steps_total,
        "steps_cached": built.steps_cached, "step_durations_s": built.step_durations_s}
    if not built.ok:
        return replace(blank, status=Status.FAILED, error=f"{built.error}\n{built.log_tail}",
                       **fields)
    return replace(blank, status=Status.OK, image_id=built.image_id, **fields,
                   cache_warning=cache_warning(blank.cache, variant, built.steps_total,
                                               built.steps_cached))


def cache_warning(cache: CacheMode, variant: Variant, total: int, cached: int) -> str | None:
    """Why a build hit less cache than its mode implies, if it did."""
    if cache in (CacheMode.WARM, CacheMode.REMOTE) and cached < total:
        return f"{cache} build not fully cached: {cached}/{total} steps"
    expected = steps_before_the_context(variant.dockerfile)
    if cache is CacheMode.INCREMENTAL and expected is not None and cached < expected:
        return (f"incremental build cached {cached} step(s); the {expected} before the first "
                "COPY/ADD of the context should be")
    return None
