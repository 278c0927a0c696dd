"""`harness advise --plan` over the corpus of real Dockerfiles (tests/data/corpus): the time
of each file's plan in this process (parse, every piece, the combination, the diffs and the
text), and of the whole command as a user runs it (one process, every file). Run:

    python benchmarks/plan_corpus.py

It prints the count, the median and the slowest file's time (target: under 1 s each), and how
many files each piece applies to.
"""

import collections
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.advice.plan import plan, plan_text

CORPUS = Path(__file__).parent.parent / "tests" / "data" / "corpus"


def main() -> None:
    files = sorted(p for p in CORPUS.rglob("Dockerfile*") if p.is_file())
    seconds, applies = [], collections.Counter()
    for path in files:
        started = time.perf_counter()
        found = plan(path, path.parent)
        plan_text(found)
        seconds.append((time.perf_counter() - started, path))
        applies.update(p.key for p in found.pieces if p.applies)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness", "advise", "--plan", *map(str, files)],
                   check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    whole = time.perf_counter() - started
    slowest = max(seconds)
    print(f"{len(files)} Dockerfiles: median {statistics.median(s for s, _ in seconds):.3f} s, "
          f"slowest {slowest[0]:.3f} s ({slowest[1].relative_to(CORPUS)}, "
          f"{len(slowest[1].read_text().splitlines())} lines); the whole command "
          f"{whole:.1f} s")
    print("pieces that apply: " + ", ".join(f"{k} {n}" for k, n in applies.most_common()))


if __name__ == "__main__":
    main()
