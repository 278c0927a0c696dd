"""The scenarios as pytest-benchmark benchmarks: `pytest -p harness.pytest_plugin scenarios/`.

Each (scenario, variant, builder, cache mode) is one benchmark in pedantic mode: rounds = the
scenario's repetitions, one iteration, and an untimed setup that does what `harness run` does
between builds (priming, the incremental change, measuring the previous image). The same
Runner as `harness run` does the work, so the harness results file, its reports and the
claims come out the same; pytest-benchmark adds its own JSON (`--benchmark-autosave`).
Each scenario file ends with an `expect` item that fails when a claim is not as stated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness import store
from harness.expect import predicted_failure
from harness.html_report import write_reports
from harness.matrix import cache_modes_of, matrix, options_for, parse_shard
from harness.model import Builder, CacheMode, Order, RunOptions, Scenario, Status
from harness.report import verdict_lines
from harness.runner import Runner, started_run
from harness.scenario import SHARED_BASES_FILE, ScenarioError, load_scenarios

RUNNER = pytest.StashKey[Runner]()
MATRIX_KEY = pytest.StashKey[tuple[str, str, Builder]]()
RESULTS = pytest.StashKey[Path]()
INTERRUPTED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "harness scenarios as benchmarks")
    group.addoption("--quick", action="store_true",
                    help="each scenario's `quick:` subset, one repetition, cold and warm only")
    group.addoption("--repeat", type=int, metavar="N", help="timed repetitions (rounds) per "
                    "benchmark instead of each scenario's own")
    group.addoption("--results-dir", type=Path, default=Path("results"), metavar="DIR",
                    help="where the harness results file and reports go (default: results/)")
    group.addoption("--keep-images", action="store_true",
                    help="keep the run's images (normally removed as it goes)")
    group.addoption("--shard", type=parse_shard, metavar="I/N",
                    help="only the I-th of N slices of the (scenario, variant, builder) matrix, "
                         "as `harness run --shard` (join with `harness merge`)")
    group.addoption("--machine", metavar="KEY",
                    help="the machine key trends keep runs apart by (default: a fingerprint)")
    group.addoption("--registry", metavar="HOST:PORT",
                    help="measure push and pull on this registry, as `harness run --registry`")
    group.addoption("--allow-concurrent", action="store_true",
                    help="run even while another harness run uses the engine")
    group.addoption("--buildx-builder", metavar="NAME",
                    help="the buildx builder BuildKit builds run on (default: buildx's current)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[INTERRUPTED] = False


def options(config: pytest.Config) -> RunOptions:
    return options_for(quick=config.getoption("quick"), repeat=config.getoption("repeat"),
                       keep_images=config.getoption("keep_images"),
                       shard=config.getoption("shard"),
                       buildx_builder=config.getoption("buildx_builder"),
                       allow_concurrent=config.getoption("allow_concurrent"),
                       machine=config.getoption("machine"),
                       registry=config.getoption("registry"),
                       order=Order.SEQUENTIAL)  # a benchmark's rounds run in a row


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and file_path.name != SHARED_BASES_FILE:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


ORDER_KEY = pytest.StashKey[int]()
_collected = itertools.count()
"""The order the scenario files' items were made in."""


class ScenarioFile(pytest.File):
    """One scenario file: a benchmark per variant × builder × cache mode, then its claims."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            (scenario,) = load_scenarios([self.path])
        except ScenarioError as error:
            raise self.CollectError(str(error)) from None
        self.scenario = scenario
        run_options = replace(options(self.config), shard=None)  # sharded across files below
        for _, variant, builder in matrix([scenario], run_options):
            for cache in cache_modes_of(scenario, run_options):
                item = pytest.Function.from_parent(
                    self, name=f"{variant.name}[{builder}-{cache}]",
                    callobj=benchmark_of(scenario, variant.name, builder, cache))
                item.stash[MATRIX_KEY] = (scenario.name, variant.name, builder)
                item.stash[ORDER_KEY] = next(_collected)
                yield item
        claims = ClaimsItem.from_parent(self, name="expect", scenario=scenario)
        claims.stash[ORDER_KEY] = next(_collected)
        yield claims


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The scenarios' own order, whatever reordered them (pytest-randomly): a scenario's
    claims are judged after its benchmarks, and the run's order is harness run's. Then
    --shard: the same slice of the whole matrix as `harness run --shard` takes."""
    items.sort(key=lambda item: item.stash.get(ORDER_KEY, -1))
    if config.getoption("shard") is None:
        return
    scenarios = list({id(i.parent): i.parent.scenario for i in items
                      if isinstance(i.parent, ScenarioFile)}.values())
    mine = {(s.name, v.name, b) for s, v, b in matrix(scenarios, options(config))}
    keep = [i for i in items if MATRIX_KEY not in i.stash or i.stash[MATRIX_KEY] in mine]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep


def benchmark_of(scenario: Scenario, variant_name: str, builder: Builder,
                 cache: CacheMode) -> Callable[..., None]:
    def measure(benchmark: Any, harness_runner: Runner) -> None:
        variant = scenario.variants[variant_name]
        benchmark.group = f"{scenario.name} {builder} {cache}"
        benchmark.extra_info.update(scenario=scenario.name, variant=variant_name,
                                    builder=str(builder), cache=str(cache))

        def pedantic(setup: Callable[[], None], timed: Callable[[], None], rounds: int) -> None:
            benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1)

        samples = harness_runner.measure(scenario, variant, builder, cache, rounds=pedantic)
        failed = [s for s in samples if s.status is not Status.OK]
        if failed:
            benchmark.has_error = True  # a failed build's time is no benchmark: kept out of JSON
            if failed[0].status is Status.SKIPPED:
                pytest.skip(failed[0].error or "skipped")
            if any(predicted_failure(e) == variant_name for e in scenario.expect):
                reason = (failed[0].error or "").partition("\n")[0]
                pytest.xfail(f"fails to build, as the scenario expects: {reason}")
            pytest.fail(f"{len(failed)} of {len(samples)} build(s) failed:\n{failed[0].error}",
                        pytrace=False)
        start_failed = [s for s in samples if s.start_status is Status.FAILED]
        if start_failed and not any(predicted_failure(e, "start_status") == variant_name
                                    for e in scenario.expect):
            pytest.fail(f"{len(start_failed)} of {len(samples)} image(s) failed to start: "
                        f"{start_failed[0].start_error}", pytrace=False)
        last = samples[-1]
        benchmark.extra_info.update(
            image_id=last.image_id, size_bytes=last.size_bytes,
            compressed_bytes=last.compressed_bytes, compressed_stored=last.compressed_stored,
            wasted_bytes=last.wasted_bytes,
            layer_count=last.layer_count, start_s=last.start_s,
            steps_cached=[s.steps_cached for s in samples], steps_total=last.steps_total,
            build_s=[s.build_s for s in samples], transform_s=[s.transform_s for s in samples])
    return measure


class ClaimsItem(pytest.Item):
    """The scenario's `expect:` claims, judged on what this session measured of it."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario

    def runtest(self) -> None:
        runner = self.config.stash.get(RUNNER, None)
        if runner is None or not any(s.scenario == self.scenario.name
                                     for s in runner.run.samples):
            pytest.skip("none of this scenario's variants was measured")
        runner.judge(self.scenario)
        verdicts = runner.run.verdicts[self.scenario.name]
        wrong = [v for v in verdicts if not v.as_expected]
        if wrong:
            raise ClaimsFailed("\n".join(
                f"{v.expr}{' (known false, now holds)' if v.known_false else ''}: " + ", ".join(
                    f"{g.group}: {g.left} vs {g.right}" for g in v.values) for v in wrong))

    def repr_failure(self, excinfo: Any, style: Any = None) -> str:
        if isinstance(excinfo.value, ClaimsFailed):
            return f"claims not as stated:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.scenario.name}: expect"


class ClaimsFailed(Exception):
    pass


@pytest.fixture(scope="session")
def harness_runner(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """One run for the session: its results file is saved after every sample."""
    config = request.config
    selected = {id(item.parent): item.parent.scenario for item in request.session.items
                if isinstance(item.parent, ScenarioFile)}
    scenarios = list(selected.values())
    with started_run(scenarios, options(config), config.getoption("results_dir"),
                     progress=lambda position, done: None) as (runner, path):
        run = runner.run
        config.stash[RUNNER] = runner
        config.stash[RESULTS] = path
        try:
            with runner.finishing():
                yield runner
                for scenario in scenarios:
                    if any(s.scenario == scenario.name for s in run.samples):
                        runner.judge(scenario)
                if config.stash[INTERRUPTED]:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            pass
    write_reports(path)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Remove the run's images once a variant's builder is done (as `harness run` does)."""
    runner = item.config.stash.get(RUNNER, None)
    if runner is not None and (nextitem is None or item.stash.get(MATRIX_KEY, None)
                               != nextitem.stash.get(MATRIX_KEY, None)):
        runner.remove_images()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Seen before the session fixture is torn down, so an interrupted run is saved as such."""
    session.config.stash[INTERRUPTED] = exitstatus == pytest.ExitCode.INTERRUPTED
    return (yield)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int,
                            config: pytest.Config) -> None:
    path = config.stash.get(RESULTS, None)
    if path is None:
        return
    document = store.load(path)
    terminalreporter.section("harness")
    for line in verdict_lines(document):
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"results: {path} ({document['state']})")
    terminalreporter.write_line(f"report:  {path.with_suffix('.md')} (and .html)")

