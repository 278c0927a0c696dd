"""advise's report: the ranked table, the original's waste, the image guard's findings and
the recommended diff, as Markdown and as a page with a chart."""

from __future__ import annotations

from harness.advice.records import ORIGINAL, AdviceReport, AdviceRow
from harness.advice.rows import CHANGES


def size_change(row: AdviceRow) -> str:
    """The size change in bytes and %, as the Markdown table and its sentences show it."""
    if row.size_change_bytes is None:
        return ""
    return f"{row.size_change_bytes:+,} B ({row.size_change_pct or 0:+.1f} %)"


def advice_markdown(result: AdviceReport) -> str:
    from tabulate import tabulate

    def code(row: AdviceRow) -> str:
        if not row.hadolint or not row.hadolint_lines:
            return row.hadolint
        return f"{row.hadolint} (flags {', '.join(map(str, row.hadolint_lines))})"
    table = [[row.advice, code(row), ", ".join(map(str, row.lines)), size_change(row),
              "" if row.layers_change is None else f"{row.layers_change:+d}",
              "" if row.compressed_change_bytes is None else f"{row.compressed_change_bytes:+,}",
              "" if row.push_change_bytes is None else f"{row.push_change_bytes:+,}",
              "; ".join(f"{k} {v}" for k, v in (row.build_time or {}).items()),
              {True: "✓", False: "✗", None: ""}[row.checks_passed],
              row.verdict + (f": {row.reason}" if row.reason else "")] for row in result.rows]
    lines = [f"## harness advise {result.dockerfile}", "",
             f"The original: {result.original_size_bytes:,} B in {result.original_layers} "
             f"layers, {result.original_wasted_bytes:,} B wasted.", "",
             *([f"Incremental builds: {result.incremental}.", ""] if result.incremental else []),
             *([f"Left alone by every piece: {result.left_alone}.", ""]
               if result.left_alone else []),
             tabulate(table, headers=["advice", "hadolint", "lines", "size", "layers",
                                      "compressed", "push", "build time (× original)",
                                      "checks", "verdict"], tablefmt="github",
                      disable_numparse=True), ""]
    if result.top_waste:
        lines += ["The original's top wasted files:", "", tabulate(
            [[f"/{w.path}", f"{w.size_bytes:,}", w.written_by_line or "the base",
              w.hidden_by_line or "the base"] for w in result.top_waste],
            headers=["path", "bytes", "written at line", "hidden at line"], tablefmt="github",
            disable_numparse=True), ""]
    if result.original_check:
        lines += [f"Your original fails the checks too: {result.original_check}", ""]
    lines += guard_lines(result)
    for row in result.rows:
        if row.verdict == "breaks":
            lines += [f"✗ {row.advice} breaks your image: {row.check_output or row.reason}"]
        elif row.verdict == CHANGES:
            lines += [f"✗ {row.advice} changes your image: {row.reason}"]
    notes = [f"- {row.advice}: {row.note}" for row in result.rows if row.note]
    if notes:
        lines += ["", "Notes:", *notes]
    if result.hadolint:
        lines += ["", f"hadolint: {result.hadolint}"]
    if result.best_diff:
        lines += ["", f"Recommended: {result.best} — the rewritten Dockerfile against yours:",
                  "", "```diff", result.best_diff.rstrip("\n"), "```"]
    else:
        lines += ["", no_rewrite_saves(result)]
    lines += ["", f"results: {', '.join(result.results)}"]
    return "\n".join(lines) + "\n"


TERMINAL_WIDTH = 120
"""The widest line advise prints to a terminal, however wide the terminal."""


def advice_terminal(result: AdviceReport, width: int = TERMINAL_WIDTH) -> str:
    """What a person decides on, within `width` columns: each piece's verdict, size change and
    build time, the reasons below, then the recommended diff (whose lines are the user's own
    and kept whole). The full table is for --json, --html and the job summary."""
    import textwrap

    from tabulate import tabulate

    from harness.report import human

    width = min(width, TERMINAL_WIDTH)

    def wrap(text: str, indent: str = "") -> list[str]:
        return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False,
                             break_long_words=True) or [""]

    def size(row: AdviceRow) -> str:
        if row.size_change_bytes is None:
            return ""
        sign = "-" if row.size_change_bytes < 0 else "+"
        return (f"{sign}{human(abs(row.size_change_bytes), 'size_bytes')} "
                f"({row.size_change_pct or 0:+.1f} %)")

    def build(row: AdviceRow) -> str:
        return ", ".join(f"{mode} {value.split()[0] if value.startswith('×') else 'failed'}"
                         for mode, value in (row.build_time or {}).items())

    headers = ["piece", "verdict", "size", "build time", "checks"]
    cells = [[row.key, row.verdict, size(row), build(row),
              {True: "✓", False: "✗", None: ""}[row.checks_passed]] for row in result.rows]
    others = sum(max(len(r[i]) for r in [headers, *cells]) + 2 for i in (0, 1, 2, 4))
    table = tabulate(cells, headers=headers, tablefmt="simple", disable_numparse=True,
                     maxcolwidths=[None, None, None, max(12, width - others), None])
    lines = wrap(f"harness advise {result.dockerfile}: the original is "
                 f"{human(result.original_size_bytes, 'size_bytes')} in "
                 f"{result.original_layers} layers, "
                 f"{human(result.original_wasted_bytes, 'size_bytes')} wasted; each rewrite's "
                 "build time is a ratio to the original's median.")
    for said in (f"Incremental builds: {result.incremental}." if result.incremental else "",
                 f"Left alone by every piece: {result.left_alone}." if result.left_alone
                 else "",
                 f"Your original fails the checks too: {result.original_check}"
                 if result.original_check else ""):
        lines += wrap(said) if said else []
    lines += ["", *(line[:width] for line in table.splitlines()), ""]
    reasons = [f"- {row.key}: " + "; ".join(filter(None, [why, row.note]))
               for row in result.rows
               if (why := row.check_output if row.verdict == "breaks" and row.check_output
                   else row.reason) or row.note]
    guarded = [wrapped for line in guard_lines(result) if line for wrapped in wrap(line, "  ")]
    lines += [*(wrapped for reason in reasons for wrapped in wrap(reason, "  ")),
              *([""] if reasons else []), *guarded, ""]
    if result.best_diff:
        lines += wrap(f"Recommended: {result.best}, the rewritten Dockerfile against yours:")
        lines += ["", result.best_diff.rstrip("\n")]
    else:
        lines += wrap(no_rewrite_saves(result))
    lines += ["", *wrap(f"results: {', '.join(result.results)}; every column: --json, "
                        "--html FILE, or the GitHub job summary")]
    return "\n".join(lines) + "\n"


def no_rewrite_saves(result: AdviceReport) -> str:
    if after_build := [r for r in result.rows if r.verdict == "saves"]:
        row = after_build[0]
        return ("No rewrite of the Dockerfile saves anything measurable; a step after the build "
                f"does: {row.advice}, {size_change(row)}.")
    return "No rewrite saves anything measurable on this Dockerfile."


def guard_lines(result: AdviceReport) -> list[str]:
    """What the image guard compared: the build noise, and what each measured piece may
    change."""
    noise = result.noise_paths
    shown = ", ".join(f"/{p}" if not p.startswith("config:") else p for p in noise[:5])
    lines = [f"The image guard compared each rewrite's files and config with the original's; "
             f"{len(noise)} path(s) differed between two builds of the original itself (build "
             f"noise, ignored{': ' + shown if noise else ''}{', ...' if len(noise) > 5 else ''})."
             , ""]
    lines += [f"- {row.advice}: may change {row.may_change}" + (
        "; nothing else changed" if row.image_changes == [] else "")
        for row in result.rows if row.may_change and row.image_changes is not None]
    return [*lines, ""]


def advice_html(result: AdviceReport) -> str:
    """The page: a chart of each measured variant's size against the original's, the same
    tables as the Markdown, and the recommended diff."""
    import html

    import matplotlib.pyplot as plt

    from harness.page import STYLE, svg

    measured = [r for r in result.rows if r.size_bytes is not None]
    figure, axes = plt.subplots(figsize=(max(4, 0.9 * len(measured) + 3), 3.6))
    labels = [ORIGINAL, *(r.variant for r in measured)]
    sizes = [result.original_size_bytes / 1e6, *(r.size_bytes / 1e6 for r in measured
                                                 if r.size_bytes is not None)]
    colours = ["#9e9e9e", *("#d62728" if r.verdict == "breaks" else "#1f77b4"
                            for r in measured)]
    axes.bar(labels, sizes, color=colours)
    axes.set_ylabel("MB")
    axes.set_title("image size per rewrite (red: breaks a check)")
    chart = svg(figure)
    markdown = advice_markdown(result)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>harness advise "
            f"{html.escape(result.dockerfile)}</title><style>{STYLE}</style></head><body>"
            f"<h1>harness advise {html.escape(result.dockerfile)}</h1><figure>{chart}"
            "<figcaption>image size of the original and each measured rewrite</figcaption>"
            f"</figure><pre>{html.escape(markdown)}</pre></body></html>")
