"""Results files: one versioned JSON document per run, written atomically.

Samples are stored raw; statistics are computed when reading.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from harness.errors import HarnessError
from harness.model import Run, Scenario

SCHEMA_VERSION = 3
# Schema history:
#   1: first format: run_id, state, started_at/ended_at, environment, options,
#      scenarios (as loaded, secret build args reduced to names), samples (with
#      transform_s, compressed_bytes, wasted_bytes), images (history and per-layer table),
#      bases, expectations (the `expect:` verdicts: expr, passed, known_false,
#      as_expected, values).
#   2: scenarios[].expect holds whole claims ({expr, known_false, note, cache, builders}),
#      so `harness merge` can judge them again; scenarios gain `quick` (the --quick subset);
#      options gain quick, shard and buildx_builder;
#      a merged run has `shards` (each shard's path, run_id, state, shard, environment).
#   3: size_bytes and base_size_bytes are harness's unpacked size (harness.layers) on every
#      image store, not the engine's .Size; samples gain compressed_stored; images[].layers
#      gains unpacked_bytes and compressed_stored, its rows unpacked_bytes and
#      compressed_stored; environment.engine gains image_store; samples gain cache_warning
#      (a build that hit less cache than its mode implies; not timed); options gain
#      allow_concurrent and order; start_s is each sample's own. Version 2 files are
#      migrated on load (they come from the classic store, where the sizes agree).
#      Later additions, optional, so readers of 3 read them as they did: expectations gain
#      inconclusive and skipped; samples gain push_s, push_bytes, push_after_baseline_bytes,
#      pull_s, pull_bytes and distribution_error (harness.distribute); options and
#      scenarios gain registry. The builder `buildah` (samples gain buildah_size_bytes);
#      scenarios' variants gain builders. Samples gain pushed_blobs (so merge can compute
#      push_after_baseline_bytes again over all shards); baseline comparisons' ratio is null
#      from a zero baseline and they gain interval (what ci_low–ci_high is); expectations'
#      values gain interval_kind. Files are strict JSON: no NaN, no Infinity. The state
#      registry-lost (the registry stopped answering mid-run). Scenarios' claims gain
#      image_stores (only judged on an engine with one of those image stores). Samples gain
#      figures_from (the sample whose full read gave a later build's figures, its layer
#      sizes being the same); runs gain untimed_s (priming builds, reading the images).
#      Options gain read_images_of (the cache modes whose images are read; advise: cold),
#      and figures_from is `not read` on the other samples, their figures null.


SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
"""The published JSON Schema of results files (this version)."""
RESULTS_MODE = 0o644
"""Like the reports beside it (NamedTemporaryFile would leave 0600)."""


def results_path(directory: Path, run_id: str) -> Path:
    return directory / f"{run_id}.json"


def save(run: Run, path: Path) -> None:
    write_document(run_record(run), path)


def write_document(document: dict[str, Any], path: Path) -> None:
    write_text(path, strict_json(document) + "\n")


def write_text(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: never half-written. When the write fails
    (a full disk), the previous version of the file is left as it was, and HarnessError
    says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        os.chmod(temporary, RESULTS_MODE)
        os.replace(temporary, path)
    except OSError as error:
        os.unlink(temporary)
        kept = "the previous version is intact" if path.exists() else "nothing was written"
        raise HarnessError(f"{path}: could not be written ({error.strerror or error}); "
                           f"{kept}") from None
    except BaseException:
        os.unlink(temporary)
        raise


def step_summary(markdown: str) -> None:
    """Append to the GitHub Actions job summary, where there is one (GITHUB_STEP_SUMMARY)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with Path(path).open("a") as summary:
            summary.write(markdown.rstrip("\n") + "\n\n")


def strict_json(document: Any) -> str:
    """JSON any strict parser reads: a NaN or an infinity is a bug upstream (a ratio from a
    zero baseline is None, not inf) and raises ValueError here rather than write `Infinity`."""
    return json.dumps(document, indent=1, default=_plain, allow_nan=False)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def check_writable(directory: Path) -> None:
    """Make the results folder, and show that a file can be written there, before anything
    is built: a bad --out is found first, not after the first variant."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise HarnessError(f"{directory}: cannot write results there "
                           f"({error.strerror or error}); expected a folder you can write "
                           "to") from None


def load(path: Path) -> dict[str, Any]:
    """A results file's document; refuses files of another schema version with what to do."""
    try:
        document = json.loads(path.read_text(), parse_constant=_refuse_constant)
    except OSError as error:
        raise HarnessError(f"{path}: cannot read ({error.strerror or error})") from None
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise HarnessError(f"{path}: not a harness results file (invalid JSON: {error})") from None
    version = document.get("schema_version") if isinstance(document, dict) else None
    if version == 2:
        document = _from_version_2(document)
    elif version != SCHEMA_VERSION:
        raise HarnessError(f"{path}: results schema version {version!r}, but this harness reads "
                           f"version {SCHEMA_VERSION}; use the harness version that wrote it, "
                           "or re-run the scenarios")
    problem = best_match(_validator().iter_errors(document))
    if problem is not None:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                        for p in problem.absolute_path).lstrip(".") or "the top level"
        raise HarnessError(f"{path}: not a valid harness results file: {field}: "
                           f"{problem.message} (see {SCHEMA_PATH.name})")
    scenarios = {scenario["name"] for scenario in document["scenarios"]}
    for kind in ("samples", "expectations"):
        for index, item in enumerate(document.get(kind) or []):
            if item["scenario"] not in scenarios:
                raise HarnessError(f"{path}: not a valid harness results file: "
                                   f"{kind}[{index}].scenario: {item['scenario']!r} is not one "
                                   "of the file's scenarios")
    return document


@functools.cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def _from_version_2(document: dict[str, Any]) -> dict[str, Any]:
    """A version 2 document as version 3: every figure is the classic store's, estimated."""
    for sample in document.get("samples") or []:
        sample.setdefault("cache_warning", None)
        sample.setdefault("compressed_stored",
                          False if sample.get("compressed_bytes") is not None else None)
    for image in document.get("images") or []:
        layers = image.get("layers") or {}
        layers.setdefault("compressed_stored", False)
        layers.setdefault("unpacked_bytes", None)
        for row in layers.get("layers") or []:
            row.setdefault("compressed_stored", False)
            row.setdefault("unpacked_bytes", None)
    engine = (document.get("environment") or {}).get("engine")
    if isinstance(engine, dict):
        engine.setdefault("image_store", "classic")
    document["schema_version"] = SCHEMA_VERSION
    return document


def run_record(run: Run) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "state": run.state,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "environment": run.environment,
        "options": dataclasses.asdict(run.options),
        "scenarios": [scenario_record(s) for s in run.scenarios],
        "samples": [dataclasses.asdict(s) for s in run.samples],
        "images": [dataclasses.asdict(i) for i in run.images],
        "bases": [dataclasses.asdict(b) for b in run.bases],
        "expectations": [{"scenario": name, **dataclasses.asdict(verdict)}
                         for name, verdicts in run.verdicts.items() for verdict in verdicts],
        "untimed_s": run.untimed_s,
    }


def scenario_record(scenario: Scenario) -> dict[str, Any]:
    """The scenario as loaded; values of secret build args are dropped, their names kept."""
    def build_args(values: dict[str, str]) -> dict[str, str | None]:
        return {name: None if name in scenario.secret_build_args else value
                for name, value in values.items()}

    return {
        "name": scenario.name,
        "path": str(scenario.path),
        "description": scenario.description,
        "baseline": scenario.baseline,
        "builders": list(scenario.builders),
        "cache": list(scenario.cache),
        "repeat": scenario.repeat,
        "files": scenario.files,
        "context": str(scenario.context) if scenario.context else None,
        "incremental": dataclasses.asdict(scenario.incremental) if scenario.incremental else None,
        "run": dataclasses.asdict(scenario.run),
        "bases": {ref: {"kind": r.kind, "options": r.options, "pull": r.pull}
                  for ref, r in scenario.bases.items()},
        "variants": {
            name: {"dockerfile": v.dockerfile, "build_args": build_args(v.build_args),
                   "target": v.target, "run": dataclasses.asdict(v.run), "bases": list(v.bases),
                   "builders": None if v.builders is None else list(v.builders)}
            for name, v in scenario.variants.items()},
        "expect": [{"expr": e.expr, "known_false": e.known_false, "note": e.note,
                    "cache": list(e.cache), "builders": list(e.builders),
                    "image_stores": list(e.image_stores)}
                   for e in scenario.expect],
        "secret_build_args": sorted(scenario.secret_build_args),
        "quick": dataclasses.asdict(scenario.quick),
        "registry": scenario.registry,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a results file")
