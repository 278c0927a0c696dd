"""The matrix stage: which (scenario, variant, builder, cache mode) a run measures, how often,
and in which order; the same for `harness run` and the pytest-benchmark plugin.
"""

from __future__ import annotations

import argparse
from typing import Any

from harness.model import Builder, CacheMode, RunOptions, Scenario, Variant

QUICK_CACHE = (CacheMode.COLD, CacheMode.WARM)

Triple = tuple[Scenario, Variant, Builder]


def options_for(*, quick: bool = False, cache: tuple[CacheMode, ...] | None = None,
                repeat: int | None = None, **others: Any) -> RunOptions:
    """RunOptions where --quick means one repetition of cold and warm builds of each
    scenario's `quick:` subset, unless `cache`/`repeat` say otherwise."""
    return RunOptions(quick=quick, cache=cache or (QUICK_CACHE if quick else None),
                      repeat=repeat or (1 if quick else None), **others)


def matrix(scenarios: list[Scenario], options: RunOptions) -> list[Triple]:
    """The selected (scenario, variant, builder) triples, in file order; with a shard I/N,
    every N-th one starting at the I-th, so heavy scenarios spread over the shards."""
    triples = [(scenario, variant, builder) for scenario in scenarios
               for variant in selected_variants(scenario, options)
               for builder in builders_of(scenario, options)
               if variant.builders is None or builder in variant.builders]
    if options.shard is None:
        return triples
    index, count = options.shard
    return triples[index - 1::count]


def planned_samples(scenarios: list[Scenario], options: RunOptions) -> int:
    return sum(len(cache_modes_of(scenario, options)) * repeat_of(scenario, options)
               for scenario, _, _ in matrix(scenarios, options))


def selected_variants(scenario: Scenario, options: RunOptions) -> list[Variant]:
    quick = scenario.quick.variants if options.quick else None
    return [v for v in scenario.variants.values()
            if (not options.select or options.select in f"{scenario.name}/{v.name}")
            and (quick is None or v.name in quick)]


def builders_of(scenario: Scenario, options: RunOptions) -> tuple[Builder, ...]:
    quick = scenario.quick.builders if options.quick else None
    return tuple(b for b in scenario.builders
                 if (options.builders is None or b in options.builders)
                 and (quick is None or b in quick))


def cache_modes_of(scenario: Scenario, options: RunOptions) -> tuple[CacheMode, ...]:
    return tuple(c for c in scenario.cache if options.cache is None or c in options.cache)


def repeat_of(scenario: Scenario, options: RunOptions) -> int:
    return options.repeat or scenario.repeat


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` as given to --shard (an argparse type, also used by the pytest plugin)."""
    index, slash, count = text.partition("/")
    if slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
        return int(index), int(count)
    raise argparse.ArgumentTypeError(f"expected I/N with 1 ≤ I ≤ N (e.g. 2/4), got {text!r}")
