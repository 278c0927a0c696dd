"""How long harness's layer analysis of an image takes from nothing, against the floor.

The floor is `docker save IMAGE | pigz -6 -p $(nproc) > /dev/null` (Debian's pigz): reading
the image and compressing it on every core, which the analysis must do at least. Run:

    python benchmarks/layer_analysis.py IMAGE [REPEAT]

It prints both medians and their ratio (the target is at most 1.5).
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

from harness.layers import analyse_image


def main() -> int:
    image = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not shutil.which("pigz"):
        print("needs pigz: apt-get install pigz", file=sys.stderr)
        return 2
    client = docker.from_env()
    size = client.api.inspect_image(image)["Size"]
    ours, floor = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as empty_cache:
            started = time.perf_counter()
            analyse_image(client, image, cache_dir=Path(empty_cache))
            ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(f"docker save {image} | pigz -6 -p {os.cpu_count()} > /dev/null",
                       shell=True, check=True)
        floor.append(time.perf_counter() - started)
    print(f"{image}: {size / 1e6:.0f} MB; analysis {statistics.median(ours):.2f} s, "
          f"docker save | pigz -6 {statistics.median(floor):.2f} s, "
          f"ratio {statistics.median(ours) / statistics.median(floor):.2f} (median of {repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
