"""`harness advise` end to end on an apt image where six pieces of advice apply (the app an
expert writes as a 133 MB image; as written, 478 MB on the local debian:bookworm), and where
its wall time goes.

The app: apt-get update and install in separate RUNs, recommends and docs installed, no
cache cleanup, a compiler (tcc) installed, used and purged in later RUNs. Run:

    python benchmarks/advise.py [REPEAT]      (default 3)

It prints the ranked advice, and the wall time split into the timed builds (the runs'
build_s), container starts (the runs' start times and advise's checks), the waste analysis,
the image guard, the runner's other work (untimed priming builds, each image's layer
analysis, cleanup) and
harness's own (process start, parsing, rewriting, output): targets, on a 2-core machine, a
wall time of at most 6 minutes and harness's own share at most 10 %.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

APP = Path(__file__).parent / "typical-app"
"""The app (its Dockerfile and hello.c), shared with advise's test against an expert's."""


def main() -> int:
    repeat = sys.argv[1] if len(sys.argv) > 1 else "3"
    with tempfile.TemporaryDirectory(prefix="harness-bench-advise-") as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(APP, app)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "harness", "advise",
                                 str(app / "Dockerfile"), "--repeat", repeat, "--check",
                                 "hello", "--check", "curl --version", "--json", "--out",
                                 str(Path(tmp) / "out")], capture_output=True, text=True)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            print(result.stderr[-3000:], file=sys.stderr)
            return 1
        report = json.loads(result.stdout)
        samples = [s for path in report["results"]
                   for s in json.loads(Path(path).read_text())["samples"]]
        first = sorted(Path(tmp, "out").glob("*.json"))
        samples += [s for path in first if str(path) not in report["results"]
                    for s in json.loads(path.read_text())["samples"]]
    builds = sum(s.get("build_s") or 0 for s in samples)
    starts = sum(sum(s.get("start_samples_s") or []) for s in samples)
    phases = report["phases_s"]
    runner_other = phases["runs"] - builds - starts
    own = wall - phases["runs"] - phases["analysis"] - phases["checks"] - phases["guard"]
    print(tabulate([[r["advice"], r["verdict"] + (f": {r['reason']}" if r["reason"] else ""),
                     "" if r["size_change_bytes"] is None else f"{r['size_change_bytes']:+,}",
                     "; ".join(f"{k} {v}" for k, v in (r["build_time"] or {}).items())]
                    for r in report["rows"]],
                   headers=["advice", "verdict", "size change (B)", "build time (× original)"],
                   tablefmt="github", disable_numparse=True))
    applied = [r["key"] for r in report["rows"] if r["verdict"] != "not applicable"]
    print(f"advise --repeat {repeat}: {len(applied)} pieces applied ({', '.join(applied)}), "
          f"{len(samples)} samples; wall {wall:.0f} s = timed builds {builds:.0f} s + starts "
          f"{starts + phases['checks']:.0f} s (checks {phases['checks']:.0f} s) + analysis "
          f"{phases['analysis']:.1f} s + the image guard {phases['guard']:.1f} s + runner's "
          f"other work {runner_other:.0f} s + harness's own {own:.1f} s "
          f"({100 * own / wall:.1f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
