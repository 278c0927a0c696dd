"""`harness advise` end to end on an apt image where six pieces of advice apply (the app an
expert writes as a 133 MB image; as written, 478 MB on the local debian:bookworm), and where
its wall time goes.

The app: apt-get update and install in separate RUNs, recommends and docs installed, no
cache cleanup, a compiler (tcc) installed, used and purged in later RUNs. Run:

    python benchmarks/advise.py [REPEAT]      (default 3)

It prints the ranked advice, and the wall time split into what the user would run anyway
(timed builds, untimed priming builds for warm and incremental modes, container starts,
advise's checks) and harness's overhead (reading the images, the image guard, and its own
work: process start, parsing, rewriting, cleanup, output). Targets on a 2-core machine: the
overhead at most 15 % of the wall time at --repeat 3; at --repeat 1, the wall time at most
1.25 times the builds, starts and checks.
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
    phases = report["phases_s"]
    print(tabulate([[r["advice"], r["verdict"] + (f": {r['reason']}" if r["reason"] else ""),
                     "" if r["size_change_bytes"] is None else f"{r['size_change_bytes']:+,}",
                     "; ".join(f"{k} {v}" for k, v in (r["build_time"] or {}).items())]
                    for r in report["rows"]],
                   headers=["advice", "verdict", "size change (B)", "build time (× original)"],
                   tablefmt="github", disable_numparse=True))
    applied = [r["key"] for r in report["rows"] if r["verdict"] != "not applicable"]
    users = phases["builds"] + phases["priming"] + phases["starts"] + phases["checks"]
    print(f"advise --repeat {repeat}: {len(applied)} pieces applied ({', '.join(applied)}); "
          f"wall {wall:.0f} s = timed builds {phases['builds']:.0f} s + priming builds "
          f"{phases['priming']:.0f} s + starts {phases['starts']:.0f} s + checks "
          f"{phases['checks']:.0f} s + reading images "
          f"{phases['reading'] + phases['analysis']:.1f} s + the image guard "
          f"{phases['guard']:.1f} s + harness's own {wall - phases['total'] + phases['own']:.1f} s")
    print(f"harness's overhead: {wall - users:.0f} s, {100 * (wall - users) / wall:.1f} % of the "
          f"wall time (target at --repeat 3: at most 15 %); wall / (builds, priming, starts and "
          f"checks) = {wall / users:.2f} (target at --repeat 1: at most 1.25)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
