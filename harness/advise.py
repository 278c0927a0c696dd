"""`harness advise`: a user's own Dockerfile, rewritten by each piece of slimming advice
(harness.advice), each rewrite built and measured by the runner `harness run` uses, checked
in a container, compared file by file with the original by the image guard, and ranked by
what it measurably saves.

Nothing is estimated from the rules: a saving is the difference of measured images. The
original is built first, alone: its waste analysis (harness.analyse) says which RUN wrote
the bytes a later RUN hid, which is where the deletion advice applies, and its config is what
the squash rewrite declares again. Then the original and every rewrite are built in turns,
cold (and warm and incremental where the advice is about the cache), and each image must
pass the user's checks (or, without any, start its own ENTRYPOINT/CMD and not fail within
10 s) and the image guard (differ from the original only in what its advice explains; the
two builds of the original say what is build noise). Last, the passing pieces combined. The
user's files are never written; the run's images are removed at the end, whatever stops it.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import reduce
from pathlib import Path
from typing import Any

from harness.advice import (
    build_stage,
    cache,
    cache_mount,
    flatten,
    move_deletion,
    smaller_base,
    squash,
)
from harness.advice.change import SourceChange, source_change
from harness.advice.edit import NOTHING, MayChange, NotApplicable, Rewrite, left_alone
from harness.advice.guard import (
    GuardVerdict,
    ImageFiles,
    build_noise,
    differences,
    guard,
    image_files,
)
from harness.advice.measure import check, cold, measure, removing_runs
from harness.advice.parse import Parsed, parse
from harness.advice.pieces import PIECES, combine
from harness.advice.records import (
    COMBINED,
    ORIGINAL,
    AdviceReport,
    AdviceRow,
    AdviseOptions,
    AttributedWaste,
    BuildFailed,
    Report,
)
from harness.advice.rows import beside_cleanup, rank, row, variant_name
from harness.layers import LayerFacts
from harness.model import Builder, CacheMode, Sample, Status


def advise(options: AdviseOptions, report: Report) -> AdviceReport:
    parsed = parse(options.dockerfile, options.context)
    original_text = parsed.source
    from harness import engine

    client = engine.connect()
    started = time.monotonic()
    phases = {"runs": 0.0, "analysis": 0.0, "checks": 0.0, "guard": 0.0}
    with tempfile.TemporaryDirectory(prefix="harness-advise-") as folder, \
            removing_runs(client) as runs:
        report(f"building the original {options.dockerfile} once for its waste analysis")
        with _timed(phases, "runs"):
            first, _ = measure(options, {ORIGINAL: original_text}, Path(folder) / "first",
                               runs, cache=(CacheMode.COLD,), repeat=1, report=report)
        original = cold(first, ORIGINAL)
        if original is None or original.status is not Status.OK:
            tail = (original.error if original else "no sample") or ""
            raise BuildFailed(f"the original Dockerfile does not build:\n{tail[-2000:]}")
        from harness.analyse import analyse
        from harness.images import engine_image

        with _timed(phases, "analysis"):
            image = engine_image(client, original.image_id or "")
            analysis = analyse(image, top=1000)
        config = client.api.inspect_image(original.image_id)["Config"]
        layer_line = layer_lines(parsed, analysis, options.target)
        pieces = [p for p in candidate_rewrites(parsed, analysis, layer_line, config,
                                                options.target, image.layers)
                  if not options.only or p.key in options.only]
        with _timed(phases, "guard"):
            pieces = [_on_the_engine(client, p, parsed, runs.pulled if options.pull else None,
                                     report) if isinstance(p, Rewrite) and
                      p.key == smaller_base.KEY else p for p in pieces]
        pieces = [_on_buildkit(p, options.builders) if isinstance(p, Rewrite) and
                  p.key == cache_mount.KEY else p for p in pieces]
        rewrites = [p for p in pieces if isinstance(p, Rewrite)]
        variants = {ORIGINAL: original_text, **{variant_name(r): r.dockerfile for r in rewrites}}
        allowances = {variant_name(r): r.may_change for r in rewrites}
        squashed = {variant_name(r): str(r.squash) for r in rewrites if r.squash}
        caches = _caches(rewrites)
        found = source_change(parsed, options.context)
        change = found if isinstance(found, SourceChange) else None
        incremental = found if isinstance(found, str) and CacheMode.INCREMENTAL in caches \
            else ""
        if change is None:
            caches = tuple(c for c in caches if c is not CacheMode.INCREMENTAL)
        about_cache = [variant_name(r) for r in rewrites if _about_cache(r) or (
            r.key == cache.PIECE.key and cache_mount.KEY in variants)]  # the two side by side
        # flatten's cost beside its saving: what a push uploads after a one-line change
        pushes_change = bool(options.registry) and change is not None and \
            any(r.key == flatten.KEY for r in rewrites)
        if change is not None and (pushes_change or CacheMode.INCREMENTAL in caches):
            report(f"checking that the original still builds with the change to "
                   f"{change.path} harness plants for incremental builds")
            with _timed(phases, "runs"):
                tried, _ = measure(options, {ORIGINAL: original_text}, Path(folder) / "try",
                                   runs, cache=(CacheMode.INCREMENTAL,), repeat=1,
                                   report=report, change=change)
            incremental = _original_fails(tried, change)
            if incremental:  # measured for no piece, and said once
                change, pushes_change = None, False
                caches = tuple(c for c in caches if c is not CacheMode.INCREMENTAL)
        if pushes_change:
            about_cache.append(flatten.KEY)
            caches = (CacheMode.COLD, CacheMode.WARM, CacheMode.INCREMENTAL)
        # the combination of every rewrite, measured with them: when each one passes (the
        # usual case) it is the combination of the passing ones, and needs no run of its own
        guessed = [r for r in rewrites if variant_name(r) not in squashed]
        guess = combine(parsed, [r.key for r in guessed], config, _built_from(guessed))
        if guess is not None:
            variants[COMBINED] = guess[0]
            about_cache += [COMBINED] if about_cache else []
        built = dict(variants)  # as built: the cache mounts named as harness's own
        if cache_mount.KEY in built:
            built[cache_mount.KEY] = cache_mount.owned(built[cache_mount.KEY],
                                                       uuid.uuid4().hex[:12])
        report(f"measuring the original and {len(rewrites)} rewrite(s)"
               f"{' and their combination' if guess else ''} cold, "
               f"{options.repeat} repetition(s) each")
        with _timed(phases, "runs"):
            samples, results = measure(options, built, Path(folder) / "all", runs,
                                       cache=(CacheMode.COLD,), repeat=options.repeat,
                                       report=report, squashed=squashed)
        results_files = [str(results)]
        if about_cache:  # warm and incremental only where the advice is about the cache
            report(f"measuring the original and {', '.join(about_cache)} "
                   f"{' '.join(caches[1:])}")
            with _timed(phases, "runs"):
                rebuilt, rebuilt_results = measure(
                    options, {name: built[name] for name in (ORIGINAL, *about_cache)},
                    Path(folder) / "cache", runs, cache=caches[1:], repeat=options.repeat,
                    report=report, change=change, push_incremental=pushes_change)
            samples += rebuilt
            results_files.append(str(rebuilt_results))
        with _timed(phases, "checks"):
            checked = {name: check(client, cold(samples, name), options.checks, report)
                       for name in variants}
        report("comparing each rewrite's image with the original's (the image guard)")
        with _timed(phases, "guard"):
            bases = _guard_bases(client, first + samples)
            if guess is not None:
                allowances[COMBINED] = _union(guessed, guess[1])
            guarded = _guarded(client, samples, bases, allowances)
        rows = beside_cleanup([row(piece, samples, checked, guarded) for piece in pieces],
                              samples)
        if pushes_change:
            rows = [_with_change_push(r, samples) if r.key == flatten.KEY else r for r in rows]
        passing = [r.key for r in rows if r.verdict == "saves"
                   and r.variant not in squashed]  # a Dockerfile is what is combined
        combined = combine(parsed, passing, config,
                           _built_from([r for r in rewrites if r.key in passing]))
        if guess is not None and (combined is None or combined[0] != guess[0]):
            del variants[COMBINED]  # measured, but not what passed: not shown
            samples = [s for s in samples if s.variant != COMBINED]
        combined_samples = samples
        if combined is not None and COMBINED not in variants:
            report(f"measuring the {len(combined[1])} passing pieces combined")
            variants[COMBINED] = combined[0]
            both = {ORIGINAL: original_text, COMBINED: combined[0]}
            with _timed(phases, "runs"):  # cold apart: a planted file is in no cold build
                together, combined_results = measure(
                    options, both, Path(folder) / "combined", runs, cache=caches[:1],
                    repeat=options.repeat, report=report)
                if len(caches) > 1:
                    rebuilt, _ = measure(options, both, Path(folder) / "combined-cache", runs,
                                         cache=caches[1:], repeat=options.repeat,
                                         report=report, change=change)
                    together += rebuilt
            with _timed(phases, "checks"):
                checked[COMBINED] = check(client, cold(together, COMBINED), options.checks,
                                          report)
            with _timed(phases, "guard"):
                guarded.update(_guarded(client, together, bases, {COMBINED: _union(
                    rewrites, combined[1])}))
            results_files.append(str(combined_results))
            combined_samples = together
        if combined is not None:
            lines = sorted({n for r in rewrites if r.key in combined[1] for n in r.lines})
            rows.append(row(Rewrite(advice="all passing pieces combined: "
                                    + ", ".join(combined[1]), key=COMBINED, hadolint="",
                                    lines=tuple(lines), dockerfile=combined[0],
                                    may_change=_union(rewrites, combined[1])),
                            combined_samples, checked, guarded))
    flagged, hadolint_problem = hadolint_findings(options.dockerfile, report)
    if flagged is not None:
        rows = [replace(r, hadolint_lines=sorted({line for code in r.hadolint.split("/")
                                                  for line in flagged.get(code, [])}))
                if r.hadolint else r for r in rows]
    rows.sort(key=rank)
    phases = _split(phases, runs.seconds, time.monotonic() - started)
    report(f"advise took {phases['total']:.0f} s: timed builds {phases['builds']:.0f} s, "
           f"priming {phases['priming']:.0f} s, starts and checks "
           f"{phases['starts'] + phases['checks']:.0f} s, reading images "
           f"{phases['reading'] + phases['analysis']:.1f} s, image guard {phases['guard']:.1f} s, "
           f"harness's own {phases['own']:.1f} s (its overhead: "
           f"{100 * phases['overhead'] / phases['total']:.0f} % of the wall time)")
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
        cache_modes=[str(c) for c in caches], hadolint=hadolint_problem,
        source_change=change, incremental=incremental,
        left_alone=left_alone(parsed).removeprefix("; left alone: "),
        noise_paths=sorted({p for _, noise in bases.values() for p in noise}),
        phases_s=phases)


def _with_change_push(flat: AdviceRow, samples: list[Sample]) -> AdviceRow:
    """The flatten row with what a push uploads after a one-line source change, its own and
    the original's, measured on the registry: the blobs of the changed image's push that the
    unchanged image's push had not."""
    mine, original = _change_push(samples, flat.variant), _change_push(samples, ORIGINAL)
    if mine is None or original is None:
        return flat
    return replace(flat, push_after_change_bytes=mine, note=(
        f"{flat.note}; measured on the registry, a one-line source change pushes {mine:,} B "
        f"of it, against {original:,} B of the original"))


def _change_push(samples: list[Sample], variant: str) -> int | None:
    def pushed(cache: CacheMode) -> dict[str, int] | None:
        return next((s.pushed_blobs for s in samples if s.variant == variant and
                     s.cache is cache and s.pushed_blobs), None)

    before, after = pushed(CacheMode.COLD), pushed(CacheMode.INCREMENTAL)
    if before is None or after is None:
        return None
    return sum(size for digest, size in after.items() if digest not in before)


def _original_fails(samples: list[Sample], change: SourceChange | None) -> str:
    """Where the original's own incremental build failed with the planted change (tried
    before measuring): said once above the table, and no piece is measured incremental."""
    failed = next((s for s in samples if s.variant == ORIGINAL and s.status is Status.FAILED
                   and s.cache is CacheMode.INCREMENTAL), None)
    if failed is None or change is None:
        return ""
    first = (failed.error or "").strip().splitlines()[:1]
    return (f"the original's own incremental build fails with harness's change to "
            f"{change.path} ({first[0][:160] if first else 'no output'}), so none is measured")


def _on_the_engine(client: Any, piece: Rewrite, parsed: Parsed,
                   pulled: list[str] | None = None,
                   report: Report = lambda message: None) -> Rewrite | NotApplicable:
    """The smaller base where it is on the engine (or, with `pulled`, once pulled, noted
    there to be removed at the end), allowed to change exactly what the two bases differ in
    (their files, read as the guard reads images); else why not."""
    import docker.errors

    _, old = smaller_base.final_base(parsed) or (0, "")
    new = smaller_base.smaller(old) or ""

    def declined(reason: str) -> NotApplicable:
        return NotApplicable(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                             reason=reason)
    try:
        old_image = client.images.get(old)
    except docker.errors.ImageNotFound:
        return declined(f"{old} is not on this engine")
    try:
        new_image = client.images.get(new)
    except docker.errors.ImageNotFound:
        if pulled is None:
            return declined(f"{new} is not on this engine: pull it, or `--pull`, or make it "
                            "(`harness bases build` makes debian:bookworm-slim from its recipe)")
        report(f"pulling {new} (--pull), to be removed again at the end")
        try:
            new_image = client.images.pull(new)
        except docker.errors.APIError as error:
            return declined(f"{new} could not be pulled: {error.explanation or error}")
        pulled.append(new)
    found = differences(image_files(client, old_image.id), image_files(client, new_image.id))
    between = frozenset(key for key in found if not key.startswith("config:"))
    return replace(piece, note="",  # the note says what it needs; it is here
                   may_change=piece.may_change.union(MayChange(exact_paths=between)))


def _on_buildkit(piece: Rewrite, builders: Sequence[Builder]) -> Rewrite | NotApplicable:
    """The cache mount where advise builds with BuildKit alone: the legacy builder has no
    RUN --mount, and buildah's cache mounts are not the engine's, whose records the run
    removes when it ends."""
    if tuple(builders) == (Builder.BUILDKIT,):
        return piece
    return NotApplicable(advice=piece.advice, key=piece.key, hadolint=piece.hadolint,
                         reason="a cache mount is measured with BuildKit alone (advise's "
                                "default, --builder buildkit)")


def _guard_bases(client: Any, samples: list[Sample]
                 ) -> dict[Builder, tuple[ImageFiles, set[str]]]:
    """Per builder, the original's image and what differed between its builds (the first
    one, for the waste analysis, and the measured ones the runner read in full): build noise.
    A build whose layer sizes equal a read one's is not saved again for it."""
    bases = {}
    for builder in dict.fromkeys(s.builder for s in samples):
        originals = [image_files(client, s.image_id) for s in samples
                     if s.variant == ORIGINAL and s.builder is builder and s.image_id
                     and s.cache is CacheMode.COLD and s.status is Status.OK
                     and s.figures_from is None]
        if originals:
            bases[builder] = (originals[0], build_noise(originals))
    return bases


def _guarded(client: Any, samples: list[Sample],
             bases: dict[Builder, tuple[ImageFiles, set[str]]],
             allowances: dict[str, MayChange]) -> dict[str, GuardVerdict]:
    """Each variant's image against the original's of its builder; per variant the verdict
    with the most unexplained differences."""
    verdicts: dict[str, GuardVerdict] = {}
    for sample in samples:
        allowed = allowances.get(sample.variant)
        if allowed is None or sample.builder not in bases or not sample.image_id or \
                sample.cache is not CacheMode.COLD or sample.status is not Status.OK or \
                sample.repetition != 1:
            continue
        base, noise = bases[sample.builder]
        verdict = guard(base, image_files(client, sample.image_id), noise, allowed)
        if sample.variant not in verdicts or verdict.changed > verdicts[sample.variant].changed:
            verdicts[sample.variant] = verdict
    return verdicts


def _built_from(rewrites: list[Rewrite]) -> Rewrite | None:
    """The build stage among these rewrites: the combination starts from it."""
    return next((r for r in rewrites if r.key == build_stage.KEY), None)


def _union(rewrites: list[Rewrite], keys: list[str]) -> MayChange:
    """What a combination of these pieces may change: the union of theirs."""
    return reduce(MayChange.union, (r.may_change for r in rewrites if r.key in keys), NOTHING)


def hadolint_findings(path: Path, report: Report
                      ) -> tuple[dict[str, list[int]] | None, str]:
    """hadolint's findings on the Dockerfile (`hadolint -f json`), code -> lines; else None
    and why (not installed, or it failed), which the report names."""
    import json
    import subprocess
    import sys

    binary = shutil.which("hadolint") or shutil.which("hadolint", path=str(
        Path(sys.executable).parent))
    if binary is None:
        why = "not found: advice is shown without its findings"
        report(f"hadolint {why}")
        return None, why
    try:
        result = subprocess.run([binary, "-f", "json", "--no-fail", str(path)],
                                capture_output=True, text=True, timeout=60)
        findings = json.loads(result.stdout or "[]")
        if result.returncode != 0 or not isinstance(findings, list):
            raise ValueError(result.stderr.strip()[:200] or f"exit {result.returncode}")
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        why = f"failed ({error}): advice is shown without its findings"
        report(f"hadolint {why}")
        return None, why
    flagged: dict[str, list[int]] = {}
    for finding in findings:
        flagged.setdefault(finding.get("code", ""), []).append(int(finding.get("line", 0)))
    return flagged, ""


def candidate_rewrites(parsed: Parsed, analysis: Any, layer_line: list[int | None],
                       config: dict[str, Any], target: str | None = None,
                       layers: Sequence[LayerFacts] = ()) -> list[Rewrite | NotApplicable]:
    pieces = [piece.apply(parsed) for piece in PIECES.values()]
    pieces.append(build_stage.build_stage(parsed, layers, layer_line, target))
    spans = sorted({(layer_line[w.written_in], layer_line[w.hidden_in])
                    for w in analysis.top_waste
                    if layer_line[w.written_in] and layer_line[w.hidden_in]})
    if spans:
        pieces += [move_deletion.merge_span(parsed, written, hidden)
                   for written, hidden in spans]
    else:
        pieces.append(NotApplicable(advice=move_deletion.TITLE, key=move_deletion.KEY,
                                    hadolint="",
                                    reason="no layer of this Dockerfile hides another's files"))
    if parsed.built_stage(target) == parsed.final_stage:
        pieces.append(flatten.flatten(parsed, config))
    else:
        pieces.append(NotApplicable(advice=flatten.TITLE, key=flatten.KEY, hadolint="",
                                    reason=f"--target {target} is not the last stage"))
    return pieces + squash.squash_after_build(parsed, target)


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
        match = next((i for i in remaining if (i.cmd == "RUN" and i.body and
                                               " ".join(i.body.split()) in text)
                      or (i.cmd != "RUN" and re.search(rf"\b{i.cmd}\b", text))), None)
        if match is None:
            lines.append(None)
            continue
        remaining = remaining[remaining.index(match) + 1:]
        lines.append(match.start)
    return lines


def _rebuild_modes(piece: Rewrite) -> tuple[CacheMode, ...]:
    """The rebuilds a piece changes, measured beside its cold build: chaining changes a warm
    rebuild; the cache order and a COPY moved up change what a source change rebuilds; a
    cache mount is what a rebuild that runs the RUN again finds."""
    if piece.key in ("cache-order", cache_mount.KEY) or piece.rebuilds_from_the_source:
        return (CacheMode.WARM, CacheMode.INCREMENTAL)
    return (CacheMode.WARM,) if piece.key == "chain" else ()


def _about_cache(piece: Rewrite) -> bool:
    return bool(_rebuild_modes(piece))


def _caches(rewrites: list[Rewrite]) -> tuple[CacheMode, ...]:
    return (CacheMode.COLD, *max((_rebuild_modes(r) for r in rewrites), key=len, default=()))


def _split(phases: dict[str, float], runs: dict[str, float], total: float
           ) -> dict[str, float]:
    """Where advise's wall time went: the builds and starts the user would run anyway, and
    harness's overhead (reading the images, the guard, its own work: what remains)."""
    split = {**phases, **runs, "total": total}
    split["own"] = total - sum(split[name] for name in (
        "builds", "priming", "starts", "checks", "reading", "analysis", "guard"))
    split["overhead"] = split["reading"] + split["analysis"] + split["guard"] + split["own"]
    return split


@contextlib.contextmanager
def _timed(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        phases[name] += time.monotonic() - started
