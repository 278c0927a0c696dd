"""`harness trend`: regressions across a history of runs, noise-aware.

A series is one metric of one (scenario, variant, builder, cache mode) on one machine (the
environment fingerprint): runs of different machines are never mixed. For each series:

- the latest run against the window of previous runs: timings are flagged when the latest
  median is above the window's 99.9 % one-sided prediction interval (Student's t, centred on
  the median, spread the larger of the scaled MAD and the standard deviation) and beyond
  the threshold; size, wasted bytes and layers on any increase over the previous run, the
  compressed size beyond its threshold (tar timestamps move it by a few bytes);
- a step change anywhere in the history (as asv does): the split into two levels that best
  explains the series, reported when the later level is worse beyond the threshold and the
  two levels differ significantly (at least 3 runs each).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from scipy import stats as scipy_stats

from harness import store
from harness.errors import HarnessError
from harness.model import COMPARED, METRIC, default_thresholds_pct

STEP_ALPHA = 0.001
"""A step's two levels must differ at this level (one-sided Mann-Whitney U)."""
PREDICTION = 0.999
"""One-sided level of the prediction interval the latest run must leave to be flagged."""
DEFAULT_WINDOW = 10
SERIES_KEYS = ["fingerprint", "scenario", "variant", "builder", "cache", "metric"]


@dataclass(frozen=True, kw_only=True)
class Finding:
    series: str
    metric: str
    kind: str
    """latest (the newest run against the window) or step (a level change in the history)."""
    run_id: str
    """The run where it shows: the latest, or the first run of the new level."""
    before: float
    after: float
    change_pct: float


def history(directory: Path, warn: Callable[[str], None] = lambda message: None
            ) -> pd.DataFrame:
    """One row per (run, series): the run's median of that metric, runs in time order. A file
    that is not a valid results file is skipped, with a warning naming it and its fault."""
    records = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = store.load(path)
        except HarnessError as error:
            warn(f"skipped {error}")
            continue
        fingerprint = document["environment"].get("fingerprint", "unknown")
        for sample in document["samples"]:
            if sample["status"] != "ok":
                continue
            for metric in COMPARED:
                if sample.get(metric) is not None:
                    records.append({"run_id": document["run_id"],
                                    "started_at": document["started_at"],
                                    "fingerprint": fingerprint, "metric": metric,
                                    "value": float(sample[metric]),
                                    **{k: sample[k] for k in ("scenario", "variant", "builder",
                                                              "cache")}})
    if not records:
        return pd.DataFrame(columns=[*SERIES_KEYS, "run_id", "started_at", "value"])
    frame = pd.DataFrame.from_records(records)
    medians = frame.groupby([*SERIES_KEYS, "run_id", "started_at"], as_index=False)["value"]
    return medians.median().sort_values([*SERIES_KEYS, "started_at"]).reset_index(drop=True)


def detect(frame: pd.DataFrame, window: int = DEFAULT_WINDOW,
           thresholds_pct: dict[str, float] | None = None) -> list[Finding]:
    limits = thresholds_pct or default_thresholds_pct()
    findings: list[Finding] = []
    for key, series in frame.groupby(SERIES_KEYS, sort=False):
        values = series["value"].tolist()
        runs = series["run_id"].tolist()
        if len(values) < 2:
            continue
        name = "/".join(str(part) for part in key[1:5]) + f" [{key[0]}]"
        metric = str(key[5])
        threshold = limits[metric] / 100
        latest = _latest(values[-(window + 1):], metric, threshold)
        if latest:
            findings.append(Finding(series=name, metric=metric, kind="latest", run_id=runs[-1],
                                    before=latest[0], after=latest[1],
                                    change_pct=(latest[1] / latest[0] - 1) * 100))
        step = _step(values, metric, threshold)
        if step and not (latest and step[0] == len(values) - 1):  # the same finding twice
            index, before, after = step
            findings.append(Finding(series=name, metric=metric, kind="step", run_id=runs[index],
                                    before=before, after=after,
                                    change_pct=(after / before - 1) * 100))
    return findings


def _latest(values: list[float], metric: str, threshold: float) -> tuple[float, float] | None:
    """(reference, latest) when the latest run is worse: for sizes and layers any increase
    over the previous run; for timings beyond both the window's noise and the threshold."""
    previous, latest = values[:-1], values[-1]
    if METRIC[metric].any_increase:
        return (previous[-1], latest) if latest > previous[-1] else None
    if METRIC[metric].exact:  # compressed size: tar mtimes move it by a few bytes
        return (previous[-1], latest) if latest > previous[-1] * (1 + threshold) else None
    if len(previous) < 3:
        return None  # too little history to know the noise
    center = statistics.median(previous)
    mad = statistics.median(abs(v - center) for v in previous) * 1.4826
    noise = max(mad, statistics.stdev(previous))  # robust, but never below the sample spread
    n = len(previous)
    limit = center + scipy_stats.t.ppf(PREDICTION, n - 1) * noise * math.sqrt(1 + 1 / n)
    if latest > limit and latest > center * (1 + threshold):
        return center, latest
    return None


def _step(values: list[float], metric: str,
          threshold: float) -> tuple[int, float, float] | None:
    """The best split into two levels, when the later one is worse and clearly apart."""
    if len(values) < 4 and not METRIC[metric].exact:
        return None
    best: tuple[float, int] | None = None
    for split in range(1, len(values)):
        left, right = values[:split], values[split:]
        cost = _squared_error(left) + _squared_error(right)
        if best is None or cost < best[0]:
            best = (cost, split)
    assert best is not None
    split = best[1]
    left, right = values[:split], values[split:]
    before, after = statistics.median(left), statistics.median(right)
    if METRIC[metric].exact:
        grown = after > before if METRIC[metric].any_increase else \
            after > before * (1 + threshold)
        return (split, before, after) if grown else None
    worse = after > before * (1 + threshold)
    apart = len(left) >= 3 and len(right) >= 3 and scipy_stats.mannwhitneyu(
        left, right, alternative="less").pvalue < STEP_ALPHA
    return (split, before, after) if worse and apart else None


def _squared_error(values: list[float]) -> float:
    mean = statistics.fmean(values)
    return sum((v - mean) ** 2 for v in values)


def markdown_summary(findings: list[Finding], frame: pd.DataFrame) -> str:
    runs = frame["run_id"].nunique() if len(frame) else 0
    machines = frame["fingerprint"].nunique() if len(frame) else 0
    lines = [f"# harness trend: {runs} run(s), {machines} machine(s), "
             f"{len(frame.groupby(SERIES_KEYS)) if len(frame) else 0} series", ""]
    if not findings:
        return "\n".join([*lines, "No regressions."]) + "\n"
    rows = ["| series | metric | kind | run | before | after | Δ |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {f.series} | {f.metric} | {f.kind} | {f.run_id} | {f.before:.6g} | "
             f"{f.after:.6g} | {f.change_pct:+.1f} % |" for f in findings]
    return "\n".join([*lines, *rows]) + "\n"

