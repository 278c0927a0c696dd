"""`harness compare`: two runs matched by (scenario, variant, builder, cache mode).

A regression is a change for the worse that is both real (significant for timings, any
difference for deterministic metrics) and beyond the metric's threshold. Each comparison
gets a verdict: regression, improvement, unchanged, or, for a timing whose 95 % interval
of the ratio neither shows a change nor rules one out, inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.model import COMPARED, METRIC, Better, counted_values, default_thresholds_pct
from harness.stats import (
    ALPHA,
    change_pct,
    changed_beyond,
    compare_exact,
    compare_timings,
    holm_rejected,
)


@dataclass(frozen=True, kw_only=True)
class Change:
    scenario: str
    variant: str
    builder: str
    cache: str
    metric: str
    old: float
    new: float
    change_pct: float | None
    """None from a zero baseline (stats.change_pct): judged by its absolute change."""
    significant: bool
    regression: bool
    verdict: str
    """regression, improvement, unchanged, or (timings) inconclusive."""


def compare_runs(old: dict[str, Any], new: dict[str, Any],
                 thresholds_pct: dict[str, float]) -> list[Change]:
    """Every (group, metric) both runs measured. Timing tests are corrected for their number
    with Holm-Bonferroni (family-wise 5 %): at CV 10 %, a hundred uncorrected tests almost
    surely call something significant in an A/A comparison."""
    old_groups, new_groups = _groups(old), _groups(new)
    changes: list[Change] = []
    timing_p: list[tuple[int, float]] = []  # (index in changes, p-value)
    for key in sorted(old_groups.keys() & new_groups.keys()):
        for metric in COMPARED:
            before = counted_values(old_groups[key], metric)
            after = counted_values(new_groups[key], metric)
            if not before or not after:
                continue
            timed = METRIC[metric].timing
            threshold = thresholds_pct[metric]
            result = (compare_timings(before, after, min_effect=threshold / 100) if timed
                      else compare_exact(before, after))
            beyond = changed_beyond(result.baseline, result.value, threshold_pct=threshold,
                                    floor=METRIC[metric].floor)
            significant = result.significant and (
                timed or METRIC[metric].any_increase
                or beyond)  # the estimate moves with tar timestamps
            worse = (result.value > result.baseline if METRIC[metric].better is Better.LOWER
                     else result.value < result.baseline)
            if timed and result.p_value is not None:
                timing_p.append((len(changes), result.p_value))
            changed = significant and beyond
            within = timed and result.ci_low is not None and result.ci_high is not None and (
                1 - threshold / 100 <= result.ci_low and result.ci_high <= 1 + threshold / 100)
            changes.append(Change(
                scenario=key[0], variant=key[1], builder=key[2], cache=key[3], metric=metric,
                old=result.baseline, new=result.value,
                change_pct=change_pct(result.baseline, result.value),
                significant=significant, regression=changed and worse,
                verdict=_verdict(changed, worse, timed, within)))
    for index in holm_rejected(timing_p, ALPHA, keep=False):
        changes[index] = replace(
            changes[index], significant=False, regression=False,
            verdict="unchanged" if changes[index].verdict == "unchanged" else "inconclusive")
    return changes


def _verdict(changed: bool, worse: bool, timed: bool, within_threshold: bool) -> str:
    if changed:
        return "regression" if worse else "improvement"
    return "unchanged" if not timed or within_threshold else "inconclusive"


def parse_thresholds(texts: list[str]) -> dict[str, float]:
    """`METRIC=PCT` overrides over the defaults; ValueError names what is wrong."""
    thresholds = default_thresholds_pct()
    for text in texts:
        metric, equals, number = text.partition("=")
        if not equals or metric not in thresholds:
            raise ValueError(f"--threshold {text}: expected METRIC=PCT with METRIC one of "
                             f"{', '.join(thresholds)}")
        try:
            thresholds[metric] = float(number.rstrip("%"))
        except ValueError:
            raise ValueError(f"--threshold {text}: `{number}` is not a percentage") from None
    return thresholds


def _groups(document: dict[str, Any]) -> dict[tuple[str, str, str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for sample in document["samples"]:
        key = (sample["scenario"], sample["variant"], sample["builder"], sample["cache"])
        groups.setdefault(key, []).append(sample)
    return groups
