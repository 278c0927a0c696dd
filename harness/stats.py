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
MANN_WHITNEY_FROM = 4
"""Values a side from which Mann-Whitney U tests a timing change: its smallest two-sided
p-value is 0.029 at 4 against 4, but 0.1 at 3 against 3, where it could never call one."""
BOOTSTRAP_FROM = 4
"""Values a side from which a ratio's interval is the 95 % percentile bootstrap. With 3, the
resampled median is each extreme with probability 7/27 (over 2.5 %), so the bootstrap's
"95 %" interval is exactly the range of the extreme ratios: that range is given instead, and
labelled as what it is."""


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
    ratio: float | None
    """value / baseline, medians; for sizes the exact ratio; None from a zero baseline."""
    ci_low: float | None = None
    ci_high: float | None = None
    interval: str | None = None
    """What ci_low–ci_high is: INTERVAL_95 or INTERVAL_RANGE (see ratio_interval)."""
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


def change_pct(baseline: float, value: float) -> float | None:
    """The change from a baseline in %; None from a zero baseline, where no percentage means
    anything (0 → 100 MB of waste is neither "0 %" nor "inf %"): such a change is judged by
    its absolute size instead (changed_beyond)."""
    return (value / baseline - 1) * 100 if baseline else None


def changed_beyond(baseline: float, value: float, *, threshold_pct: float,
                   floor: float) -> bool:
    """The one rule for "moved from the baseline": by more than threshold_pct, or, from a zero
    baseline, by more than the metric's absolute floor (model.Metric.floor)."""
    pct = change_pct(baseline, value)
    return abs(value - baseline) > floor if pct is None else abs(pct) > threshold_pct


def compare_exact(baseline: Sequence[float], values: Sequence[float]) -> Comparison:
    base, value = statistics.median(baseline), statistics.median(values)
    return Comparison(baseline=base, value=value, ratio=value / base if base else None,
                      significant=value != base)


def compare_timings(baseline: Sequence[float], values: Sequence[float], *,
                    alpha: float = ALPHA, min_effect: float = MIN_EFFECT,
                    seed: int = 0) -> Comparison:
    """Ratio of medians with its interval (ratio_interval), and a two-sided test.

    The test is Mann-Whitney U (as asv uses) when both sides have MANN_WHITNEY_FROM values
    or more; with fewer it cannot reach 0.05 at all, so Student's t-test on the logarithms
    is used instead. Significant means p < alpha and a change of at least `min_effect`.
    """
    base, value = statistics.median(baseline), statistics.median(values)
    interval = ratio_interval(baseline, values, seed)
    if len({*baseline, *values}) == 1:
        test, p_value = "identical", 1.0
    elif min(len(baseline), len(values)) >= MANN_WHITNEY_FROM:
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
    ratio = value / base
    significant = p_value < alpha and abs(ratio - 1) >= min_effect
    return Comparison(baseline=base, value=value, ratio=ratio, ci_low=interval.low,
                      ci_high=interval.high, interval=interval.kind, p_value=p_value, test=test,
                      significant=significant)


INTERVAL_95 = "95 %"
INTERVAL_RANGE = "min–max"


@dataclass(frozen=True)
class RatioInterval:
    low: float
    high: float
    kind: str
    """INTERVAL_95: the percentile bootstrap; INTERVAL_RANGE: the extreme ratios, for sides
    too small to bootstrap (BOOTSTRAP_FROM)."""


def ratio_interval(baseline: Sequence[float], values: Sequence[float],
                   seed: int = 0) -> RatioInterval:
    """The one rule for the interval of median(values) / median(baseline): the 95 %
    percentile bootstrap, seeded so a report is the same every time it is made, from
    BOOTSTRAP_FROM values a side; below that, the range min(values) / max(baseline) to
    max(values) / min(baseline), which is what the bootstrap would give, labelled honestly."""
    if min(len(baseline), len(values)) < BOOTSTRAP_FROM:
        return RatioInterval(min(values) / max(baseline), max(values) / min(baseline),
                             INTERVAL_RANGE)

    def ratio(base: np.ndarray, new: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(new, axis=axis) / np.median(base, axis=axis)

    interval = scipy_stats.bootstrap(
        (np.asarray(baseline, dtype=float), np.asarray(values, dtype=float)), ratio,
        n_resamples=RESAMPLES, method="percentile", vectorized=True,
        random_state=np.random.default_rng(seed)).confidence_interval
    return RatioInterval(float(interval.low), float(interval.high), INTERVAL_95)


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
