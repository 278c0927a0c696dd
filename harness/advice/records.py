"""advise's records: what the user asked for, each piece's row, and the whole report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.advice.change import SourceChange
from harness.errors import HarnessError
from harness.model import Builder

ORIGINAL = "original"


COMBINED = "combined"


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
    pull: bool = False
    """Pull the smaller base the smaller-base piece tries where the engine lacks it (removed
    again when advise ends)."""


@dataclass(frozen=True, kw_only=True)
class AdviceRow:
    advice: str
    key: str
    hadolint: str
    lines: list[int]
    verdict: str
    """saves, no gain, changes your image, breaks, or not applicable."""
    reason: str = ""
    variant: str = ""
    size_bytes: int | None = None
    size_change_bytes: int | None = None
    size_change_pct: float | None = None
    layers_change: int | None = None
    compressed_change_bytes: int | None = None
    push_change_bytes: int | None = None
    push_after_change_bytes: int | None = None
    """With --registry, for flatten: what a push uploads after a one-line source change
    (the note sets the original's beside it)."""
    build_time: dict[str, str] | None = None
    """Per cache mode: the ratio of median build times to the original's, with its interval."""
    checks_passed: bool | None = None
    check_output: str = ""
    hadolint_lines: list[int] | None = None
    """Where hadolint flags this piece's rule in the Dockerfile (None: hadolint not run)."""
    may_change: str = ""
    """What the piece declares it may change in the image (the guard's allowance)."""
    image_changes: list[str] | None = None
    """The image guard's evidence: differences from the original that the piece does not
    explain (the first few; [] where there are none; None where not compared)."""
    image_changed: int = 0
    """How many such differences there are."""
    note: str = ""
    """A trade-off the figures do not show, or what the piece declined where, and why."""


@dataclass(frozen=True, kw_only=True)
class AttributedWaste:
    path: str
    size_bytes: int
    written_by_line: int | None
    hidden_by_line: int | None


@dataclass(frozen=True, kw_only=True)
class AdviceReport:
    format: str = "harness-advice/2"
    """2: rows gained may_change, image_changes, image_changed, note and
    push_after_change_bytes; the report
    noise_paths, hadolint, source_change, incremental and left_alone."""
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
    """Wall seconds: in total; in the runner's runs (`runs`), split into timed builds
    (`builds`), untimed priming builds (`priming`), container starts (`starts`) and reading
    the images (`reading`); the waste analysis, the checks, the image guard; harness's own
    work (`own`: what remains), and its overhead (reading, analysis, guard and own)."""
    variants: dict[str, str]
    """Each measured variant's Dockerfile."""
    squashed_after_build: dict[str, str]
    """The variants whose image is squashed after the build (variant -> squash method)."""
    cache_modes: list[str]
    noise_paths: list[str]
    """What differed between two builds of the original (build noise, ignored by the guard)."""
    hadolint: str = ""
    """Why hadolint's findings are missing ("" where it ran)."""
    source_change: SourceChange | None = None
    """The change planted for incremental builds (None where none is measured)."""
    incremental: str = ""
    """Why incremental builds are not measured, or failed for the original too: said once."""
    left_alone: str = ""
    """The RUNs no piece rewrites, each with its line and why ("" where none is)."""


class BuildFailed(HarnessError):
    """The original does not build: nothing to advise (exit 1)."""
