"""The `harness` command line: parse arguments, call one stage function, print its result.

User problems (`HarnessError`) become one clear message and exit code 2 (1 where a
command's own verdict is "no"); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import HarnessError
from harness.matrix import parse_shard
from harness.model import Builder, CacheMode, Order, RunOptions

FLAVOR_NAMES = ["trixie", "trixie-containerd", "ci-runner"]
"""harness.flavors.FLAVORS' names, here so `harness --help` imports no engine code."""
DEFAULT_REGISTRY_PORT = 5055
"""harness.registry.DEFAULT_PORT, here so the commands that only read results load no
Docker code (registry imports the provisioning, and with it docker-py)."""
DEFAULT_SCENARIOS = Path("scenarios")
DEFAULT_RESULTS = Path("results")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except HarnessError as error:
        print(f"harness: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness: interrupted", file=sys.stderr)
        return 130


class _WholeWords(argparse.HelpFormatter):
    """Help wrapped between words only: a piece's key (`copy-owner`) is never split."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    engine = commands.add_parser("engine", help="provision the Docker engine harness needs")
    engine_commands = engine.add_subparsers(dest="engine_command", required=True, metavar="ACTION")
    engine_up = engine_commands.add_parser(
        "up", help="make sure an engine answers (install and start one on Debian/Ubuntu as root); "
                   "the last line printed is `export DOCKER_HOST=...`")
    engine_up.add_argument("--flavor", default="default", choices=["default", *FLAVOR_NAMES],
                           help="default: the host's engine; trixie: Docker 26 beside it; "
                                "trixie-containerd: the same with the containerd image store; "
                                "ci-runner: the throwaway runner of `cache: remote`")
    engine_up.add_argument("--experimental", action="store_true",
                           help="turn on the engine's experimental mode (for legacy --squash) "
                                "and restart it if it was off")
    engine_up.add_argument("--buildah", action="store_true",
                           help="also install buildah (Debian's, with apt, as root or through "
                                "sudo) for scenarios that build with it")
    engine_up.set_defaults(handler=engine_up_command)
    engine_down = engine_commands.add_parser(
        "down", help="stop a flavour's engine and remove its bridge and rules")
    engine_down.add_argument("--flavor", required=True, choices=FLAVOR_NAMES)
    engine_down.add_argument("--purge", action="store_true",
                             help="also delete its data root (every image and container in it), "
                                  "so the next `up` starts an empty engine")
    engine_down.set_defaults(handler=engine_down_command)

    registry = commands.add_parser(
        "registry", help="a local registry for measuring push and pull (`run --registry`)")
    registry_commands = registry.add_subparsers(dest="registry_command", required=True,
                                                metavar="ACTION")
    registry_up = registry_commands.add_parser(
        "up", help="start Debian's docker-registry on 127.0.0.1 (fetched if missing); the last "
                   "line printed is `export HARNESS_REGISTRY=127.0.0.1:PORT`")
    registry_up.add_argument("--port", type=positive_int, default=DEFAULT_REGISTRY_PORT,
                             help=f"default {DEFAULT_REGISTRY_PORT}")
    registry_up.set_defaults(handler=registry_up_command)
    registry_down = registry_commands.add_parser(
        "down", help="stop the registry `registry up` started and delete its storage")
    registry_down.set_defaults(handler=registry_down_command)

    doctor = commands.add_parser("doctor", help="check what this engine can do for harness")
    doctor.add_argument("--json", action="store_true", help="print the facts as JSON")
    doctor.set_defaults(handler=doctor_command)

    validate = commands.add_parser("validate", help="check scenario files without building")
    validate.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_SCENARIOS],
                          metavar="PATH", help="scenario files or folders (default: scenarios/)")
    validate.set_defaults(handler=validate_command)

    bases = commands.add_parser("bases", help="base images the scenarios build FROM")
    bases_commands = bases.add_subparsers(dest="bases_command", required=True, metavar="ACTION")
    bases_build = bases_commands.add_parser("build", help="make every declared base that is "
                                                          "missing or whose recipe changed")
    bases_build.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_SCENARIOS],
                             metavar="PATH", help="scenario files or folders (default: scenarios/)")
    bases_build.set_defaults(handler=bases_build_command)

    run = commands.add_parser("run", help="build and measure every variant of the scenarios")
    run.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_SCENARIOS], metavar="PATH",
                     help="scenario files or folders (default: scenarios/)")
    run.add_argument("--builder", action="append", choices=[b.value for b in Builder],
                     help="only this builder (repeatable; default: each scenario's own)")
    run.add_argument("--cache", action="append", choices=[c.value for c in CacheMode],
                     help="only this cache mode (repeatable; default: each scenario's own)")
    run.add_argument("--repeat", type=positive_int, help="timed repetitions per sample")
    run.add_argument("-k", dest="select", metavar="SUBSTRING",
                     help="only variants whose SCENARIO/VARIANT contains this")
    run.add_argument("--out", type=Path, default=DEFAULT_RESULTS, metavar="DIR",
                     help="where the results file goes (default: results/)")
    run.add_argument("--keep-images", action="store_true",
                     help="keep the run's images (normally removed at the end)")
    run.add_argument("--quick", action="store_true",
                     help="each scenario's `quick:` subset, one repetition, cold and warm only "
                          "(unless --repeat/--cache say)")
    run.add_argument("--shard", type=parse_shard, metavar="I/N",
                     help="only the I-th of N slices of the (scenario, variant, builder) matrix "
                          "(join the shards' files with `harness merge`)")
    run.add_argument("--order", choices=[o.value for o in Order], default=Order.INTERLEAVED,
                     help="interleaved (default): cold builds take turns between variants, "
                          "A B A B...; sequential: each variant's repetitions in a row")
    run.add_argument("--seed", type=int, help="shuffle each interleaved turn with this seed")
    run.add_argument("--machine", metavar="KEY",
                     help="the machine key trends keep runs apart by (default: a fingerprint "
                          "of the engine and builder versions, storage, kernel, cores)")
    run.add_argument("--json", action="store_true",
                     help="print the final summary (statistics per group, claims) as JSON")
    run.add_argument("--registry", metavar="HOST:PORT",
                     help="measure push and pull of cold builds on this plain-HTTP registry "
                          "(default: $HARNESS_REGISTRY; scenarios with `registry: true` start "
                          "`harness registry up`'s when none is given)")
    run.add_argument("--allow-concurrent", action="store_true",
                     help="run even while another harness run uses the engine (its warm "
                          "samples and yours may then miss the cache)")
    run.add_argument("--buildx-builder", metavar="NAME",
                     help="the buildx builder BuildKit builds run on (e.g. a remote or "
                          "Kubernetes one; default: buildx's current builder)")
    run.set_defaults(handler=run_command)

    report = commands.add_parser("report", help="format a results file")
    report.add_argument("results", type=Path, metavar="RESULTS.json")
    report.add_argument("--format", choices=("md", "html", "csv", "json", "gab", "bmf"),
                        default="md",
                        help="gab: github-action-benchmark customSmallerIsBetter; "
                             "bmf: Bencher Metric Format")
    report.add_argument("-o", dest="output", type=Path, metavar="FILE",
                        help="write here instead of standard output")
    report.set_defaults(handler=report_command)

    compare = commands.add_parser(
        "compare", help="compare two runs; exit 1 on a significant regression")
    compare.add_argument("old", type=Path, metavar="OLD.json")
    compare.add_argument("new", type=Path, metavar="NEW.json")
    compare.add_argument("--threshold", action="append", default=[], metavar="METRIC=PCT",
                         help="regression threshold (defaults: timings 10, sizes 1, layers 0)")
    compare.set_defaults(handler=compare_command)

    trend = commands.add_parser("trend", help="regressions across a folder of results files")
    trend.add_argument("directory", type=Path, metavar="DIR")
    trend.add_argument("--window", type=positive_int, default=10,
                       help="previous runs the latest is compared with (default 10)")
    trend.add_argument("--fail-on-regression", action="store_true",
                       help="exit 1 on a regression that shows in the newest run of its "
                            "series (a known change from an earlier night does not fail)")
    trend.add_argument("--html", type=Path, metavar="FILE", help="also write a page of charts")
    trend.set_defaults(handler=trend_command)

    findings = commands.add_parser(
        "findings", help="the claims of runs as a Markdown table, a verdict column per run "
                         "(one run per engine; README's Findings)")
    findings.add_argument("results", type=Path, nargs="+", metavar="RESULTS.json")
    findings.add_argument("--update", type=Path, metavar="FILE",
                          help="replace the table between the findings markers in FILE")
    findings.set_defaults(handler=findings_command)

    merge = commands.add_parser("merge", help="join the results files of `run --shard` runs")
    merge.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json")
    merge.add_argument("-o", dest="output", type=Path, required=True, metavar="RUN.json",
                       help="the joined results file (reports are written beside it)")
    merge.set_defaults(handler=merge_command)

    analyse = commands.add_parser(
        "analyse", help="any image's layers, waste and efficiency (from the engine, an "
                        "archive or a registry); --ci gates on them")
    source = analyse.add_mutually_exclusive_group(required=True)
    source.add_argument("image", nargs="?", metavar="IMAGE", help="an image on the engine")
    source.add_argument("--archive", type=Path, metavar="FILE",
                        help="a `docker save` tar (either layout) or an OCI image layout (tar "
                             "or folder); no engine needed")
    source.add_argument("--registry", metavar="HOST[:PORT]/REPO:TAG|@DIGEST",
                        help="read through the registry's HTTP API; no engine needed")
    add_image_options(analyse)
    analyse.add_argument("--top", type=positive_int, default=10,
                         help="wasted files listed (default 10)")
    analyse.add_argument("--ci", action="store_true",
                         help="gate: PASS/FAIL per limit, exit 1 on a failure (limits from the "
                              "options below, else ./.dive-ci)")
    analyse.add_argument("--ci-config", type=Path, metavar="FILE",
                         help="a dive .dive-ci file (default ./.dive-ci, if there is one)")
    analyse.add_argument("--max-wasted-bytes", metavar="SIZE", help="e.g. 20MB, 1GiB, 1000")
    analyse.add_argument("--max-wasted-percent", type=float, metavar="PCT",
                         help="of the bytes of every layer but the first (dive's "
                              "highestUserWastedPercent × 100)")
    analyse.add_argument("--min-efficiency", type=float, metavar="RATIO", help="0 to 1")
    analyse.add_argument("--max-size", metavar="SIZE")
    analyse.add_argument("--max-layers", type=positive_int, metavar="N")
    analyse.set_defaults(handler=analyse_command)

    diff = commands.add_parser(
        "diff", help="why image B is bigger than A, file by file (each an IMAGE on the engine, "
                     "archive:FILE or registry:HOST/REPO:TAG)")
    diff.add_argument("a", metavar="A")
    diff.add_argument("b", metavar="B")
    add_image_options(diff)
    diff.add_argument("--rows", type=positive_int, default=30, help="files shown (default 30)")
    diff.set_defaults(handler=diff_command)

    advise = commands.add_parser(
        "advise", help="rewrite your Dockerfile by each piece of slimming advice, build and "
                       "check every rewrite, and rank what each one saves",
        formatter_class=_WholeWords)
    advise.add_argument("dockerfile", nargs="*", type=Path, metavar="DOCKERFILE",
                        help="default ./Dockerfile (several only with --plan)")
    advise.add_argument("--plan", action="store_true",
                        help="no engine, no build: each piece that applies, with its line, "
                             "hadolint code and rewrite as a diff (like a linter)")
    advise.add_argument("--fail-on-advice", action="store_true",
                        help="with --plan: exit 1 where any piece applies (a lint gate)")
    advise.add_argument("--context", type=Path, metavar="DIR",
                        help="the build context (default: the Dockerfile's folder)")
    advise.add_argument("--target", metavar="STAGE")
    advise.add_argument("--build-arg", action="append", default=[], metavar="K=V")
    advise.add_argument("--check", action="append", default=[], metavar="CMD",
                        help="run in a container of every variant (sh -c CMD); must exit 0")
    advise.add_argument("--builder", action="append", choices=[b.value for b in Builder],
                        help="default: buildkit")
    advise.add_argument("--repeat", type=positive_int, default=1,
                        help="cold builds of each variant (default 1: sizes are exact; "
                             "3 or more for a build-time interval)")
    advise.add_argument("--registry", metavar="HOST:PORT",
                        help="also measure push and pull on this registry")
    advise.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                        help="the runs' results files (default results/)")
    advise.add_argument("--write-scenario", type=Path, metavar="FILE",
                        help="a scenario of the original and the rewrites, with their claims")
    advise.add_argument("--write-dockerfile", type=Path, metavar="FILE",
                        help="the recommended rewrite")
    advise.add_argument("--only", metavar="KEY[,KEY...]",
                        help="measure only these pieces of advice (chain, group, cache, "
                             "cache-mount, recommends, nodocs, autoremove, archive, copy-owner, "
                             "npm-prod, smaller-base, cache-order, build-stage, "
                             "move-deletion, flatten, export-import, docker-squash)")
    advise.add_argument("--pull", action="store_true",
                        help="pull the smaller base the smaller-base piece tries (the slim "
                             "form) where the engine lacks it; removed again at the end")
    advise.add_argument("--allow-concurrent", action="store_true",
                        help="run even while another harness run uses the engine")
    advise.add_argument("--force", action="store_true",
                        help="replace the --write-* files if they exist")
    advise.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    advise.add_argument("--html", type=Path, metavar="FILE",
                        help="also write an HTML page with a chart of the sizes")
    advise.set_defaults(handler=advise_command)

    clean = commands.add_parser("clean", help="remove the images and containers harness made")
    clean.add_argument("--bases", action="store_true", help="also remove the base images")
    clean.set_defaults(handler=clean_command)

    return parser


def add_image_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", metavar="OS/ARCH",
                        help="the image of a multi-platform index (default: the host's)")
    parser.add_argument("--json", action="store_true",
                        help="print JSON (harness/analysis.schema.json) instead of Markdown")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML page")


def analyse_command(args: argparse.Namespace) -> int:
    from harness.analyse import Limits, analyse, dive_ci_limits, gate, parse_bytes
    from harness.image_report import analysis_html, analysis_markdown
    from harness.store import step_summary, strict_json, write_text

    limits = Limits(
        max_wasted_bytes=None if args.max_wasted_bytes is None
        else parse_bytes(args.max_wasted_bytes, "--max-wasted-bytes"),
        max_wasted_percent=args.max_wasted_percent, min_efficiency=args.min_efficiency,
        max_size=None if args.max_size is None else parse_bytes(args.max_size, "--max-size"),
        max_layers=args.max_layers)
    if args.ci and not limits.any():
        config = args.ci_config or Path(".dive-ci")
        if args.ci_config or config.is_file():
            limits = dive_ci_limits(config)
    elif args.ci_config:
        limits = dive_ci_limits(args.ci_config)
    if args.ci and not limits.any():
        raise HarnessError("--ci: no limit given (--max-wasted-bytes, --max-wasted-percent, "
                           "--min-efficiency, --max-size, --max-layers) and no .dive-ci here")
    name = (f"archive:{args.archive}" if args.archive else f"registry:{args.registry}"
            if args.registry else args.image)
    analysis = analyse(read_image(name, args.platform), top=args.top)
    outcomes = gate(analysis, limits) if args.ci else []
    markdown = analysis_markdown(analysis, outcomes)
    if args.html:
        write_text(args.html, analysis_html(analysis, outcomes))
    print(strict_json({"analysis": asdict(analysis), "gate": [asdict(o) for o in outcomes]})
          if args.json else markdown)
    step_summary(markdown)
    return 1 if any(not o.passed for o in outcomes) else 0


def diff_command(args: argparse.Namespace) -> int:
    from harness.diff import image_diff
    from harness.image_report import diff_markdown
    from harness.store import step_summary, strict_json, write_text

    result = image_diff(read_image(args.a, args.platform), read_image(args.b, args.platform))
    markdown = diff_markdown(result, rows=args.rows)
    if args.html:
        from harness.page import STYLE, escape

        write_text(args.html, f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                              f"<title>harness diff</title><style>{STYLE}</style></head><body>"
                              f"<pre>{escape(markdown)}</pre></body></html>")
    print(strict_json(asdict(result)) if args.json else markdown, end="" if not args.json else "\n")
    step_summary(markdown)
    return 0


def read_image(name: str, platform: str | None) -> Any:
    """An image named as analyse and diff take it: archive:FILE, registry:REF, else the
    engine's IMAGE; progress on standard error."""
    from harness.images import host_platform_name, read_archive, read_engine, read_registry
    from harness.progress import progress_reporter

    platform = platform or host_platform_name()
    with progress_reporter() as report:
        if name.startswith("archive:"):
            return read_archive(Path(name.removeprefix("archive:")), platform, report)
        if name.startswith("registry:"):
            return read_registry(name.removeprefix("registry:"), platform, report)
        from harness.engine import connect

        return read_engine(connect(), name, platform, report)


def advise_command(args: argparse.Namespace) -> int:
    from harness.advice.measure import refuse_existing, write_scenario
    from harness.advice.pieces import advice_keys
    from harness.advice.records import AdviseOptions, BuildFailed
    from harness.advice.report import advice_html, advice_markdown, advice_terminal
    from harness.advise import advise
    from harness.progress import progress_reporter
    from harness.store import step_summary, strict_json, write_text

    files = args.dockerfile or [Path("Dockerfile")]
    for path in files:
        if not path.is_file():
            raise HarnessError(f"{path}: no such Dockerfile")
    if args.plan:
        return plan_command(files, args)
    if args.fail_on_advice:
        raise HarnessError("--fail-on-advice goes with --plan")
    if len(files) > 1:
        raise HarnessError("one DOCKERFILE at a time (several only with --plan)")
    dockerfile = files[0]
    refuse_existing([args.write_scenario, args.write_dockerfile, args.html], args.force)
    build_args = {}
    for item in args.build_arg:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise HarnessError(f"--build-arg {item!r}: expected KEY=VALUE")
        build_args[key] = value
    context = args.context or dockerfile.parent
    if not context.is_dir():
        raise HarnessError(f"--context {context}: no such folder")
    only = tuple(key.strip() for key in (args.only or "").split(",") if key.strip())
    unknown = [key for key in only if key not in advice_keys()]
    if unknown or (args.only is not None and not only):
        raise HarnessError(f"--only {args.only!r}: expected pieces of advice, comma-separated, "
                           f"from: {', '.join(advice_keys())}")
    options = AdviseOptions(dockerfile=dockerfile, context=context, target=args.target,
                            build_args=build_args, checks=tuple(args.check),
                            builders=tuple(Builder(b) for b in args.builder or ["buildkit"]),
                            repeat=args.repeat, registry=args.registry, out=args.out,
                            allow_concurrent=args.allow_concurrent, only=only, pull=args.pull)
    signal.signal(signal.SIGTERM, _interrupt)
    with progress_reporter() as report:
        try:
            result = advise(options, report)
        except BuildFailed as error:
            print(f"harness: {error}", file=sys.stderr)
            return 1
    markdown = advice_markdown(result)
    if args.write_scenario:
        write_scenario(result, options, args.write_scenario)
    if args.write_dockerfile and result.best_dockerfile:
        write_text(args.write_dockerfile, result.best_dockerfile)
    if args.html:
        write_text(args.html, advice_html(result))
    if args.json:
        print(strict_json(asdict(result)))
    elif sys.stdout.isatty():  # what a person decides on, within the terminal's width
        print(advice_terminal(result, shutil.get_terminal_size().columns), end="")
    else:
        print(markdown, end="")
    step_summary(markdown)
    return 0


def plan_command(files: list[Path], args: argparse.Namespace) -> int:
    """advise --plan on each file: no engine, no build; exit 1 with --fail-on-advice where
    any piece applies."""
    from harness.advice.plan import plan, plan_text
    from harness.store import strict_json

    plans = [plan(path, args.context or path.parent) for path in files]
    if args.json:
        print(strict_json([asdict(p) for p in plans]))
    else:
        print("\n".join(plan_text(p) for p in plans), end="")
    applies = any(piece.applies for p in plans for piece in p.pieces)
    return 1 if args.fail_on_advice and applies else 0


def engine_up_command(args: argparse.Namespace) -> int:
    from harness.engine import docker_host
    from harness.flavors import FLAVORS, flavor_up
    from harness.provision import provision

    started = time.monotonic()
    if args.flavor == "default":
        provision(log=engine_log, experimental=args.experimental)
        host = docker_host()
    else:
        host = flavor_up(FLAVORS[args.flavor], log=engine_log)
    if args.buildah:
        from harness import buildah

        buildah.install(log=engine_log)
    engine_log(f"ready in {time.monotonic() - started:.1f} s")
    print(f"export DOCKER_HOST={host}")
    return 0


def engine_down_command(args: argparse.Namespace) -> int:
    from harness.flavors import FLAVORS, flavor_down

    flavor_down(FLAVORS[args.flavor], log=engine_log, purge=args.purge)
    engine_log(f"{args.flavor} is down")
    return 0


def registry_up_command(args: argparse.Namespace) -> int:
    from harness.registry import registry_up

    registry = registry_up(args.port, log=registry_log)
    print(f"export HARNESS_REGISTRY={registry.address}")
    return 0


def registry_down_command(args: argparse.Namespace) -> int:
    from harness.registry import registry_down

    registry_down(log=registry_log)
    return 0


def registry_log(message: str) -> None:
    print(f"registry: {message}", file=sys.stderr, flush=True)


def engine_log(message: str) -> None:
    print(f"engine: {message}", file=sys.stderr, flush=True)


def doctor_command(args: argparse.Namespace) -> int:
    from harness.doctor import collect_facts, problems, render

    facts = collect_facts()
    found = problems(facts)
    if args.json:
        print(json.dumps({"facts": facts.as_dict(), "problems": [p.as_dict() for p in found]},
                         indent=2))
    else:
        print(render(facts, found))
    return 1 if any(p.blocking for p in found) else 0


def validate_command(args: argparse.Namespace) -> int:
    from harness.scenario import ScenarioError, load_scenarios, scenario_files

    try:
        scenarios = load_scenarios(args.paths)
    except ScenarioError as error:
        print(error, file=sys.stderr)
        print(f"{len(error.problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{len(scenario_files(args.paths))} file(s) OK ({len(scenarios)} scenario(s))")
    return 0


def bases_build_command(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from harness.bases import ensure_bases
    from harness.engine import connect
    from harness.progress import progress_reporter
    from harness.scenario import all_bases

    recipes = all_bases(args.paths)
    client = connect()
    try:
        with progress_reporter() as progress:
            outcomes = ensure_bases(client, recipes, recipes, progress)
    finally:
        client.close()
    rows = [[o.reference, o.action, f"{o.seconds:.1f}", f"{o.size_bytes / 1e6:.1f}", o.detail]
            for o in outcomes]
    print(tabulate(rows, headers=["base", "action", "seconds", "MB", "detail"],
                   tablefmt="github"))
    return 0


def run_command(args: argparse.Namespace) -> int:
    from harness.html_report import write_reports
    from harness.matrix import planned_samples
    from harness.progress import run_progress
    from harness.runner import run_scenarios, started_run, unexpected_failures
    from harness.scenario import load_scenarios

    scenarios = load_scenarios(args.paths)  # every file checked before anything is built
    options = run_options(args)
    total = planned_samples(scenarios, options)
    if total == 0:
        raise HarnessError("nothing to run: no variant matches the selection")
    signal.signal(signal.SIGTERM, _interrupt)
    with run_progress(total) as (progress, finished), \
            started_run(scenarios, options, args.out, progress, finished) as (runner, path):
        run = runner.run
        try:
            run_scenarios(runner)
        except KeyboardInterrupt:
            print(f"harness: interrupted; {len(run.samples)} finished sample(s) saved in "
                  f"{path}", file=sys.stderr)
            return 130
    document = write_reports(path)
    if args.json:
        from harness.report import json_report

        print(json_report(document))
    else:
        print_summary(document)
        print(f"results: {path}\nreport:  {path.with_suffix('.md')} (and .html)")
    claims_hold = all(v.as_expected for verdicts in run.verdicts.values() for v in verdicts)
    return 0 if claims_hold and not unexpected_failures(run) else 1


def print_summary(document: dict[str, Any]) -> None:
    """What `run` and `merge` print: a row per variant, builder and cache mode; the claims."""
    from harness.report import summary_table, verdict_lines
    from harness.store import step_summary

    table, verdicts = summary_table(document), verdict_lines(document)
    print(table)
    if verdicts:
        print("\nexpectations:\n" + "\n".join(verdicts))
    step_summary(f"### harness run {document['run_id']}\n\n{table}\n\n"
                 + "".join(f"- {line.strip()}\n" for line in verdicts))


def run_options(args: argparse.Namespace) -> RunOptions:
    """The `harness run` options (what --quick means: matrix.options_for)."""
    from harness.matrix import options_for

    return options_for(
        quick=args.quick, cache=tuple(CacheMode(c) for c in args.cache) if args.cache else None,
        repeat=args.repeat, select=args.select, keep_images=args.keep_images, shard=args.shard,
        builders=tuple(Builder(b) for b in args.builder) if args.builder else None,
        buildx_builder=args.buildx_builder, allow_concurrent=args.allow_concurrent,
        order=Order(args.order), seed=args.seed, machine=args.machine, registry=args.registry)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a run like Ctrl-C: saved, cleaned up, reported."""
    raise KeyboardInterrupt


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {value}")
    return value


def report_command(args: argparse.Namespace) -> int:
    from harness import store
    from harness.report import (
        bmf_report,
        csv_report,
        diff_links,
        gab_report,
        json_report,
        markdown_report,
    )

    document = store.load(args.results)
    links = diff_links(args.results, document)  # the diffs `harness run` wrote beside it
    if args.format == "html":
        from harness.html_report import html_report

        text = html_report(document, links)
    elif args.format == "md":
        text = markdown_report(document, links)
    else:
        text = {"csv": csv_report, "json": json_report, "gab": gab_report,
                "bmf": bmf_report}[args.format](document)
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from harness import store
    from harness.compare import compare_runs, parse_thresholds
    from harness.report import shown_change

    try:
        thresholds = parse_thresholds(args.threshold)
    except ValueError as error:
        raise HarnessError(str(error)) from None
    changes = compare_runs(store.load(args.old), store.load(args.new), thresholds)
    if not changes:
        raise HarnessError(f"{args.old} and {args.new} have no (scenario, variant, builder, "
                           "cache mode) in common")
    rows = [[f"{c.scenario}/{c.variant}", c.builder, c.cache, c.metric, f"{c.old:.6g}",
             f"{c.new:.6g}", shown_change(c.metric, c.old, c.new),
             "REGRESSION" if c.regression else c.verdict]
            for c in changes]
    print(tabulate(rows, headers=["variant", "builder", "cache", "metric", "old", "new", "Δ",
                                  "verdict"], tablefmt="github", disable_numparse=True))
    regressions = [c for c in changes if c.regression]
    inconclusive = sum(c.verdict == "inconclusive" for c in changes)
    print(f"{len(regressions)} regression(s) in {len(changes)} comparison(s)"
          + (f", {inconclusive} inconclusive (timings too noisy to tell)" if inconclusive
             else ""))
    return 1 if regressions else 0


def trend_command(args: argparse.Namespace) -> int:
    from harness.store import step_summary
    from harness.trend import detect, gate, history, markdown_summary

    if not args.directory.is_dir():
        raise HarnessError(f"{args.directory}: not a folder of results files")
    frame = history(args.directory,
                    warn=lambda message: print(f"harness: warning: {message}", file=sys.stderr))
    findings = detect(frame, window=args.window)
    summary = markdown_summary(findings, frame)
    print(summary, end="")
    step_summary(summary)
    if args.html:
        from harness.html_report import trend_html

        args.html.write_text(trend_html(frame, summary))
    return 1 if gate(findings) and args.fail_on_regression else 0


def findings_command(args: argparse.Namespace) -> int:
    from harness import store
    from harness.report import findings_table, update_findings

    table = findings_table([store.load(path) for path in args.results])
    if args.update:
        update_findings(args.update, table)
        print(f"{args.update}: findings from {', '.join(map(str, args.results))}")
    else:
        print(table, end="")
    return 0


def merge_command(args: argparse.Namespace) -> int:
    from harness.html_report import write_reports
    from harness.merge import merge_files, merged_verdict_holds
    from harness.store import write_document

    document = merge_files(args.results)
    write_document(document, args.output)
    write_reports(args.output)
    print_summary(document)
    print(f"merged {len(args.results)} file(s), {len(document['samples'])} sample(s) "
          f"into {args.output}")
    return 0 if merged_verdict_holds(document) else 1


def clean_command(args: argparse.Namespace) -> int:
    from harness import buildah
    from harness.bases import remove_bases
    from harness.engine import connect, remove_run

    client = connect()
    try:
        removed = remove_run(client)
        print(f"removed {removed} container(s) and image(s) of harness runs")
        removed = buildah.clean()
        if removed:
            print(f"removed {removed} container(s) and image(s) from harness's buildah storage "
                  f"({buildah.storage_dir()})")
        if args.bases:
            removed_bases, kept = remove_bases(client)
            print(f"removed {len(removed_bases)} base image(s): {', '.join(removed_bases) or '-'}")
            for reference, reason in kept:
                print(f"kept base {reference}: {reason}")
        else:
            print("bases kept (`harness clean --bases` removes them too)")
    finally:
        client.close()
    return 0


