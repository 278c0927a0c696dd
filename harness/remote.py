"""`cache: remote`, the CI case: a build on a runner that has none of the layers, with
`--cache-from` the image an earlier CI run pushed with inline cache metadata.

Both ends run on a throwaway engine harness owns, the `ci-runner` flavour (Docker 26 from
trixie beside the default engine; harness.flavors), started for the run and stopped after
it when the run started it:

1. untimed, once per series: the variant is built there with `--cache-to type=inline` and
   pushed to the registry (the earlier CI run);
2. untimed, before each round: every image and all build cache of that engine are removed
   (all harness's own: the user's build cache is never pruned), and the variant's bases
   are loaded from the default engine (a runner has its base images, as a host has for
   `pull_s`);
3. timed: `docker buildx build --cache-from type=registry,ref=...` there; `steps_cached`
   says what the registry's cache gave.

The same engine, emptied and given the base the same way, is where a run's cold pulls are
measured (harness.distribute), so every builder's image is pulled cold.

BuildKit only (the legacy builder uses `--cache-from` only for images pulled before the
build). Producer and consumer are the same BuildKit: cache keys differ between versions
(measured: Docker 20.10's inline cache gave Docker 26 none of 3 steps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import docker.errors

from harness import engine
from harness.distribute import (
    DistributionError,
    delete_repository,
    docker_cli_call,
    run_registry_repository,
)
from harness.errors import HarnessError
from harness.flavors import FLAVORS, flavor_down, flavor_up
from harness.model import Run, Scenario, Variant
from harness.provision import Log

RUNNER = FLAVORS["ci-runner"]


class RemoteRunner:
    """The throwaway engine of a run's `cache: remote` builds."""

    def __init__(self, client: docker.DockerClient, host: str) -> None:
        self.client = client
        self.host = host
        self.pushed: list[str] = []
        """The cache images pushed, deleted from the registry after the run."""

    def push(self, reference: str) -> str | None:
        """Push the producer build's image; None, or why it failed."""
        self.pushed.append(reference)
        try:
            docker_cli_call("push", reference, host=self.host)
        except DistributionError as error:
            return str(error)
        return None

    def make_cold(self, source: docker.DockerClient, bases: list[str]) -> None:
        """No image and no build cache left on the runner, then the bases loaded."""
        for image in self.client.images.list(all=True):
            with contextlib.suppress(docker.errors.NotFound):
                self.client.images.remove(str(image.id), force=True)
        self.client.api.prune_builds(all=True)
        for base in bases:
            # by its reference: Image.save(named=True) names the image by its first tag
            self.client.images.load(b"".join(source.api.get_image(base)))


def remote_cache_reference(run: Run, scenario: Scenario, variant: Variant) -> str:
    """Where the earlier CI run pushed the variant's image with its inline cache."""
    assert run.options.registry is not None
    name = run_registry_repository(run.run_id, f"{scenario.name}/{variant.name}-cache")
    return f"{run.options.registry}/{name}:latest"


@contextmanager
def runner_for_run(wanted: bool, log: Log = lambda message: None
                   ) -> Iterator[tuple[RemoteRunner | None, str | None]]:
    """The throwaway engine when a scenario of the run asks for `cache: remote`, or measures
    pulls (each pulled there cold, harness.distribute), and why there is none when it cannot
    be started; stopped after the run if the run started it."""
    if not wanted:
        yield None, None
        return
    started = not engine.engine_answers(host=RUNNER.host)
    try:
        host = flavor_up(RUNNER, log)
    except HarnessError as error:
        yield None, f"cache: remote needs a throwaway engine and {error}"
        return
    client = engine.connect(host=host)
    runner = RemoteRunner(client, host)
    try:
        yield runner, None
    finally:
        client.close()
        for reference in runner.pushed:
            address, _, name = reference.rpartition(":")[0].partition("/")
            delete_repository(address, name, tags=("latest",))
        if started:
            flavor_down(RUNNER, log)
