"""`harness trend`: changes across a history of runs, noise-aware, for a nightly gate.

A series is one metric of one (scenario, variant, builder, cache mode) on one machine (the
environment fingerprint): runs of different machines are never mixed. Which samples count
is model.counted_value's rule (a warm build that missed its cache is no warm timing).

Each series is walked night by night, as the nightly saw it: each night against the nights
of the current level (at most the window):

- exact metrics (sizes, waste, layers, push and pull bytes) change when they move from the
  night before by more than the metric's floor (model.Metric.floor: 1 KiB, one layer) where
  any increase counts, else beyond their threshold (the compressed estimate moves with tar
  timestamps); the change starts a new level;
- timings change when the night is an outlier of the level (Student's t prediction, centred
  on the median, spread the larger of the scaled MAD and the standard deviation) and moves
  beyond the threshold. On the newest night that is the gate's question. On an earlier night
  the change counts once the next night confirms it (beyond the threshold, the same way) and
  the night's own p-value is below FAMILY_ALPHA; it then starts a new level. A spike the next
  night does not confirm is left out of the level, so it inflates no spread.

So every change stays listed on every later night as a known change (with its date, metric
and size), a second change after a first is found too, and the newest night's test is
always against the current level. The newest night's timing tests, one per series, are one
family, corrected with Holm-Bonferroni at FAMILY_ALPHA: a hundred series tested every night
would otherwise raise a false alarm most weeks.

Each change has a direction by the metric's own (smaller is better for all but cache hits).
The gate (`--fail-on-regression`) fails only on a regression of the newest night: a nightly
is red the night a regression first shows, and from the next night on it is a known change
without failing. Improvements are listed, never fail.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
from scipy import stats as scipy_stats

from harness import store
from harness.errors import HarnessError
from harness.model import COMPARED, METRIC, Better, counted_value, default_thresholds_pct
from harness.report import shown_change
from harness.stats import change_pct, changed_beyond, holm_rejected

FAMILY_ALPHA = 0.01
"""Family-wise error rate of a report's timing tests (Holm-Bonferroni): about one false
alarm in a hundred nightly reports of unchanged code."""
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
    change_pct: float | None
    """None from a zero baseline (stats.change_pct)."""
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
            for metric in COMPARED:
                value = counted_value(sample, metric)
                if value is not None:
                    records.append({"run_id": document["run_id"],
                                    "started_at": document["started_at"],
                                    "fingerprint": fingerprint, "metric": metric,
                                    "value": value,
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
    newest_p: list[tuple[int, float]] = []  # (index in findings or -1, p-value): the family
    for key, series in frame.groupby(SERIES_KEYS, sort=False):
        values = series["value"].tolist()
        runs, dates = series["run_id"].tolist(), series["started_at"].tolist()
        name = "/".join(str(part) for part in key[1:5]) + f" [{key[0]}]"
        metric = str(key[5])
        changes, newest = walk(values, metric, limits[metric], window)
        if newest is not None and newest.p_value is not None:  # its finding follows changes
            newest_p.append((len(findings) + len(changes) if newest.change else -1,
                             newest.p_value))
        for change in [*changes, *([newest] if newest and newest.change else [])]:
            last = change.index == len(values) - 1
            higher_is_better = METRIC[metric].better is Better.HIGHER
            findings.append(Finding(
                series=name, metric=metric, kind="latest" if last else "step",
                run_id=runs[change.index], before=change.before, after=change.after,
                change_pct=change_pct(change.before, change.after),
                regression=((change.after < change.before) if higher_is_better
                            else (change.after > change.before)),
                started_at=str(dates[change.index]), new=last))
    noise = set(holm_rejected(newest_p, FAMILY_ALPHA, keep=False))
    return [f for i, f in enumerate(findings) if i not in noise]


@dataclass(frozen=True)
class _Test:
    index: int
    """The night where the change shows."""
    before: float
    after: float
    change: bool
    """Moved beyond the floor or threshold (for timings, before the family's correction)."""
    p_value: float | None = None
    """For timings: the test's p-value."""


def walk(values: list[float], metric: str, threshold_pct: float,
         window: int = DEFAULT_WINDOW) -> tuple[list[_Test], _Test | None]:
    """The series night by night (see the module's docstring): the changes before the newest
    night, each with the median of the level it started as `after`, and the newest night's
    test (None where the level is too short to test a timing)."""
    changes: list[_Test] = []
    level = values[:1]
    newest: _Test | None = None
    last = len(values) - 1
    for index in range(1, len(values)):
        test = _night(level[-window:], values[index], index, metric, threshold_pct)
        if index == last:
            newest = test
            break
        if test is None or not test.change:
            level.append(values[index])
            continue
        if METRIC[metric].timing and not _confirmed(test, values[index + 1], metric,
                                                    threshold_pct):
            continue  # a spike: left out of the level
        changes.append(test)
        level = [values[index]]
    starts = [change.index for change in changes] + [len(values)]
    return [replace(change, after=statistics.median(values[change.index:starts[i + 1]]))
            for i, change in enumerate(changes)], newest


def _confirmed(test: _Test, following: float, metric: str, threshold_pct: float) -> bool:
    """An earlier night's timing change counts when its p-value alone is below FAMILY_ALPHA
    and the next night is beyond the threshold the same way."""
    return (test.p_value is not None and test.p_value < FAMILY_ALPHA
            and (following > test.before) == (test.after > test.before)
            and _changed(test.before, following, metric, threshold_pct))


def gate(findings: list[Finding]) -> list[Finding]:
    """The findings a nightly fails on: regressions that show in their series' newest run."""
    return [f for f in findings if f.regression and f.new]


def _changed(before: float, after: float, metric: str, threshold_pct: float) -> bool:
    """Beyond the metric's floor where any increase counts (sizes, layers), else beyond its
    threshold (stats.changed_beyond: by the floor from a zero baseline)."""
    if METRIC[metric].any_increase:
        return abs(after - before) > METRIC[metric].floor
    return changed_beyond(before, after, threshold_pct=threshold_pct, floor=METRIC[metric].floor)


def _night(level: list[float], value: float, index: int, metric: str,
           threshold_pct: float) -> _Test | None:
    """One night against its level: exact metrics against the night before, timings against
    the level's centre and noise (fewer than 3 nights in the level: no test)."""
    if METRIC[metric].exact:
        return _Test(index, level[-1], value, _changed(level[-1], value, metric, threshold_pct))
    if len(level) < 3:
        return None
    center = statistics.median(level)
    mad = statistics.median(abs(v - center) for v in level) * 1.4826
    noise = max(mad, statistics.stdev(level))  # robust, but never below the sample spread
    spread = noise * math.sqrt(1 + 1 / len(level))
    p_value = float(2 * scipy_stats.t.sf(abs(value - center) / spread, len(level) - 1)) \
        if spread else (0.0 if value != center else 1.0)
    return _Test(index, center, value, _changed(center, value, metric, threshold_pct), p_value)


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
                      f"{shown_change(f.metric, f.before, f.after)} |" for f in chosen]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
