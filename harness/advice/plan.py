"""`harness advise --plan`: what each piece of advice would do to a Dockerfile, with no
engine and no build, fast enough for an editor or a pre-commit hook. Each piece applies or
says why not; a piece that needs the built image (the waste analysis, its config) says so
instead of guessing. Nothing here is measured: the plan shows what advise would build."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from harness.advice import build_stage, flatten, move_deletion
from harness.advice.edit import Rewrite, left_alone
from harness.advice.parse import parse
from harness.advice.pieces import PIECES, combine
from harness.model import Squash

NEEDS_THE_IMAGE = (
    (build_stage.KEY, build_stage.TITLE, "the built image's layers say which files the build "
                                         "RUNs wrote, which the final stage copies"),
    (move_deletion.KEY, move_deletion.TITLE, "the built image's waste analysis finds which "
                                             "RUNs wrote and hid the same files"),
    (flatten.KEY, flatten.TITLE, "it declares the built image's config again"),
    (str(Squash.EXPORT_IMPORT), "squash after the build: docker export and import",
     "it squashes the built image"),
    (str(Squash.DOCKER_SQUASH), "squash after the build: docker-squash",
     "it squashes the built image"))


@dataclass(frozen=True, kw_only=True)
class PlannedPiece:
    key: str
    advice: str
    hadolint: str
    applies: bool
    lines: list[int]
    reason: str
    """Why it does not apply (or what it needs); where it applies, what it declined where."""
    diff: str
    """The rewrite as a unified diff against the Dockerfile ("" where it does not apply)."""


@dataclass(frozen=True, kw_only=True)
class Plan:
    format: str = "harness-advice-plan/1"
    dockerfile: str
    pieces: list[PlannedPiece]
    combined: list[str]
    """The pieces the combination applies, one after another."""
    combined_diff: str
    left_alone: str
    """The RUNs no piece rewrites, each with its line and why."""


def plan(path: Path, context: Path) -> Plan:
    parsed = parse(path, context)
    pieces = []
    for piece in PIECES.values():
        result = piece.apply(parsed)
        if isinstance(result, Rewrite):
            pieces.append(PlannedPiece(key=piece.key, advice=piece.title, hadolint=piece.hadolint,
                                       applies=True, lines=list(result.lines),
                                       reason=result.note,
                                       diff=_diff(parsed.source, result.dockerfile, path)))
        else:
            pieces.append(PlannedPiece(key=piece.key, advice=piece.title, hadolint=piece.hadolint,
                                       applies=False, lines=[], reason=result.reason, diff=""))
    pieces += [PlannedPiece(key=key, advice=title, hadolint="", applies=False, lines=[],
                            reason=f"needs the built image: {why} (harness advise without "
                                   "--plan builds and measures it)", diff="")
               for key, title, why in NEEDS_THE_IMAGE]
    combined = combine(parsed, [p.key for p in pieces if p.applies], None)
    return Plan(dockerfile=str(path), pieces=pieces, combined=combined[1] if combined else [],
                combined_diff=_diff(parsed.source, combined[0], path) if combined else "",
                left_alone=left_alone(parsed).removeprefix("; left alone: "))


def plan_text(found: Plan) -> str:
    """Like hadolint: a line a finding, `FILE:LINE CODE KEY: advice`; then each rewrite's
    diff, and the combination's."""
    applying = [p for p in found.pieces if p.applies]
    lines = [f"{found.dockerfile}:{p.lines[0]} {p.hadolint or '-'} {p.key}: {p.advice}"
             f" (lines {', '.join(map(str, p.lines))})" for p in applying]
    if found.left_alone:
        lines.append(f"{found.dockerfile}: left alone by every piece: {found.left_alone}")
    if not applying:
        lines.append(f"{found.dockerfile}: no piece of advice applies without a build")
    for piece in applying:
        lines += ["", f"{piece.key}: {piece.advice}" + (f" ({piece.reason})" if piece.reason
                                                        else ""), piece.diff.rstrip("\n")]
    if found.combined_diff:
        lines += ["", f"combined: {', '.join(found.combined)}", found.combined_diff.rstrip("\n")]
    return "\n".join(lines) + "\n"


def _diff(before: str, after: str, path: Path) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True), str(path),
                                        f"{path} (advised)"))
