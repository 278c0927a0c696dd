"""`harness trend`: changes across a history of runs, noise-aware, for a nightly gate.

A series is one metric of one (scenario, variant, builder, cache mode) on one machine (the
environment fingerprint): runs of different machines are never mixed. For each series:

- the latest run against the window of previous runs: timings change when the latest
  median is an outlier of the window (Student's t prediction, centred on the median, spread
  the larger of the scaled MAD and the standard deviation) and moves beyond the threshold;
  sizes, waste and layers when they move by more than a floor of SIZE_FLOOR_BYTES (one
  layer, for layers) over the previous run; the compressed size beyond its threshold (tar
  timestamps move the estimate by a few bytes);
- a step change anywhere in the history (as asv does): the split into two levels that best
  explains the series, reported when the levels differ beyond the threshold (and, for
  timings, significantly, with at least 3 runs each).

Every timing test of a report (each series' latest run and its step) is one family,
corrected with Holm-Bonferroni at FAMILY_ALPHA: a hundred series tested every night would
otherwise raise a false alarm most weeks.

Each change has a direction by the metric's own (smaller is better for all but cache hits).
The gate (`--fail-on-regression`) fails only on a regression that appears in the newest
run of its series: a nightly is red the night a regression first shows, and from the next
night on the step is listed as a known change (with its date, metric and size) without
failing. Improvements are listed, never fail.
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
from harness.model import COMPARED, METRIC, Better, default_thresholds_pct
from harness.stats import holm_rejected

FAMILY_ALPHA = 0.01
"""Family-wise error rate of a report's timing tests (Holm-Bonferroni): about one false
alarm in a hundred nightly reports of unchanged code."""
DEFAULT_WINDOW = 10
SIZE_FLOOR_BYTES = 1024
"""Byte metrics move by more than this to count as a change: real changes of a layer are
kilobytes or more (a planted +1 MiB shows), while rebuilding identical content can move
the gzip estimate by a few bytes."""
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
    regression: bool
    """Worse by the metric's direction; False: an improvement."""
    started_at: str
    """When the run where it shows started (the date of a known change)."""
    new: bool
    """It shows in the newest run of its series: the gate fails on new regressions only."""


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
    candidates: list[Finding | None] = []  # one per test; None: the test found no change
    timing_p: list[tuple[int, float]] = []  # (index in candidates, p-value)
    for key, series in frame.groupby(SERIES_KEYS, sort=False):
        values = series["value"].tolist()
        runs, dates = series["run_id"].tolist(), series["started_at"].tolist()
        if len(values) < 2:
            continue
        name = "/".join(str(part) for part in key[1:5]) + f" [{key[0]}]"
        metric = str(key[5])
        threshold = limits[metric] / 100
        latest = _latest(values[-(window + 1):], metric, threshold)
        step = _step(values, metric, threshold)
        if latest and step and step.index == len(values) - 1 and step.change:
            step = None  # the same change twice
        for kind, test in (("latest", latest), ("step", step)):
            if test is None:
                continue
            if test.p_value is not None:
                timing_p.append((len(candidates), test.p_value))
            if not test.change:
                candidates.append(None)
                continue
            index = len(values) - 1 if kind == "latest" else test.index
            higher_is_better = METRIC[metric].better is Better.HIGHER
            candidates.append(Finding(
                series=name, metric=metric, kind=kind, run_id=runs[index], before=test.before,
                after=test.after,
                change_pct=(test.after / test.before - 1) * 100 if test.before else math.inf,
                regression=((test.after < test.before) if higher_is_better
                            else (test.after > test.before)),
                started_at=str(dates[index]), new=index == len(values) - 1))
    noise = set(holm_rejected(timing_p, FAMILY_ALPHA, keep=False))
    return [f for i, f in enumerate(candidates) if f is not None and i not in noise]


@dataclass(frozen=True)
class _Test:
    index: int
    """The run where the change shows."""
    before: float
    after: float
    change: bool
    """Moved beyond the floor or threshold (for timings, before the family's correction)."""
    p_value: float | None = None
    """For timings: the test's p-value, corrected across the report by Holm."""


def gate(findings: list[Finding]) -> list[Finding]:
    """The findings a nightly fails on: regressions that show in their series' newest run."""
    return [f for f in findings if f.regression and f.new]


def _changed(before: float, after: float, metric: str, threshold: float) -> bool:
    """For exact metrics: moved by more than the floor (sizes) or threshold (estimates)."""
    if METRIC[metric].any_increase:
        floor = SIZE_FLOOR_BYTES if METRIC[metric].unit == "bytes" else 0
        return abs(after - before) > floor
    return abs(after - before) > abs(before) * threshold


def _latest(values: list[float], metric: str, threshold: float) -> _Test | None:
    """The latest run against the window: exact metrics against the previous run, timings
    against the window's centre and noise (too little history: no test)."""
    previous, latest = values[:-1], values[-1]
    last = len(values) - 1
    if METRIC[metric].exact:
        return _Test(last, previous[-1], latest, _changed(previous[-1], latest, metric,
                                                          threshold))
    if len(previous) < 3:
        return None
    center = statistics.median(previous)
    mad = statistics.median(abs(v - center) for v in previous) * 1.4826
    noise = max(mad, statistics.stdev(previous))  # robust, but never below the sample spread
    n = len(previous)
    spread = noise * math.sqrt(1 + 1 / n)
    p_value = float(2 * scipy_stats.t.sf(abs(latest - center) / spread, n - 1)) if spread \
        else (0.0 if latest != center else 1.0)
    return _Test(last, center, latest, abs(latest - center) > center * threshold, p_value)


def _step(values: list[float], metric: str, threshold: float) -> _Test | None:
    """The best split into two levels; timings need at least 3 runs a side to be tested."""
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
        return _Test(split, before, after, _changed(before, after, metric, threshold))
    if len(left) < 3 or len(right) < 3:
        return None
    p_value = float(scipy_stats.mannwhitneyu(left, right, alternative="two-sided").pvalue)
    return _Test(split, before, after, abs(after - before) > before * threshold, p_value)


def _squared_error(values: list[float]) -> float:
    mean = statistics.fmean(values)
    return sum((v - mean) ** 2 for v in values)


def markdown_summary(findings: list[Finding], frame: pd.DataFrame) -> str:
    runs = frame["run_id"].nunique() if len(frame) else 0
    machines = frame["fingerprint"].nunique() if len(frame) else 0
    lines = [f"# harness trend: {runs} run(s), {machines} machine(s), "
             f"{len(frame.groupby(SERIES_KEYS)) if len(frame) else 0} series", ""]
    failing = gate(findings)
    known = [f for f in findings if f.regression and not f.new]
    better = [f for f in findings if not f.regression]
    lines += [f"New regressions (the gate fails): {len(failing)}"
              if failing else "No new regression.", ""]
    for title, chosen in (("New regressions", failing), ("Known changes (not failing)", known),
                          ("Improvements", better)):
        if chosen:
            lines += [f"## {title}", "", "| series | metric | kind | run | date | before | "
                      "after | Δ |", "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {f.series} | {f.metric} | {f.kind} | {f.run_id} | "
                      f"{f.started_at[:10]} | {f.before:.6g} | {f.after:.6g} | "
                      f"{f.change_pct:+.1f} % |" for f in chosen]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
