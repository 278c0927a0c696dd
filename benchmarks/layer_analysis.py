"""How long harness's layer analysis of an image takes from nothing, and its peak memory,
against the floor.

The floor is `docker save IMAGE | pigz -6 -p $(nproc) > /dev/null` (Debian's pigz): reading
the image and compressing it on every core, which the analysis must do at least. Each side
runs as its own process, so its peak resident memory (`wait4`'s ru_maxrss) is its own; the
floor's is the larger of `docker save` and pigz. Run:

    python benchmarks/layer_analysis.py IMAGE [REPEAT]
    python benchmarks/layer_analysis.py --random-image MIB [REPEAT]

The second form builds a one-layer image of MIB MiB of random data first (and removes it).
It prints the medians, their ratio (target: at most 1.1) and both peaks (target: the
analysis under 128 MB whatever the image size).
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

from harness.context import materialize

ANALYSE = ("import sys, pathlib, docker; from harness.images import analyse_engine_image; "
           "analyse_engine_image(docker.from_env(), sys.argv[1], "
           "cache_dir=pathlib.Path(sys.argv[2]))")


def timed_peak(command: list[str], **kwargs: object) -> tuple[float, int]:
    """Wall seconds and peak RSS in bytes of a command (its largest process)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, **kwargs)  # type: ignore[call-overload]
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[:3]} failed")
    return seconds, usage.ru_maxrss * 1024


def floor(image: str) -> tuple[float, int]:
    """`docker save | pigz`: wait4 on the shell reports the largest process it waited for."""
    pipeline = f"docker save {image} | pigz -6 -p {os.cpu_count()} > /dev/null"
    return timed_peak(["bash", "-c", f"{pipeline}; exit ${{PIPESTATUS[0]}}"])


def random_image(client: docker.DockerClient, mib: int) -> str:
    tag = f"harness-bench/random:{mib}m"
    with tempfile.TemporaryDirectory() as tmp:
        context = materialize(Path(tmp) / "ctx", files={},
                              dockerfile="FROM scratch\nCOPY blob /blob\n")
        with open(context / "blob", "wb") as blob:
            for _ in range(mib):
                blob.write(os.urandom(1 << 20))
        client.images.build(path=str(context), dockerfile="Dockerfile.harness", tag=tag,
                            rm=True)
    return tag


def main() -> int:
    args = sys.argv[1:]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    if not shutil.which("pigz"):
        print("needs pigz: apt-get install pigz", file=sys.stderr)
        return 2
    client = docker.from_env()
    made = random_image(client, int(args[1])) if args[0] == "--random-image" else None
    image = made or args[0]
    repeat = int(args[2 if made else 1]) if len(args) > (2 if made else 1) else 3
    try:
        size = client.api.inspect_image(image)["Size"]
        ours, theirs = [], []
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as empty_cache:
                ours.append(timed_peak([sys.executable, "-c", ANALYSE, image, empty_cache]))
            theirs.append(floor(image))
    finally:
        if made:
            client.images.remove(made, force=True)
    ours_s, theirs_s = (statistics.median(t for t, _ in side) for side in (ours, theirs))
    print(f"{image}: {size / 1e6:.0f} MB; analysis {ours_s:.2f} s, peak "
          f"{max(p for _, p in ours) / 1e6:.0f} MB; docker save | pigz -6 {theirs_s:.2f} s, "
          f"peak {max(p for _, p in theirs) / 1e6:.0f} MB; time ratio {ours_s / theirs_s:.2f} "
          f"(median of {repeat})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
