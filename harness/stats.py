"""Statistics on raw samples, computed when reading results (stored samples stay raw).

Timings are noisy: a variant is called faster or slower than its baseline only when the
difference is both statistically significant and at least `min_effect` large, so an A/A
comparison (a variant against itself) is not called a change. Deterministic metrics
(sizes, layer counts) compare exactly.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as scipy_stats

NOISY_CV = 0.10
OUTLIER_MADS = 3.5
SLOW_FIRST = 1.5
ALPHA = 0.05
MIN_EFFECT = 0.10
RESAMPLES = 2000


@dataclass(frozen=True, kw_only=True)
class Summary:
    n: int
    median: float
    mean: float
    min: float
    max: float
    stddev: float
    iqr: float
    cv: float
    """Coefficient of variation: stddev / mean (0 for a single value)."""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Comparison:
    baseline: float
    value: float
    ratio: float
    """value / baseline, medians; for sizes the exact ratio."""
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str = "exact"
    significant: bool
    """A real change: exact metrics differ; timings pass the test and min_effect."""


def summarize(values: Sequence[float]) -> Summary:
    """Spread and warnings of one metric's repetitions, in repetition order."""
    if not values:
        raise ValueError("no values to summarize")
    ordered = sorted(values)
    mean = statistics.fmean(values)
    stddev = statistics.stdev(values) if len(values) > 1 else 0.0
    quartiles = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 \
        else [ordered[0]] * 3
    median = statistics.median(values)
    cv = stddev / mean if mean else 0.0
    warnings = []
    if round(cv, 9) > NOISY_CV:  # not for 0.1 + float noise
        warnings.append(f"noisy: CV {cv:.0%} > {NOISY_CV:.0%}")
    mad = statistics.median(abs(v - median) for v in values) * 1.4826
    for index, value in enumerate(values, start=1):
        if mad and abs(value - median) > OUTLIER_MADS * mad:
            warnings.append(f"outlier: repetition {index} = {value:.4g} "
                            f"(median {median:.4g})")
    rest = values[1:]
    if len(values) >= 3 and values[0] > SLOW_FIRST * statistics.median(rest):
        warnings.append(f"first repetition much slower: {values[0]:.4g} vs "
                        f"{statistics.median(rest):.4g}")
    return Summary(n=len(values), median=median, mean=mean, min=ordered[0], max=ordered[-1],
                   stddev=stddev, iqr=quartiles[2] - quartiles[0], cv=cv, warnings=warnings)


def compare_exact(baseline: Sequence[float], values: Sequence[float]) -> Comparison:
    base, value = statistics.median(baseline), statistics.median(values)
    return Comparison(baseline=base, value=value, ratio=value / base if base else math.inf,
                      significant=value != base)


def compare_timings(baseline: Sequence[float], values: Sequence[float], *,
                    alpha: float = ALPHA, min_effect: float = MIN_EFFECT,
                    seed: int = 0) -> Comparison:
    """Ratio of medians with a bootstrap 95 % CI, and a two-sided test.

    The test is Mann-Whitney U (as asv uses) when both sides have at least 5 values; with
    fewer its smallest possible p-value is above 0.05 (0.1 for 3 vs 3), so Student's t-test on
    the logarithms is used instead. Significant means p < alpha and a change of at least
    `min_effect`.
    """
    base, value = statistics.median(baseline), statistics.median(values)
    ratio = value / base
    low, high = bootstrap_ratio(baseline, values, seed)
    if len({*baseline, *values}) == 1:
        test, p_value = "identical", 1.0
    elif min(len(baseline), len(values)) >= 5:
        test = "mann-whitney"
        p_value = float(scipy_stats.mannwhitneyu(baseline, values,
                                                 alternative="two-sided").pvalue)
    elif min(len(baseline), len(values)) >= 2:
        test = "t-log"
        with warnings.catch_warnings():
            # nearly equal samples: scipy warns of precision loss; min_effect still decides
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            p_value = float(scipy_stats.ttest_ind([math.log(v) for v in baseline],
                                                  [math.log(v) for v in values],
                                                  equal_var=True).pvalue)
    else:
        test, p_value = "none", 1.0
    if math.isnan(p_value):  # each side constant, the two different
        p_value = 0.0
    significant = p_value < alpha and abs(ratio - 1) >= min_effect
    return Comparison(baseline=base, value=value, ratio=ratio, ci_low=low, ci_high=high,
                      p_value=p_value, test=test, significant=significant)


def bootstrap_ratio(baseline: Sequence[float], values: Sequence[float],
                    seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of median(values) / median(baseline), seeded so a
    report is the same every time it is made. A side of one value cannot be resampled: the
    interval is then the ratio itself."""
    if min(len(baseline), len(values)) < 2:
        point = statistics.median(values) / statistics.median(baseline)
        return point, point

    def ratio(base: np.ndarray, new: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(new, axis=axis) / np.median(base, axis=axis)

    interval = scipy_stats.bootstrap(
        (np.asarray(baseline, dtype=float), np.asarray(values, dtype=float)), ratio,
        n_resamples=RESAMPLES, method="percentile", vectorized=True,
        random_state=np.random.default_rng(seed)).confidence_interval
    return float(interval.low), float(interval.high)


def holm_rejected(p_values: list[tuple[int, float]], alpha: float, *,
                  keep: bool = True) -> list[int]:
    """Holm-Bonferroni: the ids whose p-value stays significant (keep) or not (keep=False)
    when m tests are run: the k-th smallest p must be below alpha / (m - k)."""
    ordered = sorted(p_values, key=lambda item: item[1])
    passing: set[int] = set()
    for rank, (identity, p_value) in enumerate(ordered):
        if p_value >= alpha / (len(ordered) - rank):
            break
        passing.add(identity)
    return [i for i, _ in p_values if (i in passing) == keep]
