"""`harness advise`: a user's own Dockerfile, rewritten by each piece of slimming advice
(harness.rewrite), each rewrite built and measured by the runner `harness run` uses, checked
in a container, and ranked by what it measurably saves.

Nothing is estimated from the rules: a saving is the difference of measured images. The
original is built first, alone: its waste analysis (harness.analyse) says which RUN wrote
the bytes a later RUN hid, which is where the deletion advice applies, and its config is what
the squash rewrite declares again. Then the original and every rewrite are built in turns,
cold (and warm and incremental where the advice is about the cache), and each image must
pass the user's checks (or, without any, start its own ENTRYPOINT/CMD and not fail within
10 s). Last, the passing pieces combined. The user's files are never written; the run's
images are removed at the end, whatever stops it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from harness import rewrite
from harness.errors import HarnessError
from harness.model import Builder, CacheMode, RunOptions, Sample, Squash, Status
from harness.rewrite import NotApplicable, Parsed, Rewrite

CHECK_TIMEOUT_S = 10.0
ORIGINAL = "original"
COMBINED = "combined"
SIZE_NOISE_BYTES = 1024
"""A size change smaller than this is no gain (model.KIB, the bytes metrics' floor), nor one
within the spread of the sizes repeated cold builds gave (size_noise)."""
Report = Callable[[str], None]


class AdviseError(HarnessError):
    pass


@dataclass(frozen=True, kw_only=True)
class AdviseOptions:
    dockerfile: Path
    context: Path
    target: str | None = None
    build_args: dict[str, str]
    checks: tuple[str, ...] = ()
    builders: tuple[Builder, ...] = (Builder.BUILDKIT,)
    repeat: int = 1
    registry: str | None = None
    out: Path = Path("results")
    allow_concurrent: bool = False
    only: tuple[str, ...] = ()
    """The pieces to measure (their keys); empty: every piece."""


@dataclass(frozen=True, kw_only=True)
class AdviceRow:
    advice: str
    key: str
    hadolint: str
    lines: list[int]
    verdict: str
    """saves, no gain, breaks, or not applicable."""
    reason: str = ""
    variant: str = ""
    size_bytes: int | None = None
    size_change_bytes: int | None = None
    size_change_pct: float | None = None
    layers_change: int | None = None
    compressed_change_bytes: int | None = None
    push_change_bytes: int | None = None
    build_time: dict[str, str] | None = None
    """Per cache mode: the ratio of median build times to the original's, with its interval."""
    checks_passed: bool | None = None
    check_output: str = ""
    hadolint_lines: list[int] | None = None
    """Where hadolint flags this piece's rule in the Dockerfile (None: hadolint not run)."""


@dataclass(frozen=True, kw_only=True)
class AttributedWaste:
    path: str
    size_bytes: int
    written_by_line: int | None
    hidden_by_line: int | None


@dataclass(frozen=True, kw_only=True)
class AdviceReport:
    format: str = "harness-advice/1"
    dockerfile: str
    original_size_bytes: int
    original_layers: int
    original_wasted_bytes: int
    rows: list[AdviceRow]
    top_waste: list[AttributedWaste]
    original_check: str
    """"" where the original passes the checks; else what failed (every rewrite fails too)."""
    best: str | None
    """The variant recommended: the smallest passing rewrite that saves."""
    best_dockerfile: str | None
    best_diff: str | None
    results: list[str]
    """The results files of the runs that measured the rewrites (and the combination: of
    every rewrite, in the first two; where one did not pass, of the passing ones, in the
    last)."""
    phases_s: dict[str, float]
    """Wall seconds in the runner's runs, the waste analysis, the checks, and in total."""
    variants: dict[str, str]
    """Each measured variant's Dockerfile."""
    squashed_after_build: dict[str, str]
    """The variants whose image is squashed after the build (variant -> squash method)."""
    cache_modes: list[str]


def advise(options: AdviseOptions, report: Report) -> AdviceReport:
    parsed = rewrite.parse(options.dockerfile, options.context)
    original_text = options.dockerfile.read_text()
    if not options.context.is_dir():
        raise AdviseError(f"--context {options.context}: no such folder")
    from harness import engine

    client = engine.connect()
    started = time.monotonic()
    phases = {"runs": 0.0, "analysis": 0.0, "checks": 0.0}
    with tempfile.TemporaryDirectory(prefix="harness-advise-") as folder, \
            _removing_runs(client) as runs:
        report(f"building the original {options.dockerfile} once for its waste analysis")
        with _timed(phases, "runs"):
            first, _ = _measure(options, {ORIGINAL: original_text}, Path(folder) / "first",
                                runs, cache=(CacheMode.COLD,), repeat=1, report=report)
        original = _cold(first, ORIGINAL)
        if original is None or original.status is not Status.OK:
            tail = (original.error if original else "no sample") or ""
            raise BuildFailed(f"the original Dockerfile does not build:\n{tail[-2000:]}")
        from harness.analyse import analyse
        from harness.images import host_platform_name, read_engine

        with _timed(phases, "analysis"):
            analysis = analyse(read_engine(client, original.image_id or "",
                                           host_platform_name(), lambda message: None),
                               top=1000)
        config = client.api.inspect_image(original.image_id)["Config"]
        layer_line = layer_lines(parsed, analysis, options.target)
        pieces = [p for p in candidate_rewrites(parsed, analysis, layer_line, config,
                                                options.target)
                  if not options.only or p.key in options.only]
        rewrites = [p for p in pieces if isinstance(p, Rewrite)]
        variants = {ORIGINAL: original_text, **{_name(r): r.dockerfile for r in rewrites}}
        squashed = {_name(r): str(r.squash) for r in rewrites if r.squash}
        caches = _caches(rewrites)
        about_cache = [_name(r) for r in rewrites if _about_cache(r)]
        # the combination of every rewrite, measured with them: when each one passes (the
        # usual case) it is the combination of the passing ones, and needs no run of its own
        guessed = [r.key for r in rewrites if _name(r) not in squashed]
        guess = _combined(parsed, guessed, config, options.context)
        if guess is not None:
            variants[COMBINED] = guess[0]
            about_cache += [COMBINED] if about_cache else []
        report(f"measuring the original and {len(rewrites)} rewrite(s)"
               f"{' and their combination' if guess else ''} cold, "
               f"{options.repeat} repetition(s) each")
        with _timed(phases, "runs"):
            samples, results = _measure(options, variants, Path(folder) / "all", runs,
                                        cache=(CacheMode.COLD,), repeat=options.repeat,
                                        report=report, squashed=squashed)
        results_files = [str(results)]
        if about_cache:  # warm and incremental only where the advice is about the cache
            report(f"measuring the original and {', '.join(about_cache)} "
                   f"{' '.join(caches[1:])}")
            with _timed(phases, "runs"):
                rebuilt, rebuilt_results = _measure(
                    options, {name: variants[name] for name in (ORIGINAL, *about_cache)},
                    Path(folder) / "cache", runs, cache=caches[1:], repeat=options.repeat,
                    report=report)
            samples += rebuilt
            results_files.append(str(rebuilt_results))
        with _timed(phases, "checks"):
            checked = {name: check(client, _cold(samples, name), options.checks, report)
                       for name in variants}
        rows = [_row(piece, samples, checked) for piece in pieces]
        passing = [row.key for row in rows if row.verdict == "saves"
                   and row.variant not in squashed]  # a Dockerfile is what is combined
        combined = _combined(parsed, passing, config, options.context)
        if guess is not None and (combined is None or combined[0] != guess[0]):
            del variants[COMBINED]  # measured, but not what passed: not shown
            samples = [s for s in samples if s.variant != COMBINED]
        combined_samples = samples
        if combined is not None and COMBINED not in variants:
            report(f"measuring the {len(combined[1])} passing pieces combined")
            variants[COMBINED] = combined[0]
            with _timed(phases, "runs"):
                together, combined_results = _measure(
                    options, {ORIGINAL: original_text, COMBINED: combined[0]},
                    Path(folder) / "combined", runs, cache=caches, repeat=options.repeat,
                    report=report)
            with _timed(phases, "checks"):
                checked[COMBINED] = check(client, _cold(together, COMBINED), options.checks,
                                          report)
            results_files.append(str(combined_results))
            combined_samples = together
        if combined is not None:
            lines = sorted({n for r in rewrites if r.key in combined[1] for n in r.lines})
            rows.append(_row(Rewrite(advice="all passing pieces combined: "
                                     + ", ".join(combined[1]), key=COMBINED, hadolint="",
                                     lines=tuple(lines), dockerfile=combined[0]),
                             combined_samples, checked))
    flagged = hadolint_findings(options.dockerfile, report)
    if flagged is not None:
        rows = [replace(r, hadolint_lines=sorted({line for code in r.hadolint.split("/")
                                                  for line in flagged.get(code, [])}))
                if r.hadolint else r for r in rows]
    rows.sort(key=_rank)
    best = next((r for r in rows if r.verdict == "saves" and r.variant not in squashed), None)
    best_text = variants.get(best.variant) if best else None
    return AdviceReport(
        dockerfile=str(options.dockerfile), original_size_bytes=original.size_bytes or 0,
        original_layers=original.layer_count or 0,
        original_wasted_bytes=original.wasted_bytes or 0, rows=rows,
        original_check="" if checked[ORIGINAL][0] else checked[ORIGINAL][1],
        top_waste=[AttributedWaste(path=w.path, size_bytes=w.size_bytes,
                                   written_by_line=layer_line[w.written_in],
                                   hidden_by_line=layer_line[w.hidden_in])
                   for w in analysis.top_waste[:10]],
        best=best.variant if best else None, best_dockerfile=best_text,
        best_diff="".join(difflib.unified_diff(
            original_text.splitlines(keepends=True), best_text.splitlines(keepends=True),
            str(options.dockerfile), f"{options.dockerfile} (advised)")) if best_text else None,
        results=results_files, variants=variants, squashed_after_build=squashed,
        cache_modes=[str(c) for c in caches],
        phases_s={**phases, "total": time.monotonic() - started})


class BuildFailed(HarnessError):
    """The original does not build: nothing to advise (exit 1)."""


def hadolint_findings(path: Path, report: Report) -> dict[str, list[int]] | None:
    """hadolint's findings on the Dockerfile (`hadolint -f json`), code -> lines; None where
    hadolint is not installed or fails."""
    import json
    import subprocess
    import sys

    binary = shutil.which("hadolint") or shutil.which("hadolint", path=str(
        Path(sys.executable).parent))
    if binary is None:
        report("hadolint not found: advice is shown without its findings")
        return None
    try:
        result = subprocess.run([binary, "-f", "json", "--no-fail", str(path)],
                                capture_output=True, text=True, timeout=60)
        findings = json.loads(result.stdout or "[]")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    flagged: dict[str, list[int]] = {}
    for finding in findings:
        flagged.setdefault(finding.get("code", ""), []).append(int(finding.get("line", 0)))
    return flagged


def advice_keys() -> list[str]:
    """Every piece's key, as --only names them."""
    return [*rewrite.ADVICE, "move-deletion", "flatten", str(Squash.EXPORT_IMPORT),
            str(Squash.DOCKER_SQUASH)]


def _name(piece: Rewrite) -> str:
    return piece.key if piece.key != "move-deletion" else \
        f"move-deletion-{piece.lines[0]}"


def _rank(row: AdviceRow) -> tuple[int, int]:
    order = {"saves": 0, "no gain": 1, "breaks": 2, "not applicable": 3}[row.verdict]
    return order, row.size_change_bytes or 0


def candidate_rewrites(parsed: Parsed, analysis: Any, layer_line: list[int | None],
                       config: dict[str, Any], target: str | None = None
                       ) -> list[Rewrite | NotApplicable]:
    pieces: list[Rewrite | NotApplicable] = [apply(parsed)
                                             for _, _, apply in rewrite.ADVICE.values()]
    spans = sorted({(layer_line[w.written_in], layer_line[w.hidden_in])
                    for w in analysis.top_waste
                    if layer_line[w.written_in] and layer_line[w.hidden_in]})
    if spans:
        pieces += [rewrite.merge_span(parsed, written, hidden)
                   for written, hidden in spans]
    else:
        pieces.append(NotApplicable(advice="delete files in the RUN that made them",
                                    key="move-deletion", hadolint="",
                                    reason="no layer of this Dockerfile hides another's files"))
    if parsed.built_stage(target) == parsed.final_stage:
        pieces.append(rewrite.flatten(parsed, config))
    else:
        pieces.append(NotApplicable(
            advice="squash: a final FROM scratch stage with the image's files and config",
            key="flatten", hadolint="", reason=f"--target {target} is not the last stage"))
    return pieces + rewrite.squash_after_build(parsed, target)


def layer_lines(parsed: Parsed, analysis: Any, target: str | None = None
                ) -> list[int | None]:
    """The Dockerfile line of each layer of the built image (None for the base's), matched
    by the layers' history: RUN bodies by their text, COPY and ADD in order."""
    stage = parsed.stage(parsed.built_stage(target))
    makers = [i for i in stage if i.cmd in ("RUN", "COPY", "ADD")]
    lines: list[int | None] = []
    remaining = list(makers)
    own = len(analysis.layers) - len(makers)  # the base's layers come first
    for index, layer in enumerate(analysis.layers):
        if index < own or not remaining:
            lines.append(None)
            continue
        text = " ".join(layer.created_by.split())
        match = next((i for i in remaining if (i.cmd == "RUN" and " ".join(i.body.split()) in text)
                      or (i.cmd != "RUN" and re.search(rf"\b{i.cmd}\b", text))), None)
        if match is None:
            lines.append(None)
            continue
        remaining = remaining[remaining.index(match) + 1:]
        lines.append(match.start)
    return lines


def _combined(parsed: Parsed, keys: list[str], config: dict[str, Any],
              context: Path) -> tuple[str, list[str]] | None:
    """The pieces applied one after another (each to the previous one's output), then the
    squash if "flatten" is among them, and the keys applied; None unless two apply. A moved
    deletion is left out: its lines are the original's, which the pieces before it moved
    (the squash drops the bytes it would)."""
    text = "\n".join(parsed.lines) + "\n"
    applied: list[str] = []
    with tempfile.TemporaryDirectory(prefix="harness-advise-") as folder:
        path = Path(folder) / "Dockerfile"
        for key in keys:
            if key not in rewrite.ADVICE:
                continue
            path.write_text(text)
            result = rewrite.ADVICE[key][2](rewrite.parse(path, context))
            if isinstance(result, Rewrite):
                text = result.dockerfile
                applied.append(key)
        if "flatten" in keys:
            path.write_text(text)
            text = rewrite.flatten(rewrite.parse(path, context), config).dockerfile
            applied.append("flatten")
    return (text, applied) if len(applied) > 1 else None


def _rebuild_modes(piece: Rewrite) -> tuple[CacheMode, ...]:
    """The rebuilds a piece changes, measured beside its cold build: chaining changes a warm
    rebuild; the cache order and a COPY moved up change what a source change rebuilds."""
    if piece.key == "cache-order" or piece.rebuilds_from_the_source:
        return (CacheMode.WARM, CacheMode.INCREMENTAL)
    return (CacheMode.WARM,) if piece.key == "chain" else ()


def _about_cache(piece: Rewrite) -> bool:
    return bool(_rebuild_modes(piece))


def _caches(rewrites: list[Rewrite]) -> tuple[CacheMode, ...]:
    return (CacheMode.COLD, *max((_rebuild_modes(r) for r in rewrites), key=len, default=()))


@contextlib.contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        phases[name] += time.monotonic() - started


@contextlib.contextmanager
def _removing_runs(client: Any) -> Iterator[list[str]]:
    """The run ids made; their images and containers removed however advise ends."""
    runs: list[str] = []
    try:
        yield runs
    finally:
        from harness import engine

        for run_id in runs:
            engine.remove_run(client, run_id)


def _measure(options: AdviseOptions, variants: dict[str, str], folder: Path, runs: list[str],
             *, cache: tuple[CacheMode, ...], repeat: int, report: Report,
             squashed: dict[str, str] | None = None) -> tuple[list[Sample], Path]:
    """The variants as a scenario, run by the runner `harness run` uses; images kept (for the
    checks) until advise ends."""
    from harness.runner import run_scenarios, started_run
    from harness.scenario import ScenarioError, load_scenario

    folder.mkdir(parents=True)
    # a scenario's context lies inside its folder: a copy in harness's own temporary folder
    shutil.copytree(options.context, folder / "context", symlinks=True)
    path = folder / "advise.yaml"
    path.write_text(scenario_yaml(replace(options, context=folder / "context"), variants, [],
                                  cache, squashed=squashed or {}))
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        raise AdviseError(f"{options.dockerfile}: cannot be measured: {error}") from None
    run_options = RunOptions(builders=options.builders, cache=cache, repeat=repeat,
                             keep_images=True, registry=options.registry,
                             registry_all=bool(options.registry),
                             allow_concurrent=options.allow_concurrent)
    started = time.monotonic()

    def progress(position: Any, done: int) -> None:
        pass

    def finished(sample: Sample, done: int) -> None:
        figures = f"{sample.size_bytes / 1e6:.1f} MB" if sample.size_bytes else str(sample.status)
        report(f"[{done}] {sample.variant} {sample.builder} {sample.cache} rep "
               f"{sample.repetition}: {figures} ({time.monotonic() - started:.0f} s)")
    with started_run([scenario], run_options, options.out, progress, finished) as (runner,
                                                                                  results):
        runs.append(runner.run.run_id)
        run = run_scenarios(runner)
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
                                   tuple(CacheMode(c) for c in result.cache_modes), context,
                                   for_user=True, squashed=result.squashed_after_build))


def scenario_yaml(options: AdviseOptions, variants: dict[str, str], rows: list[AdviceRow],
                  cache: tuple[CacheMode, ...], context: Path | None = None, *,
                  for_user: bool = False, squashed: dict[str, str]) -> str:
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
    if CacheMode.INCREMENTAL in cache:
        source = _source_file(context or options.context)
        document["incremental"] = {"append": {"path": source, "text": _comment(source)}}
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


SLASH_COMMENTS = {".c", ".h", ".cc", ".cpp", ".hpp", ".go", ".rs", ".js", ".mjs", ".ts",
                  ".java", ".kt", ".scala", ".swift", ".cs", ".php"}
HASH_COMMENTS = {".py", ".sh", ".rb", ".pl", ".r", ".yaml", ".yml", ".toml", ".conf", ".cfg",
                 ".ini", ".txt"}


def _comment(source: str) -> str:
    """The incremental change to a source file: a line the build still accepts (a comment in
    the file's language, by its suffix), with the runner's nonce."""
    suffix = Path(source).suffix.lower()
    marker = "// " if suffix in SLASH_COMMENTS else "# " if suffix in HASH_COMMENTS else ""
    return f"\n{marker}harness advise {{nonce}}\n"


def _source_file(context: Path) -> str:
    """A file of the context that is not a dependency manifest, for the incremental change."""
    manifests = {p.name for group in rewrite.MANIFESTS for pattern in group
                 for p in context.glob(pattern)}
    for path in sorted(context.rglob("*")):
        if path.is_file() and path.name not in manifests \
                and not path.name.startswith(("Dockerfile", ".")) \
                and not any(part.startswith(".") for part in path.relative_to(context).parts):
            return path.relative_to(context).as_posix()
    return "Dockerfile"


class _BlockDumper(yaml.SafeDumper):
    pass


_BlockDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def _cold(samples: list[Sample], variant: str) -> Sample | None:
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
    import docker.errors

    from harness.engine import RUN_LABEL

    kwargs: dict[str, Any] = {"detach": True, "labels": {RUN_LABEL: "advise-check"}}
    if command is not None:
        kwargs.update(entrypoint=["/bin/sh", "-c"], command=[command])
    try:
        container = client.containers.run(image, **kwargs)
    except docker.errors.APIError as error:
        return False, f"did not start: {error.explanation or error}"
    try:
        try:
            status = container.wait(timeout=CHECK_TIMEOUT_S)
        except Exception:  # still running after 10 s: started, as a server does
            return command is None, "" if command is None else \
                f"`{command}` did not finish within {CHECK_TIMEOUT_S:.0f} s"
        output = container.logs().decode(errors="replace")[-1000:]
        code = status.get("StatusCode", 1)
        return code == 0, "" if code == 0 else f"exit {code}: {output.strip()}"
    finally:
        with contextlib.suppress(docker.errors.APIError):
            container.remove(force=True)


def _row(piece: Rewrite | NotApplicable, samples: list[Sample],
         checked: dict[str, tuple[bool, str]]) -> AdviceRow:
    if isinstance(piece, NotApplicable):
        return AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint, lines=[],
                         verdict="not applicable", reason=piece.reason)
    name = COMBINED if piece.key == COMBINED else _name(piece)
    mine = [s for s in samples if s.variant == name]
    base = [s for s in samples if s.variant == ORIGINAL]
    passed, output = checked.get(name, (False, "not measured"))
    cold, original = _cold(samples, name), _cold(samples, ORIGINAL)
    if cold is not None and cold.status is Status.SKIPPED:  # e.g. a squash this store lacks
        return AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                         lines=list(piece.lines), verdict="not applicable",
                         reason=cold.error or "skipped", variant=name)
    row = AdviceRow(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                    lines=list(piece.lines), verdict="breaks", variant=name,
                    checks_passed=passed, check_output=output)
    if not passed or cold is None or original is None or cold.size_bytes is None \
            or original.size_bytes is None:
        return replace(row, reason=output or "did not build")
    size, original_size = _median_size(mine), _median_size(base)
    change = size - original_size
    times = {}
    for cache in (CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL):
        times.update(_time_ratio(mine, base, cache) or _failed_build(mine, base, cache))
    saves = change < -size_noise(mine, base) or (
        piece.key == "cache-order" and _faster(mine, base, CacheMode.INCREMENTAL))
    return replace(
        row, verdict="saves" if saves else "no gain", size_bytes=size,
        size_change_bytes=change, size_change_pct=100 * change / original_size
        if original_size else None,
        layers_change=(cold.layer_count or 0) - (original.layer_count or 0),
        compressed_change_bytes=None if cold.compressed_bytes is None or
        original.compressed_bytes is None else cold.compressed_bytes - original.compressed_bytes,
        push_change_bytes=None if cold.push_bytes is None or original.push_bytes is None
        else cold.push_bytes - original.push_bytes, build_time=times)


def _median_size(samples: list[Sample]) -> int:
    """The median of the cold builds' sizes (the image's size: exact, but apt's logs and
    dated caches can move it between builds)."""
    return int(statistics.median(s.size_bytes for s in samples if s.cache is CacheMode.COLD
                                 and s.status is Status.OK and s.size_bytes is not None))


def size_noise(*sides: list[Sample]) -> int:
    """How much the same Dockerfile's image size moves between cold builds here (apt's logs,
    caches with dates): the largest spread of either side's cold sizes, at least 1 KiB. A
    size change within it is no gain."""
    spreads = [max(sizes) - min(sizes) for side in sides
               if (sizes := [s.size_bytes for s in side if s.cache is CacheMode.COLD
                             and s.status is Status.OK and s.size_bytes is not None])]
    return max([SIZE_NOISE_BYTES, *spreads])


def _timings(samples: list[Sample], cache: CacheMode) -> list[float]:
    """Each build's time, and where the image is squashed after the build, the squash's too:
    what the user's CI spends to get the image (the Dockerfile is the original's, so the
    build alone would only show the original's build again)."""
    from harness.model import counted_value

    return [v + (s.transform_s or 0) for s in samples if s.cache is cache
            and (v := counted_value(s, "build_s")) is not None]


def _time_ratio(mine: list[Sample], base: list[Sample], cache: CacheMode) -> dict[str, str]:
    from harness.stats import ratio_interval

    new, old = _timings(mine, cache), _timings(base, cache)
    if not new or not old:
        return {}
    ratio = statistics.median(new) / statistics.median(old)
    interval = ratio_interval(old, new)
    squashed = any(s.transform_s is not None for s in mine if s.cache is cache)
    return {str(cache): f"×{ratio:.2f} [{interval.low:.2f}–{interval.high:.2f}, "
                        f"{interval.kind}]" + (" with the squash" if squashed else "")}


def _failed_build(mine: list[Sample], base: list[Sample], cache: CacheMode) -> dict[str, str]:
    """Where a build of this mode failed, what it said: never a ratio silently left out."""
    for side, samples in (("", mine), ("the original's: ", base)):
        failed = next((s for s in samples if s.cache is cache and s.status is Status.FAILED),
                      None)
        if failed is not None:
            first = (failed.error or "").strip().splitlines()[:1]
            return {str(cache): f"failed ({side}{first[0][:120] if first else 'no output'})"}
    return {}


def _faster(mine: list[Sample], base: list[Sample], cache: CacheMode) -> bool:
    from harness.stats import ratio_interval

    new, old = _timings(mine, cache), _timings(base, cache)
    return bool(new and old) and ratio_interval(old, new).high < 1


def refuse_existing(paths: list[Path | None], force: bool) -> None:
    for path in paths:
        if path is not None and path.exists() and not force:
            raise AdviseError(f"{path} exists; give --force to replace it")


def advice_markdown(result: AdviceReport) -> str:
    from tabulate import tabulate

    def size(row: AdviceRow) -> str:
        if row.size_change_bytes is None:
            return ""
        return f"{row.size_change_bytes:+,} B ({row.size_change_pct or 0:+.1f} %)"
    def code(row: AdviceRow) -> str:
        if not row.hadolint or not row.hadolint_lines:
            return row.hadolint
        return f"{row.hadolint} (flags {', '.join(map(str, row.hadolint_lines))})"
    table = [[row.advice, code(row), ", ".join(map(str, row.lines)), size(row),
              "" if row.layers_change is None else f"{row.layers_change:+d}",
              "" if row.compressed_change_bytes is None else f"{row.compressed_change_bytes:+,}",
              "" if row.push_change_bytes is None else f"{row.push_change_bytes:+,}",
              "; ".join(f"{k} {v}" for k, v in (row.build_time or {}).items()),
              {True: "✓", False: "✗", None: ""}[row.checks_passed],
              row.verdict + (f": {row.reason}" if row.reason else "")] for row in result.rows]
    lines = [f"## harness advise {result.dockerfile}", "",
             f"The original: {result.original_size_bytes:,} B in {result.original_layers} "
             f"layers, {result.original_wasted_bytes:,} B wasted.", "",
             tabulate(table, headers=["advice", "hadolint", "lines", "size", "layers",
                                      "compressed", "push", "build time (× original)",
                                      "checks", "verdict"], tablefmt="github",
                      disable_numparse=True), ""]
    if result.top_waste:
        lines += ["The original's top wasted files:", "", tabulate(
            [[f"/{w.path}", f"{w.size_bytes:,}", w.written_by_line or "the base",
              w.hidden_by_line or "the base"] for w in result.top_waste],
            headers=["path", "bytes", "written at line", "hidden at line"], tablefmt="github",
            disable_numparse=True), ""]
    if result.original_check:
        lines += [f"Your original fails the checks too: {result.original_check}", ""]
    broken = [r for r in result.rows if r.verdict == "breaks"]
    for row in broken:
        lines += [f"✗ {row.advice} breaks your image: {row.check_output or row.reason}"]
    if result.best_diff:
        lines += ["", f"Recommended: {result.best} — the rewritten Dockerfile against yours:",
                  "", "```diff", result.best_diff.rstrip("\n"), "```"]
    elif after_build := [r for r in result.rows if r.verdict == "saves"]:
        lines += ["", "No rewrite of the Dockerfile saves anything measurable; a step after "
                  f"the build does: {after_build[0].advice}, {size(after_build[0])}."]
    else:
        lines += ["", "No rewrite saves anything measurable on this Dockerfile."]
    lines += ["", f"results: {', '.join(result.results)}"]
    return "\n".join(lines) + "\n"


def advice_html(result: AdviceReport) -> str:
    """The page: a chart of each measured variant's size against the original's, the same
    tables as the Markdown, and the recommended diff."""
    import html

    import matplotlib.pyplot as plt

    from harness.page import STYLE, svg

    measured = [r for r in result.rows if r.size_bytes is not None]
    figure, axes = plt.subplots(figsize=(max(4, 0.9 * len(measured) + 3), 3.6))
    labels = [ORIGINAL, *(r.variant for r in measured)]
    sizes = [result.original_size_bytes / 1e6, *(r.size_bytes / 1e6 for r in measured
                                                 if r.size_bytes is not None)]
    colours = ["#9e9e9e", *("#d62728" if r.verdict == "breaks" else "#1f77b4"
                            for r in measured)]
    axes.bar(labels, sizes, color=colours)
    axes.set_ylabel("MB")
    axes.set_title("image size per rewrite (red: breaks a check)")
    chart = svg(figure)
    markdown = advice_markdown(result)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>harness advise "
            f"{html.escape(result.dockerfile)}</title><style>{STYLE}</style></head><body>"
            f"<h1>harness advise {html.escape(result.dockerfile)}</h1><figure>{chart}"
            "<figcaption>image size of the original and each measured rewrite</figcaption>"
            f"</figure><pre>{html.escape(markdown)}</pre></body></html>")
