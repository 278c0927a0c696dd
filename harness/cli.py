"""The `harness` command line: parse arguments, call one stage function, print its result.

User problems (`HarnessError`) become one clear message and exit code 2 (1 where a
command's own verdict is "no"); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from harness import __version__
from harness.errors import HarnessError


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    engine = commands.add_parser("engine", help="provision the Docker engine harness needs")
    engine_commands = engine.add_subparsers(dest="engine_command", required=True, metavar="ACTION")
    engine_up = engine_commands.add_parser(
        "up", help="make sure an engine answers (install and start one on Debian/Ubuntu as root)")
    engine_up.set_defaults(handler=engine_up_command)

    doctor = commands.add_parser("doctor", help="check what this engine can do for harness")
    doctor.add_argument("--json", action="store_true", help="print the facts as JSON")
    doctor.set_defaults(handler=doctor_command)

    smoke = commands.add_parser(
        "smoke", help="build, run and measure one tiny image with each builder (placeholder bench)")
    smoke.set_defaults(handler=smoke_command)
    return parser


def engine_up_command(args: argparse.Namespace) -> int:
    from harness.engine import provision

    started = time.monotonic()
    provision(log=lambda message: print(f"engine: {message}", file=sys.stderr))
    print(f"engine: ready in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


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


def smoke_command(args: argparse.Namespace) -> int:
    from harness.smoke import render, run_smoke

    results = run_smoke()
    print(render(results))
    return 0 if all(r.ok for r in results) else 1
