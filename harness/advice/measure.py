"""advise's measuring: the original and the rewrites as a scenario run by the runner `harness
run` uses (images kept until advise ends, then removed however it ends), and each image
checked in a container."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from harness.advice.change import SourceChange
from harness.advice.records import (
    ORIGINAL,
    AdviceReport,
    AdviceRow,
    AdviseError,
    AdviseOptions,
    Report,
)
from harness.model import CacheMode, Run, RunOptions, Sample, Squash, Status

CHECK_TIMEOUT_S = 10.0


@dataclass
class Runs:
    """The runs advise made (their images and containers removed however advise ends), the
    bases it pulled (removed too), and where their time went: timed builds, starts, untimed
    priming builds, reading images."""

    ids: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("builds", "starts", "priming", "reading"), 0.0))

    def add(self, run: Run) -> None:
        self.ids.append(run.run_id)
        self.seconds["builds"] += sum((s.build_s or 0) + (s.transform_s or 0)
                                      for s in run.samples)
        self.seconds["starts"] += sum(sum(s.start_samples_s) for s in run.samples)
        for name, seconds in run.untimed_s.items():
            self.seconds[name] += seconds


@contextlib.contextmanager
def removing_runs(client: Any) -> Iterator[Runs]:
    """The runs made; their images and containers, and the bases pulled, removed however
    advise ends."""
    runs = Runs()
    try:
        yield runs
    finally:
        import docker.errors

        from harness import engine

        for run_id in runs.ids:
            engine.remove_run(client, run_id)
        for reference in runs.pulled:
            with contextlib.suppress(docker.errors.NotFound):
                client.images.remove(reference)


def measure(options: AdviseOptions, variants: dict[str, str], folder: Path, runs: Runs,
             *, cache: tuple[CacheMode, ...], repeat: int, report: Report,
             squashed: dict[str, str] | None = None, change: SourceChange | None = None,
             push_incremental: bool = False) -> tuple[list[Sample], Path]:
    """The variants as a scenario, run by the runner `harness run` uses; images kept (for the
    checks) until advise ends. Only the cold builds' images are read: advise takes sizes
    from them, and warm and incremental builds only for their build time."""
    from harness.runner import run_scenarios, started_run
    from harness.scenario import ScenarioError, load_scenario

    folder.mkdir(parents=True)
    # a scenario's context lies inside its folder: a copy in harness's own temporary folder
    shutil.copytree(options.context, folder / "context", symlinks=True)
    path = folder / "advise.yaml"
    path.write_text(scenario_yaml(replace(options, context=folder / "context"), variants, [],
                                  cache, squashed=squashed or {}, change=change))
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        raise AdviseError(f"{options.dockerfile}: cannot be measured: {error}") from None
    run_options = RunOptions(builders=options.builders, cache=cache, repeat=repeat,
                             keep_images=True, registry=options.registry,
                             registry_all=bool(options.registry),
                             registry_incremental=push_incremental,
                             allow_concurrent=options.allow_concurrent,
                             read_images_of=(CacheMode.COLD,))
    started = time.monotonic()

    def progress(position: Any, done: int) -> None:
        pass

    def finished(sample: Sample, done: int) -> None:
        figures = f"{sample.size_bytes / 1e6:.1f} MB" if sample.size_bytes else \
            f"built in {sample.build_s:.1f} s" if sample.build_s else str(sample.status)
        report(f"[{done}] {sample.variant} {sample.builder} {sample.cache} rep "
               f"{sample.repetition}: {figures} ({time.monotonic() - started:.0f} s)")
    with started_run([scenario], run_options, options.out, progress, finished) as (runner,
                                                                                  results):
        try:
            run = run_scenarios(runner)
        finally:
            runs.add(runner.run)
    return list(run.samples), results


def write_scenario(result: AdviceReport, options: AdviseOptions, path: Path) -> None:
    """The original and the rewrites as a scenario at `path`, with a claim for each measured
    saving (the context named relative to it, so it must lie below the scenario's folder)."""
    from harness.store import write_text

    context = options.context.resolve()
    if not context.is_relative_to(path.parent.resolve()):
        raise AdviseError(f"--write-scenario {path}: a scenario's context lies inside its "
                          f"folder; write it into {context} or a folder above it")
    relative = replace(options, context=context.relative_to(path.parent.resolve()))
    write_text(path, scenario_yaml(relative, result.variants, result.rows,
                                   tuple(CacheMode(c) for c in result.cache_modes),
                                   for_user=True, squashed=result.squashed_after_build,
                                   change=result.source_change))


def scenario_yaml(options: AdviseOptions, variants: dict[str, str], rows: list[AdviceRow],
                  cache: tuple[CacheMode, ...], *, for_user: bool = False,
                  squashed: dict[str, str], change: SourceChange | None = None) -> str:
    """A scenario of the original and the rewrites, with a claim for each measured saving:
    keep it in scenarios/ and the nightly tracks it. Build args whose names look secret are
    secret_build_args (redacted in every output, as in run); in the user's copy their values
    are `{env: NAME}`, read from the environment, never written."""
    from harness.analyse import SECRET_NAME

    secrets = sorted(n for n in options.build_args if SECRET_NAME.search(n))
    build_args: dict[str, Any] = {n: ({"env": n} if for_user and n in secrets else v)
                                  for n, v in options.build_args.items()}
    document: dict[str, Any] = {
        "description": f"harness advise on {options.dockerfile}: the original and each "
                       "rewrite by a piece of slimming advice",
        "context": options.context.as_posix() or ".", "baseline": ORIGINAL,
        "builders": [str(b) for b in options.builders], "cache": [str(c) for c in cache],
        "repeat": options.repeat, "run": {"start_repeat": 1},
        **({"secret_build_args": secrets} if secrets and not for_user else {}),
        "variants": {name: {"dockerfile": text, **({"build_args": build_args}
                                                   if build_args else {}),
                            **({"target": options.target} if options.target else {}),
                            **_squash_settings(squashed.get(name))}
                     for name, text in variants.items()}}
    if CacheMode.INCREMENTAL in cache and change is not None:
        document["incremental"] = {"append": {"path": change.path, "text": change.text}}
        if change.new_file:
            document["files"] = {change.path: ""}
    claims = [f"{row.variant}.size_bytes < {ORIGINAL}.size_bytes" for row in rows
              if row.verdict == "saves" and row.variant in variants and row.size_change_bytes]
    if claims:
        document["expect"] = claims
    return yaml.dump(document, Dumper=_BlockDumper, sort_keys=False, width=100)


def _squash_settings(squash: str | None) -> dict[str, str]:
    """A variant's post-build squash; docker-squash onto the variant's base (its own layers)."""
    if squash is None:
        return {}
    return {"squash": squash, **({"squash_from": "base"} if squash == Squash.DOCKER_SQUASH
                                 else {})}


class _BlockDumper(yaml.SafeDumper):
    pass


_BlockDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def cold(samples: list[Sample], variant: str) -> Sample | None:
    return next((s for s in samples if s.variant == variant and s.cache is CacheMode.COLD),
                None)


def check(client: Any, sample: Sample | None, checks: tuple[str, ...],
          report: Report) -> tuple[bool, str]:
    """Each check in a container of the image (`sh -c CMD`, exit 0 wanted); without any, the
    image's own ENTRYPOINT/CMD must start and not exit non-zero within 10 s."""
    if sample is None or sample.status is not Status.OK or not sample.image_id:
        return False, (sample.error or "did not build")[-1000:] if sample else "not built"
    for command in checks or (None,):
        report(f"checking {sample.variant}: {command or 'its own CMD'}")
        passed, output = _run_check(client, sample.image_id, command)
        if not passed:
            return False, output
    return True, ""


def _run_check(client: Any, image: str, command: str | None) -> tuple[bool, str]:
    """One check. Only a container still running after 10 s passes without exiting (a
    server); a check that could not run at all (the engine lost, the container gone) is an
    error of the run, never a pass."""
    import docker.errors
    import requests

    from harness.engine import RUN_LABEL, remove_container

    kwargs: dict[str, Any] = {"detach": True, "labels": {RUN_LABEL: "advise-check"}}
    if command is not None:
        kwargs.update(entrypoint=["/bin/sh", "-c"], command=[command])
    try:
        container = client.containers.run(image, **kwargs)
    except docker.errors.ImageNotFound as error:
        raise AdviseError(f"the check could not run: {error.explanation or error}") from None
    except docker.errors.APIError as error:
        return False, f"did not start: {error.explanation or error}"
    except requests.exceptions.ConnectionError as error:
        raise AdviseError(f"the check could not run: the engine did not answer ({error})"
                          ) from None
    try:
        try:
            status = container.wait(timeout=CHECK_TIMEOUT_S)
        except requests.exceptions.ConnectionError as error:
            if not _timed_out(error):
                raise
            container.reload()
            if container.status != "running":
                raise AdviseError(f"the check could not run: its container is "
                                  f"{container.status} after {CHECK_TIMEOUT_S:.0f} s without "
                                  "an exit status") from None
            return command is None, "" if command is None else \
                f"`{command}` did not finish within {CHECK_TIMEOUT_S:.0f} s"
        output = container.logs().decode(errors="replace")[-1000:]
        code = status.get("StatusCode", 1)
        return code == 0, "" if code == 0 else f"exit {code}: {output.strip()}"
    except (docker.errors.APIError, requests.exceptions.ConnectionError) as error:
        raise AdviseError(f"the check could not run: {error}") from None
    finally:
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.ConnectionError):
            remove_container(client, container.id)


def _timed_out(error: Exception) -> bool:
    """The wait's read timed out (the container still runs): docker-py raises requests'
    ReadTimeout, or a ConnectionError around urllib3's ReadTimeoutError on its socket."""
    import requests
    import urllib3

    return isinstance(error, requests.exceptions.ReadTimeout) or any(
        isinstance(cause, urllib3.exceptions.ReadTimeoutError) for cause in error.args)


def refuse_existing(paths: list[Path | None], force: bool) -> None:
    for path in paths:
        if path is not None and path.exists() and not force:
            raise AdviseError(f"{path} exists; give --force to replace it")
