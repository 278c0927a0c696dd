"""Reports of a run. For now: the short summary `harness run` prints at the end."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from tabulate import tabulate

from harness.expect import Verdict
from harness.runner import Sample, Status


def summary_table(samples: Iterable[Sample]) -> str:
    """One row per scenario/variant/builder/cache mode: medians of the ok samples."""
    groups: dict[tuple[str, str, str, str], list[Sample]] = {}
    for sample in samples:
        key = (sample.scenario, sample.variant, sample.builder, sample.cache)
        groups.setdefault(key, []).append(sample)
    rows = []
    for (scenario, variant, builder, cache), group in groups.items():
        ok = [s for s in group if s.status is Status.OK]
        problems = [s for s in group if s.status is not Status.OK]
        status = f"{len(ok)}/{len(group)} ok" + (
            f"; {problems[0].status}: {_first_line(problems[0].error)}" if problems else "")
        starts = [s.start_s for s in ok if s.start_s is not None]
        rows.append([
            f"{scenario}/{variant}", builder, cache, status,
            _median([s.build_s for s in ok if s.build_s is not None], "{:.2f}"),
            _median([s.size_bytes / 1e6 for s in ok if s.size_bytes is not None], "{:.1f}"),
            _median([s.layer_count for s in ok if s.layer_count is not None], "{:.0f}"),
            _median([s.steps_cached for s in ok if s.steps_cached is not None], "{:.0f}")
            + "/" + _median([s.steps_total for s in ok if s.steps_total is not None], "{:.0f}"),
            _median(starts, "{:.3f}") if starts else
            (_first_line(ok[0].start_error) if ok and ok[0].start_error else "-"),
        ])
    return tabulate(rows, headers=["variant", "builder", "cache", "status", "build_s", "MB",
                                   "layers", "cached", "start_s"], tablefmt="github")


def _median(values: list[float], form: str) -> str:
    return form.format(statistics.median(values)) if values else "-"


def _first_line(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def verdict_lines(verdicts: dict[str, list[Verdict]]) -> list[str]:
    """One line per claim: ✓ holds, ✗ does not; known-false claims say whether that changed."""
    lines = []
    for scenario, found in verdicts.items():
        for verdict in found:
            mark = "✓" if verdict.passed else "✗"
            if verdict.known_false:
                mark += " (known false)" if not verdict.passed else " (known false: NOW HOLDS)"
            shown = ", ".join(f"{v.group}: {_shown(v.left)} vs {_shown(v.right)}"
                              for v in verdict.values)
            lines.append(f"{mark} {scenario}: {verdict.expr}   [{shown}]")
    return lines


def _shown(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:.3g}"
