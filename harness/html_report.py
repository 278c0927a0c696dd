"""The HTML report: one self-contained page (charts as inline SVG, no script, no network).

Per scenario: image size per variant stacked as base / the variant's own bytes / wasted
bytes, build time per cache mode with its spread (min to max), and with a registry push
and pull bytes — the numbers people compare — plus the Markdown-equivalent tables, the
claims, the environment and warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt

from harness.model import METRICS
from harness.page import STYLE
from harness.page import escape as _e
from harness.page import svg as _svg
from harness.page import table as _table
from harness.report import claim_mark, group_stats, markdown_table


def html_report(document: dict[str, Any],
                links: dict[str, list[tuple[str, str]]] | None = None) -> str:
    rows = group_stats(document)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>harness run {_e(document['run_id'])}</title><style>{STYLE}</style>"
             f"</head><body><h1>harness run {_e(document['run_id'])}</h1>",
             f"<p>{_e(document['started_at'])} – {_e(document.get('ended_at') or 'unfinished')}"
             f", state: {_e(document['state'])}</p>", _summary(document)]
    for scenario in document["scenarios"]:
        mine = [r for r in rows if r["scenario"] == scenario["name"]]
        if mine:
            parts.append(_scenario(scenario, mine, document, (links or {}).get(scenario["name"])))
    parts += [_warnings(rows), _environment(document.get("environment", {})),
              "</body></html>"]
    return "\n".join(parts)


def _summary(document: dict[str, Any]) -> str:
    samples = document["samples"]
    claims = document.get("expectations", [])
    failed = sum(s["status"] == "failed" for s in samples)
    broken = [c for c in claims if not c["as_expected"]]
    return (f"<h2>Summary</h2><p>{len(samples)} samples: "
            f"{sum(s['status'] == 'ok' for s in samples)} ok, {failed} failed, "
            f"{sum(s['status'] == 'skipped' for s in samples)} skipped. "
            f"{len(claims)} claims, <span class='{'failed' if broken else ''}'>"
            f"{len(broken)} not as stated</span>.</p>")


def _scenario(scenario: dict[str, Any], rows: list[dict[str, Any]],
              document: dict[str, Any], links: list[tuple[str, str]] | None) -> str:
    name = scenario["name"]
    parts = [f"<h2 id='{_e(name)}'>{_e(name)}</h2><p>{_e(scenario['description'])}</p>",
             f"<p>Baseline: <code>{_e(scenario['baseline'])}</code></p>",
             "<div class='charts'>", _figure(size_chart(rows), f"{name}: image size"),
             _figure(build_time_chart(rows), f"{name}: build time"),
             *([_figure(distribution_chart(rows), f"{name}: push and pull")]
               if any("push_bytes" in r["metrics"] for r in rows) else []), "</div>"]
    for builder, cache in dict.fromkeys((r["builder"], r["cache"]) for r in rows):
        headers, table = markdown_table(
            [r for r in rows if (r["builder"], r["cache"]) == (builder, cache)])
        parts.append(f"<h3>{_e(builder)}, {_e(cache)}</h3>" + _table(headers, table))
    if links:
        parts.append("<p>Diffs against the baseline (why each image is bigger or smaller): "
                     + ", ".join(f"<a href='{_e(href)}'>{_e(label)}</a>"
                                 for label, href in links) + "</p>")
    claims = [c for c in document.get("expectations", []) if c["scenario"] == name]
    if claims:
        items = "".join(
            f"<li class='{'' if c['as_expected'] else 'failed'}'>"
            f"{_e(claim_mark(c).strip('*'))} <code>{_e(c['expr'])}</code> {_e(c['note'])}</li>"
            for c in claims)
        parts.append(f"<h3>Claims</h3><ul>{items}</ul>")
    return "\n".join(parts)


def size_chart(rows: list[dict[str, Any]]) -> str:
    """Size per variant and builder (cold builds): base, own bytes, and of those wasted."""
    bars = [r for r in rows if r["cache"] == "cold" and "size_bytes" in r["metrics"]] or \
        [r for r in rows if "size_bytes" in r["metrics"]]
    labels = [f"{r['variant']}\n{r['builder']}" for r in bars]
    base = [_median(r, "base_size_bytes") / 1e6 for r in bars]
    wasted = [_median(r, "wasted_bytes") / 1e6 for r in bars]
    own = [max(_median(r, "size_bytes") / 1e6 - b - w, 0) for r, b, w in zip(bars, base, wasted,
                                                                             strict=True)]
    figure, axes = plt.subplots(figsize=(max(4, 0.9 * len(bars) + 2), 3.6))
    axes.bar(labels, base, label="base image", color="#9e9e9e")
    axes.bar(labels, own, bottom=base, label="variant's own", color="#1f77b4")
    axes.bar(labels, wasted, bottom=[b + o for b, o in zip(base, own, strict=True)],
             label="wasted (deleted or replaced later)", color="#d62728")
    axes.set_ylabel("MB")
    axes.set_title("image size (cold builds)")
    axes.legend(fontsize="small")
    return _svg(figure)


def distribution_chart(rows: list[dict[str, Any]]) -> str:
    """Per variant and builder (cold builds, with a registry): what a push uploads where the
    registry has the base, what it adds after the baseline, and what a cold pull fetches."""
    bars = [r for r in rows if "push_bytes" in r["metrics"]]
    shown = [("push_bytes", "push (registry has the base)", "#1f77b4"),
             ("push_after_baseline_bytes", "push after the baseline", "#ff7f0e"),
             ("pull_bytes", "cold pull (host has the base)", "#2ca02c")]
    figure, axes = plt.subplots(figsize=(max(4, 1.1 * len(bars) + 2), 3.6))
    width = 0.8 / len(shown)
    for index, (metric, label, color) in enumerate(shown):
        axes.bar([i + index * width for i in range(len(bars))],
                 [_median(r, metric) / 1e6 for r in bars], width, label=label, color=color)
    axes.set_xticks([i + width for i in range(len(bars))],
                    [f"{r['variant']}\n{r['builder']}" for r in bars])
    axes.set_ylabel("MB")
    axes.set_title("distribution (cold builds)")
    axes.legend(fontsize="small")
    return _svg(figure)


def build_time_chart(rows: list[dict[str, Any]]) -> str:
    """Median build time per variant and builder for each cache mode; bars span min to max."""
    modes = list(dict.fromkeys(r["cache"] for r in rows))
    keys = list(dict.fromkeys((r["variant"], r["builder"]) for r in rows))
    figure, axes = plt.subplots(figsize=(max(4, 0.9 * len(keys) + 2), 3.6))
    width = 0.8 / max(len(modes), 1)
    for index, mode in enumerate(modes):
        found = {(r["variant"], r["builder"]): r["metrics"].get("build_s")
                 for r in rows if r["cache"] == mode}
        medians = [found[k]["median"] if found.get(k) else 0 for k in keys]
        low = [m - found[k]["min"] if found.get(k) else 0 for k, m in zip(keys, medians,
                                                                           strict=True)]
        high = [found[k]["max"] - m if found.get(k) else 0 for k, m in zip(keys, medians,
                                                                            strict=True)]
        axes.bar([i + index * width for i in range(len(keys))], medians, width, label=mode,
                 yerr=[low, high], capsize=3)
    axes.set_xticks([i + width * (len(modes) - 1) / 2 for i in range(len(keys))],
                    [f"{v}\n{b}" for v, b in keys])
    axes.set_ylabel("seconds")
    axes.set_title("build time by cache mode (min–max)")
    axes.legend(fontsize="small")
    return _svg(figure)




def trend_html(frame: Any, summary_markdown: str) -> str:
    """The trend page: the findings, then per machine, scenario and metric a time series."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>harness trend</title><style>{STYLE}</style></head><body>",
             f"<pre>{_e(summary_markdown)}</pre>"]
    charted_metrics = [m.name for m in METRICS if m.charted]
    charted = frame[frame["metric"].isin(charted_metrics)] if len(frame) else frame
    for (fingerprint, scenario, metric), rows in charted.groupby(
            ["fingerprint", "scenario", "metric"], sort=True):
        figure, axes = plt.subplots(figsize=(8, 3.2))
        for (variant, builder, cache), line in rows.groupby(["variant", "builder", "cache"]):
            axes.plot(line["started_at"].str[:16], line["value"], marker="o",
                      label=f"{variant} {builder} {cache}")
        axes.set_title(f"{scenario}: {metric} (machine {fingerprint})")
        axes.legend(fontsize="x-small", ncol=2)
        parts.append(_figure(_svg(figure), f"{scenario} {metric}"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _median(row: dict[str, Any], metric: str) -> float:
    summary = row["metrics"].get(metric)
    return float(summary["median"]) if summary else 0.0


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _warnings(rows: list[dict[str, Any]]) -> str:
    items = [f"<li>{_e(r['scenario'])}/{_e(r['variant'])} [{_e(r['builder'])}, "
             f"{_e(r['cache'])}] {_e(metric)}: {_e(warning)}</li>"
             for r in rows for metric, summary in r["metrics"].items()
             for warning in summary["warnings"]]
    items += [f"<li>{_e(r['scenario'])}/{_e(r['variant'])} [{_e(r['builder'])}, "
              f"{_e(r['cache'])}] cache: {_e(warning)} (left out of the timings)</li>"
              for r in rows for warning in r["cache_warnings"]]
    return "<h2>Warnings</h2>" + (f"<ul>{''.join(items)}</ul>" if items else "<p>None.</p>")


def _environment(environment: dict[str, Any]) -> str:
    rows = [[f"{section}.{key}", str(value)] for section, values in environment.items()
            if isinstance(values, dict) for key, value in values.items()]
    rows += [[key, str(value)] for key, value in environment.items()
             if not isinstance(value, dict)]
    return "<h2>Environment</h2>" + _table(["fact", "value"], rows)


def write_reports(results: Path) -> dict[str, Any]:
    """The Markdown and HTML reports beside a results file, and each variant's diff against
    its baseline (RUN.diffs/, linked from both); returns the loaded document."""
    from harness import store
    from harness.diff import baseline_diffs
    from harness.image_report import diff_markdown
    from harness.report import diff_links, markdown_report

    document = store.load(results)
    folder = results.with_suffix(".diffs")
    for (scenario, variant, builder), diff in baseline_diffs(document).items():
        store.write_text(folder / f"{scenario}.{variant}.{builder}.md", diff_markdown(diff))
    links = diff_links(results, document)
    results.with_suffix(".md").write_text(markdown_report(document, links))
    results.with_suffix(".html").write_text(html_report(document, links))
    return document
