"""Joining the results files of `harness run --shard I/N` into one run.

Claims often compare variants that ran in different shards, so they are judged again on the
joined samples; everything else is put side by side as it was measured.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness import expect, store
from harness.errors import HarnessError
from harness.model import RunState, new_run_id

STATE_ORDER = [RunState.ENGINE_FAILED, RunState.ENGINE_LOST, RunState.INTERRUPTED,
               RunState.RUNNING, RunState.COMPLETE]


def merge_files(paths: list[Path]) -> dict[str, Any]:
    """One results document from shards' files; refuses overlapping or inconsistent shards."""
    if len(paths) < 2:
        raise HarnessError("merge needs at least two results files")
    documents = [(path, store.load(path)) for path in paths]
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
        "expectations": judge([s for _, s in scenarios.values()], [
            {**s, "machine": d["environment"].get("fingerprint")}
            for _, d in documents for s in d["samples"]]),
        "shards": [{"path": str(path), "run_id": d["run_id"], "state": d["state"],
                    "shard": d["options"].get("shard"), "environment": d["environment"]}
                   for path, d in documents],
    }


def _definition(scenario: dict[str, Any]) -> str:
    """What must agree between shards: everything but where the file was."""
    return json.dumps({k: v for k, v in scenario.items() if k != "path"}, sort_keys=True)


def judge(scenarios: list[dict[str, Any]], samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scenarios' claims on the joined samples, as the runner judges them."""
    verdicts = []
    for scenario in scenarios:
        claims = [expect.parse(claim["expr"], scenario["variants"],
                               known_false=claim["known_false"], note=claim["note"],
                               cache=tuple(claim["cache"]), builders=tuple(claim["builders"]))
                  for claim in scenario["expect"]]
        mine = [SimpleNamespace(**s) for s in samples if s["scenario"] == scenario["name"]]
        verdicts += [{"scenario": scenario["name"], **asdict(verdict)}
                     for verdict in expect.judge(claims, mine)]
    return verdicts


def merged_verdict_holds(document: dict[str, Any]) -> bool:
    """As `harness run` decides its exit code: every claim as stated, and no sample failed
    that a held claim did not predict."""
    samples = [SimpleNamespace(**s) for s in document["samples"]]
    verdicts = [(e["scenario"], e) for e in document["expectations"]]
    return all(e["as_expected"] for e in document["expectations"]) and not \
        expect.unexpected_failures(samples, verdicts)
