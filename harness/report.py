"""Reports of a run: the summary `harness run` prints, and `harness report` formats.

Reports read the stored results document, so a report of a finished run and of a file
on disk are the same thing. Statistics are computed here, from the raw samples.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
from tabulate import tabulate

from harness.errors import HarnessError
from harness.expect import parse
from harness.model import (
    COMPARED,
    METRIC,
    METRICS,
    Builder,
    Expectation,
    Metric,
    Operand,
    counted_values,
)
from harness.stats import (
    ALPHA,
    BOOTSTRAP_FROM,
    change_pct,
    compare_exact,
    compare_timings,
    holm_rejected,
    summarize,
)
from harness.store import strict_json


def summary_table(document: dict[str, Any]) -> str:
    """What `harness run` prints: one row per variant, builder and cache mode (medians), a
    column per labelled metric of the table that any row has."""
    stats = group_stats(document)
    shown = shown_metrics(stats)
    rows = [[f"{row['scenario']}/{row['variant']}", row["builder"], row["cache"],
             _status(row), *(cell(row, metric) for metric in shown)] for row in stats]
    return tabulate(rows, headers=["variant", "builder", "cache", "status",
                                   *(metric.label for metric in shown)],
                    tablefmt="github", disable_numparse=True)


def shown_metrics(rows: list[dict[str, Any]]) -> list[Metric]:
    """The table's labelled metrics that any of these rows measured, in the table's order."""
    return [metric for metric in METRICS
            if metric.label and any(metric.name in row["metrics"] for row in rows)]


def header(metric: Metric) -> str:
    return metric.label + ("¹" if metric.estimate else "")


def cell(row: dict[str, Any], metric: Metric) -> str:
    """A group's median in its metric's unit; timings with their spread; an estimate
    marked ≈."""
    summary = row["metrics"].get(metric.name)
    if summary is None:
        return "–"
    text = human(summary["median"], metric.name)
    if metric.timing:
        text += f" ±{human(summary['stddev'], metric.name)}" if summary["n"] > 1 else " (n=1)"
    if metric.estimate and not row["compressed_stored"]:
        text = "≈" + text
    return text


def delta_cell(row: dict[str, Any], metric: Metric) -> str:
    change = row["versus_baseline"].get(metric.name)
    if not change:
        return ""
    if metric.timing:
        return _ratio_shown(change)
    return shown_change(metric.name, change["baseline"], change["value"])


def _status(row: dict[str, Any]) -> str:
    status = "ok" if row["ok"] == row["n"] else f"{row['ok']}/{row['n']} ok"
    if row["problem"]:
        status += f"; {row['status']}: {_first_line(row['problem'])}"
    if row["start_problem"]:
        status += f"; start failed: {_first_line(row['start_problem'])}"
    if row["distribution_problem"]:
        status += f"; push/pull not measured: {_first_line(row['distribution_problem'])}"
    if row["cache_warnings"]:
        status += f"; {len(row['cache_warnings'])} not cached as implied (untimed)"
    return status


def _first_line(text: str | None) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 60 else line[:57] + "..."


def verdict_lines(document: dict[str, Any]) -> list[str]:
    """One line per claim with its mark and the values each side had, per group."""
    lines = []
    for claim in document.get("expectations", []):
        shown = ", ".join(f"{v['group']}: {_shown(v['left'])} vs {_shown(v['right'])}"
                          for v in claim["values"])
        lines.append(f"{claim_mark(claim).strip('*')} {claim['scenario']}: {claim['expr']}"
                     f"   [{shown}]")
    return lines


def _shown(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:.3g}"


def samples_frame(document: dict[str, Any]) -> pd.DataFrame:
    """The tidy sample table: one row per sample, one column per field."""
    frame = pd.DataFrame(document["samples"])
    for column in ("step_durations_s", "start_samples_s"):
        if column in frame:
            frame[column] = frame[column].map(lambda values: ";".join(f"{v:.6f}" for v in values))
    return frame


def csv_report(document: dict[str, Any]) -> str:
    return str(samples_frame(document).to_csv(index=False))


def group_stats(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per scenario, builder, cache mode and variant: summaries and the baseline comparison.

    Which samples count is model.counted_value's rule. A timing's `significant` is corrected
    with Holm-Bonferroni over every timing comparison of the run (family-wise ALPHA), as
    `compare` and `trend` correct theirs: with dozens of groups, uncorrected tests would mark
    some A/A difference."""
    baselines = {s["name"]: s["baseline"] for s in document["scenarios"]}
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for sample in document["samples"]:
        key = (sample["scenario"], sample["builder"], sample["cache"], sample["variant"])
        groups.setdefault(key, []).append(sample)
    rows = []
    timing_p: list[tuple[int, float]] = []  # (id of the comparison, p-value)
    comparisons: list[dict[str, Any]] = []
    for (scenario, builder, cache, variant), samples in groups.items():
        ok = [s for s in samples if s["status"] == "ok"]
        failed = [s for s in samples if s["status"] != "ok"]
        start_failed = [s for s in ok if s.get("start_status") == "failed"]
        baseline = groups.get((scenario, builder, cache, baselines[scenario]), [])
        row: dict[str, Any] = {
            "scenario": scenario, "builder": builder, "cache": cache, "variant": variant,
            "baseline": baselines[scenario], "n": len(samples), "ok": len(ok),
            "problem": failed[0].get("error") if failed else None,
            "start_problem": start_failed[0].get("start_error") if start_failed else None,
            "distribution_problem": next((s["distribution_error"] for s in ok
                                          if s.get("distribution_error")), None),
            "status": "ok" if len(ok) == len(samples) else samples[-1]["status"],
            "cache_warnings": [f"repetition {s['repetition']}: {s['cache_warning']}"
                               for s in ok if s.get("cache_warning")],
            "compressed_stored": bool(ok) and all(s.get("compressed_stored") is True
                                                  for s in ok),
            "metrics": {}, "versus_baseline": {}}
        for metric in METRICS:
            values = counted_values(samples, metric.name)
            if not values:
                continue
            row["metrics"][metric.name] = asdict(summarize(values))
            base_values = counted_values(baseline, metric.name)
            if base_values and variant != baselines[scenario] and metric.threshold_pct is not None:
                compare = compare_exact if metric.exact else compare_timings
                comparison = asdict(compare(base_values, values))
                if metric.timing and comparison["p_value"] is not None:
                    timing_p.append((len(comparisons), comparison["p_value"]))
                comparisons.append(comparison)
                row["versus_baseline"][metric.name] = comparison
        rows.append(row)
    for index in holm_rejected(timing_p, ALPHA, keep=False):
        comparisons[index]["significant"] = False
    return rows


def json_report(document: dict[str, Any]) -> str:
    return strict_json({"run_id": document["run_id"], "groups": group_stats(document),
                        "expectations": document.get("expectations", [])})


def diff_links(results: Path, document: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Per scenario, (variant (builder), relative path) of each diff against the baseline
    written beside the results file (RUN.diffs/SCENARIO.VARIANT.BUILDER.md)."""
    folder = results.with_suffix(".diffs")
    links: dict[str, list[tuple[str, str]]] = {}
    for image in document.get("images", []):
        name = f"{image['scenario']}.{image['variant']}.{image['builder']}.md"
        if (folder / name).is_file():
            links.setdefault(image["scenario"], []).append(
                (f"{image['variant']} ({image['builder']})", f"{folder.name}/{name}"))
    return links


def markdown_report(document: dict[str, Any],
                    links: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """Per scenario, a table per builder and cache mode, the links to each variant's diff
    against the baseline, then its claims."""
    lines = [f"# harness run {document['run_id']}", "",
             f"{document['started_at']} – {document.get('ended_at') or 'unfinished'}, "
             f"state: {document['state']}", ""]
    rows = group_stats(document)
    for scenario in document["scenarios"]:
        name = scenario["name"]
        mine = [r for r in rows if r["scenario"] == name]
        if not mine:
            continue  # not selected in this run
        lines += [f"## {name}", "", scenario["description"].strip(), "",
                  f"Baseline: `{scenario['baseline']}`.", ""]
        for builder, cache in dict.fromkeys((r["builder"], r["cache"]) for r in mine):
            group = [r for r in mine if (r["builder"], r["cache"]) == (builder, cache)]
            headers, table = markdown_table(group)
            lines += [f"### {builder}, {cache}", "",
                      tabulate(table, headers=headers, tablefmt="github",
                               disable_numparse=True), ""]
        lines += ["¹ ≈: gzip -6 of each layer, an estimate; without ≈: the sizes of the "
                  "compressed blobs the image store holds. Δ of a timing: the ratio of "
                  "medians to the baseline's, with its 95 % bootstrap interval, or the min–max "
                  f"of the ratios where a side has fewer than {BOOTSTRAP_FROM} values; * "
                  "significant after Holm-Bonferroni over the run's timing comparisons.", ""]
        if (links or {}).get(name):
            lines += ["Diffs against the baseline (why each image is bigger or smaller): "
                      + ", ".join(f"[{label}]({href})" for label, href in (links or {})[name]),
                      ""]
        claims = [e for e in document.get("expectations", []) if e["scenario"] == name]
        if claims:
            lines += ["Claims:", ""]
            lines += [f"- {claim_mark(e)} `{e['expr']}`" + (f" — {e['note']}" if e["note"]
                                                             else "") for e in claims]
            lines.append("")
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One (builder, cache mode)'s table: headers and a row per variant, a column per
    labelled metric these rows measured, and a Δ column after each `delta` one."""
    shown = shown_metrics(rows)
    headers = ["variant", "status"]
    for metric in shown:
        headers += [header(metric), *([f"Δ {metric.label}"] if metric.delta else [])]
    table = []
    for row in rows:
        cells = [row["variant"] + (" (baseline)" if row["variant"] == row["baseline"] else ""),
                 _status(row)]
        for metric in shown:
            cells += [cell(row, metric), *([delta_cell(row, metric)] if metric.delta else [])]
        table.append(cells)
    return headers, table


def _ratio_shown(change: dict[str, Any]) -> str:
    """×ratio [its interval, named for what it is], * where significant (Holm-corrected)."""
    interval = ""
    if change["ci_low"] is not None and change["ci_low"] != change["ci_high"]:
        interval = f" [{change['interval']} {change['ci_low']:.2f}–{change['ci_high']:.2f}]"
    return f"×{change['ratio']:.2f}{interval}" + (" *" if change["significant"] else "")


def claim_mark(expectation: dict[str, Any]) -> str:
    if expectation.get("skipped"):
        return f"– skipped: {expectation['skipped']}"
    if expectation.get("inconclusive"):
        return "? inconclusive"
    if expectation["known_false"]:
        return "✗ known false" if expectation["as_expected"] else \
            "**✓ NOW HOLDS (was known false)**"
    return "✓" if expectation["passed"] else "**✗ FAILED**"


def _measured(document: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(benchmark name, metric, summary) for every measured metric of every group."""
    for row in group_stats(document):
        name = f"{row['scenario']}/{row['variant']} [{row['builder']}, {row['cache']}]"
        for metric in COMPARED:
            if metric in row["metrics"]:
                yield name, metric, row["metrics"][metric]


def gab_report(document: dict[str, Any]) -> str:
    """github-action-benchmark's `customSmallerIsBetter`: [{name, unit, value, range, extra}]."""
    entries = [{"name": f"{name} {metric}", "unit": METRIC[metric].unit,
                "value": summary["median"], "range": f"± {summary['stddev']:.6g}",
                "extra": f"n={summary['n']}, min={summary['min']:.6g}, "
                         f"max={summary['max']:.6g}"}
               for name, metric, summary in _measured(document)]
    return strict_json(entries)


def bmf_report(document: dict[str, Any]) -> str:
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}."""
    benchmarks: dict[str, dict[str, dict[str, float]]] = {}
    for name, metric, summary in _measured(document):
        benchmarks.setdefault(name, {})[metric.replace("_", "-")] = {
            "value": summary["median"], "lower_value": summary["min"],
            "upper_value": summary["max"]}
    return strict_json(benchmarks)


FINDINGS_START = "<!-- findings:start -->"
FINDINGS_END = "<!-- findings:end -->"


def findings_table(documents: list[dict[str, Any]]) -> str:
    """Each claim with its verdict per run (one run per engine: a claim's outcome can depend
    on it) and the medians each side had in the first run that judged it (README's
    Findings). A claim a run did not judge (scoped to another image store) shows –."""
    judged: dict[tuple[str, str, str, bool], list[dict[str, Any] | None]] = {}
    for index, document in enumerate(documents):
        for claim in document.get("expectations", []):
            key = (claim["scenario"], claim["expr"], claim.get("note", ""), claim["known_false"])
            judged.setdefault(key, [None] * len(documents))[index] = claim
    variants = {s["name"]: list(s["variants"]) for d in documents for s in d["scenarios"]}
    rows = []
    for (scenario, expr, note, _), claims in judged.items():
        first = next(claim for claim in claims if claim is not None)
        numbers = _key_numbers(first, parse(expr, variants[scenario]))
        verdicts = [cell for claim in claims for cell in (
            (claim_mark(claim), _by_builder(claim)) if claim else ("–", "–"))]
        rows.append([scenario, f"`{expr}`", *verdicts, numbers, note])
    labels = [_engine_label(d) for d in documents]
    headers = [header for label in labels for header in (
        ("verdict", "by builder") if len(documents) == 1
        else (f"verdict ({label})", f"by builder ({label})"))]
    sources = " ".join(
        f"Run `{d['run_id']}` ({d['started_at'][:10]}, engine {label}, "
        f"{(d['environment'].get('engine') or {}).get('storage_driver', '?')}, "
        f"{len(d['samples'])} samples)." for d, label in zip(documents, labels, strict=True))
    return sources + "\n\n" + tabulate(
        rows, headers=["scenario", "claim", *headers, "medians (left vs right)", "note"],
        tablefmt="github") + "\n"


def _engine_label(document: dict[str, Any]) -> str:
    engine = document["environment"].get("engine") or {}
    store = engine.get("image_store")
    return f"{engine.get('server_version', '?')}" + (f" {store}" if store else "")


def _by_builder(claim: dict[str, Any]) -> str:
    """Whether the claim held with each builder that measured it: ✓ in every cache mode,
    ✗ in one at least, ? undecided (a timing claim inconclusive, a side unmeasured)."""
    held: dict[str, list[bool | None]] = {}
    for value in claim["values"]:
        held.setdefault(value["group"].split("/")[0], []).append(value.get("holds"))
    order = [b.value for b in Builder]
    return " · ".join(
        f"{builder} {'✗' if False in holds else '?' if None in holds else '✓'}"
        for builder, holds in sorted(held.items(), key=lambda item: order.index(item[0])
                                     if item[0] in order else len(order)))


def _key_numbers(claim: dict[str, Any], expectation: Expectation) -> str:
    """The medians without the claim's factors; one entry when every group agrees."""
    def side(value: float | str | None, operand: Operand) -> str:
        if value is None or isinstance(value, str):
            return _shown(value)
        raw = value / operand.factor if operand.variant else value
        return human(raw, operand.metric or (expectation.left.metric or ""))

    shown = [(v["group"], f"{side(v['left'], expectation.left)} vs "
                          f"{side(v['right'], expectation.right)}") for v in claim["values"]]
    if not shown:
        return "-"
    if len({text for _, text in shown}) == 1:
        return f"{shown[0][1]} (all {len(shown)} groups)" if len(shown) > 1 else \
            f"{shown[0][0]}: {shown[0][1]}"
    return "; ".join(f"{group}: {text}" for group, text in shown)


def human(value: float, metric: str) -> str:
    """A value in its metric's unit, from the metric table."""
    unit = METRIC[metric].unit if metric in METRIC else ""
    if unit == "bytes":
        return f"{value / 1e6:.1f} MB" if abs(value) >= 1e5 else f"{value:,.0f} B"
    if unit == "s":
        return f"{value:.2f} s" if abs(value) >= 1 else f"{value * 1000:.0f} ms"
    return f"{value:g}"


def shown_change(metric: str, before: float, after: float) -> str:
    """The change from a baseline as people read it: a percentage, or from a zero baseline
    (where a percentage means nothing: stats.change_pct) the absolute change."""
    pct = change_pct(before, after)
    if pct is not None:
        return f"{pct:+.1f} %"
    sign = "+" if after >= before else "-"
    return f"{sign}{human(abs(after - before), metric)} (from 0)"


def update_findings(path: Path, table: str) -> None:
    """Replace what is between the findings markers in `path` (a README)."""
    text = path.read_text()
    start, end = text.find(FINDINGS_START), text.find(FINDINGS_END)
    if start < 0 or end < start:
        raise HarnessError(f"{path}: no `{FINDINGS_START}` … `{FINDINGS_END}` markers; add "
                           "them where the findings table should go")
    path.write_text(text[:start + len(FINDINGS_START)] + "\n" + table + text[end:])
