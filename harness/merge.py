"""Joining the results files of `harness run --shard I/N` into one run.

Claims often compare variants that ran in different shards, so they are judged again on the
joined samples; everything else is put side by side as it was measured.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness import expect, store
from harness.errors import HarnessError
from harness.model import CacheMode, RunState, field_of, new_run_id

STATE_ORDER = [RunState.ENGINE_FAILED, RunState.ENGINE_LOST, RunState.REGISTRY_LOST,
               RunState.INTERRUPTED,
               RunState.RUNNING, RunState.COMPLETE]


def merge_files(paths: list[Path]) -> dict[str, Any]:
    """One results document from shards' files; refuses overlapping or inconsistent shards."""
    if len(paths) < 2:
        raise HarnessError("merge needs at least two results files")
    documents = [(path, store.load(path)) for path in paths]
    _check_whole_set(documents)
    scenarios: dict[str, tuple[Path, dict[str, Any]]] = {}
    measured: dict[tuple[str, str, str, str], Path] = {}
    for path, document in documents:
        for scenario in document["scenarios"]:
            seen = scenarios.setdefault(scenario["name"], (path, scenario))
            if _definition(seen[1]) != _definition(scenario):
                raise HarnessError(f"{path}: scenario `{scenario['name']}` differs from its "
                                   f"definition in {seen[0]}; merge shards of one run only")
        for key in dict.fromkeys((s["scenario"], s["variant"], s["builder"], s["cache"])
                                 for s in document["samples"]):
            if key in measured:
                raise HarnessError(f"{path}: {'/'.join(key)} was also measured in "
                                   f"{measured[key]}; each shard must be merged once")
            measured[key] = path
    first = documents[0][1]
    samples = [s for _, d in documents for s in d["samples"]]
    for _, scenario in scenarios.values():
        figures = push_after_baseline(samples, scenario["name"], scenario["baseline"])
        for sample in samples:
            if sample["scenario"] == scenario["name"] and sample.get("pushed_blobs"):
                sample["push_after_baseline_bytes"] = figures.get(
                    (sample["variant"], sample["builder"], sample["repetition"]))
    return {
        **first,
        "run_id": new_run_id(),
        "state": min((d["state"] for _, d in documents),
                     key=lambda state: STATE_ORDER.index(RunState(state))),
        "started_at": min(d["started_at"] for _, d in documents),
        "ended_at": max((d["ended_at"] or "" for _, d in documents), default=None) or None,
        "options": {**first["options"], "shard": None},
        "scenarios": [scenario for _, scenario in scenarios.values()],
        "samples": samples,
        "images": [i for _, d in documents for i in d["images"]],
        "bases": list({b["reference"]: b for _, d in documents for b in d["bases"]}.values()),
        "untimed_s": {name: sum((d.get("untimed_s") or {}).get(name, 0.0) for _, d in documents)
                      for name in {n for _, d in documents for n in d.get("untimed_s") or {}}},
        "expectations": judge([s for _, s in scenarios.values()], [
            {**s, "machine": d["environment"].get("fingerprint")}
            for _, d in documents for s in d["samples"]], image_store_of(first)),
        "shards": [{"path": str(path), "run_id": d["run_id"], "state": d["state"],
                    "shard": d["options"].get("shard"), "environment": d["environment"]}
                   for path, d in documents],
    }


def _check_whole_set(documents: list[tuple[Path, dict[str, Any]]]) -> None:
    """Shards 1..N of one N, each once, all run with the same options but the shard: a
    missing shard's claims would silently not be judged."""
    first_path, first = documents[0]
    shards = []
    for path, document in documents:
        shard = document["options"].get("shard")
        if not shard:
            raise HarnessError(f"{path}: not a shard (run without --shard I/N); merge joins "
                               "the shards of one run")
        shards.append((tuple(shard), path))
        differing = sorted(key for key in {*first["options"], *document["options"]} - {"shard"}
                           if first["options"].get(key) != document["options"].get(key))
        if differing:
            raise HarnessError(
                f"{path}: run with other options than {first_path}: " + ", ".join(
                    f"{key} {document['options'].get(key)!r} vs {first['options'].get(key)!r}"
                    for key in differing) + "; merge shards of one run only")
    stores = {path: image_store_of(document) for path, document in documents}
    if len(set(stores.values())) > 1:
        raise HarnessError("the shards ran on engines with different image stores ("
                           + ", ".join(f"{path}: {store}" for path, store in stores.items())
                           + "); a claim's outcome may depend on it: merge each engine's "
                             "shards apart")
    counts = {count for (_, count), _ in shards}
    if len(counts) > 1:
        raise HarnessError("the shards split the run different ways: " + ", ".join(
            f"{path} is {index}/{count}" for (index, count), path in shards))
    (count,) = counts
    seen: dict[int, Path] = {}
    for (index, _), path in shards:
        if index in seen:
            raise HarnessError(f"{path}: shard {index}/{count} again (also {seen[index]}); "
                               "each shard must be merged once")
        seen[index] = path
    missing = [f"{index}/{count}" for index in range(1, count + 1) if index not in seen]
    if missing:
        raise HarnessError(f"shard(s) {', '.join(missing)} missing: got "
                           f"{', '.join(f'{i}/{count}' for i in sorted(seen))}; a missing "
                           "shard's claims would not be judged")


def push_after_baseline(samples: Sequence[Any], scenario: str,
                        baseline: str) -> dict[tuple[str, str, int], int]:
    """push_after_baseline_bytes of the scenario's pushed cold samples, by (variant, builder,
    repetition): the bytes of their blobs (`pushed_blobs`) that the baseline's image (same
    builder, same repetition where there is one) does not have. The registry stores a blob
    once per digest: that is what a push after the baseline uploads. It depends on the
    baseline's sample, which may be measured later or in another shard: the runner computes
    it after each scenario, and merge again over all shards."""
    pushed = {(str(field_of(s, "variant")), str(field_of(s, "builder")),
               int(field_of(s, "repetition"))): blobs
              for s in samples if field_of(s, "scenario") == scenario
              and str(field_of(s, "cache")) == CacheMode.COLD
              and (blobs := field_of(s, "pushed_blobs"))}
    figures = {}
    for (variant, builder, repetition), blobs in pushed.items():
        of_baseline = {r: b for (v, bu, r), b in pushed.items() if (v, bu) == (baseline, builder)}
        already = of_baseline.get(repetition) or next(iter(of_baseline.values()), None)
        if already is not None:
            figures[(variant, builder, repetition)] = sum(
                size for digest, size in blobs.items() if digest not in already)
    return figures


def _definition(scenario: dict[str, Any]) -> str:
    """What must agree between shards: everything but where the file was."""
    return json.dumps({k: v for k, v in scenario.items() if k != "path"}, sort_keys=True)


def judge(scenarios: list[dict[str, Any]], samples: list[dict[str, Any]],
          image_store: str | None) -> list[dict[str, Any]]:
    """The scenarios' claims on the joined samples, as the runner judges them."""
    verdicts = []
    for scenario in scenarios:
        claims = [expect.parse(claim["expr"], scenario["variants"],
                               known_false=claim["known_false"], note=claim["note"],
                               cache=tuple(claim["cache"]), builders=tuple(claim["builders"]),
                               image_stores=tuple(claim.get("image_stores") or ()))
                  for claim in scenario["expect"]]
        mine = [SimpleNamespace(**s) for s in samples if s["scenario"] == scenario["name"]]
        verdicts += [{"scenario": scenario["name"], **asdict(verdict)}
                     for verdict in expect.judge(claims, mine, image_store)]
    return verdicts


def image_store_of(document: dict[str, Any]) -> str | None:
    """The image store of the engine the run measured (None in files that predate it)."""
    return ((document.get("environment") or {}).get("engine") or {}).get("image_store")


def merged_verdict_holds(document: dict[str, Any]) -> bool:
    """As `harness run` decides its exit code: every claim as stated, and no sample failed
    that a held claim did not predict."""
    samples = [SimpleNamespace(**s) for s in document["samples"]]
    verdicts = [(e["scenario"], e) for e in document["expectations"]]
    return all(e["as_expected"] for e in document["expectations"]) and not \
        expect.unexpected_failures(samples, verdicts)
