"""What `harness analyse` and `harness diff` show: Markdown (the terminal, a job summary), and
a self-contained HTML page with a chart of the layers (matplotlib is loaded for that page
only: it would double a plain analysis's memory)."""

from __future__ import annotations

from tabulate import tabulate

from harness.model import ImageAnalysis, ImageDiff, RuleOutcome

DIFF_ROWS = 30


def analysis_markdown(analysis: ImageAnalysis, outcomes: list[RuleOutcome]) -> str:
    lines = [f"## {analysis.reference}", "",
             f"{analysis.source}, {analysis.platform}, image {analysis.image_id[:19]}", "",
             tabulate(_totals(analysis), headers=["total", ""], tablefmt="pipe",
                      disable_numparse=True), "",
             tabulate(_layer_rows(analysis), headers=LAYER_HEADERS, tablefmt="pipe",
                      disable_numparse=True), ""]
    if analysis.top_waste:
        lines += ["Top wasted files:", "",
                  tabulate(_waste_rows(analysis), headers=WASTE_HEADERS, tablefmt="pipe",
                           disable_numparse=True), ""]
    if outcomes:
        lines += [tabulate([[("PASS" if o.passed else "FAIL"), o.rule, o.value, o.limit]
                            for o in outcomes], headers=["", "rule", "value", "limit"],
                           tablefmt="pipe", disable_numparse=True), ""]
    return "\n".join(lines)


LAYER_HEADERS = ["layer", "created by", "size", "compressed", "added", "changed", "removed",
                 "wasted"]
WASTE_HEADERS = ["path", "bytes", "written by", "hidden by"]


def _totals(analysis: ImageAnalysis) -> list[list[str]]:
    approx = "" if analysis.compressed_stored else "≈ "
    rows = [["size", f"{analysis.size_bytes:,} B"],
            ["compressed", f"{approx}{analysis.compressed_bytes:,} B"],
            ["layers", str(len(analysis.layers))],
            ["wasted", f"{analysis.wasted_bytes:,} B"],
            ["efficiency", f"{100 * analysis.efficiency:.2f} %"]]
    if analysis.user_wasted_ratio is not None:
        rows.append(["wasted of user layers", f"{100 * analysis.user_wasted_ratio:.2f} %"])
    return rows


def _layer_rows(analysis: ImageAnalysis) -> list[list[str]]:
    return [[str(layer.index), _cut(layer.created_by), f"{layer.size_bytes:,}",
             f"{'' if layer.compressed_stored else '≈ '}{layer.compressed_bytes:,}",
             str(layer.files_added), str(layer.files_changed), str(layer.files_removed),
             f"{layer.wasted_bytes:,}"] for layer in analysis.layers]


def _waste_rows(analysis: ImageAnalysis) -> list[list[str]]:
    by = {layer.index: layer.created_by for layer in analysis.layers}
    return [[f"/{w.path}", f"{w.size_bytes:,}", f"layer {w.written_in}: {_cut(by[w.written_in])}",
             f"layer {w.hidden_in} ({w.how}): {_cut(by[w.hidden_in])}"]
            for w in analysis.top_waste]


def _cut(text: str, width: int = 60) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[:width - 1] + "…"


def analysis_html(analysis: ImageAnalysis, outcomes: list[RuleOutcome]) -> str:
    from harness.page import STYLE, escape, table  # matplotlib: not for every analyse

    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>harness analyse {escape(analysis.reference)}</title><style>{STYLE}</style>"
             f"</head><body><h1>{escape(analysis.reference)}</h1>",
             f"<p>{escape(analysis.source)}, {escape(analysis.platform)}, image "
             f"{escape(analysis.image_id)}</p>", table(["total", ""], _totals(analysis)),
             f"<figure>{layer_chart(analysis)}<figcaption>bytes per layer: kept, and wasted "
             "(deleted or replaced by a later layer)</figcaption></figure>",
             "<h2>Layers</h2>", table(LAYER_HEADERS, _layer_rows(analysis))]
    if analysis.top_waste:
        parts += ["<h2>Top wasted files</h2>", table(WASTE_HEADERS, _waste_rows(analysis))]
    if outcomes:
        parts += ["<h2>CI gate</h2>", table(["", "rule", "value", "limit"], [
            [("PASS" if o.passed else "FAIL"), o.rule, o.value, o.limit] for o in outcomes])]
    return "\n".join([*parts, "</body></html>"])


def layer_chart(analysis: ImageAnalysis) -> str:
    import matplotlib.pyplot as plt

    from harness.page import svg

    labels = [f"{layer.index}" for layer in analysis.layers]
    wasted = [layer.wasted_bytes / 1e6 for layer in analysis.layers]
    kept = [max(layer.size_bytes / 1e6 - w, 0) for layer, w in zip(analysis.layers, wasted,
                                                                    strict=True)]
    figure, axes = plt.subplots(figsize=(max(4, 0.5 * len(labels) + 2), 3.6))
    axes.bar(labels, kept, label="kept", color="#1f77b4")
    axes.bar(labels, wasted, bottom=kept, label="wasted", color="#d62728")
    axes.set_xlabel("layer")
    axes.set_ylabel("MB")
    axes.set_title("bytes per layer")
    axes.legend(fontsize="small")
    return svg(figure)


def diff_markdown(diff: ImageDiff, rows: int = DIFF_ROWS) -> str:
    sized = [f for f in diff.files if f.delta_bytes]
    shown = sized[:rows]
    lines = [diff.why, "",
             f"A: {diff.a} ({diff.a_size_bytes:,} B) · B: {diff.b} ({diff.b_size_bytes:,} B)",
             "", tabulate([[f"/{f.path}", f.change, f"{f.delta_bytes:+,}", _cut(f.detail, 90)]
                           for f in shown], headers=["path", "change", "bytes (B - A)", ""],
                          tablefmt="pipe", disable_numparse=True)]
    if len(sized) > rows:
        rest = sum(f.delta_bytes for f in sized[rows:])
        lines.append(f"\n… and {len(sized) - rows} more files ({rest:+,} B); --json "
                     "lists them all")
    if len(sized) < len(diff.files):
        lines.append(f"\n{len(diff.files) - len(sized)} files differ in mode or kind only "
                     "(0 B; --json lists them)")
    lines += ["", tabulate([[d, f"{v:+,}"] for d, v in diff.by_directory.items()],
                           headers=["directory", "bytes (B - A)"], tablefmt="pipe",
                           disable_numparse=True), ""]
    for side, layers in (("A", diff.a_only_layers), ("B", diff.b_only_layers)):
        lines.append(f"Layers only {side} has: " + ("; ".join(layers) if layers else "none"))
    return "\n".join(lines) + "\n"
