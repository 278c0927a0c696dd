"""`harness compare`: two runs matched by (scenario, variant, builder, cache mode).

A regression is a change for the worse that is both real (significant for timings, any
difference for deterministic metrics) and beyond the metric's threshold. Each comparison
gets a verdict: regression, improvement, unchanged, or, for a timing whose 95 % interval
of the ratio neither shows a change nor rules one out, inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from harness.model import COMPARED, METRIC, Better, default_thresholds_pct
from harness.stats import ALPHA, compare_exact, compare_timings, holm_rejected


@dataclass(frozen=True, kw_only=True)
class Change:
    scenario: str
    variant: str
    builder: str
    cache: str
    metric: str
    old: float
    new: float
    change_pct: float
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
            timed = not METRIC[metric].exact  # a build that missed its cache is not timed
            before = [s[metric] for s in old_groups[key] if s.get(metric) is not None
                      and not (timed and s.get("cache_warning"))]
            after = [s[metric] for s in new_groups[key] if s.get(metric) is not None
                     and not (timed and s.get("cache_warning"))]
            if not before or not after:
                continue
            threshold = thresholds_pct[metric]
            result = (compare_timings(before, after, min_effect=threshold / 100) if timed
                      else compare_exact(before, after))
            change_pct = (result.ratio - 1) * 100 if result.baseline else 0.0
            significant = result.significant and (
                timed or METRIC[metric].any_increase
                or abs(change_pct) > threshold)  # the estimate moves with tar timestamps
            worse = (result.value > result.baseline if METRIC[metric].better is Better.LOWER
                     else result.value < result.baseline)
            if timed and result.p_value is not None:
                timing_p.append((len(changes), result.p_value))
            changed = significant and abs(change_pct) > threshold
            within = timed and result.ci_low is not None and result.ci_high is not None and (
                1 - threshold / 100 <= result.ci_low and result.ci_high <= 1 + threshold / 100)
            changes.append(Change(
                scenario=key[0], variant=key[1], builder=key[2], cache=key[3], metric=metric,
                old=result.baseline, new=result.value, change_pct=change_pct,
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
        if sample["status"] == "ok":
            key = (sample["scenario"], sample["variant"], sample["builder"], sample["cache"])
            groups.setdefault(key, []).append(sample)
    return groups
